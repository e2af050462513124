//! Chat Completions fake (Kilo / OpenRouter-like).

mod common;

use common::*;
use proxy_fakes::FakeServer;
use serde_json::{Value, json};

fn body() -> Value {
    json!({
        "model": "minimax/minimax-m2.5:free",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "stream": true,
        "stream_options": {"include_usage": true}
    })
}

async fn post(srv: &FakeServer, path: &str, b: &Value, scenario: Option<&str>) -> (u16, String) {
    let mut r = client()
        .post(format!("{}{path}", srv.base_url()))
        .header("authorization", "Bearer anonymous")
        .header("x-kilocode-machineid", "machine-1")
        .header("http-referer", "https://kilo.ai")
        .json(b);
    if let Some(s) = scenario {
        r = r.header("x-fake-scenario", s);
    }
    let resp = r.send().await.expect("send");
    let s = resp.status().as_u16();
    (s, resp.text().await.expect("text"))
}

/// JSON chunks of a chat stream (comments, junk and `[DONE]` skipped); also whether the
/// last data line was `[DONE]`.
fn chunks(text: &str) -> (Vec<Value>, bool) {
    let data: Vec<&str> = text
        .split("\n\n")
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        .collect();
    let done = data.last() == Some(&"[DONE]");
    (
        data.iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect(),
        done,
    )
}

fn content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn text_stream_and_recording() {
    let srv = server().await;
    let (s, text) = post(&srv, "/api/openrouter/chat/completions", &body(), None).await;
    assert_eq!(s, 200);
    let (c, done) = chunks(&text);
    assert!(done);
    assert_eq!(content(&c), "Hello from the fake chat provider.");
    let finish: Vec<&Value> = c
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    let last = c.last().expect("usage chunk");
    assert_eq!(last["choices"], json!([]));
    assert!(last["usage"]["prompt_tokens"].is_u64());
    let log = srv.requests();
    assert!(log[0].anonymous_auth && log[0].machine_id);
    assert_eq!(log[0].scenario.as_deref(), Some("text"));
}

#[tokio::test]
async fn validation() {
    let srv = server().await;
    let expect_400 = |b: Value, needle: &'static str| {
        let srv = &srv;
        async move {
            let (s, text) = post(srv, "/v1/chat/completions", &b, None).await;
            assert_eq!(s, 400, "{text}");
            let v: Value = serde_json::from_str(&text).expect("json");
            assert_eq!(v["error"]["type"], "invalid_request_error");
            assert_eq!(v["error"]["code"], Value::Null);
            assert!(
                v["error"]["message"].as_str().expect("m").contains(needle),
                "{text}"
            );
        }
    };
    let mut b = body();
    b.as_object_mut().expect("o").remove("model");
    expect_400(b, "model").await;
    let mut b = body();
    b["messages"] = json!("hi");
    expect_400(b, "messages").await;
    let mut b = body();
    b["messages"] = json!([{"role": "user", "content": "hi"},
                           {"role": "tool", "tool_call_id": "call_x", "content": "r"}]);
    expect_400(b, "role 'tool'").await;
    let mut b = body();
    b["messages"] = json!([{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": null, "tool_calls": [
                               {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                               {"id": "call_b", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                           {"role": "tool", "tool_call_id": "call_a", "content": "r"}]);
    expect_400(b, "call_b").await;
    let mut b = body();
    b["messages"] = json!([{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": null, "tool_calls": [
                               {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                           {"role": "tool", "tool_call_id": "call_a", "content": "r"},
                           {"role": "user", "content": "thanks"}]);
    let (s, _) = post(&srv, "/v1/chat/completions", &b, None).await;
    assert_eq!(s, 200);
    // no credentials at all: accepted (local servers need none) and recorded
    let resp = client()
        .post(format!("{}/v1/chat/completions", srv.base_url()))
        .json(&body())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let last = srv.requests().pop().expect("logged");
    assert!(!last.anonymous_auth && !last.machine_id);
    let (s, _) = post(&srv, "/v1/chat/completions", &body(), Some("http_401")).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn tools_interleave() {
    let srv = server().await;
    let (_, text) = post(&srv, "/v1/chat/completions", &body(), Some("tools")).await;
    let (c, done) = chunks(&text);
    assert!(done);
    let deltas: Vec<&Value> = c
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    let order: Vec<u64> = deltas
        .iter()
        .map(|d| d["index"].as_u64().expect("i"))
        .collect();
    assert_eq!(&order[..4], [0, 1, 0, 1], "{order:?}");
    let mut args = [String::new(), String::new()];
    let mut firsts = [None, None];
    for d in &deltas {
        let i = d["index"].as_u64().expect("i") as usize;
        if firsts[i].is_none() {
            assert!(d["id"].is_string() && d["function"]["name"].is_string());
            firsts[i] = Some(d["function"]["name"].as_str().expect("n").to_string());
        } else {
            assert!(d.get("id").is_none());
        }
        args[i].push_str(d["function"]["arguments"].as_str().unwrap_or(""));
    }
    for a in &args {
        serde_json::from_str::<Value>(a).expect("arguments are JSON once joined");
    }
    assert_eq!(firsts[0].as_deref(), Some("get_weather"));
    assert_eq!(firsts[1].as_deref(), Some("get_time"));
    let finish = c
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str())
        .expect("finish");
    assert_eq!(finish, "tool_calls");
}

#[tokio::test]
async fn reasoning_scenarios() {
    let srv = server().await;
    let (_, text) = post(
        &srv,
        "/v1/chat/completions",
        &body(),
        Some("reasoning_then_tools"),
    )
    .await;
    let (c, _) = chunks(&text);
    let first_reasoning = c
        .iter()
        .position(|c| c["choices"][0]["delta"]["reasoning_content"].is_string())
        .expect("reasoning");
    let first_tool = c
        .iter()
        .position(|c| c["choices"][0]["delta"]["tool_calls"].is_array())
        .expect("tool");
    assert!(first_reasoning < first_tool);

    let (_, text) = post(
        &srv,
        "/v1/chat/completions",
        &body(),
        Some("reasoning_field"),
    )
    .await;
    let (c, _) = chunks(&text);
    assert!(
        c.iter()
            .any(|c| c["choices"][0]["delta"]["reasoning"].is_string())
    );
    assert!(
        !c.iter()
            .any(|c| c["choices"][0]["delta"]["reasoning_content"].is_string())
    );
}

#[tokio::test]
async fn usage_only_when_asked() {
    let srv = server().await;
    let (_, text) = post(
        &srv,
        "/v1/chat/completions",
        &body(),
        Some("usage_final_chunk"),
    )
    .await;
    let (c, _) = chunks(&text);
    let last = c.last().expect("last");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"]["prompt_tokens_details"]["cached_tokens"],
        1000
    );
    let mut b = body();
    b.as_object_mut().expect("o").remove("stream_options");
    let (_, text) = post(&srv, "/v1/chat/completions", &b, Some("usage_final_chunk")).await;
    let (c, _) = chunks(&text);
    assert!(c.iter().all(|c| c.get("usage").is_none()));
}

#[tokio::test]
async fn finish_reasons_and_errors() {
    let srv = server().await;
    for (scenario, reason) in [("length", "length"), ("content_filter", "content_filter")] {
        let (_, text) = post(&srv, "/v1/chat/completions", &body(), Some(scenario)).await;
        let (c, _) = chunks(&text);
        let f = c
            .iter()
            .find_map(|c| c["choices"][0]["finish_reason"].as_str())
            .expect("finish");
        assert_eq!(f, reason);
    }
    let (s, text) = post(
        &srv,
        "/v1/chat/completions",
        &body(),
        Some("error_mid_stream"),
    )
    .await;
    assert_eq!(s, 200);
    let (c, done) = chunks(&text);
    assert!(!done);
    assert!(!content(&c).is_empty());
    assert_eq!(c.last().expect("last")["error"]["code"], 502);

    let (s, text) = post(&srv, "/v1/chat/completions", &body(), Some("garbage")).await;
    assert_eq!(s, 200);
    assert!(text.contains("data: this is not json"));
    assert_eq!(
        content(&chunks(&text).0),
        "Hello from the fake chat provider."
    );

    let (s, _) = post(&srv, "/v1/chat/completions", &body(), Some("http_429")).await;
    assert_eq!(s, 429);
    let (s, _) = post(&srv, "/v1/chat/completions", &body(), Some("http_500")).await;
    assert_eq!(s, 500);
}

#[tokio::test]
async fn non_streaming() {
    let srv = server().await;
    let mut b = body();
    b["stream"] = json!(false);
    let (s, text) = post(&srv, "/v1/chat/completions", &b, None).await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from the fake chat provider."
    );
    let (_, text) = post(&srv, "/v1/chat/completions", &b, Some("tools")).await;
    let v: Value = serde_json::from_str(&text).expect("json");
    let calls = v["choices"][0]["message"]["tool_calls"]
        .as_array()
        .expect("calls");
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1]["function"]["arguments"],
        r#"{"timezone":"Europe/Paris"}"#
    );
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn claude_code_write_and_once() {
    let srv = server().await;
    let mut b = body();
    b["messages"][1]["content"] = json!("[[scenario:claude_code_write]] [[write:/tmp/out.txt]]");
    let (_, text) = post(&srv, "/v1/chat/completions", &b, None).await;
    let (c, _) = chunks(&text);
    let call = c
        .iter()
        .find_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .expect("call");
    assert_eq!(call["function"]["name"], "Write");
    let id = call["id"].clone();
    let args: String = c
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).expect("json"),
        json!({"file_path": "/tmp/out.txt", "content": "hello from the fake codex\n"})
    );
    let m = b["messages"].as_array_mut().expect("m");
    m.push(json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": id, "type": "function", "function": {"name": "Write", "arguments": args}}]}));
    m.push(json!({"role": "tool", "tool_call_id": id, "content": "ok"}));
    let (_, text) = post(&srv, "/v1/chat/completions", &b, None).await;
    assert_eq!(content(&chunks(&text).0), "DONE: wrote the file.");

    let (s1, _) = post(&srv, "/v1/chat/completions", &body(), Some("http_429_once")).await;
    let (s2, _) = post(&srv, "/v1/chat/completions", &body(), Some("http_429_once")).await;
    assert_eq!((s1, s2), (429, 200));
}

#[tokio::test]
async fn models_list() {
    let srv = server().await;
    let (s, m) = status_json(
        client()
            .get(format!("{}/api/openrouter/models", srv.base_url()))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 200);
    let data = m["data"].as_array().expect("data");
    let ids: Vec<&str> = data.iter().map(|d| d["id"].as_str().expect("id")).collect();
    assert_eq!(
        ids,
        [
            "kilo-auto/free",
            "minimax/minimax-m2.5:free",
            "openai/gpt-5"
        ]
    );
    assert_eq!(data[0]["isFree"], true);
    assert_eq!(data[2]["isFree"], false);
    assert!(data[0]["context_length"].is_u64());
    assert!(
        data[0]["supported_parameters"]
            .as_array()
            .expect("p")
            .contains(&json!("tools"))
    );
}
