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
    reg [CW-1:0] cnt;
    reg [3:0] left;
    reg [8:0] sh;
    // ready (left == 0) is a flip-flop, set from the next value of left: the sender's
    // decisions start from it.
    reg rdy = 1'b0;
    assign ready = rdy;
    always @(posedge clk) begin
        rdy <= rst ? 1'b1 : (left == 4'd0) ? !valid : (cnt == 0 && left == 4'd1);
        if (rst) begin
            tx <= 1'b1;
            left <= 4'd0;
            cnt <= {CW{1'b0}};
        end else if (left == 4'd0) begin
            if (valid) begin
                tx <= 1'b0;  // start bit
                sh <= {1'b1, data};
                left <= 4'd10;
                cnt <= FULL;
            end
        end else if (cnt != 0) begin
            cnt <= cnt - 1'b1;
        end else begin
            cnt <= FULL;
            left <= left - 1'b1;
            tx <= (left == 4'd1) ? 1'b1 : sh[0];
            sh <= {1'b1, sh[8:1]};
        end
    end
endmodule
`default_nettype wire
