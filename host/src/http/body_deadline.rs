//! The request body's deadline (`body_read_timeout_secs`): a client has that long, from the
//! moment its head is read, to deliver the whole body. The header read timeout of the accept
//! loop (`listen.rs`) stops a head dribbled a byte at a time; without this, the same client
//! could dribble the body instead and hold a connection, a task and a growing buffer forever.
//!
//! The body is wrapped, not read here, so the handlers keep their own extractors and the body
//! size limit: when the deadline passes, the body yields an error (the handler's extractor
//! fails), and the answer is replaced by a 408 that says what happened, on a connection that
//! is then closed (the rest of the body is never read). A 413 (a body over the size limit,
//! not read to its end either) closes its HTTP/1 connection the same way.

use crate::http::relay::dialect_error;
use crate::http::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use proxy_core::ErrorType;
use proxy_core::exchange::Dialect;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// The middleware: wraps the body in its deadline; answers 408 when the deadline cut it.
pub async fn limit(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    // A request without a body (most GETs) has nothing to wait for.
    if req.body().is_end_stream() {
        return next.run(req).await;
    }
    let secs = st.cfg().body_read_timeout_secs;
    let dialect = if req.uri().path().starts_with("/v1/chat/completions") {
        Dialect::OpenAi
    } else {
        Dialect::Anthropic
    };
    let http1 = req.version() <= Version::HTTP_11;
    let cut = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| {
        Body::new(Deadline {
            inner: body,
            sleep: Box::pin(tokio::time::sleep(Duration::from_secs_f64(secs))),
            cut: Arc::clone(&cut),
        })
    });
    let resp = next.run(req).await;
    // Whatever the handler made of its failed body read, the client is told the real cause.
    if cut.load(Ordering::Relaxed) {
        tracing::info!(
            secs,
            "request body not complete in time: 408, connection closed"
        );
        return timed_out(dialect, secs, http1);
    }
    let mut resp = resp;
    // A body refused for its size was not read to its end: what is left of it would be read
    // as the next request, so the connection ends with this answer (a client that reuses it
    // would see its next request fail).
    if http1 && resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The 408: Anthropic- (or OpenAI-) shaped, and the connection closed after it, so the rest
/// of a body still on its way is never read.
fn timed_out(dialect: Dialect, secs: f64, http1: bool) -> Response {
    let msg = format!(
        "request body not received in time: it must be complete within {secs} s of the request's headers (body_read_timeout_secs); the connection is closed"
    );
    let mut resp = dialect_error(dialect, ErrorType::InvalidRequestError, &msg, None);
    *resp.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let h = resp.headers_mut();
    // A slow network is worth a retry; the SDKs retry a 408 unless told not to.
    h.remove("x-should-retry");
    if http1 {
        // HTTP/2 forbids the header; there the answer ends this request's stream only.
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// The error a cut body yields to the handler's extractor.
#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body not complete before its deadline")
    }
}

impl std::error::Error for BodyTimedOut {}

/// A body that fails once its deadline passes (and marks `cut`).
struct Deadline {
    inner: Body,
    sleep: Pin<Box<Sleep>>,
    cut: Arc<AtomicBool>,
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        // The body first: what has arrived is taken even when the deadline fires meanwhile.
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.cut.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
