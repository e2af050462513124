//! The live request log the dashboard shows: one entry per request (what was asked, where it
//! went, how it ended, what the conversion could not carry), never content or credentials.
//! The last [`KEEP`] entries are kept for `GET /logs`; `GET /logs/stream` follows new ones.

use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Entries kept for a page that opens later.
pub const KEEP: usize = 200;

/// Degradations listed per entry (the total is kept too).
pub const KEEP_DEGRADATIONS: usize = 32;

/// The recent entries and the live followers.
#[derive(Debug)]
pub struct RequestLog {
    recent: Mutex<VecDeque<Value>>,
    live: broadcast::Sender<Value>,
    /// Entry ids, 1, 2, 3…: a page that follows and also reads the kept ones skips repeats.
    next_id: std::sync::atomic::AtomicU64,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self {
            recent: Mutex::new(VecDeque::with_capacity(KEEP)),
            live: broadcast::channel(256).0,
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }
}

impl RequestLog {
    /// Record one finished (or committed) request; its entry id.
    pub fn push(&self, mut entry: Value) -> u64 {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        entry["id"] = Value::from(id);
        {
            let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if r.len() == KEEP {
                r.pop_front();
            }
            r.push_back(entry.clone());
        }
        // No follower is fine.
        let _ = self.live.send(entry);
        id
    }

    /// Change a kept entry (a stream that ended with an error after its entry was written at
    /// its commit); followers already had it, a page that reads the kept entries sees it.
    pub fn amend(&self, id: u64, change: impl FnOnce(&mut Value)) {
        let mut r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = r.iter_mut().rev().find(|e| e["id"] == id) {
            change(e);
        }
    }

    /// The kept entries, oldest first.
    pub fn recent(&self) -> Vec<Value> {
        let r = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        r.iter().cloned().collect()
    }

    /// Forget the kept entries (ids go on from where they were).
    pub fn clear(&self) {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Follow new entries.
    pub fn follow(&self) -> broadcast::Receiver<Value> {
        self.live.subscribe()
    }
}
