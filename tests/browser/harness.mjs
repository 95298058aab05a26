// harness.mjs — headless Chromium for the browser tests (Debian's chromium driven by
// playwright-core; `npx playwright install` is not needed and not used).
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT = join(ROOT, 'tests', 'out', 'browser');
export const CHROMIUM = process.env.PLM_CHROMIUM || '/usr/bin/chromium';

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
 * Why the browser tests cannot run here (null if they can). Under PLM_REQUIRE_BROWSER
 * (set by `npm test`, which installs Chromium and playwright-core first) a missing
 * browser is an error, not a skip: a skipped test proves nothing.
 */
export async function unavailable() {
  const why = await missingBrowser();
  if (why && process.env.PLM_REQUIRE_BROWSER) throw new Error(`the browser tests must run here, but ${why}`);
  return why;
}

async function missingBrowser() {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  return null;
}

/** A fresh browser profile; returns { context, close() }. */
export async function launch({ viewport = { width: 1100, height: 900 } } = {}) {
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
    profile,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
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

export function outPath(name) {
  mkdirSync(OUT, { recursive: true });
  return join(OUT, name);
}
