#!/usr/bin/env node
// plm_rates.mjs — plm-wasm alone in Node on bench/compare's GGUF files, per CPU-second of
// this process (robust on a loaded machine; single thread): prefill tok/CPU-s of a 128-token
// prompt and decode tok/CPU-s of the following steps, best of --reps.
//
//   node bench/compare/plm_rates.mjs [--models gpt2-small,llama-110m] [--variants Q8_0,Q4_0,F16]
//        [--decode 32] [--reps 3] [--dist DIR] [--baseline DIR] [--build relaxed|simd|...]
//   node bench/compare/plm_rates.mjs --task embed [--models bert-base,minilm-l6] [--variants Q8_0,F32]
//        [--lengths 32,128] [--reps 3] [--dist DIR] [--baseline DIR] [--build ...]
//
//   --task embed    BERT.embed of 8 sentences of exactly 32 / 128 tokens (as run.mjs: [CLS] pieces
//                   [SEP], mean pooling + normalization), one per call (batch 1) and all 8 in one
//                   call (batch 8): sentences per CPU-second, best of --reps. Node 20's V8 computes
//                   relaxed dots wrongly, so its relaxed build runs the SIMD128 Q8_0 kernels
//                   (qgemm_relaxed_ok); relaxed kernels are measured in Chromium (kbench_browser.mjs, run.mjs).
//
//   --dist DIR      measure the wasm files in DIR (a copy of some dist/) instead of this repo's dist/
//   --baseline DIR  A/B: also load the wasm files in DIR (e.g. a copy of an older dist/) in the
//                   same process and measure both, interleaved (rep 1: current then baseline,
//                   rep 2: baseline then current, ...), best of --reps each, and print
//                   current ÷ baseline for prefill and decode (> 1: the current build is faster)
//   --build NAME    the wasm build to load (default: the runtime's choice)

import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.join(HERE, '..', '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const EMBED = opt('task', 'gen') === 'embed';
const MODELS = opt('models', EMBED ? 'bert-base,minilm-l6' : 'gpt2-small,llama-110m').split(',');
const VARIANTS = opt('variants', EMBED ? 'Q8_0,F32' : 'Q8_0,Q4_0,F16').split(',');
const LENGTHS = opt('lengths', '32,128').split(',').map(Number);
const N_DECODE = Number(opt('decode', '32'));
const REPS = Number(opt('reps', '3'));
const DIST = opt('dist', null);
const BASELINE = opt('baseline', null);
const BUILD = opt('build', null);
const TASK = opt('task', 'gen');
if (!['gen', 'embed'].includes(TASK)) throw new Error(`--task ${TASK}: gen or embed`);

/** A copy of the repo's js/ next to DIR's wasm files (js/ finds ../dist/), or the repo itself. */
function rootWith(dist) {
  if (!dist) return REPO;
  if (!fs.existsSync(path.resolve(dist))) throw new Error(`${dist}: no such directory`);
  const root = fs.mkdtempSync('/tmp/plm-rates-');
  fs.cpSync(path.join(REPO, 'js'), path.join(root, 'js'), { recursive: true });
  fs.cpSync(path.resolve(dist), path.join(root, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(root, 'package.json'));
  return root;
}
const sides = [{ name: DIST ? path.basename(path.resolve(DIST)) : 'current', root: rootWith(DIST) }];
if (BASELINE) sides.push({ name: 'baseline', root: rootWith(BASELINE) });
for (const s of sides) ({ GPT: s.GPT, BERT: s.BERT } = await import(pathToFileURL(path.join(s.root, 'js', 'node.js')).href));

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const prompt = Int32Array.from({ length: 128 }, (_, i) => 1000 + ((i * 7919) % 20000));
const opts = { temperature: 0, ignoreEos: true, reusePrefix: false };

/** One measurement: prefill (1-token generation) and decode (N-token minus 1-token) per CPU-s. */
async function once(gpt) {
  let c0 = cpu();
  await gpt.complete(prompt, { ...opts, maxTokens: 1 });
  const p = cpu() - c0;
  c0 = cpu();
  await gpt.complete(prompt, { ...opts, maxTokens: N_DECODE });
  const d = cpu() - c0 - p;
  return { pre: 128 / p, dec: (N_DECODE - 1) / d };
}

if (BASELINE) console.log(`A/B in one process: current = ${DIST ?? 'dist/'}, baseline = ${BASELINE}; ${REPS} interleaved reps, best of each`);
if (TASK === 'embed') {
  await embedRates();
  process.exit(0);
}

/** 8 sentences of exactly n tokens: [CLS] word pieces [SEP] (the ids run.mjs's text gives are similar). */
function sentences(n) {
  return Array.from({ length: 8 }, (_, j) => Int32Array.from({ length: n }, (_, i) => (i === 0 ? 101 : i === n - 1 ? 102 : 2000 + ((i * 37 + j * 11) % 20000))));
}

async function embedRates() {
  console.log(`embed: sentences per CPU-second (best of ${REPS}), 8 sentences of each length, batch 1 = one per call, batch 8 = all in one call; load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const model of MODELS)
    for (const variant of VARIANTS) {
      const file = path.join(HERE, 'work', 'gguf', `${model}-${variant}.gguf`);
      const berts = [];
      try {
        for (const s of sides) berts.push(await s.BERT.load(file, { threads: 1, ...(BUILD ? { build: BUILD } : {}) }));
        for (const n of LENGTHS) {
          const sents = sentences(n);
          const best = sides.map(() => ({ b1: 0, b8: 0 }));
          for (const b of berts) await b.embed(sents.slice(0, 2)); // warm-up: scratch, tier-up
          for (let r = 0; r < REPS; r++) {
            const order = r % 2 ? [...berts.keys()].reverse() : [...berts.keys()];
            for (const i of order) {
              let c0 = cpu();
              for (const s of sents) await berts[i].embed(s);
              const b1 = 8 / (cpu() - c0);
              c0 = cpu();
              await berts[i].embed(sents);
              const b8 = 8 / (cpu() - c0);
              best[i].b1 = Math.max(best[i].b1, b1);
              best[i].b8 = Math.max(best[i].b8, b8);
            }
          }
          const line = (i) => `b1 ${best[i].b1.toFixed(2).padStart(7)}  b8 ${best[i].b8.toFixed(2).padStart(7)} sent/CPU-s (b8/b1 ${(best[i].b8 / best[i].b1).toFixed(2)})`;
          const head = `${model.padEnd(10)} ${variant.padEnd(5)} ${String(n).padStart(4)} tok`;
          if (!BASELINE) console.log(`${head}  ${line(0)}  (build ${berts[0].runtime?.build ?? berts[0].engine?.build ?? '?'})`);
          else console.log(`${head}  current: ${line(0)} | baseline: ${line(1)} | current ÷ baseline: b1 ${(best[0].b1 / best[1].b1).toFixed(3)}, b8 ${(best[0].b8 / best[1].b8).toFixed(3)}`);
        }
      } finally {
        for (const b of berts) b.dispose();
      }
    }
}

for (const model of MODELS)
  for (const variant of VARIANTS) {
    const file = path.join(HERE, 'work', 'gguf', `${model}-${variant}.gguf`);
    const best = sides.map(() => ({ pre: 0, dec: 0 }));
    const gpts = [];
    try {
      for (const s of sides) {
        const g = await s.GPT.load(file, { threads: 1, contextLength: 256, ...(BUILD ? { build: BUILD } : {}) });
        gpts.push(g);
        await g.complete(prompt, { ...opts, maxTokens: 4 }); // warm-up
      }
      for (let r = 0; r < REPS; r++) {
        const order = r % 2 ? [...gpts.keys()].reverse() : [...gpts.keys()];
        for (const i of order) {
          const m = await once(gpts[i]);
          best[i].pre = Math.max(best[i].pre, m.pre);
          best[i].dec = Math.max(best[i].dec, m.dec);
        }
      }
    } finally {
      for (const g of gpts) g.dispose();
    }
    const line = (i) => `prefill ${best[i].pre.toFixed(1).padStart(6)} tok/CPU-s  decode ${best[i].dec.toFixed(2).padStart(6)} tok/CPU-s`;
    if (!BASELINE) console.log(`${model.padEnd(11)} ${variant.padEnd(5)} ${line(0)}  (${gpts.length ? 'build ' + (gpts[0]?.runtime?.build ?? '?') : ''})`);
    else
      console.log(
        `${model.padEnd(11)} ${variant.padEnd(5)} current: ${line(0)} | baseline: ${line(1)} | current ÷ baseline: prefill ${(best[0].pre / best[1].pre).toFixed(3)}, decode ${(best[0].dec / best[1].dec).toFixed(3)}`,
      );
  }
