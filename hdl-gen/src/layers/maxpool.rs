//! Max-pooling: OR over the window on binary maps and spikes, max on integers.
//! No padding; a remainder that does not fill a window is dropped (floor).

use super::geom::{self, Window};
use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::spec::decode::{size, Obj, R};
use crate::tensor::{BitTensor, IntTensor, Shape, TType, Tensor};

#[derive(Clone, Debug)]
pub struct MaxPool {
    pub win: Window,
    pub channels: usize,
}

/// Reads `size` and `stride` (default: size) of a pooling layer.
pub(crate) fn pool_window(o: &Obj, input: &TType) -> R<Window> {
    geom::need_map(o, &input.shape)?;
    let k = size(o.cx, o.req("size", "window size, e.g. `size: 2`")?, "size")?;
    let stride = match o.get("stride") {
        Some(n) => size(o.cx, n, "stride")?,
        None => k,
    };
    geom::window(o, &input.shape, k, k, stride, false)
}

impl LayerKind for MaxPool {
    const KIND: &'static str = "maxpool";
    const SUMMARY: &'static str =
        "max-pool (size, stride = size): OR on binary maps and spikes, max on integers";
    const KEYS: &'static [&'static str] = &["name", "size", "stride"];

    fn parse(o: &Obj, input: &TType, _cx: &ParseCx) -> R<(Self, TType)> {
        let win = pool_window(o, input)?;
        let c = input.shape.c;
        Ok((
            MaxPool { win, channels: c },
            TType {
                shape: Shape::map(win.out_h, win.out_w, c),
                val: input.val,
            },
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, _stats: &mut Stats) -> Tensor {
        let w = &self.win;
        let shape = Shape::map(w.out_h, w.out_w, self.channels);
        match x {
            Tensor::Bits(b) => {
                let mut out = BitTensor::zeros(shape);
                for oy in 0..w.out_h {
                    for ox in 0..w.out_w {
                        let mut acc = vec![0u64; b.wpp];
                        for ky in 0..w.kh {
                            for kx in 0..w.kw {
                                let px = b.pixel(oy * w.stride + ky, ox * w.stride + kx);
                                for (a, &p) in acc.iter_mut().zip(px) {
                                    *a |= p;
                                }
                            }
                        }
                        out.pixel_mut(oy, ox).copy_from_slice(&acc);
                    }
                }
                Tensor::Bits(out)
            }
            Tensor::Int(t) => {
                let c = self.channels;
                let mut out = IntTensor {
                    shape,
                    data: vec![i64::MIN; shape.len()],
                };
                for oy in 0..w.out_h {
                    for ox in 0..w.out_w {
                        let o = (oy * w.out_w + ox) * c;
                        for ky in 0..w.kh {
                            for kx in 0..w.kw {
                                let i = ((oy * w.stride + ky) * w.in_w + ox * w.stride + kx) * c;
                                for ch in 0..c {
                                    out.data[o + ch] = out.data[o + ch].max(t.data[i + ch]);
                                }
                            }
                        }
                    }
                }
                Tensor::Int(out)
            }
        }
    }

    fn cost(&self) -> Cost {
        Cost::default()
    }
}
