//! proxy-core: the pure translator of codex-claude-proxy.
//!
//! Anthropic Messages ⇄ Codex Responses (and, later, Chat Completions), with no IO, no clock
//! and no global state: time and randomness come in as arguments, so the same input gives the
//! same bytes on every target (x86_64, wasm32-unknown-unknown, wasm32-wasip1).
//!
//! Entry points:
//! - [`convert_request`]: an Anthropic request → a Codex body, plus degradations.
//! - [`ResponsesTranslator`]: Codex SSE bytes → Anthropic [`StreamEvent`]s (push/poll).
//! - [`Aggregator`]: stream events → one non-streaming Message.
//! - [`map_upstream_error`], [`RateLimits`]: failures and quota headers.
//! - [`RoutingTable`]: model ids → lanes.
//! - [`oauth`]: PKCE, authorize URL, token bodies, JWT claims.
//!
//! The map of modules and their invariants is `docs/ARCHITECTURE.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounts;
mod aggregate;
pub mod catalog;
pub mod claude_settings;
pub mod continuation;
mod degrade;
mod error;
pub mod exchange;
pub mod hex;
pub mod import;
pub mod oauth;
pub mod providers;
pub mod quota;
mod routing;
pub mod sse;
pub mod tokens;
pub mod translate;
mod upstream_error;
mod validate;
pub mod wire;

pub use aggregate::Aggregator;
pub use degrade::{Converted, Degradation, DegradationKind};
pub use error::{ErrorType, RequestError, error_body};
pub use routing::{
    CLAUDE_MODELS, Lane, Route, RoutingTable, Rule, models_page, models_page_with,
    wants_hosted_tools,
};
pub use translate::EventTranslator;
pub use translate::chat_request::{
    ChatOptions, ChatRequest, convert_chat_request, convert_chat_request_fast,
    convert_chat_request_value,
};
pub use translate::chat_stream::{ChatStreamOptions, ChatTranslator};
pub use translate::names::{ToolNames, wire_call_id, wire_tool_name};
pub use translate::openai_in::{convert_openai_request, convert_openai_request_value};
pub use translate::openai_out::{OpenAiStream, openai_error};
pub use translate::request::{
    AGENT_HEADER, CodexRequest, Profile, RequestOptions, SESSION_HEADERS, agent_session_key,
    convert_request, convert_request_fast, convert_request_value, request_session, session_key,
};
pub use translate::stream::{
    ResponsesTranslator, StreamOptions, convert_usage, error_type_for_code,
};
pub use upstream_error::{Action, RateLimits, UpstreamError, Window, map_upstream_error};
pub use validate::{openai_request_error, validate_chat_completions, validate_messages};
pub use wire::anthropic::{BlockStart, Delta, ErrorBody, StopReason, StreamEvent, Usage};
