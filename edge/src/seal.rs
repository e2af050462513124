//! Tokens at rest: every account value in Workers KV is sealed with XChaCha20-Poly1305 under a
//! key derived from the `SEAL_KEY` secret, bound to its KV key (so a value cannot be moved to
//! another account's key), so a leaked namespace leaks no token.
//!
//! Format: `ccs1.` + base64url(24-byte nonce ‖ ciphertext ‖ tag).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

const PREFIX: &str = "ccs1.";

/// The sealing key, from the secret's text (any length; SHA-256 makes it 32 bytes).
pub struct SealKey(XChaCha20Poly1305);

impl SealKey {
    /// Derive the key from the `SEAL_KEY` secret.
    pub fn from_secret(secret: &str) -> Self {
        let k = Sha256::digest(format!("codex-claude-proxy seal v1\0{secret}").as_bytes());
        Self(XChaCha20Poly1305::new(&k))
    }

    /// Seal `plain` for the KV key `aad` with a fresh random nonce.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<String, String> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
        self.seal_with(&nonce, aad, plain)
    }

    fn seal_with(&self, nonce: &[u8; 24], aad: &str, plain: &[u8]) -> Result<String, String> {
        let ct = self
            .0
            .encrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| "sealing failed".to_owned())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Open a value sealed for `aad`; a wrong key, another KV key or a damaged value is an
    /// error that says so (never the value).
    pub fn open(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, String> {
        let raw = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|r| r.len() > 24 + 16)
            .ok_or_else(|| format!("the stored value of {aad} is not a sealed value"))?;
        let (nonce, ct) = raw.split_at(24);
        self.0
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() })
            .map_err(|_| format!("the stored value of {aad} cannot be opened with this SEAL_KEY (a different key sealed it, or it was altered)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_their_kv_key() {
        let k = SealKey::from_secret("s3cret");
        let v = k.seal_with(&[7; 24], "account:a", b"token").expect("seal");
        assert!(v.starts_with("ccs1.") && !v.contains("token"));
        assert_eq!(k.open("account:a", &v).expect("open"), b"token");
        assert!(k.open("account:b", &v).is_err(), "moved to another key");
        let e = SealKey::from_secret("other")
            .open("account:a", &v)
            .expect_err("wrong key");
        assert!(e.contains("cannot be opened with this SEAL_KEY"), "{e}");
        let mut bad = v.clone();
        bad.pop();
        assert!(k.open("account:a", &bad).is_err());
        assert!(k.open("account:a", "plain").is_err());
    }
}
