// source.js — model sources as a pipeline:
//
//   input (path, URL, bytes, Blob, [shards])
//     -> resolveSource(): { name, shards: [{ name, size?, open(signal) -> AsyncIterable<Uint8Array> }] }
//     -> loadModel(): each chunk is copied straight to plm_loader_dst() in wasm
//        memory and committed (the GGUF is parsed while it streams; no copy of
//        the whole file is ever held in JS).
//
// Extension points (caching, Range-resume, hf:// URLs, ...): registerSourceResolver()
// adds a resolver that turns an input into { name, shards }; a shard is any
// object with open(signal) returning an async iterable of byte chunks (the
// iterable may reuse its buffer between chunks: each chunk is consumed before
// the next one is requested).

import { platform } from './platform.js';

const LOAD_NEED_MORE = 1;
const LOAD_HEADER_READY = 2;
const LOAD_DONE = 3;
export const LOAD_VOCAB_ONLY = 1;

const BLOB_CHUNK = 4 << 20;
const resolvers = [];

/** Add a resolver tried before the built-in ones: (input) => { name, shards } | null | Promise thereof. */
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
    async *open(signal) {
      for (let off = 0; off < blob.size; off += BLOB_CHUNK) {
        signal?.throwIfAborted();
        yield new Uint8Array(await blob.slice(off, Math.min(blob.size, off + BLOB_CHUNK)).arrayBuffer());
      }
    },
  };
}

export function urlShard(url) {
  const name = String(url);
  return {
    name,
    size: undefined,
    async *open(signal) {
      let res;
      try {
        res = await fetch(url, { signal });
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        throw new Error(`cannot fetch ${name}: ${e.message}`, { cause: e });
      }
      if (!res.ok) throw new Error(`cannot fetch ${name}: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`);
      const length = Number(res.headers.get('content-length'));
      if (length > 0 && !res.headers.get('content-encoding')) this.size = length;
      if (!res.body) {
        yield new Uint8Array(await res.arrayBuffer());
        return;
      }
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          yield value;
        }
      } finally {
        reader.releaseLock();
        res.body.cancel().catch(() => {});
      }
    },
  };
}

function isShard(x) {
  return x && typeof x === 'object' && typeof x.open === 'function';
}

/** Turn a user input into { name, shards }. */
export async function resolveSource(input) {
  if (input == null) throw new TypeError('no model source given (expected a path, URL, ArrayBuffer, Uint8Array or Blob)');
  for (const r of resolvers) {
    const s = await r(input);
    if (s) return s;
  }
  if (Array.isArray(input)) {
    if (input.length === 0) throw new TypeError('empty list of model files');
    const parts = await Promise.all(input.map(resolveSource));
    return { name: parts[0].name, shards: parts.flatMap((p) => p.shards) };
  }
  if (input && Array.isArray(input.shards)) return input;
  if (isShard(input)) return { name: input.name ?? 'source', shards: [input] };
  const fromPlatform = platform.resolveSource(input);
  if (fromPlatform) return fromPlatform;
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input) || (typeof SharedArrayBuffer !== 'undefined' && input instanceof SharedArrayBuffer))
    return { name: 'bytes', shards: [bytesShard(input)] };
  if (typeof Blob !== 'undefined' && input instanceof Blob) return { name: input.name || 'blob', shards: [blobShard(input)] };
  if (typeof Response !== 'undefined' && input instanceof Response) throw new TypeError('pass a URL or the response body bytes, not a Response');
  if (input instanceof URL) return { name: String(input), shards: [urlShard(input)] };
  if (typeof input === 'string') {
    const base = globalThis.document?.baseURI ?? globalThis.location?.href;
    const url = base ? new URL(input, base) : new URL(input);
    return { name: input, shards: [urlShard(url)] };
  }
  throw new TypeError(`unsupported model source: ${Object.prototype.toString.call(input)}`);
}

function progressReporter(onProgress) {
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

/**
 * Stream a source into a new plm_loader and build the model.
 * Returns the plm_model pointer (owned by the caller). Throws PlmError / Error;
 * nothing is left allocated on failure.
 */
export async function loadModel(engine, input, { flags = 0, onProgress, signal } = {}) {
  signal?.throwIfAborted();
  const source = await resolveSource(input);
  const report = progressReporter(onProgress);
  const { fn } = engine;
  let loader = engine.checkPtr(fn.plm_loader_new());
  const vocabOnly = (flags & LOAD_VOCAB_ONLY) !== 0;
  // vocab-only: the loader is DONE after the metadata; the rest of the file is never read
  if (vocabOnly && fn.plm_loader_set_flags) engine.check(fn.plm_loader_set_flags(loader, LOAD_VOCAB_ONLY));
  let loaded = 0;
  const totalOf = () => {
    let t = 0;
    for (const s of source.shards) {
      if (!(s.size >= 0)) return headerTotal;
      t += s.size;
    }
    return t;
  };
  let headerTotal = undefined;
  try {
    for (let i = 0; i < source.shards.length; i++) {
      const shard = source.shards[i];
      if (i > 0) engine.check(fn.plm_loader_next_file(loader));
      let state = LOAD_NEED_MORE;
      let first = true;
      report(loaded, totalOf(), 'download', true);
      chunks: for await (const chunk of shard.open(signal)) {
        signal?.throwIfAborted();
        if (engine.disposed) throw new Error('engine disposed while loading');
        if (first) {
          // the file size lets the parser reject impossible headers before reading on
          if (shard.size >= 0 && fn.plm_loader_set_size) engine.check(fn.plm_loader_set_size(loader, shard.size));
          first = false;
        }
        let off = 0;
        while (off < chunk.length) {
          const dst = engine.checkPtr(fn.plm_loader_dst(loader));
          const room = fn.plm_loader_room(loader) >>> 0;
          const n = Math.min(room, chunk.length - off);
          engine.u8.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), dst);
          state = engine.check(fn.plm_loader_commit(loader, n));
          off += n;
          loaded += n;
          if (state === LOAD_HEADER_READY && source.shards.length === 1 && !(shard.size >= 0))
            headerTotal = fn.plm_loader_file_size(loader);
          if (state === LOAD_DONE) break chunks; // anything after the declared end is ignored
        }
        report(loaded, totalOf(), 'download');
      }
      signal?.throwIfAborted();
      if (state !== LOAD_DONE) break; // plm_loader_finish reports the truncation
      if (vocabOnly) break; // only the first file's metadata is needed
    }
    if (vocabOnly) headerTotal = loaded;
    const total = vocabOnly ? loaded : totalOf() ?? loaded;
    report(loaded, total, 'parse', true);
    signal?.throwIfAborted();
    const l = loader;
    loader = 0; // finish consumes the loader, success or not
    const model = engine.checkPtr(fn.plm_loader_finish(l, flags));
    report(loaded, total, 'ready', true);
    return model;
  } catch (e) {
    if (e?.name === 'PlmError' && source.name) e.message = `${source.name}: ${e.message}`;
    throw e;
  } finally {
    if (loader && !engine.disposed) fn.plm_loader_free(loader);
  }
}
