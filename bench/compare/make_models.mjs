#!/usr/bin/env node
// make_models.mjs — the models of bench/compare, the same weights for every engine:
//
//   1. make_hf.py: random-weight Hugging Face folders (config.json + model.safetensors) of
//      gpt2-small, llama-110m, bert-base, minilm-l6, t5-small (shapes in make_hf.py);
//   2. tokenizer files for them, written from the repo's ggml-vocab fixtures
//      (tests/fixtures/tokenizers: GPT-2 vocab.json + merges.txt, the LLaMA SentencePiece
//      tokenizer.model, bert-base-uncased vocab.txt, t5-small's unigram spiece.model);
//   3. GGUF files with the project's converter (js/convert: `plm-wasm convert`; block
//      quantization through the wasm core): F32, F16, Q8_0, Q4_0 for the decoders,
//      F32, F16, Q8_0 for BERT (--no-heads, as llama.cpp's converter: wllama loads them) and T5;
//   4. export_onnx.py: ONNX graphs of the same weights in transformers.js' layout
//      (<model>/config.json + onnx/model.onnx, model_quantized.onnx (q8), model_q4.onnx;
//      T5: onnx/encoder_model{,_quantized}.onnx + decoder_model_merged{,_quantized}.onnx).
//
//   node bench/compare/make_models.mjs [--models gpt2-small,llama-110m,bert-base,minilm-l6,t5-small] [--work DIR]
//
// Files that exist are kept (delete work/ to rebuild).

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { convert } from '../../js/convert/convert.js';
import { readGGUF } from '../../js/convert/gguf-reader.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const WORK = path.resolve(opt('work', path.join(HERE, 'work')));
const MODELS = opt('models', 'gpt2-small,llama-110m,bert-base,minilm-l6,t5-small').split(',');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3'; // Debian's python3 has torch + numpy + onnx

const KIND = { 'gpt2-small': 'gpt2', 'llama-110m': 'llama', 'bert-base': 'bert', 'minilm-l6': 'bert', 't5-small': 't5' };
const GGUF_TYPES = { gpt2: ['F32', 'F16', 'Q8_0', 'Q4_0'], llama: ['F32', 'F16', 'Q8_0', 'Q4_0'], bert: ['F32', 'F16', 'Q8_0'], t5: ['F32', 'F16', 'Q8_0'] };
// the ONNX file whose presence means export_onnx.py has run for a model
const ONNX_LAST = { gpt2: 'model_q4.onnx', llama: 'model_q4.onnx', bert: 'model_quantized.onnx', t5: 'decoder_model_merged_quantized.onnx' };
const VOCAB = {
  gpt2: 'ggml-vocab-gpt-2.gguf',
  llama: 'ggml-vocab-llama-spm.gguf',
  bert: 'ggml-vocab-bert-base-uncased.gguf',
  t5: 'ggml-vocab-t5-small.gguf',
};

function run(cmd, argv) {
  console.error(`$ ${cmd} ${argv.join(' ')}`);
  const r = spawnSync(cmd, argv, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status ?? r.signal})`);
}

function vocabOf(kind) {
  const f = readGGUF(path.join(ROOT, 'tests', 'fixtures', 'tokenizers', VOCAB[kind]));
  try {
    const get = (k) => f.kv.get(k)?.value;
    const str = (t) => (typeof t === 'string' ? t : new TextDecoder().decode(t));
    return {
      tokens: Array.from(get('tokenizer.ggml.tokens'), str),
      scores: get('tokenizer.ggml.scores'),
      types: get('tokenizer.ggml.token_type'),
      merges: get('tokenizer.ggml.merges') ? Array.from(get('tokenizer.ggml.merges'), str) : null,
      charsmap: get('tokenizer.ggml.precompiled_charsmap') ?? null,
    };
  } finally {
    f.close();
  }
}

// ----------------------------------------------------------- sentencepiece writer
// ModelProto { 1 pieces { 1 piece, 2 score, 3 type }, 2 trainer_spec, 3 normalizer_spec }
// (field numbers of sentencepiece_model.proto, as documented in js/convert/sentencepiece.js).
class Proto {
  constructor() {
    this.bytes = [];
  }
  varint(v) {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x) b |= 0x80;
      this.bytes.push(b);
    } while (x);
    return this;
  }
  tag(field, wire) {
    return this.varint((field << 3) | wire);
  }
  uint(field, v) {
    return this.tag(field, 0).varint(v);
  }
  float(field, v) {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes.push(...b);
    return this;
  }
  bytesField(field, u8) {
    this.tag(field, 2).varint(u8.length);
    for (const b of u8) this.bytes.push(b);
    return this;
  }
  string(field, s) {
    return this.bytesField(field, new TextEncoder().encode(s));
  }
  message(field, p) {
    return this.bytesField(field, p.bytes);
  }
}

function sentencepieceModel({ tokens, scores, types }) {
  const m = new Proto();
  tokens.forEach((t, i) => m.message(1, new Proto().string(1, t).float(2, scores[i]).uint(3, types[i])));
  const trainer = new Proto().uint(3, 2 /* BPE */).uint(4, tokens.length).uint(35, 1 /* byte_fallback */);
  trainer.uint(40, 0).uint(41, 1).uint(42, 2).uint(43, -1); // unk, bos, eos, pad ids
  m.message(2, trainer);
  m.message(3, new Proto().string(1, 'identity').uint(3, 1).uint(4, 0).uint(5, 1));
  return new Uint8Array(m.bytes);
}

/** T5's unigram spiece.model (pad 0, eos 1, unk 2; nmt_nfkc charsmap) from the GGUF vocab. */
function unigramModel({ tokens, scores, types, charsmap }) {
  const m = new Proto();
  tokens.forEach((t, i) => m.message(1, new Proto().string(1, t).float(2, scores[i]).uint(3, types[i])));
  const trainer = new Proto().uint(3, 1 /* UNIGRAM */).uint(4, tokens.length);
  trainer.uint(40, 2).uint(41, -1).uint(42, 1).uint(43, 0); // unk, bos, eos, pad ids
  m.message(2, trainer);
  const norm = new Proto().string(1, 'nmt_nfkc');
  if (charsmap) norm.bytesField(2, charsmap);
  m.message(3, norm.uint(3, 1).uint(4, 1).uint(5, 1));
  return new Uint8Array(m.bytes);
}

function writeTokenizer(dir, kind) {
  const v = vocabOf(kind);
  const json = (name, obj) => fs.writeFileSync(path.join(dir, name), JSON.stringify(obj, null, 2) + '\n');
  if (kind === 'gpt2') {
    json('vocab.json', Object.fromEntries(v.tokens.map((t, i) => [t, i])));
    fs.writeFileSync(path.join(dir, 'merges.txt'), '#version: 0.2\n' + v.merges.join('\n') + '\n');
    const special = { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' };
    json('special_tokens_map.json', special);
    json('tokenizer_config.json', { tokenizer_class: 'GPT2Tokenizer', model_max_length: 1024, add_prefix_space: false, add_bos_token: false, ...special });
  } else if (kind === 'llama') {
    fs.writeFileSync(path.join(dir, 'tokenizer.model'), sentencepieceModel(v));
    const special = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' };
    json('special_tokens_map.json', special);
    json('tokenizer_config.json', { tokenizer_class: 'LlamaTokenizer', add_bos_token: true, add_eos_token: false, legacy: true, model_max_length: 1024, pad_token: null, ...special });
  } else if (kind === 't5') {
    fs.writeFileSync(path.join(dir, 'spiece.model'), unigramModel(v));
    const special = { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' };
    json('special_tokens_map.json', special);
    json('tokenizer_config.json', { tokenizer_class: 'T5Tokenizer', model_max_length: 512, ...special });
  } else {
    fs.writeFileSync(path.join(dir, 'vocab.txt'), v.tokens.join('\n') + '\n');
    const special = { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' };
    json('special_tokens_map.json', special);
    json('tokenizer_config.json', { tokenizer_class: 'BertTokenizer', do_lower_case: true, tokenize_chinese_chars: true, strip_accents: null, model_max_length: 512, ...special });
  }
}

async function main() {
  const hf = path.join(WORK, 'hf');
  const ggufDir = path.join(WORK, 'gguf');
  const onnxDir = path.join(WORK, 'onnx');
  fs.mkdirSync(ggufDir, { recursive: true });
  run(PYTHON, [path.join(HERE, 'make_hf.py'), hf, ...MODELS]);
  for (const name of MODELS) {
    const kind = KIND[name];
    if (!kind) throw new Error(`unknown model ${name}`);
    const dir = path.join(hf, name);
    writeTokenizer(dir, kind);
    for (const type of GGUF_TYPES[kind]) {
      const out = path.join(ggufDir, `${name}-${type}.gguf`);
      if (fs.existsSync(out)) continue;
      const t0 = performance.now();
      const r = await convert(dir, `${out}.part`, { type, name: `${name} random`, heads: kind === 'bert' ? 'none' : 'all' });
      fs.renameSync(`${out}.part`, out);
      for (const w of r.warnings) console.error(`warning: ${w}`);
      console.error(`${out}: ${(r.bytes / 2 ** 20).toFixed(1)} MiB, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    if (!fs.existsSync(path.join(onnxDir, name, 'onnx', ONNX_LAST[kind])))
      run(PYTHON, [path.join(HERE, 'export_onnx.py'), dir, path.join(onnxDir, name)]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
