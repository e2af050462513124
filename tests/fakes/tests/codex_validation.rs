//! The Codex fake rejects requests the way the real backend does (codex.md §1.6, §7).

mod common;

use common::*;
use proxy_fakes::FakeConfig;
use serde_json::{Value, json};

async fn expect_detail(body: Value, status: u16, detail: &str) {
    let srv = server().await;
    let (s, b) = status_json(codex(&srv, &body).await).await;
    assert_eq!((s, b), (status, json!({ "detail": detail })));
}

#[tokio::test]
async fn auth_rules() {
    let srv = server_with(FakeConfig {
        valid_tokens: vec![("tok-a".into(), "acct-a".into())],
        ..FakeConfig::default()
    })
    .await;
    let url = format!("{}/backend-api/codex/responses", srv.base_url());
    let send = |token: Option<&str>, account: Option<&str>| {
        let mut r = client()
            .post(&url)
            .header("originator", "codex_cli_rs")
            .header("accept", "text/event-stream")
            .body(codex_body().to_string());
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        if let Some(a) = account {
            r = r.header("chatgpt-account-id", a);
        }
        r.send()
    };
    let unauthorized = json!({"detail": "Unauthorized"});
    for (t, a) in [
        (None, Some("acct-a")),
        (Some("nope"), Some("acct-a")),
        (Some("tok-a"), Some("acct-b")),
        (Some("tok-a"), None),
    ] {
        let (s, b) = status_json(send(t, a).await.expect("send")).await;
        assert_eq!((s, &b), (401, &unauthorized), "token {t:?} account {a:?}");
    }
    let resp = send(Some("tok-a"), Some("acct-a")).await.expect("send");
    assert_eq!(resp.status(), 200);
    // a token added at runtime works too
    srv.add_token("tok-b", "acct-b");
    let resp = send(Some("tok-b"), Some("acct-b")).await.expect("send");
    assert_eq!(resp.status(), 200);
    // rejected requests are logged without a scenario
    let log = srv.requests();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].status, 401);
    assert_eq!(log[0].scenario, None);
    assert_eq!(log[4].scenario.as_deref(), Some("text"));
}

#[tokio::test]
async fn open_mode_accepts_any_bearer_but_not_none() {
    let srv = server().await;
    assert_eq!(codex(&srv, &codex_body()).await.status(), 200);
    let resp = client()
        .post(format!("{}/backend-api/codex/responses", srv.base_url()))
        .header("originator", "codex_cli_rs")
        .header("accept", "text/event-stream")
        .body(codex_body().to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn expired_minted_token_is_rejected() {
    let srv = server_with(FakeConfig {
        expires_in: 0,
        ..FakeConfig::default()
    })
    .await;
    let (access, _, _) = srv.issue_tokens("acct-x", "x@example.com");
    let resp = codex_request_as(&srv, &codex_body(), &access, "acct-x")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn header_rules() {
    let srv = server().await;
    let url = format!("{}/backend-api/codex/responses", srv.base_url());
    let no_originator = client()
        .post(&url)
        .header("authorization", "Bearer t")
        .header("accept", "text/event-stream")
        .body(codex_body().to_string())
        .send()
        .await
        .expect("send");
    let (s, b) = status_json(no_originator).await;
    assert_eq!(s, 400);
    assert!(b["detail"].as_str().expect("detail").contains("originator"));
    let wrong_accept = client()
        .post(&url)
        .header("authorization", "Bearer t")
        .header("originator", "codex_cli_rs")
        .header("accept", "application/json")
        .body(codex_body().to_string())
        .send()
        .await
        .expect("send");
    let (s, b) = status_json(wrong_accept).await;
    assert_eq!(s, 400);
    assert!(
        b["detail"]
            .as_str()
            .expect("detail")
            .contains("text/event-stream")
    );
}

#[tokio::test]
async fn stream_store_instructions() {
    let mut b = codex_body();
    b["stream"] = json!(false);
    expect_detail(b, 400, "Stream must be set to true").await;
    let mut b = codex_body();
    b["store"] = json!(true);
    expect_detail(b, 400, "Store must be set to false").await;
    let mut b = codex_body();
    b.as_object_mut().expect("obj").remove("store");
    expect_detail(b, 400, "Store must be set to false").await;
    let mut b = codex_body();
    b.as_object_mut().expect("obj").remove("instructions");
    expect_detail(b, 400, "Instructions are required").await;
    let mut b = codex_body();
    b["instructions"] = json!(["not", "a", "string"]);
    expect_detail(b, 400, "Instructions are required").await;
    let mut b = codex_body();
    b["instructions"] = json!("");
    let srv = server().await;
    assert_eq!(codex(&srv, &b).await.status(), 200, "empty string is fine");
}

#[tokio::test]
async fn unsupported_parameters() {
    for p in [
        "max_output_tokens",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "metadata",
        "user",
        "previous_response_id",
        "truncation",
        "context_management",
    ] {
        let mut b = codex_body();
        b[p] = json!(1);
        expect_detail(b, 400, &format!("Unsupported parameter: {p}")).await;
    }
}

#[tokio::test]
async fn system_messages() {
    let mut b = codex_body();
    b["input"] = json!([{"type": "message", "role": "system",
                         "content": [{"type": "input_text", "text": "sys"}]},
                        {"type": "message", "role": "user",
                         "content": [{"type": "input_text", "text": "hi"}]}]);
    expect_detail(b, 400, "System messages are not allowed").await;
}

async fn expect_error(body: Value, status: u16, needle: &str) -> Value {
    let srv = server().await;
    let (s, b) = status_json(codex(&srv, &body).await).await;
    assert_eq!(s, status, "{b}");
    let msg = b["error"]["message"].as_str().expect("error.message");
    assert!(msg.contains(needle), "{msg}");
    assert_eq!(b["error"]["type"], "invalid_request_error");
    b
}

#[tokio::test]
async fn item_ids_and_references_are_not_found() {
    let mut b = codex_body();
    b["input"] = json!([{"type": "message", "id": "msg_123", "role": "user",
                         "content": [{"type": "input_text", "text": "hi"}]}]);
    expect_error(b, 404, "Item with id 'msg_123' not found").await;
    let mut b = codex_body();
    b["input"] = json!([{"type": "item_reference", "id": "rs_abc"}]);
    let e = expect_error(
        b,
        404,
        "Items are not persisted when `store` is set to false",
    )
    .await;
    assert!(
        e["error"]["message"]
            .as_str()
            .expect("m")
            .contains("rs_abc")
    );
}

#[tokio::test]
async fn function_call_pairing() {
    let user = json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]});
    let call =
        json!({"type": "function_call", "name": "Bash", "arguments": "{}", "call_id": "call_1"});
    let out = json!({"type": "function_call_output", "call_id": "call_1", "output": "ok"});
    let mut b = codex_body();
    b["input"] = json!([user, call]);
    expect_error(b, 400, "No tool output found for function call call_1").await;
    let mut b = codex_body();
    b["input"] = json!([user, out]);
    expect_error(
        b,
        400,
        "No tool call found for function call output with call_id call_1",
    )
    .await;
    let mut b = codex_body();
    b["input"] = json!([user, call, out]);
    let srv = server().await;
    assert_eq!(codex(&srv, &b).await.status(), 200);
}

#[tokio::test]
async fn tool_names() {
    let tool = |name: &str| {
        json!({"type": "function", "name": name, "strict": false,
                                   "parameters": {"type": "object", "properties": {}}})
    };
    let mut b = codex_body();
    b["tools"] = json!([tool("ok_name"), tool("mcp__server.tool")]);
    let e = expect_error(b, 400, "does not match pattern").await;
    assert_eq!(e["error"]["param"], "tools[1].name");
    let mut b = codex_body();
    b["tools"] = json!([tool(&"x".repeat(65))]);
    expect_error(b, 400, "maximum length 64").await;
    let mut b = codex_body();
    b["tools"] = json!([tool(&"x".repeat(64))]);
    let srv = server().await;
    assert_eq!(codex(&srv, &b).await.status(), 200);
}

#[tokio::test]
async fn content_types_per_role() {
    let mut b = codex_body();
    b["input"] = json!([{"type": "message", "role": "assistant",
                         "content": [{"type": "input_text", "text": "hi"}]}]);
    expect_error(b, 400, "Invalid value: 'input_text'").await;
}

#[tokio::test]
async fn encrypted_content_must_be_ours() {
    let srv = server().await;
    let mut b = codex_body();
    b["input"] = json!([{"type": "reasoning", "summary": [], "encrypted_content": "gAAAAABforged=="},
                        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]);
    let (s, e) = status_json(codex(&srv, &b).await).await;
    assert_eq!(s, 400);
    assert_eq!(e["error"]["code"], "invalid_encrypted_content");
    assert_eq!(e["error"]["param"], Value::Null);
    assert!(
        e["error"]["message"]
            .as_str()
            .expect("m")
            .ends_with("could not be verified.")
    );

    // a blob the fake minted replays fine
    let text = codex(&srv, &codex_body()).await.text().await.expect("text");
    let events = parse_sse(&text);
    let blob = events
        .iter()
        .find(|(_, d)| d["type"] == "response.output_item.done" && d["item"]["type"] == "reasoning")
        .and_then(|(_, d)| d["item"]["encrypted_content"].as_str().map(str::to_string))
        .expect("encrypted_content");
    assert!(blob.starts_with("gAAAAA"));
    b["input"][0]["encrypted_content"] = json!(blob);
    assert_eq!(codex(&srv, &b).await.status(), 200);
    // null encrypted_content is accepted; a missing summary is not
    b["input"][0]["encrypted_content"] = Value::Null;
    assert_eq!(codex(&srv, &b).await.status(), 200);
    b["input"][0].as_object_mut().expect("o").remove("summary");
    assert_eq!(codex(&srv, &b).await.status(), 400);
}

#[tokio::test]
async fn records_session_and_strict() {
    let srv = server().await;
    let mut b = codex_body();
    b["tools"] = json!([
        {"type": "function", "name": "A", "strict": false, "parameters": {"type": "object"}},
        {"type": "function", "name": "B", "parameters": {"type": "object"}}
    ]);
    assert_eq!(codex(&srv, &b).await.status(), 200);
    b["prompt_cache_key"] = json!("other");
    assert_eq!(codex(&srv, &b).await.status(), 200);
    let log = srv.requests();
    assert_eq!(log[0].session_matches_cache_key, Some(true));
    assert_eq!(log[1].session_matches_cache_key, Some(false));
    assert_eq!(log[0].tools_without_strict, vec!["B".to_string()]);
    assert_eq!(log[0].header("Originator"), Some("codex_cli_rs"));
    assert_eq!(log[0].json().expect("json")["model"], "gpt-5.5");
    assert_eq!(srv.count("/backend-api/codex"), 2);
}

#[tokio::test]
async fn unknown_scenario_is_a_loud_400() {
    let srv = server().await;
    let (s, b) = status_json(
        codex_request(&srv, &codex_body())
            .header("x-fake-scenario", "no_such_thing")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 400);
    assert!(b["detail"].as_str().expect("d").contains("no_such_thing"));
}

#[tokio::test]
async fn usage_and_models() {
    let srv = server().await;
    let get = |path: &str| {
        client()
            .get(format!("{}{path}", srv.base_url()))
            .header("authorization", "Bearer t")
            .header("chatgpt-account-id", "acct-1")
            .send()
    };
    let (s, u) = status_json(get("/backend-api/wham/usage").await.expect("send")).await;
    assert_eq!(s, 200);
    assert_eq!(u["plan_type"], "plus");
    assert_eq!(
        u["rate_limit"]["primary_window"]["limit_window_seconds"],
        604800
    );
    assert_eq!(u["account_id"], "acct-1");
    let (s, _) = status_json(get("/backend-api/codex/models").await.expect("send")).await;
    assert_eq!(s, 400);
    let (s, m) = status_json(
        get("/backend-api/codex/models?client_version=0.147.0")
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(m["models"][0]["slug"], "gpt-5.5");
    assert_eq!(m["models"][0]["context_window"], 272000);
    let unauth = client()
        .get(format!("{}/backend-api/wham/usage", srv.base_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(unauth.status(), 401);
}
