//! Scenario selection: `x-fake-scenario` header, else the first `[[scenario:NAME]]` marker in
//! the body, else `text`; `NAME_once` plays `NAME` the first time and `text` afterwards.

use crate::server::Shared;
use axum::http::HeaderMap;

/// Scenarios of `POST /backend-api/codex/responses`.
pub const CODEX_SCENARIOS: &[&str] = &[
    "text",
    "tools",
    "parallel_tools",
    "text_then_tool",
    "reasoning",
    "claude_code_write",
    "claude_code_agents",
    "subagent_reply",
    "read_part",
    "web_search",
    "usage_cache",
    "usage_null_details",
    "no_usage",
    "empty_output",
    "incomplete",
    "failed_context",
    "overload_in_200",
    "rate_limited_in_200",
    "error_event",
    "http_400",
    "http_401",
    "http_429",
    "http_429_plain",
    "http_500",
    "http_503",
    "cf_challenge",
    "mid_stream_drop",
    "stall",
    "stall_before_headers",
    "slow_drip",
    "seq_drip",
    "garbage",
    "unicode",
    "big",
    "empty",
];

/// Scenarios of `POST /v1/chat/completions` and `/api/openrouter/chat/completions`.
pub const CHAT_SCENARIOS: &[&str] = &[
    "text",
    "tools",
    "reasoning_then_tools",
    "reasoning_field",
    "usage_final_chunk",
    "length",
    "content_filter",
    "error_mid_stream",
    "garbage",
    "http_401",
    "http_429",
    "http_500",
    "claude_code_write",
    "mid_stream_drop",
    "stall",
    "slow_drip",
];

/// The scenario name the request asks for (before `_once` resolution).
pub(crate) fn requested(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(v) = headers.get("x-fake-scenario").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if !v.is_empty() {
            return Some(v.to_string());
        }
    }
    marker(body, "[[scenario:")
}

/// Text between `prefix` and the next `]]` in `body` (first occurrence).
pub(crate) fn marker(body: &[u8], prefix: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let at = text.find(prefix)? + prefix.len();
    let rest = &text[at..];
    let end = rest.find("]]")?;
    Some(rest[..end].to_string())
}

/// Resolve `_once` names (consumes the per-server "seen" mark) and check the name is known.
pub(crate) fn resolve(shared: &Shared, name: &str, known: &[&str]) -> Result<String, String> {
    let once_base = name.strip_suffix("_once");
    let base = once_base.unwrap_or(name);
    if !known.contains(&base) {
        return Err(format!(
            "fake: unknown scenario '{name}' (known: {})",
            known.join(", ")
        ));
    }
    if once_base.is_some() && !shared.lock().once_seen.insert(name.to_string()) {
        return Ok("text".to_string());
    }
    Ok(base.to_string())
}
