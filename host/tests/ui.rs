//! The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against the
//! real binary and the fakes.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use support::{Proxy, ProxyOpts, fake};

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_accounts_and_drives_the_admin_api() {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients");
    assert!(
        clients.join("node_modules/playwright-core").exists()
            && Path::new("/usr/bin/chromium").exists(),
        "playwright-core and /usr/bin/chromium are needed: run `bash tests/run.sh` (it installs them)"
    );
    let fake = fake().await;
    let (good, refresh, _) = fake.issue_tokens("acct-good", "good@example.com");
    let (dead, _, _) = fake.issue_tokens("acct-dead", "dead@example.com");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            raw_accounts: vec![
                json!({"account_id": "acct-good", "email": "good@example.com", "plan_type": "plus",
                       "access_token": good, "refresh_token": refresh}),
                json!({"account_id": "acct-dead", "email": "dead@example.com", "plan_type": "pro",
                       "access_token": dead, "relogin_reason": "refresh_token_reused"}),
            ],
            ..ProxyOpts::default()
        },
    );
    let shot = p.data_dir.join("dashboard.png");
    let out = tokio::task::block_in_place(|| {
        Command::new("node")
            .current_dir(&clients)
            .arg("ui_test.mjs")
            .arg(&p.base)
            .arg(&shot)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .output()
            .expect("run node")
    });
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["errors"], json!([]), "no script errors");
    assert_eq!(v["error"], "", "no API errors shown");
    let rows: Vec<&str> = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.contains("dead@example.com") && r.contains("re-login needed")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("good@example.com") && r.contains("ok")),
        "{rows:?}"
    );
    assert!(
        v["claudeEnv"]
            .as_str()
            .unwrap_or("")
            .contains("ANTHROPIC_BASE_URL")
    );
    assert!(v["kilo"].as_str().unwrap_or("").contains("kilo-auto/free"));
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(p.data_dir.join("accounts/index.json")).expect("index"),
    )
    .expect("json");
    assert_eq!(
        index["strategy"], "round-robin",
        "the select switched the strategy"
    );
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(p.data_dir.join(".claude/settings.json")).expect("settings"),
    )
    .expect("json");
    assert_eq!(
        settings["env"]["ANTHROPIC_BASE_URL"],
        json!(p.base),
        "the address the browser used"
    );
    if let Ok(dir) = std::env::var("CCP_UI_SCREENSHOT") {
        let _ = std::fs::copy(&shot, dir);
    }
}
