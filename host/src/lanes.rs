//! The two upstream families: how a request is converted (by the core) and sent.

use crate::accounts::{Slot, tag_of};
use crate::config::Provider;
use crate::server::{ApiError, AppState};
use crate::store::StoredAccount;
use proxy_core::{
    ChatOptions, ChatStreamOptions, ChatTranslator, ErrorType, EventTranslator, RequestOptions,
    ResponsesTranslator, Route, StreamOptions, convert_chat_request_value, convert_request_value,
};
use serde_json::Value;
use std::sync::Arc;

/// Codex CLI version the backend's headers name.
const CODEX_VERSION: &str = "0.147.0";

/// A translator for whichever upstream serves the request.
pub type Translator = Box<dyn EventTranslator + Send>;

/// A request ready to send.
pub struct Prepared {
    /// The upstream request.
    pub request: reqwest::RequestBuilder,
    /// Its translator.
    pub translator: Translator,
    /// The account used (Codex lane).
    pub slot: Option<Arc<Slot>>,
    /// What the conversion recorded as dropped or approximated.
    pub degradations: Vec<proxy_core::Degradation>,
}

fn log_degradations(d: &[proxy_core::Degradation]) {
    for d in d {
        tracing::debug!(path = %d.path, kind = ?d.kind, detail = %d.detail, "degradation");
    }
}

/// Convert for the Codex backend and build the signed request.
pub fn prepare_codex(
    st: &AppState,
    model: &str,
    route: &Route,
    session: Option<&str>,
    value: Value,
    account: Option<(StoredAccount, String)>,
    strip_reasoning: bool,
) -> Result<Prepared, ApiError> {
    let (account, token) = account.ok_or_else(|| {
        ApiError::new(
            ErrorType::AuthenticationError,
            "no ChatGPT account available",
        )
    })?;
    let tag = tag_of(&account.account_id);
    let mut opts = RequestOptions::new(route.model.clone());
    opts.effort = route.effort.clone();
    opts.session_id = session.map(str::to_owned);
    opts.account_tag = Some(tag.clone());
    let converted = convert_request_value(value, &opts)
        .map_err(|e| ApiError::new(e.error_type(), e.to_string()))?;
    log_degradations(&converted.degradations);
    let mut req = converted.value;
    if strip_reasoning {
        req.strip_reasoning();
    }
    let url = format!(
        "{}/codex/responses",
        st.cfg.codex_base_url.trim_end_matches('/')
    );
    let mut rb = st
        .client
        .post(url)
        .bearer_auth(&token)
        .header("chatgpt-account-id", &account.account_id)
        .header("originator", "codex_cli_rs")
        .header(
            "user-agent",
            format!(
                "codex_cli_rs/{CODEX_VERSION} ({} ; {}) codex-claude-proxy/{}",
                std::env::consts::OS,
                std::env::consts::ARCH,
                env!("CARGO_PKG_VERSION")
            ),
        )
        .header("version", CODEX_VERSION)
        .header("accept", "text/event-stream")
        .header("content-type", "application/json");
    if let Some(k) = &req.prompt_cache_key {
        // A session id is client data: one that is not a valid header value is not sent.
        if let Ok(v) = reqwest::header::HeaderValue::from_str(k) {
            rb = rb.header("session_id", v);
        }
    }
    let translator: Translator = Box::new(ResponsesTranslator::new(StreamOptions {
        model: model.to_owned(),
        thinking: req.thinking,
        tool_names: req.tool_names.clone(),
        upstream_model: route.model.clone(),
        account_tag: Some(tag),
        seed: st.next_seed(),
        stop_sequences: req.stop_sequences.clone(),
    }));
    Ok(Prepared {
        request: rb.body(req.to_json()),
        translator,
        slot: None,
        degradations: converted.degradations,
    })
}

/// Convert for a Chat Completions provider and build its request.
pub fn prepare_chat(
    st: &AppState,
    model: &str,
    route: &Route,
    provider: &Provider,
    value: Value,
) -> Result<Prepared, ApiError> {
    let mut opts = ChatOptions::new(route.model.clone());
    opts.max_tokens_field = provider.max_tokens_field.clone();
    opts.reasoning_style = provider.reasoning_style.clone();
    let converted = convert_chat_request_value(value, &opts)
        .map_err(|e| ApiError::new(e.error_type(), e.to_string()))?;
    log_degradations(&converted.degradations);
    let req = converted.value;
    let url = format!(
        "{}/chat/completions",
        provider.base_url.trim_end_matches('/')
    );
    let mut rb = st
        .client
        .post(url)
        .header("accept", "text/event-stream")
        .header("content-type", "application/json")
        .header(
            "user-agent",
            format!("codex-claude-proxy/{}", env!("CARGO_PKG_VERSION")),
        );
    if let Some(key) = provider.key() {
        rb = rb.bearer_auth(key);
    }
    if provider.kilo_headers {
        rb = rb
            .header("http-referer", "https://kilo.ai")
            .header("x-title", "codex-claude-proxy")
            .header("x-kilocode-machineid", &st.machine_id);
    }
    for (k, v) in &provider.headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    let translator: Translator = Box::new(ChatTranslator::new(ChatStreamOptions {
        model: model.to_owned(),
        thinking: req.thinking,
        tool_names: req.tool_names.clone(),
        upstream_model: route.model.clone(),
        seed: st.next_seed(),
    }));
    Ok(Prepared {
        request: rb.body(req.to_json()),
        translator,
        slot: None,
        degradations: converted.degradations,
    })
}
