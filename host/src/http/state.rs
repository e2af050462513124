//! What every handler shares: the state ([`AppState`]), the client-key check, body parsing,
//! and the error contract (every error is JSON in the Anthropic shape; never an HTML page,
//! never a panic).

use crate::accounts::Pool;
use crate::config::Config;
use crate::http::metrics::Metrics;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use proxy_core::{ErrorType, error_body};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where each Claude model family goes: `{"opus": {lane, provider, model}, …}`.
pub fn family_routes(st: &AppState) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (family, id) in [
        ("opus", "claude-opus-4-5"),
        ("sonnet", "claude-sonnet-4-5"),
        ("haiku", "claude-haiku-4-5"),
    ] {
        let r = st.route(id);
        out.insert(
            family.into(),
            serde_json::json!({"lane": r.lane, "provider": r.provider, "model": r.model}),
        );
    }
    serde_json::Value::Object(out)
}

/// How long the first catalog-routed request waits for the accounts' catalogs at most.
const WARM_CATALOGS_FOR: Duration = Duration::from_secs(6);

/// The Codex model haiku requests use with an account, when no catalog names a newer one.
pub const SMALL_CODEX_MODEL: &str = "gpt-5.4-mini";

/// State shared by all requests.
pub struct AppState {
    /// Effective configuration; the dashboard's settings page replaces it while serving, so a
    /// request reads it once ([`AppState::cfg`]) and keeps that snapshot.
    cfg: RwLock<Current>,
    /// One pooled upstream client (HTTP/2 where offered).
    pub client: reqwest::Client,
    /// ChatGPT accounts.
    pub pool: Pool,
    /// Each account's model catalog from the Codex backend.
    pub catalogs: crate::accounts::catalog::Catalogs,
    /// Metrics.
    pub metrics: Metrics,
    /// Stable per-install id for Kilo's `X-KiloCode-MachineId`.
    pub machine_id: String,
    /// Kilo free-model discovery.
    pub kilo: crate::http::admin::KiloModels,
    /// Sign-ins started through the admin API.
    pub logins: crate::http::admin::Logins,
    /// Cached `wham/usage` answers.
    pub quota: crate::http::admin::QuotaCache,
    /// The live request log (`/logs`).
    pub logs: crate::http::logs::RequestLog,
    /// Runtime settings (`/settings/haiku-model`).
    pub settings: crate::settings::Settings,
    /// Held while the settings page writes the config file (one read-edit-write at a time).
    pub config_write: tokio::sync::Mutex<()>,
    /// Becomes `true` when a shutdown's drain time is over: streams still running end with an
    /// error event, requests not yet answered get one.
    pub drain_over: tokio::sync::watch::Sender<bool>,
    /// Set once the first catalog-routed request has fetched the accounts' catalogs.
    catalogs_warmed: tokio::sync::OnceCell<()>,
    /// Whether Codex request bodies still go compressed (the backend may refuse zstd).
    pub zstd: crate::http::zstd_body::Switch,
    /// The Codex WebSockets (codex_ws.rs).
    pub sockets: Arc<crate::http::codex_ws::Sockets>,
    /// Chat providers' keys read from their `api_key_file`s.
    pub key_files: crate::http::key_files::KeyFiles,
    /// Entropy for ids the upstream does not give.
    seed: AtomicU64,
}

thread_local! {
    /// This serving thread has its own upstream client (listen.rs): its connections are then
    /// driven on the thread whose requests use them. Unset: the state's shared client.
    static OWN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// That client, made at its first use: the request path uses it only when a proxy is in
    /// the environment (http/upstream_http.rs).
    static OWN_CLIENT: std::cell::OnceCell<reqwest::Client> = const { std::cell::OnceCell::new() };
}

/// The upstream client: one configuration for every thread.
fn upstream_client() -> reqwest::Client {
    let builder = match crate::http::upstream_http::tls() {
        // The request path's TLS configuration: the system's roots read once.
        Some(tls) => reqwest::Client::builder().tls_backend_preconfigured(tls),
        None => reqwest::Client::builder(),
    };
    builder
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Give this thread its own upstream client (a serving thread besides the accepting one).
pub fn use_own_upstream_client() {
    OWN.with(|own| own.set(true));
}

/// Pick up accounts changed on disk (another process, the CLI, an import) without holding
/// up the serving thread: the reload takes the accounts' file lock, which a token refresh
/// holds across its request to the issuer.
pub async fn reload_accounts(st: &Arc<AppState>) {
    let st = st.clone();
    let _ = tokio::task::spawn_blocking(move || st.pool.reload()).await;
}

impl AppState {
    /// Build the state (no IO beyond reading accounts and the machine id).
    pub fn new(cfg: Config) -> Arc<Self> {
        let client = upstream_client();
        let pool = Pool::load(&cfg.data_dir, client.clone(), cfg.oauth_issuer.clone());
        let machine_id = machine_id(&cfg.data_dir);
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        Arc::new(Self {
            client,
            pool,
            catalogs: crate::accounts::catalog::Catalogs::default(),
            metrics: Metrics::default(),
            machine_id,
            kilo: crate::http::admin::KiloModels::default(),
            logins: crate::http::admin::Logins::default(),
            quota: crate::http::admin::QuotaCache::default(),
            settings: crate::settings::Settings::load(&cfg.data_dir),
            logs: crate::http::logs::RequestLog::default(),
            config_write: tokio::sync::Mutex::new(()),
            drain_over: tokio::sync::watch::channel(false).0,
            zstd: crate::http::zstd_body::Switch::new(),
            sockets: Arc::default(),
            key_files: Default::default(),
            catalogs_warmed: tokio::sync::OnceCell::new(),
            seed: AtomicU64::new(u64::from_le_bytes(seed)),
            cfg: RwLock::new(Current::new(cfg)),
        })
    }

    /// The client for upstream requests made on this thread.
    pub fn upstream(&self) -> reqwest::Client {
        if !OWN.with(std::cell::Cell::get) {
            return self.client.clone();
        }
        OWN_CLIENT.with(|c| c.get_or_init(upstream_client).clone())
    }

    /// The configuration now.
    pub fn cfg(&self) -> Arc<Config> {
        Arc::clone(&self.cfg.read().unwrap_or_else(|e| e.into_inner()).cfg)
    }

    /// The configuration now, and whether its routing table is the default one.
    fn cfg_routing(&self) -> (Arc<Config>, bool) {
        let now = self.cfg.read().unwrap_or_else(|e| e.into_inner());
        (Arc::clone(&now.cfg), now.default_table)
    }

    /// Replace the configuration (what later requests read; requests in flight keep theirs).
    pub fn set_cfg(&self, cfg: Config) {
        *self.cfg.write().unwrap_or_else(|e| e.into_inner()) = Current::new(cfg);
    }

    /// Where a requested model goes (a request without hosted tools): see [`Self::route_request`].
    pub fn route(&self, model: &str) -> proxy_core::Route {
        self.route_request(model, false)
    }

    /// Where a request for `model` goes: the routing table, with the haiku setting applied.
    /// With an account and the default table, the Claude families follow the accounts'
    /// catalogs instead of a fixed slug: opus and sonnet go to the newest flagship, haiku to the
    /// first small model (`proxy_core::catalog::default_for`; a request with `hosted_tools`
    /// stays off Responses Lite models). Claude Code's and OpenCode's background requests
    /// (titles, summaries) carry the user's prompt: with a ChatGPT account they stay on the
    /// Codex backend instead of going to a third party. Kilo stays the zero-setup default
    /// without an account; a routing table the user wrote is followed as written.
    pub fn route_request(&self, model: &str, hosted_tools: bool) -> proxy_core::Route {
        let (cfg, default_table) = self.cfg_routing();
        let haiku = model.to_ascii_lowercase().contains("haiku");
        if let Some(h) = haiku.then(|| self.settings.haiku_model()).flatten() {
            return cfg.routing.route_with_haiku(model, Some(&h));
        }
        let Some(slug) = self.catalog_default(default_table, model, hosted_tools) else {
            return cfg.routing.route(model);
        };
        if haiku {
            return cfg.routing.route_with_haiku(model, Some(&slug));
        }
        let mut route = cfg.routing.route(model);
        route.model = slug;
        route
    }

    /// The catalog's model for `model`'s family when the default table applies (an account,
    /// no table of the user's); haiku without a catalog gets the small model every plan has had.
    fn catalog_default(
        &self,
        default_table: bool,
        model: &str,
        hosted_tools: bool,
    ) -> Option<String> {
        if self.pool.is_empty() || !default_table {
            return None;
        }
        // The current accounts' catalogs (a removed account's must not narrow the choice).
        let accounts: Vec<String> = self.pool.all().iter().map(|s| s.id()).collect();
        let known = self.catalogs.known();
        let lists: Vec<&[proxy_core::catalog::ModelInfo]> = known
            .iter()
            .filter(|(id, _)| accounts.contains(id))
            .map(|(_, c)| c.models.as_slice())
            .collect();
        proxy_core::catalog::default_for(&lists, model, hosted_tools)
            .map(|m| m.slug.clone())
            .or_else(|| {
                model
                    .to_ascii_lowercase()
                    .contains("haiku")
                    .then(|| SMALL_CODEX_MODEL.to_owned())
            })
    }

    /// Once, before the first request the default table routes by catalog: fetch the
    /// accounts' catalogs, all at once and for a bounded time, so that the first request
    /// already goes where the later ones will (a conversation that changed models after its
    /// first turn would lose its cache and reasoning). Later requests never wait here: an
    /// account whose catalog is still missing gets it when a request picks it.
    pub async fn warm_catalog(&self) {
        if self.pool.is_empty() || !self.cfg_routing().1 {
            return;
        }
        self.catalogs_warmed
            .get_or_init(|| async {
                let fetch = self.fetch_missing_catalogs();
                let _ = tokio::time::timeout(WARM_CATALOGS_FOR, fetch).await;
            })
            .await;
    }

    /// Fetch the catalogs of the accounts that have none, concurrently.
    async fn fetch_missing_catalogs(&self) {
        let known = self.catalogs.known();
        let missing: Vec<_> = self
            .pool
            .all()
            .into_iter()
            .filter(|s| !known.iter().any(|(id, _)| *id == s.id()))
            .collect();
        if missing.is_empty() {
            return;
        }
        let cfg = self.cfg();
        let ua = crate::http::lanes::codex_user_agent(&cfg.codex_client_version);
        let src = crate::accounts::catalog::Source {
            client: &self.client,
            base_url: &cfg.codex_base_url,
            client_version: &cfg.codex_client_version,
            user_agent: &ua,
        };
        let now = crate::clock::now_secs();
        let fetch = |slot: std::sync::Arc<crate::accounts::Slot>| {
            let src = &src;
            async move {
                if let Ok(token) = self.pool.token(&slot, now).await {
                    self.catalogs.catalog(src, &slot.id(), &token).await;
                }
            }
        };
        futures_util::future::join_all(missing.into_iter().map(fetch)).await;
    }

    /// A fresh seed for one stream's ids.
    pub fn next_seed(&self) -> u64 {
        self.seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9)
    }
}

/// The configuration, and what every request would otherwise work out from it again.
struct Current {
    cfg: Arc<Config>,
    /// The routing table is the default one (the catalog then picks the Codex models).
    default_table: bool,
}

impl Current {
    fn new(cfg: Config) -> Current {
        Current {
            default_table: cfg.routing == proxy_core::RoutingTable::default(),
            cfg: Arc::new(cfg),
        }
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
    let id = proxy_core::hex::encode(&b);
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
