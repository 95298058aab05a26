#!/usr/bin/env node
// load_bench.mjs — how long loading takes and how much memory it needs, per source.
//
// Writes (once, into --dir) a GPT-2-small-shaped GGUF (12 layers, 768 wide, 12 heads,
// context 1024, F16 weights with random values; the 1024-token tokenizer of
// models/gpt2-stories-F16.gguf), serves it from a local HTTP server, and loads it in
// fresh Node processes:
//   url        streamed from http:// (fetch -> chunks -> wasm memory), cache off
//   url-worker the same in worker mode (the page's default): the chunks cross to a worker
//   cache      from the model cache (second load)
//   file       a file path (Node fs)
//   bytes      an ArrayBuffer already in memory (whole file held by JS: for comparison)
// and prints: load time, the process's peak RSS growth over its state before the load
// (maxRSS), the wasm memory size, the file size, and their ratio.
//
//   node bench/load_bench.mjs [--dir DIR] [--runs 3] [--keep] [--model path.gguf] [--class GPT|BERT|T5]
//                             [--modes url,url-worker,file,bytes,cache]
// (--model: any GGUF instead of the written one, loaded as --class, default GPT)

import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const DIR = opt('dir', join(tmpdir(), 'plm-bench'));
const RUNS = Number(opt('runs', 3));
const MODEL = join(DIR, 'gpt2-small-shape-F16.gguf');
const MODEL_ARG = opt('model', null);
const CLASS = opt('class', 'GPT');
const modelPath = () => MODEL_ARG ?? MODEL;
const MB = (n) => `${(n / 2 ** 20).toFixed(1)} MB`;

// ------------------------------------------------------------ the model file

async function writeModel(path) {
  const { readGGUF, GGUFWriter, GGUFValueType: VT, GGMLType } = await import('../js/convert/index.js');
  const small = readGGUF(join(ROOT, 'models', 'gpt2-stories-F16.gguf'));
  const E = 768;
  const L = 12;
  const FF = 3072;
  const CTX = 1024;
  const V = small.get('tokenizer.ggml.tokens').length;
  const w = new GGUFWriter();
  const hp = { 'gpt2.block_count': L, 'gpt2.context_length': CTX, 'gpt2.embedding_length': E, 'gpt2.feed_forward_length': FF, 'gpt2.attention.head_count': 12 };
  for (const e of small.metadata) {
    if (e.key in hp) w.addKeyValue(e.key, hp[e.key], VT.UINT32);
    else if (e.key === 'general.name') w.addString(e.key, 'gpt2-small-shape-random');
    else w.addKeyValue(e.key, e.value, e.type, e.itemType);
  }
  const tensors = [];
  const add = (name, shape, type) => tensors.push(w.addTensorInfo(name, shape, type));
  add('token_embd.weight', [V, E], GGMLType.F16);
  add('position_embd.weight', [CTX, E], GGMLType.F32);
  for (let l = 0; l < L; l++) {
    add(`blk.${l}.attn_norm.weight`, [E], GGMLType.F32);
    add(`blk.${l}.attn_norm.bias`, [E], GGMLType.F32);
    add(`blk.${l}.attn_qkv.weight`, [3 * E, E], GGMLType.F16);
    add(`blk.${l}.attn_qkv.bias`, [3 * E], GGMLType.F32);
    add(`blk.${l}.attn_output.weight`, [E, E], GGMLType.F16);
    add(`blk.${l}.attn_output.bias`, [E], GGMLType.F32);
    add(`blk.${l}.ffn_norm.weight`, [E], GGMLType.F32);
    add(`blk.${l}.ffn_norm.bias`, [E], GGMLType.F32);
    add(`blk.${l}.ffn_up.weight`, [FF, E], GGMLType.F16);
    add(`blk.${l}.ffn_up.bias`, [FF], GGMLType.F32);
    add(`blk.${l}.ffn_down.weight`, [E, FF], GGMLType.F16);
    add(`blk.${l}.ffn_down.bias`, [E], GGMLType.F32);
  }
  add('output_norm.weight', [E], GGMLType.F32);
  add('output_norm.bias', [E], GGMLType.F32);
  small.close();
  let s = 0x9e3779b9;
  const rnd = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
  mkdirSync(dirname(path), { recursive: true });
  w.open(path);
  for (const t of tensors) {
    const bytes = new Uint8Array(t.nbytes);
    if (t.type === GGMLType.F16) {
      const u16 = new Uint16Array(bytes.buffer);
      for (let i = 0; i < u16.length; i++) u16[i] = (rnd() & 0x83ff) | 0x2400; // |x| in [2^-6, 2^-5): finite, small
    } else {
      const f = new Float32Array(bytes.buffer);
      const isNormW = t.name.endsWith('norm.weight');
      for (let i = 0; i < f.length; i++) f[i] = isNormW ? 1 : ((rnd() / 2 ** 32) - 0.5) * 0.02;
    }
    w.writeTensor(t.name, bytes);
  }
  w.close();
}

// ------------------------------------------------------------ one measured load (child process)

async function child(mode, url, cacheDir) {
  const plm = await import('../js/node.js');
  const Cls = plm[CLASS];
  if (typeof Cls?.load !== 'function') throw new Error(`--class ${CLASS}: no such model class`);
  plm.ModelCache.directory = cacheDir;
  const rss0 = process.memoryUsage().rss;
  let source = mode === 'file' ? modelPath() : url;
  let t0 = performance.now();
  if (mode === 'bytes') {
    source = readFileSync(modelPath()); // (time and memory of reading the file count)
  }
  const opts = { threads: 1, cache: mode === 'cache', worker: mode === 'url-worker' };
  const gpt = await Cls.load(source, opts);
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  const wasm = opts.worker ? null : gpt.engine.memoryBytes();
  const heap = opts.worker ? null : gpt.engine.heapUsed();
  const ok = (gpt.tokenize ?? gpt.tokenizer?.encode)?.call(gpt, 'Once upon a time')?.length > 0;
  gpt.dispose();
  return { ms, peakGrowth: peak - rss0, wasm, heap, ok };
}

// ------------------------------------------------------------ main

async function main() {
  if (args[0] === '--child') {
    const r = await child(args[1], args[2], args[3]);
    process.stdout.write(JSON.stringify(r));
    return;
  }
  mkdirSync(DIR, { recursive: true });
  if (!MODEL_ARG && !existsSync(MODEL)) {
    const t0 = performance.now();
    await writeModel(MODEL);
    console.log(`wrote ${MODEL} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const size = statSync(modelPath()).size;
  console.log(`model: ${modelPath()} (${MB(size)}${MODEL_ARG ? `, loaded as ${CLASS}` : ', GPT-2-small shape, F16'})\n`);

  const { startServer } = await import('../tests/js/loader_server.mjs');
  const srv = await startServer({ root: dirname(modelPath()) });
  const url = srv.url(basename(modelPath()));
  const cacheDir = join(DIR, 'cache');
  rmSync(cacheDir, { recursive: true, force: true });

  const modes = opt('modes', 'url,url-worker,file,bytes,cache').split(',');
  console.log('source       load ms (best)   peak RSS growth (min)   wasm memory   RSS growth / file size');
  // (children run asynchronously: the HTTP server lives in this process)
  const { execFile } = await import('node:child_process');
  const runChild = (mode) =>
    new Promise((resolve, reject) =>
      execFile(process.execPath, [fileURLToPath(import.meta.url), '--child', mode, url, cacheDir, ...args],  { maxBuffer: 1 << 20 }, (e, stdout, stderr) =>
        e ? reject(new Error(`${mode}: ${stderr || e.message}`)) : resolve(JSON.parse(stdout)),
      ),
    );
  for (const mode of modes) {
    if (mode === 'cache') await runChild('cache'); // fill the cache (not measured)
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await runChild(mode));
    const best = Math.min(...runs.map((r) => r.ms));
    const growth = Math.min(...runs.map((r) => r.peakGrowth));
    const wasm = runs[0].wasm;
    console.log(
      `${mode.padEnd(12)} ${best.toFixed(0).padStart(8)}          ${MB(growth).padStart(10)}            ${wasm ? MB(wasm).padStart(10) : '  (worker)'}      ${(growth / size).toFixed(2)}`,
    );
  }
  await srv.close();
  if (!args.includes('--keep')) rmSync(cacheDir, { recursive: true, force: true });
  console.log(`\nRSS growth = the process's peak resident memory during the load minus before it (wasm memory included;`);
  console.log(`worker mode: both threads). ${RUNS} runs each, fresh processes; 1 thread.`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });

export { writeModel, MODEL, DIR };
