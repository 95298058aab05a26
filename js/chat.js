// chat.js — conversations with a causal LM: chat(), chatStream(), chatPromptIds() and the
// OpenAI-compatible createChatCompletion() (GPT's methods delegate here).
//
//   messages --chat template (core/chat-template.js)--> prompt text
//            --tokenize: markup's special tokens parsed, message contents literal--> ids
//            --GPT generation (stops at the end-of-turn tokens: <|im_end|>, <|eot_id|>, ...)-->
//   { message: { role: 'assistant', content, reasoning }, text, tokens, finishReason, stats }
//
// Multi-turn: the next call's prompt starts with this call's prompt + answer, so the KV-cache
// prefix reuse of GPT's generation runs only the new turn. Reasoning models (Qwen3,
// DeepSeek-R1) write <think>…</think> before the answer: that text goes to message.reasoning.

import { applyChatTemplate } from './core/chat-template.js';
import { PlmError, Status } from './core/engine.js';
import { resolveConstraint } from './grammar/grammar.js';

/** GPT's generation with a result record (tokens, finishReason, stats, stream): GPT[GENERATE_RUN](prompt, options, run). */
export const GENERATE_RUN = Symbol('plm.generateRun');

/** Options that select or feed the template; everything else is a generation option. */
const TEMPLATE_KEYS = ['chatTemplate', 'template', 'addGenerationPrompt', 'tools', 'documents', 'variables', 'now', 'parseReasoning', 'parseSpecialInContent', 'contextShift'];

/** The generation options of a chat call (the template's own options removed; the rest passes through). */
export function generationOptions(options) {
  const o = { ...options };
  for (const k of TEMPLATE_KEYS) delete o[k];
  return o;
}

const utf8 = new TextEncoder();

/** UTF-8 byte offset of each UTF-16 index in `idx` (sorted) within `text`. */
function byteOffsets(text, idx) {
  const out = [];
  let bytes = 0;
  let at = 0;
  for (const i of idx) {
    bytes += utf8.encode(text.slice(at, i)).length;
    at = i;
    out.push(bytes);
  }
  return out;
}

/**
 * Literal ranges of `prompt`: every occurrence of a message content that holds special-token
 * text (as the template wrote it, or trimmed), so that text is not turned into control tokens.
 */
function contentRanges(model, prompt, messages) {
  const ranges = [];
  for (const m of messages) {
    if (typeof m.content !== 'string' || !m.content) continue;
    const a = model.tokenize(m.content, { addSpecial: false, parseSpecial: true });
    const b = model.tokenize(m.content, { addSpecial: false, parseSpecial: false });
    if (a.length === b.length && a.every((x, i) => x === b[i])) continue; // no special-token text
    for (const needle of new Set([m.content, m.content.trim()])) {
      if (!needle) continue;
      for (let at = prompt.indexOf(needle); at >= 0; at = prompt.indexOf(needle, at + 1)) ranges.push([at, at + needle.length]);
    }
  }
  return ranges;
}

/** Token ids of `text`, special-token text parsed except inside `ranges` ([start, end) UTF-16 indices). */
function tokenizeWithLiterals(model, text, ranges) {
  if (ranges.length === 0) return model.tokenize(text, { addSpecial: false, parseSpecial: true });
  model.assertLive();
  const { engine } = model;
  ranges.sort((x, y) => x[0] - y[0]);
  const flat = [];
  for (const [s, e] of ranges) flat.push(s, e);
  const order = flat.map((v, i) => [v, i]).sort((x, y) => x[0] - y[0]);
  const offs = byteOffsets(text, order.map(([v]) => v));
  const bytes = new Int32Array(flat.length);
  order.forEach(([, i], k) => (bytes[i] = offs[k]));
  return engine.scoped((s) => {
    const str = s.string(text);
    const rp = s.i32(bytes);
    let cap = str.len + 8;
    for (;;) {
      const out = s.alloc(cap * 4, 'token ids');
      const n = engine.check(engine.fn.plm_tokenize_literal(model.ptr, str.ptr, str.len, 0, rp, ranges.length, out, cap));
      if (n <= cap) return engine.view(Int32Array, out, n).slice();
      cap = n;
    }
  });
}

/** Prompt text and ids of a conversation. */
export function chatPrompt(model, messages, options = {}) {
  const text = applyChatTemplate(model, messages, options);
  // As transformers' apply_chat_template(tokenize=True): no BOS/EOS added, the template writes them.
  const ranges = options.parseSpecialInContent ? [] : contentRanges(model, text, messages);
  return { text, ids: tokenizeWithLiterals(model, text, ranges) };
}

export function chatPromptIds(model, messages, options = {}) {
  return chatPrompt(model, messages, options).ids;
}

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';

/** Longest suffix of s that is a proper prefix of tag. */
function partialTag(s, tag) {
  for (let k = Math.min(tag.length - 1, s.length); k > 0; k--) if (s.endsWith(tag.slice(0, k))) return k;
  return 0;
}

/**
 * Splits streamed text into reasoning (<think>…</think>) and answer. The opening tag counts
 * only at the start of the answer (whitespace aside), or the prompt already opened it
 * (templates that end with "<think>\n"). Tags are removed; the whitespace right after
 * </think> is dropped, as llama.cpp's and vLLM's reasoning parsers do.
 */
export class ReasoningSplitter {
  constructor(enabled, startsInside) {
    this.enabled = enabled;
    this.state = !enabled ? 'content' : startsInside ? 'reasoning' : 'start'; // start | reasoning | after | content
    this.pending = '';
    this.reasoning = '';
    this.content = '';
  }

  /** Text of one chunk -> [{ text, reasoning }] to emit now (flush: nothing held back). */
  push(text, flush = false) {
    const out = [];
    const emit = (t, r) => {
      if (!t) return;
      if (r) this.reasoning += t;
      else this.content += t;
      out.push({ text: t, reasoning: r });
    };
    let s = this.pending + text;
    this.pending = '';
    for (;;) {
      if (this.state === 'content') {
        emit(s, false);
        return out;
      }
      if (this.state === 'start') {
        const lead = s.length - s.trimStart().length;
        const rest = s.slice(lead);
        if (rest.startsWith(THINK_OPEN)) {
          s = rest.slice(THINK_OPEN.length);
          this.state = 'reasoning';
          continue;
        }
        if (!flush && THINK_OPEN.startsWith(rest)) {
          this.pending = s; // only whitespace or a start of "<think>" so far
          return out;
        }
        this.state = 'content';
        continue;
      }
      if (this.state === 'reasoning') {
        const at = s.indexOf(THINK_CLOSE);
        if (at >= 0) {
          emit(s.slice(0, at), true);
          s = s.slice(at + THINK_CLOSE.length);
          this.state = 'after';
          continue;
        }
        const hold = flush ? 0 : partialTag(s, THINK_CLOSE);
        emit(s.slice(0, s.length - hold), true);
        this.pending = s.slice(s.length - hold);
        return out;
      }
      // after </think>: drop the whitespace before the answer
      const t = s.trimStart();
      if (!t) {
        return out;
      }
      s = t;
      this.state = 'content';
    }
  }
}

/**
 * contextShift: drop the oldest turns (system messages kept) until the prompt leaves room for
 * min(maxTokens, contextLength / 4) new tokens. Returns { messages, text, ids, dropped }.
 */
function fitToContext(model, messages, options) {
  let p = chatPrompt(model, messages, options);
  const nCtx = model.contextLength;
  const room = Math.max(1, Math.min(options.maxTokens ?? 128, Math.floor(nCtx / 4)));
  if (!options.contextShift || p.ids.length + room <= nCtx) return { messages, ...p, dropped: 0 };
  const keep = messages.filter((m) => m.role === 'system');
  let rest = messages.filter((m) => m.role !== 'system');
  let dropped = 0;
  while (p.ids.length + room > nCtx && rest.length > 1) {
    // drop the oldest turn: a user message with the answers / tool results that follow it
    let n = 1;
    while (n < rest.length - 1 && rest[n].role !== 'user') n++;
    rest = rest.slice(n);
    dropped += n;
    const firstSys = messages.findIndex((m) => m.role === 'system');
    messages = firstSys === 0 ? [...keep, ...rest] : [...rest];
    p = chatPrompt(model, messages, options);
  }
  return { messages, ...p, dropped };
}

/** The shared body of chat() and chatStream(): yields chunks, fills `result`. */
async function* runChat(model, messages, options, result) {
  if (options === null || typeof options !== 'object') throw new TypeError('chat options must be an object');
  const { parseReasoning = true } = options;
  const { text: prompt, ids, dropped } = fitToContext(model, messages, options);
  const split = new ReasoningSplitter(parseReasoning, parseReasoning && /<think>\s*$/.test(prompt));
  const run = { tokens: [], stream: null, finishReason: null, stats: null };
  for await (const { token, text } of model[GENERATE_RUN](ids, generationOptions(options), run)) {
    const parts = split.push(text);
    if (parts.length === 0) yield { token, text: '', reasoning: split.state === 'reasoning' };
    for (const p of parts) yield { token, text: p.text, reasoning: p.reasoning };
  }
  for (const p of split.push('', true)) yield { token: run.tokens[run.tokens.length - 1] ?? -1, text: p.text, reasoning: p.reasoning };
  const message = { role: 'assistant', content: split.content };
  if (parseReasoning && (split.reasoning || split.state !== 'content')) message.reasoning = split.reasoning.trim();
  Object.assign(result, {
    message,
    text: run.stream?.text ?? '',
    tokens: Int32Array.from(run.tokens),
    finishReason: run.finishReason,
    stats: run.stats,
    promptText: prompt,
    droppedMessages: dropped,
    logprobs: run.logprobs,
  });
}

function resultOf(r) {
  const out = { message: r.message, text: r.text, tokens: r.tokens, finishReason: r.finishReason, stats: r.stats };
  if (r.logprobs) out.logprobs = r.logprobs;
  if (r.droppedMessages) out.droppedMessages = r.droppedMessages;
  return out;
}

/** Yields { token, text, reasoning }; returns chat()'s result. */
export async function* chatStream(model, messages, options = {}) {
  const r = {};
  yield* runChat(model, messages, options, r);
  return resultOf(r);
}

export async function chat(model, messages, options = {}) {
  const r = {};
  for await (const _ of runChat(model, messages, options, r));
  return resultOf(r);
}

// ------------------------------------------------------------- OpenAI-compatible

function unsupported(what) {
  return new PlmError(`createChatCompletion: ${what} is not supported yet`, Status.UNSUPPORTED);
}

/** OpenAI request -> chat options (OpenAI's sampling: temperature 1, top_p 1, no top-k / min-p). */
export function openaiToChatOptions(model, req) {
  if (req === null || typeof req !== 'object') throw new TypeError('createChatCompletion needs a request object');
  if (!Array.isArray(req.messages)) throw new TypeError('createChatCompletion: messages must be an array');
  if (req.n != null && req.n !== 1) throw unsupported(`n = ${req.n} (one choice per request)`);
  if (req.logprobs && req.stream) throw unsupported('logprobs with stream: true');
  if (req.top_logprobs != null && !req.logprobs) throw new RangeError('createChatCompletion: top_logprobs needs logprobs: true');
  if (req.tool_choice != null && req.tool_choice !== 'none' && req.tool_choice !== 'auto') throw unsupported(`tool_choice ${JSON.stringify(req.tool_choice)}`);
  const max = req.max_completion_tokens ?? req.max_tokens;
  const o = {
    maxTokens: max ?? model.contextLength, // OpenAI: until the end of the turn or the context
    temperature: req.temperature ?? 1,
    topP: req.top_p ?? 1,
    topK: 0,
    minP: 0,
    repetitionPenalty: 1,
  };
  if (req.logit_bias != null) {
    o.logitBias = {};
    for (const [k, v] of Object.entries(req.logit_bias)) {
      if (typeof v !== 'number' || !(v >= -100 && v <= 100)) throw new RangeError(`createChatCompletion: logit_bias[${k}] must be a number in [-100, 100] (got ${v})`);
      o.logitBias[k] = v;
    }
  }
  if (req.logprobs) {
    o.logprobs = true;
    o.topLogprobs = req.top_logprobs ?? 0;
  }
  // structured output (grammar/grammar.js): OpenAI's response_format ({ type: 'json_object' } or
  // { type: 'json_schema', json_schema: { name, schema, strict } }), llama.cpp server's grammar (GBNF)
  if (req.response_format != null) o.responseFormat = req.response_format;
  if (req.grammar != null) o.grammar = req.grammar;
  if (o.responseFormat && o.grammar) throw new TypeError('createChatCompletion: pass either response_format or grammar, not both');
  resolveConstraint(o); // a bad response_format / grammar fails here, not in the returned promise
  if (req.stop != null) o.stop = req.stop;
  if (req.seed != null) o.seed = req.seed;
  if (req.signal !== undefined) o.signal = req.signal;
  if (req.tools != null) o.tools = req.tools;
  // extensions accepted by llama.cpp's server: chat_template_kwargs -> template variables
  if (req.chat_template_kwargs != null) o.variables = req.chat_template_kwargs;
  return o;
}

const finishReasonOf = (r) => (r === 'length' || r === 'context' ? 'length' : 'stop');

function completionId() {
  const hex = Array.from({ length: 24 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  return `chatcmpl-${hex}`;
}

function usageOf(stats) {
  const p = stats?.promptTokens ?? 0;
  const c = stats?.generatedTokens ?? 0;
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c, prompt_tokens_details: { cached_tokens: stats?.cachedTokens ?? 0 } };
}

/** gpt.createChatCompletion(request): a Promise of a chat.completion, or (stream: true) an async iterable of chunks. */
export function createChatCompletion(model, req) {
  const opts = openaiToChatOptions(model, req);
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const name = req.model ?? model.info?.name ?? model.info?.architecture ?? 'plm-wasm';
  const base = { id, created, model: name, system_fingerprint: null };
  if (!req.stream) {
    return (async () => {
      const r = await model.chat(req.messages, opts);
      const message = { role: 'assistant', content: r.message.content, refusal: null };
      if (r.message.reasoning !== undefined) message.reasoning_content = r.message.reasoning;
      let logprobs = null;
      if (r.logprobs) {
        const dec = new TextDecoder();
        const entry = (token, logprob) => {
          const bytes = Array.from(model.tokenBytes(token));
          return { token: dec.decode(Uint8Array.from(bytes)), logprob, bytes };
        };
        logprobs = {
          content: r.logprobs.map((t) => ({ ...entry(t.token, t.logprob), top_logprobs: t.topLogprobs.map((a) => entry(a.token, a.logprob)) })),
          refusal: null,
        };
      }
      return {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message, logprobs, finish_reason: finishReasonOf(r.finishReason) }],
        usage: usageOf(r.stats),
      };
    })();
  }
  const includeUsage = !!req.stream_options?.include_usage;
  return (async function* () {
    const chunk = (delta, finish = null) => ({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}) });
    yield chunk({ role: 'assistant', content: '' });
    const stream = model.chatStream(req.messages, opts); // (its return value comes through a worker too)
    let step;
    while (!(step = await stream.next()).done) {
      const c = step.value;
      if (!c.text) continue;
      yield chunk(c.reasoning ? { reasoning_content: c.text } : { content: c.text });
    }
    const result = step.value;
    yield chunk({}, finishReasonOf(result.finishReason));
    if (includeUsage) yield { ...base, object: 'chat.completion.chunk', choices: [], usage: usageOf(result.stats) };
  })();
}
