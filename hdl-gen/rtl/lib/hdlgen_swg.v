// hdlgen_swg: sliding-window generator (line buffer) for convolution and pooling.
//
// Input: an IN_H×IN_W×C map, one pixel (C elements of DW bits, element c at bits
// [c*DW +: DW]) per beat in HWC raster order; images may follow each other back to back.
// Output: for each output position (oy, ox) in raster order, for ky < K_H, kx < K_W, for
// chunk < C/SIMD, one beat carrying elements chunk*SIMD .. +SIMD-1 of input pixel
// (iy, ix) = (oy*STRIDE + ky - PAD_T, ox*STRIDE + kx - PAD_L), i.e. the (kh, kw, Cin)
// order of hdlgen's weights. Taps outside the input carry PAD_VALUE in every element and
// PAD_MASK in every mask bit; real taps have mask all ones. out_last marks the last beat
// of a window. The geometry (OUT_H/OUT_W, pads) comes from hdlgen::layers::geom.
//
// Buffering: a ring of NR (≥ K_H + 1) input rows in one block RAM of NR*IN_W words of C*DW
// bits (one pixel per word). The writer fills it in raster order (a wrapping address, so
// absolute pixel p lives at word p mod NR*IN_W, across images); the reader walks the window
// counters and reads one pixel per beat, then selects the SIMD-element chunk.
// Flow control, in linear pixel indices relative to pixel (0, 0) of the image the reader
// is in: P = pixels written (the writer's row R times IN_W plus its column),
// N = iy*IN_W + ix for the reader's next tap:
//   * the reader may issue pixel (iy, ix) once it is written: P > N (padding taps only
//     need the image to have begun: P > 0);
//   * the writer may fill row R only while its slot's previous row (R - NR) is below the
//     reader's current top row ybase = oy*STRIDE - PAD_T: P < (ybase + NR)*IN_W. The rows
//     of the reader's current window (< ybase + K_H) are always writable, so neither side
//     can wait for the other forever.
// When the reader finishes an image, P drops by IN_H*IN_W (the writer may be anywhere:
// behind in the same image's unread bottom rows, or already in the next images).
//
// Timing: nothing is derived from the counters on the way to a decision. The reader keeps
// its next tap as registers that step by constants (FINN-style) when it issues, the
// constant picked by the step code tc = the innermost counter that advances (chunk, kx,
// ky, ox, oy, next image), itself kept per counter level so its next value is one LUT:
// the counters and "next is last" flags, the tap's padded-grid row/column (in-bounds by
// table lookup), its ring address, and the three differences the handshakes read by sign
// bit alone: P - N - 1 (tap written), P - 1 (image begun), P - (ybase + NR)*IN_W (writer
// may write). So in_ready is a flip-flop, and so is the decision to issue: computed
// from the next values of those registers (one carry chain and a LUT or two), so the
// enables of the counter groups are one LUT of flip-flops and what an issue steers is
// at most a LUT and a carry chain further.
//
// Pipeline: issue (BRAM address register) → BRAM read → pixel register (the BRAM output
// feeds a flip-flop directly) → [C > SIMD: chunk shift register] → output register with a
// one-beat skid register behind it. The stages before the output register move while the
// skid register is empty, so out_ready only steers the output and skid registers; one beat
// leaves per cycle while out_ready is high and the pixels are there, 3 cycles (4 with
// C > SIMD) after it issues. in_ready and out_valid are flip-flops. Do not present input
// beats while rst is high.
`default_nettype none
module hdlgen_swg #(
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
    parameter integer SIMD = 2,
    // Rows in the ring (at least K_H + 1). More rows let the writer run ahead into the
    // next image while the reader finishes this one; hdlgen passes
    // max(K_H + STRIDE, IN_H - max((OUT_H-1)*STRIDE - PAD_T, 0) + min(K_H - PAD_T, IN_H)) + 1,
    // with which the window stream never waits for the writer in steady state.
    parameter integer NR = K_H + 1,
    parameter [DW-1:0] PAD_VALUE = 0,
    parameter integer PAD_MASK = 0,
    // 1: the write count enters the handshake sums after their carry chains (see there).
    parameter integer WR_SPLIT = 0
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 in_valid,
    output wire                 in_ready,
    input  wire [C*DW-1:0]      in_data,
    output wire                 out_valid,
    input  wire                 out_ready,
    output wire [SIMD*DW-1:0]   out_data,
    output wire [SIMD-1:0]      out_mask,
    output wire                 out_last
);
    localparam integer DEPTH = NR * IN_W;                // pixels in the ring
    localparam integer AW = $clog2(DEPTH);               // DEPTH >= 2
    localparam integer CF = C / SIMD;                    // chunks per pixel
    localparam integer HW = CF > 1 ? $clog2(CF) : 1;     // chunk counter width
    localparam integer KYW = K_H > 1 ? $clog2(K_H) : 1;  // ky counter width
    localparam integer KXW = K_W > 1 ? $clog2(K_W) : 1;  // kx counter width
    localparam integer PW = C * DW;                      // pixel width
    localparam integer BW = SIMD * DW;                   // beat width
    // Tap rows and columns counted from the top-left padding: yi = iy + PAD_T in
    // [0, YMAX], xi = ix + PAD_L in [0, XMAX]; their widths leave room for +STRIDE.
    localparam integer YMAX = (OUT_H - 1) * STRIDE + K_H - 1;
    localparam integer XMAX = (OUT_W - 1) * STRIDE + K_W - 1;
    localparam integer YW = $clog2(YMAX + STRIDE + 2);
    localparam integer XW = $clog2(XMAX + STRIDE + 2);
    // Signed width of the linear differences below: P lies in [-IN_H*IN_W, (YLAST + NR)*IN_W]
    // and N in [N0, (YLAST + K_H - 1)*IN_W + XLAST + K_W - 1], so they stay within ±LMAX.
    localparam integer LMAX = (2 * IN_H + (OUT_H - 1) * STRIDE + NR + K_H + PAD_T) * IN_W
                            + (OUT_W - 1) * STRIDE + K_W + PAD_L + 2;
    localparam integer LW = $clog2(LMAX + 1) + 1;
    localparam integer IMG_PIX = IN_H * IN_W;

    // Steps of N after a tap, by the innermost counter that does not wrap (tc below):
    // 1 kx, 2 ky, 3 ox, 4 oy, 5 next image (there N restarts and the ring moves IMG_PIX on,
    // so E5 is the step of the absolute pixel index; N and P both drop by IMG_PIX - E5).
    localparam integer E1 = 1;
    localparam integer E2 = IN_W - (K_W - 1);
    localparam integer E3 = STRIDE - (K_H - 1) * IN_W - (K_W - 1);
    localparam integer E4 = (STRIDE - (K_H - 1)) * IN_W - (K_W - 1) - (OUT_W - 1) * STRIDE;
    localparam integer E5 = IMG_PIX - ((OUT_H - 1) * STRIDE + K_H - 1) * IN_W
                          - ((OUT_W - 1) * STRIDE + K_W - 1);
    // The same steps as ring address increments (mod DEPTH), and those minus DEPTH.
    localparam integer A1 = ((E1 % DEPTH) + DEPTH) % DEPTH;
    localparam integer A2 = ((E2 % DEPTH) + DEPTH) % DEPTH;
    localparam integer A3 = ((E3 % DEPTH) + DEPTH) % DEPTH;
    localparam integer A4 = ((E4 % DEPTH) + DEPTH) % DEPTH;
    localparam integer A5 = ((E5 % DEPTH) + DEPTH) % DEPTH;
    localparam integer N0 = -PAD_T * IN_W - PAD_L;                // N of an image's first tap
    localparam integer ADDR0 = ((N0 % DEPTH) + DEPTH) % DEPTH;
    // Writer allowance steps: a new output row frees STRIDE rows; an image wrap frees the
    // rest of the image (ybase: YLAST → -PAD_T while P drops by IMG_PIX).
    localparam integer G4 = STRIDE * IN_W;
    localparam integer G5 = (IN_H - (OUT_H - 1) * STRIDE) * IN_W;
    // Counter levels 0 chunk, 1 kx, 2 ky, 3 ox, 4 oy; a level of extent 1 never steps.
    localparam [4:0] TRIV = {OUT_H == 1, OUT_W == 1, K_H == 1, K_W == 1, CF == 1};

    // In-range tables: bit k says whether tap row (column) k + off, counted from the
    // padding, is a real row (column) of the input. Indexed by registers, they map to LUTs.
    function [2**YW-1:0] row_tab;
        input integer off;
        integer k;
        begin
            for (k = 0; k < 2**YW; k = k + 1)
                row_tab[k] = k + off >= PAD_T && k + off < PAD_T + IN_H;
        end
    endfunction
    function [2**XW-1:0] col_tab;
        input integer off;
        integer k;
        begin
            for (k = 0; k < 2**XW; k = k + 1)
                col_tab[k] = k + off >= PAD_L && k + off < PAD_L + IN_W;
        end
    endfunction
    localparam [2**YW-1:0] ROW_T0 = row_tab(0);
    localparam [2**YW-1:0] ROW_T1 = row_tab(1);
    localparam [2**YW-1:0] ROW_TS = row_tab(STRIDE);
    localparam [2**XW-1:0] COL_T0 = col_tab(0);
    localparam [2**XW-1:0] COL_T1 = col_tab(1);
    localparam [2**XW-1:0] COL_TS = col_tab(STRIDE);
    // The same one step further (the lookups are registered: see n_row).
    localparam [2**YW-1:0] ROW_T2 = row_tab(2);
    localparam [2**YW-1:0] ROW_TS1 = row_tab(STRIDE + 1);
    localparam [2**YW-1:0] ROW_T2S = row_tab(2 * STRIDE);
    localparam [2**XW-1:0] COL_T2 = col_tab(2);
    localparam [2**XW-1:0] COL_TS1 = col_tab(STRIDE + 1);
    localparam [2**XW-1:0] COL_T2S = col_tab(2 * STRIDE);

    // Sized constants (part-selects of integers, so every operation is width-exact).
    localparam integer KY_PEN2_I = K_H - 3;
    localparam integer KX_PEN2_I = K_W - 3;
    localparam integer CH_PEN2_I = CF - 3;
    localparam integer YB_PEN2_I = (OUT_H - 3) * STRIDE;
    localparam integer XB_PEN2_I = (OUT_W - 3) * STRIDE;
    localparam integer A_PEN_I = DEPTH - 2;                       // waddr before the wrap
    localparam integer D0_I = -N0 - 1;
    localparam integer R0_I = -(NR - PAD_T) * IN_W;
    localparam integer NE1_I = -E1;
    localparam integer NE2_I = -E2;
    localparam integer NE3_I = -E3;
    localparam integer NE4_I = -E4;
    localparam integer NE5_I = -E5;
    localparam integer NG4_I = -G4;
    localparam integer NG5_I = -G5;
    localparam integer NIMG_I = -IMG_PIX;
    localparam integer AM1_I = A1 - DEPTH;
    localparam integer AM2_I = A2 - DEPTH;
    localparam integer AM3_I = A3 - DEPTH;
    localparam integer AM4_I = A4 - DEPTH;
    localparam integer AM5_I = A5 - DEPTH;
    wire [YW-1:0] S_Y = STRIDE[YW-1:0];
    wire [XW-1:0] S_X = STRIDE[XW-1:0];
    wire [YW-1:0] YB_PEN2 = YB_PEN2_I[YW-1:0];
    wire [XW-1:0] XB_PEN2 = XB_PEN2_I[XW-1:0];
    wire [KYW-1:0] KY_PEN2 = KY_PEN2_I[KYW-1:0];
    wire [KXW-1:0] KX_PEN2 = KX_PEN2_I[KXW-1:0];
    wire [HW-1:0] CH_PEN2 = CH_PEN2_I[HW-1:0];
    wire [AW-1:0] A_PEN = A_PEN_I[AW-1:0];
    wire [AW-1:0] ADDR0_A = ADDR0[AW-1:0];
    wire [AW-1:0] A1_A = A1[AW-1:0];
    wire [AW-1:0] A2_A = A2[AW-1:0];
    wire [AW-1:0] A3_A = A3[AW-1:0];
    wire [AW-1:0] A4_A = A4[AW-1:0];
    wire [AW-1:0] A5_A = A5[AW-1:0];
    wire [AW:0] AM1_A = AM1_I[AW:0];
    wire [AW:0] AM2_A = AM2_I[AW:0];
    wire [AW:0] AM3_A = AM3_I[AW:0];
    wire [AW:0] AM4_A = AM4_I[AW:0];
    wire [AW:0] AM5_A = AM5_I[AW:0];
    wire [LW-1:0] D0 = D0_I[LW-1:0];
    wire [LW-1:0] R0 = R0_I[LW-1:0];
    wire [LW-1:0] NE1 = NE1_I[LW-1:0];
    wire [LW-1:0] NE2 = NE2_I[LW-1:0];
    wire [LW-1:0] NE3 = NE3_I[LW-1:0];
    wire [LW-1:0] NE4 = NE4_I[LW-1:0];
    wire [LW-1:0] NE5 = NE5_I[LW-1:0];
    wire [LW-1:0] NG4 = NG4_I[LW-1:0];
    wire [LW-1:0] NG5 = NG5_I[LW-1:0];
    wire [LW-1:0] NIMG = NIMG_I[LW-1:0];
    // Flags of an image's first tap and of the taps after it (constants).
    wire CH_TWO = CF == 2;
    wire KX_TWO = K_W == 2;
    wire KY_TWO = K_H == 2;
    wire OX_TWO = OUT_W == 2;
    wire OY_TWO = OUT_H == 2;
    wire ROW0 = ROW_T0[0];
    wire COL0 = COL_T0[0];

    // ---------------------------------------------------------------- line buffer
    // The reader only reads pixels written in earlier cycles and the writer only fills
    // released slots, so a read never meets a write to its address (no_rw_check).
    (* ram_style = "block", no_rw_check *) reg [PW-1:0] mem [0:DEPTH-1];

    // ---------------------------------------------------------------- state
    // Handshake differences (two's complement, LW bits; each read by its sign alone).
    reg [LW-1:0] d_wr = D0_I[LW-1:0];      // P - N - 1: >= 0 once the next tap is written
    reg [LW-1:0] d_go = {LW{1'b1}};        // P - 1: >= 0 once the image has begun
    reg [LW-1:0] d_room = R0_I[LW-1:0];    // P - (ybase + NR)*IN_W: < 0 while the writer may write
    reg [AW-1:0] waddr = {AW{1'b0}};
    reg w_wrap = 1'b0;                     // waddr == DEPTH - 1

    // Reader: the next tap and its flags.
    reg [YW-1:0] yb = {YW{1'b0}};           // oy*STRIDE: the window's top row yi
    reg [XW-1:0] xb = {XW{1'b0}};           // ox*STRIDE
    reg [YW-1:0] yi = {YW{1'b0}};           // yb + ky
    reg [XW-1:0] xi = {XW{1'b0}};           // xb + kx
    reg [KYW-1:0] ky = {KYW{1'b0}};
    reg [KXW-1:0] kx = {KXW{1'b0}};
    reg [HW-1:0] ch = {HW{1'b0}};
    // Step code tc: the innermost level that advances after this tap (0 chunk, 1 kx, 2 ky,
    // 3 ox, 4 oy; 5: all wrap, next image), binary (picks step constants) and as a
    // thermometer g (g[k]: tc > k; picks which registers move, see ce). Both are level 0's
    // entry of the per-level codes below.
    wire [2:0] tc;
    wire [4:0] g;
    // p_*: the counter's next value is its last (ch == CF - 2, …, oy == OUT_H - 2).
    reg p_ch = CF == 2;
    reg p_kx = K_W == 2;
    reg p_ky = K_H == 2;
    reg p_ox = OUT_W == 2;
    reg p_oy = OUT_H == 2;
    reg row_in = PAD_T == 0;                // row yi is a real row
    reg inb = PAD_T == 0 && PAD_L == 0;     // the tap is a real pixel
    reg [AW-1:0] raddr = ADDR0[AW-1:0];     // the tap's absolute pixel index mod DEPTH

    // Pipeline: 1 = BRAM read, 2 = pixel register, then the output register o with a skid
    // register k behind it (k holds the beat that arrived while o was stalled).
    reg s1_valid = 1'b0;
    reg s2_valid = 1'b0;
    reg s1_pad = 1'b0;
    reg s2_pad = 1'b0;
    reg s1_last = 1'b0;
    reg s2_last = 1'b0;
    reg [PW-1:0] q = {PW{1'b0}};
    reg [PW-1:0] q2 = {PW{1'b0}};
    reg o_valid = 1'b0;
    reg o_pad = 1'b0;
    reg o_last = 1'b0;
    reg [BW-1:0] o_data = {BW{1'b0}};
    reg k_valid = 1'b0;
    reg k_pad = 1'b0;
    reg k_last = 1'b0;
    reg [BW-1:0] k_data = {BW{1'b0}};

    // ---------------------------------------------------------------- handshakes
    // The pipeline (issue, s1, s2) moves while the skid register is empty; out_ready only
    // steers o and k. en (= !k_valid) is a flip-flop of its own: an enable of true
    // polarity, which the flow can fold into an ECP5 block RAM's output register together
    // with q2. issue (= en && the next tap is there: inb ? P > N : P > 0) is a flip-flop
    // too, set from the next values of en, inb, d_wr and d_go (issue_d below).
    reg en = 1'b1;
    wire en_d;
    reg issue = 1'b0;
    wire [4:0] ce = {5{rst}} | ({5{issue}} & {g[3:0], 1'b1});   // register group k's enable
    assign in_ready = d_room[LW-1];
    wire wr = in_valid && d_room[LW-1];
    always @(posedge clk) if (wr) mem[waddr] <= in_data;

    // P grows by wr; on issue N moves by E(tc), and at an image wrap P drops by IMG_PIX
    // and ybase + NR by (OUT_H - 1)*STRIDE rows.
    reg [LW-1:0] o_wr;
    reg [LW-1:0] o_go;
    reg [LW-1:0] o_room;
    always @(*) begin
        o_wr = {LW{1'b0}};
        o_go = {LW{1'b0}};
        o_room = {LW{1'b0}};
        if (issue) begin
            case (tc)
                3'd1: o_wr = NE1;
                3'd2: o_wr = NE2;
                3'd3: o_wr = NE3;
                3'd4: begin o_wr = NE4; o_room = NG4; end
                3'd5: begin o_wr = NE5; o_room = NG5; o_go = NIMG; end
                default: ;
            endcase
        end
    end
    // WR_SPLIT = 1 (ECP5 at 150 MHz): the sums the issue decision reads start at
    // flip-flops and everything else picks among them after the carry chains: the steps
    // of N and P (k_wr, k_go: the constants of the next tap's step code, registered from
    // its next value tc_n) are added unconditionally, with and without wr as a carry in,
    // and d + wr is formed too; issue and wr then select. (The step code through its
    // constant table into the chain was an 85F critical path.) The writer's room sum
    // steers only in_ready: wr picks its sum. Else wr is the carry in (fewer LUTs: iCE40).
    wire [LW-1:0] s_wr, s_go, s_room;
    wire [2:0] tc_n;
    generate
        if (WR_SPLIT == 1) begin : g_split
            reg [LW-1:0] k_wr = {LW{1'b0}};
            reg [LW-1:0] k_go = {LW{1'b0}};
            always @(posedge clk) begin
                case (tc_n)
                    3'd1: k_wr <= NE1;
                    3'd2: k_wr <= NE2;
                    3'd3: k_wr <= NE3;
                    3'd4: k_wr <= NE4;
                    3'd5: k_wr <= NE5;
                    default: k_wr <= {LW{1'b0}};
                endcase
                k_go <= (tc_n == 3'd5) ? NIMG : {LW{1'b0}};
            end
            wire [LW:0] wr_k1 = {d_wr, 1'b1} + {k_wr, 1'b1};
            wire [LW:0] go_k1 = {d_go, 1'b1} + {k_go, 1'b1};
            wire [LW-1:0] wr_k0 = d_wr + k_wr;
            wire [LW-1:0] go_k0 = d_go + k_go;
            wire [LW-1:0] wr_1 = d_wr + 1'b1;
            wire [LW-1:0] go_1 = d_go + 1'b1;
            wire [LW:0] rm1 = {d_room, 1'b1} + {o_room, 1'b1};
            wire _unused_c = &{1'b0, wr_k1[0], go_k1[0], rm1[0], o_wr, o_go, 1'b0};
            assign s_wr = issue ? (wr ? wr_k1[LW:1] : wr_k0) : (wr ? wr_1 : d_wr);
            assign s_go = issue ? (wr ? go_k1[LW:1] : go_k0) : (wr ? go_1 : d_go);
            assign s_room = wr ? rm1[LW:1] : d_room + o_room;
        end else begin : g_cin
            wire [LW-1:0] wr_l = {{(LW - 1){1'b0}}, wr};
            assign s_wr = d_wr + o_wr + wr_l;
            assign s_go = d_go + o_go + wr_l;
            assign s_room = d_room + o_room + wr_l;
            wire _unused_tn = &{1'b0, tc_n, 1'b0};
        end
    endgenerate
    wire [LW-1:0] d_wr_d = rst ? D0 : s_wr;
    wire [LW-1:0] d_go_d = rst ? {LW{1'b1}} : s_go;

    always @(posedge clk) begin
        d_wr <= d_wr_d;
        d_go <= d_go_d;
        if (rst) begin
            d_room <= R0;
            waddr <= {AW{1'b0}};
            w_wrap <= 1'b0;
        end else begin
            d_room <= s_room;
            if (wr) begin
                waddr <= w_wrap ? {AW{1'b0}} : waddr + 1'b1;
                w_wrap <= waddr == A_PEN;
            end
        end
    end

    // ---------------------------------------------------------------- step codes
    // Level j keeps sb<j> / st<j>: the step code the tap would have if levels below j were
    // at their last values (binary / thermometer). Level j moves when the step is >= j:
    // above it (step > j) it restarts, not at its last value, so its code becomes j; at
    // it (step == j) it becomes the code above it if its counter reaches its last value
    // (p_*), else j. Levels above are unchanged, so every code is one LUT of registers;
    // a level of extent 1 is always last and passes the code above it through (e_*).
    reg [2:0] sb0 = 3'd0;
    reg [2:0] sb1 = 3'd1;
    reg [2:0] sb2 = 3'd2;
    reg [2:0] sb3 = 3'd3;
    reg [2:0] sb4 = 3'd4;
    reg [4:0] st0 = 5'b00000;
    reg [4:0] st1 = 5'b00001;
    reg [4:0] st2 = 5'b00011;
    reg [4:0] st3 = 5'b00111;
    reg [4:0] st4 = 5'b01111;
    wire [2:0] e_b4 = TRIV[4] ? 3'd5 : sb4;
    wire [2:0] e_b3 = TRIV[3] ? e_b4 : sb3;
    wire [2:0] e_b2 = TRIV[2] ? e_b3 : sb2;
    wire [2:0] e_b1 = TRIV[1] ? e_b2 : sb1;
    wire [2:0] e_b0 = TRIV[0] ? e_b1 : sb0;
    wire [4:0] e_t4 = TRIV[4] ? 5'b11111 : st4;
    wire [4:0] e_t3 = TRIV[3] ? e_t4 : st3;
    wire [4:0] e_t2 = TRIV[2] ? e_t3 : st2;
    wire [4:0] e_t1 = TRIV[1] ? e_t2 : st1;
    wire [4:0] e_t0 = TRIV[0] ? e_t1 : st0;
    always @(posedge clk) begin
        if (ce[0]) {sb0, st0} <= rst || g[0] || !p_ch ? {3'd0, 5'b00000} : {e_b1, e_t1};
        if (ce[1]) {sb1, st1} <= rst || g[1] || !p_kx ? {3'd1, 5'b00001} : {e_b2, e_t2};
        if (ce[2]) {sb2, st2} <= rst || g[2] || !p_ky ? {3'd2, 5'b00011} : {e_b3, e_t3};
        if (ce[3]) {sb3, st3} <= rst || g[3] || !p_ox ? {3'd3, 5'b00111} : {e_b4, e_t4};
        if (ce[4]) {sb4, st4} <= rst || g[4] || !p_oy ? {3'd4, 5'b01111} : {3'd5, 5'b11111};
    end
    assign tc = e_b0;
    assign g = e_t0;
    // tc's next value (the same selection over the registers' next values), for the
    // registered step constants of WR_SPLIT.
    wire [2:0] sb0_n = !ce[0] ? sb0 : rst || g[0] || !p_ch ? 3'd0 : e_b1;
    wire [2:0] sb1_n = !ce[1] ? sb1 : rst || g[1] || !p_kx ? 3'd1 : e_b2;
    wire [2:0] sb2_n = !ce[2] ? sb2 : rst || g[2] || !p_ky ? 3'd2 : e_b3;
    wire [2:0] sb3_n = !ce[3] ? sb3 : rst || g[3] || !p_ox ? 3'd3 : e_b4;
    wire [2:0] sb4_n = !ce[4] ? sb4 : rst || g[4] || !p_oy ? 3'd4 : 3'd5;
    wire [2:0] n_b4 = TRIV[4] ? 3'd5 : sb4_n;
    wire [2:0] n_b3 = TRIV[3] ? n_b4 : sb3_n;
    wire [2:0] n_b2 = TRIV[2] ? n_b3 : sb2_n;
    wire [2:0] n_b1 = TRIV[1] ? n_b2 : sb1_n;
    assign tc_n = TRIV[0] ? n_b1 : sb0_n;

    // Whether the next tap's row (column) is real; n_col only for steps that move xi.
    // The table lookups are flip-flops (r_t1 = ROW_T1[yi], r_b0 = ROW_T0[yb], r_bs =
    // ROW_TS[yb], c_* likewise), set with their counters from the counters' current
    // values through the tables one step further: a lookup on the counters was two LUT
    // levels in front of inb_d and the issue decision (an 85F critical path, 137.1 MHz).
    reg r_t1 = ROW_T1[0];
    reg r_b0 = ROW_T0[0];
    reg r_bs = ROW_TS[0];
    reg c_t1 = COL_T1[0];
    reg c_b0 = COL_T0[0];
    reg c_bs = COL_TS[0];
    wire n_row = !g[1] ? row_in : !g[2] ? r_t1 : !g[3] ? r_b0 : !g[4] ? r_bs : ROW0;
    wire n_col = !g[1] ? c_t1 : !g[2] ? c_b0 : !g[3] ? c_bs : COL0;

    // Ring address step: a + d mod DEPTH as a + d or a + d - DEPTH, whichever is in range.
    reg [AW-1:0] a_d;
    reg [AW:0] a_m;
    always @(*) begin
        case (tc)
            3'd1: begin a_d = A1_A; a_m = AM1_A; end
            3'd2: begin a_d = A2_A; a_m = AM2_A; end
            3'd3: begin a_d = A3_A; a_m = AM3_A; end
            3'd4: begin a_d = A4_A; a_m = AM4_A; end
            3'd5: begin a_d = A5_A; a_m = AM5_A; end
            default: begin a_d = {AW{1'b0}}; a_m = {(AW + 1){1'b0}}; end
        endcase
    end
    wire [AW-1:0] a_sum = raddr + a_d;
    wire [AW:0] a_dif = {1'b0, raddr} + a_m;

    // Group 0 moves on every issue: chunk and address.
    always @(posedge clk) if (ce[0]) begin
        if (rst) begin
            ch <= {HW{1'b0}};
            p_ch <= CH_TWO;
            raddr <= ADDR0_A;
        end else begin
            ch <= g[0] ? {HW{1'b0}} : ch + 1'b1;
            p_ch <= g[0] ? CH_TWO : ch == CH_PEN2;
            raddr <= a_dif[AW] ? a_sum : a_dif[AW-1:0];
        end
    end
    // Group 1 when kx moves (tc >= 1): kx, the tap column, and so whether the tap is real.
    // inb's next value without rst (= ce[1] without rst; rst sets inb through its
    // flip-flop's reset: the engine's reset, fanned out wide, was the late input of this
    // LUT tree, 130.3 MHz). The issue decision under rst does not depend on it.
    (* keep *) wire inb_d = !(issue && g[0]) ? inb : (n_row && n_col);
    always @(posedge clk) if (ce[1]) begin
        if (rst) begin
            kx <= {KXW{1'b0}};
            p_kx <= KX_TWO;
            xi <= {XW{1'b0}};
            c_t1 <= COL_T1[0];
        end else begin
            kx <= g[1] ? {KXW{1'b0}} : kx + 1'b1;
            p_kx <= g[1] ? KX_TWO : kx == KX_PEN2;
            xi <= !g[1] ? xi + 1'b1 : !g[2] ? xb : !g[3] ? xb + S_X : {XW{1'b0}};
            c_t1 <= !g[1] ? COL_T2[xi] : !g[2] ? COL_T1[xb] : !g[3] ? COL_TS1[xb] : COL_T1[0];
        end
    end
    // Group 2 when ky moves (tc >= 2): ky and the tap row.
    always @(posedge clk) if (ce[2]) begin
        if (rst) begin
            ky <= {KYW{1'b0}};
            p_ky <= KY_TWO;
            yi <= {YW{1'b0}};
            r_t1 <= ROW_T1[0];
            row_in <= ROW0;
        end else begin
            ky <= g[2] ? {KYW{1'b0}} : ky + 1'b1;
            p_ky <= g[2] ? KY_TWO : ky == KY_PEN2;
            yi <= !g[2] ? yi + 1'b1 : !g[3] ? yb : !g[4] ? yb + S_Y : {YW{1'b0}};
            r_t1 <= !g[2] ? ROW_T2[yi] : !g[3] ? ROW_T1[yb] : !g[4] ? ROW_TS1[yb] : ROW_T1[0];
            row_in <= n_row;
        end
    end
    // Group 3 when ox moves (tc >= 3).
    always @(posedge clk) if (ce[3]) begin
        if (rst) begin
            xb <= {XW{1'b0}};
            p_ox <= OX_TWO;
            c_b0 <= COL_T0[0];
            c_bs <= COL_TS[0];
        end else begin
            xb <= g[3] ? {XW{1'b0}} : xb + S_X;
            p_ox <= g[3] ? OX_TWO : xb == XB_PEN2;
            c_b0 <= g[3] ? COL_T0[0] : COL_TS[xb];
            c_bs <= g[3] ? COL_TS[0] : COL_T2S[xb];
        end
    end
    // Group 4 when oy moves (tc >= 4).
    always @(posedge clk) if (ce[4]) begin
        if (rst) begin
            yb <= {YW{1'b0}};
            p_oy <= OY_TWO;
            r_b0 <= ROW_T0[0];
            r_bs <= ROW_TS[0];
        end else begin
            yb <= g[4] ? {YW{1'b0}} : yb + S_Y;
            p_oy <= g[4] ? OY_TWO : yb == YB_PEN2;
            r_b0 <= g[4] ? ROW_T0[0] : ROW_TS[yb];
            r_bs <= g[4] ? ROW_TS[0] : ROW_T2S[yb];
        end
    end

    // ---------------------------------------------------------------- output pipeline
    always @(posedge clk) if (en) q <= mem[raddr];
    always @(posedge clk) if (en) q2 <= q;
    always @(posedge clk) begin
        if (rst) begin
            s1_valid <= 1'b0;
            s2_valid <= 1'b0;
        end else if (en) begin
            s1_valid <= issue;          // = the tap is there, while en
            s2_valid <= s1_valid;
        end
        if (en) begin
            s1_pad <= !inb;
            s1_last <= g[2];
            s2_pad <= s1_pad;
            s2_last <= s1_last;
        end
    end

    // The last pipeline stage's beat (t_*). With several chunks per pixel a shift register
    // (stage 3) hands them out: loaded with the pixel on a tap's first chunk, shifted by
    // one chunk on the others (a tap's chunks issue back to back), so no wide mux follows
    // a register.
    wire t_valid;
    wire t_pad;
    wire t_last;
    wire [BW-1:0] t_chunk;
    generate
        if (CF == 1) begin : g_one
            assign t_valid = s2_valid;
            assign t_pad = s2_pad;
            assign t_last = s2_last;
            assign t_chunk = q2;
        end else begin : g_shift
            reg s1_first = 1'b0;
            reg s2_first = 1'b0;
            reg s3_valid = 1'b0;
            reg s3_pad = 1'b0;
            reg s3_last = 1'b0;
            reg [PW-1:0] sh = {PW{1'b0}};
            always @(posedge clk) begin
                if (rst) s3_valid <= 1'b0;
                else if (en) s3_valid <= s2_valid;
                if (en) begin
                    s1_first <= ch == {HW{1'b0}};
                    s2_first <= s1_first;
                    s3_pad <= s2_pad;
                    s3_last <= s2_last;
                end
                if (en && s2_valid) sh <= s2_first ? q2 : {{BW{1'b0}}, sh[PW-1:BW]};
            end
            assign t_valid = s3_valid;
            assign t_pad = s3_pad;
            assign t_last = s3_last;
            assign t_chunk = sh[BW-1:0];
        end
    endgenerate
    wire [BW-1:0] beat = t_pad ? {SIMD{PAD_VALUE}} : t_chunk;

    // The last stage's beat goes to o when o is free, else to k (empty whenever en); k
    // drains first.
    wire o_free = !o_valid || out_ready;
    assign en_d = rst || (k_valid ? o_free : !(t_valid && !o_free));   // !k_valid next
    always @(posedge clk) begin
        if (rst) begin
            o_valid <= 1'b0;
            k_valid <= 1'b0;
        end else begin
            if (o_free) o_valid <= k_valid || t_valid;
            k_valid <= k_valid ? !o_free : t_valid && !o_free;
        end
        en <= en_d;
        if (o_free) begin
            o_data <= k_valid ? k_data : beat;
            o_pad <= k_valid ? k_pad : t_pad;
            o_last <= k_valid ? k_last : t_last;
        end
        if (en) begin
            k_data <= beat;
            k_pad <= t_pad;
            k_last <= t_last;
        end
    end
    // The issue decision. WR_SPLIT: for each (issue, wr) a candidate from its own sums'
    // sign bits, one LUT4 after each carry chain, then wr and issue pick one in the
    // slices' wide-function multiplexers (PFUMX, L6MUX21). These are instantiated: as
    // kept wires, abc9 still merged the candidates with e_ok's and inb_d's logic into
    // three multiplexer levels after the chain and two more behind a route (the digits
    // 85F critical path, 148.21 MHz). The candidates take en's next value without rst
    // (e_ok: one LUT4 of out_ready and flip-flops); rst clears issue through the
    // flip-flop's reset (folded into e_ok, it made that three LUT levels: 142.8 MHz).
    // Without WR_SPLIT no tap is there under rst either way (D0 < 0, d_go < 0).
    wire issue_d;
    wire issue_clr;
    generate
        if (WR_SPLIT == 1) begin : g_isel
            // LUT4 Z = INIT[{D, C, B, A}], late inputs on A (the fastest) and B.
            // e_ok = en_d without rst: A out_ready, B o_valid, C t_valid, D k_valid
            // (o_free = !B || A; D ? o_free : !(C && !o_free)): 16'hBBBF. A candidate:
            // A, B the sign bits of its sums of N and of the image start, C inb, D e_ok:
            // D && (C ? !A : !B): 16'h5300. (issue low: inb_d is inb.) Simulation
            // evaluates the same INITs; a test proves the two forms equivalent.
            localparam [15:0] E_INIT = 16'hBBBF;
            localparam [15:0] C_INIT = 16'h5300;
            wire e_ok, c11, c10, c01, c00, h1, h0;
            wire s11 = g_split.wr_k1[LW], g11 = g_split.go_k1[LW];
            wire s10 = g_split.wr_k0[LW-1], g10 = g_split.go_k0[LW-1];
            wire s01 = g_split.wr_1[LW-1], g01 = g_split.go_1[LW-1];
            wire s00 = d_wr[LW-1], g00 = d_go[LW-1];
`ifdef SYNTHESIS
            LUT4 #(.INIT(E_INIT)) u_e (.A(out_ready), .B(o_valid), .C(t_valid), .D(k_valid), .Z(e_ok));
            LUT4 #(.INIT(C_INIT)) u11 (.A(s11), .B(g11), .C(inb_d), .D(e_ok), .Z(c11));
            LUT4 #(.INIT(C_INIT)) u10 (.A(s10), .B(g10), .C(inb_d), .D(e_ok), .Z(c10));
            LUT4 #(.INIT(C_INIT)) u01 (.A(s01), .B(g01), .C(inb), .D(e_ok), .Z(c01));
            LUT4 #(.INIT(C_INIT)) u00 (.A(s00), .B(g00), .C(inb), .D(e_ok), .Z(c00));
            PFUMX u_h1 (.ALUT(c11), .BLUT(c10), .C0(wr), .Z(h1));
            PFUMX u_h0 (.ALUT(c01), .BLUT(c00), .C0(wr), .Z(h0));
            L6MUX21 u_i (.D0(h0), .D1(h1), .SD(issue), .Z(issue_d));
`else
            assign e_ok = E_INIT[{k_valid, t_valid, o_valid, out_ready}];
            assign c11 = C_INIT[{e_ok, inb_d, g11, s11}];
            assign c10 = C_INIT[{e_ok, inb_d, g10, s10}];
            assign c01 = C_INIT[{e_ok, inb, g01, s01}];
            assign c00 = C_INIT[{e_ok, inb, g00, s00}];
            assign h1 = wr ? c11 : c10;
            assign h0 = wr ? c01 : c00;
            assign issue_d = issue ? h1 : h0;
`endif
            assign issue_clr = rst;
        end else begin : g_iadd
            assign issue_d = en_d && (inb_d ? !d_wr_d[LW-1] : !d_go_d[LW-1]);
            assign issue_clr = 1'b0;
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) inb <= ROW0 && COL0;
        else inb <= inb_d;
        if (issue_clr) issue <= 1'b0;
        else issue <= issue_d;
    end

    assign out_valid = o_valid;
    assign out_data = o_data;
    assign out_mask = (o_pad && PAD_MASK == 0) ? {SIMD{1'b0}} : {SIMD{1'b1}};
    assign out_last = o_last;
endmodule
`default_nettype wire
