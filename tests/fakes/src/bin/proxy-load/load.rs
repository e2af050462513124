//! The load mode: for each N, N concurrent streams straight to the fake, then through this
//! proxy (and, with `--compare`, through the other one), with the same request.

use crate::compare::{Other, Row};
use crate::{Args, Setup, setup};
use futures_util::StreamExt;
use proxy_fakes::FakeConfig;
use proxy_fakes::load::procfs::{cpu_ticks_of, sample_peak_rss};
use serde_json::json;

use std::sync::atomic::Ordering;
use std::time::Instant;

/// The timings of N concurrent requests.
#[derive(Default)]
pub struct Sample {
    /// Time to the first output token of each request that succeeded, sorted.
    pub ttfb: Vec<f64>,
    /// Wall time of the whole batch.
    pub wall: f64,
    /// Delta events each successful request got.
    pub deltas: Vec<usize>,
    /// Requests without a 200 or cut before their first token.
    pub failures: usize,
}

/// One request: time to the first output token (the first chunk holding a delta event: the
/// proxy commits its headers only then, so first-byte times are not comparable), and how
/// many delta events arrived.
async fn one(req: reqwest::RequestBuilder, marker: &'static str) -> Option<(f64, usize)> {
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

async fn run(n: usize, make: impl Fn() -> reqwest::RequestBuilder, marker: &'static str) -> Sample {
    let t = Instant::now();
    let futs: Vec<_> = (0..n).map(|_| one(make(), marker)).collect();
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

/// The `p` quantile of sorted values.
pub fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A batch through a proxy, with its processes' peak RSS (sampled every 5 ms) and the CPU
/// time they used during the batch.
pub struct Measured {
    /// The batch.
    pub sample: Sample,
    /// Peak RSS, KiB.
    pub peak_rss_kb: u64,
    /// User + system CPU during the batch, clock ticks (1/100 s).
    pub cpu_ticks: u64,
}

async fn measured(n: usize, pids: &[u32], make: impl Fn() -> reqwest::RequestBuilder) -> Measured {
    let (peak, sampler) = sample_peak_rss(pids);
    let cpu0 = cpu_ticks_of(pids);
    let sample = run(n, make, "\"text_delta\"").await;
    let cpu_ticks = cpu_ticks_of(pids).saturating_sub(cpu0);
    sampler.abort();
    Measured {
        sample,
        peak_rss_kb: peak.load(Ordering::Relaxed),
        cpu_ticks,
    }
}

/// The two requests: straight to the fake's Codex endpoint, and the Anthropic one a proxy
/// turns into it.
struct Requests {
    client: reqwest::Client,
    upstream_url: String,
    token: String,
    direct_body: String,
    proxy_body: String,
}

impl Requests {
    fn new(s: &Setup, scenario: &str) -> Requests {
        let marker = format!("[[scenario:{scenario}]]");
        Requests {
            client: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(2000)
                .build()
                .expect("client"),
            upstream_url: format!("{}/backend-api/codex/responses", s.fake.base_url()),
            token: s.token.clone(),
            direct_body: json!({
                "model": "gpt-5.5", "instructions": "", "store": false, "stream": true, "tools": [],
                "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": marker}]}],
            })
            .to_string(),
            proxy_body: json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
                "messages": [{"role": "user", "content": marker}]})
            .to_string(),
        }
    }

    fn direct(&self) -> reqwest::RequestBuilder {
        self.client
            .post(&self.upstream_url)
            .bearer_auth(&self.token)
            .header("chatgpt-account-id", crate::ACCOUNT)
            .header("originator", "codex_cli_rs")
            .header("accept", "text/event-stream")
            .header("content-type", "application/json")
            .body(self.direct_body.clone())
    }

    fn via(&self, base: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", "k")
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "application/json")
            .body(self.proxy_body.clone())
    }
}

/// Events lost on the proxy path: each stream short of the direct path's count, and every
/// failed stream whole.
fn lost(direct: &Sample, via: &Sample) -> usize {
    let expected = direct.deltas.iter().copied().max().unwrap_or(0);
    via.deltas
        .iter()
        .map(|d| expected.saturating_sub(*d))
        .sum::<usize>()
        + via.failures * expected
}

fn print_row(n: usize, direct: &Sample, via: &Measured) {
    let ms = |x: f64| x * 1000.0;
    let v = &via.sample;
    println!(
        "| {n} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {:.3} / {:.3} | {:.3} | {:.0} | {} | {} | {:.1} |",
        ms(pct(&direct.ttfb, 0.5)),
        ms(pct(&direct.ttfb, 0.99)),
        ms(pct(&v.ttfb, 0.5)),
        ms(pct(&v.ttfb, 0.99)),
        ms(pct(&v.ttfb, 0.5) - pct(&direct.ttfb, 0.5)),
        ms(pct(&v.ttfb, 0.99) - pct(&direct.ttfb, 0.99)),
        direct.wall,
        v.wall,
        v.wall / direct.wall,
        n as f64 / v.wall,
        lost(direct, v),
        v.failures + direct.failures,
        via.peak_rss_kb as f64 / 1024.0,
    );
}

/// The load mode.
pub async fn main(a: &Args) {
    let drip_ms = a.drip_ms.unwrap_or(20);
    let s = setup(
        a,
        FakeConfig {
            drip_ms,
            ..FakeConfig::default()
        },
    )
    .await;
    let other = a.compare.as_deref().map(|t| Other::start(t, &s.fake));
    let pid = s.proxy.child.id();
    let r = Requests::new(&s, &a.scenario);
    println!(
        "scenario {} (drip {drip_ms} ms), proxy pid {pid}",
        a.scenario
    );
    if let Some(o) = &other {
        println!("compared with pid {} ({})", o.pid(), o.command);
    }
    println!(
        "| N | direct first-token p50/p99 ms | proxy first-token p50/p99 ms | added p50/p99 ms | wall direct/proxy s | wall ratio | proxy req/s | lost events | failures | proxy peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for &n in a.ns.as_deref().unwrap_or(&[1, 100, 1000]) {
        // Warm every path's connection pool first (a running proxy's upstream pool is warm).
        let _ = run(n, || r.direct(), "response.output_text.delta").await;
        let _ = run(n, || r.via(&s.proxy.base), "\"text_delta\"").await;
        if let Some(o) = &other {
            let _ = run(n, || r.via(&o.base), "\"text_delta\"").await;
        }
        let direct = run(n, || r.direct(), "response.output_text.delta\n").await;
        let ours = measured(n, &[pid], || r.via(&s.proxy.base)).await;
        print_row(n, &direct, &ours);
        if let Some(o) = &other {
            let theirs = measured(n, &o.pids(), || r.via(&o.base)).await;
            rows.push(Row::new(
                n,
                "this proxy",
                &direct,
                &ours,
                lost(&direct, &ours.sample),
            ));
            rows.push(Row::new(
                n,
                "compared",
                &direct,
                &theirs,
                lost(&direct, &theirs.sample),
            ));
        }
    }
    if other.is_some() {
        crate::compare::print(&rows);
    }
}
