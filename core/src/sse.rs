//! Server-sent events: an incremental decoder and an encoder.
//!
//! [`SseDecoder`] takes bytes in any chunking and yields [`SseItem`]s; the output never depends
//! on where the chunks were split (a CR at the end of one chunk and an LF at the start of the
//! next are one line ending; a UTF-8 character split across chunks is joined before decoding).
//! Lines end in LF, CRLF or CR. Memory is bounded by the largest single event: an event or a
//! line over [`SseDecoder::MAX_EVENT_BYTES`] is discarded and reported once as
//! [`SseItem::Oversized`].

use std::collections::VecDeque;

/// One decoded unit of an SSE stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A dispatched event: its `event:` name (if any) and its data lines joined with `\n`.
    Event {
        /// The `event:` field, if the event had one.
        event: Option<String>,
        /// The data lines, joined with `\n`.
        data: String,
    },
    /// A comment line (`: text`), text without the leading colon and one optional space.
    Comment(String),
    /// An event that exceeded the size bound was discarded.
    Oversized,
}

/// Incremental SSE decoder (WHATWG event-stream rules, minus `id`/`retry` which no upstream
/// here uses).
#[derive(Debug)]
pub struct SseDecoder {
    /// Bytes of the line not yet terminated.
    partial: Vec<u8>,
    /// The previous chunk ended in CR: a leading LF of the next chunk belongs to it.
    after_cr: bool,
    /// No line has been completed yet (a BOM is stripped from the first line only).
    first_line: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// The current event grew past the bound; skip it until its end.
    discarding: bool,
    out: VecDeque<SseItem>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// Largest event (or line) kept; larger ones are dropped and reported.
    pub const MAX_EVENT_BYTES: usize = 32 * 1024 * 1024;

    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self {
            partial: Vec::new(),
            after_cr: false,
            first_line: true,
            event: None,
            data: String::new(),
            has_data: false,
            discarding: false,
            out: VecDeque::new(),
        }
    }

    /// Feed the next bytes of the stream.
    pub fn push(&mut self, mut bytes: &[u8]) {
        // An empty chunk changes nothing: in particular a CR's pending LF stays pending (found
        // by fuzzing: "…\r" + "" + "\n…" was read as two line endings).
        if bytes.is_empty() {
            return;
        }
        if self.after_cr {
            self.after_cr = false;
            if let [b'\n', rest @ ..] = bytes {
                bytes = rest;
            }
        }
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', bytes) {
            let is_cr = bytes[pos] == b'\r';
            if self.partial.is_empty() {
                self.line(&bytes[..pos]);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&bytes[..pos]);
                self.line(&line);
                line.clear();
                self.partial = line;
            }
            bytes = &bytes[pos + 1..];
            if is_cr {
                match bytes {
                    [b'\n', rest @ ..] => bytes = rest,
                    [] => self.after_cr = true,
                    _ => {}
                }
            }
        }
        if !bytes.is_empty() {
            if self.partial.len() + bytes.len() > Self::MAX_EVENT_BYTES {
                self.partial.clear();
                self.start_discarding();
            } else if !self.discarding {
                self.partial.extend_from_slice(bytes);
            }
        }
    }

    /// The stream ended: an unterminated last line is processed, but an event without its
    /// closing blank line is dropped (as browsers do).
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        self.event = None;
        self.data.clear();
        self.has_data = false;
        self.discarding = false;
    }

    /// Next decoded item, if any.
    pub fn poll(&mut self) -> Option<SseItem> {
        self.out.pop_front()
    }

    fn start_discarding(&mut self) {
        if !self.discarding {
            self.discarding = true;
            self.out.push_back(SseItem::Oversized);
        }
        self.data.clear();
        self.has_data = false;
        self.event = None;
    }

    fn line(&mut self, mut line: &[u8]) {
        if self.first_line {
            self.first_line = false;
            if let [0xEF, 0xBB, 0xBF, rest @ ..] = line {
                line = rest;
            }
        }
        if line.is_empty() {
            self.dispatch();
            return;
        }
        if self.discarding {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => {
                let text = &line[1..];
                let text = text.strip_prefix(b" ").unwrap_or(text);
                self.out
                    .push_back(SseItem::Comment(String::from_utf8_lossy(text).into_owned()));
                return;
            }
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > Self::MAX_EVENT_BYTES {
                    self.start_discarding();
                    return;
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                push_utf8(&mut self.data, value);
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            // `id`, `retry` and unknown fields carry nothing the translators use.
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        if self.discarding {
            self.discarding = false;
            return;
        }
        let event = self.event.take();
        if self.has_data {
            self.has_data = false;
            let data = std::mem::take(&mut self.data);
            self.out.push_back(SseItem::Event { event, data });
        }
    }
}

fn push_utf8(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Append one SSE frame `event: <name>\ndata: <data>\n\n` to `out`. `data` must be one line.
pub fn encode_frame(out: &mut Vec<u8>, event: &str, data: &str) {
    out.reserve(event.len() + data.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&[u8]]) -> Vec<SseItem> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            while let Some(i) = d.poll() {
                out.push(i);
            }
        }
        d.finish();
        while let Some(i) = d.poll() {
            out.push(i);
        }
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseItem {
        SseItem::Event {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    #[test]
    fn line_endings_and_fields() {
        let input = b"event: a\r\ndata: 1\r\n\r\nevent: b\rdata: x\rdata: y\r\r: hi\n\ndata:z\n\n";
        let want = vec![
            ev(Some("a"), "1"),
            ev(Some("b"), "x\ny"),
            SseItem::Comment("hi".into()),
            ev(None, "z"),
        ];
        assert_eq!(decode(&[input]), want);
        let split: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(decode(&split), want);
    }

    #[test]
    fn an_empty_chunk_between_cr_and_lf_is_one_line_ending() {
        let whole = {
            let mut d = SseDecoder::new();
            d.push(b"event: a\r\ndata: x\r\n\r\n");
            d.poll()
        };
        let mut d = SseDecoder::new();
        for c in [
            &b"event: a\r"[..],
            b"",
            b"\ndata: x\r",
            b"",
            b"\n\r",
            b"",
            b"\n",
        ] {
            d.push(c);
        }
        assert_eq!(d.poll(), whole);
        assert!(d.poll().is_none());
    }

    #[test]
    fn cr_at_chunk_end_then_lf() {
        assert_eq!(decode(&[b"data: 1\r", b"\n\r", b"\n"]), vec![ev(None, "1")]);
    }

    #[test]
    fn utf8_split_across_chunks() {
        let s = "data: h\u{e9}\u{1f600}\n\n".as_bytes();
        for cut in 0..s.len() {
            assert_eq!(
                decode(&[&s[..cut], &s[cut..]]),
                vec![ev(None, "h\u{e9}\u{1f600}")]
            );
        }
    }

    #[test]
    fn unterminated_event_is_dropped_and_bom_stripped() {
        assert_eq!(
            decode(&[b"\xEF\xBB\xBFdata: a\n\ndata: b"]),
            vec![ev(None, "a")]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_stalled() {
        assert_eq!(
            decode(&[b"data: a\xFFb\n\ndata: c\n\n"]),
            vec![ev(None, "a\u{FFFD}b"), ev(None, "c")]
        );
    }
}
