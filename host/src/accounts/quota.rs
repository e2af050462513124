//! Live quota: the backend's `wham/usage` endpoint, fetched on demand.

use proxy_core::quota::{Usage, parse_usage};
use std::time::Duration;

/// `GET {base}/wham/usage` for one account.
pub async fn fetch_usage(
    client: &reqwest::Client,
    codex_base_url: &str,
    account_id: &str,
    token: &str,
) -> Result<Usage, String> {
    let r = client
        .get(format!(
            "{}/wham/usage",
            codex_base_url.trim_end_matches('/')
        ))
        .bearer_auth(token)
        .header("chatgpt-account-id", account_id)
        .header("originator", "codex_cli_rs")
        .header("accept", "application/json")
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .map_err(|e| format!("unreachable: {}", e.without_url()))?;
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    parse_usage(&body, crate::clock::now_secs()).ok_or_else(|| "not a usage answer".into())
}

/// One line: `plus; primary 20% (resets in 4h32m); …`.
pub fn describe_usage(u: &Usage, now: u64) -> String {
    let mut parts = vec![format!("plan {}", u.plan_type.as_deref().unwrap_or("?"))];
    for w in &u.windows {
        let reset = w.reset_at.map_or(String::new(), |at| {
            let s = at.saturating_sub(now);
            format!(" (resets in {}h{:02}m)", s / 3600, (s % 3600) / 60)
        });
        parts.push(format!("{} {:.0}% used{reset}", w.name, w.used_percent));
    }
    if u.limit_reached {
        parts.push("LIMIT REACHED".into());
    }
    parts.join("; ")
}
