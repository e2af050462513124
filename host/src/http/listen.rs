//! The accept loop, with the limits a gateway left running for weeks needs and `axum::serve`
//! does not expose: a client has `header_read_timeout` to send its request head (slowloris),
//! heads are capped in size, connections are capped in number (one over the cap is closed at
//! once, so the process keeps its file descriptors for the clients it serves), and the
//! open-files limit is raised to its hard maximum at start. Shutdown is graceful: the
//! listener closes, connections finish (the relay ends long streams at the drain's end).

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The serving limits (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a connection has to deliver a request head.
    pub header_read_timeout: Duration,
    /// Largest request head, bytes.
    pub max_header_bytes: usize,
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
}

/// Raise the soft open-files limit to the hard one; the limit now.
pub fn raise_open_files() -> Option<u64> {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    rlimit::increase_nofile_limit(hard).ok()
}

/// Serve `app` on `listener` until `shutdown` resolves, then let connections finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let service = TowerToHyperService::new(app);
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors or memory: breathe instead of spinning on accept.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Over the cap: closed at once (the client sees a reset, not a hang).
            drop(tcp);
            continue;
        };
        // SSE frames are small writes: send each at once.
        let _ = tcp.set_nodelay(true);
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), service.clone())
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
