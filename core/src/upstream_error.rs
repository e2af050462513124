//! Upstream HTTP failures → the Anthropic error the client sees and what the host does next
//! (docs/CONVERSION.md §4), and the `x-codex-*` rate-limit headers.

use crate::error::ErrorType;
use serde::Serialize;
use serde_json::Value;

/// What the host should do about a failed upstream call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Answer the client with the error.
    Fail,
    /// Transient: back off and retry (same or another account).
    Retry,
    /// This account is out (quota, plan): cool it down until the reset, use another.
    Rotate,
    /// Refresh the access token, then retry once.
    Refresh,
    /// Retry once without replayed reasoning items.
    StripReasoning,
    /// The request went out in the wrong wire profile for its model (classic vs Responses
    /// Lite, codex.md §9.2): retry once in the other one.
    SwitchProfile,
}

/// The mapped error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpstreamError {
    /// Anthropic error type.
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    /// HTTP status for the client.
    pub status: u16,
    /// Message for the client (never the raw HTML of a block page, never a credential).
    pub message: String,
    /// Seconds until the upstream said it resets, rounded up, at least 1.
    pub retry_after: Option<u64>,
    /// What the host does next.
    pub action: Action,
}

/// One rate-limit window from `x-codex-{primary,secondary}-*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Window {
    /// 0–100.
    pub used_percent: Option<f64>,
    /// Window length.
    pub window_minutes: Option<u64>,
    /// Seconds until reset, as sent.
    pub reset_after_seconds: Option<u64>,
    /// Unix seconds of the reset.
    pub reset_at: Option<u64>,
}

impl Window {
    fn is_empty(&self) -> bool {
        self.used_percent.is_none()
            && self.window_minutes.is_none()
            && self.reset_after_seconds.is_none()
            && self.reset_at.is_none()
    }

    /// Seconds until this window resets, as of `now`.
    pub fn reset_in(&self, now: u64) -> Option<u64> {
        self.reset_at
            .map(|at| at.saturating_sub(now))
            .or(self.reset_after_seconds)
    }
}

/// Live quota as the backend reports it on every response.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RateLimits {
    /// Usually the 5-hour window.
    pub primary: Option<Window>,
    /// Usually the weekly window.
    pub secondary: Option<Window>,
    /// `x-codex-plan-type`.
    pub plan_type: Option<String>,
    /// `x-codex-active-limit`.
    pub active_limit: Option<String>,
    /// `x-codex-credits-has-credits`.
    pub has_credits: Option<bool>,
}

fn header<'a, K: AsRef<str>, V: AsRef<str>>(headers: &'a [(K, V)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref().trim())
}

fn num(v: Option<&str>) -> Option<f64> {
    v.and_then(|s| s.parse::<f64>().ok())
        .filter(|f| f.is_finite())
}

fn uint(v: Option<&str>) -> Option<u64> {
    num(v).filter(|f| *f >= 0.0).map(|f| f.ceil() as u64)
}

impl RateLimits {
    /// Read the `x-codex-*` headers; header names are case-insensitive.
    pub fn from_headers<K: AsRef<str>, V: AsRef<str>>(headers: &[(K, V)]) -> Self {
        // The names spelled out, not formatted: this runs on every answer's head.
        let window = |names: &[&str; 4]| {
            let h = |name: &str| header(headers, name);
            let w = Window {
                used_percent: num(h(names[0])),
                window_minutes: uint(h(names[1])),
                reset_after_seconds: uint(h(names[2])),
                reset_at: uint(h(names[3])),
            };
            (!w.is_empty()).then_some(w)
        };
        Self {
            primary: window(&[
                "x-codex-primary-used-percent",
                "x-codex-primary-window-minutes",
                "x-codex-primary-reset-after-seconds",
                "x-codex-primary-reset-at",
            ]),
            secondary: window(&[
                "x-codex-secondary-used-percent",
                "x-codex-secondary-window-minutes",
                "x-codex-secondary-reset-after-seconds",
                "x-codex-secondary-reset-at",
            ]),
            plan_type: header(headers, "x-codex-plan-type").map(str::to_owned),
            active_limit: header(headers, "x-codex-active-limit").map(str::to_owned),
            has_credits: header(headers, "x-codex-credits-has-credits").and_then(|v| {
                match v.to_ascii_lowercase().as_str() {
                    "true" | "1" => Some(true),
                    "false" | "0" => Some(false),
                    _ => None,
                }
            }),
        }
    }

    /// Soonest reset among exhausted windows (used ≥ 100 %).
    pub fn exhausted_reset_in(&self, now: u64) -> Option<u64> {
        [self.primary, self.secondary]
            .into_iter()
            .flatten()
            .filter(|w| w.used_percent.is_some_and(|u| u >= 100.0))
            .filter_map(|w| w.reset_in(now))
            .min()
    }
}

/// Unix seconds of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7).
fn http_date(s: &str) -> Option<u64> {
    let mut it = s.split_whitespace();
    let (_weekday, day, month, year, time, zone) = (
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    );
    if zone != "GMT" || it.next().is_some() {
        return None;
    }
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|x| x.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    // Years past 9999 are no real date (and would overflow the day count: found by fuzzing).
    if !(1..=31).contains(&day) || !(1970..=9999).contains(&year) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm, years from March).
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// `retry-after`: delay seconds, or an HTTP-date turned into seconds from `now`.
fn retry_after_header(headers: &[(String, String)], now: u64) -> Option<u64> {
    let v = header(headers, "retry-after")?;
    uint(Some(v)).or_else(|| http_date(v).map(|at| at.saturating_sub(now)))
}

/// Whether a failed response is Cloudflare's challenge or block page rather than the
/// backend's answer: `cf-mitigated: challenge`, or an HTML body with the challenge's or the
/// block page's title. `Some(cf-ray)` (the ray id, when sent) if so.
pub fn cloudflare_challenge<'a>(
    headers: &'a [(String, String)],
    body: &str,
) -> Option<Option<&'a str>> {
    let mitigated =
        header(headers, "cf-mitigated").is_some_and(|v| v.eq_ignore_ascii_case("challenge"));
    let html = header(headers, "content-type").is_some_and(|v| v.contains("text/html"))
        || body.trim_start().starts_with('<');
    let page = html
        && (body.contains("Just a moment...")
            || body.contains("Attention Required! | Cloudflare")
            || body.contains("Enable JavaScript and cookies to continue"));
    (mitigated || page).then(|| header(headers, "cf-ray"))
}

/// The longest reset believed (a year); longer ones are clamped to it.
pub const MAX_RESET_SECS: u64 = 366 * 24 * 3600;

/// A 400 that says the request's wire profile does not fit its model (codex.md §9.2): the Lite
/// header on a classic model, or a Lite model sent the classic shape.
fn is_profile_error(message: &str) -> bool {
    message.contains("X-OpenAI-Internal-Codex-Responses-Lite")
        || message.contains("`reasoning.context` to be `all_turns`")
}

/// Map a failed upstream response.
pub fn map_upstream_error(
    status: u16,
    headers: &[(String, String)],
    body: &str,
    now: u64,
) -> UpstreamError {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let err = json.as_ref().and_then(|j| j.get("error"));
    let field = |k: &str| err.and_then(|e| e.get(k)).and_then(Value::as_str);
    let code = field("code");
    let ty = field("type");
    let is = |name: &str| code == Some(name) || ty == Some(name);

    let body_reset = err.and_then(|e| {
        e.get("resets_at")
            .and_then(Value::as_f64)
            .map(|at| (at.ceil() as u64).saturating_sub(now))
            .or_else(|| {
                e.get("resets_in_seconds")
                    .and_then(Value::as_f64)
                    .map(|s| s.max(0.0).ceil() as u64)
            })
    });
    let usage_limit = is("usage_limit_reached");
    // A reset beyond any real quota window is a broken header or body: bounded, it cannot
    // overflow a deadline and still says "not soon".
    let reset = body_reset
        .or_else(|| retry_after_header(headers, now))
        .or_else(|| {
            usage_limit
                .then(|| RateLimits::from_headers(headers).exhausted_reset_in(now))
                .flatten()
        })
        .map(|r| r.min(MAX_RESET_SECS));

    let message = field("message")
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            json.as_ref()
                .and_then(|j| j.get("detail"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| code.map(str::to_owned))
        .unwrap_or_else(|| format!("upstream returned HTTP {status}"));

    use Action::*;
    use ErrorType as T;
    if let Some(ray) = cloudflare_challenge(headers, body) {
        // Not a token problem: refreshing or rotating cannot help, and a tight retry loop
        // would only deepen the block (protocol/codex.md §9.4).
        return UpstreamError {
            error_type: T::PermissionError,
            status: 403,
            message: format!(
                "the Codex backend's Cloudflare front challenged this request (HTTP {status}{}): it does this to traffic from Cloudflare Workers and many datacenter IPs. Send Codex traffic through egress you run (set the Codex base URL to it) or use a model routed to a Chat provider.",
                ray.map(|r| format!(", cf-ray {r}")).unwrap_or_default()
            ),
            retry_after: None,
            action: Fail,
        };
    }
    let (error_type, client_status, action) = match status {
        400 if is("context_length_exceeded") => (T::InvalidRequestError, 400, Fail),
        400 if is("invalid_encrypted_content") => (T::InvalidRequestError, 400, StripReasoning),
        400 if is_profile_error(&message) => (T::InvalidRequestError, 400, SwitchProfile),
        400 | 422 => (T::InvalidRequestError, 400, Fail),
        401 => (T::AuthenticationError, 401, Refresh),
        402 => (T::BillingError, 402, Rotate),
        403 => (T::PermissionError, 403, Fail),
        404 if usage_limit => (T::RateLimitError, 429, Rotate),
        404 => (T::NotFoundError, 404, Fail),
        408 => (T::TimeoutError, 504, Retry),
        413 => (T::RequestTooLarge, 413, Fail),
        429 if is("usage_not_included") => (T::PermissionError, 403, Rotate),
        429 if usage_limit || body_reset.is_some() => (T::RateLimitError, 429, Rotate),
        429 => (T::RateLimitError, 429, Retry),
        503 => (T::OverloadedError, 529, Retry),
        504 => (T::TimeoutError, 504, Retry),
        500..=599 => (T::ApiError, 500, Retry),
        _ => (T::InvalidRequestError, 400, Fail),
    };
    let message = if is("context_length_exceeded") {
        format!("prompt is too long: {message}")
    } else {
        message
    };
    UpstreamError {
        error_type,
        status: client_status,
        message,
        retry_after: reset.map(|s| s.max(1)),
        action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_read_every_codex_header_of_both_windows() {
        let headers: Vec<(String, String)> = [
            ("X-Codex-Primary-Used-Percent", "9.5"),
            ("x-codex-primary-window-minutes", "299"),
            ("x-codex-primary-reset-after-seconds", "1637"),
            ("x-codex-primary-reset-at", "1796687772"),
            ("x-codex-secondary-used-percent", "31"),
            ("x-codex-secondary-window-minutes", "10079"),
            ("x-codex-secondary-reset-after-seconds", " 167364 "),
            ("x-codex-secondary-reset-at", "1796853499"),
            ("x-codex-plan-type", "plus"),
            ("x-codex-active-limit", "codex"),
            ("x-codex-credits-has-credits", "False"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let r = RateLimits::from_headers(&headers);
        let window = |used, minutes, after, at| Window {
            used_percent: Some(used),
            window_minutes: Some(minutes),
            reset_after_seconds: Some(after),
            reset_at: Some(at),
        };
        assert_eq!(r.primary, Some(window(9.5, 299, 1637, 1_796_687_772)));
        assert_eq!(
            r.secondary,
            Some(window(31.0, 10079, 167_364, 1_796_853_499))
        );
        assert_eq!(r.plan_type.as_deref(), Some("plus"));
        assert_eq!(r.active_limit.as_deref(), Some("codex"));
        assert_eq!(r.has_credits, Some(false));
        let none: &[(&str, &str)] = &[];
        assert_eq!(RateLimits::from_headers(none).primary, None);
    }

    /// Found by fuzzing (fuzz/artifacts-found/exchange): an HTTP date in a year no clock
    /// reaches is no date, not an overflow.
    #[test]
    fn a_retry_after_date_in_a_huge_year_is_ignored() {
        let now = 1_786_170_000;
        for date in [
            "Wed, 01 Aug 600000000000 00:00:00 GMT",
            "Fri, 31 Dec 18446744073709551615 23:59:59 GMT",
        ] {
            let e = map_upstream_error(429, &[("retry-after".into(), date.into())], "", now);
            assert_eq!(e.retry_after, None, "{date}");
        }
    }

    #[test]
    fn retry_after_as_seconds_or_http_date() {
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            http_date("Wed, 25 Nov 2026 16:00:00 GMT"),
            Some(1_795_622_400)
        );
        assert_eq!(http_date("25 Nov 2026"), None);
        let h = |v: &str| vec![("Retry-After".to_owned(), v.to_owned())];
        assert_eq!(retry_after_header(&h("7"), 0), Some(7));
        assert_eq!(
            retry_after_header(&h("Wed, 25 Nov 2026 16:00:30 GMT"), 1_795_622_400),
            Some(30)
        );
        let e = map_upstream_error(
            429,
            &h("Wed, 25 Nov 2026 16:01:00 GMT"),
            "{}",
            1_795_622_400,
        );
        assert_eq!(e.retry_after, Some(60));
    }
}
