//! Spiking fully connected synapse: I[t] = Σ w·s[t] + b with signed `weight_bits`
//! weights (out, in). Event-driven: work is proportional to the non-zero inputs.

use super::binary_dense::need_vector;
use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::error::SpecErrorExt;
use crate::spec::decode::{Obj, R};
use crate::spec::param::Array;
use crate::tensor::{IntTensor, Shape, TType, Tensor, ValType};

#[derive(Clone, Debug)]
pub struct Dense {
    pub units: usize,
    pub inputs: usize,
    pub weight_bits: u32,
    /// (out, in).
    pub weights: Array,
    pub bias: Vec<i64>,
    /// (in, out): one contiguous row per input element, for scattering events.
    by_input: Vec<i64>,
}

/// Common reading of a synapse's input type, `weight_bits`, weights and bias.
pub(crate) struct Synapse {
    pub weight_bits: u32,
    pub weights: Array,
    pub bias: Vec<i64>,
    /// Bounds of I = Σ w·x + b for any weights of `weight_bits`.
    pub val: ValType,
}

pub(crate) fn synapse(
    o: &Obj,
    input: &TType,
    cx: &ParseCx,
    wshape: Vec<usize>,
    outputs: usize,
    fanin: usize,
) -> R<Synapse> {
    use super::threshold::broadcast;
    use crate::spec::decode::int_in;
    use crate::spec::param::{load, Kind, Want};
    if input.val == ValType::Bits {
        return Err(o
            .cx
            .err(
                o.node.span,
                format!(
                    "{}: synapses take spikes or integer currents, but its input is binary (±1)",
                    o.what()
                ),
            )
            .with_help("binary (±1) maps feed binary_conv2d / binary_dense"));
    }
    let wb = int_in(
        o.cx,
        o.req("weight_bits", "signed weight width, e.g. `weight_bits: 8`")?,
        "weight_bits",
        2,
        32,
        "weights are signed integers of 2 to 32 bits",
    )? as u32;
    let (lo, hi) = crate::arith::signed_range(wb);
    let what = format!("weights of layer `{}`", cx.name);
    let help = format!("weight_bits: {wb} holds [{lo}, {hi}]; raise weight_bits or re-quantise");
    let weights = load(
        o.cx,
        o.req(
            "weights",
            "integer weights: a .npy, an inline list or {random: SEED}",
        )?,
        &Want {
            what: &what,
            shapes: &[wshape],
            kind: Kind::Int { lo, hi },
            random: (lo + 1, hi),
            range_help: &help,
        },
    )?;
    let bias = match o.get("bias") {
        None => vec![0; outputs],
        Some(n) => {
            let what = format!("bias of layer `{}`", cx.name);
            let l = 1i64 << 31;
            broadcast(
                &load(
                    o.cx,
                    n,
                    &Want {
                        what: &what,
                        shapes: &[vec![], vec![outputs]],
                        kind: Kind::Int { lo: -l, hi: l - 1 },
                        random: (-(1 << (wb - 1)), 1 << (wb - 1)),
                        range_help: "biases are 32-bit signed integers",
                    },
                )?
                .data,
                outputs,
            )
        }
    };
    let bmax = bias.iter().map(|b| b.unsigned_abs()).max().unwrap_or(0) as i128;
    let m = fanin as i128 * (1i128 << (wb - 1)) * input.val.max_abs() as i128 + bmax;
    if m > (i64::MAX / 4) as i128 {
        return Err(o
            .cx
            .err(
                o.node.span,
                format!(
                    "{}: the synaptic current range ±{m} would overflow 62 bits",
                    o.what()
                ),
            )
            .with_help("reduce weight_bits, the input range or the fan-in"));
    }
    Ok(Synapse {
        weight_bits: wb,
        weights,
        bias,
        val: ValType::Int {
            lo: -(m as i64),
            hi: m as i64,
        },
    })
}

impl LayerKind for Dense {
    const KIND: &'static str = "dense";
    const SUMMARY: &'static str =
        "spiking synapse, fully connected (out,in): I = Σ w·s + b, signed weight_bits weights, event-driven";
    const KEYS: &'static [&'static str] = &["name", "units", "weight_bits", "weights", "bias"];

    fn parse(o: &Obj, input: &TType, cx: &ParseCx) -> R<(Self, TType)> {
        need_vector(o, input)?;
        let units = crate::spec::decode::size(
            o.cx,
            o.req("units", "number of outputs, e.g. `units: 10`")?,
            "units",
        )?;
        let inputs = input.shape.c;
        let s = synapse(o, input, cx, vec![units, inputs], units, inputs)?;
        let mut by_input = vec![0; units * inputs];
        for u in 0..units {
            for j in 0..inputs {
                by_input[j * units + u] = s.weights.data[u * inputs + j];
            }
        }
        let out = TType {
            shape: Shape::vec(units),
            val: s.val,
        };
        Ok((
            Dense {
                units,
                inputs,
                weight_bits: s.weight_bits,
                weights: s.weights,
                bias: s.bias,
                by_input,
            },
            out,
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, stats: &mut Stats) -> Tensor {
        let t = x.as_int();
        let mut out = IntTensor {
            shape: Shape::vec(self.units),
            data: self.bias.clone(),
        };
        for (j, &v) in t.data.iter().enumerate() {
            if v != 0 {
                let row = &self.by_input[j * self.units..(j + 1) * self.units];
                for (o, &w) in out.data.iter_mut().zip(row) {
                    *o += w * v;
                }
                stats.synops += self.units as u64;
            }
        }
        Tensor::Int(out)
    }

    fn cost(&self) -> Cost {
        Cost {
            params: (self.weights.len() + self.units) as u64,
            macs: (self.units * self.inputs) as u64,
            fanout: self.units as u64,
            neurons: 0,
        }
    }
}
