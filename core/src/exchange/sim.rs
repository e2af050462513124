//! A deterministic driver of [`Exchange`] for tests, vectors and the playground: a virtual
//! clock, a scripted upstream and an in-memory account pool, no sockets and no sleeps.
//!
//! A [`Scenario`] names the request, the accounts and one script per upstream request the
//! exchange sends; [`run`] plays it and returns a [`Transcript`]: every step the host took,
//! with the virtual time, and exactly what the client received. The same scenario gives the
//! same transcript, byte for byte, on every target.

use super::client::{Dialect, Inbound, Reply};
use super::machine::{Exchange, ExchangeConfig, Output, Pick, TokenResult};
use super::upstream::{ChatTarget, CodexTarget, Target};
use crate::accounts::{Candidate, Strategy, select};
use crate::routing::{Lane, Route};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::VecDeque;

/// One step of a scripted upstream answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpStep {
    /// The response head.
    Head {
        /// HTTP status.
        status: u16,
        /// Headers.
        #[serde(default)]
        headers: Vec<(String, String)>,
    },
    /// Body bytes (text).
    Bytes(String),
    /// Nothing for this many ms.
    Wait(u64),
    /// The body ends.
    Eof,
    /// The connection breaks.
    Reset,
    /// Nothing more, ever.
    Hang,
}

/// What a refresh of an account gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshOutcome {
    /// A new access token.
    Token(String),
    /// The refresh token is dead.
    Relogin(String),
    /// The issuer failed.
    Transient(String),
}

/// One account of the scenario's pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimAccount {
    /// Account id.
    pub id: String,
    /// Its current access token.
    #[serde(default = "default_token")]
    pub token: String,
    /// What getting its token gives, if not the token (a dead or unreachable refresh).
    #[serde(default)]
    pub token_error: Option<RefreshOutcome>,
    /// What a refresh gives; by default a new token `<token>-refreshed`.
    #[serde(default)]
    pub refresh: Option<RefreshOutcome>,
    /// Unix seconds until which it is cooling down.
    #[serde(default)]
    pub cooldown_until: u64,
}

fn default_token() -> String {
    "token".into()
}

/// Overrides of [`ExchangeConfig`]'s defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimConfig {
    /// `first_byte_timeout_ms`.
    pub first_byte_timeout_ms: Option<u64>,
    /// `idle_timeout_ms`.
    pub idle_timeout_ms: Option<u64>,
    /// `commit_timeout_ms`.
    pub commit_timeout_ms: Option<u64>,
    /// `ping_interval_ms`.
    pub ping_interval_ms: Option<u64>,
    /// `max_attempts`.
    pub max_attempts: Option<u32>,
    /// `max_held_events`.
    pub max_held_events: Option<usize>,
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Config overrides.
    #[serde(default)]
    pub config: SimConfig,
    /// `codex` (accounts) or `chat` (a provider).
    #[serde(default = "default_lane")]
    pub lane: String,
    /// `anthropic` or `openai`.
    #[serde(default = "default_dialect")]
    pub dialect: String,
    /// The client's body.
    pub request: Value,
    /// The pool (Codex lane).
    #[serde(default)]
    pub accounts: Vec<SimAccount>,
    /// One script per upstream request, in order; an unscripted request is refused.
    #[serde(default)]
    pub upstream: Vec<Vec<UpStep>>,
    /// When the client disconnects, ms after the start.
    #[serde(default)]
    pub client_gone_at_ms: Option<u64>,
    /// Unix ms at the start.
    #[serde(default = "default_start")]
    pub start_ms: u64,
}

fn default_lane() -> String {
    "codex".into()
}
fn default_dialect() -> String {
    "anthropic".into()
}
fn default_start() -> u64 {
    1_786_170_000_000
}

/// What the client received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    /// HTTP status, once committed or failed.
    pub status: Option<u16>,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
    /// The response ended (`Finish` or `Fail`).
    pub ended: bool,
}

/// The record of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    /// `"<ms since start> <what>"`, one per host step.
    pub steps: Vec<String>,
    /// What the client received.
    pub client: ClientView,
    /// Upstream requests sent.
    pub upstream_requests: usize,
    /// Bodies of the upstream requests (JSON text).
    pub upstream_bodies: Vec<String>,
    /// The exchange reached its end.
    pub done: bool,
}

/// Most host steps before a run is declared stuck.
const STEP_LIMIT: usize = 100_000;

/// Play `scenario`.
pub fn run(scenario: &Scenario) -> Transcript {
    let mut t = Transcript::default();
    let start = scenario.start_ms;
    let dialect = if scenario.dialect == "openai" {
        Dialect::OpenAi
    } else {
        Dialect::Anthropic
    };
    let source = serde_json::to_vec(&scenario.request).unwrap_or_default();
    let inbound = match Inbound::parse(dialect, &source) {
        Ok(i) => i,
        Err(f) => {
            t.steps.push("0 invalid".into());
            let r = Reply::error(dialect, &f);
            record_reply(&mut t.client, &r);
            t.done = true;
            return t;
        }
    };
    let c = &scenario.config;
    let defaults = ExchangeConfig::default();
    let cfg = ExchangeConfig {
        first_byte_timeout_ms: c
            .first_byte_timeout_ms
            .unwrap_or(defaults.first_byte_timeout_ms),
        idle_timeout_ms: c.idle_timeout_ms.unwrap_or(defaults.idle_timeout_ms),
        commit_timeout_ms: c.commit_timeout_ms.unwrap_or(defaults.commit_timeout_ms),
        ping_interval_ms: c.ping_interval_ms.unwrap_or(defaults.ping_interval_ms),
        max_attempts: c.max_attempts.unwrap_or(defaults.max_attempts),
        max_held_events: c.max_held_events.unwrap_or(defaults.max_held_events),
        ..defaults
    };
    let chat = scenario.lane == "chat";
    let target = if chat {
        Target::Chat(ChatTarget {
            url: "http://provider.test/v1/chat/completions".into(),
            headers: vec![("authorization".into(), "Bearer provider-key".into())],
            max_tokens_field: "max_tokens".into(),
            reasoning_style: "openrouter".into(),
        })
    } else {
        Target::Codex(CodexTarget {
            url: "http://codex.test/backend-api/codex/responses".into(),
            user_agent: "sim".into(),
            version: "0.0.0".into(),
        })
    };
    let route = Route {
        lane: if chat { Lane::Chat } else { Lane::Codex },
        provider: chat.then(|| "sim".to_owned()),
        model: if chat { "sim-chat-model" } else { "gpt-5.5" }.into(),
        effort: "medium".into(),
        long_context: false,
    };
    let mut accounts = scenario.accounts.clone();
    let mut ex = Exchange::new(cfg, inbound, source, target, route, None, 7, start);
    let mut now = start;
    let mut scripts: VecDeque<Vec<UpStep>> = scenario.upstream.iter().cloned().collect();
    // The live upstream: its remaining steps and when the next one happens.
    let mut up: Option<(VecDeque<UpStep>, u64)> = None;
    let mut gone = scenario.client_gone_at_ms.map(|ms| start + ms);
    let mut turn = 0u64;
    for _ in 0..STEP_LIMIT {
        while let Some(out) = ex.poll() {
            let at = now - start;
            let mut step = |s: String| t.steps.push(format!("{at} {s}"));
            match out {
                Output::PickAccount { exclude } => {
                    let pick = pick(&accounts, &exclude, turn, now / 1000);
                    turn += 1;
                    step(format!("pick excluding {exclude:?} -> {pick:?}"));
                    ex.handle_pick(pick, now);
                }
                Output::GetToken { account } => {
                    let r = match accounts.iter().find(|a| a.id == account) {
                        Some(a) => match &a.token_error {
                            Some(e) => token_result(e),
                            None => TokenResult::Ready(a.token.clone()),
                        },
                        None => TokenResult::Transient("unknown account".into()),
                    };
                    step(format!("token {account} -> {}", token_label(&r)));
                    ex.handle_token(r, now);
                }
                Output::Refresh { account, stale } => {
                    let r = match accounts.iter_mut().find(|a| a.id == account) {
                        Some(a) if a.token != stale => TokenResult::Ready(a.token.clone()),
                        Some(a) => {
                            let outcome = a
                                .refresh
                                .clone()
                                .unwrap_or(RefreshOutcome::Token(format!("{}-refreshed", a.token)));
                            if let RefreshOutcome::Token(new) = &outcome {
                                a.token = new.clone();
                            }
                            token_result(&outcome)
                        }
                        None => TokenResult::Transient("unknown account".into()),
                    };
                    step(format!("refresh {account} -> {}", token_label(&r)));
                    ex.handle_token(r, now);
                }
                Output::CoolDown {
                    account,
                    model,
                    until,
                } => {
                    step(format!(
                        "cool down {account} for {model} until +{}s",
                        until.saturating_sub(now / 1000)
                    ));
                    if let Some(a) = accounts.iter_mut().find(|a| a.id == account) {
                        a.cooldown_until = until;
                    }
                }
                Output::Quota { account, limits } => {
                    let used = limits.primary.and_then(|w| w.used_percent);
                    step(format!("quota {account} primary used {used:?}"));
                }
                Output::Send(req) => {
                    t.upstream_requests += 1;
                    let who = req
                        .headers
                        .iter()
                        .find(|(k, _)| k == "chatgpt-account-id")
                        .map_or("-", |(_, v)| v.as_str());
                    let auth = req
                        .headers
                        .iter()
                        .find(|(k, _)| k == "authorization")
                        .map_or("", |(_, v)| v.as_str());
                    step(format!(
                        "send #{} account {who} ({auth})",
                        t.upstream_requests
                    ));
                    t.upstream_bodies
                        .push(String::from_utf8_lossy(&req.body).into_owned());
                    let script = scripts.pop_front().unwrap_or_else(|| vec![UpStep::Reset]);
                    up = Some((script.into(), now));
                }
                Output::CloseUpstream => {
                    if up.take().is_some() {
                        step("close upstream".into());
                    }
                }
                Output::Commit { status, headers } => {
                    step(format!("commit {status}"));
                    t.client.status = Some(status);
                    t.client.headers = headers;
                }
                Output::Emit(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    let frames = text.matches("\n\n").count();
                    step(format!("emit {} frames", frames));
                    t.client.body.push_str(&text);
                }
                Output::Finish => {
                    step("finish".into());
                    t.client.ended = true;
                }
                Output::Fail(r) => {
                    step(format!("fail {}", r.status));
                    record_reply(&mut t.client, &r);
                }
            }
        }
        if ex.is_done() {
            t.done = true;
            return t;
        }
        // The next event: the upstream's next step, the client leaving, or the machine's timer.
        let up_at = up
            .as_ref()
            .filter(|(s, _)| !matches!(s.front(), Some(UpStep::Hang) | None))
            .map(|(_, at)| *at);
        let timer = ex.poll_timeout();
        let next = [up_at, gone, timer].into_iter().flatten().min();
        let Some(at) = next else {
            t.steps.push(format!("{} stuck", now - start));
            return t;
        };
        now = now.max(at);
        if up_at == Some(at) {
            let Some((steps, next_at)) = up.as_mut() else {
                continue;
            };
            match steps.pop_front() {
                Some(UpStep::Head { status, headers }) => ex.handle_head(status, &headers, now),
                Some(UpStep::Bytes(b)) => ex.handle_bytes(b.as_bytes(), now),
                Some(UpStep::Wait(ms)) => *next_at = now + ms,
                // The connection stays the host's until the exchange closes it.
                Some(UpStep::Eof) => {
                    steps.clear();
                    ex.handle_eof(now);
                }
                Some(UpStep::Reset) => {
                    steps.clear();
                    ex.handle_transport_error("connection reset", now);
                }
                Some(UpStep::Hang) | None => {}
            }
        } else if gone == Some(at) {
            gone = None;
            t.steps.push(format!("{} client gone", now - start));
            ex.handle_client_gone(now);
        } else {
            ex.handle_timeout(now);
        }
    }
    t.steps.push("step limit".into());
    t
}

fn record_reply(c: &mut ClientView, r: &Reply) {
    c.status = Some(r.status);
    c.headers = r.headers.clone();
    c.body = String::from_utf8_lossy(&r.body).into_owned();
    c.ended = true;
}

fn token_result(o: &RefreshOutcome) -> TokenResult {
    match o {
        RefreshOutcome::Token(t) => TokenResult::Ready(t.clone()),
        RefreshOutcome::Relogin(r) => TokenResult::Relogin(r.clone()),
        RefreshOutcome::Transient(r) => TokenResult::Transient(r.clone()),
    }
}

fn token_label(r: &TokenResult) -> String {
    match r {
        TokenResult::Ready(t) => format!("ready {t}"),
        TokenResult::Relogin(w) => format!("relogin ({w})"),
        TokenResult::Transient(w) => format!("transient ({w})"),
    }
}

/// The pool's answer, as the native host gives it: the sticky policy, and a cooldown of any
/// length reported as `Exhausted` so the exchange decides whether to wait.
fn pick(accounts: &[SimAccount], exclude: &[String], turn: u64, now: u64) -> Pick {
    let candidates: Vec<Candidate> = accounts
        .iter()
        .map(|a| Candidate {
            usable: !exclude.contains(&a.id),
            cooldown_until: a.cooldown_until,
            used_percent: None,
            active: false,
        })
        .collect();
    let ids: Vec<String> = accounts.iter().map(|a| a.id.clone()).collect();
    Pick::from_decision(
        select(Strategy::Sticky, &candidates, None, turn, now, u64::MAX),
        &ids,
    )
}
