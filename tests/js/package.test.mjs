// Packaging: the browser entry's module graph is free of Node built-ins, the
// package entry resolves per condition, and the published files are the right ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { join, dirname, resolve } from 'node:path';
import { ROOT } from './helpers.mjs';

function importGraph(entry) {
  const seen = new Set();
  const external = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    const specs = [...src.matchAll(/(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]|new URL\(\s*['"]([^'"]+\.js)['"]/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]);
    for (const s of specs) {
      if (s.startsWith('.')) visit(resolve(dirname(file), s));
      else external.add(s);
    }
  };
  visit(entry);
  return { files: [...seen], external: [...external] };
}

test('the browser entry (js/index.js) and its workers import no Node built-ins', () => {
  const g = importGraph(join(ROOT, 'js', 'index.js'));
  assert.ok(g.files.some((f) => f.endsWith('worker-browser.js')), 'worker-browser.js is reachable (new URL pattern)');
  for (const w of ['gpt', 'bert', 't5']) assert.ok(g.files.some((f) => f.endsWith(`js/workers/${w}.js`)), `the model worker workers/${w}.js is reachable`);
  assert.ok(!g.files.some((f) => /platform-node|worker-node|cli/.test(f)), g.files.join('\n'));
  // bare specifiers: only the package's declared runtime dependencies (resolved by the
  // bundler, or by chat-template.js's fallback next to js/), never a Node built-in
  const deps = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies ?? {});
  assert.deepEqual(g.external.filter((s) => !deps.includes(s)), []);
  assert.deepEqual(g.external.filter((s) => s.startsWith('node:') || builtinModules.includes(s)), []);
});

test('package.json exports', async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.exports['.'].node, './js/node.js');
  assert.equal(pkg.exports['.'].browser, './js/index.js');
  assert.equal(pkg.exports['.'].types, './js/index.d.ts');
  assert.equal(pkg.bin['plm-wasm'], './js/cli.js');
  assert.ok(!pkg.scripts.install && !pkg.scripts.postinstall && !pkg.scripts.preinstall, 'no install scripts');
  const mod = await import('plm-wasm');
  for (const name of ['GPT', 'Tokenizer', 'Engine', 'PlmError', 'Status', 'detectFeatures']) assert.ok(mod[name], name);
});

test('npm pack ships js/, dist/*.wasm and the README, nothing else', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const files = JSON.parse(r.stdout)[0].files.map((f) => f.path);
  for (const f of ['js/index.js', 'js/node.js', 'js/index.d.ts', 'js/cli.js', 'js/core/worker-browser.js', 'dist/plm.wasm', 'dist/plm-simd.wasm', 'dist/plm-simd-mt.wasm', 'dist/plm-relaxed.wasm', 'dist/plm-relaxed-mt.wasm', 'README.md', 'package.json'])
    assert.ok(files.includes(f), `${f} is packed`);
  assert.deepEqual(files.filter((f) => !/^(js\/|dist\/[^/]+\.wasm$|README\.md$|package\.json$|LICENSE)/.test(f)), []);
});
