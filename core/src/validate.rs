//! Request validation (docs/CONVERSION.md §11): the checks the APIs we imitate make before
//! they accept a body, so a malformed request is a 400 naming its field instead of a silent
//! change upstream.
//!
//! One walk over the parsed body, in document order; nothing is allocated unless a check
//! fails (the path is a chain of borrowed segments on the stack, rendered only for the error).
//! Unknown fields, block types, part types and tool types are accepted: new ones keep
//! arriving from clients, and the conversions degrade what they cannot carry.

use crate::error::RequestError;
use serde_json::{Map, Value, json};

type Res = Result<(), RequestError>;

// ---------------------------------------------------------------------------------------------
// Paths

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// A location in the body: a segment and the path of its parent, all borrowed.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Option<Seg<'a>>,
}

const ROOT: Path<'static> = Path {
    parent: None,
    seg: None,
};

impl Path<'_> {
    fn key<'b>(&'b self, k: &'b str) -> Path<'b> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Key(k)),
        }
    }

    fn at(&self, i: usize) -> Path<'_> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Index(i)),
        }
    }

    /// `messages[2].content[0].source.data`; empty for the body itself.
    fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur = Some(self);
        while let Some(p) = cur {
            if let Some(s) = p.seg {
                segs.push(s);
            }
            cur = p.parent;
        }
        let mut out = String::new();
        for s in segs.into_iter().rev() {
            match s {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Error wording: one style per API.

/// The type a field must have.
#[derive(Clone, Copy)]
enum Want {
    Str,
    Int,
    Num,
    Bool,
    Obj,
    Arr,
    /// Message content: a string or an array of blocks / parts.
    StrOrBlocks,
    /// `stop`: a string or an array of strings.
    StrOrStrs,
    StrOrObj,
    ArrOrObj,
}

fn is_int(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.is_i64() || n.is_u64())
}

/// How an error is worded for one API.
trait Style {
    fn missing(p: &Path) -> RequestError;
    fn wrong_type(p: &Path, want: Want, got: &Value) -> RequestError;
    /// `min` true: below the minimum `bound`; false: above the maximum.
    fn out_of_range(p: &Path, integer: bool, min: bool, bound: f64, got: &Value) -> RequestError;
    fn empty_array(p: &Path) -> RequestError;
    fn empty_string(p: &Path) -> RequestError;
    fn too_long(p: &Path, max: usize, len: usize) -> RequestError;
    fn bad_value(p: &Path, allowed: &[&str], got: &str) -> RequestError;
}

fn bound_text(b: f64) -> String {
    if b.fract() == 0.0 && b.abs() < 1e15 {
        format!("{}", b as i64)
    } else {
        format!("{b}")
    }
}

/// Anthropic's side: `<path>: <message>` with short messages (§11.2).
struct Anthropic;

impl Style for Anthropic {
    fn missing(p: &Path) -> RequestError {
        RequestError::invalid(p.render(), "field required")
    }

    fn wrong_type(p: &Path, want: Want, _got: &Value) -> RequestError {
        let what = match want {
            Want::Str => "a string",
            Want::Int => "an integer",
            Want::Num => "a number",
            Want::Bool => "a boolean",
            Want::Obj => "an object",
            Want::Arr => "an array",
            Want::StrOrBlocks | Want::StrOrStrs => "a string or an array",
            Want::StrOrObj => "a string or an object",
            Want::ArrOrObj => "an array or an object",
        };
        RequestError::invalid(p.render(), format!("expected {what}"))
    }

    fn out_of_range(p: &Path, _integer: bool, min: bool, bound: f64, _got: &Value) -> RequestError {
        let word = if min { "at least" } else { "at most" };
        RequestError::invalid(p.render(), format!("must be {word} {}", bound_text(bound)))
    }

    fn empty_array(p: &Path) -> RequestError {
        RequestError::invalid(p.render(), "must not be empty")
    }

    fn empty_string(p: &Path) -> RequestError {
        RequestError::invalid(p.render(), "must not be empty")
    }

    fn too_long(p: &Path, max: usize, _len: usize) -> RequestError {
        RequestError::invalid(p.render(), format!("must have at most {max} items"))
    }

    fn bad_value(p: &Path, allowed: &[&str], _got: &str) -> RequestError {
        let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
        let message = if list.len() == 1 {
            format!("must be {}", list[0])
        } else {
            format!("must be one of {}", list.join(", "))
        };
        RequestError::invalid(p.render(), message)
    }
}

/// OpenAI's side: full sentences that quote the parameter (§11.10).
struct OpenAi;

fn openai_got(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) if is_int(v) => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn openai_list(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

impl Style for OpenAi {
    fn missing(p: &Path) -> RequestError {
        let path = p.render();
        let message = format!("Missing required parameter: '{path}'.");
        RequestError::invalid(path, message)
    }

    fn wrong_type(p: &Path, want: Want, got: &Value) -> RequestError {
        let what = match want {
            Want::Str => "a string",
            Want::Int => "an integer",
            Want::Num => "a decimal",
            Want::Bool => "a boolean",
            Want::Obj => "an object",
            Want::Arr => "an array",
            Want::StrOrBlocks => "one of a string or array of objects",
            Want::StrOrStrs => "one of a string or array of strings",
            Want::StrOrObj => "one of a string or object",
            Want::ArrOrObj => "one of an array or object",
        };
        let path = p.render();
        let message = format!(
            "Invalid type for '{path}': expected {what}, but got {} instead.",
            openai_got(got)
        );
        RequestError::invalid(path, message)
    }

    fn out_of_range(p: &Path, integer: bool, min: bool, bound: f64, got: &Value) -> RequestError {
        let kind = if integer { "integer" } else { "decimal" };
        let (side, op) = if min {
            ("below minimum", ">=")
        } else {
            ("above maximum", "<=")
        };
        let path = p.render();
        let message = format!(
            "Invalid '{path}': {kind} {side} value. Expected a value {op} {}, but got {got} instead.",
            bound_text(bound)
        );
        RequestError::invalid(path, message)
    }

    fn empty_array(p: &Path) -> RequestError {
        let path = p.render();
        let message = format!(
            "Invalid '{path}': empty array. Expected an array with minimum length 1, but got an empty array instead."
        );
        RequestError::invalid(path, message)
    }

    fn empty_string(p: &Path) -> RequestError {
        let path = p.render();
        let message = format!(
            "Invalid '{path}': empty string. Expected a string with minimum length 1, but got an empty string instead."
        );
        RequestError::invalid(path, message)
    }

    fn too_long(p: &Path, max: usize, len: usize) -> RequestError {
        let path = p.render();
        let message = format!(
            "Invalid '{path}': array too long. Expected an array with maximum length {max}, but got an array with length {len} instead."
        );
        RequestError::invalid(path, message)
    }

    fn bad_value(p: &Path, allowed: &[&str], got: &str) -> RequestError {
        let path = p.render();
        let message = format!(
            "Invalid value for '{path}': '{got}'. Supported values are: {}.",
            openai_list(allowed)
        );
        RequestError::invalid(path, message)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared checks

/// Walks an object's present (non-null) fields in document order, skipping the discriminator
/// `skip` (already checked), then reports the first missing field of `required`.
fn fields<'v, S: Style>(
    obj: &'v Map<String, Value>,
    p: &Path,
    required: &[&'static str],
    skip: &str,
    mut check: impl FnMut(&'v str, &'v Value, &Path) -> Res,
) -> Res {
    let mut seen = 0u32;
    for (k, v) in obj {
        if v.is_null() || k == skip {
            continue;
        }
        if let Some(i) = required.iter().position(|r| *r == k) {
            seen |= 1 << i;
        }
        check(k, v, &p.key(k))?;
    }
    for (i, r) in required.iter().enumerate() {
        if seen & (1 << i) == 0 {
            return Err(S::missing(&p.key(r)));
        }
    }
    Ok(())
}

fn object<'v, S: Style>(v: &'v Value, p: &Path) -> Result<&'v Map<String, Value>, RequestError> {
    match v {
        Value::Object(o) => Ok(o),
        _ => Err(S::wrong_type(p, Want::Obj, v)),
    }
}

fn array<'v, S: Style>(v: &'v Value, p: &Path) -> Result<&'v [Value], RequestError> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(S::wrong_type(p, Want::Arr, v)),
    }
}

fn string<'v, S: Style>(v: &'v Value, p: &Path) -> Result<&'v str, RequestError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(S::wrong_type(p, Want::Str, v)),
    }
}

fn non_empty_string<S: Style>(v: &Value, p: &Path) -> Res {
    if string::<S>(v, p)?.is_empty() {
        return Err(S::empty_string(p));
    }
    Ok(())
}

fn boolean<S: Style>(v: &Value, p: &Path) -> Res {
    match v {
        Value::Bool(_) => Ok(()),
        _ => Err(S::wrong_type(p, Want::Bool, v)),
    }
}

fn any_object<S: Style>(v: &Value, p: &Path) -> Res {
    object::<S>(v, p).map(|_| ())
}

fn any_array<S: Style>(v: &Value, p: &Path) -> Res {
    array::<S>(v, p).map(|_| ())
}

fn strings<S: Style>(v: &Value, p: &Path) -> Res {
    for (i, s) in array::<S>(v, p)?.iter().enumerate() {
        string::<S>(s, &p.at(i))?;
    }
    Ok(())
}

/// An integer within `min..=max`.
fn integer<S: Style>(v: &Value, p: &Path, min: Option<i64>, max: Option<i64>) -> Res {
    let Value::Number(n) = v else {
        return Err(S::wrong_type(p, Want::Int, v));
    };
    if !(n.is_i64() || n.is_u64()) {
        return Err(S::wrong_type(p, Want::Int, v));
    }
    // A u64 above i64::MAX is above every bound used here.
    let (value, huge) = match n.as_i64() {
        Some(i) => (i, false),
        None => (i64::MAX, true),
    };
    if let Some(m) = min
        && !huge
        && value < m
    {
        return Err(S::out_of_range(p, true, true, m as f64, v));
    }
    if let Some(m) = max
        && (huge || value > m)
    {
        return Err(S::out_of_range(p, true, false, m as f64, v));
    }
    Ok(())
}

/// A number within `min..=max`.
fn number<S: Style>(v: &Value, p: &Path, min: f64, max: f64) -> Res {
    let Some(x) = v.as_f64() else {
        return Err(S::wrong_type(p, Want::Num, v));
    };
    if x < min {
        return Err(S::out_of_range(p, false, true, min, v));
    }
    if x > max {
        return Err(S::out_of_range(p, false, false, max, v));
    }
    Ok(())
}

/// The discriminator `key` of `obj`: present, a string, and (when `allowed` is given) one of
/// the allowed values.
fn discriminator<'v, S: Style>(
    obj: &'v Map<String, Value>,
    p: &Path,
    key: &'static str,
    allowed: Option<&[&str]>,
) -> Result<&'v str, RequestError> {
    let kp = p.key(key);
    let v = match obj.get(key) {
        None | Some(Value::Null) => return Err(S::missing(&kp)),
        Some(v) => v,
    };
    let s = string::<S>(v, &kp)?;
    if let Some(allowed) = allowed
        && !allowed.contains(&s)
    {
        return Err(S::bad_value(&kp, allowed, s));
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages (§11.3–§11.7)

type A = Anthropic;

/// Check an Anthropic Messages request body (docs/CONVERSION.md §11.3); the first problem in
/// document order is the error, its path in `messages[2].content[0].source.data` form.
pub fn validate_messages(body: &Value) -> Result<(), RequestError> {
    validate_body(body, &["model", "max_tokens", "messages"])
}

/// [`validate_messages`] for a body whose `messages` were checked while they were scanned
/// (`translate/raw_history.rs` accepts only valid histories) and are not in `body`: the first
/// error in document order is then one of the other fields', the same one.
pub(crate) fn validate_messages_but_history(body: &Value) -> Result<(), RequestError> {
    validate_body(body, &["model", "max_tokens"])
}

/// Check message `i` of a history as [`validate_messages`] does (`last`: it is the last one).
pub(crate) fn validate_history_message(v: &Value, i: usize, last: bool) -> Res {
    a_message(v, &ROOT.key("messages").at(i), last)
}

/// Whether a block's `cache_control` passes [`validate_messages`].
pub(crate) fn cache_control_ok(v: &Value) -> bool {
    a_cache_control(v, &ROOT).is_ok()
}

fn validate_body(body: &Value, required: &[&'static str]) -> Result<(), RequestError> {
    let Value::Object(obj) = body else {
        return Err(RequestError::invalid("body", "expected an object"));
    };
    fields::<A>(obj, &ROOT, required, "", |k, v, p| match k {
        "model" => non_empty_string::<A>(v, p),
        "max_tokens" => integer::<A>(v, p, Some(0), None),
        "messages" => a_messages(v, p),
        "system" => a_system(v, p),
        "stream" => boolean::<A>(v, p),
        "temperature" | "top_p" => number::<A>(v, p, 0.0, 1.0),
        "top_k" => integer::<A>(v, p, Some(0), None),
        "stop_sequences" => strings::<A>(v, p),
        "metadata" => fields::<A>(object::<A>(v, p)?, p, &[], "", |k, v, p| match k {
            "user_id" => string::<A>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        "thinking" => a_thinking(v, p),
        "output_config" => a_output_config(v, p),
        "tools" => {
            for (i, t) in array::<A>(v, p)?.iter().enumerate() {
                a_tool(t, &p.at(i))?;
            }
            Ok(())
        }
        "tool_choice" => a_tool_choice(v, p),
        "cache_control" => a_cache_control(v, p),
        "service_tier" | "speed" | "inference_geo" => string::<A>(v, p).map(|_| ()),
        "container" => match v {
            Value::String(_) | Value::Object(_) => Ok(()),
            _ => Err(A::wrong_type(p, Want::StrOrObj, v)),
        },
        "context_management" => any_object::<A>(v, p),
        "mcp_servers" => any_array::<A>(v, p),
        _ => Ok(()),
    })
}

const MAX_MESSAGES: usize = 100_000;

fn a_messages(v: &Value, p: &Path) -> Res {
    let list = array::<A>(v, p)?;
    if list.is_empty() {
        return Err(A::empty_array(p));
    }
    if list.len() > MAX_MESSAGES {
        return Err(A::too_long(p, MAX_MESSAGES, list.len()));
    }
    let last = list.len() - 1;
    for (i, m) in list.iter().enumerate() {
        a_message(m, &p.at(i), i == last)?;
    }
    Ok(())
}

/// Where a block sits: what its placement allows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// `messages[i].content[j]` of a message with this role.
    User,
    Assistant,
    SystemMessage,
    /// Anywhere else (`system`, tool result content, document content).
    Nested,
    /// `search_result.content`: text blocks only.
    SearchResult,
}

fn a_message(v: &Value, p: &Path, last: bool) -> Res {
    let obj = object::<A>(v, p)?;
    let role = discriminator::<A>(obj, p, "role", Some(&["user", "assistant", "system"]))?;
    let place = match role {
        "user" => Place::User,
        "assistant" => Place::Assistant,
        _ => Place::SystemMessage,
    };
    let may_be_empty = place == Place::SystemMessage || (place == Place::Assistant && last);
    fields::<A>(obj, p, &["content"], "role", |k, v, p| match k {
        "content" => match v {
            Value::String(s) => {
                if s.is_empty() && !may_be_empty {
                    return Err(A::empty_string(p));
                }
                Ok(())
            }
            Value::Array(blocks) => {
                if blocks.is_empty() && !may_be_empty {
                    return Err(A::empty_array(p));
                }
                for (j, b) in blocks.iter().enumerate() {
                    a_block(b, &p.at(j), place)?;
                }
                Ok(())
            }
            _ => Err(A::wrong_type(p, Want::StrOrBlocks, v)),
        },
        _ => Ok(()),
    })
}

fn a_system(v: &Value, p: &Path) -> Res {
    match v {
        Value::String(_) => Ok(()),
        Value::Array(blocks) => a_blocks(blocks, p, Place::Nested),
        _ => Err(A::wrong_type(p, Want::StrOrBlocks, v)),
    }
}

fn a_blocks(blocks: &[Value], p: &Path, place: Place) -> Res {
    for (j, b) in blocks.iter().enumerate() {
        a_block(b, &p.at(j), place)?;
    }
    Ok(())
}

type FieldCheck = fn(&str, &Value, &Path) -> Res;

fn a_block(v: &Value, p: &Path, place: Place) -> Res {
    let obj = object::<A>(v, p)?;
    let ty = discriminator::<A>(obj, p, "type", None)?;
    match (ty, place) {
        ("tool_use", Place::User | Place::SystemMessage) => {
            return Err(RequestError::invalid(
                p.render(),
                "tool_use blocks are only allowed in assistant messages",
            ));
        }
        ("tool_result", Place::Assistant | Place::SystemMessage) => {
            return Err(RequestError::invalid(
                p.render(),
                "tool_result blocks are only allowed in user messages",
            ));
        }
        (t, Place::SearchResult) if t != "text" => {
            return Err(A::bad_value(&p.key("type"), &["text"], t));
        }
        _ => {}
    }
    let (required, check): (&[&'static str], FieldCheck) = match ty {
        "text" => (&["text"], |k, v, p| match k {
            "text" => string::<A>(v, p).map(|_| ()),
            "citations" => any_array::<A>(v, p),
            _ => a_common(k, v, p),
        }),
        "image" => (&["source"], |k, v, p| match k {
            "source" => a_source(v, p, false),
            _ => a_common(k, v, p),
        }),
        "document" => (&["source"], |k, v, p| match k {
            "source" => a_source(v, p, true),
            "title" | "context" => string::<A>(v, p).map(|_| ()),
            "citations" => any_object::<A>(v, p),
            _ => a_common(k, v, p),
        }),
        "search_result" => (&["source", "title", "content"], |k, v, p| match k {
            "source" | "title" => string::<A>(v, p).map(|_| ()),
            "content" => a_blocks(array::<A>(v, p)?, p, Place::SearchResult),
            "citations" => any_object::<A>(v, p),
            _ => a_common(k, v, p),
        }),
        "tool_use" | "server_tool_use" => (&["id", "name", "input"], |k, v, p| match k {
            "id" | "name" => non_empty_string::<A>(v, p),
            "input" => any_object::<A>(v, p),
            _ => a_common(k, v, p),
        }),
        "tool_result" => (&["tool_use_id"], |k, v, p| match k {
            "tool_use_id" => non_empty_string::<A>(v, p),
            "content" => match v {
                Value::String(_) => Ok(()),
                Value::Array(blocks) => a_blocks(blocks, p, Place::Nested),
                _ => Err(A::wrong_type(p, Want::StrOrBlocks, v)),
            },
            "is_error" => boolean::<A>(v, p),
            _ => a_common(k, v, p),
        }),
        "thinking" => (&["thinking", "signature"], |k, v, p| match k {
            "thinking" | "signature" => string::<A>(v, p).map(|_| ()),
            _ => a_common(k, v, p),
        }),
        "redacted_thinking" => (&["data"], |k, v, p| match k {
            "data" => string::<A>(v, p).map(|_| ()),
            _ => a_common(k, v, p),
        }),
        "web_search_tool_result" => (&["tool_use_id", "content"], |k, v, p| match k {
            "tool_use_id" => string::<A>(v, p).map(|_| ()),
            "content" => match v {
                Value::Array(_) | Value::Object(_) => Ok(()),
                _ => Err(A::wrong_type(p, Want::ArrOrObj, v)),
            },
            _ => a_common(k, v, p),
        }),
        "tool_reference" => (&["tool_name"], |k, v, p| match k {
            "tool_name" => string::<A>(v, p).map(|_| ()),
            _ => a_common(k, v, p),
        }),
        "container_upload" => (&["file_id"], |k, v, p| match k {
            "file_id" => string::<A>(v, p).map(|_| ()),
            _ => a_common(k, v, p),
        }),
        _ => (&[], a_common),
    };
    fields::<A>(obj, p, required, "type", check)
}

/// Fields every block may have.
fn a_common(k: &str, v: &Value, p: &Path) -> Res {
    match k {
        "cache_control" => a_cache_control(v, p),
        _ => Ok(()),
    }
}

/// An image source (`document` false) or a document source.
fn a_source(v: &Value, p: &Path, document: bool) -> Res {
    let obj = object::<A>(v, p)?;
    let ty = discriminator::<A>(obj, p, "type", None)?;
    let (required, check): (&[&'static str], FieldCheck) = match (ty, document) {
        ("base64", _) => (&["media_type", "data"], |k, v, p| match k {
            "media_type" | "data" => string::<A>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        ("url", _) => (&["url"], |k, v, p| match k {
            "url" => string::<A>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        ("file", _) => (&["file_id"], |k, v, p| match k {
            "file_id" => string::<A>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        ("text", true) => (&["data"], |k, v, p| match k {
            "data" | "media_type" => string::<A>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        ("content", true) => (&["content"], |k, v, p| match k {
            "content" => match v {
                Value::String(_) => Ok(()),
                Value::Array(blocks) => a_blocks(blocks, p, Place::Nested),
                _ => Err(A::wrong_type(p, Want::StrOrBlocks, v)),
            },
            _ => Ok(()),
        }),
        _ => return Ok(()),
    };
    fields::<A>(obj, p, required, "type", check)
}

fn a_cache_control(v: &Value, p: &Path) -> Res {
    let obj = object::<A>(v, p)?;
    discriminator::<A>(obj, p, "type", Some(&["ephemeral"]))?;
    fields::<A>(obj, p, &[], "type", |k, v, p| match k {
        "ttl" => string::<A>(v, p).map(|_| ()),
        _ => Ok(()),
    })
}

fn a_thinking(v: &Value, p: &Path) -> Res {
    let obj = object::<A>(v, p)?;
    let ty = discriminator::<A>(obj, p, "type", Some(&["enabled", "disabled", "adaptive"]))?;
    if ty == "enabled" {
        fields::<A>(obj, p, &["budget_tokens"], "type", |k, v, p| match k {
            "budget_tokens" => integer::<A>(v, p, Some(1024), None),
            "display" => string::<A>(v, p).map(|_| ()),
            _ => Ok(()),
        })
    } else {
        fields::<A>(obj, p, &[], "type", |k, v, p| match k {
            "display" => string::<A>(v, p).map(|_| ()),
            _ => Ok(()),
        })
    }
}

fn a_output_config(v: &Value, p: &Path) -> Res {
    fields::<A>(object::<A>(v, p)?, p, &[], "", |k, v, p| match k {
        "effort" => string::<A>(v, p).map(|_| ()),
        "format" => {
            let f = object::<A>(v, p)?;
            if discriminator::<A>(f, p, "type", None)? == "json_schema" {
                fields::<A>(f, p, &["schema"], "type", |k, v, p| match k {
                    "schema" => any_object::<A>(v, p),
                    _ => Ok(()),
                })
            } else {
                Ok(())
            }
        }
        "task_budget" => any_object::<A>(v, p),
        _ => Ok(()),
    })
}

fn a_tool(v: &Value, p: &Path) -> Res {
    let obj = object::<A>(v, p)?;
    let ty = match obj.get("type") {
        None | Some(Value::Null) => "custom",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(A::wrong_type(&p.key("type"), Want::Str, other)),
    };
    if ty == "custom" {
        fields::<A>(
            obj,
            p,
            &["name", "input_schema"],
            "type",
            |k, v, p| match k {
                "name" => non_empty_string::<A>(v, p),
                "description" => string::<A>(v, p).map(|_| ()),
                "input_schema" => any_object::<A>(v, p),
                "strict" | "defer_loading" | "eager_input_streaming" => boolean::<A>(v, p),
                "input_examples" | "allowed_callers" => any_array::<A>(v, p),
                "cache_control" => a_cache_control(v, p),
                _ => Ok(()),
            },
        )
    } else if ty.starts_with("web_search_") {
        fields::<A>(obj, p, &["name"], "type", |k, v, p| match k {
            "name" => string::<A>(v, p).map(|_| ()),
            "allowed_domains" | "blocked_domains" => strings::<A>(v, p),
            "max_uses" => integer::<A>(v, p, Some(1), None),
            "user_location" => fields::<A>(object::<A>(v, p)?, p, &[], "", |k, v, p| match k {
                "type" | "city" | "region" | "country" | "timezone" => {
                    string::<A>(v, p).map(|_| ())
                }
                _ => Ok(()),
            }),
            "cache_control" => a_cache_control(v, p),
            _ => Ok(()),
        })
    } else {
        Ok(())
    }
}

fn a_tool_choice(v: &Value, p: &Path) -> Res {
    let obj = object::<A>(v, p)?;
    let ty = discriminator::<A>(obj, p, "type", Some(&["auto", "any", "tool", "none"]))?;
    let required: &[&'static str] = if ty == "tool" { &["name"] } else { &[] };
    fields::<A>(obj, p, required, "type", |k, v, p| match k {
        "name" => string::<A>(v, p).map(|_| ()),
        "disable_parallel_tool_use" => boolean::<A>(v, p),
        _ => Ok(()),
    })
}

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions (§11.10, §11.11)

type O = OpenAi;

/// Check an OpenAI Chat Completions request body (docs/CONVERSION.md §11.11). The error's
/// `path` is OpenAI's `param` and its message is worded as OpenAI words it; answer it with
/// [`openai_request_error`].
pub fn validate_chat_completions(body: &Value) -> Result<(), RequestError> {
    let Value::Object(obj) = body else {
        return Err(RequestError::invalid(
            "",
            format!(
                "Invalid type for the request body: expected an object, but got {} instead.",
                openai_got(body)
            ),
        ));
    };
    fields::<O>(obj, &ROOT, &["model", "messages"], "", |k, v, p| match k {
        "model" => non_empty_string::<O>(v, p),
        "messages" => o_messages(v, p),
        "temperature" => number::<O>(v, p, 0.0, 2.0),
        "top_p" => number::<O>(v, p, 0.0, 1.0),
        "presence_penalty" | "frequency_penalty" => number::<O>(v, p, -2.0, 2.0),
        "n" => {
            integer::<O>(v, p, Some(1), None)?;
            if v.as_u64() != Some(1) {
                let path = p.render();
                return Err(RequestError::invalid(
                    path,
                    format!(
                        "Invalid value for 'n': only 1 choice is supported, but got {v} instead."
                    ),
                ));
            }
            Ok(())
        }
        "max_tokens" | "max_completion_tokens" => integer::<O>(v, p, Some(1), None),
        "seed" => integer::<O>(v, p, None, None),
        "top_logprobs" => integer::<O>(v, p, Some(0), Some(20)),
        "stream" | "logprobs" | "parallel_tool_calls" | "store" => boolean::<O>(v, p),
        "stream_options" => fields::<O>(object::<O>(v, p)?, p, &[], "", |k, v, p| match k {
            "include_usage" | "include_obfuscation" => boolean::<O>(v, p),
            _ => Ok(()),
        }),
        "stop" => match v {
            Value::String(_) => Ok(()),
            Value::Array(list) => {
                if list.len() > 4 {
                    return Err(O::too_long(p, 4, list.len()));
                }
                strings::<O>(v, p)
            }
            _ => Err(O::wrong_type(p, Want::StrOrStrs, v)),
        },
        "tools" => {
            for (i, t) in array::<O>(v, p)?.iter().enumerate() {
                o_tool(t, &p.at(i))?;
            }
            Ok(())
        }
        "tool_choice" => o_tool_choice(v, p),
        "response_format" => o_response_format(v, p),
        "logit_bias" => {
            for (k, b) in object::<O>(v, p)? {
                number::<O>(b, &p.key(k), -100.0, 100.0)?;
            }
            Ok(())
        }
        "metadata" => {
            for (k, s) in object::<O>(v, p)? {
                string::<O>(s, &p.key(k))?;
            }
            Ok(())
        }
        "user" | "service_tier" | "reasoning_effort" | "verbosity" | "prompt_cache_key"
        | "safety_identifier" => string::<O>(v, p).map(|_| ()),
        "modalities" => strings::<O>(v, p),
        "web_search_options" | "audio" | "prediction" => any_object::<O>(v, p),
        _ => Ok(()),
    })
}

fn o_messages(v: &Value, p: &Path) -> Res {
    let list = array::<O>(v, p)?;
    if list.is_empty() {
        return Err(O::empty_array(p));
    }
    for (i, m) in list.iter().enumerate() {
        o_message(m, &p.at(i))?;
    }
    Ok(())
}

/// Which content parts a role takes.
#[derive(Clone, Copy)]
enum Parts {
    /// `system`, `developer`, `tool`.
    Text,
    /// `assistant`.
    TextOrRefusal,
    /// `user`: any type; the known ones are checked.
    Any,
}

const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

fn o_message(v: &Value, p: &Path) -> Res {
    let obj = object::<O>(v, p)?;
    let role = discriminator::<O>(obj, p, "role", Some(&ROLES))?;
    match role {
        "system" | "developer" => fields::<O>(obj, p, &["content"], "role", |k, v, p| match k {
            "content" => o_content(v, p, Parts::Text),
            "name" => string::<O>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        "user" => fields::<O>(obj, p, &["content"], "role", |k, v, p| match k {
            "content" => o_content(v, p, Parts::Any),
            "name" => string::<O>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        "assistant" => {
            fields::<O>(obj, p, &[], "role", |k, v, p| match k {
                "content" => o_content(v, p, Parts::TextOrRefusal),
                "tool_calls" => {
                    let calls = array::<O>(v, p)?;
                    if calls.is_empty() {
                        return Err(O::empty_array(p));
                    }
                    for (i, c) in calls.iter().enumerate() {
                        o_tool_call(c, &p.at(i))?;
                    }
                    Ok(())
                }
                "refusal" | "reasoning_content" | "name" => string::<O>(v, p).map(|_| ()),
                "audio" => any_object::<O>(v, p),
                _ => Ok(()),
            })?;
            let absent = |k: &str| obj.get(k).is_none_or(Value::is_null);
            if absent("content") && absent("tool_calls") {
                return Err(O::missing(&p.key("content")));
            }
            Ok(())
        }
        _ => fields::<O>(
            obj,
            p,
            &["content", "tool_call_id"],
            "role",
            |k, v, p| match k {
                "content" => o_content(v, p, Parts::Text),
                "tool_call_id" => string::<O>(v, p).map(|_| ()),
                _ => Ok(()),
            },
        ),
    }
}

fn o_content(v: &Value, p: &Path, parts: Parts) -> Res {
    match v {
        Value::String(_) => Ok(()),
        Value::Array(list) => {
            if list.is_empty() {
                return Err(O::empty_array(p));
            }
            for (j, part) in list.iter().enumerate() {
                o_part(part, &p.at(j), parts)?;
            }
            Ok(())
        }
        _ => Err(O::wrong_type(p, Want::StrOrBlocks, v)),
    }
}

fn o_part(v: &Value, p: &Path, parts: Parts) -> Res {
    let obj = object::<O>(v, p)?;
    let allowed: Option<&[&str]> = match parts {
        Parts::Text => Some(&["text"]),
        Parts::TextOrRefusal => Some(&["text", "refusal"]),
        Parts::Any => None,
    };
    let ty = discriminator::<O>(obj, p, "type", allowed)?;
    let (required, check): (&[&'static str], FieldCheck) = match ty {
        "text" => (&["text"], |k, v, p| match k {
            "text" => string::<O>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        "refusal" => (&["refusal"], |k, v, p| match k {
            "refusal" => string::<O>(v, p).map(|_| ()),
            _ => Ok(()),
        }),
        "image_url" => (&["image_url"], |k, v, p| match k {
            "image_url" => fields::<O>(object::<O>(v, p)?, p, &["url"], "", |k, v, p| match k {
                "url" | "detail" => string::<O>(v, p).map(|_| ()),
                _ => Ok(()),
            }),
            _ => Ok(()),
        }),
        "input_audio" => (&["input_audio"], |k, v, p| match k {
            "input_audio" => fields::<O>(
                object::<O>(v, p)?,
                p,
                &["data", "format"],
                "",
                |k, v, p| match k {
                    "data" | "format" => string::<O>(v, p).map(|_| ()),
                    _ => Ok(()),
                },
            ),
            _ => Ok(()),
        }),
        "file" => (&["file"], |k, v, p| match k {
            "file" => fields::<O>(object::<O>(v, p)?, p, &[], "", |k, v, p| match k {
                "file_data" | "file_id" | "filename" => string::<O>(v, p).map(|_| ()),
                _ => Ok(()),
            }),
            _ => Ok(()),
        }),
        _ => return Ok(()),
    };
    fields::<O>(obj, p, required, "type", check)
}

fn o_tool_call(v: &Value, p: &Path) -> Res {
    let obj = object::<O>(v, p)?;
    discriminator::<O>(obj, p, "type", Some(&["function"]))?;
    fields::<O>(obj, p, &["id", "function"], "type", |k, v, p| match k {
        "id" => string::<O>(v, p).map(|_| ()),
        "function" => fields::<O>(
            object::<O>(v, p)?,
            p,
            &["name", "arguments"],
            "",
            |k, v, p| match k {
                "name" | "arguments" => string::<O>(v, p).map(|_| ()),
                _ => Ok(()),
            },
        ),
        _ => Ok(()),
    })
}

fn o_tool(v: &Value, p: &Path) -> Res {
    let obj = object::<O>(v, p)?;
    if discriminator::<O>(obj, p, "type", None)? != "function" {
        return Ok(());
    }
    fields::<O>(obj, p, &["function"], "type", |k, v, p| match k {
        "function" => fields::<O>(object::<O>(v, p)?, p, &["name"], "", |k, v, p| match k {
            "name" => non_empty_string::<O>(v, p),
            "description" => string::<O>(v, p).map(|_| ()),
            "parameters" => any_object::<O>(v, p),
            "strict" => boolean::<O>(v, p),
            _ => Ok(()),
        }),
        _ => Ok(()),
    })
}

fn o_tool_choice(v: &Value, p: &Path) -> Res {
    match v {
        Value::String(s) => {
            const MODES: [&str; 3] = ["none", "auto", "required"];
            if MODES.contains(&s.as_str()) {
                Ok(())
            } else {
                Err(O::bad_value(p, &MODES, s))
            }
        }
        Value::Object(obj) => {
            discriminator::<O>(obj, p, "type", Some(&["function"]))?;
            fields::<O>(obj, p, &["function"], "type", |k, v, p| match k {
                "function" => {
                    fields::<O>(object::<O>(v, p)?, p, &["name"], "", |k, v, p| match k {
                        "name" => string::<O>(v, p).map(|_| ()),
                        _ => Ok(()),
                    })
                }
                _ => Ok(()),
            })
        }
        _ => Err(O::wrong_type(p, Want::StrOrObj, v)),
    }
}

fn o_response_format(v: &Value, p: &Path) -> Res {
    let obj = object::<O>(v, p)?;
    let ty = discriminator::<O>(
        obj,
        p,
        "type",
        Some(&["text", "json_object", "json_schema"]),
    )?;
    if ty != "json_schema" {
        return Ok(());
    }
    fields::<O>(obj, p, &["json_schema"], "type", |k, v, p| match k {
        "json_schema" => fields::<O>(object::<O>(v, p)?, p, &["name"], "", |k, v, p| match k {
            "name" | "description" => string::<O>(v, p).map(|_| ()),
            "schema" => any_object::<O>(v, p),
            "strict" => boolean::<O>(v, p),
            _ => Ok(()),
        }),
        _ => Ok(()),
    })
}

/// OpenAI's answer to a request error (docs/CONVERSION.md §11.10): status 400 and
/// `{"error":{"message","type":"invalid_request_error","param","code":null}}`, `param` being
/// the error's path (null when empty, or for a JSON syntax error).
pub fn openai_request_error(err: &RequestError) -> (u16, Value) {
    let (message, param) = match err {
        RequestError::Invalid { path, message } => {
            let quoted = path.is_empty() || message.contains(&format!("'{path}'"));
            let message = if quoted {
                message.clone()
            } else {
                err.to_string()
            };
            (message, (!path.is_empty()).then(|| path.clone()))
        }
        other => (other.to_string(), None),
    };
    (
        400,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request using every field §11.3 names, valid.
    fn anthropic() -> Value {
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "sys",
                        "cache_control": {"type": "ephemeral", "ttl": "1h", "scope": "global"}}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}, "title": "T"},
                    {"type": "search_result", "source": "https://x", "title": "S", "content": [{"type": "text", "text": "r"}]}
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "redacted_thinking", "data": "d"},
                    {"type": "text", "text": "ok"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {"a": 1}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": false,
                     "content": [{"type": "text", "text": "r"}, {"type": "tool_reference", "tool_name": "Read"}]}
                ]},
                {"role": "system", "content": [], "output_config": {"effort": "low"}}
            ],
            "stream": true,
            "temperature": 0.5,
            "top_p": 0.9,
            "top_k": 5,
            "stop_sequences": ["x"],
            "metadata": {"user_id": "u"},
            "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "summarized"},
            "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": {}}},
            "tools": [
                {"name": "get", "input_schema": {"type": "object"}, "description": "d", "strict": true,
                 "eager_input_streaming": true},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3,
                 "allowed_domains": ["a.com"], "user_location": {"type": "approximate", "city": "Paris"}},
                {"type": "bash_20250124", "name": "bash", "anything": [1, 2]}
            ],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
            "cache_control": {"type": "ephemeral"},
            "fallbacks": [{"model": "x"}],
            "diagnostics": {},
            "context_management": {"edits": []},
            "speed": "fast"
        })
    }

    /// Sets (`Some`) or removes (`None`) the value at a JSON pointer.
    fn set(v: &mut Value, pointer: &str, new: Option<Value>) {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        let parent = v.pointer_mut(parent).expect("parent exists");
        match (parent, new) {
            (Value::Object(o), Some(n)) => {
                o.insert(key.to_owned(), n);
            }
            (Value::Object(o), None) => {
                o.shift_remove(key);
            }
            (Value::Array(a), Some(n)) => a[key.parse::<usize>().expect("index")] = n,
            (Value::Array(a), None) => {
                a.remove(key.parse::<usize>().expect("index"));
            }
            _ => panic!("not a container: {pointer}"),
        }
    }

    fn failure(r: Result<(), RequestError>) -> (String, String) {
        match r {
            Err(RequestError::Invalid { path, message }) => (path, message),
            other => panic!("expected an Invalid error, got {other:?}"),
        }
    }

    /// The error of the base request with these changes.
    fn a_err(changes: &[(&str, Option<Value>)]) -> (String, String) {
        let mut body = anthropic();
        for (p, v) in changes {
            set(&mut body, p, v.clone());
        }
        failure(validate_messages(&body))
    }

    fn a_case(pointer: &str, value: Option<Value>, path: &str, message: &str) {
        assert_eq!(
            a_err(&[(pointer, value)]),
            (path.to_owned(), message.to_owned()),
            "{pointer}"
        );
    }

    fn a_ok(changes: &[(&str, Option<Value>)]) {
        let mut body = anthropic();
        for (p, v) in changes {
            set(&mut body, p, v.clone());
        }
        assert_eq!(validate_messages(&body), Ok(()), "{changes:?}");
    }

    #[test]
    fn anthropic_base_is_valid() {
        assert_eq!(validate_messages(&anthropic()), Ok(()));
    }

    #[test]
    fn anthropic_top_level() {
        a_case("/model", Some(json!(5)), "model", "expected a string");
        a_case("/model", Some(json!("")), "model", "must not be empty");
        a_case("/model", None, "model", "field required");
        a_case("/model", Some(Value::Null), "model", "field required");
        a_case(
            "/max_tokens",
            Some(json!("1024")),
            "max_tokens",
            "expected an integer",
        );
        a_case(
            "/max_tokens",
            Some(json!(1.5)),
            "max_tokens",
            "expected an integer",
        );
        a_case(
            "/max_tokens",
            Some(json!(-1)),
            "max_tokens",
            "must be at least 0",
        );
        a_case("/max_tokens", None, "max_tokens", "field required");
        a_ok(&[("/max_tokens", Some(json!(0)))]);
        a_case(
            "/messages",
            Some(json!("hi")),
            "messages",
            "expected an array",
        );
        a_case(
            "/messages",
            Some(json!([])),
            "messages",
            "must not be empty",
        );
        a_case("/messages", None, "messages", "field required");
        a_case(
            "/stream",
            Some(json!("yes")),
            "stream",
            "expected a boolean",
        );
        a_case(
            "/temperature",
            Some(json!("hot")),
            "temperature",
            "expected a number",
        );
        a_case(
            "/temperature",
            Some(json!(1.5)),
            "temperature",
            "must be at most 1",
        );
        a_case(
            "/temperature",
            Some(json!(-0.1)),
            "temperature",
            "must be at least 0",
        );
        a_case("/top_p", Some(json!(true)), "top_p", "expected a number");
        a_case("/top_p", Some(json!(2)), "top_p", "must be at most 1");
        a_case("/top_k", Some(json!(1.5)), "top_k", "expected an integer");
        a_case("/top_k", Some(json!(-1)), "top_k", "must be at least 0");
        a_case(
            "/stop_sequences",
            Some(json!("x")),
            "stop_sequences",
            "expected an array",
        );
        a_case(
            "/stop_sequences",
            Some(json!(["a", 1])),
            "stop_sequences[1]",
            "expected a string",
        );
        a_case(
            "/metadata",
            Some(json!("u")),
            "metadata",
            "expected an object",
        );
        a_case(
            "/metadata/user_id",
            Some(json!(5)),
            "metadata.user_id",
            "expected a string",
        );
        a_case(
            "/service_tier",
            Some(json!(1)),
            "service_tier",
            "expected a string",
        );
        a_case("/speed", Some(json!(true)), "speed", "expected a string");
        a_case(
            "/container",
            Some(json!(1)),
            "container",
            "expected a string or an object",
        );
        a_case(
            "/context_management",
            Some(json!([])),
            "context_management",
            "expected an object",
        );
        a_case(
            "/mcp_servers",
            Some(json!({})),
            "mcp_servers",
            "expected an array",
        );
        a_case(
            "/cache_control",
            Some(json!("x")),
            "cache_control",
            "expected an object",
        );
        a_case(
            "/cache_control/type",
            None,
            "cache_control.type",
            "field required",
        );
        a_case(
            "/cache_control/type",
            Some(json!("persistent")),
            "cache_control.type",
            "must be \"ephemeral\"",
        );
        a_case(
            "/cache_control/ttl",
            Some(json!(300)),
            "cache_control.ttl",
            "expected a string",
        );
        assert_eq!(
            failure(validate_messages(&json!([1]))),
            ("body".to_owned(), "expected an object".to_owned())
        );
    }

    #[test]
    fn anthropic_unknown_and_null_are_tolerated() {
        a_ok(&[
            ("/x_new_field", Some(json!({"anything": [1, "two"]}))),
            ("/temperature", Some(Value::Null)),
            ("/system", Some(Value::Null)),
            ("/messages/0/content/0/x_extra", Some(json!(1))),
            (
                "/messages/3/content",
                Some(
                    json!([{"type": "tool_addition", "tool": {"type": "tool_reference", "name": "Grep"}}]),
                ),
            ),
            ("/tools/0/allowed_callers", Some(json!(["direct"]))),
            (
                "/messages/0/content/1/source",
                Some(json!({"type": "file", "file_id": "f"})),
            ),
            (
                "/messages/0/content/1/source",
                Some(json!({"type": "future_source", "x": 1})),
            ),
            (
                "/thinking",
                Some(json!({"type": "adaptive", "display": "updates"})),
            ),
            ("/output_config/effort", Some(json!("ultra"))),
            (
                "/output_config/format",
                Some(json!({"type": "future_format"})),
            ),
        ]);
    }

    #[test]
    fn anthropic_first_error_in_document_order() {
        // Two bad fields: the one written first wins.
        assert_eq!(
            a_err(&[("/model", Some(json!(5))), ("/stream", Some(json!("yes")))]).0,
            "model"
        );
        // Present fields before missing ones; missing ones in table order.
        assert_eq!(
            a_err(&[("/model", None), ("/stream", Some(json!("yes")))]).0,
            "stream"
        );
        assert_eq!(
            a_err(&[("/messages", None), ("/max_tokens", None)]).0,
            "max_tokens"
        );
        // The discriminator first, even when written last.
        assert_eq!(
            a_err(&[
                ("/messages/0/role", None),
                ("/messages/0/role", Some(json!("bot"))),
                ("/messages/0/content", Some(json!(5))),
            ]),
            (
                "messages[0].role".to_owned(),
                "must be one of \"user\", \"assistant\", \"system\"".to_owned()
            )
        );
        // Within a field: its own type before its elements.
        assert_eq!(
            a_err(&[("/messages/0/content/0/text", Some(json!(1)))]).0,
            "messages[0].content[0].text"
        );
    }

    #[test]
    fn anthropic_messages() {
        a_case(
            "/messages/0",
            Some(json!("hi")),
            "messages[0]",
            "expected an object",
        );
        a_case(
            "/messages/0/role",
            None,
            "messages[0].role",
            "field required",
        );
        a_case(
            "/messages/0/role",
            Some(json!(1)),
            "messages[0].role",
            "expected a string",
        );
        a_case(
            "/messages/0/role",
            Some(json!("tool")),
            "messages[0].role",
            "must be one of \"user\", \"assistant\", \"system\"",
        );
        a_case(
            "/messages/0/content",
            None,
            "messages[0].content",
            "field required",
        );
        a_case(
            "/messages/0/content",
            Some(json!(42)),
            "messages[0].content",
            "expected a string or an array",
        );
        a_case(
            "/messages/0/content",
            Some(json!("")),
            "messages[0].content",
            "must not be empty",
        );
        a_case(
            "/messages/1/content",
            Some(json!([])),
            "messages[1].content",
            "must not be empty",
        );
        // The final assistant message and system messages may be empty.
        a_ok(&[(
            "/messages/3",
            Some(json!({"role": "assistant", "content": ""})),
        )]);
        a_ok(&[("/messages/3/content", Some(json!("")))]);
        let many: Vec<Value> = (0..=MAX_MESSAGES)
            .map(|_| json!({"role": "user", "content": "a"}))
            .collect();
        a_case(
            "/messages",
            Some(Value::Array(many)),
            "messages",
            "must have at most 100000 items",
        );
    }

    #[test]
    fn anthropic_blocks() {
        a_case(
            "/messages/0/content/0",
            Some(json!(1)),
            "messages[0].content[0]",
            "expected an object",
        );
        a_case(
            "/messages/0/content/0/type",
            None,
            "messages[0].content[0].type",
            "field required",
        );
        a_case(
            "/messages/0/content/0/type",
            Some(json!(7)),
            "messages[0].content[0].type",
            "expected a string",
        );
        a_case(
            "/messages/0/content/0/text",
            Some(json!(5)),
            "messages[0].content[0].text",
            "expected a string",
        );
        a_case(
            "/messages/0/content/0/text",
            None,
            "messages[0].content[0].text",
            "field required",
        );
        a_case(
            "/messages/0/content/0/citations",
            Some(json!({})),
            "messages[0].content[0].citations",
            "expected an array",
        );
        a_case(
            "/messages/0/content/0/cache_control",
            Some(json!({"type": "forever"})),
            "messages[0].content[0].cache_control.type",
            "must be \"ephemeral\"",
        );
        // image
        a_case(
            "/messages/0/content/1/source",
            None,
            "messages[0].content[1].source",
            "field required",
        );
        a_case(
            "/messages/0/content/1/source",
            Some(json!("x")),
            "messages[0].content[1].source",
            "expected an object",
        );
        a_case(
            "/messages/0/content/1/source/type",
            None,
            "messages[0].content[1].source.type",
            "field required",
        );
        a_case(
            "/messages/0/content/1/source/data",
            Some(json!(5)),
            "messages[0].content[1].source.data",
            "expected a string",
        );
        a_case(
            "/messages/0/content/1/source/media_type",
            None,
            "messages[0].content[1].source.media_type",
            "field required",
        );
        a_case(
            "/messages/0/content/1/source",
            Some(json!({"type": "url", "url": 5})),
            "messages[0].content[1].source.url",
            "expected a string",
        );
        a_case(
            "/messages/0/content/1/source",
            Some(json!({"type": "file"})),
            "messages[0].content[1].source.file_id",
            "field required",
        );
        // document
        a_case(
            "/messages/0/content/2/source/data",
            None,
            "messages[0].content[2].source.data",
            "field required",
        );
        a_case(
            "/messages/0/content/2/title",
            Some(json!(5)),
            "messages[0].content[2].title",
            "expected a string",
        );
        a_case(
            "/messages/0/content/2/citations",
            Some(json!(true)),
            "messages[0].content[2].citations",
            "expected an object",
        );
        a_case(
            "/messages/0/content/2/source",
            Some(
                json!({"type": "content", "content": [{"type": "image", "source": {"type": "url"}}]}),
            ),
            "messages[0].content[2].source.content[0].source.url",
            "field required",
        );
        a_case(
            "/messages/0/content/2/source",
            Some(json!({"type": "content", "content": 5})),
            "messages[0].content[2].source.content",
            "expected a string or an array",
        );
        a_case(
            "/messages/0/content/2/source",
            Some(json!({"type": "base64", "data": "JVBER"})),
            "messages[0].content[2].source.media_type",
            "field required",
        );
        // search_result
        a_case(
            "/messages/0/content/3/source",
            Some(json!(1)),
            "messages[0].content[3].source",
            "expected a string",
        );
        a_case(
            "/messages/0/content/3/title",
            None,
            "messages[0].content[3].title",
            "field required",
        );
        a_case(
            "/messages/0/content/3/content/0",
            Some(json!({"type": "image", "source": {"type": "url", "url": "u"}})),
            "messages[0].content[3].content[0].type",
            "must be \"text\"",
        );
        // thinking, redacted_thinking
        a_case(
            "/messages/1/content/0/signature",
            None,
            "messages[1].content[0].signature",
            "field required",
        );
        a_case(
            "/messages/1/content/0/thinking",
            Some(json!(1)),
            "messages[1].content[0].thinking",
            "expected a string",
        );
        a_case(
            "/messages/1/content/1/data",
            Some(json!(1)),
            "messages[1].content[1].data",
            "expected a string",
        );
        a_ok(&[
            ("/messages/1/content/0/thinking", Some(json!(""))),
            ("/messages/1/content/0/signature", Some(json!(""))),
        ]);
        // tool_use
        a_case(
            "/messages/1/content/3/input",
            Some(json!("{}")),
            "messages[1].content[3].input",
            "expected an object",
        );
        a_case(
            "/messages/1/content/3/input",
            None,
            "messages[1].content[3].input",
            "field required",
        );
        a_case(
            "/messages/1/content/3/id",
            Some(json!("")),
            "messages[1].content[3].id",
            "must not be empty",
        );
        a_case(
            "/messages/1/content/3/name",
            None,
            "messages[1].content[3].name",
            "field required",
        );
        a_case(
            "/messages/0/content/0",
            Some(json!({"type": "tool_use", "id": "t", "name": "n", "input": {}})),
            "messages[0].content[0]",
            "tool_use blocks are only allowed in assistant messages",
        );
        // tool_result
        a_case(
            "/messages/2/content/0/tool_use_id",
            None,
            "messages[2].content[0].tool_use_id",
            "field required",
        );
        a_case(
            "/messages/2/content/0/is_error",
            Some(json!("yes")),
            "messages[2].content[0].is_error",
            "expected a boolean",
        );
        a_case(
            "/messages/2/content/0/content",
            Some(json!(5)),
            "messages[2].content[0].content",
            "expected a string or an array",
        );
        a_case(
            "/messages/2/content/0/content/1/tool_name",
            None,
            "messages[2].content[0].content[1].tool_name",
            "field required",
        );
        a_case(
            "/messages/1/content/0",
            Some(json!({"type": "tool_result", "tool_use_id": "t"})),
            "messages[1].content[0]",
            "tool_result blocks are only allowed in user messages",
        );
        // server blocks
        a_case(
            "/messages/1/content/2",
            Some(json!({"type": "web_search_tool_result", "tool_use_id": "s", "content": "x"})),
            "messages[1].content[2].content",
            "expected an array or an object",
        );
        a_case(
            "/messages/1/content/2",
            Some(json!({"type": "server_tool_use", "id": "s", "name": "web_search", "input": []})),
            "messages[1].content[2].input",
            "expected an object",
        );
        a_case(
            "/messages/0/content/0",
            Some(json!({"type": "container_upload"})),
            "messages[0].content[0].file_id",
            "field required",
        );
        // Known blocks in unusual roles are shape-checked, not rejected.
        a_ok(&[(
            "/messages/0/content/0",
            Some(json!({"type": "thinking", "thinking": "t", "signature": "s"})),
        )]);
    }

    #[test]
    fn anthropic_system() {
        a_case(
            "/system",
            Some(json!(5)),
            "system",
            "expected a string or an array",
        );
        a_case(
            "/system/0/text",
            Some(json!(5)),
            "system[0].text",
            "expected a string",
        );
        a_case(
            "/system/0",
            Some(json!("x")),
            "system[0]",
            "expected an object",
        );
        a_ok(&[("/system", Some(json!("a string")))]);
    }

    #[test]
    fn anthropic_thinking_and_output_config() {
        a_case(
            "/thinking",
            Some(json!(true)),
            "thinking",
            "expected an object",
        );
        a_case("/thinking/type", None, "thinking.type", "field required");
        a_case(
            "/thinking/type",
            Some(json!("on")),
            "thinking.type",
            "must be one of \"enabled\", \"disabled\", \"adaptive\"",
        );
        a_case(
            "/thinking/budget_tokens",
            Some(json!(1000)),
            "thinking.budget_tokens",
            "must be at least 1024",
        );
        a_case(
            "/thinking/budget_tokens",
            Some(json!("2048")),
            "thinking.budget_tokens",
            "expected an integer",
        );
        a_case(
            "/thinking/budget_tokens",
            None,
            "thinking.budget_tokens",
            "field required",
        );
        a_case(
            "/thinking/display",
            Some(json!(1)),
            "thinking.display",
            "expected a string",
        );
        a_ok(&[("/thinking/budget_tokens", Some(json!(200_000)))]);
        a_case(
            "/output_config",
            Some(json!("high")),
            "output_config",
            "expected an object",
        );
        a_case(
            "/output_config/effort",
            Some(json!(3)),
            "output_config.effort",
            "expected a string",
        );
        a_case(
            "/output_config/format/type",
            None,
            "output_config.format.type",
            "field required",
        );
        a_case(
            "/output_config/format/schema",
            Some(json!("x")),
            "output_config.format.schema",
            "expected an object",
        );
        a_case(
            "/output_config/format/schema",
            None,
            "output_config.format.schema",
            "field required",
        );
    }

    #[test]
    fn anthropic_tools_and_tool_choice() {
        a_case("/tools", Some(json!({})), "tools", "expected an array");
        a_case(
            "/tools/0",
            Some(json!("get")),
            "tools[0]",
            "expected an object",
        );
        a_case(
            "/tools/0/name",
            Some(json!("")),
            "tools[0].name",
            "must not be empty",
        );
        a_case("/tools/0/name", None, "tools[0].name", "field required");
        a_case(
            "/tools/0/input_schema",
            None,
            "tools[0].input_schema",
            "field required",
        );
        a_case(
            "/tools/0/input_schema",
            Some(json!("object")),
            "tools[0].input_schema",
            "expected an object",
        );
        a_case(
            "/tools/0/description",
            Some(json!(1)),
            "tools[0].description",
            "expected a string",
        );
        a_case(
            "/tools/0/strict",
            Some(json!("yes")),
            "tools[0].strict",
            "expected a boolean",
        );
        a_case(
            "/tools/0/type",
            Some(json!(5)),
            "tools[0].type",
            "expected a string",
        );
        a_case(
            "/tools/1/max_uses",
            Some(json!(0)),
            "tools[1].max_uses",
            "must be at least 1",
        );
        a_case(
            "/tools/1/allowed_domains",
            Some(json!([1])),
            "tools[1].allowed_domains[0]",
            "expected a string",
        );
        a_case(
            "/tools/1/user_location/city",
            Some(json!(1)),
            "tools[1].user_location.city",
            "expected a string",
        );
        // Names outside ^[a-zA-Z0-9_-]{1,128}$ are mapped reversibly (§1.5), not rejected.
        a_ok(&[("/tools/0/name", Some(json!("github.create_issue")))]);
        a_case(
            "/tool_choice",
            Some(json!("auto")),
            "tool_choice",
            "expected an object",
        );
        a_case(
            "/tool_choice/type",
            Some(json!("maybe")),
            "tool_choice.type",
            "must be one of \"auto\", \"any\", \"tool\", \"none\"",
        );
        a_case(
            "/tool_choice",
            Some(json!({"type": "tool"})),
            "tool_choice.name",
            "field required",
        );
        a_case(
            "/tool_choice/disable_parallel_tool_use",
            Some(json!("yes")),
            "tool_choice.disable_parallel_tool_use",
            "expected a boolean",
        );
    }

    // --- OpenAI -------------------------------------------------------------------------

    fn openai() -> Value {
        json!({
            "model": "gpt-5.5",
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "developer", "content": [{"type": "text", "text": "d"}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "low"}},
                    {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}}
                ]},
                {"role": "assistant", "content": null, "reasoning_content": "r",
                 "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "15"}
            ],
            "temperature": 1.0, "top_p": 1, "n": 1, "max_tokens": 100, "max_completion_tokens": 100,
            "stream": true, "stream_options": {"include_usage": true}, "stop": ["a", "b"],
            "tools": [
                {"type": "function", "function": {"name": "get", "parameters": {"type": "object"}, "description": "d", "strict": false}},
                {"type": "custom", "custom": {"name": "x"}}
            ],
            "tool_choice": "auto", "parallel_tool_calls": true,
            "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": {}, "strict": true}},
            "presence_penalty": 0, "frequency_penalty": -1, "logit_bias": {"50256": -100}, "seed": 42,
            "logprobs": false, "top_logprobs": 2, "user": "u", "metadata": {"k": "v"}, "store": false,
            "reasoning_effort": "high", "web_search_options": {}, "some_future_field": [1]
        })
    }

    fn o_case(pointer: &str, value: Option<Value>, path: &str, message: &str) {
        let mut body = openai();
        set(&mut body, pointer, value);
        assert_eq!(
            failure(validate_chat_completions(&body)),
            (path.to_owned(), message.to_owned()),
            "{pointer}"
        );
    }

    fn o_ok(pointer: &str, value: Option<Value>) {
        let mut body = openai();
        set(&mut body, pointer, value);
        assert_eq!(validate_chat_completions(&body), Ok(()), "{pointer}");
    }

    #[test]
    fn openai_base_is_valid() {
        assert_eq!(validate_chat_completions(&openai()), Ok(()));
    }

    #[test]
    fn openai_top_level() {
        o_case(
            "/model",
            None,
            "model",
            "Missing required parameter: 'model'.",
        );
        o_case(
            "/model",
            Some(json!(4)),
            "model",
            "Invalid type for 'model': expected a string, but got an integer instead.",
        );
        o_case(
            "/model",
            Some(json!("")),
            "model",
            "Invalid 'model': empty string. Expected a string with minimum length 1, but got an empty string instead.",
        );
        o_case(
            "/messages",
            Some(json!([])),
            "messages",
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        );
        o_case(
            "/messages",
            Some(json!("Hello")),
            "messages",
            "Invalid type for 'messages': expected an array, but got a string instead.",
        );
        o_case(
            "/temperature",
            Some(json!("hot")),
            "temperature",
            "Invalid type for 'temperature': expected a decimal, but got a string instead.",
        );
        o_case(
            "/temperature",
            Some(json!(3)),
            "temperature",
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead.",
        );
        o_case(
            "/top_p",
            Some(json!(-0.5)),
            "top_p",
            "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -0.5 instead.",
        );
        o_case(
            "/presence_penalty",
            Some(json!(2.5)),
            "presence_penalty",
            "Invalid 'presence_penalty': decimal above maximum value. Expected a value <= 2, but got 2.5 instead.",
        );
        o_case(
            "/frequency_penalty",
            Some(json!(-3)),
            "frequency_penalty",
            "Invalid 'frequency_penalty': decimal below minimum value. Expected a value >= -2, but got -3 instead.",
        );
        o_case(
            "/max_tokens",
            Some(json!(0)),
            "max_tokens",
            "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        );
        o_case(
            "/max_completion_tokens",
            Some(json!(1.5)),
            "max_completion_tokens",
            "Invalid type for 'max_completion_tokens': expected an integer, but got a decimal instead.",
        );
        o_case(
            "/n",
            Some(json!(2)),
            "n",
            "Invalid value for 'n': only 1 choice is supported, but got 2 instead.",
        );
        o_case(
            "/n",
            Some(json!(0)),
            "n",
            "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.",
        );
        o_case(
            "/seed",
            Some(json!("42")),
            "seed",
            "Invalid type for 'seed': expected an integer, but got a string instead.",
        );
        o_case(
            "/top_logprobs",
            Some(json!(21)),
            "top_logprobs",
            "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 instead.",
        );
        o_case(
            "/stream",
            Some(json!("yes")),
            "stream",
            "Invalid type for 'stream': expected a boolean, but got a string instead.",
        );
        o_case(
            "/stream_options/include_usage",
            Some(json!(1)),
            "stream_options.include_usage",
            "Invalid type for 'stream_options.include_usage': expected a boolean, but got an integer instead.",
        );
        o_case(
            "/stop",
            Some(json!(["a", "b", "c", "d", "e"])),
            "stop",
            "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length 5 instead.",
        );
        o_case(
            "/stop",
            Some(json!(5)),
            "stop",
            "Invalid type for 'stop': expected one of a string or array of strings, but got an integer instead.",
        );
        o_case(
            "/stop/1",
            Some(json!(null)),
            "stop[1]",
            "Invalid type for 'stop[1]': expected a string, but got null instead.",
        );
        o_ok("/stop", Some(json!("END")));
        o_case(
            "/logit_bias/50256",
            Some(json!(200)),
            "logit_bias.50256",
            "Invalid 'logit_bias.50256': decimal above maximum value. Expected a value <= 100, but got 200 instead.",
        );
        o_case(
            "/metadata/k",
            Some(json!(1)),
            "metadata.k",
            "Invalid type for 'metadata.k': expected a string, but got an integer instead.",
        );
        o_case(
            "/user",
            Some(json!({})),
            "user",
            "Invalid type for 'user': expected a string, but got an object instead.",
        );
        o_case(
            "/web_search_options",
            Some(json!(true)),
            "web_search_options",
            "Invalid type for 'web_search_options': expected an object, but got a boolean instead.",
        );
        assert_eq!(
            failure(validate_chat_completions(&json!([{"role": "user"}]))),
            (
                String::new(),
                "Invalid type for the request body: expected an object, but got an array instead."
                    .to_owned()
            )
        );
    }

    #[test]
    fn openai_messages() {
        o_case(
            "/messages/2/content",
            Some(json!(5)),
            "messages[2].content",
            "Invalid type for 'messages[2].content': expected one of a string or array of objects, but got an integer instead.",
        );
        o_case(
            "/messages/0/role",
            None,
            "messages[0].role",
            "Missing required parameter: 'messages[0].role'.",
        );
        o_case(
            "/messages/0/role",
            Some(json!("function")),
            "messages[0].role",
            "Invalid value for 'messages[0].role': 'function'. Supported values are: 'system', 'developer', 'user', 'assistant', and 'tool'.",
        );
        o_case(
            "/messages/0/content",
            None,
            "messages[0].content",
            "Missing required parameter: 'messages[0].content'.",
        );
        o_case(
            "/messages/1/content/0/type",
            Some(json!("image_url")),
            "messages[1].content[0].type",
            "Invalid value for 'messages[1].content[0].type': 'image_url'. Supported values are: 'text'.",
        );
        o_case(
            "/messages/1/content",
            Some(json!([])),
            "messages[1].content",
            "Invalid 'messages[1].content': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        );
        o_case(
            "/messages/2/content/1/image_url/url",
            None,
            "messages[2].content[1].image_url.url",
            "Missing required parameter: 'messages[2].content[1].image_url.url'.",
        );
        o_case(
            "/messages/2/content/1/image_url",
            Some(json!("https://x")),
            "messages[2].content[1].image_url",
            "Invalid type for 'messages[2].content[1].image_url': expected an object, but got a string instead.",
        );
        o_case(
            "/messages/2/content/2/input_audio/format",
            None,
            "messages[2].content[2].input_audio.format",
            "Missing required parameter: 'messages[2].content[2].input_audio.format'.",
        );
        o_case(
            "/messages/2/content/3/file/filename",
            Some(json!(1)),
            "messages[2].content[3].file.filename",
            "Invalid type for 'messages[2].content[3].file.filename': expected a string, but got an integer instead.",
        );
        o_case(
            "/messages/2/content/0/text",
            Some(json!(1)),
            "messages[2].content[0].text",
            "Invalid type for 'messages[2].content[0].text': expected a string, but got an integer instead.",
        );
        o_ok(
            "/messages/2/content/0",
            Some(json!({"type": "future_part", "x": 1})),
        );
        o_ok("/messages/2/content", Some(json!("")));
        o_case(
            "/messages/3/tool_calls",
            None,
            "messages[3].content",
            "Missing required parameter: 'messages[3].content'.",
        );
        o_ok(
            "/messages/3/content",
            Some(json!([{"type": "refusal", "refusal": "no"}])),
        );
        o_case(
            "/messages/3/tool_calls",
            Some(json!([])),
            "messages[3].tool_calls",
            "Invalid 'messages[3].tool_calls': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        );
        o_case(
            "/messages/3/tool_calls/0/type",
            Some(json!("custom")),
            "messages[3].tool_calls[0].type",
            "Invalid value for 'messages[3].tool_calls[0].type': 'custom'. Supported values are: 'function'.",
        );
        o_case(
            "/messages/3/tool_calls/0/function/arguments",
            Some(json!({})),
            "messages[3].tool_calls[0].function.arguments",
            "Invalid type for 'messages[3].tool_calls[0].function.arguments': expected a string, but got an object instead.",
        );
        o_case(
            "/messages/3/tool_calls/0/id",
            None,
            "messages[3].tool_calls[0].id",
            "Missing required parameter: 'messages[3].tool_calls[0].id'.",
        );
        o_case(
            "/messages/3/reasoning_content",
            Some(json!(1)),
            "messages[3].reasoning_content",
            "Invalid type for 'messages[3].reasoning_content': expected a string, but got an integer instead.",
        );
        o_case(
            "/messages/4/tool_call_id",
            None,
            "messages[4].tool_call_id",
            "Missing required parameter: 'messages[4].tool_call_id'.",
        );
        o_case(
            "/messages/4/content",
            Some(json!([{"type": "image_url", "image_url": {"url": "u"}}])),
            "messages[4].content[0].type",
            "Invalid value for 'messages[4].content[0].type': 'image_url'. Supported values are: 'text'.",
        );
    }

    #[test]
    fn openai_tools_choice_and_format() {
        o_case(
            "/tools/0/type",
            None,
            "tools[0].type",
            "Missing required parameter: 'tools[0].type'.",
        );
        o_case(
            "/tools/0/function",
            None,
            "tools[0].function",
            "Missing required parameter: 'tools[0].function'.",
        );
        o_case(
            "/tools/0/function/name",
            Some(json!("")),
            "tools[0].function.name",
            "Invalid 'tools[0].function.name': empty string. Expected a string with minimum length 1, but got an empty string instead.",
        );
        o_case(
            "/tools/0/function/parameters",
            Some(json!("object")),
            "tools[0].function.parameters",
            "Invalid type for 'tools[0].function.parameters': expected an object, but got a string instead.",
        );
        o_case(
            "/tool_choice",
            Some(json!("sometimes")),
            "tool_choice",
            "Invalid value for 'tool_choice': 'sometimes'. Supported values are: 'none', 'auto', and 'required'.",
        );
        o_case(
            "/tool_choice",
            Some(json!(5)),
            "tool_choice",
            "Invalid type for 'tool_choice': expected one of a string or object, but got an integer instead.",
        );
        o_case(
            "/tool_choice",
            Some(json!({"type": "function"})),
            "tool_choice.function",
            "Missing required parameter: 'tool_choice.function'.",
        );
        o_case(
            "/tool_choice",
            Some(json!({"type": "allowed_tools", "allowed_tools": {}})),
            "tool_choice.type",
            "Invalid value for 'tool_choice.type': 'allowed_tools'. Supported values are: 'function'.",
        );
        o_ok(
            "/tool_choice",
            Some(json!({"type": "function", "function": {"name": "get"}})),
        );
        o_case(
            "/response_format/type",
            Some(json!("xml")),
            "response_format.type",
            "Invalid value for 'response_format.type': 'xml'. Supported values are: 'text', 'json_object', and 'json_schema'.",
        );
        o_case(
            "/response_format/json_schema/name",
            None,
            "response_format.json_schema.name",
            "Missing required parameter: 'response_format.json_schema.name'.",
        );
        o_case(
            "/parallel_tool_calls",
            Some(json!("no")),
            "parallel_tool_calls",
            "Invalid type for 'parallel_tool_calls': expected a boolean, but got a string instead.",
        );
    }

    #[test]
    fn openai_error_body_carries_the_param() {
        let mut body = openai();
        set(&mut body, "/messages/0/content", Some(json!(7)));
        let err = validate_chat_completions(&body).expect_err("invalid content");
        assert_eq!(
            openai_request_error(&err),
            (
                400,
                json!({"error": {
                    "message": "Invalid type for 'messages[0].content': expected one of a string or array of objects, but got an integer instead.",
                    "type": "invalid_request_error",
                    "param": "messages[0].content",
                    "code": null
                }})
            )
        );
        // A conversion error that does not quote its path gets it in front.
        let (_, b) =
            openai_request_error(&RequestError::invalid("n", "only 1 choice is supported"));
        assert_eq!(b["error"]["message"], "n: only 1 choice is supported");
        assert_eq!(b["error"]["param"], "n");
        let (status, b) = openai_request_error(&RequestError::Json("EOF".into()));
        assert_eq!((status, &b["error"]["param"]), (400, &Value::Null));
        let root = validate_chat_completions(&json!(3)).expect_err("not an object");
        assert_eq!(openai_request_error(&root).1["error"]["param"], Value::Null);
    }

    #[test]
    fn paths_render_in_bracket_form() {
        let a = ROOT.key("messages");
        let b = a.at(2);
        let c = b.key("content");
        let d = c.at(0);
        let e = d.key("source");
        assert_eq!(e.key("data").render(), "messages[2].content[0].source.data");
        assert_eq!(ROOT.render(), "");
    }
}
