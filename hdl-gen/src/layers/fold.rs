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

/// Where a compute layer's weights live (`store`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Store {
    /// Block RAM (or flip-flops for at most 4 words), in the bitstream and loadable at
    /// run time.
    #[default]
    Bram,
    /// Constants folded into LUT logic (fused thresholds stay loadable); not reloadable.
    Logic,
    /// iCE40 UltraPlus single-port RAM (`SB_SPRAM256KA`, 16 bits × 16K words): large
    /// layers on a UP5K. An SPRAM has no initial contents in the bitstream, so the weights
    /// are written over the configuration bus after configuration.
    Spram,
}

/// `pe` and `simd` as written (absent: the folding search picks them), and where the
/// weights live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FoldKeys {
    pub pe: Option<Fixed>,
    pub simd: Option<Fixed>,
    pub store: Store,
    /// Where `store` was written (for errors about it).
    pub store_span: Option<Span>,
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
        let (store, store_span) = match o.get("store") {
            None => (Store::Bram, None),
            Some(n) => {
                let s = match choice(
                    o.cx,
                    n,
                    "store",
                    &["bram", "logic", "spram"],
                    "`bram`: block RAM, loadable at run time; `logic`: constants in LUTs; `spram`: iCE40 UltraPlus SPRAM, written after configuration",
                )? {
                    "logic" => Store::Logic,
                    "spram" => Store::Spram,
                    _ => Store::Bram,
                };
                (s, Some(n.span))
            }
        };
        Ok(FoldKeys {
            pe: get("pe")?,
            simd: get("simd")?,
            store,
            store_span,
        })
    }
}
