//! `proxy_core::sse::SseDecoder`: the same items whatever the chunking, the same items as an
//! independent whole-input decoder, every complete event available as soon as its blank
//! line arrives, and the decoder's own heap bounded by the largest line/event seen (not by
//! the stream's length).
//!
//! Input: 8 control bytes (`fuzz_support::split_ctrl`: chunking plan) then the SSE body.

#![no_main]

use fuzz_support::{CountingAlloc, RefItem, chunks, live_bytes, reference_sse, split_ctrl};
use libfuzzer_sys::fuzz_target;
use proxy_core::sse::{SseDecoder, SseItem};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn to_ref(item: SseItem) -> RefItem {
    match item {
        SseItem::Event { event, data } => RefItem::Event(event, data),
        SseItem::Comment(c) => RefItem::Comment(c),
        SseItem::Oversized => panic!("Oversized on an input far below MAX_EVENT_BYTES"),
    }
}

fn whole(body: &[u8]) -> Vec<RefItem> {
    let mut d = SseDecoder::new();
    d.push(body);
    let mut out = Vec::new();
    while let Some(i) = d.poll() {
        out.push(to_ref(i));
    }
    d.finish();
    while let Some(i) = d.poll() {
        out.push(to_ref(i));
    }
    // Polling again after the end gives nothing.
    d.finish();
    assert!(d.poll().is_none(), "items after a second finish");
    out
}

/// Heap held by the items themselves (their strings), so it can be told from the decoder's.
fn item_heap(i: &RefItem) -> usize {
    match i {
        RefItem::Event(e, d) => e.as_ref().map_or(0, String::capacity) + d.capacity(),
        RefItem::Comment(c) => c.capacity(),
    }
}

/// Longest line and longest event (bytes between blank lines) seen so far, by a plain scan
/// that is fed the same chunks as the decoder.
#[derive(Default)]
struct Spans {
    line: usize,
    event: usize,
    max_line: usize,
    max_event: usize,
    prev_end: bool,
    after_cr: bool,
}

impl Spans {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.after_cr && b == b'\n' {
                // The LF of a CRLF: part of the line ending already counted.
                self.after_cr = false;
                self.event += 1;
                continue;
            }
            self.after_cr = b == b'\r';
            if b == b'\n' || b == b'\r' {
                if self.prev_end {
                    self.event = 0;
                }
                self.prev_end = true;
                self.line = 0;
            } else {
                self.prev_end = false;
                self.line += 1;
            }
            self.event += 1;
            self.max_line = self.max_line.max(self.line);
            self.max_event = self.max_event.max(self.event);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (ctrl, body) = split_ctrl(data);
    let want = whole(body);

    // An independent decoder agrees on the whole input.
    assert_eq!(want, reference_sse(body), "SseDecoder differs from the reference decoder");

    // Any chunking gives the same items, and each complete event is out as soon as its
    // chunk is pushed: the items so far are what the reference finds in the prefix, minus
    // at most its unterminated tail.
    // Empty chunks included (finding F1).
    let parts = chunks(&ctrl, body, true);
    let mut got: Vec<RefItem> = Vec::with_capacity(body.len() + 4);
    let mut d = SseDecoder::new();
    let base = live_bytes();
    let mut items_heap = 0usize;
    let mut pushed = 0usize;
    let mut max_items_per_push = 0usize;
    let mut spans = Spans {
        prev_end: true,
        ..Spans::default()
    };
    for part in &parts {
        spans.push(part);
        d.push(part);
        pushed += part.len();
        let before = got.len();
        while let Some(i) = d.poll() {
            let r = to_ref(i);
            items_heap += item_heap(&r);
            got.push(r);
        }
        max_items_per_push = max_items_per_push.max(got.len() - before + 1);
        // Bounded buffering: the decoder keeps at most a few times the longest line/event
        // seen so far, plus its output queue (drained, but it keeps its capacity).
        let decoder = live_bytes() - base - items_heap as isize;
        let (max_line, max_event) = (spans.max_line, spans.max_event);
        let bound = 4 * (max_line + max_event)
            + 2 * (max_items_per_push + 8) * std::mem::size_of::<SseItem>()
            + 1024;
        assert!(
            decoder <= bound as isize,
            "decoder holds {decoder} bytes after {pushed} of {} (longest line {max_line}, event {max_event})",
            body.len()
        );
        assert!(
            got.len() <= want.len() && got[before..] == want[before..got.len()],
            "items after {pushed} bytes are not a prefix of the whole-input items"
        );
    }
    // Everything terminated by the pushed bytes is already out (only an unterminated last
    // line — a comment — can come with finish).
    let before_finish = got.len();
    d.finish();
    while let Some(i) = d.poll() {
        got.push(to_ref(i));
    }
    assert!(
        got.len() - before_finish <= 1,
        "finish released {} items",
        got.len() - before_finish
    );
    assert_eq!(got, want, "chunked decoding differs from whole decoding");
});
