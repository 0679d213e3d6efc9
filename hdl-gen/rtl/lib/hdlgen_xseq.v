// hdlgen_xseq: layer sequencer of a layer-sequential BNN engine for small parts. It runs
// one binary convolution (+ threshold, + optional 2×2 max-pool, or its plain sums) per
// `start`, from a feature map in its block RAM banks to another, on one hdlgen_xcore of
// 4 pixels × PE outputs × SIMD inputs: every weight word read serves a 2×2 block of
// output pixels. A dense layer after `flatten` is the convolution whose kernel is the
// whole map (one output pixel).
//
// Feature maps: H×W pixels of C bits in four banks, bank (y mod 2)·2 + (x mod 2), each
// 2^BA words of SIMD bits: pixel (y, x) chunk k (bits [k·SIMD +: SIMD], k < C/SIMD) is at
// word base + (y>>1)·RS + (x>>1)·CH + k of its bank, with CH = C/SIMD and RS = ceil(W/2)·CH.
// For one tap, the input pixels of a 2×2 output block lie in four different banks, so
// one read of every bank feeds all four pixels: the core routes each bank's counts to
// its pixel (xcore in_rot). The last word of every bank (2^BA − 1) is all ones and read
// for taps outside the input map (padding `one`); maps must leave it alone.
//
// Descriptor (inputs, valid from the cycle before `start` (taken while !busy) until `done`):
//   d_ih, d_iw, d_ich, d_irs            input map: height, width, CH, RS
//   d_k, d_p, d_pone                    kernel K×K, stride 1, P rows/columns of padding on
//                                       the top/left (output (oy, ox) reads input
//                                       (oy + ky − P, ox + kx − P)); outside the map a tap
//                                       counts 0 (d_pone = 0: zero padding, masked) or is
//                                       all +1 (d_pone = 1)
//   d_row0, d_col0                      the incremental address origin, from the generator
//                                       (hdlgen::rtl::xseq::Desc): d_row0[r] = base +
//                                       floor(i_r / 2)·RS mod 2^BA, i_r the input row of
//                                       parity r among −P and −P + 1; d_col0[c] =
//                                       floor(j_c / 2)·CH mod 2^BA over columns
//   d_oh, d_ow, d_ng                    output map height, width; groups = C_out / PE
//   d_pool                              2×2 max-pool (OR of the four thresholded pixels;
//                                       a block reaching past the map writes nothing: floor)
//   d_och, d_ors, d_obase               output (or pooled) map CH, RS, base
//   d_final                             no threshold, no write: the sums leave on acc_*
//   d_wbase, d_tbase                    weight and threshold memory bases
// Weights: the word of group g, tap (ky, kx), chunk k is at d_wbase + ((g·K + ky)·K + kx)·ICH
// + k (PE·SIMD bits, output p at bits [p·SIMD +: SIMD]), read again for every block;
// w_data must show the word at w_addr one cycle later (block RAM or SPRAM read register).
// w_addr runs a beat ahead of the issue and w_data is registered here: the weights travel
// from the memory (an SPRAM in a corner of a UP5K) to the core in a cycle of their own.
// Thresholds: word d_tbase + g = PE fields {flip, t} of TW + 1 bits (hdlgen_xcore's
// in_thr/in_flip), same latency; t_addr is that of the group whose results the core
// announces (pre_tag), so t_data comes with them. Written maps: C_out must be a multiple of SIMD.
// Loop order: blocks in raster order, groups, ky, kx, chunks; one beat a cycle, so from
// the cycle `start` is high to the one `done` is: ceil(OH/2)·ceil(OW/2)·NG·K·K·ICH beats
// + 4 + the core's latency (hdlgen::rtl::xseq::xseq_cycles).
// External write port (ext_*): preloads a map (the engine's front end, or a test); it waits
// while the sequencer writes (ext_ready from a flip-flop). tap_*: every sequencer write.
`default_nettype none
module hdlgen_xseq #(
    parameter integer PE = 2,
    parameter integer SIMD = 32,
    parameter integer AW = 13,
    parameter integer TW = 13,
    parameter integer REG_EVERY = 2,
    parameter integer BA = 8,
    parameter integer WA = 14,
    parameter integer TA = 8,
    parameter integer DW = 6
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,
    output wire                 busy,
    output reg                  done,
    input  wire [DW-1:0]        d_ih,
    input  wire [DW-1:0]        d_iw,
    input  wire [DW-1:0]        d_ich,
    input  wire [BA-1:0]        d_irs,
    input  wire [2:0]           d_k,
    input  wire [2:0]           d_p,
    input  wire                 d_pone,
    input  wire [2*BA-1:0]      d_row0,
    input  wire [2*BA-1:0]      d_col0,
    input  wire [DW-1:0]        d_oh,
    input  wire [DW-1:0]        d_ow,
    input  wire [DW-1:0]        d_ng,
    input  wire                 d_pool,
    input  wire [DW-1:0]        d_och,
    input  wire [BA-1:0]        d_ors,
    input  wire [BA-1:0]        d_obase,
    input  wire                 d_final,
    input  wire [WA-1:0]        d_wbase,
    input  wire [TA-1:0]        d_tbase,
    output wire [WA-1:0]        w_addr,
    input  wire [PE*SIMD-1:0]   w_data,
    output wire [TA-1:0]        t_addr,
    input  wire [PE*(TW+1)-1:0] t_data,
    input  wire                 ext_we,
    input  wire [1:0]           ext_bank,
    input  wire [BA-1:0]        ext_addr,
    input  wire [SIMD-1:0]      ext_data,
    output wire                 ext_ready,
    output wire                 tap_valid,
    output wire [3:0]           tap_banks,
    output wire [BA-1:0]        tap_addr,
    output wire [4*SIMD-1:0]    tap_data,
    output wire                 acc_valid,
    output wire [4*PE*AW-1:0]   acc_data,
    output wire [DW-1:0]        acc_group
);
    localparam integer SW = DW + 2;                 // signed input coordinates
    localparam integer GPW = SIMD / PE;             // groups per written word
    localparam integer GB = (GPW > 1) ? $clog2(GPW) : 1;
    localparam integer GPW_L = GPW - 1;
    // Tag through the core: final, word end, end of layer, bank mask, write address, g.
    localparam integer TGW = 3 + 4 + BA + DW;

    wire signed [SW-1:0] p_s = {{(SW-3){1'b0}}, d_p};
    wire signed [SW-1:0] two = 2;
    wire [DW-1:0] one_u = 1;
    wire [DW-1:0] two_u = 2;
    wire [GB-1:0] gpos_l = GPW_L[GB-1:0];
    // Counters as address terms (BA >= DW).
    wire [BA+DW-1:0] ich_x = {{BA{1'b0}}, d_ich};
    wire [BA+DW-1:0] och_x = {{BA{1'b0}}, d_och};
    wire [BA-1:0] ich_a = ich_x[BA-1:0];
    wire [BA-1:0] och_a = och_x[BA-1:0];
    wire [DW-1:0] k_u = {{(DW-3){1'b0}}, d_k};
    wire [DW-1:0] nby = (d_oh + 1'b1) >> 1;
    wire [DW-1:0] nbx = (d_ow + 1'b1) >> 1;

    // ---------------------------------------------------------------- loop state
    // Each counter's "at its last value" flag is a flip-flop, set when the counter
    // takes its last value, so the loop's advance logic is a few gates of flip-flops.
    reg run = 1'b0;
    reg [DW-1:0] by = 0, bx = 0, g = 0, ch = 0, ky = 0, kx = 0;
    reg lch = 1'b0, lkx = 1'b0, lky = 1'b0, lg = 1'b0, lbx = 1'b0, lby = 1'b0;
    reg signed [SW-1:0] uy0 = 0, ux0 = 0;           // 2·by − P, 2·bx − P
    reg signed [SW-1:0] u = 0, ux = 0;              // uy0 + ky, ux0 + kx
    reg [DW-1:0] oy = 0, ox = 0;                    // 2·by, 2·bx
    reg [1:0] vy = 2'd0, vx = 2'd0;                 // slot rows / columns inside the map
    wire [DW-1:0] three_u = 3;
    reg [BA-1:0] rb0 = 0, rb1 = 0, cb0 = 0, cb1 = 0;   // block address parts per parity
    reg [BA-1:0] tr0 = 0, tr1 = 0, tc0 = 0, tc1 = 0;   // tap address parts per parity
    reg [WA-1:0] wad = 0;                           // the next beat's weight word
    reg [BA-1:0] orow = 0, ocol = 0;                // output address parts of the block
    reg [BA-1:0] chunk = 0;                         // output word of group g
    reg [GB-1:0] gpos = 0;                          // g mod GPW

    // Which loops advance after this beat: the products of the flags, kept in flip-flops
    // of their own (each the product of the flags' next values), so every enable of the
    // loop state is one gate from flip-flops.
    wire a_kx = lch;                                // the tap column advances
    reg a_ky = 1'b0, a_g = 1'b0, a_bx = 1'b0, a_by = 1'b0;   // a_g: a group's last beat
    wire finish = run && a_by && lby;
    wire ich1 = d_ich == one_u, k1 = k_u == one_u, ng1 = d_ng == one_u;
    wire nbx1 = nbx == one_u, nby1 = nby == one_u;
    wire ich2 = d_ich == two_u, k2 = k_u == two_u, ng2 = d_ng == two_u;
    wire nbx2 = nbx == two_u, nby2 = nby == two_u;
    // Every flag's next value is a multiplexer of flip-flops, and their products (a_*)
    // one gate more (the compares were the UP5K's critical path):
    // - the descriptor's facts ("a loop of one / two iterations", count − 3) are loaded
    //   while idle, so the descriptor must be stable from the cycle before `start`;
    // - "the next value is the last" needs "the counter is at its second-to-last
    //   value", a flag of its own (e*), kept like the last-value flags, its compare (the
    //   counter against count − 3) made a cycle early, when the counter steps up.
    reg [DW-1:0] ich_3 = 0, k_3 = 0, ng_3 = 0, nbx_3 = 0, nby_3 = 0;
    reg ich1_q = 1'b0, k1_q = 1'b0, ng1_q = 1'b0, nbx1_q = 1'b0, nby1_q = 1'b0;
    reg ich2_q = 1'b0, k2_q = 1'b0, ng2_q = 1'b0, nbx2_q = 1'b0, nby2_q = 1'b0;
    always @(posedge clk)
        if (!run) begin
            ich_3 <= d_ich - three_u;
            k_3 <= k_u - three_u;
            ng_3 <= d_ng - three_u;
            nbx_3 <= nbx - three_u;
            nby_3 <= nby - three_u;
            ich1_q <= ich1;
            k1_q <= k1;
            ng1_q <= ng1;
            nbx1_q <= nbx1;
            nby1_q <= nby1;
            ich2_q <= ich2;
            k2_q <= k2;
            ng2_q <= ng2;
            nbx2_q <= nbx2;
            nby2_q <= nby2;
        end
    reg ech = 1'b0, ekx = 1'b0, eky = 1'b0, eg = 1'b0, ebx = 1'b0, eby = 1'b0;
    always @(posedge clk)
        if (!rst) begin
            ech <= (!run || lch) ? ich2_q : ch == ich_3;
            ekx <= !run ? k2_q : !a_kx ? ekx : lkx ? k2_q : kx == k_3;
            eky <= !run ? k2_q : !a_ky ? eky : lky ? k2_q : ky == k_3;
            eg <= !run ? ng2_q : !a_g ? eg : lg ? ng2_q : g == ng_3;
            ebx <= !run ? nbx2_q : !a_bx ? ebx : lbx ? nbx2_q : bx == nbx_3;
            eby <= !run ? nby2_q : !a_by ? eby : by == nby_3;
        end
    wire lch_n = (!run || lch) ? ich1_q : ech;
    wire lkx_n = !run ? k1_q : !a_kx ? lkx : lkx ? k1_q : ekx;
    wire lky_n = !run ? k1_q : !a_ky ? lky : lky ? k1_q : eky;
    wire lg_n = !run ? ng1_q : !a_g ? lg : lg ? ng1_q : eg;
    wire lbx_n = !run ? nbx1_q : !a_bx ? lbx : lbx ? nbx1_q : ebx;
    wire lby_n = !run ? nby1_q : !a_by ? lby : eby;
    always @(posedge clk) begin
        if (!rst) begin
            lch <= lch_n;
            lkx <= lkx_n;
            lky <= lky_n;
            lg <= lg_n;
            lbx <= lbx_n;
            lby <= lby_n;
            a_ky <= lch_n && lkx_n;
            a_g <= lch_n && lkx_n && lky_n;
            a_bx <= lch_n && lkx_n && lky_n && lg_n;
            a_by <= lch_n && lkx_n && lky_n && lg_n && lbx_n;
        end
    end
    wire b_first = ch == 0 && kx == 0 && ky == 0;

    always @(posedge clk) begin
        if (rst) begin
            run <= 1'b0;
        end else if (!run) begin
            // Idle: the loop state follows the descriptor, so `start` only sets `run`
            // (it reaches no other register's enable).
            run <= start;
            by <= 0; bx <= 0; g <= 0; ch <= 0; ky <= 0; kx <= 0;
            uy0 <= -p_s; ux0 <= -p_s; u <= -p_s; ux <= -p_s;
            oy <= 0; ox <= 0;
            vy <= {one_u < d_oh, d_oh != 0};
            vx <= {one_u < d_ow, d_ow != 0};
            rb0 <= d_row0[0 +: BA]; rb1 <= d_row0[BA +: BA];
            tr0 <= d_row0[0 +: BA]; tr1 <= d_row0[BA +: BA];
            cb0 <= d_col0[0 +: BA]; cb1 <= d_col0[BA +: BA];
            tc0 <= d_col0[0 +: BA]; tc1 <= d_col0[BA +: BA];
            wad <= d_wbase; orow <= d_obase; ocol <= 0; chunk <= 0; gpos <= 0;
        end else if (run) begin
            if (finish) run <= 1'b0;
            // Weight words run d_wbase + ((g·K + ky)·K + kx)·ICH + ch: one a beat, from
            // d_wbase again after a block's last beat (a_bx).
            wad <= a_bx ? d_wbase : wad + 1'b1;
            ch <= lch ? {DW{1'b0}} : ch + 1'b1;
            if (a_kx) begin
                if (!lkx) begin
                    kx <= kx + 1'b1;
                    ux <= ux + 1'b1;
                    if (ux[0]) tc1 <= tc1 + ich_a;   // the column of ux's parity moves on
                    else tc0 <= tc0 + ich_a;
                end else begin
                    kx <= 0;
                    ux <= ux0;
                    tc0 <= cb0;
                    tc1 <= cb1;
                end
            end
            if (a_ky) begin
                if (!lky) begin
                    ky <= ky + 1'b1;
                    u <= u + 1'b1;
                    if (u[0]) tr1 <= tr1 + d_irs;
                    else tr0 <= tr0 + d_irs;
                end else begin
                    ky <= 0;
                    u <= uy0;
                    tr0 <= rb0;
                    tr1 <= rb1;
                end
            end
            if (a_g) begin
                if (gpos == gpos_l || lg) begin
                    gpos <= 0;
                    chunk <= lg ? {BA{1'b0}} : chunk + 1'b1;
                end else begin
                    gpos <= gpos + 1'b1;
                end
                if (!lg) begin
                    g <= g + 1'b1;
                end else begin
                    g <= 0;
                end
            end
            if (a_bx) begin
                if (!lbx) begin
                    bx <= bx + 1'b1;
                    ox <= ox + two_u;
                    vx <= {ox + three_u < d_ow, ox + two_u < d_ow};
                    ux0 <= ux0 + two;
                    ux <= ux0 + two;
                    cb0 <= cb0 + ich_a;
                    cb1 <= cb1 + ich_a;
                    tc0 <= cb0 + ich_a;
                    tc1 <= cb1 + ich_a;
                    if (!d_pool || bx[0]) ocol <= ocol + och_a;
                end else begin
                    bx <= 0;
                    ox <= 0;
                    vx <= {one_u < d_ow, d_ow != 0};
                    ux0 <= -p_s;
                    ux <= -p_s;
                    cb0 <= d_col0[0 +: BA];
                    cb1 <= d_col0[BA +: BA];
                    tc0 <= d_col0[0 +: BA];
                    tc1 <= d_col0[BA +: BA];
                    ocol <= 0;
                end
            end
            if (a_by) begin
                by <= by + 1'b1;
                oy <= oy + two_u;
                vy <= {oy + three_u < d_oh, oy + two_u < d_oh};
                uy0 <= uy0 + two;
                u <= uy0 + two;
                rb0 <= rb0 + d_irs;
                rb1 <= rb1 + d_irs;
                tr0 <= rb0 + d_irs;
                tr1 <= rb1 + d_irs;
                if (!d_pool || by[0]) orow <= orow + d_ors;
            end
        end
    end
    assign busy = run || pend;

    // ---------------------------------------------------------------- issue (S0 -> S1)
    // Input rows u, u + 1 (columns ux, ux + 1): bank row r holds the one of parity r and
    // feeds output slot row r ^ u[0] (so slot s reads bank s ^ {u[0], ux[0]}).
    wire signed [SW-1:0] iy0 = u[0] ? u + 1'b1 : u;       // the even row
    wire signed [SW-1:0] iy1 = u[0] ? u : u + 1'b1;       // the odd row
    wire signed [SW-1:0] ix0 = ux[0] ? ux + 1'b1 : ux;
    wire signed [SW-1:0] ix1 = ux[0] ? ux : ux + 1'b1;
    wire signed [SW-1:0] ih_s = {2'b00, d_ih};
    wire signed [SW-1:0] iw_s = {2'b00, d_iw};
    wire [1:0] vr = {iy1 >= 0 && iy1 < ih_s, iy0 >= 0 && iy0 < ih_s};   // per bank row
    wire [1:0] vc = {ix1 >= 0 && ix1 < iw_s, ix0 >= 0 && ix0 < iw_s};   // per bank column
    wire [1:0] rot = {u[0], ux[0]};
    wire [BA+DW-1:0] ch_x = {{BA{1'b0}}, ch};
    wire [BA-1:0] chunk_in = ch_x[BA-1:0];
    // Where this group's results go: no pool, pixel (oy + dy, ox + dx) in bank (dy, dx)
    // at one address; pooled, pixel (by, bx) in bank (by, bx) mod 2 when the block is
    // whole.
    wire [3:0] slots = {vy[1] & vx[1], vy[1] & vx[0], vy[0] & vx[1], vy[0] & vx[0]};
    wire [BA-1:0] wa = orow + ocol + chunk;
    wire [3:0] pbank = (4'd1 << {by[0], bx[0]}) & {4{&slots}};
    wire [3:0] wmask = d_final ? 4'd0 : d_pool ? pbank : slots;
    wire word_end = gpos == gpos_l || lg;

    // S1: per bank its word's address and whether its pixel is inside the input map;
    // weight and threshold addresses (their data, like the banks', arrive with S2).
    reg s1_v = 1'b0, s1_first = 1'b0, s1_last = 1'b0;
    reg [4*BA-1:0] s1_sum = 0;
    reg [1:0] s1_vr = 2'd0, s1_vc = 2'd0;
    reg [3:0] s1_slots = 4'd0;
    reg [1:0] s1_rot = 2'd0;
    reg [TGW-1:0] s1_tag = 0;
    always @(posedge clk) begin
        s1_v <= run && !rst;
        s1_first <= b_first;
        s1_last <= a_g;
        s1_sum <= {tr1 + tc1 + chunk_in, tr1 + tc0 + chunk_in, tr0 + tc1 + chunk_in,
                   tr0 + tc0 + chunk_in};
        s1_vr <= vr;
        s1_vc <= vc;
        s1_slots <= slots;
        s1_rot <= rot;
        s1_tag <= {g, wa, wmask, finish, word_end, d_final};
    end
    // A bank whose pixel is outside the input map reads the ones word (padding `one`;
    // with zero padding the slot is masked). Slot s counts when its output pixel is in
    // the map and its tap is inside the input map or padding `one`.
    wire [3:0] inb = {s1_vr[1] & s1_vc[1], s1_vr[1] & s1_vc[0], s1_vr[0] & s1_vc[1],
                      s1_vr[0] & s1_vc[0]};
    wire [BA-1:0] ones_a = {BA{1'b1}};
    wire [4*BA-1:0] raddr;
    wire [3:0] m;
    genvar b;
    generate
        for (b = 0; b < 4; b = b + 1) begin : g_m
            localparam [1:0] SL = b;
            wire [1:0] bk = SL ^ s1_rot;
            assign m[b] = s1_slots[b] && (inb[bk] || d_pone);
            assign raddr[b*BA +: BA] = inb[b] ? s1_sum[b*BA +: BA] : ones_a;
        end
    endgenerate

    // ---------------------------------------------------------------- banks
    reg [3:0] wr_q = 4'd0;                  // sequencer writes (data: the collector)
    reg [BA-1:0] wr_addr = 0;
    reg [4*SIMD-1:0] col = 0;
    // ext_ready = (wr_q == 0) as a flip-flop of its own: the front end's register slice
    // and the banks' write enables hang off it (a UP5K critical path through both).
    reg ext_rdy = 1'b1;
    assign ext_ready = ext_rdy;
    wire ext_go = ext_we && ext_ready;
    wire [4*SIMD-1:0] rdata;
    generate
        for (b = 0; b < 4; b = b + 1) begin : g_bank
            // no_rw_check: a run's reads never meet a write to their word (the maps a run
            // reads and writes are apart, and the front end writes the other copy of the
            // first map); a block RAM's read data would be undefined there, and yosys's
            // bypass for it cost 320 flip-flops. Simulation stops on such a collision.
            (* no_rw_check *) reg [SIMD-1:0] mem [0:(1<<BA)-1];
            reg [SIMD-1:0] q = {SIMD{1'b0}};
            integer i;
            initial begin
                for (i = 0; i < (1 << BA) - 1; i = i + 1) mem[i] = {SIMD{1'b0}};
                mem[(1 << BA) - 1] = {SIMD{1'b1}};
            end
            always @(posedge clk) begin
                if (wr_q[b])
                    mem[wr_addr] <= col[b*SIMD +: SIMD];
                else if (ext_go && ext_bank == b)
                    mem[ext_addr] <= ext_data;
                q <= mem[raddr[b*BA +: BA]];
            end
            assign rdata[b*SIMD +: SIMD] = q;
`ifndef SYNTHESIS
            always @(posedge clk)
                if (s1_v && ((wr_q[b] && wr_addr == raddr[b*BA +: BA]) ||
                             (ext_go && ext_bank == b && ext_addr == raddr[b*BA +: BA])))
                    $fatal(1, "hdlgen_xseq: bank %0d word %0d is read and written in one cycle",
                           b, raddr[b*BA +: BA]);
`endif
        end
    endgenerate

    // The weight word of the beat in S1 (read in its S0), registered for S2.
    assign w_addr = wad;
    reg [PE*SIMD-1:0] w_q = {(PE*SIMD){1'b0}};
    always @(posedge clk) w_q <= w_data;

    // S2: the core's inputs (bank data straight from the block RAMs, weights from w_q).
    reg s2_v = 1'b0, s2_first = 1'b0, s2_last = 1'b0;
    reg [3:0] s2_m = 4'd0;
    reg [1:0] s2_rot = 2'd0;
    reg [TGW-1:0] s2_tag = 0;
    always @(posedge clk) begin
        s2_v <= s1_v && !rst;
        s2_first <= s1_first;
        s2_last <= s1_last;
        s2_m <= m;
        s2_rot <= s1_rot;
        s2_tag <= s1_tag;
    end

    // ---------------------------------------------------------------- core
    wire c_v;
    wire [4*PE*AW-1:0] c_acc;
    wire [4*PE-1:0] c_bits;
    wire [TGW-1:0] c_tag;
    wire c_pre;
    wire [TGW-1:0] c_pre_tag;
    // A group's thresholds are read when the core announces its results (pre_tag's g),
    // so they arrive with them instead of riding along the core's pipeline.
    wire [DW-1:0] pre_g = c_pre_tag[7+BA +: DW];
    wire [TA+DW-1:0] pre_gx = {{TA{1'b0}}, pre_g};
    assign t_addr = d_tbase + pre_gx[TA-1:0];
    wire [PE*TW-1:0] thr;
    wire [PE-1:0] flip;
    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : g_thr
            assign thr[p*TW +: TW] = t_data[p*(TW+1) +: TW];
            assign flip[p] = t_data[p*(TW+1) + TW];
        end
    endgenerate
    hdlgen_xcore #(
        .PE(PE),
        .SIMD(SIMD),
        .PIX(4),
        .AW(AW),
        .TW(TW),
        .TAG_W(TGW),
        .REG_EVERY(REG_EVERY)
    ) u_core (
        .clk(clk),
        .rst(rst),
        .in_valid(s2_v),
        .in_first(s2_first),
        .in_last(s2_last),
        .in_w(w_q),
        .in_x(rdata),
        .in_m(s2_m),
        .in_rot(s2_rot),
        .in_thr(thr),
        .in_flip(flip),
        .in_tag(s2_tag),
        .pre_valid(c_pre),
        .pre_tag(c_pre_tag),
        .out_valid(c_v),
        .out_acc(c_acc),
        .out_bits(c_bits),
        .out_tag(c_tag)
    );

    // ---------------------------------------------------------------- write back
    // Per slot, the thresholded bits of successive groups shift in from the top, so group
    // g's PE bits land at [(g mod GPW)·PE +: PE] of its word; pooled, the OR of the slots.
    // A word is written from the collector the cycle after its last group arrived.
    // The thresholded bits are registered first (the compare's carry chain, the pool's OR
    // and the collector's input would not fit one cycle at 48 MHz on a UP5K).
    reg o_v = 1'b0;
    reg [4*PE-1:0] o_bits = 0;
    reg [7+BA-1:0] o_tag = 0;                      // the tag without g
    always @(posedge clk) begin
        o_v <= c_v && !rst;
        o_bits <= c_bits;
        o_tag <= c_tag[7+BA-1:0];
    end
    wire o_final = o_tag[0];
    wire o_end = o_tag[1];
    wire o_eol = o_tag[2];
    wire [3:0] o_mask = o_tag[3 +: 4];
    wire [BA-1:0] o_addr = o_tag[7 +: BA];
    wire [PE-1:0] por = o_bits[0 +: PE] | o_bits[PE +: PE] | o_bits[2*PE +: PE]
                        | o_bits[3*PE +: PE];
    wire [4*SIMD-1:0] col_nx;
    generate
        for (b = 0; b < 4; b = b + 1) begin : g_col
            wire [PE-1:0] in_b = d_pool ? por : o_bits[b*PE +: PE];
            if (SIMD > PE) begin : g_sh
                assign col_nx[b*SIMD +: SIMD] = {in_b, col[b*SIMD + PE +: SIMD - PE]};
            end else begin : g_one
                assign col_nx[b*SIMD +: SIMD] = in_b;
            end
        end
    endgenerate
    wire [3:0] wr_d = (o_v && !o_final && o_end && !rst) ? o_mask : 4'd0;
    always @(posedge clk) begin
        if (o_v && !o_final) col <= col_nx;
        wr_q <= wr_d;
        ext_rdy <= wr_d == 4'd0;
        wr_addr <= o_addr;
    end
    assign tap_valid = wr_q != 4'd0;
    assign tap_banks = wr_q;
    assign tap_addr = wr_addr;
    assign tap_data = col;
    assign acc_valid = c_v && c_tag[0];
    assign acc_data = c_acc;
    assign acc_group = c_tag[7 + BA +: DW];

    // ---------------------------------------------------------------- done
    // The layer's last group leaves the core: its write (if any) lands at the end of the
    // cycle `done` is high, so a next layer started then reads the finished map.
    reg pend = 1'b0;
    always @(posedge clk) begin
        done <= o_v && o_eol && !rst;
        if (rst || (o_v && o_eol)) pend <= 1'b0;
        else if (finish) pend <= 1'b1;
    end
    wire _unused_ok = &{1'b0, ich_x[BA+DW-1:BA], och_x[BA+DW-1:BA], ch_x[BA+DW-1:BA],
                        pre_gx[TA+DW-1:TA], c_pre, c_pre_tag[7+BA-1:0], 1'b0};
endmodule
`default_nettype wire
