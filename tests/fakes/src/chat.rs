//! OpenAI-compatible Chat Completions (Kilo / OpenRouter-like): `POST /v1/chat/completions`,
//! `POST /api/openrouter/chat/completions`, `GET /api/openrouter/models`.

use crate::codex::write_path;
use crate::codex_sse::{WRITE_CONTENT, WRITE_DONE, split_chars, split_words};
use crate::scenarios;
use crate::server::{Logged, Req, Shared, Step, json_response, logged, scripted_body, set_header};
use crate::util::{Rng, now_secs};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const TEXT_ANSWER: &str = "Hello from the fake chat provider.";

fn invalid(msg: String) -> (u16, Value) {
    (
        400,
        json!({"error": {"message": msg, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

/// One piece of a chat answer.
enum Piece {
    /// A `choices[0].delta` object.
    Delta(Value),
    /// Bytes as they are (junk, comments).
    Raw(String),
    Sleep(Duration),
    /// Close the connection without `[DONE]`.
    Abort,
    /// A mid-stream error chunk, then the stream ends (no `[DONE]`).
    Error(Value),
}

struct Plan {
    pieces: Vec<Piece>,
    finish: &'static str,
    usage: Value,
}

fn usage(prompt: u64, cached: u64, completion: u64, reasoning: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning}
    })
}

fn content(text: &str) -> Vec<Piece> {
    split_words(text)
        .into_iter()
        .map(|d| Piece::Delta(json!({"content": d})))
        .collect()
}

fn field_deltas(field: &str, text: &str) -> Vec<Piece> {
    split_words(text)
        .into_iter()
        .map(|d| Piece::Delta(json!({field: d})))
        .collect()
}

fn tool_start(index: usize, id: &str, name: &str) -> Piece {
    Piece::Delta(
        json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                                         "function": {"name": name, "arguments": ""}}]}),
    )
}

fn tool_args(index: usize, piece: &str) -> Piece {
    Piece::Delta(json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
}

fn single_tool(rng: &mut Rng, name: &str, args: &str) -> Vec<Piece> {
    let id = format!("call_{}", rng.alnum(24));
    let mut v = vec![tool_start(0, &id, name)];
    v.extend(split_chars(args, 8).iter().map(|p| tool_args(0, p)));
    v
}

fn plan(shared: &Shared, scenario: &str, body: &Value, raw: &[u8], rng: &mut Rng) -> Plan {
    let stop = |pieces| Plan {
        pieces,
        finish: "stop",
        usage: usage(1200, 0, 42, 0),
    };
    match scenario {
        "tools" => {
            let (a, b) = (
                format!("call_{}", rng.alnum(24)),
                format!("call_{}", rng.alnum(24)),
            );
            let args0 = split_chars(r#"{"location":"Paris"}"#, 6);
            let args1 = split_chars(r#"{"timezone":"Europe/Paris"}"#, 6);
            let mut pieces = vec![
                tool_start(0, &a, "get_weather"),
                tool_start(1, &b, "get_time"),
            ];
            for i in 0..args0.len().max(args1.len()) {
                if let Some(p) = args0.get(i) {
                    pieces.push(tool_args(0, p));
                }
                if let Some(p) = args1.get(i) {
                    pieces.push(tool_args(1, p));
                }
            }
            Plan {
                pieces,
                finish: "tool_calls",
                usage: usage(1300, 0, 60, 0),
            }
        }
        "reasoning_then_tools" => {
            let mut pieces = field_deltas(
                "reasoning_content",
                "The user wants the weather in Paris, so I should call the tool.",
            );
            pieces.extend(single_tool(rng, "get_weather", r#"{"location":"Paris"}"#));
            Plan {
                pieces,
                finish: "tool_calls",
                usage: usage(1300, 0, 80, 30),
            }
        }
        "reasoning_field" => {
            let mut pieces = field_deltas("reasoning", "Thinking about a friendly greeting.");
            pieces.extend(content(TEXT_ANSWER));
            Plan {
                pieces,
                finish: "stop",
                usage: usage(1200, 0, 50, 8),
            }
        }
        "usage_final_chunk" => Plan {
            pieces: content(TEXT_ANSWER),
            finish: "stop",
            usage: usage(1200, 1000, 42, 0),
        },
        "length" => Plan {
            pieces: content("This answer is cut off because the"),
            finish: "length",
            usage: usage(1200, 0, 64, 0),
        },
        "content_filter" => Plan {
            pieces: content("I can't continue with"),
            finish: "content_filter",
            usage: usage(1200, 0, 5, 0),
        },
        "error_mid_stream" => {
            let mut pieces = content("Partial answer before the");
            pieces.push(Piece::Error(
                json!({"message": "Upstream provider disconnected unexpectedly", "code": 502}),
            ));
            stop(pieces)
        }
        "garbage" => {
            let mut pieces = vec![
                Piece::Raw(": OPENROUTER PROCESSING\n\n".into()),
                Piece::Raw("data: this is not json\n\n".into()),
                Piece::Raw("garbage line without a field name\n\n".into()),
                Piece::Raw("event: ping\ndata: {}\n\n".into()),
                Piece::Raw("\n\n".into()),
                Piece::Raw(
                    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"trunc\n\n".into(),
                ),
            ];
            let mut text = content(TEXT_ANSWER);
            let tail = text.split_off(text.len() / 2);
            pieces.extend(text);
            pieces.push(Piece::Raw(": keep-alive\n\n".into()));
            pieces.extend(tail);
            stop(pieces)
        }
        "claude_code_write" => {
            let has_tool_result = body
                .get("messages")
                .and_then(Value::as_array)
                .is_some_and(|m| {
                    m.iter()
                        .any(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
                });
            if has_tool_result {
                stop(content(WRITE_DONE))
            } else {
                let args = json!({"file_path": write_path(raw), "content": WRITE_CONTENT});
                Plan {
                    pieces: single_tool(rng, "Write", &args.to_string()),
                    finish: "tool_calls",
                    usage: usage(1200, 0, 40, 0),
                }
            }
        }
        "mid_stream_drop" => {
            let mut pieces = content("This stream will be cut");
            pieces.push(Piece::Abort);
            stop(pieces)
        }
        "stall" => stop(vec![
            Piece::Sleep(Duration::from_secs(shared.cfg.stall_secs)),
            Piece::Abort,
        ]),
        "slow_drip" => {
            let drip = Duration::from_millis(shared.cfg.drip_ms);
            let mut pieces = Vec::new();
            for i in 1..=20 {
                pieces.push(Piece::Sleep(drip));
                let d = if i == 1 {
                    "drip 1".to_string()
                } else {
                    format!(" drip {i}")
                };
                pieces.push(Piece::Delta(json!({"content": d})));
            }
            stop(pieces)
        }
        _ => stop(content(TEXT_ANSWER)),
    }
}

struct Envelope {
    id: String,
    model: String,
    created: u64,
}

impl Envelope {
    fn chunk(&self, choices: Value) -> Value {
        json!({"id": self.id, "provider": "FakeProvider", "model": self.model,
               "object": "chat.completion.chunk", "created": self.created, "choices": choices})
    }

    fn delta(&self, delta: &Value, finish: Value) -> Value {
        self.chunk(json!([{"index": 0, "delta": delta, "finish_reason": finish,
                           "native_finish_reason": finish, "logprobs": null}]))
    }
}

fn data(v: &Value) -> Step {
    Step::Data(Bytes::from(format!("data: {v}\n\n")))
}

fn stream_steps(plan: Plan, env: &Envelope, include_usage: bool) -> Vec<Step> {
    let mut steps = vec![
        Step::Data(Bytes::from_static(b": OPENROUTER PROCESSING\n\n")),
        data(&env.delta(&json!({"role": "assistant", "content": ""}), Value::Null)),
    ];
    for p in plan.pieces {
        match p {
            Piece::Delta(d) => steps.push(data(&env.delta(&d, Value::Null))),
            Piece::Raw(r) => steps.push(Step::Data(Bytes::from(r))),
            Piece::Sleep(d) => steps.push(Step::Sleep(d)),
            Piece::Abort => {
                steps.push(Step::Abort);
                return steps;
            }
            Piece::Error(e) => {
                let mut c = env.delta(&json!({"content": ""}), json!("error"));
                c["error"] = e;
                steps.push(data(&c));
                return steps;
            }
        }
    }
    steps.push(data(&env.delta(&json!({}), json!(plan.finish))));
    if include_usage {
        let mut c = env.chunk(json!([]));
        c["usage"] = plan.usage;
        steps.push(data(&c));
    }
    steps.push(Step::Data(Bytes::from_static(b"data: [DONE]\n\n")));
    steps
}

/// Non-streaming: merge the deltas into one `chat.completion`, or an error status.
fn aggregate(plan: Plan, env: &Envelope) -> (u16, Value) {
    let mut text = String::new();
    let mut reasoning_content = String::new();
    let mut reasoning = String::new();
    let mut calls: Vec<Value> = Vec::new();
    for p in plan.pieces {
        match p {
            Piece::Delta(d) => {
                let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                text.push_str(&s("content"));
                reasoning_content.push_str(&s("reasoning_content"));
                reasoning.push_str(&s("reasoning"));
                for tc in d
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let idx = tc.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                    while calls.len() <= idx {
                        calls.push(json!({"id": "", "type": "function",
                                          "function": {"name": "", "arguments": ""}}));
                    }
                    let call = &mut calls[idx];
                    if let Some(id) = tc.get("id") {
                        call["id"] = id.clone();
                    }
                    if let Some(name) = tc.pointer("/function/name") {
                        call["function"]["name"] = name.clone();
                    }
                    let more = tc
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let args = format!(
                        "{}{more}",
                        call["function"]["arguments"].as_str().unwrap_or("")
                    );
                    call["function"]["arguments"] = json!(args);
                }
            }
            Piece::Error(e) => return (502, json!({"error": e})),
            Piece::Abort | Piece::Raw(_) | Piece::Sleep(_) => {}
        }
    }
    let mut message = json!({"role": "assistant",
        "content": if text.is_empty() { Value::Null } else { json!(text) }, "refusal": null});
    if !reasoning_content.is_empty() {
        message["reasoning_content"] = json!(reasoning_content);
    }
    if !reasoning.is_empty() {
        message["reasoning"] = json!(reasoning);
    }
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    (
        200,
        json!({"id": env.id, "provider": "FakeProvider", "model": env.model,
               "object": "chat.completion", "created": env.created,
               "choices": [{"logprobs": null, "finish_reason": plan.finish,
                            "native_finish_reason": plan.finish, "index": 0, "message": message}],
               "usage": plan.usage}),
    )
}

fn validate(body: Option<&Value>) -> Result<(), (u16, Value)> {
    let body =
        body.ok_or_else(|| invalid("We could not parse the JSON body of your request.".into()))?;
    if body
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(invalid("you must provide a model parameter".into()));
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(invalid("Missing required parameter: 'messages'.".into()));
    };
    if messages.is_empty() {
        return Err(invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.".into(),
        ));
    }
    let mut seen_ids: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if !matches!(role, "system" | "developer" | "user" | "assistant" | "tool") {
            return Err(invalid(format!(
                "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'."
            )));
        }
        if role == "assistant"
            && let Some(calls) = m.get("tool_calls").and_then(Value::as_array)
        {
            let mut pending: Vec<String> = calls
                .iter()
                .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_string))
                .collect();
            seen_ids.extend(pending.iter().cloned());
            for next in &messages[i + 1..] {
                if next.get("role").and_then(Value::as_str) != Some("tool") {
                    break;
                }
                let id = next
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                pending.retain(|p| p != id);
            }
            if !pending.is_empty() {
                return Err(invalid(format!(
                    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                    pending.join(", ")
                )));
            }
        }
        if role == "tool" {
            let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
            if !seen_ids.iter().any(|s| s == id) {
                return Err(invalid(format!(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (messages[{i}].tool_call_id '{id}')"
                )));
            }
        }
    }
    for (i, t) in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = t
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(invalid(format!(
                "Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
            )));
        }
    }
    Ok(())
}

fn reject(shared: &Shared, mut entry: Logged, status: u16, body: &Value) -> Response {
    entry.status = status;
    shared.push_log(entry);
    json_response(status, body)
}

pub(crate) async fn completions(shared: &Arc<Shared>, req: Req) -> Response {
    let mut entry = req.log_entry(0);
    let auth = req.header("authorization").unwrap_or("");
    entry.anonymous_auth = auth == "Bearer anonymous";
    entry.machine_id = req.headers.contains_key("x-kilocode-machineid");
    // No auth check: Kilo takes `Bearer anonymous`, local servers take nothing at all.
    // Use the `http_401` scenario to test an auth failure.
    let body: Option<Value> = serde_json::from_slice(&req.body).ok();
    if let Err((status, err)) = validate(body.as_ref()) {
        return reject(shared, entry, status, &err);
    }
    let body = body.unwrap_or(Value::Null);
    let name = scenarios::requested(&req.headers, &req.body).unwrap_or_else(|| "text".into());
    let scenario = match scenarios::resolve(shared, &name, scenarios::CHAT_SCENARIOS) {
        Ok(s) => s,
        Err(msg) => {
            return reject(shared, entry, 400, &invalid(msg).1);
        }
    };
    entry.scenario = Some(scenario.clone());
    match scenario.as_str() {
        "http_429" => {
            let reset_ms = (now_secs() + 60) * 1000;
            let mut resp = reject(
                shared,
                entry,
                429,
                &json!({"error": {"message": "Rate limit exceeded: free-models-per-min. ", "code": 429,
                    "metadata": {"headers": {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0",
                                             "X-RateLimit-Reset": reset_ms.to_string()}}}}),
            );
            set_header(&mut resp, "retry-after", "1");
            return resp;
        }
        "http_401" => {
            return reject(
                shared,
                entry,
                401,
                &json!({"error": {"message": "No auth credentials found", "code": 401}}),
            );
        }
        "http_500" => {
            return reject(
                shared,
                entry,
                500,
                &json!({"error": {"message": "Internal Server Error", "code": 500}}),
            );
        }
        _ => {}
    }
    let mut rng = shared.rng();
    let env = Envelope {
        id: format!("gen-{}-{}", now_secs(), rng.alnum(20)),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        created: now_secs(),
    };
    let plan = plan(shared, &scenario, &body, &req.body, &mut rng);
    let streaming = body.get("stream") == Some(&Value::Bool(true));
    if !streaming {
        let (status, out) = aggregate(plan, &env);
        return reject(shared, entry, status, &out);
    }
    entry.status = 200;
    shared.push_log(entry);
    let include_usage = body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
    let steps = stream_steps(plan, &env, include_usage);
    let mut resp = Response::new(scripted_body(shared, &scenario, req.start, steps));
    set_header(&mut resp, "content-type", "text/event-stream");
    set_header(&mut resp, "cache-control", "no-cache");
    resp
}

/// `GET /api/openrouter/models`: a Kilo-like list.
pub(crate) fn models(shared: &Shared, req: &Req) -> Response {
    let params = [
        "tools",
        "tool_choice",
        "reasoning",
        "include_reasoning",
        "max_tokens",
        "temperature",
        "top_p",
        "stop",
        "response_format",
    ];
    let model = |id: &str, name: &str, ctx: u64, free: bool, price: &str| {
        json!({"id": id, "name": name, "created": 1_750_000_000u64,
               "description": format!("{name} (fake)"), "context_length": ctx,
               "architecture": {"modality": "text->text", "input_modalities": ["text"],
                                "output_modalities": ["text"], "tokenizer": "Other"},
               "pricing": {"prompt": price, "completion": price, "request": "0", "image": "0"},
               "top_provider": {"context_length": ctx, "max_completion_tokens": 32768, "is_moderated": false},
               "supported_parameters": params, "isFree": free})
    };
    logged(
        shared,
        req,
        200,
        json!({"data": [
            model("kilo-auto/free", "Kilo Auto (free)", 204_800, true, "0"),
            model("minimax/minimax-m2.5:free", "MiniMax: MiniMax M2.5 (free)", 204_800, true, "0"),
            model("openai/gpt-5", "OpenAI: GPT-5", 400_000, false, "0.00000125"),
        ]}),
    )
}
