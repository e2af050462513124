//! The HTTP server: shared state, request log, routing by path, response helpers.

use crate::jwt::{self, Identity};
use crate::util::{Rng, now_secs};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Behaviour knobs of a [`FakeServer`].
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// `(access token, account id)` pairs the Codex fake accepts. Empty = any Bearer token is
    /// accepted (tokens minted by the fake are still checked against their account id).
    pub valid_tokens: Vec<(String, String)>,
    /// Lifetime (seconds) of minted tokens: JWT `exp` and the token endpoint's `expires_in`.
    pub expires_in: u64,
    /// Delay before `/oauth/token` answers a refresh (lets tests prove single-flight refresh).
    pub refresh_delay_ms: u64,
    /// How long `stall` / `stall_before_headers` stay silent.
    pub stall_secs: u64,
    /// Gap between deltas in `slow_drip` and `seq_drip`.
    pub drip_ms: u64,
    /// Deltas in `seq_drip` (`"0 "`, `"1 "`, … up to this count minus one).
    pub seq_total: u64,
    /// Model the backend's prompt cache: `usage.input_tokens` is the request's prefix size and
    /// `cached_tokens` the part it shares with the last request on the same cache slot (see
    /// the README); off: the scenarios' fixed usage.
    pub prompt_cache: bool,
    /// Refuse `content-encoding: zstd` request bodies with this status (`{"detail":
    /// "Unsupported Content-Encoding: zstd"}`, the fake's own wording), as a backend without
    /// it would; `None`: decode them (the Codex CLI sends them to the ChatGPT backend).
    pub refuse_zstd: Option<u16>,
    /// Refuse the WebSocket upgrade of `/codex/responses` with this status (426: a backend
    /// without the WebSocket transport); `None`: upgrade.
    pub refuse_websocket: Option<u16>,
    /// The client's uplink: a `/codex/responses` request body or socket message of N bytes is
    /// answered only after N × 8 / this many microseconds more (20 Mbit/s: a home connection),
    /// as if it had taken that long to arrive. `None`: loopback speed.
    pub upload_bits_per_sec: Option<u64>,
    /// The model's time to its first event once a `/codex/responses` request is in (what a
    /// real backend needs to start answering); 0: at once.
    pub think_ms: u64,
    /// The socket continues Responses Lite turns too (`previous_response_id`); off: it refuses
    /// them, as codex-rs's never sending one suggests (codex.md §9.2).
    pub lite_continuation: bool,
    /// The socket upgrades but answers every turn with an `error` frame (a backend, or a
    /// proxy in the way, that speaks the transport differently).
    pub refuse_ws_turns: bool,
    /// Answer every HTTP request with `connection: close`, so that each request needs a new
    /// connection (a backend or middlebox that does not keep connections alive); off: keep
    /// them alive, as the real backend does.
    pub close_connections: bool,
}

impl Default for FakeConfig {
    fn default() -> FakeConfig {
        FakeConfig {
            valid_tokens: Vec::new(),
            expires_in: 864_000,
            refresh_delay_ms: 0,
            stall_secs: 30,
            drip_ms: 50,
            seq_total: 100,
            prompt_cache: false,
            refuse_zstd: None,
            refuse_websocket: None,
            upload_bits_per_sec: None,
            think_ms: 0,
            lite_continuation: false,
            refuse_ws_turns: false,
            close_connections: false,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Logged {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path with query string, e.g. `/backend-api/codex/models?client_version=1.0`.
    pub path: String,
    /// Request headers; names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The raw request body.
    pub body: Bytes,
    /// The scenario that was played (`None` when the request was rejected before a scenario
    /// ran, or for endpoints without scenarios).
    pub scenario: Option<String>,
    /// Status code the fake answered with.
    pub status: u16,
    /// Codex: `Some(true)` when the `session_id` header equals the body's `prompt_cache_key`,
    /// `Some(false)` when only one of them is present or they differ, `None` when neither is.
    pub session_matches_cache_key: Option<bool>,
    /// Codex: names of request tools that did not say `"strict": false` explicitly.
    pub tools_without_strict: Vec<String>,
    /// Chat: `Authorization` was exactly `Bearer anonymous`.
    pub anonymous_auth: bool,
    /// Chat: an `X-KiloCode-MachineId` header was present.
    pub machine_id: bool,
    /// Bytes of the body as it came over the wire (compressed or not); `body` is decoded.
    pub wire_bytes: usize,
    /// A turn that came by WebSocket: how many input items its message carried (the body
    /// logged is the full request the backend rebuilt from its continuation).
    pub ws_items: Option<usize>,
}

impl Logged {
    /// First header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    pub(crate) account_id: String,
    pub(crate) email: Option<String>,
    /// Unix seconds; `None` = never expires (configured tokens).
    pub(crate) exp: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshInfo {
    pub(crate) identity: Identity,
    pub(crate) used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct CodeInfo {
    pub(crate) challenge: String,
    pub(crate) redirect_uri: String,
    pub(crate) identity: Identity,
    pub(crate) used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct DeviceInfo {
    pub(crate) user_code: String,
    pub(crate) polls: u32,
    pub(crate) identity: Identity,
    /// `(authorization_code, code_verifier, code_challenge)` once granted.
    pub(crate) granted: Option<(String, String, String)>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) log: Vec<Logged>,
    pub(crate) disconnects: Vec<(String, Duration)>,
    pub(crate) refresh_calls: usize,
    pub(crate) tokens: HashMap<String, TokenInfo>,
    pub(crate) refresh: HashMap<String, RefreshInfo>,
    pub(crate) codes: HashMap<String, CodeInfo>,
    pub(crate) devices: HashMap<String, DeviceInfo>,
    pub(crate) encrypted: HashSet<String>,
    pub(crate) once_seen: HashSet<String>,
    /// Plan of each account id (`plus` when not set): the model catalog depends on it.
    pub(crate) plans: HashMap<String, String>,
    /// The model catalog's revision: its ETag, and `x-models-etag` on `/responses`.
    pub(crate) catalog_revision: u32,
    /// The prompt-cache model: the last prefix seen on each cache slot
    /// (account, `prompt_cache_key`, `session_id` header).
    pub(crate) cache_slots: HashMap<(String, String, String), String>,
    /// Continuations refused with `Invalid previous_response_id.`.
    pub(crate) ws_refused: usize,
}

pub(crate) struct Shared {
    pub(crate) cfg: FakeConfig,
    /// Any Bearer accepted (config had no tokens).
    pub(crate) open_auth: bool,
    inner: Mutex<Inner>,
    rng: Mutex<Rng>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh PRNG forked from the server's (so streams can own one).
    pub(crate) fn rng(&self) -> Rng {
        let mut g = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        Rng::seeded(g.next_u64())
    }

    /// Mint and register a token set; returns `(access, refresh, id_token)`.
    pub(crate) fn mint(&self, identity: &Identity) -> (String, String, String) {
        let mut rng = self.rng();
        let exp = self.cfg.expires_in;
        let access = jwt::access_token(identity, exp, &mut rng);
        let refresh = jwt::refresh_token(&mut rng);
        let id = jwt::id_token(identity, exp, &mut rng);
        let mut g = self.lock();
        g.tokens.insert(
            access.clone(),
            TokenInfo {
                account_id: identity.account_id.clone(),
                email: Some(identity.email.clone()),
                exp: Some(now_secs() + exp),
            },
        );
        g.refresh.insert(
            refresh.clone(),
            RefreshInfo {
                identity: identity.clone(),
                used: false,
            },
        );
        (access, refresh, id)
    }

    pub(crate) fn push_log(&self, entry: Logged) {
        self.lock().log.push(entry);
    }

    /// Codex-style auth: `Ok(token info if known)` or `Err(())` for a 401.
    pub(crate) fn check_bearer(&self, headers: &HeaderMap) -> Result<Option<TokenInfo>, ()> {
        let token = header_str(headers, "authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(())?;
        let account = header_str(headers, "chatgpt-account-id");
        let known = self.lock().tokens.get(token).cloned();
        match known {
            Some(info) => {
                if info.exp.is_some_and(|e| now_secs() >= e) {
                    return Err(());
                }
                if account != Some(info.account_id.as_str()) {
                    return Err(());
                }
                Ok(Some(info))
            }
            None if self.open_auth => Ok(None),
            None => Err(()),
        }
    }
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A running fake upstream (Codex backend + OAuth issuer + Chat Completions) on 127.0.0.1.
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    /// `start_apart`'s thread runs until this is dropped.
    _apart: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeServer {
    /// Bind `127.0.0.1:0` and serve on the current tokio runtime.
    pub async fn start(cfg: FakeConfig) -> std::io::Result<FakeServer> {
        FakeServer::start_on(cfg, 0).await
    }

    /// Bind `127.0.0.1:port` (0 = any free port) and serve on the current tokio runtime.
    pub async fn start_on(cfg: FakeConfig, port: u16) -> std::io::Result<FakeServer> {
        // A backlog as deep as the kernel allows: a load test opens 1,000 upstream
        // connections at once, and tokio's default (1,024) dropped some (a 1 s SYN retry).
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind((std::net::Ipv4Addr::LOCALHOST, port).into())?;
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let mut inner = Inner::default();
        for (token, account) in &cfg.valid_tokens {
            inner.tokens.insert(
                token.clone(),
                TokenInfo {
                    account_id: account.clone(),
                    email: None,
                    exp: None,
                },
            );
        }
        let shared = Arc::new(Shared {
            open_auth: cfg.valid_tokens.is_empty(),
            cfg,
            inner: Mutex::new(inner),
            rng: Mutex::new(Rng::seeded(u64::from(addr.port()))),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        // Small SSE writes go out at once, as a real backend's do (without it, Nagle holds
        // a stream's last chunk until the client's delayed ACK, ~40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeServer {
            addr,
            shared,
            task,
            _apart: None,
        })
    }

    /// Bind `127.0.0.1:0` and serve on a thread of its own, with a runtime of its own, as a
    /// real upstream is another process. On a client's own runtime, the client's and the
    /// fake's tasks hand a request over without a thread ever going to sleep, so a "direct"
    /// first-token time measured that way lacks the two wake-ups every real upstream costs,
    /// and a proxy's added time would be charged with them (`proxy-load --perf`).
    pub fn start_apart(cfg: FakeConfig) -> std::io::Result<FakeServer> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("fake".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let (stop, stopped) = tokio::sync::oneshot::channel();
                    let started = FakeServer::start(cfg).await.map(|mut f| {
                        f._apart = Some(stop);
                        f
                    });
                    if tx.send(started).is_ok() {
                        let _ = stopped.await;
                    }
                });
            })?;
        rx.recv()
            .map_err(|_| std::io::Error::other("the fake's thread ended"))?
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Logged> {
        self.shared.lock().log.clone()
    }

    /// Number of requests whose path starts with `path_prefix`.
    pub fn count(&self, path_prefix: &str) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|l| l.path.starts_with(path_prefix))
            .count()
    }

    /// Continuations the WebSocket refused (`Invalid previous_response_id.`).
    pub fn ws_refused(&self) -> usize {
        self.shared.lock().ws_refused
    }

    /// Forget the requests and disconnects logged so far (a long load run would otherwise
    /// keep every request it made).
    pub fn forget_requests(&self) {
        let mut g = self.shared.lock();
        g.log = Vec::new();
        g.disconnects = Vec::new();
    }

    /// Responses the client abandoned: `(scenario, time from request start to the drop)`.
    pub fn disconnects(&self) -> Vec<(String, Duration)> {
        self.shared.lock().disconnects.clone()
    }

    /// Calls of `/oauth/token` with `grant_type=refresh_token` (counted on arrival).
    pub fn refresh_calls(&self) -> usize {
        self.shared.lock().refresh_calls
    }

    /// Accept another access token (never expires) for `account_id`.
    pub fn add_token(&self, access: &str, account_id: &str) {
        self.shared.lock().tokens.insert(
            access.to_string(),
            TokenInfo {
                account_id: account_id.to_string(),
                email: None,
                exp: None,
            },
        );
    }

    /// Put an account on a plan (`free`, `plus`, `pro`…): its model catalog follows.
    pub fn set_plan(&self, account_id: &str, plan: &str) {
        self.shared
            .lock()
            .plans
            .insert(account_id.to_string(), plan.to_string());
    }

    /// Publish a new catalog revision: a new ETag, announced by `x-models-etag` on every
    /// `/responses` answer, and (from revision 2) `gpt-5.6-terra` in the catalog.
    pub fn set_catalog_revision(&self, revision: u32) {
        self.shared.lock().catalog_revision = revision;
    }

    /// Mint a valid `(access, refresh, id_token)` set; the refresh token is usable once.
    pub fn issue_tokens(&self, account_id: &str, email: &str) -> (String, String, String) {
        self.shared.mint(&Identity {
            account_id: account_id.to_string(),
            email: email.to_string(),
        })
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a handler saw: parsed once, logged once.
pub(crate) struct Req {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) start: Instant,
    /// The body's size on the wire.
    pub(crate) wire_bytes: usize,
    /// See [`Logged::ws_items`].
    pub(crate) ws_items: Option<usize>,
}

impl Req {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header_str(&self.headers, name)
    }

    pub(crate) fn log_entry(&self, status: u16) -> Logged {
        Logged {
            method: self.method.to_string(),
            path: if self.query.is_empty() {
                self.path.clone()
            } else {
                format!("{}?{}", self.path, self.query)
            },
            headers: self
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: self.body.clone(),
            scenario: None,
            status,
            session_matches_cache_key: None,
            tools_without_strict: Vec::new(),
            anonymous_auth: false,
            machine_id: false,
            wire_bytes: self.wire_bytes,
            ws_items: self.ws_items,
        }
    }
}

/// A `content-encoding: zstd` body decoded in place (what the backend reads), or the refusal
/// (a refusing fake, an unknown encoding, or bytes that do not decode).
fn decode_body(shared: &Shared, req: &mut Req) -> Option<Response> {
    let encoding = req.header("content-encoding")?.trim().to_ascii_lowercase();
    let refuse = |status: u16, detail: String| {
        Some(logged(
            shared,
            req,
            status,
            serde_json::json!({"detail": detail}),
        ))
    };
    if encoding != "zstd" {
        return refuse(415, format!("Unsupported Content-Encoding: {encoding}"));
    }
    if let Some(status) = shared.cfg.refuse_zstd {
        return refuse(status, "Unsupported Content-Encoding: zstd".into());
    }
    match zstd::stream::decode_all(&req.body[..]) {
        Ok(plain) => {
            req.body = Bytes::from(plain);
            None
        }
        Err(e) => refuse(400, format!("Could not decode the zstd body: {e}")),
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let close = shared.cfg.close_connections;
    let mut resp = route(shared, request).await;
    if close {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

async fn route(shared: Arc<Shared>, request: Request) -> Response {
    let start = Instant::now();
    if crate::codex_ws::is_upgrade(request.headers())
        && request.uri().path().trim_end_matches('/') == "/backend-api/codex/responses"
    {
        use axum::extract::FromRequestParts;
        use axum::response::IntoResponse;
        let (mut parts, _) = request.into_parts();
        return match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &shared)
            .await
        {
            Ok(ws) => crate::codex_ws::upgrade(shared, ws, parts.headers),
            Err(rejection) => rejection.into_response(),
        };
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, 256 << 20).await {
        Ok(b) => b,
        Err(_) => return json_response(400, &serde_json::json!({"detail": "Bad body"})),
    };
    let wire_bytes = body.len();
    let mut req = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
        start,
        wire_bytes,
        ws_items: None,
    };
    if let Some(refused) = decode_body(&shared, &mut req) {
        return refused;
    }
    let get = req.method == Method::GET;
    let post = req.method == Method::POST;
    let path = req.path.trim_end_matches('/');
    match path {
        "/backend-api/codex/responses" if post => {
            crate::codex_ws::throttle(&shared, req.wire_bytes).await;
            crate::codex::responses(&shared, req).await
        }
        "/backend-api/wham/usage" | "/backend-api/codex/usage" if get => {
            crate::codex::usage(&shared, &req)
        }
        "/backend-api/codex/models" if get => crate::codex::models(&shared, &req),
        "/oauth/authorize" if get => crate::oauth::authorize(&shared, &req),
        "/oauth/token" if post => crate::oauth::token(&shared, &req).await,
        "/oauth/revoke" if post => logged(&shared, &req, 200, serde_json::json!({})),
        "/api/accounts/deviceauth/usercode" if post => crate::oauth::device_usercode(&shared, &req),
        "/api/accounts/deviceauth/token" if post => crate::oauth::device_token(&shared, &req),
        "/v1/chat/completions" | "/api/openrouter/chat/completions" if post => {
            crate::chat::completions(&shared, req).await
        }
        "/api/openrouter/models" | "/v1/models" if get => crate::chat::models(&shared, &req),
        _ => logged(
            &shared,
            &req,
            404,
            serde_json::json!({"detail": "Not Found"}),
        ),
    }
}

/// Log the request with `status` and answer `body` as JSON.
pub(crate) fn logged(shared: &Shared, req: &Req, status: u16, body: Value) -> Response {
    shared.push_log(req.log_entry(status));
    json_response(status, &body)
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn set_header(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// One step of a scripted response body.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send these bytes as one chunk.
    Data(Bytes),
    /// Send nothing for this long.
    Sleep(Duration),
    /// Close the connection without finishing the body (no terminal chunk).
    Abort,
}

/// Records a disconnect if the body is dropped before the script ran to its end.
struct DisconnectGuard {
    shared: Arc<Shared>,
    scenario: String,
    start: Instant,
    done: bool,
}

impl DisconnectGuard {
    fn disarm(&mut self) {
        self.done = true;
    }
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        if !self.done {
            let elapsed = self.start.elapsed();
            self.shared
                .lock()
                .disconnects
                .push((std::mem::take(&mut self.scenario), elapsed));
        }
    }
}

pub(crate) fn scripted_body(
    shared: &Arc<Shared>,
    scenario: &str,
    start: Instant,
    steps: Vec<Step>,
) -> Body {
    struct Player {
        steps: std::collections::VecDeque<Step>,
        guard: DisconnectGuard,
    }
    let player = Player {
        steps: steps.into(),
        guard: DisconnectGuard {
            shared: shared.clone(),
            scenario: scenario.to_string(),
            start,
            done: false,
        },
    };
    let stream = futures_util::stream::unfold(player, |mut p| async move {
        loop {
            match p.steps.pop_front() {
                None => {
                    p.guard.disarm();
                    return None;
                }
                Some(Step::Data(b)) => return Some((Ok::<Bytes, std::io::Error>(b), p)),
                Some(Step::Sleep(d)) => tokio::time::sleep(d).await,
                Some(Step::Abort) => {
                    // Let hyper flush what was sent so far, then cut the connection.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    p.guard.disarm();
                    return Some((Err(std::io::Error::other("fake: connection dropped")), p));
                }
            }
        }
    });
    Body::from_stream(stream)
}

/// Wait `dur` before answering; if the client goes away meanwhile, record a disconnect.
pub(crate) async fn stall_before_headers(
    shared: &Arc<Shared>,
    scenario: &str,
    start: Instant,
    dur: Duration,
) {
    let mut guard = DisconnectGuard {
        shared: shared.clone(),
        scenario: scenario.to_string(),
        start,
        done: false,
    };
    tokio::time::sleep(dur).await;
    guard.disarm();
}
