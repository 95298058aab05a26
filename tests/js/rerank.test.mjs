// bert.rerank() on an XLM-RoBERTa cross-encoder: the tiny XLM-R fixture (tests/fixtures/archs)
// turned into an XLMRobertaForSequenceClassification checkpoint with a one-output head
// (classifier.dense / classifier.out_proj, random weights), converted with plm-wasm convert.
// Expected score of (q, d): sigmoid(out_proj · tanh(dense · h + b) + b_out) in float64, h the
// <s> row of the pair's hidden states (pair template <s> q </s></s> d </s>).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BERT, Engine, PlmError, Status } from 'plm-wasm';
import { convert } from '../../js/convert/convert.js';
import { SafetensorsModel, writeSafetensors } from '../../js/convert/safetensors.js';
import { readJSON } from './helpers.mjs';
import { tempDir, copyFixture } from './convert_helpers.mjs';

const E = 64;
let engine, tmp, bert, dense, denseB, out, outB;

before(async () => {
  engine = await Engine.create({ threads: 1 });
  tmp = tempDir('plm-rerank-');
  const dir = path.join(tmp.dir, 'xlmr-reranker');
  fs.mkdirSync(dir);
  copyFixture('archs/xlm-roberta/hf', dir);
  const src = new SafetensorsModel(dir);
  const tensors = src.names().filter((n) => !n.startsWith('pooler.')).map((n) => ({ name: `roberta.${n}`, dtype: 'F32', shape: src.get(n).shape, data: src.readF32(src.get(n)) }));
  src.close();
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.6;
  dense = Float32Array.from({ length: E * E }, rand);
  denseB = Float32Array.from({ length: E }, rand);
  out = Float32Array.from({ length: E }, () => rand() * 4);
  outB = Float32Array.from([0.1]);
  tensors.push(
    { name: 'classifier.dense.weight', dtype: 'F32', shape: [E, E], data: dense },
    { name: 'classifier.dense.bias', dtype: 'F32', shape: [E], data: denseB },
    { name: 'classifier.out_proj.weight', dtype: 'F32', shape: [1, E], data: out },
    { name: 'classifier.out_proj.bias', dtype: 'F32', shape: [1], data: outB },
  );
  fs.rmSync(path.join(dir, 'model.safetensors'));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  const config = readJSON(path.join(dir, 'config.json'));
  Object.assign(config, { architectures: ['XLMRobertaForSequenceClassification'], id2label: { 0: 'LABEL_0' }, label2id: { LABEL_0: 0 } });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  const file = path.join(tmp.dir, 'reranker.gguf');
  await convert(dir, file, { type: 'F32', engine });
  bert = await BERT.load(file, { engine });
});
after(() => {
  bert?.dispose();
  engine?.dispose();
  tmp?.cleanup();
});

const QUERY = 'What is the capital of France?';
const DOCS = ['Paris is the capital of France.', 'Berlin ist die Hauptstadt Deutschlands.', 'Le chat dort.', 'La capitale de la France est Paris.', ''];

async function expectedLogit(q, d) {
  const { ids } = bert.tokenize(q, { pair: d });
  const h = await bert.hiddenStates(ids);
  let logit = outB[0];
  for (let i = 0; i < E; i++) {
    let a = denseB[i];
    for (let j = 0; j < E; j++) a += dense[i * E + j] * h.data[j];
    logit += out[i] * Math.tanh(a);
  }
  return logit;
}

test('pair template and heads', () => {
  assert.deepEqual(bert.heads, { pooler: true, mlm: false, classifier: true });
  const q = [...bert.tokenize(QUERY, { addSpecial: false }).ids];
  const d = [...bert.tokenize(DOCS[0], { addSpecial: false }).ids];
  const { ids, typeIds } = bert.tokenize(QUERY, { pair: DOCS[0] });
  assert.deepEqual([...ids], [0, ...q, 2, 2, ...d, 2]);
  assert.ok([...typeIds].every((t) => t === 0));
});

test('rerank: scores = sigmoid(head(<s> row)), sorted, topK, raw logits', async () => {
  const want = [];
  for (const d of DOCS) want.push(await expectedLogit(QUERY, d));
  const ranked = await bert.rerank(QUERY, DOCS);
  assert.equal(ranked.length, DOCS.length);
  for (const r of ranked) {
    assert.equal(r.document, DOCS[r.index]);
    assert.ok(Math.abs(r.score - 1 / (1 + Math.exp(-want[r.index]))) < 1e-5, `doc ${r.index}: ${r.score}`);
  }
  const order = want.map((v, i) => i).sort((a, b) => want[b] - want[a] || a - b);
  assert.deepEqual(ranked.map((r) => r.index), order);
  assert.deepEqual(await bert.rerank(QUERY, DOCS, { topK: 2 }), ranked.slice(0, 2));
  const raw = await bert.rerank(QUERY, DOCS, { functionToApply: 'none' });
  for (const r of raw) assert.ok(Math.abs(r.score - want[r.index]) < 1e-4);
  assert.deepEqual(await bert.rerank(QUERY, []), []);
});

test('rerank: bad arguments and models without a one-output head', async () => {
  await assert.rejects(bert.rerank(QUERY, 'doc'), TypeError);
  await assert.rejects(bert.rerank(1, DOCS), TypeError);
  await assert.rejects(bert.rerank(QUERY, DOCS, { topK: 0 }), RangeError);
  await assert.rejects(bert.rerank(QUERY, DOCS, { functionToApply: 'softmax' }), RangeError);
  const emb = await BERT.load(new URL('../fixtures/archs/xlm-roberta/xlm-roberta-tiny-random-F32.gguf', import.meta.url).pathname, { engine });
  try {
    await assert.rejects(emb.rerank(QUERY, DOCS), (e) => e instanceof PlmError && e.code === Status.MISSING);
  } finally {
    emb.dispose();
  }
});
