//! The backend's `wham/usage` answer, read (pure).

use serde::Serialize;
use serde_json::Value;

/// One quota window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageWindow {
    /// `primary`, `secondary`, or an additional limit's name.
    pub name: String,
    /// 0–100.
    pub used_percent: f64,
    /// Window length in minutes (rounded up).
    pub window_minutes: Option<u64>,
    /// Unix seconds of the reset.
    pub reset_at: Option<u64>,
}

/// What `wham/usage` says about an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// Plan.
    pub plan_type: Option<String>,
    /// The limit is reached.
    pub limit_reached: bool,
    /// Windows with their use.
    pub windows: Vec<UsageWindow>,
}

fn window(name: String, w: &Value, now: u64) -> Option<UsageWindow> {
    let used = w.get("used_percent")?.as_f64()?;
    Some(UsageWindow {
        name,
        used_percent: used,
        window_minutes: w
            .get("limit_window_seconds")
            .and_then(Value::as_u64)
            .map(|s| s.div_ceil(60)),
        reset_at: w.get("reset_at").and_then(Value::as_u64).or_else(|| {
            w.get("reset_after_seconds")
                .and_then(Value::as_u64)
                .map(|s| now + s)
        }),
    })
}

/// Parse a `wham/usage` body; `now` resolves relative resets.
pub fn parse_usage(body: &str, now: u64) -> Option<Usage> {
    let v: Value = serde_json::from_str(body).ok()?;
    let rl = v.get("rate_limit");
    let mut windows = Vec::new();
    for (k, name) in [
        ("primary_window", "primary"),
        ("secondary_window", "secondary"),
    ] {
        if let Some(w) = rl
            .and_then(|r| r.get(k))
            .and_then(|w| window(name.into(), w, now))
        {
            windows.push(w);
        }
    }
    for extra in v
        .get("additional_rate_limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = extra
            .get("limit_name")
            .and_then(Value::as_str)
            .unwrap_or("other");
        for k in ["primary_window", "secondary_window"] {
            if let Some(w) = extra
                .get("rate_limit")
                .and_then(|r| r.get(k))
                .and_then(|w| window(format!("{name}.{k}"), w, now))
            {
                windows.push(w);
            }
        }
    }
    Some(Usage {
        plan_type: v
            .get("plan_type")
            .and_then(Value::as_str)
            .map(str::to_owned),
        limit_reached: rl
            .and_then(|r| r.get("limit_reached"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_sample() {
        let body = r#"{"plan_type":"plus","rate_limit":{"allowed":true,"limit_reached":false,
            "primary_window":{"used_percent":20,"limit_window_seconds":604800,"reset_after_seconds":16361,"reset_at":1786176171},
            "secondary_window":null},"additional_rate_limits":null}"#;
        let u = parse_usage(body, 0).expect("parses");
        assert_eq!(u.plan_type.as_deref(), Some("plus"));
        assert_eq!(u.windows.len(), 1);
        assert_eq!(u.windows[0].used_percent, 20.0);
        assert_eq!(u.windows[0].window_minutes, Some(10080));
        assert_eq!(u.windows[0].reset_at, Some(1786176171));
    }
}
