//! Model routing: the id a client asks for → lane, upstream model and default effort
//! (docs/CONVERSION.md §5). Route by family and pattern, never by a fixed list of ids:
//! Claude Code sends ids no table has seen yet (`claude-opus-5-5`).

use serde::{Deserialize, Serialize};

/// Which upstream family serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// The ChatGPT Codex backend (needs an account).
    Codex,
    /// An OpenAI-compatible Chat Completions provider.
    Chat,
}

/// Whether a Messages request declares a hosted tool the backend runs itself (web search):
/// such a request needs a model whose profile accepts hosted tools.
pub fn wants_hosted_tools(request: &serde_json::Value) -> bool {
    request
        .get("tools")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("type").and_then(serde_json::Value::as_str))
        .any(|ty| ty.starts_with("web_search_"))
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Glob on the lowercased id (`*` = any run of characters).
    #[serde(rename = "match")]
    pub pattern: String,
    /// The lane.
    pub lane: Lane,
    /// Chat provider name (chat lane only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Upstream model; `*` means the id as sent.
    pub model: String,
    /// Default reasoning effort.
    #[serde(default = "default_effort")]
    pub effort: String,
}

fn default_effort() -> String {
    "medium".into()
}

/// An ordered rule list with a fallback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingTable {
    /// Rules, first match wins.
    pub rules: Vec<Rule>,
    /// Used when no rule matches.
    pub fallback: Rule,
}

/// Where one request goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The lane.
    pub lane: Lane,
    /// Chat provider name.
    pub provider: Option<String>,
    /// Upstream model.
    pub model: String,
    /// Default effort.
    pub effort: String,
    /// The client asked for the long context window (`[1m]`).
    pub long_context: bool,
}

fn rule(pattern: &str, lane: Lane, provider: Option<&str>, model: &str, effort: &str) -> Rule {
    Rule {
        pattern: pattern.into(),
        lane,
        provider: provider.map(Into::into),
        model: model.into(),
        effort: effort.into(),
    }
}

impl Default for RoutingTable {
    fn default() -> Self {
        use Lane::{Chat, Codex};
        let kilo = Some("kilo");
        Self {
            rules: vec![
                rule("*haiku*", Chat, kilo, "kilo-auto/free", "medium"),
                rule("*opus*", Codex, None, "gpt-5.5", "high"),
                rule("*sonnet*", Codex, None, "gpt-5.5", "medium"),
                rule("gpt-*", Codex, None, "*", "medium"),
                rule("*codex*", Codex, None, "*", "medium"),
                rule("*/*", Chat, kilo, "*", "medium"),
                rule("*:free", Chat, kilo, "*", "medium"),
            ],
            fallback: rule("*", Codex, None, "gpt-5.5", "medium"),
        }
    }
}

/// Glob match with `*` only, on bytes.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && pattern[p] != b'*' && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

impl RoutingTable {
    /// Route a requested model id.
    pub fn route(&self, requested: &str) -> Route {
        let mut id = requested.trim();
        let mut long_context = false;
        // `get`, not indexing: the id is the client's, and its last 4 bytes may split a
        // character (the config fuzz target found `route("…")` panicking).
        if let Some(stem) = id
            .len()
            .checked_sub(4)
            .and_then(|at| Some((id.get(..at)?, id.get(at..)?)))
            .filter(|(_, tail)| tail.eq_ignore_ascii_case("[1m]"))
            .map(|(stem, _)| stem)
        {
            id = stem.trim_end();
            long_context = true;
        }
        let lower = id.to_ascii_lowercase();
        let r = self
            .rules
            .iter()
            .find(|r| glob(r.pattern.to_ascii_lowercase().as_bytes(), lower.as_bytes()))
            .unwrap_or(&self.fallback);
        Route {
            lane: r.lane,
            provider: r.provider.clone(),
            model: if r.model == "*" {
                id.to_owned()
            } else {
                r.model.clone()
            },
            effort: r.effort.clone(),
            long_context,
        }
    }

    /// Route a requested model id, with the Node version's server-wide haiku setting: when
    /// `haiku` is set, a haiku id goes wherever that id would go (a Codex model, a Chat
    /// provider's model…), keeping the client's `[1m]`.
    pub fn route_with_haiku(&self, requested: &str, haiku: Option<&str>) -> Route {
        match haiku.filter(|h| !h.trim().is_empty()) {
            Some(h) if requested.to_ascii_lowercase().contains("haiku") => {
                let long_context = self.route(requested).long_context;
                Route {
                    long_context,
                    ..self.route(h)
                }
            }
            _ => self.route(requested),
        }
    }
}

/// Ids Claude Code's model picker accepts (gateway discovery keeps ids starting `claude`).
pub const CLAUDE_MODELS: &[(&str, &str, u64)] = &[
    (
        "claude-opus-4-5",
        "Claude Opus 4.5 (via Codex gpt-5.5)",
        272_000,
    ),
    (
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5 (via Codex gpt-5.5)",
        272_000,
    ),
    (
        "claude-haiku-4-5",
        "Claude Haiku 4.5 (via Kilo free models)",
        200_000,
    ),
    (
        "claude-opus-4-5[1m]",
        "Claude Opus 4.5, long context",
        272_000,
    ),
    (
        "claude-sonnet-4-5[1m]",
        "Claude Sonnet 4.5, long context",
        272_000,
    ),
];

/// `GET /v1/models`: the Claude ids first (Claude Code's model discovery keeps only those),
/// then the given provider models (id, display name) for OpenAI clients; at most `limit`.
pub fn models_page(provider_models: &[(String, String)], limit: usize) -> serde_json::Value {
    models_page_with(provider_models, limit, |_| None)
}

/// [`models_page`] with each Claude id's input window from `window` where it knows one (the
/// host asks the backend's model catalog for the model the id routes to).
pub fn models_page_with(
    provider_models: &[(String, String)],
    limit: usize,
    window: impl Fn(&str) -> Option<u64>,
) -> serde_json::Value {
    use serde_json::{Value, json};
    let data: Vec<Value> = CLAUDE_MODELS
        .iter()
        .map(|(id, name, ctx)| {
            let ctx = window(id).unwrap_or(*ctx);
            ((*id).to_owned(), (*name).to_owned(), Some(ctx))
        })
        .chain(
            provider_models
                .iter()
                .map(|(id, name)| (id.clone(), name.clone(), None)),
        )
        .take(limit)
        .map(|(id, name, ctx)| {
            json!({"type": "model", "id": id, "display_name": name,
                   "created_at": "2025-11-01T00:00:00Z", "max_input_tokens": ctx})
        })
        .collect();
    let first = data.first().map(|m| m["id"].clone()).unwrap_or(Value::Null);
    let last = data.last().map(|m| m["id"].clone()).unwrap_or(Value::Null);
    json!({"data": data, "has_more": false, "first_id": first, "last_id": last})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_ending_inside_a_character_route_without_a_panic() {
        let t = RoutingTable::default();
        // Each has a character across its 4th-last byte.
        for id in ["é…", "ab\u{1F600}c", "claude-opus-é…"] {
            let _ = t.route(id);
        }
        let r = t.route("claude-opus-…[1M]");
        assert!(r.long_context);
    }

    #[test]
    fn globs() {
        assert!(glob(b"*opus*", b"claude-opus-4-5"));
        assert!(glob(b"gpt-*", b"gpt-5.5"));
        assert!(!glob(b"gpt-*", b"xgpt-5"));
        assert!(glob(b"*:free", b"a/b:free"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"*/*", b"claude"));
    }

    #[test]
    fn families() {
        let t = RoutingTable::default();
        assert_eq!(t.route("claude-opus-5-5").model, "gpt-5.5");
        assert_eq!(t.route("haiku").lane, Lane::Chat);
        let r = t.route("claude-sonnet-4-5[1m]");
        assert!(r.long_context);
        assert_eq!(t.route("GPT-5.4-mini").model, "GPT-5.4-mini");
    }

    #[test]
    fn the_haiku_setting_sends_haiku_where_its_id_goes() {
        let t = RoutingTable::default();
        let r = t.route_with_haiku("claude-haiku-4-5-20251001", Some("gpt-5.4-mini"));
        assert_eq!((r.lane, r.model.as_str()), (Lane::Codex, "gpt-5.4-mini"));
        let r = t.route_with_haiku("claude-haiku-4-5[1m]", Some("qwen/qwen3-coder:free"));
        assert_eq!(
            (r.lane, r.model.as_str()),
            (Lane::Chat, "qwen/qwen3-coder:free")
        );
        assert!(r.long_context);
        // Other families and an empty setting keep the table's route.
        assert_eq!(
            t.route_with_haiku("claude-sonnet-4-5", Some("gpt-5.4-mini")),
            t.route("claude-sonnet-4-5")
        );
        assert_eq!(
            t.route_with_haiku("claude-haiku-4-5", Some(" ")),
            t.route("claude-haiku-4-5")
        );
    }
}
