// relaxed.js — imported first by the CLI and the benchmarks: on Node 20 (V8 11.3) relaxed SIMD is
// behind --experimental-wasm-relaxed-simd (on by default from Node 22 / V8 11.4). V8 reads the
// flag when it validates a module, so setting it before the first wasm compile lets these
// programs run the relaxed-SIMD build like a browser does. The library itself never changes V8
// flags: embedders start Node with the flag (or run Node >= 22).
import { setFlagsFromString } from 'node:v8';
import { RELAXED_PROBE } from '../core/runtime.js';

if (!WebAssembly.validate(RELAXED_PROBE)) {
  setFlagsFromString('--experimental-wasm-relaxed-simd');
}
