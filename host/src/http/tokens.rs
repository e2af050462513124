//! `POST /v1/messages/count_tokens`: the core counts (`proxy_core::tokens`, with the o200k
//! tokenizer: the host builds core with its `tokens` feature). No upstream account is touched.

use crate::http::state::{AppState, authorized, error_response, parse_body};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use proxy_core::ErrorType;
use serde_json::{Value, json};
use std::sync::Arc;

/// The handler.
pub async fn count_tokens(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(e) = authorized(&st.cfg(), &headers) {
        return e.into_response();
    }
    let Ok(body) = body else {
        return error_response(ErrorType::RequestTooLarge, "request body too large", None);
    };
    let value = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let model = value.get("model").and_then(Value::as_str).unwrap_or("");
    let route = st.route(model);
    match proxy_core::tokens::count_request(value, &route) {
        Ok(n) => axum::Json(json!({"input_tokens": n})).into_response(),
        Err(e) => error_response(e.error_type(), &e.to_string(), None),
    }
}
