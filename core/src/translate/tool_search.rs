//! Claude Code's client-side tool search on the backend's client-executed tool search
//! (docs/CONVERSION.md §1.10, codex.md §9.6).
//!
//! Claude Code keeps most tools out of the model's view (`defer_loading:true`) and finds them
//! with its own tool `ToolSearch`, whose result names the tools found (`tool_reference`
//! blocks). Sending deferred tools eagerly costs every turn the whole tool list and loses the
//! model's own search; the backend has the same mechanism natively, so where the model
//! supports it the search tool becomes a `tool_search` declaration, deferred tools stay
//! deferred, and the search's history becomes `tool_search_call` / `tool_search_output` items
//! carrying the found tools' definitions.

use crate::degrade::{DegradationKind as K, Degradations};
use crate::translate::names::{ToolNames, wire_call_id, wire_tool_name};
use crate::translate::object;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// Claude Code's client tool search tool.
pub(crate) const SEARCH_TOOL: &str = "ToolSearch";

/// What the request's raw tool list says, read before the conversion consumes it.
pub(crate) struct Plan {
    /// The request's tool names by index (degradation paths are by index).
    names: Vec<Option<String>>,
    /// The search tool's name.
    search: String,
}

/// Whether §1.10 applies to a request with these raw `tools`, for a model that runs client
/// tool search (`enabled`).
pub(crate) fn plan(enabled: bool, tools: Option<&Value>) -> Option<Plan> {
    if !enabled {
        return None;
    }
    let list = tools?.as_array()?;
    let is_search = |t: &Value| {
        t.get("name").and_then(Value::as_str) == Some(SEARCH_TOOL)
            && matches!(t.get("type").and_then(Value::as_str), None | Some("custom"))
            && t.get("input_schema")
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get("query"))
                .is_some()
    };
    if !list.iter().any(is_search) {
        return None;
    }
    let names = list
        .iter()
        .map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    Some(Plan {
        names,
        search: SEARCH_TOOL.to_owned(),
    })
}

/// The tool search state of one request's conversion, over its converted tool list.
pub(crate) struct Search<'t> {
    /// The search tool's client name.
    name: String,
    /// Converted tools by wire name, as sent (what a search result lists); borrowed, since
    /// a Claude Code list is tens of kilobytes of schemas and few results name any.
    sent: HashMap<String, &'t Value>,
    /// Wire call ids of the search calls in the history so far.
    calls: HashSet<String>,
}

/// Rewrite the converted tool list for §1.10: the search tool becomes the `tool_search`
/// declaration, and every request tool that §1.5 sent eagerly despite `defer_loading` (its
/// `approximated` degradation says so) is sent deferred instead. `None`, and nothing changed,
/// when a tool change took the search tool out: deferred tools with nothing to find them
/// would be unreachable (and the backend refuses them). `Some` is the search tool's name,
/// for `Search::new` over the rewritten list.
pub(crate) fn apply(
    plan: Plan,
    tools: &mut [Value],
    names: &mut ToolNames,
    deg: &mut Degradations,
) -> Option<String> {
    let search_wire = wire_tool_name(&plan.search).into_owned();
    let sent = tools
        .iter()
        .any(|t| t.get("name").and_then(Value::as_str) == Some(search_wire.as_str()));
    if !sent {
        return None;
    }
    let mut deferred: HashSet<String> = HashSet::new();
    deg.0.retain(|d| {
        let index = d
            .path
            .strip_prefix("tools[")
            .and_then(|r| r.strip_suffix("].defer_loading"))
            .and_then(|i| i.parse::<usize>().ok());
        match index.and_then(|i| plan.names.get(i).cloned().flatten()) {
            Some(name) => {
                deferred.insert(wire_tool_name(&name).into_owned());
                false
            }
            None => true,
        }
    });
    for t in tools.iter_mut() {
        let Value::Object(o) = t else { continue };
        let Some(wire) = o.get("name").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        if wire == search_wire {
            let description = o.get("description").cloned().unwrap_or_default();
            *t = json!({
                "type": "tool_search",
                "execution": "client",
                "description": description,
                "parameters": {"type": "object",
                               "properties": {"query": {"type": "string"},
                                              "limit": {"type": "integer"}},
                               "required": ["query"]},
            });
        } else if deferred.contains(&wire) {
            o.insert("defer_loading".into(), Value::Bool(true));
        }
    }
    names.set_search_tool(plan.search.clone());
    Some(plan.search)
}

impl<'t> Search<'t> {
    /// The state for search tool `name` (from `apply`) over the converted `tools`.
    pub(crate) fn new(name: String, tools: &'t [Value]) -> Self {
        let sent = tools
            .iter()
            .filter(|t| t.get("type").and_then(Value::as_str) == Some("function"))
            .filter_map(|t| Some((t.get("name")?.as_str()?.to_owned(), t)))
            .collect();
        Search {
            name,
            sent,
            calls: HashSet::new(),
        }
    }

    /// A `tool_choice` that forces the search tool: the backend's tool search has no forced
    /// form, so the model is made to call some tool (`"required"`).
    pub(crate) fn choice(&self, choice: Value, deg: &mut Degradations) -> Value {
        let forced = choice.get("type").and_then(Value::as_str) == Some("function")
            && choice.get("name").and_then(Value::as_str)
                == Some(wire_tool_name(&self.name).as_ref());
        if !forced {
            return choice;
        }
        deg.push(
            "tool_choice",
            K::Approximated,
            "the backend's tool search cannot be forced; a tool call is required instead",
        );
        Value::String("required".into())
    }

    /// Whether `name` is the client's search tool.
    pub(crate) fn is_search_tool(&self, name: &str) -> bool {
        name == self.name
    }

    /// The input item for an assistant `tool_use` of the search tool, or `None` when the call
    /// is of another tool.
    pub(crate) fn call(&mut self, name: &str, id: &str, input: Option<&Value>) -> Option<Value> {
        if !self.is_search_tool(name) {
            return None;
        }
        let call_id = wire_call_id(id).into_owned();
        self.calls.insert(call_id.clone());
        let arguments = renamed(input, "max_results", "limit");
        Some(object([
            ("type", "tool_search_call".into()),
            ("call_id", Value::String(call_id)),
            ("execution", "client".into()),
            ("arguments", arguments),
        ]))
    }

    /// Whether a `tool_result` for `id` answers a search call of the history.
    pub(crate) fn answers(&self, id: &str) -> bool {
        self.calls.contains(wire_call_id(id).as_ref())
    }

    /// The items for a search call's result: the `tool_search_output` with the tools it names,
    /// then the result's text as a user message, if any.
    pub(crate) fn output(
        &self,
        id: &str,
        content: Option<Value>,
        is_error: bool,
        path: &str,
        deg: &mut Degradations,
    ) -> Vec<Value> {
        let mut found: Vec<Value> = Vec::new();
        let mut listed: HashSet<String> = HashSet::new();
        let mut texts: Vec<String> = Vec::new();
        match content {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => texts.extend(Some(s).filter(|s| !s.is_empty())),
            Some(Value::Array(blocks)) => {
                for (k, b) in blocks.into_iter().enumerate() {
                    let at = format!("{path}.content[{k}]");
                    match b.get("type").and_then(Value::as_str) {
                        Some("tool_reference") => {
                            let name = b.get("tool_name").and_then(Value::as_str).unwrap_or("");
                            let wire = wire_tool_name(name).into_owned();
                            match self.sent.get(&wire) {
                                Some(def) => {
                                    if listed.insert(wire) {
                                        found.push((*def).clone());
                                    }
                                }
                                None => deg.push(
                                    at,
                                    K::Dropped,
                                    format!("tool `{name}` is not among the tools sent"),
                                ),
                            }
                        }
                        Some("text") => texts.push(
                            b.get("text")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                        other => deg.push(
                            at,
                            K::Unsupported,
                            format!(
                                "`{}` in a tool search result is not supported",
                                other.unwrap_or("?")
                            ),
                        ),
                    }
                }
            }
            Some(_) => deg.push(
                format!("{path}.content"),
                K::Unsupported,
                "a tool search result's content must be a string or blocks",
            ),
        }
        let mut items = vec![object([
            ("type", "tool_search_output".into()),
            ("call_id", wire_call_id(id).into()),
            ("status", "completed".into()),
            ("execution", "client".into()),
            ("tools", Value::Array(found)),
        ])];
        if is_error {
            deg.push(
                format!("{path}.is_error"),
                K::Approximated,
                "the backend has no error flag; the output is prefixed with `Error`",
            );
            match texts.first_mut() {
                Some(t) => *t = format!("Error: {t}"),
                None => texts.push("Error".into()),
            }
        }
        if !texts.is_empty() {
            let parts: Vec<Value> = texts
                .into_iter()
                .map(|t| object([("type", "input_text".into()), ("text", Value::String(t))]))
                .collect();
            items.push(object([
                ("type", "message".into()),
                ("role", "user".into()),
                ("content", Value::Array(parts)),
            ]));
        }
        items
    }
}

/// The placeholder answer of a search call whose result is missing (§1.4's repair).
pub(crate) fn placeholder_output(call_id: &str) -> Value {
    json!({"type": "tool_search_output", "call_id": call_id, "status": "completed",
           "execution": "client", "tools": []})
}

/// A model's `tool_search_call` arguments as the client search tool's input (`limit` →
/// `max_results`), as compact JSON text.
pub(crate) fn call_input(arguments: Option<&Value>) -> String {
    renamed(arguments, "limit", "max_results").to_string()
}

/// `v` as an object with key `from` renamed `to` in its place; not an object → `{}`.
fn renamed(v: Option<&Value>, from: &str, to: &str) -> Value {
    let Some(Value::Object(o)) = v else {
        return Value::Object(Map::new());
    };
    Value::Object(
        o.iter()
            .map(|(k, v)| (if k == from { to.to_owned() } else { k.clone() }, v.clone()))
            .collect(),
    )
}
