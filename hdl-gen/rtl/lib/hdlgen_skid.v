// hdlgen_skid: a two-entry register slice on a valid/ready stream. One beat passes per
// cycle, one cycle later than without it; in_ready, out_valid and out_data are
// flip-flops, so neither side's handshake logic reaches into the other engine (on an ECP5
// at 150 MHz an engine's output valid into the next window generator's issue logic was the
// critical path). The second entry holds the beat accepted while the output stalls.
`default_nettype none
module hdlgen_skid #(
    parameter integer W = 8
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    output wire         in_ready,
    input  wire [W-1:0] in_data,
    output wire         out_valid,
    input  wire         out_ready,
    output wire [W-1:0] out_data
);
    reg [W-1:0] m, s;                  // main (output) and skid entries
    reg mv = 1'b0, sv = 1'b0;
    assign in_ready = !sv;
    assign out_valid = mv;
    assign out_data = m;
    wire take = in_valid && !sv;
    wire leave = mv && out_ready;
    // The entries load without regard to rst (only the valid flags reset), so the reset
    // stays out of their enables (a reset into a register slice's data enables was an
    // ECP5-85F critical path).
    always @(posedge clk) begin
        if (take && mv && !out_ready) s <= in_data;   // the output stalls: skid entry
        if (take ? !(mv && !out_ready) : (leave && sv))
            m <= take ? in_data : s;   // the output is empty or leaves; or the skid moves up
    end
    always @(posedge clk) begin
        if (rst) begin
            mv <= 1'b0;
            sv <= 1'b0;
        end else if (take) begin
            if (mv && !out_ready) sv <= 1'b1;
            else mv <= 1'b1;
        end else if (leave) begin
            if (sv) sv <= 1'b0;
            else mv <= 1'b0;
        end
    end
endmodule
`default_nettype wire
