//! Writing the dashboard's settings back into the config file while keeping the rest of it as
//! the user wrote it: comments, key order, and every key the page does not edit. Only the
//! sections a change names are replaced.

use crate::config::{Config, Provider};
use proxy_core::RoutingTable;
use std::path::Path;

/// One section of the config file the settings page edits.
pub enum Section<'a> {
    /// `[routing]`.
    Routing(&'a RoutingTable),
    /// `[[providers]]`.
    Providers(&'a [Provider]),
    /// A top-level number (`first_byte_timeout_secs`, `max_attempts`…).
    Number(&'static str, f64),
}

/// Replace `sections` in the file at `path` (created if absent), atomically and readable by
/// the owner only (the file may hold provider keys). On error the previous file is intact.
pub fn write(path: &Path, sections: &[Section<'_>]) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let out = edit(&text, sections).map_err(|e| format!("{}: cannot edit: {e}", path.display()))?;
    // What is written must load: a mistake here would stop the next start.
    toml::from_str::<Config>(&out)
        .map_err(|e| format!("internal: the edited config would not load: {e}"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    crate::accounts::store::write_atomic(path, out.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The file's text with `sections` replaced.
pub fn edit(text: &str, sections: &[Section<'_>]) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    for s in sections {
        match s {
            Section::Number(key, v) => {
                let item = if v.fract() == 0.0 && key.ends_with("attempts") {
                    toml_edit::value(*v as i64)
                } else {
                    toml_edit::value(*v)
                };
                set(&mut doc, key, item);
            }
            Section::Routing(table) => {
                let item = item_of("routing", table)?;
                set(&mut doc, "routing", item);
            }
            Section::Providers(list) => {
                let item = item_of("providers", list)?;
                set(&mut doc, "providers", item);
            }
        }
    }
    Ok(doc.to_string())
}

/// Replace a top-level key's value where it stands (new keys go at the end; a table keeps its
/// leading comment).
fn set(doc: &mut toml_edit::DocumentMut, key: &str, mut item: toml_edit::Item) {
    if let (Some(old), Some(new)) = (
        doc.get(key).and_then(toml_edit::Item::as_table),
        item.as_table_mut(),
    ) {
        new.decor_mut().clone_from(old.decor());
        new.set_position(old.position());
    }
    // A new plain value cannot land inside a table: toml_edit renders the root's values ahead
    // of its tables.
    doc.insert(key, item);
}

/// `value` serialized as the TOML of `key = value`, as a document item.
fn item_of(key: &str, value: &impl serde::Serialize) -> Result<toml_edit::Item, String> {
    #[derive(serde::Serialize)]
    struct One<'a, T: serde::Serialize> {
        #[serde(flatten)]
        inner: std::collections::BTreeMap<&'a str, &'a T>,
    }
    let one = One {
        inner: [(key, value)].into_iter().collect(),
    };
    let text = toml::to_string(&one).map_err(|e| e.to_string())?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    doc.remove(key)
        .ok_or_else(|| format!("internal: {key} missing from its own serialization"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_order_and_other_keys_survive() {
        let text = "# my proxy\nport = 9000 # why 9000\nidle_timeout_secs = 30.0\n\n# where models go\n[routing]\nrules = []\nfallback = { match = \"*\", lane = \"codex\", model = \"gpt-5.5\" }\n\n[[providers]]\nname = \"kilo\"\nbase_url = \"https://example.invalid/api\"\napi_key = \"anonymous\"\n";
        let mut table: RoutingTable = toml::from_str::<Config>(text).expect("loads").routing;
        table.fallback.model = "gpt-5.4".into();
        let out = edit(
            text,
            &[
                Section::Routing(&table),
                Section::Number("idle_timeout_secs", 45.0),
                Section::Number("max_attempts", 3.0),
            ],
        )
        .expect("edits");
        assert!(
            out.starts_with("# my proxy\nport = 9000 # why 9000\nidle_timeout_secs = 45.0\n"),
            "{out}"
        );
        assert!(out.contains("# where models go\n[routing]"), "{out}");
        assert!(out.contains("api_key = \"anonymous\""), "{out}");
        let back: Config = toml::from_str(&out).expect("still loads");
        assert_eq!(back.port, 9000);
        assert_eq!(back.idle_timeout_secs, 45.0);
        assert_eq!(back.max_attempts, 3);
        assert_eq!(back.routing.fallback.model, "gpt-5.4");
        assert_eq!(back.providers[0].base_url, "https://example.invalid/api");
    }

    #[test]
    fn an_empty_file_gets_the_sections() {
        let table = RoutingTable::default();
        let providers = Config::default().providers;
        let out = edit(
            "",
            &[
                Section::Number("commit_timeout_secs", 2.5),
                Section::Routing(&table),
                Section::Providers(&providers),
            ],
        )
        .expect("edits");
        let back: Config = toml::from_str(&out).expect("loads");
        assert_eq!(back.routing, table);
        assert_eq!(back.providers, providers);
        assert_eq!(back.commit_timeout_secs, 2.5);
    }

    #[test]
    fn a_broken_file_is_refused_not_overwritten() {
        let dir = std::env::temp_dir().join(format!("ccp-config-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config.toml");
        std::fs::write(&path, "port = [").expect("write");
        let err = write(&path, &[Section::Number("max_attempts", 2.0)]).expect_err("refused");
        assert!(err.contains("cannot edit"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "port = [");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
