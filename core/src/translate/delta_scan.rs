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
    /// Which delta event it is (its `type`).
    pub kind: DeltaKind,
    /// The item the piece belongs to.
    pub item_id: Option<Cow<'a, str>>,
    /// The piece, as it stands in the event (see [`DeltaEvent::text`]).
    delta: Piece<'a>,
}

/// A delta's text as it stands in the event's data.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    /// No escapes: the text itself.
    Plain(&'a str),
    /// The JSON string's body with its one-letter escapes (`\n`, `\"`, …) still in; no `\u`.
    Escaped(&'a str),
    /// Decoded already (it had a `\u` escape, which serde_json decodes).
    Owned(String),
}

impl DeltaEvent<'_> {
    /// The piece's text.
    pub fn text(&self) -> Cow<'_, str> {
        match &self.delta {
            Piece::Plain(s) => Cow::Borrowed(s),
            Piece::Escaped(s) => Cow::Owned(unescape(s)),
            Piece::Owned(s) => Cow::Borrowed(s),
        }
    }

    /// Where the piece lies in `data` (the event's data it was read from), to take it out
    /// with [`TextPlan::text`] once the event's borrows of `data` are over.
    pub fn plan(self, data: &str) -> TextPlan {
        // The offset of a slice of `data` (a piece always is one; checked all the same).
        let at = |piece: &str| {
            piece
                .as_ptr()
                .addr()
                .checked_sub(data.as_ptr().addr())
                .filter(|at| at + piece.len() <= data.len())
        };
        match self.delta {
            Piece::Plain(p) => match at(p) {
                Some(at) => TextPlan::Slice {
                    at,
                    len: p.len(),
                    escaped: false,
                },
                None => TextPlan::Owned(p.to_owned()),
            },
            Piece::Escaped(p) => match at(p) {
                Some(at) => TextPlan::Slice {
                    at,
                    len: p.len(),
                    escaped: true,
                },
                None => TextPlan::Owned(unescape(p)),
            },
            Piece::Owned(s) => TextPlan::Owned(s),
        }
    }
}

/// How to take a delta's text out of its event's data buffer: see [`DeltaEvent::plan`].
#[derive(Debug)]
pub enum TextPlan {
    /// `data[at..at + len]`, JSON-escaped if `escaped`.
    Slice {
        /// Byte offset in the data.
        at: usize,
        /// Byte length in the data.
        len: usize,
        /// One-letter escapes are still in.
        escaped: bool,
    },
    /// The text, decoded already.
    Owned(String),
}

/// Bytes of spare capacity an event's data buffer may carry when it is kept as a delta's text.
const REUSE_SLACK: usize = 512;

impl TextPlan {
    /// The text, in `data`'s own buffer when that does not hold on to much more than the
    /// text (one allocation less an event), else in a new one.
    pub fn text(self, data: String) -> String {
        let (at, len, escaped) = match self {
            TextPlan::Owned(s) => return s,
            TextPlan::Slice { at, len, escaped } => (at, len, escaped),
        };
        if data.capacity() > len + REUSE_SLACK {
            let piece = data.get(at..at + len).unwrap_or_default();
            return if escaped {
                unescape(piece)
            } else {
                piece.to_owned()
            };
        }
        if !escaped {
            let mut text = data;
            text.truncate(at + len);
            text.drain(..at);
            return text;
        }
        let mut bytes = data.into_bytes();
        let end = unescape_in_place(&mut bytes, at, len);
        bytes.truncate(end);
        // Escapes only turn ASCII into ASCII, so this is UTF-8; the check is cheap.
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// A JSON string body with one-letter escapes only, decoded.
fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let esc = rest.as_bytes().get(i + 1).copied().unwrap_or(b'\\');
        out.push(char::from(unescaped(esc)));
        rest = rest.get(i + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Decode the escaped body at `bytes[at..at + len]` to the start of `bytes`; its new length.
fn unescape_in_place(bytes: &mut [u8], at: usize, len: usize) -> usize {
    let (mut r, mut w) = (at, 0);
    while r < at + len {
        let c = bytes[r];
        if c == b'\\' && r + 1 < at + len {
            bytes[w] = unescaped(bytes[r + 1]);
            r += 2;
        } else {
            bytes[w] = c;
            r += 1;
        }
        w += 1;
    }
    w
}

/// The byte a one-letter escape stands for.
fn unescaped(esc: u8) -> u8 {
    match esc {
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        other => other,
    }
}

/// The event types the fast path serves: those whose translation needs only the three fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaKind {
    /// `response.output_text.delta`.
    OutputText,
    /// `response.function_call_arguments.delta`.
    FunctionCallArguments,
    /// `response.reasoning_summary_text.delta`.
    ReasoningSummaryText,
    /// `response.refusal.delta`.
    Refusal,
}

impl DeltaKind {
    const ALL: [Self; 4] = [
        Self::OutputText,
        Self::FunctionCallArguments,
        Self::ReasoningSummaryText,
        Self::Refusal,
    ];

    /// The kind of an event `type`, if it is one of the four.
    pub fn from_type(ty: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == ty)
    }

    /// The event `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutputText => "response.output_text.delta",
            Self::FunctionCallArguments => "response.function_call_arguments.delta",
            Self::ReasoningSummaryText => "response.reasoning_summary_text.delta",
            Self::Refusal => "response.refusal.delta",
        }
    }
}

/// Fields the serde path reads; if one of them (other than the three above) is present the
/// event is left to serde, which reads it with its own type and duplicate rules.
const SERDE_FIELDS: [&[u8]; 5] = [b"item", b"response", b"error", b"code", b"message"];

/// Nesting kept by the skipper (serde's own limit is 128; deltas have none).
const MAX_DEPTH: usize = 16;

/// Read a delta event, or `None` when the serde path must decide.
pub fn scan(data: &str) -> Option<DeltaEvent<'_>> {
    scan_full(data, None)
}

/// A delta-event reader that learns the shape of the upstream's events.
///
/// Consecutive delta events differ only in their values: the keys, their order and the
/// punctuation repeat. After a full [`scan`] accepts an event, its *shape* is kept: the event's
/// bytes with every top-level string value and the `sequence_number` cut out as holes (see
/// [`RELEARN_LIMIT`] for other numbers). The next event is
/// first matched against the shape: literal bytes must be equal, each hole must hold one valid
/// token of its kind (a string or a number), and the event must end where the shape ends.
///
/// Why this is as exact as the full scan: a matching event is the learned event with some
/// string tokens replaced by valid string tokens and some number tokens by valid number
/// tokens. It is therefore valid JSON with the same keys in the same order and the same other
/// values, so serde accepts it as it accepted the learned one, and the three fields are read
/// from their holes exactly as the full scan reads them. Anything else falls back to the
/// full scan (which relearns the shape) and then to serde.
#[derive(Debug, Default)]
pub struct DeltaScanner {
    shape: Shape,
    /// Where the next shape is learned (kept to reuse its buffers).
    scratch: Shape,
    /// Shapes learned in a row without one being matched since.
    misses: u32,
    /// Every number value is a hole (see [`RELEARN_LIMIT`]).
    numbers_vary: bool,
}

/// Number values other than `sequence_number` are kept as literals (`output_index` and
/// `content_index` are the same for every delta of an item), which makes matching cheaper. If
/// some other number does change from event to event, every event misses and is learned
/// again; after this many misses in a row, every number becomes a hole for the rest of the
/// stream.
const RELEARN_LIMIT: u32 = 8;

/// The learned shape: literal runs in `bytes`, and the holes between them.
#[derive(Debug, Default)]
struct Shape {
    bytes: Vec<u8>,
    segs: Vec<Seg>,
    /// The event type, which stays in the literal bytes (so a matching event has it too).
    kind: Option<DeltaKind>,
    /// Learn every number value as a hole, not only `sequence_number`'s.
    numbers_vary: bool,
}

#[derive(Debug, Clone, Copy)]
enum Seg {
    /// `bytes[start..end]` must come next.
    Lit(usize, usize),
    /// A string token; the value of `Field` is read from it.
    Str(Field),
    /// A number token.
    Num,
    /// The `item_id` string token, which must equal `bytes[start..end]` (it is the same for
    /// every delta of an item; a new item means a new shape). Only one without escapes is
    /// kept this way, so its value is the bytes between the quotes.
    ItemId(usize, usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    ItemId,
    Delta,
    /// `summary_index` (reasoning summary deltas carry it; serde reads it as `Option<u64>`).
    SummaryIndex,
    Other,
}

impl DeltaScanner {
    /// A scanner that has learned nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Read a delta event, or `None` when the serde path must decide.
    pub fn scan<'a>(&mut self, data: &'a str) -> Option<DeltaEvent<'a>> {
        if let Some(ev) = self.shape.read(data) {
            self.misses = 0;
            return Some(ev);
        }
        self.numbers_vary |= self.misses >= RELEARN_LIMIT;
        let next = &mut self.scratch;
        next.bytes.clear();
        next.segs.clear();
        next.numbers_vary = self.numbers_vary;
        let ev = scan_full(data, Some(next))?;
        // Only a delta event replaces the shape: other events between deltas leave it.
        std::mem::swap(&mut self.shape, &mut self.scratch);
        self.misses += 1;
        Some(ev)
    }
}

impl Shape {
    fn read<'a>(&self, data: &'a str) -> Option<DeltaEvent<'a>> {
        if self.segs.is_empty() {
            return None;
        }
        let mut s = Scanner::new(data);
        let (mut item_id, mut delta) = (None, None);
        for seg in &self.segs {
            match *seg {
                Seg::Lit(start, end) => {
                    let lit = &self.bytes[start..end];
                    if !starts_with(&s.b[s.at..], lit) {
                        return None;
                    }
                    s.at += lit.len();
                }
                Seg::ItemId(start, end) => {
                    let lit = &self.bytes[start..end];
                    if !starts_with(&s.b[s.at..], lit) {
                        return None;
                    }
                    item_id = Some(Cow::Borrowed(data.get(s.at + 1..s.at + lit.len() - 1)?));
                    s.at += lit.len();
                }
                Seg::Num => s.number()?,
                Seg::Str(Field::Other) => {
                    s.raw_string(false)?;
                }
                Seg::Str(field) => {
                    let raw = s.raw_string(true)?;
                    let value = Some(unquote(data, raw, s.at, s.escaped)?);
                    match field {
                        Field::ItemId => item_id = value.map(Piece::into_cow),
                        _ => delta = value,
                    }
                }
            }
        }
        if s.at != s.b.len() {
            return None;
        }
        Some(DeltaEvent {
            kind: self.kind?,
            item_id,
            delta: delta?,
        })
    }

    /// The literal bytes from `from` up to a hole starting at `to`, then the hole.
    fn cut(&mut self, data: &[u8], from: usize, to: usize, hole: Seg) {
        self.lit(data, from, to);
        self.segs.push(hole);
    }

    /// The literal bytes from `from` up to the item id token at `to..end`, then the token.
    fn cut_item_id(&mut self, data: &[u8], from: usize, to: usize, end: usize) {
        self.lit(data, from, to);
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&data[to..end]);
        self.segs.push(Seg::ItemId(start, self.bytes.len()));
    }

    fn lit(&mut self, data: &[u8], from: usize, to: usize) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&data[from..to]);
        self.segs.push(Seg::Lit(start, self.bytes.len()));
    }
}

/// The full scan; with `shape`, also records the event's shape (top-level string and number
/// values become holes).
fn scan_full<'a>(data: &'a str, mut shape: Option<&mut Shape>) -> Option<DeltaEvent<'a>> {
    let mut s = Scanner::new(data);
    // End of the bytes already given to the shape.
    let mut taken = 0;
    let (mut kind, mut item_id, mut delta) = (None, None, None);
    // serde rejects a duplicate known field, so a second one sends the event to serde.
    let mut summary_index = false;
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
            let field = match key {
                b"\"type\"" => Field::Type,
                b"\"item_id\"" => Field::ItemId,
                b"\"delta\"" => Field::Delta,
                b"\"summary_index\"" => Field::SummaryIndex,
                _ if s.escaped => return None,
                _ if SERDE_FIELDS.contains(&&key[1..key.len() - 1]) => return None,
                _ => Field::Other,
            };
            let value_start = s.at;
            let hole = match field {
                Field::Type => {
                    if kind.is_some() {
                        // serde rejects a duplicate known field.
                        return None;
                    }
                    let raw = s.raw_string(true)?;
                    let value = unquote(data, raw, s.at, s.escaped)?;
                    // Not a delta event: serde's turn, without scanning the rest.
                    kind = Some(DeltaKind::from_type(&value.into_cow())?);
                    // The type stays in the shape's literal bytes.
                    None
                }
                Field::ItemId | Field::Delta => {
                    let slot = if field == Field::ItemId {
                        &mut item_id
                    } else {
                        &mut delta
                    };
                    if slot.is_some() {
                        return None;
                    }
                    let raw = s.raw_string(true)?;
                    *slot = Some(unquote(data, raw, s.at, s.escaped)?);
                    Some(Seg::Str(field))
                }
                Field::SummaryIndex => {
                    if std::mem::replace(&mut summary_index, true) {
                        return None;
                    }
                    // Kept as a literal in the shape: it is the same for a part's deltas.
                    s.optional_u64()?;
                    None
                }
                Field::Other => {
                    let first = s.peek()?;
                    s.skip_value(0)?;
                    let varies = key == b"\"sequence_number\""
                        || shape.as_ref().is_some_and(|sh| sh.numbers_vary);
                    match first {
                        b'"' => Some(Seg::Str(Field::Other)),
                        b'-' | b'0'..=b'9' if varies => Some(Seg::Num),
                        _ => None,
                    }
                }
            };
            if let (Some(shape), Some(hole)) = (shape.as_deref_mut(), hole) {
                if field == Field::ItemId && !s.escaped {
                    shape.cut_item_id(s.b, taken, value_start, s.at);
                } else {
                    shape.cut(s.b, taken, value_start, hole);
                }
                taken = s.at;
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
    let kind = kind?;
    if let Some(shape) = shape {
        shape.lit(s.b, taken, s.at);
        shape.kind = Some(kind);
    }
    Some(DeltaEvent {
        kind,
        item_id: item_id.map(Piece::into_cow),
        delta: delta?,
    })
}

/// Whether `hay` begins with `lit`, eight bytes a compare (the literals are short, and a
/// library `memcmp` call per literal costs more than the compare).
fn starts_with(hay: &[u8], lit: &[u8]) -> bool {
    let n = lit.len();
    let Some(hay) = hay.get(..n) else {
        return false;
    };
    if n < 8 {
        return hay.iter().zip(lit).all(|(a, b)| a == b);
    }
    let word = |b: &[u8], at: usize| {
        let mut w = [0; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let mut at = 0;
    while at + 8 <= n {
        if word(hay, at) != word(lit, at) {
            return false;
        }
        at += 8;
    }
    // The tail as the last eight bytes (overlapping what was compared).
    at == n || word(hay, n - 8) == word(lit, n - 8)
}

/// The value of a string token that ended at byte `end` of `data` (`escaped`: the scanner saw
/// a backslash in it). A `\u` escape is decoded by serde_json, which also rejects what serde
/// would reject (a lone surrogate).
#[inline]
fn unquote<'a>(data: &'a str, raw: &[u8], end: usize, escaped: bool) -> Option<Piece<'a>> {
    let start = end - raw.len();
    // Quotes are ASCII, so both ends are char boundaries.
    let inner = data.get(start + 1..end - 1)?;
    if !escaped {
        return Some(Piece::Plain(inner));
    }
    if inner.contains("\\u") {
        return serde_json::from_str::<String>(data.get(start..end)?)
            .ok()
            .map(Piece::Owned);
    }
    Some(Piece::Escaped(inner))
}

impl<'a> Piece<'a> {
    fn into_cow(self) -> Cow<'a, str> {
        match self {
            Piece::Plain(s) => Cow::Borrowed(s),
            Piece::Escaped(s) => Cow::Owned(unescape(s)),
            Piece::Owned(s) => Cow::Owned(s),
        }
    }
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
    /// The last string token had a backslash escape.
    escaped: bool,
}

impl<'a> Scanner<'a> {
    fn new(data: &'a str) -> Self {
        Self {
            b: data.as_bytes(),
            at: 0,
            escaped: false,
        }
    }

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
        self.escaped = false;
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
                b'\\' => {
                    self.escaped = true;
                    match *b.get(i)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 1,
                        b'u' if unicode => {
                            let hex = b.get(i + 1..i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            i += 5;
                        }
                        _ => return None,
                    }
                }
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

    /// `null` or an integer that serde reads as a `u64` (no sign, fraction or exponent, and
    /// in range); anything else is left to serde, which would reject it.
    fn optional_u64(&mut self) -> Option<()> {
        if self.peek()? == b'n' {
            return self.literal(b"null");
        }
        let b = self.b;
        let start = self.at;
        let mut i = start;
        let mut value: u64 = 0;
        while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || (digits > 1 && b[start] == b'0') {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = b.get(i) {
            return None;
        }
        self.at = i;
        Some(())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    #[inline]
    fn number(&mut self) -> Option<()> {
        let b = self.b;
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let mut i = self.at;
        i += usize::from(b.get(i) == Some(&b'-'));
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                i += 1;
                while digit(i) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digit(i) {
                return None;
            }
            while digit(i) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !digit(i) {
                return None;
            }
            while digit(i) {
                i += 1;
            }
        }
        self.at = i;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::responses::UpEvent;

    /// What the serde path reads, in the fast path's shape (None when it would not apply).
    fn via_serde(data: &str) -> Option<(DeltaKind, Option<String>, String)> {
        let ev: UpEvent<'_> = serde_json::from_str(data).ok()?;
        let kind = DeltaKind::from_type(&ev.ty?)?;
        Some((
            kind,
            ev.item_id.map(Cow::into_owned),
            ev.delta?.into_owned(),
        ))
    }

    fn fields(d: &DeltaEvent<'_>) -> (DeltaKind, Option<String>, String) {
        (
            d.kind,
            d.item_id.as_deref().map(str::to_owned),
            d.text().into_owned(),
        )
    }

    #[test]
    fn the_text_comes_out_of_the_data_buffer_decoded() {
        for (data, text) in [
            (
                r#"{"type":"response.output_text.delta","delta":"plain"}"#,
                "plain",
            ),
            (
                r#"{"type":"response.output_text.delta","delta":"a\nb\t\"c\" \\ \/ \b\f\r"}"#,
                "a\nb\t\"c\" \\ / \u{8}\u{c}\r",
            ),
            (
                r#"{"type":"response.output_text.delta","delta":"\u00e9\n"}"#,
                "é\n",
            ),
            (
                r#"{"type":"response.output_text.delta","delta":"é 漢 \"🦀\""}"#,
                "é 漢 \"🦀\"",
            ),
        ] {
            let d = scan(data).expect(data);
            assert_eq!(d.text(), text);
            // Small buffer: reused in place; big buffer: copied out.
            let small = data.to_owned();
            let d = scan(&small).expect(data);
            assert_eq!(d.plan(&small).text(small), text);
            let mut big = String::with_capacity(4096);
            big.push_str(data);
            let d = scan(&big).expect(data);
            assert_eq!(d.plan(&big).text(big), text);
        }
    }

    /// The scanner's field lists must cover every field serde reads: a new `UpEvent` field
    /// the scanner does not know about could make it accept what serde rejects.
    #[test]
    fn the_scanner_knows_every_field_serde_reads() {
        use serde::de::value::Error;
        use serde::de::{Deserialize, Deserializer, Error as _, Visitor};
        struct FieldNames<'a>(&'a mut &'static [&'static str]);
        impl<'de> Deserializer<'de> for FieldNames<'_> {
            type Error = Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
                Err(Error::custom("only structs"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Error> {
                *self.0 = fields;
                Err(Error::custom("recorded"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut fields: &'static [&'static str] = &[];
        let _ = UpEvent::deserialize(FieldNames(&mut fields));
        let mut serde_reads: Vec<&str> = fields.to_vec();
        let mut scanner_knows: Vec<&str> = ["type", "item_id", "delta", "summary_index"]
            .into_iter()
            .chain(
                SERDE_FIELDS
                    .iter()
                    .filter_map(|f| std::str::from_utf8(f).ok()),
            )
            .collect();
        serde_reads.sort_unstable();
        scanner_knows.sort_unstable();
        assert_eq!(serde_reads, scanner_knows);
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
            r#"{"type":"response.reasoning_summary_text.delta","delta":"a","summary_index":null}"#,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"a","summary_index":-1}"#,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"a","summary_index":1.0}"#,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"a","summary_index":18446744073709551616}"#,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"a","summary_index":18446744073709551615}"#,
            r#"{"type":"response.reasoning_summary_text.delta","delta":"a","summary_index":1,"summary_index":1}"#,
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
                assert_eq!(Some(fields(f)), via_serde(data), "{data}");
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
