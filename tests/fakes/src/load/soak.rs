//! The soak: `n` numbered streams (`seq_drip`) kept open through a proxy for a duration (a
//! client whose stream ends starts the next at once), each checked number by number, while the
//! proxy's descriptors, memory and threads are sampled every second, and its own `/metrics`
//! (`ccp_open_streams`: committed streams in flight). Several runs on the same process tell a
//! leak (the series grows from run to run) from a high-water mark (it does not).

use crate::load::procfs::{Resources, resources};
use crate::load::seq::{SeqCheck, Verdict};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The proxy under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its process id.
    pub pid: u32,
}

/// The size of one run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Streams open at once.
    pub n: usize,
    /// How long streams keep being started.
    pub duration: Duration,
    /// The fake's `seq_total`: the numbers each stream must carry.
    pub seq_total: u64,
}

/// One resource sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the run started.
    pub at: f64,
    /// The proxy's resources.
    pub res: Resources,
    /// `ccp_open_streams` from its `/metrics`, when it answered.
    pub open_streams: Option<u64>,
}

/// What one run saw.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Streams that ended with `message_stop` and no error.
    pub completed: u64,
    /// Requests without a 200 (refused, reset before the answer, or another status).
    pub failed: u64,
    /// 200 streams that did not end properly.
    pub bad_ends: u64,
    /// Numbers lost, duplicated and reordered, over all streams.
    pub lost: u64,
    /// See [`Verdict::duplicated`].
    pub duplicated: u64,
    /// See [`Verdict::reordered`].
    pub reordered: u64,
    /// Resources before the first stream, their peak (every field on its own), and after the
    /// last stream ended (and a second to settle).
    pub start: Resources,
    /// See `start`.
    pub peak: Resources,
    /// See `start`.
    pub end: Resources,
    /// The largest `ccp_open_streams` sampled.
    pub open_streams_peak: Option<u64>,
    /// Every sample, one a second.
    pub samples: Vec<Sample>,
}

#[derive(Default)]
struct Tally {
    completed: AtomicU64,
    failed: AtomicU64,
    bad_ends: AtomicU64,
    lost: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
}

impl Tally {
    fn record(&self, outcome: Option<Verdict>) {
        let Some(v) = outcome else {
            self.failed.fetch_add(1, Relaxed);
            return;
        };
        let ended = if v.ended {
            &self.completed
        } else {
            &self.bad_ends
        };
        ended.fetch_add(1, Relaxed);
        self.lost.fetch_add(v.lost, Relaxed);
        self.duplicated.fetch_add(v.duplicated, Relaxed);
        self.reordered.fetch_add(v.reordered, Relaxed);
    }
}

/// The request of every stream.
fn request_body() -> bytes::Bytes {
    let body = serde_json::json!({
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
        "messages": [{"role": "user", "content": "count [[scenario:seq_drip]]"}],
    });
    bytes::Bytes::from(body.to_string())
}

/// One stream, checked; `None` when no 200 came.
async fn stream_once(
    client: &reqwest::Client,
    url: &str,
    body: bytes::Bytes,
    total: u64,
) -> Option<Verdict> {
    let resp = client
        .post(url)
        .header("x-api-key", "k")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let mut check = SeqCheck::default();
    let mut chunks = resp.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        // A transport error mid-stream: judged on what arrived (it did not end properly).
        let Ok(chunk) = chunk else { break };
        check.push(&chunk);
    }
    Some(check.finish(total))
}

/// One client slot: streams back to back until `until`.
async fn worker(client: reqwest::Client, url: String, until: Instant, total: u64, t: Arc<Tally>) {
    let body = request_body();
    while Instant::now() < until {
        let outcome = stream_once(&client, &url, body.clone(), total).await;
        if outcome.is_none() {
            // A refusing proxy must not turn the slot into a busy loop.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        t.record(outcome);
    }
}

/// `ccp_open_streams` in a Prometheus text page.
pub fn open_streams(metrics: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("ccp_open_streams "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

async fn scrape(client: &reqwest::Client, base: &str) -> Option<u64> {
    let resp = client
        .get(format!("{base}/metrics"))
        .header("x-api-key", "k")
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    open_streams(&resp.text().await.ok()?)
}

async fn sample(client: &reqwest::Client, target: &Target, started: Instant) -> Sample {
    Sample {
        at: started.elapsed().as_secs_f64(),
        res: resources(target.pid),
        open_streams: scrape(client, &target.base).await,
    }
}

/// One run: `opts.n` streams kept open for `opts.duration` through `client`'s pool.
pub async fn run(client: &reqwest::Client, target: &Target, opts: Options) -> RunReport {
    // The sampler has its own connection: the streams' pool is busy.
    let probe = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let started = Instant::now();
    let first = sample(&probe, target, started).await;
    let tally = Arc::new(Tally::default());
    let until = Instant::now() + opts.duration;
    let url = format!("{}/v1/messages", target.base);
    let workers: Vec<_> = (0..opts.n)
        .map(|_| {
            let (c, u, t) = (client.clone(), url.clone(), tally.clone());
            tokio::spawn(worker(c, u, until, opts.seq_total, t))
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (probe, target, stop) = (probe.clone(), target.clone(), stop.clone());
        tokio::spawn(async move {
            let mut out = Vec::new();
            while !stop.load(Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                out.push(sample(&probe, &target, started).await);
            }
            out
        })
    };
    for w in workers {
        let _ = w.await;
    }
    stop.store(true, Relaxed);
    let mut samples = vec![first];
    samples.extend(sampler.await.unwrap_or_default());
    // Let the last streams' connections and tasks wind down before the end sample.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let last = sample(&probe, target, started).await;
    samples.push(last);
    report(&tally, samples)
}

fn report(t: &Tally, samples: Vec<Sample>) -> RunReport {
    let get = |a: &AtomicU64| a.load(Relaxed);
    RunReport {
        completed: get(&t.completed),
        failed: get(&t.failed),
        bad_ends: get(&t.bad_ends),
        lost: get(&t.lost),
        duplicated: get(&t.duplicated),
        reordered: get(&t.reordered),
        start: samples.first().map(|s| s.res).unwrap_or_default(),
        peak: samples
            .iter()
            .fold(Resources::default(), |p, s| p.max(s.res)),
        end: samples.last().map(|s| s.res).unwrap_or_default(),
        open_streams_peak: samples.iter().filter_map(|s| s.open_streams).max(),
        samples,
    }
}

/// Whether the runs' end values grow from run to run: a value grows when it rises at every
/// run and the rise over all runs is beyond the noise (16 descriptors, 4 threads, 10 % of the
/// first run's RSS or 4 MB, whichever is more). The first run's end is the baseline: its
/// start precedes every allocation a first stream makes (pools, caches).
pub fn growth_verdict(runs: &[RunReport]) -> (bool, String) {
    let series = |f: fn(&Resources) -> u64| runs.iter().map(|r| f(&r.end)).collect::<Vec<_>>();
    let fds = series(|r| r.fds);
    let rss = series(|r| r.rss_kb);
    let threads = series(|r| r.threads);
    let rss_slack = (rss.first().copied().unwrap_or(0) / 10).max(4096);
    let grows = |v: &[u64], slack: u64| {
        v.len() > 1 && v.windows(2).all(|w| w[1] > w[0]) && v[v.len() - 1] - v[0] > slack
    };
    let grew = grows(&fds, 16) || grows(&rss, rss_slack) || grows(&threads, 4);
    let join = |v: &[u64], scale: f64, digits: usize| {
        v.iter()
            .map(|x| format!("{:.digits$}", *x as f64 / scale))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let text = format!(
        "{} across {} runs: at the end of each run fds {}, RSS {} MB, threads {}",
        if grew { "GROWS" } else { "no growth" },
        runs.len(),
        join(&fds, 1.0, 0),
        join(&rss, 1024.0, 1),
        join(&threads, 1.0, 0),
    );
    (grew, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(fds: &[u64], rss_mb: &[u64]) -> Vec<RunReport> {
        fds.iter()
            .zip(rss_mb)
            .map(|(&fds, &mb)| RunReport {
                end: Resources {
                    fds,
                    rss_kb: mb * 1024,
                    threads: 3,
                },
                ..RunReport::default()
            })
            .collect()
    }

    #[test]
    fn steady_ends_are_no_growth_and_a_steady_rise_is() {
        assert!(!growth_verdict(&ends(&[100, 104, 101], &[50, 52, 51])).0);
        assert!(!growth_verdict(&ends(&[100, 101, 102], &[50, 51, 52])).0);
        assert!(growth_verdict(&ends(&[100, 300, 500], &[50, 50, 50])).0);
        let (grew, text) = growth_verdict(&ends(&[100, 100, 100], &[50, 60, 70]));
        assert!(grew, "{text}");
        assert!(text.contains("50.0 → 60.0 → 70.0 MB"), "{text}");
    }

    #[test]
    fn open_streams_is_read_from_the_metrics_page() {
        let page = "# TYPE ccp_open_streams gauge\nccp_open_streams 17\n# EOF\n";
        assert_eq!(open_streams(page), Some(17));
        assert_eq!(open_streams("# EOF\n"), None);
    }
}
