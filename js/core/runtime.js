// runtime.js — feature detection, build choice and the compiled-module cache.

import { platform } from './platform.js';

// (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
// a shared memory + (func i32.const 0 i32.atomic.load drop)
const THREADS_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0,
  26, 11,
]);

// (func (result v128) i32.const 0 i8x16.splat (x3) i32x4.relaxed_dot_i8x16_i7x16_add_s)
export const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65,
  0, 253, 15, 253, 147, 2, 11,
]);

export const BUILDS = ['scalar', 'simd', 'simd-mt', 'relaxed', 'relaxed-mt'];
const MT_BUILDS = ['simd-mt', 'relaxed-mt'];

let cachedFeatures = null;

/**
 * What this engine can run: { simd, relaxedSimd, threads, hardwareConcurrency }.
 * relaxedSimd: Chromium >= 114, Firefox >= 120, Node >= 22; Node 20 with --experimental-wasm-relaxed-simd.
 */
export function detectFeatures() {
  if (!cachedFeatures) {
    const simd = WebAssembly.validate(SIMD_PROBE);
    const relaxedSimd = simd && WebAssembly.validate(RELAXED_PROBE);
    let threads = false;
    try {
      threads = platform.threadsAvailable() && WebAssembly.validate(THREADS_PROBE);
    } catch {
      threads = false;
    }
    cachedFeatures = { simd, relaxedSimd, threads, hardwareConcurrency: Math.max(1, platform.hardwareConcurrency() | 0) };
  }
  return cachedFeatures;
}

/**
 * Pick the wasm build and thread count: relaxed SIMD > SIMD > scalar, the -mt twin for threads > 1.
 * threads: default = hardware concurrency; 1 = a single-thread build.
 * build:   force 'scalar' | 'simd' | 'simd-mt' | 'relaxed' | 'relaxed-mt' (tests, benchmarks).
 */
export function chooseBuild({ threads, build } = {}) {
  const f = detectFeatures();
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256))
    throw new RangeError(`threads must be an integer in 1..256 (got ${threads})`);
  if (build !== undefined) {
    if (!BUILDS.includes(build)) throw new RangeError(`build must be one of ${BUILDS.join(', ')} (got ${build})`);
    const mt = MT_BUILDS.includes(build);
    if (build !== 'scalar' && !f.simd) throw new Error(`the ${build} build needs WebAssembly SIMD, which this engine lacks`);
    if (build.startsWith('relaxed') && !f.relaxedSimd)
      throw new Error(
        `the ${build} build needs WebAssembly relaxed SIMD, which this engine lacks (Node 20: run node --experimental-wasm-relaxed-simd)`,
      );
    if (mt && !f.threads)
      throw new Error(`the ${build} build needs shared-memory threads (in browsers: a cross-origin isolated page)`);
    const n = mt ? (threads ?? f.hardwareConcurrency) : 1;
    if (!mt && threads > 1) throw new Error(`the ${build} build is single-threaded (threads: ${threads})`);
    return { build, threads: n, fallback: null };
  }
  const want = threads ?? f.hardwareConcurrency;
  if (!f.simd) return { build: 'scalar', threads: 1, fallback: want > 1 ? 'no WebAssembly SIMD' : null };
  const base = f.relaxedSimd ? 'relaxed' : 'simd';
  if (want > 1 && f.threads) return { build: `${base}-mt`, threads: want, fallback: null };
  return {
    build: base,
    threads: 1,
    fallback: want > 1 ? 'shared-memory threads unavailable (browsers need a cross-origin isolated page)' : null,
  };
}

/** The plain-SIMD twin of a relaxed build (used when its .wasm file is missing). */
export function simdTwin(build) {
  return build.startsWith('relaxed') ? build.replace('relaxed', 'simd') : null;
}

/** Whether a build runs on shared memory with a thread pool. */
export function isThreaded(build) {
  return MT_BUILDS.includes(build);
}

const modules = new Map();

/** The compiled WebAssembly.Module of a build (compiled once per process / page). */
export function compileBuild(build, wasmBaseUrl) {
  const url = platform.wasmUrl(build, wasmBaseUrl);
  const key = String(url);
  let p = modules.get(key);
  if (!p) {
    p = platform.compileWasm(url);
    modules.set(key, p);
    p.catch(() => modules.delete(key));
  }
  return p;
}
