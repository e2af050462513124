//! `--compare "<command>"`: another Anthropic-compatible proxy, started from a command
//! template, run with the same load against the same fake and printed next to this one.
//!
//! Placeholders: `{port}` (a free loopback port it must listen on), `{upstream}` (the fake's
//! base URL: the Codex backend under `/backend-api`, a Chat Completions provider under `/v1`)
//! and `{data_dir}` (a fresh directory holding `accounts/acct-load.json`, a ChatGPT account the
//! fake accepts, for proxies that need a login). The command runs under `sh -c` in its own
//! process group; everything in that group's tree is measured (CPU and RSS summed), so a
//! shell, a wrapper or worker processes count too.

use crate::load::{Measured, Sample, pct};
use proxy_fakes::FakeServer;
use proxy_fakes::load::procfs::tree;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The other proxy's process.
pub struct Other {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The command as run.
    pub command: String,
    dir: std::path::PathBuf,
}

impl Other {
    /// Start `template` and wait until its port accepts connections (panics on failure, so
    /// that the processes already started are dropped, and so stopped).
    pub fn start(template: &str, fake: &FakeServer) -> Other {
        let dir = std::env::temp_dir().join(format!("ccp-compare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("accounts")).expect("data dir");
        let (token, _, _) = fake.issue_tokens(crate::ACCOUNT, "load@example.com");
        let account = serde_json::json!({"account_id": crate::ACCOUNT, "access_token": token});
        std::fs::write(
            dir.join(format!("accounts/{}.json", crate::ACCOUNT)),
            account.to_string(),
        )
        .expect("account");
        let port = free_port();
        let command = template
            .replace("{port}", &port.to_string())
            .replace("{upstream}", &fake.base_url())
            .replace("{data_dir}", &dir.to_string_lossy());
        let log = dir.join("compare.log");
        let child = spawn(&command, &log);
        let mut other = Other {
            child,
            base: format!("http://127.0.0.1:{port}"),
            command,
            dir,
        };
        other.wait_ready(port, &log);
        other
    }

    /// The process tree now (the command's shell and everything below it).
    pub fn pids(&self) -> Vec<u32> {
        tree(self.child.id())
    }

    /// The root process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self, port: u16, log: &std::path::Path) {
        let until = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > until {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                panic!(
                    "the compared command did not listen on port {port} ({}):\n{}\n--- its output:\n{text}",
                    exited.map_or("30 s passed".to_owned(), |s| s.to_string()),
                    self.command
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Other {
    fn drop(&mut self) {
        // The whole group: `sh -c` may have left the proxy as its child.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spawn(command: &str, log: &std::path::Path) -> Child {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    Command::new("sh")
        .args(["-c", command])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start sh -c {command}: {e}"))
}

/// A port nothing listens on now (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One proxy's line of the side-by-side table.
pub struct Row {
    n: usize,
    who: &'static str,
    added_p50_ms: f64,
    added_p99_ms: f64,
    cpu_ms_per_request: f64,
    peak_rss_mb: f64,
    req_per_s: f64,
    lost: usize,
    failures: usize,
}

impl Row {
    /// The row of a proxy's batch, against the direct batch of the same N.
    pub fn new(n: usize, who: &'static str, direct: &Sample, m: &Measured, lost: usize) -> Row {
        let v = &m.sample;
        Row {
            n,
            who,
            added_p50_ms: (pct(&v.ttfb, 0.5) - pct(&direct.ttfb, 0.5)) * 1000.0,
            added_p99_ms: (pct(&v.ttfb, 0.99) - pct(&direct.ttfb, 0.99)) * 1000.0,
            // Clock ticks are 1/100 s.
            cpu_ms_per_request: m.cpu_ticks as f64 * 10.0 / n as f64,
            peak_rss_mb: m.peak_rss_kb as f64 / 1024.0,
            req_per_s: n as f64 / v.wall,
            lost,
            failures: v.failures,
        }
    }
}

/// The side-by-side table.
pub fn print(rows: &[Row]) {
    println!();
    println!(
        "| N | proxy | added first-token p50 / p99 ms | CPU ms / request | peak RSS MB | req/s | lost events | failures |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.2} / {:.2} | {:.3} (± {:.3}) | {:.1} | {:.0} | {} | {} |",
            r.n,
            r.who,
            r.added_p50_ms,
            r.added_p99_ms,
            r.cpu_ms_per_request,
            // /proc counts CPU in 10 ms ticks: one tick spread over the batch.
            10.0 / r.n as f64,
            r.peak_rss_mb,
            r.req_per_s,
            r.lost,
            r.failures
        );
    }
}
