#!/usr/bin/env node
// browser_bench.mjs — the library in headless Chromium, as the demo page runs it (model in
// a worker; cross-origin isolated page, so the multi-threaded build when threads > 1):
//   load time: streamed from the local server, and again from Cache Storage
//   prefill tokens/s (one 128-token prompt) and decode tokens/s (64 generated tokens)
//   for 1 and 2 threads (and more with --threads), best of --reps, and the speed-up
//   the page's memory (performance.measureUserAgentSpecificMemory) after loading
// on the GPT-2-small-shaped F16 model of load_bench.mjs (random weights: the work per
// token is the real model's, the text is meaningless).
//
//   node bench/browser_bench.mjs [--threads 1,2] [--reps 3] [--model path.gguf]

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModel, MODEL } from './load_bench.mjs';
import { startServer } from '../tests/js/loader_server.mjs';
import { launch, newPage } from '../tests/browser/harness.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const THREADS = opt('threads', '1,2').split(',').map(Number);
const REPS = Number(opt('reps', 3));
const model = opt('model', MODEL);
const MB = (n) => `${(n / 2 ** 20).toFixed(1)} MB`;

if (!existsSync(model)) {
  console.log(`writing ${model} …`);
  await writeModel(model);
}
const size = statSync(model).size;
const srv = await startServer({
  root: ROOT,
  headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  files: { '/bench/model.gguf': readFileSync(model) },
});
const browser = await launch();
try {
  const page = await newPage(browser.context);
  await page.goto(srv.url('tests/browser/page.html'));
  await page.evaluate(async () => {
    globalThis.plm = await import('/js/index.js');
    await plm.ModelCache.clear();
  });
  console.log(`model: ${model} (${MB(size)}), Chromium ${browser.context.browser()?.version() ?? ''}, hardwareConcurrency ${await page.evaluate(() => navigator.hardwareConcurrency)}`);

  // load times (worker mode, 1 thread): network (local server), then the cache
  const loads = await page.evaluate(async () => {
    const out = {};
    for (const [k, cache] of [['network (cache off)', false], ['network -> cache', true], ['from cache', true]]) {
      const t0 = performance.now();
      const m = await plm.GPT.load('/bench/model.gguf', { threads: 1, cache });
      out[k] = performance.now() - t0;
      if (k === 'from cache' && performance.measureUserAgentSpecificMemory) {
        const mem = await performance.measureUserAgentSpecificMemory();
        out.memory = mem.bytes;
        out.memoryBreakdown = mem.breakdown.filter((b) => b.bytes > 1 << 20).map((b) => ({ bytes: b.bytes, types: b.types, scope: b.attribution.map((a) => a.scope).join(',') }));
      }
      m.dispose();
    }
    return out;
  });
  console.log('\nload (worker mode, 1 thread)');
  for (const [k, v] of Object.entries(loads)) if (typeof v === 'number' && k !== 'memory') console.log(`  ${k.padEnd(20)} ${v.toFixed(0)} ms`);
  if (loads.memory) {
    console.log(`  page memory after loading: ${MB(loads.memory)} (file ${MB(size)}, ratio ${(loads.memory / size).toFixed(2)})`);
    for (const b of loads.memoryBreakdown) console.log(`    ${MB(b.bytes).padStart(10)}  ${b.types.join(',') || '-'}  ${b.scope}`);
  }

  console.log(`\nthreads  prefill tok/s (128)   decode tok/s (64)    [best of ${REPS}]`);
  const rows = [];
  for (const n of THREADS) {
    const r = await page.evaluate(
      async ([n, reps]) => {
        const m = await plm.GPT.load('/bench/model.gguf', { threads: n, contextLength: 256 });
        const prompt = Array.from({ length: 128 }, (_, i) => 1 + ((i * 37) % 1000));
        let prefill = 0;
        let decode = 0;
        await m.complete(prompt.slice(0, 8), { maxTokens: 4, temperature: 0 }); // warm-up
        for (let k = 0; k < reps; k++) {
          const c = await m.complete(prompt, { maxTokens: 64, temperature: 0, ignoreEos: true });
          prefill = Math.max(prefill, c.stats.promptTokensPerSecond);
          decode = Math.max(decode, c.stats.tokensPerSecond);
        }
        const rt = m.runtime;
        m.dispose();
        return { prefill, decode, rt };
      },
      [n, REPS],
    );
    rows.push({ n, ...r });
    console.log(`${String(n).padStart(7)}  ${r.prefill.toFixed(1).padStart(12)}          ${r.decode.toFixed(2).padStart(10)}         (${r.rt.build}, ${r.rt.threads} thread${r.rt.threads > 1 ? 's' : ''})`);
  }
  const one = rows.find((r) => r.n === 1);
  for (const r of rows)
    if (one && r.n > 1) console.log(`speed-up 1 -> ${r.n} threads: prefill x${(r.prefill / one.prefill).toFixed(2)}, decode x${(r.decode / one.decode).toFixed(2)}`);
  console.log(`\n(this machine: ${(await import('node:os')).cpus().length} cores shared with other jobs; load average ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
} finally {
  await browser.close();
  await srv.close();
}
