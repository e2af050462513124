//! The Codex WebSocket's decisions (`proxy_core::continuation`, CONVERSION §12): any body,
//! frames and next body never panic, and what is decided holds: a split body's full
//! `response.create` message carries every field and item of the body as they were (the
//! transport's `stream`/`background` and the message's own `type`/`previous_response_id`
//! aside), an append is only ever proposed for a next body
//! that starts with every item of the last one and has items after them, and its message
//! carries exactly those later items after the previous response's id.
//!
//! Input: NUL-separated parts: the first body, the frames of its turn, the next body (the
//! last part). Bodies and frames are JSON text in the seeds; any bytes are tried.

#![no_main]

use libfuzzer_sys::fuzz_target;
use proxy_core::continuation::{Body, Frame, Plan, Turn, frame_headers, message, plan};
use serde_json::Value;

/// The body as a JSON object, the way the backend reads it (the last of duplicate keys wins).
fn object(bytes: &[u8]) -> serde_json::Map<String, Value> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(o)) => o,
        other => panic!("a split body is an object: {other:?}"),
    }
}

/// The body as the oracle reads it; `None` when serde_json's `Value` cannot hold it (a number
/// out of `f64`'s range passes the raw split but not a `Value`: no oracle then).
fn readable(bytes: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(o)) => Some(o),
        _ => None,
    }
}

fn check_full(bytes: &[u8], body: &Body<'_>, lite: bool) {
    let Some(mut want) = readable(bytes) else {
        return;
    };
    let msg = message(body, &Plan::Full { why: String::new() }, lite);
    let mut got = object(msg.as_bytes());
    assert_eq!(got.remove("type"), Some(Value::String("response.create".into())));
    for k in ["stream", "background", "type", "previous_response_id"] {
        want.remove(k);
    }
    if lite && !want.contains_key("client_metadata") {
        assert!(got.remove("client_metadata").is_some(), "the Lite profile is said");
    }
    assert_eq!(got, want, "a full message is the body");
}

fuzz_target!(|data: &[u8]| {
    let parts: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let (first, rest) = parts.split_first().expect("split yields one part at least");
    let next = rest.last().copied().unwrap_or(b"");
    let frames = &rest[..rest.len().saturating_sub(1)];
    for f in frames {
        let _ = frame_headers(f);
    }
    let Some(body) = Body::parse(first) else {
        return;
    };
    check_full(first, &body, data.len() % 2 == 0);
    let mut turn = Turn::default();
    let mut last = false;
    for f in frames {
        last |= turn.frame(f) == Frame::Last;
    }
    let sent = body.sent();
    let items = body.items();
    let chain = turn.chain(sent);
    assert!(chain.is_none() || last, "a chain only after a completed turn");
    let Some(nb) = Body::parse(next) else {
        return;
    };
    let nsent = nb.sent();
    match plan(chain.as_ref(), &nb, &nsent) {
        Plan::Full { .. } => {}
        Plan::Append {
            previous_response_id,
            from,
        } => {
            assert!(from >= items && from < nb.items(), "{from} of {}", nb.items());
            let Some(mut next_obj) = readable(next) else {
                return;
            };
            let p = Plan::Append {
                previous_response_id: previous_response_id.clone(),
                from,
            };
            let msg = object(message(&nb, &p, false).as_bytes());
            assert_eq!(
                msg.get("previous_response_id"),
                Some(&Value::String(previous_response_id))
            );
            let all = next_obj
                .remove("input")
                .and_then(|v| v.as_array().cloned())
                .expect("input");
            assert_eq!(msg.get("input"), Some(&Value::Array(all[from..].to_vec())));
        }
    }
});
