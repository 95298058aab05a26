// GPT.complete / generate with numBeams (beam search in src/beam.c, the scorer T5 uses and
// tests/js/t5.test.mjs checks against transformers): the returned score is the sequence's
// summed log-softmax probability (recomputed here from gpt.logits() over prompt + output, in
// float64) / length^lengthPenalty; the streamed text equals complete()'s; prefix reuse and
// later sampling are unaffected.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GPT, Engine } from 'plm-wasm';
import { fixture, collect } from './helpers.mjs';

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine.dispose());

function logSoftmaxAt(row, id) {
  let mx = -Infinity;
  for (const v of row) mx = Math.max(mx, v);
  let z = 0;
  for (const v of row) z += Math.exp(v - mx);
  return row[id] - mx - Math.log(z);
}

for (const [name, file] of [
  ['tiny-random-gqa', fixture('llama', 'tiny-random-gqa', 'llama-tiny-gqa-F32.gguf')],
  ['gemma2', fixture('archs', 'gemma2', 'gemma2-tiny-random-F32.gguf')],
]) {
  test(`${name}: beam search scores, streaming, cache`, async () => {
    const gpt = await GPT.load(file, { engine });
    try {
      const V = gpt.vocabSize;
      const prompt = Int32Array.from([2, 17, 42, 99, 7, 3]);
      for (const [numBeams, lengthPenalty, earlyStopping] of [[2, 1.0, false], [4, 0.5, true], [3, 1.5, 'never']]) {
        const r = await gpt.complete(prompt, { numBeams, lengthPenalty, earlyStopping, maxTokens: 10 });
        assert.ok(r.tokens.length >= 1 && r.tokens.length <= 10);
        const withEos = r.finishReason === 'eos' ? [...r.tokens, gpt.info.tokenizer.eos] : [...r.tokens];
        const all = [...prompt, ...withEos];
        const lg = await gpt.logits(all);
        let sum = 0;
        for (let i = 0; i < withEos.length; i++) sum += logSoftmaxAt(lg.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V), withEos[i]);
        const want = sum / Math.pow(withEos.length, lengthPenalty);
        assert.ok(Math.abs(r.score - want) <= 1e-4 * (1 + Math.abs(want)), `${numBeams} beams: score ${r.score}, recomputed ${want}`);
        const streamed = await collect(gpt.generate(prompt, { numBeams, lengthPenalty, earlyStopping, maxTokens: 10 }));
        assert.deepEqual(streamed.tokens, [...r.tokens]);
        assert.equal(streamed.text, r.text);
      }
      // greedy after a beam search = greedy from scratch (the cache mirror stayed right)
      const g1 = await gpt.complete(prompt, { temperature: 0, maxTokens: 8 });
      const g2 = await gpt.complete(prompt, { temperature: 0, maxTokens: 8, reusePrefix: false });
      assert.deepEqual([...g1.tokens], [...g2.tokens]);
      await assert.rejects(gpt.complete(prompt, { numBeams: 0 }), RangeError);
      await assert.rejects(gpt.complete(prompt, { numBeams: 2, earlyStopping: 'x' }), RangeError);
    } finally {
      gpt.dispose();
    }
  });
}
