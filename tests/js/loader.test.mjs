// Loader tests against a local HTTP server (loader_server.mjs): streaming parse
// = ArrayBuffer load, dropped connections resumed with Range, HTTP errors,
// truncated files, abort frees memory, the model cache, split files, hf://
// references, the memory check, vocab-only loads that read only the header.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT, Tokenizer, Engine, ModelCache, PlmError, Status, resolveHfUrl } from '../../js/node.js';
import { ROOT, fixture } from './helpers.mjs';
import { startServer } from './loader_server.mjs';
import { splitGGUF, withFirstTensorType } from './loader_helpers.mjs';

const Q8 = 'tests/fixtures/gpt2/gpt2-tiny-Q8_0.gguf';
const F32 = 'tests/fixtures/gpt2/gpt2-tiny-F32.gguf';
const STORIES = 'tests/fixtures/llama/stories260K/stories260K-F32.gguf';
const bytesOf = (p) => new Uint8Array(readFileSync(join(ROOT, p)));
const IDS = [1, 50, 100, 7, 300, 2];

let srv;
let cacheDir;
const splitFiles = {};

before(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'plm-cache-'));
  ModelCache.directory = cacheDir;
  // split files served under /split/ (llama.cpp naming)
  const parts = splitGGUF(bytesOf(F32), 3);
  parts.forEach((b, i) => (splitFiles[`/split/gpt2-tiny-F32-0000${i + 1}-of-00003.gguf`] = Buffer.from(b)));
  srv = await startServer({ root: ROOT, files: splitFiles });
});
after(async () => {
  await srv.close();
  ModelCache.directory = null;
  rmSync(cacheDir, { recursive: true, force: true });
});
beforeEach(() => srv.reset());

async function logitsOf(model) {
  return model.logits(IDS);
}

async function sameModel(a, b) {
  assert.deepEqual(a.info, b.info);
  assert.deepEqual(await logitsOf(a), await logitsOf(b));
  assert.deepEqual(a.tokenize('Hello world'), b.tokenize('Hello world'));
}

const opts = { threads: 1, cache: false, retryDelay: 5 };

test('streaming from a URL gives the same model as loading from an ArrayBuffer', async () => {
  for (const path of [Q8, STORIES]) {
    srv.reset();
    const ref = await GPT.load(bytesOf(path).buffer, { threads: 1 });
    const progress = [];
    const m = await GPT.load(srv.url(path), { ...opts, onProgress: (p) => progress.push(p) });
    await sameModel(m, ref);
    const size = bytesOf(path).length;
    assert.deepEqual(progress.map((p) => p.phase).filter((p, i, a) => p !== a[i - 1]), ['download', 'parse', 'ready']);
    assert.ok(progress.every((p, i) => i === 0 || p.loaded >= progress[i - 1].loaded));
    assert.equal(progress.at(-1).loaded, size);
    assert.equal(progress.at(-1).total, size);
    assert.equal(srv.requests.length, 1);
    m.dispose();
    ref.dispose();
  }
});

test('a connection cut at a random byte offset is resumed with Range; the model is identical', async () => {
  const size = bytesOf(STORIES).length;
  const ref = await GPT.load(bytesOf(STORIES), { threads: 1 });
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const offsets = [100, 20000, Math.floor(size * (0.2 + 0.6 * rand())), size - 10];
  for (const cutAt of offsets) {
    srv.reset();
    srv.rule(STORIES, { cutAt });
    const m = await GPT.load(srv.url(STORIES), opts);
    await sameModel(m, ref);
    m.dispose();
    assert.equal(srv.requests.length, 2, `cut at ${cutAt}: ${JSON.stringify(srv.requests)}`);
    const [first, second] = srv.requests;
    assert.equal(first.range, null);
    const from = Number(/^bytes=(\d+)-$/.exec(second.range)?.[1]);
    assert.ok(from > 0 && from <= cutAt, `resumed from ${second.range} after a cut at ${cutAt}`);
    assert.equal(second.status, 206);
    assert.equal(second.ifRange, `"${size.toString(16)}-0"`, 'If-Range carries the ETag');
  }
  // several cuts in a row, and a server that ignores Range (the start is skipped)
  srv.reset();
  srv.rule(STORIES, { cutAt: 500000, cuts: 3, noRange: true });
  const m = await GPT.load(srv.url(STORIES), opts);
  await sameModel(m, ref);
  assert.equal(srv.requests.length, 4);
  assert.ok(srv.requests.slice(1).every((r) => r.status === 200 && r.range));
  m.dispose();
  ref.dispose();
});

test('HTTP errors, network failures and truncated files give clear errors', async () => {
  await assert.rejects(GPT.load(srv.url('tests/fixtures/nope.gguf'), opts), (e) => {
    assert.match(e.message, /HTTP 404 Not Found \(no such file\)/);
    assert.match(e.message, /nope\.gguf/);
    return true;
  });
  assert.equal(srv.requests.length, 1, '404 is not retried');

  srv.rule(Q8, { status: 403 });
  await assert.rejects(GPT.load(srv.url(Q8), opts), /HTTP 403 Forbidden \(access denied\)/);

  srv.rule(Q8, { status: 503 });
  srv.requests.length = 0;
  await assert.rejects(GPT.load(srv.url(Q8), { ...opts, retries: 2 }), /HTTP 503 .*gave up after 2 retries/);
  assert.equal(srv.requests.length, 3, '5xx is retried');
  srv.rule(Q8, null);

  // nothing listens there
  const dead = await startServer({ root: ROOT });
  const url = dead.url(Q8);
  await dead.close();
  await assert.rejects(GPT.load(url, { ...opts, retries: 1 }), /cannot fetch http:\/\/127\.0\.0\.1:\d+\/.*network error .*gave up after 1 retries/);

  // a file that is shorter than its header says (served with its real, short length):
  // refused as soon as the header is read, before the weights
  const size = bytesOf(STORIES).length;
  srv.rule(STORIES, { truncate: size - 5000, slow: { bytes: 16 << 10, ms: 2 } });
  await assert.rejects(GPT.load(srv.url(STORIES), opts), (e) => {
    assert.ok(e instanceof PlmError);
    assert.equal(e.code, Status.TRUNCATED);
    assert.match(e.message, /stories260K-F32\.gguf: .*truncated/);
    return true;
  });
  assert.ok(srv.requests[0].sent < size / 2, `stopped after ${srv.requests[0].sent} of ${size - 5000} bytes`);

  // the server announces a length and hangs up early, every time: retried, then reported
  srv.rule(Q8, { cutAt: 50000, hangUpResumes: true });
  await assert.rejects(GPT.load(srv.url(Q8), { ...opts, retries: 2 }), /connection lost .*after \d+ of 192320 bytes \(gave up after 2 retries\)/);
});

test('a model that cannot fit in wasm memory is refused before the weights are downloaded', async () => {
  srv.rule(Q8, { declareLength: 5 * 2 ** 30 });
  await assert.rejects(GPT.load(srv.url(Q8), opts), (e) => {
    assert.equal(e.code, Status.NOMEM);
    assert.match(e.message, /needs 5120 MB of WebAssembly memory .* at most 4096 MB/);
    return true;
  });
});

test('abort mid-download frees the memory', async () => {
  const engine = await Engine.create({ threads: 1 });
  const baseline = engine.heapUsed();
  srv.rule(STORIES, { slow: { bytes: 16 << 10, ms: 5 } });
  const ac = new AbortController();
  let peak = 0;
  const p = GPT.load(srv.url(STORIES), {
    ...opts,
    engine,
    signal: ac.signal,
    onProgress: ({ loaded, total }) => {
      peak = Math.max(peak, engine.heapUsed());
      if (loaded > total / 2) ac.abort();
    },
  });
  await assert.rejects(p, { name: 'AbortError' });
  assert.ok(peak > baseline + 500000, `the weights were being loaded (heap ${peak} > ${baseline})`);
  assert.equal(engine.heapUsed(), baseline);
  // the engine is still usable
  const m = await GPT.load(srv.url(Q8), { ...opts, engine });
  assert.equal(m.info.architecture, 'gpt2');
  m.dispose();
  assert.equal(engine.heapUsed(), baseline);
  engine.dispose();
});

test('the cache: a second load makes no request; partial downloads are not stored; list / delete / bypass', async () => {
  await ModelCache.clear();
  const url = srv.url(STORIES);
  const size = bytesOf(STORIES).length;
  const ref = await GPT.load(bytesOf(STORIES), { threads: 1 });

  // an aborted download leaves nothing in the cache
  srv.rule(STORIES, { slow: { bytes: 16 << 10, ms: 5 } });
  const ac = new AbortController();
  await assert.rejects(GPT.load(url, { threads: 1, signal: ac.signal, onProgress: (p) => p.loaded > size / 3 && ac.abort() }), { name: 'AbortError' });
  // a dropped connection that is never resumed, neither
  srv.rule(STORIES, { cutAt: 300000, hangUpResumes: true });
  await assert.rejects(GPT.load(url, { threads: 1, retries: 1, retryDelay: 5 }), /connection lost/);
  assert.deepEqual(await ModelCache.list(), []);
  assert.equal(await ModelCache.has(url), false);
  srv.rule(STORIES, null);

  srv.reset();
  const a = await GPT.load(url, { threads: 1 });
  assert.equal(srv.requests.length, 1);
  const list = await ModelCache.list();
  assert.equal(list.length, 1);
  assert.equal(list[0].url, url);
  assert.equal(list[0].size, size);
  assert.ok(!Number.isNaN(Date.parse(list[0].date)));
  assert.equal(await ModelCache.has(url), true);

  const b = await GPT.load(url, { threads: 1 });
  assert.equal(srv.requests.length, 1, 'the second load made no request');
  await sameModel(b, ref);
  await sameModel(a, ref);

  await GPT.load(url, { threads: 1, cache: false }).then((m) => m.dispose());
  assert.equal(srv.requests.length, 2, 'cache: false downloads');

  // a damaged cache entry (wrong size) is dropped and downloaded again
  const entry = list[0].path;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(entry, readFileSync(entry).subarray(0, 1000));
  const c = await GPT.load(url, { threads: 1 });
  assert.equal(srv.requests.length, 3);
  await sameModel(c, ref);

  assert.equal(await ModelCache.delete(url), 1);
  assert.deepEqual(await ModelCache.list(), []);
  for (const m of [a, b, c, ref]) m.dispose();
});

test('split files (-00001-of-0000N.gguf) load as one model', async () => {
  const ref = await GPT.load(bytesOf(F32), { threads: 1 });
  const first = srv.url('split/gpt2-tiny-F32-00001-of-00003.gguf');
  const m = await GPT.load(first, opts);
  await sameModel(m, ref);
  const names = [1, 2, 3].map((i) => `/split/gpt2-tiny-F32-0000${i}-of-00003.gguf`);
  assert.deepEqual(srv.requests.filter((r) => r.method === 'GET').map((r) => r.path), names);
  assert.deepEqual(srv.requests.filter((r) => r.method === 'HEAD').map((r) => r.path).sort(), names, 'sizes checked first');
  m.dispose();
  // as an explicit list of sources (here: bytes)
  const parts = Object.values(splitFiles).map((b) => new Uint8Array(b));
  const m2 = await GPT.load(parts, { threads: 1 });
  await sameModel(m2, ref);
  m2.dispose();
  // a missing part
  await assert.rejects(GPT.load(parts.slice(0, 2), { threads: 1 }), /split into 3 files but only 2 were given/);
  // too large in total: refused (HEAD requests) before any part is downloaded
  srv.reset();
  srv.rule('/split/gpt2-tiny-F32-00003-of-00003.gguf', { declareLength: 4.5 * 2 ** 30 });
  for (const worker of [false, true])
    await assert.rejects(GPT.load(first, { ...opts, worker }), (e) => e.code === Status.NOMEM && /needs 4608 MB/.test(e.message));
  assert.ok(srv.requests.every((r) => r.method === 'HEAD'), JSON.stringify(srv.requests));
  ref.dispose();
});

test('hf:// references resolve to Hugging Face download URLs', async () => {
  assert.equal(String(resolveHfUrl('hf://owner/repo/model-Q8_0.gguf')), 'https://huggingface.co/owner/repo/resolve/main/model-Q8_0.gguf');
  assert.equal(String(resolveHfUrl('hf://owner/repo@v1.0/sub dir/m.gguf')), 'https://huggingface.co/owner/repo/resolve/v1.0/sub%20dir/m.gguf');
  assert.throws(() => resolveHfUrl('hf://just-a-name.gguf'), /expected hf:\/\/owner\/repo\/file\.gguf/);
  // against a local stand-in for the hub
  const files = { '/owner/repo/resolve/main/tiny.gguf': readFileSync(join(ROOT, Q8)) };
  const hub = await startServer({ root: ROOT, files });
  try {
    const m = await GPT.load('hf://owner/repo/tiny.gguf', { ...opts, hfEndpoint: hub.origin });
    assert.equal(m.info.architecture, 'gpt2');
    m.dispose();
    await assert.rejects(GPT.load('hf://owner/repo/missing.gguf', { ...opts, hfEndpoint: hub.origin }), /HTTP 404/);
  } finally {
    await hub.close();
  }
});

test('a tokenizer (vocab-only load) reads only the header, also of models the engine cannot run', async () => {
  const path = 'models/gpt2-stories-F16.gguf';
  const size = bytesOf(path).length;
  const ref = await Tokenizer.load(join(ROOT, path));
  srv.rule(path, { slow: { bytes: 8 << 10, ms: 5 } });
  const t = await Tokenizer.load(srv.url(path), opts);
  assert.deepEqual(t.encode('Once upon a time'), ref.encode('Once upon a time'));
  assert.ok(srv.requests[0].sent < size / 4, `downloaded ${srv.requests[0].sent} of ${size} bytes`);
  t.dispose();
  // a model with a tensor type the engine cannot run (iq2_xxs) or that nobody knows (99)
  for (const type of [16, 99]) {
    const bytes = withFirstTensorType(bytesOf(path), type);
    await assert.rejects(GPT.load(bytes, { threads: 1 }), (e) => e.code === Status.UNSUPPORTED);
    const v = await Tokenizer.load(bytes);
    assert.deepEqual(v.encode('Once upon a time'), ref.encode('Once upon a time'));
    v.dispose();
  }
  ref.dispose();
});

test('worker mode (worker_threads): same results, sync tokenize, streamed generation, abort, dispose', async () => {
  const url = srv.url('models/gpt2-stories-F16.gguf');
  const local = await GPT.load(url, opts);
  const progress = [];
  const remote = await GPT.load(url, { ...opts, worker: true, onProgress: (p) => progress.push(p.phase) });
  assert.equal(remote.runtime.worker, true);
  assert.ok(remote instanceof GPT);
  assert.deepEqual(progress.filter((p, i, a) => p !== a[i - 1]), ['download', 'parse', 'ready']);
  assert.deepEqual(remote.info, local.info);
  assert.equal(remote.contextLength, local.contextLength);
  assert.deepEqual(remote.tokenize('Once upon a time'), local.tokenize('Once upon a time'));
  assert.equal(remote.detokenize([480, 481]), local.detokenize([480, 481]));
  assert.deepEqual(await remote.logits(IDS), await local.logits(IDS));
  const o = { maxTokens: 24, temperature: 0.8, seed: 7 };
  const a = await local.complete('Once upon a time', o);
  const b = await remote.complete('Once upon a time', o);
  assert.equal(b.text, a.text);
  assert.deepEqual(b.tokens, a.tokens);
  assert.equal(remote.lastStats.generatedTokens, a.tokens.length);
  let streamed = '';
  for await (const { text } of remote.generate('Once upon a time', o)) streamed += text;
  assert.equal(streamed, a.text);
  assert.equal(remote.lastStats.cachedTokens, remote.tokenize('Once upon a time').length - 1); // the same prompt again: KV prefix reused
  // early break, then abort
  let n = 0;
  for await (const _ of remote.generate('Once', { maxTokens: 100 })) if (++n === 3) break;
  const ac = new AbortController();
  n = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of remote.generate('Once', { maxTokens: 100, signal: ac.signal })) if (++n === 3) ac.abort(new Error('stop here'));
    })(),
    /stop here/,
  );
  // errors keep their type and code
  await assert.rejects(remote.logits([]), RangeError);
  await assert.rejects(remote.logits([1e6]), (e) => e instanceof PlmError && e.code === Status.INVALID);
  remote.dispose();
  assert.throws(() => remote.tokenize('x'), /disposed/);
  await assert.rejects(remote.complete('x'), /disposed/);
  local.dispose();
});

test('worker mode: the stream goes to the worker in full reused buffers, whatever the network chunks (single and split files)', async () => {
  const { setModelWorkerFactory } = await import('../../js/node.js');
  const { Worker } = await import('node:worker_threads');
  const sent = []; // [file, bytes] of each chunk message the page posts
  // the Node factory of remote-node.js, with the chunk messages recorded
  setModelWorkerFactory(() => {
    const w = new Worker(new URL('../../js/worker-node.js', import.meta.url), { name: 'plm-model' });
    w.unref();
    return {
      post: (m, transfer) => {
        if (m?.t === 'chunk') sent.push([m.file, m.bytes.length, m.bytes.buffer.byteLength]);
        w.postMessage(m, transfer ?? []);
      },
      onMessage: (f) => w.on('message', f),
      onError: (f) => {
        w.on('error', f);
        w.on('exit', (code) => f(new Error(`the model worker exited (code ${code})`)));
      },
      terminate: () => w.terminate(),
      ref: () => w.ref(),
      unref: () => w.unref(),
    };
  });
  // a fetch whose body comes in odd small chunks (not a byte stream: no BYOB reads)
  const smallChunks = async (url, init) => {
    const res = await fetch(url, init);
    const reader = res.body.getReader();
    let rest = new Uint8Array(0);
    const body = new ReadableStream({
      async pull(c) {
        while (rest.length === 0) {
          const r = await reader.read();
          if (r.done) return c.close();
          rest = r.value;
        }
        c.enqueue(rest.slice(0, 4093));
        rest = rest.subarray(4093);
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  try {
    const ref = await GPT.load(bytesOf(STORIES).buffer, { threads: 1 });
    const m = await GPT.load(srv.url(STORIES), { ...opts, worker: true, fetch: smallChunks });
    await sameModel(m, ref);
    const size = bytesOf(STORIES).length;
    assert.equal(sent.reduce((n, [, len]) => n + len, 0), size);
    const C = Math.max(...sent.map(([, len]) => len)); // the buffer size (remote.js CHUNK)
    assert.ok(C >= 64 << 10 && C <= 1 << 20 && C < size, `buffers of ${C} bytes`);
    assert.equal(sent.length, Math.ceil(size / C)); // full buffers, then the rest
    assert.ok(sent.slice(0, -1).every(([, len, cap]) => len === C && cap === C));
    m.dispose();
    ref.dispose();

    // a split model: each file's tail is sent before the next file starts
    sent.length = 0;
    const names = [1, 2, 3].map((i) => `/split/gpt2-tiny-F32-0000${i}-of-00003.gguf`);
    const split = await GPT.load(srv.url(names[0].slice(1)), { ...opts, worker: true, fetch: smallChunks });
    const whole = await GPT.load(bytesOf(F32).buffer, { threads: 1 });
    assert.deepEqual(await logitsOf(split), await logitsOf(whole));
    const sizes = Object.values(splitFiles).map((b) => b.length);
    for (let f = 0; f < 3; f++) {
      const mine = sent.filter(([file]) => file === f);
      assert.equal(mine.reduce((n, [, len]) => n + len, 0), sizes[f]);
      assert.equal(mine.length, Math.ceil(sizes[f] / C));
    }
    assert.deepEqual(sent.map(([file]) => file), [...sent.map(([file]) => file)].sort()); // in file order
    split.dispose();
    whole.dispose();
  } finally {
    await import('../../js/core/remote-node.js?restore'); // (a fresh copy of the module: sets the Node factory again)
  }
});
