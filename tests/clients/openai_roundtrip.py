"""Streams one request through the proxy's /v1/chat/completions with the official OpenAI
Python SDK, accumulates the chunks, sends the same request non-streaming, and prints both as
JSON for the Rust test to compare.
Usage: python3 openai_roundtrip.py <base-url> <model> <scenario>"""
import json
import sys

import openai

base, model, scenario = sys.argv[1:4]
client = openai.OpenAI(base_url=base + "/v1", api_key="test-key", max_retries=0)
params = dict(
    model=model,
    messages=[
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": f"What is the weather? [[scenario:{scenario}]]"},
    ],
    tools=[{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a place",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}],
    max_completion_tokens=1024,
)

content, calls, finish, usage = "", {}, None, None
for chunk in client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **params):
    if chunk.usage is not None:
        usage = chunk.usage.model_dump(exclude_none=True)
    for choice in chunk.choices:
        d = choice.delta
        if d.content:
            content += d.content
        for tc in d.tool_calls or []:
            c = calls.setdefault(tc.index, {"name": "", "arguments": ""})
            if tc.function and tc.function.name:
                c["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                c["arguments"] += tc.function.arguments
        if choice.finish_reason:
            finish = choice.finish_reason

plain = client.chat.completions.create(**params)
m = plain.choices[0].message
print(json.dumps({
    "streamed": {"content": content or None, "finish_reason": finish, "usage": usage,
                 "tool_calls": [calls[i] for i in sorted(calls)]},
    "plain": {"content": m.content, "finish_reason": plain.choices[0].finish_reason,
              "usage": plain.usage.model_dump(exclude_none=True),
              "tool_calls": [{"name": t.function.name, "arguments": t.function.arguments}
                             for t in (m.tool_calls or [])]},
}))
