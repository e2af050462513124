//! Runs one golden vector through `proxy-core` and returns a canonical JSON result.
//!
//! The same code runs natively (linked into the test harness) and as a WASI command module
//! (`main.rs`, built for `wasm32-wasip1` and run under wasmtime), so the harness can demand
//! byte-identical results from both targets. The runner only runs the core; comparing with
//! the expected outputs is the harness's job.

#![forbid(unsafe_code)]

use proxy_core::{
    Aggregator, ChatOptions, ChatStreamOptions, ChatTranslator, EventTranslator, RequestOptions,
    ResponsesTranslator, RoutingTable, StreamEvent, StreamOptions, ToolNames, convert_chat_request,
    convert_request, convert_request_fast, convert_request_value, map_upstream_error,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// One job for the runner: `{"kind": "...", "case": {...}, ...}`.
#[derive(Debug, Deserialize)]
pub struct Job {
    /// `request`, `stream`, `error`, `routing`, `exchange`, ….
    pub kind: String,
    /// The vector file's JSON.
    pub case: Value,
    /// Stream vectors: the upstream bytes.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Stream vectors: chunk sizes to feed the upstream in (repeated cyclically; empty = one push).
    #[serde(default)]
    pub chunks: Vec<usize>,
}

fn opt_str(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn degradations(d: &[proxy_core::Degradation]) -> Value {
    serde_json::to_value(d).unwrap_or(Value::Null)
}

fn run_request(case: &Value) -> Value {
    let o = case.get("options").cloned().unwrap_or(Value::Null);
    let mut opts =
        RequestOptions::new(opt_str(&o, "upstream_model").unwrap_or_else(|| "gpt-5.5".into()));
    if let Some(e) = opt_str(&o, "effort") {
        opts.effort = e;
    }
    if let Some(list) = o.get("efforts").and_then(Value::as_array) {
        opts.efforts = list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    opts.session_id = opt_str(&o, "session_id");
    opts.account_tag = opt_str(&o, "account_tag");
    if let Some(p) = o.get("profile").filter(|p| !p.is_null()) {
        match serde_json::from_value(p.clone()) {
            Ok(p) => opts.profile = p,
            Err(e) => return json!({"runner_error": format!("options.profile: {e}")}),
        }
    }
    opts.tool_search = o.get("tool_search").and_then(Value::as_bool) == Some(true);
    let body = request_bytes(case);
    let result = |r: Conversion| match r {
        Ok(c) => json!({
            // The bytes the host sends, read back.
            "body": c.value.to_value(),
            "error": null,
            "degradations": degradations(&c.degradations),
        }),
        Err(e) => json!({
            "body": null,
            "error": {"type": e.error_type().as_str(), "message": e.to_string()},
            "degradations": [],
        }),
    };
    let out = result(convert_request(&body, &opts));
    // The fast path (raw history) and the Value path must agree byte for byte.
    if let Some(fast) = convert_request_fast(&body, &opts) {
        let slow = serde_json::from_slice::<Value>(&body)
            .map_err(|e| proxy_core::RequestError::Json(e.to_string()))
            .and_then(|v| convert_request_value(v, &opts));
        let bytes = |r: &Conversion| {
            r.as_ref()
                .map(|c| c.value.to_json())
                .map_err(ToString::to_string)
        };
        if bytes(&fast) != bytes(&slow) || result(fast) != result(slow) {
            return json!({"runner_error": "the fast path and the Value path differ"});
        }
    }
    out
}

/// What a request conversion gives.
type Conversion = Result<proxy_core::Converted<proxy_core::CodexRequest>, proxy_core::RequestError>;

fn stream_translator(case: &Value, chat: bool) -> Box<dyn EventTranslator> {
    let o = case.get("options").cloned().unwrap_or(Value::Null);
    let names: Vec<&str> = o
        .get("tool_names")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let model = opt_str(&o, "model").unwrap_or_default();
    let thinking = o.get("thinking").and_then(Value::as_bool).unwrap_or(false);
    let mut tool_names = ToolNames::new(names);
    if let Some(s) = opt_str(&o, "search_tool") {
        tool_names.set_search_tool(s);
    }
    let upstream_model = opt_str(&o, "upstream_model").unwrap_or_else(|| "gpt-5.5".into());
    let seed = o.get("seed").and_then(Value::as_u64).unwrap_or(0);
    if chat {
        Box::new(ChatTranslator::new(ChatStreamOptions {
            model,
            thinking,
            tool_names,
            upstream_model,
            seed,
        }))
    } else {
        Box::new(ResponsesTranslator::new(StreamOptions {
            model,
            thinking,
            tool_names,
            upstream_model,
            account_tag: opt_str(&o, "account_tag"),
            seed,
            stop_sequences: o
                .get("stop_sequences")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }))
    }
}

fn run_stream(case: &Value, upstream: &[u8], chunks: &[usize], chat: bool) -> Value {
    let mut t = stream_translator(case, chat);
    let mut agg = Aggregator::new();
    let mut events = Vec::new();
    let mut drain = |t: &mut Box<dyn EventTranslator>, agg: &mut Aggregator| {
        while let Some(ev) = t.poll_event() {
            events.push(json!({"event": ev.name(), "data": serde_json::to_value(&ev).unwrap_or(Value::Null)}));
            agg.push(ev);
        }
    };
    let mut rest = upstream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = if chunks.is_empty() {
            rest.len()
        } else {
            chunks[i % chunks.len()].clamp(1, rest.len())
        };
        t.push(&rest[..n]);
        drain(&mut t, &mut agg);
        rest = &rest[n..];
        i += 1;
    }
    t.finish();
    drain(&mut t, &mut agg);
    let mut deg = t.take_degradations();
    let (message, error) = match agg.finish() {
        Ok(m) => (m, Value::Null),
        Err(e) => (Value::Null, json!({"type": "error", "error": e})),
    };
    deg.extend(agg.take_degradations());
    json!({"events": events, "message": message, "error": error, "degradations": degradations(&deg)})
}

fn run_chat_request(case: &Value) -> Value {
    let o = case.get("options").cloned().unwrap_or(Value::Null);
    let mut opts =
        ChatOptions::new(opt_str(&o, "upstream_model").unwrap_or_else(|| "model".into()));
    if let Some(f) = opt_str(&o, "max_tokens_field") {
        opts.max_tokens_field = f;
    }
    if let Some(r) = opt_str(&o, "reasoning_style") {
        opts.reasoning_style = r;
    }
    let body = request_bytes(case);
    match convert_chat_request(&body, &opts) {
        Ok(c) => json!({
            "body": c.value.to_value(),
            "error": null,
            "degradations": degradations(&c.degradations),
        }),
        Err(e) => json!({
            "body": null,
            "error": {"type": e.error_type().as_str(), "message": e.to_string()},
            "degradations": [],
        }),
    }
}

fn request_bytes(case: &Value) -> Vec<u8> {
    match (case.get("request_raw"), case.get("request")) {
        (Some(Value::String(raw)), _) => raw.as_bytes().to_vec(),
        (_, Some(req)) => serde_json::to_vec(req).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn run_openai_request(case: &Value) -> Value {
    match proxy_core::convert_openai_request(&request_bytes(case)) {
        Ok(c) => {
            json!({"body": c.value, "error": null, "degradations": degradations(&c.degradations)})
        }
        Err(e) => json!({
            "body": null,
            "error": {"type": e.error_type().as_str(), "message": e.to_string()},
            "degradations": [],
        }),
    }
}

fn run_openai_stream(case: &Value) -> Value {
    let o = case.get("options").cloned().unwrap_or(Value::Null);
    let mut s = proxy_core::OpenAiStream::new(
        opt_str(&o, "model").unwrap_or_default(),
        o.get("created").and_then(Value::as_u64).unwrap_or(0),
        o.get("include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    );
    let mut out = Vec::new();
    for e in case
        .get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match serde_json::from_value::<StreamEvent>(e.get("data").cloned().unwrap_or(Value::Null)) {
            Ok(ev) => s.push(&ev, &mut out),
            Err(err) => return json!({"runner_error": format!("bad event {e}: {err}")}),
        }
    }
    let (message, error) = match s.completion() {
        Ok(m) => (m, Value::Null),
        Err(e) => (
            Value::Null,
            proxy_core::openai_error(e.error_type, &e.message).1,
        ),
    };
    json!({"sse": String::from_utf8_lossy(&out), "message": message, "error": error})
}

fn run_openai_error(case: &Value) -> Value {
    let rows: Vec<Value> = case
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let ty: proxy_core::ErrorType = serde_json::from_value(r["anthropic_type"].clone())
                .unwrap_or(proxy_core::ErrorType::ApiError);
            let (status, body) = proxy_core::openai_error(ty, r["message"].as_str().unwrap_or(""));
            json!({"status": status, "body": body})
        })
        .collect();
    Value::Array(rows)
}

fn run_error(case: &Value) -> Value {
    let headers: Vec<(String, String)> = case
        .get("headers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some((
                        p.get(0)?.as_str()?.to_owned(),
                        p.get(1)?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let status = case.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
    let body = case.get("body").and_then(Value::as_str).unwrap_or("");
    let now = case.get("now").and_then(Value::as_u64).unwrap_or(0);
    serde_json::to_value(map_upstream_error(status, &headers, body, now)).unwrap_or(Value::Null)
}

fn run_routing(case: &Value) -> Value {
    let table = RoutingTable::default();
    let routes: Vec<Value> = case
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let model = e.get("model").and_then(Value::as_str).unwrap_or("");
            serde_json::to_value(table.route(model)).unwrap_or(Value::Null)
        })
        .collect();
    Value::Array(routes)
}

/// An exchange scenario (`case.scenario`) through the core's simulator: the transcript.
fn run_exchange(case: &Value) -> Value {
    match serde_json::from_value::<proxy_core::exchange::sim::Scenario>(case["scenario"].clone()) {
        Ok(s) => serde_json::to_value(proxy_core::exchange::sim::run(&s)).unwrap_or(Value::Null),
        Err(e) => json!({"runner_error": e.to_string()}),
    }
}

/// A client body through the exchange's inbound check (validation, docs/CONVERSION.md §11):
/// `{"ok": true}` or the error reply (`status` and the parsed body).
fn run_validation(case: &Value) -> Value {
    use proxy_core::exchange::{Dialect, Inbound, Reply};
    let dialect = if case["dialect"] == "openai" {
        Dialect::OpenAi
    } else {
        Dialect::Anthropic
    };
    let body = request_bytes(case);
    match Inbound::parse(dialect, &body) {
        Ok(_) => json!({"ok": true}),
        Err(f) => {
            let r = Reply::error(dialect, &f);
            json!({"ok": false, "status": r.status,
                   "body": serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null)})
        }
    }
}

/// Run a job given as JSON text; the result is JSON text (canonical: compact, ordered).
pub fn run_json(input: &str) -> String {
    let job: Job = match serde_json::from_str(input) {
        Ok(j) => j,
        Err(e) => return json!({"runner_error": e.to_string()}).to_string(),
    };
    let out = match job.kind.as_str() {
        "request" => run_request(&job.case),
        "stream" | "chat_stream" => run_stream(
            &job.case,
            job.upstream.as_deref().unwrap_or("").as_bytes(),
            &job.chunks,
            job.kind == "chat_stream",
        ),
        "chat_request" => run_chat_request(&job.case),
        "openai_request" => run_openai_request(&job.case),
        "openai_stream" => run_openai_stream(&job.case),
        "openai_error" => run_openai_error(&job.case),
        "error" => run_error(&job.case),
        "routing" => run_routing(&job.case),
        "exchange" => run_exchange(&job.case),
        "validation" => run_validation(&job.case),
        other => json!({"runner_error": format!("unknown kind {other}")}),
    };
    out.to_string()
}
