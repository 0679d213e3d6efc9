//! The matrix-vector-activation unit (`hdlgen_mvau`) and its signed adder tree
//! (`hdlgen_addtree`) in Verilator against the formulas they implement, computed here
//! directly with plain i64 loops: every output beat of many random vectors under random
//! input gaps and output back-pressure, weights and thresholds loaded lane by lane over
//! the configuration port (and from $readmemh files), reloads and resets in one build,
//! the exact cycles per vector and latency, the handshake rules, and lint-clean.

use std::path::PathBuf;

use hdlgen::arith::SplitMix64;
use hdlgen::rtl::lib::{
    addtree_latency, mvau_latency, popcount_latency, ADDTREE, CFGMEM, MVAU, POPCOUNT,
};
use hdlgen_sim::{build, lint, BuildOptions, Design, Instance, Model, PortHandle};

fn clog2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// Two's complement bits holding every value of `[lo, hi]`.
fn sbits(lo: i64, hi: i64) -> u32 {
    (1..63)
        .find(|&b| lo >= -(1i64 << (b - 1)) && hi < (1i64 << (b - 1)))
        .expect("fits in 63 bits")
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

/// A little-endian bit string packed into the 32-bit words of a wide port.
#[derive(Default, Clone)]
struct Bits {
    words: Vec<u32>,
    len: usize,
}

impl Bits {
    fn push(&mut self, v: u64, width: u32) {
        for b in 0..width as usize {
            if self.len.is_multiple_of(32) {
                self.words.push(0);
            }
            if (v >> b) & 1 == 1 {
                self.words[self.len / 32] |= 1 << (self.len % 32);
            }
            self.len += 1;
        }
    }
    fn get(words: &[u32], lo: usize, width: u32) -> u64 {
        (0..width as usize).fold(0, |v, b| {
            let bit = lo + b;
            v | ((u64::from(words[bit / 32] >> (bit % 32)) & 1) << b)
        })
    }
    /// Hex digits of the whole string, most significant first ($readmemh word).
    fn hex(&self) -> String {
        let digits = self.len.div_ceil(4).max(1);
        (0..digits)
            .rev()
            .map(|d| {
                let w = (self.len - 4 * d).min(4) as u32;
                format!("{:x}", Bits::get(&self.words, 4 * d, w))
            })
            .collect()
    }
}

// ------------------------------------------------------------------------------- MVAU

#[derive(Clone, Copy, Debug)]
struct Cfg {
    int: bool,
    mw: usize,
    mh: usize,
    pe: usize,
    simd: usize,
    in_w: u32,
    masked: bool,
    act: bool,
    reg_every: usize,
    /// ACC_W beyond the exact dot width (ACT 0: results are truncated back to OB).
    acc_extra: u32,
    /// OB beyond the exact dot width (ACT 0: results are sign-extended to OB).
    ob_extra: u32,
    /// The first weight/threshold set comes from W_INIT/T_INIT files.
    init: bool,
    /// CFG_REG = 1 (board plans): configuration writes are registered and land later.
    cfg_reg: bool,
    /// W_PIPE = 1 (ECP5 plans): one more operand and weight stage, operands in copies.
    w_pipe: bool,
    /// EN_PIPE = 1 (ECP5 plans): en decided a cycle ahead, a three-entry output FIFO.
    en_pipe: bool,
    /// X_COPY = 1 (ECP5 plans without W_PIPE): the trees' operands in copies.
    x_copy: bool,
}

#[allow(clippy::too_many_arguments)]
const fn cfg(
    int: bool,
    (mw, mh, pe, simd): (usize, usize, usize, usize),
    in_w: u32,
    masked: bool,
    act: bool,
    reg_every: usize,
    (acc_extra, ob_extra): (u32, u32),
    init: bool,
) -> Cfg {
    Cfg {
        int,
        mw,
        mh,
        pe,
        simd,
        in_w,
        masked,
        act,
        reg_every,
        acc_extra,
        ob_extra,
        init,
        cfg_reg: false,
        w_pipe: false,
        en_pipe: false,
        x_copy: false,
    }
}

/// XNOR configurations: PE ∈ {1, divisor, MH}, SIMD ∈ {1, divisor, MW}, NF = 1 and > 1,
/// SF = 1 and > 4 (the replay buffer in block RAM), 1- to 20-lane memory words.
const XNOR: &[Cfg] = &[
    cfg(false, (16, 4, 2, 4), 1, true, true, 2, (0, 0), true),
    cfg(false, (9, 3, 3, 9), 1, false, false, 1, (0, 0), false),
    cfg(false, (5, 4, 1, 1), 1, true, true, 1, (0, 0), false),
    cfg(false, (144, 32, 8, 16), 1, true, true, 2, (0, 0), false),
    cfg(false, (100, 6, 2, 25), 1, false, false, 3, (3, 0), false),
    cfg(false, (64, 10, 10, 64), 1, true, false, 2, (0, 2), false),
    cfg(false, (32, 2, 1, 32), 1, true, true, 2, (0, 0), false),
    // Unmasked with thresholds: compared in the popcount domain (p ≥ ceil((cmp + MW)/2)),
    // thresholds read a stage early: NF = 4 (the four-word threshold file), NF = 1,
    // NF > 4 (block RAM); odd SIMD, SIMD = 1, 2, 3; SF = 1, ring (SF ≤ 4) and block-RAM
    // replay; MW + 1 a power of two or not; every REG_EVERY (a 1-stage tree too).
    cfg(false, (12, 8, 2, 3), 1, false, true, 2, (0, 0), true),
    cfg(false, (7, 6, 6, 7), 1, false, true, 1, (0, 0), false),
    cfg(false, (40, 12, 2, 8), 1, false, true, 3, (0, 0), false),
    cfg(false, (6, 3, 1, 2), 1, false, true, 2, (0, 0), false),
    cfg(false, (3, 4, 4, 1), 1, false, true, 2, (0, 0), false),
    cfg(false, (63, 8, 2, 63), 1, false, true, 2, (0, 0), false),
];

/// Integer configurations (in_mask is driven at random and must be ignored).
const INT: &[Cfg] = &[
    cfg(true, (27, 8, 2, 3), 8, false, true, 2, (0, 0), false),
    cfg(true, (27, 8, 8, 27), 8, false, false, 2, (0, 0), false),
    cfg(true, (5, 3, 1, 1), 1, false, false, 1, (0, 0), false),
    cfg(true, (12, 6, 3, 4), 5, true, false, 1, (2, 0), false),
    cfg(true, (18, 4, 4, 2), 3, false, true, 3, (0, 0), false),
];

impl Cfg {
    fn sf(&self) -> usize {
        self.mw / self.simd
    }
    fn nf(&self) -> usize {
        self.mh / self.pe
    }
    fn ew(&self) -> u32 {
        if self.int {
            self.in_w
        } else {
            1
        }
    }
    /// Range of every dot product.
    fn dot_range(&self) -> (i64, i64) {
        let mw = self.mw as i64;
        if self.int {
            let big = 1i64 << (self.in_w - 1);
            (-mw * big, mw * big)
        } else {
            (-mw, mw)
        }
    }
    fn acc_w(&self) -> u32 {
        let (lo, hi) = self.dot_range();
        let exact = if self.int {
            sbits(lo, hi)
        } else {
            clog2(self.mw + 1) + 1
        };
        exact + self.acc_extra
    }
    fn tw(&self) -> u32 {
        let (lo, hi) = self.dot_range();
        sbits(lo - 1, hi + 2)
    }
    fn ob(&self) -> u32 {
        let (lo, hi) = self.dot_range();
        if self.act {
            1
        } else {
            sbits(lo, hi) + self.ob_extra
        }
    }
    fn w_bits(&self) -> usize {
        self.pe * self.simd
    }
    fn t_bits(&self) -> usize {
        self.pe * (self.tw() as usize + 1)
    }
    /// Config bus one bit wider than either memory needs (so writes past the end reach
    /// the unit and must be ignored).
    fn cfg_aw(&self) -> u32 {
        clog2(self.sf() * self.nf()).max(clog2(self.nf())).max(1) + 1
    }
    fn cfg_lw(&self) -> u32 {
        clog2(self.w_bits().div_ceil(32).max(self.t_bits().div_ceil(32))).max(1) + 1
    }
    fn name(&self) -> String {
        format!(
            "{}{}{}{}{} MW={} MH={} PE={} SIMD={} IN_W={} MASKED={} ACT={} R={}",
            if self.int { "int" } else { "xnor" },
            if self.cfg_reg { " CFG_REG" } else { "" },
            if self.w_pipe { " W_PIPE" } else { "" },
            if self.en_pipe { " EN_PIPE" } else { "" },
            if self.x_copy { " X_COPY" } else { "" },
            self.mw,
            self.mh,
            self.pe,
            self.simd,
            self.in_w,
            self.masked as u8,
            self.act as u8,
            self.reg_every
        )
    }
    fn init_paths(&self) -> (PathBuf, PathBuf) {
        let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hdlgen-rtl-mvau");
        let tag = format!(
            "{}_{}_{}_{}_{}_{}_{}_{}_{}",
            self.int as u8,
            self.mw,
            self.mh,
            self.pe,
            self.simd,
            self.cfg_reg as u8,
            self.w_pipe as u8,
            self.en_pipe as u8,
            self.x_copy as u8
        );
        (
            d.join(format!("w_{tag}.hex")),
            d.join(format!("t_{tag}.hex")),
        )
    }
    fn params(&self) -> Vec<String> {
        let mut p = vec![
            format!("-GMODE={}", self.int as u8),
            format!("-GMW={}", self.mw),
            format!("-GMH={}", self.mh),
            format!("-GPE={}", self.pe),
            format!("-GSIMD={}", self.simd),
            format!("-GIN_W={}", self.in_w),
            format!("-GMASKED={}", self.masked as u8),
            format!("-GACT={}", self.act as u8),
            format!("-GOB={}", self.ob()),
            format!("-GACC_W={}", self.acc_w()),
            format!("-GTW={}", self.tw()),
            format!("-GREG_EVERY={}", self.reg_every),
            format!("-GCFG_AW={}", self.cfg_aw()),
            format!("-GCFG_LW={}", self.cfg_lw()),
            format!("-GCFG_REG={}", self.cfg_reg as u8),
            format!("-GW_PIPE={}", self.w_pipe as u8),
            format!("-GEN_PIPE={}", self.en_pipe as u8),
            format!("-GX_COPY={}", self.x_copy as u8),
        ];
        if self.init {
            let (w, t) = self.init_paths();
            p.push(format!("-GW_INIT=\"{}\"", w.display()));
            if self.act {
                p.push(format!("-GT_INIT=\"{}\"", t.display()));
            }
        }
        p
    }
}

fn design() -> Design {
    Design::new("hdlgen_mvau")
        .text(POPCOUNT.0, POPCOUNT.1)
        .text(ADDTREE.0, ADDTREE.1)
        .text(CFGMEM.0, CFGMEM.1)
        .text(MVAU.0, MVAU.1)
}

fn model(c: &Cfg) -> Model {
    let opts = BuildOptions {
        verilator_args: c.params(),
        ..BuildOptions::default()
    };
    build(&design(), &opts).unwrap_or_else(|e| panic!("{}: {e}", c.name()))
}

/// One weight and threshold set: w[o][k] (true = +1) and (cmp, flip) per output.
struct Params {
    w: Vec<Vec<bool>>,
    t: Vec<(i64, bool)>,
}

impl Params {
    fn random(c: &Cfg, g: &mut SplitMix64) -> Self {
        let (lo, hi) = c.dot_range();
        let w = (0..c.mh)
            .map(|_| (0..c.mw).map(|_| g.next() & 1 == 1).collect())
            .collect();
        // Thresholds over the whole dot range and one past it on each side (the
        // generator's clamp), concentrated near zero where dots are most likely.
        let t = (0..c.mh)
            .map(|_| {
                let cmp = if g.next().is_multiple_of(3) {
                    g.uniform(lo - 1, hi + 2)
                } else {
                    let s = ((hi - lo) / 8).max(2);
                    g.uniform((-s).max(lo - 1), s.min(hi + 2))
                };
                (cmp, g.next() & 1 == 1)
            })
            .collect();
        Params { w, t }
    }

    /// Weight memory words: word nf·SF + sf, bit p·SIMD + i = w[nf·PE + p][sf·SIMD + i].
    fn weight_words(&self, c: &Cfg) -> Vec<Bits> {
        let mut out = vec![];
        for nf in 0..c.nf() {
            for sf in 0..c.sf() {
                let mut b = Bits::default();
                for p in 0..c.pe {
                    for i in 0..c.simd {
                        b.push(self.w[nf * c.pe + p][sf * c.simd + i] as u64, 1);
                    }
                }
                out.push(b);
            }
        }
        out
    }

    /// Threshold words: word nf, bits [p·(TW+1) +: TW+1] = {flip, f}, f = −c − 1 with
    /// c = cmp, or, on an unmasked XNOR layer (compared as the popcount p, dot = 2p − MW),
    /// c = ceil((cmp + MW) / 2).
    fn thresh_words(&self, c: &Cfg) -> Vec<Bits> {
        let tw = c.tw();
        (0..c.nf())
            .map(|nf| {
                let mut b = Bits::default();
                for p in 0..c.pe {
                    let (cmp, flip) = self.t[nf * c.pe + p];
                    let t = if !c.int && !c.masked {
                        // The smallest p with 2p − MW ≥ cmp.
                        let mut t = 0i64;
                        while 2 * t - (c.mw as i64) < cmp {
                            t += 1;
                        }
                        t
                    } else {
                        cmp
                    };
                    let f = -t - 1;
                    assert!(
                        f >= -(1i64 << (tw - 1)) && f < 1i64 << (tw - 1),
                        "field fits TW"
                    );
                    b.push(f as u64, tw);
                    b.push(flip as u64, 1);
                }
                b
            })
            .collect()
    }

    /// The reference: dot products from the definitions, then the activation.
    fn expect(&self, c: &Cfg, x: &[i64], m: &[bool]) -> Vec<i64> {
        (0..c.mh)
            .map(|o| {
                let dot: i64 = if c.int {
                    (0..c.mw)
                        .map(|k| if self.w[o][k] { x[k] } else { -x[k] })
                        .sum()
                } else {
                    let counted = |k: usize| !c.masked || m[k];
                    let p = (0..c.mw)
                        .filter(|&k| counted(k) && (x[k] == 1) == self.w[o][k])
                        .count() as i64;
                    let n = (0..c.mw).filter(|&k| counted(k)).count() as i64;
                    2 * p - n
                };
                if c.act {
                    let (cmp, flip) = self.t[o];
                    ((dot >= cmp) ^ flip) as i64
                } else {
                    dot
                }
            })
            .collect()
    }
}

struct Ports {
    clk: PortHandle,
    rst: PortHandle,
    iv: PortHandle,
    ir: PortHandle,
    id: PortHandle,
    im: PortHandle,
    ov: PortHandle,
    or: PortHandle,
    od: PortHandle,
    wwe: PortHandle,
    twe: PortHandle,
    word: PortHandle,
    lane: PortHandle,
    data: PortHandle,
}

impl Ports {
    fn of(sim: &Instance) -> Self {
        let port = |n: &str| sim.port(n).unwrap_or_else(|e| panic!("{e}"));
        Ports {
            clk: port("clk"),
            rst: port("rst"),
            iv: port("in_valid"),
            ir: port("in_ready"),
            id: port("in_data"),
            im: port("in_mask"),
            ov: port("out_valid"),
            or: port("out_ready"),
            od: port("out_data"),
            wwe: port("wcfg_we"),
            twe: port("tcfg_we"),
            word: port("cfg_word"),
            lane: port("cfg_lane"),
            data: port("cfg_data"),
        }
    }
}

fn reset(sim: &mut Instance, p: &Ports) {
    sim.set(p.iv, 0);
    sim.set(p.or, 0);
    sim.set(p.rst, 1);
    sim.tick(p.clk);
    sim.set(p.rst, 0);
    sim.eval();
}

/// Writes `words` lane by lane with `we`, then stray writes past the memory's end (words
/// ≥ depth, lanes ≥ the lane count) that must not land anywhere, then word 0 again, junk
/// first (it is read first, and streaming may start the cycle after the last write).
fn load(
    sim: &mut Instance,
    p: &Ports,
    c: &Cfg,
    we: PortHandle,
    words: &[Bits],
    g: &mut SplitMix64,
) {
    let lanes = words[0].len.div_ceil(32);
    sim.set(we, 1);
    for (a, b) in words.iter().enumerate() {
        for (l, &d) in b.words.iter().enumerate() {
            sim.set(p.word, a as u64);
            sim.set(p.lane, l as u64);
            sim.set(p.data, u64::from(d));
            sim.tick(p.clk);
        }
    }
    let (words_max, lanes_max) = (1usize << c.cfg_aw(), 1usize << c.cfg_lw());
    for a in words.len()..words_max.min(words.len() + 4) {
        for l in 0..lanes {
            sim.set(p.word, a as u64);
            sim.set(p.lane, l as u64);
            sim.set(p.data, g.next());
            sim.tick(p.clk);
        }
    }
    for l in lanes..lanes_max {
        sim.set(p.word, g.next() % words.len() as u64);
        sim.set(p.lane, l as u64);
        sim.set(p.data, g.next());
        sim.tick(p.clk);
    }
    let junk: Vec<u32> = (0..lanes).map(|_| g.next() as u32).collect();
    for w in [&junk, &words[0].words] {
        for (l, &d) in w.iter().enumerate() {
            sim.set(p.word, 0);
            sim.set(p.lane, l as u64);
            sim.set(p.data, u64::from(d));
            sim.tick(p.clk);
        }
    }
    sim.set(we, 0);
    sim.eval();
}

/// Thresholds, then weights (the weight word read first is written last).
fn load_all(sim: &mut Instance, p: &Ports, c: &Cfg, ps: &Params, g: &mut SplitMix64) {
    if c.act {
        load(sim, p, c, p.twe, &ps.thresh_words(c), g);
    }
    load(sim, p, c, p.wwe, &ps.weight_words(c), g);
    // Registered writes land up to two cycles later (the network waits cosim::CFG_SETTLE).
    if c.cfg_reg {
        for _ in 0..4 {
            sim.tick(p.clk);
        }
    }
}

/// One random input vector: x (±1 in XNOR mode, the full IN_W range in int mode) and a
/// random mask (ignored unless MODE 0 and MASKED).
fn random_vector(c: &Cfg, g: &mut SplitMix64) -> (Vec<i64>, Vec<bool>) {
    let dense = g.next() % 4; // mask densities from sparse to all ones
    let x = (0..c.mw)
        .map(|_| {
            if c.int {
                let h = 1i64 << (c.in_w - 1);
                // Extremes often: they are where negation and widths go wrong.
                match g.next() % 8 {
                    0 => -h,
                    1 => h - 1,
                    _ => g.uniform(-h, h - 1),
                }
            } else if g.next() & 1 == 1 {
                1
            } else {
                -1
            }
        })
        .collect();
    let m = (0..c.mw)
        .map(|_| dense == 3 || g.next() % 4 < dense + 1)
        .collect();
    (x, m)
}

/// in_data / in_mask of beat `sf` of a vector.
fn beat(c: &Cfg, x: &[i64], m: &[bool], sf: usize) -> (Vec<u32>, Vec<u32>) {
    let (mut d, mut k) = (Bits::default(), Bits::default());
    for i in sf * c.simd..(sf + 1) * c.simd {
        if c.int {
            d.push(x[i] as u64, c.in_w);
        } else {
            d.push((x[i] == 1) as u64, 1);
        }
        k.push(m[i] as u64, 1);
    }
    (d.words, k.words)
}

fn decode(c: &Cfg, words: &[u32]) -> Vec<i64> {
    let ob = c.ob();
    (0..c.mh)
        .map(|o| {
            let v = Bits::get(words, o * ob as usize, ob);
            if c.act {
                v as i64
            } else {
                sign_extend(v, ob)
            }
        })
        .collect()
}

/// Streams `vectors` (gaps on in_valid with probability `gap`/8, out_ready low with
/// probability `bp`/8) and checks every output beat against `expect`, in order, plus the
/// handshake rules every cycle. Returns (cycle each input beat was taken, cycle each
/// output beat was taken), counted from the first cycle of this call.
#[allow(clippy::too_many_arguments)]
fn stream(
    sim: &mut Instance,
    p: &Ports,
    c: &Cfg,
    vectors: &[(Vec<i64>, Vec<bool>)],
    expect: &[Vec<i64>],
    g: &mut SplitMix64,
    (gap, bp): (u64, u64),
    what: &str,
) -> (Vec<u64>, Vec<u64>) {
    let beats: Vec<(Vec<u32>, Vec<u32>)> = vectors
        .iter()
        .flat_map(|(x, m)| (0..c.sf()).map(move |s| beat(c, x, m, s)))
        .collect();
    let ew = c.ew() as usize;
    let junk = |g: &mut SplitMix64, bits: usize| -> Vec<u32> {
        (0..bits.div_ceil(32)).map(|_| g.next() as u32).collect()
    };
    let (mut taken_in, mut taken_out) = (vec![], vec![]);
    let mut held: Option<Vec<u32>> = None; // an output beat offered and not taken
    let limit = 200 + 40 * (beats.len() * c.nf()) as u64;
    let mut cyc = 0u64;
    while taken_out.len() < expect.len() {
        assert!(
            cyc < limit,
            "{what}: stuck after {} of {} outputs",
            taken_out.len(),
            expect.len()
        );
        let next = taken_in.len();
        let give = next < beats.len() && g.next() % 8 >= gap;
        let ready = g.next() % 8 >= bp;
        if give {
            sim.set_wide(p.id, &beats[next].0);
            sim.set_wide(p.im, &beats[next].1);
        } else {
            // Garbage while not valid: it must be ignored.
            sim.set_wide(p.id, &junk(g, c.simd * ew));
            sim.set_wide(p.im, &junk(g, c.simd));
        }
        // in_ready and out_valid come from registers: flipping in_valid and out_ready in
        // the same cycle must not move them.
        sim.set(p.iv, !give as u64);
        sim.set(p.or, !ready as u64);
        sim.eval();
        let (ir0, ov0) = (sim.get(p.ir), sim.get(p.ov));
        sim.set(p.iv, give as u64);
        sim.set(p.or, ready as u64);
        sim.eval();
        let (ir, ov) = (sim.get(p.ir), sim.get(p.ov));
        assert_eq!(
            (ir, ov),
            (ir0, ov0),
            "{what}: cycle {cyc}: combinational path to in_ready/out_valid"
        );
        let data = sim.get_words(p.od);
        if let Some(h) = &held {
            assert!(
                ov == 1,
                "{what}: cycle {cyc}: out_valid dropped before the beat was taken"
            );
            assert_eq!(
                &data, h,
                "{what}: cycle {cyc}: out_data changed before the beat was taken"
            );
        }
        held = None;
        if ov == 1 {
            if ready {
                let v = taken_out.len();
                let got = decode(c, &data);
                for (o, (g, e)) in got.iter().zip(&expect[v]).enumerate() {
                    assert_eq!(
                        g,
                        e,
                        "{what}: vector {v}, output {o} (fold {}, lane {})\n got {got:?}\nwant {:?}",
                        o / c.pe,
                        o % c.pe,
                        expect[v]
                    );
                }
                taken_out.push(cyc);
            } else {
                held = Some(data);
            }
        }
        if give && ir == 1 {
            taken_in.push(cyc);
        }
        sim.tick(p.clk);
        cyc += 1;
    }
    assert_eq!(taken_in.len(), beats.len(), "{what}: inputs taken");
    // Nothing more comes out.
    sim.set(p.iv, 0);
    sim.set(p.or, 1);
    for _ in 0..(mvau_latency(c.simd, c.reg_every, c.w_pipe) + c.sf() * c.nf() + 4) {
        sim.eval();
        assert_eq!(sim.get(p.ov), 0, "{what}: an extra output beat");
        sim.tick(p.clk);
    }
    (taken_in, taken_out)
}

fn write_init(c: &Cfg, ps: &Params) {
    let (w, t) = c.init_paths();
    std::fs::create_dir_all(w.parent().unwrap()).unwrap();
    let text = |words: Vec<Bits>| words.iter().map(|b| b.hex() + "\n").collect::<String>();
    std::fs::write(&w, text(ps.weight_words(c))).unwrap();
    std::fs::write(&t, text(ps.thresh_words(c))).unwrap();
}

fn vectors(c: &Cfg, n: usize, g: &mut SplitMix64) -> Vec<(Vec<i64>, Vec<bool>)> {
    (0..n).map(|_| random_vector(c, g)).collect()
}

fn expects(c: &Cfg, ps: &Params, vs: &[(Vec<i64>, Vec<bool>)]) -> Vec<Vec<i64>> {
    vs.iter().map(|(x, m)| ps.expect(c, x, m)).collect()
}

/// Per configuration, one build: set A (loaded over the bus, or from the init files),
/// streamed under gaps and back-pressure; a reset with beats in flight and a full output
/// FIFO; set B loaded over the bus and streamed; a reset without reloading (the memories
/// keep set B); then free-flowing streams.
fn check_grid(cases: &[Cfg]) {
    for c in cases {
        let what = c.name();
        let mut g = SplitMix64::new((c.mw * 7919 + c.mh * 31 + c.pe * 7 + c.simd) as u64);
        let a = Params::random(c, &mut g);
        if c.init {
            write_init(c, &a);
        }
        let model = model(c);
        let mut sim = model.instance().expect("instance");
        let p = Ports::of(&sim);
        reset(&mut sim, &p);
        if !c.init {
            load_all(&mut sim, &p, c, &a, &mut g);
        }
        let vs = vectors(c, 24, &mut g);
        stream(
            &mut sim,
            &p,
            c,
            &vs,
            &expects(c, &a, &vs),
            &mut g,
            (3, 3),
            &format!("{what} set A"),
        );

        // Resets at random points with beats in flight (and, the first time, the output
        // FIFO full and the pipeline stalled): nothing of it may come out afterwards.
        for round in 0..12 {
            let junk = vectors(c, 3, &mut g);
            let cycles = if round == 0 {
                c.sf() * c.nf() * 3 + 10
            } else {
                1 + (g.next() % (2 * (c.sf() * c.nf()) as u64 + 8)) as usize
            };
            let mut k = 0;
            for _ in 0..cycles {
                let (x, m) = &junk[(k / c.sf()).min(2)];
                let (d, mk) = beat(c, x, m, k % c.sf());
                sim.set_wide(p.id, &d);
                sim.set_wide(p.im, &mk);
                let give = round == 0 || !g.next().is_multiple_of(4);
                sim.set(p.iv, give as u64);
                sim.set(p.or, (round != 0 && g.next().is_multiple_of(2)) as u64);
                sim.eval();
                k += (give && sim.get(p.ir) == 1) as usize;
                sim.tick(p.clk);
            }
            if round == 0 {
                assert_eq!(
                    sim.get(p.ov),
                    1,
                    "{what}: nothing came out under back-pressure"
                );
            }
            reset(&mut sim, &p);
            assert_eq!(
                (sim.get(p.ov), sim.get(p.ir)),
                (0, 1),
                "{what}: after reset"
            );
        }

        let b = Params::random(c, &mut g);
        load_all(&mut sim, &p, c, &b, &mut g);
        let vs = vectors(c, 24, &mut g);
        stream(
            &mut sim,
            &p,
            c,
            &vs,
            &expects(c, &b, &vs),
            &mut g,
            (2, 5),
            &format!("{what} set B"),
        );

        // Part of a vector, free-flowing, then a reset and streaming from the next cycle:
        // the memories keep set B and no state of the cut vector leaks.
        let (x, m) = random_vector(c, &mut g);
        let mut k = 0;
        for _ in 0..1 + g.next() % (c.sf() * c.nf()) as u64 {
            let (d, mk) = beat(c, &x, &m, k % c.sf());
            sim.set_wide(p.id, &d);
            sim.set_wide(p.im, &mk);
            sim.set(p.iv, 1);
            sim.set(p.or, 1);
            sim.eval();
            k += sim.get(p.ir) as usize;
            sim.tick(p.clk);
        }
        reset(&mut sim, &p);
        let vs = vectors(c, 8, &mut g);
        stream(
            &mut sim,
            &p,
            c,
            &vs,
            &expects(c, &b, &vs),
            &mut g,
            (0, 0),
            &format!("{what} set B after reset"),
        );
    }
}

#[test]
fn mvau_xnor_matches_the_formulas_under_back_pressure_reloads_and_resets() {
    check_grid(XNOR);
}

#[test]
fn mvau_int_matches_the_formulas_under_back_pressure_reloads_and_resets() {
    check_grid(INT);
}

/// The board plans' registered configuration writes (CFG_REG): weights in flip-flops
/// (one word) and in block RAM, thresholds in the four-word file, in flip-flops (one and
/// three words) and in block RAM.
#[test]
fn mvau_with_registered_configuration_writes_matches_the_formulas() {
    let cases: Vec<Cfg> = [XNOR[3], XNOR[7], XNOR[8], XNOR[9], XNOR[10], INT[0]]
        .into_iter()
        .map(|c| Cfg { cfg_reg: true, ..c })
        .collect();
    check_grid(&cases);
}

/// ECP5 plans: registered writes and EN_PIPE (the enable a cycle ahead, a three-entry
/// output FIFO), and over block-RAM weights the extra weight and operand stage (W_PIPE):
/// operand copies for PE ≤ 8 (one), 10 and 12 (two), masked and not, thresholds compared
/// in the popcount domain with a 1-stage tree (read from the last operand stage), and
/// integer lanes with their −x copies. Without W_PIPE (weights in flip-flops): NF = 1
/// and 3, XNOR and integer, and with X_COPY (which the top sets when PE > 16) operand and
/// −x copies at PE 12 (two) and 17 (three, the last of one PE).
fn ecp5_cases() -> Vec<Cfg> {
    let en_only = [
        XNOR[1],
        XNOR[5],
        cfg(false, (8, 6, 2, 8), 1, true, true, 2, (0, 0), false),
        INT[1],
    ]
    .into_iter()
    .map(|c| Cfg {
        cfg_reg: true,
        en_pipe: true,
        ..c
    })
    .chain(
        [
            cfg(true, (9, 12, 12, 9), 4, false, true, 2, (0, 0), true),
            cfg(true, (6, 17, 17, 3), 3, false, false, 1, (0, 0), false),
            cfg(false, (16, 24, 12, 16), 1, true, true, 2, (0, 0), false),
        ]
        .into_iter()
        .map(|c| Cfg {
            cfg_reg: true,
            en_pipe: true,
            x_copy: true,
            ..c
        }),
    );
    [
        XNOR[0],
        XNOR[3],
        XNOR[5],
        XNOR[10],
        XNOR[11],
        cfg(false, (24, 12, 12, 2), 1, false, true, 2, (0, 0), false),
        INT[0],
        cfg(true, (18, 12, 12, 3), 4, false, true, 2, (0, 0), false),
    ]
    .into_iter()
    .map(|c| Cfg {
        cfg_reg: true,
        w_pipe: true,
        en_pipe: true,
        ..c
    })
    .chain(en_only)
    .collect()
}

#[test]
fn mvau_on_ecp5_plans_matches_the_formulas() {
    check_grid(&ecp5_cases());
}

/// Free-flowing streams: output beats exactly SF·NF cycles apart, input taken in fold 0
/// only (SF beats per SF·NF cycles, back to back), and the documented latency.
#[test]
fn mvau_costs_sf_nf_cycles_per_vector_with_the_documented_latency() {
    for c in [
        XNOR[1], XNOR[2], XNOR[3], XNOR[6], XNOR[8], XNOR[9], XNOR[11], XNOR[12], INT[0], INT[1],
        INT[4],
    ]
    .into_iter()
    .chain(ecp5_cases())
    {
        let what = c.name();
        let model = model(&c);
        let mut sim = model.instance().expect("instance");
        let p = Ports::of(&sim);
        let mut g = SplitMix64::new(c.mw as u64 + 5);
        let ps = Params::random(&c, &mut g);
        reset(&mut sim, &p);
        load_all(&mut sim, &p, &c, &ps, &mut g);
        let vs = vectors(&c, 10, &mut g);
        let (ins, outs) = stream(
            &mut sim,
            &p,
            &c,
            &vs,
            &expects(&c, &ps, &vs),
            &mut g,
            (0, 0),
            &what,
        );
        let (sf, nf) = (c.sf() as u64, c.nf() as u64);
        for (v, w) in outs.windows(2).enumerate() {
            assert_eq!(
                w[1] - w[0],
                sf * nf,
                "{what}: cycles between output beats {v} and {}",
                v + 1
            );
        }
        for (j, w) in ins.windows(2).enumerate() {
            let gap = if ((j + 1) as u64).is_multiple_of(sf) {
                sf * (nf - 1) + 1
            } else {
                1
            };
            assert_eq!(w[1] - w[0], gap, "{what}: input beats {j} and {}", j + 1);
        }
        for (v, &o) in outs.iter().enumerate() {
            let last_in = ins[(v + 1) * c.sf() - 1];
            assert_eq!(
                o - (last_in + (nf - 1) * sf),
                mvau_latency(c.simd, c.reg_every, c.w_pipe) as u64,
                "{what}: latency of vector {v}"
            );
        }
    }
}

#[test]
fn mvau_is_lint_clean() {
    let extra = [
        cfg(false, (2, 1, 1, 1), 1, true, true, 1, (0, 0), false),
        cfg(true, (1, 1, 1, 1), 2, false, false, 1, (0, 0), false),
        cfg(false, (300, 2, 1, 300), 1, true, true, 2, (1, 0), false),
        cfg(true, (6, 4, 4, 1), 3, true, true, 2, (0, 0), false),
        cfg(false, (5, 7, 7, 5), 1, true, false, 3, (0, 0), false),
    ];
    let ecp5 = ecp5_cases();
    for c in XNOR.iter().chain(INT).chain(&extra).chain(&ecp5) {
        let mut p = c.params();
        p.retain(|a| !a.starts_with("-GW_INIT") && !a.starts_with("-GT_INIT"));
        // Also with a 1-bit bus (narrower than most memories need: truncated), and with
        // constant weights (STORE = 1).
        for variant in 0..3 {
            let mut q = p.clone();
            if variant == 1 {
                q.retain(|a| !a.starts_with("-GCFG_"));
                q.push("-GCFG_AW=1".into());
                q.push("-GCFG_LW=1".into());
            }
            if variant == 2 {
                let mut g = SplitMix64::new(c.mw as u64);
                q.extend(store_params(c, &Params::random(c, &mut g)));
            }
            let warnings = lint(&design(), &q.iter().map(String::as_str).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("lint {}: {e}", c.name()));
            assert!(warnings.is_empty(), "{} {q:?}: {warnings:?}", c.name());
        }
    }
}

/// `-GSTORE=1 -GWCONST=...`: the weight words as one constant, word a at [a·W +: W].
fn store_params(c: &Cfg, ps: &Params) -> Vec<String> {
    let mut all = Bits::default();
    for w in ps.weight_words(c) {
        for (i, &d) in w.words.iter().enumerate() {
            all.push(u64::from(d), (w.len - 32 * i).min(32) as u32);
        }
    }
    vec![
        "-GSTORE=1".into(),
        format!("-GWCONST={}'h{}", all.len, all.hex()),
    ]
}

/// `STORE = 1`: weights as a constant table (one build per weight set, by design);
/// weight writes on the bus are ignored, thresholds still load over it.
#[test]
fn mvau_with_constant_weights_matches_the_formulas() {
    let c = XNOR[3];
    let what = format!("{} STORE=1", c.name());
    let mut g = SplitMix64::new(c.mw as u64 * 3 + 1);
    let ps = Params::random(&c, &mut g);
    let mut args = c.params();
    args.extend(store_params(&c, &ps));
    let opts = BuildOptions {
        verilator_args: args,
        ..BuildOptions::default()
    };
    let model = build(&design(), &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut sim = model.instance().expect("instance");
    let p = Ports::of(&sim);
    reset(&mut sim, &p);
    if c.act {
        load(&mut sim, &p, &c, p.twe, &ps.thresh_words(&c), &mut g);
    }
    // Junk weight writes: ignored.
    let junk = Params::random(&c, &mut g);
    load(&mut sim, &p, &c, p.wwe, &junk.weight_words(&c), &mut g);
    let vs = vectors(&c, 24, &mut g);
    stream(
        &mut sim,
        &p,
        &c,
        &vs,
        &expects(&c, &ps, &vs),
        &mut g,
        (3, 3),
        &what,
    );
}

// ---------------------------------------------------------------------------- addtree

#[test]
fn addtree_sums_signed_lanes_with_the_popcount_latency() {
    for &(n, w, r) in &[(1usize, 3u32, 2usize), (7, 5, 3), (27, 9, 2)] {
        let what = format!("addtree N={n} W={w} R={r}");
        let opts = BuildOptions {
            verilator_args: vec![
                format!("-GN={n}"),
                format!("-GW={w}"),
                format!("-GREG_EVERY={r}"),
                "-GTAG_W=3".into(),
            ],
            ..BuildOptions::default()
        };
        let model = build(
            &Design::new("hdlgen_addtree").text(ADDTREE.0, ADDTREE.1),
            &opts,
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut sim = model.instance().expect("instance");
        let port = |s: &str| sim.port(s).unwrap_or_else(|e| panic!("{e}"));
        let (clk, en, iv, tag, data, ov, otag, sum) = (
            port("clk"),
            port("en"),
            port("in_valid"),
            port("in_tag"),
            port("in_data"),
            port("out_valid"),
            port("out_tag"),
            port("sum"),
        );
        let ow = w + clog2(n);
        assert_eq!(sum.width(), ow, "{what}: output width");
        let lat = addtree_latency(n, r);
        assert_eq!(lat, popcount_latency(n, r));
        let mut g = SplitMix64::new(n as u64 * 101 + u64::from(w));
        let h = 1i64 << (w - 1);
        // Random lanes, all-minimum and all-maximum (the extremes of the sum).
        let mut vs: Vec<Vec<i64>> = vec![vec![-h; n], vec![h - 1; n]];
        for _ in 0..300 {
            vs.push((0..n).map(|_| g.uniform(-h, h - 1)).collect());
        }
        let mut expect: Vec<Option<(i64, u64)>> = vec![];
        let (mut next, mut cyc) = (0, 0u64);
        while next < vs.len() + lat + 1 {
            cyc += 1;
            let enabled = !g.next().is_multiple_of(3);
            sim.set(en, enabled as u64);
            let v = vs.get(next);
            let valid = v.is_some() && !next.is_multiple_of(3);
            sim.set(iv, valid as u64);
            sim.set(tag, cyc % 8);
            let mut b = Bits::default();
            for &x in v.unwrap_or(&vs[0]) {
                b.push(x as u64, w);
            }
            sim.set_wide(data, &b.words);
            let before = (sim.get(ov), sim.get(sum), sim.get(otag));
            sim.tick(clk);
            if !enabled {
                assert_eq!(
                    (sim.get(ov), sim.get(sum), sim.get(otag)),
                    before,
                    "{what}: en low must freeze"
                );
                continue;
            }
            expect.push(valid.then(|| (v.unwrap().iter().sum(), cyc % 8)));
            next += 1;
            if next >= lat {
                let src = next - lat;
                assert_eq!(
                    sim.get(ov) == 1,
                    expect[src].is_some(),
                    "{what}: out_valid of step {src}"
                );
                if let Some((s, t)) = expect[src] {
                    assert_eq!(
                        sign_extend(sim.get(sum), ow),
                        s,
                        "{what}: sum of step {src}"
                    );
                    assert_eq!(sim.get(otag), t, "{what}: tag of step {src}");
                }
            }
        }
    }
}

#[test]
fn addtree_is_lint_clean() {
    for n in [1, 2, 3, 5, 16, 27, 64] {
        for w in [1, 2, 9] {
            for r in [1, 2, 3] {
                let p = [
                    format!("-GN={n}"),
                    format!("-GW={w}"),
                    format!("-GREG_EVERY={r}"),
                ];
                let warnings = lint(
                    &Design::new("hdlgen_addtree").text(ADDTREE.0, ADDTREE.1),
                    &p.iter().map(String::as_str).collect::<Vec<_>>(),
                )
                .unwrap_or_else(|e| panic!("lint: {e}"));
                assert!(warnings.is_empty(), "N={n} W={w} R={r}: {warnings:?}");
            }
        }
    }
}
