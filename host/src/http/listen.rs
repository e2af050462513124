//! The accept loop, with the limits a gateway left running for weeks needs and `axum::serve`
//! does not expose: a client has `header_read_timeout` to send its request head (slowloris),
//! heads are capped in size, connections are capped in number (one over the cap is closed at
//! once, so the process keeps its file descriptors for the clients it serves), and the
//! open-files limit is raised to its hard maximum at start. Shutdown is graceful: the
//! listener closes, connections finish (the relay ends long streams at the drain's end).
//!
//! Serving threads: each runs a single-thread runtime and serves whole connections, so a
//! request's tasks (its client connection, its upstream connection, its timers) never wake
//! each other across threads; a small request costs about a fifth less CPU, with a lower
//! p99, than on a work-stealing runtime (docs/PERFORMANCE.md). The accepting thread serves
//! too; with more threads (`workers`), each new connection goes to the thread serving the
//! fewest, and each thread has its own upstream client, so that the upstream connections its
//! requests use are driven on it as well. The price: a thread cannot hand work to an idle
//! one, which at 1,000 requests in flight on two shared cores costs more than it saves.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// The serving limits (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a connection has to deliver a request head.
    pub header_read_timeout: Duration,
    /// Largest request head, bytes.
    pub max_header_bytes: usize,
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Serving threads, the accepting one included (at least 1).
    pub threads: usize,
}

/// Connections the kernel may hold for the accept loop. tokio's `TcpListener::bind` asks for
/// 1,024; a burst of new connections beyond it is dropped and the client's SYN comes again a
/// second later. The kernel caps it at `net.core.somaxconn` (4,096 by default).
pub const ACCEPT_BACKLOG: u32 = 4096;

/// Listen on `addr` (`host:port`, the first address it resolves to) with [`ACCEPT_BACKLOG`].
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let at = tokio::net::lookup_host(addr).await?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")
    })?;
    let socket = if at.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted proxy may take the port at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(at)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Raise the soft open-files limit to the hard one; the limit now.
pub fn raise_open_files() -> Option<u64> {
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).ok()?;
    rlimit::increase_nofile_limit(hard).ok()
}

/// The HTTP side of a connection: the same for every serving thread.
#[derive(Clone)]
struct Conns {
    builder: auto::Builder<TokioExecutor>,
    service: TowerToHyperService<Router>,
}

impl Conns {
    fn new(app: Router, limits: Limits) -> Conns {
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
        Conns {
            builder,
            service: TowerToHyperService::new(app),
        }
    }

    /// Serve `tcp` on this thread's runtime until it closes; `open` already counts it.
    fn spawn(
        &self,
        graceful: &GracefulShutdown,
        tcp: TcpStream,
        permit: OwnedSemaphorePermit,
        open: Arc<AtomicUsize>,
    ) {
        // SSE frames are small writes: send each at once.
        let _ = tcp.set_nodelay(true);
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(tcp), self.service.clone())
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
}

/// How often a serving thread's heartbeat timer fires while it serves requests.
const HEARTBEAT: Duration = Duration::from_secs(1);

thread_local! {
    /// This thread's heartbeat task runs.
    static BEATING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Requests this thread has begun to serve.
    static BEGUN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// A request begins on this (serving) thread: keeps a timer due within [`HEARTBEAT`] on its
/// runtime until a beat passes with no new request. tokio wakes its driver (a write to an
/// eventfd, then a wasted `epoll_wait` turn) whenever a timer is set to fire before every
/// other one, even from the driver's own thread; each request sets two that usually are
/// (hyper's header-read timeout, the exchange's deadline), both seconds away. With a timer
/// always sooner, neither wakes it: two syscalls and a turn fewer on a request's path while
/// requests keep coming, for one timer a second; an idle proxy does not beat.
pub fn request_begins() {
    BEGUN.with(|n| n.set(n.get().wrapping_add(1)));
    if BEATING.with(|b| b.replace(true)) {
        return;
    }
    // The flag and the count are this thread's: the task must run here.
    debug_assert_eq!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::CurrentThread
    );
    tokio::spawn(async {
        loop {
            let seen = BEGUN.with(std::cell::Cell::get);
            tokio::time::sleep(HEARTBEAT).await;
            if BEGUN.with(std::cell::Cell::get) == seen {
                break;
            }
        }
        BEATING.with(|b| b.set(false));
    });
}

/// A serving thread besides the accepting one.
struct Helper {
    tx: mpsc::UnboundedSender<(std::net::TcpStream, OwnedSemaphorePermit)>,
    open: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl Helper {
    fn start(i: usize, conns: Conns) -> std::io::Result<Helper> {
        let (tx, mut rx) = mpsc::unbounded_channel::<(std::net::TcpStream, OwnedSemaphorePermit)>();
        let open = Arc::new(AtomicUsize::new(0));
        let counted = open.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(format!("serve-{i}"))
            .spawn(move || {
                rt.block_on(async move {
                    crate::http::state::use_own_upstream_client();
                    let graceful = GracefulShutdown::new();
                    while let Some((tcp, permit)) = rx.recv().await {
                        match TcpStream::from_std(tcp) {
                            Ok(tcp) => conns.spawn(&graceful, tcp, permit, counted.clone()),
                            Err(e) => {
                                counted.fetch_sub(1, Ordering::Relaxed);
                                tracing::warn!(error = %e, "a connection could not be handed over");
                            }
                        }
                    }
                    // The accept loop is gone (shutdown): let this thread's connections finish.
                    graceful.shutdown().await;
                });
            })?;
        Ok(Helper { tx, open, thread })
    }
}

/// The serving threads, started (so that a process's threads and descriptors are all there
/// once it says it listens) but not yet accepting.
pub struct Serving {
    limits: Limits,
    conns: Conns,
    helpers: Vec<Helper>,
}

impl Serving {
    /// Start the serving threads besides this one.
    pub fn start(app: Router, limits: Limits) -> Serving {
        let conns = Conns::new(app, limits);
        let helpers = (1..limits.threads.max(1))
            .filter_map(|i| {
                Helper::start(i, conns.clone())
                    .map_err(|e| tracing::warn!(error = %e, "a serving thread could not start"))
                    .ok()
            })
            .collect();
        Serving {
            limits,
            conns,
            helpers,
        }
    }

    /// Serve on `listener` until `shutdown` resolves, then let connections finish.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let Serving {
            limits,
            conns,
            helpers,
        } = self;
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let graceful = GracefulShutdown::new();
        let local = Arc::new(AtomicUsize::new(0));
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
            // The thread serving the fewest connections; this one on a tie (no hand-over).
            let least = helpers
                .iter()
                .filter(|h| h.open.load(Ordering::Relaxed) < local.load(Ordering::Relaxed))
                .min_by_key(|h| h.open.load(Ordering::Relaxed));
            match least {
                Some(h) => {
                    // Counted from the hand-over, so that the next connection sees it.
                    h.open.fetch_add(1, Ordering::Relaxed);
                    let handed = tcp.into_std().map(|std| h.tx.send((std, permit)));
                    if !matches!(handed, Ok(Ok(()))) {
                        h.open.fetch_sub(1, Ordering::Relaxed);
                        tracing::warn!("a connection could not be handed to a serving thread");
                    }
                }
                None => {
                    local.fetch_add(1, Ordering::Relaxed);
                    conns.spawn(&graceful, tcp, permit, local.clone());
                }
            }
        }
        drop(listener);
        // Closing the hand-over channels starts the other threads' graceful shutdowns.
        let threads: Vec<_> = helpers
            .into_iter()
            .map(|h| {
                drop(h.tx);
                h.thread
            })
            .collect();
        graceful.shutdown().await;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}
