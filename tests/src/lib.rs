//! Cross-crate tests for hdlgen: an independent naive reference model ([`naive`]) and
//! the comparison harness ([`check`]) used by the golden and property tests; [`wide`]
//! packs values for wide Verilator ports; [`window`] is the harness of the two
//! window-generator tests.

pub mod check;
pub mod naive;
pub mod wide;
pub mod window;
