//! OpenAI Chat Completions request → Anthropic Messages (`convert_openai_request`) on
//! arbitrary bytes: never a panic; an `Ok` value is a JSON object with a `messages` array that
//! serializes and re-parses to itself; an `Err` says something; a request
//! `validate_chat_completions` accepts always converts (as the exchange relies on), and what
//! it converts to goes on through both Anthropic conversions without a panic.
//!
//! Input: the request body.

#![no_main]

use fuzz_support::{check_degradations, check_error, json_round_trips};
use libfuzzer_sys::fuzz_target;
use proxy_core::{
    ChatOptions, RequestError, RequestOptions, convert_chat_request_value, convert_openai_request,
    convert_openai_request_value, convert_request_value, openai_request_error,
    validate_chat_completions, validate_messages,
};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let r = convert_openai_request(data);
    let parsed = serde_json::from_slice::<Value>(data);
    match &r {
        Ok(c) => {
            let Value::Object(body) = &c.value else {
                panic!("converted request is not an object: {}", c.value);
            };
            json_round_trips(body, "anthropic body");
            assert!(body.get("messages").is_some_and(Value::is_array), "messages is not an array");
            check_degradations(&c.degradations, "convert_openai_request");
            assert!(parsed.is_ok(), "converted bytes that are not JSON");
        }
        Err(e) => {
            check_error(e, "convert_openai_request");
            if parsed.is_err() {
                assert!(matches!(e, RequestError::Json(_)), "non-JSON bytes gave {e:?}");
            }
        }
    }
    let Ok(value) = parsed else { return };
    let rv = convert_openai_request_value(value.clone());
    match (&r, &rv) {
        (Ok(a), Ok(b)) => assert_eq!(a.value, b.value, "bytes and value paths differ"),
        (Err(a), Err(b)) => assert_eq!(a, b, "bytes and value paths fail differently"),
        _ => panic!("bytes and value paths disagree: {:?} vs {:?}", r.is_ok(), rv.is_ok()),
    }
    match validate_chat_completions(&value) {
        Ok(()) => {
            let c = match r {
                Ok(c) => c,
                Err(e) => panic!("validated OpenAI request failed to convert: {e}"),
            };
            // On through the lanes, as the exchange sends it.
            let _ = validate_messages(&c.value);
            if let Err(e) = convert_request_value(c.value.clone(), &RequestOptions::new("gpt-5.5")) {
                check_error(&e, "codex lane");
            }
            if let Err(e) = convert_chat_request_value(c.value, &ChatOptions::new("kilo-auto/free")) {
                check_error(&e, "chat lane");
            }
        }
        Err(e) => {
            check_error(&e, "validate_chat_completions");
            let (status, body) = openai_request_error(&e);
            assert_eq!(status, 400, "OpenAI request error status");
            assert!(
                body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
                "OpenAI request error without a message: {body}"
            );
        }
    }
});
