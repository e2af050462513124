//! Lowercase hex, for the ids and tags the project makes of digest or random bytes (account
//! tags, hashed tool names, session UUIDs, OAuth states) and for JSON's `\u00xx` escapes.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The two lowercase hex digits of `b`.
pub fn byte(b: u8) -> [u8; 2] {
    [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]]
}

/// Append `bytes` to `out` as lowercase hex.
pub fn push(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        let [hi, lo] = byte(b);
        out.push(char::from(hi));
        out.push(char::from(lo));
    }
}

/// `bytes` as lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    push(&mut out, bytes);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_byte_is_written_as_format_writes_it() {
        let all: Vec<u8> = (0..=255).collect();
        let formatted: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::encode(&all), formatted);
        assert_eq!(super::encode(&[]), "");
    }
}
