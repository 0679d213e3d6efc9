//! The layer-sequential engine's map layout and layer descriptors (`hdlgen_xseq`): where
//! a feature map's words live in the four banks, the descriptor values one convolution
//! (+ threshold, + 2×2 pool, or plain sums) runs from, and a network's binary layers as
//! a plan of such runs with its weight and threshold memory images. Not yet used by
//! generated designs; the sequencer's tests drive `hdlgen_xseq` with these.

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
    /// `le` t is (t + 1, true) (hdlgen_xcore compares acc ≥ t, then flips).
    pub fn thresholds(&self, net: &Network) -> Vec<Vec<(i64, bool)>> {
        let mut out = vec![vec![(0, false); self.pe]; self.threshold_words];
        for r in &self.runs {
            let Some(ti) = r.threshold else { continue };
            let Op::Threshold(th) = &net.layers[ti].op else {
                unreachable!("a plan's threshold is a threshold layer")
            };
            for (c, (&t, &ge)) in th.thresholds.iter().zip(&th.ge).enumerate() {
                out[r.desc.tbase + c / self.pe][c % self.pe] =
                    if ge { (t, false) } else { (t + 1, true) };
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
