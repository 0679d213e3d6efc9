// hdlgen_xfront: the first layer of the layer-sequential engine for small parts: an
// integer-input binary convolution of a one-channel image (K×K, stride 1, ±1 weights),
// its threshold and a fused 2×2 max-pool, written into hdlgen_xseq's banks as the map
// its first run reads. One output channel a cycle for two output pixels of a 2×2 block
// (the pool window): two adder trees over a (K+1)×(K+1) patch of the image in registers;
// the block's first row for every channel, then (the patch shifted up a row) its second,
// ORed with the first row's bits kept per channel.
//
// Per image: the H·W pixels arrive on in_* (raster order, IN_W bits, SIGNED or not) into
// the image memory; then, once `go` is high (the caller's map region is free, its base on
// `obase`, stable until `done`), for each pooled pixel (by, bx) in raster order (floor(OH/2)
// × floor(OW/2) of them) the patch is read (zero padding: PAD_VAL outside the image, P
// rows/columns on the top/left) and channels o = 0 .. COUT−1 are computed:
//     acc_(dy,dx) = Σ_(ky,kx) (w_o[ky·K + kx] ? x : −x),  x = image(2by+dy+ky−P, 2bx+dx+kx−P)
//     bit = OR over the block of ((acc ≥ t_o) ^ f_o)      (hdlgen::layers: conv, threshold,
//                                                         maxpool; `le` t is (t + 1, flip))
// Channel bits collect into SIMD-bit words, word k of pixel (by, bx) written to bank
// (by mod 2)·2 + (bx mod 2) at obase + (by>>1)·ORS + (bx>>1)·OCH + k (rtl::xseq::MapLayout).
// Weights: w_data = the K·K bits of channel w_addr from the cycle after one with w_re
// high (a read register with a clock enable, as hdlgen_cfgmem's; w_addr runs a cycle
// ahead of the channel issued);
// thresholds: t_data = {flip, t} (TW + 1 bits) of channel t_addr, read with w_re too.
// o_* is hdlgen_xseq's external write port, behind a two-entry register slice; while
// o_ready is low the slice fills and then channels stop issuing (credits: the pipeline
// behind the issue never stalls). `done` pulses after the last word is written; then the next image
// is taken. COUT must be a multiple of SIMD. Cycles per pooled pixel: (K+1)² + 2·COUT +
// (K+1) + 8 (MNIST's conv1, free flow: 18,822 an image with its 784 pixels, measured in
// tests/tests/rtl_xseq.rs).
`default_nettype none
module hdlgen_xfront #(
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
    parameter integer SIMD = 32,
    parameter integer BA = 8,
    parameter integer TW = 14,
    parameter integer OCH = 1,
    parameter integer ORS = 7,
    parameter integer REG_EVERY = 2
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire                  in_valid,
    output wire                  in_ready,
    input  wire [IN_W-1:0]       in_data,
    input  wire                  go,
    input  wire [BA-1:0]         obase,
    output reg                   done,
    output wire [OB-1:0]         w_addr,
    output wire                  w_re,
    input  wire [K*K-1:0]        w_data,
    output wire [OB-1:0]         t_addr,
    input  wire [TW:0]           t_data,
    output wire                  o_we,
    output wire [1:0]            o_bank,
    output wire [BA-1:0]         o_addr,
    output wire [SIMD-1:0]       o_data,
    input  wire                  o_ready
);
    localparam integer OB = (COUT > 1) ? $clog2(COUT) : 1;
    localparam integer NPIX = H * W;
    localparam integer IA = (NPIX > 1) ? $clog2(NPIX) : 1;
    localparam integer PK = K + 1;                      // patch side
    localparam integer NP = PK * PK;
    localparam integer XW = IN_W + 1;                   // signed pixel values
    localparam integer NT = K * K + 1;                  // tree inputs: taps + the negation count
    localparam integer NW = $clog2(NT);                 // the negation count's width
    localparam integer TWD = (XW > NW + 1) ? XW : NW + 1;   // tree input width
    localparam integer SW = TWD + NW;                   // tree sum width
    localparam integer PH = OH / 2;                     // pooled map
    localparam integer PWD = OW / 2;
    localparam integer HW_MAX = (H > W) ? H : W;
    localparam integer CW = $clog2(HW_MAX + 2 * PK + 1) + 1;    // coordinates (signed)
    localparam integer GB = (SIMD > 1) ? $clog2(SIMD) : 1;
    localparam integer PK1_I = PK - 1, PH1_I = PH - 1, PW1_I = PWD - 1;
    localparam integer OL_I = COUT - 1, WL_I = SIMD - 1, NPIX_L = NPIX - 1;
    localparam integer RECV = 0, WAIT = 1, LOAD = 2, CALC = 3, NEXT = 4;    // one-hot
    localparam [4:0] S_RECV = 5'd1, S_WAIT = 5'd2, S_LOAD = 5'd4, S_CALC = 5'd8, S_NEXT = 5'd16;

    // ---------------------------------------------------------------- image memory
    reg [IN_W-1:0] imem [0:NPIX-1];
    reg [IN_W-1:0] iq = {IN_W{1'b0}};
    reg [IA-1:0] wa = {IA{1'b0}};
    reg [4:0] st = S_RECV;
    reg wa_end = NPIX == 1;                             // wa is the image's last pixel
    assign in_ready = st[RECV];
    always @(posedge clk) begin
        if (in_valid && st[RECV]) imem[wa] <= in_data;
        iq <= imem[ra];
    end

    // ---------------------------------------------------------------- patch load
    // Patch element j = (r, c) is image (2by − P + r, 2bx − P + c): read in raster order,
    // shifted in at the top, so after NP reads element j is at [j·XW +: XW].
    reg [CW-1:0] by = 0, bx = 0;                        // pooled pixel
    reg [CW-1:0] pc = 0;                                // patch column being read
    reg [CW-1:0] ly = 0, lx = 0;                        // its image coordinates (signed)
    reg [7:0] nrem = 0;                                 // reads still to issue
    reg nz = 1'b0;                                      // nrem != 0
    reg pc_end = 1'b0;                                  // pc == PK − 1
    // A patch read: its address and in-image flag are registered (the address is
    // ly·W + lx, an adder chain), the memory reads the cycle after, the data arrives
    // the cycle after that (ld_v).
    reg rv = 1'b0, r_in = 1'b0;                         // a read issues; in the image
    reg [IA-1:0] ra = {IA{1'b0}};
    reg ld_v = 1'b0, ld_in = 1'b0;                      // a read's data arrives; in the image
    reg [NP*XW-1:0] patch = {NP*XW{1'b0}};
    wire [CW-1:0] h_c = H[CW-1:0], w_c = W[CW-1:0], p_c = P[CW-1:0];
    wire [CW-1:0] pk1 = PK1_I[CW-1:0], ph1 = PH1_I[CW-1:0], pw1 = PW1_I[CW-1:0];
    wire [CW-1:0] one_c = 1, two_c = 2;
    wire [7:0] np_c = NP[7:0], pk_c = PK[7:0];
    wire in_img = !ly[CW-1] && ly < h_c && !lx[CW-1] && lx < w_c;
    wire [XW-1:0] pad = PAD_VAL[XW-1:0];
    wire [XW-1:0] px = (SIGNED != 0) ? {iq[IN_W-1], iq} : {1'b0, iq};
    wire [2*CW-1:0] lin = ly * w_c + {{CW{1'b0}}, lx};  // constant W: shifts and adds
    wire [CW-1:0] bx2 = {bx[CW-2:0], 1'b0};
    wire [CW-1:0] by2 = {by[CW-2:0], 1'b0};

    // ---------------------------------------------------------------- channel loop
    reg [OB-1:0] o = {OB{1'b0}};
    reg [GB-1:0] wpos = {GB{1'b0}};                     // o mod SIMD
    reg ph = 1'b0;                                      // the block row being computed
    reg [BA-1:0] row_a = {BA{1'b0}};                    // obase + (by>>1)·ORS
    reg [BA-1:0] blk_a = {BA{1'b0}};                    // + (bx>>1)·OCH
    reg [BA-1:0] word_a = {BA{1'b0}};                   // + the word of channel o
    reg last_blk = 1'b0;
    // Loop ends as flip-flops, set as the counters reach them, so every decision of the
    // channel loop is a gate or two from flip-flops (the loop's enables fan out widely).
    reg o_end = 1'b0, w_end = 1'b0, bx_end = 1'b0;
    wire [OB-1:0] o_last = OL_I[OB-1:0];
    wire [GB-1:0] w_last = WL_I[GB-1:0];
    wire [IA-1:0] pix_last = NPIX_L[IA-1:0];
    wire [BA-1:0] ors_c = ORS[BA-1:0], och_c = OCH[BA-1:0];
    // Back-pressure by credit: finished words wait in a two-entry register slice
    // (hdlgen_skid) while o_ready is low. `pend` counts the words whose last channel has
    // issued and that have not left the slice; channels issue only while it is below 2,
    // so the slice never overflows and everything after the issue runs free (no clock
    // enable fanning out over the trees: it was a UP5K critical path).
    reg [1:0] pend = 2'd0;
    wire hold = pend[1];
    // The weights are read a cycle ahead, at o's next value, and registered with their
    // count of −1s (below), so the block RAM's output feeds flip-flops only (its read
    // into the trees' first adders was the UP5K's critical path).
    wire to_calc = st[LOAD] && !nz && !rv && !ld_v;
    wire [OB-1:0] o_nx = rst ? o : to_calc ? {OB{1'b0}} : (st[CALC] && !hold) ? o + 1'b1 : o;
    assign w_addr = o_nx;
    assign t_addr = o;
    assign w_re = 1'b1;

    always @(posedge clk) begin
        rv <= 1'b0;
        ld_v <= rv;
        ld_in <= r_in;
        ra <= lin[IA-1:0];
        r_in <= in_img;
        if (rst) begin
            st <= S_RECV;
            wa <= {IA{1'b0}};
            wa_end <= NPIX == 1;
        end else begin
            // One-hot states, so each decision below is a few flip-flops deep.
            if (st[RECV] && in_valid) begin
                wa <= wa + 1'b1;
                wa_end <= wa + 1'b1 == pix_last;
                if (wa_end) begin
                    wa <= {IA{1'b0}};
                    wa_end <= NPIX == 1;
                    st <= S_WAIT;
                end
            end
            if (st[WAIT] && go) begin
                st <= S_LOAD;
                by <= 0;
                bx <= 0;
                pc <= 0;
                ly <= -p_c;
                lx <= -p_c;
                nrem <= np_c;
                nz <= 1'b1;
                pc_end <= 1'b0;
                bx_end <= PWD == 1;
                row_a <= obase;
                blk_a <= obase;
                last_blk <= PH * PWD == 1;
            end
            if (st[LOAD]) begin
                // One read a cycle (its data two cycles later), then the channel loop.
                if (nz) begin
                    rv <= 1'b1;
                    nrem <= nrem - 1'b1;
                    nz <= nrem != 8'd1;
                    if (pc_end) begin
                        pc <= 0;
                        pc_end <= 1'b0;
                        lx <= bx2 - p_c;
                        ly <= ly + one_c;
                    end else begin
                        pc <= pc + one_c;
                        pc_end <= pc + one_c == pk1;
                        lx <= lx + one_c;
                    end
                end else if (!rv && !ld_v) begin
                    st <= S_CALC;
                    o <= {OB{1'b0}};
                    o_end <= COUT == 1;
                    wpos <= {GB{1'b0}};
                    w_end <= SIMD == 1;
                    word_a <= blk_a;
                end
            end
            if (st[CALC] && !hold) begin
                // Channel o issues; after the last, NEXT (the patch stays until the
                // last channel has formed its terms, one cycle after its issue).
                o <= o + 1'b1;
                o_end <= o + 1'b1 == o_last;
                wpos <= w_end ? {GB{1'b0}} : wpos + 1'b1;
                w_end <= w_end ? SIMD == 1 : wpos + 1'b1 == w_last;
                if (w_end) word_a <= word_a + 1'b1;
                if (o_end) st <= S_NEXT;
            end
            if (st[NEXT]) begin
                if (!ph) begin
                    st <= S_LOAD;                       // shift the patch up a row
                    ph <= 1'b1;
                    nrem <= pk_c;
                    nz <= 1'b1;
                end else if (last_blk) begin
                    st <= S_RECV;
                    ph <= 1'b0;
                end else begin
                    st <= S_LOAD;                       // the next pooled pixel
                    ph <= 1'b0;
                    nrem <= np_c;
                    nz <= 1'b1;
                    pc <= 0;
                    pc_end <= 1'b0;
                    if (bx_end) begin
                        bx <= 0;
                        bx_end <= PWD == 1;
                        by <= by + one_c;
                        ly <= by2 + two_c - p_c;
                        lx <= -p_c;
                        if (by[0]) begin
                            row_a <= row_a + ors_c;
                            blk_a <= row_a + ors_c;
                        end else begin
                            blk_a <= row_a;
                        end
                        last_blk <= by + one_c == ph1 && PWD == 1;
                    end else begin
                        bx <= bx + one_c;
                        bx_end <= bx + one_c == pw1;
                        ly <= by2 - p_c;
                        lx <= bx2 + two_c - p_c;
                        if (bx[0]) blk_a <= blk_a + och_c;
                        last_blk <= by == ph1 && bx + one_c == pw1;
                    end
                end
            end
        end
        if (ld_v) patch <= {(ld_in ? px : pad), patch[NP*XW-1:XW]};
    end

    // ---------------------------------------------------------------- trees
    // One cycle after a channel's issue its weights and threshold are here: the terms
    // (x, or ~x when the weight is −1: −x = ~x + 1, so the count of −1 weights joins as
    // one more input) go into four adder trees.
    reg t_v = 1'b0;
    reg t_word = 1'b0, t_lastw = 1'b0, t_lastb = 1'b0, t_ph = 1'b0;
    reg [BA-1:0] t_wa = {BA{1'b0}};
    reg [1:0] t_bank = 2'd0;
    always @(posedge clk) begin
        t_v <= st[CALC] && !hold && !rst;
        t_word <= w_end;
        t_lastw <= o_end;
        t_lastb <= last_blk;
        t_ph <= ph;
        t_wa <= word_a;
        t_bank <= {by[0], bx[0]};
        // A word's last channel of the block's second row issues: one more word owed.
        case ({st[CALC] && !hold && ph && w_end, o_we && o_ready})
            2'b10: pend <= pend + 1'b1;
            2'b01: pend <= pend - 1'b1;
            default: ;
        endcase
        if (rst) pend <= 2'd0;
    end
    wire [NW-1:0] nneg;
    wire [SW-1:0] sum [0:1];
    wire [1:0] tv;
    localparam integer TG = 1 + 1 + BA + 2 + TW + 1 + 1 + 1;
    wire [TG-1:0] tg_in = {t_ph, t_lastb, t_data, t_bank, t_wa, t_lastw, t_word};
    wire [TG-1:0] tg [0:1];
    integer q;
    reg [NW-1:0] cnt_neg;
    always @* begin
        cnt_neg = {NW{1'b0}};
        for (q = 0; q < K * K; q = q + 1) cnt_neg = cnt_neg + {{(NW-1){1'b0}}, !w_data[q]};
    end
    // Channel o's weights and their count of −1s, in the cycle after its issue.
    reg [K*K-1:0] w_q = {(K*K){1'b0}};
    reg [NW-1:0] nneg_q = {NW{1'b0}};
    always @(posedge clk) begin
        w_q <= w_data;
        nneg_q <= cnt_neg;
    end
    assign nneg = nneg_q;
    genvar s, t;
    generate
        for (s = 0; s < 2; s = s + 1) begin : g_tree
            wire [NT*TWD-1:0] terms;
            for (t = 0; t < K * K; t = t + 1) begin : g_term
                localparam integer E = (t / K) * PK + s + (t % K);
                wire [XW-1:0] x = patch[E*XW +: XW];
                wire [TWD+XW-1:0] xs = {{TWD{x[XW-1]}}, x};     // sign-extended
                assign terms[t*TWD +: TWD] = w_q[t] ? xs[TWD-1:0] : ~xs[TWD-1:0];
                wire _unused_x = &{1'b0, xs[TWD+XW-1:TWD], 1'b0};
            end
            wire [TWD+NW-1:0] nx = {{TWD{1'b0}}, nneg};
            assign terms[K*K*TWD +: TWD] = nx[TWD-1:0];
            wire _unused_n = &{1'b0, nx[TWD+NW-1:TWD], 1'b0};
            hdlgen_addtree #(
                .N(NT),
                .W(TWD),
                .REG_EVERY(REG_EVERY),
                .TAG_W(TG)
            ) u_tree (
                .clk(clk),
                .en(1'b1),
                .in_valid(t_v),
                .in_tag(tg_in),
                .in_data(terms),
                .out_valid(tv[s]),
                .out_tag(tg[s]),
                .sum(sum[s])
            );
        end
    endgenerate

    // ---------------------------------------------------------------- threshold, pool, write
    wire [TG-1:0] r = tg[0];
    wire r_word = r[0];
    wire r_lastw = r[1];
    wire [BA-1:0] r_wa = r[2 +: BA];
    wire [1:0] r_bank = r[2 + BA +: 2];
    wire [TW-1:0] r_t = r[4 + BA +: TW];
    wire r_f = r[4 + BA + TW];
    wire r_lastb = r[5 + BA + TW];
    wire r_ph = r[6 + BA + TW];
    localparam integer CMPW = ((SW > TW) ? SW : TW) + 1;
    wire [CMPW-1:0] tx = {{(CMPW-TW){r_t[TW-1]}}, r_t};
    wire [1:0] hit;
    generate
        for (s = 0; s < 2; s = s + 1) begin : g_cmp
            wire [CMPW-1:0] sx = {{(CMPW-SW){sum[s][SW-1]}}, sum[s]};
            assign hit[s] = ($signed(sx) >= $signed(tx)) ^ r_f;
        end
    endgenerate
    // The compared bits are registered (with the pipeline) before the collectors: the
    // compare's carry chain, the OR and the collector did not fit 48 MHz on a UP5K.
    // h_out: a word leaves (h_v, row 1's phase, its last channel) as a flip-flop, so the
    // slice's enables are one LUT from registers (the gate in front was 15 ns of routing
    // away from them on a UP5K at 50 MHz).
    reg h_v = 1'b0, h_ph = 1'b0, h_fin = 1'b0, h_any = 1'b0, h_out = 1'b0;
    reg [BA-1:0] h_wa = {BA{1'b0}};
    reg [1:0] h_bank = 2'd0;
    always @(posedge clk) begin
        h_v <= tv[0] && !rst;
        h_out <= tv[0] && !rst && r_ph && r_word;
        h_any <= |hit;
        h_ph <= r_ph;
        h_fin <= r_lastw && r_lastb;
        h_wa <= r_wa;
        h_bank <= r_bank;
    end
    // Row 0's bits wait per channel in pbits (channel o at [0] when row 1's arrives).
    reg [COUT-1:0] pbits = {COUT{1'b0}};
    wire [COUT:0] pb_nx = {h_any, pbits};
    reg [SIMD-1:0] col = {SIMD{1'b0}};
    wire [SIMD:0] col_nx = {h_any | pbits[0], col};
    always @(posedge clk) begin
        if (h_v) pbits <= pb_nx[COUT:1];
        if (h_v && h_ph) col <= col_nx[SIMD:1];
    end
    // A word leaves with its last channel; the image's last word carries `fin`. The
    // slice always has room for it (`pend`).
    wire o_fin, s_ready;
    hdlgen_skid #(
        .W(1 + 2 + BA + SIMD)
    ) u_out (
        .clk(clk),
        .rst(rst),
        .in_valid(h_out),
        .in_ready(s_ready),
        .in_data({h_fin, h_bank, h_wa, col_nx[SIMD:1]}),
        .out_valid(o_we),
        .out_ready(o_ready),
        .out_data({o_fin, o_bank, o_addr, o_data})
    );
    always @(posedge clk) done <= o_we && o_ready && o_fin && !rst;
    wire _unused_ok = &{1'b0, tv[1], tg[1], lin, col_nx[0], pb_nx[0], s_ready, 1'b0};
endmodule
`default_nettype wire
