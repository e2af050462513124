// Drives the proxy the way OpenCode and OpenClaw do, with exactly the configs the proxy hands
// out at GET /api/clients (what the dashboard's Clients page and docs/CLIENTS.md show):
// - OpenCode: its `@ai-sdk/anthropic` provider built from the config's `options` (baseURL,
//   apiKey), the `high` thinking variant it derives from `reasoning: true` and the model's
//   output limit (budget min(16000, output/2 - 1), output capped at 32000), OpenCode's session
//   headers, then a second turn that replays the first answer (signed reasoning included).
// - OpenClaw: the Anthropic Messages API at the config's `baseUrl` (the client appends
//   /v1/messages), thinking on at its default `medium` level (8192) because the model says
//   `reasoning: true`, max_tokens within the model's `maxTokens`.
// Usage: node agents_roundtrip.mjs <base-url> <scenario>; prints a JSON report.
import { createAnthropic } from '@ai-sdk/anthropic';
import { streamText } from 'ai';
import Anthropic from '@anthropic-ai/sdk';

const [base, scenario] = process.argv.slice(2);
const clients = await (await fetch(base + '/api/clients')).json();

// OpenCode.
const oc = clients.opencode.config;
const [providerId, modelId] = oc.model.split('/');
const ocProvider = oc.provider[providerId];
const ocModel = ocProvider.models[modelId];
const anthropic = createAnthropic(ocProvider.options);
const output = Math.min(ocModel.limit.output, 32000);
const budget = Math.min(16000, Math.floor(ocModel.limit.output / 2 - 1));
const session = 'ses_0123456789abABCDEFGHIJKLMN';
const opencodeTurn = async (messages) => {
  const r = streamText({
    model: anthropic(modelId),
    messages,
    maxOutputTokens: output,
    headers: { 'x-session-affinity': session, 'X-Session-Id': session, 'User-Agent': 'opencode/1.17.0' },
    providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: budget } } },
    maxRetries: 0,
  });
  let text = '';
  let reasoning = '';
  for await (const part of r.fullStream) {
    if (part.type === 'text-delta') text += part.text;
    if (part.type === 'reasoning-delta') reasoning += part.text;
    if (part.type === 'error') throw part.error;
  }
  const response = await r.response;
  return { text, reasoning, finish: await r.finishReason, messages: response.messages };
};
const first = [{ role: 'user', content: `Think, then answer. [[scenario:${scenario}]]` }];
const t1 = await opencodeTurn(first);
const replayed = t1.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []))
  .filter((p) => p.type === 'reasoning')
  .map((p) => Boolean(p.providerOptions?.anthropic?.signature));
const t2 = await opencodeTurn([...first, ...t1.messages, { role: 'user', content: `Again. [[scenario:text]]` }]);

// OpenClaw.
const ow = clients.openclaw.config;
const [owProviderId, owModelId] = ow.agents.defaults.model.primary.split('/');
const owProvider = ow.models.providers[owProviderId];
const owModel = owProvider.models.find((m) => m.id === owModelId);
const claw = new Anthropic({ baseURL: owProvider.baseUrl, apiKey: owProvider.apiKey, maxRetries: 0 });
const medium = 8192;
const clawMsg = await claw.messages.stream({
  model: owModel.id,
  max_tokens: Math.min(medium + 4096, owModel.maxTokens),
  thinking: owModel.reasoning ? { type: 'enabled', budget_tokens: medium } : undefined,
  messages: [{ role: 'user', content: `Think, then answer. [[scenario:${scenario}]]` }],
}).finalMessage();

process.stdout.write(JSON.stringify({
  opencode: {
    baseURL: ocProvider.options.baseURL,
    first: { text: t1.text, reasoning: t1.reasoning, finish: t1.finish },
    signed_reasoning_replayed: replayed,
    second: { text: t2.text, finish: t2.finish },
  },
  openclaw: {
    baseUrl: owProvider.baseUrl,
    reasoning: owModel.reasoning,
    contextWindow: owModel.contextWindow,
    content: clawMsg.content.map((b) => b.type),
    text: clawMsg.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
    stop_reason: clawMsg.stop_reason,
  },
}));
