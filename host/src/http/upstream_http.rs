//! The request path's upstream client: a request's prepared body POSTed to the Codex backend
//! or a Chat provider over hyper-util's pooled client, with rustls set up as reqwest sets it up
//! (the process's aws-lc-rs provider, the platform's verifier, ALPN `h2` then `http/1.1`), a
//! 15 s connect timeout, idle connections kept 90 s, `TCP_NODELAY`.
//!
//! Why not reqwest, which the rest of the host uses: on this path it costs about a tenth of
//! the proxy's CPU for a small request (docs/PERFORMANCE.md), all of it before the upstream
//! request goes or before its answer reaches the exchange: every request's URL is parsed
//! twice by its redirect layer (once on the way out, once more from the answer), through a
//! retry layer and a proxy matcher, with each header checked again. None of it does anything
//! for a POST that never follows a redirect. When the environment names a proxy
//! (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, either case), requests go through reqwest,
//! which honours it; [`client`] says which.
//!
//! Each serving thread has its own client (listen.rs), so an upstream connection is driven on
//! the thread whose requests use it.

use axum::body::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, HeaderName, HeaderValue};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// An upstream answer: its head, and its body to read.
pub type Answer = hyper::Response<Incoming>;

/// The pooled client; cloning it shares the pool.
#[derive(Clone)]
pub struct Direct(Client<HttpsConnector<HttpConnector>, Full<Bytes>>);

/// The environment variables that name a proxy for reqwest.
const PROXY_VARS: [&str; 3] = ["http_proxy", "https_proxy", "all_proxy"];

/// Whether the environment names a proxy (then reqwest carries the request path too).
fn proxy_in_env() -> bool {
    static ANY: OnceLock<bool> = OnceLock::new();
    *ANY.get_or_init(|| {
        std::env::vars_os().any(|(k, v)| {
            !v.is_empty()
                && k.to_str()
                    .is_some_and(|k| PROXY_VARS.iter().any(|p| k.eq_ignore_ascii_case(p)))
        })
    })
}

/// This thread's client; `None` when the request path goes through reqwest (a proxy in the
/// environment, or TLS that could not be set up: reqwest then reports why).
pub fn client() -> Option<Direct> {
    thread_local! {
        static OWN: std::cell::OnceCell<Option<Direct>> = const { std::cell::OnceCell::new() };
    }
    if proxy_in_env() {
        return None;
    }
    OWN.with(|c| c.get_or_init(Direct::new).clone())
}

/// The TLS configuration, made once for every upstream client, reqwest's too (the verifier
/// reads the system's roots when made).
pub fn tls() -> Option<rustls::ClientConfig> {
    static TLS: OnceLock<Option<rustls::ClientConfig>> = OnceLock::new();
    TLS.get_or_init(|| {
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|e| tracing::warn!(error = %e, "platform TLS verifier unavailable"))
            .ok()?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // As reqwest offers them (the hyper-rustls connector offers the same for its own).
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Some(tls)
    })
    .clone()
}

impl Direct {
    fn new() -> Option<Direct> {
        let mut tls = tls()?;
        // The connector offers ALPN itself (`h2`, `http/1.1`, as enabled below), and refuses
        // a configuration that already names protocols.
        tls.alpn_protocols.clear();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(Duration::from_secs(15)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Some(Direct(client))
    }

    /// POST `body` to `url` with `headers` (and `accept: */*` unless they name one, as
    /// reqwest would send). An error is the failure in words, without the URL.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        extra: Option<(&'static str, &'static str)>,
        body: Bytes,
    ) -> Result<Answer, String> {
        let uri = parsed_uri(url).ok_or_else(|| format!("invalid upstream URL `{url}`"))?;
        let mut req = hyper::Request::post(uri)
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        let map = req.headers_mut();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("invalid upstream header name `{k}`"))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| format!("invalid value for upstream header `{k}`"))?;
            map.append(name, value);
        }
        if let Some((k, v)) = extra {
            map.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        if !map.contains_key(ACCEPT) {
            map.insert(ACCEPT, HeaderValue::from_static("*/*"));
        }
        self.0
            .request(req)
            .await
            .map_err(|e| crate::http::relay::failure_text(&e))
    }
}

/// `url` parsed, from the last one this thread parsed when it is the same text (it nearly
/// always is: one upstream per lane).
fn parsed_uri(url: &str) -> Option<hyper::Uri> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(String, hyper::Uri)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((text, parsed)) = last.as_ref()
            && text == url
        {
            return Some(parsed.clone());
        }
        let parsed: hyper::Uri = url.parse().ok()?;
        parsed.scheme()?;
        parsed.authority()?;
        *last = Some((url.to_owned(), parsed.clone()));
        Some(parsed)
    })
}
