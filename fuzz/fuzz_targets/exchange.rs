//! The exchange machine (`proxy_core::exchange::Exchange`) driven by an arbitrary sequence of
//! host inputs — picks, tokens, response heads, body bytes, EOFs, transport errors, timer
//! firings, the client leaving — with arbitrary values and a clock that only moves forward.
//!
//! While it runs: nothing is output after `Finish`/`Fail`, nothing but one `CloseUpstream`
//! after the client left; at most `max_attempts` `Send`s; one `Commit` at most, `Emit` and
//! `Finish` only after it and `Fail` never after it; `is_done()` exactly when the exchange
//! ended; an Anthropic stream the client receives keeps the stream grammar, and a `Fail` is a
//! JSON error body with an error status.
//!
//! Once the inputs run out, the host only answers the machine's questions (an account, a
//! token) and fires its timers; the upstream stays silent. The exchange must then end within
//! a bounded number of steps.
//!
//! Input: `arbitrary` bytes: a setup (lane, dialect, stream, config), then operations.

#![no_main]

use arbitrary::{Result, Unstructured};
use fuzz_support::{Grammar, sse_frames};
use libfuzzer_sys::fuzz_target;
use proxy_core::exchange::{
    ChatTarget, CodexTarget, Dialect, Exchange, ExchangeConfig, Inbound, Output, Pick, Target,
    TokenResult,
};
use proxy_core::{Lane, Route};
use serde_json::Value;

const START: u64 = 1_786_170_000_000;
/// Host steps allowed after the inputs ran out.
const DRAIN_LIMIT: usize = 5_000;
const ACCOUNTS: [&str; 3] = ["acct-a", "acct-b", "acct-c"];

const CODEX_PIECES: &[&str] = &[
    "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_f\",\"status\":\"in_progress\",\"output\":[]}}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[]}}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"m1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\"}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":{\"id\":\"fc1\",\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"Bash\",\"arguments\":\"\"}}\n\n",
    "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc1\",\"output_index\":1,\"delta\":\"{\\\"a\\\":1}\"}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hel\"}]}}\n\n",
    "event: response.reasoning_summary_text.delta\ndata: {\"type\":\"response.reasoning_summary_text.delta\",\"item_id\":\"rs1\",\"output_index\":0,\"summary_index\":0,\"delta\":\"think\"}\n\n",
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_f\",\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":2}}}\n\n",
    "event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n",
    "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_is_overloaded\",\"message\":\"busy\"}}}\n\n",
    "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"Please try again in 40ms.\"}\n\n",
    "event: error\ndata: {\"type\":\"error\",\"code\":\"invalid_encrypted_content\",\"message\":\"bad blob\"}\n\n",
    "event: error\ndata: {\"type\":\"error\",\"code\":\"context_length_exceeded\",\"message\":\"too long\"}\n\n",
    ": keep-alive\n\n",
    "event: response.output_text.del",
    "{\"error\":{\"type\":\"usage_limit_reached\",\"message\":\"limit\",\"resets_in_seconds\":3}}",
    "{\"error\":{\"code\":\"invalid_encrypted_content\",\"message\":\"x\"}}",
    "{\"detail\":\"Unauthorized\"}",
    "<html><title>Just a moment...</title></html>",
];

const CHAT_PIECES: &[&str] = &[
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"hmm\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"function\":{\"name\":\"Bash\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n",
    "data: {\"error\":{\"message\":\"provider overloaded\",\"code\":503}}\n\n",
    "data: [DONE]\n\n",
    ": OPENROUTER PROCESSING\n\n",
    "{\"error\":{\"message\":\"Rate limit exceeded\",\"code\":429}}",
];

const STATUSES: &[u16] = &[200, 200, 200, 201, 400, 401, 402, 403, 404, 408, 429, 500, 502, 503, 504, 529];

/// Builds the whole run from the input; every draw may fail when the input runs out.
struct Run {
    ex: Exchange,
    now: u64,
    max_attempts: u32,
    dialect: Dialect,
    stream: bool,
    // What the client saw.
    sends: u32,
    committed: bool,
    ended: bool,
    gone: bool,
    closed_after_gone: bool,
    body: Vec<u8>,
    // The question the machine asked last (for the drain phase).
    question: Option<Output>,
    // Every account id the host gave is a valid header value.
    ids_sendable: bool,
}

impl Run {
    /// Drain and check everything the machine has to say.
    fn drain(&mut self) {
        while let Some(out) = self.ex.poll() {
            assert!(!self.ended, "output after Finish/Fail: {out:?}");
            if self.gone {
                assert!(
                    matches!(out, Output::CloseUpstream) && !self.closed_after_gone,
                    "output after the client left: {out:?}"
                );
                self.closed_after_gone = true;
                continue;
            }
            match &out {
                Output::PickAccount { .. } | Output::GetToken { .. } | Output::Refresh { .. } => {
                    self.question = Some(out.clone());
                }
                Output::Send(req) => {
                    self.sends += 1;
                    assert!(
                        self.sends <= self.max_attempts,
                        "Send #{} with max_attempts {}",
                        self.sends,
                        self.max_attempts
                    );
                    assert!(!self.committed, "Send after Commit");
                    assert!(
                        serde_json::from_slice::<Value>(&req.body).is_ok_and(|v| v.is_object()),
                        "upstream body is not a JSON object"
                    );
                    for (k, v) in &req.headers {
                        // The account id (and the token the drain phase makes from it) is the host's
                        // trusted data: only checked when the host gave sendable ones.
                        if (k == "chatgpt-account-id" || k == "authorization") && !self.ids_sendable {
                            continue;
                        }
                        assert!(
                            proxy_core::exchange::is_header_value(v),
                            "header {k} has a value no HTTP stack accepts: {v:?}"
                        );
                    }
                }
                Output::Commit { status, .. } => {
                    assert!(!self.committed, "a second Commit");
                    assert!((200..300).contains(status), "Commit with status {status}");
                    self.committed = true;
                }
                Output::Emit(bytes) => {
                    assert!(self.committed, "Emit before Commit");
                    self.body.extend_from_slice(bytes);
                }
                Output::Finish => {
                    assert!(self.committed, "Finish before Commit");
                    self.ended = true;
                }
                Output::Fail(reply) => {
                    assert!(!self.committed, "Fail after Commit");
                    assert!(reply.status >= 400, "Fail with status {}", reply.status);
                    let v: Value = serde_json::from_slice(&reply.body)
                        .unwrap_or_else(|e| panic!("Fail body is not JSON ({e})"));
                    // Both dialects put the text at `error.message`.
                    let msg = &v["error"]["message"];
                    assert!(
                        msg.as_str().is_some_and(|m| !m.is_empty()),
                        "Fail body without a message: {v}"
                    );
                    self.ended = true;
                }
                Output::CoolDown { .. } | Output::Quota { .. } | Output::CloseUpstream => {}
            }
        }
        assert!(self.sends == self.ex.attempts(), "Sends and attempts() disagree");
        let done = self.ex.is_done();
        assert_eq!(done, self.ended || self.gone, "is_done() = {done}, ended {}, gone {}", self.ended, self.gone);
        if done {
            assert!(self.ex.poll_timeout().is_none(), "a timer after the end");
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    fn op(&mut self, u: &mut Unstructured<'_>) -> Result<()> {
        match u.int_in_range(0u8..=14)? {
            0 => {
                let id = match u.int_in_range(0u8..=4)? {
                    i @ 0..=2 => ACCOUNTS[usize::from(i)].to_owned(),
                    3 => String::new(),
                    _ => u.arbitrary::<String>()?,
                };
                self.ids_sendable &= proxy_core::exchange::is_header_value(&id);
                self.ex.handle_pick(Pick::Account(id), self.now);
            }
            1 => {
                let configured = u.arbitrary()?;
                self.ex.handle_pick(Pick::NoAccount { configured }, self.now);
            }
            2 => {
                let retry_after = if u.arbitrary::<bool>()? {
                    u64::from(u.int_in_range(0u8..=20)?)
                } else {
                    big(u)?
                };
                self.ex.handle_pick(Pick::Exhausted { retry_after }, self.now);
            }
            3 => {
                let t = match u.int_in_range(0u8..=2)? {
                    0 => TokenResult::Ready(format!("tok-{}", u.int_in_range(0u8..=3)?)),
                    // The host's reasons are error texts (never empty: the machine relays
                    // them to the client as the message).
                    1 => TokenResult::Relogin(reason(u)?),
                    _ => TokenResult::Transient(reason(u)?),
                };
                self.ex.handle_token(t, self.now);
            }
            4 => {
                let status = if u.ratio(7, 8)? {
                    *u.choose(STATUSES)?
                } else {
                    u.arbitrary()?
                };
                let headers = headers(u, self.now)?;
                self.ex.handle_head(status, &headers, self.now);
            }
            5 | 6 => {
                let pieces = if u.arbitrary()? { CODEX_PIECES } else { CHAT_PIECES };
                let piece = *u.choose(pieces)?;
                self.ex.handle_bytes(piece.as_bytes(), self.now);
            }
            7 => {
                let len = u.int_in_range(0usize..=96)?;
                let bytes = u.bytes(len)?;
                self.ex.handle_bytes(bytes, self.now);
            }
            8 => {
                let body = match u.int_in_range(0u8..=2)? {
                    0 => format!(
                        "{{\"error\":{{\"type\":\"usage_limit_reached\",\"resets_in_seconds\":{}}}}}",
                        big(u)?
                    ),
                    1 => format!(
                        "{{\"error\":{{\"type\":\"usage_limit_reached\",\"resets_at\":{}}}}}",
                        big(u)?
                    ),
                    _ => format!(
                        "{{\"error\":{{\"code\":\"rate_limit_exceeded\",\"message\":\"Please try again in {}s\"}}}}",
                        u.arbitrary::<u32>()?
                    ),
                };
                self.ex.handle_bytes(body.as_bytes(), self.now);
            }
            9 => self.ex.handle_eof(self.now),
            10 => self.ex.handle_transport_error("connection reset", self.now),
            11 => {
                // The machine's own timer.
                if let Some(t) = self.ex.poll_timeout() {
                    self.now = self.now.max(t);
                }
                self.ex.handle_timeout(self.now);
            }
            12 => {
                // A spurious or early wake-up.
                let ms = u64::from(u.int_in_range(0u16..=2_000)?);
                self.advance(ms);
                self.ex.handle_timeout(self.now);
            }
            13 => {
                self.ex.handle_client_gone(self.now);
                if !self.ended {
                    self.gone = true;
                }
            }
            _ => {
                let ms = u64::from(u.arbitrary::<u16>()?) * u64::from(u.int_in_range(1u8..=16)?);
                self.advance(ms);
            }
        }
        self.drain();
        Ok(())
    }

    /// Inputs ran out: answer questions, fire timers, nothing else.
    fn finish(&mut self) {
        for _ in 0..DRAIN_LIMIT {
            self.drain();
            if self.ex.is_done() {
                break;
            }
            if let Some(t) = self.ex.poll_timeout() {
                self.now = self.now.max(t);
                self.ex.handle_timeout(self.now);
                continue;
            }
            match self.question.take() {
                Some(Output::PickAccount { exclude }) => {
                    let pick = ACCOUNTS
                        .iter()
                        .find(|a| !exclude.iter().any(|e| e == *a))
                        .map_or(Pick::NoAccount { configured: true }, |a| {
                            Pick::Account((*a).to_owned())
                        });
                    self.ex.handle_pick(pick, self.now);
                }
                Some(Output::GetToken { account }) | Some(Output::Refresh { account, .. }) => {
                    self.ex.handle_token(TokenResult::Ready(format!("tok-{account}")), self.now);
                }
                other => panic!("stuck: no timer and no question pending ({other:?}); {:?}", self.ex),
            }
        }
        assert!(self.ex.is_done(), "not done {DRAIN_LIMIT} steps after the inputs ran out: {:?}", self.ex);

        // What an Anthropic streaming client received keeps the grammar.
        if self.committed && self.stream && self.dialect == Dialect::Anthropic {
            let text = String::from_utf8(self.body.clone()).expect("client body is UTF-8");
            let frames = sse_frames(&text).unwrap_or_else(|e| panic!("client stream: {e}"));
            let mut g = Grammar::new();
            for (name, data) in &frames {
                if let Err(e) = g.event(name, data) {
                    panic!("client stream breaks the grammar: {e}\n{text}");
                }
            }
            if self.ended && !self.gone {
                if let Err(e) = g.end() {
                    panic!("client stream: {e}\n{text}");
                }
            }
        }
        if self.committed && !self.stream && self.ended && !self.gone {
            let v: Value = serde_json::from_slice(&self.body).expect("non-streaming answer is JSON");
            match self.dialect {
                Dialect::Anthropic => assert_eq!(v["type"], "message", "answer: {v}"),
                Dialect::OpenAi => assert_eq!(v["object"], "chat.completion", "answer: {v}"),
            }
        }
    }
}

/// Any number of seconds, up to u64::MAX (finding F5).
fn big(u: &mut Unstructured<'_>) -> Result<u64> {
    u.arbitrary::<u64>()
}

fn reason(u: &mut Unstructured<'_>) -> Result<String> {
    let r: String = u.arbitrary()?;
    Ok(if r.is_empty() { "unreachable".into() } else { r })
}

fn headers(u: &mut Unstructured<'_>, now: u64) -> Result<Vec<(String, String)>> {
    let mut h = Vec::new();
    let n = u.int_in_range(0u8..=3)?;
    for _ in 0..n {
        let kv = match u.int_in_range(0u8..=9)? {
            0 => ("retry-after", u.int_in_range(0u32..=120)?.to_string()),
            1 => ("retry-after", big(u)?.to_string()),
            2 => ("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
            3 => (
                "retry-after",
                format!(
                    "Wed, {:02} Aug {} {:02}:{:02}:{:02} GMT",
                    u.int_in_range(1u8..=31)?,
                    // Any year (finding F4).
                    u.arbitrary::<u64>()?,
                    u.int_in_range(0u8..=23)?,
                    u.int_in_range(0u8..=59)?,
                    u.int_in_range(0u8..=60)?
                ),
            ),
            4 => ("x-codex-primary-used-percent", format!("{}", u.int_in_range(0u16..=150)?)),
            5 => ("x-codex-primary-reset-after-seconds", big(u)?.to_string()),
            6 => ("x-codex-secondary-reset-at", (now / 1000 + u64::from(u.arbitrary::<u16>()?)).to_string()),
            7 => ("content-type", "text/html; charset=utf-8".to_owned()),
            8 => ("cf-mitigated", "challenge".to_owned()),
            _ => ("x-codex-secondary-used-percent", "100".to_owned()),
        };
        h.push((kv.0.to_owned(), kv.1));
    }
    Ok(h)
}

fn request(openai: bool, stream: bool, variant: u8) -> Value {
    let content = match variant % 3 {
        0 => serde_json::json!("hi"),
        1 => serde_json::json!([{"type": "text", "text": "look"}]),
        _ => serde_json::json!("a longer question with \u{e9} and \u{1f600}"),
    };
    if openai {
        serde_json::json!({"model": "claude-sonnet-4-5", "stream": stream,
            "stream_options": {"include_usage": variant & 4 != 0},
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": content}]})
    } else {
        serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": stream,
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
            "messages": [{"role": "user", "content": content}]})
    }
}

fn setup(u: &mut Unstructured<'_>) -> Result<Run> {
    let chat: bool = u.arbitrary()?;
    let openai: bool = u.arbitrary()?;
    let stream: bool = u.arbitrary()?;
    let variant: u8 = u.arbitrary()?;
    let max_attempts = u32::from(u.int_in_range(1u8..=6)?);
    let cfg = ExchangeConfig {
        first_byte_timeout_ms: u64::from(u.int_in_range(1u16..=30_000)?),
        idle_timeout_ms: u64::from(u.int_in_range(1u16..=30_000)?),
        commit_timeout_ms: u64::from(u.int_in_range(0u16..=10_000)?),
        ping_interval_ms: u64::from(u.int_in_range(500u16..=10_000)?),
        max_attempts,
        max_held_events: usize::from(u.int_in_range(1u8..=8)?),
        max_wait_secs: u64::from(u.int_in_range(0u8..=10)?),
        error_body_cap: usize::from(u.int_in_range(16u16..=4096)?),
        ..ExchangeConfig::default()
    };
    let dialect = if openai { Dialect::OpenAi } else { Dialect::Anthropic };
    let source = serde_json::to_vec(&request(openai, stream, variant)).expect("request");
    let inbound = Inbound::parse(dialect, &source).expect("the fixed requests are valid");
    let target = if chat {
        Target::Chat(ChatTarget {
            url: "http://provider.test/v1/chat/completions".into(),
            headers: vec![("authorization".into(), "Bearer k".into())],
            max_tokens_field: "max_tokens".into(),
            reasoning_style: "openrouter".into(),
        })
    } else {
        Target::Codex(CodexTarget {
            url: "http://codex.test/backend-api/codex/responses".into(),
            user_agent: "fuzz".into(),
            version: "0.0.0".into(),
        })
    };
    let route = Route {
        lane: if chat { Lane::Chat } else { Lane::Codex },
        provider: chat.then(|| "fuzz".to_owned()),
        model: if chat { "fuzz-chat-model" } else { "gpt-5.5" }.into(),
        effort: "medium".into(),
        long_context: false,
    };
    let session = u.arbitrary::<bool>()?.then(|| "sess-1".to_owned());
    let seed = u.arbitrary()?;
    let ex = Exchange::new(cfg, inbound, source, target, route, session, seed, START);
    Ok(Run {
        ex,
        now: START,
        max_attempts,
        dialect,
        stream,
        sends: 0,
        committed: false,
        ended: false,
        gone: false,
        closed_after_gone: false,
        body: Vec::new(),
        question: None,
        ids_sendable: true,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mut run) = setup(&mut u) else { return };
    run.drain();
    for _ in 0..512 {
        if u.is_empty() || run.op(&mut u).is_err() {
            break;
        }
    }
    run.finish();
});
