#!/usr/bin/env node
// grammar_bench.mjs — per-token cost of grammar-constrained sampling vs a decode step,
// on GPT-2 small's shape (12 layers, 768 wide, vocab 50257: the real GPT-2 tokenizer),
// random weights (bench/gpt_bench.mjs writes the GGUF).
//
// Teacher-forced: JSON documents are tokenized and fed token by token; at each
// position the bench times one decode step (plm_ctx_decode of the previous token)
// and then the grammar's work for the step (plm_matcher_mask over the 50257
// logits + plm_matcher_accept of the next document token), interleaved in the same
// process, so the ratio grammar / decode is measured under the same conditions;
// times are CPU time of this process (process.cpuUsage: one thread runs everything),
// so other load on the machine does not inflate them.
// Workloads: a JSON Schema (responseFormat json_schema), any JSON object
// (json_object) with long free-text strings, and a GBNF free-text line.
//
//   node bench/grammar_bench.mjs [--type Q8_0] [--threads 1] [--rounds 2] [--keep] [--dir DIR]

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { GPT, Engine } from '../js/node.js';
import { Quantizer } from '../js/convert/index.js';
import { writeModel } from './gpt_bench.mjs';
import { jsonSchemaToGrammar, jsonObjectGrammar } from '../js/grammar/json-schema.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const TYPE = opt('type', 'Q8_0');
const THREADS = Number(opt('threads', '1'));
const ROUNDS = Number(opt('rounds', '2'));
const DIR = opt('dir', join(tmpdir(), 'plm-grammar-bench'));
const KEEP = args.includes('--keep');
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
if (THREADS !== 1) throw new Error('--threads must be 1: CPU time is measured for the whole process');

const SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 1 },
    name: { type: 'string', maxLength: 40 },
    email: { type: 'string', pattern: '^[a-z0-9.]+@[a-z0-9.]+\\.[a-z]{2,}$' },
    born: { type: 'string', format: 'date' },
    role: { enum: ['admin', 'editor', 'viewer'] },
    score: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 8 },
    address: {
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' }, zip: { type: 'string', pattern: '^[0-9]{5}$' } },
      required: ['street', 'city'],
    },
    active: { type: 'boolean' },
  },
  required: ['id', 'name', 'role'],
};

// (required properties first, then the optional ones in declared order: the generation order)
const PEOPLE = [
  { id: 1042, name: 'Ada Lovelace', role: 'admin', email: 'ada.lovelace@example.org', born: '1815-12-10', score: 98.5, tags: ['math', 'engines', 'poetry'], address: { street: '12 St James Square', city: 'London', zip: '10001' }, active: true },
  { id: 7, name: 'Grace Hopper', role: 'editor', born: '1906-12-09', score: -3.25e2, tags: ['cobol', 'compilers', 'navy', 'nanoseconds'], address: { street: '1 Navy Way', city: 'Arlington' }, active: false },
  { id: 31337, name: 'Alan Turing', role: 'viewer', email: 'alan@bletchley.uk', score: 0.001, tags: [], active: true },
];

const FREE_OBJECTS = [
  {
    title: 'A short story',
    text: 'Once upon a time, in a small village by the sea, there lived an old fisherman who told stories to anyone who would listen. "The sea remembers," he said, and the children laughed.',
    words: 37,
    meta: { language: 'en', tags: ['story', 'sea', 'village'], rating: 4.5 },
  },
  { question: 'What is the capital of France?', answer: 'Paris is the capital and most populous city of France, with an estimated population of 2.1 million residents.', confidence: 0.97, sources: ['encyclopedia', 'atlas'] },
];

const LINE_GBNF = 'root ::= [A-Z] [^\\n]{0,400} "\\n"';
const LINES = [
  'The committee met on Tuesday to discuss the budget for next year, and after a long debate it approved the proposal with minor changes to the travel allowance.\n',
  'Rain is expected across the northern regions tomorrow, with temperatures dropping to around eight degrees in the evening.\n',
];

const WORKLOADS = [
  { name: 'json_schema (9 properties, nested object, pattern, date, enum)', grammar: () => jsonSchemaToGrammar(SCHEMA).grammar, docs: PEOPLE.map((p) => JSON.stringify(p, null, 0).replace(/,"/g, ', "').replace(/":/g, '": ')) },
  { name: 'json_object (free-text strings)', grammar: () => jsonObjectGrammar(), docs: FREE_OBJECTS.map((o) => JSON.stringify(o).replace(/,"/g, ', "').replace(/":/g, '": ')) },
  { name: 'GBNF text line ([^\\n]{0,400})', grammar: () => LINE_GBNF, docs: LINES },
];

async function main() {
  mkdirSync(DIR, { recursive: true });
  const path = join(DIR, `gpt2-small-random-${TYPE}.gguf`);
  if (!existsSync(path)) {
    const quantizer = await Quantizer.create();
    await writeModel(path, TYPE, quantizer);
    quantizer.dispose();
  }
  const engine = await Engine.create({ threads: THREADS });
  const gpt = await GPT.load(path, { engine, contextLength: 512 });
  const { fn } = engine;
  const nVocab = gpt.vocabSize;
  console.log(`GPT-2 small shape, ${TYPE}, random weights, vocab ${nVocab}; ${engine.build}, ${engine.threads} thread(s)`);
  console.log(`machine: ${cpus()[0]?.model ?? '?'} x${cpus().length}, Node ${process.versions.node}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

  // one-time costs
  let t0 = cpuMs();
  const index = engine.checkPtr(fn.plm_token_index_new(gpt.ptr));
  console.log(`token index (trie of ${nVocab} tokens): built in ${(cpuMs() - t0).toFixed(1)} ms CPU`);

  const ctx = gpt.ctxPtr;
  const rows = [];
  try {
    for (const w of WORKLOADS) {
      const src = w.grammar();
      const g = engine.scoped((s) => {
        const str = s.string(src);
        t0 = cpuMs();
        const p = engine.checkPtr(fn.plm_grammar_new(str.ptr, str.len));
        w.parseMs = cpuMs() - t0;
        return p;
      });
      let decodeMs = 0, grammarMs = 0, tokens = 0;
      const per = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const doc of w.docs) {
          const ids = gpt.tokenize(doc, { addSpecial: false });
          const m = engine.checkPtr(fn.plm_matcher_new(g, index, 0));
          try {
            engine.scoped((s) => {
              const one = s.alloc(4);
              const logits = s.alloc(nVocab * 4);
              engine.check(fn.plm_ctx_truncate(ctx, 0));
              let prev = 50256; // <|endoftext|> as the prompt
              for (const id of ids) {
                engine.view(Int32Array, one, 1)[0] = prev;
                const a = cpuMs();
                engine.check(fn.plm_ctx_decode(ctx, one, 1, logits, 0));
                const b = cpuMs();
                engine.check(fn.plm_matcher_mask(m, logits, nVocab));
                const lv = engine.view(Float32Array, logits, nVocab)[id];
                if (lv === -Infinity) throw new Error(`${w.name}: the grammar refused token ${id} of the document`);
                engine.check(fn.plm_matcher_accept(m, id));
                const c = cpuMs();
                if (round > 0 || ROUNDS === 1) {
                  decodeMs += b - a;
                  grammarMs += c - b;
                  tokens++;
                  per.push(c - b);
                }
                prev = id;
              }
              // the document is complete: only end-of-text is left or allowed
              engine.view(Float32Array, logits, nVocab).fill(0);
              engine.check(fn.plm_matcher_mask(m, logits, nVocab));
              if (engine.view(Float32Array, logits, nVocab)[50256] === -Infinity) throw new Error(`${w.name}: the grammar does not accept the end of the document`);
            });
          } finally {
            fn.plm_matcher_free(m);
          }
        }
      }
      fn.plm_grammar_free(g);
      per.sort((x, y) => x - y);
      rows.push({ name: w.name, tokens, decode: decodeMs / tokens, grammar: grammarMs / tokens, p50: per[per.length >> 1], max: per[per.length - 1], parseMs: w.parseMs });
    }
  } finally {
    fn.plm_token_index_free(index);
    gpt.dispose();
    engine.dispose();
    if (!KEEP) rmSync(path, { force: true });
  }
  console.log('\n| grammar | tokens | decode CPU ms/token | grammar CPU ms/token (mean / median / max) | overhead (grammar / decode) | parse ms |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.name} | ${r.tokens} | ${r.decode.toFixed(2)} | ${r.grammar.toFixed(3)} / ${r.p50.toFixed(3)} / ${r.max.toFixed(2)} | ${((100 * r.grammar) / r.decode).toFixed(1)}% | ${r.parseMs.toFixed(2)} |`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
