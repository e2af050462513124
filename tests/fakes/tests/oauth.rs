//! OAuth issuer fake: authorize + PKCE exchange, refresh rotation/reuse, device code.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use proxy_fakes::{CLIENT_ID, FakeConfig, FakeServer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

fn claims(jwt: &str) -> Value {
    let mut parts = jwt.split('.');
    let header = URL_SAFE_NO_PAD
        .decode(parts.next().expect("header"))
        .expect("b64");
    assert_eq!(
        serde_json::from_slice::<Value>(&header).expect("json")["alg"],
        "none"
    );
    let payload = URL_SAFE_NO_PAD
        .decode(parts.next().expect("payload"))
        .expect("b64");
    assert!(
        parts.next().is_some_and(|s| !s.is_empty()),
        "signature part"
    );
    serde_json::from_slice(&payload).expect("json")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn query_param(url: &str, key: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    q.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == key).then(|| v.replace("%2D", "-").replace("%5F", "_"))
    })
}

async fn post_form(srv: &FakeServer, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let body: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    status_json(
        client()
            .post(format!("{}{path}", srv.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn post_json(srv: &FakeServer, path: &str, body: Value) -> (u16, Value) {
    status_json(
        client()
            .post(format!("{}{path}", srv.base_url()))
            .json(&body)
            .send()
            .await
            .expect("send"),
    )
    .await
}

async fn codex_ok(srv: &FakeServer, access: &str, account: &str) -> u16 {
    codex_request_as(srv, &codex_body(), access, account)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

const REDIRECT: &str = "http://localhost:1455/auth/callback";

#[tokio::test]
async fn authorize_and_exchange_with_pkce() {
    let srv = server_with(FakeConfig {
        valid_tokens: vec![("configured".into(), "acct-c".into())],
        ..FakeConfig::default()
    })
    .await;
    let verifier = "a".repeat(43) + "-verifier_0123456789abcdefghijklmnopqrstuvwx";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let url = format!(
        "{}/oauth/authorize?response_type=code&client_id={CLIENT_ID}&redirect_uri={}&scope={}&code_challenge={challenge}&code_challenge_method=S256&id_token_add_organizations=true&codex_cli_simplified_flow=true&state=st8&originator=codex_cli_rs&fake_email=alice%40example.com",
        srv.base_url(),
        enc(REDIRECT),
        enc("openid profile email offline_access"),
    );
    let resp = client().get(&url).send().await.expect("send");
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"]
        .to_str()
        .expect("loc")
        .to_string();
    assert!(
        location.starts_with(&format!("{REDIRECT}?code=")),
        "{location}"
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st8"));
    let code = query_param(&location, "code").expect("code");

    // wrong verifier
    let (s, e) = post_form(
        &srv,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("code_verifier", "wrong"),
        ],
    )
    .await;
    assert_eq!((s, &e["error"]), (400, &json!("invalid_grant")));

    let (s, t) = post_form(
        &srv,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["expires_in"], 864000);
    let id = claims(t["id_token"].as_str().expect("id"));
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(
        id["https://api.openai.com/profile"]["email"],
        "alice@example.com"
    );
    let auth = &id["https://api.openai.com/auth"];
    assert_eq!(auth["chatgpt_plan_type"], "plus");
    assert!(auth["chatgpt_user_id"].is_string());
    let account = auth["chatgpt_account_id"]
        .as_str()
        .expect("acct")
        .to_string();
    let access = t["access_token"].as_str().expect("access");
    let ac = claims(access);
    assert_eq!(
        ac["https://api.openai.com/auth"]["chatgpt_account_id"],
        account.as_str()
    );
    assert!(ac["exp"].as_u64().expect("exp") > 1_700_000_000);

    // minted tokens work on the Codex fake, with their account only
    assert_eq!(codex_ok(&srv, access, &account).await, 200);
    assert_eq!(codex_ok(&srv, access, "acct-c").await, 401);
    assert_eq!(codex_ok(&srv, "configured", "acct-c").await, 200);

    // codes are single-use
    let (s, _) = post_form(
        &srv,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn authorize_rejects_bad_requests() {
    let srv = server().await;
    let resp = client()
        .get(format!(
            "{}/oauth/authorize?response_type=code&client_id=other&redirect_uri=x&code_challenge=c&code_challenge_method=S256",
            srv.base_url()
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn refresh_rotates_and_detects_reuse() {
    let srv = server().await;
    let (access0, rt0, _) = srv.issue_tokens("acct-r", "r@example.com");
    assert_eq!(codex_ok(&srv, &access0, "acct-r").await, 200);
    // JSON refresh (current codex)
    let (s, t1) = post_json(
        &srv,
        "/oauth/token",
        json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": rt0}),
    )
    .await;
    assert_eq!(s, 200, "{t1}");
    let rt1 = t1["refresh_token"].as_str().expect("rt").to_string();
    assert_ne!(rt1, rt0);
    let access1 = t1["access_token"].as_str().expect("at");
    assert_eq!(
        claims(access1)["https://api.openai.com/auth"]["chatgpt_account_id"],
        "acct-r"
    );
    assert_eq!(codex_ok(&srv, access1, "acct-r").await, 200);
    // replaying the old one
    let (s, e) = post_json(
        &srv,
        "/oauth/token",
        json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": rt0}),
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(
        e,
        json!({"error": {"message": "Your refresh token has already been used to generate a new access token. Please try signing in again.",
                         "type": "invalid_request_error", "param": null, "code": "refresh_token_reused"}})
    );
    // form refresh (older codex) with the new one works
    let (s, t2) = post_form(
        &srv,
        "/oauth/token",
        &[
            ("client_id", CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt1),
            ("scope", "openid profile email"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t2}");
    // unknown token
    let (s, _) = post_json(
        &srv,
        "/oauth/token",
        json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": "rt_nope"}),
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(srv.refresh_calls(), 4);
    assert_eq!(srv.count("/oauth/token"), 4);
}

#[tokio::test]
async fn refresh_waits_refresh_delay() {
    let srv = server_with(FakeConfig {
        refresh_delay_ms: 300,
        ..FakeConfig::default()
    })
    .await;
    let (_, rt, _) = srv.issue_tokens("acct-d", "d@example.com");
    let t0 = Instant::now();
    let (s, _) = post_json(
        &srv,
        "/oauth/token",
        json!({"client_id": CLIENT_ID, "grant_type": "refresh_token", "refresh_token": rt}),
    )
    .await;
    assert_eq!(s, 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(srv.refresh_calls(), 1);
}

#[tokio::test]
async fn device_code_flow() {
    let srv = server().await;
    let (s, uc) = post_json(
        &srv,
        "/api/accounts/deviceauth/usercode",
        json!({"client_id": CLIENT_ID}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(uc["interval"], "1");
    let poll = json!({"device_auth_id": uc["device_auth_id"], "user_code": uc["user_code"]});
    let (s1, _) = post_json(&srv, "/api/accounts/deviceauth/token", poll.clone()).await;
    let (s2, _) = post_json(&srv, "/api/accounts/deviceauth/token", poll.clone()).await;
    let (s3, grant) = post_json(&srv, "/api/accounts/deviceauth/token", poll).await;
    assert_eq!((s1, s2, s3), (403, 403, 200));
    let verifier = grant["code_verifier"].as_str().expect("v");
    assert_eq!(
        grant["code_challenge"].as_str().expect("c"),
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    );
    let (s, t) = post_form(
        &srv,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", grant["authorization_code"].as_str().expect("code")),
            (
                "redirect_uri",
                "https://auth.openai.com/deviceauth/callback",
            ),
            ("client_id", CLIENT_ID),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert!(t["refresh_token"].as_str().expect("rt").starts_with("rt_"));
    // unknown device ids are an error, not "pending"
    let (s, _) = post_json(
        &srv,
        "/api/accounts/deviceauth/token",
        json!({"device_auth_id": "nope", "user_code": "X"}),
    )
    .await;
    assert_eq!(s, 400);
}
