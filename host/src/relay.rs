//! `POST /v1/messages`: route, convert, call the upstream, and relay its stream.
//!
//! The response is committed late: until the upstream produced real output, its events are
//! held (bounded), so a 401/429/5xx, or an overload smuggled inside a 200 stream, can be retried
//! on another account or after a backoff without the client seeing anything. A hold longer than
//! `commit_timeout_secs` commits anyway, so keep-alive pings can start. After the commit,
//! failures become Anthropic `error` events and the stream ends cleanly. Every stream has a
//! first-byte timeout, an idle timeout and pings; dropping the client's body drops the
//! upstream request at once.

use crate::accounts::{PickError, Slot, TokenFailure};
use crate::config::Provider;
use crate::lanes::{self, Prepared};
use crate::server::{AppState, authorized, error_response, now_secs, parse_body};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use proxy_core::convert_openai_request_value;
use proxy_core::{
    Action, Aggregator, ErrorType, Lane, OpenAiStream, StreamEvent, map_upstream_error,
    openai_error,
};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most events held back before a commit is forced.
const MAX_HELD_EVENTS: usize = 256;

type Upstream = BoxStream<'static, Result<Bytes, reqwest::Error>>;

/// `POST /v1/messages`.
pub async fn messages(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    handle(st, headers, body, Dialect::Anthropic).await
}

/// `POST /v1/chat/completions`: the OpenAI request becomes an Anthropic one (core), takes the
/// same path, and the answer is folded back into OpenAI chunks (core).
pub async fn chat_completions(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let probe = Dialect::OpenAi {
        include_usage: false,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return too_large_or_bad(&st, e, probe),
    };
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return probe.error(e.ty, &e.message, None),
    };
    let include_usage = value
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let converted = match convert_openai_request_value(value) {
        Ok(c) => c,
        Err(e) => return probe.error(e.error_type(), &e.to_string(), None),
    };
    for d in &converted.degradations {
        tracing::debug!(path = %d.path, kind = ?d.kind, detail = %d.detail, "openai request degradation");
    }
    let anthropic = Bytes::from(serde_json::to_vec(&converted.value).unwrap_or_default());
    handle(
        st,
        headers,
        Ok(anthropic),
        Dialect::OpenAi { include_usage },
    )
    .await
}

fn too_large_or_bad(st: &AppState, e: BytesRejection, dialect: Dialect) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        dialect.error(
            ErrorType::RequestTooLarge,
            &format!(
                "request body exceeds the limit of {} bytes",
                st.cfg.body_limit
            ),
            None,
        )
    } else {
        dialect.error(ErrorType::InvalidRequestError, &e.body_text(), None)
    }
}

async fn handle(
    st: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    dialect: Dialect,
) -> Response {
    let started = Instant::now();
    if let Err(e) = authorized(&st.cfg, &headers) {
        return dialect.error(e.ty, &e.message, None);
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return too_large_or_bad(&st, e, dialect),
    };
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return dialect.error(e.ty, &e.message, None),
    };
    let Some(model) = value
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return dialect.error(
            ErrorType::InvalidRequestError,
            "model: field required",
            None,
        );
    };
    let stream = value
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let session = proxy_core::session_key(
        headers
            .get("x-claude-code-session-id")
            .and_then(|v| v.to_str().ok()),
        &value,
    );
    let route = st.route(&model);
    let lane_name = match route.lane {
        Lane::Codex => "codex",
        Lane::Chat => "chat",
    };
    let (upstream_model, provider) = (route.model.clone(), route.provider.clone());
    let job = Job {
        st: st.clone(),
        model,
        route,
        session,
        body,
        first: Some(value),
        started,
        dialect,
    };
    let model = job.model.clone();
    let mut resp = job.run(stream).await;
    // One line per request: what was asked, where it went, how it ended (no content, no keys).
    tracing::info!(
        model = %model,
        lane = lane_name,
        stream,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    st.metrics
        .requests
        .get_or_create(&crate::metrics::RequestLabels {
            lane: lane_name.into(),
            status: resp.status().as_u16(),
        })
        .inc();
    // Taken out: the notes are for this log line, not for the client.
    let notes = resp
        .extensions_mut()
        .remove::<crate::logs::RequestNotes>()
        .unwrap_or_default();
    st.logs.push(serde_json::json!({
        "at": crate::server::now_millis(),
        "endpoint": match dialect {
            Dialect::Anthropic => "messages",
            Dialect::OpenAi { .. } => "chat.completions",
        },
        "model": model,
        "lane": lane_name,
        "provider": provider,
        "upstream_model": upstream_model,
        "account": notes.account,
        "stream": stream,
        "status": resp.status().as_u16(),
        // For a stream: until the response was committed (its first real output).
        "ms": started.elapsed().as_millis() as u64,
        "degradations": notes.degradations,
        "degradations_total": notes.degradations_total,
    }));
    resp
}

struct Job {
    st: Arc<AppState>,
    model: String,
    route: proxy_core::Route,
    session: Option<String>,
    body: Bytes,
    /// The parsed body, used by the first attempt; later attempts re-parse `body`.
    first: Option<Value>,
    started: Instant,
    dialect: Dialect,
}

/// Which API the client speaks.
#[derive(Debug, Clone, Copy)]
pub enum Dialect {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAi {
        /// Send a usage chunk (`stream_options.include_usage`).
        include_usage: bool,
    },
}

impl Dialect {
    fn fold(self, model: &str) -> Fold {
        match self {
            Dialect::Anthropic => Fold::Anthropic(Aggregator::new()),
            Dialect::OpenAi { .. } => Fold::OpenAi(OpenAiStream::new(model, now_secs(), false)),
        }
    }

    fn encoder(self, model: &str) -> Encoder {
        match self {
            Dialect::Anthropic => Encoder::Anthropic,
            Dialect::OpenAi { include_usage } => Encoder::OpenAi(Box::new(OpenAiStream::new(
                model,
                now_secs(),
                include_usage,
            ))),
        }
    }

    /// An error response in this dialect's shape.
    pub fn error(self, ty: ErrorType, message: &str, retry_after: Option<u64>) -> Response {
        match self {
            Dialect::Anthropic => error_response(ty, message, retry_after),
            Dialect::OpenAi { .. } => {
                let (status, body) = openai_error(ty, message);
                let mut r = (
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    axum::Json(body),
                )
                    .into_response();
                if let Some(s) = retry_after {
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(s));
                }
                r
            }
        }
    }
}

/// Non-streaming accumulation, per dialect.
enum Fold {
    Anthropic(Aggregator),
    OpenAi(OpenAiStream),
}

impl Fold {
    fn push(&mut self, ev: StreamEvent) {
        match self {
            Fold::Anthropic(a) => a.push(ev),
            Fold::OpenAi(o) => o.push(&ev, &mut Vec::new()),
        }
    }

    fn finish(&mut self) -> Result<Value, proxy_core::ErrorBody> {
        match self {
            Fold::Anthropic(a) => a.finish(),
            Fold::OpenAi(o) => o.completion(),
        }
    }
}

/// Stream encoding, per dialect.
enum Encoder {
    Anthropic,
    OpenAi(Box<OpenAiStream>),
}

impl Encoder {
    fn encode(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
        match self {
            Encoder::Anthropic => ev.encode(out),
            Encoder::OpenAi(o) => o.push(ev, out),
        }
    }
}

/// Why an attempt did not produce a committed answer.
enum Failure {
    /// Try again (after `wait`); `action` says what to do about the account first.
    Retry {
        wait: Duration,
        error: (ErrorType, String, Option<u64>),
        action: Action,
    },
    /// Give up with this error.
    Fail(ErrorType, String, Option<u64>),
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(4)).min(2_000))
}

impl Job {
    fn error(&self, ty: ErrorType, message: &str, retry_after: Option<u64>) -> Response {
        self.dialect.error(ty, message, retry_after)
    }

    fn provider(&self) -> Option<&Provider> {
        let name = self.route.provider.as_deref().unwrap_or("kilo");
        self.st.cfg.providers.iter().find(|p| p.name == name)
    }

    async fn run(mut self, stream: bool) -> Response {
        let st = self.st.clone();
        let mut excluded: Vec<String> = Vec::new();
        let mut strip_reasoning = false;
        let mut refreshed: Vec<String> = Vec::new();
        let mut last: Option<(ErrorType, String, Option<u64>)> = None;
        for attempt in 0..st.cfg.max_attempts {
            let value = match self.first.take() {
                Some(v) => v,
                None => match serde_json::from_slice(&self.body) {
                    Ok(v) => v,
                    Err(_) => break,
                },
            };
            let account: Option<(Arc<Slot>, String)> = match self.route.lane {
                Lane::Codex => {
                    // A request that can never succeed gets its 400 before any account
                    // question (a 401/429 would make clients retry it).
                    let invalid = || {
                        proxy_core::convert_request_value(
                            value.clone(),
                            &proxy_core::RequestOptions::new(self.route.model.clone()),
                        )
                        .err()
                    };
                    if st.pool.is_empty() {
                        if let Some(e) = invalid() {
                            return self.error(e.error_type(), &e.to_string(), None);
                        }
                        return self.error(
                            ErrorType::AuthenticationError,
                            &format!(
                                "model `{}` is served by the ChatGPT Codex backend, and no ChatGPT account is configured. Add one with `codex-claude-proxy accounts add` (or import ~/.codex/auth.json with `codex-claude-proxy accounts import`), or use a model routed to a Chat provider (e.g. claude-haiku-4-5).",
                                self.model
                            ),
                            None,
                        );
                    }
                    let now = now_secs();
                    let slot = match st
                        .pool
                        .pick(self.session.as_deref(), &self.route.model, &excluded, now)
                        .await
                    {
                        Ok(slot) => slot,
                        Err(pick) => {
                            if let Some(e) = invalid() {
                                return self.error(e.error_type(), &e.to_string(), None);
                            }
                            return match pick {
                                PickError::Exhausted(soonest) => {
                                    let (ty, msg, ra) = last.clone().unwrap_or((
                                        ErrorType::RateLimitError,
                                        "every ChatGPT account is rate limited".into(),
                                        Some(soonest),
                                    ));
                                    let ra = ra.map_or(soonest, |r| r.min(soonest));
                                    let msg = format!(
                                        "{msg} (all accounts exhausted; the earliest resets in {ra} s, at {} UTC)",
                                        utc_clock(now_secs() + ra)
                                    );
                                    self.error(ty, &msg, Some(ra))
                                }
                                PickError::NoAccount => {
                                    let (ty, msg, ra) = last.clone().unwrap_or((
                                        ErrorType::AuthenticationError,
                                        "every ChatGPT account needs a new login: run `codex-claude-proxy accounts add`".into(),
                                        None,
                                    ));
                                    self.error(ty, &msg, ra)
                                }
                            };
                        }
                    };
                    match st.pool.token(&slot, now).await {
                        Ok(token) => Some((slot, token)),
                        Err(TokenFailure::Relogin(r)) => {
                            excluded.push(slot.id());
                            last = Some((
                                ErrorType::AuthenticationError,
                                format!(
                                    "the ChatGPT account needs a new login ({r}): run `codex-claude-proxy accounts add`"
                                ),
                                None,
                            ));
                            continue;
                        }
                        Err(TokenFailure::Transient(m)) => {
                            excluded.push(slot.id());
                            last = Some((ErrorType::ApiError, m, None));
                            continue;
                        }
                    }
                }
                Lane::Chat => None,
            };
            let prepared = match self.route.lane {
                Lane::Codex => lanes::prepare_codex(
                    &st,
                    &self.model,
                    &self.route,
                    self.session.as_deref(),
                    value,
                    account
                        .as_ref()
                        .map(|(slot, token)| (slot.snapshot(), token.clone())),
                    strip_reasoning,
                ),
                Lane::Chat => match self.provider() {
                    Some(p) => lanes::prepare_chat(&st, &self.model, &self.route, p, value),
                    None => {
                        return self.error(
                            ErrorType::ApiError,
                            &format!(
                                "route for `{}` names provider `{}`, which is not configured",
                                self.model,
                                self.route.provider.as_deref().unwrap_or("")
                            ),
                            None,
                        );
                    }
                },
            };
            let prepared = match prepared {
                Ok(mut p) => {
                    p.slot = account.as_ref().map(|(slot, _)| slot.clone());
                    p
                }
                Err(e) => return self.error(e.ty, &e.message, None),
            };
            match self.attempt(prepared, stream).await {
                Ok(resp) => return resp,
                Err(Failure::Fail(ty, msg, ra)) => {
                    st.metrics.error(ty.as_str());
                    return self.error(ty, &msg, ra);
                }
                Err(Failure::Retry {
                    wait,
                    error,
                    action,
                }) => {
                    st.metrics.retries.inc();
                    let now = now_secs();
                    match (action, &account) {
                        // invalid_encrypted_content: once more without replayed reasoning, once.
                        (Action::StripReasoning, _) if !strip_reasoning => strip_reasoning = true,
                        (Action::StripReasoning, _) => {
                            st.metrics.error(error.0.as_str());
                            return self.error(error.0, &error.1, error.2);
                        }
                        // A Chat provider's 401/402/usage limit: no account to refresh or
                        // rotate, so retrying the same call cannot help.
                        (Action::Refresh | Action::Rotate, None) => {
                            st.metrics.error(error.0.as_str());
                            return self.error(error.0, &error.1, error.2);
                        }
                        // 401: refresh this account's token and retry it once.
                        (Action::Refresh, Some((slot, token))) => {
                            let id = slot.id();
                            if refreshed.contains(&id) {
                                excluded.push(id);
                            } else {
                                refreshed.push(id.clone());
                                if st.pool.refresh(slot, Some(token), now).await.is_err() {
                                    excluded.push(id);
                                }
                            }
                        }
                        (Action::Rotate, Some((slot, _))) => {
                            st.pool
                                .cool_down(slot, &self.route.model, now + error.2.unwrap_or(60));
                            excluded.push(slot.id());
                        }
                        _ => {}
                    }
                    last = Some(error);
                    let wait = if wait.is_zero() {
                        Duration::ZERO
                    } else {
                        wait.max(backoff(attempt))
                    };
                    tokio::time::sleep(wait).await;
                }
            }
        }
        let (ty, msg, ra) = last.unwrap_or((ErrorType::ApiError, "upstream failed".into(), None));
        st.metrics.error(ty.as_str());
        self.error(ty, &msg, ra)
    }

    /// One upstream call: send, hold events until output, then commit or fail.
    async fn attempt(&self, p: Prepared, stream: bool) -> Result<Response, Failure> {
        let st = &self.st;
        let first_byte = Duration::from_secs_f64(st.cfg.first_byte_timeout_secs);
        let sent = tokio::time::timeout(first_byte, p.request.send()).await;
        let resp = match sent {
            Err(_) => {
                return Err(Failure::Retry {
                    wait: backoff(0),
                    error: (
                        ErrorType::TimeoutError,
                        format!("upstream sent no response within {first_byte:?}"),
                        None,
                    ),
                    action: Action::Retry,
                });
            }
            Ok(Err(e)) => {
                return Err(Failure::Retry {
                    wait: backoff(0),
                    error: (
                        ErrorType::ApiError,
                        format!("upstream unreachable: {}", e.without_url()),
                        None,
                    ),
                    action: Action::Retry,
                });
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let hdrs: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        if let Some(slot) = &p.slot {
            st.pool.record_quota(
                slot,
                proxy_core::RateLimits::from_headers(&hdrs),
                now_secs(),
            );
        }
        if !(200..300).contains(&status) {
            // An error body that stalls must not hang the request either.
            let idle = Duration::from_secs_f64(st.cfg.idle_timeout_secs);
            let body = tokio::time::timeout(idle, read_capped(resp, 64 * 1024))
                .await
                .unwrap_or_default();
            let e = map_upstream_error(status, &hdrs, &body, now_secs());
            tracing::warn!(status, error_type = e.error_type.as_str(), action = ?e.action, "upstream error");
            let err = (e.error_type, e.message.clone(), e.retry_after);
            return match e.action {
                Action::Fail => Err(Failure::Fail(e.error_type, e.message, e.retry_after)),
                Action::Retry => Err(Failure::Retry {
                    wait: e
                        .retry_after
                        .map_or(backoff(0), |s| Duration::from_secs(s.min(10))),
                    error: err,
                    action: Action::Retry,
                }),
                action => Err(Failure::Retry {
                    wait: Duration::ZERO,
                    error: err,
                    action,
                }),
            };
        }
        let mut upstream: Upstream = resp.bytes_stream().boxed();
        let mut tr = p.translator;
        let mut held: Vec<StreamEvent> = Vec::new();
        let commit_deadline = Instant::now() + Duration::from_secs_f64(st.cfg.commit_timeout_secs);
        let idle = Duration::from_secs_f64(st.cfg.idle_timeout_secs);
        let mut agg = (!stream).then(|| self.dialect.fold(&self.model));
        // Hold events until real output (or, for non-streaming clients, until the end).
        loop {
            let wait_until = if stream {
                commit_deadline.min(Instant::now() + idle)
            } else {
                Instant::now() + idle
            };
            let next = tokio::time::timeout_at(wait_until.into(), upstream.next()).await;
            match next {
                Err(_) if stream && Instant::now() >= commit_deadline => break,
                Err(_) => {
                    return Err(Failure::Retry {
                        wait: backoff(0),
                        error: (
                            ErrorType::TimeoutError,
                            format!("upstream went silent for {idle:?}"),
                            None,
                        ),
                        action: Action::Retry,
                    });
                }
                Ok(Some(Ok(chunk))) => tr.push(&chunk),
                Ok(Some(Err(_))) | Ok(None) => tr.finish(),
            }
            let mut committed = false;
            while let Some(ev) = tr.poll_event() {
                if let StreamEvent::Error {
                    error,
                    upstream_code,
                } = &ev
                {
                    return Err(classify_stream_error(
                        error.error_type,
                        &error.message,
                        upstream_code.as_deref(),
                    ));
                }
                committed |= matches!(
                    ev,
                    StreamEvent::ContentBlockStart { .. } | StreamEvent::MessageDelta { .. }
                );
                if let StreamEvent::MessageDelta { usage, .. } = &ev {
                    st.metrics.usage(usage);
                }
                match agg.as_mut() {
                    Some(a) => a.push(ev),
                    None => held.push(ev),
                }
            }
            if tr.is_done() {
                break;
            }
            if stream && (committed || held.len() >= MAX_HELD_EVENTS) {
                break;
            }
        }
        for d in tr.take_degradations() {
            tracing::debug!(path = %d.path, kind = ?d.kind, detail = %d.detail, "stream degradation");
        }
        if let Some(mut a) = agg {
            st.metrics
                .duration
                .observe(self.started.elapsed().as_secs_f64());
            return match a.finish() {
                // `a` is a Fold: an Anthropic Message or an OpenAI chat.completion.
                Ok(msg) => {
                    st.metrics
                        .ttfb
                        .observe(self.started.elapsed().as_secs_f64());
                    let mut r = axum::Json(msg).into_response();
                    annotate(&mut r, &p.degradations, p.slot.as_deref());
                    Ok(r)
                }
                Err(e) => Err(Failure::Fail(e.error_type, e.message, None)),
            };
        }
        let mut r = self.commit(held, tr, upstream);
        annotate(&mut r, &p.degradations, p.slot.as_deref());
        Ok(r)
    }

    fn commit(
        &self,
        held: Vec<StreamEvent>,
        tr: lanes::Translator,
        upstream: Upstream,
    ) -> Response {
        let st = self.st.clone();
        st.metrics.open_streams.inc();
        st.metrics
            .ttfb
            .observe(self.started.elapsed().as_secs_f64());
        let mut encoder = self.dialect.encoder(&self.model);
        let mut first = Vec::new();
        for ev in &held {
            encoder.encode(ev, &mut first);
        }
        let live = Live {
            started: held
                .iter()
                .any(|e| matches!(e, StreamEvent::MessageStart { .. })),
            encoder,
            pending: VecDeque::from([Bytes::from(first)]),
            done: tr.is_done(),
            tr,
            upstream: Some(upstream),
            idle: Duration::from_secs_f64(st.cfg.idle_timeout_secs),
            ping: Duration::from_secs_f64(st.cfg.ping_interval_secs),
            last_upstream: Instant::now(),
            last_sent: Instant::now(),
            guard: StreamGuard {
                st,
                started: self.started,
            },
        };
        let body = Body::from_stream(futures_util::stream::unfold(live, Live::next));
        let mut r = Response::new(body);
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    }
}

/// The degradation count for the client (`x-proxy-degradations`), and the notes for the log.
fn annotate(
    r: &mut Response,
    degradations: &[proxy_core::Degradation],
    slot: Option<&crate::accounts::Slot>,
) {
    let n = degradations.len();
    if n > 0 {
        r.headers_mut()
            .insert("x-proxy-degradations", HeaderValue::from(n));
    }
    let account = slot.map(|s| {
        let a = s.snapshot();
        a.email
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| crate::accounts::tag_of(&a.account_id))
    });
    r.extensions_mut().insert(crate::logs::RequestNotes {
        // The log keeps a request's first few: a crafted request could carry thousands.
        degradations: degradations
            .iter()
            .take(crate::logs::KEEP_DEGRADATIONS)
            .cloned()
            .collect(),
        degradations_total: n,
        account,
    });
}

/// An error event before commit: retry the transient ones invisibly.
fn classify_stream_error(ty: ErrorType, message: &str, code: Option<&str>) -> Failure {
    let err = (ty, message.to_owned(), None);
    match code {
        Some("server_is_overloaded" | "slow_down" | "rate_limit_exceeded") => {
            let wait = parse_try_again(message).unwrap_or(backoff(0));
            Failure::Retry {
                wait,
                error: err,
                action: Action::Retry,
            }
        }
        Some("usage_limit_reached") => Failure::Retry {
            wait: Duration::ZERO,
            error: err,
            action: Action::Rotate,
        },
        Some("invalid_encrypted_content") => Failure::Retry {
            wait: Duration::ZERO,
            error: err,
            action: Action::StripReasoning,
        },
        None if message == proxy_core::translate::stream::EARLY_EOF_MESSAGE => Failure::Retry {
            wait: backoff(0),
            error: err,
            action: Action::Retry,
        },
        _ => Failure::Fail(ty, message.to_owned(), None),
    }
}

/// `HH:MM:SS` of a unix time, UTC.
fn utc_clock(unix: u64) -> String {
    let s = unix % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

/// "Please try again in 1.5s" → 1.5 s (capped at 10 s).
fn parse_try_again(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let rest = &lower[lower.find("try again in")? + "try again in".len()..];
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let n: f64 = rest[..end].parse().ok()?;
    let unit = rest[end..].trim_start();
    let secs = if unit.starts_with("ms") {
        n / 1000.0
    } else {
        n
    };
    Some(Duration::from_secs_f64(secs.clamp(0.0, 10.0)))
}

async fn read_capped(resp: reqwest::Response, cap: usize) -> String {
    let mut out = Vec::new();
    let mut s = resp.bytes_stream();
    while let Some(Ok(chunk)) = s.next().await {
        out.extend_from_slice(&chunk);
        if out.len() >= cap {
            out.truncate(cap);
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decrements the open-stream gauge and records the duration when the client's body ends or
/// is dropped (client gone).
struct StreamGuard {
    st: Arc<AppState>,
    started: Instant,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.st.metrics.open_streams.dec();
        self.st
            .metrics
            .duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// A committed stream: upstream bytes in, Anthropic SSE out, pings and the idle timeout.
struct Live {
    encoder: Encoder,
    /// message_start has been sent.
    started: bool,
    pending: VecDeque<Bytes>,
    done: bool,
    tr: lanes::Translator,
    upstream: Option<Upstream>,
    idle: Duration,
    ping: Duration,
    last_upstream: Instant,
    last_sent: Instant,
    guard: StreamGuard,
}

impl Live {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                if b.is_empty() {
                    continue;
                }
                self.last_sent = Instant::now();
                return Some((Ok(b), self));
            }
            if self.done {
                self.upstream = None;
                return None;
            }
            let ping_at = self.last_sent + self.ping;
            let idle_at = self.last_upstream + self.idle;
            let upstream = self.upstream.as_mut()?;
            tokio::select! {
                chunk = upstream.next() => {
                    self.last_upstream = Instant::now();
                    let size = match chunk {
                        Some(Ok(b)) => {
                            self.tr.push(&b);
                            b.len()
                        }
                        Some(Err(_)) | None => {
                            self.tr.finish();
                            0
                        }
                    };
                    self.drain(size);
                }
                _ = tokio::time::sleep_until(ping_at.into()) => {
                    let mut out = Vec::new();
                    if self.started {
                        self.encoder.encode(&StreamEvent::Ping, &mut out);
                    } else {
                        // Nothing may precede message_start: an SSE comment keeps the line alive.
                        out.extend_from_slice(b": keep-alive\n\n");
                    }
                    self.pending.push_back(Bytes::from(out));
                }
                _ = tokio::time::sleep_until(idle_at.into()) => {
                    // Closes an open block first so the client sees a well-formed stream.
                    self.tr.abort(proxy_core::ErrorBody {
                        error_type: ErrorType::TimeoutError,
                        message: format!("upstream went silent for {:?}; the response is incomplete", self.idle),
                    });
                    self.drain(0);
                }
            }
        }
    }

    /// Encode what the translator has; `hint` is the size of the upstream bytes just pushed
    /// (the Anthropic events of a chunk are smaller than its Codex events, so one allocation).
    fn drain(&mut self, hint: usize) {
        let mut out = Vec::with_capacity(hint.min(64 * 1024));
        while let Some(ev) = self.tr.poll_event() {
            match &ev {
                StreamEvent::MessageStart { .. } => self.started = true,
                StreamEvent::MessageDelta { usage, .. } => self.guard.st.metrics.usage(usage),
                StreamEvent::Error { error, .. } => {
                    self.guard.st.metrics.error(error.error_type.as_str())
                }
                _ => {}
            }
            self.encoder.encode(&ev, &mut out);
        }
        if self.tr.is_done() {
            self.done = true;
        }
        self.pending.push_back(Bytes::from(out));
    }
}
