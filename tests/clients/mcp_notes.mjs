// A minimal MCP server over stdio (JSON-RPC, one message per line) with one tool, `save`,
// which appends its arguments as a JSON line to the file named by NOTES_FILE. The Claude Code
// CLI test configures it so that Claude Code has a deferred MCP tool to find with ToolSearch.
import { appendFileSync } from 'node:fs';
import readline from 'node:readline';

const send = (message) => process.stdout.write(JSON.stringify(message) + '\n');
const tool = {
  name: 'save',
  description: 'Saves a note with a title.',
  inputSchema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return; // a notification
  let result = {};
  if (m.method === 'initialize') {
    result = {
      protocolVersion: m.params.protocolVersion,
      capabilities: { tools: {} },
      serverInfo: { name: 'notes', version: '1.0.0' },
    };
  } else if (m.method === 'tools/list') {
    result = { tools: [tool] };
  } else if (m.method === 'tools/call') {
    appendFileSync(process.env.NOTES_FILE, JSON.stringify(m.params.arguments) + '\n');
    result = { content: [{ type: 'text', text: 'saved' }] };
  }
  send({ jsonrpc: '2.0', id: m.id, result });
});
