// The npm package as users get it: `npm pack`, install the tarball into a fresh
// project, run a generation from Node, and build a page with Vite whose output
// loads the .wasm files (and the model worker) in headless Chromium.
// Needs the npm registry (vite) and the wasm build; takes about a minute.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT } from '../../js/node.js';
import { createStaticServer } from '../../scripts/serve.mjs';
import { ROOT, launch, newPage, outPath, unavailable } from '../browser/harness.mjs';

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
  for (const f of ['dist/plm.wasm', 'dist/plm-simd.wasm', 'dist/plm-simd-mt.wasm', 'dist/plm-relaxed.wasm', 'dist/plm-relaxed-mt.wasm', 'js/index.js', 'js/node.js', 'js/index.d.ts', 'js/worker.js', 'js/embed.js', 'js/core/worker-browser.js'])
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

test('a page built with Vite loads the .wasm files and the worker, and generates the same text', { timeout: 600000 }, async (t) => {
  const why = await unavailable();
  if (why) return t.skip(why);
  const app = join(dir, 'vite-app');
  mkdirSync(join(app, 'public'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'vite-app', private: true, type: 'module' }));
  // vite 8 needs npm >= 11; use the major that installs
  const npmMajor = Number(sh('npm', ['--version']).split('.')[0]);
  const vites = npmMajor >= 11 ? ['vite@8', 'vite@7'] : ['vite@7'];
  let installed = null;
  for (const v of vites) {
    try {
      sh('npm', ['install', '--no-save', '--ignore-scripts', tarball, v], { cwd: app });
      installed = v;
      break;
    } catch (e) {
      t.diagnostic(`${v} did not install: ${e.message.split('\n')[0]}`);
    }
  }
  if (!installed) {
    if (process.env.PLM_REQUIRE_BROWSER) assert.fail('vite could not be installed (is the npm registry reachable?)');
    return t.skip('vite could not be installed (no npm registry?)');
  }
  t.diagnostic(`built with ${installed}`);
  cpSync(MODEL, join(app, 'public', 'model.gguf'));
  writeFileSync(
    join(app, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><title>vite + plm-wasm</title></head>
     <body><h1>plm-wasm in a Vite app</h1><pre id="out"></pre><script type="module" src="/main.js"></script></body></html>`,
  );
  writeFileSync(
    join(app, 'main.js'),
    `import { GPT } from 'plm-wasm';
     const out = document.getElementById('out');
     try {
       const gpt = await GPT.load('/model.gguf');
       const r = await gpt.complete(${JSON.stringify(PROMPT)}, ${JSON.stringify(OPTS)});
       out.textContent = ${JSON.stringify(PROMPT)} + r.text;
       document.body.dataset.result = JSON.stringify({ text: r.text, runtime: gpt.runtime, tokens: Array.from(gpt.tokenize('Hello')) });
     } catch (e) {
       document.body.dataset.error = e.stack || String(e);
     }`,
  );
  const build = spawnSync(join(app, 'node_modules', '.bin', 'vite'), ['build'], { cwd: app, encoding: 'utf8', env: npmEnv, timeout: 300000 });
  assert.equal(build.status, 0, `${build.stdout}\n${build.stderr}`);
  const assets = readdirSync(join(app, 'dist', 'assets'));
  t.diagnostic(`dist/assets: ${assets.join(' ')}`);
  const wasm = assets.filter((f) => f.endsWith('.wasm'));
  assert.ok(wasm.some((f) => f.startsWith('plm-relaxed-mt')) && wasm.length >= 5, `the five wasm builds are emitted: ${wasm}`);
  assert.ok(existsSync(join(app, 'dist', 'model.gguf')));

  const server = createStaticServer({ root: join(app, 'dist'), isolate: true });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const browser = await launch();
  try {
    const page = await newPage(browser.context);
    await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
    await page.waitForFunction(() => document.body.dataset.result || document.body.dataset.error, null, { timeout: 120000 });
    const err = await page.evaluate(() => document.body.dataset.error);
    assert.equal(err, undefined, `${err}\n${page.logs.join('\n')}`);
    const r = JSON.parse(await page.evaluate(() => document.body.dataset.result));
    assert.equal(r.text, expected);
    assert.equal(r.runtime.worker, true);
    assert.equal(r.runtime.build, 'relaxed-mt'); // Chromium has relaxed SIMD
    assert.ok(r.tokens.length > 0);
    await page.screenshot({ path: outPath('vite-app.png') });
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
  }
});
