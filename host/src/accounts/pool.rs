//! The live account pool: the store's accounts in memory, with per-account single-flight
//! token refresh, cooldowns per account and model, live quota, and the selection strategy.
//!
//! Refresh tokens are single-use, so exactly one refresh per account runs at a time, in this
//! process (a per-account async mutex) and across processes (the store's file lock, under
//! which the account is re-read: another process may already have rotated the token).
//! A refresh the issuer refuses for good (`invalid_grant`, reused/expired/invalidated token)
//! marks the account "re-login needed" and it is never retried in a loop.

use crate::accounts::store::{Store, StoredAccount};
use proxy_core::RateLimits;
use proxy_core::accounts::{Candidate, Decision, Strategy, needs_refresh, select};
use proxy_core::exchange::Pick;
use proxy_core::oauth::{read_claims, refresh_body, refresh_outcome};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Refresh this long before the access token expires.
pub const REFRESH_MARGIN_SECS: u64 = 300;
/// Resets at most this far away are waited out instead of failing the request.
pub const MAX_WAIT_SECS: u64 = 5;

/// One account in memory.
pub struct Slot {
    account: RwLock<StoredAccount>,
    refresh: tokio::sync::Mutex<()>,
    cooldowns: Mutex<HashMap<String, u64>>,
    quota: Mutex<Option<(u64, RateLimits)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fill what a stored account may lack (an expiry readable from its access token).
fn normalize(mut a: StoredAccount) -> StoredAccount {
    if a.expires_at.is_none() {
        a.expires_at = read_claims(&a.access_token).ok().and_then(|c| c.exp);
    }
    a
}

impl Slot {
    fn new(a: StoredAccount) -> Arc<Self> {
        let a = normalize(a);
        Arc::new(Self {
            account: RwLock::new(a),
            refresh: tokio::sync::Mutex::new(()),
            cooldowns: Mutex::new(HashMap::new()),
            quota: Mutex::new(None),
        })
    }

    /// A copy of the account.
    pub fn snapshot(&self) -> StoredAccount {
        self.account
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Read the account in place: no copy of its tokens (a request reads its account several
    /// times; a copy of the whole record is three tokens' worth of bytes each time).
    pub fn with<R>(&self, read: impl FnOnce(&StoredAccount) -> R) -> R {
        read(&self.account.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The account id.
    pub fn id(&self) -> String {
        self.with(|a| a.account_id.clone())
    }

    /// A short, non-secret tag that ties reasoning blobs to this account.
    pub fn tag(&self) -> String {
        tag_of(&self.id())
    }

    /// Latest quota from the backend's headers.
    pub fn quota(&self) -> Option<(u64, RateLimits)> {
        lock(&self.quota).clone()
    }
}

/// The tag of an account id.
pub fn tag_of(account_id: &str) -> String {
    proxy_core::accounts::account_tag(account_id)
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenFailure {
    /// The refresh token is dead: the account needs a new login.
    Relogin(String),
    /// The issuer could not be reached or failed; try another account.
    Transient(String),
}

/// The pool.
pub struct Pool {
    store: Option<Store>,
    slots: RwLock<Vec<Arc<Slot>>>,
    strategy: RwLock<Strategy>,
    /// The index's active account, kept in memory: `pick` runs for every request and must not
    /// read the disk (it is re-read with the accounts by `reload`).
    active: RwLock<Option<String>>,
    turn: AtomicU64,
    refreshes: AtomicUsize,
    client: reqwest::Client,
    issuer: String,
}

impl Pool {
    /// Load the store under `data_dir`.
    pub fn load(data_dir: &Path, client: reqwest::Client, issuer: String) -> Self {
        let store = match Store::open(data_dir) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the account store; running without accounts");
                None
            }
        };
        let mut strategy = Strategy::default();
        let mut slots = Vec::new();
        let mut active = None;
        if let Some(s) = &store {
            s.clean_temp_files();
            let (list, bad) = s.load();
            for b in bad {
                tracing::warn!(file = %b, "skipping an unreadable account file");
            }
            slots = list.into_iter().map(Slot::new).collect();
            let index = s.index();
            if let Some(st) = index.strategy.and_then(|x| x.parse().ok()) {
                strategy = st;
            }
            active = index.active;
        }
        Self {
            store,
            slots: RwLock::new(slots),
            strategy: RwLock::new(strategy),
            active: RwLock::new(active),
            turn: AtomicU64::new(0),
            refreshes: AtomicUsize::new(0),
            client,
            issuer,
        }
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        self.slots.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The active account (what the sticky strategy prefers for requests without a session).
    fn active(&self) -> Option<String> {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.slots().len()
    }

    /// No account at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refreshes performed by this process.
    pub fn refresh_count(&self) -> usize {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// The selection strategy.
    pub fn strategy(&self) -> Strategy {
        *self.strategy.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Switch the strategy (persisted in the index).
    pub fn set_strategy(&self, s: Strategy) -> std::io::Result<()> {
        *self.strategy.write().unwrap_or_else(|e| e.into_inner()) = s;
        if let Some(store) = &self.store {
            let l = store.lock()?;
            let mut index = store.index();
            index.strategy = Some(
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            );
            store.write_index(&l, &index)?;
        }
        Ok(())
    }

    /// Make `account_id` the active account (what the sticky strategy prefers for requests
    /// without a session), persisted in the index. `false`: no such account.
    pub fn set_active(&self, account_id: &str) -> std::io::Result<bool> {
        if !self.all().iter().any(|s| s.id() == account_id) {
            return Ok(false);
        }
        // Memory follows the disk under the store's lock, so a `reload` reading the index cannot
        // put the previous account back.
        let _lock = match &self.store {
            Some(store) => {
                let l = store.lock()?;
                let mut index = store.index();
                index.active = Some(account_id.to_owned());
                store.write_index(&l, &index)?;
                Some(l)
            }
            None => None,
        };
        *self.active.write().unwrap_or_else(|e| e.into_inner()) = Some(account_id.to_owned());
        Ok(true)
    }

    /// Re-read the store: new accounts appear, removed ones go, newer tokens on disk win.
    pub fn reload(&self) {
        let Some(store) = &self.store else { return };
        if let Ok(_lock) = store.lock() {
            *self.active.write().unwrap_or_else(|e| e.into_inner()) = store.index().active;
        }
        let (list, _) = store.load();
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let mut next = Vec::with_capacity(list.len());
        for a in list {
            match slots.iter().find(|s| s.id() == a.account_id) {
                Some(s) => {
                    let mut cur = s.account.write().unwrap_or_else(|e| e.into_inner());
                    // The disk wins when it is newer, holds other tokens (a re-import or a
                    // refresh by another process), or revives an account marked for re-login.
                    let newer = a.last_refresh >= cur.last_refresh
                        || a.refresh_token != cur.refresh_token
                        || (cur.relogin_reason.is_some() && a.relogin_reason.is_none());
                    if newer {
                        *cur = normalize(a);
                    }
                    drop(cur);
                    next.push(s.clone());
                }
                None => next.push(Slot::new(a)),
            }
        }
        *slots = next;
    }

    /// Pick an account for a request. Never waits: a pool whose accounts all cool down says
    /// when the soonest is ready, and the exchange machine decides whether to wait for it.
    pub fn pick(
        &self,
        session: Option<&str>,
        model: &str,
        exclude: &[String],
        now: u64,
    ) -> Result<Arc<Slot>, Pick> {
        let slots = self.slots();
        let active = self.active();
        let candidates: Vec<Candidate> = slots
            .iter()
            .map(|s| {
                let (usable, is_active) = s.with(|a| {
                    (
                        a.relogin_reason.is_none() && !exclude.contains(&a.account_id),
                        active.as_deref() == Some(a.account_id.as_str()),
                    )
                });
                Candidate {
                    usable,
                    cooldown_until: lock(&s.cooldowns).get(model).copied().unwrap_or(0),
                    used_percent: s.quota().and_then(|(_, q)| {
                        [q.primary, q.secondary]
                            .into_iter()
                            .flatten()
                            .filter_map(|w| w.used_percent)
                            .reduce(f64::max)
                    }),
                    active: is_active,
                }
            })
            .collect();
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let decision = select(self.strategy(), &candidates, session, turn, now, u64::MAX);
        if let Decision::Use(i) = decision {
            return Ok(slots[i].clone());
        }
        let ids: Vec<String> = slots.iter().map(|s| s.id()).collect();
        Err(Pick::from_decision(decision, &ids))
    }

    /// Do not use `slot` for `model` until `until`.
    pub fn cool_down(&self, slot: &Slot, model: &str, until: u64) {
        lock(&slot.cooldowns).insert(model.to_owned(), until);
    }

    /// Remember the backend's live quota for an account.
    pub fn record_quota(&self, slot: &Slot, q: RateLimits, now: u64) {
        if q.primary.is_some() || q.secondary.is_some() {
            *lock(&slot.quota) = Some((now, q));
        }
    }

    /// A usable access token, refreshed first when it is about to expire.
    pub async fn token(&self, slot: &Slot, now: u64) -> Result<String, TokenFailure> {
        let (relogin, refreshable, expires_at, last_refresh) = slot.with(|a| {
            (
                a.relogin_reason.clone(),
                a.refresh_token.is_some(),
                a.expires_at,
                a.last_refresh,
            )
        });
        if let Some(r) = relogin {
            return Err(TokenFailure::Relogin(r));
        }
        // Without a refresh token there is nothing to refresh with: use the token until the
        // backend refuses it.
        if refreshable && needs_refresh(expires_at, last_refresh, now, REFRESH_MARGIN_SECS) {
            match self.refresh(slot, None, now).await {
                Ok(()) => {}
                // The issuer is down but the token still works: use it while it lasts.
                Err(TokenFailure::Transient(_)) if expires_at.is_some_and(|e| e > now) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(slot.with(|a| a.access_token.clone()))
    }

    /// Refresh an account's tokens, once, whatever the concurrency. With `stale`, only if the
    /// current token is still that one (a 401 on it); without, only if it is about to expire.
    pub async fn refresh(
        &self,
        slot: &Slot,
        stale: Option<&str>,
        now: u64,
    ) -> Result<(), TokenFailure> {
        self.refresh_within(slot, stale, now, REFRESH_MARGIN_SECS)
            .await
    }

    async fn refresh_within(
        &self,
        slot: &Slot,
        stale: Option<&str>,
        now: u64,
        margin: u64,
    ) -> Result<(), TokenFailure> {
        let _one = slot.refresh.lock().await;
        let still_needed = |a: &StoredAccount| match stale {
            Some(t) => a.access_token == t,
            None => needs_refresh(a.expires_at, a.last_refresh, now, margin),
        };
        if !still_needed(&slot.snapshot()) {
            return Ok(());
        }
        // Cross-process: under the store lock, adopt what another process may have written.
        let mut guard = match &self.store {
            Some(store) => {
                let store = store.clone();
                let id = slot.id();
                let res = tokio::task::spawn_blocking(move || {
                    let l = store.lock()?;
                    let disk = store.read(&id);
                    Ok::<_, std::io::Error>((l, disk))
                })
                .await
                .map_err(|e| TokenFailure::Transient(e.to_string()))?
                .map_err(|e| TokenFailure::Transient(e.to_string()))?;
                if let Some(disk) = res.1
                    && disk.refresh_token != slot.snapshot().refresh_token
                {
                    *slot.account.write().unwrap_or_else(|e| e.into_inner()) = disk;
                    if !still_needed(&slot.snapshot()) {
                        return Ok(());
                    }
                }
                Some(res.0)
            }
            None => None,
        };
        let mut a = slot.snapshot();
        if let Some(r) = &a.relogin_reason {
            return Err(TokenFailure::Relogin(r.clone()));
        }
        let Some(rt) = a.refresh_token.clone() else {
            return self
                .mark_relogin(slot, guard.take(), "no refresh token stored")
                .await;
        };
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}/oauth/token", self.issuer.trim_end_matches('/'));
        let resp = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(refresh_body(&rt))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| {
                TokenFailure::Transient(format!("token endpoint unreachable: {}", e.without_url()))
            })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let t = match refresh_outcome(status, &body, now) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(account = %tag_of(&a.account_id), code = %e.code, permanent = e.permanent, "token refresh failed");
                if e.permanent {
                    return self.mark_relogin(slot, guard.take(), &e.code).await;
                }
                return Err(TokenFailure::Transient(format!(
                    "token refresh failed: {}",
                    e.message
                )));
            }
        };
        a.expires_at = t.expires_at;
        a.access_token = t.access_token;
        if let Some(r) = t.refresh_token {
            a.refresh_token = Some(r);
        }
        if let Some(i) = t.id_token {
            a.id_token = Some(i);
        }
        a.last_refresh = Some(now);
        if let Err(e) = self.save(guard.take(), &a).await {
            tracing::error!(error = %e, "refreshed tokens could not be saved");
        }
        *slot.account.write().unwrap_or_else(|e| e.into_inner()) = a;
        tracing::info!(account = %slot.tag(), "access token refreshed");
        Ok(())
    }

    async fn mark_relogin(
        &self,
        slot: &Slot,
        guard: Option<crate::accounts::store::Locked>,
        reason: &str,
    ) -> Result<(), TokenFailure> {
        let mut a = slot.snapshot();
        a.relogin_reason = Some(reason.to_owned());
        let _ = self.save(guard, &a).await;
        *slot.account.write().unwrap_or_else(|e| e.into_inner()) = a;
        Err(TokenFailure::Relogin(reason.to_owned()))
    }

    /// Write `a` under `guard` (the store's lock), then let the lock go: on the blocking
    /// pool, since the write syncs the file and its folder to disk and would otherwise hold
    /// up every connection of the serving thread that runs this refresh.
    async fn save(
        &self,
        guard: Option<crate::accounts::store::Locked>,
        a: &StoredAccount,
    ) -> std::io::Result<()> {
        let (Some(store), Some(lock)) = (self.store.clone(), guard) else {
            return Ok(());
        };
        let a = a.clone();
        tokio::task::spawn_blocking(move || store.write(&lock, &a))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Refresh every account that expires within `margin` (the background task).
    pub async fn refresh_due(&self, now: u64, margin: u64) {
        for s in self.slots() {
            let a = s.snapshot();
            if a.relogin_reason.is_none()
                && a.refresh_token.is_some()
                && needs_refresh(a.expires_at, a.last_refresh, now, margin)
            {
                let _ = self.refresh_within(&s, None, now, margin).await;
            }
        }
    }

    /// Non-secret descriptions for status output and the admin API.
    pub fn summaries(&self, now: u64) -> Vec<Value> {
        let active = self.active();
        self.slots()
            .iter()
            .map(|s| {
                let a = s.snapshot();
                let quota = s.quota().map(|(at, q)| json!({"at": at, "limits": q}));
                let cooling: HashMap<String, u64> = lock(&s.cooldowns)
                    .iter()
                    .filter(|(_, u)| **u > now)
                    .map(|(m, u)| (m.clone(), u - now))
                    .collect();
                json!({
                    "account_id": a.account_id, "email": a.email, "plan_type": a.plan_type,
                    "tag": tag_of(&a.account_id),
                    "active": active.as_deref() == Some(a.account_id.as_str()),
                    "expires_in": a.expires_at.map(|e| e as i64 - now as i64),
                    "relogin_needed": a.relogin_reason.is_some(), "relogin_reason": a.relogin_reason,
                    "cooldown_secs": cooling, "quota": quota,
                })
            })
            .collect()
    }

    /// Every slot (for metrics).
    pub fn all(&self) -> Vec<Arc<Slot>> {
        self.slots()
    }
}
