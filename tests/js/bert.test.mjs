// BERT on tests/fixtures/bert: hidden states and sentence embeddings of every case for the
// llama.cpp-converted GGUFs (F32 / F16 / Q8_0), the padded batch, the pooler / MLM /
// classifier heads through files converted here from hf/ with plm-wasm's converter, the
// WordPiece tokenizer goldens, fill-mask, bad input, builds agreement, and leaks.
//
// Tolerances: max abs error vs the float64 goldens, per file type, set from measured values
// (tests/native/test_bert.c lists them; the kernels are bit-identical across builds, so
// these are fixed numbers). Converted files quantize the head matrices too (cls.weight,
// mlm.dense.weight, and token_embd, the tied decoder), hence their own pooler / MLM bounds.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BERT, GPT, Tokenizer, Engine, PlmError, Status } from 'plm-wasm';
import { convert } from '../../js/convert/convert.js';
import { SafetensorsModel, writeSafetensors } from '../../js/convert/safetensors.js';
import { ROOT, fixture, readJSON, readJSONL, maxAbsDiff } from './helpers.mjs';
import { tempDir, copyFixture } from './convert_helpers.mjs';

const cases = readJSON(fixture('bert', 'cases.json'));
const cfg = cases.model.config;
const E = cfg.hidden_size;
const V = cfg.vocab_size;
const GGUF = { F32: 'tiny-bert-random-f32.gguf', F16: 'tiny-bert-random-f16.gguf', Q8_0: 'tiny-bert-random-q80.gguf' };
const TYPES = Object.keys(GGUF);
// hidden, embedding (max abs), 1 - cosine of the embeddings
const TOL = {
  F32: { hidden: 1e-5, embed: 1e-6, cos: 1e-10 },
  F16: { hidden: 5e-3, embed: 6e-4, cos: 1e-6 },
  Q8_0: { hidden: 0.15, embed: 0.01, cos: 5e-4 },
};
// converted files (head matrices at the file's type): pooler, MLM logits
const HEAD_TOL = {
  F32: { pooler: 5e-6, mlm: 2e-5 },
  F16: { pooler: 3e-3, mlm: 1.5e-2 },
  Q8_0: { pooler: 0.12, mlm: 0.5 },
};
const cli = (...args) => spawnSync(process.execPath, [path.join(ROOT, 'js/cli.js'), ...args, '--threads', '1'], { encoding: 'utf8' });
// The golden ids of 'mlm_one_mask' spell "[MASK]." as '[', 'mask', ']', '.' (the fixture
// generator's BasicTokenizer kept "[MASK]" whole only between spaces); Hugging Face's
// tokenizers, and ours, give [MASK] = 103 there. Its goldens are checked through its ids.
const TEXT_CASES = cases.cases.filter((c) => c.name !== 'mlm_one_mask');

function cosine(a, b) {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

const sameBits = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine.dispose());

for (const type of TYPES) {
  describe(`BERT ${type} (llama.cpp GGUF)`, () => {
    let bert;
    before(async () => {
      bert = await BERT.load(fixture('bert', GGUF[type]), { engine });
    });
    after(() => bert.dispose());

    test('info', () => {
      assert.equal(bert.info.architecture, 'bert');
      assert.equal(bert.hiddenSize, E);
      assert.equal(bert.contextLength, cfg.max_position_embeddings);
      assert.equal(bert.vocabSize, V);
      assert.equal(bert.pooling, 'mean');
      assert.deepEqual(bert.heads, { pooler: false, mlm: false, classifier: false });
      assert.deepEqual(bert.labels, []);
    });

    test('last hidden state and sentence embedding of every case (golden ids)', async (t) => {
      let worst = 0;
      let worstEmb = 0;
      let worstCos = 0;
      for (const c of cases.cases) {
        const h = await bert.hiddenStates(Int32Array.from(c.input_ids), { typeIds: c.token_type_ids });
        assert.deepEqual(h.dims, [c.input_ids.length, E]);
        const err = maxAbsDiff(h.data, c.last_hidden_state.flat());
        worst = Math.max(worst, err);
        assert.ok(err <= TOL[type].hidden, `${c.name}: hidden ${err}`);
        const emb = await bert.embed(c.input_ids, { typeIds: c.token_type_ids });
        const e = maxAbsDiff(emb, c.sentence_embedding);
        const cs = 1 - cosine(emb, c.sentence_embedding);
        worstEmb = Math.max(worstEmb, e);
        worstCos = Math.max(worstCos, cs);
        assert.ok(e <= TOL[type].embed, `${c.name}: embedding ${e}`);
        assert.ok(cs <= TOL[type].cos, `${c.name}: 1 - cosine ${cs}`);
        const raw = await bert.embed(c.input_ids, { typeIds: c.token_type_ids, normalize: false });
        assert.ok(maxAbsDiff(raw, c.sentence_embedding_unnormalized) <= TOL[type].hidden);
        const cls = await bert.embed(c.input_ids, { typeIds: c.token_type_ids, pooling: 'cls', normalize: false });
        assert.ok(sameBits(cls, h.data.subarray(0, E)));
      }
      t.diagnostic(`max abs: hidden ${worst.toExponential(2)}, embedding ${worstEmb.toExponential(2)}, 1-cos ${worstCos.toExponential(2)}`);
    });

    test('texts tokenize to the golden ids and embed to the same vectors', async () => {
      for (const c of TEXT_CASES) {
        const pair = Array.isArray(c.text);
        const tok = pair ? bert.tokenize(c.text[0], { pair: c.text[1] }) : bert.tokenize(c.text);
        assert.deepEqual(Array.from(tok.ids), c.input_ids, c.name);
        assert.deepEqual(Array.from(tok.typeIds), c.token_type_ids, c.name);
        const fromText = pair ? await bert.embed(c.text[0], { pair: c.text[1] }) : await bert.embed(c.text);
        const fromIds = await bert.embed(c.input_ids, { typeIds: c.token_type_ids });
        assert.ok(sameBits(fromText, fromIds), c.name);
      }
      const one = cases.cases.find((c) => c.name === 'mlm_one_mask');
      assert.deepEqual(Array.from(bert.tokenize(one.text, { parseSpecial: false }).ids), one.input_ids);
      assert.equal(bert.tokenize(one.text).ids[6], 103);
    });

    test('padded batch: one call, each row = its goldens and, bit for bit, the sentence alone', async () => {
      const pb = cases.padded_batch;
      const embs = await bert.embed(pb.texts);
      const hs = await bert.hiddenStates(pb.texts);
      assert.equal(embs.length, pb.texts.length);
      for (let s = 0; s < pb.texts.length; s++) {
        const n = pb.attention_mask[s].reduce((a, b) => a + b, 0);
        assert.deepEqual(hs[s].dims, [n, E]);
        assert.ok(maxAbsDiff(hs[s].data, pb.last_hidden_state[s].slice(0, n).flat()) <= TOL[type].hidden);
        assert.ok(maxAbsDiff(embs[s], pb.sentence_embedding[s]) <= TOL[type].embed);
        assert.ok(sameBits(embs[s], await bert.embed(pb.texts[s])), `row ${s} vs alone`);
        assert.ok(sameBits(hs[s].data, (await bert.hiddenStates(pb.texts[s])).data), `row ${s} hidden vs alone`);
      }
    });

    test('a batch mixing texts, pairs and ids equals its items one at a time', async () => {
      const items = [...TEXT_CASES.map((c) => c.text), Int32Array.from(cases.cases[0].input_ids)];
      const batch = await bert.embed(items);
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        const alone = Array.isArray(it) ? await bert.embed(it[0], { pair: it[1] }) : await bert.embed(it);
        assert.ok(sameBits(batch[i], alone), `item ${i}`);
      }
    });

    test('heads are clear errors on llama.cpp files', async () => {
      await assert.rejects(bert.fillMask('Paris is the [MASK] of France.'), (e) => e instanceof PlmError && e.code === Status.MISSING && /masked-LM head/.test(e.message) && /plm-wasm convert/.test(e.message));
      await assert.rejects(bert.pooledOutput('x'), (e) => e.code === Status.MISSING);
      await assert.rejects(bert.classify('x'), (e) => e.code === Status.MISSING && /classification/.test(e.message));
      await assert.rejects(bert.maskedLogits('x [MASK]'), (e) => e.code === Status.MISSING);
    });
  });
}

// ------------------------------------------------------- converted files with heads
describe('BERT heads (files converted from hf/ with plm-wasm convert)', () => {
  const tmp = tempDir('plm-bert-');
  after(() => tmp.cleanup());

  for (const type of TYPES) {
    describe(type, () => {
      let bert;
      before(async () => {
        const out = path.join(tmp.dir, `tiny-bert-${type}.gguf`);
        await convert(fixture('bert', 'hf'), out, { type, engine });
        bert = await BERT.load(out, { engine });
      });
      after(() => bert.dispose());

      test('heads and pooling from the file', () => {
        assert.deepEqual(bert.heads, { pooler: true, mlm: true, classifier: false });
        assert.equal(bert.pooling, 'mean');
      });

      test('pooler output and MLM logits vs the goldens', async (t) => {
        let worstPool = 0;
        let worstMlm = 0;
        let worstHidden = 0;
        for (const c of cases.cases) {
          const h = await bert.hiddenStates(c.input_ids, { typeIds: c.token_type_ids });
          worstHidden = Math.max(worstHidden, maxAbsDiff(h.data, c.last_hidden_state.flat()));
          const pooled = await bert.pooledOutput(c.input_ids, { typeIds: c.token_type_ids });
          worstPool = Math.max(worstPool, maxAbsDiff(pooled, c.pooler_output));
          if (!c.mlm) continue;
          const r = await bert.maskedLogits(c.input_ids, { typeIds: c.token_type_ids });
          assert.deepEqual(r.positions, c.mlm.masked_positions);
          assert.deepEqual(r.dims, [c.mlm.masked_positions.length, V]);
          worstMlm = Math.max(worstMlm, maxAbsDiff(r.data, c.mlm.logits.flat()));
          const atPos = await bert.maskedLogits(c.input_ids, { positions: [c.mlm.masked_positions[1]] });
          assert.ok(sameBits(atPos.data, r.data.subarray(V)), 'explicit positions');
        }
        t.diagnostic(`max abs: hidden ${worstHidden.toExponential(2)}, pooler ${worstPool.toExponential(2)}, MLM logits ${worstMlm.toExponential(2)}`);
        assert.ok(worstHidden <= TOL[type].hidden, `hidden ${worstHidden}`);
        assert.ok(worstPool <= HEAD_TOL[type].pooler, `pooler ${worstPool}`);
        assert.ok(worstMlm <= HEAD_TOL[type].mlm, `MLM ${worstMlm}`);
      });

      test('fillMask: golden top-5, softmax scores, sequences', async () => {
        const c = cases.cases.find((x) => x.mlm);
        const res = await bert.fillMask(c.text, { topK: 5 });
        assert.equal(res.length, 2, 'one list per mask');
        const { data } = await bert.maskedLogits(c.text);
        for (let k = 0; k < 2; k++) {
          assert.equal(res[k].length, 5);
          if (type !== 'Q8_0') assert.deepEqual(res[k].map((r) => r.tokenId), c.mlm.top5_ids[k]);
          // score = softmax of the logits at that position
          const row = data.subarray(k * V, (k + 1) * V);
          const max = Math.max(...row);
          const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
          for (const r of res[k]) {
            assert.ok(Math.abs(r.score - Math.exp(row[r.tokenId] - max) / z) < 1e-12);
            assert.equal(r.token, bert.detokenize([r.tokenId], { skipSpecial: false }));
            assert.ok(r.sequence.startsWith('[CLS] '), 'several masks: HF keeps the special tokens');
          }
          for (let i = 1; i < 5; i++) assert.ok(res[k][i - 1].score >= res[k][i].score);
        }
        const single = await bert.fillMask('Paris is the [MASK] of France.', { topK: 3 });
        assert.equal(single.length, 3);
        for (const r of single) {
          assert.equal(typeof r.token, 'string');
          assert.equal(r.sequence, `paris is the ${r.token} of france.`.replace(' ##', ''));
        }
        await assert.rejects(bert.fillMask('no mask here'), RangeError);
        await assert.rejects(bert.fillMask('[MASK]', { topK: 0 }), RangeError);
      });
    });
  }

  test('CLI: embed, similarity, fill-mask', async () => {
    const file = path.join(tmp.dir, 'tiny-bert-F32.gguf');
    const bert = await BERT.load(file, { engine });
    try {
      let r = cli('embed', file, 'Hello world', 'Another sentence.', '--json');
      assert.equal(r.status, 0, r.stderr);
      const vecs = JSON.parse(r.stdout);
      const want = await bert.embed(['Hello world', 'Another sentence.']);
      vecs.forEach((v, i) => assert.ok(sameBits(Float32Array.from(v), want[i])));
      r = cli('embed', file, 'Hello world');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /\(4 tokens\)\n {2}32 dims, norm 1\.0000 {2}\[/);
      r = cli('similarity', file, 'Hello world', 'Another sentence.');
      assert.equal(r.status, 0, r.stderr);
      assert.ok(Math.abs(Number(r.stdout) - bert.similarity(want[0], want[1])) < 1e-6);
      r = cli('fill-mask', file, 'Paris is the [MASK] of France.', '--json', '-k', '3');
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), await bert.fillMask('Paris is the [MASK] of France.', { topK: 3 }));
      r = cli('fill-mask', fixture('bert', GGUF.F32), 'Paris is the [MASK] of France.');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /no masked-LM head/);
      r = cli('embed', file);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /at least one text/);
    } finally {
      bert.dispose();
    }
  });

  test('classify: a BertForSequenceClassification checkpoint', async (t) => {
    const dir = path.join(tmp.dir, 'classifier');
    fs.mkdirSync(dir);
    copyFixture('bert/hf', dir);
    const src = new SafetensorsModel(dir);
    const tensors = src.names().filter((n) => !n.startsWith('cls.')).map((n) => ({ name: n, dtype: 'F32', shape: src.get(n).shape, data: src.readF32(src.get(n)) }));
    src.close();
    let seed = 99;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.8;
    const L = 3;
    const W = Float32Array.from({ length: L * E }, rand);
    const b = Float32Array.from({ length: L }, rand);
    tensors.push({ name: 'classifier.weight', dtype: 'F32', shape: [L, E], data: W }, { name: 'classifier.bias', dtype: 'F32', shape: [L], data: b });
    fs.rmSync(path.join(dir, 'model.safetensors'));
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    const config = readJSON(path.join(dir, 'config.json'));
    Object.assign(config, { architectures: ['BertForSequenceClassification'], id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' }, label2id: { negative: 0, neutral: 1, positive: 2 } });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    const out = path.join(tmp.dir, 'classifier.gguf');
    await convert(dir, out, { type: 'F32', engine });
    const bert = await BERT.load(out, { engine });
    try {
      assert.deepEqual(bert.heads, { pooler: true, mlm: false, classifier: true });
      assert.deepEqual(bert.labels, ['negative', 'neutral', 'positive']);
      let worst = 0;
      const texts = TEXT_CASES.filter((c) => !Array.isArray(c.text));
      const batch = await bert.classify(texts.map((c) => c.text));
      for (const [i, c] of texts.entries()) {
        // expected: W · pooler_output + b from the golden pooler output, then softmax
        const logits = Array.from({ length: L }, (_, k) => c.pooler_output.reduce((s, v, j) => s + W[k * E + j] * v, b[k]));
        const raw = await bert.classify(c.text, { functionToApply: 'none' });
        for (const r of raw) worst = Math.max(worst, Math.abs(r.score - logits[config.label2id[r.label]]));
        const mx = Math.max(...logits);
        const z = logits.reduce((s, v) => s + Math.exp(v - mx), 0);
        const res = await bert.classify(c.text);
        const want = ['negative', 'neutral', 'positive'].sort((x, y) => logits[config.label2id[y]] - logits[config.label2id[x]]);
        assert.deepEqual(res.map((r) => r.label), want);
        for (const r of res) assert.ok(Math.abs(r.score - Math.exp(logits[config.label2id[r.label]] - mx) / z) < 1e-5);
        assert.deepEqual(batch[i], res, 'batch row = single');
        assert.deepEqual(await bert.classify(c.text, { topK: 1 }), res.slice(0, 1));
      }
      t.diagnostic(`classifier logits vs W·pooler_output+b: max abs ${worst.toExponential(2)}`);
      assert.ok(worst < 1e-5, `logits ${worst}`);
      await assert.rejects(bert.fillMask('[MASK]'), (e) => e.code === Status.MISSING);
      await assert.rejects(bert.classify('x', { functionToApply: 'exp' }), RangeError);
      const r = cli('classify', out, texts[0].text, '--json');
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), [batch[0]]);
    } finally {
      bert.dispose();
    }
  });
});

// ------------------------------------------------------------------ tokenizer goldens
describe('WordPiece tokenizer (ggml-vocab-bert-base-uncased.gguf)', () => {
  const lines = readJSONL(fixture('tokenizers', 'bert.jsonl'));
  let tok;
  before(async () => {
    tok = await Tokenizer.load(fixture('tokenizers', 'ggml-vocab-bert-base-uncased.gguf'), { engine });
  });
  after(() => tok.dispose());

  test(`${lines.length} texts encode to the golden ids`, () => {
    const bad = [];
    for (const { text, ids, ids_with_special } of lines) {
      const got = Array.from(tok.encode(text, { addSpecial: false }));
      const gotSpecial = Array.from(tok.encode(text, { addSpecial: true }));
      if (JSON.stringify(got) !== JSON.stringify(ids) || JSON.stringify(gotSpecial) !== JSON.stringify(ids_with_special))
        bad.push(`${JSON.stringify(text).slice(0, 60)}: got ${JSON.stringify(gotSpecial).slice(0, 80)}`);
    }
    assert.deepEqual(bad, []);
  });
});

// ------------------------------------------------------------------ bad input
describe('BERT bad input', () => {
  let bert;
  before(async () => {
    bert = await BERT.load(fixture('bert', GGUF.F32), { engine });
  });
  after(() => bert.dispose());

  test('empty and whitespace-only text: [CLS] [SEP], a defined embedding', async () => {
    for (const text of ['', '   ', '\t\n ']) {
      assert.deepEqual(Array.from(bert.tokenize(text).ids), [101, 102]);
      const e = await bert.embed(text);
      assert.equal(e.length, E);
      assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-6);
    }
    assert.ok(sameBits(await bert.embed(''), await bert.embed([101, 102])));
    await assert.rejects(bert.embed('', { addSpecial: false }), /no tokens/);
    await assert.rejects(bert.hiddenStates([]), /no tokens/);
  });

  test('text over the context: TOO_LONG unless truncate', async () => {
    const long = 'word '.repeat(600);
    await assert.rejects(bert.embed(long), (e) => e instanceof PlmError && e.code === Status.TOO_LONG && /600|602/.test(e.message) && /truncate/.test(e.message));
    const h = await bert.hiddenStates(long, { truncate: true });
    assert.deepEqual(h.dims, [512, E]);
    const ids = bert.tokenize(long).ids;
    const cut = Int32Array.from([...ids.subarray(0, 511), 102]);
    assert.ok(sameBits(h.data, (await bert.hiddenStates(cut)).data), 'truncation keeps [CLS] .. [SEP]');
    // pairs: longest first
    const p = await bert.hiddenStates('short one', { pair: long, truncate: true });
    assert.deepEqual(p.dims, [512, E]);
    await assert.rejects(bert.hiddenStates(new Int32Array(513).fill(1000)), (e) => e.code === Status.TOO_LONG);
    assert.deepEqual((await bert.hiddenStates(new Int32Array(512).fill(1000))).dims, [512, E]);
    // batches: the offending item is named
    await assert.rejects(bert.embed(['fine', long]), /input 1/);
  });

  test('bad ids, types and options', async () => {
    await assert.rejects(bert.hiddenStates([101, V, 102]), (e) => e instanceof PlmError && e.code === Status.INVALID);
    await assert.rejects(bert.hiddenStates([101, -1, 102]), PlmError);
    await assert.rejects(bert.hiddenStates([101, 102], { typeIds: [0, 2] }), /token type 2/);
    await assert.rejects(bert.hiddenStates([101, 102], { typeIds: [0] }), RangeError);
    await assert.rejects(bert.hiddenStates([101, 1.5]), TypeError);
    await assert.rejects(bert.embed(42), TypeError);
    await assert.rejects(bert.embed('x', { pooling: 'max' }), RangeError);
    assert.throws(() => bert.similarity([1, 2], [1]), RangeError);
    assert.equal(bert.similarity([1, 0], [0, 1]), 0);
    assert.ok(Math.abs(bert.similarity([1, 2, 3], [2, 4, 6]) - 1) < 1e-12);
    // still usable
    assert.equal((await bert.embed('still fine')).length, E);
  });

  test('a file whose architecture is not BERT', async () => {
    await assert.rejects(BERT.load(fixture('gpt2', 'gpt2-tiny-F32.gguf'), { engine }), (e) => e instanceof PlmError && e.code === Status.UNSUPPORTED && /'gpt2', not 'bert'/.test(e.message));
    await assert.rejects(GPT.load(fixture('bert', GGUF.F32), { engine }), /not a causal language model/);
  });
});

test('embeddings are bit-identical on the scalar, SIMD and threaded builds', async () => {
  const texts = cases.padded_batch.texts;
  const results = [];
  for (const opts of [{ build: 'scalar', threads: 1 }, { build: 'simd', threads: 1 }, { build: 'simd-mt', threads: 2 }]) {
    const bert = await BERT.load(fixture('bert', GGUF.Q8_0), opts);
    try {
      results.push(await bert.embed(texts));
    } finally {
      bert.dispose();
    }
  }
  for (const r of results.slice(1)) r.forEach((v, i) => assert.ok(sameBits(v, results[0][i]), `text ${i}`));
});

test('BERT.load / dispose frees everything', async () => {
  const base = engine.heapUsed();
  for (let i = 0; i < 2; i++) {
    const bert = await BERT.load(fixture('bert', GGUF.Q8_0), { engine });
    await bert.embed(['Hello world', 'a second, longer sentence']);
    await assert.rejects(bert.embed('x'.repeat(3000) + ' y'.repeat(600)));
    bert.dispose();
  }
  assert.equal(engine.heapUsed(), base);
});
