//! Generation entry point: folding → lowering → top + primitives + parameter images.

use serde::Serialize;

use super::estimate::{choose_folding, estimate, Estimate, Fabric};
use super::lower::{lower, lower_seq, Design, Fold};
use super::params::{encode, hex, UnitImage};
use super::top::{top, top_name, unit_file, TopOptions};
use crate::error::Error;
use crate::network::Network;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    /// LUT4 budget for the folding search (`None`: fastest folding).
    pub lut_budget: Option<u64>,
    /// Block RAMs the folding search may use, in `fabric`'s blocks (iCE40 EBR, ECP5
    /// DP16KD; `None`: any number).
    pub bram_budget: Option<u64>,
    /// Foldings to use instead of searching (one per compute layer).
    pub folds: Option<Vec<Fold>>,
    /// Taps on every inter-engine stream (co-simulation).
    pub taps: bool,
    /// Initialise memories from hex files written next to the Verilog.
    pub hex: bool,
    /// Popcount/adder tree register spacing (2: iCE40 48 MHz; 1: ECP5 150 MHz).
    pub reg_every: usize,
    /// Register the configuration bus once more at every engine that has parameters, so
    /// the broadcast bus does not cross the chip in one cycle (large designs otherwise
    /// miss timing on it: MNIST on an ECP5-85F, digits on an HX8K); writes land a cycle
    /// later. `build` (and `gen`/`sim`/`check --board`) always set it.
    pub cfg_regs: bool,
    /// For large, fast fabrics (ECP5 plans): a two-entry register slice (`hdlgen_skid`)
    /// on every stream between engines, so no handshake path spans two engines (the
    /// digits whole-window folding on an 85F was limited by an MVAU's output valid into
    /// the next window generator's issue logic; one cycle more latency per engine, the
    /// same interval), and per-engine copies of the reset and (with `cfg_regs`) of the
    /// configuration bus's address and data. Off on iCE40 plans: a UP5K has no cells to
    /// spare (the copies cost ~45 flip-flops an engine and tipped its placement over).
    pub replicate: bool,
    /// The logic the budget counts (iCE40 logic cells or ECP5 LUT4 slots).
    pub fabric: Fabric,
    /// Non-overlapping max-pooling on the stream itself (`hdlgen_rowpool`) instead of a
    /// window generator and `hdlgen_pool`: 54–80 % of the logic. iCE40 plans; ECP5
    /// plans keep the generator, whose every decision is a flip-flop (150 MHz).
    pub row_pool: bool,
    /// The layer-sequential engine (`hdlgen_xnet`) instead of the dataflow chain: for
    /// parts too small for a chain at the wanted throughput (MNIST on a UP5K).
    pub seq: Option<SeqOptions>,
}

/// How to build the layer-sequential engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqOptions {
    /// The sequencer's weights in SPRAM (iCE40 UltraPlus), else block RAM.
    pub spram: bool,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            lut_budget: None,
            bram_budget: None,
            folds: None,
            taps: false,
            hex: true,
            reg_every: 2,
            cfg_regs: false,
            replicate: false,
            fabric: Fabric::Ice40,
            row_pool: true,
            seq: None,
        }
    }
}

/// A generated design: files to write plus what produced them.
#[derive(Clone, Debug)]
pub struct Generated {
    pub design: Design,
    pub top_name: String,
    /// `(file name, contents)`: the top, the primitives it instantiates, hex images,
    /// `design.json`.
    pub files: Vec<(String, String)>,
    pub estimate: Estimate,
    pub images: Vec<UnitImage>,
}

impl Generated {
    /// Verilog sources in dependency order.
    pub fn verilog(&self) -> impl Iterator<Item = &(String, String)> {
        self.files.iter().filter(|f| f.0.ends_with(".v"))
    }
}

#[derive(Serialize)]
struct UnitJson<'a> {
    unit: usize,
    engine: &'a str,
    kind: String,
    width: usize,
    depth: usize,
    lanes: usize,
    file: String,
}

#[derive(Serialize)]
struct TapJson<'a> {
    tap: usize,
    engine: &'a str,
    layer: &'a str,
    shape: Vec<usize>,
    lane_bits: u32,
}

#[derive(Serialize)]
struct DesignJson<'a> {
    generator: String,
    network: &'a str,
    top: &'a str,
    cfg_fields: [u32; 3],
    units: Vec<UnitJson<'a>>,
    taps: Vec<TapJson<'a>>,
    estimate: &'a Estimate,
}

/// Generates the hardware for a checked BNN.
pub fn generate(net: &Network, opts: &GenOptions) -> Result<Generated, Error> {
    let design = match opts.seq {
        Some(so) => {
            let x = super::xseq::choose(net).map_err(|e| {
                Error::input(
                    net.src.name.clone(),
                    format!("no layer-sequential engine: {e}"),
                )
            })?;
            lower_seq(net, x, opts.reg_every, so.spram)?
        }
        None => lower_dataflow(net, opts)?,
    };
    finish(net, opts, design)
}

/// The dataflow chain: a folding (given or searched), lowered.
fn lower_dataflow(net: &Network, opts: &GenOptions) -> Result<Design, Error> {
    let folds = match &opts.folds {
        Some(f) => {
            let layers = super::lower::compute_layers(net);
            if f.len() != layers.len() {
                return Err(Error::input(
                    net.src.name.clone(),
                    format!(
                        "{} foldings given for {} compute layers",
                        f.len(),
                        layers.len()
                    ),
                ));
            }
            for ((d, _), fo) in layers.iter().zip(f) {
                if fo.pe == 0 || d.mh % fo.pe != 0 || !d.simd_ok(fo.simd) {
                    let whole = d.whole_window().map_or(String::new(), |w| {
                        format!(" (or be a multiple of them dividing the window, {w})")
                    });
                    return Err(Error::input(
                        net.src.name.clone(),
                        format!(
                            "layer `{}`: pe {} / simd {} must divide its {} outputs / {} input channels{whole}",
                            net.layers[d.layer].name, fo.pe, fo.simd, d.mh, d.cin
                        ),
                    ));
                }
            }
            f.clone()
        }
        None => choose_folding(
            net,
            opts.lut_budget,
            opts.bram_budget,
            opts.fabric,
            opts.reg_every,
            opts.replicate,
            opts.row_pool,
        )?,
    };
    lower(net, &folds, opts.reg_every, opts.row_pool)
}

/// The top, primitives, parameter images and `design.json` of a lowered design.
fn finish(net: &Network, opts: &GenOptions, design: Design) -> Result<Generated, Error> {
    let est = estimate(&design, opts.replicate);
    let images = encode(net, &design);
    let name = top_name(&design);
    let header = vec![
        format!(
            "{name}: network `{}` ({}), generated by hdlgen {}.",
            net.name,
            net.src.name,
            env!("CARGO_PKG_VERSION")
        ),
        "Do not edit: regenerate with `hdlgen gen`.".into(),
    ];
    let m = top(
        &design,
        &TopOptions {
            taps: opts.taps,
            cfg_regs: opts.cfg_regs,
            replicate: opts.replicate,
            hex_prefix: opts.hex.then(String::new),
            header,
            wconst: design
                .engines
                .iter()
                .map(|e| match &e.kind {
                    super::lower::Kind::Mvau { mvau, layer, .. } if mvau.logic() => {
                        Some(super::params::weight_constant(net, *layer, mvau))
                    }
                    _ => None,
                })
                .collect(),
        },
    );
    let prims = if design
        .engines
        .iter()
        .any(|e| matches!(e.kind, super::lower::Kind::Seq(_)))
    {
        super::lib::SEQ_NETWORK
    } else {
        super::lib::NETWORK
    };
    let top_text = super::print::module(&m);
    let mut files: Vec<(String, String)> = super::lib::used(prims, &[&top_text])
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    files.push((format!("{name}.v"), top_text));
    if opts.hex {
        for (u, img) in images.iter().enumerate() {
            files.push((unit_file(&design, u), hex(&design.units[u], img)));
        }
    }
    let (ub, wb, lb) = design.cfg_fields();
    let dj = DesignJson {
        generator: format!("hdlgen {}", env!("CARGO_PKG_VERSION")),
        network: &net.name,
        top: &name,
        cfg_fields: [ub, wb, lb],
        units: design
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| UnitJson {
                unit: i,
                engine: &design.engines[u.engine].name,
                kind: format!("{:?}", u.kind).to_lowercase(),
                width: u.width,
                depth: u.depth,
                lanes: u.lanes(),
                file: unit_file(&design, i),
            })
            .collect(),
        taps: design
            .engines
            .iter()
            .enumerate()
            .take(design.engines.len().saturating_sub(1))
            .map(|(k, e)| TapJson {
                tap: k,
                engine: &e.name,
                layer: &net.layers[e.last].name,
                shape: e.out_shape.dims(),
                lane_bits: e.output.bits,
            })
            .collect(),
        estimate: &est,
    };
    files.push((
        "design.json".into(),
        serde_json::to_string_pretty(&dj).expect("serialisable") + "\n",
    ));
    Ok(Generated {
        design,
        top_name: name,
        files,
        estimate: est,
        images,
    })
}
