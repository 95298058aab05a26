// Tokenizer.load on vocab-only GGUFs: every golden text encodes to the golden ids
// (with and without special tokens) and decodes back.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer, GPT, Engine, PlmError, Status } from 'plm-wasm';
import { fixture, readJSONL } from './helpers.mjs';

const CASES = [
  { name: 'gpt2', gguf: 'ggml-vocab-gpt-2.gguf', jsonl: 'gpt2.jsonl' },
  { name: 'llama', gguf: 'ggml-vocab-llama-spm.gguf', jsonl: 'llama.jsonl' },
];

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine.dispose());

for (const c of CASES) {
  describe(`${c.name} tokenizer (${c.gguf})`, () => {
    let tok;
    const lines = readJSONL(fixture('tokenizers', c.jsonl));
    before(async () => {
      tok = await Tokenizer.load(fixture('tokenizers', c.gguf), { engine });
    });
    after(() => tok.dispose());

    test('info', () => {
      assert.ok(tok.vocabSize > 30000);
      assert.equal(typeof tok.info.architecture, 'string');
    });

    test(`${lines.length} texts encode to the golden ids`, () => {
      const bad = [];
      for (const { text, ids, ids_with_special } of lines) {
        const got = Array.from(tok.encode(text, { addSpecial: false }));
        const gotSpecial = Array.from(tok.encode(text));
        if (JSON.stringify(got) !== JSON.stringify(ids) || JSON.stringify(gotSpecial) !== JSON.stringify(ids_with_special))
          bad.push(`${JSON.stringify(text).slice(0, 60)}: got ${JSON.stringify(gotSpecial).slice(0, 80)}`);
      }
      assert.deepEqual(bad, []);
    });

    test('decode round-trips', () => {
      const bad = [];
      for (const { text, ids, ids_with_special } of lines) {
        if (tok.decode(ids) !== text || tok.decode(ids_with_special) !== text)
          bad.push(`${JSON.stringify(text).slice(0, 60)} -> ${JSON.stringify(tok.decode(ids_with_special)).slice(0, 60)}`);
      }
      assert.deepEqual(bad, []);
    });

    test('token bytes concatenate to the decoded text', () => {
      for (const { text, ids } of lines.slice(0, 40)) {
        const parts = [];
        for (const id of ids) parts.push(...tok.tokenBytes(id));
        let s = new TextDecoder().decode(Uint8Array.from(parts));
        if (c.name === 'llama' && s.startsWith(' ')) s = s.slice(1); // sentencepiece drops the dummy-prefix space
        assert.equal(s, text);
      }
    });

    test('invalid ids are errors, not crashes', () => {
      assert.throws(() => tok.decode([tok.vocabSize + 5]), (e) => e instanceof PlmError && e.code === Status.INVALID);
      assert.throws(() => tok.decode([-1]), PlmError);
      assert.throws(() => tok.encode(42), TypeError);
      assert.throws(() => tok.decode([1.5]), TypeError);
    });
  });
}

test('SentencePiece <unk> decodes as sentencepiece prints it (" \u2047 "; "<unk>" with skipSpecial: false)', async () => {
  const fx = JSON.parse(readFileSync(fixture('tokenizers', 'unk_decode.json'), 'utf8'));
  for (const name of ['llama', 't5']) {
    const { vocab, unk, cases } = fx[name];
    const tok = await Tokenizer.load(fixture('tokenizers', vocab), { engine });
    try {
      for (const { ids, text } of cases) assert.equal(tok.decode(ids), text, `${name} ${JSON.stringify(ids).slice(0, 40)}`);
      assert.equal(tok.decode([unk], { skipSpecial: false }), '<unk>');
      const bytes = (flags) => new TextDecoder().decode(Uint8Array.from(tok.tokenBytes(unk, flags)));
      assert.equal(bytes(1 /* skip special: what generate() streams */), ' \u2047 ');
      assert.equal(bytes(0), '<unk>');
    } finally {
      tok.dispose();
    }
  }
});

test('Tokenizer.load frees everything on dispose', async () => {
  const base = engine.heapUsed();
  for (let i = 0; i < 3; i++) {
    const tok = await Tokenizer.load(fixture('tokenizers', 'ggml-vocab-llama-spm.gguf'), { engine });
    tok.encode('Hello world');
    tok.dispose();
  }
  assert.equal(engine.heapUsed(), base);
});

test('a vocab-only GGUF is not a model: GPT.load fails with the core\'s message', async () => {
  const base = engine.heapUsed();
  await assert.rejects(GPT.load(fixture('tokenizers', 'ggml-vocab-gpt-2.gguf'), { engine }), (e) => {
    assert.ok(e instanceof PlmError, e);
    assert.ok(e.code === Status.MISSING || e.code === Status.FORMAT, `code ${e.code}: ${e.message}`);
    assert.match(e.message, /ggml-vocab-gpt-2\.gguf: ./);
    return true;
  });
  assert.equal(engine.heapUsed(), base);
});

test('Tokenizer.load of a full model file reads only its metadata', async () => {
  const { readFileSync, statSync } = await import('node:fs');
  const path = fixture('..', 'fixtures', 'llama', 'stories260K', 'stories260K-F32.gguf');
  const size = statSync(path).size;
  let last;
  const tok = await Tokenizer.load(path, { engine, onProgress: (p) => (last = p) });
  const ids = tok.encode('Once upon a time');
  tok.dispose();
  assert.equal(last.phase, 'ready');
  assert.ok(last.loaded < size / 2, `read ${last.loaded} of ${size} bytes`);
  // so the start of a file is enough
  const head = readFileSync(path).subarray(0, last.loaded);
  const tok2 = await Tokenizer.load(head, { engine });
  assert.deepEqual(tok2.encode('Once upon a time'), ids);
  tok2.dispose();
});
