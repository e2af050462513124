//! Prompt-cache replay: a Claude-Code-shaped session through the real proxy binary against
//! the fake backend with its prompt-cache model on (README), and what share of the Codex
//! lane's input tokens the backend served from cache. The session is built from the real
//! request shapes in `tests/fakes/fixtures/claude-code/` (copies of
//! `shared/fixtures/claude-code/`) (`turn1.json`: system blocks with the
//! billing line, 12 tools, a `role:"system"` message, thinking, metadata; the headers of
//! `headers.json`): a growing history of tool calls and results, the billing line's `cch`
//! changing every turn, two subagents (their own system prompt, `x-claude-code-agent-id`)
//! working on every fifth turn, and a haiku title request on every turn. Used by the
//! `proxy-replay` tool and by a host test.

use crate::spawn::start_proxy;
use crate::{FakeConfig, FakeServer};
use serde_json::{Value, json};

/// Filler of `n` bytes that differs by `seed` (a file's content, a tool's answer).
fn filler(seed: usize, n: usize) -> String {
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    ];
    let mut s = String::with_capacity(n + 8);
    let mut i = seed;
    while s.len() < n {
        s.push_str(words[i % words.len()]);
        s.push(' ');
        i = i.wrapping_mul(31).wrapping_add(7);
    }
    s.truncate(n);
    s
}

/// One lineage's history: (assistant tool call, user tool result) pairs after the opening.
struct Lineage {
    opening: Vec<Value>,
    pairs: Vec<(Value, Value)>,
}

impl Lineage {
    fn messages(&self, last: &str) -> Vec<Value> {
        let mut m = self.opening.clone();
        for (a, u) in &self.pairs {
            m.push(a.clone());
            m.push(u.clone());
        }
        m.push(json!({"role": "user", "content": [{"type": "text", "text": last}]}));
        m
    }

    /// The model answered with a tool call; its result comes back next turn.
    fn step(&mut self, id: &str, n: usize) {
        self.pairs.push((
            json!({"role": "assistant", "content": [
                {"type": "text", "text": format!("Reading part {n}.")},
                {"type": "tool_use", "id": id, "name": "Read", "input": {"file_path": format!("/repo/src/part{n}.rs")}}]}),
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": id, "content": filler(n, 2400)}]}),
        ));
        // The question of this turn is answered: the next turn's question follows the result.
    }
}

/// One request of the replay.
#[derive(Debug, Clone)]
pub struct Row {
    /// `main`, `subagent` or `haiku`.
    pub kind: &'static str,
    /// The main thread's turn it belongs to (1-based).
    pub turn: usize,
    /// Input tokens (cached ones included).
    pub input: u64,
    /// Input tokens served from cache.
    pub cached: u64,
    /// The lane the proxy's request log says it took.
    pub lane: String,
    /// Codex lane: the body's size as JSON, and as sent (`content-encoding: zstd` or not).
    pub body_bytes: usize,
    /// See `body_bytes`.
    pub wire_bytes: usize,
}

/// Replay `turns` turns through the proxy binary at `proxy_bin`; one row per request.
pub async fn run(proxy_bin: &str, fixtures: &std::path::Path, turns: usize) -> Vec<Row> {
    let read = |f: &str| -> Value {
        let p = fixtures.join(f);
        serde_json::from_str(
            &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .expect("fixture json")
    };
    let turn1 = read("turn1.json");
    let headers = read("headers.json");
    let session = headers["headers"]["X-Claude-Code-Session-Id"]
        .as_str()
        .unwrap_or("27eedacf-8c45-4718-9206-8266c246b580")
        .to_owned();
    let beta = headers["headers"]["anthropic-beta"]
        .as_str()
        .unwrap_or("")
        .to_owned();

    let fake = FakeServer::start(FakeConfig {
        prompt_cache: true,
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    let (access, refresh, _) = fake.issue_tokens("acct-replay", "replay@example.com");
    let account = json!({"account_id": "acct-replay", "email": "replay@example.com",
                         "plan_type": "plus", "access_token": access, "refresh_token": refresh});
    let proxy = start_proxy(proxy_bin, &fake, "replay", &account);
    let client = reqwest::Client::new();

    let post = |body: Value, agent: Option<&str>| {
        let mut rb = client
            .post(format!("{}/v1/messages?beta=true", proxy.base))
            .header("anthropic-version", "2023-06-01")
            .header("anthropic-beta", &beta)
            .header("x-claude-code-session-id", &session)
            .header("x-app", "cli")
            .json(&body);
        if let Some(id) = agent {
            rb = rb.header("x-claude-code-agent-id", id);
        }
        async move {
            let r = rb.send().await.expect("send");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 200, "{v}");
            let u = &v["usage"];
            let cached = u["cache_read_input_tokens"].as_u64().unwrap_or(0);
            (u["input_tokens"].as_u64().unwrap_or(0) + cached, cached)
        }
    };
    // The main thread's request of a turn: turn1's system, tools and settings, the billing
    // line recomputed (its `cch` changes with the content), the history so far.
    let with_billing = |turn: usize, system: &Value| -> Value {
        let mut s = system.clone();
        if let Some(t) = s[0]["text"].as_str() {
            s[0]["text"] = json!(format!(
                "{}cch={:05x};",
                t.split("cch=").next().unwrap_or(t),
                turn * 7919 % 0xfffff
            ));
        }
        s
    };
    let mut main = Lineage {
        opening: turn1["messages"].as_array().cloned().unwrap_or_default(),
        pairs: Vec::new(),
    };
    let mut subs: Vec<(String, Lineage)> = ["agent_01REPLAYA", "agent_01REPLAYB"]
        .into_iter()
        .map(|id| {
            (
                id.to_owned(),
                Lineage {
                    opening: vec![json!({"role": "user", "content": [{"type": "text",
                        "text": format!("Subagent task for {id}: search the repository. {}", filler(id.len(), 600))}]})],
                    pairs: Vec::new(),
                },
            )
        })
        .collect();
    let sub_system = json!([{"type": "text", "text": format!("You are a search subagent of Claude Code. {}", filler(3, 3000))}]);
    let mut rows = Vec::new();
    for turn in 1..=turns {
        let mut body = turn1.clone();
        body["system"] = with_billing(turn, &turn1["system"]);
        body["stream"] = json!(false);
        body["messages"] = json!(main.messages(&format!("Turn {turn}: go on. [[scenario:text]]")));
        let (input, cached) = post(body, None).await;
        rows.push(Row {
            kind: "main",
            turn,
            input,
            cached,
            lane: String::new(),
            body_bytes: 0,
            wire_bytes: 0,
        });
        main.step(&format!("toolu_main_{turn:03}"), turn);

        // Claude Code's background title request, on the haiku model.
        let haiku = json!({"model": "claude-haiku-4-5", "max_tokens": 512, "stream": false,
            "system": [{"type": "text", "text": format!("Write a 5-word title for this conversation. {}", filler(9, 1200))}],
            "messages": [{"role": "user", "content": format!("Turn {turn} of the session. [[scenario:text]]")}]});
        let (input, cached) = post(haiku, None).await;
        rows.push(Row {
            kind: "haiku",
            turn,
            input,
            cached,
            lane: String::new(),
            body_bytes: 0,
            wire_bytes: 0,
        });

        if turn % 5 == 0 {
            for step in 0..3 {
                for (id, lineage) in &mut subs {
                    let mut body = turn1.clone();
                    body["system"] = sub_system.clone();
                    body["stream"] = json!(false);
                    body["messages"] = json!(lineage.messages(&format!(
                        "Continue the search, step {step}. [[scenario:text]]"
                    )));
                    let (input, cached) = post(body, Some(id.as_str())).await;
                    rows.push(Row {
                        kind: "subagent",
                        turn,
                        input,
                        cached,
                        lane: String::new(),
                        body_bytes: 0,
                        wire_bytes: 0,
                    });
                    lineage.step(&format!("toolu_{id}_{turn:03}_{step}"), turn * 10 + step);
                }
            }
        }
    }
    // Which lane each request took, from the proxy's request log (in order).
    let logs: Value = client
        .get(format!("{}/logs", proxy.base))
        .send()
        .await
        .expect("logs")
        .json()
        .await
        .expect("json");
    let lanes: Vec<String> = logs["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["lane"].as_str().unwrap_or("").to_owned())
        .collect();
    let skip = lanes.len().saturating_sub(rows.len());
    for (i, r) in rows.iter_mut().enumerate() {
        r.lane = lanes.get(skip + i).cloned().unwrap_or_default();
    }
    // What went over the wire to the backend, in the same order as the Codex-lane rows.
    let sent: Vec<(usize, usize)> = fake
        .requests()
        .into_iter()
        .filter(|l| l.path.ends_with("/codex/responses") && l.status == 200)
        .map(|l| (l.body.len(), l.wire_bytes))
        .collect();
    for (r, (body, wire)) in rows.iter_mut().filter(|r| r.lane == "codex").zip(sent) {
        (r.body_bytes, r.wire_bytes) = (body, wire);
    }
    drop(proxy);
    rows
}

/// The share of the Codex lane's input tokens served from cache, from turn 2 on.
pub fn codex_share(rows: &[Row]) -> f64 {
    let (input, cached) = rows
        .iter()
        .filter(|r| r.turn >= 2 && r.lane == "codex")
        .fold((0u64, 0u64), |(i, c), r| (i + r.input, c + r.cached));
    cached as f64 / input.max(1) as f64
}

/// The bytes the Codex lane sent upstream over the whole replay: (as JSON, on the wire).
pub fn codex_bytes(rows: &[Row]) -> (usize, usize) {
    rows.iter()
        .filter(|r| r.lane == "codex")
        .fold((0, 0), |(b, w), r| (b + r.body_bytes, w + r.wire_bytes))
}

/// The upload table (markdown): the Codex lane's request bytes, uncompressed and as sent.
pub fn bytes_table(rows: &[Row]) -> String {
    let (body, wire) = codex_bytes(rows);
    let last = rows.iter().rfind(|r| r.kind == "main" && r.lane == "codex");
    let (lb, lw) = last.map_or((0, 0), |r| (r.body_bytes, r.wire_bytes));
    // Upload time at 20 Mbit/s (a home uplink): bytes × 8 / 20e6 s.
    let ms = |b: usize| b as f64 * 8.0 / 20e6 * 1000.0;
    format!(
        "| Codex request bodies | uncompressed | sent (zstd) | sent / uncompressed |\n\
         |---|---|---|---|\n\
         | whole session ({} requests) | {body} B | {wire} B | {:.1} % |\n\
         | last main turn | {lb} B ({:.0} ms at 20 Mbit/s) | {lw} B ({:.0} ms) | {:.1} % |\n",
        rows.iter().filter(|r| r.lane == "codex").count(),
        100.0 * wire as f64 / body.max(1) as f64,
        ms(lb),
        ms(lw),
        100.0 * lw as f64 / lb.max(1) as f64,
    )
}

/// The replay's table (markdown): per kind and lane, from turn 2 on.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| requests (turn ≥ 2) | lane | input tokens | served from cache | share |\n|---|---|---|---|---|\n",
    );
    let mut all = (0u64, 0u64);
    for kind in ["main", "subagent", "haiku"] {
        let mut by_lane: Vec<(String, u64, u64, usize)> = Vec::new();
        for r in rows.iter().filter(|r| r.kind == kind && r.turn >= 2) {
            match by_lane.iter_mut().find(|(l, ..)| *l == r.lane) {
                Some(e) => {
                    e.1 += r.input;
                    e.2 += r.cached;
                    e.3 += 1;
                }
                None => by_lane.push((r.lane.clone(), r.input, r.cached, 1)),
            }
        }
        for (lane, input, cached, n) in by_lane {
            if lane == "codex" {
                all.0 += input;
                all.1 += cached;
            }
            out.push_str(&format!(
                "| {kind} ×{n} | {lane} | {input} | {cached} | {:.1} % |\n",
                100.0 * cached as f64 / input.max(1) as f64
            ));
        }
    }
    out.push_str(&format!(
        "| **Codex lane, all** | codex | {} | {} | **{:.1} %** |\n",
        all.0,
        all.1,
        100.0 * all.1 as f64 / all.0.max(1) as f64
    ));
    out
}
