//! The upstream side of an exchange: where a request goes ([`Target`]) and the prepared HTTP
//! request ([`UpstreamRequest`]) with the translator for its answer.

use super::policy::Failure;
use crate::degrade::Converted;
use crate::degrade::Degradation;
use crate::error::RequestError;
use crate::routing::Route;
use crate::translate::chat_request::{
    ChatOptions, convert_chat_request_value, convert_chat_scanned,
};
use crate::translate::chat_stream::{ChatStreamOptions, ChatTranslator};
use crate::translate::raw_history::History;
use crate::translate::request::{
    CodexRequest, Profile, RequestOptions, convert_request_value, convert_scanned, parse_json,
};

/// The header that selects the Responses Lite profile (codex.md §9.2).
pub const LITE_HEADER: &str = "x-openai-internal-codex-responses-lite";
use crate::translate::stream::{ResponsesTranslator, StreamOptions};
use crate::wire::anthropic::{ErrorBody, StreamEvent};
use serde_json::{Map, Value};

/// The Codex backend, as the host configures it.
#[derive(Debug, Clone)]
pub struct CodexTarget {
    /// `{codex_base_url}/codex/responses`.
    pub url: String,
    /// The `user-agent` header.
    pub user_agent: String,
    /// The Codex CLI version the `version` header names.
    pub version: String,
}

/// A Chat Completions provider, as the host configures it.
#[derive(Clone)]
pub struct ChatTarget {
    /// `{base_url}/chat/completions`.
    pub url: String,
    /// Extra headers: the provider's key as `authorization`, its own headers.
    pub headers: Vec<(String, String)>,
    /// How the body is shaped for this provider (the model is the route's).
    pub max_tokens_field: String,
    /// `openrouter`, `openai` or `none`.
    pub reasoning_style: String,
}

impl std::fmt::Debug for ChatTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTarget")
            .field("url", &self.url)
            .field("headers", &redacted(&self.headers))
            .finish_non_exhaustive()
    }
}

/// Where the request goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// The Codex backend, signed with an account's token.
    Codex(CodexTarget),
    /// A Chat Completions provider (no account).
    Chat(ChatTarget),
}

/// One prepared upstream HTTP request.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// Always `POST` today.
    pub method: &'static str,
    /// The whole URL.
    pub url: String,
    /// Header names (lower case) and values; every value is a valid header value.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for UpstreamRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &redacted(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn redacted(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| {
            let secret =
                k.eq_ignore_ascii_case("authorization") || k.to_ascii_lowercase().contains("key");
            (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
        })
        .collect()
}

/// Whether `v` can be sent as an HTTP header value (visible ASCII, space, tab).
pub fn is_header_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// The stream translator for the upstream family.
#[derive(Debug)]
pub(crate) enum Translator {
    Codex(Box<ResponsesTranslator>),
    Chat(Box<ChatTranslator>),
}

impl Translator {
    pub(crate) fn push(&mut self, b: &[u8]) {
        match self {
            Self::Codex(t) => t.push(b),
            Self::Chat(t) => t.push(b),
        }
    }
    pub(crate) fn finish(&mut self) {
        match self {
            Self::Codex(t) => t.finish(),
            Self::Chat(t) => t.finish(),
        }
    }
    pub(crate) fn abort(&mut self, e: ErrorBody) {
        match self {
            Self::Codex(t) => t.abort(e),
            Self::Chat(t) => t.abort(e),
        }
    }
    pub(crate) fn poll_event(&mut self) -> Option<StreamEvent> {
        match self {
            Self::Codex(t) => t.poll_event(),
            Self::Chat(t) => t.poll_event(),
        }
    }
    pub(crate) fn is_done(&self) -> bool {
        match self {
            Self::Codex(t) => t.is_done(),
            Self::Chat(t) => t.is_done(),
        }
    }
    pub(crate) fn take_degradations(&mut self) -> Vec<Degradation> {
        match self {
            Self::Codex(t) => t.take_degradations(),
            Self::Chat(t) => t.take_degradations(),
        }
    }
}

/// What one attempt needs besides the request body.
pub(crate) struct AttemptInput<'a> {
    pub(crate) client_model: &'a str,
    pub(crate) route: &'a Route,
    pub(crate) session: Option<&'a str>,
    /// Account id and access token (Codex lane).
    pub(crate) account: Option<(&'a str, &'a str)>,
    pub(crate) strip_reasoning: bool,
    /// The catalog entry of the model on this account (Codex lane).
    pub(crate) model: Option<&'a crate::catalog::ModelInfo>,
    /// Send the other profile than the catalog's: the backend refused that one.
    pub(crate) switch_profile: bool,
    pub(crate) seed: u64,
    /// The client's body size: the converted body's buffer is made this large at once.
    pub(crate) body_len: usize,
}

pub(crate) struct Prepared {
    pub(crate) request: UpstreamRequest,
    pub(crate) translator: Translator,
    pub(crate) degradations: Vec<Degradation>,
}

/// A request as parsed for an attempt.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    /// The body, without `messages` when `history` is there.
    pub(crate) value: Value,
    /// The history as the fast path scanned it, from the exchange's source bytes.
    pub(crate) history: Option<History>,
}

/// The converted body of `parsed`, from `source` (the bytes it was parsed from): by the fast
/// path (`scanned`) when its history was scanned, else (or if the history needs the `Value`
/// path after all) from a whole parsed value (`whole`).
fn convert<T>(
    parsed: Parsed,
    source: &[u8],
    scanned: impl FnOnce(Map<String, Value>, &[u8], History) -> Result<Option<T>, RequestError>,
    whole: impl FnOnce(Value) -> Result<T, RequestError>,
) -> Result<T, RequestError> {
    let Some(history) = parsed.history else {
        return whole(parsed.value);
    };
    if let Value::Object(rest) = parsed.value
        && let Some(c) = scanned(rest, source, history)?
    {
        return Ok(c);
    }
    whole(parse_json(source)?)
}

/// The Codex body of `parsed`, from `source`.
pub(crate) fn codex_request(
    parsed: Parsed,
    source: &[u8],
    opts: &RequestOptions,
) -> Result<Converted<CodexRequest>, RequestError> {
    convert(
        parsed,
        source,
        |rest, source, history| convert_scanned(rest, source, history, opts),
        |value| convert_request_value(value, opts),
    )
}

/// Convert `parsed` (from `source`) for `target` and build the request.
pub(crate) fn prepare(
    target: &Target,
    parsed: Parsed,
    source: &[u8],
    a: &AttemptInput<'_>,
) -> Result<Prepared, Failure> {
    let bad = |e: crate::error::RequestError| Failure::fatal(e.error_type(), e.to_string());
    match target {
        Target::Codex(t) => {
            let (account_id, token) = a.account.unwrap_or(("", ""));
            let tag = crate::accounts::account_tag(account_id);
            let mut opts = RequestOptions::new(a.route.model.clone());
            opts.effort = a.route.effort.clone();
            opts.session_id = a.session.map(str::to_owned);
            opts.account_tag = Some(tag.clone());
            if let Some(m) = a.model {
                opts.profile = m.profile;
                if !m.efforts.is_empty() {
                    opts.efforts.clone_from(&m.efforts);
                }
                opts.priority_tier = m.has_priority_tier();
                opts.tool_search = m.supports_search_tool;
            }
            if a.switch_profile {
                opts.profile = match opts.profile {
                    Profile::Classic => Profile::Lite,
                    Profile::Lite => Profile::Classic,
                };
            }
            let converted = codex_request(parsed, source, &opts).map_err(bad)?;
            let mut req = converted.value;
            if a.strip_reasoning {
                req.strip_reasoning();
            }
            let mut headers: Vec<(String, String)> = vec![
                ("authorization".into(), format!("Bearer {token}")),
                ("chatgpt-account-id".into(), account_id.to_owned()),
                ("originator".into(), "codex_cli_rs".into()),
                ("user-agent".into(), t.user_agent.clone()),
                ("version".into(), t.version.clone()),
                ("accept".into(), "text/event-stream".into()),
                ("content-type".into(), "application/json".into()),
            ];
            // A session id is client data: one that is not a valid header value is not sent.
            if let Some(k) = req.prompt_cache_key.as_ref().filter(|k| is_header_value(k)) {
                headers.push(("session_id".into(), k.clone()));
            }
            if opts.profile == Profile::Lite {
                headers.push((LITE_HEADER.into(), "true".into()));
            }
            let body = req.to_json_sized(a.body_len + 4096);
            let translator = Translator::Codex(Box::new(ResponsesTranslator::new(StreamOptions {
                model: a.client_model.to_owned(),
                thinking: req.thinking,
                tool_names: req.tool_names,
                upstream_model: a.route.model.clone(),
                account_tag: Some(tag),
                seed: a.seed,
                stop_sequences: req.stop_sequences,
            })));
            Ok(prepared(
                &t.url,
                headers,
                body,
                translator,
                converted.degradations,
            ))
        }
        Target::Chat(t) => {
            let mut opts = ChatOptions::new(a.route.model.clone());
            opts.max_tokens_field = t.max_tokens_field.clone();
            opts.reasoning_style = t.reasoning_style.clone();
            let converted = convert(
                parsed,
                source,
                |rest, source, history| convert_chat_scanned(rest, source, history, &opts),
                |value| convert_chat_request_value(value, &opts),
            )
            .map_err(bad)?;
            let req = converted.value;
            let mut headers: Vec<(String, String)> = vec![
                ("accept".into(), "text/event-stream".into()),
                ("content-type".into(), "application/json".into()),
            ];
            headers.extend(t.headers.iter().cloned());
            let body = req.to_json_sized(a.body_len + 4096);
            let translator = Translator::Chat(Box::new(ChatTranslator::new(ChatStreamOptions {
                model: a.client_model.to_owned(),
                thinking: req.thinking,
                tool_names: req.tool_names,
                upstream_model: a.route.model.clone(),
                seed: a.seed,
            })));
            Ok(prepared(
                &t.url,
                headers,
                body,
                translator,
                converted.degradations,
            ))
        }
    }
}

/// The POST both lanes send, with the translator for its answer.
fn prepared(
    url: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    translator: Translator,
    degradations: Vec<Degradation>,
) -> Prepared {
    Prepared {
        request: UpstreamRequest {
            method: "POST",
            url: url.to_owned(),
            headers,
            body,
        },
        translator,
        degradations,
    }
}
