// hdlgen_addtree: pipelined signed adder tree, the integer sibling of hdlgen_popcount
// (same tree shape, register placement and LATENCY, so `popcount_latency` applies).
//
// Sums N signed W-bit lanes (lane i at in_data[i*W +: W]) into OW = W + clog2(N) bits,
// wide enough that no sum overflows. A register stage follows every REG_EVERY levels
// and the last level; `in_valid` and `in_tag` ride alongside; `en` low freezes all.
`default_nettype none
module hdlgen_addtree #(
    parameter integer N = 4,
    parameter integer W = 8,
    parameter integer REG_EVERY = 2,
    parameter integer TAG_W = 1
) (
    input  wire                     clk,
    input  wire                     en,
    input  wire                     in_valid,
    input  wire [TAG_W-1:0]         in_tag,
    input  wire [N*W-1:0]           in_data,
    output wire                     out_valid,
    output wire [TAG_W-1:0]         out_tag,
    output wire [W+((N <= 1) ? 0 : $clog2(N))-1:0] sum
);
    localparam integer LEVELS = (N <= 1) ? 0 : $clog2(N);
    localparam integer OW = W + LEVELS;
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

    // Level 0: each lane sign-extended to OW bits.
    wire [OW*N-1:0] leaves;
    genvar i, l;
    generate
        for (i = 0; i < N; i = i + 1) begin : g_leaf
            if (OW > W) begin : g_ext
                assign leaves[i*OW +: OW] = {{(OW-W){in_data[i*W+W-1]}}, in_data[i*W +: W]};
            end else begin : g_same
                assign leaves[i*OW +: OW] = in_data[i*W +: W];
            end
        end
        // Level l adds pairs of level l-1 (an odd last entry passes through); each level
        // is its own block so no signal feeds itself.
        for (l = 1; l <= LEVELS; l = l + 1) begin : g_level
            localparam integer CNT = width_at(l);
            localparam integer PREV = width_at(l - 1);
            localparam REG = ((l % REG_EVERY) == 0) || (l == LEVELS);
            wire [OW*PREV-1:0] prev;
            wire [OW*CNT-1:0] next;
            wire [OW*CNT-1:0] val;
            if (l == 1) begin : g_first
                assign prev = leaves;
            end else begin : g_inner
                assign prev = g_level[l-1].val;
            end
            for (i = 0; i < CNT; i = i + 1) begin : g_add
                if (2*i + 1 < PREV) begin : g_pair
                    assign next[i*OW +: OW] = prev[2*i*OW +: OW] + prev[(2*i+1)*OW +: OW];
                end else begin : g_pass
                    assign next[i*OW +: OW] = prev[2*i*OW +: OW];
                end
            end
            if (REG) begin : g_reg
                reg [OW*CNT-1:0] q;
                always @(posedge clk) if (en) q <= next;
                assign val = q;
            end else begin : g_comb
                assign val = next;
            end
        end
        if (LEVELS == 0) begin : g_one
            reg [OW-1:0] q;
            always @(posedge clk) if (en) q <= leaves[OW-1:0];
            assign sum = q;
        end else begin : g_out
            assign sum = g_level[LEVELS].val[OW-1:0];
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
