//! Bad input never panics, and the stream translator keeps Anthropic's event grammar whatever
//! the upstream sends.

use proptest::prelude::*;
use proxy_core::{
    Aggregator, RequestOptions, ResponsesTranslator, StreamEvent, StreamOptions, convert_request,
    convert_request_value,
};
use serde_json::{Value, json};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "text",
            "image",
            "document",
            "tool_use",
            "tool_result",
            "thinking",
            "redacted_thinking",
            "user",
            "assistant",
            "system",
            "base64",
            "url",
            "enabled",
            "adaptive",
            "disabled",
            "auto",
            "any",
            "tool",
            "none",
            "ccp1.eyJ2IjoxfQ",
            "web_search_20250305",
            "",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn json_tree() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "type",
        "role",
        "content",
        "text",
        "source",
        "media_type",
        "data",
        "id",
        "name",
        "input",
        "tool_use_id",
        "is_error",
        "thinking",
        "signature",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "input_schema",
        "budget_tokens",
        "display",
        "output_config",
        "effort",
        "metadata",
        "user_id",
        "title",
        "url",
        "max_tokens",
    ]);
    json_leaf().prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = convert_request(&bytes, &RequestOptions::new("gpt-5.5"));
    }

    #[test]
    fn arbitrary_json_never_panics(messages in json_tree(), rest in json_tree()) {
        let mut req = json!({"model": "claude-sonnet-4-5", "max_tokens": 10});
        req["messages"] = messages;
        if let Value::Object(o) = rest {
            for (k, v) in o { req[k] = v; }
        }
        let _ = convert_request_value(req, &RequestOptions::new("gpt-5.5"));
    }

    #[test]
    fn arbitrary_blocks_never_panic(blocks in prop::collection::vec(json_tree(), 0..8)) {
        for role in ["user", "assistant", "system"] {
            let req = json!({"messages": [{"role": role, "content": blocks.clone()}], "tools": blocks.clone()});
            let _ = convert_request_value(req, &RequestOptions::new("gpt-5.5"));
        }
    }

    #[test]
    fn arbitrary_upstream_bytes_keep_the_grammar(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        check_grammar(&run(&[&bytes]));
    }

    #[test]
    fn shuffled_upstream_events_keep_the_grammar(
        picks in prop::collection::vec(0usize..UPSTREAM.len(), 0..24),
        finish_with in 0usize..3,
    ) {
        let mut s = String::new();
        for p in picks {
            s.push_str(&format!("data: {}\n\n", UPSTREAM[p]));
        }
        match finish_with {
            0 => s.push_str("data: {\"type\":\"response.completed\",\"response\":{}}\n\n"),
            1 => s.push_str("data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"x\"}}}\n\n"),
            _ => {}
        }
        let events = run(&[s.as_bytes()]);
        check_grammar(&events);
        let mut agg = Aggregator::new();
        for e in events { agg.push(e); }
        let _ = agg.finish();
    }
}

/// Upstream events in every shape the translator reacts to, some contradicting each other.
const UPSTREAM: &[&str] = &[
    r#"{"type":"response.created","response":{"id":"resp_1"}}"#,
    r#"{"type":"response.output_item.added","item":{"type":"message","id":"m1"}}"#,
    r#"{"type":"response.output_text.delta","item_id":"m1","delta":"hi"}"#,
    r#"{"type":"response.output_text.delta","item_id":"m2","delta":"yo"}"#,
    r#"{"type":"response.output_item.done","item":{"type":"message","id":"m1","content":[{"type":"output_text","text":"hi"}]}}"#,
    r#"{"type":"response.output_item.added","item":{"type":"function_call","id":"f1","call_id":"c1","name":"Bash"}}"#,
    r#"{"type":"response.function_call_arguments.delta","item_id":"f1","delta":"{\"a\":"}"#,
    r#"{"type":"response.function_call_arguments.delta","item_id":"f9","delta":"1}"}"#,
    r#"{"type":"response.output_item.done","item":{"type":"function_call","id":"f1","call_id":"c1","name":"Bash","arguments":"{}"}}"#,
    r#"{"type":"response.output_item.added","item":{"type":"reasoning","id":"r1"}}"#,
    r#"{"type":"response.reasoning_summary_text.delta","item_id":"r1","delta":"think"}"#,
    r#"{"type":"response.reasoning_summary_part.added","item_id":"r1","summary_index":1}"#,
    r#"{"type":"response.output_item.done","item":{"type":"reasoning","id":"r1","encrypted_content":"gAAA","summary":[{"text":"think"}]}}"#,
    r#"{"type":"response.refusal.delta","item_id":"m1","delta":"no"}"#,
    r#"{"type":"response.output_item.done","item":{"type":"web_search_call","id":"ws_1","action":{"query":"q","sources":[{"url":"u"}]}}}"#,
    r#"{"type":"response.output_item.done","item":{"type":"custom_tool_call","id":"x"}}"#,
    r#"{"type":"response.incomplete","response":{"incomplete_details":{"reason":"max_output_tokens"}}}"#,
    r#"{"type":"error","code":"server_is_overloaded","message":"busy"}"#,
    r#"not json"#,
    r#"{"type":"response.output_item.done","item":null}"#,
    r#"{"type":42}"#,
];

fn run(chunks: &[&[u8]]) -> Vec<StreamEvent> {
    let mut t = ResponsesTranslator::new(StreamOptions {
        thinking: true,
        ..StreamOptions::default()
    });
    let mut out = Vec::new();
    for c in chunks {
        t.push(c);
        while let Some(e) = t.poll_event() {
            out.push(e);
        }
    }
    t.finish();
    t.finish();
    while let Some(e) = t.poll_event() {
        out.push(e);
    }
    out
}

/// message_start first and once; blocks 0,1,2… one open at a time, each started one stopped;
/// deltas only to the open block; exactly one terminal event, last.
fn check_grammar(events: &[StreamEvent]) {
    let mut started = false;
    let mut open: Option<usize> = None;
    let mut next = 0;
    let mut delta_seen = false;
    let last = events.len().saturating_sub(1);
    assert!(
        !events.is_empty(),
        "finish() must end the stream with a terminal event"
    );
    for (i, e) in events.iter().enumerate() {
        match e {
            StreamEvent::MessageStart { .. } => {
                assert!(
                    !started && i == 0,
                    "message_start first and once: {events:?}"
                );
                started = true;
            }
            StreamEvent::ContentBlockStart { index, .. } => {
                assert!(
                    started && open.is_none() && *index == next,
                    "bad start: {events:?}"
                );
                open = Some(*index);
                next += 1;
            }
            StreamEvent::ContentBlockDelta { index, .. } => {
                assert_eq!(open, Some(*index), "delta outside its block: {events:?}");
            }
            StreamEvent::ContentBlockStop { index } => {
                assert_eq!(open, Some(*index), "stop of a block not open: {events:?}");
                open = None;
            }
            StreamEvent::MessageDelta { .. } => {
                assert!(
                    started && open.is_none() && !delta_seen,
                    "bad message_delta: {events:?}"
                );
                delta_seen = true;
            }
            StreamEvent::MessageStop => {
                assert!(delta_seen && i == last, "message_stop must end: {events:?}");
            }
            StreamEvent::Error { .. } => {
                assert!(
                    open.is_none() && i == last,
                    "error must end, blocks closed: {events:?}"
                );
            }
            StreamEvent::Ping => assert!(started),
        }
    }
    assert!(
        matches!(
            events[last],
            StreamEvent::MessageStop | StreamEvent::Error { .. }
        ),
        "no terminal event: {events:?}"
    );
}

#[test]
fn absurd_sizes_are_handled() {
    // A 20 MB text block converts; 20 000 messages convert; nesting past serde's limit errors.
    let big = "x".repeat(20 * 1024 * 1024);
    let req = json!({"messages": [{"role": "user", "content": big}]});
    let c = convert_request(req.to_string().as_bytes(), &RequestOptions::new("gpt-5.5"))
        .expect("converts");
    let body: Value = serde_json::from_slice(&c.value.to_json()).expect("json");
    assert_eq!(
        body["input"][0]["content"][0]["text"]
            .as_str()
            .map(str::len),
        Some(20 * 1024 * 1024)
    );

    let many: Vec<Value> = (0..20_000)
        .map(|i| json!({"role": if i % 2 == 0 {"user"} else {"assistant"}, "content": "m"}))
        .collect();
    let c = convert_request_value(json!({"messages": many}), &RequestOptions::new("gpt-5.5"))
        .expect("converts");
    assert_eq!(c.value.body["input"].as_array().map(Vec::len), Some(20_000));

    let deep = "[".repeat(100_000);
    let e = convert_request(
        format!("{{\"messages\":{deep}").as_bytes(),
        &RequestOptions::new("m"),
    );
    assert!(e.is_err());

    // An upstream event larger than the decoder's bound is skipped, not buffered forever.
    let mut t = ResponsesTranslator::new(StreamOptions::default());
    t.push(b"data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_x\"}}\n\n");
    let chunk = vec![b'a'; 1024 * 1024];
    t.push(b"data: ");
    for _ in 0..40 {
        t.push(&chunk);
    }
    t.push(b"\n\ndata: {\"type\":\"response.completed\",\"response\":{}}\n\n");
    let mut events = Vec::new();
    while let Some(e) = t.poll_event() {
        events.push(e);
    }
    assert!(matches!(events.last(), Some(StreamEvent::MessageStop)));
    assert!(!t.take_degradations().is_empty());
}

#[test]
fn errors_name_the_field() {
    let opts = RequestOptions::new("gpt-5.5");
    let cases = [
        (
            r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"x"}]}]}"#,
            "messages.0.content.0.id",
        ),
        (
            r#"{"messages":[{"role":"robot","content":"x"}]}"#,
            "messages.0.role",
        ),
        (
            r#"{"messages":[{"role":"user","content":5}]}"#,
            "messages.0.content",
        ),
        (r#"{"messages":{}}"#, "messages"),
        (
            r#"{"messages":[],"tools":[{"description":"d"}]}"#,
            "tools.0.name",
        ),
        (r#"[1,2]"#, "body"),
    ];
    for (body, path) in cases {
        let e = convert_request(body.as_bytes(), &opts).expect_err(body);
        assert!(e.to_string().starts_with(path), "{body}: {e}");
    }
}

#[test]
fn the_codex_request_schema_rejects_what_the_backend_rejects() {
    use proxy_core::wire::responses::ResponsesRequest;
    let ok = json!({"model": "m", "instructions": "", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [], "tool_choice": "auto", "parallel_tool_calls": true,
        "reasoning": {"effort": "low"}, "store": false, "stream": true, "include": []});
    assert!(serde_json::from_value::<ResponsesRequest>(ok.clone()).is_ok());
    let mut with_cap = ok.clone();
    with_cap["max_output_tokens"] = json!(10);
    assert!(serde_json::from_value::<ResponsesRequest>(with_cap).is_err());
    let mut with_id = ok.clone();
    with_id["input"][0]["id"] = json!("msg_1");
    assert!(serde_json::from_value::<ResponsesRequest>(with_id).is_err());
    let mut system = ok;
    system["input"][0]["role"] = json!("system");
    assert!(serde_json::from_value::<ResponsesRequest>(system).is_err());
}

#[test]
fn the_session_key_comes_from_the_header_else_the_metadata() {
    use proxy_core::session_key;
    let body = json!({"metadata": {"user_id": "{\"device_id\":\"d\",\"account_uuid\":\"\",\"session_id\":\"s-123\"}"}});
    assert_eq!(session_key(Some("hdr"), &body).as_deref(), Some("hdr"));
    assert_eq!(session_key(None, &body).as_deref(), Some("s-123"));
    let legacy = json!({"metadata": {"user_id": "user_abc_account_x_session_0199-uuid"}});
    assert_eq!(session_key(None, &legacy).as_deref(), Some("0199-uuid"));
    assert_eq!(session_key(None, &json!({})), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// However the text is split into deltas, the client gets exactly the text before the
    /// earliest stop sequence (or all of it), and the right stop reason.
    #[test]
    fn stop_sequences_cut_exactly(
        text in "[ab→é]{0,40}",
        stops in prop::collection::vec("[ab→é]{1,4}", 1..3),
        cuts in prop::collection::vec(0usize..48, 0..8),
    ) {
        // The text as deltas cut at char boundaries.
        let chars: Vec<char> = text.chars().collect();
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(chars.len())).collect();
        points.sort_unstable();
        points.dedup();
        let mut pieces = Vec::new();
        let mut last = 0;
        for p in points.into_iter().chain([chars.len()]) {
            pieces.push(chars[last..p].iter().collect::<String>());
            last = p;
        }
        let mut sse = String::from("data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}}\n\n");
        for p in &pieces {
            let d = json!({"type": "response.output_text.delta", "item_id": "m", "delta": p});
            sse.push_str(&format!("data: {d}\n\n"));
        }
        let done = json!({"type": "response.output_item.done", "item": {"type": "message", "id": "m",
            "content": [{"type": "output_text", "text": text}]}});
        sse.push_str(&format!("data: {done}\n\n"));
        sse.push_str("data: {\"type\":\"response.completed\",\"response\":{}}\n\n");

        let mut t = ResponsesTranslator::new(StreamOptions {
            stop_sequences: stops.clone(),
            ..StreamOptions::default()
        });
        t.push(sse.as_bytes());
        t.finish();
        let mut got = String::new();
        let mut stop = None;
        let mut events = Vec::new();
        while let Some(e) = t.poll_event() {
            if let StreamEvent::ContentBlockDelta { delta: proxy_core::Delta::TextDelta { text }, .. } = &e {
                got.push_str(text);
            }
            if let StreamEvent::MessageDelta { delta, .. } = &e {
                stop = Some((delta.stop_reason, delta.stop_sequence.clone()));
            }
            events.push(e);
        }
        check_grammar(&events);
        // Generation stops at the sequence that is complete first: earliest end, then
        // earliest start, then listed first.
        let earliest = stops
            .iter()
            .enumerate()
            .filter_map(|(i, s)| text.find(s.as_str()).map(|p| (p + s.len(), p, i)))
            .min();
        match earliest {
            Some((_, p, i)) => {
                prop_assert_eq!(&got, &text[..p]);
                prop_assert_eq!(stop, Some((proxy_core::StopReason::StopSequence, Some(stops[i].clone()))));
            }
            None => {
                prop_assert_eq!(&got, &text);
                prop_assert_eq!(stop, Some((proxy_core::StopReason::EndTurn, None)));
            }
        }
    }
}

/// Pieces of a delta event's JSON text, valid and not: keys the fast path captures, keys it
/// must leave to serde, escapes, numbers, nesting, whitespace, broken tokens.
fn delta_json_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "\"type\"",
        "\"delta\"",
        "\"item_id\"",
        "\"sequence_number\"",
        "\"obfuscation\"",
        "\"logprobs\"",
        "\"summary_index\"",
        "\"item\"",
        "\"code\"",
        "\"ty\\u0070e\"",
        "\"del\\nta\"",
        "type",
    ]);
    let value = prop::sample::select(vec![
        "\"response.output_text.delta\"",
        "\"response.function_call_arguments.delta\"",
        "\"response.completed\"",
        "\" token\"",
        "\"{\\\"a\\\":\"",
        "\"a\\nb\\t\\\\ \\/ \\b\\f\\r\"",
        "\"\\u00e9\\ud83e\\udd80\"",
        "\"\\ud800\"",
        "\"\\u12\"",
        "\"\\x\"",
        "\"tab\tin\"",
        "\"\\\\u0041\"",
        "\"é漢🦀\"",
        "\"msg_1\"",
        "0",
        "-12.5e+3",
        "01",
        "1.",
        "-",
        "[]",
        "[1, [true, false, null], {\"k\": \"v\"}]",
        "[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]",
        "{}",
        "{\"a\":",
        "null",
        "nul",
        "true",
    ]);
    let member = (key, " ?", value).prop_map(|(k, ws, v)| format!("{k}:{ws}{v}"));
    let ty = prop::sample::select(vec![
        "\"response.output_text.delta\"",
        "\"response.refusal.delta\"",
        "\"response.reasoning_summary_text.delta\"",
    ]);
    let piece = prop::sample::select(vec![
        "\" token\"",
        "\"{\\\"a\\\":\"",
        "\"a\\nb\\t\\\\ \\/\"",
        "\"\\u00e9\\ud83e\\udd80\"",
        "\"é漢🦀\"",
        "\"\"",
    ]);
    // Mostly the shape the upstream sends (type and delta among harmless members), so the
    // fast path answers often; sometimes arbitrary members, which may break anything.
    (
        ty,
        piece,
        prop::collection::vec(member, 0..6),
        any::<bool>(),
        prop::sample::select(vec!["", "", "", " ", "\n", ",", "}", " x"]),
    )
        .prop_flat_map(|(ty, piece, extra, typical, tail)| {
            let mut members = vec![format!("\"type\":{ty}"), format!("\"delta\":{piece}")];
            if typical {
                members.push("\"item_id\":\"msg_1\"".into());
                members.push("\"sequence_number\":7".into());
                members.push("\"logprobs\":[]".into());
            } else {
                members.extend(extra);
            }
            (Just(members).prop_shuffle(), Just(tail))
        })
        .prop_map(|(members, tail)| format!("{{{}}}{tail}", members.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// The delta fast path answers only when serde would read the same three fields.
    #[test]
    fn delta_fast_path_agrees_with_serde(data in delta_json_text()) {
        use proxy_core::translate::delta_scan::scan;
        use proxy_core::wire::responses::UpEvent;
        if let Some(fast) = scan(&data) {
            let ev: UpEvent<'_> = serde_json::from_str(&data)
                .map_err(|e| TestCaseError::fail(format!("serde rejects {data}: {e}")))?;
            prop_assert_eq!(ev.ty.as_deref(), Some(fast.kind.as_str()));
            let text = fast.text();
            prop_assert_eq!(ev.delta.as_deref(), Some(text.as_ref()));
            // The translator's way: out of the data buffer itself.
            let owned = data.clone();
            let taken = scan(&owned).map(|d| d.plan(&owned)).map(|p| p.text(owned));
            prop_assert_eq!(ev.delta.as_deref(), taken.as_deref());
            prop_assert_eq!(ev.item_id.as_deref(), fast.item_id.as_deref());
        }
    }
}

/// Events that share one key skeleton (as an upstream's deltas do) with values that vary in
/// kind and validity (mostly valid, so the learned shape is reused, matched and broken).
fn same_shape_events() -> impl Strategy<Value = Vec<String>> {
    let pools: Vec<(&str, Vec<&str>)> = vec![
        (
            "type",
            vec![
                "\"response.output_text.delta\"",
                "\"response.output_text.delta\"",
                "\"response.reasoning_summary_text.delta\"",
                "\"response.function_call_arguments.delta\"",
                "\"response.output_item.done\"",
            ],
        ),
        (
            "sequence_number",
            vec!["7", "12", "7", "12", "-0.5e2", "01", "1.", "\"7\""],
        ),
        (
            "item_id",
            vec!["\"msg_1\"", "\"msg_1\"", "\"fc_2\"", "\"\\u0041\"", "null"],
        ),
        (
            "delta",
            vec![
                "\" tok\"",
                "\" tok\"",
                "\"{\\\"a\\\":\"",
                "\"\\u00e9\"",
                "\"\\ud800\"",
                "\"\\q\"",
                "\"tab\tin\"",
                "\"\"",
            ],
        ),
        ("logprobs", vec!["[]", "[]", "[]", "[1]", "{}"]),
        ("output_index", vec!["0", "0", "0", "1", "01", "2e1"]),
        (
            "summary_index",
            vec![
                "0",
                "0",
                "1",
                "null",
                "-1",
                "1.0",
                "18446744073709551616",
                "\"0\"",
            ],
        ),
        (
            "obfuscation",
            vec![
                "\"ab12\"",
                "\"x\"",
                "\"ab12\"",
                "\"\\\\u0041\"",
                "\"\\u0041\"",
                "3",
            ],
        ),
    ];
    let row: Vec<_> = pools
        .into_iter()
        .map(|(key, values)| {
            prop::sample::select(values).prop_map(move |v| format!("\"{key}\":{v}"))
        })
        .collect();
    (
        Just((0..8).collect::<Vec<usize>>()).prop_shuffle(),
        prop::collection::vec(row, 1..12),
    )
        .prop_map(|(order, rows)| {
            rows.into_iter()
                .map(|members| {
                    let members: Vec<&str> = order.iter().map(|&i| members[i].as_str()).collect();
                    format!("{{{}}}", members.join(","))
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The scanner that learns the events' shape answers exactly as the stateless scan (which
    /// the property above ties to serde), event after event.
    #[test]
    fn the_learned_shape_changes_nothing(events in same_shape_events()) {
        use proxy_core::translate::delta_scan::{DeltaScanner, scan};
        let mut learned = DeltaScanner::new();
        for data in &events {
            prop_assert_eq!(learned.scan(data), scan(data), "{}", data);
        }
    }
}

#[test]
fn the_delta_fast_path_takes_the_upstreams_usual_events() {
    use proxy_core::translate::delta_scan::scan;
    // Every delta event of the real captures goes the fast way.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/stream");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("vectors") {
        let path = entry.expect("entry").path().join("upstream.sse");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if !path.to_string_lossy().contains("capture") {
            continue;
        }
        for line in text.lines() {
            if let Some(data) = line.strip_prefix("data: ")
                && data.contains("\"type\":\"response.output_text.delta\"")
            {
                assert!(scan(data).is_some(), "{data}");
                seen += 1;
            }
        }
    }
    assert!(seen > 10, "only {seen} capture deltas found");
}

#[test]
fn a_subagent_key_is_a_stable_uuid_of_session_and_agent() {
    use proxy_core::{agent_session_key, request_session};
    let k = agent_session_key("s-1", "agent_01ABC");
    assert_eq!(k, agent_session_key("s-1", "agent_01ABC"));
    assert_ne!(k, agent_session_key("s-1", "agent_02"));
    assert_ne!(k, agent_session_key("s-2", "agent_01ABC"));
    let parts: Vec<usize> = k.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "{k}");
    assert!(k.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{k}");
    assert_eq!(&k[14..15], "8", "version 8: {k}");
    // Headers: Claude Code's first, then OpenCode's; an agent without a session keys nothing.
    let h = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    };
    let body = json!({});
    assert_eq!(
        request_session(
            h(&[
                ("x-session-affinity", "oc"),
                ("x-claude-code-session-id", "cc")
            ]),
            &body
        )
        .as_deref(),
        Some("cc")
    );
    assert_eq!(
        request_session(h(&[("x-session-id", "oc")]), &body).as_deref(),
        Some("oc")
    );
    assert_eq!(
        request_session(
            h(&[
                ("x-claude-code-session-id", "s-1"),
                ("x-claude-code-agent-id", "agent_01ABC")
            ]),
            &body
        ),
        Some(k)
    );
    assert_eq!(
        request_session(h(&[("x-claude-code-agent-id", "a")]), &body),
        None
    );
}
