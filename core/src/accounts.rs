//! Account selection policy (pure): which account serves a request, given each account's
//! cooldown and quota, the strategy, the session and the time. The host does the IO and keeps
//! the state; it asks [`select`] and records outcomes.

use serde::{Deserialize, Serialize};

/// How accounts are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The same session keeps the same account (prompt-cache hits); sessionless requests use
    /// the active account. The default.
    #[default]
    Sticky,
    /// Each request takes the next account.
    RoundRobin,
    /// The account with the most quota left.
    QuotaAware,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sticky" => Ok(Self::Sticky),
            "round-robin" | "round_robin" | "roundrobin" => Ok(Self::RoundRobin),
            "quota-aware" | "quota_aware" => Ok(Self::QuotaAware),
            other => Err(format!(
                "unknown strategy `{other}` (sticky, round-robin, quota-aware)"
            )),
        }
    }
}

/// What the policy needs to know about one account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Usable at all (not waiting for a new login, not excluded for this request).
    pub usable: bool,
    /// Unix second until which it must not serve this model.
    pub cooldown_until: u64,
    /// Highest used percentage over its quota windows, if known.
    pub used_percent: Option<f64>,
    /// The active account (`accounts switch`).
    pub active: bool,
}

/// The policy's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Use the account at this index.
    Use(usize),
    /// Every usable account is cooling down, the soonest within the wait limit: wait this
    /// many seconds, then use that account.
    Wait {
        /// The account.
        index: usize,
        /// Seconds to wait.
        secs: u64,
    },
    /// Every usable account is cooling down longer than the wait limit.
    Exhausted {
        /// Seconds until the soonest reset.
        retry_after: u64,
    },
    /// No usable account at all.
    NoAccount,
}

/// A short, non-secret tag of an account id (the first 4 bytes of its SHA-256, hex): ties
/// reasoning blobs to the account that made them without revealing the id.
pub fn account_tag(account_id: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::hex::encode(&Sha256::digest(account_id.as_bytes())[..4])
}

/// 64-bit FNV-1a: a stable session → account mapping on every target.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Choose an account. `turn` is a counter the host increments per request (round-robin);
/// `max_wait` is the longest reset worth waiting out instead of failing.
pub fn select(
    strategy: Strategy,
    candidates: &[Candidate],
    session: Option<&str>,
    turn: u64,
    now: u64,
    max_wait: u64,
) -> Decision {
    let n = candidates.len();
    let ready = |i: usize| candidates[i].usable && candidates[i].cooldown_until <= now;
    if !(0..n).any(|i| candidates[i].usable) {
        return Decision::NoAccount;
    }
    let start = match strategy {
        Strategy::RoundRobin => (turn % n as u64) as usize,
        Strategy::Sticky => match session {
            Some(s) => (fnv(s) % n as u64) as usize,
            None => candidates.iter().position(|c| c.active).unwrap_or(0),
        },
        Strategy::QuotaAware => {
            // Least used first; unknown quota counts as half used; ties keep list order.
            let best = (0..n).filter(|&i| ready(i)).min_by(|&a, &b| {
                let u = |i: usize| candidates[i].used_percent.unwrap_or(50.0);
                u(a).total_cmp(&u(b)).then(a.cmp(&b))
            });
            if let Some(i) = best {
                return Decision::Use(i);
            }
            0
        }
    };
    if let Some(i) = (0..n).map(|k| (start + k) % n).find(|&i| ready(i)) {
        return Decision::Use(i);
    }
    let (index, until) = (0..n)
        .filter(|&i| candidates[i].usable)
        .map(|i| (i, candidates[i].cooldown_until))
        .min_by_key(|&(i, until)| (until, i))
        .unwrap_or((0, now));
    let secs = until.saturating_sub(now).max(1);
    if secs <= max_wait {
        Decision::Wait { index, secs }
    } else {
        Decision::Exhausted { retry_after: secs }
    }
}

/// Whether an access token expiring at `expires_at` should be refreshed now (within
/// `margin` seconds of expiry, or unknown expiry with a last refresh older than 8 days).
pub fn needs_refresh(
    expires_at: Option<u64>,
    last_refresh: Option<u64>,
    now: u64,
    margin: u64,
) -> bool {
    match expires_at {
        Some(exp) => exp <= now.saturating_add(margin),
        None => last_refresh.is_none_or(|t| now.saturating_sub(t) > 8 * 24 * 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_tag_is_the_hex_of_its_ids_sha256_first_four_bytes() {
        assert_eq!(account_tag("acct-a"), "92dd39f4");
        assert_eq!(account_tag(""), "e3b0c442");
    }

    fn c(cooldown_until: u64, used: Option<f64>) -> Candidate {
        Candidate {
            usable: true,
            cooldown_until,
            used_percent: used,
            active: false,
        }
    }

    #[test]
    fn sticky_keeps_a_session_on_one_account_and_skips_cooled_ones() {
        let list = [c(0, None), c(0, None), c(0, None)];
        let a = select(Strategy::Sticky, &list, Some("s1"), 0, 100, 5);
        for turn in 1..10 {
            assert_eq!(select(Strategy::Sticky, &list, Some("s1"), turn, 100, 5), a);
        }
        let Decision::Use(i) = a else { panic!("{a:?}") };
        let mut cooled = list;
        cooled[i].cooldown_until = 1000;
        assert_ne!(select(Strategy::Sticky, &cooled, Some("s1"), 0, 100, 5), a);
    }

    #[test]
    fn round_robin_and_quota_aware() {
        let list = [c(0, Some(90.0)), c(0, Some(10.0)), c(0, None)];
        let picks: Vec<Decision> = (0..3)
            .map(|t| select(Strategy::RoundRobin, &list, None, t, 0, 0))
            .collect();
        assert_eq!(
            picks,
            vec![Decision::Use(0), Decision::Use(1), Decision::Use(2)]
        );
        assert_eq!(
            select(Strategy::QuotaAware, &list, None, 0, 0, 0),
            Decision::Use(1)
        );
    }

    #[test]
    fn short_resets_are_waited_long_ones_fail() {
        let list = [c(103, None), c(200, None)];
        assert_eq!(
            select(Strategy::Sticky, &list, None, 0, 100, 5),
            Decision::Wait { index: 0, secs: 3 }
        );
        assert_eq!(
            select(Strategy::Sticky, &list, None, 0, 90, 5),
            Decision::Exhausted { retry_after: 13 }
        );
        let none = [Candidate {
            usable: false,
            ..c(0, None)
        }];
        assert_eq!(
            select(Strategy::Sticky, &none, None, 0, 0, 5),
            Decision::NoAccount
        );
    }

    #[test]
    fn refresh_timing() {
        assert!(needs_refresh(Some(1000), None, 800, 300));
        assert!(!needs_refresh(Some(1000), None, 600, 300));
        assert!(needs_refresh(None, None, 0, 300));
        assert!(!needs_refresh(None, Some(0), 3600, 300));
    }
}
