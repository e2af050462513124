//! Wire types: serde types only, no behaviour.

pub mod anthropic;
pub mod responses;
