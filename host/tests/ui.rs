//! The dashboard in a real browser (Debian's Chromium, driven by playwright-core) against the
//! real binary and the fakes: every page, its accessibility and both widths and schemes, the
//! playground against the golden vectors, and the flows that change state (accounts by each
//! sign-in, settings across a restart, the Claude Code settings diff).

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

/// Run tests/clients/dashboard_flows_test.mjs for one phase; fails on a page error or a
/// failed step.
fn flow(p: &Proxy, phase: &str) -> Value {
    let v = browse(
        "dashboard_flows_test.mjs",
        &[p.base.as_ref(), std::ffi::OsStr::new(phase)],
    );
    assert!(v.get("failure").is_none(), "{phase}: {}", v["failure"]);
    assert_eq!(v["errors"], json!([]), "{phase}: script errors");
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_are_added_by_each_flow_then_switched_and_removed() {
    clients_dir();
    let fake = fake().await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    let v = flow(&p, "accounts");
    let default_email = "user@example.com";
    assert_eq!(v["before"], json!([]), "{v}");
    assert!(
        v["device_code"].as_str().is_some_and(|c| c.len() >= 8),
        "{v}"
    );
    assert_eq!(v["after_device"], json!([default_email]), "{v}");
    assert_eq!(
        v["after_popup"],
        json!(["popup@example.com", default_email]),
        "{v}"
    );
    assert_eq!(
        v["after_paste"],
        json!(["paste@example.com", "popup@example.com", default_email]),
        "{v}"
    );
    assert_eq!(v["active"], "paste@example.com", "{v}");
    assert_eq!(v["search_shown"], 1, "{v}");
    assert_eq!(
        v["after_cancel"], v["after_paste"],
        "cancel removes nothing"
    );
    assert_eq!(
        v["after_remove"],
        json!(["paste@example.com", default_email]),
        "{v}"
    );
    // The choice and the removal are on disk, not only in the page.
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(p.data_dir.join("accounts/index.json")).expect("index"),
    )
    .expect("json");
    assert_eq!(index["order"].as_array().map(Vec::len), Some(2), "{index}");
    let accounts = support::get_json(&support::client(), format!("{}/accounts", p.base)).await;
    let active = accounts["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["active"] == true)
        .expect("an active account");
    assert_eq!(index["active"], active["account_id"], "{index}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_settings_change_applies_at_once_and_survives_a_restart() {
    clients_dir();
    let fake = fake().await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    // The user's own config file, with a comment the page must keep.
    let config = p.data_dir.join("config.toml");
    std::fs::write(
        &config,
        "# tuned by hand\nping_interval_secs = 9.0 # keep\n",
    )
    .expect("config");
    let p = {
        let dir = p.stop_keeping_data();
        Proxy::start(
            &fake,
            ProxyOpts {
                data_dir: Some(dir),
                ..ProxyOpts::default()
            },
        )
    };
    let v = flow(&p, "settings");
    assert!(
        v["preview"]
            .as_str()
            .unwrap_or("")
            .contains("qwen/qwen3-coder:free"),
        "{v}"
    );
    assert_eq!(v["saved"]["timeouts"]["idle_timeout_secs"], 77.0, "{v}");
    // Applied at once: a haiku request now goes to the new model.
    let r = support::client()
        .post(format!("{}/v1/messages", p.base))
        .json(&support::request("claude-haiku-4-5", "text", false))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let logs = support::get_json(&support::client(), format!("{}/logs", p.base)).await;
    assert_eq!(
        logs["entries"][0]["upstream_model"], "qwen/qwen3-coder:free",
        "{logs}"
    );
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(
        text.starts_with("# tuned by hand\nping_interval_secs = 9.0 # keep\n"),
        "{text}"
    );
    assert!(text.contains("idle_timeout_secs = 77"), "{text}");
    // Only what changed was written: the providers (from the environment here) were not.
    assert!(!text.contains("[[providers]]"), "{text}");

    let dir = p.stop_keeping_data();
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            data_dir: Some(dir),
            ..ProxyOpts::default()
        },
    );
    let v = flow(&p, "settings-check");
    assert_eq!(v["idle"], "77", "{v}");
    assert!(
        v["models"]
            .as_array()
            .expect("models")
            .contains(&json!("qwen/qwen3-coder:free")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_claude_code_diff_shown_is_what_gets_written() {
    clients_dir();
    let fake = fake().await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    // Claude Code's settings with the user's own keys, which the change must keep.
    let path = p.data_dir.join(".claude/settings.json");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    std::fs::write(
        &path,
        r#"{"theme": "dark", "env": {"MY_VAR": "1", "ANTHROPIC_AUTH_TOKEN": "sk-ant-oat-secret-value"}}"#,
    )
    .expect("settings");
    let v = flow(&p, "claude");
    assert!(v["added"].as_u64().is_some_and(|n| n >= 5), "{v}");
    assert!(v["removed"].as_u64().is_some_and(|n| n >= 1), "{v}");
    assert!(
        v["status"].as_str().unwrap_or("").contains("Written to"),
        "{v}"
    );
    let shown: Value =
        serde_json::from_str(v["after_text"].as_str().expect("after")).expect("the diff's json");
    let mut written: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("written")).expect("json");
    // The page shows secrets masked; the file has them.
    let env = written["env"].as_object_mut().expect("env");
    for (k, val) in env.iter_mut() {
        if k.contains("KEY") || k.contains("TOKEN") {
            let s = val.as_str().expect("string");
            *val = json!(if s.chars().count() < 12 {
                "****".to_owned()
            } else {
                format!("****{}", &s[s.len() - 4..])
            });
        }
    }
    assert_eq!(shown, written, "the diff's new side is the file written");
    assert_eq!(written["theme"], "dark");
    assert_eq!(written["env"]["ANTHROPIC_BASE_URL"], json!(p.base));
    assert!(
        written["env"].get("ANTHROPIC_AUTH_TOKEN").is_none(),
        "{written}"
    );
    assert!(
        !v.to_string().contains("sk-ant-oat-secret-value"),
        "a secret reached the page"
    );
}

/// The page, script, style, samples and wasm are in the binary: served from a working
/// directory with nothing beside it. With `ui_dir` / `web_dir` set, only the named files are
/// read, whatever path a request names.
#[tokio::test(flavor = "multi_thread")]
async fn the_ui_is_built_in_and_only_its_named_files_are_served() {
    let fake = fake().await;
    let empty = std::env::temp_dir().join(format!("ccp-ui-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("dir");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            cwd: Some(empty.clone()),
            ..ProxyOpts::default()
        },
    );
    let c = support::client();
    for (path, mime, at_least) in [
        ("/", "text/html", 1000),
        ("/ui/app.js", "text/javascript", 1000),
        ("/ui/app.css", "text/css", 1000),
        ("/ui/samples.json", "application/json", 100),
        ("/ui/wasm/proxy_web.js", "text/javascript", 1000),
        ("/ui/wasm/proxy_web_bg.wasm", "application/wasm", 100_000),
    ] {
        let r = c
            .get(format!("{}{path}", p.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{path}");
        let ty = r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .to_owned();
        assert!(ty.starts_with(mime), "{path}: {ty}");
        let len = r.bytes().await.expect("body").len();
        assert!(len >= at_least, "{path}: {len} bytes");
    }
    let csp = c.get(format!("{}/", p.base)).send().await.expect("send");
    let csp = csp.headers()["content-security-policy"]
        .to_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval';"),
        "{csp}"
    );
    drop(p);

    // Folders with a file next to them that a path escaping them would reach.
    let root = std::env::temp_dir().join(format!("ccp-ui-guard-{}", std::process::id()));
    let (ui, web) = (root.join("ui"), root.join("pkg"));
    std::fs::create_dir_all(&ui).expect("ui dir");
    std::fs::create_dir_all(&web).expect("web dir");
    std::fs::write(root.join("secret.txt"), "not for the web").expect("secret");
    std::fs::write(ui.join("app.js"), "// from ui_dir").expect("app.js");
    let p = Proxy::start(
        &fake,
        ProxyOpts {
            env: vec![
                ("CCP_UI_DIR".into(), ui.display().to_string()),
                ("CCP_WEB_DIR".into(), web.display().to_string()),
            ],
            ..ProxyOpts::default()
        },
    );
    let js = c
        .get(format!("{}/ui/app.js", p.base))
        .send()
        .await
        .expect("send");
    assert_eq!(js.text().await.expect("text"), "// from ui_dir");
    let r = c
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
            .contains("web_dir"),
        "{body}"
    );
    for path in [
        "ui/..%2Fsecret.txt",
        "ui/secret.txt",
        "ui/wasm/..%2Fsecret.txt",
        "ui/wasm/secret.txt",
        "ui/%2e%2e/secret.txt",
    ] {
        let r = c
            .get(format!("{}/{path}", p.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 404, "{path}");
        assert!(
            !r.text()
                .await
                .unwrap_or_default()
                .contains("not for the web"),
            "{path}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&empty);
}

/// Every page at 1280 and 375 px, light and dark, with accounts from the fake issuer (one
/// needing a new login): no script or console error and no failed request, no horizontal
/// overflow on a phone, no serious or critical axe-core violation, keyboard-only navigation;
/// the quick test streams an answer from the fake backend; the playground gives the native
/// core's output for every golden vector, both lanes, without a network request.
/// Screenshots land in `target/dashboard-screenshots/`.
#[tokio::test(flavor = "multi_thread")]
async fn every_page_works_at_both_widths_in_both_schemes_and_by_keyboard() {
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
            ..ProxyOpts::default()
        },
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shots = root.join("target/dashboard-screenshots");
    let vectors = root.join("tests/vectors");
    let v = browse(
        "dashboard_test.mjs",
        &[p.base.as_ref(), shots.as_os_str(), vectors.as_os_str()],
    );
    assert!(v.get("fatal").is_none(), "{}", v["fatal"]);
    assert_eq!(v["console_errors"], json!([]), "{}", v["console_errors"]);
    assert_eq!(
        v["overflow"],
        json!([]),
        "wider than a phone: {}",
        v["overflow"]
    );
    for (page, list) in v["axe"].as_object().expect("axe") {
        assert_eq!(list, &json!([]), "axe on {page}");
    }
    let pages = v["pages"].as_object().expect("pages");
    assert_eq!(pages.len(), 6, "{pages:?}");
    for (page, runs) in pages {
        for (run, r) in runs.as_object().expect("runs") {
            assert_eq!(r["visible"], true, "{page} {run}");
            assert!(
                Path::new(r["screenshot"].as_str().expect("shot")).exists(),
                "{page} {run}"
            );
        }
    }
    assert_eq!(v["summary"]["keyboard_ok"], true, "{}", v["keyboard"]);
    assert_eq!(
        v["keyboard"]["mobile_nav"]["closed_on_escape"], true,
        "{}",
        v["keyboard"]
    );
    let q = &v["quick_test"];
    assert_eq!(q["status"], 200, "{q}");
    assert_eq!(q["state"], "done", "{q}");
    assert!(q["text"].as_str().is_some_and(|t| !t.is_empty()), "{q}");
    let r = &v["requests"];
    assert!(r["rows"].as_u64().is_some_and(|n| n >= 1), "{r}");
    assert_eq!(r["detail_opened"], true, "{r}");
    assert!(
        r["detail_text"]
            .as_str()
            .unwrap_or("")
            .contains(q["model"].as_str().unwrap_or("?")),
        "{r}"
    );

    let pg = &v["playground"];
    assert_eq!(pg["status"], "ready", "{pg}");
    assert_eq!(pg["mismatches"], json!([]), "{pg}");
    assert_eq!(
        pg["requests_during"],
        json!([]),
        "the playground made requests"
    );
    for kind in ["request", "chat_request", "stream", "chat_stream"] {
        assert!(
            pg["by_kind"][kind].as_u64().is_some_and(|n| n >= 10),
            "{kind}: {}",
            pg["by_kind"]
        );
    }
    // What the page shows as you type is the native conversion, value for value.
    let request = r#"{"model":"claude-opus-4-5","max_tokens":100,"temperature":0.5,"messages":[{"role":"user","content":"hi from the test"}]}"#;
    let native = proxy_core::convert_request(
        request.as_bytes(),
        &proxy_core::RequestOptions::new("gpt-test-model"),
    )
    .expect("native");
    let shown: Value =
        serde_json::from_str(pg["convert"]["codex_body"].as_str().expect("codex body"))
            .expect("json");
    assert_eq!(shown, native.value.to_value());
    // The whole body: the history the conversion's fast path writes as text is shown too.
    assert_eq!(
        shown["input"][0]["content"][0]["text"], "hi from the test",
        "{shown}"
    );
    let degradations = pg["convert"]["codex_degradations"]
        .as_array()
        .expect("list");
    assert_eq!(
        degradations.len(),
        native.degradations.len(),
        "{degradations:?}"
    );
    let chat: Value = serde_json::from_str(pg["convert"]["chat_body"].as_str().expect("chat body"))
        .expect("json");
    assert_eq!(chat["messages"][0]["content"], "hi from the test", "{chat}");
    assert!(
        pg["convert"]["codex_tokens"]
            .as_str()
            .unwrap_or("")
            .chars()
            .any(|c| c.is_ascii_digit()),
        "{pg}"
    );
    assert!(
        pg["convert"]["events"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{pg}"
    );
}

/// The first page load (the overview, in a fresh browser) is at most 500 KiB gzipped, and the
/// playground's wasm (the core with the o200k tokenizer) is not part of it.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_page_load_is_small_and_leaves_the_wasm_for_the_playground() {
    clients_dir();
    let fake = fake().await;
    let p = Proxy::start(&fake, ProxyOpts::default());
    let v = flow(&p, "first-load");
    let loads = v["loads"].as_array().expect("loads");
    let urls: Vec<&str> = loads.iter().filter_map(|l| l["url"].as_str()).collect();
    for needed in ["/", "/ui/app.js", "/ui/app.css"] {
        assert!(urls.contains(&needed), "{urls:?}");
    }
    assert!(!urls.iter().any(|u| u.contains("/ui/wasm/")), "{urls:?}");
    let gz = v["total_gzipped"].as_u64().expect("total");
    assert!(gz <= 500 * 1024, "first load {gz} bytes gzipped");
    println!(
        "first page load: {} bytes, {gz} gzipped, {} responses",
        v["total_bytes"],
        loads.len()
    );
}
