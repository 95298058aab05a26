#!/usr/bin/env node
// kbench_ab.mjs — op_matmul A/B of several builds of one wasm file in ONE headless Chromium page:
// all modules instantiated and warmed up (400 ms per shape: tiered up to TurboFan), then short runs
// (~--macs multiply-adds each) interleaved module after module, round after round; per run the CPU
// time of the page's renderer process (all threads, /proc/<pid>/task/<tid>/schedstat: ns) — the
// best (least CPU) per module and shape is kept: robust on a loaded machine, where kbench_browser.mjs's
// one long run per module varied by +-20% between identical files. Prints GMAC per CPU-second,
// the ratio to the first directory and whether the outputs' checksums are the same.
//
//   node bench/compare/kbench_ab.mjs [--m 128] [--rounds 10] [--file plm-relaxed.wasm] [--type 8 (q8_0; 2: q4_0)]
//        [--shapes 2304x768,768x768,3072x768,768x3072] [--macs 1e9] DIR_A DIR_B ...   (DIRs relative to the repo root)
import fs from 'node:fs';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
const a = process.argv.slice(2);
const opt = (n, d) => { const i = a.indexOf('--' + n); if (i < 0) return d; const v = a[i + 1]; a.splice(i, 2); return v; };
const m = Number(opt('m', 128)), rounds = Number(opt('rounds', 10)), file = opt('file', 'plm-relaxed.wasm'), type = Number(opt('type', 8));
const macsPer = Number(opt('macs', 1e9));
const shapes = opt('shapes', '2304x768,768x768,3072x768,768x3072').split(',').map((s) => s.split('x').map(Number));
const dirs = a;
function procs() {
  const all = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); all.push({ pid: +d, ppid: +st.slice(st.lastIndexOf(')') + 2).split(' ')[1] }); } catch {}
  }
  return all;
}
function renderers(root) {
  const all = procs(), mine = new Set([root]);
  for (let g = true; g; ) { g = false; for (const p of all) if (!mine.has(p.pid) && mine.has(p.ppid)) mine.add(p.pid), (g = true); }
  return [...mine].filter((p) => { try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--type=renderer'); } catch { return false; } });
}
function cpuNs(pids) {
  let s = 0;
  for (const p of pids) for (const t of fs.readdirSync(`/proc/${p}/task`)) { try { s += Number(fs.readFileSync(`/proc/${p}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch {} }
  return s;
}
const load0 = os.loadavg()[0].toFixed(2);
const server = await startServer(0);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
  await page.evaluate(async (j) => {
    window.mods = [];
    for (const d of j.dirs) {
      const mod = await WebAssembly.compileStreaming(fetch(`/repo/${d}/${j.file}`));
      const imports = {};
      for (const imp of WebAssembly.Module.imports(mod)) (imports[imp.module] ??= {})[imp.name] = () => 0;
      const fn = new WebAssembly.Instance(mod, imports).exports;
      fn._initialize?.();
      const benches = j.shapes.map(([n, k]) => fn.plm_bench_matmul_new(j.type, n, k, j.m));
      for (const b of benches) { const t0 = performance.now(); while (performance.now() - t0 < 400) fn.plm_bench_matmul_run(b, 1); }
      window.mods.push({ fn, benches });
    }
  }, { dirs, file, type, m, shapes });
  const pids = renderers(process.pid);
  const best = dirs.map(() => shapes.map(() => Infinity));
  const iters = shapes.map(([n, k]) => Math.max(1, Math.round(macsPer / (n * k * m))));
  for (let r = 0; r < rounds; r++)
    for (let d = 0; d < dirs.length; d++)
      for (let i = 0; i < shapes.length; i++) {
        const c0 = cpuNs(pids);
        await page.evaluate(([d, i, it]) => window.mods[d].fn.plm_bench_matmul_run(window.mods[d].benches[i], it), [d, i, iters[i]]);
        const dt = (cpuNs(pids) - c0) / 1e9 / iters[i];
        if (dt > 0) best[d][i] = Math.min(best[d][i], dt); // (a renderer thread that exits between the two samples takes its time along)
      }
  const ck = await page.evaluate(() => window.mods.map((md) => md.benches.map((b) => md.fn.plm_bench_checksum(b))));
  console.log(`Chromium, ${file}, type ${type}, m=${m}: best of ${rounds} interleaved runs per shape; load ${load0} -> ${os.loadavg()[0].toFixed(2)}`);
  const g = best.map((bs) => shapes.reduce((s, [n, k]) => s + n * k * m, 0) / bs.reduce((s, x) => s + x, 0) / 1e9);
  for (const [d, dir] of dirs.entries())
    console.log(`${dir.padEnd(22)} m=${m} ${g[d].toFixed(2)} GMAC/CPU-s (${(g[d] / g[0]).toFixed(2)}x)  per shape ${best[d].map((t, i) => (shapes[i][0] * shapes[i][1] * m / t / 1e9).toFixed(1)).join(' ')}  ${JSON.stringify(ck[d]) === JSON.stringify(ck[0]) ? 'same sums' : 'SUMS DIFFER'}`);
} finally {
  await browser.close();
  server.close();
}
