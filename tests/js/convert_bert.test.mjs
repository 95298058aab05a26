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
import { bertForward, linear, makeClassifier, hfWeights } from './convert_bert_ref.mjs';

const BERT = path.join(FIXTURES, 'bert/hf');
const cases = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'bert/cases.json'), 'utf8'));
const cfg = cases.model.config;

let q;
before(async () => {
  q = await Quantizer.create();
});
after(() => q?.dispose());

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
    const r = bertForward(cfg, W, input, { withMlmAt: at });
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

test('BertForSequenceClassification: classifier head + labels, logits as computed from the raw weights', async (t) => {
  const { dir, cleanup } = tempDir();
  try {
    const tensors = makeClassifier(dir, cfg);
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
      const ref = bertForward(cfg, expected, input).pooled;
      const refLogits = linear(expected('cls.output.weight'), expected('cls.output.bias'), ref, 3, E);
      const got = bertForward(cfg, W, input).pooled;
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
