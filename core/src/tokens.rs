//! `count_tokens`: the tokens of the payload that would actually go upstream.
//!
//! Counting rule: instructions, every text, tool arguments and tool outputs are tokenized;
//! each input item adds 4 tokens of framing; each tool counts the tokens of its JSON
//! definition; an image counts 765 tokens (a 1024×1024 image at OpenAI's high detail); a file
//! counts one token per 4 bytes of its base64 data. With the `tokens` cargo feature texts are
//! counted with the o200k tokenizer (the GPT-5 family's, ~1.2 MB gzipped in wasm); without it,
//! each text counts one token per 4 bytes, an estimate ([`EXACT`] says which).

use crate::error::RequestError;
use crate::routing::{Lane, Route};
use crate::translate::chat_request::{ChatOptions, convert_chat_request_value};
use crate::translate::request::{RequestOptions, convert_request_value};
use serde_json::{Value, json};

/// Whether counts are the tokenizer's (the `tokens` feature) or the per-4-bytes estimate.
pub const EXACT: bool = cfg!(feature = "tokens");

/// Count the input tokens of an Anthropic request body for the upstream `route` names.
pub fn count_request(mut value: Value, route: &Route) -> Result<usize, RequestError> {
    // count_tokens bodies carry no max_tokens; the conversion wants one.
    if value.get("max_tokens").is_none() {
        value["max_tokens"] = json!(1);
    }
    match route.lane {
        Lane::Codex => convert_request_value(value, &RequestOptions::new(route.model.clone()))
            .map(|c| count_body(&c.value.body)),
        Lane::Chat => convert_chat_request_value(value, &ChatOptions::new(route.model.clone()))
            .map(|c| count_chat_body(&c.value.body)),
    }
}

const IMAGE_TOKENS: usize = 765;
const ITEM_OVERHEAD: usize = 4;

/// Tokens of one text: o200k with the `tokens` feature, else the documented estimate of one
/// token per 4 bytes (rounded up).
fn count_text(t: &str) -> usize {
    if t.is_empty() {
        return 0;
    }
    #[cfg(feature = "tokens")]
    {
        tiktoken::get_encoding("o200k_base").map_or(t.len().div_ceil(4), |enc| enc.count(t))
    }
    #[cfg(not(feature = "tokens"))]
    {
        t.len().div_ceil(4)
    }
}

fn count_value(v: &Value) -> usize {
    match v {
        Value::String(s) => count_text(s),
        Value::Array(a) => a.iter().map(count_value).sum(),
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("input_image") => IMAGE_TOKENS,
            Some("input_file") => o
                .get("file_data")
                .and_then(Value::as_str)
                .map_or(IMAGE_TOKENS, |d| d.len() / 4),
            _ => {
                ["text", "arguments", "output", "name", "encrypted_content"]
                    .iter()
                    .filter_map(|k| o.get(*k))
                    .map(count_value)
                    .sum::<usize>()
                    + o.get("content").map_or(0, count_value)
                    + o.get("summary").map_or(0, count_value)
            }
        },
        _ => 0,
    }
}

/// Tokens of a converted Codex body.
pub fn count_body(body: &serde_json::Map<String, Value>) -> usize {
    let instructions = body.get("instructions").map_or(0, count_value);
    let items = body.get("input").and_then(Value::as_array).map_or(0, |a| {
        a.iter().map(|i| count_value(i) + ITEM_OVERHEAD).sum()
    });
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map_or(0, |a| a.iter().map(|t| count_text(&t.to_string())).sum());
    instructions + items + tools
}

/// Tokens of a converted Chat Completions body (same rule as [`count_body`]).
pub fn count_chat_body(body: &serde_json::Map<String, Value>) -> usize {
    let part = |p: &Value| match p.get("type").and_then(Value::as_str) {
        Some("image_url") => IMAGE_TOKENS,
        Some("file") => p["file"]["file_data"]
            .as_str()
            .map_or(IMAGE_TOKENS, |d| d.len() / 4),
        _ => p.get("text").map_or(0, count_value),
    };
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, |ms| {
            ms.iter()
                .map(|m| {
                    let content = match m.get("content") {
                        Some(Value::Array(parts)) => parts.iter().map(part).sum(),
                        Some(c) => count_value(c),
                        None => 0,
                    };
                    let calls: usize =
                        m.get("tool_calls")
                            .and_then(Value::as_array)
                            .map_or(0, |cs| {
                                cs.iter()
                                    .map(|c| {
                                        count_value(&c["function"]["arguments"])
                                            + count_value(&c["function"]["name"])
                                    })
                                    .sum()
                            });
                    let reasoning = m.get("reasoning_content").map_or(0, count_value);
                    content + calls + reasoning + ITEM_OVERHEAD
                })
                .sum()
        });
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map_or(0, |a| a.iter().map(|t| count_text(&t.to_string())).sum());
    messages + tools
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(lane: Lane) -> Route {
        Route {
            lane,
            provider: None,
            model: "gpt-5.5".into(),
            effort: "medium".into(),
            long_context: false,
        }
    }

    #[test]
    fn an_image_counts_765_and_text_adds_on_both_lanes() {
        let img = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}});
        let only_image = json!({"model": "m", "messages": [{"role": "user", "content": [img]}]});
        let with_text = json!({"model": "m", "messages": [{"role": "user", "content": [img, {"type": "text", "text": "hello there, how are you today?"}]}]});
        for lane in [Lane::Codex, Lane::Chat] {
            let a = count_request(only_image.clone(), &route(lane)).expect("count");
            let b = count_request(with_text.clone(), &route(lane)).expect("count");
            assert_eq!(a, 765 + 4, "{lane:?}: the image and one item's framing");
            assert!(b > a && b < a + 20, "{lane:?}: {b}");
        }
    }

    #[test]
    fn a_bad_body_is_the_conversion_error() {
        let bad = json!({"model": "m", "messages": "no"});
        assert!(count_request(bad, &route(Lane::Codex)).is_err());
    }
}
