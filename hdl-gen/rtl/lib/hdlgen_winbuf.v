// hdlgen_winbuf: whole-window generator (line buffer) for convolutions whose MVAU takes a
// whole window per beat (SIMD = K_H*K_W*C, SF = 1).
//
// Input: an IN_H×IN_W×C map, one pixel (C elements of DW bits, element c at bits
// [c*DW +: DW]) per beat in HWC raster order; images may follow each other back to back.
// Output: one beat per output position (oy, ox), in raster order, carrying the whole
// window: element e = (ky*K_W + kx)*C + c at out_data[e*DW +: DW] and mask bit
// out_mask[e], the (kh, kw, Cin) order of hdlgen's weights, from input pixel
// (iy, ix) = (oy*STRIDE + ky - PAD_T, ox*STRIDE + kx - PAD_L). Taps outside the input
// carry PAD_VALUE in every element and PAD_MASK in every mask bit; real taps have mask
// ones. out_last is always 1 (every beat ends a window). This is exactly the beat stream
// of hdlgen_swg with SIMD = K_H*K_W*C. The geometry (OUT_H/OUT_W, pads) comes from
// hdlgen::layers::geom.
//
// Buffering: K_H*K_W copies of one ring of NR (≥ K_H + 1) input rows, NR*IN_W words of
// C*DW bits each (block RAM above 4 words, flip-flops below). Every input pixel is written
// into every copy; copy t = ky*K_W + kx holds absolute pixel p at word
// (p - ky*IN_W - kx) mod NR*IN_W, so reading all copies at one address a yields the
// pixels a + ky*IN_W + kx: a whole window per read, the address being that of its tap
// (0, 0) (padding taps read any word and are replaced). Each copy keeps its own write
// address counter, so no adder sits on a memory address.
// Flow control, in linear pixel indices relative to pixel (0, 0) of the image the reader
// is in: P = pixels written, N = yl*IN_W + xl for the reader's next window, (yl, xl) =
// its bottom-right real tap, (min(oy*STRIDE + K_H-1 - PAD_T, IN_H-1),
// min(ox*STRIDE + K_W-1 - PAD_L, IN_W-1)) (every window has one), the last of its real
// pixels in raster order:
//   * the reader may issue the window once it is written: P > N;
//   * the writer may fill row R only while its slot's previous row (R - NR) is below the
//     reader's current top row ybase = oy*STRIDE - PAD_T: P < (ybase + NR)*IN_W.
// When the reader finishes an image, P drops by IN_H*IN_W.
//
// Timing: as hdlgen_swg, nothing is derived from the counters on the way to a decision.
// The reader keeps three signed differences read by their sign bit alone: P - N - 1
// (window written), P - (ybase + NR)*IN_W (writer may write), and the step N takes at the
// next issue (negated; from constant tables indexed by registers), plus the read address
// that steps by constants. The window's position is kept one window ahead (xb1/yb1 and
// its "last in row/column" flags) so the next step and the next window's padding flags
// are table lookups of registers. in_ready is a flip-flop, and so is the decision to
// issue, computed from the next values of the differences and of en (one carry chain).
// After rst the reader takes one cycle to load its first window (prime).
//
// Pipeline: issue (read address register) → memory read → pixel registers (every memory
// output feeds a flip-flop directly) → output register with a one-beat skid register
// behind it; padding taps are substituted between the pixel and output registers. The
// stages before the output register move while the skid register is empty (en, a
// flip-flop), so out_ready only steers the output and skid registers. A window's beat is
// valid 3 cycles after the cycle it issues.
//
// Throughput: the reader issues at most one window per cycle and the writer takes at most
// one pixel per cycle, independently (the ring decouples them). With the ring hdlgen
// passes (NR = Swg::ring_rows, as for hdlgen_swg) and back-to-back images, an image costs
// exactly max(OUT_H*OUT_W*T, IN_H*IN_W) cycles in steady state when the consumer takes a
// window every T cycles (T = 1: free-flowing output; T = NF: an hdlgen_mvau with SF = 1
// and NF folds). Do not present input beats while rst is high.
`default_nettype none
module hdlgen_winbuf #(
    parameter integer IN_H = 4,
    parameter integer IN_W = 4,
    parameter integer C = 2,
    parameter integer DW = 1,
    parameter integer K_H = 3,
    parameter integer K_W = 3,
    parameter integer STRIDE = 1,
    parameter integer PAD_T = 0,
    parameter integer PAD_L = 0,
    parameter integer OUT_H = 2,
    parameter integer OUT_W = 2,
    // Rows in the ring (at least K_H + 1); hdlgen passes
    // max(K_H + STRIDE, IN_H - max((OUT_H-1)*STRIDE - PAD_T, 0) + min(K_H - PAD_T, IN_H)) + 1.
    parameter integer NR = K_H + 1,
    parameter [DW-1:0] PAD_VALUE = 0,
    parameter integer PAD_MASK = 0,
    // 1: the write count enters the handshake sums after their carry chains (see there).
    parameter integer WR_SPLIT = 0
) (
    input  wire                       clk,
    input  wire                       rst,
    input  wire                       in_valid,
    output wire                       in_ready,
    input  wire [C*DW-1:0]            in_data,
    output wire                       out_valid,
    input  wire                       out_ready,
    output wire [K_H*K_W*C*DW-1:0]    out_data,
    output wire [K_H*K_W*C-1:0]       out_mask,
    output wire                       out_last
);
    localparam integer KK = K_H * K_W;                   // taps per window
    localparam integer PW = C * DW;                      // pixel width
    localparam integer WW = KK * PW;                     // window width
    localparam integer DEPTH = NR * IN_W;                // pixels in the ring
    localparam integer AW = $clog2(DEPTH);               // DEPTH >= 2
    localparam integer IMG_PIX = IN_H * IN_W;
    // Window positions counted from the top-left padding: xb = ox*STRIDE in [0, XLAST],
    // yb = oy*STRIDE in [0, YLAST]; their widths leave room for +STRIDE.
    localparam integer XLAST = (OUT_W - 1) * STRIDE;
    localparam integer YLAST = (OUT_H - 1) * STRIDE;
    localparam integer XW = $clog2(XLAST + STRIDE + 1);
    localparam integer YW = $clog2(YLAST + STRIDE + 1);
    localparam integer XN = 1 << XW;                     // table entries
    localparam integer YN = 1 << YW;
    // Signed width of the differences (as hdlgen_swg: they stay within ±LMAX).
    localparam integer LMAX = (2 * IN_H + YLAST + NR + K_H + PAD_T) * IN_W
                            + XLAST + K_W + PAD_L + 2;
    localparam integer LW = $clog2(LMAX + 1) + 1;

    // The window's bottom-right real tap, from its padded position.
    function integer xl;
        input integer x;
        begin
            xl = (x + K_W - 1 - PAD_L < IN_W - 1) ? x + K_W - 1 - PAD_L : IN_W - 1;
        end
    endfunction
    function integer yl;
        input integer y;
        begin
            yl = (y + K_H - 1 - PAD_T < IN_H - 1) ? y + K_H - 1 - PAD_T : IN_H - 1;
        end
    endfunction
    localparam integer N00 = yl(0) * IN_W + xl(0);                 // N of an image's first window
    localparam integer NLL = yl(YLAST) * IN_W + xl(XLAST);        // and of its last
    // Steps of N, negated: to the next window in the row (by xb), to the next row's first
    // window (by yb, from the row's last window), to the next image's first window (P
    // drops by IMG_PIX there too).
    function [LW*XN-1:0] ndx_tab;
        input integer dummy;
        integer k, v, b;
        begin
            ndx_tab = {(LW * XN){1'b0}};
            for (k = 0; k < XN; k = k + 1) begin
                v = xl(k) - xl(k + STRIDE) + dummy;
                for (b = 0; b < LW; b = b + 1) ndx_tab[k*LW + b] = v[b];
            end
        end
    endfunction
    function [LW*YN-1:0] ndy_tab;
        input integer dummy;
        integer k, v, b;
        begin
            ndy_tab = {(LW * YN){1'b0}};
            for (k = 0; k < YN; k = k + 1) begin
                v = (yl(k) - yl(k + STRIDE)) * IN_W + xl(XLAST) - xl(0) + dummy;
                for (b = 0; b < LW; b = b + 1) ndy_tab[k*LW + b] = v[b];
            end
        end
    endfunction
    localparam [LW*XN-1:0] NDX = ndx_tab(0);
    localparam [LW*YN-1:0] NDY = ndy_tab(0);
    // Padding tables: bit ky*YN + k says whether row k + ky (counted from the padding) is a
    // real row; bit kx*XN + k the same for columns.
    function [K_H*YN-1:0] row_tab;
        input integer dummy;
        integer ky, k;
        begin
            row_tab = {(K_H * YN){1'b0}};
            for (ky = 0; ky < K_H; ky = ky + 1)
                for (k = 0; k < YN; k = k + 1)
                    row_tab[ky*YN + k] = k + ky + dummy >= PAD_T && k + ky < PAD_T + IN_H;
        end
    endfunction
    function [K_W*XN-1:0] col_tab;
        input integer dummy;
        integer kx, k;
        begin
            col_tab = {(K_W * XN){1'b0}};
            for (kx = 0; kx < K_W; kx = kx + 1)
                for (k = 0; k < XN; k = k + 1)
                    col_tab[kx*XN + k] = k + kx + dummy >= PAD_L && k + kx < PAD_L + IN_W;
        end
    endfunction
    localparam [K_H*YN-1:0] ROWT = row_tab(0);
    localparam [K_W*XN-1:0] COLT = col_tab(0);

    // Read-address steps (mod DEPTH) by the same three moves, and those minus DEPTH.
    localparam integer E3 = STRIDE;
    localparam integer E4 = STRIDE * IN_W - XLAST;
    localparam integer E5 = IMG_PIX - YLAST * IN_W - XLAST;
    localparam integer A3 = ((E3 % DEPTH) + DEPTH) % DEPTH;
    localparam integer A4 = ((E4 % DEPTH) + DEPTH) % DEPTH;
    localparam integer A5 = ((E5 % DEPTH) + DEPTH) % DEPTH;
    localparam integer N0 = -PAD_T * IN_W - PAD_L;                // pixel of the first tap (0, 0)
    localparam integer ADDR0 = ((N0 % DEPTH) + DEPTH) % DEPTH;
    localparam integer AM3_I = A3 - DEPTH;
    localparam integer AM4_I = A4 - DEPTH;
    localparam integer AM5_I = A5 - DEPTH;
    localparam integer A_PEN_I = DEPTH - 2;                       // write address before the wrap
    // Writer allowance steps: a new output row frees STRIDE rows; an image wrap the rest.
    localparam integer NG4_I = -STRIDE * IN_W;
    localparam integer NG5_I = -(IN_H - YLAST) * IN_W;
    localparam integer NIMG_I = NLL - N00 - IMG_PIX;              // negated image step of N
    localparam integer D0_I = -N00 - 1;
    localparam integer R0_I = -(NR - PAD_T) * IN_W;
    localparam integer XB_PEN_I = OUT_W >= 2 ? (OUT_W - 2) * STRIDE : 0;
    localparam integer YB_PEN_I = OUT_H >= 2 ? (OUT_H - 2) * STRIDE : 0;
    wire [XW-1:0] S_X = STRIDE[XW-1:0];
    wire [YW-1:0] S_Y = STRIDE[YW-1:0];
    wire [XW-1:0] XB_PEN = XB_PEN_I[XW-1:0];
    wire [YW-1:0] YB_PEN = YB_PEN_I[YW-1:0];
    wire [AW-1:0] A_PEN = A_PEN_I[AW-1:0];
    wire [AW-1:0] ADDR0_A = ADDR0[AW-1:0];
    wire [AW-1:0] A3_A = A3[AW-1:0];
    wire [AW-1:0] A4_A = A4[AW-1:0];
    wire [AW-1:0] A5_A = A5[AW-1:0];
    wire [AW:0] AM3_A = AM3_I[AW:0];
    wire [AW:0] AM4_A = AM4_I[AW:0];
    wire [AW:0] AM5_A = AM5_I[AW:0];
    wire [LW-1:0] NG4 = NG4_I[LW-1:0];
    wire [LW-1:0] NG5 = NG5_I[LW-1:0];
    wire [LW-1:0] NIMG = NIMG_I[LW-1:0];
    wire [LW-1:0] D0 = D0_I[LW-1:0];
    wire [LW-1:0] R0 = R0_I[LW-1:0];
    wire OW1 = OUT_W == 1;
    wire OH1 = OUT_H == 1;

    // ---------------------------------------------------------------- state
    reg [LW-1:0] d_wr = D0_I[LW-1:0];      // P - N - 1: >= 0 once the next window is written
    reg [LW-1:0] d_room = R0_I[LW-1:0];    // P - (ybase + NR)*IN_W: < 0 while the writer may write
    // The next window w: its read address, step, padding and "last" flags.
    reg [AW-1:0] raddr = ADDR0[AW-1:0];
    reg [LW-1:0] nd1 = {LW{1'b0}};         // -(N after w's issue - N of w)
    reg cl_x = 1'b0;                       // w is its row's last window
    reg cl_y = 1'b0;                       // w is in the last row
    reg [K_H-1:0] rowok = {K_H{1'b0}};     // tap row ky of w is real
    reg [K_W-1:0] colok = {K_W{1'b0}};     // tap column kx of w is real
    // The window after w (w1): its padded position and flags.
    reg [XW-1:0] xb1 = {XW{1'b0}};
    reg [YW-1:0] yb1 = {YW{1'b0}};
    reg lx1 = OUT_W == 1;
    reg ly1 = OUT_H == 1;
    reg prime = 1'b1;                      // load w from w1 without issuing (after rst)

    // Pipeline: 1 = memory read, 2 = pixel registers, then the output register o with a
    // skid register k behind it (k holds the beat that arrived while o was stalled).
    reg en = 1'b1;
    reg issue = 1'b0;
    reg s1_valid = 1'b0;
    reg s2_valid = 1'b0;
    reg [KK-1:0] s1_pad = {KK{1'b0}};
    reg [KK-1:0] s2_pad = {KK{1'b0}};
    reg o_valid = 1'b0;
    reg [KK-1:0] o_pad = {KK{1'b0}};
    reg [WW-1:0] o_data = {WW{1'b0}};
    reg k_valid = 1'b0;
    reg [KK-1:0] k_pad = {KK{1'b0}};
    reg [WW-1:0] k_data = {WW{1'b0}};

    // ---------------------------------------------------------------- handshakes
    assign in_ready = d_room[LW-1];
    wire wr = in_valid && d_room[LW-1];
    wire en_d;
    // P grows by wr; on issue N moves by -nd1 and, at a row or image wrap, the writer's
    // allowance grows.
    wire [LW-1:0] o_wr = issue ? nd1 : {LW{1'b0}};
    wire [LW-1:0] o_room = !(issue && cl_x) ? {LW{1'b0}} : cl_y ? NG5 : NG4;
    // WR_SPLIT = 1: both sums are formed without wr (plain, and + 1 as a carry in) and
    // wr picks one, so the upstream valid reaches the issue decision through a LUT, not a
    // carry chain (85F: the previous engine's skid valid through this chain was a
    // critical path); else wr is the carry in (fewer LUTs: iCE40).
    wire [LW-1:0] s_wr, s_room;
    generate
        if (WR_SPLIT == 1) begin : g_split
            // The issue decision's sum starts at flip-flops: the step nd1 is added
            // unconditionally (with and without wr as a carry in), d + wr is formed too,
            // and issue and wr select after the chains.
            wire [LW:0] wr_k1 = {d_wr, 1'b1} + {nd1, 1'b1};
            wire [LW-1:0] wr_k0 = d_wr + nd1;
            wire [LW-1:0] wr_1 = d_wr + 1'b1;
            wire [LW:0] rm1 = {d_room, 1'b1} + {o_room, 1'b1};
            wire _unused_c = &{1'b0, wr_k1[0], rm1[0], o_wr, 1'b0};
            assign s_wr = issue ? (wr ? wr_k1[LW:1] : wr_k0) : (wr ? wr_1 : d_wr);
            assign s_room = wr ? rm1[LW:1] : d_room + o_room;
        end else begin : g_cin
            wire [LW-1:0] wr_l = {{(LW - 1){1'b0}}, wr};
            assign s_wr = d_wr + o_wr + wr_l;
            assign s_room = d_room + o_room + wr_l;
        end
    endgenerate
    wire [LW-1:0] d_wr_d = rst ? D0 : s_wr;
    always @(posedge clk) begin
        d_wr <= d_wr_d;
        d_room <= rst ? R0 : s_room;
        issue <= !rst && en_d && !d_wr_d[LW-1];
    end

    // ---------------------------------------------------------------- reader
    // Read address of w's tap (0, 0): steps by a constant per move, mod DEPTH.
    reg [AW-1:0] a_d;
    reg [AW:0] a_m;
    always @(*) begin
        if (!cl_x) begin
            a_d = A3_A;
            a_m = AM3_A;
        end else if (!cl_y) begin
            a_d = A4_A;
            a_m = AM4_A;
        end else begin
            a_d = A5_A;
            a_m = AM5_A;
        end
    end
    wire [AW-1:0] a_sum = raddr + a_d;
    wire [AW:0] a_dif = {1'b0, raddr} + a_m;
    always @(posedge clk) begin
        if (rst) raddr <= ADDR0_A;
        else if (issue) raddr <= a_dif[AW] ? a_sum : a_dif[AW-1:0];
    end

    // w takes w1 (on issue, or once after rst), and w1 moves on.
    wire adv = prime || issue;
    wire [K_H-1:0] rowok_d;
    wire [K_W-1:0] colok_d;
    genvar i;
    generate
        for (i = 0; i < K_H; i = i + 1) begin : g_row
            localparam [YN-1:0] RT = ROWT[i*YN +: YN];
            assign rowok_d[i] = RT[yb1];
        end
        for (i = 0; i < K_W; i = i + 1) begin : g_col
            localparam [XN-1:0] CT = COLT[i*XN +: XN];
            assign colok_d[i] = CT[xb1];
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            prime <= 1'b1;
            xb1 <= {XW{1'b0}};
            yb1 <= {YW{1'b0}};
            lx1 <= OW1;
            ly1 <= OH1;
        end else begin
            prime <= 1'b0;
            if (adv) begin
                if (!lx1) begin
                    xb1 <= xb1 + S_X;
                    lx1 <= xb1 == XB_PEN;
                end else begin
                    xb1 <= {XW{1'b0}};
                    lx1 <= OW1;
                    if (!ly1) begin
                        yb1 <= yb1 + S_Y;
                        ly1 <= yb1 == YB_PEN;
                    end else begin
                        yb1 <= {YW{1'b0}};
                        ly1 <= OH1;
                    end
                end
            end
        end
        if (!rst && adv) begin
            cl_x <= lx1;
            cl_y <= ly1;
            rowok <= rowok_d;
            colok <= colok_d;
            nd1 <= !lx1 ? NDX[xb1*LW +: LW] : !ly1 ? NDY[yb1*LW +: LW] : NIMG;
        end
    end

    // ---------------------------------------------------------------- ring copies
    wire [KK-1:0] pad_w;                    // tap t of w is padding
    wire [WW-1:0] beat;                     // the pixel registers, padding substituted
    genvar t;
    generate
        for (t = 0; t < KK; t = t + 1) begin : g_tap
            localparam integer OFF = (t / K_W) * IN_W + (t % K_W);
            localparam integer WA0 = ((-OFF % DEPTH) + DEPTH) % DEPTH;
            localparam integer WZ0 = (WA0 == DEPTH - 1) ? 1 : 0;
            assign pad_w[t] = !(rowok[t / K_W] && colok[t % K_W]);
            reg [AW-1:0] wa = WA0[AW-1:0];      // write address of this copy
            reg wz = WZ0 != 0;                  // wa == DEPTH - 1
            always @(posedge clk) begin
                if (rst) begin
                    wa <= WA0[AW-1:0];
                    wz <= WZ0 != 0;
                end else if (wr) begin
                    wa <= wz ? {AW{1'b0}} : wa + 1'b1;
                    wz <= wa == A_PEN;
                end
            end
            // The reader only reads real pixels written in earlier cycles, and the writer
            // fills only released slots; a padding tap may meet a write and reads
            // anything (no_rw_check).
            reg [PW-1:0] q;
            reg [PW-1:0] q2;
            if (DEPTH > 4) begin : g_bram
                (* ram_style = "block", no_rw_check *) reg [PW-1:0] mem [0:DEPTH-1];
                always @(posedge clk) if (wr) mem[wa] <= in_data;
                always @(posedge clk) if (en) q <= mem[raddr];
            end else begin : g_regs
                (* ram_style = "logic" *) reg [PW-1:0] mem [0:DEPTH-1];
                always @(posedge clk) if (wr) mem[wa] <= in_data;
                always @(posedge clk) if (en) q <= mem[raddr];
            end
            always @(posedge clk) if (en) q2 <= q;
            assign beat[t*PW +: PW] = s2_pad[t] ? {C{PAD_VALUE}} : q2;
        end
    endgenerate

    // ---------------------------------------------------------------- output pipeline
    always @(posedge clk) begin
        if (rst) begin
            s1_valid <= 1'b0;
            s2_valid <= 1'b0;
        end else if (en) begin
            s1_valid <= issue;          // issue implies en
            s2_valid <= s1_valid;
        end
        if (en) begin
            s1_pad <= pad_w;
            s2_pad <= s1_pad;
        end
    end
    // The last stage's beat goes to o when o is free, else to k (empty whenever en); k
    // drains first. en (= !k_valid) is a flip-flop of its own.
    wire o_free = !o_valid || out_ready;
    assign en_d = rst || (k_valid ? o_free : !(s2_valid && !o_free));
    always @(posedge clk) begin
        if (rst) begin
            o_valid <= 1'b0;
            k_valid <= 1'b0;
        end else begin
            if (o_free) o_valid <= k_valid || s2_valid;
            k_valid <= k_valid ? !o_free : s2_valid && !o_free;
        end
        en <= en_d;
        if (o_free) begin
            o_data <= k_valid ? k_data : beat;
            o_pad <= k_valid ? k_pad : s2_pad;
        end
        if (en) begin
            k_data <= beat;
            k_pad <= s2_pad;
        end
    end

    assign out_valid = o_valid;
    assign out_data = o_data;
    generate
        for (t = 0; t < KK; t = t + 1) begin : g_mask
            assign out_mask[t*C +: C] = (o_pad[t] && PAD_MASK == 0) ? {C{1'b0}} : {C{1'b1}};
        end
    endgenerate
    assign out_last = 1'b1;
endmodule
`default_nettype wire
