//! Helpers shared by the fake's tests: a client, a valid Codex body, an SSE parser.
#![allow(dead_code)]

use proxy_fakes::{FakeConfig, FakeServer};
use serde_json::{Value, json};

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub async fn server() -> FakeServer {
    FakeServer::start(FakeConfig::default())
        .await
        .expect("start")
}

pub async fn server_with(cfg: FakeConfig) -> FakeServer {
    FakeServer::start(cfg).await.expect("start")
}

/// A body the Codex fake accepts.
pub fn codex_body() -> Value {
    json!({
        "model": "gpt-5.5",
        "instructions": "You are a test.",
        "input": [{"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a6c0-2f5e-7b51-9d1e-3c5b3a7f0e21"
    })
}

pub fn codex_request(srv: &FakeServer, body: &Value) -> reqwest::RequestBuilder {
    codex_request_as(srv, body, "test-token", "acct-1")
}

pub fn codex_request_as(
    srv: &FakeServer,
    body: &Value,
    token: &str,
    account: &str,
) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}/backend-api/codex/responses", srv.base_url()))
        .header("authorization", format!("Bearer {token}"))
        .header("chatgpt-account-id", account)
        .header("originator", "codex_cli_rs")
        .header("accept", "text/event-stream")
        .header("session_id", "0199a6c0-2f5e-7b51-9d1e-3c5b3a7f0e21")
        .header("content-type", "application/json")
        .body(body.to_string())
}

pub async fn codex(srv: &FakeServer, body: &Value) -> reqwest::Response {
    codex_request(srv, body).send().await.expect("send")
}

/// Status and JSON body.
pub async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `(event name, data)` for every frame with a JSON data line (others are skipped).
pub fn parse_sse(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for frame in text.split("\n\n") {
        let mut event = String::new();
        let mut data = String::new();
        for line in frame.lines() {
            if let Some(v) = line.strip_prefix("event: ") {
                event = v.to_string();
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push_str(v);
            }
        }
        if let Ok(v) = serde_json::from_str::<Value>(&data) {
            out.push((event, v));
        }
    }
    out
}

pub fn types(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(_, d)| d["type"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Concatenated `response.output_text.delta` deltas.
pub fn output_text(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter(|(_, d)| d["type"] == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap_or("").to_string())
        .collect()
}
