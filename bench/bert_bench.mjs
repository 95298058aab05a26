#!/usr/bin/env node
// bert_bench.mjs — BERT sentence-embedding throughput (sentences per second).
//
// Writes random-weight GGUFs of two real shapes with the project's GGUF writer
// (js/convert/gguf-writer.js; F16 / Q8_0 blocks from the core's plm_quantize_rows,
// llama.cpp's per-tensor types: 2-D weights at the file type, embeddings of positions
// and token types, norms and biases F32) and the genuine bert-base-uncased tokenizer
// metadata (tests/fixtures/tokenizers/ggml-vocab-bert-base-uncased.gguf):
//   bert-base         12 layers, 768 wide, 12 heads, ffn 3072, vocab 30522, context 512
//   all-MiniLM-L6-v2   6 layers, 384 wide, 12 heads, ffn 1536, vocab 30522, context 512
// then times BERT.embed (encoder + mean pooling + normalization) on sentences of exactly
// 32 and 128 tokens ([CLS] + random word pieces + [SEP]):
//   batch 1: 8 sentences, one embed() call each
//   batch 8: the same 8 sentences in one embed() call (packed: m = 8 x tokens in every matmul)
// for 1 thread (plm-simd.wasm) and 2 threads (plm-simd-mt.wasm). Random weights make the
// vectors meaningless; the work per sentence is the real model's.
//
//   node bench/bert_bench.mjs [--models base,minilm] [--types F16,Q8_0] [--threads 1,2]
//                             [--lengths 32,128] [--seconds 2] [--keep] [--dir DIR] [--rounds 2]
//                             [--baseline DIST_DIR] [--builds simd,relaxed]
// (types: F32, F16, Q8_0). --baseline / --builds (bench/lib/compare.mjs): the variants (another
// dist/, build families) are timed interleaved in this process, best of --rounds each; prints
// each variant's cpu rates and its ratio to the first variant.

import fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../js/cli/relaxed.js';
import { parseCompare, engineOptions, interleaved, loadLine } from './lib/compare.mjs';
import { BERT } from '../js/node.js';
import { GGUFWriter } from '../js/convert/gguf-writer.js';
import { readGGUF } from '../js/convert/gguf-reader.js';
import { Quantizer } from '../js/convert/quant.js';
import { GGMLType, GGUFValueType as VT } from '../js/convert/constants.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const MODELS = {
  base: { name: 'bert-base', n_layer: 12, n_embd: 768, n_head: 12, n_ff: 3072 },
  minilm: { name: 'all-MiniLM-L6-v2', n_layer: 6, n_embd: 384, n_head: 12, n_ff: 1536 },
};
const N_VOCAB = 30522;
const N_CTX = 512;
const SELECTED = opt('models', 'base,minilm').split(',');
const TYPES = opt('types', 'F16,Q8_0').split(',');
const THREADS = opt('threads', '1,2').split(',').map(Number);
const LENGTHS = opt('lengths', '32,128').split(',').map(Number);
const SECONDS = Number(opt('seconds', '2'));
const DIR = opt('dir', join(tmpdir(), 'plm-bench'));
const KEEP = args.includes('--keep');
const CMP = parseCompare(args);
const ROUNDS = Number(opt('rounds', CMP.active ? '2' : '1'));
const N_SENT = 8;

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

function tensorList(hp, type) {
  const { n_layer, n_embd: E, n_ff: F } = hp;
  const W = GGMLType[type];
  const t = [
    { name: 'token_embd.weight', shape: [N_VOCAB, E], type: W, init: 'rand' },
    { name: 'position_embd.weight', shape: [N_CTX, E], type: GGMLType.F32, init: 'rand' },
    { name: 'token_types.weight', shape: [2, E], type: GGMLType.F32, init: 'rand' },
    { name: 'token_embd_norm.weight', shape: [E], type: GGMLType.F32, init: 'one' },
    { name: 'token_embd_norm.bias', shape: [E], type: GGMLType.F32, init: 'zero' },
  ];
  for (let l = 0; l < n_layer; l++) {
    const b = `blk.${l}.`;
    for (const p of ['attn_q', 'attn_k', 'attn_v', 'attn_output'])
      t.push({ name: `${b}${p}.weight`, shape: [E, E], type: W, init: 'rand' }, { name: `${b}${p}.bias`, shape: [E], type: GGMLType.F32, init: 'zero' });
    t.push(
      { name: `${b}attn_output_norm.weight`, shape: [E], type: GGMLType.F32, init: 'one' },
      { name: `${b}attn_output_norm.bias`, shape: [E], type: GGMLType.F32, init: 'zero' },
      { name: `${b}ffn_up.weight`, shape: [F, E], type: W, init: 'rand' },
      { name: `${b}ffn_up.bias`, shape: [F], type: GGMLType.F32, init: 'zero' },
      { name: `${b}ffn_down.weight`, shape: [E, F], type: W, init: 'rand' },
      { name: `${b}ffn_down.bias`, shape: [E], type: GGMLType.F32, init: 'zero' },
      { name: `${b}layer_output_norm.weight`, shape: [E], type: GGMLType.F32, init: 'one' },
      { name: `${b}layer_output_norm.bias`, shape: [E], type: GGMLType.F32, init: 'zero' },
    );
  }
  return t;
}

async function writeModel(path, hp, type, q) {
  const w = new GGUFWriter();
  w.addString('general.architecture', 'bert');
  w.addString('general.name', `${hp.name} random ${type}`);
  w.addUint32('bert.block_count', hp.n_layer);
  w.addUint32('bert.context_length', N_CTX);
  w.addUint32('bert.embedding_length', hp.n_embd);
  w.addUint32('bert.feed_forward_length', hp.n_ff);
  w.addUint32('bert.attention.head_count', hp.n_head);
  w.addFloat32('bert.attention.layer_norm_epsilon', 1e-12);
  w.addUint32('general.file_type', { F32: 0, F16: 1, Q8_0: 7 }[type] ?? 7);
  w.addBool('bert.attention.causal', false);
  w.addUint32('bert.pooling_type', 1);
  const vocab = readGGUF(join(ROOT, 'tests/fixtures/tokenizers/ggml-vocab-bert-base-uncased.gguf'));
  for (const m of vocab.metadata) if (m.key.startsWith('tokenizer.')) w.addKeyValue(m.key, m.value, m.type, m.itemType);
  vocab.close();
  w.addUint32('general.quantization_version', 2);
  const list = tensorList(hp, type);
  for (const t of list) w.addTensorInfo(t.name, t.shape, t.type);
  w.open(path);
  const rand = xorshift(42);
  const scale = 0.05;
  for (const t of list) {
    const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
    const chunkRows = Math.max(1, Math.floor((1 << 20) / cols));
    w.beginTensor(t.name);
    for (let r0 = 0; r0 < rows; r0 += chunkRows) {
      const nr = Math.min(chunkRows, rows - r0);
      const x = q.input(nr * cols);
      if (t.init === 'rand') for (let i = 0; i < x.length; i++) x[i] = (rand() * 2 - 1) * scale;
      else x.fill(t.init === 'one' ? 1 : 0);
      w.writeChunk(q.run(t.type, nr, cols));
    }
    w.endTensor();
  }
  w.close();
}

/** N_SENT sentences of exactly n tokens: [CLS] word pieces [SEP]. */
function sentences(n, seed) {
  const rand = xorshift(seed);
  return Array.from({ length: N_SENT }, () => Int32Array.from({ length: n }, (_, i) => (i === 0 ? 101 : i === n - 1 ? 102 : 1996 + Math.floor(rand() * 27000))));
}

/** Wall ms and process CPU ms (all threads) per call of fn (at least one call). */
async function timeIt(fn) {
  let reps = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let dt = 0;
  while (dt < SECONDS * 1000 || reps < 1) {
    await fn();
    reps++;
    dt = performance.now() - t0;
  }
  const c = process.cpuUsage(c0);
  return { wall: dt / reps, cpu: (c.user + c.system) / 1000 / reps };
}

async function main() {
  fs.mkdirSync(DIR, { recursive: true });
  const q = await Quantizer.create();
  const files = [];
  for (const key of SELECTED) {
    const hp = MODELS[key];
    if (!hp) throw new Error(`unknown model ${key} (base, minilm)`);
    for (const type of TYPES) {
      const path = join(DIR, `bert-${key}-random-${type}.gguf`);
      if (!fs.existsSync(path)) {
        const t0 = performance.now();
        await writeModel(`${path}.part`, hp, type, q); // renamed when complete: a killed run leaves no short file
        fs.renameSync(`${path}.part`, path);
        console.error(`wrote ${path} (${(fs.statSync(path).size / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
      files.push({ hp, type, path });
    }
  }
  q.dispose();

  console.log(`BERT.embed sentences/s (mean pooling, normalized); ${N_SENT} sentences per measurement, repeated for >= ${SECONDS} s (at least once)`);
  console.log('wall = sentences per second of elapsed time; cpu = per second of process CPU time (all threads),');
  console.log('which the other processes on a shared machine do not inflate');
  const V = CMP.variants;
  const rate = (ms) => ((N_SENT * 1000) / ms).toFixed(1).padStart(7);
  const rest = V.slice(1);
  console.log(`${CMP.active ? `variants: ${V.map((v) => v.label).join(', ')} (interleaved, best of ${ROUNDS}); ` : ''}${loadLine()}`);
  console.log('model              type  threads  tokens   build        batch 1 wall / cpu    batch 8 wall / cpu    batch 8 / batch 1 (cpu)' +
    rest.map((v) => `   ${v.label}: b1 / b8 cpu   vs ${V[0].label} b1 / b8`).join(''));
  for (const { hp, type, path } of files) {
    for (const threads of THREADS) {
      const berts = [];
      try {
        for (const v of V) berts.push(await BERT.load(path, engineOptions(v, threads)));
        for (const n of LENGTHS) {
          const sents = sentences(n, n);
          const best = (a, b) => (a && a.cpu < b.cpu ? a : b);
          const res = await interleaved(V, ROUNDS, async (v) => {
            const b = berts[V.indexOf(v)];
            await b.embed(sents.slice(0, 2)); // warm-up: scratch buffers, thread pool
            const one = await timeIt(async () => {
              for (const s of sents) await b.embed(s);
            });
            const eight = await timeIt(() => b.embed(sents));
            return { one, eight };
          }, (a, b) => ({ one: best(a.one, b.one), eight: best(a.eight, b.eight) }));
          const { one, eight } = res[0];
          console.log(
            `${hp.name.padEnd(18)} ${type.padEnd(5)} ${String(berts[0].engine.threads).padStart(7)}  ${String(n).padStart(6)}   ${berts[0].engine.build.padEnd(11)}  ${rate(one.wall)} / ${rate(one.cpu)}    ${rate(eight.wall)} / ${rate(eight.cpu)}    ${(one.cpu / eight.cpu).toFixed(2)}x` +
              res.slice(1).map((r) => `   ${rate(r.one.cpu)} / ${rate(r.eight.cpu)}   ${(one.cpu / r.one.cpu).toFixed(2)}x / ${(eight.cpu / r.eight.cpu).toFixed(2)}x`).join(''),
          );
        }
      } finally {
        for (const b of berts) b.dispose();
      }
    }
  }
  console.log(loadLine());
  if (!KEEP) for (const f of files) fs.rmSync(f.path, { force: true });
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
