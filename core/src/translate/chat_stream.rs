//! Chat Completions SSE → Anthropic stream events (docs/CONVERSION.md §7).
//!
//! Same contract as [`super::stream::ResponsesTranslator`]: push bytes in any chunking, poll
//! events, `finish()` at the end; one block open at a time, every start stopped, one terminal
//! event. Chat streams may interleave parallel tool calls by `index` and send a call's id and
//! name late, which an Anthropic client cannot follow: one call streams live, the others are
//! buffered and emitted whole at the end.

use super::names::ToolNames;
use super::stream::{EARLY_EOF_MESSAGE, error_from_upstream};
use crate::degrade::{Degradation, DegradationKind as K, Degradations};
use crate::error::ErrorType;
use crate::sse::{SseDecoder, SseItem};
use crate::wire::anthropic::{
    BlockStart, Delta, ErrorBody, MessageDeltaBody, StopReason, StreamEvent, Usage,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, VecDeque};

/// What the Chat translator needs to know.
#[derive(Debug, Clone, Default)]
pub struct ChatStreamOptions {
    /// The model id the client asked for (echoed back).
    pub model: String,
    /// Whether the client gets thinking blocks.
    pub thinking: bool,
    /// Wire tool names back to the client's.
    pub tool_names: ToolNames,
    /// The provider's model (goes into the thinking signature).
    pub upstream_model: String,
    /// Source of ids the upstream does not give.
    pub seed: u64,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    #[serde(default)]
    usage: Option<ChatUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<ChatDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChatDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ChatUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[derive(Debug, Default)]
struct Call {
    id: Option<String>,
    name: Option<String>,
    args: String,
    /// Bytes of `args` already sent as deltas (live call only).
    sent: usize,
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool(u64),
}

/// The Chat Completions → Anthropic stream state machine.
#[derive(Debug)]
pub struct ChatTranslator {
    opts: ChatStreamOptions,
    sse: SseDecoder,
    out: VecDeque<StreamEvent>,
    started: bool,
    done: bool,
    next_index: usize,
    open: Option<(usize, Open)>,
    calls: BTreeMap<u64, Call>,
    finish: Option<StopReason>,
    saw_tool_use: bool,
    usage: Usage,
    deg: Degradations,
}

impl ChatTranslator {
    /// A translator at the start of a stream.
    pub fn new(opts: ChatStreamOptions) -> Self {
        Self {
            opts,
            sse: SseDecoder::new(),
            out: VecDeque::new(),
            started: false,
            done: false,
            next_index: 0,
            open: None,
            calls: BTreeMap::new(),
            finish: None,
            saw_tool_use: false,
            usage: Usage::default(),
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
        if self.done {
            return;
        }
        if self.finish.is_some() {
            self.complete();
        } else {
            self.fail(
                ErrorBody {
                    error_type: ErrorType::ApiError,
                    message: EARLY_EOF_MESSAGE.into(),
                },
                None,
            );
        }
    }

    /// End the stream with a host-side error, closing any open block first.
    pub fn abort(&mut self, error: ErrorBody) {
        if !self.done {
            self.fail(error, None);
        }
    }

    /// Next Anthropic event.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        self.out.pop_front()
    }

    /// Whether a terminal event has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// What was lost so far.
    pub fn take_degradations(&mut self) -> Vec<Degradation> {
        std::mem::take(&mut self.deg.0)
    }

    fn drain_sse(&mut self) {
        while let Some(item) = self.sse.poll() {
            if self.done {
                continue;
            }
            match item {
                SseItem::Event { data, .. } => self.on_data(&data),
                SseItem::Comment(_) => {
                    if self.started {
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

    fn on_data(&mut self, data: &str) {
        if data.trim() == "[DONE]" {
            self.complete();
            return;
        }
        let chunk: Chunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(_) => {
                self.deg.push(
                    "stream",
                    K::Dropped,
                    "an upstream chunk that is not JSON was skipped",
                );
                return;
            }
        };
        self.start(chunk.id.as_deref());
        if let Some(e) = chunk.error {
            self.upstream_error(&e);
            return;
        }
        if let Some(u) = chunk.usage {
            let prompt = u.prompt_tokens.unwrap_or(0);
            let cached = u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0);
            self.usage = Usage {
                input_tokens: prompt.saturating_sub(cached),
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: cached,
                output_tokens: u.completion_tokens.unwrap_or(0),
            };
        }
        for choice in chunk.choices.into_iter().flatten() {
            let d = choice.delta.unwrap_or_default();
            let reasoning = d.reasoning_content.or(d.reasoning);
            if let Some(r) = reasoning.filter(|r| !r.is_empty())
                && self.opts.thinking
            {
                self.text_like(Open::Thinking, r);
            }
            if let Some(c) = d.content.filter(|c| !c.is_empty()) {
                self.text_like(Open::Text, c);
            }
            if let Some(r) = d.refusal.filter(|r| !r.is_empty()) {
                self.finish = Some(StopReason::Refusal);
                self.text_like(Open::Text, r);
            }
            for tc in d.tool_calls.into_iter().flatten() {
                self.tool_delta(tc);
            }
            if let Some(f) = choice.finish_reason {
                let reason = match f.as_str() {
                    "tool_calls" | "function_call" => StopReason::ToolUse,
                    "length" => StopReason::MaxTokens,
                    "content_filter" => StopReason::Refusal,
                    _ => StopReason::EndTurn,
                };
                if self.finish != Some(StopReason::Refusal) {
                    self.finish = Some(reason);
                }
            }
        }
    }

    fn start(&mut self, id: Option<&str>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = match id.filter(|i| !i.is_empty()) {
            Some(i) => format!("msg_{i}"),
            None => format!("msg_{:024x}", self.opts.seed),
        };
        let message = json!({
            "id": id, "type": "message", "role": "assistant", "model": self.opts.model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": Usage::default(),
        });
        self.out.push_back(StreamEvent::MessageStart { message });
    }

    fn open_block(&mut self, kind: Open, block: BlockStart) {
        self.close();
        let index = self.next_index;
        self.next_index += 1;
        self.out.push_back(StreamEvent::ContentBlockStart {
            index,
            content_block: Box::new(block),
        });
        self.open = Some((index, kind));
    }

    fn close(&mut self) {
        let Some((index, kind)) = self.open.take() else {
            return;
        };
        match kind {
            Open::Thinking => {
                let payload = json!({"v": 1, "m": self.opts.upstream_model}).to_string();
                let signature = format!("ccpc1.{}", URL_SAFE_NO_PAD.encode(payload));
                self.out.push_back(StreamEvent::ContentBlockDelta {
                    index,
                    delta: Delta::SignatureDelta { signature },
                });
            }
            Open::Tool(i) => {
                if let Some(c) = self.calls.get_mut(&i) {
                    c.done = true;
                }
            }
            Open::Text => {}
        }
        self.out.push_back(StreamEvent::ContentBlockStop { index });
    }

    fn text_like(&mut self, kind: Open, text: String) {
        if self.open.map(|(_, k)| k) != Some(kind) {
            let block = match kind {
                Open::Thinking => BlockStart::Thinking {
                    thinking: String::new(),
                    signature: String::new(),
                },
                _ => BlockStart::empty_text(),
            };
            self.open_block(kind, block);
        }
        let index = self.open.map_or(0, |(i, _)| i);
        let delta = match kind {
            Open::Thinking => Delta::ThinkingDelta { thinking: text },
            _ => Delta::TextDelta { text },
        };
        self.out
            .push_back(StreamEvent::ContentBlockDelta { index, delta });
    }

    fn live_tool(&self) -> Option<u64> {
        match self.open {
            Some((_, Open::Tool(i))) => Some(i),
            _ => None,
        }
    }

    fn tool_delta(&mut self, tc: ToolCallDelta) {
        let idx = tc.index.unwrap_or(0);
        let call = self.calls.entry(idx).or_default();
        if call.done {
            self.deg.push(
                "stream",
                K::Dropped,
                "arguments for a tool call that was already closed were skipped",
            );
            return;
        }
        if let Some(id) = tc.id.filter(|s| !s.is_empty()) {
            call.id = Some(id);
        }
        if let Some(f) = tc.function {
            if let Some(n) = f.name.filter(|s| !s.is_empty()) {
                call.name = Some(n);
            }
            if let Some(a) = f.arguments {
                call.args.push_str(&a);
            }
        }
        let ready = call.id.is_some() && call.name.is_some();
        match self.live_tool() {
            Some(live) if live == idx => self.flush_live(),
            // Another call is live: this one stays buffered until the end.
            Some(_) => {}
            None if ready => self.go_live(idx),
            None => {}
        }
    }

    fn go_live(&mut self, idx: u64) {
        let Some(c) = self.calls.get(&idx) else {
            return;
        };
        let id = c.id.clone().unwrap_or_default();
        let name = self
            .opts
            .tool_names
            .original(c.name.as_deref().unwrap_or(""))
            .to_owned();
        self.saw_tool_use = true;
        self.open_block(
            Open::Tool(idx),
            BlockStart::ToolUse {
                id,
                name,
                input: Map::new(),
            },
        );
        self.flush_live();
    }

    fn flush_live(&mut self) {
        let Some((index, Open::Tool(i))) = self.open else {
            return;
        };
        if let Some(c) = self.calls.get_mut(&i)
            && c.args.len() > c.sent
        {
            let piece = c.args[c.sent..].to_owned();
            c.sent = c.args.len();
            self.out.push_back(StreamEvent::ContentBlockDelta {
                index,
                delta: Delta::InputJsonDelta {
                    partial_json: piece,
                },
            });
        }
    }

    /// Close the live block and emit every buffered call whole, in index order.
    fn flush_buffered(&mut self) {
        self.close();
        let pending: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| !c.done)
            .map(|(i, _)| *i)
            .collect();
        for i in pending {
            let Some(c) = self.calls.get(&i) else {
                continue;
            };
            let id = c.id.clone().unwrap_or_else(|| format!("call_{i}"));
            let name = self
                .opts
                .tool_names
                .original(c.name.as_deref().unwrap_or(""))
                .to_owned();
            let args = c.args.clone();
            self.saw_tool_use = true;
            self.open_block(
                Open::Tool(i),
                BlockStart::ToolUse {
                    id,
                    name,
                    input: Map::new(),
                },
            );
            let index = self.next_index - 1;
            if !args.is_empty() {
                self.out.push_back(StreamEvent::ContentBlockDelta {
                    index,
                    delta: Delta::InputJsonDelta { partial_json: args },
                });
            }
            self.close();
        }
    }

    fn complete(&mut self) {
        if self.done {
            return;
        }
        self.start(None);
        self.flush_buffered();
        let stop = match self.finish {
            Some(StopReason::Refusal) => StopReason::Refusal,
            _ if self.saw_tool_use => StopReason::ToolUse,
            Some(s) => s,
            None => StopReason::EndTurn,
        };
        self.out.push_back(StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: stop,
                stop_sequence: None,
            },
            usage: self.usage,
        });
        self.out.push_back(StreamEvent::MessageStop);
        self.done = true;
    }

    fn upstream_error(&mut self, e: &Value) {
        let message = e.get("message").and_then(Value::as_str);
        let (ty, code) = match e.get("code") {
            Some(Value::Number(n)) => {
                let ty = match n.as_u64().unwrap_or(0) {
                    400 => ErrorType::InvalidRequestError,
                    401 => ErrorType::AuthenticationError,
                    403 => ErrorType::PermissionError,
                    429 => ErrorType::RateLimitError,
                    503 | 529 => ErrorType::OverloadedError,
                    _ => ErrorType::ApiError,
                };
                (
                    ErrorBody {
                        error_type: ty,
                        message: message
                            .filter(|m| !m.is_empty())
                            .unwrap_or("upstream error")
                            .to_owned(),
                    },
                    Some(n.to_string()),
                )
            }
            other => {
                let code = other
                    .and_then(Value::as_str)
                    .or_else(|| e.get("type").and_then(Value::as_str));
                (
                    error_from_upstream(code, None, message),
                    code.map(str::to_owned),
                )
            }
        };
        self.fail(ty, code);
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
