//! Conversions between the wire formats.

pub mod chat_request;
pub mod chat_stream;
pub mod delta_scan;
pub mod names;
pub mod openai_in;
pub mod openai_out;
pub(crate) mod raw_history;
mod raw_json;
pub mod request;
pub mod signature;
pub mod stream;
mod tool_changes;
pub(crate) mod tool_search;

use crate::degrade::Degradation;
use crate::wire::anthropic::{ErrorBody, StreamEvent};
use serde_json::{Map, Value};

/// A converted body as bytes, written into one buffer of `hint` bytes (the client's body size
/// is a good guess: the output is about as large) instead of one grown by doubling, which for
/// a 400 KB body is a dozen reallocations and copies.
pub(crate) fn body_bytes(body: &Map<String, Value>, hint: usize) -> Vec<u8> {
    body_bytes_with(body, None, |_| {}, hint)
}

/// The body as `serde_json` writes it, with the items `raw` writes appended to the array at
/// `key` (if any): the same bytes as if they were `Value`s at the end of that array. `raw`
/// writes its items comma-separated, and nothing if it has none.
pub(crate) fn body_bytes_with(
    body: &Map<String, Value>,
    key: Option<&str>,
    raw: impl Fn(&mut Vec<u8>),
    hint: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(hint);
    out.push(b'{');
    for (n, (k, v)) in body.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        raw_json::push_string(&mut out, k);
        out.push(b':');
        match v {
            Value::Array(items) if key == Some(k.as_str()) => {
                out.push(b'[');
                for item in items {
                    raw_json::write_value(&mut out, item);
                    out.push(b',');
                }
                let before = out.len();
                raw(&mut out);
                // The separator after the last `Value` item, when `raw` wrote nothing.
                if out.len() == before && !items.is_empty() {
                    out.pop();
                }
                out.push(b']');
            }
            _ => raw_json::write_value(&mut out, v),
        }
    }
    out.push(b'}');
    out
}

/// A JSON object of `fields` in their order, the values moved in. `json!` would instead
/// serialize every non-literal value into a fresh copy (a whole schema, a tool list, a
/// document's base64), which for a large request is a measurable share of the conversion.
pub(crate) fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut map = Map::with_capacity(N);
    for (k, v) in fields {
        map.insert(k.to_owned(), v);
    }
    Value::Object(map)
}

/// The push/poll surface every upstream's stream translator offers, so hosts and the vector
/// runner drive any of them the same way.
pub trait EventTranslator {
    /// Feed upstream bytes (any chunking).
    fn push(&mut self, bytes: &[u8]);
    /// The upstream body ended; a missing terminal event becomes an `error` event.
    fn finish(&mut self);
    /// End with a host-side error (an idle timeout), closing any open block first.
    fn abort(&mut self, error: ErrorBody);
    /// Next Anthropic event.
    fn poll_event(&mut self) -> Option<StreamEvent>;
    /// Whether a terminal event has been produced.
    fn is_done(&self) -> bool;
    /// What was lost so far.
    fn take_degradations(&mut self) -> Vec<Degradation>;
}

macro_rules! impl_event_translator {
    ($t:ty) => {
        impl EventTranslator for $t {
            fn push(&mut self, bytes: &[u8]) {
                <$t>::push(self, bytes)
            }
            fn finish(&mut self) {
                <$t>::finish(self)
            }
            fn abort(&mut self, error: ErrorBody) {
                <$t>::abort(self, error)
            }
            fn poll_event(&mut self) -> Option<StreamEvent> {
                <$t>::poll_event(self)
            }
            fn is_done(&self) -> bool {
                <$t>::is_done(self)
            }
            fn take_degradations(&mut self) -> Vec<Degradation> {
                <$t>::take_degradations(self)
            }
        }
    };
}

impl_event_translator!(stream::ResponsesTranslator);
impl_event_translator!(chat_stream::ChatTranslator);
