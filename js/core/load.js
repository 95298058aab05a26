// load.js — loading a model, the whole pipeline in one file:
//
//   1. resolve      input (path, URL, hf://, bytes, Blob, [files]) -> { name, shards }
//                   (source.js: file names, split files, resolvers; a shard is a byte
//                   stream: fetch.js for HTTP with Range resume, cache.js, files, Blobs)
//   2. size check   the whole model (every split file) against the wasm memory it will
//                   live in, before the first byte of weights is downloaded
//   3. byte stream  pumpSource(): each shard's chunks in order, progress, abort
//   4. sinks        every chunk goes to each sink that still wants its file:
//                     LoaderSink  an engine's C loader (plm_loader) on this thread:
//                                 write() copies the chunk straight to where the loader
//                                 wants it in wasm memory (the GGUF is parsed while it
//                                 streams; no copy of the whole file is held in JS)
//                     worker mode (remote.js): a vocab-only LoaderSink (the page's
//                                 tokenizer copy) and the WorkerSink, which carries the
//                                 chunks to the model worker, where they feed that
//                                 worker's LoaderSink through this same pipeline
//   then            LoaderSink.finish(): the plm_model.
//
// loadModel() is the pipeline on this thread; remote.js's loadRemote() runs stages 1-4
// with the two worker-mode sinks.

import { PlmError } from './engine.js';
import { Status, LOAD_NEED_MORE, LOAD_HEADER_READY, LOAD_DONE, LOAD_VOCAB_ONLY } from './abi.js';
import { resolveSource } from './source.js';

export { LOAD_VOCAB_ONLY };

const WASM32_LIMIT = 2 ** 32; // -sMAXIMUM_MEMORY=4GB: no build can address more

export function progressReporter(onProgress) {
  if (!onProgress) return () => {};
  let lastTime = 0;
  let lastPhase = '';
  return (loaded, total, phase, force = false) => {
    const now = Date.now();
    if (!force && phase === lastPhase && now - lastTime < 50) return;
    lastTime = now;
    lastPhase = phase;
    onProgress({ loaded, total, phase });
  };
}

const MB = (n) => `${(n / 2 ** 20).toFixed(n < 10 * 2 ** 20 ? 1 : 0)} MB`;

/** Most bytes of weights an engine can still take (wasm32 address space minus what is in use). */
export function wasmMemoryRoom(engine) {
  const limit = engine?.maxMemoryBytes ?? WASM32_LIMIT;
  return { limit, room: limit - (engine?.heapUsed?.() ?? 0) };
}

function tooBig(name, bytes, { limit, room }) {
  return new PlmError(
    `${name}: the model needs ${MB(bytes)} of WebAssembly memory for its weights, but ` +
      (bytes > limit ? `WebAssembly (32-bit) can address at most ${MB(limit)}` : `only ${MB(room)} of the ${MB(limit)} WebAssembly can address are left`) +
      '; use a smaller or more quantized model (e.g. Q4_0)',
    Status.NOMEM,
  );
}

/**
 * A split model: the sizes of all its files (HEAD requests, cache entries) before the
 * first byte, so that one too large for wasm memory is refused before any download.
 */
export async function checkTotalSize(source, memory, signal) {
  if (source.shards.length < 2) return;
  const sizes = await Promise.all(source.shards.map((s) => (s.size >= 0 ? s.size : s.probeSize?.(signal))));
  if (!sizes.every((n) => n >= 0)) return;
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total > memory.room) throw tooBig(source.name, total, memory);
}

/**
 * The streaming C loader (plm_loader) of one engine as a sink for byte chunks:
 * write() copies a chunk straight to where the loader wants it in wasm memory.
 *
 * The sink interface (what pumpSource() calls; WorkerSink in remote.js has the same):
 *   beginFile(i)        file i starts; false = the sink wants none of it
 *   setSize(bytes, name)  before the file's first chunk (its size, when known)
 *   write(chunk, shard) consume a chunk (may be async); returns the bytes taken
 *   done                this file is complete: no more of its bytes are needed
 *   endFile(i)          the file's stream ended;  close()  all files were offered
 *   stopped             (optional) stop streaming altogether
 */
export class LoaderSink {
  constructor(engine, flags = 0) {
    this.engine = engine;
    this.flags = flags;
    this.ptr = engine.checkPtr(engine.fn.plm_loader_new());
    this.state = LOAD_NEED_MORE;
    this.headerSize = undefined; // whole current file, from its header
    try {
      if (flags & LOAD_VOCAB_ONLY) engine.check(engine.fn.plm_loader_set_flags(this.ptr, flags));
    } catch (e) {
      this.free();
      throw e;
    }
  }

  get done() {
    return this.state === LOAD_DONE;
  }

  /** Only the metadata is read (vocab-only loads): DONE as soon as it is complete. */
  get metadataOnly() {
    return (this.flags & LOAD_VOCAB_ONLY) !== 0;
  }

  filesLeft() {
    return this.engine.check(this.engine.fn.plm_loader_files_left(this.ptr));
  }

  beginFile(i) {
    if (i === 0) return true;
    if (!this.done || this.filesLeft() === 0) return false; // (vocab-only: the first file's metadata is all it reads)
    this.nextFile();
    return true;
  }

  endFile() {}

  close() {}

  /** After the stream: a split model must have come with all its files. */
  checkComplete(source) {
    if (!this.done || this.metadataOnly) return;
    const left = this.filesLeft();
    if (left > 0) {
      const given = source.shards.length;
      throw new PlmError(
        `${source.name}: the model is split into ${given + left} files but only ${given} ${given === 1 ? 'was' : 'were'} given ` +
          `(pass all of them in order, or the first one's name ending in -00001-of-${String(given + left).padStart(5, '0')}.gguf)`,
        Status.TRUNCATED,
      );
    }
  }

  nextFile() {
    this.engine.check(this.engine.fn.plm_loader_next_file(this.ptr));
    this.state = LOAD_NEED_MORE;
    this.headerSize = undefined;
  }

  /** The current file's size (before its first byte): early truncation errors, memory check. */
  setSize(bytes, name) {
    if (!(bytes >= 0)) return;
    const { engine } = this;
    if (!this.metadataOnly) {
      const memory = wasmMemoryRoom(engine);
      if (bytes > memory.room) throw tooBig(name, bytes, memory);
    }
    if (engine.fn.plm_loader_set_size) engine.check(engine.fn.plm_loader_set_size(this.ptr, bytes));
  }

  /** Copy one chunk in; returns the loader state (DONE: bytes after the end of the file are ignored). */
  write(chunk) {
    const { engine } = this;
    const { fn } = engine;
    let off = 0;
    while (off < chunk.length && this.state !== LOAD_DONE) {
      const dst = engine.checkPtr(fn.plm_loader_dst(this.ptr));
      const room = fn.plm_loader_room(this.ptr) >>> 0;
      const n = Math.min(room, chunk.length - off);
      engine.u8.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), dst);
      this.state = engine.check(fn.plm_loader_commit(this.ptr, n));
      off += n;
      if (this.state === LOAD_HEADER_READY || this.state === LOAD_DONE) this.headerSize ??= fn.plm_loader_file_size(this.ptr);
    }
    return off;
  }

  /** Build the model (consumes the loader). Returns the plm_model pointer. */
  finish() {
    const p = this.ptr;
    this.ptr = 0;
    return this.engine.checkPtr(this.engine.fn.plm_loader_finish(p, this.flags));
  }

  free() {
    if (this.ptr && !this.engine.disposed) this.engine.fn.plm_loader_free(this.ptr);
    this.ptr = 0;
  }
}

/**
 * Stages 3 and 4: stream every shard of `source` into `sinks` (a sink or an array;
 * each chunk goes to the sinks in order: one that transfers the chunk's buffer away,
 * such as the WorkerSink, comes last). A shard is read until every sink that took its
 * file is done with it (the rest of a file is not needed: shard.finished()); the
 * stream ends when no sink wants the next file. Progress: { loaded, total, phase: 'download' }.
 */
export async function pumpSource(source, sinks, { onProgress, signal, report = progressReporter(onProgress) } = {}) {
  if (!Array.isArray(sinks)) sinks = [sinks];
  let loaded = 0;
  const totalOf = () => {
    let t = 0;
    for (const s of source.shards) {
      if (!(s.size >= 0)) return source.shards.length === 1 ? sinks[0].headerSize : undefined;
      t += s.size;
    }
    return t;
  };
  for (let i = 0; i < source.shards.length; i++) {
    const shard = source.shards[i];
    const taking = sinks.filter((s) => s.beginFile(i));
    if (taking.length === 0) break;
    report(loaded, totalOf(), 'download', true);
    let sized = false;
    for await (const chunk of shard.open(signal)) {
      signal?.throwIfAborted();
      if (!sized) {
        sized = true;
        for (const s of taking) s.setSize(shard.size, shard.name);
      }
      let took = 0;
      for (const s of taking) if (!s.done) took = Math.max(took, await s.write(chunk, shard));
      loaded += took;
      report(loaded, totalOf(), 'download');
      if (sinks.some((s) => s.stopped)) return { loaded, total: totalOf() ?? loaded };
      if (taking.every((s) => s.done)) {
        shard.finished?.(); // anything after the declared end is not needed
        break;
      }
    }
    signal?.throwIfAborted();
    for (const s of taking) s.endFile(i);
    // (a LoaderSink whose file ended early wants no next file: plm_loader_finish reports the truncation)
  }
  for (const s of sinks) s.close();
  return { loaded, total: totalOf() ?? loaded };
}

/**
 * The pipeline on this thread: stream a source into a new plm_loader of `engine` and
 * build the model. Returns the plm_model pointer (owned by the caller). Throws PlmError
 * / Error; nothing is left allocated on failure. options: flags (LOAD_VOCAB_ONLY),
 * onProgress, signal, and the resolveSource options (cache, retries, ...).
 */
export async function loadModel(engine, input, options = {}) {
  const { flags = 0, onProgress, signal } = options;
  signal?.throwIfAborted();
  const source = await resolveSource(input, options); // 1. resolve
  const report = progressReporter(onProgress);
  const sink = new LoaderSink(engine, flags);
  try {
    if (engine.disposed) throw new Error('engine disposed while loading');
    if (!sink.metadataOnly) await checkTotalSize(source, wasmMemoryRoom(engine), signal); // 2. size check
    let { loaded, total } = await pumpSource(source, [sink], { signal, report }); // 3. byte stream -> 4. the sink
    sink.checkComplete(source);
    if (sink.metadataOnly) total = loaded; // a vocab-only load is complete after the metadata
    if (engine.disposed) throw new Error('engine disposed while loading');
    report(loaded, total, 'parse', true);
    signal?.throwIfAborted();
    const model = sink.finish();
    report(loaded, total, 'ready', true);
    return model;
  } catch (e) {
    if (e?.name === 'PlmError' && source.name && !e.message.startsWith(source.name)) e.message = `${source.name}: ${e.message}`;
    throw e;
  } finally {
    sink.free();
  }
}
