//! Real clients through the real binary: the official Anthropic SDKs (TypeScript, Python) and
//! the Claude Code CLI, against the fake upstreams. `bash tests/run.sh` installs the pinned
//! clients under `tests/clients/` first.

mod support;

use serde_json::Value;

use std::process::Command;
use support::clients::{
    assert_same, check_kinds, claude_print, claude_writes_a_file, clients_dir, need, python, run,
};
use support::{Proxy, fake};

fn proxy_with_account(fake: &proxy_fakes::FakeServer) -> Proxy {
    Proxy::start(fake, support::one_account(fake))
}

const CASES: &[(&str, &str, bool)] = &[
    ("claude-sonnet-4-5", "text", false),
    ("claude-sonnet-4-5", "tools", false),
    ("claude-opus-4-5", "reasoning", true),
    ("claude-haiku-4-5", "text", false),
    ("claude-haiku-4-5", "tools", true),
    ("claude-sonnet-4-5", "web_search", false),
];

#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_stream_equals_non_stream() {
    let node_sdk = clients_dir().join("node_modules/@anthropic-ai/sdk");
    need(&node_sdk, "@anthropic-ai/sdk");
    let fake = fake().await;
    let p = proxy_with_account(&fake);
    for (model, scenario, thinking) in CASES {
        let mut cmd = Command::new("node");
        cmd.current_dir(clients_dir())
            .arg("sdk_roundtrip.mjs")
            .args([p.base.as_str(), model, scenario]);
        if *thinking {
            cmd.arg("thinking");
        }
        let v = tokio::task::block_in_place(|| run(&mut cmd));
        assert_same(&v, &format!("ts {model} {scenario}"));
        check_kinds(&v, scenario);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sdk_stream_equals_non_stream() {
    need(&python(), "the Python venv with `anthropic`");
    let fake = fake().await;
    let p = proxy_with_account(&fake);
    for (model, scenario, thinking) in CASES {
        let mut cmd = Command::new(python());
        cmd.current_dir(clients_dir())
            .arg("sdk_roundtrip.py")
            .args([p.base.as_str(), model, scenario]);
        if *thinking {
            cmd.arg("thinking");
        }
        let v = tokio::task::block_in_place(|| run(&mut cmd));
        assert_same(&v, &format!("python {model} {scenario}"));
        check_kinds(&v, scenario);
    }
}

/// Claude Code in print mode: the fake backend asks it to write a file with its Write tool,
/// then answers; the file must exist with the content, and the final answer must arrive.
/// Claude Code's JSON result: it exited well and reports no error (else the proxy's log).
fn claude_result(out: &std::process::Output, p: &Proxy) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "claude failed ({}): {stdout}\n{}\nproxy log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        p.log_text()
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("claude prints JSON");
    assert_eq!(result["is_error"], false, "{result}");
    result
}

/// A fake backend whose socket continues Responses Lite turns too: Claude Code's models go
/// to the catalog's newest, a Lite model, and the CLI's turns are to show continuation (what
/// a backend that refuses it leads to is `websocket.rs`'s Lite test).
async fn continuing_fake() -> proxy_fakes::FakeServer {
    proxy_fakes::FakeServer::start(proxy_fakes::FakeConfig {
        stall_secs: 20,
        drip_ms: 20,
        lite_continuation: true,
        ..proxy_fakes::FakeConfig::default()
    })
    .await
    .expect("start fake")
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_writes_a_file_through_the_proxy() {
    let fake = continuing_fake().await;
    let p = proxy_with_account(&fake);
    let (out, target) =
        tokio::task::block_in_place(|| claude_writes_a_file(&p.base, "dummy", &[], &p.data_dir));
    let result = claude_result(&out, &p);
    assert_eq!(
        std::fs::read_to_string(&target).expect("the file was written"),
        "hello from the fake codex\n"
    );
    assert!(
        result["result"].as_str().unwrap_or("").contains("DONE"),
        "final answer: {result}"
    );
    // Both turns went to the Codex backend, over its WebSocket (the fake's catalog prefers
    // it, as the real one does for current models): a tool call, then the answer as an append
    // of the tool's result only.
    let turns: Vec<proxy_fakes::Logged> = fake
        .requests()
        .into_iter()
        .filter(|l| l.path.starts_with("/backend-api/codex/responses") && l.method == "POST")
        .collect();
    assert_eq!(
        turns.len(),
        2,
        "{:?}",
        turns.iter().map(|l| l.ws_items).collect::<Vec<_>>()
    );
    let items = |l: &proxy_fakes::Logged| {
        l.json().expect("json")["input"]
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(turns[0].ws_items, Some(items(&turns[0])));
    let appended = turns[1].ws_items.expect("over the socket");
    assert!(
        appended < items(&turns[1]) - items(&turns[0]) + 1,
        "{appended}"
    );
}

/// Claude Code with a deferred MCP tool and a subagent, on a model that runs client tool
/// search (docs/CONVERSION.md §1.10): the model finds the tool with the backend's own search
/// (Claude Code's `ToolSearch` runs it and its `tool_reference` answer loads the tool in the
/// middle of the conversation), calls it, hands a check to a subagent, and finishes. Every
/// request is answered without a 4xx, so Claude Code never strips a feature and retries: the
/// fake sees exactly the four main-thread turns and the one subagent turn.
#[tokio::test(flavor = "multi_thread")]
async fn claude_code_finds_a_deferred_tool_and_runs_a_subagent_with_no_4xx() {
    let fake = continuing_fake().await;
    let p = proxy_with_account(&fake);
    let notes = p.data_dir.join("notes.jsonl");
    let mcp = p.data_dir.join("mcp.json");
    let server = clients_dir().join("mcp_notes.mjs");
    let config = serde_json::json!({"mcpServers": {"notes": {
        "command": "node", "args": [server], "env": {"NOTES_FILE": notes}}}});
    std::fs::write(&mcp, config.to_string()).expect("mcp config");
    let mcp = mcp.display().to_string();
    let out = tokio::task::block_in_place(|| {
        claude_print(
            &p.base,
            "dummy",
            "Save a note, then have it checked. [[scenario:claude_code_agents]]",
            &[
                "--mcp-config",
                &mcp,
                "--allowedTools",
                "mcp__notes__save,Agent",
                "--max-turns",
                "8",
            ],
            &[("ENABLE_TOOL_SEARCH", "true")],
            &p.data_dir,
        )
    });
    let result = claude_result(&out, &p);
    assert!(
        result["result"].as_str().unwrap_or("").contains("DONE"),
        "final answer: {result}"
    );
    // The MCP tool ran, with the arguments the model gave.
    let saved = std::fs::read_to_string(&notes).expect("the notes tool ran");
    assert_eq!(saved.trim(), r#"{"title":"hello from the fake codex"}"#);

    // No 4xx anywhere: not from the proxy to Claude Code, not from the backend to the proxy.
    let logs: Value = reqwest::get(format!("{}/logs", p.base))
        .await
        .expect("logs")
        .json()
        .await
        .expect("logs json");
    let sent: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|l| l.path.starts_with("/backend-api/codex/responses"))
        .collect();
    for l in &sent {
        assert!(
            l.status < 400,
            "{} {}\nproxy log:\n{}",
            l.status,
            String::from_utf8_lossy(&l.body),
            p.log_text()
        );
    }
    let entries = logs["entries"].as_array().cloned().unwrap_or_default();
    assert!(!entries.is_empty(), "{logs}");
    for e in &entries {
        assert!(e["status"].as_u64().unwrap_or(0) < 400, "{e}");
    }
    let played = |s: &str| {
        sent.iter()
            .filter(|l| l.scenario.as_deref() == Some(s))
            .collect::<Vec<_>>()
    };
    let main = played("claude_code_agents");
    let sub = played("subagent_reply");
    assert_eq!(
        (main.len(), sub.len()),
        (4, 1),
        "one request per turn, no retry"
    );
    // Every turn went over the backend's WebSocket, none fell back to HTTP.
    assert!(
        sent.iter()
            .filter(|l| l.method == "POST")
            .all(|l| l.ws_items.is_some())
    );

    // The search went out as the backend's own, and found the deferred tool by value.
    let body = |l: &proxy_fakes::Logged| l.json().expect("json body");
    // Top-level `tools`, or the Lite profile's leading `additional_tools` item.
    let declared = |b: &Value| -> Vec<Value> {
        let lite = b["input"].as_array().and_then(|i| {
            i.iter()
                .find(|x| x["type"] == "additional_tools")
                .map(|x| x["tools"].clone())
        });
        lite.unwrap_or_else(|| b["tools"].clone())
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let first = body(main[0]);
    assert!(
        declared(&first)
            .iter()
            .any(|t| t["type"] == "tool_search" && t["execution"] == "client")
    );
    let second = body(main[1]);
    let declared = declared(&second);
    let notes_tool = declared
        .iter()
        .find(|t| t["name"] == "mcp__notes__save")
        .expect("the MCP tool is declared once connected");
    assert_eq!(notes_tool["defer_loading"], true, "{notes_tool}");
    let input = second["input"].as_array().cloned().unwrap_or_default();
    let call = input
        .iter()
        .find(|i| i["type"] == "tool_search_call")
        .expect("search call");
    let output = input
        .iter()
        .find(|i| i["type"] == "tool_search_output")
        .expect("search output");
    assert_eq!(call["call_id"], output["call_id"]);
    let found = output["tools"].as_array().cloned().unwrap_or_default();
    assert!(
        found.iter().any(|t| t["name"] == "mcp__notes__save"),
        "{output}"
    );

    // The subagent has its own cache key and session header, apart from its parent's.
    let key = |l: &proxy_fakes::Logged| body(l)["prompt_cache_key"].as_str().map(str::to_owned);
    assert!(key(main[0]).is_some());
    assert!(main.iter().all(|l| key(l) == key(main[0])));
    assert!(key(sub[0]).is_some() && key(sub[0]) != key(main[0]));
    assert_eq!(sub[0].header("session_id").map(str::to_owned), key(sub[0]));
}

/// The official OpenAI Python SDK on `/v1/chat/completions`, both lanes: the accumulated
/// stream equals the non-streaming completion.
#[tokio::test(flavor = "multi_thread")]
async fn openai_sdk_stream_equals_non_stream() {
    need(&python(), "the Python venv with `openai`");
    let fake = fake().await;
    let p = proxy_with_account(&fake);
    for (model, scenario) in [
        ("claude-sonnet-4-5", "text"),
        ("gpt-5.5", "tools"),
        ("claude-haiku-4-5", "text"),
        ("claude-haiku-4-5", "tools"),
    ] {
        let mut cmd = Command::new(python());
        cmd.current_dir(clients_dir())
            .arg("openai_roundtrip.py")
            .args([p.base.as_str(), model, scenario]);
        let v = tokio::task::block_in_place(|| run(&mut cmd));
        assert_eq!(v["streamed"], v["plain"], "{model} {scenario}");
        if scenario == "tools" {
            assert_eq!(v["plain"]["finish_reason"], "tool_calls", "{model}");
            let args = v["plain"]["tool_calls"][0]["arguments"]
                .as_str()
                .unwrap_or("");
            assert!(
                serde_json::from_str::<Value>(args).is_ok_and(|a| a.is_object()),
                "{args}"
            );
        } else {
            assert!(
                v["plain"]["content"]
                    .as_str()
                    .is_some_and(|c| !c.is_empty())
            );
            assert_eq!(v["plain"]["finish_reason"], "stop");
        }
        assert!(v["plain"]["usage"]["prompt_tokens"].as_u64().is_some());
    }
}

/// OpenCode's and OpenClaw's configs from `GET /api/clients` (the dashboard's Clients page,
/// docs/CLIENTS.md), used as each agent uses them: OpenCode's AI SDK Anthropic provider with
/// its thinking variant and a replayed second turn, OpenClaw's Messages client with thinking
/// on because the model says `reasoning: true`.
#[tokio::test(flavor = "multi_thread")]
async fn opencode_and_openclaw_configs_work_against_the_binary() {
    need(
        &clients_dir().join("node_modules/@ai-sdk/anthropic"),
        "@ai-sdk/anthropic and ai",
    );
    let fake = fake().await;
    let p = proxy_with_account(&fake);
    let mut cmd = Command::new("node");
    cmd.current_dir(clients_dir())
        .arg("agents_roundtrip.mjs")
        .args([p.base.as_str(), "reasoning"]);
    let v = tokio::task::block_in_place(|| run(&mut cmd));
    let oc = &v["opencode"];
    assert_eq!(oc["baseURL"], format!("{}/v1", p.base), "{v}");
    assert!(
        !oc["first"]["text"].as_str().unwrap_or("").is_empty(),
        "{v}"
    );
    assert!(
        !oc["first"]["reasoning"].as_str().unwrap_or("").is_empty(),
        "{v}"
    );
    // The AI SDK drops unsigned reasoning when it replays a turn: every block must be signed.
    let signed = oc["signed_reasoning_replayed"].as_array().expect("list");
    assert!(
        !signed.is_empty() && signed.iter().all(|s| s == true),
        "{v}"
    );
    assert_eq!(oc["second"]["finish"], "stop", "{v}");
    assert!(
        !oc["second"]["text"].as_str().unwrap_or("").is_empty(),
        "{v}"
    );
    let ow = &v["openclaw"];
    assert_eq!(ow["baseUrl"], p.base.as_str(), "{v}");
    assert_eq!(ow["reasoning"], true, "{v}");
    assert!(
        ow["contextWindow"].as_u64().is_some_and(|c| c >= 200_000),
        "{v}"
    );
    assert_eq!(ow["content"][0], "thinking", "{v}");
    assert!(!ow["text"].as_str().unwrap_or("").is_empty(), "{v}");
    assert_eq!(ow["stop_reason"], "end_turn", "{v}");
    // Both agents' three requests were answered, none with an error.
    let logs = support::get_json(&support::client(), format!("{}/logs", p.base)).await;
    let statuses: Vec<&Value> = logs["entries"]
        .as_array()
        .expect("logs")
        .iter()
        .map(|e| &e["status"])
        .collect();
    assert_eq!(statuses, [200, 200, 200], "{logs}");
}

/// The official Anthropic SDKs (TypeScript, Python) run a five-turn tool task with thinking,
/// streamed and not, on a classic-profile model (`gpt-5.5`: the socket continues it whatever
/// the backend does with Lite turns), once with the Codex WebSocket and once over HTTP: every turn after the
/// first goes over the socket as only its new items, and what the SDKs get is the same either
/// way, ids and signatures aside.
#[tokio::test(flavor = "multi_thread")]
async fn the_sdks_run_a_tool_task_over_the_websocket_as_over_http() {
    need(
        &clients_dir().join("node_modules/@anthropic-ai/sdk"),
        "@anthropic-ai/sdk",
    );
    need(&python(), "the Python venv with `anthropic`");
    let runs = |transport: &'static str| async move {
        let fake = fake().await;
        let mut opts = support::one_account(&fake);
        opts.env
            .push(("CCP_CODEX_TRANSPORT".into(), transport.into()));
        let p = Proxy::start(&fake, opts);
        let ts = tokio::task::block_in_place(|| {
            run(Command::new("node").current_dir(clients_dir()).args([
                "sdk_tool_loop.mjs",
                p.base.as_str(),
                "5",
                "gpt-5.5",
            ]))
        });
        let py = tokio::task::block_in_place(|| {
            run(Command::new(python()).current_dir(clients_dir()).args([
                "sdk_tool_loop.py",
                p.base.as_str(),
                "5",
                "gpt-5.5",
            ]))
        });
        let turns: Vec<proxy_fakes::Logged> = fake
            .requests()
            .into_iter()
            .filter(|l| l.path.starts_with("/backend-api/codex/responses") && l.method == "POST")
            .collect();
        (ts, py, turns)
    };
    // What an SDK user sees, without the values that differ by run.
    let seen = |v: &Value| -> Vec<Value> {
        v["turns"]
            .as_array()
            .expect("turns")
            .iter()
            .map(|m| {
                let blocks: Vec<Value> = m["content"]
                    .as_array()
                    .expect("content")
                    .iter()
                    .map(|b| {
                        let mut b = b.clone();
                        let o = b.as_object_mut().expect("block");
                        o.remove("id");
                        o.remove("signature");
                        b
                    })
                    .collect();
                serde_json::json!({"content": blocks, "stop_reason": m["stop_reason"]})
            })
            .collect()
    };
    let (ts_ws, py_ws, over_ws) = runs("websocket").await;
    let (ts_http, py_http, over_http) = runs("http").await;
    assert_eq!(seen(&ts_ws), seen(&ts_http));
    assert_eq!(seen(&py_ws), seen(&py_http));
    let parts: Vec<String> = seen(&ts_ws)
        .iter()
        .map(|t| t["content"].to_string())
        .collect();
    assert!(parts[4].contains("part5.rs"), "{parts:?}");
    assert!(over_http.iter().all(|l| l.ws_items.is_none()));
    // Per SDK: the first turn in full, then each turn only the tool's result.
    let items = |l: &proxy_fakes::Logged| {
        l.json().expect("json")["input"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let how: Vec<(Option<usize>, usize)> = over_ws.iter().map(|l| (l.ws_items, items(l))).collect();
    assert_eq!(how.len(), 10, "{how:?}");
    for sdk in how.chunks(5) {
        assert_eq!(sdk[0].0, Some(sdk[0].1), "{how:?}");
        for (ws, all) in &sdk[1..] {
            assert!(*ws == Some(1) && *all > 4, "{how:?}");
        }
    }
}
