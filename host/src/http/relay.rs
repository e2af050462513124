//! `POST /v1/messages` and `POST /v1/chat/completions`: the native driver of the core's
//! exchange machine (`proxy_core::exchange`).
//!
//! The machine decides everything (accounts, refresh, rotation, retries, late commit,
//! timeouts, pings, error shapes). This file only does what it says: asks the pool, sends
//! the prepared request with reqwest, feeds the answer back, sleeps until `poll_timeout()`,
//! and writes what it emits. Dropping the client's body drops the driver and with it the
//! upstream request.

use crate::accounts::catalog::{Lookup, Source};
use crate::accounts::{Slot, TokenFailure};
use crate::clock::{instant_at, now_ms, now_secs};
use crate::http::codex_ws::Fallback;
use crate::http::state::{AppState, authorized};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use proxy_core::catalog::ModelInfo;
use proxy_core::exchange::{
    Dialect, Exchange, ExchangeConfig, Inbound, Output, Pick, Reply, TokenResult, UpstreamRequest,
    error_reply,
};
use proxy_core::{ErrorType, Lane};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

/// `POST /v1/messages`.
pub async fn messages(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(st, headers, body, Dialect::Anthropic).await
}

/// `POST /v1/chat/completions`: the OpenAI request becomes an Anthropic one (core), takes the
/// same path, and the answer is folded back into OpenAI chunks (core).
pub async fn chat_completions(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    serve(st, headers, body, Dialect::OpenAi).await
}

/// An error response in `dialect`'s shape.
pub fn dialect_error(
    dialect: Dialect,
    ty: ErrorType,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    reply(error_reply(dialect, ty, message, retry_after))
}

fn reply(r: Reply) -> Response {
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() =
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    put_headers(resp.headers_mut(), &r.headers);
    resp
}

fn put_headers(h: &mut HeaderMap, list: &[(String, String)]) {
    for (k, v) in list {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(k, v);
        }
    }
}

fn exchange_config(st: &AppState) -> ExchangeConfig {
    let ms = |s: f64| (s * 1000.0) as u64;
    let cfg = st.cfg();
    ExchangeConfig {
        first_byte_timeout_ms: ms(cfg.first_byte_timeout_secs),
        idle_timeout_ms: ms(cfg.idle_timeout_secs),
        commit_timeout_ms: ms(cfg.commit_timeout_secs),
        ping_interval_ms: ms(cfg.ping_interval_secs),
        max_attempts: cfg.max_attempts,
        max_wait_secs: crate::accounts::MAX_WAIT_SECS,
        relogin_hint: "run `codex-claude-proxy accounts add`".into(),
        no_account_hint: "Add one with `codex-claude-proxy accounts add` (or import ~/.codex/auth.json with `codex-claude-proxy accounts import`)".into(),
        ..ExchangeConfig::default()
    }
}

async fn serve(
    st: Arc<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    dialect: Dialect,
) -> Response {
    let started = Instant::now();
    crate::http::listen::request_begins();
    if let Err(e) = authorized(&st.cfg(), &headers) {
        return dialect_error(dialect, e.ty, &e.message, None);
    }
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let msg = format!(
                "request body exceeds the limit of {} bytes",
                st.cfg().body_limit
            );
            return dialect_error(dialect, ErrorType::RequestTooLarge, &msg, None);
        }
        Err(e) => {
            return dialect_error(
                dialect,
                ErrorType::InvalidRequestError,
                &e.body_text(),
                None,
            );
        }
    };
    let inbound = match Inbound::parse(dialect, &body) {
        Ok(i) => i,
        Err(f) => return reply(Reply::error(dialect, &f)),
    };
    st.warm_catalog().await;
    let route = st.route_request(
        &inbound.model,
        proxy_core::wants_hosted_tools(&inbound.value),
    );
    let target = match route.lane {
        Lane::Codex => crate::http::lanes::codex(&st),
        Lane::Chat => match crate::http::lanes::provider(&st.cfg(), &route) {
            Some(p) => {
                let key = st.key_files.provider_key(p).await;
                crate::http::lanes::chat(&st, p, key)
            }
            None => {
                let msg = format!(
                    "route for `{}` names provider `{}`, which is not configured",
                    inbound.model,
                    route.provider.as_deref().unwrap_or("")
                );
                return dialect_error(dialect, ErrorType::ApiError, &msg, None);
            }
        },
    };
    let session = proxy_core::request_session(
        |h| headers.get(h).and_then(|v| v.to_str().ok()),
        &inbound.value,
    );
    let (model, stream) = (inbound.model.clone(), inbound.stream);
    let lane = match route.lane {
        Lane::Codex => "codex",
        Lane::Chat => "chat",
    };
    let (provider, upstream_model, effort) = (
        route.provider.clone(),
        route.model.clone(),
        route.effort.clone(),
    );
    let ex = Exchange::new(
        exchange_config(&st),
        inbound,
        Vec::from(body),
        target,
        route,
        session.clone(),
        st.next_seed(),
        now_ms(),
    );
    let log = Arc::new(PendingLog::default());
    let drv = Driver {
        st: st.clone(),
        ex,
        slot: None,
        link: Link::Idle,
        started,
        session,
        upstream_model: upstream_model.clone(),
        drain_over: Some(drain_over(st.drain_over.subscribe())),
        packed: (lane == "codex" && st.cfg().codex_zstd)
            .then(|| Arc::new(crate::http::zstd_body::Packed::default())),
        log: log.clone(),
        codex: lane == "codex",
        prefer_ws: false,
        committed: false,
        timer: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
        armed: None,
    };
    let abandoned = Abandoned {
        model: &model,
        lane,
        started,
        armed: true,
    };
    let (resp, notes) = drv.respond(stream).await;
    abandoned.disarm();
    let status = resp.status().as_u16();
    st.metrics.request(lane, status);
    // One line per request: what was asked, where it went, how it ended (no content, no keys).
    // Made into JSON and written by a task of its own, which runs once this one has handed the
    // response to the connection: nothing is written to a log, or built for one, before the
    // client's first byte.
    let ms = started.elapsed().as_millis() as u64;
    *log.entry.lock().unwrap_or_else(|e| e.into_inner()) = Some(LogEntry {
        at: crate::clock::now_ms(),
        dialect,
        model: model.clone(),
        lane,
        provider,
        upstream_model,
        effort,
        notes,
        stream,
        status,
        ms,
    });
    tokio::spawn(async move {
        tracing::info!(model = %model, lane, stream, status, ms, "request");
        log.write(&st.logs);
    });
    resp
}

/// A request's log entry, kept here until its task writes it (after the response has
/// started), and its id in the log once written.
#[derive(Default)]
struct PendingLog {
    entry: std::sync::Mutex<Option<LogEntry>>,
    id: std::sync::OnceLock<u64>,
}

/// What a request's log line says, as made at its commit (or its error).
struct LogEntry {
    at: u64,
    dialect: Dialect,
    model: String,
    lane: &'static str,
    provider: Option<String>,
    upstream_model: String,
    effort: String,
    notes: Notes,
    stream: bool,
    status: u16,
    /// For a stream: until the response was committed (its first real output).
    ms: u64,
}

impl LogEntry {
    fn into_json(self) -> serde_json::Value {
        let e = self;
        serde_json::json!({
            "at": e.at,
            "endpoint": match e.dialect {
                Dialect::Anthropic => "messages",
                Dialect::OpenAi => "chat.completions",
            },
            "model": e.model,
            "lane": e.lane,
            "provider": e.provider,
            "upstream_model": e.upstream_model,
            "effort": e.effort,
            "account": e.notes.account,
            "attempts": e.notes.attempts,
            "error_type": e.notes.error_type,
            "stream": e.stream,
            "status": e.status,
            "ms": e.ms,
            "degradations": e.notes.degradations,
            "degradations_total": e.notes.degradations_total,
        })
    }
}

impl PendingLog {
    fn write(&self, logs: &crate::http::logs::RequestLog) {
        // Held until the id is set: an amendment in between would find neither.
        let mut entry = self.entry.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entry.take() {
            let _ = self.id.set(logs.push(e.into_json()));
        }
    }

    /// Mark the entry, written or not, as ended by `error` (a stream that fails after its
    /// commit); false before there is one.
    fn amend_error(&self, logs: &crate::http::logs::RequestLog, error: &'static str) -> bool {
        let mut entry = self.entry.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entry.as_mut() {
            e.notes.error_type = Some(error);
        } else if let Some(&id) = self.id.get() {
            logs.amend(id, |e| e["error_type"] = error.into());
        } else {
            return false;
        }
        true
    }
}

/// Logs a request whose client went away before its response started. hyper drops the
/// handler mid-await then (which drops the upstream request), so the "request" line below is
/// never reached; without this the request would leave no trace at all.
struct Abandoned<'a> {
    model: &'a str,
    lane: &'static str,
    started: Instant,
    armed: bool,
}

impl Abandoned<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if self.armed {
            let ms = self.started.elapsed().as_millis() as u64;
            tracing::info!(model = %self.model, lane = self.lane, ms, "request abandoned: the client went away before the response started");
        }
    }
}

/// The upstream request in flight, if any.
enum Link {
    Idle,
    Sending(Pin<Box<dyn Future<Output = Result<Answered, String>> + Send>>),
    Body(UpstreamBody),
}

/// An upstream answer's body, by either transport; an error says why it broke off.
type UpstreamBody = BoxStream<'static, Result<Bytes, String>>;

/// An upstream answer's head, by either transport.
enum Answered {
    Direct(crate::http::upstream_http::Answer),
    Http(reqwest::Response),
    Ws(crate::http::codex_ws::Answer),
}

impl Answered {
    /// The answer's status.
    fn status(&self) -> u16 {
        match self {
            Answered::Direct(resp) => resp.status().as_u16(),
            Answered::Http(resp) => resp.status().as_u16(),
            Answered::Ws(a) => a.status,
        }
    }

    /// Status, headers and the body to read, whichever transport.
    fn into_parts(self) -> (u16, Head, UpstreamBody) {
        match self {
            Answered::Direct(resp) => {
                let (head, body) = resp.into_parts();
                let body = http_body_util::BodyDataStream::new(body)
                    .map(|r| r.map_err(|e| failure_text(&e)))
                    .boxed();
                (head.status.as_u16(), Head::Map(head.headers), body)
            }
            Answered::Http(mut resp) => {
                // The map itself, as the direct client's: no text copy of every header.
                let headers = std::mem::take(resp.headers_mut());
                let status = resp.status().as_u16();
                let body = resp
                    .bytes_stream()
                    .map(|r| r.map_err(reqwest_failure))
                    .boxed();
                (status, Head::Map(headers), body)
            }
            Answered::Ws(a) => (a.status, Head::List(a.headers), a.body),
        }
    }
}

/// An answer's headers, as its transport gave them.
enum Head {
    /// Both HTTP clients'.
    Map(axum::http::HeaderMap),
    /// The WebSocket transport's; names lowercase.
    List(Vec<(String, String)>),
}

impl Head {
    /// The headers as name and text pairs, borrowed (a value that is not text is left out).
    fn pairs(&self) -> Vec<(&str, &str)> {
        match self {
            Head::Map(map) => map
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
                .collect(),
            Head::List(list) => list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        }
    }
}

/// What the driver hands the HTTP layer.
enum Step {
    Commit(u16, Vec<(String, String)>),
    Emit(Vec<u8>),
    Finish,
    Fail(Reply),
}

struct Driver {
    st: Arc<AppState>,
    ex: Exchange,
    /// The account the machine picked last.
    slot: Option<Arc<Slot>>,
    link: Link,
    started: Instant,
    /// The session key (sticky account choice).
    session: Option<String>,
    /// The upstream model (cooldowns are per model).
    upstream_model: String,
    /// Resolves when a shutdown's drain time is over; `None` once it has. Made once per
    /// request, not per upstream chunk: a watch's wait registers with the channel under a
    /// lock each time it is made.
    drain_over: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Codex bodies go compressed (zstd_body.rs): this request's last one, for its retries.
    packed: Option<Arc<crate::http::zstd_body::Packed>>,
    /// The request's log entry, made at commit: a stream that ends with an error after it
    /// amends its entry.
    log: Arc<PendingLog>,
    /// A Codex-lane request (the WebSocket transport may carry it).
    codex: bool,
    /// The picked model's catalog entry prefers the WebSocket transport.
    prefer_ws: bool,
    /// The response has started: no attempt follows (`Live::coalesce` relies on it).
    committed: bool,
    /// The machine's timer, and the deadline it is set for (unix ms), if set.
    timer: Pin<Box<tokio::time::Sleep>>,
    armed: Option<u64>,
}

/// What one request's log entry says besides its route.
struct Notes {
    account: Option<String>,
    /// Upstream requests sent before the response started.
    attempts: u32,
    /// The error answered instead of a response, if one was.
    error_type: Option<&'static str>,
    degradations: Vec<proxy_core::Degradation>,
    degradations_total: usize,
}

impl Driver {
    /// Run the exchange until the client's response starts, and build it.
    async fn respond(mut self, stream: bool) -> (Response, Notes) {
        let step = self.next().await;
        let mut notes = self.notes();
        if let Step::Fail(r) = &step {
            notes.error_type = r.error_type.map(|t| t.as_str());
        }
        let resp = match step {
            Step::Fail(r) => {
                if let Some(t) = r.error_type {
                    self.st.metrics.error(t.as_str());
                }
                reply(r)
            }
            Step::Commit(status, headers) => {
                self.committed = true;
                let st = self.st.clone();
                st.metrics.first_byte(self.started.elapsed().as_secs_f64());
                let mut resp = if stream {
                    st.metrics.open_streams.inc();
                    let live = Live {
                        drv: self,
                        held: None,
                        started: false,
                        gather: true,
                        ended: false,
                    };
                    Response::new(Body::from_stream(futures_util::stream::unfold(
                        live,
                        Live::next,
                    )))
                } else {
                    let mut body = Vec::new();
                    while let Step::Emit(b) = self.next().await {
                        body.extend_from_slice(&b);
                    }
                    self.settle();
                    st.metrics
                        .duration
                        .observe(self.started.elapsed().as_secs_f64());
                    Response::new(Body::from(body))
                };
                *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                put_headers(resp.headers_mut(), &headers);
                resp
            }
            // The machine always commits or fails before anything else reaches the client.
            Step::Emit(_) | Step::Finish => dialect_error(
                self.ex.inbound().dialect,
                ErrorType::ApiError,
                "internal: output before commit",
                None,
            ),
        };
        (resp, notes)
    }

    /// The account (email, else tag) and the degradations, for the request log.
    fn notes(&mut self) -> Notes {
        let degradations = self.ex.take_degradations();
        for d in &degradations {
            tracing::debug!(path = %d.path, kind = ?d.kind, detail = %d.detail, "degradation");
        }
        let account = self
            .slot
            .as_ref()
            .filter(|_| self.ex.account().is_some())
            .map(|s| {
                s.with(|a| match &a.email {
                    Some(e) if !e.is_empty() => e.clone(),
                    _ => crate::accounts::tag_of(&a.account_id),
                })
            });
        Notes {
            account,
            attempts: self.ex.attempts(),
            error_type: None,
            degradations_total: degradations.len(),
            // The log keeps a request's first few: a crafted request could carry thousands.
            degradations: degradations
                .into_iter()
                .take(crate::http::logs::KEEP_DEGRADATIONS)
                .collect(),
        }
    }

    /// Usage and errors into the metrics, once the exchange is over.
    fn settle(&mut self) {
        if let Some(u) = self.ex.usage() {
            self.st.metrics.usage(u);
        }
        if let Some(t) = self.ex.terminal_error() {
            self.st.metrics.error(t.as_str());
            // A stream's entry was made at its commit, as a success.
            if self.log.amend_error(&self.st.logs, t.as_str()) {
                tracing::info!(error_type = t.as_str(), "stream ended with an error event");
            }
        }
        for d in self.ex.take_degradations() {
            tracing::debug!(path = %d.path, kind = ?d.kind, detail = %d.detail, "stream degradation");
        }
    }

    /// The next client-facing step: everything else the machine asks is done here.
    async fn next(&mut self) -> Step {
        loop {
            while let Some(out) = self.ex.poll() {
                // The clock is read where it is used: most outputs (a stream's) need none.
                match out {
                    Output::PickAccount { exclude } => {
                        debug_assert!(!self.committed, "an account picked after the commit");
                        let (pick, info) = self.pick(exclude, now_secs()).await;
                        self.ex.handle_pick(pick, now_ms());
                        self.ex.handle_model_info(info);
                    }
                    Output::GetToken { .. } => {
                        debug_assert!(!self.committed, "a token asked after the commit");
                        let r = match &self.slot {
                            Some(slot) => token_result(self.st.pool.token(slot, now_secs()).await),
                            None => TokenResult::Transient("no account".into()),
                        };
                        self.ex.handle_token(r, now_ms());
                    }
                    Output::Refresh { stale, .. } => {
                        debug_assert!(!self.committed, "a refresh asked after the commit");
                        let r = match &self.slot {
                            Some(slot) => {
                                let done =
                                    self.st.pool.refresh(slot, Some(&stale), now_secs()).await;
                                token_result(done.map(|()| slot.with(|a| a.access_token.clone())))
                            }
                            None => TokenResult::Transient("no account".into()),
                        };
                        self.ex.handle_token(r, now_ms());
                    }
                    Output::CoolDown { model, until, .. } => {
                        if let Some(slot) = &self.slot {
                            self.st.pool.cool_down(slot, &model, until);
                        }
                    }
                    Output::Quota { limits, .. } => {
                        if let Some(slot) = &self.slot {
                            self.st.pool.record_quota(slot, limits, now_secs());
                        }
                    }
                    Output::Send(req) => {
                        if self.ex.retries() > 0 {
                            self.st.metrics.retries.inc();
                        }
                        let packed = self.packed.clone().filter(|_| self.st.zstd.on());
                        let turn = send_turn(self.st.clone(), self.socket_key(), req, packed);
                        self.link = Link::Sending(Box::pin(turn));
                    }
                    Output::CloseUpstream => self.link = Link::Idle,
                    Output::Commit { status, headers } => return Step::Commit(status, headers),
                    Output::Emit(b) => return Step::Emit(b),
                    Output::Finish => return Step::Finish,
                    Output::Fail(r) => return Step::Fail(r),
                }
            }
            if self.ex.is_done() {
                return Step::Finish;
            }
            // The deadline moves with nearly every upstream chunk (the idle timeout), and
            // setting a timer again costs a timer-wheel update and often a write to the
            // runtime's wake-up descriptor. So the timer is set again only when the deadline
            // comes sooner; a later one is noticed when the timer fires early (the machine
            // acts only on deadlines that have passed).
            let deadline = self.ex.poll_timeout();
            if let Some(ms) = deadline
                && self.armed.is_none_or(|at| ms < at)
            {
                self.timer.as_mut().reset(instant_at(ms));
                self.armed = Some(ms);
            }
            let timer = async {
                match deadline {
                    Some(_) => self.timer.as_mut().await,
                    None => std::future::pending().await,
                }
            };
            let drain = async {
                match self.drain_over.as_mut() {
                    Some(over) => over.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                ev = next_upstream(&mut self.link) => match ev {
                    Upstream::Head(answer) => {
                        let (status, head, body) = answer.into_parts();
                        let headers = head.pairs();
                        if let (Some((_, etag)), Some(slot)) =
                            (headers.iter().find(|(k, _)| *k == "x-models-etag"), &self.slot)
                        {
                            self.st.catalogs.saw_etag(&slot.id(), etag);
                        }
                        self.link = Link::Body(body);
                        self.ex.handle_head(status, &headers, now_ms());
                    }
                    Upstream::Bytes(b) => self.ex.handle_bytes(&b, now_ms()),
                    Upstream::End => {
                        self.link = Link::Idle;
                        self.ex.handle_eof(now_ms());
                    }
                    Upstream::Broken(message) => {
                        self.link = Link::Idle;
                        self.ex.handle_transport_error(&message, now_ms());
                    }
                },
                () = timer => {
                    self.armed = None;
                    self.ex.handle_timeout(now_ms());
                }
                // Once: a shut-down exchange is done, and the loop ends above.
                () = drain => {
                    self.drain_over = None;
                    self.link = Link::Idle;
                    self.ex.handle_shutdown(now_ms());
                }
            }
        }
    }

    /// The socket this request's upstream turns may use: a Codex-lane request of a known
    /// session on an account, where `codex_transport` allows it.
    fn socket_key(&self) -> Option<crate::http::codex_ws::Key> {
        use crate::http::codex_ws::Transport;
        if !self.codex {
            return None;
        }
        let transport = Transport::parse(&self.st.cfg().codex_transport)?;
        let wanted = transport.wants_socket(self.prefer_ws);
        let account = self.ex.account()?;
        Some((account.to_owned(), self.session.clone().filter(|_| wanted)?))
    }

    /// An account for the route's model, and its catalog entry: the pool's pick, passed over
    /// while its catalog does not offer the model (another plan); when none does, a 400 that
    /// says which plans have it.
    async fn pick(&mut self, exclude: Vec<String>, now: u64) -> (Pick, Option<ModelInfo>) {
        let mut exclude = exclude;
        let mut refused: Vec<(Option<String>, Vec<String>)> = Vec::new();
        loop {
            let slot = match self.st.pool.pick(
                self.session.as_deref(),
                &self.upstream_model,
                &exclude,
                now,
            ) {
                Ok(slot) => slot,
                Err(p) if refused.is_empty() => return (p, None),
                Err(_) => {
                    return (
                        Pick::NotOffered(not_offered(&self.upstream_model, &refused)),
                        None,
                    );
                }
            };
            let id = slot.id();
            // The catalog is fetched as the account: a token that cannot be had now is the
            // exchange's business (GetToken), and the request goes on without a catalog.
            let lookup = match self.st.pool.token(&slot, now).await {
                Ok(token) => {
                    let cfg = self.st.cfg();
                    let ua = crate::http::lanes::codex_user_agent(&cfg.codex_client_version);
                    let src = Source {
                        client: &self.st.client,
                        base_url: &cfg.codex_base_url,
                        client_version: &cfg.codex_client_version,
                        user_agent: &ua,
                    };
                    let plan = slot.with(|a| a.plan_type.clone());
                    self.st
                        .catalogs
                        .lookup(&src, &id, &token, plan, &self.upstream_model)
                        .await
                }
                Err(_) => Lookup::Unknown,
            };
            match lookup {
                Lookup::NotOffered { plan, plans } => {
                    refused.push((plan, plans));
                    exclude.push(id);
                }
                Lookup::Offered(mut info) => {
                    // The tool-search mapping can be switched off (`codex_tool_search`).
                    info.supports_search_tool &= self.st.cfg().codex_tool_search;
                    self.prefer_ws = info.prefer_websockets;
                    self.slot = Some(slot);
                    return (Pick::Account(id), Some(info));
                }
                Lookup::Unknown => {
                    // No catalog entry: `auto` cannot know the model prefers the socket.
                    self.prefer_ws = false;
                    self.slot = Some(slot);
                    return (Pick::Account(id), None);
                }
            }
        }
    }
}

/// One upstream turn: over the Codex WebSocket when `socket` names one, else (or when the
/// socket could not start the turn) over HTTP. A turn the socket failed whole and HTTP then
/// served is reported to the socket table, which stops trying a socket that keeps doing so.
async fn send_turn(
    st: Arc<AppState>,
    socket: Option<crate::http::codex_ws::Key>,
    req: UpstreamRequest,
    packed: Option<Arc<crate::http::zstd_body::Packed>>,
) -> Result<Answered, String> {
    let Some(key) = socket else {
        return send(st, req, packed).await;
    };
    let limits = crate::http::codex_ws::Limits::of(&st.cfg());
    // Boxed: the socket's future is many kilobytes (a TLS handshake's state), and inline it
    // would make every request's turn that large, the HTTP ones too (each turn is boxed in
    // `Link::Sending` while it waits for its answer's head).
    let on_socket = Box::pin(crate::http::codex_ws::send(&st.sockets, key, &req, limits));
    let failed_whole = match on_socket.await {
        Ok(a) => return Ok(Answered::Ws(a)),
        Err(Fallback::Failed { full }) => full,
        Err(_) => false,
    };
    let sockets = st.sockets.clone();
    let r = send(st, req, packed).await;
    if failed_whole && r.as_ref().is_ok_and(|r| (200..300).contains(&r.status())) {
        sockets.http_served_what_the_socket_failed(now_secs());
    }
    r
}

/// Send one upstream request. A Codex body goes compressed when `packed` is given
/// (zstd_body.rs). A 415, or a 400, to a compressed body is not trusted as the request's own
/// answer: the same request goes again plain at once, and if that one is not refused the
/// encoding was the problem (compression is off from then on). The machine sees only the
/// last answer.
async fn send(
    st: Arc<AppState>,
    req: UpstreamRequest,
    packed: Option<Arc<crate::http::zstd_body::Packed>>,
) -> Result<Answered, String> {
    let UpstreamRequest {
        url, headers, body, ..
    } = req;
    // This thread's client: the upstream connection is driven where the request is served.
    let direct = crate::http::upstream_http::client();
    let body = Bytes::from(body);
    let compressed = match &packed {
        Some(p) => p.encode(&body).await,
        None => None,
    };
    let Some(compressed) = compressed else {
        return post(&st, direct.as_ref(), &url, &headers, false, body).await;
    };
    let resp = post(&st, direct.as_ref(), &url, &headers, true, compressed).await?;
    let refused = resp.status();
    if refused != 400 && refused != 415 {
        return Ok(resp);
    }
    drop(resp);
    let plain = post(&st, direct.as_ref(), &url, &headers, false, body).await?;
    if refused == 415 || plain.status() != 400 {
        st.zstd.refuse();
    }
    Ok(plain)
}

/// One POST, by this thread's direct client when there is one (upstream_http.rs), else by
/// reqwest.
async fn post(
    st: &AppState,
    direct: Option<&crate::http::upstream_http::Direct>,
    url: &str,
    headers: &[(String, String)],
    zstd: bool,
    body: Bytes,
) -> Result<Answered, String> {
    let extra = zstd.then_some(("content-encoding", "zstd"));
    if let Some((direct, uri)) =
        direct.and_then(|d| Some((d, crate::http::upstream_http::Direct::takes(url)?)))
    {
        let answer = direct.post(uri, headers, extra, body.clone()).await?;
        if !crate::http::upstream_http::is_redirect(&answer) {
            return Ok(Answered::Direct(answer));
        }
    }
    let mut rb = st.upstream().post(url);
    for (k, v) in headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    if let Some((k, v)) = extra {
        rb = rb.header(k, v);
    }
    rb.body(body)
        .send()
        .await
        .map(Answered::Http)
        .map_err(reqwest_failure)
}

/// The 400 for a model no account's catalog offers.
fn not_offered(model: &str, refused: &[(Option<String>, Vec<String>)]) -> String {
    let yours: Vec<&str> = refused.iter().filter_map(|(p, _)| p.as_deref()).collect();
    let theirs: Vec<&str> = refused
        .iter()
        .flat_map(|(_, p)| p.iter().map(String::as_str))
        .fold(Vec::new(), |mut v, p| {
            if !v.contains(&p) {
                v.push(p);
            }
            v
        });
    let on = if yours.is_empty() {
        String::new()
    } else {
        format!(" (your accounts' plans: {})", yours.join(", "))
    };
    let needs = if theirs.is_empty() {
        "it is not in their model catalog".to_owned()
    } else {
        format!("it is offered on the {} plans", theirs.join(", "))
    };
    format!(
        "model `{model}` is not available to any configured ChatGPT account{on}: {needs}. Route this model elsewhere, or add an account on such a plan."
    )
}

fn token_result(r: Result<String, TokenFailure>) -> TokenResult {
    match r {
        Ok(t) => TokenResult::Ready(t),
        Err(TokenFailure::Relogin(why)) => TokenResult::Relogin(why),
        Err(TokenFailure::Transient(why)) => TokenResult::Transient(why),
    }
}

/// Resolves once the drain time is over; never if the server's state is gone first.
fn drain_over(
    mut over: tokio::sync::watch::Receiver<bool>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if over.wait_for(|over| *over).await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

/// What the upstream link produced.
enum Upstream {
    Head(Answered),
    Bytes(Bytes),
    End,
    /// A transport failure, described without its URL.
    Broken(String),
}

/// The link's next event; never resolves while nothing is in flight.
async fn next_upstream(link: &mut Link) -> Upstream {
    match link {
        Link::Idle => std::future::pending().await,
        Link::Sending(fut) => match fut.await {
            Ok(answer) => Upstream::Head(answer),
            Err(e) => Upstream::Broken(e),
        },
        Link::Body(body) => match body.next().await {
            Some(Ok(b)) => Upstream::Bytes(b),
            Some(Err(e)) => Upstream::Broken(e),
            None => Upstream::End,
        },
    }
}

/// A transport failure in words: the client's own text, and its innermost cause
/// ("Connection refused", "received corrupt message", "connection reset"), which is what tells
/// the client and the log which failure it was.
fn failure_text(e: &(dyn std::error::Error + 'static)) -> String {
    let (what, why) = (e.to_string(), innermost(e).to_string());
    if why == what {
        what
    } else {
        format!("{what}: {why}")
    }
}

/// The last error of `e`'s chain of sources.
pub(crate) fn innermost<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause
}

/// A reqwest failure in words, without its URL.
fn reqwest_failure(e: reqwest::Error) -> String {
    failure_text(&e.without_url())
}

/// A committed stream: the driver, until the machine finishes. Dropping it (client gone)
/// drops the upstream request.
struct Live {
    drv: Driver,
    /// A step that ended a coalesced write (below), for the next call.
    held: Option<Step>,
    /// The first write (the commit's: the response's head and first token) has gone.
    started: bool,
    /// The next write gathers what is ready (`coalesce`).
    gather: bool,
    ended: bool,
}

/// The most output one coalesced write gathers.
const COALESCE_MAX: usize = 64 * 1024;
/// Yields in a row with nothing gathered before a write goes: measured, a chunk the upstream
/// connection already holds arrives within two.
const YIELDS: u32 = 2;

impl Live {
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        if self.ended {
            return None;
        }
        let step = match self.held.take() {
            Some(s) => s,
            None => self.drv.next().await,
        };
        let Step::Emit(mut out) = step else {
            self.ended = true;
            self.drv.settle();
            return None;
        };
        if self.started && self.gather {
            let alone = out.len();
            self.coalesce(&mut out).await;
            // Events that come one a read (a model's pace) gather nothing: the next write does
            // not try, the one after does again, so such a stream pays the yields half as often.
            self.gather = out.len() > alone;
        } else {
            self.gather = true;
        }
        self.started = true;
        Some((Ok(Bytes::from(out)), self))
    }

    /// Adds to `out` what the upstream connection has already read. Its task hands the
    /// body over one chunk at a time, and each chunk would otherwise become a write of its
    /// own to the client: a syscall, and on loopback the reader's wake-up, per event (about
    /// a third of the proxy's CPU for a small answer). So while the next step is not ready,
    /// the task yields (up to [`YIELDS`] times), letting the connection's task pass on a chunk
    /// it already holds; if none came, `out` goes as it is. Nothing waits for bytes not yet received, and the
    /// commit's write (the first token) is never held.
    ///
    /// Dropping the driver's `next` while it waits is safe here: after a commit the machine
    /// asks for no account, token or send (no attempt follows a commit), so its only wait is
    /// the select on the upstream body, the timer and the drain, each of which keeps its
    /// state in the driver (the driver's asks for those check it in debug builds).
    async fn coalesce(&mut self, out: &mut Vec<u8>) {
        let mut yielded = 0;
        while out.len() < COALESCE_MAX {
            let ready = {
                let mut next = std::pin::pin!(self.drv.next());
                std::future::poll_fn(|cx| std::task::Poll::Ready(next.as_mut().poll(cx))).await
            };
            match ready {
                std::task::Poll::Ready(Step::Emit(b)) => {
                    out.extend_from_slice(&b);
                    yielded = 0;
                }
                std::task::Poll::Ready(step) => {
                    self.held = Some(step);
                    return;
                }
                std::task::Poll::Pending if yielded >= YIELDS => return,
                std::task::Poll::Pending => {
                    YieldOnce(false).await;
                    yielded += 1;
                }
            }
        }
    }
}

/// Pending once, with the task woken at once: it runs again after the tasks already woken
/// (on a serving thread's runtime, the upstream connection's), without a syscall. (tokio's
/// `yield_now` defers the wake until the runtime has polled its driver: an `epoll_wait` per
/// yield.)
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let m = &self.drv.st.metrics;
        m.open_streams.dec();
        m.duration.observe(self.drv.started.elapsed().as_secs_f64());
    }
}
