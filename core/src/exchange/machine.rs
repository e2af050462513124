//! [`Exchange`]: one client request's whole life, as a sans-IO state machine.
//!
//! Phases (a retry returns to `Picking`, or straight to `Sent` on the Chat lane):
//!
//! ```text
//! Picking ─► Token ─► Sent ─► Holding ──(real output / bound / commit timeout)──► Live ─► Done
//!   ▲  │       │        │  ╲      │                                               │
//!   │  │       │        │   ErrorBody                                             └ error event,
//!   │  └ none/exhausted ─────────────────────────────────────────────► Fail        idle timeout
//!   └──────── Waiting ◄── a failure the policy retries (policy.rs) ─┘
//!                ▲ Refreshing ◄── 401 (once per account)
//! ```
//!
//! Nothing reaches the client before the commit; after it, a failure is an `error` event that
//! closes any open block first, and nothing follows the terminal event.

use super::client::{Dialect, Encoder, Fold, Inbound, Reply};
use super::policy::{Failure, Step, Tried, decide, stream_failure};
use super::upstream::{
    AttemptInput, Parsed, Target, Translator, UpstreamRequest, codex_request, prepare,
};
use crate::accounts::Decision;
use crate::degrade::Degradation;
use crate::error::ErrorType;
use crate::routing::Route;
use crate::upstream_error::{RateLimits, map_upstream_error};
use crate::wire::anthropic::{ErrorBody, StreamEvent, Usage};
use std::collections::VecDeque;

/// The policy's knobs, with the host's documented defaults.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// From sending a request to its response head, ms.
    pub first_byte_timeout_ms: u64,
    /// Longest silence of the upstream body, ms.
    pub idle_timeout_ms: u64,
    /// Longest hold before a stream commits anyway (so pings can start), ms.
    pub commit_timeout_ms: u64,
    /// Keep-alive interval while the client hears nothing, ms.
    pub ping_interval_ms: u64,
    /// Upstream requests per client request, at most.
    pub max_attempts: u32,
    /// Most events held back before a stream commits anyway.
    pub max_held_events: usize,
    /// Account resets at most this far away are waited out instead of failing, seconds.
    pub max_wait_secs: u64,
    /// Most bytes of an upstream error body read.
    pub error_body_cap: usize,
    /// What to do when an account needs a new login (host-specific wording).
    pub relogin_hint: String,
    /// What to do when no account is configured at all (host-specific wording).
    pub no_account_hint: String,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            first_byte_timeout_ms: 120_000,
            idle_timeout_ms: 300_000,
            commit_timeout_ms: 8_000,
            ping_interval_ms: 10_000,
            max_attempts: 4,
            max_held_events: 256,
            max_wait_secs: 5,
            error_body_cap: 64 * 1024,
            relogin_hint: "sign in again".into(),
            no_account_hint: "add a ChatGPT account".into(),
        }
    }
}

/// The host's answer to [`Output::PickAccount`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Use this account (its id).
    Account(String),
    /// No usable account: none configured (`configured: false`) or all need a new login.
    NoAccount {
        /// Whether any account exists.
        configured: bool,
    },
    /// Every usable account is cooling down; the soonest is ready in `retry_after` seconds.
    Exhausted {
        /// Seconds.
        retry_after: u64,
    },
    /// No account may use the route's model (their catalogs do not offer it): the request is
    /// answered 400 with this message.
    NotOffered(String),
}

impl Pick {
    /// The answer for an account-selection decision over `ids` (the candidates' ids, in the
    /// order `select` saw them): a cooldown of any length is reported as `Exhausted`, so the
    /// machine decides whether to wait it out.
    pub fn from_decision(decision: Decision, ids: &[String]) -> Self {
        match decision {
            Decision::Use(i) => ids
                .get(i)
                .map_or(Pick::NoAccount { configured: true }, |id| {
                    Pick::Account(id.clone())
                }),
            Decision::Wait { secs, .. } | Decision::Exhausted { retry_after: secs } => {
                Pick::Exhausted { retry_after: secs }
            }
            Decision::NoAccount => Pick::NoAccount {
                configured: !ids.is_empty(),
            },
        }
    }
}

/// The host's answer to [`Output::GetToken`] and [`Output::Refresh`].
#[derive(Clone, PartialEq, Eq)]
pub enum TokenResult {
    /// A usable access token.
    Ready(String),
    /// The refresh token is dead: the account needs a new login (why).
    Relogin(String),
    /// The issuer failed or could not be reached (why).
    Transient(String),
}

impl std::fmt::Debug for TokenResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(_) => f.write_str("Ready(<redacted>)"),
            Self::Relogin(r) => write!(f, "Relogin({r:?})"),
            Self::Transient(r) => write!(f, "Transient({r:?})"),
        }
    }
}

/// What the host must do next, drained with [`Exchange::poll`].
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Pick an account, excluding these ids; answer with [`Exchange::handle_pick`].
    PickAccount {
        /// Account ids this request must not use again.
        exclude: Vec<String>,
    },
    /// Get this account's access token (refreshing it if it is about to expire); answer with
    /// [`Exchange::handle_token`].
    GetToken {
        /// Account id.
        account: String,
    },
    /// The upstream refused this token: refresh it unless another request already did;
    /// answer with [`Exchange::handle_token`].
    Refresh {
        /// Account id.
        account: String,
        /// The refused token (refresh only if it is still the current one).
        stale: String,
    },
    /// Do not use this account for this model before `until` (unix seconds).
    CoolDown {
        /// Account id.
        account: String,
        /// The upstream model.
        model: String,
        /// Unix seconds.
        until: u64,
    },
    /// The account's live quota, from the response headers.
    Quota {
        /// Account id.
        account: String,
        /// What the headers said.
        limits: RateLimits,
    },
    /// Send this request (dropping any previous one); feed its answer with
    /// [`Exchange::handle_head`], [`Exchange::handle_bytes`], [`Exchange::handle_eof`] or
    /// [`Exchange::handle_transport_error`].
    Send(UpstreamRequest),
    /// Drop the current upstream request or body, if any.
    CloseUpstream,
    /// Start the client's response.
    Commit {
        /// HTTP status.
        status: u16,
        /// Headers.
        headers: Vec<(String, String)>,
    },
    /// Write these bytes to the client.
    Emit(Vec<u8>),
    /// End the client's response. Nothing follows.
    Finish,
    /// Answer the client with this whole response. Nothing follows.
    Fail(Reply),
}

/// What a wait leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Pick,
    Send,
}

enum Sink {
    Stream(Encoder),
    Fold(Fold),
}

struct Hold {
    tr: Translator,
    sink: Sink,
    held: Vec<u8>,
    events: usize,
    started: bool,
    commit_at: u64,
    idle_at: u64,
}

struct Live {
    tr: Translator,
    enc: Encoder,
    started: bool,
    idle_at: u64,
    ping_at: u64,
}

enum Phase {
    Picking,
    Token,
    Refreshing,
    Waiting {
        until: u64,
        then: Then,
    },
    Sent {
        tr: Translator,
        deadline: u64,
    },
    ErrorBody {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        deadline: u64,
    },
    Holding(Box<Hold>),
    Live(Box<Live>),
    Done,
}

/// One client request, from its parsed body to the last byte the client receives.
///
/// Inputs are `handle_*` calls; outputs are drained with [`Exchange::poll`] until `None`
/// after every input; [`Exchange::poll_timeout`] is the next deadline, at which the host
/// calls [`Exchange::handle_timeout`]. `now` is always unix milliseconds from the host,
/// never decreasing within an exchange. Nothing here reads a clock or does IO.
pub struct Exchange {
    cfg: ExchangeConfig,
    inbound: Inbound,
    value: Option<Parsed>,
    source: Vec<u8>,
    target: Target,
    route: Route,
    session: Option<String>,
    seed: u64,
    phase: Phase,
    out: VecDeque<Output>,
    account: Option<String>,
    token: Option<String>,
    excluded: Vec<String>,
    refreshed: Vec<String>,
    stripped: bool,
    /// The catalog entry of the route's model on the current account, from the host.
    model_info: Option<crate::catalog::ModelInfo>,
    /// The wire profile was switched after the backend refused the catalog's (or the default).
    switched: bool,
    rate_limits: u32,
    attempts: u32,
    pick_waits: u32,
    retries: u32,
    last: Option<Failure>,
    degradations: Vec<Degradation>,
    usage: Option<Usage>,
    terminal: Option<ErrorType>,
}

fn secs(ms: u64) -> String {
    let s = ms as f64 / 1000.0;
    format!("{s}s")
}

/// `HH:MM:SS` of a unix time, UTC.
fn utc_clock(unix: u64) -> String {
    let s = unix % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

fn is_header_worthy(ev: &StreamEvent) -> bool {
    matches!(
        ev,
        StreamEvent::ContentBlockStart { .. } | StreamEvent::MessageDelta { .. }
    )
}

impl Exchange {
    /// Start an exchange for `inbound` (parsed from `source`, the client's body bytes, which a
    /// retry parses again instead of keeping a copy of the parsed value), routed by `route`
    /// to `target`. `session` is the prompt-cache/session key, `seed` the entropy for ids.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: ExchangeConfig,
        mut inbound: Inbound,
        source: Vec<u8>,
        target: Target,
        route: Route,
        session: Option<String>,
        seed: u64,
        now: u64,
    ) -> Self {
        let value = Some(Parsed {
            value: std::mem::take(&mut inbound.value),
            history: inbound.history.take(),
        });
        let degradations = std::mem::take(&mut inbound.degradations);
        let mut ex = Self {
            cfg,
            inbound,
            value,
            source,
            target,
            route,
            session,
            seed,
            phase: Phase::Done,
            out: VecDeque::new(),
            account: None,
            token: None,
            excluded: Vec::new(),
            refreshed: Vec::new(),
            stripped: false,
            model_info: None,
            switched: false,
            rate_limits: 0,
            attempts: 0,
            pick_waits: 0,
            retries: 0,
            last: None,
            degradations,
            usage: None,
            terminal: None,
        };
        match ex.target {
            Target::Codex(_) => ex.pick(),
            Target::Chat(_) => ex.send(now),
        }
        ex
    }

    /// The next thing to do, or `None` until the next input.
    #[must_use]
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Exchange::handle_timeout`] must be called, unix ms; `None` while the exchange
    /// waits only for an answer to an output, or is done.
    pub fn poll_timeout(&self) -> Option<u64> {
        match &self.phase {
            Phase::Waiting { until, .. } => Some(*until),
            Phase::Sent { deadline, .. } | Phase::ErrorBody { deadline, .. } => Some(*deadline),
            Phase::Holding(h) => Some(match h.sink {
                Sink::Stream(_) => h.commit_at.min(h.idle_at),
                Sink::Fold(_) => h.idle_at,
            }),
            Phase::Live(l) => Some(l.idle_at.min(l.ping_at)),
            Phase::Picking | Phase::Token | Phase::Refreshing | Phase::Done => None,
        }
    }

    /// The exchange is over: the client got `Finish` or `Fail` (or left).
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The request as parsed (model, stream, dialect).
    pub fn inbound(&self) -> &Inbound {
        &self.inbound
    }

    /// Bytes of the client's body kept for the attempts still possible: all of it until the
    /// response commits, none after.
    pub fn kept_request_bytes(&self) -> usize {
        self.source.len()
    }

    /// The account of the latest attempt.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// Upstream requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Attempts that failed and were retried (refresh, rotation, backoff).
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The usage of the answer, once its `message_delta` went by.
    pub fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    /// The error the client got, if it got one (an error reply or an `error` event).
    pub fn terminal_error(&self) -> Option<ErrorType> {
        self.terminal
    }

    /// What the request's conversions and the stream lost so far.
    pub fn take_degradations(&mut self) -> Vec<Degradation> {
        std::mem::take(&mut self.degradations)
    }

    // ---- inputs ----

    /// The backend catalog's entry for the route's model on the account just picked (Codex
    /// lane), or `None` when the host has no catalog for it: it decides the wire profile, the
    /// efforts a request is clamped to and whether `speed: "fast"` has a tier. Give it after
    /// [`Exchange::handle_pick`] names an account and before that account's token.
    pub fn handle_model_info(&mut self, info: Option<crate::catalog::ModelInfo>) {
        self.model_info = info;
    }

    /// The answer to [`Output::PickAccount`].
    pub fn handle_pick(&mut self, pick: Pick, now: u64) {
        if !matches!(self.phase, Phase::Picking) {
            return;
        }
        match pick {
            Pick::Account(id) => {
                if self.account.as_deref() != Some(id.as_str()) {
                    self.rate_limits = 0;
                    self.token = None;
                }
                self.account = Some(id.clone());
                self.phase = Phase::Token;
                self.out.push_back(Output::GetToken { account: id });
            }
            Pick::NoAccount { configured } => {
                if let Some(f) = self.never_valid() {
                    return self.fail(f);
                }
                let f = self.last.take().unwrap_or_else(|| {
                    let message = if configured {
                        format!("every ChatGPT account needs a new login: {}", self.cfg.relogin_hint)
                    } else {
                        format!(
                            "model `{}` is served by the ChatGPT Codex backend, and no ChatGPT account is configured. {}, or use a model routed to a Chat provider (e.g. claude-haiku-4-5).",
                            self.inbound.model, self.cfg.no_account_hint
                        )
                    };
                    Failure::fatal(ErrorType::AuthenticationError, message)
                });
                self.fail(f);
            }
            Pick::NotOffered(message) => {
                self.fail(Failure::fatal(ErrorType::InvalidRequestError, message));
            }
            Pick::Exhausted { retry_after } => {
                if let Some(f) = self.never_valid() {
                    return self.fail(f);
                }
                if retry_after <= self.cfg.max_wait_secs && self.pick_waits < self.cfg.max_attempts
                {
                    // A reset within seconds: wait it out rather than fail.
                    self.pick_waits += 1;
                    self.phase = Phase::Waiting {
                        until: now.saturating_add(retry_after.saturating_mul(1000)),
                        then: Then::Pick,
                    };
                    return;
                }
                let base = self.last.take().unwrap_or_else(|| Failure {
                    retry_after: Some(retry_after),
                    ..Failure::fatal(
                        ErrorType::RateLimitError,
                        "every ChatGPT account is rate limited",
                    )
                });
                let ra = base.retry_after.map_or(retry_after, |r| r.min(retry_after));
                let message = format!(
                    "{} (all accounts exhausted; the earliest resets in {ra} s, at {} UTC)",
                    base.message,
                    utc_clock((now / 1000).saturating_add(ra))
                );
                self.fail(Failure {
                    message,
                    retry_after: Some(ra),
                    ..base
                });
            }
        }
    }

    /// The answer to [`Output::GetToken`] or [`Output::Refresh`].
    pub fn handle_token(&mut self, token: TokenResult, now: u64) {
        if !matches!(self.phase, Phase::Token | Phase::Refreshing) {
            return;
        }
        match token {
            TokenResult::Ready(t) => {
                self.token = Some(t);
                self.send(now);
            }
            TokenResult::Relogin(why) => {
                self.exclude_current();
                self.last = Some(Failure::fatal(
                    ErrorType::AuthenticationError,
                    format!(
                        "the ChatGPT account needs a new login ({why}): {}",
                        self.cfg.relogin_hint
                    ),
                ));
                self.pick();
            }
            TokenResult::Transient(why) => {
                self.exclude_current();
                self.last = Some(Failure::fatal(ErrorType::ApiError, why));
                self.pick();
            }
        }
    }

    /// The upstream's response head.
    pub fn handle_head<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        status: u16,
        headers: &[(K, V)],
        now: u64,
    ) {
        let Phase::Sent { .. } = self.phase else {
            return;
        };
        let Phase::Sent { tr, .. } = std::mem::replace(&mut self.phase, Phase::Done) else {
            return;
        };
        if let Some(account) = &self.account {
            let limits = RateLimits::from_headers(headers);
            if limits.primary.is_some() || limits.secondary.is_some() {
                self.out.push_back(Output::Quota {
                    account: account.clone(),
                    limits,
                });
            }
        }
        let idle_at = now + self.cfg.idle_timeout_ms;
        if (200..300).contains(&status) {
            let now_secs = now / 1000;
            let sink = if self.inbound.stream {
                Sink::Stream(Encoder::new(&self.inbound, now_secs))
            } else {
                Sink::Fold(Fold::new(&self.inbound, now_secs))
            };
            self.phase = Phase::Holding(Box::new(Hold {
                tr,
                sink,
                held: Vec::new(),
                events: 0,
                started: false,
                commit_at: now + self.cfg.commit_timeout_ms,
                idle_at,
            }));
        } else {
            self.phase = Phase::ErrorBody {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
                    .collect(),
                body: Vec::new(),
                deadline: idle_at,
            };
        }
    }

    /// Upstream body bytes, in any chunking.
    pub fn handle_bytes(&mut self, bytes: &[u8], now: u64) {
        match &mut self.phase {
            Phase::ErrorBody { body, .. } => {
                let room = self.cfg.error_body_cap.saturating_sub(body.len());
                body.extend_from_slice(&bytes[..bytes.len().min(room)]);
                if body.len() >= self.cfg.error_body_cap {
                    self.error_body_done(now);
                }
            }
            Phase::Holding(h) => {
                h.idle_at = now + self.cfg.idle_timeout_ms;
                h.tr.push(bytes);
                self.drain_hold(now);
            }
            Phase::Live(l) => {
                l.idle_at = now + self.cfg.idle_timeout_ms;
                l.tr.push(bytes);
                self.drain_live(now, bytes.len());
            }
            _ => {}
        }
    }

    /// The upstream body ended.
    pub fn handle_eof(&mut self, now: u64) {
        match &mut self.phase {
            Phase::Sent { .. } => {
                self.handle_transport_error("connection closed before a response", now)
            }
            Phase::ErrorBody { .. } => self.error_body_done(now),
            Phase::Holding(h) => {
                h.tr.finish();
                self.drain_hold(now);
            }
            Phase::Live(l) => {
                l.tr.finish();
                self.drain_live(now, 0);
            }
            _ => {}
        }
    }

    /// The upstream request failed below HTTP (refused, reset, TLS); `message` has no URL
    /// and no credential.
    pub fn handle_transport_error(&mut self, message: &str, now: u64) {
        match &self.phase {
            Phase::Sent { .. } => {
                self.phase = Phase::Done;
                self.out.push_back(Output::CloseUpstream);
                let f = Failure::transient(
                    ErrorType::ApiError,
                    format!("upstream unreachable: {message}"),
                );
                self.after_failure(f, now);
            }
            Phase::ErrorBody { .. } | Phase::Holding(_) | Phase::Live(_) => self.handle_eof(now),
            _ => {}
        }
    }

    /// A deadline from [`Exchange::poll_timeout`] passed.
    pub fn handle_timeout(&mut self, now: u64) {
        match &mut self.phase {
            Phase::Waiting { until, then } if now >= *until => match *then {
                Then::Pick => self.pick(),
                Then::Send => self.send(now),
            },
            Phase::Sent { deadline, .. } if now >= *deadline => {
                self.phase = Phase::Done;
                self.out.push_back(Output::CloseUpstream);
                let f = Failure::transient(
                    ErrorType::TimeoutError,
                    format!(
                        "upstream sent no response within {}",
                        secs(self.cfg.first_byte_timeout_ms)
                    ),
                );
                self.after_failure(f, now);
            }
            Phase::ErrorBody { deadline, .. } if now >= *deadline => self.error_body_done(now),
            Phase::Holding(h) => {
                let streaming = matches!(h.sink, Sink::Stream(_));
                if streaming && now >= h.commit_at {
                    self.commit(now);
                } else if now >= h.idle_at {
                    self.phase = Phase::Done;
                    self.out.push_back(Output::CloseUpstream);
                    let f = Failure::transient(
                        ErrorType::TimeoutError,
                        format!(
                            "upstream went silent for {}",
                            secs(self.cfg.idle_timeout_ms)
                        ),
                    );
                    self.after_failure(f, now);
                }
            }
            Phase::Live(l) => {
                if now >= l.idle_at {
                    // Closes an open block first so the client sees a well-formed stream.
                    l.tr.abort(ErrorBody {
                        error_type: ErrorType::TimeoutError,
                        message: format!(
                            "upstream went silent for {}; the response is incomplete",
                            secs(self.cfg.idle_timeout_ms)
                        ),
                    });
                    self.drain_live(now, 0);
                } else if now >= l.ping_at {
                    let mut out = Vec::new();
                    if l.started {
                        l.enc.encode(&StreamEvent::Ping, &mut out);
                    } else {
                        // Nothing may precede message_start: an SSE comment keeps the line alive.
                        out.extend_from_slice(b": keep-alive\n\n");
                    }
                    l.ping_at = now + self.cfg.ping_interval_ms;
                    self.out.push_back(Output::Emit(out));
                }
            }
            _ => {}
        }
    }

    /// The host is shutting down and its drain time is over: a stream already under way ends
    /// well-formed (its open block closed, then one `overloaded_error` event); a response not
    /// yet started is answered with that error instead. The upstream is dropped either way.
    pub fn handle_shutdown(&mut self, now: u64) {
        const WHY: &str = "the proxy is shutting down";
        match &mut self.phase {
            Phase::Done => {}
            Phase::Live(l) => {
                l.tr.abort(ErrorBody {
                    error_type: ErrorType::OverloadedError,
                    message: format!("{WHY}; the response is incomplete"),
                });
                self.drain_live(now, 0);
            }
            _ => {
                self.fail(Failure::fatal(
                    ErrorType::OverloadedError,
                    format!("{WHY}; retry on another instance or in a moment"),
                ));
            }
        }
    }

    /// The client went away: drop the upstream, emit nothing more.
    pub fn handle_client_gone(&mut self, _now: u64) {
        if self.is_done() {
            return;
        }
        self.phase = Phase::Done;
        self.out.clear();
        self.out.push_back(Output::CloseUpstream);
    }

    // ---- steps ----

    fn pick(&mut self) {
        self.phase = Phase::Picking;
        self.out.push_back(Output::PickAccount {
            exclude: self.excluded.clone(),
        });
    }

    fn exclude_current(&mut self) {
        if let Some(a) = &self.account
            && !self.excluded.contains(a)
        {
            self.excluded.push(a.clone());
        }
    }

    /// The request's body for an attempt: the parsed value the first time, parsed again after.
    fn take_value(&mut self) -> Result<Parsed, Failure> {
        match self.value.take() {
            Some(p) => Ok(p),
            // As the host parsed it.
            None => Inbound::parse(self.inbound.dialect, &self.source).map(|i| Parsed {
                value: i.value,
                history: i.history,
            }),
        }
    }

    /// A request no account could make succeed: its 400 comes before any account question
    /// (a 401/429 would make the client retry it).
    fn never_valid(&mut self) -> Option<Failure> {
        let parsed = match &self.value {
            Some(p) => p.clone(),
            None => match self.take_value() {
                Ok(p) => {
                    self.value = Some(p.clone());
                    p
                }
                Err(f) => return Some(f),
            },
        };
        let opts = crate::translate::request::RequestOptions::new(self.route.model.clone());
        codex_request(parsed, &self.source, &opts)
            .err()
            .map(|e| Failure::fatal(e.error_type(), e.to_string()))
    }

    fn send(&mut self, now: u64) {
        if self.attempts >= self.cfg.max_attempts {
            let f = self
                .last
                .take()
                .unwrap_or_else(|| Failure::fatal(ErrorType::ApiError, "upstream failed"));
            return self.fail(f);
        }
        let value = match self.take_value() {
            Ok(v) => v,
            Err(f) => return self.fail(f),
        };
        self.attempts += 1;
        let seed = self
            .seed
            .wrapping_add(u64::from(self.attempts).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let input = AttemptInput {
            client_model: &self.inbound.model,
            route: &self.route,
            session: self.session.as_deref(),
            account: self.account.as_deref().zip(self.token.as_deref()),
            strip_reasoning: self.stripped,
            model: self.model_info.as_ref(),
            switch_profile: self.switched,
            seed,
            body_len: self.source.len(),
        };
        match prepare(&self.target, value, &self.source, &input) {
            Ok(p) => {
                // The first attempt's degradations stand for the request (later ones repeat
                // them, or differ only by reasoning the retry removed on purpose).
                if self.attempts == 1 {
                    self.degradations.extend(p.degradations);
                }
                self.phase = Phase::Sent {
                    tr: p.translator,
                    deadline: now + self.cfg.first_byte_timeout_ms,
                };
                self.out.push_back(Output::Send(p.request));
            }
            Err(f) => self.fail(f),
        }
    }

    fn fail(&mut self, f: Failure) {
        self.terminal = Some(f.error_type);
        self.phase = Phase::Done;
        self.out.push_back(Output::CloseUpstream);
        self.out
            .push_back(Output::Fail(Reply::error(self.inbound.dialect, &f)));
    }

    fn error_body_done(&mut self, now: u64) {
        let Phase::ErrorBody {
            status,
            headers,
            body,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Done)
        else {
            return;
        };
        self.out.push_back(Output::CloseUpstream);
        let body = String::from_utf8_lossy(&body);
        let e = map_upstream_error(status, &headers, &body, now / 1000);
        let f = Failure {
            rate_limited: status == 429 && e.action == crate::upstream_error::Action::Retry,
            error_type: e.error_type,
            message: e.message,
            retry_after: e.retry_after,
            action: e.action,
            hint_ms: None,
            param: None,
        };
        self.after_failure(f, now);
    }

    fn after_failure(&mut self, f: Failure, now: u64) {
        let tried = Tried {
            attempts: self.attempts,
            max_attempts: self.cfg.max_attempts,
            has_account: self.account.is_some(),
            refreshed: self
                .account
                .as_ref()
                .is_some_and(|a| self.refreshed.contains(a)),
            stripped: self.stripped,
            switched: self.switched,
            rate_limits: self.rate_limits,
            max_wait_secs: self.cfg.max_wait_secs,
        };
        let step = decide(&f, &tried);
        if f.rate_limited {
            self.rate_limits += 1;
        }
        if step == Step::Fail {
            return self.fail(f);
        }
        self.retries += 1;
        self.last = Some(f);
        match step {
            Step::Fail => {}
            Step::Retry { after_ms } => {
                self.phase = Phase::Waiting {
                    until: now.saturating_add(after_ms),
                    then: if self.account.is_some() {
                        Then::Pick
                    } else {
                        Then::Send
                    },
                };
            }
            Step::StripAndRetry => {
                self.stripped = true;
                self.send(now);
            }
            Step::SwitchProfileAndRetry => {
                self.switched = true;
                self.send(now);
            }
            Step::Refresh => {
                let (Some(account), Some(stale)) = (self.account.clone(), self.token.clone())
                else {
                    return self.pick();
                };
                self.refreshed.push(account.clone());
                self.phase = Phase::Refreshing;
                self.out.push_back(Output::Refresh { account, stale });
            }
            Step::Rotate {
                cooldown_secs,
                exclude,
            } => {
                if let (Some(c), Some(account)) = (cooldown_secs, self.account.clone()) {
                    self.out.push_back(Output::CoolDown {
                        account,
                        model: self.route.model.clone(),
                        until: (now / 1000).saturating_add(c),
                    });
                }
                if exclude {
                    self.exclude_current();
                }
                self.pick();
            }
        }
    }

    /// Move what the translator has into the hold; commit, answer or fail as it says.
    fn drain_hold(&mut self, now: u64) {
        let Phase::Holding(h) = &mut self.phase else {
            return;
        };
        let mut output = false;
        while let Some(ev) = h.tr.poll_event() {
            if let StreamEvent::Error {
                error,
                upstream_code,
            } = &ev
            {
                // Before commit: the client has seen nothing, so the policy may retry.
                let f = stream_failure(error.error_type, &error.message, upstream_code.as_deref());
                let Phase::Holding(mut h) = std::mem::replace(&mut self.phase, Phase::Done) else {
                    return;
                };
                self.degradations.extend(h.tr.take_degradations());
                self.out.push_back(Output::CloseUpstream);
                return self.after_failure(f, now);
            }
            output |= is_header_worthy(&ev);
            if let StreamEvent::MessageDelta { usage, .. } = &ev {
                self.usage = Some(*usage);
            }
            match &mut h.sink {
                Sink::Stream(enc) => {
                    h.started |= matches!(ev, StreamEvent::MessageStart { .. });
                    enc.encode(&ev, &mut h.held);
                    h.events += 1;
                }
                Sink::Fold(fold) => fold.push(ev),
            }
            if h.events >= self.cfg.max_held_events {
                // The bound holds within a chunk too: the rest goes out live after the commit.
                break;
            }
        }
        let done = h.tr.is_done();
        match h.sink {
            Sink::Stream(_) if done || output || h.events >= self.cfg.max_held_events => {
                self.commit(now)
            }
            Sink::Stream(_) => {}
            Sink::Fold(_) if done => self.answer_folded(),
            Sink::Fold(_) => {}
        }
    }

    fn answer_folded(&mut self) {
        let Phase::Holding(mut h) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return;
        };
        self.degradations.extend(h.tr.take_degradations());
        let Sink::Fold(fold) = &mut h.sink else {
            return;
        };
        match fold.finish() {
            Ok(body) => {
                self.out.push_back(Output::CloseUpstream);
                self.out.push_back(Output::Commit {
                    status: 200,
                    headers: self.commit_headers("application/json"),
                });
                self.out
                    .push_back(Output::Emit(body.to_string().into_bytes()));
                self.out.push_back(Output::Finish);
            }
            Err(e) => self.fail(Failure::fatal(e.error_type, e.message)),
        }
    }

    fn commit_headers(&self, content_type: &str) -> Vec<(String, String)> {
        let mut h = vec![("content-type".to_owned(), content_type.to_owned())];
        if content_type == "text/event-stream" {
            h.push(("cache-control".to_owned(), "no-cache".to_owned()));
        }
        if !self.degradations.is_empty() {
            h.push((
                "x-proxy-degradations".to_owned(),
                self.degradations.len().to_string(),
            ));
        }
        h
    }

    fn commit(&mut self, now: u64) {
        let Phase::Holding(h) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return;
        };
        let Hold {
            tr,
            sink: Sink::Stream(enc),
            held,
            started,
            idle_at,
            ..
        } = *h
        else {
            return;
        };
        self.out.push_back(Output::Commit {
            status: 200,
            headers: self.commit_headers("text/event-stream"),
        });
        let emitted = !held.is_empty();
        if emitted {
            self.out.push_back(Output::Emit(held));
        }
        // No attempt follows a commit, so the client's body (a Claude Code turn's is hundreds
        // of kilobytes) is not kept for the stream's whole life.
        self.source = Vec::new();
        self.value = None;
        self.phase = Phase::Live(Box::new(Live {
            tr,
            enc,
            started,
            idle_at,
            ping_at: now + self.cfg.ping_interval_ms,
        }));
        // What the translator still has (a hold cut at its bound) goes out now.
        self.drain_live(now, 0);
    }

    fn drain_live(&mut self, now: u64, hint: usize) {
        let Phase::Live(l) = &mut self.phase else {
            return;
        };
        // The client's events of a chunk are smaller than its upstream events: one allocation.
        let mut out = Vec::with_capacity(hint.min(64 * 1024));
        while let Some(ev) = l.tr.poll_event() {
            match &ev {
                StreamEvent::MessageStart { .. } => l.started = true,
                StreamEvent::MessageDelta { usage, .. } => self.usage = Some(*usage),
                StreamEvent::Error { error, .. } => self.terminal = Some(error.error_type),
                _ => {}
            }
            l.enc.encode(&ev, &mut out);
        }
        if !out.is_empty() {
            l.ping_at = now + self.cfg.ping_interval_ms;
            self.out.push_back(Output::Emit(out));
        }
        self.end_if_done();
    }

    fn end_if_done(&mut self) {
        let Phase::Live(l) = &mut self.phase else {
            return;
        };
        if l.tr.is_done() {
            self.degradations.extend(l.tr.take_degradations());
            self.phase = Phase::Done;
            self.out.push_back(Output::CloseUpstream);
            self.out.push_back(Output::Finish);
        }
    }
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match &self.phase {
            Phase::Picking => "picking",
            Phase::Token => "token",
            Phase::Refreshing => "refreshing",
            Phase::Waiting { .. } => "waiting",
            Phase::Sent { .. } => "sent",
            Phase::ErrorBody { .. } => "error_body",
            Phase::Holding(_) => "holding",
            Phase::Live(_) => "live",
            Phase::Done => "done",
        };
        f.debug_struct("Exchange")
            .field("phase", &phase)
            .field("model", &self.inbound.model)
            .field("dialect", &self.inbound.dialect)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A dialect's error reply for a failure outside any exchange (bad body, auth).
pub fn error_reply(
    dialect: Dialect,
    error_type: ErrorType,
    message: &str,
    retry_after: Option<u64>,
) -> Reply {
    Reply::error(
        dialect,
        &Failure {
            retry_after,
            ..Failure::fatal(error_type, message)
        },
    )
}
