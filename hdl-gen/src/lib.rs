//! hdlgen: binary and spiking neural networks to verified FPGA hardware.
//!
//! Data flows one way: [`spec`] reads the YAML and weights, [`network`] checks the
//! chain of [`layers`] and derives shapes and value ranges, [`model`] runs the bit-exact
//! reference, built on the arithmetic of [`arith`].

pub mod arith;
pub mod build;
pub mod cosim;
pub mod encode;
pub mod error;
pub mod flow;
pub mod input;
pub mod layers;
pub mod model;
pub mod network;
pub mod protocol;
pub mod rtl;
pub mod spec;
pub mod tensor;

pub use error::{Error, SpecError};
pub use network::Network;
