//! Admin routes. They refuse cross-site requests: a browser page on another origin cannot
//! drive them (Origin must be this proxy's own, or absent as from curl), and JSON bodies only.

use crate::http::state::{ApiError, AppState, error_response};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use proxy_core::ErrorType;
use proxy_core::providers::{FreeModel, fallback_free_models, parse_free_models};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a discovered model list is reused.
const TTL: Duration = Duration::from_secs(600);

/// Cached Kilo free-model discovery.
#[derive(Default)]
pub struct KiloModels {
    cache: Mutex<Option<(Instant, Vec<FreeModel>)>>,
}

impl KiloModels {
    /// The free models and where the list came from (`live`, `cache` or `fallback`).
    pub async fn get(&self, st: &AppState) -> (Vec<FreeModel>, &'static str) {
        let mut cache = self.cache.lock().await;
        if let Some((at, list)) = cache.as_ref()
            && at.elapsed() < TTL
        {
            return (list.clone(), "cache");
        }
        let cfg = st.cfg();
        let Some(kilo) = cfg.providers.iter().find(|p| p.name == "kilo") else {
            return (fallback_free_models(), "fallback");
        };
        let url = format!("{}/models", kilo.base_url.trim_end_matches('/'));
        let fetched = async {
            let r = st
                .client
                .get(url)
                .header("http-referer", "https://kilo.ai")
                .header("x-kilocode-machineid", &st.machine_id)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .ok()?;
            if !r.status().is_success() {
                return None;
            }
            parse_free_models(&r.text().await.ok()?).filter(|l| !l.is_empty())
        }
        .await;
        match fetched {
            Some(list) => {
                *cache = Some((Instant::now(), list.clone()));
                (list, "live")
            }
            None => (fallback_free_models(), "fallback"),
        }
    }
}

/// Refuse requests a foreign web page could make.
pub fn same_origin(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    // DNS rebinding: a foreign name resolving to 127.0.0.1 still sends its own Host.
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let host_name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let host_ok = host.is_empty()
        || ["127.0.0.1", "localhost", "[::1]", st.cfg().host.as_str()].contains(&host_name);
    if !host_ok {
        return Err(ApiError::new(
            ErrorType::PermissionError,
            "admin routes answer only to the proxy's own host name",
        ));
    }
    let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
        return Ok(());
    };
    // The page's own origin is this very host and port (the Host header, checked above; the
    // port may have been chosen by the OS).
    let ok = !host.is_empty() && origin == format!("http://{host}");
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorType::PermissionError,
            "cross-origin requests to admin routes are refused",
        ))
    }
}

/// `GET /kilo/models`: Kilo's free models (discovered, cached, or the fallback list).
pub async fn kilo_models(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let (models, source) = st.kilo.get(&st).await;
    axum::Json(json!({"source": source, "models": models})).into_response()
}

use crate::clock::now_secs;
use axum::Json;
use axum::body::Bytes;
use axum::extract::Path as UrlPath;
use serde_json::Value;
use std::collections::HashMap;

/// A sign-in started through the admin API.
pub struct PendingLogin {
    pending: crate::accounts::login::Pending,
    status: LoginStatus,
}

/// Sign-ins in progress, by `state`.
#[derive(Default)]
pub struct Logins {
    map: std::sync::Mutex<HashMap<String, PendingLogin>>,
    /// The browser sign-in whose callback server holds the port, if any.
    callback: std::sync::Mutex<Option<(String, tokio::task::AbortHandle)>>,
}

pub(crate) fn guard(
    st: &AppState,
    headers: &HeaderMap,
    body: Option<&Bytes>,
) -> Result<(), ApiError> {
    // The client key (required on any non-loopback bind) guards admin routes too: a Host
    // header proves nothing to a non-browser client.
    crate::http::state::authorized(&st.cfg(), headers)?;
    same_origin(st, headers)?;
    if let Some(b) = body
        && !b.is_empty()
    {
        let json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::new(
                ErrorType::InvalidRequestError,
                "admin routes take application/json bodies only",
            ));
        }
    }
    Ok(())
}

fn body_json(b: &Bytes) -> Value {
    serde_json::from_slice(b).unwrap_or(Value::Null)
}

pub(crate) fn ok(v: Value) -> Response {
    Json(v).into_response()
}

pub(crate) fn bad(ty: ErrorType, msg: &str) -> Response {
    error_response(ty, msg, None)
}

/// `GET /accounts`: every account, no secrets.
pub async fn list_accounts(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    ok(json!({"accounts": st.pool.summaries(now_secs()), "strategy": st.pool.strategy()}))
}

/// `POST /accounts/import` (`{"path": …}` optional).
pub async fn import_accounts(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&st, &headers, Some(&body)) {
        return e.into_response();
    }
    let path = body_json(&body)
        .get("path")
        .and_then(Value::as_str)
        .map(std::path::PathBuf::from);
    if let Some(p) = &path {
        let ok = std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() <= 1024 * 1024);
        if !ok {
            return bad(
                ErrorType::InvalidRequestError,
                "path: must name a regular credentials file of at most 1 MiB",
            );
        }
    }
    let cfg = st.cfg();
    let report = tokio::task::spawn_blocking(move || {
        crate::accounts::import::import_report(&cfg, path.as_deref())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    match report {
        Ok((lines, errors)) => {
            crate::http::state::reload_accounts(&st).await;
            ok(
                json!({"report": lines, "errors": errors, "accounts": st.pool.summaries(now_secs())}),
            )
        }
        Err(e) => bad(ErrorType::NotFoundError, &e),
    }
}

async fn finish_login(
    st: Arc<AppState>,
    result: Result<crate::accounts::store::StoredAccount, crate::accounts::login::LoginError>,
    status: &std::sync::Mutex<(String, String)>,
) {
    let outcome = match result {
        Ok(a) => {
            // Saved under the accounts' file lock: off the serving thread.
            let (dir, acct) = (st.cfg().data_dir.clone(), a.clone());
            let saved = blocking(move || {
                crate::accounts::store::Store::open(&dir)
                    .and_then(|s| crate::accounts::import::save(&s, &acct))
            })
            .await;
            match saved {
                Ok(_) => {
                    crate::http::state::reload_accounts(&st).await;
                    ("done".to_owned(), a.email.unwrap_or(a.account_id))
                }
                Err(e) => ("failed".to_owned(), format!("cannot save: {e}")),
            }
        }
        Err(e) => ("failed".to_owned(), e.to_string()),
    };
    *status.lock().unwrap_or_else(|e| e.into_inner()) = outcome;
}

/// `POST /accounts/add`: start a browser sign-in; the proxy listens for the callback
/// (`{"callback_port": N}` optional) and finishes by itself. Poll `GET /accounts/login/{state}`.
pub async fn add_account(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&st, &headers, Some(&body)) {
        return e.into_response();
    }
    let b = body_json(&body);
    // `"listen": false`: the user will paste where the browser was sent (a headless machine),
    // so no callback server takes a port (one may be taken by another proxy or the Codex CLI).
    if b.get("listen") == Some(&Value::Bool(false)) {
        return start_pasted_login(&st);
    }
    let port = b
        .get("callback_port")
        .and_then(Value::as_u64)
        .map(|p| p as u16);
    // A newer sign-in replaces an unfinished one: its callback server gives the port back.
    let previous = st
        .logins
        .callback
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let mut listener = None;
    if let Some((old_state, h)) = previous {
        h.abort();
        if let Some(l) = st
            .logins
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&old_state)
        {
            *l.status.lock().unwrap_or_else(|e| e.into_inner()) =
                ("failed".into(), "superseded by a newer sign-in".into());
        }
    }
    for _ in 0..25 {
        match crate::accounts::login::bind_callback(port).await {
            Ok(l) => {
                listener = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let listener = match listener {
        Some(l) => l,
        None => match crate::accounts::login::bind_callback(port).await {
            Ok(l) => l,
            Err(e) => return bad(ErrorType::ApiError, &e.0),
        },
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(1455);
    let pending =
        match crate::accounts::login::start(&st.cfg().oauth_issuer, port, !st.pool.is_empty()) {
            Ok(p) => p,
            Err(e) => return bad(ErrorType::ApiError, &e.0),
        };
    let (verifier, redirect) = (pending.pkce.verifier.clone(), pending.redirect_uri.clone());
    let (state, url, status) = register_login(&st, pending);
    let st2 = st.clone();
    let expected = state.clone();
    let task = tokio::spawn(async move {
        let result =
            match crate::accounts::login::wait_callback(listener, Duration::from_secs(600)).await {
                Ok((_, got)) if got != expected => {
                    Err(crate::accounts::login::LoginError("state mismatch".into()))
                }
                Ok((code, _)) => {
                    crate::accounts::login::exchange(
                        &st2.client,
                        &st2.cfg().oauth_issuer,
                        &code,
                        &redirect,
                        &verifier,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
        finish_login(st2, result, &status).await;
    });
    *st.logins.callback.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((state.clone(), task.abort_handle()));
    ok(json!({"url": url, "state": state}))
}

/// A sign-in finished by `POST /accounts/add/manual`: the redirect names the registered
/// callback port, which nothing here listens on.
fn start_pasted_login(st: &AppState) -> Response {
    let port = crate::accounts::login::CALLBACK_PORTS[0];
    let pending =
        match crate::accounts::login::start(&st.cfg().oauth_issuer, port, !st.pool.is_empty()) {
            Ok(p) => p,
            Err(e) => return bad(ErrorType::ApiError, &e.0),
        };
    let (state, url, _) = register_login(st, pending);
    ok(json!({"url": url, "state": state}))
}

/// Keep a started sign-in under its `state`, for the callback or the pasted address to
/// finish; its state, sign-in URL and status cell.
fn register_login(
    st: &AppState,
    pending: crate::accounts::login::Pending,
) -> (String, String, LoginStatus) {
    let (state, url) = (pending.state.clone(), pending.url.clone());
    let status: LoginStatus =
        Arc::new(std::sync::Mutex::new(("pending".to_owned(), String::new())));
    keep_login(st, state.clone(), pending, status.clone());
    (state, url, status)
}

/// Keep a sign-in in progress under `state`, for `GET /accounts/login/{state}` to report.
fn keep_login(
    st: &AppState,
    state: String,
    pending: crate::accounts::login::Pending,
    status: LoginStatus,
) {
    st.logins
        .map
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(state, PendingLogin { pending, status });
}

/// A sign-in's `(status, detail)`.
type LoginStatus = Arc<std::sync::Mutex<(String, String)>>;

/// `POST /accounts/add/manual`: finish a sign-in with the pasted callback URL or code
/// (`{"callback": "…", "state": "…"}`).
pub async fn add_manual(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&st, &headers, Some(&body)) {
        return e.into_response();
    }
    let b = body_json(&body);
    let pasted = b
        .get("callback")
        .or_else(|| b.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let (code, state) = crate::accounts::login::parse_pasted(pasted);
    let Some(state) = state.or_else(|| b.get("state").and_then(Value::as_str).map(str::to_owned))
    else {
        return bad(
            ErrorType::InvalidRequestError,
            "state: field required (or paste the whole callback URL)",
        );
    };
    let entry = st
        .logins
        .map
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&state);
    let Some(login) = entry else {
        return bad(
            ErrorType::NotFoundError,
            "no sign-in in progress with that state",
        );
    };
    let result = crate::accounts::login::exchange(
        &st.client,
        &st.cfg().oauth_issuer,
        &code,
        &login.pending.redirect_uri,
        &login.pending.pkce.verifier,
    )
    .await;
    finish_login(st.clone(), result, &login.status).await;
    let (status, detail) = login
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    ok(json!({"status": status, "detail": detail}))
}

/// `GET /accounts/login/{state}`: a sign-in's progress.
pub async fn login_status(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    UrlPath(state): UrlPath<String>,
) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let mut map = st.logins.map.lock().unwrap_or_else(|e| e.into_inner());
    let found = map
        .get(&state)
        .map(|l| l.status.lock().unwrap_or_else(|e| e.into_inner()).clone());
    match found {
        Some((status, detail)) => {
            if status != "pending" {
                // Reported once: a finished sign-in is forgotten.
                map.remove(&state);
            }
            ok(json!({"status": status, "detail": detail}))
        }
        None => bad(ErrorType::NotFoundError, "no sign-in with that state"),
    }
}

/// `DELETE /accounts/{id}`.
pub async fn remove_account(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let dir = st.cfg().data_dir.clone();
    let id2 = id.clone();
    let r = blocking(move || {
        crate::accounts::store::Store::open(&dir).and_then(|s| {
            let l = s.lock()?;
            s.remove(&l, &id2)
        })
    })
    .await;
    match r {
        Ok(true) => {
            crate::http::state::reload_accounts(&st).await;
            ok(json!({"removed": id}))
        }
        Ok(false) => bad(ErrorType::NotFoundError, "no such account"),
        Err(e) => bad(ErrorType::ApiError, &e.to_string()),
    }
}

/// `POST /accounts/{id}/refresh`.
pub async fn refresh_account(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let Some(slot) = st.pool.all().into_iter().find(|s| s.id() == id) else {
        return bad(ErrorType::NotFoundError, "no such account");
    };
    let token = slot.snapshot().access_token;
    match st.pool.refresh(&slot, Some(&token), now_secs()).await {
        Ok(()) => ok(json!({"refreshed": id})),
        Err(crate::accounts::TokenFailure::Relogin(r)) => bad(
            ErrorType::AuthenticationError,
            &format!("re-login needed: {r}"),
        ),
        Err(crate::accounts::TokenFailure::Transient(m)) => bad(ErrorType::ApiError, &m),
    }
}

/// `GET /settings/account-strategy` and `POST` with `{"strategy": "round-robin"}`.
pub async fn strategy(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    method: axum::http::Method,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&st, &headers, Some(&body)) {
        return e.into_response();
    }
    if method == axum::http::Method::POST {
        let want = body_json(&body)
            .get("strategy")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match want.parse::<proxy_core::accounts::Strategy>() {
            Ok(s) => {
                let st2 = st.clone();
                if let Err(e) = blocking(move || st2.pool.set_strategy(s)).await {
                    return bad(ErrorType::ApiError, &e.to_string());
                }
            }
            Err(e) => return bad(ErrorType::InvalidRequestError, &e),
        }
    }
    ok(json!({"strategy": st.pool.strategy()}))
}

/// File work (locks, fsync) off the async runtime's threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

/// `GET /logs`: the kept request log entries, oldest first.
pub async fn logs(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    ok(json!({"entries": st.logs.recent()}))
}

/// `GET /logs/stream`: new request log entries as server-sent events (`event: request`), with
/// a keep-alive comment every 15 s; a follower too slow to keep up is told how many it missed.
pub async fn logs_stream(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    use tokio::sync::broadcast::error::RecvError;
    let rx = st.logs.follow();
    // A follower never ends by itself: a shutdown's drain ends it.
    let over = st.drain_over.subscribe();
    let frames = futures_util::stream::unfold((rx, over), |(mut rx, mut over)| async move {
        let frame = tokio::select! {
            _ = over.wait_for(|o| *o) => return None,
            r = tokio::time::timeout(Duration::from_secs(15), rx.recv()) => match r {
                Err(_) => ": keep-alive\n\n".to_owned(),
                Ok(Ok(entry)) => format!("event: request\ndata: {entry}\n\n"),
                Ok(Err(RecvError::Lagged(n))) => format!(": missed {n} entries\n\n"),
                Ok(Err(RecvError::Closed)) => return None,
            },
        };
        Some((Ok::<_, std::io::Error>(Bytes::from(frame)), (rx, over)))
    });
    let mut r = Response::new(axum::body::Body::from_stream(frames));
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    r
}

/// `GET /settings/haiku-model` and `POST` with `{"haikuModel": "gpt-5.4-mini"}` (or `"model"`;
/// `null` or `""` goes back to the routing table): where haiku requests go, as the Node
/// version's setting did. The answer shows the route that haiku ids now take.
pub async fn haiku_model(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    method: axum::http::Method,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&st, &headers, Some(&body)) {
        return e.into_response();
    }
    if method == axum::http::Method::POST {
        let v = body_json(&body);
        let given = v.get("haikuModel").or_else(|| v.get("model"));
        let want = match given {
            None => {
                return bad(
                    ErrorType::InvalidRequestError,
                    "haikuModel: expected a model id, or null to use the routing table",
                );
            }
            Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) if s.len() <= 200 && !s.chars().any(char::is_control) => {
                Some(s.trim().to_owned())
            }
            Some(_) => {
                return bad(
                    ErrorType::InvalidRequestError,
                    "haikuModel: expected a model id of at most 200 characters, or null",
                );
            }
        };
        let st2 = st.clone();
        if let Err(e) = blocking(move || st2.settings.set_haiku_model(want)).await {
            return bad(ErrorType::ApiError, &e.to_string());
        }
    }
    let route = st.route("claude-haiku-4-5");
    ok(json!({
        "haikuModel": st.settings.haiku_model(),
        "route": {"lane": route.lane, "provider": route.provider, "model": route.model},
    }))
}

/// `GET /claude/config`: Claude Code's env keys (secrets masked).
pub async fn claude_config(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let path = crate::claude_setup::claude_settings_path();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let env: serde_json::Map<String, Value> = crate::http::dashboard::masked(v)
        .get("env")
        .and_then(Value::as_object)
        .map(|e| {
            e.iter()
                .filter(|(k, _)| k.starts_with("ANTHROPIC_") || k.starts_with("CLAUDE_"))
                .map(|(k, val)| (k.clone(), val.clone()))
                .collect()
        })
        .unwrap_or_default();
    ok(json!({"path": path, "env": env}))
}

async fn claude_write(
    st: Arc<AppState>,
    headers: HeaderMap,
    body: Bytes,
    direct: bool,
) -> Response {
    if let Err(e) = guard(&st, &headers, Some(&body)) {
        return e.into_response();
    }
    // The address this request reached is the one Claude Code can reach too (the guard has
    // checked it is this proxy's own host name).
    let base = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"));
    match crate::claude_setup::setup(&st.cfg(), direct, base) {
        Ok(r) => ok(json!({
            "path": r.path, "backup": r.backup,
            "changes": r.changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })),
        Err(e) => bad(ErrorType::ApiError, &e),
    }
}

/// `POST /claude/config/proxy`.
pub async fn claude_proxy(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    claude_write(st, headers, body, false).await
}

/// `POST /claude/config/direct`.
pub async fn claude_direct(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    claude_write(st, headers, body, true).await
}

/// `POST /accounts/device`: start a device-code sign-in; answers the URL and code to show,
/// and a `state` to poll at `GET /accounts/login/{state}`.
pub async fn add_device(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&st, &headers, Some(&body)) {
        return e.into_response();
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<(String, String)>();
    let status: LoginStatus =
        Arc::new(std::sync::Mutex::new(("pending".to_owned(), String::new())));
    let mut id = [0u8; 16];
    let _ = getrandom::fill(&mut id);
    let state = proxy_core::hex::encode(&id);
    let st2 = st.clone();
    let status2 = status.clone();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        let result = crate::accounts::login::device_login(
            &st2.client,
            &st2.cfg().oauth_issuer,
            |url, code| {
                if let Some(tx) = tx.take() {
                    let _ = tx.send((url.to_owned(), code.to_owned()));
                }
            },
            || {},
        )
        .await;
        finish_login(st2, result, &status2).await;
    });
    let pending = match crate::accounts::login::start(&st.cfg().oauth_issuer, 1455, false) {
        Ok(p) => p,
        Err(e) => return bad(ErrorType::ApiError, &e.0),
    };
    keep_login(&st, state.clone(), pending, status.clone());
    match tokio::time::timeout(Duration::from_secs(30), rx).await {
        Ok(Ok((url, code))) => {
            ok(json!({"verification_url": url, "user_code": code, "state": state}))
        }
        _ => {
            let (_, detail) = status.lock().unwrap_or_else(|e| e.into_inner()).clone();
            bad(
                ErrorType::ApiError,
                &format!("device sign-in could not start: {detail}"),
            )
        }
    }
}

/// Cached `wham/usage` answers.
#[derive(Default)]
pub struct QuotaCache {
    map: tokio::sync::Mutex<HashMap<String, (Instant, Value)>>,
}

/// `GET /accounts/quota`: each account's live quota from the backend (cached for a minute).
pub async fn quota(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let now = now_secs();
    let mut out = Vec::new();
    for slot in st.pool.all() {
        let a = slot.snapshot();
        let mut cache = st.quota.map.lock().await;
        if let Some((at, v)) = cache.get(&a.account_id)
            && at.elapsed() < Duration::from_secs(60)
        {
            out.push(v.clone());
            continue;
        }
        let entry = match st.pool.token(&slot, now).await {
            Err(e) => {
                json!({"account_id": a.account_id, "email": a.email, "error": format!("{e:?}")})
            }
            Ok(token) => match crate::accounts::quota::fetch_usage(
                &st.client,
                &st.cfg().codex_base_url,
                &a.account_id,
                &token,
            )
            .await
            {
                Ok(u) => json!({"account_id": a.account_id, "email": a.email, "usage": u}),
                Err(e) => json!({"account_id": a.account_id, "email": a.email, "error": e}),
            },
        };
        if entry.get("usage").is_some() {
            cache.insert(a.account_id.clone(), (Instant::now(), entry.clone()));
        }
        out.push(entry);
    }
    ok(json!({"accounts": out}))
}
