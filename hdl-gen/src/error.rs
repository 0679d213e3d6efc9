//! Typed errors. Spec errors point into the YAML (miette renders file:line:col and the
//! snippet); the binary decides how to print them and which exit code they get.

use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use crate::spec::source::{Source, Span};

/// A problem in a network description, located in its YAML text.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
pub struct SpecError {
    pub message: String,
    #[source_code]
    pub src: NamedSource<Arc<String>>,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
    #[help]
    pub help: Option<String>,
    /// 1-based position of the span start, also for plain-text and JSON reports.
    pub line: usize,
    pub col: usize,
}

impl SpecError {
    pub fn new(src: &Source, span: Span, message: impl Into<String>) -> Box<Self> {
        let (line, col) = src.line_col(span.start);
        Box::new(SpecError {
            message: message.into(),
            src: src.named(),
            span: span.into(),
            label: "here".into(),
            help: None,
            line,
            col,
        })
    }
}

/// Builder sugar on boxed spec errors.
pub trait SpecErrorExt {
    fn with_label(self, l: impl Into<String>) -> Self;
    fn with_help(self, h: impl Into<String>) -> Self;
}

impl SpecErrorExt for Box<SpecError> {
    fn with_label(mut self, l: impl Into<String>) -> Self {
        self.label = l.into();
        self
    }
    fn with_help(mut self, h: impl Into<String>) -> Self {
        self.help = Some(h.into());
        self
    }
}

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Spec(Box<SpecError>),

    /// A problem in an input file given on the command line (not in the YAML).
    #[error("{}: {message}", path.display())]
    Input {
        path: PathBuf,
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An external tool (Verilator, yosys, nextpnr) is missing or failed.
    #[error("{message}")]
    Tool {
        message: String,
        #[help]
        help: Option<String>,
    },

    /// The FPGA flow (yosys, nextpnr, packers) is missing a tool or failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Flow(#[from] crate::flow::FlowError),

    /// The hardware computed something other than the reference model.
    #[error("{0}")]
    Mismatch(String),

    /// Place and route missed the requested clock (and the user did not allow it).
    #[error("{message}")]
    Timing {
        message: String,
        #[help]
        help: Option<String>,
    },
}

impl From<Box<SpecError>> for Error {
    fn from(e: Box<SpecError>) -> Self {
        Error::Spec(e)
    }
}

impl Error {
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
            help: None,
        }
    }
    pub fn with_help(mut self, h: impl Into<String>) -> Self {
        if let Error::Input { help, .. } = &mut self {
            *help = Some(h.into());
        }
        self
    }
    /// True for problems in what the user gave us (as opposed to the environment).
    pub fn is_user_error(&self) -> bool {
        matches!(self, Error::Spec(_) | Error::Input { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
