// GPT on the gpt2 / llama fixtures: logits vs goldens for every file type, greedy
// continuations, KV-cache consistency through generate(), streaming text.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GPT, Engine } from 'plm-wasm';
import { GPT_FIXTURES, FILE_TYPES, fixture, ggufPath, readJSON, maxAbsDiff, top2, safeSteps, collect } from './helpers.mjs';

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine.dispose());

for (const f of GPT_FIXTURES) {
  const cases = readJSON(fixture(f.dir, 'cases.json'));
  for (const type of FILE_TYPES) {
    describe(`${f.name} ${type}`, () => {
      let gpt;
      before(async () => {
        gpt = await GPT.load(ggufPath(f, type), { engine });
      });
      after(() => gpt.dispose());

      test('info', () => {
        assert.equal(gpt.info.architecture, cases.architecture);
        assert.equal(gpt.vocabSize, cases.config.vocab_size);
        assert.equal(gpt.contextLength, cases.config.n_positions ?? cases.config.max_position_embeddings);
      });

      test(`logits within ${f.tol[type]} of the goldens`, async () => {
        for (const c of cases.cases.prefill) {
          const logits = await gpt.logits(c.input_ids);
          const want = c.logits[type].flat();
          assert.equal(logits.length, want.length);
          const err = maxAbsDiff(logits, want);
          assert.ok(err <= f.tol[type], `${c.input_ids.length} tokens: max |dlogit| ${err}`);
        }
      });

      test('greedy continuations match the goldens over the safe prefix', async () => {
        for (const g of cases.cases.greedy) {
          const safe = safeSteps(g, type, f.tol[type]);
          const run = await collect(gpt.generate(Int32Array.from(g.prompt_ids), { temperature: 0, maxTokens: g.n_new, ignoreEos: true }));
          assert.equal(run.tokens.length, g.n_new);
          assert.deepEqual(run.tokens.slice(0, safe), g.generated_ids[type].slice(0, safe), `prompt ${g.prompt_ids.slice(0, 5)}...`);
          for (const t of run.texts) assert.ok(t.isWellFormed(), 'yielded text is well-formed UTF-16');
          // <unk> decodes to sentencepiece's unk_surface, which a GGUF does not carry (as in test_models.c)
          const hasUnk = [...g.prompt_ids, ...g.generated_ids[type]].includes(gpt.info.tokenizer.unk);
          if (g.text && !hasUnk && safe === g.n_new) {
            // streamed text = continuation of the prompt: prompt text + concatenation = decode(all)
            assert.equal(gpt.detokenize(g.prompt_ids) + run.text, g.text[type]);
          }
          if (g.text && !hasUnk) assert.equal(gpt.detokenize([...g.prompt_ids, ...g.generated_ids[type]]), g.text[type]);
        }
      });

      test('KV-cache steps agree with one full pass (argmax of logits)', async () => {
        for (const kv of cases.cases.kv_cache) {
          const n = kv.step_ids.length + 2;
          const run = await collect(gpt.generate(Int32Array.from(kv.prefill_ids), { temperature: 0, maxTokens: n, ignoreEos: true }));
          const all = [...kv.prefill_ids, ...run.tokens];
          const logits = await gpt.logits(all);
          const V = gpt.vocabSize;
          for (let i = 0; i < run.tokens.length; i++) {
            const pos = kv.prefill_ids.length - 1 + i;
            const { id, margin } = top2(logits.subarray(pos * V, (pos + 1) * V));
            if (margin > 1e-3) assert.equal(run.tokens[i], id, `step ${i}`);
          }
        }
      });
    });
  }
}

describe('stories260K F32', () => {
  const f = GPT_FIXTURES.find((x) => x.name === 'stories260K');
  const cases = readJSON(fixture(f.dir, 'cases.json'));
  const fromBos = cases.cases.greedy.find((g) => g.prompt_ids.length === 1);
  let gpt;
  before(async () => {
    gpt = await GPT.load(ggufPath(f, 'F32'), { engine });
  });
  after(() => gpt.dispose());

  test('greedy text from BOS (256 tokens) equals the golden text', async () => {
    const r = await gpt.complete(Int32Array.of(1), { temperature: 0, maxTokens: 256, ignoreEos: true });
    assert.deepEqual(Array.from(r.tokens), fromBos.generated_ids.F32);
    assert.equal(r.text, fromBos.text.F32);
    assert.equal(r.finishReason, 'length');
    assert.equal(r.stats.promptTokens, 1);
    assert.equal(r.stats.generatedTokens, 256);
    assert.ok(r.stats.tokensPerSecond > 0 && r.stats.prefillMs >= 0);
  });

  test('string prompt: BOS added, continuation keeps its leading space', async () => {
    const g = cases.cases.greedy.find((x) => x.prompt_ids.length === 13);
    const prompt = cases.tokenizer_cases.find((t) => JSON.stringify(t.ids) === JSON.stringify(g.prompt_ids)).text;
    assert.deepEqual(Array.from(gpt.tokenize(prompt)), g.prompt_ids);
    const safe = safeSteps(g, 'F32', f.tol.F32);
    const r = await gpt.complete(prompt, { temperature: 0, maxTokens: safe });
    assert.deepEqual(Array.from(r.tokens), g.generated_ids.F32.slice(0, safe));
    assert.equal(prompt + r.text, gpt.detokenize([...g.prompt_ids, ...r.tokens]));
  });

  test('stop strings end the text before the stop string', async () => {
    const full = fromBos.text.F32; // 'dd came came camed In.o doon chffar warech\noryory...'
    const opts = { temperature: 0, maxTokens: 256, ignoreEos: true };
    for (const stop of ['came', '\n', 'oryoryoryory', 'd In', 'never appears in this text']) {
      const run = await collect(gpt.generate(Int32Array.of(1), { ...opts, stop }));
      const at = full.indexOf(stop);
      assert.equal(run.text, at >= 0 ? full.slice(0, at) : full, `stop ${JSON.stringify(stop)}`);
    }
    const r = await gpt.complete(Int32Array.of(1), { ...opts, stop: ['warech', 'doon'] });
    assert.equal(r.text, full.slice(0, full.indexOf('doon')));
    assert.equal(r.finishReason, 'stop');
    assert.equal(gpt.detokenize(r.tokens).startsWith(r.text), true);
  });

  test('maxTokens', async () => {
    const r = await gpt.complete(Int32Array.of(1), { temperature: 0, maxTokens: 5, ignoreEos: true });
    assert.equal(r.tokens.length, 5);
    assert.equal(r.finishReason, 'length');
    const z = await gpt.complete(Int32Array.of(1), { maxTokens: 0 });
    assert.equal(z.tokens.length, 0);
    assert.equal(z.text, '');
  });

  test('abort signal stops between tokens; the model stays usable', async () => {
    const ac = new AbortController();
    const seen = [];
    await assert.rejects(
      (async () => {
        for await (const { token } of gpt.generate(Int32Array.of(1), { temperature: 0, maxTokens: 200, ignoreEos: true, signal: ac.signal })) {
          seen.push(token);
          if (seen.length === 3) ac.abort();
        }
      })(),
      { name: 'AbortError' },
    );
    assert.equal(seen.length, 3);
    await assert.rejects(gpt.complete('x', { signal: AbortSignal.abort() }), { name: 'AbortError' });
    const r = await gpt.complete(Int32Array.of(1), { temperature: 0, maxTokens: 4, ignoreEos: true });
    assert.deepEqual(Array.from(r.tokens), fromBos.generated_ids.F32.slice(0, 4));
  });

  test('sampling is reproducible with a seed', async () => {
    const a = await gpt.complete('Once upon a time', { seed: 7, maxTokens: 24, temperature: 1 });
    const b = await gpt.complete('Once upon a time', { seed: 7, maxTokens: 24, temperature: 1 });
    assert.deepEqual(a.tokens, b.tokens);
    assert.equal(a.text, b.text);
  });

  test('concurrent calls run one after the other', async () => {
    const opts = { temperature: 0, maxTokens: 16, ignoreEos: true };
    const [a, b, l] = await Promise.all([gpt.complete(Int32Array.of(1), opts), gpt.complete(Int32Array.of(1), opts), gpt.logits([1, 2, 3])]);
    assert.deepEqual(a.tokens, b.tokens);
    assert.deepEqual(Array.from(a.tokens), fromBos.generated_ids.F32.slice(0, 16));
    assert.equal(l.length, 3 * gpt.vocabSize);
  });

  test('invalid options are rejected', async () => {
    await assert.rejects(gpt.complete('x', { temperature: -1 }), RangeError);
    await assert.rejects(gpt.complete('x', { topP: 2 }), RangeError);
    await assert.rejects(gpt.complete('x', { maxTokens: 1.5 }), RangeError);
    await assert.rejects(gpt.complete('x', { stop: [''] }), TypeError);
    await assert.rejects(gpt.complete('x', { truncate: 'end' }), RangeError);
    await assert.rejects(gpt.logits([]), RangeError);
  });
});

describe('context length', () => {
  const f = GPT_FIXTURES.find((x) => x.name === 'gpt2');
  let gpt;
  before(async () => {
    gpt = await GPT.load(ggufPath(f, 'F32'), { engine, contextLength: 16 });
  });
  after(() => gpt.dispose());

  test('contextLength option', () => {
    assert.equal(gpt.contextLength, 16);
  });

  test('a prompt longer than the context is an error from the core', async () => {
    const ids = Int32Array.from({ length: 20 }, (_, i) => 100 + i);
    await assert.rejects(gpt.complete(ids, { maxTokens: 4 }), (e) => {
      assert.equal(e.name, 'PlmError');
      assert.equal(e.status, 'TOO_LONG');
      assert.match(e.message, /context/i);
      return true;
    });
    await assert.rejects(gpt.logits(ids), { status: 'TOO_LONG' });
  });

  test("truncate: 'start' keeps the end of the prompt", async () => {
    const ids = Int32Array.from({ length: 20 }, (_, i) => 100 + i);
    const r = await gpt.complete(ids, { maxTokens: 4, temperature: 0, ignoreEos: true, truncate: 'start' });
    assert.equal(r.stats.promptTokens, 12);
    assert.equal(r.tokens.length, 4);
    const ref = await gpt.complete(ids.slice(8), { maxTokens: 4, temperature: 0, ignoreEos: true });
    assert.deepEqual(r.tokens, ref.tokens);
  });

  test('generation stops when the context is full', async () => {
    const r = await gpt.complete(Int32Array.from({ length: 10 }, (_, i) => 50 + i), { maxTokens: 100, temperature: 0, ignoreEos: true });
    assert.equal(r.finishReason, 'context');
    assert.equal(r.tokens.length, 16 - 10 + 1);
  });
});

// KV-cache prefix reuse: a model that reuses (a) against one that never does (b), same calls.
// Rows are computed in the same summation order whatever the batch, so the logits and hence
// the tokens (greedy, or sampled with the same seed) must be identical.
for (const f of GPT_FIXTURES) {
  for (const type of FILE_TYPES) {
    describe(`prefix reuse ${f.name} ${type}`, () => {
      let a, b;
      before(async () => {
        a = await GPT.load(ggufPath(f, type), { engine });
        b = await GPT.load(ggufPath(f, type), { engine });
      });
      after(() => {
        a.dispose();
        b.dispose();
      });
      const V = () => a.vocabSize;
      const ids = (n, seed) => Array.from({ length: n }, (_, i) => 3 + ((seed * 7919 + i * 104729) % (V() - 3)));
      /** Run the same call on both; check identical outputs and the expected number of reused tokens. */
      async function both(prompt, opts, cached) {
        const ra = await a.complete(Int32Array.from(prompt), opts);
        const rb = await b.complete(Int32Array.from(prompt), { ...opts, reusePrefix: false });
        assert.deepEqual(Array.from(ra.tokens), Array.from(rb.tokens), `prompt of ${prompt.length}, ${ra.stats.cachedTokens} reused`);
        assert.equal(ra.text, rb.text);
        assert.equal(ra.finishReason, rb.finishReason);
        assert.equal(rb.stats.cachedTokens, 0);
        if (cached !== undefined) assert.equal(ra.stats.cachedTokens, cached, 'cachedTokens');
        assert.equal(ra.stats.promptTokens, prompt.length);
        return ra;
      }

      for (const [mode, sampling] of [
        ['greedy', { temperature: 0 }],
        ['seeded sampling', { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 11 }],
      ]) {
        test(`multi-turn chat (${mode}): identical results, the conversation so far is reused`, async () => {
          const o = { ...sampling, maxTokens: 6, ignoreEos: true };
          let conv = ids(9, 1);
          let r = await both(conv, o);
          for (let turn = 2; turn <= 4; turn++) {
            // the next turn re-sends everything; decoded so far = conv + all generated tokens but the last (never decoded)
            const next = [...conv, ...r.tokens, ...ids(4, turn)];
            r = await both(next, { ...o, seed: sampling.seed === undefined ? undefined : sampling.seed + turn }, conv.length + r.tokens.length - 1);
            conv = next;
          }
        });
      }

      test('a prompt equal to the previous full sequence, a shorter one, one diverging at token 0', async () => {
        const o = { temperature: 0, maxTokens: 5, ignoreEos: true };
        const p = ids(7, 3);
        const r = await both(p, o);
        const full = [...p, ...r.tokens];
        await both(full, o, full.length - 1);
        await both(full.slice(0, 4), o, 3); // a prefix of the cache: the last prompt token is decoded again
        await both(full.slice(0, 4), o, 3);
        const other = [(full[0] + 1) % V(), ...full.slice(1)];
        await both(other, o, 0);
        await both([other[0]], o, 0); // one token: nothing can be reused (its logits are needed)
      });

      test('sampling with a repetition penalty over the whole prompt', async () => {
        const o = { temperature: 0.7, seed: 5, repetitionPenalty: 1.3, penaltyLastN: 0, maxTokens: 8, ignoreEos: true };
        const p = ids(6, 4);
        const r = await both(p, o);
        await both([...p, ...r.tokens, ...ids(2, 5)], o, p.length + r.tokens.length - 1);
      });

      test('an aborted generation followed by a new one', async () => {
        const o = { temperature: 0, maxTokens: 50, ignoreEos: true };
        const p = ids(8, 6);
        await both(p, { ...o, maxTokens: 2 });
        const ac = new AbortController();
        const seen = [];
        await assert.rejects(
          (async () => {
            for await (const { token } of a.generate(Int32Array.from(p), { ...o, signal: ac.signal })) {
              seen.push(token);
              if (seen.length === 4) ac.abort();
            }
          })(),
          { name: 'AbortError' },
        );
        // the abort comes between tokens: 3 of the 4 yielded tokens were decoded
        await both([...p, ...seen, ...ids(3, 7)], { ...o, maxTokens: 5 }, p.length + 3);
        // early break (return()) of the consumer
        for await (const _ of a.generate(Int32Array.from(p), o)) break;
        await both([...p, ...ids(2, 8)], { ...o, maxTokens: 5 }, p.length);
      });

      test('logits(), errors, reusePrefix: false and dispose-free invalidation', async () => {
        const o = { temperature: 0, maxTokens: 4, ignoreEos: true };
        const p = ids(6, 9);
        await both(p, o);
        await a.logits(p); // reuses the context: nothing is known afterwards
        await both(p, o, 0);
        await both(p, o, p.length - 1);
        await assert.rejects(a.complete(Int32Array.from([...p, V()]), o), { status: 'INVALID' }); // bad id: decode fails
        await both(p, o, 0);
        const r = await a.complete(Int32Array.from(p), { ...o, reusePrefix: false });
        assert.equal(r.stats.cachedTokens, 0);
        await both(p, o, p.length - 1); // the run without reuse still left a known cache
        await assert.rejects(a.complete(Int32Array.from(p), { ...o, reusePrefix: 1 }), TypeError);
        void a.ctxPtr; // low-level access: the cache may be changed behind the model's back
        await both(p, o, 0);
      });
    });
  }
}

describe('prefix reuse at the end of the context', () => {
  const f = GPT_FIXTURES.find((x) => x.name === 'stories260K');
  let a, b;
  before(async () => {
    a = await GPT.load(ggufPath(f, 'F32'), { engine, contextLength: 24 });
    b = await GPT.load(ggufPath(f, 'F32'), { engine, contextLength: 24 });
  });
  after(() => {
    a.dispose();
    b.dispose();
  });

  test("a full context, then truncate: 'start' of the grown conversation", async () => {
    const o = { temperature: 0, maxTokens: 100, ignoreEos: true };
    const p = [1, 400, 401, 402, 403, 404, 405, 406, 407, 408];
    const ra = await a.complete(p, o);
    const rb = await b.complete(p, { ...o, reusePrefix: false });
    assert.equal(ra.finishReason, 'context');
    assert.deepEqual(ra.tokens, rb.tokens);
    // the whole conversation no longer fits: the start is dropped (BOS kept), positions shift, nothing reusable past BOS
    const conv = [...p, ...ra.tokens, 410, 411];
    const ta = await a.complete(conv, { ...o, maxTokens: 4, truncate: 'start' });
    const tb = await b.complete(conv, { ...o, maxTokens: 4, truncate: 'start', reusePrefix: false });
    assert.deepEqual(ta.tokens, tb.tokens);
    assert.equal(ta.stats.promptTokens, 20);
    assert.equal(ta.stats.cachedTokens, 1);
    const again = await a.complete(conv, { ...o, maxTokens: 4, truncate: 'start' });
    assert.deepEqual(again.tokens, ta.tokens);
    assert.equal(again.stats.cachedTokens, 19);
  });
});
