// fetch.js — a model file over HTTP as a stream of chunks:
//
//  - the response body is read as it arrives (never buffered whole);
//  - a dropped connection (network error, a body shorter than its
//    Content-Length, or no bytes for `timeout` ms) is resumed with a Range
//    request from the last byte received, guarded by If-Range with the first
//    response's strong validator (a strong ETag, else a Last-Modified date at
//    least one second older than the response's Date: RFC 9110 13.1.5). A file
//    with no strong validator is never resumed with Range (the rest could come
//    from a different version of the file): it is read again from byte 0, and
//    its first bytes are checked (a hash: PrefixCheck) against those already
//    given before anything new is used; a server that ignores Range is handled
//    the same way;
//  - with an integrity hash (options.integrity, see integrity.js), the whole
//    file is hashed as it streams and checked before it is cached;
//  - HTTP errors and network failures become errors that say what happened;
//  - through cache.js, a completed download is stored and later loads read it
//    without any request (a partial download is never stored).

import { modelCache } from './cache.js';
import { bodyReader } from './body.js';
import { newSha256, toHex, mismatchError } from './integrity.js';
import { platform } from './platform.js';

const RETRIES = 5;
const RETRY_DELAY_MS = 300;
// The default read timeout (options.timeout): a request that has had no response headers, or
// a body no byte, for this long counts as a dropped connection (retried, resumed with Range).
// Browsers' fetch() has no such limit, and Firefox has been seen to leave a model request
// unanswered for good (no connection open; README, "Tests"): without it the load never ends.
export const DEFAULT_TIMEOUT_MS = 30000;
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

/**
 * A validator usable with If-Range: a strong ETag, else a strong Last-Modified
 * (RFC 9110 8.8.2.2: at least one second before the response's Date), else null.
 */
export function validatorOf(res) {
  const etag = res.headers.get('etag');
  if (etag && !etag.startsWith('W/')) return etag;
  const lm = res.headers.get('last-modified');
  const date = res.headers.get('date');
  if (lm && date) {
    const a = Date.parse(lm);
    const b = Date.parse(date);
    if (Number.isFinite(a) && Number.isFinite(b) && b - a >= 1000) return lm;
  }
  return null;
}

class DroppedConnection extends Error {}

/**
 * The check of a re-read file's start (no validator): two FNV-1a-style lanes, ~500 MB/s in
 * JS where SHA-256 is 140 (it runs on every download from a server without a validator, and
 * guards against a file that changed, not against a forger: that is what `integrity` is for).
 * Each step is a bijection of the state for a given byte, so two inputs that differ in a
 * single byte always give different results. Node uses its native SHA-256 instead.
 */
class PrefixCheck {
  constructor(a = 0x811c9dc5 | 0, b = 0x2545f491 | 0) {
    this.a = a;
    this.b = b;
  }

  update(u8) {
    let { a, b } = this;
    for (let i = 0; i < u8.length; i++) {
      const x = u8[i];
      a = Math.imul(a ^ x, 0x01000193);
      b = Math.imul(b ^ x, 0x5bd1e995) ^ (b >>> 15);
    }
    this.a = a;
    this.b = b;
  }

  copy() {
    return new PrefixCheck(this.a, this.b);
  }

  digest() {
    return new Uint8Array(new Int32Array([this.a, this.b]).buffer);
  }
}

const newPrefixCheck = () => (platform.newSha256 ? newSha256() : new PrefixCheck());

const changed = (url, why) => new Error(`cannot fetch ${shortName(url)}: the file changed on the server while it was downloading${why}; load it again`);

export function checkTimeout(timeout) {
  if (timeout !== undefined && timeout !== Infinity && !(typeof timeout === 'number' && timeout > 0 && timeout <= 2 ** 31 - 1))
    throw new TypeError(`timeout: expected a number of milliseconds > 0 (or Infinity: none), got ${timeout}`);
}

/**
 * The body of `url` as chunks, resuming after dropped connections.
 * `info` receives size (the file's, when the server says), resumes (count),
 * restarts (resumes that read the file again from byte 0).
 * timeout: ms without a byte (or without response headers) after which the
 * connection counts as dropped (retried like one); default DEFAULT_TIMEOUT_MS,
 * Infinity for none.
 */
export async function* fetchResumable(url, { signal, retries = RETRIES, retryDelay = RETRY_DELAY_MS, fetch: fetchFn = globalThis.fetch, timeout = DEFAULT_TIMEOUT_MS, info = {} } = {}) {
  if (typeof fetchFn !== 'function') throw new Error('fetch() is not available in this environment');
  checkTimeout(timeout);
  let received = 0;
  let total;
  let validator = null;
  let prefix = null; // no strong validator: SHA-256 of the bytes given so far (a re-read from 0 is checked against it)
  let failures = 0;
  let lastError = null;
  info.resumes = 0;
  info.restarts = 0;

  const fail = async (e) => {
    if (signal?.aborted) throw signal.reason;
    lastError = e;
    if (++failures > retries) {
      const at = received > 0 ? ` after ${received}${total !== undefined ? ` of ${total}` : ''} bytes` : '';
      throw new Error(`cannot fetch ${shortName(url)}: ${e.message || e}${at} (gave up after ${retries} retries)`, { cause: e });
    }
    await sleep(retryDelay * 2 ** (failures - 1), signal);
  };

  // one request: its own AbortController (the caller's signal, and the read timeout)
  let ctrl = null;
  let timer = null;
  let stalled = false;
  const onAbort = () => ctrl?.abort(signal.reason);
  signal?.addEventListener('abort', onAbort);
  const arm = () => {
    clearTimeout(timer);
    if (timeout !== Infinity) timer = setTimeout(() => {
      stalled = true;
      ctrl.abort(new Error(`no data for ${timeout} ms`));
    }, timeout);
  };
  const disarm = () => clearTimeout(timer);
  const stallMessage = () => `read timeout: no data for ${timeout} ms`;

  try {
    for (;;) {
      const headers = {};
      if (received > 0) {
        info.resumes++;
        if (validator) {
          headers.Range = `bytes=${received}-`;
          headers['If-Range'] = validator;
        } else info.restarts++; // (no validator to resume against: from byte 0, checked against what was given)
      }
      ctrl = new AbortController();
      stalled = false;
      let res;
      try {
        arm();
        res = await fetchFn(url, { signal: ctrl.signal, headers });
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        await fail(new Error(stalled ? stallMessage() : `network error (${e.cause?.code ?? e.cause?.message ?? e.message})`, { cause: e }));
        continue;
      } finally {
        disarm();
      }
      let skip = 0;
      let verify = null; // re-read from 0 without a validator: { h, want } for the first `received` bytes
      const checkPrefix = () => {
        const got = toHex(verify.h.digest());
        if (got !== verify.want) throw changed(url, ' (it has no ETag or Last-Modified to resume against, and its first bytes differ now)');
        verify = null;
      };
      // the part of a re-read chunk already given; returns the rest (new bytes)
      const skipGiven = (chunk) => {
        if (!skip) return chunk;
        const n = Math.min(skip, chunk.length);
        verify?.h.update(chunk.subarray(0, n));
        skip -= n;
        if (skip === 0 && verify) checkPrefix();
        return chunk.subarray(n);
      };
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
          // a restart from 0 (no validator), or the server ignored the Range, or the file
          // changed and If-Range asked for all of it
          const v = validatorOf(res);
          const n = contentLength(res);
          if ((validator && v !== validator) || (total !== undefined && n !== undefined && n !== total)) {
            res.body?.cancel().catch(() => {});
            throw changed(url, '');
          }
          skip = received;
          if (!validator) verify = { h: newPrefixCheck(), want: toHex(prefix.copy().digest()) };
        } else {
          total = contentLength(res);
          validator = validatorOf(res);
          if (!validator) prefix = newPrefixCheck();
          info.size = total;
          info.response = res;
        }
      } else if (res.status === 206) {
        const r = contentRange(res);
        if (!r || r.start !== received || (total !== undefined && r.total !== undefined && r.total !== total)) {
          res.body?.cancel().catch(() => {});
          throw new Error(`cannot fetch ${shortName(url)}: the server answered the resume request with the wrong byte range (${res.headers.get('content-range')})`);
        }
        const v = validatorOf(res);
        if (!validator || (v && v !== validator)) {
          // (a server that ignores If-Range, or a 206 to a request without Range)
          res.body?.cancel().catch(() => {});
          throw changed(url, ` (resumed with validator ${validator}, the server sent ${v ?? 'none'})`);
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
          arm();
          bytes = new Uint8Array(await res.arrayBuffer());
        } catch (e) {
          if (signal?.aborted) throw signal.reason;
          await fail(new Error(stalled ? stallMessage() : `network error (${e.message})`, { cause: e }));
          continue;
        } finally {
          disarm();
        }
        bytes = skipGiven(bytes);
        if (skip) {
          await fail(new Error(`the connection closed early`));
          continue;
        }
        received += bytes.length;
        prefix?.update(bytes);
        if (bytes.length) yield bytes;
      } else {
        const reader = bodyReader(res.body);
        info.reused = reader.reused;
        let dropped = null;
        try {
          for (;;) {
            let r;
            try {
              arm();
              r = await reader.read();
            } catch (e) {
              if (signal?.aborted) throw signal.reason;
              throw new DroppedConnection(stalled ? stallMessage() : `connection lost (${e.cause?.code ?? e.cause?.message ?? e.message})`, { cause: e });
            } finally {
              disarm();
            }
            if (r.done) break;
            const chunk = skipGiven(r.value);
            if (chunk.length === 0) continue;
            received += chunk.length;
            failures = 0;
            prefix?.update(chunk);
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
        if (skip) {
          await fail(new Error(`the connection closed early`));
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
  } finally {
    disarm();
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A model file at `url` as a shard for the loader (see source.js), read from
 * the model cache when it is there, else downloaded (and stored in the cache
 * once complete). options: cache (default true; false = neither read nor
 * write the cache), retries, retryDelay, fetch, timeout.
 * shard.expect(integrity) (see integrity.js) makes open() check the file's SHA-256:
 * it is read to the end, a mismatch throws and nothing is cached; the cached copy
 * records the hash, and a later load asking for another hash fetches the file again.
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
    expected: null, // { hex, text } from integrity.js
    expect(integrity) {
      shard.expected = integrity ?? null;
    },
    /** The file's size without downloading it (cache entry or HEAD request); undefined if unknown. */
    async probeSize(signal) {
      if (shard.size >= 0) return shard.size;
      try {
        const store = useCache ? await modelCache.store() : null;
        const hit = store && (await store.get(shard.name));
        if (hit) return hit.size;
        // (with a read timeout: a HEAD that stalls longer gives up; the size is then unknown)
        const ac = new AbortController();
        const onAbort = () => ac.abort(signal.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
        const timer = timeout !== Infinity ? setTimeout(() => ac.abort(), timeout) : null;
        try {
          const res = await (options.fetch ?? globalThis.fetch)(url, { method: 'HEAD', signal: ac.signal });
          return res.ok ? contentLength(res) : undefined;
        } finally {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        }
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
        let hit = await store.get(shard.name);
        if (hit && shard.expected && hit.sha256 !== shard.expected.hex) {
          // cached with another hash (the file changed since, or the hash asked for is
          // wrong), or with none: fetch it again (and check that copy)
          await store.delete(shard.name).catch(() => {});
          hit = null;
        }
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
      const expected = shard.expected;
      // (the hash is also worth keeping in the cache when it is cheap: Node's native one)
      const hash = expected || (useCache && platform.newSha256) ? newSha256() : null;
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
          hash?.update(value);
          if (writer) await writer.write(value);
          yield value;
        }
      } finally {
        // The consumer may stop at the end of the tensor data (finished()); the file may
        // have a few bytes more (final padding). Read them so the cached copy is complete.
        // A consumer that stops because of an error gets nothing cached.
        // With an integrity hash, the whole file is read (whatever its size) and checked.
        let failure = null;
        const drain = expected ? true : writer && info.size !== undefined && info.size - received <= DRAIN_LIMIT;
        if (!complete && drain && shard.consumerDone && !signal?.aborted) {
          try {
            for (;;) {
              const { done, value } = await it.next();
              if (done) {
                complete = true;
                break;
              }
              received += value.length;
              hash?.update(value);
              if (writer) await writer.write(value);
            }
          } catch (e) {
            complete = false;
            if (expected) failure = e; // (unverified: the model must not be used)
          }
        }
        await it.return?.();
        let sha256;
        if (complete && hash) {
          sha256 = toHex(hash.digest());
          if (expected && sha256 !== expected.hex) failure = mismatchError(shard.name, expected, sha256);
        }
        if (writer) {
          if (complete && !failure && (info.size === undefined || received === info.size)) await writer.commit({ sha256 }).catch(() => {});
          else await writer.abort().catch(() => {});
        }
        if (failure) throw failure;
      }
    },
  };
  return shard;
}
