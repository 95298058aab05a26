// Engine: instantiation of the three builds, memory helpers, scoped allocation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, detectFeatures, chooseBuild } from 'plm-wasm';

test('feature detection finds SIMD and threads in Node', () => {
  const f = detectFeatures();
  assert.equal(f.simd, true);
  assert.equal(f.threads, true);
  assert.ok(f.hardwareConcurrency >= 1);
});

test('build choice', () => {
  const base = detectFeatures().relaxedSimd ? 'relaxed' : 'simd'; // Node 20: --experimental-wasm-relaxed-simd
  assert.deepEqual(chooseBuild({ threads: 1 }), { build: base, threads: 1, fallback: null });
  assert.deepEqual(chooseBuild({ threads: 3 }), { build: `${base}-mt`, threads: 3, fallback: null });
  assert.deepEqual(chooseBuild({ build: 'scalar' }), { build: 'scalar', threads: 1, fallback: null });
  assert.throws(() => chooseBuild({ threads: 0 }), RangeError);
  assert.throws(() => chooseBuild({ build: 'simd', threads: 2 }), /single-threaded/);
  assert.throws(() => chooseBuild({ build: 'avx' }), RangeError);
});

for (const build of ['scalar', 'simd', 'simd-mt']) {
  test(`${build}: instantiates, strings round-trip, scoped allocations are freed`, async () => {
    const e = await Engine.create({ build, threads: 1 });
    try {
      assert.equal(e.build, build);
      const base = e.heapUsed();
      const text = 'héllo wörld ✓ 😀';
      const back = e.scoped((s) => {
        const { ptr, len } = s.string(text);
        assert.equal(len, new TextEncoder().encode(text).length);
        assert.ok(e.heapUsed() > base);
        return e.cstring(ptr);
      });
      assert.equal(back, text);
      assert.equal(e.heapUsed(), base);
      assert.throws(() => e.scoped((s) => { s.alloc(100); throw new Error('boom'); }), /boom/);
      assert.equal(e.heapUsed(), base);
      await e.scoped(async (s) => { s.i32([1, 2, 3]); });
      assert.equal(e.heapUsed(), base);
      if (e.fn.plm_build_features) {
        const feats = e.fn.plm_build_features();
        assert.equal((feats & 1) !== 0, build !== 'scalar');
        assert.equal((feats & 2) !== 0, build === 'simd-mt');
      }
    } finally {
      e.dispose();
    }
  });
}

test('memory growth refreshes views', async () => {
  const e = await Engine.create({ build: 'simd', threads: 1 });
  try {
    const before = e.memoryBytes();
    const p = e.malloc(64 << 20, 'test');
    assert.ok(e.memoryBytes() > before);
    e.u8[p + (64 << 20) - 1] = 7;
    assert.equal(e.u8[p + (64 << 20) - 1], 7);
    e.free(p);
  } finally {
    e.dispose();
  }
});
