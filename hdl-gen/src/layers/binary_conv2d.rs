//! Binary-weight 2-D convolution. On a binary (±1) map it is an XNOR-popcount per tap;
//! on an integer map (the first layer) acc = Σ (w ? x : −x), padded taps taking `pad_value`.

use super::fold::FoldKeys;
use super::geom::{self, Window};
use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::arith::{
    binary_dot, or_bits, pack_signs, popcount, words_for, xnor_popcount, xnor_popcount_masked,
};
use crate::error::SpecErrorExt;
use crate::spec::decode::{choice, int, size, Obj, R};
use crate::spec::param::{self, Array, Kind, Want};
use crate::tensor::{BitTensor, IntTensor, Shape, TType, Tensor, ValType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Valid convolution.
    None,
    /// Same geometry; binary input: padded taps are left out of the count; integer input:
    /// padded taps are `pad_value`.
    Zero,
    /// Same geometry; padded taps are +1 inputs and count (binary input only).
    One,
}

#[derive(Clone, Debug)]
enum Narrow {
    I16(Vec<i16>),
    I32(Vec<i32>),
    None,
}

#[derive(Clone, Debug)]
pub struct BinaryConv2d {
    pub filters: usize,
    pub cin: usize,
    pub win: Window,
    pub padding: Padding,
    pub pad_value: i64,
    /// Input is integers (first layer) rather than ±1 bits.
    pub int_input: bool,
    /// ±1 weights, (Cout, kh, kw, Cin).
    pub weights: Array,
    /// Hardware folding as written (`pe`, `simd`).
    pub fold: FoldKeys,
    /// Packed weights: per filter the whole (kh, kw, Cin) window as one bit vector.
    packed: Vec<u64>,
    /// ±1 weights as negation masks (0 for +1, −1 for −1), (kh, kw, Cin, Cout): the
    /// integer path adds `(x ^ m) − m` over all filters at once.
    neg_masks: Vec<i64>,
    /// The same masks in the narrowest lane type the derived range allows.
    narrow: Narrow,
}

pub(crate) fn acc_range(o: &Obj, taps: usize, input: &ValType, extra: i64) -> R<ValType> {
    let m = input.max_abs().max(extra.abs()) as i128;
    let hi = taps as i128 * m;
    if hi > (i64::MAX / 4) as i128 {
        return Err(o
            .cx
            .err(
                o.node.span,
                format!(
                    "{}: the accumulator range ±{hi} would overflow 62 bits",
                    o.what()
                ),
            )
            .with_help("reduce the input width or the layer's fan-in"));
    }
    Ok(ValType::Int {
        lo: -(hi as i64),
        hi: hi as i64,
    })
}

impl LayerKind for BinaryConv2d {
    const KIND: &'static str = "binary_conv2d";
    const SUMMARY: &'static str =
        "binary-weight conv (Cout,kh,kw,Cin): XNOR-popcount on ±1 maps, Σ±x on an integer input; padding one|zero|none";
    const KEYS: &'static [&'static str] = &[
        "name",
        "filters",
        "kernel",
        "stride",
        "padding",
        "pad_value",
        "weights",
        "pe",
        "simd",
        "store",
    ];

    fn parse(o: &Obj, input: &TType, _cx: &ParseCx) -> R<(Self, TType)> {
        geom::need_map(o, &input.shape)?;
        let filters = size(
            o.cx,
            o.req("filters", "number of output channels, e.g. `filters: 32`")?,
            "filters",
        )?;
        let (kh, kw) = geom::kernel(o)?;
        let stride = match o.get("stride") {
            Some(n) => size(o.cx, n, "stride")?,
            None => 1,
        };
        let pn = o.req("padding", "`one` (pad with +1, Larq pad_values=1), `zero` (padded taps left out; Larq's default) or `none` (valid)")?;
        let padding = match choice(o.cx, pn, "padding", &["one", "zero", "none"], "")? {
            "one" => Padding::One,
            "zero" => Padding::Zero,
            _ => Padding::None,
        };
        let int_input = matches!(input.val, ValType::Int { .. });
        if int_input && padding == Padding::One {
            return Err(o
                .cx
                .err(
                    pn.span,
                    "padding `one` pads binary inputs with +1; this layer's input is integers",
                )
                .with_help(
                    "for an integer input use `padding: zero` with `pad_value: V` (in input units)",
                ));
        }
        let pad_value = match o.get("pad_value") {
            Some(n) if !int_input => {
                return Err(o
                    .cx
                    .err(n.span, "pad_value applies only to integer inputs")
                    .with_help("remove `pad_value`"))
            }
            Some(n) => int(o.cx, n, "pad_value")?,
            None => 0,
        };
        let win = geom::window(o, &input.shape, kh, kw, stride, padding != Padding::None)?;
        let cin = input.shape.c;
        let what = format!("weights of layer `{}`", _cx.name);
        let weights = param::load(
            o.cx,
            o.req(
                "weights",
                "a .npy of ±1 with shape (Cout, kh, kw, Cin), an inline list or {random: SEED}",
            )?,
            &Want {
                what: &what,
                shapes: &[vec![filters, kh, kw, cin]],
                kind: Kind::Binary,
                random: (-1, 1),
                range_help: "",
            },
        )?;
        let taps = kh * kw * cin;
        let val = acc_range(o, taps, &input.val, pad_value)?;
        let packed = weights.data.chunks(taps).flat_map(pack_signs).collect();
        let mut neg_masks = vec![0; weights.len()];
        for co in 0..filters {
            for t in 0..taps {
                neg_masks[t * filters + co] = if weights.data[co * taps + t] > 0 {
                    0
                } else {
                    -1
                };
            }
        }
        let narrow = if val.max_abs() < i16::MAX as i64 {
            Narrow::I16(neg_masks.iter().map(|&m| m as i16).collect())
        } else if val.max_abs() < i32::MAX as i64 {
            Narrow::I32(neg_masks.iter().map(|&m| m as i32).collect())
        } else {
            Narrow::None
        };
        let out = TType {
            shape: Shape::map(win.out_h, win.out_w, filters),
            val,
        };
        Ok((
            BinaryConv2d {
                fold: FoldKeys::parse(o)?,
                filters,
                cin,
                win,
                padding,
                pad_value,
                int_input,
                weights,
                packed,
                neg_masks,
                narrow,
            },
            out,
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, stats: &mut Stats) -> Tensor {
        let w = &self.win;
        let out_shape = Shape::map(w.out_h, w.out_w, self.filters);
        let mut out = IntTensor::zeros(out_shape);
        match x {
            Tensor::Bits(b) => self.eval_bits(b, &mut out),
            Tensor::Int(t) => self.eval_int(t, &mut out),
        }
        stats.macs += (out_shape.len() * w.taps() * self.cin) as u64;
        Tensor::Int(out)
    }

    fn cost(&self) -> Cost {
        let w = &self.win;
        Cost {
            params: self.weights.len() as u64,
            macs: (w.out_h * w.out_w * self.filters * w.taps() * self.cin) as u64,
            fanout: 0,
            neurons: 0,
        }
    }
}

/// All filters over one fully counted window of `N` words. Bits beyond the window are 0
/// in both the gathered input and the packed weights, so they never differ.
fn full_window<const N: usize>(xw: &[u64], packed: &[u64], kbits: usize, outs: &mut [i64]) {
    let x: &[u64; N] = match xw[..N].try_into() {
        Ok(x) => x,
        Err(_) => unreachable!("window holds N words"),
    };
    for (acc, wk) in outs.iter_mut().zip(packed.chunks_exact(N)) {
        let mut diff = 0;
        for k in 0..N {
            diff += (x[k] ^ wk[k]).count_ones();
        }
        *acc = binary_dot(kbits as u32 - diff, kbits);
    }
}

impl BinaryConv2d {
    /// Gathers each output's window into one packed vector plus a mask of the taps that
    /// count (`zero` padding leaves taps out; `one` padding sets them to +1), then runs
    /// every filter over it with one masked XNOR-popcount.
    fn eval_bits(&self, x: &BitTensor, out: &mut IntTensor) {
        let w = &self.win;
        let cin = self.cin;
        let kbits = w.taps() * cin;
        let kwords = words_for(kbits);
        let ones = vec![u64::MAX; words_for(cin)];
        let mut xw = vec![0u64; kwords];
        let mut mw = vec![0u64; kwords];
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                xw.fill(0);
                mw.fill(0);
                for ky in 0..w.kh {
                    for kx in 0..w.kw {
                        let off = (ky * w.kw + kx) * cin;
                        let src = match (w.in_y(oy, ky), w.in_x(ox, kx)) {
                            (Some(iy), Some(ix)) => x.pixel(iy, ix),
                            _ if self.padding == Padding::One => &ones,
                            _ => continue,
                        };
                        or_bits(&mut xw, off, src, cin);
                        or_bits(&mut mw, off, &ones, cin);
                    }
                }
                let n = popcount(&mw, kwords * 64) as usize;
                let o = (oy * w.out_w + ox) * self.filters;
                let outs = &mut out.data[o..o + self.filters];
                if n == kbits {
                    // Every tap counts (interior, or `one` padding): no mask needed, and a
                    // fixed word count lets the compiler unroll the common window sizes.
                    macro_rules! fixed {
                        ($($k:literal)*) => {
                            match kwords {
                                $($k => full_window::<$k>(&xw, &self.packed, kbits, outs),)*
                                _ => {
                                    for (acc, wk) in outs.iter_mut().zip(self.packed.chunks_exact(kwords)) {
                                        *acc = binary_dot(xnor_popcount(&xw, wk, kbits), n);
                                    }
                                }
                            }
                        };
                    }
                    fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 18 20 24 32 36);
                } else {
                    for (acc, wk) in outs.iter_mut().zip(self.packed.chunks_exact(kwords)) {
                        *acc = binary_dot(xnor_popcount_masked(&xw, wk, &mw), n);
                    }
                }
            }
        }
    }

    /// Integer input: accumulates all filters of one output pixel at once, in i16 or i32
    /// lanes when the derived range (which bounds every partial sum too) allows.
    fn eval_int(&self, x: &IntTensor, out: &mut IntTensor) {
        match &self.narrow {
            Narrow::I16(m) => self.eval_int_as::<i16>(x, out, m, |v| v as i16),
            Narrow::I32(m) => self.eval_int_as::<i32>(x, out, m, |v| v as i32),
            Narrow::None => self.eval_int_as::<i64>(x, out, &self.neg_masks, |v| v),
        }
    }

    fn eval_int_as<T>(
        &self,
        x: &IntTensor,
        out: &mut IntTensor,
        masks: &[T],
        conv: impl Fn(i64) -> T,
    ) where
        T: Copy
            + Default
            + Into<i64>
            + std::ops::BitXor<Output = T>
            + std::ops::Sub<Output = T>
            + std::ops::AddAssign,
    {
        let w = &self.win;
        let (cin, cout) = (self.cin, self.filters);
        let mut acc = vec![T::default(); cout];
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                acc.fill(T::default());
                for ky in 0..w.kh {
                    for kx in 0..w.kw {
                        let px = match (w.in_y(oy, ky), w.in_x(ox, kx)) {
                            (Some(iy), Some(ix)) => Some((iy * w.in_w + ix) * cin),
                            _ => None,
                        };
                        for ci in 0..cin {
                            let v = conv(px.map_or(self.pad_value, |p| x.data[p + ci]));
                            let t = ((ky * w.kw + kx) * cin + ci) * cout;
                            // w = ±1 as a negation mask: (v ^ m) − m is v or −v.
                            for (a, &m) in acc.iter_mut().zip(&masks[t..t + cout]) {
                                *a += (v ^ m) - m;
                            }
                        }
                    }
                }
                let o = (oy * w.out_w + ox) * cout;
                for (d, &a) in out.data[o..o + cout].iter_mut().zip(&acc) {
                    *d = a.into();
                }
            }
        }
    }
}
