// relaxed_bench.mjs — the quantized GEMM's relaxed-SIMD kernels against its SIMD128 kernels,
// both in the same dist/plm-relaxed.wasm instance (plm_bench_use_relaxed switches them), timed
// alternately round after round, in Chromium, Firefox and/or Node. Prints GFLOP/s (2 flops per
// multiply-add, best round of each, wall time of a single-thread module) and relaxed / SIMD128, and
// checks that both variants give the same output bits (plm_bench_checksum).
//
//   node bench/relaxed_bench.mjs [--engines=chromium,firefox,node] [--types=q8_0,q4_0] [--ms=128,512]
//                                [--shapes=768x768,3072x768,768x3072] [--rounds=5] [--file=plm-relaxed.wasm]
//
// Node needs --experimental-wasm-relaxed-simd (the script re-runs itself with it); Node 20's V8
// computes the relaxed dot wrongly, so there the module falls back to SIMD128 for both (printed).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..');
const args = new Map(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v ?? true]; }));
const engines = String(args.get('engines') ?? 'chromium,node').split(',');
const TYPES = { q8_0: 8, q4_0: 2 };
const job = {
  types: String(args.get('types') ?? 'q8_0').split(',').map((t) => [t, TYPES[t]]),
  ms: String(args.get('ms') ?? '128,512').split(',').map(Number),
  shapes: String(args.get('shapes') ?? '768x768,3072x768,768x3072').split(',').map((s) => s.split('x').map(Number)),
  rounds: Number(args.get('rounds') ?? 5),
  flops: Number(args.get('flops') ?? 3e9), // per timed run
};
const file = String(args.get('file') ?? 'plm-relaxed.wasm');

// Runs in the page / in Node: instantiate, then per case alternate relaxed (1) and SIMD128 (0).
async function bench(bytes, j) {
  const mod = await WebAssembly.compile(bytes);
  const imports = {};
  for (const imp of WebAssembly.Module.imports(mod)) (imports[imp.module] ??= {})[imp.name] = () => 0;
  const fn = new WebAssembly.Instance(mod, imports).exports;
  fn._initialize?.();
  const now = () => performance.now();
  const rows = [];
  for (const [tname, type] of j.types)
    for (const m of j.ms)
      for (const [n, k] of j.shapes) {
        const b = fn.plm_bench_matmul_new(type, n, k, m);
        const iters = Math.max(1, Math.round(j.flops / (2 * n * k * m)));
        const best = [Infinity, Infinity];
        const sums = [0, 0];
        const ratios = [];
        for (let v = 0; v < 2; v++) { fn.plm_bench_use_relaxed(1 - v); fn.plm_bench_matmul_run(b, 1); } // warm-up
        for (let r = 0; r < j.rounds; r++) {
          const dt = [0, 0];
          for (let v = 0; v < 2; v++) {
            fn.plm_bench_use_relaxed(1 - v);
            const t0 = now();
            fn.plm_bench_matmul_run(b, iters);
            dt[v] = (now() - t0) / 1e3 / iters;
            best[v] = Math.min(best[v], dt[v]);
            sums[v] = fn.plm_bench_checksum(b);
          }
          ratios.push(dt[1] / dt[0]);
        }
        ratios.sort((a, b) => a - b);
        fn.plm_bench_free(b);
        const gf = best.map((s) => (2 * n * k * m) / s / 1e9);
        rows.push({ case: `${tname} m=${m} ${n}x${k}`, relaxed: gf[0], simd: gf[1], med: ratios[ratios.length >> 1], same: sums[0] === sums[1] });
      }
  fn.plm_bench_use_relaxed(1);
  return rows;
}

function print(engine, version, rows) {
  console.log(`\n${engine} ${version}: GFLOP/s, best of ${job.rounds} alternating rounds (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  console.log(`${'case'.padEnd(24)} ${'relaxed'.padStart(8)} ${'simd128'.padStart(8)}  best/best  median of round ratios  same bits`);
  let lr = 0, lm = 0;
  for (const r of rows) {
    console.log(`${r.case.padEnd(24)} ${r.relaxed.toFixed(1).padStart(8)} ${r.simd.toFixed(1).padStart(8)}  ${(r.relaxed / r.simd).toFixed(2).padStart(8)}x  ${r.med.toFixed(2).padStart(21)}x  ${r.same ? 'yes' : 'NO'}`);
    lr += Math.log(r.relaxed / r.simd);
    lm += Math.log(r.med);
  }
  console.log(`${'geomean'.padEnd(42)}  ${Math.exp(lr / rows.length).toFixed(2).padStart(8)}x  ${Math.exp(lm / rows.length).toFixed(2).padStart(21)}x`);
  if (rows.some((r) => !r.same)) process.exitCode = 1;
}

if (args.has('child')) { // Node, with --experimental-wasm-relaxed-simd
  const rows = await bench(fs.readFileSync(path.join(ROOT, 'dist', file)), job);
  console.log(JSON.stringify(rows));
  process.exit(0);
}

for (const engine of engines) {
  if (engine === 'node') {
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', fileURLToPath(import.meta.url), '--child', ...process.argv.slice(2)], { encoding: 'utf8' });
    if (r.status !== 0) { console.error(r.stderr); process.exitCode = 1; continue; }
    print('node', `${process.version} (relaxed dot ${/Node 20|v20\./.test(process.version) ? 'wrong in V8 11.3: both columns run SIMD128' : 'checked by the module'})`, JSON.parse(r.stdout.trim().split('\n').pop()));
    continue;
  }
  const { launch } = await import('../tests/browser/harness.mjs');
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (p === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>relaxed bench</title>'); return; }
    if (p === `/${file}`) { res.writeHead(200, { 'content-type': 'application/wasm' }); res.end(fs.readFileSync(path.join(ROOT, 'dist', file))); return; }
    res.writeHead(404); res.end();
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const b = await launch({ browser: engine });
  try {
    const page = await b.context.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const rows = await page.evaluate(async ({ src, j, file }) => {
      const bytes = await (await fetch(`/${file}`)).arrayBuffer();
      return (0, eval)(`(${src})`)(bytes, j);
    }, { src: bench.toString(), j: job, file });
    print(engine, b.version, rows);
  } finally {
    await b.close();
    server.close();
  }
}
