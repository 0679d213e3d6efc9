// hdlgen_thresh: per-pixel threshold (folded BatchNorm + sign) over C channels, the
// `threshold` layer when it is not fused into an MVAU (hdlgen::layers::threshold).
//
// One beat = one pixel: in_data lane c = bits [c*IN_W +: IN_W], signed. Output bit c:
//     out_data[c] = ($signed(x_c) >= $signed(cmp_c)) ^ flip_c
// with cmp_c = T_c, flip_c = 0 for direction ge and cmp_c = T_c + 1, flip_c = 1 for le.
// x_c and cmp_c are compared at max(IN_W, TW) bits after sign extension.
//
// Parameters: one word of C*(TW+1) bits, bits [c*(TW+1) +: TW+1] = {flip_c,
// cmp_c[TW-1:0]}, held in registers (the compare reads them directly). It has the config
// bus of hdlgen_cfgmem (depth 1): initial contents from T_INIT ($readmemh, one W-bit
// word; "" = none), and a write (cfg_we) puts cfg_data into lane cfg_lane (bits
// [32*cfg_lane +: 32], the last lane narrower) of word cfg_word; writes to a word other
// than 0 or to a lane past the last are ignored. hdlgen_cfgmem itself is not used: its
// registered read port would hold a second copy of the word (C*(TW+1) more flip-flops).
// A write takes effect for pixels accepted from the cycle after it on; write only while
// no pixel is in flight.
//
// Timing: one pixel per cycle (in_valid always high, out_ready always high). Latency: the
// result is in the output register the cycle after the pixel is accepted. The output has
// a two-entry queue (output register plus skid register), so in_ready and out_valid come
// from registers only. rst (synchronous, active high) clears the control state only;
// the thresholds survive it.
`default_nettype none
module hdlgen_thresh #(
    parameter integer C = 4,
    parameter integer IN_W = 8,
    parameter integer TW = 8,
    parameter T_INIT = "",
    parameter integer CFG_AW = 1,
    parameter integer CFG_LW = 1
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 in_valid,
    output wire                 in_ready,
    input  wire [C*IN_W-1:0]    in_data,
    output wire                 out_valid,
    input  wire                 out_ready,
    output wire [C-1:0]         out_data,
    input  wire                 cfg_we,
    input  wire [CFG_AW-1:0]    cfg_word,
    input  wire [CFG_LW-1:0]    cfg_lane,
    input  wire [31:0]          cfg_data
);
    localparam integer EW = TW + 1;                     // {flip, cmp} per channel
    localparam integer W = C * EW;                      // memory word
    localparam integer XW = (IN_W > TW) ? IN_W : TW;    // compare width
    localparam integer LANES = (W + 31) / 32;
    localparam integer MLW = (W > 32) ? $clog2(LANES) : 1;   // lane index width
    localparam integer D_I = 1;                         // words

    // ---------------------------------------------------------------- config bus
    // Writes to words >= D_I or lanes >= LANES are ignored (checked where the bus can
    // address them; a narrower bus is zero-extended).
    wire word_ok;
    wire lane_ok;
    generate
        if ((1 << CFG_AW) > D_I) begin : g_word_chk
            wire [CFG_AW:0] lim = D_I[CFG_AW:0];
            assign word_ok = {1'b0, cfg_word} < lim;
        end else begin : g_word_all
            assign word_ok = 1'b1;
        end
        if ((1 << CFG_LW) > LANES) begin : g_lane_chk
            wire [CFG_LW:0] lim = LANES[CFG_LW:0];
            assign lane_ok = {1'b0, cfg_lane} < lim;
        end else begin : g_lane_all
            assign lane_ok = 1'b1;
        end
    endgenerate
    wire [MLW+CFG_LW-1:0] lane_x = {{MLW{1'b0}}, cfg_lane};   // zero-extend or truncate
    wire [MLW-1:0] wlane = lane_x[MLW-1:0];
    wire we = cfg_we && word_ok && lane_ok;

    // ---------------------------------------------------------------- threshold word
    (* ram_style = "logic", nomem2reg *) reg [W-1:0] tmem [0:0];   // flip-flops
    generate
        if (T_INIT != "") begin : g_init
            initial $readmemh(T_INIT, tmem);
        end
    endgenerate
    genvar l;
    generate
        for (l = 0; l < LANES; l = l + 1) begin : g_lane
            localparam integer LO = 32 * l;
            localparam integer N = (W - LO) < 32 ? (W - LO) : 32;
            localparam [MLW-1:0] LANE = l;
            always @(posedge clk)
                if (we && wlane == LANE) tmem[0][LO +: N] <= cfg_data[N-1:0];
        end
    endgenerate
    wire [W-1:0] tq = tmem[0];            // {flip, cmp} of every channel

    // ---------------------------------------------------------------- compare
    wire [XW:0] SIGN_X = {1'b1, {XW{1'b0}}};
    wire [XW-1:0] SIGN = SIGN_X[XW:1];      // sign bit at compare width
    wire [C-1:0] hit;
    genvar c;
    generate
        for (c = 0; c < C; c = c + 1) begin : g_ch
            wire [IN_W-1:0] x = in_data[c*IN_W +: IN_W];
            wire [TW-1:0] t = tq[c*EW +: TW];
            wire flip = tq[c*EW + TW];
            wire [XW+IN_W-1:0] xe = {{XW{x[IN_W-1]}}, x};   // sign-extended, then [XW-1:0]
            wire [XW+TW-1:0] te = {{XW{t[TW-1]}}, t};
            // Signed >= as an unsigned compare with the sign bits inverted.
            assign hit[c] = ((xe[XW-1:0] ^ SIGN) >= (te[XW-1:0] ^ SIGN)) ^ flip;
            wire _unused_ok = &{1'b0, xe[XW+IN_W-1:XW], te[XW+TW-1:XW], 1'b0};
        end
    endgenerate

    // ---------------------------------------------------------------- output queue
    reg ov = 1'b0;                        // output register valid
    reg sv = 1'b0;                        // skid register valid
    reg [C-1:0] od = {C{1'b0}};
    reg [C-1:0] sd = {C{1'b0}};
    assign in_ready = !sv;
    wire fire = in_valid && !sv;
    wire take = !ov || out_ready;         // the output register is free at this edge

    always @(posedge clk) begin
        if (rst) begin
            ov <= 1'b0;
            sv <= 1'b0;
        end else if (take) begin
            ov <= sv || fire;
            sv <= 1'b0;
        end else if (fire) begin
            sv <= 1'b1;
        end
        if (take) od <= sv ? sd : hit;
        else if (fire) sd <= hit;
    end

    assign out_valid = ov;
    assign out_data = od;
    wire _unused_ok = &{1'b0, lane_x, cfg_data, SIGN_X[0], 1'b0};
endmodule
`default_nettype wire
