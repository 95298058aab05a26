// Special-token text in prompts: by default (parseSpecial: true) "<|endoftext|>", "</s>", "<s>"...
// in a text become the special token, as Hugging Face tokenizers and llama.cpp (parse_special = true,
// what its server and CLI use for prompts) do; parseSpecial: false keeps them as ordinary text.
//
// Reference: Hugging Face splits a text at its special-token literals (added tokens, all with
// lstrip = rstrip = false for these vocabularies: GPT2Tokenizer's <|endoftext|>, LlamaTokenizer's
// <unk> <s> </s> (legacy, as the original Llama 2 files), T5Tokenizer's <pad> </s> <unk>) and
// encodes every text piece on its own, the SentencePiece ones with their dummy prefix again
// (llama.cpp: tokenizer_st_partition, then a space prefix after a special token). So the
// expected ids of A + S + B are golden(A) ++ [id(S)] ++ golden(B), with the golden ids of each
// text from tests/fixtures/tokenizers/*.jsonl (HF's / sentencepiece's own output).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer, GPT, T5, Engine } from 'plm-wasm';
import { fixture, readJSONL } from './helpers.mjs';

const VOCABS = [
  { name: 'gpt2', gguf: 'ggml-vocab-gpt-2.gguf', jsonl: 'gpt2.jsonl', specials: { '<|endoftext|>': 50256 }, bos: [], eos: [] },
  { name: 'llama', gguf: 'ggml-vocab-llama-spm.gguf', jsonl: 'llama.jsonl', specials: { '<unk>': 0, '<s>': 1, '</s>': 2 }, bos: [1], eos: [] },
  { name: 't5', gguf: 'ggml-vocab-t5-small.gguf', jsonl: 't5.jsonl', specials: { '<pad>': 0, '</s>': 1, '<unk>': 2 }, bos: [], eos: [1] },
];

let engine;
before(async () => {
  engine = await Engine.create({ threads: 1 });
});
after(() => engine.dispose());

const J = (x) => JSON.stringify(Array.from(x));

for (const v of VOCABS) {
  describe(`special-token text, ${v.name} (${v.gguf})`, () => {
    let tok;
    const lines = readJSONL(fixture('tokenizers', v.jsonl));
    before(async () => {
      tok = await Tokenizer.load(fixture('tokenizers', v.gguf), { engine });
    });
    after(() => tok.dispose());

    test('A + special + B tokenizes as golden(A), the special id, golden(B) (default parseSpecial)', () => {
      const bad = [];
      let n = 0;
      const names = Object.keys(v.specials);
      for (let i = 0; i < lines.length; i++) {
        const a = lines[i];
        const b = lines[(i * 37 + 11) % lines.length];
        const s = names[i % names.length];
        const cases = [
          [a.text + s + b.text, [...a.ids, v.specials[s], ...b.ids]],
          [s + a.text, [v.specials[s], ...a.ids]],
          [a.text + s, [...a.ids, v.specials[s]]],
          [a.text + s + s + b.text + names[(i + 1) % names.length], [...a.ids, v.specials[s], v.specials[s], ...b.ids, v.specials[names[(i + 1) % names.length]]]],
        ];
        for (const [text, want] of cases) {
          n++;
          const got = tok.encode(text, { addSpecial: false });
          if (J(got) !== J(want)) bad.push(`${JSON.stringify(text).slice(0, 70)}: got ${J(got).slice(0, 60)} want ${J(want).slice(0, 60)}`);
          const gotSp = tok.encode(text);
          const wantSp = [...v.bos, ...want, ...v.eos];
          if (J(gotSp) !== J(wantSp)) bad.push(`(addSpecial) ${JSON.stringify(text).slice(0, 70)}: got ${J(gotSp).slice(0, 60)}`);
        }
      }
      assert.ok(n >= 400);
      assert.deepEqual(bad, []);
    });

    if (v.name === 'gpt2')
      test('the issue case: "a<|endoftext|>b" is 3 ids (a, <|endoftext|>, b), 8 with parseSpecial: false', () => {
        assert.deepEqual(Array.from(tok.encode('a<|endoftext|>b')), [64, 50256, 65]);
        const lit = tok.encode('a<|endoftext|>b', { parseSpecial: false });
        assert.ok(lit.length > 3 && !lit.includes(50256), J(lit));
      });

    test('parseSpecial: false keeps special-token text literal', () => {
      // t5-small has no '<' piece: the literal's '<' is <unk> (id 2), as in sentencepiece
      const unk = v.name === 't5' ? 2 : -1;
      const specialIds = new Set(Object.values(v.specials).filter((id) => id !== unk));
      for (const s of Object.keys(v.specials)) {
        const text = `a${s}b`;
        const lit = tok.encode(text, { addSpecial: false, parseSpecial: false });
        assert.ok(lit.length > 3, `${text}: ${J(lit)}`);
        for (const id of lit) assert.ok(!specialIds.has(id), `${text}: special id ${id} in ${J(lit)}`);
        // the literal text survives a round trip (the parsed one drops the control token when decoding)
        if (unk < 0) assert.equal(tok.decode(lit), text);
        const parsed = tok.encode(text, { addSpecial: false });
        const want = [...tok.encode('a', { addSpecial: false }), v.specials[s], ...tok.encode('b', { addSpecial: false })];
        assert.equal(J(parsed), J(want));
      }
    });
  });
}

test('GPT.tokenize: "a<|endoftext|>b" is 3 ids by default', async () => {
  const gpt = await GPT.load(fixture('gpt2', 'gpt2-tiny-F32.gguf'), { engine });
  try {
    const eot = gpt.info.tokenizer.eos;
    const ids = gpt.tokenize('a<|endoftext|>b');
    assert.equal(ids.length, 3);
    assert.equal(ids[1], eot);
    assert.ok(!gpt.tokenize('a<|endoftext|>b', { parseSpecial: false }).includes(eot));
  } finally {
    gpt.dispose();
  }
});

test('T5: "</s>" in an input is the end token by default', async () => {
  const t5 = await T5.load(fixture('t5', 'v1_1', 'tiny-t5-v1.1-random-f32.gguf'), { engine });
  try {
    const ids = Array.from(t5.tokenize('x</s>y'));
    const x = Array.from(t5.tokenize('x', { addSpecial: false }));
    const y = Array.from(t5.tokenize('y', { addSpecial: false }));
    assert.deepEqual(ids, [...x, 1, ...y, 1]);
    assert.ok(!Array.from(t5.tokenize('x</s>y', { parseSpecial: false })).slice(0, -1).includes(1));
  } finally {
    t5.dispose();
  }
});
