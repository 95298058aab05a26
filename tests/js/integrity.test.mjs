// Hostile inputs over the network (issue 12), against the local server (loader_server.mjs,
// 127.0.0.1 only): resume rules (a resumed download is spliced only with a strong
// validator; otherwise it is read again from 0 and its start checked), the read timeout
// (`timeout`), and the `integrity` option (SHA-256 checked while streaming, cache
// entries keep their hash). The incremental SHA-256 (js/core/sha256.js) against known vectors.
import { test, before, after, beforeEach, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT, Tokenizer, Engine, ModelCache, PlmError } from '../../js/node.js';
import { Sha256, toHex } from '../../js/core/sha256.js';
import { parseIntegrity } from '../../js/core/integrity.js';
import { fetchResumable, DEFAULT_TIMEOUT_MS } from '../../js/core/fetch.js';
import { setModelWorkerFactory, workerStart } from '../../js/core/remote.js';
import { Worker } from 'node:worker_threads';
import { ROOT } from './helpers.mjs';
import { startServer } from './loader_server.mjs';
import { splitGGUF } from './loader_helpers.mjs';

const Q8 = 'tests/fixtures/gpt2/gpt2-tiny-Q8_0.gguf';
const F32 = 'tests/fixtures/gpt2/gpt2-tiny-F32.gguf';
const STORIES = 'tests/fixtures/llama/stories260K/stories260K-F32.gguf';
const bytesOf = (p) => new Uint8Array(readFileSync(join(ROOT, p)));
const hexOf = (b) => createHash('sha256').update(b).digest('hex');
const sriOf = (b) => 'sha256-' + createHash('sha256').update(b).digest('base64');
const IDS = [1, 50, 100, 7, 300, 2];
const opts = { threads: 1, cache: false, retryDelay: 5 };

let srv;
let cacheDir;
const splitFiles = {};

before(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'plm-cache-'));
  ModelCache.directory = cacheDir;
  splitGGUF(bytesOf(F32), 3).forEach((b, i) => (splitFiles[`/split/gpt2-tiny-F32-0000${i + 1}-of-00003.gguf`] = Buffer.from(b)));
  srv = await startServer({ root: ROOT, files: splitFiles });
});
after(async () => {
  await srv.close();
  ModelCache.directory = null;
  rmSync(cacheDir, { recursive: true, force: true });
});
beforeEach(() => srv.reset());

async function sameAs(m, ref) {
  assert.deepEqual(m.info, ref.info);
  assert.deepEqual(await m.logits(IDS), await ref.logits(IDS));
}

test('SHA-256: FIPS 180-4 vectors, any chunking = one update, node:crypto on random data', () => {
  const enc = (s) => new TextEncoder().encode(s);
  const h = (u8) => toHex(new Sha256().update(u8).digest());
  assert.equal(h(enc('')), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(h(enc('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(h(enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  assert.equal(h(new Uint8Array(1e6).fill(0x61)), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  let seed = 7;
  const data = new Uint8Array(300001).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 300001]) {
    const s = new Sha256();
    for (let o = 0, k = 1; o < n; o += k, k = (k * 7 + 3) % 4099 + 1) s.update(data.subarray(o, Math.min(n, o + k)));
    const copy = s.copy();
    assert.equal(toHex(s.digest()), hexOf(data.subarray(0, n)), `${n} bytes`);
    assert.equal(toHex(copy.update(data.subarray(0, 3)).digest()), hexOf(Buffer.concat([data.subarray(0, n), data.subarray(0, 3)])));
  }
});

test('integrity option: forms accepted and refused', () => {
  const b = bytesOf(Q8);
  const hex = hexOf(b);
  assert.equal(parseIntegrity(sriOf(b)).hex, hex);
  assert.equal(parseIntegrity(`sha256:${hex.toUpperCase()}`).hex, hex);
  assert.equal(parseIntegrity(hex).hex, hex);
  assert.equal(parseIntegrity(`sha512-abc ${sriOf(b)}`).hex, hex, 'SRI lists: the sha256 entry');
  assert.throws(() => parseIntegrity('sha512-' + 'A'.repeat(86) + '=='), /sha512 is not supported/);
  assert.throws(() => parseIntegrity('md5:abc'), /not a SHA-256 hash/);
  assert.throws(() => parseIntegrity(42), /expected a string/);
});

test('resume without a strong validator: read again from byte 0, never spliced; a changed start is refused', async () => {
  const file = bytesOf(STORIES);
  const ref = await GPT.load(file, { threads: 1 });
  const cutAt = 300000;
  for (const validators of ['none', 'weak']) {
    // the same file: the restart from 0 is checked against what was given, then continues
    srv.reset();
    srv.rule(STORIES, { cutAt, validators });
    const m = await GPT.load(srv.url(STORIES), opts);
    await sameAs(m, ref);
    m.dispose();
    assert.equal(srv.requests.length, 2);
    assert.equal(srv.requests[1].range, null, `${validators}: no Range request without a strong validator`);
    assert.equal(srv.requests[1].status, 200);
    // the file changed (same size) before the cut point: refused, not spliced
    srv.reset();
    const other = Buffer.from(file);
    other[200000] ^= 1;
    srv.rule(STORIES, { cutAt, validators, changeAfterCut: other });
    await assert.rejects(GPT.load(srv.url(STORIES), opts), /stories260K-F32\.gguf: the file changed on the server while it was downloading \(it has no ETag or Last-Modified to resume against, and its first bytes differ now\)/);
    assert.equal(srv.requests[1].range, null);
  }
  // changed after the cut point: the start is the same, so what was given is the new
  // file's start and the rest is the new file's (the model is the new file, whole)
  srv.reset();
  const newer = Buffer.from(file);
  newer[file.length - 3] ^= 1;
  srv.rule(STORIES, { cutAt, validators: 'none', changeAfterCut: newer });
  const m2 = await GPT.load(srv.url(STORIES), opts);
  const ref2 = await GPT.load(newer, { threads: 1 });
  await sameAs(m2, ref2);
  m2.dispose();
  ref2.dispose();
  ref.dispose();
});

test('resume with a strong validator: Range + If-Range (ETag, else Last-Modified); a changed file is refused', async () => {
  const file = bytesOf(STORIES);
  const ref = await GPT.load(file, { threads: 1 });
  srv.rule(STORIES, { cutAt: 300000, validators: 'last-modified' });
  const m = await GPT.load(srv.url(STORIES), opts);
  await sameAs(m, ref);
  m.dispose();
  assert.equal(srv.requests.length, 2);
  assert.match(srv.requests[1].range, /^bytes=\d+-$/);
  assert.match(srv.requests[1].ifRange, /GMT$/, 'If-Range carries the Last-Modified date');
  assert.equal(srv.requests[1].status, 206);
  // a new version after the cut: If-Range fails, the server sends the whole new file: refused
  for (const validators of ['etag', 'last-modified']) {
    srv.reset();
    const other = Buffer.from(file);
    other[400000] ^= 1;
    srv.rule(STORIES, { cutAt: 300000, validators, changeAfterCut: other });
    await assert.rejects(GPT.load(srv.url(STORIES), opts), /the file changed on the server while it was downloading; load it again/);
    assert.equal(srv.requests[1].status, 200);
  }
  ref.dispose();
});

test('timeout: a stalled connection is dropped after `timeout` ms of silence, resumed, or reported', async () => {
  const ref = await GPT.load(bytesOf(STORIES), { threads: 1 });
  srv.rule(STORIES, { stallAt: 200000 });
  const t0 = Date.now();
  const m = await GPT.load(srv.url(STORIES), { ...opts, timeout: 300 });
  await sameAs(m, ref);
  m.dispose();
  assert.ok(Date.now() - t0 >= 300);
  assert.equal(srv.requests.length, 2);
  assert.equal(srv.requests[0].stalled, true);
  assert.match(srv.requests[1].range, /^bytes=200000-$/);
  // stalls every time: retried, then a clear error
  srv.reset();
  srv.rule(STORIES, { stallAt: 100, stalls: 10 });
  srv.rule(Q8, { stallAt: 50000, stalls: 10 });
  await assert.rejects(GPT.load(srv.url(Q8), { ...opts, timeout: 150, retries: 2 }), /cannot fetch .*gpt2-tiny-Q8_0\.gguf: read timeout: no data for 150 ms after 50000 of 192320 bytes \(gave up after 2 retries\)/);
  assert.equal(srv.requests.length, 3);
  // a slow but steady server is not a stall
  srv.reset();
  srv.rule(Q8, { slow: { bytes: 16 << 10, ms: 40 } });
  const q = await GPT.load(srv.url(Q8), { ...opts, timeout: 400 });
  assert.equal(srv.requests.length, 1);
  q.dispose();
  await assert.rejects(GPT.load(srv.url(Q8), { ...opts, timeout: -1 }), /timeout: expected a number of milliseconds > 0/);
  ref.dispose();
});

test('timeout: by default a request unanswered for DEFAULT_TIMEOUT_MS is dropped and retried; Infinity waits', { timeout: 30000 }, async () => {
  // (Firefox has left a model request without a response for good, with no connection open:
  // a load must not wait for it forever. Mocked timers: no 30 s wait.)
  assert.equal(DEFAULT_TIMEOUT_MS, 30000);
  const flush = () => new Promise((r) => setImmediate(r));
  const hanging = () => {
    const calls = [];
    const f = (url, init) => {
      calls.push(init);
      if (calls.length > 1) return Promise.resolve(new Response(new Uint8Array([1, 2, 3]), { headers: { 'content-length': '3' } }));
      return new Promise((_, reject) => init.signal.addEventListener('abort', () => reject(init.signal.reason)));
    };
    return { f, calls };
  };
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { f, calls } = hanging();
    const info = {};
    const it = fetchResumable('http://127.0.0.1:9/x.gguf', { fetch: f, retryDelay: 1, info });
    const first = it.next();
    await flush();
    mock.timers.tick(DEFAULT_TIMEOUT_MS - 1);
    await flush();
    assert.equal(calls.length, 1);
    assert.equal(calls[0].signal.aborted, false);
    mock.timers.tick(1);
    await flush();
    assert.equal(calls[0].signal.aborted, true);
    mock.timers.tick(1); // the retry delay
    await flush();
    assert.equal(calls.length, 2);
    assert.deepEqual(Array.from((await first).value), [1, 2, 3]);
    await it.return();
    // timeout: Infinity: no timer, the request may take as long as it takes
    const h2 = hanging();
    const it2 = fetchResumable('http://127.0.0.1:9/x.gguf', { fetch: h2.f, timeout: Infinity });
    it2.next().catch(() => {});
    await flush();
    mock.timers.tick(10 * DEFAULT_TIMEOUT_MS);
    await flush();
    assert.deepEqual([h2.calls.length, h2.calls[0].signal.aborted], [1, false]);
  } finally {
    mock.timers.reset();
  }
});

test('worker mode: a model worker that takes no byte of the file within workerStart.timeoutMs is replaced, once', { timeout: 120000 }, async () => {
  // (Firefox has left a model worker blocked for good while it started its thread-pool worker.)
  // Node's worker factory (as remote-node.js), the first `stuck` workers never get the file's chunks.
  const nodeWorker = () => {
    const w = new Worker(new URL('../../js/worker-node.js', import.meta.url), { name: 'plm-model' });
    w.unref();
    return {
      post: (m, transfer) => w.postMessage(m, transfer ?? []),
      onMessage: (f) => w.on('message', f),
      onError: (f) => {
        w.on('error', f);
        w.on('exit', (code) => f(new Error(`the model worker exited (code ${code})`)));
      },
      terminate: () => w.terminate(),
      ref: () => w.ref(),
      unref: () => w.unref(),
    };
  };
  let started = 0;
  const withStuck = (stuck) =>
    setModelWorkerFactory(() => {
      const port = nodeWorker();
      if (++started > stuck) return port;
      return { ...port, post: (m, transfer) => (['chunk', 'end', 'eof'].includes(m.t) ? undefined : port.post(m, transfer)) };
    });
  const ref = await GPT.load(bytesOf(STORIES), { threads: 1 });
  const saved = workerStart.timeoutMs;
  const warn = mock.method(console, 'warn', () => {});
  workerStart.timeoutMs = 5000; // (a real worker under load needs a few seconds to start)
  try {
    withStuck(1);
    const m = await GPT.load(srv.url(STORIES), { ...opts, worker: true });
    assert.equal(started, 2);
    assert.equal(m.runtime.worker, true);
    await sameAs(m, ref);
    m.dispose();
    assert.match(warn.mock.calls[0].arguments[0], /the model worker did not start within 5 s \(it took no byte of the file\); loading again in a new worker/);
    started = 0;
    withStuck(2);
    await assert.rejects(GPT.load(srv.url(STORIES), { ...opts, worker: true }), /the model worker did not start within 5 s/);
    assert.equal(started, 2);
  } finally {
    workerStart.timeoutMs = saved;
    warn.mock.restore();
    setModelWorkerFactory(() => nodeWorker());
    ref.dispose();
  }
});

test('integrity: checked while streaming, from URLs, bytes and files; a mismatch names the file and both hashes', async () => {
  const file = bytesOf(Q8);
  const ref = await GPT.load(file, { threads: 1 });
  const good = sriOf(file);
  const bad = sriOf(bytesOf(F32));
  for (const integrity of [good, `sha256:${hexOf(file)}`]) {
    const m = await GPT.load(srv.url(Q8), { ...opts, integrity });
    await sameAs(m, ref);
    m.dispose();
  }
  for (const input of [() => srv.url(Q8), () => file, () => join(ROOT, Q8)]) {
    const m = await GPT.load(input(), { ...opts, integrity: good });
    await sameAs(m, ref);
    m.dispose();
    const engine = await Engine.create({ threads: 1 });
    const heap = engine.heapUsed();
    await assert.rejects(GPT.load(input(), { ...opts, engine, integrity: bad }), (e) => {
      assert.ok(e instanceof PlmError, String(e));
      assert.match(e.message, /gpt2-tiny-Q8_0\.gguf|bytes/);
      assert.match(e.message, new RegExp(`integrity check failed: expected SHA-256 ${hexOf(bytesOf(F32))} .*the file has ${hexOf(file)}`));
      return true;
    });
    assert.equal(engine.heapUsed(), heap, 'nothing left allocated');
    const again = await GPT.load(input(), { ...opts, engine, integrity: good }); // the engine is still usable
    await sameAs(again, ref);
    again.dispose();
    engine.dispose();
  }
  // a tokenizer (vocab-only: reads only the header) reads the whole file to check it
  srv.reset();
  const tok = await Tokenizer.load(srv.url(STORIES), { ...opts, integrity: sriOf(bytesOf(STORIES)) });
  assert.equal(srv.requests[0].sent, bytesOf(STORIES).length);
  tok.dispose?.();
  await assert.rejects(Tokenizer.load(srv.url(STORIES), { ...opts, integrity: bad }), /integrity check failed/);
  ref.dispose();
});

test('integrity and the cache: a mismatch is not cached; entries keep their hash; another hash refetches', async () => {
  const file = bytesOf(Q8);
  const url = srv.url(Q8);
  const o = { threads: 1, retryDelay: 5 };
  await ModelCache.clear();
  await assert.rejects(GPT.load(url, { ...o, integrity: sriOf(bytesOf(F32)) }), /integrity check failed/);
  assert.equal(await ModelCache.has(url), false, 'a file that fails its check is not cached');
  const m = await GPT.load(url, { ...o, integrity: sriOf(file) });
  m.dispose();
  const [entry] = await ModelCache.list();
  assert.equal(entry.sha256, hexOf(file), 'the hash is recorded with the cached copy');
  srv.reset();
  const m2 = await GPT.load(url, { ...o, integrity: `sha256:${hexOf(file)}` });
  m2.dispose();
  assert.equal(srv.requests.length, 0, 'the cached copy is used (its recorded hash matches)');
  // another hash asked for: fetched again (then refused), and the stale entry is gone
  await assert.rejects(GPT.load(url, { ...o, integrity: sriOf(bytesOf(F32)) }), /integrity check failed/);
  assert.equal(srv.requests.length, 1);
  assert.equal(await ModelCache.has(url), false);
  await ModelCache.clear();
});

test('integrity: split models take one hash per file; worker mode checks on the page', async () => {
  const first = srv.url('split/gpt2-tiny-F32-00001-of-00003.gguf');
  const parts = Object.values(splitFiles);
  const hashes = parts.map((b) => sriOf(b));
  const ref = await GPT.load(bytesOf(F32), { threads: 1 });
  const m = await GPT.load(first, { ...opts, integrity: hashes });
  await sameAs(m, ref);
  m.dispose();
  await assert.rejects(GPT.load(first, { ...opts, integrity: [hashes[0], hashes[2], hashes[1]] }), /00002-of-00003\.gguf: integrity check failed/);
  await assert.rejects(GPT.load(first, { ...opts, integrity: hashes[0] }), /the model has 3 files; give an array of 3 hashes/);
  await assert.rejects(GPT.load(first, { ...opts, integrity: hashes.slice(1) }), /2 hashes for 3 model files/);
  // worker mode
  const w = await GPT.load(srv.url(Q8), { ...opts, worker: true, integrity: sriOf(bytesOf(Q8)) });
  assert.equal(w.runtime.worker, true);
  w.dispose();
  await assert.rejects(GPT.load(srv.url(Q8), { ...opts, worker: true, integrity: hashes[0] }), /gpt2-tiny-Q8_0\.gguf: integrity check failed/);
  ref.dispose();
});
