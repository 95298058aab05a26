// gpt.js — causal language models (GGUF architectures gpt2 and llama).
//
//   const gpt = await GPT.load('model.gguf', { threads, contextLength, onProgress, signal });
//   for await (const { token, text } of gpt.generate('Once upon a time', { maxTokens: 32 })) ...
//
// One plm_ctx (KV cache) per model; logits()/generate()/complete() run one at
// a time (later calls wait for earlier ones to finish).

import { ModelBase, Lock, toIds, DECODE_SKIP_SPECIAL, DECODE_STRIP_LEADING } from './core/model.js';
import { platform } from './core/platform.js';

/** Sampling defaults (llama.cpp's). */
export const GENERATE_DEFAULTS = Object.freeze({
  maxTokens: 128,
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repetitionPenalty: 1.0,
  penaltyLastN: 64,
});

const now = () => performance.now();

function randomSeed() {
  return Math.floor(Math.random() * 2 ** 32);
}

function checkNumber(name, v, lo, hi, integer = false) {
  if (typeof v !== 'number' || Number.isNaN(v) || v < lo || v > hi || (integer && !Number.isInteger(v)))
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}] (got ${v})`);
  return v;
}

function normalizeOptions(opts) {
  const o = { ...GENERATE_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  checkNumber('maxTokens', o.maxTokens, 0, 2 ** 31 - 1, true);
  checkNumber('temperature', o.temperature, 0, 1e6);
  checkNumber('topK', o.topK, 0, 2 ** 31 - 1, true);
  checkNumber('topP', o.topP, 0, 1);
  checkNumber('minP', o.minP, 0, 1);
  checkNumber('repetitionPenalty', o.repetitionPenalty, 1e-6, 1e6);
  checkNumber('penaltyLastN', o.penaltyLastN, 0, 2 ** 31 - 1, true);
  if (o.seed !== undefined) checkNumber('seed', o.seed, 0, Number.MAX_SAFE_INTEGER, true);
  const stop = o.stop === undefined ? [] : Array.isArray(o.stop) ? o.stop : [o.stop];
  for (const s of stop) if (typeof s !== 'string' || s.length === 0) throw new TypeError('stop must be a non-empty string or an array of them');
  o.stop = stop;
  if (o.truncate !== undefined && o.truncate !== 'start') throw new RangeError(`truncate must be 'start' or undefined (got ${o.truncate})`);
  return o;
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `stops`. */
function stopPrefixLength(text, stops) {
  let best = 0;
  for (const s of stops) {
    for (let k = Math.min(s.length - 1, text.length); k > best; k--) {
      if (text.endsWith(s.slice(0, k))) {
        best = k;
        break;
      }
    }
  }
  return best;
}

/** 1 if `tail` (the last <= 3 bytes of a UTF-8 stream) ends inside a multi-byte character. */
function endsMidCharacter(tail) {
  for (let i = tail.length - 1, back = 0; i >= 0 && back < 4; i--, back++) {
    const b = tail[i];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 1;
    return need > back + 1;
  }
  return false;
}

export class GPT extends ModelBase {
  /**
   * Load a causal LM from a GGUF (path, URL, bytes, Blob, or an array of split files).
   * Options: threads, contextLength (KV cache size; default = the model's), onProgress, signal,
   * engine (share an Engine), build, wasmBaseUrl.
   */
  static async load(source, options = {}) {
    const opened = await ModelBase.open(source, options, 0);
    const gpt = new GPT(opened);
    try {
      gpt.#init(options);
    } catch (e) {
      gpt.dispose();
      throw e;
    }
    return gpt;
  }

  #ctx = 0;
  #logits = 0;
  #nVocab = 0;
  #lock = new Lock();
  #sampler = 0; // sampler of the running generation (freed by it, or by dispose())

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
    const run = { tokens: [], text: '', finishReason: null, stats: null };
    yield* this.#generate(prompt, options, run);
  }

  /** Generate to the end and return { text, tokens, finishReason, stats }. */
  async complete(prompt, options = {}) {
    const run = { tokens: [], text: '', finishReason: null, stats: null };
    for await (const _ of this.#generate(prompt, options, run));
    return { text: run.text, tokens: Int32Array.from(run.tokens), finishReason: run.finishReason, stats: run.stats };
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
    try {
      signal?.throwIfAborted();
      const ids = this.#promptIds(prompt, o);
      const nCtx = this.contextLength;

      sampler = engine.checkPtr(fn.plm_sampler_new(o.seed ?? randomSeed()));
      this.#sampler = sampler;
      engine.check(fn.plm_sampler_set(sampler, o.temperature, o.topK, o.topP, o.minP, o.repetitionPenalty, o.penaltyLastN));
      for (const id of ids) fn.plm_sampler_accept(sampler, id);

      // prefill
      const t0 = now();
      engine.check(fn.plm_ctx_truncate(this.#ctx, 0));
      engine.scoped((s) => engine.check(fn.plm_ctx_decode(this.#ctx, s.i32(ids), ids.length, this.#logits, 0)));
      const prefillMs = now() - t0;
      let decodeMs = 0;
      let decodes = 0;

      // text state: UTF-8 stream decoder, text held back for stop strings, one delayed token
      const utf8 = new TextDecoder('utf-8');
      let tail = new Uint8Array(0); // last bytes of the token byte stream
      const stops = o.stop;
      const maxStop = stops.reduce((m, s) => Math.max(m, s.length), 0);
      let pending = ''; // decoded, not yet emitted (possible start of a stop string)
      let emittedTail = ''; // last maxStop-1 emitted characters
      let delayed = null; // token whose text is still incomplete
      // A prompt without any text (e.g. only BOS): SentencePiece strips the first leading space.
      let stripLeading = this.detokenize(ids, { skipSpecial: true, stripLeadingSpace: false }) === '';

      const emit = (text) => {
        run.text += text;
        if (maxStop > 1) emittedTail = (emittedTail + text).slice(-(maxStop - 1));
        return text;
      };
      const finish = (reason) => {
        run.finishReason = reason;
      };

      for (let step = 0; step < o.maxTokens; step++) {
        this.#assertNotDisposedDuring(); // the consumer may have disposed the model while we were suspended
        const t1 = now();
        const id = engine.check(fn.plm_sampler_sample(sampler, this.#logits, this.#nVocab));
        fn.plm_sampler_accept(sampler, id);
        decodeMs += now() - t1;

        if (!o.ignoreEos && this.isEog(id)) {
          const rest = pending + utf8.decode();
          if (delayed) yield { token: delayed.token, text: delayed.text + emit(rest) };
          else if (rest) emit(rest); // cannot happen: held text always has a delayed token
          delayed = null;
          finish('eos');
          break;
        }
        run.tokens.push(id);

        // newly decodable text of this token
        const bytes = this.tokenBytes(id, DECODE_SKIP_SPECIAL | (stripLeading ? DECODE_STRIP_LEADING : 0));
        if (bytes.length) {
          stripLeading = false;
          const joined = new Uint8Array(tail.length + bytes.length);
          joined.set(tail);
          joined.set(bytes, tail.length);
          tail = joined.slice(-4);
        }
        pending += utf8.decode(bytes, { stream: true });

        const nPast = fn.plm_ctx_n_past(this.#ctx);
        const isLast = step + 1 === o.maxTokens || nPast >= nCtx;

        // stop strings
        let out;
        if (stops.length) {
          const hay = emittedTail + pending;
          let at = -1;
          for (const s of stops) {
            const k = hay.indexOf(s);
            if (k >= 0 && (at < 0 || k < at)) at = k;
          }
          if (at >= 0) {
            const before = pending.slice(0, Math.max(0, at - emittedTail.length));
            if (delayed) yield { token: delayed.token, text: delayed.text };
            if (before) yield { token: id, text: emit(before) };
            else run.tokens.pop(); // the token that completed the stop string is not part of the output
            delayed = null;
            pending = '';
            finish('stop');
            break;
          }
          const hold = isLast ? 0 : stopPrefixLength(pending, stops);
          out = pending.slice(0, pending.length - hold);
          pending = pending.slice(pending.length - hold);
        } else {
          out = pending;
          pending = '';
        }
        if (isLast) out += pending + utf8.decode();

        if (delayed) {
          yield { token: delayed.token, text: delayed.text };
          delayed = null;
        }
        const holding = pending.length > 0 || endsMidCharacter(tail);
        if (holding && !isLast) delayed = { token: id, text: emit(out) };
        else yield { token: id, text: emit(out) };

        if (isLast) {
          finish(step + 1 === o.maxTokens ? 'length' : 'context');
          break;
        }

        // next step
        if (signal?.aborted) throw signal.reason;
        this.#assertNotDisposedDuring();
        const t2 = now();
        engine.scoped((s) => engine.check(fn.plm_ctx_decode(this.#ctx, s.i32([id]), 1, this.#logits, 0)));
        decodeMs += now() - t2;
        decodes++;
        await platform.yieldToEventLoop();
        if (signal?.aborted) throw signal.reason;
      }
      if (!run.finishReason) finish('length'); // maxTokens === 0

      run.stats = {
        promptTokens: ids.length,
        generatedTokens: run.tokens.length,
        prefillMs,
        decodeMs,
        promptTokensPerSecond: prefillMs > 0 ? (ids.length * 1000) / prefillMs : 0,
        tokensPerSecond: decodeMs > 0 ? (run.tokens.length * 1000) / decodeMs : 0,
      };
      this.lastStats = run.stats;
    } finally {
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
    if (this.#sampler) fn.plm_sampler_free(this.#sampler);
    if (this.#ctx) fn.plm_ctx_free(this.#ctx);
    if (this.#logits) this.engine.free(this.#logits);
    this.#sampler = 0;
    this.#ctx = 0;
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
