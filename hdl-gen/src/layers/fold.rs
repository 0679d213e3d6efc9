//! Hardware folding keys of compute layers (`pe`, `simd`): how many outputs and input
//! elements the layer's engine handles per cycle. The reference model ignores them; the
//! RTL lowering checks them against the layer's shapes (with their YAML location).

use crate::spec::decode::{choice, size, Obj, R};
use crate::spec::source::Span;

/// A user-fixed folding value and where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed {
    pub value: usize,
    pub span: Span,
}

/// `pe` and `simd` as written (absent: the folding search picks them), and where the
/// weights live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FoldKeys {
    pub pe: Option<Fixed>,
    pub simd: Option<Fixed>,
    /// `store: logic`: weights (and fused thresholds stay loadable) folded into LUT logic as
    /// constants, not reloadable; default `bram` (block RAM, loadable at run time).
    pub logic: bool,
}

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
        let logic = match o.get("store") {
            None => false,
            Some(n) => {
                choice(
                    o.cx,
                    n,
                    "store",
                    &["bram", "logic"],
                    "`bram`: block RAM, loadable at run time; `logic`: constants in LUTs",
                )? == "logic"
            }
        };
        Ok(FoldKeys {
            pe: get("pe")?,
            simd: get("simd")?,
            logic,
        })
    }
}
