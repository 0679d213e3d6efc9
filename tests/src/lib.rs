//! Cross-crate tests for hdlgen: an independent naive reference model ([`naive`]) and
//! the comparison harness ([`check`]) used by the golden and property tests.

pub mod check;
pub mod naive;
