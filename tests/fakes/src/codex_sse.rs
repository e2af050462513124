//! Codex scenarios as scripted SSE bodies shaped like the real captures
//! (`shared/fixtures/codex-captures/*.sse`): `event:` + `data:` frames, `sequence_number`,
//! `obfuscation` on deltas, no `[DONE]`, `x-codex-*` rate headers on the 200.

use crate::codex::request_id;
use crate::server::{Logged, Req, Shared, Step, json_response, scripted_body, set_header};
use crate::util::{Rng, now_secs};
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// What a scenario needs from the validated request.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) model: String,
    pub(crate) instructions: Value,
    pub(crate) prompt_cache_key: Value,
    pub(crate) reasoning: Value,
    pub(crate) tools: Value,
    pub(crate) tool_choice: Value,
    pub(crate) parallel_tool_calls: Value,
    pub(crate) include_encrypted: bool,
    pub(crate) summary_requested: bool,
    pub(crate) reasoning_off: bool,
    pub(crate) has_tool_output: bool,
    pub(crate) write_path: String,
    /// The prompt-cache model's `(input_tokens, cached_tokens)`, when it is on.
    pub(crate) cache: Option<(u64, u64)>,
    /// The input items (the scripted agent reads its history).
    pub(crate) input: Vec<Value>,
}

pub(crate) const TEXT_ANSWER: &str = "Hello from the fake Codex backend.";
pub(crate) const WRITE_CONTENT: &str = "hello from the fake codex\n";
pub(crate) const WRITE_DONE: &str = "DONE: wrote the file.";

/// SSE frame writer: numbering, obfuscation, chunking.
pub(crate) struct Writer {
    seq: u64,
    steps: Vec<Step>,
    pending: Vec<u8>,
    /// 0 = one chunk per frame; otherwise flush when this many bytes are pending.
    coalesce: usize,
    /// Split each frame inside its first multi-byte character (exercises UTF-8 reassembly).
    split_utf8: bool,
    pub(crate) rng: Rng,
}

impl Writer {
    pub(crate) fn new(rng: Rng) -> Writer {
        Writer {
            seq: 0,
            steps: Vec::new(),
            pending: Vec::new(),
            coalesce: 0,
            split_utf8: false,
            rng,
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq - 1
    }

    fn obfuscation(&mut self, delta: &str) -> String {
        let n = 16usize.saturating_sub(delta.chars().count()).max(2);
        self.rng.alnum(n)
    }

    /// `event: ty` + `data: {"type":ty,"sequence_number":n,…fields}`.
    pub(crate) fn frame(&mut self, ty: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("type".into(), json!(ty));
        m.insert("sequence_number".into(), json!(self.next_seq()));
        if let Value::Object(f) = fields {
            for (k, v) in f {
                m.insert(k, v);
            }
        }
        let text = format!("event: {ty}\ndata: {}\n\n", Value::Object(m));
        self.raw(&text);
    }

    /// A delta frame: fields then `obfuscation`.
    fn delta_frame(&mut self, ty: &str, mut fields: Value, delta: &str) {
        let obf = self.obfuscation(delta);
        if let Some(m) = fields.as_object_mut() {
            m.insert("obfuscation".into(), json!(obf));
        }
        self.frame(ty, fields);
    }

    /// Bytes exactly as given.
    pub(crate) fn raw(&mut self, text: &str) {
        if self.coalesce > 0 {
            self.pending.extend_from_slice(text.as_bytes());
            if self.pending.len() >= self.coalesce {
                self.flush();
            }
            return;
        }
        if self.split_utf8
            && let Some((i, c)) = text.char_indices().find(|(_, c)| c.len_utf8() > 1)
        {
            let cut = i + c.len_utf8() / 2;
            let b = text.as_bytes();
            self.steps
                .push(Step::Data(Bytes::copy_from_slice(&b[..cut])));
            self.steps
                .push(Step::Data(Bytes::copy_from_slice(&b[cut..])));
            return;
        }
        self.steps
            .push(Step::Data(Bytes::copy_from_slice(text.as_bytes())));
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let data = std::mem::take(&mut self.pending);
            self.steps.push(Step::Data(Bytes::from(data)));
        }
    }

    pub(crate) fn sleep(&mut self, d: Duration) {
        self.flush();
        self.steps.push(Step::Sleep(d));
    }

    pub(crate) fn abort(&mut self) {
        self.flush();
        self.steps.push(Step::Abort);
    }

    pub(crate) fn into_steps(mut self) -> Vec<Step> {
        self.flush();
        self.steps
    }
}

/// Split text into word-ish deltas (leading spaces stay attached to the next word).
pub(crate) fn split_words(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if (c == ' ' || c == '\n' || c == '.') && !cur.is_empty() && !cur.ends_with([' ', '\n']) {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Split into pieces of at most `n` characters.
pub(crate) fn split_chars(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

pub(crate) fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Value {
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input + output
    })
}

fn default_usage() -> Value {
    usage(1200, 1000, 42, 10)
}

/// One response being scripted.
struct Turn<'a> {
    w: Writer,
    ctx: &'a Ctx,
    shared: &'a Shared,
    resp_id: String,
    base: String,
    created_at: u64,
    output: Vec<Value>,
    drip: Option<Duration>,
}

impl<'a> Turn<'a> {
    fn new(shared: &'a Shared, ctx: &'a Ctx) -> Turn<'a> {
        let mut rng = shared.rng();
        let base = rng.hex(18);
        let resp_id = format!("resp_{base}{}", rng.hex(32));
        Turn {
            w: Writer::new(rng),
            ctx,
            shared,
            resp_id,
            base,
            created_at: now_secs(),
            output: Vec::new(),
            drip: None,
        }
    }

    fn item_id(&mut self, prefix: &str) -> String {
        format!("{prefix}_{}{}", self.base, self.w.rng.hex(32))
    }

    fn response(&self, status: &str, output: Value, usage: Value) -> Value {
        json!({
            "id": self.resp_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": false,
            "error": null,
            "incomplete_details": null,
            "instructions": self.ctx.instructions,
            "max_output_tokens": null,
            "max_tool_calls": null,
            "model": format!("{}-2026-08-07", self.ctx.model),
            "output": output,
            "parallel_tool_calls": self.ctx.parallel_tool_calls,
            "previous_response_id": null,
            "prompt_cache_key": self.ctx.prompt_cache_key,
            "reasoning": self.ctx.reasoning,
            "safety_identifier": "user-fakeSafetyIdentifier0001",
            "service_tier": "auto",
            "store": false,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": self.ctx.tool_choice,
            "tools": self.ctx.tools,
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": usage,
            "user": null,
            "metadata": {}
        })
    }

    fn created(&mut self) {
        let r = self.response("in_progress", json!([]), Value::Null);
        self.w.frame("response.created", json!({"response": r}));
    }

    fn start(&mut self) {
        self.created();
        let r = self.response("in_progress", json!([]), Value::Null);
        self.w.frame("response.in_progress", json!({"response": r}));
    }

    fn mint_encrypted(&mut self) -> String {
        let blob = format!("gAAAAAB{}", self.w.rng.b64url(240));
        self.shared.lock().encrypted.insert(blob.clone());
        blob
    }

    /// A reasoning item; summaries only when the request asked for them, the encrypted
    /// blob only when `include` asked for it, nothing at all for `effort: "none"`.
    fn reasoning(&mut self, summaries: &[&str]) {
        if self.ctx.reasoning_off {
            return;
        }
        let id = self.item_id("rs");
        let idx = self.output.len();
        let mut item = json!({"id": id, "type": "reasoning", "summary": []});
        if self.ctx.include_encrypted {
            let blob = self.mint_encrypted();
            item["encrypted_content"] = json!(blob);
        }
        self.w.frame(
            "response.output_item.added",
            json!({"output_index": idx, "item": item}),
        );
        let summaries: &[&str] = if self.ctx.summary_requested {
            summaries
        } else {
            &[]
        };
        let mut parts = Vec::new();
        for (si, text) in summaries.iter().enumerate() {
            self.w.frame(
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": idx, "summary_index": si,
                       "part": {"type": "summary_text", "text": ""}}),
            );
            for d in split_words(text) {
                self.w.delta_frame(
                    "response.reasoning_summary_text.delta",
                    json!({"item_id": id, "output_index": idx, "summary_index": si, "delta": d}),
                    &d,
                );
            }
            self.w.frame(
                "response.reasoning_summary_text.done",
                json!({"item_id": id, "output_index": idx, "summary_index": si, "text": text}),
            );
            let part = json!({"type": "summary_text", "text": text});
            self.w.frame(
                "response.reasoning_summary_part.done",
                json!({"item_id": id, "output_index": idx, "summary_index": si, "part": part}),
            );
            parts.push(part);
        }
        item["summary"] = Value::Array(parts);
        self.w.frame(
            "response.output_item.done",
            json!({"output_index": idx, "item": item}),
        );
        self.output.push(item);
    }

    fn message_begin(&mut self) -> (String, usize) {
        let id = self.item_id("msg");
        let idx = self.output.len();
        self.w.frame(
            "response.output_item.added",
            json!({"output_index": idx, "item": {"id": id, "type": "message", "status": "in_progress",
                   "content": [], "role": "assistant"}}),
        );
        self.w.frame(
            "response.content_part.added",
            json!({"item_id": id, "output_index": idx, "content_index": 0,
                   "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}}),
        );
        (id, idx)
    }

    fn text_delta(&mut self, id: &str, idx: usize, delta: &str) {
        if let Some(d) = self.drip {
            self.w.sleep(d);
        }
        // Formatted by hand (same key order as `frame`): `big` writes 50 000 of these.
        let obf = self.w.obfuscation(delta);
        let seq = self.w.next_seq();
        let delta = Value::from(delta);
        self.w.raw(&format!(
            "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":{seq},\"item_id\":\"{id}\",\"output_index\":{idx},\"content_index\":0,\"delta\":{delta},\"logprobs\":[],\"obfuscation\":\"{obf}\"}}\n\n"
        ));
    }

    fn message_end(&mut self, id: &str, idx: usize, text: &str, status: &str) {
        self.message_end_cited(id, idx, text, status, Vec::new());
    }

    /// The end of a message item whose text carries `annotations` (url citations): the
    /// backend announces each, then repeats them all in the done part and item.
    fn message_end_cited(
        &mut self,
        id: &str,
        idx: usize,
        text: &str,
        status: &str,
        annotations: Vec<Value>,
    ) {
        for (i, a) in annotations.iter().enumerate() {
            self.w.frame(
                "response.output_text.annotation.added",
                json!({"item_id": id, "output_index": idx, "content_index": 0,
                       "annotation_index": i, "annotation": a}),
            );
        }
        self.w.frame(
            "response.output_text.done",
            json!({"item_id": id, "output_index": idx, "content_index": 0, "text": text, "logprobs": []}),
        );
        let part = json!({"type": "output_text", "annotations": annotations, "logprobs": [], "text": text});
        self.w.frame(
            "response.content_part.done",
            json!({"item_id": id, "output_index": idx, "content_index": 0, "part": part}),
        );
        let item = json!({"id": id, "type": "message", "status": status, "content": [part], "role": "assistant"});
        self.w.frame(
            "response.output_item.done",
            json!({"output_index": idx, "item": item}),
        );
        self.output.push(item);
    }

    fn message(&mut self, deltas: &[String]) {
        let (id, idx) = self.message_begin();
        for d in deltas {
            self.text_delta(&id, idx, d);
        }
        self.message_end(&id, idx, &deltas.concat(), "completed");
    }

    /// A web search item: announced, searched, done with its query and source urls.
    fn web_search(&mut self, query: &str, urls: &[&str]) {
        let id = self.item_id("ws");
        let idx = self.output.len();
        self.w.frame(
            "response.output_item.added",
            json!({"output_index": idx, "item": {"id": id, "type": "web_search_call", "status": "in_progress"}}),
        );
        for ev in [
            "response.web_search_call.in_progress",
            "response.web_search_call.searching",
            "response.web_search_call.completed",
        ] {
            self.w
                .frame(ev, json!({"item_id": id, "output_index": idx}));
        }
        let sources: Vec<Value> = urls
            .iter()
            .map(|u| json!({"type": "url", "url": u}))
            .collect();
        let item = json!({"id": id, "type": "web_search_call", "status": "completed",
                          "action": {"type": "search", "query": query, "sources": sources}});
        self.w.frame(
            "response.output_item.done",
            json!({"output_index": idx, "item": item}),
        );
        self.output.push(item);
    }

    fn function_call(&mut self, name: &str, arguments: &str) {
        let id = self.item_id("fc");
        let call_id = format!("call_{}", self.w.rng.alnum(24));
        let idx = self.output.len();
        self.w.frame(
            "response.output_item.added",
            json!({"output_index": idx, "item": {"id": id, "type": "function_call", "status": "in_progress",
                   "arguments": "", "call_id": call_id, "name": name}}),
        );
        for d in split_chars(arguments, 7) {
            self.w.delta_frame(
                "response.function_call_arguments.delta",
                json!({"item_id": id, "output_index": idx, "delta": d}),
                &d,
            );
        }
        self.w.frame(
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": idx, "arguments": arguments}),
        );
        let item = json!({"id": id, "type": "function_call", "status": "completed",
                          "arguments": arguments, "call_id": call_id, "name": name});
        self.w.frame(
            "response.output_item.done",
            json!({"output_index": idx, "item": item}),
        );
        self.output.push(item);
    }

    /// A client-executed tool search call (codex.md §9.6): no argument deltas; the done item
    /// carries the arguments as an object.
    fn tool_search_call(&mut self, arguments: Value) {
        let id = self.item_id("tsc");
        let call_id = format!("call_{}", self.w.rng.alnum(24));
        let idx = self.output.len();
        self.w.frame(
            "response.output_item.added",
            json!({"output_index": idx, "item": {"id": id, "type": "tool_search_call",
                   "status": "in_progress", "call_id": call_id, "execution": "client"}}),
        );
        let item = json!({"id": id, "type": "tool_search_call", "status": "completed",
                          "call_id": call_id, "execution": "client", "arguments": arguments});
        self.w.frame(
            "response.output_item.done",
            json!({"output_index": idx, "item": item}),
        );
        self.output.push(item);
    }

    fn completed(&mut self, mut usage: Value) {
        if let Some((input, cached)) = self.ctx.cache {
            usage["input_tokens"] = json!(input);
            usage["input_tokens_details"]["cached_tokens"] = json!(cached);
            let output = usage["output_tokens"].as_u64().unwrap_or(0);
            usage["total_tokens"] = json!(input + output);
        }
        let r = self.response("completed", Value::Array(self.output.clone()), usage);
        self.w.frame("response.completed", json!({"response": r}));
    }

    fn incomplete(&mut self, reason: &str, usage: Value) {
        let mut r = self.response("incomplete", Value::Array(self.output.clone()), usage);
        r["incomplete_details"] = json!({"reason": reason});
        self.w.frame("response.incomplete", json!({"response": r}));
    }

    fn failed(&mut self, code: &str, message: &str) {
        let mut r = self.response("failed", Value::Array(self.output.clone()), Value::Null);
        r["error"] = json!({"code": code, "message": message});
        self.w.frame("response.failed", json!({"response": r}));
    }
}

const TEXT_SUMMARY: &str =
    "**Answering the greeting**\n\nThe user wants a short reply, so I'll greet them briefly.";
const SUMMARY_1: &str = "**Planning the answer**\n\nI'll work out what is being asked and outline the steps before answering.";
const SUMMARY_2: &str =
    "**Writing the reply**\n\nNow I'll put the result into a short, friendly answer.";
const WEB_QUERY: &str = "rust 1.95 release date";
const WEB_URL_1: &str = "https://blog.rust-lang.example/2026/11/20/Rust-1.95.html";
const WEB_URL_2: &str = "https://cafe.example/changelog";
const WEB_ANSWER: &str = "Rust 1.95 was released on 2026-11-20 — see the café changelog.";
const WEATHER_ARGS: &str = r#"{"location":"New York, NY","unit":"F"}"#;
const DISTANCE_ARGS: &str =
    r#"{"lat1":"40.7128","lon1":"-74.0060","lat2":"34.0522","lon2":"-118.2437"}"#;

pub(crate) const NOTE_TITLE: &str = "hello from the fake codex";
pub(crate) const SUBAGENT_REPLY: &str = "SUBAGENT: checked.";
pub(crate) const AGENTS_DONE: &str = "DONE: saved the note and asked a subagent.";

/// Claude Code's main thread, scripted by the answers in its history: find the deferred notes
/// tool with the backend's tool search (or Claude Code's own `ToolSearch` function when the
/// request declares no `tool_search`), call it, hand a check to a subagent (whose prompt picks
/// `subagent_reply`), then finish.
fn claude_code_agents(t: &mut Turn<'_>, ctx: &Ctx) {
    const NOTES: &str = "mcp__notes__save";
    let ty = |i: &Value| {
        i.get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let answers = ctx
        .input
        .iter()
        .filter(|i| {
            matches!(
                ty(i).as_str(),
                "function_call_output" | "tool_search_output"
            )
        })
        .count();
    let declared =
        |pred: &dyn Fn(&Value) -> bool| ctx.tools.as_array().into_iter().flatten().any(pred);
    t.start();
    match answers {
        0 if declared(&|t| t["type"] == "tool_search") => {
            t.tool_search_call(json!({"query": "notes save", "limit": 5}));
        }
        0 => t.function_call("ToolSearch", r#"{"query":"notes save","max_results":5}"#),
        1 => {
            // Callable: found by a search, or declared without deferral.
            let found = ctx.input.iter().any(|i| {
                ty(i) == "tool_search_output"
                    && i["tools"]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|t| t["name"] == NOTES))
            }) || declared(&|t| t["name"] == NOTES && t["defer_loading"] != true);
            if found {
                t.function_call(NOTES, &json!({"title": NOTE_TITLE}).to_string());
            } else {
                t.message(&split_words("The notes tool was not found."));
            }
        }
        2 => {
            let args = json!({"description": "Check the note",
                              "prompt": "Check the note. [[scenario:subagent_reply]]",
                              "subagent_type": "general-purpose", "run_in_background": false});
            t.function_call("Agent", &args.to_string());
        }
        _ => t.message(&split_words(AGENTS_DONE)),
    }
    t.completed(default_usage());
}

/// Build the scripted body of a streaming scenario.
fn script(shared: &Shared, ctx: &Ctx, scenario: &str) -> Vec<Step> {
    let mut t = Turn::new(shared, ctx);
    let text = || split_words(TEXT_ANSWER);
    match scenario {
        "tools" => {
            t.start();
            t.reasoning(&[]);
            t.function_call("get_weather", WEATHER_ARGS);
            t.completed(usage(1300, 1024, 58, 32));
        }
        "parallel_tools" => {
            t.start();
            t.reasoning(&[]);
            t.function_call("get_weather", WEATHER_ARGS);
            t.function_call("calculate_distance", DISTANCE_ARGS);
            t.completed(usage(2354, 1536, 342, 256));
        }
        "text_then_tool" => {
            t.start();
            t.reasoning(&[]);
            t.message(&split_words("Let me check the weather for you."));
            t.function_call("get_weather", WEATHER_ARGS);
            t.completed(usage(1300, 1024, 70, 32));
        }
        "reasoning" => {
            t.start();
            t.reasoning(&[SUMMARY_1, SUMMARY_2]);
            t.message(&split_words("After thinking it through: the answer is 42."));
            t.completed(usage(2259, 2176, 395, 320));
        }
        "web_search" => {
            t.start();
            t.web_search(WEB_QUERY, &[WEB_URL_1, WEB_URL_2]);
            let (id, idx) = t.message_begin();
            for d in split_words(WEB_ANSWER) {
                t.text_delta(&id, idx, &d);
            }
            // Char indices into the answer (a non-ASCII dash stands before the second span, so
            // they differ from byte indices).
            let span = |part: &str| {
                let start = WEB_ANSWER.find(part).unwrap_or(0);
                let s = WEB_ANSWER[..start].chars().count();
                (s, s + part.chars().count())
            };
            let (s1, e1) = span("released on 2026-11-20");
            let (s2, e2) = span("the café changelog");
            let annotations = vec![
                json!({"type": "url_citation", "start_index": s1, "end_index": e1, "url": WEB_URL_1, "title": "Announcing Rust 1.95"}),
                json!({"type": "url_citation", "start_index": s2, "end_index": e2, "url": WEB_URL_2, "title": ""}),
            ];
            t.message_end_cited(&id, idx, WEB_ANSWER, "completed", annotations);
            t.completed(default_usage());
        }
        "claude_code_write" => {
            t.start();
            t.reasoning(&[TEXT_SUMMARY]);
            if ctx.has_tool_output {
                t.message(&split_words(WRITE_DONE));
            } else {
                let args = json!({"file_path": ctx.write_path, "content": WRITE_CONTENT});
                t.function_call("Write", &args.to_string());
            }
            t.completed(default_usage());
        }
        "claude_code_agents" => claude_code_agents(&mut t, ctx),
        // A coding agent reading a repository part by part: part N for the N-th call, so a
        // conversation that answers each call grows by one call and one result a turn.
        "read_part" => {
            let n = ctx
                .input
                .iter()
                .filter(|i| i["type"] == "function_call_output")
                .count()
                + 1;
            t.start();
            t.reasoning(&[]);
            t.message(&split_words(&format!("Reading part {n}.")));
            let args = json!({"file_path": format!("/repo/src/part{n}.rs")});
            t.function_call("Read", &args.to_string());
            t.completed(default_usage());
        }
        "subagent_reply" => {
            t.start();
            t.message(&split_words(SUBAGENT_REPLY));
            t.completed(default_usage());
        }
        "usage_cache" => {
            t.start();
            t.reasoning(&[TEXT_SUMMARY]);
            t.message(&text());
            t.completed(usage(50_000, 49_152, 12, 0));
        }
        "usage_null_details" => {
            t.start();
            t.reasoning(&[TEXT_SUMMARY]);
            t.message(&text());
            t.completed(json!({"input_tokens": 1200, "input_tokens_details": null,
                               "output_tokens": 42, "output_tokens_details": null, "total_tokens": 1242}));
        }
        "no_usage" => {
            t.start();
            t.reasoning(&[TEXT_SUMMARY]);
            t.message(&text());
            t.completed(Value::Null);
        }
        "empty_output" => {
            t.start();
            t.reasoning(&[TEXT_SUMMARY]);
            t.message(&text());
            t.output.clear();
            t.completed(default_usage());
        }
        "incomplete" => {
            t.start();
            t.reasoning(&[TEXT_SUMMARY]);
            let deltas = split_words("This answer is cut off because the");
            let (id, idx) = t.message_begin();
            for d in &deltas {
                t.text_delta(&id, idx, d);
            }
            t.message_end(&id, idx, &deltas.concat(), "incomplete");
            t.incomplete("max_output_tokens", usage(1200, 1000, 64, 40));
        }
        "failed_context" => {
            t.start();
            t.failed(
                "context_length_exceeded",
                "Your input exceeds the context window of this model. Please adjust your input and try again.",
            );
        }
        "overload_in_200" => {
            t.created();
            t.failed(
                "server_is_overloaded",
                "Our servers are currently overloaded. Please try again later.",
            );
        }
        "rate_limited_in_200" => {
            t.start();
            t.failed(
                "rate_limit_exceeded",
                &format!(
                    "Rate limit reached for {} in organization org-fake on tokens per min (TPM): Limit 30000, Used 22999, Requested 12528. Please try again in 1.5s. Visit https://platform.openai.com/account/rate-limits to learn more.",
                    ctx.model
                ),
            );
        }
        "error_event" => {
            t.start();
            t.reasoning(&[]);
            let (id, idx) = t.message_begin();
            for d in split_words("Partial answer before the") {
                t.text_delta(&id, idx, &d);
            }
            t.w.frame(
                "error",
                json!({"error": {"type": "server_error", "code": "server_is_overloaded",
                                 "message": "The server is overloaded"}}),
            );
        }
        "mid_stream_drop" => {
            t.start();
            t.reasoning(&[]);
            let (id, idx) = t.message_begin();
            for d in split_words("This stream will be cut") {
                t.text_delta(&id, idx, &d);
            }
            t.w.abort();
        }
        "stall" => {
            t.created();
            t.w.sleep(Duration::from_secs(shared.cfg.stall_secs));
            t.w.abort();
        }
        "slow_drip" => {
            t.start();
            t.reasoning(&[]);
            t.drip = Some(Duration::from_millis(shared.cfg.drip_ms));
            let deltas: Vec<String> = (1..=20)
                .map(|i| {
                    if i == 1 {
                        "drip 1".to_string()
                    } else {
                        format!(" drip {i}")
                    }
                })
                .collect();
            t.message(&deltas);
            t.drip = None;
            t.completed(default_usage());
        }
        "seq_drip" => {
            // Numbered deltas: a load client can tell a lost, repeated or reordered one.
            t.start();
            t.drip = Some(Duration::from_millis(shared.cfg.drip_ms));
            let deltas: Vec<String> = (0..shared.cfg.seq_total).map(|i| format!("{i} ")).collect();
            t.message(&deltas);
            t.drip = None;
            t.completed(default_usage());
        }
        "garbage" => {
            t.created();
            t.w.raw(": a comment line the client must ignore\n\n");
            t.w.raw("data: this is not json\n\n");
            t.w.raw("garbage line without a field name\n\n");
            t.w.raw("event: response.fake_unknown_event\ndata: {\"type\":\"response.fake_unknown_event\",\"sequence_number\":-1}\n\n");
            t.w.raw("data: {\"type\":\"response.output_text.delta\",\"trunc\n\n");
            t.w.raw("id: 17\nretry: 1000\n\n");
            t.w.raw("\n\n");
            let r = t.response("in_progress", json!([]), Value::Null);
            t.w.frame("response.in_progress", json!({"response": r}));
            t.w.raw("event: response.output_text.delta\ndata: [not json either]\n\n");
            t.reasoning(&[]);
            t.w.raw(": keep-alive\n\n");
            t.message(&text());
            t.w.raw("data: {}\n\n");
            t.completed(default_usage());
        }
        "unicode" => {
            t.w.split_utf8 = true;
            t.start();
            t.reasoning(&["**Грамматика** 思考中… 🤔"]);
            let deltas: Vec<String> = [
                "Héllo",
                " 世界",
                "！",
                " 🎉",
                "🚀",
                " こんにちは",
                " — ",
                "你好，",
                "世界。",
                " 👍🏽",
                " Ünïcödé ✓",
                " 𝔘𝔫𝔦",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            t.message(&deltas);
            t.completed(default_usage());
        }
        "big" => {
            t.w.coalesce = 64 * 1024;
            t.start();
            t.reasoning(&[]);
            let deltas: Vec<String> = (0..50_000).map(|i| format!(" t{i}")).collect();
            t.message(&deltas);
            t.completed(usage(1200, 1000, 50_000, 0));
        }
        // "text" and anything that resolved to it
        _ => {
            t.start();
            t.reasoning(&[TEXT_SUMMARY]);
            t.message(&text());
            t.completed(default_usage());
        }
    }
    t.w.into_steps()
}

fn rate_headers(resp: &mut Response) {
    let now = now_secs();
    for (k, v) in [
        ("x-codex-primary-used-percent", "9".to_string()),
        ("x-codex-primary-window-minutes", "299".into()),
        ("x-codex-primary-reset-after-seconds", "1637".into()),
        ("x-codex-primary-reset-at", (now + 1637).to_string()),
        ("x-codex-secondary-used-percent", "31".into()),
        ("x-codex-secondary-window-minutes", "10079".into()),
        ("x-codex-secondary-reset-after-seconds", "167364".into()),
        ("x-codex-secondary-reset-at", (now + 167_364).to_string()),
        ("x-codex-primary-over-secondary-limit-percent", "0".into()),
        ("x-codex-plan-type", "plus".into()),
        ("x-codex-active-limit", "codex".into()),
        ("x-codex-credits-has-credits", "False".into()),
        ("x-codex-credits-unlimited", "False".into()),
        ("x-codex-credits-balance", "0".into()),
    ] {
        set_header(resp, k, &v);
    }
}

fn http_error(shared: &Shared, scenario: &str) -> Option<Response> {
    let now = now_secs();
    let mut resp = match scenario {
        "http_401" => json_response(401, &json!({"detail": "Unauthorized"})),
        // The retired-model answer (codex.md §9.7): a 400 of the request's own.
        "http_400" => json_response(
            400,
            &json!({"detail": "The 'gpt-5.3-codex' model is not supported when using Codex with a ChatGPT account."}),
        ),
        "http_429" => {
            let mut r = json_response(
                429,
                &json!({"error": {"type": "usage_limit_reached", "code": "usage_limit_reached",
                    "message": "The usage limit has been reached", "plan_type": "plus",
                    "resets_at": now + 120, "resets_in_seconds": 120}}),
            );
            for (k, v) in [
                ("x-codex-active-limit", "codex".to_string()),
                ("x-codex-primary-used-percent", "100.0".into()),
                ("x-codex-primary-window-minutes", "300".into()),
                ("x-codex-primary-reset-after-seconds", "120".into()),
                ("x-codex-primary-reset-at", (now + 120).to_string()),
                ("x-codex-secondary-used-percent", "45.0".into()),
                ("x-codex-secondary-window-minutes", "10080".into()),
                ("x-codex-secondary-reset-after-seconds", "400000".into()),
                ("x-codex-secondary-reset-at", (now + 400_000).to_string()),
                (
                    "x-codex-rate-limit-reached-type",
                    "rate_limit_reached".into(),
                ),
                ("x-codex-plan-type", "plus".into()),
            ] {
                set_header(&mut r, k, &v);
            }
            r
        }
        "http_429_plain" => {
            let mut r = json_response(
                429,
                &json!({"error": {"code": "rate_limit_exceeded",
                    "message": "Too many requests. Please slow down and try again later."}}),
            );
            rate_headers(&mut r);
            set_header(&mut r, "retry-after", "2");
            r
        }
        "http_500" => json_response(
            500,
            &json!({"error": {"code": "server_error", "message": "An error occurred while processing your request. You can retry your request, or contact us through our help center at help.openai.com if the error persists."}}),
        ),
        "http_503" => json_response(
            503,
            &json!({"error": {"code": "server_is_overloaded",
                "message": "Our servers are currently overloaded. Please try again later."}}),
        ),
        // Cloudflare's managed challenge in front of chatgpt.com (protocol/codex.md §9.4).
        "cf_challenge" => {
            let mut r = Response::new(Body::from(
                "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Enable JavaScript and cookies to continue</body></html>",
            ));
            *r.status_mut() = StatusCode::FORBIDDEN;
            set_header(&mut r, "content-type", "text/html; charset=UTF-8");
            set_header(&mut r, "cf-mitigated", "challenge");
            set_header(&mut r, "cf-ray", "9f1460b27f3dae95-NRT");
            r
        }
        _ => return None,
    };
    set_header(&mut resp, "x-request-id", &request_id(shared));
    Some(resp)
}

fn sse_response(shared: &Shared, body: Body) -> Response {
    let mut resp = Response::new(body);
    set_header(
        &mut resp,
        "content-type",
        "text/event-stream; charset=utf-8",
    );
    rate_headers(&mut resp);
    set_header(&mut resp, "x-request-id", &request_id(shared));
    let revision = shared.lock().catalog_revision.max(1);
    set_header(
        &mut resp,
        "x-models-etag",
        &crate::codex::catalog_etag(revision),
    );
    resp
}

/// Play `scenario` for a validated request (the log entry is pushed before answering).
pub(crate) async fn play(
    shared: &Arc<Shared>,
    req: &Req,
    ctx: Ctx,
    scenario: &str,
    mut entry: Logged,
) -> Response {
    if let Some(resp) = http_error(shared, scenario) {
        entry.status = resp.status().as_u16();
        shared.push_log(entry);
        return resp;
    }
    entry.status = 200;
    shared.push_log(entry);
    if scenario == "empty" {
        return sse_response(shared, Body::empty());
    }
    let mut steps = if scenario == "stall_before_headers" {
        let stall = Duration::from_secs(shared.cfg.stall_secs);
        crate::server::stall_before_headers(shared, scenario, req.start, stall).await;
        script(shared, &ctx, "text")
    } else {
        script(shared, &ctx, scenario)
    };
    if shared.cfg.think_ms > 0 {
        steps.insert(0, Step::Sleep(Duration::from_millis(shared.cfg.think_ms)));
    }
    sse_response(shared, scripted_body(shared, scenario, req.start, steps))
}
