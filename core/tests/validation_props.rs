//! Request validation (docs/CONVERSION.md §11) against the golden vectors: every valid request
//! is accepted, every error case is rejected, and a request with one field mutated is either
//! rejected at that field or converts without panicking.
//!
//! The vectors include the real Claude Code requests of `shared/fixtures/claude-code` verbatim
//! (`request/b_cc_turn1.json`, `b_cc_turn2_tool_result.json`, `b_cc_haiku_trailing_system.json`,
//! `b_cc_turn2_thinking_foreign_signature.json`), so the repository's vectors are read only.

use proptest::prelude::*;
use proxy_core::{
    ChatOptions, RequestError, RequestOptions, convert_chat_request_value,
    convert_openai_request_value, convert_request_value, validate_chat_completions,
    validate_messages,
};
use serde_json::{Value, json};
use std::sync::OnceLock;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors");

/// (file name, case) of every vector in `dir`.
fn cases(dir: &str) -> Vec<(String, Value)> {
    let dir = format!("{VECTORS}/{dir}");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("vector directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("vector");
            let case: Value = serde_json::from_str(&text).expect("vector JSON");
            (
                p.file_name()
                    .expect("file name")
                    .to_string_lossy()
                    .into_owned(),
                case,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The parsed request of a case (`request`, or `request_raw` when it is JSON).
fn request_of(case: &Value) -> Option<Value> {
    match case.get("request") {
        Some(r) => Some(r.clone()),
        None => serde_json::from_str(case.get("request_raw")?.as_str()?).ok(),
    }
}

#[test]
fn anthropic_vectors_are_accepted_and_error_cases_rejected() {
    let mut checked = 0;
    for dir in ["request", "chat_request"] {
        for (name, case) in cases(dir) {
            let Some(req) = request_of(&case) else {
                continue; // not JSON: rejected before validation
            };
            let verdict = validate_messages(&req);
            if case.get("expected_error").is_some() {
                assert!(verdict.is_err(), "{dir}/{name}: error case accepted");
            } else {
                assert_eq!(verdict, Ok(()), "{dir}/{name}");
            }
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} vectors found");
}

#[test]
fn openai_vectors_are_accepted_and_error_cases_rejected() {
    let mut checked = 0;
    for (name, case) in cases("openai_request") {
        let Some(req) = request_of(&case) else {
            continue;
        };
        let verdict = validate_chat_completions(&req);
        if case.get("expected_error").is_some() {
            assert!(
                verdict.is_err(),
                "openai_request/{name}: error case accepted"
            );
        } else {
            assert_eq!(verdict, Ok(()), "openai_request/{name}");
        }
        checked += 1;
    }
    assert!(checked > 30, "only {checked} vectors found");
}

// ---------------------------------------------------------------------------------------------
// Mutations

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Every location in `v` (the root excluded).
fn all_paths(v: &Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                prefix.push(Seg::Key(k.clone()));
                out.push(prefix.clone());
                all_paths(x, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                prefix.push(Seg::Index(i));
                out.push(prefix.clone());
                all_paths(x, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    Remove,
    Replace(usize),
}

fn replacement(i: usize) -> Value {
    [
        Value::Null,
        json!(true),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(""),
        json!("x"),
        json!([]),
        json!({}),
        json!([null]),
    ][i % 10]
        .clone()
}

/// Applies `m` at `path` (removing an array element shifts the ones after it).
fn mutate(root: &mut Value, path: &[Seg], m: Mutation) {
    let (last, parent_path) = path.split_last().expect("non-empty path");
    let mut parent = root;
    for s in parent_path {
        parent = match s {
            Seg::Key(k) => &mut parent[k.as_str()],
            Seg::Index(i) => &mut parent[*i],
        };
    }
    match (m, last) {
        (Mutation::Remove, Seg::Key(k)) => {
            parent.as_object_mut().expect("object").shift_remove(k);
        }
        (Mutation::Remove, Seg::Index(i)) => {
            parent.as_array_mut().expect("array").remove(*i);
        }
        (Mutation::Replace(r), Seg::Key(k)) => {
            parent[k.as_str()] = replacement(r);
        }
        (Mutation::Replace(r), Seg::Index(i)) => {
            parent[*i] = replacement(r);
        }
    }
}

/// Whether an error at `error` is about the mutation at `mutated`: the same path, a container
/// of it, or a field inside the new value; or a sibling when the mutated field decides what
/// its siblings must be (a tool without its `type` is a client tool and needs an
/// `input_schema`; an assistant message without `tool_calls` needs `content`).
fn related(error: &str, mutated: &[Seg]) -> bool {
    let m = render(mutated);
    let under = |outer: &str, inner: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    if under(error, &m) || under(&m, error) {
        return true;
    }
    if !matches!(mutated.last(), Some(Seg::Key(k)) if k == "type" || k == "tool_calls") {
        return false;
    }
    let parent = render(&mutated[..mutated.len() - 1]);
    error
        .strip_prefix(parent.as_str())
        .and_then(|r| r.strip_prefix('.'))
        .is_some_and(|r| !r.contains(['.', '[']))
}

/// A valid request vector: its name, its request and every location in it.
type Entry = (String, Value, Vec<Vec<Seg>>);

fn corpus(dirs: &[&str]) -> Vec<Entry> {
    let mut out = Vec::new();
    for dir in dirs {
        for (name, case) in cases(dir) {
            if case.get("expected_error").is_some() {
                continue;
            }
            let Some(req) = case.get("request").cloned() else {
                continue;
            };
            let mut paths = Vec::new();
            all_paths(&req, &mut Vec::new(), &mut paths);
            out.push((format!("{dir}/{name}"), req, paths));
        }
    }
    out
}

fn anthropic_corpus() -> &'static [Entry] {
    static C: OnceLock<Vec<Entry>> = OnceLock::new();
    C.get_or_init(|| corpus(&["request", "chat_request"]))
}

fn openai_corpus() -> &'static [Entry] {
    static C: OnceLock<Vec<Entry>> = OnceLock::new();
    C.get_or_init(|| corpus(&["openai_request"]))
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => Just(Mutation::Remove),
        4 => (0usize..10).prop_map(Mutation::Replace),
    ]
}

/// The only conversion error a validated request may still get (§11.9).
fn is_empty_message_error(e: &RequestError) -> bool {
    matches!(e, RequestError::Invalid { path, message }
        if path.starts_with("messages[") && message == "none of its content can be sent upstream")
}

/// (message index, text) of every non-empty `text` of a user message's text blocks.
fn user_texts(req: &Value) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, m) in req["messages"].as_array().into_iter().flatten().enumerate() {
        if m["role"] != "user" {
            continue;
        }
        match &m["content"] {
            Value::String(t) if !t.trim().is_empty() => out.push((i, t.clone())),
            Value::Array(blocks) => {
                for b in blocks {
                    if b["type"] == "text"
                        && let Some(t) = b["text"].as_str().filter(|t| !t.trim().is_empty())
                    {
                        out.push((i, t.to_owned()));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn anthropic_mutation_is_rejected_at_its_field_or_converts(
        v in any::<prop::sample::Index>(),
        p in any::<prop::sample::Index>(),
        m in mutation(),
    ) {
        let corpus = anthropic_corpus();
        let (name, req, paths) = &corpus[v.index(corpus.len())];
        let path = &paths[p.index(paths.len())];
        let mut req = req.clone();
        mutate(&mut req, path, m);
        match validate_messages(&req) {
            Err(RequestError::Invalid { path: error, message }) => prop_assert!(
                related(&error, path),
                "{name}: {m:?} at {} gave an error at {error}: {message}", render(path)
            ),
            Err(e) => prop_assert!(false, "{name}: unexpected error {e}"),
            Ok(()) => {
                let texts = user_texts(&req);
                match convert_request_value(req.clone(), &RequestOptions::new("gpt-5.5")) {
                    Err(e) => prop_assert!(is_empty_message_error(&e),
                        "{name}: {m:?} at {} validated but the conversion failed: {e}", render(path)),
                    // Nothing lost silently: every text the user sent is in the upstream body,
                    // or a degradation names its message.
                    Ok(c) => {
                        let body = serde_json::to_string(&c.value.body).unwrap_or_default();
                        for (i, t) in &texts {
                            let escaped = serde_json::to_string(t).unwrap_or_default();
                            let inner = &escaped[1..escaped.len() - 1];
                            let noted = c.degradations.iter().any(|d| d.path.starts_with(&format!("messages[{i}]")));
                            prop_assert!(body.contains(inner) || noted,
                                "{name}: {m:?} at {}: messages[{i}]'s text {t:?} vanished without a degradation", render(path));
                        }
                    }
                }
                if let Err(e) = convert_chat_request_value(req, &ChatOptions::new("kilo-auto/free")) {
                    prop_assert!(is_empty_message_error(&e),
                        "{name}: {m:?} at {} validated but the Chat conversion failed: {e}", render(path));
                }
            }
        }
    }

    #[test]
    fn openai_mutation_is_rejected_at_its_field_or_converts(
        v in any::<prop::sample::Index>(),
        p in any::<prop::sample::Index>(),
        m in mutation(),
    ) {
        let corpus = openai_corpus();
        let (name, req, paths) = &corpus[v.index(corpus.len())];
        let path = &paths[p.index(paths.len())];
        let mut req = req.clone();
        mutate(&mut req, path, m);
        match validate_chat_completions(&req) {
            Err(RequestError::Invalid { path: error, message }) => prop_assert!(
                related(&error, path),
                "{name}: {m:?} at {} gave an error at {error}: {message}", render(path)
            ),
            Err(e) => prop_assert!(false, "{name}: unexpected error {e}"),
            Ok(()) => {
                let converted = convert_openai_request_value(req);
                prop_assert!(converted.is_ok(), "{name}: {m:?} at {} validated but the conversion failed: {:?}",
                    render(path), converted.err());
            }
        }
    }
}

// Random trees never make the validators panic (they are total).
proptest! {
    #[test]
    fn validators_never_panic(v in json_tree()) {
        let _ = validate_messages(&v);
        let _ = validate_chat_completions(&v);
        let wrapped = json!({"model": "m", "max_tokens": 1, "messages": [v.clone()]});
        let _ = validate_messages(&wrapped);
        let _ = validate_chat_completions(&wrapped);
    }
}

fn json_tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "text",
            "image",
            "document",
            "tool_use",
            "tool_result",
            "thinking",
            "user",
            "assistant",
            "system",
            "tool",
            "base64",
            "url",
            "content",
            "function",
            "enabled",
            "ephemeral",
            "json_schema",
            "",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let keys = prop::sample::select(vec![
        "type",
        "role",
        "content",
        "text",
        "source",
        "data",
        "media_type",
        "id",
        "name",
        "input",
        "tool_use_id",
        "tool_call_id",
        "tool_calls",
        "function",
        "arguments",
        "messages",
        "model",
        "max_tokens",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "budget_tokens",
        "cache_control",
        "image_url",
        "url",
        "stop",
        "n",
        "response_format",
        "json_schema",
    ]);
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}
