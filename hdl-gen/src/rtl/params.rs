//! The parameter image: every configuration memory's words, from the layer structs. It is
//! the only encoder of weights and thresholds into hardware words: hex files, the
//! co-simulation loader and the host protocol all use it.

use super::lower::{Design, Kind, Mvau, Unit, UnitKind};
use crate::arith::SplitMix64;
use crate::layers::Op;
use crate::network::Network;

/// One memory's contents: `words[a][l]` is lane `l` (bits `32l..32l+32`) of word `a`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitImage {
    pub words: Vec<Vec<u32>>,
}

impl UnitImage {
    fn zeros(u: &Unit) -> Self {
        UnitImage {
            words: vec![vec![0; u.lanes()]; u.depth],
        }
    }
    fn set(&mut self, word: usize, bit: usize, v: bool) {
        let lane = &mut self.words[word][bit / 32];
        if v {
            *lane |= 1 << (bit % 32);
        } else {
            *lane &= !(1 << (bit % 32));
        }
    }
    /// Puts the low `width` bits of `v` (two's complement) at `bit`.
    fn put(&mut self, word: usize, bit: usize, width: u32, v: i64) {
        for b in 0..width as usize {
            self.set(word, bit + b, (v >> b.min(63)) & 1 == 1);
        }
    }
    pub fn get(&self, word: usize, bit: usize) -> bool {
        self.words[word][bit / 32] >> (bit % 32) & 1 == 1
    }
}

/// `{flip, cmp}` of a threshold `T` in direction `ge`/`le`, for a value in `[lo, hi]`:
/// out = (x ≥ cmp) XOR flip. T is first clamped to `[lo − 1, hi + 1]`, which keeps
/// every comparison's outcome and bounds `cmp` to `[lo − 1, hi + 2]`.
pub fn threshold_word(t: i64, ge: bool, lo: i64, hi: i64) -> (bool, i64) {
    let t = t.clamp(lo - 1, hi + 1);
    if ge {
        (false, t)
    } else {
        (true, t + 1)
    }
}

/// The `hdlgen_mvau` threshold field of `{flip, cmp}` ([`threshold_word`]): `−c − 1`
/// (the hardware adds it and 1 to the value it compares, so `v ≥ c` is a carry out),
/// where `c` is `cmp` itself, except on an unmasked XNOR layer, which compares its
/// popcount `p` (`dot = 2·p − MW`): there `c = ceil((cmp + MW) / 2)`, in `[0, MW + 1]`
/// for `cmp` in `[−MW − 1, MW + 2]`. Fits `Mvau::tw` bits as a signed value.
pub fn mvau_threshold_field(m: &Mvau, cmp: i64) -> i64 {
    let c = if !m.int && !m.masked {
        (cmp + m.mw as i64 + 1).div_euclid(2)
    } else {
        cmp
    };
    -c - 1
}

fn thresholds(net: &Network, layer: usize) -> (&[i64], &[bool]) {
    match &net.layers[layer].op {
        Op::Threshold(t) => (&t.thresholds, &t.ge),
        _ => unreachable!("threshold unit of a threshold layer"),
    }
}

/// The MVAU weight words of a conv/dense layer: word nf·SF + sf, bit p·SIMD + i holds
/// w[nf·PE + p][sf·SIMD + i] (1 = +1).
pub fn weight_image(net: &Network, layer: usize, m: &Mvau) -> UnitImage {
    let w = match &net.layers[layer].op {
        Op::BinaryConv2d(c) => &c.weights.data,
        Op::BinaryDense(d) => &d.weights.data,
        _ => unreachable!("MVAU of a conv/dense layer"),
    };
    let (sf, nf) = (m.sf(), m.nf());
    let mut img = UnitImage {
        words: vec![vec![0; (m.pe * m.simd).div_ceil(32)]; sf * nf],
    };
    for n in 0..nf {
        for s in 0..sf {
            for p in 0..m.pe {
                for i in 0..m.simd {
                    let (o, k) = (n * m.pe + p, s * m.simd + i);
                    img.set(n * sf + s, p * m.simd + i, w[o * m.mw + k] > 0);
                }
            }
        }
    }
    img
}

/// A `store: logic` weight table as one constant: word a at bits [a·W, a·W + W), as hex
/// digits (most significant first) and its width in bits.
pub fn weight_constant(net: &Network, layer: usize, m: &Mvau) -> (u32, String) {
    let img = weight_image(net, layer, m);
    let w = m.pe * m.simd;
    let total = w * img.words.len();
    let s = hex_digits(total, |k| img.get(k / w, k % w));
    (total as u32, s)
}

/// Encodes every unit of `design` from the network's parameters.
pub fn encode(net: &Network, design: &Design) -> Vec<UnitImage> {
    design
        .units
        .iter()
        .map(|u| {
            let mut img = UnitImage::zeros(u);
            match (&design.engines[u.engine].kind, u.kind) {
                (Kind::Mvau { mvau: m, layer, .. }, UnitKind::Weights) => {
                    img = weight_image(net, *layer, m);
                }
                (
                    Kind::Mvau {
                        mvau: m,
                        thr_layer: Some(t),
                        ..
                    },
                    UnitKind::Thresholds,
                ) => {
                    let (ts, ge) = thresholds(net, *t);
                    let tw = m.tw as usize;
                    for o in 0..m.mh {
                        let (flip, cmp) = threshold_word(ts[o], ge[o], m.lo, m.hi);
                        let (n, p) = (o / m.pe, o % m.pe);
                        img.put(n, p * (tw + 1), m.tw, mvau_threshold_field(m, cmp));
                        img.set(n, p * (tw + 1) + tw, flip);
                    }
                }
                (
                    Kind::Thresh {
                        c,
                        tw,
                        lo,
                        hi,
                        layer,
                        ..
                    },
                    UnitKind::Thresholds,
                ) => {
                    let (ts, ge) = thresholds(net, *layer);
                    let w = *tw as usize;
                    for ch in 0..*c {
                        let (flip, cmp) = threshold_word(ts[ch], ge[ch], *lo, *hi);
                        img.put(0, ch * (w + 1), *tw, cmp);
                        img.set(0, ch * (w + 1) + w, flip);
                    }
                }
                (Kind::Argmax { cls, layer, .. }, UnitKind::ScaleBias) => {
                    let Op::Output(o) = &net.layers[*layer].op else {
                        unreachable!("argmax of an output layer")
                    };
                    for c in 0..*cls {
                        img.put(c, 0, 32, o.scale[c]);
                        img.put(c, 32, 32, o.bias[c]);
                    }
                }
                (Kind::Seq(x), UnitKind::FrontWeights) => {
                    let kk = x.front.k * x.front.k;
                    for (o, w) in x.front.weights(net).into_iter().enumerate() {
                        for b in 0..kk {
                            img.set(o, b, w >> b & 1 == 1);
                        }
                    }
                }
                (Kind::Seq(x), UnitKind::FrontThresholds) => {
                    let tw = x.front.tw;
                    for (o, (t, flip)) in x.front.thresholds(net).into_iter().enumerate() {
                        img.put(o, 0, tw, t);
                        img.set(o, tw as usize, flip);
                    }
                }
                (Kind::Seq(x), UnitKind::Weights) => {
                    for (a, w) in x.plan.weights(net).iter().enumerate() {
                        for b in 0..u.width {
                            img.set(a, b, w[b / 64] >> (b % 64) & 1 == 1);
                        }
                    }
                }
                (Kind::Seq(x), UnitKind::Thresholds) => {
                    let tw = x.tw as usize;
                    for (a, fields) in x.plan.thresholds(net).iter().enumerate() {
                        for (q, &(t, flip)) in fields.iter().enumerate() {
                            img.put(a, q * (tw + 1), x.tw, t);
                            img.set(a, q * (tw + 1) + tw, flip);
                        }
                    }
                }
                (k, uk) => unreachable!("unit {uk:?} on engine {k:?}"),
            }
            img
        })
        .collect()
}

/// The configuration-bus writes that load `images`: `(address, data)` with address
/// `{unit, word, lane}` in the widths of [`Design::cfg_fields`].
pub fn cfg_writes(design: &Design, images: &[UnitImage]) -> Vec<(u64, u32)> {
    let (_, wb, lb) = design.cfg_fields();
    let mut out = vec![];
    for (u, img) in images.iter().enumerate() {
        for (a, word) in img.words.iter().enumerate() {
            for (l, &v) in word.iter().enumerate() {
                out.push((((u as u64) << (wb + lb)) | ((a as u64) << lb) | l as u64, v));
            }
        }
    }
    out
}

/// Deepest memory `hdlgen_cfgmem` keeps in flip-flops; deeper ones are block RAM.
pub const REGISTER_DEPTH: usize = 4;

/// Rows of block RAM `hdlgen_cfgmem` declares for `unit` (`max(2^clog2(D), 256)`), or
/// `None` when the unit lives in flip-flops or SPRAM. Keep in step with `NR` in
/// hdlgen_cfgmem.v.
pub fn block_rows(unit: &Unit) -> Option<usize> {
    // SPRAM is not in the bitstream: its image is what a host writes, without filler.
    (unit.depth > REGISTER_DEPTH && !unit.spram).then(|| unit.depth.next_power_of_two().max(256))
}

/// The words a unit's memory is initialised with: the image, then (block RAM) filler
/// rows up to [`block_rows`].
///
/// The filler is never read. It exists for icebram/ecpbram: they find a memory in a
/// finished bitstream by the contents of every bit column over each 256 (iCE40) or 512
/// (ECP5) rows, which must be unique in the bitstream. Weight and threshold columns often
/// repeat (sign bits, zero padding), so every column gets pseudo-random bits in the spare
/// rows. It depends only on the unit's place and shape (never on its contents), so an
/// image patched in and a full rebuild with the same parameters give the same bitstream.
/// A 256/512-row stretch that is all data (a memory of ≥ 256 words) gets no filler; its
/// uniqueness is checked when patching (`flow::patch`).
pub fn padded(unit: &Unit, img: &UnitImage) -> UnitImage {
    let Some(rows) = block_rows(unit) else {
        return img.clone();
    };
    let kind = match unit.kind {
        UnitKind::Weights => 1,
        UnitKind::Thresholds => 2,
        UnitKind::ScaleBias => 3,
        UnitKind::FrontWeights => 4,
        UnitKind::FrontThresholds => 5,
    };
    let mut rng = SplitMix64::new(
        FILLER_SEED ^ ((unit.engine as u64) << 8) ^ kind ^ ((unit.width as u64) << 32),
    );
    let lanes = unit.lanes();
    let last = unit.width - 32 * (lanes - 1);
    let mask = if last == 32 {
        u32::MAX
    } else {
        (1 << last) - 1
    };
    let mut out = img.clone();
    out.words.resize_with(rows.max(img.words.len()), || {
        let mut w: Vec<u32> = (0..lanes).map(|_| rng.next() as u32).collect();
        w[lanes - 1] &= mask;
        w
    });
    out
}

/// Seed of the filler generator (any constant: it only has to stay the same between the
/// build that made a bitstream and the patch of it).
const FILLER_SEED: u64 = 0x6864_6c67_656e_0001;

/// A `$readmemh` file: one word per line, most significant digit first; block RAM gets
/// its filler rows ([`padded`]).
pub fn hex(unit: &Unit, img: &UnitImage) -> String {
    let img = padded(unit, img);
    let mut s = String::new();
    for a in 0..img.words.len() {
        s.push_str(&hex_digits(unit.width, |k| img.get(a, k)));
        s.push('\n');
    }
    s
}

/// `width` bits as hex digits, most significant first.
pub(crate) fn hex_digits(width: usize, bit: impl Fn(usize) -> bool) -> String {
    (0..width.div_ceil(4))
        .rev()
        .map(|d| {
            let nib = (0..4)
                .filter(|b| d * 4 + b < width && bit(d * 4 + b))
                .fold(0u32, |n, b| n | 1 << b);
            char::from_digit(nib, 16).expect("a nibble is a hex digit")
        })
        .collect()
}
