//! Credentials users already have, parsed from file text: the Codex CLI's `auth.json`
//! ([`parse_codex_auth`]) and the Node codex-claude-proxy's `accounts.json`
//! ([`parse_node_accounts`]). [`merge_by_account_id`] folds duplicates.
//!
//! Nothing here prints a token: [`ImportedAccount`]'s `Debug` leaves them out, and
//! [`ImportError`] messages name fields and positions, never values. Files are read as
//! `serde_json::Value` and walked by hand, so no serde message can quote a value either.
//! JWT claims come from [`crate::oauth::read_claims`] (signatures are not checked).

use crate::oauth::{Claims, JwtError, read_claims};
use serde_json::Value;
use std::fmt;

/// [`ImportedAccount::source`] of [`parse_codex_auth`].
pub const SOURCE_CODEX_CLI: &str = "codex-cli";
/// [`ImportedAccount::source`] of [`parse_node_accounts`].
pub const SOURCE_NODE_PROXY: &str = "node-proxy";

/// One ChatGPT account found in a file. `Debug` never shows tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedAccount {
    /// `chatgpt_account_id`.
    pub account_id: String,
    /// For display.
    pub email: Option<String>,
    /// `chatgpt_plan_type`, for display.
    pub plan_type: Option<String>,
    /// Bearer token for the backend.
    pub access_token: String,
    /// Refresh token, if the file had one.
    pub refresh_token: Option<String>,
    /// ID token (JWT), if the file had one.
    pub id_token: Option<String>,
    /// When the access token expires, unix seconds.
    pub expires_at: Option<u64>,
    /// Where it came from: [`SOURCE_CODEX_CLI`] or [`SOURCE_NODE_PROXY`].
    pub source: &'static str,
}

impl fmt::Debug for ImportedAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedAccount")
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("plan_type", &self.plan_type)
            .field("expires_at", &self.expires_at)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("has_id_token", &self.id_token.is_some())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Why a file could not be imported. Messages never contain token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file is not JSON.
    #[error("not valid JSON (line {line}, column {column})")]
    Json {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
    },
    /// The file is JSON but not an object.
    #[error("expected a JSON object at the top level")]
    NotObject,
    /// Codex `auth.json` in API-key mode: there is no ChatGPT sign-in to import.
    #[error(
        "Codex auth.json is in API-key mode (no ChatGPT sign-in to import): run `codex login` and choose \"Sign in with ChatGPT\""
    )]
    ApiKeyMode,
    /// Codex `auth.json` in a mode whose credentials this proxy cannot use.
    #[error(
        "Codex auth.json uses auth_mode \"{mode}\", which holds no ChatGPT tokens this proxy can use: sign in with `codex login` (ChatGPT)"
    )]
    UnsupportedAuthMode {
        /// The `auth_mode` value (at most 40 characters of it).
        mode: String,
    },
    /// Codex `auth.json` without `tokens`.
    #[error(
        "Codex auth.json has no `tokens`: sign in with `codex login`; if Codex keeps its credentials in the OS keyring, set cli_auth_credentials_store = \"file\" in its config.toml and sign in again"
    )]
    MissingTokens,
    /// A required field is absent, empty or not a string.
    #[error("`{field}` is missing or empty")]
    MissingField {
        /// Path of the field, e.g. `tokens.access_token`.
        field: &'static str,
    },
    /// A token that must be a JWT is not one.
    #[error("`{field}` is not a readable JWT ({source})")]
    InvalidJwt {
        /// Path of the field.
        field: &'static str,
        /// What was wrong with it.
        source: JwtError,
    },
    /// No account id anywhere.
    #[error(
        "no ChatGPT account id: neither `tokens.account_id` nor the tokens' chatgpt_account_id claim is set"
    )]
    MissingAccountId,
    /// Not the Node proxy's `accounts.json`.
    #[error("not a codex-claude-proxy accounts.json: no `accounts` array")]
    NotNodeAccounts,
    /// A Node `accounts.json` version this parser does not know.
    #[error("unsupported accounts.json version {version} (this importer reads version 1)")]
    UnsupportedVersion {
        /// The `version` value as JSON text.
        version: String,
    },
}

/// Why an entry of the Node `accounts.json` was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The entry is not a JSON object.
    NotAnObject,
    /// No `accessToken`.
    NoAccessToken,
    /// No `accountId`, and no chatgpt_account_id claim in its tokens.
    NoAccountId,
    /// The Node proxy marked it `isInvalid` (its refresh failed): sign in again.
    MarkedInvalid,
    /// A token is not a readable JWT.
    BadToken {
        /// `accessToken` or `idToken`.
        field: &'static str,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotAnObject => f.write_str("not a JSON object"),
            SkipReason::NoAccessToken => f.write_str("no accessToken"),
            SkipReason::NoAccountId => f.write_str("no accountId"),
            SkipReason::MarkedInvalid => {
                f.write_str("marked invalid by the Node proxy (sign in again)")
            }
            SkipReason::BadToken { field } => write!(f, "{field} is not a readable JWT"),
        }
    }
}

/// An entry of the Node `accounts.json` that was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 0-based position in `accounts`.
    pub index: usize,
    /// Its `email`, if it had one.
    pub email: Option<String>,
    /// Why.
    pub reason: SkipReason,
}

/// What [`parse_node_accounts`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeImport {
    /// Usable entries, in file order (duplicates kept: see [`merge_by_account_id`]).
    pub accounts: Vec<ImportedAccount>,
    /// Entries left out, in file order; `skipped.len()` is the count.
    pub skipped: Vec<Skipped>,
    /// `activeAccount` (an email), if set.
    pub active_account: Option<String>,
}

/// Parse the Codex CLI's `auth.json` (`~/.codex/auth.json` or `$CODEX_HOME/auth.json`).
///
/// The account id is `tokens.account_id`, else the id token's (then the access token's)
/// `chatgpt_account_id` claim; email and plan come from the id token's claims (then the access
/// token's); `expires_at` is the access token's `exp`. Fails when `tokens` is absent, when
/// `auth_mode` is `apikey` (or absent with an `OPENAI_API_KEY` and no tokens) or another mode
/// without ChatGPT tokens, or when a token is not a JWT.
pub fn parse_codex_auth(json: &str) -> Result<ImportedAccount, ImportError> {
    let root = parse_object(json)?;
    let mode = root.get("auth_mode").and_then(Value::as_str);
    match mode {
        None | Some("chatgpt") | Some("chatgptAuthTokens") => {}
        Some("apikey") => return Err(ImportError::ApiKeyMode),
        Some(other) => {
            return Err(ImportError::UnsupportedAuthMode {
                mode: other.chars().take(40).collect(),
            });
        }
    }
    let tokens = match root.get("tokens") {
        Some(t @ Value::Object(_)) => t,
        _ => {
            // Older files have no auth_mode: an API key and no tokens means API-key mode.
            let has_key = !matches!(root.get("OPENAI_API_KEY"), None | Some(Value::Null));
            return Err(if has_key && mode.is_none() {
                ImportError::ApiKeyMode
            } else {
                ImportError::MissingTokens
            });
        }
    };
    let access_token = string(tokens, "access_token").ok_or(ImportError::MissingField {
        field: "tokens.access_token",
    })?;
    let access = read_claims(&access_token).map_err(|source| ImportError::InvalidJwt {
        field: "tokens.access_token",
        source,
    })?;
    let id_token = string(tokens, "id_token");
    let id = match &id_token {
        Some(t) => read_claims(t).map_err(|source| ImportError::InvalidJwt {
            field: "tokens.id_token",
            source,
        })?,
        None => Claims::default(),
    };
    let account_id = string(tokens, "account_id")
        .or_else(|| id.account_id.clone())
        .or_else(|| access.account_id.clone())
        .ok_or(ImportError::MissingAccountId)?;
    Ok(ImportedAccount {
        account_id,
        email: id.email.or(access.email),
        plan_type: id.plan_type.or(access.plan_type),
        access_token,
        refresh_token: string(tokens, "refresh_token"),
        id_token,
        expires_at: access.exp,
        source: SOURCE_CODEX_CLI,
    })
}

/// Parse the Node codex-claude-proxy's `accounts.json` (`~/.codex-claude-proxy/accounts.json`).
///
/// Entries without an `accessToken`, without an account id (`accountId`, else the tokens'
/// `chatgpt_account_id` claim), marked `isInvalid`, or with a token that is not a JWT are
/// skipped and listed in [`NodeImport::skipped`]. `expiresAt` is milliseconds (a value below
/// 10^10 is taken as seconds already); without it, the access token's `exp` is used.
/// `email` and `planType` fall back to the tokens' claims.
pub fn parse_node_accounts(json: &str) -> Result<NodeImport, ImportError> {
    let root = parse_object(json)?;
    match root.get("version") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => {
            return Err(ImportError::UnsupportedVersion {
                version: v.to_string().chars().take(40).collect(),
            });
        }
    }
    let Some(entries) = root.get("accounts").and_then(Value::as_array) else {
        return Err(ImportError::NotNodeAccounts);
    };
    let mut out = NodeImport {
        accounts: Vec::new(),
        skipped: Vec::new(),
        active_account: string(&root, "activeAccount"),
    };
    for (index, entry) in entries.iter().enumerate() {
        match node_entry(entry) {
            Ok(account) => out.accounts.push(account),
            Err(reason) => out.skipped.push(Skipped {
                index,
                email: string(entry, "email"),
                reason,
            }),
        }
    }
    Ok(out)
}

fn node_entry(e: &Value) -> Result<ImportedAccount, SkipReason> {
    if !e.is_object() {
        return Err(SkipReason::NotAnObject);
    }
    let access_token = string(e, "accessToken").ok_or(SkipReason::NoAccessToken)?;
    if e.get("isInvalid").and_then(Value::as_bool) == Some(true) {
        return Err(SkipReason::MarkedInvalid);
    }
    let access = read_claims(&access_token).map_err(|_| SkipReason::BadToken {
        field: "accessToken",
    })?;
    let id_token = string(e, "idToken");
    let id = match &id_token {
        Some(t) => read_claims(t).map_err(|_| SkipReason::BadToken { field: "idToken" })?,
        None => Claims::default(),
    };
    let account_id = string(e, "accountId")
        .or_else(|| id.account_id.clone())
        .or_else(|| access.account_id.clone())
        .ok_or(SkipReason::NoAccountId)?;
    let expires_at = e
        .get("expiresAt")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        })
        .map(|n| if n < 10_000_000_000 { n } else { n / 1000 })
        .or(access.exp);
    Ok(ImportedAccount {
        account_id,
        email: string(e, "email").or(id.email).or(access.email),
        plan_type: string(e, "planType").or(id.plan_type).or(access.plan_type),
        access_token,
        refresh_token: string(e, "refreshToken"),
        id_token,
        expires_at,
        source: SOURCE_NODE_PROXY,
    })
}

/// Fold accounts with the same id: the one whose `expires_at` is later wins (missing counts as
/// oldest; on a tie the first stays), and a winner without email or plan takes the loser's.
/// Tokens are never mixed between entries. The order of first appearance is kept.
pub fn merge_by_account_id(list: Vec<ImportedAccount>) -> Vec<ImportedAccount> {
    let mut out: Vec<ImportedAccount> = Vec::with_capacity(list.len());
    for account in list {
        let Some(slot) = out.iter_mut().find(|a| a.account_id == account.account_id) else {
            out.push(account);
            continue;
        };
        let (mut winner, loser) = if account.expires_at > slot.expires_at {
            (account, std::mem::replace(slot, placeholder()))
        } else {
            (std::mem::replace(slot, placeholder()), account)
        };
        if winner.email.is_none() {
            winner.email = loser.email;
        }
        if winner.plan_type.is_none() {
            winner.plan_type = loser.plan_type;
        }
        *slot = winner;
    }
    out
}

fn placeholder() -> ImportedAccount {
    ImportedAccount {
        account_id: String::new(),
        email: None,
        plan_type: None,
        access_token: String::new(),
        refresh_token: None,
        id_token: None,
        expires_at: None,
        source: "",
    }
}

/// The file as a JSON object (a `Value` known to be an object).
fn parse_object(json: &str) -> Result<Value, ImportError> {
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    match serde_json::from_str::<Value>(json) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(ImportError::NotObject),
        // Position only: never a serde message that could quote the file.
        Err(e) => Err(ImportError::Json {
            line: e.line(),
            column: e.column(),
        }),
    }
}

/// A non-empty string field.
fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/artifacts-found/import): a token whose account claim is empty
    /// is a missing account id, not an account with an empty id.
    #[test]
    fn an_empty_account_claim_is_no_account_id() {
        let f = r#"{"tokens": {"access_token": "eyJhbGciOiJub25lIn0.eyJodHRwczovL2FwaS5vcGVuYWkuY29tL2F1dGgiOnsiY2hhdGdwdF9hY2NvdW50X2lkIjoiIn19.sig"}}"#;
        assert!(matches!(
            parse_codex_auth(f),
            Err(ImportError::MissingAccountId)
        ));
    }
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const CODEX: &str = include_str!("../tests/fixtures/import/codex_auth.json");
    const NODE: &str = include_str!("../tests/fixtures/import/node_accounts.json");

    const ALICE: &str = "a11ce000-0000-4000-8000-000000000001";
    const BOB: &str = "b0b00000-0000-4000-8000-000000000002";

    fn unsigned_jwt(claims: Value) -> String {
        format!(
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn codex_auth_fixture() {
        let a = parse_codex_auth(CODEX).expect("import");
        assert_eq!(a.account_id, "4d6c1b2e-0000-4000-8000-00000000c0de");
        assert_eq!(a.email.as_deref(), Some("codex.user@example.com"));
        assert_eq!(a.plan_type.as_deref(), Some("plus"));
        assert_eq!(a.expires_at, Some(1786196400 + 864000));
        assert_eq!(
            a.refresh_token.as_deref(),
            Some("rt_TEST.not-a-real-refresh-token-codex")
        );
        assert!(a.access_token.starts_with("eyJhbGciOiJub25l"));
        assert!(a.id_token.is_some());
        assert_eq!(a.source, SOURCE_CODEX_CLI);
    }

    #[test]
    fn codex_account_id_from_claims() {
        let mut v: Value = serde_json::from_str(CODEX).expect("json");
        v["tokens"]
            .as_object_mut()
            .expect("tokens")
            .shift_remove("account_id");
        v.as_object_mut().expect("root").shift_remove("auth_mode");
        let a = parse_codex_auth(&v.to_string()).expect("import");
        assert_eq!(a.account_id, "4d6c1b2e-0000-4000-8000-00000000c0de");

        // No id token: the access token's claims serve.
        v["tokens"]
            .as_object_mut()
            .expect("tokens")
            .shift_remove("id_token");
        let a = parse_codex_auth(&v.to_string()).expect("import");
        assert_eq!(a.account_id, "4d6c1b2e-0000-4000-8000-00000000c0de");
        assert_eq!(a.email.as_deref(), Some("codex.user@example.com"));
        assert_eq!(a.id_token, None);

        // No id anywhere.
        let bare = unsigned_jwt(serde_json::json!({"exp": 1}));
        let f = serde_json::json!({"tokens": {"access_token": bare}}).to_string();
        assert_eq!(parse_codex_auth(&f), Err(ImportError::MissingAccountId));
    }

    #[test]
    fn codex_refusals() {
        let e = parse_codex_auth(
            r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-proj-SECRET","tokens":null}"#,
        )
        .expect_err("apikey");
        assert_eq!(e, ImportError::ApiKeyMode);
        assert!(!e.to_string().contains("SECRET"));
        assert_eq!(
            parse_codex_auth(r#"{"OPENAI_API_KEY":"sk-proj-SECRET"}"#),
            Err(ImportError::ApiKeyMode)
        );
        assert_eq!(
            parse_codex_auth(r#"{"auth_mode":"chatgpt","OPENAI_API_KEY":null}"#),
            Err(ImportError::MissingTokens)
        );
        assert!(
            parse_codex_auth(r#"{"auth_mode":"chatgpt","tokens":null}"#)
                .expect_err("null tokens")
                .to_string()
                .contains("no `tokens`")
        );
        assert_eq!(
            parse_codex_auth(r#"{"auth_mode":"agentIdentity","tokens":{}}"#),
            Err(ImportError::UnsupportedAuthMode {
                mode: "agentIdentity".into()
            })
        );
        assert_eq!(
            parse_codex_auth(r#"{"tokens":{"access_token":""}}"#),
            Err(ImportError::MissingField {
                field: "tokens.access_token"
            })
        );
        assert_eq!(parse_codex_auth("[]"), Err(ImportError::NotObject));
        assert!(matches!(
            parse_codex_auth("{\"tokens\":"),
            Err(ImportError::Json { line: 1, .. })
        ));
    }

    #[test]
    fn errors_never_quote_tokens() {
        let secret = "SECRETSECRET-access-token-text";
        let f = serde_json::json!({"tokens": {"access_token": secret, "account_id": "a"}});
        let e = parse_codex_auth(&f.to_string()).expect_err("not a jwt");
        assert_eq!(
            e,
            ImportError::InvalidJwt {
                field: "tokens.access_token",
                source: JwtError::Shape
            }
        );
        assert!(!e.to_string().contains("SECRET"), "{e}");

        let mut v: Value = serde_json::from_str(CODEX).expect("json");
        v["tokens"]["id_token"] = Value::String(format!("a.{secret}!.c"));
        let e = parse_codex_auth(&v.to_string()).expect_err("bad id token");
        assert!(matches!(
            e,
            ImportError::InvalidJwt {
                field: "tokens.id_token",
                ..
            }
        ));
        assert!(!e.to_string().contains("SECRET"), "{e}");

        // A syntax error next to a token: position only.
        let broken = format!("{{\"tokens\":{{\"access_token\":\"{secret}\" \"x\"}}}}");
        let e = parse_codex_auth(&broken).expect_err("syntax");
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }

    #[test]
    fn debug_hides_tokens() {
        let a = parse_codex_auth(CODEX).expect("import");
        let shown = format!("{a:?}");
        assert!(!shown.contains("eyJ"), "{shown}");
        assert!(!shown.contains("rt_TEST"), "{shown}");
        assert!(shown.contains("codex.user@example.com"));
        let n = parse_node_accounts(NODE).expect("node");
        let shown = format!("{n:?}");
        assert!(
            !shown.contains("eyJ") && !shown.contains("rt_TEST"),
            "{shown}"
        );
    }

    #[test]
    fn node_accounts_fixture() {
        let n = parse_node_accounts(NODE).expect("node");
        assert_eq!(n.active_account.as_deref(), Some("alice@example.com"));
        let ids: Vec<&str> = n.accounts.iter().map(|a| a.account_id.as_str()).collect();
        assert_eq!(ids, [ALICE, BOB, ALICE]);
        assert_eq!(n.accounts[0].expires_at, Some(1785864000));
        assert_eq!(n.accounts[1].expires_at, Some(1786864000));
        assert_eq!(n.accounts[1].plan_type.as_deref(), Some("pro"));
        assert_eq!(n.accounts[2].expires_at, Some(1786964000));
        assert!(n.accounts.iter().all(|a| a.source == SOURCE_NODE_PROXY));
        assert_eq!(
            n.skipped,
            [Skipped {
                index: 3,
                email: Some("carol@example.com".into()),
                reason: SkipReason::NoAccessToken
            }]
        );
        assert_eq!(n.skipped[0].reason.to_string(), "no accessToken");

        let merged = merge_by_account_id(n.accounts);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].account_id, ALICE);
        assert_eq!(
            merged[0].refresh_token.as_deref(),
            Some("rt_TEST.not-a-real-refresh-token-alice-new")
        );
        assert_eq!(merged[0].expires_at, Some(1786964000));
        assert_eq!(merged[1].account_id, BOB);
    }

    #[test]
    fn node_entry_rules() {
        let tok = |acct: Option<&str>, exp: u64| {
            let mut auth = serde_json::Map::new();
            if let Some(a) = acct {
                auth.insert("chatgpt_account_id".into(), a.into());
            }
            unsigned_jwt(serde_json::json!({
                "exp": exp,
                "https://api.openai.com/auth": auth,
                "https://api.openai.com/profile": {"email": "claim@example.com"},
            }))
        };
        let f = serde_json::json!({"accounts": [
            {"accessToken": tok(Some("from-claim"), 1_700_000_000)},
            {"email": "x@example.com", "accountId": "no-token"},
            {"accountId": "gone", "accessToken": tok(None, 5), "isInvalid": true},
            {"email": "noid@example.com", "accessToken": tok(None, 5)},
            "junk",
            {"accountId": "secs", "accessToken": tok(None, 5), "expiresAt": 1_786_000_000u64},
            {"accountId": "float", "accessToken": tok(None, 5), "expiresAt": 1_786_000_000_123.0},
            {"accountId": "bad", "accessToken": "not-a-jwt"},
        ], "version": 1});
        let n = parse_node_accounts(&f.to_string()).expect("node");
        let got: Vec<(&str, Option<u64>)> = n
            .accounts
            .iter()
            .map(|a| (a.account_id.as_str(), a.expires_at))
            .collect();
        assert_eq!(
            got,
            [
                ("from-claim", Some(1_700_000_000)),
                ("secs", Some(1_786_000_000)),
                ("float", Some(1_786_000_000)),
            ]
        );
        assert_eq!(n.accounts[0].email.as_deref(), Some("claim@example.com"));
        let reasons: Vec<(usize, SkipReason)> =
            n.skipped.into_iter().map(|s| (s.index, s.reason)).collect();
        assert_eq!(
            reasons,
            [
                (1, SkipReason::NoAccessToken),
                (2, SkipReason::MarkedInvalid),
                (3, SkipReason::NoAccountId),
                (4, SkipReason::NotAnObject),
                (
                    7,
                    SkipReason::BadToken {
                        field: "accessToken"
                    }
                ),
            ]
        );
    }

    #[test]
    fn node_file_refusals() {
        assert_eq!(
            parse_node_accounts(r#"{"version":1}"#),
            Err(ImportError::NotNodeAccounts)
        );
        assert_eq!(
            parse_node_accounts(r#"{"accounts":[],"version":2}"#),
            Err(ImportError::UnsupportedVersion {
                version: "2".into()
            })
        );
        assert_eq!(parse_node_accounts("[]"), Err(ImportError::NotObject));
        let empty = parse_node_accounts(r#"{"accounts":[]}"#).expect("empty");
        assert!(empty.accounts.is_empty() && empty.skipped.is_empty());
    }

    fn acct(id: &str, exp: Option<u64>, tag: &str) -> ImportedAccount {
        ImportedAccount {
            account_id: id.into(),
            email: None,
            plan_type: None,
            access_token: format!("at-{tag}"),
            refresh_token: Some(format!("rt-{tag}")),
            id_token: None,
            expires_at: exp,
            source: SOURCE_NODE_PROXY,
        }
    }

    #[test]
    fn merge_rules() {
        let mut first = acct("a", None, "a1");
        first.email = Some("a@example.com".into());
        let list = vec![
            first,
            acct("b", Some(10), "b1"),
            acct("a", Some(1), "a2"),
            acct("c", Some(5), "c1"),
            acct("b", Some(9), "b2"),
            acct("a", Some(1), "a3"),
            acct("b", None, "b3"),
        ];
        let merged = merge_by_account_id(list);
        let got: Vec<(&str, &str)> = merged
            .iter()
            .map(|a| (a.account_id.as_str(), a.access_token.as_str()))
            .collect();
        // a: a2 beats None; a3 ties a2 and loses. b: b1 is latest. Order of first appearance.
        assert_eq!(got, [("a", "at-a2"), ("b", "at-b1"), ("c", "at-c1")]);
        // Winner keeps its own tokens, borrows the loser's email.
        assert_eq!(merged[0].refresh_token.as_deref(), Some("rt-a2"));
        assert_eq!(merged[0].email.as_deref(), Some("a@example.com"));
        assert!(merge_by_account_id(Vec::new()).is_empty());
    }
}
