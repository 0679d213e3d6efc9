//! The reference model: runs a checked network on one sample, bit-exactly as DESIGN.md
//! §3 defines, with cost counters and an optional trace of every layer's output.

use serde::Serialize;

use crate::arith::argmax;
use crate::encode::{Decoding, Encoding};
use crate::input::Sample;
use crate::layers::{State, Stats};
use crate::network::Network;
use crate::tensor::Tensor;

/// The network's answer for one sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// BNN: class scores. SNN: spike counts (decoder `count`) or first-spike steps.
    pub values: Vec<i64>,
    pub prediction: usize,
}

/// One traced tensor: a layer's output (SNN: stacked over time, `[T, ...]`).
#[derive(Clone, Debug)]
pub struct TraceEntry {
    pub name: String,
    pub dims: Vec<usize>,
    pub data: Vec<i64>,
}

#[derive(Clone, Debug)]
pub struct Run {
    pub outcome: Outcome,
    /// Per layer.
    pub stats: Vec<Stats>,
    /// Spikes the encoder produced (SNN).
    pub input_spikes: u64,
    pub dropped_events: u64,
    /// Encoder output (SNN) and each layer's output, if asked for.
    pub trace: Option<Vec<TraceEntry>>,
}

impl Network {
    /// Runs one sample. The sample must have been checked by [`crate::input::load`]
    /// (or built to the network's input shape and range).
    pub fn run(&self, sample: &Sample, trace: bool) -> Run {
        let mut stats = vec![Stats::default(); self.layers.len()];
        match &self.temporal {
            None => {
                let Sample::Values(v) = sample else {
                    unreachable!("BNN samples are values")
                };
                let mut x = Tensor::from_ints(&self.input.ty, v);
                let mut tr = trace.then(Vec::new);
                for (l, st) in self.layers.iter().zip(stats.iter_mut()) {
                    x = l.op.eval(&x, &mut State::None, st);
                    if let Some(tr) = tr.as_mut() {
                        tr.push(TraceEntry {
                            name: l.name.clone(),
                            dims: l.output.shape.dims(),
                            data: x.to_ints(),
                        });
                    }
                }
                let values = x.to_ints();
                let prediction = argmax(&values);
                Run {
                    outcome: Outcome { values, prediction },
                    stats,
                    input_spikes: 0,
                    dropped_events: 0,
                    trace: tr,
                }
            }
            Some(tm) => {
                let enc = Encoding::new(&tm.encoder, &self.input.ty, tm.steps, sample);
                let mut states: Vec<State> =
                    self.layers.iter().map(|l| l.op.init_state()).collect();
                let mut dec = Decoding::new(tm.decoder, self.output().shape.len(), tm.steps);
                let mut tr: Option<Vec<Vec<i64>>> =
                    trace.then(|| vec![Vec::new(); self.layers.len() + 1]);
                let mut input_spikes = 0;
                for t in 0..tm.steps {
                    let x0 = enc.step(t);
                    if let Tensor::Int(i) = x0 {
                        input_spikes += i.data.iter().map(|&v| v.max(0) as u64).sum::<u64>();
                    }
                    if let Some(tr) = tr.as_mut() {
                        tr[0].extend(x0.to_ints());
                    }
                    let mut x = x0.clone();
                    for (i, l) in self.layers.iter().enumerate() {
                        x = l.op.eval(&x, &mut states[i], &mut stats[i]);
                        if let Some(tr) = tr.as_mut() {
                            tr[i + 1].extend(x.to_ints());
                        }
                    }
                    dec.push(t, x.as_int());
                }
                let (values, prediction) = dec.finish();
                let trace = tr.map(|tr| {
                    let mut names = vec![("input".to_string(), tm.encoded.shape.dims())];
                    names.extend(
                        self.layers
                            .iter()
                            .map(|l| (l.name.clone(), l.output.shape.dims())),
                    );
                    names
                        .into_iter()
                        .zip(tr)
                        .map(|((name, d), data)| {
                            let mut dims = vec![tm.steps];
                            dims.extend(d);
                            TraceEntry { name, dims, data }
                        })
                        .collect()
                });
                Run {
                    outcome: Outcome { values, prediction },
                    stats,
                    input_spikes,
                    dropped_events: enc.dropped_events,
                    trace,
                }
            }
        }
    }
}
