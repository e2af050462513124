//! The client key: every request needs one of the configured keys (`x-api-key`, or
//! `Authorization: Bearer`), compared in constant time. Nothing is open by default.

use worker::Request;

/// Equal in time that depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Whether `given` is one of the comma-separated `keys` (every key is compared).
pub fn key_matches(keys: &str, given: &str) -> bool {
    keys.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .fold(false, |hit, k| {
            constant_time_eq(k.as_bytes(), given.as_bytes()) | hit
        })
}

/// `Ok` when the request carries a configured key; otherwise the message of the 401.
pub fn check(req: &Request, keys: Option<&str>) -> Result<(), String> {
    let Some(keys) = keys else {
        return Err("this Worker has no client key configured, so it answers nobody: set one with `wrangler secret put CLIENT_KEYS` (several keys: comma-separated) and send it as x-api-key (ANTHROPIC_API_KEY for Claude Code)".into());
    };
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let given = header("x-api-key").or_else(|| {
        header("authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
    });
    match given {
        Some(g) if key_matches(keys, &g) => Ok(()),
        _ => Err("invalid or missing client key (x-api-key)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_exactly() {
        assert!(key_matches("a1,b2", "b2"));
        assert!(key_matches(" a1 , b2 ", "a1"));
        assert!(!key_matches("a1,b2", "a"));
        assert!(!key_matches("a1,b2", "a12"));
        assert!(!key_matches("a1,,", ""));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"x", b""));
    }
}
