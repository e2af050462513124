//! ChatGPT accounts as the request path sees them: load, pick, cool down.
//!
//! Each account is one JSON file `<data_dir>/accounts/<account_id>.json`
//! (`{"account_id","email","plan_type","access_token","refresh_token","id_token"}`).
//! Selection is sticky per session (the same conversation keeps hitting the same account, so
//! the backend's prompt cache hits) and skips accounts cooling down after a usage limit.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// One account's credentials. `Debug` never shows tokens.
#[derive(Clone, Deserialize)]
pub struct Account {
    /// `chatgpt_account_id`.
    pub account_id: String,
    /// For display.
    #[serde(default)]
    pub email: Option<String>,
    /// Plan, for display.
    #[serde(default)]
    pub plan_type: Option<String>,
    /// Bearer token for the backend.
    pub access_token: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// A short, non-secret tag that ties reasoning blobs to this account.
    pub fn tag(&self) -> String {
        let d = Sha256::digest(self.account_id.as_bytes());
        d[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// All accounts and their cooldowns.
#[derive(Debug, Default)]
pub struct Accounts {
    list: Vec<Account>,
    /// account id → unix second until which it is not used.
    cooldown: Mutex<HashMap<String, u64>>,
}

impl Accounts {
    /// Load every `*.json` under `<data_dir>/accounts`; unreadable files are reported, skipped.
    pub fn load(data_dir: &Path) -> Self {
        let mut list = Vec::new();
        let dir = data_dir.join("accounts");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for p in paths
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
            {
                match std::fs::read_to_string(&p)
                    .map_err(|e| e.to_string())
                    .and_then(|t| serde_json::from_str::<Account>(&t).map_err(|e| e.to_string()))
                {
                    Ok(a) => list.push(a),
                    Err(e) => {
                        tracing::warn!(file = %p.display(), error = %e, "skipping account file")
                    }
                }
            }
        }
        Self {
            list,
            cooldown: Mutex::new(HashMap::new()),
        }
    }

    /// How many accounts are configured.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Non-secret descriptions for status output.
    pub fn summaries(&self) -> Vec<serde_json::Value> {
        self.list
            .iter()
            .map(
                |a| serde_json::json!({"email": a.email, "plan_type": a.plan_type, "tag": a.tag()}),
            )
            .collect()
    }

    /// No account configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Pick an account for a session, skipping those in `exclude` and those cooling down.
    /// `Err(Some(secs))` when all are cooling down (soonest reset), `Err(None)` when none is left.
    pub fn pick(
        &self,
        session: Option<&str>,
        exclude: &[String],
        now: u64,
    ) -> Result<Account, Option<u64>> {
        if self.list.is_empty() {
            return Err(None);
        }
        let cooldown = self.cooldown.lock().unwrap_or_else(|e| e.into_inner());
        let start = session.map_or(0, |s| {
            let d = Sha256::digest(s.as_bytes());
            u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]) as usize
                % self.list.len()
        });
        let mut soonest: Option<u64> = None;
        for i in 0..self.list.len() {
            let a = &self.list[(start + i) % self.list.len()];
            if exclude.contains(&a.account_id) {
                continue;
            }
            match cooldown.get(&a.account_id) {
                Some(&until) if until > now => {
                    soonest = Some(soonest.map_or(until - now, |s: u64| s.min(until - now)));
                }
                _ => return Ok(a.clone()),
            }
        }
        Err(soonest)
    }

    /// Do not use `account_id` until `until` (unix seconds).
    pub fn cool_down(&self, account_id: &str, until: u64) {
        let mut c = self.cooldown.lock().unwrap_or_else(|e| e.into_inner());
        c.insert(account_id.to_owned(), until);
    }
}
