//! Binary-weight 2-D convolution. On a binary (±1) map it is an XNOR-popcount per tap;
//! on an integer map (the first layer) acc = Σ (w ? x : −x), padded taps taking `pad_value`.

use super::geom::{self, Window};
use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::arith::{binary_dot, pack_signs, popcount, words_for, xnor_popcount};
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
    /// Packed weights: per (co, ky, kx) a pixel of `words_for(cin)` words.
    packed: Vec<u64>,
    /// Popcount of each packed weight pixel (for `one` padding: XNOR(1, w) = w).
    pix_ones: Vec<u32>,
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
        let wpp = words_for(cin);
        let mut packed = Vec::with_capacity(filters * kh * kw * wpp);
        let mut pix_ones = Vec::with_capacity(filters * kh * kw);
        for pix in weights.data.chunks(cin) {
            let p = pack_signs(pix);
            pix_ones.push(popcount(&p, cin));
            packed.extend(p);
        }
        let out = TType {
            shape: Shape::map(win.out_h, win.out_w, filters),
            val,
        };
        Ok((
            BinaryConv2d {
                filters,
                cin,
                win,
                padding,
                pad_value,
                int_input,
                weights,
                packed,
                pix_ones,
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

impl BinaryConv2d {
    fn eval_bits(&self, x: &BitTensor, out: &mut IntTensor) {
        let w = &self.win;
        let wpp = x.wpp;
        let taps = w.taps();
        // Gather the tap pixels of one output position once, then run every filter over them.
        let mut tap_pix: Vec<Option<&[u64]>> = vec![None; taps];
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                for ky in 0..w.kh {
                    for kx in 0..w.kw {
                        tap_pix[ky * w.kw + kx] = match (w.in_y(oy, ky), w.in_x(ox, kx)) {
                            (Some(iy), Some(ix)) => Some(x.pixel(iy, ix)),
                            _ => None,
                        };
                    }
                }
                let o = (oy * w.out_w + ox) * self.filters;
                for co in 0..self.filters {
                    let mut p = 0u32;
                    let mut n = 0usize;
                    for (t, tp) in tap_pix.iter().enumerate() {
                        let wi = co * taps + t;
                        match tp {
                            Some(px) => {
                                p += xnor_popcount(
                                    px,
                                    &self.packed[wi * wpp..(wi + 1) * wpp],
                                    self.cin,
                                );
                                n += self.cin;
                            }
                            None if self.padding == Padding::One => {
                                p += self.pix_ones[wi];
                                n += self.cin;
                            }
                            None => {}
                        }
                    }
                    out.data[o + co] = binary_dot(p, n);
                }
            }
        }
    }

    fn eval_int(&self, x: &IntTensor, out: &mut IntTensor) {
        let w = &self.win;
        let cin = self.cin;
        let taps = w.taps();
        let pad = vec![self.pad_value; cin];
        let mut window: Vec<i64> = Vec::with_capacity(taps * cin);
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                window.clear();
                for ky in 0..w.kh {
                    for kx in 0..w.kw {
                        match (w.in_y(oy, ky), w.in_x(ox, kx)) {
                            (Some(iy), Some(ix)) => {
                                let o = (iy * w.in_w + ix) * cin;
                                window.extend_from_slice(&x.data[o..o + cin]);
                            }
                            _ => window.extend_from_slice(&pad),
                        }
                    }
                }
                let o = (oy * w.out_w + ox) * self.filters;
                for co in 0..self.filters {
                    let wv = &self.weights.data[co * taps * cin..(co + 1) * taps * cin];
                    out.data[o + co] = wv.iter().zip(&window).map(|(&s, &v)| s * v).sum();
                }
            }
        }
    }
}
