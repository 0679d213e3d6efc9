//! The flow's typed errors. Every message names what to do next: the install command for a
//! missing tool, the variable for a bad override, the log (and its last lines) for a failed
//! run.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use super::pnr::PnrReport;

/// The command that installs every tool the flow uses.
pub const INSTALL_HINT: &str = "run `bash scripts/install.sh` to install it";

#[derive(Debug, Error, Diagnostic)]
pub enum FlowError {
    /// No usable executable was found (the override variable was not set).
    #[error("{tool} not found ({detail}); {INSTALL_HINT}, or set {var} to its path")]
    ToolMissing {
        tool: &'static str,
        var: &'static str,
        /// What was tried and why each candidate was rejected.
        detail: String,
    },

    /// An environment override (`HDLGEN_YOSYS`, `HDLGEN_VENV`, …) names something unusable.
    #[error("{var} is set to {value:?}, but {detail}")]
    #[diagnostic(help(
        "point {var} at a working {what}, or unset it to use the tools that \
         `bash scripts/install.sh` installs"
    ))]
    BadOverride {
        var: &'static str,
        value: String,
        /// What the variable should name (`yosys executable`, `Python venv`).
        what: &'static str,
        detail: String,
    },

    /// The tool ran and exited with an error.
    #[error("{tool} failed ({status}) in {}; the end of {}:\n{tail}", dir.display(), log.display())]
    ToolFailed {
        tool: String,
        status: String,
        dir: PathBuf,
        log: PathBuf,
        /// The last lines of the log file (or of the console output when there is no log).
        tail: String,
    },

    /// The caller stopped the run before it finished (nextpnr's router not converging);
    /// `reason` says why.
    #[error("{tool} stopped: {reason} (log {})", log.display())]
    Stopped {
        tool: String,
        reason: String,
        log: PathBuf,
    },

    /// Place and route finished but missed the target frequency, and
    /// `allow_timing_fail` was off. The report is complete (nextpnr writes it anyway).
    #[error("timing not met: {detail} (see {})", report.log.display())]
    #[diagnostic(help(
        "lower the target frequency, or allow a missed target (`--timing-allow-fail`)"
    ))]
    TimingFailed {
        detail: String,
        report: Box<PnrReport>,
    },

    /// Options that cannot be turned into a safe command line (names, values, devices).
    #[error("{0}")]
    Options(String),

    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The new design differs from the built one by more than block-RAM contents, so its
    /// bitstream cannot be patched (`flow::patch::plan`).
    #[error("the bitstream cannot be patched: {}", reasons.join("; "))]
    #[diagnostic(help("run a full build (synthesis, place and route)"))]
    NotPatchable { reasons: Vec<String> },

    /// A memory's old contents are not in the bitstream: it was not built from those
    /// images (or synthesis stored the memory differently).
    #[error("{memory}: its contents were not found in {}: {detail}", bitstream.display())]
    #[diagnostic(help(
        "run a full build; the bitstream does not hold the images it was patched from"
    ))]
    PatchNotFound {
        memory: String,
        bitstream: PathBuf,
        detail: String,
    },

    /// A memory's old contents occur more than once in the bitstream (or two 256/512-row
    /// bit columns are equal), so the patch tool cannot tell where to write.
    #[error("{memory}: its contents are ambiguous in {}: {detail}", bitstream.display())]
    #[diagnostic(help(
        "run a full build; rows of the memory that are all data (no filler) repeat a pattern"
    ))]
    PatchAmbiguous {
        memory: String,
        bitstream: PathBuf,
        detail: String,
    },

    /// Old and new images of a memory do not have the same shape.
    #[error("{memory}: {detail}")]
    ImageMismatch { memory: String, detail: String },

    /// The patch tool's output is not the bitstream expected from the swap (checked bit by
    /// bit), or it wrote none.
    #[error("{tool} produced an unexpected result in {}: {detail}", bitstream.display())]
    #[diagnostic(help("run a full build"))]
    PatchVerify {
        tool: String,
        bitstream: PathBuf,
        detail: String,
    },

    /// A JSON report the tool wrote is missing or not in the expected shape.
    #[error("{}: {message}", path.display())]
    Report { path: PathBuf, message: String },
}

impl FlowError {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FlowError::Io {
            what,
            path: path.into(),
            source,
        }
    }
    pub(crate) fn report(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        FlowError::Report {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = FlowError> = std::result::Result<T, E>;
