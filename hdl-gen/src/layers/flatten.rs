//! Flatten an H×W×C map to a vector in HWC order (the order dense weights use).

use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::arith::{get_bit, set_bit};
use crate::spec::decode::{Obj, R};
use crate::tensor::{BitTensor, IntTensor, Shape, TType, Tensor};

#[derive(Clone, Debug)]
pub struct Flatten {
    pub input: Shape,
}

impl LayerKind for Flatten {
    const KIND: &'static str = "flatten";
    const SUMMARY: &'static str = "H×W×C map → vector in HWC order (dense weights use this order)";
    const KEYS: &'static [&'static str] = &["name"];

    fn parse(_o: &Obj, input: &TType, _cx: &ParseCx) -> R<(Self, TType)> {
        Ok((
            Flatten { input: input.shape },
            TType {
                shape: Shape::vec(input.shape.len()),
                val: input.val,
            },
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, _stats: &mut Stats) -> Tensor {
        let n = self.input.len();
        match x {
            Tensor::Int(t) => Tensor::Int(IntTensor {
                shape: Shape::vec(n),
                data: t.data.clone(),
            }),
            Tensor::Bits(b) => {
                // Pixels are word-aligned in a map; a vector is one packed run.
                let mut out = BitTensor::zeros(Shape::vec(n));
                let c = self.input.c;
                for p in 0..self.input.pixels() {
                    let px = &b.data[p * b.wpp..(p + 1) * b.wpp];
                    for ch in 0..c {
                        set_bit(&mut out.data, p * c + ch, get_bit(px, ch));
                    }
                }
                Tensor::Bits(out)
            }
        }
    }

    fn cost(&self) -> Cost {
        Cost::default()
    }
}
