// hdlgen_argmax_plain: the output layer without scale and bias (an `output` layer
// without those keys: every scale 1, every bias 0, whatever is loaded): out_score = acc_c sign-extended to SW bits (SW >= IN_W),
// out_last and out_pred as in hdlgen_argmax (ties -> lowest index), with no multiplier and
// no parameter memory, so no configuration port. One input beat = CLS lanes of IN_W bits;
// its classes leave one a cycle from the input register.
// Timing (in_valid always high, out_ready always high), exactly: a beat every CLS + 1
// cycles; class 0 leaves (out_valid) 2 cycles after the cycle its beat was accepted by an
// idle engine, class c, c cycles later. in_ready and out_valid come from registers.
// rst (synchronous, active high) clears the control state.
`default_nettype none
module hdlgen_argmax_plain #(
    parameter integer CLS = 10,
    parameter integer IN_W = 8,
    parameter integer SW = 8
) (
    input  wire                                    clk,
    input  wire                                    rst,
    input  wire                                    in_valid,
    output wire                                    in_ready,
    input  wire [CLS*IN_W-1:0]                     in_data,
    output wire                                    out_valid,
    input  wire                                    out_ready,
    output wire [SW-1:0]                           out_score,
    output wire                                    out_last,
    output wire [((CLS > 1) ? $clog2(CLS) : 1)-1:0] out_pred
);
    localparam integer PW = (CLS > 1) ? $clog2(CLS) : 1;
    localparam integer RW = CLS * IN_W;
    localparam integer CLS_LAST_I = CLS - 1;
    wire [PW-1:0] CLS_LAST = CLS_LAST_I[PW-1:0];

    reg [RW-1:0] r = {RW{1'b0}};           // lane 0: the accumulator of class c
    reg r_full = 1'b0;
    reg [PW-1:0] c = {PW{1'b0}};
    reg [IN_W-1:0] best = {IN_W{1'b0}};
    reg [PW-1:0] bidx = {PW{1'b0}};
    reg ov = 1'b0;
    reg [SW-1:0] o_score = {SW{1'b0}};
    reg o_last = 1'b0;
    reg [PW-1:0] o_pred = {PW{1'b0}};

    wire fire = r_full && (!ov || out_ready);       // class c moves to the output register
    wire [IN_W-1:0] a = r[IN_W-1:0];
    // Whether class c beats the best so far (gt), decided a class ahead so that the
    // decision is a flip-flop, and every compare runs between flip-flops into a flag:
    // at class c's move, class c + 2 (lane 2) is compared with class c + 1 (p), with
    // class c (q) and with the best before c (rb), the three candidates for the best it
    // will meet; a class later one of them becomes gt. (One compare against the best of
    // the moment into gt was the MNIST top's critical path on an 85F: 112.8 MHz.) The
    // first pair's flag (class 1 > class 0) is compared from r at class 0's move, not
    // from in_data as the beat loads: that compare, behind the upstream register slice,
    // was the MNIST top's critical path on an 85F at 120 MHz (121.57 MHz, 3.7 ns logic).
    reg gt = 1'b0;
    reg c0 = 1'b0;                                  // c == 0
    reg nb1 = 1'b0;                                 // class c − 1 was a new best
    reg p = 1'b0, q = 1'b0, rb = 1'b0;
    wire newbest = c0 || gt;
    wire [RW+2*IN_W-1:0] rx = {{(2*IN_W){1'b0}}, r};  // lanes past the last: unused
    wire [IN_W-1:0] a1 = rx[IN_W +: IN_W];           // class c + 1
    wire [IN_W-1:0] a2 = rx[2*IN_W +: IN_W];         // class c + 2
    wire g01 = $signed(a1) > $signed(a);              // at c == 0: class 1 > class 0
    wire p_d = $signed(a2) > $signed(a1);
    wire q_d = $signed(a2) > $signed(a);
    wire rb_d = $signed(a2) > $signed(best);
    wire c_last = c == CLS_LAST;
    wire [SW+IN_W-1:0] a_x = {{SW{a[IN_W-1]}}, a};      // sign-extended (SW >= IN_W)
    assign in_ready = !r_full;
    always @(posedge clk) begin
        if (rst) begin
            r_full <= 1'b0;
            ov <= 1'b0;
            c <= {PW{1'b0}};
        end else begin
            if (!r_full && in_valid) begin
                r_full <= 1'b1;
                c <= {PW{1'b0}};
            end else if (fire) begin
                if (c_last) r_full <= 1'b0;
                c <= c + 1'b1;
            end
            if (fire) ov <= 1'b1;
            else if (out_ready) ov <= 1'b0;
        end
        if (!r_full) begin
            r <= in_data;
            c0 <= 1'b1;
        end else if (fire) begin
            r <= r >> IN_W;
            c0 <= 1'b0;
        end
        if (fire) begin
            gt <= c0 ? g01 : gt ? p : nb1 ? q : rb;
            p <= p_d;
            nb1 <= newbest;
            q <= q_d;
            rb <= rb_d;
            o_score <= a_x[SW-1:0];
            o_last <= c_last;
            o_pred <= newbest ? c : bidx;
            if (newbest) begin
                best <= a;
                bidx <= c;
            end
        end
    end
    assign out_valid = ov;
    assign out_score = o_score;
    assign out_last = o_last;
    assign out_pred = o_pred;
    wire _unused_ok = &{1'b0, a_x, rx, 1'b0};
endmodule
`default_nettype wire
