// hdlgen_xcore: the compute core of a layer-sequential BNN engine for small parts: PIX
// pixels × PE outputs × SIMD inputs of XNOR-popcount per cycle, where one weight word
// serves all PIX pixels (the weight memory delivers PE·SIMD bits a cycle; the pixels
// multiply the work done per weight bit read: an iCE40 UltraPlus's four SPRAMs give 64).
//
// A group is a run of beats from one with in_first to one with in_last (the same beat
// when a group has one beat). For pixel j and output p of a group:
//     acc_jp = Σ_beats m_j · (2·popcount(~(w_p ^ x_(j ^ r))) − SIMD)
// with w_p = in_w[p·SIMD +: SIMD], x_i = in_x[i·SIMD +: SIMD], r = in_rot, m_j = in_m[j]
// (a beat with m_j = 0 counts 0 for pixel j: a tap in zero padding, or a pixel outside
// the map); bit 1 = +1 (hdlgen::arith::xnor_popcount_masked and binary_dot, per SIMD-bit
// beat). in_rot routes input i's counts to pixel i ^ in_rot: a caller whose pixels come
// from banks in a rotating order swaps 6-bit counts, not SIMD-bit words (j ^ in_rot must
// stay below PIX: PIX a power of two, or in_rot = 0; RB, in_rot's width, is left at its
// default).
//     bit_jp = (acc_jp ≥ t_p) ^ f_p      t_p = in_thr[p·TW +: TW] signed, f_p = in_flip[p]
// (a layer's `ge` threshold t is (t, 0); `le` is (t + 1, 1)); in_thr and in_flip are the
// group's, presented in the cycle its results are out (out_valid; out_bits follows them
// combinationally): a caller reads them from a memory at pre_tag in the cycle pre_valid
// is high, the one before, so they need not ride along the pipeline.
//
// Timing: one beat a cycle, no back-pressure (the engine's controller schedules every
// beat; a cycle with in_valid low is a bubble). A group's results are on out_acc / out_bits
// with out_valid for exactly one cycle, LAT = popcount_latency(SIMD, REG_EVERY) + 2 cycles
// after the cycle its last beat entered (hdlgen::rtl::lib::xcore_latency), with out_tag =
// the in_tag of that last beat; pre_valid and pre_tag announce it a cycle earlier. Groups
// may follow each other back to back.
// out_acc lane j·PE + p at bits [(j·PE + p)·AW +: AW], signed: AW must hold every acc
// (clog2(beats·SIMD + 1) + 1 bits do); out_bits bit j·PE + p.
// The inputs feed the popcount leaves directly: drive them from flip-flops or block-RAM
// outputs. rst (synchronous) drops the beats in flight (the valid pipeline).
`default_nettype none
module hdlgen_xcore #(
    parameter integer PE = 2,
    parameter integer SIMD = 32,
    parameter integer PIX = 8,
    parameter integer RB = (PIX > 1) ? $clog2(PIX) : 1,
    parameter integer AW = 13,
    parameter integer TW = 13,
    parameter integer TAG_W = 1,
    parameter integer REG_EVERY = 2
) (
    input  wire                   clk,
    input  wire                   rst,
    input  wire                   in_valid,
    input  wire                   in_first,
    input  wire                   in_last,
    input  wire [PE*SIMD-1:0]     in_w,
    input  wire [PIX*SIMD-1:0]    in_x,
    input  wire [PIX-1:0]         in_m,
    input  wire [RB-1:0]          in_rot,
    input  wire [PE*TW-1:0]       in_thr,
    input  wire [PE-1:0]          in_flip,
    input  wire [TAG_W-1:0]       in_tag,
    output wire                   pre_valid,
    output wire [TAG_W-1:0]       pre_tag,
    output wire                   out_valid,
    output wire [PIX*PE*AW-1:0]   out_acc,
    output wire [PIX*PE-1:0]      out_bits,
    output wire [TAG_W-1:0]       out_tag
);
    localparam integer CW = $clog2(SIMD + 1);                 // popcount width
    localparam integer N = PIX * PE;
    localparam integer XW = ((AW > TW) ? AW : TW) + 1;        // compare width
    // What rides along the popcount pipeline: first, last, the masks, the caller's tag,
    // the routing. Identical copies in the N trees are one set of flip-flops after
    // yosys's opt_merge.
    localparam integer RW = 2 + PIX + TAG_W + RB;

    wire [RW-1:0] ride_in = {in_rot, in_tag, in_m, in_last, in_first};
    wire [N*CW-1:0] cnt;
    wire [N*RW-1:0] rides;                                    // the copies; [RW-1:0] used
    wire [N-1:0] pc_valid;
    wire [RW-1:0] ride = rides[RW-1:0];
    genvar j, p;
    generate
        for (j = 0; j < PIX; j = j + 1) begin : g_pix
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                hdlgen_popcount #(
                    .N(SIMD),
                    .REG_EVERY(REG_EVERY),
                    .TAG_W(RW)
                ) u_pc (
                    .clk(clk),
                    .en(1'b1),
                    .in_valid(1'b1),
                    .in_tag(ride_in),
                    .in_bits(~(in_w[p*SIMD +: SIMD] ^ in_x[j*SIMD +: SIMD])),
                    .out_valid(pc_valid[j*PE+p]),
                    .out_tag(rides[(j*PE+p)*RW +: RW]),
                    .count(cnt[(j*PE+p)*CW +: CW])
                );
            end
        end
    endgenerate

    // The popcount pipeline has no reset: beats in flight at a reset are dropped by a
    // valid pipeline of its length that has one (PL: hdlgen_popcount's LATENCY, the
    // formula of hdlgen::rtl::lib::popcount_latency).
    function integer pc_latency;
        input integer n;
        input integer r;
        integer lv, k, c;
        begin
            lv = (n <= 1) ? 0 : $clog2(n);
            c = 0;
            for (k = 1; k <= lv; k = k + 1)
                if ((k % r) == 0 || k == lv) c = c + 1;
            pc_latency = (lv == 0) ? 1 : c;
        end
    endfunction
    localparam integer PL = pc_latency(SIMD, REG_EVERY);
    reg [PL-1:0] vq = {PL{1'b0}};
    wire [PL:0] vchain = {vq, in_valid};
    always @(posedge clk) begin
        if (rst) vq <= {PL{1'b0}};
        else vq <= vchain[PL-1:0];
    end

    wire r_valid = vq[PL-1];
    wire r_first = ride[0];
    wire r_last = ride[1];
    wire [PIX-1:0] r_m = ride[2 +: PIX];
    wire [TAG_W-1:0] r_tag = ride[2 + PIX +: TAG_W];
    wire [RB-1:0] r_rot = ride[2 + PIX + TAG_W +: RB];
    // Pixel j's counts: those of input j ^ rot.
    wire [N*CW-1:0] rcnt;
    generate
        for (j = 0; j < PIX; j = j + 1) begin : g_rot
            wire [RB-1:0] jj = j;
            wire [RB-1:0] src = jj ^ r_rot;
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                assign rcnt[(j*PE+p)*CW +: CW] = cnt[({{(32-RB){1'b0}}, src}*PE+p)*CW +: CW];
            end
        end
    endgenerate

    // Each lane's beat value 2·count − SIMD (CW + 1 bits, signed). For SIMD a power of two
    // it is count − SIMD/2 (count's top two bits decremented mod 4) shifted left: bit logic
    // that folds into the rotation's LUTs, where a subtraction was a second carry chain
    // in front of the accumulator's (the UP5K's critical path).
    localparam POW2 = SIMD >= 2 && (SIMD & (SIMD - 1)) == 0;
    wire [N*(CW+1)-1:0] beat;
    generate
        for (j = 0; j < N; j = j + 1) begin : g_beat
            wire [CW-1:0] c = rcnt[j*CW +: CW];
            if (POW2 && CW > 2) begin : g_bits
                assign beat[j*(CW+1) +: CW+1] = {c[CW-1] ~^ c[CW-2], ~c[CW-2], c[CW-3:0], 1'b0};
            end else if (POW2) begin : g_two                    // SIMD = 2
                assign beat[j*(CW+1) +: CW+1] = {c[1] ~^ c[0], ~c[0], 1'b0};
            end else begin : g_sub
                wire [CW:0] c2 = {c, 1'b0};
                assign beat[j*(CW+1) +: CW+1] = c2 - SIMD[CW:0];
            end
        end
    endgenerate

    // Accumulators: a group's first beat starts from 0; after its last beat the sums
    // stand for one cycle (out_valid), and a following group's first beat overwrites them.
    reg [N*AW-1:0] acc = {N*AW{1'b0}};
    reg ov = 1'b0;
    reg [TAG_W-1:0] tag = {TAG_W{1'b0}};
    // The beat values, routed and masked, are registered before the accumulators (with
    // the group's flags and tag): the routing's multiplexers into the accumulator's
    // carry chain were the UP5K's critical path.
    integer k;
    reg [N*(CW+1)-1:0] bq = {(N*(CW+1)){1'b0}};
    reg b_valid = 1'b0, b_first = 1'b0, b_last = 1'b0;
    reg [TAG_W-1:0] b_tag = {TAG_W{1'b0}};
    always @(posedge clk) begin
        b_valid <= r_valid && !rst;
        b_first <= r_first;
        b_last <= r_last;
        b_tag <= r_tag;
        for (k = 0; k < N; k = k + 1)
            bq[k*(CW+1) +: CW+1] <= r_m[k / PE] ? beat[k*(CW+1) +: CW+1] : {(CW+1){1'b0}};
    end
    always @(posedge clk) begin
        ov <= b_valid && b_last && !rst;
        if (b_valid && b_last) begin
            tag <= b_tag;
        end
        for (k = 0; k < N; k = k + 1) begin
            if (b_valid) begin
                acc[k*AW +: AW] <= (b_first ? {AW{1'b0}} : acc[k*AW +: AW])
                    + {{(AW-CW-1){bq[k*(CW+1) + CW]}}, bq[k*(CW+1) +: CW+1]};
            end
        end
    end

    generate
        for (j = 0; j < PIX; j = j + 1) begin : g_cmp_pix
            for (p = 0; p < PE; p = p + 1) begin : g_cmp_pe
                wire signed [XW-1:0] a = {{(XW-AW){acc[(j*PE+p)*AW + AW - 1]}},
                                          acc[(j*PE+p)*AW +: AW]};
                wire signed [XW-1:0] t = {{(XW-TW){in_thr[p*TW + TW - 1]}}, in_thr[p*TW +: TW]};
                assign out_bits[j*PE+p] = (a >= t) ^ in_flip[p];
            end
        end
    endgenerate

    assign pre_valid = b_valid && b_last;
    assign pre_tag = b_tag;
    assign out_valid = ov;
    assign out_acc = acc;
    assign out_tag = tag;
    wire _unused_ok = &{1'b0, pc_valid, rides, vchain[PL], 1'b0};
endmodule
`default_nettype wire
