#!/usr/bin/env node
// profile.mjs — where plm-wasm spends its time: V8 CPU profile (node:inspector, in process)
// of one 128-token prefill and 64 single-token decode steps (GPT/LLaMA), or of BERT
// embeddings, on the wasm built with function names (build_prof.sh -> out/prof/), single
// thread. Prints self time per wasm function for each phase, and process CPU time.
//
//   sh bench/compare/build_prof.sh && node bench/compare/profile.mjs gpt2-small Q8_0
//   node bench/compare/profile.mjs bert-base F32 [--tokens 128 --batch 8]
//   --wasm DIR   use other profiling builds (e.g. a prototype kernel)

import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { GPT, BERT, Engine } from '../../js/node.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const [model = 'gpt2-small', variant = 'Q8_0'] = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const WASM = path.resolve(opt('wasm', path.join(HERE, 'out', 'prof')));
const TOP = Number(opt('top', '14'));

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 4294967296);
}

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 250 });

async function profiled(label, fn) {
  await session.post('Profiler.start');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const extra = await fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const { profile } = await session.post('Profiler.stop');
  const self = new Map();
  let total = 0;
  const dt = new Map();
  // time per sample from timeDeltas (robust to skipped samples)
  profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  for (const n of profile.nodes) {
    const us = dt.get(n.id) ?? 0;
    const name = n.callFrame.functionName || `(${n.callFrame.url.split('/').pop() || 'anonymous'})`;
    if (name === '(idle)' || name === '(program)' || name === '(garbage collector)') continue;
    self.set(name, (self.get(name) ?? 0) + us);
    total += us;
  }
  const cpuMs = (c.user + c.system) / 1000;
  console.log(`\n${label}: wall ${ms.toFixed(0)} ms, process CPU ${cpuMs.toFixed(0)} ms${extra ? `, ${extra}` : ''}`);
  for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP))
    console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${name}`);
}

const file = path.join(HERE, 'work', 'gguf', `${model}-${variant}.gguf`);
const engine = await Engine.create({ threads: 1, wasmBaseUrl: pathToFileURL(WASM + '/') });
if (model.startsWith('bert') || model.startsWith('minilm')) {
  const n = Number(opt('tokens', '128'));
  const batch = Number(opt('batch', '8'));
  const bert = await BERT.load(file, { engine });
  const r = rng(5);
  const sents = Array.from({ length: 8 }, () => Int32Array.from({ length: n }, (_, i) => (i === 0 ? 101 : i === n - 1 ? 102 : 1996 + Math.floor(r() * 27000))));
  await bert.embed(sents.slice(0, 2));
  await profiled(`${model} ${variant} embed 8 x ${n} tokens, batch ${batch}`, async () => {
    for (let i = 0; i < 8; i += batch) await bert.embed(batch === 1 ? sents[i] : sents.slice(i, i + batch));
  });
  bert.dispose();
} else {
  const gpt = await GPT.load(file, { engine, contextLength: 256 });
  const { fn } = engine;
  const V = gpt.info.vocabSize;
  const r = rng(3);
  const prompt = Int32Array.from({ length: 128 }, () => 3 + Math.floor(r() * (V - 3)));
  await engine.scoped(async (s) => {
    const ids = s.i32(prompt);
    const logits = s.alloc(V * 4);
    const ctx = gpt.ctxPtr;
    const run = (p, n) => engine.check(fn.plm_ctx_decode(ctx, p, n, logits, 0));
    engine.check(fn.plm_ctx_truncate(ctx, 0));
    run(ids, 16); // warm-up
    engine.check(fn.plm_ctx_truncate(ctx, 0));
    await profiled(`${model} ${variant} prefill 128 tokens`, () => {
      const t0 = performance.now();
      run(ids, 128);
      return `${((128 * 1000) / (performance.now() - t0)).toFixed(1)} tok/s`;
    });
    const one = s.alloc(4);
    await profiled(`${model} ${variant} decode 64 tokens`, () => {
      const t0 = performance.now();
      for (let i = 0; i < 64; i++) {
        engine.view(Int32Array, one, 1)[0] = prompt[i];
        run(one, 1);
      }
      return `${((64 * 1000) / (performance.now() - t0)).toFixed(2)} tok/s`;
    });
  });
  gpt.dispose();
}
engine.dispose();
