//! Spike encoders (input → per-step tensors) and decoders (output spikes → result) of a
//! spiking network, as in DESIGN.md §3.

use crate::arith::{argmax, argmin, rate_spike, XorShift32};
use crate::error::SpecErrorExt;
use crate::input::{Event, Sample};
use crate::spec::decode::{boolean, choice, int_in, size, tagged, Cx, Obj, R};
use crate::spec::yaml::Node;
use crate::tensor::{IntTensor, TType, Tensor, ValType};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encoder {
    /// The integer input is the first synapse's input at every step; with `sequence`,
    /// the sample carries one frame per step (`[T, ...shape]`).
    Direct { sequence: bool },
    /// Spike when xorshift32's top `bits` bits are below the intensity; one generator
    /// seeded per sample, stepped once per element per step in HWC order.
    Rate { seed: u32 },
    /// One spike per element at step ⌊(xmax − x)(T − 1) / xmax⌋; x = 0 never spikes.
    Latency,
    /// Spike where a frame exceeds the previous one (zeros before t = 0) by ≥ threshold.
    Delta { threshold: i64 },
    /// DVS events (x, y, polarity, t_us) binned into steps of `bin_us`, channel =
    /// polarity (or channel 0 for a one-channel input), value = count clipped to `clip`.
    Events { bin_us: i64, clip: i64 },
}

pub const ENCODERS: &[&str] = &["direct", "rate", "latency", "delta", "events"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoder {
    /// Spike count per output over T; prediction = argmax (ties → lowest index).
    Count,
    /// Step of each output's first spike (T if none); prediction = argmin.
    FirstSpike,
}

impl Decoder {
    pub fn name(&self) -> &'static str {
        match self {
            Decoder::Count => "count",
            Decoder::FirstSpike => "first_spike",
        }
    }
}

impl Encoder {
    pub fn name(&self) -> &'static str {
        match self {
            Encoder::Direct { .. } => "direct",
            Encoder::Rate { .. } => "rate",
            Encoder::Latency => "latency",
            Encoder::Delta { .. } => "delta",
            Encoder::Events { .. } => "events",
        }
    }
    /// Samples carry a leading time axis of length T.
    pub fn is_sequence(&self) -> bool {
        matches!(
            self,
            Encoder::Direct { sequence: true } | Encoder::Delta { .. }
        )
    }
}

pub fn parse_encoder(cx: Cx, n: &Node) -> R<Encoder> {
    let help = "one of `direct`, `{rate: {seed: S}}`, `latency`, `{delta: {threshold: D}}`, `{events: {bin_us: B, clip: C}}`";
    let (kind, kspan, body) = tagged(cx, n, "encoder", help)?;
    let kn = Node {
        value: crate::spec::yaml::Value::Str(kind.to_string()),
        span: kspan,
    };
    let kind = choice(cx, &kn, "encoder", ENCODERS, help)?;
    let empty = Node {
        value: crate::spec::yaml::Value::Null,
        span: kspan,
    };
    let body = body.unwrap_or(&empty);
    Ok(match kind {
        "direct" => {
            let o = Obj::new(cx, body, "encoder direct", &["sequence"])?;
            Encoder::Direct {
                sequence: o
                    .get("sequence")
                    .map(|s| boolean(cx, s, "sequence"))
                    .transpose()?
                    .unwrap_or(false),
            }
        }
        "rate" => {
            let o = Obj::new(cx, body, "encoder rate", &["seed"])?;
            let s = o.req(
                "seed",
                "a non-zero 32-bit seed for the xorshift32 generator",
            )?;
            Encoder::Rate {
                seed: int_in(
                    cx,
                    s,
                    "seed",
                    1,
                    u32::MAX as i64,
                    "xorshift32 needs a non-zero 32-bit seed (0 is a fixed point)",
                )? as u32,
            }
        }
        "latency" => {
            Obj::new(cx, body, "encoder latency", &[])?;
            Encoder::Latency
        }
        "delta" => {
            let o = Obj::new(cx, body, "encoder delta", &["threshold"])?;
            let t = o.req(
                "threshold",
                "the increase between frames that makes a spike",
            )?;
            Encoder::Delta {
                threshold: int_in(
                    cx,
                    t,
                    "threshold",
                    1,
                    i64::MAX,
                    "a positive integer in input units",
                )?,
            }
        }
        _ => {
            let o = Obj::new(cx, body, "encoder events", &["bin_us", "clip"])?;
            let b = size(
                cx,
                o.req("bin_us", "length of one time step in microseconds")?,
                "bin_us",
            )? as i64;
            let c = match o.get("clip") {
                Some(c) => size(cx, c, "clip")? as i64,
                None => 1,
            };
            Encoder::Events { bin_us: b, clip: c }
        }
    })
}

pub fn parse_decoder(cx: Cx, n: &Node) -> R<Decoder> {
    Ok(
        match choice(
            cx,
            n,
            "decoder",
            &["count", "first_spike"],
            "count = spikes per output (argmax), first_spike = earliest spike (argmin)",
        )? {
            "count" => Decoder::Count,
            _ => Decoder::FirstSpike,
        },
    )
}

/// The type of what the encoder feeds the first layer, given the declared input.
pub fn output_type(
    cx: Cx,
    enc: &Encoder,
    input: &TType,
    span: crate::spec::source::Span,
) -> R<TType> {
    let unsigned = matches!(input.val, ValType::Int { lo, .. } if lo >= 0);
    match enc {
        Encoder::Direct { .. } => match input.val {
            ValType::Bits => Err(cx
                .err(span, "a spiking network's input is integers (currents, intensities or 0/1 spikes), not ±1")
                .with_help("declare the input with `bits:` (use `bits: 1` for 0/1 spike trains)")),
            _ => Ok(*input),
        },
        Encoder::Events { clip, .. } => {
            if input.shape.flat || !(1..=2).contains(&input.shape.c) {
                return Err(cx
                    .err(span, format!("the events encoder needs an H×W×2 input (channel = polarity) or H×W×1 (polarities merged), found {}", input.shape))
                    .with_help("declare `input: {shape: [H, W, 2]}`"));
            }
            Ok(TType { shape: input.shape, val: ValType::Int { lo: 0, hi: *clip } })
        }
        _ if !unsigned => Err(cx
            .err(span, format!("the {} encoder needs an unsigned integer input (intensities)", enc.name()))
            .with_help("declare the input with `bits: B` and `signed: false`")),
        _ => Ok(TType { shape: input.shape, val: ValType::spikes() }),
    }
}

/// Turns one sample into the per-step input tensors of a spiking network.
pub struct Encoding {
    frames: Vec<Tensor>,
    /// Events outside the T·bin_us window (counted, not used).
    pub dropped_events: u64,
}

impl Encoding {
    pub fn new(enc: &Encoder, input: &TType, steps: usize, sample: &Sample) -> Self {
        let shape = input.shape;
        let n = shape.len();
        let frame = |data: Vec<i64>| Tensor::Int(IntTensor { shape, data });
        let bits = match input.val {
            ValType::Int { hi, .. } => 64 - (hi.max(1) as u64).leading_zeros(),
            ValType::Bits => 1,
        };
        let mut dropped = 0;
        let frames = match (enc, sample) {
            (Encoder::Direct { sequence: false }, Sample::Values(v)) => vec![frame(v.clone())],
            (Encoder::Direct { sequence: true }, Sample::Values(v)) => {
                v.chunks(n).map(|c| frame(c.to_vec())).collect()
            }
            (Encoder::Rate { seed }, Sample::Values(v)) => {
                let mut g = XorShift32::new(*seed);
                (0..steps)
                    .map(|_| {
                        frame(
                            v.iter()
                                .map(|&x| rate_spike(g.next(), x, bits) as i64)
                                .collect(),
                        )
                    })
                    .collect()
            }
            (Encoder::Latency, Sample::Values(v)) => {
                let xmax = ((1u64 << bits) - 1) as i64;
                let at: Vec<Option<usize>> = v
                    .iter()
                    .map(|&x| {
                        (x > 0).then(|| {
                            (((xmax - x.min(xmax)) as i128 * (steps as i128 - 1)) / xmax as i128)
                                as usize
                        })
                    })
                    .collect();
                (0..steps)
                    .map(|t| frame(at.iter().map(|a| (*a == Some(t)) as i64).collect()))
                    .collect()
            }
            (Encoder::Delta { threshold }, Sample::Values(v)) => {
                let mut prev = vec![0; n];
                v.chunks(n)
                    .map(|c| {
                        let f = c
                            .iter()
                            .zip(&prev)
                            .map(|(&x, &p)| (x - p >= *threshold) as i64)
                            .collect();
                        prev = c.to_vec();
                        frame(f)
                    })
                    .collect()
            }
            (Encoder::Events { bin_us, clip }, Sample::Events(ev)) => {
                let mut fr = vec![vec![0i64; n]; steps];
                for &Event { x, y, p, t_us } in ev {
                    let t = (t_us / bin_us) as usize;
                    if t >= steps {
                        dropped += 1;
                        continue;
                    }
                    let c = shape.c;
                    let i = ((y as usize) * shape.w + x as usize) * c + (p as usize).min(c - 1);
                    fr[t][i] = (fr[t][i] + 1).min(*clip);
                }
                fr.into_iter().map(frame).collect()
            }
            _ => unreachable!("input loading matches samples to the encoder"),
        };
        Encoding {
            frames,
            dropped_events: dropped,
        }
    }

    pub fn step(&self, t: usize) -> &Tensor {
        &self.frames[t.min(self.frames.len() - 1)]
    }
}

/// Accumulates the decoder's view of the output spikes.
pub struct Decoding {
    dec: Decoder,
    steps: i64,
    values: Vec<i64>,
}

impl Decoding {
    pub fn new(dec: Decoder, outputs: usize, steps: usize) -> Self {
        let init = if dec == Decoder::Count {
            0
        } else {
            steps as i64
        };
        Decoding {
            dec,
            steps: steps as i64,
            values: vec![init; outputs],
        }
    }
    pub fn push(&mut self, t: usize, out: &IntTensor) {
        for (v, &s) in self.values.iter_mut().zip(&out.data) {
            match self.dec {
                Decoder::Count => *v += s,
                Decoder::FirstSpike if s > 0 && *v == self.steps => *v = t as i64,
                Decoder::FirstSpike => {}
            }
        }
    }
    pub fn finish(self) -> (Vec<i64>, usize) {
        let p = match self.dec {
            Decoder::Count => argmax(&self.values),
            Decoder::FirstSpike => argmin(&self.values),
        };
        (self.values, p)
    }
}
