// hdlgen_rowpool: non-overlapping max-pooling (size = stride = K ≥ 2, no padding) on the
// raster stream itself, without a window generator: what iCE40 plans use (MNIST pool1:
// 174 LUT4 and 193 flip-flops against 320 and 285 for hdlgen_swg + hdlgen_pool, pool2
// 295 / 348 against 401 / 437; bench/engine_cells.sh).
//
// Input: an IN_H×IN_W×C map, one pixel (lane c at bits [c*EW +: EW]) per beat in HWC
// raster order; images may follow each other back to back. Output: the OUT_H×OUT_W map
// (OUT_H = IN_H / K, OUT_W = IN_W / K: remainder rows and columns are dropped, as in
// hdlgen::layers::maxpool) in raster order, lane c the reduction of its K×K window:
//   MODE 0: bitwise OR (binary maps and spikes, bit 1 = +1, so OR = max);
//   MODE 1: signed maximum of EW-bit two's complement lanes.
//
// Structure: `h` reduces the K pixels of one window row as they arrive. With the row's
// K-th pixel (a group end) the row buffer word row[gx] (OUT_W words, the partial results
// of the window row above) is read; the next cycle combines h with it (except on a
// window's first row) and writes the result back, or, on a window's last row, pushes it
// into a two-entry output FIFO. Pushes are at least K ≥ 2 beats apart.
// Timing: in_ready is a flip-flop, high while the FIFO's entries plus a push still to
// come number at most one next cycle (a beat adds at most one), so with out_ready high
// one beat is accepted every cycle: an image takes exactly IN_H·IN_W cycles. Latency: a
// window's result is on the output two cycles after its last pixel is accepted.
// rst (synchronous, active high) clears the control state only.
`default_nettype none
module hdlgen_rowpool #(
    parameter integer IN_H = 4,
    parameter integer IN_W = 4,
    parameter integer C = 4,
    parameter integer EW = 1,
    parameter integer MODE = 0,
    parameter integer K = 2
) (
    input  wire              clk,
    input  wire              rst,
    input  wire              in_valid,
    output wire              in_ready,
    input  wire [C*EW-1:0]   in_data,
    output wire              out_valid,
    input  wire              out_ready,
    output wire [C*EW-1:0]   out_data
);
    localparam integer DW = C * EW;
    localparam integer OUT_W = IN_W / K;
    localparam integer XW = (IN_W > 1) ? $clog2(IN_W) : 1;
    localparam integer YW = (IN_H > 1) ? $clog2(IN_H) : 1;
    localparam integer KW = $clog2(K);
    localparam integer GW = (OUT_W > 1) ? $clog2(OUT_W) : 1;
    localparam integer XLI = IN_W - 1;
    localparam integer YLI = IN_H - 1;
    localparam integer KLI = K - 1;
    localparam integer GLI = OUT_W - 1;
    localparam [XW-1:0] X_LAST = XLI[XW-1:0];
    localparam [YW-1:0] Y_LAST = YLI[YW-1:0];
    localparam [KW-1:0] K_LAST = KLI[KW-1:0];
    localparam [GW-1:0] G_LAST = GLI[GW-1:0];

    // The reduction of two pixels, lane by lane.
    function [DW-1:0] op;
        input [DW-1:0] a;
        input [DW-1:0] b;
        integer c;
        reg [EW-1:0] x, y;
        begin
            for (c = 0; c < C; c = c + 1) begin
                x = a[c*EW +: EW];
                y = b[c*EW +: EW];
                if (MODE == 0)
                    op[c*EW +: EW] = x | y;
                else
                    op[c*EW +: EW] = ($signed(y) > $signed(x)) ? y : x;
            end
        end
    endfunction

    // ---------------------------------------------------------------- position
    reg [XW-1:0] ix = {XW{1'b0}};
    reg [YW-1:0] iy = {YW{1'b0}};
    reg [KW-1:0] kx = {KW{1'b0}};
    reg [KW-1:0] ky = {KW{1'b0}};
    reg [GW-1:0] gx = {GW{1'b0}};
    reg rdy = 1'b1;
    assign in_ready = rdy;
    wire fire = in_valid && rdy;
    wire xl = ix == X_LAST;
    // Remainder columns (fewer than K) never complete a group before the row ends, and
    // remainder rows (fewer than K) never reach a window's last row, so neither needs a
    // check: what they leave in h and the row buffer is overwritten before it is used.
    wire gend = fire && kx == K_LAST;             // a pixel ends a window row's group
    always @(posedge clk) begin
        if (rst) begin
            ix <= {XW{1'b0}};
            iy <= {YW{1'b0}};
            kx <= {KW{1'b0}};
            ky <= {KW{1'b0}};
            gx <= {GW{1'b0}};
        end else if (fire) begin
            ix <= xl ? {XW{1'b0}} : ix + 1'b1;
            kx <= (xl || kx == K_LAST) ? {KW{1'b0}} : kx + 1'b1;
            if (xl) gx <= {GW{1'b0}};
            else if (kx == K_LAST) gx <= (gx == G_LAST) ? {GW{1'b0}} : gx + 1'b1;
            if (xl) begin
                iy <= (iy == Y_LAST) ? {YW{1'b0}} : iy + 1'b1;
                ky <= (iy == Y_LAST || ky == K_LAST) ? {KW{1'b0}} : ky + 1'b1;
            end
        end
    end

    // ---------------------------------------------------------------- reduction
    reg [DW-1:0] h;                               // this window row's pixels so far
    reg [DW-1:0] row [0:OUT_W-1];                 // window rows above, per output column
    reg [DW-1:0] row_q;
    reg s_v = 1'b0;                               // combine stage: a group ended
    reg s_first, s_last;
    reg [GW-1:0] s_gx;
    always @(posedge clk) begin
        if (fire) h <= (kx == {KW{1'b0}}) ? in_data : op(h, in_data);
        if (gend) row_q <= row[gx];
        if (rst) s_v <= 1'b0;
        else s_v <= gend;
        if (gend) begin
            s_first <= ky == {KW{1'b0}};
            s_last <= ky == K_LAST;
            s_gx <= gx;
        end
    end
    wire [DW-1:0] v = s_first ? h : op(h, row_q);
    always @(posedge clk) if (s_v && !s_last) row[s_gx] <= v;

    // ---------------------------------------------------------------- output FIFO
    wire push = s_v && s_last;
    wire pend_d = gend && ky == K_LAST;           // a push next cycle
    reg [1:0] n = 2'd0;
    reg ov = 1'b0;
    reg [DW-1:0] f0, f1;
    wire pop = ov && out_ready;
    wire [1:0] n_d = rst ? 2'd0 : n + {1'b0, push} - {1'b0, pop};
    wire f0_load = pop ? (n == 2'd2 || push) : (push && n == 2'd0);
    always @(posedge clk) begin
        n <= n_d;
        ov <= n_d != 2'd0;
        rdy <= !rst && ({1'b0, n_d} + {2'd0, pend_d && !rst} <= 3'd1);
        if (f0_load) f0 <= (n == 2'd2) ? f1 : v;
        if (push && (n == 2'd2 || (n == 2'd1 && !pop))) f1 <= v;
    end
    assign out_valid = ov;
    assign out_data = f0;
endmodule
`default_nettype wire
