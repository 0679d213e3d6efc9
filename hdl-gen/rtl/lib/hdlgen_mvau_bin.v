// hdlgen_mvau_bin: folded binary matrix-vector unit (XNOR-popcount), FINN-style.
//
// Computes dot_o = Σ_k mask_k · (x_k == w_ok ? +1 : −1) = 2·p − n for MH outputs over an
// MW-long ±1 input vector (bit 1 = +1), mirroring hdlgen::arith (xnor_popcount_masked,
// binary_dot). Folding: SIMD input bits per beat, PE outputs in parallel; SF = MW/SIMD
// beats make one fold, NF = MH/PE folds one vector, so a vector costs SF·NF beats. The
// input vector arrives once per fold (the window generator replays it), so no input
// buffer is needed. Output o = nf·PE + p leaves as lane p of the beat ending fold nf.
//
// Weights: memory word a = nf·SF + sf holds, at bits [p·SIMD + i], w[nf·PE + p][sf·SIMD + i].
// Initialised from INIT_FILE ($readmemh; empty: none) and writable at run time through
// wr_* (so a new weight set needs no rebuild). `in_mask` bit 0 leaves a tap out (binary
// `zero` padding); all ones otherwise.
//
// Pipeline: weight read (1 cycle) → XNOR + popcount trees (POP_LAT cycles) → accumulate
// → output register. One enable stalls everything while the output register is full.
`default_nettype none
module hdlgen_mvau_bin #(
    parameter integer MW = 64,
    parameter integer MH = 16,
    parameter integer PE = 4,
    parameter integer SIMD = 16,
    parameter integer REG_EVERY = 2,
    parameter INIT_FILE = ""
) (
    input  wire                         clk,
    input  wire                         rst,
    input  wire                         in_valid,
    output wire                         in_ready,
    input  wire [SIMD-1:0]              in_data,
    input  wire [SIMD-1:0]              in_mask,
    output reg                          out_valid,
    input  wire                         out_ready,
    output wire [PE*($clog2(MW+1)+1)-1:0] out_data,
    input  wire                         wr_en,
    input  wire [(((MW/SIMD)*(MH/PE)) > 1 ? $clog2((MW/SIMD)*(MH/PE)) : 1)-1:0] wr_addr,
    input  wire [PE*SIMD-1:0]           wr_data
);
    localparam integer SF = MW / SIMD;
    localparam integer NF = MH / PE;
    localparam integer DEPTH = SF * NF;
    localparam integer AW = DEPTH > 1 ? $clog2(DEPTH) : 1;   // weight address width
    localparam integer SW = SF > 1 ? $clog2(SF) : 1;         // beat-in-fold counter width
    localparam integer LAST_AI = DEPTH - 1;
    localparam integer LAST_SI = SF - 1;
    wire [AW-1:0] LAST_A = LAST_AI[AW-1:0];
    wire [SW-1:0] LAST_S = LAST_SI[SW-1:0];
    localparam integer CW = $clog2(SIMD + 1);   // popcount of one beat
    localparam integer PW = $clog2(MW + 1);     // matches over one fold
    localparam integer DW = PW + 1;             // signed dot product

    // Stall: hold every stage while a finished fold waits in the output register.
    wire en = !(out_valid && !out_ready);
    assign in_ready = en;
    wire take = in_valid && en;

    // Fold counters of the beat being accepted.
    reg [AW-1:0] addr = {AW{1'b0}};
    reg [SW-1:0] sf = {SW{1'b0}};
    always @(posedge clk) begin
        if (rst) begin
            addr <= {AW{1'b0}};
            sf <= {SW{1'b0}};
        end else if (take) begin
            addr <= (addr == LAST_A) ? {AW{1'b0}} : addr + 1'b1;
            sf <= (sf == LAST_S) ? {SW{1'b0}} : sf + 1'b1;
        end
    end

    // Weight memory: synchronous read aligned with the registered input beat.
    // Rounded up to a power of two so every address is in range.
    (* ram_style = "block" *) reg [PE*SIMD-1:0] wmem [0:(1<<AW)-1];
    generate
        if (INIT_FILE != "") begin : g_init
            initial $readmemh(INIT_FILE, wmem);
        end
    endgenerate
    always @(posedge clk) if (wr_en) wmem[wr_addr] <= wr_data;
    reg [PE*SIMD-1:0] w_q;
    always @(posedge clk) if (en) w_q <= wmem[addr];

    // Stage 1: the accepted beat and its place in the fold.
    reg s1_valid = 1'b0;
    reg s1_first, s1_last;
    reg [SIMD-1:0] s1_x, s1_m;
    always @(posedge clk) begin
        if (rst) s1_valid <= 1'b0;
        else if (en) s1_valid <= take;
        if (en) begin
            s1_first <= (sf == {SW{1'b0}});
            s1_last <= (sf == LAST_S);
            s1_x <= in_data;
            s1_m <= in_mask;
        end
    end

    // Stage 2: per PE, popcount of the agreeing, counted taps; plus the counted taps.
    wire [PE*CW-1:0] cnt;
    wire [CW-1:0] n_cnt;
    wire [1:0] tag;
    wire pc_valid;
    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            wire [SIMD-1:0] agree = ~(s1_x ^ w_q[p*SIMD +: SIMD]) & s1_m;
            /* verilator lint_off PINCONNECTEMPTY */
            hdlgen_popcount #(.N(SIMD), .REG_EVERY(REG_EVERY), .TAG_W(1)) u_pc (
                .clk(clk), .en(en), .in_valid(1'b0), .in_tag(1'b0), .in_bits(agree),
                .out_valid(), .out_tag(), .count(cnt[p*CW +: CW])
            );
            /* verilator lint_on PINCONNECTEMPTY */
        end
    endgenerate
    hdlgen_popcount #(.N(SIMD), .REG_EVERY(REG_EVERY), .TAG_W(2)) u_n (
        .clk(clk), .en(en), .in_valid(s1_valid), .in_tag({s1_last, s1_first}), .in_bits(s1_m),
        .out_valid(pc_valid), .out_tag(tag), .count(n_cnt)
    );

    // Stage 3: accumulate over the fold; on its last beat emit 2·p − n per PE.
    reg [PE*PW-1:0] acc;
    reg [PW-1:0] n_acc;
    reg [PE*DW-1:0] out_q;
    assign out_data = out_q;
    wire [PW-1:0] n_next = (tag[0] ? {PW{1'b0}} : n_acc) + {{(PW-CW){1'b0}}, n_cnt};
    integer q;
    always @(posedge clk) begin
        if (rst) begin
            out_valid <= 1'b0;
        end else if (en) begin
            out_valid <= pc_valid && tag[1];
        end
        if (en && pc_valid) begin
            n_acc <= n_next;
            for (q = 0; q < PE; q = q + 1) begin
                acc[q*PW +: PW] <= (tag[0] ? {PW{1'b0}} : acc[q*PW +: PW]) + {{(PW-CW){1'b0}}, cnt[q*CW +: CW]};
                out_q[q*DW +: DW] <= {((tag[0] ? {PW{1'b0}} : acc[q*PW +: PW]) + {{(PW-CW){1'b0}}, cnt[q*CW +: CW]}), 1'b0}
                                     - {1'b0, n_next};
            end
        end
    end
endmodule
`default_nettype wire
