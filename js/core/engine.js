// engine.js — one instance of the plm core: a wasm instance, its memory, its
// thread pool, and the helpers every model class uses to call into it
// (strings in and out of wasm memory, scoped allocations, error checking).

import { makeImports, readBytes } from './imports.js';
import { chooseBuild, compileBuild, isThreaded, simdTwin } from './runtime.js';
import { platform } from './platform.js';
import { Status } from './abi.js';

const PAGE = 65536;
const INITIAL_PAGES = 256; // 16 MB, = -sINITIAL_MEMORY in CMakeLists.txt
const MAX_PAGES = [65536, 32768, 16384]; // 4 GB, or less where the engine cannot reserve that much
const WORKER_STACK = 1 << 20; // = -sTOTAL_STACK of the main thread

/** Status codes of plm.h (negative; PLM_OK = 0): see abi.js. */
export { Status };
/** Largest single allocation the engine asks for: below 4 GiB, so it never wraps a 32-bit size_t. */
const MAX_ALLOC = 2 ** 32 - 2 ** 16;

const STATUS_NAMES = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k]));

/** An error reported by the C core: message from plm_errmsg(), .code a negative Status value. */
export class PlmError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'PlmError';
    this.code = code;
    this.status = STATUS_NAMES[code] ?? 'UNKNOWN';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const created = []; // WeakRefs to the engines of this thread (Engine.latest)

export class Engine {
  /**
   * Instantiate the core. Options: threads (default: hardware concurrency;
   * 1 = single-thread build), build ('scalar' | 'simd' | 'simd-mt' | 'relaxed' | 'relaxed-mt'),
   * wasmBaseUrl (where plm*.wasm live; default: dist/ of this package).
   */
  static async create(options = {}) {
    let { build, threads, fallback } = chooseBuild(options);
    let module;
    try {
      module = await compileBuild(build, options.wasmBaseUrl);
    } catch (e) {
      // a chosen (not forced) relaxed build whose file is missing (built without clang-19): its SIMD twin
      if (options.build !== undefined || !simdTwin(build)) throw e;
      build = simdTwin(build);
      module = await compileBuild(build, options.wasmBaseUrl);
      fallback ??= `relaxed-SIMD build unavailable (${e.message})`;
    }
    let memory;
    if (isThreaded(build)) {
      let lastError;
      for (const maximum of MAX_PAGES) {
        try {
          memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum, shared: true });
          break;
        } catch (e) {
          lastError = e;
        }
      }
      if (!memory) throw new Error(`plm: cannot create shared wasm memory: ${lastError?.message}`);
    }
    const host = { memory, getMemory: () => memory, log: options.log, error: options.error };
    // asynchronous instantiation: browsers refuse large synchronous ones on the main thread
    const instance = await WebAssembly.instantiate(module, makeImports(module, host));
    memory ??= instance.exports.memory;
    const engine = new Engine(module, instance, memory, build);
    created.push(new WeakRef(engine));
    engine.threadsFallback = fallback;
    try {
      instance.exports._initialize?.();
      if (threads > 1) await engine.#startThreads(threads);
    } catch (e) {
      engine.dispose();
      throw e;
    }
    return engine;
  }

  #memory;
  #buffer = null;
  #u8 = null;
  #workers = [];
  #disposed = false;

  /** The most recently created engine of this thread that is not disposed, or null. */
  static latest() {
    for (let i = created.length - 1; i >= 0; i--) {
      const e = created[i].deref();
      if (e && !e.disposed) return e;
      created.splice(i, 1);
    }
    return null;
  }

  /** Use Engine.create(). */
  constructor(module, instance, memory, build) {
    this.module = module;
    this.instance = instance;
    /** Raw exports: the plm_* functions of src/plm.h. */
    this.fn = instance.exports;
    this.#memory = memory;
    this.build = build;
    this.threads = 1;
  }

  async #startThreads(n) {
    const stacks = [];
    for (let i = 1; i < n; i++) stacks.push(this.malloc(WORKER_STACK, 'a worker stack'));
    const started = await Promise.allSettled(
      stacks.map((stack, k) =>
        platform.startWorker({
          module: this.module,
          memory: this.#memory,
          stackTop: (stack + WORKER_STACK) & ~15,
          index: k + 1,
        }),
      ),
    );
    for (const r of started) if (r.status === 'fulfilled') this.#workers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    this.check(this.fn.plm_threads_init(n));
    this.threads = this.fn.plm_threads_get ? this.fn.plm_threads_get() : n;
  }

  /** WebAssembly.Memory of this instance (shared for the -mt builds). */
  get memory() {
    return this.#memory;
  }

  /** Uint8Array over the whole wasm memory, refreshed after memory growth. */
  get u8() {
    const buf = this.#memory.buffer;
    if (buf !== this.#buffer) {
      this.#buffer = buf;
      this.#u8 = new Uint8Array(buf);
    }
    return this.#u8;
  }

  /** A fresh view of `n` elements of `Type` at `ptr` (valid until the next call that may grow memory). */
  view(Type, ptr, n) {
    return new Type(this.#memory.buffer, ptr >>> 0, n);
  }

  get disposed() {
    return this.#disposed;
  }

  // ------------------------------------------------------------- errors

  /** The last error of the core as a PlmError (and clears it). */
  lastError(rc) {
    const msg = this.cstring(this.fn.plm_errmsg());
    const code = this.fn.plm_errcode() || rc || Status.INVALID;
    this.fn.plm_clear_error();
    return new PlmError(msg || `plm call failed (${STATUS_NAMES[code] ?? code})`, code);
  }

  /** Return rc if >= 0, otherwise throw the core's error. */
  check(rc) {
    if (rc < 0) throw this.lastError(rc);
    return rc;
  }

  /** Return the pointer (unsigned) if non-NULL, otherwise throw the core's error. */
  checkPtr(p) {
    p >>>= 0;
    if (p === 0) throw this.lastError(0);
    return p;
  }

  // ------------------------------------------------------------- memory

  malloc(n, what = 'a buffer') {
    // size_t is 32-bit in wasm: a byte count computed in JS (ids x vocabulary x 4, ...)
    // must be checked here, or the call would wrap it to a small buffer (issue 12)
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ALLOC) {
      throw new PlmError(
        `${what} needs ${n} bytes, more than wasm memory can address (4 GiB); pass fewer tokens or sequences`,
        Number.isSafeInteger(n) && n >= 0 ? Status.TOO_LONG : Status.INVALID,
      );
    }
    const p = this.fn.plm_alloc(n) >>> 0;
    if (p === 0) throw new PlmError(`out of wasm memory allocating ${n} bytes for ${what}`, Status.NOMEM);
    return p;
  }

  free(p) {
    if (p) this.fn.plm_dealloc(p);
  }

  /** Bytes allocated by the core (leak checks). */
  heapUsed() {
    return this.fn.plm_heap_used();
  }

  /** Bytes of wasm memory (grows, never shrinks). */
  memoryBytes() {
    return this.#memory.buffer.byteLength;
  }

  /** NUL-terminated UTF-8 string at ptr. */
  cstring(ptr) {
    ptr >>>= 0;
    if (!ptr) return '';
    const u8 = this.u8;
    const end = u8.indexOf(0, ptr);
    return this.decode(ptr, (end < 0 ? u8.length : end) - ptr);
  }

  /** UTF-8 bytes at ptr as a string (invalid sequences -> U+FFFD). */
  decode(ptr, len) {
    return decoder.decode(readBytes(this.#memory, ptr >>> 0, len));
  }

  bytes(ptr, len) {
    return readBytes(this.#memory, ptr >>> 0, len);
  }

  /**
   * Run fn(scope) and free everything allocated through the scope afterwards
   * (also when fn throws or its promise rejects).
   */
  scoped(fn) {
    const ptrs = [];
    const scope = {
      alloc: (n, what) => {
        const p = this.malloc(n, what);
        ptrs.push(p);
        return p;
      },
      /** UTF-8 copy of a string, NUL-terminated: { ptr, len } (len without the NUL). */
      string: (s) => {
        const bytes = encoder.encode(s);
        const p = scope.alloc(bytes.length + 1, 'a string');
        const u8 = this.u8;
        u8.set(bytes, p);
        u8[p + bytes.length] = 0;
        return { ptr: p, len: bytes.length };
      },
      /** Copy of an array of int32 values. */
      i32: (values) => {
        const p = scope.alloc(Math.max(1, values.length) * 4, 'token ids');
        this.view(Int32Array, p, values.length).set(values);
        return p;
      },
    };
    const release = () => {
      if (this.#disposed) return;
      for (const p of ptrs) this.fn.plm_dealloc(p);
      ptrs.length = 0;
    };
    let result;
    try {
      result = fn(scope);
    } catch (e) {
      release();
      throw e;
    }
    if (result && typeof result.then === 'function') return result.finally(release);
    release();
    return result;
  }

  /** Stop the worker threads and drop the instance. Objects created in it become invalid. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}
