// Exercises $finish/$stop/$fatal handling and a file source with an `include next to it.
`include "finisher_defs.vh"
module finisher (
    input                   clk,
    input      [1:0]        cmd,
    output reg [`FIN_W-1:0] n
);
    initial n = 0;
    always @(posedge clk) begin
        n <= n + 1'b1;
        if (cmd == 2'd1) $finish;
        if (cmd == 2'd2) $stop;
        if (cmd == 2'd3) $fatal(1, "boom at %0d", n);
    end
endmodule
