//! Anthropic Messages stream events as this proxy emits them (types only).

use crate::error::ErrorType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Token usage, Anthropic style: `input_tokens` excludes cache reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens neither read from nor written to the cache.
    pub input_tokens: u64,
    /// Tokens written to the cache (always 0 on the backends here).
    pub cache_creation_input_tokens: u64,
    /// Tokens read from the cache.
    pub cache_read_input_tokens: u64,
    /// Output tokens, thinking included.
    pub output_tokens: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Natural end.
    EndTurn,
    /// The output limit was reached.
    MaxTokens,
    /// A stop sequence matched.
    StopSequence,
    /// The model called client tools.
    ToolUse,
    /// The model declined.
    Refusal,
}

/// The start of a content block (and, complete, a block of a non-streaming Message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BlockStart {
    /// `{"type":"text","text":""}`.
    Text {
        /// Always empty at start.
        text: String,
        /// Citations: never at a stream's start (they arrive as `citations_delta`); in a
        /// non-streaming Message, present when there is at least one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        citations: Option<Vec<Value>>,
    },
    /// `{"type":"thinking","thinking":"","signature":""}`.
    Thinking {
        /// Always empty at start.
        thinking: String,
        /// Always empty at start.
        signature: String,
    },
    /// `{"type":"tool_use","id","name","input":{}}`: input arrives as deltas.
    ToolUse {
        /// The call id.
        id: String,
        /// The client's tool name.
        name: String,
        /// Always `{}`.
        input: Map<String, Value>,
    },
    /// A server-side tool call (web search).
    ServerToolUse {
        /// `srvtoolu_…`.
        id: String,
        /// `web_search`.
        name: String,
        /// Always `{}`.
        input: Map<String, Value>,
    },
    /// Web search results, complete at start.
    WebSearchToolResult {
        /// The `server_tool_use` id.
        tool_use_id: String,
        /// The results.
        content: Vec<Value>,
    },
}

/// A content block delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delta {
    /// Text.
    TextDelta {
        /// The text piece.
        text: String,
    },
    /// A piece of a tool input's JSON.
    InputJsonDelta {
        /// The JSON piece.
        partial_json: String,
    },
    /// Thinking text.
    ThinkingDelta {
        /// The text piece.
        thinking: String,
    },
    /// The thinking block's signature (replaces, not appends).
    SignatureDelta {
        /// The signature.
        signature: String,
    },
    /// One citation for the text block (appends).
    CitationsDelta {
        /// `{"type":"web_search_result_location",…}`.
        citation: Value,
    },
}

/// `message_delta.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    /// Why generation stopped.
    pub stop_reason: StopReason,
    /// The matched stop sequence, if any.
    pub stop_sequence: Option<String>,
}

/// The error object inside an `error` event or error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The Anthropic error type.
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    /// A human message (never contains credentials).
    pub message: String,
}

/// One Anthropic stream event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The message envelope, content empty.
    MessageStart {
        /// `{"id","type":"message","role":"assistant","model","content":[],…}`.
        message: Value,
    },
    /// A block begins.
    ContentBlockStart {
        /// Block index, 0,1,2… in order.
        index: usize,
        /// The block's initial state (boxed: it is the largest variant, and every event of
        /// a stream is moved through the queue at this size).
        content_block: Box<BlockStart>,
    },
    /// A block grows.
    ContentBlockDelta {
        /// Block index.
        index: usize,
        /// The piece.
        delta: Delta,
    },
    /// A block ends.
    ContentBlockStop {
        /// Block index.
        index: usize,
    },
    /// Stop reason and cumulative usage.
    MessageDelta {
        /// Stop reason.
        delta: MessageDeltaBody,
        /// Cumulative usage.
        usage: Usage,
    },
    /// The end.
    MessageStop,
    /// Keep-alive.
    Ping,
    /// A failure after the stream began; nothing follows.
    Error {
        /// The error.
        error: ErrorBody,
        /// The upstream's error code, for the host's retry decisions (not sent).
        #[serde(skip)]
        upstream_code: Option<String>,
    },
}

impl BlockStart {
    /// `{"type":"text","text":""}`, as a text block starts.
    pub fn empty_text() -> Self {
        Self::Text {
            text: String::new(),
            citations: None,
        }
    }
}

impl StreamEvent {
    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Ping => "ping",
            Self::Error { .. } => "error",
        }
    }

    /// Append this event as one SSE frame.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // The per-token events are written by hand (they are nearly all of a stream); the
        // bytes are exactly serde's, which `encode_matches_serde` checks.
        match self {
            Self::ContentBlockDelta { index, delta } => {
                let (ty, key, piece) = match delta {
                    Delta::TextDelta { text } => ("text_delta", "text", text),
                    Delta::InputJsonDelta { partial_json } => {
                        ("input_json_delta", "partial_json", partial_json)
                    }
                    Delta::ThinkingDelta { thinking } => ("thinking_delta", "thinking", thinking),
                    Delta::SignatureDelta { signature } => {
                        ("signature_delta", "signature", signature)
                    }
                    Delta::CitationsDelta { .. } => return self.encode_with_serde(out),
                };
                out.extend_from_slice(
                    b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":",
                );
                push_usize(out, *index);
                out.extend_from_slice(b",\"delta\":{\"type\":\"");
                out.extend_from_slice(ty.as_bytes());
                out.extend_from_slice(b"\",\"");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                push_json_str(out, piece);
                out.extend_from_slice(b"}}\n\n");
            }
            Self::ContentBlockStop { index } => {
                out.extend_from_slice(
                    b"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":",
                );
                push_usize(out, *index);
                out.extend_from_slice(b"}\n\n");
            }
            _ => self.encode_with_serde(out),
        }
    }

    fn encode_with_serde(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(self.name().as_bytes());
        out.extend_from_slice(b"\ndata: ");
        // Serializing these types cannot fail: no maps with non-string keys, no foreign impls.
        let _ = serde_json::to_writer(&mut *out, self);
        out.extend_from_slice(b"\n\n");
    }

    /// The data JSON alone.
    pub fn data_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `s` as a JSON string, as serde_json writes it: it escapes only `"`, `\\` and control
/// characters, so a piece without them is copied as it is.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|c| c < 0x20 || c == b'"' || c == b'\\') {
        // A `&str` always serializes.
        let _ = serde_json::to_writer(&mut *out, s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Decimal digits of `n`, as serde_json writes an integer.
fn push_usize(out: &mut Vec<u8>, mut n: usize) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

/// A non-streaming Anthropic Message, as this proxy answers it (closed schema, for tests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// `msg_…`.
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `assistant`.
    pub role: String,
    /// The client's model id.
    pub model: String,
    /// Blocks.
    pub content: Vec<ContentBlock>,
    /// Never null in a finished message.
    pub stop_reason: StopReason,
    /// Matched stop sequence.
    pub stop_sequence: Option<String>,
    /// Usage.
    pub usage: Usage,
}

/// A response content block: the same shapes a stream starts its blocks with, complete.
pub type ContentBlock = BlockStart;

/// An Anthropic Messages request as clients send it: tolerant of unknown fields and block
/// types (the conversion itself walks the JSON directly, moving strings instead of copying
/// them; this type documents the shape and lets tests and hosts read requests typed).
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesRequest {
    /// Model id.
    pub model: Option<String>,
    /// Output cap (required by Anthropic; optional here).
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// The conversation.
    pub messages: Vec<RequestMessage>,
    /// String or text blocks.
    #[serde(default)]
    pub system: Option<Value>,
    /// Tools.
    #[serde(default)]
    pub tools: Option<Vec<Value>>,
    /// Tool choice.
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// Thinking settings.
    #[serde(default)]
    pub thinking: Option<Value>,
    /// Effort and output format.
    #[serde(default)]
    pub output_config: Option<Value>,
    /// Streamed or not.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Opaque client data (`user_id`).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Everything else, kept.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One message of a request.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestMessage {
    /// `user`, `assistant` or `system`.
    pub role: String,
    /// A string or blocks.
    pub content: RequestContent,
}

/// Message content: a string or blocks.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RequestContent {
    /// Plain text.
    Text(String),
    /// Blocks.
    Blocks(Vec<RequestBlock>),
}

/// A request content block; unknown types are kept as JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image.
    Image {
        /// `base64`, `url` or `file` source.
        source: Value,
    },
    /// A document.
    Document {
        /// Its source.
        source: Value,
        /// Optional title.
        #[serde(default)]
        title: Option<String>,
    },
    /// A tool call from history.
    ToolUse {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments.
        #[serde(default)]
        input: Value,
    },
    /// A tool result.
    ToolResult {
        /// The call it answers.
        tool_use_id: String,
        /// String or blocks.
        #[serde(default)]
        content: Option<Value>,
        /// Failure flag.
        #[serde(default)]
        is_error: Option<bool>,
    },
    /// Replayed thinking.
    Thinking {
        /// Text.
        thinking: String,
        /// Signature.
        #[serde(default)]
        signature: String,
    },
    /// Replayed redacted thinking.
    RedactedThinking {
        /// Opaque data.
        data: String,
    },
    /// Any other block type.
    #[serde(other)]
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_serde() {
        let pieces = [
            "",
            " token",
            "quote \" backslash \\ slash /",
            "\u{0}\u{1f}\n\r\t\u{7f}",
            "é 漢字 🦀 \u{2028}\u{2029}",
            "{\"a\":[1,2]}",
        ];
        let mut events = Vec::new();
        for index in [0, 7, 10, 99, 12_345, usize::MAX] {
            events.push(StreamEvent::ContentBlockStop { index });
            for p in pieces {
                let p = p.to_owned();
                for delta in [
                    Delta::TextDelta { text: p.clone() },
                    Delta::InputJsonDelta {
                        partial_json: p.clone(),
                    },
                    Delta::ThinkingDelta {
                        thinking: p.clone(),
                    },
                    Delta::SignatureDelta { signature: p },
                ] {
                    events.push(StreamEvent::ContentBlockDelta { index, delta });
                }
            }
        }
        for ev in events {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            ev.encode(&mut fast);
            ev.encode_with_serde(&mut slow);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow)
            );
        }
    }
}
