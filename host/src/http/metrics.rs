//! Prometheus metrics: requests, errors by type, TTFB and duration, tokens, open streams.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

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
    }
}
