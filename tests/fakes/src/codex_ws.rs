//! `GET /backend-api/codex/responses` upgraded to a WebSocket (codex.md §1.1, §9.5): each
//! `{"type":"response.create",…}` text message is one turn, answered with the same events as
//! the HTTP stream, one JSON text frame each, after a `codex.rate_limits` event.
//!
//! Continuation as the backend has it: a socket remembers, for each response it produced, that
//! request's whole input and the response's output items; a `previous_response_id` names one of
//! those, and the turn's input is what follows it. An id this socket did not produce (another
//! socket's, or one the fake was told to forget with `[[ws_forget]]`) is answered with
//! `Invalid previous_response_id.`, and the socket refuses every later continuation too.
//! `[[ws_drop]]` in a turn's input drops the socket after `response.created`;
//! `[[ws_close_after]]` closes it after the turn, `[[ws_mute]]` leaves it open and never
//! answers on it again. Each marker acts once per fake. A Lite turn (its `client_metadata`
//! says so) with a `previous_response_id` is refused (codex-rs never sends one, §9.2) unless
//! `FakeConfig::lite_continuation` says this backend continues Lite turns too.
//!
//! Every turn goes through the HTTP handler with the reconstructed full body, so validation,
//! scenarios and the prompt-cache model are the same; its log entry says it came by socket
//! (`ws_items`: the items the message carried) and its `wire_bytes` are the message's size.

use crate::server::{Req, Shared, header_str};
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The error text the backend sends for an unknown `previous_response_id` (codex.md §9.5).
pub const INVALID_PREVIOUS: &str = "Invalid previous_response_id.";

/// The `client_metadata` key that carries the Lite profile on a socket (codex.md §9.2).
const LITE_METADATA: &str = "ws_request_header_x_openai_internal_codex_responses_lite";

/// Answer an upgrade request: refused as configured, 401 without a valid token, else the socket.
pub(crate) fn upgrade(shared: Arc<Shared>, ws: WebSocketUpgrade, headers: HeaderMap) -> Response {
    let log = |status: u16| {
        let req = Req {
            method: Method::GET,
            path: "/backend-api/codex/responses".into(),
            query: String::new(),
            headers: headers.clone(),
            body: Bytes::new(),
            start: Instant::now(),
            wire_bytes: 0,
            ws_items: None,
        };
        shared.push_log(req.log_entry(status));
    };
    if let Some(status) = shared.cfg.refuse_websocket {
        log(status);
        return crate::server::json_response(status, &json!({"detail": "Upgrade Required"}));
    }
    if shared.check_bearer(&headers).is_err() {
        log(401);
        return crate::server::json_response(401, &json!({"detail": "Unauthorized"}));
    }
    log(101);
    ws.on_upgrade(move |socket| serve(shared, socket, headers))
}

/// One socket's life: its turns, one at a time, as the backend runs them.
async fn serve(shared: Arc<Shared>, mut socket: WebSocket, headers: HeaderMap) {
    let mut known: HashMap<String, Vec<Value>> = HashMap::new();
    let mut refusing = false;
    while let Some(Ok(msg)) = socket.recv().await {
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(_) => return,
            _ => continue,
        };
        let wire_bytes = text.len();
        throttle(&shared, wire_bytes).await;
        let Ok(Value::Object(mut body)) = serde_json::from_str::<Value>(&text) else {
            let _ = send(
                &mut socket,
                &error(400, "Could not parse the message as JSON."),
            )
            .await;
            continue;
        };
        if shared.cfg.refuse_ws_turns {
            if send(&mut socket, &error(400, "Unsupported message."))
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        if body.remove("type").as_ref().and_then(Value::as_str) != Some("response.create") {
            let _ = send(&mut socket, &error(400, "Unsupported event type.")).await;
            continue;
        }
        let ws_items = body
            .get("input")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let mut input = match body.remove("input") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let lite_turn = body
            .get("client_metadata")
            .and_then(|m| m.get(LITE_METADATA))
            .and_then(Value::as_str)
            == Some("true");
        if lite_turn && body.contains_key("previous_response_id") && !shared.cfg.lite_continuation {
            // codex-rs never continues a Lite turn (codex.md §9.2); the fake's own wording.
            let refusal = error(
                400,
                "previous_response_id is not supported with the Responses Lite profile.",
            );
            if send(&mut socket, &refusal).await.is_err() {
                return;
            }
            continue;
        }
        if let Some(prev) = body.remove("previous_response_id") {
            let prev = prev.as_str().unwrap_or("");
            match known.get(prev) {
                Some(context) if !refusing => {
                    let mut full = context.clone();
                    full.append(&mut input);
                    input = full;
                }
                _ => {
                    refusing = true;
                    shared.lock().ws_refused += 1;
                    if send(&mut socket, &error(400, INVALID_PREVIOUS))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
            }
        }
        let text_of_input = serde_json::to_string(&input).unwrap_or_default();
        // Each marker acts once per fake (the request sent again must get through).
        let once = |marker: &str| {
            text_of_input.contains(&format!("[[{marker}]]"))
                && shared.lock().once_seen.insert(marker.to_owned())
        };
        // The backend loses this socket's state: the next continuation is unknown.
        let forget = once("ws_forget");
        if forget {
            known.clear();
        }
        let drop_after_created = once("ws_drop");
        // After this turn the backend closes the socket, or stops answering on it.
        let close_after = once("ws_close_after");
        let mute_after = once("ws_mute");
        body.insert("input".into(), Value::Array(input.clone()));
        body.insert("stream".into(), Value::Bool(true));
        // What HTTP says in headers a socket turn says by being one, or in its metadata.
        let mut turn_headers = headers.clone();
        turn_headers.insert("accept", HeaderValue::from_static("text/event-stream"));
        turn_headers.insert("content-type", HeaderValue::from_static("application/json"));
        let lite = body
            .remove("client_metadata")
            .and_then(|m| m.get(LITE_METADATA).cloned());
        if lite.as_ref().and_then(Value::as_str) == Some("true") {
            turn_headers.insert(
                "x-openai-internal-codex-responses-lite",
                HeaderValue::from_static("true"),
            );
        }
        let req = Req {
            method: Method::POST,
            path: "/backend-api/codex/responses".into(),
            query: String::new(),
            headers: turn_headers,
            body: Bytes::from(serde_json::to_vec(&Value::Object(body)).unwrap_or_default()),
            start: Instant::now(),
            wire_bytes,
            ws_items: Some(ws_items),
        };
        let resp = crate::codex::responses(&shared, req).await;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap_or_default();
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let frame = match v.get("error") {
                Some(e) => json!({"type": "error", "status": status, "error": e}),
                None => error(status, v["detail"].as_str().unwrap_or("error")),
            };
            if send(&mut socket, &frame).await.is_err() {
                return;
            }
            continue;
        }
        // The quota as the socket tells it (the shape of codex-rs's event); 12 % where the
        // HTTP answer's headers say 9 %, so a test can tell which one the proxy read.
        let limits = json!({"type": "codex.rate_limits", "plan_type": "plus",
            "rate_limits": {"allowed": true, "limit_reached": false,
                "primary": {"used_percent": 12.0, "window_minutes": 300, "reset_after_seconds": 3600,
                    "reset_at": crate::util::now_secs() + 3600},
                "secondary": {"used_percent": 31.0, "window_minutes": 10080, "reset_after_seconds": 167_364,
                    "reset_at": crate::util::now_secs() + 167_364}},
            "code_review_rate_limits": null});
        if send(&mut socket, &limits).await.is_err() {
            return;
        }
        let mut output = Vec::new();
        let mut events = resp.into_body().into_data_stream();
        let mut pending = Vec::new();
        let mut ended = false;
        while let Some(Ok(chunk)) = events.next().await {
            pending.extend_from_slice(&chunk);
            while let Some(end) = find(&pending, b"\n\n") {
                let frame: Vec<u8> = pending.drain(..end + 2).collect();
                let Some(data) = data_of(&frame) else {
                    continue;
                };
                let event: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                match event["type"].as_str() {
                    Some("response.output_item.done") => {
                        // Held by the backend itself: the item-id check of `store:false`
                        // input is for what a client sends, so the ids go.
                        let mut item = event["item"].clone();
                        if let Some(o) = item.as_object_mut() {
                            o.remove("id");
                        }
                        output.push(item);
                    }
                    Some("response.completed") if !forget => {
                        if let Some(id) = event.pointer("/response/id").and_then(Value::as_str) {
                            let mut context = input.clone();
                            context.extend(output.iter().cloned());
                            known.insert(id.to_owned(), context);
                        }
                    }
                    _ => {}
                }
                ended |= matches!(
                    event["type"].as_str(),
                    Some(
                        "response.completed" | "response.failed" | "response.incomplete" | "error"
                    )
                );
                if socket.send(Message::Text(data.into())).await.is_err() {
                    return;
                }
                if drop_after_created && event["type"] == "response.created" {
                    // A dropped connection, not a close handshake.
                    return;
                }
            }
        }
        if !ended {
            // The scripted answer broke off (a stream cut mid-response): on a socket that is
            // the connection dropping, not a turn left open.
            return;
        }
        if close_after {
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
        if mute_after {
            // Open but dead: whatever comes is read and never answered.
            while let Some(Ok(_)) = socket.recv().await {}
            return;
        }
    }
}

/// The upload of `bytes` over the configured uplink (`upload_bits_per_sec`).
pub(crate) async fn throttle(shared: &Shared, bytes: usize) {
    if let Some(bps) = shared.cfg.upload_bits_per_sec.filter(|&b| b > 0) {
        let micros = (bytes as u64 * 8).saturating_mul(1_000_000) / bps;
        tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
    }
}

fn error(status: u16, message: &str) -> Value {
    json!({"type": "error", "status": status,
        "error": {"type": "invalid_request_error", "code": null, "message": message, "param": null}})
}

async fn send(socket: &mut WebSocket, v: &Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(v.to_string().into())).await
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The `data:` payload of one SSE frame (the fake writes one data line per event).
fn data_of(frame: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(frame).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Whether a request asks for the WebSocket upgrade.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    header_str(headers, "upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
}
