//! `--perf --floor`: what any proxy must add on this machine. A zero-work relay, run as a
//! process of its own (this binary, `--relay-child`) on one single-thread runtime, takes each
//! client request whole, sends the fake the very request the proxy sent it (prebuilt bytes),
//! and forwards the answer's bytes as they come, untouched. Its added first-token time is the
//! cost of the two extra loopback hops and wake-ups alone: the floor the proxy's figure is
//! read against.

use proxy_fakes::http1::{content_length, find};
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The relay's process, stopped when dropped.
pub struct Relay {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    file: std::path::PathBuf,
}

impl Relay {
    /// Start the relay in front of `upstream`, sending it `request` (a whole HTTP/1.1
    /// request: head and body) for every client request.
    pub fn start(upstream: SocketAddr, request: &[u8]) -> Relay {
        let file = std::env::temp_dir().join(format!("ccp-floor-{}.http", std::process::id()));
        std::fs::write(&file, request).expect("the relay's request");
        // Its stdin is a pipe from this process: the child ends when that closes, so it
        // cannot outlive a load tool killed by a signal.
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .arg("--relay-child")
            .arg(upstream.to_string())
            .arg(&file)
            .stdout(Stdio::piped())
            .stdin(Stdio::piped())
            .spawn()
            .expect("the relay");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("the relay's port");
        let port: u16 = line.trim().parse().expect("a port");
        Relay {
            child,
            base: format!("http://127.0.0.1:{port}"),
            file,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.file);
    }
}

/// The whole upstream request the fake logged, as bytes to send again.
pub fn request_bytes(
    host: &str,
    path: &str,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("POST {path} HTTP/1.1\r\nhost: {host}\r\n").into_bytes();
    for (k, v) in headers {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// The child: `--relay-child ADDR FILE`. Serves until killed.
pub fn child(upstream: &str, request_file: &str) {
    let upstream: SocketAddr = upstream.parse().expect("upstream address");
    let request: Arc<[u8]> = std::fs::read(request_file).expect("request").into();
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind((std::net::Ipv4Addr::LOCALHOST, 0).into())
            .expect("bind");
        let listener = socket.listen(4096).expect("listen");
        let port = listener.local_addr().expect("address").port();
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{port}");
        let _ = out.flush();
        serve(listener, upstream, request).await;
    });
}

/// Relay every connection `listener` accepts, until it fails.
async fn serve(listener: tokio::net::TcpListener, upstream: SocketAddr, request: Arc<[u8]>) {
    while let Ok((client, _)) = listener.accept().await {
        let _ = client.set_nodelay(true);
        tokio::spawn(relay(client, upstream, request.clone()));
    }
}

/// One client connection: its requests in turn, each answered by one upstream exchange on
/// this connection's own upstream connection.
async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    request: Arc<[u8]>,
) -> std::io::Result<()> {
    let mut up = TcpStream::connect(upstream).await?;
    up.set_nodelay(true)?;
    let mut inbox = Vec::with_capacity(8192);
    let mut answer = vec![0u8; 16 * 1024];
    loop {
        // A whole client request: its head, then its content-length's bytes.
        let whole = loop {
            if let Some(end) = find(&inbox, b"\r\n\r\n") {
                break end + 4 + content_length(&inbox[..end]);
            }
            if client.read_buf(&mut inbox).await? == 0 {
                return Ok(());
            }
        };
        while inbox.len() < whole {
            if client.read_buf(&mut inbox).await? == 0 {
                return Ok(());
            }
        }
        inbox.drain(..whole);
        up.write_all(&request).await?;
        // The answer, forwarded read by read, up to its end: its content-length's bytes after
        // the head, else (chunked) its last chunk.
        let mut end = AnswerEnd::default();
        loop {
            let n = up.read(&mut answer).await?;
            if n == 0 {
                return Ok(());
            }
            client.write_all(&answer[..n]).await?;
            if end.seen(&answer[..n]) {
                break;
            }
        }
    }
}

/// Where an upstream answer ends, seen read by read.
#[derive(Default)]
struct AnswerEnd {
    /// The head until it is whole.
    head: Vec<u8>,
    head_done: bool,
    /// Body bytes still to come, when the head gave a content-length.
    left: Option<usize>,
    /// The last bytes seen (a chunked answer ends with `0\r\n\r\n`).
    last: Vec<u8>,
}

impl AnswerEnd {
    /// Take the next bytes; true once the answer is whole.
    fn seen(&mut self, bytes: &[u8]) -> bool {
        let mut body = bytes;
        if !self.head_done {
            self.head.extend_from_slice(bytes);
            let Some(at) = find(&self.head, b"\r\n\r\n") else {
                return false;
            };
            self.head_done = true;
            let head = &self.head[..at];
            let chunked = String::from_utf8_lossy(head)
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked");
            if !chunked {
                self.left = Some(content_length(head));
            }
            let after_head = self.head.len() - (at + 4);
            body = &bytes[bytes.len() - after_head..];
        }
        if let Some(left) = &mut self.left {
            *left = left.saturating_sub(body.len());
            return *left == 0;
        }
        self.last.extend_from_slice(body);
        let cut = self.last.len().saturating_sub(5);
        self.last.drain(..cut);
        self.last == b"0\r\n\r\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two requests on one connection, each split across writes, each answered whole: the
    /// upstream's chunked answer is forwarded untouched (its last chunk split too), and the
    /// upstream sees the prebuilt request once per client request.
    #[tokio::test]
    async fn a_client_connection_gets_each_answer_whole_and_in_turn() {
        let up = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let up_addr = up.local_addr().expect("addr");
        let request: Arc<[u8]> = b"POST /x HTTP/1.1\r\ncontent-length: 2\r\n\r\nhi"
            .as_slice()
            .into();
        let answer =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        let sent = request.clone();
        let upstream = tokio::spawn(async move {
            let (mut s, _) = up.accept().await.expect("accept");
            for _ in 0..2 {
                let mut got = vec![0u8; sent.len()];
                s.read_exact(&mut got).await.expect("request");
                assert_eq!(got, &sent[..]);
                // The answer in three writes, the last chunk's terminator split.
                for part in [
                    &answer[..40],
                    &answer[40..answer.len() - 3],
                    &answer[answer.len() - 3..],
                ] {
                    s.write_all(part).await.expect("answer");
                    tokio::task::yield_now().await;
                }
            }
        });
        let relay_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let relay_addr = relay_listener.local_addr().expect("addr");
        tokio::spawn(serve(relay_listener, up_addr, request));
        let client = async {
            let mut c = TcpStream::connect(relay_addr).await.expect("connect");
            for body in ["{}", "{\"a\":1}"] {
                let head = format!(
                    "POST /v1/messages HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                c.write_all(head.as_bytes()).await.expect("head");
                tokio::task::yield_now().await;
                c.write_all(body.as_bytes()).await.expect("body");
                let mut got = vec![0u8; answer.len()];
                c.read_exact(&mut got).await.expect("answer");
                assert_eq!(got, answer);
            }
        };
        // A relay that missed an answer's end would never take the next request.
        tokio::time::timeout(std::time::Duration::from_secs(10), client)
            .await
            .expect("both answers within 10 s");
        upstream.await.expect("upstream");
        let mut sized = AnswerEnd::default();
        assert!(!sized.seen(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n"));
        assert!(!sized.seen(b"\r\nabc"));
        assert!(sized.seen(b"de"));
        assert_eq!(
            content_length(b"POST / HTTP/1.1\r\nCONTENT-LENGTH:  12 "),
            12
        );
        assert_eq!(content_length(b"GET / HTTP/1.1"), 0);
    }
}
