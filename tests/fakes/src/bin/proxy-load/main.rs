//! Load tool, loopback only, the fake backend in this process; it stops by itself. Three modes:
//!
//! - load (default): N concurrent streams through the real proxy binary and, in the same run,
//!   the same N straight against the fake backend; reports added first-token time, wall-time
//!   ratio, requests/s, lost events and the proxy's peak RSS.
//! - `--compare "<command>"`: the same, with another Anthropic-compatible proxy started from a
//!   command template next to this one, printed side by side (`compare.rs`).
//! - `--perf`: the request path's own cost: CPU per request, added first-token time and
//!   peak RSS for a small streamed answer at 1, 100 and 1,000 in flight and a ~400 KB
//!   Claude-Code-shaped request, against a fake that keeps connections alive and one that
//!   closes them, over `--runs` runs (`perf.rs`).
//! - `--soak`: N numbered streams held open for `--secs`, `--runs` times on the same proxy
//!   process, every number checked and the process's descriptors, memory and threads sampled
//!   every second (`soak.rs`).
//!
//! ```text
//! cargo build --release -p proxy-host -p proxy-fakes
//! target/release/proxy-load [--proxy-bin target/release/codex-claude-proxy] [--n 1,100,1000]
//!                           [--scenario slow_drip] [--drip-ms 20]
//!                           [--compare "CMD with {port} {upstream} {data_dir}"]
//! target/release/proxy-load --perf [--requests 3000] [--runs 3] [--env CCP_KEY=value]…
//!                           [--cases small-1,small-100,small-1000,400KB-1,400KBchat-1] [--upstreams keep-alive,closes]
//!                           [--fake-inline] [--floor] [--compare "CMD"]
//! target/release/proxy-load --soak [--n 1000] [--secs 60] [--runs 3] [--drip-ms 50] [--seq 100]
//! ```

mod compare;
mod floor;
mod load;
mod perf;
mod soak;

use proxy_fakes::spawn::{Proxy, start_proxy};
use proxy_fakes::{FakeConfig, FakeServer};
use serde_json::json;

/// The command line.
pub struct Args {
    proxy_bin: String,
    ns: Option<Vec<usize>>,
    scenario: String,
    drip_ms: Option<u64>,
    compare: Option<String>,
    soak: bool,
    perf: bool,
    /// `--perf`: requests per batch.
    requests: usize,
    /// `--perf`: settings for this proxy's process (`CCP_*`).
    env: Vec<(String, String)>,
    /// `--perf`: the cases to run (`small-1`, `small-100`, `small-1000`, `400KB-1`, and the Chat
    /// lane's `400KBchat-1`, only when named); all but the Chat one.
    cases: Option<Vec<String>>,
    /// `--perf`: the upstreams to run against (`keep-alive`, `closes`); both.
    upstreams: Option<Vec<String>>,
    /// `--perf --fake-inline`: the fake on the client's runtime, as before 2026-12-07 (see
    /// `FakeServer::start_apart`).
    fake_inline: bool,
    /// `--perf --floor`: a zero-work relay measured next to the proxy (`floor.rs`).
    floor: bool,
    secs: u64,
    runs: usize,
    seq_total: u64,
}

const USAGE: &str = "usage: proxy-load [--proxy-bin P] [--n 1,100,1000] [--scenario S] [--drip-ms MS] [--compare CMD]\n       proxy-load --perf [--proxy-bin P] [--requests 3000] [--runs 3] [--env CCP_KEY=value]... [--cases small-1,small-100,small-1000,400KB-1,400KBchat-1] [--upstreams keep-alive,closes] [--fake-inline] [--floor] [--compare CMD]\n       proxy-load --soak [--proxy-bin P] [--n 1000] [--secs 60] [--runs 3] [--drip-ms 50] [--seq 100]";

fn args() -> Args {
    let mut a = Args {
        proxy_bin: "target/release/codex-claude-proxy".into(),
        ns: None,
        scenario: "slow_drip".into(),
        drip_ms: None,
        compare: None,
        soak: false,
        perf: false,
        requests: 3000,
        env: Vec::new(),
        cases: None,
        upstreams: None,
        fake_inline: false,
        floor: false,
        secs: 60,
        runs: 3,
        seq_total: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--soak" || k == "--perf" || k == "--fake-inline" || k == "--floor" {
            a.soak |= k == "--soak";
            a.perf |= k == "--perf";
            a.fake_inline |= k == "--fake-inline";
            a.floor |= k == "--floor";
            continue;
        }
        let v = it.next().unwrap_or_default();
        let bad = || -> ! {
            eprintln!("{USAGE}");
            std::process::exit(2)
        };
        match k.as_str() {
            "--proxy-bin" => a.proxy_bin = v,
            "--n" => a.ns = Some(v.split(',').filter_map(|x| x.trim().parse().ok()).collect()),
            "--scenario" => a.scenario = v,
            "--drip-ms" => a.drip_ms = Some(v.parse().unwrap_or_else(|_| bad())),
            "--compare" => a.compare = Some(v),
            "--secs" => a.secs = v.parse().unwrap_or_else(|_| bad()),
            "--runs" => a.runs = v.parse().unwrap_or_else(|_| bad()),
            "--seq" => a.seq_total = v.parse().unwrap_or_else(|_| bad()),
            "--cases" => a.cases = Some(v.split(',').map(str::to_owned).collect()),
            "--upstreams" => a.upstreams = Some(v.split(',').map(str::to_owned).collect()),
            "--requests" => a.requests = v.parse().unwrap_or_else(|_| bad()),
            "--env" => {
                let (key, value) = v.split_once('=').unwrap_or_else(|| bad());
                a.env.push((key.into(), value.into()));
            }
            _ => bad(),
        }
    }
    a
}

/// The fake backend and this proxy, started against it with one account.
pub struct Setup {
    fake: FakeServer,
    token: String,
    proxy: Proxy,
}

/// The account every proxy process of a run uses (the fake accepts its token).
pub const ACCOUNT: &str = "acct-load";

async fn setup(a: &Args, cfg: FakeConfig) -> Setup {
    let fake = FakeServer::start(cfg).await.expect("fake");
    let (token, _, _) = fake.issue_tokens(ACCOUNT, "load@example.com");
    let proxy = start_proxy(
        &a.proxy_bin,
        &fake,
        "load",
        &json!({"account_id": ACCOUNT, "access_token": token}),
    );
    Setup { fake, token, proxy }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let [_, mode, upstream, request] = &argv[..]
        && mode == "--relay-child"
    {
        return floor::child(upstream, request);
    }
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(run());
}

async fn run() {
    let a = args();
    if a.soak {
        // The exit code is set once the proxy and the fake are gone (exit skips their drops).
        if !soak::main(&a).await {
            std::process::exit(1);
        }
    } else if a.perf {
        perf::main(&a).await;
    } else {
        load::main(&a).await;
    }
}
