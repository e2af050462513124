//! Anthropic Messages → Codex Responses (`convert_request`) on arbitrary bytes: never a
//! panic; an `Ok` body is a JSON object for the routed model with an `input` array that
//! serializes and re-parses to itself; an `Err` says something (and is the JSON error when the
//! bytes are not JSON); the bytes and the parsed-value entry points agree; and a request the
//! validator (`validate_messages`) accepts converts, or fails only with the one error a
//! validated request may still get (docs/CONVERSION.md §11.9).
//!
//! Input: the request body.

#![no_main]

use fuzz_support::{check_degradations, check_error, is_empty_message_error, json_round_trips};
use libfuzzer_sys::fuzz_target;
use proxy_core::{RequestError, RequestOptions, convert_request, convert_request_value, validate_messages};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let opts = RequestOptions::new("gpt-5.5");
    let r = convert_request(data, &opts);
    let parsed = serde_json::from_slice::<Value>(data);
    match &r {
        Ok(c) => {
            // The bytes the host sends, read back (the fast path keeps the history's items
            // as text, outside `body`).
            let sent: Value = serde_json::from_slice(&c.value.to_json()).expect("to_json is JSON");
            let Value::Object(body) = &sent else { panic!("to_json is not an object") };
            json_round_trips(body, "codex body");
            assert_eq!(body.get("model").and_then(Value::as_str), Some("gpt-5.5"), "model");
            assert!(body.get("input").is_some_and(Value::is_array), "input is not an array");
            assert!(!c.value.to_json().is_empty(), "to_json is empty");
            check_degradations(&c.degradations, "convert_request");
            // Stripping replayed reasoning leaves a body that still round-trips.
            let mut stripped = c.value.clone();
            let n = stripped.strip_reasoning();
            let before = body.get("input").and_then(Value::as_array).map_or(0, Vec::len);
            let stripped: Value = serde_json::from_slice(&stripped.to_json()).expect("json");
            let after = stripped.get("input").and_then(Value::as_array).map_or(0, Vec::len);
            assert_eq!(before - n, after, "strip_reasoning count");
            assert!(parsed.is_ok(), "converted bytes that are not JSON");
        }
        Err(e) => {
            check_error(e, "convert_request");
            if parsed.is_err() {
                assert!(matches!(e, RequestError::Json(_)), "non-JSON bytes gave {e:?}");
            }
        }
    }
    let Ok(value) = parsed else { return };
    let rv = convert_request_value(value.clone(), &opts);
    match (&r, &rv) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.value.to_json(), b.value.to_json(), "bytes and value paths differ");
            assert_eq!(a.degradations, b.degradations, "bytes and value paths degrade differently");
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "bytes and value paths fail differently"),
        _ => panic!("bytes and value paths disagree: {:?} vs {:?}", r.is_ok(), rv.is_ok()),
    }
    match validate_messages(&value) {
        Ok(()) => {
            if let Err(e) = &r {
                assert!(is_empty_message_error(e), "validated request failed to convert: {e}");
            }
        }
        Err(e) => check_error(&e, "validate_messages"),
    }
    // Other options: an account tag, a session id, a narrower effort list.
    let mut other = RequestOptions::new("gpt-5.4-mini");
    other.account_tag = Some("acct".into());
    other.session_id = Some("sess-1".into());
    other.effort = "high".into();
    other.efforts = vec!["low".into(), "medium".into()];
    match convert_request_value(value, &other) {
        Ok(c) => json_round_trips(&c.value.body, "codex body (other options)"),
        Err(e) => check_error(&e, "convert_request (other options)"),
    }
});
