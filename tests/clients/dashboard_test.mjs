// Drives the whole dashboard in headless Chromium (Debian's, through playwright-core) and prints
// one JSON report on stdout for the Rust test to assert on.
//
// Usage: node dashboard_test.mjs <base-url> <artefact-dir> <vectors-dir>
// Env:   CCP_DASH_ONLY    comma-separated parts to run (pages,keyboard,quick,playground); default all
//        CCP_QUICK_MODEL  model for the quick test (default: claude-sonnet-4-5 when the Codex
//                         lane has accounts, else claude-haiku-4-5)
//
// Report fields (each check is its own field):
//   pages[page][`${width}-${scheme}`] = {errors, failed_requests, scroll_width, screenshot}
//   console_errors: every console error / page error / failed request, "page width scheme: text"
//   overflow: pages whose document is wider than 375 px at 375 px ([{page, scheme, scroll_width}])
//   axe[page] = serious/critical violations ([{id, impact, scheme, help, targets}])
//   keyboard = {nav: {page: {reached, tabs, focus_visible, opened, aria_current}}, modal: {...}, mobile_nav: {...}}
//   quick_test = {model, status, state, text, meta}
//   requests = {rows, first_row, detail_opened, detail_text}
//   playground = {status, vectors, by_kind, mismatches, requests_during, convert}
import { launch } from './browser.mjs';
import { mkdirSync, readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const [base, artefacts, vectorsDir] = process.argv.slice(2);
if (!base || !artefacts || !vectorsDir) {
  process.stderr.write('usage: node dashboard_test.mjs <base-url> <artefact-dir> <vectors-dir>\n');
  process.exit(2);
}
mkdirSync(artefacts, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const only = (process.env.CCP_DASH_ONLY || '').split(',').filter(Boolean);
const want = (part) => !only.length || only.includes(part);
const PAGES = ['overview', 'accounts', 'requests', 'settings', 'clients', 'playground'];
const WIDTHS = [1280, 375];
const SCHEMES = ['light', 'dark'];
const report = {
  base,
  pages: {},
  console_errors: [],
  overflow: [],
  axe: {},
  keyboard: {},
  quick_test: null,
  requests: null,
  playground: null,
};

// A page with its console errors, script errors and failed requests collected.
async function openPage(browser, { width, scheme, hash }) {
  const page = await browser.newPage();
  const errors = [];
  const failed = [];
  page.on('pageerror', (e) => errors.push('pageerror: ' + String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('requestfailed', (r) => {
    const why = r.failure() ? r.failure().errorText : '';
    // A long-lived stream cut by closing the page is not a failure.
    if (!/ERR_ABORTED/.test(why)) failed.push(`${r.method()} ${r.url()}: ${why}`);
  });
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.request().method()} ${r.url()}: ${r.status()}`); });
  await page.setViewportSize({ width, height: width > 800 ? 900 : 812 });
  await page.emulateMedia({ colorScheme: scheme, reducedMotion: 'reduce' });
  await page.goto(`${base}/#/${hash}`);
  return { page, errors, failed };
}

async function settle(page, name) {
  await page.waitForSelector(`section.page[data-page="${name}"][data-ready="true"]`, { timeout: 20000 });
  await page.waitForTimeout(400);
}

async function runAxe(page) {
  // The page's CSP refuses the inline <script> that page.addScriptTag would add (and logs that
  // as a console error), so axe's text is evaluated directly.
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
  const res = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return res.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 8).map((n) => n.target.join(' ')) }));
}

// ---------------------------------------------------------------------------------------------
// Golden vectors, built as tests/tests/vectors.rs builds them and compared the same way.

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
// A job from a vector file's own text: parsing and re-serialising would round big integers
// (seeds) and turn 100.0 into 100, changing what the core is given.
const rawJob = (kind, p, extra = '') => `{"kind":${JSON.stringify(kind)},"case":${readFileSync(p, 'utf8')}${extra}}`;
const sortedFiles = (dir, ext) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.' + ext)).sort().map((f) => join(dir, f)) : []);
const fileName = (p) => p.split('/').pop();

function diff(a, b, path) {
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of Object.keys(a)) {
      if (!(k in b)) return `${path}.${k}: missing in expected`;
      const d = diff(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
    const k = Object.keys(b).find((x) => !(x in a));
    return k ? `${path}.${k}: missing in actual` : null;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = diff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return a.length !== b.length ? `${path}: length ${a.length} (actual) vs ${b.length} (expected)` : null;
  }
  const same = JSON.stringify(a) === JSON.stringify(b);
  if (same) return null;
  const s = (v) => { const t = JSON.stringify(v) ?? 'undefined'; return t.length > 300 ? t.slice(0, 300) + '…' : t; };
  return `${path}: actual ${s(a)} vs expected ${s(b)}`;
}

const degSet = (v) => (Array.isArray(v) ? v : []).map((d) => `${d.path || ''}\u0000${d.kind || ''}`).sort();

function sseFrames(text) {
  return text.split('\n\n').filter((f) => f !== '').map((f) => {
    if (f.startsWith('data: ')) { try { return JSON.parse(f.slice(6)); } catch { return f; } }
    return f;
  });
}

function buildJobs(root) {
  const jobs = []; // {name, kind, job (string), check(out, run) → failure string | null}
  for (const kind of ['request', 'chat_request', 'openai_request']) {
    for (const f of sortedFiles(join(root, kind), 'json')) {
      const c = readJson(f);
      jobs.push({ name: `${kind}/${fileName(f)}`, kind, job: rawJob(kind, f), check: (out) => {
        if (c.expected_error) return out.error && out.error.type === c.expected_error.type ? null : `expected error ${JSON.stringify(c.expected_error)}, got ${JSON.stringify(out.error)}`;
        const d = diff(out.body, c.expected, 'body');
        if (d) return `${d} (error: ${JSON.stringify(out.error)})`;
        const [got, want] = [degSet(out.degradations), degSet(c.degradations)];
        return JSON.stringify(got) === JSON.stringify(want) ? null : `degradations: actual ${JSON.stringify(got)} vs expected ${JSON.stringify(want)}`;
      } });
    }
  }
  for (const [dir, kind] of [['stream', 'stream'], ['chat_stream', 'chat_stream']]) {
    const d = join(root, dir);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).filter((x) => statSync(join(d, x)).isDirectory()).sort()) {
      const c = readJson(join(d, name, 'case.json'));
      const upstream = readFileSync(join(d, name, 'upstream.sse'), 'utf8');
      const job = (chunks) => rawJob(kind, join(d, name, 'case.json'), `,"upstream":${JSON.stringify(upstream)},"chunks":${JSON.stringify(chunks)}`);
      jobs.push({ name: `${dir}/${name}`, kind, job: job([]), chunked: job([7, 1, 13, 2]), check: (out, chunkedOut) => {
        const events = (out.events || []).map((e) => ({ event: e.event, data: e.data }));
        const de = diff(events, c.expected, 'events');
        if (de) return de;
        const [got, want, what] = c.error !== undefined ? [out.error, c.error, 'error'] : [out.message, c.message, 'message'];
        const dm = diff(got, want, what);
        if (dm) return dm;
        if (chunkedOut && JSON.stringify(chunkedOut.events) !== JSON.stringify(out.events)) return 'output depends on chunking';
        return null;
      } });
    }
  }
  for (const f of sortedFiles(join(root, 'openai_stream'), 'json')) {
    const c = readJson(f);
    jobs.push({ name: `openai_stream/${fileName(f)}`, kind: 'openai_stream', job: rawJob('openai_stream', f), check: (out) => {
      if (out.runner_error) return String(out.runner_error);
      const d = diff(sseFrames(out.sse || ''), sseFrames(c.expected_sse || ''), 'sse');
      if (d) return d;
      const [got, want, what] = c.expected_error !== undefined ? [out.error, c.expected_error, 'error'] : [out.message, c.expected_message, 'message'];
      return diff(got, want, what);
    } });
  }
  for (const f of sortedFiles(join(root, 'error'), 'json')) {
    const c = readJson(f);
    jobs.push({ name: `error/${fileName(f)}`, kind: 'error', job: rawJob('error', f), check: (out) => {
      for (const k of ['type', 'status', 'retry_after', 'action']) {
        if (JSON.stringify(out[k] ?? null) !== JSON.stringify(c.expected[k] ?? null)) return `${k}: actual ${JSON.stringify(out[k])} vs expected ${JSON.stringify(c.expected[k])}`;
      }
      return null;
    } });
  }
  for (const f of sortedFiles(join(root, 'exchange'), 'json')) {
    const c = readJson(f);
    jobs.push({ name: `exchange/${fileName(f)}`, kind: 'exchange', job: rawJob('exchange', f), check: (out) => {
      const w = c.expected;
      if (JSON.stringify(out.steps) !== JSON.stringify(w.steps)) return `steps: actual ${JSON.stringify(out.steps)} vs expected ${JSON.stringify(w.steps)}`;
      if (JSON.stringify(out.client && out.client.status) !== JSON.stringify(w.status)) return `status: actual ${out.client && out.client.status} vs expected ${w.status}`;
      for (const needle of w.body_contains || []) if (!String((out.client && out.client.body) || '').includes(needle)) return `body lacks ${JSON.stringify(needle)}`;
      return null;
    } });
  }
  for (const f of sortedFiles(join(root, 'validation'), 'json')) {
    const c = readJson(f);
    jobs.push({ name: `validation/${fileName(f)}`, kind: 'validation', job: rawJob('validation', f), check: (out) => {
      const ok = !!c.expected.ok;
      if (out.ok !== ok) return `verdict: actual ${JSON.stringify(out)} vs expected ok=${ok}`;
      if (ok) return null;
      if (out.status !== c.expected.status) return `status ${out.status} vs ${c.expected.status}`;
      const err = (out.body && out.body.error) || {};
      if (err.type !== 'invalid_request_error') return `type ${err.type}`;
      const path = c.expected.path || '';
      if (c.dialect === 'openai') return (err.param || '') === path ? null : `param ${err.param} vs ${path}`;
      return String(err.message || '').startsWith(`${path}: `) ? null : `message ${JSON.stringify(err.message)} does not name ${path}`;
    } });
  }
  const routing = join(root, 'routing.json');
  if (existsSync(routing)) {
    const c = readJson(routing);
    jobs.push({ name: 'routing.json', kind: 'routing', job: rawJob('routing', routing), check: (out) => {
      for (const [i, e] of c.entries()) {
        for (const k of ['lane', 'provider', 'model', 'effort', 'long_context']) {
          if (JSON.stringify(out[i] && out[i][k]) !== JSON.stringify(e.expected[k])) return `${e.model}: ${k}: actual ${JSON.stringify(out[i] && out[i][k])} vs expected ${JSON.stringify(e.expected[k])}`;
        }
      }
      return null;
    } });
  }
  const oerr = join(root, 'openai_error.json');
  if (existsSync(oerr)) {
    const c = readJson(oerr);
    jobs.push({ name: 'openai_error.json', kind: 'openai_error', job: rawJob('openai_error', oerr), check: (out) => {
      for (const [i, r] of c.entries()) {
        if (!out[i] || out[i].status !== r.expected_status) return `${r.anthropic_type}: status ${out[i] && out[i].status} vs ${r.expected_status}`;
        const d = diff(out[i].body, r.expected, `[${i}].body`);
        if (d) return `${r.anthropic_type}: ${d}`;
      }
      return null;
    } });
  }
  return jobs;
}

// ---------------------------------------------------------------------------------------------

const browser = await launch();
try {
  // 1. Every page at both widths and in both schemes: screenshot, errors, overflow, axe (1280).
  for (const name of want('pages') ? PAGES : []) {
    report.pages[name] = {};
    report.axe[name] = [];
    for (const width of WIDTHS) {
      for (const scheme of SCHEMES) {
        const { page, errors, failed } = await openPage(browser, { width, scheme, hash: name });
        let settled = true;
        try { await settle(page, name); } catch { settled = false; }
        const shot = join(artefacts, `${name}-${width}-${scheme}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
        const visible = await page.evaluate((n) => {
          const s = document.querySelector(`section.page[data-page="${n}"]`);
          return !!s && !s.hidden && [...document.querySelectorAll('section.page')].filter((x) => !x.hidden).length === 1;
        }, name);
        if (width === 375 && scrollWidth > 375) report.overflow.push({ page: name, scheme, scroll_width: scrollWidth });
        if (width === 1280) {
          for (const v of await runAxe(page)) report.axe[name].push({ ...v, scheme });
        }
        report.pages[name][`${width}-${scheme}`] = { settled, visible, errors, failed_requests: failed, scroll_width: scrollWidth, screenshot: shot };
        for (const e of [...errors, ...failed]) report.console_errors.push(`${name} ${width} ${scheme}: ${e}`);
        await page.close();
      }
    }
  }

  // 2. Keyboard only: Tab from the skip link through the nav to each page's link, Enter opens it.
  if (want('keyboard')) {
    const { page } = await openPage(browser, { width: 1280, scheme: 'light', hash: 'overview' });
    await settle(page, 'overview');
    const nav = {};
    for (const name of PAGES) {
      await page.evaluate(() => document.getElementById('skip').focus());
      let tabs = 0;
      let reached = false;
      for (; tabs < 20; tabs++) {
        if (await page.evaluate((n) => document.activeElement && document.activeElement.dataset.nav === n, name)) { reached = true; break; }
        await page.keyboard.press('Tab');
      }
      const focus = reached ? await page.evaluate(() => {
        const a = document.activeElement;
        const cs = getComputedStyle(a);
        return { matches: a.matches(':focus-visible'), outline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0 };
      }) : { matches: false, outline: false };
      let opened = false;
      let ariaCurrent = false;
      if (reached) {
        await page.keyboard.press('Enter');
        try {
          await page.waitForFunction((n) => location.hash === '#/' + n && !document.querySelector(`section.page[data-page="${n}"]`).hidden, name, { timeout: 5000 });
          opened = true;
        } catch { /* reported */ }
        ariaCurrent = await page.evaluate((n) => document.querySelector(`nav a[data-nav="${n}"]`).getAttribute('aria-current') === 'page', name);
      }
      nav[name] = { reached, tabs, focus_visible: focus.matches && focus.outline, opened, aria_current: ariaCurrent };
    }
    report.keyboard.nav = nav;

    // A modal: Import on the Accounts page, reached and opened by keyboard; focus stays inside
    // while tabbing; Escape closes it and focus returns to the button.
    await page.evaluate(() => { location.hash = '#/accounts'; });
    await settle(page, 'accounts');
    await page.evaluate(() => document.getElementById('skip').focus());
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement && document.activeElement.id === 'acct-import');
    }
    const modal = { reached, opened: false, focus_inside: false, trapped: true, closed_on_escape: false, focus_returned: false };
    if (reached) {
      await page.keyboard.press('Enter');
      modal.opened = await page.evaluate(() => document.getElementById('dlg-import').open);
      modal.focus_inside = await page.evaluate(() => document.getElementById('dlg-import').contains(document.activeElement));
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press(i % 4 === 3 ? 'Shift+Tab' : 'Tab');
        if (!(await page.evaluate(() => document.getElementById('dlg-import').contains(document.activeElement)))) modal.trapped = false;
      }
      await page.keyboard.press('Escape');
      modal.closed_on_escape = await page.evaluate(() => !document.getElementById('dlg-import').open);
      modal.focus_returned = await page.evaluate(() => document.activeElement && document.activeElement.id === 'acct-import');
    }
    report.keyboard.modal = modal;
    await page.close();

    // At 375 px the nav folds behind a Menu button that opens and closes by keyboard.
    const { page: small } = await openPage(browser, { width: 375, scheme: 'light', hash: 'overview' });
    await settle(small, 'overview');
    const linkShown = () => small.evaluate(() => document.querySelector('nav a[data-nav="settings"]').getClientRects().length > 0);
    const before = await linkShown();
    await small.focus('#nav-toggle');
    await small.keyboard.press('Enter');
    const expanded = await small.evaluate(() => document.getElementById('nav-toggle').getAttribute('aria-expanded') === 'true');
    const after = await linkShown();
    await small.keyboard.press('Tab');
    const firstLink = await small.evaluate(() => document.activeElement && document.activeElement.dataset.nav);
    await small.keyboard.press('Escape');
    const closed = !(await linkShown());
    report.keyboard.mobile_nav = { hidden_before: !before, toggle_expanded: expanded, links_shown: after, first_link: firstLink, closed_on_escape: closed };
    await small.close();
  }

  // 3. The quick test: a real streamed request through the proxy to the fakes.
  if (want('quick')) {
    const health = await (await fetch(base + '/health')).json().catch(() => ({}));
    const model = process.env.CCP_QUICK_MODEL || (health.lanes && health.lanes.codex ? 'claude-sonnet-4-5' : 'claude-haiku-4-5');
    const { page, errors } = await openPage(browser, { width: 1280, scheme: 'light', hash: 'overview' });
    await settle(page, 'overview');
    const has = await page.evaluate((m) => [...document.getElementById('qt-model').options].some((o) => o.value === m), model);
    if (!has) await page.evaluate((m) => document.getElementById('qt-model').append(new Option(m, m)), model);
    await page.selectOption('#qt-model', model);
    await page.fill('#qt-prompt', 'Say hello [[scenario:text]]');
    const t0 = Date.now();
    await page.click('#qt-send');
    let state = 'timeout';
    try {
      await page.waitForSelector('#quick-test[data-state="done"], #quick-test[data-state="error"]', { timeout: 30000 });
      state = await page.$eval('#quick-test', (n) => n.dataset.state);
    } catch { /* reported as timeout */ }
    report.quick_test = {
      model,
      state,
      status: Number(await page.$eval('#quick-test', (n) => n.dataset.status || 0)),
      text: await page.$eval('#qt-output', (n) => n.textContent),
      meta: await page.$eval('#qt-meta', (n) => n.textContent),
      ms: Date.now() - t0,
      errors,
    };

    // 4. The request shows in the live log; its row opens the detail view.
    await page.evaluate(() => { location.hash = '#/requests'; });
    await settle(page, 'requests');
    let rows = 0;
    try {
      await page.waitForSelector('#req-rows tr[data-log-id]', { timeout: 10000 });
      rows = await page.$$eval('#req-rows tr[data-log-id]', (t) => t.length);
    } catch { /* rows stays 0 */ }
    const firstRow = rows ? await page.$eval('#req-rows tr[data-log-id]', (t) => t.innerText) : '';
    let detailOpened = false;
    let detailText = '';
    if (rows) {
      await page.click('#req-rows tr[data-log-id] button[data-open]');
      detailOpened = await page.evaluate(() => document.getElementById('dlg-log').open);
      detailText = await page.$eval('#log-detail', (n) => n.innerText);
      await page.keyboard.press('Escape');
    }
    report.requests = { rows, first_row: firstRow, detail_opened: detailOpened, detail_text: detailText };
    await page.close();
  }

  // 5. The playground: every golden vector through the page's own wasm instance, with every
  // network request the page makes meanwhile recorded (there must be none).
  if (want('playground')) {
    const { page, errors } = await openPage(browser, { width: 1280, scheme: 'light', hash: 'playground' });
    await page.waitForFunction(() => window.ccpPlayground, null, { timeout: 10000 });
    let status = 'ready';
    try {
      await page.evaluate(() => window.ccpPlayground.ready);
    } catch (e) {
      status = 'failed: ' + String(e.message || e);
    }
    await settle(page, 'playground').catch(() => {});
    const pgStatus = await page.$eval('#pg-status', (n) => ({ state: n.dataset.state, text: n.textContent }));
    const during = [];
    page.on('request', (r) => during.push(`${r.method()} ${r.url()}`));
    const jobs = buildJobs(vectorsDir);
    const byKind = {};
    const mismatches = [];
    if (status === 'ready') {
      const BATCH = 16;
      for (let i = 0; i < jobs.length; i += BATCH) {
        const slice = jobs.slice(i, i + BATCH);
        const payload = slice.map((j) => [j.job, j.chunked || null]);
        const outs = await page.evaluate((list) => list.map(([a, b]) => [window.ccpPlayground.run_vector(a), b ? window.ccpPlayground.run_vector(b) : null]), payload);
        slice.forEach((j, k) => {
          byKind[j.kind] = (byKind[j.kind] || 0) + 1;
          let failure;
          try {
            const out = JSON.parse(outs[k][0]);
            failure = out && out.runner_error ? `runner_error: ${out.runner_error}` : j.check(out, outs[k][1] ? JSON.parse(outs[k][1]) : null);
          } catch (e) {
            failure = 'bad output: ' + e.message;
          }
          if (failure) mismatches.push(`${j.name}: ${failure}`);
        });
      }
    }
    // Typing in the request converts for both lanes, still without a request.
    let convert = null;
    if (status === 'ready') {
      const req = JSON.stringify({ model: 'claude-opus-4-5', max_tokens: 100, temperature: 0.5, messages: [{ role: 'user', content: 'hi from the test' }] });
      await page.fill('#pg-request', req);
      await page.fill('#pg-codex-model', 'gpt-test-model');
      await page.waitForFunction(() => document.getElementById('pg-codex-body').textContent.includes('gpt-test-model'), null, { timeout: 5000 }).catch(() => {});
      convert = await page.evaluate(() => ({
        codex_body: document.getElementById('pg-codex-body').textContent.slice(0, 2000),
        chat_body: document.getElementById('pg-chat-body').textContent.slice(0, 2000),
        codex_degradations: [...document.querySelectorAll('#pg-codex-degs li')].map((l) => l.textContent),
        chat_degradations: [...document.querySelectorAll('#pg-chat-degs li')].map((l) => l.textContent),
        codex_tokens: document.getElementById('pg-codex-tokens').textContent,
        chat_tokens: document.getElementById('pg-chat-tokens').textContent,
      }));
      // An SSE sample replays into Anthropic events.
      await page.click('#pg-replay');
      convert.events = await page.$$eval('#pg-events li', (l) => l.map((x) => x.dataset.event));
    }
    report.playground = { status, page_status: pgStatus, vectors: jobs.length, by_kind: byKind, mismatches, requests_during: during, convert, errors };
    await page.close();
  }
  report.summary = {
    console_errors: report.console_errors.length,
    overflow: report.overflow.length,
    axe_violations: Object.values(report.axe).reduce((n, l) => n + l.length, 0),
    keyboard_ok: !report.keyboard.nav ? null : Object.values(report.keyboard.nav || {}).every((v) => v.reached && v.focus_visible && v.opened && v.aria_current)
      && !!report.keyboard.modal && ['opened', 'focus_inside', 'trapped', 'closed_on_escape', 'focus_returned'].every((k) => report.keyboard.modal[k]),
    quick_test_ok: !report.quick_test ? null : report.quick_test.state === 'done' && report.quick_test.status === 200 && report.quick_test.text.length > 0,
    vectors: report.playground ? report.playground.vectors : 0,
    vector_mismatches: report.playground ? report.playground.mismatches.length : -1,
    playground_requests: report.playground ? report.playground.requests_during.length : -1,
  };
} catch (e) {
  report.fatal = String(e && e.stack ? e.stack : e);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + '\n');
