//! Byte-level facts about JSON text that is already known to be valid, for copying it to the
//! output instead of parsing and re-serializing it (`raw_history.rs`); and the writer of the
//! parsed values that are not copied ([`write_value`]).
//!
//! The output must be the bytes `serde_json` would write for the parsed value, so a piece of
//! the client's text may be copied only when it is already in that form: "canonical" here
//! means exactly what `serde_json::to_writer` produces for the value the text parses to.

/// Whether the body of a JSON string (the text between its quotes) is written back unchanged
/// by `serde_json`: its only escapes are the ones `serde_json` itself writes (`\"`, `\\`,
/// `\b`, `\f`, `\n`, `\r`, `\t`, and `\u00xx` in lowercase for the other control characters).
/// A `\/`, a `\u` of a printable character or of a surrogate, or an uppercase hex digit would
/// be unescaped by the parse and written differently.
pub(crate) fn canonical_string_body(body: &[u8]) -> bool {
    let Some(first) = memchr::memchr(b'\\', body) else {
        return true;
    };
    // The text is valid JSON, so every escape is one of JSON's, and only two kinds can be
    // written back differently: `\/` and `\u`. Finding just those pairs skips the common
    // escapes (a history's text has a `\n` every few dozen bytes) in two vectorized passes,
    // instead of stopping at each one. `rest` starts at the first backslash, so the runs of
    // backslashes `escapes` counts are whole.
    let rest = &body[first..];
    let escapes = |i: usize| rest[..i].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0;
    if UNICODE_ESCAPE
        .find_iter(rest)
        .any(|i| escapes(i) && !rest.get(i + 2..i + 6).is_some_and(canonical_control_escape))
    {
        return false;
    }
    !SLASH_ESCAPE.find_iter(rest).any(escapes)
}

/// The two escapes that may not be `serde_json`'s own ([`canonical_string_body`]).
static UNICODE_ESCAPE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\u"));
static SLASH_ESCAPE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\/"));

/// `00xx` (lowercase hex) for a control character that has no short escape.
fn canonical_control_escape(hex: &[u8]) -> bool {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    match (hex[0], hex[1], digit(hex[2]), digit(hex[3])) {
        (b'0', b'0', Some(hi), Some(lo)) => {
            let c = hi * 16 + lo;
            c < 0x20 && !matches!(c, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d)
        }
        _ => false,
    }
}

/// Deeper values are left to the parser, whose recursion limit (128) then decides.
const MAX_DEPTH: usize = 64;
/// Objects with more keys are left to the parser (the duplicate check here is quadratic).
const MAX_KEYS: usize = 64;
/// Integers with more digits might not fit the parser's `u64`/`i64` and come back as floats.
const MAX_DIGITS: usize = 18;

/// Whether valid JSON text `raw` is exactly what `serde_json::to_string` writes for the value
/// it parses to (with `preserve_order`): no whitespace, canonical strings, integers that
/// survive the round trip (no floats: their shortest form is the float writer's business),
/// and no duplicate keys (the parse keeps the last value at the first key's place).
pub(crate) fn canonical_compact(raw: &[u8]) -> bool {
    struct Frame<'a> {
        object: bool,
        expect_key: bool,
        keys: Vec<&'a [u8]>,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            c @ (b'{' | b'[') => {
                if stack.len() >= MAX_DEPTH {
                    return false;
                }
                stack.push(Frame {
                    object: c == b'{',
                    expect_key: c == b'{',
                    keys: Vec::new(),
                });
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            b',' => {
                if let Some(f) = stack.last_mut() {
                    f.expect_key = f.object;
                }
                i += 1;
            }
            b':' => i += 1,
            b'"' => {
                let Some(end) = string_end(raw, i + 1) else {
                    return false;
                };
                let body = &raw[i + 1..end];
                if !canonical_string_body(body) {
                    return false;
                }
                if let Some(f) = stack.last_mut().filter(|f| f.expect_key) {
                    if f.keys.len() >= MAX_KEYS || f.keys.contains(&body) {
                        return false;
                    }
                    f.keys.push(body);
                    f.expect_key = false;
                }
                i = end + 1;
            }
            b'-' | b'0'..=b'9' => {
                let len = raw[i..]
                    .iter()
                    .position(|c| !matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .unwrap_or(raw.len() - i);
                if !canonical_integer(&raw[i..i + len]) {
                    return false;
                }
                i += len;
            }
            b't' | b'n' => i += 4,
            b'f' => i += 5,
            _ => return false,
        }
    }
    true
}

/// The deepest nesting of arrays and objects in valid JSON text `raw`.
pub(crate) fn nesting(raw: &[u8]) -> usize {
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0);
    while i < raw.len() {
        match raw[i] {
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => match string_end(raw, i + 1) {
                Some(end) => i = end,
                None => return deepest,
            },
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// The index of the quote closing a string whose body starts at `from`.
fn string_end(raw: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let k = memchr::memchr2(b'"', b'\\', &raw[at..])?;
        if raw[at + k] == b'"' {
            return Some(at + k);
        }
        at += k + 2;
        if at > raw.len() {
            return None;
        }
    }
}

fn canonical_integer(n: &[u8]) -> bool {
    let digits = n.strip_prefix(b"-").unwrap_or(n);
    !digits.is_empty()
        && digits.len() <= MAX_DIGITS
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || digits.len() == 1)
        && n != b"-0"
}

/// Append canonical compact JSON text as the body of a JSON string: what `serde_json` writes
/// for the string holding that text. Such text has no control characters, so only quotes and
/// backslashes are escaped.
pub(crate) fn push_as_string_body(out: &mut Vec<u8>, text: &[u8]) {
    let mut at = 0;
    for i in memchr::memchr2_iter(b'"', b'\\', text) {
        out.extend_from_slice(&text[at..i]);
        out.push(b'\\');
        out.push(text[i]);
        at = i + 1;
    }
    out.extend_from_slice(&text[at..]);
}

/// Append `v` as `serde_json::to_writer` writes it, byte for byte, with a faster string
/// escaper: `serde_json` looks up every byte of a string in a table, which for a request's
/// long texts (the system prompt, the tools' descriptions) is most of writing them.
pub(crate) fn write_value(out: &mut Vec<u8>, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => push_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (k, (key, item)) in map.iter().enumerate() {
                if k > 0 {
                    out.push(b',');
                }
                push_string(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Append `s` as a JSON string, quotes included, as `serde_json` writes it: `"` and `\`
/// escaped, the control characters as `\b`, `\f`, `\n`, `\r`, `\t` or `\u00xx`, all else
/// as it is. Eight bytes are checked at a time; only a word with a byte to escape is walked.
pub(crate) fn push_string(out: &mut Vec<u8>, s: &str) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `w` is below 0x20, or is `"` or `\` (exact for any bytes).
    let needs_escape = |w: u64| {
        let below = w.wrapping_sub(ONES * 0x20) & !w;
        let quote = (w ^ (ONES * 0x22)).wrapping_sub(ONES) & !(w ^ (ONES * 0x22));
        let slash = (w ^ (ONES * 0x5c)).wrapping_sub(ONES) & !(w ^ (ONES * 0x5c));
        (below | quote | slash) & HIGH != 0
    };
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        while let Some(word) = b.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            if needs_escape(u64::from_le_bytes(w)) {
                break;
            }
            i += 8;
        }
        let Some(&c) = b.get(i) else { break };
        let short = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0..0x20 => b'u',
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[start..i]);
        out.push(b'\\');
        out.push(short);
        if short == b'u' {
            out.extend_from_slice(b"00");
            out.extend_from_slice(&crate::hex::byte(c));
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The definition, by serde_json: parse and write back.
    fn round_trip(raw: &str) -> Option<String> {
        serde_json::from_str::<Value>(raw)
            .ok()
            .map(|v| v.to_string())
    }

    #[test]
    fn strings_are_canonical_exactly_when_serde_writes_them_back() {
        for body in [
            r"plain",
            r#"a \"quote\" and \\ back"#,
            r"\b\f\n\r\t",
            r"\u0000\u001f\u0007",
            r"\u001F",
            r"\u0008",
            r"\u000a",
            r"\/",
            r"\u00e9",
            r"\ud83d\ude00",
            r"\u007f",
            "é and \u{7f} raw",
            // An escaped backslash before `u` or `/` is not an escape of those.
            r"\\u0041 and \\/",
            r"\\\u0041",
            r"\\\/",
            r"\\\\u0041",
            r"\n\\u00e9\n",
            r"x\u001f",
            r"x\u00",
        ] {
            let raw = format!("\"{body}\"");
            let same = round_trip(&raw).as_deref() == Some(raw.as_str());
            assert_eq!(canonical_string_body(body.as_bytes()), same, "{body}");
        }
    }

    #[test]
    fn compact_values_are_canonical_exactly_when_serde_writes_them_back() {
        for raw in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e\n"}}"#,
            r#"{"a":1, "b":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"x":1},"b":{"x":1}}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":-12}"#,
            r#"{"a":0}"#,
            r#"{"a":123456789012345678}"#,
            r#"{"a":12345678901234567890123}"#,
            r#"{"k\/":1}"#,
            r#"{"a":["x","x"]}"#,
            r#"[{"a":1},{"a":1}]"#,
            "{\"a\":\n1}",
            r#"{}"#,
            r#"{"":""}"#,
        ] {
            let same = round_trip(raw).as_deref() == Some(raw);
            // Conservative: floats are refused though some come back unchanged.
            let float = raw.contains('.');
            assert_eq!(canonical_compact(raw.as_bytes()), same && !float, "{raw}");
        }
    }

    #[test]
    fn deep_values_are_left_to_the_parser() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(!canonical_compact(deep.as_bytes()));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(canonical_compact(ok.as_bytes()));
    }

    proptest::proptest! {
        /// Strings of every escape class, and any text, written as serde_json writes them
        /// (whatever their alignment to the eight-byte words).
        #[test]
        fn strings_are_written_as_serde_writes_them(
            s in proptest::string::string_regex("[\\x00-\\x7f\"\\\\é😀]{0,40}").expect("regex"),
            pad in 0usize..8,
            any in ".{0,40}",
        ) {
            for text in [format!("{}{s}", "a".repeat(pad)), any] {
                let mut out = Vec::new();
                push_string(&mut out, &text);
                proptest::prop_assert_eq!(String::from_utf8(out).ok(), serde_json::to_string(&text).ok());
            }
        }
    }

    #[test]
    fn values_are_written_as_serde_writes_them() {
        let v: Value = serde_json::json!({
            "a": [1, -2, 3.5, 1e300, null, true, false, "x\u{1}\u{1f}\u{7f}\"\\/é"],
            "nested": {"deep": [[{"k": "v"}], []], "": {}},
            "big": u64::MAX, "neg": i64::MIN,
        });
        let mut out = Vec::new();
        write_value(&mut out, &v);
        assert_eq!(String::from_utf8(out).ok(), serde_json::to_string(&v).ok());
    }

    #[test]
    fn text_as_a_string_body_matches_serde() {
        let text = r#"{"cmd":"echo \"hi\" \\ there\n"}"#;
        let mut out = vec![b'"'];
        push_as_string_body(&mut out, text.as_bytes());
        out.push(b'"');
        assert_eq!(
            String::from_utf8(out).ok(),
            serde_json::to_string(text).ok()
        );
    }
}
