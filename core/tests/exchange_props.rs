//! Random upstream scripts and timer orders through the exchange machine: never a panic,
//! every exchange ends, nothing after the terminal output, the hold within its bound, and the
//! client's stream always in the Anthropic grammar.

mod grammar;

use proptest::prelude::*;
use proxy_core::exchange::sim::{RefreshOutcome, Scenario, SimAccount, SimConfig, UpStep, run};
use serde_json::json;

const PIECES: &[&str] = &[
    "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"output\":[]}}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[],\"role\":\"assistant\"}}\n\n",
    "event: response.content_part.added\ndata: {\"type\":\"response.content_part.added\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\"}}\n\n",
    "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}\n\n",
    "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\"}],\"role\":\"assistant\"}}\n\n",
    "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
    "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"resp_1\",\"status\":\"failed\",\"error\":{\"code\":\"server_is_overloaded\",\"message\":\"busy\"}}}\n\n",
    "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"try again in 20ms\"}\n\n",
    "event: error\ndata: {\"type\":\"error\",\"code\":\"invalid_encrypted_content\",\"message\":\"no\"}\n\n",
    ": keep-alive\n\n",
    "event: response.output_text.del",
    "ta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"!\"}\n\n",
    "{\"error\":{\"type\":\"usage_limit_reached\",\"message\":\"limit\",\"resets_in_seconds\":2}}",
    "{\"error\":{\"code\":\"invalid_encrypted_content\",\"message\":\"x\"}}",
    "garbage\u{0}\n\n",
];

fn step() -> impl Strategy<Value = UpStep> {
    prop_oneof![
        4 => (0..PIECES.len()).prop_map(|i| UpStep::Bytes(PIECES[i].to_owned())),
        1 => prop_oneof![Just(0u64), Just(50), Just(3_000), Just(20_000), Just(400_000)].prop_map(UpStep::Wait),
        1 => Just(UpStep::Eof),
        1 => Just(UpStep::Reset),
        1 => Just(UpStep::Hang),
    ]
}

fn script() -> impl Strategy<Value = Vec<UpStep>> {
    let status = prop_oneof![
        6 => Just(200u16), 1 => Just(401), 1 => Just(429), 1 => Just(500),
        1 => Just(503), 1 => Just(402), 1 => Just(400)
    ];
    let retry_after = prop_oneof![Just(None), Just(Some("1")), Just(Some("30"))];
    (
        status,
        retry_after,
        prop::collection::vec(step(), 0..12),
        any::<bool>(),
    )
        .prop_map(|(status, ra, steps, headless)| {
            let mut v = Vec::new();
            if !headless {
                let headers = ra
                    .map(|r| vec![("retry-after".to_owned(), r.to_owned())])
                    .unwrap_or_default();
                v.push(UpStep::Head { status, headers });
            }
            v.extend(steps);
            v
        })
}

fn account() -> impl Strategy<Value = SimAccount> {
    let refresh = prop_oneof![
        Just(None),
        Just(Some(RefreshOutcome::Relogin("dead".into()))),
        Just(Some(RefreshOutcome::Transient("down".into()))),
    ];
    (
        0..3u8,
        refresh,
        prop_oneof![Just(0u64), Just(1_786_170_003), Just(1_786_170_600)],
    )
        .prop_map(|(i, refresh, cooldown_until)| SimAccount {
            id: format!("acct-{i}"),
            token: format!("tok-{i}"),
            token_error: None,
            refresh,
            cooldown_until,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn any_script_ends_well_formed(
        scripts in prop::collection::vec(script(), 0..6),
        accounts in prop::collection::vec(account(), 0..3),
        chat in any::<bool>(),
        stream in any::<bool>(),
        openai in any::<bool>(),
        gone in prop_oneof![Just(None), (0u64..30_000).prop_map(Some)],
        bound in 1usize..6,
    ) {
        let request = if openai {
            json!({"model": "claude-sonnet-4-5", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
        } else {
            json!({"model": "claude-sonnet-4-5", "max_tokens": 50, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
        };
        let s = Scenario {
            config: SimConfig {
                first_byte_timeout_ms: Some(10_000),
                idle_timeout_ms: Some(30_000),
                commit_timeout_ms: Some(8_000),
                ping_interval_ms: Some(5_000),
                max_attempts: Some(4),
                max_held_events: Some(bound),
            },
            lane: if chat { "chat".into() } else { "codex".into() },
            dialect: if openai { "openai".into() } else { "anthropic".into() },
            request,
            accounts,
            upstream: scripts,
            client_gone_at_ms: gone,
            start_ms: 1_786_170_000_000,
        };
        let t = run(&s);
        prop_assert!(t.done, "did not end: {:?}", t.steps);
        prop_assert!(t.upstream_requests <= 4, "more upstream requests than attempts");
        // Nothing after the terminal output.
        let terminal = t.steps.iter().position(|s| s.ends_with(" finish") || s.contains(" fail "));
        if let Some(i) = terminal {
            prop_assert_eq!(i, t.steps.len() - 1, "steps after the terminal: {:?}", t.steps);
        }
        let left = t.steps.iter().any(|s| s.ends_with("client gone"));
        prop_assert!(terminal.is_some() || left, "no terminal output: {:?}", t.steps);
        // The hold within its bound: the first emit after a commit carries at most `bound` events.
        if let Some(i) = t.steps.iter().position(|s| s.ends_with("commit 200"))
            && let Some(next) = t.steps.get(i + 1)
            && let Some(n) = next.split(' ').nth(2).filter(|_| next.contains(" emit "))
        {
            let n: usize = n.parse().unwrap_or(0);
            if stream {
                prop_assert!(n <= bound, "held {} > {}: {:?}", n, bound, t.steps);
            }
        }
        if stream && !openai && t.client.status == Some(200) {
            let events = grammar::check_anthropic_stream(&t.client.body);
            if t.client.ended && !left {
                let last = events.last().map(String::as_str);
                prop_assert!(matches!(last, Some("message_stop" | "error")), "ends with {:?}", last);
            }
        }
    }
}
