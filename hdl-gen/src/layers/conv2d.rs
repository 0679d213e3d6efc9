//! Spiking 2-D convolution synapse: I[t] = conv(w, s[t]) + b, weights (Cout, kh, kw, Cin)
//! of signed `weight_bits`; padding `zero` (same geometry) or `none`. Event-driven: each
//! non-zero input scatters into the outputs whose window covers it.

use super::dense::synapse;
use super::geom::{self, Window};
use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::spec::decode::{choice, size, Obj, R};
use crate::spec::param::Array;
use crate::tensor::{IntTensor, Shape, TType, Tensor};

#[derive(Clone, Debug)]
pub struct Conv2d {
    pub filters: usize,
    pub cin: usize,
    pub win: Window,
    pub weight_bits: u32,
    /// (Cout, kh, kw, Cin).
    pub weights: Array,
    pub bias: Vec<i64>,
    /// (kh, kw, Cin, Cout): the Cout weights one input event adds per tap, contiguous.
    by_tap: Vec<i64>,
}

impl LayerKind for Conv2d {
    const KIND: &'static str = "conv2d";
    const SUMMARY: &'static str =
        "spiking synapse, 2-D conv (Cout,kh,kw,Cin): I = Σ w·s + b, signed weight_bits weights; padding zero|none";
    const KEYS: &'static [&'static str] = &[
        "name",
        "filters",
        "kernel",
        "stride",
        "padding",
        "weight_bits",
        "weights",
        "bias",
    ];

    fn parse(o: &Obj, input: &TType, cx: &ParseCx) -> R<(Self, TType)> {
        geom::need_map(o, &input.shape)?;
        let filters = size(
            o.cx,
            o.req("filters", "number of output channels, e.g. `filters: 12`")?,
            "filters",
        )?;
        let (kh, kw) = geom::kernel(o)?;
        let stride = match o.get("stride") {
            Some(n) => size(o.cx, n, "stride")?,
            None => 1,
        };
        let pn = o.req("padding", "`zero` (same geometry, zeros) or `none` (valid)")?;
        let same = choice(
            o.cx,
            pn,
            "padding",
            &["zero", "none"],
            "spiking convolutions pad with zeros (no spike) or not at all",
        )? == "zero";
        let win = geom::window(o, &input.shape, kh, kw, stride, same)?;
        let cin = input.shape.c;
        let s = synapse(
            o,
            input,
            cx,
            vec![filters, kh, kw, cin],
            filters,
            kh * kw * cin,
        )?;
        let mut by_tap = vec![0; s.weights.len()];
        for co in 0..filters {
            for t in 0..kh * kw * cin {
                by_tap[t * filters + co] = s.weights.data[co * kh * kw * cin + t];
            }
        }
        let out = TType {
            shape: Shape::map(win.out_h, win.out_w, filters),
            val: s.val,
        };
        Ok((
            Conv2d {
                filters,
                cin,
                win,
                weight_bits: s.weight_bits,
                weights: s.weights,
                bias: s.bias,
                by_tap,
            },
            out,
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, stats: &mut Stats) -> Tensor {
        let w = &self.win;
        let t = x.as_int();
        let (cin, cout) = (self.cin, self.filters);
        let mut out = IntTensor::zeros(Shape::map(w.out_h, w.out_w, cout));
        for px in out.data.chunks_mut(cout) {
            px.copy_from_slice(&self.bias);
        }
        for iy in 0..w.in_h {
            for ix in 0..w.in_w {
                let ip = (iy * w.in_w + ix) * cin;
                for ci in 0..cin {
                    let v = t.data[ip + ci];
                    if v == 0 {
                        continue;
                    }
                    // Output oy sees input iy through tap ky when oy·s + ky − pad_top = iy.
                    for ky in 0..w.kh {
                        let ny = iy + w.pad_top;
                        if ny < ky || (ny - ky) % w.stride != 0 || (ny - ky) / w.stride >= w.out_h {
                            continue;
                        }
                        let oy = (ny - ky) / w.stride;
                        for kx in 0..w.kw {
                            let nx = ix + w.pad_left;
                            if nx < kx
                                || (nx - kx) % w.stride != 0
                                || (nx - kx) / w.stride >= w.out_w
                            {
                                continue;
                            }
                            let ox = (nx - kx) / w.stride;
                            let tap = ((ky * w.kw + kx) * cin + ci) * cout;
                            let o = (oy * w.out_w + ox) * cout;
                            for (acc, &wt) in out.data[o..o + cout]
                                .iter_mut()
                                .zip(&self.by_tap[tap..tap + cout])
                            {
                                *acc += wt * v;
                            }
                            stats.synops += cout as u64;
                        }
                    }
                }
            }
        }
        Tensor::Int(out)
    }

    fn cost(&self) -> Cost {
        let w = &self.win;
        Cost {
            params: (self.weights.len() + self.filters) as u64,
            macs: (w.out_h * w.out_w * cout_taps(self)) as u64,
            fanout: (w.kh.div_ceil(w.stride) * w.kw.div_ceil(w.stride) * self.filters) as u64,
            neurons: 0,
        }
    }
}

fn cout_taps(c: &Conv2d) -> usize {
    c.filters * c.win.taps() * c.cin
}
