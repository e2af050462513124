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

use crate::spawn::start_proxy_with;
use crate::{FakeConfig, FakeServer};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Filler of `n` bytes that differs by `seed` (a file's content, a tool's answer): words of a
/// 1,024-word made-up vocabulary picked at random, so that it compresses about as well as
/// prose does (zstd level 3: ~3×), not as well as a repeated phrase would.
fn filler(seed: usize, n: usize) -> String {
    let mut state = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut s = String::with_capacity(n + 16);
    while s.len() < n {
        let word = next() % 1024;
        // The word's letters come from its number: the same word every time it is picked.
        let mut w = word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7;
        let len = 2 + (word % 8) as usize;
        for _ in 0..len {
            s.push(char::from(b'a' + (w % 26) as u8));
            w /= 26;
        }
        s.push(if next() % 11 == 0 { '\n' } else { ' ' });
    }
    s.truncate(n);
    s
}

/// One lineage's conversation, as a client keeps it: every request's messages stay, the
/// model's answer is echoed as it came, and its tool call is answered next turn.
struct Lineage {
    messages: Vec<Value>,
    /// The last answer's tool call id, answered with the next request.
    pending: Option<String>,
}

impl Lineage {
    fn new(opening: Vec<Value>) -> Self {
        Lineage {
            messages: opening,
            pending: None,
        }
    }

    /// The next request's messages: the result of the pending call (a file's content, `n`
    /// varying it) with this turn's prompt.
    fn ask(&mut self, prompt: &str, n: usize) -> Vec<Value> {
        let mut content = Vec::new();
        if let Some(id) = self.pending.take() {
            content.push(
                json!({"type": "tool_result", "tool_use_id": id, "content": filler(n, 2400)}),
            );
        }
        content.push(json!({"type": "text", "text": prompt}));
        self.messages
            .push(json!({"role": "user", "content": content}));
        self.messages.clone()
    }

    /// The model's answer, kept as the client keeps it.
    fn answered(&mut self, content: &Value) {
        self.pending = content
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["type"] == "tool_use")
            .and_then(|b| b["id"].as_str())
            .map(str::to_owned);
        self.messages
            .push(json!({"role": "assistant", "content": content}));
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
    /// Codex lane: the request's size as JSON (for a socket turn, the whole request the
    /// backend rebuilt), and what went over the wire (zstd body, or socket message).
    pub body_bytes: usize,
    /// See `body_bytes`.
    pub wire_bytes: usize,
    /// A main turn (streamed): milliseconds from sending the request to its first text delta.
    pub first_token_ms: Option<f64>,
}

/// How the proxy sends Codex requests in a replay.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// A name for tables.
    pub name: &'static str,
    /// `codex_transport`: `http` or `websocket`.
    pub transport: &'static str,
    /// `codex_zstd`.
    pub zstd: bool,
}

/// The three ways side by side in `docs/PERFORMANCE.md`.
pub const MODES: [Mode; 3] = [
    Mode {
        name: "HTTP",
        transport: "http",
        zstd: false,
    },
    Mode {
        name: "HTTP + zstd",
        transport: "http",
        zstd: true,
    },
    Mode {
        name: "WebSocket + continuation",
        transport: "websocket",
        zstd: true,
    },
];

/// The link and backend a replay runs against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Link {
    /// The client's uplink to the backend (`FakeConfig::upload_bits_per_sec`).
    pub uplink_bits_per_sec: Option<u64>,
    /// The backend's time to its first event (`FakeConfig::think_ms`).
    pub think_ms: u64,
    /// The backend's socket continues Responses Lite turns (`FakeConfig::lite_continuation`);
    /// the session's Claude models go to the catalog's newest, a Lite model.
    pub lite_continuation: bool,
}

/// Replay `turns` turns through the proxy binary at `proxy_bin`; one row per request.
pub async fn run(
    proxy_bin: &str,
    fixtures: &std::path::Path,
    turns: usize,
    mode: Mode,
    link: Link,
) -> Vec<Row> {
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
        upload_bits_per_sec: link.uplink_bits_per_sec,
        think_ms: link.think_ms,
        lite_continuation: link.lite_continuation,
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    let (access, refresh, _) = fake.issue_tokens("acct-replay", "replay@example.com");
    let account = json!({"account_id": "acct-replay", "email": "replay@example.com",
                         "plan_type": "plus", "access_token": access, "refresh_token": refresh});
    let zstd = if mode.zstd { "true" } else { "false" };
    let tag = format!("replay-{}-{}", mode.transport, zstd);
    let proxy = start_proxy_with(
        proxy_bin,
        &fake,
        &tag,
        &account,
        &[
            ("CCP_CODEX_TRANSPORT", mode.transport),
            ("CCP_CODEX_ZSTD", zstd),
            // CCP_REPLAY_DEBUG: the socket's decisions on stderr (spawn.rs passes it through).
            (
                "CCP_LOG",
                if std::env::var_os("CCP_REPLAY_DEBUG").is_some() {
                    "codex_claude_proxy::http::codex_ws=debug"
                } else {
                    "warn"
                },
            ),
        ],
    );
    let client = reqwest::Client::new();

    // One request; `(input tokens, cached, the answer's content, ms to the first text)`.
    let post = |body: Value, agent: Option<&str>| {
        let stream = body["stream"] == json!(true);
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
            let sent = std::time::Instant::now();
            let r = rb.send().await.expect("send");
            let status = r.status().as_u16();
            if !stream {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 200, "{v}");
                let u = &v["usage"];
                let cached = u["cache_read_input_tokens"].as_u64().unwrap_or(0);
                let input = u["input_tokens"].as_u64().unwrap_or(0) + cached;
                return (input, cached, v["content"].clone(), None);
            }
            assert_eq!(status, 200);
            let mut text = String::new();
            let mut first = None;
            let mut body = r.bytes_stream();
            while let Some(chunk) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.expect("stream")));
                if first.is_none() && text.contains("\"text_delta\"") {
                    first = Some(sent.elapsed().as_secs_f64() * 1000.0);
                }
            }
            let (content, usage) = assemble(&text);
            let cached = usage["cache_read_input_tokens"].as_u64().unwrap_or(0);
            let input = usage["input_tokens"].as_u64().unwrap_or(0) + cached;
            (input, cached, content, first)
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
    let opening = turn1["messages"].as_array().cloned().unwrap_or_default();
    let mut main = Lineage::new(opening[..opening.len().saturating_sub(1)].to_vec());
    let first_prompt = opening
        .last()
        .map(|m| m["content"].clone())
        .unwrap_or(Value::Null);
    let mut subs: Vec<(String, Lineage)> = ["agent_01REPLAYA", "agent_01REPLAYB"]
        .into_iter()
        .map(|id| {
            let task = format!(
                "Subagent task for {id}: search the repository. {}",
                filler(id.len(), 600)
            );
            (
                id.to_owned(),
                Lineage::new(vec![
                    json!({"role": "user", "content": [{"type": "text", "text": task}]}),
                ]),
            )
        })
        .collect();
    let sub_system = json!([{"type": "text", "text": format!("You are a search subagent of Claude Code. {}", filler(3, 3000))}]);
    let row = |kind, turn, (input, cached): (u64, u64), first_token_ms| Row {
        kind,
        turn,
        input,
        cached,
        lane: String::new(),
        body_bytes: 0,
        wire_bytes: 0,
        first_token_ms,
    };
    let mut rows = Vec::new();
    for turn in 1..=turns {
        let mut body = turn1.clone();
        body["system"] = with_billing(turn, &turn1["system"]);
        body["stream"] = json!(true);
        let prompt = format!("Turn {turn}: go on. [[scenario:read_part]]");
        let mut messages = main.ask(&prompt, turn);
        if turn == 1 {
            // The fixture's own first prompt, as Claude Code sent it, leads the first message.
            if let Some(m) = messages.last_mut() {
                let mut content = match &first_prompt {
                    Value::Array(a) => a.clone(),
                    Value::String(s) => vec![json!({"type": "text", "text": s})],
                    _ => Vec::new(),
                };
                content.extend(m["content"].as_array().cloned().unwrap_or_default());
                m["content"] = Value::Array(content.clone());
                main.messages.last_mut().expect("asked")["content"] = Value::Array(content);
            }
        }
        body["messages"] = json!(messages);
        let (input, cached, content, first) = post(body, None).await;
        main.answered(&content);
        rows.push(row("main", turn, (input, cached), first));

        // Claude Code's background title request, on the haiku model.
        let haiku = json!({"model": "claude-haiku-4-5", "max_tokens": 512, "stream": false,
            "system": [{"type": "text", "text": format!("Write a 5-word title for this conversation. {}", filler(9, 1200))}],
            "messages": [{"role": "user", "content": format!("Turn {turn} of the session. [[scenario:text]]")}]});
        let (input, cached, _, _) = post(haiku, None).await;
        rows.push(row("haiku", turn, (input, cached), None));

        if turn % 5 == 0 {
            for step in 0..3 {
                for (id, lineage) in &mut subs {
                    let mut body = turn1.clone();
                    body["system"] = sub_system.clone();
                    body["stream"] = json!(false);
                    let prompt =
                        format!("Continue the search, step {step}. [[scenario:read_part]]");
                    body["messages"] = json!(lineage.ask(&prompt, turn * 10 + step));
                    let (input, cached, content, _) = post(body, Some(id.as_str())).await;
                    lineage.answered(&content);
                    rows.push(row("subagent", turn, (input, cached), None));
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
        .filter(|l| l.path.ends_with("/codex/responses") && l.method == "POST" && l.status == 200)
        .map(|l| (l.body.len(), l.wire_bytes))
        .collect();
    for (r, (body, wire)) in rows.iter_mut().filter(|r| r.lane == "codex").zip(sent) {
        (r.body_bytes, r.wire_bytes) = (body, wire);
    }
    drop(proxy);
    rows
}

/// A streamed Messages answer assembled as the SDKs do: its content blocks (text, tool_use with
/// its input parsed, thinking with its signature) and its final usage.
pub fn assemble(sse: &str) -> (Value, Value) {
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    let mut usage = json!({});
    for frame in sse.split("\n\n") {
        let data: String = frame
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        let Ok(ev) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        let append = |b: &mut Value, k: &str, more: &Value| {
            let t = format!(
                "{}{}",
                b[k].as_str().unwrap_or(""),
                more.as_str().unwrap_or("")
            );
            b[k] = json!(t);
        };
        match ev["type"].as_str() {
            Some("message_start") => usage = ev["message"]["usage"].clone(),
            Some("content_block_start") => {
                blocks.push(ev["content_block"].clone());
                partial.push(String::new());
            }
            Some("content_block_delta") => {
                let (Some(b), Some(p)) = (blocks.last_mut(), partial.last_mut()) else {
                    continue;
                };
                let d = &ev["delta"];
                match d["type"].as_str() {
                    Some("text_delta") => append(b, "text", &d["text"]),
                    Some("thinking_delta") => append(b, "thinking", &d["thinking"]),
                    Some("signature_delta") => b["signature"] = d["signature"].clone(),
                    Some("input_json_delta") => {
                        p.push_str(d["partial_json"].as_str().unwrap_or(""))
                    }
                    _ => {}
                }
            }
            Some("content_block_stop") => {
                if let (Some(b), Some(p)) = (blocks.last_mut(), partial.last())
                    && b["type"] == "tool_use"
                    && !p.is_empty()
                {
                    b["input"] = serde_json::from_str(p).unwrap_or(Value::Null);
                }
            }
            Some("message_delta") => {
                if let Some(u) = ev["usage"].as_object() {
                    for (k, v) in u {
                        usage[k] = v.clone();
                    }
                }
            }
            _ => {}
        }
    }
    (Value::Array(blocks), usage)
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

/// The transports side by side (markdown): the Codex lane's upstream bytes over the session,
/// against uncompressed HTTP, and the main turns' time to the first token from turn 5 on.
pub fn transport_table(runs: &[(Mode, Vec<Row>)], think_ms: u64) -> String {
    let base = runs
        .first()
        .map_or(1, |(_, rows)| codex_bytes(rows).0.max(1));
    let mut out = String::from(
        "| Codex requests sent by | upstream bytes, whole session | of uncompressed HTTP | last main turn | first token, turns ≥ 5: p50 / max | p50 ÷ backend's own time |\n|---|---|---|---|---|---|\n",
    );
    for (mode, rows) in runs {
        let (_, wire) = codex_bytes(rows);
        let last = rows
            .iter()
            .rfind(|r| r.kind == "main" && r.lane == "codex")
            .map_or(0, |r| r.wire_bytes);
        let mut ms: Vec<f64> = rows
            .iter()
            .filter(|r| r.kind == "main" && r.turn >= 5)
            .filter_map(|r| r.first_token_ms)
            .collect();
        ms.sort_by(f64::total_cmp);
        let p50 = ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN);
        let max = ms.last().copied().unwrap_or(f64::NAN);
        out.push_str(&format!(
            "| {} | {wire} B | {:.1} % | {last} B | {p50:.1} / {max:.1} ms | {:.3} |\n",
            mode.name,
            100.0 * wire as f64 / base as f64,
            p50 / think_ms.max(1) as f64,
        ));
    }
    out
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
