//! A loaded network description: its text, its name for diagnostics and its folder
//! (weight files are relative to the YAML file).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};

/// Byte range in a [`Source`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }
}

impl From<Span> for SourceSpan {
    fn from(s: Span) -> Self {
        SourceSpan::new(s.start.into(), s.end - s.start)
    }
}

#[derive(Debug)]
pub struct Source {
    /// Name shown in diagnostics (the path as given).
    pub name: String,
    pub text: Arc<String>,
    /// Folder that relative weight paths are resolved against.
    pub dir: PathBuf,
}

impl Source {
    pub fn new(name: impl Into<String>, text: String, dir: impl Into<PathBuf>) -> Self {
        Source {
            name: name.into(),
            text: Arc::new(text),
            dir: dir.into(),
        }
    }

    pub fn named(&self) -> NamedSource<Arc<String>> {
        NamedSource::new(self.name.clone(), self.text.clone()).with_language("yaml")
    }

    /// 1-based line and column of a byte offset (for plain-text reports).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    pub fn resolve(&self, rel: &str) -> PathBuf {
        let p = Path::new(rel);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }
}
