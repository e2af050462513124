//! The check of one `seq_drip` stream as an Anthropic client receives it: the text deltas,
//! joined, must read `0 1 2 … total-1` (each number once, in order), and the stream must end
//! with `message_stop` and no `error` event.

use crate::http1::find;
use serde_json::Value;

/// What one stream's check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Numbers of `0..total` that never arrived.
    pub lost: u64,
    /// Numbers that arrived more than once (each extra arrival counts), or out of range.
    pub duplicated: u64,
    /// Numbers that arrived after a larger one.
    pub reordered: u64,
    /// The stream ended with `message_stop` and no `error` event.
    pub ended: bool,
}

/// Reads an Anthropic SSE body as it arrives, in chunks of any size.
#[derive(Default)]
pub struct SeqCheck {
    pending: Vec<u8>,
    text: String,
    stopped: bool,
    errored: bool,
}

impl SeqCheck {
    /// Take the next bytes of the body.
    pub fn push(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(end) = find(&self.pending[start..], b"\n\n") {
            let frame = String::from_utf8_lossy(&self.pending[start..start + end]).into_owned();
            self.frame(&frame);
            start += end + 2;
        }
        self.pending.drain(..start);
    }

    fn frame(&mut self, frame: &str) {
        let mut event = "";
        let mut data = "";
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = e;
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = d;
            }
        }
        match event {
            "content_block_delta" => {
                let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                if v["delta"]["type"] == "text_delta"
                    && let Some(t) = v["delta"]["text"].as_str()
                {
                    self.text.push_str(t);
                }
            }
            "message_stop" => self.stopped = true,
            "error" => self.errored = true,
            _ => {}
        }
    }

    /// The verdict against the numbers `0..total`.
    pub fn finish(&self, total: u64) -> Verdict {
        let mut seen = vec![0u64; usize::try_from(total).unwrap_or(0)];
        let mut v = Verdict {
            ended: self.stopped && !self.errored,
            ..Verdict::default()
        };
        let mut last: Option<u64> = None;
        for word in self.text.split_whitespace() {
            let number = word.parse::<u64>().ok();
            let Some((n, slot)) =
                number.and_then(|n| Some((n, seen.get_mut(usize::try_from(n).ok()?)?)))
            else {
                // Not a number of this stream: something arrived that was never sent.
                v.duplicated += 1;
                continue;
            };
            *slot += 1;
            if last.is_some_and(|l| n < l) {
                v.reordered += 1;
            }
            last = Some(n);
        }
        for &s in &seen {
            match s {
                0 => v.lost += 1,
                n => v.duplicated += n - 1,
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(text: &str) -> String {
        format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}}\n\n"
        )
    }

    fn check(parts: &[&str], stop: bool) -> Verdict {
        let mut body: String = parts.iter().map(|p| delta(p)).collect();
        if stop {
            body.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        }
        let mut c = SeqCheck::default();
        // Byte by byte: frames split anywhere are still read whole.
        for b in body.as_bytes() {
            c.push(std::slice::from_ref(b));
        }
        c.finish(4)
    }

    #[test]
    fn a_whole_stream_is_clean() {
        let v = check(&["0 ", "1 ", "2 3", " "], true);
        assert_eq!(
            v,
            Verdict {
                ended: true,
                ..Verdict::default()
            }
        );
    }

    #[test]
    fn lost_repeated_reordered_and_unfinished_are_told_apart() {
        let v = check(&["0 ", "2 ", "1 ", "2 ", "9 "], false);
        assert_eq!(
            v,
            Verdict {
                lost: 1,
                duplicated: 2,
                reordered: 1,
                ended: false,
            }
        );
    }
}
