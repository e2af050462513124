//! Credential import (`proxy_core::import`): the Codex CLI's `auth.json` and the Node proxy's
//! `accounts.json`, on arbitrary text and on files built from arbitrary fields with readable
//! JWTs. Never a panic; an imported account has a non-empty id and the file's tokens verbatim;
//! `Debug` of an account and every error message leave the tokens out; the Node parser
//! accounts for every entry (imported or skipped, in order); `merge_by_account_id` keeps one
//! account per id, in order of first appearance, never mixes tokens between entries, and keeps
//! the latest expiry.
//!
//! Input: used as the file text (both parsers), and as `arbitrary` fields for one file of each.

#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use proxy_core::import::{
    ImportError, ImportedAccount, SOURCE_CODEX_CLI, SOURCE_NODE_PROXY, merge_by_account_id,
    parse_codex_auth, parse_node_accounts,
};
use serde_json::{Map, Value, json};

/// Text that `Debug` may show anyway: the fields it prints, and its own words.
fn shown_anyway(a: &ImportedAccount) -> String {
    format!(
        "{:?} {:?} {:?} {:?} ImportedAccount account_id email plan_type expires_at \
         has_refresh_token has_id_token source {SOURCE_CODEX_CLI} {SOURCE_NODE_PROXY} true false",
        a.account_id, a.email, a.plan_type, a.expires_at
    )
}

/// A secret worth looking for: long, and with none of the characters `Debug` puts between
/// fields (so it can only show up inside one field's value).
fn findable(t: &str) -> bool {
    t.len() >= 16 && !t.contains([' ', '"', '{', '}', ',', ':', '\\'])
}

fn check_account(a: &ImportedAccount, source: &str) {
    assert_eq!(a.source, source);
    assert!(!a.account_id.is_empty(), "imported an account with an empty id: {a:?}");
    assert!(!a.access_token.is_empty(), "imported an empty access token");
    let dbg = format!("{a:?}");
    let anyway = shown_anyway(a);
    for t in [Some(&a.access_token), a.refresh_token.as_ref(), a.id_token.as_ref()]
        .into_iter()
        .flatten()
    {
        if findable(t) && !anyway.contains(t.as_str()) {
            assert!(!dbg.contains(t.as_str()), "Debug shows a token: {dbg}");
        }
    }
}

/// Non-empty string field, as the parsers read them.
fn string(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn check_error(e: &ImportError, secrets: &[String]) {
    let msg = e.to_string();
    assert!(!msg.is_empty());
    assert!(msg.chars().count() <= 400, "error message of {} chars", msg.chars().count());
    match e {
        ImportError::UnsupportedAuthMode { mode } => assert!(mode.chars().count() <= 40),
        ImportError::UnsupportedVersion { version } => assert!(version.chars().count() <= 40),
        _ => {
            // The field an error names is its own words: a "token" spelled like that path
            // (the fuzzer learns the message) is not one the message shows.
            let named = match e {
                ImportError::MissingField { field } | ImportError::InvalidJwt { field, .. } => {
                    format!("`{field}`")
                }
                _ => String::new(),
            };
            for t in secrets {
                if findable(t) && !named.contains(t.as_str()) {
                    assert!(!msg.contains(t.as_str()), "error message shows a token: {msg}");
                }
            }
        }
    }
}

fn codex(text: &str) {
    let root = serde_json::from_str::<Value>(text.strip_prefix('\u{feff}').unwrap_or(text)).ok();
    let tokens = root.as_ref().map(|r| r["tokens"].clone()).unwrap_or(Value::Null);
    let secrets: Vec<String> = ["access_token", "refresh_token", "id_token"]
        .iter()
        .filter_map(|k| string(&tokens, k))
        .collect();
    match parse_codex_auth(text) {
        Ok(a) => {
            check_account(&a, SOURCE_CODEX_CLI);
            assert_eq!(Some(&a.access_token), string(&tokens, "access_token").as_ref(), "access token");
            assert_eq!(a.refresh_token, string(&tokens, "refresh_token"), "refresh token");
            assert_eq!(a.id_token, string(&tokens, "id_token"), "id token");
            if let Some(id) = string(&tokens, "account_id") {
                assert_eq!(a.account_id, id, "tokens.account_id wins");
            }
        }
        Err(e) => check_error(&e, &secrets),
    }
}

fn node(text: &str) {
    let root = serde_json::from_str::<Value>(text.strip_prefix('\u{feff}').unwrap_or(text)).ok();
    let entries: Vec<Value> = root
        .as_ref()
        .and_then(|r| r.get("accounts"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let secrets: Vec<String> = entries
        .iter()
        .flat_map(|e| ["accessToken", "refreshToken", "idToken"].map(|k| string(e, k)))
        .flatten()
        .collect();
    let n = match parse_node_accounts(text) {
        Ok(n) => n,
        Err(e) => return check_error(&e, &secrets),
    };
    assert_eq!(n.accounts.len() + n.skipped.len(), entries.len(), "entries lost");
    assert_eq!(n.active_account, root.as_ref().and_then(|r| string(r, "activeAccount")));
    let mut imported = (0..entries.len()).filter(|i| !n.skipped.iter().any(|s| s.index == *i));
    for w in n.skipped.windows(2) {
        assert!(w[0].index < w[1].index, "skipped out of order");
    }
    for a in &n.accounts {
        check_account(a, SOURCE_NODE_PROXY);
        let i = imported.next().expect("more accounts than unskipped entries");
        let e = &entries[i];
        assert_eq!(Some(&a.access_token), string(e, "accessToken").as_ref(), "entry {i}: access token");
        assert_eq!(a.refresh_token, string(e, "refreshToken"), "entry {i}: refresh token");
        if let Some(id) = string(e, "accountId") {
            assert_eq!(a.account_id, id, "entry {i}: accountId wins");
        }
        if let Some(ms) = e.get("expiresAt").and_then(Value::as_u64) {
            let want = if ms < 10_000_000_000 { ms } else { ms / 1000 };
            assert_eq!(a.expires_at, Some(want), "entry {i}: expiresAt");
        }
    }
    for s in &n.skipped {
        assert!(!s.reason.to_string().is_empty());
    }
    merge(&n.accounts);
}

fn merge(list: &[ImportedAccount]) {
    let merged = merge_by_account_id(list.to_vec());
    let mut first_seen: Vec<&str> = Vec::new();
    for a in list {
        if !first_seen.contains(&a.account_id.as_str()) {
            first_seen.push(&a.account_id);
        }
    }
    let ids: Vec<&str> = merged.iter().map(|a| a.account_id.as_str()).collect();
    assert_eq!(ids, first_seen, "merge: ids or their order");
    for m in &merged {
        let same: Vec<&ImportedAccount> = list.iter().filter(|a| a.account_id == m.account_id).collect();
        assert!(
            same.iter().any(|a| a.access_token == m.access_token
                && a.refresh_token == m.refresh_token
                && a.id_token == m.id_token
                && a.expires_at == m.expires_at),
            "merge mixed tokens between entries"
        );
        let latest = same.iter().map(|a| a.expires_at).max().flatten();
        assert_eq!(m.expires_at, latest, "merge did not keep the latest expiry");
        assert_eq!(m.email.is_some(), same.iter().any(|a| a.email.is_some()), "merge lost an email");
        assert_eq!(m.plan_type.is_some(), same.iter().any(|a| a.plan_type.is_some()), "merge lost a plan");
    }
}

// ---- files built from arbitrary fields ----

#[derive(Arbitrary, Debug)]
struct FakeClaims {
    account_id: Option<String>,
    plan: Option<String>,
    email: Option<String>,
    exp: Option<u64>,
}

fn jwt(c: &FakeClaims) -> String {
    let mut auth = Map::new();
    if let Some(a) = &c.account_id {
        auth.insert("chatgpt_account_id".into(), json!(a));
    }
    if let Some(p) = &c.plan {
        auth.insert("chatgpt_plan_type".into(), json!(p));
    }
    let mut p = Map::new();
    p.insert("https://api.openai.com/auth".into(), Value::Object(auth));
    if let Some(e) = &c.email {
        p.insert("email".into(), json!(e));
    }
    if let Some(x) = c.exp {
        p.insert("exp".into(), json!(x));
    }
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Value::Object(p)).unwrap_or_default());
    format!("eyJhbGciOiJub25lIn0.{body}.c2ln")
}

fn token(u: &mut Unstructured<'_>) -> Result<Option<Value>> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => None,
        1 => Some(Value::String(u.arbitrary()?)),
        2 => Some(json!(u.arbitrary::<u32>()?)),
        _ => Some(Value::String(jwt(&u.arbitrary()?))),
    })
}

fn built_codex(u: &mut Unstructured<'_>) -> Result<String> {
    let mut root = Map::new();
    match u.int_in_range(0u8..=5)? {
        0 => {}
        1 => {
            root.insert("auth_mode".into(), json!("chatgpt"));
        }
        2 => {
            root.insert("auth_mode".into(), json!("chatgptAuthTokens"));
        }
        3 => {
            root.insert("auth_mode".into(), json!("apikey"));
        }
        _ => {
            root.insert("auth_mode".into(), json!(u.arbitrary::<String>()?));
        }
    }
    if u.arbitrary()? {
        root.insert("OPENAI_API_KEY".into(), json!(u.arbitrary::<Option<String>>()?));
    }
    if u.ratio(7, 8)? {
        let mut t = Map::new();
        for k in ["access_token", "id_token", "refresh_token", "account_id"] {
            if let Some(v) = token(u)? {
                t.insert(k.into(), v);
            }
        }
        root.insert("tokens".into(), Value::Object(t));
    }
    Ok(Value::Object(root).to_string())
}

fn built_node(u: &mut Unstructured<'_>) -> Result<String> {
    let mut root = Map::new();
    match u.int_in_range(0u8..=3)? {
        0 => {}
        1 => {
            root.insert("version".into(), json!(1));
        }
        _ => {
            root.insert("version".into(), json!(u.arbitrary::<i64>()?));
        }
    }
    if u.arbitrary()? {
        root.insert("activeAccount".into(), json!(u.arbitrary::<String>()?));
    }
    let n = u.int_in_range(0u8..=5)?;
    let mut list = Vec::new();
    // Ids from a small set, so merges happen.
    const IDS: [&str; 3] = ["acct-1", "acct-2", ""];
    for _ in 0..n {
        if u.ratio(1, 10)? {
            list.push(json!(u.arbitrary::<u8>()?));
            continue;
        }
        let mut e = Map::new();
        for k in ["accessToken", "idToken", "refreshToken"] {
            if let Some(v) = token(u)? {
                e.insert(k.into(), v);
            }
        }
        if u.arbitrary()? {
            e.insert("accountId".into(), json!(*u.choose(&IDS)?));
        }
        if u.arbitrary()? {
            e.insert("email".into(), json!(u.arbitrary::<String>()?));
        }
        if u.arbitrary()? {
            e.insert("isInvalid".into(), json!(u.arbitrary::<bool>()?));
        }
        match u.int_in_range(0u8..=3)? {
            0 => {}
            1 => {
                e.insert("expiresAt".into(), json!(u.arbitrary::<u64>()?));
            }
            2 => {
                e.insert("expiresAt".into(), json!(u.arbitrary::<f64>()?));
            }
            _ => {
                e.insert("expiresAt".into(), json!(u.int_in_range(1_700_000_000_000u64..=1_900_000_000_000)?));
            }
        }
        list.push(Value::Object(e));
    }
    root.insert("accounts".into(), Value::Array(list));
    Ok(Value::Object(root).to_string())
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    codex(&text);
    node(&text);
    let mut u = Unstructured::new(data);
    if let Ok(t) = built_codex(&mut u) {
        codex(&t);
    }
    if let Ok(t) = built_node(&mut u) {
        node(&t);
    }
});
