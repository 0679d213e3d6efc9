//! Folded BatchNorm + sign: per channel c, out = acc ≥ T_c (positive BN scale, `ge`) or
//! acc ≤ T_c (negative scale, `le`); ±1 output.

use super::{Cost, LayerKind, ParseCx, State, Stats};
use crate::error::SpecErrorExt;
use crate::spec::decode::{choice, Obj, R};
use crate::spec::param::{self, Kind, Want};
use crate::spec::yaml::Value;
use crate::tensor::{BitTensor, TType, Tensor, ValType};

#[derive(Clone, Debug)]
pub struct Threshold {
    pub channels: usize,
    /// Per channel.
    pub thresholds: Vec<i64>,
    /// Per channel: true = `ge` (acc ≥ T), false = `le` (acc ≤ T).
    pub ge: Vec<bool>,
    /// Per channel: T (ge) or T + 1 (le), compared with ≥.
    cmp: Vec<i64>,
    /// Per channel: 0 (ge) or 1 (le), XORed onto the comparison.
    flip: Vec<u64>,
}

fn isqrt(v: i64) -> i64 {
    (v.max(0) as f64).sqrt() as i64
}

impl LayerKind for Threshold {
    const KIND: &'static str = "threshold";
    const SUMMARY: &'static str =
        "folded BatchNorm + sign per channel: acc ≥ T (direction ge) or acc ≤ T (le) → ±1";
    const KEYS: &'static [&'static str] = &["name", "thresholds", "direction"];

    fn parse(o: &Obj, input: &TType, cx: &ParseCx) -> R<(Self, TType)> {
        let ValType::Int { lo, hi } = input.val else {
            return Err(o
                .cx
                .err(o.node.span, format!("{}: its input is already binary", o.what()))
                .with_help("a threshold follows a binary_conv2d or binary_dense, which produce integer accumulators"));
        };
        let c = input.shape.c;
        let shapes = [vec![], vec![c]];
        let dn = o.req("direction", "`ge` (BatchNorm scale > 0), `le` (scale < 0), or a per-channel list/.npy of +1 (ge) / -1 (le)")?;
        let ge: Vec<bool> = match &dn.value {
            Value::Str(s) if !s.ends_with(".npy") && !s.ends_with(".npz") => vec![
                choice(
                    o.cx,
                    dn,
                    "direction",
                    &["ge", "le"],
                    "or per channel: a list or .npy of +1 (ge) / -1 (le)"
                )? == "ge";
                c
            ],
            _ => {
                let what = format!("direction of layer `{}`", cx.name);
                let a = param::load(
                    o.cx,
                    dn,
                    &Want {
                        what: &what,
                        shapes: &shapes,
                        kind: Kind::Binary,
                        random: (-1, 1),
                        range_help: "",
                    },
                )?;
                broadcast(&a.data, c).into_iter().map(|d| d > 0).collect()
            }
        };
        let what = format!("thresholds of layer `{}`", cx.name);
        let tn = o.req(
            "thresholds",
            "integer thresholds per channel (a .npy of shape [C], an inline list or a number)",
        )?;
        // Random thresholds near the centre (±√hi), kept inside the accumulator range so
        // they are valid for either direction.
        let r = isqrt(hi);
        let random = if (-r).max(lo) <= r.min(hi) {
            ((-r).max(lo), r.min(hi))
        } else {
            (lo, hi)
        };
        let help = format!(
            "the accumulator lies in [{lo}, {hi}]; a threshold outside [{}, {}] (ge) or [{}, {}] (le) makes the channel constant: clamp it",
            lo,
            hi.saturating_add(1),
            lo.saturating_sub(1),
            hi
        );
        let a = param::load(
            o.cx,
            tn,
            &Want {
                what: &what,
                shapes: &shapes,
                kind: Kind::Int {
                    lo: lo.saturating_sub(1),
                    hi: hi.saturating_add(1),
                },
                random,
                range_help: &help,
            },
        )?;
        let thresholds = broadcast(&a.data, c);
        for (i, (&t, &g)) in thresholds.iter().zip(&ge).enumerate() {
            let never = if g { t == lo - 1 } else { t == hi + 1 };
            if never {
                return Err(o
                    .cx
                    .err(tn.span, format!("{what}: channel {i}: threshold {t} lies beyond the accumulator range [{lo}, {hi}] for direction {}", if g { "ge" } else { "le" }))
                    .with_label("out of range")
                    .with_help(help));
            }
        }
        let cmp = thresholds
            .iter()
            .zip(&ge)
            .map(|(&t, &g)| if g { t } else { t + 1 })
            .collect();
        let flip = ge.iter().map(|&g| (!g) as u64).collect();
        Ok((
            Threshold {
                channels: c,
                thresholds,
                ge,
                cmp,
                flip,
            },
            TType {
                shape: input.shape,
                val: ValType::Bits,
            },
        ))
    }

    fn eval(&self, x: &Tensor, _state: &mut State, _stats: &mut Stats) -> Tensor {
        let t = x.as_int();
        let mut out = BitTensor::zeros(t.shape);
        let c = self.channels;
        // acc ≤ T is !(acc ≥ T + 1): one comparison per value, flipped per channel.
        let (cmp, flip) = (&self.cmp, &self.flip);
        for (px, words) in t.data.chunks(c).zip(out.data.chunks_mut(out.wpp)) {
            for (k, word) in words.iter_mut().enumerate() {
                let lo = k * 64;
                let hi = (lo + 64).min(c);
                let mut bits = 0u64;
                for ch in lo..hi {
                    bits |= (((px[ch] >= cmp[ch]) as u64) ^ flip[ch]) << (ch - lo);
                }
                *word = bits;
            }
        }
        Tensor::Bits(out)
    }

    fn cost(&self) -> Cost {
        Cost {
            params: self.channels as u64,
            ..Cost::default()
        }
    }
}

/// Expands a scalar or per-channel parameter to `n` values.
pub(crate) fn broadcast(v: &[i64], n: usize) -> Vec<i64> {
    if v.len() == 1 {
        vec![v[0]; n]
    } else {
        v.to_vec()
    }
}
