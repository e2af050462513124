//! The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against the
//! real binary and the fakes.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use support::{Proxy, ProxyOpts, fake};

/// Run one of the browser scripts in tests/clients against a proxy; its JSON report.
fn browse(script: &str, args: &[&std::ffi::OsStr]) -> Value {
    let clients = clients_dir();
    let out = tokio::task::block_in_place(|| {
        Command::new("node")
            .current_dir(&clients)
            .arg(script)
            .args(args)
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
    serde_json::from_slice(&out.stdout).expect("json")
}

/// tests/clients, after checking the browser and playwright-core are there.
fn clients_dir() -> std::path::PathBuf {
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/clients");
    assert!(
        clients.join("node_modules/playwright-core").exists()
            && Path::new("/usr/bin/chromium").exists(),
        "playwright-core and /usr/bin/chromium are needed: run `bash tests/run.sh` (it installs them)"
    );
    clients
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_accounts_and_drives_the_admin_api() {
    clients_dir();
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
            env: vec![("CCP_WEB_DIR".into(), "/nonexistent-ccp-web".into())],
            ..ProxyOpts::default()
        },
    );
    let shot = p.data_dir.join("dashboard.png");
    let v = browse("ui_test.mjs", &[p.base.as_ref(), shot.as_os_str()]);
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
    // The haiku route setting: the table's Kilo route, then the Codex model set from the page.
    assert_eq!(v["haikuBefore"], "now: chat · kilo-auto/free");
    assert_eq!(v["haikuAfter"], "now: codex · gpt-5.4-mini");
    // The request the page made showed up live in the request log.
    assert_eq!(v["status"], 200);
    let row = v["logRow"].as_str().unwrap_or("");
    assert!(
        row.contains("claude-haiku-4-5") && row.contains("chat") && row.contains("200"),
        "{row}"
    );
    // This proxy has no wasm build: the playground says how to make one.
    assert!(
        v["playground"]
            .as_str()
            .unwrap_or("")
            .contains("bash web/build.sh"),
        "{}",
        v["playground"]
    );
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

/// The playground: the core's wasm-bindgen build, served by the proxy, converts a request and
/// replays a stream inside the browser, with the native core's exact output and no request.
#[tokio::test(flavor = "multi_thread")]
async fn the_playground_runs_the_core_in_the_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    clients_dir();
    let pkg = std::env::temp_dir().join(format!("ccp-web-pkg-{}", std::process::id()));
    let built = tokio::task::block_in_place(|| {
        Command::new("bash")
            .arg(root.join("web/build.sh"))
            .arg(&pkg)
            .status()
            .expect("run web/build.sh")
    });
    assert!(built.success(), "web/build.sh failed");
    let fake = fake().await;
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            env: vec![("CCP_WEB_DIR".into(), pkg.display().to_string())],
            ..ProxyOpts::default()
        },
    );
    let v = browse("playground_test.mjs", &[p.base.as_ref()]);
    assert_eq!(v["errors"], json!([]), "no script errors");
    assert!(
        v["status"].as_str().unwrap_or("").contains("WebAssembly"),
        "{}",
        v["status"]
    );
    assert_eq!(v["requests"], json!([]), "the playground made requests");

    // The browser's conversion is the native core's, value for value.
    let request = v["request"].as_str().expect("request");
    let native = proxy_core::convert_request(
        request.as_bytes(),
        &proxy_core::RequestOptions::new("gpt-5.5"),
    )
    .expect("native convert");
    let shown: Value = serde_json::from_str(v["body"].as_str().expect("body")).expect("body json");
    assert_eq!(shown, Value::Object(native.value.body));
    let degradations: Vec<&str> = v["degradations"]
        .as_array()
        .expect("degradations")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        degradations.len(),
        native.degradations.len(),
        "{degradations:?}"
    );
    assert!(
        degradations.iter().any(|d| d.starts_with("temperature")),
        "{degradations:?}"
    );
    assert!(
        v["badBody"]
            .as_str()
            .unwrap_or("")
            .starts_with("invalid_request_error: messages"),
        "{}",
        v["badBody"]
    );

    // The replay is the native translator's SSE, byte for byte.
    let mut t = proxy_core::ResponsesTranslator::new(proxy_core::StreamOptions {
        model: "claude-sonnet-4-5".into(),
        ..proxy_core::StreamOptions::default()
    });
    t.push(v["sse"].as_str().expect("sse").as_bytes());
    t.finish();
    let mut sse = Vec::new();
    while let Some(ev) = t.poll_event() {
        ev.encode(&mut sse);
    }
    assert_eq!(
        v["events"].as_str(),
        Some(String::from_utf8_lossy(&sse).as_ref())
    );
    let message: Value =
        serde_json::from_str(v["message"].as_str().expect("message")).expect("json");
    assert_eq!(
        message["content"][0]["text"], "Hello from the playground.",
        "{message}"
    );
    assert_eq!(message["stop_reason"], "end_turn");

    // The Chat Completions lane's replay is the native Chat translator's, byte for byte.
    let mut t = proxy_core::ChatTranslator::new(proxy_core::ChatStreamOptions {
        model: "claude-sonnet-4-5".into(),
        thinking: false,
        tool_names: proxy_core::ToolNames::default(),
        upstream_model: String::new(),
        seed: 0,
    });
    t.push(v["chatSse"].as_str().expect("chat sse").as_bytes());
    t.finish();
    let mut sse = Vec::new();
    while let Some(ev) = t.poll_event() {
        ev.encode(&mut sse);
    }
    assert_eq!(
        v["chatEvents"].as_str(),
        Some(String::from_utf8_lossy(&sse).as_ref())
    );
    let message: Value =
        serde_json::from_str(v["chatMessage"].as_str().expect("message")).expect("json");
    assert_eq!(
        message["content"][0]["text"], "Hello from the Chat lane.",
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&pkg);
}

/// Without the wasm build, the assets answer a JSON 404 that says how to build them; and only
/// the two bundle files are ever read, whatever path a request names.
#[tokio::test(flavor = "multi_thread")]
async fn the_playground_assets_say_how_to_build_them() {
    let fake = fake().await;
    // An empty web dir with a file next to it that a path escaping the dir would reach.
    let root = std::env::temp_dir().join(format!("ccp-web-guard-{}", std::process::id()));
    let web = root.join("pkg");
    std::fs::create_dir_all(&web).expect("web dir");
    std::fs::write(root.join("secret.txt"), "not for the web").expect("secret");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            env: vec![("CCP_WEB_DIR".into(), web.display().to_string())],
            ..ProxyOpts::default()
        },
    );
    let r = support::client()
        .get(format!("{}/ui/wasm/proxy_web.js", p.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("web/build.sh")
    );
    for path in ["..%2Fsecret.txt", "secret.txt"] {
        let r = support::client()
            .get(format!("{}/ui/wasm/{path}", p.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 404, "{path}");
        assert!(
            !r.text()
                .await
                .unwrap_or_default()
                .contains("not for the web")
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
