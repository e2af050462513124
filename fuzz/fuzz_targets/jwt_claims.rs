//! JWT claims (`proxy_core::oauth::read_claims`) and the token endpoint's answers
//! (`refresh_outcome`, `token_error`): never a panic on any text; an accepted token has
//! exactly three dot-separated parts; claims built into a token (padded or not) are read back
//! exactly (an empty claim reads as none); a refresh answer's tokens are taken verbatim and its
//! expiry comes from the access token's `exp`, else `now + expires_in` (saturating).
//!
//! Input: used as a token text, as a JWT payload (base64url of the bytes), as a token-endpoint
//! body, and as `arbitrary` claim values and token-endpoint fields.

#![no_main]

use arbitrary::Unstructured;
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use libfuzzer_sys::fuzz_target;
use proxy_core::oauth::{read_claims, refresh_outcome, token_error};
use serde_json::{Map, Value, json};

const NOW: u64 = 1_786_170_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // 1. The bytes as a token.
    if read_claims(&text).is_ok() {
        assert_eq!(text.split('.').count(), 3, "accepted a token without three parts");
    }
    // 2. The bytes as a payload.
    let jwt = format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(data));
    let parsed = serde_json::from_slice::<Value>(data);
    match read_claims(&jwt) {
        Ok(c) => {
            let v = parsed.expect("claims from a payload that is not JSON");
            assert!(v.is_object(), "claims from a payload that is not an object");
            assert_eq!(c.exp, v.get("exp").and_then(Value::as_u64), "exp");
            let text_at = |p: &str| v.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty());
            assert_eq!(
                c.email.as_deref(),
                text_at("/email").or_else(|| text_at("/https:~1~1api.openai.com~1profile/email")),
                "email"
            );
            assert_eq!(
                c.account_id.as_deref(),
                text_at("/https:~1~1api.openai.com~1auth/chatgpt_account_id"),
                "account id"
            );
        }
        Err(_) => assert!(!parsed.is_ok_and(|v| v.is_object()), "an object payload was refused"),
    }
    // 3. The bytes as a token-endpoint answer.
    for status in [200u16, 400, 401, 500] {
        match refresh_outcome(status, &text, NOW) {
            Ok(r) => {
                assert!((200..300).contains(&status), "Ok for status {status}");
                // serde reads a struct from an array too, and skips unknown fields without
                // checking their numbers' range: compare by name only for a plain object.
                let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                if !v.is_object() {
                    continue;
                }
                assert_eq!(Some(r.access_token.as_str()), v["access_token"].as_str(), "access token");
                assert_eq!(r.refresh_token.as_deref(), v["refresh_token"].as_str(), "refresh token");
                let exp = read_claims(&r.access_token).ok().and_then(|c| c.exp);
                match exp {
                    Some(e) => assert_eq!(r.expires_at, Some(e), "expiry from the token"),
                    None => assert_eq!(r.expires_at, v["expires_in"].as_u64().map(|s| NOW.saturating_add(s)), "expiry from expires_in"),
                }
            }
            // The message may be empty (an empty body); the code never is.
            Err(e) => assert!(!e.code.is_empty(), "token error without a code"),
        }
    }
    let e = token_error(401, &text);
    assert!(!e.code.is_empty(), "token_error: {e:?}");

    // 4. Claims round-trip through a token.
    let mut u = Unstructured::new(data);
    let Ok((account, plan, user, legacy_user, email, profile_email, exp, padded)) = u.arbitrary::<(
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<u64>,
        bool,
    )>() else {
        return;
    };
    let mut auth = Map::new();
    let put = |m: &mut Map<String, Value>, k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), json!(v));
        }
    };
    put(&mut auth, "chatgpt_account_id", &account);
    put(&mut auth, "chatgpt_plan_type", &plan);
    put(&mut auth, "chatgpt_user_id", &user);
    put(&mut auth, "user_id", &legacy_user);
    let mut payload = Map::new();
    payload.insert("https://api.openai.com/auth".into(), Value::Object(auth));
    put(&mut payload, "email", &email);
    if let Some(p) = &profile_email {
        payload.insert("https://api.openai.com/profile".into(), json!({"email": p}));
    }
    if let Some(exp) = exp {
        payload.insert("exp".into(), json!(exp));
    }
    let bytes = serde_json::to_vec(&Value::Object(payload)).expect("payload");
    let body = if padded { URL_SAFE.encode(&bytes) } else { URL_SAFE_NO_PAD.encode(&bytes) };
    let c = read_claims(&format!("eyJhbGciOiJub25lIn0.{body}.")).expect("a well-formed token");
    // An empty claim is no claim.
    let some = |v: Option<String>| v.filter(|s| !s.is_empty());
    assert_eq!(c.account_id, some(account));
    assert_eq!(c.plan_type, some(plan));
    assert_eq!(c.user_id, some(user).or(some(legacy_user)));
    assert_eq!(c.email, some(email).or(some(profile_email)));
    assert_eq!(c.exp, exp);

    // 5. A token-endpoint answer built from arbitrary fields.
    let Ok((opaque, expires_in, refresh, now)) = u.arbitrary::<(bool, Option<u64>, Option<String>, u32)>() else {
        return;
    };
    let access = if opaque { "opaque-access-token".to_owned() } else { format!("eyJhbGciOiJub25lIn0.{body}.") };
    let mut answer = json!({"access_token": access});
    if let Some(e) = expires_in {
        // Any lifetime, up to u64::MAX (finding F6): the expiry saturates.
        answer["expires_in"] = json!(e);
    }
    if let Some(r) = &refresh {
        answer["refresh_token"] = json!(r);
    }
    let now = u64::from(now);
    let r = refresh_outcome(200, &answer.to_string(), now).expect("a 2xx with an access token");
    assert_eq!(r.access_token, access);
    assert_eq!(r.refresh_token, refresh);
    let lifetime = answer["expires_in"].as_u64();
    let want = if opaque { None } else { exp }.or(lifetime.map(|s| now.saturating_add(s)));
    assert_eq!(r.expires_at, want, "expiry");
});
