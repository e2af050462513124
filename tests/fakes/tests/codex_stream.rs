//! Codex scenarios: event order, failures, `_once`, disconnect recording.

mod common;

use common::*;
use proxy_fakes::FakeConfig;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn scenario(name: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let srv = server().await;
    scenario_on(&srv, name, &codex_body()).await
}

async fn scenario_on(
    srv: &proxy_fakes::FakeServer,
    name: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = codex_request(srv, body)
        .header("x-fake-scenario", name)
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("text");
    (status, headers, text)
}

fn terminal(events: &[(String, Value)]) -> Value {
    events.last().expect("events").1.clone()
}

#[tokio::test]
async fn text_stream_order_and_framing() {
    let (status, headers, text) = scenario("text").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream; charset=utf-8");
    for h in [
        "x-codex-primary-used-percent",
        "x-codex-primary-window-minutes",
        "x-codex-primary-reset-after-seconds",
        "x-codex-primary-reset-at",
        "x-codex-secondary-used-percent",
        "x-codex-secondary-window-minutes",
    ] {
        assert!(headers.contains_key(h), "{h}");
    }
    assert!(!text.contains("[DONE]"));
    let events = parse_sse(&text);
    // every frame: event name == data.type, sequence numbers 0,1,2,…
    for (i, (ev, d)) in events.iter().enumerate() {
        assert_eq!(ev, d["type"].as_str().expect("type"));
        assert_eq!(d["sequence_number"], i);
        if ev.ends_with(".delta") {
            assert!(d["obfuscation"].is_string(), "{ev}");
        }
    }
    let t = types(&events);
    let summary_deltas = t
        .iter()
        .filter(|x| *x == "response.reasoning_summary_text.delta")
        .count();
    let text_deltas = t
        .iter()
        .filter(|x| *x == "response.output_text.delta")
        .count();
    assert!(summary_deltas > 1 && text_deltas > 1);
    let compact: Vec<&str> = t
        .iter()
        .map(String::as_str)
        .filter(|x| !x.ends_with(".delta"))
        .collect();
    assert_eq!(
        compact,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(output_text(&events), "Hello from the fake Codex backend.");
    let reasoning = &events[2].1["item"];
    assert!(
        reasoning["encrypted_content"]
            .as_str()
            .expect("blob")
            .starts_with("gAAAAA")
    );
    let done = terminal(&events);
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(
        done["response"]["usage"],
        json!({"input_tokens": 1200, "input_tokens_details": {"cached_tokens": 1000},
               "output_tokens": 42, "output_tokens_details": {"reasoning_tokens": 10},
               "total_tokens": 1242})
    );
    assert_eq!(done["response"]["output"].as_array().expect("o").len(), 2);
    assert_eq!(
        done["response"]["prompt_cache_key"],
        "0199a6c0-2f5e-7b51-9d1e-3c5b3a7f0e21"
    );
}

#[tokio::test]
async fn no_summary_or_blob_unless_asked() {
    let srv = server().await;
    let mut b = codex_body();
    b["reasoning"] = json!({"effort": "medium"});
    b["include"] = json!([]);
    let (_, _, text) = scenario_on(&srv, "reasoning", &b).await;
    let events = parse_sse(&text);
    let t = types(&events);
    assert!(!t.iter().any(|x| x.contains("reasoning_summary")));
    assert_eq!(
        events[2].1["item"],
        json!({"id": events[2].1["item"]["id"], "type": "reasoning", "summary": []})
    );
    // effort none: no reasoning item at all
    b["reasoning"] = json!({"effort": "none"});
    let (_, _, text) = scenario_on(&srv, "text", &b).await;
    assert_eq!(parse_sse(&text)[2].1["item"]["type"], "message");
}

#[tokio::test]
async fn reasoning_has_two_summaries() {
    let (_, _, text) = scenario("reasoning").await;
    let events = parse_sse(&text);
    let done = events
        .iter()
        .find(|(_, d)| d["type"] == "response.output_item.done")
        .expect("done");
    assert_eq!(done.1["item"]["summary"].as_array().expect("s").len(), 2);
    let idx: Vec<u64> = events
        .iter()
        .filter(|(_, d)| d["type"] == "response.reasoning_summary_part.added")
        .map(|(_, d)| d["summary_index"].as_u64().expect("i"))
        .collect();
    assert_eq!(idx, [0, 1]);
}

fn calls(events: &[(String, Value)]) -> Vec<Value> {
    events
        .iter()
        .filter(|(_, d)| {
            d["type"] == "response.output_item.done" && d["item"]["type"] == "function_call"
        })
        .map(|(_, d)| d["item"].clone())
        .collect()
}

#[tokio::test]
async fn tool_scenarios() {
    let (_, _, text) = scenario("tools").await;
    let events = parse_sse(&text);
    let c = calls(&events);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["name"], "get_weather");
    let args: String = events
        .iter()
        .filter(|(_, d)| d["type"] == "response.function_call_arguments.delta")
        .map(|(_, d)| {
            assert!(d.get("call_id").is_none());
            d["delta"].as_str().expect("d").to_string()
        })
        .collect();
    assert_eq!(args, c[0]["arguments"].as_str().expect("a"));
    assert!(!types(&events).contains(&"response.output_text.delta".to_string()));

    let (_, _, text) = scenario("parallel_tools").await;
    let c = calls(&parse_sse(&text));
    assert_eq!(c.len(), 2);
    assert_ne!(c[0]["call_id"], c[1]["call_id"]);
}

#[tokio::test]
async fn claude_code_write_uses_whole_input() {
    let srv = server().await;
    let mut b = codex_body();
    b["input"][0]["content"][0]["text"] =
        json!("[[scenario:claude_code_write]] write it [[write:/tmp/x y/\"q\".txt]]");
    let resp = codex(&srv, &b).await;
    let events = parse_sse(&resp.text().await.expect("t"));
    let c = calls(&events);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["name"], "Write");
    let args: Value = serde_json::from_str(c[0]["arguments"].as_str().expect("a")).expect("json");
    assert_eq!(
        args,
        json!({"file_path": "/tmp/x y/\"q\".txt", "content": "hello from the fake codex\n"})
    );
    // second turn: the output sits in the middle, a later user message follows
    let call_id = c[0]["call_id"].clone();
    let first = b["input"][0].clone();
    b["input"] = json!([
        first,
        {"type": "function_call", "name": "Write", "arguments": c[0]["arguments"], "call_id": call_id},
        {"type": "function_call_output", "call_id": call_id, "output": "ok"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go on"}]}
    ]);
    let events = parse_sse(&codex(&srv, &b).await.text().await.expect("t"));
    assert_eq!(output_text(&events), "DONE: wrote the file.");
    assert!(calls(&events).is_empty());
}

#[tokio::test]
async fn once_fails_first_then_text() {
    let srv = server().await;
    let mut b = codex_body();
    b["input"][0]["content"][0]["text"] = json!("hello [[scenario:http_429_once]]");
    let statuses = [
        codex(&srv, &b).await.status().as_u16(),
        codex(&srv, &b).await.status().as_u16(),
        codex(&srv, &b).await.status().as_u16(),
    ];
    assert_eq!(statuses, [429, 200, 200]);
    let scen: Vec<Option<String>> = srv.requests().into_iter().map(|l| l.scenario).collect();
    assert_eq!(
        scen,
        [
            Some("http_429".into()),
            Some("text".into()),
            Some("text".into())
        ]
    );
    // header form, independent key
    let (s1, _, _) = scenario_on(&srv, "http_500_once", &codex_body()).await;
    let (s2, _, _) = scenario_on(&srv, "http_500_once", &codex_body()).await;
    assert_eq!((s1, s2), (500, 200));
    // a rejected request does not consume the failure
    let srv = server().await;
    let mut bad = b.clone();
    bad["store"] = json!(true);
    assert_eq!(codex(&srv, &bad).await.status(), 400);
    assert_eq!(codex(&srv, &b).await.status(), 429);
}

#[tokio::test]
async fn http_errors() {
    let (s, h, body) = scenario("http_429").await;
    assert_eq!(s, 429);
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["error"]["type"], "usage_limit_reached");
    assert_eq!(v["error"]["resets_in_seconds"], 120);
    let resets_at = v["error"]["resets_at"].as_u64().expect("resets_at");
    assert_eq!(h["x-codex-primary-used-percent"], "100.0");
    assert_eq!(
        h["x-codex-primary-reset-at"].to_str().expect("h"),
        resets_at.to_string()
    );
    assert_eq!(h["x-codex-primary-reset-after-seconds"], "120");

    let (s, h, _) = scenario("http_429_plain").await;
    assert_eq!((s, h["retry-after"].to_str().expect("h")), (429, "2"));
    let (s, _, body) = scenario("http_401").await;
    assert_eq!((s, body.as_str()), (401, r#"{"detail":"Unauthorized"}"#));
    let (s, _, _) = scenario("http_500").await;
    assert_eq!(s, 500);
    let (s, _, body) = scenario("http_503").await;
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (s, &v["error"]["code"]),
        (503, &json!("server_is_overloaded"))
    );
}

#[tokio::test]
async fn in_stream_failures() {
    let (s, _, text) = scenario("failed_context").await;
    let t = terminal(&parse_sse(&text));
    assert_eq!(s, 200);
    assert_eq!(t["type"], "response.failed");
    assert_eq!(t["response"]["error"]["code"], "context_length_exceeded");

    let (_, _, text) = scenario("overload_in_200").await;
    let ev = parse_sse(&text);
    assert_eq!(types(&ev), ["response.created", "response.failed"]);
    assert_eq!(
        terminal(&ev)["response"]["error"]["code"],
        "server_is_overloaded"
    );

    let (_, _, text) = scenario("rate_limited_in_200").await;
    let t = terminal(&parse_sse(&text));
    assert_eq!(t["response"]["error"]["code"], "rate_limit_exceeded");
    assert!(
        t["response"]["error"]["message"]
            .as_str()
            .expect("m")
            .contains("Please try again in 1.5s")
    );

    let (_, _, text) = scenario("incomplete").await;
    let t = terminal(&parse_sse(&text));
    assert_eq!(t["type"], "response.incomplete");
    assert_eq!(
        t["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );

    let (_, _, text) = scenario("error_event").await;
    let ev = parse_sse(&text);
    assert!(!output_text(&ev).is_empty());
    let t = terminal(&ev);
    assert_eq!(t["type"], "error");
    assert_eq!(t["error"]["code"], "server_is_overloaded");
    assert!(!types(&ev).contains(&"response.completed".to_string()));
}

#[tokio::test]
async fn usage_variants() {
    let (_, _, text) = scenario("usage_cache").await;
    let u = &terminal(&parse_sse(&text))["response"]["usage"];
    assert_eq!(u["input_tokens_details"]["cached_tokens"], 49152);
    let (_, _, text) = scenario("usage_null_details").await;
    let u = &terminal(&parse_sse(&text))["response"]["usage"];
    assert_eq!(u["input_tokens_details"], Value::Null);
    let (_, _, text) = scenario("no_usage").await;
    assert_eq!(
        terminal(&parse_sse(&text))["response"]["usage"],
        Value::Null
    );
    let (_, _, text) = scenario("empty_output").await;
    let ev = parse_sse(&text);
    assert_eq!(terminal(&ev)["response"]["output"], json!([]));
    assert_eq!(output_text(&ev), "Hello from the fake Codex backend.");
}

#[tokio::test]
async fn mid_stream_drop_has_no_terminal_event() {
    let srv = server().await;
    let mut resp = codex_request(&srv, &codex_body())
        .header("x-fake-scenario", "mid_stream_drop")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let mut got = Vec::new();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(err, "body must end with an error, not a clean EOF");
    let ev = parse_sse(&String::from_utf8_lossy(&got));
    assert!(!output_text(&ev).is_empty());
    assert!(!types(&ev).iter().any(|t| t == "response.completed"));
    assert!(
        srv.disconnects().is_empty(),
        "server-side drop is not a client disconnect"
    );
}

#[tokio::test]
async fn stall_records_client_disconnect() {
    let srv = server_with(FakeConfig {
        stall_secs: 5,
        ..FakeConfig::default()
    })
    .await;
    let mut resp = codex_request(&srv, &codex_body())
        .header("x-fake-scenario", "stall")
        .send()
        .await
        .expect("send");
    let first = resp.chunk().await.expect("chunk").expect("some");
    assert!(String::from_utf8_lossy(&first).contains("response.created"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(resp);
    let deadline = Instant::now() + Duration::from_secs(2);
    while srv.disconnects().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let d = srv.disconnects();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, "stall");
    assert!(
        d[0].1 >= Duration::from_millis(300) && d[0].1 < Duration::from_secs(2),
        "{d:?}"
    );
}

#[tokio::test]
async fn stall_before_headers_records_disconnect_and_then_answers() {
    let srv = server_with(FakeConfig {
        stall_secs: 1,
        ..FakeConfig::default()
    })
    .await;
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_millis(200),
        codex_request(&srv, &codex_body())
            .header("x-fake-scenario", "stall_before_headers")
            .send(),
    )
    .await;
    assert!(r.is_err(), "no headers within 200 ms");
    let deadline = Instant::now() + Duration::from_secs(2);
    while srv.disconnects().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let d = srv.disconnects();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, "stall_before_headers");
    assert!(d[0].1 < Duration::from_millis(900));
    // a patient client gets the text answer after stall_secs
    let (_, _, text) = scenario_on(&srv, "stall_before_headers", &codex_body()).await;
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        output_text(&parse_sse(&text)),
        "Hello from the fake Codex backend."
    );
}

#[tokio::test]
async fn slow_drip_spaces_deltas() {
    let srv = server_with(FakeConfig {
        drip_ms: 15,
        ..FakeConfig::default()
    })
    .await;
    let t0 = Instant::now();
    let (_, _, text) = scenario_on(&srv, "slow_drip", &codex_body()).await;
    assert!(t0.elapsed() >= Duration::from_millis(20 * 15));
    let ev = parse_sse(&text);
    assert_eq!(
        types(&ev)
            .iter()
            .filter(|t| *t == "response.output_text.delta")
            .count(),
        20
    );
}

#[tokio::test]
async fn garbage_unicode_big_empty() {
    let (_, _, text) = scenario("garbage").await;
    assert!(text.contains("data: this is not json"));
    let ev = parse_sse(&text);
    assert_eq!(output_text(&ev), "Hello from the fake Codex backend.");
    assert_eq!(terminal(&ev)["type"], "response.completed");

    let (_, _, text) = scenario("unicode").await;
    let s = output_text(&parse_sse(&text));
    assert!(s.contains("世界") && s.contains("🎉") && s.contains("👍🏽"));

    let t0 = Instant::now();
    let (_, _, text) = scenario("big").await;
    // counted without parsing 12 MB of JSON (debug builds are slow at that)
    assert_eq!(
        text.matches("event: response.output_text.delta\n").count(),
        50_000
    );
    let last = text.trim_end().rsplit("\n\n").next().expect("last frame");
    let ev = parse_sse(last);
    assert_eq!(terminal(&ev)["type"], "response.completed");
    assert!(t0.elapsed() < Duration::from_secs(20));

    let (s, h, text) = scenario("empty").await;
    assert_eq!((s, text.as_str()), (200, ""));
    assert!(h.contains_key("x-codex-primary-used-percent"));
}
