//! Faithful local fakes of the proxy's upstreams, all served by one [`FakeServer`] on
//! 127.0.0.1: the ChatGPT Codex backend (`/backend-api/...`), the OpenAI OAuth issuer
//! (`/oauth/...`, `/api/accounts/deviceauth/...`) and an OpenAI-compatible Chat Completions
//! provider (`/v1/chat/completions`, `/api/openrouter/...`).
//!
//! Scenarios are chosen per request by the `x-fake-scenario` header or the first
//! `[[scenario:NAME]]` marker in the body (default `text`); see `README.md`.

mod chat;
mod codex;
mod codex_sse;
pub mod codex_ws;
pub mod faults;
pub mod http1;
mod jwt;
pub mod load;
mod oauth;
pub mod replay;
mod scenarios;
mod server;
pub mod spawn;
mod util;

pub use jwt::CLIENT_ID;
pub use scenarios::{CHAT_SCENARIOS, CODEX_SCENARIOS};
pub use server::{FakeConfig, FakeServer, Logged};
