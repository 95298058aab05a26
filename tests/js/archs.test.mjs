// The architectures of tests/fixtures/archs through the JS API (WASM build): qwen3, gemma2,
// gemma3, phi3 with GPT (logits of every prefill case vs the goldens, greedy continuations
// over the safe prefix, prompt tokenization), XLM-RoBERTa and nomic-bert with BERT (text ->
// golden ids -> sentence embedding). Tolerances as tests/native/test_models.c and
// tests/native/test_encoders.c (see the comments there).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GPT, BERT, Engine } from 'plm-wasm';
import { fixture, readJSON, maxAbsDiff, safeSteps, collect } from './helpers.mjs';

const DECODERS = [
  { name: 'qwen3', tol: { F32: 1e-4, Q8_0: 1.4, Q4_0: 1.3 } },
  { name: 'gemma2', tol: { F32: 1e-4, Q8_0: 0.2, Q4_0: 0.33 } },
  { name: 'gemma3', tol: { F32: 1e-4, Q8_0: 0.4, Q4_0: 0.65 } },
  { name: 'phi3', tol: { F32: 1e-4, Q8_0: 0.22, Q4_0: 0.3 } },
];
const ENCODERS = [
  { name: 'xlm-roberta', arch: 'bert' },
  { name: 'nomic-bert', arch: 'nomic-bert' },
];
const ENC_TOL = { F32: { hidden: 2e-5, embed: 1e-6 }, F16: { hidden: 6e-3, embed: 4e-4 }, Q8_0: { hidden: 0.2, embed: 0.01 } };
const gguf = (name, type) => fixture('archs', name, `${name}-tiny-random-${type}.gguf`);

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine.dispose());

for (const f of DECODERS) {
  const cases = readJSON(fixture('archs', f.name, 'cases.json'));
  for (const type of Object.keys(f.tol)) {
    describe(`${f.name} ${type}`, () => {
      let gpt;
      before(async () => {
        gpt = await GPT.load(gguf(f.name, type), { engine });
      });
      after(() => gpt.dispose());

      test('info', () => {
        assert.equal(gpt.info.architecture, f.name);
        assert.equal(gpt.vocabSize, cases.config.vocab_size);
      });

      test(`logits within ${f.tol[type]} of the goldens`, async () => {
        for (const c of cases.cases.prefill) {
          const logits = await gpt.logits(c.input_ids);
          const err = maxAbsDiff(logits, c.logits[type].flat());
          assert.ok(err <= f.tol[type], `${c.input_ids.length} tokens: max |dlogit| ${err}`);
        }
      });

      test('greedy continuations over the safe prefix', async () => {
        for (const g of cases.cases.greedy) {
          const safe = safeSteps(g, type, f.tol[type]);
          const run = await collect(gpt.generate(Int32Array.from(g.prompt_ids), { temperature: 0, maxTokens: g.n_new, ignoreEos: true }));
          assert.deepEqual(run.tokens.slice(0, safe), g.generated_ids[type].slice(0, safe));
        }
      });

      if (type === 'F32')
        test('tokenizer cases', () => {
          for (const c of cases.tokenizer_cases) assert.deepEqual([...gpt.tokenize(c.text)], c.ids, c.text);
        });
    });
  }
}

for (const f of ENCODERS) {
  const cases = readJSON(fixture('archs', f.name, 'cases.json'));
  for (const type of Object.keys(ENC_TOL)) {
    describe(`${f.name} ${type}`, () => {
      let bert;
      before(async () => {
        bert = await BERT.load(gguf(f.name, type), { engine });
      });
      after(() => bert.dispose());

      test('texts -> golden ids -> hidden states and sentence embeddings', async () => {
        assert.equal(bert.info.architecture, f.arch);
        for (const c of cases.cases) {
          assert.deepEqual([...bert.tokenize(c.text, { parseSpecial: false }).ids], c.input_ids, c.name);
          const h = await bert.hiddenStates(Int32Array.from(c.input_ids));
          assert.ok(maxAbsDiff(h.data, c.last_hidden_state.flat()) <= ENC_TOL[type].hidden, `${c.name} hidden`);
          const emb = await bert.embed(c.text);
          assert.ok(maxAbsDiff(emb, c.sentence_embedding) <= ENC_TOL[type].embed, `${c.name} embedding`);
        }
      });
    });
  }
}
