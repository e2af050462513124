//! ChatGPT OAuth pieces with no IO: PKCE (RFC 7636, S256), the authorize URL, token-request
//! bodies, token responses and JWT claims. Randomness comes in as bytes from the host.
//! JWT signatures are NOT verified: the claims are read to label and route accounts, and the
//! tokens are only ever sent back to the issuer that minted them.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The Codex CLI's public OAuth client id.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// Default issuer.
pub const ISSUER: &str = "https://auth.openai.com";
/// Redirect for the local-callback flow.
pub const REDIRECT_URI: &str = "http://localhost:1455/auth/callback";
/// Redirect for the device-code exchange.
pub const DEVICE_REDIRECT_URI: &str = "https://auth.openai.com/deviceauth/callback";
/// Scopes requested.
pub const SCOPES: &str = "openid profile email offline_access";

/// A PKCE verifier and its S256 challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    /// The verifier (secret until the exchange).
    pub verifier: String,
    /// base64url(SHA-256(verifier)).
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &"<redacted>")
            .field("challenge", &self.challenge)
            .finish()
    }
}

/// S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// PKCE from caller-provided random bytes (Codex uses 64 → an 86-character verifier).
pub fn pkce_from_entropy(random: &[u8]) -> Pkce {
    let verifier = URL_SAFE_NO_PAD.encode(random);
    let challenge = pkce_challenge(&verifier);
    Pkce {
        verifier,
        challenge,
    }
}

/// An OAuth `state` from caller-provided random bytes.
pub fn state_from_entropy(random: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The authorize URL, parameters in the order the Codex CLI sends them.
/// `prompt_login` adds `prompt=login` so a second account can sign in.
pub fn authorize_url(
    issuer: &str,
    redirect_uri: &str,
    challenge: &str,
    state: &str,
    prompt_login: bool,
) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", redirect_uri),
        ("scope", SCOPES),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", state),
        ("originator", "codex_cli_rs"),
    ];
    if prompt_login {
        pairs.push(("prompt", "login"));
    }
    format!(
        "{}/oauth/authorize?{}",
        issuer.trim_end_matches('/'),
        form(&pairs)
    )
}

/// Form body of the authorization-code exchange (`POST {issuer}/oauth/token`).
pub fn code_exchange_body(code: &str, redirect_uri: &str, verifier: &str) -> String {
    form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", CLIENT_ID),
        ("code_verifier", verifier),
    ])
}

/// JSON body of a refresh (`POST {issuer}/oauth/token`, `application/json`).
pub fn refresh_body(refresh_token: &str) -> String {
    serde_json::json!({
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    })
    .to_string()
}

/// JSON body asking for a device code (`POST {issuer}/api/accounts/deviceauth/usercode`).
pub fn device_code_body() -> String {
    serde_json::json!({"client_id": CLIENT_ID}).to_string()
}

/// JSON body polling a device code (`POST {issuer}/api/accounts/deviceauth/token`).
pub fn device_poll_body(device_auth_id: &str, user_code: &str) -> String {
    serde_json::json!({"device_auth_id": device_auth_id, "user_code": user_code}).to_string()
}

/// Token endpoint success.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    /// ID token (JWT).
    #[serde(default)]
    pub id_token: Option<String>,
    /// Access token (JWT).
    #[serde(default)]
    pub access_token: Option<String>,
    /// Refresh token (rotates on every refresh).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// What a token refresh answered, as the account keeps it.
#[derive(Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// The new access token.
    pub access_token: String,
    /// The rotated refresh token, when the issuer sent one.
    pub refresh_token: Option<String>,
    /// A new ID token, when sent.
    pub id_token: Option<String>,
    /// Unix seconds of expiry: the access token's `exp`, else `now + expires_in`.
    pub expires_at: Option<u64>,
}

impl std::fmt::Debug for Refreshed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refreshed")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Read a refresh answer: `Ok` with the tokens for a 2xx with an access token; otherwise the
/// classified failure (`permanent` means the account needs a new login).
pub fn refresh_outcome(status: u16, body: &str, now: u64) -> Result<Refreshed, TokenError> {
    if !(200..300).contains(&status) {
        return Err(token_error(status, body));
    }
    let transient = |message: &str| TokenError {
        code: "bad_token_response".into(),
        message: message.into(),
        permanent: false,
    };
    let t: TokenResponse = serde_json::from_str(body)
        .map_err(|_| transient("token endpoint answered something else than JSON"))?;
    let access = t
        .access_token
        .ok_or_else(|| transient("token endpoint answered no access token"))?;
    let expires_at = read_claims(&access)
        .ok()
        .and_then(|c| c.exp)
        // An absurd lifetime cannot overflow the clock (found by fuzzing).
        .or(t.expires_in.map(|s| now.saturating_add(s)));
    Ok(Refreshed {
        access_token: access,
        refresh_token: t.refresh_token,
        id_token: t.id_token,
        expires_at,
    })
}

/// Token endpoint failure, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    /// `invalid_grant`, `refresh_token_reused`, …
    pub code: String,
    /// Human text.
    pub message: String,
    /// The refresh token can never work again: the account needs a new login.
    pub permanent: bool,
}

/// Classify a failed token-endpoint answer.
pub fn token_error(status: u16, body: &str) -> TokenError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let (code, message) = match v.get("error") {
        Some(Value::String(s)) => (
            s.clone(),
            v.get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        ),
        Some(Value::Object(o)) => (
            o.get("code")
                .or_else(|| o.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            o.get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        ),
        _ => (
            v.get("code")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            String::new(),
        ),
    };
    let permanent = status == 401
        || matches!(
            code.as_str(),
            "invalid_grant"
                | "refresh_token_expired"
                | "refresh_token_reused"
                | "refresh_token_invalidated"
        );
    let code = if code.is_empty() {
        format!("http_{status}")
    } else {
        code
    };
    TokenError {
        code,
        message,
        permanent,
    }
}

/// Claims this proxy reads from an id or access token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// `chatgpt_account_id`.
    pub account_id: Option<String>,
    /// `chatgpt_plan_type`.
    pub plan_type: Option<String>,
    /// `chatgpt_user_id` (or `user_id`).
    pub user_id: Option<String>,
    /// `email` or the profile claim's email.
    pub email: Option<String>,
    /// `exp`, unix seconds.
    pub exp: Option<u64>,
}

/// Errors reading a JWT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three dot-separated parts.
    #[error("not a JWT")]
    Shape,
    /// The payload is not base64url.
    #[error("JWT payload is not base64url")]
    Base64,
    /// The payload is not a JSON object.
    #[error("JWT payload is not a JSON object")]
    Json,
}

/// Read the claims of a JWT without verifying its signature.
pub fn read_claims(jwt: &str) -> Result<Claims, JwtError> {
    let mut parts = jwt.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Shape);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(payload))
        .map_err(|_| JwtError::Base64)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| JwtError::Json)?;
    if !v.is_object() {
        return Err(JwtError::Json);
    }
    let auth = v.get("https://api.openai.com/auth");
    // An empty claim is no claim (found by fuzzing: an empty `chatgpt_account_id` made an
    // account with an empty id on import).
    let s = |o: Option<&Value>, k: &str| {
        o.and_then(|o| o.get(k))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Ok(Claims {
        account_id: s(auth, "chatgpt_account_id"),
        plan_type: s(auth, "chatgpt_plan_type"),
        user_id: s(auth, "chatgpt_user_id").or_else(|| s(auth, "user_id")),
        email: s(Some(&v), "email").or_else(|| s(v.get("https://api.openai.com/profile"), "email")),
        exp: v.get("exp").and_then(Value::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/artifacts-found/jwt_claims): an absurd `expires_in` for an
    /// opaque token saturates instead of overflowing.
    #[test]
    fn an_absurd_expires_in_saturates() {
        let r = refresh_outcome(
            200,
            r#"{"access_token":"opaque","expires_in":18446744073709551615}"#,
            1_786_170_000,
        )
        .expect("refreshed");
        assert_eq!(r.expires_at, Some(u64::MAX));
    }

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b() {
        let random: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212,
            37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let p = pkce_from_entropy(&random);
        assert_eq!(p.verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(pkce_from_entropy(&[7u8; 64]).verifier.len(), 86);
    }

    #[test]
    fn authorize_url_shape() {
        let u = authorize_url(ISSUER, REDIRECT_URI, "CH", "ST", false);
        assert_eq!(
            u,
            "https://auth.openai.com/oauth/authorize?response_type=code\
             &client_id=app_EMoamEEZ73f0CkXaXp7hrann\
             &redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback\
             &scope=openid%20profile%20email%20offline_access\
             &code_challenge=CH&code_challenge_method=S256\
             &id_token_add_organizations=true&codex_cli_simplified_flow=true\
             &state=ST&originator=codex_cli_rs"
        );
        assert!(authorize_url(ISSUER, REDIRECT_URI, "c", "s", true).ends_with("&prompt=login"));
    }

    #[test]
    fn bodies() {
        assert_eq!(
            code_exchange_body("a b", REDIRECT_URI, "v"),
            "grant_type=authorization_code&code=a%20b\
             &redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback\
             &client_id=app_EMoamEEZ73f0CkXaXp7hrann&code_verifier=v"
        );
        let r: Value = serde_json::from_str(&refresh_body("rt_1")).expect("json");
        assert_eq!(r["grant_type"], "refresh_token");
        assert_eq!(r["refresh_token"], "rt_1");
    }

    #[test]
    fn claims() {
        let payload = serde_json::json!({
            "exp": 1786200000u64,
            "https://api.openai.com/auth": {"chatgpt_account_id": "acc-1", "chatgpt_plan_type": "plus", "user_id": "u1"},
            "https://api.openai.com/profile": {"email": "a@b.c"}
        });
        let jwt = format!(
            "e30.{}.sig",
            URL_SAFE_NO_PAD.encode(payload.to_string().as_bytes())
        );
        let c = read_claims(&jwt).expect("claims");
        assert_eq!(c.account_id.as_deref(), Some("acc-1"));
        assert_eq!(c.plan_type.as_deref(), Some("plus"));
        assert_eq!(c.user_id.as_deref(), Some("u1"));
        assert_eq!(c.email.as_deref(), Some("a@b.c"));
        assert_eq!(c.exp, Some(1786200000));
        assert_eq!(read_claims("nope"), Err(JwtError::Shape));
        assert_eq!(read_claims("a.!!!.c"), Err(JwtError::Base64));
    }

    #[test]
    fn token_errors() {
        let e = token_error(
            401,
            r#"{"error":{"message":"used","type":"invalid_request_error","code":"refresh_token_reused"}}"#,
        );
        assert_eq!(e.code, "refresh_token_reused");
        assert!(e.permanent);
        let e = token_error(400, r#"{"error":"invalid_grant","error_description":"x"}"#);
        assert!(e.permanent);
        assert!(!token_error(503, "oops").permanent);
    }
}
