// chat-template.js — a model's chat template rendered as Hugging Face transformers'
// tokenizer.apply_chat_template(messages, tokenize=False, ...) renders it.
//
// The Jinja implementation is @huggingface/jinja (the one transformers.js uses), with the
// environment transformers sets up in Python: trim_blocks and lstrip_blocks (built into
// its Template), loop controls, tojson keeping non-ASCII, raise_exception(msg) and
// strftime_now(fmt) (ours: English names as Python's C locale, not the browser's locale).
// Variables: messages, add_generation_prompt, tools, documents, the special tokens of the
// file (bos_token, eos_token, unk_token, pad_token) and options.variables on top.
// tests/js/chat_template.test.mjs checks it byte for byte against Python's jinja2 renderings.

import { PlmError, Status } from './engine.js';

// @huggingface/jinja is loaded with a dynamic import started when this module is evaluated
// (GPT.load / Tokenizer.load wait for it), so that a page that imports js/index.js without a
// bundler still works: a bare specifier does not resolve there (nor in its module workers,
// which ignore import maps), and we then try the package's copy next to js/ (the repository's
// node_modules, as the demo server serves it). Only chat templates need it.
let jinja = null;
let jinjaError = null;
export const jinjaReady = import('@huggingface/jinja')
  .catch(() => import(new URL('../../node_modules/@huggingface/jinja/dist/index.js', import.meta.url).href))
  .then(
    (m) => {
      jinja = m;
      StringValue = new m.Environment().set('s', '').constructor;
      PyInterpreter = makeInterpreter(m.Interpreter);
    },
    (e) => {
      jinjaError = e;
    },
  );

function engine() {
  if (jinja) return jinja;
  if (jinjaError)
    throw new PlmError(`chat templates need the package @huggingface/jinja, which could not be loaded (${jinjaError.message}); install it, or use a bundler / import map that resolves it`, Status.UNSUPPORTED);
  throw new PlmError('chat templates: @huggingface/jinja is still loading (await jinjaReady, or a model load, first)', Status.STATE);
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const pad = (n, w = 2, c = '0') => String(n).padStart(w, c);

/** Python's datetime.strftime in the C locale (local time), for the directives templates use. */
export function strftime(date, fmt) {
  const dayOfYear = Math.floor((Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 864e5) + 1;
  const h12 = date.getHours() % 12 || 12;
  return fmt.replace(/%([a-zA-Z%])/g, (all, d) => {
    switch (d) {
      case 'Y': return String(date.getFullYear());
      case 'y': return pad(date.getFullYear() % 100);
      case 'm': return pad(date.getMonth() + 1);
      case 'd': return pad(date.getDate());
      case 'e': return pad(date.getDate(), 2, ' ');
      case 'b': case 'h': return MONTHS[date.getMonth()].slice(0, 3);
      case 'B': return MONTHS[date.getMonth()];
      case 'a': return DAYS[date.getDay()].slice(0, 3);
      case 'A': return DAYS[date.getDay()];
      case 'w': return String(date.getDay());
      case 'j': return pad(dayOfYear, 3);
      case 'H': return pad(date.getHours());
      case 'I': return pad(h12);
      case 'M': return pad(date.getMinutes());
      case 'S': return pad(date.getSeconds());
      case 'p': return date.getHours() < 12 ? 'AM' : 'PM';
      case 'f': return pad(date.getMilliseconds() * 1000, 6);
      case 'F': return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
      case 'T': return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
      case 'D': return `${pad(date.getMonth() + 1)}/${pad(date.getDate())}/${pad(date.getFullYear() % 100)}`;
      case '%': return '%';
      default: return all; // as glibc: unknown directives are kept
    }
  });
}

const compiled = new Map(); // template source -> Template (parsing is the expensive part)
const MAX_CACHED = 16;

function compile(source) {
  let t = compiled.get(source);
  if (t) return t;
  const { Template } = engine();
  try {
    t = new Template(source);
  } catch (e) {
    throw new PlmError(`chat template: cannot parse the template: ${e.message}`, Status.FORMAT);
  }
  if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value);
  compiled.set(source, t);
  return t;
}

/** Python's range() (the global @huggingface/jinja sets up, which we replace as a whole). */
function range(start, stop, step = 1) {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() arg 3 must not be zero');
  const out = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

/**
 * Template.render with our globals: its own render declares raise_exception / strftime_now
 * first and refuses to redeclare them, so the environment is set up here (the globals
 * @huggingface/jinja's setupGlobals declares, with context values taking precedence).
 */
// Python's jinja2 applies string filters to an undefined value as to '' (str(Undefined) == ''),
// e.g. Hermes 3's `param_fields.description|trim` on a parameter without a description;
// @huggingface/jinja throws there. (Its StringValue class is not exported: taken from a value.)
let StringValue = null;
let PyInterpreter = null;
const STRING_FILTERS = new Set(['trim', 'upper', 'lower', 'title', 'capitalize', 'string', 'indent', 'replace', 'striptags', 'center', 'wordcount']);
function makeInterpreter(Interpreter) {
  return class PyInterpreter extends Interpreter {
    applyFilter(operand, filterNode, environment) {
      const name = filterNode.type === 'Identifier' ? filterNode.value : filterNode.callee?.value;
      if (operand?.type === 'UndefinedValue' && STRING_FILTERS.has(name)) operand = new StringValue('');
      return super.applyFilter(operand, filterNode, environment);
    }
  };
}

function render(template, context) {
  const env = new (engine().Environment)();
  const all = { true: true, false: false, none: null, True: true, False: false, None: null, range, ...context };
  for (const [k, v] of Object.entries(all)) env.set(k, v);
  return new PyInterpreter(env).run(template.parsed).value;
}

/** Raised by the template's raise_exception(msg): the message is the template's. */
class TemplateRaise extends Error {}

function checkMessages(messages) {
  if (!Array.isArray(messages)) throw new TypeError('messages must be an array of { role, content } objects');
  messages.forEach((m, i) => {
    if (m === null || typeof m !== 'object') throw new TypeError(`messages[${i}] must be an object with role and content`);
    if (typeof m.role !== 'string') throw new TypeError(`messages[${i}].role must be a string`);
  });
}

/** Drop undefined values (Jinja would see them as defined-but-undefined otherwise). */
function defined(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/**
 * Render `source` for `messages`. Options: addGenerationPrompt (default true), tools,
 * documents, specialTokens ({ bos_token, eos_token, unk_token, pad_token }), variables
 * (override everything), now (the Date strftime_now reads; default: the current time).
 */
export function renderChatTemplate(source, messages, options = {}) {
  if (typeof source !== 'string') throw new TypeError('chat template must be a string (Jinja source)');
  checkMessages(messages);
  const { addGenerationPrompt = true, tools, documents, specialTokens = {}, variables = {}, now } = options;
  if (typeof addGenerationPrompt !== 'boolean') throw new TypeError(`addGenerationPrompt must be a boolean (got ${addGenerationPrompt})`);
  if (variables === null || typeof variables !== 'object') throw new TypeError('variables must be an object');
  if (now !== undefined && !(now instanceof Date)) throw new TypeError('now must be a Date');
  const template = compile(source);
  const context = {
    ...defined(specialTokens),
    messages,
    add_generation_prompt: addGenerationPrompt,
    tools: tools ?? null,
    documents: documents ?? null,
    raise_exception: (msg) => {
      throw new TemplateRaise(String(msg));
    },
    strftime_now: (fmt) => strftime(now ?? new Date(), String(fmt)),
    ...defined(variables),
  };
  try {
    return render(template, context);
  } catch (e) {
    if (e instanceof TemplateRaise) throw new PlmError(`chat template: ${e.message}`, Status.INVALID);
    throw new PlmError(`chat template: rendering failed: ${e.message}`, Status.INVALID);
  }
}

const ctxCache = new WeakMap(); // model -> { templates, specialTokens }

function tokenText(model, id) {
  if (!(id >= 0)) return undefined;
  return new TextDecoder().decode(model.tokenBytes(id));
}

/** The chat templates (tokenizer.chat_template[.name]) and special-token texts of a model's GGUF. */
export function chatContext(model) {
  let c = ctxCache.get(model);
  if (c) return c;
  const meta = model.metadata(1);
  const templates = {};
  for (const [k, v] of Object.entries(meta)) {
    if (k === 'tokenizer.chat_template' && typeof v === 'string') templates.default = v;
    else if (k.startsWith('tokenizer.chat_template.') && typeof v === 'string') templates[k.slice('tokenizer.chat_template.'.length)] = v;
  }
  const t = model.info.tokenizer ?? {};
  const specialTokens = defined({
    bos_token: tokenText(model, t.bos),
    eos_token: tokenText(model, t.eos),
    unk_token: tokenText(model, t.unk),
    pad_token: tokenText(model, t.pad),
  });
  c = { templates, specialTokens };
  ctxCache.set(model, c);
  return c;
}

/** The template source options select: options.chatTemplate, { template: name }, or the file's default. */
export function templateSource(model, options = {}) {
  if (options.chatTemplate !== undefined) {
    if (typeof options.chatTemplate !== 'string') throw new TypeError('chatTemplate must be a string (Jinja source)');
    return options.chatTemplate;
  }
  const { templates } = chatContext(model);
  const name = options.template ?? 'default';
  if (typeof name !== 'string') throw new TypeError('template must be a string (the name of one of the file\'s chat templates)');
  const src = templates[name];
  if (src !== undefined) return src;
  const have = Object.keys(templates);
  if (name === 'default')
    throw new PlmError(
      `the model file has no chat template (metadata key 'tokenizer.chat_template'${have.length ? `; named templates: ${have.join(', ')}` : ''}): pass options.chatTemplate (a Jinja source)`,
      Status.MISSING,
    );
  throw new PlmError(`the model file has no chat template named '${name}' (metadata key 'tokenizer.chat_template.${name}'; available: ${have.join(', ') || 'none'})`, Status.MISSING);
}

/** applyChatTemplate for Tokenizer and GPT (see index.d.ts). */
export function applyChatTemplate(model, messages, options = {}) {
  const source = templateSource(model, options);
  return renderChatTemplate(source, messages, { ...options, specialTokens: chatContext(model).specialTokens });
}
