//! Reading network descriptions: YAML with spans, typed decoding, parameter files.
pub mod decode;
pub mod param;
pub mod source;
pub mod yaml;
