//! The Codex WebSocket transport's pure half (codex.md §1.1, §9.5; CONVERSION.md §12): the
//! `response.create` message, the decision "is this request an append to the last one on this
//! socket?", and what a finished turn leaves for the next one to be checked against.
//!
//! Over the socket a turn may name `previous_response_id` and send only the input items that
//! follow that response: the backend keeps the previous request's input and its output on the
//! socket. A request is an append when, byte for byte, every top-level field but `input` is the
//! same as last time, its input starts with all of last time's input items, and the items after
//! them start with the client's echo of the previous answer (the same texts and calls, reasoning
//! aside), followed by at least one new item. Anything else (an edited history, a stop
//! sequence that cut the answer, a hosted tool's item the client cannot echo, a new system
//! prompt) is a full request. The host keeps one [`Chain`] per socket and sends what [`plan`]
//! says.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::hash::{Hash, Hasher};

/// Which transport the Codex lane uses (`codex_transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP only.
    Http,
    /// The socket where the model's catalog entry prefers it (`prefer_websockets`).
    Auto,
    /// The socket for every model.
    WebSocket,
}

impl Transport {
    /// From the config's word; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "http" => Some(Self::Http),
            "auto" => Some(Self::Auto),
            "websocket" => Some(Self::WebSocket),
            _ => None,
        }
    }

    /// Whether a request of a known session goes to the socket, given its model's catalog
    /// entry (`prefer_websockets`; `false` without an entry). Without a session there is
    /// nothing to continue: the host sends it by HTTP whatever this says.
    pub fn wants_socket(self, prefer_websockets: bool) -> bool {
        match self {
            Self::Http => false,
            Self::Auto => prefer_websockets,
            Self::WebSocket => true,
        }
    }
}

/// Top-level fields never copied into a message: the transport's own (`stream`,
/// `background`), and the two the message itself sets (`type`, `previous_response_id`; a body
/// of ours has neither, and a second copy would win over the message's).
const NOT_COPIED: &[&str] = &["stream", "background", "type", "previous_response_id"];

/// A Codex request body split for the socket: its top-level fields as sent, and its input
/// items one by one. Borrowed from the body; nothing is re-serialized.
#[derive(Debug)]
pub struct Body<'a> {
    fields: Vec<(String, &'a RawValue)>,
    input: Vec<&'a RawValue>,
}

impl<'a> Body<'a> {
    /// Split a body; `None` when it is not an object with an `input` array (the host then uses
    /// HTTP, which needs no split).
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let top: Vec<(String, &'a RawValue)> = serde_json::from_slice::<Fields<'a>>(body).ok()?.0;
        let mut input = None;
        let mut fields = Vec::with_capacity(top.len());
        for (k, v) in top {
            if k == "input" {
                input = Some(serde_json::from_str::<Vec<&'a RawValue>>(v.get()).ok()?);
            } else if !NOT_COPIED.contains(&k.as_str()) {
                fields.push((k, v));
            }
        }
        Some(Self {
            fields,
            input: input?,
        })
    }

    /// Which conversation this is, as far as the body tells: its model and instructions. A
    /// socket keeps one previous response, so requests that interleave on one session (a
    /// title request on a small model between a conversation's turns) need a socket each.
    pub fn lineage(&self) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        for (k, v) in &self.fields {
            if k == "model" || k == "instructions" {
                k.hash(&mut h);
                v.get().hash(&mut h);
            }
        }
        h.finish()
    }

    /// How many input items it has.
    pub fn items(&self) -> usize {
        self.input.len()
    }

    /// What a chain keeps of this body once it is sent: digests, not bytes.
    pub fn sent(&self) -> Sent {
        Sent {
            head: self
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), digest(v)))
                .collect(),
            items: self.input.iter().map(|r| digest(r)).collect(),
        }
    }
}

/// A JSON object's members in document order, borrowed.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Fields<'a>, M::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn digest(raw: &RawValue) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    raw.get().hash(&mut h);
    h.finish()
}

/// A sent body's digests: its fields but `input`, and each input item.
#[derive(Debug, Clone)]
pub struct Sent {
    head: Vec<(String, u64)>,
    items: Vec<u64>,
}

/// What one answer said, as the client will echo it: texts and calls in order, reasoning left
/// out (a client may drop its thinking blocks; the backend keeps them either way).
#[derive(Debug, Clone, PartialEq)]
enum Said {
    Text(String),
    Call {
        call_id: String,
        name: String,
        arguments: Value,
    },
    Search {
        call_id: String,
        arguments: Value,
    },
}

/// What an item says, or `Err` for an item no echo can match (a hosted tool's call).
fn said(item: &Value) -> Result<Option<Said>, ()> {
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match item.get("type").and_then(Value::as_str) {
        Some("reasoning") => Ok(None),
        Some("message") if item.get("role").and_then(Value::as_str) == Some("assistant") => {
            let text: String = item
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            Ok((!text.is_empty()).then_some(Said::Text(text)))
        }
        Some("function_call") => {
            let raw = item.get("arguments").and_then(Value::as_str).unwrap_or("");
            // The echo re-serializes the arguments the client parsed: compare values.
            let arguments = serde_json::from_str(raw).unwrap_or(Value::String(raw.to_owned()));
            Ok(Some(Said::Call {
                call_id: s("call_id"),
                name: s("name"),
                arguments,
            }))
        }
        Some("tool_search_call") => Ok(Some(Said::Search {
            call_id: s("call_id"),
            arguments: item.get("arguments").cloned().unwrap_or(Value::Null),
        })),
        _ => Err(()),
    }
}

/// Adjacent texts joined: how blocks split into messages is not part of what was said.
fn push_said(out: &mut Vec<Said>, s: Said) {
    if let (Some(Said::Text(last)), Said::Text(t)) = (out.last_mut(), &s) {
        last.push_str(t);
        return;
    }
    out.push(s);
}

/// Whether an input item can be part of the client's echo of an answer.
fn is_answer_item(item: &Value) -> bool {
    match item.get("type").and_then(Value::as_str) {
        Some("reasoning" | "function_call" | "tool_search_call") => true,
        Some("message") => item.get("role").and_then(Value::as_str) == Some("assistant"),
        _ => false,
    }
}

/// What a finished turn on a socket leaves for the next: the response to continue from and
/// what the next request must start with.
#[derive(Debug, Clone)]
pub struct Chain {
    response_id: String,
    head: Vec<(String, u64)>,
    items: Vec<u64>,
    answer: Vec<Said>,
}

/// How to send a request on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The whole input, no `previous_response_id`; `why` not an append, for the debug log.
    Full {
        /// What differed.
        why: String,
    },
    /// Only the input items from `from` on, after `previous_response_id`.
    Append {
        /// The previous turn's response id.
        previous_response_id: String,
        /// The first new item's index.
        from: usize,
    },
}

/// Whether `next` (whose digests are `sent`) is an append to the turn `prev` describes.
pub fn plan(prev: Option<&Chain>, next: &Body<'_>, sent: &Sent) -> Plan {
    let full = |why: &str| Plan::Full { why: why.into() };
    let Some(prev) = prev else {
        return full("no previous turn on this socket");
    };
    let n = prev.items.len();
    if sent.head != prev.head {
        let changed: Vec<&str> = sent
            .head
            .iter()
            .filter(|f| !prev.head.contains(f))
            .map(|(k, _)| k.as_str())
            .chain(
                prev.head
                    .iter()
                    .filter(|(k, _)| !sent.head.iter().any(|(j, _)| j == k))
                    .map(|(k, _)| k.as_str()),
            )
            .collect();
        return full(&format!("changed: {}", changed.join(", ")));
    }
    if sent.items.len() <= n || sent.items[..n] != prev.items[..] {
        return full("the input does not start with the previous one");
    }
    // The echo: the answer items right after the previous input.
    let mut echo = Vec::new();
    let mut from = n;
    while let Some(raw) = next.input.get(from) {
        let Ok(item) = serde_json::from_str::<Value>(raw.get()) else {
            return full("an item is not JSON");
        };
        if !is_answer_item(&item) {
            break;
        }
        match said(&item) {
            Ok(Some(s)) => push_said(&mut echo, s),
            Ok(None) => {}
            Err(()) => return full("the echo holds an item no answer has"),
        }
        from += 1;
    }
    // Nothing new after the echo: the backend would answer the previous turn again.
    if echo != prev.answer {
        return full("the echoed answer differs from the answer");
    }
    if from == next.input.len() {
        return full("nothing new after the answer");
    }
    Plan::Append {
        previous_response_id: prev.response_id.clone(),
        from,
    }
}

/// The start of the backend's message for a continuation it does not know (codex.md §9.5):
/// the socket lost its state, not a refusal of continuation as such.
const UNKNOWN_PREVIOUS: &str = "Invalid previous_response_id";

/// The key under which a socket message says what the Lite header says over HTTP (codex.md
/// §9.2): a socket carries turns of several profiles, so the profile goes with each message.
pub const LITE_METADATA: &str = "ws_request_header_x_openai_internal_codex_responses_lite";

/// The `response.create` message for `body` as `plan` says; `lite`: the request is in the
/// Responses Lite profile.
pub fn message(body: &Body<'_>, plan: &Plan, lite: bool) -> String {
    let (previous, from) = match plan {
        Plan::Full { .. } => (None, 0),
        Plan::Append {
            previous_response_id,
            from,
        } => (Some(previous_response_id.as_str()), *from),
    };
    let items = &body.input[from.min(body.input.len())..];
    let size: usize = body
        .fields
        .iter()
        .map(|(k, v)| k.len() + v.get().len() + 4)
        .sum::<usize>()
        + items.iter().map(|r| r.get().len() + 1).sum::<usize>()
        + 96;
    // Written from `str` pieces, so the socket's text frame needs no UTF-8 check.
    let mut out = String::with_capacity(size);
    out.push_str(r#"{"type":"response.create""#);
    for (k, v) in &body.fields {
        out.push(',');
        // Keys came from a JSON document: re-quote them exactly.
        out.push_str(&serde_json::to_string(k.as_str()).unwrap_or_default());
        out.push(':');
        out.push_str(v.get());
    }
    if lite && !body.fields.iter().any(|(k, _)| k == "client_metadata") {
        out.push_str(r#","client_metadata":{""#);
        out.push_str(LITE_METADATA);
        out.push_str(r#"":"true"}"#);
    }
    if let Some(id) = previous {
        out.push_str(r#","previous_response_id":"#);
        out.push_str(&serde_json::to_string(id).unwrap_or_default());
    }
    out.push_str(r#","input":["#);
    for (i, r) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r.get());
    }
    out.push_str("]}");
    out
}

/// What a frame from the socket is, for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Quota or metadata before the turn's own events (`codex.rate_limits`,
    /// `response.metadata`, `codex.response.metadata`): it decides nothing; [`frame_headers`]
    /// reads what it says.
    Preamble,
    /// An event of the turn: feed it on.
    Event,
    /// The turn's last event (`response.completed`, `.failed`, `.incomplete`): feed it on;
    /// the socket is free again.
    Last,
    /// An `error` event: before any output the host sends the request again in full over HTTP
    /// (an unknown `previous_response_id`, a connection limit, anything); after output the
    /// client gets it like any stream error.
    Error,
}

/// One turn on a socket as it goes: classifies frames and remembers what the answer said.
#[derive(Debug, Default)]
pub struct Turn {
    response_id: Option<String>,
    created: bool,
    answer: Vec<Said>,
    done_items: bool,
    doubt: bool,
    completed: bool,
}

impl Turn {
    /// Whether `response.created` came (every turn starts with it).
    pub fn started(&self) -> bool {
        self.created
    }

    /// Classify one text frame and take note of it.
    pub fn frame(&mut self, text: &[u8]) -> Frame {
        // Only the few events that matter are parsed whole; deltas are passed by their type.
        let ty = event_type(text);
        match ty.as_deref() {
            Some("error") => {
                self.doubt = true;
                Frame::Error
            }
            Some("response.created") => {
                self.created = true;
                if let Some(id) = parse(text).and_then(|v| {
                    v.pointer("/response/id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                }) {
                    self.response_id = Some(id);
                }
                Frame::Event
            }
            Some("response.output_item.done") => {
                self.done_items = true;
                match parse(text).as_ref().and_then(|v| v.get("item")).map(said) {
                    Some(Ok(Some(s))) => push_said(&mut self.answer, s),
                    Some(Ok(None)) => {}
                    _ => self.doubt = true,
                }
                Frame::Event
            }
            Some("response.completed" | "response.done") => {
                let v = parse(text);
                if let Some(r) = v.as_ref().and_then(|v| v.get("response")) {
                    if let Some(id) = r.get("id").and_then(Value::as_str) {
                        self.response_id = Some(id.to_owned());
                    }
                    // Without per-item events, the answer is the response's output.
                    if !self.done_items {
                        for item in r
                            .get("output")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            match said(item) {
                                Ok(Some(s)) => push_said(&mut self.answer, s),
                                Ok(None) => {}
                                Err(()) => self.doubt = true,
                            }
                        }
                    }
                }
                self.completed = true;
                Frame::Last
            }
            Some("response.failed" | "response.incomplete") => {
                self.doubt = true;
                Frame::Last
            }
            Some("codex.rate_limits" | "response.metadata" | "codex.response.metadata") => {
                Frame::Preamble
            }
            _ => Frame::Event,
        }
    }

    /// The chain the next request on this socket is checked against: only after a completed
    /// answer whose every item the client can echo.
    pub fn chain(self, sent: Sent) -> Option<Chain> {
        if !self.completed || self.doubt {
            return None;
        }
        Some(Chain {
            response_id: self.response_id?,
            head: sent.head,
            items: sent.items,
            answer: self.answer,
        })
    }
}

fn parse(text: &[u8]) -> Option<Value> {
    serde_json::from_slice(text).ok()
}

/// The event's `type`, read without parsing the event when it comes first (as the backend
/// writes it), else from the parsed event.
fn event_type(text: &[u8]) -> Option<String> {
    const LEAD: &[u8] = br#"{"type":""#;
    if let Some(rest) = text.strip_prefix(LEAD)
        && let Some(end) = rest.iter().position(|&b| b == b'"' || b == b'\\')
        && rest[end] == b'"'
    {
        return std::str::from_utf8(&rest[..end]).ok().map(str::to_owned);
    }
    parse(text)?.get("type")?.as_str().map(str::to_owned)
}

/// What an `error` frame says, for the host's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status it names, if any.
    pub status: Option<u16>,
    /// It is the lost-state `Invalid previous_response_id.`: the socket forgot the previous
    /// response, which says nothing about whether continuation works.
    pub lost_state: bool,
}

/// Read an `error` frame.
pub fn refusal(text: &[u8]) -> Refusal {
    let v = parse(text);
    let status = v
        .as_ref()
        .and_then(|v| v.get("status"))
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    let message = v
        .as_ref()
        .and_then(|v| v.pointer("/error/message").or_else(|| v.get("message")))
        .and_then(Value::as_str)
        .unwrap_or("");
    Refusal {
        status,
        lost_state: message.starts_with(UNKNOWN_PREVIOUS),
    }
}

/// The response headers a socket frame stands for: a `codex.rate_limits` event is the
/// `x-codex-*` quota headers of an HTTP answer (codex.md §5), a `codex.response.metadata`
/// event carries headers as they are. Empty for any other frame.
pub fn frame_headers(text: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(v) = parse(text) else {
        return out;
    };
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match v.get("type").and_then(Value::as_str) {
        Some("codex.rate_limits") => {
            if let Some(plan) = v.get("plan_type").and_then(scalar) {
                out.push(("x-codex-plan-type".into(), plan));
            }
            let limits = v.get("rate_limits");
            for window in ["primary", "secondary"] {
                let Some(w) = limits.and_then(|l| l.get(window)) else {
                    continue;
                };
                for (field, header) in [
                    ("used_percent", "used-percent"),
                    ("window_minutes", "window-minutes"),
                    ("reset_after_seconds", "reset-after-seconds"),
                    ("reset_at", "reset-at"),
                ] {
                    if let Some(x) = w.get(field).and_then(scalar) {
                        out.push((format!("x-codex-{window}-{header}"), x));
                    }
                }
            }
            if limits.and_then(|l| l.get("limit_reached")) == Some(&Value::Bool(true)) {
                out.push((
                    "x-codex-rate-limit-reached-type".into(),
                    "rate_limit_reached".into(),
                ));
            }
        }
        Some("codex.response.metadata" | "response.metadata") => {
            if let Some(h) = v.get("headers").and_then(Value::as_object) {
                for (k, x) in h {
                    if let Some(x) = scalar(x) {
                        out.push((k.to_ascii_lowercase(), x));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// A frame as the SSE event the same translator reads over HTTP.
pub fn sse(text: &[u8], out: &mut Vec<u8>) {
    out.reserve(text.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(text);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(input: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "model": "gpt-5.5", "instructions": "be brief", "stream": true, "store": false,
            "tools": [{"type": "function", "name": "Read"}], "input": input,
        }))
        .expect("test value")
    }

    fn plan_of(chain: &Chain, b: &[u8]) -> Plan {
        let body = Body::parse(b).expect("test value");
        plan(Some(chain), &body, &body.sent())
    }

    fn user(t: &str) -> Value {
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]})
    }

    fn finish(turn: &mut Turn, id: &str, items: &[Value]) {
        let created = json!({"type": "response.created", "response": {"id": id}}).to_string();
        assert_eq!(turn.frame(created.as_bytes()), Frame::Event);
        for it in items {
            let f = json!({"type": "response.output_item.done", "item": it}).to_string();
            assert_eq!(turn.frame(f.as_bytes()), Frame::Event);
        }
        let done = json!({"type": "response.completed", "response": {"id": id, "output": []}});
        assert_eq!(turn.frame(done.to_string().as_bytes()), Frame::Last);
    }

    /// Turn 1 asks; the model calls Read; turn 2 echoes the call and adds its result.
    fn two_turns() -> (Vec<u8>, Vec<u8>, Chain) {
        let b1 = body(json!([user("read a")]));
        let call = json!({"type": "function_call", "id": "fc_1", "status": "completed",
            "call_id": "call_1", "name": "Read", "arguments": "{\"path\": \"a\"}"});
        let text = json!({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "annotations": [], "text": "Reading."}]});
        let mut turn = Turn::default();
        finish(
            &mut turn,
            "resp_1",
            &[
                json!({"type": "reasoning", "id": "rs_1", "summary": []}),
                text,
                call,
            ],
        );
        let chain = turn
            .chain(Body::parse(&b1).expect("test value").sent())
            .expect("test value");
        let b2 = body(json!([
            user("read a"),
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Reading."}]},
            {"type": "function_call", "name": "Read", "arguments": "{\"path\":\"a\"}", "call_id": "call_1"},
            {"type": "function_call_output", "call_id": "call_1", "output": "contents"},
        ]));
        (b1, b2, chain)
    }

    #[test]
    fn an_echoed_answer_and_a_tool_result_are_an_append_of_the_new_items_only() {
        let (_, b2, chain) = two_turns();
        let body = Body::parse(&b2).expect("test value");
        let plan = plan(Some(&chain), &body, &body.sent());
        assert_eq!(
            plan,
            Plan::Append {
                previous_response_id: "resp_1".into(),
                from: 3
            }
        );
        let msg: Value = serde_json::from_str(&message(&body, &plan, false)).expect("test value");
        assert_eq!(msg["type"], "response.create");
        assert_eq!(msg["previous_response_id"], "resp_1");
        assert_eq!(
            msg["input"],
            json!([{"type": "function_call_output", "call_id": "call_1", "output": "contents"}])
        );
        assert_eq!(msg["instructions"], "be brief");
        assert!(
            msg.get("stream").is_none(),
            "stream is the transport's: {msg}"
        );
    }

    #[test]
    fn anything_but_a_faithful_append_is_a_full_request() {
        let (_, b2, chain) = two_turns();
        let v: Value = serde_json::from_slice(&b2).expect("test value");
        let variant = |f: &dyn Fn(&mut Value)| {
            let mut v = v.clone();
            f(&mut v);
            serde_json::to_vec(&v).expect("test value")
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "edited history",
                variant(&|v| v["input"][0] = user("read b")),
            ),
            (
                "other instructions",
                variant(&|v| v["instructions"] = json!("be long")),
            ),
            ("other model", variant(&|v| v["model"] = json!("gpt-5.6"))),
            (
                "answer cut short",
                variant(&|v| v["input"][1]["content"][0]["text"] = json!("Read")),
            ),
            (
                "other call arguments",
                variant(&|v| v["input"][2]["arguments"] = json!("{\"path\":\"b\"}")),
            ),
            (
                "call left out",
                variant(&|v| {
                    v["input"].as_array_mut().expect("test value").remove(2);
                }),
            ),
            (
                "nothing new",
                variant(&|v| {
                    v["input"].as_array_mut().expect("test value").pop();
                }),
            ),
        ];
        for (what, b) in cases {
            assert!(matches!(plan_of(&chain, &b), Plan::Full { .. }), "{what}");
        }
        let b = Body::parse(&b2).expect("test value");
        assert!(matches!(plan(None, &b, &b.sent()), Plan::Full { .. }));
    }

    #[test]
    fn a_full_message_carries_every_item_and_every_field_but_the_transports() {
        let (b1, _, _) = two_turns();
        let body = Body::parse(&b1).expect("test value");
        let msg: Value =
            serde_json::from_str(&message(&body, &Plan::Full { why: String::new() }, false))
                .expect("test value");
        let mut expect: Value = serde_json::from_slice(&b1).expect("test value");
        expect.as_object_mut().expect("test value").remove("stream");
        expect["type"] = json!("response.create");
        assert_eq!(msg, expect);
    }

    #[test]
    fn an_answer_the_client_cannot_echo_leaves_no_chain() {
        let b1 = body(json!([user("search")]));
        for last in [
            json!({"type": "response.failed", "response": {"id": "r"}}),
            json!({"type": "response.incomplete", "response": {"id": "r"}}),
        ] {
            let mut t = Turn::default();
            t.frame(
                json!({"type": "response.created", "response": {"id": "r"}})
                    .to_string()
                    .as_bytes(),
            );
            assert_eq!(t.frame(last.to_string().as_bytes()), Frame::Last);
            assert!(
                t.chain(Body::parse(&b1).expect("test value").sent())
                    .is_none()
            );
        }
        let mut t = Turn::default();
        finish(
            &mut t,
            "r",
            &[json!({"type": "web_search_call", "id": "ws_1", "status": "completed"})],
        );
        assert!(
            t.chain(Body::parse(&b1).expect("test value").sent())
                .is_none(),
            "a hosted call"
        );
        let mut t = Turn::default();
        let err = json!({"type": "error", "status": 400, "error": {"type": "invalid_request_error", "message": "Invalid previous_response_id."}});
        assert_eq!(t.frame(err.to_string().as_bytes()), Frame::Error);
        let r = refusal(err.to_string().as_bytes());
        assert_eq!((r.status, r.lost_state), (Some(400), true));
        let lite = json!({"type": "error", "status": 400, "error": {"message": "previous_response_id is not supported here."}});
        assert!(!refusal(lite.to_string().as_bytes()).lost_state);
        assert!(
            t.chain(Body::parse(&b1).expect("test value").sent())
                .is_none()
        );
    }

    #[test]
    fn the_answer_is_read_from_the_completed_response_when_no_item_events_came() {
        let b1 = body(json!([user("hi")]));
        let mut t = Turn::default();
        let done = json!({"type": "response.completed", "response": {"id": "r9", "output": [
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hel"}, {"type": "output_text", "text": "lo"}]}]}});
        t.frame(done.to_string().as_bytes());
        let chain = t
            .chain(Body::parse(&b1).expect("test value").sent())
            .expect("test value");
        let b2 = body(json!([user("hi"),
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]},
            user("more")]));
        assert_eq!(
            plan_of(&chain, &b2),
            Plan::Append {
                previous_response_id: "r9".into(),
                from: 2
            }
        );
    }

    #[test]
    fn the_transport_follows_the_setting_and_the_catalog() {
        let wants = |t: &str, prefer| Transport::parse(t).map(|t| t.wants_socket(prefer));
        assert_eq!(wants("auto", true), Some(true));
        assert_eq!(wants("auto", false), Some(false));
        assert_eq!(wants("websocket", false), Some(true));
        assert_eq!(wants("http", true), Some(false));
        assert_eq!(wants("ws", true), None);
    }

    #[test]
    fn the_lineage_is_the_model_and_the_instructions() {
        let (b1, b2, _) = two_turns();
        let lineage = |b: &[u8]| Body::parse(b).expect("test value").lineage();
        assert_eq!(lineage(&b1), lineage(&b2));
        let mut v: Value = serde_json::from_slice(&b1).expect("test value");
        v["model"] = json!("gpt-5.4-mini");
        assert_ne!(
            lineage(&b1),
            lineage(&serde_json::to_vec(&v).expect("test value"))
        );
    }

    #[test]
    fn quota_events_are_the_headers_of_an_http_answer() {
        let ev = json!({"type": "codex.rate_limits", "plan_type": "pro", "rate_limits": {
            "allowed": true, "limit_reached": false,
            "primary": {"used_percent": 7, "window_minutes": 300, "reset_after_seconds": 13168, "reset_at": 1779398785},
            "secondary": {"used_percent": 29.5, "window_minutes": 10080}}, "code_review_rate_limits": null});
        assert_eq!(
            Turn::default().frame(ev.to_string().as_bytes()),
            Frame::Preamble
        );
        let h = frame_headers(ev.to_string().as_bytes());
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("x-codex-plan-type"), Some("pro"));
        assert_eq!(get("x-codex-primary-used-percent"), Some("7"));
        assert_eq!(get("x-codex-primary-reset-at"), Some("1779398785"));
        assert_eq!(get("x-codex-secondary-used-percent"), Some("29.5"));
        assert_eq!(get("x-codex-rate-limit-reached-type"), None);
        let meta =
            json!({"type": "codex.response.metadata", "headers": {"X-Models-Etag": "rev-2"}});
        assert_eq!(
            frame_headers(meta.to_string().as_bytes()),
            [("x-models-etag".to_owned(), "rev-2".to_owned())]
        );
        assert!(frame_headers(br#"{"type":"response.created"}"#).is_empty());
    }

    #[test]
    fn a_body_that_is_not_an_object_with_input_is_not_split() {
        assert!(Body::parse(b"[1]").is_none());
        assert!(Body::parse(br#"{"model":"m"}"#).is_none());
        assert!(Body::parse(br#"{"input":"text"}"#).is_none());
        let escaped = br#"{"input":[],"we\"ird":1}"#;
        let b = Body::parse(escaped).expect("test value");
        let msg: Value =
            serde_json::from_str(&message(&b, &Plan::Full { why: String::new() }, true))
                .expect("test value");
        assert_eq!(msg["we\"ird"], 1);
        assert_eq!(msg["client_metadata"][LITE_METADATA], "true");
    }

    #[test]
    fn frames_are_fed_on_as_the_sse_events_of_the_same_translator() {
        let mut out = Vec::new();
        sse(
            br#"{"type":"response.output_text.delta","delta":"x"}"#,
            &mut out,
        );
        assert_eq!(
            out,
            b"data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n"
        );
        let mut t = Turn::default();
        assert_eq!(
            t.frame(br#"{"sequence_number":1,"type":"error"}"#),
            Frame::Error
        );
    }
}
