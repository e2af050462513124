//! The Codex WebSocket transport (codex.md §1.1, §9.5): one socket per account, session and
//! lineage (model and instructions), where a turn that only appends to the last one sends
//! just its new items after `previous_response_id`. The decisions are `proxy_core::continuation`'s; this file keeps
//! the sockets and moves the frames.
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
/// The backend ends a socket after an hour; one this old is not reused.
const MAX_AGE: Duration = Duration::from_secs(55 * 60);
/// After a refused upgrade, HTTP only for this long.
const OFF_FOR_SECS: u64 = 600;
/// Events that may come before a turn's own (quota): they decide nothing.
const PREAMBLE: &[&str] = &[
    "codex.rate_limits",
    "response.metadata",
    "codex.response.metadata",
];
/// Handshake bound: the machine's first-byte deadline covers the turn, not the upgrade.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A (account id, session key) pair, as the relay knows it.
pub type Key = (String, String);

/// A socket's key: the account, the session, and the lineage within it (`Body::lineage`).
type SocketKey = (String, String, u64);

/// Which transport the Codex lane uses (`codex_transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP only.
    Http,
    /// The socket where the model's catalog entry prefers it (`prefer_websockets`).
    Auto,
    /// The socket for every model.
    WebSocket,
}

impl Transport {
    /// From the config's word; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "http" => Some(Self::Http),
            "auto" => Some(Self::Auto),
            "websocket" => Some(Self::WebSocket),
            _ => None,
        }
    }
}

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
#[derive(Default)]
pub struct Sockets {
    slots: Mutex<HashMap<SocketKey, Slot>>,
    /// Unix seconds until which the upgrade is not tried again.
    off_until: AtomicU64,
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
        slots.retain(|_, s| s.busy || now.duration_since(s.last_used) < idle);
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

    fn off(&self, now: u64) -> bool {
        self.off_until.load(Ordering::Relaxed) > now
    }
}

/// Send `req` on the key's socket. `None`: send it over HTTP instead (nothing reached the
/// machine); `Some`: the answer, already past its first event.
pub async fn send(
    sockets: &Arc<Sockets>,
    key: Key,
    req: &UpstreamRequest,
    idle: Duration,
    cap: usize,
) -> Option<Answer> {
    let now = crate::clock::now_secs();
    if sockets.off(now) {
        return None;
    }
    let body = Body::parse(&req.body)?;
    let key = (key.0, key.1, body.lineage());
    let taken = sockets.claim(&key, idle, cap)?;
    let mut claim = Claim {
        sockets: sockets.clone(),
        key,
        done: false,
    };
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
            Err(why) => {
                tracing::info!(%why, "codex websocket unavailable: HTTP for {OFF_FOR_SECS} s");
                sockets
                    .off_until
                    .store(now + OFF_FOR_SECS, Ordering::Relaxed);
                claim.release(None);
                return None;
            }
        },
    };
    let sent = body.sent();
    let plan = continuation::plan(socket.chain.take().as_ref(), &body, &sent);
    let lite = req
        .headers
        .iter()
        .any(|(k, v)| k == proxy_core::exchange::LITE_HEADER && v == "true");
    let msg = continuation::message(&body, &plan, lite);
    let appended = matches!(plan, Plan::Append { .. });
    if let Plan::Full { why } = &plan {
        tracing::debug!(%why, "codex websocket turn sent in full");
    }
    drop(body);
    if socket
        .ws
        .send(Message::text(into_text(msg)?))
        .await
        .is_err()
    {
        sockets.fell_back.fetch_add(1, Ordering::Relaxed);
        claim.release(None);
        return None;
    }
    let mut turn = Turn::default();
    let mut head = Vec::new();
    let mut headers = vec![("content-type".to_owned(), "text/event-stream".to_owned())];
    headers.append(&mut socket.handshake);
    // Decide on the first frame that is the turn's own.
    loop {
        let Some(text) = next_text(&mut socket.ws).await else {
            sockets.fell_back.fetch_add(1, Ordering::Relaxed);
            claim.release(None);
            return None;
        };
        let kind = turn.frame(&text);
        if kind == Frame::Error {
            let status = continuation::error_status(&text);
            tracing::info!(
                ?status,
                appended,
                "codex websocket refused a turn: sent again over HTTP"
            );
            // The backend's own words (no request content), for whoever reads the debug log.
            let words = String::from_utf8_lossy(&text[..text.len().min(400)]).into_owned();
            tracing::debug!(frame = %words, "the refusal");
            sockets.fell_back.fetch_add(1, Ordering::Relaxed);
            claim.release(None);
            return None;
        }
        continuation::sse(&text, &mut head);
        // Quota and metadata events are this answer's headers, as over HTTP.
        headers.extend(continuation::frame_headers(&text));
        if kind == Frame::Last || !is_preamble(&text) {
            let counter = if appended {
                &sockets.appended
            } else {
                &sockets.full
            };
            counter.fetch_add(1, Ordering::Relaxed);
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
            return Some(Answer {
                status: 200,
                headers,
                body: futures_util::stream::unfold(live, Live::next).boxed(),
            });
        }
    }
}

fn into_text(msg: Vec<u8>) -> Option<String> {
    // The message is JSON written from valid UTF-8 pieces.
    String::from_utf8(msg).ok()
}

fn is_preamble(text: &[u8]) -> bool {
    let v: Option<serde_json::Value> = serde_json::from_slice(text).ok();
    v.as_ref()
        .and_then(|v| v.get("type"))
        .and_then(serde_json::Value::as_str)
        .is_some_and(|t| PREAMBLE.contains(&t))
}

/// The next text frame; `None` when the socket closed or failed. Pings are answered by the
/// library as it reads.
async fn next_text(ws: &mut Ws) -> Option<Vec<u8>> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(t.as_bytes().to_vec()),
            Ok(Message::Binary(b)) => return Some(b.to_vec()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The handshake with the request's own headers (auth, account, session, originator) and the
/// beta header, to the same URL as a ws(s) one.
async fn connect(req: &UpstreamRequest) -> Result<(Ws, Vec<(String, String)>), String> {
    let url = if let Some(rest) = req.url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = req.url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        return Err("not an http(s) URL".into());
    };
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
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
        Err(_) => Err("handshake timed out".into()),
    }
}

/// A handshake failure in words, without the URL or any header.
fn describe(e: tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Http(resp) => format!("upgrade refused with HTTP {}", resp.status().as_u16()),
        E::Io(io) => format!("connection failed: {}", io.kind()),
        other => format!("handshake failed: {}", other),
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
        if !self.done {
            self.sockets.release(&self.key, None);
        }
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
                    Frame::Event => self,
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
