//! The real binary, end to end, against the in-process fake upstreams (loopback only).

mod support;

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::{
    Proxy, ProxyOpts, TestAccount, client, fake, get_json, one_account, post_json, request,
    sse_events, strings,
};

async fn post(p: &Proxy, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages?beta=true", p.base))
        .header("x-api-key", "anything")
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "claude-code-20250219,some-future-beta-2030-01-01",
        )
        .json(body)
        .send()
        .await
        .expect("send")
}

/// The body of the last request the fake Codex backend got.
fn last_codex_body(fake: &proxy_fakes::FakeServer) -> Value {
    let logged = fake.requests();
    let up = logged
        .iter()
        .rfind(|r| r.path.starts_with("/backend-api/codex/responses"))
        .expect("a Codex upstream call");
    serde_json::from_slice(&up.body).expect("upstream json")
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(e, _)| e.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_stream_and_non_stream_agree() {
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let body = r.text().await.expect("body");
    let events = sse_events(&body);
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("message_start"));
    assert_eq!(events.last().map(|e| e.0.as_str()), Some("message_stop"));
    assert!(!body.contains("[DONE]"));
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from the fake Codex backend.");
    let delta = events
        .iter()
        .find(|e| e.0 == "message_delta")
        .expect("message_delta");
    assert_eq!(delta.1["usage"]["cache_read_input_tokens"], 1000);
    assert_eq!(delta.1["usage"]["input_tokens"], 200);

    let r = post(&p, &request("claude-sonnet-4-5", "text", false)).await;
    assert_eq!(r.status(), 200);
    let msg: Value = r.json().await.expect("json");
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["model"], "claude-sonnet-4-5");
    let texts: Vec<&str> = msg["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert_eq!(texts, vec!["Hello from the fake Codex backend."]);
    assert_eq!(msg["usage"], delta.1["usage"]);
    // The upstream got what the backend demands.
    let logged = fake.requests();
    let up = logged
        .iter()
        .find(|r| r.path.starts_with("/backend-api/codex/responses"))
        .expect("upstream call");
    let up_body: Value = serde_json::from_slice(&up.body).expect("upstream json");
    assert_eq!(up_body["store"], false);
    assert_eq!(up_body["stream"], true);
    assert!(up_body.get("max_output_tokens").is_none() && up_body.get("max_tokens").is_none());
    assert_eq!(up.header("originator"), Some("codex_cli_rs"));
    assert_eq!(up.header("chatgpt-account-id"), Some("acct-1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_stream_as_tool_use() {
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    let mut req = request("claude-opus-4-5", "tools", true);
    req["tools"] = json!([{"name": "get_weather", "description": "w",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}]);
    let body = post(&p, &req).await.text().await.expect("body");
    let events = sse_events(&body);
    let start = events
        .iter()
        .find(|(e, d)| e == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .expect("tool_use start");
    assert_eq!(start.1["content_block"]["name"], "get_weather");
    assert_eq!(start.1["content_block"]["input"], json!({}));
    let args: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    let parsed: Value = serde_json::from_str(&args).expect("arguments are JSON");
    assert!(parsed.is_object());
    let delta = events
        .iter()
        .find(|e| e.0 == "message_delta")
        .expect("delta");
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_account_codex_model_says_how_to_add_one_and_haiku_works_anonymously() {
    let fake = fake().await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "authentication_error");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("accounts add")
    );

    // Without an account, haiku is Kilo's anonymous free model: zero setup.
    let health = get_json(&client(), format!("{}/health", p.base)).await;
    assert_eq!(health["routes"]["haiku"]["lane"], "chat", "{health}");
    assert_eq!(health["routes"]["haiku"]["provider"], "kilo", "{health}");
    let r = post(&p, &request("claude-haiku-4-5", "text", true)).await;
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.expect("body"));
    assert_eq!(names(&events).first().copied(), Some("message_start"));
    assert_eq!(names(&events).last().copied(), Some("message_stop"));
    let chat = fake
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/chat/completions"))
        .expect("chat upstream call");
    assert_eq!(chat.header("authorization"), Some("Bearer anonymous"));
    assert!(chat.header("x-kilocode-machineid").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn error_contract() {
    let fake = fake().await;
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            env: vec![("CCP_BODY_LIMIT".into(), "100000".into())],
            ..one_account(&fake)
        },
    );
    let c = client();
    let url = format!("{}/v1/messages", p.base);
    let r = c.post(&url).body("{not json").send().await.expect("send");
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["type"], "invalid_request_error");

    let r = c
        .post(&url)
        .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": 5}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.expect("json");
    // The path in the Anthropic API's own style (docs/CONVERSION.md §11).
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("messages[0].content: ")
    );

    let big = "x".repeat(200_000);
    let r = c
        .post(&url)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": big}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 413);
    // The rest of the body was not read: the connection ends with the answer.
    assert_eq!(
        r.headers().get("connection").and_then(|v| v.to_str().ok()),
        Some("close")
    );
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["type"], "request_too_large");

    let r = c
        .get(format!("{}/nope", p.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["type"], "not_found_error");

    let r = c.get(&url).send().await.expect("send");
    assert_eq!(r.status(), 405);
    assert!(r.json::<Value>().await.is_ok());

    // Upstream failures map to Anthropic errors with retry advice.
    let r = post(&p, &request("claude-sonnet-4-5", "failed_context", false)).await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.expect("json");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("prompt is too long")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_before_output_are_retried_invisibly() {
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    for scenario in ["http_503_once", "overload_in_200_once", "http_500_once"] {
        let r = post(&p, &request("claude-sonnet-4-5", scenario, true)).await;
        assert_eq!(r.status(), 200, "{scenario}");
        let events = sse_events(&r.text().await.expect("body"));
        assert_eq!(
            names(&events).last().copied(),
            Some("message_stop"),
            "{scenario}: {events:?}"
        );
        assert!(!names(&events).contains(&"error"), "{scenario}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_limit_rotates_accounts_then_answers_429_with_retry_after() {
    let fake = fake().await;
    let (a1, _, _) = fake.issue_tokens("acct-1", "one@example.com");
    let (a2, _, _) = fake.issue_tokens("acct-2", "two@example.com");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            accounts: vec![
                TestAccount {
                    account_id: "acct-1".into(),
                    access_token: a1,
                },
                TestAccount {
                    account_id: "acct-2".into(),
                    access_token: a2,
                },
            ],
            ..ProxyOpts::default()
        },
    );
    // First account limited once: the second one answers.
    let r = post(&p, &request("claude-sonnet-4-5", "http_429_once", true)).await;
    assert_eq!(r.status(), 200);
    let used: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/backend-api/codex/responses"))
        .filter_map(|r| r.header("chatgpt-account-id").map(str::to_owned))
        .collect();
    assert_eq!(used.len(), 2);
    assert_ne!(used[0], used[1]);
    // Every account limited: 429 with retry-after from the upstream's reset.
    let r = post(&p, &request("claude-sonnet-4-5", "http_429", true)).await;
    assert_eq!(r.status(), 429);
    let ra: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert!((100..=120).contains(&ra), "retry-after {ra}");
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["type"], "rate_limit_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_commit_errors_are_events_and_the_stream_ends() {
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    let r = post(&p, &request("claude-sonnet-4-5", "error_event", true)).await;
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.expect("body"));
    assert_eq!(names(&events).last().copied(), Some("error"));
    // Every started block was stopped before the error.
    let starts = names(&events)
        .iter()
        .filter(|e| **e == "content_block_start")
        .count();
    let stops = names(&events)
        .iter()
        .filter(|e| **e == "content_block_stop")
        .count();
    assert_eq!(starts, stops);
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_upstream_gets_pings_then_an_idle_timeout_error() {
    let fake = fake().await;
    let mut opts = one_account(&fake);
    opts.env = vec![
        ("CCP_COMMIT_TIMEOUT_SECS".into(), "0.2".into()),
        ("CCP_PING_INTERVAL_SECS".into(), "0.2".into()),
        ("CCP_IDLE_TIMEOUT_SECS".into(), "1.2".into()),
    ];
    let p = Proxy::start(&fake, opts);
    let t = Instant::now();
    let r = post(&p, &request("claude-sonnet-4-5", "stall", true)).await;
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.expect("body"));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(names(&events).first().copied(), Some("message_start"));
    assert!(
        names(&events).iter().filter(|e| **e == "ping").count() >= 2,
        "{events:?}"
    );
    let last = events.last().expect("events");
    assert_eq!(last.0, "error");
    assert_eq!(last.1["error"]["type"], "timeout_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn first_byte_timeout_ends_with_an_error_not_a_hang() {
    let fake = fake().await;
    let mut opts = one_account(&fake);
    opts.env = vec![
        ("CCP_FIRST_BYTE_TIMEOUT_SECS".into(), "0.5".into()),
        ("CCP_MAX_ATTEMPTS".into(), "1".into()),
    ];
    let p = Proxy::start(&fake, opts);
    let t = Instant::now();
    let r = post(
        &p,
        &request("claude-sonnet-4-5", "stall_before_headers", true),
    )
    .await;
    assert_eq!(r.status(), 504);
    assert!(t.elapsed() < Duration::from_secs(5));
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["type"], "timeout_error");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_disconnect_cancels_the_upstream_within_a_second() {
    use futures_util::StreamExt;
    let fake = fake().await;
    let mut opts = one_account(&fake);
    opts.env = vec![("CCP_COMMIT_TIMEOUT_SECS".into(), "0.2".into())];
    let p = Proxy::start(&fake, opts);
    let r = post(&p, &request("claude-sonnet-4-5", "stall", true)).await;
    assert_eq!(r.status(), 200);
    let mut body = r.bytes_stream();
    let first = body.next().await.expect("first bytes").expect("ok");
    assert!(String::from_utf8_lossy(&first).contains("message_start"));
    let dropped_at = Instant::now();
    drop(body);
    loop {
        if let Some((_, _)) = fake.disconnects().iter().find(|(s, _)| s == "stall") {
            break;
        }
        assert!(
            dropped_at.elapsed() < Duration::from_secs(1),
            "upstream still open after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn count_tokens_models_health_metrics() {
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    let c = client();
    let r = c
        .post(format!("{}/v1/messages/count_tokens?beta=true", p.base))
        .json(
            &json!({"model": "claude-sonnet-4-5", "system": "You are terse.",
                      "messages": [{"role": "user", "content": "Hello, world"}]}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let n: Value = r.json().await.expect("json");
    let tokens = n["input_tokens"].as_u64().expect("number");
    assert!((5..40).contains(&tokens), "{tokens}");
    // A Chat-lane model counts the Chat payload (no account involved either).
    let r = c
        .post(format!("{}/v1/messages/count_tokens", p.base))
        .json(
            &json!({"model": "claude-haiku-4-5", "system": "You are terse.",
                      "messages": [{"role": "user", "content": "Hello, world"}]}),
        )
        .send()
        .await
        .expect("send");
    let n: Value = r.json().await.expect("json");
    assert!(
        (5..40).contains(&n["input_tokens"].as_u64().expect("number")),
        "{n}"
    );
    // (The proxy may fetch the account's model catalog meanwhile: that is not a count.)
    assert_eq!(
        fake.count("/backend-api/codex/responses"),
        0,
        "count_tokens must not touch the upstream"
    );

    let m: Value = get_json(&c, format!("{}/v1/models?limit=1000", p.base)).await;
    let ids: Vec<&str> = m["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert!(
        ids.iter().filter(|i| i.starts_with("claude")).count() >= 3,
        "{ids:?}"
    );
    assert!(ids[0].starts_with("claude"), "{ids:?}");
    assert!(ids.contains(&"kilo-auto/free"), "{ids:?}");
    assert_eq!(m["has_more"], false);

    let h: Value = get_json(&c, format!("{}/health", p.base)).await;
    assert_eq!(h["status"], "ok");
    assert!(!h.to_string().contains("eyJ"), "no token in /health");

    post(&p, &request("claude-sonnet-4-5", "text", true))
        .await
        .text()
        .await
        .expect("body");
    let metrics = c
        .get(format!("{}/metrics", p.base))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    for name in [
        "ccp_requests_total",
        "ccp_ttfb_seconds",
        "ccp_duration_seconds",
        "ccp_tokens_total",
        "ccp_open_streams",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    // The log never holds a token.
    assert!(!p.log_text().contains("eyJ"), "a token reached the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_clients_get_openai_shaped_errors() {
    let fake = fake().await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    let c = client();
    let url = format!("{}/v1/chat/completions", p.base);
    let r = c.post(&url).body("{nope").send().await.expect("send");
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(e.get("type").is_none(), "not the Anthropic shape: {e}");

    let r = c
        .post(&url)
        .json(&json!({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.expect("json");
    assert_eq!(e["error"]["code"], "invalid_api_key");

    let r = c
        .post(&url)
        .json(&json!({"model": "gpt-5.5", "n": 3, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn kilo_free_models_are_discovered_and_admin_routes_refuse_other_origins() {
    let fake = fake().await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    let c = client();
    let url = format!("{}/kilo/models", p.base);
    let v: Value = get_json(&c, &url).await;
    assert_eq!(v["source"], "live");
    let ids: Vec<&str> = v["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"kilo-auto/free"), "{ids:?}");
    assert!(!ids.contains(&"openai/gpt-5"), "paid model listed: {ids:?}");
    let v: Value = get_json(&c, &url).await;
    assert_eq!(v["source"], "cache");
    assert_eq!(fake.count("/api/openrouter/models"), 1);

    let r = c
        .get(&url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);

    // With the gateway unreachable, the fallback list answers.
    let opts = ProxyOpts {
        env: vec![(
            "CCP_KILO_BASE_URL".into(),
            "http://127.0.0.1:9/api/openrouter".into(),
        )],
        ..ProxyOpts::default()
    };
    let q = Proxy::start(&fake, opts);
    let v: Value = get_json(&c, format!("{}/kilo/models", q.base)).await;
    assert_eq!(v["source"], "fallback");
    assert!(!v["models"].as_array().expect("models").is_empty());
}

#[test]
fn cli_help_config_print_and_exit_codes() {
    let bin = env!("CARGO_BIN_EXE_codex-claude-proxy");
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["config", "print", "--help"],
    ] {
        let out = std::process::Command::new(bin)
            .args(&args)
            .output()
            .expect("run");
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let dir = std::env::temp_dir().join(format!("ccp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        "port = 9999\nclient_key = \"sk-very-secret\"\n[[providers]]\nname = \"or\"\nbase_url = \"http://127.0.0.1:1/v1\"\napi_key = \"sk-or-secret\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(bin)
        .args(["config", "print", "--config"])
        .arg(&cfg)
        .env("CCP_HOST", "127.0.0.1")
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("port = 9999"), "{text}");
    assert!(
        !text.contains("sk-very-secret") && !text.contains("sk-or-secret"),
        "{text}"
    );

    std::fs::write(&cfg, "port = \"not a number\"\n").expect("write");
    let out = std::process::Command::new(bin)
        .args(["config", "print", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("c.toml"));

    // A non-loopback bind without a client key is refused.
    let out = std::process::Command::new(bin)
        .args(["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_provider_gets_its_key_headers_and_routes() {
    let fake = fake().await;
    let dir = std::env::temp_dir().join(format!("ccp-prov-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("key.txt"), "sk-local-file-key\n").expect("key");
    let cfg = format!(
        r#"
[[providers]]
name = "local"
base_url = "{base}/v1"
api_key_file = "{key}"
max_tokens_field = "max_completion_tokens"
reasoning_style = "none"
headers = [["x-extra", "yes"]]
models = ["my-local-model"]

[routing]
rules = [{{ match = "my-local-*", lane = "chat", provider = "local", model = "*" }}]
fallback = {{ match = "*", lane = "codex", model = "gpt-5.5" }}
"#,
        base = fake.base_url(),
        key = dir.join("key.txt").display()
    );
    std::fs::write(dir.join("config.toml"), cfg).expect("config");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            env: vec![(
                "CCP_CONFIG".into(),
                dir.join("config.toml").display().to_string(),
            )],
            ..ProxyOpts::default()
        },
    );
    // Twice: the second takes the key the first read (key_files.rs).
    for _ in 0..2 {
        let r = post(&p, &request("my-local-model", "text", false)).await;
        assert_eq!(r.status(), 200);
        let msg: Value = r.json().await.expect("json");
        assert_eq!(msg["model"], "my-local-model");
    }
    let calls: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/chat/completions"))
        .collect();
    assert_eq!(calls.len(), 2);
    for c in &calls {
        assert_eq!(c.header("authorization"), Some("Bearer sk-local-file-key"));
    }
    let up = &calls[0];
    assert_eq!(up.header("x-extra"), Some("yes"));
    let body: Value = serde_json::from_slice(&up.body).expect("json");
    assert_eq!(body["model"], "my-local-model");
    assert_eq!(body["max_completion_tokens"], 1024);
    assert!(
        !p.log_text().contains("sk-local-file-key"),
        "key in the log"
    );
    // The settings page says that the provider has a key (its file read off the serving
    // thread, as a request reads it), never which.
    let settings = get_json(&client(), format!("{}/api/settings", p.base)).await;
    let local = settings["providers"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "local"))
        .expect("the local provider");
    assert_eq!(local["key_set"], true, "{settings}");
    assert!(!settings.to_string().contains("sk-local-file-key"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A web search answer through the real binary: the search shows as server_tool_use +
/// web_search_tool_result, and the backend's url citations reach the client as
/// citations_delta (streaming) and as the text block's `citations` (not streaming).
#[tokio::test(flavor = "multi_thread")]
async fn web_search_sources_and_citations_reach_the_client() {
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    let with_search = |stream: bool| {
        let mut body = request("claude-sonnet-4-5", "web_search", stream);
        body["tools"] =
            json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]);
        body
    };
    let expected = json!([
        {"type": "web_search_result_location", "cited_text": "released on 2026-11-20",
         "url": "https://blog.rust-lang.example/2026/11/20/Rust-1.95.html",
         "title": "Announcing Rust 1.95", "encrypted_index": ""},
        {"type": "web_search_result_location", "cited_text": "the café changelog",
         "url": "https://cafe.example/changelog",
         "title": "https://cafe.example/changelog", "encrypted_index": ""},
    ]);

    let r = post(&p, &with_search(true)).await;
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.expect("body"));
    let starts: Vec<&str> = events
        .iter()
        .filter(|e| e.0 == "content_block_start")
        .filter_map(|e| e.1["content_block"]["type"].as_str())
        .collect();
    assert_eq!(
        starts,
        ["server_tool_use", "web_search_tool_result", "text"]
    );
    let results = events
        .iter()
        .find(|e| e.1["content_block"]["type"] == "web_search_tool_result")
        .map(|e| e.1["content_block"]["content"].clone())
        .expect("results");
    assert_eq!(results.as_array().map(Vec::len), Some(2));
    let cites: Vec<Value> = events
        .iter()
        .filter(|e| e.1["delta"]["type"] == "citations_delta")
        .map(|e| e.1["delta"]["citation"].clone())
        .collect();
    assert_eq!(Value::Array(cites), expected);
    // The citations come after the text and before the block stops.
    let last_text = events
        .iter()
        .rposition(|e| e.1["delta"]["type"] == "text_delta")
        .expect("text");
    let first_cite = events
        .iter()
        .position(|e| e.1["delta"]["type"] == "citations_delta")
        .expect("cite");
    assert!(last_text < first_cite);
    assert_eq!(events[first_cite + 2].0, "content_block_stop");

    let r = post(&p, &with_search(false)).await;
    assert_eq!(r.status(), 200);
    let msg: Value = r.json().await.expect("json");
    let text = &msg["content"][2];
    assert_eq!(text["type"], "text");
    assert_eq!(
        text["text"],
        "Rust 1.95 was released on 2026-11-20 — see the café changelog."
    );
    assert_eq!(text["citations"], expected);
    // The backend was asked for the search tool and its sources.
    let up = last_codex_body(&fake);
    assert_eq!(up["tools"], json!([{"type": "web_search"}]));
    assert!(
        up["include"]
            .as_array()
            .is_some_and(|i| i.contains(&json!("web_search_call.action.sources")))
    );
}

/// The Node version's `/settings/haiku-model`: haiku requests go where the set id goes, the
/// setting survives a restart, and clearing it gives haiku back to the routing table. Its
/// `/accounts/quota/all` answers as `/accounts/quota`.
#[tokio::test(flavor = "multi_thread")]
async fn the_haiku_setting_routes_haiku_and_survives_a_restart() {
    let fake = fake().await;
    let c = client();
    let p = Proxy::start(&fake, one_account(&fake));
    let upstream_of_last = || {
        let logged = fake.requests();
        let last = logged
            .iter()
            .rfind(|r| r.path.contains("/responses") || r.path.contains("/chat/completions"))
            .expect("an upstream call");
        let body: Value = serde_json::from_slice(&last.body).expect("upstream json");
        (
            last.path.clone(),
            body["model"].as_str().unwrap_or("").to_owned(),
        )
    };
    let haiku = request("claude-haiku-4-5-20251001", "text", false);

    // With a ChatGPT account, haiku's background requests (they carry the user's prompt) stay
    // on the Codex backend, with its small model, not on a third party; /health says so.
    let now = get_json(&c, format!("{}/settings/haiku-model", p.base)).await;
    assert_eq!(now["haikuModel"], Value::Null);
    assert_eq!(now["route"]["lane"], "codex");
    assert_eq!(post(&p, &haiku).await.status(), 200);
    let (path, model) = upstream_of_last();
    assert!(path.contains("/codex/responses"), "{path}");
    assert_eq!(model, "gpt-5.4-mini");
    let health = get_json(&c, format!("{}/health", p.base)).await;
    assert_eq!(health["routes"]["haiku"]["lane"], "codex", "{health}");
    // Opus follows the account's catalog: its newest flagship (host `catalog.rs` tests it).
    assert_eq!(health["routes"]["opus"]["model"], "gpt-5.6-sol", "{health}");

    // Set to a Kilo model: haiku goes there.
    let set = post_json(
        &c,
        format!("{}/settings/haiku-model", p.base),
        &json!({"haikuModel": "qwen/qwen3-coder:free"}),
    )
    .await;
    assert_eq!(set["haikuModel"], "qwen/qwen3-coder:free");
    assert_eq!(set["route"]["lane"], "chat");
    assert_eq!(post(&p, &haiku).await.status(), 200);
    let (path, model) = upstream_of_last();
    assert!(path.contains("/chat/completions"), "{path}");
    assert_eq!(model, "qwen/qwen3-coder:free");

    // Bad values are refused and change nothing.
    let r = c
        .post(format!("{}/settings/haiku-model", p.base))
        .json(&json!({"haikuModel": 5}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let quota = get_json(&c, format!("{}/accounts/quota", p.base)).await;
    let quota_all = get_json(&c, format!("{}/accounts/quota/all", p.base)).await;
    assert_eq!(quota_all, quota);

    // A restart keeps the setting; clearing it gives haiku back to the table.
    let data_dir = p.stop_keeping_data();
    let mut opts = one_account(&fake);
    opts.data_dir = Some(data_dir);
    let p = Proxy::start(&fake, opts);
    let now = get_json(&c, format!("{}/settings/haiku-model", p.base)).await;
    assert_eq!(now["haikuModel"], "qwen/qwen3-coder:free");
    let cleared = post_json(
        &c,
        format!("{}/settings/haiku-model", p.base),
        &json!({"haikuModel": null}),
    )
    .await;
    assert_eq!(cleared["haikuModel"], Value::Null);
    assert_eq!(post(&p, &haiku).await.status(), 200);
    let (path, _) = upstream_of_last();
    assert!(path.contains("/codex/responses"), "{path}");
}

/// The live request log: a follower of `/logs/stream` sees each request as it is answered
/// (model, route, account, status, the conversion's degradations), and `/logs` keeps them.
#[tokio::test(flavor = "multi_thread")]
async fn the_request_log_follows_requests_live() {
    use futures_util::StreamExt;
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    let follow = client()
        .get(format!("{}/logs/stream", p.base))
        .send()
        .await
        .expect("follow");
    assert_eq!(follow.headers()["content-type"], "text/event-stream");
    let mut frames = follow.bytes_stream();
    let mut req = request("claude-sonnet-4-5", "text", false);
    req["temperature"] = json!(0.3);
    assert_eq!(post(&p, &req).await.status(), 200);
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.contains("\n\n") && Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(10), frames.next())
            .await
            .expect("an entry in time")
            .expect("stream open")
            .expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let frame = text.split("\n\n").next().expect("frame");
    assert!(frame.starts_with("event: request\ndata: "), "{frame}");
    let entry: Value =
        serde_json::from_str(frame.trim_start_matches("event: request\ndata: ")).expect("json");
    assert_eq!(entry["model"], "claude-sonnet-4-5");
    assert_eq!(entry["lane"], "codex");
    // The account's catalog's newest flagship (the default table follows it).
    assert_eq!(entry["upstream_model"], "gpt-5.6-sol");
    assert_eq!(entry["account"], "acct-1@example.com");
    assert_eq!(entry["status"], 200);
    assert_eq!(entry["stream"], false);
    let paths = strings(&entry["degradations"], "path");
    assert!(
        paths.contains(&"max_tokens") && paths.contains(&"temperature"),
        "{paths:?}"
    );
    assert_eq!(entry["degradations_total"], paths.len());
    // The account's token is nowhere in it.
    let account: Value = serde_json::from_str(
        &std::fs::read_to_string(p.data_dir.join("accounts/acct-1.json")).expect("account"),
    )
    .expect("json");
    let token = account["access_token"].as_str().expect("token");
    assert!(token.len() > 20 && !frame.contains(token));
    let kept = get_json(&client(), format!("{}/logs", p.base)).await;
    assert_eq!(kept["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(kept["entries"][0], entry);
    assert_eq!(entry["id"], 1);
}

/// An OpenAI client asks for web search (`web_search_options`): the backend gets its search
/// tool, and the citations come back as `url_citation` annotations with char indices into
/// the content, streaming and not.
#[tokio::test(flavor = "multi_thread")]
async fn openai_clients_get_web_search_citations_as_annotations() {
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    let c = client();
    let body = |stream: bool| {
        json!({"model": "claude-sonnet-4-5", "stream": stream, "web_search_options": {},
               "messages": [{"role": "user", "content": "When was Rust 1.95 out? [[scenario:web_search]]"}]})
    };
    let expected = json!([
        {"type": "url_citation", "url_citation": {
            "url": "https://blog.rust-lang.example/2026/11/20/Rust-1.95.html",
            "title": "Announcing Rust 1.95", "start_index": 14, "end_index": 36}},
        {"type": "url_citation", "url_citation": {
            "url": "https://cafe.example/changelog",
            "title": "https://cafe.example/changelog", "start_index": 43, "end_index": 61}},
    ]);
    let done = post_json(&c, format!("{}/v1/chat/completions", p.base), &body(false)).await;
    let message = &done["choices"][0]["message"];
    assert_eq!(
        message["content"],
        "Rust 1.95 was released on 2026-11-20 — see the café changelog."
    );
    assert_eq!(message["annotations"], expected);
    let up = last_codex_body(&fake);
    assert_eq!(up["tools"], json!([{"type": "web_search"}]));

    let text = c
        .post(format!("{}/v1/chat/completions", p.base))
        .json(&body(true))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("body");
    let streamed: Vec<Value> = text
        .split("\n\n")
        .filter_map(|f| f.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .flat_map(|c| {
            c["choices"][0]["delta"]["annotations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(Value::Array(streamed), expected);
}

/// SIGTERM under load: new connections are refused at once, a stream that ends within the
/// drain time ends normally, one still open after it ends well-formed with an
/// `overloaded_error` event, and the process exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_then_ends_open_streams_and_exits_cleanly() {
    use futures_util::StreamExt;
    let fake = fake().await;
    let mut opts = one_account(&fake);
    opts.env
        .push(("CCP_DRAIN_TIMEOUT_SECS".into(), "1.5".into()));
    // The stalled stream commits early (pings), so it is a stream under way at the drain's end.
    opts.env
        .push(("CCP_COMMIT_TIMEOUT_SECS".into(), "0.2".into()));
    let mut p = Proxy::start(&fake, opts);
    let open = |scenario: &'static str| {
        let c = client();
        let url = format!("{}/v1/messages", p.base);
        async move {
            let r = c
                .post(url)
                .json(&request("claude-sonnet-4-5", scenario, true))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200);
            r.bytes_stream()
        }
    };
    let mut short = open("slow_drip").await;
    let mut long = open("stall").await;
    // Both are under way: their first bytes arrived.
    let mut short_text =
        String::from_utf8_lossy(&short.next().await.expect("chunk").expect("bytes")).into_owned();
    let mut long_text =
        String::from_utf8_lossy(&long.next().await.expect("chunk").expect("bytes")).into_owned();
    let signalled = Instant::now();
    p.terminate();
    // No new connection is taken.
    let refused = loop {
        let r = client().get(format!("{}/health", p.base)).send().await;
        if r.is_err() {
            break true;
        }
        if signalled.elapsed() > Duration::from_secs(3) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(refused, "new connections still accepted after SIGTERM");
    while let Some(b) = short.next().await {
        short_text.push_str(&String::from_utf8_lossy(&b.expect("bytes")));
    }
    while let Some(b) = long.next().await {
        long_text.push_str(&String::from_utf8_lossy(&b.expect("bytes")));
    }
    let waited = signalled.elapsed();
    let short_events = sse_events(&short_text);
    assert_eq!(
        short_events.last().map(|e| e.0.as_str()),
        Some("message_stop"),
        "{short_text}"
    );
    let long_events = sse_events(&long_text);
    let (last, data) = long_events.last().expect("events");
    assert_eq!(last, "error", "{long_text}");
    assert_eq!(data["error"]["type"], "overloaded_error", "{long_text}");
    assert!(
        long_events.iter().any(|e| e.0 == "message_start"),
        "{long_text}"
    );
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(5),
        "the stream ended {waited:?} after SIGTERM (drain 1.5 s)"
    );
    let status = tokio::task::block_in_place(|| p.exit_status(Duration::from_secs(8)));
    assert_eq!(status.map(|s| s.code()), Some(Some(0)), "{}", p.log_text());
}

/// Slow and hostile clients (docs/FAILURES.md): a head sent a byte at a time is cut at the
/// header read timeout; an oversized head is refused; 2,000 idle connections and connections
/// over the cap do not stop a normal client from being served as fast as before.
#[tokio::test(flavor = "multi_thread")]
async fn slow_idle_and_oversized_clients_do_not_starve_normal_ones() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // This test holds thousands of sockets itself.
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("limit");
    let _ = rlimit::increase_nofile_limit(hard);
    let fake = fake().await;
    let mut opts = one_account(&fake);
    opts.env
        .push(("CCP_HEADER_READ_TIMEOUT_SECS".into(), "1".into()));
    opts.env.push(("CCP_MAX_CONNECTIONS".into(), "2100".into()));
    let p = Proxy::start(&fake, opts);
    let addr = p.base.trim_start_matches("http://").to_owned();
    let normal = || async {
        let t = Instant::now();
        let r = post(&p, &request("claude-sonnet-4-5", "text", false)).await;
        assert_eq!(r.status(), 200);
        t.elapsed()
    };
    let before = normal().await;

    // Slowloris: a request head a byte at a time never completes; the proxy hangs up.
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let started = Instant::now();
    let head = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-a: ";
    let mut cut = false;
    for b in head.iter().chain(std::iter::repeat(&b'a')).take(200) {
        if slow.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if started.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let mut buf = [0u8; 256];
    let closed = cut
        || matches!(
            tokio::time::timeout(Duration::from_secs(3), slow.read(&mut buf)).await,
            Ok(Ok(_)) | Ok(Err(_))
        );
    assert!(closed, "a head dribbled for 4 s still held its connection");
    assert!(started.elapsed() < Duration::from_secs(5));

    // An oversized head: refused, not buffered.
    let mut big = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let junk = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n",
        "b".repeat(200_000)
    );
    let _ = big.write_all(junk.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), big.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("200 OK"), "{answer}");

    // 2,000 idle connections, then more than the cap: a normal client is still served.
    let mut idle = Vec::with_capacity(2200);
    for _ in 0..2200 {
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connect #{}: {e}", idle.len()),
        }
    }
    // Give the accept loop the connections (the cap closes the last ones at once).
    let checks = idle.iter_mut().rev().take(200).map(|s| async move {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    });
    let dropped = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter(|closed| *closed)
        .count();
    assert!(
        dropped >= 50,
        "connections over the cap were kept: {dropped} of 200 closed"
    );
    // Free a few slots (a client that gives up), then a normal request goes through.
    idle.truncate(2000);
    let during = normal().await;
    assert!(
        during < before * 20 + Duration::from_millis(500),
        "a normal request took {during:?} with 2,000 idle connections (before: {before:?})"
    );
    drop(idle);
}

/// Codex request bodies go compressed with zstd (what the Codex CLI sends the ChatGPT
/// backend): a large body is a zstd frame that decodes to the JSON, a small one goes plain,
/// Chat providers get plain bodies, and `codex_zstd = false` turns it off. A backend that
/// refuses the encoding gets the same request again plain at once (the client sees only the
/// answer), and no compressed body after that.
#[tokio::test(flavor = "multi_thread")]
async fn codex_bodies_go_zstd_compressed_and_a_refusal_falls_back_to_plain() {
    let codex = |fake: &proxy_fakes::FakeServer| -> Vec<proxy_fakes::Logged> {
        fake.requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/backend-api/codex/responses"))
            .collect()
    };
    let zstd = |l: &proxy_fakes::Logged| l.header("content-encoding") == Some("zstd");
    let long = |scenario: &str| {
        let mut body = request("claude-sonnet-4-5", scenario, false);
        body["system"] = json!("You are a careful engineer. ".repeat(400));
        body
    };

    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    assert_eq!(post(&p, &long("text")).await.status(), 200);
    let sent = codex(&fake).pop().expect("sent");
    assert!(zstd(&sent), "{:?}", sent.headers);
    let plain = serde_json::to_vec(&sent.json().expect("decoded json")).expect("json");
    assert!(
        sent.wire_bytes * 4 < plain.len(),
        "{} of {}",
        sent.wire_bytes,
        plain.len()
    );
    assert_eq!(
        post(&p, &request("claude-sonnet-4-5", "text", false))
            .await
            .status(),
        200
    );
    let small = codex(&fake).pop().expect("sent");
    assert!(!zstd(&small) && small.wire_bytes == small.body.len());
    let mut kilo = long("text");
    kilo["model"] = json!("minimax/minimax-m2.5:free");
    assert_eq!(post(&p, &kilo).await.status(), 200);
    let chat = fake.requests().pop().expect("chat");
    assert!(chat.path.contains("chat/completions") && !zstd(&chat));
    drop(p);

    let mut off = one_account(&fake);
    off.env.push(("CCP_CODEX_ZSTD".into(), "false".into()));
    let p = Proxy::start(&fake, off);
    assert_eq!(post(&p, &long("text")).await.status(), 200);
    assert!(!zstd(&codex(&fake).pop().expect("sent")));
    drop(p);

    for status in [415, 400] {
        let refusing = proxy_fakes::FakeServer::start(proxy_fakes::FakeConfig {
            refuse_zstd: Some(status),
            ..proxy_fakes::FakeConfig::default()
        })
        .await
        .expect("fake");
        let p = Proxy::start(&refusing, one_account(&refusing));
        for _ in 0..2 {
            let r = post(&p, &long("text")).await;
            assert_eq!(r.status(), 200, "{status}");
        }
        let sent = codex(&refusing);
        let statuses: Vec<(bool, u16)> = sent.iter().map(|l| (zstd(l), l.status)).collect();
        assert_eq!(statuses, [(true, status), (false, 200), (false, 200)]);
    }

    // A 400 that is the request's own (the plain resend gets it too) leaves compression on.
    let own = support::fake().await;
    let p = Proxy::start(&own, one_account(&own));
    assert_eq!(post(&p, &long("http_400")).await.status(), 400);
    assert_eq!(post(&p, &long("text")).await.status(), 200);
    let statuses: Vec<(bool, u16)> = codex(&own).iter().map(|l| (zstd(l), l.status)).collect();
    assert_eq!(statuses, [(true, 400), (false, 400), (true, 200)]);
}

/// A body slower than any sane client (docs/FAILURES.md): the head arrives, then the body a
/// byte every 300 ms. At `body_read_timeout_secs` (1 s here) the client gets an
/// Anthropic-shaped 408 saying what happened and the connection is closed; a normal client
/// served meanwhile keeps its normal latency.
#[tokio::test(flavor = "multi_thread")]
async fn a_body_slower_than_its_deadline_gets_a_408_and_the_connection_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fake = fake().await;
    let mut opts = one_account(&fake);
    opts.env
        .push(("CCP_BODY_READ_TIMEOUT_SECS".into(), "1".into()));
    let p = Proxy::start(&fake, opts);
    let normal = || async {
        let t = Instant::now();
        let r = post(&p, &request("claude-sonnet-4-5", "text", false)).await;
        assert_eq!(r.status(), 200);
        t.elapsed()
    };
    // The first request fetches the model catalog; the second is the normal latency.
    normal().await;
    let before = normal().await;

    let body = request("claude-sonnet-4-5", "text", false).to_string();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let slow = tokio::net::TcpStream::connect(p.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    let (mut rd, mut wr) = slow.into_split();
    wr.write_all(head.as_bytes()).await.expect("head");
    let started = Instant::now();
    let dribble = tokio::spawn(async move {
        for b in body.into_bytes() {
            if wr.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let during = normal().await;
    let mut answer = Vec::new();
    // EOF (or a reset after the answer, when a byte crosses the close) ends the read.
    let read = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut answer)).await;
    let took = started.elapsed();
    dribble.abort();
    assert!(read.is_ok(), "the connection was still open after 5 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    let json: Value = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or_else(|| panic!("no JSON body: {answer}"));
    assert_eq!(json["type"], "error");
    assert_eq!(json["error"]["type"], "invalid_request_error");
    let msg = json["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("not received in time") && msg.contains("1 s"),
        "{msg}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "the 408 came after {took:?}"
    );
    assert!(
        during < before * 5 + Duration::from_millis(200),
        "a normal request took {during:?} beside the slow body (before: {before:?})"
    );
    // No upstream request was made for the cut body.
    assert_eq!(fake.count("/backend-api/codex/responses"), 3);
}

/// A stream that ends with an `error` event after its commit: its log entry (written at the
/// commit, status 200) names the error once the stream is over.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_fails_after_its_commit_is_logged_with_its_error() {
    let fake = fake().await;
    let p = Proxy::start(&fake, one_account(&fake));
    let r = post(&p, &request("claude-sonnet-4-5", "error_event", true)).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("body");
    assert!(text.contains("event: error"), "{text}");
    let logs = get_json(&client(), format!("{}/logs", p.base)).await;
    let entry = logs["entries"]
        .as_array()
        .and_then(|e| e.last().cloned())
        .expect("an entry");
    assert_eq!(entry["status"], 200, "{entry}");
    assert_eq!(entry["error_type"], "overloaded_error", "{entry}");
}

/// `workers = 3`: three serving threads, each a runtime of its own. The accept loop hands a
/// new connection whole to the thread serving the fewest, so nine streams held open at once
/// on nine connections are spread over all three, and each comes out complete and in order.
#[tokio::test(flavor = "multi_thread")]
async fn serving_threads_share_the_connections_and_every_stream_completes() {
    let fake = fake().await;
    let mut opts = one_account(&fake);
    opts.env.push(("CCP_WORKERS".into(), "3".into()));
    let p = Proxy::start(&fake, opts);
    // A client each, so that no connection is shared; slow streams, so all are open at once.
    let one = |base: String| async move {
        let r = client()
            .post(format!("{base}/v1/messages"))
            .json(&request("claude-sonnet-4-5", "slow_drip", true))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        let events = sse_events(&r.text().await.expect("body"));
        let text: String = events
            .iter()
            .filter(|(name, _)| name == "content_block_delta")
            .filter_map(|(_, d)| d["delta"]["text"].as_str())
            .collect();
        let last = events.last().map(|(name, _)| name.clone());
        (text, last)
    };
    let answers = futures_util::future::join_all((0..9).map(|_| one(p.base.clone()))).await;
    let (first, _) = &answers[0];
    assert!(first.len() > 20, "{first:?}");
    for (text, last) in &answers {
        assert_eq!(text, first);
        assert_eq!(last.as_deref(), Some("message_stop"));
    }
    if cfg!(target_os = "linux") {
        // Each thread besides the accepting one was woken for its streams' deltas (20 each,
        // 20 ms apart): one that served none would have slept since its start.
        let threads: Vec<(String, u64)> = std::fs::read_dir(format!("/proc/{}/task", p.pid()))
            .expect("tasks")
            .filter_map(|t| {
                let dir = t.ok()?.path();
                let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
                let status = std::fs::read_to_string(dir.join("status")).ok()?;
                let woken = status
                    .lines()
                    .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
                    .trim()
                    .parse()
                    .ok()?;
                Some((comm.trim().to_owned(), woken))
            })
            .filter(|(comm, _)| comm.starts_with("serve-"))
            .collect();
        assert_eq!(
            threads.len(),
            2,
            "the accepting thread and two more: {threads:?}"
        );
        for (comm, woken) in &threads {
            assert!(*woken >= 20, "{comm} served no stream: {threads:?}");
        }
    }
}
