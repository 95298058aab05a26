#!/usr/bin/env node
// browser_bench.mjs — the library in headless Chromium and/or Firefox ESR (--browser), as the demo page runs it (model in
// a worker; cross-origin isolated page, so the multi-threaded build when threads > 1):
//   load time: streamed from the local server, and again from Cache Storage
//   prefill tokens/s (one 128-token prompt) and decode tokens/s (64 generated tokens)
//   for 1 and 2 threads (and more with --threads), best of --reps, and the speed-up
//   the peak memory of the page's renderer process while a model streams in (/proc, Linux), and what
//   it is made of right after the load: anonymous memory, pages of the browser's own files
// on the GPT-2-small-shaped F16 model of load_bench.mjs (random weights: the work per
// token is the real model's, the text is meaningless).
//
//   node bench/browser_bench.mjs [--browser chromium|firefox|chromium,firefox] [--threads 1,2] [--reps 3]
//                                [--model path.gguf] [--parts memory,load,threads]
// (several browsers: one after the other in this process, each with the same model and server)

import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus, loadavg } from 'node:os';
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
const PARTS = new Set(opt('parts', 'memory,load,threads').split(','));
const BROWSER_NAMES = opt('browser', 'chromium').split(',');
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
for (const name of BROWSER_NAMES) await bench(name);
await srv.close();

/** The content processes of a browser (where the page and its workers run). */
function pageProcesses(browser) {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const cmd = (pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  };
  if (browser.browser === 'chromium') return all.filter((d) => cmd(d).includes('--type=renderer') && cmd(d).includes(browser.profile));
  // Firefox: the descendants of the browser's process that are content processes
  const parent = (pid) => {
    try {
      return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    } catch {
      return 0;
    }
  };
  const under = (pid) => {
    for (let p = pid, k = 0; p > 1 && k < 10; p = parent(p), k++) if (p === browser.pid) return true;
    return false;
  };
  return all.filter((d) => cmd(d).includes('-contentproc') && under(Number(d)));
}

async function bench(name) {
const browser = await launch({ browser: name });
try {
  const page = await newPage(browser.context);
  await page.goto(srv.url('tests/browser/page.html'));
  await page.evaluate(async () => {
    globalThis.plm = await import('/js/index.js');
    await plm.ModelCache.clear();
  });
  console.log(`\n==== ${name} ${browser.version}\nmodel: ${model} (${MB(size)}), hardwareConcurrency ${await page.evaluate(() => navigator.hardwareConcurrency)}`);

  // peak memory of the renderer process (the page and its workers live there) while a
  // model streams in, from /proc (Linux): VmHWM after the load minus VmRSS before it
  const renderers = () => pageProcesses(browser);
  const status = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  if (PARTS.has('memory')) console.log('\npeak memory of the page process while loading (cache off; fresh page each):');
  for (const worker of PARTS.has('memory') ? [false, true] : []) {
    const p = await newPage(browser.context);
    await p.goto(srv.url('tests/browser/page.html'));
    await p.evaluate(async () => (globalThis.plm = await import('/js/index.js')));
    const pids = renderers();
    const before = Object.fromEntries(pids.map((pid) => [pid, status(pid, 'VmRSS')]));
    // (VmHWM is a high-water mark since the process started: reset it)
    for (const pid of pids) {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {}
    }
    const kinds = ['RssAnon', 'RssFile'];
    const kindsBefore = Object.fromEntries(pids.map((pid) => [pid, kinds.map((k) => status(pid, k))]));
    const wasm = await p.evaluate(async (w) => {
      globalThis.model = await plm.GPT.load('/bench/model.gguf', { threads: 1, cache: false, worker: w });
      return w ? null : model.engine.memoryBytes();
    }, worker);
    const growths = pids.map((pid) => status(pid, 'VmHWM') - before[pid]);
    const growth = Math.max(...growths);
    const top = pids[growths.indexOf(growth)];
    // what the growth is made of, right after the load (the model still loaded): anonymous memory
    // (wasm memory, heaps, buffers) and pages of files (the browser's own code touched for the first time)
    const [anon, file] = kinds.map((k, i) => status(top, k) - kindsBefore[top][i]); // (of the process that grew most)
    await p.evaluate(() => model.dispose());
    console.log(
      `  ${worker ? 'worker mode ' : 'in the page '}  peak growth ${MB(growth)} = ${(growth / size).toFixed(2)} x the file${wasm ? ` (wasm memory ${MB(wasm)})` : ''};` +
        ` after the load: anonymous +${MB(anon)} = ${(anon / size).toFixed(2)} x, file-backed +${MB(file)}`,
    );
    await p.close();
  }

  // load times (worker mode, 1 thread): network (local server), then the cache
  const loads = !PARTS.has('load') ? {} : await page.evaluate(async () => {
    const out = {};
    for (const [k, cache] of [['network (cache off)', false], ['network -> cache', true], ['from cache', true]]) {
      const t0 = performance.now();
      const m = await plm.GPT.load('/bench/model.gguf', { threads: 1, cache });
      out[k] = performance.now() - t0;
      m.dispose();
    }
    return out;
  });
  if (PARTS.has('load')) console.log('\nload time (worker mode, 1 thread)');
  for (const [k, v] of Object.entries(loads)) console.log(`  ${k.padEnd(20)} ${v.toFixed(0)} ms`);

  // CPU actually given to the page (its processes' utime + stime) and how busy the whole
  // machine was meanwhile (/proc/stat): a speed-up below 2 on a machine whose cores are
  // busy with other work says more about the machine than about the thread pool
  const TICK = 100; // USER_HZ
  const pageCpu = () => renderers().reduce((t, pid) => {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return t + (Number(f[11]) + Number(f[12])) / TICK;
    } catch {
      return t;
    }
  }, 0);
  const machine = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
    return { busy: (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / TICK, all: f.slice(0, 8).reduce((a, b) => a + b, 0) / TICK };
  };
  if (PARTS.has('threads')) console.log(`\nthreads  prefill tok/s (128)   decode tok/s (64)    [best of ${REPS}]   page CPU   machine busy`);
  const rows = [];
  for (const n of PARTS.has('threads') ? THREADS : []) {
    const t0 = performance.now();
    const cpu0 = pageCpu();
    const m0 = machine();
    const r = await page.evaluate(
      async ([n, reps]) => {
        const m = await plm.GPT.load('/bench/model.gguf', { threads: n, contextLength: 256 });
        const prompt = Array.from({ length: 128 }, (_, i) => 1 + ((i * 37) % 1000));
        let prefill = 0;
        let decode = 0;
        await m.complete(prompt.slice(0, 8), { maxTokens: 4, temperature: 0, reusePrefix: false }); // warm-up
        for (let k = 0; k < reps; k++) {
          const c = await m.complete(prompt, { maxTokens: 64, temperature: 0, ignoreEos: true, reusePrefix: false });
          prefill = Math.max(prefill, c.stats.promptTokensPerSecond);
          decode = Math.max(decode, c.stats.tokensPerSecond);
        }
        const rt = m.runtime;
        m.dispose();
        return { prefill, decode, rt };
      },
      [n, REPS],
    );
    const wall = (performance.now() - t0) / 1000;
    const cores = (pageCpu() - cpu0) / wall;
    const m1 = machine();
    const busy = ((m1.busy - m0.busy) / (m1.all - m0.all)) * cpus().length;
    rows.push({ n, ...r });
    console.log(`${String(n).padStart(7)}  ${r.prefill.toFixed(1).padStart(12)}          ${r.decode.toFixed(2).padStart(10)}         ${cores.toFixed(2)} cores  ${busy.toFixed(2)} of ${cpus().length} cores   (${r.rt.build}, ${r.rt.threads} thread${r.rt.threads > 1 ? 's' : ''})`);
  }
  const one = rows.find((r) => r.n === 1);
  for (const r of rows)
    if (one && r.n > 1) console.log(`speed-up 1 -> ${r.n} threads: prefill x${(r.prefill / one.prefill).toFixed(2)}, decode x${(r.decode / one.decode).toFixed(2)}`);
  console.log(`\n(this machine: ${cpus().length} cores shared with other jobs; load average ${loadavg().map((x) => x.toFixed(1)).join(', ')})`);
} finally {
  await browser.close();
}
}
