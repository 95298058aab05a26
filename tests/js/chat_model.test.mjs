// The shipped chat model (models/gpt2-chat-F16.gguf, models/train/train_chat.py) through the JS
// chat API: its stored ChatML template and end-of-turn token, prompt ids / logits / greedy
// tokens equal to its training-side PyTorch model (tests/fixtures/models/gpt2-chat-pytorch.json,
// expected_chat.py), and the held-out accuracy per skill stated in models/README.md
// (tests/fixtures/models/gpt2-chat.json, written by eval_chat.mjs) recomputed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GPT } from 'plm-wasm';
import { ROOT, readJSON } from './helpers.mjs';

const file = path.join(ROOT, 'models', 'gpt2-chat-F16.gguf');
const torchRef = readJSON(path.join(ROOT, 'tests', 'fixtures', 'models', 'gpt2-chat-pytorch.json'));
const evalRef = readJSON(path.join(ROOT, 'tests', 'fixtures', 'models', 'gpt2-chat.json'));
const LOGIT_TOL = 2e-3; // F16 weights widened to float32 on both sides (see models.test.mjs)
// what models/README.md states (held-out exact match, greedy)
const MIN_ACCURACY = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'fixtures', 'models', 'gpt2-chat.json'), 'utf8')).claimed;

test('gpt2-chat: ChatML template and <|im_end|> end-of-turn from the GGUF', async () => {
  const gpt = await GPT.load(file, { threads: 1 });
  try {
    const p = gpt.applyChatTemplate([{ role: 'system', content: 'S' }, { role: 'user', content: 'Hi' }]);
    assert.equal(p, '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const imEnd = gpt.tokenize('<|im_end|>', { addSpecial: false });
    assert.equal(imEnd.length, 1);
    assert.ok(gpt.isEog(imEnd[0]));
    assert.equal(gpt.info.tokenizer.eos, imEnd[0]);
  } finally {
    gpt.dispose();
  }
});

test('gpt2-chat: prompt ids, logits and greedy tokens equal PyTorch', async () => {
  const gpt = await GPT.load(file, { threads: 1 });
  try {
    const V = gpt.vocabSize;
    for (const c of torchRef.cases) {
      const ids = gpt.chatPromptIds(c.messages);
      assert.deepEqual(Array.from(ids), c.prompt_ids, `${c.skill}: prompt ids`);
      const logits = await gpt.logits(ids);
      const last = logits.subarray((ids.length - 1) * V);
      let m = 0;
      for (let i = 0; i < V; i++) m = Math.max(m, Math.abs(last[i] - c.prompt_last_logits[i]));
      assert.ok(m < LOGIT_TOL, `${c.skill}: max |logit diff| ${m}`);
      let safe = c.top1_top2_margins.findIndex((x) => x <= 2 * LOGIT_TOL);
      if (safe < 0) safe = c.generated_ids.length;
      const r = await gpt.complete(ids, { temperature: 0, maxTokens: safe, ignoreEos: true });
      assert.deepEqual(Array.from(r.tokens), c.generated_ids.slice(0, safe), `${c.skill}: greedy tokens`);
    }
  } finally {
    gpt.dispose();
  }
});

test('gpt2-chat: held-out accuracy per skill (greedy chat()) as stated', async () => {
  const gpt = await GPT.load(file, { threads: 1 });
  try {
    const per = {};
    for (const c of evalRef.cases) {
      const r = await gpt.chat(c.messages, { temperature: 0, maxTokens: 64, contextShift: true });
      assert.equal(r.message.content, c.got.content, `${c.skill}: ${JSON.stringify(c.messages.at(-1).content)}`);
      assert.equal(r.message.reasoning ?? null, c.got.reasoning);
      per[c.skill] ??= { n: 0, correct: 0 };
      per[c.skill].n++;
      per[c.skill].correct += c.correct ? 1 : 0;
    }
    for (const [skill, v] of Object.entries(per)) {
      assert.equal(v.correct, evalRef.accuracy[skill].correct, skill);
      assert.ok(v.correct / v.n >= MIN_ACCURACY[skill], `${skill}: ${v.correct}/${v.n} below the stated ${MIN_ACCURACY[skill]}`);
    }
  } finally {
    gpt.dispose();
  }
});
