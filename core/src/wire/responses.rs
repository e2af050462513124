//! The Codex backend's Responses-API stream events, as far as the translator reads them
//! (types only). Unknown fields are ignored; big echoed fields (`instructions`, `tools`) are
//! skipped without being allocated.

use serde::{Deserialize, Deserializer};
use std::borrow::Cow;

/// A string that borrows from the input when it has no escapes (serde only borrows a bare
/// `Cow<str>` field, not one inside an `Option`).
#[derive(Deserialize)]
struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);

fn opt_cow<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Ok(Option::<Borrowed<'de>>::deserialize(d)?.map(|b| b.0))
}

/// One upstream event (`data:` JSON). Only the fields the translator reads.
#[derive(Debug, Deserialize)]
pub struct UpEvent<'a> {
    /// The event type, e.g. `response.output_text.delta`.
    #[serde(rename = "type", borrow, default, deserialize_with = "opt_cow")]
    pub ty: Option<Cow<'a, str>>,
    /// Text or JSON piece of a delta event.
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub delta: Option<Cow<'a, str>>,
    /// The item of `output_item.added` / `.done`.
    #[serde(default)]
    pub item: Option<Box<Item>>,
    /// The item a delta belongs to.
    #[serde(borrow, default, deserialize_with = "opt_cow")]
    pub item_id: Option<Cow<'a, str>>,
    /// Summary part index of reasoning summary events.
    #[serde(default)]
    pub summary_index: Option<u64>,
    /// The response object of lifecycle events.
    #[serde(default)]
    pub response: Option<Box<Response>>,
    /// The error object of an `error` event (one of its two shapes).
    #[serde(default)]
    pub error: Option<Box<ErrorObj>>,
    /// `code` of the flat `error` event shape.
    #[serde(default)]
    pub code: Option<String>,
    /// `message` of the flat `error` event shape.
    #[serde(default)]
    pub message: Option<String>,
}

/// An output item.
#[derive(Debug, Default, Deserialize)]
pub struct Item {
    /// `message`, `reasoning`, `function_call`, `web_search_call`, …
    #[serde(rename = "type", default)]
    pub ty: String,
    /// Item id (`msg_…`, `rs_…`, `fc_…`, `ws_…`).
    #[serde(default)]
    pub id: Option<String>,
    /// Function call id.
    #[serde(default)]
    pub call_id: Option<String>,
    /// Function name.
    #[serde(default)]
    pub name: Option<String>,
    /// Function arguments (JSON text); a `tool_search_call`'s are a JSON object.
    #[serde(default)]
    pub arguments: Option<serde_json::Value>,
    /// Reasoning blob.
    #[serde(default)]
    pub encrypted_content: Option<String>,
    /// Reasoning summary parts.
    #[serde(default)]
    pub summary: Option<Vec<TextPart>>,
    /// Message content parts.
    #[serde(default)]
    pub content: Option<Vec<ContentPart>>,
    /// Web search action (`{"type":"search","query","sources"}`).
    #[serde(default)]
    pub action: Option<serde_json::Value>,
}

/// `{"type":"summary_text","text":…}`.
#[derive(Debug, Default, Deserialize)]
pub struct TextPart {
    /// The text.
    #[serde(default)]
    pub text: String,
}

/// A message content part: `output_text` or `refusal`.
#[derive(Debug, Default, Deserialize)]
pub struct ContentPart {
    /// `output_text` or `refusal`.
    #[serde(rename = "type", default)]
    pub ty: String,
    /// Text of an `output_text` part.
    #[serde(default)]
    pub text: Option<String>,
    /// Text of a `refusal` part.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Annotations of an `output_text` part (`url_citation` with web search). Kept as JSON so
    /// an odd annotation cannot make the whole item unreadable.
    #[serde(default)]
    pub annotations: Option<Vec<serde_json::Value>>,
}

/// The parts of a response object the translator reads.
#[derive(Debug, Default, Deserialize)]
pub struct Response {
    /// `resp_…`.
    #[serde(default)]
    pub id: Option<String>,
    /// Usage (terminal events).
    #[serde(default)]
    pub usage: Option<UsageIn>,
    /// The error of `response.failed`.
    #[serde(default)]
    pub error: Option<ErrorObj>,
    /// Why a response is incomplete.
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
}

/// Responses-API usage: `input_tokens` includes cached tokens.
#[derive(Debug, Default, Deserialize)]
pub struct UsageIn {
    /// All input tokens.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Details, may be null.
    #[serde(default)]
    pub input_tokens_details: Option<InputDetails>,
    /// All output tokens, reasoning included.
    #[serde(default)]
    pub output_tokens: Option<u64>,
}

/// `input_tokens_details`.
#[derive(Debug, Default, Deserialize)]
pub struct InputDetails {
    /// Cache hits.
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

/// `incomplete_details`.
#[derive(Debug, Default, Deserialize)]
pub struct IncompleteDetails {
    /// `max_output_tokens`, `content_filter`, …
    #[serde(default)]
    pub reason: Option<String>,
}

/// An upstream error object (`response.error` or the `error` event's `error`).
#[derive(Debug, Default, Deserialize)]
pub struct ErrorObj {
    /// Machine code, e.g. `context_length_exceeded`.
    #[serde(default)]
    pub code: Option<String>,
    /// Error type, e.g. `usage_limit_reached`.
    #[serde(rename = "type", default)]
    pub ty: Option<String>,
    /// Human message.
    #[serde(default)]
    pub message: Option<String>,
}

/// The request body this proxy sends to `…/codex/responses`, as a closed schema: every field
/// the backend accepts and nothing else (`deny_unknown_fields`), so tests can prove a
/// converted body never carries a field the backend rejects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponsesRequest {
    /// Model slug.
    pub model: String,
    /// System prompt (always a string; absent in the Responses Lite profile, where it is the
    /// first `developer` input item).
    #[serde(default)]
    pub instructions: Option<String>,
    /// Conversation items.
    pub input: Vec<InputItem>,
    /// Tools (absent in the Lite profile, where they are the `additional_tools` input item).
    #[serde(default)]
    pub tools: Option<Vec<ToolDef>>,
    /// `"auto"`, `"none"`, `"required"` or `{"type":"function","name"}`.
    pub tool_choice: serde_json::Value,
    /// Parallel tool calls allowed.
    pub parallel_tool_calls: bool,
    /// `{effort, summary?}`.
    pub reasoning: ReasoningParam,
    /// Always false.
    pub store: bool,
    /// Always true.
    pub stream: bool,
    /// `["reasoning.encrypted_content"]` or `[]`.
    pub include: Vec<String>,
    /// Cache affinity key.
    #[serde(default)]
    pub prompt_cache_key: Option<String>,
    /// `"priority"` for fast mode.
    #[serde(default)]
    pub service_tier: Option<String>,
    /// Structured output format.
    #[serde(default)]
    pub text: Option<serde_json::Value>,
}

/// `reasoning` of the request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasoningParam {
    /// Effort level.
    pub effort: String,
    /// Summary mode.
    #[serde(default)]
    pub summary: Option<String>,
    /// `"all_turns"` in the Lite profile.
    #[serde(default)]
    pub context: Option<String>,
}

/// An input item (no `id`: the backend does not persist items).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InputItem {
    /// The tool list of the Lite profile, first in `input`.
    AdditionalTools {
        /// Always `developer`.
        role: MessageRole,
        /// The tools.
        tools: Vec<ToolDef>,
    },
    /// A message.
    Message {
        /// `user`, `assistant` or `developer` (never `system`).
        role: MessageRole,
        /// Parts.
        content: Vec<InputPart>,
    },
    /// A call the model made.
    FunctionCall {
        /// Tool name.
        name: String,
        /// JSON text.
        arguments: String,
        /// Call id.
        call_id: String,
    },
    /// A tool's result.
    FunctionCallOutput {
        /// Call id.
        call_id: String,
        /// A string or parts.
        output: serde_json::Value,
    },
    /// A client tool search the model made (§1.10).
    ToolSearchCall {
        /// Call id.
        call_id: String,
        /// Always `client`.
        execution: String,
        /// `{query, limit?}`: an object, not JSON text.
        arguments: serde_json::Map<String, serde_json::Value>,
    },
    /// The tools a client tool search found.
    ToolSearchOutput {
        /// Call id.
        call_id: String,
        /// Always `completed`.
        status: String,
        /// Always `client`.
        execution: String,
        /// The definitions found, as declared.
        tools: Vec<ToolDef>,
    },
    /// Replayed reasoning.
    Reasoning {
        /// Summary parts.
        summary: Vec<serde_json::Value>,
        /// The blob.
        encrypted_content: String,
    },
}

/// Roles the backend accepts.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// User.
    User,
    /// Assistant.
    Assistant,
    /// Developer (what `system` becomes).
    Developer,
}

/// A content part of an input message.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InputPart {
    /// Text from the user side.
    InputText {
        /// Text.
        text: String,
    },
    /// Text the assistant said.
    OutputText {
        /// Text.
        text: String,
    },
    /// An image (data URL or URL).
    InputImage {
        /// URL.
        image_url: String,
    },
    /// A file (PDF).
    InputFile {
        /// Data URL.
        #[serde(default)]
        file_data: Option<String>,
        /// Remote file.
        #[serde(default)]
        file_url: Option<String>,
        /// Name.
        #[serde(default)]
        filename: Option<String>,
    },
}

/// A tool definition.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToolDef {
    /// A client function; `strict` is always sent.
    Function {
        /// Name within the backend's limits.
        name: String,
        /// Description.
        description: String,
        /// Always false.
        strict: bool,
        /// JSON schema.
        parameters: serde_json::Value,
        /// Found by client tool search only (docs/CONVERSION.md §1.10).
        #[serde(default)]
        defer_loading: Option<bool>,
    },
    /// Client-executed tool search (§1.10).
    ToolSearch {
        /// Always `client`.
        execution: String,
        /// The client search tool's description.
        description: String,
        /// `{query, limit}`.
        parameters: serde_json::Value,
    },
    /// The backend's own web search.
    WebSearch {
        /// Domain filters.
        #[serde(default)]
        filters: Option<serde_json::Value>,
        /// Approximate location.
        #[serde(default)]
        user_location: Option<serde_json::Value>,
    },
}
