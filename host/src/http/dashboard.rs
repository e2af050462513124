//! The admin routes only the dashboard needs: the metrics' JSON twin, the settings it edits
//! (applied live and written to the config file), the route preview, the clients' configs,
//! the Claude Code settings preview, switching the active account, clearing the log.
//! They share the admin routes' guard (client key, same origin, JSON bodies).

use crate::config::{Config, Provider};
use crate::config_file::Section;
use crate::http::admin::{bad, guard, ok};
use crate::http::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use proxy_core::{ErrorType, Lane, RoutingTable};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// `GET /api/metrics`.
pub async fn metrics(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    ok(st.metrics.json())
}

/// `DELETE /logs`: forget the kept entries (followers keep following).
pub async fn clear_logs(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    st.logs.clear();
    ok(json!({"ok": true}))
}

/// `POST /accounts/{id}/activate`: the account sessionless requests use (sticky strategy).
pub async fn activate(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    // The choice is written under the accounts' file lock: off the serving thread.
    let st2 = st.clone();
    let set = tokio::task::spawn_blocking(move || st2.pool.set_active(&id))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    match set {
        Ok(true) => ok(json!({"ok": true})),
        Ok(false) => bad(ErrorType::NotFoundError, "no such account"),
        Err(e) => bad(ErrorType::ApiError, &format!("cannot save the choice: {e}")),
    }
}

/// `GET /api/route?model=ID`: where a request for that model goes now.
pub async fn route(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let Some(model) = q.get("model").filter(|m| !m.trim().is_empty()) else {
        return bad(ErrorType::InvalidRequestError, "model: required");
    };
    ok(json!(st.route(model.trim())))
}

async fn settings_json(st: &AppState) -> Value {
    let cfg = st.cfg();
    let mut providers: Vec<Value> = Vec::with_capacity(cfg.providers.len());
    for p in &cfg.providers {
        // A key file is read off this serving thread, as the request path reads it.
        let key_set = st.key_files.provider_key(p).await.is_some();
        providers.push(
            json!({"name": p.name, "base_url": p.base_url, "models": p.models,
                              "key_set": key_set}),
        );
    }
    json!({
        "config_path": cfg.config_path,
        "routing": cfg.routing,
        "haiku_model": st.settings.haiku_model(),
        "strategy": st.pool.strategy(),
        "providers": providers,
        "timeouts": {
            "first_byte_timeout_secs": cfg.first_byte_timeout_secs,
            "idle_timeout_secs": cfg.idle_timeout_secs,
            "ping_interval_secs": cfg.ping_interval_secs,
            "commit_timeout_secs": cfg.commit_timeout_secs,
        },
        "max_attempts": cfg.max_attempts,
    })
}

/// What `PUT /api/settings` may change; every part optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    routing: Option<RoutingTable>,
    timeouts: Option<Timeouts>,
    max_attempts: Option<u32>,
    providers: Option<Vec<ProviderEdit>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Timeouts {
    first_byte_timeout_secs: Option<f64>,
    idle_timeout_secs: Option<f64>,
    ping_interval_secs: Option<f64>,
    commit_timeout_secs: Option<f64>,
}

/// A provider as the page edits it: the key is write-only (never shown; absent keeps it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEdit {
    name: String,
    base_url: String,
    #[serde(default)]
    models: Vec<String>,
    api_key: Option<String>,
    /// What `GET` said; ignored.
    #[serde(default, rename = "key_set")]
    _key_set: Option<bool>,
}

/// Largest `max_attempts` the page accepts (each attempt may wait for a full first byte).
const MAX_ATTEMPTS: u32 = 10;

/// `GET /api/settings`, and `PUT /api/settings` to change them: checked, written to the config
/// file (its comments and order kept), then applied to every later request. Nothing changes
/// when the file cannot be written.
pub async fn settings(
    State(st): State<Arc<AppState>>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = guard(&st, &headers, Some(&body)) {
        return e.into_response();
    }
    if method == axum::http::Method::GET {
        return ok(settings_json(&st).await);
    }
    let change: Change = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return bad(ErrorType::InvalidRequestError, &format!("settings: {e}")),
    };
    // One writer at a time: two saves must not interleave their read-edit-write of the file.
    let _writing = st.config_write.lock().await;
    let (next, sections) = match apply(&st.cfg(), &change) {
        Ok(n) => n,
        Err(msg) => return bad(ErrorType::InvalidRequestError, &msg),
    };
    let path = next.config_path.clone();
    let written = {
        let next = next.clone();
        tokio::task::spawn_blocking(move || {
            let sections: Vec<Section<'_>> = sections.iter().map(|s| s.section(&next)).collect();
            crate::config_file::write(&path, &sections)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
    };
    if let Err(msg) = written {
        return bad(ErrorType::ApiError, &format!("settings not saved: {msg}"));
    }
    st.set_cfg(next);
    ok(settings_json(&st).await)
}

/// Which part of the config a change touched (the file gets only those).
#[derive(Clone, Copy)]
enum Touched {
    Routing,
    Providers,
    Number(&'static str),
}

impl Touched {
    fn section<'a>(self, cfg: &'a Config) -> Section<'a> {
        match self {
            Self::Routing => Section::Routing(&cfg.routing),
            Self::Providers => Section::Providers(&cfg.providers),
            Self::Number(key) => Section::Number(
                key,
                match key {
                    "first_byte_timeout_secs" => cfg.first_byte_timeout_secs,
                    "idle_timeout_secs" => cfg.idle_timeout_secs,
                    "ping_interval_secs" => cfg.ping_interval_secs,
                    "commit_timeout_secs" => cfg.commit_timeout_secs,
                    _ => f64::from(cfg.max_attempts),
                },
            ),
        }
    }
}

/// The configuration with `change` applied, and what it touched; or why it is refused.
fn apply(cfg: &Config, change: &Change) -> Result<(Config, Vec<Touched>), String> {
    let mut next = cfg.clone();
    if let Some(list) = &change.providers {
        let mut seen = std::collections::HashSet::new();
        let mut providers = Vec::with_capacity(list.len());
        for p in list {
            let name = p.name.trim();
            if name.is_empty() || !seen.insert(name.to_owned()) {
                return Err(format!(
                    "providers: names must be unique and non-empty ({name:?})"
                ));
            }
            let url = p.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "providers.{name}.base_url: must start with http:// or https://"
                ));
            }
            // An edited provider keeps what the page does not show (key sources, headers…).
            let mut kept = cfg
                .providers
                .iter()
                .find(|o| o.name == name)
                .cloned()
                .unwrap_or_else(|| Provider {
                    name: name.to_owned(),
                    base_url: String::new(),
                    api_key: None,
                    api_key_env: None,
                    api_key_file: None,
                    models: Vec::new(),
                    max_tokens_field: "max_tokens".into(),
                    reasoning_style: "openrouter".into(),
                    kilo_headers: false,
                    headers: Vec::new(),
                });
            url.clone_into(&mut kept.base_url);
            kept.models = p
                .models
                .iter()
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect();
            if let Some(k) = p
                .api_key
                .as_deref()
                .map(str::trim)
                .filter(|k| !k.is_empty())
            {
                kept.api_key = Some(k.to_owned());
            }
            providers.push(kept);
        }
        next.providers = providers;
    }
    if let Some(table) = &change.routing {
        next.routing = table.clone();
    }
    for rule in next.routing.rules.iter().chain([&next.routing.fallback]) {
        if rule.pattern.trim().is_empty() || rule.model.trim().is_empty() {
            return Err("routing: every rule needs a match and a model".into());
        }
        if !EFFORTS.contains(&rule.effort.as_str()) {
            return Err(format!(
                "routing: effort {:?} (of {:?}) is not one of {}",
                rule.effort,
                rule.pattern,
                EFFORTS.join(", ")
            ));
        }
        if rule.lane == Lane::Chat {
            let name = rule.provider.as_deref().unwrap_or("kilo");
            if !next.providers.iter().any(|p| p.name == name) {
                return Err(format!(
                    "routing: {:?} names provider {name:?}, which is not configured",
                    rule.pattern
                ));
            }
        }
    }
    if let Some(t) = &change.timeouts {
        for (key, value, field) in [
            (
                "first_byte_timeout_secs",
                t.first_byte_timeout_secs,
                &mut next.first_byte_timeout_secs,
            ),
            (
                "idle_timeout_secs",
                t.idle_timeout_secs,
                &mut next.idle_timeout_secs,
            ),
            (
                "ping_interval_secs",
                t.ping_interval_secs,
                &mut next.ping_interval_secs,
            ),
            (
                "commit_timeout_secs",
                t.commit_timeout_secs,
                &mut next.commit_timeout_secs,
            ),
        ] {
            if let Some(v) = value {
                if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                    return Err(format!("timeouts.{key}: seconds in (0, 86400]"));
                }
                *field = v;
            }
        }
    }
    if let Some(n) = change.max_attempts {
        if !(1..=MAX_ATTEMPTS).contains(&n) {
            return Err(format!("max_attempts: 1 to {MAX_ATTEMPTS}"));
        }
        next.max_attempts = n;
    }
    // The page sends every field: the file gets only what differs, so a value that came from
    // the environment (and was not edited) is not written into it.
    let mut touched = Vec::new();
    if next.providers != cfg.providers {
        touched.push(Touched::Providers);
    }
    if next.routing != cfg.routing {
        touched.push(Touched::Routing);
    }
    for (key, a, b) in [
        (
            "first_byte_timeout_secs",
            next.first_byte_timeout_secs,
            cfg.first_byte_timeout_secs,
        ),
        (
            "idle_timeout_secs",
            next.idle_timeout_secs,
            cfg.idle_timeout_secs,
        ),
        (
            "ping_interval_secs",
            next.ping_interval_secs,
            cfg.ping_interval_secs,
        ),
        (
            "commit_timeout_secs",
            next.commit_timeout_secs,
            cfg.commit_timeout_secs,
        ),
        (
            "max_attempts",
            f64::from(next.max_attempts),
            f64::from(cfg.max_attempts),
        ),
    ] {
        if a != b {
            touched.push(Touched::Number(key));
        }
    }
    Ok((next, touched))
}

/// The efforts a routing rule may name (the core clamps them to what a model accepts).
const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh", "max"];

/// The address clients reach this proxy at: the one this request used (the guard checked it
/// is the proxy's own host name), else the configured bind.
fn base_url(cfg: &Config, headers: &HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty())
        .map_or_else(
            || {
                let host = if cfg.host == "0.0.0.0" || cfg.host == "::" {
                    "127.0.0.1"
                } else {
                    cfg.host.as_str()
                };
                format!("http://{host}:{}", cfg.port)
            },
            |h| format!("http://{h}"),
        )
}

/// `GET /api/clients`: ready-to-paste configurations for the agents people point here.
pub async fn clients(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let cfg = st.cfg();
    ok(client_configs(
        &base_url(&cfg, &headers),
        cfg.client_key.is_some(),
    ))
}

/// The configs `GET /api/clients` and `docs/CLIENTS.md` show (a test checks they agree, and
/// drives the proxy the way each agent would with them).
pub fn client_configs(base: &str, keyed: bool) -> Value {
    // The key each agent sends: the proxy's client key when one is set (from the environment,
    // never written into a shared file), else any placeholder (both agents refuse an empty one).
    let (key_env, opencode_key, openclaw_key) = if keyed {
        (
            "your client key",
            "{env:CODEX_PROXY_KEY}",
            "${CODEX_PROXY_KEY}",
        )
    } else {
        ("any-key", "any-key", "any-key")
    };
    const OUTPUT: u64 = 64_000;
    let models: Vec<(&str, &str, u64)> = proxy_core::CLAUDE_MODELS
        .iter()
        .filter(|(id, _, _)| !id.ends_with("[1m]"))
        .map(|(id, name, ctx)| (*id, *name, *ctx))
        .collect();
    let opencode_models: serde_json::Map<String, Value> = models
        .iter()
        .map(|(id, name, ctx)| {
            (
                (*id).to_owned(),
                json!({
                    "name": name,
                    "reasoning": true,
                    "attachment": true,
                    "modalities": {"input": ["text", "image"], "output": ["text"]},
                    "limit": {"context": ctx, "output": OUTPUT},
                }),
            )
        })
        .collect();
    let openclaw_models: Vec<Value> = models
        .iter()
        .map(|(id, name, ctx)| {
            json!({
                "id": id,
                "name": name,
                "reasoning": true,
                "input": ["text", "image"],
                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                "contextWindow": ctx,
                "maxTokens": OUTPUT,
            })
        })
        .collect();
    json!({
        "base_url": base,
        "claude_code": {
            "env": {
                "ANTHROPIC_BASE_URL": base,
                "ANTHROPIC_API_KEY": key_env,
                "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-4-5",
                "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-5",
                "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5",
            },
            "shell": format!("export ANTHROPIC_BASE_URL={base}\nexport ANTHROPIC_API_KEY=\"{key_env}\"\n"),
        },
        "opencode": {
            "file": "opencode.json (the project) or ~/.config/opencode/opencode.json",
            "config": {
                "$schema": "https://opencode.ai/config.json",
                "provider": {
                    "codex-proxy": {
                        "npm": "@ai-sdk/anthropic",
                        "name": "codex-claude-proxy",
                        "options": {"baseURL": format!("{base}/v1"), "apiKey": opencode_key},
                        "models": opencode_models,
                    }
                },
                "model": "codex-proxy/claude-sonnet-4-5",
                "small_model": "codex-proxy/claude-haiku-4-5",
            },
        },
        "openclaw": {
            "file": "~/.openclaw/openclaw.json",
            "config": {
                "models": {
                    "mode": "merge",
                    "providers": {
                        "codex-proxy": {
                            "baseUrl": base,
                            "apiKey": openclaw_key,
                            "api": "anthropic-messages",
                            "models": openclaw_models,
                        }
                    }
                },
                "agents": {"defaults": {"model": {
                    "primary": "codex-proxy/claude-sonnet-4-5",
                    "fallbacks": ["codex-proxy/claude-haiku-4-5"],
                }}},
            },
        },
    })
}

/// `GET /claude/config/preview?mode=proxy|direct`: Claude Code's settings now and after the
/// change, secrets masked in both (the page shows the diff before the user applies it).
pub async fn claude_preview(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = guard(&st, &headers, None) {
        return e.into_response();
    }
    let direct = match q.get("mode").map(String::as_str) {
        Some("proxy") | None => false,
        Some("direct") => true,
        Some(other) => {
            return bad(
                ErrorType::InvalidRequestError,
                &format!("mode: proxy or direct, not {other:?}"),
            );
        }
    };
    let base = base_url(&st.cfg(), &headers);
    match crate::claude_setup::plan(&st.cfg(), direct, Some(base)) {
        Ok(plan) => {
            let before = plan
                .existing
                .as_deref()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .map(masked);
            let after = serde_json::from_str::<Value>(&plan.edit.json)
                .map(masked)
                .unwrap_or(Value::Null);
            ok(json!({
                "path": plan.path,
                "before": before,
                "after": after,
                "changes": plan.edit.changes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }))
        }
        Err(e) => bad(ErrorType::ApiError, &e),
    }
}

/// Claude Code settings with every secret-looking `env` value masked.
pub fn masked(mut v: Value) -> Value {
    if let Some(env) = v.get_mut("env").and_then(Value::as_object_mut) {
        for (k, val) in env.iter_mut() {
            let secret = proxy_core::claude_settings::is_secret_key(k)
                || ["TOKEN", "KEY", "SECRET", "HEADER"]
                    .iter()
                    .any(|w| k.contains(w));
            if let (true, Some(s)) = (secret, val.as_str()) {
                *val = Value::String(proxy_core::claude_settings::mask_secret(s));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/CLIENTS.md shows, for the default address, exactly what the binary hands out.
    #[test]
    fn the_clients_doc_shows_what_the_binary_hands_out() {
        let doc = include_str!("../../../docs/CLIENTS.md");
        let blocks: Vec<Value> = doc
            .split("```json\n")
            .skip(1)
            .map(|b| serde_json::from_str(&b[..b.find("\n```").expect("closed")]).expect("json"))
            .collect();
        let c = client_configs("http://127.0.0.1:8081", false);
        assert_eq!(
            blocks,
            [
                c["opencode"]["config"].clone(),
                c["openclaw"]["config"].clone()
            ]
        );
        assert!(doc.contains(c["claude_code"]["shell"].as_str().expect("shell")));
    }

    #[test]
    fn a_keyed_proxy_hands_out_configs_that_read_the_key_from_the_environment() {
        let c = client_configs("http://10.0.0.2:8081", true).to_string();
        assert!(
            c.contains("{env:CODEX_PROXY_KEY}") && c.contains("${CODEX_PROXY_KEY}"),
            "{c}"
        );
        assert!(!c.contains("any-key"), "{c}");
    }
}
