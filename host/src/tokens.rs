//! `POST /v1/messages/count_tokens`: the tokens of the payload that would actually go
//! upstream, counted with the o200k tokenizer (the GPT-5 family's).
//!
//! Counting rule (documented for users in the README): instructions, every text, tool
//! arguments and tool outputs are tokenized; each input item adds 4 tokens of framing; each
//! tool counts the tokens of its JSON definition; an image counts 765 tokens (a 1024×1024
//! image at OpenAI's high detail); a file counts one token per 4 bytes of its base64 data.
//! No upstream account is touched.

use crate::server::{AppState, authorized, error_response, parse_body};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use proxy_core::{
    ChatOptions, ErrorType, Lane, RequestOptions, convert_chat_request_value, convert_request_value,
};
use serde_json::{Value, json};
use std::sync::Arc;

const IMAGE_TOKENS: usize = 765;
const ITEM_OVERHEAD: usize = 4;

fn count_text(t: &str) -> usize {
    if t.is_empty() {
        return 0;
    }
    tiktoken::get_encoding("o200k_base").map_or(t.len() / 4, |enc| enc.count(t))
}

fn count_value(v: &Value) -> usize {
    match v {
        Value::String(s) => count_text(s),
        Value::Array(a) => a.iter().map(count_value).sum(),
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("input_image") => IMAGE_TOKENS,
            Some("input_file") => o
                .get("file_data")
                .and_then(Value::as_str)
                .map_or(IMAGE_TOKENS, |d| d.len() / 4),
            _ => {
                ["text", "arguments", "output", "name", "encrypted_content"]
                    .iter()
                    .filter_map(|k| o.get(*k))
                    .map(count_value)
                    .sum::<usize>()
                    + o.get("content").map_or(0, count_value)
                    + o.get("summary").map_or(0, count_value)
            }
        },
        _ => 0,
    }
}

/// Tokens of a converted Codex body.
pub fn count_body(body: &serde_json::Map<String, Value>) -> usize {
    let instructions = body.get("instructions").map_or(0, count_value);
    let items = body.get("input").and_then(Value::as_array).map_or(0, |a| {
        a.iter().map(|i| count_value(i) + ITEM_OVERHEAD).sum()
    });
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map_or(0, |a| a.iter().map(|t| count_text(&t.to_string())).sum());
    instructions + items + tools
}

/// The handler.
pub async fn count_tokens(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(e) = authorized(&st.cfg, &headers) {
        return e.into_response();
    }
    let Ok(body) = body else {
        return error_response(ErrorType::RequestTooLarge, "request body too large", None);
    };
    let mut value = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let model = value
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let route = st.route(&model);
    if value.get("max_tokens").is_none() {
        value["max_tokens"] = json!(1);
    }
    let counted = match route.lane {
        Lane::Codex => convert_request_value(value, &RequestOptions::new(route.model.clone()))
            .map(|c| count_body(&c.value.body)),
        Lane::Chat => convert_chat_request_value(value, &ChatOptions::new(route.model.clone()))
            .map(|c| count_chat_body(&c.value.body)),
    };
    match counted {
        Ok(n) => axum::Json(json!({"input_tokens": n})).into_response(),
        Err(e) => error_response(e.error_type(), &e.to_string(), None),
    }
}

/// Tokens of a converted Chat Completions body (same rule as [`count_body`]).
pub fn count_chat_body(body: &serde_json::Map<String, Value>) -> usize {
    let part = |p: &Value| match p.get("type").and_then(Value::as_str) {
        Some("image_url") => IMAGE_TOKENS,
        Some("file") => p["file"]["file_data"]
            .as_str()
            .map_or(IMAGE_TOKENS, |d| d.len() / 4),
        _ => p.get("text").map_or(0, count_value),
    };
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, |ms| {
            ms.iter()
                .map(|m| {
                    let content = match m.get("content") {
                        Some(Value::Array(parts)) => parts.iter().map(part).sum(),
                        Some(c) => count_value(c),
                        None => 0,
                    };
                    let calls: usize =
                        m.get("tool_calls")
                            .and_then(Value::as_array)
                            .map_or(0, |cs| {
                                cs.iter()
                                    .map(|c| {
                                        count_value(&c["function"]["arguments"])
                                            + count_value(&c["function"]["name"])
                                    })
                                    .sum()
                            });
                    let reasoning = m.get("reasoning_content").map_or(0, count_value);
                    content + calls + reasoning + ITEM_OVERHEAD
                })
                .sum()
        });
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map_or(0, |a| a.iter().map(|t| count_text(&t.to_string())).sum());
    messages + tools
}
