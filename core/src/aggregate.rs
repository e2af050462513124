//! Non-streaming answers: Anthropic stream events folded into one Message, the way the
//! official SDKs accumulate a stream (docs/CONVERSION.md §3). Works for any upstream whose
//! translator emits [`StreamEvent`]s.

use crate::degrade::{Degradation, DegradationKind as K, Degradations};
use crate::wire::anthropic::{BlockStart, Delta, ErrorBody, StopReason, StreamEvent, Usage};
use serde_json::{Map, Value, json};

#[derive(Debug)]
enum Acc {
    Text(String, Vec<Value>),
    Thinking {
        thinking: String,
        signature: String,
    },
    Tool {
        ty: &'static str,
        id: String,
        name: String,
        json: String,
    },
    Raw(Value),
}

/// Folds events into a Message.
#[derive(Debug, Default)]
pub struct Aggregator {
    message: Option<Map<String, Value>>,
    blocks: Vec<Acc>,
    stop_reason: Option<StopReason>,
    stop_sequence: Option<String>,
    usage: Usage,
    error: Option<ErrorBody>,
    deg: Degradations,
}

impl Aggregator {
    /// An empty aggregator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fold one event.
    pub fn push(&mut self, ev: StreamEvent) {
        if self.error.is_some() {
            return;
        }
        match ev {
            StreamEvent::MessageStart { message } => {
                if let Value::Object(m) = message {
                    self.message = Some(m);
                }
            }
            StreamEvent::ContentBlockStart { content_block, .. } => {
                self.blocks.push(match *content_block {
                    BlockStart::Text { text, citations } => {
                        Acc::Text(text, citations.unwrap_or_default())
                    }
                    BlockStart::Thinking {
                        thinking,
                        signature,
                    } => Acc::Thinking {
                        thinking,
                        signature,
                    },
                    BlockStart::ToolUse { id, name, .. } => Acc::Tool {
                        ty: "tool_use",
                        id,
                        name,
                        json: String::new(),
                    },
                    BlockStart::ServerToolUse { id, name, .. } => Acc::Tool {
                        ty: "server_tool_use",
                        id,
                        name,
                        json: String::new(),
                    },
                    BlockStart::WebSearchToolResult {
                        tool_use_id,
                        content,
                    } => Acc::Raw(json!({
                        "type": "web_search_tool_result",
                        "tool_use_id": tool_use_id,
                        "content": content,
                    })),
                });
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                match (self.blocks.get_mut(index), delta) {
                    (Some(Acc::Text(t, _)), Delta::TextDelta { text }) => t.push_str(&text),
                    (Some(Acc::Text(_, cites)), Delta::CitationsDelta { citation }) => {
                        cites.push(citation)
                    }
                    (
                        Some(Acc::Thinking { thinking, .. }),
                        Delta::ThinkingDelta { thinking: d },
                    ) => thinking.push_str(&d),
                    (
                        Some(Acc::Thinking { signature, .. }),
                        Delta::SignatureDelta { signature: s },
                    ) => *signature = s,
                    (Some(Acc::Tool { json, .. }), Delta::InputJsonDelta { partial_json }) => {
                        json.push_str(&partial_json)
                    }
                    _ => {}
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                self.stop_reason = Some(delta.stop_reason);
                self.stop_sequence = delta.stop_sequence;
                self.usage = usage;
            }
            StreamEvent::Error { error, .. } => self.error = Some(error),
            StreamEvent::ContentBlockStop { .. } | StreamEvent::MessageStop | StreamEvent::Ping => {
            }
        }
    }

    /// What was lost while folding (unparsable tool input).
    pub fn take_degradations(&mut self) -> Vec<Degradation> {
        std::mem::take(&mut self.deg.0)
    }

    /// The Message, or the error the stream ended with.
    pub fn finish(&mut self) -> Result<Value, ErrorBody> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut msg = self.message.take().unwrap_or_default();
        let blocks = std::mem::take(&mut self.blocks);
        let mut content = Vec::with_capacity(blocks.len());
        for (i, b) in blocks.into_iter().enumerate() {
            content.push(match b {
                Acc::Text(text, cites) if cites.is_empty() => json!({"type": "text", "text": text}),
                Acc::Text(text, cites) => {
                    json!({"type": "text", "text": text, "citations": cites})
                }
                Acc::Thinking {
                    thinking,
                    signature,
                } => json!({"type": "thinking", "thinking": thinking, "signature": signature}),
                Acc::Tool { ty, id, name, json } => {
                    let input = if json.is_empty() {
                        Value::Object(Map::new())
                    } else {
                        match serde_json::from_str::<Value>(&json) {
                            Ok(v @ Value::Object(_)) => v,
                            _ => {
                                self.deg.push(
                                    format!("content[{i}].input"),
                                    K::Defaulted,
                                    "tool input was not a JSON object; {} used",
                                );
                                Value::Object(Map::new())
                            }
                        }
                    };
                    json!({"type": ty, "id": id, "name": name, "input": input})
                }
                Acc::Raw(v) => v,
            });
        }
        msg.insert("content".into(), Value::Array(content));
        msg.insert(
            "stop_reason".into(),
            serde_json::to_value(self.stop_reason.unwrap_or(StopReason::EndTurn))
                .unwrap_or(Value::Null),
        );
        msg.insert(
            "stop_sequence".into(),
            self.stop_sequence.take().map_or(Value::Null, Value::String),
        );
        msg.insert(
            "usage".into(),
            serde_json::to_value(self.usage).unwrap_or(Value::Null),
        );
        Ok(Value::Object(msg))
    }
}
