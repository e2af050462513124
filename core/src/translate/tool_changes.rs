//! Mid-conversation tool changes (docs/CONVERSION.md §1.5): Claude Code's `tool_addition` /
//! `tool_removal` blocks in `role:"system"` messages, folded in message order into the tool
//! list that goes upstream. The backend has no such blocks; what it can have is the resulting
//! tool set of this turn.

use crate::degrade::{DegradationKind as K, Degradations};
use crate::error::RequestError;
use crate::translate::names::{ToolNames, wire_tool_name};
use crate::translate::request::{ToolShape, tools};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Whether a content block is a tool change (carried by [`convert_tools`], not as input).
pub(crate) fn is_tool_change(block: &Map<String, Value>) -> bool {
    matches!(
        block.get("type").and_then(Value::as_str),
        Some("tool_addition" | "tool_removal")
    )
}

/// A tool's state after the changes so far.
enum State {
    /// From the request's `tools`.
    Request,
    /// Defined by a `tool_definition` (the definition, its block's path, the change's rank).
    Defined(Value, String, usize),
    Removed,
}

/// The request's `tools` with the conversation's tool changes applied, converted for `shape`.
pub(crate) fn convert_tools(
    raw: Option<Value>,
    messages: &[Value],
    shape: ToolShape,
    deg: &mut Degradations,
) -> Result<(Vec<Value>, ToolNames), RequestError> {
    let changes = changes(messages);
    if changes.is_empty() {
        return tools(raw, shape, deg);
    }
    let mut raw = match raw {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(RequestError::invalid("tools", "must be an array")),
    };
    let name_of = |t: &Value| t.get("name").and_then(Value::as_str).map(str::to_owned);
    let request_names: Vec<Option<String>> = raw.iter().map(name_of).collect();
    let mut state: HashMap<String, State> = request_names
        .iter()
        .flatten()
        .map(|n| (n.clone(), State::Request))
        .collect();
    let mut referenced: Vec<String> = Vec::new();
    // Definitions seen, so a reference after a removal can bring one back.
    let mut defined: HashMap<String, (Value, String, usize)> = HashMap::new();
    for (rank, c) in changes.into_iter().enumerate() {
        match c {
            Change::Remove(name) => {
                state.insert(name, State::Removed);
            }
            Change::Reference(name, path) => {
                if request_names.iter().flatten().any(|n| *n == name) {
                    state.insert(name.clone(), State::Request);
                    referenced.push(name);
                } else if let Some((d, p, r)) = defined.get(&name) {
                    state.insert(name, State::Defined(d.clone(), p.clone(), *r));
                } else {
                    deg.push(
                        path,
                        K::Dropped,
                        format!("tool `{name}` is not among the request's tools"),
                    );
                }
            }
            Change::Define(name, definition, path) => {
                defined.insert(name.clone(), (definition.clone(), path.clone(), rank));
                state.insert(name, State::Defined(definition, path, rank));
            }
        }
    }
    // A referenced tool is loaded because the client asked: its deferral is honoured.
    for t in &mut raw {
        if let (Some(n), Value::Object(o)) = (name_of(t), &mut *t)
            && referenced.contains(&n)
        {
            o.shift_remove("defer_loading");
        }
    }
    let all_names: Vec<String> = request_names
        .iter()
        .flatten()
        .cloned()
        .chain(defined.keys().cloned())
        .collect();
    // The request's tools keep their indices (degradation paths); the ones not sent now are
    // taken out of the converted list, with their degradations.
    let gone: Vec<usize> = request_names
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            n.as_ref()
                .is_some_and(|n| !matches!(state.get(n), Some(State::Request)))
        })
        .map(|(i, _)| i)
        .collect();
    let mut own = Degradations::default();
    let (converted, _) = tools(Some(Value::Array(raw)), shape, &mut own)?;
    for d in own.0 {
        let about_gone = gone.iter().any(|i| {
            let p = format!("tools[{i}]");
            d.path == p || d.path.starts_with(&format!("{p}."))
        });
        if !about_gone {
            deg.0.push(d);
        }
    }
    let gone_wire: Vec<String> = gone
        .iter()
        .filter_map(|&i| request_names[i].as_deref())
        .map(|n| wire_tool_name(n).into_owned())
        .collect();
    let mut out: Vec<Value> = converted
        .into_iter()
        .filter(|t| !gone_wire.iter().any(|w| wire_of(t) == Some(w.as_str())))
        .collect();
    // Definitions in force, in the order they were made.
    let mut defs: Vec<(usize, Value, String)> = state
        .into_values()
        .filter_map(|s| match s {
            State::Defined(d, p, rank) => Some((rank, d, p)),
            _ => None,
        })
        .collect();
    defs.sort_by_key(|d| d.0);
    for (_, definition, path) in defs {
        let mut own = Degradations::default();
        let (mut one, _) = tools(Some(Value::Array(vec![definition])), shape, &mut own)
            .map_err(|e| RequestError::invalid(format!("{path}.tool.definition"), e.to_string()))?;
        for mut d in own.0 {
            d.path = d
                .path
                .replacen("tools[0]", &format!("{path}.tool.definition"), 1);
            deg.0.push(d);
        }
        out.append(&mut one);
    }
    Ok((out, ToolNames::new(all_names.iter().map(String::as_str))))
}

/// The wire name of a converted tool (Responses or Chat shape).
fn wire_of(t: &Value) -> Option<&str> {
    t.get("name")
        .or_else(|| t.get("function").and_then(|f| f.get("name")))
        .and_then(Value::as_str)
}

enum Change {
    Remove(String),
    Reference(String, String),
    Define(String, Value, String),
}

/// The tool changes of every system message, in order, with their block paths.
fn changes(messages: &[Value]) -> Vec<Change> {
    let mut out = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if m.get("role").and_then(Value::as_str) != Some("system") {
            continue;
        }
        let Some(blocks) = m.get("content").and_then(Value::as_array) else {
            continue;
        };
        for (j, b) in blocks.iter().enumerate() {
            let path = format!("messages[{i}].content[{j}]");
            let tool = b.get("tool");
            let name = tool
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let kind = tool.and_then(|t| t.get("type")).and_then(Value::as_str);
            match (b.get("type").and_then(Value::as_str), kind) {
                (Some("tool_removal"), _) => {
                    if let Some(n) = name {
                        out.push(Change::Remove(n));
                    }
                }
                (Some("tool_addition"), Some("tool_definition")) => {
                    if let Some(d) = tool.and_then(|t| t.get("definition"))
                        && let Some(n) = d.get("name").and_then(Value::as_str)
                    {
                        out.push(Change::Define(n.to_owned(), d.clone(), path));
                    }
                }
                (Some("tool_addition"), _) => {
                    if let Some(n) = name {
                        out.push(Change::Reference(n, path));
                    }
                }
                _ => {}
            }
        }
    }
    out
}
