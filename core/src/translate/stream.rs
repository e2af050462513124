//! Codex Responses SSE → Anthropic stream events (docs/CONVERSION.md §2).
//!
//! A push state machine in the quinn-proto style: [`ResponsesTranslator::push`] bytes in any
//! chunking, drain [`ResponsesTranslator::poll_event`] until `None`, call
//! [`ResponsesTranslator::finish`] at the end of input and drain again. Output never depends
//! on chunk boundaries; memory is bounded by the largest single upstream event. Every started
//! block is stopped, indices go 0,1,2… and exactly one block is open at a time. After a
//! terminal event (message_stop or error) nothing more is emitted.

use super::delta_scan::{self, DeltaKind};
use super::names::ToolNames;
use super::signature;
use crate::degrade::{Degradation, DegradationKind as K, Degradations};
use crate::error::ErrorType;
use crate::sse::{SseDecoder, SseItem};
use crate::wire::anthropic::{
    BlockStart, Delta, ErrorBody, MessageDeltaBody, StopReason, StreamEvent, Usage,
};
use crate::wire::responses::{ErrorObj, Item, UpEvent, UsageIn};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

/// What the translator needs to know about the exchange.
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// The model id the client asked for (echoed back).
    pub model: String,
    /// Whether the client gets thinking blocks.
    pub thinking: bool,
    /// Wire tool names back to the client's.
    pub tool_names: ToolNames,
    /// The upstream model (goes into signatures).
    pub upstream_model: String,
    /// Account tag (goes into signatures).
    pub account_tag: Option<String>,
    /// Source of ids the upstream does not give.
    pub seed: u64,
    /// The client's stop sequences (the backend has none: the proxy stops the stream).
    pub stop_sequences: Vec<String>,
}

/// Message the client sees when the upstream stream ends without a terminal event.
pub const EARLY_EOF_MESSAGE: &str = "upstream stream ended before the response completed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    ToolUse,
}

#[derive(Debug)]
struct Open {
    index: usize,
    kind: Kind,
    item_id: Option<String>,
    /// A delta was emitted for this block.
    streamed: bool,
    /// A delta arrived for this block (text may be held back by stop sequences).
    received: bool,
}

/// Anthropic error type for an upstream error code or type.
pub fn error_type_for_code(code: &str) -> ErrorType {
    match code {
        "context_length_exceeded" => ErrorType::InvalidRequestError,
        "rate_limit_exceeded" | "usage_limit_reached" | "insufficient_quota" => {
            ErrorType::RateLimitError
        }
        "server_is_overloaded" | "slow_down" => ErrorType::OverloadedError,
        "usage_not_included" => ErrorType::PermissionError,
        "invalid_prompt" | "cyber_policy" | "invalid_encrypted_content" => {
            ErrorType::InvalidRequestError
        }
        _ => ErrorType::ApiError,
    }
}

/// The Anthropic error for an upstream error object.
pub(crate) fn error_from_upstream(
    code: Option<&str>,
    ty: Option<&str>,
    message: Option<&str>,
) -> ErrorBody {
    let key = code.filter(|c| !c.is_empty()).or(ty).unwrap_or("");
    let base = message
        .filter(|m| !m.is_empty())
        .or(code.filter(|c| !c.is_empty()))
        .unwrap_or("upstream error");
    let message = if key == "context_length_exceeded" {
        format!("prompt is too long: {base}")
    } else {
        base.to_owned()
    };
    ErrorBody {
        error_type: error_type_for_code(key),
        message,
    }
}

/// The Codex → Anthropic stream state machine.
#[derive(Debug)]
pub struct ResponsesTranslator {
    opts: StreamOptions,
    sse: SseDecoder,
    /// Reads the per-token delta events without serde (exactly; see the module).
    scanner: delta_scan::DeltaScanner,
    out: VecDeque<StreamEvent>,
    started: bool,
    done: bool,
    next_index: usize,
    open: Option<Open>,
    /// item id → (call id, client name) of function calls announced by `output_item.added`.
    calls: HashMap<String, (String, String)>,
    saw_tool_use: bool,
    saw_refusal: bool,
    /// Text of the open text block held back: it may be the start of a stop sequence.
    held: String,
    /// The stop sequence that ended the client's answer.
    stopped: Option<String>,
    deg: Degradations,
}

impl ResponsesTranslator {
    /// A translator at the start of a stream.
    pub fn new(opts: StreamOptions) -> Self {
        Self {
            opts,
            sse: SseDecoder::new(),
            scanner: delta_scan::DeltaScanner::new(),
            out: VecDeque::new(),
            started: false,
            done: false,
            next_index: 0,
            open: None,
            calls: HashMap::new(),
            saw_tool_use: false,
            saw_refusal: false,
            held: String::new(),
            stopped: None,
            deg: Degradations::default(),
        }
    }

    /// Feed upstream bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.sse.push(bytes);
        self.drain_sse();
    }

    /// The upstream body ended. Safe to call more than once.
    pub fn finish(&mut self) {
        self.sse.finish();
        self.drain_sse();
        if !self.done && self.stopped.is_some() {
            // The answer ended at a stop sequence: the client has all of it.
            self.complete(StopReason::StopSequence, None);
        }
        if !self.done {
            self.fail(
                ErrorBody {
                    error_type: ErrorType::ApiError,
                    message: EARLY_EOF_MESSAGE.into(),
                },
                None,
            );
        }
    }

    /// End the stream with a host-side error (an idle timeout, say): any open block is
    /// closed first. Nothing happens if the stream already ended.
    pub fn abort(&mut self, error: ErrorBody) {
        if !self.done {
            self.fail(error, None);
        }
    }

    /// Next Anthropic event, if any.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.out.pop_front()
    }

    /// Whether a terminal event has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// What was lost so far (unknown items, unparsable events).
    pub fn take_degradations(&mut self) -> Vec<Degradation> {
        std::mem::take(&mut self.deg.0)
    }

    fn drain_sse(&mut self) {
        while let Some(item) = self.sse.poll() {
            if self.done {
                continue;
            }
            match item {
                SseItem::Event { event, data } => self.on_data(event.as_deref(), data),
                SseItem::Comment(_) => {
                    if self.started && self.stopped.is_none() {
                        self.out.push_back(StreamEvent::Ping);
                    }
                }
                SseItem::Oversized => self.deg.push(
                    "stream",
                    K::Dropped,
                    "an upstream event exceeded the size bound and was skipped",
                ),
            }
        }
    }

    fn on_data(&mut self, event_name: Option<&str>, data: String) {
        if let Some(d) = self.scanner.scan(&data) {
            // After a stop sequence deltas no longer matter.
            if self.stopped.is_none()
                && let Some(kind) = self.delta_kind(d.kind)
                && self.enter_block(kind, d.item_id.as_deref())
            {
                let piece = d.plan(&data).text(data);
                self.piece_out(kind, piece);
            }
            return;
        }
        let data = data.as_str();
        let ev: UpEvent<'_> = match serde_json::from_str(data) {
            Ok(ev) => ev,
            Err(_) => {
                self.deg.push(
                    "stream",
                    K::Dropped,
                    "an upstream event whose data is not JSON was skipped",
                );
                return;
            }
        };
        let ty = ev.ty.as_deref().or(event_name).unwrap_or("");
        if self.stopped.is_some() {
            // After a stop sequence only the end matters (for its usage).
            match ty {
                "response.completed" | "response.incomplete" => {
                    let usage = ev.response.and_then(|r| r.usage);
                    self.complete(StopReason::StopSequence, usage.as_ref());
                }
                "response.failed" | "error" => self.complete(StopReason::StopSequence, None),
                _ => {}
            }
            return;
        }
        match ty {
            "response.created" | "response.in_progress" | "response.queued" => {
                let id = ev.response.as_ref().and_then(|r| r.id.as_deref());
                self.start(id);
            }
            "response.output_item.added" => {
                if let Some(item) = ev.item {
                    self.item_added(*item);
                }
            }
            "response.output_item.done" => {
                if let Some(item) = ev.item {
                    self.item_done(*item);
                }
            }
            // A new summary part on an open thinking block: separate it from the last one.
            "response.reasoning_summary_part.added"
                if self.opts.thinking
                    && ev.summary_index.unwrap_or(0) > 0
                    && self.open_matches(Kind::Thinking, ev.item_id.as_deref()) =>
            {
                self.delta(
                    Kind::Thinking,
                    ev.item_id.as_deref(),
                    signature::PART_SEPARATOR.into(),
                );
            }
            ty if let Some(kind) = DeltaKind::from_type(ty) => match ev.delta {
                Some(d) => self.on_delta(kind, ev.item_id.as_deref(), d),
                None => self.saw_refusal |= kind == DeltaKind::Refusal,
            },
            "response.completed" => {
                let usage = ev.response.and_then(|r| r.usage);
                let stop = self.stop_reason(StopReason::EndTurn);
                self.complete(stop, usage.as_ref());
            }
            "response.incomplete" => {
                let r = ev.response.map(|r| *r).unwrap_or_default();
                let reason = r.incomplete_details.and_then(|d| d.reason);
                let stop = if reason.as_deref() == Some("content_filter") {
                    StopReason::Refusal
                } else {
                    StopReason::MaxTokens
                };
                self.complete(stop, r.usage.as_ref());
            }
            "response.failed" => {
                let e = ev.response.and_then(|r| r.error).unwrap_or_default();
                self.fail_upstream(&e);
            }
            "error" => {
                let e = match ev.error {
                    Some(e) => *e,
                    None => ErrorObj {
                        code: ev.code,
                        ty: None,
                        message: ev.message,
                    },
                };
                self.fail_upstream(&e);
            }
            // Lifecycle and bookkeeping events carry nothing the client needs.
            _ => {}
        }
    }

    /// One of the per-token delta events, read by serde.
    fn on_delta(&mut self, kind: DeltaKind, item_id: Option<&str>, piece: Cow<'_, str>) {
        if let Some(kind) = self.delta_kind(kind) {
            self.delta(kind, item_id, piece.into_owned());
        }
    }

    /// The block kind a delta event feeds (`None`: the client does not get it).
    fn delta_kind(&mut self, kind: DeltaKind) -> Option<Kind> {
        Some(match kind {
            DeltaKind::OutputText => Kind::Text,
            DeltaKind::FunctionCallArguments => Kind::ToolUse,
            DeltaKind::ReasoningSummaryText if self.opts.thinking => Kind::Thinking,
            DeltaKind::ReasoningSummaryText => return None,
            DeltaKind::Refusal => {
                self.saw_refusal = true;
                Kind::Text
            }
        })
    }

    fn start(&mut self, response_id: Option<&str>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = match response_id {
            Some(id) => format!("msg_{}", id.strip_prefix("resp_").unwrap_or(id)),
            None => format!("msg_{:024x}", self.opts.seed),
        };
        let message = json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": self.opts.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": Usage::default(),
        });
        self.out.push_back(StreamEvent::MessageStart { message });
    }

    fn open_matches(&self, kind: Kind, item_id: Option<&str>) -> bool {
        self.open.as_ref().is_some_and(|o| {
            o.kind == kind && (item_id.is_none() || o.item_id.as_deref() == item_id)
        })
    }

    fn open_block(&mut self, kind: Kind, item_id: Option<&str>, block: BlockStart) {
        self.start(None);
        self.close();
        let index = self.next_index;
        self.next_index += 1;
        self.out.push_back(StreamEvent::ContentBlockStart {
            index,
            content_block: Box::new(block),
        });
        self.open = Some(Open {
            index,
            kind,
            item_id: item_id.map(str::to_owned),
            streamed: false,
            received: false,
        });
    }

    fn close(&mut self) {
        self.flush_held();
        if let Some(o) = self.open.take() {
            self.out
                .push_back(StreamEvent::ContentBlockStop { index: o.index });
        }
    }

    /// Emit the text held back for stop sequences (the block is ending).
    fn flush_held(&mut self) {
        if !self.held.is_empty() && self.open.as_ref().is_some_and(|o| o.kind == Kind::Text) {
            let text = std::mem::take(&mut self.held);
            self.emit_delta(Delta::TextDelta { text });
        }
    }

    /// The url citations of a done message item, as `citations_delta`s on its open text
    /// block (docs/CONVERSION.md §2, "url citations").
    fn cite(&mut self, item: &Item) {
        let parts = item.content.iter().flatten();
        for part in parts.filter(|p| p.ty == "output_text") {
            let text = part.text.as_deref().unwrap_or("");
            for a in part.annotations.iter().flatten() {
                let (Some("url_citation"), Some(url)) = (a["type"].as_str(), a["url"].as_str())
                else {
                    self.deg.push(
                        "stream",
                        K::Dropped,
                        "an annotation other than a url citation with a url was dropped",
                    );
                    continue;
                };
                let index = |key: &str| a[key].as_u64().and_then(|n| usize::try_from(n).ok());
                let cited_text: String = match (index("start_index"), index("end_index")) {
                    (Some(s), Some(e)) if s < e => text.chars().skip(s).take(e - s).collect(),
                    _ => String::new(),
                };
                let title = a["title"].as_str().filter(|t| !t.is_empty()).unwrap_or(url);
                let citation = json!({
                    "type": "web_search_result_location",
                    "cited_text": cited_text,
                    "url": url,
                    "title": title,
                    "encrypted_index": "",
                });
                self.emit_delta(Delta::CitationsDelta { citation });
            }
        }
    }

    fn emit_delta(&mut self, delta: Delta) {
        if let Some(o) = self.open.as_mut() {
            o.streamed = true;
            let index = o.index;
            self.out
                .push_back(StreamEvent::ContentBlockDelta { index, delta });
        }
    }

    fn delta(&mut self, kind: Kind, item_id: Option<&str>, piece: String) {
        if self.enter_block(kind, item_id) {
            self.piece_out(kind, piece);
        }
    }

    /// Make the block a delta of `item_id` belongs to the open one; `false` when the delta is
    /// dropped (function arguments of an item never announced).
    fn enter_block(&mut self, kind: Kind, item_id: Option<&str>) -> bool {
        if !self.open_matches(kind, item_id) {
            match kind {
                Kind::Text => self.open_block(kind, item_id, BlockStart::empty_text()),
                Kind::Thinking => self.open_block(
                    kind,
                    item_id,
                    BlockStart::Thinking {
                        thinking: String::new(),
                        signature: String::new(),
                    },
                ),
                Kind::ToolUse => {
                    // A tool block is opened by output_item.added; a delta for another item
                    // means the upstream interleaved items, which a client cannot follow.
                    let Some((id, name)) = item_id.and_then(|i| self.calls.get(i)).cloned() else {
                        self.deg.push(
                            "stream",
                            K::Dropped,
                            "function arguments for an unknown item were skipped",
                        );
                        return false;
                    };
                    self.open_tool(item_id, id, name);
                }
            }
        }
        if let Some(o) = self.open.as_mut() {
            o.received = true;
        }
        true
    }

    /// A piece on the open block (entered by [`Self::enter_block`]).
    fn piece_out(&mut self, kind: Kind, piece: String) {
        let delta = match kind {
            Kind::Text => return self.text_out(piece),
            Kind::Thinking => Delta::ThinkingDelta { thinking: piece },
            Kind::ToolUse => Delta::InputJsonDelta {
                partial_json: piece,
            },
        };
        self.emit_delta(delta);
    }

    /// Emit text on the open text block, watching for stop sequences (docs/CONVERSION.md §2).
    fn text_out(&mut self, piece: String) {
        if self.opts.stop_sequences.is_empty() {
            return self.emit_delta(Delta::TextDelta { text: piece });
        }
        let mut pending = std::mem::take(&mut self.held);
        pending.push_str(&piece);
        // The stop sequence that is complete first (earliest end, then earliest start, then
        // listed first); any match lies wholly in `pending` (see the hold-back below).
        let mut best: Option<(usize, usize, usize)> = None;
        for (i, seq) in self.opts.stop_sequences.iter().enumerate() {
            if let Some(p) = pending.find(seq.as_str()).filter(|_| !seq.is_empty()) {
                let key = (p + seq.len(), p, i);
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
        }
        if let Some((_, p, i)) = best {
            if p > 0 {
                pending.truncate(p);
                self.emit_delta(Delta::TextDelta { text: pending });
            }
            self.close();
            self.stopped = Some(self.opts.stop_sequences[i].clone());
            return;
        }
        // Hold back the longest tail that could still begin a stop sequence.
        let longest = self
            .opts
            .stop_sequences
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0);
        let hold = (1..longest.min(pending.len() + 1))
            .rev()
            .find(|&k| {
                let at = pending.len() - k;
                pending.is_char_boundary(at)
                    && self
                        .opts
                        .stop_sequences
                        .iter()
                        .any(|s| s.len() > k && s.starts_with(&pending[at..]))
            })
            .unwrap_or(0);
        self.held = pending.split_off(pending.len() - hold);
        if !pending.is_empty() {
            self.emit_delta(Delta::TextDelta { text: pending });
        }
    }

    fn open_tool(&mut self, item_id: Option<&str>, id: String, name: String) {
        self.saw_tool_use = true;
        self.open_block(
            Kind::ToolUse,
            item_id,
            BlockStart::ToolUse {
                id,
                name,
                input: Map::new(),
            },
        );
    }

    fn item_added(&mut self, item: Item) {
        if item.ty != "function_call" {
            return;
        }
        let item_id = item.id.clone();
        let call_id = item.call_id.or_else(|| item.id.clone()).unwrap_or_default();
        let name = self
            .opts
            .tool_names
            .original(item.name.as_deref().unwrap_or(""))
            .to_owned();
        if let Some(iid) = &item_id {
            self.calls
                .insert(iid.clone(), (call_id.clone(), name.clone()));
        }
        self.open_tool(item_id.as_deref(), call_id, name);
    }

    fn item_done(&mut self, item: Item) {
        let item_id = item.id.as_deref();
        match item.ty.as_str() {
            "reasoning" => self.reasoning_done(&item),
            "message" => {
                let mut text = String::new();
                for part in item.content.iter().flatten() {
                    match part.ty.as_str() {
                        "refusal" => {
                            self.saw_refusal = true;
                            text.push_str(part.refusal.as_deref().unwrap_or(""));
                        }
                        _ => text.push_str(part.text.as_deref().unwrap_or("")),
                    }
                }
                let streamed = self.open_matches(Kind::Text, item_id)
                    && self.open.as_ref().is_some_and(|o| o.received);
                if !streamed && !text.is_empty() {
                    self.open_block(Kind::Text, item_id, BlockStart::empty_text());
                    self.text_out(text);
                }
                if self.open_matches(Kind::Text, item_id) {
                    // Citations follow all of the block's text (held-back text included).
                    self.flush_held();
                    self.cite(&item);
                    self.close();
                } else if has_annotations(&item) {
                    self.deg.push(
                        "stream",
                        K::Dropped,
                        "citations of a message whose text block is not open were dropped",
                    );
                }
            }
            "function_call" => {
                if !self.open_matches(Kind::ToolUse, item_id) {
                    let call_id = item
                        .call_id
                        .clone()
                        .or_else(|| item.id.clone())
                        .unwrap_or_default();
                    let name = self
                        .opts
                        .tool_names
                        .original(item.name.as_deref().unwrap_or(""))
                        .to_owned();
                    self.open_tool(item_id, call_id, name);
                }
                let streamed = self.open.as_ref().is_some_and(|o| o.streamed);
                let args = match item.arguments {
                    Some(Value::String(s)) => s,
                    None | Some(Value::Null) => String::new(),
                    Some(other) => other.to_string(),
                };
                if !streamed && !args.is_empty() {
                    self.emit_delta(Delta::InputJsonDelta { partial_json: args });
                }
                self.close();
            }
            "tool_search_call" if self.opts.tool_names.search_tool().is_some() => {
                let name = self.opts.tool_names.search_tool().unwrap_or("").to_owned();
                let call_id = item.call_id.clone().or_else(|| item.id.clone());
                self.open_tool(item_id, call_id.unwrap_or_default(), name);
                let input = crate::translate::tool_search::call_input(item.arguments.as_ref());
                self.emit_delta(Delta::InputJsonDelta {
                    partial_json: input,
                });
                self.close();
            }
            "web_search_call" => self.web_search_done(&item),
            other => {
                let what = if other.is_empty() { "untyped" } else { other };
                self.deg.push(
                    "stream",
                    K::Unsupported,
                    format!("upstream output item `{what}` has no Anthropic form"),
                );
            }
        }
    }

    fn reasoning_done(&mut self, item: &Item) {
        if !self.opts.thinking {
            return;
        }
        let item_id = item.id.as_deref();
        let parts: Vec<&str> = item
            .summary
            .iter()
            .flatten()
            .map(|p| p.text.as_str())
            .collect();
        let open_here = self.open_matches(Kind::Thinking, item_id);
        let streamed = open_here && self.open.as_ref().is_some_and(|o| o.streamed);
        let has_text = parts.iter().any(|p| !p.is_empty());
        let enc = item.encrypted_content.as_deref().filter(|e| !e.is_empty());
        if !open_here && (has_text || enc.is_some()) {
            self.open_block(
                Kind::Thinking,
                item_id,
                BlockStart::Thinking {
                    thinking: String::new(),
                    signature: String::new(),
                },
            );
        }
        if !streamed && has_text {
            self.emit_delta(Delta::ThinkingDelta {
                thinking: parts.join(signature::PART_SEPARATOR),
            });
        }
        if let Some(enc) = enc {
            let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            let sig = signature::encode(
                &self.opts.upstream_model,
                self.opts.account_tag.as_deref(),
                enc,
                &lens,
            );
            self.emit_delta(Delta::SignatureDelta { signature: sig });
        }
        if self.open_matches(Kind::Thinking, item_id) {
            self.close();
        }
    }

    fn web_search_done(&mut self, item: &Item) {
        let raw_id = item.id.as_deref().unwrap_or("");
        let id = format!("srvtoolu_{}", raw_id.strip_prefix("ws_").unwrap_or(raw_id));
        let action = item.action.as_ref();
        let query = action
            .and_then(|a| a.get("query"))
            .cloned()
            .unwrap_or(Value::String(String::new()));
        self.open_block(
            Kind::ToolUse,
            item.id.as_deref(),
            BlockStart::ServerToolUse {
                id: id.clone(),
                name: "web_search".into(),
                input: Map::new(),
            },
        );
        self.emit_delta(Delta::InputJsonDelta {
            partial_json: json!({"query": query}).to_string(),
        });
        self.close();
        let content: Vec<Value> = action
            .and_then(|a| a.get("sources"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("url").and_then(Value::as_str))
            .map(|url| {
                json!({"type": "web_search_result", "url": url, "title": url,
                       "encrypted_content": "", "page_age": null})
            })
            .collect();
        let index = self.next_index;
        self.next_index += 1;
        self.out.push_back(StreamEvent::ContentBlockStart {
            index,
            content_block: Box::new(BlockStart::WebSearchToolResult {
                tool_use_id: id,
                content,
            }),
        });
        self.out.push_back(StreamEvent::ContentBlockStop { index });
    }

    fn stop_reason(&self, default: StopReason) -> StopReason {
        if self.saw_refusal {
            StopReason::Refusal
        } else if self.saw_tool_use {
            StopReason::ToolUse
        } else {
            default
        }
    }

    fn complete(&mut self, stop: StopReason, usage: Option<&UsageIn>) {
        self.start(None);
        self.close();
        let stop = if stop == StopReason::MaxTokens && self.saw_refusal {
            StopReason::Refusal
        } else {
            stop
        };
        let (stop, stop_sequence) = match self.stopped.clone() {
            Some(seq) => (StopReason::StopSequence, Some(seq)),
            None => (stop, None),
        };
        self.out.push_back(StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: stop,
                stop_sequence,
            },
            usage: convert_usage(usage),
        });
        self.out.push_back(StreamEvent::MessageStop);
        self.done = true;
    }

    fn fail_upstream(&mut self, e: &ErrorObj) {
        self.start(None);
        let body = error_from_upstream(e.code.as_deref(), e.ty.as_deref(), e.message.as_deref());
        let code = e.code.clone().or_else(|| e.ty.clone());
        self.fail(body, code);
    }

    fn fail(&mut self, error: ErrorBody, upstream_code: Option<String>) {
        self.close();
        self.out.push_back(StreamEvent::Error {
            error,
            upstream_code,
        });
        self.done = true;
    }
}

/// Responses usage → Anthropic usage (input excludes cache reads).
pub fn convert_usage(u: Option<&UsageIn>) -> Usage {
    let Some(u) = u else {
        return Usage::default();
    };
    let input = u.input_tokens.unwrap_or(0);
    let cached = u
        .input_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .unwrap_or(0);
    Usage {
        input_tokens: input.saturating_sub(cached),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
        output_tokens: u.output_tokens.unwrap_or(0),
    }
}
/// Whether a message item carries annotations (citations) in any part.
fn has_annotations(item: &Item) -> bool {
    item.content
        .iter()
        .flatten()
        .any(|p| p.annotations.as_ref().is_some_and(|a| !a.is_empty()))
}
