//! Codex request bodies sent compressed (`content-encoding: zstd`), as the Codex CLI sends
//! them to the ChatGPT backend. A Claude Code turn re-sends the whole conversation, often
//! hundreds of kilobytes; on a home uplink that upload, not the conversion, is what the user
//! waits for before the first token. Conversation JSON compresses about 4× (docs/PERFORMANCE.md,
//! "Request bodies").
//!
//! A body is compressed once per request: a retry or a rotation that sends the same bytes
//! reuses them. Large bodies are compressed on the blocking pool so other streams' tasks are
//! not held up. A compressed request answered 415 or 400 goes again uncompressed at once
//! (relay.rs `send`); if that one is not refused, the encoding was the problem and it is off
//! for the process: the client never sees the difference.

use bytes::Bytes;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// zstd's default level: 4.1× on a Claude Code conversation at ~200 MB/s on this machine;
/// higher levels gain under 6 % for 3–6× the time (docs/PERFORMANCE.md).
const LEVEL: i32 = 3;
/// Below this a body goes as it is: the bytes saved are not worth a frame.
const MIN_BYTES: usize = 1024;
/// From this size compression (~0.3 ms and more) runs on the blocking pool.
const OFF_THREAD_BYTES: usize = 64 * 1024;

/// Whether Codex bodies are compressed: the config says so and the backend has not refused it.
#[derive(Debug)]
pub struct Switch {
    refused: AtomicBool,
}

impl Switch {
    /// On unless the backend refuses it.
    pub fn new() -> Self {
        Self {
            refused: AtomicBool::new(false),
        }
    }

    /// The backend has not refused a compressed body yet.
    pub fn on(&self) -> bool {
        !self.refused.load(Ordering::Relaxed)
    }

    /// The backend refused one: plain bodies from now on.
    pub fn refuse(&self) {
        if !self.refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the Codex backend refused a zstd request body; sending bodies uncompressed from now on"
            );
        }
    }
}

impl Default for Switch {
    fn default() -> Self {
        Self::new()
    }
}

/// One request's last compressed body, for its retries.
#[derive(Default)]
pub struct Packed {
    last: Mutex<Option<(Bytes, Bytes)>>,
}

impl Packed {
    /// `body` compressed, or `None` when it is too small to be worth it (or will not compress).
    pub async fn encode(&self, body: &Bytes) -> Option<Bytes> {
        if body.len() < MIN_BYTES {
            return None;
        }
        if let Some((plain, packed)) = self.last.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
            && (plain.as_ptr() == body.as_ptr() && plain.len() == body.len() || plain == body)
        {
            return Some(packed.clone());
        }
        let packed = if body.len() >= OFF_THREAD_BYTES {
            let input = body.clone();
            tokio::task::spawn_blocking(move || compress(&input))
                .await
                .ok()
                .flatten()?
        } else {
            compress(body)?
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((body.clone(), packed.clone()));
        Some(packed)
    }
}

fn compress(body: &[u8]) -> Option<Bytes> {
    zstd::bulk::compress(body, LEVEL)
        .ok()
        .filter(|c| c.len() < body.len())
        .map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_are_compressed_once_and_decode_back() {
        let small = Bytes::from_static(b"{\"model\":\"gpt-5.5\"}");
        let packed = Packed::default();
        assert!(packed.encode(&small).await.is_none());
        let text = "{\"type\":\"message\",\"role\":\"user\",\"content\":\"hello\"},".repeat(4000);
        let body = Bytes::from(text.into_bytes());
        let first = packed.encode(&body).await.expect("compressed");
        assert!(
            first.len() * 4 < body.len(),
            "{} of {}",
            first.len(),
            body.len()
        );
        assert_eq!(
            zstd::stream::decode_all(&first[..]).expect("decodes"),
            *body
        );
        // A retry with equal bytes reuses the frame (the same allocation).
        let again = packed
            .encode(&Bytes::from(body.to_vec()))
            .await
            .expect("compressed");
        assert_eq!(first.as_ptr(), again.as_ptr());
    }
}
