// Drives the dashboard's playground in headless Chromium: the core's wasm build converts a
// request and replays an SSE transcript in the page, with no request leaving the page for it.
// Usage: node playground_test.mjs <base-url>
import { launch, open } from './browser.mjs';

const [base] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, errors } = await open(browser, base + '/');
  await page.waitForFunction(() => !document.getElementById('pg-convert').disabled
    || document.getElementById('pg-status').textContent.includes('not built'));
  const status = await page.$eval('#pg-status', (p) => p.textContent);
  // From here on, every request the page makes is recorded: converting must make none.
  const requests = [];
  page.on('request', (r) => requests.push(r.method() + ' ' + r.url()));
  const request = await page.$eval('#pg-request', (t) => t.value);
  await page.click('#pg-convert');
  await page.waitForFunction(() => document.getElementById('pg-body').textContent !== '');
  const body = await page.$eval('#pg-body', (p) => p.textContent);
  const degradations = await page.$$eval('#pg-degradations li', (lis) => lis.map((l) => l.textContent));
  await page.fill('#pg-request', '{"model": "claude-sonnet-4-5", "messages": 5}');
  await page.click('#pg-convert');
  await page.waitForFunction(() => !document.getElementById('pg-body').textContent.startsWith('{'));
  const badBody = await page.$eval('#pg-body', (p) => p.textContent);
  const sse = await page.$eval('#pg-sse', (t) => t.value);
  await page.click('#pg-replay');
  await page.waitForFunction(() => document.getElementById('pg-events').textContent !== '');
  const events = await page.$eval('#pg-events', (p) => p.textContent);
  const message = await page.$eval('#pg-message', (p) => p.textContent);
  // The Chat Completions lane: its sample comes in when the lane is switched.
  await page.selectOption('#pg-lane', 'chat');
  const chatSse = await page.$eval('#pg-sse', (t) => t.value);
  await page.click('#pg-replay');
  await page.waitForFunction((before) => document.getElementById('pg-events').textContent !== before, events);
  const chatEvents = await page.$eval('#pg-events', (p) => p.textContent);
  const chatMessage = await page.$eval('#pg-message', (p) => p.textContent);
  process.stdout.write(JSON.stringify({ status, request, body, degradations, badBody, sse, events, message,
    chatSse, chatEvents, chatMessage, requests, errors }));
} finally {
  await browser.close();
}
