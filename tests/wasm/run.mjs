// Runs golden-vector jobs through the wasm-bindgen (wasm32-unknown-unknown) build of the core
// in Node: one JSON job per stdin line in, one result per stdout line out.
// Usage: node tests/wasm/run.mjs <path to the wasm-bindgen --target nodejs output .js>
import { createRequire } from 'node:module';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
const core = require(process.argv[2]);
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === '') continue;
  process.stdout.write(core.run_vector(line) + '\n');
}
