// grammar.js — grammar-constrained generation on the JS side: the Grammar class
// (a GBNF grammar parsed by the core, reusable), the option handling shared by
// every generating API ({ grammar, responseFormat } -> GBNF source ->
// a matcher for one generation), and the per-model token index.
//
//   const g = new Grammar('root ::= "yes" | "no"');   // PlmError with .line/.column if malformed
//   g.matches('yes')                                   // true
//   await gpt.complete(prompt, { grammar: g })         // or grammar: '<GBNF>', or
//   await gpt.complete(prompt, { responseFormat: { type: 'json_schema', schema } })
//
// A Grammar is parsed in the core of an engine: the one given, or any live
// engine of this thread (loading a model creates one); `await Grammar.create(src)`
// starts a small engine when there is none (e.g. the models run in workers).
// Across the worker boundary a Grammar travels as its source text (a structured
// clone keeps only the public `source` field) and is parsed again there, once
// per engine (cached by source).

import { Engine, PlmError, Status } from '../core/engine.js';
import { jsonSchemaToGrammar, jsonObjectGrammar } from './json-schema.js';
import { MATCHER_STRIP_LEADING } from '../core/abi.js';

// ------------------------------------------------------- engines and handles
let ownEngine = null; // started by Grammar.create when no engine exists

function anyEngine() {
  return Engine.latest();
}

/** Parse GBNF in an engine; returns the plm_grammar pointer or throws a PlmError with line/column. */
function parseIn(engine, source) {
  const fn = engine.fn;
  return engine.scoped((s) => {
    const str = s.string(source);
    const p = fn.plm_grammar_new(str.ptr, str.len) >>> 0;
    if (p) return p;
    const line = fn.plm_grammar_error_line(), column = fn.plm_grammar_error_column();
    const e = engine.lastError(0);
    if (line > 0) {
      e.line = line;
      e.column = column;
    }
    throw e;
  });
}

// per engine: source -> plm_grammar pointer (grammars that came as text: worker side, strings)
const sourceCache = new WeakMap(); // engine -> Map(source, ptr)
const SOURCE_CACHE_MAX = 16;

function cachedGrammar(engine, source) {
  let m = sourceCache.get(engine);
  if (!m) sourceCache.set(engine, (m = new Map()));
  let p = m.get(source);
  if (p) {
    m.delete(source); // most recently used last
    m.set(source, p);
    return p;
  }
  p = parseIn(engine, source);
  m.set(source, p);
  if (m.size > SOURCE_CACHE_MAX) {
    const [oldSource, oldPtr] = m.entries().next().value;
    m.delete(oldSource);
    engine.fn.plm_grammar_free(oldPtr); // a running matcher keeps its own reference
  }
  return p;
}

const handles = new FinalizationRegistry(({ engine, ptr }) => {
  if (!engine.disposed) engine.fn.plm_grammar_free(ptr);
});

export class Grammar {
  /** The GBNF source text (what crosses a worker boundary). */
  source;
  #engines = new Map(); // engine -> { ptr: plm_grammar pointer, token (finalization) }

  /**
   * Parse a GBNF grammar (llama.cpp's format, start symbol `root`). Throws a
   * PlmError (status FORMAT, with .line and .column) for a malformed grammar.
   * options.engine: the engine to parse in (default: any live engine of this thread).
   */
  constructor(source, { engine } = {}) {
    if (typeof source !== 'string') throw new TypeError('a grammar must be a string of GBNF rules');
    this.source = source;
    engine ??= anyEngine();
    if (!engine) throw new Error('new Grammar(): no plm engine on this thread yet (load a model first, pass { engine }, or use await Grammar.create(source))');
    this.#handle(engine);
  }

  /** Like new Grammar(source), starting a small engine if this thread has none. */
  static async create(source, options = {}) {
    let engine = options.engine ?? anyEngine();
    if (!engine) {
      if (!ownEngine || ownEngine.disposed) {
        ownEngine = await Engine.create({ threads: 1, build: options.build, wasmBaseUrl: options.wasmBaseUrl });
      }
      engine = ownEngine;
    }
    return new Grammar(source, { engine });
  }

  /** The grammar for a JSON Schema (see jsonSchemaToGrammar). */
  static fromJsonSchema(schema, options) {
    return new Grammar(jsonSchemaToGrammar(schema).grammar, options);
  }

  /** plm_grammar pointer in `engine` (parsed once per engine). */
  #handle(engine) {
    const h = this.#engines.get(engine);
    if (h && !engine.disposed) return h.ptr;
    const ptr = parseIn(engine, this.source);
    const token = {};
    this.#engines.set(engine, { ptr, token });
    handles.register(this, { engine, ptr }, token);
    return ptr;
  }

  /** Internal: the plm_grammar pointer in an engine. */
  pointerIn(engine) {
    return this.#handle(engine);
  }

  /** Whether the whole text is a sentence of the grammar. */
  matches(text, { engine } = {}) {
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    engine ??= [...this.#engines.keys()].find((e) => !e.disposed) ?? anyEngine();
    if (!engine) throw new Error('Grammar.matches: every engine this grammar was parsed in has been disposed');
    const p = this.#handle(engine);
    return engine.scoped((s) => {
      const str = s.string(text);
      return engine.check(engine.fn.plm_grammar_matches(p, str.ptr, str.len)) === 1;
    });
  }

  /** Free the parsed copies (a generation using the grammar keeps its own reference). */
  dispose() {
    for (const [engine, { ptr, token }] of this.#engines) {
      handles.unregister(token);
      if (!engine.disposed) engine.fn.plm_grammar_free(ptr);
    }
    this.#engines.clear();
  }
}

// ------------------------------------------------------- generation options
/**
 * The constraint of a generation call: { grammar, responseFormat } ->
 *   null (no constraint), or { source, grammar (a Grammar or null), relaxed }.
 * grammar: GBNF text, a Grammar, or (across a worker boundary) { source }.
 * responseFormat: { type: 'text' } | { type: 'json_object' } | { type: 'json_schema', schema }
 * (also OpenAI's { type: 'json_schema', json_schema: { schema } }). Both at once is an error.
 */
export function resolveConstraint({ grammar, responseFormat } = {}) {
  let rf = responseFormat;
  if (rf !== undefined && rf !== null) {
    if (typeof rf !== 'object') throw new TypeError("responseFormat must be an object such as { type: 'json_object' }");
    if (rf.type === 'text') rf = null;
    else if (rf.type !== 'json_object' && rf.type !== 'json_schema')
      throw new TypeError(`responseFormat.type must be 'text', 'json_object' or 'json_schema' (got ${JSON.stringify(rf.type)})`);
  } else rf = null;
  if (grammar !== undefined && grammar !== null && rf) throw new TypeError('pass either grammar or responseFormat, not both');
  if (grammar !== undefined && grammar !== null) {
    if (grammar instanceof Grammar) return { source: grammar.source, grammar, relaxed: [] };
    if (typeof grammar === 'string') return { source: grammar, grammar: null, relaxed: [] };
    if (typeof grammar === 'object' && typeof grammar.source === 'string') return { source: grammar.source, grammar: null, relaxed: [] };
    throw new TypeError('grammar must be GBNF text or a Grammar');
  }
  if (!rf) return null;
  if (rf.type === 'json_object') return { source: jsonObjectGrammar(), grammar: null, relaxed: [] };
  const schema = rf.schema ?? rf.json_schema?.schema;
  if (schema === undefined) throw new TypeError("responseFormat { type: 'json_schema' } needs a schema");
  const { grammar: source, relaxed } = jsonSchemaToGrammar(schema);
  return { source, grammar: null, relaxed };
}

// per model: its token index (built on first use, freed with the model)
const tokenIndexes = new WeakMap(); // model -> plm_token_index pointer

function tokenIndex(model) {
  let p = tokenIndexes.get(model);
  if (!p) {
    p = model.engine.checkPtr(model.engine.fn.plm_token_index_new(model.ptr));
    tokenIndexes.set(model, p);
  }
  return p;
}

/** Free the token index of a model (model classes call this from freeResources). */
export function releaseGrammarState(model) {
  const p = tokenIndexes.get(model);
  if (p) {
    tokenIndexes.delete(model);
    if (!model.engine.disposed) model.engine.fn.plm_token_index_free(p);
  }
}

/**
 * A matcher for one generation on `model`, or null without a constraint.
 * Returns { ptr, mask(logitsPtr, nVocab), accept(id), free() }.
 * stripLeading: the output drops the leading SentencePiece space of its first token.
 */
export function createMatcher(model, constraint, { stripLeading = false } = {}) {
  if (!constraint) return null;
  const { engine } = model;
  const fn = engine.fn;
  const g = constraint.grammar ? constraint.grammar.pointerIn(engine) : cachedGrammar(engine, constraint.source);
  const spm = ['spm', 'ugm'].includes(model.info.tokenizer?.type);
  const ptr = engine.checkPtr(fn.plm_matcher_new(g, tokenIndex(model), stripLeading && spm ? MATCHER_STRIP_LEADING : 0));
  let freed = false;
  return {
    ptr,
    /** Set the logits of the tokens the grammar forbids to -inf; returns how many are left. */
    mask(logitsPtr, nVocab) {
      return engine.check(fn.plm_matcher_mask(ptr, logitsPtr, nVocab));
    },
    accept(id) {
      engine.check(fn.plm_matcher_accept(ptr, id));
    },
    /** bit 1: the text is complete, bit 2: it can go on. */
    state() {
      return engine.check(fn.plm_matcher_state(ptr));
    },
    free() {
      if (freed) return;
      freed = true;
      if (!engine.disposed) fn.plm_matcher_free(ptr);
    },
  };
}

export { PlmError, Status };
