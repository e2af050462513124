//! Anthropic Messages request → Codex Responses request body (docs/CONVERSION.md §1).
//!
//! The request is walked as a `serde_json::Value` that is consumed as it goes: strings move
//! from the input tree into the output tree without copies, so a 400 KB Claude Code request
//! costs about what parsing and re-serializing it costs. Every lossy branch records a
//! degradation; only a structurally unusable request is an error.

use super::names::{ToolNames, wire_call_id, wire_tool_name};
use super::object;
use super::raw_history::{self, RawInput};
use super::signature;
use super::tool_search;
use crate::degrade::{Converted, DegradationKind as K, Degradations};
use crate::error::RequestError;
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// The degradation of a tool result's `is_error`.
pub(crate) const IS_ERROR_PREFIXED: &str =
    "the backend has no error flag; the output is prefixed with `Error`";

/// Efforts in increasing order, for clamping into what a model accepts.
const EFFORT_ORDER: [&str; 8] = [
    "none", "minimal", "low", "medium", "high", "xhigh", "max", "ultra",
];

/// What the conversion needs besides the request.
#[derive(Debug, Clone)]
pub struct RequestOptions {
    /// The routed Codex model slug.
    pub upstream_model: String,
    /// The route's default reasoning effort.
    pub effort: String,
    /// Efforts the model accepts, lowest first.
    pub efforts: Vec<String>,
    /// The client's session id header (`x-claude-code-session-id`), if any.
    pub session_id: Option<String>,
    /// A short, non-secret tag of the account the request will use.
    pub account_tag: Option<String>,
    /// The model's wire profile, from the backend's catalog.
    pub profile: Profile,
    /// The model has the `priority` service tier (`speed: "fast"` goes there); from the
    /// catalog, assumed without one.
    pub priority_tier: bool,
    /// The model runs client-executed tool search (catalog `supports_search_tool`): Claude
    /// Code's `ToolSearch` maps onto it (docs/CONVERSION.md §1.10).
    pub tool_search: bool,
}

/// A Codex model's request shape (docs/CONVERSION.md §1.9): the backend refuses the other one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Top-level `instructions` and `tools`.
    #[default]
    Classic,
    /// "Responses Lite" (`use_responses_lite` in the catalog): tools and the system prompt as
    /// the first input items, no hosted tools, `reasoning.context: "all_turns"`.
    Lite,
}

impl RequestOptions {
    /// Options with the documented defaults for `upstream_model`.
    pub fn new(upstream_model: impl Into<String>) -> Self {
        Self {
            upstream_model: upstream_model.into(),
            effort: "medium".into(),
            efforts: ["low", "medium", "high", "xhigh"]
                .map(String::from)
                .to_vec(),
            session_id: None,
            account_tag: None,
            profile: Profile::Classic,
            priority_tier: true,
            tool_search: false,
        }
    }
}

/// A converted request: the body and what the rest of the exchange needs to know about it.
#[derive(Debug, Clone)]
pub struct CodexRequest {
    /// The JSON body for `POST …/codex/responses`, but for the history items the fast path
    /// wrote (`raw_input`): [`Self::to_json`] and [`Self::to_value`] give the whole body.
    pub body: Map<String, Value>,
    /// The prompt cache key; the host sends it as the `session_id` header too.
    pub prompt_cache_key: Option<String>,
    /// Wire tool names back to the client's.
    pub tool_names: ToolNames,
    /// Whether the client gets thinking blocks.
    pub thinking: bool,
    /// The client's stop sequences, for the stream translator to enforce.
    pub stop_sequences: Vec<String>,
    /// The history's items as the fast path wrote them (`raw_history.rs`): they follow the
    /// items of `body["input"]` (then only the Lite profile's leading items) on the wire.
    pub(crate) raw_input: Option<RawInput>,
}

impl CodexRequest {
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
        match &self.raw_input {
            None => super::body_bytes(&self.body, hint),
            Some(raw) => {
                super::body_bytes_with(&self.body, Some("input"), |out| raw.write_items(out), hint)
            }
        }
    }

    /// Remove replayed reasoning items (the retry after a 400 `invalid_encrypted_content`).
    /// Returns how many were removed.
    pub fn strip_reasoning(&mut self) -> usize {
        let raw = self.raw_input.as_mut().map_or(0, RawInput::strip_reasoning);
        let Some(Value::Array(input)) = self.body.get_mut("input") else {
            return raw;
        };
        let before = input.len();
        input.retain(|item| item.get("type").and_then(Value::as_str) != Some("reasoning"));
        raw + before - input.len()
    }
}

/// Parse request bytes as JSON.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, RequestError> {
    serde_json::from_slice(body).map_err(|e| RequestError::Json(e.to_string()))
}

/// The request object and its `messages`, taken out; what every conversion starts with.
pub(crate) fn split_request(
    value: Value,
) -> Result<(Map<String, Value>, Vec<Value>), RequestError> {
    let Value::Object(mut req) = value else {
        return Err(RequestError::invalid("body", "must be a JSON object"));
    };
    match req.shift_remove("messages") {
        Some(Value::Array(m)) => Ok((req, m)),
        Some(_) => Err(RequestError::invalid("messages", "must be an array")),
        None => Err(RequestError::invalid("messages", "field required")),
    }
}

/// Convert request bytes: the history by the fast path where it applies (`raw_history.rs`),
/// else as a parsed `Value`; the same bytes either way.
pub fn convert_request(
    body: &[u8],
    opts: &RequestOptions,
) -> Result<Converted<CodexRequest>, RequestError> {
    match convert_request_fast(body, opts) {
        Some(converted) => converted,
        None => convert_request_value(parse_json(body)?, opts),
    }
}

/// The fast path alone (`raw_history.rs`): `None` where it leaves the request to the `Value`
/// path. For the tests and the fuzz target that hold the two paths to the same output.
#[doc(hidden)]
pub fn convert_request_fast(
    body: &[u8],
    opts: &RequestOptions,
) -> Option<Result<Converted<CodexRequest>, RequestError>> {
    let scan = raw_history::scan(body)?;
    convert_scanned(scan.rest, body, scan.history, opts).transpose()
}

/// Convert an already parsed request.
pub fn convert_request_value(
    value: Value,
    opts: &RequestOptions,
) -> Result<Converted<CodexRequest>, RequestError> {
    let (req, messages) = split_request(value)?;
    convert_parts(req, Messages::Values(messages), opts)?
        .ok_or_else(|| RequestError::invalid("messages", "could not be converted"))
}

/// Convert a request scanned by `raw_history::scan` (`rest`, and the `history` of `source`,
/// the body it was scanned from); `None` if its history needs the `Value` path after all.
pub(crate) fn convert_scanned(
    rest: Map<String, Value>,
    source: &[u8],
    history: raw_history::History,
    opts: &RequestOptions,
) -> Result<Option<Converted<CodexRequest>>, RequestError> {
    convert_parts(rest, Messages::Raw(source, history), opts)
}

/// A request's `messages`: parsed, or scanned spans of its body.
pub(crate) enum Messages<'a> {
    Values(Vec<Value>),
    Raw(&'a [u8], raw_history::History),
}

fn convert_parts(
    mut req: Map<String, Value>,
    history: Messages<'_>,
    opts: &RequestOptions,
) -> Result<Option<Converted<CodexRequest>>, RequestError> {
    let mut deg = Degradations::default();
    let instructions = instructions(req.shift_remove("system"), &mut deg)?;
    let lite = opts.profile == Profile::Lite;
    let shape = if lite {
        ToolShape::ResponsesLite
    } else {
        ToolShape::Responses
    };
    // The fast path takes no tool changes (`tool_changes.rs` reads them from the messages).
    let (messages, message_effort): (&[Value], _) = match &history {
        Messages::Values(m) => (m, message_effort(m)),
        Messages::Raw(_, h) => (&[], h.message_effort()),
    };
    let raw_tools = req.shift_remove("tools");
    let search_plan = tool_search::plan(opts.tool_search, raw_tools.as_ref());
    let (mut tools, mut tool_names) =
        crate::translate::tool_changes::convert_tools(raw_tools, messages, shape, &mut deg)?;
    let search = search_plan
        .and_then(|p| tool_search::apply(p, &mut tools, &mut tool_names, &mut deg))
        .map(|name| tool_search::Search::new(name, &tools));
    // The history's items: as `Value`s, or (the fast path) already written.
    let (mut input, raw_input, search) = match history {
        Messages::Values(messages) => {
            let mut input = Vec::with_capacity(messages.len() * 2 + 2);
            let mut origins = Vec::with_capacity(messages.len() * 2);
            let search = {
                let mut w = Walker {
                    items: &mut input,
                    origins: &mut origins,
                    deg: &mut deg,
                    opts,
                    search,
                };
                for (i, m) in messages.into_iter().enumerate() {
                    w.message(i, m)?;
                }
                w.search
            };
            repair_pairs(&mut input, &origins, &mut deg);
            (input, None, search)
        }
        Messages::Raw(source, h) => {
            let mut search = search;
            match raw_history::walk(source, h, opts, &mut deg, &mut search)? {
                Some(raw) => (Vec::new(), Some(raw), search),
                None => return Ok(None),
            }
        }
    };

    let (mut tool_choice, parallel) = tool_choice(req.shift_remove("tool_choice"), &mut deg);
    if let Some(search) = &search {
        tool_choice = search.choice(tool_choice, &mut deg);
    }
    let thinking = req.shift_remove("thinking");
    let output_config = with_message_effort(req.shift_remove("output_config"), message_effort);
    let (reasoning, mut include, thinking_on, text) =
        reasoning(thinking.as_ref(), output_config, opts, &mut deg);
    if tools
        .iter()
        .any(|t| t.get("type").and_then(Value::as_str) == Some("web_search"))
        && let Value::Array(list) = &mut include
    {
        list.push(Value::String("web_search_call.action.sources".into()));
    }
    let metadata = req.shift_remove("metadata");
    let prompt_cache_key = opts
        .session_id
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| session_from_metadata(metadata.as_ref()));

    let mut service_tier = None;
    let mut stop_sequences: Vec<String> = Vec::new();
    for (key, v) in req {
        if v.is_null() {
            continue;
        }
        match key.as_str() {
            "model" | "stream" | "cache_control" => {}
            "max_tokens" => deg.push(key, K::Dropped, "the backend has no output token cap"),
            "stop_sequences" => {
                stop_sequences = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if !stop_sequences.is_empty() {
                    deg.push(
                        key,
                        K::Approximated,
                        "the proxy stops the client's stream; the backend keeps generating until it ends",
                    )
                }
            }
            "temperature" | "top_p" | "top_k" => deg.push(
                key,
                K::Dropped,
                "sampling parameters are rejected by the backend",
            ),
            "context_management" => deg.push(
                key,
                K::Dropped,
                "context edits are not performed by the backend",
            ),
            "speed" => {
                if v.as_str() == Some("fast") {
                    if opts.priority_tier {
                        service_tier = Some("priority");
                    } else {
                        deg.push(key, K::Dropped, "this model has no fast (priority) tier");
                    }
                }
            }
            _ => deg.push(key, K::Dropped, "not supported by the backend"),
        }
    }

    let mut body = Map::new();
    body.insert("model".into(), Value::String(opts.upstream_model.clone()));
    if lite {
        // The tool list and the system prompt lead the input, in this order, so that they
        // stay the cached prefix from turn to turn.
        let mut prefix = Vec::with_capacity(2);
        if !tools.is_empty() {
            prefix.push(object([
                ("type", "additional_tools".into()),
                ("role", "developer".into()),
                ("tools", Value::Array(tools)),
            ]));
        }
        if !instructions.is_empty() {
            prefix.push(object([
                ("type", "message".into()),
                ("role", "developer".into()),
                ("content", Value::Array(vec![input_text(instructions)])),
            ]));
        }
        input.splice(0..0, prefix);
        body.insert("input".into(), Value::Array(input));
        body.insert("tool_choice".into(), tool_choice);
        body.insert("parallel_tool_calls".into(), Value::Bool(false));
        let mut reasoning = reasoning;
        if let Value::Object(r) = &mut reasoning {
            r.insert("context".into(), Value::String("all_turns".into()));
        }
        body.insert("reasoning".into(), reasoning);
    } else {
        body.insert("instructions".into(), Value::String(instructions));
        body.insert("input".into(), Value::Array(input));
        body.insert("tools".into(), Value::Array(tools));
        body.insert("tool_choice".into(), tool_choice);
        body.insert("parallel_tool_calls".into(), Value::Bool(parallel));
        body.insert("reasoning".into(), reasoning);
    }
    body.insert("store".into(), Value::Bool(false));
    body.insert("stream".into(), Value::Bool(true));
    body.insert("include".into(), include);
    if let Some(k) = &prompt_cache_key {
        body.insert("prompt_cache_key".into(), Value::String(k.clone()));
    }
    if let Some(t) = service_tier {
        body.insert("service_tier".into(), Value::String(t.into()));
    }
    if let Some(t) = text {
        body.insert("text".into(), t);
    }
    Ok(Some(Converted {
        value: CodexRequest {
            body,
            prompt_cache_key,
            tool_names,
            thinking: thinking_on,
            stop_sequences,
            raw_input,
        },
        degradations: deg.0,
    }))
}

pub(crate) fn take_str(obj: &mut Map<String, Value>, key: &str) -> Option<String> {
    match obj.shift_remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

pub(crate) fn block_type(b: &Map<String, Value>) -> Option<&str> {
    b.get("type").and_then(Value::as_str)
}

pub(crate) fn input_text(text: String) -> Value {
    object([("type", "input_text".into()), ("text", Value::String(text))])
}

pub(crate) fn instructions(
    system: Option<Value>,
    deg: &mut Degradations,
) -> Result<String, RequestError> {
    match system {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(Value::Array(blocks)) => {
            let mut parts: Vec<String> = Vec::with_capacity(blocks.len());
            for (i, b) in blocks.into_iter().enumerate() {
                let Value::Object(mut b) = b else {
                    return Err(RequestError::invalid(
                        format!("system.{i}"),
                        "must be an object",
                    ));
                };
                if block_type(&b) != Some("text") {
                    deg.push(
                        format!("system[{i}]"),
                        K::Unsupported,
                        "only text blocks can be instructions",
                    );
                    continue;
                }
                let text = take_str(&mut b, "text").ok_or_else(|| {
                    RequestError::invalid(format!("system.{i}.text"), "field required")
                })?;
                if text.starts_with("x-anthropic-billing-header:") {
                    deg.push(
                        format!("system[{i}]"),
                        K::Dropped,
                        "per-conversation attribution line; kept out of the upstream cache prefix",
                    );
                    continue;
                }
                parts.push(text);
            }
            Ok(parts.join("\n\n"))
        }
        Some(_) => Err(RequestError::invalid(
            "system",
            "must be a string or an array of text blocks",
        )),
    }
}

/// Drop the `pattern`s OpenAI's schema validator cannot compile (docs/CONVERSION.md §1.5): it
/// compiles them with Python's `re`, which has no Unicode property classes (`\p{…}`) and no
/// JavaScript-style named groups, and one such pattern makes every request 400 (Claude Code's
/// `Artifact` tool did, claude-code.md §9.6). Walks the schema's subschemas, never the
/// property names (a parameter may be called `pattern`).
fn scrub_patterns(node: &mut Map<String, Value>, path: At<'_>, deg: &mut Degradations) {
    if node
        .get("pattern")
        .and_then(Value::as_str)
        .is_some_and(|p| !python_compatible(p))
    {
        node.shift_remove("pattern");
        deg.push(
            format!("{path}.pattern"),
            K::Dropped,
            "a regex the backend's schema check cannot compile (Unicode property classes or named groups)",
        );
    }
    // `patternProperties` keys are regexes too: an unreadable one goes with its subschema.
    if let Some(Value::Object(map)) = node.get_mut("patternProperties") {
        let bad: Vec<String> = map
            .keys()
            .filter(|k| !python_compatible(k))
            .cloned()
            .collect();
        for k in bad {
            map.shift_remove(&k);
            deg.push(
                format!("{path}.patternProperties.{k}"),
                K::Dropped,
                "a property-name regex the backend's schema check cannot compile",
            );
        }
    }
    let mut sub = |v: &mut Value, at: At<'_>| match v {
        Value::Object(o) => scrub_patterns(o, at, deg),
        // Array-form `items` (a tuple): each element is a subschema.
        Value::Array(list) if at.ends_with_items() => {
            for (i, e) in list.iter_mut().enumerate() {
                if let Value::Object(o) = e {
                    scrub_patterns(o, At::Index(&at, i), deg);
                }
            }
        }
        _ => {}
    };
    for key in ["properties", "patternProperties", "$defs", "definitions"] {
        if let Some(Value::Object(map)) = node.get_mut(key) {
            let under = At::Key(&path, key);
            for (name, v) in map.iter_mut() {
                sub(v, At::Key(&under, name));
            }
        }
    }
    for key in [
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
    ] {
        if let Some(v) = node.get_mut(key) {
            sub(v, At::Key(&path, key));
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(Value::Array(list)) = node.get_mut(key) {
            let under = At::Key(&path, key);
            for (i, v) in list.iter_mut().enumerate() {
                sub(v, At::Index(&under, i));
            }
        }
    }
}

/// Where a subschema is (`tools[3].input_schema.properties.x`), spelled out only when a
/// degradation names it: a Claude Code tool list has hundreds of subschemas and no
/// degradation in most requests.
#[derive(Clone, Copy)]
enum At<'a> {
    Root(&'a str),
    /// `{parent}.{key}`
    Key(&'a At<'a>, &'a str),
    /// `{parent}[{i}]`
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    /// Whether the spelled-out path ends with `.items`.
    fn ends_with_items(self) -> bool {
        match self {
            At::Root(p) => p.ends_with(".items"),
            At::Key(_, k) => k == "items" || k.ends_with(".items"),
            At::Index(..) => false,
        }
    }
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(p) => f.write_str(p),
            At::Key(parent, k) => write!(f, "{parent}.{k}"),
            At::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Whether Python's `re` reads `pattern`: no `\p`/`\P` property classes, no `(?<name>` groups
/// and `\k<name>` references (JavaScript's spellings; Python writes `(?P<name>`), no braced
/// code points `\u{…}` (Python has only `\uXXXX`).
fn python_compatible(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                if matches!(b[i + 1], b'p' | b'P' | b'k')
                    || (b[i + 1] == b'u' && b.get(i + 2) == Some(&b'{'))
                {
                    return false;
                }
                i += 2;
            }
            b'(' if b[i + 1..].starts_with(b"?<")
                && b.get(i + 3).is_some_and(|c| c.is_ascii_alphabetic()) =>
            {
                return false;
            }
            _ => i += 1,
        }
    }
    true
}

pub(crate) fn empty_schema() -> Value {
    json!({"type": "object", "properties": {}})
}

pub(crate) fn clean_schema(schema: Option<Value>, path: &str, deg: &mut Degradations) -> Value {
    match schema {
        Some(Value::Object(mut s)) => {
            s.shift_remove("$schema");
            scrub_patterns(&mut s, At::Key(&At::Root(path), "input_schema"), deg);
            if !s.contains_key("type") {
                s.insert("type".into(), Value::String("object".into()));
            }
            if s.get("type").and_then(Value::as_str) == Some("object")
                && !s.contains_key("properties")
            {
                s.insert("properties".into(), Value::Object(Map::new()));
            }
            Value::Object(s)
        }
        None | Some(Value::Null) => empty_schema(),
        Some(_) => {
            deg.push(
                format!("{path}.input_schema"),
                K::Defaulted,
                "not an object schema; an empty object schema was sent",
            );
            empty_schema()
        }
    }
}

/// Which body shape tools are converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolShape {
    /// Responses API: `{"type":"function","name",…}`; web search supported.
    Responses,
    /// The Responses Lite profile: function tools only (hosted tools are refused).
    ResponsesLite,
    /// Chat Completions: `{"type":"function","function":{…}}`; no server tools.
    Chat,
}

pub(crate) fn tools(
    tools: Option<Value>,
    shape: ToolShape,
    deg: &mut Degradations,
) -> Result<(Vec<Value>, ToolNames), RequestError> {
    let list = match tools {
        None | Some(Value::Null) => return Ok((Vec::new(), ToolNames::default())),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(RequestError::invalid("tools", "must be an array")),
    };
    let mut out = Vec::with_capacity(list.len());
    let mut names: Vec<String> = Vec::new();
    for (i, t) in list.into_iter().enumerate() {
        let path = format!("tools[{i}]");
        let Value::Object(mut t) = t else {
            return Err(RequestError::invalid(
                format!("tools.{i}"),
                "must be an object",
            ));
        };
        match t.get("type").and_then(Value::as_str) {
            None | Some("custom") => {
                let name = take_str(&mut t, "name").ok_or_else(|| {
                    RequestError::invalid(format!("tools.{i}.name"), "field required")
                })?;
                let description = take_str(&mut t, "description").unwrap_or_default();
                let parameters = clean_schema(t.shift_remove("input_schema"), &path, deg);
                if t.get("strict").and_then(Value::as_bool) == Some(true) {
                    deg.push(
                        format!("{path}.strict"),
                        K::Approximated,
                        "sent with strict:false; Claude schemas are rarely strict-compatible",
                    );
                }
                if t.get("defer_loading").and_then(Value::as_bool) == Some(true) {
                    deg.push(
                        format!("{path}.defer_loading"),
                        K::Approximated,
                        "deferred loading is not available; the tool is sent eagerly",
                    );
                }
                if t.get("input_examples").is_some_and(|v| !v.is_null()) {
                    deg.push(
                        format!("{path}.input_examples"),
                        K::Dropped,
                        "the backend has no input examples",
                    );
                }
                let wire_name = Value::String(wire_tool_name(&name).into_owned());
                out.push(match shape {
                    ToolShape::Responses | ToolShape::ResponsesLite => object([
                        ("type", "function".into()),
                        ("name", wire_name),
                        ("description", Value::String(description)),
                        ("strict", Value::Bool(false)),
                        ("parameters", parameters),
                    ]),
                    ToolShape::Chat => object([
                        ("type", "function".into()),
                        (
                            "function",
                            object([
                                ("name", wire_name),
                                ("description", Value::String(description)),
                                ("parameters", parameters),
                            ]),
                        ),
                    ]),
                });
                names.push(name);
            }
            Some(ty) if ty.starts_with("web_search_") && shape == ToolShape::Responses => {
                let mut ws = Map::new();
                ws.insert("type".into(), Value::String("web_search".into()));
                if let Some(Value::Array(domains)) = t.shift_remove("allowed_domains")
                    && !domains.is_empty()
                {
                    ws.insert(
                        "filters".into(),
                        json!({"allowed_domains": Value::Array(domains)}),
                    );
                }
                if let Some(Value::Object(mut loc)) = t.shift_remove("user_location") {
                    let mut l = Map::new();
                    l.insert("type".into(), Value::String("approximate".into()));
                    for k in ["city", "region", "country", "timezone"] {
                        if let Some(v) = loc.shift_remove(k).filter(|v| !v.is_null()) {
                            l.insert(k.into(), v);
                        }
                    }
                    ws.insert("user_location".into(), Value::Object(l));
                }
                for k in ["max_uses", "blocked_domains"] {
                    if t.get(k).is_some_and(|v| !v.is_null()) {
                        deg.push(
                            format!("{path}.{k}"),
                            K::Dropped,
                            "the backend's web search has no such setting",
                        );
                    }
                }
                out.push(Value::Object(ws));
            }
            Some(ty) if shape == ToolShape::ResponsesLite && ty.starts_with("web_search_") => deg
                .push(
                    path,
                    K::Unsupported,
                    "this model's request profile (Responses Lite) takes no hosted tools",
                ),
            Some(ty) => deg.push(
                path,
                K::Unsupported,
                format!("server tool `{ty}` cannot run on the backend"),
            ),
        }
    }
    let tool_names = ToolNames::new(names.iter().map(String::as_str));
    Ok((out, tool_names))
}

fn tool_choice(choice: Option<Value>, deg: &mut Degradations) -> (Value, bool) {
    let Some(Value::Object(c)) = choice else {
        return (Value::String("auto".into()), true);
    };
    let parallel = c.get("disable_parallel_tool_use").and_then(Value::as_bool) != Some(true);
    let v = match c.get("type").and_then(Value::as_str) {
        Some("any") => Value::String("required".into()),
        Some("none") => Value::String("none".into()),
        Some("tool") => match c.get("name").and_then(Value::as_str) {
            Some(name) => json!({"type": "function", "name": wire_tool_name(name)}),
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

pub(crate) fn effort_rank(e: &str) -> Option<usize> {
    EFFORT_ORDER.iter().position(|x| *x == e)
}

/// Clamp `effort` into `allowed` (lowest first).
pub(crate) fn clamp_effort<'a>(effort: &'a str, allowed: &'a [String]) -> &'a str {
    if allowed.is_empty() || allowed.iter().any(|a| a == effort) {
        return effort;
    }
    let highest = &allowed[allowed.len() - 1];
    match (effort_rank(effort), effort_rank(highest)) {
        (Some(r), Some(h)) if r > h => highest,
        (Some(r), _) => allowed
            .iter()
            .rev()
            .find(|a| effort_rank(a).is_some_and(|ar| ar <= r))
            .unwrap_or(&allowed[0]),
        _ => &allowed[0],
    }
}

/// Claude's per-message effort (CONVERSION.md §1.6, step 0): the `output_config.effort` of
/// the last `role:"system"` message that has one. It applies from the next user turn on, and
/// this request's newest turn follows it.
pub(crate) fn message_effort(messages: &[Value]) -> Option<Value> {
    messages
        .iter()
        .rev()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .find_map(|m| {
            m.get("output_config")?
                .get("effort")
                .filter(|e| e.is_string())
        })
        .cloned()
}

/// The request's `output_config` with a per-message effort in place of its own.
pub(crate) fn with_message_effort(
    output_config: Option<Value>,
    effort: Option<Value>,
) -> Option<Value> {
    let Some(effort) = effort else {
        return output_config;
    };
    let mut oc = match output_config {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    oc.insert("effort".into(), effort);
    Some(Value::Object(oc))
}

type Reasoning = (Value, Value, bool, Option<Value>);

fn reasoning(
    thinking: Option<&Value>,
    output_config: Option<Value>,
    opts: &RequestOptions,
    deg: &mut Degradations,
) -> Reasoning {
    let thinking_type = thinking.and_then(|t| t.get("type")).and_then(Value::as_str);
    let mut oc = match output_config {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    };
    let oc_effort = take_str(&mut oc, "effort");
    let (requested, source): (String, Option<&str>) = if let Some(e) = oc_effort {
        (e, Some("output_config.effort"))
    } else if thinking_type == Some("enabled") {
        let budget = thinking
            .and_then(|t| t.get("budget_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let e = match budget {
            0..4000 => "low",
            4000..16000 => "medium",
            16000..32000 => "high",
            _ => "xhigh",
        };
        (e.to_owned(), Some("thinking.budget_tokens"))
    } else if thinking_type == Some("disabled") {
        deg.push(
            "thinking",
            K::Approximated,
            "the backend's models always reason; the lowest effort is used",
        );
        (
            opts.efforts
                .first()
                .cloned()
                .unwrap_or_else(|| opts.effort.clone()),
            None,
        )
    } else {
        (opts.effort.clone(), None)
    };
    let effort = clamp_effort(&requested, &opts.efforts).to_owned();
    if effort != requested
        && let Some(src) = source
    {
        deg.push(
            src,
            K::Approximated,
            format!("effort `{requested}` is not accepted by the model; `{effort}` used"),
        );
    }

    let thinking_on = matches!(thinking_type, Some("enabled" | "adaptive"));
    let omitted = thinking
        .and_then(|t| t.get("display"))
        .and_then(Value::as_str)
        == Some("omitted");
    let mut r = Map::new();
    r.insert("effort".into(), Value::String(effort));
    if thinking_on && !omitted {
        r.insert("summary".into(), Value::String("auto".into()));
    }
    let include = if thinking_on {
        json!(["reasoning.encrypted_content"])
    } else {
        json!([])
    };

    let mut text = None;
    for (k, v) in oc {
        if v.is_null() {
            continue;
        }
        match k.as_str() {
            "format" if v.get("type").and_then(Value::as_str) == Some("json_schema") => {
                let schema = v.get("schema").cloned().unwrap_or_else(empty_schema);
                let format = object([
                    ("type", "json_schema".into()),
                    ("name", "output".into()),
                    ("schema", schema),
                    ("strict", Value::Bool(false)),
                ]);
                text = Some(object([("format", format)]));
                deg.push(
                    "output_config.format",
                    K::Approximated,
                    "structured output is requested non-strictly",
                );
            }
            _ => deg.push(
                format!("output_config.{k}"),
                K::Dropped,
                "not supported by the backend",
            ),
        }
    }
    (Value::Object(r), include, thinking_on, text)
}

/// The conversation key of a request: the client's session header, else the session inside
/// `metadata.user_id` (JSON form or the older `…_session_<uuid>` form). It keys the upstream
/// prompt cache and the sticky account choice, so one conversation stays on one account.
pub fn session_key(header: Option<&str>, request: &Value) -> Option<String> {
    header
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| session_from_metadata(request.get("metadata")))
}

/// Headers that name the client's conversation, in order of preference: Claude Code's, then
/// OpenCode's (`x-session-affinity` and `x-session-id` carry the same session id).
pub const SESSION_HEADERS: &[&str] = &[
    "x-claude-code-session-id",
    "x-session-affinity",
    "x-session-id",
];

/// The header of a Claude Code subagent's requests (absent on the main thread).
pub const AGENT_HEADER: &str = "x-claude-code-agent-id";

/// The key of a request's cache lineage and account affinity, from its headers (`header` looks
/// one up by lowercase name) and body: the conversation's [`session_key`] (any of
/// [`SESSION_HEADERS`]), made per agent for a subagent's requests ([`agent_session_key`]), so a
/// subagent never shares its parent's prompt-cache prefix or evicts it.
pub fn request_session<'a>(
    header: impl Fn(&str) -> Option<&'a str>,
    request: &Value,
) -> Option<String> {
    let named = SESSION_HEADERS
        .iter()
        .find_map(|h| header(h).map(str::trim).filter(|s| !s.is_empty()));
    let session = session_key(named, request)?;
    Some(
        match header(AGENT_HEADER)
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            Some(agent) => agent_session_key(&session, agent),
            None => session,
        },
    )
}

/// A subagent's key: a UUID-shaped digest of the conversation's key and the agent id (the
/// backend's cache keys are UUIDs), the same for every request of that agent.
pub fn agent_session_key(session: &str, agent: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{session}\n{agent}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    // RFC 9562 version 8 (custom) and variant bits.
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::hex::encode(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

pub(crate) fn session_from_metadata(metadata: Option<&Value>) -> Option<String> {
    let uid = metadata?.get("user_id")?.as_str()?;
    if uid.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(uid).ok()?;
        return v
            .get("session_id")?
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
    }
    let pos = uid.rfind("_session_")?;
    Some(&uid[pos + "_session_".len()..])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Message `i` walked alone (as the fast path does with a message it leaves to this one),
/// with the tool search state so far (which it updates): its items, each with where it
/// came from.
pub(crate) fn walk_message(
    i: usize,
    m: Value,
    opts: &RequestOptions,
    deg: &mut Degradations,
    search: &mut Option<tool_search::Search<'_>>,
) -> Result<Vec<(Value, Origin)>, RequestError> {
    let (mut items, mut origins) = (Vec::new(), Vec::new());
    let mut w = Walker {
        items: &mut items,
        origins: &mut origins,
        deg,
        opts,
        search: search.take(),
    };
    let walked = w.message(i, m);
    *search = w.search.take();
    walked?;
    Ok(items.into_iter().zip(origins).collect())
}

/// Where an input item came from, for degradations found after the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    None,
    /// `messages[i].content[j]`.
    Block(usize, usize),
}

impl Origin {
    /// The path a degradation names; empty for none.
    pub(crate) fn path(self) -> String {
        match self {
            Origin::None => String::new(),
            Origin::Block(i, j) => format!("messages[{i}].content[{j}]"),
        }
    }
}

struct Walker<'a, 't> {
    items: &'a mut Vec<Value>,
    origins: &'a mut Vec<Origin>,
    deg: &'a mut Degradations,
    opts: &'a RequestOptions,
    /// Client tool search on the backend's (§1.10), when it applies.
    search: Option<tool_search::Search<'t>>,
}

impl Walker<'_, '_> {
    fn push(&mut self, item: Value, origin: Origin) {
        self.items.push(item);
        self.origins.push(origin);
    }

    fn flush(&mut self, role: &str, parts: &mut Vec<Value>) {
        if !parts.is_empty() {
            let content = Value::Array(std::mem::take(parts));
            self.push(
                object([
                    ("type", "message".into()),
                    ("role", role.into()),
                    ("content", content),
                ]),
                Origin::None,
            );
        }
    }

    fn message(&mut self, i: usize, m: Value) -> Result<(), RequestError> {
        let Value::Object(mut m) = m else {
            return Err(RequestError::invalid(
                format!("messages.{i}"),
                "must be an object",
            ));
        };
        let role = take_str(&mut m, "role").unwrap_or_default();
        let blocks = match take_content(&mut m, i)? {
            Content::Text(s) => {
                if role_ok(&role) && !s.is_empty() {
                    let part = if role == "assistant" {
                        object([("type", "output_text".into()), ("text", Value::String(s))])
                    } else {
                        input_text(s)
                    };
                    let role = if role == "system" { "developer" } else { &role };
                    self.flush(role, &mut vec![part]);
                }
                if !role_ok(&role) {
                    return Err(bad_role(i));
                }
                return Ok(());
            }
            Content::Blocks(b) => b,
        };
        match role.as_str() {
            "user" => self.user(i, blocks),
            "assistant" => self.assistant(i, blocks),
            "system" => self.system(i, blocks),
            _ => Err(bad_role(i)),
        }
    }

    fn system(&mut self, i: usize, blocks: Vec<Value>) -> Result<(), RequestError> {
        let mut parts = Vec::new();
        for (j, b) in blocks.into_iter().enumerate() {
            let mut b = as_block(b, i, j)?;
            if block_type(&b) == Some("text") {
                parts.push(input_text(text_of(&mut b, i, j)?));
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
        self.flush("developer", &mut parts);
        Ok(())
    }

    fn user(&mut self, i: usize, blocks: Vec<Value>) -> Result<(), RequestError> {
        let mut parts = Vec::new();
        let had_content = !blocks.is_empty();
        let items_before = self.items.len();
        for (j, b) in blocks.into_iter().enumerate() {
            let mut b = as_block(b, i, j)?;
            let path = format!("messages[{i}].content[{j}]");
            let ty = block_type(&b).unwrap_or_default().to_owned();
            match ty.as_str() {
                "text" => parts.push(input_text(text_of(&mut b, i, j)?)),
                "image" => match image_part(&mut b) {
                    Some(p) => parts.push(p),
                    None => self.deg.push(
                        path,
                        K::Unsupported,
                        "image source not supported (only base64 and url)",
                    ),
                },
                "document" => {
                    if !document_parts(b, &mut parts, &path, self.deg) {
                        self.deg
                            .push(path, K::Unsupported, "document source not supported");
                    }
                }
                "search_result" => {
                    parts.push(input_text(search_result_text(&mut b, &path, self.deg)))
                }
                "tool_result" => {
                    self.flush("user", &mut parts);
                    let id = take_str(&mut b, "tool_use_id").ok_or_else(|| {
                        RequestError::invalid(
                            format!("messages.{i}.content.{j}.tool_use_id"),
                            "field required",
                        )
                    })?;
                    let is_error = b.get("is_error").and_then(Value::as_bool) == Some(true);
                    if let Some(search) = self.search.as_ref().filter(|s| s.answers(&id)) {
                        let content = b.shift_remove("content");
                        let items = search.output(&id, content, is_error, &path, self.deg);
                        for (k, item) in items.into_iter().enumerate() {
                            let origin = if k == 0 {
                                Origin::Block(i, j)
                            } else {
                                Origin::None
                            };
                            self.push(item, origin);
                        }
                        continue;
                    }
                    let output = self.tool_output(b.shift_remove("content"), is_error, &path);
                    self.push(
                        object([
                            ("type", "function_call_output".into()),
                            ("call_id", wire_call_id(&id).into()),
                            ("output", output),
                        ]),
                        Origin::Block(i, j),
                    );
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
        self.flush("user", &mut parts);
        if had_content && self.items.len() == items_before {
            return Err(nothing_sent(i));
        }
        Ok(())
    }

    fn tool_output(&mut self, content: Option<Value>, is_error: bool, path: &str) -> Value {
        let out = match tool_result_parts(content, path, self.deg) {
            ToolResult::Text(s) => Value::String(s),
            ToolResult::Parts(parts) => {
                if parts
                    .iter()
                    .any(|p| p.get("type").and_then(Value::as_str) == Some("input_image"))
                {
                    Value::Array(parts)
                } else {
                    Value::String(join_texts(parts))
                }
            }
        };
        if !is_error {
            return out;
        }
        self.deg.push(
            format!("{path}.is_error"),
            K::Approximated,
            IS_ERROR_PREFIXED,
        );
        match out {
            Value::String(s) if s.is_empty() => Value::String("Error".into()),
            Value::String(s) => Value::String(format!("Error: {s}")),
            Value::Array(mut parts) => {
                parts.insert(0, input_text("Error:".into()));
                Value::Array(parts)
            }
            other => other,
        }
    }

    fn assistant(&mut self, i: usize, blocks: Vec<Value>) -> Result<(), RequestError> {
        let mut parts = Vec::new();
        for (j, b) in blocks.into_iter().enumerate() {
            let mut b = as_block(b, i, j)?;
            let path = format!("messages[{i}].content[{j}]");
            let ty = block_type(&b).unwrap_or_default().to_owned();
            match ty.as_str() {
                "text" => {
                    let text = text_of(&mut b, i, j)?;
                    if !text.is_empty() {
                        parts.push(object([
                            ("type", "output_text".into()),
                            ("text", Value::String(text)),
                        ]));
                    }
                }
                "tool_use" => {
                    self.flush("assistant", &mut parts);
                    let field = |k: &str| format!("messages.{i}.content.{j}.{k}");
                    let id = take_str(&mut b, "id")
                        .ok_or_else(|| RequestError::invalid(field("id"), "field required"))?;
                    let name = take_str(&mut b, "name")
                        .ok_or_else(|| RequestError::invalid(field("name"), "field required"))?;
                    if let Some(item) = self
                        .search
                        .as_mut()
                        .and_then(|s| s.call(&name, &id, b.get("input")))
                    {
                        self.push(item, Origin::Block(i, j));
                        continue;
                    }
                    let arguments = match b.get("input") {
                        None | Some(Value::Null) => "{}".to_owned(),
                        Some(v) => serde_json::to_string(v).unwrap_or_else(|_| "{}".into()),
                    };
                    self.push(
                        object([
                            ("type", "function_call".into()),
                            ("name", wire_tool_name(&name).into()),
                            ("arguments", Value::String(arguments)),
                            ("call_id", wire_call_id(&id).into()),
                        ]),
                        Origin::Block(i, j),
                    );
                }
                "thinking" => {
                    self.flush("assistant", &mut parts);
                    match self.replay_reasoning(&mut b) {
                        Ok(item) => self.push(item, Origin::None),
                        Err(why) => self.deg.push(path, K::Dropped, why),
                    }
                }
                "redacted_thinking" => self.deg.push(
                    path,
                    K::Dropped,
                    "redacted thinking can only be read by Anthropic",
                ),
                t if t == "server_tool_use" || t.ends_with("_tool_result") => self.deg.push(
                    path,
                    K::Dropped,
                    "server tool history cannot be replayed to the backend",
                ),
                other => self.deg.push(
                    path,
                    K::Unsupported,
                    format!("content block `{other}` is not supported"),
                ),
            }
        }
        self.flush("assistant", &mut parts);
        Ok(())
    }

    fn replay_reasoning(&self, b: &mut Map<String, Value>) -> Result<Value, &'static str> {
        let sig = b.get("signature").and_then(Value::as_str).unwrap_or("");
        let text = b.get("thinking").and_then(Value::as_str).unwrap_or("");
        replayable(sig, self.opts).map(|env| reasoning_of(env, text))
    }
}

/// The envelope of a thinking block's `signature`, if its reasoning can be replayed here.
pub(crate) fn replayable(
    sig: &str,
    opts: &RequestOptions,
) -> Result<signature::Envelope, &'static str> {
    let env = signature::decode(sig).ok_or("signature is not one of this proxy's")?;
    if env.m != opts.upstream_model {
        return Err("reasoning came from another model");
    }
    if let (Some(a), Some(b)) = (&env.a, &opts.account_tag)
        && a != b
    {
        return Err("reasoning came from another account");
    }
    Ok(env)
}

/// The reasoning item of a replayable envelope and the block's thinking `text`.
pub(crate) fn reasoning_of(env: signature::Envelope, text: &str) -> Value {
    let parts: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        signature::split_parts(text, &env.p).unwrap_or_else(|| vec![text])
    };
    let summary: Vec<Value> = parts
        .into_iter()
        .map(|p| object([("type", "summary_text".into()), ("text", p.into())]))
        .collect();
    object([
        ("type", "reasoning".into()),
        ("summary", Value::Array(summary)),
        ("encrypted_content", env.e.into()),
    ])
}

/// A tool result's content before it takes an upstream shape.
pub(crate) enum ToolResult {
    /// A string content.
    Text(String),
    /// Block content as `input_text` / `input_image` parts, in order.
    Parts(Vec<Value>),
}

/// The texts of `input_text` parts joined with `\n`.
pub(crate) fn join_texts(parts: Vec<Value>) -> String {
    let texts: Vec<String> = parts
        .into_iter()
        .filter_map(|mut p| match p.get_mut("text").map(Value::take) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        })
        .collect();
    texts.join("\n")
}

/// A tool_result's `content` as parts; unsupported blocks are left out with a degradation.
pub(crate) fn tool_result_parts(
    content: Option<Value>,
    path: &str,
    deg: &mut Degradations,
) -> ToolResult {
    match content {
        None | Some(Value::Null) => ToolResult::Text(String::new()),
        Some(Value::String(s)) => ToolResult::Text(s),
        Some(Value::Array(blocks)) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (k, b) in blocks.into_iter().enumerate() {
                let Value::Object(mut b) = b else {
                    deg.push(
                        format!("{path}.content[{k}]"),
                        K::Unsupported,
                        "not a content block",
                    );
                    continue;
                };
                match block_type(&b) {
                    Some("text") => {
                        parts.push(input_text(take_str(&mut b, "text").unwrap_or_default()))
                    }
                    Some("tool_reference") => {
                        let name = b.get("tool_name").and_then(Value::as_str).unwrap_or("");
                        parts.push(input_text(format!("Tool {name} loaded.")));
                    }
                    Some("image") => match image_part(&mut b) {
                        Some(p) => parts.push(p),
                        None => deg.push(
                            format!("{path}.content[{k}]"),
                            K::Unsupported,
                            "image source not supported",
                        ),
                    },
                    other => deg.push(
                        format!("{path}.content[{k}]"),
                        K::Unsupported,
                        format!(
                            "`{}` in a tool result is not supported",
                            other.unwrap_or("?")
                        ),
                    ),
                }
            }
            ToolResult::Parts(parts)
        }
        Some(_) => {
            deg.push(
                format!("{path}.content"),
                K::Unsupported,
                "tool result content must be a string or blocks",
            );
            ToolResult::Text(String::new())
        }
    }
}

/// A message's `content`: a string, or its blocks; anything else is a request error.
pub(crate) enum Content {
    /// `"content": "…"`.
    Text(String),
    /// `"content": [blocks]`.
    Blocks(Vec<Value>),
}

/// Take message `i`'s `content` out of it.
pub(crate) fn take_content(m: &mut Map<String, Value>, i: usize) -> Result<Content, RequestError> {
    match m.shift_remove("content") {
        Some(Value::String(s)) => Ok(Content::Text(s)),
        Some(Value::Array(b)) => Ok(Content::Blocks(b)),
        Some(Value::Null) | None => Err(RequestError::invalid(
            format!("messages.{i}.content"),
            "field required",
        )),
        Some(_) => Err(RequestError::invalid(
            format!("messages.{i}.content"),
            "must be a string or an array of content blocks",
        )),
    }
}

/// A user message none of whose blocks could be converted (docs/CONVERSION.md §11.9): each
/// left a degradation, but answering a turn the model cannot see would be worse than a 400.
pub(crate) fn nothing_sent(i: usize) -> RequestError {
    RequestError::invalid(
        format!("messages[{i}]"),
        "none of its content can be sent upstream",
    )
}

pub(crate) fn role_ok(role: &str) -> bool {
    matches!(role, "user" | "assistant" | "system")
}

pub(crate) fn bad_role(i: usize) -> RequestError {
    RequestError::invalid(
        format!("messages.{i}.role"),
        "must be \"user\", \"assistant\" or \"system\"",
    )
}

pub(crate) fn as_block(b: Value, i: usize, j: usize) -> Result<Map<String, Value>, RequestError> {
    match b {
        Value::Object(b) if b.get("type").is_some_and(Value::is_string) => Ok(b),
        Value::Object(_) => Err(RequestError::invalid(
            format!("messages.{i}.content.{j}.type"),
            "field required",
        )),
        _ => Err(RequestError::invalid(
            format!("messages.{i}.content.{j}"),
            "must be an object",
        )),
    }
}

pub(crate) fn text_of(
    b: &mut Map<String, Value>,
    i: usize,
    j: usize,
) -> Result<String, RequestError> {
    take_str(b, "text").ok_or_else(|| {
        RequestError::invalid(format!("messages.{i}.content.{j}.text"), "field required")
    })
}

pub(crate) fn image_part(b: &mut Map<String, Value>) -> Option<Value> {
    let Some(Value::Object(mut src)) = b.shift_remove("source") else {
        return None;
    };
    let url = match src.get("type").and_then(Value::as_str)? {
        "base64" => {
            let media = take_str(&mut src, "media_type")?;
            let data = take_str(&mut src, "data")?;
            format!("data:{media};base64,{data}")
        }
        "url" => take_str(&mut src, "url")?,
        _ => return None,
    };
    Some(object([
        ("type", "input_image".into()),
        ("image_url", Value::String(url)),
    ]))
}

/// Appends a document's parts; false if its source is not supported. Blocks of a `content`
/// source that cannot be carried are left out with a degradation under `path`.
pub(crate) fn document_parts(
    mut b: Map<String, Value>,
    parts: &mut Vec<Value>,
    path: &str,
    deg: &mut Degradations,
) -> bool {
    let title = take_str(&mut b, "title");
    let Some(Value::Object(mut src)) = b.shift_remove("source") else {
        return false;
    };
    match src.get("type").and_then(Value::as_str).unwrap_or("") {
        "base64" => {
            let media =
                take_str(&mut src, "media_type").unwrap_or_else(|| "application/pdf".into());
            let Some(data) = take_str(&mut src, "data") else {
                return false;
            };
            parts.push(object([
                ("type", "input_file".into()),
                ("file_data", format!("data:{media};base64,{data}").into()),
                (
                    "filename",
                    title.unwrap_or_else(|| "document.pdf".into()).into(),
                ),
            ]));
        }
        "url" => {
            let Some(url) = take_str(&mut src, "url") else {
                return false;
            };
            parts.push(object([
                ("type", "input_file".into()),
                ("file_url", Value::String(url)),
            ]));
        }
        "text" => {
            let data = take_str(&mut src, "data").unwrap_or_default();
            let text = match title {
                Some(t) => format!("{t}\n\n{data}"),
                None => data,
            };
            parts.push(input_text(text));
        }
        "content" => match src.shift_remove("content") {
            Some(Value::String(s)) => parts.push(input_text(s)),
            Some(Value::Array(blocks)) => {
                for (k, b) in blocks.into_iter().enumerate() {
                    let here = || format!("{path}.source.content[{k}]");
                    let Value::Object(mut b) = b else {
                        deg.push(here(), K::Unsupported, "not a content block");
                        continue;
                    };
                    match block_type(&b) {
                        Some("text") => {
                            parts.push(input_text(take_str(&mut b, "text").unwrap_or_default()))
                        }
                        Some("image") => match image_part(&mut b) {
                            Some(p) => parts.push(p),
                            None => deg.push(here(), K::Unsupported, "image source not supported"),
                        },
                        other => deg.push(
                            here(),
                            K::Unsupported,
                            format!("`{}` in a document is not supported", other.unwrap_or("?")),
                        ),
                    }
                }
            }
            _ => return false,
        },
        _ => return false,
    }
    true
}

/// A search result as one text; its non-text blocks are left out with a degradation.
pub(crate) fn search_result_text(
    b: &mut Map<String, Value>,
    path: &str,
    deg: &mut Degradations,
) -> String {
    let title = take_str(b, "title").unwrap_or_default();
    let source = take_str(b, "source").unwrap_or_default();
    let mut texts: Vec<String> = Vec::new();
    if let Some(Value::Array(blocks)) = b.shift_remove("content") {
        for (k, mut c) in blocks.into_iter().enumerate() {
            let is_text = c.get("type").and_then(Value::as_str) == Some("text");
            match c.get_mut("text").map(Value::take) {
                Some(Value::String(s)) if is_text => texts.push(s),
                _ => deg.push(
                    format!("{path}.content[{k}]"),
                    K::Unsupported,
                    "only text blocks are carried from a search result",
                ),
            }
        }
    }
    format!("{title}\n{source}\n\n{}", texts.join("\n"))
}

fn item_type(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

fn is_call(ty: &str) -> bool {
    matches!(ty, "function_call" | "tool_search_call")
}

fn is_output(ty: &str) -> bool {
    matches!(ty, "function_call_output" | "tool_search_output")
}

fn call_id(v: &Value) -> &str {
    v.get("call_id").and_then(Value::as_str).unwrap_or("")
}

/// Every function_call needs its output and every output its call (docs/CONVERSION.md §1.4).
fn repair_pairs(items: &mut Vec<Value>, origins: &[Origin], deg: &mut Degradations) {
    let facts: Vec<PairFacts> = items
        .iter()
        .zip(origins)
        .map(|(item, &origin)| PairFacts {
            ty: item_type(item),
            turn_start: starts_turn(item),
            call_id: call_id(item),
            origin,
        })
        .collect();
    let Some(plan) = repair_plan(&facts, deg) else {
        return;
    };
    let mut old: Vec<Option<Value>> = std::mem::take(items).into_iter().map(Some).collect();
    for step in plan {
        let item = match step {
            Repair::Keep(k) => old[k].take(),
            Repair::Orphan(k) => old[k].take().map(orphan_as_message),
            Repair::Placeholder { call_id, search } => Some(placeholder(&call_id, search)),
        };
        items.extend(item);
    }
}

/// What [`repair_plan`] reads of an item.
pub(crate) struct PairFacts<'a> {
    pub(crate) ty: &'a str,
    /// A user or developer message: pending placeholders go before it.
    pub(crate) turn_start: bool,
    pub(crate) call_id: &'a str,
    /// Where the item came from, for the degradation.
    pub(crate) origin: Origin,
}

/// One item of the repaired list.
pub(crate) enum Repair {
    /// The item at this index, as it is.
    Keep(usize),
    /// The output at this index, whose call is missing, as a user message.
    Orphan(usize),
    /// A result for a call that has none.
    Placeholder { call_id: String, search: bool },
}

/// The repaired item list of items with `facts`, with its degradations; `None` if every call
/// has its output and every output its call.
pub(crate) fn repair_plan(facts: &[PairFacts], deg: &mut Degradations) -> Option<Vec<Repair>> {
    let calls: HashSet<&str> = facts
        .iter()
        .filter(|f| is_call(f.ty))
        .map(|f| f.call_id)
        .collect();
    let outputs: HashSet<&str> = facts
        .iter()
        .filter(|f| is_output(f.ty))
        .map(|f| f.call_id)
        .collect();
    if calls == outputs {
        return None;
    }
    let mut plan = Vec::with_capacity(facts.len() + 4);
    // Unanswered calls: (call id, whether it is a tool search call).
    let mut pending: Vec<(String, bool)> = Vec::new();
    let flush = |pending: &mut Vec<(String, bool)>, plan: &mut Vec<Repair>| {
        plan.extend(
            pending
                .drain(..)
                .map(|(call_id, search)| Repair::Placeholder { call_id, search }),
        );
    };
    for (k, f) in facts.iter().enumerate() {
        if f.turn_start {
            flush(&mut pending, &mut plan);
        }
        if is_call(f.ty) && !outputs.contains(f.call_id) {
            deg.push(
                f.origin.path(),
                K::Defaulted,
                "tool call without a result; a placeholder result was sent",
            );
            pending.push((f.call_id.to_owned(), f.ty == "tool_search_call"));
            plan.push(Repair::Keep(k));
        } else if f.ty == "function_call_output" && !calls.contains(f.call_id) {
            deg.push(
                f.origin.path(),
                K::Approximated,
                "tool result without its call; sent as a user message",
            );
            plan.push(Repair::Orphan(k));
        } else {
            plan.push(Repair::Keep(k));
        }
    }
    flush(&mut pending, &mut plan);
    Some(plan)
}

/// The result sent for a call that has none.
pub(crate) fn placeholder(call_id: &str, search: bool) -> Value {
    if search {
        tool_search::placeholder_output(call_id)
    } else {
        json!({
            "type": "function_call_output",
            "call_id": call_id,
            "output": "No result: the tool call was interrupted.",
        })
    }
}

/// A user or developer message item.
fn starts_turn(item: &Value) -> bool {
    item_type(item) == "message"
        && matches!(
            item.get("role").and_then(Value::as_str),
            Some("user" | "developer")
        )
}

pub(crate) fn orphan_as_message(mut item: Value) -> Value {
    let id = call_id(&item).to_owned();
    let mut texts = Vec::new();
    let mut images = Vec::new();
    match item.get_mut("output").map(Value::take) {
        Some(Value::String(s)) => texts.push(s),
        Some(Value::Array(parts)) => {
            for mut p in parts {
                if item_type(&p) == "input_image" {
                    images.push(p);
                } else if let Some(Value::String(s)) = p.get_mut("text").map(Value::take) {
                    texts.push(s);
                }
            }
        }
        _ => {}
    }
    let mut content = vec![input_text(format!(
        "Result of tool call {id}:\n{}",
        texts.join("\n")
    ))];
    content.extend(images);
    object([
        ("type", "message".into()),
        ("role", "user".into()),
        ("content", Value::Array(content)),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn patterns_python_cannot_compile() {
        for bad in [
            r"[^\p{Cc}]",
            r"\P{L}",
            r"(?<year>\d{4})",
            r"(?<y>a)\k<y>",
            r"\u{1F600}",
        ] {
            assert!(!python_compatible(bad), "{bad}");
        }
        for good in [
            r"^[a-z]+$",
            r"(?<=a)b",
            r"(?<!a)b",
            r"(?P<y>a)",
            r"\\p",
            r"^(?!__.*__$).+",
        ] {
            assert!(python_compatible(good), "{good}");
        }
    }

    use super::*;

    #[test]
    fn clamp() {
        let allowed: Vec<String> = ["low", "medium", "high", "xhigh"]
            .map(String::from)
            .to_vec();
        assert_eq!(clamp_effort("max", &allowed), "xhigh");
        assert_eq!(clamp_effort("minimal", &allowed), "low");
        assert_eq!(clamp_effort("high", &allowed), "high");
        assert_eq!(clamp_effort("weird", &allowed), "low");
    }
}
