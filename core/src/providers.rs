//! Facts about Chat Completions providers that need no IO: Kilo's free-model list.

use serde::Serialize;
use serde_json::Value;

/// One free model the Kilo gateway offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreeModel {
    /// Model id to send (`minimax/minimax-m2.5:free`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Context window, when listed.
    pub context_length: Option<u64>,
    /// Whether it takes tools (Claude Code needs them).
    pub tools: bool,
}

/// Used when the models endpoint cannot be reached: ids known to have been free.
pub fn fallback_free_models() -> Vec<FreeModel> {
    ["kilo-auto/free", "minimax/minimax-m2.5:free"]
        .into_iter()
        .map(|id| FreeModel {
            id: id.into(),
            name: id.into(),
            context_length: None,
            tools: true,
        })
        .collect()
}

/// The free models in a Kilo (OpenRouter-style) `GET …/models` answer: entries with
/// `isFree: true` or an id ending `:free`, tool-capable ones first, order otherwise kept.
pub fn parse_free_models(body: &str) -> Option<Vec<FreeModel>> {
    let v: Value = serde_json::from_str(body).ok()?;
    let data = v.get("data").and_then(Value::as_array)?;
    let mut out: Vec<FreeModel> = data
        .iter()
        .filter_map(|m| {
            let id = m.get("id")?.as_str()?;
            let free =
                m.get("isFree").and_then(Value::as_bool) == Some(true) || id.ends_with(":free");
            free.then(|| FreeModel {
                id: id.to_owned(),
                name: m
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(id)
                    .to_owned(),
                context_length: m.get("context_length").and_then(Value::as_u64),
                tools: m
                    .get("supported_parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|p| p.iter().any(|x| x == "tools")),
            })
        })
        .collect();
    out.sort_by_key(|m| !m.tools);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_models_are_picked_tools_first() {
        let body = r#"{"data":[
            {"id":"openai/gpt-5","isFree":false,"supported_parameters":["tools"]},
            {"id":"a/b:free","name":"B","context_length":1000},
            {"id":"kilo-auto/free","isFree":true,"supported_parameters":["tools","reasoning"]}]}"#;
        let m = parse_free_models(body).expect("parses");
        let ids: Vec<&str> = m.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, vec!["kilo-auto/free", "a/b:free"]);
        assert!(m[0].tools && !m[1].tools);
        assert_eq!(m[1].context_length, Some(1000));
        assert!(parse_free_models("nope").is_none());
    }
}
