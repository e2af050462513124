//! Accounts through the real binary: single-flight refresh, refresh on 401, re-login marking.

mod support;

use proxy_fakes::{FakeConfig, FakeServer};
use serde_json::{Value, json};
use support::{Proxy, ProxyOpts, client, request};

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
    let (access, refresh, id) = fake.issue_tokens("acct-1", "one@example.com");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![json!({
                "account_id": "acct-1", "email": "one@example.com", "access_token": access,
                "refresh_token": refresh, "id_token": id, "expires_at": now() - 10,
            })],
            ..ProxyOpts::default()
        },
    );
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
