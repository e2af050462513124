//! What goes over the sockets. How the proxy writes a stream to its client: what the upstream
//! has already delivered goes out together, and nothing waits for what it has not. How it
//! reaches the upstream: directly, or through the proxy the environment names. The upstream
//! here is a raw socket server on loopback, so that when each byte is sent (in one write, or
//! held back) is the test's to decide; the client is a raw socket too, so that the response's
//! HTTP chunks (one per write the proxy makes) can be counted.

mod support;

use proxy_fakes::http1::{content_length, find};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Proxy, fake, one_account};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// One Codex SSE event as the backend frames it: one HTTP chunk.
fn chunk(event: &str, data: serde_json::Value) -> Vec<u8> {
    let frame = format!("event: {event}\ndata: {data}\n\n");
    let mut out = format!("{:X}\r\n", frame.len()).into_bytes();
    out.extend_from_slice(frame.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// The deltas' texts: `w00`, `w01`, …
fn word(i: usize) -> String {
    format!("w{i:02}")
}

/// A text answer of `n` deltas, cut in two after delta `cut` (the head and everything before
/// it in the first part).
fn answer(n: usize, cut: usize) -> (Vec<u8>, Vec<u8>) {
    let id = "msg_1";
    let mut first =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    let response = |status: &str| {
        serde_json::json!({"id": "resp_1", "object": "response", "status": status,
            "model": "gpt-5.6-sol", "output": []})
    };
    first.extend(chunk(
        "response.created",
        serde_json::json!({"type": "response.created", "sequence_number": 0, "response": response("in_progress")}),
    ));
    first.extend(chunk(
        "response.output_item.added",
        serde_json::json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
            "item": {"id": id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}}),
    ));
    first.extend(chunk(
        "response.content_part.added",
        serde_json::json!({"type": "response.content_part.added", "sequence_number": 2, "item_id": id,
            "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "annotations": [], "text": ""}}),
    ));
    let mut second = Vec::new();
    for i in 0..n {
        let part = if i <= cut { &mut first } else { &mut second };
        part.extend(chunk(
            "response.output_text.delta",
            serde_json::json!({"type": "response.output_text.delta", "sequence_number": 3 + i,
                "item_id": id, "output_index": 0, "content_index": 0, "delta": word(i)}),
        ));
    }
    let text: String = (0..n).map(word).collect();
    let item = serde_json::json!({"id": id, "type": "message", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "annotations": [], "text": text}]});
    second.extend(chunk(
        "response.output_item.done",
        serde_json::json!({"type": "response.output_item.done", "sequence_number": 3 + n,
            "output_index": 0, "item": item}),
    ));
    let mut done = response("completed");
    done["output"] = serde_json::json!([item]);
    done["usage"] = serde_json::json!({"input_tokens": 10, "output_tokens": n,
        "total_tokens": 10 + n, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0}});
    second.extend(chunk(
        "response.completed",
        serde_json::json!({"type": "response.completed", "sequence_number": 4 + n, "response": done}),
    ));
    second.extend_from_slice(b"0\r\n\r\n");
    (first, second)
}

/// `answer(n, 0)` in one piece.
fn whole(n: usize) -> Vec<u8> {
    let (mut all, rest) = answer(n, 0);
    all.extend(rest);
    all
}

/// Reads the rest of a response, within 20 s.
async fn read_rest(sock: &mut TcpStream, raw: &mut Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(20), sock.read_to_end(raw))
        .await
        .expect("the stream ends")
        .expect("read");
}

/// Reads one HTTP/1.1 request (head, then a `content-length` body) off `sock`; its path.
async fn read_request(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let end = loop {
        match find(&buf, b"\r\n\r\n") {
            Some(end) => break end + 4,
            None => read_more(sock, &mut buf).await?,
        }
    };
    while buf.len() < end + content_length(&buf[..end]) {
        read_more(sock, &mut buf).await?;
    }
    let head = String::from_utf8_lossy(&buf[..end]);
    head.split_whitespace().nth(1).map(str::to_owned)
}

/// Reads what has come into `buf`; `None` once the connection has ended.
async fn read_more(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<()> {
    let mut piece = [0u8; 16384];
    let n = sock.read(&mut piece).await.ok().filter(|n| *n > 0)?;
    buf.extend_from_slice(&piece[..n]);
    Some(())
}

/// A Codex backend that answers each `/responses` request with `first` in one write, then,
/// once `go` fires (at once if it is absent), `second` in one write; anything else gets a 404.
/// Each connection is served by a task of its own (the proxy's clients may open several).
async fn upstream(first: Vec<u8>, second: Vec<u8>, go: Option<oneshot::Receiver<()>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let answer = Arc::new((first, second, Mutex::new(go)));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                while let Some(path) = read_request(&mut sock).await {
                    if !path.ends_with("/codex/responses") {
                        let _ = sock
                            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        continue;
                    }
                    let _ = sock.write_all(&answer.0).await;
                    let go = answer.2.lock().expect("lock").take();
                    if let Some(go) = go {
                        let _ = go.await;
                    }
                    let _ = sock.write_all(&answer.1).await;
                    break;
                }
            });
        }
    });
    base
}

/// Start a proxy whose Codex backend is `base`, with `env` besides.
async fn proxy_on(base: &str, env: &[(&str, &str)]) -> (Proxy, proxy_fakes::FakeServer) {
    let fake = fake().await;
    let mut opts = one_account(&fake);
    opts.env
        .push(("CCP_CODEX_BASE_URL".into(), format!("{base}/backend-api")));
    opts.env.push(("CCP_CODEX_TRANSPORT".into(), "http".into()));
    for (k, v) in env {
        opts.env.push(((*k).into(), (*v).into()));
    }
    (Proxy::start(&fake, opts), fake)
}

/// Sends a streamed Messages request over a raw connection; the connection, its head read.
async fn ask(p: &Proxy) -> (TcpStream, Vec<u8>) {
    let body = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]})
    .to_string();
    let addr = p.base.trim_start_matches("http://");
    let mut sock = TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nanthropic-version: 2023-06-01\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.expect("send");
    (sock, Vec::new())
}

/// The HTTP chunks of a complete chunked body (the head cut off), without the last, empty one.
fn chunks(raw: &[u8]) -> Vec<String> {
    let end = find(raw, b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..end]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let mut rest = &raw[end + 4..];
    let mut out = Vec::new();
    loop {
        let line = find(rest, b"\r\n").expect("size line");
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line]).expect("hex"), 16)
            .expect("chunk size");
        if size == 0 {
            return out;
        }
        let data = &rest[line + 2..line + 2 + size];
        out.push(String::from_utf8(data.to_vec()).expect("utf-8"));
        rest = &rest[line + 2 + size + 2..];
    }
}

/// The text deltas of SSE frames, in order.
fn texts(body: &str) -> Vec<String> {
    support::sse_events(body)
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_upstream_sent_at_once_reaches_the_client_in_few_writes() {
    let n = 40;
    let base = upstream(whole(n), Vec::new(), None).await;
    let (p, _fake) = proxy_on(&base, &[]).await;
    let (mut sock, mut raw) = ask(&p).await;
    read_rest(&mut sock, &mut raw).await;
    let chunks = chunks(&raw);
    let body: String = chunks.concat();
    let events = support::sse_events(&body);
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("message_start"));
    assert_eq!(events.last().map(|e| e.0.as_str()), Some("message_stop"));
    assert_eq!(texts(&body), (0..n).map(word).collect::<Vec<_>>());
    // 45 events in all: the commit's write (up to the first delta), then the rest together,
    // not one write per event.
    assert!(
        events.len() > 40 && chunks.len() <= 3,
        "{} events in {} writes",
        events.len(),
        chunks.len()
    );
    // Without a proxy in the environment, the request path's own client carried it.
    assert!(p.log_text().contains(DIRECT), "{}", p.log_text());
}

/// What the proxy logs (at debug) when a thread makes its direct upstream client.
const DIRECT: &str = "the request path's upstream client here: direct";

/// A backend that answers every request with a 307 to the same path under `to`.
async fn redirecting(to: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let to = to.clone();
            tokio::spawn(async move {
                while let Some(path) = read_request(&mut sock).await {
                    let moved = format!(
                        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}{path}\r\ncontent-length: 0\r\n\r\n"
                    );
                    if sock.write_all(moved.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_redirects_is_followed() {
    let base = upstream(whole(3), Vec::new(), None).await;
    let moved = redirecting(base).await;
    let (p, _fake) = proxy_on(&moved, &[]).await;
    let (mut sock, mut raw) = ask(&p).await;
    read_rest(&mut sock, &mut raw).await;
    let body: String = chunks(&raw).concat();
    assert_eq!(texts(&body), (0..3).map(word).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_waits_for_what_the_upstream_has_not_sent() {
    let (n, cut) = (12, 5);
    let (first, second) = answer(n, cut);
    let (go, wait) = oneshot::channel();
    let base = upstream(first, second, Some(wait)).await;
    let (p, _fake) = proxy_on(&base, &[]).await;
    let (mut sock, mut raw) = ask(&p).await;
    // Every delta of the first part reaches the client while the upstream holds the rest.
    let marker = format!("\"{}\"", word(cut));
    let mut piece = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(20), async {
        while !String::from_utf8_lossy(&raw).contains(&marker) {
            let got = sock.read(&mut piece).await.expect("read");
            assert!(got > 0, "the stream ended early");
            raw.extend_from_slice(&piece[..got]);
        }
    })
    .await
    .expect("the first part's deltas arrive before the upstream sends more");
    go.send(()).expect("upstream waits");
    read_rest(&mut sock, &mut raw).await;
    let body: String = chunks(&raw).concat();
    assert_eq!(texts(&body), (0..n).map(word).collect::<Vec<_>>());
    assert_eq!(
        support::sse_events(&body).last().map(|e| e.0.as_str()),
        Some("message_stop")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_named_by_the_environment_carries_the_upstream_requests() {
    // The "proxy" is the raw upstream: it answers a request whatever its target, and the
    // backend's own address has nothing listening, so only a request sent through the proxy
    // can be answered.
    let relay = upstream(whole(3), Vec::new(), None).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    for var in ["HTTP_PROXY", "all_proxy"] {
        let (p, _fake) = proxy_on(&closed, &[(var, relay.as_str())]).await;
        let (mut sock, mut raw) = ask(&p).await;
        read_rest(&mut sock, &mut raw).await;
        let body: String = chunks(&raw).concat();
        assert_eq!(texts(&body), (0..3).map(word).collect::<Vec<_>>(), "{var}");
        assert!(!p.log_text().contains(DIRECT), "{var}: {}", p.log_text());
    }
}
