// Model sources (path, file URL, bytes, Blob, http URL), progress, abort, errors, leaks.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GPT, Tokenizer, Engine, PlmError, Status, detectFeatures } from 'plm-wasm';
import { GPT_FIXTURES, ggufPath, fixture } from './helpers.mjs';

const gpt2 = GPT_FIXTURES.find((f) => f.name === 'gpt2');
const PATH = ggufPath(gpt2, 'Q8_0');
const BYTES = readFileSync(PATH);
const IDS = [464, 310, 291, 17, 5];

let engine, reference, server, baseUrl, tmp;
before(async () => {
  engine = await Engine.create({ threads: 1 });
  const gpt = await GPT.load(PATH, { engine });
  reference = await gpt.logits(IDS);
  gpt.dispose();
  server = createServer((req, res) => {
    if (req.url === '/model.gguf') {
      res.writeHead(200, { 'Content-Length': BYTES.length, 'Content-Type': 'application/octet-stream' });
      // dribble it out in pieces to exercise chunk boundaries
      let off = 0;
      const step = () => {
        if (off >= BYTES.length) return res.end();
        const n = Math.min(BYTES.length - off, 7919);
        res.write(BYTES.subarray(off, off + n));
        off += n;
        setImmediate(step);
      };
      step();
    } else res.writeHead(404, 'Not Found').end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
  tmp = mkdtempSync(join(tmpdir(), 'plm-test-'));
});
after(() => {
  engine.dispose();
  server.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function checkSource(source) {
  const gpt = await GPT.load(source, { engine });
  try {
    assert.deepEqual(await gpt.logits(IDS), reference);
  } finally {
    gpt.dispose();
  }
}

describe('sources', () => {
  test('file path', () => checkSource(PATH));
  test('file URL', () => checkSource(pathToFileURL(PATH)));
  test('Uint8Array', () => checkSource(new Uint8Array(BYTES)));
  test('ArrayBuffer', () => checkSource(BYTES.buffer.slice(BYTES.byteOffset, BYTES.byteOffset + BYTES.length)));
  test('Blob', () => checkSource(new Blob([BYTES])));
  test('http URL (streamed)', () => checkSource(`${baseUrl}/model.gguf`));
  test('custom shard (async iterable of chunks)', () =>
    checkSource({
      name: 'custom',
      async *open() {
        for (let off = 0; off < BYTES.length; off += 1000) yield BYTES.subarray(off, off + 1000);
      },
    }));
});

test('onProgress reports download, parse and ready with growing byte counts', async () => {
  const events = [];
  const gpt = await GPT.load(`${baseUrl}/model.gguf`, { engine, onProgress: (p) => events.push(p) });
  gpt.dispose();
  const phases = [...new Set(events.map((e) => e.phase))];
  assert.deepEqual(phases, ['download', 'parse', 'ready']);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].loaded >= events[i - 1].loaded);
  const last = events.at(-1);
  assert.equal(last.loaded, BYTES.length);
  assert.equal(last.total, BYTES.length);
});

describe('errors', () => {
  test('missing file', async () => {
    await assert.rejects(GPT.load(join(tmp, 'nope.gguf'), { engine }), /nope\.gguf: no such file/);
  });
  test('http 404', async () => {
    await assert.rejects(GPT.load(`${baseUrl}/missing.gguf`, { engine }), /HTTP 404/);
  });
  test('garbage bytes', async () => {
    const base = engine.heapUsed();
    const junk = new Uint8Array(4096).map((_, i) => (i * 7919) & 255);
    await assert.rejects(GPT.load(junk, { engine }), (e) => e instanceof PlmError && e.code === Status.FORMAT && /gguf|magic/i.test(e.message));
    assert.equal(engine.heapUsed(), base);
  });
  test('truncated file', async () => {
    const base = engine.heapUsed();
    const p = join(tmp, 'truncated.gguf');
    writeFileSync(p, BYTES.subarray(0, Math.floor(BYTES.length * 0.6)));
    await assert.rejects(GPT.load(p, { engine }), (e) => e instanceof PlmError && e.code === Status.TRUNCATED && e.message.startsWith(p));
    writeFileSync(p, BYTES.subarray(0, 100)); // inside the header: with the file size known it is implausible at once
    await assert.rejects(GPT.load(p, { engine }), (e) => e instanceof PlmError && (e.code === Status.TRUNCATED || e.code === Status.FORMAT));
    // a stream of unknown size is reported truncated at its end
    const head = BYTES.subarray(0, Math.floor(BYTES.length * 0.6));
    await assert.rejects(GPT.load({ name: 'stream', async *open() { yield head; } }, { engine }), (e) => e instanceof PlmError && e.code === Status.TRUNCATED);
    await assert.rejects(GPT.load(new Uint8Array(0), { engine }), PlmError);
    assert.equal(engine.heapUsed(), base);
  });
  test('unsupported source types', async () => {
    await assert.rejects(GPT.load(42, { engine }), TypeError);
    await assert.rejects(GPT.load(undefined, { engine }), TypeError);
  });
});

test('abort while loading', async () => {
  const base = engine.heapUsed();
  const ac = new AbortController();
  await assert.rejects(
    GPT.load(`${baseUrl}/model.gguf`, {
      engine,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.loaded > 20000) ac.abort();
      },
    }),
    { name: 'AbortError' },
  );
  assert.equal(engine.heapUsed(), base);
  await assert.rejects(GPT.load(PATH, { engine, signal: AbortSignal.abort() }), { name: 'AbortError' });
});

test('load + generate + dispose cycles leave the heap at its baseline', async () => {
  const base = engine.heapUsed();
  for (let i = 0; i < 3; i++) {
    const gpt = await GPT.load(PATH, { engine });
    await gpt.complete('Hello', { maxTokens: 8, seed: i, stop: ['zz'] });
    await gpt.logits(IDS);
    const tok = await Tokenizer.load(PATH, { engine });
    tok.encode('Hello world');
    tok.dispose();
    gpt.dispose();
  }
  assert.equal(engine.heapUsed(), base);
});

test('dispose during a suspended generation frees everything; the generator then throws', async () => {
  const base = engine.heapUsed();
  const gpt = await GPT.load(PATH, { engine });
  const it = gpt.generate('Hello', { maxTokens: 50, temperature: 0, ignoreEos: true });
  await it.next();
  await it.next();
  gpt.dispose();
  assert.equal(engine.heapUsed(), base);
  await assert.rejects(it.next(), /disposed/);
  assert.equal(engine.heapUsed(), base);
  const abandoned = await GPT.load(PATH, { engine });
  await abandoned.generate('Hi', { maxTokens: 50 }).next(); // never finished
  abandoned.dispose();
  assert.equal(engine.heapUsed(), base);
});

test('a model loaded without an engine owns (and disposes) its own', async () => {
  const gpt = await GPT.load(PATH, { threads: 1 });
  assert.equal(gpt.engine.build, detectFeatures().relaxedSimd ? 'relaxed' : 'simd'); // Node 20: with --experimental-wasm-relaxed-simd
  assert.deepEqual(await gpt.logits(IDS), reference);
  gpt.dispose();
  assert.equal(gpt.engine.disposed, true);
  assert.throws(() => gpt.tokenize('x'), /disposed/);
  await assert.rejects(gpt.complete('x'), /disposed/);
});
