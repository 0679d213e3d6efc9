// bench/xseq_up5k.sh harness: hdlgen_xseq at the UP5K shape (PE 2, SIMD 32) with its weights
// in four SPRAMs, a threshold memory, and the descriptors of MNIST conv2, conv3 and fc (rtl::xseq::Desc)
// from a table; inputs from an LFSR, outputs folded into one pin, so nothing is optimised away.
// FRONT = 1 (bench/xseq_up5k.sh SEED front): hdlgen_xfront (MNIST's conv1: 28×28 8-bit
// pixels, 32 filters, threshold, 2×2 pool; weights and thresholds in block RAM) writes the
// first map through the sequencer's external port, as an engine would; FRONT = 0: the
// LFSR drives that port.
`default_nettype none
module xseq_up5k #(parameter integer FRONT = 0) (input wire clk, input wire rx, output wire led);
    localparam integer PE = 2, SIMD = 32, AW = 13, TW = 13, BA = 8, WA = 12, TA = 7, DW = 8;
    reg [31:0] lfsr = 32'h1;
    always @(posedge clk) lfsr <= {lfsr[30:0], lfsr[31] ^ lfsr[21] ^ lfsr[1] ^ lfsr[0] ^ rx};
    reg [1:0] layer = 2'd0;
    wire busy, done;
    reg start = 1'b0;
    always @(posedge clk) begin
        start <= !busy && !start && lfsr[3];
        if (done) layer <= (layer == 2'd2) ? 2'd0 : layer + 1'b1;
    end
    reg [DW-1:0] d_ih, d_iw, d_ich, d_oh, d_ow, d_ng, d_och;
    reg [BA-1:0] d_irs, d_ors, d_obase;
    reg [2:0] d_k, d_p;
    reg d_pone, d_pool, d_final;
    reg [2*BA-1:0] d_row0, d_col0;
    reg [WA-1:0] d_wbase;
    reg [TA-1:0] d_tbase;
    always @(posedge clk) begin
        case (layer)
            2'd0: begin d_ih <= 14; d_iw <= 14; d_ich <= 1; d_irs <= 7; d_k <= 3; d_p <= 1;
                  d_pone <= 1; d_row0 <= {8'd249, 8'd0}; d_col0 <= {8'd255, 8'd0}; d_oh <= 14; d_ow <= 14;
                  d_ng <= 32; d_pool <= 1; d_och <= 2; d_ors <= 8; d_obase <= 60; d_final <= 0;
                  d_wbase <= 0; d_tbase <= 0; end
            2'd1: begin d_ih <= 7; d_iw <= 7; d_ich <= 2; d_irs <= 8; d_k <= 3; d_p <= 0;
                  d_pone <= 0; d_row0 <= {8'd60, 8'd60}; d_col0 <= 0; d_oh <= 5; d_ow <= 5;
                  d_ng <= 64; d_pool <= 0; d_och <= 4; d_ors <= 12; d_obase <= 100; d_final <= 0;
                  d_wbase <= 288; d_tbase <= 32; end
            default: begin d_ih <= 5; d_iw <= 5; d_ich <= 4; d_irs <= 12; d_k <= 5; d_p <= 0;
                  d_pone <= 0; d_row0 <= {8'd100, 8'd100}; d_col0 <= 0; d_oh <= 1; d_ow <= 1;
                  d_ng <= 5; d_pool <= 0; d_och <= 0; d_ors <= 0; d_obase <= 0; d_final <= 1;
                  d_wbase <= 1440; d_tbase <= 96; end
        endcase
    end
    wire [WA-1:0] w_addr;
    wire [TA-1:0] t_addr;
    wire [PE*SIMD-1:0] w_data;
    wire [PE*(TW+1)-1:0] t_data;
    hdlgen_cfgmem #(.W(PE*SIMD), .D(1 << WA), .HUGE(1)) u_w (.clk(clk), .we(lfsr[7] & lfsr[9] & !busy),
        .waddr(lfsr[WA+7:8]), .wlane(lfsr[5]), .wdata(lfsr), .re(1'b1), .raddr(w_addr), .rdata(w_data));
    hdlgen_cfgmem #(.W(PE*(TW+1)), .D(1 << TA)) u_t (.clk(clk), .we(lfsr[7] & lfsr[10] & !busy),
        .waddr(lfsr[TA+7:8]), .wlane(1'b0), .wdata(lfsr), .re(1'b1), .raddr(t_addr), .rdata(t_data));
    wire ext_ready, tap_valid, acc_valid;
    wire f_we, f_done, f_in_ready;
    wire [1:0] f_bank;
    wire [BA-1:0] f_addr;
    wire [SIMD-1:0] f_data;
    generate
        if (FRONT) begin : g_front
            // Pixels from the LFSR; the front's parameters in block RAM written from it.
            wire f_w_re;
            wire [4:0] f_w_addr, f_t_addr;
            wire [8:0] f_w_data;
            wire [14:0] f_t_data;
            hdlgen_cfgmem #(.W(9), .D(32)) u_fw (.clk(clk), .we(lfsr[7] & lfsr[13]),
                .waddr(lfsr[12:8]), .wlane(1'b0), .wdata(lfsr), .re(f_w_re), .raddr(f_w_addr),
                .rdata(f_w_data));
            hdlgen_cfgmem #(.W(15), .D(32)) u_ft (.clk(clk), .we(lfsr[7] & lfsr[14]),
                .waddr(lfsr[12:8]), .wlane(1'b0), .wdata(lfsr), .re(f_w_re), .raddr(f_t_addr),
                .rdata(f_t_data));
            hdlgen_xfront #(.H(28), .W(28), .K(3), .P(1), .OH(28), .OW(28), .COUT(32), .IN_W(8),
                            .SIMD(SIMD), .BA(BA), .TW(14), .OCH(1), .ORS(7)) u_front (
                .clk(clk), .rst(1'b0), .in_valid(lfsr[15]), .in_ready(f_in_ready),
                .in_data(lfsr[23:16]), .go(lfsr[17]), .obase({2'b00, lfsr[24], 5'd0}),
                .done(f_done), .w_addr(f_w_addr), .w_re(f_w_re), .w_data(f_w_data),
                .t_addr(f_t_addr), .t_data(f_t_data), .o_we(f_we), .o_bank(f_bank),
                .o_addr(f_addr), .o_data(f_data), .o_ready(ext_ready));
        end else begin : g_lfsr
            assign f_we = lfsr[11] & lfsr[12];
            assign f_bank = lfsr[14:13];
            assign f_addr = lfsr[22:15];
            assign f_data = lfsr;
            assign f_done = 1'b0;
            assign f_in_ready = 1'b0;
        end
    endgenerate
    wire [3:0] tap_banks;
    wire [BA-1:0] tap_addr;
    wire [4*SIMD-1:0] tap_data;
    wire [4*PE*AW-1:0] acc_data;
    wire [DW-1:0] acc_group;
    hdlgen_xseq #(.PE(PE), .SIMD(SIMD), .AW(AW), .TW(TW), .BA(BA), .WA(WA), .TA(TA), .DW(DW)) u_seq (
        .clk(clk), .rst(1'b0), .start(start), .busy(busy), .done(done),
        .d_ih(d_ih), .d_iw(d_iw), .d_ich(d_ich), .d_irs(d_irs), .d_k(d_k), .d_p(d_p),
        .d_pone(d_pone), .d_row0(d_row0), .d_col0(d_col0), .d_oh(d_oh), .d_ow(d_ow), .d_ng(d_ng),
        .d_pool(d_pool), .d_och(d_och), .d_ors(d_ors), .d_obase(d_obase), .d_final(d_final),
        .d_wbase(d_wbase), .d_tbase(d_tbase), .w_addr(w_addr), .w_data(w_data), .t_addr(t_addr),
        .t_data(t_data), .ext_we(f_we), .ext_bank(f_bank), .ext_addr(f_addr),
        .ext_data(f_data), .ext_ready(ext_ready), .tap_valid(tap_valid), .tap_banks(tap_banks),
        .tap_addr(tap_addr), .tap_data(tap_data), .acc_valid(acc_valid), .acc_data(acc_data),
        .acc_group(acc_group));
    reg o = 1'b0;
    always @(posedge clk) o <= ^{f_done, f_in_ready, tap_valid, tap_banks, tap_addr, tap_data, acc_valid, acc_data, acc_group, ext_ready};
    assign led = o;
endmodule
`default_nettype wire
