// hdlgen_cfgmem: parameter memory (weights, thresholds, scales) written over the 32-bit
// configuration bus and read by an engine.
//
// D words of W bits. A write puts `wdata` into lane `wlane` of word `waddr`: bits
// [32*wlane +: 32] (the last lane may be narrower; its upper wdata bits are dropped). A
// word wider than 32 bits is written lane by lane with no staging register: each lane is
// its own write enable, which yosys maps to the block RAM's bit/byte write masks.
// Initial contents come from INIT_FILE ($readmemh, one W-bit word per line) when it is
// non-empty, so a design can boot with weights and still be reloaded at run time.
// Block RAM (D > 4) declares NR = max(2^clog2(D), 256) rows, and its INIT_FILE has NR
// lines: rows D..NR-1 are never read but hold a filler unique to the memory
// (rtl::params::hex), so icebram/ecpbram, which find a memory in a finished bitstream
// by the contents of each bit column over 256/512 rows, can swap weights without place
// and route. 256 rows cost no extra block: an iCE40 EBR is at most 16 bits wide in its
// 256-row mode and an ECP5 DP16KD has at least 512 rows.
// Read: synchronous, `rdata` shows word `raddr` from the clock edge where `re` was high
// (a clock enable, so a stalled pipeline keeps its operand).
// WREG = 1: writes are pipelined so that what steers them comes from flip-flops.
// Flip-flop memories: the bus; each lane's hit and data; each (word, lane) strobe; the
// write lands two cycles later, so every clock enable of a wide register file comes
// straight from a flip-flop (ECP5 at 150 MHz: a whole-window MVAU keeps thousands of
// weight bits in flip-flops). Block RAM: the address, data and each lane's write enable
// (the block's byte enables) are registered; the write lands one cycle later (the
// argmax's scale/bias memory: its word check into the byte enables was an 85F critical
// path).
// HUGE = 1 (iCE40 UltraPlus, D > 4): one single-port memory that yosys maps to
// SB_SPRAM256KA (16 bits × 16K words each, ganged for wider words): a write takes the
// port (the read register keeps its value that cycle, as the SPRAM's does), so writes
// must happen while the reader is idle, as they do. No INIT_FILE: an SPRAM has no initial
// contents in the bitstream, so its words are written over the bus after configuration.
`default_nettype none
module hdlgen_cfgmem #(
    parameter integer W = 32,
    parameter integer D = 1,
    parameter INIT_FILE = "",
    // CONST = 1: a constant table (word a = CONST_DATA[a*W +: W]) instead of a memory; the
    // write port is ignored and yosys folds the table into logic (`store: logic`).
    parameter integer CONST = 0,
    /* verilator lint_off WIDTHCONCAT */   // a deep memory's unused default: W·D zeros
    parameter [W*D-1:0] CONST_DATA = {(W*D){1'b0}},
    /* verilator lint_on WIDTHCONCAT */
    parameter integer WREG = 0,
    parameter integer HUGE = 0
) (
    input  wire                                   clk,
    input  wire                                   we,
    input  wire [((D > 1) ? $clog2(D) : 1)-1:0]   waddr,
    input  wire [((W > 32) ? $clog2((W + 31) / 32) : 1)-1:0] wlane,
    input  wire [31:0]                            wdata,
    input  wire                                   re,
    input  wire [((D > 1) ? $clog2(D) : 1)-1:0]   raddr,
    output reg  [W-1:0]                           rdata
);
    localparam integer AW = (D > 1) ? $clog2(D) : 1;
    localparam integer LANES = (W + 31) / 32;
    localparam integer LW = (W > 32) ? $clog2(LANES) : 1;
    // Rounded up to a power of two so every address of AW bits is in range. Writes happen
    // only while the engine is idle, so read-during-write needs no bypass (no_rw_check).
    // Up to 4 words stay in flip-flops: a wide, shallow memory would waste block RAMs.
    localparam integer N = 1 << AW;
    genvar l;
    generate
        if (CONST == 1) begin : g_const
            // The address is registered, not the data, so a one-word table is a constant.
            reg [AW-1:0] ra_q;
            always @(posedge clk) if (re) ra_q <= raddr;
            if (D == 1) begin : g_one
                always @(*) rdata = CONST_DATA[W-1:0];
                wire _unused_c = &{1'b0, ra_q, we, waddr, wlane, 1'b0};
            end else begin : g_rom
                always @(*) rdata = CONST_DATA[ra_q * W +: W];
                wire _unused_c = &{1'b0, we, waddr, wlane, 1'b0};
            end
        end else if (D > 4 && HUGE == 1) begin : g_huge
            (* ram_style = "huge" *) reg [W-1:0] mem [0:N-1];
            wire [AW-1:0] wa_w;
            wire [31:0] wd_w;
            wire [LANES-1:0] lwe;
            if (WREG == 1) begin : g_wq
                reg [AW-1:0] a;
                reg [31:0] d;
                always @(posedge clk) if (we) begin
                    a <= waddr;
                    d <= wdata;
                end
                assign wa_w = a;
                assign wd_w = d;
            end else begin : g_wd
                assign wa_w = waddr;
                assign wd_w = wdata;
            end
            // One address for both: the port is shared.
            wire wr = |lwe;
            wire [AW-1:0] addr = wr ? wa_w : raddr;
            for (l = 0; l < LANES; l = l + 1) begin : g_lane
                localparam integer LO = 32 * l;
                localparam integer NB = (W - LO) < 32 ? (W - LO) : 32;
                localparam [LW-1:0] LANE = l;
                if (WREG == 1) begin : g_lq
                    reg q = 1'b0;
                    always @(posedge clk) q <= we && wlane == LANE;
                    assign lwe[l] = q;
                end else begin : g_ld
                    assign lwe[l] = we && wlane == LANE;
                end
                always @(posedge clk)
                    if (lwe[l]) mem[addr][LO +: NB] <= wd_w[NB-1:0];
            end
            always @(posedge clk) if (re && !wr) rdata <= mem[addr];
            wire _unused_h = &{1'b0, wd_w, 1'b0};
        end else if (D > 4) begin : g_block
            // Rows past N are reached by no address (zero-extended below); see the header.
            localparam integer NR = (N < 256) ? 256 : N;
            localparam integer RAW = $clog2(NR);
            (* ram_style = "block", no_rw_check *) reg [W-1:0] mem [0:NR-1];
            wire [RAW+AW-1:0] wa_x = {{RAW{1'b0}}, waddr};
            wire [RAW+AW-1:0] ra_x = {{RAW{1'b0}}, raddr};
            if (INIT_FILE != "") begin : g_init
                initial $readmemh(INIT_FILE, mem);
            end
            wire [RAW+AW-1:0] wa_w;
            wire [31:0] wd_w;
            if (WREG == 1) begin : g_wq
                reg [AW-1:0] a;
                reg [31:0] d;
                always @(posedge clk) if (we) begin
                    a <= waddr;
                    d <= wdata;
                end
                assign wa_w = {{RAW{1'b0}}, a};
                assign wd_w = d;
                wire _unused_wa = &{1'b0, wa_x, 1'b0};
            end else begin : g_wd
                assign wa_w = wa_x;
                assign wd_w = wdata;
            end
            for (l = 0; l < LANES; l = l + 1) begin : g_lane
                localparam integer LO = 32 * l;
                localparam integer NB = (W - LO) < 32 ? (W - LO) : 32;
                localparam [LW-1:0] LANE = l;
                wire lwe;
                if (WREG == 1) begin : g_lq
                    reg q = 1'b0;
                    always @(posedge clk) q <= we && wlane == LANE;
                    assign lwe = q;
                end else begin : g_ld
                    assign lwe = we && wlane == LANE;
                end
                always @(posedge clk)
                    if (lwe) mem[wa_w[RAW-1:0]][LO +: NB] <= wd_w[NB-1:0];
            end
            wire _unused_w = &{1'b0, wa_w[RAW+AW-1:RAW], wd_w, 1'b0};
            always @(posedge clk) if (re) rdata <= mem[ra_x[RAW-1:0]];
            wire _unused_x = &{1'b0, wa_x[RAW+AW-1:RAW], ra_x[RAW+AW-1:RAW], 1'b0};
        end else begin : g_regs
            // Registers; the read address is registered instead of the data, so the word
            // is not stored twice (same one-cycle read timing; writes happen when idle).
            // Each lane registers its own copy of the address (kept, so yosys does not
            // merge them): one register steering a whole-window MVAU's 1,152-bit read
            // multiplexer was placed 5.4 ns of routing from most of it (digits, 85F).
            reg [W-1:0] mem [0:D-1];
            if (INIT_FILE != "") begin : g_init
                initial $readmemh(INIT_FILE, mem);
            end
            if (WREG == 1) begin : g_w1
                // Stage 1: the bus registered as it comes (one copy for all lanes; the
                // bits a lane holds, so a word narrower than the bus keeps no spare ones).
                localparam integer DW = (W < 32) ? W : 32;
                reg [DW-1:0] d;
                reg [AW-1:0] a;
                always @(posedge clk) if (we) begin
                    d <= wdata[DW-1:0];
                    a <= waddr;
                end
            end
            for (l = 0; l < LANES; l = l + 1) begin : g_lane
                localparam integer LO = 32 * l;
                localparam integer NB = (W - LO) < 32 ? (W - LO) : 32;
                localparam [LW-1:0] LANE = l;
                genvar a;
                if (WREG == 1) begin : g_wd
                    // Stage 2: this lane's hit (a flip-flop, so the lane data's enable is
                    // one net from a register) and its data, for all its words.
                    reg hit = 1'b0;
                    reg [NB-1:0] q;
                    always @(posedge clk) hit <= we && wlane == LANE;
                    always @(posedge clk) if (hit) q <= g_w1.d[NB-1:0];
                end
                if (D > 1) begin : g_rd
                    reg [AW-1:0] ra_q;
                    (* keep *) always @(posedge clk) if (re) ra_q <= raddr;
                    always @(*) rdata[LO +: NB] = mem[ra_q][LO +: NB];
                end
                for (a = 0; a < D; a = a + 1) begin : g_word
                    localparam [AW-1:0] ADDR = a;
                    if (WREG == 1) begin : g_wreg
                        // Stage 3: the word's strobe, then the word.
                        reg stb = 1'b0;
                        always @(posedge clk) stb <= g_wd.hit && g_w1.a == ADDR;
                        always @(posedge clk) if (stb) mem[a][LO +: NB] <= g_wd.q;
                    end else begin : g_wdir
                        always @(posedge clk)
                            if (we && wlane == LANE && waddr == ADDR) mem[a][LO +: NB] <= wdata[NB-1:0];
                    end
                end
            end
            if (D == 1) begin : g_one
                always @(*) rdata = mem[0];
                wire _unused_ra = &{1'b0, raddr, re, 1'b0};
            end
        end
    endgenerate
    // Upper data bits of a narrow last lane are unused by design.
    wire _unused_ok = &{1'b0, wdata, 1'b0};
endmodule
`default_nettype wire
