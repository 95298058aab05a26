#!/usr/bin/env node
// t5_bench.mjs — T5 encoder and decoder speed on t5-small's shape.
//
// Writes random-weight GGUFs of t5-small's shape (6 encoder + 6 decoder blocks, d_model 512,
// 8 heads of 64, d_ff 2048 relu, 32 relative-position buckets, vocab 32128, tied embeddings)
// with the project's GGUF writer (js/convert/gguf-writer.js; F16 / Q8_0 blocks from the
// core's plm_quantize_rows, llama.cpp's per-tensor types: 2-D weights at the file type, the
// [32 x 8] position-bias tables F16 (rows not a multiple of 32), norms F32) and the genuine
// t5-small tokenizer metadata (tests/fixtures/tokenizers/ggml-vocab-t5-small.gguf), then times,
// for 1 thread (plm-simd.wasm) and 2 threads (plm-simd-mt.wasm):
//   encoder tokens/s   plm_t5_encode of a 128-token input (encoder + cross-attention K/V of
//                      every decoder block)
//   decoder tokens/s   64 single-token greedy steps (plm_t5_decode, KV cache, logits over the
//                      vocabulary) after the start token
//   beam tokens/s      numBeams 4: the same 64 steps with 4 sequences per step (one matmul with
//                      m = 4 per weight matrix) + cache reordering; tokens = 4 x steps
// wall = per second of elapsed time; cpu = per second of process CPU time (all threads), which
// other processes on a shared machine do not inflate. Random weights make the output
// meaningless; the work per token is the real model's.
//
//   node bench/t5_bench.mjs [--types F16,Q8_0] [--threads 1,2] [--input 128] [--steps 64]
//                           [--beams 4] [--keep] [--dir DIR]

import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { T5 } from '../js/node.js';
import { GGUFWriter } from '../js/convert/gguf-writer.js';
import { readGGUF } from '../js/convert/gguf-reader.js';
import { Quantizer } from '../js/convert/quant.js';
import { GGMLType } from '../js/convert/constants.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const HP = { n_vocab: 32128, n_ctx: 512, n_embd: 512, n_head: 8, head_dim: 64, n_ff: 2048, n_layer: 6, n_buckets: 32 };
const TYPES = opt('types', 'F16,Q8_0').split(',');
const THREADS = opt('threads', '1,2').split(',').map(Number);
const N_INPUT = Number(opt('input', '128'));
const N_STEPS = Number(opt('steps', '64'));
const N_BEAMS = Number(opt('beams', '4'));
const DIR = opt('dir', join(tmpdir(), 'plm-bench'));
const KEEP = args.includes('--keep');

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

function tensorList(type) {
  const { n_vocab: V, n_embd: E, n_head: H, head_dim: D, n_ff: F, n_layer: L, n_buckets: NB } = HP;
  const W = GGMLType[type];
  const Q = H * D;
  const t = [
    { name: 'token_embd.weight', shape: [V, E], type: W, init: 'rand' },
    { name: 'enc.output_norm.weight', shape: [E], type: GGMLType.F32, init: 'one' },
    { name: 'dec.output_norm.weight', shape: [E], type: GGMLType.F32, init: 'one' },
  ];
  for (const stack of ['enc', 'dec']) {
    for (let l = 0; l < L; l++) {
      const b = `${stack}.blk.${l}.`;
      t.push(
        { name: `${b}attn_norm.weight`, shape: [E], type: GGMLType.F32, init: 'one' },
        { name: `${b}attn_q.weight`, shape: [Q, E], type: W, init: 'rand' },
        { name: `${b}attn_k.weight`, shape: [Q, E], type: W, init: 'rand' },
        { name: `${b}attn_v.weight`, shape: [Q, E], type: W, init: 'rand' },
        { name: `${b}attn_o.weight`, shape: [E, Q], type: W, init: 'rand' },
      );
      if (l === 0) t.push({ name: `${b}attn_rel_b.weight`, shape: [NB, H], type: GGMLType.F16, init: 'rand' });
      if (stack === 'dec')
        t.push(
          { name: `${b}cross_attn_norm.weight`, shape: [E], type: GGMLType.F32, init: 'one' },
          { name: `${b}cross_attn_q.weight`, shape: [Q, E], type: W, init: 'rand' },
          { name: `${b}cross_attn_k.weight`, shape: [Q, E], type: W, init: 'rand' },
          { name: `${b}cross_attn_v.weight`, shape: [Q, E], type: W, init: 'rand' },
          { name: `${b}cross_attn_o.weight`, shape: [E, Q], type: W, init: 'rand' },
        );
      t.push(
        { name: `${b}ffn_norm.weight`, shape: [E], type: GGMLType.F32, init: 'one' },
        { name: `${b}ffn_up.weight`, shape: [F, E], type: W, init: 'rand' },
        { name: `${b}ffn_down.weight`, shape: [E, F], type: W, init: 'rand' },
      );
    }
  }
  return t;
}

async function writeModel(path, type, q) {
  const w = new GGUFWriter();
  w.addString('general.architecture', 't5');
  w.addString('general.name', `t5-small-shape random ${type}`);
  w.addUint32('t5.context_length', HP.n_ctx);
  w.addUint32('t5.embedding_length', HP.n_embd);
  w.addUint32('t5.feed_forward_length', HP.n_ff);
  w.addUint32('t5.block_count', HP.n_layer);
  w.addUint32('t5.decoder_block_count', HP.n_layer);
  w.addUint32('t5.attention.head_count', HP.n_head);
  w.addUint32('t5.attention.key_length', HP.head_dim);
  w.addUint32('t5.attention.value_length', HP.head_dim);
  w.addFloat32('t5.attention.layer_norm_epsilon', 1e-6);
  w.addUint32('t5.attention.relative_buckets_count', HP.n_buckets);
  w.addFloat32('t5.attention.layer_norm_rms_epsilon', 1e-6);
  w.addUint32('t5.decoder_start_token_id', 0);
  w.addUint32('general.file_type', type === 'F16' ? 1 : 7);
  const vocab = readGGUF(join(ROOT, 'tests/fixtures/tokenizers/ggml-vocab-t5-small.gguf'));
  for (const m of vocab.metadata) if (m.key.startsWith('tokenizer.')) w.addKeyValue(m.key, m.value, m.type, m.itemType);
  vocab.close();
  w.addUint32('general.quantization_version', 2);
  const list = tensorList(type);
  for (const t of list) w.addTensorInfo(t.name, t.shape, t.type);
  w.open(path);
  const rand = xorshift(42);
  for (const t of list) {
    const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
    const scale = t.name.includes('rel_b') ? 1.0 : 0.05;
    const chunkRows = Math.max(1, Math.floor((1 << 20) / cols));
    w.beginTensor(t.name);
    for (let r0 = 0; r0 < rows; r0 += chunkRows) {
      const nr = Math.min(chunkRows, rows - r0);
      const x = q.input(nr * cols);
      if (t.init === 'rand') for (let i = 0; i < x.length; i++) x[i] = (rand() * 2 - 1) * scale;
      else x.fill(1);
      w.writeChunk(q.run(t.type, nr, cols));
    }
    w.endTensor();
  }
  w.close();
}

/** Wall ms and process CPU ms (all threads) of one call of fn. */
async function timed(fn) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

/** Fastest of `reps` runs (wall and CPU each; least disturbed by other processes on the machine). */
async function best(reps, fn) {
  let wall = Infinity;
  let cpu = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = await timed(fn);
    wall = Math.min(wall, t.wall);
    cpu = Math.min(cpu, t.cpu);
  }
  return { wall, cpu };
}

async function bench(path, type, threads) {
  const t5 = await T5.load(path, { threads });
  try {
    const { engine } = t5;
    const fn = engine.fn;
    const ctx = t5.ctxPtr;
    const V = t5.vocabSize;
    const rand = xorshift(7);
    const input = Int32Array.from({ length: N_INPUT }, (_, i) => (i === N_INPUT - 1 ? 1 : 3 + Math.floor(rand() * 31000)));
    const ids = engine.malloc(N_INPUT * 4);
    engine.view(Int32Array, ids, N_INPUT).set(input);
    const tok = engine.malloc(4 * N_BEAMS);
    const logits = engine.malloc(V * 4 * N_BEAMS);
    const src = engine.malloc(4 * N_BEAMS);
    try {
      const encode = () => engine.check(fn.plm_t5_encode(ctx, ids, 0, N_INPUT, 0));
      encode(); // warm-up: scratch buffers, thread pool
      const enc = await best(3, encode);

      const greedy = () => {
        engine.check(fn.plm_t5_decoder_reset(ctx, 1));
        let id = 0;
        for (let s = 0; s < N_STEPS; s++) {
          engine.view(Int32Array, tok, 1)[0] = id;
          engine.check(fn.plm_t5_decode(ctx, tok, 1, logits, 0));
          const row = engine.view(Float32Array, logits, V);
          let b = 0;
          for (let i = 1; i < V; i++) if (row[i] > row[b]) b = i;
          id = b === 1 ? 5 : b; // keep going past EOS
        }
      };
      greedy();
      const dec = await best(2, greedy);

      // beams: every step decodes N_BEAMS sequences and reorders the caches (a rotation,
      // so every cache moves): the decoder work of beam search, without its bookkeeping
      const beams = () => {
        engine.check(fn.plm_t5_decoder_reset(ctx, N_BEAMS));
        const t = engine.view(Int32Array, tok, N_BEAMS);
        for (let b = 0; b < N_BEAMS; b++) t[b] = 0;
        const perm = engine.view(Int32Array, src, N_BEAMS);
        for (let b = 0; b < N_BEAMS; b++) perm[b] = (b + 1) % N_BEAMS;
        for (let s = 0; s < N_STEPS; s++) {
          engine.check(fn.plm_t5_decode(ctx, tok, 1, logits, 0));
          engine.check(fn.plm_t5_reorder(ctx, src, N_BEAMS));
          const tt = engine.view(Int32Array, tok, N_BEAMS);
          for (let b = 0; b < N_BEAMS; b++) tt[b] = 3 + ((s * 7 + b * 13) % 1000);
        }
      };
      beams();
      const beam = await best(2, beams);

      // the whole API path for reference: complete() with numBeams (beam search in the core)
      const full = await timed(() => t5.complete(input, { numBeams: N_BEAMS, maxTokens: 16 }));
      return { threads: engine.threads, build: engine.build, enc, dec, beam, full };
    } finally {
      engine.free(ids);
      engine.free(tok);
      engine.free(logits);
      engine.free(src);
    }
  } finally {
    t5.dispose();
  }
}

async function main() {
  fs.mkdirSync(DIR, { recursive: true });
  const q = await Quantizer.create();
  const files = [];
  for (const type of TYPES) {
    if (!(type in GGMLType)) throw new Error(`unknown type ${type}`);
    const path = join(DIR, `t5-small-random-${type}.gguf`);
    if (!fs.existsSync(path)) {
      const t0 = performance.now();
      await writeModel(`${path}.part`, type, q); // renamed when complete: a killed run leaves no short file
      fs.renameSync(`${path}.part`, path);
      console.error(`wrote ${path} (${(fs.statSync(path).size / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
    files.push({ type, path });
  }
  q.dispose();

  console.log(`T5 (t5-small shape, random weights): encoder ${N_INPUT} tokens; decoder ${N_STEPS} steps after the start token; beams ${N_BEAMS}`);
  console.log('tokens/s: wall (elapsed) / cpu (process CPU time, all threads)');
  console.log('type  build     threads   encoder tok/s        decoder tok/s       beams: tok/s (steps/s)          complete(numBeams, 16 tokens)');
  const r = (n, ms) => ((n * 1000) / ms).toFixed(1).padStart(7);
  for (const { type, path } of files) {
    for (const threads of THREADS) {
      const x = await bench(path, type, threads);
      console.log(
        `${type.padEnd(5)} ${x.build.padEnd(8)} ${String(x.threads).padStart(7)}   ${r(N_INPUT, x.enc.wall)} / ${r(N_INPUT, x.enc.cpu)}    ${r(N_STEPS, x.dec.wall)} / ${r(N_STEPS, x.dec.cpu)}    ${r(N_STEPS * N_BEAMS, x.beam.wall)} / ${r(N_STEPS * N_BEAMS, x.beam.cpu)} (${r(N_STEPS, x.beam.wall).trim()})    ${x.full.wall.toFixed(0)} ms`,
      );
    }
  }
  if (!KEEP) for (const f of files) fs.rmSync(f.path, { force: true });
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
