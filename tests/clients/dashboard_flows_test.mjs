// Drives the dashboard's stateful flows in headless Chromium against the real binary and the
// fake issuer, the way a user clicks through them. One phase per run (the Rust test restarts
// the proxy between some), one JSON report on stdout.
// Usage: node dashboard_flows_test.mjs <base-url> <phase>
//   accounts        add an account by each flow (device code, browser pop-up, pasted address),
//                   switch the active one, remove one through its confirmation dialog
//   settings        edit the routing table and a timeout, save, preview where an id goes
//   settings-check  read the settings page after a restart
//   claude          preview the Claude Code settings diff, apply it, report the diff's new side
//   first-load      open the overview in a fresh browser: every response and its gzipped size
import { launch, open } from './browser.mjs';
import { gzipSync } from 'node:zlib';

const [base, phase] = process.argv.slice(2);
const browser = await launch();
const report = { phase };
const api = async (path) => (await fetch(base + path)).json();
const accountEmails = async () => ((await api('/accounts')).accounts || []).map((a) => a.email).sort();

try {
  if (phase === 'first-load') {
    const page = await browser.newPage();
    const loads = [];
    page.on('response', async (r) => {
      try {
        const body = await r.body();
        loads.push({ url: r.url().slice(base.length), bytes: body.length, gzipped: gzipSync(body, { level: 9 }).length });
      } catch { /* a stream still open (the live log): counted as 0 */ }
    });
    await page.goto(base + '/');
    // The overview has drawn its metrics: the page, its script and style and its first API
    // answers are in (the live log's stream stays open, so the network never goes idle).
    await page.waitForSelector('body[data-metrics]');
    report.loads = loads;
    report.total_gzipped = loads.reduce((n, l) => n + l.gzipped, 0);
    report.total_bytes = loads.reduce((n, l) => n + l.bytes, 0);
    report.errors = [];
  } else {
    const { page, errors } = await open(browser, base + '/#/' + (phase.startsWith('settings') ? 'settings' : phase === 'claude' ? 'clients' : 'accounts'));
    report.errors = errors;
    if (phase === 'accounts') {
      await page.waitForSelector('#acct-list[data-loaded="true"]');
      report.before = await accountEmails();

      // Device code: the code shows large; the fake approves on its third poll.
      await page.click('#acct-add-device');
      await page.waitForFunction(() => /[A-Z0-9]{4}/.test(document.getElementById('device-code').textContent));
      report.device_code = await page.$eval('#device-code', (n) => n.textContent);
      await page.waitForSelector('#device-status[data-state="ok"]', { timeout: 20000 });
      await page.keyboard.press('Escape');
      report.after_device = await accountEmails();

      // Browser pop-up: the fake issuer signs in whoever the test names, then redirects to the
      // proxy's callback listener, which finishes by itself; the page updates by polling.
      await page.context().route('**/oauth/authorize?*', (route) =>
        route.continue({ url: route.request().url() + '&fake_email=popup%40example.com' }));
      const popup = page.waitForEvent('popup');
      await page.click('#acct-add-browser');
      await popup;
      await page.waitForFunction(() => document.querySelector('#acct-list').textContent.includes('popup@example.com'), null, { timeout: 20000 });
      report.after_popup = await accountEmails();

      // Pasted address: sign in "elsewhere" (here: fetch the link, do not follow the redirect),
      // paste where the browser was sent.
      await page.click('#acct-add-manual');
      await page.click('#manual-start');
      await page.waitForFunction(() => document.getElementById('manual-url').href.includes('/oauth/authorize'));
      const link = await page.$eval('#manual-url', (a) => a.href);
      const signIn = await fetch(link + '&fake_email=paste%40example.com', { redirect: 'manual' });
      await page.fill('#manual-callback', signIn.headers.get('location'));
      await page.click('#manual-finish');
      await page.waitForSelector('#manual-status[data-state="ok"]', { timeout: 20000 });
      await page.keyboard.press('Escape');
      report.after_paste = await accountEmails();

      const idOf = async (email) => ((await api('/accounts')).accounts.find((a) => a.email === email) || {}).account_id;
      // Switch: the pasted account becomes the active one.
      const pasteId = await idOf('paste@example.com');
      await page.waitForSelector(`#acct-list article[data-account="${pasteId}"]`);
      await page.click(`#acct-list [data-action="activate"][data-id="${pasteId}"]`);
      await page.waitForSelector(`#acct-list article[data-account="${pasteId}"][data-active="true"]`);
      report.active = ((await api('/accounts')).accounts.find((a) => a.active) || {}).email;

      // Search narrows the list.
      await page.fill('#acct-search', 'popup');
      report.search_shown = await page.$$eval('#acct-list article.acct', (as) => as.filter((a) => !a.hidden && a.offsetParent !== null).length);
      await page.fill('#acct-search', '');

      // Remove, through the confirmation dialog (cancel first: nothing happens).
      const popupId = await idOf('popup@example.com');
      await page.click(`#acct-list [data-action="remove"][data-id="${popupId}"]`);
      await page.waitForSelector('#dlg-confirm[open]');
      await page.click('#confirm-cancel');
      report.after_cancel = await accountEmails();
      await page.click(`#acct-list [data-action="remove"][data-id="${popupId}"]`);
      await page.waitForSelector('#dlg-confirm[open]');
      await page.click('#confirm-ok');
      await page.waitForFunction((id) => !document.querySelector(`#acct-list article[data-account="${id}"]`), popupId);
      report.after_remove = await accountEmails();
    } else if (phase === 'settings') {
      await page.waitForSelector('#settings-form[data-loaded="true"]');
      const haikuRule = await page.$$eval('#route-rows tr[data-rule]', (rows) =>
        rows.findIndex((r) => r.querySelector('[data-field="match"]').value === '*haiku*'));
      report.haiku_rule = haikuRule;
      const row = (await page.$$('#route-rows tr[data-rule]'))[haikuRule];
      await (await row.$('[data-field="model"]')).fill('qwen/qwen3-coder:free');
      await page.fill('#set-idle', '77');
      await page.click('#settings-save');
      await page.waitForSelector('#settings-status[data-state="ok"]');
      await page.fill('#route-preview-model', 'claude-haiku-4-5');
      await page.waitForFunction(() => document.getElementById('route-preview-out').textContent.includes('qwen3-coder'));
      report.preview = await page.$eval('#route-preview-out', (n) => n.textContent);
      report.saved = await api('/api/settings');
    } else if (phase === 'settings-check') {
      await page.waitForSelector('#settings-form[data-loaded="true"]');
      report.models = await page.$$eval('#route-rows tr[data-rule] [data-field="model"]', (is) => is.map((i) => i.value));
      report.idle = await page.$eval('#set-idle', (i) => i.value);
    } else if (phase === 'claude') {
      await page.waitForSelector('#claude-preview-proxy');
      await page.click('#claude-preview-proxy');
      await page.waitForSelector('#claude-diff-box:not([hidden])');
      await page.waitForFunction(() => document.querySelectorAll('#claude-diff span').length > 0);
      const lines = await page.$$eval('#claude-diff span', (ss) => ss.map((s) => [s.className, s.textContent.slice(2)]));
      report.added = lines.filter(([c]) => c === 'add').length;
      report.removed = lines.filter(([c]) => c === 'del').length;
      // The diff's new side, which the user reviews before applying.
      report.after_text = lines.filter(([c]) => c !== 'del').map(([, t]) => t).join('\n');
      await page.click('#claude-apply');
      await page.waitForFunction(() => document.getElementById('claude-status').textContent.startsWith('Written to'));
      report.status = await page.$eval('#claude-status', (n) => n.textContent);
    }
  }
} catch (e) {
  report.failure = String(e && e.stack || e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
