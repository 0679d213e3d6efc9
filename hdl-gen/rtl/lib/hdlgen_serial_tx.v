// hdlgen_serial_tx: 8N1 UART transmitter at CPB clocks per bit (start bit, 8 data bits LSB
// first, stop bit); `ready` is high between bytes.
`default_nettype none
module hdlgen_serial_tx #(
    parameter integer CPB = 104
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       valid,
    output wire       ready,
    input  wire [7:0] data,
    output reg        tx
);
    localparam integer CW = $clog2(CPB + 1);
    localparam integer FULL_I = CPB - 1;
    localparam [CW-1:0] FULL = FULL_I[CW-1:0];
    localparam [CW-1:0] ONE = 1;
    reg [CW-1:0] cnt;
    reg [3:0] left;
    reg [8:0] sh;
    // Flip-flop copies of cnt == 0, left == 0 and left == 1, kept with the counters: a
    // compare of the bit counter on the enable paths was the board's critical path.
    reg tick = 1'b1, idle = 1'b1, last = 1'b0;
    // ready (left == 0) is a flip-flop, set from the next value of left: the sender's
    // decisions start from it.
    reg rdy = 1'b0;
    assign ready = rdy;
    // The reset registered here (kept apart from the other modules' copies): the board's
    // reset reaches across an ECP5-85F to the UART pins (137.3 MHz); it lasts many cycles.
    reg rst_q = 1'b1;
    (* keep *) always @(posedge clk) rst_q <= rst;
    always @(posedge clk) begin
        rdy <= rst_q ? 1'b1 : idle ? !valid : (tick && last);
        if (rst_q) begin
            tx <= 1'b1;
            left <= 4'd0;
            idle <= 1'b1;
            last <= 1'b0;
            cnt <= {CW{1'b0}};
            tick <= 1'b1;
        end else if (idle) begin
            if (valid) begin
                tx <= 1'b0;  // start bit
                sh <= {1'b1, data};
                left <= 4'd10;
                idle <= 1'b0;
                last <= 1'b0;
                cnt <= FULL;
                tick <= (FULL_I == 0);
            end
        end else if (!tick) begin
            cnt <= cnt - 1'b1;
            tick <= (cnt == ONE);
        end else begin
            cnt <= FULL;
            tick <= (FULL_I == 0);
            left <= left - 1'b1;
            idle <= last;
            last <= (left == 4'd2);
            tx <= last ? 1'b1 : sh[0];
            sh <= {1'b1, sh[8:1]};
        end
    end
endmodule
`default_nettype wire
