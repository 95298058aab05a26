// The wasm builds (scalar, SIMD, SIMD + 2 threads) agree: same greedy tokens, logits within
// float32 rounding of each other; the relaxed-SIMD builds (where the engine has relaxed SIMD:
// Node 20 needs --experimental-wasm-relaxed-simd) give the SIMD build's results bit for bit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GPT, Engine, detectFeatures } from 'plm-wasm';
import { GPT_FIXTURES, ggufPath, maxAbsDiff } from './helpers.mjs';

const BUILDS = [
  { build: 'scalar', threads: 1 },
  { build: 'simd', threads: 1 },
  { build: 'simd-mt', threads: 2 },
];
const RELAXED = detectFeatures().relaxedSimd ? ['relaxed', 'relaxed-mt'] : [];
BUILDS.push(...RELAXED.map((build) => ({ build, threads: build.endsWith('-mt') ? 2 : 1 })));
const engines = {};
before(async () => {
  for (const b of BUILDS) engines[b.build] = await Engine.create(b);
});
after(() => Object.values(engines).forEach((e) => e.dispose()));

test('the simd-mt engine runs 2 threads', () => {
  assert.equal(engines['simd-mt'].threads, 2);
  assert.equal(engines['simd-mt'].fn.plm_build_features() & 3, 3);
});

for (const f of GPT_FIXTURES) {
  for (const type of ['F32', 'Q8_0', 'Q4_0']) {
    test(`${f.name} ${type}: same greedy tokens and logits in every build`, async () => {
      const results = {};
      for (const b of BUILDS) {
        const gpt = await GPT.load(ggufPath(f, type), { engine: engines[b.build] });
        try {
          const prompt = f.name === 'gpt2' ? 'The little town' : 'Once upon a time';
          const r = await gpt.complete(prompt, { temperature: 0, maxTokens: 48, ignoreEos: true });
          const logits = await gpt.logits([...gpt.tokenize(prompt), ...r.tokens]);
          results[b.build] = { tokens: Array.from(r.tokens), text: r.text, logits };
        } finally {
          gpt.dispose();
        }
      }
      const ref = results.scalar;
      for (const b of ['simd', 'simd-mt']) {
        assert.deepEqual(results[b].tokens, ref.tokens, `${b} vs scalar`);
        assert.equal(results[b].text, ref.text);
        const err = maxAbsDiff(results[b].logits, ref.logits);
        assert.ok(err <= (type === 'F32' ? 1e-4 : 1e-3), `${b} vs scalar logits: ${err}`);
      }
      for (const b of RELAXED) {
        assert.deepEqual(results[b].tokens, results.simd.tokens, `${b} vs simd`);
        assert.ok(results[b].logits.every((v, i) => Object.is(v, results.simd.logits[i])), `${b} vs simd logits: not bit-identical`);
      }
    });
  }
}

test('threads: default = hardware concurrency', async () => {
  const gpt = await GPT.load(ggufPath(GPT_FIXTURES[0], 'F32'));
  try {
    const { availableParallelism } = await import('node:os');
    const n = availableParallelism();
    const base = detectFeatures().relaxedSimd ? 'relaxed' : 'simd';
    assert.equal(gpt.engine.build, n > 1 ? `${base}-mt` : base);
    assert.equal(gpt.engine.threads, n);
  } finally {
    gpt.dispose();
  }
});
