//! An exact fast path for the per-token delta events of a Codex stream.
//!
//! Nearly every event of a stream is one of four `*.delta` events, and the translator reads
//! three of their fields: `type`, `item_id` and `delta`. [`scan`] reads those fields with a
//! small hand-written scanner instead of the serde-derived [`UpEvent`](crate::wire::responses::UpEvent).
//!
//! Exactness rule: `scan` answers `Some` only when it has checked that the whole `data` is a
//! JSON object that serde would accept and that serde would read into the same three values.
//! Anything it is not sure of (a field the serde path reads differently, a duplicate key, a
//! `\u` escape or deep nesting in a skipped value, a non-string value) gives `None`, and the
//! caller takes the serde path. So the fast path can change speed, never output;
//! `tests::agrees_with_serde` and the proptests in core/tests/robustness.rs check it.

use std::borrow::Cow;

/// The fields of a delta event the translator uses.
#[derive(Debug, PartialEq, Eq)]
pub struct DeltaEvent<'a> {
    /// One of [`DELTA_TYPES`].
    pub ty: Cow<'a, str>,
    /// The item the piece belongs to.
    pub item_id: Option<Cow<'a, str>>,
    /// The piece.
    pub delta: Cow<'a, str>,
}

/// The event types the fast path serves: those whose translation needs only the three fields.
pub const DELTA_TYPES: [&str; 4] = [
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "response.reasoning_summary_text.delta",
    "response.refusal.delta",
];

/// Fields the serde path reads; if one of them (other than the three above) is present the
/// event is left to serde, which reads it with its own type and duplicate rules.
const SERDE_FIELDS: [&[u8]; 6] = [
    b"item",
    b"summary_index",
    b"response",
    b"error",
    b"code",
    b"message",
];

/// Nesting kept by the skipper (serde's own limit is 128; deltas have none).
const MAX_DEPTH: usize = 16;

/// Read a delta event, or `None` when the serde path must decide.
pub fn scan(data: &str) -> Option<DeltaEvent<'_>> {
    let mut s = Scanner {
        b: data.as_bytes(),
        at: 0,
    };
    let (mut ty, mut item_id, mut delta) = (None, None, None);
    s.ws();
    s.eat(b'{')?;
    s.ws();
    if !s.eat_if(b'}') {
        loop {
            s.ws();
            let key = s.raw_string(false)?;
            s.ws();
            s.eat(b':')?;
            s.ws();
            let slot = match key {
                b"\"type\"" => Some(&mut ty),
                b"\"item_id\"" => Some(&mut item_id),
                b"\"delta\"" => Some(&mut delta),
                _ if key.contains(&b'\\') => return None,
                _ if SERDE_FIELDS.contains(&&key[1..key.len() - 1]) => return None,
                _ => None,
            };
            match slot {
                Some(slot) => {
                    if slot.is_some() {
                        // serde rejects a duplicate known field.
                        return None;
                    }
                    let raw = s.raw_string(true)?;
                    *slot = Some(unquote(data, raw, s.at)?);
                }
                None => s.skip_value(0)?,
            }
            s.ws();
            if s.eat_if(b',') {
                continue;
            }
            s.eat(b'}')?;
            break;
        }
    }
    s.ws();
    if s.at != s.b.len() {
        return None;
    }
    let ty = ty?;
    if !DELTA_TYPES.contains(&ty.as_ref()) {
        return None;
    }
    Some(DeltaEvent {
        ty,
        item_id,
        delta: delta?,
    })
}

/// The value of a string token that ended at byte `end` of `data`: borrowed when it has no
/// escapes, else unescaped by serde_json (which also rejects what serde would reject).
fn unquote<'a>(data: &'a str, raw: &[u8], end: usize) -> Option<Cow<'a, str>> {
    let start = end - raw.len();
    let inner = &data[start + 1..end - 1];
    if !raw.contains(&b'\\') {
        // Quotes are ASCII, so both ends are char boundaries.
        return Some(Cow::Borrowed(inner));
    }
    if inner.contains("\\u") {
        // serde_json decodes `\u` escapes, surrogate pairs and their errors.
        return serde_json::from_str::<String>(&data[start..end])
            .ok()
            .map(Cow::Owned);
    }
    // Only the one-letter escapes (`raw_string` let no other through).
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let esc = rest.as_bytes().get(i + 1).copied()?;
        out.push(match esc {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            other => char::from(other),
        });
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// Bytes that end a run of plain string content: `"`, `\\` and the control characters.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// High bit set in the lowest byte of `x` (little-endian) that is `"`, `\\` or below 0x20;
/// bytes above the lowest hit may be flagged falsely (borrows), so only the lowest is used.
fn special_bytes(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero_byte(x ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    quote | backslash | control
}

struct Scanner<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.at).copied()
    }

    /// JSON whitespace, exactly serde_json's set.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.eat_if(c).then_some(())
    }

    fn eat_if(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    /// A string token, quotes included. Accepts only what JSON allows: no control bytes,
    /// escapes of the simple kinds, and `\u` with four hex digits when `unicode` (for values
    /// serde_json then unescapes, applying its surrogate rules); otherwise a `\u` is left to
    /// the serde path.
    #[inline(always)]
    fn raw_string(&mut self, unicode: bool) -> Option<&'a [u8]> {
        let b = self.b;
        let start = self.at;
        self.eat(b'"')?;
        let mut i = self.at;
        loop {
            // Eight bytes at a time while none of them is special, then one at a time.
            while let Some(word) = b.get(i..i + 8) {
                let mask = special_bytes(u64::from_le_bytes(word.try_into().ok()?));
                if mask != 0 {
                    i += (mask.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            let c = *b.get(i)?;
            i += 1;
            if !SPECIAL[usize::from(c)] {
                continue;
            }
            match c {
                b'"' => {
                    self.at = i;
                    return Some(&b[start..i]);
                }
                b'\\' => match *b.get(i)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 1,
                    b'u' if unicode => {
                        let hex = b.get(i + 1..i + 5)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        i += 5;
                    }
                    _ => return None,
                },
                // A raw control character, which JSON forbids inside a string.
                _ => return None,
            }
        }
    }

    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.raw_string(false).map(drop),
            b'{' | b'[' if depth >= MAX_DEPTH => None,
            b'{' => {
                self.at += 1;
                self.ws();
                if self.eat_if(b'}') {
                    return Some(());
                }
                loop {
                    self.ws();
                    self.raw_string(false)?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    if !self.eat_if(b',') {
                        return self.eat(b'}');
                    }
                }
            }
            b'[' => {
                self.at += 1;
                self.ws();
                if self.eat_if(b']') {
                    return Some(());
                }
                loop {
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    if !self.eat_if(b',') {
                        return self.eat(b']');
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.b.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        self.eat_if(b'-');
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat_if(b'.') {
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::responses::UpEvent;

    /// What the serde path reads, in the fast path's shape (None when it would not apply).
    fn via_serde(data: &str) -> Option<DeltaEvent<'static>> {
        let ev: UpEvent<'_> = serde_json::from_str(data).ok()?;
        let ty = ev.ty?.into_owned();
        DELTA_TYPES.contains(&ty.as_str()).then_some(())?;
        Some(DeltaEvent {
            ty: Cow::Owned(ty),
            item_id: ev.item_id.map(|c| Cow::Owned(c.into_owned())),
            delta: Cow::Owned(ev.delta?.into_owned()),
        })
    }

    #[test]
    fn agrees_with_serde() {
        let base = r#"{"type":"response.output_text.delta","sequence_number":6,"item_id":"msg_0a","output_index":1,"content_index":0,"delta":"{\"","logprobs":[],"obfuscation":"MssU"}"#;
        let cases = [
            base,
            r#"  {"type":"response.refusal.delta","delta":"no"}  "#,
            r#"{"delta":"x","type":"response.function_call_arguments.delta"}"#,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"a\nb\t\"c\" \\ \/","item_id":"rs_1"}"#,
            r#"{"type":"response.output_text.delta","delta":"\u00e9\ud83e\udd80"}"#,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"a","summary_index":0}"#,
            r#"{"type":"response.output_text.delta","delta":"\ud800"}"#,
            r#"{"type":"response.output_text.delta","delta":"\b\f\r\\u0041\\\\x"}"#,
            r#"{"type":"response.output_text.delta","delta":"end\\"}"#,
            r#"{"type":"response.output_text.delta","delta":"\u0041\n"}"#,
            r#"{"type":"response.output_text.delta","delta":"\u00"}"#,
            r#"{"type":"response.output_text.delta","delta":"x\"}"#,
            r#"{"type":"response.output_text.delta","delta":"x","delta":"y"}"#,
            r#"{"type":"response.output_text.delta","delta":null}"#,
            r#"{"type":"response.output_text.delta","delta":5}"#,
            r#"{"type":"response.output_text.delta"}"#,
            r#"{"type":"response.output_text.delta","delta":"x",}"#,
            r#"{"type":"response.output_text.delta","delta":"x"} x"#,
            r#"{"type":"response.output_text.delta","delta":"x","n":01}"#,
            r#"{"type":"response.output_text.delta","delta":"x","n":-1.5e+3,"b":[true,false,null,{"k":[[]]}]}"#,
            r#"{"type":"response.output_text.delta","delta":"x","n":1.}"#,
            r#"{"type":"response.output_text.delta","delta":"x","n":tru}"#,
            r#"{"type":"response.output_text.delta","delta":"x","item":null}"#,
            r#"{"type":"response.output_text.delta","delta":"x","message":"m"}"#,
            r#"{"type":"response.output_text.delta","delta":"x","item_id":null}"#,
            r#"{"type":"response.output_text.delta","delta":"x","ty\u0070e":"y"}"#,
            r#"{"type":"response.output_text.delta","delta":"tab	inside"}"#,
            r#"{"type":"response.output_text.delta","delta":"x","o":"\q"}"#,
            r#"{"type":"response.completed","delta":"x"}"#,
            r#"{"type":"response.output_text.delta","delta":"x","d":[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}"#,
            r#"{}"#,
            r#"[]"#,
            r#""#,
        ];
        for data in cases {
            let fast = scan(data);
            if let Some(f) = &fast {
                assert_eq!(Some(f), via_serde(data).as_ref(), "{data}");
            }
        }
        // The common shapes do take the fast path.
        for data in &cases[..5] {
            assert!(scan(data).is_some(), "{data}");
        }
        assert_eq!(
            scan(base).and_then(|d| d.item_id).as_deref(),
            Some("msg_0a")
        );
    }
}
