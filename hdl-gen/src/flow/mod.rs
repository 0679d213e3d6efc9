//! Thin wrappers around the open FPGA flow: yosys ([`synth`]), nextpnr ([`pnr`]) and the
//! bitstream packers ([`pack`]), for iCE40 and ECP5.
//!
//! Each step runs in a build directory the caller names (`out_dir`), writes its script, log
//! and JSON report there under fixed names, and returns numbers read from the JSON files —
//! never from console output, which YoWASP builds may cut short. Every path handed to a tool
//! is relative to that directory (which is the tool's working directory): YoWASP tools see a
//! private `/tmp`, so an absolute `/tmp/...` path fails inside them while relative paths
//! reach the real file. The library prints nothing; reports carry how long each step took.
//!
//! Files written in `out_dir`:
//!
//! | step | files |
//! |---|---|
//! | [`synth`] | `synth.ys` (the script, re-runnable with `yosys -s synth.ys`), `synth.log`, `stat.json`, `top.json` (netlist; on ECP5 with block-RAM output registers folded in, [`netlist`]) |
//! | [`pnr`] | `pnr.log`, `pnr.json` (nextpnr `--report`), `top.asc` (iCE40) / `top.config` (ECP5) |
//! | [`pack`] | `top.bin` (iCE40) / `top.bit` (ECP5) |
//!
//! Tools are found by [`tool::Tool::find`]; `synth_with`/`pnr_with`/`pack_with` take one
//! the caller found (e.g. to force Debian's yosys).

pub mod board;
pub mod device;
pub mod error;
pub mod netlist;
pub mod patch;
pub mod pnr;
pub mod synth;
pub mod tool;

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use board::{Board, BOARDS};
pub use device::{Device, DEVICES};
pub use error::{FlowError, Result};
pub use pnr::{
    pack, pack_with, pnr, pnr_following, pnr_with, ClockFmax, CriticalPath, PackReport, PnrOptions,
    PnrReport, PnrStep, Usage,
};
pub use synth::{synth, synth_following, synth_with, SynthOptions, SynthReport};
pub use tool::{Origin, Tool, ToolKind};

/// FPGA family: selects the yosys `synth_*` command, the nextpnr and the packer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ice40,
    Ecp5,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Ice40 => "ice40",
            Family::Ecp5 => "ecp5",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Family {
    type Err = FlowError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ice40" => Ok(Family::Ice40),
            "ecp5" => Ok(Family::Ecp5),
            _ => Err(FlowError::Options(format!(
                "unknown FPGA family {s:?}; known: ice40, ecp5"
            ))),
        }
    }
}

/// How many log lines a [`FlowError::ToolFailed`] carries.
const TAIL_LINES: usize = 20;

/// Creates `dir` and returns its canonical path (the working directory of every tool).
fn prepare_dir(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| FlowError::io("create", dir, e))?;
    dir.canonicalize()
        .map_err(|e| FlowError::io("resolve", dir, e))
}

/// Removes outputs of an earlier run so a failed run cannot leave stale numbers behind.
fn remove_stale(dir: &Path, names: &[&str]) -> Result<()> {
    for n in names {
        let p = dir.join(n);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(FlowError::io("remove", p, e)),
        }
    }
    Ok(())
}

/// `file` relative to the canonical directory `dir`, as a UTF-8 string (it goes into scripts
/// and command lines). The file must exist.
fn relative_to(dir: &Path, file: &Path) -> Result<String> {
    let abs = file
        .canonicalize()
        .map_err(|e| FlowError::io("find", file, e))?;
    let rel = diff_paths(&abs, dir);
    rel.to_str()
        .map(str::to_string)
        .ok_or_else(|| FlowError::Options(format!("path {} is not valid UTF-8", abs.display())))
}

/// The relative path from `base` to `path` (both absolute and normalised).
fn diff_paths(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A finished tool run.
struct Ran {
    output: Output,
    seconds: f64,
}

/// Runs `tool` with `args` in `dir`. A non-zero exit is returned, not turned into an error:
/// callers decide (nextpnr's timing failure is special).
fn run(tool: &Tool, args: &[String], dir: &Path) -> Result<Ran> {
    let start = Instant::now();
    let output = Command::new(tool.path())
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| cannot_run(tool, e))?;
    Ok(Ran {
        output,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The error for a tool that could not be started.
fn cannot_run(tool: &Tool, e: std::io::Error) -> FlowError {
    FlowError::ToolMissing {
        tool: tool.kind().name(),
        var: tool.kind().env_var(),
        detail: format!("cannot run `{}`: {e}", tool.path().display()),
    }
}

/// How often [`run_following`] reads the log.
const POLL: Duration = Duration::from_millis(200);

/// Runs `tool` like [`run`], and meanwhile hands each complete new line of `log` (the file
/// the tool writes its log to) to `watch`. When `watch` answers `Some(reason)`, the tool is
/// stopped (killed) and the reason is returned with the run. The log, not the console, is
/// read: YoWASP tools may cut their console output short.
fn run_following(
    tool: &Tool,
    args: &[String],
    dir: &Path,
    log: &Path,
    watch: &mut dyn FnMut(&str) -> Option<String>,
) -> Result<(Ran, Option<String>)> {
    let start = Instant::now();
    let mut child = Command::new(tool.path())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| cannot_run(tool, e))?;
    // Drained on threads of their own, so a full pipe never blocks the tool.
    fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let waited = |e: std::io::Error| FlowError::io("wait for", tool.path(), e);
    let mut follow = LogFollower::new(log);
    let mut stopped = None;
    let status = loop {
        let done = child.try_wait().map_err(waited)?;
        for line in follow.poll() {
            if stopped.is_none() && done.is_none() {
                stopped = watch(&line);
            }
        }
        if let Some(s) = done {
            break s;
        }
        if stopped.is_some() {
            let _ = child.kill();
            break child.wait().map_err(waited)?;
        }
        std::thread::sleep(POLL);
    };
    // A stopped tool's children (a wrapper's) may hold its pipes open: do not wait for them.
    let join = |h: std::thread::JoinHandle<Vec<u8>>| {
        if stopped.is_some() {
            Vec::new()
        } else {
            h.join().unwrap_or_default()
        }
    };
    let output = Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    };
    Ok((
        Ran {
            output,
            seconds: start.elapsed().as_secs_f64(),
        },
        stopped,
    ))
}

/// Reads the lines a tool appends to its log file (which may not exist yet).
struct LogFollower {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogFollower {
    fn new(path: &Path) -> Self {
        LogFollower {
            path: path.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// The lines completed since the last call.
    fn poll(&mut self) -> Vec<String> {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let lines = String::from_utf8_lossy(&self.partial)
            .lines()
            .map(str::to_string)
            .collect();
        self.partial = rest;
        lines
    }
}

/// The error for a run that exited non-zero: the last lines of its log file, or of its
/// console output when the log is missing or empty.
fn failed(tool: &Tool, ran: &Ran, dir: &Path, log: &Path) -> FlowError {
    let text = std::fs::read_to_string(log)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| {
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&ran.output.stdout),
                String::from_utf8_lossy(&ran.output.stderr)
            )
        });
    FlowError::ToolFailed {
        tool: tool.to_string(),
        status: ran.output.status.to_string(),
        dir: dir.to_path_buf(),
        log: log.to_path_buf(),
        tail: tail(&text, TAIL_LINES),
    }
}

/// The last `n` non-blank lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Preparing to run"))
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| FlowError::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| FlowError::report(path, format!("not JSON: {e}")))
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| FlowError::report(path, e.to_string()))?;
    std::fs::write(path, bytes).map_err(|e| FlowError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let d = |a: &str, b: &str| diff_paths(Path::new(a), Path::new(b));
        assert_eq!(d("/w/m/a.v", "/w/m/target/x"), PathBuf::from("../../a.v"));
        assert_eq!(
            d("/w/m/target/x/a.v", "/w/m/target/x"),
            PathBuf::from("a.v")
        );
        assert_eq!(d("/tmp/t/a.v", "/w/m"), PathBuf::from("../../tmp/t/a.v"));
        assert_eq!(d("/w", "/w"), PathBuf::from("."));
    }

    #[test]
    fn tails() {
        let t = tail("Preparing to run x\na\n\nb\nc\n", 2);
        assert_eq!(t, "b\nc");
        assert_eq!(tail("a\n", 5), "a");
    }

    #[test]
    fn the_log_is_followed_line_by_line() {
        let dir = std::env::temp_dir().join(format!("hdlgen-follow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("x.log");
        let _ = std::fs::remove_file(&log);
        let mut f = LogFollower::new(&log);
        assert!(f.poll().is_empty(), "no file yet");
        std::fs::write(&log, "one\ntw").unwrap();
        assert_eq!(f.poll(), ["one"]);
        assert!(f.poll().is_empty(), "a partial line waits");
        std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
        assert_eq!(f.poll(), ["two", "three"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn families() {
        assert_eq!("ECP5".parse::<Family>().unwrap(), Family::Ecp5);
        assert!("xilinx".parse::<Family>().is_err());
    }
}
