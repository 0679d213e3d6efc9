//! Co-simulation of generated Verilog with Verilator, driven from Rust.
//!
//! [`build`] Verilates a [`Design`] (Verilog given as text or files) into a shared library,
//! with a generated C++ shim exporting one `extern "C"` accessor per port, and loads it.
//! Libraries are cached by a content hash, so a second build of the same design only loads.
//!
//! ```no_run
//! use hdlgen_sim::{build, BuildOptions, Design};
//! let design = Design::new("counter").text("counter.v", "module counter(...); endmodule");
//! let model = build(&design, &BuildOptions::default())?;
//! let mut sim = model.instance()?;
//! let (clk, q) = (sim.port("clk")?, sim.port("q")?);
//! sim.tick(clk);
//! let value = sim.get(q);
//! # Ok::<(), hdlgen_sim::SimError>(())
//! ```
//!
//! Environment: `HDLGEN_VERILATOR` (the executable), `HDLGEN_SIM_CACHE` (cache directory),
//! `HDLGEN_SIM_BUILDS` (concurrent builds per cache directory), `OBJCACHE` (compiler
//! wrapper; `ccache` is used when on `PATH` unless this is set).

mod cache;
mod model;
mod shim;
mod tool;

pub use cache::{cache_dir, BUILDS_ENV, CACHE_ENV};
pub use model::{BuildInfo, Instance, Model, PortHandle};
pub use tool::{Verilator, VERILATOR_ENV};

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How to install the tools this crate runs.
pub const INSTALL_HINT: &str =
    "install with `scripts/install.sh` (or `apt-get install verilator g++ make ccache`)";

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{tool} not found: {detail}; {INSTALL_HINT}")]
    ToolMissing { tool: String, detail: String },
    #[error("invalid design: {0}")]
    Design(String),
    #[error("Verilator build of `{top}` failed:\n{log}")]
    Build { top: String, log: String },
    #[error("cannot load {}: {detail}", path.display())]
    Load { path: PathBuf, detail: String },
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{top}` has no port `{name}` (ports: {known})")]
    NoPort {
        top: String,
        name: String,
        known: String,
    },
    #[error("trace: {0}")]
    Trace(String),
}

impl SimError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    In,
    Out,
    InOut,
}

/// A port of the top module (read from the Verilated model, not declared by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Port {
    pub name: String,
    pub width: u32,
    pub dir: Dir,
}

/// One Verilog input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Generated text, written as `name` into the build directory. `.vh`/`.svh` files are
    /// only written (for `` `include ``), the others are also passed to Verilator.
    Text { name: String, text: String },
    /// A file on disk; its directory is added to the include path. Its content is part of
    /// the cache key; the content of files it includes is not.
    File(PathBuf),
}

/// The top module and its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Design {
    pub top: String,
    pub sources: Vec<Source>,
}

impl Design {
    pub fn new(top: impl Into<String>) -> Self {
        Self {
            top: top.into(),
            sources: Vec::new(),
        }
    }

    /// Adds generated Verilog text as file `name`.
    pub fn text(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.sources.push(Source::Text {
            name: name.into(),
            text: text.into(),
        });
        self
    }

    /// Adds a Verilog file.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.sources.push(Source::File(path.into()));
        self
    }

    fn check(&self) -> Result<(), SimError> {
        let bad = |m: String| Err(SimError::Design(m));
        let t = &self.top;
        let ident = t.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return bad(format!(
                "top module name {t:?} is not a plain Verilog identifier"
            ));
        }
        if self.sources.is_empty() {
            return bad("no sources".into());
        }
        let mut names = HashSet::new();
        for s in &self.sources {
            let Source::Text { name, .. } = s else {
                continue;
            };
            let plain = !name.is_empty()
                && !name.starts_with(['-', '.'])
                && !name.contains(['/', '\\', '\0'])
                && name != tool::SHIM_FILE;
            if !plain {
                return bad(format!("source name {name:?} must be a plain file name"));
            }
            if !names.insert(name) {
                return bad(format!("two sources are named {name:?}"));
            }
        }
        Ok(())
    }

    /// (name, text) of every source, files read from disk: the cache key's input.
    fn texts(&self) -> Result<Vec<(String, String)>, SimError> {
        self.sources
            .iter()
            .map(|s| match s {
                Source::Text { name, text } => Ok((name.clone(), text.clone())),
                Source::File(p) => {
                    // Absolute: the file's directory is on the include path.
                    let abs = std::path::absolute(p).map_err(|e| SimError::io("resolve", p, e))?;
                    let text =
                        std::fs::read_to_string(p).map_err(|e| SimError::io("read", p, e))?;
                    Ok((abs.display().to_string(), text))
                }
            })
            .collect()
    }
}

fn is_header(name: &str) -> bool {
    name.ends_with(".vh") || name.ends_with(".svh")
}

/// Writes text sources into `dir` (where Verilator runs) and returns Verilator's file
/// arguments: text sources by their relative names (so messages show those names), files
/// by absolute path, each preceded by `-I<its directory>`.
pub(crate) fn write_sources(design: &Design, dir: &Path) -> Result<Vec<PathBuf>, SimError> {
    design.check()?;
    let mut args = Vec::new();
    let mut incdirs = HashSet::new();
    for s in &design.sources {
        match s {
            Source::Text { name, text } => {
                let p = dir.join(name);
                std::fs::write(&p, text).map_err(|e| SimError::io("write", &p, e))?;
                if !is_header(name) {
                    args.push(PathBuf::from(name));
                }
            }
            Source::File(p) => {
                let abs = std::path::absolute(p).map_err(|e| SimError::io("resolve", p, e))?;
                if let Some(d) = abs.parent().filter(|d| incdirs.insert(d.to_path_buf())) {
                    let mut inc = std::ffi::OsString::from("-I");
                    inc.push(d);
                    args.push(PathBuf::from(inc));
                }
                args.push(abs);
            }
        }
    }
    Ok(args)
}

/// Waveform format compiled into the model (`--trace` / `--trace-fst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Trace {
    #[default]
    Off,
    Vcd,
    /// Smaller files; needs zlib headers (`zlib1g-dev`) at build time.
    Fst,
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Compile waveform support in (then [`Instance::trace_to`] works).
    pub trace: Trace,
    /// Overrides the cache directory (see [`cache_dir`]).
    pub cache_dir: Option<PathBuf>,
    /// `make -j` for one build; 0: the number of cores, at most 4.
    pub jobs: usize,
    /// Builds allowed at once per cache directory, across processes; 0: cores / jobs.
    /// `HDLGEN_SIM_BUILDS` overrides.
    pub max_builds: usize,
    /// Extra Verilator arguments, e.g. `-GWIDTH=8`, `--assert`, `-Wno-WIDTH`.
    pub verilator_args: Vec<String>,
    /// Optimisation flag for the model's C++ (Verilator's own default is `-Os`).
    pub cxx_opt: String,
    /// The Verilator executable; overrides `HDLGEN_VERILATOR` and `PATH`.
    pub verilator: Option<PathBuf>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            trace: Trace::Off,
            cache_dir: None,
            jobs: 0,
            max_builds: 0,
            verilator_args: Vec::new(),
            cxx_opt: "-O2".into(),
            verilator: None,
        }
    }
}

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Builds `design` (or loads it from the cache) into a [`Model`].
pub fn build(design: &Design, opts: &BuildOptions) -> Result<Model, SimError> {
    let start = Instant::now();
    design.check()?;
    let tool = match &opts.verilator {
        Some(p) => Verilator::at(p)?,
        None => Verilator::find()?,
    };
    let texts = design.texts()?;
    let key = cache::key(design, &texts, &tool, opts);
    let dir = cache::cache_dir(opts);
    std::fs::create_dir_all(&dir).map_err(|e| SimError::io("create cache directory", &dir, e))?;
    let dest = cache::lib_path(&dir, &design.top, &key);
    let info = |cached: bool, log: String| BuildInfo {
        cached,
        seconds: start.elapsed().as_secs_f64(),
        path: dest.clone(),
        verilator: tool.version().to_string(),
        log,
    };
    // A library that fails to load (truncated by a full disk, say) is rebuilt.
    let cached = || {
        dest.is_file()
            .then(|| Model::load(&dest, &design.top, info(true, String::new())).ok())
            .flatten()
    };
    if let Some(m) = cached() {
        return Ok(m);
    }
    let jobs = if opts.jobs > 0 {
        opts.jobs
    } else {
        cores().min(4)
    };
    let slot = cache::acquire_slot(&dir, cache::slots(opts, jobs))?;
    // Another process may have built it while this one waited.
    if let Some(m) = cached() {
        return Ok(m);
    }
    cache::remove_stale(&dir);
    let log = cache::build_into(design, &tool, opts, jobs, &dir, &dest)?;
    drop(slot);
    Model::load(&dest, &design.top, info(false, log))
}

/// `verilator --lint-only -Wall` with the default Verilator ([`Verilator::find`]); see
/// [`Verilator::lint`].
pub fn lint(design: &Design, extra_flags: &[&str]) -> Result<Vec<String>, SimError> {
    Verilator::find()?.lint(design, extra_flags)
}
