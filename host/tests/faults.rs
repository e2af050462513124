//! The fault matrix through the real binary (docs/FAILURES.md, "Faults through the binary"):
//! transport faults a library server will not produce on purpose, played byte for byte by
//! `proxy_fakes::faults::FaultServer` (the Codex upstream) next to the usual fake (OAuth, the
//! Kilo lane). Each row checks: the documented client-visible outcome, no panic, the process
//! still answers normal requests on both lanes, the account file untouched, and no file
//! descriptor left behind once the connections are done.

mod support;

use proxy_fakes::FakeServer;
use proxy_fakes::faults::{self, Act, Conn, FaultServer, Script, codex};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Proxy, ProxyOpts, TestAccount, client, fake, request, sse_events};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The text of the fault server's well-formed answer.
const ANSWER: &str = "All is well after the fault.";
/// File descriptors a process may gain over a batch without it being a leak (a pooled
/// keep-alive connection, the log file's reopen, a timer): anything per request would exceed it.
const FD_SLACK: usize = 3;
/// A model of the Kilo lane (the usual fake answers it).
const KILO_MODEL: &str = "minimax/minimax-m2.5:free";

/// One proxy with one account whose Codex upstream is `codex_base` (the `/backend-api` path is
/// added); OAuth and the Kilo lane go to the usual fake.
fn proxy_on(fake: &FakeServer, codex_base: &str, env: &[(&str, &str)]) -> Proxy {
    let (access, _, _) = fake.issue_tokens("acct-1", "one@example.com");
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.push((
        "CCP_CODEX_BASE_URL".into(),
        format!("{codex_base}/backend-api"),
    ));
    Proxy::start(
        fake,
        ProxyOpts {
            accounts: vec![TestAccount {
                account_id: "acct-1".into(),
                access_token: access,
            }],
            env,
            ..ProxyOpts::default()
        },
    )
}

async fn post(p: &Proxy, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", p.base))
        .header("x-api-key", "anything")
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("send")
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(e, _)| e.as_str()).collect()
}

/// The text of a streamed answer's text deltas.
fn streamed_text(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter(|(e, _)| e == "content_block_delta")
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect()
}

/// Open file descriptors of a process.
fn fds(pid: u32) -> usize {
    fd_list(pid).len()
}

/// What each open file descriptor of a process is (`socket:[…]`, a path, `anon_inode:…`).
fn fd_list(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| {
                let e = e.ok()?;
                let to = std::fs::read_link(e.path()).ok()?;
                Some(format!(
                    "{}->{}",
                    e.file_name().to_string_lossy(),
                    to.display()
                ))
            })
            .collect()
        })
        .unwrap_or_default()
}

/// A `/proc/<pid>/status` field in kB (`VmRSS`, `VmHWM`).
fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Wait (polling) until `ok()` holds; whether it did within `limit`.
async fn eventually(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The fd count comes back to `baseline` (polled: closing is asynchronous), or at least within
/// the slack of it.
async fn assert_fds_settle(p: &Proxy, baseline: usize, what: &str) -> usize {
    let pid = p.pid();
    let t = Instant::now();
    eventually(Duration::from_secs(3), || fds(pid) <= baseline).await;
    let now = fds(pid);
    eprintln!(
        "{what}: {baseline} fds before, {now} after ({:?})",
        t.elapsed()
    );
    assert!(
        now <= baseline + FD_SLACK,
        "{what}: {now} fds after the batch, {baseline} before: {:?}",
        fd_list(pid)
    );
    now
}

/// The fd count once the last request's connections are closed (the least of a few looks).
async fn quiet_fds(pid: u32) -> usize {
    let mut least = fds(pid);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        least = least.min(fds(pid));
    }
    least
}

/// Alive, never panicked, and both lanes answer a normal request (the Codex one through the
/// fault server's well-formed script, when there is one).
async fn assert_healthy(p: &mut Proxy, fault: Option<&FaultServer>) {
    assert!(
        p.exit_status(Duration::ZERO).is_none(),
        "the proxy exited:\n{}",
        p.log_text()
    );
    assert!(
        !p.log_text().contains("panicked"),
        "a panic:\n{}",
        p.log_text()
    );
    let r = post(p, &request(KILO_MODEL, "text", true)).await;
    assert_eq!(r.status(), 200, "the Kilo lane after the fault");
    let events = sse_events(&r.text().await.expect("body"));
    assert_eq!(names(&events).last().copied(), Some("message_stop"));
    if let Some(f) = fault {
        f.set_default(Script::codex_text(ANSWER));
        let r = post(p, &request("claude-sonnet-4-5", "text", true)).await;
        assert_eq!(r.status(), 200, "the Codex lane after the fault");
        let events = sse_events(&r.text().await.expect("body"));
        assert_eq!(names(&events).last().copied(), Some("message_stop"));
        assert_eq!(streamed_text(&events), ANSWER);
    }
}

fn account_file(p: &Proxy) -> Vec<u8> {
    std::fs::read(p.data_dir.join("accounts/acct-1.json")).expect("account file")
}

/// An Anthropic error body: `{"type":"error","error":{"type":ty,"message":…}}`.
async fn assert_error(r: reqwest::Response, status: u16, ty: &str) -> String {
    assert_eq!(r.status(), status);
    let e: Value = r.json().await.expect("the error is JSON");
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["error"]["type"], ty, "{e}");
    e["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

/// A batch of `n` concurrent streaming Codex requests; their responses.
async fn batch(p: &Proxy, n: usize) -> Vec<reqwest::Response> {
    let body = request("claude-sonnet-4-5", "text", true);
    futures_util::future::join_all((0..n).map(|_| post(p, &body))).await
}

/// Row 1: the upstream is https:// but the server speaks garbage (or hangs up) in the
/// handshake. A transport failure: retried (4 attempts), then a clean 500 `api_error`.
#[tokio::test(flavor = "multi_thread")]
async fn tls_garbage_or_hangup_in_the_handshake_is_a_clean_error() {
    let fake = fake().await;
    let garbage = Script {
        http: false,
        acts: vec![Act::Write(
            b"HTTP/1.1 200 OK\r\n\r\nthis is not a TLS server".to_vec(),
        )],
    };
    let f = FaultServer::start(garbage).await.expect("fault server");
    let tls_base = format!("https://127.0.0.1:{}", f.port());
    let mut p = proxy_on(&fake, &tls_base, &[]);
    let before = account_file(&p);
    let baseline = quiet_fds(p.pid()).await;
    let hang_up = Script {
        http: false,
        acts: Vec::new(),
    };
    let phases = [
        ("garbage", None, "received corrupt message"),
        ("hang-up", Some(hang_up), "tls handshake eof"),
    ];
    for (what, script, cause) in phases {
        if let Some(s) = script {
            f.set_default(s);
        }
        let n = f.played().len();
        let t = Instant::now();
        for r in batch(&p, 3).await {
            let msg = assert_error(r, 500, "api_error").await;
            assert!(
                msg.starts_with("upstream unreachable: error sending request: "),
                "{what}: {msg}"
            );
            assert!(msg.contains(cause), "{what}: {msg}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{what}: {:?}",
            t.elapsed()
        );
        // Four attempts each (the catalog probe is one more handshake, once).
        let tried = f.played().len() - n;
        assert!((12..=13).contains(&tried), "{what}: {tried} handshakes");
    }
    assert_fds_settle(&p, baseline, "tls").await;
    assert_eq!(account_file(&p), before);
    assert_healthy(&mut p, None).await;
}

/// Row 2: nothing listens on the upstream's port. Retried, then 500 `api_error`.
#[tokio::test(flavor = "multi_thread")]
async fn connection_refused_is_retried_then_a_clean_error() {
    let fake = fake().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut p = proxy_on(&fake, &format!("http://127.0.0.1:{port}"), &[]);
    let before = account_file(&p);
    let baseline = quiet_fds(p.pid()).await;
    let t = Instant::now();
    for r in batch(&p, 3).await {
        let msg = assert_error(r, 500, "api_error").await;
        assert!(
            msg.starts_with("upstream unreachable: error sending request: "),
            "{msg}"
        );
        assert!(msg.contains("Connection refused"), "{msg}");
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_fds_settle(&p, baseline, "refused").await;
    assert_eq!(account_file(&p), before);
    assert_healthy(&mut p, None).await;
}

/// The frames of an answer that has shown the client some text.
fn committed_frames() -> Vec<u8> {
    let mut b = codex::opening();
    b.extend(codex::text_delta("Partial "));
    b.extend(codex::text_delta("answer"));
    b
}

/// A committed stream that broke: the open text block closed, one `error` event, nothing
/// after; the text so far arrived.
fn assert_broken_stream(body: &str, what: &str) {
    let events = sse_events(body);
    let n = names(&events);
    assert_eq!(n.first().copied(), Some("message_start"), "{what}: {n:?}");
    assert_eq!(
        n[n.len().saturating_sub(2)..],
        ["content_block_stop", "error"],
        "{what}: {n:?}"
    );
    assert_eq!(n.iter().filter(|e| **e == "error").count(), 1, "{what}");
    assert_eq!(streamed_text(&events), "Partial answer", "{what}");
    let err = &events.last().expect("events").1;
    assert_eq!(err["type"], "error", "{what}: {err}");
    assert_eq!(err["error"]["type"], "api_error", "{what}: {err}");
    assert_eq!(
        err["error"]["message"], "upstream stream ended before the response completed",
        "{what}"
    );
}

/// Row 3: a reset (RST) or a chunked body cut before its last chunk. Before any output the
/// client never knows (the attempt is repeated); after the commit its stream ends well-formed.
#[tokio::test(flavor = "multi_thread")]
async fn reset_or_truncated_chunked_body_before_and_after_output() {
    let fake = fake().await;
    let f = FaultServer::start(Script::codex_text(ANSWER))
        .await
        .expect("fault server");
    let mut p = proxy_on(&fake, &f.base_url(), &[]);
    let before = account_file(&p);
    // Warm up (the catalog probe happens once), then count.
    let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
    assert_eq!(r.status(), 200);
    let _ = r.text().await;
    let baseline = quiet_fds(p.pid()).await;
    // A pause before the cut lets the sent frames reach the proxy: a reset discards what is
    // still in the sender's queue.
    let pause = Act::Stall(Duration::from_millis(300));
    let mut reset_before = faults::sse_head();
    reset_before.extend(codex::created());
    let mut reset_after = faults::sse_head();
    reset_after.extend(committed_frames());
    let mut cut_before = faults::chunked_sse_head();
    cut_before.extend(faults::chunk(&codex::created()));
    let mut cut_after = faults::chunked_sse_head();
    cut_after.extend(faults::chunk(&committed_frames()));
    let before_output = [
        (
            "reset",
            vec![Act::Write(reset_before), pause.clone(), Act::Reset],
        ),
        ("cut chunked", vec![Act::Write(cut_before), pause.clone()]),
    ];
    for (what, acts) in before_output {
        let n = f.played().len();
        f.queue(Script::http(acts));
        let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
        assert_eq!(r.status(), 200, "{what}");
        let events = sse_events(&r.text().await.expect("body"));
        assert_eq!(
            names(&events).last().copied(),
            Some("message_stop"),
            "{what}"
        );
        assert!(!names(&events).contains(&"error"), "{what}: {events:?}");
        assert_eq!(
            streamed_text(&events),
            ANSWER,
            "{what}: only the second answer"
        );
        assert_eq!(f.played().len() - n, 2, "{what}: one retry");
    }
    let after_output = [
        (
            "reset",
            vec![Act::Write(reset_after), pause.clone(), Act::Reset],
        ),
        ("cut chunked", vec![Act::Write(cut_after), pause]),
    ];
    for (what, acts) in after_output {
        let n = f.played().len();
        f.queue(Script::http(acts));
        let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
        assert_eq!(r.status(), 200, "{what}");
        assert_broken_stream(&r.text().await.expect("body"), what);
        assert_eq!(f.played().len() - n, 1, "{what}: no retry after output");
    }
    assert_fds_settle(&p, baseline, "reset").await;
    assert_eq!(account_file(&p), before);
    assert_healthy(&mut p, Some(&f)).await;
}

/// Bytes that are no server-sent events: printable and not, line breaks, no `data:` field.
fn garbage(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            // xorshift: the same bytes on every run.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            match x % 7 {
                0 => b'\n',
                // `d` never starts a line: no field name can spell `data`.
                _ => match (x >> 8) as u8 {
                    b'd' | b'e' | b'i' | b'r' => b'#',
                    b => b,
                },
            }
        })
        .collect()
}

/// Row 4: a 200 `text/event-stream` whose body is random bytes, then the end. No event, no
/// terminal event: an early end before output, retried to the attempt limit, then an error.
#[tokio::test(flavor = "multi_thread")]
async fn garbage_instead_of_events_is_retried_then_a_clean_error() {
    let fake = fake().await;
    let mut body = faults::sse_head();
    body.extend(garbage(64 * 1024));
    let f = FaultServer::start(Script::http(vec![Act::Write(body)]))
        .await
        .expect("fault server");
    let mut p = proxy_on(&fake, &f.base_url(), &[]);
    let before = account_file(&p);
    let baseline = quiet_fds(p.pid()).await;
    let t = Instant::now();
    for r in batch(&p, 3).await {
        let msg = assert_error(r, 500, "api_error").await;
        assert_eq!(msg, "upstream stream ended before the response completed");
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(f.played().len(), 12, "four attempts each");
    assert_fds_settle(&p, baseline, "garbage").await;
    assert_eq!(account_file(&p), before);
    assert_healthy(&mut p, Some(&f)).await;
}

/// Row 5: one 20 MB `response.output_text.delta` (under the decoder's 32 MB event bound). It is
/// relayed whole; the peak memory grows by a bounded multiple of the event.
#[tokio::test(flavor = "multi_thread")]
async fn a_20_mb_event_is_relayed_with_bounded_memory() {
    const SIZE: usize = 20 * 1024 * 1024;
    let fake = fake().await;
    let f = FaultServer::start(Script::codex_text(ANSWER))
        .await
        .expect("fault server");
    let mut p = proxy_on(&fake, &f.base_url(), &[]);
    let before = account_file(&p);
    let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
    let _ = r.text().await;
    let baseline = quiet_fds(p.pid()).await;
    let hwm_before = status_kb(p.pid(), "VmHWM");
    let big = "a".repeat(SIZE);
    let mut body = faults::sse_head();
    body.extend(codex::opening());
    body.extend(codex::text_delta(&big));
    body.extend(codex::closing(&big));
    drop(big);
    f.queue(Script::http(vec![Act::Write(body)]));
    let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.expect("body"));
    assert_eq!(names(&events).last().copied(), Some("message_stop"));
    assert_eq!(streamed_text(&events).len(), SIZE, "relayed whole");
    let grew = status_kb(p.pid(), "VmHWM").saturating_sub(hwm_before) * 1024;
    eprintln!(
        "20 MB event: peak RSS grew by {:.1} MB ({:.2}x the event)",
        grew as f64 / 1048576.0,
        grew as f64 / SIZE as f64
    );
    assert!(
        grew < 5 * SIZE as u64,
        "peak RSS grew by {grew} bytes for a {SIZE}-byte event"
    );
    assert_fds_settle(&p, baseline, "big event").await;
    assert_eq!(account_file(&p), before);
    assert_healthy(&mut p, Some(&f)).await;
}

/// The HTTP/1.1 request of `body`, as bytes, for a raw client.
fn raw_request(p: &Proxy, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    let host = p.base.trim_start_matches("http://");
    let mut out = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\nx-api-key: anything\r\nanthropic-version: 2023-06-01\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// A raw client that sent `bytes`.
async fn raw_client(p: &Proxy, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(p.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    s.write_all(bytes).await.expect("write");
    s
}

/// A client socket with a small receive buffer, as a slow reader's would be: what sits unread
/// in the client's kernel buffer is not the proxy's doing, so it is kept small.
async fn slow_reader(p: &Proxy) -> TcpStream {
    let addr = p
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let s = tokio::net::TcpSocket::new_v4().expect("socket");
    s.set_recv_buffer_size(64 * 1024).expect("SO_RCVBUF");
    s.connect(addr).await.expect("connect")
}

/// Read from `s` until `needle` appeared (or `limit` passed); what was read.
async fn read_until(s: &mut TcpStream, needle: &str, limit: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let until = Instant::now() + limit;
    while !String::from_utf8_lossy(&got).contains(needle) && Instant::now() < until {
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Whether `conn`'s writes stopped moving (no progress for 300 ms) within `limit`.
async fn writes_stop(conn: &Conn, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    let mut seen = conn.written();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = conn.written();
        if now == seen {
            return true;
        }
        seen = now;
    }
    false
}

/// The last connection the fault server played.
fn last(f: &FaultServer) -> Arc<Conn> {
    f.played().last().cloned().expect("a connection")
}

/// Row 6: a client that stops reading while the upstream streams 64 MB as fast as it can. The
/// proxy reads upstream only as fast as its client reads: the fake's writes stop far short of
/// the answer, memory stays flat; when the client goes, the upstream connection is dropped.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_back_pressures_the_upstream() {
    const TOTAL: u64 = 64 * 1024 * 1024;
    let fake = fake().await;
    let f = FaultServer::start(Script::codex_text(ANSWER))
        .await
        .expect("fault server");
    let mut p = proxy_on(&fake, &f.base_url(), &[]);
    let before = account_file(&p);
    let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
    let _ = r.text().await;
    let (pid, baseline) = (p.pid(), quiet_fds(p.pid()).await);
    let rss_before = status_kb(pid, "VmRSS");
    let delta = codex::text_delta(&"x".repeat(4096));
    let mut head = faults::sse_head();
    head.extend(codex::opening());
    f.queue(Script::http(vec![
        Act::Write(head),
        Act::Flood {
            total: TOTAL / delta.len() as u64 * delta.len() as u64,
            chunk: delta,
        },
        Act::Write(codex::closing("")),
    ]));
    let mut c = slow_reader(&p).await;
    c.write_all(&raw_request(
        &p,
        &request("claude-sonnet-4-5", "text", true),
    ))
    .await
    .expect("write");
    let first = read_until(&mut c, "content_block_delta", Duration::from_secs(5)).await;
    assert!(first.contains("200 OK"), "{first}");
    // The client reads no more. Wait until the upstream's writes stop moving.
    let up = last(&f);
    let stalled = writes_stop(&up, Duration::from_secs(15)).await;
    let written = up.written();
    let rss_grew = status_kb(pid, "VmRSS").saturating_sub(rss_before) * 1024;
    eprintln!(
        "stalled client: the upstream wrote {:.1} MB of {:.0} MB; proxy RSS grew by {:.1} MB",
        written as f64 / 1048576.0,
        TOTAL as f64 / 1048576.0,
        rss_grew as f64 / 1048576.0
    );
    assert!(stalled, "the upstream kept writing: {written} bytes");
    assert!(
        written < TOTAL / 4,
        "{written} of {TOTAL} bytes went out unread"
    );
    assert!(rss_grew < 16 * 1024 * 1024, "RSS grew by {rss_grew} bytes");
    // The client goes away: the upstream is dropped within a few seconds.
    drop(c);
    let t = Instant::now();
    assert!(
        eventually(Duration::from_secs(3), || up.peer_closed()).await,
        "the upstream connection is still open"
    );
    eprintln!(
        "stalled client: upstream closed {:?} after the client",
        t.elapsed()
    );
    assert_fds_settle(&p, baseline, "stalled client").await;
    assert_eq!(account_file(&p), before);
    assert_healthy(&mut p, Some(&f)).await;
}

/// Row 7: the client hangs up at each phase of a request. The upstream connection (if one was
/// made) is closed by the proxy promptly, and the proxy serves on with its fds back.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_hangs_up_at_any_phase_drops_the_upstream() {
    let fake = fake().await;
    let f = FaultServer::start(Script::codex_text(ANSWER))
        .await
        .expect("fault server");
    let mut p = proxy_on(&fake, &f.base_url(), &[]);
    let before = account_file(&p);
    let r = post(&p, &request("claude-sonnet-4-5", "text", true)).await;
    let _ = r.text().await;
    let baseline = quiet_fds(p.pid()).await;
    let req = raw_request(&p, &request("claude-sonnet-4-5", "text", true));

    // Before the request body is complete: no upstream request at all.
    let n = f.played().len();
    let c = raw_client(&p, &req[..req.len() - 10]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(c);
    assert_fds_settle(&p, baseline, "partial body").await;
    assert_eq!(
        f.played().len(),
        n,
        "a partial request reached the upstream"
    );

    let stall = Act::Stall(Duration::from_secs(20));
    let mut held = faults::sse_head();
    held.extend(codex::created());
    let mut live = faults::sse_head();
    live.extend(committed_frames());
    let phases = [
        // The head is out, the proxy waits for the upstream's first byte.
        ("first byte", vec![stall.clone()], None),
        // The upstream answered, nothing the client can see yet: the proxy holds.
        ("held", vec![Act::Write(held), stall.clone()], None),
        // The client has output.
        (
            "live",
            vec![Act::Write(live), stall],
            Some("content_block_delta"),
        ),
    ];
    for (what, acts, wait_for) in phases {
        let n = f.played().len();
        f.queue(Script::http(acts));
        let mut c = raw_client(&p, &req).await;
        assert!(
            eventually(Duration::from_secs(5), || f.played().len() > n).await,
            "{what}: no upstream request"
        );
        let up = last(&f);
        match wait_for {
            Some(needle) => {
                let got = read_until(&mut c, needle, Duration::from_secs(5)).await;
                assert!(got.contains(needle), "{what}: {got}");
            }
            // Let the proxy take in what was written.
            None => tokio::time::sleep(Duration::from_millis(300)).await,
        }
        assert!(!up.peer_closed(), "{what}: closed before the client left");
        drop(c);
        let t = Instant::now();
        assert!(
            eventually(Duration::from_secs(2), || up.peer_closed()).await,
            "{what}: the upstream connection is still open 2 s after the client left"
        );
        eprintln!(
            "hang-up ({what}): upstream closed {:?} after the client",
            t.elapsed()
        );
        assert_fds_settle(&p, baseline, what).await;
    }
    // The two requests abandoned before their response started are in the log too.
    let abandoned = p.log_text().matches("request abandoned").count();
    assert_eq!(abandoned, 2, "{}", p.log_text());
    assert_eq!(account_file(&p), before);
    assert_healthy(&mut p, Some(&f)).await;
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The user id of this test process (from /proc: no libc).
fn my_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(u32::MAX)
}

/// A fresh data dir with an empty `accounts/`.
fn fresh_data_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ccp-faults-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("accounts")).expect("data dir");
    dir
}

/// One account whose tokens the usual fake issued (valid for a day, with a refresh token), and
/// the store's lock file: a refresh then needs to create nothing but the account's temp file.
fn write_account(fake: &FakeServer, dir: &std::path::Path) {
    let (access, refresh, id) = fake.issue_tokens("acct-1", "one@example.com");
    let account = json!({"account_id": "acct-1", "email": "one@example.com", "plan_type": "plus",
                         "access_token": access, "refresh_token": refresh, "id_token": id,
                         "expires_at": unix_now() + 86_400});
    std::fs::write(dir.join("accounts/acct-1.json"), account.to_string()).expect("account");
    std::fs::write(dir.join("accounts/.lock"), b"").expect("lock file");
}

/// A request that makes the proxy refresh (the upstream refuses the token once) and save the
/// rotated tokens: it is answered all the same, from the refreshed token in memory.
async fn refresh_through_a_401(p: &Proxy, fake: &FakeServer) {
    let calls = fake.refresh_calls();
    let r = post(p, &request("claude-sonnet-4-5", "http_401_once", true)).await;
    assert_eq!(r.status(), 200);
    let events = sse_events(&r.text().await.expect("body"));
    assert_eq!(names(&events).last().copied(), Some("message_stop"));
    assert_eq!(fake.refresh_calls(), calls + 1, "one refresh");
    // The refreshed token keeps serving.
    let r = post(p, &request("claude-sonnet-4-5", "text", true)).await;
    assert_eq!(r.status(), 200);
}

/// One normal request on each lane (the upstream connections the pool then keeps are part of
/// the baseline).
async fn warm_up(p: &Proxy) {
    for model in ["claude-sonnet-4-5", KILO_MODEL] {
        let r = post(p, &request(model, "text", true)).await;
        assert_eq!(r.status(), 200);
        let _ = r.text().await;
    }
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Row 8a: the account directory is not writable when rotated tokens must be saved. The
/// request is answered (the new token lives in memory), the file on disk stays byte for byte
/// what it was, and the log says why. As root, file modes do not bind, so the proxy runs as
/// `nobody` then.
#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_account_dir_keeps_the_old_file_and_logs_why() {
    let fake = fake().await;
    let dir = fresh_data_dir("readonly");
    write_account(&fake, &dir);
    let uid = (my_uid() == 0).then_some(65_534);
    if let Some(id) = uid {
        for p in [
            dir.clone(),
            dir.join("accounts"),
            dir.join("accounts/acct-1.json"),
            dir.join("accounts/.lock"),
        ] {
            std::os::unix::fs::chown(&p, Some(id), Some(id)).expect("chown");
        }
    }
    let mut p = Proxy::start(
        &fake,
        ProxyOpts {
            data_dir: Some(dir.clone()),
            uid,
            ..ProxyOpts::default()
        },
    );
    // After the start (the store makes its directory 0700 when it opens).
    chmod(&dir.join("accounts"), 0o500);
    a_failed_save_keeps_the_file(&mut p, &fake, "Permission denied", "unwritable").await;
    chmod(&dir.join("accounts"), 0o700);
}

/// A refresh whose save fails (`why` is the OS error the log must name): the account file is
/// byte-identical afterwards, no descriptor is left, and the proxy still answers.
async fn a_failed_save_keeps_the_file(p: &mut Proxy, fake: &FakeServer, why: &str, label: &str) {
    let before = account_file(p);
    warm_up(p).await;
    let baseline = quiet_fds(p.pid()).await;
    refresh_through_a_401(p, fake).await;
    assert_eq!(account_file(p), before, "the account file changed");
    let log = p.log_text();
    assert!(
        log.contains("refreshed tokens could not be saved") && log.contains(why),
        "{log}"
    );
    assert_fds_settle(p, baseline, label).await;
    assert_healthy(p, None).await;
}

/// A tmpfs mounted for one test; unmounted (and its mount point's dir removed) on drop.
struct Tmpfs {
    at: std::path::PathBuf,
    data: std::path::PathBuf,
}

impl Tmpfs {
    /// `None` where mounting is not permitted.
    fn mount(at: &std::path::Path, data: &std::path::Path) -> Option<Tmpfs> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "ccp-faults"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs {
            at: at.to_owned(),
            data: data.to_owned(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.at)
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Fill the file system under `dir` to the last byte.
fn fill(dir: &std::path::Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).expect("filler");
    let block = [0u8; 4096];
    while f.write_all(&block).is_ok() {}
    while f.write_all(&block[..1]).is_ok() {}
}

/// Row 8b: the disk is full when rotated tokens must be saved (a 64 KiB tmpfs as the account
/// directory, filled; needs root to mount, skipped otherwise). As 8a, with ENOSPC.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_keeps_the_old_account_file_and_logs_why() {
    let fake = fake().await;
    if my_uid() != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let dir = fresh_data_dir("full");
    let Some(_mnt) = Tmpfs::mount(&dir.join("accounts"), &dir) else {
        eprintln!("skipped: this machine does not let root mount a tmpfs");
        return;
    };
    write_account(&fake, &dir);
    let mut p = Proxy::start(
        &fake,
        ProxyOpts {
            data_dir: Some(dir.clone()),
            ..ProxyOpts::default()
        },
    );
    fill(&dir.join("accounts"));
    a_failed_save_keeps_the_file(&mut p, &fake, "No space left", "disk full").await;
    let leftovers: Vec<String> = std::fs::read_dir(dir.join("accounts"))
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}
