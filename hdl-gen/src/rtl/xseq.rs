//! The layer-sequential engine's map layout and layer descriptors (`hdlgen_xseq`): where
//! a feature map's words live in the four banks, the descriptor values one convolution
//! (+ threshold, + 2×2 pool, or plain sums) runs from, and a network's binary layers as
//! a plan of such runs with its weight and threshold memory images; and [`Xnet`], a whole
//! network on that engine (`hdlgen_xnet`: the front end `hdlgen_xfront` for the first
//! layer, then the plan), which `rtl::lower::lower_seq` turns into a design.

use super::params::threshold_word;
use crate::arith::signed_bits;
use crate::layers::binary_conv2d::Padding;
use crate::layers::Op;
use crate::network::Network;
use crate::tensor::ValType;

/// A feature map of `h`×`w` pixels, `ch` words of SIMD bits each, from word `base` of
/// every bank: pixel (y, x) word k is in bank (y mod 2)·2 + (x mod 2) at
/// `base + (y/2)·rs + (x/2)·ch + k`, `rs = ceil(w/2)·ch`. The last word of a bank
/// (2^BA − 1) is the engine's word of ones (padding `one`): maps end below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapLayout {
    pub h: usize,
    pub w: usize,
    pub ch: usize,
    pub base: usize,
}

impl MapLayout {
    /// Words of one bank's row of pixel pairs.
    pub fn rs(&self) -> usize {
        self.w.div_ceil(2) * self.ch
    }

    /// Words the map takes in each bank.
    pub fn words(&self) -> usize {
        self.h.div_ceil(2) * self.rs()
    }

    /// (bank, word) of pixel (y, x), word k.
    pub fn at(&self, y: usize, x: usize, k: usize) -> (usize, usize) {
        (
            (y % 2) * 2 + x % 2,
            self.base + (y / 2) * self.rs() + (x / 2) * self.ch + k,
        )
    }
}

/// The descriptor of one `hdlgen_xseq` run (its `d_*` inputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Desc {
    pub input: MapLayout,
    pub k: usize,
    /// Padding rows/columns on the top/left: output (oy, ox) reads input (oy + ky − p,
    /// ox + kx − p).
    pub p: usize,
    /// Padded taps are +1 (padding `one`), else they count 0 (padding `zero`).
    pub pad_one: bool,
    pub oh: usize,
    pub ow: usize,
    /// Output groups: C_out / PE.
    pub groups: usize,
    pub pool: bool,
    /// The written map (None: the sums leave on acc_*, no threshold, no write).
    pub output: Option<MapLayout>,
    pub wbase: usize,
    pub tbase: usize,
}

impl Desc {
    /// `d_row0` as its two BA-bit parts (parity 0, 1): base + floor(i/2)·rs mod 2^ba for
    /// the input row i of that parity among −p and −p + 1.
    pub fn row0(&self, ba: u32) -> [u64; 2] {
        origin(self.p, self.input.rs(), self.input.base, ba)
    }

    /// `d_col0`: floor(j/2)·ch mod 2^ba over the columns j.
    pub fn col0(&self, ba: u32) -> [u64; 2] {
        origin(self.p, self.input.ch, 0, ba)
    }

    /// Beats the layer issues (one a cycle).
    pub fn beats(&self) -> usize {
        self.oh.div_ceil(2) * self.ow.div_ceil(2) * self.groups * self.k * self.k * self.input.ch
    }
}

fn origin(p: usize, stride: usize, base: usize, ba: u32) -> [u64; 2] {
    let m = 1i64 << ba;
    let mut out = [0u64; 2];
    for j in 0..2 {
        let i = j as i64 - p as i64;
        out[i.rem_euclid(2) as usize] =
            (base as i64 + i.div_euclid(2) * stride as i64).rem_euclid(m) as u64;
    }
    out
}

/// Cycles from the cycle `start` is high to the cycle `done` is, of one `hdlgen_xseq`
/// run: one beat a cycle, the two issue stages, the core, the bits' and `done`'s
/// registers.
pub fn xseq_cycles(d: &Desc, simd: usize, reg_every: usize) -> usize {
    d.beats() + XSEQ_FILL + super::lib::xcore_latency(simd, reg_every)
}

/// Cycles of `hdlgen_xseq`'s pipeline besides the beats and the core: `start`'s edge,
/// S1, S2 (the core's input), the thresholded bits' register, `done`'s register.
pub const XSEQ_FILL: usize = 4;

/// Why a network (from some layer on) cannot run on the sequencer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("layer `{layer}`: {why}")]
pub struct SeqError {
    pub layer: String,
    pub why: String,
}

/// One `hdlgen_xseq` run of a plan: the layers it computes and its descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqLayer {
    /// The binary_conv2d or binary_dense.
    pub conv: usize,
    /// Its threshold layer (None: the sums leave, the plan's last run).
    pub threshold: Option<usize>,
    /// A 2×2 max-pool fused after the threshold.
    pub pool: Option<usize>,
    pub desc: Desc,
}

/// The binary layers of a network from layer `from` on, as sequencer runs: maps allocated
/// one after another in the banks (the first map twice), weights and thresholds one
/// layer after another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqPlan {
    pub pe: usize,
    pub simd: usize,
    pub ba: u32,
    /// The map the first run reads (written by whatever computes the layers before), in
    /// two regions: image n's at `inputs[n % 2]`, so the next image's can be written while
    /// the runs read this one's.
    pub inputs: [MapLayout; 2],
    pub runs: Vec<SeqLayer>,
    /// Weight words (PE·SIMD bits) and threshold words (PE fields) in all.
    pub weight_words: usize,
    pub threshold_words: usize,
}

impl SeqPlan {
    /// Run `r`'s descriptor for image `n` (the first run reads `inputs[n % 2]`).
    pub fn desc(&self, r: usize, n: usize) -> Desc {
        let mut d = self.runs[r].desc;
        if r == 0 {
            d.input = self.inputs[n % 2];
        }
        d
    }

    /// Cycles of all runs, back to back (`xseq_cycles` each).
    pub fn cycles(&self, reg_every: usize) -> usize {
        self.runs
            .iter()
            .map(|r| xseq_cycles(&r.desc, self.simd, reg_every))
            .sum()
    }

    /// The weight memory's words, each PE·SIMD bits little-endian in u64s (bit 1 = +1):
    /// run by run, word `wbase + ((g·K + ky)·K + kx)·ICH + k`, bit p·SIMD + i = the
    /// weight of output g·PE + p at tap (ky, kx), input channel k·SIMD + i.
    pub fn weights(&self, net: &Network) -> Vec<Vec<u64>> {
        let (pe, simd) = (self.pe, self.simd);
        let mut out = vec![vec![0u64; (pe * simd).div_ceil(64)]; self.weight_words];
        for r in &self.runs {
            let w = match &net.layers[r.conv].op {
                Op::BinaryConv2d(c) => &c.weights.data,
                Op::BinaryDense(d) => &d.weights.data,
                _ => unreachable!("a plan's run is a conv or dense layer"),
            };
            let d = &r.desc;
            let (k, ich) = (d.k, d.input.ch);
            let cin = ich * simd;
            for g in 0..d.groups {
                for t in 0..k * k {
                    for c in 0..ich {
                        let word = &mut out[d.wbase + (g * k * k + t) * ich + c];
                        for p in 0..pe {
                            for i in 0..simd {
                                let idx = ((g * pe + p) * k * k + t) * cin + c * simd + i;
                                if w[idx] >= 0 {
                                    let b = p * simd + i;
                                    word[b / 64] |= 1 << (b % 64);
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// The threshold memory's words as PE (t, flip) fields each: `ge` t is (t, false),
    /// `le` t is (t + 1, true) (hdlgen_xcore compares acc ≥ t, then flips), t first
    /// clamped to the sums' range ± 1 ([`threshold_word`]), which keeps every outcome.
    pub fn thresholds(&self, net: &Network) -> Vec<Vec<(i64, bool)>> {
        let mut out = vec![vec![(0, false); self.pe]; self.threshold_words];
        for r in &self.runs {
            let Some(ti) = r.threshold else { continue };
            let Op::Threshold(th) = &net.layers[ti].op else {
                unreachable!("a plan's threshold is a threshold layer")
            };
            let (lo, hi) = int_range(net, r.conv);
            for (c, (&t, &ge)) in th.thresholds.iter().zip(&th.ge).enumerate() {
                let (flip, cmp) = threshold_word(t, ge, lo, hi);
                out[r.desc.tbase + c / self.pe][c % self.pe] = (cmp, flip);
            }
        }
        out
    }
}

/// Plans layers `from..` of `net` on a sequencer of PE outputs × SIMD inputs with banks
/// of 2^ba words: each binary convolution (stride 1, square kernel up to 7, padding that
/// puts as many rows on top as columns on the left) with its threshold and an optional
/// 2×2 max-pool, then the last binary_dense (after flatten of a square map, or on a
/// vector) whose sums leave for the output layer.
pub fn plan(
    net: &Network,
    from: usize,
    pe: usize,
    simd: usize,
    ba: u32,
) -> Result<SeqPlan, SeqError> {
    let err = |i: usize, why: String| SeqError {
        layer: net.layers[i].name.clone(),
        why,
    };
    if simd % pe != 0 {
        return Err(err(
            from,
            format!("SIMD {simd} is not a multiple of PE {pe}"),
        ));
    }
    if net.layers[from].input.val != ValType::Bits {
        return Err(err(
            from,
            "integer input (the sequencer's lanes are binary)".into(),
        ));
    }
    let shape = net.layers[from].input.shape;
    let map =
        |h: usize, w: usize, c: usize, base: usize, i: usize| -> Result<MapLayout, SeqError> {
            if c % simd != 0 {
                return Err(err(
                    i,
                    format!("{c} channels are not a multiple of SIMD {simd}"),
                ));
            }
            let m = MapLayout {
                h,
                w,
                ch: c / simd,
                base,
            };
            if base + m.words() >= (1 << ba) - 1 {
                return Err(err(
                    i,
                    format!("the maps need more than {} words a bank", (1 << ba) - 1),
                ));
            }
            Ok(m)
        };
    let input = map(shape.h, shape.w, shape.c, 0, from)?;
    let other = map(shape.h, shape.w, shape.c, input.words(), from)?;
    let (mut cur, mut next_base) = (input, other.base + other.words());
    let (mut wbase, mut tbase) = (0, 0);
    let mut runs = vec![];
    let mut i = from;
    while i < net.layers.len() {
        let l = &net.layers[i];
        let (k, p, pad_one, oh, ow, cout, dense) = match &l.op {
            Op::BinaryConv2d(c) => {
                let w = &c.win;
                if c.int_input {
                    return Err(err(
                        i,
                        "integer input (the sequencer's lanes are binary)".into(),
                    ));
                }
                if w.stride != 1 || w.kh != w.kw || w.kh > 7 || w.pad_top != w.pad_left {
                    return Err(err(
                        i,
                        "needs stride 1, a square kernel up to 7 and even padding".into(),
                    ));
                }
                (
                    w.kh,
                    w.pad_top,
                    c.padding == Padding::One,
                    w.out_h,
                    w.out_w,
                    c.filters,
                    false,
                )
            }
            Op::BinaryDense(d) => {
                if d.int_input {
                    return Err(err(
                        i,
                        "integer input (the sequencer's lanes are binary)".into(),
                    ));
                }
                if cur.h != cur.w {
                    return Err(err(
                        i,
                        format!(
                            "a {}×{} map is not square (the kernel is the whole map)",
                            cur.h, cur.w
                        ),
                    ));
                }
                (cur.h, 0, false, 1, 1, d.units, true)
            }
            Op::Flatten(_) => {
                i += 1;
                continue;
            }
            Op::Output(_) if !runs.is_empty() => break,
            _ => {
                return Err(err(
                    i,
                    format!("a {} layer has no sequencer form", l.op.kind()),
                ))
            }
        };
        if cout % pe != 0 {
            return Err(err(
                i,
                format!("{cout} outputs are not a multiple of PE {pe}"),
            ));
        }
        let threshold = match net.layers.get(i + 1).map(|l| &l.op) {
            Some(Op::Threshold(_)) => Some(i + 1),
            _ => None,
        };
        let pool = match (threshold, net.layers.get(i + 2).map(|l| &l.op)) {
            (Some(_), Some(Op::MaxPool(m))) => {
                let w = &m.win;
                if w.kh != 2 || w.kw != 2 || w.stride != 2 {
                    return Err(err(i + 2, "only 2×2 max-pools with stride 2 fuse".into()));
                }
                Some(i + 2)
            }
            _ => None,
        };
        if dense && threshold.is_some() {
            return Err(err(
                i,
                "a dense layer with a threshold (only the last layer's sums leave)".into(),
            ));
        }
        let output = match threshold {
            None => None,
            Some(_) => {
                let (h, w) = if pool.is_some() {
                    (oh / 2, ow / 2)
                } else {
                    (oh, ow)
                };
                Some(map(h, w, cout, next_base, i)?)
            }
        };
        let groups = cout / pe;
        let desc = Desc {
            input: cur,
            k,
            p,
            pad_one,
            oh,
            ow,
            groups,
            pool: pool.is_some(),
            output,
            wbase,
            tbase,
        };
        wbase += groups * k * k * cur.ch;
        if threshold.is_some() {
            tbase += groups;
        }
        runs.push(SeqLayer {
            conv: i,
            threshold,
            pool,
            desc,
        });
        match output {
            None => break,
            Some(m) => {
                next_base = m.base + m.words();
                cur = m;
            }
        }
        i = pool.or(threshold).unwrap_or(i) + 1;
    }
    match runs.last() {
        Some(r) if r.desc.output.is_none() => Ok(SeqPlan {
            pe,
            simd,
            ba,
            inputs: [input, other],
            runs,
            weight_words: wbase,
            threshold_words: tbase,
        }),
        _ => Err(err(
            net.layers.len() - 1,
            "the binary layers do not end in a dense layer's sums".into(),
        )),
    }
}

/// The value range of layer `i`'s output (an integer layer).
fn int_range(net: &Network, i: usize) -> (i64, i64) {
    match net.layers[i].output.val {
        ValType::Int { lo, hi } => (lo, hi),
        ValType::Bits => (-1, 1),
    }
}

/// The first layer as `hdlgen_xfront` computes it: a one-channel integer image's K×K
/// binary convolution (stride 1), its threshold and a 2×2 max-pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Front {
    pub conv: usize,
    pub threshold: usize,
    pub pool: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    /// Padding rows/columns on the top/left.
    pub p: usize,
    pub oh: usize,
    pub ow: usize,
    pub cout: usize,
    pub in_w: u32,
    pub signed: bool,
    pub pad_value: i64,
    /// Threshold field width (the sums' range ± 1, clamped).
    pub tw: u32,
    /// The sums' range.
    pub lo: i64,
    pub hi: i64,
}

impl Front {
    /// Pooled pixels a image.
    pub fn blocks(&self) -> usize {
        (self.oh / 2) * (self.ow / 2)
    }

    /// Cycles between images in `hdlgen_xfront` with pixels every cycle and its output
    /// never held: the pixels, then per pooled pixel the patch, two rows of channels, a
    /// patch row and the pipeline (its header); the last block's pipeline drains while
    /// the next image arrives. (An image's first pixel to its `done` is 5 cycles more:
    /// MNIST's conv1 18,822 in tests/tests/rtl_xseq.rs; the interval is measured in
    /// tests/tests/rtl_xnet.rs.)
    pub fn cycles(&self) -> usize {
        let pk = self.k + 1;
        self.h * self.w + self.blocks() * (pk * pk + 2 * self.cout + pk + 8) + 1
    }

    /// The weight memory: channel o's K·K weights, bit ky·K + kx = 1 for +1.
    pub fn weights(&self, net: &Network) -> Vec<u64> {
        let Op::BinaryConv2d(c) = &net.layers[self.conv].op else {
            unreachable!("the front's layer is a binary_conv2d")
        };
        let kk = self.k * self.k;
        (0..self.cout)
            .map(|o| {
                (0..kk).fold(0u64, |a, j| {
                    a | (u64::from(c.weights.data[o * kk + j] >= 0) << j)
                })
            })
            .collect()
    }

    /// The threshold memory: channel o's (t, flip) ([`threshold_word`]).
    pub fn thresholds(&self, net: &Network) -> Vec<(i64, bool)> {
        let Op::Threshold(th) = &net.layers[self.threshold].op else {
            unreachable!("the front's threshold is a threshold layer")
        };
        th.thresholds
            .iter()
            .zip(&th.ge)
            .map(|(&t, &ge)| {
                let (flip, cmp) = threshold_word(t, ge, self.lo, self.hi);
                (cmp, flip)
            })
            .collect()
    }
}

/// Layers 0..=2 of `net` as the front end, if they have its form.
pub fn front(net: &Network) -> Result<Front, SeqError> {
    let err = |i: usize, why: &str| SeqError {
        layer: net.layers[i.min(net.layers.len() - 1)].name.clone(),
        why: why.into(),
    };
    let Some(Op::BinaryConv2d(c)) = net.layers.first().map(|l| &l.op) else {
        return Err(err(0, "the front end computes a binary_conv2d first"));
    };
    let w = &c.win;
    if !c.int_input || c.cin != 1 {
        return Err(err(0, "the front end takes a one-channel integer image"));
    }
    if w.stride != 1 || w.kh != w.kw || w.pad_top != w.pad_left || c.padding == Padding::One {
        return Err(err(
            0,
            "the front end needs stride 1, a square kernel and even zero padding",
        ));
    }
    if !matches!(net.layers.get(1).map(|l| &l.op), Some(Op::Threshold(_))) {
        return Err(err(
            1,
            "the front end needs a threshold after the first layer",
        ));
    }
    match net.layers.get(2).map(|l| &l.op) {
        Some(Op::MaxPool(m)) if m.win.kh == 2 && m.win.kw == 2 && m.win.stride == 2 => {}
        _ => {
            return Err(err(
                2,
                "the front end needs a 2×2 max-pool after the threshold",
            ))
        }
    }
    let (lo, hi) = int_range(net, 0);
    Ok(Front {
        conv: 0,
        threshold: 1,
        pool: 2,
        h: w.in_h,
        w: w.in_w,
        k: w.kh,
        p: w.pad_top,
        oh: w.out_h,
        ow: w.out_w,
        cout: c.filters,
        in_w: net.input.bits,
        signed: net.input.signed,
        pad_value: c.pad_value,
        tw: signed_bits(lo - 1, hi + 2),
        lo,
        hi,
    })
}

/// Cycles `hdlgen_xnet` spends between one run's `done` and the next run's `start`
/// (the descriptor register loads, then `start` is registered).
pub const XNET_GAP: usize = 3;

/// A whole network on the layer-sequential engine (`hdlgen_xnet`): the front end, the
/// plan of the binary layers after it, and the widths the primitives are built with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xnet {
    pub front: Front,
    pub plan: SeqPlan,
    /// Sum width (every run's sums, signed).
    pub aw: u32,
    /// Threshold field width of the runs.
    pub tw: u32,
    /// Counter width of the descriptor's dimensions.
    pub dw: u32,
    /// Outputs of the last run (the classes).
    pub cls: usize,
    /// The sequencer's weights are in SPRAM (iCE40 UltraPlus; set by
    /// `rtl::lower::lower_seq`), else block RAM.
    pub spram: bool,
}

impl Xnet {
    /// Weight and threshold address widths (`hdlgen_xnet`'s WA, TA).
    pub fn wa(&self) -> u32 {
        super::lower::field_bits(self.plan.weight_words)
    }
    pub fn ta(&self) -> u32 {
        super::lower::field_bits(self.plan.threshold_words)
    }

    /// Bits of one descriptor in the DESC table (`hdlgen_xnet`'s DESC_BITS).
    pub fn desc_bits(&self) -> usize {
        let (dw, ba) = (self.dw as usize, self.plan.ba as usize);
        7 * dw + 7 * ba + 9 + self.wa() as usize + self.ta() as usize
    }

    /// Run `r`'s descriptor for image `n` as the DESC fields, least significant first
    /// (the order `hdlgen_xnet` slices them in): (value, width).
    pub fn desc_fields(&self, r: usize, n: usize) -> Vec<(u64, usize)> {
        let d = self.plan.desc(r, n);
        let (dw, ba) = (self.dw as usize, self.plan.ba);
        let b = ba as usize;
        let two = |v: [u64; 2]| v[0] | v[1] << ba;
        let (och, ors, obase) = d.output.map_or((0, 0, 0), |m| (m.ch, m.rs(), m.base));
        vec![
            (d.input.h as u64, dw),
            (d.input.w as u64, dw),
            (d.input.ch as u64, dw),
            (d.input.rs() as u64, b),
            (d.k as u64, 3),
            (d.p as u64, 3),
            (d.pad_one as u64, 1),
            (two(d.row0(ba)), 2 * b),
            (two(d.col0(ba)), 2 * b),
            (d.oh as u64, dw),
            (d.ow as u64, dw),
            (d.groups as u64, dw),
            (d.pool as u64, 1),
            (och as u64, dw),
            (ors as u64, b),
            (obase as u64, b),
            (d.output.is_none() as u64, 1),
            (d.wbase as u64, self.wa() as usize),
            // The last run has no thresholds (its tbase, the count of them all, may not
            // even fit the field).
            (
                if d.output.is_some() {
                    d.tbase as u64
                } else {
                    0
                },
                self.ta() as usize,
            ),
        ]
    }

    /// The DESC table (image 0's descriptors, run 0 first) as hex digits, most
    /// significant first, and its width.
    pub fn desc_table(&self) -> (u32, String) {
        let mut bits: Vec<bool> = vec![];
        for r in 0..self.plan.runs.len() {
            for (v, w) in self.desc_fields(r, 0) {
                assert!(w >= 64 || v < 1 << w, "descriptor field {v} fits {w} bits");
                bits.extend((0..w).map(|b| v >> b & 1 == 1));
            }
        }
        let digits = super::params::hex_digits(bits.len(), |k| bits[k]);
        (bits.len() as u32, digits)
    }

    /// Run 0's `d_row0` for odd images (region 1).
    pub fn row0_alt(&self) -> u64 {
        let r = self.plan.desc(0, 1).row0(self.plan.ba);
        r[0] | r[1] << self.plan.ba
    }

    /// Cycles of an image's runs, `done` to `done`.
    pub fn run_cycles(&self, reg_every: usize) -> usize {
        self.plan.cycles(reg_every) + XNET_GAP * self.plan.runs.len()
    }

    /// Steady-state cycles per image: the front end and the runs overlap.
    pub fn interval(&self, reg_every: usize) -> usize {
        self.front.cycles().max(self.run_cycles(reg_every))
    }

    /// The same with the output layer folded in (`hdlgen_xnet` ARGMAX): the last run of
    /// an image starts only once the previous image's classes have left its sums
    /// register, one every two cycles, so the runs before it must cover 2·CLS − 2 cycles
    /// (a plan of one run waits; measured exact in `tests/tests/rtl_xnet.rs`).
    pub fn folded_interval(&self, reg_every: usize) -> usize {
        let last = self.plan.runs.len() - 1;
        let tail = xseq_cycles(&self.plan.desc(last, 0), self.plan.simd, reg_every)
            + XNET_GAP
            + 2 * self.cls
            - 2;
        self.interval(reg_every).max(tail)
    }
}

/// Plans all of `net` on the layer-sequential engine of PE outputs × SIMD inputs with
/// banks of 2^ba words: the front end for layers 0..=2, the sequencer for the rest.
pub fn xnet(net: &Network, pe: usize, simd: usize, ba: u32) -> Result<Xnet, SeqError> {
    let front = front(net)?;
    if front.cout % simd != 0 {
        return Err(SeqError {
            layer: net.layers[0].name.clone(),
            why: format!("{} filters are not a multiple of SIMD {simd}", front.cout),
        });
    }
    let plan = plan(net, front.pool + 1, pe, simd, ba)?;
    let mut aw = 2;
    let mut tw = 2;
    let mut dims = 7;
    for r in &plan.runs {
        let (lo, hi) = int_range(net, r.conv);
        aw = aw.max(signed_bits(lo, hi));
        if r.threshold.is_some() {
            tw = tw.max(signed_bits(lo - 1, hi + 2));
        }
        let d = &r.desc;
        let o = d.output.map_or(0, |m| m.ch);
        dims = [d.input.h, d.input.w, d.input.ch, d.oh, d.ow, d.groups, o]
            .into_iter()
            .fold(dims, usize::max);
    }
    let dw = (usize::BITS - dims.leading_zeros()).max(3);
    if dw > ba {
        return Err(SeqError {
            layer: net.layers[front.pool + 1].name.clone(),
            why: format!(
                "a dimension of {dims} needs more bits than the banks' {ba}-bit addresses"
            ),
        });
    }
    let last = plan.runs.last().expect("a plan has runs");
    let cls = last.desc.groups * pe;
    Ok(Xnet {
        front,
        plan,
        aw,
        tw,
        dw,
        cls,
        spram: false,
    })
}

/// The layer-sequential engine for `net`: 64 weight bits a cycle (four SPRAMs' width, PE
/// 2 × SIMD 32) where the channels allow, else narrower; the smallest banks that hold
/// the maps. The first plan that works; otherwise why the widest could not.
pub fn choose(net: &Network) -> Result<Xnet, SeqError> {
    let mut first_err = None;
    for simd in [32, 16, 8, 4, 2] {
        for pe in [2, 1] {
            for ba in 6..=12 {
                match xnet(net, pe, simd, ba) {
                    Ok(x) => return Ok(x),
                    Err(e) if ba == 12 => {
                        first_err.get_or_insert(e);
                    }
                    Err(_) => {}
                }
            }
        }
    }
    Err(first_err.expect("some plan was tried"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_the_floor_of_the_first_rows() {
        // p = 1: rows −1 (odd: floor −1) and 0 (even: 0).
        assert_eq!(origin(1, 7, 0, 8), [0, 256 - 7]);
        // p = 0: rows 0 and 1, both floor 0; from base 5.
        assert_eq!(origin(0, 7, 5, 8), [5, 5]);
        // p = 2: rows −2 (even: −1), −1 (odd: −1).
        assert_eq!(origin(2, 3, 0, 8), [253, 253]);
    }

    fn mnist() -> Network {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/mnist_bnn.yaml");
        Network::load(std::path::Path::new(path)).expect("the MNIST example")
    }

    #[test]
    fn mnist_plans_conv2_conv3_fc_with_maps_weights_and_thresholds_in_turn() {
        let net = mnist();
        let p = plan(&net, 3, 2, 32, 8).expect("plan");
        let r: Vec<(usize, Option<usize>, Option<usize>)> = p
            .runs
            .iter()
            .map(|r| (r.conv, r.threshold, r.pool))
            .collect();
        assert_eq!(
            r,
            [(3, Some(4), Some(5)), (6, Some(7), None), (9, None, None)]
        );
        let d: Vec<&Desc> = p.runs.iter().map(|r| &r.desc).collect();
        // 14×14×32 at 0 and 49 (49 words a bank), pool2's 7×7×64 at 98 (32), conv3's
        // 5×5×128 at 130 (36); weights 288 + 1,152 + 500 words; thresholds 32 + 64.
        assert_eq!(p.inputs.map(|m| (m.base, m.words())), [(0, 49), (49, 49)]);
        assert_eq!(p.desc(0, 1).input.base, 49);
        assert_eq!(p.desc(0, 2).input.base, 0);
        assert_eq!(
            d[0].output.map(|m| (m.base, m.h, m.w, m.ch)),
            Some((98, 7, 7, 2))
        );
        assert_eq!(
            d[1].output.map(|m| (m.base, m.h, m.w, m.ch)),
            Some((130, 5, 5, 4))
        );
        assert_eq!(d[2].output, None);
        assert_eq!(
            (d[0].k, d[0].p, d[0].pad_one, d[0].pool),
            (3, 1, true, true)
        );
        assert_eq!((d[1].k, d[1].p, d[1].oh, d[1].groups), (3, 0, 5, 64));
        assert_eq!(
            (d[2].k, d[2].oh, d[2].groups, d[2].input.base),
            (5, 1, 5, 130)
        );
        assert_eq!(
            [d[0].wbase, d[1].wbase, d[2].wbase, p.weight_words],
            [0, 288, 1440, 1940]
        );
        assert_eq!([d[0].tbase, d[1].tbase, p.threshold_words], [0, 32, 96]);
        assert_eq!(p.weights(&net).len(), 1940);
    }

    #[test]
    fn layers_the_sequencer_cannot_run_are_named() {
        let net = mnist();
        let e = plan(&net, 0, 2, 32, 8).expect_err("conv1 has integer input");
        assert_eq!(e.layer, "conv1");
        assert!(e.why.contains("integer input"), "{e}");
        let e = plan(&net, 3, 2, 64, 8).expect_err("32 channels, SIMD 64");
        assert!(e.why.contains("not a multiple of SIMD 64"), "{e}");
        let e = plan(&net, 3, 2, 32, 7).expect_err("127 words a bank");
        assert!(e.why.contains("more than 127 words"), "{e}");
        let e = plan(&net, 3, 3, 33, 8).expect_err("PE 3");
        assert!(e.why.contains("not a multiple of"), "{e}");
    }

    /// Every descriptor field fits its width: the digits BNN has 16 threshold words, so
    /// a 4-bit threshold address, which the last run's (unused) base of 16 did not fit.
    #[test]
    fn descriptor_fields_fit_their_widths() {
        for path in ["mnist_bnn.yaml", "digits/bnn.yaml"] {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples")
                .join(path);
            let net = Network::load(&p).expect("example");
            let x = choose(&net).expect("plans");
            let (width, hex) = x.desc_table();
            assert_eq!(width as usize, x.desc_bits() * x.plan.runs.len(), "{path}");
            assert_eq!(hex.len(), (width as usize).div_ceil(4), "{path}");
        }
    }

    #[test]
    fn layout_puts_a_2x2_block_in_four_banks() {
        let m = MapLayout {
            h: 5,
            w: 5,
            ch: 2,
            base: 10,
        };
        assert_eq!(m.rs(), 6);
        let banks: Vec<usize> = [(2, 2), (2, 3), (3, 2), (3, 3)]
            .iter()
            .map(|&(y, x)| m.at(y, x, 1).0)
            .collect();
        assert_eq!(banks, [0, 1, 2, 3]);
        assert_eq!(m.at(3, 3, 1), (3, 10 + 6 + 2 + 1));
    }
}
