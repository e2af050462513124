//! The ~400 KB request that the core bench (`core.rs`) and `proxy-load --perf` both measure:
//! the two large Claude Code vectors' histories joined, 12 real tools. Both include this file
//! by path, so that the two figures are of the same bytes.

use serde_json::Value;
use std::path::Path;

/// The request, from `vectors` (the `tests/vectors/request` folder).
pub fn large_request(vectors: &Path) -> Value {
    let load = |name: &str| -> Value {
        let text = std::fs::read_to_string(vectors.join(name)).expect("vector");
        serde_json::from_str::<Value>(&text).expect("json")["request"].clone()
    };
    let mut a = load("b_cc_large_tool_history.json");
    let b = load("b_cc_large_thinking_history.json");
    let extra = b["messages"].as_array().cloned().unwrap_or_default();
    let msgs = a["messages"].as_array_mut().expect("messages");
    for m in extra {
        if serde_json::to_vec(&*msgs).map_or(0, |v| v.len()) > 390_000 {
            break;
        }
        msgs.push(m);
    }
    a
}
