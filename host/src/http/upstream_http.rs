//! The request path's upstream client: a request's prepared body POSTed to the Codex backend
//! or a Chat provider over hyper-util's pooled client, set up as reqwest sets up its own:
//! rustls with the process's aws-lc-rs provider, the platform's verifier and ALPN `h2` then
//! `http/1.1` (one configuration, which reqwest's client shares); 15 s for a whole connect
//! (DNS, TCP and TLS); TCP keepalive after 15 s, every 15 s, 3 probes, and on Linux a 30 s
//! `TCP_USER_TIMEOUT`; idle connections kept 90 s; `TCP_NODELAY`; a request an HTTP/2 server
//! refused before processing it sent again at once.
//!
//! Why not reqwest, which the rest of the host uses: on this path it cost about a tenth of the
//! proxy's CPU for a small request (docs/PERFORMANCE.md), all of it before the upstream request
//! went or before its answer reached the exchange: a redirect layer that parsed every request's
//! URL twice (on the way out, and again from the answer), a retry layer, a proxy matcher, each
//! header checked again. The relay sends through reqwest instead when the environment names a
//! proxy (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`; reqwest honours them), when a URL is not
//! one this client takes as it is ([`Direct::takes`]: credentials in it, or text `hyper::Uri`
//! refuses), and to follow an answer that is a redirect ([`is_redirect`]).
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
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

/// A whole connect's time: DNS, TCP and the TLS handshake (reqwest's `connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An upstream answer: its head, and its body to read.
pub type Answer = hyper::Response<Incoming>;

/// The pooled client; cloning it shares the pool.
#[derive(Clone)]
pub struct Direct(Client<Timed, Full<Bytes>>);

/// The connector with [`CONNECT_TIMEOUT`] over all of it, not only over each TCP `connect`
/// (which is all `HttpConnector`'s own timeout bounds): a handshake that stalls ends there.
#[derive(Clone)]
pub struct Timed(HttpsConnector<HttpConnector>);

impl tower_service::Service<hyper::Uri> for Timed {
    type Response = <HttpsConnector<HttpConnector> as tower_service::Service<hyper::Uri>>::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: hyper::Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "connect timed out",
                )) as BoxError),
            }
        })
    }
}

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
    OWN.with(|c| {
        c.get_or_init(|| {
            let direct = Direct::new();
            match &direct {
                Some(_) => tracing::debug!("the request path's upstream client here: direct"),
                None => tracing::debug!("the request path's upstream client here: reqwest"),
            }
            direct
        })
        .clone()
    })
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
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // A pooled connection a NAT dropped without a word is found out in about 30 s,
        // not at the first-byte deadline.
        tcp.set_keepalive(Some(Duration::from_secs(15)));
        tcp.set_keepalive_interval(Some(Duration::from_secs(15)));
        tcp.set_keepalive_retries(Some(3));
        #[cfg(target_os = "linux")]
        tcp.set_tcp_user_timeout(Some(Duration::from_secs(30)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let https = Timed(https);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Some(Direct(client))
    }

    /// The URL this client sends `url`'s requests to, if it takes it as it is: text that
    /// `hyper::Uri` accepts, with a scheme and a host and no credentials (reqwest would
    /// send those as `authorization`; it carries such URLs).
    pub fn takes(url: &str) -> Option<hyper::Uri> {
        parsed_uri(url).filter(|u| u.authority().is_some_and(|a| !a.as_str().contains('@')))
    }

    /// POST `body` to `uri` with `headers` (and `accept: */*` unless they name one, as
    /// reqwest would send). An error is the failure in words, without the URL.
    pub async fn post(
        &self,
        uri: hyper::Uri,
        headers: &[(String, String)],
        extra: Option<(&'static str, &'static str)>,
        body: Bytes,
    ) -> Result<Answer, String> {
        let request = || -> Result<hyper::Request<Full<Bytes>>, String> {
            let mut req = hyper::Request::post(uri.clone())
                .body(Full::new(body.clone()))
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
            Ok(req)
        };
        let answer = match self.0.request(request()?).await {
            Err(e) if refused_unprocessed(&e) => self.0.request(request()?).await,
            answer => answer,
        };
        answer.map_err(|e| sending_failure(&e))
    }
}

/// A failure to send in the words reqwest used (the client and the log keep reading the same
/// thing): "error sending request: " and the innermost cause ("Connection refused",
/// "received corrupt message", "connect timed out").
fn sending_failure(e: &hyper_util::client::legacy::Error) -> String {
    format!(
        "error sending request: {}",
        crate::http::relay::innermost(e)
    )
}

/// An answer that redirects: the relay sends the request again through reqwest, which
/// follows it (as the request path did before it had its own client).
pub fn is_redirect(answer: &Answer) -> bool {
    answer.status().is_redirection() && answer.headers().contains_key(hyper::header::LOCATION)
}

/// An HTTP/2 request the server did not process, safe to send again at once (as reqwest
/// does): a graceful GOAWAY of the connection it went on, or REFUSED_STREAM (RFC 9113
/// §8.7).
fn refused_unprocessed(e: &hyper_util::client::legacy::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(h2) = c.downcast_ref::<h2::Error>() {
            return h2.is_remote()
                && ((h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR))
                    || (h2.is_reset() && h2.reason() == Some(h2::Reason::REFUSED_STREAM)));
        }
        cause = c.source();
    }
    false
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
