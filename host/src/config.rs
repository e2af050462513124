//! Configuration: one TOML file, overridden by environment variables, overridden by flags.
//!
//! Every key has a default, so no file is needed. The file is `config.toml` in the data dir
//! unless `--config` names another. Environment variables are `CCP_` + the upper-cased key
//! (`CCP_PORT`, `CCP_CODEX_BASE_URL`, …). Secrets (provider keys, the client key) are never
//! printed: `config print` masks them.

use proxy_core::RoutingTable;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The Codex CLI version presented by default: a current one (codex.md §9.1: the newest
/// models need 0.153.0 or later).
pub const DEFAULT_CODEX_VERSION: &str = "0.157.0";

/// A Chat Completions provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Name used by routing rules (`provider = "kilo"`).
    pub name: String,
    /// Base URL; `/chat/completions` is appended.
    pub base_url: String,
    /// API key sent as `Authorization: Bearer`; `anonymous` for Kilo's free models.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Read the key from this environment variable instead.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Or from this file (its first line).
    #[serde(default)]
    pub api_key_file: Option<PathBuf>,
    /// Model ids this provider serves, listed by `GET /v1/models`.
    #[serde(default)]
    pub models: Vec<String>,
    /// `max_tokens` or `max_completion_tokens`.
    #[serde(default = "default_max_tokens_field")]
    pub max_tokens_field: String,
    /// `openrouter`, `openai` or `none`.
    #[serde(default = "default_reasoning_style")]
    pub reasoning_style: String,
    /// Send Kilo's headers (`HTTP-Referer`, `X-KiloCode-MachineId`).
    #[serde(default)]
    pub kilo_headers: bool,
    /// Extra headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

fn default_max_tokens_field() -> String {
    "max_tokens".into()
}

fn default_reasoning_style() -> String {
    "openrouter".into()
}

impl Provider {
    /// The key file whose key is sent: `api_key_file`, unless the environment variable
    /// `api_key_env` names has a key, which comes first.
    pub fn key_file(&self) -> Option<&std::path::Path> {
        match self.env_key() {
            Some(_) => None,
            None => self.api_key_file.as_deref(),
        }
    }

    /// The key to send, given `file_key`, the key [`Self::key_file`] holds: the environment
    /// variable first, then the file, then `api_key`.
    pub fn key(&self, file_key: Option<String>) -> Option<String> {
        self.env_key()
            .or(file_key)
            .filter(|k| !k.is_empty())
            .or_else(|| self.api_key.clone())
    }

    fn env_key(&self) -> Option<String> {
        self.api_key_env
            .as_deref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|k| !k.is_empty())
    }
}

/// The key a key file holds: its first line, trimmed; `None` if unreadable or empty.
pub fn read_key(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|k| !k.is_empty())
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Bind address.
    pub host: String,
    /// Bind port (8081, as the Node version).
    pub port: u16,
    /// Where accounts and state live (default `~/.codex-claude-proxy`).
    pub data_dir: PathBuf,
    /// `pretty` or `json`.
    pub log_format: String,
    /// Required client key (`x-api-key` or `Authorization: Bearer`); optional on loopback.
    pub client_key: Option<String>,
    /// Largest accepted request body, bytes.
    pub body_limit: usize,
    /// The ChatGPT backend base (`…/backend-api`); `/codex/responses` is appended.
    pub codex_base_url: String,
    /// The OAuth issuer.
    pub oauth_issuer: String,
    /// The Codex CLI version this proxy presents (`version` header, user agent, the model
    /// catalog's `client_version`): the backend filters its catalog by it and refuses newer
    /// models to older versions.
    pub codex_client_version: String,
    /// Send Codex request bodies compressed with zstd, as the Codex CLI does (turned off for
    /// the process if the backend refuses it).
    pub codex_zstd: bool,
    /// Map Claude Code's `ToolSearch` and deferred tools onto the backend's client-executed
    /// tool search where the model's catalog entry supports it (docs/CONVERSION.md §1.10); off:
    /// deferred tools are sent eagerly.
    pub codex_tool_search: bool,
    /// How Codex requests travel: `auto` (the WebSocket transport where the model's catalog
    /// entry prefers it, HTTP otherwise), `websocket` (always tried first) or `http`. On the
    /// socket a turn that only appends to the previous one sends just its new items; whatever
    /// the socket cannot answer goes again over HTTP.
    pub codex_transport: String,
    /// Seconds an unused Codex WebSocket stays open.
    pub codex_ws_idle_secs: f64,
    /// At most this many Codex WebSockets open (one per account and conversation; the least
    /// recently used closes first).
    pub codex_ws_max: usize,
    /// Seconds a reused Codex WebSocket may take to start a turn before the turn goes over
    /// HTTP (a socket can be dead without knowing it).
    pub codex_ws_first_event_secs: f64,
    /// Seconds to wait for the upstream's first byte.
    pub first_byte_timeout_secs: f64,
    /// Seconds of upstream silence that end a stream with an error.
    pub idle_timeout_secs: f64,
    /// Seconds between keep-alive pings while the upstream is silent.
    pub ping_interval_secs: f64,
    /// Seconds the proxy may hold a response back (for invisible retries) before it commits.
    pub commit_timeout_secs: f64,
    /// Upstream attempts per request (retries + rotations), at least 1.
    pub max_attempts: u32,
    /// Seconds a client has to send a request's head (slow clients are disconnected).
    pub header_read_timeout_secs: f64,
    /// Seconds a client has, once its head is read, to send the whole request body (slow
    /// clients get a 408 and the connection is closed).
    pub body_read_timeout_secs: f64,
    /// Largest request head (request line and headers), bytes.
    pub max_header_bytes: usize,
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Threads that serve requests (0, the default: one per core). Each serves whole
    /// connections on a single-thread runtime, with its own upstream client, so a request's
    /// tasks never wake each other across threads (about a fifth less CPU per small request
    /// than a work-stealing runtime, and a lower p99; docs/PERFORMANCE.md); new connections go
    /// to the thread serving the fewest. Compressing a large body runs on separate threads.
    pub workers: usize,
    /// Seconds a shutdown (SIGTERM, Ctrl-C) lets requests in flight finish; then streams still
    /// running end with an `overloaded_error` event and the process exits.
    pub drain_timeout_secs: f64,
    /// Chat Completions providers.
    pub providers: Vec<Provider>,
    /// Model routing.
    pub routing: RoutingTable,
    /// Serve the playground's wasm build of the core from this folder instead of the copy
    /// built into the binary (`bash web/build.sh` writes one to `web/pkg`). Unset: built in.
    pub web_dir: Option<PathBuf>,
    /// Serve the dashboard's page, script and style from this folder, read on every request,
    /// instead of the built-in copies (for working on the dashboard). Unset: built in.
    pub ui_dir: Option<PathBuf>,
    /// The file this configuration was read from, and where the dashboard's settings page
    /// writes its changes (`config.toml` in the data dir unless `--config` / `CCP_CONFIG`).
    #[serde(skip)]
    pub config_path: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8081,
            data_dir: default_data_dir(),
            log_format: "pretty".into(),
            client_key: None,
            body_limit: 32 * 1024 * 1024,
            codex_base_url: "https://chatgpt.com/backend-api".into(),
            oauth_issuer: proxy_core::oauth::ISSUER.into(),
            codex_client_version: DEFAULT_CODEX_VERSION.into(),
            codex_zstd: true,
            codex_tool_search: true,
            codex_transport: "auto".into(),
            codex_ws_idle_secs: 300.0,
            codex_ws_max: 256,
            codex_ws_first_event_secs: 10.0,
            first_byte_timeout_secs: 120.0,
            idle_timeout_secs: 300.0,
            ping_interval_secs: 10.0,
            commit_timeout_secs: 8.0,
            max_attempts: 4,
            drain_timeout_secs: 30.0,
            header_read_timeout_secs: 10.0,
            body_read_timeout_secs: 30.0,
            max_header_bytes: 64 * 1024,
            max_connections: 10_000,
            workers: 0,
            providers: vec![Provider {
                name: "kilo".into(),
                base_url: "https://api.kilo.ai/api/openrouter".into(),
                api_key: Some("anonymous".into()),
                api_key_env: None,
                api_key_file: None,
                models: vec!["kilo-auto/free".into()],
                max_tokens_field: default_max_tokens_field(),
                reasoning_style: default_reasoning_style(),
                kilo_headers: true,
                headers: Vec::new(),
            }],
            routing: RoutingTable::default(),
            web_dir: None,
            ui_dir: None,
            config_path: default_data_dir().join("config.toml"),
        }
    }
}

/// `~/.codex-claude-proxy` (the Node version's data dir, so migrating users keep it).
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".codex-claude-proxy")
}

/// Flags that override file and environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--host`.
    pub host: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<String>,
}

/// Errors loading the configuration.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read(PathBuf, std::io::Error),
    /// The file is not valid TOML for this schema.
    Parse(PathBuf, String),
    /// An environment variable has a bad value.
    Env(String, String),
    /// A value is out of range.
    Invalid(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            Self::Parse(p, e) => write!(f, "{}: {e}", p.display()),
            Self::Env(k, e) => write!(f, "environment variable {k}: {e}"),
            Self::Invalid(e) => write!(f, "invalid configuration: {e}"),
        }
    }
}

fn env_parse<T: std::str::FromStr>(key: &str) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(key) {
        Ok(v) => v
            .parse::<T>()
            .map(Some)
            .map_err(|e| ConfigError::Env(key.into(), e.to_string())),
        Err(_) => Ok(None),
    }
}

impl Config {
    /// Load: defaults ← file ← environment ← flags.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Self, ConfigError> {
        let data_dir = flags
            .data_dir
            .clone()
            .or_else(|| std::env::var_os("CCP_DATA_DIR").map(PathBuf::from));
        let (path, explicit) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => match std::env::var_os("CCP_CONFIG") {
                Some(p) => (PathBuf::from(p), true),
                None => (
                    data_dir
                        .clone()
                        .unwrap_or_else(default_data_dir)
                        .join("config.toml"),
                    false,
                ),
            },
        };
        let mut cfg = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<Config>(&text)
                .map_err(|e| ConfigError::Parse(path.clone(), e.to_string()))?,
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(e) => return Err(ConfigError::Read(path, e)),
        };
        macro_rules! env {
            ($field:ident, $key:literal) => {
                if let Some(v) = env_parse($key)? {
                    cfg.$field = v;
                }
            };
        }
        env!(host, "CCP_HOST");
        env!(port, "CCP_PORT");
        env!(log_format, "CCP_LOG_FORMAT");
        env!(body_limit, "CCP_BODY_LIMIT");
        env!(codex_base_url, "CCP_CODEX_BASE_URL");
        env!(oauth_issuer, "CCP_OAUTH_ISSUER");
        env!(codex_client_version, "CCP_CODEX_CLIENT_VERSION");
        env!(codex_zstd, "CCP_CODEX_ZSTD");
        env!(codex_tool_search, "CCP_CODEX_TOOL_SEARCH");
        env!(codex_transport, "CCP_CODEX_TRANSPORT");
        env!(codex_ws_idle_secs, "CCP_CODEX_WS_IDLE_SECS");
        env!(codex_ws_max, "CCP_CODEX_WS_MAX");
        env!(codex_ws_first_event_secs, "CCP_CODEX_WS_FIRST_EVENT_SECS");
        env!(first_byte_timeout_secs, "CCP_FIRST_BYTE_TIMEOUT_SECS");
        env!(idle_timeout_secs, "CCP_IDLE_TIMEOUT_SECS");
        env!(ping_interval_secs, "CCP_PING_INTERVAL_SECS");
        env!(commit_timeout_secs, "CCP_COMMIT_TIMEOUT_SECS");
        env!(max_attempts, "CCP_MAX_ATTEMPTS");
        env!(drain_timeout_secs, "CCP_DRAIN_TIMEOUT_SECS");
        env!(header_read_timeout_secs, "CCP_HEADER_READ_TIMEOUT_SECS");
        env!(body_read_timeout_secs, "CCP_BODY_READ_TIMEOUT_SECS");
        env!(max_header_bytes, "CCP_MAX_HEADER_BYTES");
        env!(max_connections, "CCP_MAX_CONNECTIONS");
        env!(workers, "CCP_WORKERS");
        if let Some(d) = std::env::var_os("CCP_WEB_DIR") {
            cfg.web_dir = Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("CCP_UI_DIR") {
            cfg.ui_dir = Some(PathBuf::from(d));
        }
        cfg.config_path = path;
        if let Ok(k) = std::env::var("CCP_CLIENT_KEY") {
            cfg.client_key = Some(k);
        }
        if let Ok(url) = std::env::var("CCP_KILO_BASE_URL")
            && let Some(p) = cfg.providers.iter_mut().find(|p| p.name == "kilo")
        {
            p.base_url = url;
        }
        if let Some(d) = data_dir {
            cfg.data_dir = d;
        }
        if let Some(h) = &flags.host {
            cfg.host = h.clone();
        }
        if let Some(p) = flags.port {
            cfg.port = p;
        }
        if let Some(l) = &flags.log_format {
            cfg.log_format = l.clone();
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// The checks every loaded config passes (also run by the `config_toml` fuzz target).
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.log_format.as_str(), "pretty" | "json") {
            return Err(ConfigError::Invalid(format!(
                "log_format must be \"pretty\" or \"json\", not {:?}",
                self.log_format
            )));
        }
        for (name, v) in [
            ("first_byte_timeout_secs", self.first_byte_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("ping_interval_secs", self.ping_interval_secs),
            ("commit_timeout_secs", self.commit_timeout_secs),
            ("drain_timeout_secs", self.drain_timeout_secs),
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
            ("codex_ws_idle_secs", self.codex_ws_idle_secs),
            ("codex_ws_first_event_secs", self.codex_ws_first_event_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(ConfigError::Invalid(format!("{name} must be > 0")));
            }
        }
        if self.max_connections == 0 || self.max_header_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_connections must be at least 1 and max_header_bytes at least 1024".into(),
            ));
        }
        if !matches!(self.codex_transport.as_str(), "auto" | "websocket" | "http") {
            return Err(ConfigError::Invalid(format!(
                "codex_transport must be \"auto\", \"websocket\" or \"http\", not {:?}",
                self.codex_transport
            )));
        }
        if self.max_attempts == 0 {
            return Err(ConfigError::Invalid(
                "max_attempts must be at least 1".into(),
            ));
        }
        let loopback = matches!(self.host.as_str(), "127.0.0.1" | "localhost" | "::1");
        if !loopback && self.client_key.is_none() {
            return Err(ConfigError::Invalid(format!(
                "binding {} (not loopback) needs a client_key (CCP_CLIENT_KEY)",
                self.host
            )));
        }
        Ok(())
    }

    /// The TOML of this configuration with secrets masked.
    pub fn masked_toml(&self) -> String {
        let mut c = self.clone();
        let mask = |s: &mut Option<String>| {
            if let Some(v) = s.as_mut()
                && v != "anonymous"
            {
                *v = "********".into();
            }
        };
        mask(&mut c.client_key);
        for p in &mut c.providers {
            mask(&mut p.api_key);
        }
        toml::to_string_pretty(&c).unwrap_or_default()
    }
}
