// Streams one request through the proxy with the official TypeScript SDK, then sends the same
// request non-streaming, and prints both final messages as JSON for the Rust test to compare.
// Usage: node sdk_roundtrip.mjs <base-url> <model> <scenario> [thinking]
import Anthropic from '@anthropic-ai/sdk';

const [base, model, scenario, thinking] = process.argv.slice(2);
const client = new Anthropic({ baseURL: base, apiKey: 'test-key', maxRetries: 0 });
const params = {
  model,
  max_tokens: 1024,
  messages: [{ role: 'user', content: `What is the weather? [[scenario:${scenario}]]` }],
  tools: [{
    name: 'get_weather',
    description: 'Weather for a place',
    input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  }],
};
if (thinking) params.thinking = { type: 'adaptive' };
// The server-side search tool, for the scenario that searches and cites.
if (scenario === 'web_search') {
  params.tools.push({ type: 'web_search_20250305', name: 'web_search', max_uses: 5 });
}

const events = [];
const stream = client.messages.stream(params);
stream.on('streamEvent', (e) => events.push(e.type));
const streamed = await stream.finalMessage();
const plain = await client.messages.create({ ...params, stream: false });
process.stdout.write(JSON.stringify({ streamed, plain, events }));
