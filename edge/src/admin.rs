//! `/admin/*`: the admin key (`ADMIN_KEY` secret; a client key is refused) guards the account
//! routes. `PUT /admin/accounts` takes accounts with their tokens (what `codex-claude-proxy
//! edge push` sends over HTTPS), seals each into KV and resets its object; `GET
//! /admin/accounts` shows what the Worker holds, never a token.

use crate::accounts::{self, EdgeAccount};
use crate::driver::AccountStore;
use crate::seal::SealKey;
use crate::{auth, setting};
use serde_json::{Value, json};
use worker::{Env, Method, Request, Response};

fn refuse(status: u16, message: &str) -> worker::Result<Response> {
    let body = proxy_core::error_body(proxy_core::ErrorType::AuthenticationError, message);
    Ok(Response::from_bytes(body.into_bytes())?
        .with_status(status)
        .with_headers([("content-type", "application/json")].iter().collect()))
}

fn fail(message: &str) -> worker::Result<Response> {
    let body = proxy_core::error_body(proxy_core::ErrorType::ApiError, message);
    Ok(Response::from_bytes(body.into_bytes())?.with_status(500))
}

/// An admin request.
pub async fn handle(mut req: Request, env: &Env) -> worker::Result<Response> {
    let Some(admin) = setting(env, "ADMIN_KEY") else {
        return refuse(
            401,
            "this Worker has no admin key: set one with `wrangler secret put ADMIN_KEY`",
        );
    };
    let given = req.headers().get("x-admin-key").ok().flatten();
    if !given
        .as_deref()
        .is_some_and(|g| auth::key_matches(&admin, g))
    {
        return refuse(
            401,
            "admin routes need the admin key (x-admin-key), not a client key",
        );
    }
    let (Ok(kv), Ok(objects)) = (env.kv("ACCOUNTS"), env.durable_object("ACCOUNT")) else {
        return fail(
            "the ACCOUNTS KV namespace or the ACCOUNT Durable Object is not bound (edge/wrangler.toml)",
        );
    };
    let Some(seal) = setting(env, "SEAL_KEY").map(|s| SealKey::from_secret(&s)) else {
        return fail(
            "this Worker has no SEAL_KEY secret: set one with `wrangler secret put SEAL_KEY`",
        );
    };
    let store = AccountStore { kv, objects };
    match (req.method(), req.path().as_str()) {
        (Method::Put, "/admin/accounts") => {
            let body: Value = match req.json().await {
                Ok(v) => v,
                Err(_) => return fail("the body must be {\"accounts\": [...]}"),
            };
            let list: Vec<EdgeAccount> = match serde_json::from_value(body["accounts"].clone()) {
                Ok(l) => l,
                // Not serde's text: it can quote a value, and values here are tokens.
                Err(e) => {
                    return fail(&format!(
                        "accounts: not a list of accounts (each needs account_id and access_token strings; {:?} error)",
                        e.classify()
                    ));
                }
            };
            let mut stored = Vec::new();
            for a in &list {
                if let Err(e) = accounts::save(&store.kv, &seal, a).await {
                    return fail(&e);
                }
                // The object forgets what it held, so the pushed tokens win.
                let _ = store.call(&a.account_id, "/reload", Some(json!({}))).await;
                stored.push(a.summary());
            }
            Response::from_json(&json!({"stored": stored.len(), "accounts": stored}))
        }
        (Method::Get, "/admin/accounts") => {
            let ids = accounts::ids(&store.kv).await.unwrap_or_default();
            let mut out = Vec::new();
            for id in ids {
                let mut entry = match accounts::load(&store.kv, &seal, &id).await {
                    Ok(a) => a.summary(),
                    Err(e) => json!({"tag": proxy_core::accounts::account_tag(&id), "error": e}),
                };
                // Live quota and cooldown state live in the account's object.
                if let Ok(state) = store.call(&id, "/state", Some(json!({"model": ""}))).await {
                    entry["quota"] = state["quota"].clone();
                }
                out.push(entry);
            }
            Response::from_json(&json!({"accounts": out}))
        }
        _ => Response::error("no such admin route", 404),
    }
}
