// hdlgen_popcount: pipelined popcount adder tree (mirrors hdlgen::arith::popcount).
//
// Counts the ones of `in_bits` (N bits) in LATENCY cycles. `in_valid` and a TAG_W-bit
// `in_tag` travel alongside as `out_valid`/`out_tag`. Every register advances only when
// `en` is high, so a caller stalls the tree with its pipeline.
//
// LATENCY is that of a binary tree of 2-input adders over the N bits (LEVELS =
// clog2(N) levels, a register after every REG_EVERY levels and after the last; 1 when
// N = 1): hdlgen::rtl::lib::popcount_latency. The tree built is shaped for LUT4 +
// carry-chain fabric and needs fewer levels (see below); it takes its registers where
// that tree would (after its level k when k % REG_EVERY == 0, and after its last
// level) and the stages it has to spare delay the count at the end.
//
// Shape, for LUT4 + carry-chain fabric (iCE40, ECP5): L = ceil((N + 1) / 4) leaves,
// each a full adder of 1 to 3 input bits in plain logic, so when the bits are XNORs
// (hdlgen_mvau) the synthesiser folds them into the adder's LUTs (two lanes' four
// operands fill a LUT4) instead of spending a LUT per lane on them; a binary tree of
// carry-chain adders sums the leaves, and each of its L − 1 pair adders takes one more
// input bit as its carry-in ({a, 1} + {b, bit}, bits [W:1]), which costs that bit's
// own LUT at most. Leaves hold the first N − (L − 1) bits; the pair adders take the
// rest in order, level by level. Measured with yosys 0.70 synth_ice40, XNOR + popcount
// of 64 lanes: 125 LUT4 (the plain binary tree of 2-input adders: 177). An
// unregistered 256-bit popcount closes at ~16 MHz on a UP5K; registering every 2
// levels keeps each stage to a leaf and an adder or two adders. Upper adder bits are
// constant zero at low levels; synthesis (wreduce) trims them.
`default_nettype none
module hdlgen_popcount #(
    parameter integer N = 64,
    parameter integer REG_EVERY = 2,
    parameter integer TAG_W = 1
) (
    input  wire                     clk,
    input  wire                     en,
    input  wire                     in_valid,
    input  wire [TAG_W-1:0]         in_tag,
    input  wire [N-1:0]             in_bits,
    output wire                     out_valid,
    output wire [TAG_W-1:0]         out_tag,
    output wire [$clog2(N+1)-1:0]   count
);
    localparam integer W = $clog2(N + 1);
    localparam integer LEVELS = (N <= 1) ? 0 : $clog2(N);   // of the reference tree
    function integer regs_upto;  // register stages of a tree of `h` levels after level l
        input integer h;
        input integer l;
        integer k, r;
        begin
            r = 0;
            for (k = 1; k <= l; k = k + 1)
                if ((k % REG_EVERY) == 0 || k == h) r = r + 1;
            regs_upto = r;
        end
    endfunction
    localparam integer LATENCY = (LEVELS == 0) ? 1 : regs_upto(LEVELS, LEVELS);

    // The tree built: level 1 = the leaves, level l > 1 = pair sums of level l − 1 (an odd
    // last entry passes through). H ≤ LEVELS always (L ≤ 2^(LEVELS−1) for N ≥ 2).
    localparam integer L = (N + 4) / 4;                     // leaves
    localparam integer NA = L - 1;                          // carry-in bits
    localparam integer NAW = (NA > 0) ? NA : 1;
    localparam integer NL = N - NA;                         // bits in leaves
    localparam integer BASE = NL / L;                       // 1..3
    localparam integer REM = NL % L;                        // leaves with BASE + 1
    localparam integer H = (L <= 1) ? 1 : 1 + $clog2(L);
    localparam integer PAD = LATENCY - regs_upto(H, H);     // spare stages, at the end
    function integer width_at;   // entries at level l ≥ 1
        input integer l;
        integer k, n;
        begin
            n = L;
            for (k = 1; k < l; k = k + 1) n = (n + 1) / 2;
            width_at = n;
        end
    endfunction
    function integer pairs_before;  // carry-in bits taken by levels 2 .. l − 1
        input integer l;
        integer k, p;
        begin
            p = 0;
            for (k = 2; k < l; k = k + 1) p = p + width_at(k - 1) / 2;
            pairs_before = p;
        end
    endfunction

    genvar i, l;
    generate
        for (l = 1; l <= H; l = l + 1) begin : g_level
            localparam integer CNT = width_at(l);
            localparam REG = ((l % REG_EVERY) == 0) || (l == H);
            wire [W*CNT-1:0] next;
            wire [W*CNT-1:0] val;
            wire [NAW-1:0] ci_in;                           // carry-in bits, this level
            wire [NAW-1:0] ci;                              // ... after its register
            if (l == 1) begin : g_leaves
                for (i = 0; i < L; i = i + 1) begin : g_leaf
                    localparam integer SZ = BASE + ((i < REM) ? 1 : 0);
                    localparam integer LO = i * BASE + ((i < REM) ? i : REM);
                    wire [2:0] b;
                    if (SZ == 1) begin : g_1
                        assign b = {2'b00, in_bits[LO]};
                    end else if (SZ == 2) begin : g_2
                        assign b = {1'b0, in_bits[LO +: 2]};
                    end else begin : g_3
                        assign b = in_bits[LO +: 3];
                    end
                    // Full adder of the (up to) three bits: {carry, sum}.
                    wire s = b[0] ^ b[1] ^ b[2];
                    wire c = (b[0] & b[1]) | (b[0] & b[2]) | (b[1] & b[2]);
                    if (W > 2) begin : g_w
                        assign next[i*W +: W] = {{(W-2){1'b0}}, c, s};
                    end else if (W == 2) begin : g_n
                        assign next[i*W +: W] = {c, s};
                    end else begin : g_1b                   // N = 1: c is 0
                        assign next[i*W +: W] = s;
                        wire _unused_c = &{1'b0, c, 1'b0};
                    end
                end
                if (NA > 0) begin : g_ci
                    assign ci_in = in_bits[N-1:NL];
                end else begin : g_noci
                    assign ci_in = 1'b0;
                end
            end else begin : g_adders
                localparam integer PREV = width_at(l - 1);
                localparam integer PB = pairs_before(l);
                wire [W*PREV-1:0] prev = g_level[l-1].val;
                assign ci_in = g_level[l-1].ci;
                for (i = 0; i < CNT; i = i + 1) begin : g_add
                    if (2*i + 1 < PREV) begin : g_pair
                        wire [W:0] sum = {prev[2*i*W +: W], 1'b1} + {prev[(2*i+1)*W +: W], ci_in[PB+i]};
                        assign next[i*W +: W] = sum[W:1];
                        wire _unused_s = &{1'b0, sum[0], 1'b0};
                    end else begin : g_pass
                        assign next[i*W +: W] = prev[2*i*W +: W];
                    end
                end
            end
            if (REG) begin : g_reg
                reg [W*CNT-1:0] q;
                reg [NAW-1:0] cq;
                always @(posedge clk)
                    if (en) begin
                        q <= next;
                        cq <= ci_in;
                    end
                assign val = q;
                assign ci = cq;
            end else begin : g_comb
                assign val = next;
                assign ci = ci_in;
            end
        end
        wire _unused_ci = &{1'b0, g_level[H].ci, 1'b0};
        if (PAD == 0) begin : g_out
            assign count = g_level[H].val[W-1:0];
        end else begin : g_pad
            reg [W*PAD-1:0] d;
            if (PAD == 1) begin : g_d1
                always @(posedge clk) if (en) d <= g_level[H].val[W-1:0];
            end else begin : g_dn
                always @(posedge clk) if (en) d <= {d[W*(PAD-1)-1:0], g_level[H].val[W-1:0]};
            end
            assign count = d[W*PAD-1 -: W];
        end
    endgenerate

    // Valid and tag ride a shift register of the same depth as the tree.
    reg [(TAG_W+1)*LATENCY-1:0] side = {((TAG_W+1)*LATENCY){1'b0}};
    generate
        if (LATENCY == 1) begin : g_v1
            always @(posedge clk) if (en) side <= {in_tag, in_valid};
        end else begin : g_vn
            always @(posedge clk)
                if (en) side <= {side[(TAG_W+1)*(LATENCY-1)-1:0], in_tag, in_valid};
        end
    endgenerate
    assign out_valid = side[(TAG_W+1)*(LATENCY-1)];
    assign out_tag = side[(TAG_W+1)*LATENCY-1 -: TAG_W];
endmodule
`default_nettype wire
