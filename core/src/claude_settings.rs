//! Claude Code's `settings.json` (`~/.claude/settings.json` or `$CLAUDE_CONFIG_DIR`), edited
//! as text in, text out: the host reads the file, calls [`apply_proxy`] or [`apply_direct`],
//! and writes [`Edit::json`] back.
//!
//! The file belongs to the user. Only the variables of [`PROXY_KEYS`] in its `env` object are
//! ours; every other key of the file and of `env` keeps its value and its place (serde_json's
//! `preserve_order`). A file that is not a JSON object, or whose `env` is not an object, is
//! refused rather than rewritten. [`Change`]s say what moved; their `Display` and `Debug` mask
//! key values ([`mask_secret`]).

use serde_json::map::Entry;
use serde_json::{Map, Value};
use std::fmt;

/// `ANTHROPIC_BASE_URL`.
pub const BASE_URL: &str = "ANTHROPIC_BASE_URL";
/// `ANTHROPIC_API_KEY`.
pub const API_KEY: &str = "ANTHROPIC_API_KEY";
/// `ANTHROPIC_AUTH_TOKEN`: takes precedence over the API key in Claude Code, so proxy mode
/// removes it.
pub const AUTH_TOKEN: &str = "ANTHROPIC_AUTH_TOKEN";
/// `ANTHROPIC_DEFAULT_OPUS_MODEL`.
pub const OPUS_MODEL: &str = "ANTHROPIC_DEFAULT_OPUS_MODEL";
/// `ANTHROPIC_DEFAULT_SONNET_MODEL`.
pub const SONNET_MODEL: &str = "ANTHROPIC_DEFAULT_SONNET_MODEL";
/// `ANTHROPIC_DEFAULT_HAIKU_MODEL`.
pub const HAIKU_MODEL: &str = "ANTHROPIC_DEFAULT_HAIKU_MODEL";
/// `ANTHROPIC_SMALL_FAST_MODEL` (older name of the haiku slot; set to the same value).
pub const SMALL_FAST_MODEL: &str = "ANTHROPIC_SMALL_FAST_MODEL";
/// `ANTHROPIC_MODEL`.
pub const MODEL: &str = "ANTHROPIC_MODEL";

/// Every `env` key [`apply_proxy`] may set, in the order it sets them; exactly the keys
/// [`apply_direct`] removes.
pub const PROXY_KEYS: [&str; 7] = [
    BASE_URL,
    API_KEY,
    OPUS_MODEL,
    SONNET_MODEL,
    HAIKU_MODEL,
    SMALL_FAST_MODEL,
    MODEL,
];

/// What proxy mode writes into `env`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// `ANTHROPIC_BASE_URL`, e.g. `http://127.0.0.1:8081`.
    pub base_url: String,
    /// `ANTHROPIC_API_KEY` (the proxy's client key, or any placeholder on loopback).
    pub api_key: String,
    /// `ANTHROPIC_DEFAULT_OPUS_MODEL`.
    pub opus_model: String,
    /// `ANTHROPIC_DEFAULT_SONNET_MODEL`.
    pub sonnet_model: String,
    /// `ANTHROPIC_DEFAULT_HAIKU_MODEL` and `ANTHROPIC_SMALL_FAST_MODEL`.
    pub haiku_model: String,
    /// `ANTHROPIC_MODEL`, only written when set (an existing value is left alone when `None`).
    pub model: Option<String>,
}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxySettings")
            .field("base_url", &self.base_url)
            .field("api_key", &mask_secret(&self.api_key))
            .field("opus_model", &self.opus_model)
            .field("sonnet_model", &self.sonnet_model)
            .field("haiku_model", &self.haiku_model)
            .field("model", &self.model)
            .finish()
    }
}

/// The new file text and what changed.
#[derive(Clone, PartialEq, Eq)]
pub struct Edit {
    /// The whole file: pretty-printed with 2-space indentation and a trailing newline.
    pub json: String,
    /// What changed in `env`, in the order applied. Empty: nothing to write.
    pub changes: Vec<Change>,
}

impl fmt::Debug for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text may hold a key: show its size only.
        f.debug_struct("Edit")
            .field("json_bytes", &self.json.len())
            .field("changes", &self.changes)
            .finish()
    }
}

/// One change to the `env` object. A value that was not a JSON string is shown as JSON text.
#[derive(Clone, PartialEq, Eq)]
pub enum Change {
    /// A variable was added or given a new value.
    Set {
        /// Variable name.
        key: String,
        /// Previous value, if the variable existed.
        old: Option<String>,
        /// New value.
        new: String,
    },
    /// A variable was removed.
    Removed {
        /// Variable name.
        key: String,
        /// Value it had.
        old: String,
    },
}

impl Change {
    /// The variable this change is about.
    pub fn key(&self) -> &str {
        match self {
            Change::Set { key, .. } | Change::Removed { key, .. } => key,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Set { key, old, new } => {
                let old = match old {
                    Some(old) => shown(key, old),
                    None => "(unset)".to_owned(),
                };
                write!(f, "{key}: {old} -> {}", shown(key, new))
            }
            Change::Removed { key, old } => write!(f, "{key}: {} -> (removed)", shown(key, old)),
        }
    }
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Change({self})")
    }
}

/// Why an existing file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file is not JSON.
    #[error(
        "Claude settings file is not valid JSON (line {line}, column {column}); refusing to overwrite it: fix or move it first"
    )]
    Invalid {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
    },
    /// The file is JSON but not an object.
    #[error(
        "Claude settings file holds a JSON {found}, not an object; refusing to overwrite it: fix or move it first"
    )]
    NotObject {
        /// `array`, `string`, …
        found: &'static str,
    },
    /// `env` exists but is not an object.
    #[error(
        "`env` in the Claude settings file is a JSON {found}, not an object; refusing to overwrite it: fix it first"
    )]
    EnvNotObject {
        /// `array`, `string`, …
        found: &'static str,
    },
}

/// Whether a variable holds a credential (its value is masked when shown).
pub fn is_secret_key(key: &str) -> bool {
    key == API_KEY || key == AUTH_TOKEN
}

/// `****` plus, for values of 12 characters or more, the last 4 characters.
pub fn mask_secret(value: &str) -> String {
    let n = value.chars().count();
    if n < 12 {
        return "****".to_owned();
    }
    let tail: String = value.chars().skip(n - 4).collect();
    format!("****{tail}")
}

fn shown(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        mask_secret(value)
    } else {
        format!("{value:?}")
    }
}

/// Point Claude Code at the proxy: set the variables of [`ProxySettings`] in `env` and remove
/// `ANTHROPIC_AUTH_TOKEN`. `existing` is the current file text (`None` or blank: no file).
pub fn apply_proxy(existing: Option<&str>, s: &ProxySettings) -> Result<Edit, SettingsError> {
    let mut root = parse(existing)?;
    let mut changes = Vec::new();
    let env = match root.entry("env") {
        Entry::Vacant(v) => v.insert(Value::Object(Map::new())),
        Entry::Occupied(o) => o.into_mut(),
    };
    if env.is_null() {
        *env = Value::Object(Map::new());
    }
    let Value::Object(env) = env else {
        return Err(SettingsError::EnvNotObject { found: kind(env) });
    };
    let mut pairs = vec![
        (BASE_URL, s.base_url.as_str()),
        (API_KEY, s.api_key.as_str()),
        (OPUS_MODEL, s.opus_model.as_str()),
        (SONNET_MODEL, s.sonnet_model.as_str()),
        (HAIKU_MODEL, s.haiku_model.as_str()),
        (SMALL_FAST_MODEL, s.haiku_model.as_str()),
    ];
    if let Some(model) = &s.model {
        pairs.push((MODEL, model.as_str()));
    }
    for (key, new) in pairs {
        set(env, key, new, &mut changes);
    }
    remove(env, AUTH_TOKEN, &mut changes);
    Ok(finish(root, changes))
}

/// Point Claude Code back at Anthropic: remove the [`PROXY_KEYS`] from `env` (and nothing
/// else; a user's `ANTHROPIC_AUTH_TOKEN` stays), dropping `env` if that empties it.
/// A file without an `env` object is left as it is.
pub fn apply_direct(existing: Option<&str>) -> Result<Edit, SettingsError> {
    let mut root = parse(existing)?;
    let mut changes = Vec::new();
    if let Some(Value::Object(env)) = root.get_mut("env") {
        for key in PROXY_KEYS {
            remove(env, key, &mut changes);
        }
        if env.is_empty() && !changes.is_empty() {
            root.shift_remove("env");
        }
    }
    Ok(finish(root, changes))
}

fn parse(existing: Option<&str>) -> Result<Map<String, Value>, SettingsError> {
    let text = existing.unwrap_or("");
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(SettingsError::NotObject {
            found: kind(&other),
        }),
        // Only the position: serde_json's message never quotes the file, but keep it that way.
        Err(e) => Err(SettingsError::Invalid {
            line: e.line(),
            column: e.column(),
        }),
    }
}

fn set(env: &mut Map<String, Value>, key: &str, new: &str, changes: &mut Vec<Change>) {
    let old = match env.get(key) {
        Some(Value::String(s)) if s == new => return,
        old => old.map(text_of),
    };
    // `insert` keeps an existing key in its place; a new key goes last.
    env.insert(key.to_owned(), Value::String(new.to_owned()));
    changes.push(Change::Set {
        key: key.to_owned(),
        old,
        new: new.to_owned(),
    });
}

fn remove(env: &mut Map<String, Value>, key: &str, changes: &mut Vec<Change>) {
    // `shift_remove`: plain `remove` is a swap-remove under preserve_order.
    if let Some(old) = env.shift_remove(key) {
        changes.push(Change::Removed {
            key: key.to_owned(),
            old: text_of(&old),
        });
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn finish(root: Map<String, Value>, changes: Vec<Change>) -> Edit {
    // `{:#}` is serde_json's pretty printer (2 spaces) and cannot fail.
    Edit {
        json: format!("{:#}\n", Value::Object(root)),
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/artifacts-found/claude_settings): a number in the user's file
    /// comes back exactly as written, not as its nearest re-parse.
    #[test]
    fn numbers_in_the_users_file_round_trip() {
        let e = apply_direct(Some(
            r#"{"n": [2.1e31, 0.1, 1e-7], "env": {"ANTHROPIC_BASE_URL": "http://x"}}"#,
        ))
        .expect("edit");
        let v: serde_json::Value = serde_json::from_str(&e.json).expect("json");
        assert_eq!(v["n"][0].as_f64(), Some(2.1e31));
        assert_eq!(v["n"][1].as_f64(), Some(0.1));
        assert_eq!(v["n"][2].as_f64(), Some(1e-7));
    }

    fn settings(model: Option<&str>) -> ProxySettings {
        ProxySettings {
            base_url: "http://127.0.0.1:8081".into(),
            api_key: "ccp-local-key-0123456789abcd".into(),
            opus_model: "claude-opus-4-5".into(),
            sonnet_model: "claude-sonnet-4-5".into(),
            haiku_model: "claude-haiku-4-5".into(),
            model: model.map(str::to_owned),
        }
    }

    const USER_FILE: &str = r#"{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "permissions": {"allow": ["Bash(npm run test:*)"], "deny": []},
  "env": {"ZED": "1", "ANTHROPIC_MODEL": "claude-opus-4-1", "ALPHA": "2", "ANTHROPIC_AUTH_TOKEN": "sk-ant-oat01-abcdefghijklmnop"},
  "model": "opus",
  "hooks": {}
}"#;

    #[test]
    fn proxy_preserves_other_keys_and_order() {
        let edit = apply_proxy(Some(USER_FILE), &settings(Some("gpt-5.2-codex"))).expect("edit");
        let expected = r#"{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "permissions": {
    "allow": [
      "Bash(npm run test:*)"
    ],
    "deny": []
  },
  "env": {
    "ZED": "1",
    "ANTHROPIC_MODEL": "gpt-5.2-codex",
    "ALPHA": "2",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8081",
    "ANTHROPIC_API_KEY": "ccp-local-key-0123456789abcd",
    "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-opus-4-5",
    "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-5",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5",
    "ANTHROPIC_SMALL_FAST_MODEL": "claude-haiku-4-5"
  },
  "model": "opus",
  "hooks": {}
}
"#;
        assert_eq!(edit.json, expected);
        let keys: Vec<&str> = edit.changes.iter().map(Change::key).collect();
        assert_eq!(
            keys,
            [
                BASE_URL,
                API_KEY,
                OPUS_MODEL,
                SONNET_MODEL,
                HAIKU_MODEL,
                SMALL_FAST_MODEL,
                MODEL,
                AUTH_TOKEN
            ]
        );
        assert_eq!(
            edit.changes[6],
            Change::Set {
                key: MODEL.into(),
                old: Some("claude-opus-4-1".into()),
                new: "gpt-5.2-codex".into()
            }
        );
        assert_eq!(
            edit.changes[7],
            Change::Removed {
                key: AUTH_TOKEN.into(),
                old: "sk-ant-oat01-abcdefghijklmnop".into()
            }
        );
    }

    #[test]
    fn no_file_and_blank_file() {
        for existing in [None, Some(""), Some("  \n"), Some("\u{feff}{}")] {
            let edit = apply_proxy(existing, &settings(None)).expect("edit");
            assert!(
                edit.json
                    .starts_with("{\n  \"env\": {\n    \"ANTHROPIC_BASE_URL\"")
            );
            assert!(edit.json.ends_with("}\n"));
            assert_eq!(edit.changes.len(), 6);
            let v: Value = serde_json::from_str(&edit.json).expect("json");
            assert!(v["env"].get(MODEL).is_none());
            assert_eq!(v["env"][SMALL_FAST_MODEL], "claude-haiku-4-5");
        }
        let direct = apply_direct(None).expect("direct");
        assert_eq!(direct.json, "{}\n");
        assert!(direct.changes.is_empty());
    }

    #[test]
    fn proxy_is_idempotent() {
        let s = settings(Some("gpt-5.2-codex"));
        let first = apply_proxy(Some(USER_FILE), &s).expect("first");
        let second = apply_proxy(Some(&first.json), &s).expect("second");
        assert!(second.changes.is_empty());
        assert_eq!(second.json, first.json);
    }

    #[test]
    fn model_none_leaves_existing_model() {
        let edit = apply_proxy(Some(USER_FILE), &settings(None)).expect("edit");
        let v: Value = serde_json::from_str(&edit.json).expect("json");
        assert_eq!(v["env"][MODEL], "claude-opus-4-1");
        assert!(edit.changes.iter().all(|c| c.key() != MODEL));
    }

    #[test]
    fn changes_only_what_differs() {
        let existing =
            r#"{"env":{"ANTHROPIC_BASE_URL":"http://127.0.0.1:8081","ANTHROPIC_API_KEY":7}}"#;
        let edit = apply_proxy(Some(existing), &settings(None)).expect("edit");
        assert!(edit.changes.iter().all(|c| c.key() != BASE_URL));
        assert_eq!(
            edit.changes[0],
            Change::Set {
                key: API_KEY.into(),
                old: Some("7".into()),
                new: "ccp-local-key-0123456789abcd".into()
            }
        );
        let null_env = apply_proxy(Some(r#"{"env":null}"#), &settings(None)).expect("edit");
        assert_eq!(null_env.changes.len(), 6);
    }

    #[test]
    fn direct_reverts_exactly() {
        let original = r#"{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "env": {
    "ZED": "1",
    "ALPHA": "2"
  },
  "model": "opus"
}
"#;
        let proxied = apply_proxy(Some(original), &settings(Some("m"))).expect("proxy");
        let direct = apply_direct(Some(&proxied.json)).expect("direct");
        assert_eq!(direct.json, original);
        assert_eq!(direct.changes.len(), PROXY_KEYS.len());
        assert!(
            direct
                .changes
                .iter()
                .all(|c| matches!(c, Change::Removed { .. }))
        );
        // Idempotent too.
        let again = apply_direct(Some(&direct.json)).expect("again");
        assert!(again.changes.is_empty());
        assert_eq!(again.json, original);

        // No env before: env disappears again.
        let bare = "{\n  \"model\": \"opus\"\n}\n";
        let proxied = apply_proxy(Some(bare), &settings(None)).expect("proxy");
        assert_eq!(
            apply_direct(Some(&proxied.json)).expect("direct").json,
            bare
        );
    }

    #[test]
    fn direct_removes_only_proxy_keys() {
        let existing = r#"{"env":{"ANTHROPIC_AUTH_TOKEN":"tok","ANTHROPIC_BASE_URL":"x","CLAUDE_CODE_USE_BEDROCK":"1"},"env2":{"ANTHROPIC_API_KEY":"k"}}"#;
        let edit = apply_direct(Some(existing)).expect("direct");
        let v: Value = serde_json::from_str(&edit.json).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"env":{"ANTHROPIC_AUTH_TOKEN":"tok","CLAUDE_CODE_USE_BEDROCK":"1"},"env2":{"ANTHROPIC_API_KEY":"k"}})
        );
        assert_eq!(
            edit.changes,
            [Change::Removed {
                key: BASE_URL.into(),
                old: "x".into()
            }]
        );
        // An empty env that we did not empty stays.
        let kept = apply_direct(Some(r#"{"env":{}}"#)).expect("direct");
        assert_eq!(kept.json, "{\n  \"env\": {}\n}\n");
    }

    #[test]
    fn refuses_what_it_cannot_edit() {
        let s = settings(None);
        for (text, want) in [
            ("{", "not valid JSON"),
            ("{\"env\": {}} trailing", "not valid JSON"),
            ("// comment\n{}", "not valid JSON"),
            ("[1]", "a JSON array"),
            ("\"x\"", "a JSON string"),
        ] {
            let e = apply_proxy(Some(text), &s).expect_err(text);
            assert!(e.to_string().contains(want), "{text}: {e}");
            assert!(apply_direct(Some(text)).is_err(), "{text}");
        }
        assert_eq!(
            apply_proxy(Some(r#"{"env":"A=1"}"#), &s),
            Err(SettingsError::EnvNotObject { found: "string" })
        );
        assert_eq!(
            apply_proxy(Some("{\n  \"a\": 1,\n}"), &s),
            Err(SettingsError::Invalid { line: 3, column: 1 })
        );
        // Direct has nothing to remove from a non-object env and leaves it.
        let d = apply_direct(Some(r#"{"env":"A=1"}"#)).expect("direct");
        assert!(d.changes.is_empty());
    }

    #[test]
    fn masks_keys() {
        let set = Change::Set {
            key: API_KEY.into(),
            old: Some("sk-ant-api03-secretsecret-WXYZ".into()),
            new: "ccp-local-key-0123456789abcd".into(),
        };
        assert_eq!(set.to_string(), "ANTHROPIC_API_KEY: ****WXYZ -> ****abcd");
        let removed = Change::Removed {
            key: AUTH_TOKEN.into(),
            old: "short".into(),
        };
        assert_eq!(
            removed.to_string(),
            "ANTHROPIC_AUTH_TOKEN: **** -> (removed)"
        );
        let plain = Change::Set {
            key: BASE_URL.into(),
            old: None,
            new: "http://127.0.0.1:8081".into(),
        };
        assert_eq!(
            plain.to_string(),
            "ANTHROPIC_BASE_URL: (unset) -> \"http://127.0.0.1:8081\""
        );
        assert_eq!(mask_secret("ééééééééééééxyzw"), "****xyzw");

        let edit = apply_proxy(Some(USER_FILE), &settings(None)).expect("edit");
        let shown = format!("{edit:?} {:?}", settings(None));
        assert!(!shown.contains("0123456789"), "{shown}");
        assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
        assert!(shown.contains("****abcd"), "{shown}");
    }
}
