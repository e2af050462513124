//! The axum server: routes, shared state, and the error contract (every error is JSON in the
//! Anthropic shape; never an HTML page, never a panic).

use crate::accounts::Pool;
use crate::config::Config;
use crate::metrics::Metrics;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use proxy_core::{ErrorType, error_body};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// State shared by all requests.
pub struct AppState {
    /// Effective configuration.
    pub cfg: Config,
    /// One pooled upstream client (HTTP/2 where offered).
    pub client: reqwest::Client,
    /// ChatGPT accounts.
    pub pool: Pool,
    /// Metrics.
    pub metrics: Metrics,
    /// Stable per-install id for Kilo's `X-KiloCode-MachineId`.
    pub machine_id: String,
    /// Kilo free-model discovery.
    pub kilo: crate::admin::KiloModels,
    /// Sign-ins started through the admin API.
    pub logins: crate::admin::Logins,
    /// Cached `wham/usage` answers.
    pub quota: crate::admin::QuotaCache,
    /// The live request log (`/logs`).
    pub logs: crate::logs::RequestLog,
    /// Runtime settings (`/settings/haiku-model`).
    pub settings: crate::settings::Settings,
    /// Entropy for ids the upstream does not give.
    seed: AtomicU64,
}

impl AppState {
    /// Build the state (no IO beyond reading accounts and the machine id).
    pub fn new(cfg: Config) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let pool = Pool::load(&cfg.data_dir, client.clone(), cfg.oauth_issuer.clone());
        let machine_id = machine_id(&cfg.data_dir);
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Arc::new(Self {
            client,
            pool,
            metrics: Metrics::default(),
            machine_id,
            kilo: crate::admin::KiloModels::default(),
            logins: crate::admin::Logins::default(),
            quota: crate::admin::QuotaCache::default(),
            settings: crate::settings::Settings::load(&cfg.data_dir),
            logs: crate::logs::RequestLog::default(),
            seed: AtomicU64::new(u64::from_le_bytes(seed)),
            cfg,
        })
    }

    /// Where a requested model goes: the routing table, with the haiku setting applied.
    pub fn route(&self, model: &str) -> proxy_core::Route {
        self.cfg
            .routing
            .route_with_haiku(model, self.settings.haiku_model().as_deref())
    }

    /// A fresh seed for one stream's ids.
    pub fn next_seed(&self) -> u64 {
        self.seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
    }
}

fn machine_id(data_dir: &std::path::Path) -> String {
    let path = data_dir.join("machine-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        let id = id.trim().to_owned();
        if !id.is_empty() {
            return id;
        }
    }
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    let id: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let _ = std::fs::create_dir_all(data_dir);
    let _ = std::fs::write(&path, &id);
    id
}

/// An error the host answers with (axum's error-handling pattern: small, `?`-friendly).
#[derive(Debug)]
pub struct ApiError {
    /// Anthropic error type (decides the status).
    pub ty: ErrorType,
    /// Message for the client.
    pub message: String,
}

impl ApiError {
    /// An error of a type with a message.
    pub fn new(ty: ErrorType, message: impl Into<String>) -> Self {
        Self {
            ty,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.ty, &self.message, None)
    }
}

/// An Anthropic-shaped error response.
pub fn error_response(ty: ErrorType, message: &str, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(ty.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, error_body(ty, message)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        h.insert(header::RETRY_AFTER, v);
    }
    if ty == ErrorType::InvalidRequestError {
        h.insert("x-should-retry", HeaderValue::from_static("false"));
    }
    resp
}

/// The router with every route.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.cfg.body_limit;
    Router::new()
        .route(
            "/v1/messages",
            post(crate::relay::messages).fallback(method_not_allowed),
        )
        .route(
            "/v1/messages/count_tokens",
            post(crate::tokens::count_tokens).fallback(method_not_allowed),
        )
        .route(
            "/v1/chat/completions",
            post(crate::relay::chat_completions).fallback(method_not_allowed),
        )
        .route("/v1/models", get(models).fallback(method_not_allowed))
        .route("/health", get(health).fallback(method_not_allowed))
        .route(
            "/kilo/models",
            get(crate::admin::kilo_models).fallback(method_not_allowed),
        )
        .route("/metrics", get(metrics).fallback(method_not_allowed))
        .route(
            "/accounts",
            get(crate::admin::list_accounts).fallback(method_not_allowed),
        )
        .route(
            "/accounts/device",
            post(crate::admin::add_device).fallback(method_not_allowed),
        )
        .route(
            "/accounts/quota",
            get(crate::admin::quota).fallback(method_not_allowed),
        )
        // The Node version's name for the same snapshot (its dashboard called this).
        .route(
            "/accounts/quota/all",
            get(crate::admin::quota).fallback(method_not_allowed),
        )
        .route(
            "/accounts/import",
            post(crate::admin::import_accounts).fallback(method_not_allowed),
        )
        .route(
            "/accounts/add",
            post(crate::admin::add_account).fallback(method_not_allowed),
        )
        .route(
            "/accounts/add/manual",
            post(crate::admin::add_manual).fallback(method_not_allowed),
        )
        .route(
            "/accounts/login/{state}",
            get(crate::admin::login_status).fallback(method_not_allowed),
        )
        .route(
            "/accounts/{id}",
            axum::routing::delete(crate::admin::remove_account).fallback(method_not_allowed),
        )
        .route(
            "/accounts/{id}/refresh",
            post(crate::admin::refresh_account).fallback(method_not_allowed),
        )
        .route(
            "/logs",
            get(crate::admin::logs).fallback(method_not_allowed),
        )
        .route(
            "/logs/stream",
            get(crate::admin::logs_stream).fallback(method_not_allowed),
        )
        .route(
            "/settings/haiku-model",
            get(crate::admin::haiku_model)
                .post(crate::admin::haiku_model)
                .fallback(method_not_allowed),
        )
        .route(
            "/settings/account-strategy",
            get(crate::admin::strategy)
                .post(crate::admin::strategy)
                .fallback(method_not_allowed),
        )
        .route(
            "/claude/config",
            get(crate::admin::claude_config).fallback(method_not_allowed),
        )
        .route(
            "/claude/config/proxy",
            post(crate::admin::claude_proxy).fallback(method_not_allowed),
        )
        .route(
            "/claude/config/direct",
            post(crate::admin::claude_direct).fallback(method_not_allowed),
        )
        .route("/api/hello", get(hello).head(hello))
        .route("/", get(ui).fallback(method_not_allowed))
        .route(
            "/ui/wasm/{file}",
            get(wasm_asset).fallback(method_not_allowed),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn not_found() -> Response {
    error_response(ErrorType::NotFoundError, "no such route", None)
}

async fn method_not_allowed() -> Response {
    let body = error_body(
        ErrorType::InvalidRequestError,
        "method not allowed on this route",
    );
    let mut r = (StatusCode::METHOD_NOT_ALLOWED, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The dashboard: one static page that drives the admin API from the same origin.
async fn ui() -> Response {
    let mut r = include_str!("ui.html").into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

/// The playground's two files from the wasm-bindgen build of the core (`web_dir`): the JS glue
/// and the module. Only these names are served, so no path reaches the disk from a request.
async fn wasm_asset(
    State(st): State<Arc<AppState>>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    let mime = match file.as_str() {
        "proxy_web.js" => "text/javascript; charset=utf-8",
        "proxy_web_bg.wasm" => "application/wasm",
        _ => return not_found().await,
    };
    let path = st.cfg.web_dir.join(&file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut r = bytes.into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            r
        }
        Err(_) => error_response(
            ErrorType::NotFoundError,
            "the playground's wasm build is missing: run `bash web/build.sh`, or set web_dir",
            None,
        ),
    }
}

async fn hello() -> StatusCode {
    StatusCode::OK
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    // No emails or quota here: /health answers without the client key.
    let accounts: Vec<Value> = st
        .pool
        .summaries(crate::clock::now_secs())
        .into_iter()
        .map(|a| json!({"tag": a["tag"], "plan_type": a["plan_type"], "relogin_needed": a["relogin_needed"]}))
        .collect();
    axum::Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "accounts": accounts,
        "strategy": st.pool.strategy(),
        "lanes": {
            "codex": !st.pool.is_empty(),
            "chat": st.cfg.providers.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        },
    }))
    .into_response()
}

/// Per-account gauges, rendered at scrape time from the pool (quota from the backend's
/// headers, re-login state) in OpenMetrics text.
fn account_metrics(st: &AppState) -> String {
    let now = crate::clock::now_secs();
    let mut out = String::new();
    out.push_str("# HELP ccp_account_relogin_needed 1 when the account needs a new login.\n# TYPE ccp_account_relogin_needed gauge\n");
    let slots = st.pool.all();
    let label = |s: &crate::accounts::Slot| {
        let a = s.snapshot();
        a.email
            .unwrap_or_else(|| s.tag())
            .replace(['"', '\\', '\n'], "_")
    };
    for s in &slots {
        let a = s.snapshot();
        out.push_str(&format!(
            "ccp_account_relogin_needed{{account=\"{}\"}} {}\n",
            label(s),
            u8::from(a.relogin_reason.is_some())
        ));
    }
    out.push_str("# HELP ccp_account_quota_used_percent Used share of a quota window, from the backend's headers.\n# TYPE ccp_account_quota_used_percent gauge\n");
    let mut resets = String::new();
    for s in &slots {
        if let Some((_, q)) = s.quota() {
            for (name, w) in [("primary", q.primary), ("secondary", q.secondary)] {
                let Some(w) = w else { continue };
                if let Some(u) = w.used_percent {
                    out.push_str(&format!(
                        "ccp_account_quota_used_percent{{account=\"{}\",window=\"{name}\"}} {u}\n",
                        label(s)
                    ));
                }
                if let Some(r) = w.reset_in(now) {
                    resets.push_str(&format!(
                        "ccp_account_quota_reset_seconds{{account=\"{}\",window=\"{name}\"}} {r}\n",
                        label(s)
                    ));
                }
            }
        }
    }
    out.push_str("# HELP ccp_account_quota_reset_seconds Seconds until a quota window resets.\n# TYPE ccp_account_quota_reset_seconds gauge\n");
    out.push_str(&resets);
    out.push_str(&format!(
        "# HELP ccp_token_refreshes Token refreshes performed.\n# TYPE ccp_token_refreshes counter\nccp_token_refreshes_total {}\n",
        st.pool.refresh_count()
    ));
    out
}

async fn metrics(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = authorized(&st.cfg, &headers) {
        return e.into_response();
    }
    let mut text = st.metrics.render();
    let extra = account_metrics(&st);
    match text.rfind("# EOF") {
        Some(i) => text.insert_str(i, &extra),
        None => text.push_str(&extra),
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// Ids Claude Code's model picker accepts (gateway discovery keeps ids starting `claude`).
const MODELS: &[(&str, &str, u64)] = &[
    (
        "claude-opus-4-5",
        "Claude Opus 4.5 (via Codex gpt-5.5)",
        272_000,
    ),
    (
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5 (via Codex gpt-5.5)",
        272_000,
    ),
    (
        "claude-haiku-4-5",
        "Claude Haiku 4.5 (via Kilo free models)",
        200_000,
    ),
    (
        "claude-opus-4-5[1m]",
        "Claude Opus 4.5, long context",
        272_000,
    ),
    (
        "claude-sonnet-4-5[1m]",
        "Claude Sonnet 4.5, long context",
        272_000,
    ),
];

async fn models(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    // Claude ids first (Claude Code's discovery keeps only those), then provider models for
    // OpenAI clients.
    let provider_models = st.cfg.providers.iter().flat_map(|p| {
        p.models
            .iter()
            .map(move |m| (m.clone(), format!("{m} ({})", p.name), None::<u64>))
    });
    let data: Vec<Value> = MODELS
        .iter()
        .map(|(id, name, ctx)| ((*id).to_owned(), (*name).to_owned(), Some(*ctx)))
        .chain(provider_models)
        .take(limit)
        .map(|(id, name, ctx)| {
            json!({"type": "model", "id": id, "display_name": name,
                   "created_at": "2025-11-01T00:00:00Z", "max_input_tokens": ctx})
        })
        .collect();
    let first = data.first().map(|m| m["id"].clone()).unwrap_or(Value::Null);
    let last = data.last().map(|m| m["id"].clone()).unwrap_or(Value::Null);
    axum::Json(json!({"data": data, "has_more": false, "first_id": first, "last_id": last}))
        .into_response()
}

/// Check the client key when one is configured.
pub fn authorized(cfg: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = &cfg.client_key else {
        return Ok(());
    };
    let given = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    if given == Some(key.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorType::AuthenticationError,
            "invalid or missing client key (x-api-key)",
        ))
    }
}

/// Parse a JSON body, answering 400 with the serde message on failure.
pub fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::new(
            ErrorType::InvalidRequestError,
            "request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::new(
            ErrorType::InvalidRequestError,
            format!("request body is not valid JSON: {e}"),
        )),
    }
}
