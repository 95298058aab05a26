// js/index.d.ts type-checks (tsc --strict) together with a file that uses the whole API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';

test('index.d.ts: the API as documented type-checks with --strict', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom', join(ROOT, 'tests', 'js', 'types', 'usage.ts')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('index.d.ts declares every export and every public member of the classes', async () => {
  const { readFileSync } = await import('node:fs');
  const api = await import('../../js/index.js');
  const dts = readFileSync(join(ROOT, 'js', 'index.d.ts'), 'utf8');
  const declared = (name) => new RegExp(`\\b${name}\\b`).test(dts);
  const internal = new Set(['constructor', 'assertLive', 'freeResources', 'ctxPtr', 'toString']); // (used by the package itself)
  const missing = [];
  for (const [name, value] of Object.entries(api)) {
    if (!new RegExp(`export (declare )?(const|function|class) ${name}\\b`).test(dts)) missing.push(name);
    if (typeof value === 'function' && value.prototype) {
      for (let p = value.prototype; p && p !== Object.prototype && p !== Error.prototype; p = Object.getPrototypeOf(p))
        for (const m of Object.getOwnPropertyNames(p)) if (!internal.has(m) && !declared(m)) missing.push(`${name}.${m}`);
      for (const m of Object.getOwnPropertyNames(value)) if (!['length', 'name', 'prototype', 'VOCAB_ONLY', 'open', 'useWorker', 'loadRemote'].includes(m) && !declared(m)) missing.push(`${name}.${m}`);
    } else if (value && typeof value === 'object') for (const m of Object.keys(value)) if (!declared(m)) missing.push(`${name}.${m}`);
  }
  assert.deepEqual(missing, []);
});
