// hdlgen_serial_rx: 8N1 UART receiver at CPB clocks per bit.
//
// The receiver synchronises the line with two flip-flops, starts on a falling edge, checks
// the start bit at its middle (a glitch shorter than half a bit is ignored) and samples
// every data bit at its middle. A low stop bit is a framing error: the byte is dropped and
// `ferr` pulses, so a corrupted byte never reaches the frame parser as data.
`default_nettype none
module hdlgen_serial_rx #(
    parameter integer CPB = 104
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       rx,
    output reg        valid,
    output reg  [7:0] data,
    output reg        ferr
);
    localparam integer CW = $clog2(CPB + 1);
    localparam integer HALF_I = CPB / 2, FULL_I = CPB - 1;
    localparam [CW-1:0] HALF = HALF_I[CW-1:0];
    localparam [CW-1:0] FULL = FULL_I[CW-1:0];
    localparam [CW-1:0] ONE = 1;
    reg [1:0] sync;
    reg [CW-1:0] cnt;
    // A flip-flop copy of cnt == 0, kept with the counter: no compare on the enable paths.
    reg tick;
    reg [3:0] bitn;
    reg busy;
    reg [7:0] sh;
    wire line = sync[1];
    // The reset registered here (kept apart from the other modules' copies): the board's
    // reset reaches across an ECP5-85F to the UART pins (137.3 MHz); it lasts many cycles.
    reg rst_q = 1'b1;
    (* keep *) always @(posedge clk) rst_q <= rst;
    always @(posedge clk) begin
        sync <= {sync[0], rx};
        valid <= 1'b0;
        ferr <= 1'b0;
        if (rst_q) begin
            sync <= 2'b11;
            busy <= 1'b0;
            cnt <= {CW{1'b0}};
            tick <= 1'b1;
            bitn <= 4'd0;
        end else if (!busy) begin
            if (!line) begin
                busy <= 1'b1;
                cnt <= HALF;
                tick <= (HALF_I == 0);
                bitn <= 4'd0;
            end
        end else if (!tick) begin
            cnt <= cnt - 1'b1;
            tick <= (cnt == ONE);
        end else begin
            cnt <= FULL;
            tick <= (FULL_I == 0);
            bitn <= bitn + 1'b1;
            if (bitn == 4'd0) begin
                if (line) busy <= 1'b0;  // the start bit did not last: noise
            end else if (bitn == 4'd9) begin
                busy <= 1'b0;
                if (line) begin
                    valid <= 1'b1;
                    data <= sh;
                end else begin
                    ferr <= 1'b1;
                end
            end else begin
                sh <= {line, sh[7:1]};
            end
        end
    end
endmodule

`default_nettype wire
