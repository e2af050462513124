//! Sign-in, import, Claude Code setup and crash safety, through the real binary against the
//! fake issuer (loopback only).

mod support;

use proxy_fakes::{FakeConfig, FakeServer};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_codex-claude-proxy")
}

fn temp(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("ccp-login-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn cli(data: &Path, fake: &FakeServer) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", data)
        .env("CCP_DATA_DIR", data)
        .env("CCP_OAUTH_ISSUER", fake.base_url())
        .env(
            "CCP_CODEX_BASE_URL",
            format!("{}/backend-api", fake.base_url()),
        )
        .env("CCP_BROWSER", "true");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// Read stderr lines until one holds the authorize URL.
fn read_url(child: &mut Child) -> String {
    let err = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(err).lines();
    loop {
        let line = lines
            .next()
            .expect("the CLI printed the URL")
            .expect("utf-8");
        if let Some(i) = line.find("http") {
            let url = line[i..].trim().to_owned();
            if url.contains("/oauth/authorize") {
                // Keep draining stderr so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines.by_ref() {});
                return url;
            }
        }
    }
}

fn stored(data: &Path) -> Vec<Value> {
    let mut v: Vec<Value> = std::fs::read_dir(data.join("accounts"))
        .expect("accounts dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name().is_some_and(|n| n != "index.json")
        })
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json"))
        .collect();
    v.sort_by_key(|a| a["account_id"].as_str().unwrap_or("").to_owned());
    v
}

async fn fake() -> FakeServer {
    FakeServer::start(FakeConfig::default())
        .await
        .expect("fake")
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_sign_in_through_the_callback_server() {
    let fake = fake().await;
    let data = temp("browser");
    let port = free_port();
    let mut child = cli(&data, &fake)
        .args(["accounts", "add", "--callback-port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let url = tokio::task::block_in_place(|| read_url(&mut child));
    assert!(url.contains(&format!(
        "redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2Fauth%2Fcallback"
    )));
    assert!(url.contains("code_challenge_method=S256"));
    // The "browser": the issuer redirects to the callback, which the CLI serves.
    let r = no_redirects().get(&url).send().await.expect("authorize");
    let loc = r.headers()["location"]
        .to_str()
        .expect("ascii")
        .replace("localhost", "127.0.0.1");
    let page = no_redirects().get(&loc).send().await.expect("callback");
    assert!(page.text().await.expect("page").contains("Signed in"));
    let out = tokio::task::block_in_place(|| child.wait_with_output()).expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Added"));
    let acc = stored(&data);
    assert_eq!(acc.len(), 1);
    assert!(acc[0]["refresh_token"].is_string() && acc[0]["access_token"].is_string());
    assert_eq!(acc[0]["email"], "user@example.com");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&data.join("accounts")), 0o700);
        let f = std::fs::read_dir(data.join("accounts"))
            .expect("dir")
            .flatten()
            .find(|e| {
                e.file_name() != "index.json" && e.path().extension().is_some_and(|x| x == "json")
            })
            .expect("account file");
        assert_eq!(mode(&f.path()), 0o600);
    }
    // Tokens never reach the terminal.
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(!printed.contains(acc[0]["access_token"].as_str().unwrap_or("-")));
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread")]
async fn headless_sign_in_with_the_pasted_callback_url() {
    let fake = fake().await;
    let data = temp("paste");
    let mut child = cli(&data, &fake)
        .args(["accounts", "add", "--no-browser"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let url = tokio::task::block_in_place(|| read_url(&mut child));
    let r = no_redirects().get(&url).send().await.expect("authorize");
    let loc = r.headers()["location"].to_str().expect("ascii").to_owned();
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{loc}").expect("paste");
    drop(stdin);
    let out = tokio::task::block_in_place(|| child.wait_with_output()).expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(stored(&data).len(), 1);
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread")]
async fn device_code_sign_in() {
    let fake = fake().await;
    let data = temp("device");
    let out = tokio::task::block_in_place(|| {
        cli(&data, &fake)
            .args(["accounts", "add", "--device"])
            .stdin(Stdio::null())
            .output()
            .expect("run")
    });
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("/codex/device"), "{err}");
    assert!(
        err.contains("Waiting for confirmation."),
        "progress shown: {err}"
    );
    assert_eq!(stored(&data).len(), 1);
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_both_formats_merge_duplicates_and_list() {
    let fake = fake().await;
    let data = temp("import");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/import");
    for f in ["codex_auth.json", "node_accounts.json"] {
        let out = cli(&data, &fake)
            .args(["accounts", "import"])
            .arg(fixtures.join(f))
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let accounts = stored(&data);
    let ids: Vec<&str> = accounts
        .iter()
        .filter_map(|a| a["account_id"].as_str())
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "merged by account id");
    assert!(ids.len() >= 2, "{ids:?}");
    let out = cli(&data, &fake)
        .args(["accounts", "list"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    assert_eq!(list.lines().count(), ids.len(), "{list}");
    assert!(!list.contains("eyJ"), "no token printed");
    // switch, then remove by email; unknown names fail with exit code 1.
    let email = accounts[0]["email"].as_str().expect("email").to_owned();
    assert!(
        cli(&data, &fake)
            .args(["accounts", "switch", &email])
            .status()
            .expect("run")
            .success()
    );
    assert!(
        cli(&data, &fake)
            .args(["accounts", "remove", &email])
            .status()
            .expect("run")
            .success()
    );
    assert_eq!(stored(&data).len(), ids.len() - 1);
    let s = cli(&data, &fake)
        .args(["accounts", "remove", "nobody@example.com"])
        .status()
        .expect("run");
    assert_eq!(s.code(), Some(1));
    // Importing a file that is neither format fails clearly.
    std::fs::write(data.join("junk.json"), "{\"hello\":1}").expect("write");
    let out = cli(&data, &fake)
        .args(["accounts", "import"])
        .arg(data.join("junk.json"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_command_and_status_with_live_quota() {
    let fake = fake().await;
    let data = temp("refresh");
    let (access, refresh, id) = fake.issue_tokens("acct-r", "r@example.com");
    std::fs::create_dir_all(data.join("accounts")).expect("dir");
    std::fs::write(
        data.join("accounts/acct-r.json"),
        json!({"account_id": "acct-r", "email": "r@example.com", "access_token": access,
               "refresh_token": refresh, "id_token": id})
        .to_string(),
    )
    .expect("write");
    let out = cli(&data, &fake)
        .args(["accounts", "refresh", "--all"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(fake.refresh_calls(), 1);
    assert_ne!(
        stored(&data)[0]["refresh_token"],
        json!(refresh),
        "rotated token saved"
    );
    let out = cli(&data, &fake)
        .args(["accounts", "status"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("% used"), "{text}");
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_setup_writes_and_reverts_keeping_other_settings() {
    let fake = fake().await;
    let data = temp("claude");
    let settings = data.join(".claude/settings.json");
    std::fs::create_dir_all(settings.parent().expect("parent")).expect("dir");
    std::fs::write(
        &settings,
        r#"{"theme":"dark","env":{"MY_VAR":"1"},"permissions":{"allow":["Bash"]}}"#,
    )
    .expect("write");
    let out = cli(&data, &fake)
        .args(["claude", "setup"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ANTHROPIC_BASE_URL"));
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("read")).expect("json");
    assert_eq!(v["theme"], "dark");
    assert_eq!(v["permissions"]["allow"][0], "Bash");
    assert_eq!(v["env"]["MY_VAR"], "1");
    assert_eq!(v["env"]["ANTHROPIC_BASE_URL"], "http://127.0.0.1:8081");
    assert!(
        std::fs::read_dir(settings.parent().expect("p"))
            .expect("dir")
            .flatten()
            .any(|e| e
                .file_name()
                .to_string_lossy()
                .starts_with("settings.json.bak-")),
        "backup made"
    );
    let out = cli(&data, &fake)
        .args(["claude", "setup", "--direct"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings).expect("read")).expect("json");
    assert_eq!(
        v,
        json!({"theme":"dark","env":{"MY_VAR":"1"},"permissions":{"allow":["Bash"]}})
    );
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn a_writer_killed_mid_write_never_corrupts_the_store() {
    let data = temp("crash");
    for round in 0..100 {
        let mut child = Command::new(bin())
            .args(["accounts", "stress-write", "--data-dir"])
            .arg(&data)
            .env("HOME", &data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // Let it complete a round-dependent number of writes, then SIGKILL it mid-loop.
        let mut out = child.stdout.take().expect("stdout");
        let mut buf = vec![0u8; 1 + round % 7];
        out.read_exact(&mut buf).expect("writes happened");
        child.kill().expect("kill");
        let _ = child.wait();
        let text =
            std::fs::read_to_string(data.join("accounts/stress.json")).expect("file present");
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("round {round}: corrupt store ({e})"));
        assert_eq!(v["account_id"], "stress");
    }
    // The loader skips the temp files a killed writer left and reports nothing unreadable.
    let out = Command::new(bin())
        .args(["accounts", "list", "--data-dir"])
        .arg(&data)
        .env("HOME", &data)
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("unreadable"));
    let _ = std::fs::remove_dir_all(&data);
    let _ = Duration::ZERO;
}
