//! Estimates (cycles per image, LUT4, FF, block RAM) per engine, and the folding search
//! that balances compute layers under a LUT budget (the slowest engine sets throughput).
//!
//! Cycle counts are exact steady-state intervals of the RTL (tests compare them with
//! Verilator's measurements). Resource figures are a linear model in iCE40 LUT4s fitted
//! to yosys `synth_ice40` results of the primitives (see docs/bnn-hardware.md).

use serde::Serialize;

use super::lib::MVAU_XG;
use super::lower::{compute_layers, divisors, lower, Design, Engine, Fold, Kind, Mvau, Swg};
use super::xseq::Xnet;
use crate::error::Error;
use crate::layers::fold::FoldKeys;
use crate::network::Network;

/// Per-engine estimate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EngineEstimate {
    pub name: String,
    pub kind: &'static str,
    pub pe: Option<usize>,
    pub simd: Option<usize>,
    /// Output pixels every weight word serves (4 on the layer-sequential engine, else 1).
    pub pix: usize,
    /// Steady-state cycles per image.
    pub cycles: u64,
    /// Binary MACs per image (compute engines).
    pub macs: u64,
    pub lut4: u64,
    pub ff: u64,
    /// iCE40 `SB_RAM40_4K` blocks (256 × 16 bit).
    pub bram: u64,
    /// ECP5 `DP16KD` blocks of the same memories (not in `design.json`: the board top's
    /// design id hashes it, and this figure only serves ECP5 builds' reports and checks).
    #[serde(skip)]
    pub dp16kd: u64,
    /// iCE40 UltraPlus `SB_SPRAM256KA` blocks (`store: spram` weights).
    pub spram: u64,
    /// iCE40 logic cells (see [`logic_cells`]).
    pub lc: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub engines: Vec<EngineEstimate>,
    /// Cycles between images in steady state (the slowest engine).
    pub interval: u64,
    pub lut4: u64,
    pub ff: u64,
    pub bram: u64,
    /// ECP5 `DP16KD` blocks (see [`EngineEstimate::dp16kd`]).
    #[serde(skip)]
    pub dp16kd: u64,
    pub spram: u64,
    /// iCE40 logic cells, the figure the folding budget bounds.
    pub lc: u64,
    /// Ideal cycles (MACs / (pe·simd)) of the slowest compute engine over the interval.
    pub efficiency: f64,
}

fn clog2(n: usize) -> u64 {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as u64
    }
}

/// Block RAMs of a memory on each family: iCE40 `SB_RAM40_4K` and ECP5 `DP16KD`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocks {
    pub ebr: u64,
    pub dp16kd: u64,
}

impl Blocks {
    /// A `width` × `depth` memory written a word at a time: the cheapest of each
    /// family's modes (iCE40 256×16, 512×8, 1024×4, 2048×2; ECP5 [`DP16KD_MODES`]), or
    /// none when it stays in flip-flops (`hdlgen_cfgmem` keeps up to 4 words in
    /// registers).
    pub fn of(width: usize, depth: usize) -> Self {
        if depth <= 4 || width == 0 {
            return Self::default();
        }
        Self {
            ebr: fewest(&[(256, 16), (512, 8), (1024, 4), (2048, 2)], width, depth),
            dp16kd: fewest(DP16KD_MODES, width, depth),
        }
    }

    /// A memory written over the configuration bus (`hdlgen_cfgmem`) in 32-bit lanes:
    /// on ECP5 yosys keeps each lane's write enable to blocks of their own, so a 512-word
    /// `PDPW16KD` holds one lane, 32 of its 36 bits (MNIST conv2's 3,072-bit weights
    /// took 96 blocks, not 86). iCE40's 16-bit blocks divide a lane already.
    pub fn lanes(width: usize, depth: usize) -> Self {
        let mut b = Self::of(width, depth);
        if b.dp16kd > 0 {
            b.dp16kd = (width / 32) as u64 * fewest(DP16KD_MODES, 32, depth)
                + if width % 32 > 0 {
                    fewest(DP16KD_MODES, width % 32, depth)
                } else {
                    0
                };
        }
        b
    }
}

/// ECP5 block RAM modes (words, bits): `DP16KD`'s, and `PDPW16KD`'s 512×36 (one write
/// and one read port, as every memory here has).
const DP16KD_MODES: &[(usize, usize)] = &[
    (512, 36),
    (1024, 18),
    (2048, 9),
    (4096, 4),
    (8192, 2),
    (16384, 1),
];

/// Blocks of a `width` × `depth` memory in the cheapest of `modes` (words, bits).
fn fewest(modes: &[(usize, usize)], width: usize, depth: usize) -> u64 {
    modes
        .iter()
        .map(|&(d, w)| (width.div_ceil(w) * depth.div_ceil(d)) as u64)
        .min()
        .expect("modes")
}

impl std::ops::Add for Blocks {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        Self {
            ebr: self.ebr + o.ebr,
            dp16kd: self.dp16kd + o.dp16kd,
        }
    }
}

impl std::ops::AddAssign for Blocks {
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl std::ops::Mul<Blocks> for u64 {
    type Output = Blocks;
    fn mul(self, b: Blocks) -> Blocks {
        Blocks {
            ebr: self * b.ebr,
            dp16kd: self * b.dp16kd,
        }
    }
}

/// iCE40 UltraPlus `SB_SPRAM256KA` blocks (16 bits × 16,384 words each; yosys gangs
/// them for width and cascades them for depth) of an MVAU's weights: none unless they
/// are in SPRAM.
pub fn spram_blocks(m: &Mvau) -> u64 {
    if !m.spram() {
        return 0;
    }
    ((m.pe * m.simd).div_ceil(16) * (m.sf() * m.nf()).div_ceil(16384)) as u64
}

/// SPRAM blocks of the largest iCE40 UltraPlus (UP5K).
const MAX_SPRAM: u64 = 4;

/// Window-generator write side and ring memory: (cycles to accept an image, bram, lut, ff).
fn swg_cost(s: &Swg) -> (u64, Blocks, u64, u64) {
    let w = &s.win;
    let ring_words = s.ring_rows() * w.in_w;
    let bram = Blocks::of(s.c * s.dw as usize, ring_words);
    let beat = (s.simd * s.dw as usize + s.simd) as u64;
    // Coordinate counters and compares (~190 LUT4 in yosys for the examples' geometries).
    let lut = 150 + beat + 4 * clog2(ring_words);
    let ff = 55 + 2 * beat;
    ((w.in_h * w.in_w) as u64, bram, lut, ff)
}

/// Whole-window generator (`hdlgen_winbuf`): (cycles to accept an image, bram, lut, ff).
/// K_H·K_W copies of the ring (block RAM above 4 words, else flip-flops with a read
/// multiplexer), a write-address counter per copy, the window's pixel, output and skid
/// registers (one LUT4 per bit each for the padding substitution and the output
/// multiplexer) and the reader's differences, tables and read address.
fn winbuf_cost(s: &Swg) -> (u64, Blocks, u64, u64) {
    let w = &s.win;
    let taps = (w.kh * w.kw) as u64;
    let pw = s.c * s.dw as usize;
    let depth = s.ring_rows() * w.in_w;
    let aw = clog2(depth);
    let win = taps * pw as u64;
    let ylast = (w.out_h - 1) * w.stride;
    let lmax = (2 * w.in_h + ylast + s.ring_rows() + w.kh + w.pad_top) * w.in_w
        + (w.out_w - 1) * w.stride
        + w.kw
        + w.pad_left
        + 2;
    let lw = clog2(lmax + 1) + 1;
    let (bram, mem_lut, mem_ff) = if depth > 4 {
        (taps * Blocks::of(pw, depth), 0, 0)
    } else {
        // Flip-flop copies: the words, a read multiplexer and the read register.
        (
            Blocks::default(),
            win * (depth as u64 - 1),
            win * depth as u64 + win,
        )
    };
    // (yosys `synth_ice40`, MNIST conv1 / conv2 geometries: ~430 / ~850 LUT4, ~310 / ~710 FF)
    let lut = 110 + 2 * win + taps * (aw + 2) + 3 * lw + 2 * aw + mem_lut;
    let ff = 40 + 2 * win + 4 * taps + taps * (aw + 1) + 3 * lw + aw + mem_ff;
    ((w.in_h * w.in_w) as u64, bram, lut, ff)
}

/// The window generator an MVAU reads from: `hdlgen_winbuf` for a whole window per beat
/// (with `hdlgen_chunk` behind it when a beat spans several taps but not all), else
/// `hdlgen_swg`. (cycles to accept an image, bram, lut, ff)
fn window_cost(s: &Swg) -> (u64, Blocks, u64, u64) {
    if s.uses_winbuf() {
        let (c, b, l, f) = winbuf_cost(s);
        let (cl, cf) = chunk_cost(s);
        (c, b, l + cl, f + cf)
    } else {
        swg_cost(s)
    }
}

/// `hdlgen_chunk` behind a whole-window generator (none for a whole window per beat):
/// (lut, ff): a shift register of the window's data and mask bits, a 2:1 multiplexer on
/// each, and a beat counter.
fn chunk_cost(s: &Swg) -> (u64, u64) {
    if s.window_chunks().is_none() {
        return (0, 0);
    }
    let bits = (s.win.kh * s.win.kw * s.c * (s.dw as usize + 1)) as u64;
    (bits + 6, bits + 6)
}

/// Weights of an MVAU whose memory has at most 4 words stay in flip-flops
/// (`hdlgen_cfgmem`), with a read multiplexer and, written through a registered
/// bus, per-lane hits and data, and per-(word, lane) strobes (`CFG_REG`, which every board
/// plan sets): (lut, ff).
/// Mostly whole-window MVAUs (SF = 1, so NF words of PE·SIMD bits); see
/// docs/bnn-hardware.md.
fn weight_regs(m: &Mvau) -> (u64, u64) {
    let words = (m.sf() * m.nf()) as u64;
    if m.logic() || words > 4 {
        return (0, 0);
    }
    let bits = (m.pe * m.simd) as u64;
    (
        bits * (words - 1),
        bits * words + bits.div_ceil(32) * (33 + words) + 34,
    )
}

/// (LUT4, flip-flops) `hdlgen_mvau` adds on ECP5 plans (`replicate`; else none).
/// W_PIPE (`Mvau::w_pipe`): the weight word once more, and the operands (MODE 1 also −x,
/// which then has no other register) in a copy per `MVAU_XG` PEs. EN_PIPE
/// (`Mvau::en_pipe`): two whole-vector FIFO entries in place of one fold's lanes, and a
/// two-way multiplexer in front of the head and the second entry. X_COPY
/// (`Mvau::x_copy`): the operands (and MODE 1's −x) in a copy per `MVAU_XG` PEs, one of
/// which the plain MVAU already has.
fn ecp5_extra(m: &Mvau, replicate: bool) -> (u64, u64) {
    let (out, pe_out) = ((m.mh * m.ob as usize) as u64, (m.pe * m.ob as usize) as u64);
    let (mut lut, mut ff) = (0, 0);
    if m.en_pipe(replicate) {
        lut += 2 * out - pe_out;
        ff += 2 * out - pe_out + 2;
    }
    // One copy's operand bits and (MODE 1) −x bits.
    let copies = m.pe.div_ceil(MVAU_XG) as u64;
    let ops = (m.simd * m.in_w as usize + if m.masked { m.simd } else { 0 }) as u64;
    let neg = if m.int {
        (m.simd * (m.in_w as usize + 1)) as u64
    } else {
        0
    };
    if m.w_pipe(replicate) {
        ff += (m.pe * m.simd) as u64 + copies * ops + (copies - 1) * neg + 2;
    }
    if m.x_copy(replicate) {
        ff += (copies - 1) * (ops + neg);
    }
    (lut, ff)
}

/// What the folding search charges for a block of block RAM a whole-window generator
/// adds, in logic cells (a UP5K's logic cells per EBR, 5,280 / 30): its ring copies trade
/// block RAM for throughput, and the budget counts logic only.
const EBR_LC: u64 = 176;

/// Whole-window candidates the folding search considers: at most 25 taps (ring copies)
/// and a window of at most 8,192 bits (its pixel, output and skid registers). A dense
/// layer's whole-map window passes on small maps only; it never shortens the interval
/// there anyway (the map's pixels arrive one per cycle), so it is chosen only when cheaper.
fn whole_window_sensible(s: &Swg) -> bool {
    s.win.kh * s.win.kw <= 25 && s.win.kh * s.win.kw * s.c * s.dw as usize <= 8192
}

/// MVAU alone (without its window generator): (lut, ff, bram). Fitted to yosys 0.70
/// `synth_ice40` of `hdlgen_mvau` over PE × SIMD grids (`bench/mvau_density.sh`).
fn mvau_cost(m: &Mvau, reg_every: usize) -> (u64, u64, Blocks) {
    let lanes = (m.pe * m.simd) as u64;
    let (pe, acc, tw) = (m.pe as u64, m.acc_w as u64, m.tw as u64 + 1);
    let (out, pe_out) = ((m.mh * m.ob as usize) as u64, pe * m.ob as u64);
    let (nf, simd) = (m.nf() as u64, m.simd as u64);
    let pw = clog2(m.mw + 1);
    // Unmasked XNOR layers with thresholds compare the popcount itself (no 2p − n).
    let pop_domain = !m.int && !m.masked && m.thr;
    // XNOR folded into full-adder leaves + carry-chain tree: ~1.95 LUT4 per lane, ~2.2
    // with the padding mask; an integer lane negates and adds IN_W + 1 bits.
    let mut lane_lut = if m.int {
        (m.in_w as u64 + 1) * lanes
    } else if m.masked {
        lanes * 11 / 5
    } else {
        lanes * 2
    };
    if m.logic() {
        // Constant weights: smaller leaves; more than one word adds a ROM of about a
        // LUT4 per 4 words per bit.
        let words = (m.sf() * m.nf()) as u64;
        lane_lut = lane_lut * 21 / 25
            + if words > 1 {
                lanes * words.div_ceil(4)
            } else {
                0
            };
    }
    let lane_ff = if m.int {
        (m.in_w as u64 + 1) * lanes * 5 / 6
    } else {
        lanes * 9 / 10
    };
    // A register after every adder level (REG_EVERY 1, the ECP5 plan) instead of every
    // other: about 2.2 flip-flops per lane (yosys synth_ecp5 of MNIST conv3 at 64 × 64:
    // 12,660 flip-flops, 9,150 of them in the popcount trees).
    let lane_ff = if reg_every == 1 {
        lane_ff * 12 / 5
    } else {
        lane_ff
    };
    // Per PE: accumulator (none when a fold is one beat), result register, compare with
    // flip, output lane; the dot (2p − n or Σ ±x) and its register unless the compare is
    // in the popcount domain.
    let run = if m.sf() > 1 { pw } else { 0 };
    let per_pe_lut = run + 2 + if pop_domain { 0 } else { acc + 1 };
    let per_pe_ff = pw + run + if pop_domain { 0 } else { acc };
    // Live/replayed operand multiplexer.
    let mux = if nf > 1 {
        simd * m.in_w as u64 + if m.masked { simd } else { 0 }
    } else {
        0
    };
    // Thresholds of up to 4 words live in the MVAU's flip-flops (read multiplexer ~1 LUT4
    // per bit at 2 words, 2 at 3–4).
    let t_bits = pe * if pop_domain { clog2(m.mw + 2) + 1 } else { tw };
    // Plus the threshold read register t_q, and at NF = 4 the split multiplexer's t_a.
    let small_t = if m.thr {
        t_bits * (if nf <= 4 { nf } else { 0 } + 1 + (nf == 4) as u64)
    } else {
        0
    };
    // The weight word register behind the memory.
    let w_q = if m.logic() { 0 } else { lanes };
    let t_mux = match nf {
        2 => t_bits,
        3 | 4 => 2 * t_bits,
        _ => 0,
    } * m.thr as u64;
    // A narrow, deep weight memory (small PE·SIMD) spans many cascaded block RAMs whose
    // read and write paths yosys muxes in logic: ~11 LUT4 per 1,024 words per bit of
    // width below 16 (PE = SIMD = 1 over 73,728 words: 936 LUT4 where the rest is ~120).
    let width = m.pe * m.simd;
    // SPRAM (16K words) needs no cascade; its shared port multiplexes the write address
    // in front of the read address (a LUT4 per address bit).
    let deep = if m.spram() {
        clog2(m.sf() * m.nf())
    } else if m.logic() || width >= 16 {
        0
    } else {
        (11 * m.sf() * m.nf() / 1024 / width) as u64
    };
    let lut = lane_lut + pe * per_pe_lut + mux + t_mux + pe_out + deep + 105;
    let ff =
        lane_ff + pe * per_pe_ff + 2 * out + pe_out + small_t + w_q + 2 * simd * m.in_w as u64 + 60;
    let mut bram = if m.logic() || m.spram() {
        Blocks::default()
    } else {
        Blocks::lanes(m.pe * m.simd, m.sf() * m.nf())
    };
    if m.thr {
        bram += Blocks::lanes(m.pe * (m.tw as usize + 1), m.nf());
    }
    if m.nf() > 1 && m.sf() > 4 {
        bram += Blocks::of(m.simd * (m.in_w as usize + 1), m.sf());
    }
    (lut, ff, bram)
}

/// iCE40 logic cells: a cell holds a LUT4 and a flip-flop, but most pipeline and
/// parameter registers do not pair with a LUT (fitted to nextpnr's ICESTORM_LC counts:
/// the digits board top at a 2,304-cycle folding packs 2,366 LUT4 and 2,935 FF into
/// 4,411 cells, and failed to place at that 83 %).
pub fn logic_cells(lut4: u64, ff: u64) -> u64 {
    lut4 + ff * 7 / 10
}

/// The logic fabric a folding budget is counted in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Fabric {
    /// iCE40 logic cells ([`logic_cells`]).
    #[default]
    Ice40,
    /// ECP5 LUT4 slots: every slice has as many flip-flops as LUT4s, and nextpnr packs
    /// them independently, so the larger of the two counts is what fills the device. The
    /// LUT4 figures are fitted to `synth_ice40`; `synth_ecp5` needs about a quarter more
    /// slots (carry chains take two per CCU2C): the digits whole-window folding 13,839
    /// against 9,893 + 650 for the shell, MNIST at 784 cycles 35,297 against 30,114.
    Ecp5,
}

impl Fabric {
    /// `b` in this fabric's block RAMs (iCE40 EBR, ECP5 DP16KD).
    pub fn blocks(self, b: Blocks) -> u64 {
        match self {
            Fabric::Ice40 => b.ebr,
            Fabric::Ecp5 => b.dp16kd,
        }
    }

    /// The budgeted logic of `lut4` LUT4s and `ff` flip-flops.
    pub fn logic(self, lut4: u64, ff: u64) -> u64 {
        match self {
            Fabric::Ice40 => logic_cells(lut4, ff),
            Fabric::Ecp5 => (lut4 * 5 / 4).max(ff),
        }
    }
}

/// Estimates one engine.
pub fn engine(e: &Engine, reg_every: usize) -> EngineEstimate {
    let (kind, pe, simd, cycles, macs, lut4, ff, bram) = match &e.kind {
        Kind::Mvau { swg, mvau: m, .. } => {
            let (wr, sb, sl, sf_) = window_cost(swg);
            let (mut ml, mut mf, mb) = mvau_cost(m, reg_every);
            let (rl, rf) = weight_regs(m);
            ml += rl;
            mf += rf;
            let vectors = (swg.win.out_h * swg.win.out_w) as u64;
            let reads = vectors * (m.sf() * m.nf()) as u64;
            let macs = vectors * (m.mw * m.mh) as u64;
            (
                "mvau",
                Some(m.pe),
                Some(m.simd),
                reads.max(wr),
                macs,
                ml + sl,
                mf + sf_,
                mb + sb,
            )
        }
        Kind::Pool {
            swg,
            c,
            ew,
            max,
            row: true,
        } => {
            // hdlgen_rowpool: the window row's running reduction, the combine stage's
            // row-buffer word, a two-entry FIFO; one multiplexer or compare per bit per
            // stage; the row buffer (OUT_W words) in block RAM, or at most 4 words in
            // flip-flops with a read multiplexer (yosys synth_ice40, digits: C = 16 over
            // 4 words 129 LUT4 / 147 FF, C = 32 over 2 words 155 / 207).
            let w = &swg.win;
            let width = (*c * *ew as usize) as u64;
            let per = if *max { 5 } else { 3 };
            let bram = Blocks::of(*c * *ew as usize, w.out_w);
            let (row_lut, row_ff) = if bram == Blocks::default() {
                (width * (w.out_w as u64 - 1) / 2, width * w.out_w as u64)
            } else {
                (0, 0)
            };
            (
                "pool",
                None,
                None,
                (w.in_h * w.in_w) as u64,
                0,
                per * width + row_lut + 45,
                4 * width + row_ff + 20,
                bram,
            )
        }
        Kind::Pool { swg, c, ew, .. } => {
            let (wr, sb, sl, sf_) = swg_cost(swg);
            let k = (swg.win.kh * swg.win.kw) as u64;
            let reads = (swg.win.out_h * swg.win.out_w) as u64 * k;
            let width = (*c * *ew as usize) as u64;
            (
                "pool",
                None,
                None,
                reads.max(wr),
                0,
                sl + 2 * width + 10,
                sf_ + 2 * width + 30,
                sb,
            )
        }
        Kind::Thresh { c, tw, in_w, .. } => {
            let pixels = (e.out_shape.h * e.out_shape.w) as u64;
            let c = *c as u64;
            (
                "thresh",
                None,
                None,
                pixels,
                0,
                c * (*in_w as u64 + *tw as u64) + 10,
                c * (*tw as u64 + 3) + 20,
                Blocks::default(),
            )
        }
        Kind::Argmax {
            cls,
            in_w,
            plain: true,
            ..
        } => {
            // The input register and its shift, the comparison, the output register.
            let (c, w) = (*cls as u64, *in_w as u64);
            (
                "argmax",
                None,
                None,
                c + 1,
                0,
                c * w + 2 * w + 20,
                c * w + 3 * w + 20,
                Blocks::default(),
            )
        }
        Kind::Seq(x) => {
            let (lut4, ff, bram) = seq_cost(x);
            let macs = x
                .plan
                .runs
                .iter()
                .map(|r| {
                    let d = &r.desc;
                    (d.oh * d.ow * d.k * d.k * d.input.ch * x.plan.simd * d.groups * x.plan.pe)
                        as u64
                })
                .sum();
            (
                "seq",
                Some(x.plan.pe),
                Some(x.plan.simd),
                x.interval(reg_every) as u64,
                macs,
                lut4,
                ff,
                bram,
            )
        }
        Kind::Argmax { cls, in_w, sw, .. } => (
            "argmax",
            None,
            None,
            argmax_cycles(*cls, *in_w),
            0,
            4 * *sw as u64 + 200,
            8 * *sw as u64 + (*cls as u64) * (*in_w as u64) + 200,
            Blocks::lanes(64, *cls),
        ),
    };
    EngineEstimate {
        name: e.name.clone(),
        kind,
        pe,
        simd,
        cycles,
        macs,
        lut4,
        ff,
        bram: bram.ebr,
        dp16kd: bram.dp16kd,
        pix: if matches!(e.kind, Kind::Seq(_)) { 4 } else { 1 },
        spram: match &e.kind {
            Kind::Mvau { mvau: m, .. } => spram_blocks(m),
            Kind::Seq(x) => seq_spram(x),
            _ => 0,
        },
        lc: logic_cells(lut4, ff),
    }
}

/// The layer-sequential engine (`hdlgen_xnet`): (lut, ff, bram). The sequencer's core
/// (4 pixels × PE × SIMD XNOR-popcount, ~2 LUT4 a lane as in the MVAU), its banks'
/// read and write multiplexers, the front end's two adder trees and patch, control;
/// fitted to yosys `synth_ice40` of the MNIST engine (docs/board-flow.md).
fn seq_cost(x: &Xnet) -> (u64, u64, Blocks) {
    let (pe, simd) = (x.plan.pe as u64, x.plan.simd as u64);
    let (aw, ba, dw) = (x.aw as u64, x.plan.ba as u64, x.dw as u64);
    let lanes = 4 * pe * simd;
    let f = &x.front;
    let (kk, xw) = ((f.k * f.k) as u64, f.in_w as u64 + 1);
    let pk = (f.k as u64 + 1).pow(2);
    // Per (pixel, output): XNOR + popcount leaves (~2 LUT4 a lane), the count routing,
    // accumulator, threshold compare.
    let core_lut = lanes * 2 + 4 * pe * (2 * aw + 8);
    let core_ff = lanes * 9 / 10 + 4 * pe * (2 * aw + 2);
    // Sequencer: loop counters and flags, the banks' tap addresses (two adders each) and
    // padding compares, the written words' collector and the external port's multiplexer.
    let bank_lut = 8 * simd + 12 * ba + 40 * dw + 300;
    let bank_ff = 12 * simd + 20 * dw + 8 * ba + 150;
    // Front end: two adder trees of K·K + 1 terms (each a conditional negation), the
    // patch, coordinates, the channel loop, its output slice.
    let front_lut = 4 * (kk + 1) * (xw + 2) + pk * xw / 2 + simd + 250;
    let front_ff = 2 * (kk + 1) * (xw + 2) + pk * xw + 2 * simd + 200;
    let out = x.cls as u64 * aw;
    let lut = core_lut + bank_lut + front_lut + out / 2 + 60;
    let ff = core_ff + bank_ff + front_ff + out + 40;
    let pl = &x.plan;
    let banks = 4 * Blocks::of(x.plan.simd, 1 << pl.ba);
    let weights = if seq_spram(x) > 0 {
        Blocks::default()
    } else {
        Blocks::lanes(x.plan.pe * x.plan.simd, pl.weight_words)
    };
    let thr = Blocks::lanes(x.plan.pe * (x.tw as usize + 1), pl.threshold_words);
    let fparams = Blocks::lanes(f.k * f.k, f.cout) + Blocks::lanes(f.tw as usize + 1, f.cout);
    let image = Blocks::of(f.in_w as usize, f.h * f.w);
    (lut, ff, banks + weights + thr + fparams + image)
}

/// SPRAM blocks of the layer-sequential engine's weights (set by `lower_seq`).
fn seq_spram(x: &Xnet) -> u64 {
    if !x.spram {
        return 0;
    }
    let width = x.plan.pe * x.plan.simd;
    (width.div_ceil(16) * x.plan.weight_words.div_ceil(16384)) as u64
}

/// Steady-state cycles per image of `hdlgen_argmax` (see its header comment).
pub fn argmax_cycles(cls: usize, in_w: u32) -> u64 {
    cls as u64 * in_w.max(2) as u64
}

/// A two-entry register slice (`hdlgen_skid`) on a stream of `width` bits: (lut, ff).
fn skid_cost(width: usize) -> (u64, u64) {
    (width as u64 + 4, 2 * width as u64 + 2)
}

/// Estimates a lowered design; `replicate`: a register slice after every engine but the
/// last (`GenOptions::replicate`), counted with the engine it follows.
pub fn estimate(d: &Design, replicate: bool) -> Estimate {
    let n = d.engines.len();
    let engines: Vec<EngineEstimate> = d
        .engines
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let mut x = engine(e, d.reg_every);
            let folds = super::top::folds_argmax(d, k);
            if k > 0 && super::top::folds_argmax(d, k - 1) {
                // Shifted out of the layer-sequential engine's sums: no copy of them.
                // A class leaves every two cycles (hdlgen_xnet's registered comparisons);
                // the engine's interval counts the wait (Xnet::folded_interval).
                if let Kind::Argmax { cls, in_w, .. } = e.kind {
                    x.ff = x.ff.saturating_sub((cls * in_w as usize) as u64);
                    x.lc = logic_cells(x.lut4, x.ff);
                    x.cycles = 2 * cls as u64;
                }
            }
            if let (true, Kind::Seq(s)) = (folds, &e.kind) {
                x.cycles = s.folded_interval(d.reg_every) as u64;
            }
            if let Kind::Mvau { mvau, .. } = &e.kind {
                let (l, f) = ecp5_extra(mvau, replicate);
                x.lut4 += l;
                x.ff += f;
                x.lc = logic_cells(x.lut4, x.ff);
            }
            if replicate && k + 1 < n && !folds {
                let (l, f) = skid_cost(e.output.width());
                x.lut4 += l;
                x.ff += f;
                x.lc = logic_cells(x.lut4, x.ff);
            }
            x
        })
        .collect();
    let interval = engines.iter().map(|e| e.cycles).max().unwrap_or(1).max(1);
    let ideal = engines
        .iter()
        .filter_map(|e| Some(e.macs.div_ceil((e.pix * e.pe? * e.simd?) as u64)))
        .max()
        .unwrap_or(interval);
    Estimate {
        interval,
        lut4: engines.iter().map(|e| e.lut4).sum::<u64>() + 40,
        ff: engines.iter().map(|e| e.ff).sum::<u64>() + 40,
        bram: engines.iter().map(|e| e.bram).sum(),
        dp16kd: engines.iter().map(|e| e.dp16kd).sum(),
        spram: engines.iter().map(|e| e.spram).sum(),
        lc: engines.iter().map(|e| e.lc).sum::<u64>() + 80,
        efficiency: ideal as f64 / interval as f64,
        engines,
    }
}

/// Picks `pe`/`simd` for every compute layer: the smallest interval whose cheapest
/// foldings keep the whole design within `lc_budget` of `fabric`'s logic (iCE40 logic
/// cells, ECP5 LUT4 slots) and `bram_budget` of its block RAMs, honouring user-fixed
/// keys. With no budgets, the fastest.
#[allow(clippy::too_many_arguments)]
pub fn choose_folding(
    net: &Network,
    lc_budget: Option<u64>,
    bram_budget: Option<u64>,
    fabric: Fabric,
    reg_every: usize,
    replicate: bool,
    row_pool: bool,
) -> Result<Vec<Fold>, Error> {
    let layers = compute_layers(net);
    for (d, keys) in &layers {
        super::lower::check_fixed(net, d, keys)?;
    }
    // The smallest folding fixes everything the folding does not change (widths, the
    // other engines); candidates vary pe/simd of one compute engine at a time.
    let base_folds: Vec<Fold> = layers
        .iter()
        .map(|(_, k)| Fold {
            pe: k.pe.map_or(1, |p| p.value),
            simd: k.simd.map_or(1, |s| s.value),
        })
        .collect();
    let base = lower(net, &base_folds, reg_every, row_pool)?;
    let compute: Vec<(&Swg, &Mvau)> = base
        .engines
        .iter()
        .filter_map(|e| match &e.kind {
            Kind::Mvau { swg, mvau, .. } => Some((swg, mvau)),
            _ => None,
        })
        .collect();
    // The engines the search does not fold, estimated once.
    let fixed: Vec<EngineEstimate> = base
        .engines
        .iter()
        .filter(|e| !matches!(e.kind, Kind::Mvau { .. }))
        .map(|e| engine(e, reg_every))
        .collect();
    let fixed_lc: u64 = fixed
        .iter()
        .map(|x| fabric.logic(x.lut4, x.ff))
        .sum::<u64>()
        + 80
        + if replicate {
            let k = base.engines.len().saturating_sub(1);
            base.engines[..k]
                .iter()
                .map(|e| {
                    let (l, f) = skid_cost(e.output.width());
                    fabric.logic(l, f)
                })
                .sum::<u64>()
        } else {
            0
        };
    let fixed_bram: u64 = fixed
        .iter()
        .map(|x| {
            fabric.blocks(Blocks {
                ebr: x.bram,
                dp16kd: x.dp16kd,
            })
        })
        .sum();
    // (cycles, logic, block RAMs, folding) per candidate.
    let mut options: Vec<Vec<(u64, u64, u64, Fold)>> = vec![];
    for ((d, keys), (swg, m)) in layers.iter().zip(&compute) {
        let FoldKeys { pe, simd, .. } = keys;
        let pes = pe.map_or_else(|| divisors(d.mh), |p| vec![p.value]);
        // Whole-window simd (hdlgen_winbuf) where its window is a sensible size.
        let whole = |s: usize| {
            let mut sw = **swg;
            sw.simd = s;
            sw.uses_winbuf().then_some(sw)
        };
        let simds = simd.map_or_else(
            || {
                d.simds()
                    .into_iter()
                    .filter(|&s| whole(s).is_none_or(|sw| whole_window_sensible(&sw)))
                    .collect()
            },
            |s| vec![s.value],
        );
        let (_, swb, swl, swf) = window_cost(swg);
        let mut v = vec![];
        for &p in &pes {
            for &s in &simds {
                let f = Fold { pe: p, simd: s };
                let mut mm = **m;
                mm.pe = p;
                mm.simd = s;
                let (l, ff, mb) = mvau_cost(&mm, reg_every);
                let (el, ef) = ecp5_extra(&mm, replicate);
                let (l, ff) = (l + el, ff + ef);
                let (rl, rf) = weight_regs(&mm);
                let (lc, b) = match whole(s) {
                    Some(sw) => {
                        let (_, wb, wl, wf) = window_cost(&sw);
                        (
                            fabric.logic(l + wl + rl, ff + wf + rf) + wb.ebr * EBR_LC,
                            mb + wb,
                        )
                    }
                    None => (fabric.logic(l + swl + rl, ff + swf + rf), mb + swb),
                };
                v.push((d.cycles(f), lc, fabric.blocks(b), f));
            }
        }
        // SPRAM weights wider than the 4 blocks of a UP5K (the most any part has) cannot
        // be built; if nothing else is left (fixed keys), the capacity check reports it.
        let buildable = |f: &Fold| {
            let mut mm = **m;
            mm.pe = f.pe;
            mm.simd = f.simd;
            spram_blocks(&mm) <= MAX_SPRAM
        };
        if v.iter().any(|o| buildable(&o.3)) {
            v.retain(|o| buildable(&o.3));
        }
        options.push(v);
    }
    // For an interval T, every layer takes its cheapest folding that meets T: (logic,
    // block RAMs, foldings). Cheapest in logic, unless that exceeds the block-RAM budget:
    // then in block RAM (logic breaking ties).
    let pick_by = |t: u64, bram_first: bool| -> Option<(u64, u64, Vec<Fold>)> {
        let (mut total, mut bram) = (fixed_lc, fixed_bram);
        let mut folds = vec![];
        for v in &options {
            // (An option whose logic alone breaks the logic budget is never part of a
            // fit: left out when it would otherwise win on block RAM.)
            let in_budget = |o: &&(u64, u64, u64, Fold)| {
                !bram_first || lc_budget.is_none_or(|x| fixed_lc + o.1 <= x)
            };
            let best = v
                .iter()
                .filter(|o| o.0 <= t)
                .filter(in_budget)
                .min_by_key(|o| {
                    let (a, b) = if bram_first { (o.2, o.1) } else { (o.1, o.2) };
                    (a, b, o.3.pe * o.3.simd, o.3.pe)
                })?;
            total += best.1;
            bram += best.2;
            folds.push(best.3);
        }
        Some((total, bram, folds))
    };
    let pick = |t: u64| {
        let p = pick_by(t, false)?;
        match bram_budget {
            Some(x) if p.1 > x => pick_by(t, true).filter(|q| q.1 <= x).or(Some(p)),
            _ => Some(p),
        }
    };
    let mut ts: Vec<u64> = options.iter().flatten().map(|o| o.0).collect();
    ts.sort_unstable();
    ts.dedup();
    // Logic is monotone in T, block RAM nearly so (slower foldings have narrower, deeper
    // memories): binary search the smallest feasible interval. The answer is feasible
    // whatever the shape; at worst a faster feasible one is missed. `found` is the pick at
    // the last feasible interval tried, which is where the search ends.
    let within = |p: &(u64, u64, Vec<Fold>)| {
        lc_budget.is_none_or(|x| p.0 <= x) && bram_budget.is_none_or(|x| p.1 <= x)
    };
    let (mut lo, mut hi, mut found) = (0usize, ts.len(), None);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match pick(ts[mid]).filter(within) {
            Some(p) => {
                found = Some(p);
                hi = mid;
            }
            None => lo = mid + 1,
        }
    }
    if let Some((_, _, folds)) = found {
        return Ok(folds);
    }
    let Some(&slowest) = ts.last() else {
        return Ok(vec![]);
    };
    // Nothing fits: say by how much the slowest folding misses.
    let mut over = vec![];
    if let Some((l, b, _)) = pick(slowest) {
        if let Some(x) = lc_budget.filter(|&x| l > x) {
            over.push(format!(
                "the budget of {x} {}: the smallest needs about {l}",
                match fabric {
                    Fabric::Ice40 => "logic cells",
                    Fabric::Ecp5 => "LUT4s",
                }
            ));
        }
        if let Some(x) = bram_budget.filter(|&x| b > x) {
            over.push(format!(
                "the {x} block RAMs the network may use: the slowest needs {b}"
            ));
        }
    }
    Err(Error::Input {
        path: net.src.name.clone().into(),
        message: format!("no folding fits {}", over.join(" or ")).trim_end().into(),
        help: Some(
            "raise the budget (`--luts N`), choose a larger board (`--board`), or reduce the network"
                .into(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::source::Source;

    /// Block counts yosys 0.70 `synth_ecp5` gave MNIST's memories on the 85F (1,176-cycle
    /// folding): conv2's and conv3's lane-written weights take a DP16KD per 32-bit lane
    /// (96 and 64, not 86 and 57), fc's 32 × 1,000 two, a 32-bit window ring one.
    #[test]
    fn block_rams_per_family() {
        assert_eq!(Blocks::lanes(3072, 6).dp16kd, 96);
        assert_eq!(Blocks::lanes(2048, 36).dp16kd, 64);
        assert_eq!(Blocks::lanes(32, 1000).dp16kd, 2);
        assert_eq!(Blocks::of(32, 112).dp16kd, 1);
        assert_eq!(Blocks::of(3072, 6).dp16kd, 86);
        // iCE40: 16-bit blocks divide a lane; a lane-written memory costs the same.
        assert_eq!(
            Blocks::lanes(3072, 6),
            Blocks {
                ebr: 192,
                dp16kd: 96
            }
        );
        assert_eq!(Blocks::lanes(40, 300).ebr, Blocks::of(40, 300).ebr);
        assert_eq!(Blocks::of(64, 4), Blocks::default(), "flip-flops");
    }

    /// With a block-RAM budget the search trades logic for block RAM: at a logic budget of
    /// 30,000 LUT4 slots, a dense layer's cheapest fastest folding holds its 524,288 weight
    /// bits and a replay buffer in more than 40 DP16KD; under a budget of 40 another
    /// folding within it is chosen, and an impossible budget is an error that names
    /// block RAM.
    #[test]
    fn the_folding_search_keeps_within_a_block_ram_budget() {
        let yaml = "version: 1\nname: t\ninput: {shape: [4096], bits: 1, signed: false}\nlayers:\n  - binary_dense: {name: fc, units: 128, weights: {random: 1}}\n  - output: {name: o}\n";
        let net = Network::parse(Source::new("t.yaml", yaml.into(), "")).expect("parses");
        let run = |bram: Option<u64>| {
            let folds = choose_folding(&net, Some(30_000), bram, Fabric::Ecp5, 1, true, false)?;
            let d = lower(&net, &folds, 1, false).expect("lowers");
            Ok::<_, Error>((estimate(&d, true), folds))
        };
        let (free, ff) = run(None).expect("a folding");
        let (held, hf) = run(Some(40)).expect("a folding");
        assert!(free.dp16kd > 40, "{ff:?}: {}", free.dp16kd);
        assert!(held.dp16kd <= 40, "{hf:?}: {}", held.dp16kd);
        // (Here as fast: 128 × 8 needs no replay buffer, 8 × 128 eight DP16KD of it.)
        assert!(held.interval >= free.interval, "{ff:?} {hf:?}");
        let m = run(Some(10)).expect_err("no folding").to_string();
        assert!(m.contains("block RAMs"), "{m}");
    }

    /// The folding search keeps `store: spram` weights within a UP5K's 4 SPRAM blocks at
    /// every budget, and does not hold a folding whose weights are at most 4 words (in
    /// flip-flops) to that: unbounded, it picks the whole layer in one word.
    #[test]
    fn spram_weights_stay_within_four_blocks() {
        let yaml = "version: 1\nname: t\ninput: {shape: [1024], bits: 1, signed: false}\nlayers:\n  - binary_dense: {name: fc, units: 64, store: spram, weights: {random: 1}}\n  - output: {name: o}\n";
        let net = Network::parse(Source::new("t.yaml", yaml.into(), "")).expect("parses");
        let mut spram_used = false;
        for budget in [3_000, 4_000, 6_000, 10_000, 20_000] {
            let folds = choose_folding(&net, Some(budget), None, Fabric::Ice40, 2, false, true)
                .expect("a folding");
            let d = lower(&net, &folds, 2, true).expect("lowers");
            let est = estimate(&d, false);
            assert!(est.spram <= MAX_SPRAM, "budget {budget}: {folds:?} {est:?}");
            spram_used |= est.spram > 0;
        }
        assert!(spram_used, "some budget keeps the weights in SPRAM");
        let folds =
            choose_folding(&net, None, None, Fabric::Ice40, 2, false, true).expect("a folding");
        assert_eq!(
            folds[0].pe * folds[0].simd,
            64 * 1024,
            "unbounded: one word, in flip-flops"
        );
    }
}
