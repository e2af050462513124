//! The host's clock for the core: unix milliseconds that never go backwards (a wall-clock
//! reading taken once, advanced by the monotonic clock), and the tokio instant of such a time,
//! so a deadline the exchange machine names is slept until exactly.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn base() -> &'static (Instant, u64) {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    BASE.get_or_init(|| {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        (Instant::now(), unix)
    })
}

/// Unix milliseconds now, monotone within the process.
pub fn now_ms() -> u64 {
    let (at, unix) = base();
    unix + at.elapsed().as_millis() as u64
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    now_ms() / 1000
}

/// The instant at which [`now_ms`] reads `ms`.
pub fn instant_at(ms: u64) -> tokio::time::Instant {
    let (at, unix) = base();
    tokio::time::Instant::from_std(*at + std::time::Duration::from_millis(ms.saturating_sub(*unix)))
}
