#!/usr/bin/env node
// kbench_browser.mjs — kbench.mjs in headless Chromium (the V8 the product targets): op_matmul
// GMAC per CPU-second of the renderer (all its threads; /proc), single-thread builds.
//
//   node bench/compare/kbench_browser.mjs --wasm out/prof --wasm out/mt4x1 [--types q8_0,f32] [--m 128]
//                                         [--file plm-relaxed.wasm]   (default plm-simd.wasm)
//                                         [--gmac 4]  multiply-adds per measurement (billions; m = 1: a tenth)
//                                         [--per-shape]  one line per shape instead of their sum

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const args = process.argv.slice(2);
const all = (name) => args.flatMap((a, i) => (args[i - 1] === `--${name}` ? [a] : []));
const opt = (name, def) => all(name)[0] ?? def;
const DIRS = (all('wasm').length ? all('wasm') : ['../../dist']).map((d) => path.resolve(HERE, d));
const TYPES = { f32: 0, f16: 1, q4_0: 2, q8_0: 8, q6_k: 14 };
const types = opt('types', 'q8_0,q4_0,f32,f16').split(',');
const MS = opt('m', '1,128').split(',').map(Number);
const ROUNDS = Number(opt('rounds', '3'));
const FILE = opt('file', 'plm-simd.wasm');
const GMAC = Number(opt('gmac', '4'));
const PER_SHAPE = args.includes('--per-shape');
const SHAPES = opt('shapes', '2304x768,768x768,3072x768,768x3072').split(',').map((s) => s.split('x').map(Number));

function rendererCpu(root) {
  const all = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const r = st.slice(st.lastIndexOf(')') + 2).split(' ');
      all.push({ pid: Number(d), ppid: Number(r[1]), cpu: (Number(r[11]) + Number(r[12])) / 100 });
    } catch {}
  }
  const mine = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) if (!mine.has(p.pid) && mine.has(p.ppid)) mine.add(p.pid), (grew = true);
  }
  return all
    .filter((p) => mine.has(p.pid))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes('--type=renderer');
      } catch {
        return false;
      }
    })
    .reduce((s, p) => s + p.cpu, 0);
}

const server = await startServer(0);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
const results = {};
try {
  const page = await browser.newPage();
  await page.goto(`${base}/index.html`);
  for (let round = 0; round < ROUNDS; round++)
    for (const dir of DIRS) {
      const url = `/repo/${path.relative(ROOT, dir)}/${FILE}`;
      for (const t of types)
        for (const m of MS) {
          const job = { url, type: TYPES[t], m, shapes: SHAPES };
          await page.evaluate(async (j) => {
            const mod = await WebAssembly.compileStreaming(fetch(j.url));
            const imports = {};
            for (const imp of WebAssembly.Module.imports(mod)) (imports[imp.module] ??= {})[imp.name] = () => 0;
            const fn = new WebAssembly.Instance(mod, imports).exports;
            fn._initialize?.();
            window.kb = { fn, benches: j.shapes.map(([n, k]) => fn.plm_bench_matmul_new(j.type, n, k, j.m)) };
            for (const b of window.kb.benches) fn.plm_bench_matmul_run(b, 2); // warm-up + tier-up
          }, job);
          const groups = PER_SHAPE ? SHAPES.map((_, i) => [i]) : [SHAPES.map((_, i) => i)];
          for (const g of groups) {
            const c0 = rendererCpu(process.pid);
            const macs = await page.evaluate((j) => {
              const { fn, benches } = window.kb;
              let macs = 0;
              for (const i of j.only) {
                const [n, k] = j.shapes[i];
                const iters = Math.max(1, Math.round((j.m === 1 ? j.gmac * 1e8 : j.gmac * 1e9) / (n * k * j.m)));
                fn.plm_bench_matmul_run(benches[i], iters);
                macs += n * k * j.m * iters;
              }
              return macs;
            }, { ...job, only: g, gmac: GMAC });
            const secs = rendererCpu(process.pid) - c0;
            const key = `${t} m=${m}${PER_SHAPE ? ' ' + SHAPES[g[0]].join('x') : ''}`;
            ((results[key] ??= {})[dir] ??= []).push(macs / secs / 1e9);
          }
          await page.evaluate(() => window.kb.benches.forEach((b) => window.kb.fn.plm_bench_free(b)));
        }
    }
} finally {
  await browser.close();
  server.close();
}
const best = (xs) => Math.max(...xs);
console.log(`Chromium, ${FILE}: GMAC per renderer CPU-second (best of ${ROUNDS}), shapes ${SHAPES.map((s) => s.join('x')).join(', ')}`);
console.log(['kernel'.padEnd(PER_SHAPE ? 22 : 12), ...DIRS.map((d) => path.basename(d).padStart(14))].join(' '));
for (const [key, per] of Object.entries(results)) {
  const b0 = best(per[DIRS[0]]);
  console.log([key.padEnd(PER_SHAPE ? 22 : 12), ...DIRS.map((d, i) => (best(per[d]).toFixed(2) + (i ? ` (${(best(per[d]) / b0).toFixed(2)}x)` : '')).padStart(14))].join(' '));
}
