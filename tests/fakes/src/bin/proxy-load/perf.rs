//! `--perf`: what the proxy's own request path costs, per request, next to the fake backend
//! reached directly with the very request the proxy sent it.
//!
//! For each case (a small streamed answer at 1, 100 and 1,000 requests in flight; a ~400 KB
//! Claude-Code-shaped request one at a time) and each run, three batches of the same number
//! of requests, one after the other: straight to the fake, through this proxy, and through
//! the `--compare` proxy if one is given. The direct request is the one this proxy sent the
//! fake for the case (captured in the warm-up, its headers and body replayed, compressed
//! the same way), so both paths give the fake the same work and the difference is the
//! proxy's. Measured per batch:
//! - CPU per request: the proxy's user + system time from `/proc/PID/stat` over the batch,
//!   divided by its requests (10 ms ticks, so a batch is made large enough for them);
//! - added time to the first text token: the proxy path's p50 / p99 minus the direct path's;
//! - peak RSS, sampled every 5 ms.
//!
//! Everything runs twice: against a fake that keeps connections alive (as the real backend
//! does) and against one that answers `connection: close` (a new upstream connection per
//! request). Runs alternate the paths, and the table gives each figure's median and range.

use crate::compare::Other;
use crate::floor;
use crate::load::pct;
use crate::{ACCOUNT, Args};
use futures_util::StreamExt;
use proxy_fakes::load::procfs::{cpu_split_of, sample_peak_rss};
use proxy_fakes::spawn::start_proxy_with;
use proxy_fakes::{FakeConfig, FakeServer};
use serde_json::json;
use std::sync::Arc;

#[path = "../../../../../core/benches/large_request.rs"]
mod shared;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// One kind of load.
struct Case {
    label: &'static str,
    /// Requests in flight.
    conc: usize,
    /// Requests per batch.
    total: usize,
    /// The Anthropic request.
    body: Arc<Vec<u8>>,
    /// The chunk of the fake's answer that holds the first text token.
    direct_token: &'static str,
}

/// A request builder shared by a batch's tasks.
type Make = Arc<dyn Fn() -> reqwest::RequestBuilder + Send + Sync>;

/// One batch's result.
struct Batch {
    /// Time to the first text token of each request that succeeded, sorted, seconds.
    ttft: Vec<f64>,
    failures: usize,
    /// The first failure's reason.
    failure: Option<String>,
    /// Wall time of the batch, seconds.
    wall: f64,
    /// User and system CPU of the measured processes over the batch, ticks (1/100 s).
    cpu_ticks: (u64, u64),
    peak_rss_kb: u64,
}

/// One request: time to the first chunk holding `marker`, the body read to its end.
async fn one(req: reqwest::RequestBuilder, marker: &'static str) -> Result<f64, String> {
    let t = Instant::now();
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    if !status.is_success() {
        let text = resp.text().await.unwrap_or_default();
        return Err(format!("{status}: {text}"));
    }
    let mut body = resp.bytes_stream();
    let mut ttft = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if ttft.is_none() && contains_bytes(&chunk, marker.as_bytes()) {
            ttft = Some(t.elapsed().as_secs_f64());
        }
    }
    ttft.ok_or_else(|| "no text token".into())
}

fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `total` requests, `conc` at a time, while the processes `pids` are measured.
async fn batch(conc: usize, total: usize, make: Make, marker: &'static str, pids: &[u32]) -> Batch {
    let (peak, sampler) = sample_peak_rss(pids);
    let cpu0 = cpu_split_of(pids);
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..conc.min(total))
        .map(|_| {
            let (next, make) = (next.clone(), make.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    got.push(one(make(), marker).await);
                }
                got
            })
        })
        .collect();
    let mut out = Batch {
        ttft: Vec::with_capacity(total),
        failures: 0,
        failure: None,
        wall: 0.0,
        cpu_ticks: (0, 0),
        peak_rss_kb: 0,
    };
    for w in workers {
        for r in w.await.unwrap_or_default() {
            match r {
                Ok(t) => out.ttft.push(t),
                Err(e) => {
                    out.failures += 1;
                    out.failure.get_or_insert(e);
                }
            }
        }
    }
    out.wall = started.elapsed().as_secs_f64();
    let cpu1 = cpu_split_of(pids);
    out.cpu_ticks = (cpu1.0.saturating_sub(cpu0.0), cpu1.1.saturating_sub(cpu0.1));
    sampler.abort();
    out.peak_rss_kb = peak.load(Ordering::Relaxed);
    out.ttft.sort_by(f64::total_cmp);
    out
}

/// The ~400 KB request: the core bench's (`large_request.rs`, shared), streamed.
fn large_request() -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/request");
    let mut a = shared::large_request(std::path::Path::new(dir));
    a["stream"] = json!(true);
    serde_json::to_vec(&a).expect("serialize")
}

fn small_request() -> Vec<u8> {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
           "messages": [{"role": "user", "content": "Say hello."}]})
    .to_string()
    .into_bytes()
}

/// The request this proxy sent the fake for `body`, to be replayed straight to it.
struct Direct {
    url: String,
    path: String,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
}

/// Send `body` through the proxy once and take the Codex request it made.
async fn capture(client: &reqwest::Client, fake: &FakeServer, base: &str, body: &[u8]) -> Direct {
    fake.forget_requests();
    let sent = via(client, base, body.to_vec())
        .send()
        .await
        .expect("warm-up");
    let status = sent.status();
    let text = sent.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "the warm-up request failed: {status} {text}"
    );
    let logged = fake
        .requests()
        .into_iter()
        .rev()
        .find(|l| {
            l.path.starts_with("/backend-api/codex/responses")
                || l.path.ends_with("/chat/completions")
        })
        .expect("the proxy sent the fake a Codex or Chat request");
    let mut headers = reqwest::header::HeaderMap::new();
    let mut zstd = false;
    for (k, v) in &logged.headers {
        match k.as_str() {
            "host" | "content-length" | "connection" => {}
            "content-encoding" => zstd = v == "zstd",
            _ => {
                if let (Ok(k), Ok(v)) = (
                    reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                    reqwest::header::HeaderValue::from_str(v),
                ) {
                    headers.append(k, v);
                }
            }
        }
    }
    // The fake logs the body decoded; the direct path sends it as the proxy did, so that
    // the fake decodes it on both paths.
    let body = if zstd {
        headers.insert(
            "content-encoding",
            reqwest::header::HeaderValue::from_static("zstd"),
        );
        bytes::Bytes::from(zstd::encode_all(&logged.body[..], 3).expect("zstd"))
    } else {
        logged.body.clone()
    };
    Direct {
        url: format!("{}{}", fake.base_url(), logged.path),
        path: logged.path.clone(),
        headers,
        body,
    }
}

fn via(client: &reqwest::Client, base: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .header("content-type", "application/json")
        .body(body)
}

/// One path's figures over the runs.
#[derive(Default)]
struct Figures {
    added_p50: Vec<f64>,
    added_p99: Vec<f64>,
    cpu_ms: Vec<f64>,
    /// The system (kernel) part of `cpu_ms`.
    sys_ms: Vec<f64>,
    rss_mb: Vec<f64>,
    req_s: Vec<f64>,
    failures: usize,
}

/// `median [min–max]`.
fn spread(v: &[f64], digits: usize) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => "–".into(),
        1 => format!("{:.digits$}", s[0]),
        n => format!(
            "{:.digits$} [{:.digits$}–{:.digits$}]",
            s[n / 2],
            s[0],
            s[n - 1]
        ),
    }
}

/// The perf mode.
pub async fn main(a: &Args) {
    let small = Arc::new(small_request());
    let large = Arc::new(large_request());
    // The same request for a model the default routing table sends to the Chat lane (Kilo).
    let large_chat = Arc::new({
        let mut v: serde_json::Value = serde_json::from_slice(&large).expect("json");
        v["model"] = json!("kilo-auto/free");
        serde_json::to_vec(&v).expect("serialize")
    });
    let total = a.requests;
    let cases = [
        ("small", 1, total, &small),
        ("small", 100, total, &small),
        ("small", 1000, total.max(1000), &small),
        ("400 KB", 1, (total / 10).max(20), &large),
        ("400 KB chat", 1, (total / 10).max(20), &large_chat),
    ]
    .map(|(label, conc, total, body)| Case {
        label,
        conc,
        total,
        body: (*body).clone(),
        direct_token: if label.ends_with("chat") {
            CHAT_TOKEN
        } else {
            DIRECT_TOKEN
        },
    });
    let wanted = |c: &Case| {
        let id = format!("{}-{}", c.label.replace(' ', ""), c.conc);
        // The Chat case only when asked for by name (`--cases 400KBchat-1`).
        if c.label.ends_with("chat") && a.cases.is_none() {
            return false;
        }
        a.cases.as_ref().is_none_or(|w| w.contains(&id))
    };
    let cases: Vec<Case> = cases.into_iter().filter(wanted).collect();
    println!(
        "perf: {} runs; small = {} B, 400 KB = {} B; proxy env {:?}",
        a.runs,
        small.len(),
        large.len(),
        a.env
    );
    println!();
    println!(
        "| upstream | case | in flight | requests | proxy | added first-token p50 ms | added p99 ms | CPU ms / request | of it kernel | peak RSS MB | proxy req/s | failures |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for close in [false, true] {
        if a.upstreams
            .as_ref()
            .is_some_and(|u| !u.iter().any(|u| (u == "closes") == close))
        {
            continue;
        }
        run_upstream(a, close, &cases).await;
    }
}

async fn run_upstream(a: &Args, close: bool, cases: &[Case]) {
    let cfg = FakeConfig {
        close_connections: close,
        ..FakeConfig::default()
    };
    let fake = if a.fake_inline {
        FakeServer::start(cfg).await
    } else {
        FakeServer::start_apart(cfg)
    }
    .expect("fake");
    let (token, _, _) = fake.issue_tokens(ACCOUNT, "load@example.com");
    // The HTTP path unless told otherwise: the direct request replays what went over HTTP
    // (the socket's per-turn cost is measured by proxy-replay).
    let mut env: Vec<(&str, &str)> = vec![("CCP_CODEX_TRANSPORT", "http")];
    env.extend(a.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(2000)
        .build()
        .expect("client");
    for case in cases {
        // Fresh processes for each case, so that a case's peak RSS is its own.
        let proxy = start_proxy_with(
            &a.proxy_bin,
            &fake,
            if close { "perf-close" } else { "perf" },
            &json!({"account_id": ACCOUNT, "access_token": token}),
            &env,
        );
        let other = a.compare.as_deref().map(|t| Other::start(t, &fake));
        eprintln!(
            "{} {}: proxy pid {}",
            case.label,
            case.conc,
            proxy.child.id()
        );
        let direct = Arc::new(capture(&client, &fake, &proxy.base, &case.body).await);
        let direct_make: Make = {
            let (c, d) = (client.clone(), direct.clone());
            Arc::new(move || {
                c.post(&d.url)
                    .headers(d.headers.clone())
                    .body(d.body.clone())
            })
        };
        let via_make = |base: String| -> Make {
            let (c, body) = (client.clone(), case.body.clone());
            Arc::new(move || via(&c, &base, body.to_vec()))
        };
        let mut paths: Vec<(&str, Make, Vec<u32>, &'static str)> = vec![(
            "this proxy",
            via_make(proxy.base.clone()),
            vec![proxy.child.id()],
            PROXY_TOKEN,
        )];
        if let Some(o) = &other {
            paths.push(("compared", via_make(o.base.clone()), o.pids(), PROXY_TOKEN));
        }
        // The relay keeps one upstream connection per client connection, so it is measured
        // against the fake that keeps them (a closing fake would close its client's too).
        let relay = (a.floor && !close).then(|| {
            let host = fake.local_addr().to_string();
            let raw = floor::request_bytes(&host, &direct.path, &direct.headers, &direct.body);
            floor::Relay::start(fake.local_addr(), &raw)
        });
        if let Some(r) = &relay {
            paths.push((
                "zero-work relay",
                via_make(r.base.clone()),
                vec![r.pid()],
                case.direct_token,
            ));
        }
        let mut figs: Vec<Figures> = paths.iter().map(|_| Figures::default()).collect();
        // Warm every path's connections at this concurrency.
        let warm = case.conc.min(case.total);
        batch(case.conc, warm, direct_make.clone(), case.direct_token, &[]).await;
        for (_, make, _, marker) in &paths {
            batch(case.conc, warm, make.clone(), marker, &[]).await;
        }
        for run in 1..=a.runs {
            let d = batch(
                case.conc,
                case.total,
                direct_make.clone(),
                case.direct_token,
                &[],
            )
            .await;
            fake.forget_requests();
            report(run, "direct", &d);
            for ((who, make, pids, marker), f) in paths.iter().zip(&mut figs) {
                let b = batch(case.conc, case.total, make.clone(), marker, pids).await;
                fake.forget_requests();
                report(run, who, &b);
                f.added_p50
                    .push((pct(&b.ttft, 0.5) - pct(&d.ttft, 0.5)) * 1000.0);
                f.added_p99
                    .push((pct(&b.ttft, 0.99) - pct(&d.ttft, 0.99)) * 1000.0);
                let ms = |ticks: u64| ticks as f64 * 10.0 / case.total as f64;
                f.cpu_ms.push(ms(b.cpu_ticks.0 + b.cpu_ticks.1));
                f.sys_ms.push(ms(b.cpu_ticks.1));
                f.rss_mb.push(b.peak_rss_kb as f64 / 1024.0);
                f.req_s.push(case.total as f64 / b.wall);
                f.failures += b.failures + d.failures;
            }
        }
        for ((who, _, _, _), f) in paths.iter().zip(&figs) {
            println!(
                "| {} | {} | {} | {} | {who} | {} | {} | {} | {} | {} | {} | {} |",
                if close { "closes" } else { "keep-alive" },
                case.label,
                case.conc,
                case.total,
                spread(&f.added_p50, 3),
                spread(&f.added_p99, 3),
                spread(&f.cpu_ms, 3),
                spread(&f.sys_ms, 3),
                spread(&f.rss_mb, 1),
                spread(&f.req_s, 0),
                f.failures
            );
        }
    }
}

/// The chunk that holds the first text token, on each path.
const DIRECT_TOKEN: &str = "response.output_text.delta";
const PROXY_TOKEN: &str = "\"text_delta\"";
/// A Chat provider's content delta (its first chunk, `{"role":…,"content":""}`, is not one).
const CHAT_TOKEN: &str = "\"delta\":{\"content\":\"";

/// A run's batch, on stderr (the table on stdout is what is kept).
fn report(run: usize, who: &str, b: &Batch) {
    eprintln!(
        "run {run} {who}: {} ok, {} failed, wall {:.3} s, first token p50 {:.3} ms{}",
        b.ttft.len(),
        b.failures,
        b.wall,
        pct(&b.ttft, 0.5) * 1000.0,
        b.failure
            .as_deref()
            .map(|f| format!(", first failure: {f}"))
            .unwrap_or_default()
    );
}
