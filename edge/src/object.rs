//! `AccountObject`: one Durable Object per account, the single writer of its tokens.
//!
//! Refresh tokens are single-use and KV is eventually consistent, so no isolate refreshes on
//! its own: a request that needs a token asks the account's object. The object refreshes at
//! most once at a time (concurrent callers await the same refresh and all get its token),
//! writes the sealed result to KV, and keeps the account's cooldowns, which every isolate sees
//! because every isolate asks the same object.
//!
//! Routes (internal, `http://account/…`): `POST /token {"now", "stale"?}` →
//! `{"token"}` | `{"relogin"}` | `{"transient"}`; `POST /state {"model"}` →
//! `{"cooldown_until", "relogin", "quota"}`; `POST /cooldown {"model", "until"}`; `POST /quota {"at", "limits"}`; `POST /reload`.

use crate::accounts::{self, EdgeAccount};
use crate::seal::SealKey;
use futures_util::FutureExt;
use futures_util::future::{LocalBoxFuture, Shared};
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::HashMap;
use worker::{
    DurableObject, Env, Fetch, Headers, Method, Request, RequestInit, Response, State,
    durable_object,
};

/// Refresh this long before the access token expires (as the native host).
const REFRESH_MARGIN_SECS: u64 = 300;

type Refresh = Shared<LocalBoxFuture<'static, Result<EdgeAccount, (bool, String)>>>;

#[durable_object]
pub struct AccountObject {
    env: Env,
    account: RefCell<Option<EdgeAccount>>,
    cooldowns: RefCell<HashMap<String, u64>>,
    /// The latest `x-codex-*` quota the backend reported for this account, and when.
    quota: RefCell<Value>,
    refreshing: RefCell<Option<Refresh>>,
    refreshes: RefCell<u64>,
}

fn seal_key(env: &Env) -> Result<SealKey, String> {
    crate::setting(env, "SEAL_KEY")
        .map(|s| SealKey::from_secret(&s))
        .ok_or_else(|| "this Worker has no SEAL_KEY secret: set one with `wrangler secret put SEAL_KEY` before pushing accounts".into())
}

/// One refresh at the issuer; the refreshed account is sealed into KV before it is handed out.
async fn refresh(env: Env, mut a: EdgeAccount, now: u64) -> Result<EdgeAccount, (bool, String)> {
    let Some(rt) = a.refresh_token.clone() else {
        return Err((true, "no refresh token stored".into()));
    };
    let issuer =
        crate::setting(&env, "OAUTH_ISSUER").unwrap_or_else(|| proxy_core::oauth::ISSUER.into());
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(proxy_core::oauth::refresh_body(&rt).into()));
    let url = format!("{}/oauth/token", issuer.trim_end_matches('/'));
    let req = Request::new_with_init(&url, &init).map_err(|e| (false, e.to_string()))?;
    let mut resp = Fetch::Request(req)
        .send()
        .await
        .map_err(|e| (false, format!("token endpoint unreachable: {e}")))?;
    let status = resp.status_code();
    let body = resp.text().await.unwrap_or_default();
    let t = proxy_core::oauth::refresh_outcome(status, &body, now)
        .map_err(|e| (e.permanent, if e.permanent { e.code } else { e.message }))?;
    a.access_token = t.access_token;
    a.expires_at = t.expires_at;
    if let Some(r) = t.refresh_token {
        a.refresh_token = Some(r);
    }
    a.last_refresh = Some(now);
    let kv = env.kv("ACCOUNTS").map_err(|e| (false, e.to_string()))?;
    let seal = seal_key(&env).map_err(|e| (false, e))?;
    accounts::save(&kv, &seal, &a)
        .await
        .map_err(|e| (false, e))?;
    Ok(a)
}

impl AccountObject {
    async fn account(&self, id: &str) -> Result<EdgeAccount, String> {
        if let Some(a) = self.account.borrow().clone() {
            return Ok(a);
        }
        let kv = self.env.kv("ACCOUNTS").map_err(|e| e.to_string())?;
        let a = accounts::load(&kv, &seal_key(&self.env)?, id).await?;
        *self.account.borrow_mut() = Some(a.clone());
        Ok(a)
    }

    async fn token(&self, id: &str, now: u64, stale: Option<&str>) -> Value {
        let a = match self.account(id).await {
            Ok(a) => a,
            Err(e) => return json!({"transient": e}),
        };
        if let Some(r) = &a.relogin_reason {
            return json!({"relogin": r});
        }
        let needed = match stale {
            Some(t) => a.access_token == t,
            None => {
                a.refresh_token.is_some()
                    && proxy_core::accounts::needs_refresh(
                        a.expires_at,
                        a.last_refresh,
                        now,
                        REFRESH_MARGIN_SECS,
                    )
            }
        };
        if !needed {
            return json!({"token": a.access_token});
        }
        // Single flight: the first caller starts the refresh, everyone awaits the same one.
        let (fut, mine) = match self.refreshing.borrow().clone() {
            Some(f) => (f, false),
            None => (
                refresh(self.env.clone(), a.clone(), now)
                    .boxed_local()
                    .shared(),
                true,
            ),
        };
        if mine {
            *self.refreshing.borrow_mut() = Some(fut.clone());
            *self.refreshes.borrow_mut() += 1;
        }
        let out = fut.await;
        if mine {
            *self.refreshing.borrow_mut() = None;
        }
        match out {
            Ok(new) => {
                let token = new.access_token.clone();
                *self.account.borrow_mut() = Some(new);
                json!({"token": token})
            }
            Err((true, why)) => {
                let mut dead = a;
                dead.relogin_reason = Some(why.clone());
                if let (Ok(kv), Ok(seal)) = (self.env.kv("ACCOUNTS"), seal_key(&self.env)) {
                    let _ = accounts::save(&kv, &seal, &dead).await;
                }
                *self.account.borrow_mut() = Some(dead);
                json!({"relogin": why})
            }
            // The issuer is down but the token still works: use it while it lasts.
            Err((false, _)) if stale.is_none() && a.expires_at.is_some_and(|e| e > now) => {
                json!({"token": a.access_token})
            }
            Err((false, why)) => json!({"transient": why}),
        }
    }
}

impl DurableObject for AccountObject {
    fn new(_state: State, env: Env) -> Self {
        Self {
            env,
            account: RefCell::new(None),
            cooldowns: RefCell::new(HashMap::new()),
            quota: RefCell::new(Value::Null),
            refreshing: RefCell::new(None),
            refreshes: RefCell::new(0),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let url = req.url()?;
        let id = url
            .query_pairs()
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        match url.path() {
            "/token" => {
                let body: Value = req.json().await?;
                let now = body["now"].as_u64().unwrap_or(0);
                let out = self.token(&id, now, body["stale"].as_str()).await;
                Response::from_json(&out)
            }
            "/state" => {
                let body: Value = req.json().await?;
                let model = body["model"].as_str().unwrap_or("").to_owned();
                let until = self.cooldowns.borrow().get(&model).copied().unwrap_or(0);
                let relogin = match self.account(&id).await {
                    Ok(a) => a.relogin_reason.is_some(),
                    Err(_) => false,
                };
                Response::from_json(&json!({"cooldown_until": until, "relogin": relogin,
                    "refreshes": *self.refreshes.borrow(), "quota": *self.quota.borrow()}))
            }
            "/cooldown" => {
                let body: Value = req.json().await?;
                if let (Some(m), Some(u)) = (body["model"].as_str(), body["until"].as_u64()) {
                    self.cooldowns.borrow_mut().insert(m.to_owned(), u);
                }
                Response::from_json(&json!({"ok": true}))
            }
            "/quota" => {
                *self.quota.borrow_mut() = req.json().await?;
                Response::from_json(&json!({"ok": true}))
            }
            "/reload" => {
                *self.account.borrow_mut() = None;
                self.cooldowns.borrow_mut().clear();
                Response::from_json(&json!({"ok": true}))
            }
            _ => Response::error("no such route", 404),
        }
    }
}
