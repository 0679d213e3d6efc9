// hdlgen_mvau: folded matrix-vector-activation unit of one conv/dense layer (FINN's MVAU).
//
// For each of MH outputs o over an MW-long input vector x (one window, in arrival order):
//   MODE 0 (xnor): dot_o = 2·p − n, p = Σ_k m_k·[x_k == w_ok], n = Σ_k m_k (bit 1 = +1);
//                  m_k is the in_mask bit when MASKED = 1, else 1 (n = MW, in_mask ignored)
//                  (hdlgen::arith::xnor_popcount_masked / binary_dot);
//   MODE 1 (int):  dot_o = Σ_k (w_ok ? x_k : −x_k), x_k signed IN_W-bit lanes (in_mask
//                  ignored: padding arrives as pad values).
//   ACT 0: output lane o = dot_o, signed OB bits (truncated from ACC_W, or sign-extended);
//   ACT 1: output bit o = (dot_o ≥ cmp_o) ^ flip_o, signed compare (OB must be 1).
// ACC_W must hold every dot_o (and 2·p − n's parts: ≥ clog2(MW + 1) + 1 in MODE 0); the
// arithmetic wraps at ACC_W bits, so any ACC_W that holds the results is exact.
//
// Folding: SIMD elements per beat (element i of beat sf is x[sf·SIMD + i], at
// in_data[i·EW +: EW], EW = 1 in MODE 0, IN_W in MODE 1), SF = MW/SIMD beats per vector;
// PE outputs in parallel, NF = MH/PE folds. The vector arrives once: its SF beats are
// taken in fold 0 (in_ready is low during folds 1..NF−1) and, when NF > 1, kept in a
// replay buffer (data, plus the mask when MODE 0 and MASKED) that feeds folds 1..NF−1.
// One output beat per vector, after its last fold: out_data lane o (bits [o·OB +: OB]).
//
// Timing with free-flowing streams (in_valid and out_ready always high): one beat per
// cycle, a vector costs exactly SF·NF cycles, back to back, so consecutive output beats
// are SF·NF cycles apart. Latency: a vector's output beat is valid LAT = popcount_latency
// (SIMD, REG_EVERY) + 4 cycles after the cycle that issues its last beat, i.e. the cycle
// its last input beat is accepted plus (NF − 1)·SF (hdlgen::rtl::lib::mvau_latency).
//
// Memories (hdlgen_cfgmem, written in 32-bit lanes over cfg_*; contents survive rst):
//   weights    (wcfg_we) depth SF·NF, PE·SIMD bits: word nf·SF + sf, bit p·SIMD + i =
//              w[nf·PE + p][sf·SIMD + i] (1 = +1);
//   thresholds (tcfg_we, ACT 1 only) depth NF, PE·(TW+1) bits: word nf, bits
//              [p·(TW+1) +: TW+1] = {flip, cmp[TW−1:0]} of output nf·PE + p.
// A write puts cfg_data into lane cfg_lane (bits [32·lane +: 32], the last lane
// narrower) of word cfg_word; writes to a word or lane past the memory's end are
// ignored. cfg_word/cfg_lane may be any width (zero-extended or truncated). W_INIT/T_INIT:
// $readmemh files (one word per line; "" = none). Write only while no vector is in flight.
//
// Pipeline (one enable `en` stalls it all; en = output FIFO not full, a register, so
// in_ready and out_valid depend on registers only and a stalled beat is never lost):
// issue (fold counters, weight and replay reads) → operand registers → XNOR/negate +
// popcount/adder trees (popcount_latency cycles) → accumulate, on a fold's last beat the
// result register and threshold read → activation into the vector collector → 2-entry
// output FIFO (out_data is its head register). rst (synchronous, active high) clears the
// control state (counters, valids, FIFO occupancy) only.
`default_nettype none
module hdlgen_mvau #(
    parameter integer MODE = 0,
    parameter integer MW = 16,
    parameter integer MH = 4,
    parameter integer PE = 2,
    parameter integer SIMD = 4,
    parameter integer IN_W = 1,
    parameter integer MASKED = 0,
    parameter integer ACT = 1,
    parameter integer OB = 1,
    parameter integer ACC_W = 6,
    parameter integer TW = 6,
    parameter integer REG_EVERY = 2,
    parameter W_INIT = "",
    parameter T_INIT = "",
    parameter integer CFG_AW = 1,
    parameter integer CFG_LW = 1
) (
    input  wire                                     clk,
    input  wire                                     rst,
    input  wire                                     in_valid,
    output wire                                     in_ready,
    input  wire [SIMD*((MODE == 1) ? IN_W : 1)-1:0] in_data,
    input  wire [SIMD-1:0]                          in_mask,
    output wire                                     out_valid,
    input  wire                                     out_ready,
    output wire [MH*OB-1:0]                         out_data,
    input  wire                                     wcfg_we,
    input  wire                                     tcfg_we,
    input  wire [CFG_AW-1:0]                        cfg_word,
    input  wire [CFG_LW-1:0]                        cfg_lane,
    input  wire [31:0]                              cfg_data
);
    localparam integer EW = (MODE == 1) ? IN_W : 1;         // element width
    localparam integer SF = MW / SIMD;
    localparam integer NF = MH / PE;
    localparam integer DEPTH = SF * NF;                     // weight words
    localparam integer AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam integer SW = (SF > 1) ? $clog2(SF) : 1;
    localparam integer NW = (NF > 1) ? $clog2(NF) : 1;
    localparam integer WW = PE * SIMD;                      // weight word
    localparam integer TWW = PE * (TW + 1);                 // threshold word
    localparam integer WLANES = (WW + 31) / 32;
    localparam integer TLANES = (TWW + 31) / 32;
    localparam integer WLW = (WW > 32) ? $clog2(WLANES) : 1;
    localparam integer TLW = (TWW > 32) ? $clog2(TLANES) : 1;
    localparam integer USE_MASK = (MODE == 0 && MASKED == 1) ? 1 : 0;
    localparam integer LEVELS = (SIMD <= 1) ? 0 : $clog2(SIMD);
    // Beat sum of one PE: popcount (MODE 0) or Σ ±x (MODE 1, addtree output width).
    localparam integer CW = (MODE == 1) ? (IN_W + 1 + LEVELS) : $clog2(SIMD + 1);
    localparam integer NCW = $clog2(SIMD + 1);              // counted taps of one beat
    localparam integer XW0 = (ACC_W > TW) ? ACC_W : TW;
    localparam integer XW = (XW0 > 2) ? XW0 : 2;           // compare width
    localparam integer LAST_SI = SF - 1;
    localparam integer LAST_NI = NF - 1;
    localparam integer LAST_AI = DEPTH - 1;
    localparam [SW-1:0] LAST_S = LAST_SI[SW-1:0];
    localparam [NW-1:0] LAST_N = LAST_NI[NW-1:0];
    localparam [AW-1:0] LAST_A = LAST_AI[AW-1:0];
    // Register stages of the popcount/adder trees (their LATENCY).
    function integer tree_lat;
        input integer levels;
        integer k, r;
        begin
            r = 0;
            for (k = 1; k <= levels; k = k + 1)
                if ((k % REG_EVERY) == 0 || k == levels) r = r + 1;
            tree_lat = (levels == 0) ? 1 : r;
        end
    endfunction
    localparam integer LAT = tree_lat(LEVELS);

    // ---------------------------------------------------------------- flow control
    reg [1:0] fifo_n = 2'd0;                      // output FIFO occupancy
    wire en = (fifo_n != 2'd2);                   // room for one more result: advance
    reg [SW-1:0] sf = {SW{1'b0}};                 // beat of the fold being issued
    reg [NW-1:0] nf = {NW{1'b0}};                 // fold being issued
    reg [AW-1:0] addr = {AW{1'b0}};               // weight word = nf·SF + sf
    wire fold0 = (nf == {NW{1'b0}});
    assign in_ready = en && fold0;
    wire beat = en && (!fold0 || in_valid);      // a beat is issued this cycle
    always @(posedge clk) begin
        if (rst) begin
            sf <= {SW{1'b0}};
            nf <= {NW{1'b0}};
            addr <= {AW{1'b0}};
        end else if (beat) begin
            sf <= (sf == LAST_S) ? {SW{1'b0}} : sf + 1'b1;
            if (sf == LAST_S) nf <= (nf == LAST_N) ? {NW{1'b0}} : nf + 1'b1;
            addr <= (addr == LAST_A) ? {AW{1'b0}} : addr + 1'b1;
        end
    end

    // ---------------------------------------------------------------- config bus
    // Word/lane of each memory: cfg_word/cfg_lane zero-extended or truncated to the
    // memory's address/lane width. A write whose upper bus bits are not zero is dropped
    // (it would alias a real word or lane); the remaining words past the end fall on
    // rows that are never read, and lanes past the end match no lane in hdlgen_cfgmem.
    // (Zero tests, not comparators: the write enables fan out to every memory bit.)
    wire [AW+CFG_AW-1:0] word_x = {{AW{1'b0}}, cfg_word};
    wire [WLW+CFG_LW-1:0] lane_x = {{WLW{1'b0}}, cfg_lane};
    wire w_word_ok, w_lane_ok;
    generate
        if (CFG_AW > AW) begin : g_wword
            assign w_word_ok = ~|cfg_word[CFG_AW-1:AW];
        end else begin : g_wword_all
            assign w_word_ok = 1'b1;
        end
        if (CFG_LW > WLW) begin : g_wlane
            assign w_lane_ok = ~|cfg_lane[CFG_LW-1:WLW];
        end else begin : g_wlane_all
            assign w_lane_ok = 1'b1;
        end
    endgenerate

    // ---------------------------------------------------------------- weights
    wire [WW-1:0] w_q;
    hdlgen_cfgmem #(.W(WW), .D(DEPTH), .INIT_FILE(W_INIT)) u_wmem (
        .clk(clk), .we(wcfg_we && w_word_ok && w_lane_ok), .waddr(word_x[AW-1:0]),
        .wlane(lane_x[WLW-1:0]), .wdata(cfg_data), .re(en), .raddr(addr), .rdata(w_q)
    );

    // ---------------------------------------------------------------- replay buffer
    // The vector's SF beats (data, and mask when it counts), written as fold 0 takes
    // them and read at the same beat index in folds 1..NF−1.
    localparam integer DB = SIMD * EW;                      // data bits of a beat
    localparam integer RW = DB + USE_MASK * SIMD;
    wire [RW-1:0] beat_in;
    wire [RW-1:0] r_q;
    generate
        if (USE_MASK == 1) begin : g_bm
            assign beat_in = {in_mask, in_data};
        end else begin : g_bd
            assign beat_in = in_data;
            wire _unused_mask = &{1'b0, in_mask, 1'b0};
        end
        if (NF > 1) begin : g_replay
            localparam integer RD = 1 << SW;
            wire take = in_valid && in_ready;
            reg [RW-1:0] q;
            if (SF > 4) begin : g_bram
                (* ram_style = "block", no_rw_check *) reg [RW-1:0] rbuf [0:RD-1];
                always @(posedge clk) if (take) rbuf[sf] <= beat_in;
                always @(posedge clk) if (en) q <= rbuf[sf];
            end else begin : g_regs
                reg [RW-1:0] rbuf [0:RD-1];
                always @(posedge clk) if (take) rbuf[sf] <= beat_in;
                always @(posedge clk) if (en) q <= rbuf[sf];
            end
            assign r_q = q;
        end else begin : g_noreplay
            assign r_q = {RW{1'b0}};
        end
    endgenerate

    // ---------------------------------------------------------------- operands
    localparam integer TGW = 2 + NW;                        // {nf, last, first}
    reg s1_valid = 1'b0;
    reg s1_live;                                            // fold 0: the live beat
    reg [TGW-1:0] s1_tag;
    reg [RW-1:0] s1_in;
    always @(posedge clk) begin
        if (rst) s1_valid <= 1'b0;
        else if (en) s1_valid <= beat;
        if (en) begin
            s1_live <= fold0;
            s1_tag <= {nf, sf == LAST_S, sf == {SW{1'b0}}};
            s1_in <= beat_in;
        end
    end
    wire [RW-1:0] opnd = s1_live ? s1_in : r_q;
    wire [DB-1:0] x = opnd[DB-1:0];
    wire [SIMD-1:0] m;
    generate
        if (USE_MASK == 1) begin : g_m
            assign m = opnd[RW-1:DB];
        end else begin : g_m1
            assign m = {SIMD{1'b1}};
        end
    endgenerate

    // Valid and {nf, last, first} ride a resettable shift register as deep as the trees.
    reg [LAT-1:0] pv = {LAT{1'b0}};
    reg [TGW*LAT-1:0] pt;
    generate
        if (LAT == 1) begin : g_p1
            always @(posedge clk) begin
                if (rst) pv <= 1'b0;
                else if (en) pv <= s1_valid;
                if (en) pt <= s1_tag;
            end
        end else begin : g_pn
            always @(posedge clk) begin
                if (rst) pv <= {LAT{1'b0}};
                else if (en) pv <= {pv[LAT-2:0], s1_valid};
                if (en) pt <= {pt[TGW*(LAT-1)-1:0], s1_tag};
            end
        end
    endgenerate
    wire pc_valid = pv[LAT-1];
    wire [TGW-1:0] pc_tag = pt[TGW*LAT-1 -: TGW];
    wire pc_first = pc_tag[0];
    wire pc_last = pc_tag[1];
    wire [NW-1:0] pc_nf = pc_tag[TGW-1:2];
    // The stage before the tree output: its fold addresses the threshold read, so the
    // thresholds are registered twice and still line up with the fold's result.
    wire [TGW-1:0] pre_tag;
    generate
        if (LAT == 1) begin : g_pre1
            assign pre_tag = s1_tag;
        end else begin : g_pren
            assign pre_tag = pt[TGW*(LAT-1)-1 -: TGW];
        end
    endgenerate

    // ---------------------------------------------------------------- trees
    wire [PE*CW-1:0] cnt;
    wire [ACC_W-1:0] n_beat;                                // counted taps (MODE 0, masked)
    genvar p, i;
    generate
        if (MODE == 0) begin : g_xnor
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [SIMD-1:0] agree = ~(x ^ w_q[p*SIMD +: SIMD]) & m;
                wire v_unused;
                wire t_unused;
                hdlgen_popcount #(.N(SIMD), .REG_EVERY(REG_EVERY), .TAG_W(1)) u_pc (
                    .clk(clk), .en(en), .in_valid(1'b0), .in_tag(1'b0), .in_bits(agree),
                    .out_valid(v_unused), .out_tag(t_unused), .count(cnt[p*CW +: CW])
                );
            end
            if (USE_MASK == 1) begin : g_n
                wire v_unused;
                wire t_unused;
                wire [NCW-1:0] n_cnt;
                hdlgen_popcount #(.N(SIMD), .REG_EVERY(REG_EVERY), .TAG_W(1)) u_n (
                    .clk(clk), .en(en), .in_valid(1'b0), .in_tag(1'b0), .in_bits(m),
                    .out_valid(v_unused), .out_tag(t_unused), .count(n_cnt)
                );
                if (ACC_W > NCW) begin : g_ext
                    assign n_beat = {{(ACC_W - NCW){1'b0}}, n_cnt};
                end else begin : g_trunc
                    assign n_beat = n_cnt[ACC_W-1:0];
                    if (NCW > ACC_W) begin : g_hi
                        wire _unused_hi = &{1'b0, n_cnt[NCW-1:ACC_W], 1'b0};
                    end
                end
            end else begin : g_nomask
                assign n_beat = {ACC_W{1'b0}};
            end
        end else begin : g_int
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [SIMD*(EW+1)-1:0] t;
                for (i = 0; i < SIMD; i = i + 1) begin : g_lane
                    wire [EW:0] xi = {x[i*EW+EW-1], x[i*EW +: EW]};
                    assign t[i*(EW+1) +: EW+1] = w_q[p*SIMD + i] ? xi : -xi;
                end
                wire v_unused;
                wire t_unused;
                hdlgen_addtree #(.N(SIMD), .W(EW + 1), .REG_EVERY(REG_EVERY), .TAG_W(1)) u_at (
                    .clk(clk), .en(en), .in_valid(1'b0), .in_tag(1'b0), .in_data(t),
                    .out_valid(v_unused), .out_tag(t_unused), .sum(cnt[p*CW +: CW])
                );
            end
            assign n_beat = {ACC_W{1'b0}};
            wire _unused_m = &{1'b0, m, 1'b0};
        end
    endgenerate

    // ---------------------------------------------------------------- accumulate
    // Running sums over the fold's beats (modulo 2^ACC_W, exact for results that fit);
    // on a fold's last beat its dot products go to `res`, valid the next cycle.
    reg [PE*ACC_W-1:0] acc;
    reg [ACC_W-1:0] n_acc;
    reg [PE*ACC_W-1:0] res;
    reg res_valid = 1'b0;
    reg [NW-1:0] res_nf;
    wire [ACC_W-1:0] n_sum = (pc_first ? {ACC_W{1'b0}} : n_acc) + n_beat;
    wire [ACC_W-1:0] n_fold;
    generate
        if (USE_MASK == 1) begin : g_nm
            assign n_fold = n_sum;
        end else if (MODE == 0) begin : g_nc
            localparam integer MWI = MW;
            assign n_fold = MWI[ACC_W-1:0];
            wire _unused_n = &{1'b0, n_sum, 1'b0};
        end else begin : g_n0
            assign n_fold = {ACC_W{1'b0}};
            wire _unused_n = &{1'b0, n_sum, n_fold, 1'b0};
        end
        for (p = 0; p < PE; p = p + 1) begin : g_acc
            wire [CW-1:0] c = cnt[p*CW +: CW];
            wire [ACC_W-1:0] c_acc;                         // c resized to ACC_W
            if (ACC_W > CW) begin : g_ext
                assign c_acc = {{(ACC_W - CW){(MODE == 1) ? c[CW-1] : 1'b0}}, c};
            end else begin : g_trunc
                assign c_acc = c[ACC_W-1:0];
                if (CW > ACC_W) begin : g_hi
                    wire _unused_hi = &{1'b0, c[CW-1:ACC_W], 1'b0};
                end
            end
            wire [ACC_W-1:0] a_next = (pc_first ? {ACC_W{1'b0}} : acc[p*ACC_W +: ACC_W]) + c_acc;
            always @(posedge clk)
                if (en && pc_valid) begin
                    acc[p*ACC_W +: ACC_W] <= a_next;
                    if (pc_last)
                        res[p*ACC_W +: ACC_W] <= (MODE == 0) ? (a_next << 1) - n_fold : a_next;
                end
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) res_valid <= 1'b0;
        else if (en) res_valid <= pc_valid && pc_last;
        if (en && pc_valid) n_acc <= n_sum;
        if (en && pc_valid && pc_last) res_nf <= pc_nf;
    end

    // ---------------------------------------------------------------- activation
    wire [PE*OB-1:0] act;
    generate
        if (ACT == 1) begin : g_thr
            wire t_word_ok, t_lane_ok;
            if (CFG_AW > NW) begin : g_tword
                assign t_word_ok = ~|cfg_word[CFG_AW-1:NW];
            end else begin : g_tword_all
                assign t_word_ok = 1'b1;
            end
            if (CFG_LW > TLW) begin : g_tlane
                assign t_lane_ok = ~|cfg_lane[CFG_LW-1:TLW];
            end else begin : g_tlane_all
                assign t_lane_ok = 1'b1;
            end
            wire [NW+CFG_AW-1:0] tword_x = {{NW{1'b0}}, cfg_word};
            wire [TLW+CFG_LW-1:0] tlane_x = {{TLW{1'b0}}, cfg_lane};
            // Read one stage before the fold's last beat leaves the trees, then registered
            // again (t_r), so t_r holds the fold's thresholds when `res` holds its dots and
            // the compare starts from registers (all of it advances with en).
            wire [TWW-1:0] t_m;
            reg [TWW-1:0] t_q;
            hdlgen_cfgmem #(.W(TWW), .D(NF), .INIT_FILE(T_INIT)) u_tmem (
                .clk(clk), .we(tcfg_we && t_word_ok && t_lane_ok), .waddr(tword_x[NW-1:0]),
                .wlane(tlane_x[TLW-1:0]), .wdata(cfg_data), .re(en), .raddr(pre_tag[TGW-1:2]),
                .rdata(t_m)
            );
            always @(posedge clk) if (en) t_q <= t_m;
            // Signed r >= cmp as an unsigned compare of the offset values (sign bits
            // inverted): one carry chain whose carry-out is the answer.
            for (p = 0; p < PE; p = p + 1) begin : g_cmp
                wire [XW-1:0] r, cmp;
                if (XW > ACC_W) begin : g_rx
                    assign r = {{(XW - ACC_W){res[p*ACC_W+ACC_W-1]}}, res[p*ACC_W +: ACC_W]};
                end else begin : g_r
                    assign r = res[p*ACC_W +: ACC_W];
                end
                if (XW > TW) begin : g_cx
                    assign cmp = {{(XW - TW){t_q[p*(TW+1)+TW-1]}}, t_q[p*(TW+1) +: TW]};
                end else begin : g_c
                    assign cmp = t_q[p*(TW+1) +: TW];
                end
                wire [XW-1:0] r_u = {~r[XW-1], r[XW-2:0]};
                wire [XW-1:0] c_u = {~cmp[XW-1], cmp[XW-2:0]};
                assign act[p] = (r_u >= c_u) ^ t_q[p*(TW+1) + TW];
            end
            wire _unused_t = &{1'b0, tword_x, tlane_x, pre_tag[1:0], 1'b0};
        end else begin : g_none
            for (p = 0; p < PE; p = p + 1) begin : g_out
                if (OB > ACC_W) begin : g_ext
                    assign act[p*OB +: OB] = {{(OB - ACC_W){res[p*ACC_W+ACC_W-1]}}, res[p*ACC_W +: ACC_W]};
                end else begin : g_trunc
                    assign act[p*OB +: OB] = res[p*ACC_W +: OB];
                end
            end
            wire _unused_t = &{1'b0, tcfg_we, res, pre_tag, 1'b0};
        end
    endgenerate

    // The activated fold, registered (the compare's carry chain ends here).
    reg act_valid = 1'b0;
    reg [NW-1:0] act_nf;
    reg [PE*OB-1:0] act_q;
    always @(posedge clk) begin
        if (rst) act_valid <= 1'b0;
        else if (en) act_valid <= res_valid;
        if (en && res_valid) begin
            act_q <= act;
            act_nf <= res_nf;
        end
    end

    // ---------------------------------------------------------------- collect + FIFO
    // Fold f < NF−1 leaves its lanes f·PE .. f·PE + PE − 1 in `col`; the last fold's
    // lanes come straight from act_q as the whole vector is pushed.
    wire [MH*OB-1:0] pixel;
    wire push = en && act_valid && (act_nf == LAST_N);
    generate
        if (NF == 1) begin : g_one
            assign pixel = act_q;
        end else begin : g_many
            genvar f;
            for (f = 0; f < NF - 1; f = f + 1) begin : g_slot
                localparam [NW-1:0] FI = f;
                reg [PE*OB-1:0] col;
                always @(posedge clk) if (en && act_valid && act_nf == FI) col <= act_q;
                assign pixel[f*PE*OB +: PE*OB] = col;
            end
            assign pixel[MH*OB-1 -: PE*OB] = act_q;
        end
    endgenerate

    reg [MH*OB-1:0] f0, f1;                     // f0: head (out_data), f1: second entry
    wire pop = out_valid && out_ready;
    assign out_valid = (fifo_n != 2'd0);
    assign out_data = f0;
    always @(posedge clk) begin
        if (rst) fifo_n <= 2'd0;
        else fifo_n <= fifo_n + {1'b0, push} - {1'b0, pop};
        if (pop) begin
            if (fifo_n == 2'd2) f0 <= f1;
            else if (push) f0 <= pixel;
        end else if (push && fifo_n == 2'd0) begin
            f0 <= pixel;
        end
        if (push && fifo_n == 2'd1 && !pop) f1 <= pixel;
    end

    wire _unused_ok = &{1'b0, word_x, lane_x, 1'b0};
endmodule
`default_nettype wire
