//! Where each upstream family is, from configuration: the core's [`Target`] for a route.
//! How a request is converted and what happens around the call is the exchange machine's
//! (proxy-core); this only says URLs and headers.

use crate::config::{Config, Provider};
use crate::http::state::AppState;
use proxy_core::Route;
use proxy_core::exchange::{ChatTarget, CodexTarget, Target};

/// The Codex backend.
pub fn codex(st: &AppState) -> Target {
    let cfg = st.cfg();
    Target::Codex(CodexTarget {
        url: format!(
            "{}/codex/responses",
            cfg.codex_base_url.trim_end_matches('/')
        ),
        user_agent: codex_user_agent(&cfg.codex_client_version),
        version: cfg.codex_client_version.clone(),
    })
}

/// The user agent of every request to the Codex backend: the Codex CLI's form.
pub fn codex_user_agent(version: &str) -> String {
    format!(
        "codex_cli_rs/{version} ({} ; {}) codex-claude-proxy/{}",
        std::env::consts::OS,
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    )
}

/// The configured provider a Chat route names, if it exists.
pub fn provider<'a>(cfg: &'a Config, route: &Route) -> Option<&'a Provider> {
    let name = route.provider.as_deref().unwrap_or("kilo");
    cfg.providers.iter().find(|p| p.name == name)
}

/// A Chat Completions provider, sending `key` (`KeyFiles::provider_key`).
pub fn chat(st: &AppState, provider: &Provider, key: Option<String>) -> Target {
    let mut headers: Vec<(String, String)> = vec![(
        "user-agent".into(),
        format!("codex-claude-proxy/{}", env!("CARGO_PKG_VERSION")),
    )];
    if let Some(key) = key {
        headers.push(("authorization".into(), format!("Bearer {key}")));
    }
    if provider.kilo_headers {
        headers.push(("http-referer".into(), "https://kilo.ai".into()));
        headers.push(("x-title".into(), "codex-claude-proxy".into()));
        headers.push(("x-kilocode-machineid".into(), st.machine_id.clone()));
    }
    headers.extend(
        provider
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
    );
    Target::Chat(ChatTarget {
        url: format!(
            "{}/chat/completions",
            provider.base_url.trim_end_matches('/')
        ),
        headers,
        max_tokens_field: provider.max_tokens_field.clone(),
        reasoning_style: provider.reasoning_style.clone(),
    })
}
