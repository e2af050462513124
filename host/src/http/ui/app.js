// codex-claude-proxy dashboard: one ES module, no dependencies, no build step.
//
// Hooks tests can rely on (stable ids and data attributes):
//   Shell:     nav a[data-nav=overview|accounts|requests|settings|clients|playground] (aria-current="page"
//              on the open one), section.page[data-page=NAME] (only the open one is visible; it gets
//              data-ready="true" once it has loaded what it shows), #skip, #nav-toggle,
//              #main, #banner (role=alert), #toasts, #version, body[data-page=NAME], body[data-logs="live"].
//   Overview:  #ov-lanes li[data-lane=codex|chat], #ov-accounts, #stat-requests|errors|ttfb|open|tokens .stat-value,
//              #chart-requests|errors|ttfb|tokens svg, body[data-metrics="ok"|"missing"],
//              quick test: #qt-model, #qt-prompt, #qt-send, #qt-stop, #qt-output, #qt-meta, #qt-thinking,
//              #quick-test[data-state=idle|streaming|done|error][data-status=HTTP status].
//   Accounts:  #acct-search, #acct-add-browser, #acct-add-manual, #acct-add-device, #acct-import, #acct-reload,
//              #acct-login[data-state=ok|error], #acct-list article.acct[data-account=ID][data-active][data-relogin],
//              buttons [data-action=activate|refresh|remove|relogin][data-id=ID], [data-reset-at=unix s] countdowns,
//              .bar-fill[data-window=NAME]; #acct-list[data-loaded="true"] once rendered.
//   Dialogs:   dialog#dlg-key (#key-input, #key-ok), #dlg-confirm (#confirm-ok, #confirm-cancel),
//              #dlg-manual (#manual-start, #manual-url, #manual-callback, #manual-finish, #manual-status[data-state]),
//              #dlg-device (#device-code, #device-copy, #device-url, #device-status[data-state]),
//              #dlg-import (#import-default, #import-file, #import-path, #import-go, #import-report[data-state=ok|error]),
//              #dlg-log (#log-detail). Every dialog closes on Escape and on [data-close].
//   Requests:  #req-live[data-state=live|paused|off], #req-filter-model|lane|status|text, #req-pause (aria-pressed),
//              #req-clear, #req-rows tr[data-log-id=ID][data-lane][data-status] (button[data-open=ID] opens the
//              detail dialog), #req-count, #req-empty.
//   Settings:  #route-rows tr[data-rule] (inputs [data-field=match|lane|provider|model|effort],
//              buttons [data-act=up|down|remove]), #route-fallback tr[data-rule=fallback], #route-add,
//              #route-preview-model, #route-preview-out, #set-strategy, #strategy-status, #set-haiku, #haiku-set,
//              #haiku-reset, #haiku-status, #prov-list fieldset[data-provider=INDEX] (inputs
//              #prov-INDEX-name|base|models|key with [data-field=name|base_url|models|api_key], [data-act=remove-provider]), #prov-add, #kilo-source
//              [data-source], #kilo-pick, #kilo-add, #kilo-haiku, #set-first-byte, #set-idle, #set-ping, #set-commit,
//              #set-max-attempts, #settings-save, #settings-reload, #settings-status[data-state=idle|dirty|saving|ok|error],
//              #settings-form[data-loaded="true"].
//   Clients:   #claude-state[data-state], #claude-path, #claude-env, #claude-preview-proxy, #claude-preview-direct,
//              #claude-diff-box[data-changes=N], #claude-diff (span.add/.del/.ctx), #claude-diff-summary, #claude-apply,
//              #claude-cancel, #claude-status, #claude-shell, #opencode-file, #opencode-config, #openclaw-file,
//              #openclaw-config, copy buttons [data-copy=ID of the pre].
//   Playground: #pg-status[data-state=idle|loading|ready|missing], #pg-request, #pg-codex-model, #pg-chat-model,
//              #pg-codex-body, #pg-chat-body, #pg-codex-degs, #pg-chat-degs, #pg-codex-tokens, #pg-chat-tokens,
//              #pg-sample, #pg-lane, #pg-client-model, #pg-thinking, #pg-sse, #pg-replay, #pg-events li[data-event],
//              #pg-message, #pg-send, #pg-send-stop, #pg-live, #pg-live-meta, #pg-live-box[data-state].
//   window.ccpPlayground = { ready: Promise (getter; starts loading), run_vector(job) → string }.

const KEY_STORE = 'ccp-key';
const PAGES = ['overview', 'accounts', 'requests', 'settings', 'clients', 'playground'];
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Small DOM helpers (text only: nothing from the server is ever parsed as HTML).

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'value') node.value = v;
      else if (k in node && typeof v !== 'string') node[k] = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
  return n;
}

function debounce(fn, ms) {
  let t = 0;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

const fmt = {
  int: (n) => (n === null || n === undefined || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US')),
  compact(n) {
    if (n === null || n === undefined) return '–';
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 0 : 1) + 'G';
    if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e4) return (n / 1e3).toFixed(a >= 1e5 ? 0 : 1) + 'k';
    return Math.round(n).toLocaleString('en-US');
  },
  ms(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return '–';
    return n >= 10000 ? (n / 1000).toFixed(1) + ' s' : Math.round(n) + ' ms';
  },
  pct: (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : (x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0) + '%'),
  duration(s) {
    if (s === null || s === undefined || Number.isNaN(s)) return '–';
    s = Math.max(0, Math.round(s));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return `${d}d ${h}h ${m}m`;
    if (h) return `${h}h ${String(m).padStart(2, '0')}m ${String(sec).padStart(2, '0')}s`;
    if (m) return `${m}m ${String(sec).padStart(2, '0')}s`;
    return `${sec}s`;
  },
  time: (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
  window(minutes) {
    if (!minutes) return '';
    if (minutes % 10080 === 0 || Math.abs(minutes - 10080) < 5) return minutes === 10080 ? 'weekly' : `${Math.round(minutes / 10080)} weeks`;
    if (minutes % 1440 === 0) return `${minutes / 1440} d`;
    if (minutes >= 60) return `${Math.round(minutes / 60)} h`;
    return `${minutes} min`;
  },
};

function pretty(v) { return JSON.stringify(v, null, 2); }

// ---------------------------------------------------------------------------------------------
// Toasts and the page-level error banner.

function toast(message, kind) {
  const t = el('div', { class: 'toast' + (kind === 'error' ? ' error' : ''), text: message });
  $('toasts').append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 7000 : 3500);
}

function banner(message) {
  const b = $('banner');
  b.textContent = message || '';
  b.hidden = !message;
}

// ---------------------------------------------------------------------------------------------
// Dialogs: native <dialog> (modal: the rest of the page is inert), a Tab trap inside it, Escape
// closes, focus goes back to what opened it.

const dialogState = new WeakMap();

function focusables(root) {
  return [...root.querySelectorAll('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"]), output[tabindex]')]
    .filter((n) => !n.disabled && !n.closest('[hidden]') && n.getClientRects().length > 0);
}

function openDialog(dlg, opener) {
  if (dlg.open) return;
  dialogState.set(dlg, { opener: opener || document.activeElement });
  dlg.showModal();
  const first = dlg.querySelector('[autofocus]') || focusables(dlg).find((n) => !n.classList.contains('x')) || focusables(dlg)[0];
  if (first) first.focus();
}

// A dialog's close is handled once, at once: its `close` event comes later, as a task, and by
// then the same dialog may have been opened again (a quick second click) — that event must not
// close the new opening's business.
function closeDialog(dlg, value) {
  if (!dlg.open) return;
  dlg.close(value || '');
  dialogClosed(dlg);
}

function dialogClosed(dlg) {
  const st = dialogState.get(dlg);
  if (!st) return;
  dialogState.delete(dlg);
  if (st.opener && st.opener.isConnected && typeof st.opener.focus === 'function') st.opener.focus();
  if (st.onClose) st.onClose(dlg.returnValue);
}

function initDialogs() {
  $('confirm-ok').addEventListener('click', () => closeDialog($('dlg-confirm'), 'ok'));
  for (const dlg of document.querySelectorAll('dialog')) {
    dlg.addEventListener('keydown', (e) => {
      if (e.key !== 'Tab') return;
      const list = focusables(dlg);
      if (!list.length) return;
      const i = list.indexOf(document.activeElement);
      if (e.shiftKey && (i <= 0)) { e.preventDefault(); list[list.length - 1].focus(); }
      else if (!e.shiftKey && (i === list.length - 1 || i === -1)) { e.preventDefault(); list[0].focus(); }
    });
    dlg.addEventListener('click', (e) => {
      if (e.target.closest('[data-close]')) closeDialog(dlg);
      // A click on the backdrop (the dialog box itself, outside its content) closes too.
      else if (e.target === dlg) closeDialog(dlg);
    });
    // Escape closes without closeDialog; a stale event after a re-open finds it open.
    dlg.addEventListener('close', () => { if (!dlg.open) dialogClosed(dlg); });
  }
}

function onDialogClose(dlg, fn) {
  const st = dialogState.get(dlg);
  if (st) st.onClose = fn;
}

function confirmDialog(title, text, okLabel, opener) {
  const dlg = $('dlg-confirm');
  $('h-dlg-confirm').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel || 'Confirm';
  return new Promise((resolve) => {
    openDialog(dlg, opener);
    $('confirm-cancel').focus();
    onDialogClose(dlg, (v) => resolve(v === 'ok'));
  });
}

// ---------------------------------------------------------------------------------------------
// The API: same origin; the client key (only when the proxy has one) goes in x-api-key, asked
// for on a 401 and kept in sessionStorage for this tab.

let keyAsk = null;

function keyHeaders() {
  const k = sessionStorage.getItem(KEY_STORE);
  return k ? { 'x-api-key': k } : {};
}

function askKey(reason) {
  if (keyAsk) return keyAsk;
  keyAsk = new Promise((resolve) => {
    const dlg = $('dlg-key');
    $('key-reason').textContent = reason || 'This proxy asks for its client key. It is kept in this tab only.';
    $('key-input').value = '';
    openDialog(dlg);
    onDialogClose(dlg, (v) => {
      const key = $('key-input').value.trim();
      resolve(v === 'ok' && key ? key : null);
    });
  }).finally(() => { keyAsk = null; });
  return keyAsk;
}

async function request(path, opts = {}, asked = 0) {
  const headers = { ...keyHeaders(), ...(opts.headers || {}) };
  let body = opts.body;
  if (body !== undefined && typeof body !== 'string') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(body);
  }
  const method = opts.method || (body === undefined ? 'GET' : 'POST');
  const r = await fetch(path, { method, headers, body, signal: opts.signal, cache: 'no-store' });
  if (r.status === 401 && asked < 3) {
    // Only the proxy's own key check asks for the key (an upstream 401 is not about it).
    const msg = await r.clone().json().then((d) => d?.error?.message || '', () => '');
    if (/client key/i.test(msg)) {
      const sent = headers['x-api-key'];
      // Another request may have been given the key meanwhile: retry with it before asking.
      const now = sessionStorage.getItem(KEY_STORE);
      if (now && now !== sent) return request(path, opts, asked);
      const key = await askKey(sent ? 'That key was refused. Enter the proxy\'s client key.' : undefined);
      if (key) {
        sessionStorage.setItem(KEY_STORE, key);
        return request(path, opts, asked + 1);
      }
    }
  }
  return r;
}

class ApiError extends Error {
  constructor(message, status, type) { super(message); this.status = status; this.type = type; }
}

async function api(path, opts) {
  const r = await request(path, opts);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : {}; } catch { data = null; }
  if (!r.ok) {
    const msg = (data && data.error && data.error.message) || (data && data.detail) || `HTTP ${r.status}`;
    throw new ApiError(msg, r.status, data && data.error && data.error.type);
  }
  return data;
}

const post = (path, body) => api(path, { method: 'POST', body: body === undefined ? {} : body });

// ---------------------------------------------------------------------------------------------
// Server-sent events over fetch (so the key header can be sent): yields {event, data}.

async function* sseFrames(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let raw = '';
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      raw += value;
      // A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
      const cut = raw.endsWith('\r') ? raw.length - 1 : raw.length;
      buf += raw.slice(0, cut).replace(/\r\n?/g, '\n');
      raw = raw.slice(cut);
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const parsed = parseFrame(frame);
        if (parsed) yield parsed;
      }
    }
    buf += raw.replace(/\r\n?/g, '\n');
    const last = parseFrame(buf);
    if (last) yield last;
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseFrame(frame) {
  let event = 'message';
  const data = [];
  for (const line of frame.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const c = line.indexOf(':');
    const field = c < 0 ? line : line.slice(0, c);
    let val = c < 0 ? '' : line.slice(c + 1);
    if (val.startsWith(' ')) val = val.slice(1);
    if (field === 'event') event = val;
    else if (field === 'data') data.push(val);
  }
  if (!data.length) return null;
  return { event, data: data.join('\n') };
}

// One streamed POST /v1/messages, rendered into an answer box as the deltas arrive.
// ui = {box, output, thinking, meta}; resolves with a summary.
async function streamMessage(body, ui, signal) {
  const started = performance.now();
  let firstByte = null;
  const text = [];
  const state = { status: 0, text: '', stop_reason: null, usage: {}, model: null, error: null };
  ui.output.replaceChildren();
  ui.output.classList.add('cursor');
  ui.thinking.textContent = '';
  ui.thinking.hidden = true;
  ui.meta.textContent = 'Waiting for the first byte…';
  ui.box.dataset.state = 'streaming';
  delete ui.box.dataset.status;
  let textNode = null;
  const blocks = [];
  try {
    const r = await request('/v1/messages', {
      method: 'POST',
      headers: { 'anthropic-version': '2023-06-01', accept: 'text/event-stream' },
      body: { ...body, stream: true },
      signal,
    });
    state.status = r.status;
    ui.box.dataset.status = String(r.status);
    if (!r.ok || !(r.headers.get('content-type') || '').includes('text/event-stream')) {
      const t = await r.text();
      let msg = `HTTP ${r.status}`;
      try { const d = JSON.parse(t); msg = `${r.status} ${d.error?.type || ''}: ${d.error?.message || t}`; } catch { if (t) msg += ': ' + t.slice(0, 300); }
      throw new Error(msg);
    }
    for await (const f of sseFrames(r)) {
      if (firstByte === null) firstByte = performance.now() - started;
      if (f.event === 'ping') continue;
      let d;
      try { d = JSON.parse(f.data); } catch { continue; }
      switch (d.type) {
        case 'message_start':
          state.model = d.message?.model;
          Object.assign(state.usage, d.message?.usage || {});
          ui.meta.textContent = 'Streaming…';
          break;
        case 'content_block_start': {
          const b = d.content_block || {};
          blocks[d.index] = b.type;
          if (b.type === 'text') { textNode = document.createTextNode(''); ui.output.append(textNode); }
          else if (b.type === 'tool_use') {
            const call = el('code', { class: 'tool-call', text: `→ tool ${b.name}(` });
            call.dataset.args = '';
            ui.output.append(call);
          } else if (b.type === 'thinking' || b.type === 'redacted_thinking') ui.thinking.hidden = false;
          break;
        }
        case 'content_block_delta': {
          const dd = d.delta || {};
          if (dd.type === 'text_delta') {
            if (!textNode) { textNode = document.createTextNode(''); ui.output.append(textNode); }
            textNode.data += dd.text;
            text.push(dd.text);
          } else if (dd.type === 'thinking_delta') {
            ui.thinking.hidden = false;
            ui.thinking.textContent += dd.thinking;
          } else if (dd.type === 'input_json_delta') {
            const call = ui.output.querySelector('code.tool-call:last-of-type');
            if (call) { call.dataset.args += dd.partial_json; call.textContent = call.textContent.replace(/\)?$/, '') + dd.partial_json; }
          }
          break;
        }
        case 'content_block_stop': {
          if (blocks[d.index] === 'tool_use') {
            const call = ui.output.querySelector('code.tool-call:last-of-type');
            if (call) call.textContent += ')';
          }
          if (blocks[d.index] === 'text') textNode = null;
          break;
        }
        case 'message_delta':
          state.stop_reason = d.delta?.stop_reason ?? state.stop_reason;
          Object.assign(state.usage, d.usage || {});
          break;
        case 'error':
          state.error = `${d.error?.type || 'error'}: ${d.error?.message || ''}`;
          break;
        default:
      }
    }
    state.text = text.join('');
    const ms = performance.now() - started;
    const u = state.usage;
    const parts = [];
    if (state.error) parts.push('Ended with an error: ' + state.error);
    parts.push(`${fmt.ms(ms)} total`);
    if (firstByte !== null) parts.push(`first byte ${fmt.ms(firstByte)}`);
    if (u.input_tokens !== undefined) parts.push(`${fmt.int(u.input_tokens)} in` + (u.cache_read_input_tokens ? ` (+${fmt.int(u.cache_read_input_tokens)} cached)` : ''));
    if (u.output_tokens !== undefined) parts.push(`${fmt.int(u.output_tokens)} out`);
    if (state.stop_reason) parts.push(`stop: ${state.stop_reason}`);
    if (state.model) parts.push(state.model);
    ui.meta.textContent = parts.join(' · ');
    ui.box.dataset.state = state.error ? 'error' : 'done';
    state.ms = ms;
  } catch (e) {
    state.error = e.name === 'AbortError' ? 'stopped' : e.message;
    state.text = text.join('');
    ui.meta.textContent = e.name === 'AbortError' ? 'Stopped.' : 'Failed: ' + e.message;
    ui.box.dataset.state = e.name === 'AbortError' ? 'done' : 'error';
  } finally {
    ui.output.classList.remove('cursor');
  }
  return state;
}

// ---------------------------------------------------------------------------------------------
// Routing between pages (hash: #/overview, #/accounts, …).

const pageHooks = {};
let currentPage = null;

function pageFromHash() {
  const m = /^#\/([a-z]+)/.exec(location.hash);
  return m && PAGES.includes(m[1]) ? m[1] : null;
}

function showPage(name, fromUser) {
  if (currentPage === name) return;
  const prev = currentPage;
  if (prev && pageHooks[prev] && pageHooks[prev].leave) pageHooks[prev].leave();
  currentPage = name;
  for (const s of document.querySelectorAll('section.page')) s.hidden = s.dataset.page !== name;
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.body.dataset.page = name;
  const title = $('h-' + name);
  document.title = (title ? title.textContent : name) + ' · codex-claude-proxy';
  setNav(false);
  if (fromUser && title) title.focus({ preventScroll: false });
  if (fromUser) window.scrollTo(0, 0);
  // section[data-ready] tells tests (and styles) the page has loaded what it shows.
  const section = document.querySelector(`section.page[data-page="${name}"]`);
  delete section.dataset.ready;
  const hook = pageHooks[name];
  Promise.resolve().then(() => hook && hook.enter && hook.enter()).catch((e) => toast(e.message, 'error'))
    .finally(() => { if (currentPage === name) section.dataset.ready = 'true'; });
}

function route(fromUser) {
  const name = pageFromHash();
  if (!name) {
    if (location.hash && location.hash !== '#' && !location.hash.startsWith('#/')) return; // in-page anchors
    history.replaceState(null, '', '#/overview');
    showPage('overview', fromUser);
    return;
  }
  showPage(name, fromUser);
}

function setNav(open) {
  $('nav').classList.toggle('open', open);
  $('nav-toggle').setAttribute('aria-expanded', String(open));
}

function initShell() {
  $('nav-toggle').addEventListener('click', () => setNav(!$('nav').classList.contains('open')));
  $('skip').addEventListener('click', (e) => { e.preventDefault(); $('main').focus(); });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && $('nav').classList.contains('open')) { setNav(false); $('nav-toggle').focus(); }
  });
  // Copy buttons: data-copy names the element whose text is copied.
  document.addEventListener('click', (e) => {
    const b = e.target.closest('[data-copy]');
    if (b) copyText($(b.dataset.copy)?.textContent || '', b);
  });
  window.addEventListener('hashchange', () => route(true));
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = el('textarea', { class: 'sr-only', 'aria-hidden': 'true', tabindex: '-1' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    try { document.execCommand('copy'); } catch { /* nothing more to try */ }
    ta.remove();
    if (button) button.focus();
  }
  if (button) {
    const was = button.textContent;
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = was; }, 1500);
  }
  toast('Copied to the clipboard.');
}

// ---------------------------------------------------------------------------------------------
// Shared loaders.

let modelsCache = null;
async function loadModels() {
  if (!modelsCache) {
    modelsCache = fetch('/v1/models', { headers: keyHeaders() }).then((r) => (r.ok ? r.json() : { data: [] }))
      .then((d) => d.data || []).catch(() => []);
  }
  return modelsCache;
}

async function routeOf(model) {
  try {
    return await api('/api/route?model=' + encodeURIComponent(model));
  } catch {
    return null;
  }
}

function describeRoute(r) {
  if (!r) return '';
  const parts = [r.lane === 'chat' ? 'Chat lane' : 'Codex lane'];
  if (r.provider) parts.push(r.provider);
  parts.push(r.model);
  if (r.effort) parts.push(`effort ${r.effort}`);
  if (r.long_context) parts.push('long context');
  return '→ ' + parts.join(' · ');
}

// ---------------------------------------------------------------------------------------------
// Overview.

const overview = {
  timer: 0,
  ticks: 0,
  async enter() {
    this.timer = setInterval(() => this.refresh(false), 5000);
    const [, models] = await Promise.all([this.refresh(true), loadModels()]);
    const sel = $('qt-model');
    if (models.length && sel.dataset.filled !== 'true') {
      const keep = sel.value;
      sel.replaceChildren(...models.map((m) => el('option', { value: m.id, text: m.display_name && m.display_name !== m.id ? `${m.id} — ${m.display_name}` : m.id })));
      sel.value = models.some((m) => m.id === keep) ? keep : models[0].id;
      sel.dataset.filled = 'true';
      this.showRoute();
    }
  },
  leave() { clearInterval(this.timer); },
  async refresh(full) {
    this.ticks++;
    const jobs = [this.metrics()];
    if (full || this.ticks % 3 === 0) jobs.push(this.health());
    await Promise.allSettled(jobs);
  },
  async health() {
    let h;
    try {
      h = await (await fetch('/health', { cache: 'no-store' })).json();
    } catch (e) {
      $('ov-lanes').replaceChildren(el('li', { class: 'lane' }, el('span', { class: 'dot bad' }), el('div', {}, el('strong', { text: 'Proxy unreachable' }), el('span', { class: 'muted', text: e.message }))));
      return;
    }
    $('version').textContent = 'v' + h.version;
    const accounts = h.accounts || [];
    const relogin = accounts.filter((a) => a.relogin_needed).length;
    const usable = accounts.length - relogin;
    const codex = !accounts.length ? ['bad', 'No accounts: add one on the Accounts page.']
      : !usable ? ['bad', `All ${accounts.length} account(s) need a new sign-in.`]
        : relogin ? ['warn', `${usable} of ${accounts.length} accounts usable; ${relogin} need a new sign-in.`]
          : ['ok', `${accounts.length} account${accounts.length === 1 ? '' : 's'} ready · rotation ${h.strategy}`];
    const providers = (h.lanes && h.lanes.chat) || [];
    const items = [
      el('li', { class: 'lane', dataset: { lane: 'codex', state: codex[0] } }, el('span', { class: 'dot ' + codex[0] }),
        el('div', {}, el('strong', { text: 'Codex lane (ChatGPT)' }), el('span', { class: 'muted', text: codex[1] }))),
      el('li', { class: 'lane', dataset: { lane: 'chat', state: providers.length ? 'ok' : 'warn' } },
        el('span', { class: 'dot ' + (providers.length ? 'ok' : 'warn') }),
        el('div', {}, el('strong', { text: 'Chat lane (Chat Completions)' }),
          el('span', { class: 'muted', text: providers.length ? `Providers: ${providers.join(', ')}` : 'No provider configured.' }))),
      el('li', { class: 'lane' }, el('span', { class: 'dot ok' }),
        el('div', {}, el('strong', { text: `Version ${h.version}` }), el('span', { class: 'muted', text: this.uptime ? `up ${fmt.duration(this.uptime)}` : 'running' }))),
    ];
    // Where each Claude family goes now (haiku's background requests carry the user's prompt).
    const routes = h.routes || {};
    const families = ['opus', 'sonnet', 'haiku'].filter((f) => routes[f]).map((f) => {
      const r = routes[f];
      return `${f} → ${r.provider ? `${r.provider} ${r.model}` : `Codex ${r.model}`}`;
    });
    if (families.length) {
      items.push(el('li', { class: 'lane', dataset: { lane: 'routes' } }, el('span', { class: 'dot ok' }),
        el('div', {}, el('strong', { text: 'Where models go' }), el('span', { class: 'muted', text: families.join(' · ') }))));
    }
    $('ov-lanes').replaceChildren(...items);
    // Accounts at a glance: the admin list has emails and the active one.
    let list = null;
    try { list = await api('/accounts'); } catch { /* the glance falls back to /health */ }
    const active = list ? (list.accounts || []).find((a) => isActive(a, list)) : null;
    $('ov-accounts').replaceChildren(
      el('div', { class: 'g' }, el('b', { text: String(accounts.length) }), el('span', { text: 'accounts' })),
      el('div', { class: 'g' }, el('b', { text: String(relogin), class: relogin ? 'status bad' : '' }), el('span', { text: 're-login needed' })),
      el('div', { class: 'g' }, el('b', { class: 'break', text: active ? (active.email || active.tag) : (accounts.length ? '–' : 'none') }), el('span', { text: 'active' })),
    );
  },
  async metrics() {
    let m;
    try {
      m = await api('/api/metrics');
    } catch (e) {
      document.body.dataset.metrics = 'missing';
      for (const id of ['chart-requests', 'chart-errors', 'chart-ttfb', 'chart-tokens']) {
        $(id).querySelector('.chart-body').replaceChildren(el('p', { class: 'nodata', text: e.status === 404 ? 'This build has no metrics endpoint.' : 'Metrics unavailable: ' + e.message }));
      }
      return;
    }
    document.body.dataset.metrics = 'ok';
    this.uptime = m.uptime_s;
    const setStat = (id, value, note, level) => {
      const s = $(id);
      s.querySelector('.stat-value').textContent = value;
      s.querySelector('.stat-note').textContent = note || '';
      if (level) s.dataset.level = level; else delete s.dataset.level;
    };
    const rate = m.requests ? m.errors / m.requests : 0;
    setStat('stat-requests', fmt.compact(m.requests), `${fmt.int(m.retries)} invisible retries · up ${fmt.duration(m.uptime_s)}`);
    setStat('stat-errors', m.requests ? fmt.pct(rate) : '–', `${fmt.int(m.errors)} errors`, rate > 0.05 ? 'bad' : null);
    setStat('stat-ttfb', fmt.ms(m.ttfb_ms && m.ttfb_ms.p50), m.ttfb_ms && m.ttfb_ms.p95 !== null && m.ttfb_ms.p95 !== undefined ? `p95 ${fmt.ms(m.ttfb_ms.p95)}` : '');
    setStat('stat-open', fmt.int(m.open_streams), 'streams in flight');
    const t = m.tokens || {};
    setStat('stat-tokens', `${fmt.compact(t.input)} / ${fmt.compact(t.output)}`, `${fmt.compact(t.cached)} cached input`);
    const series = m.series || [];
    drawChart($('chart-requests'), series, [{ key: 'requests', kind: 'bar' }], 'requests');
    drawChart($('chart-errors'), series, [{ key: 'errors', kind: 'bar', cls: 'bad' }], 'errors');
    drawChart($('chart-ttfb'), series, [{ key: 'ttfb_ms', kind: 'line' }], 'ms', fmt.ms);
    drawChart($('chart-tokens'), series, [{ key: 'tokens_in', kind: 'line' }, { key: 'tokens_out', kind: 'line', cls: 'b' }], 'tokens', fmt.compact);
  },
  async showRoute() {
    const r = await routeOf($('qt-model').value);
    $('qt-route').textContent = r ? describeRoute(r) : '';
  },
};
pageHooks.overview = overview;

// Inline SVG charts: bars or lines over the last 60 ten-second buckets, newest on the right.
function drawChart(fig, series, lines, unit, format = fmt.compact) {
  const body = fig.querySelector('.chart-body');
  const W = 600, H = 120, SLOTS = 60, PAD = 4;
  const values = lines.flatMap((l) => series.map((p) => p[l.key]).filter((v) => v !== null && v !== undefined));
  if (!series.length) {
    body.replaceChildren(el('p', { class: 'nodata', text: 'No data yet.' }));
    return;
  }
  const max = Math.max(1, ...values);
  const n = Math.min(series.length, SLOTS);
  const pts = series.slice(-n);
  const slotW = W / SLOTS;
  const x0 = (SLOTS - n) * slotW;
  const y = (v) => H - PAD - (v / max) * (H - 2 * PAD);
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', focusable: 'false' });
  for (const f of [0.25, 0.5, 0.75]) s.append(svg('line', { class: 'gridline', x1: 0, x2: W, y1: y(max * f), y2: y(max * f), 'vector-effect': 'non-scaling-stroke' }));
  s.append(svg('line', { class: 'gridline', x1: 0, x2: W, y1: H - PAD, y2: H - PAD, 'vector-effect': 'non-scaling-stroke' }));
  for (const l of lines) {
    if (l.kind === 'bar') {
      pts.forEach((p, i) => {
        const v = p[l.key] || 0;
        if (!v) return;
        const top = y(v);
        s.append(svg('rect', { class: 'bar' + (l.cls ? ' ' + l.cls : ''), x: x0 + i * slotW + 1, y: top, width: Math.max(1, slotW - 2), height: H - PAD - top }));
      });
    } else {
      // Lines break where a bucket has no value (null).
      let d = '';
      let pen = false;
      pts.forEach((p, i) => {
        const v = p[l.key];
        if (v === null || v === undefined) { pen = false; return; }
        const px = x0 + i * slotW + slotW / 2;
        // A tiny step after each move: a lone point still shows as a dot (round caps).
        d += pen ? `L${px.toFixed(1)},${y(v).toFixed(1)}` : `M${px.toFixed(1)},${y(v).toFixed(1)}l0.01,0`;
        pen = true;
      });
      if (d) s.append(svg('path', { class: 'line' + (l.cls ? ' ' + l.cls : ''), d, 'vector-effect': 'non-scaling-stroke' }));
    }
  }
  const latest = pts[pts.length - 1];
  const latestText = lines.map((l) => format(latest[l.key] ?? null)).join(' / ');
  const peak = Math.max(0, ...values);
  const label = `${fig.querySelector('figcaption').firstChild.textContent.trim()}: latest ${latestText} ${unit}, peak ${format(peak)} ${unit} over the last ${Math.round((n * 10) / 60) || 1} min`;
  s.setAttribute('aria-label', label);
  const axis = el('div', { class: 'axis', 'aria-hidden': 'true' },
    el('span', { text: `${Math.round((n * 10) / 60) || 1} min ago` }), el('span', { text: `peak ${format(peak)}` }), el('span', { text: 'now' }));
  body.replaceChildren(s, axis);
}

function initOverview() {
  let ctl = null;
  $('qt-model').addEventListener('change', () => overview.showRoute());
  $('qt-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (ctl) return;
    ctl = new AbortController();
    $('qt-send').disabled = true;
    $('qt-stop').disabled = false;
    const prompt = $('qt-prompt').value.trim() || 'Hello';
    await streamMessage({ model: $('qt-model').value, max_tokens: 1024, messages: [{ role: 'user', content: prompt }] },
      { box: $('quick-test'), output: $('qt-output'), thinking: $('qt-thinking'), meta: $('qt-meta') }, ctl.signal);
    ctl = null;
    $('qt-send').disabled = false;
    $('qt-stop').disabled = true;
    $('qt-send').focus();
  });
  $('qt-stop').addEventListener('click', () => ctl && ctl.abort());
}

// ---------------------------------------------------------------------------------------------
// Accounts.

function isActive(a, list) {
  if (typeof a.active === 'boolean') return a.active;
  const id = list && (list.active || list.active_account_id || list.active_account);
  return !!id && (id === a.account_id || id === a.tag);
}

const accounts = {
  data: null,
  quota: new Map(),
  ticker: 0,
  quotaTimer: 0,
  async enter() {
    this.ticker = setInterval(tickCountdowns, 1000);
    this.quotaTimer = setInterval(() => this.load(false), 60000);
    await this.load(true);
  },
  leave() { clearInterval(this.ticker); clearInterval(this.quotaTimer); },
  async load(withQuota = true) {
    try {
      this.data = await api('/accounts');
    } catch (e) {
      $('acct-list').replaceChildren(el('p', { class: 'notice', 'data-state': 'error', text: 'Could not list accounts: ' + e.message }));
      return;
    }
    $('acct-strategy').textContent = this.data.strategy || '–';
    this.render();
    if (withQuota) {
      try {
        const q = await api('/accounts/quota');
        this.quota = new Map((q.accounts || []).map((x) => [x.account_id, x]));
        this.render();
      } catch { /* the header-derived quota in /accounts still shows */ }
    }
  },
  render() {
    const list = $('acct-list');
    const all = (this.data && this.data.accounts) || [];
    const q = $('acct-search').value.trim().toLowerCase();
    const shown = all.filter((a) => !q || [a.email, a.plan_type, a.tag, a.account_id].some((v) => v && String(v).toLowerCase().includes(q)));
    list.dataset.loaded = 'true';
    if (!all.length) {
      list.replaceChildren(el('div', { class: 'empty' },
        el('p', { text: 'No ChatGPT account yet. The Codex lane needs one: sign in, use a device code, or import the Codex CLI\'s.' })));
      return;
    }
    if (!shown.length) {
      list.replaceChildren(el('p', { class: 'empty', text: `No account matches “${q}”.` }));
      return;
    }
    const focusedKey = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.action
      ? document.activeElement.dataset.action + ':' + document.activeElement.dataset.id : null;
    list.replaceChildren(...shown.map((a) => this.card(a)));
    if (focusedKey) {
      const [act, id] = focusedKey.split(':');
      const again = [...list.querySelectorAll(`[data-action="${act}"]`)].find((b) => b.dataset.id === id);
      if (again) again.focus();
    }
    tickCountdowns();
  },
  card(a) {
    const active = isActive(a, this.data);
    const head = el('div', { class: 'acct-head' },
      el('h2', { text: a.email || a.account_id }),
      a.plan_type ? el('span', { class: 'badge', text: a.plan_type }) : null,
      active ? el('span', { class: 'badge accent', text: '● Active' }) : null,
      a.relogin_needed ? el('span', { class: 'badge bad', text: '⚠ Re-login needed' }) : el('span', { class: 'badge ok', text: 'Signed in' }));
    const token = a.relogin_needed ? 'needs a new sign-in'
      : a.expires_in === null || a.expires_in === undefined ? 'valid (refreshed when needed)'
        : a.expires_in <= 0 ? 'expired; refreshed on next use' : `expires in ${fmt.duration(a.expires_in)}`;
    const cool = Object.entries(a.cooldown_secs || {});
    const dl = el('dl', {},
      el('dt', { text: 'Tag' }), el('dd', {}, el('code', { text: a.tag || '–' })),
      el('dt', { text: 'Token' }), el('dd', { text: token }),
      cool.length ? [el('dt', { text: 'Cooling down' }), el('dd', { text: cool.map(([m, s]) => `${m}: ${fmt.duration(s)}`).join(', ') })] : null);
    const relogin = a.relogin_needed ? el('p', { class: 'relogin', role: 'note', text: 'Re-login needed' + (a.relogin_reason ? `: ${a.relogin_reason}` : '') + '. Sign in again with this account; it is skipped until then.' }) : null;
    const id = a.account_id;
    const label = a.email || a.tag || id;
    const buttons = el('div', { class: 'btn-row' },
      a.relogin_needed ? el('button', { type: 'button', class: 'small primary', dataset: { action: 'relogin', id }, 'aria-label': `Sign in again: ${label}`, text: 'Sign in again' })
        : active ? null : el('button', { type: 'button', class: 'small', dataset: { action: 'activate', id }, 'aria-label': `Make active: ${label}`, text: 'Make active' }),
      el('button', { type: 'button', class: 'small', dataset: { action: 'refresh', id }, 'aria-label': `Refresh token of ${label}`, text: 'Refresh token' }),
      el('button', { type: 'button', class: 'small danger', dataset: { action: 'remove', id }, 'aria-label': `Remove ${label}`, text: 'Remove' }));
    return el('article', { class: 'acct', dataset: { account: id, active: String(active), relogin: String(!!a.relogin_needed) }, 'aria-label': label },
      head, relogin, dl, this.quotaView(a), buttons);
  },
  quotaView(a) {
    const wins = [];
    const live = this.quota.get(a.account_id);
    if (live && live.usage && Array.isArray(live.usage.windows)) {
      for (const w of live.usage.windows) wins.push({ name: w.name, used: w.used_percent, minutes: w.window_minutes, reset: w.reset_at });
    } else if (a.quota && a.quota.limits) {
      const at = a.quota.at || Math.floor(Date.now() / 1000);
      for (const name of ['primary', 'secondary']) {
        const w = a.quota.limits[name];
        if (!w || (w.used_percent === null && w.used_percent === undefined)) continue;
        const reset = w.reset_at || (w.reset_after_seconds !== null && w.reset_after_seconds !== undefined ? at + w.reset_after_seconds : null);
        wins.push({ name, used: w.used_percent, minutes: w.window_minutes, reset });
      }
    }
    const box = el('div', { class: 'quota' });
    if (!wins.length) {
      box.append(el('p', { class: 'muted small', text: a.relogin_needed ? 'Quota unavailable until the account signs in again.'
        : live && live.error ? `Quota unavailable: ${live.error}` : 'Quota not known yet (shown after the first request or a reload).' }));
      return box;
    }
    for (const w of wins) {
      const used = Math.max(0, Math.min(100, Number(w.used) || 0));
      const level = used >= 90 ? 'bad' : used >= 70 ? 'warn' : 'ok';
      const title = `${w.name}${w.minutes ? ` (${fmt.window(w.minutes)})` : ''}`;
      const fill = el('div', { class: 'bar-fill', dataset: { level, window: w.name } });
      fill.style.width = used + '%';
      box.append(el('div', { class: 'qwin' },
        el('div', { class: 'qtop' }, el('span', { text: `${title}: ${Math.round(used)}% used` }),
          w.reset ? el('span', { dataset: { resetAt: String(w.reset) }, text: '' }) : el('span', { text: '' })),
        el('div', { class: 'bar-track', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(Math.round(used)), 'aria-label': `${title} quota used` }, fill)));
    }
    return box;
  },
};
pageHooks.accounts = accounts;

function tickCountdowns() {
  const now = Date.now() / 1000;
  for (const n of document.querySelectorAll('[data-reset-at]')) {
    const left = Number(n.dataset.resetAt) - now;
    n.textContent = left > 0 ? `resets in ${fmt.duration(left)}` : 'reset';
  }
}

function loginNotice(text, state, link) {
  const n = $('acct-login');
  n.replaceChildren(text);
  if (link) n.append(' ', el('a', { href: link, target: '_blank', rel: 'noopener noreferrer', text: 'Open the sign-in page' }));
  n.dataset.state = state || '';
  n.hidden = !text;
}

// Poll a sign-in until it is done or failed (or the signal aborts).
async function pollLogin(state, signal, onPending) {
  for (let i = 0; i < 600; i++) {
    if (signal && signal.aborted) return { status: 'cancelled', detail: '' };
    let s;
    try {
      s = await api('/accounts/login/' + encodeURIComponent(state));
    } catch (e) {
      return { status: 'failed', detail: e.message };
    }
    if (s.status !== 'pending') return s;
    if (onPending) onPending(i);
    await sleep(1500);
  }
  return { status: 'failed', detail: 'timed out' };
}

function initAccounts() {
  $('acct-search').addEventListener('input', () => accounts.render());
  $('acct-reload').addEventListener('click', () => accounts.load(true));
  $('acct-list').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-action]');
    if (!b) return;
    const id = b.dataset.id;
    if (b.dataset.action === 'relogin') { $('acct-add-browser').click(); return; }
    const acc = ((accounts.data && accounts.data.accounts) || []).find((a) => a.account_id === id) || {};
    const label = acc.email || acc.tag || id;
    try {
      if (b.dataset.action === 'activate') {
        b.disabled = true;
        await post(`/accounts/${encodeURIComponent(id)}/activate`);
        toast(`${label} is now the active account.`);
      } else if (b.dataset.action === 'refresh') {
        b.disabled = true;
        await post(`/accounts/${encodeURIComponent(id)}/refresh`);
        toast(`Token of ${label} refreshed.`);
      } else if (b.dataset.action === 'remove') {
        const ok = await confirmDialog('Remove this account?', `${label} will be removed from the proxy. Its ChatGPT account is not affected; you can sign in again later.`, 'Remove', b);
        if (!ok) return;
        await api(`/accounts/${encodeURIComponent(id)}`, { method: 'DELETE' });
        toast(`${label} removed.`);
        $('acct-search').focus();
      }
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      b.disabled = false;
    }
    await accounts.load(b.dataset.action !== 'activate');
  });

  // Browser sign-in: the pop-up is opened at once (inside the click, so it is not blocked),
  // then sent to the sign-in page; the proxy catches the redirect and finishes by itself.
  let browserFlow = null;
  $('acct-add-browser').addEventListener('click', async () => {
    if (browserFlow) browserFlow.abort();
    const flow = browserFlow = new AbortController();
    const popup = window.open('', 'ccp-signin', 'popup,width=520,height=720');
    loginNotice('Starting the sign-in…');
    try {
      const s = await post('/accounts/add');
      if (popup && !popup.closed) {
        popup.location.href = s.url;
        try { popup.opener = null; } catch { /* cross-origin now */ }
        loginNotice('Finish signing in in the pop-up window. This page updates by itself.', '', s.url);
      } else {
        loginNotice('Your browser blocked the pop-up.', '', s.url);
      }
      const r = await pollLogin(s.state, flow.signal);
      if (r.status === 'cancelled') return;
      loginNotice(r.status === 'done' ? `Signed in: ${r.detail}` : `Sign-in failed: ${r.detail}`, r.status === 'done' ? 'ok' : 'error');
      await accounts.load(true);
    } catch (e) {
      if (popup && !popup.closed) popup.close();
      loginNotice('Could not start the sign-in: ' + e.message, 'error');
    } finally {
      if (browserFlow === flow) browserFlow = null;
    }
  });

  // Headless: get the link, sign in anywhere, paste the redirected address.
  let manualState = null;
  $('acct-add-manual').addEventListener('click', (e) => {
    manualState = null;
    $('manual-link').hidden = true;
    $('manual-status').hidden = true;
    $('manual-callback').value = '';
    $('manual-finish').disabled = true;
    $('manual-start').disabled = false;
    openDialog($('dlg-manual'), e.currentTarget);
  });
  $('manual-start').addEventListener('click', async () => {
    $('manual-start').disabled = true;
    try {
      // No callback listener: the address is pasted back here.
      const s = await post('/accounts/add', { listen: false });
      manualState = s.state;
      $('manual-url').href = s.url;
      $('manual-url').textContent = s.url;
      $('manual-link').hidden = false;
      $('manual-finish').disabled = false;
      $('manual-callback').focus();
    } catch (err) {
      manualNotice('Could not start: ' + err.message, 'error');
      $('manual-start').disabled = false;
    }
  });
  $('manual-copy').addEventListener('click', (e) => copyText($('manual-url').href, e.currentTarget));
  $('manual-finish').addEventListener('click', async () => {
    const pasted = $('manual-callback').value.trim();
    if (!pasted) { manualNotice('Paste the address first.', 'error'); $('manual-callback').focus(); return; }
    $('manual-finish').disabled = true;
    manualNotice('Finishing…');
    try {
      const r = await post('/accounts/add/manual', { callback: pasted, state: manualState });
      if (r.status === 'done') {
        manualNotice(`Signed in: ${r.detail}`, 'ok');
        toast(`Signed in: ${r.detail}`);
        await accounts.load(true);
      } else {
        manualNotice(`Sign-in failed: ${r.detail}`, 'error');
        $('manual-finish').disabled = false;
      }
    } catch (err) {
      manualNotice('Sign-in failed: ' + err.message, 'error');
      $('manual-finish').disabled = false;
    }
  });

  // Device code: the code is shown large with a copy button; polled until done.
  let deviceFlow = null;
  $('acct-add-device').addEventListener('click', async (e) => {
    const dlg = $('dlg-device');
    deviceFlow = new AbortController();
    const flow = deviceFlow;
    $('device-code').textContent = '· · · ·';
    $('device-copy').disabled = true;
    $('device-url').removeAttribute('href');
    deviceNotice('Requesting a code…', 'pending');
    openDialog(dlg, e.currentTarget);
    onDialogClose(dlg, () => flow.abort());
    try {
      const s = await post('/accounts/device');
      if (flow.signal.aborted) return;
      $('device-code').textContent = s.user_code;
      $('device-copy').disabled = false;
      $('device-url').href = s.verification_url;
      $('device-url').textContent = s.verification_url;
      deviceNotice('Waiting for you to enter the code…', 'pending');
      const r = await pollLogin(s.state, flow.signal);
      if (r.status === 'cancelled') return;
      if (r.status === 'done') {
        deviceNotice(`Signed in: ${r.detail}`, 'ok');
        toast(`Signed in: ${r.detail}`);
        await accounts.load(true);
      } else deviceNotice(`Sign-in failed: ${r.detail}`, 'error');
    } catch (err) {
      deviceNotice('Could not start: ' + err.message, 'error');
    }
  });
  $('device-copy').addEventListener('click', (e) => copyText($('device-code').textContent, e.currentTarget));

  // Import.
  $('acct-import').addEventListener('click', (e) => {
    $('import-report').hidden = true;
    openDialog($('dlg-import'), e.currentTarget);
  });
  for (const r of document.querySelectorAll('input[name="import-from"]')) {
    r.addEventListener('change', () => { $('import-path').disabled = !$('import-file').checked; if (!$('import-path').disabled) $('import-path').focus(); });
  }
  $('import-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    if ($('import-file').checked) {
      const p = $('import-path').value.trim();
      if (!p) { $('import-path').focus(); return; }
      body.path = p;
    }
    $('import-go').disabled = true;
    const rep = $('import-report');
    try {
      const r = await post('/accounts/import', body);
      rep.textContent = (r.report || []).join('\n') || 'Imported.';
      rep.dataset.state = 'ok';
      await accounts.load(true);
    } catch (err) {
      rep.textContent = err.message;
      rep.dataset.state = 'error';
    } finally {
      rep.hidden = false;
      $('import-go').disabled = false;
    }
  });
}

function manualNotice(text, state) {
  const n = $('manual-status');
  n.textContent = text;
  n.dataset.state = state || '';
  n.hidden = false;
}

function deviceNotice(text, state) {
  const n = $('device-status');
  n.textContent = text;
  n.dataset.state = state || '';
}

// ---------------------------------------------------------------------------------------------
// Requests: the live log.

const requests = {
  entries: [], // newest first
  pending: [],
  seen: 0,
  paused: false,
  started: false,
  enter() {
    if (!this.started) {
      this.started = true;
      this.firstConnect = new Promise((r) => { this.connected1 = r; });
      this.follow();
    }
    this.render();
    return this.firstConnect;
  },
  async follow() {
    for (;;) {
      try {
        // The follow starts before the kept entries are read, so none falls in between; ids
        // skip the repeats.
        const r = await request('/logs/stream', { headers: { accept: 'text/event-stream' } });
        if (!r.ok) throw new Error('HTTP ' + r.status);
        const kept = await api('/logs');
        for (const e of kept.entries || []) this.add(e, true);
        this.render();
        this.live(true);
        this.connected1();
        for await (const f of sseFrames(r)) {
          try { this.add(JSON.parse(f.data)); } catch { /* not an entry */ }
        }
      } catch { /* reconnect below */ }
      this.connected1();
      this.live(false);
      await sleep(2500);
    }
  },
  live(on) {
    this.connected = on;
    if (on) document.body.dataset.logs = 'live'; else delete document.body.dataset.logs;
    this.showLive();
  },
  showLive() {
    const s = $('req-live');
    if (!this.connected) { s.dataset.state = 'off'; s.textContent = 'reconnecting…'; return; }
    s.dataset.state = this.paused ? 'paused' : 'live';
    s.textContent = this.paused ? `paused · ${this.pending.length} new` : 'live';
  },
  add(e, bulk) {
    if (!e || typeof e.id !== 'number' || e.id <= this.seen) return;
    this.seen = e.id;
    if (this.paused) { this.pending.unshift(e); this.showLive(); this.updatePause(); return; }
    this.entries.unshift(e);
    if (this.entries.length > 500) this.entries.length = 500;
    if (!bulk && currentPage === 'requests') this.prepend(e);
  },
  filters() {
    return {
      model: $('req-filter-model').value,
      lane: $('req-filter-lane').value,
      status: $('req-filter-status').value,
      text: $('req-filter-text').value.trim().toLowerCase(),
    };
  },
  matches(e, f) {
    if (f.model && e.model !== f.model) return false;
    if (f.lane && e.lane !== f.lane) return false;
    if (f.status === 'ok' && !(e.status >= 200 && e.status < 300)) return false;
    if (f.status === 'error' && !(e.status >= 400 || e.error_type)) return false;
    if (f.status === 'degraded' && !(e.degradations_total || (e.degradations || []).length)) return false;
    if (f.status === 'retried' && !(e.attempts > 1)) return false;
    if (f.text) {
      const hay = [e.model, e.lane, e.provider, e.upstream_model, e.effort, e.account, e.status, e.error_type, e.endpoint,
        ...(e.degradations || []).map(degText)].join(' ').toLowerCase();
      if (!hay.includes(f.text)) return false;
    }
    return true;
  },
  row(e) {
    const ok = e.status >= 200 && e.status < 400 && !e.error_type;
    const degs = e.degradations_total ?? (e.degradations || []).length;
    const route = [e.lane, e.provider, e.upstream_model].filter(Boolean).join(' · ') + (e.effort ? ` (${e.effort})` : '');
    return el('tr', { dataset: { logId: String(e.id), lane: e.lane || '', status: String(e.status) } },
      el('td', { dataset: { label: 'Time' } }, el('button', { type: 'button', class: 'linkish', dataset: { open: String(e.id) }, 'aria-label': `${fmt.time(e.at)}: details of request ${e.id}`, text: fmt.time(e.at) })),
      el('td', { dataset: { label: 'Model' }, text: e.model || '–' }),
      el('td', { class: 'route', dataset: { label: 'Went to' }, text: route || '–' }),
      el('td', { dataset: { label: 'Account' }, text: e.account || '–' }),
      el('td', { dataset: { label: 'Status' } }, el('span', { class: 'status ' + (ok ? 'ok' : 'bad'), text: String(e.status) + (e.error_type ? ` ${e.error_type}` : '') })),
      el('td', { dataset: { label: 'Took' }, text: fmt.ms(e.ms) + (e.stream ? ' · stream' : '') }),
      el('td', { dataset: { label: 'Attempts' }, text: e.attempts === undefined ? '–' : String(e.attempts) }),
      el('td', { dataset: { label: 'Degradations' }, text: degs ? String(degs) : '–' }));
  },
  render() {
    const f = this.filters();
    const shown = this.entries.filter((e) => this.matches(e, f)).slice(0, 300);
    $('req-rows').replaceChildren(...shown.map((e) => this.row(e)));
    $('req-empty').hidden = shown.length > 0;
    $('req-empty').textContent = this.entries.length ? 'No request matches these filters.' : 'No requests yet. Send one from the Overview\'s quick test, or point a client at the proxy.';
    $('req-count').textContent = this.entries.length ? `Showing ${shown.length} of ${this.entries.length} kept requests.` : '';
    this.updateModels();
  },
  prepend(e) {
    this.updateModels();
    if (!this.matches(e, this.filters())) return;
    const rows = $('req-rows');
    rows.prepend(this.row(e));
    while (rows.children.length > 300) rows.lastChild.remove();
    $('req-empty').hidden = true;
    const n = rows.children.length;
    $('req-count').textContent = `Showing ${n} of ${this.entries.length} kept requests.`;
  },
  updateModels() {
    const sel = $('req-filter-model');
    const have = new Set([...sel.options].map((o) => o.value));
    for (const m of new Set(this.entries.map((e) => e.model).filter(Boolean))) {
      if (!have.has(m)) sel.append(el('option', { value: m, text: m }));
    }
  },
  updatePause() {
    const b = $('req-pause');
    b.setAttribute('aria-pressed', String(this.paused));
    b.textContent = this.paused ? (this.pending.length ? `Resume (${this.pending.length} new)` : 'Resume') : 'Pause';
  },
  togglePause() {
    this.paused = !this.paused;
    if (!this.paused && this.pending.length) {
      this.entries = [...this.pending, ...this.entries].slice(0, 500);
      this.pending = [];
      this.render();
    }
    this.updatePause();
    this.showLive();
  },
  detail(id) {
    const e = this.entries.find((x) => String(x.id) === String(id));
    if (!e) return;
    const degs = e.degradations || [];
    const rows = [
      ['When', new Date(e.at).toLocaleString()],
      ['Endpoint', e.endpoint],
      ['Requested model', e.model],
      ['Lane', e.lane],
      ['Provider', e.provider || (e.lane === 'codex' ? 'ChatGPT Codex' : '–')],
      ['Upstream model', e.upstream_model],
      ['Effort', e.effort],
      ['Account', e.account],
      ['Streamed', e.stream === undefined ? undefined : e.stream ? 'yes' : 'no'],
      ['Status', String(e.status)],
      ['Error type', e.error_type || 'none'],
      [e.stream ? 'Time to commit' : 'Time', fmt.ms(e.ms)],
      ['Attempts', e.attempts],
      ['Degradations', String(e.degradations_total ?? degs.length)],
    ].filter(([, v]) => v !== undefined && v !== null && v !== '');
    const dl = el('dl', { class: 'detail' }, rows.map(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));
    const list = el('ul', { class: 'deg-list', id: 'log-degs' }, degs.map((d) => degItem(d)));
    const more = (e.degradations_total || 0) > degs.length ? el('p', { class: 'hint', text: `…and ${e.degradations_total - degs.length} more not kept.` }) : null;
    $('h-dlg-log').textContent = `Request ${e.id}`;
    $('log-detail').replaceChildren(...[dl, el('h3', { text: 'What the conversion could not carry' }), list, more].filter(Boolean));
    openDialog($('dlg-log'));
  },
};
pageHooks.requests = requests;

function degText(d) {
  if (typeof d === 'string') return d;
  if (!d) return '';
  return [d.path, d.kind, d.detail].filter(Boolean).join(' — ');
}

function degItem(d) {
  if (typeof d === 'string') return el('li', { text: d });
  return el('li', {}, el('code', { text: d.path || '(request)' }), ' ', el('span', { class: 'kind', text: d.kind || '' }), d.detail ? `: ${d.detail}` : '');
}

function initRequests() {
  const rerender = () => requests.render();
  for (const id of ['req-filter-model', 'req-filter-lane', 'req-filter-status']) $(id).addEventListener('change', rerender);
  $('req-filter-text').addEventListener('input', debounce(rerender, 150));
  $('req-filters').addEventListener('submit', (e) => e.preventDefault());
  $('req-pause').addEventListener('click', () => requests.togglePause());
  $('req-clear').addEventListener('click', async (e) => {
    const ok = await confirmDialog('Clear the request log?', 'Every kept entry is removed from the proxy. New requests still appear.', 'Clear log', e.currentTarget);
    if (!ok) return;
    try {
      await api('/logs', { method: 'DELETE' });
      requests.entries = [];
      requests.pending = [];
      requests.render();
      requests.updatePause();
      toast('Request log cleared.');
    } catch (err) {
      toast('Could not clear: ' + err.message, 'error');
    }
  });
  $('req-rows').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-log-id]');
    if (tr) requests.detail(tr.dataset.logId);
  });
}

// ---------------------------------------------------------------------------------------------
// Settings.

const EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'];

const settings = {
  data: null,
  rules: [],
  fallback: null,
  providers: [],
  dirty: false,
  loaded: false,
  async enter() {
    if (!this.dirty) await this.load();
  },
  async load() {
    const [s, haiku, strat, kilo] = await Promise.allSettled([
      api('/api/settings'), api('/settings/haiku-model'), api('/settings/account-strategy'), api('/kilo/models')]);
    if (s.status === 'fulfilled') {
      this.apply(s.value);
      $('settings-save').disabled = false;
    } else {
      this.data = null;
      setSaveStatus(s.reason.status === 404 ? 'This build has no settings API (PUT /api/settings); only the account and Haiku settings below apply.' : 'Could not load the settings: ' + s.reason.message, 'error');
      $('settings-save').disabled = true;
      this.rules = [];
      this.renderRules();
      this.renderProviders();
    }
    if (haiku.status === 'fulfilled') showHaiku(haiku.value);
    if (strat.status === 'fulfilled') $('set-strategy').value = strat.value.strategy;
    if (kilo.status === 'fulfilled') this.renderKilo(kilo.value);
    else $('kilo-source').textContent = 'Could not list Kilo models: ' + kilo.reason.message;
    $('settings-form').dataset.loaded = 'true';
    previewRoute();
  },
  apply(s) {
    this.data = s;
    this.rules = (s.routing && s.routing.rules ? s.routing.rules : []).map((r) => ({ ...r }));
    this.fallback = { ...(s.routing && s.routing.fallback ? s.routing.fallback : { match: '*', lane: 'codex', provider: null, model: 'gpt-5.5', effort: 'medium' }) };
    this.providers = (s.providers || []).map((p) => ({ ...p, models: [...(p.models || [])] }));
    $('set-config-path').textContent = s.config_path || 'the config file';
    const t = s.timeouts || {};
    $('set-first-byte').value = t.first_byte_timeout_secs ?? '';
    $('set-idle').value = t.idle_timeout_secs ?? '';
    $('set-ping').value = t.ping_interval_secs ?? '';
    $('set-commit').value = t.commit_timeout_secs ?? '';
    $('set-max-attempts').value = s.max_attempts ?? '';
    if (s.strategy) $('set-strategy').value = s.strategy;
    this.renderRules();
    this.renderProviders();
    this.setDirty(false);
  },
  setDirty(d) {
    this.dirty = d;
    $('settings-form').classList.toggle('dirty', d);
    if (d) setSaveStatus('Unsaved changes.', 'dirty');
    else if ($('settings-status').dataset.state === 'dirty') setSaveStatus('', 'idle');
  },
  providerNames() {
    return this.providers.map((p) => p.name).filter(Boolean);
  },
  ruleRow(r, i, fallback) {
    const n = fallback ? 'fallback' : String(i + 1);
    const label = fallback ? 'Fallback rule' : `Rule ${i + 1}`;
    const match = fallback
      ? el('span', { class: 'fixed', text: '* (anything else)' })
      : el('input', { value: r.match || '', 'aria-label': `${label}: match`, dataset: { field: 'match' }, spellcheck: 'false', autocomplete: 'off' });
    const lane = el('select', { 'aria-label': `${label}: lane`, dataset: { field: 'lane' } },
      el('option', { value: 'codex', text: 'Codex' }), el('option', { value: 'chat', text: 'Chat' }));
    lane.value = r.lane === 'chat' ? 'chat' : 'codex';
    const provider = el('select', { 'aria-label': `${label}: provider`, dataset: { field: 'provider' } },
      el('option', { value: '', text: '—' }), this.providerNames().map((p) => el('option', { value: p, text: p })));
    if (r.provider && !this.providerNames().includes(r.provider)) provider.append(el('option', { value: r.provider, text: r.provider }));
    provider.value = r.provider || '';
    provider.disabled = lane.value !== 'chat';
    lane.addEventListener('change', () => {
      provider.disabled = lane.value !== 'chat';
      if (lane.value === 'chat' && !provider.value && this.providerNames().length) provider.value = this.providerNames()[0];
    });
    const model = el('input', { value: r.model || '', 'aria-label': `${label}: upstream model`, dataset: { field: 'model' }, list: 'dl-models', spellcheck: 'false', autocomplete: 'off' });
    const effort = el('select', { 'aria-label': `${label}: effort`, dataset: { field: 'effort' } }, EFFORTS.map((x) => el('option', { value: x, text: x })));
    if (r.effort && !EFFORTS.includes(r.effort)) effort.append(el('option', { value: r.effort, text: r.effort }));
    effort.value = r.effort || 'medium';
    const acts = fallback ? el('td', { class: 'acts' }) : el('td', { class: 'acts' }, el('div', { class: 'btn-row' },
      el('button', { type: 'button', class: 'small icon', dataset: { act: 'up' }, 'aria-label': `Move rule ${i + 1} up`, disabled: i === 0, text: '↑' }),
      el('button', { type: 'button', class: 'small icon', dataset: { act: 'down' }, 'aria-label': `Move rule ${i + 1} down`, disabled: i === this.rules.length - 1, text: '↓' }),
      el('button', { type: 'button', class: 'small icon danger', dataset: { act: 'remove' }, 'aria-label': `Remove rule ${i + 1}`, text: '✕' })));
    return el('tr', { dataset: { rule: n } },
      el('td', { class: 'n', text: fallback ? '—' : String(i + 1) }), el('td', {}, match), el('td', {}, lane), el('td', {}, provider),
      el('td', {}, model), el('td', {}, effort), acts);
  },
  renderRules() {
    $('route-rows').replaceChildren(...this.rules.map((r, i) => this.ruleRow(r, i, false)));
    $('route-fallback').replaceChildren(this.fallback ? this.ruleRow(this.fallback, 0, true) : '');
    const models = new Set(['gpt-5.5', 'gpt-5.4', 'gpt-5.4-mini', 'gpt-5.3-codex-spark', '*']);
    for (const p of this.providers) for (const m of p.models || []) models.add(m);
    $('dl-models').replaceChildren(...[...models].map((m) => el('option', { value: m })));
  },
  readRule(tr) {
    const get = (f) => tr.querySelector(`[data-field="${f}"]`);
    const lane = get('lane').value;
    return {
      match: tr.dataset.rule === 'fallback' ? '*' : get('match').value.trim(),
      lane,
      provider: lane === 'chat' ? (get('provider').value || null) : null,
      model: get('model').value.trim(),
      effort: get('effort').value,
    };
  },
  syncRules() {
    this.rules = [...$('route-rows').querySelectorAll('tr[data-rule]')].map((tr) => this.readRule(tr));
    const fb = $('route-fallback').querySelector('tr[data-rule]');
    if (fb) this.fallback = this.readRule(fb);
  },
  providerBox(p, i) {
    const label = p.name || `provider ${i + 1}`;
    const fid = (f) => `prov-${i}-${f}`;
    const box = el('fieldset', { class: 'prov', dataset: { provider: String(i) } },
      el('legend', { text: p.name ? `Provider “${p.name}”` : 'New provider' }),
      el('div', { class: 'form-grid' },
        el('div', { class: 'field' }, el('label', { for: fid('name'), text: 'Name' }),
          el('input', { id: fid('name'), value: p.name || '', dataset: { field: 'name' }, autocomplete: 'off', spellcheck: 'false' })),
        el('div', { class: 'field' }, el('label', { for: fid('base'), text: 'Base URL' }),
          el('input', { id: fid('base'), type: 'url', value: p.base_url || '', dataset: { field: 'base_url' }, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://…/v1' })),
        el('div', { class: 'field' }, el('label', { for: fid('models'), text: 'Models (one per line)' }),
          el('textarea', { id: fid('models'), rows: '3', class: 'code', dataset: { field: 'models' }, spellcheck: 'false', value: (p.models || []).join('\n') })),
        el('div', { class: 'field' }, el('label', { for: fid('key'), text: 'API key' }),
          el('input', { id: fid('key'), type: 'password', value: p.api_key || '', dataset: { field: 'api_key' }, autocomplete: 'new-password', placeholder: p.key_set ? 'set (type to replace)' : 'not set', 'aria-describedby': fid('keyhint') }),
          el('p', { class: 'hint', id: fid('keyhint'), text: p.key_set ? 'A key is set. It is never shown; leave empty to keep it.' : 'No key is set.' }))),
      el('div', { class: 'btn-row' }, el('button', { type: 'button', class: 'small danger', dataset: { act: 'remove-provider' }, 'aria-label': `Remove provider ${label}`, text: 'Remove provider' })));
    return box;
  },
  renderProviders() {
    $('prov-list').replaceChildren(...this.providers.map((p, i) => this.providerBox(p, i)));
    if (!this.providers.length) $('prov-list').append(el('p', { class: 'muted', text: 'No Chat provider: the Chat lane is off.' }));
  },
  syncProviders() {
    this.providers = [...$('prov-list').querySelectorAll('fieldset[data-provider]')].map((fs) => {
      const i = Number(fs.dataset.provider);
      const get = (f) => fs.querySelector(`[data-field="${f}"]`).value;
      const old = this.providers[i] || {};
      const p = {
        name: get('name').trim(),
        base_url: get('base_url').trim(),
        models: get('models').split(/[\n,]/).map((m) => m.trim()).filter(Boolean),
        key_set: old.key_set,
      };
      const key = get('api_key');
      if (key) p.api_key = key;
      return p;
    });
  },
  renderKilo(k) {
    const src = { live: 'Discovered just now from Kilo\'s model list.', cache: 'From Kilo\'s model list (discovered within the last 10 minutes).', fallback: 'Built-in fallback list: discovery failed or no kilo provider is configured.' };
    $('kilo-source').textContent = (src[k.source] || `Source: ${k.source}.`) + ` ${k.models.length} free model${k.models.length === 1 ? '' : 's'}.`;
    $('kilo-source').dataset.source = k.source;
    $('kilo-pick').replaceChildren(...(k.models || []).map((m) => el('option', { value: m.id,
      text: `${m.id}${m.name ? ' — ' + m.name : ''}${m.context_length ? ` · ${fmt.compact(m.context_length)} context` : ''}${m.tools === false ? ' · no tools' : ''}` })));
  },
  collect() {
    this.syncRules();
    this.syncProviders();
    const num = (id) => { const v = $(id).value.trim(); return v === '' ? undefined : Number(v); };
    const body = {
      routing: { rules: this.rules, fallback: this.fallback },
      timeouts: {
        first_byte_timeout_secs: num('set-first-byte'),
        idle_timeout_secs: num('set-idle'),
        ping_interval_secs: num('set-ping'),
        commit_timeout_secs: num('set-commit'),
      },
      max_attempts: num('set-max-attempts'),
      providers: this.providers.map(({ key_set: _k, ...p }) => p),
    };
    return body;
  },
  validate(body) {
    for (const [i, r] of body.routing.rules.entries()) {
      if (!r.match) return [`Rule ${i + 1}: the match pattern is empty.`, `#route-rows tr[data-rule="${i + 1}"] [data-field="match"]`];
      if (!r.model) return [`Rule ${i + 1}: the upstream model is empty.`, `#route-rows tr[data-rule="${i + 1}"] [data-field="model"]`];
      if (r.lane === 'chat' && !r.provider) return [`Rule ${i + 1}: a Chat rule needs a provider.`, `#route-rows tr[data-rule="${i + 1}"] [data-field="provider"]`];
    }
    if (!body.routing.fallback.model) return ['The fallback rule needs an upstream model.', '#route-fallback [data-field="model"]'];
    if (body.routing.fallback.lane === 'chat' && !body.routing.fallback.provider) return ['The fallback rule is on the Chat lane: pick its provider.', '#route-fallback [data-field="provider"]'];
    for (const [k, id] of [['first_byte_timeout_secs', 'set-first-byte'], ['idle_timeout_secs', 'set-idle'], ['ping_interval_secs', 'set-ping'], ['commit_timeout_secs', 'set-commit']]) {
      const v = body.timeouts[k];
      if (v !== undefined && !(v > 0)) return ['Timeouts must be more than 0 seconds.', '#' + id];
    }
    if (body.max_attempts !== undefined && !(Number.isInteger(body.max_attempts) && body.max_attempts >= 1 && body.max_attempts <= 10)) return ['Attempts per request must be a whole number from 1 to 10.', '#set-max-attempts'];
    const names = new Set();
    for (const [i, p] of body.providers.entries()) {
      if (!p.name) return [`Provider ${i + 1} needs a name.`, `#prov-${i}-name`];
      if (names.has(p.name)) return [`Two providers are named “${p.name}”.`, `#prov-${i}-name`];
      names.add(p.name);
      if (!/^https?:\/\//.test(p.base_url)) return [`Provider “${p.name}”: the base URL must start with http:// or https://.`, `#prov-${i}-base`];
    }
    return null;
  },
  async save() {
    const body = this.collect();
    const bad = this.validate(body);
    if (bad) {
      setSaveStatus(bad[0], 'error');
      const f = document.querySelector(bad[1]);
      if (f) f.focus();
      return;
    }
    for (const k of Object.keys(body.timeouts)) if (body.timeouts[k] === undefined) delete body.timeouts[k];
    if (body.max_attempts === undefined) delete body.max_attempts;
    setSaveStatus('Saving…', 'saving');
    $('settings-save').disabled = true;
    try {
      const s = await api('/api/settings', { method: 'PUT', body });
      this.apply(s);
      setSaveStatus(`Saved at ${fmt.time(Date.now())}: applied live and written to ${s.config_path || 'the config file'}.`, 'ok');
      modelsCache = null;
      previewRoute();
    } catch (e) {
      setSaveStatus('Not saved: ' + e.message, 'error');
    } finally {
      $('settings-save').disabled = false;
    }
  },
};
pageHooks.settings = settings;

function setSaveStatus(text, state) {
  const s = $('settings-status');
  s.textContent = text;
  s.dataset.state = state || 'idle';
}

function showHaiku(r) {
  $('set-haiku').value = r.haikuModel || '';
  $('haiku-status').textContent = (r.haikuModel ? `Haiku requests go to ${r.haikuModel}` : 'Haiku requests follow the routing table') + ' ' + describeRoute(r.route);
}

const previewRoute = debounce(async () => {
  const id = $('route-preview-model').value.trim();
  const out = $('route-preview-out');
  if (!id) { out.textContent = ''; return; }
  try {
    const r = await api('/api/route?model=' + encodeURIComponent(id));
    out.textContent = describeRoute(r);
    out.dataset.lane = r.lane;
  } catch (e) {
    out.textContent = e.status === 404 ? 'This build cannot preview routes.' : 'Preview failed: ' + e.message;
    delete out.dataset.lane;
  }
}, 250);

function initSettings() {
  const form = $('settings-form');
  form.addEventListener('input', (e) => {
    if (e.target.closest('#route-table, #prov-list, .form-grid') && !e.target.closest('.kilo')) settings.setDirty(true);
  });
  form.addEventListener('change', (e) => {
    if (e.target.closest('#route-table, #prov-list')) settings.setDirty(true);
  });
  form.addEventListener('submit', (e) => { e.preventDefault(); settings.save(); });
  $('settings-reload').addEventListener('click', async () => { settings.setDirty(false); await settings.load(); setSaveStatus('Reloaded from the proxy.', 'idle'); });
  $('route-add').addEventListener('click', () => {
    settings.syncRules();
    settings.rules.push({ match: '', lane: 'codex', provider: null, model: 'gpt-5.5', effort: 'medium' });
    settings.renderRules();
    settings.setDirty(true);
    const rows = $('route-rows').querySelectorAll('tr[data-rule]');
    rows[rows.length - 1].querySelector('[data-field="match"]').focus();
  });
  $('route-rows').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    settings.syncRules();
    const i = Number(b.closest('tr').dataset.rule) - 1;
    const r = settings.rules;
    let focusIndex = i;
    if (b.dataset.act === 'up' && i > 0) { [r[i - 1], r[i]] = [r[i], r[i - 1]]; focusIndex = i - 1; }
    else if (b.dataset.act === 'down' && i < r.length - 1) { [r[i + 1], r[i]] = [r[i], r[i + 1]]; focusIndex = i + 1; }
    else if (b.dataset.act === 'remove') { r.splice(i, 1); focusIndex = Math.min(i, r.length - 1); }
    settings.renderRules();
    settings.setDirty(true);
    const row = $('route-rows').querySelector(`tr[data-rule="${focusIndex + 1}"]`);
    const target = row && (row.querySelector(`[data-act="${b.dataset.act}"]:not(:disabled)`) || row.querySelector('[data-field="match"]'));
    (target || $('route-add')).focus();
  });
  $('prov-add').addEventListener('click', () => {
    settings.syncProviders();
    settings.providers.push({ name: '', base_url: '', models: [], key_set: false });
    settings.renderProviders();
    settings.renderRules();
    settings.setDirty(true);
    $(`prov-${settings.providers.length - 1}-name`).focus();
  });
  $('prov-list').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-act="remove-provider"]');
    if (!b) return;
    settings.syncProviders();
    const i = Number(b.closest('fieldset').dataset.provider);
    const name = settings.providers[i].name || 'this provider';
    const ok = await confirmDialog('Remove this provider?', `${name} is removed when you save. Rules that use it must be changed too.`, 'Remove', b);
    if (!ok) return;
    settings.providers.splice(i, 1);
    settings.syncRules();
    settings.renderProviders();
    settings.renderRules();
    settings.setDirty(true);
    $('prov-add').focus();
  });
  $('route-preview-model').addEventListener('input', previewRoute);
  $('set-strategy').addEventListener('change', async () => {
    const st = $('strategy-status');
    try {
      const r = await post('/settings/account-strategy', { strategy: $('set-strategy').value });
      st.textContent = `Now ${r.strategy}.`;
      st.dataset.state = 'ok';
    } catch (e) {
      st.textContent = 'Not changed: ' + e.message;
      st.dataset.state = 'error';
    }
  });
  const setHaiku = async (value) => {
    try {
      showHaiku(await post('/settings/haiku-model', { haikuModel: value }));
      previewRoute();
    } catch (e) {
      $('haiku-status').textContent = 'Not changed: ' + e.message;
    }
  };
  $('haiku-set').addEventListener('click', () => setHaiku($('set-haiku').value.trim() || null));
  $('set-haiku').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); setHaiku($('set-haiku').value.trim() || null); } });
  $('haiku-reset').addEventListener('click', () => setHaiku(null));
  $('kilo-haiku').addEventListener('click', () => { if ($('kilo-pick').value) setHaiku($('kilo-pick').value); });
  $('kilo-add').addEventListener('click', () => {
    const id = $('kilo-pick').value;
    if (!id) return;
    settings.syncProviders();
    const kilo = settings.providers.find((p) => p.name === 'kilo');
    if (!kilo) { toast('There is no provider named kilo.', 'error'); return; }
    if (kilo.models.includes(id)) { toast(`${id} is already listed.`); return; }
    kilo.models.push(id);
    settings.renderProviders();
    settings.setDirty(true);
    toast(`${id} added to kilo's models: save to apply.`);
  });
}

// ---------------------------------------------------------------------------------------------
// Clients.

const clients = {
  info: null,
  mode: null,
  async enter() {
    await Promise.allSettled([this.loadClaude(), this.loadClients()]);
  },
  async loadClaude() {
    let c;
    try {
      c = await api('/claude/config');
    } catch (e) {
      $('claude-state').textContent = 'unknown';
      $('claude-status').textContent = 'Could not read Claude Code\'s settings: ' + e.message;
      return;
    }
    $('claude-path').textContent = c.path;
    const env = Object.entries(c.env || {});
    $('claude-env').replaceChildren(...(env.length ? env.map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { text: typeof v === 'string' ? v : JSON.stringify(v) })))
      : [el('tr', {}, el('td', { class: 'muted', colspan: '2', text: 'No ANTHROPIC_ or CLAUDE_ variables set: Claude Code talks to Anthropic directly.' }))]));
    const base = c.env && c.env.ANTHROPIC_BASE_URL;
    const ours = [location.origin, this.info && this.info.base_url].filter(Boolean).map((u) => u.replace(/\/$/, ''));
    const st = $('claude-state');
    if (!base) { st.textContent = 'Direct to Anthropic'; st.dataset.state = 'idle'; }
    else if (ours.includes(String(base).replace(/\/$/, '')) || /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/?$/.test(base)) { st.textContent = 'Using this proxy'; st.dataset.state = 'ok'; }
    else { st.textContent = 'Pointed elsewhere'; st.dataset.state = 'warn'; }
  },
  async loadClients() {
    let info;
    try {
      info = await api('/api/clients');
    } catch (e) {
      const msg = e.status === 404 ? 'This build does not describe client configs yet.' : 'Could not load: ' + e.message;
      for (const id of ['claude-shell', 'opencode-config', 'openclaw-config']) $(id).textContent = msg;
      return;
    }
    this.info = info;
    $('clients-base').textContent = info.base_url;
    $('claude-shell').textContent = info.claude_code && info.claude_code.shell ? info.claude_code.shell
      : Object.entries((info.claude_code && info.claude_code.env) || {}).map(([k, v]) => `export ${k}=${v}`).join('\n');
    for (const name of ['opencode', 'openclaw']) {
      const c = info[name] || {};
      $(name + '-file').textContent = c.file || '';
      $(name + '-config').textContent = c.config ? pretty(c.config) : '';
    }
  },
  async preview(mode, opener) {
    this.mode = mode;
    const box = $('claude-diff-box');
    $('claude-status').textContent = '';
    $('claude-apply').textContent = mode === 'proxy' ? 'Apply: use this proxy' : 'Apply: back to Anthropic';
    try {
      const p = await api('/claude/config/preview?mode=' + mode);
      $('claude-diff-path').textContent = p.path;
      const before = p.before ? pretty(p.before) : '';
      const after = pretty(p.after);
      const lines = lineDiff(before ? before.split('\n') : [], after.split('\n'));
      const add = lines.filter((l) => l[0] === '+').length;
      const del = lines.filter((l) => l[0] === '-').length;
      $('claude-diff').replaceChildren(...lines.map(([op, text]) => el('span', { class: op === '+' ? 'add' : op === '-' ? 'del' : 'ctx', text: `${op} ${text}` })));
      $('claude-diff-summary').textContent = (!p.before ? `The file does not exist yet: it will be created (${add} lines).`
        : add || del ? `${add} line${add === 1 ? '' : 's'} added, ${del} removed. A backup of the current file is kept.` : 'No change: the file already says this.')
        + (Array.isArray(p.changes) && p.changes.length ? ' ' + p.changes.join('; ') + '.' : '');
      $('claude-diff-box').dataset.changes = String(add + del);
    } catch (e) {
      $('claude-diff-path').textContent = 'settings.json';
      $('claude-diff').replaceChildren();
      $('claude-diff-summary').textContent = e.status === 404 ? 'This build cannot preview the change; applying still keeps a backup of the file.' : 'Preview failed: ' + e.message;
    }
    box.hidden = false;
    $('claude-apply').focus();
    void opener;
  },
  async apply() {
    const mode = this.mode;
    if (!mode) return;
    $('claude-apply').disabled = true;
    try {
      const r = await post(`/claude/config/${mode}`);
      const changes = r.changes || [];
      $('claude-status').textContent = changes.length ? `Written to ${r.path}: ${changes.join('; ')}${r.backup ? ` (backup: ${r.backup})` : ''}.` : 'Nothing to change.';
      $('claude-diff-box').hidden = true;
      this.mode = null;
      await this.loadClaude();
      $(mode === 'proxy' ? 'claude-preview-direct' : 'claude-preview-proxy').focus();
    } catch (e) {
      $('claude-status').textContent = 'Not applied: ' + e.message;
    } finally {
      $('claude-apply').disabled = false;
    }
  },
};
pageHooks.clients = clients;

// Line diff by longest common subsequence: [['+'|'-'|' ', line], …].
function lineDiff(a, b) {
  const n = a.length, m = b.length;
  if (n * m > 4e6) return [...a.map((l) => ['-', l]), ...b.map((l) => ['+', l])];
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = a[i] === b[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    }
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([' ', a[i]]); i++; j++; }
    else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) out.push(['-', a[i++]]);
    else out.push(['+', b[j++]]);
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}

function initClients() {
  $('claude-preview-proxy').addEventListener('click', (e) => clients.preview('proxy', e.currentTarget));
  $('claude-preview-direct').addEventListener('click', (e) => clients.preview('direct', e.currentTarget));
  $('claude-apply').addEventListener('click', () => clients.apply());
  $('claude-cancel').addEventListener('click', () => { $('claude-diff-box').hidden = true; clients.mode = null; $('claude-preview-proxy').focus(); });
}

// ---------------------------------------------------------------------------------------------
// Playground: the core's wasm-bindgen build, loaded the first time the page opens.

const DEFAULT_REQUEST = {
  model: 'claude-sonnet-4-5',
  max_tokens: 4096,
  system: [{ type: 'text', text: 'You are Claude Code, Anthropic\'s official CLI for Claude.' }, { type: 'text', text: 'Be brief. Use the tools when they help.', cache_control: { type: 'ephemeral' } }],
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'What is in README.md?' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Let me read it.' }, { type: 'tool_use', id: 'toolu_01', name: 'Read', input: { file_path: '/repo/README.md' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '# Demo\nA tiny project.' }, { type: 'text', text: 'Summarise it in one line.' }] },
  ],
  tools: [{ name: 'Read', description: 'Read a file from the local filesystem.', input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] } }],
  thinking: { type: 'enabled', budget_tokens: 2048 },
  temperature: 1,
  metadata: { user_id: 'user_demo' },
  stream: true,
};

const playground = {
  core: null,
  loading: null,
  samples: [],
  ctl: null,
  enter() {
    return this.load().catch(() => {});
  },
  load() {
    if (!this.loading) this.loading = this.init();
    return this.loading;
  },
  async init() {
    const status = $('pg-status');
    status.dataset.state = 'loading';
    status.textContent = 'Loading the converter…';
    if (!$('pg-request').value) $('pg-request').value = pretty(DEFAULT_REQUEST);
    const samples = fetch('/ui/samples.json').then((r) => (r.ok ? r.json() : [])).catch(() => []);
    const prefill = this.prefill().catch(() => {});
    let core;
    try {
      core = await import('/ui/wasm/proxy_web.js');
      await core.default({ module_or_path: '/ui/wasm/proxy_web_bg.wasm' });
    } catch (e) {
      status.dataset.state = 'missing';
      status.textContent = 'The converter is not built: run `bash web/build.sh` and reload.';
      await Promise.all([samples, prefill]);
      this.loading = null;
      throw new Error('playground wasm unavailable: ' + e.message);
    }
    this.core = core;
    this.samples = await samples;
    this.fillSamples();
    await prefill;
    const missing = ['convert_chat', 'count_tokens'].filter((f) => typeof core[f] !== 'function');
    status.dataset.state = 'ready';
    status.textContent = 'Converter ready: proxy-core in WebAssembly' + (missing.length ? ` (this build lacks ${missing.join(', ')})` : '');
    this.convert();
    this.replay();
    return core;
  },
  async prefill() {
    // Once, at load: the upstream model each lane would use for the request's model.
    let model = 'claude-sonnet-4-5';
    try { model = JSON.parse($('pg-request').value).model || model; } catch { /* keep the default */ }
    const r = await routeOf(model);
    const other = await routeOf(r && r.lane === 'chat' ? 'claude-sonnet-4-5' : 'claude-haiku-4-5');
    const codex = r && r.lane === 'codex' ? r.model : other && other.lane === 'codex' ? other.model : null;
    const chat = r && r.lane === 'chat' ? r.model : other && other.lane === 'chat' ? other.model : null;
    if (codex) $('pg-codex-model').value = codex;
    if (chat) $('pg-chat-model').value = chat;
  },
  fillSamples() {
    const sel = $('pg-sample');
    const groups = { codex: el('optgroup', { label: 'Codex (Responses API)' }), chat: el('optgroup', { label: 'Chat Completions' }) };
    this.samples.forEach((s, i) => (groups[s.lane] || groups.codex).append(el('option', { value: String(i), text: s.name })));
    sel.replaceChildren(el('option', { value: '', text: 'Custom (paste below)' }), groups.codex, groups.chat);
    if (this.samples.length) { sel.value = '0'; this.pickSample(); }
  },
  pickSample() {
    const s = this.samples[Number($('pg-sample').value)];
    if (!s || $('pg-sample').value === '') { $('pg-sample-desc').textContent = ''; return; }
    $('pg-sse').value = s.sse;
    $('pg-lane').value = s.lane;
    if (s.model) $('pg-client-model').value = s.model;
    $('pg-thinking').checked = !!s.thinking;
    $('pg-sample-desc').textContent = s.description || '';
  },
  call(fn, ...args) {
    if (!this.core || typeof this.core[fn] !== 'function') return null;
    try { return JSON.parse(this.core[fn](...args)); } catch (e) { return { error: { type: 'playground', message: e.message } }; }
  },
  convert() {
    if (!this.core) return;
    const req = $('pg-request').value;
    const lanes = [
      ['codex', 'convert', $('pg-codex-model').value.trim() || 'gpt-5.5'],
      ['chat', 'convert_chat', $('pg-chat-model').value.trim() || 'kilo-auto/free'],
    ];
    for (const [lane, fn, model] of lanes) {
      const out = this.call(fn, req, model);
      const body = $(`pg-${lane}-body`);
      const degs = $(`pg-${lane}-degs`);
      if (!out) {
        body.textContent = `This build of the converter has no ${fn}().`;
        degs.replaceChildren();
      } else if (out.error) {
        body.replaceChildren(el('span', { class: 'error', text: `${out.error.type}: ${out.error.message}` }));
        degs.replaceChildren();
      } else {
        body.textContent = pretty(out.body);
        degs.replaceChildren(...(out.degradations || []).map(degItem));
      }
      const t = this.call('count_tokens', req, lane, model);
      $(`pg-${lane}-tokens`).textContent = !t ? 'n/a in this build' : t.error ? '–' : `${fmt.int(t.input_tokens)}${t.exact ? '' : ' (estimate)'}`;
    }
  },
  replay() {
    if (!this.core) return;
    const fn = $('pg-lane').value === 'chat' ? 'translate_chat' : 'translate';
    const out = this.call(fn, $('pg-sse').value, $('pg-client-model').value.trim() || 'claude-sonnet-4-5', $('pg-thinking').checked);
    const list = $('pg-events');
    if (!out || out.error) {
      list.replaceChildren(el('li', { class: 'err' }, el('span', { class: 'ev', text: 'error' }), out ? out.error.message : 'unavailable'));
      $('pg-message').textContent = '';
      return;
    }
    const frames = (out.sse || '').split('\n\n').map(parseFrame).filter(Boolean);
    list.replaceChildren(...frames.map((f) => el('li', { class: f.event === 'error' ? 'err' : '', dataset: { event: f.event } },
      el('span', { class: 'ev', text: f.event }), el('code', { text: f.data }))));
    $('pg-message').textContent = pretty(out.message);
  },
  async send() {
    if (this.ctl) return;
    let body;
    try { body = JSON.parse($('pg-request').value); } catch (e) {
      $('pg-live-meta').textContent = 'The request is not valid JSON: ' + e.message;
      $('pg-live-box').dataset.state = 'error';
      return;
    }
    this.ctl = new AbortController();
    $('pg-send').disabled = true;
    $('pg-send-stop').disabled = false;
    await streamMessage(body, { box: $('pg-live-box'), output: $('pg-live'), thinking: $('pg-live-thinking'), meta: $('pg-live-meta') }, this.ctl.signal);
    this.ctl = null;
    $('pg-send').disabled = false;
    $('pg-send-stop').disabled = true;
  },
};
pageHooks.playground = playground;

function initPlayground() {
  const conv = debounce(() => playground.convert(), 250);
  for (const id of ['pg-request', 'pg-codex-model', 'pg-chat-model']) $(id).addEventListener('input', conv);
  const rep = debounce(() => playground.replay(), 250);
  $('pg-sse').addEventListener('input', () => { $('pg-sample').value = ''; $('pg-sample-desc').textContent = ''; rep(); });
  for (const id of ['pg-lane', 'pg-thinking']) $(id).addEventListener('change', () => playground.replay());
  $('pg-client-model').addEventListener('input', rep);
  $('pg-sample').addEventListener('change', () => { playground.pickSample(); playground.replay(); });
  $('pg-replay').addEventListener('click', () => playground.replay());
  $('pg-send').addEventListener('click', () => playground.send());
  $('pg-send-stop').addEventListener('click', () => playground.ctl && playground.ctl.abort());
  // For tests: the same module instance the page uses; reading `ready` starts the load.
  window.ccpPlayground = {
    get ready() { return playground.load(); },
    run_vector(job) {
      if (!playground.core) throw new Error('the playground is not loaded yet: await ccpPlayground.ready');
      return playground.core.run_vector(typeof job === 'string' ? job : JSON.stringify(job));
    },
  };
}

// ---------------------------------------------------------------------------------------------

function start() {
  initDialogs();
  initShell();
  initOverview();
  initAccounts();
  initRequests();
  initSettings();
  initClients();
  initPlayground();
  route(false);
  // The version badge, whatever page opened first.
  fetch('/health', { cache: 'no-store' }).then((r) => r.json()).then((h) => { $('version').textContent = 'v' + h.version; }).catch(() => {
    banner('The proxy does not answer /health.');
  });
}

start();
