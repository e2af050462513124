//! Server-wide settings changed at runtime (the Node version's `/settings/*` routes), kept in
//! `<data dir>/settings.json` so they survive a restart. The account strategy lives with the
//! accounts (their index); what is here is about routing.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// What is persisted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Values {
    /// Where haiku requests go: any id the routing table understands (`gpt-5.4-mini`,
    /// `qwen/qwen3-coder:free`…); `None` leaves them to the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haiku_model: Option<String>,
}

/// The live settings and their file.
#[derive(Debug)]
pub struct Settings {
    path: PathBuf,
    values: RwLock<Values>,
}

impl Settings {
    /// Read `settings.json` from `data_dir` (absent or unreadable: defaults).
    pub fn load(data_dir: &Path) -> Self {
        let path = data_dir.join("settings.json");
        let values = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Self {
            path,
            values: RwLock::new(values),
        }
    }

    /// The current haiku setting.
    pub fn haiku_model(&self) -> Option<String> {
        self.read().haiku_model
    }

    /// Change the haiku setting and write the file (atomically, 0600).
    pub fn set_haiku_model(&self, model: Option<String>) -> std::io::Result<()> {
        let next = {
            let mut v = self.values.write().unwrap_or_else(|e| e.into_inner());
            v.haiku_model = model;
            v.clone()
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let bytes = serde_json::to_vec_pretty(&next).map_err(std::io::Error::other)?;
        crate::accounts::store::write_atomic(&self.path, &bytes)
    }

    fn read(&self) -> Values {
        self.values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
