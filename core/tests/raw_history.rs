//! The conversions' fast path (`translate/raw_history.rs`: the history copied as raw JSON
//! text, for the Codex backend and for a Chat provider) held to the `Value` path: wherever
//! the fast path answers, the body bytes, the degradations, the error and the inbound
//! validation verdict are the `Value` path's.
//!
//! Two sources of requests: every request vector under several options (and the real Claude
//! Code requests among them must take the fast path, or it is not worth having), and
//! generated request texts spelled the ways a client may spell JSON: escapes `serde_json`
//! writes differently, whitespace, floats, repeated keys, nulls, unusual blocks, unpaired
//! tool calls.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proxy_core::exchange::{Dialect, Inbound, Reply};
use proxy_core::translate::signature;
use proxy_core::{
    ChatOptions, ChatRequest, CodexRequest, Converted, Profile, RequestError, RequestOptions,
    convert_chat_request_fast, convert_chat_request_value, convert_request_fast,
    convert_request_value,
};
use serde_json::Value;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/request");

type Conversion = Result<Converted<CodexRequest>, RequestError>;

/// The `Value` path's conversion of `body` by `convert`, whose body (all in `body` there) the
/// proxy's own writer (`raw_json::write_value`, in `to_json`) must write as serde_json does.
fn by_value<T>(
    body: &[u8],
    convert: impl FnOnce(Value) -> Result<Converted<T>, RequestError>,
    written: impl Fn(&T) -> (Vec<u8>, Vec<u8>),
) -> Result<Converted<T>, RequestError> {
    let c = serde_json::from_slice::<Value>(body)
        .map_err(|e| RequestError::Json(e.to_string()))
        .and_then(convert);
    if let Ok(c) = &c {
        let (ours, serde) = written(&c.value);
        assert_eq!(ours, serde, "the body writer differs from serde_json");
    }
    c
}

fn slow(body: &[u8], opts: &RequestOptions) -> Conversion {
    by_value(
        body,
        |v| convert_request_value(v, opts),
        |c: &CodexRequest| (c.to_json(), serde_json::to_vec(&c.body).expect("json")),
    )
}

/// Everything a conversion gives the exchange, as comparable text.
fn outcome(r: Conversion) -> (String, String) {
    match r {
        Ok(mut c) => {
            let whole = format!(
                "{}\n{:?}\n{:?}\n{}\n{:?}",
                String::from_utf8_lossy(&c.value.to_json()),
                c.degradations,
                c.value.prompt_cache_key,
                c.value.thinking,
                c.value.stop_sequences,
            );
            let stripped = c.value.strip_reasoning();
            let after = format!(
                "{stripped}\n{}",
                String::from_utf8_lossy(&c.value.to_json())
            );
            (whole, after)
        }
        Err(e) => (format!("error: {e}"), String::new()),
    }
}

/// Whether the fast path answered; panics if it answered differently.
fn same(body: &[u8], opts: &RequestOptions, what: &str) -> bool {
    let Some(fast) = convert_request_fast(body, opts) else {
        return false;
    };
    let (f, s) = (outcome(fast), outcome(slow(body, opts)));
    assert_eq!(f, s, "{what}: {}", String::from_utf8_lossy(body));
    true
}

type ChatConversion = Result<Converted<ChatRequest>, RequestError>;

fn chat_outcome(r: ChatConversion) -> String {
    match r {
        // (The tool names come from the tool list, which both paths convert alike.)
        Ok(c) => format!(
            "{}\n{:?}\n{}",
            String::from_utf8_lossy(&c.value.to_json()),
            c.degradations,
            c.value.thinking,
        ),
        Err(e) => format!("error: {e}"),
    }
}

/// [`same`] for the Chat conversion.
fn same_chat(body: &[u8], opts: &ChatOptions, what: &str) -> bool {
    let Some(fast) = convert_chat_request_fast(body, opts) else {
        return false;
    };
    let slow = by_value(
        body,
        |v| convert_chat_request_value(v, opts),
        |c: &ChatRequest| (c.to_json(), serde_json::to_vec(&c.body).expect("json")),
    );
    assert_eq!(
        chat_outcome(fast),
        chat_outcome(slow),
        "{what} (Chat): {}",
        String::from_utf8_lossy(body)
    );
    true
}

/// The provider shapes a Chat body can take.
fn chat_option_sets() -> Vec<(&'static str, ChatOptions)> {
    let mut openai = ChatOptions::new("gpt-4.1");
    openai.reasoning_style = "openai".into();
    openai.max_tokens_field = "max_completion_tokens".into();
    let mut none = ChatOptions::new("plain");
    none.reasoning_style = "none".into();
    vec![
        ("chat openrouter", ChatOptions::new("kilo-auto/free")),
        ("chat openai", openai),
        ("chat none", none),
    ]
}

/// The inbound verdict (validation, model, stream) is the Value path's.
fn same_inbound(body: &[u8], what: &str) {
    let verdict = |r: Result<Inbound, proxy_core::exchange::Failure>| match r {
        Ok(i) => format!("ok {} {}", i.model, i.stream),
        Err(f) => String::from_utf8_lossy(&Reply::error(Dialect::Anthropic, &f).body).into_owned(),
    };
    let fast = verdict(Inbound::parse(Dialect::Anthropic, body));
    let whole = match serde_json::from_slice::<Value>(body) {
        Ok(v) => verdict(Inbound::from_value(Dialect::Anthropic, v)),
        // Not JSON (to serde_json): parse's own error, which the fast path must give too.
        Err(_) => {
            assert!(
                !fast.starts_with("ok "),
                "{what}: accepted what is not JSON"
            );
            fast.clone()
        }
    };
    assert_eq!(fast, whole, "{what}: {}", String::from_utf8_lossy(body));
}

/// Fields the scan captures without counting their nesting and parses alone later: at every
/// depth around `serde_json`'s recursion limit, both paths give the same verdict.
#[test]
fn nesting_the_body_parse_refuses_is_refused_on_both_paths() {
    let head = r#"{"model":"m","max_tokens":1,"messages":["#;
    let templates = [
        r#"{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral","x":DEEP}}]}"#,
        r#"{"role":"user","content":"hi","output_config":{"x":DEEP}}"#,
        r#"{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"ok","cache_control":{"type":"ephemeral","x":DEEP}}]}]}"#,
        r#"{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"},"x":DEEP}]}"#,
    ];
    for t in templates {
        for k in 110..=130 {
            let deep = format!("{}{}", "[".repeat(k), "]".repeat(k));
            let body = format!("{head}{}]}}", t.replace("DEEP", &deep));
            for (label, opts) in option_sets() {
                same(body.as_bytes(), &opts, label);
            }
            for (label, opts) in chat_option_sets() {
                same_chat(body.as_bytes(), &opts, label);
            }
            same_inbound(body.as_bytes(), "inbound");
        }
    }
}

fn option_sets() -> Vec<(&'static str, RequestOptions)> {
    let mut lite = RequestOptions::new("gpt-5.5");
    lite.profile = Profile::Lite;
    let mut tagged = RequestOptions::new("gpt-5.5");
    tagged.account_tag = Some("acct-a".into());
    tagged.session_id = Some("s-1".into());
    let other = RequestOptions::new("gpt-5.4");
    let mut search = RequestOptions::new("gpt-5.5");
    search.tool_search = true;
    vec![
        ("default", RequestOptions::new("gpt-5.5")),
        ("lite", lite),
        ("tagged", tagged),
        ("other model", other),
        ("tool search", search),
    ]
}

#[test]
fn every_request_vector_converts_the_same_and_claude_code_takes_the_fast_path() {
    let mut answered: Vec<(String, &str)> = Vec::new();
    let mut total = 0;
    for e in std::fs::read_dir(VECTORS).expect("vectors") {
        let p = e.expect("entry").path();
        let case: Value =
            serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("json");
        let body = match (case.get("request"), case.get("request_raw")) {
            (Some(r), _) => serde_json::to_vec(r).expect("serialize"),
            (None, Some(Value::String(s))) => s.clone().into_bytes(),
            _ => continue,
        };
        let name = p.file_name().expect("name").to_string_lossy().into_owned();
        for (label, opts) in option_sets() {
            total += 1;
            if same(&body, &opts, &format!("{name} ({label})")) {
                answered.push((name.clone(), label));
            }
        }
        for (label, opts) in chat_option_sets() {
            total += 1;
            if same_chat(&body, &opts, &format!("{name} ({label})")) {
                answered.push((name.clone(), label));
            }
        }
        same_inbound(&body, &name);
    }
    assert!(total > 600, "only {total} conversions");
    for cc in [
        "b_cc_turn1.json",
        "b_cc_turn2_tool_result.json",
        "b_cc_large_tool_history.json",
        "b_cc_large_thinking_history.json",
        "b_cc_thinking_ccp1_replay.json",
        "b_cc_turn2_thinking_foreign_signature.json",
    ] {
        // Claude Code sends its ToolSearch tool: with the model's tool search too.
        for label in ["default", "tool search", "chat openrouter", "chat openai"] {
            assert!(
                answered.iter().any(|(a, l)| a == cc && *l == label),
                "{cc} ({label}) took the Value path"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Generated request texts

/// Strings as a client may spell them (JSON string bodies).
fn string_body() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("plain text".to_owned()),
        Just(String::new()),
        Just(r#"line\nbreak and \"quotes\" and \\ back\tslash"#.to_owned()),
        Just(r"\u00e9 escaped".to_owned()),
        Just("é raw and \u{1F600}".to_owned()),
        Just(r"\/ slash".to_owned()),
        Just(r"\u001f ctl \u0007 \b\f\r".to_owned()),
        Just(r"\u001F upper".to_owned()),
        Just(r"\u0008 long form".to_owned()),
        Just(r"\ud83d\ude00 pair".to_owned()),
        Just("x-anthropic-billing-header: cc".to_owned()),
        "[a-z ]{0,12}",
    ]
}

fn json_string() -> impl Strategy<Value = String> {
    string_body().prop_map(|b| format!("\"{b}\""))
}

/// A tool input, spelled in many ways.
fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"command":"ls -la","timeout":1000}"#.to_owned()),
        Just(r#"{"a": 1}"#.to_owned()),
        Just(r#"{"a":1.5,"b":1e3}"#.to_owned()),
        Just(r#"{"a":-0,"b":12345678901234567890123}"#.to_owned()),
        Just(r#"{"a":1,"a":2}"#.to_owned()),
        Just(r#"{"nested":{"list":[1,"two",null,true,{"k":"v"}]}}"#.to_owned()),
        Just("{}".to_owned()),
        Just(r#""not an object""#.to_owned()),
        Just("null".to_owned()),
        json_string().prop_map(|s| format!(r#"{{"file_path":"/tmp/x","content":{s}}}"#)),
    ]
}

fn tool_id() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => Just("\"toolu_1\"".to_owned()),
        8 => Just("\"toolu_2\"".to_owned()),
        2 => Just("\"call.with/odd chars\"".to_owned()),
        1 => Just("\"\"".to_owned()),
        1 => Just(r#""toolu_\u0031""#.to_owned()),
        1 => Just("7".to_owned()),
    ]
}

/// A tool's name: sometimes Claude Code's search tool, whose calls and results take the
/// tool search path when the model has it.
fn tool_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => json_string(),
        1 => Just("\"ToolSearch\"".to_owned()),
        1 => Just("\"Bash\"".to_owned()),
    ]
}

fn cache_control() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(r#","cache_control":{"type":"ephemeral"}"#.to_owned()),
        Just(r#","cache_control":{"type":"ephemeral","ttl":"1h"}"#.to_owned()),
        Just(r#","cache_control":{"type":"other"}"#.to_owned()),
        Just(r#","cache_control":null"#.to_owned()),
    ]
}

fn signature_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(signature::encode("gpt-5.5", None, "enc-1", &[])),
        Just(signature::encode(
            "gpt-5.5",
            Some("acct-a"),
            "enc-2",
            &[5, 5]
        )),
        Just(signature::encode("gpt-5.5", Some("acct-b"), "enc-3", &[])),
        Just(signature::encode("gpt-5.4", None, "enc-4", &[])),
        Just("EqQBCkYIBxgCKkD_foreign".to_owned()),
    ]
    .prop_map(|s| format!("\"{s}\""))
}

fn tool_result_content() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        json_string().prop_map(|s| format!(r#","content":{s}"#)),
        (json_string(), json_string()).prop_map(|(a, b)| format!(
            r#","content":[{{"type":"text","text":{a}}},{{"type":"text","text":{b}}}]"#
        )),
        Just(r#","content":[]"#.to_owned()),
        Just(r#","content":[{"type":"text","text":""}]"#.to_owned()),
        Just(
            r#","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]"#
                .to_owned()
        ),
        Just(r#","content":[{"type":"tool_reference","tool_name":"Read"}]"#.to_owned()),
        Just(r#","content":null"#.to_owned()),
    ]
}

fn is_error() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(r#","is_error":true"#.to_owned()),
        Just(r#","is_error":false"#.to_owned()),
        Just(r#","is_error":"yes""#.to_owned()),
    ]
}

fn block() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => (json_string(), cache_control())
            .prop_map(|(t, c)| format!(r#"{{"type":"text","text":{t}{c}}}"#)),
        6 => (tool_id(), tool_name(), input()).prop_map(|(id, name, input)| format!(
            r#"{{"type":"tool_use","id":{id},"name":{name},"input":{input}}}"#
        )),
        6 => (tool_id(), tool_result_content(), is_error(), cache_control()).prop_map(
            |(id, content, err, c)| format!(
                r#"{{"type":"tool_result","tool_use_id":{id}{content}{err}{c}}}"#
            )
        ),
        4 => (json_string(), signature_text()).prop_map(|(t, s)| format!(
            r#"{{"type":"thinking","thinking":{t},"signature":{s}}}"#
        )),
        1 => Just(r#"{"type":"redacted_thinking","data":"abc"}"#.to_owned()),
        1 => Just(r#"{"type":"text","text":"a","citations":[]}"#.to_owned()),
        1 => Just(r#"{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}"#.to_owned()),
        1 => Just(r#"{"type":"text","text":null}"#.to_owned()),
        1 => Just(r#"{"type":"text","text":"a","text":"b"}"#.to_owned()),
        1 => Just(r#"{"text":"no type"}"#.to_owned()),
        1 => Just(r#"{ "type" : "text" , "text" : "spaced" }"#.to_owned()),
        1 => Just(r#"{"type":"tool_addition","tool":{"name":"Late","input_schema":{"type":"object"}}}"#.to_owned()),
    ]
}

fn message() -> impl Strategy<Value = String> {
    let role = prop_oneof![
        12 => Just("\"user\""),
        12 => Just("\"assistant\""),
        1 => Just("\"system\""),
        1 => Just("\"bogus\""),
        1 => Just("\"us\\u0065r\""),
    ];
    let content = prop_oneof![
        4 => json_string(),
        12 => prop::collection::vec(block(), 1..4).prop_map(|b| format!("[{}]", b.join(","))),
        1 => Just("[]".to_owned()),
        1 => Just("null".to_owned()),
        1 => Just("5".to_owned()),
    ];
    let extra = prop_oneof![
        24 => Just(""),
        1 => Just(r#","output_config":{"effort":"high"}"#),
        1 => Just(r#","role":"user""#),
        1 => Just(r#","id":"msg_1""#),
        1 => Just(r#","content":"again""#),
        1 => Just(r#","cont\u0065nt":"escaped key""#),
    ];
    (role, content, extra, any::<bool>()).prop_map(|(r, c, x, content_first)| {
        if content_first {
            format!(r#"{{"content":{c},"role":{r}{x}}}"#)
        } else {
            format!(r#"{{"role":{r},"content":{c}{x}}}"#)
        }
    })
}

fn request() -> impl Strategy<Value = String> {
    let top = prop_oneof![
        6 => Just(""),
        1 => Just(r#","system":"be brief""#),
        1 => Just(r#","system":[{"type":"text","text":"sys","cache_control":{"type":"ephemeral"}}]"#),
        1 => Just(r#","tools":[{"name":"Bash","description":"run","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}}]"#),
        1 => Just(r#","tools":[{"name":"ToolSearch","input_schema":{"type":"object"}},{"name":"Read","defer_loading":true,"input_schema":{"type":"object"}}]"#),
        1 => Just(r#","thinking":{"type":"enabled","budget_tokens":8000}"#),
        1 => Just(r#","temperature":2"#),
        1 => Just(r#","model":"again""#),
        1 => Just(r#","stream":true,"metadata":{"user_id":"u_session_abc"}"#),
        1 => Just(r#","tools":"nope""#),
    ];
    let head = prop_oneof![
        4 => Just(r#""model":"claude-sonnet-4-5","max_tokens":1024"#),
        1 => Just(r#""model":"claude-sonnet-4-5""#),
        1 => Just(r#""max_tokens":1024"#),
        1 => Just(r#" "model" : "claude-sonnet-4-5" , "max_tokens" : 1024 "#),
    ];
    (
        head,
        prop::collection::vec(message(), 0..6),
        top,
        any::<bool>(),
    )
        .prop_map(|(h, m, t, messages_last)| {
            let messages = format!(r#""messages":[{}]"#, m.join(","));
            if messages_last {
                format!("{{{h}{t},{messages}}}")
            } else {
                format!("{{{messages},{h}{t}}}")
            }
        })
}

/// 2,000 generated requests, each under every option set and through the inbound check;
/// the fast path must have answered a fair share of them, or they test nothing.
#[test]
fn generated_requests_convert_the_same() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = request();
    let (mut answered, mut total) = (0, 0);
    let (mut chat_answered, mut chat_total) = (0, 0);
    for _ in 0..2_000 {
        let text = strategy.new_tree(&mut runner).expect("a request").current();
        for (label, opts) in option_sets() {
            total += 1;
            answered += usize::from(same(text.as_bytes(), &opts, label));
        }
        for (label, opts) in chat_option_sets() {
            chat_total += 1;
            chat_answered += usize::from(same_chat(text.as_bytes(), &opts, label));
        }
        same_inbound(text.as_bytes(), "inbound");
    }
    assert!(
        answered * 10 > total,
        "the fast path answered {answered} of {total}"
    );
    assert!(
        chat_answered * 10 > chat_total,
        "the Chat fast path answered {chat_answered} of {chat_total}"
    );
}

use proxy_core::exchange::{ChatTarget, CodexTarget, Target};

/// The two lanes' targets.
fn targets() -> [Target; 2] {
    [
        Target::Codex(CodexTarget {
            url: "http://codex.test/codex/responses".into(),
            user_agent: "t".into(),
            version: "1".into(),
        }),
        Target::Chat(ChatTarget {
            url: "http://chat.test/chat/completions".into(),
            headers: Vec::new(),
            max_tokens_field: "max_tokens".into(),
            reasoning_style: "openrouter".into(),
        }),
    ]
}

/// The body an exchange sends for `inbound` (parsed from `body`) to `target`, on one account.
fn sent(inbound: Inbound, body: &[u8], target: Target) -> Vec<u8> {
    use proxy_core::exchange::{Exchange, ExchangeConfig, Output, Pick, TokenResult};
    let route = proxy_core::RoutingTable::default().route(&inbound.model);
    let mut ex = Exchange::new(
        ExchangeConfig::default(),
        inbound,
        body.to_vec(),
        target,
        route,
        None,
        7,
        1_000,
    );
    while let Some(out) = ex.poll() {
        match out {
            Output::PickAccount { .. } => ex.handle_pick(Pick::Account("acct".into()), 1_000),
            Output::GetToken { .. } => ex.handle_token(TokenResult::Ready("tok".into()), 1_000),
            Output::Send(r) => return r.body,
            _ => {}
        }
    }
    Vec::new()
}

#[test]
fn an_exchange_sends_the_same_body_from_a_scanned_history() {
    let mut scanned = 0;
    for name in [
        "b_cc_large_tool_history.json",
        "b_cc_large_thinking_history.json",
        "b_cc_turn2_tool_result.json",
    ] {
        let case: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{VECTORS}/{name}")).expect("read"),
        )
        .expect("json");
        let body = serde_json::to_vec(&case["request"]).expect("serialize");
        // Else `parse` gives a whole value, and this compares a path with itself.
        assert!(
            convert_request_fast(&body, &RequestOptions::new("gpt-5.5")).is_some(),
            "{name} is not taken by the fast path"
        );
        assert!(
            convert_chat_request_fast(&body, &ChatOptions::new("kilo-auto/free")).is_some(),
            "{name} is not taken by the Chat fast path"
        );
        for target in targets() {
            let whole: Value = serde_json::from_slice(&body).expect("json");
            let (Ok(a), Ok(b)) = (
                Inbound::from_value(Dialect::Anthropic, whole),
                Inbound::parse(Dialect::Anthropic, &body),
            ) else {
                panic!("{name} does not parse");
            };
            assert!(b.value.get("messages").is_none(), "{name}: not scanned");
            let (a, b) = (sent(a, &body, target.clone()), sent(b, &body, target));
            assert!(!a.is_empty(), "{name}: nothing sent");
            assert_eq!(
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b),
                "{name}"
            );
        }
        scanned += 1;
    }
    assert_eq!(scanned, 3);
}
