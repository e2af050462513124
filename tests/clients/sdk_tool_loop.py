"""A multi-turn tool task with the official Anthropic Python SDK (see sdk_tool_loop.mjs):
answers go back as returned, with the tool's result; odd turns stream. Prints each turn's
final message as JSON. Usage: python3 sdk_tool_loop.py <base-url> <turns> [model]"""
import json
import sys

import anthropic

base, turns_arg = sys.argv[1:3]
model = sys.argv[3] if len(sys.argv) > 3 else "claude-sonnet-4-5"
client = anthropic.Anthropic(base_url=base, api_key="test-key", max_retries=0)
tools = [{"name": "Read", "description": "Read a file",
          "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                           "required": ["file_path"]}}]
messages = [{"role": "user", "content": "Read the repository part by part. [[scenario:read_part]]"}]
turns = []
for k in range(int(turns_arg)):
    params = dict(
        model=model, max_tokens=2048, tools=tools, messages=messages,
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "user_0a1b_account__session_1c2d3e4f-2a8e-4c59-9d1e-5b7c1e0f4a22"},
    )
    if k % 2 == 0:
        with client.messages.stream(**params) as stream:
            msg = stream.get_final_message()
    else:
        msg = client.messages.create(**params)
    turns.append(msg.model_dump(mode="json", exclude_none=True))
    call = next(b for b in msg.content if b.type == "tool_use")
    messages.append({"role": "assistant", "content": [b.model_dump(mode="json", exclude_none=True) for b in msg.content]})
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": call.id, "content": f"part {k + 1}: fn main() {{}}"}]})
print(json.dumps({"turns": turns}))
