//! Importing accounts from the Codex CLI's `auth.json` and the Node version's `accounts.json`
//! (parsed by the core), and saving one into the store. The CLI's `accounts import` and the
//! admin API's import both call this; neither owns it.

use super::store::{Store, StoredAccount};
use super::tag_of;
use crate::clock::now_secs;
use crate::config::Config;

/// Save an account, merging with one already stored under the same id. Returns whether it
/// replaced an existing one.
pub fn save(store: &Store, a: &StoredAccount) -> std::io::Result<bool> {
    let l = store.lock()?;
    let existed = store.read(&a.account_id).is_some();
    store.write(&l, a)?;
    Ok(existed)
}

fn home() -> std::path::PathBuf {
    std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".".into())
}

fn to_stored(a: proxy_core::import::ImportedAccount, now: u64) -> StoredAccount {
    StoredAccount {
        account_id: a.account_id,
        email: a.email,
        plan_type: a.plan_type,
        access_token: a.access_token,
        refresh_token: a.refresh_token,
        id_token: a.id_token,
        expires_at: a.expires_at,
        // Imported tokens are the newest this store has seen: a running proxy adopts them.
        last_refresh: Some(now),
        added_at: now,
        relogin_reason: None,
    }
}

/// Read one file in either format.
fn read_import(path: &std::path::Path) -> Result<Vec<proxy_core::import::ImportedAccount>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match proxy_core::import::parse_node_accounts(&text) {
        Ok(n) => {
            for s in &n.skipped {
                eprintln!(
                    "warning: {}: entry {} skipped ({:?})",
                    path.display(),
                    s.index,
                    s.reason
                );
            }
            Ok(n.accounts)
        }
        Err(node_err) => proxy_core::import::parse_codex_auth(&text)
            .map(|a| vec![a])
            .map_err(|e| {
                format!(
                    "{}: not a Codex auth.json ({e}) nor a Node accounts.json ({node_err})",
                    path.display()
                )
            }),
    }
}

/// Import from FILE, or from the Codex CLI's and the Node version's files. Duplicates are
/// merged by account id; an account already stored is replaced only by newer tokens.
/// Returns the report lines, or an error when nothing could be imported.
pub fn import_report(
    cfg: &Config,
    file: Option<&std::path::Path>,
) -> Result<(Vec<String>, usize), String> {
    let store =
        Store::open(&cfg.data_dir).map_err(|e| format!("cannot open the account store: {e}"))?;
    let sources: Vec<std::path::PathBuf> = match file {
        Some(f) => vec![f.to_path_buf()],
        None => {
            let codex_home = std::env::var_os("CODEX_HOME")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| home().join(".codex"));
            vec![
                codex_home.join("auth.json"),
                home().join(".codex-claude-proxy/accounts.json"),
            ]
        }
    };
    let mut found = Vec::new();
    let mut lines = Vec::new();
    let mut errors = 0;
    for p in &sources {
        if file.is_none() && !p.exists() {
            continue;
        }
        match read_import(p) {
            Ok(list) => found.extend(list),
            Err(e) => {
                errors += 1;
                lines.push(format!("error: {e}"));
            }
        }
    }
    if found.is_empty() {
        return Err(if errors > 0 {
            lines.join("\n")
        } else {
            format!(
                "no credentials found (looked at {})",
                sources
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
    let now = now_secs();
    let lock = store.lock().map_err(|e| e.to_string())?;
    for a in proxy_core::import::merge_by_account_id(found) {
        let new = to_stored(a, now);
        match store.read(&new.account_id) {
            Some(old) if old.expires_at >= new.expires_at && old.relogin_reason.is_none() => {
                lines.push(format!(
                    "Kept {} (the stored tokens are newer)",
                    describe(&old)
                ));
            }
            old => {
                store
                    .write(&lock, &new)
                    .map_err(|e| format!("cannot save {}: {e}", describe(&new)))?;
                lines.push(format!(
                    "{} {}",
                    if old.is_some() { "Updated" } else { "Imported" },
                    describe(&new)
                ));
            }
        }
    }
    Ok((lines, errors))
}

/// One line about an account: email, tag, plan (no secret).
pub fn describe(a: &StoredAccount) -> String {
    format!(
        "{} ({}, plan {})",
        a.email.as_deref().unwrap_or("no email"),
        tag_of(&a.account_id),
        a.plan_type.as_deref().unwrap_or("?")
    )
}
