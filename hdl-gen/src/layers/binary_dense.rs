//! Binary-weight fully connected layer, (out, in) weights with `in` in HWC-flatten order:
//! XNOR-popcount on a ±1 vector, Σ (w ? x : −x) on an integer vector.

use super::binary_conv2d::acc_range;
use super::fold::FoldKeys;
use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::arith::{binary_dot, pack_signs, words_for, xnor_popcount};
use crate::error::SpecErrorExt;
use crate::spec::decode::{size, Obj, R};
use crate::spec::param::{self, Array, Kind, Want};
use crate::tensor::{IntTensor, Shape, TType, Tensor, ValType};

#[derive(Clone, Debug)]
pub struct BinaryDense {
    pub units: usize,
    pub inputs: usize,
    pub int_input: bool,
    /// ±1 weights, (out, in).
    pub weights: Array,
    /// Hardware folding as written (`pe`, `simd`).
    pub fold: FoldKeys,
    packed: Vec<u64>,
}

/// Dense layers take vectors: say how to get one.
pub(crate) fn need_vector(o: &Obj, input: &TType) -> R<()> {
    if !input.shape.flat {
        return Err(o
            .cx
            .err(
                o.node.span,
                format!(
                    "{}: needs a vector input, but its input is the map {}",
                    o.what(),
                    input.shape
                ),
            )
            .with_label("shapes do not chain")
            .with_help("add `- flatten` before this layer"));
    }
    Ok(())
}

impl LayerKind for BinaryDense {
    const KIND: &'static str = "binary_dense";
    const SUMMARY: &'static str =
        "binary-weight fully connected (out,in): XNOR-popcount on ±1 vectors, Σ±x on an integer vector";
    const KEYS: &'static [&'static str] = &["name", "units", "weights", "pe", "simd", "store"];

    fn parse(o: &Obj, input: &TType, cx: &ParseCx) -> R<(Self, TType)> {
        need_vector(o, input)?;
        let units = size(
            o.cx,
            o.req("units", "number of outputs, e.g. `units: 10`")?,
            "units",
        )?;
        let inputs = input.shape.c;
        let what = format!("weights of layer `{}`", cx.name);
        let weights = param::load(
            o.cx,
            o.req(
                "weights",
                "a .npy of ±1 with shape (out, in), an inline list or {random: SEED}",
            )?,
            &Want {
                what: &what,
                shapes: &[vec![units, inputs]],
                kind: Kind::Binary,
                random: (-1, 1),
                range_help: "",
            },
        )?;
        let val = acc_range(o, inputs, &input.val, 0)?;
        let packed = weights.data.chunks(inputs).flat_map(pack_signs).collect();
        let int_input = matches!(input.val, ValType::Int { .. });
        Ok((
            BinaryDense {
                fold: FoldKeys::parse(o)?,
                units,
                inputs,
                int_input,
                weights,
                packed,
            },
            TType {
                shape: Shape::vec(units),
                val,
            },
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, stats: &mut Stats) -> Tensor {
        let mut out = IntTensor::zeros(Shape::vec(self.units));
        match x {
            Tensor::Bits(b) => {
                let wpr = words_for(self.inputs);
                for (u, o) in out.data.iter_mut().enumerate() {
                    let p =
                        xnor_popcount(&b.data, &self.packed[u * wpr..(u + 1) * wpr], self.inputs);
                    *o = binary_dot(p, self.inputs);
                }
            }
            Tensor::Int(t) => {
                for (row, o) in self
                    .weights
                    .data
                    .chunks(self.inputs)
                    .zip(out.data.iter_mut())
                {
                    *o = row.iter().zip(&t.data).map(|(&s, &v)| s * v).sum();
                }
            }
        }
        stats.macs += (self.units * self.inputs) as u64;
        Tensor::Int(out)
    }

    fn cost(&self) -> Cost {
        Cost {
            params: self.weights.len() as u64,
            macs: (self.units * self.inputs) as u64,
            fanout: 0,
            neurons: 0,
        }
    }
}
