//! The proxy binary started against a fake, as the tools (`proxy-load`, the replay) run it:
//! a fresh data dir with one account, every upstream pointed at the fake, the port read from
//! its first line; stopped and its data dir removed on drop.

use crate::FakeServer;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running proxy process.
pub struct Proxy {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    dir: std::path::PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Start `bin serve` on a free port with `account` (an account file's JSON, `account_id`
/// naming it) in a data dir tagged `tag`.
pub fn start_proxy(bin: &str, fake: &FakeServer, tag: &str, account: &Value) -> Proxy {
    start_proxy_with(bin, fake, tag, account, &[])
}

/// [`start_proxy`] with more environment (`CCP_*` settings).
pub fn start_proxy_with(
    bin: &str,
    fake: &FakeServer,
    tag: &str,
    account: &Value,
    env: &[(&str, &str)],
) -> Proxy {
    let dir = std::env::temp_dir().join(format!("ccp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("accounts")).expect("data dir");
    let id = account["account_id"].as_str().expect("account_id");
    std::fs::write(dir.join(format!("accounts/{id}.json")), account.to_string()).expect("account");
    let mut child = Command::new(bin)
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(&dir)
        .env("HOME", &dir)
        .env(
            "CCP_CODEX_BASE_URL",
            format!("{}/backend-api", fake.base_url()),
        )
        .env("CCP_OAUTH_ISSUER", fake.base_url())
        .env(
            "CCP_KILO_BASE_URL",
            format!("{}/api/openrouter", fake.base_url()),
        )
        .env("CCP_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("CCP_REPLAY_DEBUG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {bin}: {e} (build it with cargo build -p proxy-host)")
        });
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let base = line.trim().trim_start_matches("listening on ").to_owned();
    Proxy { child, base, dir }
}
