// Drives the dashboard in headless Chromium (Debian's, through playwright-core): the account
// list shows a re-login state, the strategy switch and the Claude Code button work.
// Usage: node ui_test.mjs <base-url> <screenshot.png>
import { launch, open } from './browser.mjs';

const [base, shot] = process.argv.slice(2);
const browser = await launch();
try {
  const { page, errors } = await open(browser, base + '/');
  await page.waitForSelector('#accounts tr[data-account]');
  const rows = await page.$$eval('#accounts tr[data-account]', (trs) => trs.map((t) => t.innerText));
  await page.selectOption('#strategy', 'round-robin');
  await page.waitForFunction(() => document.getElementById('strategy-state').textContent.includes('round-robin'));
  await page.click('#claude-proxy');
  await page.waitForFunction(() => document.getElementById('claude-state').textContent !== '');
  const claudeEnv = await page.$eval('#claude-env', (t) => t.innerText);
  const kilo = await page.$eval('#kilo', (u) => u.innerText);
  await page.waitForFunction(() => document.getElementById('haiku-state').textContent !== '');
  const haikuBefore = await page.$eval('#haiku-state', (s) => s.textContent);
  await page.fill('#haiku', 'gpt-5.4-mini');
  await page.click('#haiku-set');
  await page.waitForFunction(() => document.getElementById('haiku-state').textContent.includes('gpt-5.4-mini'));
  const haikuAfter = await page.$eval('#haiku-state', (s) => s.textContent);
  await page.click('#haiku-reset');
  await page.waitForFunction(() => !document.getElementById('haiku-state').textContent.includes('gpt-5.4-mini'));
  const error = await page.$eval('#error', (p) => p.textContent);
  await page.waitForFunction(() => !document.getElementById('pg-status').textContent.startsWith('Loading'));
  const playground = await page.$eval('#pg-status', (p) => p.textContent);
  // A request made now shows in the live request log without a reload.
  await page.waitForSelector('body[data-logs="live"]');
  const status = await page.evaluate(async () => (await fetch('/v1/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 64,
                           messages: [{ role: 'user', content: 'hi [[scenario:text]]' }] }),
  })).status);
  await page.waitForSelector('#logs tr[data-log]', { timeout: 10000 });
  const logRow = await page.$eval('#logs tr[data-log]', (t) => t.innerText);
  await page.screenshot({ path: shot, fullPage: true });
  process.stdout.write(JSON.stringify({ rows, claudeEnv, kilo, error, errors, playground, status, logRow,
    haikuBefore, haikuAfter }));
} finally {
  await browser.close();
}
