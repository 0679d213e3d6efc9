//! Place and route with nextpnr (`--report` JSON: utilization and Fmax), and bitstream
//! packing with icepack / ecppack.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::device::Device;
use super::error::{FlowError, Result};
use super::tool::{Tool, ToolKind};
use super::{
    failed, prepare_dir, read_json, relative_to, remove_stale, run, run_following, Family,
};

/// File names in the build directory.
pub const LOG: &str = "pnr.log";
pub const REPORT: &str = "pnr.json";
pub const ASC: &str = "top.asc";
pub const TEXTCFG: &str = "top.config";
pub const BIN: &str = "top.bin";
pub const BIT: &str = "top.bit";
pub const PACK_LOG: &str = "pack.log";

/// What to place and route and where.
#[derive(Debug, Clone, PartialEq)]
pub struct PnrOptions {
    pub device: Device,
    /// The package; `None` takes the device's default (`sg48`, `ct256`, `CABGA381`…).
    pub package: Option<String>,
    /// The netlist from synthesis (`SynthReport::netlist`).
    pub netlist: PathBuf,
    /// A `.pcf` (iCE40) or `.lpf` (ECP5). Without one, nextpnr places the I/Os itself —
    /// enough to measure utilization and Fmax of a design not yet tied to a board. With one,
    /// every I/O must be constrained (add `--pcf-allow-unconstrained` /
    /// `--lpf-allow-unconstrained` to `extra_args` to relax that).
    pub constraints: Option<PathBuf>,
    /// Target clock frequency (`--freq`); `None` keeps nextpnr's default (12 MHz on iCE40).
    pub freq_mhz: Option<f64>,
    /// Succeed even when the target frequency is missed (`--timing-allow-fail`); the report
    /// then says `timing_met: false`. Otherwise a miss is [`FlowError::TimingFailed`].
    pub allow_timing_fail: bool,
    /// Placer seed (`--seed`); `None` keeps nextpnr's default (deterministic).
    pub seed: Option<u64>,
    /// Timing-driven rip-up in router1 (`--tmg-ripup`): critical arcs may take routes from
    /// others.
    pub tmg_ripup: bool,
    /// Further nextpnr options, one word each.
    pub extra_args: Vec<String>,
    /// The build directory (created if missing); the tool runs there.
    pub out_dir: PathBuf,
}

impl PnrOptions {
    /// Default package, no constraints, nextpnr's default frequency, a missed target is an
    /// error.
    pub fn new(device: Device, netlist: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> Self {
        PnrOptions {
            device,
            package: None,
            netlist: netlist.into(),
            constraints: None,
            freq_mhz: None,
            allow_timing_fail: false,
            seed: None,
            tmg_ripup: false,
            extra_args: Vec::new(),
            out_dir: out_dir.into(),
        }
    }
}

/// Used and available count of one kind of site (BEL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub used: u64,
    pub available: u64,
}

impl Usage {
    /// `used / available` (0 when nothing is available).
    pub fn fraction(&self) -> f64 {
        if self.available == 0 {
            0.0
        } else {
            self.used as f64 / self.available as f64
        }
    }
}

/// Achieved and target frequency of one clock net (its name differs per family and design,
/// e.g. `clk$SB_IO_IN_$glb_clk`, `$glbnet$clk$TRELLIS_IO_IN`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockFmax {
    pub net: String,
    pub achieved_mhz: f64,
    pub constraint_mhz: f64,
}

impl ClockFmax {
    pub fn met(&self) -> bool {
        self.achieved_mhz >= self.constraint_mhz
    }
}

/// One critical path of nextpnr's report, summarised: where it starts and ends, its
/// delay split into logic and routing, and the source lines of the nets on it (which tell a
/// reader which primitive to look at).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriticalPath {
    /// Clock edges, e.g. `posedge clk$SB_IO_IN_$glb_clk`.
    pub from_clock: String,
    pub to_clock: String,
    /// `cell.port` where the path starts and ends.
    pub start: String,
    pub end: String,
    pub delay_ns: f64,
    pub logic_ns: f64,
    pub routing_ns: f64,
    /// Cells passed through.
    pub cells: usize,
    /// Distinct `file:line` sources of the path's nets, in path order.
    pub sources: Vec<String>,
}

/// What nextpnr's `--report` says, plus where the files are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PnrReport {
    pub device: Device,
    pub package: String,
    /// Every BEL type in the report (`ICESTORM_LC`, `TRELLIS_COMB`, `DP16KD`, `SB_IO`…).
    pub utilization: BTreeMap<String, Usage>,
    /// One entry per clock, sorted by net name; empty for a design without clocked logic.
    pub clocks: Vec<ClockFmax>,
    /// The slowest clock's achieved frequency.
    pub fmax_mhz: Option<f64>,
    /// Every clock reached its target.
    pub timing_met: bool,
    /// nextpnr's critical path per clock pair, slowest first.
    pub critical_paths: Vec<CriticalPath>,
    /// Logic sites: `ICESTORM_LC` / `TRELLIS_COMB` (LUT4 slots; each `CCU2C` takes two).
    pub logic: Usage,
    /// `ICESTORM_RAM` / `DP16KD`.
    pub bram: Usage,
    /// `ICESTORM_DSP` / `MULT18X18D`.
    pub dsp: Usage,
    /// `ICESTORM_SPRAM` (zero on devices without).
    pub spram: Usage,
    /// `SB_IO` / `TRELLIS_IO`.
    pub io: Usage,
    pub seed: Option<u64>,
    pub tool: String,
    pub tool_version: String,
    pub log: PathBuf,
    pub report: PathBuf,
    /// `top.asc` (iCE40) or `top.config` (ECP5), the input of [`pack`].
    pub output: PathBuf,
    pub seconds: f64,
}

/// Where a running nextpnr is, from a line of its log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PnrStep {
    /// The analytic placer starts on `cells` cells.
    Placing { cells: u64 },
    /// Simulated-annealing refinement of the placement starts.
    Refining,
    /// Router1 starts on `arcs` arcs.
    Routing { arcs: u64 },
    /// Router1's progress: `left` arcs still queued after `seconds` of routing.
    ArcsLeft { left: u64, seconds: f64 },
    /// Router1's timing-driven rip-up (`--tmg-ripup`): every arc is routed, and `arcs` arcs
    /// of paths near or below zero slack are queued again; `wns_ns` is the worst slack
    /// (≤ 0) of the routing just finished. `arcs` 0 ends the routing.
    TimingRipup { arcs: u64, wns_ns: f64 },
    /// Router2's progress: wires still used by more than one net after iteration `iter`.
    Overused { iter: u64, wires: u64 },
    /// Routing finished.
    Routed,
}

impl PnrStep {
    /// The step a log line announces, if any (nextpnr 0.6-0.11 wording).
    pub fn parse(line: &str) -> Option<PnrStep> {
        let l = line.strip_prefix("Info:")?.trim();
        let num = |s: &str| s.trim().replace(',', "").parse::<u64>().ok();
        if let Some(r) = l.strip_prefix("Creating initial analytic placement for ") {
            return Some(PnrStep::Placing {
                cells: num(r.split_whitespace().next()?)?,
            });
        }
        if l.starts_with("Running simulated annealing placer") {
            return Some(PnrStep::Refining);
        }
        if let Some(r) = l.strip_prefix("Routing ") {
            if let Some(n) = r.strip_suffix(" arcs.") {
                return Some(PnrStep::Routing { arcs: num(n)? });
            }
        }
        // `1856 arcs ripped up due to negative slack WNS=-1.90ns TNS=-806.01ns.`
        if let Some((n, r)) = l.split_once(" arcs ripped up due to negative slack ") {
            let wns = r.strip_prefix("WNS=")?.split("ns").next()?;
            return Some(PnrStep::TimingRipup {
                arcs: num(n)?,
                wns_ns: wns.parse().ok()?,
            });
        }
        if l == "Routing complete." || l.starts_with("Router2 time") {
            return Some(PnrStep::Routed);
        }
        if let Some(r) = l.strip_prefix("iter=") {
            // `iter=12 wires=729893 overused=53563 overuse=69362 archfail=NA`
            let iter = num(r.split_whitespace().next()?)?;
            let wires = r
                .split_whitespace()
                .find_map(|w| w.strip_prefix("overused="))
                .and_then(num)?;
            return Some(PnrStep::Overused { iter, wires });
        }
        // Router1's table: `IterCnt | w/ripup wo/ripup | w/r wo/r | arcs | batch total |`.
        let cols: Vec<&str> = l.split('|').collect();
        if cols.len() >= 5 && num(cols[0]).is_some() {
            let left = num(cols[3])?;
            let seconds = cols[4].split_whitespace().nth(1)?.parse::<f64>().ok()?;
            return Some(PnrStep::ArcsLeft { left, seconds });
        }
        None
    }
}

/// Places and routes with the nextpnr [`Tool::find`] picks for the device's family.
pub fn pnr(opts: &PnrOptions) -> Result<PnrReport> {
    pnr_with(&Tool::find(ToolKind::nextpnr(opts.device.family))?, opts)
}

/// Places and routes with the given nextpnr.
pub fn pnr_with(nextpnr: &Tool, opts: &PnrOptions) -> Result<PnrReport> {
    pnr_following(nextpnr, opts, &mut |_| None)
}

/// Places and routes with the given nextpnr, handing `watch` each step its log announces
/// as it runs. When `watch` answers `Some(reason)`, nextpnr is stopped and the result is
/// [`FlowError::Stopped`] with that reason (its log stays).
pub fn pnr_following(
    nextpnr: &Tool,
    opts: &PnrOptions,
    watch: &mut dyn FnMut(PnrStep) -> Option<String>,
) -> Result<PnrReport> {
    let family = opts.device.family;
    if nextpnr.kind() != ToolKind::nextpnr(family) {
        return Err(FlowError::Options(format!(
            "{} needs {}, not {}",
            opts.device,
            ToolKind::nextpnr(family),
            nextpnr.kind()
        )));
    }
    let dir = prepare_dir(&opts.out_dir)?;
    let package = opts
        .package
        .clone()
        .unwrap_or_else(|| opts.device.package.to_string());
    if package.is_empty() || !package.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FlowError::Options(format!("invalid package {package:?}")));
    }
    let output = match family {
        Family::Ice40 => ASC,
        Family::Ecp5 => TEXTCFG,
    };
    let mut args: Vec<String> = vec![
        "-q".into(),
        "-l".into(),
        LOG.into(),
        opts.device.nextpnr_arg(),
        "--package".into(),
        package.clone(),
        "--json".into(),
        relative_to(&dir, &opts.netlist)?,
        match family {
            Family::Ice40 => "--asc",
            Family::Ecp5 => "--textcfg",
        }
        .into(),
        output.into(),
        "--report".into(),
        REPORT.into(),
    ];
    if let Some(c) = &opts.constraints {
        args.push(
            match family {
                Family::Ice40 => "--pcf",
                Family::Ecp5 => "--lpf",
            }
            .into(),
        );
        args.push(relative_to(&dir, c)?);
    }
    if let Some(f) = opts.freq_mhz {
        if !(f.is_finite() && f > 0.0) {
            return Err(FlowError::Options(format!(
                "target frequency must be positive, not {f} MHz"
            )));
        }
        args.push("--freq".into());
        args.push(f.to_string());
    }
    // No `--opt-timing` on iCE40: it raised the digits UP5K build from 47.9-48.3 to
    // 48.9-51.8 MHz before the serial transmitter's enables were registered and rare clock
    // enables became logic (`synth::ICE40_MIN_CE_USE`); since then it costs 1-7 s and
    // gives less (51.88 MHz with it, 52.16 without, same netlist).
    if opts.allow_timing_fail {
        args.push("--timing-allow-fail".into());
    }
    if let Some(s) = opts.seed {
        args.push("--seed".into());
        args.push(s.to_string());
    }
    if opts.tmg_ripup {
        args.push("--tmg-ripup".into());
    }
    for a in &opts.extra_args {
        if a.is_empty() || a.contains(char::is_whitespace) {
            return Err(FlowError::Options(format!(
                "nextpnr option {a:?} must be one word"
            )));
        }
        args.push(a.clone());
    }
    remove_stale(&dir, &[LOG, REPORT, output])?;
    let log = dir.join(LOG);
    let (ran, stopped) = run_following(nextpnr, &args, &dir, &log, &mut |line| {
        PnrStep::parse(line).and_then(&mut *watch)
    })?;
    if let Some(reason) = stopped {
        return Err(FlowError::Stopped {
            tool: nextpnr.to_string(),
            reason,
            log,
        });
    }
    let report_path = dir.join(REPORT);
    // nextpnr writes the report also when it exits 1 for a missed target.
    let parsed = read_json(&report_path)
        .and_then(|j| parse_report(&j, family).map_err(|m| FlowError::report(&report_path, m)));
    let (utilization, clocks, critical_paths) = match parsed {
        Ok(p) => p,
        Err(e) if ran.output.status.success() => return Err(e),
        Err(_) => return Err(failed(nextpnr, &ran, &dir, &log)),
    };
    let report = build(
        opts,
        nextpnr,
        package,
        utilization,
        (clocks, critical_paths),
        &dir,
        output,
        ran.seconds,
    );
    if ran.output.status.success() {
        return Ok(report);
    }
    if !report.timing_met && !opts.allow_timing_fail {
        let detail = report
            .clocks
            .iter()
            .filter(|c| !c.met())
            .map(|c| {
                format!(
                    "{} reached {:.2} MHz of {:.2} MHz",
                    c.net, c.achieved_mhz, c.constraint_mhz
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(FlowError::TimingFailed {
            detail,
            report: Box::new(report),
        });
    }
    Err(failed(nextpnr, &ran, &dir, &log))
}

#[allow(clippy::too_many_arguments)]
fn build(
    opts: &PnrOptions,
    nextpnr: &Tool,
    package: String,
    utilization: BTreeMap<String, Usage>,
    (clocks, critical_paths): (Vec<ClockFmax>, Vec<CriticalPath>),
    dir: &Path,
    output: &str,
    seconds: f64,
) -> PnrReport {
    let get = |k: &str| utilization.get(k).copied().unwrap_or_default();
    let (logic, bram, dsp, spram, io) = match opts.device.family {
        Family::Ice40 => (
            get("ICESTORM_LC"),
            get("ICESTORM_RAM"),
            get("ICESTORM_DSP"),
            get("ICESTORM_SPRAM"),
            get("SB_IO"),
        ),
        Family::Ecp5 => (
            get("TRELLIS_COMB"),
            get("DP16KD"),
            get("MULT18X18D"),
            Usage::default(),
            get("TRELLIS_IO"),
        ),
    };
    let fmax_mhz = clocks
        .iter()
        .map(|c| c.achieved_mhz)
        .min_by(|a, b| a.total_cmp(b));
    let timing_met = clocks.iter().all(ClockFmax::met);
    PnrReport {
        device: opts.device,
        package,
        utilization,
        clocks,
        fmax_mhz,
        timing_met,
        critical_paths,
        logic,
        bram,
        dsp,
        spram,
        io,
        seed: opts.seed,
        tool: nextpnr.to_string(),
        tool_version: nextpnr.version().to_string(),
        log: dir.join(LOG),
        report: dir.join(REPORT),
        output: dir.join(output),
        seconds,
    }
}

/// What [`parse_report`] reads.
type Parsed = (BTreeMap<String, Usage>, Vec<ClockFmax>, Vec<CriticalPath>);

/// Utilization, clocks and critical paths from nextpnr's `--report` JSON.
pub(crate) fn parse_report(j: &serde_json::Value, family: Family) -> Result<Parsed, String> {
    let util = j
        .get("utilization")
        .and_then(|u| u.as_object())
        .ok_or("no `utilization` object")?;
    let num = |v: &serde_json::Value, bel: &str, field: &str| -> Result<u64, String> {
        v.get(field)
            .and_then(|x| x.as_u64())
            .ok_or_else(|| format!("utilization.{bel}.{field} is not a count"))
    };
    let mut utilization = BTreeMap::new();
    for (bel, v) in util {
        utilization.insert(
            bel.clone(),
            Usage {
                used: num(v, bel, "used")?,
                available: num(v, bel, "available")?,
            },
        );
    }
    let logic = match family {
        Family::Ice40 => "ICESTORM_LC",
        Family::Ecp5 => "TRELLIS_COMB",
    };
    if !utilization.contains_key(logic) {
        return Err(format!("utilization has no `{logic}`"));
    }
    let mut clocks = Vec::new();
    if let Some(fmax) = j.get("fmax") {
        let fmax = fmax.as_object().ok_or("`fmax` is not an object")?;
        for (net, v) in fmax {
            let f = |field: &str| {
                v.get(field)
                    .and_then(|x| x.as_f64())
                    .ok_or_else(|| format!("fmax[{net:?}].{field} is not a number"))
            };
            clocks.push(ClockFmax {
                net: net.clone(),
                achieved_mhz: f("achieved")?,
                constraint_mhz: f("constraint")?,
            });
        }
    }
    let mut paths: Vec<CriticalPath> = j
        .get("critical_paths")
        .and_then(|c| c.as_array())
        .map(|a| a.iter().filter_map(critical_path).collect())
        .unwrap_or_default();
    paths.sort_by(|a, b| b.delay_ns.total_cmp(&a.delay_ns));
    Ok((utilization, clocks, paths))
}

/// One `critical_paths` entry; `None` when it is not shaped as nextpnr writes it.
fn critical_path(v: &serde_json::Value) -> Option<CriticalPath> {
    let steps = v.get("path")?.as_array()?;
    let end = |s: &serde_json::Value, k: &str| -> Option<String> {
        let e = s.get(k)?;
        Some(format!(
            "{}.{}",
            e.get("cell")?.as_str()?,
            e.get("port")?.as_str()?
        ))
    };
    let (mut logic, mut routing, mut cells) = (0.0, 0.0, 0usize);
    let mut sources: Vec<String> = vec![];
    for s in steps {
        let d = s.get("delay").and_then(|d| d.as_f64()).unwrap_or(0.0);
        match s.get("type").and_then(|t| t.as_str()) {
            Some("routing") => {
                routing += d;
                for src in s
                    .get("sources")
                    .and_then(|x| x.as_array())
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str())
                {
                    // `file.v:12.5-12.9` → `file.v:12`; library cells are noise.
                    let short = src.split('.').collect::<Vec<_>>();
                    let loc = match src.rsplit_once(':') {
                        Some((f, l)) => format!("{f}:{}", l.split('.').next().unwrap_or(l)),
                        None => src.to_string(),
                    };
                    if short.len() > 1 && !src.starts_with('/') && !sources.contains(&loc) {
                        sources.push(loc);
                    }
                }
            }
            _ => {
                logic += d;
                cells += 1;
            }
        }
    }
    Some(CriticalPath {
        from_clock: v.get("from")?.as_str()?.to_string(),
        to_clock: v.get("to")?.as_str()?.to_string(),
        start: end(steps.first()?, "from")?,
        end: end(steps.last()?, "to")?,
        delay_ns: logic + routing,
        logic_ns: logic,
        routing_ns: routing,
        cells,
        sources,
    })
}

/// A packed bitstream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackReport {
    /// `top.bin` (iCE40) / `top.bit` (ECP5, compressed), next to the place-and-route output.
    pub bitstream: PathBuf,
    pub tool: String,
    pub tool_version: String,
    /// The packer's console output (it has no log option).
    pub log: PathBuf,
    pub seconds: f64,
}

/// Packs the output of a place and route into a bitstream with the packer [`Tool::find`]
/// picks.
pub fn pack(pnr: &PnrReport) -> Result<PackReport> {
    pack_with(&Tool::find(ToolKind::pack(pnr.device.family))?, pnr)
}

/// Packs with the given icepack / ecppack.
pub fn pack_with(packer: &Tool, pnr: &PnrReport) -> Result<PackReport> {
    let family = pnr.device.family;
    if packer.kind() != ToolKind::pack(family) {
        return Err(FlowError::Options(format!(
            "{} bitstreams need {}, not {}",
            family,
            ToolKind::pack(family),
            packer.kind()
        )));
    }
    let dir = pnr
        .output
        .parent()
        .ok_or_else(|| FlowError::Options("place-and-route output has no directory".into()))?
        .to_path_buf();
    let dir = prepare_dir(&dir)?;
    let input = relative_to(&dir, &pnr.output)?;
    let (out, mut args): (&str, Vec<String>) = match family {
        Family::Ice40 => (BIN, vec![]),
        Family::Ecp5 => (BIT, vec!["--compress".into()]),
    };
    args.push(input);
    args.push(out.into());
    remove_stale(&dir, &[out, PACK_LOG])?;
    let ran = run(packer, &args, &dir)?;
    let log = dir.join(PACK_LOG);
    let console = format!(
        "{}{}",
        String::from_utf8_lossy(&ran.output.stdout),
        String::from_utf8_lossy(&ran.output.stderr)
    );
    std::fs::write(&log, console).map_err(|e| FlowError::io("write", &log, e))?;
    let bitstream = dir.join(out);
    if !ran.output.status.success() {
        return Err(failed(packer, &ran, &dir, &log));
    }
    if !bitstream.is_file() {
        return Err(FlowError::report(
            &bitstream,
            "the packer wrote no bitstream",
        ));
    }
    Ok(PackReport {
        bitstream,
        tool: packer.to_string(),
        tool_version: packer.version().to_string(),
        log,
        seconds: ran.seconds,
    })
}

/// A stand-in nextpnr-ecp5 for tests: a shell script that answers `--version` as 0.11.1
/// and otherwise runs `body`; with an empty `top.json` beside it and options for an 85F
/// writing into `pnr/` (the directory lives as long as the returned `TempDir`).
#[cfg(all(test, unix))]
pub(crate) fn stand_in_nextpnr(body: &str) -> (tempfile::TempDir, Tool, PnrOptions) {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::TempDir::new().unwrap();
    let exe = t.path().join("nextpnr-ecp5");
    std::fs::write(
        &exe,
        format!(
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then\n\
               echo 'nextpnr-ecp5 -- Next Generation Place and Route (Version 0.11.1)'; exit 0\n\
             fi\n{body}"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tool = Tool::at(ToolKind::NextpnrEcp5, &exe).unwrap();
    let netlist = t.path().join("top.json");
    std::fs::write(&netlist, "{}").unwrap();
    let device = *Device::by_name("85k").unwrap();
    let opts = PnrOptions::new(device, &netlist, t.path().join("pnr"));
    (t, tool, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_is_parsed() {
        let j: serde_json::Value = serde_json::from_str(
            r#"{"fmax": {"clk$SB_IO_IN_$glb_clk": {"achieved": 115.66, "constraint": 12}},
                "utilization": {"ICESTORM_LC": {"available": 5280, "used": 15},
                                 "ICESTORM_RAM": {"available": 30, "used": 0}}}"#,
        )
        .unwrap();
        let (u, c, paths) = parse_report(&j, Family::Ice40).unwrap();
        assert!(paths.is_empty());
        assert_eq!(
            u["ICESTORM_LC"],
            Usage {
                used: 15,
                available: 5280
            }
        );
        assert_eq!(c.len(), 1);
        assert!(c[0].met());
        assert!(parse_report(&j, Family::Ecp5).is_err());
        let bad: serde_json::Value =
            serde_json::from_str(r#"{"utilization": {"ICESTORM_LC": {"used": 1}}}"#).unwrap();
        assert!(parse_report(&bad, Family::Ice40).is_err());
    }

    /// A stand-in nextpnr-ecp5 that logs the start of routing and then hangs: the watch
    /// stops it from its log, and the run ends with the watch's reason.
    #[test]
    #[cfg(unix)]
    fn a_watch_stops_a_run_from_its_log() {
        let (_t, tool, opts) = stand_in_nextpnr(
            "while [ $# -gt 0 ]; do [ \"$1\" = -l ] && log=$2; shift; done\n\
             printf 'Info: Routing 1000 arcs.\\n' > \"$log\"\n\
             printf 'Info:  1000 | 10 990 | 10 990 |   900|  1.00  1.00|\\n' >> \"$log\"\n\
             exec sleep 600\n",
        );
        let mut heard = Vec::new();
        let start = std::time::Instant::now();
        let r = pnr_following(&tool, &opts, &mut |s| {
            heard.push(s);
            matches!(s, PnrStep::ArcsLeft { left: 900, .. }).then(|| "enough".to_string())
        });
        match r {
            Err(FlowError::Stopped { reason, log, .. }) => {
                assert_eq!(reason, "enough");
                assert!(log.ends_with("pnr/pnr.log"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            heard,
            [
                PnrStep::Routing { arcs: 1000 },
                PnrStep::ArcsLeft {
                    left: 900,
                    seconds: 1.0
                }
            ]
        );
        // Killed, not waited for.
        assert!(start.elapsed().as_secs() < 300);
    }

    #[test]
    fn log_lines_give_the_steps() {
        // Lines of nextpnr-ecp5 0.11.1 logs (router1 and router2 runs of MNIST on an 85F).
        let p = PnrStep::parse;
        assert_eq!(
            p("Info: Creating initial analytic placement for 37524 cells, random placement wirelen = 4313442."),
            Some(PnrStep::Placing { cells: 37524 })
        );
        assert_eq!(
            p("Info: Running simulated annealing placer for refinement."),
            Some(PnrStep::Refining)
        );
        assert_eq!(
            p("Info: Routing 152884 arcs."),
            Some(PnrStep::Routing { arcs: 152884 })
        );
        assert_eq!(
            p("Info:     131000 |    43107      87892 |  487   513 |    107153|      72.67    1657.03|"),
            Some(PnrStep::ArcsLeft { left: 107153, seconds: 1657.03 })
        );
        assert_eq!(
            p("Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|"),
            None
        );
        assert_eq!(
            p("Info:     iter=2 wires=763366 overused=33853 overuse=37234 archfail=NA"),
            Some(PnrStep::Overused {
                iter: 2,
                wires: 33853
            })
        );
        assert_eq!(
            p("Info:     1856 arcs ripped up due to negative slack WNS=-1.90ns TNS=-806.01ns."),
            Some(PnrStep::TimingRipup {
                arcs: 1856,
                wns_ns: -1.9
            })
        );
        assert_eq!(
            p("Info:     0 arcs ripped up due to negative slack WNS=0.00ns TNS=0.00ns."),
            Some(PnrStep::TimingRipup {
                arcs: 0,
                wns_ns: 0.0
            })
        );
        assert_eq!(p("Info: Routing complete."), Some(PnrStep::Routed));
        assert_eq!(p("Info: Routing globals..."), None);
        assert_eq!(p("Info: Routing.."), None);
        assert_eq!(p("Warning: Routing 12 arcs."), None);
    }

    #[test]
    fn critical_paths_are_summarised() {
        let j: serde_json::Value = serde_json::from_str(
            r#"{"utilization": {"ICESTORM_LC": {"available": 5280, "used": 15}},
                "critical_paths": [{"from": "posedge clk", "to": "posedge clk", "path": [
                  {"type": "clk-to-q", "delay": 0.5, "from": {"cell": "a", "port": "Q"}, "to": {"cell": "a", "port": "Q"}},
                  {"type": "routing", "delay": 1.25, "net": "n", "sources": ["top.v:12.3-12.9", "/share/ice40/cells_map.v:5.1-5.2"],
                   "from": {"cell": "a", "port": "Q"}, "to": {"cell": "b", "port": "I0"}},
                  {"type": "logic", "delay": 0.75, "from": {"cell": "b", "port": "I0"}, "to": {"cell": "b", "port": "O"}},
                  {"type": "setup", "delay": 0.25, "from": {"cell": "c", "port": "D"}, "to": {"cell": "c", "port": "D"}}]}]}"#,
        )
        .unwrap();
        let (_, _, p) = parse_report(&j, Family::Ice40).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].start, "a.Q");
        assert_eq!(p[0].end, "c.D");
        assert_eq!(p[0].delay_ns, 2.75);
        assert_eq!(p[0].routing_ns, 1.25);
        assert_eq!(p[0].cells, 3);
        assert_eq!(p[0].sources, vec!["top.v:12".to_string()]);
    }
}
