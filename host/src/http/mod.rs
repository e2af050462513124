//! The HTTP surface: the router, the shared state and error contract, the relay (the exchange
//! machine's driver), count_tokens, the admin API and the dashboard's own routes, metrics, the
//! live request log, and the dashboard's embedded files.

pub mod admin;
pub mod body_deadline;
pub mod codex_ws;
pub mod dashboard;
pub mod key_files;
pub mod lanes;
pub mod listen;
pub mod logs;
pub mod metrics;
pub mod relay;
pub mod server;
pub mod state;
pub mod tokens;
pub mod ui;
pub mod upstream_http;
pub mod zstd_body;
