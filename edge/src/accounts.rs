//! ChatGPT accounts on the edge: sealed in Workers KV (`account:<id>`), each owned by one
//! Durable Object (`object.rs`) that is the single writer of its tokens. This module is the
//! value and its KV round trip; the Worker reads, the object writes.

use crate::seal::SealKey;
use serde::{Deserialize, Serialize};
use worker::kv::KvStore;

/// An account as the Worker keeps it (the tokens only ever sealed at rest).
#[derive(Clone, Serialize, Deserialize)]
pub struct EdgeAccount {
    /// ChatGPT account id.
    pub account_id: String,
    /// For status lines.
    #[serde(default)]
    pub email: Option<String>,
    /// ChatGPT plan.
    #[serde(default)]
    pub plan_type: Option<String>,
    /// Bearer for the backend.
    pub access_token: String,
    /// Single-use refresh token.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// Unix seconds of the last refresh.
    #[serde(default)]
    pub last_refresh: Option<u64>,
    /// Set when the refresh token is dead.
    #[serde(default)]
    pub relogin_reason: Option<String>,
}

impl std::fmt::Debug for EdgeAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeAccount")
            .field(
                "account",
                &proxy_core::accounts::account_tag(&self.account_id),
            )
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl EdgeAccount {
    /// What `GET /admin/accounts` shows: no token, no id (its tag).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "tag": proxy_core::accounts::account_tag(&self.account_id),
            "email": self.email, "plan_type": self.plan_type,
            "expires_at": self.expires_at, "last_refresh": self.last_refresh,
            "relogin_needed": self.relogin_reason.is_some(),
        })
    }
}

/// The KV key of an account.
pub fn key(account_id: &str) -> String {
    format!("account:{account_id}")
}

/// Account ids in KV, in key order.
pub async fn ids(kv: &KvStore) -> Result<Vec<String>, String> {
    let list = kv
        .list()
        .prefix("account:".into())
        .execute()
        .await
        .map_err(|e| format!("KV list failed: {e}"))?;
    Ok(list
        .keys
        .into_iter()
        .filter_map(|k| k.name.strip_prefix("account:").map(str::to_owned))
        .collect())
}

/// Read and open one account.
pub async fn load(kv: &KvStore, seal: &SealKey, account_id: &str) -> Result<EdgeAccount, String> {
    let k = key(account_id);
    let sealed = kv
        .get(&k)
        .text()
        .await
        .map_err(|e| format!("KV read failed: {e}"))?
        .ok_or_else(|| {
            format!(
                "no stored account {}",
                proxy_core::accounts::account_tag(account_id)
            )
        })?;
    let plain = seal.open(&k, &sealed)?;
    serde_json::from_slice(&plain).map_err(|_| "a stored account is not readable".to_owned())
}

/// Seal and write one account.
pub async fn save(kv: &KvStore, seal: &SealKey, a: &EdgeAccount) -> Result<(), String> {
    let k = key(&a.account_id);
    let plain = serde_json::to_vec(a).map_err(|e| e.to_string())?;
    let sealed = seal.seal(&k, &plain)?;
    kv.put(&k, sealed)
        .map_err(|e| format!("KV write failed: {e}"))?
        .execute()
        .await
        .map_err(|e| format!("KV write failed: {e}"))
}
