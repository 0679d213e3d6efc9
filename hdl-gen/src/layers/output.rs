//! Integer output layer of a BNN: score_c = acc_c · m_c + b_c; prediction = argmax
//! (ties → lowest index).

use super::threshold::broadcast;
use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::error::SpecErrorExt;
use crate::spec::decode::{Obj, R};
use crate::spec::param::{self, Kind, Want};
use crate::tensor::{IntTensor, TType, Tensor, ValType};

#[derive(Clone, Debug)]
pub struct Output {
    pub classes: usize,
    pub scale: Vec<i64>,
    pub bias: Vec<i64>,
    /// `scale` or `bias` is given. Without either the scores are the sums whatever
    /// parameters are loaded later, so the hardware keeps no scale/bias memory
    /// (`hdlgen_argmax_plain`); the choice follows the keys, never their values, so a
    /// weights-only change never changes the design.
    pub affine: bool,
}

const LIM: i64 = 1 << 31;

impl LayerKind for Output {
    const KIND: &'static str = "output";
    const SUMMARY: &'static str =
        "BNN scores: acc·scale + bias per class (integers), prediction = argmax";
    const KEYS: &'static [&'static str] = &["name", "scale", "bias"];

    fn parse(o: &Obj, input: &TType, cx: &ParseCx) -> R<(Self, TType)> {
        let ValType::Int { lo, hi } = input.val else {
            return Err(o
                .cx
                .err(
                    o.node.span,
                    format!(
                        "{}: needs integer accumulators, but its input is binary",
                        o.what()
                    ),
                )
                .with_help("put `output` directly after the last binary_dense"));
        };
        super::binary_dense::need_vector(o, input)?;
        let n = input.shape.c;
        let shapes = [vec![], vec![n]];
        let load = |key: &str, default: i64| -> R<Vec<i64>> {
            let what = format!("{key} of layer `{}`", cx.name);
            match o.get(key) {
                None => Ok(vec![default; n]),
                Some(node) => Ok(broadcast(
                    &param::load(
                        o.cx,
                        node,
                        &Want {
                            what: &what,
                            shapes: &shapes,
                            kind: Kind::Int {
                                lo: -LIM,
                                hi: LIM - 1,
                            },
                            random: if key == "scale" { (1, 4) } else { (-8, 8) },
                            range_help: "scale and bias are 32-bit signed integers",
                        },
                    )?
                    .data,
                    n,
                )),
            }
        };
        let scale = load("scale", 1)?;
        let bias = load("bias", 0)?;
        let (mut slo, mut shi) = (i128::MAX, i128::MIN);
        for (&m, &b) in scale.iter().zip(&bias) {
            let (a, c) = (
                lo as i128 * m as i128 + b as i128,
                hi as i128 * m as i128 + b as i128,
            );
            slo = slo.min(a.min(c));
            shi = shi.max(a.max(c));
        }
        if slo < i64::MIN as i128 / 2 || shi > i64::MAX as i128 / 2 {
            return Err(o
                .cx
                .err(
                    o.node.span,
                    format!(
                        "{}: scores in [{slo}, {shi}] would overflow 63 bits",
                        o.what()
                    ),
                )
                .with_help("use smaller scale values"));
        }
        let (slo, shi) = (slo as i64, shi as i64);
        Ok((
            Output {
                classes: n,
                scale,
                bias,
                affine: o.get("scale").is_some() || o.get("bias").is_some(),
            },
            TType {
                shape: input.shape,
                val: ValType::Int { lo: slo, hi: shi },
            },
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, _stats: &mut Stats) -> Tensor {
        let t = x.as_int();
        let data = t
            .data
            .iter()
            .zip(self.scale.iter().zip(&self.bias))
            .map(|(&a, (&m, &b))| a * m + b)
            .collect();
        Tensor::Int(IntTensor {
            shape: t.shape,
            data,
        })
    }

    fn cost(&self) -> Cost {
        Cost {
            params: 2 * self.classes as u64,
            ..Cost::default()
        }
    }
}
