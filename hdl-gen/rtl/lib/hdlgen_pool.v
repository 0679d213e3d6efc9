// hdlgen_pool: window reduction for max-pooling, fed by hdlgen_swg with SIMD = C.
//
// One input beat = one tap = all C channels of one input pixel (lane c at bits
// [c*EW +: EW]); K consecutive beats form one window, and the engine emits one output
// pixel (same layout) per window:
//   MODE 0: bitwise OR of the K taps (binary maps and spikes, bit 1 = +1, so OR = max);
//   MODE 1: per lane, the signed maximum of the K taps (EW-bit two's complement lanes).
// Windows are counted here (taps 0 .. K-1, then the next window); the generator's
// out_last is not needed.
//
// Timing: with in_valid always high and out_ready always high, one beat is accepted per
// cycle, so a window costs exactly K cycles. Latency: a window's result is in the output
// register the cycle after its last tap is accepted.
//
// Structure: a running register holds the reduction of taps 0 .. k-1; the last tap's
// result goes to the output register. in_ready and out_valid are flip-flops (in_ready
// is set from the next values of k == K-1 and the output side being full): with K >= 2
// a window's last tap waits while the output register is full (it has been on offer for
// at least K-1 cycles by then, so with out_ready high this never stalls);
// with K = 1 (every tap is a window) a skid register behind the output register keeps one
// beat per cycle. Other taps are always accepted.
// rst (synchronous, active high) clears the control state only.
`default_nettype none
module hdlgen_pool #(
    parameter integer C = 4,
    parameter integer EW = 1,
    parameter integer MODE = 0,
    parameter integer K = 4
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              in_valid,
    output wire              in_ready,
    input  wire [C*EW-1:0]   in_data,
    output wire              out_valid,
    input  wire              out_ready,
    output wire [C*EW-1:0]   out_data
);
    localparam integer DW = C * EW;
    localparam integer KW = (K > 1) ? $clog2(K) : 1;
    localparam integer K_PEN_I = (K > 1) ? K - 2 : 0;
    wire [KW-1:0] K_PEN = K_PEN_I[KW-1:0];

    // ---------------------------------------------------------------- reduction
    reg [KW-1:0] k = {KW{1'b0}};          // tap index within the window
    reg [DW-1:0] acc = {DW{1'b0}};        // reduction of taps 0 .. k-1
    // k == 0 and k == K-1 as flip-flops (in_ready and the output's enable are one gate
    // of flip-flops).
    reg first = 1'b1;
    reg klast = K == 1;

    // res = first ? in_data : acc (op) in_data, written as one select per lane so each
    // result bit is one LUT behind the compare.
    wire [DW-1:0] res;
    genvar c;
    generate
        if (MODE == 0) begin : g_or
            assign res = first ? in_data : (acc | in_data);
        end else begin : g_max
            wire [EW:0] sign_x = {1'b1, {EW{1'b0}}};
            wire [EW-1:0] sign = sign_x[EW:1];      // lane sign bit
            wire _unused_ok = &{1'b0, sign_x[0], 1'b0};
            for (c = 0; c < C; c = c + 1) begin : g_lane
                wire [EW-1:0] a = acc[c*EW +: EW];
                wire [EW-1:0] x = in_data[c*EW +: EW];
                // Signed x > a as an unsigned compare with the sign bits inverted.
                wire gt = (x ^ sign) > (a ^ sign);
                assign res[c*EW +: EW] = (first || gt) ? x : a;
            end
        end
    endgenerate

    // ---------------------------------------------------------------- output
    reg ov = 1'b0;                        // output register valid
    reg [DW-1:0] od = {DW{1'b0}};
    wire full_d;                          // next cycle, a window's last tap must wait
    reg rdy = 1'b1;                       // = !(klast && full): a flip-flop, for the
    wire fire = in_valid && rdy;          // window generator's flow control (an 85F path)
    wire push = fire && klast;
    wire take = !ov || out_ready;         // the output register is free at this edge
    assign in_ready = rdy;
    wire klast_d = rst ? (K == 1) : !fire ? klast : klast ? (K == 1) : (k == K_PEN);

    always @(posedge clk) begin
        if (rst) begin
            k <= {KW{1'b0}};
            first <= 1'b1;
        end else if (fire) begin
            k <= klast ? {KW{1'b0}} : k + 1'b1;
            first <= klast;
        end
        klast <= klast_d;
        rdy <= !(klast_d && full_d);
        if (fire && !klast) acc <= res;
    end

    generate
        if (K == 1) begin : g_skid
            reg sv = 1'b0;                // skid register valid
            reg [DW-1:0] sd = {DW{1'b0}};
            assign full_d = !rst && !take && (sv || push);
            always @(posedge clk) begin
                if (rst) begin
                    ov <= 1'b0;
                    sv <= 1'b0;
                end else if (take) begin
                    ov <= sv || push;
                    sv <= 1'b0;
                end else if (push) begin
                    sv <= 1'b1;
                end
                if (take) od <= sv ? sd : res;
                else if (push) sd <= res;
            end
        end else begin : g_reg
            // push implies take
            assign full_d = !rst && (take ? push : ov);
            always @(posedge clk) begin
                if (rst) ov <= 1'b0;
                else if (take) ov <= push;
                if (push) od <= res;
            end
        end
    endgenerate

    assign out_valid = ov;
    assign out_data = od;
endmodule
`default_nettype wire
