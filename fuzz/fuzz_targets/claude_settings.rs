//! Claude Code's settings file (`proxy_core::claude_settings`): `apply_proxy` and
//! `apply_direct` on arbitrary existing text. An `Ok` edit parses as a JSON object that keeps
//! every top-level key (and its value, `env` aside) in order, and every `env` key the proxy
//! does not own with its value, in order; proxy mode sets exactly the proxy's values and drops
//! `ANTHROPIC_AUTH_TOKEN`, direct mode removes exactly the proxy's keys; the changes list says
//! what moved and never shows a key in clear; applying the same mode again changes nothing.
//! A refusal names no content.
//!
//! Input: one flags byte (which settings), then the existing file text.

#![no_main]

use fuzz_support::json_same;
use libfuzzer_sys::fuzz_target;
use proxy_core::claude_settings::{
    AUTH_TOKEN, Change, Edit, PROXY_KEYS, ProxySettings, SettingsError, apply_direct, apply_proxy,
    is_secret_key,
};
use serde_json::{Map, Value};

const API_KEY_VALUE: &str = "ccpKey0123456789abcdefXYZ";

fn settings(flags: u8) -> ProxySettings {
    ProxySettings {
        base_url: "http://127.0.0.1:8081".into(),
        api_key: if flags & 1 == 0 { API_KEY_VALUE.into() } else { "short".into() },
        opus_model: "claude-opus-4-5".into(),
        sonnet_model: "claude-sonnet-4-5".into(),
        haiku_model: if flags & 2 == 0 { "claude-haiku-4-5".into() } else { "claude-sonnet-4-5".into() },
        model: (flags & 4 != 0).then(|| "opus".to_owned()),
    }
}

/// The existing file as the functions read it (`None`: no file / blank; `Err`: refused).
fn existing(text: &str) -> Result<Map<String, Value>, ()> {
    let t = text.strip_prefix('\u{feff}').unwrap_or(text);
    if t.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(t) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(()),
    }
}

fn parse_edit(e: &Edit) -> Map<String, Value> {
    assert!(e.json.ends_with('\n'), "no trailing newline");
    match serde_json::from_str::<Value>(&e.json) {
        Ok(Value::Object(m)) => m,
        Ok(other) => panic!("edit is not an object: {other}"),
        Err(err) => panic!("edit does not parse ({err}): {}", e.json),
    }
}

/// `keys` of `before` (other than `skip`) appear in `after`, same values, same order.
fn kept(before: &Map<String, Value>, after: &Map<String, Value>, skip: &[&str], what: &str) {
    let order: Vec<&String> = after.keys().collect();
    let mut last = None;
    for (k, v) in before {
        if skip.contains(&k.as_str()) {
            continue;
        }
        assert!(
            after.get(k).is_some_and(|a| json_same(a, v)),
            "{what}: key {k:?} lost or changed: {v} -> {:?}",
            after.get(k)
        );
        let pos = order.iter().position(|x| *x == k);
        assert!(pos > last, "{what}: key {k:?} moved");
        last = pos;
    }
}

fn env_of(m: &Map<String, Value>) -> Map<String, Value> {
    match m.get("env") {
        Some(Value::Object(e)) => e.clone(),
        _ => Map::new(),
    }
}

fn check_changes(changes: &[Change], secrets: &[&str]) {
    for c in changes {
        let shown = format!("{c} {c:?}");
        if is_secret_key(c.key()) {
            for s in secrets {
                // Long alphanumeric keys cannot be pieced together from the mask's text.
                if s.len() >= 12 && s.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                    assert!(!shown.contains(s), "a change shows a key: {shown}");
                }
            }
        }
    }
}

fn refusal(e: &SettingsError) {
    let msg = e.to_string();
    assert!(!msg.is_empty() && msg.len() < 300, "refusal message: {msg}");
}

fuzz_target!(|data: &[u8]| {
    let (flags, rest) = data.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
    let text = String::from_utf8_lossy(rest);
    let s = settings(flags);
    let before = existing(&text);
    let input = (flags & 8 == 0).then_some(text.as_ref());
    let before = if input.is_none() { Ok(Map::new()) } else { before };

    // Secrets that may sit in the file.
    let env_before = before.as_ref().map(env_of).unwrap_or_default();
    let mut secrets: Vec<&str> = vec![s.api_key.as_str()];
    for k in [AUTH_TOKEN, "ANTHROPIC_API_KEY"] {
        if let Some(Value::String(v)) = env_before.get(k) {
            secrets.push(v);
        }
    }

    // Proxy mode.
    match apply_proxy(input, &s) {
        Ok(edit) => {
            let b = before.as_ref().expect("accepted a file that is not a JSON object");
            let after = parse_edit(&edit);
            kept(b, &after, &["env"], "proxy");
            let env = env_of(&after);
            assert!(matches!(after.get("env"), Some(Value::Object(_))), "proxy: no env object");
            kept(&env_before, &env, &PROXY_KEYS.iter().copied().chain([AUTH_TOKEN]).collect::<Vec<_>>(), "proxy env");
            let want = [
                ("ANTHROPIC_BASE_URL", Some(&s.base_url)),
                ("ANTHROPIC_API_KEY", Some(&s.api_key)),
                ("ANTHROPIC_DEFAULT_OPUS_MODEL", Some(&s.opus_model)),
                ("ANTHROPIC_DEFAULT_SONNET_MODEL", Some(&s.sonnet_model)),
                ("ANTHROPIC_DEFAULT_HAIKU_MODEL", Some(&s.haiku_model)),
                ("ANTHROPIC_SMALL_FAST_MODEL", Some(&s.haiku_model)),
            ];
            for (k, v) in want {
                assert_eq!(env.get(k).and_then(Value::as_str), v.map(String::as_str), "proxy: {k}");
            }
            match &s.model {
                Some(m) => assert_eq!(env.get("ANTHROPIC_MODEL").and_then(Value::as_str), Some(m.as_str())),
                None => assert_eq!(env.get("ANTHROPIC_MODEL"), env_before.get("ANTHROPIC_MODEL"), "proxy: ANTHROPIC_MODEL touched"),
            }
            assert!(env.get(AUTH_TOKEN).is_none(), "proxy: auth token kept");
            // Every changed key is in the changes, and only those.
            for c in &edit.changes {
                let k = c.key();
                assert!(PROXY_KEYS.contains(&k) || k == AUTH_TOKEN, "proxy: change of {k}");
                assert_ne!(env_before.get(k), env.get(k), "proxy: change of {k} that did not change");
            }
            for k in PROXY_KEYS.iter().copied().chain([AUTH_TOKEN]) {
                if env_before.get(k) != env.get(k) {
                    assert!(edit.changes.iter().any(|c| c.key() == k), "proxy: {k} changed silently");
                }
            }
            check_changes(&edit.changes, &secrets);
            // Again: nothing to do, same text.
            let again = apply_proxy(Some(&edit.json), &s).expect("proxy on its own output");
            assert!(again.changes.is_empty(), "proxy twice changes {:?}", again.changes);
            assert_eq!(again.json, edit.json, "proxy twice rewrites the file");
            // And back: direct mode on the proxied file removes the proxy's keys.
            let back = apply_direct(Some(&edit.json)).expect("direct on proxy output");
            let back_env = env_of(&parse_edit(&back));
            assert!(PROXY_KEYS.iter().all(|k| !back_env.contains_key(*k)), "direct left a proxy key");
        }
        Err(e) => {
            refusal(&e);
            let env_ok = before.as_ref().is_ok_and(|b| matches!(b.get("env"), None | Some(Value::Null | Value::Object(_))));
            assert!(!env_ok, "proxy refused a usable file: {e}");
        }
    }

    // Direct mode.
    match apply_direct(input) {
        Ok(edit) => {
            let b = before.as_ref().expect("accepted a file that is not a JSON object");
            let after = parse_edit(&edit);
            kept(b, &after, &["env"], "direct");
            match b.get("env") {
                Some(Value::Object(_)) => {
                    let env = env_of(&after);
                    kept(&env_before, &env, &PROXY_KEYS, "direct env");
                    assert!(PROXY_KEYS.iter().all(|k| !env.contains_key(*k)), "direct left a proxy key");
                    let removed = PROXY_KEYS.iter().filter(|k| env_before.contains_key(**k)).count();
                    assert_eq!(edit.changes.len(), removed, "direct: changes");
                    if after.get("env").is_none() {
                        assert!(removed > 0 && env_before.len() == removed, "direct dropped env that kept keys");
                    }
                }
                other => assert!(
                    match (after.get("env"), other) {
                        (Some(a), Some(b)) => json_same(a, b),
                        (a, b) => a == b,
                    },
                    "direct changed a non-object env"
                ),
            }
            check_changes(&edit.changes, &secrets);
            let again = apply_direct(Some(&edit.json)).expect("direct on its own output");
            assert!(again.changes.is_empty(), "direct twice changes {:?}", again.changes);
            assert_eq!(again.json, edit.json, "direct twice rewrites the file");
        }
        Err(e) => {
            refusal(&e);
            assert!(before.is_err(), "direct refused a usable file: {e}");
        }
    }
});
