//! Test support: run the real `codex-claude-proxy` binary against the in-process fakes.

#![allow(dead_code)]

pub mod clients;

use proxy_fakes::{FakeConfig, FakeServer};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running proxy process; killed on drop.
pub struct Proxy {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its data dir (removed on drop).
    pub data_dir: PathBuf,
    /// Captured stderr log file.
    pub log: PathBuf,
    /// Leave the data dir on drop (it is about to be restarted on).
    keep_data: bool,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_data {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

fn fresh_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("ccp-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// An account file for the proxy's data dir.
pub struct TestAccount {
    pub account_id: String,
    pub access_token: String,
}

/// Options for one proxy process.
#[derive(Default)]
pub struct ProxyOpts {
    pub accounts: Vec<TestAccount>,
    /// Account files written as given (`account_id` names the file).
    pub raw_accounts: Vec<serde_json::Value>,
    pub env: Vec<(String, String)>,
    /// Start on this data dir (a restart) instead of a fresh one.
    pub data_dir: Option<PathBuf>,
    /// The working directory (default: the test's).
    pub cwd: Option<PathBuf>,
    /// Run the process as this user and group id (Unix): a test running as root uses it so
    /// that file modes apply to the proxy.
    pub uid: Option<u32>,
}

impl Proxy {
    /// Start the proxy on a free port, pointed at `fake`.
    pub fn start(fake: &FakeServer, opts: ProxyOpts) -> Proxy {
        let data_dir = opts.data_dir.clone().unwrap_or_else(|| fresh_dir("data"));
        for a in &opts.raw_accounts {
            let acc = data_dir.join("accounts");
            std::fs::create_dir_all(&acc).expect("accounts dir");
            let id = a["account_id"].as_str().expect("account_id");
            std::fs::write(acc.join(format!("{id}.json")), a.to_string()).expect("write account");
        }
        if !opts.accounts.is_empty() {
            let acc = data_dir.join("accounts");
            std::fs::create_dir_all(&acc).expect("accounts dir");
            for a in &opts.accounts {
                let body = serde_json::json!({
                    "account_id": a.account_id, "email": format!("{}@example.com", a.account_id),
                    "plan_type": "plus", "access_token": a.access_token,
                });
                std::fs::write(acc.join(format!("{}.json", a.account_id)), body.to_string())
                    .expect("write account");
            }
        }
        let log = data_dir.join("proxy.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_codex-claude-proxy"));
        cmd.args(["serve", "--port", "0", "--data-dir"])
            .arg(&data_dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &data_dir)
            .env("CCP_LOG", "debug")
            .env(
                "CCP_CODEX_BASE_URL",
                format!("{}/backend-api", fake.base_url()),
            )
            .env("CCP_OAUTH_ISSUER", fake.base_url())
            .env(
                "CCP_KILO_BASE_URL",
                format!("{}/api/openrouter", fake.base_url()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &opts.cwd {
            cmd.current_dir(dir);
        }
        #[cfg(unix)]
        if let Some(id) = opts.uid {
            use std::os::unix::process::CommandExt;
            cmd.uid(id).gid(id);
        }
        let mut child = cmd.spawn().expect("spawn proxy");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Proxy {
            child,
            base,
            data_dir,
            log,
            keep_data: false,
        }
    }

    /// Stop the process but keep its data dir, for a restart on it.
    #[allow(dead_code)] // Not every test binary restarts.
    pub fn stop_keeping_data(mut self) -> PathBuf {
        self.keep_data = true;
        self.data_dir.clone()
    }

    /// The proxy's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The proxy's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send SIGTERM, as a service manager does.
    #[allow(dead_code)] // Not every test binary stops the proxy this way.
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -TERM failed");
    }

    /// The exit status, once the process has ended (polled until `within`).
    #[allow(dead_code)]
    pub fn exit_status(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if std::time::Instant::now() >= until {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// CPU seconds (user + system) a process has used, from /proc (Linux).
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
}

/// A fake upstream with fast timings.
pub async fn fake() -> FakeServer {
    FakeServer::start(FakeConfig {
        stall_secs: 20,
        drip_ms: 20,
        ..FakeConfig::default()
    })
    .await
    .expect("start fake")
}

/// Options for a proxy with one account (`acct-1`) whose token `fake` accepts.
pub fn one_account(fake: &FakeServer) -> ProxyOpts {
    let (access, _, _) = fake.issue_tokens("acct-1", "one@example.com");
    ProxyOpts {
        accounts: vec![TestAccount {
            account_id: "acct-1".into(),
            access_token: access,
        }],
        ..ProxyOpts::default()
    }
}

/// A reqwest client without proxies.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// A minimal Anthropic request whose text selects a fake scenario.
pub fn request(model: &str, scenario: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": format!("hello [[scenario:{scenario}]]")}],
    })
}

/// Parse an SSE body into (event, data) pairs.
pub fn sse_events(body: &str) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for frame in body.split("\n\n") {
        let mut event = None;
        let mut data = String::new();
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_owned());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            }
        }
        if let Some(e) = event {
            out.push((
                e,
                serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            ));
        }
    }
    out
}

/// GET a URL and read its JSON body.
pub async fn get_json(c: &reqwest::Client, url: impl reqwest::IntoUrl) -> serde_json::Value {
    c.get(url)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

/// POST a JSON body, parse the JSON answer.
#[allow(dead_code)] // Not every test binary posts.
pub async fn post_json(
    c: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: &serde_json::Value,
) -> serde_json::Value {
    c.post(url)
        .json(body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

/// The strings at `key` of each element of an array value.
#[allow(dead_code)]
pub fn strings<'a>(v: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x[key].as_str())
        .collect()
}
