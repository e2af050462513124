//! Anthropic Messages request → Chat Completions body (docs/CONVERSION.md §6).
//!
//! Shares the block-level pieces with the Codex conversion (`request.rs`): instructions,
//! images, documents, tool schemas and names, tool results; only the message shapes differ.

use super::names::wire_tool_name;
use super::raw_history::{self, chat::RawMessages};
use super::request::{
    Content, Messages, ToolResult, ToolShape, as_block, bad_role, block_type, document_parts,
    image_part, instructions, join_texts, message_effort, nothing_sent, parse_json, role_ok,
    search_result_text, split_request, take_content, take_str, text_of, tool_result_parts,
    with_message_effort,
};
use crate::degrade::{Converted, DegradationKind as K, Degradations};
use crate::error::RequestError;
use crate::translate::names::ToolNames;
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// Options of the Chat conversion.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    /// The provider's model id.
    pub upstream_model: String,
    /// `max_tokens` or `max_completion_tokens`.
    pub max_tokens_field: String,
    /// `openrouter`, `openai` or `none`.
    pub reasoning_style: String,
}

impl ChatOptions {
    /// Defaults for a model.
    pub fn new(upstream_model: impl Into<String>) -> Self {
        Self {
            upstream_model: upstream_model.into(),
            max_tokens_field: "max_tokens".into(),
            reasoning_style: "openrouter".into(),
        }
    }
}

/// A converted Chat request.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The JSON body for `POST {base}/chat/completions`, but for the history's messages the
    /// fast path wrote (`raw_messages`): [`Self::to_json`] and [`Self::to_value`] give the
    /// whole body.
    pub body: Map<String, Value>,
    /// Wire tool names back to the client's.
    pub tool_names: ToolNames,
    /// Whether the client gets thinking blocks.
    pub thinking: bool,
    /// The history's messages as the fast path wrote them (`raw_history/chat.rs`): they
    /// follow `body["messages"]` (then only the system message) on the wire.
    pub(crate) raw_messages: Option<RawMessages>,
}

impl ChatRequest {
    /// The body as bytes.
    pub fn to_json(&self) -> Vec<u8> {
        self.to_json_sized(0)
    }

    /// The whole body as a `Value` (to show it; the exchange sends [`Self::to_json`]).
    pub fn to_value(&self) -> Value {
        serde_json::from_slice(&self.to_json()).unwrap_or(Value::Null)
    }

    /// The body as bytes, in one buffer of `hint` bytes ([`super::body_bytes`]).
    pub fn to_json_sized(&self, hint: usize) -> Vec<u8> {
        match &self.raw_messages {
            None => super::body_bytes(&self.body, hint),
            Some(raw) => super::body_bytes_with(
                &self.body,
                Some("messages"),
                |out| raw.write_items(out),
                hint,
            ),
        }
    }
}

/// Convert request bytes for a Chat Completions provider: the history by the fast path where
/// it applies (`raw_history/chat.rs`), else as a parsed `Value`; the same bytes either way.
pub fn convert_chat_request(
    body: &[u8],
    opts: &ChatOptions,
) -> Result<Converted<ChatRequest>, RequestError> {
    match convert_chat_request_fast(body, opts) {
        Some(converted) => converted,
        None => convert_chat_request_value(parse_json(body)?, opts),
    }
}

/// The fast path alone: `None` where it leaves the request to the `Value` path. For the tests
/// that hold the two paths to the same output.
#[doc(hidden)]
pub fn convert_chat_request_fast(
    body: &[u8],
    opts: &ChatOptions,
) -> Option<Result<Converted<ChatRequest>, RequestError>> {
    let scan = raw_history::scan(body)?;
    convert_chat_scanned(scan.rest, body, scan.history, opts).transpose()
}

/// Convert an already parsed request for a Chat Completions provider.
pub fn convert_chat_request_value(
    value: Value,
    opts: &ChatOptions,
) -> Result<Converted<ChatRequest>, RequestError> {
    let (req, messages) = split_request(value)?;
    convert_parts(req, Messages::Values(messages), opts)?
        .ok_or_else(|| RequestError::invalid("messages", "could not be converted"))
}

/// Convert a request scanned by `raw_history::scan` (`rest`, and the `history` of `source`,
/// the body it was scanned from); `None` if its history needs the `Value` path after all.
pub(crate) fn convert_chat_scanned(
    rest: Map<String, Value>,
    source: &[u8],
    history: raw_history::History,
    opts: &ChatOptions,
) -> Result<Option<Converted<ChatRequest>>, RequestError> {
    convert_parts(rest, Messages::Raw(source, history), opts)
}

fn convert_parts(
    mut req: Map<String, Value>,
    history: Messages<'_>,
    opts: &ChatOptions,
) -> Result<Option<Converted<ChatRequest>>, RequestError> {
    let mut deg = Degradations::default();
    // The fast path takes no tool changes (`tool_changes.rs` reads them from the messages).
    let (messages, message_effort): (&[Value], _) = match &history {
        Messages::Values(m) => (m, message_effort(m)),
        Messages::Raw(_, h) => (&[], h.message_effort()),
    };
    let system = instructions(req.shift_remove("system"), &mut deg)?;
    let (tool_list, tool_names) = crate::translate::tool_changes::convert_tools(
        req.shift_remove("tools"),
        messages,
        ToolShape::Chat,
        &mut deg,
    )?;

    let mut out: Vec<Value> = Vec::with_capacity(messages.len() + 1);
    if !system.is_empty() {
        out.push(json!({"role": "system", "content": system}));
    }
    let raw_messages = match history {
        Messages::Values(messages) => {
            let mut w = ChatWalker::new(&mut out, &mut deg);
            for (i, m) in messages.into_iter().enumerate() {
                w.message(i, m)?;
            }
            let origins = w.into_origins();
            repair_pairs(&mut out, &origins, &mut deg);
            None
        }
        Messages::Raw(source, h) => {
            match raw_history::chat::walk(source, h, out.len(), &mut deg)? {
                Some(raw) => Some(raw),
                None => return Ok(None),
            }
        }
    };

    let mut body = Map::new();
    body.insert("model".into(), Value::String(opts.upstream_model.clone()));
    body.insert("messages".into(), Value::Array(out));
    let has_tools = !tool_list.is_empty();
    let choice = req.shift_remove("tool_choice");
    if has_tools {
        body.insert("tools".into(), Value::Array(tool_list));
        let (c, parallel) = tool_choice(choice, &mut deg);
        body.insert("tool_choice".into(), c);
        if let Some(p) = parallel {
            body.insert("parallel_tool_calls".into(), Value::Bool(p));
        }
    }
    if let Some(v) = req.shift_remove("max_tokens").filter(|v| !v.is_null()) {
        body.insert(opts.max_tokens_field.clone(), v);
    }
    if let Some(Value::Array(stop)) = req.shift_remove("stop_sequences")
        && !stop.is_empty()
    {
        body.insert("stop".into(), Value::Array(stop));
    }
    for k in ["temperature", "top_p"] {
        if let Some(v) = req.shift_remove(k).filter(|v| !v.is_null()) {
            body.insert(k.into(), v);
        }
    }
    let thinking = req.shift_remove("thinking");
    let output_config = with_message_effort(req.shift_remove("output_config"), message_effort);
    let thinking_on = reasoning(thinking.as_ref(), output_config, opts, &mut body, &mut deg);

    for (key, v) in req {
        if v.is_null() {
            continue;
        }
        match key.as_str() {
            "model" | "stream" | "cache_control" => {}
            "metadata" => deg.push(key, K::Dropped, "Chat providers get no client metadata"),
            "top_k" => deg.push(key, K::Dropped, "Chat Completions has no top_k"),
            "context_management" => deg.push(
                key,
                K::Dropped,
                "context edits are not performed by the provider",
            ),
            _ => deg.push(key, K::Dropped, "not supported by Chat Completions"),
        }
    }
    body.insert("stream".into(), Value::Bool(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    Ok(Some(Converted {
        value: ChatRequest {
            body,
            tool_names,
            thinking: thinking_on,
            raw_messages,
        },
        degradations: deg.0,
    }))
}

fn tool_choice(choice: Option<Value>, deg: &mut Degradations) -> (Value, Option<bool>) {
    let Some(Value::Object(c)) = choice else {
        return (Value::String("auto".into()), Some(true));
    };
    let parallel = Some(c.get("disable_parallel_tool_use").and_then(Value::as_bool) != Some(true));
    let v = match c.get("type").and_then(Value::as_str) {
        Some("any") => Value::String("required".into()),
        Some("none") => Value::String("none".into()),
        Some("tool") => match c.get("name").and_then(Value::as_str) {
            Some(n) => json!({"type": "function", "function": {"name": wire_tool_name(n)}}),
            None => {
                deg.push(
                    "tool_choice.name",
                    K::Defaulted,
                    "tool choice without a name; auto used",
                );
                Value::String("auto".into())
            }
        },
        Some("auto") | None => Value::String("auto".into()),
        Some(_) => {
            deg.push(
                "tool_choice.type",
                K::Defaulted,
                "unknown tool choice; auto used",
            );
            Value::String("auto".into())
        }
    };
    (v, parallel)
}

fn chat_effort(e: &str) -> &str {
    match e {
        "max" | "xhigh" | "ultra" => "high",
        "none" | "minimal" => "low",
        other => other,
    }
}

fn budget_effort(b: u64) -> &'static str {
    match b {
        0..4000 => "low",
        4000..16000 => "medium",
        _ => "high",
    }
}

/// Adds the reasoning field for the provider's style; returns whether thinking output is on.
fn reasoning(
    thinking: Option<&Value>,
    output_config: Option<Value>,
    opts: &ChatOptions,
    body: &mut Map<String, Value>,
    deg: &mut Degradations,
) -> bool {
    let ty = thinking.and_then(|t| t.get("type")).and_then(Value::as_str);
    let mut oc = match output_config {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let effort = take_str(&mut oc, "effort");
    for (k, v) in oc {
        if !v.is_null() {
            deg.push(
                format!("output_config.{k}"),
                K::Dropped,
                "not supported by Chat Completions",
            );
        }
    }
    let budget = thinking
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64);
    let clamped = |e: &str, deg: &mut Degradations| -> String {
        let c = chat_effort(e);
        if c != e {
            deg.push(
                "output_config.effort",
                K::Approximated,
                format!("effort `{e}` sent as `{c}`"),
            );
        }
        c.to_owned()
    };
    let thinking_on = matches!(ty, Some("enabled" | "adaptive"));
    match opts.reasoning_style.as_str() {
        "none" => {
            if thinking_on {
                deg.push(
                    "thinking",
                    K::Dropped,
                    "this provider takes no reasoning settings",
                );
            }
            if effort.is_some() {
                deg.push(
                    "output_config.effort",
                    K::Dropped,
                    "this provider takes no reasoning settings",
                );
            }
        }
        "openai" => {
            let e = match ty {
                Some("disabled") => {
                    if effort.is_some() {
                        deg.push("output_config.effort", K::Dropped, "thinking is disabled");
                    }
                    None
                }
                Some("enabled") => Some(budget_effort(budget.unwrap_or(0)).to_owned()),
                _ => effort.as_deref().map(|e| clamped(e, deg)),
            };
            if let Some(e) = e {
                body.insert("reasoning_effort".into(), Value::String(e));
            }
        }
        _ => {
            let r = match ty {
                Some("disabled") => {
                    if effort.is_some() {
                        deg.push("output_config.effort", K::Dropped, "thinking is disabled");
                    }
                    Some(json!({"enabled": false}))
                }
                Some("enabled") => Some(json!({"max_tokens": budget.unwrap_or(0)})),
                Some("adaptive") => {
                    let e = effort
                        .as_deref()
                        .map_or_else(|| "medium".to_owned(), |e| clamped(e, deg));
                    Some(json!({"effort": e}))
                }
                _ => effort
                    .as_deref()
                    .map(|e| json!({"effort": clamped(e, deg)})),
            };
            if let Some(r) = r {
                body.insert("reasoning".into(), r);
            }
        }
    }
    thinking_on
}

/// The degradation of a tool result's `is_error`.
pub(crate) const ERROR_FLAG: &str =
    "Chat Completions has no error flag; the output is prefixed with `Error`";

/// Walks parsed messages into Chat messages (the fast path's `raw_history/chat.rs` gives it
/// the messages the scan parsed).
pub(crate) struct ChatWalker<'a> {
    out: &'a mut Vec<Value>,
    /// (index in out, source path) of tool calls and tool messages, for pairing repair.
    origins: Vec<(usize, String, String)>,
    deg: &'a mut Degradations,
}

fn text_part(t: String) -> Value {
    json!({"type": "text", "text": t})
}

/// `input_*` part (shared helpers' shape) → Chat content part.
fn chat_part(p: Value) -> Value {
    match p.get("type").and_then(Value::as_str) {
        Some("input_image") => {
            json!({"type": "image_url", "image_url": {"url": p.get("image_url").cloned().unwrap_or(Value::Null)}})
        }
        Some("input_file") => {
            let filename = p
                .get("filename")
                .cloned()
                .unwrap_or_else(|| json!("document.pdf"));
            match p.get("file_data") {
                Some(d) => json!({"type": "file", "file": {"filename": filename, "file_data": d}}),
                None => {
                    json!({"type": "file", "file": {"file_data": p.get("file_url").cloned().unwrap_or(Value::Null)}})
                }
            }
        }
        _ => text_part(
            p.get("text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        ),
    }
}

impl<'a> ChatWalker<'a> {
    /// A walker that appends to `out`.
    pub(crate) fn new(out: &'a mut Vec<Value>, deg: &'a mut Degradations) -> Self {
        Self {
            out,
            origins: Vec::new(),
            deg,
        }
    }

    /// The (index in `out`, path, id) of the tool calls and tool messages appended.
    pub(crate) fn into_origins(self) -> Vec<(usize, String, String)> {
        self.origins
    }

    /// Append message `i`'s Chat messages.
    pub(crate) fn message(&mut self, i: usize, m: Value) -> Result<(), RequestError> {
        let Value::Object(mut m) = m else {
            return Err(RequestError::invalid(
                format!("messages.{i}"),
                "must be an object",
            ));
        };
        let role = take_str(&mut m, "role").unwrap_or_default();
        if !role_ok(&role) {
            return Err(bad_role(i));
        }
        let blocks = match take_content(&mut m, i)? {
            Content::Text(s) => {
                if !s.is_empty() {
                    self.out.push(json!({"role": role, "content": s}));
                }
                return Ok(());
            }
            Content::Blocks(b) => b,
        };
        match role.as_str() {
            "system" => {
                let mut texts = Vec::new();
                for (j, b) in blocks.into_iter().enumerate() {
                    let mut b = as_block(b, i, j)?;
                    if block_type(&b) == Some("text") {
                        texts.push(text_of(&mut b, i, j)?);
                    } else if crate::translate::tool_changes::is_tool_change(&b) {
                        // Carried in the tool list (tool_changes.rs).
                    } else {
                        self.deg.push(
                            format!("messages[{i}].content[{j}]"),
                            K::Unsupported,
                            "only text is carried in a system message",
                        );
                    }
                }
                if !texts.is_empty() {
                    self.out
                        .push(json!({"role": "system", "content": texts.join("\n\n")}));
                }
                Ok(())
            }
            "user" => self.user(i, blocks),
            _ => self.assistant(i, blocks),
        }
    }

    fn user(&mut self, i: usize, blocks: Vec<Value>) -> Result<(), RequestError> {
        let mut parts: Vec<Value> = Vec::new();
        let mut moved_images: Vec<Value> = Vec::new();
        let mut single_text = true;
        let had_content = !blocks.is_empty();
        let out_before = self.out.len();
        for (j, b) in blocks.into_iter().enumerate() {
            let mut b = as_block(b, i, j)?;
            let path = format!("messages[{i}].content[{j}]");
            let ty = block_type(&b).unwrap_or_default().to_owned();
            match ty.as_str() {
                "text" => parts.push(text_part(text_of(&mut b, i, j)?)),
                "image" => match image_part(&mut b) {
                    Some(p) => {
                        single_text = false;
                        parts.push(chat_part(p));
                    }
                    None => self
                        .deg
                        .push(path, K::Unsupported, "image source not supported"),
                },
                "document" => {
                    let mut tmp = Vec::new();
                    if document_parts(b, &mut tmp, &path, self.deg) {
                        single_text = false;
                        parts.extend(tmp.into_iter().map(chat_part));
                    } else {
                        self.deg
                            .push(path, K::Unsupported, "document source not supported");
                    }
                }
                "search_result" => {
                    parts.push(text_part(search_result_text(&mut b, &path, self.deg)))
                }
                "tool_result" => {
                    let id = take_str(&mut b, "tool_use_id").ok_or_else(|| {
                        RequestError::invalid(
                            format!("messages.{i}.content.{j}.tool_use_id"),
                            "field required",
                        )
                    })?;
                    let is_error = b.get("is_error").and_then(Value::as_bool) == Some(true);
                    let (mut text, images) =
                        match tool_result_parts(b.shift_remove("content"), &path, self.deg) {
                            ToolResult::Text(s) => (s, Vec::new()),
                            ToolResult::Parts(ps) => {
                                let mut imgs = Vec::new();
                                let mut texts = Vec::new();
                                for (k, p) in ps.into_iter().enumerate() {
                                    if p.get("type").and_then(Value::as_str) == Some("input_image")
                                    {
                                        imgs.push((k, p));
                                    } else {
                                        texts.push(p);
                                    }
                                }
                                (join_texts(texts), imgs)
                            }
                        };
                    for (k, img) in images {
                        self.deg.push(
                            format!("{path}.content[{k}]"),
                            K::Approximated,
                            "a tool message cannot hold images; moved to the following user message",
                        );
                        moved_images.push(chat_part(img));
                    }
                    if is_error {
                        self.deg
                            .push(format!("{path}.is_error"), K::Approximated, ERROR_FLAG);
                        text = if text.is_empty() {
                            "Error".into()
                        } else {
                            format!("Error: {text}")
                        };
                    }
                    let idx = self.out.len();
                    self.origins.push((idx, path, id.clone()));
                    self.out
                        .push(json!({"role": "tool", "tool_call_id": id, "content": text}));
                }
                "thinking" | "redacted_thinking" => self.deg.push(
                    path,
                    K::Dropped,
                    "thinking in a user turn has no upstream form",
                ),
                other => self.deg.push(
                    path,
                    K::Unsupported,
                    format!("content block `{other}` is not supported"),
                ),
            }
        }
        let text_parts = parts.len();
        let mut all = moved_images;
        all.append(&mut parts);
        if all.is_empty() {
            if had_content && self.out.len() == out_before {
                return Err(nothing_sent(i));
            }
            return Ok(());
        }
        let content = if single_text && text_parts == 1 && all.len() == 1 {
            all.pop()
                .and_then(|mut p| p.get_mut("text").map(Value::take))
                .unwrap_or(Value::String(String::new()))
        } else {
            Value::Array(all)
        };
        self.out.push(json!({"role": "user", "content": content}));
        Ok(())
    }

    fn assistant(&mut self, i: usize, blocks: Vec<Value>) -> Result<(), RequestError> {
        let mut texts = Vec::new();
        let mut reasoning = Vec::new();
        let mut calls = Vec::new();
        let mut call_paths = Vec::new();
        for (j, b) in blocks.into_iter().enumerate() {
            let mut b = as_block(b, i, j)?;
            let path = format!("messages[{i}].content[{j}]");
            let ty = block_type(&b).unwrap_or_default().to_owned();
            match ty.as_str() {
                "text" => {
                    let t = text_of(&mut b, i, j)?;
                    if !t.is_empty() {
                        texts.push(t);
                    }
                }
                "thinking" => {
                    if let Some(t) = take_str(&mut b, "thinking").filter(|t| !t.is_empty()) {
                        reasoning.push(t);
                    }
                }
                "tool_use" => {
                    let field = |k: &str| format!("messages.{i}.content.{j}.{k}");
                    let id = take_str(&mut b, "id")
                        .ok_or_else(|| RequestError::invalid(field("id"), "field required"))?;
                    let name = take_str(&mut b, "name")
                        .ok_or_else(|| RequestError::invalid(field("name"), "field required"))?;
                    let arguments = match b.get("input") {
                        None | Some(Value::Null) => "{}".to_owned(),
                        Some(v) => serde_json::to_string(v).unwrap_or_else(|_| "{}".into()),
                    };
                    call_paths.push((path, id.clone()));
                    calls.push(json!({"id": id, "type": "function",
                                      "function": {"name": wire_tool_name(&name), "arguments": arguments}}));
                }
                "redacted_thinking" => self.deg.push(
                    path,
                    K::Dropped,
                    "redacted thinking can only be read by Anthropic",
                ),
                t if t == "server_tool_use" || t.ends_with("_tool_result") => {
                    self.deg
                        .push(path, K::Dropped, "server tool history cannot be replayed")
                }
                other => self.deg.push(
                    path,
                    K::Unsupported,
                    format!("content block `{other}` is not supported"),
                ),
            }
        }
        if texts.is_empty() && calls.is_empty() && reasoning.is_empty() {
            return Ok(());
        }
        let mut m = Map::new();
        m.insert("role".into(), json!("assistant"));
        m.insert(
            "content".into(),
            if texts.is_empty() && !calls.is_empty() {
                Value::Null
            } else {
                Value::String(texts.join("\n\n"))
            },
        );
        if !calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(calls));
        }
        if !reasoning.is_empty() {
            m.insert(
                "reasoning_content".into(),
                Value::String(reasoning.join("\n\n")),
            );
        }
        let idx = self.out.len();
        for (path, id) in call_paths {
            self.origins.push((idx, path, id));
        }
        self.out.push(Value::Object(m));
        Ok(())
    }
}

fn role_of(v: &Value) -> &str {
    v.get("role").and_then(Value::as_str).unwrap_or("")
}

/// What the pairing repair needs to know of one Chat message.
pub(crate) struct Pairs<'a> {
    /// A tool message's `tool_call_id`.
    pub(crate) answers: Option<&'a str>,
    /// An assistant message's tool call ids.
    pub(crate) calls: Vec<&'a str>,
}

/// A step of the repaired message list.
pub(crate) enum Step {
    /// Message `k` as it is.
    Keep(usize),
    /// Tool message `k`, whose call is not there: as a user message ([`orphan_message`]).
    Orphan(usize),
    /// A tool message for a call with no result ([`placeholder`]).
    Placeholder(String),
}

/// Every assistant tool call needs a tool message and every tool message its call: `None` if
/// they pair up; else the messages in their new order, with a degradation (at `path_of(message,
/// id)`) for each result sent as a user message and each call given a placeholder result,
/// which goes before the first message after the call's that is not a tool message.
pub(crate) fn repair_plan(
    messages: &[Pairs<'_>],
    path_of: impl Fn(usize, &str) -> String,
    deg: &mut Degradations,
) -> Option<Vec<Step>> {
    let call_ids: HashSet<&str> = messages
        .iter()
        .flat_map(|m| m.calls.iter().copied())
        .collect();
    let answered: HashSet<&str> = messages.iter().filter_map(|m| m.answers).collect();
    if call_ids == answered {
        return None;
    }
    let mut plan = Vec::with_capacity(messages.len() + 4);
    let mut pending: Vec<String> = Vec::new();
    for (k, m) in messages.iter().enumerate() {
        if let Some(id) = m.answers {
            if call_ids.contains(id) {
                plan.push(Step::Keep(k));
            } else {
                deg.push(
                    path_of(k, id),
                    K::Approximated,
                    "tool result without its call; sent as a user message",
                );
                plan.push(Step::Orphan(k));
            }
            continue;
        }
        plan.extend(pending.drain(..).map(Step::Placeholder));
        for id in &m.calls {
            if !answered.contains(id) {
                deg.push(
                    path_of(k, id),
                    K::Defaulted,
                    "tool call without a result; a placeholder result was sent",
                );
                pending.push((*id).to_owned());
            }
        }
        plan.push(Step::Keep(k));
    }
    plan.extend(pending.drain(..).map(Step::Placeholder));
    Some(plan)
}

/// The pairing facts of a message [`ChatWalker`] made.
pub(crate) fn pairs_of(m: &Value) -> Pairs<'_> {
    match role_of(m) {
        "tool" => Pairs {
            answers: Some(m.get("tool_call_id").and_then(Value::as_str).unwrap_or("")),
            calls: Vec::new(),
        },
        "assistant" => Pairs {
            answers: None,
            calls: m
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("id").and_then(Value::as_str))
                .collect(),
        },
        _ => Pairs {
            answers: None,
            calls: Vec::new(),
        },
    }
}

/// A tool message whose call is not in the history, as a user message.
pub(crate) fn orphan_message(m: &Value) -> Value {
    let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
    let text = m.get("content").and_then(Value::as_str).unwrap_or("");
    json!({"role": "user", "content": format!("Result of tool call {id}:\n{text}")})
}

/// The tool message sent for a call that has no result.
pub(crate) fn placeholder(id: &str) -> Value {
    json!({"role": "tool", "tool_call_id": id,
           "content": "No result: the tool call was interrupted."})
}

/// The path of the block a call or result at message `k` came from, from a walker's origins.
pub(crate) fn origin_path(origins: &[(usize, String, String)], k: usize, id: &str) -> String {
    origins
        .iter()
        .find(|(i, _, oid)| *i == k && oid == id)
        .map(|(_, p, _)| p.clone())
        .unwrap_or_default()
}

/// Every assistant tool call needs a tool message and every tool message its call
/// ([`repair_plan`]), on parsed messages.
pub(crate) fn repair_pairs(
    out: &mut Vec<Value>,
    origins: &[(usize, String, String)],
    deg: &mut Degradations,
) {
    let facts: Vec<Pairs<'_>> = out.iter().map(pairs_of).collect();
    let Some(plan) = repair_plan(&facts, |k, id| origin_path(origins, k, id), deg) else {
        return;
    };
    drop(facts);
    let mut old: Vec<Option<Value>> = std::mem::take(out).into_iter().map(Some).collect();
    for step in plan {
        match step {
            Step::Keep(k) => out.extend(old[k].take()),
            Step::Orphan(k) => out.extend(old[k].take().map(|m| orphan_message(&m))),
            Step::Placeholder(id) => out.push(placeholder(&id)),
        }
    }
}
