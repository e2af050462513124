//! Shared pieces of the proxy-core fuzz targets: how a fuzz input is cut into a control header
//! and a body, how the body is chunked, an independent checker of the Anthropic stream grammar,
//! a reference (whole-input) SSE decoder, and a heap counter.
//!
//! Everything here is written for this crate; it imports nothing from the core's test modules.

use serde_json::Value;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

// ---------------------------------------------------------------------------------------------
// Input layout

/// Length of the control header that stream-like targets take off the front of their input.
pub const CTRL_LEN: usize = 8;

/// The control header: two target-specific bytes and a chunking plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ctrl {
    /// Target-specific flags.
    pub flags: u8,
    /// Target-specific parameter.
    pub param: u8,
    /// How to chunk the body (see [`chunks`]).
    pub mode: u8,
    /// Seed of the chunk sizes.
    pub seed: u64,
}

/// Split `data` into its control header and body. A short input gets a zero header and an
/// empty body, so every input is usable.
pub fn split_ctrl(data: &[u8]) -> (Ctrl, &[u8]) {
    if data.len() < CTRL_LEN {
        return (Ctrl::default(), &[]);
    }
    let (head, body) = data.split_at(CTRL_LEN);
    let mut seed = 0u64;
    for &b in &head[3..] {
        seed = (seed << 8) | u64::from(b);
    }
    (
        Ctrl {
            flags: head[0],
            param: head[1],
            mode: head[2],
            seed,
        },
        body,
    )
}

/// A small, fixed pseudo-random generator (splitmix64) so chunk sizes depend only on the input.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x6A09_E667_F3BC_C908)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// Cut `body` into chunks as `ctrl` says. `allow_empty` lets the plan include empty chunks
/// (a host may hand over an empty read).
///
/// Modes (`ctrl.mode % 4`): 0 sizes in `1..=m` with `m = 1 + mode / 4`; 1 one byte at a
/// time; 2 like 0 but empty chunks are possible; 3 sizes in `1..=4096`.
pub fn chunks<'a>(ctrl: &Ctrl, body: &'a [u8], allow_empty: bool) -> Vec<&'a [u8]> {
    let mut rng = Rng::new(ctrl.seed);
    let max = 1 + usize::from(ctrl.mode / 4);
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let n = match ctrl.mode % 4 {
            0 => rng.range(1, max),
            1 => 1,
            2 if allow_empty => rng.range(0, max),
            2 => rng.range(1, max),
            _ => rng.range(1, 4096),
        }
        .min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(a);
        rest = b;
    }
    if allow_empty && ctrl.mode % 4 == 2 && ctrl.seed & 1 == 1 {
        out.push(&[]);
    }
    out
}

/// Whether the known, still open core issues (README.md, "Findings") should be stepped around
/// (set `PROXY_FUZZ_SKIP_KNOWN=1`), so a run explores past them. Fixed ones are always checked.
pub fn skip_known() -> bool {
    static SKIP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SKIP.get_or_init(|| std::env::var_os("PROXY_FUZZ_SKIP_KNOWN").is_some_and(|v| v != "0"))
}

// ---------------------------------------------------------------------------------------------
// The Anthropic stream grammar

/// The kind of the open content block, for checking which deltas it may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Text,
    Thinking,
    ToolInput,
    Result,
    Other,
}

/// An incremental checker of the Anthropic Messages stream grammar over `(event name, data)`
/// pairs: `message_start` first (a bare `error` may stand alone); blocks start at indexes
/// 0, 1, 2… one at a time, deltas and the stop name the open block, and deltas fit the
/// block's type; `message_delta` with no block open, then `message_stop`; or an `error` with
/// no block open; nothing after the terminal event.
#[derive(Debug, Default)]
pub struct Grammar {
    started: bool,
    terminal: Option<String>,
    open: Option<(u64, BlockKind)>,
    next_index: u64,
    delta_seen: bool,
    events: usize,
}

impl Grammar {
    /// A checker before any event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the terminal event (`message_stop` or `error`) went by.
    pub fn ended(&self) -> bool {
        self.terminal.is_some()
    }

    /// Events checked so far.
    pub fn count(&self) -> usize {
        self.events
    }

    /// Check one event.
    pub fn event(&mut self, name: &str, data: &Value) -> Result<(), String> {
        self.events += 1;
        if data.get("type").and_then(Value::as_str) != Some(name) {
            return Err(format!("{name}: data type is {:?}", data.get("type")));
        }
        if let Some(t) = &self.terminal {
            return Err(format!("{name} after the terminal {t}"));
        }
        let index = data.get("index").and_then(Value::as_u64);
        match name {
            "message_start" => {
                if self.started {
                    return Err("a second message_start".into());
                }
                self.started = true;
                let m = &data["message"];
                if m["type"] != "message" || m["role"] != "assistant" {
                    return Err(format!("message_start envelope: {m}"));
                }
                if m["content"].as_array().is_none_or(|c| !c.is_empty()) {
                    return Err(format!("message_start content not empty: {m}"));
                }
            }
            "error" => {
                if let Some((i, _)) = self.open {
                    return Err(format!("error with block {i} still open"));
                }
                let e = &data["error"];
                if e["type"].as_str().is_none_or(str::is_empty) || e["message"].as_str().is_none() {
                    return Err(format!("error body: {data}"));
                }
                self.terminal = Some("error".into());
            }
            _ if !self.started => return Err(format!("{name} before message_start")),
            "content_block_start" => {
                if let Some((i, _)) = self.open {
                    return Err(format!("block {index:?} starts while {i} is open"));
                }
                if index != Some(self.next_index) {
                    return Err(format!("block index {index:?}, expected {}", self.next_index));
                }
                let cb = &data["content_block"];
                let kind = match cb["type"].as_str() {
                    Some("text") => BlockKind::Text,
                    Some("thinking") | Some("redacted_thinking") => BlockKind::Thinking,
                    Some("tool_use") | Some("server_tool_use") => BlockKind::ToolInput,
                    Some("web_search_tool_result") => BlockKind::Result,
                    _ => BlockKind::Other,
                };
                if kind == BlockKind::ToolInput
                    && cb["input"].as_object().is_none_or(|o| !o.is_empty())
                {
                    return Err(format!("tool block starts with input {}", cb["input"]));
                }
                self.open = Some((self.next_index, kind));
                self.next_index += 1;
            }
            "content_block_delta" => {
                let Some((i, kind)) = self.open else {
                    return Err(format!("delta for {index:?} with no block open"));
                };
                if index != Some(i) {
                    return Err(format!("delta for {index:?} while {i} is open"));
                }
                let dt = data["delta"]["type"].as_str().unwrap_or("");
                let fits = match kind {
                    BlockKind::Text => matches!(dt, "text_delta" | "citations_delta"),
                    BlockKind::Thinking => matches!(dt, "thinking_delta" | "signature_delta"),
                    BlockKind::ToolInput => dt == "input_json_delta",
                    BlockKind::Result => false,
                    BlockKind::Other => true,
                };
                if !fits {
                    return Err(format!("{dt} in a {kind:?} block"));
                }
            }
            "content_block_stop" => {
                let Some((i, _)) = self.open else {
                    return Err(format!("stop of {index:?} with no block open"));
                };
                if index != Some(i) {
                    return Err(format!("stop of {index:?} while {i} is open"));
                }
                self.open = None;
            }
            "message_delta" => {
                if let Some((i, _)) = self.open {
                    return Err(format!("message_delta with block {i} open"));
                }
                if data["delta"]["stop_reason"].as_str().is_none() {
                    return Err(format!("message_delta without a stop_reason: {data}"));
                }
                self.delta_seen = true;
            }
            "message_stop" => {
                if !self.delta_seen {
                    return Err("message_stop without message_delta".into());
                }
                self.terminal = Some("message_stop".into());
            }
            "ping" => {}
            other => return Err(format!("unknown event {other}")),
        }
        Ok(())
    }

    /// The stream is over: it must have reached its terminal event.
    pub fn end(&self) -> Result<(), String> {
        if self.terminal.is_none() {
            return Err(format!("stream ended without a terminal event after {} events", self.events));
        }
        Ok(())
    }
}

/// Split Anthropic SSE text (as the proxy writes it: `event: x\ndata: {…}\n\n` frames, and
/// `: comment` frames before the stream starts) into `(event, data)` pairs.
pub fn sse_frames(body: &str) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    let mut started = false;
    for frame in body.split("\n\n").filter(|f| !f.is_empty()) {
        if frame.starts_with(':') {
            if started {
                return Err(format!("a comment after message_start: {frame:?}"));
            }
            continue;
        }
        let mut event = None;
        let mut data = None;
        for line in frame.split('\n') {
            if let Some(e) = line.strip_prefix("event: ") {
                event = Some(e.to_owned());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(
                    serde_json::from_str::<Value>(d).map_err(|e| format!("data not JSON ({e}): {d}"))?,
                );
            } else {
                return Err(format!("unexpected line {line:?}"));
            }
        }
        let (Some(event), Some(data)) = (event, data) else {
            return Err(format!("frame without event or data: {frame:?}"));
        };
        started |= event == "message_start";
        out.push((event, data));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// A reference SSE decoder (whole input at once)

/// One item as the reference decoder sees it (mirrors `proxy_core::sse::SseItem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefItem {
    /// A dispatched event.
    Event(Option<String>, String),
    /// A comment line.
    Comment(String),
}

/// Decode a whole SSE body the plain way: strip a leading BOM, split lines at CRLF, CR or
/// LF; `:` lines are comments; `data` lines append (joined with `\n`), `event` sets the
/// name, a blank line dispatches an event that has data (and forgets the name either way);
/// an unterminated last line still counts, but an event without its blank line is dropped.
pub fn reference_sse(body: &[u8]) -> Vec<RefItem> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\n' => {
                lines.push(&body[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push(&body[start..i]);
                i += if body.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < body.len() {
        lines.push(&body[start..]);
    }
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    let mut data: Option<String> = None;
    for line in lines {
        if line.is_empty() {
            if let Some(d) = data.take() {
                out.push(RefItem::Event(name.take(), d));
            }
            name = None;
            continue;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => {
                let t = &line[1..];
                let t = t.strip_prefix(b" ").unwrap_or(t);
                out.push(RefItem::Comment(String::from_utf8_lossy(t).into_owned()));
                continue;
            }
            Some(p) => {
                let v = &line[p + 1..];
                (&line[..p], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(&value);
                }
                None => data = Some(value.into_owned()),
            },
            b"event" => name = Some(value.into_owned()),
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Heap accounting

/// A global allocator that counts live heap bytes (single-threaded fuzzing: one counter).
/// A target that wants it declares `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
pub struct CountingAlloc;

static LIVE: AtomicIsize = AtomicIsize::new(0);

/// Live heap bytes requested through [`CountingAlloc`].
pub fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Serialize a JSON object, parse it back and demand the same value.
pub fn json_round_trips(body: &serde_json::Map<String, Value>, what: &str) {
    let text = serde_json::to_vec(body).unwrap_or_else(|e| panic!("{what}: does not serialize: {e}"));
    let back: Value =
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{what}: output does not re-parse: {e}"));
    let Value::Object(back) = back else {
        panic!("{what}: re-parsed output is not an object");
    };
    assert!(
        json_same_map(&back, body),
        "{what}: re-parsed output differs from the output"
    );
}

/// JSON equality, floats exactly (finding F3: a float printed and parsed back must be the same
/// number, which needs serde_json's `float_roundtrip`).
pub fn json_same(a: &Value, b: &Value) -> bool {
    a == b
}

/// [`json_same`] for objects (same keys in the same order, same values).
pub fn json_same_map(a: &serde_json::Map<String, Value>, b: &serde_json::Map<String, Value>) -> bool {
    a == b && a.keys().eq(b.keys())
}

// ---------------------------------------------------------------------------------------------
// Stream translators

use proxy_core::translate::EventTranslator;
use proxy_core::{Aggregator, ErrorBody, ErrorType, StreamEvent};

fn drain<T: EventTranslator>(t: &mut T, out: &mut Vec<StreamEvent>) {
    while let Some(ev) = t.poll_event() {
        out.push(ev);
    }
}

/// Check a list of events against the grammar; the stream must have ended.
pub fn check_events(events: &[StreamEvent], what: &str) {
    let mut g = Grammar::new();
    for (i, ev) in events.iter().enumerate() {
        let value = serde_json::to_value(ev).unwrap_or_else(|e| panic!("{what}: event {i} does not serialize: {e}"));
        if let Err(e) = g.event(ev.name(), &value) {
            panic!("{what}: event {i} ({}) breaks the grammar: {e}\nevents: {events:#?}", ev.name());
        }
        // The hand-written encoder writes exactly serde's bytes, and one frame.
        let mut enc = Vec::new();
        ev.encode(&mut enc);
        let mut serde_frame = format!("event: {}\ndata: ", ev.name()).into_bytes();
        serde_json::to_writer(&mut serde_frame, ev).expect("serialize");
        serde_frame.extend_from_slice(b"\n\n");
        assert_eq!(
            String::from_utf8_lossy(&enc),
            String::from_utf8_lossy(&serde_frame),
            "{what}: encode() differs from serde for event {i}"
        );
    }
    if let Err(e) = g.end() {
        panic!("{what}: {e}\nevents: {events:#?}");
    }
}

/// Drive a translator made by `make` over `body`: whole, chunked as `ctrl` says, and (when
/// `abort_at` is `Some(k)`) aborted after `k` chunks. Checks the grammar of each run, that the
/// chunked run equals the whole run, that an aborted run is the whole run's prefix plus a
/// well-formed end, that nothing comes after the end, and that the aggregator folds the
/// events into a Message exactly when the stream ended with `message_stop`.
pub fn check_translator<T: EventTranslator>(
    make: impl Fn() -> T,
    ctrl: &Ctrl,
    body: &[u8],
    abort_at: Option<usize>,
) {
    // Whole.
    let mut t = make();
    let mut whole = Vec::new();
    t.push(body);
    drain(&mut t, &mut whole);
    let before_finish = whole.len();
    t.finish();
    drain(&mut t, &mut whole);
    assert!(t.is_done(), "not done after finish");
    check_events(&whole, "whole");
    let _ = before_finish;
    // Nothing after the end, whatever comes.
    t.finish();
    t.push(b"event: response.completed\ndata: {\"type\":\"response.completed\"}\n\ndata: {\"choices\":[]}\n\n");
    t.abort(ErrorBody {
        error_type: ErrorType::ApiError,
        message: "late".into(),
    });
    assert!(t.poll_event().is_none(), "an event after the terminal event");

    // Chunked.
    let parts = chunks(ctrl, body, true);
    let mut t = make();
    let mut got = Vec::new();
    for part in &parts {
        t.push(part);
        let before = got.len();
        drain(&mut t, &mut got);
        assert!(
            got.len() <= whole.len() && got[before..] == whole[before..got.len()],
            "chunked events are not a prefix of the whole-input events"
        );
        if got.last().is_some_and(|e| matches!(e, StreamEvent::MessageStop | StreamEvent::Error { .. })) {
            assert!(t.is_done(), "terminal event out but not done");
        }
    }
    t.finish();
    drain(&mut t, &mut got);
    assert_eq!(got, whole, "chunked events differ from whole-input events");

    // Aborted after k chunks.
    if let Some(k) = abort_at {
        let k = k % (parts.len() + 1);
        let mut t = make();
        let mut got = Vec::new();
        for part in &parts[..k] {
            t.push(part);
            drain(&mut t, &mut got);
        }
        let was_done = t.is_done();
        let prefix = got.len();
        t.abort(ErrorBody {
            error_type: ErrorType::TimeoutError,
            message: "idle".into(),
        });
        drain(&mut t, &mut got);
        assert!(t.is_done(), "not done after abort");
        if was_done {
            assert_eq!(got.len(), prefix, "abort after the end emitted events");
        } else {
            assert!(
                matches!(got.last(), Some(StreamEvent::Error { .. })),
                "abort did not end with an error event"
            );
        }
        assert_eq!(&got[..prefix], &whole[..prefix], "events before abort differ");
        check_events(&got, "aborted");
        t.finish();
        assert!(t.poll_event().is_none(), "an event after abort + finish");
    }

    // The non-streaming fold.
    let mut agg = Aggregator::new();
    for ev in whole.iter().cloned() {
        agg.push(ev);
    }
    let folded = agg.finish();
    match (whole.last(), &folded) {
        (Some(StreamEvent::MessageStop), Ok(v)) => {
            let blocks = whole
                .iter()
                .filter(|e| matches!(e, StreamEvent::ContentBlockStart { .. }))
                .count();
            let content = v["content"].as_array().map_or(0, Vec::len);
            assert_eq!(content, blocks, "folded message has {content} blocks, stream had {blocks}");
        }
        (Some(StreamEvent::Error { error, .. }), Err(e)) => {
            assert_eq!(error, e, "folded error differs from the stream's");
        }
        (last, r) => panic!("stream ended with {last:?} but the fold gave {r:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Request conversions

use proxy_core::{Degradation, RequestError};

/// An error must say something.
pub fn check_error(e: &RequestError, what: &str) {
    let msg = e.to_string();
    assert!(!msg.trim().is_empty(), "{what}: empty error message ({e:?})");
    if let RequestError::Invalid { message, .. } = e {
        assert!(!message.trim().is_empty(), "{what}: empty error message ({e:?})");
    }
    assert!(!e.code().is_empty(), "{what}: empty error code");
}

/// Degradations name where and what.
pub fn check_degradations(d: &[Degradation], what: &str) {
    // (A path may be empty: an unknown top-level field named "".)
    for x in d {
        assert!(!x.detail.is_empty(), "{what}: a degradation without a detail: {x:?}");
    }
}

/// The one conversion error a validated request may still get (docs/CONVERSION.md §11.9):
/// a message none of whose content can be sent upstream.
pub fn is_empty_message_error(e: &RequestError) -> bool {
    matches!(e, RequestError::Invalid { path, message }
        if path.starts_with("messages[") && message == "none of its content can be sent upstream")
}
