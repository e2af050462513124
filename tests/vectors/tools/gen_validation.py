#!/usr/bin/env python3
"""Build the request-validation vectors under tests/vectors/validation/*.json.

Written from docs/CONVERSION.md section 11 only (plus ../shared/protocol/claude-code.md §9 for the
shapes Claude Code sends); it imports, calls and reads nothing from the Rust project. Every case
below is one body with exactly one wrong field (or none, for the accepted ones), so the expected
path follows from §11 alone. The expected message is written into the description for the
reader; the harness compares `ok`, `status` and `path` (README, "validation/<name>.json").

Cases where §11 leaves the answer open are not written; they are listed in SKIPPED at the end.

Usage:
    python3 tests/vectors/tools/gen_validation.py           # (re)write the vectors
    python3 tests/vectors/tools/gen_validation.py --check   # compare with the files, write nothing

Output is deterministic: same script, same bytes.
"""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "validation"))

MODEL = "claude-sonnet-4-5"
DROP = object()  # marks a key to remove in with_fields()

CASES = []  # (file name, case dict), in the order written


def render(case):
    return json.dumps(case, indent=2, ensure_ascii=False) + "\n"


def add(name, dialect, description, request, path=None):
    """path None: the body must be accepted; else a 400 whose path (Anthropic message prefix,
    OpenAI `param`) is `path`."""
    assert dialect in ("anthropic", "openai")
    prefix = "a_" if dialect == "anthropic" else "o_"
    fname = prefix + name + ".json"
    assert all(fname != n for n, _ in CASES), fname
    expected = {"ok": True} if path is None else {"ok": False, "status": 400, "path": path}
    CASES.append((fname, {"description": description, "dialect": dialect,
                          "request": copy.deepcopy(request), "expected": expected}))


def with_fields(base, **fields):
    """A copy of base with fields set (appended at the end when new, in place when present)
    or removed (value DROP). Key order is kept, so document order is predictable."""
    out = copy.deepcopy(base)
    for key, value in fields.items():
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ============================================================================================
# Anthropic Messages (/v1/messages): §11.1-§11.8
# ============================================================================================

USER_HI = [{"role": "user", "content": "Hello"}]
A_BASE = {"model": MODEL, "max_tokens": 1024, "messages": USER_HI}

WEATHER_TOOL = {"name": "get_weather", "description": "Current weather for a city",
                "input_schema": {"type": "object",
                                 "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}}


def tool_use(**over):
    block = {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
             "input": {"city": "Paris"}}
    for k, v in over.items():
        if v is DROP:
            block.pop(k, None)
        else:
            block[k] = v
    return block


def tool_result(**over):
    block = {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18 C, cloudy"}
    for k, v in over.items():
        if v is DROP:
            block.pop(k, None)
        else:
            block[k] = v
    return block


def weather(assistant=None, result=None, tail=True):
    """user question, assistant [text, tool_use], user [tool_result] (messages[0..2])."""
    msgs = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": assistant if assistant is not None else
         [{"type": "text", "text": "Let me check."}, tool_use()]},
        {"role": "user", "content": result if result is not None else [tool_result()]},
    ]
    return {"model": MODEL, "max_tokens": 1024, "messages": msgs, "tools": [WEATHER_TOOL]}


def user_blocks(*blocks):
    return with_fields(A_BASE, messages=[{"role": "user", "content": list(blocks)}])


TEXT = {"type": "text", "text": "Describe this."}
PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                   "data": "iVBORw0KGgo="}}


def a_reject(name, section, what, request, path, message):
    add(name, "anthropic", "%s %s -> `%s: %s`" % (section, what, path, message), request, path)


def a_accept(name, section, what, request):
    add(name, "anthropic", "%s %s -> accepted" % (section, what), request)


# ---------------------------------------------------------------- top level (§11.1, §11.3)
a_reject("body_not_object", "§11.1", "the body is an array, not an object; the body's path is `body`",
         [A_BASE], "body", "expected an object")
a_reject("model_missing", "§11.3", "`model` is required",
         {"max_tokens": 1024, "messages": USER_HI}, "model", "field required")
a_reject("model_null", "§11.1/§11.3", "a required field that is null is missing",
         with_fields(A_BASE, model=None), "model", "field required")
a_reject("model_number", "§11.3", "`model` must be a string",
         with_fields(A_BASE, model=5), "model", "expected a string")
a_reject("model_empty", "§11.3", "`model` must not be empty",
         with_fields(A_BASE, model=""), "model", "must not be empty")
a_reject("max_tokens_missing", "§11.3", "`max_tokens` is required",
         {"model": MODEL, "messages": USER_HI}, "max_tokens", "field required")
a_reject("max_tokens_string", "§11.3", "`max_tokens` as a string",
         with_fields(A_BASE, max_tokens="1024"), "max_tokens", "expected an integer")
a_reject("max_tokens_negative", "§11.3", "`max_tokens` below its minimum 0",
         with_fields(A_BASE, max_tokens=-1), "max_tokens", "must be at least 0")
a_reject("max_tokens_float", "§11.1/§11.3", "`max_tokens` with a fraction is not an integer",
         with_fields(A_BASE, max_tokens=100.5), "max_tokens", "expected an integer")
a_reject("max_tokens_float_integral", "§11.1/§11.3",
         "`max_tokens` written `1024.0` is not an integer (`1`, not `1.0`)",
         with_fields(A_BASE, max_tokens=1024.0), "max_tokens", "expected an integer")
a_reject("messages_missing", "§11.3", "`messages` is required",
         {"model": MODEL, "max_tokens": 1024}, "messages", "field required")
a_reject("messages_object", "§11.3", "`messages` must be an array",
         with_fields(A_BASE, messages={"role": "user", "content": "Hello"}),
         "messages", "expected an array")
a_reject("messages_empty", "§11.3", "`messages` must hold at least 1 message",
         with_fields(A_BASE, messages=[]), "messages", "must not be empty")
a_reject("stream_string", "§11.3", "`stream` as a string",
         with_fields(A_BASE, stream="true"), "stream", "expected a boolean")
a_reject("temperature_above_1", "§11.3", "`temperature` above 1",
         with_fields(A_BASE, temperature=1.5), "temperature", "must be at most 1")
a_reject("temperature_negative", "§11.3", "`temperature` below 0",
         with_fields(A_BASE, temperature=-0.1), "temperature", "must be at least 0")
a_reject("temperature_string", "§11.3", "`temperature` as a string",
         with_fields(A_BASE, temperature="0.5"), "temperature", "expected a number")
a_reject("top_p_above_1", "§11.3", "`top_p` above 1",
         with_fields(A_BASE, top_p=1.01), "top_p", "must be at most 1")
a_reject("top_p_negative", "§11.3", "`top_p` below 0",
         with_fields(A_BASE, top_p=-0.5), "top_p", "must be at least 0")
a_reject("top_k_negative", "§11.3", "`top_k` below 0",
         with_fields(A_BASE, top_k=-1), "top_k", "must be at least 0")
a_reject("top_k_float", "§11.1/§11.3", "`top_k` with a fraction",
         with_fields(A_BASE, top_k=2.5), "top_k", "expected an integer")
a_reject("stop_sequences_string", "§11.3", "`stop_sequences` not an array",
         with_fields(A_BASE, stop_sequences="END"), "stop_sequences", "expected an array")
a_reject("stop_sequences_number_element", "§11.3", "`stop_sequences` holding a number",
         with_fields(A_BASE, stop_sequences=["END", 42]), "stop_sequences[1]", "expected a string")
a_reject("stop_sequences_null_element", "§11.1/§11.3",
         "a null array element is a value of the wrong type",
         with_fields(A_BASE, stop_sequences=["END", None]), "stop_sequences[1]",
         "expected a string")
a_reject("metadata_string", "§11.3", "`metadata` not an object",
         with_fields(A_BASE, metadata="user-1"), "metadata", "expected an object")
a_reject("metadata_user_id_number", "§11.3", "`metadata.user_id` not a string",
         with_fields(A_BASE, metadata={"user_id": 42}), "metadata.user_id", "expected a string")
a_reject("system_number", "§11.3", "`system` neither a string nor an array",
         with_fields(A_BASE, system=7), "system", "expected a string or an array")
a_reject("system_object", "§11.3", "`system` as a single block object instead of an array",
         with_fields(A_BASE, system={"type": "text", "text": "You are helpful."}),
         "system", "expected a string or an array")
a_reject("system_block_string", "§11.3/§11.5", "an element of `system` must be a block object",
         with_fields(A_BASE, system=["You are helpful."]), "system[0]", "expected an object")
a_reject("system_block_type_missing", "§11.5", "a `system` block without `type`",
         with_fields(A_BASE, system=[{"text": "You are helpful."}]), "system[0].type",
         "field required")
a_reject("system_block_text_number", "§11.5", "a `system` text block whose `text` is a number",
         with_fields(A_BASE, system=[{"type": "text", "text": 5}]), "system[0].text",
         "expected a string")
a_reject("system_block_cache_control_type", "§11.5/§11.7",
         "a `system` block's `cache_control.type` other than `ephemeral`",
         with_fields(A_BASE, system=[{"type": "text", "text": "You are helpful.",
                                      "cache_control": {"type": "persistent"}}]),
         "system[0].cache_control.type", 'must be "ephemeral"')

# thinking
a_reject("thinking_string", "§11.3", "`thinking` not an object",
         with_fields(A_BASE, thinking="enabled"), "thinking", "expected an object")
a_reject("thinking_type_missing", "§11.3", "`thinking.type` (discriminator) is required",
         with_fields(A_BASE, max_tokens=4096, thinking={"budget_tokens": 2048}),
         "thinking.type", "field required")
a_reject("thinking_type_unknown", "§11.3", "`thinking.type` not an allowed value",
         with_fields(A_BASE, thinking={"type": "on"}), "thinking.type",
         'must be one of "enabled", "disabled", "adaptive"')
a_reject("thinking_type_number", "§11.1/§11.3", "`thinking.type` (discriminator) not a string",
         with_fields(A_BASE, thinking={"type": 1}), "thinking.type", "expected a string")
a_reject("thinking_enabled_without_budget", "§11.3",
         "`thinking` `enabled` requires `budget_tokens`",
         with_fields(A_BASE, thinking={"type": "enabled"}), "thinking.budget_tokens",
         "field required")
a_reject("thinking_budget_below_minimum", "§11.3", "`thinking.budget_tokens` below 1024",
         with_fields(A_BASE, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1023}),
         "thinking.budget_tokens", "must be at least 1024")
a_reject("thinking_budget_string", "§11.3", "`thinking.budget_tokens` as a string",
         with_fields(A_BASE, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": "2048"}),
         "thinking.budget_tokens", "expected an integer")
a_reject("thinking_display_number", "§11.3", "`thinking.display` not a string",
         with_fields(A_BASE, thinking={"type": "adaptive", "display": 1}), "thinking.display",
         "expected a string")

# output_config
a_reject("output_config_string", "§11.3", "`output_config` not an object",
         with_fields(A_BASE, output_config="high"), "output_config", "expected an object")
a_reject("output_config_effort_number", "§11.3", "`output_config.effort` not a string",
         with_fields(A_BASE, output_config={"effort": 3}), "output_config.effort",
         "expected a string")
a_reject("output_config_format_type_missing", "§11.3",
         "`output_config.format.type` (discriminator) is required",
         with_fields(A_BASE, output_config={"format": {"schema": {"type": "object"}}}),
         "output_config.format.type", "field required")
a_reject("output_config_format_schema_missing", "§11.3",
         "`output_config.format` `json_schema` requires `schema`",
         with_fields(A_BASE, output_config={"format": {"type": "json_schema"}}),
         "output_config.format.schema", "field required")
a_reject("output_config_format_schema_string", "§11.3",
         "`output_config.format.schema` must be an object",
         with_fields(A_BASE, output_config={"format": {"type": "json_schema",
                                                       "schema": "{\"type\":\"object\"}"}}),
         "output_config.format.schema", "expected an object")
a_reject("output_config_task_budget_number", "§11.3", "`output_config.task_budget` not an object",
         with_fields(A_BASE, output_config={"task_budget": 5000}), "output_config.task_budget",
         "expected an object")

# other typed top-level fields
a_reject("cache_control_top_level_type", "§11.3/§11.7",
         "top-level `cache_control.type` must be `ephemeral`",
         with_fields(A_BASE, cache_control={"type": "persistent"}), "cache_control.type",
         'must be "ephemeral"')
a_reject("service_tier_number", "§11.3", "`service_tier` not a string",
         with_fields(A_BASE, service_tier=1), "service_tier", "expected a string")
a_reject("speed_boolean", "§11.3", "`speed` not a string",
         with_fields(A_BASE, speed=True), "speed", "expected a string")
a_reject("container_number", "§11.3", "`container` neither a string nor an object",
         with_fields(A_BASE, container=12), "container", "expected a string or an object")
a_reject("context_management_array", "§11.3", "`context_management` not an object",
         with_fields(A_BASE, context_management=[{"type": "clear_thinking_20251015"}]),
         "context_management", "expected an object")
a_reject("mcp_servers_object", "§11.3", "`mcp_servers` not an array",
         with_fields(A_BASE, mcp_servers={"type": "url", "url": "https://mcp.example.com"}),
         "mcp_servers", "expected an array")

# ---------------------------------------------------------------- tools, tool_choice (§11.3, §11.6)
a_reject("tools_object", "§11.3", "`tools` not an array",
         with_fields(A_BASE, tools=WEATHER_TOOL), "tools", "expected an array")
a_reject("tool_not_object", "§11.6", "a tool must be an object",
         with_fields(A_BASE, tools=["get_weather"]), "tools[0]", "expected an object")
a_reject("tool_name_missing", "§11.6", "a client tool requires `name`",
         with_fields(A_BASE, tools=[{"description": "x", "input_schema": {"type": "object"}}]),
         "tools[0].name", "field required")
a_reject("tool_name_empty", "§11.6", "a client tool's `name` must not be empty",
         with_fields(A_BASE, tools=[{"name": "", "input_schema": {"type": "object"}}]),
         "tools[0].name", "must not be empty")
a_reject("tool_input_schema_missing", "§11.6", "a client tool requires `input_schema`",
         with_fields(A_BASE, tools=[WEATHER_TOOL, {"name": "now"}]),
         "tools[1].input_schema", "field required")
a_reject("tool_input_schema_string", "§11.6", "`input_schema` must be an object",
         with_fields(A_BASE, tools=[{"name": "now", "input_schema": "object"}]),
         "tools[0].input_schema", "expected an object")
a_reject("tool_type_number", "§11.6", "a tool `type` that is neither absent, null nor a string",
         with_fields(A_BASE, tools=[dict(WEATHER_TOOL, type=1)]), "tools[0].type",
         "expected a string")
a_reject("tool_custom_strict_string", "§11.6", "a `custom` tool's `strict` not a boolean",
         with_fields(A_BASE, tools=[dict({"type": "custom"}, **WEATHER_TOOL, strict="yes")]),
         "tools[0].strict", "expected a boolean")
a_reject("tool_description_number", "§11.6", "a client tool's `description` not a string",
         with_fields(A_BASE, tools=[dict(WEATHER_TOOL, description=42)]),
         "tools[0].description", "expected a string")
a_reject("tool_cache_control_type", "§11.6/§11.7", "a tool's `cache_control` without `type`",
         with_fields(A_BASE, tools=[dict(WEATHER_TOOL, cache_control={"ttl": "1h"})]),
         "tools[0].cache_control.type", "field required")
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}
a_reject("web_search_name_missing", "§11.6", "a `web_search_*` tool requires `name`",
         with_fields(A_BASE, tools=[{"type": "web_search_20250305", "max_uses": 5}]),
         "tools[0].name", "field required")
a_reject("web_search_max_uses_zero", "§11.6", "`max_uses` of a `web_search_*` tool below 1",
         with_fields(A_BASE, tools=[WEATHER_TOOL, dict(WEB_SEARCH, max_uses=0)]),
         "tools[1].max_uses", "must be at least 1")
a_reject("web_search_allowed_domains_number", "§11.6", "`allowed_domains` holding a number",
         with_fields(A_BASE, tools=[dict(WEB_SEARCH, allowed_domains=["example.com", 7])]),
         "tools[0].allowed_domains[1]", "expected a string")
a_reject("web_search_user_location_city_number", "§11.6", "`user_location.city` not a string",
         with_fields(A_BASE, tools=[dict(WEB_SEARCH, user_location={"type": "approximate",
                                                                    "city": 75001})]),
         "tools[0].user_location.city", "expected a string")
a_reject("tool_choice_string", "§11.3", "`tool_choice` as a bare string",
         with_fields(A_BASE, tools=[WEATHER_TOOL], tool_choice="auto"), "tool_choice",
         "expected an object")
a_reject("tool_choice_type_missing", "§11.3", "`tool_choice.type` (discriminator) is required",
         with_fields(A_BASE, tools=[WEATHER_TOOL], tool_choice={"disable_parallel_tool_use": True}),
         "tool_choice.type", "field required")
a_reject("tool_choice_type_unknown", "§11.3", "`tool_choice.type` not an allowed value",
         with_fields(A_BASE, tools=[WEATHER_TOOL], tool_choice={"type": "required"}),
         "tool_choice.type", 'must be one of "auto", "any", "tool", "none"')
a_reject("tool_choice_tool_without_name", "§11.3", "`tool_choice` `tool` requires `name`",
         with_fields(A_BASE, tools=[WEATHER_TOOL], tool_choice={"type": "tool"}),
         "tool_choice.name", "field required")
a_reject("tool_choice_name_number", "§11.3", "`tool_choice.name` not a string",
         with_fields(A_BASE, tools=[WEATHER_TOOL], tool_choice={"type": "tool", "name": 1}),
         "tool_choice.name", "expected a string")
a_reject("tool_choice_disable_parallel_string", "§11.3",
         "`tool_choice.disable_parallel_tool_use` not a boolean",
         with_fields(A_BASE, tools=[WEATHER_TOOL],
                     tool_choice={"type": "auto", "disable_parallel_tool_use": "true"}),
         "tool_choice.disable_parallel_tool_use", "expected a boolean")

# ---------------------------------------------------------------- messages (§11.4)
a_reject("message_not_object", "§11.4", "an element of `messages` must be an object",
         with_fields(A_BASE, messages=["Hello"]), "messages[0]", "expected an object")
a_reject("message_null", "§11.1/§11.4", "a null array element is a value of the wrong type",
         with_fields(A_BASE, messages=[{"role": "user", "content": "Hello"}, None]),
         "messages[1]", "expected an object")
a_reject("message_role_missing", "§11.4", "`role` (discriminator) is required",
         with_fields(A_BASE, messages=[{"content": "Hello"}]), "messages[0].role", "field required")
a_reject("message_role_unknown", "§11.4", "`role` not an allowed value",
         with_fields(A_BASE, messages=[{"role": "tool", "content": "Hello"}]), "messages[0].role",
         'must be one of "user", "assistant", "system"')
a_reject("message_role_after_content", "§11.1/§11.4",
         "the discriminator `role` is judged even when it comes after `content` in the object",
         with_fields(A_BASE, messages=[{"content": "Hello", "role": "human"}]), "messages[0].role",
         'must be one of "user", "assistant", "system"')
a_reject("message_role_number", "§11.4", "`role` not a string",
         with_fields(A_BASE, messages=[{"role": 0, "content": "Hello"}]), "messages[0].role",
         "expected a string")
a_reject("message_content_missing", "§11.4", "`content` is required",
         with_fields(A_BASE, messages=[{"role": "user"}]), "messages[0].content", "field required")
a_reject("message_content_null", "§11.1/§11.4", "a null `content` is missing",
         with_fields(A_BASE, messages=[{"role": "user", "content": None}]), "messages[0].content",
         "field required")
a_reject("message_content_number", "§11.4", "`content` neither a string nor an array",
         with_fields(A_BASE, messages=[{"role": "user", "content": 42}]), "messages[0].content",
         "expected a string or an array")
a_reject("message_content_object", "§11.4", "`content` as one block object instead of an array",
         with_fields(A_BASE, messages=[{"role": "user", "content": {"type": "text", "text": "Hi"}}]),
         "messages[0].content", "expected a string or an array")
a_reject("user_content_empty_string", "§11.4", "user content `\"\"`",
         with_fields(A_BASE, messages=[{"role": "user", "content": ""}]), "messages[0].content",
         "must not be empty")
a_reject("user_content_empty_array", "§11.4", "user content `[]`",
         with_fields(A_BASE, messages=[{"role": "user", "content": []}]), "messages[0].content",
         "must not be empty")
a_reject("assistant_content_empty_not_last", "§11.4",
         "an empty assistant turn is allowed only as the last message",
         with_fields(A_BASE, messages=[{"role": "user", "content": "Hello"},
                                       {"role": "assistant", "content": ""},
                                       {"role": "user", "content": "Are you there?"}]),
         "messages[1].content", "must not be empty")
a_reject("tool_use_in_user_message", "§11.2/§11.4", "a `tool_use` block in a user message",
         user_blocks({"type": "text", "text": "Run this:"}, tool_use()),
         "messages[0].content[1]", "tool_use blocks are only allowed in assistant messages")
a_reject("tool_use_in_system_message", "§11.2/§11.4", "a `tool_use` block in a system message",
         with_fields(A_BASE, messages=[{"role": "user", "content": "Hello"},
                                       {"role": "system", "content": [tool_use()]},
                                       {"role": "user", "content": "Go on."}]),
         "messages[1].content[0]", "tool_use blocks are only allowed in assistant messages")
a_reject("tool_result_in_assistant_message", "§11.2/§11.4",
         "a `tool_result` block in an assistant message",
         weather(assistant=[{"type": "text", "text": "Let me check."}, tool_use(), tool_result()]),
         "messages[1].content[2]", "tool_result blocks are only allowed in user messages")
a_reject("tool_result_in_system_message", "§11.2/§11.4", "a `tool_result` block in a system message",
         with_fields(A_BASE, messages=[{"role": "user", "content": "Hello"},
                                       {"role": "system", "content": [tool_result()]},
                                       {"role": "user", "content": "Go on."}]),
         "messages[1].content[0]", "tool_result blocks are only allowed in user messages")

# ---------------------------------------------------------------- blocks (§11.5)
a_reject("block_not_object", "§11.5", "a content element must be a block object",
         user_blocks("Hello"), "messages[0].content[0]", "expected an object")
a_reject("block_null", "§11.1/§11.5", "a null content element is a value of the wrong type",
         user_blocks(TEXT, None), "messages[0].content[1]", "expected an object")
a_reject("block_type_missing", "§11.5", "a block's `type` is required",
         user_blocks({"text": "Hello"}), "messages[0].content[0].type", "field required")
a_reject("block_type_number", "§11.5", "a block's `type` must be a string",
         user_blocks({"type": 3, "text": "Hello"}), "messages[0].content[0].type",
         "expected a string")
a_reject("text_block_text_number", "§11.5", "a text block's `text` not a string",
         user_blocks({"type": "text", "text": 123}), "messages[0].content[0].text",
         "expected a string")
a_reject("text_block_text_missing", "§11.5", "a text block without `text`",
         user_blocks(TEXT, {"type": "text"}), "messages[0].content[1].text", "field required")
a_reject("text_block_citations_object", "§11.5", "a text block's `citations` not an array",
         user_blocks({"type": "text", "text": "Hi", "citations": {}}),
         "messages[0].content[0].citations", "expected an array")
a_reject("image_source_missing", "§11.5", "an image block without `source`",
         user_blocks(TEXT, {"type": "image"}), "messages[0].content[1].source", "field required")
a_reject("image_source_data_number", "§11.5", "a base64 image source whose `data` is not a string",
         user_blocks(TEXT, {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                        "data": 1234}}),
         "messages[0].content[1].source.data", "expected a string")
a_reject("image_source_media_type_missing", "§11.5", "a base64 image source without `media_type`",
         user_blocks(TEXT, {"type": "image", "source": {"type": "base64", "data": "iVBORw0KGgo="}}),
         "messages[0].content[1].source.media_type", "field required")
a_reject("image_source_type_missing", "§11.5", "an image source without `type`",
         user_blocks(TEXT, {"type": "image", "source": {"media_type": "image/png",
                                                        "data": "iVBORw0KGgo="}}),
         "messages[0].content[1].source.type", "field required")
a_reject("image_source_type_number", "§11.5", "an image source `type` not a string",
         user_blocks(TEXT, {"type": "image", "source": {"type": 64, "media_type": "image/png",
                                                        "data": "iVBORw0KGgo="}}),
         "messages[0].content[1].source.type", "expected a string")
a_reject("image_source_url_missing", "§11.5", "a `url` image source without `url`",
         user_blocks(TEXT, {"type": "image", "source": {"type": "url"}}),
         "messages[0].content[1].source.url", "field required")
a_reject("document_text_source_data_missing", "§11.5", "a `text` document source without `data`",
         user_blocks(TEXT, {"type": "document", "source": {"type": "text",
                                                           "media_type": "text/plain"}}),
         "messages[0].content[1].source.data", "field required")
a_reject("document_content_source_number", "§11.5",
         "a `content` document source whose `content` is neither a string nor an array",
         user_blocks(TEXT, {"type": "document", "source": {"type": "content", "content": 5}}),
         "messages[0].content[1].source.content", "expected a string or an array")
a_reject("document_title_number", "§11.5", "a document's `title` not a string",
         user_blocks(TEXT, {"type": "document", "title": 9,
                            "source": {"type": "text", "media_type": "text/plain",
                                       "data": "Notes"}}),
         "messages[0].content[1].title", "expected a string")
a_reject("search_result_title_missing", "§11.5", "a search_result without `title`",
         user_blocks({"type": "search_result", "source": "https://example.com/a",
                      "content": [{"type": "text", "text": "Result"}]}),
         "messages[0].content[0].title", "field required")
a_reject("search_result_content_not_text", "§11.5",
         "a search_result `content` element of a type other than `text`",
         user_blocks({"type": "search_result", "source": "https://example.com/a", "title": "A",
                      "content": [{"type": "text", "text": "Result"}, PNG]}),
         "messages[0].content[0].content[1].type", 'must be "text"')
a_reject("container_upload_file_id_missing", "§11.5", "a container_upload without `file_id`",
         user_blocks(TEXT, {"type": "container_upload"}), "messages[0].content[1].file_id",
         "field required")

# tool_use / tool_result / thinking
a_reject("tool_use_input_string", "§11.5", "a tool_use `input` that is a string",
         weather(assistant=[{"type": "text", "text": "Let me check."},
                            tool_use(input="{\"city\":\"Paris\"}")]),
         "messages[1].content[1].input", "expected an object")
a_reject("tool_use_input_array", "§11.5", "a tool_use `input` that is an array",
         weather(assistant=[tool_use(input=["Paris"])]), "messages[1].content[0].input",
         "expected an object")
a_reject("tool_use_input_missing", "§11.5", "a tool_use without `input`",
         weather(assistant=[tool_use(input=DROP)]), "messages[1].content[0].input",
         "field required")
a_reject("tool_use_id_missing", "§11.5", "a tool_use without `id`",
         weather(assistant=[{"type": "text", "text": "Let me check."}, tool_use(id=DROP)]),
         "messages[1].content[1].id", "field required")
a_reject("tool_use_id_empty", "§11.5", "a tool_use `id` that is empty",
         weather(assistant=[tool_use(id="")]), "messages[1].content[0].id", "must not be empty")
a_reject("tool_use_name_empty", "§11.5", "a tool_use `name` that is empty",
         weather(assistant=[tool_use(name="")]), "messages[1].content[0].name",
         "must not be empty")
a_reject("server_tool_use_input_missing", "§11.5", "a server_tool_use without `input`",
         with_fields(A_BASE, tools=[WEB_SEARCH], messages=[
             {"role": "user", "content": "Search for Rust news."},
             {"role": "assistant", "content": [{"type": "server_tool_use", "id": "srvtoolu_01",
                                                "name": "web_search"}]}]),
         "messages[1].content[0].input", "field required")
a_reject("tool_result_tool_use_id_missing", "§11.5", "a tool_result without `tool_use_id`",
         weather(result=[tool_result(tool_use_id=DROP)]), "messages[2].content[0].tool_use_id",
         "field required")
a_reject("tool_result_tool_use_id_empty", "§11.5", "a tool_result `tool_use_id` that is empty",
         weather(result=[tool_result(tool_use_id="")]), "messages[2].content[0].tool_use_id",
         "must not be empty")
a_reject("tool_result_is_error_string", "§11.5", "a tool_result `is_error` that is not a boolean",
         weather(result=[tool_result(is_error="false")]), "messages[2].content[0].is_error",
         "expected a boolean")
a_reject("tool_result_content_number", "§11.5",
         "a tool_result `content` neither a string nor an array",
         weather(result=[tool_result(content=18)]), "messages[2].content[0].content",
         "expected a string or an array")
a_reject("tool_result_nested_text_null", "§11.5",
         "a text block nested in a tool_result's `content` is shape-checked (null `text` is missing)",
         weather(result=[tool_result(content=[{"type": "text", "text": "18 C"},
                                              {"type": "text", "text": None}])]),
         "messages[2].content[0].content[1].text", "field required")
a_reject("tool_reference_tool_name_number", "§11.5",
         "a tool_reference nested in a tool_result whose `tool_name` is not a string",
         weather(result=[tool_result(content=[{"type": "tool_reference", "tool_name": 1}])]),
         "messages[2].content[0].content[0].tool_name", "expected a string")
a_reject("thinking_block_signature_number", "§11.5", "a thinking block `signature` not a string",
         weather(assistant=[{"type": "thinking", "thinking": "Need the weather tool.",
                             "signature": 12345}, tool_use()]),
         "messages[1].content[0].signature", "expected a string")
a_reject("thinking_block_signature_missing", "§11.5", "a thinking block without `signature`",
         weather(assistant=[{"type": "thinking", "thinking": "Need the weather tool."},
                            tool_use()]),
         "messages[1].content[0].signature", "field required")
a_reject("redacted_thinking_data_number", "§11.5", "a redacted_thinking `data` not a string",
         weather(assistant=[{"type": "redacted_thinking", "data": 0}, tool_use()]),
         "messages[1].content[0].data", "expected a string")
a_reject("web_search_tool_result_content_string", "§11.5",
         "a web_search_tool_result `content` neither an array nor an object",
         with_fields(A_BASE, tools=[WEB_SEARCH], messages=[
             {"role": "user", "content": "Search for Rust news."},
             {"role": "assistant", "content": [
                 {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search",
                  "input": {"query": "rust news"}},
                 {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01",
                  "content": "no results"}]}]),
         "messages[1].content[1].content", "expected an array or an object")

# cache_control on blocks (§11.7)
a_reject("block_cache_control_string", "§11.5/§11.7", "a block's `cache_control` not an object",
         user_blocks({"type": "text", "text": "Hello", "cache_control": "ephemeral"}),
         "messages[0].content[0].cache_control", "expected an object")
a_reject("block_cache_control_type_unknown", "§11.7", "`cache_control.type` other than `ephemeral`",
         user_blocks({"type": "text", "text": "Hello", "cache_control": {"type": "persistent"}}),
         "messages[0].content[0].cache_control.type", 'must be "ephemeral"')
a_reject("block_cache_control_type_missing", "§11.7", "`cache_control` without `type`",
         user_blocks({"type": "text", "text": "Hello", "cache_control": {"ttl": "1h"}}),
         "messages[0].content[0].cache_control.type", "field required")
a_reject("block_cache_control_ttl_number", "§11.7", "`cache_control.ttl` not a string",
         user_blocks({"type": "text", "text": "Hello",
                      "cache_control": {"type": "ephemeral", "ttl": 3600}}),
         "messages[0].content[0].cache_control.ttl", "expected a string")
a_reject("unknown_block_cache_control_checked", "§11.1/§11.5",
         "a block of an unknown type still has its `cache_control` checked",
         user_blocks(TEXT, {"type": "future_block", "payload": 1,
                            "cache_control": {"type": "forever"}}),
         "messages[0].content[1].cache_control.type", 'must be "ephemeral"')
a_reject("tool_result_cache_control_type", "§11.5/§11.7",
         "a tool_result's `cache_control.type` other than `ephemeral`",
         weather(result=[tool_result(cache_control={"type": "5m"})]),
         "messages[2].content[0].cache_control.type", 'must be "ephemeral"')

# ---------------------------------------------------------------- accepted (§11.1, §11.4, §11.8)
a_accept("minimal", "§11.3", "the smallest valid body", A_BASE)
a_accept("max_tokens_zero", "§11.3/§11.8", "`max_tokens` at its minimum 0 (cache pre-warm)",
         with_fields(A_BASE, max_tokens=0))
a_accept("claude_code_unknown_top_level", "§11.1",
         "unknown top-level fields Claude Code sends (`diagnostics`, `fallbacks`, `fallback_credit_token`, "
         "a null `output_format`, a made-up field) and `context_management` edits are tolerated",
         with_fields(A_BASE,
                     context_management={"edits": [{"type": "clear_thinking_20251015",
                                                    "keep": "all"}]},
                     diagnostics={"cache_diagnosis": True},
                     fallbacks=[{"model": "claude-opus-4-8"}],
                     fallback_credit_token="fct_0123",
                     output_format=None,
                     x_future_field={"anything": [1, "two", None]}))
a_accept("cache_control_scope_and_ttl", "§11.1/§11.7",
         "`cache_control` with `ttl` and the unknown key `scope` on a system block and a message block",
         with_fields(A_BASE,
                     system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328;"},
                             {"type": "text", "text": "You are Claude Code.",
                              "cache_control": {"type": "ephemeral", "ttl": "1h",
                                                "scope": "global"}}],
                     messages=[{"role": "user", "content": [
                         {"type": "text", "text": "Hello",
                          "cache_control": {"type": "ephemeral", "scope": "session"}}]}]))
a_accept("unknown_block_field", "§11.1", "a text block and a tool_use block with fields unknown to the API",
         weather(assistant=[{"type": "text", "text": "Let me check.", "client_annotation": {"a": 1}},
                            tool_use(caller={"type": "direct"})]))
a_accept("unknown_block_type", "§11.1/§11.4",
         "a block whose `type` is an unknown string (only `type` is checked) next to a text block",
         user_blocks(TEXT, {"type": "future_block", "payload": 17, "text": 5}))
a_accept("unknown_message_field", "§11.4", "other fields of a message are accepted",
         with_fields(A_BASE, messages=[{"role": "user", "content": "Hello", "id": "msg_local_1",
                                        "timestamp": 1786170000}]))
a_accept("system_messages_and_per_message_effort", "§11.4",
         "`role:\"system\"` messages, one with the per-message effort shape `\"content\":[]`",
         with_fields(A_BASE, messages=[
             {"role": "system", "content": "Be terse."},
             {"role": "user", "content": "Hello"},
             {"role": "assistant", "content": "Hi."},
             {"role": "system", "content": [], "output_config": {"effort": "low"}},
             {"role": "user", "content": "Summarise the repo."}]))
a_accept("system_message_tool_changes", "§11.1/§11.4",
         "a system message with `tool_addition` / `tool_removal` blocks (unknown types here)",
         with_fields(A_BASE, tools=[WEATHER_TOOL, {"name": "Grep", "input_schema": {"type": "object"},
                                                   "defer_loading": True}],
                     messages=[
                         {"role": "user", "content": "Hello"},
                         {"role": "assistant", "content": "Hi."},
                         {"role": "system", "content": [
                             {"type": "text", "text": "Tools changed."},
                             {"type": "tool_removal", "tool": {"type": "tool_reference",
                                                               "name": "Read"}},
                             {"type": "tool_addition", "tool": {"type": "tool_reference",
                                                                "name": "Grep"},
                              "cache_control": {"type": "ephemeral"}}]},
                         {"role": "user", "content": "Find TODOs."}]))
a_accept("empty_final_assistant_string", "§11.4", "the last message is an assistant turn with `\"\"`",
         with_fields(A_BASE, messages=[{"role": "user", "content": "Hello"},
                                       {"role": "assistant", "content": ""}]))
a_accept("empty_final_assistant_array", "§11.4", "the last message is an assistant turn with `[]`",
         with_fields(A_BASE, messages=[{"role": "user", "content": "Hello"},
                                       {"role": "assistant", "content": []}]))
a_accept("empty_text_block", "§11.8", "an empty text block is accepted",
         user_blocks({"type": "text", "text": ""}, {"type": "text", "text": "Hello"}))
a_accept("nulls_are_absent", "§11.1", "optional fields whose value is null are treated as absent",
         with_fields(A_BASE, system=None, temperature=None, top_p=None, top_k=None,
                     stop_sequences=None, stream=None, metadata={"user_id": None},
                     thinking=None, tools=None, tool_choice=None, output_config=None))
a_accept("boundaries", "§11.3", "every bounded number at its bound",
         with_fields(A_BASE, max_tokens=4096, temperature=1, top_p=0, top_k=0,
                     thinking={"type": "enabled", "budget_tokens": 1024},
                     stop_sequences=["\n\nHuman:"]))
a_accept("boundaries_low", "§11.3", "temperature 0 and top_p 1 (a number may be an integer)",
         with_fields(A_BASE, temperature=0, top_p=1.0, top_k=40))
a_accept("budget_exceeds_max_tokens", "§11.8",
         "`thinking.budget_tokens` is not compared with `max_tokens`",
         with_fields(A_BASE, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 16000}))
a_accept("cross_field_not_checked", "§11.8",
         "`tool_choice` `any` and sampling fields with thinking enabled are not checked against it",
         with_fields(A_BASE, max_tokens=8192, temperature=0.3, top_k=5,
                     thinking={"type": "enabled", "budget_tokens": 2048},
                     tools=[WEATHER_TOOL], tool_choice={"type": "any",
                                                         "disable_parallel_tool_use": True}))
a_accept("growing_values_strings_only", "§11.8",
         "values that keep growing are checked as strings only: effort, thinking.display, "
         "media_type, ttl, service_tier, speed",
         with_fields(A_BASE,
                     thinking={"type": "adaptive", "display": "updates"},
                     output_config={"effort": "ultra",
                                    "format": {"type": "json_schema",
                                               "schema": {"type": "object", "properties": {},
                                                          "additionalProperties": False}},
                                    "task_budget": {"type": "tokens", "total": 50000}},
                     service_tier="galactic", speed="fast", inference_geo="eu",
                     messages=[{"role": "user", "content": [
                         {"type": "text", "text": "What is in this picture?",
                          "cache_control": {"type": "ephemeral", "ttl": "2h"}},
                         {"type": "image", "source": {"type": "base64", "media_type": "image/heic",
                                                      "data": "AAAA"}}]}]))
a_accept("thinking_in_user_turn", "§11.4",
         "a known block in an unusual role (thinking in a user turn) is accepted",
         user_blocks({"type": "thinking", "thinking": "", "signature": "sig=="},
                     {"type": "text", "text": "Continue."}))
a_accept("image_source_unknown_type", "§11.5", "an image source of an unknown type is accepted",
         user_blocks(TEXT, {"type": "image", "source": {"type": "s3", "bucket": "b", "key": "k"}}))
a_accept("tools_claude_code_shapes", "§11.6",
         "client tools with `strict`, `defer_loading`, `eager_input_streaming`, `input_examples`, "
         "`allowed_callers`, `cache_control`; a full web_search tool; a tool of another type",
         with_fields(A_BASE, tools=[
             dict(WEATHER_TOOL, strict=True, defer_loading=False, eager_input_streaming=True,
                  input_examples=[{"city": "Paris"}], allowed_callers=["direct"],
                  cache_control={"type": "ephemeral", "ttl": "1h"}),
             {"type": "custom", "name": "mcp__notes__save", "input_schema": {"type": "object"},
              "defer_loading": True},
             {"type": "web_search_20250305", "name": "web_search", "max_uses": 1,
              "allowed_domains": ["example.com"], "blocked_domains": [],
              "user_location": {"type": "approximate", "city": "Paris", "region": "IDF",
                                "country": "FR", "timezone": "Europe/Paris"}},
             {"type": "bash_20250124", "name": "bash"},
             {"type": "tool_search_tool_regex_20251119", "name": "tool_search"}]))
a_accept("names_not_pattern_checked", "§11.8",
         "tool names and ids are not matched against ^[a-zA-Z0-9_-]{1,128}$",
         with_fields(weather(assistant=[tool_use(id="call:1/é" + "x" * 200,
                                                 name="mcp__my server/get.weather")],
                             result=[tool_result(tool_use_id="call:1/é" + "x" * 200)]),
                     tools=[dict(WEATHER_TOOL, name="mcp__my server/get.weather")]))
a_accept("tool_result_tool_reference_children", "§11.5",
         "a tool-search tool_result holding only tool_reference blocks (claude-code.md §9.4)",
         weather(result=[tool_result(content=[{"type": "tool_reference", "tool_name": "WebFetch"}]),
                         {"type": "text", "text": "Now fetch it."}]))
a_accept("tool_round_trip_full", "§11.5",
         "thinking, redacted_thinking, tool_use and a tool_result with is_error and block content",
         weather(assistant=[{"type": "thinking", "thinking": "", "signature": ""},
                            {"type": "redacted_thinking", "data": "EmwKAhgB"},
                            tool_use()],
                 result=[tool_result(is_error=True,
                                     content=[{"type": "text", "text": "timeout"}, PNG])]))
a_accept("role_order_not_checked", "§11.8",
         "role alternation and the first role are not checked",
         with_fields(A_BASE, messages=[{"role": "assistant", "content": "Earlier answer."},
                                       {"role": "user", "content": "One."},
                                       {"role": "user", "content": "Two."}]))
a_accept("unpaired_tool_result", "§11.8", "tool_use / tool_result pairing is not checked",
         weather(assistant=[{"type": "text", "text": "Checking."}, tool_use(id="toolu_A")],
                 result=[tool_result(tool_use_id="toolu_B"), {"type": "text", "text": "Go on."}]))
a_accept("documents_and_search_results", "§11.5",
         "documents of every source kind, a search_result and a container_upload",
         user_blocks(TEXT,
                     {"type": "document", "title": "Spec", "context": "ctx", "citations": {"enabled": True},
                      "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
                     {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
                     {"type": "document", "source": {"type": "text", "data": "plain"}},
                     {"type": "document", "source": {"type": "content",
                                                     "content": [{"type": "text", "text": "c"}]}},
                     {"type": "document", "source": {"type": "file", "file_id": "file_01"}},
                     {"type": "search_result", "source": "https://example.com/r", "title": "R",
                      "content": [{"type": "text", "text": "snippet"}], "citations": {"enabled": False}},
                     {"type": "container_upload", "file_id": "file_02"}))


# ============================================================================================
# OpenAI Chat Completions (/v1/chat/completions): §11.10, §11.11
# ============================================================================================

O_BASE = {"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]}
FN_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                            "parameters": {"type": "object",
                                                           "properties": {"city": {"type": "string"}}}}}


def o_tool_turns(call=None, tool_msg=None):
    call = call if call is not None else {"id": "call_1", "type": "function",
                                          "function": {"name": "get_weather",
                                                       "arguments": "{\"city\":\"Paris\"}"}}
    tool_msg = tool_msg if tool_msg is not None else {"role": "tool", "tool_call_id": "call_1",
                                                      "content": "18 C"}
    return {"model": MODEL, "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        tool_msg], "tools": [FN_TOOL]}


def o_reject(name, section, what, request, path):
    add(name, "openai", "%s %s -> 400, param `%s`" % (section, what, path or "null"), request, path)


def o_accept(name, section, what, request):
    add(name, "openai", "%s %s -> accepted" % (section, what), request)


o_reject("body_not_object", "§11.10", "the body is an array; the path is empty (`param` null)",
         [O_BASE], "")
o_reject("model_missing", "§11.11", "`model` is required",
         {"messages": O_BASE["messages"]}, "model")
o_reject("model_empty", "§11.11", "`model` must not be empty (empty string)",
         with_fields(O_BASE, model=""), "model")
o_reject("messages_missing", "§11.11", "`messages` is required", {"model": MODEL}, "messages")
o_reject("messages_empty", "§11.11", "`messages` must hold at least 1 message (empty array)",
         with_fields(O_BASE, messages=[]), "messages")
o_reject("message_not_object", "§11.11", "a message must be an object",
         with_fields(O_BASE, messages=["Hello"]), "messages[0]")
o_reject("role_missing", "§11.11", "`role` (discriminator) is required",
         with_fields(O_BASE, messages=[{"content": "Hello"}]), "messages[0].role")
o_reject("role_unknown", "§11.11", "`role` not among system, developer, user, assistant, tool",
         with_fields(O_BASE, messages=[{"role": "bot", "content": "Hello"}]), "messages[0].role")
o_reject("role_function", "§11.11", "the deprecated `function` role is not supported",
         with_fields(O_BASE, messages=[{"role": "user", "content": "Hello"},
                                       {"role": "function", "name": "f", "content": "{}"}]),
         "messages[1].role")
o_reject("content_number", "§11.11", "`content` neither a string nor an array of parts",
         with_fields(O_BASE, messages=[{"role": "user", "content": 42}]), "messages[0].content")
o_reject("user_content_missing", "§11.11", "user `content` is required",
         with_fields(O_BASE, messages=[{"role": "user", "name": "ann"}]), "messages[0].content")
o_reject("user_content_empty_array", "§11.11", "user `content` must be a non-empty array",
         with_fields(O_BASE, messages=[{"role": "user", "content": []}]), "messages[0].content")
o_reject("assistant_without_content_or_tool_calls", "§11.11",
         "assistant `content` is required when `tool_calls` is absent",
         with_fields(O_BASE, messages=[{"role": "user", "content": "Hello"},
                                       {"role": "assistant", "refusal": None}]),
         "messages[1].content")
o_reject("tool_message_without_tool_call_id", "§11.11", "a tool message requires `tool_call_id`",
         o_tool_turns(tool_msg={"role": "tool", "content": "18 C"}), "messages[2].tool_call_id")
o_reject("tool_message_tool_call_id_number", "§11.11", "`tool_call_id` not a string",
         o_tool_turns(tool_msg={"role": "tool", "tool_call_id": 1, "content": "18 C"}),
         "messages[2].tool_call_id")
o_reject("tool_message_content_image_part", "§11.11",
         "tool content parts must be `text` (`image_url` is a named type, not unknown)",
         o_tool_turns(tool_msg={"role": "tool", "tool_call_id": "call_1", "content": [
             {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}),
         "messages[2].content[0].type")
o_reject("system_content_image_part", "§11.11",
         "system content parts must be `text` (`image_url` is a named type, not unknown)",
         with_fields(O_BASE, messages=[
             {"role": "system", "content": [{"type": "text", "text": "Be terse."},
                                            {"type": "image_url",
                                             "image_url": {"url": "https://example.com/a.png"}}]},
             {"role": "user", "content": "Hello"}]),
         "messages[0].content[1].type")
o_reject("assistant_tool_calls_empty", "§11.11", "`tool_calls` must be a non-empty array",
         with_fields(O_BASE, messages=[{"role": "user", "content": "Hello"},
                                       {"role": "assistant", "content": "Hi", "tool_calls": []}]),
         "messages[1].tool_calls")
o_reject("tool_call_arguments_missing", "§11.11", "a tool call's `function.arguments` is required",
         o_tool_turns(call={"id": "call_1", "type": "function",
                            "function": {"name": "get_weather"}}),
         "messages[1].tool_calls[0].function.arguments")
o_reject("tool_call_arguments_object", "§11.11", "a tool call's `function.arguments` must be a string",
         o_tool_turns(call={"id": "call_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}),
         "messages[1].tool_calls[0].function.arguments")
o_reject("tool_call_id_missing", "§11.11", "a tool call's `id` is required",
         o_tool_turns(call={"type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"}}),
         "messages[1].tool_calls[0].id")
o_reject("user_part_type_missing", "§11.11", "a content part's `type` is required",
         with_fields(O_BASE, messages=[{"role": "user", "content": [{"text": "Hello"}]}]),
         "messages[0].content[0].type")
o_reject("user_part_text_number", "§11.11", "a `text` part's `text` not a string",
         with_fields(O_BASE, messages=[{"role": "user", "content": [{"type": "text", "text": 5}]}]),
         "messages[0].content[0].text")
o_reject("user_part_image_url_missing_url", "§11.11", "an `image_url` part requires `image_url.url`",
         with_fields(O_BASE, messages=[{"role": "user", "content": [
             {"type": "text", "text": "What is this?"},
             {"type": "image_url", "image_url": {"detail": "high"}}]}]),
         "messages[0].content[1].image_url.url")
o_reject("user_part_input_audio_format_missing", "§11.11",
         "an `input_audio` part requires `input_audio.format`",
         with_fields(O_BASE, messages=[{"role": "user", "content": [
             {"type": "input_audio", "input_audio": {"data": "UklGRg=="}}]}]),
         "messages[0].content[0].input_audio.format")
o_reject("temperature_above_2", "§11.11", "`temperature` above 2",
         with_fields(O_BASE, temperature=2.5), "temperature")
o_reject("temperature_negative", "§11.11", "`temperature` below 0",
         with_fields(O_BASE, temperature=-1), "temperature")
o_reject("top_p_above_1", "§11.11", "`top_p` above 1", with_fields(O_BASE, top_p=1.5), "top_p")
o_reject("presence_penalty_above_2", "§11.11", "`presence_penalty` above 2",
         with_fields(O_BASE, presence_penalty=2.5), "presence_penalty")
o_reject("frequency_penalty_below_minus_2", "§11.11", "`frequency_penalty` below -2",
         with_fields(O_BASE, frequency_penalty=-3), "frequency_penalty")
o_reject("n_two", "§11.11", "`n` greater than 1 (one choice only)", with_fields(O_BASE, n=2), "n")
o_reject("n_zero", "§11.11", "`n` below 1", with_fields(O_BASE, n=0), "n")
o_reject("max_tokens_zero", "§11.11", "`max_tokens` below 1", with_fields(O_BASE, max_tokens=0),
         "max_tokens")
o_reject("max_tokens_string", "§11.11", "`max_tokens` as a string",
         with_fields(O_BASE, max_tokens="100"), "max_tokens")
o_reject("max_tokens_float", "§11.1/§11.11", "`max_tokens` with a fraction",
         with_fields(O_BASE, max_tokens=10.5), "max_tokens")
o_reject("max_completion_tokens_zero", "§11.11", "`max_completion_tokens` below 1",
         with_fields(O_BASE, max_completion_tokens=0), "max_completion_tokens")
o_reject("stream_string", "§11.11", "`stream` as a string", with_fields(O_BASE, stream="true"),
         "stream")
o_reject("stream_options_include_usage_string", "§11.11", "`stream_options.include_usage` not a boolean",
         with_fields(O_BASE, stream=True, stream_options={"include_usage": "yes"}),
         "stream_options.include_usage")
o_reject("stop_too_many", "§11.11", "`stop` with 5 entries (at most 4)",
         with_fields(O_BASE, stop=["a", "b", "c", "d", "e"]), "stop")
o_reject("stop_number", "§11.11", "`stop` neither a string nor an array of strings",
         with_fields(O_BASE, stop=5), "stop")
o_reject("stop_element_number", "§11.11", "`stop` array holding a number",
         with_fields(O_BASE, stop=["END", 5]), "stop[1]")
o_reject("top_logprobs_above_20", "§11.11", "`top_logprobs` above 20",
         with_fields(O_BASE, logprobs=True, top_logprobs=21), "top_logprobs")
o_reject("seed_float", "§11.11", "`seed` not an integer", with_fields(O_BASE, seed=1.5), "seed")
o_reject("parallel_tool_calls_string", "§11.11", "`parallel_tool_calls` not a boolean",
         with_fields(O_BASE, tools=[FN_TOOL], parallel_tool_calls="yes"), "parallel_tool_calls")
o_reject("tools_object", "§11.11", "`tools` not an array", with_fields(O_BASE, tools=FN_TOOL),
         "tools")
o_reject("tool_type_missing", "§11.11", "a tool's `type` (discriminator) is required",
         with_fields(O_BASE, tools=[{"function": FN_TOOL["function"]}]), "tools[0].type")
o_reject("tool_function_missing", "§11.11", "a `function` tool requires `function`",
         with_fields(O_BASE, tools=[{"type": "function", "name": "get_weather"}]),
         "tools[0].function")
o_reject("tool_function_name_missing", "§11.11", "a tool's `function.name` is required",
         with_fields(O_BASE, tools=[FN_TOOL, {"type": "function",
                                              "function": {"parameters": {"type": "object"}}}]),
         "tools[1].function.name")
o_reject("tool_function_name_empty", "§11.11", "a tool's `function.name` must not be empty",
         with_fields(O_BASE, tools=[{"type": "function", "function": {"name": ""}}]),
         "tools[0].function.name")
o_reject("tool_function_parameters_string", "§11.11", "a tool's `function.parameters` not an object",
         with_fields(O_BASE, tools=[{"type": "function",
                                     "function": {"name": "f", "parameters": "{}"}}]),
         "tools[0].function.parameters")
o_reject("tool_choice_function_without_name", "§11.11",
         "a `tool_choice` object requires `function.name`",
         with_fields(O_BASE, tools=[FN_TOOL], tool_choice={"type": "function", "function": {}}),
         "tool_choice.function.name")
o_reject("tool_choice_object_without_function", "§11.11", "a `tool_choice` object requires `function`",
         with_fields(O_BASE, tools=[FN_TOOL], tool_choice={"type": "function"}),
         "tool_choice.function")
o_reject("tool_choice_string_unknown", "§11.11", "a `tool_choice` string other than none/auto/required",
         with_fields(O_BASE, tools=[FN_TOOL], tool_choice="any"), "tool_choice")
o_reject("tool_choice_number", "§11.11", "`tool_choice` neither a string nor an object",
         with_fields(O_BASE, tools=[FN_TOOL], tool_choice=1), "tool_choice")
o_reject("tool_choice_allowed_tools", "§11.11", "a `tool_choice` object of type `allowed_tools` is rejected",
         with_fields(O_BASE, tools=[FN_TOOL],
                     tool_choice={"type": "allowed_tools",
                                  "allowed_tools": {"mode": "auto", "tools": []}}),
         "tool_choice.type")
o_reject("response_format_string", "§11.11", "`response_format` not an object",
         with_fields(O_BASE, response_format="json"), "response_format")
o_reject("response_format_type_unknown", "§11.11", "`response_format.type` not text/json_object/json_schema",
         with_fields(O_BASE, response_format={"type": "xml"}), "response_format.type")
o_reject("response_format_json_schema_missing", "§11.11",
         "`response_format` `json_schema` requires `json_schema`",
         with_fields(O_BASE, response_format={"type": "json_schema"}), "response_format.json_schema")
o_reject("response_format_json_schema_name_missing", "§11.11", "`json_schema.name` is required",
         with_fields(O_BASE, response_format={"type": "json_schema",
                                              "json_schema": {"schema": {"type": "object"}}}),
         "response_format.json_schema.name")
o_reject("logit_bias_above_100", "§11.11", "a `logit_bias` value above 100",
         with_fields(O_BASE, logit_bias={"50256": 150}), "logit_bias.50256")
o_reject("metadata_value_number", "§11.11", "a `metadata` value not a string",
         with_fields(O_BASE, metadata={"team": 7}), "metadata.team")
o_reject("modalities_element_number", "§11.11", "`modalities` holding a number",
         with_fields(O_BASE, modalities=["text", 1]), "modalities[1]")
o_reject("user_number", "§11.11", "`user` not a string", with_fields(O_BASE, user=12), "user")

o_accept("minimal", "§11.11", "the smallest valid body", O_BASE)
o_accept("tool_round_trip", "§11.1/§11.11",
         "assistant `content: null` with `tool_calls` (null is absent; content not required), "
         "a tool message, tool_choice `required`",
         with_fields(o_tool_turns(), tool_choice="required", parallel_tool_calls=True))
o_accept("unknown_fields_and_values", "§11.1/§11.11",
         "unknown top-level fields, an unknown `reasoning_effort`, `n` 1, an empty string content, "
         "the developer role and every optional field in range",
         with_fields(O_BASE,
                     messages=[{"role": "developer", "content": "Be terse.", "name": "dev"},
                               {"role": "system", "content": [{"type": "text", "text": "Rules."}]},
                               {"role": "user", "content": ""},
                               {"role": "assistant", "content": [{"type": "text", "text": "Hi"},
                                                                 {"type": "refusal",
                                                                  "refusal": "no"}],
                                "reasoning_content": "thought"},
                               {"role": "user", "content": "Hello", "x_client_tag": 1}],
                     reasoning_effort="ultra", verbosity="low", n=1, stream=True,
                     stream_options={"include_usage": True}, stop="END", seed=-7,
                     response_format={"type": "json_schema",
                                      "json_schema": {"name": "answer", "strict": True,
                                                      "schema": {"type": "object"}}},
                     metadata={"team": "a"}, user="u1", store=False, service_tier="auto",
                     prompt_cache_key="k", safety_identifier="s", modalities=["text"],
                     web_search_options={}, prediction={"type": "content", "content": "x"},
                     x_future_field={"any": ["thing", None]}))
o_accept("user_parts_any_type", "§11.11",
         "user content parts: text, image_url with detail, input_audio, file and an unknown type",
         with_fields(O_BASE, messages=[{"role": "user", "content": [
             {"type": "text", "text": "Look:"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=",
                                                 "detail": "low"}},
             {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
             {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
             {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}}]}]))
o_accept("tool_choice_object_and_other_tool_types", "§11.11",
         "a `function` tool_choice object with a name; a tool of another type (`custom`)",
         with_fields(O_BASE, tools=[FN_TOOL, {"type": "custom",
                                              "custom": {"name": "grammar_tool"}}],
                     tool_choice={"type": "function", "function": {"name": "get_weather"}}))
o_accept("nulls_are_absent", "§11.1", "optional fields whose value is null are treated as absent",
         with_fields(O_BASE, temperature=None, top_p=None, n=None, max_tokens=None, stop=None,
                     stream=None, tools=None, tool_choice=None, response_format=None))
o_accept("boundaries", "§11.11", "every bounded number at its bound",
         with_fields(O_BASE, temperature=2, top_p=0, presence_penalty=-2, frequency_penalty=2,
                     max_tokens=1, max_completion_tokens=1, logprobs=True, top_logprobs=20,
                     stop=["a", "b", "c", "d"], logit_bias={"1": -100, "2": 100}))
o_accept("stream_options_without_stream", "§11.11",
         "cross-field rules (`stream_options` only with `stream`) are not checked",
         with_fields(O_BASE, stream_options={"include_usage": True}))


# ============================================================================================
# Cases left out: §11 does not settle them (see the report that came with this script)
# ============================================================================================
SKIPPED = [
    "anthropic: thinking {type disabled|adaptive, budget_tokens bad}: is budget_tokens checked "
    "when type is not `enabled`? (§11.3 'with `enabled`, `budget_tokens` is required')",
    "anthropic: tool_use in a user message that is also malformed: placement vs shape order",
    "anthropic: tool_use/tool_result placement when the block sits in a `system` message's "
    "tool_result content or in the top-level `system` field (only 'shape-checked')",
    "openai: tool call `type` other than `function` ('`type` (discriminator) required and `function`')",
    "openai: an unknown part type in system/developer/tool/assistant content (§11.1 accepts "
    "unknown content part types, §11.11 says the type 'must be `text`')",
    "openai: assistant `content: []` alongside `tool_calls`",
    "both: empty `stop` / `stop_sequences` arrays on OpenAI; messages longer than 100000",
    "both: JSON numbers with an exponent (need request_raw)",
]


def main(argv):
    check = "--check" in argv
    names = {n for n, _ in CASES}
    bad = 0
    for fname, case in CASES:
        path = os.path.join(OUT_DIR, fname)
        text = render(case)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            if not same:
                bad += 1
                print("MISMATCH", fname)
        else:
            os.makedirs(OUT_DIR, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if os.path.isdir(OUT_DIR):
        for extra in sorted(set(os.listdir(OUT_DIR)) - names):
            if extra.startswith(("a_", "o_")) and extra.endswith(".json"):
                print("not generated by this script:", extra)
    stats = {}
    for fname, case in CASES:
        key = (case["dialect"], "accepted" if case["expected"]["ok"] else "rejected")
        stats[key] = stats.get(key, 0) + 1
    print("%d vectors %s%s" % (len(CASES), ", ".join("%s %s: %d" % (d, k, n) for (d, k), n
                                                     in sorted(stats.items())),
                               ("; %d differ" % bad) if check else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
