//! Load tool: N concurrent streams through the real proxy binary and, in the same run, the
//! same N straight against the fake backend; reports added TTFB, wall-time ratio, requests/s,
//! lost events and the proxy's peak RSS. Loopback only; it stops by itself.
//!
//! ```text
//! cargo build --release -p proxy-host -p proxy-fakes
//! target/release/proxy-load [--proxy-bin target/release/codex-claude-proxy] [--n 1,100,1000]
//!                           [--scenario slow_drip] [--drip-ms 20]
//! ```

use futures_util::StreamExt;
use proxy_fakes::spawn::start_proxy;
use proxy_fakes::{FakeConfig, FakeServer};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    proxy_bin: String,
    ns: Vec<usize>,
    scenario: String,
    drip_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        proxy_bin: "target/release/codex-claude-proxy".into(),
        ns: vec![1, 100, 1000],
        scenario: "slow_drip".into(),
        drip_ms: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--proxy-bin" => a.proxy_bin = v,
            "--n" => a.ns = v.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
            "--scenario" => a.scenario = v,
            "--drip-ms" => a.drip_ms = v.parse().unwrap_or(a.drip_ms),
            _ => {
                eprintln!(
                    "usage: proxy-load [--proxy-bin P] [--n 1,100,1000] [--scenario S] [--drip-ms MS]"
                );
                std::process::exit(2);
            }
        }
    }
    a
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[derive(Default)]
struct Sample {
    ttfb: Vec<f64>,
    wall: f64,
    deltas: Vec<usize>,
    failures: usize,
}

/// One request: time to the first output token (the first chunk holding a delta event: the
/// proxy commits its headers only then, so first-byte times are not comparable), and how
/// many delta events arrived.
async fn one(
    client: &reqwest::Client,
    req: reqwest::RequestBuilder,
    marker: &'static str,
) -> Option<(f64, usize)> {
    let _ = client;
    let t = Instant::now();
    let resp = req.send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let mut body = resp.bytes_stream();
    let mut ttfb = None;
    let mut text = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.ok()?;
        text.extend_from_slice(&chunk);
        if ttfb.is_none() && String::from_utf8_lossy(&chunk).contains(marker) {
            ttfb = Some(t.elapsed().as_secs_f64());
        }
    }
    let s = String::from_utf8_lossy(&text);
    Some((ttfb?, s.matches(marker).count()))
}

async fn run(
    n: usize,
    make: impl Fn() -> reqwest::RequestBuilder,
    marker: &'static str,
    client: &reqwest::Client,
) -> Sample {
    let t = Instant::now();
    let futs: Vec<_> = (0..n).map(|_| one(client, make(), marker)).collect();
    let results = futures_util::future::join_all(futs).await;
    let mut s = Sample {
        wall: t.elapsed().as_secs_f64(),
        ..Sample::default()
    };
    for r in results {
        match r {
            Some((ttfb, d)) => {
                s.ttfb.push(ttfb);
                s.deltas.push(d);
            }
            None => s.failures += 1,
        }
    }
    s.ttfb.sort_by(|a, b| a.total_cmp(b));
    s
}

fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let a = args();
    let fake = FakeServer::start(FakeConfig {
        drip_ms: a.drip_ms,
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    let (token, _, _) = fake.issue_tokens("acct-load", "load@example.com");
    let proxy = start_proxy(
        &a.proxy_bin,
        &fake,
        "load",
        &json!({"account_id": "acct-load", "access_token": token}),
    );
    let pid = proxy.child.id();
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(2000)
        .build()
        .expect("client");
    let marker_text = format!("[[scenario:{}]]", a.scenario);

    let upstream_url = format!("{}/backend-api/codex/responses", fake.base_url());
    let direct_body = json!({
        "model": "gpt-5.5", "instructions": "", "store": false, "stream": true, "tools": [],
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": marker_text}]}],
    })
    .to_string();
    let proxy_url = format!("{}/v1/messages", proxy.base);
    let proxy_body = json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
        "messages": [{"role": "user", "content": marker_text}]})
    .to_string();

    println!(
        "scenario {} (drip {} ms), proxy pid {pid}",
        a.scenario, a.drip_ms
    );
    println!(
        "| N | direct first-token p50/p99 ms | proxy first-token p50/p99 ms | added p50/p99 ms | wall direct/proxy s | wall ratio | proxy req/s | lost events | failures | proxy peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &n in &a.ns {
        // Warm both paths' connection pools first (a running proxy's upstream pool is warm).
        let direct_req = || {
            client
                .post(&upstream_url)
                .bearer_auth(&token)
                .header("chatgpt-account-id", "acct-load")
                .header("originator", "codex_cli_rs")
                .header("accept", "text/event-stream")
                .header("content-type", "application/json")
                .body(direct_body.clone())
        };
        let proxy_req = || {
            client
                .post(&proxy_url)
                .header("x-api-key", "k")
                .header("content-type", "application/json")
                .body(proxy_body.clone())
        };
        let _ = run(n, direct_req, "response.output_text.delta", &client).await;
        let _ = run(n, proxy_req, "\"text_delta\"", &client).await;
        let direct = run(
            n,
            || {
                client
                    .post(&upstream_url)
                    .bearer_auth(&token)
                    .header("chatgpt-account-id", "acct-load")
                    .header("originator", "codex_cli_rs")
                    .header("accept", "text/event-stream")
                    .header("content-type", "application/json")
                    .body(direct_body.clone())
            },
            "response.output_text.delta\n",
            &client,
        )
        .await;
        let peak = Arc::new(AtomicU64::new(rss_kb(pid)));
        let sampler = {
            let peak = peak.clone();
            tokio::spawn(async move {
                loop {
                    peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let via = run(
            n,
            || {
                client
                    .post(&proxy_url)
                    .header("x-api-key", "k")
                    .header("content-type", "application/json")
                    .body(proxy_body.clone())
            },
            "\"text_delta\"",
            &client,
        )
        .await;
        sampler.abort();
        let expected = direct.deltas.iter().copied().max().unwrap_or(0);
        let lost: usize = via
            .deltas
            .iter()
            .map(|d| expected.saturating_sub(*d))
            .sum::<usize>()
            + via.failures * expected;
        let ms = |x: f64| x * 1000.0;
        println!(
            "| {n} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.3} / {:.3} | {:.3} | {:.0} | {lost} | {} | {:.1} |",
            ms(pct(&direct.ttfb, 0.5)),
            ms(pct(&direct.ttfb, 0.99)),
            ms(pct(&via.ttfb, 0.5)),
            ms(pct(&via.ttfb, 0.99)),
            ms(pct(&via.ttfb, 0.5) - pct(&direct.ttfb, 0.5)),
            ms(pct(&via.ttfb, 0.99) - pct(&direct.ttfb, 0.99)),
            direct.wall,
            via.wall,
            via.wall / direct.wall,
            n as f64 / via.wall,
            via.failures + direct.failures,
            peak.load(Ordering::Relaxed) as f64 / 1024.0,
        );
    }
}
