// t5.js — encoder-decoder text-to-text models (GGUF architecture t5: T5, T5 v1.1, FLAN-T5).
//
//   const t5 = await T5.load('flan-t5-small-Q8_0.gguf', { onProgress });
//   const { text } = await t5.complete('translate English to German: Hello', { numBeams: 4 });
//   for await (const { token, text } of t5.generate('summarize: ...', { maxTokens: 64 })) ...
//
// One plm_t5 context per model (encoder output, cross-attention K/V, decoder
// caches of up to numBeams sequences); encode()/logits()/generate()/complete()
// run one at a time (later calls wait for earlier ones to finish).

import { ModelBase, Lock, toIds } from './core/model.js';
import { TextStream, samplingOptions, checkNumber, checkBeamOptions, EARLY_STOPPING, newSampler, tokenLoop, beamLoop, now } from './core/generation.js';
import { resolveConstraint, createMatcher, releaseGrammarState } from './grammar/grammar.js';

/** Generation defaults: Hugging Face's for T5 (greedy unless a temperature is given; beams off). */
export const T5_GENERATE_DEFAULTS = Object.freeze({
  maxTokens: 128,
  numBeams: 1,
  lengthPenalty: 1.0,
  earlyStopping: false,
  temperature: 0,
  topK: 50,
  topP: 1.0,
  minP: 0,
  repetitionPenalty: 1.0,
  penaltyLastN: 0,
});

function generateOptions(opts) {
  const o = samplingOptions(opts, T5_GENERATE_DEFAULTS);
  checkBeamOptions(o);
  o.constraint = resolveConstraint(o); // grammar / responseFormat (grammar/grammar.js)
  if (o.constraint && o.numBeams > 1) throw new RangeError('grammar / responseFormat work with greedy decoding and sampling, not with numBeams > 1');
  return o;
}

export class T5 extends ModelBase {
  static exportName = 'T5'; // (class names do not survive minifiers)
  /** Worker mode: this class's model worker (the literal form lets bundlers find it and bundle only what it needs). */
  static modelWorker = { script: 'workers/t5.js', start: () => new Worker(new URL('./workers/t5.js', import.meta.url), { type: 'module', name: 'plm-model' }) };

  /**
   * Load a T5 model from a GGUF (path, URL, bytes, Blob, or an array of split files).
   * Options: threads, contextLength (longest input and output; default the model's,
   * 512 for T5), onProgress, signal, engine (share an Engine), build, wasmBaseUrl.
   */
  static load(source, options = {}) {
    return ModelBase.create(T5, source, options, (m) => m.#init(options));
  }

  #ctx = 0;
  #nVocab = 0;
  #nEmbd = 0;
  #t5info = null;
  #sampler = 0; // sampler of the running generation (freed by it, or by dispose())
  #lock = new Lock();

  #init({ contextLength }) {
    const { engine } = this;
    if (this.info.architecture !== 't5') throw new TypeError(`T5.load: the model's architecture is '${this.info.architecture}', not 't5'`);
    if (contextLength !== undefined) checkNumber('contextLength', contextLength, 2, 2 ** 31 - 1, true);
    this.#nVocab = this.info.vocabSize;
    this.#nEmbd = this.info.embeddingLength;
    this.#t5info = JSON.parse(engine.cstring(engine.checkPtr(engine.fn.plm_t5_info(this.ptr))));
    this.#ctx = engine.checkPtr(engine.fn.plm_t5_new(this.ptr, contextLength ?? 0));
  }

  /** Longest input, and longest output, in tokens. */
  get contextLength() {
    this.assertLive();
    return this.engine.fn.plm_t5_n_ctx(this.#ctx);
  }

  get vocabSize() {
    return this.#nVocab;
  }

  /**
   * The T5 specifics of the file: { ffn: 'relu' (v1.0) | 'gated-gelu' (v1.1, FLAN),
   * tiedEmbeddings, decoderStartTokenId, encoderBlocks, decoderBlocks, relativeBuckets, ... }.
   */
  get t5Info() {
    this.assertLive();
    return this.#t5info;
  }

  /** The plm_t5 context handle (benchmarks, low-level calls through engine.fn). */
  get ctxPtr() {
    this.assertLive();
    return this.#ctx;
  }

  async #acquire() {
    this.assertLive();
    const release = await this.#lock.acquire();
    if (this.disposed) {
      release();
      throw new Error('T5 has been disposed');
    }
    return release;
  }

  #assertNotDisposedDuring() {
    if (this.disposed) throw new Error('T5 was disposed during generation');
  }

  /** Token ids of text; by default with the closing </s> (T5's convention). */
  tokenize(text, options) {
    return super.tokenize(text, options);
  }

  /** Encoder ids of a text (</s> appended) or ids given as they are; truncate: cut to the context, keeping </s>. */
  #inputIds(input, truncate = false) {
    let ids = typeof input === 'string' ? this.tokenize(input) : toIds(input, 'input ids');
    if (ids.length === 0) throw new RangeError('the input has no tokens');
    const n = this.contextLength;
    if (truncate && ids.length > n) {
      const eos = this.info.tokenizer?.eos;
      const cut = ids.slice(0, n);
      if (typeof input === 'string' && eos >= 0 && ids[ids.length - 1] === eos) cut[n - 1] = eos; // HF truncation keeps </s>
      ids = cut;
    }
    return ids;
  }

  #encode(s, ids, attentionMask, out = 0) {
    const { engine } = this;
    let mask = 0;
    if (attentionMask !== undefined) {
      const m = toIds(attentionMask, 'attentionMask');
      if (m.length !== ids.length) throw new RangeError(`attentionMask has ${m.length} entries for ${ids.length} tokens`);
      mask = s.i32(m);
    }
    engine.check(engine.fn.plm_t5_encode(this.#ctx, s.i32(ids), mask, ids.length, out));
  }

  /**
   * Run the encoder: its last hidden state { data: Float32Array, dims: [seqLen, dModel] }.
   * input: text (tokenized with </s>) or token ids, used as given. Options:
   * attentionMask (1 = token, 0 = padding: padded inputs as Hugging Face computes them),
   * truncate (cut a text longer than the context).
   */
  async encode(input, { attentionMask, truncate = false } = {}) {
    const release = await this.#acquire();
    try {
      const ids = this.#inputIds(input, truncate);
      const { engine } = this;
      return engine.scoped((s) => {
        const out = s.alloc(ids.length * this.#nEmbd * 4, 'encoder output');
        this.#encode(s, ids, attentionMask, out);
        return { data: engine.view(Float32Array, out, ids.length * this.#nEmbd).slice(), dims: [ids.length, this.#nEmbd] };
      });
    } finally {
      release();
    }
  }

  /**
   * Decoder logits for given decoder ids (teacher forcing): a Float32Array of
   * decoderIds.length * vocabSize values, row t = the scores of the token after
   * decoderIds[t]. decoderIds normally start with the decoder start token (0).
   * input: encoder ids (or a text); options: attentionMask, truncate.
   */
  async logits(input, decoderIds, { attentionMask, truncate = false } = {}) {
    const dec = toIds(decoderIds, 'decoderIds');
    if (dec.length === 0) throw new RangeError('logits() needs at least one decoder id');
    const release = await this.#acquire();
    try {
      const ids = this.#inputIds(input, truncate);
      const { engine } = this;
      const fn = engine.fn;
      return engine.scoped((s) => {
        this.#encode(s, ids, attentionMask);
        const out = s.alloc(dec.length * this.#nVocab * 4, 'decoder logits');
        engine.check(fn.plm_t5_decode(this.#ctx, s.i32(dec), dec.length, out, 1));
        return engine.view(Float32Array, out, dec.length * this.#nVocab).slice();
      });
    } finally {
      release();
    }
  }

  /**
   * Stream the output: yields { token, text } (text never ends inside a UTF-8
   * character; the concatenation is the output text). input: a text (tokenized
   * with </s>) or encoder token ids (Int32Array / number[], used as given).
   * numBeams > 1 runs beam search and yields the best sequence's tokens when it ends.
   * See index.d.ts for the options.
   */
  async *generate(input, options = {}) {
    const run = { tokens: [], stream: null, finishReason: null, stats: null, score: undefined };
    yield* this.#generate(input, options, run);
  }

  /** Generate to the end: { text, tokens, finishReason, stats } (+ score with numBeams > 1). */
  async complete(input, options = {}) {
    const run = { tokens: [], stream: null, finishReason: null, stats: null, score: undefined };
    for await (const _ of this.#generate(input, options, run));
    const out = { text: run.stream.text, tokens: Int32Array.from(run.tokens), finishReason: run.finishReason, stats: run.stats };
    if (run.score !== undefined) out.score = run.score;
    return out;
  }

  async *#generate(input, options, run) {
    const o = generateOptions(options);
    const signal = o.signal;
    signal?.throwIfAborted();
    const release = await this.#acquire();
    const { engine } = this;
    const fn = engine.fn;
    let sampler = 0;
    let matcher = null;
    try {
      signal?.throwIfAborted();
      const ids = this.#inputIds(input, o.truncate === true);
      const nCtx = this.contextLength;
      const t0 = now();
      engine.scoped((s) => this.#encode(s, ids, undefined));
      const encodeMs = now() - t0;
      let decodeMs = 0;

      const ts = new TextStream(this, { stop: o.stop, stripLeading: true });
      run.stream = ts;
      const start = this.#t5info.decoderStartTokenId;

      if (o.numBeams > 1 && o.maxTokens > 0) {
        // beam search in the core, one step per event-loop turn (abortable); the result at the end
        const maxNew = Math.min(o.maxTokens, nCtx - 1);
        if (o.numBeams >= this.#nVocab) throw new RangeError(`numBeams must be smaller than the vocabulary (${this.#nVocab})`);
        run.decodeMs = decodeMs;
        yield* beamLoop(
          engine,
          {
            begin: () => fn.plm_t5_beam_begin(this.#ctx, o.numBeams, maxNew, o.lengthPenalty, EARLY_STOPPING.get(o.earlyStopping)),
            step: () => fn.plm_t5_beam_step(this.#ctx),
            result: (out, cap, score) => fn.plm_t5_beam_result(this.#ctx, out, cap, score),
            isEog: (id) => this.isEog(id),
            alive: () => this.#assertNotDisposedDuring(),
          },
          run,
          o,
          maxNew,
        );
        decodeMs = run.decodeMs;
      } else {
        sampler = newSampler(engine, o, [start]); // Hugging Face's penalty sees the decoder start token too
        this.#sampler = sampler;
        matcher = createMatcher(this, o.constraint, { stripLeading: true });
        engine.check(fn.plm_t5_decoder_reset(this.#ctx, 1));
        let prev = start;
        const tok = engine.malloc(4, 'token');
        const logits = engine.malloc(this.#nVocab * 4, 'logits');
        run.decodeMs = decodeMs;
        try {
          yield* tokenLoop(
            {
              next: () => {
                engine.view(Int32Array, tok, 1)[0] = prev;
                engine.check(fn.plm_t5_decode(this.#ctx, tok, 1, logits, 0));
                if (matcher) matcher.mask(logits, this.#nVocab); // forbidden tokens -> -inf
                const id = engine.check(fn.plm_sampler_sample(sampler, logits, this.#nVocab));
                fn.plm_sampler_accept(sampler, id);
                if (matcher) matcher.accept(id);
                return id;
              },
              advance: (id) => {
                prev = id; // (decoded at the start of the next step)
              },
              full: () => fn.plm_t5_n_past(this.#ctx) >= nCtx,
              isEog: (id) => this.isEog(id),
              alive: () => this.#assertNotDisposedDuring(),
            },
            run,
            { ...o, ignoreEos: false },
          );
        } finally {
          if (!engine.disposed) {
            engine.free(tok);
            engine.free(logits);
          }
        }
        decodeMs = run.decodeMs;
      }
      if (!run.finishReason) run.finishReason = 'length'; // maxTokens === 0
      run.stats = {
        inputTokens: ids.length,
        generatedTokens: run.tokens.length,
        numBeams: o.numBeams,
        encodeMs,
        decodeMs,
        encoderTokensPerSecond: encodeMs > 0 ? (ids.length * 1000) / encodeMs : 0,
        tokensPerSecond: decodeMs > 0 ? (run.tokens.length * 1000) / decodeMs : 0,
      };
      this.lastStats = run.stats;
    } finally {
      matcher?.free();
      if (sampler && this.#sampler === sampler && !engine.disposed) fn.plm_sampler_free(sampler);
      if (this.#sampler === sampler) this.#sampler = 0;
      release();
    }
  }

  freeResources() {
    const { fn } = this.engine;
    releaseGrammarState(this);
    if (this.#sampler) fn.plm_sampler_free(this.#sampler);
    if (this.#ctx) fn.plm_t5_free(this.#ctx);
    this.#sampler = 0;
    this.#ctx = 0;
  }
}
