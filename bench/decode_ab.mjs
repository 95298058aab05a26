#!/usr/bin/env node
// decode_ab.mjs — decode speed of several checkouts in ONE process, interleaved: each root is a
// directory with its own js/ and dist/ (e.g. `git worktree add /tmp/base 213f51d` and its wasm
// build), so older builds run with their own JS layer (no ABI mixing, unlike --baseline / --dist).
// 1 thread: decode tokens per CPU-second of this process; --threads 2: tokens per wall second
// (the -mt builds). Prints the best of --reps per variant and the median of the per-round ratios
// to the first variant, with the load average before and after.
//
//   node [--experimental-wasm-relaxed-simd] bench/decode_ab.mjs --roots /tmp/base,. [--builds simd,1:relaxed]
//        [--models gpt2-small,llama-110m] [--variants Q8_0,Q4_0,F16,F32] [--threads 1] [--reps 5] [--decode 24]
//        [--gguf bench/compare/work/gguf] [--wall]
// --builds: families for every root ("simd"), or "i:family" for root i only.
import path from 'node:path';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : d; };
const ROOTS = opt('roots', '.').split(',').map((r) => path.resolve(r));
const MODELS = opt('models', 'gpt2-small').split(',');
const VARIANTS = opt('variants', 'Q8_0').split(',');
const BUILDS = opt('builds', 'simd').split(',');     // per root: "simd" or "relaxed" (mt twin when threads>1); "root:build" to restrict
const THREADS = Number(opt('threads', '1'));
const N = Number(opt('decode', '32'));
const REPS = Number(opt('reps', '3'));
const WALL = args.includes('--wall');
const GG = opt('gguf', new URL('./compare/work/gguf', import.meta.url).pathname);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const now = () => performance.now() / 1000;
const mods = [];
for (const r of ROOTS) mods.push(await import(pathToFileURL(path.join(r, 'js', 'node.js')).href));
const combos = [];
for (let i = 0; i < ROOTS.length; i++)
  for (const b of BUILDS) {
    if (b.includes(':')) { const [ri, bb] = b.split(':'); if (Number(ri) === i) combos.push({ i, b: bb }); continue; }
    combos.push({ i, b });
  }
console.log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}  threads ${THREADS}  ${THREADS === 1 ? 'tok/CPU-s' : 'tok/s wall'}`);
for (const model of MODELS)
  for (const variant of VARIANTS) {
    const file = path.join(GG, `${model}-${variant}.gguf`);
    const prompt = Int32Array.from({ length: 32 }, (_, i) => 1000 + ((i * 7919) % 20000));
    const best = combos.map(() => 0);
    const all = combos.map(() => []);
    const gpts = [];
    for (const c of combos) {
      const build = THREADS > 1 ? `${c.b}-mt` : c.b;
      const g = await mods[c.i].GPT.load(file, { threads: THREADS, contextLength: 256, build });
      await g.complete(prompt, { maxTokens: 4, temperature: 0, ignoreEos: true, reusePrefix: false });
      gpts.push(g);
    }
    for (let r = 0; r < REPS; r++)
      for (let k = 0; k < combos.length; k++) {
        const g = gpts[k];
        const clk = (THREADS === 1 && !WALL) ? cpu : now;
        let c0 = clk();
        await g.complete(prompt, { maxTokens: 1, temperature: 0, ignoreEos: true, reusePrefix: false });
        const p = clk() - c0;
        c0 = clk();
        await g.complete(prompt, { maxTokens: N, temperature: 0, ignoreEos: true, reusePrefix: false });
        const d = clk() - c0 - p;
        best[k] = Math.max(best[k], (N - 1) / d);
        all[k].push((N - 1) / d);
      }
    const med = (a) => { const b = [...a].sort((x, y) => x - y); return b[b.length >> 1]; };
    const pr = combos.map((_, k) => med(all[k].map((v, r) => v / all[0][r])));
    const line2 = combos.map((c, k) => `median pairwise ${pr[k].toFixed(3)}`).join('  ');
    const line = combos.map((c, k) => `${path.basename(ROOTS[c.i])}/${c.b} ${best[k].toFixed(2)} (${(best[k] / best[0]).toFixed(3)})`).join('  ');
    console.log(`${model} ${variant.padEnd(5)} best ${line}\n   ${line2}`);
    for (const g of gpts) g.dispose();
  }
console.log(`load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
