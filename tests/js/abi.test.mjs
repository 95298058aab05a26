// The ABI constants of src/plm.h and their JS copies (js/core/abi.js): same names, same
// values, none missing (a new enum constant in plm.h needs its copy in abi.js). plm.h is the one source; this test keeps the copy honest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as abi from '../../js/core/abi.js';
import * as plm from '../../js/node.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** PLM_NAME = value pairs of every enum in plm.h. */
function headerConstants() {
  const src = readFileSync(join(ROOT, 'src', 'plm.h'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const out = new Map();
  for (const body of src.matchAll(/enum\s*\w*\s*\{([^}]*)\}/g))
    for (const m of body[1].matchAll(/(PLM_[A-Z0-9_]+)\s*=\s*(-?\d+)/g)) out.set(m[1], Number(m[2]));
  return out;
}

function jsConstants() {
  const out = new Map();
  for (const [k, v] of Object.entries(abi.Status)) out.set(k === 'OK' ? 'PLM_OK' : `PLM_E_${k}`, v);
  for (const [k, v] of Object.entries(abi)) if (typeof v === 'number') out.set(`PLM_${k}`, v);
  return out;
}

test('js/core/abi.js has every enum constant of plm.h with its value', () => {
  const h = headerConstants();
  assert.ok(h.size >= 20, `parsed ${h.size} constants from plm.h`);
  const js = jsConstants();
  for (const [name, value] of js) assert.equal(h.get(name), value, `${name}: plm.h says ${h.get(name)}, js/core/abi.js ${value}`);
  const missing = [...h.keys()].filter((n) => !js.has(n));
  assert.deepEqual(missing, [], 'plm.h constants without a JS copy');
});

test('the package exports the same Status object', () => {
  assert.equal(plm.Status, abi.Status);
});

test('no other JS module defines an ABI constant by hand', () => {
  const files = ['engine.js', 'source.js', 'model.js', 'generation.js'].map((f) => join(ROOT, 'js', 'core', f)).concat(['bert.js', 't5.js'].map((f) => join(ROOT, 'js', f)));
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    assert.doesNotMatch(src, /const (LOAD|DECODE|POOL)_[A-Z_]+ = \d/, f);
    assert.doesNotMatch(src, /Status = Object\.freeze/, f);
  }
});
