// source.js — model sources as a pipeline:
//
//   input (path, URL, hf:// URL, bytes, Blob, [shards])
//     -> resolveSource(): { name, shards: [{ name, size?, open(signal) -> AsyncIterable<Uint8Array> }] }
//     -> loadModel(): each chunk is copied straight to plm_loader_dst() in wasm
//        memory and committed (the GGUF is parsed while it streams; no copy of
//        the whole file is ever held in JS).
//
// URLs are fetched by fetch.js (streamed, resumed with Range requests after a
// dropped connection) through cache.js (Cache API in browsers, a directory in
// Node). A name ending in -00001-of-0000N.gguf (llama.cpp's split files) stands
// for all N files.
//
// Extension points: registerSourceResolver() adds a resolver that turns an
// input into { name, shards }; a shard is any object with open(signal)
// returning an async iterable of byte chunks. The iterable may reuse its buffer
// between chunks (each chunk is consumed before the next one is requested)
// unless the shard says `owned: true` (each chunk is a fresh buffer that the
// consumer may keep or transfer to a worker).

import { platform } from './platform.js';
import { PlmError } from './engine.js';
import { Status, LOAD_NEED_MORE, LOAD_HEADER_READY, LOAD_DONE, LOAD_VOCAB_ONLY } from './abi.js';
import { httpShard } from './fetch.js';
import { resolveHfUrl, splitNames, isUrlString } from './names.js';

export { resolveHfUrl, splitNames };

export { LOAD_VOCAB_ONLY };

const BLOB_CHUNK = 4 << 20;
const WASM32_LIMIT = 2 ** 32; // -sMAXIMUM_MEMORY=4GB: no build can address more
const resolvers = [];

/** Add a resolver tried before the built-in ones: (input, options) => { name, shards } | null | Promise thereof. */
export function registerSourceResolver(resolver) {
  resolvers.unshift(resolver);
}

export function bytesShard(bytes, name = 'bytes') {
  const u8 = bytes instanceof Uint8Array ? bytes : ArrayBuffer.isView(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  return {
    name,
    size: u8.length,
    async *open() {
      // Yield moderate slices so progress and abort work on large buffers too.
      for (let off = 0; off < u8.length; off += BLOB_CHUNK) yield u8.subarray(off, Math.min(u8.length, off + BLOB_CHUNK));
    },
  };
}

export function blobShard(blob, name = blob.name || 'blob') {
  return {
    name,
    size: blob.size,
    owned: true,
    async *open(signal) {
      for (let off = 0; off < blob.size; off += BLOB_CHUNK) {
        signal?.throwIfAborted();
        yield new Uint8Array(await blob.slice(off, Math.min(blob.size, off + BLOB_CHUNK)).arrayBuffer());
      }
    },
  };
}

/** A URL (http, https, or whatever fetch supports), streamed, resumed, cached: see fetch.js. */
export function urlShard(url, options = {}) {
  return httpShard(url, options);
}


/** A string or URL input as a URL (relative names against the page), or null for a file path (Node). */
function toUrl(input, options) {
  if (input instanceof URL) return input;
  if (input.startsWith('hf://')) return resolveHfUrl(input, options);
  if (isUrlString(input)) return new URL(input);
  const base = options.baseUrl ?? globalThis.document?.baseURI ?? globalThis.location?.href;
  return base ? new URL(input, base) : null;
}

function isShard(x) {
  return x && typeof x === 'object' && typeof x.open === 'function';
}

/**
 * Turn a user input into { name, shards }. options: cache (default true),
 * retries, baseUrl (for relative URLs), hfEndpoint, fetch (a fetch function).
 */
export async function resolveSource(input, options = {}) {
  if (input == null) throw new TypeError('no model source given (expected a path, URL, ArrayBuffer, Uint8Array or Blob)');
  for (const r of resolvers) {
    const s = await r(input, options);
    if (s) return s;
  }
  if (Array.isArray(input)) {
    if (input.length === 0) throw new TypeError('empty list of model files');
    const parts = [];
    for (const x of input) parts.push(await resolveSource(x, { ...options, noSplit: true }));
    return { name: parts[0].name, shards: parts.flatMap((p) => p.shards) };
  }
  if (input && Array.isArray(input.shards)) return input;
  if (isShard(input)) return { name: input.name ?? 'source', shards: [input] };
  if ((typeof input === 'string' || input instanceof URL) && !options.noSplit) {
    const names = splitNames(String(input));
    if (names && names.length > 1) {
      const s = await resolveSource(names, options);
      return { ...s, name: String(input) };
    }
  }
  if (typeof input === 'string' && input.startsWith('hf://')) input = resolveHfUrl(input, options);
  const fromPlatform = platform.resolveSource(input);
  if (fromPlatform) return fromPlatform;
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input) || (typeof SharedArrayBuffer !== 'undefined' && input instanceof SharedArrayBuffer))
    return { name: 'bytes', shards: [bytesShard(input)] };
  if (typeof Blob !== 'undefined' && input instanceof Blob) return { name: input.name || 'blob', shards: [blobShard(input)] };
  if (typeof Response !== 'undefined' && input instanceof Response) throw new TypeError('pass a URL or the response body bytes, not a Response');
  if (typeof input === 'string' || input instanceof URL) {
    const url = toUrl(input, options);
    if (!url) throw new TypeError(`cannot resolve the relative URL ${input} (no page to resolve it against; pass an absolute URL)`);
    return { name: String(input), shards: [urlShard(url, options)] };
  }
  throw new TypeError(`unsupported model source: ${Object.prototype.toString.call(input)}`);
}

// ------------------------------------------------------------------ loading

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
 * Stream every shard of `source` into `sink` (LoaderSink or anything with the
 * same methods). Progress: { loaded, total, phase: 'download' }.
 */
export async function pumpSource(source, sink, { onProgress, signal, report = progressReporter(onProgress) } = {}) {
  let loaded = 0;
  const totalOf = () => {
    let t = 0;
    for (const s of source.shards) {
      if (!(s.size >= 0)) return source.shards.length === 1 ? sink.headerSize : undefined;
      t += s.size;
    }
    return t;
  };
  if (!sink.metadataOnly) await checkTotalSize(source, wasmMemoryRoom(sink.engine), signal);
  for (let i = 0; i < source.shards.length; i++) {
    const shard = source.shards[i];
    if (i > 0) {
      if (sink.filesLeft() === 0) break; // vocab-only: the first file's metadata is all it reads
      sink.nextFile();
    }
    report(loaded, totalOf(), 'download', true);
    let sized = false;
    for await (const chunk of shard.open(signal)) {
      signal?.throwIfAborted();
      if (!sized) {
        sized = true;
        sink.setSize(shard.size, shard.name);
      }
      loaded += await sink.write(chunk);
      report(loaded, totalOf(), 'download');
      if (sink.done) {
        shard.finished?.(); // anything after the declared end is not needed
        break;
      }
    }
    signal?.throwIfAborted();
    if (!sink.done) break; // plm_loader_finish reports the truncation
  }
  if (sink.done && !sink.metadataOnly) {
    const left = sink.filesLeft();
    if (left > 0) {
      const given = source.shards.length;
      throw new PlmError(
        `${source.name}: the model is split into ${given + left} files but only ${given} ${given === 1 ? 'was' : 'were'} given ` +
          `(pass all of them in order, or the first one's name ending in -00001-of-${String(given + left).padStart(5, '0')}.gguf)`,
        Status.TRUNCATED,
      );
    }
  }
  return { loaded, total: totalOf() ?? loaded };
}

/**
 * Stream a source into a new plm_loader and build the model.
 * Returns the plm_model pointer (owned by the caller). Throws PlmError / Error;
 * nothing is left allocated on failure. options: flags (LOAD_VOCAB_ONLY),
 * onProgress, signal, and the resolveSource options (cache, retries, ...).
 */
export async function loadModel(engine, input, options = {}) {
  const { flags = 0, onProgress, signal } = options;
  signal?.throwIfAborted();
  const source = await resolveSource(input, options);
  const report = progressReporter(onProgress);
  const sink = new LoaderSink(engine, flags);
  try {
    if (engine.disposed) throw new Error('engine disposed while loading');
    let { loaded, total } = await pumpSource(source, sink, { signal, report });
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
