//! Hardware folding keys of compute layers (`pe`, `simd`): how many outputs and input
//! elements the layer's engine handles per cycle. The reference model ignores them; the
//! RTL lowering checks them against the layer's shapes (with their YAML location).

use crate::spec::decode::{size, Obj, R};
use crate::spec::source::Span;

/// A user-fixed folding value and where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed {
    pub value: usize,
    pub span: Span,
}

/// `pe` and `simd` as written (absent: the folding search picks them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FoldKeys {
    pub pe: Option<Fixed>,
    pub simd: Option<Fixed>,
}

/// The YAML keys compute layers accept for folding.
pub const KEYS: &[&str] = &["pe", "simd"];

impl FoldKeys {
    pub fn parse(o: &Obj) -> R<FoldKeys> {
        let get = |key: &str| -> R<Option<Fixed>> {
            o.get(key)
                .map(|n| {
                    Ok(Fixed {
                        value: size(o.cx, n, key)?,
                        span: n.span,
                    })
                })
                .transpose()
        };
        Ok(FoldKeys {
            pe: get("pe")?,
            simd: get("simd")?,
        })
    }
}
