//! The `hdlgen` command line: a thin layer over the library.
//!
//! Exit codes: 0 success; 1 the network description, its weights or the input file are
//! invalid (a diagnostic says where); 2 command-line usage error; 3 an output could not
//! be written.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hdlgen::layers::{Cost, Stats, KINDS};
use hdlgen::{input, Error, Network};
use serde_json::json;

/// Prints to stdout; a closed pipe (`hdlgen ... | head`) ends the program quietly.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

macro_rules! out_nonl {
    ($($t:tt)*) => {{
        use std::io::Write;
        if write!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

#[derive(Parser)]
#[command(
    name = "hdlgen",
    version,
    about = "Binary and spiking neural networks to verified FPGA hardware"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a network description and print a summary of its layers.
    Check {
        net: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the bit-exact reference model on one input or a batch (.npy / .npz).
    Run {
        net: PathBuf,
        /// Input file: .npy with one sample or a batch [N, ...]; .npz with `x` (and labels `y`);
        /// for an events encoder, [N, 4] rows of (x, y, polarity, t_us), one array per sample.
        #[arg(long, short)]
        input: PathBuf,
        /// Print results as JSON.
        #[arg(long)]
        json: bool,
        /// Write every layer's output to DIR as .npy (one file per layer).
        #[arg(long, value_name = "DIR")]
        trace: Option<PathBuf>,
    },
    /// List the layer kinds with a one-line description each.
    Layers,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Check { net, json } => check(&net, json),
        Cmd::Run {
            net,
            input,
            json,
            trace,
        } => run(&net, &input, json, trace.as_deref()),
        Cmd::Layers => {
            for (k, s) in KINDS {
                out!("{k:<14} {s}");
            }
            Ok(())
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = match &e {
                Error::Write { .. } => 3,
                _ => 1,
            };
            let _ = writeln!(std::io::stderr(), "{:?}", miette::Report::new(e));
            ExitCode::from(code)
        }
    }
}

fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn kind_line(net: &Network) -> String {
    match &net.temporal {
        None => "binary neural network".into(),
        Some(t) => format!(
            "spiking neural network, T = {}, encoder {}, decoder {}",
            t.steps,
            t.encoder.name(),
            t.decoder.name()
        ),
    }
}

fn check(path: &Path, as_json: bool) -> Result<(), Error> {
    let net = Network::load(path)?;
    let costs: Vec<Cost> = net.layers.iter().map(|l| l.op.cost()).collect();
    let params: u64 = costs.iter().map(|c| c.params).sum();
    let macs: u64 = costs.iter().map(|c| c.macs).sum();
    let neurons: u64 = costs.iter().map(|c| c.neurons).sum();
    if as_json {
        let layers: Vec<_> = net
            .layers
            .iter()
            .zip(&costs)
            .map(|(l, c)| {
                json!({"name": l.name, "kind": l.op.kind(), "output_shape": l.output.shape.dims(),
                       "values": l.output.val.to_string(), "cost": c})
            })
            .collect();
        let t = net.temporal.as_ref();
        let doc = json!({
            "name": net.name, "spiking": net.is_snn(),
            "input": {"shape": net.input.ty.shape.dims(), "values": net.input.ty.val.to_string()},
            "time_steps": t.map(|t| t.steps), "encoder": t.map(|t| t.encoder.name()),
            "decoder": t.map(|t| t.decoder.name()),
            "layers": layers, "params": params, "macs": macs, "neurons": neurons,
        });
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(());
    }
    let snn = net.is_snn();
    out!("{}: {}", net.name, kind_line(&net));
    out!("input {} {}", net.input.ty.shape, net.input.ty.val);
    let work = if snn { "MACs/step" } else { "MACs" };
    out!(
        "{:>3}  {:<12} {:<14} {:<12} {:<24} {:>10} {:>12} {:>8}",
        "#",
        "layer",
        "kind",
        "output",
        "values",
        "params",
        work,
        "fan-out"
    );
    for (i, (l, c)) in net.layers.iter().zip(&costs).enumerate() {
        let fan = if c.fanout > 0 {
            thousands(c.fanout)
        } else {
            "-".into()
        };
        out!(
            "{:>3}  {:<12} {:<14} {:<12} {:<24} {:>10} {:>12} {:>8}",
            i,
            l.name,
            l.op.kind(),
            l.output.shape.to_string(),
            l.output.val.to_string(),
            thousands(c.params),
            thousands(c.macs),
            fan
        );
    }
    out_nonl!(
        "total: {} parameters, {} {}",
        thousands(params),
        thousands(macs),
        if snn {
            "dense MACs per step"
        } else {
            "MACs per inference"
        }
    );
    if snn {
        out_nonl!(", {} neurons", thousands(neurons));
    }
    out!();
    Ok(())
}

fn run(path: &Path, input_path: &Path, as_json: bool, trace: Option<&Path>) -> Result<(), Error> {
    let net = Network::load(path)?;
    let batch = input::load(&net, input_path)?;
    let runs: Vec<_> = batch
        .samples
        .iter()
        .map(|s| net.run(s, trace.is_some()))
        .collect();
    if let Some(dir) = trace {
        write_trace(dir, &runs, batch.batched)?;
    }
    let correct = batch.labels.as_ref().map(|y| {
        runs.iter()
            .zip(y)
            .filter(|(r, &y)| r.outcome.prediction as i64 == y)
            .count()
    });
    let n = runs.len().max(1) as u64;
    let mut totals = vec![Stats::default(); net.layers.len()];
    for r in &runs {
        for (t, s) in totals.iter_mut().zip(&r.stats) {
            t.add(s);
        }
    }
    let what = match &net.temporal {
        None => "scores",
        Some(t) if t.decoder == hdlgen::encode::Decoder::Count => "spike_counts",
        Some(_) => "first_spike_steps",
    };
    if as_json {
        let results: Vec<_> = runs
            .iter()
            .map(|r| json!({"prediction": r.outcome.prediction, what: r.outcome.values}))
            .collect();
        let layers: Vec<_> = net
            .layers
            .iter()
            .zip(&totals)
            .map(|(l, s)| json!({"name": l.name, "per_sample": {
                "macs": s.macs / n, "synops": s.synops / n, "neuron_updates": s.neuron_updates / n, "spikes": s.spikes / n}}))
            .collect();
        let doc = json!({"network": net.name, "samples": runs.len(), "results": results,
            "accuracy": correct.map(|c| c as f64 / runs.len() as f64), "layers": layers});
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(());
    }
    let show = runs.len().min(20);
    for (i, r) in runs.iter().take(show).enumerate() {
        let label = batch
            .labels
            .as_ref()
            .map(|y| format!("  label {}", y[i]))
            .unwrap_or_default();
        out!(
            "sample {i}: prediction {}{label}  {what} {:?}",
            r.outcome.prediction,
            r.outcome.values
        );
    }
    if runs.len() > show {
        out!(
            "... {} more samples (use --json for all)",
            runs.len() - show
        );
    }
    if let Some(c) = correct {
        out!(
            "accuracy: {c}/{} = {:.2}%",
            runs.len(),
            100.0 * c as f64 / runs.len() as f64
        );
    }
    out!("per sample, by layer:");
    for (l, s) in net.layers.iter().zip(&totals) {
        let mut parts = vec![];
        if s.macs > 0 {
            parts.push(format!("{} MACs", thousands(s.macs / n)));
        }
        if s.synops > 0 {
            parts.push(format!("{} synaptic ops", thousands(s.synops / n)));
        }
        if s.neuron_updates > 0 {
            parts.push(format!(
                "{} neuron updates, {} spikes",
                thousands(s.neuron_updates / n),
                thousands(s.spikes / n)
            ));
        }
        if !parts.is_empty() {
            out!("  {:<12} {}", l.name, parts.join(", "));
        }
    }
    let dropped: u64 = runs.iter().map(|r| r.dropped_events).sum();
    if dropped > 0 {
        out!("note: {dropped} events fell after the last time step and were ignored");
    }
    if let Some(d) = trace {
        out!("trace written to {}", d.display());
    }
    Ok(())
}

fn write_trace(dir: &Path, runs: &[hdlgen::model::Run], batched: bool) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let Some(first) = runs.first().and_then(|r| r.trace.as_ref()) else {
        return Ok(());
    };
    for (k, entry) in first.iter().enumerate() {
        let mut dims = entry.dims.clone();
        let mut data = Vec::with_capacity(entry.data.len() * runs.len());
        for r in runs {
            if let Some(t) = &r.trace {
                data.extend_from_slice(&t[k].data);
            }
        }
        if batched {
            dims.insert(0, runs.len());
        }
        input::write_npy(
            &dir.join(format!("{k:02}_{}.npy", entry.name)),
            &dims,
            &data,
        )?;
    }
    Ok(())
}
