// The module graph of js/: no static import cycles, and every public module imports on
// its own as a first import (a cycle makes the first import's order decide whether a
// class is initialized in time: `ReferenceError: Cannot access 'X' before initialization`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const JS = join(ROOT, 'js');

function modules(dir = JS) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));
}

/** Static imports of a module: `import ... from 'x'`, `import 'x'`, `export ... from 'x'` (not import()). */
export function staticImports(file) {
  const src = readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
  const out = [];
  const re = /^\s*(?:import|export)\s+(?:[\w*{}\s,$]+?\s+from\s+)?(['"])([^'"]+)\1/gm;
  for (let m; (m = re.exec(src)); ) if (m[2].startsWith('.')) out.push(resolve(dirname(file), m[2]));
  return out;
}

const FILES = modules();
const rel = (f) => relative(ROOT, f);

test('js/ has no static import cycles', () => {
  const graph = new Map(FILES.map((f) => [f, staticImports(f)]));
  for (const [f, deps] of graph) for (const d of deps) assert.ok(graph.has(d), `${rel(f)} imports ${rel(d)}, which does not exist`);
  const state = new Map(); // 1 = on the stack, 2 = done
  const cycles = [];
  const stack = [];
  const visit = (f) => {
    state.set(f, 1);
    stack.push(f);
    for (const d of graph.get(f)) {
      if (state.get(d) === 1) cycles.push([...stack.slice(stack.indexOf(d)), d].map(rel).join(' -> '));
      else if (!state.get(d)) visit(d);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of FILES) if (!state.get(f)) visit(f);
  assert.deepEqual(cycles, []);
});

// worker entry scripts run only inside a worker; cli.js runs the CLI
const ENTRY_ONLY = /^js\/(worker(-node)?\.js|workers\/|core\/worker-(browser|node)\.js|cli\.js$)/;

test('every module of js/ imports on its own (first import in a fresh process)', () => {
  const list = FILES.map(rel).filter((f) => !ENTRY_ONLY.test(f));
  assert.ok(list.length > 40);
  // one process per module: the module is the first one imported
  const failures = [];
  for (const f of list) {
    // (embed.js defines custom elements: a minimal DOM for its top level)
    const dom = f === 'js/embed.js' ? 'globalThis.HTMLElement = class {}; globalThis.customElements = { define() {}, get() {} };' : '';
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `${dom} await import(${JSON.stringify(join(ROOT, f))});`], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) failures.push(`${f}: ${r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr}`);
  }
  assert.deepEqual(failures, []);
});
