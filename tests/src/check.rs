//! Comparing hdlgen's reference model with the naive model, and deterministic random
//! inputs for both.

use hdlgen::encode::Encoder;
use hdlgen::input::{Event, Sample};
use hdlgen::tensor::ValType;
use hdlgen::Network;

use crate::naive;

/// A small deterministic generator (SplitMix64), independent of hdlgen's.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0);
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in [lo, hi] (inclusive).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi);
        let span = (hi as i128 - lo as i128 + 1) as u128;
        if span > u64::MAX as u128 {
            return self.next_u64() as i64;
        }
        (lo as i128 + self.below(span as u64) as i128) as i64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// A random input value in [lo, hi], biased towards the ends of the range now and then
/// (extremes are where arithmetic goes wrong).
fn value(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    match rng.below(10) {
        0 => lo,
        1 => hi,
        _ => rng.range(lo, hi),
    }
}

/// Events with about `density` of the (t, y, x, polarity) cells holding at least one
/// event (often several, to exercise `clip`), plus a few after the last step.
pub fn random_events(net: &Network, rng: &mut Rng, density: f64) -> Vec<Event> {
    let t = net.temporal.as_ref().expect("SNN");
    let Encoder::Events { bin_us, .. } = t.encoder else {
        panic!("not an events network")
    };
    let s = net.input.ty.shape;
    let mut ev = Vec::new();
    for step in 0..t.steps as i64 {
        for y in 0..s.h as i64 {
            for x in 0..s.w as i64 {
                for p in 0..2 {
                    if rng.chance(density) {
                        let n = if rng.chance(0.3) { 1 + rng.below(4) } else { 1 };
                        for _ in 0..n {
                            let t_us = step * bin_us + rng.range(0, bin_us - 1);
                            ev.push(Event { x, y, p, t_us });
                        }
                    }
                }
            }
        }
    }
    // A few late events (dropped and counted).
    let late = rng.below(4);
    for _ in 0..late {
        ev.push(Event {
            x: rng.range(0, s.w as i64 - 1),
            y: rng.range(0, s.h as i64 - 1),
            p: rng.range(0, 1),
            t_us: t.steps as i64 * bin_us + rng.range(0, 3 * bin_us),
        });
    }
    // Shuffle: the encoder must not depend on event order.
    for i in (1..ev.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ev.swap(i, j);
    }
    ev
}

/// A random sample for `net` (values within the declared input range; events for the
/// events encoder; T frames for sequence encoders).
pub fn random_sample(net: &Network, rng: &mut Rng) -> Sample {
    let n = net.input.ty.shape.len();
    let frames = match &net.temporal {
        Some(t) if matches!(t.encoder, Encoder::Events { .. }) => {
            return Sample::Events(random_events(net, rng, 0.1));
        }
        Some(t)
            if matches!(
                t.encoder,
                Encoder::Direct { sequence: true } | Encoder::Delta { .. }
            ) =>
        {
            t.steps
        }
        _ => 1,
    };
    let (lo, hi) = match net.input.ty.val {
        ValType::Bits => (-1, 1),
        ValType::Int { lo, hi } => (lo, hi),
    };
    let v = match (&net.temporal, net.input.ty.val) {
        (_, ValType::Bits) => (0..n * frames)
            .map(|_| if rng.chance(0.5) { 1 } else { -1 })
            .collect(),
        (Some(t), _) if matches!(t.encoder, Encoder::Delta { .. }) => {
            // A random walk, so that frame-to-frame increases of all sizes occur.
            let mut v = vec![0i64; n * frames];
            for i in 0..n {
                let mut cur = value(rng, lo, hi);
                for f in 0..frames {
                    if rng.chance(0.5) {
                        let step = ((hi - lo) / 4).max(1);
                        cur = (cur + rng.range(-step, step)).clamp(lo, hi);
                    }
                    v[f * n + i] = cur;
                }
            }
            v
        }
        _ => (0..n * frames).map(|_| value(rng, lo, hi)).collect(),
    };
    Sample::Values(v)
}

fn unravel(dims: &[usize], mut i: usize) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for k in (0..dims.len()).rev() {
        if dims[k] > 0 {
            idx[k] = i % dims[k];
            i /= dims[k];
        }
    }
    idx
}

/// Runs both models; `Err` describes the first difference (layer, time step, index).
pub fn compare(net: &Network, sample: &Sample) -> Result<(), String> {
    let want = naive::run(net, sample);
    let got = net.run(sample, true);
    let trace = got.trace.as_ref().ok_or("hdlgen returned no trace")?;
    let snn = net.is_snn();
    if trace.len() != want.trace.len() {
        return Err(format!(
            "trace has {} entries ({:?}), naive has {} ({:?})",
            trace.len(),
            trace.iter().map(|e| &e.name).collect::<Vec<_>>(),
            want.trace.len(),
            want.trace.iter().map(|e| &e.name).collect::<Vec<_>>()
        ));
    }
    for (g, w) in trace.iter().zip(&want.trace) {
        if g.name != w.name {
            return Err(format!(
                "trace entry `{}` where naive has `{}`",
                g.name, w.name
            ));
        }
        if g.dims != w.dims {
            return Err(format!(
                "layer `{}`: dims {:?}, naive {:?}",
                g.name, g.dims, w.dims
            ));
        }
        if g.data.len() != w.data.len() {
            return Err(format!(
                "layer `{}`: {} values, naive {}",
                g.name,
                g.data.len(),
                w.data.len()
            ));
        }
        if let Some(i) = (0..g.data.len()).find(|&i| g.data[i] != w.data[i]) {
            let (step, per, inner) = if snn {
                let per = w.dims[1..].iter().product::<usize>().max(1);
                (Some(i / per), i % per, &w.dims[1..])
            } else {
                (None, i, &w.dims[..])
            };
            let ndiff = g.data.iter().zip(&w.data).filter(|(a, b)| a != b).count();
            return Err(format!(
                "first mismatch in layer `{}`{}: flat index {} (position {:?} of {:?}): \
                 naive (expected) {}, hdlgen {}  [{} of {} values differ]",
                g.name,
                step.map_or(String::new(), |s| format!(" at time step {s}")),
                per,
                unravel(inner, per),
                inner,
                w.data[i],
                g.data[i],
                ndiff,
                g.data.len()
            ));
        }
    }
    check_ranges(net, &want)?;
    if got.outcome.values != want.values {
        return Err(format!(
            "outcome values: hdlgen {:?}, naive {:?}",
            got.outcome.values, want.values
        ));
    }
    if got.outcome.prediction != want.prediction {
        return Err(format!(
            "prediction: hdlgen {}, naive {} (values {:?})",
            got.outcome.prediction, want.prediction, want.values
        ));
    }
    for (k, (g, w)) in got.stats.iter().zip(&want.counters).enumerate() {
        let g = naive::Counters {
            macs: g.macs,
            synops: g.synops,
            neuron_updates: g.neuron_updates,
            spikes: g.spikes,
        };
        if g != *w {
            return Err(format!(
                "cost counters of layer `{}`: hdlgen {g:?}, naive {w:?}",
                net.layers[k].name
            ));
        }
    }
    if net.is_snn() && got.input_spikes != want.input_spikes {
        return Err(format!(
            "input spikes: hdlgen {}, naive {}",
            got.input_spikes, want.input_spikes
        ));
    }
    if got.dropped_events != want.dropped_events {
        return Err(format!(
            "dropped events: hdlgen {}, naive {}",
            got.dropped_events, want.dropped_events
        ));
    }
    Ok(())
}

/// Every traced value must lie in the range hdlgen derived for that layer (the range
/// sizes the hardware, so a value outside it would overflow there).
pub fn check_ranges(net: &Network, run: &naive::NaiveRun) -> Result<(), String> {
    let mut types = Vec::new();
    if let Some(t) = &net.temporal {
        types.push(("input".to_string(), t.encoded.val));
    }
    types.extend(net.layers.iter().map(|l| (l.name.clone(), l.output.val)));
    for ((name, val), tr) in types.iter().zip(&run.trace) {
        assert_eq!(name, &tr.name);
        let (lo, hi) = match *val {
            ValType::Bits => (-1, 1),
            ValType::Int { lo, hi } => (lo, hi),
        };
        if let Some(i) = tr
            .data
            .iter()
            .position(|&v| v < lo || v > hi || (*val == ValType::Bits && v == 0))
        {
            return Err(format!(
                "layer `{name}`: value {} at flat index {i} of {:?} is outside its declared range {val}",
                tr.data[i], tr.dims
            ));
        }
    }
    Ok(())
}

/// A short description of a sample, for failure messages.
pub fn describe(sample: &Sample) -> String {
    match sample {
        Sample::Values(v) if v.len() <= 64 => format!("values {v:?}"),
        Sample::Values(v) => format!("{} values, first {:?}…", v.len(), &v[..16]),
        Sample::Events(e) if e.len() <= 16 => format!("events {e:?}"),
        Sample::Events(e) => format!("{} events, first {:?}…", e.len(), &e[..4]),
    }
}
