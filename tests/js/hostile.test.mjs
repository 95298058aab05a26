// Hostile files and inputs (issue 12) through the JS API: crafted files are refused
// with a PlmError naming the key, and sizes computed in JS (ids x vocabulary x 4)
// are checked before they reach the 32-bit size_t of wasm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GPT, BERT, T5, Engine, PlmError, Status } from 'plm-wasm';
import { fixture } from './helpers.mjs';
import { llama } from '../hostile/make_hostile.mjs';

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine?.dispose());

const hostile = (f) => fixture('hostile', f);

test('heads x head size that wraps 32 bits is refused at load (llama, t5)', async () => {
  await assert.rejects(GPT.load(hostile('llama-keylen-wrap.gguf'), { engine }), (e) => {
    assert.ok(e instanceof PlmError);
    assert.equal(e.code, Status.FORMAT);
    assert.match(e.message, /attention\.key_length/);
    return true;
  });
  await assert.rejects(T5.load(hostile('t5-keylen-wrap.gguf'), { engine }), /attention\.key_length/);
  await assert.rejects(GPT.load(hostile('gpt2-ffn-huge.gguf'), { engine }), /feed_forward_length/);
  await assert.rejects(BERT.load(hostile('bert-blocks-huge.gguf'), { engine }), /block_count/);
});

test('the engine refuses an allocation that would wrap size_t', () => {
  assert.throws(() => engine.malloc(2 ** 32 + 64, 'logits'), (e) => e instanceof PlmError && e.code === Status.TOO_LONG && /logits/.test(e.message));
  assert.throws(() => engine.malloc(NaN), (e) => e instanceof PlmError && e.code === Status.INVALID);
  assert.throws(() => engine.malloc(-1), PlmError);
});

test('logits(ids) with ids x vocabulary x 4 > 4 GiB is a clear error, and the model stays usable', async () => {
  // 2^20-token vocabulary (8-wide embeddings: 32 MB): 1025 ids need 4.3 GB of logits
  const bytes = llama({ E: 8, V: 2 ** 20, F: 16, H: 2, Hkv: 2, ctx: 2048 });
  const gpt = await GPT.load(bytes, { engine });
  try {
    const ids = Array.from({ length: 1025 }, (_, i) => i);
    await assert.rejects(gpt.logits(ids), (e) => {
      assert.ok(e instanceof PlmError, String(e));
      assert.equal(e.code, Status.TOO_LONG);
      return true;
    });
    const few = await gpt.logits([1, 2, 3]);
    assert.equal(few.length, 3 * 2 ** 20);
    assert.ok(few.every(Number.isFinite));
  } finally {
    gpt.dispose();
  }
});
