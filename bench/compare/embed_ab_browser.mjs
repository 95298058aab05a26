#!/usr/bin/env node
// embed_ab_browser.mjs — BERT.embed A/B in ONE headless Chromium page (the V8 the product targets,
// relaxed SIMD on): this repo's dist/ against --baseline DIR's wasm files (a copy of some dist/ under
// this repository, served at /repo/DIR), 1 thread, both models loaded side by side and measured
// interleaved (round r: current then baseline, next round the other order), each measurement
// repeated for >= --seconds of renderer CPU (all its threads, /proc: robust on a loaded machine);
// best of --rounds. Sentences as run.mjs: 8 of exactly 32 / 128 tokens, batch 1 = one per call,
// batch 8 = all 8 in one call, mean pooling + normalization.
//
//   node bench/compare/embed_ab_browser.mjs --baseline out/var/base [--models bert-base,minilm-l6]
//        [--variants Q8_0,F32] [--lengths 32,128] [--rounds 3] [--seconds 1.5]
// Models: work/gguf/<model>-<variant>.gguf.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const BASELINE = opt('baseline', null);
if (!BASELINE) throw new Error('--baseline DIR (wasm files of the baseline, inside this repository) is required');
const baseRel = path.relative(ROOT, path.resolve(HERE, BASELINE));
if (baseRel.startsWith('..')) throw new Error(`${BASELINE}: must lie inside the repository (it is served at /repo/)`);
const MODELS = opt('models', 'bert-base,minilm-l6').split(',');
const VARIANTS = opt('variants', 'Q8_0,F32').split(',');
const LENGTHS = opt('lengths', '32,128').split(',').map(Number);
const ROUNDS = Number(opt('rounds', '3'));
const SECONDS = Number(opt('seconds', '1.5'));

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

const sentences = (n) => Array.from({ length: 8 }, (_, j) => Array.from({ length: n }, (_, i) => (i === 0 ? 101 : i === n - 1 ? 102 : 2000 + ((i * 37 + j * 11) % 20000))));

const server = await startServer(0);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
console.log(`Chromium, one page, 1 thread: current = dist/, baseline = ${baseRel}; sentences per renderer CPU-second, best of ${ROUNDS} interleaved rounds, >= ${SECONDS} CPU-s each; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  await page.goto(`${base}/index.html`);
  for (const model of MODELS)
    for (const variant of VARIANTS) {
      const info = await page.evaluate(
        async ({ url, baseUrl }) => {
          const { BERT } = await import('/repo/js/index.js');
          window.ab = [await BERT.load(url, { threads: 1 }), await BERT.load(url, { threads: 1, wasmBaseUrl: baseUrl })];
          return window.ab.map((m) => `${m.runtime.build}${m.runtime.worker ? ' (worker)' : ''}`);
        },
        { url: `/models/gguf/${model}-${variant}.gguf`, baseUrl: new URL(`/repo/${baseRel}/`, base).href },
      );
      for (const n of LENGTHS) {
        const sents = sentences(n);
        await page.evaluate(async (s) => {
          for (const m of window.ab) await m.embed(s.slice(0, 2).map((x) => Int32Array.from(x))); // warm-up
        }, sents);
        const best = [
          { b1: 0, b8: 0 },
          { b1: 0, b8: 0 },
        ];
        for (let r = 0; r < ROUNDS; r++)
          for (const side of r % 2 ? [1, 0] : [0, 1])
            for (const batch of [1, 8]) {
              let sent = 0;
              const c0 = rendererCpu(process.pid);
              do {
                await page.evaluate(
                  async ({ s, side, batch }) => {
                    const m = window.ab[side];
                    const xs = s.map((x) => Int32Array.from(x));
                    if (batch === 1) for (const x of xs) await m.embed(x);
                    else await m.embed(xs);
                  },
                  { s: sents, side, batch },
                );
                sent += 8;
              } while (rendererCpu(process.pid) - c0 < SECONDS);
              const rate = sent / (rendererCpu(process.pid) - c0);
              const k = batch === 1 ? 'b1' : 'b8';
              best[side][k] = Math.max(best[side][k], rate);
            }
        const f = (x) => x.toFixed(2).padStart(7);
        console.log(
          `${model.padEnd(10)} ${variant.padEnd(5)} ${String(n).padStart(4)} tok  current: b1 ${f(best[0].b1)} b8 ${f(best[0].b8)} (b8/b1 ${(best[0].b8 / best[0].b1).toFixed(2)})` +
            ` | baseline: b1 ${f(best[1].b1)} b8 ${f(best[1].b8)} (b8/b1 ${(best[1].b8 / best[1].b1).toFixed(2)})` +
            ` | current ÷ baseline: b1 ${(best[0].b1 / best[1].b1).toFixed(3)}, b8 ${(best[0].b8 / best[1].b8).toFixed(3)}  [${info.join(' / ')}]`,
        );
      }
      await page.evaluate(() => window.ab.forEach((m) => m.dispose()));
    }
} finally {
  await browser.close();
  server.close();
}
console.log(`load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
