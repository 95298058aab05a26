// generation.js — what the generating model classes (GPT, T5) share: option
// checks, seeds, the sampler's setup, the token loop (tokenLoop: one for every
// generating class), and TextStream, which turns a stream of token ids into the
// { token, text } chunks generate() yields (UTF-8 sequences split across tokens
// held back, stop strings found across token boundaries and cut off).

import { DECODE_SKIP_SPECIAL, DECODE_STRIP_LEADING, EARLY_STOPPING_FALSE, EARLY_STOPPING_TRUE, EARLY_STOPPING_NEVER } from './abi.js';
import { platform } from './platform.js';

export const now = () => performance.now();

export function randomSeed() {
  return Math.floor(Math.random() * 2 ** 32);
}

export function checkNumber(name, v, lo, hi, integer = false) {
  if (typeof v !== 'number' || Number.isNaN(v) || v < lo || v > hi || (integer && !Number.isInteger(v)))
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}] (got ${v})`);
  return v;
}

/**
 * defaults + the options that are not undefined, with the sampling options
 * (maxTokens, temperature, topK, topP, minP, repetitionPenalty, penaltyLastN,
 * seed, stop) checked; stop becomes an array.
 */
export function samplingOptions(opts, defaults) {
  const o = { ...defaults, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
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
  return o;
}

/** The earlyStopping option (transformers' early_stopping) -> the core's enum (plm.h). */
export const EARLY_STOPPING = new Map([
  [false, EARLY_STOPPING_FALSE],
  [true, EARLY_STOPPING_TRUE],
  ['never', EARLY_STOPPING_NEVER],
]);

/** Checks the beam-search options of `o` (numBeams, lengthPenalty, earlyStopping). */
export function checkBeamOptions(o) {
  checkNumber('numBeams', o.numBeams, 1, 4096, true);
  checkNumber('lengthPenalty', o.lengthPenalty, -1e6, 1e6);
  if (!EARLY_STOPPING.has(o.earlyStopping)) throw new RangeError(`earlyStopping must be true, false or 'never' (got ${o.earlyStopping})`);
  return o;
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `stops`. */
export function stopPrefixLength(text, stops) {
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

/** true if `tail` (the last <= 4 bytes of a UTF-8 stream) ends inside a multi-byte character. */
export function endsMidCharacter(tail) {
  for (let i = tail.length - 1, back = 0; i >= 0 && back < 4; i--, back++) {
    const b = tail[i];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b < 0xe0 ? 2 : 1;
    return need > back + 1;
  }
  return false;
}

/**
 * Text of generated tokens as it streams. For each token, push() returns the
 * chunks to yield: a token's text is held back (the chunk comes with a later
 * token) while it ends inside a UTF-8 character or could be the start of a stop
 * string; the concatenated chunks are the decoded text of the tokens.
 *
 *   const ts = new TextStream(model, { stop, stripLeading });
 *   const { chunks, stopped, keepToken } = ts.push(id, isLast);
 *   ts.end()   // generation ended (EOS): chunks of the held text
 *   ts.text    // everything emitted
 */
export class TextStream {
  #model;
  #utf8 = new TextDecoder('utf-8');
  #tail = new Uint8Array(0); // last bytes of the token byte stream
  #stops;
  #maxStop;
  #pending = ''; // decoded, not yet emitted (possible start of a stop string)
  #emittedTail = ''; // last maxStop-1 emitted characters
  #delayed = null; // a token whose text is still incomplete
  #stripLeading;
  text = '';

  /**
   * model: has tokenBytes(id, flags). stripLeading: drop the leading space
   * SentencePiece puts before the first word (the output does not continue a text).
   */
  constructor(model, { stop = [], stripLeading = false } = {}) {
    this.#model = model;
    this.#stops = stop;
    this.#maxStop = stop.reduce((m, s) => Math.max(m, s.length), 0);
    this.#stripLeading = stripLeading;
  }

  #emit(text) {
    this.text += text;
    if (this.#maxStop > 1) this.#emittedTail = (this.#emittedTail + text).slice(-(this.#maxStop - 1));
    return text;
  }

  /**
   * Add token `id` (isLast: no token follows, flush everything). Returns
   * { chunks: [{ token, text }], stopped: a stop string was found (the text ends
   * before it; nothing is held), keepToken: false when `id` only completed a stop
   * string and is not part of the output }.
   */
  push(id, isLast) {
    const chunks = [];
    const bytes = this.#model.tokenBytes(id, DECODE_SKIP_SPECIAL | (this.#stripLeading ? DECODE_STRIP_LEADING : 0));
    if (bytes.length) {
      this.#stripLeading = false;
      const joined = new Uint8Array(this.#tail.length + bytes.length);
      joined.set(this.#tail);
      joined.set(bytes, this.#tail.length);
      this.#tail = joined.slice(-4);
    }
    this.#pending += this.#utf8.decode(bytes, { stream: true });

    let out;
    if (this.#stops.length) {
      const hay = this.#emittedTail + this.#pending;
      let at = -1;
      for (const s of this.#stops) {
        const k = hay.indexOf(s);
        if (k >= 0 && (at < 0 || k < at)) at = k;
      }
      if (at >= 0) {
        const before = this.#pending.slice(0, Math.max(0, at - this.#emittedTail.length));
        if (this.#delayed) chunks.push(this.#delayed);
        if (before) chunks.push({ token: id, text: this.#emit(before) });
        this.#delayed = null;
        this.#pending = '';
        return { chunks, stopped: true, keepToken: before.length > 0 };
      }
      const hold = isLast ? 0 : stopPrefixLength(this.#pending, this.#stops);
      out = this.#pending.slice(0, this.#pending.length - hold);
      this.#pending = this.#pending.slice(this.#pending.length - hold);
    } else {
      out = this.#pending;
      this.#pending = '';
    }
    if (isLast) {
      out += this.#pending + this.#utf8.decode();
      this.#pending = '';
    }

    if (this.#delayed) {
      chunks.push(this.#delayed);
      this.#delayed = null;
    }
    const holding = this.#pending.length > 0 || endsMidCharacter(this.#tail);
    if (holding && !isLast) this.#delayed = { token: id, text: this.#emit(out) };
    else chunks.push({ token: id, text: this.#emit(out) });
    return { chunks, stopped: false, keepToken: true };
  }

  /** End of generation (EOS): the held text, as the last chunk of the delayed token. */
  end() {
    const rest = this.#pending + this.#utf8.decode();
    this.#pending = '';
    const chunks = [];
    if (this.#delayed) chunks.push({ token: this.#delayed.token, text: this.#delayed.text + this.#emit(rest) });
    else if (rest) this.#emit(rest); // cannot happen: held text always has a delayed token
    this.#delayed = null;
    return chunks;
  }
}

/**
 * A sampler (plm_sampler) set up with the sampling options `o` (seed, temperature,
 * topK, topP, minP, repetitionPenalty, penaltyLastN) that has seen `history` (the
 * ids the repetition penalty looks back on). The caller frees it (plm_sampler_free).
 */
export function newSampler(engine, o, history = []) {
  const fn = engine.fn;
  const sampler = engine.checkPtr(fn.plm_sampler_new(o.seed ?? randomSeed()));
  try {
    engine.check(fn.plm_sampler_set(sampler, o.temperature, o.topK, o.topP, o.minP, o.repetitionPenalty, o.penaltyLastN));
  } catch (e) {
    fn.plm_sampler_free(sampler);
    throw e;
  }
  for (const id of history) fn.plm_sampler_accept(sampler, id);
  return sampler;
}

/**
 * The token loop of generate() — one for every generating class (GPT, T5's sampling
 * path, chat): pick the next token, stop at end of generation / a stop string /
 * maxTokens / a full context, yield the text as it becomes decodable (run.stream, a
 * TextStream), feed the token back, let the event loop run (abort, dispose, other
 * work) between tokens. What differs per model is in `step`:
 *
 *   next()       the next token id (GPT samples from the logits of the last decode;
 *                T5 decodes the previous token, then samples)
 *   advance(id)  feed id back (GPT decodes it: the KV cache grows, new logits)
 *   full()       no room for another token in the context
 *   isEog(id)    id ends generation (skipped under o.ignoreEos)
 *   alive()      throws if the model was disposed while the loop was suspended
 *   dropped(id)  (optional) id only completed a stop string and is not part of the
 *                output (e.g. drop what was recorded for it, such as its logprobs)
 *
 * `o`: maxTokens, ignoreEos, signal. Fills run.tokens (the generated ids, without a
 * token that only completed a stop string) and run.finishReason ('eos' | 'stop' |
 * 'length' | 'context'); adds the time spent in next/advance to run.decodeMs.
 */
export async function* tokenLoop(step, run, o) {
  const ts = run.stream;
  const { signal } = o;
  const finish = (reason) => {
    run.finishReason = reason;
  };
  run.decodeMs ??= 0;
  for (let i = 0; i < o.maxTokens; i++) {
    step.alive(); // the consumer may have disposed the model while we were suspended
    const t1 = now();
    const id = step.next();
    run.decodeMs += now() - t1;

    if (!o.ignoreEos && step.isEog(id)) {
      for (const c of ts.end()) yield c;
      finish('eos');
      break;
    }
    run.tokens.push(id);

    const isLength = i + 1 === o.maxTokens;
    const isLast = isLength || step.full();
    // newly decodable text of this token (held back while incomplete or a possible stop string)
    const { chunks, stopped, keepToken } = ts.push(id, isLast);
    if (!keepToken) {
      run.tokens.pop(); // the token that completed the stop string is not part of the output
      step.dropped?.(id);
    }
    for (const c of chunks) yield c;
    if (stopped) {
      finish('stop');
      break;
    }
    if (isLast) {
      finish(isLength ? 'length' : 'context');
      break;
    }

    // next step
    if (signal?.aborted) throw signal.reason;
    step.alive();
    const t2 = now();
    step.advance(id);
    run.decodeMs += now() - t2;
    await platform.yieldToEventLoop();
    if (signal?.aborted) throw signal.reason;
  }
  if (!run.finishReason) finish('length'); // maxTokens === 0
}

/**
 * Beam search run in the core (src/beam.c, transformers' BeamSearchScorer), one
 * step per event-loop turn (abortable), then the best sequence's tokens through
 * run.stream as tokenLoop yields them (an end-of-generation token is not output;
 * stop strings cut the text). `step` (GPT: plm_ctx_beam_*, T5: plm_t5_beam_*):
 *
 *   begin()                  start the search (the calls' status)
 *   step()                   one step: > 0 while running, 0 when done
 *   result(out, cap, score)  the best sequence into out (cap ids), its score; returns n
 *   isEog(id), alive()       as for tokenLoop
 *
 * maxNew: the most tokens the search generates. Sets run.score and run.finishReason,
 * adds the search time to run.decodeMs.
 */
export async function* beamLoop(engine, step, run, o, maxNew) {
  const ts = run.stream;
  run.decodeMs ??= 0;
  engine.check(step.begin());
  for (;;) {
    const t1 = now();
    const rc = engine.check(step.step());
    run.decodeMs += now() - t1;
    if (rc === 0) break;
    await platform.yieldToEventLoop();
    if (o.signal?.aborted) throw o.signal.reason;
    step.alive();
  }
  const best = engine.scoped((s) => {
    const out = s.alloc((maxNew + 1) * 4, 'beam result');
    const score = s.alloc(4, 'beam score');
    const n = engine.check(step.result(out, maxNew + 1, score));
    run.score = engine.view(Float32Array, score, 1)[0];
    return engine.view(Int32Array, out, n).slice();
  });
  const endsWithEos = best.length > 0 && step.isEog(best[best.length - 1]);
  const tokens = endsWithEos ? best.subarray(0, best.length - 1) : best;
  for (let i = 0; i < tokens.length && !run.finishReason; i++) {
    run.tokens.push(tokens[i]);
    const isLast = i + 1 === tokens.length;
    const { chunks, stopped, keepToken } = ts.push(tokens[i], isLast && !endsWithEos);
    if (!keepToken) run.tokens.pop();
    if (stopped) run.finishReason = 'stop';
    for (const c of chunks) yield c;
  }
  if (!run.finishReason) {
    if (endsWithEos) for (const c of ts.end()) yield c;
    run.finishReason = endsWithEos ? 'eos' : tokens.length >= o.maxTokens ? 'length' : 'context';
  }
}
