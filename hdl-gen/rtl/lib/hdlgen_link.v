// hdlgen_link: the host link of a board top (docs/protocol.md). Frames arrive over the
// UART receiver's byte stream, are held in a buffer while their CRC-8 is checked, and only
// a frame whose CRC, type and length are right is applied: configuration writes go to the
// network's cfg bus, an image's beats to its input stream. Every frame is answered (ACK,
// NACK with a reason, or INFO); every classified image is sent back as a RESULT frame.
//
// Host → board: A5 | type | len (u16 LE) | payload | crc8(type, len, payload)
// Board → host: 5A | type | len (u16 LE) | payload | crc8(type, len, payload)
// CRC-8: polynomial 0x07, initial value 0, no reflection (CRC-8/SMBUS).
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
    localparam [3:0] KB = KB_I[3:0];
    localparam integer RES_LEN = 1 + CLS * SB;
    localparam integer TW = $clog2(IDLE_BYTES * 10 * CPB + 1);
    localparam integer TIMEOUT_I = IDLE_BYTES * 10 * CPB;
    localparam [TW-1:0] TIMEOUT = TIMEOUT_I[TW-1:0];

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
    reg [BUF_AW-1:0] raddr;
    reg [7:0] rbyte;
    always @(posedge clk) rbyte <= buffer[raddr];

    // ---------------------------------------------------------------- receive and check
    localparam [3:0] P_SYNC = 0, P_TYPE = 1, P_LEN0 = 2, P_LEN1 = 3, P_PAY = 4, P_CRC = 5,
                     P_DRAIN = 6, P_CFG = 7, P_IMG = 8, P_REPLY = 9;
    reg [3:0] ps;
    reg [7:0] ftype, crc, code;
    reg [15:0] flen, fidx;
    reg [TW-1:0] idle;
    // A reply waits in (reply_type, reply_code) from reply_req until the transmitter takes
    // it (reply_busy); the parser writes them only while no reply is pending.
    reg reply_req, reply_busy, nacked;
    reg [7:0] reply_type, reply_code;
    reg [3:0] k;       // byte within a cfg write / an input beat
    reg [63:0] acc;    // bytes of the word being assembled, little-endian, newest on top
    reg rd_wait;       // the buffer read of this cycle is in flight
    wire [63:0] word = {rbyte, acc[63:8]};

    wire len_ok = (ftype == T_CFG) ? (flen != 0 && flen[2:0] == 3'd0 && flen <= (1 << BUF_AW)) :
                  (ftype == T_IMAGE) ? (flen == IMG16) :
                  (flen == 0);
    wire type_ok = (ftype == T_CFG) || (ftype == T_IMAGE) || (ftype == T_INFO);
    wire mid_frame = (ps != P_SYNC) && (ps < P_DRAIN);
    wire can_reply = !reply_req && !reply_busy;

    always @(posedge clk) begin
        cfg_we <= 1'b0;
        if (rx_valid && ps == P_PAY) buffer[fidx[BUF_AW-1:0]] <= rx_data;
        if (rst) begin
            ps <= P_SYNC;
            reply_req <= 1'b0;
            in_valid <= 1'b0;
            busy <= 1'b0;
            error <= 1'b0;
            idle <= {TW{1'b0}};
        end else begin
            if (reply_req && reply_busy) reply_req <= 1'b0;
            // A frame that stops arriving is dropped, so a truncated frame cannot block the
            // next one; the same count ends the drain after a bad frame.
            if (!(mid_frame || ps == P_DRAIN) || rx_valid) idle <= {TW{1'b0}};
            else if (idle != TIMEOUT) idle <= idle + 1'b1;
            case (ps)
                P_SYNC: if (rx_valid && rx_data == 8'hA5) begin
                    ps <= P_TYPE;
                    crc <= 8'h00;
                end
                P_TYPE: if (rx_valid) begin
                    ftype <= rx_data;
                    crc <= crc8(crc, rx_data);
                    ps <= P_LEN0;
                end
                P_LEN0: if (rx_valid) begin
                    flen[7:0] <= rx_data;
                    crc <= crc8(crc, rx_data);
                    ps <= P_LEN1;
                end
                P_LEN1: if (rx_valid) begin
                    flen[15:8] <= rx_data;
                    crc <= crc8(crc, rx_data);
                    fidx <= 16'd0;
                    ps <= (rx_data == 8'd0 && flen[7:0] == 8'd0) ? P_CRC : P_PAY;
                end
                P_PAY: if (rx_valid) begin
                    crc <= crc8(crc, rx_data);
                    fidx <= fidx + 1'b1;
                    if (fidx + 1'b1 == flen) ps <= P_CRC;
                end
                P_CRC: if (rx_valid) begin
                    nacked <= 1'b0;
                    if (rx_data != crc) begin
                        code <= E_CRC;
                        ps <= P_DRAIN;
                    end else if (!type_ok) begin
                        code <= E_TYPE;
                        ps <= P_DRAIN;
                    end else if (!len_ok) begin
                        code <= E_LEN;
                        ps <= P_DRAIN;
                    end else begin
                        raddr <= {BUF_AW{1'b0}};
                        fidx <= 16'd0;
                        k <= 4'd0;
                        rd_wait <= 1'b1;
                        busy <= 1'b1;
                        ps <= (ftype == T_CFG) ? P_CFG : (ftype == T_IMAGE) ? P_IMG : P_REPLY;
                    end
                end
                P_CFG: begin
                    // One byte per cycle from the buffer; every 8th completes a write.
                    if (rd_wait) begin
                        rd_wait <= 1'b0;
                        raddr <= raddr + 1'b1;
                    end else begin
                        acc <= word;
                        raddr <= raddr + 1'b1;
                        fidx <= fidx + 1'b1;
                        k <= k + 1'b1;
                        if (k == 4'd7) begin
                            k <= 4'd0;
                            cfg_we <= 1'b1;
                            cfg_addr <= word[CFG_AW-1:0];
                            cfg_data <= word[63:32];
                            if (fidx + 1'b1 == flen) ps <= P_REPLY;
                        end
                    end
                end
                P_IMG: begin
                    if (in_valid) begin
                        if (in_ready) begin
                            in_valid <= 1'b0;
                            if (fidx == flen) ps <= P_REPLY;
                        end
                    end else if (rd_wait) begin
                        rd_wait <= 1'b0;
                        raddr <= raddr + 1'b1;
                    end else begin
                        acc <= word;
                        fidx <= fidx + 1'b1;
                        if (k == KB) begin
                            k <= 4'd0;
                            in_valid <= 1'b1;
                            in_data <= word[64 - 8 * IN_BYTES +: IN_W];
                            // Hold the address (one byte ahead): it is read again after
                            // the handshake.
                            rd_wait <= 1'b1;
                        end else begin
                            k <= k + 1'b1;
                            raddr <= raddr + 1'b1;
                        end
                    end
                end
                P_REPLY: if (can_reply) begin
                    reply_req <= 1'b1;
                    reply_type <= (ftype == T_INFO) ? R_INFO : R_ACK;
                    reply_code <= ftype;
                    busy <= 1'b0;
                    error <= 1'b0;
                    ps <= P_SYNC;
                end
                P_DRAIN: begin
                    // NACK once, then wait for the line to go quiet before looking for the
                    // next frame: the rest of a bad frame must not be parsed as frames.
                    if (!nacked && can_reply) begin
                        reply_req <= 1'b1;
                        reply_type <= R_NACK;
                        reply_code <= code;
                        nacked <= 1'b1;
                        error <= 1'b1;
                    end
                    if (nacked && idle == TIMEOUT) ps <= P_SYNC;
                end
                default: ps <= P_SYNC;
            endcase
            if (mid_frame && (rx_ferr || idle == TIMEOUT)) begin
                code <= rx_ferr ? E_FRAMING : E_TIMEOUT;
                nacked <= 1'b0;
                idle <= {TW{1'b0}};
                ps <= P_DRAIN;
            end
        end
    end


    // ---------------------------------------------------------------- results
    // A RESULT frame is sent while the network's output stream delivers it: each class
    // score is held by the network (valid/ready) until its bytes are out, so no score
    // buffer is needed. `take` acknowledges one beat.
    reg take;
    assign out_ready = take;
    reg [PW-1:0] pred;

    // ---------------------------------------------------------------- transmit
    // One frame at a time: a waiting reply first, else a result.
    localparam integer OW = (SB > 1) ? $clog2(SB) : 1;
    localparam [15:0] BEATS16 = BEATS[15:0];
    localparam integer SB1_I = SB - 1;
    localparam [OW-1:0] SB1 = SB1_I[OW-1:0];
    localparam [7:0] IN_W8 = IN_W[7:0], CLS8 = CLS[7:0], SW8 = SW[7:0];
    localparam [15:0] RES16 = RES_LEN[15:0], IMG16 = IMG_BYTES[15:0];
    reg [2:0] ts;   // 0 idle, 1 sync, 2 type, 3 len0, 4 len1, 5 payload, 6 crc
    reg [7:0] ttype, tcrc, tcode;
    reg [15:0] tlen, tidx;
    reg [OW-1:0] toff;
    reg tresult;
    wire [SW-1:0] sval = out_score;
    wire [8*SB-1:0] sext = {{(8*SB-SW){sval[SW-1]}}, sval};
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
    wire [7:0] pay = tresult ? ((tidx + 1'b1 == tlen) ? {{(8-PW){1'b0}}, pred} : sbyte) :
                     (ttype == R_INFO) ? info_byte : tcode;
    wire score_byte = tresult && (tidx + 1'b1 != tlen);
    always @(posedge clk) begin
        take <= 1'b0;
        if (rst) begin
            ts <= 3'd0;
            tx_valid <= 1'b0;
            reply_busy <= 1'b0;
        end else if (tx_valid) begin
            if (tx_ready) tx_valid <= 1'b0;
        end else if (tx_ready) begin
            case (ts)
                3'd0: if (reply_req) begin
                    reply_busy <= 1'b1;
                    tresult <= 1'b0;
                    ttype <= reply_type;
                    tcode <= reply_code;
                    tlen <= (reply_type == R_INFO) ? 16'd9 : 16'd1;
                    ts <= 3'd1;
                end else if (out_valid) begin
                    tresult <= 1'b1;
                    ttype <= R_RESULT;
                    tlen <= RES16;
                    ts <= 3'd1;
                end
                3'd1: begin
                    tx_data <= 8'h5A;
                    tx_valid <= 1'b1;
                    tcrc <= 8'h00;
                    ts <= 3'd2;
                end
                3'd2: begin
                    tx_data <= ttype;
                    tx_valid <= 1'b1;
                    tcrc <= crc8(tcrc, ttype);
                    ts <= 3'd3;
                end
                3'd3: begin
                    tx_data <= tlen[7:0];
                    tx_valid <= 1'b1;
                    tcrc <= crc8(tcrc, tlen[7:0]);
                    ts <= 3'd4;
                end
                3'd4: begin
                    tx_data <= tlen[15:8];
                    tx_valid <= 1'b1;
                    tcrc <= crc8(tcrc, tlen[15:8]);
                    tidx <= 16'd0;
                    toff <= {OW{1'b0}};
                    ts <= 3'd5;
                end
                3'd5: if (!score_byte || (out_valid && !take)) begin
                    tx_data <= pay;
                    tx_valid <= 1'b1;
                    tcrc <= crc8(tcrc, pay);
                    tidx <= tidx + 1'b1;
                    if (score_byte) begin
                        if (toff == SB1) begin
                            toff <= {OW{1'b0}};
                            take <= 1'b1;
                            if (out_last) pred <= out_pred;
                        end else begin
                            toff <= toff + 1'b1;
                        end
                    end
                    if (tidx + 1'b1 == tlen) ts <= 3'd6;
                end
                default: begin
                    tx_data <= tcrc;
                    tx_valid <= 1'b1;
                    ts <= 3'd0;
                    if (!tresult) reply_busy <= 1'b0;
                end
            endcase
        end
    end
    wire _unused_ok = &{1'b0, acc[7:0], word, 1'b0};
endmodule
`default_nettype wire
