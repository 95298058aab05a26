// BERT task heads in converted files: the pooler, the masked-LM head and a
// sequence-classification head are written under the names of
// docs/gguf-extensions.md and reproduce the goldens (pooler_output, MLM logits)
// through an independent float64 forward pass written here (no torch, no engine).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { convert } from '../../js/convert/convert.js';
import { Quantizer } from '../../js/convert/quant.js';
import { GGUFWriter } from '../../js/convert/gguf-writer.js';
import { readGGUF } from '../../js/convert/gguf-reader.js';
import { SafetensorsModel, writeSafetensors } from '../../js/convert/safetensors.js';
import { GGMLType } from '../../js/convert/constants.js';
import { FIXTURES, tempDir, copyFixture } from './convert_helpers.mjs';

const BERT = path.join(FIXTURES, 'bert/hf');
const cases = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'bert/cases.json'), 'utf8'));
const cfg = cases.model.config;

let q;
before(async () => {
  q = await Quantizer.create();
});
after(() => q?.dispose());

// ------------------------------------------------------ float64 reference

function erf(x) {
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
const gelu = (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** y = W x + b, W [out, in] row-major */
function linear(W, b, x, nOut, nIn) {
  const y = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) {
    let s = b ? b[o] : 0;
    const row = o * nIn;
    for (let i = 0; i < nIn; i++) s += W[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

function layerNorm(x, w, b, eps) {
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
function bertForward(W, { ids, types, mask }, { withMlmAt = [] } = {}) {
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

/** Tensor accessor over a GGUF file: dequantized float32 values by GGUF name. */
function ggufWeights(bytes) {
  const f = readGGUF(bytes);
  const cache = new Map();
  return {
    f,
    W: (name) => {
      if (!cache.has(name)) {
        const t = f.tensorByName.get(name);
        if (!t) throw new Error(`no tensor ${name} in the converted file`);
        cache.set(name, q.dequantize(t.type, f.readTensor(t), t.nelements / t.ne[0], t.ne[0]));
      }
      return cache.get(name);
    },
  };
}

const maxAbs = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

async function convertBytes(dir, opts) {
  const sink = GGUFWriter.memorySink();
  await convert(dir, sink, { quantizer: q, ...opts });
  return sink.bytes();
}

// ------------------------------------------------------------------ tests

test('BERT heads: tensor names, shapes and types', async () => {
  const bytes = await convertBytes(BERT, { type: 'Q8_0' });
  const f = readGGUF(bytes);
  const E = cfg.hidden_size;
  const expect = {
    'cls.weight': [GGMLType.Q8_0, [E, E]],
    'cls.bias': [GGMLType.F32, [E]],
    'mlm.dense.weight': [GGMLType.Q8_0, [E, E]],
    'mlm.dense.bias': [GGMLType.F32, [E]],
    'mlm.norm.weight': [GGMLType.F32, [E]],
    'mlm.norm.bias': [GGMLType.F32, [E]],
    'mlm.output.bias': [GGMLType.F32, [cfg.vocab_size]],
  };
  for (const [n, [type, shape]] of Object.entries(expect)) {
    const t = f.tensorByName.get(n);
    assert.ok(t, `${n} is written`);
    assert.equal(t.type, type, `${n} type`);
    assert.deepEqual(t.shape, shape, `${n} shape`);
  }
  assert.ok(!f.tensorByName.has('mlm.output.weight'), 'tied decoder is not duplicated');
  assert.ok(!f.tensorByName.has('cls.output.weight'), 'no classifier in a BertForMaskedLM checkpoint');
  assert.equal(f.get('bert.classifier.output_labels'), undefined);
  f.close();
});

test('BERT heads reproduce the goldens: pooler output and MLM logits (float64 forward on the converted F32 file)', async (t) => {
  const { W, f } = ggufWeights(await convertBytes(BERT, { type: 'F32' }));
  let worstPool = 0;
  let worstMlm = 0;
  let worstHidden = 0;
  for (const c of cases.cases) {
    const input = { ids: c.input_ids, types: c.token_type_ids, mask: c.attention_mask };
    const at = c.mlm?.masked_positions ?? [];
    const r = bertForward(W, input, { withMlmAt: at });
    worstPool = Math.max(worstPool, maxAbs(r.pooled, c.pooler_output));
    r.hidden.forEach((h, i) => (worstHidden = Math.max(worstHidden, maxAbs(h, c.last_hidden_state[i]))));
    at.forEach((_, k) => {
      worstMlm = Math.max(worstMlm, maxAbs(r.mlm[k], c.mlm.logits[k]));
      const top = Array.from(r.mlm[k].keys()).sort((a, b) => r.mlm[k][b] - r.mlm[k][a]).slice(0, 5);
      assert.deepEqual(top, c.mlm.top5_ids[k], `${c.name}: top-5 at position ${at[k]}`);
    });
  }
  f.close();
  t.diagnostic(`max abs vs goldens: last_hidden_state ${worstHidden.toExponential(2)}, pooler ${worstPool.toExponential(2)}, MLM logits ${worstMlm.toExponential(2)}`);
  assert.ok(worstHidden < 1e-5, `hidden ${worstHidden}`);
  assert.ok(worstPool < 1e-5, `pooler ${worstPool}`);
  assert.ok(worstMlm < 1e-4, `MLM ${worstMlm}`);
  assert.ok(cases.cases.some((c) => c.mlm), 'the goldens contain MLM cases');
});

/** A tiny BertForSequenceClassification folder: the fixture's encoder + pooler and a random 3-way head. */
function makeClassifier(dir) {
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
function hfWeights(tensors) {
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

test('BertForSequenceClassification: classifier head + labels, logits as computed from the raw weights', async (t) => {
  const { dir, cleanup } = tempDir();
  try {
    const tensors = makeClassifier(dir);
    const bytes = await convertBytes(dir, { type: 'F32' });
    const { W, f } = ggufWeights(bytes);
    assert.deepEqual(f.get('bert.classifier.output_labels'), ['negative', 'neutral', 'positive']);
    assert.equal(f.get('bert.pooling_type'), undefined);
    assert.deepEqual(f.tensorByName.get('cls.output.weight').shape, [3, cfg.hidden_size]);
    assert.ok(!f.tensorByName.has('mlm.dense.weight'));
    const E = cfg.hidden_size;
    const expected = hfWeights(tensors);
    let worst = 0;
    for (const c of cases.cases) {
      const input = { ids: c.input_ids, types: c.token_type_ids, mask: c.attention_mask };
      const ref = bertForward(expected, input).pooled;
      const refLogits = linear(expected('cls.output.weight'), expected('cls.output.bias'), ref, 3, E);
      const got = bertForward(W, input).pooled;
      const logits = linear(W('cls.output.weight'), W('cls.output.bias'), got, 3, E);
      worst = Math.max(worst, maxAbs(logits, refLogits));
      assert.equal(logits.indexOf(Math.max(...logits)), refLogits.indexOf(Math.max(...refLogits)), `${c.name}: predicted label`);
    }
    f.close();
    t.diagnostic(`classifier logits, converted vs raw weights: max abs ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-9, `logits differ by ${worst}`);

    // quantized: head matrices follow the usual rules
    const g = readGGUF(await convertBytes(dir, { type: 'Q8_0' }));
    assert.equal(g.tensorByName.get('cls.output.weight').type, GGMLType.Q8_0);
    assert.equal(g.tensorByName.get('cls.output.bias').type, GGMLType.F32);
    g.close();
  } finally {
    cleanup();
  }
});

test("heads: 'none' drops every head (llama.cpp's converter output)", async () => {
  const f = readGGUF(await convertBytes(BERT, { type: 'F32', heads: 'none' }));
  assert.ok(!f.tensors.some((t) => t.name.startsWith('cls.') || t.name.startsWith('mlm.')));
  f.close();
});

test('an untied MLM decoder is written as mlm.output.weight; an incomplete head is an error', async () => {
  const { dir, cleanup } = tempDir();
  try {
    copyFixture('bert/hf', dir);
    const src = new SafetensorsModel(dir);
    const tensors = src.names().map((n) => ({ name: n, dtype: 'F32', shape: src.get(n).shape, data: src.readF32(src.get(n)) }));
    src.close();
    const emb = tensors.find((x) => x.name === 'bert.embeddings.word_embeddings.weight');
    const untied = [...tensors, { name: 'cls.predictions.decoder.weight', dtype: 'F32', shape: emb.shape, data: emb.data.map((v) => -v) }];
    fs.rmSync(path.join(dir, 'model.safetensors'));
    writeSafetensors(path.join(dir, 'model.safetensors'), untied);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: false }));
    const f = readGGUF(await convertBytes(dir, { type: 'F32' }));
    assert.deepEqual(f.tensorByName.get('mlm.output.weight').shape, emb.shape);
    f.close();
    // tied (the default): the stored decoder copy is dropped
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const g = readGGUF(await convertBytes(dir, { type: 'F32' }));
    assert.ok(!g.tensorByName.has('mlm.output.weight'));
    g.close();

    fs.rmSync(path.join(dir, 'model.safetensors'));
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors.filter((x) => x.name !== 'cls.predictions.transform.LayerNorm.weight'));
    await assert.rejects(convertBytes(dir, { type: 'F32' }), /incomplete masked-LM head.*mlm\.norm\.weight/);
  } finally {
    cleanup();
  }
});
