// The npm package as users get it: `npm pack`, install the tarball into a fresh
// project, run a generation from Node, and build a page with Vite whose output
// loads the .wasm files (and the model worker) in headless Chromium and Firefox;
// Vite builds of a BERT-only, a GPT-only and an everything app measure what
// tree-shaking leaves (the README's bundle sizes).
// Needs the npm registry (vite) and the wasm build; takes about a minute.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT } from '../../js/node.js';
import { createStaticServer } from '../../scripts/serve.mjs';
import { ROOT, BROWSERS, launch, newPage, outPath, unavailable } from '../browser/harness.mjs';

const MODEL = join(ROOT, 'models', 'gpt2-stories-F16.gguf');
const PROMPT = 'Once upon a time';
const OPTS = { maxTokens: 24, temperature: 0 };

let dir;
let tarball;
let expected;
const npmEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: npmEnv, timeout: 300000, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plm-pkg-'));
  const out = JSON.parse(sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT }));
  tarball = join(dir, out[0].filename);
  const gpt = await GPT.load(MODEL, { threads: 1 });
  expected = (await gpt.complete(PROMPT, OPTS)).text;
  gpt.dispose();
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds the wasm builds, the ESM entries, the types and nothing else', () => {
  const out = JSON.parse(sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT }));
  const files = out[0].files.map((f) => f.path);
  for (const f of ['dist/plm.wasm', 'dist/plm-simd.wasm', 'dist/plm-simd-mt.wasm', 'dist/plm-relaxed.wasm', 'dist/plm-relaxed-mt.wasm', 'js/index.js', 'js/node.js', 'js/index.d.ts', 'js/worker.js', 'js/workers/gpt.js', 'js/workers/bert.js', 'js/workers/t5.js', 'js/embed.js', 'js/core/worker-browser.js'])
    assert.ok(files.includes(f), `${f} is in the package`);
  assert.deepEqual(files.filter((f) => !/^(js\/|dist\/[^/]+\.wasm$|README\.md$|package\.json$|LICENSE)/.test(f)), []);
});

test('installed into a fresh project: Node generates the same text, the CLI runs', { timeout: 300000 }, () => {
  const app = join(dir, 'node-app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'node-app', private: true, type: 'module' }));
  sh('npm', ['install', '--no-save', '--ignore-scripts', '--offline', tarball], { cwd: app });
  writeFileSync(
    join(app, 'gen.mjs'),
    `import { GPT, ModelCache } from 'plm-wasm';
     const gpt = await GPT.load(${JSON.stringify(MODEL)});
     const r = await gpt.complete(${JSON.stringify(PROMPT)}, ${JSON.stringify(OPTS)});
     console.log(JSON.stringify({ text: r.text, runtime: gpt.runtime, cache: typeof ModelCache.list }));
     gpt.dispose();`,
  );
  const r = JSON.parse(sh(process.execPath, ['gen.mjs'], { cwd: app }));
  assert.equal(r.text, expected);
  assert.equal(r.runtime.worker, false);
  assert.equal(r.cache, 'function');
  const help = sh(join(app, 'node_modules', '.bin', 'plm-wasm'), ['--help'], { cwd: app });
  assert.match(help, /generate/);
});

// ------------------------------------------------------------------ Vite

let viteApp = null; // { app, installed } once vite and the tarball are installed

async function installVite(t) {
  if (viteApp) return viteApp;
  const app = join(dir, 'vite-app');
  mkdirSync(app, { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'vite-app', private: true, type: 'module' }));
  // vite 8 needs npm >= 11; use the major that installs
  const npmMajor = Number(sh('npm', ['--version']).split('.')[0]);
  const vites = npmMajor >= 11 ? ['vite@8', 'vite@7'] : ['vite@7'];
  for (const v of vites) {
    try {
      sh('npm', ['install', '--no-save', '--ignore-scripts', tarball, v], { cwd: app });
      viteApp = { app, installed: v };
      return viteApp;
    } catch (e) {
      t.diagnostic(`${v} did not install: ${e.message.split('\n')[0]}`);
    }
  }
  return null;
}

/** Build the page <app>/<name>/ (index.html + main.js) with Vite: its dist/ path. */
function viteBuild(app, name, main) {
  const root = join(app, name);
  mkdirSync(join(root, 'public'), { recursive: true });
  writeFileSync(
    join(root, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><title>vite + plm-wasm</title></head>
     <body><h1>plm-wasm in a Vite app</h1><pre id="out"></pre><script type="module" src="./main.js"></script></body></html>`,
  );
  writeFileSync(join(root, 'main.js'), main);
  const build = spawnSync(join(app, 'node_modules', '.bin', 'vite'), ['build', name, '--emptyOutDir'], { cwd: app, encoding: 'utf8', env: npmEnv, timeout: 300000 });
  assert.equal(build.status, 0, `${build.stdout}\n${build.stderr}`);
  return join(root, 'dist');
}

/**
 * The JavaScript a built app loads: the files index.html references, and the files
 * those reference (the model worker, its thread-pool worker), with their bytes, gzip
 * bytes and text. (Vite emits the worker of every class module it transforms, even
 * one tree-shaking then drops, so dist/ can hold files nothing loads: `unused`.)
 */
function jsOf(dist) {
  const all = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));
  const read = (f) => readFileSync(join(dist, 'assets', f), 'utf8');
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const files = [];
  const queue = all.filter((f) => html.includes(f));
  while (queue.length) {
    const f = queue.shift();
    if (files.includes(f)) continue;
    files.push(f);
    const text = read(f);
    for (const g of all) if (!files.includes(g) && text.includes(g)) queue.push(g);
  }
  const text = files.map(read).join('\n');
  return { files, unused: all.filter((f) => !files.includes(f)), bytes: Buffer.byteLength(text), gzip: gzipSync(text).length, text };
}

async function viteOrSkip(t) {
  const why = await unavailable('chromium');
  if (why) return t.skip(why);
  const v = await installVite(t);
  if (!v) {
    if (process.env.PLM_REQUIRE_BROWSER) assert.fail('vite could not be installed (is the npm registry reachable?)');
    return t.skip('vite could not be installed (no npm registry?)');
  }
  t.diagnostic(`built with ${v.installed}`);
  return v;
}

const GPT_PAGE = `import { GPT } from 'plm-wasm';
     const out = document.getElementById('out');
     try {
       const gpt = await GPT.load('/model.gguf');
       const r = await gpt.complete(${JSON.stringify(PROMPT)}, ${JSON.stringify(OPTS)});
       out.textContent = ${JSON.stringify(PROMPT)} + r.text;
       document.body.dataset.result = JSON.stringify({ text: r.text, runtime: gpt.runtime, tokens: Array.from(gpt.tokenize('Hello')) });
     } catch (e) {
       document.body.dataset.error = e.stack || String(e);
     }`;

test('a page built with Vite loads the .wasm files and the worker, and generates the same text (Chromium and Firefox)', { timeout: 900000 }, async (t) => {
  const v = await viteOrSkip(t);
  if (!v?.app) return;
  const dist = viteBuild(v.app, 'gpt', GPT_PAGE);
  const assets = readdirSync(join(dist, 'assets'));
  t.diagnostic(`dist/assets: ${assets.join(' ')}`);
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  assert.ok(wasm.some((f) => f.startsWith('plm-relaxed-mt')) && wasm.length >= 5, `the five wasm builds are emitted: ${wasm}`);
  cpSync(MODEL, join(dist, 'model.gguf'));

  const server = createStaticServer({ root: dist, isolate: true });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    for (const name of BROWSERS) {
      const why = await unavailable(name);
      if (why) {
        t.diagnostic(`${name}: skipped (${why})`);
        continue;
      }
      const browser = await launch({ browser: name });
      try {
        const page = await newPage(browser.context);
        await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
        await page.waitForFunction(() => document.body.dataset.result || document.body.dataset.error, null, { timeout: 120000 });
        const err = await page.evaluate(() => document.body.dataset.error);
        assert.equal(err, undefined, `${name}: ${err}\n${page.logs.join('\n')}`);
        const r = JSON.parse(await page.evaluate(() => document.body.dataset.result));
        assert.equal(r.text, expected, `${name}: the same text as Node`);
        assert.equal(r.runtime.worker, true);
        assert.equal(r.runtime.build, 'relaxed-mt'); // Chromium and Firefox ESR have relaxed SIMD
        assert.ok(r.tokens.length > 0);
        await page.screenshot({ path: outPath('vite-app.png', name) });
        t.diagnostic(`${name} ${browser.version}: ok`);
      } finally {
        await browser.close();
      }
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('tree-shaking: a Vite app that imports only BERT ships no GPT/T5 generation code; bundle sizes', { timeout: 900000 }, async (t) => {
  const v = await viteOrSkip(t);
  if (!v?.app) return;
  const apps = {
    bert: `import { BERT } from 'plm-wasm';
      const bert = await BERT.load('/model.gguf');
      document.body.dataset.result = JSON.stringify(await bert.embed('hello'));`,
    gpt: GPT_PAGE,
    all: `import * as plm from 'plm-wasm';
      const m = await plm[location.hash.slice(1) || 'GPT'].load('/model.gguf');
      document.body.dataset.result = JSON.stringify(m.info);`,
  };
  const js = {};
  for (const [name, main] of Object.entries(apps)) js[name] = jsOf(viteBuild(v.app, `size-${name}`, main));
  const KB = (n) => `${(n / 1024).toFixed(1)} KiB`;
  for (const [name, j] of Object.entries(js))
    t.diagnostic(`${name}: ${KB(j.bytes)} of JavaScript (${KB(j.gzip)} gzipped) loaded, in ${j.files.join(' ')}${j.unused.length ? ` (not loaded: ${j.unused.join(' ')})` : ''}`);
  for (const j of Object.values(js)) assert.ok(j.files.length >= 3, `page, model worker, pool worker: ${j.files}`);
  // generation code: the sampler and the GPT/T5 contexts (plm_* export names survive minifiers), the token loop's checks
  const GENERATION = [/plm_sampler_/, /plm_ctx_decode/, /plm_t5_/, /stop must be a non-empty string/];
  for (const re of GENERATION) assert.doesNotMatch(js.bert.text, re, `the BERT-only app ships ${re}`);
  assert.match(js.bert.text, /plm_bert_/);
  for (const re of [/plm_t5_/, /plm_bert_/]) assert.doesNotMatch(js.gpt.text, re, `the GPT-only app ships ${re}`);
  assert.match(js.gpt.text, /plm_sampler_/);
  for (const re of [/plm_t5_/, /plm_bert_/, /plm_sampler_/]) assert.match(js.all.text, re);
  assert.ok(js.bert.bytes < js.all.bytes && js.gpt.bytes < js.all.bytes);
});
