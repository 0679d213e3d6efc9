//! `hdlgen build`: network → folding that fits the device → Verilog + board shell → yosys →
//! nextpnr → bitstream, with `report.json` and a readable summary. Every figure in the
//! report comes from the tools' JSON reports (`stat -json`, nextpnr `--report`) or from the
//! generator's exact cycle model; nothing is scraped from logs.
//!
//! The build directory holds everything: the generated sources and hex images, the tool
//! scripts and logs (`synth.log`, `pnr.log`), the tool reports, the bitstream, `report.json`
//! and `summary.txt`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, SpecError, SpecErrorExt};
use crate::flow::{
    self, board::constrained_pins, Board, CriticalPath, Device, Family, FlowError, PnrOptions,
    PnrStep, SynthOptions, Usage,
};
use crate::layers::{
    fold::{FoldKeys, Store},
    Op,
};
use crate::network::Network;
use crate::rtl::estimate::{Estimate, Fabric};
use crate::rtl::gen::{generate, GenOptions, Generated, SeqOptions};
use crate::rtl::pll::Pll;
use crate::rtl::shell::{board_top, LinkParams, ShellOptions};

/// The share of a device's logic the folding search may fill: place and route needs slack,
/// and the board shell comes on top of the network.
pub const FILL: f64 = 0.8;

/// The share of an iCE40 HX8K the folding search may fill. nextpnr's HeAP placer
/// legalises a UP5K at 76 % in seconds but failed at 83 %, and the estimate of the
/// HX8K's wider digits folding (576 cycles) was 12 % low: the build landed at 80.5 % and
/// placement did not finish in 8 minutes. At 70 % the search picks the 1,152-cycle
/// folding, which placed at 63 % and reached 103.3 MHz (docs/board-flow.md, "Measured").
pub const FILL_HX8K: f64 = 0.7;

/// The share of an iCE40 UP5K the folding search may fill. With the row pools'
/// savings, 80 % let the search pick the digits BNN's 2,304-cycle folding (estimate
/// 3,501 cells + the shell's 650): nextpnr packed 4,415 cells (83.6 %) and its placer had
/// not legalised after 5 minutes, as at 83 % before; at 75 % it keeps 4,608 cycles.
pub const FILL_UP5K: f64 = 0.75;

/// The share of an ECP5-85F the folding search may fill. At 80 % the MNIST BNN's
/// 784-cycle folding (whole windows in conv1 and conv2) placed at 70 % of the LUT4s and
/// flip-flops but nextpnr's router had not converged after 20 minutes (router1) or 35
/// (router2); at 60 % the search picks 1,176 cycles (conv2 three taps a beat), which
/// routes in about 28 minutes at 38 % (docs/board-flow.md, "Measured"). The digits BNN's
/// fastest folding (21 % of the part) is the same at both.
pub const FILL_85K: f64 = 0.6;

/// The share of `device`'s logic the folding search may fill ([`FILL`] unless measured
/// otherwise).
pub fn fill(device: &Device) -> f64 {
    match device.name {
        "hx8k" => FILL_HX8K,
        "up5k" => FILL_UP5K,
        "85k" => FILL_85K,
        _ => FILL,
    }
}

/// Logic cells and block RAMs of the board shell (UART link, reset, LEDs), reserved before
/// the network's folding is chosen: yosys maps `hdlgen_link` with the digits BNN's
/// parameters to 421 LUT4 and 276 FF (about 590 cells) plus 2 EBR, and the UART receiver
/// and transmitter add about 60 cells.
pub const SHELL_LC: u64 = 650;
pub const SHELL_BRAM: u64 = 2;
/// The shell's block RAM on ECP5: the link's frame buffer is one `DP16KD`.
pub const SHELL_DP16KD: u64 = 1;

/// The network's block RAMs in the device's own blocks (iCE40 EBR, ECP5 DP16KD).
fn est_bram(est: &Estimate, family: Family) -> u64 {
    match family {
        Family::Ice40 => est.bram,
        Family::Ecp5 => est.dp16kd,
    }
}

/// The shell's block RAMs in the device's own blocks.
fn shell_bram(family: Family) -> u64 {
    match family {
        Family::Ice40 => SHELL_BRAM,
        Family::Ecp5 => SHELL_DP16KD,
    }
}

/// Where the design goes: a board from the table or a custom one.
#[derive(Clone, Debug)]
pub struct Target {
    pub board: Option<&'static Board>,
    pub device: Device,
    pub package: String,
    /// The `.pcf` / `.lpf`, as a file to pass to nextpnr.
    pub constraints: Constraints,
    /// The oscillator on `clk_in`.
    pub clock_mhz: f64,
    /// iCE40: the oscillator pin is the PLL's pad.
    pub pll_pad: bool,
    pub leds: usize,
    pub led_active_low: bool,
}

/// A constraint file: one of `constraints/` (embedded) or the user's.
#[derive(Clone, Debug)]
pub enum Constraints {
    Embedded {
        name: &'static str,
        text: &'static str,
    },
    File(PathBuf),
}

impl Target {
    pub fn board(b: &'static Board) -> Target {
        Target {
            board: Some(b),
            device: *b.device(),
            package: b.package.to_string(),
            constraints: Constraints::Embedded {
                name: b.constraints,
                text: b.constraints_text,
            },
            clock_mhz: b.clock_mhz,
            pll_pad: b.pll_pad,
            leds: b.leds.len(),
            led_active_low: b.led_active_low,
        }
    }

    /// A board not in the table. The constraint file must pin `clk_in`, `uart_rx`,
    /// `uart_tx` and `led[0..n]` (n ≥ 0); LEDs are taken as active high.
    pub fn custom(
        device: Device,
        package: Option<String>,
        constraints: PathBuf,
        clock_mhz: f64,
        pll_pad: bool,
    ) -> Result<Target, Error> {
        let text = std::fs::read_to_string(&constraints).map_err(|source| Error::Read {
            path: constraints.clone(),
            source,
        })?;
        let want = match device.family {
            Family::Ice40 => "pcf",
            Family::Ecp5 => "lpf",
        };
        if constraints.extension().and_then(|e| e.to_str()) != Some(want) {
            return Err(Error::input(
                &constraints,
                format!("{} needs a .{want} constraint file", device.part),
            ));
        }
        let pins = constrained_pins(&text);
        for port in ["clk_in", "uart_rx", "uart_tx"] {
            if !pins.iter().any(|(p, _)| p == port) {
                return Err(Error::input(
                    &constraints,
                    format!("does not pin `{port}`, a port of the board top"),
                )
                .with_help(
                    "the board top's ports are clk_in, uart_rx, uart_tx and led[0..n]; see constraints/ for examples",
                ));
            }
        }
        let leds = (0..)
            .take_while(|i| pins.iter().any(|(p, _)| *p == format!("led[{i}]")))
            .count();
        if !(clock_mhz.is_finite() && clock_mhz > 0.0) {
            return Err(Error::input(
                &constraints,
                format!("the board clock must be a positive frequency, not {clock_mhz} MHz"),
            ));
        }
        Ok(Target {
            board: None,
            device,
            package: package.unwrap_or_else(|| device.package.to_string()),
            constraints: Constraints::File(constraints),
            clock_mhz,
            pll_pad,
            leds,
            led_active_low: false,
        })
    }

    pub fn family(&self) -> Family {
        self.device.family
    }

    fn name(&self) -> String {
        self.board
            .map_or_else(|| format!("custom {}", self.device.part), |b| b.name.into())
    }
}

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub target: Target,
    pub out_dir: PathBuf,
    /// The design clock to ask for; `None`: the board's default (or its oscillator).
    pub freq_mhz: Option<f64>,
    /// Ignore `pe`/`simd` in the YAML and pick the fastest folding that fits.
    pub fit: bool,
    /// Logic-cell budget of the folding search (default: the device's [`fill`]).
    pub luts: Option<u64>,
    /// Write the bitstream even when the clock target is missed.
    pub allow_timing_fail: bool,
    /// nextpnr placer seed.
    pub seed: Option<u64>,
    /// Placer seeds to try until one meets the clock (`seed`, then the next numbers);
    /// with none, the fastest placement is kept. 1: one attempt.
    pub seeds: u32,
    pub baud: u32,
    /// Always synthesise and place and route, even when only block-RAM weights changed
    /// since the last build in `out_dir` (which is otherwise patched in the bitstream).
    pub rebuild: bool,
    /// Which engine to generate.
    pub engine: EngineChoice,
    /// Let nextpnr's router run to the end even when it is not converging ([`RouteWatch`]).
    pub keep_routing: bool,
}

/// The hardware `build` (and `gen`, `sim`, `check` for a board) generates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// The dataflow chain when a folding of it fits the device, else the
    /// layer-sequential engine when that fits.
    #[default]
    Auto,
    /// A chain of streaming engines, one per layer (`rtl::lower::lower`).
    Dataflow,
    /// One XNOR array reused layer after layer (`rtl::lower::lower_seq`): for small
    /// parts (MNIST on a UP5K).
    Seq,
}

impl std::str::FromStr for EngineChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(EngineChoice::Auto),
            "dataflow" => Ok(EngineChoice::Dataflow),
            "seq" => Ok(EngineChoice::Seq),
            _ => Err(format!("`{s}`: one of auto, dataflow, seq")),
        }
    }
}

/// What the build did, as written to `report.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BuildReport {
    pub network: String,
    pub source: String,
    pub board: String,
    pub device: String,
    pub package: String,
    pub family: Family,
    pub top: String,
    pub folding: Vec<FoldReport>,
    /// What a host needs to talk to the board (docs/protocol.md).
    pub link: LinkReport,
    pub estimate: EstimateReport,
    pub resources: Resources,
    pub clock: ClockReport,
    /// nextpnr's placer seed of this placement (`None`: its default).
    #[serde(default)]
    pub seed: Option<u64>,
    pub critical_path: Option<CriticalPath>,
    pub cycles_per_inference: u64,
    pub inferences_per_second: f64,
    pub inferences_per_second_at_fmax: f64,
    pub binary_macs_per_inference: u64,
    /// Binary MACs per cycle (steady state) over the LUT4s yosys mapped.
    pub binary_macs_per_cycle_per_lut: f64,
    /// File name of the bitstream in the build directory (absent when timing failed).
    pub bitstream: Option<String>,
    pub tools: Tools,
    pub seconds: Seconds,
    /// Set when this build only swapped block-RAM weights in the previous bitstream.
    pub patched: Option<Patched>,
}

/// A weights-only build: which memories were swapped, and how long it took.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Patched {
    pub memories: Vec<String>,
    pub tool: String,
    pub seconds: f64,
}

/// What a build directory was built from, besides the network's Verilog and parameter
/// images (which `flow::patch::plan` compares): if this matches, a weights-only change can
/// be patched into the bitstream.
const STATE: &str = "build-state.json";

#[derive(Serialize, Deserialize, PartialEq)]
struct State {
    fingerprint: String,
}

/// FNV-1a over the parts, each length-prefixed (deterministic across runs and platforms).
fn fingerprint(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in (p.len() as u64).to_le_bytes().iter().chain(p.as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FoldReport {
    pub engine: String,
    /// The estimate's engine kind (`mvau`, `seq`: the layer-sequential engine, whose
    /// weight words serve 4 output pixels, ...).
    #[serde(default)]
    pub kind: String,
    pub pe: Option<usize>,
    pub simd: Option<usize>,
    pub cycles: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkReport {
    pub baud: u32,
    #[serde(flatten)]
    pub params: LinkParams,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EstimateReport {
    /// The network's logic in the device's unit: iCE40 logic cells or ECP5 LUT4 slots
    /// (`Fabric::logic`), as the folding search counts it.
    pub logic_cells: u64,
    pub lut4: u64,
    pub ff: u64,
    /// The network's block RAMs in the device's blocks: iCE40 EBR, ECP5 DP16KD.
    pub bram: u64,
    #[serde(default)]
    pub spram: u64,
}

/// Used and available resources. `logic`, `bram`, `spram`, `dsp`, `io` come from nextpnr;
/// `lut4`, `ff`, `carry` from yosys (`SB_LUT4`/`LUT4`, flip-flops, `SB_CARRY`/`CCU2C`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Resources {
    pub logic: Usage,
    pub lut4: u64,
    pub ff: u64,
    pub carry: u64,
    pub bram: Usage,
    pub spram: Usage,
    pub dsp: Usage,
    pub io: Usage,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClockReport {
    pub board_mhz: f64,
    pub requested_mhz: f64,
    /// The clock the design runs at: the PLL output, or the oscillator without a PLL.
    pub design_mhz: f64,
    pub pll: bool,
    pub achieved_mhz: f64,
    pub met: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tools {
    pub yosys: String,
    pub nextpnr: String,
    pub packer: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Seconds {
    pub generate: f64,
    pub synth: f64,
    pub pnr: f64,
    pub pack: f64,
    pub total: f64,
}

/// A build step starting or finishing, for progress display.
#[derive(Clone, Debug)]
pub enum Progress {
    Start {
        step: &'static str,
        detail: String,
    },
    Done {
        step: &'static str,
        seconds: f64,
    },
    /// Why a rebuild cannot patch the last bitstream (not a step of its own).
    Note {
        detail: String,
    },
}

/// Whether the YAML fixes a `pe` or `simd` of the chain's folding.
fn fixed_folding(net: &Network) -> bool {
    net.layers.iter().any(|l| match &l.op {
        Op::BinaryConv2d(c) => c.fold.pe.is_some() || c.fold.simd.is_some(),
        Op::BinaryDense(d) => d.fold.pe.is_some() || d.fold.simd.is_some(),
        _ => false,
    })
}

/// The network with every `pe`/`simd` from the YAML removed (for `--fit`).
fn unfixed(net: &Network) -> Network {
    let mut n = net.clone();
    for l in &mut n.layers {
        let keys: Option<&mut FoldKeys> = match &mut l.op {
            Op::BinaryConv2d(c) => Some(&mut c.fold),
            Op::BinaryDense(d) => Some(&mut d.fold),
            _ => None,
        };
        if let Some(k) = keys {
            k.pe = None;
            k.simd = None;
        }
    }
    n
}

/// Estimated logic and block RAM against what the device has; `None` when it fits.
fn over_capacity(est: &Estimate, device: &Device) -> Option<String> {
    let mut over = vec![];
    let (logic, unit) = match device.family {
        Family::Ice40 => (est.lc, "logic cells"),
        Family::Ecp5 => (Fabric::Ecp5.logic(est.lut4, est.ff), "LUT4s"),
    };
    if logic + SHELL_LC > device.logic as u64 {
        over.push(format!(
            "about {} {unit} ({logic} for the network, {SHELL_LC} for the board shell) of the {}'s {}",
            logic + SHELL_LC,
            device.part,
            device.logic
        ));
    }
    let (bram, shell) = (est_bram(est, device.family), shell_bram(device.family));
    if bram + shell > device.bram as u64 {
        over.push(format!(
            "{} block RAMs ({bram} for the network, {shell} for the board shell) of the {}'s {}",
            bram + shell,
            device.part,
            device.bram
        ));
    }
    // (`plan` has already refused `store: spram` on a part without SPRAM.)
    if est.spram > device.spram as u64 {
        over.push(format!(
            "{} SPRAM blocks of the {}'s {}",
            est.spram, device.part, device.spram
        ));
    }
    (!over.is_empty()).then(|| over.join(" and "))
}

/// The summary's folding line: `engine pe×simd` per compute engine, the
/// layer-sequential engine with its 4 pixels a weight word.
fn folding_line(folding: &[FoldReport]) -> String {
    let parts: Vec<String> = folding
        .iter()
        .filter_map(|f| {
            let (pe, simd) = (f.pe?, f.simd?);
            Some(if f.kind == "seq" {
                format!(
                    "{} layer-sequential, 4 pixels × PE {pe} × SIMD {simd}",
                    f.engine
                )
            } else {
                format!("{} {pe}×{simd}", f.engine)
            })
        })
        .collect();
    format!("folding: {}", parts.join(", "))
}

/// A folding as `engine pe×simd` text.
fn folding_text(est: &Estimate) -> String {
    est.engines
        .iter()
        .filter_map(|e| Some(format!("{} pe {} simd {}", e.name, e.pe?, e.simd?)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The folding search's logic-cell budget on a device: its [`fill`] of the logic cells,
/// less the board shell's.
pub fn network_budget(device: &Device) -> u64 {
    ((device.logic as f64 * fill(device)) as u64).saturating_sub(SHELL_LC)
}

/// The generation options `build` uses on a device (`budget`: a logic-cell budget in place
/// of [`network_budget`]; block RAM is always held to the device's, less the shell's).
/// `gen`, `sim` and `check` use them too, so the design simulated for a board is the one
/// built for it.
pub fn board_gen_options(device: &Device, budget: Option<u64>) -> GenOptions {
    GenOptions {
        bram_budget: Some((device.bram as u64).saturating_sub(shell_bram(device.family))),
        ..gen_options(
            device.family,
            budget.unwrap_or_else(|| network_budget(device)),
        )
    }
}

/// Generation options for a family: the adder-tree register spacing and configuration-bus
/// pipelining that reach the family's clock targets.
fn gen_options(family: Family, budget: u64) -> GenOptions {
    GenOptions {
        lut_budget: Some(budget),
        bram_budget: None,
        folds: None,
        taps: false,
        hex: true,
        reg_every: match family {
            Family::Ice40 => 2,
            Family::Ecp5 => 1,
        },
        // Both families: the broadcast bus limited an HX8K (94 MHz, into a threshold
        // register file) as well as ECP5 parts.
        cfg_regs: true,
        // ECP5 only: the iCE40 targets close without it, and a UP5K has no cells to spare.
        replicate: family == Family::Ecp5,
        fabric: match family {
            Family::Ice40 => Fabric::Ice40,
            Family::Ecp5 => Fabric::Ecp5,
        },
        row_pool: family == Family::Ice40,
        seq: None,
    }
}

/// `store: spram` needs a part with SPRAM: on any other, an error at the YAML key,
/// whatever the folding (one of at most 4 words would quietly stay in flip-flops).
/// `build` checks it first; `gen` and `sim` for a board too.
pub fn spram_available(net: &Network, device: &Device, board: &str) -> Result<(), Error> {
    if device.spram > 0 {
        return Ok(());
    }
    let spram = net.layers.iter().find_map(|l| match &l.op {
        Op::BinaryConv2d(c) if c.fold.store == Store::Spram => c.fold.store_span,
        Op::BinaryDense(d) if d.fold.store == Store::Spram => d.fold.store_span,
        _ => None,
    });
    match spram {
        None => Ok(()),
        Some(span) => Err(SpecError::new(
            &net.src,
            span,
            format!(
                "`store: spram` needs SPRAM, and the {board} ({}) has none (only iCE40 UltraPlus parts do)",
                device.part
            ),
        )
        .with_help("use `store: bram` (the default) on this board, or an iCE40 UltraPlus board (`--board icebreaker`)")
        .into()),
    }
}

/// Picks the engine and folding and generates the design, or explains why it cannot fit.
pub fn plan(net: &Network, opts: &BuildOptions) -> Result<Generated, Error> {
    let device = opts.target.device;
    spram_available(net, &device, &opts.target.name())?;
    let gopts = board_gen_options(&device, opts.luts);
    board_generate(
        net,
        &gopts,
        &device,
        &opts.target.name(),
        opts.fit,
        opts.engine,
    )
}

/// The layer-sequential engine for a device (its weights in SPRAM where there is some).
fn seq_options(gopts: &GenOptions, device: &Device) -> GenOptions {
    GenOptions {
        seq: Some(SeqOptions {
            spram: device.spram > 0,
        }),
        ..gopts.clone()
    }
}

/// Generates with `gopts` (a board's, [`board_gen_options`], plus taps or hex as wanted)
/// the engine `engine` picks, checked against the device: the dataflow chain's folding
/// (`fit`: ignoring the YAML's), else (`Auto`, unless the YAML fixes the chain's folding
/// without `fit`) the layer-sequential engine when the chain does not fit; an error with
/// estimate against capacity and what would fit otherwise.
pub fn board_generate(
    net: &Network,
    gopts: &GenOptions,
    device: &Device,
    board: &str,
    fit: bool,
    engine: EngineChoice,
) -> Result<Generated, Error> {
    let does_not_fit = |why: String, help: String| {
        Error::input(
            net.src.name.clone(),
            format!("does not fit the {board} ({}): {why}", device.part),
        )
        .with_help(help)
    };
    if engine == EngineChoice::Seq {
        let g = generate(net, &seq_options(gopts, device))?;
        return match over_capacity(&g.estimate, device) {
            None => Ok(g),
            Some(why) => Err(does_not_fit(
                format!("the layer-sequential engine's estimate needs {why}"),
                bigger_boards(net, device),
            )),
        };
    }
    let net_used = if fit { unfixed(net) } else { net.clone() };
    let why = match generate(&net_used, gopts) {
        Ok(g) => match over_capacity(&g.estimate, device) {
            None => return Ok(g),
            Some(why) => format!("the estimate needs {why}"),
        },
        Err(Error::Input { message, .. }) if message.starts_with("no folding fits") => message,
        Err(e) => return Err(e),
    };
    // The layer-sequential engine, where the network has its form and it fits (not when
    // the YAML fixes a folding of the chain and `--fit` does not lift it).
    let seq = generate(net, &seq_options(gopts, device));
    let seq_fits = matches!(&seq, Ok(g) if over_capacity(&g.estimate, device).is_none());
    if engine == EngineChoice::Auto && (fit || !fixed_folding(net)) && seq_fits {
        return seq;
    }
    // Say which folding would fit, if any.
    let fitting = generate(&unfixed(net), gopts)
        .ok()
        .filter(|f| over_capacity(&f.estimate, device).is_none());
    let help = match fitting {
        Some(f) if !fit => format!(
            "`--fit` picks the fastest folding that fits ({} cycles/image): {}",
            f.estimate.interval,
            folding_text(&f.estimate)
        ),
        _ => match seq {
            Ok(g) if over_capacity(&g.estimate, device).is_none() => format!(
                "the layer-sequential engine fits ({} cycles/image): `--engine seq`",
                g.estimate.interval
            ),
            _ => bigger_boards(net, device),
        },
    };
    Err(does_not_fit(why, help))
}

/// What `gen`, `sim` and `check --board` generate: `Seq`, the layer-sequential engine;
/// `Dataflow`, the chain at `gopts`' budget as before; `Auto`, the chain, unless it has no
/// folding within the budget or does not fit the device and the layer-sequential engine
/// does (as `build` picks). With `budget_given` (`--luts`) or a folding fixed in the YAML,
/// `Auto` is the chain: the user asked for one.
pub fn gen_for_board(
    net: &Network,
    gopts: &GenOptions,
    device: &Device,
    engine: EngineChoice,
    budget_given: bool,
) -> Result<Generated, Error> {
    match engine {
        EngineChoice::Seq => generate(net, &seq_options(gopts, device)),
        EngineChoice::Auto if !budget_given && !fixed_folding(net) => {
            let chain = generate(net, gopts);
            let chain_fits = chain
                .as_ref()
                .is_ok_and(|g| over_capacity(&g.estimate, device).is_none());
            if !chain_fits {
                if let Ok(g) = generate(net, &seq_options(gopts, device)) {
                    if over_capacity(&g.estimate, device).is_none() {
                        return Ok(g);
                    }
                }
            }
            chain
        }
        _ => generate(net, gopts),
    }
}

/// Boards with more room than `device` on which the network's smallest folding fits.
fn bigger_boards(net: &Network, device: &Device) -> String {
    let fits: Vec<&str> = flow::BOARDS
        .iter()
        .filter(|b| b.device().logic > device.logic)
        .filter(|b| {
            let d = b.device();
            generate(&unfixed(net), &board_gen_options(d, None))
                .is_ok_and(|g| over_capacity(&g.estimate, d).is_none())
        })
        .map(|b| b.name)
        .collect();
    if fits.is_empty() {
        "no board in `hdlgen boards` holds it; reduce the network".into()
    } else {
        format!("it fits on: {} (`--board`)", fits.join(", "))
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf, Error> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|source| Error::Write {
        path: p.clone(),
        source,
    })?;
    Ok(p)
}

/// The placer seed of attempt `k` of a sweep: `--seed` (or nextpnr's default) first,
/// then the following numbers.
fn seed_of(first: Option<u64>, k: u32) -> Option<u64> {
    match (first, k) {
        (s, 0) => s,
        (s, k) => Some(s.unwrap_or(0) + k as u64),
    }
}

/// Whether a placement reached `mhz` (nextpnr's verdict and its Fmax both).
fn meets(r: &flow::PnrReport, mhz: f64) -> bool {
    r.timing_met && r.fmax_mhz.unwrap_or(0.0) >= mhz
}

fn fmax(r: &flow::PnrReport) -> f64 {
    r.fmax_mhz.unwrap_or(0.0)
}

fn seed_label(seed: Option<u64>) -> String {
    seed.map_or_else(|| "default".into(), |s| s.to_string())
}

/// Routing time before [`RouteWatch`] judges convergence (s): MNIST 85F routes that
/// finished took 419-1,546 s of router1 time.
const STALL_MIN: f64 = 900.0;
/// The window over which it measures the router's rate (s).
const STALL_WINDOW: f64 = 300.0;
/// It stops the router when, at that rate, the arcs left need more than this many times
/// the routing time so far. Of the eleven distinct MNIST 85F placements whose router logs
/// were kept (ninth to thirteenth sessions, 142,000-153,000 arcs), at 15 minutes the six
/// that finished projected at most 1.1 times, the five stopped by hand unfinished (after
/// 1,132-2,557 s, 88,869-122,977 arcs left) 8-58 times.
const STALL_FACTOR: f64 = 4.0;
/// How often the synthesis pass is shown (s).
const SYNTH_NOTE_EVERY: f64 = 30.0;
/// How often routing progress is shown (s of routing, or of wall time for router2).
const NOTE_EVERY: f64 = 120.0;

/// Follows a nextpnr run for [`place_and_route`]: says which step it is in, and stops
/// router1 when it is not converging (see [`STALL_FACTOR`]). Congested placements of MNIST
/// on an 85F queued ~105,000 of 153,000 arcs after 1,100-1,600 s, at 7-30 arcs a second.
struct RouteWatch {
    arcs: u64,
    /// (routing seconds, arcs left), the last [`STALL_WINDOW`] seconds and one before.
    samples: VecDeque<(f64, u64)>,
    next_note: f64,
    started: Instant,
    /// Judge convergence (off with `--keep-routing`).
    judge: bool,
    /// The clock nextpnr is asked for (MHz; 0 when none).
    target_mhz: f64,
    /// When every arc had first been routed, and the worst slack then (ns): timing-driven
    /// rip-up has started. Its rounds are judged on their own (the queue regrows from a
    /// few arcs), and a stop says that the clock, not congestion, is what is missing.
    routed_at: Option<(f64, f64)>,
}

/// What a [`RouteWatch`] makes of a step.
#[derive(Debug, PartialEq)]
enum Heard {
    Quiet,
    Note(String),
    Stop(String),
}

impl RouteWatch {
    fn new(judge: bool, target_mhz: f64) -> Self {
        RouteWatch {
            arcs: 0,
            samples: VecDeque::new(),
            next_note: 0.0,
            started: Instant::now(),
            judge,
            target_mhz,
            routed_at: None,
        }
    }

    /// The clock (MHz) a routing with worst slack `wns_ns` (< 0) at the target makes.
    fn reach_mhz(&self, wns_ns: f64) -> Option<f64> {
        (self.target_mhz > 0.0 && wns_ns < 0.0)
            .then(|| 1000.0 / (1000.0 / self.target_mhz - wns_ns))
    }

    fn reach(&self, wns_ns: f64) -> String {
        self.reach_mhz(wns_ns)
            .map_or_else(String::new, |f| format!(" (about {f:.1} MHz)"))
    }

    fn hear(&mut self, step: PnrStep) -> Heard {
        match step {
            PnrStep::Placing { cells } => Heard::Note(format!("placing {cells} cells")),
            PnrStep::Refining => Heard::Note("refining the placement".into()),
            PnrStep::Routing { arcs } => {
                self.arcs = arcs;
                self.next_note = NOTE_EVERY;
                Heard::Note(format!("routing {arcs} arcs"))
            }
            PnrStep::Routed => Heard::Note("routed".into()),
            PnrStep::Overused { iter, wires } => {
                let t = self.started.elapsed().as_secs_f64();
                if t < self.next_note {
                    return Heard::Quiet;
                }
                self.next_note = t + NOTE_EVERY;
                Heard::Note(format!(
                    "routing (router2) iteration {iter}: {wires} wires overused"
                ))
            }
            PnrStep::ArcsLeft { left, seconds } => self.arcs_left(left, seconds),
            PnrStep::TimingRipup { arcs, wns_ns } => {
                if arcs == 0 || self.routed_at.is_some() {
                    return Heard::Quiet;
                }
                // The last progress line's time: when the queue ran empty.
                let at = self.samples.back().map_or(0.0, |s| s.0);
                self.routed_at = Some((at, wns_ns));
                self.samples.clear();
                Heard::Note(format!(
                    "every arc routed after {at:.0} s, worst slack {wns_ns:.2} ns{}; \
                     timing-driven rip-up: rerouting {arcs} arcs",
                    self.reach(wns_ns)
                ))
            }
        }
    }

    fn arcs_left(&mut self, left: u64, t: f64) -> Heard {
        self.samples.push_back((t, left));
        while self.samples.len() > 2 && self.samples[1].0 <= t - STALL_WINDOW {
            self.samples.pop_front();
        }
        let (t0, left0) = self.samples[0];
        if self.judge && t >= STALL_MIN && t - t0 >= STALL_WINDOW {
            let rate = left0.saturating_sub(left) as f64 / (t - t0);
            let more = if rate > 0.0 {
                left as f64 / rate
            } else {
                f64::INFINITY
            };
            if more > STALL_FACTOR * t {
                let mut why = format!(
                    "routing is not converging: {left} of {} arcs left after {t:.0} s of \
                     routing, {rate:.1} arcs/s over the last {:.0} s (about {} s more)",
                    self.arcs,
                    t - t0,
                    if more.is_finite() {
                        format!("{more:.0}")
                    } else {
                        "∞".into()
                    },
                );
                if let Some((at, wns)) = self.routed_at {
                    why += &format!(
                        ", in timing-driven rip-up: every arc had been routed after {at:.0} s \
                         with worst slack {wns:.2} ns{}, so this placement misses the clock \
                         and rip-up does not recover it",
                        self.reach(wns)
                    );
                    if let Some(mhz) = self.reach_mhz(wns) {
                        why += &format!(
                            "; ask for less (`--freq {:.1}`)",
                            (mhz * 10.0).floor() / 10.0
                        );
                    }
                }
                return Heard::Stop(why);
            }
        }
        if t < self.next_note {
            return Heard::Quiet;
        }
        self.next_note = t + NOTE_EVERY;
        Heard::Note(format!(
            "routing: {left} of {} arcs left after {t:.0} s",
            self.arcs
        ))
    }
}

/// Places and routes with up to `tries` placer seeds, stopping at the first placement
/// that meets `p.freq_mhz`; with none, the fastest is kept. The files of the other
/// attempts are renamed `pnr.seed-S.log` / `pnr.seed-S.json` (kept for the record; their
/// placements are deleted). The report's `seconds` counts every attempt.
fn place_and_route(
    nextpnr: &flow::Tool,
    p: &mut PnrOptions,
    first: Option<u64>,
    tries: u32,
    judge: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<flow::PnrReport, Error> {
    let dir = p.out_dir.clone();
    let target = p.freq_mhz.unwrap_or(0.0);
    let aside = |seed: Option<u64>, what: &str, ext: &str| {
        dir.join(format!("{what}.seed-{}.{ext}", seed_label(seed)))
    };
    let rename = |from: &Path, to: &Path| {
        std::fs::rename(from, to).map_err(|source| Error::Write {
            path: to.to_path_buf(),
            source,
        })
    };
    let output_ext = |r: &flow::PnrReport| {
        r.output
            .extension()
            .map_or_else(String::new, |e| e.to_string_lossy().into_owned())
    };
    // Put attempt r's files under its seed's names, or back.
    let swap = |r: &flow::PnrReport, back: bool| -> Result<(), Error> {
        for (file, what, ext) in [
            (&r.log, "pnr", "log".to_string()),
            (&r.report, "pnr", "json".to_string()),
            (&r.output, "top", output_ext(r)),
        ] {
            let other = aside(r.seed, what, &ext);
            if back {
                rename(&other, file)?;
            } else {
                rename(file, &other)?;
            }
        }
        Ok(())
    };
    // A previous build's set-aside attempts.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("pnr.seed-")
                || name.starts_with("top.seed-")
                || name == "pnr.ripup.log"
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let ripup = p.tmg_ripup;
    let mut seconds = 0.0;
    let mut best: Option<flow::PnrReport> = None;
    let mut k = 0;
    let mut r = loop {
        p.seed = seed_of(first, k);
        let attempt = Instant::now();
        let mut watch = RouteWatch::new(judge, target);
        let run = flow::pnr_following(nextpnr, p, &mut |step| match watch.hear(step) {
            Heard::Quiet => None,
            Heard::Note(detail) => {
                progress(Progress::Note { detail });
                None
            }
            Heard::Stop(why) => Some(why),
        });
        k += 1;
        let r = match run {
            Ok(r) => r,
            Err(FlowError::Stopped { tool, reason, log }) => {
                seconds += attempt.elapsed().as_secs_f64();
                // Stopped in timing-driven rip-up, with nothing else to show: every arc
                // had been routed once. The same seed again without rip-up gives that
                // routing (the placement is deterministic), so the build ends with a
                // bitstream or a timing report rather than nothing (MNIST on an 85F at
                // 120 MHz: rip-up of 26 arcs regrew router1's queue to 18,000).
                if watch.routed_at.is_some() && p.tmg_ripup && k == tries && best.is_none() {
                    rename(&log, &dir.join("pnr.ripup.log"))?;
                    progress(Progress::Note {
                        detail: format!(
                            "placer seed {} stopped in timing-driven rip-up ({reason}); \
                             placing and routing it again without rip-up (its log: pnr.ripup.log)",
                            seed_label(p.seed)
                        ),
                    });
                    p.tmg_ripup = false;
                    k -= 1;
                    continue;
                }
                // The last seed stopped with no earlier placement: the build fails on it.
                if k == tries && best.is_none() {
                    return Err(FlowError::Stopped {
                        tool,
                        reason: format!(
                            "{reason}; try other placements (`--seeds 3`), a smaller folding \
                             (`--luts`), or `--keep-routing` to wait"
                        ),
                        log,
                    }
                    .into());
                }
                rename(&log, &aside(p.seed, "pnr", "log"))?;
                progress(Progress::Note {
                    detail: format!("placer seed {} stopped: {reason}", seed_label(p.seed)),
                });
                match best.take() {
                    // The last seed stopped: keep the fastest earlier one.
                    Some(b) if k == tries => {
                        progress(Progress::Note {
                            detail: format!(
                                "no seed met {target:.2} MHz; keeping seed {} ({:.2} MHz)",
                                seed_label(b.seed),
                                fmax(&b)
                            ),
                        });
                        swap(&b, true)?;
                        break b;
                    }
                    b => {
                        best = b;
                        continue;
                    }
                }
            }
            Err(e) => return Err(e.into()),
        };
        seconds += r.seconds;
        if meets(&r, target) || k == tries {
            break r;
        }
        progress(Progress::Note {
            detail: format!(
                "placer seed {}: {:.2} MHz, short of {target:.2}; trying seed {} ({} of {tries})",
                seed_label(r.seed),
                fmax(&r),
                seed_label(seed_of(first, k)),
                k + 1
            ),
        });
        swap(&r, false)?;
        match &best {
            Some(b) if fmax(&r) <= fmax(b) => drop_output(&aside(r.seed, "top", &output_ext(&r))),
            _ => {
                if let Some(b) = &best {
                    drop_output(&aside(b.seed, "top", &output_ext(b)));
                }
                best = Some(r);
            }
        }
    };
    if let Some(b) = best {
        if !meets(&r, target) && fmax(&b) > fmax(&r) {
            progress(Progress::Note {
                detail: format!(
                    "no seed met {target:.2} MHz; keeping seed {} ({:.2} MHz)",
                    seed_label(b.seed),
                    fmax(&b)
                ),
            });
            swap(&r, false)?;
            drop_output(&aside(r.seed, "top", &output_ext(&r)));
            swap(&b, true)?;
            r = b;
        } else {
            drop_output(&aside(b.seed, "top", &output_ext(&b)));
        }
    }
    r.seconds = seconds;
    p.tmg_ripup = ripup;
    Ok(r)
}

/// Deletes a set-aside placement (large; its log and report stay).
fn drop_output(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Runs the whole build. `progress` hears about each step as it starts and ends.
pub fn build(
    net: &Network,
    opts: &BuildOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<BuildReport, Error> {
    let t0 = Instant::now();
    let target = &opts.target;
    let family = target.family();
    let mut seconds = Seconds::default();

    progress(Progress::Start {
        step: "generate",
        detail: format!("folding for the {}", target.device.part),
    });
    let g = plan(net, opts)?;
    // Find every tool before writing anything: a missing one is reported at once.
    let yosys = flow::Tool::find(flow::ToolKind::Yosys)?;
    let nextpnr = flow::Tool::find(flow::ToolKind::nextpnr(family))?;
    let packer = flow::Tool::find(flow::ToolKind::pack(family))?;
    let requested = opts
        .freq_mhz
        .unwrap_or_else(|| target.board.map_or(target.clock_mhz, |b| b.default_mhz));
    if !(requested.is_finite() && requested > 0.0) {
        return Err(Error::input(
            net.src.name.clone(),
            format!("the clock target must be a positive frequency, not {requested} MHz"),
        ));
    }
    // A PLL only when the request is above the oscillator (iCE40 PLLs cannot divide below
    // 16 MHz, and running slower than the oscillator buys nothing here).
    let pll = if requested > target.clock_mhz * 1.001 {
        let mut p = Pll::new(family, target.clock_mhz, requested).map_err(|e| Error::Input {
            path: net.src.name.clone().into(),
            message: e.to_string(),
            help: Some("choose another `--freq`".into()),
        })?;
        p.ice40_pad = target.pll_pad;
        Some(p)
    } else {
        None
    };
    let design_mhz = pll.as_ref().map_or(target.clock_mhz, |p| p.out_mhz);
    let ecp5 = family == Family::Ecp5;
    let shell = ShellOptions {
        sys_hz: (design_mhz * 1e6).round() as u64,
        baud: opts.baud,
        leds: target.leds,
        led_active_low: target.led_active_low,
        pll: pll.is_some(),
        out_slice: ecp5,
        in_slices: if ecp5 { 2 } else { 1 },
    };
    let bt = board_top(&g, &shell)?;
    let pll_text = pll.as_ref().map(Pll::verilog).unwrap_or_default();
    let constraints_text = match &target.constraints {
        Constraints::Embedded { text, .. } => text.to_string(),
        Constraints::File(p) => std::fs::read_to_string(p).map_err(|source| Error::Read {
            path: p.clone(),
            source,
        })?,
    };
    let mut parts: Vec<&str> = vec![
        &bt.name,
        &bt.verilog,
        &pll_text,
        &constraints_text,
        target.device.name,
        &target.package,
    ];
    for (n, t) in &bt.files {
        parts.push(n);
        parts.push(t);
    }
    let clock = format!("{design_mhz} {:?} {}", opts.seed, opts.seeds);
    let versions = format!(
        "{} {} {}",
        yosys.version(),
        nextpnr.version(),
        packer.version()
    );
    parts.push(&clock);
    parts.push(&versions);
    let state = State {
        fingerprint: fingerprint(&parts),
    };

    let dir = &opts.out_dir;
    if !opts.rebuild {
        if let Some(r) = try_patch(dir, family, &g, &state, progress)? {
            return Ok(r);
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    // Outputs of an earlier build must not survive a failed one.
    for stale in [STATE, "report.json", "summary.txt", "top.bin", "top.bit"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    let mut sources = vec![];
    for (name, text) in g.files.iter().chain(bt.files.iter()) {
        let p = write(dir, name, text)?;
        if name.ends_with(".v") {
            sources.push(p);
        }
    }
    if pll.is_some() {
        sources.push(write(dir, "hdlgen_pll.v", &pll_text)?);
    }
    sources.push(write(dir, &format!("{}.v", bt.name), &bt.verilog)?);
    let constraints = match &target.constraints {
        Constraints::Embedded { name, .. } => write(dir, name, &constraints_text)?,
        Constraints::File(p) => p.clone(),
    };
    seconds.generate = t0.elapsed().as_secs_f64();
    progress(Progress::Done {
        step: "generate",
        seconds: seconds.generate,
    });

    progress(Progress::Start {
        step: "synthesis",
        detail: format!("{yosys}; log {}", dir.join(flow::synth::LOG).display()),
    });
    // The pass yosys is in, every SYNTH_NOTE_EVERY s (MNIST on an 85F takes 5-9 min).
    let started = Instant::now();
    let mut next_note = SYNTH_NOTE_EVERY;
    let s = flow::synth_following(
        &yosys,
        &SynthOptions::new(family, sources, &bt.name, dir),
        &mut |pass| {
            let t = started.elapsed().as_secs_f64();
            if t >= next_note {
                next_note = t + SYNTH_NOTE_EVERY;
                progress(Progress::Note {
                    detail: format!("synthesis: {pass} pass, {t:.0} s in"),
                });
            }
        },
    )?;
    seconds.synth = s.seconds;
    progress(Progress::Done {
        step: "synthesis",
        seconds: s.seconds,
    });

    let tries = opts.seeds.max(1);
    progress(Progress::Start {
        step: "place and route",
        detail: format!(
            "{nextpnr} at {design_mhz:.2} MHz{}; log {}",
            if tries > 1 {
                format!(", up to {tries} placer seeds")
            } else {
                String::new()
            },
            dir.join(flow::pnr::LOG).display()
        ),
    });
    let mut p = PnrOptions::new(
        target.device,
        s.netlist.clone().expect("synthesis writes a netlist"),
        dir,
    );
    p.package = Some(target.package.clone());
    p.constraints = Some(constraints);
    p.freq_mhz = Some(design_mhz);
    // The report is wanted either way; whether a miss fails the build is decided below.
    p.allow_timing_fail = true;
    // ECP5: the same placements of the digits BNN on an 85F at 150 MHz route faster with
    // timing-driven rip-up: 141.78 → 148.21, 147.95 → 154.39 and 156.59 → 156.59 MHz
    // (placer seeds default, 1, 2; docs/board-flow.md). Not on iCE40 (not measured).
    p.tmg_ripup = family == Family::Ecp5;
    let r = place_and_route(
        &nextpnr,
        &mut p,
        opts.seed,
        tries,
        !opts.keep_routing,
        progress,
    )?;
    seconds.pnr = r.seconds;
    progress(Progress::Done {
        step: "place and route",
        seconds: r.seconds,
    });
    let achieved = fmax(&r);
    let met = meets(&r, design_mhz);

    let mut packed = None;
    let mut bitstream = None;
    if met || opts.allow_timing_fail {
        progress(Progress::Start {
            step: "pack",
            detail: packer.to_string(),
        });
        let pk = flow::pack_with(&packer, &r)?;
        seconds.pack = pk.seconds;
        progress(Progress::Done {
            step: "pack",
            seconds: pk.seconds,
        });
        bitstream = pk
            .bitstream
            .file_name()
            .map(|f| f.to_string_lossy().into_owned());
        packed = Some(packer.to_string());
    }
    seconds.total = t0.elapsed().as_secs_f64();

    let est = &g.estimate;
    let macs: u64 = est.engines.iter().map(|e| e.macs).sum();
    let interval = est.interval.max(1);
    let report = BuildReport {
        network: net.name.clone(),
        source: net.src.name.clone(),
        board: target.name(),
        device: target.device.part.to_string(),
        package: target.package.clone(),
        family,
        top: bt.name.clone(),
        folding: est
            .engines
            .iter()
            .map(|e| FoldReport {
                engine: e.name.clone(),
                kind: e.kind.to_string(),
                pe: e.pe,
                simd: e.simd,
                cycles: e.cycles,
            })
            .collect(),
        link: LinkReport {
            baud: opts.baud,
            params: bt.link.clone(),
        },
        estimate: EstimateReport {
            logic_cells: match target.device.family {
                Family::Ice40 => est.lc,
                Family::Ecp5 => Fabric::Ecp5.logic(est.lut4, est.ff),
            },
            lut4: est.lut4,
            ff: est.ff,
            bram: est_bram(est, target.device.family),
            spram: est.spram,
        },
        resources: Resources {
            logic: r.logic,
            lut4: s.lut4,
            ff: s.ff,
            carry: s.carry,
            bram: r.bram,
            spram: r.spram,
            dsp: r.dsp,
            io: r.io,
        },
        clock: ClockReport {
            board_mhz: target.clock_mhz,
            requested_mhz: requested,
            design_mhz,
            pll: pll.is_some(),
            achieved_mhz: achieved,
            met,
        },
        seed: r.seed,
        critical_path: r.critical_paths.first().cloned(),
        cycles_per_inference: interval,
        inferences_per_second: design_mhz * 1e6 / interval as f64,
        inferences_per_second_at_fmax: achieved * 1e6 / interval as f64,
        binary_macs_per_inference: macs,
        binary_macs_per_cycle_per_lut: if s.lut4 == 0 {
            0.0
        } else {
            macs as f64 / interval as f64 / s.lut4 as f64
        },
        bitstream,
        tools: Tools {
            yosys: yosys.to_string(),
            nextpnr: nextpnr.to_string(),
            packer: packed,
        },
        seconds,
        patched: None,
    };
    if report.bitstream.is_some() {
        write(
            dir,
            STATE,
            &serde_json::to_string(&state).expect("serialisable"),
        )?;
    }
    write(
        dir,
        "report.json",
        &(serde_json::to_string_pretty(&report).expect("serialisable") + "\n"),
    )?;
    write(dir, "summary.txt", &summary(&report))?;
    if !met && !opts.allow_timing_fail {
        return Err(timing_error(&report, dir));
    }
    Ok(report)
}

/// Swaps the new weights into the bitstream of the build in `dir` when that build matches
/// `state` and only block-RAM images changed. `Ok(None)`: a full build is needed (the
/// reason goes to `progress`); a patch that fails midway leaves `dir` as it was.
fn try_patch(
    dir: &Path,
    family: Family,
    g: &Generated,
    state: &State,
    progress: &mut dyn FnMut(Progress),
) -> Result<Option<BuildReport>, Error> {
    let old_state: Option<State> = std::fs::read_to_string(dir.join(STATE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let old_report: Option<BuildReport> = std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let (Some(old_state), Some(mut report)) = (old_state, old_report) else {
        return Ok(None);
    };
    let note = |progress: &mut dyn FnMut(Progress), why: String| {
        progress(Progress::Note {
            detail: format!("full build: {why}"),
        });
    };
    if old_state != *state {
        note(
            progress,
            "the board, clock, seed or tools changed since the last build".into(),
        );
        return Ok(None);
    }
    let t0 = Instant::now();
    let old = match flow::patch::read_built(dir, g) {
        Ok(o) => o,
        Err(e) => {
            note(progress, format!("cannot patch: {e}"));
            return Ok(None);
        }
    };
    let changed = match flow::patch::plan(&old, g) {
        Ok(c) => c,
        Err(e) => {
            note(progress, format!("cannot patch: {e}"));
            return Ok(None);
        }
    };
    let names: Vec<String> = changed
        .iter()
        .map(|&u| crate::rtl::top::unit_file(&g.design, u))
        .collect();
    let (tool, seconds) = if changed.is_empty() {
        ("none (nothing changed)".to_string(), 0.0)
    } else {
        progress(Progress::Start {
            step: "patch",
            detail: format!("only weights changed: {}", names.join(", ")),
        });
        match flow::patch::patch_generated(family, dir, &old, g) {
            Ok(p) => (p.tool, p.seconds),
            Err(e) => {
                note(progress, format!("patching failed: {e}"));
                return Ok(None);
            }
        }
    };
    for (name, text) in &g.files {
        write(dir, name, text)?;
    }
    report.patched = Some(Patched {
        memories: names,
        tool,
        seconds,
    });
    report.seconds = Seconds {
        total: t0.elapsed().as_secs_f64(),
        ..Seconds::default()
    };
    progress(Progress::Done {
        step: "patch",
        seconds: report.seconds.total,
    });
    write(
        dir,
        "report.json",
        &(serde_json::to_string_pretty(&report).expect("serialisable") + "\n"),
    )?;
    write(dir, "summary.txt", &summary(&report))?;
    Ok(Some(report))
}

fn timing_error(r: &BuildReport, dir: &Path) -> Error {
    let path = r.critical_path.as_ref().map_or(String::new(), |c| {
        format!(
            "; critical path {:.2} ns ({:.2} logic, {:.2} routing) from {} to {}{}",
            c.delay_ns,
            c.logic_ns,
            c.routing_ns,
            c.start,
            c.end,
            if c.sources.is_empty() {
                String::new()
            } else {
                format!(" through {}", c.sources.join(", "))
            }
        )
    });
    Error::Timing {
        message: format!(
            "timing not met on the {}: {:.2} MHz achieved, {:.2} MHz requested{path}. No bitstream was written; the report is in {}",
            r.board,
            r.clock.achieved_mhz,
            r.clock.design_mhz,
            dir.join("report.json").display()
        ),
        help: Some(timing_help(r.clock.achieved_mhz, r.clock.design_mhz)),
    }
}

/// What to do about a missed clock: ask for less, or (when the miss is within placement
/// noise, 10 %: the digits BNN on an 85F made 132-153 MHz over placer seeds) try other
/// seeds, or write the bitstream anyway.
fn timing_help(achieved_mhz: f64, design_mhz: f64) -> String {
    format!(
        "ask for less (`--freq {}`), {}or write the bitstream anyway (`--allow-timing-fail`)",
        (achieved_mhz * 10.0).floor() / 10.0,
        if achieved_mhz >= 0.9 * design_mhz {
            "try other placements (`--seeds 4`), "
        } else {
            ""
        }
    )
}

fn pct(u: &Usage) -> String {
    format!(
        "{:>6} / {:<6} ({:>3.0}%)",
        u.used,
        u.available,
        100.0 * u.fraction()
    )
}

/// The human-readable summary (also printed by the CLI).
pub fn summary(r: &BuildReport) -> String {
    let mut s = String::new();
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    line(format!(
        "{} → {} ({} {}), top {}",
        r.network, r.board, r.device, r.package, r.top
    ));
    line(folding_line(&r.folding));
    let logic_name = match r.family {
        Family::Ice40 => "logic cells",
        Family::Ecp5 => "LUT4 slots",
    };
    line(format!(
        "  {logic_name:<12} {}   (estimate {})",
        pct(&r.resources.logic),
        r.estimate.logic_cells
    ));
    line(format!(
        "  {:<12} {:>6}            (estimate {})",
        "LUT4", r.resources.lut4, r.estimate.lut4
    ));
    line(format!(
        "  {:<12} {:>6}            (estimate {})",
        "FF", r.resources.ff, r.estimate.ff
    ));
    line(format!("  {:<12} {:>6}", "carry", r.resources.carry));
    line(format!(
        "  {:<12} {}   (estimate {})",
        match r.family {
            Family::Ice40 => "EBR",
            Family::Ecp5 => "DP16KD",
        },
        pct(&r.resources.bram),
        r.estimate.bram
    ));
    if r.resources.spram.available > 0 {
        line(format!(
            "  {:<12} {}   (estimate {})",
            "SPRAM",
            pct(&r.resources.spram),
            r.estimate.spram
        ));
    }
    line(format!("  {:<12} {}", "DSP", pct(&r.resources.dsp)));
    line(format!("  {:<12} {}", "I/O", pct(&r.resources.io)));
    line(format!(
        "clock: {:.2} MHz requested, design clock {:.3} MHz ({}), Fmax {:.2} MHz: {}",
        r.clock.requested_mhz,
        r.clock.design_mhz,
        if r.clock.pll {
            format!("PLL from {} MHz", r.clock.board_mhz)
        } else {
            "board oscillator".into()
        },
        r.clock.achieved_mhz,
        if r.clock.met { "met" } else { "NOT MET" }
    ));
    if let Some(s) = r.seed {
        line(format!("placer seed: {s}"));
    }
    if let Some(c) = &r.critical_path {
        line(format!(
            "critical path: {:.2} ns ({:.2} logic, {:.2} routing, {} cells) {} → {}",
            c.delay_ns, c.logic_ns, c.routing_ns, c.cells, c.start, c.end
        ));
    }
    line(format!(
        "throughput: {} cycles/inference → {:.0} inferences/s at {:.3} MHz ({:.0} at Fmax)",
        r.cycles_per_inference,
        r.inferences_per_second,
        r.clock.design_mhz,
        r.inferences_per_second_at_fmax
    ));
    line(format!(
        "density: {:.3} binary MACs/cycle/LUT4 ({} MACs per inference)",
        r.binary_macs_per_cycle_per_lut, r.binary_macs_per_inference
    ));
    line(format!(
        "bitstream: {}",
        r.bitstream.as_deref().unwrap_or("none (timing not met)")
    ));
    if !r.link.params.spram_units.is_empty() {
        line(format!(
            "SPRAM (no initial contents; a host writes them over the link after configuration): {}",
            r.link.params.spram_units.join(", ")
        ));
    }
    if let Some(p) = &r.patched {
        line(format!(
            "weights patched into the previous bitstream ({}): {}",
            p.tool,
            if p.memories.is_empty() {
                "nothing changed".into()
            } else {
                p.memories.join(", ")
            }
        ));
    }
    line(format!(
        "time: {:.1} s (generate {:.1}, synthesis {:.1}, place and route {:.1}, pack {:.1})",
        r.seconds.total, r.seconds.generate, r.seconds.synth, r.seconds.pnr, r.seconds.pack
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folding_line_names_the_layer_sequential_engine() {
        let f = |engine: &str, kind: &str, pe: Option<usize>| FoldReport {
            engine: engine.into(),
            kind: kind.into(),
            pe,
            simd: pe.map(|p| p * 16),
            cycles: 1,
        };
        assert_eq!(
            folding_line(&[f("conv1_fc", "seq", Some(2)), f("scores", "argmax", None)]),
            "folding: conv1_fc layer-sequential, 4 pixels × PE 2 × SIMD 32"
        );
        assert_eq!(
            folding_line(&[f("conv1_bn1", "mvau", Some(2)), f("fc", "mvau", Some(1))]),
            "folding: conv1_bn1 2×32, fc 1×16"
        );
    }

    /// Router1's (routing seconds, arcs left) every 10,000 iterations, from the logs of
    /// MNIST on an ULX3S-85F at 120 MHz: a placement that routed (153,038 arcs, done after
    /// 1,476 s) and two that congested (stopped by hand).
    #[rustfmt::skip]
    const ROUTED: &[(f64, u64)] = &[
        (11.31, 145897), (20.42, 140275), (34.85, 136273), (71.08, 132655), (119.78, 128624),
        (166.15, 124060), (217.93, 119799), (252.47, 116010), (297.53, 111042), (343.80, 106791),
        (375.46, 102204), (404.54, 98508), (432.01, 94541), (475.89, 91395), (532.29, 87237),
        (593.40, 83267), (674.34, 79257), (740.42, 75439), (809.40, 71779), (870.20, 65028),
        (925.55, 61968), (974.76, 57011), (1030.85, 52839), (1074.06, 47214), (1108.70, 40855),
        (1159.57, 36071), (1198.66, 31936), (1227.09, 26248), (1258.96, 22288), (1285.30, 17621),
        (1318.13, 15175), (1348.24, 11579), (1390.30, 6707), (1472.42, 374),
    ];
    #[rustfmt::skip]
    const CONGESTED_A: &[(f64, u64)] = &[
        (21.88, 147943), (46.90, 142353), (66.85, 138314), (89.71, 133926), (135.51, 130803),
        (226.13, 127796), (338.64, 124872), (424.51, 120925), (564.19, 117779), (812.96, 114720),
        (1025.12, 112143), (1245.61, 109520), (1584.36, 107277),
    ];
    #[rustfmt::skip]
    const CONGESTED_B: &[(f64, u64)] = &[
        (60.89, 146474), (81.96, 141132), (95.37, 136789), (111.15, 132866), (127.68, 129141),
        (155.22, 125265), (190.25, 121768), (231.39, 117825), (268.55, 115787), (307.95, 116636),
        (326.88, 111377), (419.63, 108431), (517.13, 106896), (691.24, 104413), (869.64, 101853),
        (1117.06, 99202), (1315.50, 96002), (1466.17, 93333), (1761.96, 90892),
    ];

    /// MNIST on an 85F at 150 MHz, placer seed 1 (fourteenth session): every arc routed
    /// after 675.51 s, then timing-driven rip-up (WNS −1.90 ns) regrew the queue.
    #[rustfmt::skip]
    const RIPUP_FIRST: &[(f64, u64)] = &[
        (2.91, 152567), (43.98, 133555), (87.31, 126347), (128.02, 121554), (169.37, 114101),
        (210.24, 103030), (250.62, 95504), (292.37, 85156), (332.81, 74858), (373.74, 55889),
        (414.32, 40938), (454.7, 34061), (495.05, 18410), (537.91, 17175), (577.99, 12730),
        (619.59, 6866), (663.23, 1874), (675.51, 336),
    ];
    #[rustfmt::skip]
    const RIPUP_THEN: &[(f64, u64)] = &[
        (678.43, 3734), (720.02, 16079), (760.68, 18295), (802.17, 19425), (846.79, 19776),
        (887.64, 19814), (906.08, 19750),
    ];

    #[test]
    fn a_timing_ripup_that_does_not_converge_is_stopped_and_says_why() {
        let mut w = RouteWatch::new(true, 150.0);
        w.hear(PnrStep::Routing { arcs: 153025 });
        for &(seconds, left) in RIPUP_FIRST {
            assert!(!matches!(
                w.hear(PnrStep::ArcsLeft { left, seconds }),
                Heard::Stop(_)
            ));
        }
        assert_eq!(
            w.hear(PnrStep::TimingRipup {
                arcs: 1856,
                wns_ns: -1.9
            }),
            Heard::Note(
                "every arc routed after 676 s, worst slack -1.90 ns (about 116.7 MHz); \
                 timing-driven rip-up: rerouting 1856 arcs"
                    .into()
            )
        );
        // The rounds are judged from the rip-up on: not yet at 906 s (228 s of rip-up).
        for &(seconds, left) in RIPUP_THEN {
            assert!(!matches!(
                w.hear(PnrStep::ArcsLeft { left, seconds }),
                Heard::Stop(_)
            ));
        }
        // Later rounds say nothing; a queue that stays stuck is stopped once the window is full.
        assert_eq!(
            w.hear(PnrStep::TimingRipup {
                arcs: 900,
                wns_ns: -1.8
            }),
            Heard::Quiet
        );
        match w.hear(PnrStep::ArcsLeft {
            left: 19800,
            seconds: 980.0,
        }) {
            Heard::Stop(why) => assert!(
                why.contains("every arc had been routed after 676 s with worst slack -1.90 ns")
                    && why.contains("`--freq 116.7`"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        // A route that meets the clock ends with an empty round, which is not news.
        let mut w = RouteWatch::new(true, 120.0);
        w.hear(PnrStep::Routing { arcs: 1000 });
        assert_eq!(
            w.hear(PnrStep::TimingRipup {
                arcs: 0,
                wns_ns: 0.0
            }),
            Heard::Quiet
        );
    }

    /// Where a watch stops router1 on a trace, if it does.
    fn stop_time(trace: &[(f64, u64)], arcs: u64) -> Option<f64> {
        let mut w = RouteWatch::new(true, 120.0);
        w.hear(PnrStep::Routing { arcs });
        trace.iter().find_map(|&(seconds, left)| {
            match w.hear(PnrStep::ArcsLeft { left, seconds }) {
                Heard::Stop(why) => {
                    assert!(
                        why.contains(&format!("{left} of {arcs} arcs left")),
                        "{why}"
                    );
                    Some(seconds)
                }
                _ => None,
            }
        })
    }

    #[test]
    fn a_router_that_converges_runs_on_and_a_congested_one_is_stopped() {
        assert_eq!(stop_time(ROUTED, 153038), None);
        assert_eq!(stop_time(CONGESTED_A, 152884), Some(1025.12));
        assert_eq!(stop_time(CONGESTED_B, 150344), Some(1117.06));
        // Not before STALL_MIN, however slow.
        let flat: Vec<(f64, u64)> = (1..40).map(|k| (k as f64 * 30.0, 150000)).collect();
        assert_eq!(stop_time(&flat, 150000), Some(900.0));
        // --keep-routing
        let mut w = RouteWatch::new(false, 120.0);
        assert!(CONGESTED_A.iter().all(|&(seconds, left)| !matches!(
            w.hear(PnrStep::ArcsLeft { left, seconds }),
            Heard::Stop(_)
        )));
    }

    #[test]
    fn routing_progress_is_shown_every_two_minutes() {
        let mut w = RouteWatch::new(true, 120.0);
        assert_eq!(
            w.hear(PnrStep::Placing { cells: 37524 }),
            Heard::Note("placing 37524 cells".into())
        );
        w.hear(PnrStep::Routing { arcs: 153038 });
        let notes: Vec<String> = ROUTED
            .iter()
            .filter_map(
                |&(seconds, left)| match w.hear(PnrStep::ArcsLeft { left, seconds }) {
                    Heard::Note(n) => Some(n),
                    _ => None,
                },
            )
            .collect();
        assert_eq!(notes[0], "routing: 124060 of 153038 arcs left after 166 s");
        assert_eq!(notes.len(), 10, "{notes:#?}");
    }

    /// A timing-driven rip-up that does not converge is stopped, and the last (here the
    /// only) seed is placed and routed again without it, which keeps its first routing.
    #[test]
    #[cfg(unix)]
    fn a_stopped_ripup_falls_back_to_the_routing_before_it() {
        let (t, tool, mut p) = flow::pnr::stand_in_nextpnr(
            "tmg=0\n\
             while [ $# -gt 0 ]; do\n\
               case \"$1\" in -l) log=$2;; --report) rep=$2;; --textcfg) out=$2;; --tmg-ripup) tmg=1;; esac\n\
               shift\n\
             done\n\
             printf 'Info: Routing 1000 arcs.\\n' > \"$log\"\n\
             printf 'Info:  1000 | 10 990 | 10 990 |   10|  1.00  100.00|\\n' >> \"$log\"\n\
             if [ $tmg = 1 ]; then\n\
               printf 'Info:     26 arcs ripped up due to negative slack WNS=-0.27ns TNS=-4.95ns.\\n' >> \"$log\"\n\
               printf 'Info:  1000 | 10 990 | 10 990 |   400|  1.00  500.00|\\n' >> \"$log\"\n\
               printf 'Info:  1000 | 10 990 | 10 990 |   400|  1.00  1000.00|\\n' >> \"$log\"\n\
               exec sleep 600\n\
             fi\n\
             printf 'Info: Routing complete.\\n' >> \"$log\"\n\
             echo '{\"utilization\":{\"TRELLIS_COMB\":{\"used\":10,\"available\":100}},\
             \"fmax\":{\"clk\":{\"achieved\":116.4,\"constraint\":120.0}}}' > \"$rep\"\n\
             echo cfg > \"$out\"\n",
        );
        p.freq_mhz = Some(120.0);
        p.allow_timing_fail = true;
        p.tmg_ripup = true;
        let mut notes = Vec::new();
        let start = Instant::now();
        let r = place_and_route(&tool, &mut p, None, 1, true, &mut |g| {
            if let Progress::Note { detail } = g {
                notes.push(detail);
            }
        })
        .unwrap();
        assert!((fmax(&r) - 116.4).abs() < 1e-9);
        assert!(
            notes.iter().any(|n| n.starts_with(
                "placer seed default stopped in timing-driven rip-up (routing is not converging"
            )),
            "{notes:#?}"
        );
        assert!(t.path().join("pnr/pnr.ripup.log").exists());
        assert!(p.tmg_ripup, "restored for the caller");
        assert!(start.elapsed().as_secs() < 300);
    }

    #[test]
    fn a_near_miss_suggests_other_seeds_and_a_far_one_does_not() {
        let near = timing_help(146.52, 150.0);
        assert!(
            near.contains("`--freq 146.5`") && near.contains("`--seeds 4`"),
            "{near}"
        );
        let far = timing_help(53.07, 120.0);
        assert!(
            far.contains("`--freq 53`") && !far.contains("--seeds"),
            "{far}"
        );
        assert!(far.contains("--allow-timing-fail"));
    }
}
