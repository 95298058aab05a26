// remote.js — models in a worker, behind the same API.
//
// GPT.load(url) in a web page starts GPT's module Worker (js/workers/gpt.js) and returns
// a proxy: an instance of a subclass of GPT whose async methods (logits,
// complete, ...) and async generators (generate) are forwarded to the worker,
// while the synchronous methods the class declares local (static local: tokenize,
// detokenize, ...; see ModelBase.local) run right here on a vocab-only copy of the
// model. Nothing else is written per class: the proxy class is derived from the
// real one by looking at its methods (wire.js members(), localMethods()).
//
// Loading is load.js's pipeline run on this thread (resolve, size check, byte
// stream: cache, Range resume) with two sinks: the WorkerSink, which carries the
// chunks to the worker (transferred, at most WINDOW bytes in flight; there they
// feed the worker's own loader), and a vocab-only loader on this thread
// (plm_loader_set_flags(PLM_LOAD_VOCAB_ONLY)), which reads only the GGUF metadata
// (the tokenizer): so tokenize() stays synchronous. This file is the transport:
// the Link (messages, streams, callbacks, signals) and the proxy class.
//
// Property reads (info, contextLength, lastStats, ...) answer from a snapshot of
// the worker-side model's plain-data properties, refreshed after every call.

import { Engine } from './engine.js';
import { resolveSource } from './source.js';
import { LoaderSink, LOAD_VOCAB_ONLY, checkTotalSize, pumpSource, wasmMemoryRoom } from './load.js';
import { decodeError, encodeArgs, encodeError, localMethods, members } from './wire.js';
import { crossOriginWorker, isCrossOrigin } from './cross-origin.js';

// local methods that are the proxy's own lifecycle, not the vocab-only copy's
const LIFECYCLE = new Set(['dispose', 'assertLive', 'freeResources']);
// The file goes to the worker in buffers of CHUNK bytes (the stream's chunks, of any size,
// copied into them back to back), at most WINDOW bytes in flight: the buffers come back
// with the acks and are reused, so the page holds at most WINDOW / CHUNK + 2 of them
// (not a buffer per network chunk: those are often 64 KB or less).
const CHUNK = 256 << 10; // (256 KB / 1 MB measured no slower than 1 MB / 8 MB in Chromium and Node, 2-5 MB less memory)
const WINDOW = 1 << 20; // bytes of the file in flight to the worker
const CREDIT = 16; // streamed items the worker may run ahead of the consumer
// The model worker must take the first chunk of the file (its engine is then up: wasm compiled,
// thread pool started) within this long, or it is taken for stuck, terminated, and the load
// tried once more in a new worker. Firefox has left a model worker blocked for good while it
// started its thread-pool worker (a nested worker whose script request was never sent; README,
// "Build and test"); Chromium never did.
// (an object: tests shorten it)
export const workerStart = { timeoutMs: 30000 };
// options that stay on this thread (the worker gets the rest: threads, build, contextLength, ...)
const LOCAL_OPTIONS = new Set(['worker', 'engine', 'signal', 'onProgress', 'cache', 'retries', 'retryDelay', 'fetch', 'baseUrl', 'hfEndpoint', 'integrity', 'timeout']);

/**
 * A browser module worker for model class Cls (Node: remote-node.js replaces this).
 * Each class names its own worker (static modelWorker = { script, start }): `start`
 * is a literal `new Worker(new URL(<its worker script>, import.meta.url), ...)` in the
 * class's module, the form bundlers (Vite, webpack) follow, so that an app bundles the
 * worker of the classes it imports and nothing else.
 */
let workerFactory = (Cls) => {
  const spec = Cls.modelWorker;
  if (!spec) throw new TypeError(`${Cls.exportName ?? Cls.name} has no model worker; load it with { worker: false }`);
  let w = null;
  const rel = '../' + spec.script; // (not a literal: bundlers would treat it as an asset)
  const script = new URL(rel, import.meta.url);
  // the package on another origin (a CDN): a same-origin blob script imports the worker
  if (isCrossOrigin(script)) w = crossOriginWorker(script, { type: 'module', name: 'plm-model' });
  try {
    w ??= spec.start();
  } catch (e) {
    if (e?.name !== 'SecurityError') throw e;
    w = crossOriginWorker(script, { type: 'module', name: 'plm-model' });
  }
  return {
    post: (m, transfer) => w.postMessage(m, transfer ?? []),
    onMessage: (f) => (w.onmessage = (e) => f(e.data)),
    onError: (f) => {
      w.onerror = (e) => f(new Error(e.message || 'the model worker failed to start (blocked by the page\'s Content-Security-Policy, or the script could not be loaded?)'));
      w.onmessageerror = () => f(new Error('a message from the model worker could not be read'));
    },
    terminate: () => w.terminate(),
    ref() {},
    unref() {},
  };
};

/** Replace how model workers are started (Node; embedders with their own worker setup): factory(Cls) -> port. */
export function setModelWorkerFactory(factory) {
  workerFactory = factory;
}

/** Whether a load runs in a worker: options.worker, else yes on a web page's main thread. */
export function useWorker(options = {}) {
  if (options.engine) return false; // an explicit Engine lives on this thread
  if (options.worker !== undefined) return !!options.worker;
  return typeof document !== 'undefined' && typeof Worker !== 'undefined';
}

/** The connection to one model worker: requests, streamed iterations, callbacks, signals. */
class Link {
  #port;
  #nextId = 1;
  #pending = new Map(); // id -> { resolve, reject }
  #streams = new Map(); // id -> (message) => void
  #callbacks = new Map(); // id -> function
  #signals = new Map(); // AbortSignal -> id
  #readyWaiters = [];
  #ackWaiters = [];
  #spares = []; // chunk buffers back from the worker, to copy the next chunks into
  dead = null;
  started = false; // the worker has taken a chunk (or answered the load)
  #startTimer = null;
  inflight = 0;
  doneFiles = new Set();
  state = { getters: {}, errors: {}, props: {} };
  runtime = null;

  constructor(port) {
    this.#port = port;
    port.onMessage((m) => this.#onMessage(m));
    port.onError((e) => this.#die(e));
  }

  post(msg, transfer) {
    if (this.dead) throw this.dead;
    this.#port.post(msg, transfer);
  }

  #onMessage(m) {
    switch (m?.t) {
      case 'ready':
        for (const w of this.#readyWaiters.splice(0)) w.resolve();
        this.ready = true;
        break;
      case 'result':
      case 'error': {
        this.#started();
        const s = this.#streams.get(m.id);
        if (s) return s(m);
        const p = this.#pending.get(m.id);
        if (!p) return;
        this.#pending.delete(m.id);
        this.#idle();
        if (m.t === 'result') p.resolve(m);
        else p.reject(decodeError(m.error));
        break;
      }
      case 'yield':
      case 'done':
        this.#streams.get(m.id)?.(m);
        break;
      case 'callback': {
        const f = this.#callbacks.get(m.fn);
        try {
          f?.(...m.args);
        } catch (e) {
          console.error(e);
        }
        break;
      }
      case 'ack':
        this.#started();
        this.inflight -= m.n;
        if (m.buffer?.byteLength >= CHUNK && this.#spares.length < WINDOW / CHUNK && !this.settled) this.#spares.push(m.buffer);
        this.#wakeSenders();
        break;
      case 'filedone':
        this.#started();
        this.doneFiles.add(m.file);
        this.#wakeSenders();
        break;
    }
  }

  #started() {
    this.started = true;
    clearTimeout(this.#startTimer);
  }

  /** From the first chunk on: a worker that takes none within `ms` is stuck (see workerStart). */
  watchStart(ms) {
    if (this.started || this.#startTimer || this.dead) return;
    this.#startTimer = setTimeout(() => {
      if (this.started || this.dead) return;
      const e = new Error(`the model worker did not start within ${ms / 1000} s (it took no byte of the file)`);
      e.code = 'WORKER_START_TIMEOUT';
      this.terminate(e);
    }, ms);
  }

  #wakeSenders() {
    for (const w of this.#ackWaiters.splice(0)) w();
  }

  #idle() {
    if (this.#pending.size === 0 && this.#streams.size === 0) this.#port.unref();
  }

  #die(e) {
    clearTimeout(this.#startTimer);
    if (this.dead) return;
    this.dead = e instanceof Error ? e : new Error(String(e));
    if (!this.dead.message.startsWith('the model worker')) this.dead = new Error(`the model worker stopped: ${this.dead.message}`, { cause: e });
    for (const w of this.#readyWaiters.splice(0)) w.reject(this.dead);
    for (const p of this.#pending.values()) p.reject(this.dead);
    this.#pending.clear();
    for (const s of this.#streams.values()) s({ t: 'error', error: encodeError(this.dead) });
    this.#wakeSenders();
  }

  /** Resolves once the worker script runs (rejects if it cannot start). */
  whenReady() {
    if (this.ready) return Promise.resolve();
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /** Encode call arguments; returns { args, release } (release drops callbacks and signal listeners). */
  encode(args) {
    const fns = [];
    const listeners = [];
    const ref = (kind, v) => {
      const id = this.#nextId++;
      if (kind === 'fn') {
        this.#callbacks.set(id, v);
        fns.push(id);
      } else {
        const onAbort = () => {
          const r = v.reason;
          if (!this.dead) this.#port.post({ t: 'abort', signal: id, reason: { name: r?.name ?? 'AbortError', message: r?.message ?? String(r) } });
        };
        if (v.aborted) queueMicrotask(onAbort);
        else v.addEventListener('abort', onAbort, { once: true });
        listeners.push(() => {
          v.removeEventListener('abort', onAbort);
          if (!this.dead) this.#port.post({ t: 'release', signal: id });
        });
      }
      return id;
    };
    const encoded = encodeArgs(args, ref);
    return {
      args: encoded,
      release: () => {
        for (const id of fns) this.#callbacks.delete(id);
        for (const l of listeners) l();
      },
    };
  }

  request(msg, transfer) {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.#nextId++;
    this.#port.ref();
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        this.#port.post({ ...msg, id }, transfer);
      } catch (e) {
        this.#pending.delete(id);
        this.#idle();
        reject(e);
      }
    });
  }

  /** Call an async method of the worker's model; throws its error (or the user's abort reason). */
  async call(method, args) {
    const { args: encoded, release } = this.encode(args);
    try {
      const m = await this.request({ t: 'call', method, args: encoded });
      this.applyState(m.state);
      return m.value;
    } catch (e) {
      throw abortReason(args) ?? e;
    } finally {
      release();
    }
  }

  /** An async generator method of the worker's model, streamed with a window of CREDIT items. */
  async *stream(method, args) {
    if (this.dead) throw this.dead;
    const { args: encoded, release } = this.encode(args);
    const id = this.#nextId++;
    const inbox = [];
    let wake = null;
    this.#streams.set(id, (m) => {
      inbox.push(m);
      wake?.();
      wake = null;
    });
    this.#port.ref();
    let finished = false;
    try {
      this.post({ t: 'iter', id, method, args: encoded, credit: CREDIT });
      let consumed = 0;
      for (;;) {
        while (inbox.length === 0) await new Promise((r) => (wake = r));
        const m = inbox.shift();
        if (m.t === 'done') {
          finished = true;
          this.applyState(m.state);
          return m.value;
        }
        if (m.t === 'error') {
          finished = true;
          throw abortReason(args) ?? decodeError(m.error);
        }
        if (++consumed % (CREDIT / 2) === 0) this.post({ t: 'credit', id, n: CREDIT / 2 });
        yield m.value;
      }
    } finally {
      this.#streams.delete(id);
      if (!finished && !this.dead) this.#port.post({ t: 'return', id }); // the consumer stopped early
      release();
      this.#idle();
    }
  }

  applyState(state) {
    if (state) this.state = state;
    this.onState?.(this.state);
  }

  /** A buffer of at least CHUNK bytes to copy the file into: one the worker handed back, else a new one. */
  takeBuffer() {
    return this.#spares.pop() ?? new ArrayBuffer(CHUNK);
  }

  /**
   * Send bytes of file `file` (a view this side gives away: its buffer is transferred);
   * waits while more than WINDOW bytes are in flight. Returns false when the worker
   * needs no more of this file. The message is posted before the first await.
   */
  async sendChunk(file, bytes, size) {
    if (this.dead) throw this.dead;
    if (this.doneFiles.has(file) || this.settled) return false;
    this.inflight += bytes.length;
    this.#port.post({ t: 'chunk', file, size, bytes }, [bytes.buffer]);
    this.watchStart(workerStart.timeoutMs);
    while (this.inflight > WINDOW && !this.dead && !this.settled && !this.doneFiles.has(file)) await new Promise((r) => this.#ackWaiters.push(r));
    if (this.dead) throw this.dead;
    return !this.doneFiles.has(file) && !this.settled;
  }

  settle() {
    this.settled = true;
    this.#spares.length = 0; // (the load is over: no more chunks)
    this.#wakeSenders();
  }

  terminate(reason = new Error('the model worker was terminated')) {
    this.#spares.length = 0;
    this.#die(reason);
    this.#port.terminate();
  }
}

function abortReason(args) {
  for (const a of args) {
    const s = a && typeof a === 'object' ? a.signal : undefined;
    if (s?.aborted) return s.reason;
  }
  return null;
}

// ------------------------------------------------------------ proxy classes

const links = new WeakMap(); // proxy instance -> Link
const proxyClasses = new WeakMap(); // real class -> proxy class

function linkOf(obj) {
  const l = links.get(obj);
  if (!l) throw new Error(`${obj.constructor.name} has been disposed`);
  return l;
}

/**
 * The name under which the package exports a model class (class names do not survive
 * minifiers): its own static exportName. The worker finds the class by it.
 */
export function exportedName(Cls) {
  if (!Object.hasOwn(Cls, 'exportName')) throw new TypeError(`worker mode needs a model class exported by plm-wasm (GPT, BERT, T5), not ${Cls.name}; load it with { worker: false }`);
  return Cls.exportName;
}

/** The worker-mode subclass of a model class (built once per class). */
export function remoteClassOf(Cls) {
  let R = proxyClasses.get(Cls);
  if (R) return R;
  R = class extends Cls {};
  Object.defineProperty(R, 'name', { value: exportedName(Cls) });
  const local = localMethods(Cls);
  for (const [name, { kind, descriptor }] of members(Cls)) {
    if (name === 'dispose' || name === 'disposed' || name === 'assertLive') continue;
    if (kind === 'getter') {
      Object.defineProperty(R.prototype, name, {
        configurable: true,
        get() {
          const { state } = linkOf(this);
          if (name in state.errors) throw decodeError(state.errors[name]);
          if (name in state.getters) return name === 'runtime' ? { ...state.getters[name], ...linkOf(this).runtime } : state.getters[name];
          return descriptor.get.call(this); // not plain data: computed here (on the vocab-only copy)
        },
      });
    } else if (kind === 'async') {
      R.prototype[name] = async function (...args) {
        this.assertLive();
        return linkOf(this).call(name, args);
      };
    } else if (kind === 'stream') {
      R.prototype[name] = async function* (...args) {
        this.assertLive();
        return yield* linkOf(this).stream(name, args);
      };
    } else if (!local.has(name)) {
      // a synchronous method the class does not declare local: it would run on the
      // page's vocab-only copy, which has no weights (tests/js/worker_contract.test.mjs)
      R.prototype[name] = function () {
        throw new TypeError(`${R.name}.${name}() is synchronous and not in ${R.name}.local, so it cannot run in worker mode; load the model with { worker: false }`);
      };
    }
    // local sync methods (tokenize, detokenize, ...): inherited, run on the vocab-only copy here
  }
  R.prototype.dispose = function () {
    const link = links.get(this);
    if (link) {
      links.delete(this);
      link.terminate(); // frees the worker's memory at once
    }
    Cls.prototype.dispose.call(this);
  };
  proxyClasses.set(Cls, R);
  return R;
}

/**
 * A sink of the loading pipeline (load.js) that carries the file's chunks to the model
 * worker (transferred; at most WINDOW bytes in flight), where they feed the worker's
 * own loader. done: the worker's loader needs no more of the current file.
 */
class WorkerSink {
  #link;
  #file = -1;
  #size;
  #stage = null; // the CHUNK buffer being filled (Uint8Array), sent when full or at the end of the file
  #fill = 0;
  done = false;
  constructor(link) {
    this.#link = link;
  }
  get stopped() {
    return this.#link.settled; // the worker's load ended (failed, or finished early)
  }
  beginFile(i) {
    this.#file = i;
    this.#size = undefined;
    this.done = false;
    return !this.#link.settled;
  }
  setSize(bytes) {
    this.#size = bytes;
  }
  async write(chunk, shard) {
    const n = chunk.length;
    const link = this.#link;
    let more = true;
    if (shard.owned && chunk.byteOffset === 0 && n === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer && n >= CHUNK) {
      // a large chunk the stream gives away: transferred as it is (after what is staged)
      this.#send();
      more = await link.sendChunk(this.#file, chunk, this.#size);
    } else {
      for (let off = 0; off < n && more; ) {
        this.#stage ??= new Uint8Array(link.takeBuffer());
        const k = Math.min(n - off, this.#stage.length - this.#fill);
        this.#stage.set(k === n ? chunk : chunk.subarray(off, off + k), this.#fill);
        this.#fill += k;
        off += k;
        if (this.#fill === this.#stage.length) more = await this.#send();
      }
    }
    if (!more) {
      this.#stage = null;
      this.#fill = 0;
      this.done = link.doneFiles.has(this.#file);
    }
    return n;
  }
  /** Post what is staged (now: the returned promise only waits for the window). */
  #send() {
    if (!this.#fill) return Promise.resolve(true);
    const bytes = this.#stage.subarray(0, this.#fill);
    this.#stage = null;
    this.#fill = 0;
    return this.#link.sendChunk(this.#file, bytes, this.#size);
  }
  endFile(i) {
    this.#send().catch(() => {}); // (a dead worker: the post below reports it)
    if (!this.#link.settled) this.#link.post({ t: 'end', file: i });
  }
  close() {
    if (!this.#link.settled) this.#link.post({ t: 'eof' });
  }
}

/**
 * The page's vocab-only copy as a sink: the first file's metadata. A failure here does
 * not fail the load (the worker has the model); the token methods report it instead.
 */
class VocabSink {
  #sink;
  error = null;
  constructor(sink) {
    this.#sink = sink;
  }
  get done() {
    return this.error !== null || this.#sink.done;
  }
  #try(f) {
    if (this.error) return 0;
    try {
      return f();
    } catch (e) {
      this.error = e;
      return 0;
    }
  }
  beginFile(i) {
    return i === 0;
  }
  setSize(bytes, name) {
    this.#try(() => this.#sink.setSize(bytes, name));
  }
  write(chunk) {
    return this.#try(() => this.#sink.write(chunk));
  }
  endFile() {}
  close() {}
}

/**
 * Load `source` as a `Cls` in a new worker; returns the proxy. Falls back to
 * loading on this thread when the worker cannot start and options.worker was
 * not explicitly true.
 */
export async function loadRemote(Cls, source, options = {}, openLocal, retried = false) {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  let port;
  try {
    port = workerFactory(Cls);
  } catch (e) {
    if (options.worker === true) throw new Error(`cannot start the model worker: ${e.message}`, { cause: e });
    return openLocal();
  }
  const link = new Link(port);
  let vocabEngine = null;
  let vocab = null;
  try {
    try {
      await link.whenReady();
    } catch (e) {
      link.terminate();
      if (options.worker === true) throw e;
      console.warn(`plm-wasm: ${e.message}; running the model on the page's thread`);
      return openLocal();
    }
    // the loading pipeline (load.js), its sinks the worker and the page's vocab-only copy
    const resolved = await resolveSource(source, options); // 1. resolve
    await checkTotalSize(resolved, wasmMemoryRoom(null), signal); // 2. size check (the worker checks each file against its own memory)
    const workerOptions = Object.fromEntries(Object.entries(options).filter(([k]) => !LOCAL_OPTIONS.has(k)));
    const { args, release } = link.encode([{ ...workerOptions, onProgress }]);
    const loaded = link.request({ t: 'load', cls: exportedName(Cls), name: resolved.name, shards: resolved.shards.map((s) => ({ name: s.name })), options: args[0] });
    loaded.then(
      () => link.settle(),
      () => link.settle(),
    );

    // the vocab-only copy on this thread: single-threaded engine, metadata only
    vocabEngine = await Engine.create({ threads: 1, build: options.build === 'scalar' ? 'scalar' : undefined, wasmBaseUrl: options.wasmBaseUrl });
    vocab = new LoaderSink(vocabEngine, LOAD_VOCAB_ONLY);
    const page = new VocabSink(vocab);
    await pumpSource(resolved, [page, new WorkerSink(link)], { signal }); // 3. byte stream -> 4. sinks (the worker reports progress)
    let vocabError = page.error;
    const result = await loaded.finally(release);
    signal?.throwIfAborted();

    let ptr = 0;
    if (!vocabError) {
      try {
        ptr = vocab.finish();
      } catch (e) {
        vocabError = e;
      }
    }
    vocab.free();
    vocab = null;
    const R = remoteClassOf(Cls);
    const model = new R({ engine: vocabEngine, ownsEngine: true, ptr });
    links.set(model, link);
    link.runtime = { worker: true };
    link.onState = (s) => Object.assign(model, s.props);
    link.applyState(result.value.state);
    if (!ptr) {
      // no tokenizer on this thread (e.g. a file without one): sync token methods report why
      for (const name of localMethods(Cls))
        if (!LIFECYCLE.has(name))
          Object.defineProperty(model, name, {
            value: () => {
              throw vocabError;
            },
          });
    }
    vocabEngine = null; // owned by the model now
    return model;
  } catch (e) {
    link.terminate();
    if (signal?.aborted) throw signal.reason;
    // a stuck worker (workerStart): once more in a new one, when the source can be read again
    if (!retried && link.dead?.code === 'WORKER_START_TIMEOUT' && rereadable(source)) {
      console.warn(`plm-wasm: ${link.dead.message}; loading again in a new worker`);
      vocab?.free();
      vocab = null;
      vocabEngine?.dispose();
      vocabEngine = null;
      return loadRemote(Cls, source, options, openLocal, true);
    }
    throw e;
  } finally {
    vocab?.free();
    vocabEngine?.dispose();
  }
}

/** Whether a load source can be read a second time (URLs, paths, bytes; not a stream). */
function rereadable(source) {
  const one = (s) => typeof s === 'string' || s instanceof URL || s instanceof ArrayBuffer || ArrayBuffer.isView(s) || (typeof Blob !== 'undefined' && s instanceof Blob);
  return Array.isArray(source) ? source.every(one) : one(source);
}
