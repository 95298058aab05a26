// generation.js — what the generating model classes (GPT, T5) share: option
// checks, seeds, and TextStream, which turns a stream of token ids into the
// { token, text } chunks generate() yields (UTF-8 sequences split across tokens
// held back, stop strings found across token boundaries and cut off).

import { DECODE_SKIP_SPECIAL, DECODE_STRIP_LEADING } from './model.js';

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
