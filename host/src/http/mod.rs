//! The HTTP surface: the router, the shared state and error contract, the relay (the exchange
//! machine's driver), count_tokens, the admin API, metrics and the live request log.

pub mod admin;
pub mod lanes;
pub mod logs;
pub mod metrics;
pub mod relay;
pub mod server;
pub mod state;
pub mod tokens;
