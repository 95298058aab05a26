// cache.js — downloaded model files, kept for the next load.
//
// Browsers: the Cache API (cache "plm-wasm-models"; needs a secure context:
// https or localhost). Node: a directory (cache-node.js; $PLM_CACHE_DIR, else
// $XDG_CACHE_HOME/plm-wasm or ~/.cache/plm-wasm). Keys are the files' URLs.
//
// A download is stored while it streams and committed only once the whole file
// has arrived (the size the server announced): a partial download is never
// stored, so never served. Files whose size the server does not announce are
// not cached. A cached copy is checked against its size when read.

import { urlsOf } from './names.js';
import { bodyReader } from './body.js';

const CACHE_NAME = 'plm-wasm-models';
const QUEUE_BYTES = 8 << 20; // bytes waiting to be written to the cache before the download waits

/** The Cache API store (browsers, Deno, workers). */
function cacheApiStore() {
  if (typeof caches === 'undefined' || typeof caches.open !== 'function') return null;
  const open = () => caches.open(CACHE_NAME);
  // the SHA-256 of a cached file (when it was computed: integrity checks), by the same key
  const openHashes = () => caches.open(CACHE_NAME + '-sha256');
  const hashOf = async (key) => {
    const res = await (await openHashes()).match(key);
    const t = res ? await res.text() : '';
    return /^[0-9a-f]{64}$/.test(t) ? t : undefined;
  };
  const sizeOf = (res) => {
    const n = Number(res.headers.get('x-plm-size'));
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  };
  const store = {
    kind: 'cache-api',
    async get(key) {
      const cache = await open();
      const res = await cache.match(key);
      if (!res) return null;
      const size = sizeOf(res);
      if (size === undefined || !res.body) {
        await cache.delete(key);
        return null;
      }
      const reader = bodyReader(res.body);
      return {
        size,
        sha256: await hashOf(key),
        reused: reader.reused,
        async *chunks(signal) {
          let n = 0;
          try {
            for (;;) {
              signal?.throwIfAborted();
              const { done, value } = await reader.read();
              if (done) break;
              n += value.length;
              yield value;
            }
          } finally {
            reader.cancel().catch(() => {});
          }
          if (n !== size) {
            await cache.delete(key);
            throw new Error(`the cached copy of ${key} is damaged (${n} of ${size} bytes); it was deleted, load the model again`);
          }
        },
      };
    },
    async writer(key, { size }) {
      if (size === undefined) return null;
      const cache = await open();
      await (await openHashes()).delete(key).catch(() => {});
      let controller;
      let failed = null;
      let wake = null;
      const wakeUp = () => {
        wake?.();
        wake = null;
      };
      const body = new ReadableStream(
        {
          start(c) {
            controller = c;
          },
          pull: wakeUp,
          cancel(reason) {
            failed ??= reason ?? new Error('cache write cancelled');
            wakeUp();
          },
        },
        new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }),
      );
      const headers = {
        'content-type': 'application/octet-stream',
        'content-length': String(size),
        'x-plm-size': String(size),
        'x-plm-date': new Date().toISOString(),
      };
      const put = cache.put(key, new Response(body, { headers }));
      put.catch((e) => {
        failed ??= e;
        wakeUp();
      });
      return {
        async write(chunk) {
          if (failed) return; // (quota exceeded, ...) the model still loads, it is just not cached
          controller.enqueue(chunk.slice());
          while (!failed && controller.desiredSize <= 0) await new Promise((r) => (wake = r));
        },
        async commit({ sha256 } = {}) {
          if (failed) return false;
          controller.close();
          await put;
          if (sha256) await (await openHashes()).put(key, new Response(sha256)).catch(() => {});
          return true;
        },
        async abort() {
          if (failed) return void (await put.catch(() => {}));
          failed = true;
          // the partial entry is closed, then deleted (not stored: get() also refuses any
          // entry shorter than its x-plm-size). (Erroring the body instead makes Firefox
          // log "Failed to read data from the ReadableStream" on the page's console.)
          controller.close();
          await put.catch(() => {});
          await cache.delete(key).catch(() => {});
        },
      };
    },
    async list() {
      const cache = await open();
      const out = [];
      for (const req of await cache.keys()) {
        const res = await cache.match(req);
        if (!res) continue;
        const sha256 = await hashOf(req.url);
        out.push({ url: req.url, size: sizeOf(res), date: res.headers.get('x-plm-date') ?? undefined, ...(sha256 ? { sha256 } : {}) });
      }
      return out;
    },
    async delete(key) {
      await (await openHashes()).delete(key).catch(() => {});
      return (await open()).delete(key);
    },
  };
  return store;
}

let platformStore = cacheApiStore;
let customStore = null;

/** Internal: where the loader finds the store. */
export const modelCache = {
  /** The store in use (null when this environment has none). */
  async store() {
    if (customStore !== null) return customStore || null;
    return platformStore();
  },
};

/** Replace the platform's store factory (Node installs its directory store). */
export function setPlatformCacheStore(factory) {
  platformStore = factory;
}

function keysOf(source) {
  if (source instanceof URL || typeof source === 'string') {
    const urls = urlsOf(source);
    if (!urls) throw new TypeError(`not a URL: ${source} (cached models are listed by URL)`);
    return urls.map(String);
  }
  throw new TypeError('expected a URL, an hf:// reference or a URL string');
}

/**
 * The model cache: files downloaded by load() (from http(s) URLs and hf://
 * references), reused by later loads without network. load(url, { cache: false })
 * neither reads nor writes it.
 */
export const ModelCache = {
  /** Cached files: [{ url, size, date }]. */
  async list() {
    const s = await modelCache.store();
    return s ? s.list() : [];
  },
  /** Whether every file of a model (split models: all parts) is cached. */
  async has(source) {
    const s = await modelCache.store();
    if (!s) return false;
    for (const key of keysOf(source)) {
      const hit = await s.get(key);
      if (!hit) return false;
    }
    return true;
  },
  /** Delete a model's files (split models: all parts). Returns how many were deleted. */
  async delete(source) {
    const s = await modelCache.store();
    if (!s) return 0;
    let n = 0;
    for (const key of keysOf(source)) if (await s.delete(key)) n++;
    return n;
  },
  /** Delete every cached model. Returns how many files were deleted. */
  async clear() {
    const s = await modelCache.store();
    if (!s) return 0;
    let n = 0;
    for (const { url } of await s.list()) if (await s.delete(url)) n++;
    return n;
  },
  /**
   * Use another store: an object with get/writer/list/delete (see cache.js), or
   * null to go back to the platform's, or false to disable caching everywhere.
   */
  setStore(store) {
    customStore = store === null ? null : store || false;
  },
};
