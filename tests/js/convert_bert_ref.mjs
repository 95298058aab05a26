// Float64 BERT reference (no torch, no engine) and a tiny BertForSequenceClassification
// checkpoint made from the fixture's weights; shared by the convert BERT tests.
import fs from 'node:fs';
import path from 'node:path';
import { SafetensorsModel, writeSafetensors } from '../../js/convert/safetensors.js';
import { copyFixture } from './convert_helpers.mjs';

export function erf(x) {
  const ax = Math.abs(x);
  let r;
  if (ax < 2.5) {
    // Maclaurin series
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc continued fraction (Lentz)
    const tiny = 1e-300;
    let f = ax;
    let C = ax;
    let D = 0;
    for (let n = 1; n < 300; n++) {
      const a = n / 2;
      D = ax + a * D;
      D = D === 0 ? tiny : 1 / D;
      C = ax + a / C;
      if (C === 0) C = tiny;
      const delta = C * D;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    r = 1 - Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  }
  return x < 0 ? -r : r;
}
export const gelu = (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** y = W x + b, W [out, in] row-major */
export function linear(W, b, x, nOut, nIn) {
  const y = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) {
    let s = b ? b[o] : 0;
    const row = o * nIn;
    for (let i = 0; i < nIn; i++) s += W[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

export function layerNorm(x, w, b, eps) {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let varr = 0;
  for (const v of x) varr += (v - mean) ** 2;
  varr /= n;
  const inv = 1 / Math.sqrt(varr + eps);
  return Float64Array.from(x, (v, i) => (v - mean) * inv * w[i] + b[i]);
}

/**
 * BertModel forward + heads in float64. W(name) returns the float array of a
 * tensor under its GGUF name (see docs/gguf-extensions.md).
 */
export function bertForward(cfg, W, { ids, types, mask }, { withMlmAt = [] } = {}) {
  const E = cfg.hidden_size;
  const H = cfg.num_attention_heads;
  const d = E / H;
  const F = cfg.intermediate_size;
  const eps = cfg.layer_norm_eps;
  const T = ids.length;
  const tok = W('token_embd.weight');
  const pos = W('position_embd.weight');
  const typ = W('token_types.weight');
  let h = ids.map((id, t) => {
    const x = new Float64Array(E);
    for (let i = 0; i < E; i++) x[i] = tok[id * E + i] + pos[t * E + i] + typ[types[t] * E + i];
    return layerNorm(x, W('token_embd_norm.weight'), W('token_embd_norm.bias'), eps);
  });
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = (n) => W(`blk.${l}.${n}`);
    const Q = h.map((x) => linear(p('attn_q.weight'), p('attn_q.bias'), x, E, E));
    const K = h.map((x) => linear(p('attn_k.weight'), p('attn_k.bias'), x, E, E));
    const V = h.map((x) => linear(p('attn_v.weight'), p('attn_v.bias'), x, E, E));
    const ctx = h.map(() => new Float64Array(E));
    for (let hd = 0; hd < H; hd++) {
      for (let t = 0; t < T; t++) {
        const s = new Float64Array(T);
        let mx = -Infinity;
        for (let u = 0; u < T; u++) {
          if (!mask[u]) {
            s[u] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let i = 0; i < d; i++) dot += Q[t][hd * d + i] * K[u][hd * d + i];
          s[u] = dot / Math.sqrt(d);
          mx = Math.max(mx, s[u]);
        }
        let z = 0;
        for (let u = 0; u < T; u++) z += s[u] === -Infinity ? 0 : (s[u] = Math.exp(s[u] - mx));
        for (let u = 0; u < T; u++) {
          if (s[u] === -Infinity) continue;
          const a = s[u] / z;
          for (let i = 0; i < d; i++) ctx[t][hd * d + i] += a * V[u][hd * d + i];
        }
      }
    }
    h = h.map((x, t) => {
      const o = linear(p('attn_output.weight'), p('attn_output.bias'), ctx[t], E, E);
      const a = layerNorm(o.map((v, i) => v + x[i]), p('attn_output_norm.weight'), p('attn_output_norm.bias'), eps);
      const up = linear(p('ffn_up.weight'), p('ffn_up.bias'), a, F, E).map(gelu);
      const down = linear(p('ffn_down.weight'), p('ffn_down.bias'), up, E, F);
      return layerNorm(down.map((v, i) => v + a[i]), p('layer_output_norm.weight'), p('layer_output_norm.bias'), eps);
    });
  }
  const pooled = linear(W('cls.weight'), W('cls.bias'), h[0], E, E).map(Math.tanh);
  const mlm = withMlmAt.map((t) => {
    const x = linear(W('mlm.dense.weight'), W('mlm.dense.bias'), h[t], E, E).map(gelu);
    const y = layerNorm(x, W('mlm.norm.weight'), W('mlm.norm.bias'), eps);
    return linear(tok, W('mlm.output.bias'), y, cfg.vocab_size, E);
  });
  return { hidden: h, pooled, mlm };
}

/** A tiny BertForSequenceClassification folder: the fixture's encoder + pooler and a random 3-way head. */
export function makeClassifier(dir, cfg) {
  copyFixture('bert/hf', dir);
  const src = new SafetensorsModel(dir);
  const tensors = src.names()
    .filter((n) => !n.startsWith('cls.'))
    .map((n) => {
      const t = src.get(n);
      return { name: n, dtype: 'F32', shape: t.shape, data: src.readF32(t) };
    });
  src.close();
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed / 2 ** 32 - 0.5) * 0.8;
  };
  const E = cfg.hidden_size;
  const L = 3;
  tensors.push({ name: 'classifier.weight', dtype: 'F32', shape: [L, E], data: Float32Array.from({ length: L * E }, rand) });
  tensors.push({ name: 'classifier.bias', dtype: 'F32', shape: [L], data: Float32Array.from({ length: L }, rand) });
  fs.rmSync(path.join(dir, 'model.safetensors'));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  config.architectures = ['BertForSequenceClassification'];
  config.id2label = { 0: 'negative', 1: 'neutral', 2: 'positive' };
  config.label2id = { negative: 0, neutral: 1, positive: 2 };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
  // a classifier is not a sentence-embedding model
  fs.rmSync(path.join(dir, 'modules.json'));
  fs.rmSync(path.join(dir, '1_Pooling'), { recursive: true });
  return tensors;
}

/** HF BertForSequenceClassification semantics on the raw safetensors (HF names). */
export function hfWeights(tensors) {
  const byName = new Map(tensors.map((t) => [t.name, t.data]));
  const map = (n) => {
    const fixed = {
      'token_embd.weight': 'bert.embeddings.word_embeddings.weight',
      'position_embd.weight': 'bert.embeddings.position_embeddings.weight',
      'token_types.weight': 'bert.embeddings.token_type_embeddings.weight',
      'token_embd_norm.weight': 'bert.embeddings.LayerNorm.weight',
      'token_embd_norm.bias': 'bert.embeddings.LayerNorm.bias',
      'cls.weight': 'bert.pooler.dense.weight',
      'cls.bias': 'bert.pooler.dense.bias',
      'cls.output.weight': 'classifier.weight',
      'cls.output.bias': 'classifier.bias',
    }[n];
    if (fixed) return fixed;
    const m = /^blk\.(\d+)\.(.+)\.(weight|bias)$/.exec(n);
    const part = {
      attn_q: 'attention.self.query', attn_k: 'attention.self.key', attn_v: 'attention.self.value', attn_output: 'attention.output.dense',
      attn_output_norm: 'attention.output.LayerNorm', ffn_up: 'intermediate.dense', ffn_down: 'output.dense', layer_output_norm: 'output.LayerNorm',
    }[m[2]];
    return `bert.encoder.layer.${m[1]}.${part}.${m[3]}`;
  };
  return (n) => byName.get(map(n));
}

