// hdlgen_link: the host link of a board top (docs/protocol.md). Frames arrive over the
// UART receiver's byte stream, are held in a buffer while their CRC-8 is checked, and only
// a frame whose CRC, type and length are right is applied: configuration writes go to the
// network's cfg bus, an image's beats to its input stream. Every frame is answered (ACK,
// NACK with a reason, or INFO); every classified image is sent back as a RESULT frame.
// The host waits for a frame's answer before it sends the next (bytes that arrive while a
// frame is being applied are not parsed).
//
// Host → board: A5 | type | len (u16 LE) | payload | crc8(type, len, payload)
// Board → host: 5A | type | len (u16 LE) | payload | crc8(type, len, payload)
// CRC-8: polynomial 0x07, initial value 0, no reflection (CRC-8/SMBUS).
//
// Timing: the link runs at the design clock (48 MHz and more on an iCE40), so every
// decision is a LUT or two of flip-flops. Bytes arrive and leave at least 10·CPB ≥ 80
// cycles apart, so each comparison a decision needs (last byte of the payload, CRC equal,
// length and type valid, timeout, the next byte to send) is kept in a flip-flop computed
// from the registers it depends on one cycle earlier; it has long settled when the next
// byte comes. The buffer is applied one byte every three cycles for the same reason: the
// flags of byte n settle in the cycles between bytes n and n + 1, and the block RAM's
// output feeds a flip-flop only.
`default_nettype none
module hdlgen_link #(
    parameter integer CPB = 104,       // clocks per UART bit
    parameter integer IN_W = 8,        // bits per input beat
    parameter integer IN_BYTES = 1,    // bytes per input beat on the wire
    parameter integer BEATS = 64,      // input beats per image
    parameter integer BUF_AW = 10,     // frame buffer: 2^BUF_AW bytes
    parameter integer CFG_AW = 16,     // cfg address width
    parameter integer CLS = 10,        // classes
    parameter integer SW = 32,         // score width
    parameter integer SB = 4,          // bytes per score on the wire
    parameter integer PW = 4,          // predicted-class width
    parameter [31:0] DESIGN_ID = 32'h0,
    parameter integer IDLE_BYTES = 16  // a frame silent this long is dropped (NACK 4)
) (
    input  wire               clk,
    input  wire               rst,
    input  wire               rx_valid,
    input  wire [7:0]         rx_data,
    input  wire               rx_ferr,
    output reg                tx_valid,
    input  wire               tx_ready,
    output reg  [7:0]         tx_data,
    output reg                cfg_we,
    output reg  [CFG_AW-1:0]  cfg_addr,
    output reg  [31:0]        cfg_data,
    output reg                in_valid,
    input  wire               in_ready,
    output reg  [IN_W-1:0]    in_data,
    input  wire               out_valid,
    output wire               out_ready,
    input  wire [SW-1:0]      out_score,
    input  wire               out_last,
    input  wire [PW-1:0]      out_pred,
    output reg                busy,
    output reg                error
);
    localparam [7:0] T_CFG = 8'h01, T_IMAGE = 8'h02, T_INFO = 8'h03;
    localparam [7:0] R_ACK = 8'h81, R_NACK = 8'h82, R_INFO = 8'h83, R_RESULT = 8'h84;
    localparam [7:0] E_CRC = 8'd1, E_TYPE = 8'd2, E_LEN = 8'd3, E_TIMEOUT = 8'd4, E_FRAMING = 8'd5;
    localparam integer IMG_BYTES = BEATS * IN_BYTES;
    localparam integer KB_I = IN_BYTES - 1;
    localparam [2:0] KB = KB_I[2:0];
    localparam integer RES_LEN = 1 + CLS * SB;
    localparam integer TIMEOUT_I = IDLE_BYTES * 10 * CPB;
    localparam integer TW = $clog2(TIMEOUT_I + 2);
    localparam [TW-1:0] TIMEOUT = TIMEOUT_I[TW-1:0];
    localparam integer BUF_I = 1 << BUF_AW;
    localparam [16:0] BUF17 = BUF_I[16:0];
    localparam [15:0] RES16 = RES_LEN[15:0], IMG16 = IMG_BYTES[15:0];

    function [7:0] crc8;  // one byte into CRC-8/SMBUS
        input [7:0] c;
        input [7:0] d;
        integer i;
        reg [7:0] x;
        begin
            x = c ^ d;
            for (i = 0; i < 8; i = i + 1) x = x[7] ? {x[6:0], 1'b0} ^ 8'h07 : {x[6:0], 1'b0};
            crc8 = x;
        end
    endfunction

    // Frame buffer (block RAM): written while a frame arrives, read while it is applied.
    (* ram_style = "block", no_rw_check *) reg [7:0] buffer [0:(1<<BUF_AW)-1];
    reg [BUF_AW-1:0] waddr = {BUF_AW{1'b0}};
    reg [BUF_AW-1:0] raddr = {BUF_AW{1'b0}};
    reg [7:0] rbyte, rbyte_q;              // the read register, then a flip-flop (on ECP5
    always @(posedge clk) begin            // the block's output register)
        rbyte <= buffer[raddr];
        rbyte_q <= rbyte;
    end

    // ---------------------------------------------------------------- reset
    // The reset registered again for each part of the link (kept apart: yosys would merge
    // them): the link spans the board from the UART pins to the configuration bus, and a
    // single reset register between its parts was the 85F's critical path (137.3 MHz).
    // A part leaves reset a cycle after `rst` falls; the board's reset lasts many cycles.
    reg rst_rx = 1'b1, rst_ap = 1'b1, rst_tx = 1'b1;
    (* keep *) always @(posedge clk) rst_rx <= rst;
    (* keep *) always @(posedge clk) rst_ap <= rst;
    (* keep *) always @(posedge clk) rst_tx <= rst;

    // ---------------------------------------------------------------- received byte
    // The receiver's byte one cycle later, with the comparisons the parser makes on it.
    reg [7:0] crc = 8'h00;                 // CRC of the frame so far
    reg b_valid = 1'b0, b_ferr = 1'b0;
    reg [7:0] b_data = 8'h00;
    reg b_sync = 1'b0, b_zero = 1'b0, b_crc_ok = 1'b0;
    reg [7:0] b_crc = 8'h00;               // crc with this byte included
    always @(posedge clk) begin
        b_valid <= rx_valid && !rst_rx;
        b_ferr <= rx_ferr && !rst_rx;
        b_data <= rx_data;
        b_sync <= rx_data == 8'hA5;
        b_zero <= rx_data == 8'h00;
        b_crc_ok <= rx_data == crc;        // crc is a byte time old: stable
        b_crc <= crc8(crc, rx_data);
    end

    // ---------------------------------------------------------------- parser
    localparam [2:0] P_SYNC = 3'd0, P_TYPE = 3'd1, P_LEN0 = 3'd2, P_LEN1 = 3'd3, P_PAY = 3'd4,
                     P_CRC = 3'd5, P_DRAIN = 3'd6, P_WAIT = 3'd7;
    // The frame's datapath (CRC, type, length, count, buffer write) is enabled by one-hot
    // flip-flops d_* = (ps == P_*), set from ps's next value, not by ps: ps serving both
    // was placed between its next-state logic and the datapath, and that loop was the
    // digits design's critical path on the 85F (138.3 MHz).
    reg [2:0] ps = P_SYNC;
    reg d_sync = 1'b1, d_type = 1'b0, d_len0 = 1'b0, d_len1 = 1'b0, d_pay = 1'b0, d_crc = 1'b0;
    reg [7:0] ftype = 8'h00, code = 8'h00;
    reg [15:0] flen = 16'd0;
    reg [15:0] rem = 16'd0;                // payload bytes still to arrive
    reg [TW-1:0] idle = {TW{1'b0}};        // cycles since the last byte of a frame
    // Flags, one cycle behind the registers they read (see the header).
    reg rem_one = 1'b0, lo_zero = 1'b0, type_ok = 1'b0, len_ok = 1'b0, timeout = 1'b0;
    reg len_nz = 1'b0, len_cfg = 1'b0, len_img = 1'b0;
    reg is_cfg = 1'b0, is_img = 1'b0, mid = 1'b0, watch = 1'b0;
    // A reply waits in (reply_type, reply_code) from reply_req until the transmitter takes
    // it (reply_busy); it is written only while no reply is pending (can_reply).
    reg reply_req = 1'b0, reply_busy = 1'b0, nacked = 1'b0;
    reg [7:0] reply_type = 8'h00, reply_code = 8'h00;
    wire can_reply = !reply_req && !reply_busy;
    // What the parser (NACK) and the applier (ACK/INFO) want to send, a cycle behind their
    // states, and the reply writer's decision (serve_*) a cycle behind the wants, so that
    // writing a reply and leaving the states are one LUT of flip-flops (ECP5 at 150 MHz;
    // can_reply into the applier's state was the 85F's critical path at 145.9 MHz). A
    // served want's state is left in the serve cycle, so its want is high for one more
    // cycle, when can_reply is already low; the !serve terms keep the serve cycle itself
    // from deciding a second serve (it would only rewrite the same reply).
    reg nack_want = 1'b0, ack_want = 1'b0;
    reg serve_ack = 1'b0, serve_nack = 1'b0;
    reg [7:0] ack_type = 8'h00;
    reg go = 1'b0;                         // the checked frame is handed to the applier
    reg done = 1'b0;                       // the applier has queued its reply
    // The idle count restarts with every byte, outside a frame, and when a frame is
    // dropped (below); the timeout flag drops with it.
    wire drop = mid && (b_ferr || timeout);
    wire idle_clr = !watch || b_valid || drop;

    always @(posedge clk) begin
        rem_one <= rem == 16'd1;
        lo_zero <= flen[7:0] == 8'd0;
        type_ok <= (ftype == T_CFG) || (ftype == T_IMAGE) || (ftype == T_INFO);
        // Length checks in two flip-flop steps (a 16-bit compare chain into the type's mux
        // was the UP5K's critical path); the CRC byte comes a byte time after the length.
        len_nz <= flen != 16'd0;
        len_cfg <= flen[2:0] == 3'd0 && {1'b0, flen} <= BUF17;
        len_img <= flen == IMG16;
        len_ok <= is_cfg ? (len_nz && len_cfg) : is_img ? len_img : !len_nz;
        is_cfg <= ftype == T_CFG;
        is_img <= ftype == T_IMAGE;
        ack_type <= (is_cfg || is_img) ? R_ACK : R_INFO;
        nack_want <= !rst_rx && ps == P_DRAIN && !nacked;
        serve_ack <= !rst_ap && can_reply && ack_want && !serve_ack && !serve_nack;
        serve_nack <= !rst_ap && can_reply && !ack_want && nack_want && !serve_ack && !serve_nack;
        mid <= (ps != P_SYNC) && (ps != P_DRAIN) && (ps != P_WAIT);
        watch <= (ps != P_SYNC) && (ps != P_WAIT);
        timeout <= !idle_clr && idle >= TIMEOUT;
    end

    function [2:0] ps_step;  // the parser's next state from state s (drop, reset: below)
        input [2:0] s;
        begin
            ps_step = s;
            case (s)
                P_SYNC: if (b_valid && b_sync) ps_step = P_TYPE;
                P_TYPE: if (b_valid) ps_step = P_LEN0;
                P_LEN0: if (b_valid) ps_step = P_LEN1;
                P_LEN1: if (b_valid) ps_step = (b_zero && lo_zero) ? P_CRC : P_PAY;
                P_PAY: if (b_valid && rem_one) ps_step = P_CRC;
                P_CRC: if (b_valid) ps_step = (b_crc_ok && type_ok && len_ok) ? P_WAIT : P_DRAIN;
                // NACK once, then wait for the line to go quiet before looking for the
                // next frame: the rest of a bad frame must not be parsed as frames.
                P_DRAIN: if (nacked && timeout) ps_step = P_SYNC;
                default: if (done) ps_step = P_SYNC;   // P_WAIT
            endcase
            if (drop) ps_step = P_DRAIN;
            if (rst_rx) ps_step = P_SYNC;
        end
    endfunction
    wire [2:0] ps_n = ps_step(ps);
    always @(posedge clk) begin
        ps <= ps_n;
        d_sync <= ps_n == P_SYNC;
        d_type <= ps_n == P_TYPE;
        d_len0 <= ps_n == P_LEN0;
        d_len1 <= ps_n == P_LEN1;
        d_pay <= ps_n == P_PAY;
        d_crc <= ps_n == P_CRC;
    end

    // ---------------------------------------------------------------- applier
    // Runs a checked frame from the buffer: one byte every three cycles (ph[0], ph[1]: the
    // read and the flags settle; ph[2]: the byte is used).
    localparam [1:0] A_IDLE = 2'd0, A_CFG = 2'd1, A_IMG = 2'd2, A_REPLY = 2'd3;
    reg [1:0] as = A_IDLE;
    reg [2:0] ph = 3'b001;
    localparam integer AW1 = BUF_AW + 1;
    reg [AW1-1:0] arem = {AW1{1'b0}};      // buffer bytes still to apply (≤ 2^BUF_AW)
    reg arem_one = 1'b0;
    reg [2:0] k = 3'd0;                    // byte within a cfg write / an input beat
    reg k_cfg_last = 1'b0, k_img_last = 1'b0;
    reg a_last = 1'b0;                     // the image's last beat is being handed over
    reg [55:0] acc = 56'd0;                // the word's earlier bytes, newest on top
    wire [63:0] word = {rbyte_q, acc};
    always @(posedge clk) begin
        ack_want <= !rst_ap && as == A_REPLY;
        arem_one <= arem == {{(AW1-1){1'b0}}, 1'b1};
        k_cfg_last <= k == 3'd7;
        k_img_last <= k == KB;
    end

    always @(posedge clk) begin
        cfg_we <= 1'b0;
        go <= 1'b0;
        done <= 1'b0;
        if (b_valid && d_pay) buffer[waddr] <= b_data;
        begin
            if (reply_req && reply_busy) reply_req <= 1'b0;
            // A frame that stops arriving is dropped, so a truncated frame cannot block the
            // next one; the same count ends the drain after a bad frame.
            if (idle_clr) idle <= {TW{1'b0}};
            else if (!timeout) idle <= idle + 1'b1;
            // The frame's datapath (the state steps in ps_step).
            if (b_valid) begin
                if (d_sync && b_sync) crc <= 8'h00;
                if (d_type) begin
                    ftype <= b_data;
                    crc <= b_crc;
                end
                if (d_len0) begin
                    flen[7:0] <= b_data;
                    crc <= b_crc;
                end
                if (d_len1) begin
                    flen[15:8] <= b_data;
                    rem <= {b_data, flen[7:0]};
                    crc <= b_crc;
                    waddr <= {BUF_AW{1'b0}};
                end
                if (d_pay) begin
                    crc <= b_crc;
                    waddr <= waddr + 1'b1;
                    rem <= rem - 1'b1;
                end
                if (d_crc) begin
                    nacked <= 1'b0;
                    if (!b_crc_ok) code <= E_CRC;
                    else if (!type_ok) code <= E_TYPE;
                    else if (!len_ok) code <= E_LEN;
                    else begin
                        go <= 1'b1;
                        busy <= 1'b1;
                    end
                end
            end
            // The reply writer (its decision registered above, serve_*): an ACK or INFO
            // for an applied frame first, else a bad frame's NACK.
            if (serve_ack) begin
                reply_req <= 1'b1;
                reply_type <= ack_type;
                reply_code <= ftype;
                busy <= 1'b0;
                error <= 1'b0;
                done <= 1'b1;
                as <= A_IDLE;
            end else if (serve_nack) begin
                reply_req <= 1'b1;
                reply_type <= R_NACK;
                reply_code <= code;
                nacked <= 1'b1;
                error <= 1'b1;
            end
            if (drop) begin
                code <= b_ferr ? E_FRAMING : E_TIMEOUT;
                nacked <= 1'b0;
            end

            case (as)
                A_IDLE: if (go) begin
                    raddr <= {BUF_AW{1'b0}};
                    arem <= flen[AW1-1:0];   // len_ok: flen <= 2^BUF_AW
                    k <= 3'd0;
                    ph <= 3'b001;
                    as <= is_cfg ? A_CFG : is_img ? A_IMG : A_REPLY;
                end
                A_CFG: begin
                    // Every 8th byte completes a write (address, then data, little-endian).
                    ph <= {ph[1:0], ph[2]};
                    if (ph[2]) begin
                        acc <= word[63:8];
                        raddr <= raddr + 1'b1;
                        arem <= arem - 1'b1;
                        k <= k + 1'b1;
                        if (k_cfg_last) begin
                            cfg_we <= 1'b1;
                            cfg_addr <= word[CFG_AW-1:0];
                            cfg_data <= word[63:32];
                        end
                        if (arem_one) as <= A_REPLY;
                    end
                end
                A_IMG: begin
                    if (in_valid) begin
                        if (in_ready) begin
                            in_valid <= 1'b0;
                            if (a_last) as <= A_REPLY;
                        end
                    end else begin
                        ph <= {ph[1:0], ph[2]};
                        if (ph[2]) begin
                            acc <= word[63:8];
                            raddr <= raddr + 1'b1;
                            arem <= arem - 1'b1;
                            k <= k_img_last ? 3'd0 : k + 1'b1;
                            a_last <= arem_one;
                            if (k_img_last) begin
                                in_valid <= 1'b1;
                                in_data <= word[64 - 8 * IN_BYTES +: IN_W];
                            end
                        end
                    end
                end
                default: ;   // A_REPLY: the reply writer above ends it
            endcase
        end
        // The reset comes last and overrides the control registers only: the datapath
        // registers above (addresses, counts, bytes, flags) keep the reset out of their
        // logic (it reached across an ECP5-85F into the link's datapath); they hold
        // nothing that matters until the states leave their reset values.
        if (rst_ap) begin
            as <= A_IDLE;
            reply_req <= 1'b0;
            in_valid <= 1'b0;
            busy <= 1'b0;
            error <= 1'b0;
            idle <= {TW{1'b0}};
        end
    end

    // ---------------------------------------------------------------- results
    // A RESULT frame is sent while the network's output stream delivers it: each class
    // score is held by the network (valid/ready) until its bytes are out, so no score
    // buffer is needed. `take` acknowledges one beat.
    reg take = 1'b0;
    assign out_ready = take;
    reg [PW-1:0] pred = {PW{1'b0}};

    // ---------------------------------------------------------------- transmit
    // One frame at a time: a waiting reply first, else a result. The next payload byte
    // (nb) and what sending it means (nb_score: it is a score byte, which needs the
    // network's beat; nb_last: the last payload byte) are flip-flops computed from the
    // registers below; a byte takes 10·CPB cycles to leave, so they have settled when the
    // transmitter is ready again.
    localparam integer OW = (SB > 1) ? $clog2(SB) : 1;
    localparam [15:0] BEATS16 = BEATS[15:0];
    localparam integer SB1_I = SB - 1;
    localparam [OW-1:0] SB1 = SB1_I[OW-1:0];
    localparam [7:0] IN_W8 = IN_W[7:0], CLS8 = CLS[7:0], SW8 = SW[7:0];
    localparam [2:0] T_IDLE = 3'd0, T_SYNC = 3'd1, T_TYPE = 3'd2, T_LEN0 = 3'd3, T_LEN1 = 3'd4,
                     T_PAY = 3'd5, T_CRC = 3'd6;
    reg [2:0] ts = T_IDLE;
    reg [7:0] ttype = 8'h00, tcrc = 8'h00, tcode = 8'h00;
    localparam integer TXW = $clog2((RES_LEN > 9) ? RES_LEN : 9);   // payload index bits
    reg [15:0] tlen = 16'd0;
    reg [TXW-1:0] tidx = {TXW{1'b0}};
    reg [TXW-1:0] tlast = {TXW{1'b0}};     // tlen - 1: the index of the last payload byte
    localparam integer RES_LAST_I = RES_LEN - 1, INFO_LAST_I = 8;
    localparam [TXW-1:0] RES_LAST = RES_LAST_I[TXW-1:0], INFO_LAST = INFO_LAST_I[TXW-1:0];
    reg [OW-1:0] toff = {OW{1'b0}};
    reg tresult = 1'b0;
    wire [8*SB-1:0] sext = {{(8*SB-SW){out_score[SW-1]}}, out_score};
    wire [7:0] sbyte = sext[toff * 8 +: 8];
    reg [7:0] info_byte;
    always @(*) begin
        case (tidx[3:0])
            4'd0: info_byte = DESIGN_ID[7:0];
            4'd1: info_byte = DESIGN_ID[15:8];
            4'd2: info_byte = DESIGN_ID[23:16];
            4'd3: info_byte = DESIGN_ID[31:24];
            4'd4: info_byte = BEATS16[7:0];
            4'd5: info_byte = BEATS16[15:8];
            4'd6: info_byte = IN_W8;
            4'd7: info_byte = CLS8;
            default: info_byte = SW8;
        endcase
    end
    // RESULT payload: CLS scores, then the predicted class.
    reg nb_last = 1'b0, nb_score = 1'b0, nb_ok = 1'b0, toff_last = 1'b0;
    reg [7:0] nb = 8'h00;
    always @(posedge clk) begin
        // Each settles a cycle after the one before it.
        nb_last <= tidx == tlast;
        nb_score <= tresult && !nb_last;
        nb <= tresult ? (nb_last ? {{(8-PW){1'b0}}, pred} : sbyte) :
              (ttype == R_INFO) ? info_byte : tcode;
        // A score byte can go once its beat is there (take pops the beat: not in that
        // cycle, nor the next, while out_score changes).
        nb_ok <= !nb_score || (out_valid && !take);
        toff_last <= toff == SB1;
    end
    // The byte the current state sends (tbyte) and the CRC with it (tcrc_nx), flip-flops
    // one and two cycles behind ts, tcrc and nb: a byte leaves 10·CPB cycles after the one
    // before (the sync byte two cycles after start, when tbyte is 5A), and a score byte
    // waits for pay_go, nb_ok held for three cycles (a beat is held until taken, and only
    // sending its last byte takes it).
    reg [7:0] tbyte = 8'h00, tcrc_nx = 8'h00;
    reg nb_ok_q = 1'b0, nb_ok_qq = 1'b0, pay_go = 1'b0;
    always @(posedge clk) begin
        case (ts)
            T_SYNC: tbyte <= 8'h5A;          // settled when send can first be high
            T_TYPE: tbyte <= ttype;
            T_LEN0: tbyte <= tlen[7:0];
            T_LEN1: tbyte <= tlen[15:8];
            T_PAY: tbyte <= nb;
            default: tbyte <= tcrc;          // T_CRC
        endcase
        tcrc_nx <= crc8(tcrc, tbyte);
        nb_ok_q <= nb_ok;
        nb_ok_qq <= nb_ok_q;
        pay_go <= nb_ok && nb_ok_q && nb_ok_qq;
    end
    // send: the transmitter takes the next byte of the frame this cycle. A flip-flop (the
    // wide registers below hang off it), never high two cycles running.
    reg send = 1'b0;
    always @(posedge clk)
        send <= !rst_tx && !send && !tx_valid && tx_ready && ts != T_IDLE && (ts != T_PAY || pay_go);
    // start: a reply or a result is waiting in T_IDLE, a cycle behind (both wait until
    // the frame is sent), so leaving T_IDLE is one LUT of flip-flops.
    reg start = 1'b0;
    always @(posedge clk)
        start <= !rst_tx && !start && ts == T_IDLE && !tx_valid && (reply_req || out_valid);
    // Control (state, valid, the reply handshake) resets; the datapath below does not,
    // so the reset is in no datapath register's logic (on an 85F the reset's route into
    // the transmit datapath was the critical path). start and send each imply !tx_valid
    // (each is decided with !tx_valid, and tx_valid rises only with a send, never two
    // cycles running), start also T_IDLE, and ts does not change between send's decision
    // and its cycle, so the branches below need no other gating.
    always @(posedge clk) begin
        if (rst_tx) begin
            ts <= T_IDLE;
            tx_valid <= 1'b0;
            reply_busy <= 1'b0;
        end else begin
            if (tx_valid && tx_ready) tx_valid <= 1'b0;
            if (start) begin
                if (reply_req) reply_busy <= 1'b1;
                ts <= T_SYNC;
            end
            if (send) begin
                tx_valid <= 1'b1;
                case (ts)
                T_SYNC: ts <= T_TYPE;
                T_TYPE: ts <= T_LEN0;
                T_LEN0: ts <= T_LEN1;
                T_LEN1: ts <= T_PAY;
                T_PAY: if (nb_last) ts <= T_CRC;
                default: begin   // T_CRC (send is never high in T_IDLE)
                    ts <= T_IDLE;
                    if (!tresult) reply_busy <= 1'b0;
                end
                endcase
            end
        end
    end
    always @(posedge clk) begin
        take <= 1'b0;
        if (start) begin
            if (reply_req) begin
                tresult <= 1'b0;
                ttype <= reply_type;
                tcode <= reply_code;
                tlen <= (reply_type == R_INFO) ? 16'd9 : 16'd1;
                tlast <= (reply_type == R_INFO) ? INFO_LAST : {TXW{1'b0}};
            end else begin              // out_valid: held until taken
                tresult <= 1'b1;
                ttype <= R_RESULT;
                tlen <= RES16;
                tlast <= RES_LAST;
            end
        end
        if (send) begin
            tx_data <= tbyte;
            tcrc <= (ts == T_SYNC) ? 8'h00 : tcrc_nx;
            if (ts == T_LEN1) begin
                tidx <= {TXW{1'b0}};
                toff <= {OW{1'b0}};
            end
            if (ts == T_PAY) begin
                tidx <= tidx + 1'b1;
                if (nb_score) begin
                    if (toff_last) begin
                        toff <= {OW{1'b0}};
                        take <= 1'b1;
                        if (out_last) pred <= out_pred;
                    end else begin
                        toff <= toff + 1'b1;
                    end
                end
            end
        end
    end
    wire _unused_ok = &{1'b0, word[7:0], flen[15:AW1-1], 1'b0};
endmodule
`default_nettype wire
