//! Tool names and call ids the backend accepts, reversibly.
//!
//! The backend takes function names matching `^[a-zA-Z0-9_-]{1,64}$` and call ids of at most
//! 64 characters; MCP tools in Claude Code can be longer. An offending name becomes its
//! sanitized first 55 characters + `_` + 8 hex digits of SHA-256 of the original: stable
//! across turns (the same function maps history, tool list and tool_choice) and mapped back
//! by [`ToolNames`] on the way out.

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashMap;

const MAX_LEN: usize = 64;
const KEEP: usize = 55;

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn hashed(sanitized: impl Iterator<Item = char>, original: &str) -> String {
    let digest = Sha256::digest(original.as_bytes());
    let mut out: String = sanitized.take(KEEP).collect();
    out.push('_');
    crate::hex::push(&mut out, &digest[..4]);
    out
}

/// The name sent upstream for a client tool name.
pub fn wire_tool_name(name: &str) -> Cow<'_, str> {
    if is_valid_name(name) {
        return Cow::Borrowed(name);
    }
    Cow::Owned(hashed(sanitized(name), name))
}

/// Each character outside `[a-zA-Z0-9_-]` replaced by `_`.
fn sanitized(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '_'
        }
    })
}

/// The call id sent upstream for a client tool_use id: one of at most 64 characters as it is,
/// a longer one shortened like a tool name (docs/CONVERSION.md §1.4).
pub fn wire_call_id(id: &str) -> Cow<'_, str> {
    if id.chars().count() <= MAX_LEN {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(hashed(sanitized(id), id))
    }
}

/// Maps wire names back to the client's names, for one request's tool list.
#[derive(Debug, Clone, Default)]
pub struct ToolNames {
    back: HashMap<String, String>,
    /// The client's tool search tool, when it went upstream as the backend's own
    /// (docs/CONVERSION.md §1.10): a `tool_search_call` comes back as a call of it.
    search: Option<String>,
}

impl ToolNames {
    /// Build from the client's tool names (only renamed ones are stored).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let back = names
            .into_iter()
            .filter_map(|n| match wire_tool_name(n) {
                Cow::Owned(w) => Some((w, n.to_owned())),
                Cow::Borrowed(_) => None,
            })
            .collect();
        Self { back, search: None }
    }

    /// The client's tool search tool, if §1.10 applied.
    pub fn search_tool(&self) -> Option<&str> {
        self.search.as_deref()
    }

    /// Name the client's tool search tool (§1.10).
    pub fn set_search_tool(&mut self, name: String) {
        self.search = Some(name);
    }

    /// The client's name for a name the upstream used.
    pub fn original<'a>(&'a self, wire: &'a str) -> &'a str {
        self.back.get(wire).map_or(wire, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass_through() {
        assert_eq!(wire_tool_name("Bash"), "Bash");
        assert_eq!(
            wire_tool_name("mcp__github__create-issue"),
            "mcp__github__create-issue"
        );
    }

    #[test]
    fn long_and_odd_names_are_shortened_and_reversible() {
        let long = "mcp__".to_owned() + &"x".repeat(80);
        let w = wire_tool_name(&long).into_owned();
        assert_eq!(w.len(), 64);
        assert!(is_valid_name(&w));
        let dotted = "server.tool";
        let w2 = wire_tool_name(dotted).into_owned();
        assert!(w2.starts_with("server_tool_"));
        let names = ToolNames::new([long.as_str(), dotted, "Bash"]);
        assert_eq!(names.original(&w), long);
        assert_eq!(names.original(&w2), dotted);
        assert_eq!(names.original("Bash"), "Bash");
    }
}
