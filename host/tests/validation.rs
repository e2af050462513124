//! Request validation through the real binary (docs/CONVERSION.md §11), generated from a table
//! of fields and wrong values: every body is sent on both lanes (a Codex-routed model with an
//! account, and a Chat-routed one), each gets a 400 that names the field, and the fake
//! upstreams record no request at all.

mod support;

use serde_json::{Value, json};
use support::{Proxy, ProxyOpts, TestAccount, client, fake};

/// Set the value at a path like `messages[0].content[1].source.data`.
fn set(root: &mut Value, path: &str, new: Value) {
    let mut cur = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (n, part) in parts.iter().enumerate() {
        let (key, index) = match part.find('[') {
            Some(i) => (
                &part[..i],
                part[i + 1..part.len() - 1].parse::<usize>().ok(),
            ),
            None => (*part, None),
        };
        let last = n + 1 == parts.len();
        if last && index.is_none() {
            cur[key] = new;
            return;
        }
        cur = &mut cur[key];
        if let Some(i) = index {
            if last {
                cur[i] = new;
                return;
            }
            cur = &mut cur[i];
        }
    }
}

fn anthropic_base(model: &str) -> Value {
    json!({
        "model": model, "max_tokens": 64, "stream": false,
        "system": [{"type": "text", "text": "be brief"}],
        "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}
        ]
    })
}

/// (field set, wrong value, the path the 400 must name).
fn anthropic_table() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("max_tokens", json!("64"), "max_tokens"),
        ("max_tokens", json!(-1), "max_tokens"),
        ("max_tokens", json!(1.5), "max_tokens"),
        ("stream", json!("yes"), "stream"),
        ("stream", json!(1), "stream"),
        ("temperature", json!(1.5), "temperature"),
        ("temperature", json!("0.2"), "temperature"),
        ("top_p", json!(-0.1), "top_p"),
        ("top_k", json!(-3), "top_k"),
        ("top_k", json!("3"), "top_k"),
        ("stop_sequences", json!("END"), "stop_sequences"),
        ("stop_sequences", json!([7]), "stop_sequences[0]"),
        ("metadata", json!("me"), "metadata"),
        ("system", json!(5), "system"),
        ("system[0].text", json!(5), "system[0].text"),
        ("thinking", json!("on"), "thinking"),
        (
            "thinking",
            json!({"type": "enabled", "budget_tokens": 10}),
            "thinking.budget_tokens",
        ),
        ("tools", json!("x"), "tools"),
        ("tools[0].input_schema", json!("x"), "tools[0].input_schema"),
        ("tool_choice", json!({"type": "tool"}), "tool_choice.name"),
        ("tool_choice", json!("auto"), "tool_choice"),
        ("messages", json!([]), "messages"),
        ("messages", json!("hi"), "messages"),
        ("messages[0].role", json!("robot"), "messages[0].role"),
        ("messages[0].content", json!(5), "messages[0].content"),
        (
            "messages[0].content[0].text",
            json!(5),
            "messages[0].content[0].text",
        ),
        (
            "messages[0].content[1].source.data",
            json!(5),
            "messages[0].content[1].source.data",
        ),
        (
            "messages[1].content[0].input",
            json!("x"),
            "messages[1].content[0].input",
        ),
        (
            "messages[1].content[0].id",
            json!(3),
            "messages[1].content[0].id",
        ),
        (
            "messages[2].content[0].is_error",
            json!("no"),
            "messages[2].content[0].is_error",
        ),
    ]
}

fn openai_base() -> Value {
    json!({"model": "claude-sonnet-4-5", "stream": false, "max_tokens": 64,
           "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
           "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]})
}

fn openai_table() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("messages", json!([]), "messages"),
        ("messages[1].role", json!("robot"), "messages[1].role"),
        ("messages[1].content", json!(5), "messages[1].content"),
        ("temperature", json!(3), "temperature"),
        ("top_p", json!(2), "top_p"),
        ("max_tokens", json!("10"), "max_tokens"),
        ("stream", json!("yes"), "stream"),
        ("stop", json!([1]), "stop[0]"),
        ("presence_penalty", json!(5), "presence_penalty"),
        ("tools", json!("x"), "tools"),
        (
            "tools[0].function.parameters",
            json!("x"),
            "tools[0].function.parameters",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_wrong_field_is_a_400_naming_it_on_both_lanes_and_nothing_goes_upstream() {
    let fake = fake().await;
    let (access, _, _) = fake.issue_tokens("acct-1", "one@example.com");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            accounts: vec![TestAccount {
                account_id: "acct-1".into(),
                access_token: access,
            }],
            ..ProxyOpts::default()
        },
    );
    let c = client();
    let mut failures = Vec::new();
    let mut sent = 0;
    // A Codex-routed model and a Chat-routed one (Kilo by default).
    for model in ["claude-sonnet-4-5", "claude-haiku-4-5"] {
        let base = anthropic_base(model);
        for (field, wrong, path) in anthropic_table() {
            let mut body = base.clone();
            set(&mut body, field, wrong.clone());
            let r = c
                .post(format!("{}/v1/messages", p.base))
                .json(&body)
                .send()
                .await
                .expect("send");
            sent += 1;
            let status = r.status().as_u16();
            let e: Value = r.json().await.unwrap_or(Value::Null);
            let message = e["error"]["message"].as_str().unwrap_or("");
            if status != 400
                || e["error"]["type"] != "invalid_request_error"
                || !message.starts_with(&format!("{path}: "))
            {
                failures.push(format!("{model} {field}={wrong}: {status} {e}"));
            }
        }
    }
    for model in ["claude-sonnet-4-5", "claude-haiku-4-5"] {
        for (field, wrong, path) in openai_table() {
            let mut body = openai_base();
            body["model"] = json!(model);
            set(&mut body, field, wrong.clone());
            let r = c
                .post(format!("{}/v1/chat/completions", p.base))
                .json(&body)
                .send()
                .await
                .expect("send");
            sent += 1;
            let status = r.status().as_u16();
            let e: Value = r.json().await.unwrap_or(Value::Null);
            if status != 400
                || e["error"]["param"] != path
                || e["error"]["type"] != "invalid_request_error"
            {
                failures.push(format!("openai {model} {field}={wrong}: {status} {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} bodies:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let upstream = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/responses") || r.path.contains("/chat/completions"))
        .count();
    assert_eq!(upstream, 0, "an invalid body reached an upstream");

    // The valid bases do go through, on both lanes and both dialects (the table is not vacuous).
    for model in ["claude-sonnet-4-5", "claude-haiku-4-5"] {
        let r = c
            .post(format!("{}/v1/messages", p.base))
            .json(&anthropic_base(model))
            .send()
            .await
            .expect("send");
        assert_eq!(
            r.status(),
            200,
            "{model}: {}",
            r.text().await.unwrap_or_default()
        );
        let mut body = openai_base();
        body["model"] = json!(model);
        let r = c
            .post(format!("{}/v1/chat/completions", p.base))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(
            r.status(),
            200,
            "openai {model}: {}",
            r.text().await.unwrap_or_default()
        );
    }
}
