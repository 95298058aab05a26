#!/usr/bin/env node
// verify.mjs — the engines compute the same function on the same weights.
// Runs each ONNX graph with onnxruntime-node (native CPU) and the corresponding GGUF with
// plm-wasm (Node), on the same token ids, and prints the largest logit / hidden-state
// difference: fp32 ONNX vs the F32 GGUF (same weights, should agree to float rounding),
// and the quantized variants vs fp32 (quantization error, for orientation). Also checks the
// decoder graphs' KV-cache path: prefill 16 + 4 single-token steps == one 20-token pass.
// T5: encoder_model (hidden states) and decoder_model_merged (logits of a teacher-forced
// decoder input, through the no-cache branch in one pass and through the cache branch one
// token at a time) vs plm's T5.encode / T5.logits.
//
//   node bench/compare/verify.mjs [--models gpt2-small,llama-110m,bert-base,minilm-l6,t5-small]

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { GPT, BERT, T5 } from '../../js/node.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const MODELS = opt('models', 'gpt2-small,llama-110m,bert-base,minilm-l6,t5-small').split(',');
const WORK = path.join(HERE, 'work');

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 4294967296);
}
const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

async function session(name, variant, file = 'model') {
  return ort.InferenceSession.create(path.join(WORK, 'onnx', name, 'onnx', `${file}${variant}.onnx`), { intraOpNumThreads: 1 });
}

/** ORT decoder: logits of all positions for ids (one pass, empty cache), plus the cached path. */
async function ortDecoder(s, cfg, ids, { cached = false } = {}) {
  const nLayer = cfg.n_layer ?? cfg.num_hidden_layers;
  const nkv = cfg.n_head ?? cfg.num_key_value_heads;
  const hd = (cfg.n_embd ?? cfg.hidden_size) / (cfg.n_head ?? cfg.num_attention_heads);
  const i64 = (a, dims) => new ort.Tensor('int64', BigInt64Array.from(a, BigInt), dims);
  let past = {};
  for (let l = 0; l < nLayer; l++)
    for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, nkv, 0, hd]);
  const step = async (chunk, pos) => {
    const feeds = {
      input_ids: i64(chunk, [1, chunk.length]),
      attention_mask: i64(new Array(pos + chunk.length).fill(1), [1, pos + chunk.length]),
      position_ids: i64(chunk.map((_, i) => pos + i), [1, chunk.length]),
      ...past,
    };
    const out = await s.run(feeds);
    past = {};
    for (let l = 0; l < nLayer; l++) for (const kv of ['key', 'value']) past[`past_key_values.${l}.${kv}`] = out[`present.${l}.${kv}`];
    return out.logits.data;
  };
  if (!cached) return step(ids, 0);
  const n0 = ids.length - 4;
  const parts = [await step(ids.slice(0, n0), 0)];
  for (let i = n0; i < ids.length; i++) parts.push(await step([ids[i]], i));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

async function decoder(name) {
  const cfg = (await import(path.join(WORK, 'onnx', name, 'config.json'), { with: { type: 'json' } })).default;
  const V = cfg.vocab_size;
  const r = rng(7);
  const ids = Array.from({ length: 20 }, () => 3 + Math.floor(r() * (V - 3)));
  const gpt = await GPT.load(path.join(WORK, 'gguf', `${name}-F32.gguf`), { threads: 1, contextLength: 64 });
  const plm = await gpt.logits(Int32Array.from(ids));
  gpt.dispose();
  const s32 = await session(name, '');
  const ref = await ortDecoder(s32, cfg, ids);
  const cached = await ortDecoder(s32, cfg, ids, { cached: true });
  console.log(`${name}: |logits| max ${maxAbs(ref).toExponential(2)}; fp32 ONNX vs plm F32 GGUF: max diff ${maxDiff(ref, plm).toExponential(2)}; ONNX KV-cache path vs one pass: ${maxDiff(ref, cached).toExponential(2)}`);
  const last = (a) => a.subarray(a.length - V);
  for (const [variant, gguf] of [['_quantized', 'Q8_0'], ['_q4', 'Q4_0']]) {
    const s = await session(name, variant);
    const q = await ortDecoder(s, cfg, ids);
    const g = await GPT.load(path.join(WORK, 'gguf', `${name}-${gguf}.gguf`), { threads: 1, contextLength: 64 });
    const pq = await g.logits(Int32Array.from(ids));
    g.dispose();
    console.log(`  ONNX${variant} vs fp32: ${maxDiff(q, ref).toExponential(2)} (argmax last ${argmax(last(q)) === argmax(last(ref)) ? 'same' : 'differs'});  plm ${gguf} vs F32: ${maxDiff(pq, plm).toExponential(2)}`);
  }
}

async function encoder(name) {
  const cfg = (await import(path.join(WORK, 'onnx', name, 'config.json'), { with: { type: 'json' } })).default;
  const r = rng(9);
  const n = 32;
  const ids = Array.from({ length: n }, (_, i) => (i === 0 ? 101 : i === n - 1 ? 102 : 1996 + Math.floor(r() * 27000)));
  const bert = await BERT.load(path.join(WORK, 'gguf', `${name}-F32.gguf`), { threads: 1 });
  const { data: plm } = await bert.hiddenStates(Int32Array.from(ids));
  bert.dispose();
  const i64 = (a) => new ort.Tensor('int64', BigInt64Array.from(a, BigInt), [1, a.length]);
  const feeds = { input_ids: i64(ids), attention_mask: i64(ids.map(() => 1)), token_type_ids: i64(ids.map(() => 0)) };
  const ref = (await (await session(name, '')).run(feeds)).last_hidden_state.data;
  const q = (await (await session(name, '_quantized')).run(feeds)).last_hidden_state.data;
  console.log(`${name} (${cfg.num_hidden_layers} layers, ${cfg.hidden_size}): |hidden| max ${maxAbs(ref).toExponential(2)}; fp32 ONNX vs plm F32 GGUF: ${maxDiff(ref, plm).toExponential(2)}; ONNX_quantized vs fp32: ${maxDiff(q, ref).toExponential(2)}`);
}

/** ORT T5: encoder hidden states, and the decoder logits of decIds (one pass or cached steps). */
async function ortT5(name, variant, ids, decIds) {
  const cfg = (await import(path.join(WORK, 'onnx', name, 'config.json'), { with: { type: 'json' } })).default;
  const i64 = (a, dims) => new ort.Tensor('int64', BigInt64Array.from(a, BigInt), dims);
  const enc = await session(name, variant, 'encoder_model');
  const dec = await session(name, variant, 'decoder_model_merged');
  const mask = i64(ids.map(() => 1), [1, ids.length]);
  const hidden = (await enc.run({ input_ids: i64(ids, [1, ids.length]), attention_mask: mask })).last_hidden_state;
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, cfg.num_heads, 0, cfg.d_kv]);
  const run = async (chunk, past) => {
    const feeds = { encoder_attention_mask: mask, input_ids: i64(chunk, [1, chunk.length]), encoder_hidden_states: hidden, use_cache_branch: new ort.Tensor('bool', [!!past], [1]) };
    for (let l = 0; l < cfg.num_decoder_layers; l++)
      for (const s of ['decoder', 'encoder']) for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${s}.${kv}`] = past?.[`present.${l}.${s}.${kv}`] ?? empty();
    return dec.run(feeds);
  };
  const one = (await run(decIds, null)).logits.data;
  const parts = [];
  let out = null;
  for (let i = 0; i < decIds.length; i++) {
    out = await run([decIds[i]], out);
    parts.push(out.logits.data);
  }
  const cached = new Float32Array(one.length);
  parts.forEach((p, i) => cached.set(p, i * p.length));
  return { hidden: hidden.data, logits: one, cached, V: cfg.vocab_size };
}

async function t5(name) {
  const r = rng(11);
  const ids = [...Array.from({ length: 31 }, () => 3 + Math.floor(r() * 31000)), 1];
  const decIds = [0, ...Array.from({ length: 7 }, () => 3 + Math.floor(r() * 31000))];
  const plmOf = async (variant) => {
    const m = await T5.load(path.join(WORK, 'gguf', `${name}-${variant}.gguf`), { threads: 1 });
    const { data: hidden } = await m.encode(Int32Array.from(ids));
    const logits = await m.logits(Int32Array.from(ids), Int32Array.from(decIds));
    m.dispose();
    return { hidden, logits };
  };
  const p32 = await plmOf('F32');
  const o32 = await ortT5(name, '', ids, decIds);
  console.log(`${name}: |hidden| max ${maxAbs(o32.hidden).toExponential(2)}, |logits| max ${maxAbs(o32.logits).toExponential(2)}; fp32 ONNX vs plm F32 GGUF: encoder ${maxDiff(o32.hidden, p32.hidden).toExponential(2)}, decoder logits ${maxDiff(o32.logits, p32.logits).toExponential(2)}; ONNX cache branch vs one pass: ${maxDiff(o32.logits, o32.cached).toExponential(2)}`);
  const last = (a) => a.subarray(a.length - o32.V);
  const q = await ortT5(name, '_quantized', ids, decIds);
  const p8 = await plmOf('Q8_0');
  console.log(`  ONNX_quantized vs fp32: encoder ${maxDiff(q.hidden, o32.hidden).toExponential(2)}, logits ${maxDiff(q.logits, o32.logits).toExponential(2)} (argmax last ${argmax(last(q.logits)) === argmax(last(o32.logits)) ? 'same' : 'differs'});  plm Q8_0 vs F32: logits ${maxDiff(p8.logits, p32.logits).toExponential(2)}`);
}

for (const name of MODELS) {
  if (name.startsWith('t5')) await t5(name);
  else if (name.startsWith('bert') || name.startsWith('minilm')) await encoder(name);
  else await decoder(name);
}
