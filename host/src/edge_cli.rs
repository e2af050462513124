//! `codex-claude-proxy edge push | status`: hand accounts to a deployed edge Worker (its
//! `/admin/accounts`, behind its admin key) and show what it holds. Tokens travel only in the
//! request body, over HTTPS (plain HTTP only to a loopback Worker), and are never printed.
//!
//! Refresh tokens are single-use: once the Worker refreshes a pushed account, this machine's
//! copy of the refresh token is spent. `--move` removes the pushed accounts here so only the
//! Worker uses them.

use crate::accounts::store::StoredAccount;
use crate::accounts::tag_of;
use crate::cli::{client, fail, find, open_store};
use crate::config::Config;
use serde_json::{Value, json};
use std::process::ExitCode;

/// Where the Worker is and how to reach its admin routes.
pub struct EdgeTarget {
    /// The Worker's base URL.
    pub url: String,
    /// Its `ADMIN_KEY`.
    pub admin_key: String,
}

fn check_url(url: &str) -> Result<(), String> {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.starts_with(p));
    if url.starts_with("https://") || loopback {
        Ok(())
    } else {
        Err(format!(
            "{url}: tokens go to a Worker over HTTPS only (plain HTTP only to a loopback address)"
        ))
    }
}

fn wire(a: &StoredAccount) -> Value {
    json!({
        "account_id": a.account_id, "email": a.email, "plan_type": a.plan_type,
        "access_token": a.access_token, "refresh_token": a.refresh_token,
        "expires_at": a.expires_at, "last_refresh": a.last_refresh,
    })
}

async fn call(
    t: &EdgeTarget,
    method: reqwest::Method,
    body: Option<Value>,
) -> Result<Value, String> {
    check_url(&t.url)?;
    let url = format!("{}/admin/accounts", t.url.trim_end_matches('/'));
    let mut rb = client()
        .request(method, url)
        .header("x-admin-key", &t.admin_key);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb
        .send()
        .await
        .map_err(|e| format!("the Worker cannot be reached: {}", e.without_url()))?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if status != 200 {
        let msg = v["error"]["message"].as_str().unwrap_or("no error message");
        return Err(format!("the Worker answered {status}: {msg}"));
    }
    Ok(v)
}

fn print_held(v: &Value) {
    for a in v["accounts"].as_array().into_iter().flatten() {
        let state = if a["relogin_needed"] == true {
            "needs a new login".to_owned()
        } else if let Some(e) = a["error"].as_str() {
            e.to_owned()
        } else {
            format!("token expires at {}", a["expires_at"])
        };
        println!(
            "{} ({}): {state}",
            a["email"].as_str().unwrap_or("no email"),
            a["tag"].as_str().unwrap_or("?")
        );
    }
}

/// `edge push [ACCOUNT…] [--move]`: every stored account, or the named ones.
pub async fn push(cfg: &Config, t: &EdgeTarget, names: &[String], move_them: bool) -> ExitCode {
    let store = match open_store(cfg) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let chosen: Vec<StoredAccount> = if names.is_empty() {
        store.load().0
    } else {
        let mut out = Vec::new();
        for n in names {
            match find(&store, n) {
                Some(a) => out.push(a),
                None => return fail(format!("no stored account matches {n}")),
            }
        }
        out
    };
    if chosen.is_empty() {
        return fail("no account to push: add one with `codex-claude-proxy accounts add`");
    }
    let body = json!({"accounts": chosen.iter().map(wire).collect::<Vec<_>>()});
    match call(t, reqwest::Method::PUT, Some(body)).await {
        Ok(v) => {
            println!("pushed {} account(s) to {}:", v["stored"], t.url);
            print_held(&v);
            if move_them {
                for a in &chosen {
                    if let Err(e) = store.lock().and_then(|l| store.remove(&l, &a.account_id)) {
                        return fail(format!(
                            "pushed, but {} could not be removed here: {e}",
                            tag_of(&a.account_id)
                        ));
                    }
                }
                println!("removed them here: the Worker now refreshes them alone");
            } else {
                println!(
                    "note: the Worker refreshes them from now on; a refresh here would spend the same single-use refresh token (use --move to hand them over)"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `edge status`: what the Worker holds.
pub async fn status(t: &EdgeTarget) -> ExitCode {
    match call(t, reqwest::Method::GET, None).await {
        Ok(v) => {
            print_held(&v);
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
