//! Finding and running Verilator (and `make`, which builds what Verilator writes).

use crate::{Design, SimError, Trace};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// Environment variable naming the Verilator executable (else `verilator` on `PATH`).
pub const VERILATOR_ENV: &str = "HDLGEN_VERILATOR";

/// A Verilator executable whose `--version` was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verilator {
    path: PathBuf,
    version: String,
}

impl Verilator {
    /// `$HDLGEN_VERILATOR` if set, else `verilator` on `PATH`.
    pub fn find() -> Result<Self, SimError> {
        match std::env::var_os(VERILATOR_ENV).filter(|v| !v.is_empty()) {
            Some(p) => Self::at(p),
            None => Self::at("verilator"),
        }
    }

    /// The executable at `path` (a bare name is looked up on `PATH`). The version is read
    /// once per path and process: a cached build should not pay for a Perl start-up.
    pub fn at(path: impl AsRef<OsStr>) -> Result<Self, SimError> {
        static SEEN: OnceLock<Mutex<HashMap<OsString, String>>> = OnceLock::new();
        let path = path.as_ref();
        let seen = SEEN.get_or_init(Default::default);
        if let Some(v) = seen.lock().ok().and_then(|m| m.get(path).cloned()) {
            return Ok(Self {
                path: path.into(),
                version: v,
            });
        }
        let out =
            Command::new(path)
                .arg("--version")
                .output()
                .map_err(|e| SimError::ToolMissing {
                    tool: "verilator".into(),
                    detail: format!("cannot run `{}`: {e}", path.to_string_lossy()),
                })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.lines().next().unwrap_or("").trim().to_string();
        let major = version
            .strip_prefix("Verilator ")
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse::<u32>().ok());
        match major {
            Some(m) if m >= 5 && out.status.success() => {}
            _ => {
                return Err(SimError::ToolMissing {
                    tool: "verilator".into(),
                    detail: format!(
                        "`{} --version` printed {version:?}; need Verilator 5 or later",
                        path.to_string_lossy()
                    ),
                })
            }
        }
        if let Ok(mut m) = seen.lock() {
            m.insert(path.into(), version.clone());
        }
        Ok(Self {
            path: path.into(),
            version,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first line of `--version`, e.g. `Verilator 5.006 2023-01-22 rev (Debian 5.006-3)`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `verilator --lint-only -Wall` on the design; returns the warnings (each with its
    /// source excerpt), empty when clean. Errors (syntax, unknown modules) are
    /// [`SimError::Build`].
    pub fn lint(&self, design: &Design, extra_flags: &[&str]) -> Result<Vec<String>, SimError> {
        let dir = tempfile::Builder::new()
            .prefix("hdlgen-lint-")
            .tempdir()
            .map_err(|e| SimError::io("create a temporary directory", std::env::temp_dir(), e))?;
        let files = crate::write_sources(design, dir.path())?;
        let mut cmd = Command::new(&self.path);
        // -Wno-fatal: report warnings and exit 0, so a non-zero exit means a real error.
        cmd.args(["--lint-only", "-Wall", "-Wno-fatal", "--top-module"])
            .arg(&design.top)
            .args(extra_flags)
            .args(&files)
            .current_dir(dir.path());
        let out = run(&mut cmd, "verilator")?;
        let log = log_of(&out);
        if !out.status.success() {
            return Err(SimError::Build {
                top: design.top.clone(),
                log,
            });
        }
        Ok(warnings(&log))
    }

    /// Step 1 of a build: Verilate `files` into `obj` (C++ and a Makefile for `lib`).
    pub(crate) fn verilate(
        &self,
        top: &str,
        files: &[PathBuf],
        trace: Trace,
        extra: &[String],
        workdir: &Path,
    ) -> Result<String, SimError> {
        let mut cmd = Command::new(&self.path);
        cmd.args([
            "--cc",
            "--exe",
            "-Mdir",
            "obj",
            "--top-module",
            top,
            "-Wno-fatal",
        ]);
        match trace {
            Trace::Off => {}
            Trace::Vcd => {
                cmd.arg("--trace");
            }
            Trace::Fst => {
                cmd.arg("--trace-fst");
            }
        }
        cmd.args(["-CFLAGS", CFLAGS, "-LDFLAGS", LDFLAGS, "-o", &lib_name(top)])
            .args(extra)
            .args(files)
            .arg(SHIM_FILE)
            .current_dir(workdir);
        let out = run(&mut cmd, "verilator")?;
        let log = log_of(&out);
        if out.status.success() {
            Ok(log)
        } else {
            Err(SimError::Build {
                top: top.into(),
                log,
            })
        }
    }
}

/// -fPIC/-shared: a loadable library instead of an executable. Hidden visibility keeps
/// Verilator's runtime private to each library; the shim exports only its `hs_*` symbols.
/// VL_USER_*: the shim replaces `$finish`/`$stop`/fatal handling. --no-undefined: a missing
/// symbol fails the build, not the load.
pub(crate) const CFLAGS: &str =
    "-fPIC -fvisibility=hidden -DVL_USER_FINISH -DVL_USER_STOP -DVL_USER_FATAL";
pub(crate) const LDFLAGS: &str = "-shared -Wl,--no-undefined";

/// The shim's file name in the build directory (named on Verilator's command line before it
/// exists: it is generated from the header Verilator writes).
pub(crate) const SHIM_FILE: &str = "hdlgen_shim.cpp";

pub(crate) fn lib_name(top: &str) -> String {
    format!("lib{top}.so")
}

/// Step 2 of a build: compile and link with the Makefile Verilator wrote.
pub(crate) fn make(top: &str, obj: &Path, jobs: usize, cxx_opt: &str) -> Result<String, SimError> {
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(obj)
        .arg("-f")
        .arg(format!("V{top}.mk"))
        .arg(format!("-j{}", jobs.max(1)))
        // OPT_FAST: the model's code (Verilator's default is -Os).
        .arg(format!("OPT_FAST={cxx_opt}"));
    // OBJCACHE is read by Verilator's Makefile; an explicit setting (even empty) wins.
    if std::env::var_os("OBJCACHE").is_none() && on_path("ccache") {
        cmd.env("OBJCACHE", "ccache");
    }
    let out = run(&mut cmd, "make")?;
    let log = log_of(&out);
    if out.status.success() {
        return Ok(log);
    }
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    if !on_path(&cxx) && !Path::new(&cxx).is_file() {
        return Err(SimError::ToolMissing {
            tool: cxx.clone(),
            detail: format!("`{cxx}` (the C++ compiler) is not on PATH"),
        });
    }
    Err(SimError::Build {
        top: top.into(),
        log,
    })
}

fn run(cmd: &mut Command, tool: &str) -> Result<Output, SimError> {
    cmd.output().map_err(|e| SimError::ToolMissing {
        tool: tool.into(),
        detail: format!("cannot run `{}`: {e}", cmd.get_program().to_string_lossy()),
    })
}

fn log_of(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    let so = String::from_utf8_lossy(&out.stdout);
    if !so.trim().is_empty() {
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&so);
    }
    s
}

pub(crate) fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// Splits Verilator output into warnings: each starts at a `%Warning` line and runs until the
/// next `%` line (the lines in between are its source excerpt and hints).
fn warnings(log: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_warning = false;
    for line in log.lines() {
        if line.starts_with('%') {
            in_warning = line.starts_with("%Warning");
            if in_warning {
                out.push(line.to_string());
            }
        } else if in_warning {
            if let Some(w) = out.last_mut() {
                w.push('\n');
                w.push_str(line);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn warnings_are_grouped() {
        let log = "%Warning-UNUSED: a.v:3:9: Signal is not used: 'x'\n    3 | wire x;\n\
                   %Warning-WIDTH: a.v:4:1: oops\n%Error: Exiting\nnot part\n";
        let w = super::warnings(log);
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with("%Warning-UNUSED") && w[0].ends_with("wire x;"));
        assert_eq!(w[1], "%Warning-WIDTH: a.v:4:1: oops");
    }
}
