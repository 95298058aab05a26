// harness.mjs — headless browsers for the browser tests: Chromium (Debian's chromium
// driven by playwright-core) and Firefox ESR (Debian's firefox-esr driven by
// puppeteer-core over WebDriver BiDi); no browser download (`npx playwright install`)
// is needed or used. Both give the tests the same page API (playwright's, the subset
// the tests use: FirefoxPage below maps it onto puppeteer's).
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT = join(ROOT, 'tests', 'out', 'browser');
export const CHROMIUM = process.env.PLM_CHROMIUM || '/usr/bin/chromium';
export const FIREFOX = process.env.PLM_FIREFOX || '/usr/bin/firefox-esr';
/** The browsers the tests run in (PLM_BROWSERS=chromium,firefox narrows it). */
export const BROWSERS = (process.env.PLM_BROWSERS || 'chromium,firefox').split(',').map((b) => b.trim()).filter(Boolean);

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Why the browser tests cannot run here in `browser` (null if they can). Under
 * PLM_REQUIRE_BROWSER (set by `npm test`, which installs the browsers and the drivers
 * first) a missing browser is an error, not a skip: a skipped test proves nothing.
 */
export async function unavailable(browser = 'chromium') {
  const why = await missingBrowser(browser);
  if (why && process.env.PLM_REQUIRE_BROWSER) throw new Error(`the browser tests must run here in ${browser}, but ${why}`);
  return why;
}

async function missingBrowser(browser) {
  if (browser === 'firefox') {
    if (!existsSync(FIREFOX)) return `no Firefox at ${FIREFOX} (apt-get install firefox-esr)`;
    try {
      await import('puppeteer-core');
    } catch {
      return 'puppeteer-core is not installed (npm install)';
    }
    return null;
  }
  if (browser !== 'chromium') return `unknown browser ${browser} (chromium or firefox)`;
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  return null;
}

/** A fresh browser profile; returns { context (newPage()), browser, version, close() }. */
export async function launch({ browser = 'chromium', viewport = { width: 1100, height: 900 } } = {}) {
  if (browser === 'firefox') return launchFirefox({ viewport });
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'plm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport,
  });
  return {
    context,
    browser: 'chromium',
    version: context.browser()?.version() ?? '',
    profile,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function launchFirefox({ viewport }) {
  const { default: puppeteer } = await import('puppeteer-core');
  const profile = mkdtempSync(join(tmpdir(), 'plm-firefox-'));
  const b = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    defaultViewport: viewport,
    // (no update checks, no first-run pages; the rest is puppeteer's automation profile)
    extraPrefsFirefox: { 'app.update.enabled': false, 'browser.shell.checkDefaultBrowser': false },
  });
  const version = (await b.version()).replace(/^firefox\//i, '');
  return {
    context: { newPage: async () => new FirefoxPage(await b.newPage()) },
    browser: 'firefox',
    version,
    profile,
    pid: b.process()?.pid,
    async close() {
      await b.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A puppeteer page behind the part of playwright's Page API the tests use. */
class FirefoxPage {
  #p;
  constructor(page) {
    this.#p = page;
  }
  on(event, f) {
    this.#p.on(event, f);
  }
  goto(url) {
    return this.#p.goto(url, { waitUntil: 'load', timeout: 120000 });
  }
  url() {
    return this.#p.url();
  }
  evaluate(fn, arg) {
    return this.#p.evaluate(fn, arg);
  }
  waitForFunction(fn, arg, { timeout = 30000 } = {}) {
    return this.#p.waitForFunction(fn, { timeout, polling: 50 }, arg);
  }
  waitForSelector(selector, { timeout = 30000 } = {}) {
    return this.#p.waitForSelector(selector, { timeout });
  }
  async click(selector) {
    await this.#p.waitForSelector(selector, { visible: true, timeout: 30000 });
    await this.#p.click(selector);
  }
  /** playwright's fill(): focus, set the value, an input event. */
  async fill(selector, value) {
    await this.#p.waitForSelector(selector, { visible: true, timeout: 30000 });
    await this.#p.$eval(
      selector,
      (e, v) => {
        e.focus();
        e.value = v;
        e.dispatchEvent(new Event('input', { bubbles: true }));
        e.dispatchEvent(new Event('change', { bubbles: true }));
      },
      value,
    );
  }
  async selectOption(selector, value) {
    await this.#p.waitForSelector(selector, { timeout: 30000 });
    await this.#p.select(selector, value);
  }
  $eval(selector, fn, arg) {
    return this.#p.$eval(selector, fn, arg);
  }
  $$eval(selector, fn, arg) {
    return this.#p.$$eval(selector, fn, arg);
  }
  textContent(selector) {
    return this.#p.$eval(selector, (e) => e.textContent);
  }
  screenshot(options) {
    return this.#p.screenshot(options);
  }
  setViewportSize(size) {
    return this.#p.setViewport(size);
  }
  close() {
    return this.#p.close();
  }
}

/** A page that fails the test on uncaught errors; console lines are kept in page.logs. */
export async function newPage(context) {
  const page = await context.newPage();
  page.logs = [];
  page.errors = [];
  page.on('console', (m) => page.logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.errors.push(e));
  return page;
}

/** Where a screenshot goes: tests/out/browser/<browser>/<name>. */
export function outPath(name, browser = 'chromium') {
  mkdirSync(join(OUT, browser), { recursive: true });
  return join(OUT, browser, name);
}
