//! Deterministic simulations of the exchange machine, one per row of the fault table in
//! docs/FAILURES.md: a virtual clock, a scripted upstream, no sockets, no sleeps. Each test
//! states the host's exact steps and what the client receives.

mod grammar;

use grammar::check_anthropic_stream;
use proxy_core::exchange::sim::{Scenario, Transcript, run};
use serde_json::{Value, json};

const TEXT_START: &str = concat!(
    "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"model\":\"gpt-5.5\",\"output\":[]},\"sequence_number\":0}\n\n",
    "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"content\":[],\"role\":\"assistant\"},\"sequence_number\":1}\n\n",
    "event: response.content_part.added\ndata: {\"type\":\"response.content_part.added\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":\"output_text\",\"annotations\":[],\"text\":\"\"},\"sequence_number\":2}\n\n",
);
const CREATED: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"model\":\"gpt-5.5\",\"output\":[]},\"sequence_number\":0}\n\n";

fn delta(text: &str) -> String {
    format!(
        "event: response.output_text.delta\ndata: {}\n\n",
        json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":text,"sequence_number":3})
    )
}

const COMPLETED: &str = "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"model\":\"gpt-5.5\",\"output\":[],\"usage\":{\"input_tokens\":10,\"output_tokens\":2,\"total_tokens\":12}},\"sequence_number\":9}\n\n";

/// A whole successful answer "Hi".
fn ok() -> Value {
    json!([{"head": {"status": 200}}, {"bytes": format!("{TEXT_START}{}{COMPLETED}", delta("Hi"))}, "eof"])
}

fn error(status: u16, body: Value, headers: Value) -> Value {
    json!([{"head": {"status": status, "headers": headers}}, {"bytes": body.to_string()}, "eof"])
}

fn request(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
           "messages": [{"role": "user", "content": "hello"}]})
}

fn scenario(v: Value) -> Transcript {
    let mut v = v;
    if v.get("request").is_none() {
        v["request"] = request(true);
    }
    let s: Scenario = serde_json::from_value(v).expect("scenario");
    let t = run(&s);
    assert!(t.done, "the exchange must end: {:#?}", t.steps);
    t
}

fn steps(t: &Transcript) -> Vec<&str> {
    t.steps.iter().map(String::as_str).collect()
}

fn one_account() -> Value {
    json!([{"id": "acct-a", "token": "tok-a"}])
}

fn two_accounts() -> Value {
    json!([{"id": "acct-a", "token": "tok-a"}, {"id": "acct-b", "token": "tok-b"}])
}

fn hi_stream_ok(t: &Transcript) {
    assert_eq!(t.client.status, Some(200));
    assert!(t.client.ended);
    let events = check_anthropic_stream(&t.client.body);
    assert_eq!(events.last().map(String::as_str), Some("message_stop"));
    assert!(
        t.client.body.contains("\"text\":\"Hi\""),
        "{}",
        t.client.body
    );
}

#[test]
fn success_commits_on_first_output_and_finishes() {
    let t = scenario(json!({"accounts": one_account(), "upstream": [ok()]}));
    assert_eq!(
        steps(&t),
        [
            "0 pick excluding [] -> Account(\"acct-a\")",
            "0 token acct-a -> ready tok-a",
            "0 send #1 account acct-a (Bearer tok-a)",
            "0 commit 200",
            "0 emit 6 frames",
            "0 close upstream",
            "0 finish",
        ]
    );
    hi_stream_ok(&t);
    assert!(
        t.client
            .headers
            .contains(&("content-type".into(), "text/event-stream".into()))
    );
}

#[test]
fn unauthorized_then_refreshed_token_succeeds() {
    let t = scenario(json!({
        "accounts": one_account(),
        "upstream": [error(401, json!({"error": {"message": "token expired"}}), json!([])), ok()],
    }));
    assert_eq!(
        steps(&t)[..7],
        [
            "0 pick excluding [] -> Account(\"acct-a\")",
            "0 token acct-a -> ready tok-a",
            "0 send #1 account acct-a (Bearer tok-a)",
            "0 close upstream",
            "0 refresh acct-a -> ready tok-a-refreshed",
            "0 send #2 account acct-a (Bearer tok-a-refreshed)",
            "0 commit 200",
        ]
    );
    hi_stream_ok(&t);
}

#[test]
fn unauthorized_twice_moves_to_the_next_account_or_fails_401() {
    let e401 = || error(401, json!({"error": {"message": "bad token"}}), json!([]));
    let t = scenario(json!({"accounts": one_account(), "upstream": [e401(), e401()]}));
    assert_eq!(t.upstream_requests, 2);
    assert_eq!(
        steps(&t)[6..],
        [
            "0 close upstream",
            "0 pick excluding [\"acct-a\"] -> NoAccount { configured: true }",
            "0 fail 401",
        ]
    );
    assert!(t.client.body.contains("authentication_error") && t.client.body.contains("bad token"));

    let t = scenario(json!({"accounts": two_accounts(), "upstream": [e401(), e401(), ok()]}));
    assert_eq!(t.upstream_requests, 3);
    assert!(steps(&t).contains(&"0 send #3 account acct-b (Bearer tok-b)"));
    hi_stream_ok(&t);
}

#[test]
fn refresh_refused_for_good_excludes_the_account() {
    let t = scenario(json!({
        "accounts": [{"id": "acct-a", "token": "tok-a", "refresh": {"relogin": "refresh_token_reused"}}],
        "upstream": [error(401, json!({"error": {"message": "expired"}}), json!([]))],
    }));
    assert_eq!(
        steps(&t)[4..],
        [
            "0 refresh acct-a -> relogin (refresh_token_reused)",
            "0 pick excluding [\"acct-a\"] -> NoAccount { configured: true }",
            "0 fail 401",
        ]
    );
    assert!(
        t.client
            .body
            .contains("needs a new login (refresh_token_reused)")
    );
}

#[test]
fn usage_limit_with_a_short_reset_is_waited_out() {
    let limit = error(
        429,
        json!({"error": {"type": "usage_limit_reached", "message": "limit", "resets_in_seconds": 3}}),
        json!([]),
    );
    let t = scenario(json!({"accounts": one_account(), "upstream": [limit, ok()]}));
    assert_eq!(
        steps(&t)[3..9],
        [
            "0 close upstream",
            "0 cool down acct-a for gpt-5.5 until +3s",
            "0 pick excluding [] -> Exhausted { retry_after: 3 }",
            "3000 pick excluding [] -> Account(\"acct-a\")",
            "3000 token acct-a -> ready tok-a",
            "3000 send #2 account acct-a (Bearer tok-a)",
        ]
    );
    hi_stream_ok(&t);
}

#[test]
fn usage_limit_with_a_long_reset_rotates_with_a_cooldown_to_the_reset() {
    let limit = error(
        429,
        json!({"error": {"type": "usage_limit_reached", "message": "limit", "resets_in_seconds": 120}}),
        json!([]),
    );
    let t = scenario(json!({"accounts": two_accounts(), "upstream": [limit, ok()]}));
    assert_eq!(
        steps(&t)[3..7],
        [
            "0 close upstream",
            "0 cool down acct-a for gpt-5.5 until +120s",
            "0 pick excluding [\"acct-a\"] -> Account(\"acct-b\")",
            "0 token acct-b -> ready tok-b",
        ]
    );
    hi_stream_ok(&t);
}

#[test]
fn every_account_exhausted_answers_429_with_the_soonest_reset() {
    let limit = |s: u64| {
        error(
            429,
            json!({"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "resets_in_seconds": s}}),
            json!([]),
        )
    };
    let t = scenario(json!({"accounts": two_accounts(), "upstream": [limit(300), limit(120)]}));
    assert_eq!(t.upstream_requests, 2);
    assert_eq!(
        steps(&t)[9..],
        [
            "0 cool down acct-b for gpt-5.5 until +120s",
            "0 pick excluding [\"acct-a\", \"acct-b\"] -> NoAccount { configured: true }",
            "0 fail 429",
        ]
    );
    assert_eq!(t.client.status, Some(429));
    assert!(
        t.client
            .headers
            .contains(&("retry-after".into(), "120".into()))
    );

    // Cooling down from earlier requests (not excluded by this one): the pool says exhausted.
    let t = scenario(json!({"accounts": [
        {"id": "acct-a", "cooldown_until": 1_786_170_300u64},
        {"id": "acct-b", "cooldown_until": 1_786_170_090u64}]}));
    assert_eq!(t.upstream_requests, 0);
    assert!(
        t.client
            .headers
            .contains(&("retry-after".into(), "90".into()))
    );
    assert!(
        t.client
            .body
            .contains("(all accounts exhausted; the earliest resets in 90 s, at 06:21:30 UTC)"),
        "{}",
        t.client.body
    );
}

#[test]
fn payment_required_rotates_away_from_the_account() {
    let e402 = error(402, json!({"detail": "payment required"}), json!([]));
    let t = scenario(json!({"accounts": two_accounts(), "upstream": [e402, ok()]}));
    assert!(steps(&t).contains(&"0 cool down acct-a for gpt-5.5 until +60s"));
    assert!(steps(&t).contains(&"0 send #2 account acct-b (Bearer tok-b)"));
    hi_stream_ok(&t);
}

#[test]
fn server_error_then_success_after_a_backoff() {
    let e500 = error(500, json!({"error": {"message": "boom"}}), json!([]));
    let t = scenario(json!({"accounts": one_account(), "upstream": [e500, ok()]}));
    assert_eq!(
        steps(&t)[3..7],
        [
            "0 close upstream",
            "200 pick excluding [] -> Account(\"acct-a\")",
            "200 token acct-a -> ready tok-a",
            "200 send #2 account acct-a (Bearer tok-a)",
        ]
    );
    hi_stream_ok(&t);
}

#[test]
fn overload_inside_a_200_before_output_is_retried_invisibly() {
    let overloaded = json!([{"head": {"status": 200}}, {"bytes": format!(
        "{CREATED}event: response.failed\ndata: {}\n\n",
        json!({"type":"response.failed","response":{"id":"resp_1","status":"failed","error":{"code":"server_is_overloaded","message":"at capacity"},"output":[]}}))}, "eof"]);
    let t = scenario(json!({"accounts": one_account(), "upstream": [overloaded, ok()]}));
    assert_eq!(t.upstream_requests, 2);
    assert_eq!(steps(&t)[3], "0 close upstream");
    assert_eq!(steps(&t)[4], "200 pick excluding [] -> Account(\"acct-a\")");
    hi_stream_ok(&t);
    assert!(!t.client.body.contains("capacity"));
    assert_eq!(t.client.body.matches("message_start").count(), 2); // event name + type

    // A rate limit inside a 200 waits what it says ("try again in 1.5s").
    let limited = json!([{"head": {"status": 200}}, {"bytes": format!(
        "{CREATED}event: error\ndata: {}\n\n",
        json!({"type":"error","code":"rate_limit_exceeded","message":"Rate limit reached. Please try again in 1.5s."}))}, "eof"]);
    let t = scenario(json!({"accounts": one_account(), "upstream": [limited, ok()]}));
    assert_eq!(
        steps(&t)[4],
        "1500 pick excluding [] -> Account(\"acct-a\")"
    );
    hi_stream_ok(&t);
}

#[test]
fn early_eof_before_output_is_retried() {
    let cut = json!([{"head": {"status": 200}}, {"bytes": CREATED}, "eof"]);
    let t = scenario(json!({"accounts": one_account(), "upstream": [cut, ok()]}));
    assert_eq!(t.upstream_requests, 2);
    hi_stream_ok(&t);
}

#[test]
fn no_first_byte_before_the_deadline_is_retried() {
    let t = scenario(json!({
        "config": {"first_byte_timeout_ms": 1000},
        "accounts": one_account(),
        "upstream": [["hang"], ok()],
    }));
    assert_eq!(
        steps(&t)[3..5],
        [
            "1000 close upstream",
            "1200 pick excluding [] -> Account(\"acct-a\")"
        ]
    );
    hi_stream_ok(&t);
}

#[test]
fn silence_after_commit_pings_then_ends_with_a_closed_block_and_one_error() {
    let t = scenario(json!({
        "config": {"ping_interval_ms": 1000, "idle_timeout_ms": 2500},
        "accounts": one_account(),
        "upstream": [[{"head": {"status": 200}}, {"bytes": format!("{TEXT_START}{}", delta("Hi"))}, "hang"]],
    }));
    assert_eq!(
        steps(&t)[3..],
        [
            "0 commit 200",
            "0 emit 3 frames",
            "1000 emit 1 frames",
            "2000 emit 1 frames",
            "2500 emit 2 frames",
            "2500 close upstream",
            "2500 finish",
        ]
    );
    let events = check_anthropic_stream(&t.client.body);
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "ping",
            "ping",
            "content_block_stop",
            "error"
        ]
    );
    assert!(t.client.body.contains("timeout_error"));
}

#[test]
fn an_error_event_after_commit_closes_the_block_and_nothing_follows() {
    let t = scenario(json!({
        "accounts": one_account(),
        "upstream": [[{"head": {"status": 200}}, {"bytes": format!("{TEXT_START}{}", delta("Hi"))},
            {"bytes": format!(
            "event: error\ndata: {}\n\n{}",
            json!({"type":"error","code":"server_error","message":"broke"}),
            delta("after"))}, "eof"]],
    }));
    let events = check_anthropic_stream(&t.client.body);
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "error"
        ]
    );
    assert!(!t.client.body.contains("after"));
    assert_eq!(t.upstream_requests, 1);
}

#[test]
fn invalid_encrypted_content_is_retried_once_without_reasoning() {
    let tag = proxy_core::accounts::account_tag("acct-a");
    let sig = proxy_core::translate::signature::encode("gpt-5.5", Some(&tag), "ENC", &[7]);
    let req = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "pondered", "signature": sig}, {"type": "text", "text": "yes"}]},
            {"role": "user", "content": "again"}]});
    let bad = || {
        error(
            400,
            json!({"error": {"code": "invalid_encrypted_content", "message": "could not decrypt"}}),
            json!([]),
        )
    };
    let t = scenario(json!({"request": req, "accounts": one_account(), "upstream": [bad(), ok()]}));
    assert_eq!(
        steps(&t)[3..5],
        [
            "0 close upstream",
            "0 send #2 account acct-a (Bearer tok-a)"
        ]
    );
    assert!(t.upstream_bodies[0].contains("\"type\":\"reasoning\""));
    assert!(!t.upstream_bodies[1].contains("\"type\":\"reasoning\""));
    hi_stream_ok(&t);

    let t =
        scenario(json!({"request": req, "accounts": one_account(), "upstream": [bad(), bad()]}));
    assert_eq!(t.upstream_requests, 2);
    assert_eq!(t.client.status, Some(400));
}

/// Without a catalog entry the classic profile goes out; a Lite model refuses it with the
/// backend's text, and the one retry goes out in the Lite profile (docs/FAILURES.md).
#[test]
fn a_refused_wire_profile_is_switched_once() {
    let refusal = |msg: &str| {
        error(
            400,
            json!({"error": {"message": msg, "type": "invalid_request_error",
                             "param": "reasoning.context", "code": "unsupported_value"}}),
            json!([]),
        )
    };
    let lite_needed =
        "X-OpenAI-Internal-Codex-Responses-Lite requires `reasoning.context` to be `all_turns`.";
    let t = scenario(json!({"accounts": one_account(), "upstream": [refusal(lite_needed), ok()]}));
    assert_eq!(t.upstream_requests, 2);
    assert!(
        t.upstream_bodies[0].contains("\"instructions\""),
        "{}",
        t.upstream_bodies[0]
    );
    assert!(
        !t.upstream_bodies[1].contains("\"instructions\""),
        "{}",
        t.upstream_bodies[1]
    );
    assert!(
        t.upstream_bodies[1].contains("\"context\":\"all_turns\""),
        "{}",
        t.upstream_bodies[1]
    );
    hi_stream_ok(&t);
    // Refused in both profiles: the second refusal is the answer; no third request.
    let t = scenario(json!({"accounts": one_account(),
        "upstream": [refusal(lite_needed), refusal("This model is not supported when using X-OpenAI-Internal-Codex-Responses-Lite.")]}));
    assert_eq!(t.upstream_requests, 2);
    assert_eq!(t.client.status, Some(400));
}

#[test]
fn a_hold_commits_at_its_event_bound_or_its_commit_timeout() {
    // Comments after the start become pings: four held events reach a bound of four.
    let t = scenario(json!({
        "config": {"max_held_events": 4},
        "accounts": one_account(),
        "upstream": [[{"head": {"status": 200}}, {"bytes": format!("{CREATED}: a\n\n: b\n\n: c\n\n: d\n\n: e\n\n")}, "eof"]],
    }));
    assert_eq!(steps(&t)[3..5], ["0 commit 200", "0 emit 4 frames"]);

    let t = scenario(json!({
        "config": {"commit_timeout_ms": 8000, "ping_interval_ms": 10000, "idle_timeout_ms": 30000},
        "accounts": one_account(),
        "upstream": [[{"head": {"status": 200}}, {"bytes": CREATED}, "hang"]],
    }));
    assert_eq!(
        steps(&t)[3..6],
        [
            "8000 commit 200",
            "8000 emit 1 frames",
            "18000 emit 1 frames"
        ]
    );
    let events = check_anthropic_stream(&t.client.body);
    assert_eq!(events[..2], ["message_start", "ping"]);
    assert_eq!(events.last().map(String::as_str), Some("error"));
}

#[test]
fn client_gone_drops_the_upstream_and_emits_nothing_more() {
    let t = scenario(json!({
        "client_gone_at_ms": 500,
        "accounts": one_account(),
        "upstream": [[{"head": {"status": 200}}, {"bytes": format!("{TEXT_START}{}", delta("Hi"))}, {"wait": 1000}, {"bytes": delta("more")}, "eof"]],
    }));
    assert_eq!(
        steps(&t)[3..],
        [
            "0 commit 200",
            "0 emit 3 frames",
            "500 client gone",
            "500 close upstream"
        ]
    );
    assert!(!t.client.body.contains("more"));
}

#[test]
fn a_chat_providers_429_is_answered_at_once_not_waited_out() {
    let long = error(
        429,
        json!({"error": {"message": "slow down"}}),
        json!([["retry-after", "30"]]),
    );
    let t = scenario(json!({"lane": "chat", "upstream": [long]}));
    assert_eq!(
        steps(&t),
        [
            "0 send #1 account - (Bearer provider-key)",
            "0 close upstream",
            "0 fail 429"
        ]
    );
    assert!(
        t.client
            .headers
            .contains(&("retry-after".into(), "30".into()))
    );

    // A short reset is waited once; the second 429 is the answer: two upstream requests.
    let short = || {
        error(
            429,
            json!({"error": {"message": "slow down"}}),
            json!([["retry-after", "1"]]),
        )
    };
    let t = scenario(json!({"lane": "chat", "upstream": [short(), short(), ok()]}));
    assert_eq!(t.upstream_requests, 2);
    assert_eq!(t.client.status, Some(429));
}

#[test]
fn after_the_last_attempt_the_answer_goes_out_at_once() {
    let e500 = || error(500, json!({"error": {"message": "boom"}}), json!([]));
    let t = scenario(
        json!({"config": {"max_attempts": 2}, "accounts": one_account(), "upstream": [e500(), e500()]}),
    );
    assert_eq!(t.steps.last().map(String::as_str), Some("200 fail 500"));
}

#[test]
fn a_request_that_can_never_succeed_gets_its_400_before_any_account_question() {
    let bad = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": "nope"});
    let t = scenario(json!({"request": bad, "accounts": []}));
    assert_eq!(t.client.status, Some(400));
    let t = scenario(json!({"accounts": []}));
    assert_eq!(t.client.status, Some(401));
    assert!(t.client.body.contains("no ChatGPT account is configured"));
}

#[test]
fn openai_clients_and_non_streaming_answers_take_the_same_path() {
    let req = json!({"model": "claude-sonnet-4-5", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let e503 = error(503, json!({"error": {"message": "busy"}}), json!([]));
    let t = scenario(
        json!({"dialect": "openai", "request": req, "accounts": one_account(), "upstream": [e503, ok()]}),
    );
    assert_eq!(t.upstream_requests, 2);
    assert!(
        t.client.body.contains("chat.completion.chunk")
            && t.client.body.ends_with("data: [DONE]\n\n")
    );

    let t =
        scenario(json!({"request": request(false), "accounts": one_account(), "upstream": [ok()]}));
    let msg: Value = serde_json::from_str(&t.client.body).expect("json");
    assert_eq!(msg["content"][0]["text"], "Hi");
    assert_eq!(msg["stop_reason"], "end_turn");
}

/// Found by fuzzing (fuzz/artifacts-found/exchange): reset times beyond any clock (a huge
/// `retry-after`, an HTTP date in year 9999+, a huge `resets_in_seconds`) must not overflow the
/// machine's deadline arithmetic; the answer is a 429 with a bounded retry-after.
#[test]
fn absurd_reset_times_do_not_overflow() {
    for headers in [
        json!([["retry-after", "99999999999999999999"]]),
        json!([["retry-after", "18446744073709551615"]]),
        json!([["retry-after", "Fri, 31 Dec 99999 23:59:59 GMT"]]),
    ] {
        let t = scenario(json!({"accounts": two_accounts(), "upstream": [
            error(429, json!({"error": {"type": "rate_limit_exceeded", "message": "slow"}}), headers.clone()),
            error(429, json!({"error": {"type": "usage_limit_reached", "message": "limit", "resets_in_seconds": 1.0e300}}), headers.clone()),
            ok(), ok()]}));
        assert!(t.client.status.is_some(), "{headers}");
    }
}

#[test]
fn a_committed_stream_keeps_no_copy_of_the_clients_body() {
    use proxy_core::exchange::{
        CodexTarget, Dialect, Exchange, ExchangeConfig, Inbound, Output, Pick, Target, TokenResult,
    };
    let body = serde_json::to_vec(&request(true)).expect("json");
    let inbound = Inbound::parse(Dialect::Anthropic, &body).expect("inbound");
    let route = proxy_core::RoutingTable::default().route(&inbound.model);
    let target = Target::Codex(CodexTarget {
        url: "http://codex.test/codex/responses".into(),
        user_agent: "t".into(),
        version: "1".into(),
    });
    let mut ex = Exchange::new(
        ExchangeConfig::default(),
        inbound,
        body.clone(),
        target,
        route,
        None,
        7,
        1_000,
    );
    // Runs the machine's outputs; says whether it sent, and whether it committed.
    let turn = |ex: &mut Exchange| {
        let (mut sent, mut committed) = (false, false);
        while let Some(out) = ex.poll() {
            match out {
                Output::PickAccount { .. } => ex.handle_pick(Pick::Account("a".into()), 1_000),
                Output::GetToken { .. } => ex.handle_token(TokenResult::Ready("t".into()), 1_000),
                Output::Send(_) => sent = true,
                Output::Commit { .. } => committed = true,
                _ => {}
            }
        }
        (sent, committed)
    };
    assert_eq!(turn(&mut ex), (true, false));
    // Held: a retry may still convert the body again.
    ex.handle_head::<String, String>(200, &[], 1_001);
    ex.handle_bytes(TEXT_START.as_bytes(), 1_002);
    assert_eq!(turn(&mut ex), (false, false));
    assert_eq!(ex.kept_request_bytes(), body.len());
    ex.handle_bytes(delta("Hi").as_bytes(), 1_003);
    assert_eq!(turn(&mut ex), (false, true));
    assert_eq!(ex.kept_request_bytes(), 0);
}
