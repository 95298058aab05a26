#!/usr/bin/env node
// gpt_bench.mjs — GPT-2-small-shaped decoding speed vs memory bandwidth.
//
// Writes random-weight GGUFs (with the converter's GGUF writer) of GPT-2 small's shape (12 layers, 768 wide, 12 heads,
// vocab 50257, context 1024; the real GPT-2 tokenizer copied from the vocab-only
// fixture) at Q8_0 and Q4_0 (quantized by the core's plm_quantize_rows), loads
// each, and prints for 1 and 2 threads:
//   prompt tokens/s  (one 128-token prefill)
//   decode tokens/s  (64 single-token steps after it)
//   GB/s of weight bytes streamed per decoded token (all matmul weights + the
//        tied output matrix are read once per token)
//   a plain wasm SIMD memory-read loop over a buffer as large as the weights, in
//        the same process, and the ratio decode GB/s / read-loop GB/s.
// Random weights make the output meaningless; the work per token is the real model's.
//
//   node bench/gpt_bench.mjs [--types Q8_0,Q4_0] [--threads 1,2] [--keep] [--dir DIR] [--rounds 3]
//                            [--baseline DIST_DIR] [--builds simd,relaxed]
//   node bench/gpt_bench.mjs --prefill 128,512 [--types F32,F16] [--threads 1,2] [--baseline DIR] [--builds ...]
//
// prefill GFLOP/s counts the block matmuls of the prompt (2 x tokens x block weights), printed
// next to decode's weight GB/s / read-loop GB/s ratio.
// --baseline DIR / --builds a,b (bench/lib/compare.mjs): the variants (another dist/, build
// families) run interleaved in this process, best of --rounds, ratios vs the first variant.
// --prefill: prompt processing only, for each prompt length: tokens/s of wall time and of
// process CPU time (best of 3) and GFLOP/s (matmul + attention flops).

import { statSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import '../js/cli/relaxed.js';
import { parseCompare, engineOptions, interleaved, ratio, loadLine } from './lib/compare.mjs';
import { GPT, Engine } from '../js/node.js';
import { GGUFWriter, readGGUF, Quantizer } from '../js/convert/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const TYPES = opt('types', 'Q8_0,Q4_0').split(',');
const THREADS = opt('threads', '1,2').split(',').map(Number);
const DIR = opt('dir', join(tmpdir(), 'plm-bench'));
const KEEP = args.includes('--keep');

const HP = { n_vocab: 50257, n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12, n_ff: 3072 };
const GGML = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14 };
const FILE_TYPE = { F32: 0, F16: 1, Q8_0: 7, Q4_0: 2, Q4_K: 15, Q5_K: 17, Q6_K: 18 };
const PREFILL = opt('prefill', null)?.split(',').map(Number);
const CMP = parseCompare(args);
const ROUNDS = Number(opt('rounds', CMP.active ? '3' : '1'));
const N_PROMPT = 128;
const N_DECODE = 64;

// ------------------------------------------------------------------ GGUF writing
// (the converter's GGUFWriter / readGGUF / Quantizer from plm-wasm/convert)

function xorshift(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Tensors of GPT-2 small in llama.cpp's names; shapes in numpy order (rows, cols). */
function tensorList(type) {
  const { n_vocab, n_ctx, n_embd, n_layer, n_ff } = HP;
  const W = GGML[type];
  const t = [
    { name: 'token_embd.weight', shape: [n_vocab, n_embd], type: GGML.Q8_0, init: 'rand' }, // tied output: Q8_0 in both files
    { name: 'position_embd.weight', shape: [n_ctx, n_embd], type: GGML.F32, init: 'rand' },
  ];
  const vec = (name, n, init) => ({ name, shape: [n], type: GGML.F32, init });
  for (let l = 0; l < n_layer; l++) {
    const b = `blk.${l}.`;
    t.push(
      vec(b + 'attn_norm.weight', n_embd, 'one'),
      vec(b + 'attn_norm.bias', n_embd, 'zero'),
      { name: b + 'attn_qkv.weight', shape: [3 * n_embd, n_embd], type: W, init: 'rand' },
      vec(b + 'attn_qkv.bias', 3 * n_embd, 'zero'),
      { name: b + 'attn_output.weight', shape: [n_embd, n_embd], type: W, init: 'rand' },
      vec(b + 'attn_output.bias', n_embd, 'zero'),
      vec(b + 'ffn_norm.weight', n_embd, 'one'),
      vec(b + 'ffn_norm.bias', n_embd, 'zero'),
      { name: b + 'ffn_up.weight', shape: [n_ff, n_embd], type: W, init: 'rand' },
      vec(b + 'ffn_up.bias', n_ff, 'zero'),
      { name: b + 'ffn_down.weight', shape: [n_embd, n_ff], type: W, init: 'rand' },
      vec(b + 'ffn_down.bias', n_embd, 'zero'),
    );
  }
  t.push(vec('output_norm.weight', n_embd, 'one'), vec('output_norm.bias', n_embd, 'zero'));
  return t;
}

// Q4_K / Q5_K rows of random quants and scales (the converter quantizes to Q6_K but not
// to these): d and dmin chosen so weights spread about like GPT-2's init (|w| ~ 0.03).
function randomK45(type, nr, n, rand) {
  const bb = type === GGML.Q4_K ? 144 : 176, nb = (nr * n) / 256;
  const out = new Uint8Array(nb * bb);
  for (let i = 0; i < out.length; i++) out[i] = (rand() * 256) | 0;
  const dv = new DataView(out.buffer);
  const d = type === GGML.Q4_K ? 0x0100 : 0x0080; // fp16 1.5e-5 / 7.6e-6 (|sc * q| <= 945 / 1953)
  for (let b = 0; b < nb; b++) {
    dv.setUint16(b * bb, d, true);
    dv.setUint16(b * bb + 2, d, true);
  }
  return out;
}

export async function writeModel(path, type, quantizer) {
  const tensors = tensorList(type);
  const w = new GGUFWriter();
  w.addString('general.architecture', 'gpt2');
  w.addString('general.name', `bench gpt2-small random ${type}`);
  w.addUint32('general.file_type', FILE_TYPE[type]);
  w.addUint32('general.quantization_version', 2);
  w.addUint32('gpt2.block_count', HP.n_layer);
  w.addUint32('gpt2.context_length', HP.n_ctx);
  w.addUint32('gpt2.embedding_length', HP.n_embd);
  w.addUint32('gpt2.feed_forward_length', HP.n_ff);
  w.addUint32('gpt2.attention.head_count', HP.n_head);
  w.addFloat32('gpt2.attention.layer_norm_epsilon', 1e-5);
  // the real GPT-2 tokenizer (50257 tokens, 50000 merges)
  const vocab = readGGUF(join(ROOT, 'tests', 'fixtures', 'tokenizers', 'ggml-vocab-gpt-2.gguf'));
  for (const e of vocab.metadata) if (e.key.startsWith('tokenizer.')) w.addKeyValue(e.key, e.value, e.type, e.itemType);
  vocab.close();
  for (const t of tensors) t.bytes = w.addTensorInfo(t.name, t.shape, t.type).nbytes;
  w.open(path);
  try {
    const rand = xorshift(1234);
    const scale = 0.02 * Math.sqrt(3); // uniform with GPT-2's init std 0.02
    const CHUNK_ROWS = 256;
    for (const t of tensors) {
      const [rows, n] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
      w.beginTensor(t.name);
      for (let r0 = 0; r0 < rows; r0 += CHUNK_ROWS) {
        const nr = Math.min(CHUNK_ROWS, rows - r0);
        const src = new Float32Array(nr * n);
        if (t.init === 'one') src.fill(1);
        else if (t.init === 'rand') for (let i = 0; i < src.length; i++) src[i] = (2 * rand() - 1) * scale;
        if (t.type === GGML.Q4_K || t.type === GGML.Q5_K) w.writeChunk(randomK45(t.type, nr, n, rand)); // no Q4_K/Q5_K quantizer in the converter
        else w.writeChunk(t.type === GGML.F32 ? src : quantizer.quantize(t.type, src, nr, n));
      }
      w.endTensor();
    }
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
  const weightBytes = tensors.filter((t) => t.shape.length === 2 && t.name !== 'position_embd.weight').reduce((s, t) => s + t.bytes, 0);
  return { weightBytes, fileBytes: statSync(path).size };
}

// ------------------------------------------------------------------ memory bandwidth

/** (func sum (param ptr n) (result i32)): v128 loads over [ptr, ptr+n), n a multiple of 64; memory env.mem shared. */
function readLoopModule() {
  const leb = (v) => {
    const out = [];
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v) b |= 0x80;
      out.push(b);
    } while (v);
    return out;
  };
  const section = (id, body) => [id, ...leb(body.length), ...body];
  const name = (s) => [...leb(s.length), ...new TextEncoder().encode(s)];
  const load = (acc, off) => [0x20, acc, 0x20, 0x00, 0xfd, 0x00, 0x04, ...leb(off), 0xfd, 0x51, 0x21, acc];
  const body = [
    2, 1, 0x7f, 2, 0x7b, // locals: end i32; acc0, acc1 v128
    0x20, 0, 0x20, 1, 0x6a, 0x21, 2, // end = p + n
    0x03, 0x40, // loop
    ...load(3, 0), ...load(4, 16), ...load(3, 32), ...load(4, 48),
    0x20, 0, 0x41, 0xc0, 0x00, 0x6a, 0x22, 0, // p += 64
    0x20, 2, 0x49, 0x0d, 0, // br_if p < end
    0x0b,
    0x20, 3, 0x20, 4, 0xfd, 0x51, 0xfd, 0x1b, 0, // xor accs, lane 0
    0x0b,
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]),
    ...section(2, [1, ...name('env'), ...name('mem'), 0x02, 0x03, ...leb(1), ...leb(65536)]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('sum'), 0x00, 0]),
    ...section(10, [1, ...leb(body.length), ...body]),
  ];
  return new WebAssembly.Module(new Uint8Array(bytes));
}

async function readBandwidth(bytes, nThreads) {
  const module = readLoopModule();
  const size = Math.ceil(bytes / 65536 / nThreads) * 65536 * nThreads;
  const memory = new WebAssembly.Memory({ initial: size / 65536 + 1, maximum: 65536, shared: true });
  new Uint8Array(memory.buffer).fill(1, 0, size);
  const per = size / nThreads;
  const passes = 6;
  const code = `
    const { parentPort, workerData: { module, memory, ptr, n, passes } } = require('node:worker_threads');
    const { sum } = new WebAssembly.Instance(module, { env: { mem: memory } }).exports;
    parentPort.on('message', () => {
      sum(ptr, n); // warm
      const t0 = performance.now();
      let x = 0;
      for (let i = 0; i < passes; i++) x ^= sum(ptr, n);
      parentPort.postMessage({ ms: performance.now() - t0, x });
    });
    parentPort.postMessage('ready');`;
  const workers = [];
  for (let i = 0; i < nThreads; i++) {
    const w = new Worker(code, { eval: true, workerData: { module, memory, ptr: i * per, n: per, passes } });
    await new Promise((r) => w.once('message', r));
    workers.push(w);
  }
  const t0 = performance.now();
  await Promise.all(workers.map((w) => new Promise((r) => (w.once('message', r), w.postMessage('go')))));
  const ms = performance.now() - t0;
  for (const w of workers) await w.terminate();
  return (size * passes) / (ms / 1000) / 1e9;
}

// ------------------------------------------------------------------ decoding

async function benchModel(path, threads, variant) {
  const engine = await Engine.create(engineOptions(variant, threads));
  const gpt = await GPT.load(path, { engine, contextLength: N_PROMPT + N_DECODE + 8 });
  const { fn } = engine;
  try {
    const rand = xorshift(99);
    const prompt = Int32Array.from({ length: N_PROMPT }, () => Math.floor(rand() * HP.n_vocab));
    const ctx = gpt.ctxPtr;
    return engine.scoped((s) => {
      const ids = s.i32(prompt);
      const logits = s.alloc(HP.n_vocab * 4);
      const run = (p, n) => engine.check(fn.plm_ctx_decode(ctx, p, n, logits, 0));
      // warm-up (first touch of the weights, scratch allocation)
      engine.check(fn.plm_ctx_truncate(ctx, 0));
      run(ids, 8);
      engine.check(fn.plm_ctx_truncate(ctx, 0));
      let t0 = performance.now();
      run(ids, N_PROMPT);
      const prefillMs = performance.now() - t0;
      const one = s.alloc(4);
      t0 = performance.now();
      for (let i = 0; i < N_DECODE; i++) {
        engine.view(Int32Array, one, 1)[0] = prompt[i];
        run(one, 1);
      }
      const decodeMs = performance.now() - t0;
      return { prefillTps: (N_PROMPT * 1000) / prefillMs, decodeTps: (N_DECODE * 1000) / decodeMs, build: engine.build, threads: engine.threads };
    });
  } finally {
    gpt.dispose();
    engine.dispose();
  }
}

/** Flops of a prefill of n tokens: 2 * (weights of the blocks + the head for the last row)
 * per token, plus attention (QK^T and PV over i + 1 keys for token i). */
function prefillFlops(n) {
  const { n_embd: E, n_ff: F, n_layer: L, n_vocab: V } = HP;
  return 2 * n * L * (4 * E * E + 2 * E * F) + 2 * E * V + L * 2 * 2 * E * ((n * (n + 1)) / 2);
}

async function prefillRun(path, threads, n, variant) {
  const engine = await Engine.create(engineOptions(variant, threads));
  const gpt = await GPT.load(path, { engine, contextLength: n + 8 });
  const { fn } = engine;
  try {
    const rand = xorshift(99);
    const prompt = Int32Array.from({ length: n }, () => Math.floor(rand() * HP.n_vocab));
    const ctx = gpt.ctxPtr;
    return engine.scoped((s) => {
      const ids = s.i32(prompt);
      const logits = s.alloc(HP.n_vocab * 4);
      const run = () => {
        engine.check(fn.plm_ctx_truncate(ctx, 0));
        engine.check(fn.plm_ctx_decode(ctx, ids, n, logits, 0));
      };
      run(); // warm-up
      let wall = Infinity, cpu = Infinity;
      for (let r = 0; r < 3; r++) {
        const c0 = process.cpuUsage(), t0 = performance.now();
        run();
        wall = Math.min(wall, performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu = Math.min(cpu, (c.user + c.system) / 1000);
      }
      return { wall, cpu, threads: engine.threads, build: engine.build };
    });
  } finally {
    gpt.dispose();
    engine.dispose();
  }
}

async function prefillMain() {
  mkdirSync(DIR, { recursive: true });
  const quantizer = await Quantizer.create();
  const V = CMP.variants;
  console.log(`GPT-2 small shape, random weights; prefill only (plm_ctx_decode of the whole prompt, last row's logits), best of 3 x ${ROUNDS} rounds`);
  console.log(`machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, Node ${process.versions.node}; ${loadLine()}${CMP.baseline ? `; baseline: ${CMP.baseline}` : ''}\n`);
  const head = V.length > 1 ? V.slice(1).map((v) => ` ${v.label} tok/s cpu | ${v.label}/${V[0].label} cpu |`).join('') : '';
  console.log(`| weights | threads | tokens | build | tok/s wall | tok/s cpu | GFLOP/s cpu |${head}`);
  console.log('|---|---|---|---|---|---|---|' + '---|---|'.repeat(V.length - 1));
  for (const type of TYPES) {
    const path = join(DIR, `gpt2-small-random-${type}.gguf`);
    await writeModel(path, type, quantizer);
    for (const threads of THREADS)
      for (const n of PREFILL) {
        const res = await interleaved(V, ROUNDS, (v) => prefillRun(path, threads, n, v));
        const tps = (ms) => ((n * 1000) / ms).toFixed(1);
        const r0 = res[0];
        console.log(`| ${type} | ${r0.threads} | ${n} | ${r0.build} | ${tps(r0.wall)} | ${tps(r0.cpu)} | ${(prefillFlops(n) / (r0.cpu * 1e6)).toFixed(1)} |` +
          res.slice(1).map((r) => ` ${tps(r.cpu)} (${r.build}) | ${ratio(r0.cpu, r.cpu)} |`).join(''));
      }
    if (!KEEP) rmSync(path, { force: true });
  }
  quantizer.dispose();
  console.log(`\n${loadLine()}`);
}

/** Multiply-adds per token of the transformer blocks' matmuls (qkv, output, up, down). */
function blockWeights() {
  const { n_embd, n_layer, n_ff } = HP;
  return n_layer * (4 * n_embd * n_embd + 2 * n_embd * n_ff);
}

async function main() {
  if (PREFILL) return prefillMain();
  mkdirSync(DIR, { recursive: true });
  const quantizer = await Quantizer.create();
  console.log(`GPT-2 small shape (${HP.n_layer} layers, ${HP.n_embd} wide, ${HP.n_head} heads, vocab ${HP.n_vocab}), random weights`);
  console.log(`machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, Node ${process.versions.node}; prompt ${N_PROMPT} tokens, decode ${N_DECODE} tokens\n`);
  const rows = [];
  const bwCache = {};
  for (const type of TYPES) {
    const path = join(DIR, `gpt2-small-random-${type}.gguf`);
    const t0 = performance.now();
    const { weightBytes, fileBytes } = await writeModel(path, type, quantizer);
    console.log(`${type}: wrote ${path} (${(fileBytes / 1e6).toFixed(1)} MB, ${(weightBytes / 1e6).toFixed(1)} MB of matmul weights read per token) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const threads of THREADS) {
      const res = await interleaved(CMP.variants, ROUNDS, (v) => benchModel(path, threads, v));
      bwCache[threads] ??= await readBandwidth(Math.min(weightBytes, 512e6), threads);
      res.forEach((r, i) => {
        const gbs = (weightBytes * r.decodeTps) / 1e9;
        const gflops = (2 * blockWeights() * r.prefillTps) / 1e9;
        rows.push({ type, threads: r.threads, label: CMP.variants[i].label, vi: i, build: r.build, prefill: r.prefillTps, gflops, decode: r.decodeTps, gbs, bw: bwCache[threads] });
      });
    }
    if (!KEEP) rmSync(path, { force: true });
  }
  quantizer.dispose();
  const V = CMP.variants;
  console.log(`\n${CMP.active ? `variants: ${V.map((v) => v.label).join(', ')} (interleaved, best of ${ROUNDS}); ` : ''}${loadLine()}`);
  console.log('| weights | threads | variant | build | prompt tok/s | prefill GFLOP/s | decode tok/s | weight GB/s | read loop GB/s | decode/read-loop |' +
    (CMP.active ? ` prefill vs ${V[0].label} | decode vs ${V[0].label} |` : ''));
  console.log('|---|---|---|---|---|---|---|---|---|---|' + (CMP.active ? '---|---|' : ''));
  for (const r of rows) {
    const ref = rows.find((x) => x.type === r.type && x.threads === r.threads && x.vi === 0);
    console.log(`| ${r.type} | ${r.threads} | ${r.label} | ${r.build} | ${r.prefill.toFixed(1)} | ${r.gflops.toFixed(1)} | ${r.decode.toFixed(2)} | ${r.gbs.toFixed(2)} | ${r.bw.toFixed(2)} | ${(r.gbs / r.bw).toFixed(2)} |` +
      (CMP.active ? ` ${ratio(r.prefill, ref.prefill)} | ${ratio(r.decode, ref.decode)} |` : ''));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
