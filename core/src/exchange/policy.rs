//! What a failed attempt leads to: the retry policy as one pure function.
//!
//! Every failure of an attempt (an upstream HTTP error, an `error` event before commit, a
//! timeout, an unreachable upstream) becomes a [`Failure`] with the [`Action`]
//! `map_upstream_error` or the stream's error code gives it; [`decide`] turns it and what this
//! request has already tried into the next [`Step`]. docs/FAILURES.md is the table.

use crate::error::ErrorType;
use crate::upstream_error::Action;

/// An attempt's failure, as the client would see it if it were the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Anthropic error type.
    pub error_type: ErrorType,
    /// Message for the client (never a credential).
    pub message: String,
    /// Seconds until the upstream said it resets.
    pub retry_after: Option<u64>,
    /// What the upstream's answer asks for.
    pub action: Action,
    /// A rate limit (429, or `rate_limit_exceeded` inside a 200): retried at most once per
    /// upstream, so one client request never hammers a limiting provider.
    pub rate_limited: bool,
    /// How long to wait before the same upstream again, if it said (`try again in 1.5s`), ms.
    pub hint_ms: Option<u64>,
    /// The offending request field, for an OpenAI client's `param` (validation errors).
    pub param: Option<String>,
}

impl Failure {
    /// A failure that is answered as it is.
    pub fn fatal(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
            retry_after: None,
            action: Action::Fail,
            rate_limited: false,
            hint_ms: None,
            param: None,
        }
    }

    /// A transient failure: back off and try again.
    pub fn transient(error_type: ErrorType, message: impl Into<String>) -> Self {
        Self {
            action: Action::Retry,
            ..Self::fatal(error_type, message)
        }
    }
}

/// What this request has tried so far, as the policy needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tried {
    /// Upstream requests sent, this one included.
    pub attempts: u32,
    /// The configured limit.
    pub max_attempts: u32,
    /// The request goes to an account (Codex lane): refresh and rotation are possible.
    pub has_account: bool,
    /// This account's token was already refreshed for this request.
    pub refreshed: bool,
    /// Replayed reasoning was already stripped.
    pub stripped: bool,
    /// The wire profile was already switched once.
    pub switched: bool,
    /// Rate limits already met on this upstream (this account, or the Chat provider).
    pub rate_limits: u32,
    /// Resets at most this far away are waited out, seconds.
    pub max_wait_secs: u64,
}

/// The next step after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Answer the client with the failure now.
    Fail,
    /// The same upstream again after `after_ms` (Codex: through the account pick again).
    Retry {
        /// Backoff, ms.
        after_ms: u64,
    },
    /// Again at once without replayed reasoning.
    StripAndRetry,
    /// Again at once in the other wire profile.
    SwitchProfileAndRetry,
    /// Refresh this account's token, then again on it.
    Refresh,
    /// Leave this account: cool it down until `cooldown_secs` from now (if known), keep it
    /// out of this request when `exclude`, and pick again.
    Rotate {
        /// Seconds to cool the account down for this model.
        cooldown_secs: Option<u64>,
        /// Do not pick it again for this request.
        exclude: bool,
    },
}

/// Backoff before attempt `attempts + 1`: 200 ms doubling, at most 2 s.
pub fn backoff_ms(attempts: u32) -> u64 {
    200u64
        .saturating_mul(1 << attempts.saturating_sub(1).min(4))
        .min(2_000)
}

/// The longest wait the proxy sleeps for one retry (a longer reset is answered with it).
pub const MAX_RETRY_WAIT_MS: u64 = 10_000;

/// Cooldown when an account is out and the upstream gave no reset.
pub const DEFAULT_COOLDOWN_SECS: u64 = 60;

/// Decide what follows a failed attempt.
pub fn decide(f: &Failure, t: &Tried) -> Step {
    let step = decide_ignoring_budget(f, t);
    // After the last attempt the answer goes out at once: no wait that leads nowhere.
    match step {
        Step::Retry { .. } | Step::StripAndRetry | Step::SwitchProfileAndRetry | Step::Refresh
            if t.attempts >= t.max_attempts =>
        {
            Step::Fail
        }
        s => s,
    }
}

fn decide_ignoring_budget(f: &Failure, t: &Tried) -> Step {
    let wait_secs = t.max_wait_secs;
    match f.action {
        Action::Fail => Step::Fail,
        Action::StripReasoning if t.stripped => Step::Fail,
        Action::StripReasoning => Step::StripAndRetry,
        Action::SwitchProfile if t.switched => Step::Fail,
        Action::SwitchProfile => Step::SwitchProfileAndRetry,
        // A Chat provider's 401/402/usage limit: no account to refresh or rotate.
        Action::Refresh | Action::Rotate if !t.has_account => Step::Fail,
        Action::Refresh if t.refreshed => Step::Rotate {
            cooldown_secs: None,
            exclude: true,
        },
        Action::Refresh => Step::Refresh,
        Action::Rotate => Step::Rotate {
            cooldown_secs: Some(f.retry_after.unwrap_or(DEFAULT_COOLDOWN_SECS)),
            // A short reset stays pickable: the pick waits it out if nothing else is ready.
            exclude: f.retry_after.is_none_or(|r| r > wait_secs),
        },
        Action::Retry if f.rate_limited => {
            let long = f.retry_after.is_some_and(|r| r > wait_secs);
            match (t.has_account, long || t.rate_limits >= 1) {
                // The provider limits us: answer now with its reset, never a retry storm.
                (false, true) => Step::Fail,
                // This account limits us: another may serve; it rests until its reset.
                (true, true) => Step::Rotate {
                    cooldown_secs: f.retry_after,
                    exclude: true,
                },
                (_, false) => Step::Retry {
                    after_ms: wait_ms(f, t),
                },
            }
        }
        Action::Retry => match f.retry_after {
            // Waiting longer than the cap helps nobody: the client hears the reset now.
            Some(r) if r.saturating_mul(1000) > MAX_RETRY_WAIT_MS && !t.has_account => Step::Fail,
            _ => Step::Retry {
                after_ms: wait_ms(f, t),
            },
        },
    }
}

fn wait_ms(f: &Failure, t: &Tried) -> u64 {
    let said = f
        .hint_ms
        .or(f.retry_after.map(|s| s.saturating_mul(1000)))
        .unwrap_or(0);
    said.max(backoff_ms(t.attempts)).min(MAX_RETRY_WAIT_MS)
}

/// "Please try again in 1.5s" → 1500 ms (capped at 10 s).
pub fn try_again_hint_ms(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let rest = &lower[lower.find("try again in")? + "try again in".len()..];
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let n: f64 = rest[..end].parse().ok()?;
    let unit = rest[end..].trim_start();
    let ms = if unit.starts_with("ms") {
        n
    } else {
        n * 1000.0
    };
    Some(ms.clamp(0.0, MAX_RETRY_WAIT_MS as f64) as u64)
}

/// An `error` event that arrived before commit, by its upstream code.
pub fn stream_failure(error_type: ErrorType, message: &str, code: Option<&str>) -> Failure {
    let mut f = Failure::fatal(error_type, message);
    match code {
        Some("server_is_overloaded" | "slow_down") => {
            f.action = Action::Retry;
            f.hint_ms = try_again_hint_ms(message);
        }
        Some("rate_limit_exceeded") => {
            f.action = Action::Retry;
            f.rate_limited = true;
            f.hint_ms = try_again_hint_ms(message);
        }
        Some("usage_limit_reached") => f.action = Action::Rotate,
        Some("invalid_encrypted_content") => f.action = Action::StripReasoning,
        None if message == crate::translate::stream::EARLY_EOF_MESSAGE => f.action = Action::Retry,
        _ => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_again_hints() {
        assert_eq!(try_again_hint_ms("Please try again in 1.5s."), Some(1500));
        assert_eq!(try_again_hint_ms("try again in 250ms"), Some(250));
        assert_eq!(try_again_hint_ms("Try again in 99s"), Some(10_000));
        assert_eq!(try_again_hint_ms("later"), None);
    }

    #[test]
    fn backoff_doubles_to_two_seconds() {
        let b: Vec<u64> = (1..=7).map(backoff_ms).collect();
        assert_eq!(b, [200, 400, 800, 1600, 2000, 2000, 2000]);
    }
}
