//! `POST /backend-api/codex/responses`: validation like the real backend (codex.md §1.6, §7),
//! then a scenario; plus `GET /backend-api/wham/usage` and `GET /backend-api/codex/models`.

use crate::codex_sse::{self, Ctx};
use crate::scenarios;
use crate::server::{Logged, Req, Shared, json_response, logged, set_header};
use crate::util::{form_get, now_secs, parse_form};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// Request fields the backend refuses with `{"detail":"Unsupported parameter: X"}`.
const UNSUPPORTED: &[&str] = &[
    "max_output_tokens",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "metadata",
    "user",
    "previous_response_id",
    "truncation",
    "context_management",
];

type Reject = (u16, Value);

fn detail(status: u16, msg: &str) -> Reject {
    (status, json!({"detail": msg}))
}

fn openai_error(status: u16, msg: String, param: Value, code: Value) -> Reject {
    (
        status,
        json!({"error": {"message": msg, "type": "invalid_request_error", "param": param, "code": code}}),
    )
}

pub(crate) fn unauthorized() -> Reject {
    detail(401, "Unauthorized")
}

pub(crate) async fn responses(shared: &Arc<Shared>, req: Req) -> Response {
    let mut entry = req.log_entry(0);
    let body: Option<Value> = serde_json::from_slice(&req.body).ok();
    if let Some(b) = &body {
        let session = req.header("session_id");
        let key = b.get("prompt_cache_key").and_then(Value::as_str);
        entry.session_matches_cache_key = match (session, key) {
            (None, None) => None,
            (Some(s), Some(k)) => Some(s == k),
            _ => Some(false),
        };
        entry.tools_without_strict = b
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .filter(|t| t.get("strict") != Some(&Value::Bool(false)))
                    .map(|t| {
                        t.get("name")
                            .and_then(Value::as_str)
                            .or_else(|| t.get("type").and_then(Value::as_str))
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    let ctx = match validate(shared, &req, body.as_ref()) {
        Ok(ctx) => ctx,
        Err((status, err)) => return reject(shared, entry, status, &err),
    };
    let name = scenarios::requested(&req.headers, &req.body).unwrap_or_else(|| "text".into());
    let scenario = match scenarios::resolve(shared, &name, scenarios::CODEX_SCENARIOS) {
        Ok(s) => s,
        Err(msg) => return reject(shared, entry, 400, &json!({"detail": msg})),
    };
    entry.scenario = Some(scenario.clone());
    codex_sse::play(shared, &req, ctx, &scenario, entry).await
}

fn reject(shared: &Shared, mut entry: Logged, status: u16, body: &Value) -> Response {
    entry.status = status;
    shared.push_log(entry);
    let mut resp = json_response(status, body);
    set_header(&mut resp, "x-request-id", &request_id(shared));
    resp
}

pub(crate) fn request_id(shared: &Shared) -> String {
    shared.rng().hex(8)
}

fn validate(shared: &Shared, req: &Req, body: Option<&Value>) -> Result<Ctx, Reject> {
    shared
        .check_bearer(&req.headers)
        .map_err(|()| unauthorized())?;
    if req.header("originator").is_none_or(|o| o.trim().is_empty()) {
        return Err(detail(400, "Missing required header: originator"));
    }
    if !req
        .header("accept")
        .is_some_and(|a| a.contains("text/event-stream"))
    {
        return Err(detail(400, "Accept header must be text/event-stream"));
    }
    let body = body.ok_or_else(|| detail(400, "Request body is not valid JSON"))?;
    let obj = body
        .as_object()
        .ok_or_else(|| detail(400, "Request body must be a JSON object"))?;
    if obj.get("stream") != Some(&Value::Bool(true)) {
        return Err(detail(400, "Stream must be set to true"));
    }
    if obj.get("store") != Some(&Value::Bool(false)) {
        return Err(detail(400, "Store must be set to false"));
    }
    if let Some(p) = UNSUPPORTED.iter().find(|p| obj.contains_key(**p)) {
        return Err(detail(400, &format!("Unsupported parameter: {p}")));
    }
    let model = obj.get("model").and_then(Value::as_str).unwrap_or("");
    let lite = req
        .header("x-openai-internal-codex-responses-lite")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let lite_model = LITE_MODELS.contains(&model);
    // The two request profiles, enforced as the backend does (codex.md §9.2, its error texts).
    let profile_error = |message: &str, param: &str| {
        openai_error(
            400,
            message.into(),
            json!(param),
            json!("unsupported_value"),
        )
    };
    if lite && !lite_model {
        return Err(profile_error(
            "This model is not supported when using X-OpenAI-Internal-Codex-Responses-Lite.",
            "model",
        ));
    }
    let context = obj
        .get("reasoning")
        .and_then(|r| r.get("context"))
        .and_then(Value::as_str);
    if lite_model && context != Some("all_turns") {
        return Err(profile_error(
            "X-OpenAI-Internal-Codex-Responses-Lite requires `reasoning.context` to be `all_turns`.",
            "reasoning.context",
        ));
    }
    if lite {
        if obj
            .get("instructions")
            .and_then(Value::as_str)
            .is_some_and(|i| !i.is_empty())
            || obj.get("tools").is_some()
        {
            return Err(profile_error(
                "X-OpenAI-Internal-Codex-Responses-Lite takes instructions and tools as input items.",
                "instructions",
            ));
        }
        let hosted = obj
            .get("input")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("additional_tools"))
            .flat_map(|i| {
                i.get("tools")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .any(|t| {
                !matches!(
                    t.get("type").and_then(Value::as_str),
                    Some("function" | "custom" | "tool_search")
                )
            });
        if hosted {
            return Err(profile_error(
                "X-OpenAI-Internal-Codex-Responses-Lite only supports function tools, custom tools, and client-executed tool search.",
                "tools",
            ));
        }
    } else if !obj.get("instructions").is_some_and(Value::is_string) {
        return Err(detail(400, "Instructions are required"));
    }
    if model.is_empty() {
        return Err(openai_error(
            400,
            "Missing required parameter: 'model'.".into(),
            json!("model"),
            json!("missing_required_parameter"),
        ));
    }
    let input: Vec<Value> = match obj.get("input") {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => {
            vec![json!({"type":"message","role":"user","content":[{"type":"input_text","text":s}]})]
        }
        _ => {
            return Err(openai_error(
                400,
                "Missing required parameter: 'input'.".into(),
                json!("input"),
                json!("missing_required_parameter"),
            ));
        }
    };
    validate_input(shared, &input)?;
    // Lite carries the tool list as the leading `additional_tools` input item.
    let lite_tools = input
        .iter()
        .find(|i| i.get("type").and_then(Value::as_str) == Some("additional_tools"))
        .and_then(|i| i.get("tools").cloned());
    let tools = if lite {
        lite_tools.as_ref()
    } else {
        obj.get("tools")
    };
    validate_tools(tools, SEARCH_MODELS.contains(&model))?;

    let reasoning = obj.get("reasoning").cloned().unwrap_or(Value::Null);
    let summary = reasoning.get("summary").and_then(Value::as_str);
    let include_encrypted = obj
        .get("include")
        .and_then(Value::as_array)
        .is_some_and(|a| {
            a.iter()
                .any(|v| v.as_str() == Some("reasoning.encrypted_content"))
        });
    Ok(Ctx {
        model: model.to_string(),
        instructions: obj.get("instructions").cloned().unwrap_or(Value::Null),
        prompt_cache_key: obj.get("prompt_cache_key").cloned().unwrap_or(Value::Null),
        reasoning: json!({
            "effort": reasoning.get("effort").cloned().unwrap_or(json!("medium")),
            "summary": summary.map(|s| if s == "auto" { "detailed" } else { s }),
        }),
        tools: echo_tools(tools),
        tool_choice: obj.get("tool_choice").cloned().unwrap_or(json!("auto")),
        parallel_tool_calls: obj
            .get("parallel_tool_calls")
            .cloned()
            .unwrap_or(json!(true)),
        include_encrypted,
        summary_requested: summary.is_some_and(|s| s != "none"),
        reasoning_off: reasoning.get("effort").and_then(Value::as_str) == Some("none"),
        has_tool_output: input.iter().any(|i| {
            matches!(
                i.get("type").and_then(Value::as_str),
                Some("function_call_output" | "custom_tool_call_output" | "tool_search_output")
            )
        }),
        input: input.clone(),
        write_path: write_path(&req.body),
        cache: shared
            .cfg
            .prompt_cache
            .then(|| prompt_cache(shared, req, obj)),
    })
}

/// Bytes per token of the cache model, and the cache's block (128 tokens, as the backend's).
const BYTES_PER_TOKEN: usize = 4;
const BLOCK_TOKENS: usize = 128;

/// The prompt-cache model: the request's prefix is what the model reads, in order (the
/// instructions, the tools, the input items, as sent); it is served from cache for as many
/// whole 128-token blocks as it shares with the last request on the same slot (account, model,
/// `prompt_cache_key`, `session_id` header), and becomes that slot's last request. One prefix
/// per slot: a request of another lineage on the same slot (a subagent sharing its parent's
/// key and model) replaces the parent's, as a cache of bounded size would.
/// `(input_tokens, cached)`.
fn prompt_cache(shared: &Shared, req: &Req, obj: &serde_json::Map<String, Value>) -> (u64, u64) {
    let prefix = serde_json::to_string(&json!([
        obj.get("instructions"),
        obj.get("tools"),
        obj.get("input")
    ]))
    .unwrap_or_default();
    let tokens = prefix.len().div_ceil(BYTES_PER_TOKEN);
    let key = obj
        .get("prompt_cache_key")
        .and_then(Value::as_str)
        .unwrap_or("");
    let session = req.header("session_id").unwrap_or("");
    if key.is_empty() && session.is_empty() {
        return (tokens as u64, 0);
    }
    let model = obj.get("model").and_then(Value::as_str).unwrap_or("");
    let slot = (
        format!("{}/{model}", req.header("chatgpt-account-id").unwrap_or("")),
        key.to_string(),
        session.to_string(),
    );
    let mut g = shared.lock();
    let shared_bytes = g.cache_slots.get(&slot).map_or(0, |last| {
        last.bytes()
            .zip(prefix.bytes())
            .take_while(|(a, b)| a == b)
            .count()
    });
    g.cache_slots.insert(slot, prefix);
    let block_bytes = BLOCK_TOKENS * BYTES_PER_TOKEN;
    let cached = (shared_bytes / block_bytes) * BLOCK_TOKENS;
    (tokens as u64, cached.min(tokens) as u64)
}

/// The path of a `[[write:P]]` marker (JSON-unescaped), or a default.
pub(crate) fn write_path(body: &[u8]) -> String {
    scenarios::marker(body, "[[write:")
        .map(|raw| serde_json::from_str::<String>(&format!("\"{raw}\"")).unwrap_or(raw))
        .unwrap_or_else(|| "/tmp/proxy-fakes-write.txt".to_string())
}

/// Tools as the backend echoes them: `strict` defaults to true when omitted.
fn echo_tools(tools: Option<&Value>) -> Value {
    let Some(Value::Array(tools)) = tools else {
        return json!([]);
    };
    Value::Array(
        tools
            .iter()
            .map(|t| {
                let mut t = t.clone();
                if let Some(m) = t.as_object_mut()
                    && m.get("type").and_then(Value::as_str) == Some("function")
                    && !m.contains_key("strict")
                {
                    m.insert("strict".into(), json!(true));
                }
                t
            })
            .collect(),
    )
}

fn name_error(field: &str, name: &str) -> Option<Reject> {
    if name.chars().count() > 64 {
        return Some(openai_error(
            400,
            format!(
                "Invalid '{field}': string too long. Expected a string with maximum length 64, but got a string with length {} instead.",
                name.chars().count()
            ),
            json!(field),
            json!("string_above_max_length"),
        ));
    }
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Some(openai_error(
            400,
            format!(
                "Invalid '{field}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
            ),
            json!(field),
            json!("invalid_value"),
        ));
    }
    None
}

/// Models whose catalog entry has `supports_search_tool` (codex.md §9.6: 5.5, 5.6, Astra).
pub(crate) const SEARCH_MODELS: &[&str] = &["gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.5"];

/// A tool list as the backend checks it. The two tool-search refusals are this fake's own
/// wording (the real texts were not seen): a `tool_search` tool for a model without
/// `supports_search_tool`, and a deferred tool with nothing to find it.
fn validate_tools(tools: Option<&Value>, search_ok: bool) -> Result<(), Reject> {
    let Some(tools) = tools else { return Ok(()) };
    let Some(tools) = tools.as_array() else {
        return Err(openai_error(
            400,
            "Invalid type for 'tools': expected an array.".into(),
            json!("tools"),
            json!("invalid_type"),
        ));
    };
    let has_search = tools
        .iter()
        .any(|t| t.get("type").and_then(Value::as_str) == Some("tool_search"));
    for (i, t) in tools.iter().enumerate() {
        let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
        if ty == "function" || ty == "custom" {
            let name = t.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(e) = name_error(&format!("tools[{i}].name"), name) {
                return Err(e);
            }
            if t.get("defer_loading") == Some(&Value::Bool(true)) && !has_search {
                return Err(openai_error(
                    400,
                    format!(
                        "Invalid 'tools[{i}].defer_loading': deferred tools need a tool_search tool."
                    ),
                    json!(format!("tools[{i}].defer_loading")),
                    json!("invalid_value"),
                ));
            }
        }
        if ty == "tool_search" {
            let execution = t.get("execution").and_then(Value::as_str);
            if !matches!(execution, Some("client" | "server")) || !search_ok {
                return Err(openai_error(
                    400,
                    format!("Invalid 'tools[{i}]': tool search is not supported with this model."),
                    json!(format!("tools[{i}]")),
                    json!("invalid_value"),
                ));
            }
        }
    }
    Ok(())
}

fn validate_input(shared: &Shared, input: &[Value]) -> Result<(), Reject> {
    let mut calls: Vec<(String, usize)> = Vec::new();
    let mut outputs: Vec<(String, usize)> = Vec::new();
    for (i, item) in input.iter().enumerate() {
        let ty = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        if let Some(id) = item.get("id").filter(|v| !v.is_null()) {
            return Err(not_found(id.as_str().unwrap_or("")));
        }
        if ty == "item_reference" {
            return Err(not_found(
                item.get("id").and_then(Value::as_str).unwrap_or(""),
            ));
        }
        if item.get("role").and_then(Value::as_str) == Some("system") {
            return Err(detail(400, "System messages are not allowed"));
        }
        match ty {
            "message" => check_content(item, i)?,
            "function_call" | "custom_tool_call" => {
                let call_id = call_id(item, i)?;
                let name = item.get("name").and_then(Value::as_str).unwrap_or("");
                if let Some(e) = name_error(&format!("input[{i}].name"), name) {
                    return Err(e);
                }
                calls.push((call_id, i));
            }
            "function_call_output" | "custom_tool_call_output" => {
                outputs.push((call_id(item, i)?, i));
            }
            "tool_search_call" => {
                let call_id = call_id(item, i)?;
                if !item.get("arguments").is_some_and(Value::is_object) {
                    return Err(openai_error(
                        400,
                        format!("Invalid type for 'input[{i}].arguments': expected an object."),
                        json!(format!("input[{i}].arguments")),
                        json!("invalid_type"),
                    ));
                }
                calls.push((call_id, i));
            }
            "tool_search_output" => {
                outputs.push((call_id(item, i)?, i));
                // The tools found keep their declaration (`defer_loading` included).
                for (k, t) in item["tools"].as_array().into_iter().flatten().enumerate() {
                    let name = t.get("name").and_then(Value::as_str).unwrap_or("");
                    if let Some(e) = name_error(&format!("input[{i}].tools[{k}].name"), name) {
                        return Err(e);
                    }
                }
            }
            "reasoning" => {
                if !item.get("summary").is_some_and(Value::is_array) {
                    return Err(openai_error(
                        400,
                        format!("Missing required parameter: 'input[{i}].summary'."),
                        json!(format!("input[{i}].summary")),
                        json!("missing_required_parameter"),
                    ));
                }
                if let Some(blob) = item.get("encrypted_content").and_then(Value::as_str)
                    && !shared.lock().encrypted.contains(blob)
                {
                    let shown = if blob.len() > 12 {
                        format!("{}...{}", &blob[..4], &blob[blob.len() - 4..])
                    } else {
                        blob.to_string()
                    };
                    return Err(openai_error(
                        400,
                        format!("The encrypted content {shown} could not be verified."),
                        Value::Null,
                        json!("invalid_encrypted_content"),
                    ));
                }
            }
            _ => {}
        }
    }
    for (id, _) in &calls {
        if !outputs.iter().any(|(o, _)| o == id) {
            return Err(openai_error(
                400,
                format!("No tool output found for function call {id}."),
                json!("input"),
                Value::Null,
            ));
        }
    }
    for (id, _) in &outputs {
        if !calls.iter().any(|(c, _)| c == id) {
            return Err(openai_error(
                400,
                format!("No tool call found for function call output with call_id {id}."),
                json!("input"),
                Value::Null,
            ));
        }
    }
    Ok(())
}

fn not_found(id: &str) -> Reject {
    openai_error(
        404,
        format!(
            "Item with id '{id}' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input."
        ),
        json!("input"),
        Value::Null,
    )
}

fn call_id(item: &Value, i: usize) -> Result<String, Reject> {
    let id = item.get("call_id").and_then(Value::as_str).unwrap_or("");
    if id.is_empty() {
        return Err(openai_error(
            400,
            format!("Missing required parameter: 'input[{i}].call_id'."),
            json!(format!("input[{i}].call_id")),
            json!("missing_required_parameter"),
        ));
    }
    if id.chars().count() > 64 {
        return Err(openai_error(
            400,
            format!(
                "Invalid 'input[{i}].call_id': string too long. Expected a string with maximum length 64, but got a string with length {} instead.",
                id.chars().count()
            ),
            json!(format!("input[{i}].call_id")),
            json!("string_above_max_length"),
        ));
    }
    Ok(id.to_string())
}

/// Content part types allowed per role (public Responses API rule).
fn check_content(item: &Value, i: usize) -> Result<(), Reject> {
    let role = item.get("role").and_then(Value::as_str).unwrap_or("");
    let Some(parts) = item.get("content").and_then(Value::as_array) else {
        return Ok(()); // string content is allowed
    };
    let (allowed, list): (&[&str], &str) = if role == "assistant" {
        (&["output_text", "refusal"], "'output_text' and 'refusal'")
    } else {
        (
            &["input_text", "input_image", "input_file"],
            "'input_text', 'input_image', and 'input_file'",
        )
    };
    for (j, p) in parts.iter().enumerate() {
        let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
        if !allowed.contains(&ty) {
            return Err(openai_error(
                400,
                format!("Invalid value: '{ty}'. Supported values are: {list}."),
                json!(format!("input[{i}].content[{j}]")),
                json!("invalid_value"),
            ));
        }
    }
    Ok(())
}

/// `GET /backend-api/wham/usage` (live sample shape, codex.md §5.1).
pub(crate) fn usage(shared: &Shared, req: &Req) -> Response {
    let info = match shared.check_bearer(&req.headers) {
        Ok(info) => info,
        Err(()) => return logged(shared, req, 401, unauthorized().1),
    };
    let account = req
        .header("chatgpt-account-id")
        .map(str::to_string)
        .or_else(|| info.as_ref().map(|i| i.account_id.clone()))
        .unwrap_or_else(|| "acct_fake".into());
    let email = info
        .and_then(|i| i.email)
        .unwrap_or_else(|| "user@example.com".into());
    let now = now_secs();
    logged(
        shared,
        req,
        200,
        json!({
            "user_id": "user_fake",
            "account_id": account,
            "email": email,
            "plan_type": "plus",
            "rate_limit": {
                "allowed": true,
                "limit_reached": false,
                "primary_window": {"used_percent": 20, "limit_window_seconds": 604800,
                                   "reset_after_seconds": 16361, "reset_at": now + 16361},
                "secondary_window": null
            },
            "code_review_rate_limit": null,
            "additional_rate_limits": null,
            "credits": {"has_credits": false, "unlimited": false, "overage_limit_reached": false,
                        "balance": "0", "approx_local_messages": [0, 0], "approx_cloud_messages": [0, 0]},
            "spend_control": {"reached": false, "individual_limit": null},
            "rate_limit_reached_type": null,
            "promo": null,
            "rate_limit_reset_credits": {"available_count": 2, "applicable_available_count": 0}
        }),
    )
}

/// `GET /backend-api/codex/models?client_version=V` (abridged catalog, codex.md §5.2).
pub(crate) fn models(shared: &Shared, req: &Req) -> Response {
    if shared.check_bearer(&req.headers).is_err() {
        return logged(shared, req, 401, unauthorized().1);
    }
    let form = parse_form(&req.query);
    if form_get(&form, "client_version").is_none_or(str::is_empty) {
        return logged(
            shared,
            req,
            400,
            json!({"detail": "Missing required query parameter: client_version"}),
        );
    }
    let account = shared
        .check_bearer(&req.headers)
        .ok()
        .flatten()
        .map(|i| i.account_id);
    let plan = account
        .and_then(|a| shared.lock().plans.get(&a).cloned())
        .unwrap_or_else(|| "plus".to_string());
    let version = form_get(&form, "client_version").unwrap_or("");
    let revision = shared.lock().catalog_revision.max(1);
    let models: Vec<Value> = catalog_entries(revision)
        .into_iter()
        // `client_version` filters silently (codex.md §9.1), and so does the plan.
        .filter(|m| version_at_least(version, m["minimal_client_version"].as_str().unwrap_or("0")))
        .filter(|m| {
            m["available_in_plans"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p.as_str() == Some(plan.as_str())))
        })
        .collect();
    let body = json!({ "models": models });
    let mut resp = logged(shared, req, 200, body);
    set_header(&mut resp, "etag", &catalog_etag(revision));
    resp
}

/// The catalog's ETag at a revision (also sent as `x-models-etag` on `/responses`).
pub(crate) fn catalog_etag(revision: u32) -> String {
    format!("\"fake-models-etag-{revision}\"")
}

/// Models whose catalog entry says `use_responses_lite` (codex.md §9.1–9.2).
pub(crate) const LITE_MODELS: &[&str] = &["gpt-5.6-sol", "gpt-5.6-terra"];

/// Dotted numeric versions compared field by field (`0.153.0` ≥ `0.124.0`).
fn version_at_least(v: &str, min: &str) -> bool {
    let parse = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(v) >= parse(min)
}

/// Every model the fake backend knows, with the fields of a real entry (codex.md §5.2, §9.1).
fn catalog_entries(revision: u32) -> Vec<Value> {
    let model = |slug: &str, name: &str, levels: &[&str], ctx: u64, prio: u64| {
        json!({
            "slug": slug, "display_name": name, "description": format!("{name} (fake catalog)"),
            "default_reasoning_level": "medium",
            "supported_reasoning_levels": levels.iter().map(|l| json!({"effort": l, "description": format!("{l} reasoning")})).collect::<Vec<_>>(),
            "shell_type": "shell_command", "visibility": "list", "minimal_client_version": "0.124.0",
            "supported_in_api": true, "priority": prio, "upgrade": null, "availability_nux": null,
            "base_instructions": "You are Codex.", "model_messages": {"instructions_template": "{{ base }}"},
            "supports_reasoning_summaries": true, "supports_reasoning_summary_parameter": true,
            "default_reasoning_summary": "none", "support_verbosity": true, "default_verbosity": "low",
            "apply_patch_tool_type": "freeform", "web_search_tool_type": "text_and_image",
            "supports_search_tool": true, "input_modalities": ["text", "image"],
            "supports_image_detail_original": true, "truncation_policy": {"mode": "tokens", "limit": 10000},
            "supports_parallel_tool_calls": true, "context_window": ctx, "max_context_window": ctx,
            "auto_compact_token_limit": null, "prefer_websockets": true, "use_responses_lite": false,
            "service_tiers": [{"id": "priority", "name": "Fast", "description": "1.5x speed, increased usage"}],
            "default_service_tier": null,
            "available_in_plans": ["free", "go", "plus", "pro", "team", "business", "enterprise"],
            "experimental_supported_tools": []
        })
    };
    let levels = ["low", "medium", "high", "xhigh"];
    let lite_levels = ["low", "medium", "high", "xhigh", "max", "ultra"];
    let lite = |slug: &str, name: &str| {
        let mut m = model(slug, name, &lite_levels, 272_000, 6);
        m["use_responses_lite"] = json!(true);
        m["max_context_window"] = json!(872_000);
        m["effective_context_window_percent"] = json!(95);
        m["minimal_client_version"] = json!("0.153.0");
        m["default_reasoning_level"] = json!("low");
        m["available_in_plans"] = json!(["plus", "pro", "team", "business", "enterprise"]);
        m["service_tiers"] = json!([
            {"id": "priority", "name": "Fast", "description": "1.5x speed, increased usage"},
            {"id": "ultrafast", "name": "Ultrafast", "description": "The fastest available responses for latency-sensitive work."}
        ]);
        m
    };
    let mut spark = model(
        "gpt-5.3-codex-spark",
        "GPT-5.3-Codex-Spark",
        &levels,
        128_000,
        10,
    );
    spark["service_tiers"] = json!([]);
    let mut list = vec![
        lite("gpt-5.6-sol", "GPT-5.6-Sol"),
        // Priorities as the real catalog orders them: lower first, the newest lowest
        // (codex.md §9.1: gpt-5.6-sol 6, gpt-5.5 7).
        model("gpt-5.5", "GPT-5.5", &levels, 272_000, 7),
        model("gpt-5.4", "GPT-5.4", &levels, 272_000, 8),
        model("gpt-5.4-mini", "GPT-5.4-Mini", &levels, 272_000, 9),
        spark,
    ];
    if revision >= 2 {
        list.insert(1, lite("gpt-5.6-terra", "GPT-5.6-Terra"));
    }
    for m in &mut list {
        let slug = m["slug"].as_str().unwrap_or("").to_owned();
        m["supports_search_tool"] = json!(SEARCH_MODELS.contains(&slug.as_str()));
    }
    list
}
