// wire.js — what crosses the boundary between a page and its model worker
// (remote.js on the page, host.js in the worker): errors, call arguments with
// AbortSignals and callbacks in them, results with transferable buffers, and
// the snapshot of a model's plain-data properties.

import { PlmError } from './engine.js';

export const TAG = '__plm_remote__';

const ERRORS = { Error, TypeError, RangeError, SyntaxError };

export function encodeError(e) {
  if (e && typeof e === 'object')
    return { name: e.name ?? 'Error', message: e.message ?? String(e), code: e.code, status: e.status, stack: e.stack, line: e.line, column: e.column };
  return { name: 'Error', message: String(e) };
}

export function decodeError(x) {
  if (!x) return new Error('unknown error in the model worker');
  if (x.name === 'PlmError') {
    const e = new PlmError(x.message, x.code);
    if (x.line !== undefined) (e.line = x.line), (e.column = x.column); // grammar parse errors
    return e;
  }
  if (x.name === 'AbortError' || x.name === 'TimeoutError') {
    if (typeof DOMException === 'function') return new DOMException(x.message, x.name);
  }
  const E = ERRORS[x.name] ?? Error;
  const e = new E(x.message);
  if (!ERRORS[x.name]) e.name = x.name;
  if (x.code !== undefined) e.code = x.code;
  if (x.status !== undefined) e.status = x.status;
  return e;
}

const isPlainObject = (v) => {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
};

const isAbortSignal = (v) => typeof AbortSignal !== 'undefined' && v instanceof AbortSignal;

/**
 * Arguments for postMessage: AbortSignals and functions (in the arguments or in
 * plain objects / arrays inside them) become references the other side turns back
 * into a signal / a function that posts back. `ref(kind, value)` returns the id.
 */
export function encodeArgs(value, ref, depth = 0) {
  if (typeof value === 'function') return { [TAG]: 'fn', id: ref('fn', value) };
  if (isAbortSignal(value)) return { [TAG]: 'signal', id: ref('signal', value) };
  if (depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => encodeArgs(v, ref, depth + 1));
  if (isPlainObject(value)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = encodeArgs(v, ref, depth + 1);
    return out;
  }
  return value;
}

/** The other side of encodeArgs: `make(kind, id)` returns the signal / function. */
export function decodeArgs(value, make, depth = 0) {
  if (value && typeof value === 'object' && typeof value[TAG] === 'string') return make(value[TAG], value.id);
  if (depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => decodeArgs(v, make, depth + 1));
  if (isPlainObject(value)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = decodeArgs(v, make, depth + 1);
    return out;
  }
  return value;
}

/** ArrayBuffers of the typed arrays in a result (to transfer instead of copying). */
export function transferables(value, out = new Set(), depth = 0) {
  if (value === null || typeof value !== 'object' || depth > 5) return out;
  if (ArrayBuffer.isView(value)) {
    const b = value.buffer;
    if (b instanceof ArrayBuffer && b.byteLength === value.byteLength) out.add(b); // (never a view on wasm memory)
    return out;
  }
  if (value instanceof ArrayBuffer) return out;
  if (Array.isArray(value)) for (const v of value) transferables(v, out, depth + 1);
  else if (isPlainObject(value)) for (const v of Object.values(value)) transferables(v, out, depth + 1);
  return out;
}

/** Whether v survives structured cloning as plain data (no class instances, functions, ...). */
export function isPlainData(v, depth = 0) {
  if (v === null || v === undefined) return true;
  const t = typeof v;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint') return true;
  if (t !== 'object' || depth > 6) return false;
  if (ArrayBuffer.isView(v)) return v.buffer instanceof ArrayBuffer && v.byteLength === v.buffer.byteLength; // (never a view on wasm memory)
  if (Array.isArray(v)) return v.every((x) => isPlainData(x, depth + 1));
  if (isPlainObject(v)) return Object.values(v).every((x) => isPlainData(x, depth + 1));
  return false;
}

/** Properties that never cross: the engine and pointers belong to one side. */
export const LOCAL_PROPERTIES = new Set(['engine', 'ptr', 'ownsEngine', 'disposed', 'ctxPtr']);

/** Methods of a class (own and inherited, up to Object.prototype): name -> { kind, descriptor }. */
export function members(Cls) {
  const out = new Map();
  for (let p = Cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor' || out.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(p, name);
      let kind;
      if (d.get) kind = 'getter';
      else if (typeof d.value === 'function') {
        const ctor = d.value.constructor?.name;
        kind = ctor === 'AsyncGeneratorFunction' ? 'stream' : ctor === 'AsyncFunction' ? 'async' : 'sync';
      } else continue;
      out.set(name, { kind, descriptor: d });
    }
  }
  return out;
}

/**
 * The worker contract of a model class: the synchronous methods that run on the page in
 * worker mode (on its vocab-only copy), the union of the `static local` lists of Cls
 * and its parents (see ModelBase.local). Every other synchronous method would need the
 * worker's model and cannot be called through the proxy: it must be async instead.
 */
export function localMethods(Cls) {
  const out = new Set();
  for (let c = Cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) if (Object.hasOwn(c, 'local')) for (const n of c.local) out.add(n);
  return out;
}

/** Synchronous methods of Cls that break the worker contract (neither async nor declared local). */
export function undeclaredSyncMethods(Cls) {
  const local = localMethods(Cls);
  return [...members(Cls)].filter(([name, { kind }]) => kind === 'sync' && !local.has(name)).map(([name]) => name);
}

/**
 * A model's plain-data state: getter values (or the error they throw) and own
 * data properties such as lastStats, sent with every result so that the page's
 * proxy answers property reads synchronously.
 */
export function snapshot(obj) {
  const getters = {};
  const errors = {};
  for (const [name, { kind }] of members(obj.constructor)) {
    if (kind !== 'getter' || LOCAL_PROPERTIES.has(name)) continue;
    try {
      const v = obj[name];
      if (isPlainData(v)) getters[name] = v;
    } catch (e) {
      errors[name] = encodeError(e);
    }
  }
  const props = {};
  for (const k of Object.keys(obj)) if (!LOCAL_PROPERTIES.has(k) && isPlainData(obj[k])) props[k] = obj[k];
  return { getters, errors, props };
}
