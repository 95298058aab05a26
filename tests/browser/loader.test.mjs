// The loader in headless Chromium and Firefox (fetch streams, Cache Storage, module workers)
// against loader_server.mjs: streamed = bytes, Range resume after a cut, errors,
// abort frees memory, the cache (no request on the second load; partial downloads
// never stored), the memory check, worker and in-page modes agree.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from '../js/loader_server.mjs';
import { ROOT, BROWSERS, launch, newPage, unavailable } from './harness.mjs';

const skips = Object.fromEntries(await Promise.all(BROWSERS.map(async (b) => [b, (await unavailable(b)) || false])));
const STORIES = 'tests/fixtures/llama/stories260K/stories260K-F32.gguf';
const Q8 = 'tests/fixtures/gpt2/gpt2-tiny-Q8_0.gguf';
const SIZE = readFileSync(join(ROOT, STORIES)).length;

for (const name of BROWSERS) {
  const skip = skips[name];
  describe(name, { skip }, () => {
    let srv;
    const ggufRequests = () => srv.requests.filter((q) => q.path.endsWith('.gguf'));
    let browser;
    let page;

    before(async () => {
      if (skip) return;
      srv = await startServer({ root: ROOT, headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } });
      browser = await launch({ browser: name });
      page = await newPage(browser.context);
      await page.goto(srv.url('tests/browser/page.html'));
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
      await page.evaluate(async () => {
        globalThis.plm = await import('/js/index.js');
        const bytes = new Uint8Array(await (await fetch('/tests/fixtures/llama/stories260K/stories260K-F32.gguf')).arrayBuffer());
        const m0 = await plm.GPT.load(bytes, { worker: false, threads: 1 });
        const ref = { logits: Array.from(await m0.logits([1, 50, 100, 7])), ids: Array.from(m0.tokenize('Once upon a time')) };
        m0.dispose();
        // load a model and compare it with the reference
        globalThis.check = async (url, options) => {
          const m = await plm.GPT.load(url, options);
          try {
            const logits = Array.from(await m.logits([1, 50, 100, 7]));
            return {
              same: logits.length === ref.logits.length && logits.every((v, i) => v === ref.logits[i]) && JSON.stringify(Array.from(m.tokenize('Once upon a time'))) === JSON.stringify(ref.ids),
              runtime: m.runtime,
            };
          } finally {
            m.dispose();
          }
        };
        globalThis.failure = (p) => p.then(() => 'no error', (e) => `${e.name}: ${e.message} [${e.code ?? ''}]`);
      });
    });

    after(async () => {
      await browser?.close();
      await srv?.close();
    });

    test('streamed loads (worker and page) equal the bytes load', { skip }, async () => {
      srv.reset();
      const r = await page.evaluate((u) => Promise.all([check(u, { cache: false }), check(u, { cache: false, worker: false })]), srv.url(STORIES));
      assert.deepEqual(r.map((x) => x.same), [true, true]);
      assert.equal(r[0].runtime.worker, true);
      assert.equal(r[0].runtime.build, 'relaxed-mt'); // Chromium and Firefox ESR have relaxed SIMD: the worker picks the relaxed build
      assert.equal(r[1].runtime.worker, false);
      assert.equal(ggufRequests().length, 2);
    });

    test('a dropped connection is resumed with a Range request', { skip }, async () => {
      srv.reset();
      // (sent in steps, so that the page has read some of it when the cut comes: data still
      // queued in the stream when the connection fails is dropped with it, and with nothing
      // read the retry would be a plain GET)
      srv.rule(STORIES, { cutAt: Math.floor(SIZE * 0.37), slow: { bytes: 32 << 10, ms: 10 } });
      const r = await page.evaluate((u) => check(u, { cache: false, retryDelay: 10 }), srv.url(STORIES));
      assert.equal(r.same, true);
      const reqs = ggufRequests();
      assert.equal(reqs.length, 2);
      assert.match(reqs[1].range, /^bytes=\d+-$/);
      assert.equal(reqs[1].status, 206);
      // no validator: read again from 0 (no Range), its start checked; a changed start is refused
      srv.reset();
      srv.rule(STORIES, { cutAt: Math.floor(SIZE * 0.37), slow: { bytes: 32 << 10, ms: 10 }, validators: 'none' });
      const r2 = await page.evaluate((u) => check(u, { cache: false, retryDelay: 10, worker: false }), srv.url(STORIES));
      assert.equal(r2.same, true);
      assert.deepEqual(ggufRequests().map((q) => [q.range, q.status]), [[null, 200], [null, 200]]);
      srv.reset();
      const other = Buffer.from(readFileSync(join(ROOT, STORIES)));
      other[1000] ^= 1;
      srv.rule(STORIES, { cutAt: Math.floor(SIZE * 0.37), slow: { bytes: 32 << 10, ms: 10 }, validators: 'none', changeAfterCut: other });
      const changed = await page.evaluate((u) => failure(plm.GPT.load(u, { cache: false, retryDelay: 10 })), srv.url(STORIES));
      assert.match(changed, /the file changed on the server while it was downloading \(it has no ETag or Last-Modified/);
      srv.rule(STORIES, null);
    });

    test('404, truncated files and impossible sizes give clear errors', { skip }, async () => {
      srv.reset();
      const notFound = await page.evaluate((u) => failure(plm.GPT.load(u, { cache: false })), srv.url('tests/fixtures/missing.gguf'));
      assert.match(notFound, /^Error: cannot fetch http:\/\/127\.0\.0\.1:\d+\/tests\/fixtures\/missing\.gguf: HTTP 404 Not Found \(no such file\)/);
      srv.rule(STORIES, { truncate: SIZE - 3000 });
      const truncated = await page.evaluate((u) => failure(plm.GPT.load(u, { cache: false })), srv.url(STORIES));
      assert.match(truncated, /^PlmError: .*stories260K-F32\.gguf: .*truncated.*\[-3\]$/);
      srv.rule(Q8, { declareLength: 6 * 2 ** 30 });
      const huge = await page.evaluate((u) => failure(plm.GPT.load(u, { cache: false, worker: false })), srv.url(Q8));
      assert.match(huge, /needs 6144 MB of WebAssembly memory .*at most 4096 MB.*\[-5\]$/);
      srv.reset();
    });

    test('abort mid-download rejects and frees the memory', { skip }, async () => {
      srv.reset();
      srv.rule(STORIES, { slow: { bytes: 16 << 10, ms: 5 } });
      const r = await page.evaluate(async (u) => {
        const engine = await plm.Engine.create({ threads: 1 });
        const before = engine.heapUsed();
        const ac = new AbortController();
        let peak = 0;
        const err = await failure(plm.GPT.load(u, { engine, cache: false, signal: ac.signal, onProgress: (p) => { peak = Math.max(peak, engine.heapUsed()); if (p.loaded > p.total / 2) ac.abort(); } }));
        const after = engine.heapUsed();
        engine.dispose();
        // worker mode: the worker (and its memory) goes away
        const ac2 = new AbortController();
        const err2 = await failure(plm.GPT.load(u, { cache: false, signal: ac2.signal, onProgress: (p) => p.loaded > p.total / 3 && ac2.abort() }));
        return { err, err2, before, after, peak };
      }, srv.url(STORIES));
      assert.match(r.err, /^AbortError/);
      assert.match(r.err2, /^AbortError/);
      assert.ok(r.peak > r.before + 500000);
      assert.equal(r.after, r.before);
      srv.rule(STORIES, null);
    });

    test('Cache Storage: the second load makes no request; partial downloads are never stored', { skip }, async () => {
      srv.reset();
      const url = srv.url(STORIES);
      await page.evaluate(() => plm.ModelCache.clear());
      // partial: aborted, and cut without resume. (In the page: in worker mode the progress comes
      // from the worker, which may be behind the page's download: the page can have the whole
      // file, rightly cached, when the abort comes.)
      srv.rule(STORIES, { slow: { bytes: 16 << 10, ms: 5 } });
      await page.evaluate(async (u) => {
        const ac = new AbortController();
        await failure(plm.GPT.load(u, { worker: false, signal: ac.signal, onProgress: (p) => p.loaded > p.total / 2 && ac.abort() }));
      }, url);
      srv.rule(STORIES, { cutAt: 400000, hangUpResumes: true });
      const cut = await page.evaluate((u) => failure(plm.GPT.load(u, { retries: 1, retryDelay: 10 })), url);
      assert.match(cut, /connection lost|network error/);
      assert.deepEqual(await page.evaluate(() => plm.ModelCache.list()), []);
      srv.rule(STORIES, null);

      srv.reset();
      const a = await page.evaluate((u) => check(u, {}), url);
      assert.equal(a.same, true);
      assert.equal(ggufRequests().length, 1);
      const list = await page.evaluate(() => plm.ModelCache.list());
      assert.deepEqual(list.map((e) => [e.url, e.size]), [[url, SIZE]]);
      const b = await page.evaluate((u) => check(u, {}), url);
      assert.equal(b.same, true);
      assert.equal(ggufRequests().length, 1, 'no request for the second load');
      // vocab-only (Tokenizer) from the cache too
      await page.evaluate(async (u) => (await plm.Tokenizer.load(u)).dispose(), url);
      assert.equal(ggufRequests().length, 1);
      assert.equal(await page.evaluate((u) => plm.ModelCache.delete(u), url), 1);
      assert.deepEqual(await page.evaluate(() => plm.ModelCache.list()), []);
      assert.deepEqual(page.errors, []);
    });

    test('integrity (JS SHA-256 while streaming, worker and page), recorded in Cache Storage; read timeout', { skip }, async () => {
      srv.reset();
      const url = srv.url(STORIES);
      const good = 'sha256-' + createHash('sha256').update(readFileSync(join(ROOT, STORIES))).digest('base64');
      const hex = createHash('sha256').update(readFileSync(join(ROOT, STORIES))).digest('hex');
      const bad = 'sha256-' + createHash('sha256').update('x').digest('base64');
      await page.evaluate(() => plm.ModelCache.clear());
      const r = await page.evaluate(async ([u, good, bad]) => ({
        worker: await check(u, { integrity: good, cache: false }),
        page: await failure(plm.GPT.load(u, { integrity: bad, worker: false })),
        workerBad: await failure(plm.GPT.load(u, { integrity: bad })),
        listAfterBad: await plm.ModelCache.list(),
        cached: await check(u, { integrity: good, worker: false }),
        list: await plm.ModelCache.list(),
      }), [url, good, bad]);
      assert.equal(r.worker.same, true);
      assert.match(r.page, /^PlmError: .*stories260K-F32\.gguf: integrity check failed: expected SHA-256 [0-9a-f]{64} .*the file has [0-9a-f]{64}/);
      assert.match(r.workerBad, /integrity check failed/);
      assert.deepEqual(r.listAfterBad, [], 'a mismatch is not cached');
      assert.equal(r.cached.same, true);
      assert.deepEqual(r.list.map((e) => [e.url, e.sha256]), [[url, hex]]);
      srv.reset();
      const again = await page.evaluate(([u, good]) => check(u, { integrity: good }), [url, good]);
      assert.equal(again.same, true);
      assert.equal(ggufRequests().length, 0, 'cached with the same hash: no request');
      await page.evaluate(() => plm.ModelCache.clear());
      // a stall: dropped after `timeout` ms of silence, resumed
      srv.rule(STORIES, { stallAt: 200000, slow: { bytes: 32 << 10, ms: 5 } });
      const st = await page.evaluate((u) => check(u, { cache: false, timeout: 500, retryDelay: 10 }), url);
      assert.equal(st.same, true);
      assert.equal(ggufRequests().length, 2);
      assert.equal(ggufRequests()[0].stalled, true);
      srv.rule(STORIES, null);
      assert.deepEqual(page.errors, []);
    });
  });
}
