// gpt.js — causal language models (GGUF architectures gpt2 and llama).
//
//   const gpt = await GPT.load('model.gguf', { threads, contextLength, onProgress, signal });
//   for await (const { token, text } of gpt.generate('Once upon a time', { maxTokens: 32 })) ...
//
// One plm_ctx (KV cache) per model; logits()/generate()/complete() run one at
// a time (later calls wait for earlier ones to finish).
//
// Prefix reuse: the model remembers the token ids whose keys/values are in the
// cache (the prompt and the generated tokens that were decoded). The next
// generation keeps the longest common prefix with its prompt (never the last
// prompt token, which is decoded again for fresh logits) and decodes only the
// rest, so a chat that re-sends the whole conversation costs only the new turn.
// Rows are computed with the same summation order whatever the batch, so the
// logits (hence the tokens, for a given seed) are the same as without reuse.

import { ModelBase, Lock, toIds } from './core/model.js';
import { TextStream, samplingOptions, checkNumber, checkBeamOptions, EARLY_STOPPING, newSampler, tokenLoop, beamLoop, now } from './core/generation.js';
import { resolveConstraint, createMatcher, releaseGrammarState } from './grammar/grammar.js';
import { applyChatTemplate, jinjaReady } from './core/chat-template.js';
import { GENERATE_RUN, chat, chatStream, chatPromptIds, createChatCompletion } from './chat.js';
import { logitOptions, applyLogitBias, tokenLogprobs } from './core/logit-options.js';

/** Length of the common prefix of a and b, at most max. */
function commonPrefix(a, b, max) {
  const n = Math.min(a.length, b.length, max);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Sampling defaults (llama.cpp's). */
export const GENERATE_DEFAULTS = Object.freeze({
  maxTokens: 128,
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repetitionPenalty: 1.0,
  penaltyLastN: 64,
  numBeams: 1,
  lengthPenalty: 1.0,
  earlyStopping: false,
});

function normalizeOptions(opts) {
  const o = samplingOptions(opts, GENERATE_DEFAULTS);
  checkBeamOptions(o);
  if (o.truncate !== undefined && o.truncate !== 'start') throw new RangeError(`truncate must be 'start' or undefined (got ${o.truncate})`);
  if (o.reusePrefix !== undefined && typeof o.reusePrefix !== 'boolean') throw new TypeError(`reusePrefix must be a boolean (got ${o.reusePrefix})`);
  o.constraint = resolveConstraint(o); // grammar / responseFormat (grammar/grammar.js)
  if (o.constraint && o.numBeams > 1) throw new RangeError('grammar / responseFormat work with greedy decoding and sampling, not with numBeams > 1');
  return o;
}

export class GPT extends ModelBase {
  static exportName = 'GPT'; // (class names do not survive minifiers)
  // the worker contract (see ModelBase.local); createChatCompletion runs on the page and
  // calls chat() / chatStream(), which run in the worker
  static local = ['applyChatTemplate', 'chatPromptIds', 'createChatCompletion'];
  /** Worker mode: this class's model worker (the literal form lets bundlers find it and bundle only what it needs). */
  static modelWorker = { script: 'workers/gpt.js', start: () => new Worker(new URL('./workers/gpt.js', import.meta.url), { type: 'module', name: 'plm-model' }) };

  /**
   * Load a causal LM from a GGUF (path, URL, bytes, Blob, or an array of split files).
   * Options: threads, contextLength (KV cache size; default = the model's), onProgress, signal,
   * engine (share an Engine), build, wasmBaseUrl.
   */
  static async load(source, options = {}) {
    const [model] = await Promise.all([ModelBase.create(GPT, source, options, (m) => m.#init(options)), jinjaReady]);
    return model;
  }

  #ctx = 0;
  #logits = 0;
  #nVocab = 0;
  #lock = new Lock();
  #sampler = 0; // sampler of the running generation (freed by it, or by dispose())
  #kv = null; // ids at positions 0..n_past-1 of the KV cache (number[]), or null = unknown

  #init({ contextLength }) {
    const { engine } = this;
    if (contextLength !== undefined) checkNumber('contextLength', contextLength, 1, 2 ** 31 - 1, true);
    this.#nVocab = this.info.vocabSize;
    this.#ctx = engine.checkPtr(engine.fn.plm_ctx_new(this.ptr, contextLength ?? 0));
    this.#logits = engine.malloc(this.#nVocab * 4, 'logits');
  }

  /** Size of the KV cache in tokens (positions available to prompt + generated text). */
  get contextLength() {
    this.assertLive();
    return this.engine.fn.plm_ctx_n_ctx(this.#ctx);
  }

  get vocabSize() {
    return this.#nVocab;
  }

  /** The plm_ctx handle (for benchmarks and low-level calls through engine.fn). */
  get ctxPtr() {
    this.assertLive();
    this.#kv = null; // the caller may change the cache behind our back
    return this.#ctx;
  }

  async #acquire() {
    this.assertLive();
    const release = await this.#lock.acquire();
    if (this.disposed) {
      release();
      throw new Error('GPT has been disposed');
    }
    return release;
  }

  /**
   * Logits of every position of `ids`, computed in a fresh context:
   * a Float32Array of ids.length * vocabSize values (row t = the scores for the token after ids[t]).
   */
  async logits(ids) {
    ids = toIds(ids);
    if (ids.length === 0) throw new RangeError('logits() needs at least one token id');
    const release = await this.#acquire();
    try {
      const { engine } = this;
      const fn = engine.fn;
      return engine.scoped((s) => {
        const idp = s.i32(ids);
        const out = s.alloc(ids.length * this.#nVocab * 4, 'logits of every position');
        this.#kv = null;
        engine.check(fn.plm_ctx_truncate(this.#ctx, 0));
        engine.check(fn.plm_ctx_decode(this.#ctx, idp, ids.length, out, 1));
        return engine.view(Float32Array, out, ids.length * this.#nVocab).slice();
      });
    } finally {
      release();
    }
  }

  /**
   * Stream generated tokens: yields { token, text } where text is the newly
   * decodable text (never half a UTF-8 character; the concatenation is the
   * continuation of the prompt). See index.d.ts for the options.
   */
  async *generate(prompt, options = {}) {
    const run = { tokens: [], stream: null, finishReason: null, stats: null };
    yield* this.#generate(prompt, options, run);
  }

  /** Generate to the end and return { text, tokens, finishReason, stats }. */
  async complete(prompt, options = {}) {
    const run = { tokens: [], stream: null, finishReason: null, stats: null };
    for await (const _ of this.#generate(prompt, options, run));
    const out = { text: run.stream?.text ?? '', tokens: Int32Array.from(run.tokens), finishReason: run.finishReason, stats: run.stats };
    if (run.score !== undefined) out.score = run.score;
    if (run.logprobs) out.logprobs = run.logprobs;
    return out;
  }

  // ---- chat (js/chat.js): template -> ids -> generation that stops at the end of the turn

  /** The conversation's prompt text, rendered with the file's chat template (see index.d.ts). */
  applyChatTemplate(messages, options) {
    return applyChatTemplate(this, messages, options);
  }

  /** Token ids of the conversation's prompt (markup's special tokens parsed, message contents literal). */
  chatPromptIds(messages, options) {
    return chatPromptIds(this, messages, options);
  }

  /** The assistant's answer: { message: { role, content, reasoning }, text, tokens, finishReason, stats }. */
  async chat(messages, options = {}) {
    return chat(this, messages, options);
  }

  /** chat() streamed: yields { token, text, reasoning }, returns chat()'s result. */
  async *chatStream(messages, options = {}) {
    return yield* chatStream(this, messages, options);
  }

  /** OpenAI's chat.completions.create (a Promise, or an async iterable of chunks with stream: true). */
  createChatCompletion(request) {
    return createChatCompletion(this, request);
  }

  /** generate() that records tokens / finishReason / stats in `run` (for chat.js). */
  async *[GENERATE_RUN](prompt, options, run) {
    yield* this.#generate(prompt, options, run);
  }

  #promptIds(prompt, o) {
    let ids;
    if (typeof prompt === 'string') ids = this.tokenize(prompt, { addSpecial: true });
    else ids = toIds(prompt, 'prompt');
    if (ids.length === 0) {
      const bos = this.info.tokenizer?.bos;
      if (!(bos >= 0)) throw new RangeError('empty prompt and the model has no BOS token to start from');
      ids = Int32Array.of(bos); // unconditional generation starts from BOS (GPT-2: <|endoftext|>)
    }
    const nCtx = this.contextLength;
    if (o.truncate === 'start' && ids.length >= nCtx) {
      // keep the end of the prompt, leaving room for min(maxTokens, nCtx/2) new tokens; keep a leading BOS
      const room = Math.max(1, Math.min(o.maxTokens, Math.floor(nCtx / 2)));
      const keep = nCtx - room;
      const bos = this.info.tokenizer?.bos;
      if (ids[0] === bos && keep > 1) {
        const out = new Int32Array(keep);
        out[0] = bos;
        out.set(ids.subarray(ids.length - (keep - 1)), 1);
        ids = out;
      } else ids = ids.slice(ids.length - keep);
    }
    return ids;
  }

  async *#generate(prompt, options, run) {
    const o = normalizeOptions(options);
    const signal = o.signal;
    signal?.throwIfAborted();
    const release = await this.#acquire();
    const { engine } = this;
    const fn = engine.fn;
    let sampler = 0;
    let matcher = null;
    let grammarMs = 0;
    try {
      signal?.throwIfAborted();
      const ids = this.#promptIds(prompt, o);
      const nCtx = this.contextLength;
      // beam search (src/beam.c, transformers' BeamSearchScorer): the cache takes the prompt but its
      // last token, which the search runs first in forks of the context
      const beams = o.numBeams > 1 && o.maxTokens > 0;
      if (beams && o.numBeams >= this.#nVocab) throw new RangeError(`numBeams must be smaller than the vocabulary (${this.#nVocab})`);
      const lx = logitOptions(o, this.#nVocab); // logitBias, logprobs / topLogprobs
      if (beams && (lx.bias || lx.logprobs)) throw new RangeError('logitBias / logprobs / topLogprobs work with greedy decoding and sampling, not with numBeams > 1');
      if (lx.logprobs) run.logprobs = [];

      if (!beams) {
        sampler = newSampler(engine, o, ids);
        this.#sampler = sampler;
      }

      // prefill: keep the cached prefix shared with the prompt, decode the rest
      const t0 = now();
      const kv = this.#kv;
      this.#kv = null; // unknown until the decode below succeeds
      const cached = o.reusePrefix !== false && kv && kv.length === fn.plm_ctx_n_past(this.#ctx) ? commonPrefix(kv, ids, ids.length - 1) : 0;
      const rest = ids.subarray(cached, beams ? ids.length - 1 : ids.length);
      engine.check(fn.plm_ctx_truncate(this.#ctx, cached));
      if (rest.length) engine.scoped((s) => engine.check(fn.plm_ctx_decode(this.#ctx, s.i32(rest), rest.length, beams ? 0 : this.#logits, 0)));
      const cachedIds = kv ? kv.slice(0, cached) : [];
      for (const id of rest) cachedIds.push(id);
      this.#kv = cachedIds;
      const prefillMs = now() - t0;

      // A prompt without any text (e.g. only BOS): SentencePiece strips the first leading space.
      const stripLeading = this.detokenize(ids, { skipSpecial: true, stripLeadingSpace: false }) === '';
      run.stream = new TextStream(this, { stop: o.stop, stripLeading });
      run.decodeMs = 0;
      if (beams) {
        const maxNew = Math.min(o.maxTokens, nCtx - fn.plm_ctx_n_past(this.#ctx) - 1);
        if (maxNew < 1) throw new RangeError('beam search: the prompt leaves no room in the context');
        yield* beamLoop(
          engine,
          {
            begin: () => fn.plm_ctx_beam_begin(this.#ctx, ids[ids.length - 1], o.numBeams, maxNew, o.lengthPenalty, EARLY_STOPPING.get(o.earlyStopping)),
            step: () => fn.plm_ctx_beam_step(this.#ctx),
            result: (out, cap, score) => fn.plm_ctx_beam_result(this.#ctx, out, cap, score),
            isEog: (id) => this.isEog(id),
            alive: () => this.#assertNotDisposedDuring(),
          },
          run,
          o,
          maxNew,
        );
      } else {
        matcher = createMatcher(this, o.constraint, { stripLeading });
        yield* tokenLoop(
          {
            next: () => {
              const row = lx.bias || lx.logprobs ? engine.view(Float32Array, this.#logits, this.#nVocab) : null;
              if (lx.bias) applyLogitBias(row, lx.bias);
              if (matcher) {
                const tg = now();
                matcher.mask(this.#logits, this.#nVocab); // forbidden tokens -> -inf
                grammarMs += now() - tg;
              }
              const id = engine.check(fn.plm_sampler_sample(sampler, this.#logits, this.#nVocab));
              fn.plm_sampler_accept(sampler, id);
              if (matcher) matcher.accept(id);
              if (lx.logprobs) run.logprobs.push(tokenLogprobs(row, id, lx.top));
              return id;
            },
            advance: (id) => {
              this.#kv = null;
              engine.scoped((s) => engine.check(fn.plm_ctx_decode(this.#ctx, s.i32([id]), 1, this.#logits, 0)));
              cachedIds.push(id);
              this.#kv = cachedIds;
            },
            full: () => fn.plm_ctx_n_past(this.#ctx) >= nCtx,
            isEog: (id) => this.isEog(id),
            alive: () => this.#assertNotDisposedDuring(),
            dropped: () => run.logprobs?.pop(),
          },
          run,
          matcher ? { ...o, ignoreEos: false } : o, // a grammar ends at an end-of-generation token
        );
      }
      if (!run.finishReason) run.finishReason = 'length'; // maxTokens === 0
      if (run.logprobs && run.logprobs.length > run.tokens.length) run.logprobs.length = run.tokens.length; // the end-of-generation token's
      const { decodeMs } = run;

      run.stats = {
        promptTokens: ids.length,
        cachedTokens: cached,
        generatedTokens: run.tokens.length,
        prefillMs,
        decodeMs,
        promptTokensPerSecond: prefillMs > 0 ? ((ids.length - cached) * 1000) / prefillMs : 0,
        tokensPerSecond: decodeMs > 0 ? (run.tokens.length * 1000) / decodeMs : 0,
      };
      if (matcher) run.stats.grammarMs = grammarMs; // masking time (part of decodeMs)
      if (o.constraint?.relaxed.length) run.stats.grammarRelaxed = o.constraint.relaxed;
      this.lastStats = run.stats;
      this.lastFinishReason = run.finishReason;
    } catch (e) {
      // the mirror is only updated after successful decodes, but be conservative on anything but an abort
      if (!(signal?.aborted && e === signal.reason)) this.#kv = null;
      throw e;
    } finally {
      matcher?.free();
      if (sampler && this.#sampler === sampler && !engine.disposed) fn.plm_sampler_free(sampler);
      if (this.#sampler === sampler) this.#sampler = 0;
      release();
    }
  }

  #assertNotDisposedDuring() {
    if (this.disposed) throw new Error('GPT was disposed during generation');
  }

  freeResources() {
    const { fn } = this.engine;
    releaseGrammarState(this);
    if (this.#sampler) fn.plm_sampler_free(this.#sampler);
    if (this.#ctx) fn.plm_ctx_free(this.#ctx);
    if (this.#logits) this.engine.free(this.#logits);
    this.#sampler = 0;
    this.#ctx = 0;
    this.#kv = null;
    this.#logits = 0;
  }

  /**
   * Free the model, its context and (if it created it) its engine. Safe at any
   * time: a generation suspended between tokens throws when it resumes.
   */
  dispose() {
    super.dispose();
  }
}
