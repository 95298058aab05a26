// Block quantization for the converter, done by the C core (src/quant.c compiled
// to WebAssembly): plm_quantize_rows / plm_dequantize_rows are ggml's reference
// quantizers bit for bit, so JS never re-implements them.
//
// TEMPORARY: the module is instantiated directly from dist/ here until the js/core
// runtime (Engine) is on main; then this file will take an Engine instead.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GGMLType, rowBytes, typeName } from './constants.js';

const DIST = new URL('../../dist/', import.meta.url);

/** Types plm_quantize_rows can produce. */
export const QUANTIZABLE = new Set([GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q6_K]);

function minimalImports(module, getMemory) {
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') continue;
    imports[imp.module] ??= {};
    let fn;
    if (imp.name === 'emscripten_notify_memory_growth') fn = () => {};
    else if (imp.name === 'fd_write') {
      // printf from the core: discard, report the bytes as written
      fn = (fd, iovs, n, nwritten) => {
        const dv = new DataView(getMemory().buffer);
        let total = 0;
        for (let i = 0; i < n; i++) total += dv.getUint32(iovs + i * 8 + 4, true);
        dv.setUint32(nwritten, total, true);
        return 0;
      };
    } else fn = () => { throw new Error(`plm wasm import ${imp.module}.${imp.name} is not available`); };
    imports[imp.module][imp.name] = fn;
  }
  return imports;
}

export class Quantizer {
  /**
   * @param {{ wasmPath?: string }} [opts] path of a plm*.wasm build (default: dist/plm-simd.wasm, else dist/plm.wasm)
   */
  static async create(opts = {}) {
    let file = opts.wasmPath ?? process.env.PLM_WASM;
    if (!file) {
      const candidates = ['plm-simd.wasm', 'plm.wasm'].map((n) => fileURLToPath(new URL(n, DIST)));
      file = candidates.find((f) => fs.existsSync(f));
      if (!file) throw new Error(`plm: no WebAssembly build found (looked for ${candidates.join(', ')}); run the wasm build first`);
    }
    let module;
    try {
      module = await WebAssembly.compile(await fs.promises.readFile(file));
    } catch (e) {
      throw new Error(`plm: cannot load ${file}: ${e.message}`);
    }
    return new Quantizer(module, file);
  }

  constructor(module, file) {
    this.file = file;
    let memory = null;
    const instance = new WebAssembly.Instance(module, minimalImports(module, () => memory));
    this.fn = instance.exports;
    memory = this.fn.memory;
    this.memory = memory;
    this.fn._initialize?.();
    for (const f of ['plm_quantize_rows', 'plm_dequantize_rows', 'plm_alloc', 'plm_dealloc', 'plm_errmsg']) {
      if (typeof this.fn[f] !== 'function') throw new Error(`plm: ${file} does not export ${f} (rebuild the wasm modules)`);
    }
    this.src = { ptr: 0, size: 0 };
    this.dst = { ptr: 0, size: 0 };
  }

  #buffer(slot, size) {
    if (slot.size >= size) return slot.ptr;
    if (slot.ptr) this.fn.plm_dealloc(slot.ptr);
    slot.ptr = 0;
    slot.size = 0;
    const cap = Math.max(size, 1 << 16);
    const p = this.fn.plm_alloc(cap) >>> 0;
    if (!p) throw new Error(`plm: out of wasm memory allocating ${cap} bytes for quantization`);
    slot.ptr = p;
    slot.size = cap;
    return p;
  }

  #error(rc, what) {
    const p = this.fn.plm_errmsg() >>> 0;
    const u8 = new Uint8Array(this.memory.buffer);
    let end = p;
    while (end < u8.length && u8[end] !== 0) end++;
    const msg = new TextDecoder().decode(u8.slice(p, end));
    this.fn.plm_clear_error?.();
    return new Error(`${what}: ${msg || `plm error ${rc}`}`);
  }

  /** Quantize nrows x nPerRow floats to `type`; returns a new Uint8Array. */
  quantize(type, f32, nrows, nPerRow) {
    if (!QUANTIZABLE.has(type)) throw new Error(`cannot quantize to ${typeName(type)}`);
    if (f32.length !== nrows * nPerRow) throw new Error(`quantize: ${f32.length} values given for ${nrows} x ${nPerRow}`);
    const outBytes = nrows * rowBytes(type, nPerRow);
    if (type === GGMLType.F32) return new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength).slice();
    const out = new Uint8Array(outBytes);
    if (nrows === 0) return out;
    // chunk so the wasm buffers stay small (about 8 MB of floats per call)
    const rowsPerCall = Math.max(1, Math.floor((8 << 20) / (nPerRow * 4)));
    const rb = outBytes / nrows;
    for (let r0 = 0; r0 < nrows; r0 += rowsPerCall) {
      const n = Math.min(rowsPerCall, nrows - r0);
      const src = this.#buffer(this.src, n * nPerRow * 4);
      const dst = this.#buffer(this.dst, n * rb);
      new Float32Array(this.memory.buffer, src, n * nPerRow).set(f32.subarray(r0 * nPerRow, (r0 + n) * nPerRow));
      const rc = this.fn.plm_quantize_rows(type, src, dst, n, nPerRow);
      if (rc < 0) throw this.#error(rc, `quantize to ${typeName(type)}`);
      out.set(new Uint8Array(this.memory.buffer, dst, n * rb), r0 * rb);
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
    const rowsPerCall = Math.max(1, Math.floor((8 << 20) / (nPerRow * 4)));
    for (let r0 = 0; r0 < nrows; r0 += rowsPerCall) {
      const n = Math.min(rowsPerCall, nrows - r0);
      const src = this.#buffer(this.src, n * rb);
      const dst = this.#buffer(this.dst, n * nPerRow * 4);
      new Uint8Array(this.memory.buffer, src, n * rb).set(bytes.subarray(r0 * rb, (r0 + n) * rb));
      const rc = this.fn.plm_dequantize_rows(type, src, dst, n, nPerRow);
      if (rc < 0) throw this.#error(rc, `dequantize ${typeName(type)}`);
      out.set(new Float32Array(this.memory.buffer, dst, n * nPerRow), r0 * nPerRow);
    }
    return out;
  }

  dispose() {
    if (this.src.ptr) this.fn.plm_dealloc(this.src.ptr);
    if (this.dst.ptr) this.fn.plm_dealloc(this.dst.ptr);
    this.src = { ptr: 0, size: 0 };
    this.dst = { ptr: 0, size: 0 };
  }
}
