"""Streams one request through the proxy with the official Python SDK, then sends the same
request non-streaming, and prints both final messages as JSON for the Rust test to compare.
Usage: python3 sdk_roundtrip.py <base-url> <model> <scenario> [thinking]"""
import json
import sys

import anthropic

base, model, scenario = sys.argv[1:4]
thinking = len(sys.argv) > 4
client = anthropic.Anthropic(base_url=base, api_key="test-key", max_retries=0)
params = dict(
    model=model,
    max_tokens=1024,
    messages=[{"role": "user", "content": f"What is the weather? [[scenario:{scenario}]]"}],
    tools=[{
        "name": "get_weather",
        "description": "Weather for a place",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                         "required": ["location"]},
    }],
)
if thinking:
    params["thinking"] = {"type": "adaptive"}
# The server-side search tool, for the scenario that searches and cites.
if scenario == "web_search":
    params["tools"].append({"type": "web_search_20250305", "name": "web_search", "max_uses": 5})

events = []
with client.messages.stream(**params) as stream:
    for event in stream:
        events.append(event.type)
    streamed = stream.get_final_message()
plain = client.messages.create(**params)
print(json.dumps({
    "streamed": streamed.model_dump(mode="json", exclude_none=True),
    "plain": plain.model_dump(mode="json", exclude_none=True),
    "events": events,
}))
