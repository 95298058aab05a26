// Tokenizer metadata from a Hugging Face folder, written the way llama.cpp's
// convert_hf_to_gguf.py writes it (get_vocab_base, _set_vocab_gpt2,
// _create_vocab_sentencepiece, BertModel.set_vocab, T5Model.set_vocab) and
// gguf-py's SpecialVocab (special token ids, add_*_token flags, merges, chat
// template). No Python, no transformers: the files are read directly:
//   tokenizer.json                 (fast tokenizers: BPE, WordPiece)
//   vocab.txt                      (slow BertTokenizer)
//   vocab.json + merges.txt        (slow GPT2Tokenizer)
//   tokenizer.model / spiece.model (sentencepiece protobuf, see sentencepiece.js)
//   tokenizer_config.json, special_tokens_map.json, added_tokens.json, config.json
import fs from 'node:fs';
import path from 'node:path';
import { GGUFValueType as VT, TokenType } from './constants.js';
import { parseSentencePieceModel, ModelType } from './sentencepiece.js';

const K = Object.freeze({
  MODEL: 'tokenizer.ggml.model',
  PRE: 'tokenizer.ggml.pre',
  LIST: 'tokenizer.ggml.tokens',
  TOKEN_TYPE: 'tokenizer.ggml.token_type',
  TOKEN_TYPE_COUNT: 'tokenizer.ggml.token_type_count',
  SCORES: 'tokenizer.ggml.scores',
  MERGES: 'tokenizer.ggml.merges',
  ADD_PREFIX: 'tokenizer.ggml.add_space_prefix',
  REMOVE_EXTRA_WS: 'tokenizer.ggml.remove_extra_whitespaces',
  PRECOMPILED_CHARSMAP: 'tokenizer.ggml.precompiled_charsmap',
  CHAT_TEMPLATE: 'tokenizer.chat_template',
});

/** gguf-py add_{typ}_token_id handlers (cls has none in the reference converter). */
const SPECIAL_ID_KEYS = Object.freeze({
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id', // sic, as in llama.cpp
  pad: 'tokenizer.ggml.padding_token_id',
  mask: 'tokenizer.ggml.mask_token_id',
  eot: 'tokenizer.ggml.eot_token_id',
  eom: 'tokenizer.ggml.eom_token_id',
});
/** gguf-py add_add_{typ}_token handlers. */
const ADD_FLAG_KEYS = Object.freeze({
  bos: 'tokenizer.ggml.add_bos_token',
  eos: 'tokenizer.ggml.add_eos_token',
  sep: 'tokenizer.ggml.add_sep_token',
});

// ------------------------------------------------------------------ helpers

/** Parse a JSON file of the folder; null if it does not exist. */
export function readJSON(dir, name) {
  const file = path.join(dir, name);
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw new Error(`${file}: cannot read (${e.code ?? e.message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${e.message})`);
  }
}

function isFile(dir, name) {
  try {
    return fs.statSync(path.join(dir, name)).isFile();
  } catch {
    return false;
  }
}

// Python's str.strip()/split() whitespace
const PY_WS = '\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_STRIP = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, 'g');
const PY_SPLIT = new RegExp(`[${PY_WS}]+`);
const pyStrip = (s) => s.replace(PY_STRIP, '');

/** Content string of a tokenizer_config *_token entry (str or AddedToken dict). */
function tokenContent(entry) {
  if (typeof entry === 'string') return entry;
  if (entry && typeof entry === 'object' && typeof entry.content === 'string') return entry.content;
  return null;
}

/** TextModel.does_token_look_special */
export function doesTokenLookSpecial(t) {
  if (t === '<pad>' || t === '<mask>' || t === '<2mass>' || t === '[@BOS@]') return true;
  if (t.startsWith('<|') && t.endsWith('|>')) return true;
  if (t.startsWith('<｜') && t.endsWith('｜>')) return true;
  if (t.startsWith('<unused') && t.endsWith('>')) return true;
  return false;
}

// ---------------------------------------------------- HF tokenizer emulation

/**
 * What AutoTokenizer.from_pretrained(dir) exposes to the converter: the full
 * vocab (base + added tokens), the added tokens with their flags, the kind of
 * model and its pre-tokenizer description.
 */
export class HfTokenizer {
  constructor(dir) {
    this.dir = dir;
    this.config = readJSON(dir, 'tokenizer_config.json') ?? {};
    this.json = readJSON(dir, 'tokenizer.json');
    /** @type {Map<string, number>} token -> id (with added tokens) */
    this.vocab = new Map();
    /** @type {Map<number, {content:string, special:boolean, normalized:boolean}>} */
    this.addedDecoder = new Map();
    if (this.json) this.#fromTokenizerJson();
    else if (isFile(dir, 'vocab.txt')) this.#fromVocabTxt();
    else if (isFile(dir, 'vocab.json')) this.#fromVocabJson();
    else {
      throw new Error(`${dir}: no tokenizer found (expected tokenizer.json, vocab.txt, vocab.json + merges.txt, or a sentencepiece tokenizer.model)`);
    }
  }

  #fromTokenizerJson() {
    const file = path.join(this.dir, 'tokenizer.json');
    const model = this.json.model;
    if (!model || typeof model !== 'object') throw new Error(`${file}: no "model" object`);
    this.modelType = model.type ?? (model.merges ? 'BPE' : model.vocab && !Array.isArray(model.vocab) ? 'WordPiece' : undefined);
    if (this.modelType === 'Unigram') {
      throw new Error(`${file}: Unigram tokenizer.json is not supported; use the sentencepiece model file`);
    }
    if (!model.vocab || typeof model.vocab !== 'object' || Array.isArray(model.vocab)) {
      throw new Error(`${file}: model.vocab must be an object (token -> id)`);
    }
    for (const [tok, id] of Object.entries(model.vocab)) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`${file}: token ${JSON.stringify(tok)} has invalid id ${id}`);
      this.vocab.set(tok, id);
    }
    this.baseVocabSize = this.vocab.size;
    for (const t of this.json.added_tokens ?? []) {
      if (typeof t?.content !== 'string' || !Number.isInteger(t.id)) throw new Error(`${file}: malformed added_tokens entry`);
      this.vocab.set(t.content, t.id);
      this.addedDecoder.set(t.id, { content: t.content, special: !!t.special, normalized: t.normalized ?? !t.special });
    }
  }

  #addConfigAddedTokens() {
    const dec = this.config.added_tokens_decoder;
    if (dec && typeof dec === 'object') {
      for (const [id, t] of Object.entries(dec)) {
        const n = Number(id);
        if (!Number.isInteger(n) || typeof t?.content !== 'string') continue;
        this.vocab.set(t.content, n);
        this.addedDecoder.set(n, { content: t.content, special: !!t.special, normalized: t.normalized ?? !t.special });
      }
    }
    const legacy = readJSON(this.dir, 'added_tokens.json');
    if (legacy) {
      for (const [tok, id] of Object.entries(legacy)) {
        if (!Number.isInteger(id) || this.addedDecoder.has(id)) continue;
        this.vocab.set(tok, id);
        this.addedDecoder.set(id, { content: tok, special: false, normalized: true });
      }
    }
  }

  /** Slow tokenizers register their special tokens as added tokens (special=True). */
  #addSpecialsAsAdded(defaults) {
    const map = readJSON(this.dir, 'special_tokens_map.json') ?? {};
    for (const [key, def] of Object.entries(defaults)) {
      const content = tokenContent(this.config[key]) ?? tokenContent(map[key]) ?? def;
      if (content == null) continue;
      const id = this.vocab.get(content);
      if (id === undefined || this.addedDecoder.has(id)) continue;
      this.addedDecoder.set(id, { content, special: true, normalized: false });
    }
  }

  #fromVocabTxt() {
    const file = path.join(this.dir, 'vocab.txt');
    this.modelType = 'WordPiece';
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    lines.forEach((line, i) => {
      const tok = line.replace(/\n$/, '');
      this.vocab.set(tok, i);
    });
    this.baseVocabSize = this.vocab.size;
    this.#addConfigAddedTokens();
    this.#addSpecialsAsAdded({ unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' });
  }

  #fromVocabJson() {
    const file = path.join(this.dir, 'vocab.json');
    this.modelType = 'BPE';
    const v = readJSON(this.dir, 'vocab.json');
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: expected an object token -> id`);
    for (const [tok, id] of Object.entries(v)) {
      if (!Number.isInteger(id) || id < 0) throw new Error(`${file}: token ${JSON.stringify(tok)} has invalid id ${id}`);
      this.vocab.set(tok, id);
    }
    this.baseVocabSize = this.vocab.size;
    this.#addConfigAddedTokens();
    this.#addSpecialsAsAdded({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' });
  }

  /** get_added_vocab(): content -> id */
  addedVocab() {
    const m = new Map();
    for (const [id, t] of [...this.addedDecoder.entries()].sort((a, b) => a[0] - b[0])) m.set(t.content, id);
    return m;
  }
}

/**
 * TextModel.get_vocab_base: tokens in id order with their types, padded to the
 * config's vocab_size with [PAD{i}] (UNUSED).
 */
export function getVocabBase(tok, hparams) {
  const vocabSize = hparams.vocab_size ?? tok.vocab.size;
  let maxId = -1;
  for (const id of tok.vocab.values()) if (id > maxId) maxId = id;
  if (maxId >= vocabSize) {
    throw new Error(`${tok.dir}: tokenizer has token id ${maxId} but config.json vocab_size is ${vocabSize}`);
  }
  const reverse = new Map();
  for (const [t, id] of tok.vocab) reverse.set(id, t);
  const added = tok.addedVocab();
  const tokens = new Array(vocabSize);
  const types = new Int32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) {
    if (!reverse.has(i)) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TokenType.UNUSED;
      continue;
    }
    let t = reverse.get(i);
    if (added.has(t)) {
      const info = tok.addedDecoder.get(i) ?? { special: false };
      if (info.special || doesTokenLookSpecial(t)) types[i] = TokenType.CONTROL;
      else {
        t = t.replaceAll('\u2581', ' ');
        types[i] = TokenType.USER_DEFINED;
      }
    } else types[i] = TokenType.NORMAL;
    tokens[i] = t;
  }
  return { tokens, types };
}

// llama.cpp pre-tokenizer names for the BPE pre-tokenization regexes we recognise.
const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const KNOWN_SPLIT_REGEXES = new Map([
  [GPT2_REGEX, 'gpt-2'],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'llama-bpe'],
  ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 'qwen2'],
]);

/**
 * tokenizer.ggml.pre. llama.cpp's converter fingerprints the tokenizer by hashing
 * its ids on a check text; without running the tokenizer we recognise the
 * pre-tokenizer from its description instead:
 *   WordPiece (BERT)                      -> "jina-v2-en" (what the fingerprint of the
 *                                            standard BERT vocab yields; llama.cpp's
 *                                            WPM tokenizer does not use it)
 *   byte-level BPE with GPT-2's regex      -> "gpt-2"
 *   Split(regex) + ByteLevel               -> the llama.cpp name of that regex
 */
export function detectPreTokenizer(tok) {
  if (tok.modelType === 'WordPiece') return 'jina-v2-en';
  if (tok.modelType !== 'BPE') throw new Error(`${tok.dir}: unsupported tokenizer model ${tok.modelType}`);
  if (!tok.json) return 'gpt-2'; // slow GPT2Tokenizer: GPT-2's regex
  const pt = tok.json.pre_tokenizer;
  const list = pt?.type === 'Sequence' ? pt.pretokenizers ?? [] : pt ? [pt] : [];
  if (list.length === 1 && list[0].type === 'ByteLevel' && list[0].use_regex !== false && !tok.json.normalizer) return 'gpt-2';
  for (const p of list) {
    if (p.type === 'Split' && typeof p.pattern?.Regex === 'string') {
      const name = KNOWN_SPLIT_REGEXES.get(p.pattern.Regex);
      if (name) return name;
    }
  }
  throw new Error(
    `${path.join(tok.dir, 'tokenizer.json')}: BPE pre-tokenizer not recognised; pass the llama.cpp pre-tokenizer name explicitly (--tokenizer-pre / tokenizerPre)`,
  );
}

// ------------------------------------------------------------ SpecialVocab

/** gguf-py SpecialVocab: merges, special token ids, add_*_token flags, chat template. */
export class SpecialVocab {
  constructor(dir, { loadMerges = false, nVocab = null, types = ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] } = {}) {
    this.dir = dir;
    this.nVocab = nVocab;
    this.loadMerges = loadMerges;
    this.types = types.slice();
    this.merges = [];
    /** @type {Map<string, number>} */
    this.ids = new Map();
    /** @type {Map<string, boolean>} */
    this.add = new Map();
    this.chatTemplate = null;
    this.warnings = [];
    this.#fromTokenizerJson();
    this.#fromConfigJson();
    if (this.loadMerges && this.merges.length === 0) this.#mergesTxt();
  }

  setSpecial(typ, tid) {
    if (!Number.isInteger(tid)) return;
    if (tid < 0) throw new Error(`invalid value for special token type ${typ}: ${tid}`);
    if (this.nVocab === null || tid < this.nVocab) {
      if (!this.ids.has(typ)) this.ids.set(typ, tid);
      return;
    }
    this.warnings.push(`special token type ${typ}, id ${tid} out of range, must be under ${this.nVocab} - skipping`);
  }

  #mergesTxt() {
    const file = path.join(this.dir, 'merges.txt');
    if (!isFile(this.dir, 'merges.txt')) return;
    const lines = fs.readFileSync(file, 'utf8').split(/\r\n|\n|\r/);
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    let start = 0;
    if (lines.length && pyStrip(lines[0]).startsWith('#')) start = 1;
    const merges = [];
    for (let i = start; i < lines.length; i++) {
      const line = pyStrip(lines[i]);
      if (!line) continue;
      const parts = line.split(PY_SPLIT);
      if (parts.length !== 2) {
        this.warnings.push(`merges.txt: line ${i + 1}: entry malformed, ignoring`);
        continue;
      }
      merges.push(`${parts[0]} ${parts[1]}`);
    }
    this.merges = merges;
  }

  #fromTokenizerJson() {
    const tokenizer = readJSON(this.dir, 'tokenizer.json');
    let addedTokens = [];
    if (tokenizer) {
      if (this.loadMerges) {
        const merges = tokenizer.model?.merges;
        if (Array.isArray(merges) && merges.length) {
          if (typeof merges[0] === 'string') this.merges = merges.slice();
          else if (Array.isArray(merges[0]) && merges[0].length === 2 && typeof merges[0][0] === 'string') {
            // new format (transformers >= 4.45): pairs; spaces inside a part become U+0120
            this.merges = merges.map((pair) => pair.map((p) => p.replaceAll(' ', '\u0120')).join(' '));
          } else throw new Error(`${path.join(this.dir, 'tokenizer.json')}: unknown merges format`);
        }
      }
      addedTokens = tokenizer.added_tokens ?? [];
    }
    let config = readJSON(this.dir, 'tokenizer_config.json');
    if (config !== null && (typeof config !== 'object' || Object.keys(config).length === 0)) config = null; // Python: falsy
    if (tokenizer) {
      let specialBos = tokenContent(config?.bos_token);
      let specialCls = tokenContent(config?.cls_token);
      let specialEos = tokenContent(config?.eos_token);
      let specialSep = tokenContent(config?.sep_token);
      if (!specialBos && specialCls && config) config.bos_token = specialBos = specialCls;
      if (!specialEos && specialSep && config) config.eos_token = specialEos = specialSep;
      const post = tokenizer.post_processor;
      if (post) {
        for (const proc of post.processors ?? [post]) {
          if (proc?.type === 'RobertaProcessing') {
            this.add.set('bos', true);
            this.add.set('eos', true);
            this.add.set('sep', true);
            if (!specialCls && config) config.cls_token = specialCls = (proc.cls ?? [specialBos])[0];
            if (!specialSep && config) config.sep_token = specialSep = (proc.sep ?? [specialEos])[0];
            continue;
          }
          if (proc?.type !== 'TemplateProcessing') continue;
          // crude parsing of simple templates, as gguf-py does
          const single = proc.single ?? [];
          let pair = proc.pair ?? [];
          let first = null;
          let last = null;
          if (single.length > 1) {
            first = single[0]?.SpecialToken?.id ?? null;
            if (first) {
              if (!config) specialBos = first;
              this.add.set('bos', first === specialBos || first === specialCls);
              if (first !== specialBos && first !== specialCls) this.warnings.push(`unknown leading special token ${first} in TemplateProcessing<single>`);
            }
            last = single[single.length - 1]?.SpecialToken?.id ?? null;
            if (last) {
              if (!config) specialEos = last;
              else if (last !== specialEos) {
                if (!this.types.includes('eot')) {
                  this.types.push('eot');
                  config.eot_token = specialEos;
                } else if (!this.types.includes('eom')) {
                  this.types.push('eom');
                  config.eom_token = specialEos;
                }
                config.eos_token = specialEos = last;
              }
              this.add.set('eos', last === specialEos);
            }
          }
          if (pair.length) {
            const seqStart = first && pair[0]?.SpecialToken?.id === first ? 1 : 0;
            const seqStop = last && pair[pair.length - 1]?.SpecialToken?.id === last ? pair.length - 1 : pair.length;
            pair = pair.slice(seqStart, seqStop);
            if (pair.length) {
              const a = pair[0]?.Sequence?.id;
              const b = pair[pair.length - 1]?.Sequence?.id;
              if (a === 'A' && b === 'B' && (pair = pair.slice(1, -1)).length) {
                let addSep = false;
                const entry = pair[0]?.SpecialToken?.id;
                if (entry && (entry === specialSep || entry === specialEos) && !last) addSep = true;
                if (pair.length === 2) {
                  const entry2 = pair[1]?.SpecialToken?.id;
                  if (entry2 && (entry2 === specialSep || entry2 === specialEos)) addSep = true;
                }
                this.add.set('sep', addSep);
                if (addSep && !specialSep && config) config.sep_token = specialEos;
              }
            }
          }
        }
      }
    }
    if (!config) return;
    // chat template: tokenizer_config.json, else chat_template.jinja / chat_template.json
    let alt = null;
    if (isFile(this.dir, 'chat_template.jinja')) alt = fs.readFileSync(path.join(this.dir, 'chat_template.jinja'), 'utf8');
    else if (isFile(this.dir, 'chat_template.json')) alt = readJSON(this.dir, 'chat_template.json')?.chat_template ?? null;
    const tmpl = config.chat_template ?? alt;
    if (tmpl == null || typeof tmpl === 'string' || Array.isArray(tmpl)) this.chatTemplate = tmpl ?? null;
    for (const typ of this.types) {
      const addEntry = config[`add_${typ}_token`];
      if (typeof addEntry === 'boolean') this.add.set(typ, addEntry);
      const content = tokenContent(config[`${typ}_token`]);
      if (content === null) continue;
      const found = addedTokens.find((t) => t?.content === content);
      this.setSpecial(typ, found?.id);
    }
  }

  #fromConfigJson() {
    const config = readJSON(this.dir, 'config.json');
    if (!config) return;
    for (const typ of this.types) {
      let id = config[`${typ}_token_id`];
      if (id == null && config.text_config) id = config.text_config[`${typ}_token_id`];
      this.setSpecial(typ, id);
    }
  }

  /** Write merges, ids, flags and chat template (SpecialVocab.add_to_gguf). */
  addToGGUF(w) {
    if (this.merges.length) w.addArray(K.MERGES, this.merges, VT.STRING);
    else if (this.loadMerges) this.warnings.push('adding merges requested but no merges found, output may be non-functional');
    for (const [typ, id] of this.ids) {
      const key = SPECIAL_ID_KEYS[typ];
      if (!key) continue; // no handler in gguf-py (e.g. cls)
      w.addUint32(key, id);
    }
    for (const [typ, v] of this.add) {
      const key = ADD_FLAG_KEYS[typ];
      if (!key) continue;
      w.addBool(key, v);
    }
    if (this.chatTemplate != null) addChatTemplate(w, this.chatTemplate);
  }
}

/** GGUFWriter.add_chat_template: a string, or a list of {name, template}. */
function addChatTemplate(w, tmpl) {
  if (typeof tmpl === 'string') {
    w.addString(K.CHAT_TEMPLATE, tmpl);
    return;
  }
  const names = [];
  let def = null;
  for (const t of tmpl) {
    const name = t?.name;
    const body = t?.template;
    if (typeof name !== 'string' || typeof body !== 'string') continue;
    const clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
    if (clean === 'default') def = body;
    else {
      names.push(clean);
      w.addString(`${K.CHAT_TEMPLATE}.${clean}`, body);
    }
  }
  if (names.length) w.addArray('tokenizer.chat_templates', names, VT.STRING);
  if (def !== null) w.addString(K.CHAT_TEMPLATE, def);
}

// ---------------------------------------------------------------- vocabularies

/** _set_vocab_gpt2: byte-level BPE from tokenizer.json or vocab.json + merges.txt. */
export function setVocabGpt2(w, dir, hparams, opts = {}) {
  const tok = new HfTokenizer(dir);
  if (tok.modelType !== 'BPE') throw new Error(`${dir}: expected a BPE tokenizer, found ${tok.modelType}`);
  const { tokens, types } = getVocabBase(tok, hparams);
  const pre = opts.tokenizerPre ?? detectPreTokenizer(tok);
  w.addString(K.MODEL, 'gpt2');
  w.addString(K.PRE, pre);
  w.addArray(K.LIST, tokens, VT.STRING);
  w.addArray(K.TOKEN_TYPE, types, VT.INT32);
  const sv = new SpecialVocab(dir, { loadMerges: true });
  sv.addToGGUF(w);
  return { nVocab: tokens.length, warnings: sv.warnings };
}

/** BertModel.set_vocab: WordPiece in llama.cpp's "phantom space" form. */
export function setVocabBert(w, dir, hparams, opts = {}) {
  const tok = new HfTokenizer(dir);
  if (tok.modelType !== 'WordPiece') throw new Error(`${dir}: expected a WordPiece (BERT) tokenizer, found ${tok.modelType}`);
  const { tokens, types } = getVocabBase(tok, hparams);
  const pre = opts.tokenizerPre ?? detectPreTokenizer(tok);
  w.addUint32(K.TOKEN_TYPE_COUNT, hparams.type_vocab_size ?? 1);
  for (let i = 0; i < tokens.length; i++) {
    if (types[i] === TokenType.CONTROL) continue;
    const t = tokens[i];
    tokens[i] = t.startsWith('##') ? t.slice(2) : `\u2581${t}`;
  }
  w.addString(K.MODEL, 'bert');
  w.addString(K.PRE, pre);
  w.addArray(K.LIST, tokens, VT.STRING);
  w.addArray(K.TOKEN_TYPE, types, VT.INT32);
  const sv = new SpecialVocab(dir, { nVocab: tokens.length });
  sv.addToGGUF(w);
  return { nVocab: tokens.length, warnings: sv.warnings };
}

/** Find and parse the sentencepiece model of a folder (names in the order the converter tries). */
export function loadSentencePiece(dir, names = ['tokenizer.model']) {
  for (const n of names) {
    if (isFile(dir, n)) {
      const file = path.join(dir, n);
      return { file, name: n, model: parseSentencePieceModel(fs.readFileSync(file), file) };
    }
  }
  return null;
}

/** _create_vocab_sentencepiece: pieces, scores, types padded to vocab_size. */
function sentencePieceVocab(dir, sp, hparams, warnings) {
  const { pieces } = sp.model;
  const vocabSize = hparams.vocab_size ?? pieces.length;
  if (vocabSize < pieces.length) {
    throw new Error(`${sp.file}: ${pieces.length} pieces but config.json vocab_size is ${vocabSize}`);
  }
  const tokens = new Array(vocabSize);
  const scores = new Float32Array(vocabSize);
  const types = new Int32Array(vocabSize);
  for (let i = 0; i < vocabSize; i++) {
    tokens[i] = `[PAD${i}]`;
    scores[i] = -10000.0;
    types[i] = TokenType.UNUSED;
  }
  pieces.forEach((p, i) => {
    tokens[i] = p.piece;
    scores[i] = p.score;
    types[i] = p.type === 4 ? TokenType.NORMAL : p.type; // USER_DEFINED pieces are NORMAL here (IsUnknown/IsControl/IsUnused/IsByte only)
  });
  const added = readJSON(dir, 'added_tokens.json');
  if (added) {
    for (const [tok, id] of Object.entries(added)) {
      if (!Number.isInteger(id) || id >= vocabSize) {
        warnings.push(`ignore token ${id}: id is out of range, max=${vocabSize - 1}`);
        continue;
      }
      tokens[id] = tok;
      scores[id] = -1000.0;
      types[id] = TokenType.USER_DEFINED;
    }
  }
  return { tokens, scores, types, vocabSize };
}

/** _set_vocab_sentencepiece (LLaMA-style SPM: tokenizer model "llama"). */
export function setVocabSentencePiece(w, dir, hparams, sp) {
  const warnings = [];
  const { tokens, scores, types, vocabSize } = sentencePieceVocab(dir, sp, hparams, warnings);
  const cfg = readJSON(dir, 'tokenizer_config.json');
  for (const [idText, data] of Object.entries(cfg?.added_tokens_decoder ?? {})) {
    const id = Number(idText);
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize || typeof data?.content !== 'string') continue;
    let t = data.content;
    if (data.special || doesTokenLookSpecial(t)) types[id] = TokenType.CONTROL;
    else {
      t = t.replaceAll('\u2581', ' ');
      types[id] = TokenType.USER_DEFINED;
    }
    scores[id] = -1000.0;
    tokens[id] = t;
  }
  w.addString(K.MODEL, 'llama');
  w.addString(K.PRE, 'default');
  w.addArray(K.LIST, tokens, VT.STRING);
  w.addArray(K.SCORES, scores, VT.FLOAT32);
  w.addArray(K.TOKEN_TYPE, types, VT.INT32);
  const sv = new SpecialVocab(dir, { nVocab: tokens.length });
  sv.addToGGUF(w);
  return { nVocab: tokens.length, warnings: warnings.concat(sv.warnings) };
}

/** T5Model.set_vocab: unigram sentencepiece (tokenizer model "t5") with its normalizer. */
export function setVocabT5(w, dir, hparams) {
  const sp = loadSentencePiece(dir, ['tokenizer.model', 'spiece.model']);
  if (!sp) throw new Error(`${dir}: no sentencepiece model (tokenizer.model or spiece.model) for the T5 tokenizer`);
  if (sp.model.trainer.model_type === ModelType.BPE) {
    if (sp.name !== 'tokenizer.model') throw new Error(`${sp.file}: a BPE sentencepiece model must be named tokenizer.model`);
    return setVocabSentencePiece(w, dir, hparams, sp);
  }
  if (sp.model.trainer.model_type !== ModelType.UNIGRAM) {
    throw new Error(`${sp.file}: sentencepiece model type ${sp.model.trainer.model_type} is not supported for T5 (expected UNIGRAM)`);
  }
  const warnings = [];
  const { tokens, scores, types } = sentencePieceVocab(dir, sp, hparams, warnings);
  const norm = sp.model.normalizer;
  w.addString(K.MODEL, 't5');
  w.addString(K.PRE, 'default');
  w.addArray(K.LIST, tokens, VT.STRING);
  w.addArray(K.SCORES, scores, VT.FLOAT32);
  w.addArray(K.TOKEN_TYPE, types, VT.INT32);
  w.addBool(K.ADD_PREFIX, norm.add_dummy_prefix);
  w.addBool(K.REMOVE_EXTRA_WS, norm.remove_extra_whitespaces);
  if (norm.precompiled_charsmap.length) w.addArray(K.PRECOMPILED_CHARSMAP, norm.precompiled_charsmap, VT.UINT8);
  const sv = new SpecialVocab(dir, { nVocab: tokens.length });
  sv.addToGGUF(w);
  return { nVocab: tokens.length, warnings: warnings.concat(sv.warnings) };
}

/**
 * XLMRobertaModel.set_vocab: the sentencepiece Unigram model re-aligned to fairseq's ids
 * (<s> <pad> </s> <unk>, then the pieces from id 3 on shifted by one), tokenizer model "t5".
 */
export function setVocabXlmRoberta(w, dir, hparams) {
  const sp = loadSentencePiece(dir, ['sentencepiece.bpe.model', 'tokenizer.model']);
  if (!sp) throw new Error(`${dir}: no sentencepiece model (sentencepiece.bpe.model) for the XLM-RoBERTa tokenizer`);
  if (sp.model.trainer.model_type !== ModelType.UNIGRAM) throw new Error(`${sp.file}: expected a UNIGRAM sentencepiece model`);
  const warnings = [];
  const v = sentencePieceVocab(dir, sp, hparams, warnings);
  const tokens = ['<s>', '<pad>', '</s>', '<unk>', ...v.tokens.slice(3, -1)];
  const scores = Float32Array.from([0, 0, 0, 0, ...v.scores.slice(3, -1)]);
  const types = Int32Array.from([TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL, TokenType.UNKNOWN, ...v.types.slice(3, -1)]);
  const norm = sp.model.normalizer;
  w.addString(K.MODEL, 't5');
  w.addString(K.PRE, 'default');
  w.addArray(K.LIST, tokens, VT.STRING);
  w.addArray(K.SCORES, scores, VT.FLOAT32);
  w.addArray(K.TOKEN_TYPE, types, VT.INT32);
  w.addBool(K.ADD_PREFIX, norm.add_dummy_prefix);
  w.addUint32(K.TOKEN_TYPE_COUNT, hparams.type_vocab_size ?? 1);
  w.addBool(K.REMOVE_EXTRA_WS, norm.remove_extra_whitespaces);
  if (norm.precompiled_charsmap.length) w.addArray(K.PRECOMPILED_CHARSMAP, norm.precompiled_charsmap, VT.UINT8);
  const sv = new SpecialVocab(dir, { nVocab: tokens.length });
  sv.addToGGUF(w);
  return { nVocab: tokens.length, warnings: warnings.concat(sv.warnings) };
}

/** gguf-py LlamaHfVocab: SPM-style BPE (byte fallback) from tokenizer.json only. */
export function setVocabLlamaHf(w, dir, hparams) {
  const tok = new HfTokenizer(dir);
  const model = tok.json?.model;
  if (!model || model.type !== 'BPE' || !model.byte_fallback || tok.json.decoder?.type !== 'Sequence') return null;
  const specials = new Map(); // content -> id
  const map = readJSON(dir, 'special_tokens_map.json') ?? {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
    const c = tokenContent(tok.config[key]) ?? tokenContent(map[key]);
    if (c != null && tok.vocab.has(c)) specials.set(c, tok.vocab.get(c));
  }
  for (const extra of [...(tok.config.additional_special_tokens ?? []), ...(map.additional_special_tokens ?? [])]) {
    const c = tokenContent(extra);
    if (c != null && tok.vocab.has(c)) specials.set(c, tok.vocab.get(c));
  }
  const specialIds = new Set(specials.values());
  const baseSize = tok.baseVocabSize;
  const added = [...tok.addedVocab().entries()].filter(([, id]) => id >= baseSize).sort((a, b) => a[1] - b[1]);
  const addedIds = new Set(added.map(([, id]) => id));
  const reverse = new Map();
  for (const [t, id] of tok.vocab) reverse.set(id, t);
  const tokens = [];
  const scores = [];
  const types = [];
  const typeOf = (id, text) => (/^<0x[0-9A-Fa-f]{2}>$/.test(text) ? TokenType.BYTE : specialIds.has(id) ? TokenType.CONTROL : TokenType.NORMAL);
  for (let id = 0; id < baseSize; id++) {
    if (addedIds.has(id)) continue;
    const text = reverse.get(id);
    if (text === undefined) throw new Error(`${dir}/tokenizer.json: no token with id ${id}`);
    tokens.push(text);
    scores.push(-1000.0);
    types.push(typeOf(id, text));
  }
  for (const [text] of added) {
    tokens.push(text);
    scores.push(-1000.0);
    types.push(specials.has(text) ? typeOf(specials.get(text), '') : TokenType.USER_DEFINED);
  }
  w.addString(K.MODEL, 'llama');
  w.addString(K.PRE, 'default');
  w.addArray(K.LIST, tokens, VT.STRING);
  w.addArray(K.SCORES, new Float32Array(scores), VT.FLOAT32);
  w.addArray(K.TOKEN_TYPE, new Int32Array(types), VT.INT32);
  const sv = new SpecialVocab(dir, { nVocab: tokens.length });
  sv.addToGGUF(w);
  return { nVocab: tokens.length, warnings: sv.warnings };
}

export { K as TokenizerKeys };
