//! Accounts through the real binary: single-flight refresh, refresh on 401, re-login marking.

mod support;

use proxy_fakes::{FakeConfig, FakeServer};
use serde_json::{Value, json};
use support::{Proxy, ProxyOpts, client, get_json, post_json, request};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn fake_with_refresh_delay(ms: u64) -> FakeServer {
    FakeServer::start(FakeConfig {
        refresh_delay_ms: ms,
        ..FakeConfig::default()
    })
    .await
    .expect("fake")
}

/// One account (`acct-1`) whose access token has expired and whose refresh token (returned)
/// the fake will take.
fn expired_account(fake: &FakeServer) -> (ProxyOpts, String) {
    let (access, refresh, id) = fake.issue_tokens("acct-1", "one@example.com");
    let opts = ProxyOpts {
        raw_accounts: vec![json!({
            "account_id": "acct-1", "email": "one@example.com", "access_token": access,
            "refresh_token": refresh, "id_token": id, "expires_at": now() - 10,
        })],
        ..ProxyOpts::default()
    };
    (opts, refresh)
}

async fn post(p: &Proxy, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", p.base))
        .json(body)
        .send()
        .await
        .expect("send")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_requests_on_an_expired_token_refresh_exactly_once() {
    let fake = fake_with_refresh_delay(300).await;
    let (opts, refresh) = expired_account(&fake);
    let p = Proxy::start(&fake, opts);
    let body = request("claude-sonnet-4-5", "text", false);
    let futs = (0..100).map(|_| post(&p, &body));
    let results = futures_util::future::join_all(futs).await;
    for r in results {
        assert_eq!(r.status(), 200);
    }
    assert_eq!(fake.refresh_calls(), 1, "refresh tokens are single-use");
    // The rotated refresh token was saved: the file on disk holds the new one.
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(p.data_dir.join("accounts/acct-1.json")).expect("file"),
    )
    .expect("json");
    assert_ne!(saved["refresh_token"], json!(refresh));
    assert!(saved["expires_at"].as_u64().unwrap_or(0) > now());
    assert!(
        !p.log_text()
            .contains(saved["access_token"].as_str().unwrap_or("-"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_refreshes_and_retries_once() {
    let fake = fake_with_refresh_delay(0).await;
    let (access, refresh, _) = fake.issue_tokens("acct-1", "one@example.com");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![json!({"account_id": "acct-1", "access_token": access,
                                      "refresh_token": refresh, "expires_at": now() + 86400})],
            ..ProxyOpts::default()
        },
    );
    let r = post(&p, &request("claude-sonnet-4-5", "http_401_once", true)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("body").contains("message_stop"));
    assert_eq!(fake.refresh_calls(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_refresh_token_marks_the_account_and_is_not_retried() {
    let fake = fake_with_refresh_delay(0).await;
    let (access, _, _) = fake.issue_tokens("acct-1", "one@example.com");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![json!({"account_id": "acct-1", "access_token": access,
                                      "refresh_token": "rt_never_issued", "expires_at": now() - 10})],
            ..ProxyOpts::default()
        },
    );
    for _ in 0..3 {
        let r = post(&p, &request("claude-sonnet-4-5", "text", false)).await;
        assert_eq!(r.status(), 401);
        let e: Value = r.json().await.expect("json");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("accounts add"),
            "{e}"
        );
    }
    assert_eq!(
        fake.refresh_calls(),
        1,
        "a dead refresh token is tried once, not in a loop"
    );
    let h: Value = client()
        .get(format!("{}/health", p.base))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(h["accounts"][0]["relogin_needed"], true);
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(p.data_dir.join("accounts/acct-1.json")).expect("file"),
    )
    .expect("json");
    assert!(saved["relogin_reason"].is_string(), "the mark is persisted");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_sign_in_import_strategy_and_quota_metrics() {
    let fake = fake_with_refresh_delay(0).await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    let c = client();
    let nr = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // Sign in through the admin API: the proxy serves the callback itself. A second start
    // supersedes an unfinished first one and takes over its port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let first = post_json(
        &c,
        format!("{}/accounts/add", p.base),
        &json!({"callback_port": port}),
    )
    .await;
    let first_state = first["state"].as_str().expect("state").to_owned();
    let started = post_json(
        &c,
        format!("{}/accounts/add", p.base),
        &json!({"callback_port": port}),
    )
    .await;
    let url = started["url"].as_str().expect("url");
    let loc = nr.get(url).send().await.expect("authorize").headers()["location"]
        .to_str()
        .expect("ascii")
        .replace("localhost", "127.0.0.1");
    nr.get(&loc).send().await.expect("callback");
    let state = started["state"].as_str().expect("state");
    let status = wait_login(&c, &p.base, state).await;
    assert_eq!(status["status"], "done", "{status}");
    let old: Value = get_json(&c, format!("{}/accounts/login/{first_state}", p.base)).await;
    assert_eq!(old["status"], "failed", "{old}");
    let list: Value = get_json(&c, format!("{}/accounts", p.base)).await;
    assert_eq!(list["accounts"].as_array().map(Vec::len), Some(1));
    assert!(
        !list.to_string().contains("eyJ"),
        "no token in the admin API"
    );

    // Import through the API.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/import/node_accounts.json");
    let r = c
        .post(format!("{}/accounts/import", p.base))
        .json(&json!({"path": fixture}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);

    // Strategy switch at runtime, persisted; bad values refused; cross-site refused.
    let r = post_json(
        &c,
        format!("{}/settings/account-strategy", p.base),
        &json!({"strategy": "round-robin"}),
    )
    .await;
    assert_eq!(r["strategy"], "round-robin");
    let r = c
        .post(format!("{}/settings/account-strategy", p.base))
        .json(&json!({"strategy": "chaos"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let r = c
        .post(format!("{}/settings/account-strategy", p.base))
        .header("origin", "https://evil.example")
        .json(&json!({"strategy": "sticky"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    let r = c
        .post(format!("{}/settings/account-strategy", p.base))
        .header("content-type", "text/plain")
        .body("{\"strategy\":\"sticky\"}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400, "JSON bodies only");
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(p.data_dir.join("accounts/index.json")).expect("index"),
    )
    .expect("json");
    assert_eq!(index["strategy"], "round-robin");

    // Live quota from the backend's headers shows in /metrics after a request.
    let r = post(&p, &request("claude-sonnet-4-5", "text", false)).await;
    assert_eq!(r.status(), 200);
    let m = c
        .get(format!("{}/metrics", p.base))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(m.contains("ccp_account_quota_used_percent{"), "{m}");
    assert!(m.contains("ccp_account_relogin_needed{"));
}

/// Every token that crossed the wire or sits on disk, collected after a busy session (sign-in,
/// proactive refresh, 401 refresh, requests, errors) at the most verbose log level: none of
/// them may appear in the log.
#[tokio::test(flavor = "multi_thread")]
async fn no_token_text_reaches_the_log() {
    let fake = fake_with_refresh_delay(0).await;
    let (access, refresh, id) = fake.issue_tokens("acct-1", "one@example.com");
    let mut opts = ProxyOpts {
        raw_accounts: vec![json!({"account_id": "acct-1", "email": "one@example.com",
            "access_token": access, "refresh_token": refresh, "id_token": id,
            "expires_at": now() - 5})],
        ..ProxyOpts::default()
    };
    opts.env = vec![("CCP_LOG".into(), "trace".into())];
    let p = Proxy::start(&fake, opts);
    for scenario in [
        "text",
        "http_401_once",
        "http_500_once",
        "failed_context",
        "tools",
    ] {
        let _ = post(&p, &request("claude-sonnet-4-5", scenario, true))
            .await
            .text()
            .await;
    }
    let _ = client()
        .post(format!("{}/accounts/acct-1/refresh", p.base))
        .send()
        .await;
    let mut secrets: Vec<String> = vec![access, refresh, id];
    for r in fake.requests() {
        if let Some(a) = r
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
        {
            secrets.push(a.to_owned());
        }
        if let Some(v) = r.json()
            && let Some(t) = v.get("refresh_token").and_then(Value::as_str)
        {
            secrets.push(t.to_owned());
        }
    }
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(p.data_dir.join("accounts/acct-1.json")).expect("file"),
    )
    .expect("json");
    for k in ["access_token", "refresh_token", "id_token"] {
        if let Some(t) = on_disk[k].as_str() {
            secrets.push(t.to_owned());
        }
    }
    assert!(fake.refresh_calls() >= 2, "the session refreshed");
    let log = p.log_text();
    assert!(log.len() > 1000, "trace logging produced output");
    for s in secrets.iter().filter(|s| s.len() >= 16) {
        // Any 24-character window of a token would do to leak it.
        let probe = &s[s.len() / 2 - 12..s.len() / 2 + 12];
        assert!(!log.contains(probe), "a token fragment is in the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_device_sign_in_and_cached_quota() {
    let fake = fake_with_refresh_delay(0).await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    let c = client();
    let started: Value = c
        .post(format!("{}/accounts/device", p.base))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert!(
        started["verification_url"]
            .as_str()
            .unwrap_or("")
            .ends_with("/codex/device"),
        "{started}"
    );
    assert!(started["user_code"].is_string());
    let state = started["state"].as_str().expect("state");
    let status = wait_login(&c, &p.base, state).await;
    assert_eq!(status["status"], "done", "{status}");
    for _ in 0..2 {
        let q: Value = get_json(&c, format!("{}/accounts/quota", p.base)).await;
        assert!(q["accounts"][0]["usage"]["windows"].is_array(), "{q}");
    }
    assert_eq!(
        fake.count("/backend-api/wham/usage"),
        1,
        "cached for a minute"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_key_guards_admin_routes_and_metrics_and_reimport_revives_an_account() {
    let fake = fake_with_refresh_delay(0).await;
    let (access, _, _) = fake.issue_tokens("acct-1", "one@example.com");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![json!({"account_id": "acct-1", "access_token": access,
                                      "refresh_token": "rt_never_issued", "expires_at": now() - 10})],
            env: vec![("CCP_CLIENT_KEY".into(), "sk-client".into())],
            ..ProxyOpts::default()
        },
    );
    let c = client();
    for path in [
        "/accounts",
        "/metrics",
        "/claude/config",
        "/kilo/models",
        "/logs",
        "/logs/stream",
        "/settings/haiku-model",
        "/accounts/quota/all",
    ] {
        let r = c
            .get(format!("{}{path}", p.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "{path} without the key");
        let r = c
            .get(format!("{}{path}", p.base))
            .header("x-api-key", "sk-client")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{path} with the key");
    }
    let r = c
        .post(format!("{}/v1/messages", p.base))
        .header("x-api-key", "sk-client")
        .json(&request("claude-sonnet-4-5", "text", false))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401, "the dead refresh token marks the account");
    // Fresh tokens imported for the same account bring it back without a restart.
    let (fresh, refresh, id) = fake.issue_tokens("acct-1", "one@example.com");
    let auth = p.data_dir.join("auth.json");
    std::fs::write(
        &auth,
        json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null,
               "tokens": {"id_token": id, "access_token": fresh, "refresh_token": refresh, "account_id": "acct-1"},
               "last_refresh": "2026-11-25T00:00:00Z"})
        .to_string(),
    )
    .expect("write");
    let r = c
        .post(format!("{}/accounts/import", p.base))
        .header("x-api-key", "sk-client")
        .json(&json!({"path": auth}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!("{}/v1/messages", p.base))
        .header("x-api-key", "sk-client")
        .json(&request("claude-sonnet-4-5", "text", false))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "the re-imported account serves again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_request_is_a_400_even_with_no_usable_account() {
    let fake = fake_with_refresh_delay(0).await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    let r = post(
        &p,
        &json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": 7}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
}

/// Poll `GET /accounts/login/{state}` until the sign-in is no longer pending (up to 10 s).
async fn wait_login(c: &reqwest::Client, base: &str, state: &str) -> Value {
    let mut status = Value::Null;
    for _ in 0..200 {
        status = get_json(c, format!("{base}/accounts/login/{state}")).await;
        if status["status"] != "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    status
}

/// A token refresh holds the accounts' file lock across its request to the issuer. Whatever
/// waits for that lock meanwhile (here the dashboard's choice of the active account) must
/// wait off the serving threads: each serves many connections on one thread, and a blocked
/// thread would stall its clients until the issuer answered (on one thread, for good: the
/// refresh could not finish). One serving thread here, so that both requests share it.
#[tokio::test(flavor = "multi_thread")]
async fn waiting_for_the_accounts_lock_never_stalls_serving() {
    let fake = fake_with_refresh_delay(2000).await;
    let (mut opts, _) = expired_account(&fake);
    opts.env.push(("CCP_WORKERS".into(), "1".into()));
    let p = Proxy::start(&fake, opts);
    let base = p.base.clone();
    let answered = tokio::spawn(async move {
        let body = request("claude-sonnet-4-5", "text", false);
        let r = client()
            .post(format!("{base}/v1/messages"))
            .json(&body)
            .send()
            .await
            .expect("send");
        r.status().as_u16()
    });
    // The expired token is being refreshed (the issuer takes 2 s): the lock is held.
    let t = std::time::Instant::now();
    while fake.refresh_calls() == 0 {
        assert!(t.elapsed().as_secs() < 10, "no refresh started");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let base = p.base.clone();
    let activated = tokio::spawn(async move {
        let r = client()
            .post(format!("{base}/accounts/acct-1/activate"))
            .send()
            .await
            .expect("send");
        r.status().as_u16()
    });
    // Let the activation reach the lock, then ask the proxy something that needs no lock.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let asked = std::time::Instant::now();
    let health: Value = get_json(&client(), format!("{}/health", p.base)).await;
    let took = asked.elapsed();
    assert_eq!(health["status"], "ok");
    assert!(
        took < std::time::Duration::from_millis(1000),
        "/health took {took:?} while the refresh held the lock"
    );
    assert!(
        !activated.is_finished() && !answered.is_finished(),
        "the refresh should still hold the lock"
    );
    assert_eq!(activated.await.expect("activate"), 200);
    assert_eq!(answered.await.expect("request"), 200);
    assert_eq!(fake.refresh_calls(), 1);
}
