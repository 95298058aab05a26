// Tokenizer metadata paths beyond the fixtures: Llama-3 style tokenizer.json (BPE +
// Split regex), Llama HF tokenizer.json (SPM-style BPE with byte fallback), added
// tokens (control / user-defined), chat templates, TemplateProcessing flags.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { convert } from '../../js/convert/convert.js';
import { Quantizer } from '../../js/convert/quant.js';
import { GGUFWriter } from '../../js/convert/gguf-writer.js';
import { readGGUF } from '../../js/convert/gguf-reader.js';
import { TokenType } from '../../js/convert/constants.js';
import { tempDir, copyFixture } from './convert_helpers.mjs';

let q;
let tmp;
before(async () => {
  q = await Quantizer.create();
  tmp = tempDir();
});
after(() => {
  q?.dispose();
  tmp?.cleanup();
});

async function metadataOf(dir) {
  const sink = GGUFWriter.memorySink();
  await convert(dir, sink, { type: 'F32', quantizer: q });
  return readGGUF(sink.bytes());
}

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** A LLaMA folder whose tokenizer is a tokenizer.json (no tokenizer.model). */
function llamaWithTokenizerJson(name, tokenizer, config) {
  const dir = copyFixture('llama/tiny-random-gqa/hf', path.join(tmp.dir, name));
  fs.rmSync(path.join(dir, 'tokenizer.model'));
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}

function byteLevelVocab(n) {
  // 510 plain tokens + 2 specials = the fixture's vocab_size 512
  const vocab = {};
  for (let i = 0; i < n; i++) vocab[`t${i}`] = i;
  return vocab;
}

test('Llama-3 style tokenizer.json: gpt2 model, llama-bpe pre, specials, merges, BOS from the template', async () => {
  const dir = llamaWithTokenizerJson('llama3', {
    version: '1.0',
    added_tokens: [
      { id: 510, content: '<|begin_of_text|>', special: true, normalized: false },
      { id: 511, content: '<|reserved_special_token_0|>', special: false, normalized: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: 'Sequence', processors: [{ type: 'ByteLevel' }, { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: {} }] },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', ignore_merges: true, byte_fallback: false, vocab: byteLevelVocab(510), merges: [['t1', 't2'], ['t 3', 't4']] },
  }, { bos_token: '<|begin_of_text|>', eos_token: '<|reserved_special_token_0|>', chat_template: '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}' });
  const f = await metadataOf(dir);
  assert.equal(f.get('tokenizer.ggml.model'), 'gpt2');
  assert.equal(f.get('tokenizer.ggml.pre'), 'llama-bpe');
  const toks = f.get('tokenizer.ggml.tokens');
  const types = f.get('tokenizer.ggml.token_type');
  assert.equal(toks.length, 512);
  assert.equal(toks[510], '<|begin_of_text|>');
  assert.equal(types[510], TokenType.CONTROL);
  assert.equal(types[511], TokenType.CONTROL, 'looks special: <|...|>');
  assert.equal(types[5], TokenType.NORMAL);
  assert.deepEqual(f.get('tokenizer.ggml.merges'), ['t1 t2', 't\u01203 t4']);
  assert.equal(f.get('tokenizer.ggml.bos_token_id'), 510);
  assert.equal(f.get('tokenizer.ggml.eos_token_id'), 511);
  assert.equal(f.get('tokenizer.ggml.add_bos_token'), true);
  assert.match(f.get('tokenizer.chat_template'), /bos_token/);
  f.close();
});

test('an unknown BPE pre-tokenizer is an error unless named; user-defined added tokens', async () => {
  const tokenizer = {
    added_tokens: [{ id: 511, content: 'my\u2581word', special: false, normalized: true }],
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\w+' } }, { type: 'ByteLevel', use_regex: false }] },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab: byteLevelVocab(511), merges: [] },
  };
  const dir = llamaWithTokenizerJson('unknown-pre', tokenizer, {});
  await assert.rejects(metadataOf(dir), /tokenizer\.json: BPE pre-tokenizer not recognised/);
  const sink = GGUFWriter.memorySink();
  await convert(dir, sink, { type: 'F32', quantizer: q, tokenizerPre: 'gpt-4o' });
  const f = readGGUF(sink.bytes());
  assert.equal(f.get('tokenizer.ggml.pre'), 'gpt-4o');
  assert.equal(f.get('tokenizer.ggml.tokens')[511], 'my word');
  assert.equal(f.get('tokenizer.ggml.token_type')[511], TokenType.USER_DEFINED);
  f.close();
});

test('Llama HF tokenizer.json (BPE with byte fallback): llama model, byte and control tokens', async () => {
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (let i = 259; i < 512; i++) vocab[`\u2581w${i}`] = i;
  const dir = llamaWithTokenizerJson('llama-hf', {
    added_tokens: [{ id: 0, content: '<unk>', special: true }, { id: 1, content: '<s>', special: true }, { id: 2, content: '</s>', special: true }],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [] },
    decoder: { type: 'Sequence', decoders: [] },
    model: { type: 'BPE', byte_fallback: true, vocab, merges: [] },
  }, { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', add_bos_token: true, add_eos_token: false });
  const f = await metadataOf(dir);
  assert.equal(f.get('tokenizer.ggml.model'), 'llama');
  assert.equal(f.get('tokenizer.ggml.pre'), 'default');
  const types = f.get('tokenizer.ggml.token_type');
  assert.deepEqual(Array.from(types.slice(0, 4)), [TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL, TokenType.BYTE]);
  assert.equal(types[300], TokenType.NORMAL);
  assert.equal(f.get('tokenizer.ggml.scores')[300], -1000);
  assert.equal(f.get('tokenizer.ggml.bos_token_id'), 1);
  assert.equal(f.get('tokenizer.ggml.unknown_token_id'), 0);
  assert.equal(f.get('tokenizer.ggml.add_bos_token'), true);
  assert.equal(f.get('tokenizer.ggml.add_eos_token'), false);
  f.close();
});

test('sentencepiece LLaMA: added_tokens_decoder entries become control / user-defined tokens', async () => {
  const dir = copyFixture('llama/stories260K/hf', path.join(tmp.dir, 'spm-added'));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  cfg.added_tokens_decoder = {
    2: { content: '</s>', special: true },
    500: { content: '<|im_end|>', special: false },
    501: { content: 'hello\u2581world', special: false },
  };
  cfg.add_prefix_space = false;
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(cfg));
  const f = await metadataOf(dir);
  const toks = f.get('tokenizer.ggml.tokens');
  const types = f.get('tokenizer.ggml.token_type');
  const scores = f.get('tokenizer.ggml.scores');
  assert.equal(toks[500], '<|im_end|>');
  assert.equal(types[500], TokenType.CONTROL);
  assert.equal(toks[501], 'hello world');
  assert.equal(types[501], TokenType.USER_DEFINED);
  assert.equal(scores[501], -1000);
  assert.equal(types[2], TokenType.CONTROL);
  assert.equal(f.get('tokenizer.ggml.add_space_prefix'), false);
  f.close();
});

test('BERT: a pair template with a separator but no trailing [SEP] sets add_sep_token', async () => {
  const dir = copyFixture('bert/hf', path.join(tmp.dir, 'bert-sep'));
  const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  // [CLS] A [SEP] B [SEP] without the trailing [SEP] in the single template: add_sep = true
  tj.post_processor.single = [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }];
  tj.post_processor.pair = [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }];
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
  const f = await metadataOf(dir);
  assert.equal(f.get('tokenizer.ggml.add_bos_token'), true);
  assert.equal(f.get('tokenizer.ggml.add_sep_token'), true);
  assert.equal(f.get('tokenizer.ggml.add_eos_token'), undefined);
  f.close();
});
