//! OAuth issuer (codex.md §4): `/oauth/authorize` (302 with a code), `/oauth/token`
//! (authorization_code with PKCE S256; refresh_token with rotation and reuse detection), and
//! the device-code endpoints under `/api/accounts/deviceauth/`.

use crate::jwt::{CLIENT_ID, Identity};
use crate::server::{CodeInfo, DeviceInfo, Req, Shared, logged, set_header};
use crate::util::{form_get, parse_form, s256, url_encode, uuid_from};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const DEVICE_REDIRECT: &str = "https://auth.openai.com/deviceauth/callback";
const DEFAULT_EMAIL: &str = "user@example.com";

fn identity(email: Option<&str>, account: Option<&str>) -> Identity {
    let email = email.filter(|e| !e.is_empty()).unwrap_or(DEFAULT_EMAIL);
    Identity {
        account_id: account
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| uuid_from(&format!("account:{email}"))),
        email: email.to_string(),
    }
}

fn grant_error(error: &str, description: &str) -> Value {
    json!({"error": error, "error_description": description})
}

/// `GET /oauth/authorize?response_type=code&client_id=…&redirect_uri=…&code_challenge=…&
/// code_challenge_method=S256&state=…` → 302 to `redirect_uri?code=…&state=…`.
/// Fake-only extras: `fake_email`, `fake_account_id` choose who "signs in".
pub(crate) fn authorize(shared: &Shared, req: &Req) -> Response {
    let q = parse_form(&req.query);
    let get = |k: &str| form_get(&q, k).unwrap_or("");
    let problem = if get("response_type") != "code" {
        Some("response_type must be 'code'")
    } else if get("client_id") != CLIENT_ID {
        Some("unknown client_id")
    } else if get("redirect_uri").is_empty() {
        Some("redirect_uri is required")
    } else if get("code_challenge").is_empty() {
        Some("code_challenge is required")
    } else if get("code_challenge_method") != "S256" {
        Some("code_challenge_method must be S256")
    } else {
        None
    };
    if let Some(p) = problem {
        return logged(shared, req, 400, grant_error("invalid_request", p));
    }
    let who = identity(form_get(&q, "fake_email"), form_get(&q, "fake_account_id"));
    let code = format!("ac_{}", shared.rng().b64url(32));
    shared.lock().codes.insert(
        code.clone(),
        CodeInfo {
            challenge: get("code_challenge").to_string(),
            redirect_uri: get("redirect_uri").to_string(),
            identity: who,
            used: false,
        },
    );
    let redirect = get("redirect_uri");
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect}{sep}code={}", url_encode(&code));
    if let Some(state) = form_get(&q, "state") {
        location.push_str(&format!("&state={}", url_encode(state)));
    }
    shared.push_log(req.log_entry(302));
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = axum::http::StatusCode::FOUND;
    set_header(&mut resp, "location", &location);
    resp
}

/// Body fields of a JSON or form-encoded request.
fn fields(req: &Req) -> Vec<(String, String)> {
    let is_json = req
        .header("content-type")
        .is_some_and(|c| c.contains("json"));
    if is_json {
        let v: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), s)
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        parse_form(&String::from_utf8_lossy(&req.body))
    }
}

fn token_body(shared: &Shared, who: &Identity) -> Value {
    let (access, refresh, id) = shared.mint(who);
    json!({
        "id_token": id,
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": shared.cfg.expires_in,
        "token_type": "Bearer",
        "scope": "openid profile email offline_access"
    })
}

/// `POST /oauth/token`.
pub(crate) async fn token(shared: &Arc<Shared>, req: &Req) -> Response {
    let f = fields(req);
    let get = |k: &str| form_get(&f, k).unwrap_or("");
    match get("grant_type") {
        "authorization_code" => {
            if get("client_id") != CLIENT_ID {
                return logged(
                    shared,
                    req,
                    401,
                    grant_error("invalid_client", "Unknown client_id"),
                );
            }
            let verdict = {
                let mut g = shared.lock();
                match g.codes.get_mut(get("code")) {
                    None => Err("Invalid authorization code"),
                    Some(c) if c.used => Err("Authorization code has already been used"),
                    Some(c) if c.redirect_uri != get("redirect_uri") => {
                        Err("redirect_uri does not match the authorization request")
                    }
                    Some(c) if s256(get("code_verifier")) != c.challenge => {
                        Err("Invalid code_verifier (PKCE verification failed)")
                    }
                    Some(c) => {
                        c.used = true;
                        Ok(c.identity.clone())
                    }
                }
            };
            match verdict {
                Ok(who) => {
                    let body = token_body(shared, &who);
                    logged(shared, req, 200, body)
                }
                Err(msg) => logged(shared, req, 400, grant_error("invalid_grant", msg)),
            }
        }
        "refresh_token" => {
            shared.lock().refresh_calls += 1;
            if shared.cfg.refresh_delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(shared.cfg.refresh_delay_ms)).await;
            }
            if get("client_id") != CLIENT_ID {
                return logged(
                    shared,
                    req,
                    401,
                    grant_error("invalid_client", "Unknown client_id"),
                );
            }
            let verdict = {
                let mut g = shared.lock();
                match g.refresh.get_mut(get("refresh_token")) {
                    None => Err((
                        "refresh_token_invalidated",
                        "Your refresh token has been invalidated. Please try signing in again.",
                    )),
                    Some(r) if r.used => Err((
                        "refresh_token_reused",
                        "Your refresh token has already been used to generate a new access token. Please try signing in again.",
                    )),
                    Some(r) => {
                        r.used = true;
                        Ok(r.identity.clone())
                    }
                }
            };
            match verdict {
                Ok(who) => {
                    let body = token_body(shared, &who);
                    logged(shared, req, 200, body)
                }
                Err((code, msg)) => logged(
                    shared,
                    req,
                    401,
                    json!({"error": {"message": msg, "type": "invalid_request_error",
                                     "param": null, "code": code}}),
                ),
            }
        }
        "" => logged(
            shared,
            req,
            400,
            grant_error("invalid_request", "Missing grant_type"),
        ),
        other => logged(
            shared,
            req,
            400,
            grant_error(
                "unsupported_grant_type",
                &format!("Unsupported grant_type: {other}"),
            ),
        ),
    }
}

/// `POST /api/accounts/deviceauth/usercode` `{"client_id"}` →
/// `{"device_auth_id","user_code","interval":"1"}`. Fake-only extras: `fake_email`,
/// `fake_account_id`.
pub(crate) fn device_usercode(shared: &Shared, req: &Req) -> Response {
    let f = fields(req);
    if form_get(&f, "client_id") != Some(CLIENT_ID) {
        return logged(
            shared,
            req,
            400,
            json!({"error": {"message": "Unknown client_id", "code": "invalid_client"}}),
        );
    }
    let mut rng = shared.rng();
    let device_auth_id = format!("deviceauth_{}", rng.alnum(24));
    let letters = rng.alnum(8).to_uppercase();
    let user_code = format!("{}-{}", &letters[..4], &letters[4..]);
    shared.lock().devices.insert(
        device_auth_id.clone(),
        DeviceInfo {
            user_code: user_code.clone(),
            polls: 0,
            identity: identity(form_get(&f, "fake_email"), form_get(&f, "fake_account_id")),
            granted: None,
        },
    );
    logged(
        shared,
        req,
        200,
        json!({"device_auth_id": device_auth_id, "user_code": user_code, "interval": "1"}),
    )
}

/// `POST /api/accounts/deviceauth/token` `{"device_auth_id","user_code"}`: 403 (pending) for
/// the first two polls, then 200 `{"authorization_code","code_challenge","code_verifier"}`.
pub(crate) fn device_token(shared: &Shared, req: &Req) -> Response {
    let f = fields(req);
    let id = form_get(&f, "device_auth_id").unwrap_or("");
    let user_code = form_get(&f, "user_code").unwrap_or("");
    let mut rng = shared.rng();
    let outcome = {
        let mut g = shared.lock();
        let Some(d) = g.devices.get_mut(id) else {
            drop(g);
            return logged(
                shared,
                req,
                400,
                json!({"error": {"message": "Unknown device_auth_id", "code": "invalid_request"}}),
            );
        };
        if d.user_code != user_code {
            Err(400)
        } else {
            d.polls += 1;
            if d.polls <= 2 {
                Err(403)
            } else {
                let grant = d.granted.get_or_insert_with(|| {
                    let verifier = rng.b64url(64);
                    let challenge = s256(&verifier);
                    (format!("ac_{}", rng.b64url(32)), verifier, challenge)
                });
                Ok((grant.clone(), d.identity.clone()))
            }
        }
    };
    match outcome {
        Err(403) => logged(
            shared,
            req,
            403,
            json!({"error": {"message": "Device authorization is pending. Please try again.",
                             "code": "deviceauth_authorization_pending"}}),
        ),
        Err(_) => logged(
            shared,
            req,
            400,
            json!({"error": {"message": "user_code does not match", "code": "invalid_request"}}),
        ),
        Ok(((code, verifier, challenge), who)) => {
            shared.lock().codes.entry(code.clone()).or_insert(CodeInfo {
                challenge: challenge.clone(),
                redirect_uri: DEVICE_REDIRECT.to_string(),
                identity: who,
                used: false,
            });
            logged(
                shared,
                req,
                200,
                json!({"authorization_code": code, "code_challenge": challenge,
                       "code_verifier": verifier}),
            )
        }
    }
}
