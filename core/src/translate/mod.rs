//! Conversions between the wire formats.

pub mod names;
pub mod request;
pub mod signature;
pub mod stream;
