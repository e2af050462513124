//! The backend's model catalog drives the Codex lane, through the real binary against the fake
//! backend (whose catalog depends on the account's plan and the client version, and which
//! enforces the Responses Lite profile with the real error texts).

mod support;

use serde_json::{Value, json};
use support::{Proxy, ProxyOpts, client, fake, get_json};

fn account(fake: &proxy_fakes::FakeServer, id: &str, plan: &str) -> Value {
    let (access, refresh, _) = fake.issue_tokens(id, &format!("{id}@example.com"));
    fake.set_plan(id, plan);
    json!({"account_id": id, "email": format!("{id}@example.com"), "plan_type": plan,
           "access_token": access, "refresh_token": refresh})
}

/// A proxy with one Plus account and a routing table of the user's (`rules`, and a gpt-5.5
/// fallback) in a data dir tagged `tag`; the caller removes the dir.
fn with_routing(
    fake: &proxy_fakes::FakeServer,
    tag: &str,
    rules: &str,
) -> (Proxy, std::path::PathBuf) {
    let data = std::env::temp_dir().join(format!("ccp-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&data).expect("dir");
    let routing = format!(
        "[routing]\n{rules}\nfallback = {{ match = \"*\", lane = \"codex\", model = \"gpt-5.5\" }}\n"
    );
    std::fs::write(data.join("config.toml"), routing).expect("config");
    let p = Proxy::start(
        fake,
        ProxyOpts {
            raw_accounts: vec![account(fake, "acct-plus", "plus")],
            data_dir: Some(data.clone()),
            ..ProxyOpts::default()
        },
    );
    (p, data)
}

async fn ask(p: &Proxy, model: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"model": model, "max_tokens": 256, "stream": false,
                          "system": "Be brief.",
                          "tools": [{"name": "Read", "description": "Read a file",
                                     "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}],
                          "messages": [{"role": "user", "content": "hi [[scenario:text]]"}]});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let r = client()
        .post(format!("{}/v1/messages", p.base))
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The `/responses` requests the fake got, newest last: (headers, body).
fn responses(fake: &proxy_fakes::FakeServer) -> Vec<proxy_fakes::Logged> {
    fake.requests()
        .into_iter()
        .filter(|l| l.path.ends_with("/codex/responses"))
        .collect()
}

fn body(l: &proxy_fakes::Logged) -> Value {
    serde_json::from_slice(&l.body).expect("json body")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lite_model_goes_out_in_its_profile_with_an_effort_it_lists() {
    let fake = fake().await;
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![account(&fake, "acct-plus", "plus")],
            ..ProxyOpts::default()
        },
    );
    let (status, answer) = ask(
        &p,
        "gpt-5.6-sol",
        json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let sent = responses(&fake);
    assert_eq!(sent.len(), 1, "no profile retry was needed");
    let b = body(&sent[0]);
    assert_eq!(
        sent[0].header("x-openai-internal-codex-responses-lite"),
        Some("true")
    );
    assert!(
        b.get("instructions").is_none() && b.get("tools").is_none(),
        "{b}"
    );
    assert_eq!(b["input"][0]["type"], "additional_tools", "{b}");
    assert_eq!(b["input"][1]["role"], "developer", "{b}");
    assert_eq!(b["reasoning"]["context"], "all_turns", "{b}");
    // The catalog lists `max` for this model: sent as asked, not clamped to xhigh.
    assert_eq!(b["reasoning"]["effort"], "max", "{b}");
    // A classic model on the same account keeps the classic shape, and its list has no max.
    let (status, answer) = ask(&p, "gpt-5.5", json!({"output_config": {"effort": "max"}})).await;
    assert_eq!(status, 200, "{answer}");
    let last = responses(&fake).pop().expect("sent");
    let b = body(&last);
    assert_eq!(last.header("x-openai-internal-codex-responses-lite"), None);
    assert_eq!(b["instructions"], "Be brief.", "{b}");
    assert_eq!(b["reasoning"]["effort"], "xhigh", "{b}");
    // The catalog was fetched once for the account, as the account, with a current version.
    let fetches: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|l| l.path.contains("/codex/models"))
        .collect();
    assert_eq!(
        fetches.len(),
        1,
        "{:?}",
        fetches.iter().map(|l| &l.path).collect::<Vec<_>>()
    );
    assert!(
        fetches[0].path.contains("client_version=0.157.0"),
        "{}",
        fetches[0].path
    );
    assert_eq!(fetches[0].header("chatgpt-account-id"), Some("acct-plus"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_missing_from_an_accounts_plan_goes_to_an_account_that_has_it() {
    let fake = fake().await;
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![
                account(&fake, "acct-free", "free"),
                account(&fake, "acct-pro", "pro"),
            ],
            ..ProxyOpts::default()
        },
    );
    for _ in 0..3 {
        let (status, answer) = ask(&p, "gpt-5.6-sol", json!({})).await;
        assert_eq!(status, 200, "{answer}");
        let last = responses(&fake).pop().expect("sent");
        assert_eq!(last.header("chatgpt-account-id"), Some("acct-pro"));
    }
    // Both plans have gpt-5.5: the free account still serves it.
    let p = {
        drop(p);
        Proxy::start(
            &fake,
            ProxyOpts {
                raw_accounts: vec![account(&fake, "acct-free", "free")],
                ..ProxyOpts::default()
            },
        )
    };
    let (status, answer) = ask(&p, "gpt-5.6-sol", json!({})).await;
    assert_eq!(status, 400, "{answer}");
    let msg = answer["error"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("gpt-5.6-sol") && msg.contains("free"), "{msg}");
    assert_eq!(answer["error"]["type"], "invalid_request_error");
    let (status, answer) = ask(&p, "gpt-5.5", json!({})).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_catalog_revision_is_picked_up_without_a_restart_and_windows_follow_it() {
    let fake = fake().await;
    // Claude Code's opus routed to a Lite model, whose catalog window the models list shows.
    let (p, data) = with_routing(
        &fake,
        "catalog",
        "rules = [{ match = \"*opus*\", lane = \"codex\", model = \"gpt-5.6-sol\", effort = \"high\" }, { match = \"gpt-*\", lane = \"codex\", model = \"*\" }]",
    );
    let (status, answer) = ask(&p, "gpt-5.6-terra", json!({})).await;
    assert_eq!(status, 400, "not in revision 1: {answer}");
    let models = get_json(&client(), format!("{}/v1/models", p.base)).await;
    let opus = models["data"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["id"] == "claude-opus-4-5")
        .expect("opus")
        .clone();
    // 272,000 × 95 %: the window the Codex CLI itself budgets.
    assert_eq!(opus["max_input_tokens"], 258_400, "{opus}");

    fake.set_catalog_revision(2);
    // Any answer carries the new revision's etag; the next request refetches.
    let (status, answer) = ask(&p, "gpt-5.5", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = ask(&p, "gpt-5.6-terra", json!({})).await;
    assert_eq!(status, 200, "revision 2 has terra: {answer}");
    let last = responses(&fake).pop().expect("sent");
    assert_eq!(
        last.header("x-openai-internal-codex-responses-lite"),
        Some("true")
    );
    let fetches = fake
        .requests()
        .into_iter()
        .filter(|l| l.path.contains("/codex/models"))
        .count();
    assert_eq!(fetches, 2, "one fetch per revision");
    drop(p);
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_models_command_lists_what_each_account_can_use() {
    let fake = fake().await;
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![
                account(&fake, "acct-free", "free"),
                account(&fake, "acct-pro", "pro"),
            ],
            ..ProxyOpts::default()
        },
    );
    let dir = p.stop_keeping_data();
    let out = tokio::task::block_in_place(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_codex-claude-proxy"))
            .args(["models", "--data-dir"])
            .arg(&dir)
            .env_clear()
            .env("HOME", &dir)
            .env(
                "CCP_CODEX_BASE_URL",
                format!("{}/backend-api", fake.base_url()),
            )
            .env("CCP_OAUTH_ISSUER", fake.base_url())
            .output()
            .expect("run")
    });
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (free, pro) = text.split_once("acct-pro").expect("both accounts");
    assert!(
        free.contains("(plan free)") && !free.contains("gpt-5.6-sol"),
        "{text}"
    );
    assert!(
        free.contains("gpt-5.5") && free.contains("classic"),
        "{text}"
    );
    let sol = pro
        .lines()
        .find(|l| l.contains("gpt-5.6-sol"))
        .expect("sol for pro");
    assert!(
        sol.contains("lite") && sol.contains("258400") && sol.contains("max"),
        "{sol}"
    );
    assert!(!sol.contains("ultra"), "{sol}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The cache key and the `session_id` header are per (session, agent): a Claude Code subagent
/// gets its own lineage, the main thread keeps its own, each stays on one key from request to
/// request; OpenCode's session headers key its requests the same way.
#[tokio::test(flavor = "multi_thread")]
async fn cache_keys_are_per_session_and_agent_and_opencode_sessions_count() {
    let fake = fake().await;
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![account(&fake, "acct-plus", "plus")],
            ..ProxyOpts::default()
        },
    );
    let send = |headers: Vec<(&'static str, &'static str)>| {
        let mut rb = client().post(format!("{}/v1/messages", p.base)).json(
            &json!({"model": "gpt-5.5", "max_tokens": 64, "stream": false,
                    "messages": [{"role": "user", "content": "hi [[scenario:text]]"}]}),
        );
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        async move { rb.send().await.expect("send").status().as_u16() }
    };
    let session = (
        "x-claude-code-session-id",
        "3f1c2a9e-0d4b-4c1e-9a7f-5b6c7d8e9f00",
    );
    let key_of = |l: &proxy_fakes::Logged| body(l)["prompt_cache_key"].as_str().map(str::to_owned);
    let mut keys = Vec::new();
    for headers in [
        vec![session],
        vec![session, ("x-claude-code-agent-id", "agent_01ABC")],
        vec![session],
        vec![session, ("x-claude-code-agent-id", "agent_01ABC")],
        vec![session, ("x-claude-code-agent-id", "agent_02XYZ")],
        vec![
            ("x-session-affinity", "ses_0123456789abABCDEFGHIJKLMN"),
            ("x-session-id", "ses_0123456789abABCDEFGHIJKLMN"),
        ],
    ] {
        assert_eq!(send(headers).await, 200);
        let last = responses(&fake).pop().expect("sent");
        // The header and the body's key agree (the backend's cache is keyed by the header).
        assert_eq!(last.session_matches_cache_key, Some(true));
        keys.push(key_of(&last).expect("a key"));
    }
    assert_eq!(
        keys[0], session.1,
        "the main thread keeps the session's own key"
    );
    assert_eq!(keys[2], keys[0]);
    assert_eq!(keys[3], keys[1], "a subagent keeps its key");
    assert_ne!(keys[1], keys[0], "a subagent has its own lineage");
    assert_ne!(keys[4], keys[1], "two subagents differ");
    assert_eq!(
        keys[5], "ses_0123456789abABCDEFGHIJKLMN",
        "OpenCode's session keys its requests"
    );
}

/// The prompt-cache and upload figures of docs/PERFORMANCE.md, as a guard: a
/// Claude-Code-shaped session (growing history of tool calls and results, the billing line
/// changing every turn, two subagents, haiku title requests; 30 turns) against the fake
/// backend's cache model keeps at least 90 % of the Codex lane's input tokens in cache from
/// turn 2 on, by each transport; zstd bodies send at most a third of the uncompressed HTTP
/// bytes and the WebSocket's continuation at most a tenth, its main turns after the first
/// carrying only their new items.
#[tokio::test(flavor = "multi_thread")]
async fn a_claude_code_session_is_served_mostly_from_the_prompt_cache() {
    use proxy_fakes::replay::{self, Link, MODES};
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fakes/fixtures/claude-code");
    assert!(
        fixtures.join("turn1.json").exists(),
        "{}",
        fixtures.display()
    );
    let bin = env!("CARGO_BIN_EXE_codex-claude-proxy");
    // The session's models are Lite ones; a backend that continues Lite turns on its socket.
    let link = Link {
        lite_continuation: true,
        ..Link::default()
    };
    let mut runs = Vec::new();
    for mode in MODES {
        let rows = replay::run(bin, &fixtures, 30, mode, link).await;
        let table = replay::table(&rows);
        assert!(rows.iter().any(|r| r.kind == "subagent"), "{table}");
        assert!(
            rows.iter().all(|r| r.lane == "codex"),
            "with an account everything stays on Codex:\n{table}"
        );
        let share = replay::codex_share(&rows);
        assert!(
            share >= 0.90,
            "{}: {:.1} % cached\n{table}",
            mode.name,
            share * 100.0
        );
        runs.push((mode, rows));
    }
    let sides = replay::transport_table(&runs, 1);
    let wire = |k: usize| replay::codex_bytes(&runs[k].1).1;
    assert!(wire(1) * 3 <= wire(0), "zstd: at most a third\n{sides}");
    assert!(
        wire(2) * 10 <= wire(0),
        "the socket: at most a tenth\n{sides}"
    );
    // Over the socket, a main turn after the first is its new items: the same few kB whether
    // the history is 10 or 140 kB.
    let main: Vec<&replay::Row> = runs[2].1.iter().filter(|r| r.kind == "main").collect();
    assert!(
        main[1..].iter().all(|r| r.wire_bytes * 10 < r.body_bytes),
        "{sides}"
    );
    // A backend that refuses to continue Lite turns: after its first refusal the proxy sends
    // Lite turns by HTTP with zstd, so the session costs about what zstd alone does.
    let refusing = replay::run(bin, &fixtures, 30, MODES[2], Link::default()).await;
    let table = replay::transport_table(&[(MODES[2], refusing.clone())], 1);
    assert!(
        replay::codex_bytes(&refusing).1 * 10 <= wire(1) * 11,
        "{table}\n{sides}"
    );
    assert!(replay::codex_share(&refusing) >= 0.90, "{table}");
}

/// With an account and no table of the user's, opus and sonnet go to the catalog's newest
/// flagship from the very first request (the proxy fetches the catalog before routing it),
/// except that a request declaring web search stays off the Lite profile; an account whose
/// plan lacks the flagship gets the newest it has; a table the user wrote is followed as written.
#[tokio::test(flavor = "multi_thread")]
async fn opus_and_sonnet_follow_the_catalogs_newest_flagship() {
    let fake = fake().await;
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![account(&fake, "acct-plus", "plus")],
            ..ProxyOpts::default()
        },
    );
    for model in ["claude-opus-5-5", "claude-sonnet-4-5"] {
        let (status, answer) = ask(&p, model, json!({})).await;
        assert_eq!(status, 200, "{answer}");
        let last = responses(&fake).pop().expect("sent");
        assert_eq!(body(&last)["model"], "gpt-5.6-sol", "{model}");
        assert_eq!(
            last.header("x-openai-internal-codex-responses-lite"),
            Some("true")
        );
    }
    let search = json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]});
    let (status, answer) = ask(&p, "claude-opus-5-5", search).await;
    assert_eq!(status, 200, "{answer}");
    let last = body(&responses(&fake).pop().expect("sent"));
    assert_eq!(last["model"], "gpt-5.5");
    assert_eq!(last["tools"][0]["type"], "web_search", "{last}");
    let health = get_json(&client(), format!("{}/health", p.base)).await;
    assert_eq!(
        health["routes"]["sonnet"]["model"], "gpt-5.6-sol",
        "{health}"
    );
    assert_eq!(
        health["routes"]["haiku"]["model"], "gpt-5.4-mini",
        "{health}"
    );
    drop(p);

    // The free plan has no 5.6 model: its newest is gpt-5.5.
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![account(&fake, "acct-free", "free")],
            ..ProxyOpts::default()
        },
    );
    let (status, answer) = ask(&p, "claude-opus-5-5", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        body(&responses(&fake).pop().expect("sent"))["model"],
        "gpt-5.5"
    );
    drop(p);

    // A Plus and a Free account: the newest model both can serve, so that either can take
    // over when the other reaches its usage limit.
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![
                account(&fake, "acct-plus", "plus"),
                account(&fake, "acct-free", "free"),
            ],
            ..ProxyOpts::default()
        },
    );
    let (status, answer) = ask(&p, "claude-opus-5-5", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        body(&responses(&fake).pop().expect("sent"))["model"],
        "gpt-5.5"
    );
    let health = get_json(&client(), format!("{}/health", p.base)).await;
    assert_eq!(health["routes"]["opus"]["model"], "gpt-5.5", "{health}");
    drop(p);

    // A table of the user's: as written.
    let (p, data) = with_routing(
        &fake,
        "flagship",
        "rules = [{ match = \"*opus*\", lane = \"codex\", model = \"gpt-5.4\", effort = \"high\" }]",
    );
    let (status, answer) = ask(&p, "claude-opus-5-5", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        body(&responses(&fake).pop().expect("sent"))["model"],
        "gpt-5.4"
    );
    drop(p);
    let _ = std::fs::remove_dir_all(&data);
}

/// Mid-conversation tool changes (claude-code.md §9.2's literal shape) through the binary, on
/// a classic and a Lite model: no 4xx, and the tools that go upstream are the folded set (the
/// removed tool gone, the referenced deferred tool sent, the defined one added).
#[tokio::test(flavor = "multi_thread")]
async fn mid_conversation_tool_changes_become_the_turns_tool_set() {
    let fake = fake().await;
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![account(&fake, "acct-plus", "plus")],
            ..ProxyOpts::default()
        },
    );
    let schema = json!({"type": "object", "properties": {"path": {"type": "string"}}});
    let changes = json!({"role": "system", "content": [
        {"type": "text", "text": "Tools changed."},
        {"type": "tool_removal", "tool": {"type": "tool_reference", "name": "Read"}},
        {"type": "tool_addition", "tool": {"type": "tool_reference", "name": "Grep"},
         "cache_control": {"type": "ephemeral"}},
        {"type": "tool_addition", "tool": {"type": "tool_definition",
            "definition": {"name": "mcp__notes__save", "description": "Saves a note",
                           "input_schema": {"type": "object"}}}}]});
    for model in ["gpt-5.5", "gpt-5.6-sol"] {
        let extra = json!({
            "tools": [{"name": "Read", "description": "Read a file", "input_schema": schema},
                      {"name": "Grep", "description": "Search files", "input_schema": schema,
                       "defer_loading": true}],
            "messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": "Hello."},
                         changes,
                         {"role": "user", "content": "go on [[scenario:text]]"}]});
        let (status, answer) = ask(&p, model, extra).await;
        assert_eq!(status, 200, "{model}: {answer}");
        let sent = body(&responses(&fake).pop().expect("sent"));
        let tools = match sent["tools"].as_array() {
            Some(t) => t.clone(),
            None => sent["input"][0]["tools"]
                .as_array()
                .cloned()
                .expect("additional_tools"),
        };
        let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names, ["Grep", "mcp__notes__save"], "{model}: {sent}");
        assert!(
            tools.iter().all(|t| t.get("defer_loading").is_none()),
            "{model}"
        );
    }
}

/// Claude Code's `ToolSearch` and a deferred tool, on a model whose catalog entry supports
/// client tool search: the backend's own search goes out (§1.10), unless `codex_tool_search`
/// is off, when the deferred tool is sent eagerly; gpt-5.4 (no `supports_search_tool`) never
/// gets it.
#[tokio::test(flavor = "multi_thread")]
async fn tool_search_follows_the_catalog_and_the_setting() {
    let fake = fake().await;
    let tools = json!({"tools": [
        {"name": "ToolSearch", "description": "Find deferred tools",
         "input_schema": {"type": "object", "properties": {"query": {"type": "string"},
                          "max_results": {"type": "number"}}}},
        {"name": "mcp__notes__save", "description": "Saves a note", "defer_loading": true,
         "input_schema": {"type": "object", "properties": {"title": {"type": "string"}}}}]});
    let declared = |fake: &proxy_fakes::FakeServer| -> Vec<Value> {
        let sent = body(&responses(fake).pop().expect("sent"));
        match sent["tools"].as_array() {
            Some(t) => t.clone(),
            None => sent["input"][0]["tools"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        }
    };
    for (setting, model, native) in [
        (None, "gpt-5.5", true),
        (None, "gpt-5.4", false),
        (Some("false"), "gpt-5.5", false),
    ] {
        let mut opts = ProxyOpts {
            raw_accounts: vec![account(&fake, "acct-plus", "plus")],
            ..ProxyOpts::default()
        };
        if let Some(v) = setting {
            opts.env
                .push(("CCP_CODEX_TOOL_SEARCH".into(), v.to_owned()));
        }
        let p = Proxy::start(&fake, opts);
        let (status, answer) = ask(&p, model, tools.clone()).await;
        assert_eq!(status, 200, "{model}: {answer}");
        let list = declared(&fake);
        let search = list.iter().any(|t| t["type"] == "tool_search");
        let deferred = list
            .iter()
            .any(|t| t["name"] == "mcp__notes__save" && t["defer_loading"] == true);
        assert_eq!(
            (search, deferred),
            (native, native),
            "{model} {setting:?}: {list:?}"
        );
        drop(p);
    }
}
