//! ChatGPT sign-in: the browser flow with a local callback server, the paste flow for
//! machines without a browser, and the device-code flow. The pure parts (PKCE, URLs, bodies,
//! claims) are `proxy_core::oauth`; this module does the HTTP and the waiting.

use crate::accounts::store::StoredAccount;
use crate::clock::now_secs;
use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use proxy_core::oauth::{
    DEVICE_REDIRECT_URI, Pkce, TokenResponse, authorize_url, code_exchange_body, device_code_body,
    device_poll_body, pkce_from_entropy, read_claims, state_from_entropy, token_error,
};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// Ports the issuer accepts in the redirect URI, in the order tried.
pub const CALLBACK_PORTS: [u16; 2] = [1455, 1457];

/// A login that failed, with a message for the user (never containing a token).
#[derive(Debug)]
pub struct LoginError(pub String);

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn random(n: usize) -> Result<Vec<u8>, LoginError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| LoginError(format!("no randomness available: {e}")))?;
    Ok(b)
}

/// A started browser/paste login: the URL to open and what completes it.
pub struct Pending {
    /// The authorize URL.
    pub url: String,
    /// The expected `state`.
    pub state: String,
    /// PKCE pair.
    pub pkce: Pkce,
    /// The redirect URI used.
    pub redirect_uri: String,
}

/// Start a login for a redirect port.
pub fn start(issuer: &str, port: u16, second_account: bool) -> Result<Pending, LoginError> {
    let pkce = pkce_from_entropy(&random(64)?);
    let state = state_from_entropy(&random(32)?);
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    let url = authorize_url(
        issuer,
        &redirect_uri,
        &pkce.challenge,
        &state,
        second_account,
    );
    Ok(Pending {
        url,
        state,
        pkce,
        redirect_uri,
    })
}

/// Pull `code` and `state` out of what a user pasted: a callback URL, a query string, or a
/// bare code.
pub fn parse_pasted(input: &str) -> (String, Option<String>) {
    let input = input.trim();
    let query = input.split_once('?').map_or(input, |(_, q)| q);
    if !query.contains("code=") {
        return (input.to_owned(), None);
    }
    let mut code = String::new();
    let mut state = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "code" => code = v,
            "state" => state = Some(v),
            _ => {}
        }
    }
    (code, state)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Bind the callback server on the first free port (or exactly `port` when given).
pub async fn bind_callback(port: Option<u16>) -> Result<tokio::net::TcpListener, LoginError> {
    let ports: Vec<u16> = match port {
        Some(p) => vec![p],
        None => CALLBACK_PORTS.to_vec(),
    };
    let mut last = None;
    for p in ports {
        match tokio::net::TcpListener::bind(("127.0.0.1", p)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(format!("port {p}: {e}")),
        }
    }
    Err(LoginError(format!(
        "cannot listen for the sign-in callback ({}); use --no-browser to paste the callback URL instead",
        last.unwrap_or_default()
    )))
}

/// Serve `/auth/callback` until it is hit once; returns (code, state).
pub async fn wait_callback(
    listener: tokio::net::TcpListener,
    timeout: Duration,
) -> Result<(String, String), LoginError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<HashMap<String, String>>(1);
    let app = axum::Router::new().route(
        "/auth/callback",
        get(move |Query(q): Query<HashMap<String, String>>| {
            let tx = tx.clone();
            async move {
                let ok = q.contains_key("code");
                let _ = tx.send(q).await;
                Html(if ok {
                    "<h1>Signed in</h1><p>You can close this tab and return to the terminal.</p>"
                } else {
                    "<h1>Sign-in failed</h1><p>Return to the terminal for details.</p>"
                })
            }
        }),
    );
    // The server stops (and frees the port) however this future ends: answered, timed out,
    // or dropped because a newer sign-in replaced it.
    struct AbortOnDrop(tokio::task::JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _server = AbortOnDrop(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }));
    let got = tokio::time::timeout(timeout, rx.recv()).await;
    let q = got
        .map_err(|_| LoginError("no sign-in callback arrived in time".into()))?
        .ok_or_else(|| LoginError("the callback server stopped".into()))?;
    if let Some(e) = q.get("error") {
        let desc = q.get("error_description").cloned().unwrap_or_default();
        let hint = if desc.contains("missing_codex_entitlement") {
            " (Codex is not enabled for this workspace)"
        } else {
            ""
        };
        return Err(LoginError(format!("sign-in refused: {e} {desc}{hint}")));
    }
    let code = q.get("code").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    Ok((code, state))
}

#[derive(Deserialize)]
struct DeviceCode {
    device_auth_id: String,
    #[serde(alias = "usercode")]
    user_code: String,
    #[serde(default)]
    interval: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct DeviceToken {
    authorization_code: String,
    code_verifier: String,
}

/// Exchange an authorization code for tokens and build the account.
pub async fn exchange(
    client: &reqwest::Client,
    issuer: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<StoredAccount, LoginError> {
    let resp = client
        .post(format!("{}/oauth/token", issuer.trim_end_matches('/')))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(code_exchange_body(code, redirect_uri, verifier))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| LoginError(format!("token endpoint unreachable: {}", e.without_url())))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        let e = token_error(status, &body);
        return Err(LoginError(format!(
            "the code exchange failed: {} {}",
            e.code, e.message
        )));
    }
    let t: TokenResponse = serde_json::from_str(&body)
        .map_err(|_| LoginError("the token endpoint answered something else than JSON".into()))?;
    account_from_tokens(t)
}

/// An account from a token response (claims read from the id token, then the access token).
pub fn account_from_tokens(t: TokenResponse) -> Result<StoredAccount, LoginError> {
    let access = t
        .access_token
        .ok_or_else(|| LoginError("no access token in the answer".into()))?;
    let id_claims = t.id_token.as_deref().and_then(|j| read_claims(j).ok());
    let access_claims = read_claims(&access).ok();
    let pick = |f: fn(&proxy_core::oauth::Claims) -> Option<String>| {
        id_claims
            .as_ref()
            .and_then(f)
            .or_else(|| access_claims.as_ref().and_then(f))
    };
    let account_id = pick(|c| c.account_id.clone())
        .ok_or_else(|| LoginError("the tokens name no ChatGPT account id".into()))?;
    let now = now_secs();
    Ok(StoredAccount {
        account_id,
        email: pick(|c| c.email.clone()),
        plan_type: pick(|c| c.plan_type.clone()),
        expires_at: access_claims
            .as_ref()
            .and_then(|c| c.exp)
            .or(t.expires_in.map(|s| now + s)),
        access_token: access,
        refresh_token: t.refresh_token,
        id_token: t.id_token,
        last_refresh: Some(now),
        added_at: now,
        relogin_reason: None,
    })
}

/// The device-code flow: shows a code, polls until the user confirms it.
pub async fn device_login(
    client: &reqwest::Client,
    issuer: &str,
    mut show: impl FnMut(&str, &str),
    mut tick: impl FnMut(),
) -> Result<StoredAccount, LoginError> {
    let base = issuer.trim_end_matches('/');
    let r = client
        .post(format!("{base}/api/accounts/deviceauth/usercode"))
        .header("content-type", "application/json")
        .body(device_code_body())
        .send()
        .await
        .map_err(|e| LoginError(format!("device code request failed: {}", e.without_url())))?;
    if r.status().as_u16() == 404 {
        return Err(LoginError(
            "device code login is not enabled for this issuer".into(),
        ));
    }
    let dc: DeviceCode = r
        .json()
        .await
        .map_err(|_| LoginError("the device code answer was not understood".into()))?;
    let interval = dc
        .interval
        .as_ref()
        .and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64())
        })
        .unwrap_or(5)
        .clamp(1, 30);
    show(&format!("{base}/codex/device"), &dc.user_code);
    let deadline = std::time::Instant::now() + Duration::from_secs(15 * 60);
    loop {
        if std::time::Instant::now() > deadline {
            return Err(LoginError("the device code expired (15 minutes)".into()));
        }
        let r = client
            .post(format!("{base}/api/accounts/deviceauth/token"))
            .header("content-type", "application/json")
            .body(device_poll_body(&dc.device_auth_id, &dc.user_code))
            .send()
            .await
            .map_err(|e| LoginError(format!("polling failed: {}", e.without_url())))?;
        match r.status().as_u16() {
            200 => {
                let t: DeviceToken = r
                    .json()
                    .await
                    .map_err(|_| LoginError("the device token answer was not understood".into()))?;
                return exchange(
                    client,
                    issuer,
                    &t.authorization_code,
                    DEVICE_REDIRECT_URI,
                    &t.code_verifier,
                )
                .await;
            }
            403 | 404 => {
                tick();
                tokio::time::sleep(Duration::from_secs(interval)).await;
            }
            s => return Err(LoginError(format!("device login failed (HTTP {s})"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_inputs() {
        assert_eq!(
            parse_pasted("http://localhost:1455/auth/callback?code=ab%2Bc&state=s1"),
            ("ab+c".into(), Some("s1".into()))
        );
        assert_eq!(parse_pasted("  rawcode \n"), ("rawcode".into(), None));
        assert_eq!(
            parse_pasted("code=x&state=y"),
            ("x".into(), Some("y".into()))
        );
    }
}
