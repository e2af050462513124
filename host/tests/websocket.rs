//! The Codex WebSocket transport through the real binary against the fake backend's socket
//! (http/codex_ws.rs, core continuation.rs): a growing conversation goes over one socket with
//! only its new items after the first turn, and every way the socket can fail ends in the
//! right answer to the client, by a full request over HTTP or on a new socket.

mod support;

use proxy_fakes::{FakeConfig, FakeServer, Logged};
use serde_json::{Value, json};
use support::{Proxy, ProxyOpts, client, sse_events};

/// A model of the classic profile in the fake's catalog (`gpt-5.5`): the one the socket
/// continues whatever the backend does with Lite turns (those have their own test).
const MODEL: &str = "gpt-5.5";

fn opts(fake: &FakeServer, transport: &str) -> ProxyOpts {
    let mut o = support::one_account(fake);
    o.env.push(("CCP_CODEX_TRANSPORT".into(), transport.into()));
    o
}

/// The Codex turns the fake answered (socket turns and HTTP requests), upgrades left out.
fn turns(fake: &FakeServer) -> Vec<Logged> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/backend-api/codex/responses") && r.method == "POST")
        .collect()
}

/// Upgrade requests and their statuses.
fn upgrades(fake: &FakeServer) -> Vec<u16> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/backend-api/codex/responses") && r.method == "GET")
        .map(|r| r.status)
        .collect()
}

fn input_len(l: &Logged) -> usize {
    l.json().expect("json body")["input"]
        .as_array()
        .map_or(0, Vec::len)
}

/// A Claude-Code-like conversation: every turn the model says a sentence and calls
/// `get_weather`; the client answers the call. `marks[k]` goes into turn k's tool result.
/// Turn `streamed` is a streaming request. Returns each turn's assistant content.
async fn converse(p: &Proxy, turns: usize, marks: &[(usize, &str)], streamed: usize) -> Vec<Value> {
    let c = client();
    let mut messages =
        vec![json!({"role": "user", "content": "Weather in Paris? [[scenario:text_then_tool]]"})];
    let mut answers = Vec::new();
    for k in 0..turns {
        let stream = k == streamed;
        let body = json!({
            "model": MODEL, "max_tokens": 1024, "stream": stream,
            "metadata": {"user_id": "user_abc_account__session_5f0b8c1e-1111-4222-8333-444455556666"},
            "tools": [{"name": "get_weather", "description": "Weather of a city",
                "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}}}],
            "messages": messages,
        });
        let r = c
            .post(format!("{}/v1/messages", p.base))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "turn {k}");
        let content = if stream {
            let text = r.text().await.expect("body");
            assembled(&text)
        } else {
            r.json::<Value>().await.expect("json")["content"].clone()
        };
        let texts: Vec<&str> = content
            .as_array()
            .expect("content")
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect();
        assert_eq!(
            texts,
            ["Let me check the weather for you."],
            "turn {k}: {content}"
        );
        let call = content
            .as_array()
            .and_then(|a| a.iter().find(|b| b["type"] == "tool_use"))
            .cloned()
            .unwrap_or_else(|| panic!("turn {k} has no tool call: {content}"));
        assert_eq!(call["name"], "get_weather");
        messages.push(json!({"role": "assistant", "content": content.clone()}));
        let mark = marks
            .iter()
            .find(|(t, _)| *t == k)
            .map_or(String::new(), |(_, m)| format!(" [[{m}]]"));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call["id"], "content": format!("Sunny, 21 °C (turn {k}){mark}")}]}));
        answers.push(content);
    }
    answers
}

/// A stream's content blocks, assembled as the SDKs do; its first and last events checked.
fn assembled(text: &str) -> Value {
    let events = sse_events(text);
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("message_start"));
    assert_eq!(
        events.last().map(|e| e.0.as_str()),
        Some("message_stop"),
        "{text}"
    );
    proxy_fakes::replay::assemble(text).0
}

async fn metrics_text(p: &Proxy) -> String {
    client()
        .get(format!("{}/metrics", p.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// POST an Anthropic body to the proxy, read the JSON answer.
async fn ask(p: &Proxy, body: &Value) -> Value {
    support::post_json(&client(), format!("{}/v1/messages", p.base), body).await
}

async fn metric(p: &Proxy, line: &str) -> u64 {
    let text = metrics_text(p).await;
    text.lines()
        .find_map(|l| l.strip_prefix(line).map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or_else(|| panic!("no {line} in {text}"))
}

/// Five turns of a tool-using conversation, one of them streamed: one socket, the first turn
/// in full, every later one only its new item (the tool result) after the previous response;
/// the backend's rebuilt input grows by exactly the answer and the result each turn, and the
/// client gets the same answers as over HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn a_growing_conversation_sends_only_its_new_items_over_one_socket() {
    let fake = support::fake().await;
    let p = Proxy::start(&fake, opts(&fake, "websocket"));
    let over_ws = converse(&p, 5, &[], 2).await;
    let ws_fake = &fake;
    let sent = turns(&fake);
    assert_eq!(upgrades(&fake), [101]);
    assert_eq!(sent.len(), 5);
    let items: Vec<Option<usize>> = sent.iter().map(|l| l.ws_items).collect();
    assert_eq!(items[0], Some(input_len(&sent[0])), "turn 1 goes in full");
    assert_eq!(
        &items[1..],
        [Some(1); 4],
        "later turns carry only the tool result"
    );
    for w in sent.windows(2) {
        // Each turn's context: the previous one's, the answer (reasoning, message, call) and
        // the result.
        let (a, b) = (
            w[0].json().expect("test value"),
            w[1].json().expect("test value"),
        );
        let (a, b) = (
            a["input"].as_array().expect("test value"),
            b["input"].as_array().expect("test value"),
        );
        assert_eq!(&b[..a.len()], &a[..]);
        assert_eq!(b.len(), a.len() + 4, "{:?}", &b[a.len()..]);
    }
    // The messages stay the same size while the context the backend holds grows.
    let later: Vec<usize> = sent[1..].iter().map(|l| l.wire_bytes).collect();
    let (lo, hi) = (
        *later.iter().min().expect("test value"),
        *later.iter().max().expect("test value"),
    );
    assert!(hi - lo < 16, "{later:?}");
    assert!(
        sent[4].body.len() > sent[1].body.len() + 1000,
        "{} {}",
        sent[4].body.len(),
        sent[1].body.len()
    );
    assert_eq!(
        metric(&p, "ccp_codex_ws_turns_total{kind=\"appended\"}").await,
        4
    );
    assert_eq!(metric(&p, "ccp_codex_ws_open").await, 1);
    // The quota came with the socket's rate-limit event (12 %; HTTP headers would say 9 %).
    let text = metrics_text(&p).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("ccp_account_quota_used_percent")
                && l.contains("window=\"primary\"")
                && l.ends_with(" 12")),
        "{text}"
    );
    drop(p);

    // The same conversation over HTTP gives the same answers, ids aside.
    let http = support::fake().await;
    let p = Proxy::start(&http, opts(&http, "http"));
    let over_http = converse(&p, 5, &[], 2).await;
    assert!(upgrades(&http).is_empty());
    assert!(turns(&http).iter().all(|l| l.ws_items.is_none()));
    let strip = |v: &[Value]| -> Vec<Value> {
        v.iter()
            .map(|c| {
                let mut c = c.clone();
                for b in c.as_array_mut().expect("test value") {
                    b.as_object_mut()
                        .expect("test value")
                        .retain(|k, _| k == "type" || k == "text" || k == "name" || k == "input");
                }
                c
            })
            .collect()
    };
    assert_eq!(strip(&over_ws), strip(&over_http));
    // What the backend had in context each turn: over the socket, the context it rebuilt from
    // the previous response and the appended items; over HTTP, the body. The same
    // conversation, reasoning and ids aside.
    let ws_sent = turns(ws_fake);
    let http_sent = turns(&http);
    for (k, (a, b)) in ws_sent.iter().zip(&http_sent).enumerate() {
        assert_eq!(context(a), context(b), "turn {}", k + 1);
    }
}

/// A turn's input as the model reads it: roles and texts, calls by name and arguments, results
/// by their output; reasoning and ids left out.
fn context(l: &Logged) -> Vec<Value> {
    let body = l.json().expect("json body");
    body["input"]
        .as_array()
        .expect("input")
        .iter()
        .filter(|i| i["type"] != "reasoning")
        .map(|i| match i["type"].as_str() {
            Some("message") => {
                let text: String = i["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["text"].as_str())
                    .collect();
                json!({"role": i["role"], "text": text})
            }
            Some("function_call") => {
                let args: Value = serde_json::from_str(i["arguments"].as_str().unwrap_or(""))
                    .unwrap_or(Value::Null);
                json!({"call": i["name"], "arguments": args})
            }
            Some("function_call_output") => json!({"result": i["output"]}),
            other => json!({"type": other}),
        })
        .collect()
}

/// The backend no longer knows the previous response (`Invalid previous_response_id.`, as for
/// an id of another socket): that turn goes again in full over HTTP, the client sees a normal
/// answer, and the next turn starts over on a new socket in full.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_previous_response_is_sent_again_in_full_over_http() {
    let fake = support::fake().await;
    let p = Proxy::start(&fake, opts(&fake, "websocket"));
    // Turn 2's tool result (sent with turn 3) makes the backend forget turn 3's response.
    converse(&p, 6, &[(1, "ws_forget")], usize::MAX).await;
    assert_eq!(fake.ws_refused(), 1);
    let sent = turns(&fake);
    let how: Vec<Option<usize>> = sent.iter().map(|l| l.ws_items).collect();
    // Turns 1-3 on the socket; turn 4 refused there (not a turn the backend ran) and sent by
    // HTTP; turn 5 in full on a new socket; turn 6 appended.
    assert_eq!(how.len(), 6, "{how:?}");
    assert_eq!(&how[1..3], [Some(1), Some(1)], "{how:?}");
    assert_eq!(how[3], None, "{how:?}");
    assert_eq!(how[4], Some(input_len(&sent[4])), "{how:?}");
    assert_eq!(how[5], Some(1), "{how:?}");
    assert_eq!(upgrades(&fake), [101, 101]);
    assert!(sent.iter().all(|l| l.status == 200));
    assert_eq!(
        metric(&p, "ccp_codex_ws_turns_total{kind=\"fell_back\"}").await,
        1
    );
}

/// The socket drops after `response.created`, before any output: the machine retries as for a
/// broken HTTP stream, on a new socket in full, and the client's answer is whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_socket_dropped_before_output_is_retried_in_full_on_a_new_one() {
    let fake = support::fake().await;
    let p = Proxy::start(&fake, opts(&fake, "websocket"));
    // Turn 2's tool result (sent with turn 3) drops the socket; turn 3 is streamed.
    converse(&p, 4, &[(1, "ws_drop")], 2).await;
    let sent = turns(&fake);
    let how: Vec<Option<usize>> = sent.iter().map(|l| l.ws_items).collect();
    // Turn 3 twice: appended (dropped), then in full on a new socket; turn 4 appended.
    assert_eq!(how.len(), 5, "{how:?}");
    assert_eq!(how[2], Some(1));
    assert_eq!(how[3], Some(input_len(&sent[3])));
    assert_eq!(how[4], Some(1));
    assert_eq!(upgrades(&fake), [101, 101]);
}

/// A backend that refuses the upgrade (426): every turn goes by HTTP, and the upgrade is not
/// tried again on every turn. `auto` follows the catalog's `prefer_websockets`, and a request
/// without a session (nothing to continue) never takes the socket.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_upgrade_and_the_transport_choice_leave_http() {
    let refusing = FakeServer::start(FakeConfig {
        refuse_websocket: Some(426),
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    let p = Proxy::start(&refusing, opts(&refusing, "websocket"));
    converse(&p, 3, &[], 1).await;
    assert_eq!(upgrades(&refusing), [426]);
    assert!(
        turns(&refusing)
            .iter()
            .all(|l| l.ws_items.is_none() && l.status == 200)
    );
    drop(p);

    // `auto`: the fake's catalog prefers the socket for every model.
    let fake = support::fake().await;
    let p = Proxy::start(&fake, opts(&fake, "auto"));
    converse(&p, 2, &[], usize::MAX).await;
    assert_eq!(upgrades(&fake), [101]);
    let body = support::request(MODEL, "text", false);
    let r = client()
        .post(format!("{}/v1/messages", p.base))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(
        turns(&fake).last().expect("test value").ws_items,
        None,
        "no session: HTTP"
    );
}

/// Failures answer the client the same way by socket as by HTTP: an HTTP error of the backend
/// (sent as an `error` frame before any output: the turn goes again over HTTP and gets the
/// backend's own answer there), and failures inside a stream (`response.failed`, an `error`
/// event after output, the connection dropped mid-response: whole answers and streams alike).
#[tokio::test(flavor = "multi_thread")]
async fn failures_reach_the_client_as_they_do_over_http() {
    // One request of a session to a fresh proxy and fake: its status, its body, and whether
    // the socket was tried.
    let once = |transport: &'static str, scenario: &'static str, stream: bool| async move {
        let fake = support::fake().await;
        let p = Proxy::start(&fake, opts(&fake, transport));
        let mut body = support::request(MODEL, scenario, stream);
        body["metadata"] =
            json!({"user_id": "user_abc_account__session_5f0b8c1e-1111-4222-8333-444455556666"});
        let r = client()
            .post(format!("{}/v1/messages", p.base))
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        let over_socket = turns(&fake).iter().any(|l| l.ws_items.is_some());
        (status, text, over_socket)
    };
    let answer = |transport, scenario| async move {
        let (status, text, over_socket) = once(transport, scenario, false).await;
        let v: Value = serde_json::from_str(&text).expect("json");
        (
            status,
            v["error"]["type"].clone(),
            v["error"]["message"].clone(),
            over_socket,
        )
    };
    for scenario in [
        "http_400",
        "http_429",
        "http_500",
        "failed_context",
        "error_event",
        "mid_stream_drop",
    ] {
        let (ws, http) = (
            answer("websocket", scenario).await,
            answer("http", scenario).await,
        );
        assert!(ws.3, "{scenario}: the socket was tried");
        assert!(!http.3);
        assert_eq!(
            (&ws.0, &ws.1, &ws.2),
            (&http.0, &http.1, &http.2),
            "{scenario}"
        );
        assert!(ws.0 >= 400, "{scenario}: {ws:?}");
    }
    // Streamed: the same events, to the error that ends the stream.
    let streamed = |transport, scenario| async move {
        let (_, text, over_socket) = once(transport, scenario, true).await;
        let events: Vec<(String, Value)> = sse_events(&text)
            .into_iter()
            .filter(|(e, _)| e != "ping")
            .map(|(e, d)| (e, d["delta"]["text"].clone()))
            .collect();
        (events, over_socket)
    };
    for scenario in ["mid_stream_drop", "error_event"] {
        let (ws, http) = (
            streamed("websocket", scenario).await,
            streamed("http", scenario).await,
        );
        assert!(ws.1 && !http.1, "{scenario}: the socket carried the first");
        assert_eq!(ws.0, http.0, "{scenario}");
        let last = ws.0.last().map(|e| e.0.as_str());
        assert_eq!(last, Some("error"), "{scenario}: {:?}", ws.0);
    }
}

/// The socket table's bounds: with room for one socket, two conversations that take turns
/// close each other's socket (least recently used first), so every turn opens one and goes in
/// full; with sockets that expire at once when idle, the same happens to one conversation.
/// Without those bounds (the control) both second turns are appends on two sockets. Every
/// answer is right either way.
#[tokio::test(flavor = "multi_thread")]
async fn the_cap_and_the_idle_expiry_close_sockets_and_turns_go_in_full() {
    for (env, what) in [
        (("CCP_CODEX_WS_MAX", "1"), "cap"),
        (("CCP_CODEX_WS_IDLE_SECS", "0.000001"), "idle"),
        (("CCP_CODEX_WS_MAX", "256"), "control"),
    ] {
        let fake = support::fake().await;
        let mut o = opts(&fake, "websocket");
        o.env.push((env.0.into(), env.1.into()));
        let p = Proxy::start(&fake, o);
        for turn in 0..2 {
            for session in [
                "5f0b8c1e-1111-4222-8333-444455556666",
                "6a1c9d2f-2222-4333-8444-555566667777",
            ] {
                // Each conversation's second turn carries the first's answer and a new prompt.
                let mut messages =
                    vec![json!({"role": "user", "content": "hello [[scenario:text]]"})];
                if turn == 1 {
                    messages.push(json!({"role": "assistant", "content": "Hello from the fake Codex backend."}));
                    messages.push(json!({"role": "user", "content": "and again"}));
                }
                let body = json!({"model": MODEL, "max_tokens": 64, "messages": messages,
                    "metadata": {"user_id": format!("user_abc_account__session_{session}")}});
                let v = ask(&p, &body).await;
                assert_eq!(
                    v["content"][0]["text"], "Hello from the fake Codex backend.",
                    "{what}: {v}"
                );
            }
        }
        let sent = turns(&fake);
        assert_eq!(sent.len(), 4, "{what}");
        let full: Vec<bool> = sent
            .iter()
            .map(|l| l.ws_items == Some(input_len(l)))
            .collect();
        if what == "control" {
            assert_eq!(full, [true, true, false, false]);
            assert_eq!(upgrades(&fake).len(), 2);
            assert_eq!(metric(&p, "ccp_codex_ws_open").await, 2);
        } else {
            assert_eq!(full, [true; 4], "{what}: every turn in full");
            assert_eq!(upgrades(&fake).len(), 4, "{what}: a socket per turn");
            assert!(metric(&p, "ccp_codex_ws_open").await <= 1, "{what}");
        }
    }
}

/// The backend closes an idle socket, or leaves it open and dead (a NAT that forgot it): the
/// next turn on it gets no answer (at once, or within `codex_ws_first_event_secs`), goes in
/// full over HTTP, and the turn after opens a new socket. The client sees nothing of it.
#[tokio::test(flavor = "multi_thread")]
async fn a_socket_closed_or_dead_while_idle_costs_the_next_turn_nothing_visible() {
    for mark in ["ws_close_after", "ws_mute"] {
        let fake = support::fake().await;
        let mut o = opts(&fake, "websocket");
        o.env
            .push(("CCP_CODEX_WS_FIRST_EVENT_SECS".into(), "0.3".into()));
        let p = Proxy::start(&fake, o);
        // Turn 2's own prompt carries the mark (its tool result goes with turn 3, after it).
        converse(&p, 5, &[(0, mark)], usize::MAX).await;
        let sent = turns(&fake);
        let how: Vec<Option<usize>> = sent.iter().map(|l| l.ws_items).collect();
        // Turns 1-2 on the socket (2 marks it); turn 3 by HTTP; 4 in full on a new socket; 5
        // appended.
        assert_eq!(how.len(), 5, "{mark}: {how:?}");
        assert_eq!(how[1], Some(1), "{mark}: {how:?}");
        assert_eq!(how[2], None, "{mark}: {how:?}");
        assert_eq!(how[3], Some(input_len(&sent[3])), "{mark}: {how:?}");
        assert_eq!(how[4], Some(1), "{mark}: {how:?}");
        assert_eq!(upgrades(&fake), [101, 101], "{mark}");
    }
}

/// Two requests of one conversation at once: one takes the socket, the other goes by HTTP
/// (a socket runs one turn at a time); both are answered.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_request_while_the_socket_is_busy_goes_by_http() {
    let fake = support::fake().await;
    let p = Proxy::start(&fake, opts(&fake, "websocket"));
    let ask = || {
        let mut body = support::request(MODEL, "slow_drip", false);
        body["metadata"] =
            json!({"user_id": "user_abc_account__session_5f0b8c1e-1111-4222-8333-444455556666"});
        client()
            .post(format!("{}/v1/messages", p.base))
            .json(&body)
            .send()
    };
    let (a, b) = tokio::join!(ask(), ask());
    assert_eq!(a.expect("send").status(), 200);
    assert_eq!(b.expect("send").status(), 200);
    let mut how: Vec<bool> = turns(&fake).iter().map(|l| l.ws_items.is_some()).collect();
    how.sort();
    assert_eq!(how, [false, true]);
}

/// A Responses Lite model over the socket: its profile rides in the message's metadata. A
/// backend that continues Lite turns gets them appended; one that refuses (as codex-rs never
/// sending Lite a `previous_response_id` suggests, codex.md §9.2, the fake's default) refuses
/// the first append, that turn goes over HTTP, and so do later Lite turns (a socket without
/// continuation would only lose HTTP's compression). Every answer is right either way.
#[tokio::test(flavor = "multi_thread")]
async fn a_lite_model_is_continued_or_learns_to_go_by_http() {
    for continues in [true, false] {
        let fake = FakeServer::start(FakeConfig {
            lite_continuation: continues,
            ..FakeConfig::default()
        })
        .await
        .expect("fake");
        let p = Proxy::start(&fake, opts(&fake, "websocket"));
        let mut messages = vec![json!({"role": "user", "content": "hello [[scenario:text]]"})];
        for turn in 0..3 {
            let body = json!({"model": "gpt-5.6-sol", "max_tokens": 256, "messages": messages,
                "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
                "metadata": {"user_id": "user_abc_account__session_5f0b8c1e-1111-4222-8333-444455556666"}});
            let v = ask(&p, &body).await;
            let text = v["content"]
                .as_array()
                .and_then(|a| a.last())
                .map(|b| b["text"].clone());
            assert_eq!(
                text,
                Some(json!("Hello from the fake Codex backend.")),
                "turn {turn}: {v}"
            );
            messages.push(json!({"role": "assistant", "content": v["content"]}));
            messages.push(json!({"role": "user", "content": format!("more {turn}")}));
        }
        let sent = turns(&fake);
        assert_eq!(sent.len(), 3, "{continues}");
        for l in &sent {
            assert_eq!(
                l.header("x-openai-internal-codex-responses-lite"),
                Some("true")
            );
            assert_eq!(
                l.json().expect("json")["input"][0]["type"],
                "additional_tools"
            );
        }
        let how: Vec<Option<usize>> = sent.iter().map(|l| l.ws_items).collect();
        assert_eq!(
            how[0],
            Some(input_len(&sent[0])),
            "{continues}: turn 1 in full"
        );
        let fell_back = metric(&p, "ccp_codex_ws_turns_total{kind=\"fell_back\"}").await;
        if continues {
            assert_eq!(&how[1..], [Some(1), Some(1)], "appended");
            assert_eq!(fell_back, 0);
        } else {
            assert_eq!(&how[1..], [None, None], "by HTTP after the refusal");
            assert_eq!(fell_back, 1, "one refused append, then no more tries");
        }
        assert_eq!(upgrades(&fake), [101]);
    }
}

/// A history the client edited (an earlier prompt changed) is not an append: that turn goes in
/// full on the same socket, and the conversation appends again from there.
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_history_goes_in_full_and_appends_again_after() {
    let fake = support::fake().await;
    let p = Proxy::start(&fake, opts(&fake, "websocket"));
    let session =
        json!({"user_id": "user_abc_account__session_5f0b8c1e-1111-4222-8333-444455556666"});
    let mut messages = vec![json!({"role": "user", "content": "first question [[scenario:text]]"})];
    for turn in 0..4 {
        if turn == 2 {
            messages[0] =
                json!({"role": "user", "content": "first question, edited [[scenario:text]]"});
        }
        let body =
            json!({"model": MODEL, "max_tokens": 256, "messages": messages, "metadata": session});
        let v = ask(&p, &body).await;
        assert_eq!(v["type"], "message", "turn {turn}: {v}");
        messages.push(json!({"role": "assistant", "content": v["content"]}));
        messages.push(json!({"role": "user", "content": format!("next {turn}")}));
    }
    let sent = turns(&fake);
    let full: Vec<bool> = sent
        .iter()
        .map(|l| l.ws_items == Some(input_len(l)))
        .collect();
    assert_eq!(full, [true, false, true, false]);
    assert_eq!(upgrades(&fake), [101]);
    // The edited turn's context is the edited history, not the socket's old one.
    let third = sent[2].json().expect("json");
    assert!(
        third["input"]
            .to_string()
            .contains("first question, edited")
    );
    assert!(
        !third["input"]
            .to_string()
            .contains("\"first question [[scenario")
    );
}

/// A socket that upgrades but refuses every turn (a backend, or a proxy in the way, that
/// speaks the transport differently) while HTTP serves the same turns: after two such turns
/// the socket is left alone, so later turns do not pay for a try that fails.
#[tokio::test(flavor = "multi_thread")]
async fn a_socket_that_fails_whole_turns_http_serves_is_left_alone() {
    let fake = FakeServer::start(FakeConfig {
        refuse_ws_turns: true,
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    let p = Proxy::start(&fake, opts(&fake, "websocket"));
    converse(&p, 4, &[], 1).await;
    assert_eq!(upgrades(&fake), [101, 101], "two tries, then none");
    let sent = turns(&fake);
    assert_eq!(sent.len(), 4);
    assert!(sent.iter().all(|l| l.ws_items.is_none() && l.status == 200));
    assert_eq!(
        metric(&p, "ccp_codex_ws_turns_total{kind=\"fell_back\"}").await,
        2
    );
}
