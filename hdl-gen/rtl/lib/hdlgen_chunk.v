// hdlgen_chunk: splits each beat of N·SIMD elements into N beats of SIMD elements, in
// element order: beat j carries elements j·SIMD .. j·SIMD + SIMD − 1 of the input beat
// (out_data[i·DW +: DW] = element j·SIMD + i) and their mask bits; out_last marks beat
// N − 1. Behind hdlgen_winbuf (a whole window per beat) this is the beat stream
// hdlgen_swg would emit for a SIMD spanning several taps of the window, so an MVAU can
// fold a window into N beats (MNIST's conv2 at 32 × 96 on an ECP5: 1,176 cycles per
// image where whole windows give 784 and one tap 1,568).
//
// One beat per cycle; the next input beat is taken in the cycle the last beat of the
// current one leaves (or when empty), so an input beat every N cycles keeps the output
// busy. The beat is kept in a shift register (out_data is its low SIMD elements), so
// every output bit is a flip-flop and every register bit a 2:1 multiplexer.
// in_ready = !valid || (out_ready && last): one LUT of flip-flops and out_ready (an
// MVAU's in_ready is a flip-flop). N ≥ 2. rst clears the control state.
`default_nettype none
module hdlgen_chunk #(
    parameter integer N = 3,
    parameter integer SIMD = 2,
    parameter integer DW = 1
) (
    input  wire                   clk,
    input  wire                   rst,
    input  wire                   in_valid,
    output wire                   in_ready,
    input  wire [N*SIMD*DW-1:0]   in_data,
    input  wire [N*SIMD-1:0]      in_mask,
    output wire                   out_valid,
    input  wire                   out_ready,
    output wire [SIMD*DW-1:0]     out_data,
    output wire [SIMD-1:0]        out_mask,
    output wire                   out_last
);
    localparam integer CW = $clog2(N);
    localparam integer PEN_I = N - 2;
    localparam [CW-1:0] PEN = PEN_I[CW-1:0];
    localparam integer DB = SIMD * DW;                       // data bits of a beat
    reg v = 1'b0;
    reg last = 1'b0;                                         // the beat shown is beat N − 1
    reg [CW-1:0] c = {CW{1'b0}};                            // the beat shown
    reg [N*DB-1:0] d;
    reg [N*SIMD-1:0] m;
    wire leave = v && out_ready;
    assign in_ready = !v || (out_ready && last);
    wire take = in_valid && in_ready;
    assign out_valid = v;
    assign out_data = d[DB-1:0];
    assign out_mask = m[SIMD-1:0];
    assign out_last = last;
    always @(posedge clk) begin
        if (rst) begin
            v <= 1'b0;
            last <= 1'b0;
            c <= {CW{1'b0}};
        end else if (take) begin
            v <= 1'b1;
            last <= 1'b0;
            c <= {CW{1'b0}};
        end else if (leave) begin
            if (last) v <= 1'b0;
            last <= c == PEN;
            c <= c + 1'b1;
        end
        if (take) begin
            d <= in_data;
            m <= in_mask;
        end else if (leave) begin
            d <= {{DB{1'b0}}, d[N*DB-1:DB]};
            m <= {{SIMD{1'b0}}, m[N*SIMD-1:SIMD]};
        end
    end
endmodule
`default_nettype wire
