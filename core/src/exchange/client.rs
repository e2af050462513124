//! The client's side of an exchange: its request as it arrived ([`Inbound`]), and what it
//! receives (SSE in its dialect, a folded answer, or an error [`Reply`]).

use super::policy::Failure;
use crate::aggregate::Aggregator;
use crate::degrade::Degradation;
use crate::error::{ErrorType, error_body};
use crate::translate::openai_in::convert_openai_request_value;
use crate::translate::openai_out::{OpenAiStream, openai_error};
use crate::translate::raw_history::{self, History};
use crate::validate::{
    openai_request_error, validate_chat_completions, validate_messages,
    validate_messages_but_history,
};
use crate::wire::anthropic::{ErrorBody, StreamEvent};
use serde_json::Value;

/// Which API the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAi,
}

/// A client request, parsed once: an Anthropic Messages body whatever the dialect.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// The client's dialect.
    pub dialect: Dialect,
    /// The Anthropic Messages body (an OpenAI request is converted to one); without its
    /// `messages` when the conversion's fast path scanned them (`history`).
    pub value: Value,
    /// The requested model id.
    pub model: String,
    /// The client wants a stream.
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// What converting an OpenAI request lost.
    pub degradations: Vec<Degradation>,
    /// The history as the conversion's fast path scanned it (`translate/raw_history.rs`):
    /// spans of the body this was parsed from, which the exchange converts from those bytes.
    pub(crate) history: Option<History>,
}

impl Inbound {
    /// Parse a request body in `dialect`; a failure is the 400 the client gets.
    ///
    /// Most Anthropic bodies take the conversion's fast path: the history is checked as it is
    /// scanned and stays text (no `Value` tree of it is built); the verdict is
    /// [`Inbound::from_value`]'s (tests/raw_history.rs).
    pub fn parse(dialect: Dialect, body: &[u8]) -> Result<Self, Failure> {
        if dialect == Dialect::Anthropic
            && let Some(scan) = raw_history::scan(body)
        {
            let value = Value::Object(scan.rest);
            validate_messages_but_history(&value).map_err(|e| invalid(e.to_string()))?;
            return Self::read(dialect, value, false, Vec::new(), Some(scan.history));
        }
        // A body that is JSON but not an object is the validator's to name (`body: …`).
        let value = match serde_json::from_slice::<Value>(body) {
            Ok(v) => v,
            Err(e) => return Err(invalid(format!("request body is not valid JSON: {e}"))),
        };
        Self::from_value(dialect, value)
    }

    /// [`Inbound::parse`] for a body already parsed.
    ///
    /// The body is validated first (docs/CONVERSION.md §11), before any routing, so every
    /// lane and every target gives the same 400 naming the field.
    pub fn from_value(dialect: Dialect, value: Value) -> Result<Self, Failure> {
        let (value, include_usage, degradations) = match dialect {
            Dialect::Anthropic => {
                validate_messages(&value).map_err(|e| invalid(e.to_string()))?;
                (value, false, Vec::new())
            }
            Dialect::OpenAi => {
                if let Err(e) = validate_chat_completions(&value) {
                    let (_, body) = openai_request_error(&e);
                    let field = |k: &str| body["error"][k].as_str().map(str::to_owned);
                    return Err(Failure {
                        param: Some(field("param").unwrap_or_default()),
                        ..invalid(field("message").unwrap_or_else(|| e.to_string()))
                    });
                }
                let include_usage = value
                    .get("stream_options")
                    .and_then(|o| o.get("include_usage"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let c = convert_openai_request_value(value)
                    .map_err(|e| Failure::fatal(e.error_type(), e.to_string()))?;
                (c.value, include_usage, c.degradations)
            }
        };
        Self::read(dialect, value, include_usage, degradations, None)
    }

    /// The inbound request of a valid Anthropic body `value`.
    fn read(
        dialect: Dialect,
        value: Value,
        include_usage: bool,
        degradations: Vec<Degradation>,
        history: Option<History>,
    ) -> Result<Self, Failure> {
        let Some(model) = value
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(invalid("model: field required"));
        };
        let stream = value
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Self {
            dialect,
            value,
            model,
            stream,
            include_usage,
            degradations,
            history,
        })
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::fatal(ErrorType::InvalidRequestError, message)
}

/// A whole HTTP answer for the client (an error, or a non-streaming answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers (`content-type`, `retry-after`).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The error type, when this is an error (for logs and metrics).
    pub error_type: Option<ErrorType>,
}

impl Reply {
    /// The error response for `f` in `dialect`'s shape.
    pub fn error(dialect: Dialect, f: &Failure) -> Self {
        let (status, body) = match dialect {
            Dialect::Anthropic => (
                f.error_type.status(),
                error_body(f.error_type, &f.message).into_bytes(),
            ),
            // A validation error names its field as OpenAI does (`param`).
            Dialect::OpenAi if f.param.is_some() => {
                let param = f.param.as_deref().filter(|p| !p.is_empty());
                let body = serde_json::json!({"error": {"message": f.message,
                    "type": "invalid_request_error", "param": param, "code": null}});
                (400, body.to_string().into_bytes())
            }
            Dialect::OpenAi => {
                let (s, v) = openai_error(f.error_type, &f.message);
                (s, v.to_string().into_bytes())
            }
        };
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(s) = f.retry_after {
            headers.push(("retry-after".to_owned(), s.to_string()));
        }
        Self {
            status,
            headers,
            body,
            error_type: Some(f.error_type),
        }
    }
}

/// Streaming output in the client's dialect.
#[derive(Debug)]
pub(crate) enum Encoder {
    Anthropic,
    OpenAi(Box<OpenAiStream>),
}

impl Encoder {
    pub(crate) fn new(inbound: &Inbound, now_secs: u64) -> Self {
        match inbound.dialect {
            Dialect::Anthropic => Self::Anthropic,
            Dialect::OpenAi => Self::OpenAi(Box::new(OpenAiStream::new(
                inbound.model.clone(),
                now_secs,
                inbound.include_usage,
            ))),
        }
    }

    pub(crate) fn encode(&mut self, ev: &StreamEvent, out: &mut Vec<u8>) {
        match self {
            Self::Anthropic => ev.encode(out),
            Self::OpenAi(o) => o.push(ev, out),
        }
    }
}

/// Non-streaming accumulation in the client's dialect.
#[derive(Debug)]
pub(crate) enum Fold {
    Anthropic(Box<Aggregator>),
    OpenAi(Box<OpenAiStream>),
}

impl Fold {
    pub(crate) fn new(inbound: &Inbound, now_secs: u64) -> Self {
        match inbound.dialect {
            Dialect::Anthropic => Self::Anthropic(Box::default()),
            Dialect::OpenAi => Self::OpenAi(Box::new(OpenAiStream::new(
                inbound.model.clone(),
                now_secs,
                false,
            ))),
        }
    }

    pub(crate) fn push(&mut self, ev: StreamEvent) {
        match self {
            Self::Anthropic(a) => a.push(ev),
            Self::OpenAi(o) => o.push(&ev, &mut Vec::new()),
        }
    }

    pub(crate) fn finish(&mut self) -> Result<Value, ErrorBody> {
        match self {
            Self::Anthropic(a) => a.finish(),
            Self::OpenAi(o) => o.completion(),
        }
    }
}
