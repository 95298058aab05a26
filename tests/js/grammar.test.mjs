// Grammar-constrained generation: Grammar#matches and the JSON Schema converter on
// llama.cpp's grammar integration cases (tests/fixtures/grammar/integration.json),
// parse / schema errors, and generation with grammars on the fixture models
// (GPT-2 byte-level BPE, LLaMA stories260K SentencePiece with byte fallback) at
// temperature > 0 over many seeds: every finished output matches, JSON parses and
// validates, a forcing grammar gives its string; in worker mode too.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GPT, Engine, Grammar, PlmError, jsonSchemaToGrammar, SchemaError } from 'plm-wasm';
import { join } from 'node:path';
import { ROOT, fixture, readJSON } from './helpers.mjs';
import { validate } from './schema_validate.mjs';

const CASES = readJSON(fixture('grammar', 'integration.json'));

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine.dispose());

describe('Grammar', () => {
  test("llama.cpp's integration cases (grammars)", () => {
    let n = 0;
    for (const c of CASES.grammars) {
      const g = new Grammar(c.grammar, { engine });
      for (const s of c.pass) assert.equal(g.matches(s), true, `${c.desc}: should match ${JSON.stringify(s)}`), n++;
      for (const s of c.fail) assert.equal(g.matches(s), false, `${c.desc}: should not match ${JSON.stringify(s)}`), n++;
      g.dispose();
    }
    assert.equal(n, 119);
    for (const c of CASES.bad_grammars) assert.throws(() => new Grammar(c.grammar, { engine }), PlmError, c.desc);
  });

  test("llama.cpp's integration cases (JSON schemas)", () => {
    let n = 0;
    for (const c of CASES.schemas) {
      const { grammar } = jsonSchemaToGrammar(c.schema);
      const g = new Grammar(grammar, { engine });
      for (const s of c.pass) assert.equal(g.matches(s), true, `${c.desc}: should match ${JSON.stringify(s)}\n${grammar}`), n++;
      for (const s of c.fail) assert.equal(g.matches(s), false, `${c.desc}: should not match ${JSON.stringify(s)}\n${grammar}`), n++;
      g.dispose();
    }
    assert.equal(n, 246);
  });

  test('parse errors: PlmError with line and column', () => {
    const e = (() => {
      try {
        new Grammar('root ::= "a"\nfoo ::= "b" bar\n', { engine });
      } catch (err) {
        return err;
      }
    })();
    assert.ok(e instanceof PlmError);
    assert.equal(e.status, 'FORMAT');
    assert.equal(e.line, 2);
    assert.equal(e.column, 13);
    assert.match(e.message, /line 2, column 13: undefined rule identifier 'bar'/);
    assert.throws(() => new Grammar('root ::= "a" | root "b"', { engine }), /left recursion/);
    assert.throws(() => new Grammar(42, { engine }), TypeError);
    // nothing leaks: failed parses and disposed grammars
    const before = engine.heapUsed();
    for (let i = 0; i < 20; i++) {
      assert.throws(() => new Grammar('root ::= [a-', { engine }));
      new Grammar('root ::= [a-z]{1,9} ("," [a-z]+)*', { engine }).dispose();
    }
    assert.equal(engine.heapUsed(), before);
  });

  test('Grammar.create starts an engine when needed; matches() on UTF-8', async () => {
    const g = await Grammar.create('root ::= [\\u4e00-\\u9fff]+ "!"');
    assert.equal(g.matches('日本語!'), true);
    assert.equal(g.matches('日本x!'), false);
    assert.equal(g.source, 'root ::= [\\u4e00-\\u9fff]+ "!"');
  });
});

describe('JSON Schema -> GBNF', () => {
  const matches = (schema, s) => new Grammar(jsonSchemaToGrammar(schema).grammar, { engine }).matches(s);

  test("llama.cpp's json-schema-to-grammar cases: status, accept/reject, integer ranges vs llama.cpp's grammars", () => {
    const { cases } = readJSON(fixture('grammar', 'schema_to_grammar.json'));
    let strings = 0, ranges = 0;
    for (const c of cases) {
      if (c.status === 'FAILURE') {
        assert.throws(() => jsonSchemaToGrammar(c.schema), SchemaError, c.name);
        continue;
      }
      const ours = new Grammar(jsonSchemaToGrammar(c.schema).grammar, { engine });
      for (const t of c.pass) assert.equal(ours.matches(t), true, `${c.name}: should match ${t}`), strings++;
      for (const t of c.fail) assert.equal(ours.matches(t), false, `${c.name}: should not match ${t}`), strings++;
      if (c.llama_grammar) {
        const theirs = new Grammar(c.llama_grammar, { engine }); // llama.cpp's own output parses here too
        const probes = [];
        for (let v = -1100; v <= 1100; v++) probes.push(String(v));
        probes.push('-0', '00', '007', '1234567890123456', '12345678901234567', '-1234567890123456', '9999999999999999', '10000000000000000');
        for (const p of probes) assert.equal(ours.matches(p), theirs.matches(p), `${c.name}: ${p}`), ranges++;
        theirs.dispose();
      }
      ours.dispose();
    }
    assert.equal(cases.length, 72);
    assert.ok(strings > 150 && ranges > 30000, `${strings} strings, ${ranges} range probes`);
  });

  test('unsupported keywords and bad schemas are errors naming them', () => {
    assert.throws(() => jsonSchemaToGrammar({ type: 'object', patternProperties: { '^a': {} } }), /unsupported keyword "patternProperties"/);
    assert.throws(() => jsonSchemaToGrammar({ type: 'string', format: 'email' }), /unsupported format "email"/);
    assert.throws(() => jsonSchemaToGrammar({ $ref: 'https://example.com/s.json' }), /only local references/);
    assert.throws(() => jsonSchemaToGrammar({ $ref: '#/$defs/nope' }), /does not resolve/);
    assert.throws(() => jsonSchemaToGrammar({ properties: { a: { not: { type: 'string' } } } }), /#\/properties\/a: unsupported keyword "not"/);
    assert.throws(() => jsonSchemaToGrammar({ type: 'string', pattern: '(?=x)' }), /pattern/);
    assert.throws(() => jsonSchemaToGrammar('{oops'), /not valid JSON/);
    assert.throws(() => jsonSchemaToGrammar({ type: 'integer', minimum: 5, maximum: 4 }), /no integer/);
    const { relaxed } = jsonSchemaToGrammar({ type: 'array', items: { type: 'number', minimum: 0 }, uniqueItems: true });
    assert.equal(relaxed.length, 2);
  });

  test('$ref / $defs (recursive), anyOf, allOf, prefixItems, patterns, nullable types', () => {
    const tree = { $defs: { node: { type: 'object', properties: { v: { type: 'integer' }, kids: { type: 'array', items: { $ref: '#/$defs/node' }, maxItems: 2 } }, required: ['v'] } }, $ref: '#/$defs/node' };
    assert.equal(matches(tree, '{"v": 1, "kids": [{"v": 2}, {"v": 3, "kids": []}]}'), true);
    assert.equal(matches(tree, '{"v": 1, "kids": [{"w": 2}]}'), false);
    const any = { anyOf: [{ type: 'integer', minimum: 10 }, { type: 'string', maxLength: 2 }] };
    assert.equal(matches(any, '12'), true);
    assert.equal(matches(any, '"ab"'), true);
    assert.equal(matches(any, '9'), false);
    const all = { allOf: [{ properties: { a: { type: 'integer' } }, required: ['a'] }, { properties: { b: { type: 'boolean' } }, required: ['b'] }] };
    assert.equal(matches(all, '{"a": 1, "b": true}'), true);
    assert.equal(matches(all, '{"a": 1}'), false);
    const tuple = { prefixItems: [{ type: 'string' }, { type: 'null' }] };
    assert.equal(matches(tuple, '["x", null]'), true);
    assert.equal(matches(tuple, '["x"]'), false);
    const pat = { type: 'string', pattern: '^(\\d{3}-)?[A-Z][a-z]+\\.?$' };
    assert.equal(matches(pat, '"123-Hello."'), true);
    assert.equal(matches(pat, '"hello"'), false);
    assert.equal(matches({ type: 'string', pattern: 'ab' }, '"xxabyy"'), true); // unanchored: anywhere
    assert.equal(matches({ type: 'string', pattern: '^a"b\\\\$' }, '"a\\"b\\\\"'), true); // quote and backslash escaped
    assert.equal(matches({ type: ['string', 'null'] }, 'null'), true);
    assert.equal(matches({ type: 'integer', minimum: -5, exclusiveMaximum: 100 }, '99'), true);
    assert.equal(matches({ type: 'integer', minimum: -5, exclusiveMaximum: 100 }, '100'), false);
    assert.equal(matches({ type: 'integer', minimum: -5, exclusiveMaximum: 100 }, '-6'), false);
  });

  test('integer ranges: every value in and around the bounds', () => {
    for (const [lo, hi] of [[0, 120], [-37, 5], [99, 1001], [-1000, -990], [7, 7]]) {
      const g = new Grammar(jsonSchemaToGrammar({ type: 'integer', minimum: lo, maximum: hi }).grammar, { engine });
      for (let v = lo - 15; v <= hi + 15; v++) assert.equal(g.matches(String(v)), v >= lo && v <= hi, `${v} in [${lo}, ${hi}]`);
      assert.equal(g.matches('-0'), lo < 0 && hi >= 0); // (as llama.cpp: "-0" = 0 when the range crosses 0)
      g.dispose();
    }
  });
});

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 8 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    color: { enum: ['red', 'green', 'blue'] },
    born: { type: 'string', format: 'date' },
    tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 3 },
    ok: { type: 'boolean' },
  },
  required: ['name', 'age', 'color'],
  additionalProperties: false,
};

// gpt2-tiny's 128-token context is too short for the schema's outputs (random weights like
// whitespace): the JSON Schema test runs on the trained GPT-2 of models/ (context 256).
const MODELS = [
  { name: 'gpt2-tiny (byte-level BPE)', path: fixture('gpt2', 'gpt2-tiny-F32.gguf'), prompt: 'Hello', schema: false },
  { name: 'gpt2-stories (byte-level BPE)', path: join(ROOT, 'models', 'gpt2-stories-F16.gguf'), prompt: 'Once upon a time', schema: true },
  { name: 'stories260K (SentencePiece, byte fallback)', path: fixture('llama', 'stories260K', 'stories260K-F32.gguf'), prompt: 'Once upon a time', schema: true },
];

for (const m of MODELS) {
  describe(`generation with a grammar: ${m.name}`, () => {
    let gpt;
    before(async () => {
      gpt = await GPT.load(m.path, { engine });
    });
    after(() => gpt.dispose());

    test('JSON Schema: every output over 16 seeds parses and validates', { skip: !m.schema && 'context too short' }, async () => {
      const g = Grammar.fromJsonSchema(PERSON, { engine });
      let eos = 0;
      for (let seed = 1; seed <= 16; seed++) {
        const r = await gpt.complete(m.prompt, { responseFormat: { type: 'json_schema', schema: PERSON }, maxTokens: 400, temperature: 1.2, topK: 0, topP: 1, minP: 0, seed });
        assert.equal(r.finishReason, 'eos', `seed ${seed}: ${r.finishReason} ${JSON.stringify(r.text)}`);
        eos++;
        assert.equal(g.matches(r.text), true, r.text);
        const v = JSON.parse(r.text);
        assert.deepEqual(validate(v, PERSON), [], r.text);
        assert.ok(r.stats.grammarMs >= 0);
      }
      assert.equal(eos, 16);
    });

    test('GBNF grammars (choice, Unicode, numbers list) with many seeds; empty prompt', async () => {
      const grammars = [
        'root ::= ("yes" | "no" | "maybe") "."',
        'root ::= "<" [\\u00e0-\\u00ff\\u4e00-\\u9fa5]{1,6} ">"',
        'root ::= "[" [1-9] [0-9]{0,2} ("," " "? [1-9] [0-9]{0,2}){0,4} "]"',
        'root ::= [A-Z] [a-z]{1,10} (" " [a-z]{1,10}){0,3} "."',
      ];
      for (const src of grammars) {
        const g = new Grammar(src, { engine });
        for (let seed = 1; seed <= 10; seed++) {
          for (const prompt of [m.prompt, '']) {
            const r = await gpt.complete(prompt, { grammar: g, maxTokens: 200, temperature: 1.5, topK: 0, topP: 1, minP: 0, seed });
            assert.equal(r.finishReason, 'eos', `${src} seed ${seed}: ${r.finishReason} ${JSON.stringify(r.text)}`);
            assert.equal(g.matches(r.text), true, `${src} seed ${seed} prompt ${JSON.stringify(prompt)}: ${JSON.stringify(r.text)}`);
          }
        }
      }
    });

    test('a forcing grammar gives its string (greedy and sampled; streamed)', async () => {
      const want = 'The quick brown fox — ünïcödé ✓ {"a": [1, 2]}';
      const lit = JSON.stringify(want).replace(/^"|"$/g, '');
      for (const temperature of [0, 1]) {
        const r = await gpt.complete(m.prompt, { grammar: `root ::= "${lit}"`, temperature, maxTokens: 200, seed: 3 });
        assert.equal(r.text, want);
        assert.equal(r.finishReason, 'eos');
      }
      let text = '';
      for await (const c of gpt.generate(m.prompt, { grammar: `root ::= "${lit}"`, maxTokens: 200, seed: 4 })) text += c.text;
      assert.equal(text, want);
    });

    test("json_object: outputs that end parse as JSON objects; options are checked", async () => {
      for (let seed = 1; seed <= 6; seed++) {
        const r = await gpt.complete(m.prompt, { responseFormat: { type: 'json_object' }, maxTokens: 80, temperature: 1, seed });
        if (r.finishReason === 'eos') assert.equal(typeof JSON.parse(r.text), 'object');
        else assert.equal(r.finishReason, 'length');
      }
      await assert.rejects(gpt.complete(m.prompt, { grammar: 'root ::= "a"', responseFormat: { type: 'json_object' } }), /either grammar or responseFormat/);
      await assert.rejects(gpt.complete(m.prompt, { responseFormat: { type: 'xml' } }), /responseFormat.type/);
      await assert.rejects(gpt.complete(m.prompt, { grammar: 'root ::= foo' }), (e) => e instanceof PlmError && /undefined rule/.test(e.message));
      // the model is still usable, and nothing leaked across grammar generations
      await gpt.complete(m.prompt, { grammar: 'root ::= "ok"', maxTokens: 8 }); // (parses and caches the grammar)
      const heap = engine.heapUsed();
      await gpt.complete(m.prompt, { grammar: 'root ::= "ok"', maxTokens: 8 });
      await gpt.complete(m.prompt, { grammar: 'root ::= "ok"', maxTokens: 8 });
      assert.equal(engine.heapUsed(), heap);
      const plain = await gpt.complete(m.prompt, { maxTokens: 4, seed: 1 });
      assert.equal(plain.tokens.length > 0, true);
    });
  });
}

test('worker mode: grammar and responseFormat cross the worker boundary', async () => {
  const gpt = await GPT.load(MODELS[1].path, { worker: true, threads: 1 });
  try {
    assert.equal(gpt.runtime.worker, true);
    const g = new Grammar('root ::= ("cat" | "dog") "s"?'); // parsed on this thread (the proxy's vocab engine)
    const r = await gpt.complete('Hello', { grammar: g, maxTokens: 20, temperature: 1, seed: 5 });
    assert.equal(g.matches(r.text), true, r.text);
    const j = await gpt.complete('Hello', { responseFormat: { type: 'json_schema', schema: PERSON }, maxTokens: 400, temperature: 1, seed: 2 });
    assert.deepEqual(validate(JSON.parse(j.text), PERSON), []);
    await assert.rejects(gpt.complete('Hello', { grammar: 'root ::= (' }), (e) => e instanceof PlmError && /line 1/.test(e.message));
  } finally {
    gpt.dispose();
  }
});

test('T5 (SentencePiece Unigram): sampling with a grammar and a schema; beams refuse a grammar', async () => {
  const { T5 } = await import('plm-wasm');
  const t5 = await T5.load(join(ROOT, 'models', 't5-tasks-F16.gguf'), { engine });
  try {
    const g = new Grammar('root ::= [a-z]{1,8} (" " [a-z]{1,8}){0,3}', { engine });
    for (let seed = 1; seed <= 8; seed++) {
      const r = await t5.complete('reverse: a b c', { grammar: g, temperature: 1, seed, maxTokens: 60 });
      assert.equal(r.finishReason, 'eos', JSON.stringify(r.text));
      assert.equal(g.matches(r.text), true, JSON.stringify(r.text));
    }
    const schema = { type: 'object', properties: { word: { type: 'string', pattern: '^[a-z]{1,6}$' }, n: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['word', 'n'] };
    for (let seed = 1; seed <= 4; seed++) {
      const r = await t5.complete('spell: cat', { responseFormat: { type: 'json_schema', schema }, temperature: 0.7, seed, maxTokens: 120 });
      assert.equal(r.finishReason, 'eos', JSON.stringify(r.text));
      assert.deepEqual(validate(JSON.parse(r.text), schema), [], r.text);
    }
    await assert.rejects(t5.complete('spell: cat', { grammar: g, numBeams: 2 }), /numBeams/);
  } finally {
    t5.dispose();
  }
});

test('CLI: generate --grammar FILE / --json-schema FILE', async () => {
  const { execFileSync } = await import('node:child_process');
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'plm-grammar-'));
  try {
    writeFileSync(join(dir, 'g.gbnf'), 'root ::= "Answer: " ("yes" | "no") "."\n');
    writeFileSync(join(dir, 's.json'), JSON.stringify({ type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] }));
    const cli = join(ROOT, 'js', 'cli.js');
    const model = MODELS[1].path;
    const run = (...a) => execFileSync(process.execPath, [cli, 'generate', model, 'Hi', '--threads', '1', '--seed', '1', '--max-tokens', '60', ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(run('--grammar', join(dir, 'g.gbnf')), /^HiAnswer: (yes|no)\.\n$/);
    const out = run('--json-schema', join(dir, 's.json')).slice(2);
    assert.equal(typeof JSON.parse(out).ok, 'boolean');
    writeFileSync(join(dir, 'bad.gbnf'), 'root ::= "a" |\n  oops\n');
    assert.throws(() => run('--grammar', join(dir, 'bad.gbnf')), (e) => /line 2, column 3: undefined rule identifier 'oops'/.test(e.stderr));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
