#!/usr/bin/env node
// plm_rates.mjs — plm-wasm alone in Node on bench/compare's GGUF files, per CPU-second of
// this process (robust on a loaded machine; single thread): prefill tok/CPU-s of a 128-token
// prompt and decode tok/CPU-s of the following steps, best of --reps. For A/B tests of kernel
// changes: run it against two builds with --dist (a copy of an older dist/) in the same shell.
//
//   node bench/compare/plm_rates.mjs [--models gpt2-small,llama-110m] [--variants Q8_0,Q4_0,F16]
//        [--decode 32] [--reps 3] [--dist DIR]

import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const MODELS = opt('models', 'gpt2-small,llama-110m').split(',');
const VARIANTS = opt('variants', 'Q8_0,Q4_0,F16').split(',');
const N_DECODE = Number(opt('decode', '32'));
const REPS = Number(opt('reps', '3'));
const DIST = opt('dist', null);

// --dist DIR: a copy of the repo's js/ next to DIR's wasm files (js/ finds ../dist/)
let root = path.join(HERE, '..', '..');
if (DIST) {
  root = fs.mkdtempSync('/tmp/plm-rates-');
  fs.cpSync(path.join(HERE, '..', '..', 'js'), path.join(root, 'js'), { recursive: true });
  fs.cpSync(path.resolve(DIST), path.join(root, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(HERE, '..', '..', 'package.json'), path.join(root, 'package.json'));
}
const { GPT } = await import(pathToFileURL(path.join(root, 'js', 'node.js')).href);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

for (const model of MODELS)
  for (const variant of VARIANTS) {
    const gpt = await GPT.load(path.join(HERE, 'work', 'gguf', `${model}-${variant}.gguf`), { threads: 1, contextLength: 256 });
    const prompt = Int32Array.from({ length: 128 }, (_, i) => 1000 + ((i * 7919) % 20000));
    await gpt.complete(prompt, { maxTokens: 4, temperature: 0, ignoreEos: true, reusePrefix: false }); // warm-up
    let pre = 0;
    let dec = 0;
    for (let r = 0; r < REPS; r++) {
      let c0 = cpu();
      await gpt.complete(prompt, { maxTokens: 1, temperature: 0, ignoreEos: true, reusePrefix: false });
      const p = cpu() - c0;
      c0 = cpu();
      await gpt.complete(prompt, { maxTokens: N_DECODE, temperature: 0, ignoreEos: true, reusePrefix: false });
      const d = cpu() - c0 - p;
      pre = Math.max(pre, 128 / p);
      dec = Math.max(dec, (N_DECODE - 1) / d);
    }
    console.log(`${model.padEnd(11)} ${variant.padEnd(5)} prefill ${pre.toFixed(1).padStart(6)} tok/CPU-s  decode ${dec.toFixed(2).padStart(6)} tok/CPU-s`);
    gpt.dispose();
  }
