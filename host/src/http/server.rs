//! The axum router: every route of the HTTP surface, and the small handlers that need no
//! module of their own (health, models, metrics, the UI's files).

use crate::http::state::{AppState, authorized, error_response};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use proxy_core::{ErrorType, error_body};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The router with every route.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.cfg().body_limit;
    Router::new()
        .route(
            "/v1/messages",
            post(crate::http::relay::messages).fallback(method_not_allowed),
        )
        .route(
            "/v1/messages/count_tokens",
            post(crate::http::tokens::count_tokens).fallback(method_not_allowed),
        )
        .route(
            "/v1/chat/completions",
            post(crate::http::relay::chat_completions).fallback(method_not_allowed),
        )
        .route("/v1/models", get(models).fallback(method_not_allowed))
        .route("/health", get(health).fallback(method_not_allowed))
        .route(
            "/kilo/models",
            get(crate::http::admin::kilo_models).fallback(method_not_allowed),
        )
        .route("/metrics", get(metrics).fallback(method_not_allowed))
        .route(
            "/accounts",
            get(crate::http::admin::list_accounts).fallback(method_not_allowed),
        )
        .route(
            "/accounts/device",
            post(crate::http::admin::add_device).fallback(method_not_allowed),
        )
        .route(
            "/accounts/quota",
            get(crate::http::admin::quota).fallback(method_not_allowed),
        )
        // The Node version's name for the same snapshot (its dashboard called this).
        .route(
            "/accounts/quota/all",
            get(crate::http::admin::quota).fallback(method_not_allowed),
        )
        .route(
            "/accounts/import",
            post(crate::http::admin::import_accounts).fallback(method_not_allowed),
        )
        .route(
            "/accounts/add",
            post(crate::http::admin::add_account).fallback(method_not_allowed),
        )
        .route(
            "/accounts/add/manual",
            post(crate::http::admin::add_manual).fallback(method_not_allowed),
        )
        .route(
            "/accounts/login/{state}",
            get(crate::http::admin::login_status).fallback(method_not_allowed),
        )
        .route(
            "/accounts/{id}",
            axum::routing::delete(crate::http::admin::remove_account).fallback(method_not_allowed),
        )
        .route(
            "/accounts/{id}/activate",
            post(crate::http::dashboard::activate).fallback(method_not_allowed),
        )
        .route(
            "/accounts/{id}/refresh",
            post(crate::http::admin::refresh_account).fallback(method_not_allowed),
        )
        .route(
            "/logs",
            get(crate::http::admin::logs)
                .delete(crate::http::dashboard::clear_logs)
                .fallback(method_not_allowed),
        )
        .route(
            "/logs/stream",
            get(crate::http::admin::logs_stream).fallback(method_not_allowed),
        )
        .route(
            "/settings/haiku-model",
            get(crate::http::admin::haiku_model)
                .post(crate::http::admin::haiku_model)
                .fallback(method_not_allowed),
        )
        .route(
            "/settings/account-strategy",
            get(crate::http::admin::strategy)
                .post(crate::http::admin::strategy)
                .fallback(method_not_allowed),
        )
        .route(
            "/claude/config",
            get(crate::http::admin::claude_config).fallback(method_not_allowed),
        )
        .route(
            "/claude/config/proxy",
            post(crate::http::admin::claude_proxy).fallback(method_not_allowed),
        )
        .route(
            "/claude/config/direct",
            post(crate::http::admin::claude_direct).fallback(method_not_allowed),
        )
        .route(
            "/claude/config/preview",
            get(crate::http::dashboard::claude_preview).fallback(method_not_allowed),
        )
        .route(
            "/api/metrics",
            get(crate::http::dashboard::metrics).fallback(method_not_allowed),
        )
        .route(
            "/api/settings",
            get(crate::http::dashboard::settings)
                .put(crate::http::dashboard::settings)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/route",
            get(crate::http::dashboard::route).fallback(method_not_allowed),
        )
        .route(
            "/api/clients",
            get(crate::http::dashboard::clients).fallback(method_not_allowed),
        )
        .route("/api/hello", get(hello).head(hello))
        .route("/", get(crate::http::ui::page).fallback(method_not_allowed))
        .route(
            "/ui/wasm/{file}",
            get(crate::http::ui::wasm).fallback(method_not_allowed),
        )
        .route(
            "/ui/{file}",
            get(crate::http::ui::file).fallback(method_not_allowed),
        )
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::body_deadline::limit,
        ))
        .with_state(state)
}

async fn not_found() -> Response {
    error_response(ErrorType::NotFoundError, "no such route", None)
}

async fn method_not_allowed() -> Response {
    let body = error_body(
        ErrorType::InvalidRequestError,
        "method not allowed on this route",
    );
    let mut r = (StatusCode::METHOD_NOT_ALLOWED, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn hello() -> StatusCode {
    StatusCode::OK
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    // No emails or quota here: /health answers without the client key.
    let accounts: Vec<Value> = st
        .pool
        .summaries(crate::clock::now_secs())
        .into_iter()
        .map(|a| json!({"tag": a["tag"], "plan_type": a["plan_type"], "relogin_needed": a["relogin_needed"]}))
        .collect();
    axum::Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "accounts": accounts,
        "strategy": st.pool.strategy(),
        // Where each Claude model family goes now (haiku's background requests included).
        "routes": crate::http::state::family_routes(&st),
        "lanes": {
            "codex": !st.pool.is_empty(),
            "chat": st.cfg().providers.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        },
    }))
    .into_response()
}

/// Per-account gauges, rendered at scrape time from the pool (quota from the backend's
/// headers, re-login state) in OpenMetrics text.
fn account_metrics(st: &AppState) -> String {
    let now = crate::clock::now_secs();
    let mut out = String::new();
    out.push_str("# HELP ccp_account_relogin_needed 1 when the account needs a new login.\n# TYPE ccp_account_relogin_needed gauge\n");
    let slots = st.pool.all();
    let label = |s: &crate::accounts::Slot| {
        let a = s.snapshot();
        a.email
            .unwrap_or_else(|| s.tag())
            .replace(['"', '\\', '\n'], "_")
    };
    for s in &slots {
        let a = s.snapshot();
        out.push_str(&format!(
            "ccp_account_relogin_needed{{account=\"{}\"}} {}\n",
            label(s),
            u8::from(a.relogin_reason.is_some())
        ));
    }
    out.push_str("# HELP ccp_account_quota_used_percent Used share of a quota window, from the backend's headers.\n# TYPE ccp_account_quota_used_percent gauge\n");
    let mut resets = String::new();
    for s in &slots {
        if let Some((_, q)) = s.quota() {
            for (name, w) in [("primary", q.primary), ("secondary", q.secondary)] {
                let Some(w) = w else { continue };
                if let Some(u) = w.used_percent {
                    out.push_str(&format!(
                        "ccp_account_quota_used_percent{{account=\"{}\",window=\"{name}\"}} {u}\n",
                        label(s)
                    ));
                }
                if let Some(r) = w.reset_in(now) {
                    resets.push_str(&format!(
                        "ccp_account_quota_reset_seconds{{account=\"{}\",window=\"{name}\"}} {r}\n",
                        label(s)
                    ));
                }
            }
        }
    }
    out.push_str("# HELP ccp_account_quota_reset_seconds Seconds until a quota window resets.\n# TYPE ccp_account_quota_reset_seconds gauge\n");
    out.push_str(&resets);
    out.push_str(&format!(
        "# HELP ccp_token_refreshes Token refreshes performed.\n# TYPE ccp_token_refreshes counter\nccp_token_refreshes_total {}\n",
        st.pool.refresh_count()
    ));
    let ws = &st.sockets;
    let n = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    out.push_str(&format!(
        "# HELP ccp_codex_ws_open Codex WebSockets open.\n# TYPE ccp_codex_ws_open gauge\nccp_codex_ws_open {}\n\
         # HELP ccp_codex_ws_opened Codex WebSockets opened.\n# TYPE ccp_codex_ws_opened counter\nccp_codex_ws_opened_total {}\n\
         # HELP ccp_codex_ws_turns Codex turns by socket: appended (only new items), full, or sent again over HTTP.\n# TYPE ccp_codex_ws_turns counter\n\
         ccp_codex_ws_turns_total{{kind=\"appended\"}} {}\nccp_codex_ws_turns_total{{kind=\"full\"}} {}\nccp_codex_ws_turns_total{{kind=\"fell_back\"}} {}\n",
        ws.open(),
        n(&ws.opened),
        n(&ws.appended),
        n(&ws.full),
        n(&ws.fell_back),
    ));
    out
}

async fn metrics(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(e) = authorized(&st.cfg(), &headers) {
        return e.into_response();
    }
    let mut text = st.metrics.render();
    let extra = account_metrics(&st);
    match text.rfind("# EOF") {
        Some(i) => text.insert_str(i, &extra),
        None => text.push_str(&extra),
    }
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

async fn models(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(1000)
        .clamp(1, 1000);
    let provider_models: Vec<(String, String)> = st
        .cfg()
        .providers
        .iter()
        .flat_map(|p| {
            p.models
                .iter()
                .map(move |m| (m.clone(), format!("{m} ({})", p.name)))
        })
        .collect();
    // A Claude id routed to the Codex lane advertises the window its model's catalog gives,
    // so a client compacts before the backend would refuse.
    let window = |id: &str| {
        let route = st.route(id);
        (route.lane == proxy_core::Lane::Codex)
            .then(|| st.catalogs.input_window(&route.model))
            .flatten()
    };
    axum::Json(proxy_core::models_page_with(
        &provider_models,
        limit,
        window,
    ))
    .into_response()
}
