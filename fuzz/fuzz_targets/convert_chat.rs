//! Anthropic Messages → Chat Completions (`convert_chat_request`) on arbitrary bytes: never a
//! panic; an `Ok` body is a JSON object for the provider's model with a `messages` array that
//! serializes and re-parses to itself; an `Err` says something; the bytes and the parsed-value
//! entry points agree; a request `validate_messages` accepts converts, or fails only with the
//! one error a validated request may still get (docs/CONVERSION.md §11.9).
//!
//! Input: the request body.

#![no_main]

use fuzz_support::{check_degradations, check_error, is_empty_message_error, json_round_trips};
use libfuzzer_sys::fuzz_target;
use proxy_core::{ChatOptions, RequestError, convert_chat_request, convert_chat_request_value, validate_messages};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let opts = ChatOptions::new("kilo-auto/free");
    let r = convert_chat_request(data, &opts);
    let parsed = serde_json::from_slice::<Value>(data);
    match &r {
        Ok(c) => {
            // The bytes the host sends, read back (the fast path keeps the history's
            // messages as text, outside `body`).
            let sent: Value = serde_json::from_slice(&c.value.to_json()).expect("to_json is JSON");
            let Value::Object(body) = &sent else { panic!("to_json is not an object") };
            json_round_trips(body, "chat body");
            assert_eq!(body.get("model").and_then(Value::as_str), Some("kilo-auto/free"), "model");
            assert!(body.get("messages").is_some_and(Value::is_array), "messages is not an array");
            assert!(!c.value.to_json().is_empty(), "to_json is empty");
            check_degradations(&c.degradations, "convert_chat_request");
            assert!(parsed.is_ok(), "converted bytes that are not JSON");
        }
        Err(e) => {
            check_error(e, "convert_chat_request");
            if parsed.is_err() {
                assert!(matches!(e, RequestError::Json(_)), "non-JSON bytes gave {e:?}");
            }
        }
    }
    let Ok(value) = parsed else { return };
    let rv = convert_chat_request_value(value.clone(), &opts);
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
    // The other provider styles.
    for (field, style) in [("max_completion_tokens", "openai"), ("max_tokens", "none")] {
        let mut o = ChatOptions::new("provider/model");
        o.max_tokens_field = field.into();
        o.reasoning_style = style.into();
        match convert_chat_request_value(value.clone(), &o) {
            Ok(c) => json_round_trips(&c.value.body, "chat body (other style)"),
            Err(e) => check_error(&e, "convert_chat_request (other style)"),
        }
    }
});
