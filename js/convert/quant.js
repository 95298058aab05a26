// Block quantization for the converter, done by the C core (src/quant.c compiled
// to WebAssembly, called through js/core's Engine): plm_quantize_rows and
// plm_dequantize_rows are ggml's reference quantizers bit for bit, so JS never
// re-implements them.
import '../core/platform-node.js';
import { Engine } from '../core/engine.js';
import { GGMLType, rowBytes, typeName } from './constants.js';

/** Types plm_quantize_rows can produce. */
export const QUANTIZABLE = new Set([GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q6_K]);

/** Floats per wasm call: bounds the wasm buffers (about 8 MB in, up to 8 MB out). */
const CALL_ELEMENTS = 2 << 20;

export class Quantizer {
  /**
   * @param {{ engine?: Engine, wasmBaseUrl?: string|URL }} [opts] an Engine to use
   *   (default: a new single-thread one, released by dispose())
   */
  static async create(opts = {}) {
    if (opts.engine) return new Quantizer(opts.engine, false);
    const engine = await Engine.create({ threads: 1, wasmBaseUrl: opts.wasmBaseUrl });
    return new Quantizer(engine, true);
  }

  constructor(engine, owned) {
    this.engine = engine;
    this.owned = owned;
    for (const f of ['plm_quantize_rows', 'plm_dequantize_rows']) {
      if (typeof engine.fn[f] !== 'function') throw new Error(`plm: the wasm build does not export ${f} (rebuild dist/)`);
    }
    this.src = { ptr: 0, size: 0 };
    this.mid = { ptr: 0, size: 0 };
    this.dst = { ptr: 0, size: 0 };
  }

  // Streaming interface without JS allocations: fill the input buffer (a view of
  // wasm memory), convert, and use the returned view of the output before the
  // next call into this Quantizer.

  /** Float32Array view of the input buffer, for n values. */
  input(n) {
    const p = this.#buffer(this.src, n * 4);
    return this.engine.view(Float32Array, p, n);
  }

  /** Uint8Array view of the input buffer, for n raw bytes (requantize). */
  rawInput(n) {
    const p = this.#buffer(this.src, n);
    return this.engine.view(Uint8Array, p, n);
  }

  /** Quantize the nrows x nPerRow floats of input() to `type`; returns a view of the result. */
  run(type, nrows, nPerRow) {
    if (!QUANTIZABLE.has(type)) throw new Error(`cannot quantize to ${typeName(type)}`);
    const n = nrows * nPerRow;
    if (this.src.size < n * 4) throw new Error('Quantizer.run: input() was not filled with enough values');
    if (type === GGMLType.F32) return this.engine.view(Uint8Array, this.src.ptr, n * 4);
    const rb = rowBytes(type, nPerRow);
    const dst = this.#buffer(this.dst, nrows * rb);
    this.#rows(nrows, nPerRow, (r0, k) => this.fn.plm_quantize_rows(type, this.src.ptr + r0 * nPerRow * 4, dst + r0 * rb, k, nPerRow));
    return this.engine.view(Uint8Array, dst, nrows * rb);
  }

  /** Convert the nrows rows of `from` in rawInput() to `to`; returns a view of the result. */
  requantize(from, to, nrows, nPerRow) {
    const rbIn = rowBytes(from, nPerRow);
    if (this.src.size < nrows * rbIn) throw new Error('Quantizer.requantize: rawInput() was not filled with enough bytes');
    const mid = this.#buffer(this.mid, nrows * nPerRow * 4);
    if (from === GGMLType.F32) new Uint8Array(this.engine.memory.buffer).copyWithin(mid, this.src.ptr, this.src.ptr + nrows * rbIn);
    else this.#rows(nrows, nPerRow, (r0, k) => this.fn.plm_dequantize_rows(from, this.src.ptr + r0 * rbIn, mid + r0 * nPerRow * 4, k, nPerRow));
    if (to === GGMLType.F32) return this.engine.view(Uint8Array, mid, nrows * nPerRow * 4);
    const rbOut = rowBytes(to, nPerRow);
    const dst = this.#buffer(this.dst, nrows * rbOut);
    this.#rows(nrows, nPerRow, (r0, k) => this.fn.plm_quantize_rows(to, mid + r0 * nPerRow * 4, dst + r0 * rbOut, k, nPerRow));
    return this.engine.view(Uint8Array, dst, nrows * rbOut);
  }

  get fn() {
    return this.engine.fn;
  }

  /** Call fn(row0, nrows) over row ranges small enough for one wasm call. */
  #rows(nrows, nPerRow, fn) {
    const step = Math.max(1, Math.floor(CALL_ELEMENTS / Math.max(1, nPerRow)));
    for (let r0 = 0; r0 < nrows; r0 += step) this.engine.check(fn(r0, Math.min(step, nrows - r0)));
  }

  #buffer(slot, size) {
    if (slot.size >= size) return slot.ptr;
    this.engine.free(slot.ptr);
    slot.ptr = 0;
    slot.size = 0;
    const cap = Math.max(size, 1 << 16);
    slot.ptr = this.engine.malloc(cap, 'quantization buffers');
    slot.size = cap;
    return slot.ptr;
  }

  /** Quantize nrows x nPerRow floats to `type`; returns a new Uint8Array. */
  quantize(type, f32, nrows, nPerRow) {
    if (!QUANTIZABLE.has(type)) throw new Error(`cannot quantize to ${typeName(type)}`);
    if (f32.length !== nrows * nPerRow) throw new Error(`quantize: ${f32.length} values given for ${nrows} x ${nPerRow}`);
    const rb = rowBytes(type, nPerRow);
    if (type === GGMLType.F32) return new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength).slice();
    const out = new Uint8Array(nrows * rb);
    const e = this.engine;
    const rowsPerCall = Math.max(1, Math.floor(CALL_ELEMENTS / Math.max(1, nPerRow)));
    for (let r0 = 0; r0 < nrows; r0 += rowsPerCall) {
      const n = Math.min(rowsPerCall, nrows - r0);
      const src = this.#buffer(this.src, n * nPerRow * 4);
      const dst = this.#buffer(this.dst, n * rb);
      e.view(Float32Array, src, n * nPerRow).set(f32.subarray(r0 * nPerRow, (r0 + n) * nPerRow));
      e.check(e.fn.plm_quantize_rows(type, src, dst, n, nPerRow));
      out.set(e.view(Uint8Array, dst, n * rb), r0 * rb);
    }
    return out;
  }

  /** Dequantize nrows rows of `type` into a new Float32Array. */
  dequantize(type, bytes, nrows, nPerRow) {
    const rb = rowBytes(type, nPerRow);
    if (bytes.length !== nrows * rb) throw new Error(`dequantize: ${bytes.length} bytes given for ${nrows} rows of ${typeName(type)}`);
    const out = new Float32Array(nrows * nPerRow);
    if (type === GGMLType.F32) {
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
    const e = this.engine;
    const rowsPerCall = Math.max(1, Math.floor(CALL_ELEMENTS / Math.max(1, nPerRow)));
    for (let r0 = 0; r0 < nrows; r0 += rowsPerCall) {
      const n = Math.min(rowsPerCall, nrows - r0);
      const src = this.#buffer(this.src, n * rb);
      const dst = this.#buffer(this.dst, n * nPerRow * 4);
      e.view(Uint8Array, src, n * rb).set(bytes.subarray(r0 * rb, (r0 + n) * rb));
      e.check(e.fn.plm_dequantize_rows(type, src, dst, n, nPerRow));
      out.set(e.view(Float32Array, dst, n * nPerRow), r0 * nPerRow);
    }
    return out;
  }

  /** Free the buffers (and the engine, if this quantizer created it). */
  dispose() {
    if (!this.engine.disposed) for (const b of [this.src, this.mid, this.dst]) this.engine.free(b.ptr);
    this.src = { ptr: 0, size: 0 };
    this.mid = { ptr: 0, size: 0 };
    this.dst = { ptr: 0, size: 0 };
    if (this.owned) this.engine.dispose();
  }
}
