// hdlgen_mvau: folded matrix-vector-activation unit of one conv/dense layer (FINN's MVAU).
//
// For each of MH outputs o over an MW-long input vector x (one window, in weight order):
//   MODE 0 (xnor): dot_o = 2·p − n, p = Σ_k m_k·[x_k == w_ok], n = Σ_k m_k (bit 1 = +1;
//                  m_k = in_mask bit when MASKED, else 1 and n = MW) — arith::binary_dot;
//   MODE 1 (int):  dot_o = Σ_k (w_ok ? x_k : −x_k), x_k signed IN_W-bit lanes.
//   ACT 0: output lane o = dot_o (signed OB bits); ACT 1: bit o = (dot_o ≥ cmp_o) ^ flip_o.
// Folding: SIMD elements per beat, SF = MW/SIMD beats per vector; PE outputs in parallel,
// NF = MH/PE folds. The vector arrives once (SF beats, in_ready high only in fold 0) and
// is replayed from a buffer for folds 1..NF−1, so a vector costs exactly SF·NF cycles,
// back to back, and leaves as one beat holding all MH results.
//
// Memories (hdlgen_cfgmem, written in 32-bit lanes over cfg_*, contents kept over rst):
//   weights    word nf·SF + sf, bit p·SIMD + i = w[nf·PE + p][sf·SIMD + i] (1 = +1);
//   thresholds word nf, bits [p·(TW+1) +: TW+1] = {flip, cmp} of output nf·PE + p.
//
// Pipeline (one enable `en` stalls it all; en = output FIFO not full, a register, so
// in_ready and out_valid depend on registers only): issue (fold counters, weight and
// replay reads) → operand registers → XNOR/negate + popcount/adder tree (popcount_latency
// cycles) → accumulate; on a fold's last beat the result register and threshold read →
// compare into the pixel collector → 2-entry output FIFO.
// Latency from a vector's last beat accepted to its output beat valid, no stalls:
// popcount_latency(SIMD, REG_EVERY) + 4 cycles (+ (NF−1)·SF for the replayed folds).
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
    input  wire                                 clk,
    input  wire                                 rst,
    input  wire                                 in_valid,
    output wire                                 in_ready,
    input  wire [SIMD*(MODE == 1 ? IN_W : 1)-1:0]    in_data,
    input  wire [SIMD-1:0]                      in_mask,
    output wire                                 out_valid,
    input  wire                                 out_ready,
    output wire [MH*OB-1:0]                     out_data,
    input  wire                                 wcfg_we,
    input  wire                                 tcfg_we,
    input  wire [CFG_AW-1:0]                    cfg_word,
    input  wire [CFG_LW-1:0]                    cfg_lane,
    input  wire [31:0]                          cfg_data
);
    localparam integer EW = MODE == 1 ? IN_W : 1;             // element width
    localparam integer SF = MW / SIMD;
    localparam integer NF = MH / PE;
    localparam integer DEPTH = SF * NF;
    localparam integer AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam integer SW = SF > 1 ? $clog2(SF) : 1;
    localparam integer NW = NF > 1 ? $clog2(NF) : 1;
    localparam integer WW = PE * SIMD;                   // weight word
    localparam integer TWW = PE * (TW + 1);              // threshold word
    localparam integer WLW = WW > 32 ? $clog2((WW + 31) / 32) : 1;
    localparam integer TLW = TWW > 32 ? $clog2((TWW + 31) / 32) : 1;
    localparam integer TAW = NF > 1 ? $clog2(NF) : 1;
    localparam integer CW = MODE == 1 ? IN_W + 1 + ((SIMD <= 1) ? 0 : $clog2(SIMD))  // per-beat sum
                                 : $clog2(SIMD + 1);
    localparam integer PW = $clog2(MW + 1);              // xnor matches per vector
    localparam integer XW = (ACC_W > TW ? ACC_W : TW) + 1;   // compare width
    localparam integer LAST_SI = SF - 1;
    localparam integer LAST_NI = NF - 1;
    localparam integer LAST_AI = DEPTH - 1;
    localparam [SW-1:0] LAST_S = LAST_SI[SW-1:0];
    localparam [NW-1:0] LAST_N = LAST_NI[NW-1:0];
    localparam [AW-1:0] LAST_A = LAST_AI[AW-1:0];

    // ---------------------------------------------------------------- flow control
    reg [1:0] fifo_n = 2'd0;                      // output FIFO occupancy
    wire en = (fifo_n != 2'd2);                   // room for one more result: move
    reg [SW-1:0] sf = {SW{1'b0}};
    reg [NW-1:0] nf = {NW{1'b0}};
    reg [AW-1:0] addr = {AW{1'b0}};
    wire fold0 = (nf == {NW{1'b0}});
    assign in_ready = en && fold0;
    wire beat = en && (fold0 ? in_valid : 1'b1);  // a beat is issued this cycle
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

    // ---------------------------------------------------------------- memories
    wire [WW-1:0] w_q;
    wire [WLW-1:0] cfg_word_lane_w = cfg_lane[WLW-1:0];
    hdlgen_cfgmem #(.W(WW), .D(DEPTH), .INIT_FILE(W_INIT)) u_wmem (
        .clk(clk), .we(wcfg_we), .waddr(cfg_word[AW-1:0]), .wlane(cfg_word_lane_w),
        .wdata(cfg_data), .re(en), .raddr(addr), .rdata(w_q)
    );

    // Replay buffer: the vector's SF beats (data and mask), written in fold 0.
    wire [SIMD*EW-1:0] r_x;
    wire [SIMD-1:0] r_m;
    generate
        if (NF > 1) begin : g_replay
            localparam integer RW = SIMD * EW + SIMD;
            localparam integer RD = 1 << SW;
            reg [RW-1:0] r_q;
            if (SF > 4) begin : g_bram
                (* ram_style = "block", no_rw_check *) reg [RW-1:0] rbuf [0:RD-1];
                always @(posedge clk) if (in_valid && in_ready) rbuf[sf] <= {in_mask, in_data};
                always @(posedge clk) if (en) r_q <= rbuf[sf];
            end else begin : g_regs
                reg [RW-1:0] rbuf [0:RD-1];
                always @(posedge clk) if (in_valid && in_ready) rbuf[sf] <= {in_mask, in_data};
                always @(posedge clk) if (en) r_q <= rbuf[sf];
            end
            assign r_x = r_q[SIMD*EW-1:0];
            assign r_m = r_q[RW-1:SIMD*EW];
        end else begin : g_noreplay
            assign r_x = {SIMD*EW{1'b0}};
            assign r_m = {SIMD{1'b0}};
        end
    endgenerate

    // ---------------------------------------------------------------- operands
    reg s1_valid = 1'b0;
    reg s1_live, s1_first, s1_last;
    reg [NW-1:0] s1_nf;
    reg [SIMD*EW-1:0] s1_x;
    reg [SIMD-1:0] s1_m;
    always @(posedge clk) begin
        if (rst) s1_valid <= 1'b0;
        else if (en) s1_valid <= beat;
        if (en) begin
            s1_live <= fold0;
            s1_first <= (sf == {SW{1'b0}});
            s1_last <= (sf == LAST_S);
            s1_nf <= nf;
            s1_x <= in_data;
            s1_m <= in_mask;
        end
    end
    wire [SIMD*EW-1:0] x = s1_live ? s1_x : r_x;
    wire [SIMD-1:0] m_raw = s1_live ? s1_m : r_m;
    wire [SIMD-1:0] m = MASKED == 1 ? m_raw : {SIMD{1'b1}};

    // ---------------------------------------------------------------- trees
    localparam integer TAGW = 2 + NW;
    wire [PE*CW-1:0] cnt;
    wire [CW-1:0] n_cnt;
    wire [TAGW-1:0] tag;
    wire pc_valid;
    genvar p, i;
    generate
        if (MODE == 0) begin : g_xnor
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [SIMD-1:0] agree = ~(x ^ w_q[p*SIMD +: SIMD]) & m;
                wire v_unused;
                wire [TAGW-1:0] t_unused;
                hdlgen_popcount #(.N(SIMD), .REG_EVERY(REG_EVERY), .TAG_W(TAGW)) u_pc (
                    .clk(clk), .en(en), .in_valid(s1_valid), .in_tag({s1_nf, s1_last, s1_first}),
                    .in_bits(agree), .out_valid(v_unused), .out_tag(t_unused), .count(cnt[p*CW +: CW])
                );
            end
            hdlgen_popcount #(.N(SIMD), .REG_EVERY(REG_EVERY), .TAG_W(TAGW)) u_n (
                .clk(clk), .en(en), .in_valid(s1_valid), .in_tag({s1_nf, s1_last, s1_first}),
                .in_bits(m), .out_valid(pc_valid), .out_tag(tag), .count(n_cnt)
            );
        end else begin : g_int
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [SIMD*(EW+1)-1:0] t;
                for (i = 0; i < SIMD; i = i + 1) begin : g_lane
                    wire signed [EW:0] xi = {x[i*EW+EW-1], x[i*EW +: EW]};
                    assign t[i*(EW+1) +: EW+1] = w_q[p*SIMD + i] ? xi : -xi;
                end
                wire v_unused;
                wire [TAGW-1:0] tg_unused;
                hdlgen_addtree #(.N(SIMD), .W(EW + 1), .REG_EVERY(REG_EVERY), .TAG_W(TAGW)) u_at (
                    .clk(clk), .en(en), .in_valid(s1_valid), .in_tag({s1_nf, s1_last, s1_first}),
                    .in_data(t), .out_valid(v_unused), .out_tag(tg_unused), .sum(cnt[p*CW +: CW])
                );
                if (p == 0) begin : g_tag
                    assign pc_valid = v_unused;
                    assign tag = tg_unused;
                end
            end
            assign n_cnt = {CW{1'b0}};
        end
    endgenerate
    wire pc_first = tag[0];
    wire pc_last = tag[1];
    wire [NW-1:0] pc_nf = tag[TAGW-1:2];

    // ---------------------------------------------------------------- accumulate
    // Running sums over the fold's beats; on its last beat the fold result (dot) goes to
    // `res` and the fold's thresholds are read, both ready one cycle later.
    localparam integer CX = CW > ACC_W ? CW : ACC_W;     // a beat's sum, extended
    reg [PE*ACC_W-1:0] acc;
    reg [PW-1:0] n_acc;
    reg [PE*ACC_W-1:0] res;
    reg res_valid = 1'b0;
    reg [NW-1:0] res_nf;
    wire [PW-1:0] n_beat;
    generate
        if (MODE == 0) begin : g_nb
            // n_cnt counts at most SIMD ≤ MW taps: CW ≤ PW.
            if (PW > CW) begin : g_ext
                assign n_beat = {{(PW - CW){1'b0}}, n_cnt};
            end else begin : g_same
                assign n_beat = n_cnt[PW-1:0];
            end
        end else begin : g_nb0
            assign n_beat = {PW{1'b0}};
        end
    endgenerate
    wire [PW-1:0] n_sum = (pc_first ? {PW{1'b0}} : n_acc) + n_beat;
    wire [ACC_W-1:0] n_fold;
    generate
        if (MASKED == 1 && MODE == 0) begin : g_nm
            assign n_fold = {{(ACC_W - PW){1'b0}}, n_sum};
        end else begin : g_nc
            localparam integer MWI = MW;
            assign n_fold = MWI[ACC_W-1:0];
        end
        for (p = 0; p < PE; p = p + 1) begin : g_acc
            // Sums fit ACC_W (the caller's range), so wrapping arithmetic is exact.
            wire [CX-1:0] c_ext;
            if (CX > CW) begin : g_ext
                assign c_ext = {{(CX - CW){MODE == 1 ? cnt[p*CW+CW-1] : 1'b0}}, cnt[p*CW +: CW]};
            end else begin : g_same
                assign c_ext = cnt[p*CW +: CW];
            end
            wire [ACC_W-1:0] a_next = (pc_first ? {ACC_W{1'b0}} : acc[p*ACC_W +: ACC_W]) + c_ext[ACC_W-1:0];
            always @(posedge clk)
                if (en && pc_valid) begin
                    acc[p*ACC_W +: ACC_W] <= a_next;
                    res[p*ACC_W +: ACC_W] <= (MODE == 0) ? (a_next << 1) - n_fold : a_next;
                end
            if (CX > ACC_W) begin : g_hi
                wire _unused_hi = &{1'b0, c_ext[CX-1:ACC_W], 1'b0};
            end
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) res_valid <= 1'b0;
        else if (en) res_valid <= pc_valid && pc_last;
        if (en && pc_valid) begin
            n_acc <= n_sum;
            res_nf <= pc_nf;
        end
    end

    // ---------------------------------------------------------------- activation
    wire [PE*OB-1:0] act;
    generate
        if (ACT == 1) begin : g_thr
            wire [TWW-1:0] t_q;
            wire [TLW-1:0] tlane = cfg_lane[TLW-1:0];
            wire [TAW-1:0] traddr = pc_nf[TAW-1:0];
            hdlgen_cfgmem #(.W(TWW), .D(NF), .INIT_FILE(T_INIT)) u_tmem (
                .clk(clk), .we(tcfg_we), .waddr(cfg_word[TAW-1:0]), .wlane(tlane),
                .wdata(cfg_data), .re(en), .raddr(traddr), .rdata(t_q)
            );
            for (p = 0; p < PE; p = p + 1) begin : g_cmp
                wire signed [XW-1:0] r = {{(XW - ACC_W){res[p*ACC_W+ACC_W-1]}}, res[p*ACC_W +: ACC_W]};
                wire signed [XW-1:0] c = {{(XW - TW){t_q[p*(TW+1)+TW-1]}}, t_q[p*(TW+1) +: TW]};
                assign act[p] = (r >= c) ^ t_q[p*(TW+1) + TW];
            end
        end else begin : g_none
            for (p = 0; p < PE; p = p + 1) begin : g_out
                assign act[p*OB +: OB] = res[p*ACC_W +: OB];
            end
            wire _unused_t = &{1'b0, tcfg_we, res, 1'b0};
        end
    endgenerate

    // ---------------------------------------------------------------- collect + FIFO
    // Fold nf fills lanes nf·PE .. nf·PE + PE − 1 of the pixel; the last fold pushes it.
    reg [MH*OB-1:0] col;
    wire [MH*OB-1:0] pixel;
    generate
        if (NF == 1) begin : g_one
            assign pixel = act;
        end else begin : g_many
            genvar f;
            for (f = 0; f < NF; f = f + 1) begin : g_slot
                localparam [NW-1:0] FI = f;
                assign pixel[f*PE*OB +: PE*OB] = (res_nf == FI) ? act : col[f*PE*OB +: PE*OB];
            end
        end
    endgenerate
    always @(posedge clk) if (en && res_valid) col <= pixel;
    wire push = en && res_valid && (res_nf == LAST_N);

    reg [MH*OB-1:0] f0, f1;
    wire pop = out_valid && out_ready;
    assign out_valid = (fifo_n != 2'd0);
    assign out_data = f0;
    always @(posedge clk) begin
        if (rst) fifo_n <= 2'd0;
        else fifo_n <= fifo_n + {1'b0, push} - {1'b0, pop};
        // f0 is the head; f1 holds the second entry.
        if (pop) begin
            if (fifo_n == 2'd2) f0 <= f1;
            else if (push) f0 <= pixel;
        end else if (push && fifo_n == 2'd0) begin
            f0 <= pixel;
        end
        if (push && ((fifo_n == 2'd1 && !pop) || (fifo_n == 2'd2 && pop))) f1 <= pixel;
    end

    wire _unused_ok = &{1'b0, cfg_word, cfg_lane, n_cnt, m_raw, m, col, 1'b0};
endmodule
`default_nettype wire
