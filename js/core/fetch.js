// fetch.js — a model file over HTTP as a stream of chunks:
//
//  - the response body is read as it arrives (never buffered whole);
//  - a dropped connection (network error, or a body shorter than its
//    Content-Length) is resumed with a Range request from the last byte
//    received (If-Range guards against the file changing meanwhile; a server
//    that ignores Range is read again from the start, skipping what we have);
//  - HTTP errors and network failures become errors that say what happened;
//  - through cache.js, a completed download is stored and later loads read it
//    without any request (a partial download is never stored).

import { modelCache } from './cache.js';
import { bodyReader } from './body.js';

const RETRIES = 5;
const RETRY_DELAY_MS = 300;
const DRAIN_LIMIT = 1 << 20; // after the loader is done: read at most this much more to complete the cached copy

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Where a URL points, for messages (no query string: it may hold tokens). */
function shortName(url) {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return String(url);
  }
}

function httpError(url, res) {
  const hint =
    res.status === 404
      ? ' (no such file)'
      : res.status === 401 || res.status === 403
        ? url.hostname?.endsWith('huggingface.co')
          ? ' (a gated or private Hugging Face repository: it needs a login the browser does not send; download the file and serve it yourself)'
          : ' (access denied)'
        : res.status === 416
          ? ' (the server refused the byte range)'
          : '';
  const err = new Error(`cannot fetch ${shortName(url)}: HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}${hint}`);
  err.status = res.status;
  return err;
}

const transient = (status) => status === 408 || status === 425 || status === 429 || status >= 500;

function contentLength(res) {
  if (res.headers.get('content-encoding')) return undefined; // the length of the compressed body
  const n = Number(res.headers.get('content-length'));
  return res.headers.has('content-length') && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function contentRange(res) {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) } : null;
}

/** A validator usable with If-Range: a strong ETag, else Last-Modified. */
function validatorOf(res) {
  const etag = res.headers.get('etag');
  if (etag && !etag.startsWith('W/')) return etag;
  return res.headers.get('last-modified') ?? null;
}

class DroppedConnection extends Error {}

/**
 * The body of `url` as chunks, resuming after dropped connections.
 * `info` receives size (the file's, when the server says), resumes (count).
 */
export async function* fetchResumable(url, { signal, retries = RETRIES, retryDelay = RETRY_DELAY_MS, fetch: fetchFn = globalThis.fetch, info = {} } = {}) {
  if (typeof fetchFn !== 'function') throw new Error('fetch() is not available in this environment');
  let received = 0;
  let total;
  let validator = null;
  let failures = 0;
  let lastError = null;
  info.resumes = 0;

  const fail = async (e) => {
    if (signal?.aborted) throw signal.reason;
    lastError = e;
    if (++failures > retries) {
      const at = received > 0 ? ` after ${received}${total !== undefined ? ` of ${total}` : ''} bytes` : '';
      throw new Error(`cannot fetch ${shortName(url)}: ${e.message || e}${at} (gave up after ${retries} retries)`, { cause: e });
    }
    await sleep(retryDelay * 2 ** (failures - 1), signal);
  };

  for (;;) {
    const headers = {};
    if (received > 0) {
      headers.Range = `bytes=${received}-`;
      if (validator) headers['If-Range'] = validator;
      info.resumes++;
    }
    let res;
    try {
      res = await fetchFn(url, { signal, headers });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      await fail(new Error(`network error (${e.cause?.code ?? e.cause?.message ?? e.message})`, { cause: e }));
      continue;
    }
    let skip = 0;
    if (received === 0 || res.status === 200) {
      if (!res.ok) {
        res.body?.cancel().catch(() => {});
        if (transient(res.status)) {
          await fail(httpError(url, res));
          continue;
        }
        throw httpError(url, res);
      }
      if (received > 0) {
        // the server ignored the Range (or the file changed, and If-Range asked for all of it)
        const v = validatorOf(res);
        const n = contentLength(res);
        if ((validator && v && v !== validator) || (total !== undefined && n !== undefined && n !== total)) {
          res.body?.cancel().catch(() => {});
          throw new Error(`cannot fetch ${shortName(url)}: the file changed on the server while it was downloading; load it again`);
        }
        skip = received;
      } else {
        total = contentLength(res);
        validator = validatorOf(res);
        info.size = total;
        info.response = res;
      }
    } else if (res.status === 206) {
      const r = contentRange(res);
      if (!r || r.start !== received || (total !== undefined && r.total !== undefined && r.total !== total)) {
        res.body?.cancel().catch(() => {});
        throw new Error(`cannot fetch ${shortName(url)}: the server answered the resume request with the wrong byte range (${res.headers.get('content-range')})`);
      }
    } else {
      res.body?.cancel().catch(() => {});
      if (transient(res.status)) {
        await fail(httpError(url, res));
        continue;
      }
      throw httpError(url, res);
    }

    if (!res.body) {
      // (old engines without streaming bodies) the whole rest at once
      let bytes;
      try {
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        await fail(new Error(`network error (${e.message})`, { cause: e }));
        continue;
      }
      if (skip) bytes = bytes.subarray(Math.min(skip, bytes.length));
      received += bytes.length;
      if (bytes.length) yield bytes;
    } else {
      const reader = bodyReader(res.body);
      info.reused = reader.reused;
      let dropped = null;
      try {
        for (;;) {
          let r;
          try {
            r = await reader.read();
          } catch (e) {
            if (signal?.aborted) throw signal.reason;
            throw new DroppedConnection(`connection lost (${e.cause?.code ?? e.cause?.message ?? e.message})`, { cause: e });
          }
          if (r.done) break;
          let chunk = r.value;
          if (skip) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          received += chunk.length;
          failures = 0;
          yield chunk;
        }
      } catch (e) {
        if (!(e instanceof DroppedConnection)) throw e;
        dropped = e;
      } finally {
        reader.cancel().catch(() => {});
      }
      if (dropped) {
        await fail(dropped);
        continue;
      }
    }
    if (total !== undefined && received < total) {
      await fail(new Error(`the connection closed early`));
      continue;
    }
    if (total !== undefined && received > total) throw new Error(`cannot fetch ${shortName(url)}: the server sent ${received} bytes, more than the ${total} it announced`);
    info.lastError = lastError;
    return;
  }
}

/**
 * A model file at `url` as a shard for the loader (see source.js), read from
 * the model cache when it is there, else downloaded (and stored in the cache
 * once complete). options: cache (default true; false = neither read nor
 * write the cache), retries, retryDelay, fetch.
 */
export function httpShard(url, options = {}) {
  url = url instanceof URL ? url : new URL(url);
  const useCache = options.cache !== false && /^https?:$/.test(url.protocol);
  const shard = {
    name: String(url),
    url,
    size: undefined,
    owned: true, // (false while it yields views of one reused read buffer: see bodyReader)
    fromCache: false,
    resumes: 0,
    consumerDone: false,
    /** The file's size without downloading it (cache entry or HEAD request); undefined if unknown. */
    async probeSize(signal) {
      if (shard.size >= 0) return shard.size;
      try {
        const store = useCache ? await modelCache.store() : null;
        const hit = store && (await store.get(shard.name));
        if (hit) return hit.size;
        const res = await (options.fetch ?? globalThis.fetch)(url, { method: 'HEAD', signal });
        return res.ok ? contentLength(res) : undefined;
      } catch {
        return undefined;
      }
    },
    /** The consumer has all it needs (it may stop reading before the last bytes). */
    finished() {
      shard.consumerDone = true;
    },
    async *open(signal) {
      shard.consumerDone = false;
      const store = useCache ? await modelCache.store() : null;
      if (store) {
        const hit = await store.get(shard.name);
        if (hit) {
          shard.size = hit.size;
          shard.owned = !hit.reused;
          shard.fromCache = true;
          yield* hit.chunks(signal);
          return;
        }
      }
      const info = {};
      const it = fetchResumable(url, { ...options, signal, info })[Symbol.asyncIterator]();
      let writer = null;
      let complete = false;
      let received = 0;
      try {
        for (;;) {
          const { done, value } = await it.next();
          if (done) {
            complete = true;
            break;
          }
          if (received === 0) {
            shard.size = info.size;
            shard.owned = !info.reused;
            if (store) writer = await store.writer(shard.name, { size: info.size }).catch(() => null);
          }
          received += value.length;
          shard.resumes = info.resumes;
          if (writer) await writer.write(value);
          yield value;
        }
      } finally {
        // The consumer may stop at the end of the tensor data (finished()); the file may
        // have a few bytes more (final padding). Read them so the cached copy is complete.
        // A consumer that stops because of an error gets nothing cached.
        if (!complete && writer && shard.consumerDone && !signal?.aborted && info.size !== undefined && info.size - received <= DRAIN_LIMIT) {
          try {
            for (;;) {
              const { done, value } = await it.next();
              if (done) {
                complete = true;
                break;
              }
              received += value.length;
              await writer.write(value);
            }
          } catch {
            complete = false;
          }
        }
        await it.return?.();
        if (writer) {
          if (complete && (info.size === undefined || received === info.size)) await writer.commit().catch(() => {});
          else await writer.abort().catch(() => {});
        }
      }
    },
  };
  return shard;
}
