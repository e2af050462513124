//! The account store on disk: one file per account plus an index, under `<data>/accounts/`.
//!
//! Writes are atomic (temp file in the same directory, fsync, rename, fsync of the directory),
//! files are 0600 and the directory 0700, and every read-modify-write runs under an exclusive
//! advisory lock on `<data>/accounts/.lock`, so two proxy processes (or the proxy and the CLI)
//! never interleave writes or lose a rotated refresh token. A reader never sees a half-written
//! file: it sees the old one or the new one. Leftover temp files from a killed writer are
//! ignored and cleaned up.
//!
//! The Node version kept `accounts.json` in the same data dir; this store never touches it
//! (`accounts import` reads it).

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// One account's credentials and state. `Debug` never shows tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAccount {
    /// `chatgpt_account_id`.
    pub account_id: String,
    /// Email from the id token.
    #[serde(default)]
    pub email: Option<String>,
    /// Plan from the id token.
    #[serde(default)]
    pub plan_type: Option<String>,
    /// Bearer token for the backend.
    pub access_token: String,
    /// Single-use refresh token (rotates on every refresh).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The id token.
    #[serde(default)]
    pub id_token: Option<String>,
    /// Access token expiry, unix seconds.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// Last successful refresh, unix seconds.
    #[serde(default)]
    pub last_refresh: Option<u64>,
    /// When it was added, unix seconds.
    #[serde(default)]
    pub added_at: u64,
    /// Why the account needs a new login (refresh token invalid), if it does.
    #[serde(default)]
    pub relogin_reason: Option<String>,
}

impl std::fmt::Debug for StoredAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAccount")
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("expires_at", &self.expires_at)
            .field("relogin_reason", &self.relogin_reason)
            .finish_non_exhaustive()
    }
}

/// The index: order, the active account, the strategy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Format version.
    #[serde(default)]
    pub version: u32,
    /// Account ids in the order they were added.
    #[serde(default)]
    pub order: Vec<String>,
    /// The account `accounts switch` chose (preferred by the sticky strategy).
    #[serde(default)]
    pub active: Option<String>,
    /// `sticky`, `round-robin` or `quota-aware`.
    #[serde(default)]
    pub strategy: Option<String>,
}

/// The store's directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

static TMP: AtomicU64 = AtomicU64::new(0);

/// File names are account ids with anything unusual replaced, so an id can never escape the
/// directory.
fn file_stem(account_id: &str) -> String {
    account_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Write `bytes` to `path` atomically with mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TMP.fetch_add(1, Ordering::Relaxed)
    ));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Held while a read-modify-write runs.
pub struct Locked {
    _file: File,
}

impl Store {
    /// The store under `<data_dir>/accounts`, created 0700 if missing.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let dir = data_dir.join("accounts");
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Self { dir })
    }

    /// The directory.
    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Take the store's exclusive lock (blocks until other writers are done).
    pub fn lock(&self) -> std::io::Result<Locked> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))?;
        file.lock()?;
        Ok(Locked { _file: file })
    }

    fn account_path(&self, account_id: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_stem(account_id)))
    }

    /// Read the index (empty if missing or unreadable).
    pub fn index(&self) -> Index {
        std::fs::read_to_string(self.dir.join("index.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Write the index (call with the lock held).
    pub fn write_index(&self, _lock: &Locked, index: &Index) -> std::io::Result<()> {
        let mut index = index.clone();
        index.version = 1;
        let bytes = serde_json::to_vec_pretty(&index).map_err(std::io::Error::other)?;
        write_atomic(&self.dir.join("index.json"), &bytes)
    }

    /// Read one account.
    pub fn read(&self, account_id: &str) -> Option<StoredAccount> {
        let text = std::fs::read_to_string(self.account_path(account_id)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Every account, in index order then any others by file name. Unreadable files are
    /// reported in the second list (file names only), never fatal.
    pub fn load(&self) -> (Vec<StoredAccount>, Vec<String>) {
        let index = self.index();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        let mut accounts = Vec::new();
        let mut bad = Vec::new();
        for p in files {
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if name.starts_with('.') || !name.ends_with(".json") || name == "index.json" {
                continue;
            }
            match std::fs::read_to_string(&p)
                .ok()
                .and_then(|t| serde_json::from_str::<StoredAccount>(&t).ok())
            {
                Some(a) => accounts.push(a),
                None => bad.push(name.to_owned()),
            }
        }
        accounts.sort_by_key(|a| {
            index
                .order
                .iter()
                .position(|id| *id == a.account_id)
                .unwrap_or(usize::MAX)
        });
        (accounts, bad)
    }

    /// Write one account (call with the lock held); adds it to the index order.
    pub fn write(&self, lock: &Locked, account: &StoredAccount) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(account).map_err(std::io::Error::other)?;
        write_atomic(&self.account_path(&account.account_id), &bytes)?;
        let mut index = self.index();
        if !index.order.contains(&account.account_id) {
            index.order.push(account.account_id.clone());
            self.write_index(lock, &index)?;
        }
        Ok(())
    }

    /// Remove one account (call with the lock held). Returns whether it existed.
    pub fn remove(&self, lock: &Locked, account_id: &str) -> std::io::Result<bool> {
        let existed = match std::fs::remove_file(self.account_path(account_id)) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        let mut index = self.index();
        index.order.retain(|id| id != account_id);
        if index.active.as_deref() == Some(account_id) {
            index.active = None;
        }
        self.write_index(lock, &index)?;
        Ok(existed)
    }

    /// Delete temp files left by a writer that was killed mid-write. Only files older than
    /// ten minutes go: a younger one may belong to a writer that is about to rename it.
    pub fn clean_temp_files(&self) {
        let old = |e: &std::fs::DirEntry| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(600))
        };
        if let Ok(d) = std::fs::read_dir(&self.dir) {
            for e in d.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.contains(".tmp-") && old(&e) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str) -> StoredAccount {
        StoredAccount {
            account_id: id.into(),
            email: Some(format!("{id}@example.com")),
            plan_type: Some("plus".into()),
            access_token: format!("at-{id}"),
            refresh_token: Some(format!("rt-{id}")),
            id_token: None,
            expires_at: Some(100),
            last_refresh: None,
            added_at: 1,
            relogin_reason: None,
        }
    }

    #[test]
    fn write_load_remove_with_permissions() {
        let d = std::env::temp_dir().join(format!("ccp-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let s = Store::open(&d).expect("open");
        let lock = s.lock().expect("lock");
        s.write(&lock, &account("b")).expect("write");
        s.write(&lock, &account("a/../x")).expect("write");
        let (list, bad) = s.load();
        assert!(bad.is_empty());
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].account_id, "b", "index order");
        assert!(
            s.dir().join("a____x.json").exists(),
            "ids never escape the dir"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(s.dir()), 0o700);
            assert_eq!(mode(&s.dir().join("b.json")), 0o600);
        }
        assert!(s.remove(&lock, "b").expect("remove"));
        assert_eq!(s.load().0.len(), 1);
        assert!(
            format!("{:?}", account("z")).find("at-z").is_none(),
            "Debug hides tokens"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
