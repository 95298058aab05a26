// The shipped demo models (models/*.gguf, trained by models/train/) through the JS API:
// they must do what their training-side PyTorch model does, not merely run.
//
// Expected values: tests/fixtures/models/<name>.json, written by models/train/expected.py
// from the PyTorch model with its weights rounded as the GGUF stores them.
//   - GPT-2 / LLaMA: tokenizer round trip, last-position logits of each prompt, greedy
//     continuation equal to PyTorch's (up to the first step where PyTorch's top-2 margin
//     is below the logit tolerance; after that a tie may legitimately break either way).
//   - T5: exact match >= 95% per task on the held-out prompts, outputs and teacher-forced
//     logits as PyTorch's; tokenizer round trip.
//   - BERT: answer in the top 5 for >= 80% of held-out masked sentences, 'The capital of
//     France is [MASK].' -> paris, masked-LM logits and embeddings as PyTorch's; the same
//     fact said two ways is closer than two unrelated facts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as plm from 'plm-wasm';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const expected = (name) => JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'fixtures', 'models', `${name}.json`), 'utf8'));

// F16 weights are widened to float32 and the math is float32 on both sides: the
// differences are float32 rounding (~1e-5 here); 2e-3 leaves room for summation order.
const LOGIT_TOL = 2e-3;

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const name of ['gpt2-stories', 'llama-stories']) {
  const exp = expected(name);
  const file = path.join(ROOT, 'models', exp.gguf);

  test(`${name}: ${exp.gguf} is a ${exp.architecture} model of the expected shape`, async () => {
    const gpt = await plm.GPT.load(file, { threads: 1 });
    try {
      assert.equal(gpt.info.architecture, exp.architecture);
      assert.equal(gpt.vocabSize, exp.config.vocab_size);
      assert.equal(gpt.info.nParams, exp.training.params);
    } finally {
      gpt.dispose();
    }
  });

  test(`${name}: the tokenizer in the GGUF round-trips held-out text`, async () => {
    const gpt = await plm.GPT.load(file, { threads: 1 });
    try {
      for (const { text, ids } of exp.tokenizer_cases) {
        assert.deepEqual(Array.from(gpt.tokenize(text)), ids, `tokenize ${JSON.stringify(text)}`);
        assert.equal(gpt.detokenize(ids), text, `detokenize ${JSON.stringify(text)}`);
      }
    } finally {
      gpt.dispose();
    }
  });

  test(`${name}: prompt logits and greedy continuations equal the PyTorch model's`, async () => {
    const gpt = await plm.GPT.load(file, { threads: 1 });
    try {
      const V = gpt.vocabSize;
      for (const c of exp.cases) {
        assert.deepEqual(Array.from(gpt.tokenize(c.prompt)), c.prompt_ids, `prompt ids of ${JSON.stringify(c.prompt)}`);
        const all = await gpt.logits(c.prompt_ids);
        const last = all.subarray((c.prompt_ids.length - 1) * V, c.prompt_ids.length * V);
        const err = maxAbsDiff(last, c.prompt_last_logits);
        assert.ok(err < LOGIT_TOL, `${JSON.stringify(c.prompt)}: last-position logits differ by ${err}`);

        const { tokens } = await gpt.complete(c.prompt_ids, { maxTokens: c.n_new, temperature: 0, ignoreEos: true });
        let safe = c.top1_top2_margins.findIndex((m) => m < 2 * LOGIT_TOL);
        if (safe < 0) safe = c.n_new;
        assert.ok(safe >= Math.min(8, c.n_new), `${JSON.stringify(c.prompt)}: the PyTorch path has a near-tie after ${safe} tokens`);
        assert.deepEqual(Array.from(tokens).slice(0, safe), c.generated_ids.slice(0, safe),
          `${JSON.stringify(c.prompt)}: greedy continuation`);
      }
    } finally {
      gpt.dispose();
    }
  });

  test(`${name}: greedy story text reads as PyTorch's`, async () => {
    const gpt = await plm.GPT.load(file, { threads: 1 });
    try {
      const c = exp.cases[0];
      const { text } = await gpt.complete(c.prompt, { maxTokens: c.n_new, temperature: 0 });
      assert.equal(text, c.generated_text_until_eos.slice(0, text.length));
      assert.ok(text.length > 40, 'a real continuation');
    } finally {
      gpt.dispose();
    }
  });
}

// T5 (t5-tasks-*.gguf): the four text-to-text tasks on held-out prompts (never trained on).
const T5_MODELS = ['t5-tasks'];
for (const name of T5_MODELS) {
  const exp = expected(name);
  const file = path.join(ROOT, 'models', exp.gguf);

  test(`${name}: ${exp.gguf} is a T5 model of the expected shape; its tokenizer round-trips held-out text`, async () => {
    const t5 = await plm.T5.load(file, { threads: 1 });
    try {
      assert.equal(t5.info.architecture, 't5');
      assert.equal(t5.vocabSize, exp.config.vocab_size);
      assert.equal(t5.info.nParams, exp.training.params);
      for (const { text, ids } of exp.tokenizer_cases) {
        assert.deepEqual(Array.from(t5.tokenize(text)), ids, `tokenize ${JSON.stringify(text)}`);
        assert.equal(t5.detokenize(ids, { skipSpecial: true }), text, `detokenize ${JSON.stringify(text)}`);
      }
    } finally {
      t5.dispose();
    }
  });

  test(`${name}: decoder logits equal the PyTorch model's (teacher forcing)`, async () => {
    const t5 = await plm.T5.load(file, { threads: 1 });
    try {
      for (const c of exp.logit_cases) {
        assert.deepEqual(Array.from(t5.tokenize(c.input)), c.input_ids);
        const got = await t5.logits(c.input_ids, c.decoder_ids);
        const err = maxAbsDiff(got, c.logits);
        assert.ok(err < LOGIT_TOL, `${JSON.stringify(c.input)}: logits differ by ${err}`);
      }
    } finally {
      t5.dispose();
    }
  });

  test(`${name}: >= 95% exact match per task on the held-out prompts (greedy), as PyTorch`, async () => {
    const t5 = await plm.T5.load(file, { threads: 1 });
    try {
      for (const [task, rows] of Object.entries(exp.tasks)) {
        let right = 0;
        let same = 0;
        for (const row of rows) {
          const { text } = await t5.complete(row.input, { maxTokens: 24 });
          if (text === row.target) right++;
          if (text === row.pytorch) same++;
        }
        const n = rows.length;
        assert.ok(right / n >= 0.95, `${task}: exact match ${right}/${n}`);
        assert.ok(same >= n - 1, `${task}: the same output as PyTorch for only ${same}/${n}`);
      }
    } finally {
      t5.dispose();
    }
  });
}

// BERT (bert-facts-*.gguf): fill-mask and sentence similarity through the BERT class.
const BERT_MODELS = ['bert-facts'];
for (const name of BERT_MODELS) {
  const exp = expected(name);
  const file = path.join(ROOT, 'models', exp.gguf);

  test(`${name}: the WordPiece tokenizer in the GGUF matches BertTokenizer on held-out text`, async () => {
    const bert = await plm.BERT.load(file, { threads: 1 });
    try {
      assert.equal(bert.info.architecture, 'bert');
      assert.equal(bert.vocabSize, exp.config.vocab_size);
      for (const { text, ids } of exp.tokenizer_cases)
        assert.deepEqual(Array.from(bert.tokenize(text, { parseSpecial: true }).ids), ids, `tokenize ${JSON.stringify(text)}`);
    } finally {
      bert.dispose();
    }
  });

  test(`${name}: masked-LM logits equal the PyTorch model's`, async () => {
    const bert = await plm.BERT.load(file, { threads: 1 });
    try {
      for (const c of exp.logit_cases) {
        const { data, ids } = await bert.maskedLogits(c.text);
        assert.deepEqual(Array.from(ids), c.ids);
        const err = maxAbsDiff(data, c.mask_logits);
        assert.ok(err < LOGIT_TOL, `${JSON.stringify(c.text)}: logits differ by ${err}`);
      }
    } finally {
      bert.dispose();
    }
  });

  test(`${name}: fill-mask finds the right word in the top 5 for >= 80% of held-out sentences`, async () => {
    const bert = await plm.BERT.load(file, { threads: 1 });
    try {
      for (const set of ['fill_mask_heldout', 'fill_mask_training_phrasing']) {
        let hit = 0;
        let agree = 0;
        for (const row of exp[set]) {
          const top = (await bert.fillMask(row.text, { topK: 5 })).map((r) => r.token);
          if (top.includes(row.answer)) hit++;
          if (top.join() === row.top5.join()) agree++;
        }
        const n = exp[set].length;
        assert.ok(hit / n >= 0.8, `${set}: answer in the top 5 for ${hit}/${n}`);
        assert.ok(agree >= n - 2, `${set}: top 5 equal to PyTorch's for only ${agree}/${n}`);
      }
      const paris = await bert.fillMask('The capital of France is [MASK].', { topK: 5 });
      assert.equal(paris[0].token, 'paris');
      assert.deepEqual(paris.map((p) => p.token), exp.paris.top5);
    } finally {
      bert.dispose();
    }
  });

  test(`${name}: sentences about the same fact are closer than unrelated ones`, async () => {
    const bert = await plm.BERT.load(file, { threads: 1 });
    try {
      let closer = 0;
      for (const t of exp.similarity_triplets) {
        const [a, p, u] = await bert.embed([t.anchor, t.same_fact, t.unrelated]);
        const same = bert.similarity(a, p);
        const other = bert.similarity(a, u);
        assert.ok(Math.abs(same - t.cos_same_fact) < 1e-3, `${t.anchor} / ${t.same_fact}: ${same} vs PyTorch ${t.cos_same_fact}`);
        assert.ok(Math.abs(other - t.cos_unrelated) < 1e-3, `${t.anchor} / ${t.unrelated}: ${other} vs PyTorch ${t.cos_unrelated}`);
        if (same > other) closer++;
      }
      const n = exp.similarity_triplets.length;
      assert.ok(closer / n >= 0.9, `same fact closer for ${closer}/${n}`);
    } finally {
      bert.dispose();
    }
  });
}
