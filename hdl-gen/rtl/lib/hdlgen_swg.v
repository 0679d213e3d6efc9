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
// absolute row a lives in slot a mod NR, across images); the reader walks the window
// counters and reads one pixel per beat, then selects the SIMD-element chunk.
// Flow control uses one signed counter R = the writer's row relative to row 0 of the
// image the reader is in (plus the writer's column wx):
//   * the reader may issue pixel (iy, ix) once it is written: R > iy, or R == iy and
//     wx > ix (padding taps only need the image to have begun: pixel (0, 0) written);
//   * the writer may fill row R only while its slot's previous row (R - NR) is below the
//     reader's current top row ybase = oy*STRIDE - PAD_T: R < ybase + NR. The rows of
//     the reader's current window (< ybase + K_H) are always writable, so neither side
//     can wait for the other forever.
// When the reader finishes an image, R drops by IN_H (the writer may be anywhere: behind
// in the same image's unread bottom rows, or already in the next images).
//
// Pipeline: issue (counters, availability, BRAM address) → BRAM read into the output
// stage (chunk select, padding). Both stages hold while out_valid && !out_ready, so one
// beat leaves per cycle when out_ready is high and the pixels are there. in_ready and
// out_valid depend on registers only. Do not present input beats while rst is high.
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
    parameter integer PAD_MASK = 0
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
    localparam integer PW = C * DW;                      // pixel width
    localparam integer BW = SIMD * DW;                   // beat width
    // Signed coordinate width: covers ybase + NR, iy, ix, R in [-IN_H-1, IN_H+NR] etc.
    localparam integer SPAN = IN_H + IN_W + K_H + K_W + STRIDE + PAD_T + PAD_L + NR + 4;
    localparam integer CW0 = $clog2(SPAN) + 2;
    localparam integer CW = CW0 > AW + 2 ? CW0 : AW + 2;

    // Ring address steps (each < DEPTH): one row, one output row, one image.
    localparam integer STEP_ROW = IN_W;
    localparam integer STEP_OY = (STRIDE % NR) * IN_W;
    localparam integer IMG_ROWS = IN_H - (OUT_H - 1) * STRIDE;        // last top row → next image's top row
    localparam integer STEP_IMG = (((IMG_ROWS % NR) + NR) % NR) * IN_W;
    localparam integer TOP0 = ((NR - (PAD_T % NR)) % NR) * IN_W;     // slot of row -PAD_T

    // Sized constants (part-selects of integers, so every comparison is width-exact).
    localparam integer NEG_PT_I = -PAD_T;
    localparam integer NEG_PL_I = -PAD_L;
    localparam integer YLAST_I = (OUT_H - 1) * STRIDE - PAD_T;
    localparam integer XLAST_I = (OUT_W - 1) * STRIDE - PAD_L;
    localparam integer KY_LAST_I = K_H - 1;
    localparam integer KX_LAST_I = K_W - 1;
    localparam integer CH_LAST_I = CF - 1;
    localparam integer WX_LAST_I = IN_W - 1;
    localparam integer A_LAST_I = DEPTH - 1;
    localparam integer ONE_I = 1;
    wire signed [CW-1:0] NEG_PT = NEG_PT_I[CW-1:0];
    wire signed [CW-1:0] NEG_PL = NEG_PL_I[CW-1:0];
    wire signed [CW-1:0] YLAST = YLAST_I[CW-1:0];
    wire signed [CW-1:0] XLAST = XLAST_I[CW-1:0];
    wire signed [CW-1:0] KY_LAST = KY_LAST_I[CW-1:0];
    wire signed [CW-1:0] KX_LAST = KX_LAST_I[CW-1:0];
    wire signed [CW-1:0] S_S = STRIDE[CW-1:0];
    wire signed [CW-1:0] NR_S = NR[CW-1:0];
    wire signed [CW-1:0] IN_H_S = IN_H[CW-1:0];
    wire signed [CW-1:0] IN_W_S = IN_W[CW-1:0];
    wire signed [CW-1:0] ONE_S = ONE_I[CW-1:0];
    wire signed [CW-1:0] WX_LAST = WX_LAST_I[CW-1:0];
    wire [HW-1:0] CH_LAST = CH_LAST_I[HW-1:0];
    wire [AW-1:0] A_LAST = A_LAST_I[AW-1:0];
    wire [AW:0] DEPTH_A = DEPTH[AW:0];
    wire [AW:0] STEP_ROW_A = STEP_ROW[AW:0];
    wire [AW:0] STEP_OY_A = STEP_OY[AW:0];
    wire [AW:0] STEP_IMG_A = STEP_IMG[AW:0];
    wire [AW-1:0] TOP0_A = TOP0[AW-1:0];

    // a + step (mod DEPTH) for a < DEPTH, step < DEPTH.
    function [AW-1:0] ring_add;
        input [AW-1:0] a;
        input [AW:0] step;
        reg [AW:0] s;
        begin
            s = {1'b0, a} + step;
            if (s >= DEPTH_A) s = s - DEPTH_A;
            ring_add = s[AW-1:0];
        end
    endfunction

    // ---------------------------------------------------------------- line buffer
    // The reader only reads pixels written in earlier cycles and the writer only fills
    // released slots, so a read never meets a write to its address (no_rw_check).
    (* ram_style = "block", no_rw_check *) reg [PW-1:0] mem [0:DEPTH-1];

    // ---------------------------------------------------------------- shared state
    reg signed [CW-1:0] r_row = {CW{1'b0}};   // R: writer row, relative to the reader's image
    reg signed [CW-1:0] wx = {CW{1'b0}};      // writer column
    reg [AW-1:0] waddr = {AW{1'b0}};

    // Reader (issue stage) counters.
    reg signed [CW-1:0] ybase = NEG_PT_I[CW-1:0];   // oy*STRIDE - PAD_T
    reg signed [CW-1:0] xbase = NEG_PL_I[CW-1:0];   // ox*STRIDE - PAD_L
    reg signed [CW-1:0] ky = {CW{1'b0}};
    reg signed [CW-1:0] kx = {CW{1'b0}};
    reg [HW-1:0] ch = {HW{1'b0}};
    reg [AW-1:0] rtop = TOP0[AW-1:0];              // ring address of row ybase
    reg [AW-1:0] rrow = TOP0[AW-1:0];              // ring address of row ybase + ky

    // Output stage.
    reg s1_valid = 1'b0;
    reg s1_pad = 1'b0;
    reg s1_last = 1'b0;
    reg [PW-1:0] q = {PW{1'b0}};

    // ---------------------------------------------------------------- writer
    wire w_ok = r_row < ybase + NR_S;
    assign in_ready = w_ok;
    wire wr = in_valid && w_ok;
    wire wr_eol = wr && (wx == WX_LAST);
    always @(posedge clk) if (wr) mem[waddr] <= in_data;

    // ---------------------------------------------------------------- reader
    wire en = !s1_valid || out_ready;
    wire signed [CW-1:0] iy = ybase + ky;
    wire signed [CW-1:0] ix = xbase + kx;
    wire inb = !iy[CW-1] && (iy < IN_H_S) && !ix[CW-1] && (ix < IN_W_S);
    wire written = (r_row > iy) || ((r_row == iy) && (wx > ix));
    // Padding taps need nothing but the image itself to have begun (pixel 0 written), so
    // the generator idles between images instead of running ahead into the next one.
    wire started = (r_row > {CW{1'b0}}) || ((r_row == {CW{1'b0}}) && (wx != {CW{1'b0}}));
    wire avail = inb ? written : started;
    wire issue = en && avail;
    wire last_ch = ch == CH_LAST;
    wire last_kx = kx == KX_LAST;
    wire last_ky = ky == KY_LAST;
    wire last_ox = xbase == XLAST;
    wire last_oy = ybase == YLAST;
    wire win_end = last_ch && last_kx && last_ky;
    wire img_end = issue && win_end && last_ox && last_oy;
    wire [AW-1:0] raddr = inb ? rrow + ix[AW-1:0] : {AW{1'b0}};
    wire [AW-1:0] rtop_oy = ring_add(rtop, STEP_OY_A);
    wire [AW-1:0] rtop_img = ring_add(rtop, STEP_IMG_A);

    always @(posedge clk) begin
        if (rst) begin
            r_row <= {CW{1'b0}};
            wx <= {CW{1'b0}};
            waddr <= {AW{1'b0}};
        end else begin
            if (wr) begin
                wx <= wr_eol ? {CW{1'b0}} : wx + ONE_S;
                waddr <= (waddr == A_LAST) ? {AW{1'b0}} : waddr + 1'b1;
            end
            r_row <= r_row + (wr_eol ? ONE_S : {CW{1'b0}}) - (img_end ? IN_H_S : {CW{1'b0}});
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            ybase <= NEG_PT;
            xbase <= NEG_PL;
            ky <= {CW{1'b0}};
            kx <= {CW{1'b0}};
            ch <= {HW{1'b0}};
            rtop <= TOP0_A;
            rrow <= TOP0_A;
        end else if (issue) begin
            if (!last_ch) begin
                ch <= ch + 1'b1;
            end else begin
                ch <= {HW{1'b0}};
                if (!last_kx) begin
                    kx <= kx + ONE_S;
                end else begin
                    kx <= {CW{1'b0}};
                    if (!last_ky) begin
                        ky <= ky + ONE_S;
                        rrow <= ring_add(rrow, STEP_ROW_A);
                    end else begin
                        ky <= {CW{1'b0}};
                        if (!last_ox) begin
                            xbase <= xbase + S_S;
                            rrow <= rtop;
                        end else begin
                            xbase <= NEG_PL;
                            if (!last_oy) begin
                                ybase <= ybase + S_S;
                                rtop <= rtop_oy;
                                rrow <= rtop_oy;
                            end else begin
                                ybase <= NEG_PT;
                                rtop <= rtop_img;
                                rrow <= rtop_img;
                            end
                        end
                    end
                end
            end
        end
    end

    // ---------------------------------------------------------------- output stage
    always @(posedge clk) if (en) q <= mem[raddr];
    always @(posedge clk) begin
        if (rst) s1_valid <= 1'b0;
        else if (en) s1_valid <= avail;
        if (en) begin
            s1_pad <= !inb;
            s1_last <= win_end;
        end
    end

    wire [BW-1:0] chunk;
    genvar i;
    generate
        if (CF == 1) begin : g_one
            assign chunk = q;
        end else begin : g_sel
            reg [HW-1:0] s1_ch = {HW{1'b0}};
            always @(posedge clk) if (en) s1_ch <= ch;
            wire [BW-1:0] parts [0:CF-1];
            for (i = 0; i < CF; i = i + 1) begin : g_part
                assign parts[i] = q[i*BW +: BW];
            end
            assign chunk = parts[s1_ch];
        end
    endgenerate

    assign out_valid = s1_valid;
    assign out_data = s1_pad ? {SIMD{PAD_VALUE}} : chunk;
    assign out_mask = (s1_pad && PAD_MASK == 0) ? {SIMD{1'b0}} : {SIMD{1'b1}};
    assign out_last = s1_last;
endmodule
`default_nettype wire
