//! Anthropic stream events → OpenAI Chat Completions chunks and completions
//! (docs/CONVERSION.md §9, §10): what an OpenAI client receives from `/v1/chat/completions`.

use crate::error::ErrorType;
use crate::wire::anthropic::{BlockStart, Delta, ErrorBody, StopReason, StreamEvent, Usage};
use serde_json::{Value, json};

/// OpenAI's error body and status for an Anthropic error.
pub fn openai_error(error_type: ErrorType, message: &str) -> (u16, Value) {
    let (status, ty, code) = match error_type {
        ErrorType::InvalidRequestError => (400, "invalid_request_error", None),
        ErrorType::AuthenticationError => (401, "authentication_error", Some("invalid_api_key")),
        ErrorType::BillingError => (402, "insufficient_quota", Some("insufficient_quota")),
        ErrorType::PermissionError => (403, "permission_error", None),
        ErrorType::NotFoundError => (404, "invalid_request_error", Some("not_found")),
        ErrorType::RequestTooLarge => (413, "invalid_request_error", Some("request_too_large")),
        ErrorType::RateLimitError => (429, "rate_limit_error", Some("rate_limit_exceeded")),
        ErrorType::ApiError => (500, "server_error", None),
        ErrorType::TimeoutError => (504, "server_error", Some("timeout")),
        ErrorType::OverloadedError => (503, "server_error", Some("overloaded")),
    };
    (
        status,
        json!({"error": {"message": message, "type": ty, "code": code}}),
    )
}

fn finish_reason(s: StopReason) -> &'static str {
    match s {
        StopReason::EndTurn | StopReason::StopSequence => "stop",
        StopReason::ToolUse => "tool_calls",
        StopReason::MaxTokens => "length",
        StopReason::Refusal => "content_filter",
    }
}

fn openai_usage(u: &Usage) -> Value {
    let prompt = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_input_tokens},
    })
}

/// Folds Anthropic events into OpenAI SSE bytes (streaming) or a completion (non-streaming).
#[derive(Debug)]
pub struct OpenAiStream {
    model: String,
    created: u64,
    include_usage: bool,
    id: String,
    /// Anthropic block index → OpenAI tool call index, for the open tool block.
    open_tool: Option<(usize, usize)>,
    tools: usize,
    text: String,
    calls: Vec<(String, String, String)>,
    /// `url_citation` annotations, from the citations of a web search.
    annotations: Vec<Value>,
    finish: Option<&'static str>,
    usage: Usage,
    error: Option<ErrorBody>,
    done: bool,
}

impl OpenAiStream {
    /// A fold for one response; `created` is unix seconds from the host.
    pub fn new(model: impl Into<String>, created: u64, include_usage: bool) -> Self {
        Self {
            model: model.into(),
            created,
            include_usage,
            id: "chatcmpl-".into(),
            open_tool: None,
            tools: 0,
            text: String::new(),
            calls: Vec::new(),
            annotations: Vec::new(),
            finish: None,
            usage: Usage::default(),
            error: None,
            done: false,
        }
    }

    fn chunk(&self, out: &mut Vec<u8>, choices: Value, usage: Option<Value>) {
        let mut c = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "choices": choices,
        });
        if let Some(u) = usage {
            c["usage"] = u;
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(c.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    }

    /// A citation as OpenAI's `url_citation` annotation, located by its cited text in the
    /// content sent so far (char indices; 0, 0 when it is not there).
    fn annotation(&self, citation: &Value) -> Value {
        let cited = citation["cited_text"].as_str().unwrap_or("");
        let (start, end) = match self.text.find(cited).filter(|_| !cited.is_empty()) {
            Some(at) => {
                let s = self.text[..at].chars().count();
                (s, s + cited.chars().count())
            }
            None => (0, 0),
        };
        json!({"type": "url_citation", "url_citation": {
            "url": citation["url"], "title": citation["title"],
            "start_index": start, "end_index": end,
        }})
    }

    fn delta(&self, out: &mut Vec<u8>, delta: Value) {
        self.chunk(
            out,
            json!([{"index": 0, "delta": delta, "finish_reason": null}]),
            None,
        );
    }

    /// Fold one event; appends the SSE bytes it becomes to `out`.
    pub fn push(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match ev {
            StreamEvent::MessageStart { message } => {
                let id = message["id"].as_str().unwrap_or("");
                self.id = format!("chatcmpl-{}", id.strip_prefix("msg_").unwrap_or(id));
                self.delta(out, json!({"role": "assistant", "content": ""}));
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                // Only a tool call shows at its start; text and thinking show as deltas.
                let BlockStart::ToolUse { id, name, .. } = &**content_block else {
                    return;
                };
                let k = self.tools;
                self.tools += 1;
                self.open_tool = Some((*index, k));
                self.calls.push((id.clone(), name.clone(), String::new()));
                self.delta(
                    out,
                    json!({"tool_calls": [{"index": k, "id": id, "type": "function",
                                           "function": {"name": name, "arguments": ""}}]}),
                );
            }
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                Delta::TextDelta { text } => {
                    self.text.push_str(text);
                    self.delta(out, json!({"content": text}));
                }
                Delta::InputJsonDelta { partial_json } => {
                    if let Some((bi, k)) = self.open_tool
                        && bi == *index
                    {
                        if let Some(c) = self.calls.get_mut(k) {
                            c.2.push_str(partial_json);
                        }
                        self.delta(
                            out,
                            json!({"tool_calls": [{"index": k, "function": {"arguments": partial_json}}]}),
                        );
                    }
                }
                Delta::CitationsDelta { citation } => {
                    let a = self.annotation(citation);
                    self.delta(out, json!({"annotations": [a]}));
                    self.annotations.push(a);
                }
                // Chat chunks carry no thinking.
                Delta::ThinkingDelta { .. } | Delta::SignatureDelta { .. } => {}
            },
            StreamEvent::ContentBlockStop { index } => {
                if self.open_tool.is_some_and(|(bi, _)| bi == *index) {
                    self.open_tool = None;
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                let f = finish_reason(delta.stop_reason);
                self.finish = Some(f);
                self.usage = *usage;
                self.chunk(
                    out,
                    json!([{"index": 0, "delta": {}, "finish_reason": f}]),
                    None,
                );
                if self.include_usage {
                    self.chunk(out, json!([]), Some(openai_usage(usage)));
                }
            }
            StreamEvent::MessageStop => {
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.done = true;
            }
            StreamEvent::Ping => out.extend_from_slice(b": ping\n\n"),
            StreamEvent::Error { error, .. } => {
                let (_, body) = openai_error(error.error_type, &error.message);
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(body.to_string().as_bytes());
                out.extend_from_slice(b"\n\n");
                self.error = Some(error.clone());
                self.done = true;
            }
        }
    }

    /// The non-streaming completion, or the error the stream ended with.
    pub fn completion(&self) -> Result<Value, ErrorBody> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut message = json!({
            "role": "assistant",
            "content": if self.text.is_empty() { Value::Null } else { Value::String(self.text.clone()) },
        });
        if !self.calls.is_empty() {
            message["tool_calls"] = Value::Array(
                self.calls
                    .iter()
                    .map(|(id, name, args)| {
                        json!({"id": id, "type": "function",
                               "function": {"name": name, "arguments": args}})
                    })
                    .collect(),
            );
        }
        if !self.annotations.is_empty() {
            message["annotations"] = Value::Array(self.annotations.clone());
        }
        Ok(json!({
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish.unwrap_or("stop")}],
            "usage": openai_usage(&self.usage),
        }))
    }
}
