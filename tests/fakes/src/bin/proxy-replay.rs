//! `proxy-replay`: a Claude-Code-shaped session (`proxy_fakes::replay`) through the real
//! proxy binary, as a tool. Prints the prompt-cache table and the upload table of
//! docs/PERFORMANCE.md: for each way of sending Codex requests (HTTP, HTTP with zstd, the
//! WebSocket with continuation), the bytes that went upstream and the time to the first token
//! over a throttled uplink. Loopback only; stops by itself.
//!
//! ```text
//! cargo build --release -p proxy-host -p proxy-fakes
//! target/release/proxy-replay --proxy-bin target/release/codex-claude-proxy \
//!     --fixtures tests/fakes/fixtures/claude-code [--turns 30] [--uplink-mbit 20] [--think-ms 200] \
//!     [--lite-continuation]
//! ```
//!
//! The session's Claude models go to the catalog's newest, a Responses Lite model; whether the
//! backend continues Lite turns on its socket is not known (codex.md §9.2), so the fake
//! refuses by default and `--lite-continuation` makes it continue them.
//!
//! `CCP_REPLAY_DEBUG=1` passes the proxy's stderr through with its WebSocket decisions (why a
//! turn went in full) at debug level.

use proxy_fakes::replay::{self, Link, MODES};

struct Args {
    proxy_bin: String,
    fixtures: String,
    turns: usize,
    uplink_mbit: f64,
    think_ms: u64,
    lite_continuation: bool,
}

fn args() -> Args {
    let mut a = Args {
        proxy_bin: "target/debug/codex-claude-proxy".into(),
        fixtures: "tests/fakes/fixtures/claude-code".into(),
        turns: 30,
        uplink_mbit: 20.0,
        think_ms: 200,
        lite_continuation: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--lite-continuation" {
            a.lite_continuation = true;
            continue;
        }
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--proxy-bin" => a.proxy_bin = v,
            "--fixtures" => a.fixtures = v,
            "--turns" => a.turns = v.parse().unwrap_or(a.turns),
            "--uplink-mbit" => a.uplink_mbit = v.parse().unwrap_or(a.uplink_mbit),
            "--think-ms" => a.think_ms = v.parse().unwrap_or(a.think_ms),
            _ => {
                eprintln!(
                    "usage: proxy-replay [--proxy-bin P] [--fixtures DIR] [--turns N] [--uplink-mbit M] [--think-ms T] [--lite-continuation]"
                );
                std::process::exit(2);
            }
        }
    }
    a
}

#[tokio::main]
async fn main() {
    let a = args();
    let link = Link {
        uplink_bits_per_sec: (a.uplink_mbit > 0.0).then_some((a.uplink_mbit * 1e6) as u64),
        think_ms: a.think_ms,
        lite_continuation: a.lite_continuation,
    };
    let fixtures = std::path::Path::new(&a.fixtures);
    let mut runs = Vec::new();
    for mode in MODES {
        let rows = replay::run(&a.proxy_bin, fixtures, a.turns, mode, link).await;
        runs.push((mode, rows));
    }
    for (mode, rows) in &runs {
        println!("### {}\n", mode.name);
        print!("{}", replay::table(rows));
        println!();
    }
    println!(
        "Uplink {} Mbit/s; the fake answers {} ms after a request is in; its socket {} Lite turns.\n",
        a.uplink_mbit,
        a.think_ms,
        if a.lite_continuation {
            "continues"
        } else {
            "refuses to continue"
        }
    );
    print!("{}", replay::transport_table(&runs, a.think_ms));
}
