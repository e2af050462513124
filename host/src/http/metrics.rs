//! Prometheus metrics: requests, errors by type, TTFB and duration, tokens, open streams; and
//! their JSON twin for the dashboard (`GET /api/metrics`): running totals, recent TTFB
//! percentiles, and a series of 10-second buckets sampled by [`Metrics::sample`].

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Buckets the dashboard's series keeps (10 minutes of 10 s).
pub const SERIES_LEN: usize = 60;

/// Recent TTFBs kept for the percentiles.
const TTFB_KEEP: usize = 512;

/// Labels of a finished request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `codex` or `chat`.
    pub lane: String,
    /// HTTP status answered (200 for streams that committed).
    pub status: u16,
}

/// Labels of an error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Anthropic error type.
    pub r#type: String,
}

/// Labels of a token count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// `input`, `output` or `cached`.
    pub kind: String,
}

/// All metrics of the process.
pub struct Metrics {
    registry: Registry,
    /// Finished requests.
    pub requests: Family<RequestLabels, Counter>,
    /// Errors answered or sent in-stream.
    pub errors: Family<ErrorLabels, Counter>,
    /// Seconds from request to the first byte sent to the client.
    pub ttfb: Histogram,
    /// Seconds from request to the end of the response.
    pub duration: Histogram,
    /// Tokens reported by upstreams.
    pub tokens: Family<TokenLabels, Counter>,
    /// Streams currently open.
    pub open_streams: Gauge,
    /// Upstream attempts that were retried invisibly (before commit).
    pub retries: Counter,
    /// Plain running totals (the Prometheus families are not cheap to sum per scrape).
    totals: Totals,
    /// Recent TTFBs, in microseconds.
    recent_ttfb: Mutex<VecDeque<u32>>,
    /// The dashboard's series: the totals at the last sample, and the buckets.
    series: Mutex<Series>,
    started: std::time::Instant,
}

#[derive(Default)]
struct Totals {
    requests: AtomicU64,
    errors: AtomicU64,
    ttfb_us: AtomicU64,
    ttfb_n: AtomicU64,
    tokens_in: AtomicU64,
    tokens_out: AtomicU64,
    tokens_cached: AtomicU64,
}

/// The totals' values at one instant.
#[derive(Clone, Copy, Default)]
struct Snapshot {
    requests: u64,
    errors: u64,
    ttfb_us: u64,
    ttfb_n: u64,
    tokens_in: u64,
    tokens_out: u64,
}

#[derive(Default)]
struct Series {
    last: Snapshot,
    buckets: VecDeque<Value>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ccp");
        let requests = Family::<RequestLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let ttfb = Histogram::new(exponential_buckets(0.001, 2.0, 18));
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 18));
        let tokens = Family::<TokenLabels, Counter>::default();
        let open_streams = Gauge::default();
        let retries = Counter::default();
        registry.register("requests", "Finished requests", requests.clone());
        registry.register("errors", "Errors by Anthropic type", errors.clone());
        registry.register(
            "ttfb_seconds",
            "Time to first byte to the client",
            ttfb.clone(),
        );
        registry.register("duration_seconds", "Request duration", duration.clone());
        registry.register("tokens", "Tokens reported by upstreams", tokens.clone());
        registry.register(
            "open_streams",
            "Streams currently open",
            open_streams.clone(),
        );
        registry.register(
            "upstream_retries",
            "Invisible upstream retries",
            retries.clone(),
        );
        Self {
            registry,
            requests,
            errors,
            ttfb,
            duration,
            tokens,
            open_streams,
            retries,
            totals: Totals::default(),
            recent_ttfb: Mutex::new(VecDeque::with_capacity(TTFB_KEEP)),
            series: Mutex::default(),
            started: std::time::Instant::now(),
        }
    }
}

impl Metrics {
    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// Count an error.
    pub fn error(&self, ty: &str) {
        self.errors
            .get_or_create(&ErrorLabels { r#type: ty.into() })
            .inc();
        self.totals.errors.fetch_add(1, Relaxed);
    }

    /// Count a finished (or committed) request.
    pub fn request(&self, lane: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                lane: lane.into(),
                status,
            })
            .inc();
        self.totals.requests.fetch_add(1, Relaxed);
    }

    /// Record the time to the client's first byte.
    pub fn first_byte(&self, secs: f64) {
        self.ttfb.observe(secs);
        let us = (secs * 1e6).min(f64::from(u32::MAX)) as u32;
        self.totals.ttfb_us.fetch_add(u64::from(us), Relaxed);
        self.totals.ttfb_n.fetch_add(1, Relaxed);
        let mut r = self.recent_ttfb.lock().unwrap_or_else(|e| e.into_inner());
        if r.len() == TTFB_KEEP {
            r.pop_front();
        }
        r.push_back(us);
    }

    fn snapshot(&self) -> Snapshot {
        let t = &self.totals;
        Snapshot {
            requests: t.requests.load(Relaxed),
            errors: t.errors.load(Relaxed),
            ttfb_us: t.ttfb_us.load(Relaxed),
            ttfb_n: t.ttfb_n.load(Relaxed),
            tokens_in: t.tokens_in.load(Relaxed),
            tokens_out: t.tokens_out.load(Relaxed),
        }
    }

    /// Close the current bucket of the series (the server calls this every 10 s).
    pub fn sample(&self, now_ms: u64) {
        let now = self.snapshot();
        let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let n = d(now.ttfb_n, s.last.ttfb_n);
        let ttfb_ms = (n > 0).then(|| d(now.ttfb_us, s.last.ttfb_us) as f64 / n as f64 / 1000.0);
        let bucket = json!({
            "t": now_ms,
            "requests": d(now.requests, s.last.requests),
            "errors": d(now.errors, s.last.errors),
            "ttfb_ms": ttfb_ms,
            "tokens_in": d(now.tokens_in, s.last.tokens_in),
            "tokens_out": d(now.tokens_out, s.last.tokens_out),
            "open_streams": self.open_streams.get(),
        });
        if s.buckets.len() == SERIES_LEN {
            s.buckets.pop_front();
        }
        s.buckets.push_back(bucket);
        s.last = now;
    }

    /// The JSON twin of `/metrics` the dashboard charts.
    pub fn json(&self) -> Value {
        let t = &self.totals;
        let mut recent: Vec<u32> = self
            .recent_ttfb
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        recent.sort_unstable();
        let pct = |p: usize| {
            (!recent.is_empty()).then(|| f64::from(recent[(recent.len() - 1) * p / 100]) / 1000.0)
        };
        let series: Vec<Value> = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .buckets
            .iter()
            .cloned()
            .collect();
        json!({
            "uptime_s": self.started.elapsed().as_secs(),
            "requests": t.requests.load(Relaxed),
            "errors": t.errors.load(Relaxed),
            "open_streams": self.open_streams.get(),
            "retries": self.retries.get(),
            "tokens": {
                "input": t.tokens_in.load(Relaxed),
                "output": t.tokens_out.load(Relaxed),
                "cached": t.tokens_cached.load(Relaxed),
            },
            "ttfb_ms": {"p50": pct(50), "p95": pct(95)},
            "series": series,
        })
    }

    /// Count usage.
    pub fn usage(&self, u: &proxy_core::Usage) {
        for (kind, n) in [
            ("input", u.input_tokens),
            ("output", u.output_tokens),
            ("cached", u.cache_read_input_tokens),
        ] {
            self.tokens
                .get_or_create(&TokenLabels { kind: kind.into() })
                .inc_by(n);
        }
        self.totals.tokens_in.fetch_add(u.input_tokens, Relaxed);
        self.totals.tokens_out.fetch_add(u.output_tokens, Relaxed);
        self.totals
            .tokens_cached
            .fetch_add(u.cache_read_input_tokens, Relaxed);
    }
}
