// A multi-turn tool task with the official Anthropic TypeScript SDK, as an agent runs one:
// each answer (thinking, text, tool call) goes back into the conversation as the SDK returned
// it, with the tool's result; odd turns stream, even turns do not. The session id in
// `metadata.user_id` is Claude Code's form, so the proxy can continue the conversation on the
// backend's WebSocket. Prints each turn's final message as JSON.
// Usage: node sdk_tool_loop.mjs <base-url> <turns> [model]
import Anthropic from '@anthropic-ai/sdk';

const [base, turnsArg, model = 'claude-sonnet-4-5'] = process.argv.slice(2);
const client = new Anthropic({ baseURL: base, apiKey: 'test-key', maxRetries: 0 });
const tools = [{
  name: 'Read', description: 'Read a file',
  input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] },
}];
const messages = [{ role: 'user', content: 'Read the repository part by part. [[scenario:read_part]]' }];
const turns = [];
for (let k = 0; k < Number(turnsArg); k++) {
  const params = {
    model, max_tokens: 2048, tools, messages,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    metadata: { user_id: 'user_0a1b_account__session_7d3f6a52-2a8e-4c59-9d1e-5b7c1e0f4a11' },
  };
  const msg = k % 2 === 0
    ? await client.messages.stream(params).finalMessage()
    : await client.messages.create(params);
  turns.push(msg);
  const call = msg.content.find((b) => b.type === 'tool_use');
  messages.push({ role: 'assistant', content: msg.content });
  messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: `part ${k + 1}: fn main() {}` }] });
}
console.log(JSON.stringify({ turns }));
