// bert.js — encoder-only models (GGUF architecture "bert", incl. XLM-RoBERTa files, and
// "nomic-bert"): hidden states, sentence
// embeddings, fill-mask and sequence classification.
//
//   const bert = await BERT.load('model.gguf');
//   const [a, b] = await bert.embed(['A cat sits.', 'A kitten is sitting.']);
//   bert.similarity(a, b);                                   // cosine
//   await bert.fillMask('Paris is the [MASK] of France.');   // needs the MLM head (plm-wasm convert)
//
// Several texts go to the core in one call, packed without padding (plm_bert_encode):
// every row gets exactly the numbers of its text run alone, and the matmuls see all
// tokens at once. Calls are synchronous inside the core; between batches of
// TOKENS_PER_CALL tokens an async method yields to the event loop.

import { ModelBase, toIds } from './core/model.js';
import { PlmError } from './core/engine.js';
import { Status, POOL_MEAN, POOL_CLS, POOL_LAST, POOL_RANK } from './core/abi.js';
import { platform } from './core/platform.js';

const POOLING = { mean: POOL_MEAN, cls: POOL_CLS, last: POOL_LAST };
const POOLING_NAMES = { [POOL_MEAN]: 'mean', [POOL_CLS]: 'cls', [POOL_LAST]: 'last', [POOL_RANK]: 'rank' };
/** Tokens per plm_bert_encode call (bounds the wasm memory of the hidden states). */
const TOKENS_PER_CALL = 4096;

function checkInt(name, v, lo, hi) {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer in [${lo}, ${hi}] (got ${v})`);
  return v;
}

function isIds(x) {
  return x instanceof Int32Array || (ArrayBuffer.isView(x) && !(x instanceof DataView)) || (Array.isArray(x) && x.every((v) => typeof v === 'number'));
}

/** HF's longest_first truncation of [CLS] A [SEP] (B [SEP]) to max tokens. */
function truncatePair(ids, typeIds, max, special) {
  let nA = 0;
  while (nA < typeIds.length && typeIds[nA] === 0) nA++;
  const head = special ? 1 : 0;
  const sepA = special ? 1 : 0;
  const sepB = special && nA < ids.length ? 1 : 0;
  let a = Array.from(ids.subarray(head, nA - sepA));
  let b = Array.from(ids.subarray(nA, ids.length - sepB));
  const fixed = ids.length - a.length - b.length;
  if (max <= fixed) throw new RangeError(`cannot truncate to ${max} tokens`);
  while (fixed + a.length + b.length > max) {
    if (a.length > b.length) a.pop();
    else b.pop();
  }
  const out = [...Array.from(ids.subarray(0, head)), ...a, ...Array.from(ids.subarray(nA - sepA, nA)), ...b, ...Array.from(ids.subarray(ids.length - sepB))];
  const types = out.map((_, i) => (i < head + a.length + sepA ? 0 : 1));
  return { ids: Int32Array.from(out), typeIds: Int32Array.from(types) };
}

function softmax(row) {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  const p = new Float64Array(row.length);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += p[i] = Math.exp(row[i] - max);
  for (let i = 0; i < row.length; i++) p[i] /= z;
  return p;
}

/** Indices of the k largest values (descending; lower index first on ties). */
function topK(values, k) {
  const idx = [];
  for (let i = 0; i < values.length; i++) {
    if (idx.length === k && values[i] <= values[idx[k - 1]]) continue;
    let j = Math.min(idx.length, k - 1);
    idx[j] = i;
    while (j > 0 && values[idx[j - 1]] < values[i]) {
      idx[j] = idx[j - 1];
      idx[--j] = i;
    }
  }
  return idx;
}

export class BERT extends ModelBase {
  static exportName = 'BERT';
  static local = ['similarity']; // (pure arithmetic; the worker contract: see ModelBase.local) // (class names do not survive minifiers)
  /** Worker mode: this class's model worker (the literal form lets bundlers find it and bundle only what it needs). */
  static modelWorker = { script: 'workers/bert.js', start: () => new Worker(new URL('./workers/bert.js', import.meta.url), { type: 'module', name: 'plm-model' }) };

  /**
   * Load a BERT GGUF (path, URL, bytes, Blob, or split files). Options: threads,
   * onProgress, signal, engine (share an Engine), build, wasmBaseUrl.
   */
  static load(source, options = {}) {
    return ModelBase.create(BERT, source, options, (m) => m.#init());
  }

  #meta = null;

  #init() {
    const arch = this.info.architecture;
    if (arch !== 'bert' && arch !== 'nomic-bert')
      throw new PlmError(`BERT.load: the model's architecture is '${arch}', not 'bert' or 'nomic-bert' (use GPT for gpt2 / llama files)`, Status.UNSUPPORTED);
    const { engine } = this;
    this.#meta = JSON.parse(engine.cstring(engine.checkPtr(engine.fn.plm_bert_info(this.ptr))));
  }

  /** Width of the hidden states and embeddings. */
  get hiddenSize() {
    return this.info.embeddingLength;
  }

  /** Longest sequence in tokens (special tokens included). */
  get contextLength() {
    this.assertLive();
    return this.#meta.contextLength;
  }

  get vocabSize() {
    return this.info.vocabSize;
  }

  /**
   * The file's pooling (bert.pooling_type): 'mean', 'cls', 'last', 'rank' (a reranker: see
   * rerank()), or null if it declares none.
   */
  get pooling() {
    this.assertLive();
    return POOLING_NAMES[this.#meta.pooling] ?? null;
  }

  /** Which task heads the file has: { pooler, mlm, classifier }. */
  get heads() {
    this.assertLive();
    return { ...this.#meta.heads };
  }

  /** Classifier labels in id order ([] without a classifier). */
  get labels() {
    this.assertLive();
    const n = this.#meta.nLabels;
    return this.#meta.labels ? [...this.#meta.labels] : Array.from({ length: n }, (_, i) => `LABEL_${i}`);
  }

  // ---------------------------------------------------------------- tokens

  /**
   * Token ids and token type ids. pair: a second text ([CLS] a [SEP] pair [SEP], types
   * 0.. then 1..). addSpecial (default true): [CLS] / [SEP]. parseSpecial (default true):
   * special-token text such as "[MASK]" becomes that token, as in Hugging Face.
   */
  tokenize(text, { pair, addSpecial = true, parseSpecial = true } = {}) {
    this.assertLive();
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    if (pair === undefined || pair === null) {
      const ids = super.tokenize(text, { addSpecial, parseSpecial });
      return { ids, typeIds: new Int32Array(ids.length) };
    }
    if (typeof pair !== 'string') throw new TypeError('pair must be a string');
    const { engine } = this;
    return engine.scoped((s) => {
      const a = s.string(text);
      const b = s.string(pair);
      let cap = a.len + b.len + 8;
      for (;;) {
        const ids = s.alloc(cap * 4, 'token ids');
        const types = s.alloc(cap * 4, 'token types');
        const n = engine.check(engine.fn.plm_tokenize_pair(this.ptr, a.ptr, a.len, b.ptr, b.len, addSpecial ? 1 : 0, ids, types, cap));
        if (n <= cap) return { ids: engine.view(Int32Array, ids, n).slice(), typeIds: engine.view(Int32Array, types, n).slice() };
        cap = n;
      }
    });
  }

  /** One input (text or ids) as { ids, typeIds }, checked against the context. */
  #input(x, o, what = 'input') {
    let ids;
    let typeIds;
    const isPair = Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string';
    if (typeof x === 'string' || isPair) {
      const [text, pair] = isPair ? x : [x, o.pair];
      ({ ids, typeIds } = this.tokenize(text, { pair, addSpecial: o.addSpecial ?? true, parseSpecial: o.parseSpecial ?? true }));
    } else if (isIds(x)) {
      ids = toIds(x, what);
      typeIds = o.typeIds === undefined ? new Int32Array(ids.length) : toIds(o.typeIds, 'typeIds');
      if (typeIds.length !== ids.length) throw new RangeError(`typeIds has ${typeIds.length} entries for ${ids.length} token ids`);
    } else {
      throw new TypeError(`${what} must be a string or token ids (Int32Array / number[])`);
    }
    if (ids.length === 0) throw new RangeError(`${what} has no tokens (pass text, or keep addSpecial for [CLS] [SEP])`);
    const max = this.contextLength;
    if (ids.length > max) {
      const text = typeof x === 'string' || isPair;
      if (!o.truncate || !text)
        throw new PlmError(
          `${what} is ${ids.length} tokens, more than the model's context of ${max}` + (text ? ' (pass { truncate: true } to cut it)' : ''),
          Status.TOO_LONG,
        );
      ({ ids, typeIds } = truncatePair(ids, typeIds, max, o.addSpecial ?? true));
    }
    return { ids, typeIds };
  }

  #inputs(xs, o) {
    if (typeof xs === 'string' || isIds(xs)) return { single: true, items: [this.#input(xs, o)] };
    if (!Array.isArray(xs) || xs.length === 0) throw new TypeError('expected a text, token ids, or a non-empty array of texts / [text, pair] / ids');
    if (o.pair !== undefined) throw new TypeError('pair applies to a single text');
    return { single: false, items: xs.map((x, i) => this.#input(x, { ...o, typeIds: undefined }, `input ${i}`)) };
  }

  // ---------------------------------------------------------------- core calls

  /**
   * Run items through the encoder in calls of at most TOKENS_PER_CALL tokens;
   * per call, visit(hiddenPtr, lensPtr, first, count) reads what it needs.
   */
  async #encode(items, visit) {
    const { engine } = this;
    const fn = engine.fn;
    for (let first = 0; first < items.length; ) {
      let count = 0;
      let total = 0;
      while (first + count < items.length && (count === 0 || total + items[first + count].ids.length <= TOKENS_PER_CALL)) total += items[first + count++].ids.length;
      engine.scoped((s) => {
        const ids = s.alloc(total * 4, 'token ids');
        const types = s.alloc(total * 4, 'token types');
        const lens = s.alloc(count * 4, 'sequence lengths');
        const hidden = s.alloc(total * this.hiddenSize * 4, 'hidden states');
        const idv = engine.view(Int32Array, ids, total);
        const tv = engine.view(Int32Array, types, total);
        const lv = engine.view(Int32Array, lens, count);
        for (let i = 0, off = 0; i < count; i++) {
          const it = items[first + i];
          idv.set(it.ids, off);
          tv.set(it.typeIds, off);
          lv[i] = it.ids.length;
          off += it.ids.length;
        }
        engine.check(fn.plm_bert_encode(this.ptr, ids, types, lens, count, hidden));
        visit(s, hidden, lens, first, count);
      });
      first += count;
      if (first < items.length) {
        await platform.yieldToEventLoop();
        this.assertLive();
      }
    }
  }

  /**
   * Last hidden state: { data: Float32Array (seqLen * hiddenSize, row-major), dims: [seqLen, hiddenSize] }.
   * input: text, token ids (Int32Array / number[]; options.typeIds for their token types),
   * or an array of texts (-> an array of results). Options: pair, truncate, addSpecial, parseSpecial.
   */
  async hiddenStates(input, options = {}) {
    this.assertLive();
    const { single, items } = this.#inputs(input, options);
    const E = this.hiddenSize;
    const out = [];
    await this.#encode(items, (s, hidden, lens, first, count) => {
      for (let i = 0, off = 0; i < count; i++) {
        const n = items[first + i].ids.length;
        out.push({ data: this.engine.view(Float32Array, hidden + off * E * 4, n * E).slice(), dims: [n, E] });
        off += n;
      }
    });
    return single ? out[0] : out;
  }

  /**
   * Sentence embeddings: Float32Array(hiddenSize) for a text (or ids), an array of them
   * for an array of texts. pooling: 'mean' (over the tokens, as sentence-transformers),
   * 'cls' or 'last'; default: the file's bert.pooling_type, else 'mean'. normalize
   * (default true): unit length. Also: pair, truncate, addSpecial, parseSpecial, typeIds.
   */
  async embed(input, { pooling, normalize = true, ...options } = {}) {
    this.assertLive();
    const filePooling = this.pooling === 'rank' ? 'cls' : this.pooling; // a reranker's vector is its [CLS] row
    const mode = POOLING[pooling ?? filePooling ?? 'mean'];
    if (!mode) throw new RangeError(`pooling must be 'mean', 'cls' or 'last' (got ${pooling})`);
    const { single, items } = this.#inputs(input, options);
    const E = this.hiddenSize;
    const out = [];
    await this.#encode(items, (s, hidden, lens, first, count) => {
      const vec = s.alloc(count * E * 4, 'embeddings');
      this.engine.check(this.engine.fn.plm_bert_pool(this.ptr, hidden, lens, count, mode, normalize ? 1 : 0, vec));
      for (let i = 0; i < count; i++) out.push(this.engine.view(Float32Array, vec + i * E * 4, E).slice());
    });
    return single ? out[0] : out;
  }

  /**
   * BertPooler output tanh(W h[CLS] + b) (Hugging Face's pooler_output): Float32Array, or an
   * array of them for an array of texts. Needs the pooler (files from `plm-wasm convert`).
   */
  async pooledOutput(input, options = {}) {
    this.#requireHead('pooler', 'pooler (cls.weight, cls.bias)');
    const { single, items } = this.#inputs(input, options);
    const E = this.hiddenSize;
    const out = [];
    await this.#encode(items, (s, hidden, lens, first, count) => {
      const vec = s.alloc(count * E * 4, 'pooled output');
      this.engine.check(this.engine.fn.plm_bert_pooler(this.ptr, hidden, lens, count, vec));
      for (let i = 0; i < count; i++) out.push(this.engine.view(Float32Array, vec + i * E * 4, E).slice());
    });
    return single ? out[0] : out;
  }

  #requireHead(head, what) {
    this.assertLive();
    if (!this.#meta.heads[head])
      throw new PlmError(
        `this model file has no ${what}: llama.cpp's converter leaves it out; convert the Hugging Face checkpoint with \`plm-wasm convert\` (without --no-heads) to keep it`,
        Status.MISSING,
      );
  }

  /**
   * Masked-LM logits at some positions of one input: { data: Float32Array (k * vocabSize),
   * dims: [k, vocabSize], positions, ids }. positions default to the [MASK] tokens.
   */
  async maskedLogits(input, { positions, ...options } = {}) {
    this.#requireHead('mlm', 'masked-LM head (mlm.*)');
    if (typeof input !== 'string' && !isIds(input)) throw new TypeError('maskedLogits takes one text or one array of token ids');
    const item = this.#input(input, options);
    const n = item.ids.length;
    let pos;
    if (positions === undefined) {
      const mask = this.info.tokenizer?.mask;
      pos = [];
      for (let i = 0; i < n; i++) if (item.ids[i] === mask) pos.push(i);
      if (pos.length === 0) throw new RangeError(`the input has no mask token${mask >= 0 ? ` (${this.#tokenText(mask)} = ${mask})` : ''}`);
    } else {
      pos = Array.from(positions, (p) => checkInt('position', p, 0, n - 1));
      if (pos.length === 0) throw new RangeError('positions is empty');
    }
    const E = this.hiddenSize;
    const V = this.vocabSize;
    let data;
    await this.#encode([item], (s, hidden) => {
      const rows = s.alloc(pos.length * E * 4, 'masked rows');
      const h = this.engine.view(Float32Array, hidden, n * E);
      const r = this.engine.view(Float32Array, rows, pos.length * E);
      pos.forEach((p, j) => r.set(h.subarray(p * E, (p + 1) * E), j * E));
      const logits = s.alloc(pos.length * V * 4, 'MLM logits');
      this.engine.check(this.engine.fn.plm_bert_mlm(this.ptr, rows, pos.length, logits));
      data = this.engine.view(Float32Array, logits, pos.length * V).slice();
    });
    return { data, dims: [pos.length, V], positions: pos, ids: item.ids };
  }

  #tokenText(id) {
    return this.detokenize([id], { skipSpecial: false });
  }

  /**
   * Fill-mask (Hugging Face's FillMaskPipeline): for the [MASK] in the text, the topK
   * (default 5) most likely tokens as [{ token, tokenId, score, sequence }] (score =
   * softmax probability; sequence = the text with that token in place). With several
   * masks, one such array per mask.
   */
  async fillMask(input, { topK: k = 5, ...options } = {}) {
    checkInt('topK', k, 1, 1 << 20);
    const { data, dims, positions, ids } = await this.maskedLogits(input, options);
    const V = dims[1];
    const single = positions.length === 1;
    const results = positions.map((p, j) => {
      const probs = softmax(data.subarray(j * V, (j + 1) * V));
      return topK(probs, Math.min(k, V)).map((id) => {
        const seq = Int32Array.from(ids);
        seq[p] = id;
        // HF decodes with skip_special_tokens only when there is a single mask
        const sequence = this.detokenize(seq, { skipSpecial: single });
        return { token: this.#tokenText(id), tokenId: id, score: probs[id], sequence };
      });
    });
    return single ? results[0] : results;
  }

  /**
   * Sequence classification (files with the classifier head): [{ label, score }] sorted by
   * score, or an array of those for an array of texts. functionToApply: 'softmax' (default
   * for several labels), 'sigmoid' (default for one), 'none' (raw logits). topK: keep the best k.
   */
  async classify(input, { topK: k, functionToApply, ...options } = {}) {
    this.#requireHead('classifier', 'sequence-classification head (cls.output.*)');
    const L = this.#meta.nLabels;
    if (k !== undefined) checkInt('topK', k, 1, L);
    const fnName = functionToApply ?? (L === 1 ? 'sigmoid' : 'softmax');
    if (!['softmax', 'sigmoid', 'none'].includes(fnName)) throw new RangeError(`functionToApply must be 'softmax', 'sigmoid' or 'none' (got ${functionToApply})`);
    const { single, items } = this.#inputs(input, options);
    const labels = this.labels;
    const out = [];
    await this.#encode(items, (s, hidden, lens, first, count) => {
      const logits = s.alloc(count * L * 4, 'class logits');
      this.engine.check(this.engine.fn.plm_bert_classify(this.ptr, hidden, lens, count, logits));
      const all = this.engine.view(Float32Array, logits, count * L).slice();
      for (let i = 0; i < count; i++) {
        const row = all.subarray(i * L, (i + 1) * L);
        const scores = fnName === 'softmax' ? softmax(row) : fnName === 'sigmoid' ? Float64Array.from(row, (v) => 1 / (1 + Math.exp(-v))) : Float64Array.from(row);
        const ranked = labels.map((label, c) => ({ label, score: scores[c] })).sort((a, b) => b.score - a.score);
        out.push(k === undefined ? ranked : ranked.slice(0, k));
      }
    });
    return single ? out[0] : out;
  }

  /**
   * Cross-encoder reranking (BERT / XLM-RoBERTa sequence classification with one output, and
   * llama.cpp's reranker files: cls.* heads, pooling 'rank'): every document is scored with the
   * query as the pair (query, document) - [CLS] q [SEP] d [SEP], or <s> q </s></s> d </s> - and
   * the documents come back sorted by score (ties: input order), as transformers.js'
   * rerank / node-llama-cpp's rankAll. score: sigmoid of the logit (functionToApply 'none': the
   * logit). topK: keep the best k.
   * @returns {Promise<{index: number, score: number, document: string}[]>}
   */
  async rerank(query, documents, { topK, functionToApply = 'sigmoid', ...options } = {}) {
    this.#requireHead('classifier', 'sequence-classification head (cls.output.*) of a cross-encoder');
    if (this.#meta.nLabels !== 1)
      throw new PlmError(`rerank: the classifier has ${this.#meta.nLabels} outputs; a cross-encoder (reranker) has one`, Status.UNSUPPORTED);
    if (typeof query !== 'string') throw new TypeError('rerank: query must be a string');
    if (!Array.isArray(documents) || documents.some((d) => typeof d !== 'string')) throw new TypeError('rerank: documents must be an array of strings');
    if (!['sigmoid', 'none'].includes(functionToApply)) throw new RangeError(`functionToApply must be 'sigmoid' or 'none' (got ${functionToApply})`);
    if (documents.length === 0) return [];
    if (topK !== undefined) checkInt('topK', topK, 1, documents.length);
    const res = await this.classify(documents.map((d) => [query, d]), { functionToApply, ...options });
    const ranked = res.map((r, index) => ({ index, score: r[0].score, document: documents[index] })).sort((a, b) => b.score - a.score || a.index - b.index);
    return topK === undefined ? ranked : ranked.slice(0, topK);
  }

  /** Cosine similarity of two vectors (e.g. two embed() results). */
  similarity(a, b) {
    if (!a || !b || typeof a.length !== 'number' || a.length !== b.length || a.length === 0)
      throw new RangeError('similarity needs two vectors of the same, non-zero length');
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = 0; i < a.length; i++) {
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += b[i] * b[i];
    }
    const d = Math.sqrt(aa * bb);
    return d > 0 ? ab / d : 0;
  }
}
