// hdlgen_xnet: a whole BNN as one layer-sequential engine for small parts (rtl::lower
// Kind::Seq): hdlgen_xfront computes the first layer (integer image → binary conv,
// threshold, 2×2 pool) into the first map, then hdlgen_xseq runs the binary layers one
// after another (descriptors from the DESC table, rtl::xseq::SeqPlan) and the last run's
// sums leave as one beat of CLS lanes for the output layer, or (ARGMAX = 1) as that
// layer's class stream.
//
// The first map has two regions: the front writes image n + 1's into region (n + 1) mod 2
// while the runs of image n read region n mod 2 (`pending`: a written map the runs have
// not started; the front waits for it to be taken). So an image costs max(front, runs)
// cycles: the runs' Σ (xseq_cycles + XNET_GAP) (rtl::xseq::SeqPlan::interval).
//
// DESC: NRUN descriptors of DESCW bits, run r at [r*DESCW +: DESCW], fields from bit 0:
//   ih iw ich (DW) irs (BA) k p (3) pone (1) row0 col0 (2·BA) oh ow ng (DW) pool (1)
//   och (DW) ors obase (BA) final (1) wbase (WA) tbase (TA)     (rtl::xseq::pack_desc)
// Run 0 reads region 1 for odd images: its row0 is ROW0_ALT then.
//
// Parameter memories on the configuration bus (cfg_word/cfg_lane/cfg_data, a write
// enable each; writes outside a memory's words or lanes are ignored): the front's weights
// (COUT words of K·K bits) and thresholds (COUT words {flip, t}, FTW + 1 bits), the
// sequencer's weights (WD words of PE·SIMD bits; in SPRAM with W_SPRAM) and thresholds
// (TD words of PE {flip, t} fields).
//
// Output. ARGMAX = 0: out_data = the CLS sums (AW bits each, class c at [c·AW +: AW]), one
// beat an image. ARGMAX = 1: the output layer without scale and bias, as
// hdlgen_argmax_plain computes it (out_data = class c's sum sign-extended to SW bits, one
// class a beat, out_last with the last, out_pred = the first index of the largest),
// shifted out of the sums register itself instead of a copy, a class every two cycles at
// most. sums_valid pulses once an image, in a cycle the sums register holds all CLS sums
// (sums_data), for a tap.
`default_nettype none
module hdlgen_xnet #(
    // front: hdlgen_xfront
    parameter integer H = 28,
    parameter integer W = 28,
    parameter integer K = 3,
    parameter integer P = 1,
    parameter integer OH = 28,
    parameter integer OW = 28,
    parameter integer COUT = 32,
    parameter integer IN_W = 8,
    parameter integer SIGNED = 0,
    parameter integer PAD_VAL = 0,
    parameter integer FTW = 14,
    parameter integer OCH = 1,
    parameter integer ORS = 7,
    parameter integer OBASE0 = 0,
    parameter integer OBASE1 = 0,
    // sequencer: hdlgen_xseq
    parameter integer PE = 2,
    parameter integer SIMD = 32,
    parameter integer AW = 13,
    parameter integer TW = 13,
    parameter integer REG_EVERY = 2,
    parameter integer BA = 8,
    parameter integer DW = 8,
    parameter integer WD = 1940,
    parameter integer TD = 96,
    parameter integer NRUN = 3,
    parameter integer DESCW = 1,
    parameter [NRUN*DESCW-1:0] DESC = {(NRUN*DESCW){1'b0}},
    parameter [2*BA-1:0] ROW0_ALT = {(2*BA){1'b0}},
    parameter integer CLS = 10,
    parameter integer ARGMAX = 0,
    parameter integer SW = 13,
    parameter integer W_SPRAM = 0,
    parameter FW_INIT = "",
    parameter FT_INIT = "",
    parameter W_INIT = "",
    parameter T_INIT = "",
    parameter integer CFG_AW = 1,
    parameter integer CFG_LW = 1,
    // The write enables arrive range-checked (rtl::top with cfg_regs): no checks here.
    parameter integer CFG_CHECKED = 0
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 in_valid,
    output wire                 in_ready,
    input  wire [IN_W-1:0]      in_data,
    output wire                 out_valid,
    input  wire                 out_ready,
    output wire [((ARGMAX != 0) ? SW : CLS*AW)-1:0] out_data,
    output wire                 out_last,
    output wire [((CLS > 1) ? $clog2(CLS) : 1)-1:0] out_pred,
    output wire                 sums_valid,
    output wire [CLS*AW-1:0]    sums_data,
    input  wire                 fw_we,
    input  wire                 ft_we,
    input  wire                 w_we,
    input  wire                 t_we,
    input  wire [CFG_AW-1:0]    cfg_word,
    input  wire [CFG_LW-1:0]    cfg_lane,
    input  wire [31:0]          cfg_data
);
    localparam integer WA = (WD > 1) ? $clog2(WD) : 1;
    localparam integer TA = (TD > 1) ? $clog2(TD) : 1;
    localparam integer FB = (COUT > 1) ? $clog2(COUT) : 1;
    localparam integer RB = (NRUN > 1) ? $clog2(NRUN) : 1;
    localparam integer LAST_I = NRUN - 1;
    localparam [RB-1:0] LAST = LAST_I[RB-1:0];
    // Field offsets in a descriptor.
    localparam integer O_IH = 0, O_IW = DW, O_ICH = 2 * DW, O_IRS = 3 * DW;
    localparam integer O_K = O_IRS + BA, O_P = O_K + 3, O_PONE = O_P + 3;
    localparam integer O_ROW0 = O_PONE + 1, O_COL0 = O_ROW0 + 2 * BA;
    localparam integer O_OH = O_COL0 + 2 * BA, O_OW = O_OH + DW, O_NG = O_OW + DW;
    localparam integer O_POOL = O_NG + DW, O_OCH = O_POOL + 1, O_ORS = O_OCH + DW;
    localparam integer O_OBASE = O_ORS + BA, O_FINAL = O_OBASE + BA, O_WBASE = O_FINAL + 1;
    localparam integer O_TBASE = O_WBASE + WA, DESC_BITS = O_TBASE + TA;
    localparam [BA-1:0] OB0 = OBASE0[BA-1:0];
    localparam [BA-1:0] OB1 = OBASE1[BA-1:0];

    // ---------------------------------------------------------------- configuration
    // A write reaches a memory only inside its words and lanes.
    localparam integer L_K = (K * K + 31) / 32, L_F = (FTW + 32) / 32;
    localparam integer L_W = (PE * SIMD + 31) / 32, L_T = (PE * (TW + 1) + 31) / 32;
    localparam [CFG_AW:0] D_F = COUT[CFG_AW:0], D_W = WD[CFG_AW:0], D_T = TD[CFG_AW:0];
    localparam [CFG_LW:0] N_K = L_K[CFG_LW:0], N_F = L_F[CFG_LW:0];
    localparam [CFG_LW:0] N_W = L_W[CFG_LW:0], N_T = L_T[CFG_LW:0];
    wire [CFG_AW:0] word_x = {1'b0, cfg_word};
    wire [CFG_LW:0] lane_x = {1'b0, cfg_lane};
    wire chk = CFG_CHECKED != 0;
    wire fw_ok = fw_we && (chk || (word_x < D_F && lane_x < N_K));
    wire ft_ok = ft_we && (chk || (word_x < D_F && lane_x < N_F));
    wire w_ok = w_we && (chk || (word_x < D_W && lane_x < N_W));
    wire t_ok = t_we && (chk || (word_x < D_T && lane_x < N_T));
    localparam integer LW_W = (PE * SIMD > 32) ? $clog2((PE * SIMD + 31) / 32) : 1;
    localparam integer LW_T = (PE * (TW + 1) > 32) ? $clog2((PE * (TW + 1) + 31) / 32) : 1;
    localparam integer LW_F = (FTW + 1 > 32) ? $clog2((FTW + 1 + 31) / 32) : 1;
    localparam integer LW_K = (K * K > 32) ? $clog2((K * K + 31) / 32) : 1;

    // ---------------------------------------------------------------- front
    wire f_re, f_done;
    wire [FB-1:0] f_waddr, f_taddr;
    wire [K*K-1:0] f_wdata;
    wire [FTW:0] f_tdata;
    wire f_we, ext_ready;
    wire [1:0] f_bank;
    wire [BA-1:0] f_addr;
    wire [SIMD-1:0] f_data;
    reg pending = 1'b0;             // a map the front wrote that the runs have not taken
    reg f_par = 1'b0;               // region the front writes
    hdlgen_cfgmem #(.W(K * K), .D(COUT), .INIT_FILE(FW_INIT)) u_fw (
        .clk(clk), .we(fw_ok), .waddr(cfg_word[FB-1:0]), .wlane(cfg_lane[LW_K-1:0]),
        .wdata(cfg_data), .re(f_re), .raddr(f_waddr), .rdata(f_wdata));
    hdlgen_cfgmem #(.W(FTW + 1), .D(COUT), .INIT_FILE(FT_INIT)) u_ft (
        .clk(clk), .we(ft_ok), .waddr(cfg_word[FB-1:0]), .wlane(cfg_lane[LW_F-1:0]),
        .wdata(cfg_data), .re(f_re), .raddr(f_taddr), .rdata(f_tdata));
    hdlgen_xfront #(.H(H), .W(W), .K(K), .P(P), .OH(OH), .OW(OW), .COUT(COUT), .IN_W(IN_W),
                    .SIGNED(SIGNED), .PAD_VAL(PAD_VAL), .SIMD(SIMD), .BA(BA), .TW(FTW),
                    .OCH(OCH), .ORS(ORS), .REG_EVERY(REG_EVERY)) u_front (
        .clk(clk), .rst(rst), .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data),
        .go(!pending), .obase(f_par ? OB1 : OB0), .done(f_done), .w_addr(f_waddr),
        .w_re(f_re), .w_data(f_wdata), .t_addr(f_taddr), .t_data(f_tdata), .o_we(f_we),
        .o_bank(f_bank), .o_addr(f_addr), .o_data(f_data), .o_ready(ext_ready));

    // ---------------------------------------------------------------- run control
    // A run starts two cycles after the previous one's done: the descriptor register
    // loads from the table, then `start` (XNET_GAP in rtl::xseq).
    reg [RB-1:0] run = {RB{1'b0}};
    reg s_par = 1'b0;               // region the runs read
    reg active = 1'b0, loaded = 1'b0, start = 1'b0;
    reg ov = 1'b0;                  // the sums (ARGMAX: classes of them) are leaving
    reg [DESC_BITS-1:0] dq = {DESC_BITS{1'b0}};
    wire [DESCW-1:0] dsel = DESC[run*DESCW +: DESCW];
    wire first = run == {RB{1'b0}};
    wire last = run == LAST;
    wire busy, s_done;
    // The last run waits while the previous image's sums have not left.
    wire go = !active && loaded && !start && (!first || pending) && !(last && ov);
    always @(posedge clk) begin
        if (!active) begin
            dq <= dsel[DESC_BITS-1:0];
            if (first && s_par) dq[O_ROW0 +: 2*BA] <= ROW0_ALT;
        end
        start <= go;
        if (go) active <= 1'b1;
        loaded <= !active && !go && !s_done;
        if (s_done) begin
            active <= 1'b0;
            run <= last ? {RB{1'b0}} : run + 1'b1;
            if (last) s_par <= !s_par;
        end
        if (f_done) begin
            pending <= 1'b1;
            f_par <= !f_par;
        end
        if (go && first) pending <= 1'b0;
        if (rst) begin
            run <= {RB{1'b0}};
            s_par <= 1'b0;
            active <= 1'b0;
            loaded <= 1'b0;
            start <= 1'b0;
            pending <= 1'b0;
            f_par <= 1'b0;
        end
    end
    wire _unused_d = &{1'b0, dsel, busy, 1'b0};

    // ---------------------------------------------------------------- sequencer
    wire [WA-1:0] w_addr;
    wire [TA-1:0] t_addr;
    wire [PE*SIMD-1:0] w_data;
    wire [PE*(TW+1)-1:0] t_data;
    hdlgen_cfgmem #(.W(PE * SIMD), .D(WD), .HUGE(W_SPRAM), .INIT_FILE(W_INIT)) u_w (
        .clk(clk), .we(w_ok), .waddr(cfg_word[WA-1:0]), .wlane(cfg_lane[LW_W-1:0]),
        .wdata(cfg_data), .re(1'b1), .raddr(w_addr), .rdata(w_data));
    // TD = 0: no run has a threshold (the dense layer alone); a one-word memory stands in.
    hdlgen_cfgmem #(.W(PE * (TW + 1)), .D((TD > 0) ? TD : 1), .INIT_FILE(T_INIT)) u_t (
        .clk(clk), .we(t_ok), .waddr(cfg_word[TA-1:0]), .wlane(cfg_lane[LW_T-1:0]),
        .wdata(cfg_data), .re(1'b1), .raddr(t_addr), .rdata(t_data));
    wire tap_valid, acc_valid;
    wire [3:0] tap_banks;
    wire [BA-1:0] tap_addr;
    wire [4*SIMD-1:0] tap_data;
    wire [4*PE*AW-1:0] acc_data;
    wire [DW-1:0] acc_group;
    hdlgen_xseq #(.PE(PE), .SIMD(SIMD), .AW(AW), .TW(TW), .REG_EVERY(REG_EVERY), .BA(BA),
                  .WA(WA), .TA(TA), .DW(DW)) u_seq (
        .clk(clk), .rst(rst), .start(start), .busy(busy), .done(s_done),
        .d_ih(dq[O_IH +: DW]), .d_iw(dq[O_IW +: DW]), .d_ich(dq[O_ICH +: DW]),
        .d_irs(dq[O_IRS +: BA]), .d_k(dq[O_K +: 3]), .d_p(dq[O_P +: 3]),
        .d_pone(dq[O_PONE]), .d_row0(dq[O_ROW0 +: 2*BA]), .d_col0(dq[O_COL0 +: 2*BA]),
        .d_oh(dq[O_OH +: DW]), .d_ow(dq[O_OW +: DW]), .d_ng(dq[O_NG +: DW]),
        .d_pool(dq[O_POOL]), .d_och(dq[O_OCH +: DW]), .d_ors(dq[O_ORS +: BA]),
        .d_obase(dq[O_OBASE +: BA]), .d_final(dq[O_FINAL]), .d_wbase(dq[O_WBASE +: WA]),
        .d_tbase(dq[O_TBASE +: TA]), .w_addr(w_addr), .w_data(w_data), .t_addr(t_addr),
        .t_data(t_data), .ext_we(f_we), .ext_bank(f_bank), .ext_addr(f_addr),
        .ext_data(f_data), .ext_ready(ext_ready), .tap_valid(tap_valid),
        .tap_banks(tap_banks), .tap_addr(tap_addr), .tap_data(tap_data),
        .acc_valid(acc_valid), .acc_data(acc_data), .acc_group(acc_group));
    wire _unused_t = &{1'b0, tap_valid, tap_banks, tap_addr, tap_data, 1'b0};

    // ---------------------------------------------------------------- sums out
    // The last run's groups arrive on acc_*: pixel 0's PE sums are outputs g·PE .. g·PE +
    // PE − 1. They are complete at that run's done, and the last run of the next image
    // starts only once they have left (ov low), so a group never meets a shift.
    localparam integer PW = (CLS > 1) ? $clog2(CLS) : 1;
    localparam integer CLS_LAST_I = CLS - 1;
    localparam [PW-1:0] CLS_LAST = CLS_LAST_I[PW-1:0];
    reg [CLS*AW-1:0] sums = {(CLS*AW){1'b0}};
    reg [PW-1:0] oc = {PW{1'b0}};       // ARGMAX: the class offered
    // ARGMAX: a class leaves only while the comparisons registered below are fresh (no
    // class left and no group was written in the cycle before): one every two cycles.
    reg fresh = 1'b0;
    wire offer = ov && (ARGMAX == 0 || fresh);
    wire fire = offer && out_ready;
    wire shift = ARGMAX != 0 && fire;
    genvar c;
    generate
        for (c = 0; c < CLS; c = c + 1) begin : g_cls
            localparam integer G = c / PE;
            localparam [DW-1:0] GV = G[DW-1:0];
            if (c + 1 < CLS) begin : g_shift
                always @(posedge clk)
                    if (acc_valid && acc_group == GV) sums[c*AW +: AW] <= acc_data[(c % PE)*AW +: AW];
                    else if (shift) sums[c*AW +: AW] <= sums[(c+1)*AW +: AW];
            end else begin : g_top
                always @(posedge clk)
                    if (acc_valid && acc_group == GV) sums[c*AW +: AW] <= acc_data[(c % PE)*AW +: AW];
            end
        end
    endgenerate
    wire leaves = ARGMAX == 0 || oc == CLS_LAST;    // this beat ends the image's output
    assign out_valid = offer;
    always @(posedge clk) begin
        if (fire) begin
            if (leaves) ov <= 1'b0;
            oc <= leaves ? {PW{1'b0}} : oc + 1'b1;
        end
        if (s_done && last) ov <= 1'b1;
        if (rst) begin
            ov <= 1'b0;
            oc <= {PW{1'b0}};
        end
    end
    reg sv = 1'b0;
    always @(posedge clk) sv <= s_done && last && !rst;
    assign sums_valid = (ARGMAX != 0) ? sv : fire;
    assign sums_data = sums;

    // ARGMAX: whether class oc + 1 beats the best it will meet is decided at class oc's
    // move (gt, a flip-flop), as in hdlgen_argmax_plain: ties go to the lower index. Both
    // comparisons it chooses from are flip-flops (c_a: against class oc, c_b: against the
    // best so far) of registers that change only when a class leaves or a group arrives,
    // hence `fresh` (the compare into the decision was a UP5K critical path).
    wire [AW-1:0] a = sums[AW-1:0];
    wire [AW-1:0] a1;
    generate
        if (CLS > 1) begin : g_next
            assign a1 = sums[AW +: AW];
        end else begin : g_one
            assign a1 = a;
        end
    endgenerate
    reg gt = 1'b0;
    reg [AW-1:0] best = {AW{1'b0}};
    reg [PW-1:0] bidx = {PW{1'b0}};
    wire newbest = oc == {PW{1'b0}} || gt;
    reg c_a = 1'b0, c_b = 1'b0;
    always @(posedge clk) begin
        c_a <= $signed(a1) > $signed(a);
        c_b <= $signed(a1) > $signed(best);
        fresh <= !shift && !acc_valid && !rst;
    end
    always @(posedge clk)
        if (shift) begin
            gt <= newbest ? c_a : c_b;
            if (newbest) begin
                best <= a;
                bidx <= oc;
            end
        end
    generate
        if (ARGMAX != 0) begin : g_argmax
            wire [SW+AW-1:0] ax = {{SW{a[AW-1]}}, a};
            assign out_data = ax[SW-1:0];
            assign out_last = oc == CLS_LAST;
            assign out_pred = newbest ? oc : bidx;
            wire _unused_x = &{1'b0, ax, 1'b0};
        end else begin : g_sums
            assign out_data = sums;
            assign out_last = 1'b0;
            assign out_pred = {PW{1'b0}};
            wire _unused_g = &{1'b0, gt, best, bidx, newbest, c_a, c_b, fresh, 1'b0};
        end
    endgenerate
    wire _unused_a = &{1'b0, acc_data, 1'b0};
    wire _unused_c = &{1'b0, cfg_word, cfg_lane, 1'b0};
endmodule
`default_nettype wire
