//! Sum-pooling on spikes or counts: the integer count in each window (sinabs' SumPool2d);
//! the next synapse multiplies by it.

use super::geom::Window;
use super::maxpool::pool_window;
use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::error::SpecErrorExt;
use crate::spec::decode::{Obj, R};
use crate::tensor::{IntTensor, Shape, TType, Tensor, ValType};

#[derive(Clone, Debug)]
pub struct SumPool {
    pub win: Window,
    pub channels: usize,
}

impl LayerKind for SumPool {
    const KIND: &'static str = "sumpool";
    const SUMMARY: &'static str =
        "sum-pool (size, stride = size) on spikes or integers: the count in each window";
    const KEYS: &'static [&'static str] = &["name", "size", "stride"];

    fn parse(o: &Obj, input: &TType, _cx: &ParseCx) -> R<(Self, TType)> {
        let ValType::Int { lo, hi } = input.val else {
            return Err(o
                .cx
                .err(
                    o.node.span,
                    format!(
                        "{}: sum-pooling needs spikes or integers, but its input is binary (±1)",
                        o.what()
                    ),
                )
                .with_help("use `maxpool` (OR) on binary maps"));
        };
        let win = pool_window(o, input)?;
        let n = (win.kh * win.kw) as i64;
        let c = input.shape.c;
        let (lo, hi) = (lo as i128 * n as i128, hi as i128 * n as i128);
        if lo < (i64::MIN / 4) as i128 || hi > (i64::MAX / 4) as i128 {
            return Err(o
                .cx
                .err(
                    o.node.span,
                    format!(
                        "{}: the pooled range [{lo}, {hi}] would overflow 62 bits",
                        o.what()
                    ),
                )
                .with_help("reduce the input range or the window"));
        }
        let val = ValType::Int {
            lo: lo as i64,
            hi: hi as i64,
        };
        Ok((
            SumPool { win, channels: c },
            TType {
                shape: Shape::map(win.out_h, win.out_w, c),
                val,
            },
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, _stats: &mut Stats) -> Tensor {
        let w = &self.win;
        let t = x.as_int();
        let c = self.channels;
        let mut out = IntTensor::zeros(Shape::map(w.out_h, w.out_w, c));
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                let o = (oy * w.out_w + ox) * c;
                for ky in 0..w.kh {
                    for kx in 0..w.kw {
                        let i = ((oy * w.stride + ky) * w.in_w + ox * w.stride + kx) * c;
                        for ch in 0..c {
                            out.data[o + ch] += t.data[i + ch];
                        }
                    }
                }
            }
        }
        Tensor::Int(out)
    }

    fn cost(&self) -> Cost {
        Cost::default()
    }
}
