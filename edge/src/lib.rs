//! proxy-edge: codex-claude-proxy as a Cloudflare Worker.
//!
//! The second driver of proxy-core's exchange machine (the native host's `relay.rs` is the
//! first): the same conversion, retries, late commit, timeouts, pings and error shapes, with
//! `fetch` for IO and `Date.now()` for time. This file is the surface (routes, the client
//! key); `driver.rs` runs one exchange. It depends on proxy-core only.
//!
//! Configuration (wrangler.toml `[vars]` and secrets, docs/EDGE.md): `CLIENT_KEYS` (secret,
//! comma-separated; required: with none set every request gets a 401 saying how to set one),
//! `ADMIN_KEY` (secret, for `/admin/*`), `SEAL_KEY` (secret, seals tokens in KV),
//! `KILO_BASE_URL`, `CODEX_BASE_URL`, `OAUTH_ISSUER`; bindings `ACCOUNTS` (KV) and `ACCOUNT`
//! (Durable Object class `AccountObject`, one per account).

#![forbid(unsafe_code)]

mod accounts;
mod admin;
mod auth;
mod driver;
mod object;
mod seal;

use proxy_core::exchange::{Dialect, error_reply};
use proxy_core::{ErrorType, RoutingTable};
use worker::{Context, Env, Method, Request, Response, event};

/// The Kilo gateway (the zero-setup Chat lane), unless `KILO_BASE_URL` says otherwise.
const KILO_BASE_URL: &str = "https://api.kilo.ai/api/openrouter";
/// The ChatGPT backend, unless `CODEX_BASE_URL` names egress the user runs.
const CODEX_BASE_URL: &str = "https://chatgpt.com/backend-api";

/// A configuration value: a secret, else a plain variable.
pub(crate) fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .ok()
        .map(|s| s.to_string())
        .or_else(|| env.var(name).ok().map(|v| v.to_string()))
        .filter(|s| !s.is_empty())
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let path = req.path();
    let dialect = if path.starts_with("/v1/chat/") {
        Dialect::OpenAi
    } else {
        Dialect::Anthropic
    };
    // Admin routes take the admin key, never a client key.
    if path.starts_with("/admin/") {
        return admin::handle(req, &env).await;
    }
    if let Err(message) = auth::check(&req, setting(&env, "CLIENT_KEYS").as_deref()) {
        return driver::reply(error_reply(
            dialect,
            ErrorType::AuthenticationError,
            &message,
            None,
        ));
    }
    let routing = RoutingTable::default();
    match (req.method(), path.as_str()) {
        (Method::Get, "/health") => Response::from_json(&serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "edge": true,
            "lanes": {"codex": env.kv("ACCOUNTS").is_ok(), "chat": ["kilo"]},
        })),
        (Method::Get, "/v1/models") => {
            let kilo = [(
                "kilo-auto/free".to_owned(),
                "kilo-auto/free (kilo)".to_owned(),
            )];
            Response::from_json(&proxy_core::models_page(&kilo, 1000))
        }
        (Method::Post, "/v1/messages/count_tokens") => driver::count_tokens(req, &routing).await,
        (Method::Post, "/v1/messages") | (Method::Post, "/v1/chat/completions") => {
            let config = driver::EdgeConfig {
                kilo_base_url: setting(&env, "KILO_BASE_URL")
                    .unwrap_or_else(|| KILO_BASE_URL.into()),
                codex_base_url: setting(&env, "CODEX_BASE_URL")
                    .unwrap_or_else(|| CODEX_BASE_URL.into()),
                accounts: match (env.kv("ACCOUNTS"), env.durable_object("ACCOUNT")) {
                    (Ok(kv), Ok(objects)) => Some(driver::AccountStore { kv, objects }),
                    _ => None,
                },
            };
            driver::serve(req, dialect, &routing, config).await
        }
        _ => driver::reply(error_reply(
            dialect,
            ErrorType::NotFoundError,
            &format!("no route for {path}"),
            None,
        )),
    }
}
