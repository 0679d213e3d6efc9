// hdlgen_popcount: pipelined popcount adder tree (mirrors hdlgen::arith::popcount).
//
// Counts the ones of `in_bits` (N bits). A binary tree of W-bit adders (W = clog2(N + 1));
// a register stage follows every REG_EVERY tree levels and the last level, so the result
// appears LATENCY cycles after its input. An unregistered 256-bit popcount closes at
// ~16 MHz on a UP5K; registering every 2 levels keeps each stage to two small adders.
// `in_valid` and a TAG_W-bit `in_tag` travel alongside as `out_valid`/`out_tag`. Every
// register advances only when `en` is high, so a caller stalls the tree with its pipeline.
// Upper adder bits are constant zero at low levels; synthesis (wreduce) trims them.
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
    localparam integer LEVELS = (N <= 1) ? 0 : $clog2(N);
    // Level l holds ceil(N / 2^l) partial sums; a register follows level l when
    // (l + 1) % REG_EVERY == 0 or l is the last level.
    function integer width_at;  // entries at level l
        input integer l;
        integer k, n;
        begin
            n = N;
            for (k = 0; k < l; k = k + 1) n = (n + 1) / 2;
            width_at = n;
        end
    endfunction
    function integer regs_upto;  // register stages after levels 0..l-1
        input integer l;
        integer k, r;
        begin
            r = 0;
            for (k = 1; k <= l; k = k + 1)
                if ((k % REG_EVERY) == 0 || k == LEVELS) r = r + 1;
            regs_upto = r;
        end
    endfunction
    localparam integer LATENCY = (LEVELS == 0) ? 1 : regs_upto(LEVELS);

    // Level 0: each input bit zero-extended to W bits.
    wire [W*N-1:0] leaves;
    genvar i, l;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_leaf
            assign leaves[i*W +: W] = {{(W-1){1'b0}}, in_bits[i]};
        end
        // Level l adds pairs of level l-1 (an odd last entry passes through); each level
        // is its own block so no signal feeds itself.
        for (l = 1; l <= LEVELS; l = l + 1) begin : g_level
            localparam integer CNT = width_at(l);
            localparam integer PREV = width_at(l - 1);
            localparam REG = ((l % REG_EVERY) == 0) || (l == LEVELS);
            wire [W*PREV-1:0] prev;
            wire [W*CNT-1:0] next;
            wire [W*CNT-1:0] val;
            if (l == 1) begin : g_first
                assign prev = leaves;
            end else begin : g_inner
                assign prev = g_level[l-1].val;
            end
            for (i = 0; i < CNT; i = i + 1) begin : g_add
                if (2*i + 1 < PREV) begin : g_pair
                    assign next[i*W +: W] = prev[2*i*W +: W] + prev[(2*i+1)*W +: W];
                end else begin : g_pass
                    assign next[i*W +: W] = prev[2*i*W +: W];
                end
            end
            if (REG) begin : g_reg
                reg [W*CNT-1:0] q;
                always @(posedge clk) if (en) q <= next;
                assign val = q;
            end else begin : g_comb
                assign val = next;
            end
        end
        if (LEVELS == 0) begin : g_one
            reg [W-1:0] q;
            always @(posedge clk) if (en) q <= leaves[W-1:0];
            assign count = q;
        end else begin : g_out
            assign count = g_level[LEVELS].val[W-1:0];
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
