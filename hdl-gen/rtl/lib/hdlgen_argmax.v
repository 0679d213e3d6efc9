// hdlgen_argmax: the BNN output layer (hdlgen::layers::output): scores and prediction.
//
// One input beat = the accumulators of all CLS classes: lane c = in_data[c*IN_W +: IN_W],
// signed. For each input beat the engine emits CLS output beats in class order
// c = 0 .. CLS-1:
//     out_score = acc_c * scale_c + bias_c   (signed, exact in SW bits: IN_W + 33 always
//                                             suffices; a smaller SW is exact whenever the
//                                             scores fit, since the sum is taken mod 2^SW)
//     out_last  = (c == CLS-1)
//     out_pred  = index of the maximum score of classes 0 .. c, ties -> lowest index; on
//                 the out_last beat this is the prediction of the whole beat.
// 1 <= IN_W <= 32, SW >= 4.
//
// Parameters: scale/bias memory (hdlgen_cfgmem, depth CLS, 64-bit words): word c bits
// [31:0] = scale_c, [63:32] = bias_c (both signed 32). Initial contents from S_INIT
// ($readmemh, "" = none); a cfg write (cfg_we) puts cfg_data into lane cfg_lane (0 =
// scale, 1 = bias) of word cfg_word (= class); writes to a word >= CLS or a lane >= 2 are
// ignored. Write only while the engine is idle (no beat accepted and not yet emitted);
// a write takes effect for beats accepted from the third cycle after it on (the memory
// registers its writes, WREG: the word check is then off the block RAM's byte enables).
//
// Multiply: bit-serial over the accumulator bits, IN_W cycles per class, with no carry
// chain in the loop (no IN_W x 32 multiplier, no wide adder per step). With n = IN_W,
//     acc*scale + bias = sum_{j<n-1} a_j*scale*2^j + a_{n-1}*(~scale)*2^(n-1)
//                        + (bias + a_{n-1}*2^(n-1))
// (-scale = ~scale + 1). The product {H, L} (H 34 bits kept in carry-save form hs + hc,
// L the n low bits) starts as H = bias + a_{n-1}*2^(n-1) (hs = bias, hc = that one bit),
// L = acc; step j adds a_j * (scale, or ~scale for j = n-1) to H with a 3:2 compressor and
// shifts right: the bit leaving H is exact and enters L. Afterwards H = hs + hc is
// resolved by a carry-propagate adder in two pipelined 17-bit halves.
//
// Pipeline: input register R (all lanes; lane c moves to L when class c starts, then R
// shifts by IN_W) -> multiplier (IN_W cycles per class) -> Q1 (carry-save product) ->
// Q2 (low half resolved) -> score register B, where the score is compared with the
// running maximum in 16-bit parts (registered, one cycle) and then leaves (one cycle) ->
// output register. in_ready and out_valid come from registers only. R is free again as
// soon as the last class of its beat has started, so the next beat loads while that class
// is multiplied. The scale/bias word of the next class to start is read one step ahead
// and registered once more before use (block-RAM clock-to-out), so classes start at
// least 2 cycles apart.
//
// Timing (in_valid always high, out_ready always high), exactly:
//     interval = CLS * max(IN_W, 2) cycles per input beat
// (the multiplier never idles for IN_W >= 2; B takes a score every 2 cycles at most).
// From an idle engine, beat 1 is taken (CLS-1) * max(IN_W, 2) + 2 cycles after beat 0,
// every later beat `interval` cycles after the previous, and the out_last beats leave
// `interval` cycles apart from the first on.
// Latency: out_valid of class 0 rises IN_W + 6 cycles after the cycle in which its beat
// was accepted by an idle engine; class c follows c * max(IN_W, 2) cycles later.
// rst (synchronous, active high) clears the control state only; scale/bias survive it.
`default_nettype none
module hdlgen_argmax #(
    parameter integer CLS = 10,
    parameter integer IN_W = 8,
    parameter integer SW = 41,
    parameter S_INIT = "",
    parameter integer CFG_AW = 4,
    parameter integer CFG_LW = 1
) (
    input  wire                                    clk,
    input  wire                                    rst,
    input  wire                                    in_valid,
    output wire                                    in_ready,
    input  wire [CLS*IN_W-1:0]                     in_data,
    output wire                                    out_valid,
    input  wire                                    out_ready,
    output wire [SW-1:0]                           out_score,
    output wire                                    out_last,
    output wire [((CLS > 1) ? $clog2(CLS) : 1)-1:0] out_pred,
    input  wire                                    cfg_we,
    input  wire [CFG_AW-1:0]                       cfg_word,
    input  wire [CFG_LW-1:0]                       cfg_lane,
    input  wire [31:0]                             cfg_data
);
    localparam integer PW = (CLS > 1) ? $clog2(CLS) : 1;     // class index width
    localparam integer RW = CLS * IN_W;                      // input register
    localparam integer HW = 34;                              // high product part
    localparam integer HK = HW / 2;                          // its resolved low half
    localparam integer CP = 16;                              // compare part width
    localparam integer NP = (SW + CP - 1) / CP;              // compare parts
    localparam integer PRW = HW + IN_W;                      // product {H, L}
    localparam integer IW = (IN_W > 1) ? $clog2(IN_W) : 1;   // step counter
    localparam integer CLS_LAST_I = CLS - 1;
    localparam integer I_PEN_I = IN_W - 2;                   // step before the last
    localparam integer LANES_I = 2;
    wire [PW-1:0] CLS_LAST = CLS_LAST_I[PW-1:0];
    wire [IW-1:0] I_PEN = I_PEN_I[IW-1:0];
    wire [PW-1:0] ZERO_P = {PW{1'b0}};

    // ---------------------------------------------------------------- config bus
    // Writes to words >= CLS or lanes >= LANES_I are ignored (checked where the bus can
    // address them; a narrower bus is zero-extended).
    wire word_ok;
    wire lane_ok;
    generate
        if ((1 << CFG_AW) > CLS) begin : g_word_chk
            wire [CFG_AW:0] lim = CLS[CFG_AW:0];
            assign word_ok = {1'b0, cfg_word} < lim;
        end else begin : g_word_all
            assign word_ok = 1'b1;
        end
        if ((1 << CFG_LW) > LANES_I) begin : g_lane_chk
            wire [CFG_LW:0] lim = LANES_I[CFG_LW:0];
            assign lane_ok = {1'b0, cfg_lane} < lim;
        end else begin : g_lane_all
            assign lane_ok = 1'b1;
        end
    endgenerate
    wire [PW+CFG_AW-1:0] word_x = {{PW{1'b0}}, cfg_word};   // zero-extend or truncate

    // ---------------------------------------------------------------- state
    // Input register: lane 0 is the accumulator of class nc, the next class to start.
    reg [RW-1:0] r = {RW{1'b0}};
    reg r_full = 1'b0;
    reg [PW-1:0] nc = {PW{1'b0}};

    // Multiplier.
    reg m_act = 1'b0;                     // a class is being multiplied
    reg m_tail = 1'b0;                    // ... and the next step is its last (sign bit)
    reg [IW-1:0] i = {IW{1'b0}};          // step
    reg pen = 1'b0;                       // i == I_PEN, as a flip-flop
    reg [HW-1:0] hs = {HW{1'b0}};         // H = hs + hc
    reg [HW-1:0] hc = {HW{1'b0}};
    reg [IN_W-1:0] l = {IN_W{1'b0}};
    reg [31:0] s = 32'd0;                 // scale, or ~scale for the sign step
    reg [PW-1:0] m_idx = {PW{1'b0}};
    reg m_last = 1'b0;
    reg [63:0] sb_r = 64'd0;              // scale/bias word of class nc, registered

    // Q1: carry-save product; Q2: low half of H resolved.
    reg q1_valid = 1'b0;
    reg [HW-1:0] q1_s = {HW{1'b0}};
    reg [HW-1:0] q1_c = {HW{1'b0}};
    reg [IN_W-1:0] q1_l = {IN_W{1'b0}};
    reg [PW-1:0] q1_idx = {PW{1'b0}};
    reg q1_last = 1'b0;
    reg q2_valid = 1'b0;
    reg [HK:0] q2_lo = {(HK+1){1'b0}};    // with its carry out
    reg [HW-HK-1:0] q2_s = {(HW-HK){1'b0}};
    reg [HW-HK-1:0] q2_c = {(HW-HK){1'b0}};
    reg [IN_W-1:0] q2_l = {IN_W{1'b0}};
    reg [PW-1:0] q2_idx = {PW{1'b0}};
    reg q2_last = 1'b0;

    // Score register and its comparison with the running maximum.
    reg b_valid = 1'b0;
    reg [SW-1:0] b_score = {SW{1'b0}};
    reg [PW-1:0] b_idx = {PW{1'b0}};
    reg b_last = 1'b0;
    reg b_first = 1'b0;                   // class 0
    reg [NP-1:0] p_gt = {NP{1'b0}};       // per 16-bit part: b_score > best, ==
    reg [NP-1:0] p_eq = {NP{1'b0}};

    // Running maximum of the current beat.
    reg [SW-1:0] best = {SW{1'b0}};
    reg [PW-1:0] bidx = {PW{1'b0}};

    // Output register.
    reg ov = 1'b0;
    reg [SW-1:0] o_score = {SW{1'b0}};
    reg o_last = 1'b0;
    reg [PW-1:0] o_pred = {PW{1'b0}};

    // ---------------------------------------------------------------- control
    // A score leaves B into an empty output register after its compare cycle. Scores
    // are at least 2 cycles apart, so with out_ready high this never waits. Q1 and Q2
    // take an item only when empty (each item stays there one cycle, so this never slows
    // the flow), which keeps the enables short. B's phase b_ph is 0 in its compare cycle
    // (p_gt/p_eq are being registered) and 1 after. c_fire (b_valid && b_ph && !ov) and
    // b_ready (!b_valid || c_fire: B takes a score this edge) are flip-flops, computed
    // from the next state like `go` below, because they enable the wide B, best and
    // output registers.
    reg c_fire = 1'b0;
    reg b_ready = 1'b1;
    wire q2_move = q2_valid && b_ready;
    wire q1_move = q1_valid && !q2_valid;
    wire m_fin = m_act && m_tail && !q1_valid;        // last step done this edge
    // Class nc starts at this edge when `go`; starts are at least 2 cycles apart (sb_r,
    // below). `go` and the multiplier's enable `mce` are flip-flops: the start and step
    // conditions (r_full && (!m_act || m_fin) && !started; m_act && (!m_tail ||
    // !q1_valid)) evaluated on the next state, so the wide multiplier and input
    // registers hang off flip-flops, not off a chain of gates (the UP5K's critical path
    // before).
    reg go = 1'b0;
    reg mce = 1'b0;                                   // go || the multiplier steps
    wire m_step = mce && !go;
    wire nc_last = nc == CLS_LAST;
    wire accept = in_valid && !r_full;
    assign in_ready = !r_full;
    wire r_full_d = rst ? 1'b0 : accept ? 1'b1 : (go && nc_last) ? 1'b0 : r_full;
    wire m_act_d = rst ? 1'b0 : go ? 1'b1 : m_fin ? 1'b0 : m_act;
    wire m_tail_d = go ? (IN_W == 1) : m_step ? pen : m_tail;
    wire q1_valid_d = rst ? 1'b0 : q1_valid ? q2_valid : m_fin;   // !q1_move = q2_valid
    wire go_d = r_full_d && !go && (!m_act_d || (m_tail_d && !q1_valid_d));
    wire step_d = m_act_d && (!m_tail_d || !q1_valid_d);
    wire q2_valid_d = rst ? 1'b0 : q2_valid ? !q2_move : q1_move;
    wire b_valid_d = rst ? 1'b0 : b_ready ? q2_valid : b_valid;
    wire b_ph_d = rst ? 1'b0 : !b_ready && b_valid;    // only its next value is needed
    wire ov_d = rst ? 1'b0 : ov ? !out_ready : c_fire;
    wire c_fire_d = b_valid_d && b_ph_d && !ov_d;

    // Scale/bias memory: rdata holds the word of class nc (read one step ahead; nc1 is
    // the class after nc, kept as a register so the address is one LUT of flip-flops),
    // sb_r the same one cycle later (block-RAM output straight into flip-flops): after a
    // start, sb_r is the next class's word one edge after rdata, hence no two starts on
    // consecutive edges.
    reg [PW-1:0] nc1 = (CLS > 1) ? 1 : 0;
    wire [PW-1:0] NC1_0 = (CLS > 1) ? 1 : 0;
    wire [63:0] sb;
    hdlgen_cfgmem #(
        .W(64),
        .D(CLS),
        .INIT_FILE(S_INIT),
        .WREG(1)
    ) u_mem (
        .clk(clk),
        .we(cfg_we && word_ok && lane_ok),
        .waddr(word_x[PW-1:0]),
        .wlane(cfg_lane[0]),
        .wdata(cfg_data),
        .re(1'b1),
        .raddr(rst ? ZERO_P : go ? nc1 : nc),   // after rst: class 0
        .rdata(sb)
    );

    // ---------------------------------------------------------------- multiplier
    // One step: hs + hc + l[0]*s = cs + 2*cm (bitwise 3:2), then H/2: hs = cs >>> 1,
    // hc = cm, and cs[0] leaves into L.
    wire [HW-1:0] ad = {HW{l[0]}} & {{(HW-32){s[31]}}, s};
    wire [HW-1:0] cs = hs ^ hc ^ ad;
    wire [HW-1:0] cm = (hs & hc) | (hs & ad) | (hc & ad);
    wire [HW-1:0] hs_nx = {cs[HW-1], cs[HW-1:1]};
    wire [IN_W:0] l_sh = {cs[0], l};
    wire [IN_W-1:0] l_nx = l_sh[IN_W:1];
    // Start: hs = bias, hc = a_{n-1} * 2^(n-1), s = scale (or ~scale when n = 1).
    wire [HW-1:0] corr = {{(HW-1){1'b0}}, r[IN_W-1]} << (IN_W - 1);

    always @(posedge clk) begin
        r_full <= r_full_d;
        m_act <= m_act_d;
        m_tail <= m_tail_d;
        go <= go_d;
        mce <= go_d || step_d;
        if (rst) begin
            nc <= {PW{1'b0}};
            nc1 <= NC1_0;
        end else if (go) begin
            nc <= nc1;
            nc1 <= (nc1 == CLS_LAST) ? ZERO_P : nc1 + 1'b1;
        end
        sb_r <= sb;
        if (accept) r <= in_data;
        else if (go) r <= r >> IN_W;
        if (mce) begin
            if (go) begin
                i <= {IW{1'b0}};
                pen <= I_PEN == {IW{1'b0}};
                hs <= {{(HW-32){sb_r[63]}}, sb_r[63:32]};
                hc <= corr;
                l <= r[IN_W-1:0];
                s <= (IN_W == 1) ? ~sb_r[31:0] : sb_r[31:0];
                m_idx <= nc;
                m_last <= nc_last;
            end else begin
                i <= i + 1'b1;
                pen <= i + 1'b1 == I_PEN;
                hs <= hs_nx;
                hc <= cm;
                l <= l_nx;
                if (pen) s <= ~s;
            end
        end
    end

    // ---------------------------------------------------------------- resolve H
    wire [HK:0] lo_sum = {1'b0, q1_s[HK-1:0]} + {1'b0, q1_c[HK-1:0]};
    wire [HW-HK:0] hi_c = {q2_s, 1'b1} + {q2_c, q2_lo[HK]};   // + carry-in
    wire [PRW-1:0] prod = {hi_c[HW-HK:1], q2_lo[HK-1:0], q2_l};
    wire [PRW+SW-1:0] prod_x = {{SW{prod[PRW-1]}}, prod};   // to SW bits (mod 2^SW)

    always @(posedge clk) begin
        if (rst) begin
            q1_valid <= 1'b0;
            q2_valid <= 1'b0;
        end else begin
            q1_valid <= q1_valid_d;
            q2_valid <= q2_valid_d;
        end
        if (!q1_valid) begin
            q1_s <= hs_nx;
            q1_c <= cm;
            q1_l <= l_nx;
            q1_idx <= m_idx;
            q1_last <= m_last;
        end
        if (!q2_valid) begin
            q2_lo <= lo_sum;
            q2_s <= q1_s[HW-1:HK];
            q2_c <= q1_c[HW-1:HK];
            q2_l <= q1_l;
            q2_idx <= q1_idx;
            q2_last <= q1_last;
        end
    end

    // ---------------------------------------------------------------- compare, output
    // Signed b_score > best: sign bits inverted, then unsigned, in parts of CP bits.
    wire [SW:0] sign_x = {1'b1, {SW{1'b0}}};
    wire [SW-1:0] bu = b_score ^ sign_x[SW:1];
    wire [SW-1:0] mu = best ^ sign_x[SW:1];
    wire [NP-1:0] gt_c;
    wire [NP-1:0] eq_c;
    genvar p;
    generate
        for (p = 0; p < NP; p = p + 1) begin : g_part
            localparam integer LO = p * CP;
            localparam integer N = (SW - LO) < CP ? (SW - LO) : CP;
            assign gt_c[p] = bu[LO +: N] > mu[LO +: N];
            assign eq_c[p] = bu[LO +: N] == mu[LO +: N];
        end
    endgenerate
    reg gt;                               // from the registered parts, low to high
    integer k;
    always @* begin
        gt = 1'b0;
        for (k = 0; k < NP; k = k + 1) gt = p_gt[k] || (p_eq[k] && gt);
    end
    wire newbest = b_first || gt;

    always @(posedge clk) begin
        b_valid <= b_valid_d;                   // q2_move
        ov <= ov_d;
        c_fire <= c_fire_d;
        b_ready <= !b_valid_d || c_fire_d;
        if (b_ready) begin
            b_score <= prod_x[SW-1:0];
            b_idx <= q2_idx;
            b_last <= q2_last;
            b_first <= q2_idx == ZERO_P;
        end
        p_gt <= gt_c;
        p_eq <= eq_c;
        if (c_fire && newbest) begin
            best <= b_score;
            bidx <= b_idx;
        end
        if (c_fire) begin
            o_score <= b_score;
            o_last <= b_last;
            o_pred <= newbest ? b_idx : bidx;
        end
    end

    assign out_valid = ov;
    assign out_score = o_score;
    assign out_last = o_last;
    assign out_pred = o_pred;
    wire _unused_ok = &{1'b0, word_x, cfg_lane, prod_x[PRW+SW-1:SW], hi_c[0], l_sh[0],
                        sign_x[0], 1'b0};
endmodule
`default_nettype wire
