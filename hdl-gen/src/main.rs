//! The `hdlgen` command line: a thin layer over the library.
//!
//! Exit codes: 0 success; 1 the network description, its weights or the input file are
//! invalid (a diagnostic says where); 2 command-line usage error; 3 an output could not
//! be written; 4 an external tool (Verilator, yosys, nextpnr) is missing or failed;
//! 5 the hardware disagrees with the reference model; 6 place and route missed the requested
//! clock (`build` without `--allow-timing-fail`).

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
        #[command(flatten)]
        hw: HwArgs,
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
    /// Generate synthesizable Verilog for a BNN (the default: `hdlgen NET.yaml`).
    Gen {
        net: PathBuf,
        /// Output directory.
        #[arg(long, short, default_value = "hdl")]
        output: PathBuf,
        #[command(flatten)]
        hw: HwArgs,
    },
    /// Co-simulate the generated Verilog in Verilator against the reference model.
    Sim {
        net: PathBuf,
        /// Input file (as for `run`): one sample or a batch.
        #[arg(long, short)]
        input: PathBuf,
        /// Write a waveform of the run (.vcd or .fst).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Withhold input and output handshakes on this percentage of cycles (random).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=90))]
        stall: u32,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        hw: HwArgs,
    },
    /// Build a bitstream for a board: generate, synthesise (yosys), place and route
    /// (nextpnr), pack; writes report.json and summary.txt next to the bitstream.
    Build {
        net: PathBuf,
        /// A board from `hdlgen boards` (default iCEBreaker), unless --device is given.
        #[arg(long)]
        board: Option<String>,
        /// Output directory.
        #[arg(long, short, default_value = "build")]
        output: PathBuf,
        /// Design clock in MHz (default: the board's; a PLL multiplies the oscillator).
        #[arg(long, value_name = "MHZ")]
        freq: Option<f64>,
        /// Ignore pe/simd in the YAML and pick the fastest folding that fits the device.
        #[arg(long)]
        fit: bool,
        /// Logic-cell budget of the folding search (default: 80% of the device, 75% of a UP5K, 70% of an HX8K, 60% of an ECP5-85F).
        #[arg(long)]
        luts: Option<u64>,
        /// Write the bitstream even when the clock target is missed.
        #[arg(long)]
        allow_timing_fail: bool,
        /// nextpnr placer seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Try up to N placer seeds (--seed or nextpnr's default, then the next numbers),
        /// stopping at the first that meets the clock; with none, keep the fastest.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
        seeds: u32,
        /// Let nextpnr's router run to the end even when it is not converging (by default
        /// a placement whose routing would take more than four times as long again, judged
        /// after 15 minutes of routing, is stopped; with --seeds the next seed is tried).
        #[arg(long)]
        keep_routing: bool,
        /// UART baud rate of the board shell.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Always synthesise and place and route (by default, when only block-RAM weights
        /// changed since the last build in the output directory, they are patched into
        /// its bitstream).
        #[arg(long)]
        rebuild: bool,
        /// Engine: `auto` (a chain of streaming engines, one per layer, when a folding of
        /// it fits the device, else the layer-sequential engine), `dataflow` or `seq` (one
        /// XNOR array reused layer after layer, for small parts).
        #[arg(long, default_value = "auto")]
        engine: hdlgen::build::EngineChoice,
        /// Custom board: the FPGA (up5k, hx8k, 25k, 85k, ...; see `hdlgen boards`).
        #[arg(long, requires = "clock_mhz")]
        device: Option<String>,
        /// Custom board: the package (default: the device's usual one).
        #[arg(long, requires = "device")]
        package: Option<String>,
        /// Custom board: iCE40 pin constraints pinning clk_in, uart_rx, uart_tx, led[i].
        #[arg(long, requires = "device", conflicts_with = "lpf")]
        pcf: Option<PathBuf>,
        /// Custom board: ECP5 pin constraints pinning clk_in, uart_rx, uart_tx, led[i].
        #[arg(long, requires = "device")]
        lpf: Option<PathBuf>,
        /// Custom board: the oscillator on clk_in, in MHz.
        #[arg(long, value_name = "MHZ", requires = "device")]
        clock_mhz: Option<f64>,
        /// Custom iCE40 board: clk_in is the PLL's dedicated pad (SB_PLL40_PAD).
        #[arg(long, requires = "device")]
        pll_pad: bool,
    },
    /// List the boards `build --board` knows.
    Boards,
    /// List the layer kinds with a one-line description each.
    Layers,
}

/// Hardware options shared by `gen` and `sim`: the folding and tree pipelining `build`
/// would use for the board, so what is simulated is what is built.
#[derive(clap::Args)]
struct HwArgs {
    /// Board whose logic bounds the automatic folding (as `hdlgen build --board` plans it:
    /// 80 % of the device's logic cells, 75 % of a UP5K's, 70 % of an HX8K's, 60 % of an ECP5-85F's, less the board shell's).
    #[arg(long, default_value = "icebreaker", value_parser = board_names())]
    board: String,
    /// Logic-cell budget for the automatic folding instead of the board's.
    #[arg(long)]
    luts: Option<u64>,
    /// Register every N adder-tree levels (default: the board family's, 2 on iCE40 for
    /// 48 MHz, 1 on ECP5 for 150 MHz).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=8))]
    reg_every: Option<u64>,
    /// Engine: `dataflow` (a chain of streaming engines, one per layer), `seq` (one XNOR
    /// array reused layer after layer, for small parts) or `auto` (the chain unless only
    /// the layer-sequential engine fits the board, as `build` picks).
    #[arg(long, default_value = "auto")]
    engine: hdlgen::build::EngineChoice,
}

fn board_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(hdlgen::flow::BOARDS.iter().map(|b| b.name))
}

impl HwArgs {
    fn board(&self) -> &'static hdlgen::flow::Board {
        hdlgen::flow::Board::by_name(&self.board).expect("clap checked the name")
    }

    fn options(&self, taps: bool) -> hdlgen::rtl::gen::GenOptions {
        let mut o = hdlgen::build::board_gen_options(self.board().device(), self.luts);
        o.taps = taps;
        o.hex = !taps;
        if let Some(r) = self.reg_every {
            o.reg_every = r as usize;
        }
        o
    }
}

fn main() -> ExitCode {
    // `hdlgen NET.yaml ...` means `hdlgen gen NET.yaml ...`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| a.ends_with(".yaml") || a.ends_with(".yml"))
    {
        args.insert(1, "gen".into());
    }
    let cli = Cli::parse_from(args);
    let r = match cli.cmd {
        Cmd::Check { net, json, hw } => check(&net, json, &hw),
        Cmd::Run {
            net,
            input,
            json,
            trace,
        } => run(&net, &input, json, trace.as_deref()),
        Cmd::Gen { net, output, hw } => gen(&net, &output, &hw),
        Cmd::Sim {
            net,
            input,
            trace,
            stall,
            json,
            hw,
        } => sim(&net, &input, trace, stall, json, &hw),
        Cmd::Build {
            net,
            board,
            output,
            freq,
            fit,
            luts,
            allow_timing_fail,
            seed,
            seeds,
            keep_routing,
            baud,
            rebuild,
            engine,
            device,
            package,
            pcf,
            lpf,
            clock_mhz,
            pll_pad,
        } => (|| {
            let target = match device {
                Some(d) => {
                    if board.is_some() {
                        return Err(usage("--board and --device exclude each other"));
                    }
                    let device: hdlgen::flow::Device = d.parse()?;
                    let Some(c) = pcf.or(lpf) else {
                        return Err(usage("a custom board needs --pcf (iCE40) or --lpf (ECP5)"));
                    };
                    hdlgen::build::Target::custom(
                        device,
                        package,
                        c,
                        clock_mhz.unwrap_or_default(),
                        pll_pad,
                    )?
                }
                None => {
                    let name = board.as_deref().unwrap_or("icebreaker");
                    let b = hdlgen::flow::Board::by_name(name)
                        .ok_or_else(|| hdlgen::flow::Board::unknown(name))?;
                    hdlgen::build::Target::board(b)
                }
            };
            build(
                &net,
                hdlgen::build::BuildOptions {
                    target,
                    out_dir: output,
                    freq_mhz: freq,
                    fit,
                    luts,
                    allow_timing_fail,
                    seed,
                    seeds,
                    baud,
                    rebuild,
                    engine,
                    keep_routing,
                },
            )
        })(),
        Cmd::Boards => {
            boards();
            Ok(())
        }
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
                Error::Flow(hdlgen::flow::FlowError::Options(_)) => 2,
                Error::Tool { .. } | Error::Flow(_) => 4,
                Error::Mismatch(_) => 5,
                Error::Timing { .. } => 6,
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

fn check(path: &Path, as_json: bool, hw: &HwArgs) -> Result<(), Error> {
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
        let hw = if net.is_snn() {
            None
        } else {
            let (g, note) = estimate_for_check(&net, hw)?;
            Some(
                json!({"board": hw.board, "luts": hw.luts, "estimate": g.estimate,
                        "fits": note.is_none(), "note": note}),
            )
        };
        let doc = json!({
            "name": net.name, "spiking": net.is_snn(), "hardware_estimate": hw,
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
    if !snn {
        // The hardware this would become on the board (default iCEBreaker).
        let (g, note) = estimate_for_check(&net, hw)?;
        match hw.luts {
            Some(n) => {
                out!("hardware estimate (budget {n} logic cells; `--board/--luts` to change):")
            }
            None => out!(
                "hardware estimate ({} budget; `--board/--luts` to change):",
                hw.board
            ),
        }
        if let Some(n) = note {
            out!("note: {n}; showing the smallest folding");
        }
        print_estimate(&g.estimate);
    }
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

/// The hardware at the board's (or `--luts`) budget, as `gen` and `build` plan it, or
/// (with a note) at the smallest folding when nothing fits.
fn estimate_for_check(
    net: &Network,
    hw: &HwArgs,
) -> Result<(hdlgen::rtl::gen::Generated, Option<String>), Error> {
    use hdlgen::rtl::gen::{generate, GenOptions};
    let opts = GenOptions {
        hex: false,
        ..hw.options(false)
    };
    let device = hw.board().device();
    match hdlgen::build::gen_for_board(net, &opts, device, hw.engine, hw.luts.is_some()) {
        Ok(g) => Ok((g, None)),
        Err(e) if hw.engine == hdlgen::build::EngineChoice::Seq => Err(e),
        Err(Error::Input { message, .. }) => {
            let ones = hdlgen::rtl::lower::compute_layers(net)
                .iter()
                .map(|(_, k)| hdlgen::rtl::lower::Fold {
                    pe: k.pe.map_or(1, |p| p.value),
                    simd: k.simd.map_or(1, |s| s.value),
                })
                .collect();
            let g = generate(
                net,
                &GenOptions {
                    folds: Some(ones),
                    ..opts
                },
            )?;
            Ok((g, Some(message)))
        }
        Err(e) => Err(e),
    }
}

fn generate(
    path: &Path,
    hw: &HwArgs,
    taps: bool,
) -> Result<(Network, hdlgen::rtl::gen::Generated), Error> {
    let net = Network::load(path)?;
    let board = hw.board();
    hdlgen::build::spram_available(&net, board.device(), board.name)?;
    let g = hdlgen::build::gen_for_board(
        &net,
        &hw.options(taps),
        board.device(),
        hw.engine,
        hw.luts.is_some(),
    )?;
    Ok((net, g))
}

fn print_estimate(est: &hdlgen::rtl::estimate::Estimate) {
    out!(
        "{:<22} {:<7} {:>4} {:>5} {:>10} {:>7} {:>7} {:>7} {:>5}",
        "engine",
        "kind",
        "pe",
        "simd",
        "cycles",
        "LUT4",
        "FF",
        "LC",
        "EBR"
    );
    let opt = |v: Option<usize>| v.map_or("-".into(), |v| v.to_string());
    for e in &est.engines {
        out!(
            "{:<22} {:<7} {:>4} {:>5} {:>10} {:>7} {:>7} {:>7} {:>5}",
            e.name,
            e.kind,
            opt(e.pe),
            opt(e.simd),
            thousands(e.cycles),
            thousands(e.lut4),
            thousands(e.ff),
            thousands(e.lc),
            e.bram
        );
    }
    out!(
        "interval {} cycles/image (pipeline efficiency {:.1}%); iCE40 estimate: {} LUT4, {} FF, {} logic cells, {} EBR{}",
        thousands(est.interval),
        100.0 * est.efficiency,
        thousands(est.lut4),
        thousands(est.ff),
        thousands(est.lc),
        est.bram,
        if est.spram > 0 {
            format!(", {} SPRAM", est.spram)
        } else {
            String::new()
        }
    );
}

fn gen(path: &Path, dir: &Path, hw: &HwArgs) -> Result<(), Error> {
    let (net, g) = generate(path, hw, false)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    for (name, text) in &g.files {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::Write { path: p, source: e })?;
    }
    out!(
        "{}: wrote {} files to {} (top module `{}`)",
        net.name,
        g.files.len(),
        dir.display(),
        g.top_name
    );
    print_estimate(&g.estimate);
    Ok(())
}

fn usage(message: &str) -> Error {
    Error::Flow(hdlgen::flow::FlowError::Options(message.into()))
}

fn boards() {
    out!(
        "{:<11} {:<30} {:<10} {:<9} {:>5} {:>6} {:<8} {:<6} {:<20} {}",
        "board",
        "",
        "device",
        "package",
        "clock",
        "target",
        "uart rx",
        "tx",
        "leds",
        "constraints"
    );
    for b in hdlgen::flow::BOARDS {
        out!(
            "{:<11} {:<30} {:<10} {:<9} {:>5} {:>6} {:<8} {:<6} {:<20} constraints/{}",
            b.name,
            b.title,
            b.device().part,
            b.package,
            format!("{}M", b.clock_mhz),
            format!("{}M", b.default_mhz),
            b.uart_rx,
            b.uart_tx,
            format!(
                "{}{}",
                b.leds.join(","),
                if b.led_active_low { " (low)" } else { "" }
            ),
            b.constraints
        );
    }
    out!(
        "custom boards: --device D [--package P] --pcf F|--lpf F --clock-mhz M; the constraints pin clk_in, uart_rx, uart_tx and led[i]"
    );
}

fn build(path: &Path, opts: hdlgen::build::BuildOptions) -> Result<(), Error> {
    use hdlgen::build::Progress;
    let net = Network::load(path)?;
    let mut n = 0;
    let report = hdlgen::build::build(&net, &opts, &mut |p| match p {
        Progress::Start { step, detail } => {
            n += 1;
            let _ = writeln!(std::io::stderr(), "[{n}/4] {step}: {detail}");
        }
        Progress::Done { step, seconds } => {
            let _ = writeln!(std::io::stderr(), "      {step} done in {seconds:.1} s");
        }
        Progress::Note { detail } => {
            let _ = writeln!(std::io::stderr(), "      {detail}");
        }
    });
    match report {
        Ok(r) => {
            out_nonl!("{}", hdlgen::build::summary(&r));
            out!("wrote {}", opts.out_dir.display());
            Ok(())
        }
        Err(e @ Error::Timing { .. }) => {
            // A missed clock still wrote the report: show the summary before the error.
            if let Ok(s) = std::fs::read_to_string(opts.out_dir.join("summary.txt")) {
                out_nonl!("{s}");
            }
            Err(e)
        }
        Err(e) => Err(e),
    }
}

fn sim(
    path: &Path,
    input_path: &Path,
    trace: Option<PathBuf>,
    stall: u32,
    as_json: bool,
    hw: &HwArgs,
) -> Result<(), Error> {
    let (net, g) = generate(path, hw, true)?;
    let batch = input::load(&net, input_path)?;
    // A check inside the design that stopped the simulation is the hardware misbehaving
    // (exit 5, as a mismatch); anything else is the simulator's failure.
    let tool = |e: hdlgen::cosim::CosimError| match e {
        hdlgen::cosim::CosimError::Assertion { .. } => Error::Mismatch(e.to_string()),
        _ => Error::Tool {
            message: e.to_string(),
            help: None,
        },
    };
    let t0 = std::time::Instant::now();
    let mut s = hdlgen::cosim::NetSim::build(
        &g,
        &hdlgen::cosim::SimOptions {
            trace: trace.clone(),
        },
    )
    .map_err(tool)?;
    let built = t0.elapsed().as_secs_f64();
    s.load(&g.images);
    let t1 = std::time::Instant::now();
    let rep = s
        .run(
            &net,
            &batch.samples,
            hdlgen::cosim::Drive {
                stall_pct: stall,
                seed: 1,
            },
        )
        .map_err(tool)?;
    let secs = t1.elapsed().as_secs_f64();
    if as_json {
        let doc = json!({"network": net.name, "report": rep, "estimate": g.estimate,
            "build_seconds": built, "sim_seconds": secs,
            "cycles_per_second": rep.cycles as f64 / secs.max(1e-9)});
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        out!(
            "{}: built in {:.1} s{}; simulated {} cycles in {:.2} s ({:.2} M cycles/s)",
            net.name,
            built,
            if s.cached() { " (cached)" } else { "" },
            thousands(rep.cycles),
            secs,
            rep.cycles as f64 / secs.max(1e-9) / 1e6
        );
        if let Some(iv) = rep.interval {
            out!(
                "measured interval {:.1} cycles/image, estimated {} ({:+.2}%)",
                iv,
                g.estimate.interval,
                100.0 * (g.estimate.interval as f64 - iv) / iv
            );
        }
        out!(
            "agreement: {}/{} images bit-exact on every stream",
            rep.agree,
            rep.images
        );
        if let Some(t) = &trace {
            out!("waveform written to {}", t.display());
        }
    }
    match &rep.first_mismatch {
        Some(m) => Err(Error::Mismatch(m.to_string())),
        None => Ok(()),
    }
}
