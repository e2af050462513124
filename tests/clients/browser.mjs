// Debian's Chromium through playwright-core, headless, with a throwaway profile and nothing
// that reaches past 127.0.0.1 (no component updates, sync or background networking).
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function launch() {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'ccp-browser-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run'],
  });
}

// A page on `url`, with the script errors it throws collected in `errors`.
export async function open(browser, url) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url);
  return { page, errors };
}
