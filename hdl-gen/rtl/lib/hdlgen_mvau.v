// hdlgen_mvau: folded matrix-vector-activation unit of one conv/dense layer (FINN's MVAU).
//
// For each of MH outputs o over an MW-long input vector x (one window, in arrival order):
//   MODE 0 (xnor): dot_o = 2·p − n, p = Σ_k m_k·[x_k == w_ok], n = Σ_k m_k (bit 1 = +1);
//                  m_k is the in_mask bit when MASKED = 1, else 1 (n = MW, in_mask ignored)
//                  (hdlgen::arith::xnor_popcount_masked / binary_dot);
//   MODE 1 (int):  dot_o = Σ_k (w_ok ? x_k : −x_k), x_k signed IN_W-bit lanes (in_mask
//                  ignored: padding arrives as pad values).
//   ACT 0: output lane o = dot_o, signed OB bits (truncated from ACC_W, or sign-extended);
//   ACT 1: output bit o = (dot_o ≥ cmp_o) ^ flip_o, signed compare (OB must be 1).
// ACC_W (≥ 2) must hold every dot_o as a signed value (MODE 0: clog2(MW + 1) + 1 always
// does); the arithmetic wraps at ACC_W bits, so any ACC_W that holds the results is exact.
// TW: signed width of the threshold field f (below); the compare is at max(ACC_W, TW) + 1
// bits, or, when MODE 0, MASKED 0 and ACT 1, at clog2(MW + 2) bits on p.
//
// Folding: SIMD elements per beat (element i of beat sf is x[sf·SIMD + i], at
// in_data[i·EW +: EW], EW = 1 in MODE 0, IN_W in MODE 1), SF = MW/SIMD beats per vector;
// PE outputs in parallel, NF = MH/PE folds. The vector arrives once: its SF beats are
// taken in fold 0 (in_ready is low during folds 1..NF−1) and, when NF > 1, kept in a
// replay buffer (data, plus the mask when MODE 0 and MASKED) that feeds folds 1..NF−1.
// One output beat per vector, after its last fold: out_data lane o (bits [o·OB +: OB]).
//
// Timing with free-flowing streams (in_valid and out_ready always high): one beat per
// cycle, a vector costs exactly SF·NF cycles, back to back, so consecutive output beats
// are SF·NF cycles apart; in_ready is high for SF of every SF·NF cycles. Latency: a
// vector's output beat is valid L = popcount_latency(SIMD, REG_EVERY) + 6 + W_PIPE cycles
// after the cycle that issues its last beat, i.e. after the cycle its last input beat is
// accepted, plus (NF − 1)·SF (hdlgen::rtl::lib::mvau_latency; the same in both modes).
//
// Memories (hdlgen_cfgmem, written in 32-bit lanes over cfg_*; contents survive rst):
//   weights    (wcfg_we) depth SF·NF, PE·SIMD bits: word nf·SF + sf, bit p·SIMD + i =
//              w[nf·PE + p][sf·SIMD + i] (1 = +1);
//   thresholds (tcfg_we, ACT 1 only) depth NF, PE·(TW+1) bits: word nf, bits
//              [p·(TW+1) +: TW+1] = {flip, f[TW−1:0]} of output nf·PE + p, where
//              f = −c − 1 (signed; v ≥ c is then the carry out of v + f + 1) and
//              c = ceil((cmp + MW) / 2) when MODE 0, MASKED 0 (compared with p:
//              2·p − MW ≥ cmp ⟺ p ≥ c; c in [0, MW + 1] for cmp in [−MW − 1, MW + 2]),
//              else c = cmp (hdlgen::rtl::params::mvau_threshold_field). NF = 4: the
//              four words live in this module's flip-flops (same write and read
//              behaviour as hdlgen_cfgmem's, a cheaper read multiplexer).
// A write puts cfg_data into lane cfg_lane (bits [32·lane +: 32], the last lane
// narrower) of word cfg_word. cfg_word/cfg_lane may be any width (zero-extended or
// truncated to the memory's; CFG_AW ≥ clog2(SF·NF) and CFG_LW ≥ clog2(lanes) to reach
// everything); a write with address or lane bits set above the memory's is ignored
// (CFG_CHECKED = 0; with 1 the caller guarantees in-range strobes).
// W_INIT/T_INIT: $readmemh files (one word per line; "" = none). Write while no vector
// is in flight; streaming may resume the next cycle (the cycle after a weight write
// the unit takes no input: en is low).
//
// Pipeline (one enable `en` stalls it all; en is a register: the output FIFO will have
// room; so in_ready = en & fold0 and out_valid depend on registers only, and a stalled
// beat is never lost):
//   issue: fold counters; the weight memory reads the issuing beat's word (address and
//          read enable are flip-flops); replay beat read two beats ahead
//   s1:    operand registers (live beat in fold 0, else the replayed one, which in a
//          replay ring of SF ≤ 4 beats is the head); the weight memory's read register
//   s2:    operands again (MODE 1 also −x); weight word register: block-RAM outputs feed
//          only flip-flops (on ECP5 a DP16KD's clock-to-out alone is 5.8 ns)
//   s3:    W_PIPE = 1 only: the weight word once more (w_p) and the operands in one kept
//          copy per XG PEs (MODE 1 −x there instead of in s2)
//   trees: XNOR&mask + popcount per PE (and a popcount of the mask), or ±x + addtree per
//          PE — popcount_latency(SIMD, REG_EVERY) stages (hdlgen_popcount's leaves
//          absorb the XNOR into their LUTs)
//   acc:   running sums (p and n, or Σ ±x) over the fold, restarted by its first beat
//          (per-PE copies of the valid and tag steer them); the last beat's totals go to
//          `res` (SF = 1: the beat's sums go to `res`, no running sums); threshold word
//          read (a stage earlier in the p domain)
//   res:   the fold's totals; then, a cycle later, the dots (2·p − n, or Σ ±x) or, in
//          the p domain, the compare (p ≥ c) ^ flip; thresholds registered
//   act:   ACT 1: (dot ≥ c) ^ flip (or the p-domain result), ACT 0: dot resized to OB
//          bits, registered
//   out:   PE lanes per fold collected into the vector; a 2-entry output FIFO (out_data
//          is its head register; the second entry keeps only the last fold's lanes, the
//          others wait in the collection registers, frozen while the FIFO is full); with
//          EN_PIPE, a 3-entry FIFO of whole vectors.
// rst (synchronous, active high) clears the control state (counters, valids, FIFO
// occupancy) only.
`default_nettype none
module hdlgen_mvau #(
    parameter integer MODE = 0,
    parameter integer MW = 16,
    parameter integer MH = 4,
    parameter integer PE = 2,
    parameter integer SIMD = 4,
    parameter integer IN_W = 1,
    parameter integer MASKED = 0,
    parameter integer ACT = 1,
    parameter integer OB = 1,
    parameter integer ACC_W = 6,
    parameter integer TW = 6,
    parameter integer REG_EVERY = 2,
    parameter W_INIT = "",
    parameter T_INIT = "",
    parameter integer CFG_AW = 1,
    parameter integer CFG_LW = 1,
    // STORE = 1 (`store: logic`): the weights are the constant WCONST (word a at bits
    // [a*PE*SIMD +: PE*SIMD], same layout as the memory), folded into logic; wcfg_we is
    // ignored.
    parameter integer STORE = 0,
    parameter [PE*SIMD*(MW/SIMD)*(MH/PE)-1:0] WCONST = 0,  // unsized: no 8k-bit replication
    // W_SPRAM = 1 (`store: spram`, iCE40 UltraPlus): the weight memory is single-port
    // SPRAM (hdlgen_cfgmem HUGE; no W_INIT, the weights are written after configuration).
    parameter integer W_SPRAM = 0,
    // CFG_REG = 1: the weight memory registers its writes (hdlgen_cfgmem WREG): in
    // flip-flops (at most 4 words) strobes and data, landing two cycles later; in block
    // RAM address, data and byte enables, landing a cycle later, while en is low. The
    // threshold memory registers its writes likewise (they happen while idle).
    parameter integer CFG_REG = 0,
    // W_PIPE = 1 (ECP5 plans, block-RAM weights): stage s3 between the weight word register
    // (which flow::netlist folds into the DP16KD output register) and the trees, a
    // flip-flop per weight bit that can sit beside its PE (MNIST conv2's on an 85F was
    // 7.35 ns of routing from the block RAM rows to its popcount leaves), and the operands
    // with it in a copy per XG PEs (an operand register into 32 PEs' adder trees: 6.1 ns
    // of routing). One cycle more latency.
    parameter integer W_PIPE = 0,
    parameter integer XG = 8,
    // X_COPY = 1 (ECP5 plans, PE > 16): without W_PIPE too, the operands the trees take (s2, and
    // MODE 1's −x) are in a kept copy per XG PEs (MNIST conv1's one register into 32 PEs'
    // adder trees was the critical path of an 85F placement at 150 MHz: 5.33 ns of
    // routing). Same latency.
    parameter integer X_COPY = 0,
    // EN_PIPE = 1 (ECP5 plans): en is decided a cycle earlier, from a flip-flop `go` set
    // while the output FIFO holds at most one vector, so its D input is one gate from
    // flip-flops beside it (en sits among its thousands of sinks: the route into it from
    // the FIFO count was an 85F critical path, 2.85 ns of 7.31). The vector pushed in the
    // cycle en still runs needs a third FIFO entry; all three hold whole vectors. fold0
    // and in_ready get a copy of en of their own (en_f). Same latency and throughput.
    parameter integer EN_PIPE = 0,
    // CFG_CHECKED = 1: wcfg_we/tcfg_we are only ever set for words and lanes inside their
    // memory (the top range-checks them in its registered bus copy, so the strobes reach
    // the memories' write decode straight from flip-flops); the checks here are left out.
    parameter integer CFG_CHECKED = 0
) (
    input  wire                                     clk,
    input  wire                                     rst,
    input  wire                                     in_valid,
    output wire                                     in_ready,
    input  wire [SIMD*((MODE == 1) ? IN_W : 1)-1:0] in_data,
    input  wire [SIMD-1:0]                          in_mask,
    output wire                                     out_valid,
    input  wire                                     out_ready,
    output wire [MH*OB-1:0]                         out_data,
    input  wire                                     wcfg_we,
    input  wire                                     tcfg_we,
    input  wire [CFG_AW-1:0]                        cfg_word,
    input  wire [CFG_LW-1:0]                        cfg_lane,
    input  wire [31:0]                              cfg_data
);
    localparam integer EW = (MODE == 1) ? IN_W : 1;         // element width
    localparam integer SF = MW / SIMD;
    localparam integer NF = MH / PE;
    localparam integer DEPTH = SF * NF;                     // weight words
    localparam integer AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam integer SW = (SF > 1) ? $clog2(SF) : 1;
    localparam integer NW = (NF > 1) ? $clog2(NF) : 1;
    localparam integer WW = PE * SIMD;                      // weight word
    localparam integer TWW = PE * (TW + 1);                 // threshold word
    localparam integer WLANES = (WW + 31) / 32;
    localparam integer TLANES = (TWW + 31) / 32;
    localparam integer WLW = (WW > 32) ? $clog2(WLANES) : 1;
    localparam integer TLW = (TWW > 32) ? $clog2(TLANES) : 1;
    localparam integer USE_MASK = (MODE == 0 && MASKED == 1) ? 1 : 0;
    localparam integer LEVELS = (SIMD <= 1) ? 0 : $clog2(SIMD);
    // Beat sum of one PE: popcount (MODE 0) or Σ ±x (MODE 1, addtree output width).
    localparam integer CW = (MODE == 1) ? (IN_W + 1 + LEVELS) : $clog2(SIMD + 1);
    localparam integer NCW = $clog2(SIMD + 1);              // counted taps of one beat
    localparam integer XW0 = (ACC_W > TW) ? ACC_W : TW;
    localparam integer XW = (XW0 > 2) ? XW0 : 2;           // compare width
    localparam integer LAST_SI = SF - 1;
    localparam integer LAST_NI = NF - 1;
    localparam integer LAST_AI = DEPTH - 1;
    localparam [SW-1:0] LAST_S = LAST_SI[SW-1:0];
    localparam [NW-1:0] LAST_N = LAST_NI[NW-1:0];
    localparam [AW-1:0] LAST_A = LAST_AI[AW-1:0];
    // Register stages of the popcount/adder trees (their LATENCY).
    function integer tree_lat;
        input integer levels;
        integer k, r;
        begin
            r = 0;
            for (k = 1; k <= levels; k = k + 1)
                if ((k % REG_EVERY) == 0 || k == levels) r = r + 1;
            tree_lat = (levels == 0) ? 1 : r;
        end
    endfunction
    localparam integer LAT = tree_lat(LEVELS);

    // ---------------------------------------------------------------- flow control
    // `en` advances the whole pipeline: a register, set when the output FIFO will have
    // room next cycle and no weight write happens this cycle (the cycle after a write,
    // the weight memory must not be read; see there). fold0 (the vector's first fold:
    // input taken) is a register too, and so is in_ready (= en && fold0, from their next
    // values), so the upstream engine's issue logic sees a flip-flop. en_c is en's copy
    // for the flow-control loop (issue, push, FIFO occupancy, en itself): en enables every
    // pipeline register and is spread over the engine, and the loop through it was an 85F
    // critical path. Both registers are kept: yosys's opt_merge folds identical flip-flops
    // unless both cells carry `keep`, which comes from the always block (a keep on the reg
    // marks only the wire, and the copy was merged away).
    wire [1:0] fifo_next;                         // output FIFO occupancy next cycle
    reg [1:0] fifo_n = 2'd0;                      // output FIFO occupancy
    reg en = 1'b1;
    reg en_c = 1'b1;
    reg [SW-1:0] sf = {SW{1'b0}};                 // beat of the fold being issued
    reg [NW-1:0] nf = {NW{1'b0}};                 // fold being issued
    reg fold0 = 1'b1;                             // nf == 0
    reg [AW-1:0] addr = {AW{1'b0}};               // weight word = nf·SF + sf
    reg in_rdy = 1'b1;
    assign in_ready = in_rdy;
    wire beat = en_c && (!fold0 || in_valid);    // a beat is issued this cycle
    wire beat_f;                                  // the same, from en_f (EN_PIPE)
    wire [SW-1:0] sf_next = (sf == LAST_S) ? {SW{1'b0}} : sf + 1'b1;
    wire [AW-1:0] addr_next = (addr == LAST_A) ? {AW{1'b0}} : addr + 1'b1;
    wire en_d;
    wire fold0_d = rst ? 1'b1 : (beat_f && sf == LAST_S) ? (nf == LAST_N) : fold0;
    generate
        if (EN_PIPE == 1) begin : g_enp
            // go: the FIFO holds at most one vector this cycle, so en (next cycle) may
            // push one more even if this cycle pushes too: at most three.
            reg go = 1'b1;
            reg en_f = 1'b1;
            always @(posedge clk) go <= fifo_next <= 2'd1;
            (* keep *) always @(posedge clk) en_f <= en_d;
            assign en_d = (go || rst) && !wcfg_we;    // ready again right after rst
            assign beat_f = en_f && (!fold0 || in_valid);
        end else begin : g_en
            assign en_d = (fifo_next != 2'd2) && !wcfg_we;
            assign beat_f = beat;
        end
    endgenerate
    (* keep *) always @(posedge clk) en <= en_d;
    (* keep *) always @(posedge clk) en_c <= en_d;
    always @(posedge clk) begin
        fold0 <= fold0_d;
        in_rdy <= en_d && fold0_d;
        if (rst) begin
            sf <= {SW{1'b0}};
            nf <= {NW{1'b0}};
            addr <= {AW{1'b0}};
        end else begin
            if (beat_f) begin
                sf <= sf_next;
                if (sf == LAST_S) nf <= (nf == LAST_N) ? {NW{1'b0}} : nf + 1'b1;
            end
            if (beat) addr <= addr_next;
        end
    end

    // ---------------------------------------------------------------- config bus
    // Word/lane of each memory: cfg_word/cfg_lane zero-extended or truncated to the
    // memory's address/lane width. A write whose upper bus bits are not zero is dropped
    // (it would alias a real word or lane); the remaining words past the end fall on
    // rows that are never read, and lanes past the end match no lane in hdlgen_cfgmem.
    // (Zero tests, not comparators: the write enables fan out to every memory bit.)
    wire [AW+CFG_AW-1:0] word_x = {{AW{1'b0}}, cfg_word};
    wire [WLW+CFG_LW-1:0] lane_x = {{WLW{1'b0}}, cfg_lane};
    wire w_word_ok, w_lane_ok;
    generate
        if (CFG_AW > AW && CFG_CHECKED == 0) begin : g_wword
            assign w_word_ok = ~|cfg_word[CFG_AW-1:AW];
        end else begin : g_wword_all
            assign w_word_ok = 1'b1;
        end
        if (CFG_LW > WLW && CFG_CHECKED == 0) begin : g_wlane
            assign w_lane_ok = ~|cfg_lane[CFG_LW-1:WLW];
        end else begin : g_wlane_all
            assign w_lane_ok = 1'b1;
        end
    endgenerate

    // ---------------------------------------------------------------- weights
    // Read with the pipeline (re = en) at `addr`, the word of the beat issued in the same
    // cycle, so w_m sits beside the beat's s1 operands and w_q beside its s2 operands;
    // the address and enable are flip-flops and the memory's output feeds only w_q. The
    // cycle after a weight write en is low: the next read is the written word.
    wire [WW-1:0] w_m;
    hdlgen_cfgmem #(.W(WW), .D(DEPTH), .INIT_FILE(W_INIT), .CONST(STORE), .CONST_DATA(WCONST),
                    .WREG(CFG_REG), .HUGE(W_SPRAM)) u_wmem (
        .clk(clk), .we(wcfg_we && w_word_ok && w_lane_ok), .waddr(word_x[AW-1:0]),
        .wlane(lane_x[WLW-1:0]), .wdata(cfg_data), .re(en), .raddr(addr), .rdata(w_m)
    );
    reg [WW-1:0] w_q;
    always @(posedge clk) if (en) w_q <= w_m;

    // ---------------------------------------------------------------- replay buffer
    // The vector's SF beats (data, and mask when it counts), written as fold 0 takes
    // them; r_q is the stored beat the issue stage needs this cycle (index sf), so the
    // operand register takes either the live beat (fold 0) or r_q: no multiplexer sits
    // between a memory output and the trees. SF ≤ 4: a ring of flip-flops shifted with
    // every issued beat (below). Larger:
    // block RAM read two beats ahead (replay reads are sequential) at ra = (sf + 2) mod
    // SF, a counter of its own so the address is a flip-flop, through the memory's read
    // register q and a flip-flop b that advance with each issued beat: when beat sf
    // issues, b = rbuf[sf] and q = rbuf[sf + 1]. Fold 0 primes them: its beats SF−2 and
    // SF−1 read entries 0 and 1, written by then (SF ≥ 3); reads never hit the entry
    // being written.
    localparam integer DB = SIMD * EW;                      // data bits of a beat
    localparam integer RW = DB + USE_MASK * SIMD;
    wire [RW-1:0] beat_in;
    wire [RW-1:0] r_q;
    wire [RW-1:0] s1_d;                                     // the beat's operands
    generate
        if (USE_MASK == 1) begin : g_bm
            assign beat_in = {in_mask, in_data};
        end else begin : g_bd
            assign beat_in = in_data;
            wire _unused_mask = &{1'b0, in_mask, 1'b0};
        end
        if (NF > 1) begin : g_replay
            wire take = in_valid && in_ready;
            if (SF > 4) begin : g_bram
                localparam integer RD = 1 << SW;
                localparam integer TWOI = 2;
                localparam [SW-1:0] RA0 = TWOI[SW-1:0];
                (* ram_style = "block", no_rw_check *) reg [RW-1:0] rbuf [0:RD-1];
                reg [RW-1:0] q, b;
                reg [SW-1:0] ra = RA0;                          // (sf + 2) mod SF
                always @(posedge clk)
                    if (rst) ra <= RA0;
                    else if (beat) ra <= (ra == LAST_S) ? {SW{1'b0}} : ra + 1'b1;
                always @(posedge clk) if (take) rbuf[sf] <= beat_in;
                always @(posedge clk)
                    if (beat) begin
                        q <= rbuf[ra];
                        b <= q;
                    end
                assign r_q = b;
            end else begin : g_ring
                // A ring of SF beats that shifts with every issued beat, fed by the operand
                // multiplexer itself (s1_d: the live beat in fold 0, else the ring's head),
                // so the head is always beat sf and the ring needs no multiplexer.
                reg [RW*SF-1:0] ring;
                if (SF == 1) begin : g_r1
                    always @(posedge clk) if (beat) ring <= s1_d;
                end else begin : g_rn
                    always @(posedge clk) if (beat) ring <= {ring[RW*(SF-1)-1:0], s1_d};
                end
                assign r_q = ring[RW*SF-1 -: RW];
                wire _unused_take = &{1'b0, take, 1'b0};
            end
        end else begin : g_noreplay
            assign r_q = {RW{1'b0}};
            wire _unused_r = &{1'b0, r_q, 1'b0};
        end
    endgenerate

    // ---------------------------------------------------------------- operands
    localparam integer TGW = 2 + NW;                        // {nf, last, first}
    reg s1_valid = 1'b0;
    reg s2_valid = 1'b0;
    reg [TGW-1:0] s1_tag;
    reg [TGW-1:0] s2_tag;
    reg [RW-1:0] s1_in;                                     // the beat's operands
    reg [RW-1:0] s2_in;
    assign s1_d = fold0 ? beat_in : r_q;
    always @(posedge clk) begin
        if (rst) begin
            s1_valid <= 1'b0;
            s2_valid <= 1'b0;
        end else if (en) begin
            s1_valid <= beat;
            s2_valid <= s1_valid;
        end
        if (en) begin
            s1_tag <= {nf, sf == LAST_S, sf == {SW{1'b0}}};
            s1_in <= s1_d;
            s2_tag <= s1_tag;
            s2_in <= s1_in;
        end
    end

    // What the trees take: valid and tag (ov, otag), the weight word (wt) and NG copies of
    // the operands (xs; copy g serves PEs g·XG .. g·XG + XG − 1), from s2, or with W_PIPE
    // from s3 (X_COPY: the copies are s2 itself).
    localparam integer NG = (W_PIPE == 1 || X_COPY == 1) ? (PE + XG - 1) / XG : 1;
    wire ov;
    wire [TGW-1:0] otag;
    wire [WW-1:0] wt;
    wire [NG*RW-1:0] xs;
    genvar gi;
    generate
        if (W_PIPE == 1) begin : g_s3
            reg s3_valid = 1'b0;
            reg [TGW-1:0] s3_tag;
            reg [WW-1:0] w_p;
            always @(posedge clk) begin
                if (rst) s3_valid <= 1'b0;
                else if (en) s3_valid <= s2_valid;
                if (en) begin
                    s3_tag <= s2_tag;
                    w_p <= w_q;
                end
            end
            for (gi = 0; gi < NG; gi = gi + 1) begin : g_x
                // Kept through the always block, as en_c: opt_merge would make one copy.
                reg [RW-1:0] s3_in;
                (* keep *) always @(posedge clk) if (en) s3_in <= s2_in;
                assign xs[gi*RW +: RW] = s3_in;
            end
            assign ov = s3_valid;
            assign otag = s3_tag;
            assign wt = w_p;
        end else if (NG > 1) begin : g_s2c
            // s2's operand register itself copied (s2_in is then left unused).
            wire _unused_s2 = &{1'b0, s2_in, 1'b0};
            for (gi = 0; gi < NG; gi = gi + 1) begin : g_x
                reg [RW-1:0] s2_c;
                (* keep *) always @(posedge clk) if (en) s2_c <= s1_in;
                assign xs[gi*RW +: RW] = s2_c;
            end
            assign ov = s2_valid;
            assign otag = s2_tag;
            assign wt = w_q;
        end else begin : g_s2
            assign ov = s2_valid;
            assign otag = s2_tag;
            assign wt = w_q;
            assign xs = s2_in;
        end
    endgenerate

    // Valid and {nf, last, first} ride a resettable shift register as deep as the trees.
    reg [LAT-1:0] pv = {LAT{1'b0}};
    reg [TGW*LAT-1:0] pt;
    wire pv_last_d;                                         // the last stage's inputs
    wire [TGW-1:0] pt_last_d;
    generate
        if (LAT == 1) begin : g_p1
            assign pv_last_d = ov;
            assign pt_last_d = otag;
            always @(posedge clk) begin
                if (rst) pv <= 1'b0;
                else if (en) pv <= ov;
                if (en) pt <= otag;
            end
        end else begin : g_pn
            assign pv_last_d = pv[LAT-2];
            assign pt_last_d = pt[TGW*(LAT-1)-1 -: TGW];
            always @(posedge clk) begin
                if (rst) pv <= {LAT{1'b0}};
                else if (en) pv <= {pv[LAT-2:0], ov};
                if (en) pt <= {pt[TGW*(LAT-1)-1:0], otag};
            end
        end
    endgenerate
    wire pc_valid = pv[LAT-1];
    wire [TGW-1:0] pc_tag = pt[TGW*LAT-1 -: TGW];
    wire pc_first = pc_tag[0];
    wire pc_last = pc_tag[1];
    wire [NW-1:0] pc_nf = pc_tag[TGW-1:2];

    // ---------------------------------------------------------------- trees
    wire [PE*CW-1:0] cnt;
    wire [ACC_W-1:0] n_beat;                                // counted taps (MODE 0, masked)
    genvar p, i;
    generate
        if (MODE == 0) begin : g_xnor
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                localparam integer G = p / XG % NG;
                wire [DB-1:0] x = xs[G*RW +: DB];
                wire [SIMD-1:0] mp;
                if (USE_MASK == 1) begin : g_mp
                    assign mp = xs[G*RW+DB +: SIMD];
                end else begin : g_mp1
                    assign mp = {SIMD{1'b1}};
                end
                wire [SIMD-1:0] agree = ~(x ^ wt[p*SIMD +: SIMD]) & mp;
                wire v_unused;
                wire t_unused;
                hdlgen_popcount #(.N(SIMD), .REG_EVERY(REG_EVERY), .TAG_W(1)) u_pc (
                    .clk(clk), .en(en), .in_valid(1'b0), .in_tag(1'b0), .in_bits(agree),
                    .out_valid(v_unused), .out_tag(t_unused), .count(cnt[p*CW +: CW])
                );
            end
            if (USE_MASK == 1) begin : g_n
                wire v_unused;
                wire t_unused;
                wire [NCW-1:0] n_cnt;
                // Counted taps from copy 0's mask (shared by the PEs).
                hdlgen_popcount #(.N(SIMD), .REG_EVERY(REG_EVERY), .TAG_W(1)) u_n (
                    .clk(clk), .en(en), .in_valid(1'b0), .in_tag(1'b0), .in_bits(xs[RW-1:DB]),
                    .out_valid(v_unused), .out_tag(t_unused), .count(n_cnt)
                );
                if (ACC_W > NCW) begin : g_ext
                    assign n_beat = {{(ACC_W - NCW){1'b0}}, n_cnt};
                end else begin : g_trunc
                    assign n_beat = n_cnt[ACC_W-1:0];
                    if (NCW > ACC_W) begin : g_hi
                        wire _unused_hi = &{1'b0, n_cnt[NCW-1:ACC_W], 1'b0};
                    end
                end
            end else begin : g_nomask
                assign n_beat = {ACC_W{1'b0}};
            end
        end else begin : g_int
            // −x_k is formed into the operands' last stage (one negation per lane, shared
            // by the PEs of a copy), so a PE's lane is a multiplexer in front of its tree.
            localparam integer NXW = SIMD * (EW + 1);
            wire [RW-1:0] nsrc = (W_PIPE == 1) ? s2_in : s1_in;
            wire [NXW-1:0] nx_d;
            wire [NG*NXW-1:0] nxs;
            for (i = 0; i < SIMD; i = i + 1) begin : g_neg
                wire [EW:0] xd = {nsrc[i*EW+EW-1], nsrc[i*EW +: EW]};
                assign nx_d[i*(EW+1) +: EW+1] = -xd;
            end
            for (gi = 0; gi < NG; gi = gi + 1) begin : g_nx
                reg [NXW-1:0] nx;
                (* keep *) always @(posedge clk) if (en) nx <= nx_d;
                assign nxs[gi*NXW +: NXW] = nx;
            end
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                localparam integer G = p / XG % NG;
                wire [DB-1:0] x = xs[G*RW +: DB];
                wire [NXW-1:0] nx = nxs[G*NXW +: NXW];
                wire [SIMD*(EW+1)-1:0] t;
                for (i = 0; i < SIMD; i = i + 1) begin : g_lane
                    wire [EW:0] xi = {x[i*EW+EW-1], x[i*EW +: EW]};
                    assign t[i*(EW+1) +: EW+1] = wt[p*SIMD + i] ? xi : nx[i*(EW+1) +: EW+1];
                end
                wire v_unused;
                wire t_unused;
                hdlgen_addtree #(.N(SIMD), .W(EW + 1), .REG_EVERY(REG_EVERY), .TAG_W(1)) u_at (
                    .clk(clk), .en(en), .in_valid(1'b0), .in_tag(1'b0), .in_data(t),
                    .out_valid(v_unused), .out_tag(t_unused), .sum(cnt[p*CW +: CW])
                );
            end
            assign n_beat = {ACC_W{1'b0}};
        end
    endgenerate

    // ---------------------------------------------------------------- accumulate
    // Running sums over the fold's beats: acc per PE (p in PW bits in MODE 0, exact as
    // p ≤ MW; Σ ±x modulo 2^ACC_W in MODE 1) and n_acc (counted taps). The fold's first
    // beat adds to zero instead of acc (an AND in front of the adder: a clear was a
    // synchronous reset broadcast over the PEs, merged with rst, and limited MNIST on the
    // 85F), and its last beat puts the totals into `res` from the adder's output. The
    // cycle after (acc_done):
    //   PCMP (MODE 0, unmasked, ACT 1): the compare in the popcount domain,
    //     p ≥ T = ceil((cmp + MW) / 2) ⟺ 2·p − MW ≥ cmp, registered (c1);
    //   else: the dot (2·p − n, or Σ ±x) into `dres`; the compare follows a cycle later.
    // Either way no path chains two adders.
    localparam integer PW = $clog2(MW + 1);                 // p
    localparam integer QW = (MODE == 1) ? ACC_W : PW;       // accumulator
    localparam integer PCMP = (MODE == 0 && USE_MASK == 0 && ACT == 1) ? 1 : 0;
    localparam integer KW = $clog2(MW + 2);                 // p-domain compare (T ≤ MW + 1)
    reg [PE*QW-1:0] res;
    reg [ACC_W-1:0] n_acc;
    reg acc_done = 1'b0;
    reg [NW-1:0] acc_nf;
    reg res_valid = 1'b0;
    reg [NW-1:0] res_nf;
    wire res_ce = en && pc_valid && pc_last;
    wire [ACC_W-1:0] n_sum = (pc_first ? {ACC_W{1'b0}} : n_acc) + n_beat;
    wire [ACC_W-1:0] n_fold;
    generate
        if (USE_MASK == 1) begin : g_nm
            assign n_fold = n_acc;
        end else if (MODE == 0) begin : g_nc
            localparam integer MWI = MW;
            assign n_fold = MWI[ACC_W-1:0];
        end else begin : g_n0
            assign n_fold = {ACC_W{1'b0}};
        end
        for (p = 0; p < PE; p = p + 1) begin : g_acc
            wire [CW-1:0] c = cnt[p*CW +: CW];
            wire [QW-1:0] c_acc;                            // c resized to QW
            if (QW > CW) begin : g_ext
                assign c_acc = {{(QW - CW){(MODE == 1) ? c[CW-1] : 1'b0}}, c};
            end else begin : g_trunc
                assign c_acc = c[QW-1:0];
                if (CW > QW) begin : g_hi
                    wire _unused_hi = &{1'b0, c[CW-1:QW], 1'b0};
                end
            end
            if (SF == 1) begin : g_whole
                // Every beat is its fold's only one: the total is the beat's sum (no
                // running sum, whose clear was an 85F critical path).
                always @(posedge clk) if (res_ce) res[p*QW +: QW] <= c_acc;
            end else begin : g_run
                // The running sum restarts at the fold's first beat (no clear, so no
                // reset and no synchronous-reset pin: beats in flight at rst never count,
                // pv is reset), steered by this PE's own copies of the tree's last-stage
                // valid and {last, first} (a shared one was broadcast over the engine,
                // MNIST conv2's critical path on the 85F at 106.5 MHz). Kept through the
                // always blocks, as en_c above: otherwise opt_merge makes them one again.
                reg v_p = 1'b0;
                reg f_p = 1'b0;
                reg l_p = 1'b0;
                (* keep *) always @(posedge clk)
                    if (rst) v_p <= 1'b0;
                    else if (en) v_p <= pv_last_d;
                (* keep *) always @(posedge clk) if (en) f_p <= pt_last_d[0];
                (* keep *) always @(posedge clk) if (en) l_p <= pt_last_d[1];
                reg [QW-1:0] acc;
                wire [QW-1:0] a_next = (f_p ? {QW{1'b0}} : acc) + c_acc;
                always @(posedge clk) begin
                    if (en && v_p) acc <= a_next;
                    if (en && v_p && l_p) res[p*QW +: QW] <= a_next;
                end
            end
        end
        wire _unused_acc = &{1'b0, res_ce, pv_last_d, pt_last_d, 1'b0};
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            acc_done <= 1'b0;
            res_valid <= 1'b0;
        end else if (en) begin
            acc_done <= pc_valid && pc_last;
            res_valid <= acc_done;
        end
        if (en && pc_valid) n_acc <= n_sum;
        if (en && pc_valid && pc_last) acc_nf <= pc_nf;
        if (en && acc_done) res_nf <= acc_nf;
    end

    // ---------------------------------------------------------------- activation
    // Thresholds: word nf is read so that t_q holds the fold's {flip, f} when the compare
    // runs: from the memory's read register into t_q (block-RAM outputs feed flip-flops
    // only; all of it advances with en). PCMP compares in the acc_done cycle, so the word
    // is read a stage before the fold's last beat leaves the trees (with the tag one
    // stage behind pc); otherwise as it leaves them, for the compare a cycle later.
    // f = −c − 1 (c = T or cmp), so v ≥ c is the carry out of v + f + 1: one carry chain
    // of flip-flop operands, no inverters, and its last LUT applies flip.
    wire [PE*OB-1:0] act;
    wire [PE-1:0] c1_d;                                     // PCMP compare results
    reg [PE*ACC_W-1:0] dres;                                // acc_done stage: dots
    reg [PE-1:0] c1;                                        // ... or PCMP results
    generate
        if (ACT == 1) begin : g_thr
            wire t_word_ok, t_lane_ok;
            if (CFG_AW > NW && CFG_CHECKED == 0) begin : g_tword
                assign t_word_ok = ~|cfg_word[CFG_AW-1:NW];
            end else begin : g_tword_all
                assign t_word_ok = 1'b1;
            end
            if (CFG_LW > TLW && CFG_CHECKED == 0) begin : g_tlane
                assign t_lane_ok = ~|cfg_lane[CFG_LW-1:TLW];
            end else begin : g_tlane_all
                assign t_lane_ok = 1'b1;
            end
            wire [NW+CFG_AW-1:0] tword_x = {{NW{1'b0}}, cfg_word};
            wire [TLW+CFG_LW-1:0] tlane_x = {{TLW{1'b0}}, cfg_lane};
            wire [NW-1:0] t_raddr;
            if (PCMP == 0) begin : g_tr_pc
                assign t_raddr = pc_nf;
            end else if (LAT >= 2) begin : g_tr_pt
                assign t_raddr = pt[TGW*(LAT-1)-1 -: NW];   // the nf of the tag before pc
            end else begin : g_tr_s2
                assign t_raddr = otag[TGW-1:2];
            end
            reg [TWW-1:0] t_q;
            wire t_we = tcfg_we && t_word_ok && t_lane_ok;
            if (NF == 4) begin : g_t4
                // Four words in flip-flops (as hdlgen_cfgmem keeps them), read through a
                // multiplexer split at the read register so that each half is one LUT4
                // per bit: a = s1 ? s0 : word[s0] (registered), then s1 ? word[2 + a] : a.
                // Same read timing as hdlgen_cfgmem (writes happen while no vector is in
                // flight, so words 0 and 1 may be sampled a cycle early).
                reg [TWW-1:0] tmem [0:3];
                if (T_INIT != "") begin : g_init
                    initial $readmemh(T_INIT, tmem);
                end
                genvar tl, ta;
                // CFG_REG: each (word, lane) strobe and the data are registered first, so
                // the decode is off the words' clock enables (a write lands a cycle later).
                localparam integer TDW = (TWW < 32) ? TWW : 32;   // bits a lane holds
                reg [TDW-1:0] t_d;
                always @(posedge clk) if (t_we) t_d <= cfg_data[TDW-1:0];
                for (tl = 0; tl < TLANES; tl = tl + 1) begin : g_lane
                    localparam integer LO = 32 * tl;
                    localparam integer NB = (TWW - LO) < 32 ? (TWW - LO) : 32;
                    localparam [TLW-1:0] LANE = tl;
                    for (ta = 0; ta < 4; ta = ta + 1) begin : g_word
                        localparam [1:0] ADDR = ta;
                        wire hit = t_we && tlane_x[TLW-1:0] == LANE && tword_x[1:0] == ADDR;
                        if (CFG_REG == 1) begin : g_wq
                            reg stb = 1'b0;
                            always @(posedge clk) stb <= hit;
                            always @(posedge clk) if (stb) tmem[ta][LO +: NB] <= t_d[NB-1:0];
                        end else begin : g_wd
                            always @(posedge clk) if (hit) tmem[ta][LO +: NB] <= cfg_data[NB-1:0];
                        end
                    end
                end
                if (CFG_REG == 0) begin : g_td_unused
                    wire _unused_td = &{1'b0, t_d, 1'b0};
                end
                reg [TWW-1:0] t_a;
                reg t_s1;
                always @(posedge clk)
                    if (en) begin
                        t_a <= t_raddr[1] ? {TWW{t_raddr[0]}} : (t_raddr[0] ? tmem[1] : tmem[0]);
                        t_s1 <= t_raddr[1];
                        t_q <= t_s1 ? ((t_a & tmem[3]) | (~t_a & tmem[2])) : t_a;
                    end
            end else begin : g_tmem
                wire [TWW-1:0] t_m;
                hdlgen_cfgmem #(.W(TWW), .D(NF), .INIT_FILE(T_INIT), .WREG(CFG_REG)) u_tmem (
                    .clk(clk), .we(t_we), .waddr(tword_x[NW-1:0]),
                    .wlane(tlane_x[TLW-1:0]), .wdata(cfg_data), .re(en), .raddr(t_raddr),
                    .rdata(t_m)
                );
                always @(posedge clk) if (en) t_q <= t_m;
            end
            for (p = 0; p < PE; p = p + 1) begin : g_cmp
                wire flip = t_q[p*(TW+1) + TW];
                wire [TW-1:0] f = t_q[p*(TW+1) +: TW];
                if (PCMP == 1) begin : g_pd
                    // p + f + 1 over KW bits: carry out = p ≥ T (f = ~T in KW bits).
                    wire [KW-1:0] pk;
                    if (KW > PW) begin : g_pk
                        assign pk = {{(KW - PW){1'b0}}, res[p*QW +: QW]};
                    end else begin : g_pk1
                        assign pk = res[p*QW +: QW];
                    end
                    wire [KW-1:0] fk;
                    if (KW > TW) begin : g_fx
                        assign fk = {{(KW - TW){f[TW-1]}}, f};
                    end else begin : g_f
                        assign fk = f[KW-1:0];
                        if (TW > KW) begin : g_fhi
                            wire _unused_fhi = &{1'b0, f[TW-1:KW], 1'b0};
                        end
                    end
                    wire [KW+1:0] s = {1'b0, pk, 1'b1} + {1'b0, fk, 1'b1};
                    assign c1_d[p] = s[KW+1] ^ flip;
                    assign act[p] = 1'b0;
                    wire _unused_s = &{1'b0, s[KW:0], 1'b0};
                end else begin : g_dd
                    // dres + f + 1 ≥ 0 over XW + 1 signed bits.
                    wire [XW-1:0] v, fx;
                    if (XW > ACC_W) begin : g_vx
                        assign v = {{(XW - ACC_W){dres[p*ACC_W+ACC_W-1]}}, dres[p*ACC_W +: ACC_W]};
                    end else begin : g_v
                        assign v = dres[p*ACC_W +: ACC_W];
                    end
                    if (XW > TW) begin : g_fx
                        assign fx = {{(XW - TW){f[TW-1]}}, f};
                    end else begin : g_f
                        assign fx = f;
                    end
                    wire [XW+1:0] s = {v[XW-1], v, 1'b1} + {fx[XW-1], fx, 1'b1};
                    assign act[p] = ~s[XW+1] ^ flip;
                    assign c1_d[p] = 1'b0;
                    wire _unused_s = &{1'b0, s[XW:0], 1'b0};
                end
            end
            wire _unused_t = &{1'b0, tword_x, tlane_x, 1'b0};
        end else begin : g_none
            for (p = 0; p < PE; p = p + 1) begin : g_out
                if (OB > ACC_W) begin : g_ext
                    assign act[p*OB +: OB] = {{(OB - ACC_W){dres[p*ACC_W+ACC_W-1]}}, dres[p*ACC_W +: ACC_W]};
                end else begin : g_trunc
                    assign act[p*OB +: OB] = dres[p*ACC_W +: OB];
                    if (ACC_W > OB) begin : g_hi
                        wire _unused_hi = &{1'b0, dres[p*ACC_W+OB +: ACC_W-OB], 1'b0};
                    end
                end
            end
            assign c1_d = {PE{1'b0}};
            wire _unused_t = &{1'b0, tcfg_we, 1'b0};
        end
    endgenerate

    // The acc_done stage: the dots (dres) or, with PCMP, the compare results (c1).
    generate
        if (PCMP == 1) begin : g_c1
            always @(posedge clk) if (en && acc_done) c1 <= c1_d;
            always @(*) dres = {(PE*ACC_W){1'b0}};
            wire _unused_d = &{1'b0, dres, n_fold, 1'b0};
        end else begin : g_dres
            for (p = 0; p < PE; p = p + 1) begin : g_d
                wire [ACC_W-1:0] r;                         // res resized to ACC_W
                if (ACC_W > QW) begin : g_rx
                    assign r = {{(ACC_W - QW){1'b0}}, res[p*QW +: QW]};
                end else begin : g_r
                    assign r = res[p*QW +: ACC_W];
                    if (QW > ACC_W) begin : g_rhi
                        wire _unused_rhi = &{1'b0, res[p*QW+ACC_W +: QW-ACC_W], 1'b0};
                    end
                end
                always @(posedge clk)
                    if (en && acc_done)
                        dres[p*ACC_W +: ACC_W] <= (MODE == 0) ? {r[ACC_W-2:0], 1'b0} - n_fold : r;
            end
            always @(*) c1 = {PE{1'b0}};
            wire _unused_c1 = &{1'b0, c1, c1_d, 1'b0};
        end
    endgenerate

    // The activated fold, registered (the compare's carry chain ends here); act_last:
    // it is the vector's last fold (the push below is one gate of flip-flops).
    reg act_valid = 1'b0;
    reg act_last = 1'b0;
    reg [NW-1:0] act_nf;
    reg [PE*OB-1:0] act_q;
    wire [PE*OB-1:0] act_d;
    generate
        if (PCMP == 1) begin : g_ad_c1
            assign act_d = c1;
            wire _unused_act = &{1'b0, act, 1'b0};
        end else begin : g_ad
            assign act_d = act;
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            act_valid <= 1'b0;
            act_last <= 1'b0;
        end else if (en_c) begin
            act_valid <= res_valid;
            act_last <= res_valid && res_nf == LAST_N;
        end
        if (en && res_valid) begin
            act_q <= act_d;
            act_nf <= res_nf;
        end
    end

    // ---------------------------------------------------------------- collect + FIFO
    // Fold f < NF−1 leaves its lanes f·PE .. f·PE + PE − 1 in `col`; the last fold's
    // lanes come straight from act_q as the whole vector is pushed.
    wire push = en_c && act_last;
    genvar f;
    generate
        if (NF == 1) begin : g_one
            wire _unused_a = &{1'b0, act_valid, act_nf, 1'b0};
        end else begin : g_many
            for (f = 0; f < NF - 1; f = f + 1) begin : g_slot
                localparam [NW-1:0] FI = f;
                reg [PE*OB-1:0] col;
                always @(posedge clk) if (en && act_valid && act_nf == FI) col <= act_q;
            end
        end
    endgenerate

    reg [MH*OB-1:0] f0;                         // head (out_data)
    reg o_valid = 1'b0;                         // fifo_n != 0, as a flip-flop
    wire pop = out_valid && out_ready;
    assign fifo_next = rst ? 2'd0 : fifo_n + {1'b0, push} - {1'b0, pop};
    assign out_valid = o_valid;
    assign out_data = f0;
    always @(posedge clk) begin
        fifo_n <= fifo_next;
        o_valid <= fifo_next != 2'd0;
    end
    generate
        if (EN_PIPE == 1) begin : g_fifo3
            // Three whole vectors (en runs a cycle after the FIFO holds two, so the
            // collection registers may take the next vector's folds meanwhile). The
            // incoming vector is {act_q, col[NF-2], ..., col[0]}; entries shift towards
            // the head on a pop. Loads into entries that stay empty are harmless.
            wire [MH*OB-1:0] vin;
            reg [MH*OB-1:0] f1, f2;
            assign vin[MH*OB-1 -: PE*OB] = act_q;
            if (NF > 1) begin : g_vcol
                for (f = 0; f < NF - 1; f = f + 1) begin : g_v
                    assign vin[f*PE*OB +: PE*OB] = g_many.g_slot[f].col;
                end
            end
            always @(posedge clk) begin
                if (pop || (push && fifo_n == 2'd0)) f0 <= (fifo_n[1]) ? f1 : vin;
                if (pop || (push && fifo_n == 2'd1)) f1 <= (fifo_n == 2'd3) ? f2 : vin;
                if (push) f2 <= vin;
            end
        end else begin : g_fifo2
            // The second entry needs only its last fold's lanes (s_last): the vector that
            // fills the FIFO is pushed with en high, and en is low from the next cycle
            // until a pop (fifo_n == 2 ⟹ en == 0), so its other folds stay in `col`, which
            // changes only with en, and act_q (which may take the next fold as it is
            // pushed) is the only part that must be kept. f0 loads `col` from one source
            // and multiplexes PE·OB bits only.
            reg [PE*OB-1:0] s_last;                 // second entry: its last fold's lanes
            wire f0_load = pop ? (fifo_n == 2'd2 || push) : (push && fifo_n == 2'd0);
            wire [PE*OB-1:0] last_d = (fifo_n == 2'd2) ? s_last : act_q;
            always @(posedge clk) begin
                if (f0_load) f0[MH*OB-1 -: PE*OB] <= last_d;
                if (push && fifo_n == 2'd1 && !pop) s_last <= act_q;
            end
            if (NF > 1) begin : g_f0col
                for (f = 0; f < NF - 1; f = f + 1) begin : g_f0s
                    always @(posedge clk) if (f0_load) f0[f*PE*OB +: PE*OB] <= g_many.g_slot[f].col;
                end
            end
        end
    endgenerate

    wire _unused_ok = &{1'b0, word_x, lane_x, 1'b0};
endmodule
`default_nettype wire
