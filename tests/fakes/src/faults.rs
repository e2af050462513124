//! A misbehaving upstream for the fault tests (`host/tests/faults.rs`): a raw TCP listener on
//! 127.0.0.1 that plays a script on each connection, byte for byte. It does on purpose what an
//! HTTP server library will not: answer a TLS handshake with garbage, cut a chunked body before
//! its last chunk, reset the connection mid-stream, stream faster than anyone reads.
//!
//! It records, per connection, how many bytes it managed to write and whether the peer (the
//! proxy) closed the connection, so a test can tell back-pressure (writes stop) from buffering
//! (writes go on) and see when the proxy dropped the upstream.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// One step of a script.
#[derive(Debug, Clone)]
pub enum Act {
    /// Write these bytes (as fast as the peer takes them).
    Write(Vec<u8>),
    /// Write `chunk` again and again until `total` bytes went out: the peer's reading paces it.
    Flood {
        /// What is repeated.
        chunk: Vec<u8>,
        /// Bytes in all (the last repetition is cut to fit).
        total: u64,
    },
    /// Stay silent this long (or until the peer closes).
    Stall(Duration),
    /// Close at once with a TCP reset (zero linger); the script ends here.
    Reset,
}

/// What one connection gets. A script that ends without [`Act::Reset`] closes the connection in
/// order (FIN).
#[derive(Debug, Clone)]
pub struct Script {
    /// Read an HTTP/1.1 request (head and `content-length` body) before acting; otherwise read
    /// once whatever arrives first (a TLS ClientHello).
    pub http: bool,
    /// The steps.
    pub acts: Vec<Act>,
}

impl Script {
    /// An HTTP script.
    pub fn http(acts: Vec<Act>) -> Script {
        Script { http: true, acts }
    }

    /// A complete, well-formed Codex answer whose text is `text` (one delta per word).
    pub fn codex_text(text: &str) -> Script {
        let mut body = sse_head();
        body.extend(codex::opening());
        for w in text.split_inclusive(' ') {
            body.extend(codex::text_delta(w));
        }
        body.extend(codex::closing(text));
        Script::http(vec![Act::Write(body)])
    }
}

/// A `200` head for a server-sent event stream whose end is the connection's end.
pub fn sse_head() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n".to_vec()
}

/// A `200` head for a server-sent event stream in chunked transfer encoding.
pub fn chunked_sse_head() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        .to_vec()
}

/// `bytes` as one chunk of a chunked body.
pub fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    out
}

/// Codex Responses stream frames, the few a text answer needs.
pub mod codex {
    use serde_json::json;

    const ITEM: &str = "msg_fault";

    fn frame(ty: &str, mut fields: serde_json::Value) -> Vec<u8> {
        fields["type"] = json!(ty);
        format!("event: {ty}\ndata: {fields}\n\n").into_bytes()
    }

    /// `response.created` only: no client-visible output yet (the proxy still holds).
    pub fn created() -> Vec<u8> {
        frame(
            "response.created",
            json!({"response": {"id": "resp_fault", "status": "in_progress", "output": []}}),
        )
    }

    /// `response.created` and the message item with its empty text part.
    pub fn opening() -> Vec<u8> {
        let mut out = created();
        out.extend(frame(
            "response.output_item.added",
            json!({"output_index": 0, "item": {"id": ITEM, "type": "message", "role": "assistant",
                   "status": "in_progress", "content": []}}),
        ));
        out.extend(frame(
            "response.content_part.added",
            json!({"item_id": ITEM, "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        ));
        out
    }

    /// One text delta.
    pub fn text_delta(text: &str) -> Vec<u8> {
        frame(
            "response.output_text.delta",
            json!({"item_id": ITEM, "output_index": 0, "content_index": 0, "delta": text}),
        )
    }

    /// The message item's end and `response.completed`.
    pub fn closing(text: &str) -> Vec<u8> {
        let part = json!({"type": "output_text", "text": text, "annotations": []});
        let item = json!({"id": ITEM, "type": "message", "role": "assistant",
                          "status": "completed", "content": [part]});
        let mut out = frame(
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        );
        out.extend(frame(
            "response.completed",
            json!({"response": {"id": "resp_fault", "status": "completed", "output": [item],
                   "usage": {"input_tokens": 10, "output_tokens": 5}}}),
        ));
        out
    }
}

/// What the server saw on one scripted connection.
#[derive(Debug, Default)]
pub struct Conn {
    /// The request line (`POST /backend-api/codex/responses HTTP/1.1`), empty in raw mode.
    pub request_line: Mutex<String>,
    written: AtomicU64,
    peer_closed: AtomicBool,
    ended: AtomicBool,
}

impl Conn {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }

    /// The peer closed the connection (a read saw its end, or a write failed) while the
    /// script was still playing.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed.load(Ordering::SeqCst)
    }

    /// The script finished or the connection is gone.
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }
}

#[derive(Default)]
struct State {
    default: Option<Script>,
    queued: VecDeque<Script>,
    played: Vec<Arc<Conn>>,
    accepted: usize,
}

/// The misbehaving server. The listener task ends when this is dropped.
pub struct FaultServer {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultServer {
    /// Listen on 127.0.0.1 (a free port); every scripted connection plays `default` unless a
    /// script was queued for it.
    pub async fn start(default: Script) -> std::io::Result<FaultServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            default: Some(default),
            ..State::default()
        }));
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                lock(&st).accepted += 1;
                tokio::spawn(serve(tcp, st.clone()));
            }
        });
        Ok(FaultServer { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The script of every later connection with nothing queued.
    pub fn set_default(&self, script: Script) {
        lock(&self.state).default = Some(script);
    }

    /// A script for the next scripted connection only (in queue order).
    pub fn queue(&self, script: Script) {
        lock(&self.state).queued.push_back(script);
    }

    /// The connections that played a script, in arrival order (HTTP `GET`s are answered 404
    /// and not listed: the proxy's model catalog probe).
    pub fn played(&self) -> Vec<Arc<Conn>> {
        lock(&self.state).played.clone()
    }

    /// Connections accepted in all.
    pub fn accepted(&self) -> usize {
        lock(&self.state).accepted
    }
}

async fn serve(mut tcp: TcpStream, st: Arc<Mutex<State>>) {
    let conn = Arc::new(Conn::default());
    let http = {
        let s = lock(&st);
        s.queued
            .front()
            .or(s.default.as_ref())
            .is_none_or(|s| s.http)
    };
    if http {
        let Some(line) = read_request(&mut tcp).await else {
            return;
        };
        if line.starts_with("GET ") {
            let _ = tcp
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            return;
        }
        *conn.request_line.lock().unwrap_or_else(|e| e.into_inner()) = line;
    } else {
        // Whatever comes first (a ClientHello); the script answers it.
        let mut buf = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await;
    }
    let script = {
        let mut s = lock(&st);
        s.played.push(conn.clone());
        s.queued.pop_front().or_else(|| s.default.clone())
    };
    let acts = script.map(|s| s.acts).unwrap_or_default();
    let reset = play(&mut tcp, &acts, &conn).await;
    if reset {
        let _ = tcp.set_zero_linger();
    } else {
        let _ = tcp.shutdown().await;
    }
    conn.ended.store(true, Ordering::SeqCst);
}

/// Read one request (head, then a `content-length` body); its request line.
async fn read_request(tcp: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = crate::http1::find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = tcp.read(&mut piece).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&piece[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = crate::http1::content_length(head.as_bytes());
    let mut have = buf.len() - head_end;
    while have < length {
        let n = tcp.read(&mut piece).await.ok().filter(|n| *n > 0)?;
        have += n;
    }
    Some(head.lines().next().unwrap_or("").to_owned())
}

/// Play `acts`, watching for the peer's close meanwhile. Whether the script ends in a reset.
async fn play(tcp: &mut TcpStream, acts: &[Act], conn: &Conn) -> bool {
    let (mut rd, mut wr) = tcp.split();
    tokio::select! {
        reset = act_all(&mut wr, acts, conn) => reset,
        () = peer_gone(&mut rd) => {
            conn.peer_closed.store(true, Ordering::SeqCst);
            false
        }
    }
}

async fn act_all(wr: &mut WriteHalf<'_>, acts: &[Act], conn: &Conn) -> bool {
    for act in acts {
        let ok = match act {
            Act::Write(bytes) => write(wr, bytes, conn).await,
            Act::Flood { chunk, total } => flood(wr, chunk, *total, conn).await,
            Act::Stall(d) => {
                tokio::time::sleep(*d).await;
                true
            }
            Act::Reset => return true,
        };
        if !ok {
            conn.peer_closed.store(true, Ordering::SeqCst);
            return false;
        }
    }
    false
}

async fn write(wr: &mut WriteHalf<'_>, bytes: &[u8], conn: &Conn) -> bool {
    // In pieces, so `written` follows what the peer actually took.
    for piece in bytes.chunks(16 * 1024) {
        if wr.write_all(piece).await.is_err() {
            return false;
        }
        conn.written.fetch_add(piece.len() as u64, Ordering::SeqCst);
    }
    true
}

async fn flood(wr: &mut WriteHalf<'_>, chunk: &[u8], total: u64, conn: &Conn) -> bool {
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        if !write(wr, &chunk[..n], conn).await {
            return false;
        }
        left -= n as u64;
    }
    true
}

/// Resolves when the peer closes its side (reads end or fail); what it sends is discarded.
async fn peer_gone(rd: &mut ReadHalf<'_>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = rd.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}
