//! The Chat lane's fast path: a scanned history written as Chat Completions messages by
//! copying the client's text, as `chat_request.rs`'s walker writes them.
//!
//! The invariant is the Codex walk's ([`super`]): where this answers, the bytes and the
//! degradations are the `Value` path's (`tests/raw_history.rs` holds both to it). A message
//! the scan parsed is walked by `chat_request.rs`'s walker. A history whose tool calls and
//! results do not pair up (a call interrupted before its result) is repaired by the `Value`
//! path's plan (`chat_request::repair_plan`): the messages it keeps are copied as written.

use super::{Block, Body, Content, History, Output, Role, Span, Text, push_output};
use crate::degrade::{DegradationKind as K, Degradations};
use crate::error::RequestError;
use crate::translate::chat_request::{
    ChatWalker, ERROR_FLAG, Pairs, Step, orphan_message, placeholder, repair_plan,
};
use crate::translate::names::wire_tool_name;
use crate::translate::raw_json::{canonical_string_body, push_as_string_body};
use crate::translate::request::Origin;
use serde_json::Value;

/// A history's Chat messages, written out: the items of the body's `messages` array after
/// the system message, comma-separated.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawMessages {
    buf: Vec<u8>,
}

impl RawMessages {
    /// Append the messages, comma-separated (no brackets).
    pub(crate) fn write_items(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf);
    }
}

/// Where a tool call or result came from, for a repair's degradation.
enum Source {
    Block(usize, usize),
    Path(String),
}

/// A tool call or a tool message: which message of the body's `messages` it is in.
struct Pairing {
    message: usize,
    from: Source,
    id: String,
    call: bool,
}

struct Writer<'s> {
    src: &'s [u8],
    buf: Vec<u8>,
    /// Each message's range of `buf`.
    messages: Vec<(usize, usize)>,
    /// Messages before the history in the body's `messages` (the system message).
    lead: usize,
    pairings: Vec<Pairing>,
}

impl Writer<'_> {
    /// Start a message.
    fn begin(&mut self, role: &str) {
        if !self.buf.is_empty() {
            self.buf.push(b',');
        }
        self.messages.push((self.buf.len(), 0));
        self.buf.extend_from_slice(b"{\"role\":\"");
        self.buf.extend_from_slice(role.as_bytes());
        self.buf.extend_from_slice(b"\"");
    }

    /// End the message begun last.
    fn end(&mut self) {
        self.buf.push(b'}');
        if let Some(m) = self.messages.last_mut() {
            m.1 = self.buf.len();
        }
    }

    /// The body's index of the next message.
    fn index(&self) -> usize {
        self.lead + self.messages.len()
    }

    fn pairing(&mut self, message: usize, from: Source, id: String, call: bool) {
        self.pairings.push(Pairing {
            message,
            from,
            id,
            call,
        });
    }

    fn key(&mut self, k: &str) {
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    fn string(&mut self, t: &Text) {
        match t {
            Text::Raw(s) => {
                self.buf.push(b'"');
                self.buf.extend_from_slice(s.bytes(self.src));
                self.buf.push(b'"');
            }
            // Writing into a Vec cannot fail.
            Text::Owned(s) => {
                let _ = serde_json::to_writer(&mut self.buf, s);
            }
        }
    }

    /// Canonical string bodies joined by `sep` (its JSON escape), as one string.
    fn joined(&mut self, parts: &[Span], sep: &[u8]) {
        self.buf.push(b'"');
        for (k, s) in parts.iter().enumerate() {
            if k > 0 {
                self.buf.extend_from_slice(sep);
            }
            self.buf.extend_from_slice(s.bytes(self.src));
        }
        self.buf.push(b'"');
    }

    /// The messages `chat_request.rs`'s walker made of one message, with its pairings
    /// (`origins`: index in `parsed`, path, id).
    fn values(&mut self, parsed: &mut Vec<Value>, origins: Vec<(usize, String, String)>) {
        let base = self.index();
        for (k, path, id) in origins {
            let call = parsed
                .get(k)
                .and_then(|m| m.get("role"))
                .and_then(Value::as_str)
                == Some("assistant");
            self.pairings.push(Pairing {
                message: base + k,
                from: Source::Path(path),
                id,
                call,
            });
        }
        for m in parsed.drain(..) {
            if !self.buf.is_empty() {
                self.buf.push(b',');
            }
            let start = self.buf.len();
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.buf, &m);
            self.messages.push((start, self.buf.len()));
        }
    }

    fn tool_message(&mut self, from: Source, id: Span, output: &Output, is_error: bool) {
        self.pairing(self.index(), from, id.of(self.src).to_owned(), false);
        self.begin("tool");
        self.key("tool_call_id");
        self.string(&Text::Raw(id));
        self.key("content");
        push_output(&mut self.buf, self.src, output, is_error);
        self.end();
    }

    fn user(&mut self, i: usize, blocks: &[Block], deg: &mut Degradations) {
        let mut texts: Vec<Span> = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            match b {
                Block::Text(s) => texts.push(*s),
                Block::ToolResult {
                    id,
                    output,
                    is_error,
                } => {
                    if *is_error {
                        let path = Origin::Block(i, j).path();
                        deg.push(format!("{path}.is_error"), K::Approximated, ERROR_FLAG);
                    }
                    self.tool_message(Source::Block(i, j), *id, output, *is_error);
                }
                // The scan places calls and thinking in assistant messages only.
                Block::ToolUse { .. } | Block::Thinking { .. } => {}
            }
        }
        match texts.as_slice() {
            [] => {}
            [one] => {
                self.begin("user");
                self.key("content");
                self.string(&Text::Raw(*one));
                self.end();
            }
            many => {
                self.begin("user");
                self.key("content");
                self.buf.push(b'[');
                for (k, s) in many.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(b',');
                    }
                    self.buf.extend_from_slice(b"{\"type\":\"text\",\"text\":");
                    self.string(&Text::Raw(*s));
                    self.buf.push(b'}');
                }
                self.buf.push(b']');
                self.end();
            }
        }
    }

    /// `None` if a thinking text would not parse (the `Value` path's to report).
    fn assistant(&mut self, i: usize, blocks: &[Block]) -> Option<()> {
        let src = self.src;
        let texts: Vec<Span> = blocks
            .iter()
            .filter_map(|b| match b {
                Block::Text(s) if !s.is_empty() => Some(*s),
                _ => None,
            })
            .collect();
        // The whole JSON strings of the thinking texts that are not empty.
        let reasoning: Vec<Span> = blocks
            .iter()
            .filter_map(|b| match b {
                Block::Thinking { thinking, .. } if thinking.end - thinking.start > 2 => {
                    Some(*thinking)
                }
                _ => None,
            })
            .collect();
        let calls = blocks
            .iter()
            .filter(|b| matches!(b, Block::ToolUse { .. }))
            .count();
        if texts.is_empty() && calls == 0 && reasoning.is_empty() {
            return Some(());
        }
        let at = self.index();
        self.begin("assistant");
        self.key("content");
        if texts.is_empty() && calls > 0 {
            self.buf.extend_from_slice(b"null");
        } else {
            self.joined(&texts, b"\\n\\n");
        }
        if calls > 0 {
            self.key("tool_calls");
            self.buf.push(b'[');
            let mut first = true;
            for (j, b) in blocks.iter().enumerate() {
                let Block::ToolUse { id, name, input } = b else {
                    continue;
                };
                if !std::mem::take(&mut first) {
                    self.buf.push(b',');
                }
                self.pairing(at, Source::Block(i, j), id.of(src).to_owned(), true);
                self.buf.extend_from_slice(b"{\"id\":");
                self.string(&Text::Raw(*id));
                self.buf
                    .extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
                let _ = serde_json::to_writer(&mut self.buf, wire_tool_name(name.of(src)).as_ref());
                // `arguments` is the input's JSON text, which is already compact.
                self.buf.extend_from_slice(b",\"arguments\":\"");
                push_as_string_body(&mut self.buf, input.bytes(src));
                self.buf.extend_from_slice(b"\"}}");
            }
            self.buf.push(b']');
        }
        if !reasoning.is_empty() {
            self.key("reasoning_content");
            self.buf.push(b'"');
            for (k, t) in reasoning.iter().enumerate() {
                if k > 0 {
                    self.buf.extend_from_slice(b"\\n\\n");
                }
                let whole = t.bytes(src);
                let body = whole.get(1..whole.len().saturating_sub(1))?;
                if canonical_string_body(body) {
                    self.buf.extend_from_slice(body);
                } else {
                    // Written as `serde_json` writes the text it parses to.
                    let text: String = serde_json::from_slice(whole).ok()?;
                    let quoted = serde_json::to_string(&text).ok()?;
                    self.buf
                        .extend_from_slice(quoted.get(1..quoted.len() - 1)?.as_bytes());
                }
            }
            self.buf.push(b'"');
        }
        self.end();
        Some(())
    }

    /// Every call needs its result and every result its call (`chat_request::repair_plan`,
    /// as for the `Value` path); `None` if a message to rewrite would not parse back.
    fn repair(&mut self, deg: &mut Degradations) -> Option<()> {
        let mut facts: Vec<Pairs<'_>> = (0..self.lead + self.messages.len())
            .map(|_| Pairs {
                answers: None,
                calls: Vec::new(),
            })
            .collect();
        for p in &self.pairings {
            let m = facts.get_mut(p.message)?;
            if p.call {
                m.calls.push(&p.id);
            } else {
                m.answers = Some(&p.id);
            }
        }
        let path_of = |k: usize, id: &str| {
            self.pairings
                .iter()
                .find(|p| p.message == k && p.id == id)
                .map(|p| match &p.from {
                    Source::Block(i, j) => Origin::Block(*i, *j).path(),
                    Source::Path(path) => path.clone(),
                })
                .unwrap_or_default()
        };
        let Some(plan) = repair_plan(&facts, path_of, deg) else {
            return Some(());
        };
        let old = std::mem::take(&mut self.buf);
        let mut buf = Vec::with_capacity(old.len() + 256);
        let push = |buf: &mut Vec<u8>, bytes: &[u8]| {
            if !buf.is_empty() {
                buf.push(b',');
            }
            buf.extend_from_slice(bytes);
        };
        for step in plan {
            // The messages before the history (the system message) stay where they are: no
            // placeholder goes before them, nothing is moved there.
            let message = |k: usize| {
                let &(start, end) = self.messages.get(k.checked_sub(self.lead)?)?;
                old.get(start..end)
            };
            match step {
                Step::Keep(k) if k < self.lead => {}
                Step::Keep(k) => push(&mut buf, message(k)?),
                Step::Orphan(k) => {
                    let m: Value = serde_json::from_slice(message(k)?).ok()?;
                    push(&mut buf, &serde_json::to_vec(&orphan_message(&m)).ok()?);
                }
                Step::Placeholder(id) => {
                    push(&mut buf, &serde_json::to_vec(&placeholder(&id)).ok()?);
                }
            }
        }
        self.buf = buf;
        Some(())
    }
}

/// Write `history`'s Chat messages (`src` being the body it was scanned from), to follow
/// `lead` messages (the system message); `None` if `src` is not that body, or a thinking text
/// would not parse.
pub(crate) fn walk(
    src: &[u8],
    history: History,
    lead: usize,
    deg: &mut Degradations,
) -> Result<Option<RawMessages>, RequestError> {
    if src.len() != history.source_len {
        return Ok(None);
    }
    let mut w = Writer {
        src,
        buf: Vec::with_capacity(src.len() + src.len() / 16),
        messages: Vec::with_capacity(history.messages.len() + 16),
        lead,
        pairings: Vec::new(),
    };
    let mut parsed = Vec::new();
    for (i, m) in history.messages.into_iter().enumerate() {
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        };
        match m.body {
            Body::Scanned(Content::Text(t)) => {
                w.begin(role);
                w.key("content");
                w.string(&t);
                w.end();
            }
            Body::Scanned(Content::Blocks(blocks)) => match m.role {
                Role::User => w.user(i, &blocks, deg),
                Role::Assistant => {
                    if w.assistant(i, &blocks).is_none() {
                        return Ok(None);
                    }
                }
                Role::System => {
                    // The scan places only text in a system message; every text is joined.
                    let texts: Vec<Span> = blocks
                        .iter()
                        .filter_map(|b| match b {
                            Block::Text(s) => Some(*s),
                            _ => None,
                        })
                        .collect();
                    w.begin("system");
                    w.key("content");
                    w.joined(&texts, b"\\n\\n");
                    w.end();
                }
            },
            Body::Parsed(v) => {
                let mut walker = ChatWalker::new(&mut parsed, deg);
                walker.message(i, v)?;
                let origins = walker.into_origins();
                w.values(&mut parsed, origins);
            }
        }
    }
    if w.repair(deg).is_none() {
        return Ok(None);
    }
    Ok(Some(RawMessages { buf: w.buf }))
}
