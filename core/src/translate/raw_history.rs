//! The fast path of the Anthropic → Codex and → Chat conversions: a request's history
//! (`messages`) read and written as raw JSON text, without building a `serde_json::Value`
//! tree of it.
//!
//! Nearly all of a long Claude Code request is history that passes through unchanged: text,
//! tool inputs, tool results. Parsing it into a tree and writing the tree back costs more
//! than the conversion proper, so here the history is scanned once into [`Span`]s of the
//! client's text (`scan`), and [`walk`] writes the Codex input items by copying those spans
//! ([`chat::walk`] the Chat messages).
//!
//! **Invariant:** this path answers only where the `Value` path (`validate_messages`, then
//! `request.rs`'s walker) would accept the request and write the same bytes with the same
//! degradations; anything else — an unusual block, a field it does not know, a string whose
//! escapes `serde_json` would write differently, an unanswered tool call — makes it answer
//! `None`, and the `Value` path decides. Speed, never output: the request vectors and
//! `tests/raw_history.rs` hold both paths to the same bytes.

use super::names::{wire_call_id, wire_tool_name};
use super::raw_json::{canonical_compact, canonical_string_body, nesting, push_as_string_body};
use super::request::{
    IS_ERROR_PREFIXED, Origin, PairFacts, Repair, RequestOptions, orphan_as_message, placeholder,
    reasoning_of, repair_plan, replayable, walk_message,
};
use super::tool_search::{SEARCH_TOOL, Search};
use crate::degrade::{DegradationKind as K, Degradations};
use crate::error::RequestError;
use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;

pub(crate) mod chat;

/// Where a piece of the client's body is: byte offsets into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    end: usize,
}

impl Span {
    /// Its bytes in `src`.
    fn bytes(self, src: &[u8]) -> &[u8] {
        src.get(self.start..self.end).unwrap_or_default()
    }

    /// Its text in `src`: spans are cut at the scanned text's character boundaries, so this
    /// checks only its own bytes (an id, a name, a signature), not the whole body again.
    fn of(self, src: &[u8]) -> &str {
        std::str::from_utf8(self.bytes(src)).unwrap_or("")
    }

    fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// A string of the history.
#[derive(Debug, Clone)]
enum Text {
    /// The body of a JSON string (between its quotes) that `serde_json` writes back as it is.
    Raw(Span),
    /// A string with escapes, as parsed (a message's string content only).
    Owned(String),
}

/// A message of the history, as the fast path takes it.
#[derive(Debug, Clone)]
struct Message {
    role: Role,
    body: Body,
    /// A scanned message with a call of the search tool or a result of one, parsed: when
    /// the model has tool search, `request.rs`'s walker takes it.
    search: Option<Value>,
    /// `output_config.effort` when it is a string (read from `system` messages only).
    effort: Option<Value>,
}

#[derive(Debug, Clone)]
enum Body {
    /// Taken by the fast path.
    Scanned(Content),
    /// A message with something the fast path does not take (an image, a document, redacted
    /// thinking…): parsed, validated, and walked by `request.rs`'s walker.
    Parsed(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
    /// Claude Code's mid-conversation `system` messages: text for the model, and the effort
    /// of the turns after them.
    System,
}

#[derive(Debug, Clone)]
enum Content {
    /// `"content": "…"`, not empty.
    Text(Text),
    /// `"content": [blocks]`, not empty.
    Blocks(Vec<Block>),
}

#[derive(Debug, Clone)]
enum Block {
    /// A text block's text ([`Text::Raw`] form).
    Text(Span),
    /// `id` and `name` have no escapes; `input` is an object in canonical compact form.
    ToolUse { id: Span, name: Span, input: Span },
    ToolResult {
        id: Span,
        output: Output,
        is_error: bool,
    },
    /// `thinking` is the whole JSON string (quotes included); `signature` has no escapes.
    Thinking { thinking: Span, signature: Span },
}

/// A tool result's content.
#[derive(Debug, Clone)]
enum Output {
    /// None.
    Empty,
    /// A string ([`Text::Raw`] form).
    Text(Span),
    /// Text blocks, joined with `\n` on the wire.
    Texts(Vec<Span>),
}

/// A request's history, scanned: every string in it is a span of the body it came from.
#[derive(Debug, Clone)]
pub(crate) struct History {
    messages: Vec<Message>,
    /// The length of that body, to refuse being walked over another one.
    source_len: usize,
}

impl History {
    /// Claude's per-message effort: that of the last `system` message that has one (as
    /// `request.rs`'s `message_effort` reads it from parsed messages).
    pub(crate) fn message_effort(&self) -> Option<Value> {
        self.messages
            .iter()
            .rev()
            .filter(|m| m.role == Role::System)
            .find_map(|m| m.effort.clone())
    }
}

/// A body scanned for the fast path: its other fields parsed, its history as spans.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// The top-level fields but `messages`, in document order.
    pub(crate) rest: Map<String, Value>,
    pub(crate) history: History,
}

/// As many messages as the validator allows.
const MAX_MESSAGES: usize = 100_000;

/// Scan `body` for the fast path; `None` if it is not valid JSON, not an object, or its
/// history has anything the fast path leaves to the `Value` path. A `Some` history is valid
/// (docs/CONVERSION.md §11); the other fields are not checked here.
pub(crate) fn scan(body: &[u8]) -> Option<Scan> {
    let text = std::str::from_utf8(body).ok()?;
    let ctx = Ctx {
        base: text.as_ptr() as usize,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let (rest, messages) = de.deserialize_map(TopVisitor(ctx)).ok()?;
    de.end().ok()?;
    Some(Scan {
        rest,
        history: History {
            messages: messages?,
            source_len: body.len(),
        },
    })
}

/// What every seed needs: where the body starts, to turn borrowed slices into spans.
#[derive(Clone, Copy)]
struct Ctx {
    base: usize,
}

impl Ctx {
    fn span(self, s: &str) -> Span {
        let start = (s.as_ptr() as usize).wrapping_sub(self.base);
        Span {
            start,
            end: start + s.len(),
        }
    }

    /// The body of a JSON string value that `serde_json` writes back unchanged.
    fn raw_string(self, raw: &RawValue) -> Option<Span> {
        let body = raw.get().strip_prefix('"')?.strip_suffix('"')?;
        canonical_string_body(body.as_bytes()).then(|| self.span(body))
    }

    /// A string value without escapes, which is then its own text.
    fn plain_string(self, raw: &RawValue) -> Option<Span> {
        let body = raw.get().strip_prefix('"')?.strip_suffix('"')?;
        (!body.contains('\\')).then(|| self.span(body))
    }
}

fn outside<E: de::Error>() -> E {
    E::custom("left to the Value path")
}

struct TopVisitor(Ctx);

impl<'de> Visitor<'de> for TopVisitor {
    type Value = (Map<String, Value>, Option<Vec<Message>>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut rest = Map::new();
        let mut messages = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            if key == "messages" {
                if messages.is_some() {
                    return Err(outside());
                }
                messages = Some(map.next_value_seed(MessagesSeed(self.0))?);
            } else {
                // A repeated key: the parse keeps the last value, let it decide.
                if rest.contains_key(key) {
                    return Err(outside());
                }
                let v: Value = map.next_value()?;
                rest.insert(key.to_owned(), v);
            }
        }
        Ok((rest, messages))
    }
}

struct MessagesSeed(Ctx);

impl<'de> DeserializeSeed<'de> for MessagesSeed {
    type Value = Vec<Message>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for MessagesSeed {
    type Value = Vec<Message>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("messages")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(16));
        let mut scratch = Scratch::default();
        while let Some(m) = seq.next_element_seed(MessageSeed {
            ctx: self.0,
            scratch: &mut scratch,
        })? {
            out.push(m);
            if out.len() > MAX_MESSAGES {
                return Err(outside());
            }
        }
        if out.is_empty() {
            return Err(outside());
        }
        // What was parsed is checked as the validator checks it (the last message may be an
        // empty assistant turn).
        let last = out.len() - 1;
        for (i, m) in out.iter().enumerate() {
            if let Body::Parsed(v) = &m.body
                && crate::validate::validate_history_message(v, i, i == last).is_err()
            {
                return Err(outside());
            }
        }
        Ok(out)
    }
}

/// Levels of nesting above a message's field: the body, `messages` and the message.
const MESSAGE_FIELD_DEPTH: usize = 3;
/// Levels of nesting above a block's field: those of a message's, `content` and the block.
const BLOCK_FIELD_DEPTH: usize = 5;
/// Levels of nesting above a field of a block in a tool result's `content`: a block field's,
/// the result's `content` and the block.
const RESULT_BLOCK_FIELD_DEPTH: usize = 7;
/// `serde_json`'s recursion limit.
const PARSER_DEPTH: usize = 128;

/// What the scan keeps of the message being read, so that one the fast path does not take
/// can be parsed from its pieces instead of being read twice: each message field's text and
/// each block field's text, in document order. Reused from message to message.
#[derive(Default)]
struct Scratch<'de> {
    keys: Vec<(&'de str, Piece<'de>)>,
    /// Every block's fields, one after the other.
    fields: Vec<(&'de str, &'de RawValue)>,
    /// Each block's range of `fields`.
    blocks: Vec<(usize, usize)>,
    /// A string `content` without escapes.
    text: &'de str,
    /// The wire call ids of the search tool's calls so far (`tool_search.rs`).
    search_calls: HashSet<String>,
}

/// A message field's value as the scan met it.
#[derive(Clone, Copy)]
enum Piece<'de> {
    Raw(&'de RawValue),
    /// `content`, read by [`ContentSeed`]: its value is in the message's [`Content`] (a
    /// string) or in the scratch's blocks.
    Content,
}

struct MessageSeed<'s, 'de> {
    ctx: Ctx,
    scratch: &'s mut Scratch<'de>,
}

impl<'de> DeserializeSeed<'de> for MessageSeed<'_, 'de> {
    type Value = Message;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for MessageSeed<'_, 'de> {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Self { ctx, scratch } = self;
        scratch.keys.clear();
        scratch.fields.clear();
        scratch.blocks.clear();
        // Whether the fast path takes this message as it is read; if not, it is parsed from
        // its pieces and walked by `request.rs`'s walker.
        let mut fast = true;
        let mut content = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            // A repeated key: the parse keeps the last value, let it decide.
            if scratch.keys.iter().any(|(k, _)| *k == key) {
                return Err(outside());
            }
            let piece = if key == "content" {
                let (c, all_fast) = map.next_value_seed(ContentSeed {
                    ctx,
                    scratch: &mut *scratch,
                })?;
                fast &= all_fast;
                content = Some(c);
                Piece::Content
            } else {
                // `output_config` is not validated; it is read for a system message's effort.
                fast &= matches!(key, "role" | "output_config");
                Piece::Raw(map.next_value()?)
            };
            scratch.keys.push((key, piece));
        }
        let raw = |name: &str| {
            scratch.keys.iter().find_map(|(k, p)| match p {
                Piece::Raw(r) if *k == name => Some(*r),
                _ => None,
            })
        };
        let role = match raw("role").map(RawValue::get) {
            Some("\"user\"") => Role::User,
            Some("\"assistant\"") => Role::Assistant,
            Some("\"system\"") => Role::System,
            _ => {
                fast = false;
                Role::User
            }
        };
        if let Some(Content::Blocks(blocks)) = &content {
            let placed = |b: &Block| match b {
                Block::Text(_) => true,
                Block::ToolUse { .. } | Block::Thinking { .. } => role == Role::Assistant,
                Block::ToolResult { .. } => role == Role::User,
            };
            fast &= blocks.iter().all(placed);
        }
        let content = match content {
            Some(c) if fast => c,
            _ => return parsed_message(scratch, content).ok_or_else(outside),
        };
        let effort = match raw("output_config") {
            Some(oc) => parse_at(oc, MESSAGE_FIELD_DEPTH)
                .ok_or_else(outside::<A::Error>)?
                .get_mut("effort")
                .map(Value::take)
                .filter(Value::is_string),
            None => None,
        };
        // A message with a call of the search tool or its result keeps its parsed form too:
        // when the model has tool search, the walker takes it (`walk`).
        let search = searches(scratch, &content)
            .then(|| message_value(scratch, Some(&content)).ok_or_else(outside))
            .transpose()?;
        Ok(Message {
            role,
            body: Body::Scanned(content),
            search,
            effort,
        })
    }
}

/// Whether scanned `content` has a call of Claude Code's search tool (noting its id) or the
/// result of one.
fn searches(scratch: &mut Scratch<'_>, content: &Content) -> bool {
    let Content::Blocks(blocks) = content else {
        return false;
    };
    let mut any = false;
    for (b, &(from, to)) in blocks.iter().zip(&scratch.blocks) {
        let field = |name: &str| {
            scratch.fields[from..to]
                .iter()
                .find_map(|(k, v)| (*k == name).then(|| v.get().trim_matches('"')))
        };
        match b {
            Block::ToolUse { .. } if field("name") == Some(SEARCH_TOOL) => {
                let id = wire_call_id(field("id").unwrap_or_default()).into_owned();
                scratch.search_calls.insert(id);
                any = true;
            }
            Block::ToolResult { .. } => {
                let id = field("tool_use_id").unwrap_or_default();
                any |= scratch.search_calls.contains(wire_call_id(id).as_ref());
            }
            _ => {}
        }
    }
    any
}

/// A message the fast path does not take, as the whole body's parse would have it: parsed,
/// for `request.rs`'s walker. `None` where the `Value` path must decide.
fn parsed_message(scratch: &mut Scratch<'_>, content: Option<Content>) -> Option<Message> {
    let v = message_value(scratch, content.as_ref())?;
    let role = match v.get("role").and_then(Value::as_str) {
        Some("system") => Role::System,
        Some("assistant") => Role::Assistant,
        _ => Role::User,
    };
    // Tool changes are read from the parsed messages (`tool_changes.rs`): the Value path's.
    let blocks = v.get("content").and_then(Value::as_array);
    if role == Role::System
        && blocks.into_iter().flatten().any(|b| {
            b.as_object()
                .is_some_and(crate::translate::tool_changes::is_tool_change)
        })
    {
        return None;
    }
    // Its search calls are the walker's; their results must know them.
    for b in blocks.into_iter().flatten() {
        if b.get("type").and_then(Value::as_str) == Some("tool_use")
            && b.get("name").and_then(Value::as_str) == Some(SEARCH_TOOL)
            && let Some(id) = b.get("id").and_then(Value::as_str)
        {
            scratch.search_calls.insert(wire_call_id(id).into_owned());
        }
    }
    let effort = v
        .get("output_config")
        .and_then(|oc| oc.get("effort"))
        .filter(|e| e.is_string())
        .cloned();
    Some(Message {
        role,
        body: Body::Parsed(v),
        search: None,
        effort,
    })
}

/// The message just scanned as a `Value`, from its pieces: what `serde_json` would have
/// parsed from its text. `None` if a piece would not parse alone as it would in the body.
fn message_value(scratch: &Scratch<'_>, content: Option<&Content>) -> Option<Value> {
    let mut m = Map::with_capacity(scratch.keys.len());
    for (k, piece) in &scratch.keys {
        let v = match piece {
            Piece::Raw(r) => parse_at(r, MESSAGE_FIELD_DEPTH)?,
            Piece::Content => match content? {
                Content::Text(Text::Raw(_)) => Value::String(scratch.text.to_owned()),
                Content::Text(Text::Owned(s)) => Value::String(s.clone()),
                Content::Blocks(_) => {
                    let mut blocks = Vec::with_capacity(scratch.blocks.len());
                    for &(from, to) in &scratch.blocks {
                        let mut b = Map::with_capacity(to - from);
                        for (k, v) in &scratch.fields[from..to] {
                            b.insert((*k).to_owned(), parse_at(v, BLOCK_FIELD_DEPTH)?);
                        }
                        blocks.push(Value::Object(b));
                    }
                    Value::Array(blocks)
                }
            },
        };
        m.insert((*k).to_owned(), v);
    }
    Some(Value::Object(m))
}

/// Field text `raw`, found under `above` levels of nesting, parsed as the whole body's parse
/// would: capturing it counted no levels, and a fresh parse starts from none, so nesting the
/// body's parse refuses (`serde_json`'s recursion limit) is refused here too.
fn parse_at(raw: &RawValue, above: usize) -> Option<Value> {
    if above + nesting(raw.get().as_bytes()) >= PARSER_DEPTH {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// A message's `content`, and whether the fast path takes all of it.
struct ContentSeed<'s, 'de> {
    ctx: Ctx,
    scratch: &'s mut Scratch<'de>,
}

impl<'de> DeserializeSeed<'de> for ContentSeed<'_, 'de> {
    type Value = (Content, bool);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ContentSeed<'_, 'de> {
    type Value = (Content, bool);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or content blocks")
    }

    // A string without escapes arrives borrowed, and is its own JSON text.
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        self.scratch.text = s;
        Ok((Content::Text(Text::Raw(self.ctx.span(s))), !s.is_empty()))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok((Content::Text(Text::Owned(s.to_owned())), !s.is_empty()))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let Self { ctx, scratch } = self;
        let mut blocks = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        let mut fast = true;
        loop {
            let from = scratch.fields.len();
            let seed = BlockSeed {
                ctx,
                fields: &mut scratch.fields,
                above: BLOCK_FIELD_DEPTH,
            };
            match seq.next_element_seed(seed)? {
                None => break,
                Some(Some(b)) => blocks.push(b),
                Some(None) => fast = false,
            }
            scratch.blocks.push((from, scratch.fields.len()));
        }
        Ok((Content::Blocks(blocks), fast && !scratch.blocks.is_empty()))
    }
}

/// A content block: the one the fast path takes, or `None`; its fields are kept either way.
struct BlockSeed<'s, 'de> {
    ctx: Ctx,
    fields: &'s mut Vec<(&'de str, &'de RawValue)>,
    /// Levels of nesting above the block's fields.
    above: usize,
}

impl<'de> DeserializeSeed<'de> for BlockSeed<'_, 'de> {
    type Value = Option<Block>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

/// A block's fields the fast path knows, unparsed.
#[derive(Default)]
struct Fields<'de> {
    ty: Option<&'de RawValue>,
    text: Option<&'de RawValue>,
    id: Option<&'de RawValue>,
    name: Option<&'de RawValue>,
    input: Option<&'de RawValue>,
    tool_use_id: Option<&'de RawValue>,
    content: Option<&'de RawValue>,
    is_error: Option<&'de RawValue>,
    thinking: Option<&'de RawValue>,
    signature: Option<&'de RawValue>,
}

impl<'de> Visitor<'de> for BlockSeed<'_, 'de> {
    type Value = Option<Block>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content block")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Block>, A::Error> {
        let from = self.fields.len();
        let mut f = Fields::default();
        let mut fast = true;
        while let Some(key) = map.next_key::<&'de str>()? {
            let v: &'de RawValue = map.next_value()?;
            // A repeated key: the parse keeps the last value, let it decide.
            if self.fields[from..].iter().any(|(k, _)| *k == key) {
                return Err(outside());
            }
            self.fields.push((key, v));
            let slot = match key {
                "type" => &mut f.ty,
                "text" => &mut f.text,
                "id" => &mut f.id,
                "name" => &mut f.name,
                "input" => &mut f.input,
                "tool_use_id" => &mut f.tool_use_id,
                "content" => &mut f.content,
                "is_error" => &mut f.is_error,
                "thinking" => &mut f.thinking,
                "signature" => &mut f.signature,
                "cache_control" => {
                    // Checked as the validator checks it; the conversion ignores it.
                    let Some(cc) = parse_at(v, self.above) else {
                        return Err(outside());
                    };
                    fast &= crate::validate::cache_control_ok(&cc);
                    continue;
                }
                _ => {
                    fast = false;
                    continue;
                }
            };
            // A null field is "absent" to the validator and to the walker: theirs to decide.
            fast &= v.get() != "null";
            *slot = Some(v);
        }
        Ok(if fast { block(self.ctx, &f) } else { None })
    }
}

/// The block `f` describes, if it is one the fast path takes whole.
fn block(ctx: Ctx, f: &Fields) -> Option<Block> {
    // Whether no field is present but `allowed` (those of them present).
    let only = |allowed: &[Option<&RawValue>]| {
        let present = [
            f.text,
            f.id,
            f.name,
            f.input,
            f.tool_use_id,
            f.content,
            f.is_error,
            f.thinking,
            f.signature,
        ]
        .iter()
        .filter(|x| x.is_some())
        .count();
        present == allowed.iter().filter(|x| x.is_some()).count()
    };
    let non_empty = |s: Span| (!s.is_empty()).then_some(s);
    // The type's JSON text: a type spelled with escapes is the Value path's.
    match f.ty?.get() {
        "\"text\"" if only(&[f.text]) => Some(Block::Text(ctx.raw_string(f.text?)?)),
        "\"tool_use\"" if only(&[f.id, f.name, f.input]) => {
            let input = f.input?.get();
            if !input.starts_with('{') || !canonical_compact(input.as_bytes()) {
                return None;
            }
            Some(Block::ToolUse {
                id: non_empty(ctx.plain_string(f.id?)?)?,
                name: non_empty(ctx.plain_string(f.name?)?)?,
                input: ctx.span(input),
            })
        }
        "\"tool_result\"" if only(&[f.tool_use_id, f.content, f.is_error]) => {
            let is_error = match f.is_error.map(RawValue::get) {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return None,
            };
            Some(Block::ToolResult {
                id: non_empty(ctx.plain_string(f.tool_use_id?)?)?,
                output: tool_output(ctx, f.content)?,
                is_error,
            })
        }
        "\"thinking\"" if only(&[f.thinking, f.signature]) => {
            let thinking = f.thinking?.get();
            if !thinking.starts_with('"') {
                return None;
            }
            Some(Block::Thinking {
                thinking: ctx.span(thinking),
                signature: ctx.plain_string(f.signature?)?,
            })
        }
        _ => None,
    }
}

/// A tool result's `content`: a string, or text blocks.
fn tool_output(ctx: Ctx, content: Option<&RawValue>) -> Option<Output> {
    let Some(raw) = content else {
        return Some(Output::Empty);
    };
    if raw.get().starts_with('"') {
        return Some(Output::Text(ctx.raw_string(raw)?));
    }
    if !raw.get().starts_with('[') {
        return None;
    }
    // Rare enough in Claude Code's histories that scanning these bytes twice is fine.
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let blocks = de.deserialize_seq(TextsSeed(ctx)).ok()?;
    Some(Output::Texts(blocks))
}

struct TextsSeed(Ctx);

impl<'de> Visitor<'de> for TextsSeed {
    type Value = Vec<Span>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text blocks")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<Span>, S::Error> {
        let mut out = Vec::new();
        let mut fields = Vec::new();
        loop {
            let seed = BlockSeed {
                ctx: self.0,
                fields: &mut fields,
                above: RESULT_BLOCK_FIELD_DEPTH,
            };
            match seq.next_element_seed(seed)? {
                None => return Ok(out),
                Some(Some(Block::Text(s))) => out.push(s),
                Some(_) => return Err(outside()),
            }
        }
    }
}

/// The Codex input items of a walked history, written out, each with what `strip_reasoning`
/// and the call/result repair need to know of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawInput {
    buf: Vec<u8>,
    items: Vec<RawItem>,
}

#[derive(Debug, Clone)]
struct RawItem {
    start: usize,
    end: usize,
    kind: Kind,
    /// A call's or a result's id.
    call_id: String,
    /// The block it came from (calls and results), for a repair's degradation.
    origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A message; `true` for a user or developer one (a turn starts).
    Message(bool),
    Call,
    Output,
    Reasoning,
    SearchCall,
    SearchOutput,
}

impl Kind {
    /// The item type `request::repair_plan` knows it by.
    fn ty(self) -> &'static str {
        match self {
            Kind::Message(_) => "message",
            Kind::Call => "function_call",
            Kind::Output => "function_call_output",
            Kind::Reasoning => "reasoning",
            Kind::SearchCall => "tool_search_call",
            Kind::SearchOutput => "tool_search_output",
        }
    }

    /// The kind of an item the `Value` walker made; `None` for a type it does not make.
    fn of(item: &Value) -> Option<Kind> {
        Some(match item.get("type").and_then(Value::as_str)? {
            "message" => Kind::Message(matches!(
                item.get("role").and_then(Value::as_str),
                Some("user" | "developer")
            )),
            "function_call" => Kind::Call,
            "function_call_output" => Kind::Output,
            "reasoning" => Kind::Reasoning,
            "tool_search_call" => Kind::SearchCall,
            "tool_search_output" => Kind::SearchOutput,
            _ => return None,
        })
    }
}

impl RawInput {
    /// Drop the replayed reasoning items; how many there were.
    pub(crate) fn strip_reasoning(&mut self) -> usize {
        let before = self.items.len();
        self.items.retain(|i| i.kind != Kind::Reasoning);
        before - self.items.len()
    }

    /// Append the items, comma-separated (no brackets).
    pub(crate) fn write_items(&self, out: &mut Vec<u8>) {
        for (n, i) in self.items.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&self.buf[i.start..i.end]);
        }
    }

    /// Append `item` (a `Value`) as one more item.
    fn push_value(&mut self, item: &Value, kind: Kind, origin: Origin) {
        let start = self.buf.len();
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, item);
        let call_id = match kind {
            Kind::Call | Kind::Output | Kind::SearchCall | Kind::SearchOutput => item
                .get("call_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            _ => String::new(),
        };
        self.items.push(RawItem {
            start,
            end: self.buf.len(),
            kind,
            call_id,
            origin,
        });
    }

    /// Every call needs its result and every result its call: `request::repair_plan`
    /// decides, as for the `Value` path; placeholders and rewritten results are appended.
    fn repair(&mut self, deg: &mut Degradations) {
        let facts: Vec<PairFacts> = self
            .items
            .iter()
            .map(|i| PairFacts {
                ty: i.kind.ty(),
                turn_start: i.kind == Kind::Message(true),
                call_id: &i.call_id,
                origin: i.origin,
            })
            .collect();
        let Some(plan) = repair_plan(&facts, deg) else {
            return;
        };
        let old = std::mem::take(&mut self.items);
        for step in plan {
            match step {
                Repair::Keep(k) => self.items.push(old[k].clone()),
                Repair::Orphan(k) => {
                    let i = &old[k];
                    let Ok(item) = serde_json::from_slice::<Value>(&self.buf[i.start..i.end])
                    else {
                        continue;
                    };
                    let message = orphan_as_message(item);
                    self.push_value(&message, Kind::Message(true), Origin::None);
                }
                Repair::Placeholder { call_id, search } => {
                    let item = placeholder(&call_id, search);
                    self.push_value(&item, Kind::Output, Origin::None);
                }
            }
        }
    }
}

/// Writes items and the open message's parts, as `request.rs`'s walker builds them.
struct Writer<'s> {
    src: &'s [u8],
    out: RawInput,
    /// Whether a message item is open (being given parts).
    open: bool,
    item_start: usize,
}

impl Writer<'_> {
    fn begin(&mut self) {
        self.item_start = self.out.buf.len();
    }

    fn end(&mut self, kind: Kind, call_id: &str, origin: Origin) {
        self.out.items.push(RawItem {
            start: self.item_start,
            end: self.out.buf.len(),
            kind,
            call_id: call_id.to_owned(),
            origin,
        });
    }

    /// Start a part of a `role` message (opening the message item if needed).
    fn part(&mut self, role: &'static str, ty: &str) {
        let buf = &mut self.out.buf;
        if self.open {
            buf.push(b',');
        } else {
            self.item_start = buf.len();
            buf.extend_from_slice(b"{\"type\":\"message\",\"role\":\"");
            buf.extend_from_slice(role.as_bytes());
            buf.extend_from_slice(b"\",\"content\":[");
            self.open = true;
        }
        buf.extend_from_slice(b"{\"type\":\"");
        buf.extend_from_slice(ty.as_bytes());
        buf.extend_from_slice(b"\",\"text\":");
    }

    fn text_part(&mut self, role: &'static str, ty: &str, text: &Text) {
        self.part(role, ty);
        match text {
            Text::Raw(s) => self.raw_string(*s),
            Text::Owned(s) => self.string(s),
        }
        self.out.buf.push(b'}');
    }

    /// Close the open message item, of `role`.
    fn flush(&mut self, role: &str) {
        if std::mem::take(&mut self.open) {
            self.out.buf.extend_from_slice(b"]}");
            self.end(Kind::Message(role != "assistant"), "", Origin::None);
        }
    }

    fn raw_string(&mut self, s: Span) {
        let buf = &mut self.out.buf;
        buf.push(b'"');
        buf.extend_from_slice(s.bytes(self.src));
        buf.push(b'"');
    }

    fn string(&mut self, s: &str) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.out.buf, s);
    }

    fn key(&mut self, k: &str) {
        self.out.buf.extend_from_slice(b",\"");
        self.out.buf.extend_from_slice(k.as_bytes());
        self.out.buf.extend_from_slice(b"\":");
    }

    fn tool_use(&mut self, (id, name, input): (Span, Span, Span), origin: Origin) {
        let src = self.src;
        let call_id = wire_call_id(id.of(src));
        self.begin();
        self.out
            .buf
            .extend_from_slice(b"{\"type\":\"function_call\",\"name\":");
        self.string(&wire_tool_name(name.of(src)));
        self.key("arguments");
        self.out.buf.push(b'"');
        push_as_string_body(&mut self.out.buf, input.bytes(src));
        self.out.buf.push(b'"');
        self.key("call_id");
        self.string(&call_id);
        self.out.buf.push(b'}');
        self.end(Kind::Call, &call_id, origin);
    }

    fn tool_result(&mut self, id: Span, output: &Output, is_error: bool, origin: Origin) {
        let src = self.src;
        let call_id = wire_call_id(id.of(src));
        self.begin();
        self.out
            .buf
            .extend_from_slice(b"{\"type\":\"function_call_output\",\"call_id\":");
        self.string(&call_id);
        self.key("output");
        push_output(&mut self.out.buf, src, output, is_error);
        self.out.buf.push(b'}');
        self.end(Kind::Output, &call_id, origin);
    }
}

/// A tool result's output as the one JSON string both lanes send: its texts joined with `\n`,
/// after `Error` (or `Error: ` before a text) when the result is an error.
fn push_output(buf: &mut Vec<u8>, src: &[u8], output: &Output, is_error: bool) {
    buf.push(b'"');
    if is_error {
        // The joined text is empty only when no text, or one empty text, is joined.
        let empty = match output {
            Output::Empty => true,
            Output::Text(s) => s.is_empty(),
            Output::Texts(list) => list.len() < 2 && list.iter().all(|s| s.is_empty()),
        };
        buf.extend_from_slice(if empty { b"Error" } else { b"Error: " });
    }
    match output {
        Output::Empty => {}
        Output::Text(s) => buf.extend_from_slice(s.bytes(src)),
        Output::Texts(list) => {
            for (k, s) in list.iter().enumerate() {
                if k > 0 {
                    buf.extend_from_slice(b"\\n");
                }
                buf.extend_from_slice(s.bytes(src));
            }
        }
    }
    buf.push(b'"');
}

/// Write `history`'s input items (`src` being the body it was scanned from), repaired as the
/// `Value` path repairs them; `None` if `src` is not that body. A message with a call of the
/// client's search tool, or the result of one, goes to the `Value` walker with the search
/// state (`tool_search.rs`); a parsed message is moved to it, not copied.
pub(crate) fn walk(
    src: &[u8],
    history: History,
    opts: &RequestOptions,
    deg: &mut Degradations,
    search: &mut Option<Search<'_>>,
) -> Result<Option<RawInput>, RequestError> {
    if src.len() != history.source_len {
        return Ok(None);
    }
    let mut w = Writer {
        src,
        out: RawInput {
            buf: Vec::with_capacity(src.len() + src.len() / 16),
            items: Vec::with_capacity(history.messages.len() * 2),
        },
        open: false,
        item_start: 0,
    };
    for (i, m) in history.messages.into_iter().enumerate() {
        let (role, text_type) = match m.role {
            Role::User => ("user", "input_text"),
            Role::Assistant => ("assistant", "output_text"),
            Role::System => ("developer", "input_text"),
        };
        let searching = |blocks: &[Block]| {
            search.as_ref().is_some_and(|s| {
                blocks.iter().any(|b| match b {
                    Block::ToolUse { name, .. } => s.is_search_tool(name.of(src)),
                    Block::ToolResult { id, .. } => s.answers(id.of(src)),
                    _ => false,
                })
            })
        };
        let blocks = match m.body {
            Body::Scanned(Content::Text(t)) => {
                w.text_part(role, text_type, &t);
                w.flush(role);
                continue;
            }
            Body::Scanned(Content::Blocks(b)) if !searching(&b) => b,
            Body::Scanned(Content::Blocks(_)) | Body::Parsed(_) => {
                let v = match (m.body, m.search) {
                    (Body::Parsed(v), _) | (Body::Scanned(_), Some(v)) => v,
                    (Body::Scanned(_), None) => return Ok(None),
                };
                for (item, origin) in walk_message(i, v, opts, deg, search)? {
                    let Some(kind) = Kind::of(&item) else {
                        return Ok(None);
                    };
                    w.out.push_value(&item, kind, origin);
                }
                continue;
            }
        };
        for (j, b) in blocks.iter().enumerate() {
            let origin = Origin::Block(i, j);
            match b {
                Block::Text(s) => {
                    // An assistant's empty text is left out, a user's is sent.
                    if !(m.role == Role::Assistant && s.is_empty()) {
                        w.text_part(role, text_type, &Text::Raw(*s));
                    }
                }
                Block::ToolUse { id, name, input } => {
                    w.flush(role);
                    w.tool_use((*id, *name, *input), origin);
                }
                Block::ToolResult {
                    id,
                    output,
                    is_error,
                } => {
                    w.flush(role);
                    if *is_error {
                        deg.push(
                            format!("{}.is_error", origin.path()),
                            K::Approximated,
                            IS_ERROR_PREFIXED,
                        );
                    }
                    w.tool_result(*id, output, *is_error, origin);
                }
                Block::Thinking {
                    thinking,
                    signature,
                } => {
                    w.flush(role);
                    // The signature first: most in a Claude Code history are not ours, and
                    // their text need not be unescaped.
                    match replayable(signature.of(src), opts) {
                        Ok(env) => {
                            let Ok(text) = serde_json::from_slice::<String>(thinking.bytes(src))
                            else {
                                return Ok(None);
                            };
                            let item = reasoning_of(env, &text);
                            w.out.push_value(&item, Kind::Reasoning, Origin::None);
                        }
                        Err(why) => deg.push(origin.path(), K::Dropped, why),
                    }
                }
            }
        }
        w.flush(role);
    }
    let mut out = w.out;
    out.repair(deg);
    Ok(Some(out))
}
