//! Each account's model catalog from the Codex backend (`GET {codex}/codex/models?
//! client_version=…`): fetched the first time a request needs it, kept, and fetched again when
//! a `/responses` answer's `x-models-etag` names another revision. One fetch at a time per
//! account; a failed fetch is not retried for a minute (requests go on without a catalog: the
//! classic profile, and the backend's refusal switches it).

use proxy_core::catalog::{Catalog, ModelInfo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After a failed fetch, requests go on without a catalog for this long.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);
/// A catalog fetch waits at most this long (it sits in front of a request).
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// What the catalog says about one model on one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The account's catalog lists it.
    Offered(ModelInfo),
    /// The account's catalog does not list it (another plan, or a retired model).
    NotOffered {
        /// The account's plan, when known.
        plan: Option<String>,
        /// The plans another account's catalog offers it on, when one does.
        plans: Vec<String>,
    },
    /// No catalog for this account (not fetched, or the fetch failed).
    Unknown,
}

#[derive(Default)]
struct Cell {
    catalog: Option<Arc<Catalog>>,
    /// A newer revision was announced by `x-models-etag`.
    stale: bool,
    failed_at: Option<Instant>,
}

/// Where to fetch from and as whom.
pub struct Source<'a> {
    /// The HTTP client.
    pub client: &'a reqwest::Client,
    /// `…/backend-api`.
    pub base_url: &'a str,
    /// The Codex CLI version sent as `client_version` (it filters the catalog).
    pub client_version: &'a str,
    /// The `user-agent` of Codex requests.
    pub user_agent: &'a str,
}

/// Every account's catalog.
#[derive(Default)]
pub struct Catalogs {
    cells: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Cell>>>>,
    /// The catalogs fetched so far, readable without waiting: a cell is locked while its
    /// account's catalog is fetched (up to seconds), and a reader that skipped it would route
    /// as if the account had none.
    fetched: std::sync::RwLock<HashMap<String, Arc<Catalog>>>,
}

impl Catalogs {
    fn cell(&self, account_id: &str) -> Arc<tokio::sync::Mutex<Cell>> {
        self.cells
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(account_id.to_owned())
            .or_default()
            .clone()
    }

    /// The account's catalog, fetched first when there is none (or a newer one was announced).
    pub async fn catalog(
        &self,
        src: &Source<'_>,
        account_id: &str,
        token: &str,
    ) -> Option<Arc<Catalog>> {
        let cell = self.cell(account_id);
        let mut c = cell.lock().await;
        let due = (c.catalog.is_none() || c.stale)
            && c.failed_at
                .is_none_or(|t| t.elapsed() >= RETRY_AFTER_FAILURE);
        if due {
            let etag = c.catalog.as_ref().and_then(|k| k.etag.clone());
            match fetch(src, account_id, token, etag.as_deref()).await {
                Ok(Some(fresh)) => {
                    let fresh = Arc::new(fresh);
                    c.catalog = Some(fresh.clone());
                    c.stale = false;
                    c.failed_at = None;
                    self.fetched
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(account_id.to_owned(), fresh);
                }
                // 304: what we have is current.
                Ok(None) => c.stale = false,
                Err(why) => {
                    tracing::warn!(account = %crate::accounts::tag_of(account_id), %why, "model catalog not fetched");
                    c.failed_at = Some(Instant::now());
                }
            }
        }
        c.catalog.clone()
    }

    /// What the account's catalog says of `slug`.
    pub async fn lookup(
        &self,
        src: &Source<'_>,
        account_id: &str,
        token: &str,
        plan: Option<String>,
        slug: &str,
    ) -> Lookup {
        let Some(catalog) = self.catalog(src, account_id, token).await else {
            return Lookup::Unknown;
        };
        if let Some(m) = catalog.get(slug) {
            return Lookup::Offered(m.clone());
        }
        let plans = self
            .known()
            .iter()
            .find_map(|(_, c)| c.get(slug).map(|m| m.plans.clone()))
            .unwrap_or_default();
        Lookup::NotOffered { plan, plans }
    }

    /// A response named catalog revision `etag`: refetch on the next request if it is not ours.
    pub fn saw_etag(&self, account_id: &str, etag: &str) {
        let cell = self.cell(account_id);
        // Never wait here (the caller is streaming): a busy cell is being fetched anyway.
        if let Ok(mut c) = cell.try_lock()
            && c.catalog
                .as_ref()
                .is_some_and(|k| k.etag.as_deref() != Some(etag))
        {
            c.stale = true;
            c.failed_at = None;
        }
    }

    /// The catalogs fetched so far, by account id (never waits on a fetch under way).
    pub fn known(&self) -> Vec<(String, Arc<Catalog>)> {
        self.fetched
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The input window a client should plan for with `slug`: the smallest any known catalog
    /// gives it.
    pub fn input_window(&self, slug: &str) -> Option<u64> {
        self.known()
            .iter()
            .filter_map(|(_, c)| c.get(slug)?.input_window())
            .min()
    }
}

/// `Ok(None)`: not modified.
async fn fetch(
    src: &Source<'_>,
    account_id: &str,
    token: &str,
    etag: Option<&str>,
) -> Result<Option<Catalog>, String> {
    let url = format!(
        "{}/codex/models?client_version={}",
        src.base_url.trim_end_matches('/'),
        src.client_version
    );
    let mut rb = src
        .client
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .header("chatgpt-account-id", account_id)
        .header("originator", "codex_cli_rs")
        .header("version", src.client_version)
        .header("user-agent", src.user_agent)
        .timeout(FETCH_TIMEOUT);
    if let Some(e) = etag {
        rb = rb.header("if-none-match", e);
    }
    let r = rb.send().await.map_err(|e| {
        // Never the URL with its query or anything of the request: just what failed.
        if e.is_timeout() {
            "timed out".to_owned()
        } else {
            "the backend could not be reached".to_owned()
        }
    })?;
    if r.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !r.status().is_success() {
        return Err(format!("HTTP {}", r.status().as_u16()));
    }
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r
        .bytes()
        .await
        .map_err(|_| "the answer broke off".to_owned())?;
    Catalog::parse(&body, etag)
        .map(Some)
        .ok_or_else(|| "the answer is not a model catalog".to_owned())
}
