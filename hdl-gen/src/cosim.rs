//! Co-simulation of a generated BNN against the reference model, in Verilator.
//!
//! The design is built with taps on every inter-engine stream and without initial memory
//! contents, so one cached Verilator build serves every weight set of a structure:
//! parameters are written over the configuration bus ([`NetSim::load`]). [`NetSim::run`]
//! streams samples in, records every beat on every tap with its cycle, and compares each
//! tap with the reference model's trace of the layer it carries: the first mismatch is
//! reported by layer, image and element (y, x, c), expected against got.

use std::path::{Path, PathBuf};

use hdlgen_sim::{build, BuildOptions, Design as SimDesign, Instance, Model, PortHandle, Trace};

use crate::arith::SplitMix64;
use crate::input::Sample;
use crate::network::Network;
use crate::rtl::gen::Generated;
use crate::rtl::lower::{Design, Kind};
use crate::rtl::params::{cfg_writes, UnitImage};

/// Cycles after the last configuration write before the memories hold it (the bus is
/// registered in the top and at each engine, and a flip-flop weight memory's write takes
/// three more: at most five registers deep).
const CFG_SETTLE: u64 = 6;

#[derive(Debug, thiserror::Error)]
pub enum CosimError {
    #[error(transparent)]
    Sim(#[from] hdlgen_sim::SimError),
    #[error("the design must be generated with taps and without hex initialisation")]
    NotForSim,
    #[error(
        "no progress for {cycles} cycles (after {done} of {want} output beats); streams: {streams}"
    )]
    Stuck {
        cycles: u64,
        done: usize,
        want: usize,
        streams: String,
    },
    /// A check inside a primitive (`$fatal` in simulation) failed: the design reached a
    /// state its hardware would not handle (e.g. a block RAM word read and written at once).
    #[error("the design stopped at cycle {cycle}: {message}")]
    Assertion { cycle: u64, message: String },
}

/// How to drive the streams.
#[derive(Clone, Copy, Debug, Default)]
pub struct Drive {
    /// Percent of cycles the input is withheld and the output refuses (random).
    pub stall_pct: u32,
    pub seed: u64,
}

/// One tap's beats: the data words and the cycle each beat moved.
#[derive(Clone, Debug, Default)]
struct Beats {
    data: Vec<Vec<u32>>,
    cycles: Vec<u64>,
}

/// The first element where the hardware differs from the reference.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    /// Layer whose output the stream carries (fused layers: the last one).
    pub layer: String,
    pub engine: String,
    pub image: usize,
    /// Element index in the layer's output (HWC order), and its position.
    pub index: usize,
    pub y: usize,
    pub x: usize,
    pub c: usize,
    pub expected: i64,
    pub got: i64,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RTL differs from the reference at layer `{}` (engine `{}`): image {}, index {} = (y {}, x {}, c {}): expected {}, got {}",
            self.layer, self.engine, self.image, self.index, self.y, self.x, self.c, self.expected, self.got
        )
    }
}

/// What a run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub images: usize,
    /// Images whose outputs (and every tap) equal the reference.
    pub agree: usize,
    pub first_mismatch: Option<Mismatch>,
    /// Per image: the hardware's prediction (argmax designs) and scores.
    pub predictions: Vec<Option<usize>>,
    pub cycles: u64,
    /// Cycles between the last output beats of consecutive images, averaged after the
    /// first image (steady state); `None` for fewer than 3 images.
    pub interval: Option<f64>,
    /// Cycle of each image's last output beat.
    pub done_at: Vec<u64>,
}

struct Ports {
    clk: PortHandle,
    rst: PortHandle,
    in_valid: PortHandle,
    in_ready: PortHandle,
    in_data: PortHandle,
    out_valid: PortHandle,
    out_ready: PortHandle,
    out_data: PortHandle,
    out_last: Option<PortHandle>,
    out_pred: Option<PortHandle>,
    cfg_we: PortHandle,
    cfg_addr: PortHandle,
    cfg_data: PortHandle,
    taps: Vec<(PortHandle, PortHandle)>,
}

/// A built network in the simulator.
pub struct NetSim {
    design: Design,
    model: Model,
    sim: Instance,
    p: Ports,
    cycle: u64,
}

/// Options for building.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    /// Compile waveform support and write this file (`.vcd` or `.fst`).
    pub trace: Option<PathBuf>,
}

impl NetSim {
    /// Builds (or loads from the cache) the Verilator model of `g`.
    pub fn build(g: &Generated, opts: &SimOptions) -> Result<NetSim, CosimError> {
        if g.files.iter().any(|f| f.0.ends_with(".hex")) {
            return Err(CosimError::NotForSim);
        }
        let mut d = SimDesign::new(g.top_name.clone());
        for (name, text) in g.verilog() {
            d = d.text(name.clone(), text.clone());
        }
        let trace = match &opts.trace {
            None => Trace::Off,
            Some(p) if p.extension().is_some_and(|e| e == "fst") => Trace::Fst,
            Some(_) => Trace::Vcd,
        };
        let model = build(
            &d,
            &BuildOptions {
                trace,
                ..BuildOptions::default()
            },
        )?;
        let mut sim = model.instance()?;
        if let Some(p) = &opts.trace {
            sim.trace_to(p)?;
        }
        let port = |n: &str| model.port(n);
        let argmax = g.design.ends_in_argmax();
        let taps = (0..g.design.engines.len().saturating_sub(1))
            .map(|k| {
                Ok((
                    port(&format!("tap{k}_fire"))?,
                    port(&format!("tap{k}_data"))?,
                ))
            })
            .collect::<Result<Vec<_>, hdlgen_sim::SimError>>()
            .map_err(|_| CosimError::NotForSim)?;
        let p = Ports {
            clk: port("clk")?,
            rst: port("rst")?,
            in_valid: port("in_valid")?,
            in_ready: port("in_ready")?,
            in_data: port("in_data")?,
            out_valid: port("out_valid")?,
            out_ready: port("out_ready")?,
            out_data: port(if argmax { "out_score" } else { "out_data" })?,
            out_last: if argmax {
                Some(port("out_last")?)
            } else {
                None
            },
            out_pred: if argmax {
                Some(port("out_pred")?)
            } else {
                None
            },
            cfg_we: port("cfg_we")?,
            cfg_addr: port("cfg_addr")?,
            cfg_data: port("cfg_data")?,
            taps,
        };
        let mut s = NetSim {
            design: g.design.clone(),
            model,
            sim,
            p,
            cycle: 0,
        };
        s.reset();
        Ok(s)
    }

    /// Whether the model came from the build cache.
    pub fn cached(&self) -> bool {
        self.model.info().cached
    }

    pub fn library(&self) -> &Path {
        &self.model.info().path
    }

    fn reset(&mut self) {
        let p = &self.p;
        self.sim.set(p.in_valid, 0);
        self.sim.set(p.out_ready, 0);
        self.sim.set(p.cfg_we, 0);
        self.sim.set(p.rst, 1);
        self.sim.ticks(p.clk, 4);
        self.sim.set(p.rst, 0);
        self.sim.tick(p.clk);
    }

    /// Resets the design and writes every parameter memory over the configuration bus.
    pub fn load(&mut self, images: &[UnitImage]) {
        self.reset();
        let p = &self.p;
        for (addr, data) in cfg_writes(&self.design, images) {
            self.sim.set(p.cfg_we, 1);
            self.sim.set(p.cfg_addr, addr);
            self.sim.set(p.cfg_data, data as u64);
            self.sim.tick(p.clk);
        }
        self.sim.set(p.cfg_we, 0);
        // The bus is registered once in the top, once more at each engine with
        // `cfg_regs`, then in the memory; the last write has landed after these cycles.
        self.sim.ticks(p.clk, CFG_SETTLE);
    }

    /// Writes one configuration word lane (e.g. to corrupt a weight bit on purpose).
    pub fn write_cfg(&mut self, addr: u64, data: u32) {
        let p = &self.p;
        self.sim.set(p.cfg_we, 1);
        self.sim.set(p.cfg_addr, addr);
        self.sim.set(p.cfg_data, data as u64);
        self.sim.tick(p.clk);
        self.sim.set(p.cfg_we, 0);
        self.sim.ticks(p.clk, CFG_SETTLE);
    }

    /// Streams `samples` through the design and compares every tap and the output with
    /// the reference model.
    pub fn run(
        &mut self,
        net: &Network,
        samples: &[Sample],
        drive: Drive,
    ) -> Result<Report, CosimError> {
        let d = &self.design;
        let p = &self.p;
        let shape = d.input_shape;
        let (b, c) = (d.input_bits as usize, shape.c);
        let words = (b * c).div_ceil(32);
        // Input beats: one pixel each, values in the declared width (two's complement).
        let mut beats: Vec<Vec<u32>> = vec![];
        for s in samples {
            let Sample::Values(v) = s else {
                unreachable!("BNN samples are values")
            };
            for px in v.chunks(c) {
                let mut w = vec![0u32; words];
                for (ch, &x) in px.iter().enumerate() {
                    let raw = if d.input_bits == 1 && net.input.bits == 0 {
                        (x > 0) as u64
                    } else {
                        (x as u64) & ((1u64 << b) - 1)
                    };
                    for bit in 0..b {
                        if raw >> bit & 1 == 1 {
                            let k = ch * b + bit;
                            w[k / 32] |= 1 << (k % 32);
                        }
                    }
                }
                beats.push(w);
            }
        }
        let argmax = d.ends_in_argmax();
        let out_per_image = match d.engines.last().map(|e| &e.kind) {
            Some(Kind::Argmax { cls, .. }) => *cls,
            Some(_) => d.engines.last().expect("engine").out_shape.pixels(),
            None => shape.pixels(),
        };
        let want = out_per_image * samples.len();
        let mut taps = vec![Beats::default(); p.taps.len()];
        let mut out = Beats::default();
        let mut preds: Vec<Option<usize>> = vec![None; samples.len()];
        let mut g = SplitMix64::new(drive.seed);
        let mut next = 0;
        let mut idle = 0u64;
        let start = self.cycle;
        // No beat anywhere for two image intervals (and at least 20,000 cycles) is a hang.
        let limit = (2 * crate::rtl::estimate::estimate(d, false).interval).max(20_000);
        while out.data.len() < want {
            let stall = |g: &mut SplitMix64| {
                drive.stall_pct > 0 && (g.next() % 100) < drive.stall_pct as u64
            };
            let in_valid = next < beats.len() && !stall(&mut g);
            let out_ready = !stall(&mut g);
            self.sim.set(p.in_valid, in_valid as u64);
            if next < beats.len() {
                self.sim.set_wide(p.in_data, &beats[next]);
            }
            self.sim.set(p.out_ready, out_ready as u64);
            self.sim.eval();
            let mut progress = false;
            if in_valid && self.sim.get(p.in_ready) == 1 {
                next += 1;
                progress = true;
            }
            for (k, (fire, data)) in p.taps.iter().enumerate() {
                if self.sim.get(*fire) == 1 {
                    taps[k].data.push(self.sim.get_words(*data));
                    taps[k].cycles.push(self.cycle);
                    progress = true;
                }
            }
            if out_ready && self.sim.get(p.out_valid) == 1 {
                let n = out.data.len();
                out.data.push(self.sim.get_words(p.out_data));
                out.cycles.push(self.cycle);
                if let (Some(last), Some(pred)) = (p.out_last, p.out_pred) {
                    if self.sim.get(last) == 1 {
                        preds[n / out_per_image] = Some(self.sim.get(pred) as usize);
                    }
                }
                progress = true;
            }
            self.sim.tick(p.clk);
            self.cycle += 1;
            if let Some(message) = self.sim.error() {
                return Err(CosimError::Assertion {
                    cycle: self.cycle,
                    message,
                });
            }
            idle = if progress { 0 } else { idle + 1 };
            if idle > limit {
                let streams = format!(
                    "input {}/{} beats accepted, taps fired {:?}, output {}/{want} beats",
                    next,
                    beats.len(),
                    taps.iter().map(|t| t.data.len()).collect::<Vec<_>>(),
                    out.data.len()
                );
                return Err(CosimError::Stuck {
                    cycles: limit,
                    done: out.data.len(),
                    want,
                    streams,
                });
            }
        }
        self.sim.set(p.in_valid, 0);
        self.sim.set(p.out_ready, 0);

        // Compare: taps in chain order, then the output.
        let runs: Vec<_> = samples.iter().map(|s| net.run(s, true)).collect();
        let mut bad = vec![false; samples.len()];
        let mut first: Option<Mismatch> = None;
        let streams = d
            .engines
            .iter()
            .zip(taps.iter().chain(std::iter::once(&out)));
        for (e, beats) in streams {
            let is_out = argmax && std::ptr::eq(beats, &out);
            let per = if is_out {
                out_per_image
            } else {
                e.out_shape.pixels()
            };
            let lanes = e.output.lanes;
            let bits = e.output.bits;
            for (img, run) in runs.iter().enumerate() {
                let exp: &[i64] = if is_out {
                    &run.outcome.values
                } else {
                    &run.trace.as_ref().expect("traced")[e.last].data
                };
                for j in 0..per {
                    let Some(w) = beats.data.get(img * per + j) else {
                        continue;
                    };
                    for l in 0..lanes {
                        let got = lane(w, l, bits);
                        let idx = j * lanes + l;
                        let want = exp[idx];
                        if got != want {
                            bad[img] = true;
                            if first.is_none() {
                                let sh = e.out_shape;
                                let (pix, ch) = if is_out { (0, idx) } else { (j, l) };
                                first = Some(Mismatch {
                                    layer: net.layers[e.last].name.clone(),
                                    engine: e.name.clone(),
                                    image: img,
                                    index: idx,
                                    y: pix / sh.w.max(1),
                                    x: pix % sh.w.max(1),
                                    c: ch,
                                    expected: want,
                                    got,
                                });
                            }
                        }
                    }
                }
            }
            if first.is_some() {
                break;
            }
        }
        if argmax && first.is_none() {
            for (img, run) in runs.iter().enumerate() {
                if preds[img] != Some(run.outcome.prediction) {
                    bad[img] = true;
                    if first.is_none() {
                        let e = d.engines.last().expect("engine");
                        first = Some(Mismatch {
                            layer: format!("{} (prediction)", net.layers[e.last].name),
                            engine: e.name.clone(),
                            image: img,
                            index: 0,
                            y: 0,
                            x: 0,
                            c: 0,
                            expected: run.outcome.prediction as i64,
                            got: preds[img].map_or(-1, |v| v as i64),
                        });
                    }
                }
            }
        }
        let done_at: Vec<u64> = (0..samples.len())
            .map(|i| out.cycles[(i + 1) * out_per_image - 1] - start)
            .collect();
        let interval = (done_at.len() >= 3)
            .then(|| (done_at[done_at.len() - 1] - done_at[1]) as f64 / (done_at.len() - 2) as f64);
        Ok(Report {
            images: samples.len(),
            agree: bad.iter().filter(|b| !**b).count(),
            first_mismatch: first,
            predictions: preds,
            cycles: self.cycle - start,
            interval,
            done_at,
        })
    }
}

/// Lane `l` of `bits` bits from a beat: ±1 for bit lanes, else signed.
fn lane(words: &[u32], l: usize, bits: u32) -> i64 {
    let bits = bits as usize;
    let mut v: u64 = 0;
    // Values are range-checked to fit 63 bits; wider lanes are their sign extension.
    for b in 0..bits.min(64) {
        let k = l * bits + b;
        if words[k / 32] >> (k % 32) & 1 == 1 {
            v |= 1 << b;
        }
    }
    if bits == 1 {
        if v == 1 {
            1
        } else {
            -1
        }
    } else if bits >= 64 {
        v as i64
    } else {
        // Sign-extend.
        ((v << (64 - bits)) as i64) >> (64 - bits)
    }
}
