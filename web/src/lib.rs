//! proxy-core for JavaScript (wasm-bindgen, `wasm32-unknown-unknown`): what the browser
//! playground calls, and the entry the golden-vector harness drives in Node to prove this
//! target gives the same bytes as the native build.

#![forbid(unsafe_code)]

use proxy_core::{
    Aggregator, ChatOptions, ChatStreamOptions, ChatTranslator, EventTranslator, Lane,
    RequestError, RequestOptions, ResponsesTranslator, Route, StreamOptions, convert_chat_request,
    convert_request,
};
use serde_json::{Value, json};
use wasm_bindgen::prelude::wasm_bindgen;

/// Run one golden-vector job (`proxy-vector-runner`'s JSON in, JSON out).
#[wasm_bindgen]
pub fn run_vector(job: &str) -> String {
    proxy_vector_runner::run_json(job)
}

/// Convert an Anthropic request to the Codex body for `upstream_model`:
/// `{"body": …, "degradations": […]}` or `{"error": {type, message}}`.
#[wasm_bindgen]
pub fn convert(request: &str, upstream_model: &str) -> String {
    match convert_request(request.as_bytes(), &RequestOptions::new(upstream_model)) {
        Ok(c) => json!({"body": c.value.to_value(), "degradations": c.degradations}),
        Err(e) => error_json(&e),
    }
    .to_string()
}

/// Convert an Anthropic request to the Chat Completions body for `upstream_model` (the
/// provider-neutral shape: `max_tokens`, OpenRouter-style reasoning), like [`convert`].
#[wasm_bindgen]
pub fn convert_chat(request: &str, upstream_model: &str) -> String {
    match convert_chat_request(request.as_bytes(), &ChatOptions::new(upstream_model)) {
        Ok(c) => json!({"body": c.value.to_value(), "degradations": c.degradations}),
        Err(e) => error_json(&e),
    }
    .to_string()
}

/// The input tokens of an Anthropic request on a lane (`codex` or `chat`) for
/// `upstream_model`, counted as `POST /v1/messages/count_tokens` counts them:
/// `{"input_tokens": n, "exact": true}` (the o200k tokenizer is built in) or `{"error": …}`.
#[wasm_bindgen]
pub fn count_tokens(request: &str, lane: &str, upstream_model: &str) -> String {
    let lane = match lane {
        "codex" => Lane::Codex,
        "chat" => Lane::Chat,
        other => {
            return json!({"error": {"type": "invalid_request_error",
                                    "message": format!("unknown lane {other:?}: codex or chat")}})
            .to_string();
        }
    };
    let route = Route {
        lane,
        provider: None,
        model: upstream_model.to_owned(),
        effort: "medium".to_owned(),
        long_context: false,
    };
    let counted = serde_json::from_str::<Value>(request)
        .map_err(|e| RequestError::Json(e.to_string()))
        .and_then(|v| proxy_core::tokens::count_request(v, &route));
    match counted {
        Ok(n) => json!({"input_tokens": n, "exact": proxy_core::tokens::EXACT}),
        Err(e) => error_json(&e),
    }
    .to_string()
}

fn error_json(e: &RequestError) -> Value {
    json!({"error": {"type": e.error_type().as_str(), "message": e.to_string()}})
}

/// Translate a whole Codex SSE body: the Anthropic SSE text and the non-streaming Message.
#[wasm_bindgen]
pub fn translate(upstream_sse: &str, model: &str, thinking: bool) -> String {
    replay(
        ResponsesTranslator::new(StreamOptions {
            model: model.to_owned(),
            thinking,
            ..StreamOptions::default()
        }),
        upstream_sse,
    )
}

/// Translate a whole Chat Completions SSE body (the Kilo / OpenAI-compatible lane), the same
/// way as [`translate`].
#[wasm_bindgen]
pub fn translate_chat(upstream_sse: &str, model: &str, thinking: bool) -> String {
    replay(
        ChatTranslator::new(ChatStreamOptions {
            model: model.to_owned(),
            thinking,
            tool_names: Default::default(),
            upstream_model: String::new(),
            seed: 0,
        }),
        upstream_sse,
    )
}

fn replay(mut t: impl EventTranslator, upstream_sse: &str) -> String {
    t.push(upstream_sse.as_bytes());
    t.finish();
    let mut sse = Vec::new();
    let mut agg = Aggregator::new();
    while let Some(ev) = t.poll_event() {
        ev.encode(&mut sse);
        agg.push(ev);
    }
    let message = agg.finish().unwrap_or_else(|e| json!({"error": e}));
    json!({"sse": String::from_utf8_lossy(&sse), "message": message}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playground_entry_points() {
        let out: Value = serde_json::from_str(&convert(
            r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#,
            "gpt-5.5",
        ))
        .expect("json");
        assert_eq!(out["body"]["model"], "gpt-5.5");
        assert_eq!(out["degradations"][0]["path"], "max_tokens");
        let bad: Value = serde_json::from_str(&convert("{", "m")).expect("json");
        assert_eq!(bad["error"]["type"], "invalid_request_error");
        let sse = "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}}\n\n\
                   data: {\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"delta\":\"Hi\"}\n\n\
                   data: {\"type\":\"response.completed\",\"response\":{}}\n\n";
        let t: Value = serde_json::from_str(&translate(sse, "claude-x", false)).expect("json");
        assert!(t["sse"].as_str().is_some_and(|s| {
            s.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
        }));
        assert_eq!(t["message"]["content"][0]["text"], "Hi");
        let chat = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Yo\"}}]}\n\n\
                    data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n\
                    data: [DONE]\n\n";
        let t: Value =
            serde_json::from_str(&translate_chat(chat, "claude-x", false)).expect("json");
        assert_eq!(t["message"]["content"][0]["text"], "Yo", "{t}");
        assert_eq!(t["message"]["stop_reason"], "end_turn");
    }
}
