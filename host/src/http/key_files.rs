//! Providers' keys kept in files (`api_key_file`), read off the serving threads.
//!
//! A serving thread runs many connections on one runtime, so a file read there would hold
//! them all up. The file is read on the blocking pool instead, and its key is reused for
//! [`FRESH`]: under load a file is read about once a second, an idle proxy reads it for the
//! request that needs it, and a rotated key is in use within about a second either way (two
//! when reads overlap and the older one lands last).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a key read from its file is used before the file is read again.
pub const FRESH: Duration = Duration::from_secs(1);

/// The keys read so far, by file.
pub struct KeyFiles {
    read: Mutex<HashMap<PathBuf, (Option<String>, Instant)>>,
    fresh: Duration,
}

impl Default for KeyFiles {
    fn default() -> Self {
        Self::new(FRESH)
    }
}

impl KeyFiles {
    /// Keys reused for `fresh` after their file is read.
    pub fn new(fresh: Duration) -> Self {
        KeyFiles {
            read: Mutex::default(),
            fresh,
        }
    }

    /// The key in `path` (its first line, trimmed; `None` if unreadable or empty).
    pub async fn key(&self, path: &Path) -> Option<String> {
        if let Some((key, at)) = self.lock().get(path)
            && at.elapsed() < self.fresh
        {
            return key.clone();
        }
        let owned = path.to_owned();
        let key = tokio::task::spawn_blocking(move || crate::config::read_key(&owned))
            .await
            .ok()
            .flatten();
        self.lock()
            .insert(path.to_owned(), (key.clone(), Instant::now()));
        key
    }

    /// The key `provider` sends, its key file (if it is the one used) read as [`Self::key`]
    /// reads it.
    pub async fn provider_key(&self, provider: &crate::config::Provider) -> Option<String> {
        let file_key = match provider.key_file() {
            Some(f) => self.key(f).await,
            None => None,
        };
        provider.key(file_key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Option<String>, Instant)>> {
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_reused_while_fresh_and_read_again_after() {
        let dir = std::env::temp_dir().join(format!("ccp-keyfiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("key");
        std::fs::write(&path, "sk-one\nsecond line\n").expect("write");

        let lasting = KeyFiles::new(Duration::from_secs(3600));
        let always = KeyFiles::new(Duration::ZERO);
        assert_eq!(lasting.key(&path).await.as_deref(), Some("sk-one"));
        assert_eq!(always.key(&path).await.as_deref(), Some("sk-one"));

        std::fs::write(&path, "  sk-two  \n").expect("rotate");
        // Not read again while fresh; read again once not.
        assert_eq!(lasting.key(&path).await.as_deref(), Some("sk-one"));
        assert_eq!(always.key(&path).await.as_deref(), Some("sk-two"));

        std::fs::write(&path, "\n").expect("empty");
        assert_eq!(always.key(&path).await, None);
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(always.key(&path).await, None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
