//! Unsigned JWTs shaped like the ChatGPT id/access tokens (codex.md §4.4).

use crate::util::{Rng, b64url, now_secs, uuid_from};
use serde_json::{Value, json};

/// The Codex CLI OAuth client id the issuer fake insists on.
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";

/// Identity a token set is minted for.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) account_id: String,
    pub(crate) email: String,
}

impl Identity {
    pub(crate) fn user_id(&self) -> String {
        format!("user-{}", &uuid_from(&self.email).replace('-', "")[..24])
    }
}

fn encode(payload: &Value, rng: &mut Rng) -> String {
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64url(payload.to_string().as_bytes());
    format!("{header}.{body}.{}", rng.b64url(32))
}

fn auth_claim(id: &Identity) -> Value {
    json!({
        "chatgpt_account_id": id.account_id,
        "chatgpt_plan_type": "plus",
        "chatgpt_user_id": id.user_id(),
        "user_id": id.user_id(),
    })
}

pub(crate) fn id_token(id: &Identity, expires_in: u64, rng: &mut Rng) -> String {
    let now = now_secs();
    let mut auth = auth_claim(id);
    if let Some(m) = auth.as_object_mut() {
        m.insert(
            "organizations".into(),
            json!([{"id": format!("org-{}", rng.alnum(24)), "is_default": true, "role": "owner", "title": "Personal"}]),
        );
        m.insert("groups".into(), json!([]));
    }
    encode(
        &json!({
            "iss": "https://auth.openai.com",
            "aud": [CLIENT_ID],
            "sub": format!("auth0|{}", rng.alnum(24)),
            "email": id.email,
            "email_verified": true,
            "exp": now + expires_in,
            "iat": now,
            "auth_time": now,
            "auth_provider": "password",
            "jti": uuid_from(&rng.hex(32)),
            "https://api.openai.com/auth": auth,
            "https://api.openai.com/profile": {"email": id.email, "email_verified": true},
        }),
        rng,
    )
}

pub(crate) fn access_token(id: &Identity, expires_in: u64, rng: &mut Rng) -> String {
    let now = now_secs();
    encode(
        &json!({
            "iss": "https://auth.openai.com",
            "aud": ["https://api.openai.com/v1"],
            "client_id": CLIENT_ID,
            "sub": format!("auth0|{}", rng.alnum(24)),
            "email": id.email,
            "exp": now + expires_in,
            "iat": now,
            "jti": uuid_from(&rng.hex(32)),
            "scp": ["openid", "profile", "email", "offline_access"],
            "https://api.openai.com/auth": auth_claim(id),
            "https://api.openai.com/profile": {"email": id.email, "email_verified": true},
        }),
        rng,
    )
}

pub(crate) fn refresh_token(rng: &mut Rng) -> String {
    format!("rt_{}", rng.b64url(48))
}
