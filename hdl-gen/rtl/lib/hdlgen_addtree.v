// hdlgen_addtree: pipelined signed adder tree, the integer sibling of hdlgen_popcount
// (a binary tree with a register every REG_EVERY levels and after the last: the LATENCY
// of hdlgen_popcount's older plain tree, so `popcount_latency(N, REG_EVERY)` in
// hdlgen::rtl::lib gives both latencies).
//
// Sums N signed (two's complement) W-bit lanes, lane i at in_data[i*W +: W], into
// OW = W + clog2(N) bits (N = 1: W), wide enough that no sum overflows. Level l of the
// tree holds ceil(N / 2^l) partial sums of W + l bits (each level one bit wider, so no
// adder is wider than it needs to be). A register stage follows every REG_EVERY levels
// and the last level; N = 1 is a single register. The result appears LATENCY cycles
// after its input; `in_valid` and a TAG_W-bit `in_tag` travel alongside as
// `out_valid`/`out_tag`. Every register advances only when `en` is high.
`default_nettype none
module hdlgen_addtree #(
    parameter integer N = 4,
    parameter integer W = 8,
    parameter integer REG_EVERY = 2,
    parameter integer TAG_W = 1
) (
    input  wire                                     clk,
    input  wire                                     en,
    input  wire                                     in_valid,
    input  wire [TAG_W-1:0]                         in_tag,
    input  wire [N*W-1:0]                           in_data,
    output wire                                     out_valid,
    output wire [TAG_W-1:0]                         out_tag,
    output wire [W+((N <= 1) ? 0 : $clog2(N))-1:0]  sum
);
    localparam integer LEVELS = (N <= 1) ? 0 : $clog2(N);
    localparam integer OW = W + LEVELS;
    function integer width_at;  // entries at level l
        input integer l;
        integer k, n;
        begin
            n = N;
            for (k = 0; k < l; k = k + 1) n = (n + 1) / 2;
            width_at = n;
        end
    endfunction
    function integer regs_upto;  // register stages after levels 1..l
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

    genvar i, l;
    generate
        // Level l (1..LEVELS) adds pairs of level l-1 entries (W + l - 1 bits each,
        // sign-extended to W + l); an odd last entry passes through, sign-extended.
        for (l = 1; l <= LEVELS; l = l + 1) begin : g_level
            localparam integer CNT = width_at(l);
            localparam integer PREV = width_at(l - 1);
            localparam integer PW = W + l - 1;   // entry width of level l-1
            localparam integer LW = W + l;       // entry width of level l
            localparam REG = ((l % REG_EVERY) == 0) || (l == LEVELS);
            wire [PW*PREV-1:0] prev;
            wire [LW*CNT-1:0] next;
            wire [LW*CNT-1:0] val;
            if (l == 1) begin : g_first
                assign prev = in_data;
            end else begin : g_inner
                assign prev = g_level[l-1].val;
            end
            for (i = 0; i < CNT; i = i + 1) begin : g_add
                wire [LW-1:0] a = {prev[2*i*PW+PW-1], prev[2*i*PW +: PW]};
                if (2*i + 1 < PREV) begin : g_pair
                    wire [LW-1:0] b = {prev[(2*i+1)*PW+PW-1], prev[(2*i+1)*PW +: PW]};
                    assign next[i*LW +: LW] = a + b;
                end else begin : g_pass
                    assign next[i*LW +: LW] = a;
                end
            end
            if (REG) begin : g_reg
                reg [LW*CNT-1:0] q;
                always @(posedge clk) if (en) q <= next;
                assign val = q;
            end else begin : g_comb
                assign val = next;
            end
        end
        if (LEVELS == 0) begin : g_one
            reg [OW-1:0] q;
            always @(posedge clk) if (en) q <= in_data[OW-1:0];
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
