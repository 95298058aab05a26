// T5 on tests/fixtures/t5 (v1.0: relu FFN, tied embeddings; v1.1: gated-gelu, untied head):
// encoder output, decoder logits, greedy ids and the padded batch vs the goldens for every
// GGUF type; beam search (numBeams 1 = greedy, an independent re-implementation of
// transformers' beam search over logits()); streaming text, stop strings, abort; the
// genuine t5-small tokenizer (Tokenizer.load on ggml-vocab-t5-small.gguf); variant
// detection from rewritten files; errors, leaks, the CLI.
//
// Tolerances: max abs error vs the float64 goldens, per variant and file type, from the
// errors measured in tests/native/test_t5.c (the kernels are bit-identical across builds).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { T5, GPT, Tokenizer, Engine, PlmError, Status } from 'plm-wasm';
import { GGUFWriter } from '../../js/convert/gguf-writer.js';
import { readGGUF } from '../../js/convert/gguf-reader.js';
import { ROOT, fixture, readJSON, readJSONL, maxAbsDiff, collect } from './helpers.mjs';

const VARIANTS = [
  {
    name: 'v1.0',
    dir: 'v1_0',
    files: { F32: 'tiny-t5-v1.0-random-f32.gguf', F16: 'tiny-t5-v1.0-random-f16.gguf', Q8_0: 'tiny-t5-v1.0-random-q80.gguf' },
    tol: { F32: { enc: 1e-5, logits: 1e-5 }, F16: { enc: 7e-3, logits: 7e-3 }, Q8_0: { enc: 0.22, logits: 0.22 } },
  },
  {
    name: 'v1.1',
    dir: 'v1_1',
    files: { F32: 'tiny-t5-v1.1-random-f32.gguf', F16: 'tiny-t5-v1.1-random-f16.gguf', Q8_0: 'tiny-t5-v1.1-random-q80.gguf' },
    tol: { F32: { enc: 1e-5, logits: 1e-5 }, F16: { enc: 9e-3, logits: 0.013 }, Q8_0: { enc: 0.3, logits: 0.45 } },
  },
];
const EOS = 1;
const cli = (...args) => spawnSync(process.execPath, [path.join(ROOT, 'js/cli.js'), ...args, '--threads', '1'], { encoding: 'utf8' });

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine.dispose());

const gguf = (v, type) => fixture('t5', v.dir, v.files[type]);

function logSoftmax(row) {
  let mx = -Infinity;
  for (const x of row) mx = Math.max(mx, x);
  let s = 0;
  for (const x of row) s += Math.exp(x - mx);
  const lse = Math.log(s);
  return Float64Array.from(row, (x) => x - mx - lse);
}

const argmax = (row) => {
  let b = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[b]) b = i;
  return b;
};

for (const v of VARIANTS) {
  const cases = readJSON(fixture('t5', v.dir, 'cases.json'));
  const cfg = cases.model.config;
  for (const type of Object.keys(v.files)) {
    describe(`T5 ${v.name} ${type}`, () => {
      let t5;
      const tol = v.tol[type];
      before(async () => {
        t5 = await T5.load(gguf(v, type), { engine });
      });
      after(() => t5.dispose());

      test('info', () => {
        assert.equal(t5.info.architecture, 't5');
        assert.equal(t5.info.causal, false);
        assert.equal(t5.vocabSize, cfg.vocab_size);
        assert.equal(t5.contextLength, 512);
        assert.equal(t5.t5Info.ffn, cfg.feed_forward_proj === 'gated-gelu' ? 'gated-gelu' : 'relu');
        assert.equal(t5.t5Info.tiedEmbeddings, cfg.tie_word_embeddings !== false);
        assert.equal(t5.t5Info.decoderStartTokenId, cfg.decoder_start_token_id);
      });

      test(`encoder output and decoder logits within ${tol.enc} / ${tol.logits}`, async () => {
        for (const c of cases.cases) {
          assert.deepEqual(Array.from(t5.tokenize(c.input_text)), c.input_ids);
          const enc = await t5.encode(Int32Array.from(c.input_ids));
          assert.deepEqual(enc.dims, [c.input_ids.length, cfg.d_model]);
          const e = maxAbsDiff(enc.data, c.encoder_last_hidden_state.flat());
          assert.ok(e <= tol.enc, `${c.name} encoder: ${e}`);
          // a text input is tokenized with </s>: the same numbers
          assert.deepEqual((await t5.encode(c.input_text)).data, enc.data);
          const lg = await t5.logits(c.input_ids, c.decoder_input_ids);
          assert.equal(lg.length, c.decoder_input_ids.length * cfg.vocab_size);
          const el = maxAbsDiff(lg, c.decoder_logits.flat());
          assert.ok(el <= tol.logits, `${c.name} logits: ${el}`);
        }
      });

      test('greedy output ids (where the golden margins allow)', async () => {
        for (const c of cases.cases) {
          const g = c.greedy_no_eos_stop;
          let safe = g.steps;
          for (let i = 0; i < safe; i++) if (g.top1_top2_margin[i] <= 2 * tol.logits) safe = i;
          const r = await t5.complete(Int32Array.from(c.input_ids), { maxTokens: c.greedy.max_new_tokens });
          const want = c.greedy.ids.slice(1).filter((id) => id !== EOS);
          assert.deepEqual(Array.from(r.tokens).slice(0, safe), want.slice(0, safe), c.name);
          if (safe === g.steps) {
            assert.deepEqual(Array.from(r.tokens), want);
            assert.equal(r.finishReason, c.greedy.stopped_at_eos ? 'eos' : 'length');
            assert.equal(r.text, t5.detokenize(r.tokens));
          }
        }
      });

      test('padded batch: each row with its attention mask', async () => {
        const pb = cases.padded_batch;
        for (let b = 0; b < pb.input_ids.length; b++) {
          const enc = await t5.encode(pb.input_ids[b], { attentionMask: pb.attention_mask[b] });
          const e = maxAbsDiff(enc.data, pb.encoder_last_hidden_state[b].flat());
          assert.ok(e <= tol.enc, `row ${b} encoder: ${e}`);
          const lg = await t5.logits(pb.input_ids[b], pb.decoder_input_ids[b], { attentionMask: pb.attention_mask[b] });
          const el = maxAbsDiff(lg, pb.decoder_logits[b].flat());
          assert.ok(el <= tol.logits, `row ${b} logits: ${el}`);
        }
      });
    });
  }
}

describe('T5 generation (v1.1 F32)', () => {
  let t5;
  const cases = readJSON(fixture('t5', 'v1_1', 'cases.json'));
  const input = Int32Array.from(cases.cases[0].input_ids);
  before(async () => {
    t5 = await T5.load(gguf(VARIANTS[1], 'F32'), { engine });
  });
  after(() => t5.dispose());

  test('numBeams 1 is greedy', async () => {
    const greedy = await t5.complete(input, { maxTokens: 12 });
    const beam1 = await t5.complete(input, { maxTokens: 12, numBeams: 1 });
    assert.deepEqual(beam1.tokens, greedy.tokens);
  });

  /** transformers' beam search written out, every prefix scored by logits() (no cache). */
  async function referenceBeam(ids, B, maxNew, lp, early) {
    const V = t5.vocabSize;
    let beams = [{ seq: [], score: 0 }];
    let hyps = [];
    const addHyp = (seq, sum, len) => {
      const score = sum / len ** lp;
      const worst = Math.min(...hyps.map((h) => h.score));
      if (hyps.length < B || score > worst) {
        hyps.push({ seq, score });
        if (hyps.length > B) hyps.splice(hyps.findIndex((h) => h.score === worst), 1);
      }
    };
    let done = false;
    for (let t = 1; t <= maxNew && !done; t++) {
      const cands = [];
      for (let r = 0; r < beams.length; r++) {
        const lg = await t5.logits(ids, [0, ...beams[r].seq]);
        const lsm = logSoftmax(lg.subarray((t - 1) * V, t * V));
        for (let i = 0; i < V; i++) cands.push({ score: Math.fround(Math.fround(lsm[i]) + beams[r].score), r, i });
      }
      cands.sort((a, b) => b.score - a.score || a.r - b.r || a.i - b.i);
      const next = [];
      for (let k = 0; k < 2 * B && next.length < B; k++) {
        const c = cands[k];
        if (c.i === EOS) {
          if (k < B) addHyp([...beams[c.r].seq, EOS], c.score, t);
        } else next.push({ seq: [...beams[c.r].seq, c.i], score: c.score });
      }
      if (hyps.length >= B) {
        const worst = Math.min(...hyps.map((h) => h.score));
        done = early === true || worst >= cands[0].score / (early === 'never' && lp > 0 ? maxNew : t) ** lp;
      }
      beams = next;
    }
    if (!done) for (const b of beams) addHyp(b.seq, b.score, maxNew);
    let best = hyps[0];
    for (const h of hyps) if (h.score >= best.score) best = h;
    return best;
  }

  for (const [B, maxNew, lp, early] of [
    [3, 6, 1.0, false],
    [4, 6, 0.5, true],
    [2, 5, -1.0, 'never'],
  ]) {
    test(`beam search (${B} beams, length penalty ${lp}, earlyStopping ${early}) = reference`, async () => {
      const got = await t5.complete(input, { maxTokens: maxNew, numBeams: B, lengthPenalty: lp, earlyStopping: early });
      const want = await referenceBeam(input, B, maxNew, lp, early);
      const wantTokens = want.seq.filter((id) => id !== EOS);
      assert.deepEqual(Array.from(got.tokens), wantTokens);
      assert.equal(got.finishReason, want.seq.at(-1) === EOS ? 'eos' : 'length');
      assert.ok(Math.abs(got.score - want.score) <= 1e-4 * (1 + Math.abs(want.score)), `${got.score} vs ${want.score}`);
      assert.equal(got.stats.numBeams, B);
      // the score is the length-normalised log-probability of the returned sequence
      const lg = await t5.logits(input, [0, ...want.seq.slice(0, -1)]);
      let sum = 0;
      for (let t = 0; t < want.seq.length; t++) sum += logSoftmax(lg.subarray(t * t5.vocabSize, (t + 1) * t5.vocabSize))[want.seq[t]];
      assert.ok(Math.abs(sum / want.seq.length ** lp - got.score) <= 1e-4 * (1 + Math.abs(got.score)));
    });
  }

  test('beam search yields the best sequence once, as text', async () => {
    const run = await collect(t5.generate(input, { maxTokens: 8, numBeams: 3 }));
    const r = await t5.complete(input, { maxTokens: 8, numBeams: 3 });
    assert.deepEqual(run.tokens, Array.from(r.tokens));
    assert.equal(run.text, r.text);
    assert.equal(r.text, t5.detokenize(r.tokens));
  });

  test('streamed text = decode(tokens); sampling is seeded', async () => {
    const a = await collect(t5.generate('summarize: the license', { maxTokens: 16, temperature: 0.9, topK: 40, seed: 7 }));
    const b = await t5.complete('summarize: the license', { maxTokens: 16, temperature: 0.9, topK: 40, seed: 7 });
    assert.deepEqual(a.tokens, Array.from(b.tokens));
    assert.equal(a.text, t5.detokenize(b.tokens));
    assert.equal(b.text, a.text);
    assert.ok(!a.text.startsWith(' '));
    for (const t of a.texts) assert.ok(t.isWellFormed());
  });

  test('stop strings cut the output', async () => {
    const full = await t5.complete(input, { maxTokens: 20 });
    const stop = full.text.slice(5, 9);
    const cut = await t5.complete(input, { maxTokens: 20, stop });
    assert.equal(cut.finishReason, 'stop');
    assert.equal(cut.text, full.text.slice(0, full.text.indexOf(stop)));
    const beam = await t5.complete(input, { maxTokens: 20, numBeams: 2 });
    const s2 = beam.text.slice(3, 6);
    const beamCut = await t5.complete(input, { maxTokens: 20, numBeams: 2, stop: s2 });
    assert.equal(beamCut.text, beam.text.slice(0, beam.text.indexOf(s2)));
    assert.equal(beamCut.finishReason, 'stop');
  });

  test('abort signal', async () => {
    const ac = new AbortController();
    const it = t5.generate(input, { maxTokens: 50, signal: ac.signal });
    let n = 0;
    await assert.rejects(async () => {
      for await (const _ of it) if (++n === 3) ac.abort(new Error('enough'));
    }, /enough/);
    assert.equal(n, 3);
    const ac2 = new AbortController();
    const p = t5.complete(input, { maxTokens: 50, numBeams: 4, signal: ac2.signal });
    ac2.abort(new Error('stop beams'));
    await assert.rejects(p, /stop beams/);
    // usable afterwards
    assert.equal((await t5.complete(input, { maxTokens: 3 })).tokens.length, 3);
  });

  test('bad input and options', async () => {
    await assert.rejects(t5.encode([]), RangeError);
    await assert.rejects(t5.logits(input, []), RangeError);
    await assert.rejects(t5.encode([5, t5.vocabSize]), (e) => e instanceof PlmError && e.code === Status.INVALID);
    await assert.rejects(t5.encode(new Int32Array(513).fill(5)), (e) => e instanceof PlmError && e.code === Status.TOO_LONG);
    const long = 'word '.repeat(600);
    const enc = await t5.encode(long, { truncate: true });
    assert.equal(enc.dims[0], 512);
    await assert.rejects(t5.encode(input, { attentionMask: [1, 1] }), RangeError);
    await assert.rejects(t5.encode(input, { attentionMask: new Array(input.length).fill(0) }), PlmError);
    await assert.rejects(t5.complete(input, { numBeams: 0 }), RangeError);
    await assert.rejects(t5.complete(input, { numBeams: 2.5 }), RangeError);
    await assert.rejects(t5.complete(input, { earlyStopping: 'sometimes' }), RangeError);
    await assert.rejects(t5.complete(input, { numBeams: 5000 }), RangeError);
    assert.equal((await t5.complete(input, { maxTokens: 0 })).tokens.length, 0);
  });
});

describe('T5 files', () => {
  /** Rewrite a fixture GGUF: drop tensors, add { name, from } copies. Returns the bytes. */
  function rewrite(src, { drop = [], copy = [] } = {}) {
    const g = readGGUF(src);
    const w = new GGUFWriter();
    for (const m of g.metadata) w.addKeyValue(m.key, m.value, m.type, m.itemType);
    const list = g.tensors.filter((t) => !drop.includes(t.name)).map((t) => ({ name: t.name, src: t }));
    for (const c of copy) list.push({ name: c.name, src: g.tensorByName.get(c.from) });
    for (const t of list) w.addTensorInfo(t.name, t.src.shape, t.src.type);
    const parts = [];
    w.open({ write: (b) => parts.push(Uint8Array.from(b)) });
    for (const t of list) w.writeTensor(t.name, g.readTensor(t.src));
    w.close();
    g.close();
    return Buffer.concat(parts);
  }

  test('an output.weight equal to token_embd.weight is a tied head (HF rescale applies)', async () => {
    const v = VARIANTS[0];
    const cases = readJSON(fixture('t5', v.dir, 'cases.json'));
    const c = cases.cases[0];
    const bytes = rewrite(gguf(v, 'F32'), { copy: [{ name: 'output.weight', from: 'token_embd.weight' }] });
    const t5 = await T5.load(bytes, { engine });
    try {
      assert.equal(t5.t5Info.tiedEmbeddings, true);
      const lg = await t5.logits(c.input_ids, c.decoder_input_ids);
      assert.ok(maxAbsDiff(lg, c.decoder_logits.flat()) <= v.tol.F32.logits);
    } finally {
      t5.dispose();
    }
  });

  test('missing tensors are reported', async () => {
    for (const name of ['dec.blk.0.attn_rel_b.weight', 'enc.blk.1.ffn_gate.weight', 'dec.blk.1.cross_attn_k.weight']) {
      const bytes = rewrite(gguf(VARIANTS[1], 'F32'), { drop: [name] });
      await assert.rejects(T5.load(bytes, { engine }), (e) => e instanceof PlmError && e.message.includes(name.replace(/^enc\.blk\.1\.ffn_gate.*/, 'ffn_gate')));
    }
  });

  test('T5.load refuses other architectures, GPT.load refuses T5', async () => {
    await assert.rejects(T5.load(fixture('gpt2', 'gpt2-tiny-F32.gguf'), { engine }), TypeError);
    await assert.rejects(GPT.load(gguf(VARIANTS[0], 'F32'), { engine }), PlmError);
  });

  test('no leaks: load, generate, beams, dispose', async () => {
    const base = engine.heapUsed();
    for (let i = 0; i < 2; i++) {
      const t5 = await T5.load(gguf(VARIANTS[1], 'Q8_0'), { engine });
      await t5.complete('translate English to German: hi', { maxTokens: 4 });
      await t5.complete('translate English to German: hi', { maxTokens: 4, numBeams: 3 });
      await t5.encode('hello');
      t5.dispose();
    }
    assert.equal(engine.heapUsed(), base);
  });

  test('dispose during a generation', async () => {
    const t5 = await T5.load(gguf(VARIANTS[1], 'F32'), { engine });
    const it = t5.generate('hello', { maxTokens: 30 });
    await it.next();
    t5.dispose();
    await assert.rejects(it.next(), /disposed/);
  });
});

test('the three builds agree (scalar, SIMD, SIMD + 2 threads): logits, greedy and beam outputs', async () => {
  const builds = [
    { build: 'scalar', threads: 1 },
    { build: 'simd', threads: 1 },
    { build: 'simd-mt', threads: 2 },
  ];
  const c = readJSON(fixture('t5', 'v1_1', 'cases.json')).cases[3]; // the long input
  for (const type of ['F32', 'Q8_0']) {
    const results = [];
    for (const b of builds) {
      const t5 = await T5.load(gguf(VARIANTS[1], type), b);
      try {
        assert.equal(t5.engine.threads, b.threads);
        const logits = await t5.logits(c.input_ids, c.decoder_input_ids);
        const greedy = await t5.complete(c.input_text, { maxTokens: 12 });
        const beams = await t5.complete(c.input_text, { maxTokens: 8, numBeams: 3 });
        results.push({ logits, greedy: Array.from(greedy.tokens), beams: Array.from(beams.tokens), score: beams.score });
      } finally {
        t5.dispose();
      }
    }
    for (const r of results.slice(1)) {
      assert.ok(maxAbsDiff(r.logits, results[0].logits) <= 1e-5, type);
      assert.deepEqual(r.greedy, results[0].greedy);
      assert.deepEqual(r.beams, results[0].beams);
      assert.ok(Math.abs(r.score - results[0].score) <= 1e-5);
    }
  }
});

describe('t5-small tokenizer (ggml-vocab-t5-small.gguf)', () => {
  let tok;
  const lines = readJSONL(fixture('tokenizers', 't5.jsonl'));
  before(async () => {
    tok = await Tokenizer.load(fixture('tokenizers', 'ggml-vocab-t5-small.gguf'), { engine });
  });
  after(() => tok.dispose());

  test(`${lines.length} texts encode to the golden ids`, () => {
    assert.equal(tok.vocabSize, 32128);
    const bad = [];
    for (const { text, ids, ids_with_special } of lines) {
      const got = Array.from(tok.encode(text, { addSpecial: false }));
      const gotSpecial = Array.from(tok.encode(text, { addSpecial: true }));
      if (JSON.stringify(got) !== JSON.stringify(ids) || JSON.stringify(gotSpecial) !== JSON.stringify(ids_with_special))
        bad.push(`${JSON.stringify(text).slice(0, 60)}: got ${JSON.stringify(gotSpecial).slice(0, 80)}`);
    }
    assert.deepEqual(bad, []);
  });

  test('decode round-trips to the normalized text (sentencepiece pieces)', () => {
    const unk = tok.info.tokenizer.unk;
    const bad = [];
    for (const { text, ids, ids_with_special, tokens } of lines) {
      // sentencepiece's decode: spaces dropped while the text is empty, <unk> shown as ' \u2047 '
      let want = '';
      tokens.forEach((t, i) => {
        want += ids[i] === unk ? ' \u2047 ' : want === '' ? t.replaceAll('\u2581', ' ').replace(/^ +/, '') : t.replaceAll('\u2581', ' ');
      });
      if (tok.decode(ids) !== want || tok.decode(ids_with_special) !== want) bad.push(`${JSON.stringify(text).slice(0, 50)} -> ${JSON.stringify(tok.decode(ids)).slice(0, 50)}`);
      // and the decoded text encodes to the same ids (when nothing was <unk>)
      if (!ids.includes(unk) && JSON.stringify(Array.from(tok.encode(want, { addSpecial: false }))) !== JSON.stringify(ids)) bad.push(`re-encode ${JSON.stringify(text).slice(0, 50)}`);
    }
    assert.deepEqual(bad, []);
  });
});

test('CLI: plm-wasm t5', () => {
  const model = gguf(VARIANTS[1], 'F32');
  const greedy = cli('t5', model, 'translate English to German: The house is wonderful.', '--max-tokens', '8');
  assert.equal(greedy.status, 0, greedy.stderr);
  const beams = cli('t5', model, 'translate English to German: The house is wonderful.', '--max-tokens', '8', '--beams', '3', '--json');
  assert.equal(beams.status, 0, beams.stderr);
  const j = JSON.parse(beams.stdout);
  assert.equal(j.tokens.length, 8);
  assert.equal(typeof j.score, 'number');
  assert.ok(greedy.stdout.length > 0);
  const bad = cli('t5', model, 'x', '--beams', 'two');
  assert.equal(bad.status, 2);
});
