// The relaxed-SIMD builds (dist/plm-relaxed.wasm, dist/plm-relaxed-mt.wasm; cmake/relaxed.cmake):
// the same ABI as the SIMD builds, chosen first where the engine has relaxed SIMD, and the same
// numbers as the SIMD builds bit for bit (relaxed kernels are exact integer twins).
// Node 20 needs `node --experimental-wasm-relaxed-simd` (npm test passes it); without it these
// tests are skipped, unless PLM_REQUIRE_RELAXED=1 (npm test), which makes them fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BERT, T5, Engine, detectFeatures, chooseBuild } from 'plm-wasm';
import { ROOT, fixture, readJSON } from './helpers.mjs';
import { join } from 'node:path';

const relaxed = detectFeatures().relaxedSimd;
const why = 'this engine has no relaxed SIMD (Node 20: node --experimental-wasm-relaxed-simd --test ...)';
if (!relaxed && process.env.PLM_REQUIRE_RELAXED === '1') test('relaxed SIMD is available', () => assert.fail(why));
const opts = relaxed ? {} : { skip: why };

const sameBits = (a, b) =>
  a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

function abi(file) {
  const m = new WebAssembly.Module(readFileSync(join(ROOT, 'dist', file)));
  const sig = (list) => list.map((x) => `${x.module ? `${x.module}.` : ''}${x.name}:${x.kind}`).sort();
  return { imports: sig(WebAssembly.Module.imports(m)), exports: sig(WebAssembly.Module.exports(m)) };
}

test('plm-relaxed(-mt).wasm have the imports and exports of plm-simd(-mt).wasm', opts, () => {
  assert.deepEqual(abi('plm-relaxed.wasm'), abi('plm-simd.wasm'));
  assert.deepEqual(abi('plm-relaxed-mt.wasm'), abi('plm-simd-mt.wasm'));
});

test('build choice prefers relaxed SIMD; every build can still be forced', opts, () => {
  assert.deepEqual(chooseBuild({ threads: 1 }), { build: 'relaxed', threads: 1, fallback: null });
  assert.deepEqual(chooseBuild({ threads: 3 }), { build: 'relaxed-mt', threads: 3, fallback: null });
  assert.deepEqual(chooseBuild({ build: 'simd-mt', threads: 2 }), { build: 'simd-mt', threads: 2, fallback: null });
  assert.throws(() => chooseBuild({ build: 'relaxed', threads: 2 }), /single-threaded/);
});

for (const [build, threads] of [['relaxed', 1], ['relaxed-mt', 2]]) {
  test(`${build}: the module was compiled with relaxed SIMD and runs ${threads} thread(s)`, opts, async () => {
    const e = await Engine.create({ build, threads });
    try {
      assert.equal(e.build, build);
      assert.equal(e.threads, threads);
      // 1 SIMD, 2 threads, 4 relaxed SIMD (src/plm.h)
      assert.equal(e.fn.plm_build_features(), threads > 1 ? 7 : 5);
    } finally {
      e.dispose();
    }
  });
}

const BUILDS = [
  { build: 'simd', threads: 1 },
  { build: 'relaxed', threads: 1 },
  { build: 'relaxed-mt', threads: 2 },
];

test('BERT embeddings are bit-identical on the SIMD and relaxed builds', opts, async () => {
  const texts = readJSON(fixture('bert', 'cases.json')).padded_batch.texts;
  for (const file of ['tiny-bert-random-f32.gguf', 'tiny-bert-random-q80.gguf']) {
    const results = [];
    for (const b of BUILDS) {
      const bert = await BERT.load(fixture('bert', file), b);
      try {
        assert.equal(bert.runtime.build, b.build);
        results.push(await bert.embed(texts));
      } finally {
        bert.dispose();
      }
    }
    for (const [k, r] of results.slice(1).entries())
      r.forEach((v, i) => assert.ok(sameBits(v, results[0][i]), `${file} ${BUILDS[k + 1].build} text ${i}`));
  }
});

test('T5 logits, greedy and beam outputs are bit-identical on the SIMD and relaxed builds', opts, async () => {
  const c = readJSON(fixture('t5', 'v1_1', 'cases.json')).cases[3];
  for (const file of ['tiny-t5-v1.1-random-f32.gguf', 'tiny-t5-v1.1-random-q80.gguf']) {
    const results = [];
    for (const b of BUILDS) {
      const t5 = await T5.load(fixture('t5', 'v1_1', file), b);
      try {
        const logits = await t5.logits(c.input_ids, c.decoder_input_ids);
        const greedy = await t5.complete(c.input_text, { maxTokens: 12 });
        const beams = await t5.complete(c.input_text, { maxTokens: 8, numBeams: 3 });
        results.push({ logits, greedy: Array.from(greedy.tokens), beams: Array.from(beams.tokens), score: beams.score });
      } finally {
        t5.dispose();
      }
    }
    for (const r of results.slice(1)) {
      assert.ok(sameBits(r.logits, results[0].logits), `${file} logits`);
      assert.deepEqual(r.greedy, results[0].greedy);
      assert.deepEqual(r.beams, results[0].beams);
      assert.equal(r.score, results[0].score);
    }
  }
});

test('a missing relaxed file: the chosen build falls back to its SIMD twin and says why; a forced one fails', opts, async () => {
  const { mkdtempSync, copyFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { pathToFileURL } = await import('node:url');
  const dir = mkdtempSync(join(tmpdir(), 'plm-dist-'));
  try {
    for (const f of ['plm-simd.wasm', 'plm-simd-mt.wasm']) copyFileSync(join(ROOT, 'dist', f), join(dir, f));
    const wasmBaseUrl = pathToFileURL(dir + '/');
    const e = await Engine.create({ threads: 1, wasmBaseUrl });
    try {
      assert.equal(e.build, 'simd');
      assert.match(e.threadsFallback, /relaxed-SIMD build unavailable.*plm-relaxed\.wasm/);
    } finally {
      e.dispose();
    }
    await assert.rejects(Engine.create({ build: 'relaxed', wasmBaseUrl }), /plm-relaxed\.wasm/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
