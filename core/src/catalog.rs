//! The Codex backend's model catalog (`GET {codex}/codex/models?client_version=…`,
//! codex.md §5.2 and §9.1): which models an account may use and how each wants to be asked.
//! The catalog, not a slug pattern, decides a model's wire profile (classic or Responses
//! Lite), the efforts it accepts, its context window and its service tiers.
//!
//! Parsing is lenient: unknown fields are ignored, a malformed entry is skipped, and a missing
//! field takes the backend's documented default.

use crate::translate::request::Profile;
use serde_json::Value;

/// Efforts the backend lists but refuses on the wire (`ultra` is a client-side multi-agent
/// mode; codex.md §9.7).
const NEVER_SENT: &[&str] = &["ultra"];

/// One model of the catalog, as far as a translator needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelInfo {
    /// `slug`: the `model` of a request.
    pub slug: String,
    /// `display_name`.
    pub display_name: String,
    /// `use_responses_lite`: the request profile the backend demands.
    pub profile: Profile,
    /// `supported_reasoning_levels[].effort`, in the catalog's order (lowest first), without
    /// the ones never sent.
    pub efforts: Vec<String>,
    /// `default_reasoning_level`.
    pub default_effort: Option<String>,
    /// `context_window` (input tokens).
    pub context_window: Option<u64>,
    /// `effective_context_window_percent`: the share of the window the Codex CLI budgets.
    pub effective_percent: Option<u64>,
    /// `service_tiers[].id` (`priority` is "Fast").
    pub service_tiers: Vec<String>,
    /// `available_in_plans`.
    pub plans: Vec<String>,
    /// `visibility` is `list` (shown in pickers).
    pub listed: bool,
    /// `prefer_websockets`.
    pub prefer_websockets: bool,
    /// `supports_search_tool`: the model runs client-executed tool search (codex.md §9.6).
    pub supports_search_tool: bool,
    /// `priority`: lower sorts first in the Codex picker.
    pub priority: Option<i64>,
}

impl ModelInfo {
    /// The input tokens a client should plan for: the window times the effective share (the
    /// Codex CLI's own budget), so a client compacts before the backend refuses.
    pub fn input_window(&self) -> Option<u64> {
        let w = self.context_window?;
        Some(self.effective_percent.map_or(w, |p| w * p.min(100) / 100))
    }

    /// Whether `speed: "fast"` has a tier to go to on this model.
    pub fn has_priority_tier(&self) -> bool {
        self.service_tiers.iter().any(|t| t == "priority")
    }
}

/// One account's catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Catalog {
    /// The response's `ETag`; `/responses` answers carry it as `x-models-etag`, and a different
    /// value there means this catalog is stale.
    pub etag: Option<String>,
    /// The models, in the catalog's order.
    pub models: Vec<ModelInfo>,
}

impl Catalog {
    /// Parse a catalog answer (`{"models": […]}`); `None` when it is not one.
    pub fn parse(body: &[u8], etag: Option<String>) -> Option<Catalog> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let list = v.get("models")?.as_array()?;
        let models = list.iter().filter_map(model).collect();
        Some(Catalog { etag, models })
    }

    /// The entry for `slug`.
    pub fn get(&self, slug: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.slug == slug)
    }
}

impl ModelInfo {
    /// A small, fast model (`-mini`, `-nano`): what background requests want.
    pub fn is_small(&self) -> bool {
        self.slug.ends_with("-mini") || self.slug.ends_with("-nano")
    }
}

/// The Codex model the default routing table gives a Claude model family on the accounts'
/// catalogs: opus and sonnet → the newest flagship (the picker's first model that is not
/// small), haiku → the picker's first small model; `None` for other ids or when no model fits.
/// Only a model every catalog lists is chosen: a model some accounts lack (another plan) would
/// leave those accounts nothing to serve when the others hit their usage limits, and rotation
/// must keep working. A request that needs hosted tools (web search) is kept off Responses
/// Lite models, which refuse them (codex.md §9.2).
pub fn default_for<'a>(
    catalogs: &[&'a [ModelInfo]],
    requested: &str,
    hosted_tools: bool,
) -> Option<&'a ModelInfo> {
    let (first, others) = catalogs.split_first()?;
    let everywhere = |m: &ModelInfo| others.iter().all(|c| c.iter().any(|o| o.slug == m.slug));
    let id = requested.to_ascii_lowercase();
    let small = if id.contains("haiku") {
        true
    } else if id.contains("opus") || id.contains("sonnet") {
        false
    } else {
        return None;
    };
    first_pick(first.iter(), |m| {
        m.is_small() == small && !(hosted_tools && m.profile == Profile::Lite) && everywhere(m)
    })
}

/// The model the Codex picker puts first among `models` that pass `suitable`: listed, lowest
/// `priority` (the picker sorts lower first; the newest model has the lowest, codex.md §9.1:
/// gpt-5.6-sol 6, gpt-5.5 7), the first of equals in catalog order.
pub fn first_pick<'a>(
    models: impl IntoIterator<Item = &'a ModelInfo>,
    suitable: impl Fn(&ModelInfo) -> bool,
) -> Option<&'a ModelInfo> {
    models
        .into_iter()
        .filter(|m| m.listed && suitable(m))
        .min_by_key(|m| m.priority.unwrap_or(i64::MAX))
}

fn strings(v: Option<&Value>, key: Option<&str>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| match key {
            Some(k) => e.get(k).and_then(Value::as_str),
            None => e.as_str(),
        })
        .map(str::to_owned)
        .collect()
}

fn model(v: &Value) -> Option<ModelInfo> {
    let slug = v.get("slug")?.as_str()?.to_owned();
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let efforts = strings(v.get("supported_reasoning_levels"), Some("effort"))
        .into_iter()
        .filter(|e| !NEVER_SENT.contains(&e.as_str()))
        .collect();
    Some(ModelInfo {
        display_name: text("display_name").unwrap_or_else(|| slug.clone()),
        profile: if v.get("use_responses_lite").and_then(Value::as_bool) == Some(true) {
            Profile::Lite
        } else {
            Profile::Classic
        },
        efforts,
        default_effort: text("default_reasoning_level"),
        context_window: v.get("context_window").and_then(Value::as_u64),
        effective_percent: v
            .get("effective_context_window_percent")
            .and_then(Value::as_u64),
        service_tiers: strings(v.get("service_tiers"), Some("id")),
        plans: strings(v.get("available_in_plans"), None),
        listed: v
            .get("visibility")
            .and_then(Value::as_str)
            .unwrap_or("list")
            == "list",
        prefer_websockets: v.get("prefer_websockets").and_then(Value::as_bool) == Some(true),
        supports_search_tool: v.get("supports_search_tool").and_then(Value::as_bool) == Some(true),
        priority: v.get("priority").and_then(Value::as_i64),
        slug,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 0.154.0 bundled catalog's Lite entry (codex.md §9.1), abridged there.
    const SOL: &str = r#"{"slug":"gpt-5.6-sol","display_name":"GPT-5.6-Sol","default_reasoning_level":"low",
 "supported_reasoning_levels":[{"effort":"low"},{"effort":"medium"},{"effort":"high"},{"effort":"xhigh"},
   {"effort":"max","description":"Maximum reasoning depth for the hardest problems"},
   {"effort":"ultra","description":"Maximum reasoning with automatic task delegation"}],
 "shell_type":"unified_exec","visibility":"list","supported_in_api":true,"priority":6,
 "additional_speed_tiers":["fast"],
 "service_tiers":[{"id":"priority","name":"Fast","description":"1.5x speed, increased usage"},
   {"id":"ultrafast","name":"Ultrafast","description":"The fastest available responses for latency-sensitive work."}],
 "default_reasoning_summary":"none","support_verbosity":true,"default_verbosity":"low",
 "context_window":272000,"max_context_window":872000,"effective_context_window_percent":95,
 "input_modalities":["text","image"],"supports_search_tool":true,
 "use_responses_lite":true,"tool_mode":"code_mode_only","multi_agent_version":"v2"}"#;

    #[test]
    fn families_default_to_the_newest_flagship_or_small_model() {
        let body = r#"{"models":[
            {"slug":"gpt-5.5","priority":7},
            {"slug":"gpt-5.6-sol","priority":6,"use_responses_lite":true},
            {"slug":"gpt-5.4-mini","priority":9}]}"#;
        let c = Catalog::parse(body.as_bytes(), None).expect("catalog");
        let pick = |id: &str, hosted: bool| {
            default_for(&[c.models.as_slice()], id, hosted).map(|m| m.slug.as_str())
        };
        assert_eq!(pick("claude-opus-5-5", false), Some("gpt-5.6-sol"));
        assert_eq!(pick("claude-sonnet-4-5[1m]", false), Some("gpt-5.6-sol"));
        assert_eq!(pick("claude-haiku-4-5", false), Some("gpt-5.4-mini"));
        // Web search needs the classic profile.
        assert_eq!(pick("claude-opus-5-5", true), Some("gpt-5.5"));
        assert_eq!(pick("gpt-5.5", false), None);
        // Another account's catalog without gpt-5.6-sol (another plan): the newest both have.
        let free = Catalog::parse(
            br#"{"models":[{"slug":"gpt-5.5","priority":7},
            {"slug":"gpt-5.4-mini","priority":9}]}"#,
            None,
        )
        .expect("catalog");
        let both = [c.models.as_slice(), free.models.as_slice()];
        assert_eq!(
            default_for(&both, "claude-opus-5-5", false).map(|m| m.slug.as_str()),
            Some("gpt-5.5")
        );
        assert!(default_for(&[], "claude-opus-5-5", false).is_none());
    }

    #[test]
    fn the_first_pick_is_the_lowest_priority_listed_suitable_model() {
        let entry = |slug: &str, priority: i64, listed: bool| {
            format!(
                r#"{{"slug":"{slug}","priority":{priority},"visibility":"{}"}}"#,
                if listed { "list" } else { "hide" }
            )
        };
        let body = format!(
            r#"{{"models":[{},{},{},{},{}]}}"#,
            entry("gpt-5.5", 7, true),
            entry("gpt-5.6-sol", 6, true),
            entry("gpt-daybreak-blue-latest", 1, false),
            entry("gpt-5.4-mini", 9, true),
            entry("gpt-5.5-mini", 8, true),
        );
        let c = Catalog::parse(body.as_bytes(), None).expect("catalog");
        let big = first_pick(&c.models, |m| !m.is_small()).expect("flagship");
        assert_eq!(big.slug, "gpt-5.6-sol");
        let small = first_pick(&c.models, ModelInfo::is_small).expect("small");
        assert_eq!(small.slug, "gpt-5.5-mini");
        assert!(first_pick(&c.models, |m| m.slug == "none").is_none());
    }

    #[test]
    fn a_lite_entry() {
        let body = format!(
            r#"{{"models":[{SOL},{{"slug":"gpt-5.5","visibility":"list"}},{{"no":"slug"}}]}}"#
        );
        let c = Catalog::parse(body.as_bytes(), Some("\"e1\"".into())).expect("catalog");
        assert_eq!(c.models.len(), 2, "the entry without a slug is skipped");
        let sol = c.get("gpt-5.6-sol").expect("sol");
        assert_eq!(sol.profile, Profile::Lite);
        assert_eq!(
            sol.efforts,
            ["low", "medium", "high", "xhigh", "max"],
            "ultra is never sent"
        );
        assert_eq!(sol.input_window(), Some(258_400));
        assert!(sol.has_priority_tier());
        let five = c.get("gpt-5.5").expect("5.5");
        assert_eq!(
            five.profile,
            Profile::Classic,
            "absent use_responses_lite is classic"
        );
        assert_eq!(five.input_window(), None);
        assert!(Catalog::parse(b"{\"detail\":\"no\"}", None).is_none());
    }
}
