// source.js — the first stage of loading (load.js has the whole pipeline): model
// sources resolved to byte streams,
//
//   input (path, URL, hf:// URL, bytes, Blob, [shards])
//     -> resolveSource(): { name, shards: [{ name, size?, open(signal) -> AsyncIterable<Uint8Array> }] }
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
import { httpShard, checkTimeout } from './fetch.js';
import { integrityFor, verifiedShard } from './integrity.js';
import { resolveHfUrl, splitNames, isUrlString } from './names.js';

export { resolveHfUrl, splitNames };

const BLOB_CHUNK = 4 << 20;
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
 * retries, timeout (read timeout, ms), baseUrl (for relative URLs), hfEndpoint,
 * fetch (a fetch function), integrity (SHA-256 of the file, or one per file of a
 * split model: see integrity.js; the shards then check it).
 */
export async function resolveSource(input, options = {}) {
  checkTimeout(options.timeout);
  if (options.integrity == null) return resolveShards(input, options);
  const source = await resolveShards(input, { ...options, integrity: undefined });
  const n = source.shards.length;
  const shards = source.shards.map((shard, i) => {
    const expected = integrityFor(options, i, n);
    if (!expected) return shard;
    if (typeof shard.expect === 'function') {
      shard.expect(expected); // (HTTP: checked before the file is cached)
      return shard;
    }
    return verifiedShard(shard, expected);
  });
  return { ...source, shards };
}

async function resolveShards(input, options) {
  if (input == null) throw new TypeError('no model source given (expected a path, URL, ArrayBuffer, Uint8Array or Blob)');
  for (const r of resolvers) {
    const s = await r(input, options);
    if (s) return s;
  }
  if (Array.isArray(input)) {
    if (input.length === 0) throw new TypeError('empty list of model files');
    const parts = [];
    for (const x of input) parts.push(await resolveShards(x, { ...options, noSplit: true }));
    return { name: parts[0].name, shards: parts.flatMap((p) => p.shards) };
  }
  if (input && Array.isArray(input.shards)) return input;
  if (isShard(input)) return { name: input.name ?? 'source', shards: [input] };
  if ((typeof input === 'string' || input instanceof URL) && !options.noSplit) {
    const names = splitNames(String(input));
    if (names && names.length > 1) {
      const s = await resolveShards(names, options);
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
