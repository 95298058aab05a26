#!/usr/bin/env node
// kbench.mjs — op_matmul throughput of a plm-simd.wasm build (single thread), in GMAC per
// CPU-second (process CPU time: robust on a loaded machine), through the plm_bench_* hooks.
// For A/B tests of kernel prototypes: node kbench.mjs --wasm out/prof --wasm out/proto ...
//
//   node bench/compare/kbench.mjs [--wasm DIR]... [--types q8_0,q4_0,f32,f16,q6_k] [--m 1,128] [--rounds 3]

import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const all = (name) => args.flatMap((a, i) => (args[i - 1] === `--${name}` ? [a] : []));
const opt = (name, def) => all(name)[0] ?? def;
const DIRS = all('wasm').length ? all('wasm') : [new URL('../../dist', import.meta.url).pathname];
const TYPES = { f32: 0, f16: 1, q4_0: 2, q8_0: 8, q6_k: 14 };
const types = opt('types', 'q8_0,q4_0,f32,f16').split(',');
const MS = opt('m', '1,128').split(',').map(Number);
const ROUNDS = Number(opt('rounds', '3'));
// GPT-2 small layer shapes (n x k) and its output matrix
const SHAPES = opt('shapes', '2304x768,768x768,3072x768,768x3072').split(',').map((s) => s.split('x').map(Number));

function instance(dir) {
  const bytes = fs.readFileSync(path.join(dir, 'plm-simd.wasm'));
  const module = new WebAssembly.Module(bytes);
  let memory;
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    imports[imp.module] ??= {};
    if (imp.kind === 'function') imports[imp.module][imp.name] = () => 0;
  }
  const inst = new WebAssembly.Instance(module, imports);
  inst.exports._initialize?.();
  return inst.exports;
}

const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

const results = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const dir of DIRS) {
    const fn = instance(dir);
    for (const t of types)
      for (const m of MS) {
        let macs = 0;
        let secs = 0;
        for (const [n, k] of SHAPES) {
          const b = fn.plm_bench_matmul_new(TYPES[t], n, k, m);
          if (!b) throw new Error(`bench_new failed ${t} ${n}x${k} m${m}`);
          fn.plm_bench_matmul_run(b, 1); // warm-up
          const iters = Math.max(1, Math.round((m === 1 ? 4e8 : 4e9) / (n * k * m)));
          const c0 = cpu();
          fn.plm_bench_matmul_run(b, iters);
          secs += cpu() - c0;
          macs += n * k * m * iters;
          fn.plm_bench_free(b);
        }
        const key = `${t} m=${m}`;
        (results[key] ??= {})[dir] ??= [];
        results[key][dir].push(macs / secs / 1e9);
      }
  }
}
const best = (xs) => Math.max(...xs);
console.log(`GMAC per CPU-second (best of ${ROUNDS}), shapes ${SHAPES.map((s) => s.join('x')).join(', ')}`);
console.log(['kernel'.padEnd(12), ...DIRS.map((d) => path.basename(d).padStart(14))].join(' '));
for (const [key, per] of Object.entries(results)) {
  const base = best(per[DIRS[0]]);
  console.log([key.padEnd(12), ...DIRS.map((d, i) => (best(per[d]).toFixed(2) + (i ? ` (${(best(per[d]) / base).toFixed(2)}x)` : '')).padStart(14))].join(' '));
}
