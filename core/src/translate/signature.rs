//! The thinking-signature envelope: how a Codex reasoning item survives a round trip through
//! an Anthropic client.
//!
//! Claude Code replays `thinking` blocks with their `signature` unchanged and strips fields it
//! does not know, so everything needed to rebuild the reasoning item lives in the signature:
//! `ccp1.` + base64url (no padding) of compact JSON `{"v":1,"m":model,"a"?:account,"e":blob,"p":[part lengths]}`.
//! The model and account let a replay to another model or account drop the blob instead of
//! earning a 400 `invalid_encrypted_content`; the part lengths split the thinking text back
//! into the summary parts it was joined from.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "ccp1.";

/// Separator between summary parts inside one thinking block.
pub const PART_SEPARATOR: &str = "\n\n";

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    v: u8,
    m: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    a: Option<&'a str>,
    e: &'a str,
    p: &'a [usize],
}

/// A decoded envelope.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    /// Version, 1.
    pub v: u8,
    /// Upstream model that produced the blob.
    pub m: String,
    /// Account tag, when the host gave one.
    #[serde(default)]
    pub a: Option<String>,
    /// The backend's `encrypted_content`.
    pub e: String,
    /// Byte length of each summary part.
    #[serde(default)]
    pub p: Vec<usize>,
}

/// Build the signature for a reasoning item.
pub fn encode(model: &str, account: Option<&str>, encrypted: &str, parts: &[usize]) -> String {
    let json = serde_json::to_vec(&EnvelopeOut {
        v: 1,
        m: model,
        a: account,
        e: encrypted,
        p: parts,
    })
    .unwrap_or_default();
    let mut out = String::with_capacity(PREFIX.len() + json.len() * 4 / 3 + 4);
    out.push_str(PREFIX);
    URL_SAFE_NO_PAD.encode_string(&json, &mut out);
    out
}

/// Decode a signature; `None` for anything that is not a whole envelope of ours.
pub fn decode(signature: &str) -> Option<Envelope> {
    let body = signature.strip_prefix(PREFIX)?;
    let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
    let env: Envelope = serde_json::from_slice(&bytes).ok()?;
    (env.v == 1).then_some(env)
}

/// Split thinking text back into summary parts by byte lengths; `None` if they don't fit.
pub fn split_parts<'a>(text: &'a str, lens: &[usize]) -> Option<Vec<&'a str>> {
    let mut parts = Vec::with_capacity(lens.len());
    let mut rest = text;
    for (i, &len) in lens.iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(PART_SEPARATOR)?;
        }
        if len > rest.len() || !rest.is_char_boundary(len) {
            return None;
        }
        let (part, tail) = rest.split_at(len);
        parts.push(part);
        rest = tail;
    }
    rest.is_empty().then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = encode("gpt-5.5", Some("acct1"), "gAAAA", &[3, 4]);
        assert!(s.starts_with("ccp1."));
        let e = decode(&s).expect("decodes");
        assert_eq!(e.m, "gpt-5.5");
        assert_eq!(e.a.as_deref(), Some("acct1"));
        assert_eq!(e.p, vec![3, 4]);
        assert!(decode(&s[..s.len() - 3]).is_none(), "clipped");
        assert!(decode("EqQBCgIYAhIM").is_none(), "foreign");
    }

    #[test]
    fn split() {
        assert_eq!(
            split_parts("abc\n\ndefg", &[3, 4]),
            Some(vec!["abc", "defg"])
        );
        assert_eq!(split_parts("abc\n\ndefg", &[3, 3]), None);
        assert_eq!(split_parts("", &[]), Some(vec![]));
    }
}
