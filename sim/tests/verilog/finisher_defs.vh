`define FIN_W 4
