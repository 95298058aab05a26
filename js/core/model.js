// model.js — what every model class shares: loading a plm_model into an
// engine (its own, or one passed in), metadata, tokenization, and disposal.
// GPT (gpt.js), Tokenizer (tokenizer.js) and the encoder classes build on it.

import { Engine } from './engine.js';
import { DECODE_SKIP_SPECIAL, DECODE_STRIP_LEADING } from './abi.js';
import { loadModel, LOAD_VOCAB_ONLY } from './load.js';
import { loadRemote, useWorker } from './remote.js';

export { DECODE_SKIP_SPECIAL, DECODE_STRIP_LEADING };

/** FIFO lock: one operation on a model's context at a time, later calls wait their turn. */
export class Lock {
  #tail = Promise.resolve();
  #held = 0;
  get held() {
    return this.#held > 0;
  }
  acquire() {
    let release;
    const next = new Promise((r) => (release = r));
    const ready = this.#tail.then(() => {
      this.#held++;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        this.#held--;
        release();
      };
    });
    this.#tail = next;
    return ready;
  }
}

function toIds(ids, what = 'ids') {
  if (ids instanceof Int32Array) return ids;
  if (Array.isArray(ids) || ArrayBuffer.isView(ids)) {
    const out = Int32Array.from(ids);
    for (let i = 0; i < out.length; i++)
      if (out[i] !== Number(ids[i])) throw new TypeError(`${what}[${i}] is not a 32-bit integer: ${ids[i]}`);
    return out;
  }
  throw new TypeError(`${what} must be an Int32Array or an array of integers`);
}
export { toIds };

export class ModelBase {
  /**
   * The worker contract. In worker mode (the default on a web page's main thread; see
   * core/remote.js) the model lives in a worker and load() returns a proxy: its async
   * methods and async generators are forwarded to the worker, getters answer from a
   * snapshot of the worker-side model's plain-data properties, and the synchronous
   * methods named in `static local` run on the page, on a vocab-only copy of the
   * model (tokenizer and metadata, no weights). A subclass lists its own page-side
   * synchronous methods in its own `static local` (added to its parents'). A method
   * that needs the weights must be async: an undeclared synchronous method throws in
   * worker mode, and tests/js/worker_contract.test.mjs fails on it.
   */
  static local = ['tokenize', 'detokenize', 'tokenBytes', 'isEog', 'metadata', 'assertLive', 'freeResources', 'dispose'];

  /**
   * Load a model into an engine. options: engine (share an existing Engine),
   * threads, build, wasmBaseUrl (engine creation), onProgress, signal.
   * Returns { engine, ownsEngine, ptr }.
   */
  static async open(source, options = {}, flags = 0) {
    const ownsEngine = !options.engine;
    const engine = options.engine ?? (await Engine.create(options));
    try {
      const ptr = await loadModel(engine, source, { ...options, flags });
      return { engine, ownsEngine, ptr };
    } catch (e) {
      if (ownsEngine) engine.dispose();
      throw e;
    }
  }

  static VOCAB_ONLY = LOAD_VOCAB_ONLY;

  /**
   * Worker mode (remote.js): whether `options` ask for the model to run in a worker
   * (default: yes on a web page's main thread, no in Node and inside workers).
   * (ModelBase.create, which every model class's load() calls, checks it.)
   */
  static useWorker(options) {
    return useWorker(options);
  }

  static loadRemote(Cls, source, options, loadHere) {
    return loadRemote(Cls, source, options, loadHere);
  }

  /**
   * The load() of a model class: in a worker when `options` ask for it (worker mode),
   * otherwise open the file here, construct Cls and run `init(model)` (the class's own
   * setup: contexts, buffers); a failing init disposes the model and rethrows.
   *   static load(source, options = {}) { return ModelBase.create(GPT, source, options, (m) => m.#init(options)); }
   */
  static async create(Cls, source, options, init) {
    if (useWorker(options)) return loadRemote(Cls, source, options, () => Cls.load(source, { ...options, worker: false }));
    const model = new Cls(await ModelBase.open(source, options, 0));
    try {
      init(model);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  }

  #info = null;
  #disposed = false;
  #scratch = 0;
  #scratchCap = 0;

  constructor({ engine, ownsEngine, ptr }) {
    /** The Engine this model lives in. */
    this.engine = engine;
    this.ptr = ptr;
    this.ownsEngine = ownsEngine;
  }

  get disposed() {
    return this.#disposed;
  }

  /** Where the model runs: { worker, build ('scalar' | 'simd' | 'simd-mt' | 'relaxed' | 'relaxed-mt'), threads, fallback (why fewer threads or no relaxed SIMD, or null) }. */
  get runtime() {
    const e = this.engine;
    return { worker: false, build: e.build, threads: e.threads, fallback: e.threadsFallback ?? null };
  }

  assertLive() {
    if (this.#disposed) throw new Error(`${this.constructor.name} has been disposed`);
  }

  /** Model description from plm_model_info (architecture, contextLength, vocabSize, nParams, fileType, tokenizer, ...). */
  get info() {
    this.assertLive();
    if (!this.#info) this.#info = JSON.parse(this.engine.cstring(this.engine.checkPtr(this.engine.fn.plm_model_info(this.ptr))));
    return this.#info;
  }

  /** All GGUF metadata as an object (arrays longer than maxElems are cut). */
  metadata(maxElems = 16) {
    this.assertLive();
    return JSON.parse(this.engine.cstring(this.engine.checkPtr(this.engine.fn.plm_model_meta(this.ptr, maxElems))));
  }

  /**
   * Token ids of `text`. addSpecial (default true): the model's BOS/EOS/CLS/SEP convention.
   * parseSpecial (default true, as Hugging Face tokenizers and llama.cpp's parse_special):
   * special-token text such as "<|endoftext|>" or "<|im_start|>" becomes that token;
   * false keeps it as ordinary text (for user input that must not contain control tokens).
   */
  tokenize(text, { addSpecial = true, parseSpecial = true } = {}) {
    this.assertLive();
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    const { engine } = this;
    return engine.scoped((s) => {
      const str = s.string(text);
      let cap = str.len + 8;
      for (;;) {
        const out = s.alloc(cap * 4, 'token ids');
        const n = engine.check(engine.fn.plm_tokenize(this.ptr, str.ptr, str.len, addSpecial ? 1 : 0, parseSpecial ? 1 : 0, out, cap));
        if (n <= cap) return engine.view(Int32Array, out, n).slice();
        cap = n;
      }
    });
  }

  /**
   * Text of token ids. skipSpecial (default true): control tokens such as BOS/EOS
   * produce no text (SentencePiece models show <unk> as " \u2047 ", as sentencepiece's
   * decode; false: every token as written, "<unk>"); stripLeadingSpace (default true): drop the leading space
   * SentencePiece tokenizers add (as sentencepiece's decode does).
   */
  detokenize(ids, { skipSpecial = true, stripLeadingSpace = true } = {}) {
    this.assertLive();
    ids = toIds(ids);
    const { engine } = this;
    const flags = (skipSpecial ? DECODE_SKIP_SPECIAL : 0) | (stripLeadingSpace ? DECODE_STRIP_LEADING : 0);
    return engine.scoped((s) => {
      const idp = s.i32(ids);
      let cap = ids.length * 8 + 16;
      for (;;) {
        const out = s.alloc(cap, 'decoded text');
        const n = engine.check(engine.fn.plm_detokenize(this.ptr, idp, ids.length, flags, out, cap));
        if (n <= cap) return engine.decode(out, n);
        cap = n;
      }
    });
  }

  /** Raw bytes of one token as it appears in text (may be part of a UTF-8 character). */
  tokenBytes(id, flags = 0) {
    this.assertLive();
    const { engine } = this;
    for (;;) {
      if (!this.#scratch) {
        this.#scratchCap = Math.max(this.#scratchCap, 256);
        this.#scratch = engine.malloc(this.#scratchCap, 'token text');
      }
      const n = engine.check(engine.fn.plm_token_bytes(this.ptr, id, flags, this.#scratch, this.#scratchCap));
      if (n <= this.#scratchCap) return engine.bytes(this.#scratch, n);
      engine.free(this.#scratch);
      this.#scratch = 0;
      this.#scratchCap = n;
    }
  }

  /** Whether id ends generation (EOS or another end-of-generation token). */
  isEog(id) {
    this.assertLive();
    return this.engine.fn.plm_token_is_eog(this.ptr, id) > 0;
  }

  /** Free subclass resources (called once, before the model itself is freed). */
  freeResources() {}

  /** Free the model (and its engine if this model created it). */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    const { engine } = this;
    if (!engine.disposed) {
      this.freeResources();
      if (this.#scratch) engine.free(this.#scratch);
      engine.fn.plm_model_free(this.ptr);
    }
    this.#scratch = 0;
    this.ptr = 0;
    if (this.ownsEngine) engine.dispose();
  }
}
