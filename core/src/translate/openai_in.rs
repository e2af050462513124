//! OpenAI Chat Completions request → Anthropic Messages request (docs/CONVERSION.md §8): how
//! OpenAI clients reach either lane through `/v1/chat/completions`.

use super::request::take_str;
use crate::degrade::{Converted, DegradationKind as K, Degradations};
use crate::error::RequestError;
use serde_json::{Map, Value, json};

/// Convert request bytes from an OpenAI client.
pub fn convert_openai_request(body: &[u8]) -> Result<Converted<Value>, RequestError> {
    convert_openai_request_value(super::request::parse_json(body)?)
}

/// The text of an OpenAI `content` (string, or the text parts joined with `sep`).
fn content_text(c: Option<&Value>, sep: &str) -> String {
    match c {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(sep),
        _ => String::new(),
    }
}

fn image_block(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((mt, data)) = rest.split_once(";base64,")
    {
        return json!({"type": "image", "source": {"type": "base64", "media_type": mt, "data": data}});
    }
    json!({"type": "image", "source": {"type": "url", "url": url}})
}

/// OpenAI content → Anthropic content (a string stays a string).
fn content_blocks(c: Option<Value>, i: usize, deg: &mut Degradations) -> Value {
    match c {
        Some(Value::String(s)) => Value::String(s),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.into_iter().enumerate() {
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => out.push(json!({"type": "text",
                        "text": p.get("text").and_then(Value::as_str).unwrap_or("")})),
                    Some("image_url") => {
                        let url = p
                            .get("image_url")
                            .and_then(|u| u.get("url").or(Some(u)))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        out.push(image_block(url));
                    }
                    Some("file") if p.get("file").and_then(|f| f.get("file_data")).is_some() => {
                        let f = &p["file"];
                        let data = f["file_data"].as_str().unwrap_or("");
                        let (mt, b64) = data
                            .strip_prefix("data:")
                            .and_then(|r| r.split_once(";base64,"))
                            .unwrap_or(("application/pdf", data));
                        let mut doc = json!({"type": "document",
                            "source": {"type": "base64", "media_type": mt, "data": b64}});
                        if let Some(name) = f.get("filename").and_then(Value::as_str) {
                            doc["title"] = json!(name);
                        }
                        out.push(doc);
                    }
                    other => deg.push(
                        format!("messages[{i}].content[{j}]"),
                        K::Unsupported,
                        format!("content part `{}` is not supported", other.unwrap_or("?")),
                    ),
                }
            }
            Value::Array(out)
        }
        _ => Value::String(String::new()),
    }
}

/// Turn a content value into blocks (a string becomes one text block).
fn as_blocks(c: Value) -> Vec<Value> {
    match c {
        Value::String(s) if s.is_empty() => Vec::new(),
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

/// Convert an already parsed OpenAI request.
pub fn convert_openai_request_value(value: Value) -> Result<Converted<Value>, RequestError> {
    let (mut req, messages) = super::request::split_request(value)?;
    let mut deg = Degradations::default();
    if let Some(n) = req.get("n").and_then(Value::as_u64)
        && n > 1
    {
        return Err(RequestError::invalid("n", "only 1 choice is supported"));
    }

    let mut system: Vec<String> = Vec::new();
    let mut out: Vec<Value> = Vec::with_capacity(messages.len());
    let mut leading = true;
    // Tool results waiting for the user message they belong to.
    let mut results: Vec<Value> = Vec::new();
    let flush = |results: &mut Vec<Value>, out: &mut Vec<Value>| {
        if !results.is_empty() {
            out.push(json!({"role": "user", "content": std::mem::take(results)}));
        }
    };
    for (i, m) in messages.into_iter().enumerate() {
        let Value::Object(mut m) = m else {
            return Err(RequestError::invalid(
                format!("messages.{i}"),
                "must be an object",
            ));
        };
        let role = take_str(&mut m, "role").unwrap_or_default();
        match role.as_str() {
            "system" | "developer" => {
                let text = content_text(m.get("content"), "\n\n");
                if leading {
                    system.push(text);
                } else {
                    flush(&mut results, &mut out);
                    out.push(json!({"role": "system", "content": text}));
                }
            }
            "user" => {
                leading = false;
                let content = content_blocks(m.shift_remove("content"), i, &mut deg);
                if results.is_empty() {
                    out.push(json!({"role": "user", "content": content}));
                } else {
                    let mut blocks = std::mem::take(&mut results);
                    blocks.extend(as_blocks(content));
                    out.push(json!({"role": "user", "content": blocks}));
                }
            }
            "assistant" => {
                leading = false;
                flush(&mut results, &mut out);
                let mut blocks = Vec::new();
                if let Some(r) = m
                    .get("reasoning_content")
                    .and_then(Value::as_str)
                    .filter(|r| !r.is_empty())
                {
                    blocks.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
                }
                let text = content_text(m.get("content"), "");
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                let calls = m.shift_remove("tool_calls");
                for (k, c) in calls
                    .iter()
                    .flat_map(|c| c.as_array())
                    .flatten()
                    .enumerate()
                {
                    let f = c.get("function");
                    let name = f
                        .and_then(|f| f.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let args = f
                        .and_then(|f| f.get("arguments"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let input = match serde_json::from_str::<Value>(args) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => {
                            deg.push(
                                format!("messages[{i}].tool_calls[{k}].function.arguments"),
                                K::Approximated,
                                "tool arguments are not a JSON object; {} sent",
                            );
                            Value::Object(Map::new())
                        }
                    };
                    blocks.push(json!({"type": "tool_use",
                        "id": c.get("id").and_then(Value::as_str).unwrap_or(""),
                        "name": name, "input": input}));
                }
                if !blocks.is_empty() {
                    out.push(json!({"role": "assistant", "content": blocks}));
                }
            }
            "tool" => {
                leading = false;
                let id = take_str(&mut m, "tool_call_id").ok_or_else(|| {
                    RequestError::invalid(format!("messages.{i}.tool_call_id"), "field required")
                })?;
                let content = content_text(m.get("content"), "\n");
                results.push(json!({"type": "tool_result", "tool_use_id": id, "content": content}));
            }
            _ => {
                return Err(RequestError::invalid(
                    format!("messages.{i}.role"),
                    "must be \"system\", \"developer\", \"user\", \"assistant\" or \"tool\"",
                ));
            }
        }
    }
    flush(&mut results, &mut out);

    let mut a = Map::new();
    if let Some(m) = req.shift_remove("model") {
        a.insert("model".into(), m);
    }
    let max = req
        .shift_remove("max_completion_tokens")
        .filter(|v| !v.is_null());
    let max_legacy = req.shift_remove("max_tokens").filter(|v| !v.is_null());
    if let Some(m) = max.or(max_legacy) {
        a.insert("max_tokens".into(), m);
    }
    a.insert("messages".into(), Value::Array(out));
    if !system.is_empty() {
        a.insert("system".into(), Value::String(system.join("\n\n")));
    }
    if let Some(Value::Array(tools)) = req.shift_remove("tools") {
        let mut list = Vec::new();
        for (i, t) in tools.into_iter().enumerate() {
            if t.get("type").and_then(Value::as_str) != Some("function") {
                deg.push(
                    format!("tools[{i}]"),
                    K::Unsupported,
                    "only function tools are supported",
                );
                continue;
            }
            let f = &t["function"];
            let mut tool = Map::new();
            tool.insert("name".into(), f.get("name").cloned().unwrap_or(json!("")));
            if let Some(d) = f.get("description").filter(|d| !d.is_null()) {
                tool.insert("description".into(), d.clone());
            }
            let schema = f
                .get("parameters")
                .filter(|p| p.is_object())
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
            tool.insert("input_schema".into(), schema);
            list.push(Value::Object(tool));
        }
        a.insert("tools".into(), Value::Array(list));
    }
    match req.shift_remove("web_search_options") {
        Some(Value::Object(o)) => {
            let tool = web_search_tool(&o, &mut deg);
            match a.get_mut("tools") {
                Some(Value::Array(list)) => list.push(tool),
                _ => {
                    a.insert("tools".into(), Value::Array(vec![tool]));
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => deg.push(
            "web_search_options",
            K::Dropped,
            "web_search_options must be an object",
        ),
    }
    let parallel_off = req
        .shift_remove("parallel_tool_calls")
        .and_then(|v| v.as_bool())
        == Some(false);
    let mut choice = match req.shift_remove("tool_choice") {
        Some(Value::String(s)) => match s.as_str() {
            "none" => Some(json!({"type": "none"})),
            "required" => Some(json!({"type": "any"})),
            _ => Some(json!({"type": "auto"})),
        },
        Some(Value::Object(o)) => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            Some(json!({"type": "tool", "name": name}))
        }
        _ => None,
    };
    if parallel_off {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        c["disable_parallel_tool_use"] = Value::Bool(true);
    }
    if let Some(c) = choice {
        a.insert("tool_choice".into(), c);
    }
    match req.shift_remove("stop") {
        Some(Value::String(s)) => {
            a.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(v)) => {
            a.insert("stop_sequences".into(), Value::Array(v));
        }
        _ => {}
    }
    for k in ["temperature", "top_p", "stream"] {
        if let Some(v) = req.shift_remove(k).filter(|v| !v.is_null()) {
            a.insert(k.into(), v);
        }
    }
    let mut output_config = Map::new();
    if let Some(e) = req
        .shift_remove("reasoning_effort")
        .filter(|v| !v.is_null())
    {
        output_config.insert("effort".into(), e);
    }
    if let Some(rf) = req.shift_remove("response_format") {
        match rf.get("type").and_then(Value::as_str) {
            Some("json_schema") => {
                let schema = rf
                    .get("json_schema")
                    .and_then(|j| j.get("schema"))
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"}));
                output_config.insert(
                    "format".into(),
                    json!({"type": "json_schema", "schema": schema}),
                );
            }
            Some("text") | None => {}
            Some(_) => deg.push(
                "response_format",
                K::Unsupported,
                "only json_schema and text response formats are supported",
            ),
        }
    }
    if !output_config.is_empty() {
        a.insert("output_config".into(), Value::Object(output_config));
    }
    for (k, v) in req {
        if v.is_null() || matches!(k.as_str(), "stream_options" | "user" | "n") {
            continue;
        }
        deg.push(k, K::Dropped, "not supported through this proxy");
    }
    Ok(Converted {
        value: Value::Object(a),
        degradations: deg.0,
    })
}

/// The Anthropic web search server tool for OpenAI's `web_search_options` (§8).
fn web_search_tool(o: &Map<String, Value>, deg: &mut Degradations) -> Value {
    let mut tool = json!({"type": "web_search_20250305", "name": "web_search"});
    if let Some(approx) = o
        .get("user_location")
        .and_then(|l| l.get("approximate"))
        .and_then(Value::as_object)
    {
        let mut loc = Map::new();
        loc.insert("type".into(), json!("approximate"));
        for key in ["city", "region", "country", "timezone"] {
            if let Some(v) = approx.get(key).filter(|v| v.is_string()) {
                loc.insert(key.into(), v.clone());
            }
        }
        tool["user_location"] = Value::Object(loc);
    }
    if o.get("search_context_size").is_some_and(|v| !v.is_null()) {
        deg.push(
            "web_search_options.search_context_size",
            K::Approximated,
            "the search tool has no context size; the backend chooses",
        );
    }
    tool
}
