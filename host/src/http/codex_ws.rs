//! The Codex WebSocket transport (codex.md §1.1, §9.5): one socket per account, session and
//! lineage (model and instructions), where a turn that only appends to the last one sends
//! just its new items after `previous_response_id`. The decisions are
//! `proxy_core::continuation`'s; this file keeps the sockets and moves the frames.
//!
//! Beneath the exchange machine: it asked to send a request, and gets one answer, a head and a
//! body of SSE bytes, whichever way the request went. Whenever the socket cannot give a
//! faithful answer before any output (the upgrade refused, a continuation the backend does not
//! know, any `error` frame, the socket gone), [`send`] says so and the caller sends the full
//! request over HTTP: the machine, and so the client, never sees the switch. A socket that
//! fails after output is the machine's, like any broken stream (it retries before its commit).

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{SinkExt, StreamExt};
use proxy_core::continuation::{self, Body, Chain, Frame, Plan, Sent, Turn};
use proxy_core::exchange::UpstreamRequest;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The beta header of the socket's handshake (codex-rs and every client that speaks it).
const BETA: &str = "responses_websockets=2026-02-06";
/// The backend ends a socket after an hour; one this old is not reused (a long turn started
/// on it must still end within the hour).
const MAX_AGE: Duration = Duration::from_secs(45 * 60);
/// A backend without the transport is not asked again for this long.
const OFF_FOR_SECS: u64 = 600;
/// After any other failed handshake, the account goes by HTTP for this long.
const ACCOUNT_OFF_SECS: u64 = 60;
/// Handshake bound: the machine's first-byte deadline covers the turn, not the upgrade.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A (account id, session key) pair, as the relay knows it.
pub type Key = (String, String);

/// A socket's key: the account, the session, and the lineage within it (`Body::lineage`).
type SocketKey = (String, String, u64);

pub use proxy_core::continuation::Transport;

struct Socket {
    ws: Ws,
    chain: Option<Chain>,
    opened: Instant,
    /// The upgrade's response headers (quota, `x-models-etag`), for its first turn's head.
    handshake: Vec<(String, String)>,
}

struct Slot {
    socket: Option<Socket>,
    /// A turn is on it: a second request of the same lineage meanwhile goes by HTTP.
    busy: bool,
    last_used: Instant,
}

/// The open sockets, and counters for `/metrics` and the tests.
pub struct Sockets {
    slots: Mutex<HashMap<SocketKey, Slot>>,
    /// Unix seconds until which the upgrade is not tried again (a backend without it).
    off_until: AtomicU64,
    /// The same, per account (its handshake failed otherwise).
    account_off: Mutex<HashMap<String, u64>>,
    /// The idle sweeper, started with the first turn.
    sweeper: std::sync::OnceLock<()>,
    /// Lite turns may still be continued (until the backend refuses one).
    lite_appends: std::sync::atomic::AtomicBool,
    /// Whole turns in a row the socket failed and HTTP then served.
    broken: AtomicU64,
    /// Sockets opened.
    pub opened: AtomicU64,
    /// Turns sent as an append (`previous_response_id`).
    pub appended: AtomicU64,
    /// Turns sent in full on a socket.
    pub full: AtomicU64,
    /// Turns that went by HTTP after the socket could not answer them.
    pub fell_back: AtomicU64,
}

/// A socket's answer, shaped as an HTTP one for the machine.
pub struct Answer {
    /// Always 200: an error before output is never answered from the socket.
    pub status: u16,
    /// The handshake's response headers (quota, `x-models-etag`) and the stream's type.
    pub headers: Vec<(String, String)>,
    /// The turn's events as SSE.
    pub body: BoxStream<'static, Result<Bytes, String>>,
}

impl Default for Sockets {
    fn default() -> Self {
        Self {
            slots: Mutex::default(),
            off_until: AtomicU64::default(),
            account_off: Mutex::default(),
            sweeper: std::sync::OnceLock::new(),
            lite_appends: std::sync::atomic::AtomicBool::new(true),
            broken: AtomicU64::default(),
            opened: AtomicU64::default(),
            appended: AtomicU64::default(),
            full: AtomicU64::default(),
            fell_back: AtomicU64::default(),
        }
    }
}

impl Sockets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketKey, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Open sockets now.
    pub fn open(&self) -> usize {
        self.lock().values().filter(|s| s.socket.is_some()).count()
    }

    /// Claim the key's slot for a turn: its socket, if it has one. `None`: the slot is busy
    /// (or no room is left), so this turn goes by HTTP.
    fn claim(&self, key: &SocketKey, idle: Duration, cap: usize) -> Option<Option<Socket>> {
        let now = Instant::now();
        let mut slots = self.lock();
        // Idle sockets expire; the rest stay under the cap, least recently used out first.
        expire(&mut slots, now, idle);
        if !slots.contains_key(key) && slots.len() >= cap {
            let oldest = slots
                .iter()
                .filter(|(_, s)| !s.busy)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())?;
            slots.remove(&oldest);
        }
        let slot = slots.entry(key.clone()).or_insert(Slot {
            socket: None,
            busy: false,
            last_used: now,
        });
        if slot.busy {
            return None;
        }
        slot.busy = true;
        slot.last_used = now;
        Some(slot.socket.take().filter(|s| s.opened.elapsed() < MAX_AGE))
    }

    /// End a turn: the socket goes back with what the next turn is checked against, or is
    /// closed (dropped) when it cannot be trusted.
    fn release(&self, key: &SocketKey, socket: Option<Socket>) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(key) {
            slot.busy = false;
            slot.last_used = Instant::now();
            slot.socket = socket;
        }
    }

    /// Whether the socket is not to be tried now for this account.
    fn off(&self, account: &str, now: u64) -> bool {
        self.off_until.load(Ordering::Relaxed) > now
            || self
                .account_off
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(account)
                .is_some_and(|&until| until > now)
    }

    /// A handshake failed: a backend without the transport (it answers the upgrade with 426,
    /// 404 or 405) is not asked again for [`OFF_FOR_SECS`]; anything else (a refused token, a
    /// limit, a 5xx, the network) only keeps this account off it for [`ACCOUNT_OFF_SECS`].
    fn refused(&self, account: &str, status: Option<u16>, now: u64) {
        if matches!(status, Some(426 | 404 | 405)) {
            self.off_until.store(now + OFF_FOR_SECS, Ordering::Relaxed);
        } else {
            self.account_off
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(account.to_owned(), now + ACCOUNT_OFF_SECS);
        }
    }

    /// A turn the socket failed whole went over HTTP and succeeded there: the socket itself is
    /// what fails (a backend that speaks it differently, a proxy in the way). Twice in a row,
    /// and the socket is off for [`OFF_FOR_SECS`], so no later turn pays for a try that fails.
    pub fn http_served_what_the_socket_failed(&self, now: u64) {
        if self.broken.fetch_add(1, Ordering::Relaxed) + 1 >= 2 {
            self.broken.store(0, Ordering::Relaxed);
            self.off_until.store(now + OFF_FOR_SECS, Ordering::Relaxed);
            tracing::info!(
                "the codex websocket failed whole turns that HTTP served: HTTP only for {OFF_FOR_SECS} s"
            );
        }
    }

    /// Close the sockets unused for `idle`; nothing waits on this but the sweeper.
    fn sweep(&self, idle: Duration) {
        expire(&mut self.lock(), Instant::now(), idle);
    }

    /// Start the sweeper once: idle sockets close even when no request comes to claim one.
    fn sweeper(self: &Arc<Self>, idle: Duration) {
        let weak = Arc::downgrade(self);
        self.sweeper.get_or_init(|| {
            let every = idle.clamp(Duration::from_millis(100), Duration::from_secs(30));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(sockets) = weak.upgrade() else {
                        return;
                    };
                    sockets.sweep(idle);
                }
            });
        });
    }
}

/// Close (drop) the sockets unused for `idle`; one on a turn stays.
fn expire(slots: &mut HashMap<SocketKey, Slot>, now: Instant, idle: Duration) {
    slots.retain(|_, s| s.busy || now.duration_since(s.last_used) < idle);
}

/// The socket table's settings, from the config.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `codex_ws_idle_secs`.
    pub idle: Duration,
    /// `codex_ws_max`.
    pub cap: usize,
    /// `codex_ws_first_event_secs`: how long a reused socket may take to start its turn.
    pub first_event: Duration,
}

impl Limits {
    /// The settings `cfg` gives the socket table.
    pub fn of(cfg: &crate::config::Config) -> Limits {
        Limits {
            idle: Duration::from_secs_f64(cfg.codex_ws_idle_secs),
            cap: cfg.codex_ws_max,
            first_event: Duration::from_secs_f64(cfg.codex_ws_first_event_secs),
        }
    }
}

/// Why a turn goes over HTTP instead of the socket (nothing reached the machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The socket was not tried: off, busy, no room, a Lite turn after a refused one, or a
    /// body it cannot split.
    NotTried,
    /// The handshake failed (its own rules decide when to try again).
    Unavailable,
    /// The turn was sent and the socket did not answer it (refused, closed, silent);
    /// `full`: the turn had been sent whole, not as an append.
    Failed {
        /// The turn was not an append.
        full: bool,
    },
}

/// Send `req` on the key's socket: the answer, already past its first event, or why the turn
/// goes over HTTP.
pub async fn send(
    sockets: &Arc<Sockets>,
    key: Key,
    req: &UpstreamRequest,
    limits: Limits,
) -> Result<Answer, Fallback> {
    let now = crate::clock::now_secs();
    let account = key.0.clone();
    if sockets.off(&account, now) {
        return Err(Fallback::NotTried);
    }
    let lite = req
        .headers
        .iter()
        .any(|(k, v)| k == proxy_core::exchange::LITE_HEADER && v == "true");
    // Without continuation a socket only loses HTTP's compression: once the backend has
    // refused to continue a Lite turn, Lite requests go by HTTP.
    if lite && !sockets.lite_appends.load(Ordering::Relaxed) {
        return Err(Fallback::NotTried);
    }
    sockets.sweeper(limits.idle);
    let body = Body::parse(&req.body).ok_or(Fallback::NotTried)?;
    let key = (key.0, key.1, body.lineage());
    let taken = sockets
        .claim(&key, limits.idle, limits.cap)
        .ok_or(Fallback::NotTried)?;
    let mut claim = Claim {
        sockets: sockets.clone(),
        key,
        done: false,
    };
    let reused = taken.is_some();
    let mut socket = match taken {
        Some(s) => s,
        None => match connect(req).await {
            Ok((ws, handshake)) => {
                sockets.opened.fetch_add(1, Ordering::Relaxed);
                Socket {
                    ws,
                    chain: None,
                    opened: Instant::now(),
                    handshake,
                }
            }
            Err((status, why)) => {
                tracing::info!(%why, "codex websocket unavailable: this turn goes over HTTP");
                sockets.refused(&account, status, now);
                claim.release(None);
                return Err(Fallback::Unavailable);
            }
        },
    };
    let sent = body.sent();
    let chain = socket.chain.take();
    let plan = continuation::plan(chain.as_ref(), &body, &sent);
    let msg = continuation::message(&body, &plan, lite);
    let appended = matches!(plan, Plan::Append { .. });
    if let Plan::Full { why } = &plan {
        tracing::debug!(%why, "codex websocket turn sent in full");
    }
    drop(body);
    let refuse = |claim: &mut Claim| {
        sockets.fell_back.fetch_add(1, Ordering::Relaxed);
        claim.release(None);
        Err(Fallback::Failed { full: !appended })
    };
    if socket.ws.send(Message::text(msg)).await.is_err() {
        return refuse(&mut claim);
    }
    let mut turn = Turn::default();
    let mut head = Vec::new();
    let mut headers = vec![("content-type".to_owned(), "text/event-stream".to_owned())];
    headers.append(&mut socket.handshake);
    // A socket that sat unused may be dead without knowing it (a NAT that forgot it, a laptop
    // that slept): the backend starts a turn at once, so a reused one gets a short deadline,
    // and the turn goes over HTTP when it passes. A fresh one has just answered its handshake.
    let deadline = tokio::time::Instant::now() + limits.first_event;
    // Decide on the first frame that is the turn's own.
    loop {
        let next = next_text(&mut socket.ws);
        let text = if reused {
            tokio::time::timeout_at(deadline, next).await.ok().flatten()
        } else {
            next.await
        };
        let Some(text) = text else {
            tracing::info!(
                reused,
                "codex websocket gave no answer: sent again over HTTP"
            );
            return refuse(&mut claim);
        };
        let kind = turn.frame(&text);
        if kind == Frame::Error {
            let refusal = continuation::refusal(&text);
            let status = refusal.status;
            tracing::info!(
                ?status,
                appended,
                "codex websocket refused a turn: sent again over HTTP"
            );
            // The backend's words, as a client would get them over HTTP (debug level only).
            let words = String::from_utf8_lossy(&text[..text.len().min(400)]).into_owned();
            tracing::debug!(frame = %words, "the refusal");
            // codex-rs sends Lite turns no `previous_response_id` (codex.md §9.2): a 400 to a
            // Lite append that is not the lost-state one says the profile cannot continue.
            if lite
                && appended
                && status == Some(400)
                && !refusal.lost_state
                && sockets.lite_appends.swap(false, Ordering::Relaxed)
            {
                tracing::info!(
                    "the backend does not continue Responses Lite turns: Lite requests go over HTTP from now on"
                );
            }
            return refuse(&mut claim);
        }
        continuation::sse(&text, &mut head);
        if kind == Frame::Preamble {
            // Quota and metadata events are this answer's headers, as over HTTP.
            headers.extend(continuation::frame_headers(&text));
        } else {
            // A turn starts with `response.created`; anything else on a reused socket is not
            // this turn's (and a new socket would not send it either).
            if !turn.started() {
                tracing::info!(
                    "codex websocket turn did not start with response.created: sent again over HTTP"
                );
                return refuse(&mut claim);
            }
            let counter = if appended {
                &sockets.appended
            } else {
                &sockets.full
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if !appended {
                sockets.broken.store(0, Ordering::Relaxed);
            }
            let last = kind == Frame::Last;
            let live = Live {
                socket: Some(socket),
                turn,
                sent: Some(sent),
                claim,
                first: Some(Bytes::from(head)),
                over: false,
            };
            let live = if last { live.finish() } else { live };
            return Ok(Answer {
                status: 200,
                headers,
                body: futures_util::stream::unfold(live, Live::next).boxed(),
            });
        }
    }
}

/// The next text frame (its bytes, not copied); `None` when the socket closed or failed.
/// Pings are answered by the library as it reads.
async fn next_text(ws: &mut Ws) -> Option<Bytes> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(Bytes::from(t)),
            Ok(Message::Binary(b)) => return Some(b),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The handshake with the request's own headers (auth, account, session, originator) and the
/// beta header, to the same URL as a ws(s) one.
async fn connect(
    req: &UpstreamRequest,
) -> Result<(Ws, Vec<(String, String)>), (Option<u16>, String)> {
    let url = if let Some(rest) = req.url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = req.url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        return Err((None, "not an http(s) URL".into()));
    };
    let mut request = url
        .into_client_request()
        .map_err(|e| (None, e.to_string()))?;
    let h = request.headers_mut();
    for (k, v) in &req.headers {
        if matches!(
            k.as_str(),
            "content-type" | "accept" | "content-length" | "content-encoding"
        ) || k == proxy_core::exchange::LITE_HEADER
        {
            continue;
        }
        if let (Ok(name), Ok(value)) = (k.parse::<HeaderName>(), HeaderValue::from_str(v)) {
            h.insert(name, value);
        }
    }
    h.insert("openai-beta", HeaderValue::from_static(BETA));
    let connecting = tokio_tungstenite::connect_async_with_config(request, None, true);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((ws, resp))) => {
            let headers = resp
                .headers()
                .iter()
                .filter(|(k, _)| {
                    k.as_str().starts_with("x-codex-") || k.as_str() == "x-models-etag"
                })
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            Ok((ws, headers))
        }
        Ok(Err(e)) => Err(describe(e)),
        Err(_) => Err((None, "handshake timed out".into())),
    }
}

/// A handshake failure: the HTTP status if the upgrade was answered, and words without the
/// URL or any header.
fn describe(e: tokio_tungstenite::tungstenite::Error) -> (Option<u16>, String) {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Http(resp) => {
            let status = resp.status().as_u16();
            (Some(status), format!("upgrade refused with HTTP {status}"))
        }
        E::Io(io) => (None, format!("connection failed: {}", io.kind())),
        other => (None, format!("handshake failed: {other}")),
    }
}

/// A claimed slot; released (its socket closed) if the turn is dropped before its end.
struct Claim {
    sockets: Arc<Sockets>,
    key: SocketKey,
    done: bool,
}

impl Claim {
    fn release(&mut self, socket: Option<Socket>) {
        if !std::mem::replace(&mut self.done, true) {
            self.sockets.release(&self.key, socket);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.release(None);
    }
}

/// A turn whose events flow to the machine.
struct Live {
    socket: Option<Socket>,
    turn: Turn,
    sent: Option<Sent>,
    claim: Claim,
    first: Option<Bytes>,
    over: bool,
}

impl Live {
    /// The turn's last event came: the socket is free for the next turn, with its chain.
    fn finish(mut self) -> Self {
        self.over = true;
        let turn = std::mem::take(&mut self.turn);
        let chain = self.sent.take().and_then(|s| turn.chain(s));
        let socket = self.socket.take().map(|mut s| {
            s.chain = chain;
            s
        });
        self.claim.release(socket);
        self
    }

    async fn next(mut self) -> Option<(Result<Bytes, String>, Self)> {
        if let Some(first) = self.first.take() {
            return Some((Ok(first), self));
        }
        if self.over {
            return None;
        }
        let ws = &mut self.socket.as_mut()?.ws;
        match next_text(ws).await {
            Some(text) => {
                let kind = self.turn.frame(&text);
                let mut out = Vec::with_capacity(text.len() + 8);
                continuation::sse(&text, &mut out);
                let live = match kind {
                    Frame::Last => self.finish(),
                    // An error after output ends the turn; the socket is not trusted again.
                    Frame::Error => {
                        self.over = true;
                        self.socket = None;
                        self
                    }
                    Frame::Event | Frame::Preamble => self,
                };
                Some((Ok(Bytes::from(out)), live))
            }
            None => {
                self.over = true;
                // The claim's drop closes the slot's socket.
                self.socket = None;
                Some((Err("the websocket closed mid-response".into()), self))
            }
        }
    }
}
