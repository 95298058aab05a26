// platform.js — the few things that differ between browsers and Node.
//
// This module holds the browser implementation (also used by Deno, Bun and
// bundlers' "browser" builds). js/node.js imports ./platform-node.js first,
// which replaces the entries with Node versions, so the rest of the package
// never touches node:* modules directly and stays bundler-friendly.

import { crossOriginWorker, isCrossOrigin } from './cross-origin.js';

export const WASM_FILES = {
  scalar: 'plm.wasm',
  simd: 'plm-simd.wasm',
  'simd-mt': 'plm-simd-mt.wasm',
  relaxed: 'plm-relaxed.wasm',
  'relaxed-mt': 'plm-relaxed-mt.wasm',
};
const POOL_WORKER = './worker-browser.js';

let yieldChannel = null;
const yieldQueue = [];

export const platform = {
  name: 'browser',

  /** Compile a .wasm file given its URL. */
  async compileWasm(url) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`plm: cannot fetch ${url}: HTTP ${res.status} ${res.statusText}`);
    const type = res.headers.get('content-type') || '';
    if (WebAssembly.compileStreaming && type.startsWith('application/wasm')) {
      return WebAssembly.compileStreaming(res);
    }
    return WebAssembly.compile(await res.arrayBuffer());
  },

  hardwareConcurrency() {
    return globalThis.navigator?.hardwareConcurrency || 1;
  },

  /** Shared-memory threads need SharedArrayBuffer, which browsers only expose to cross-origin isolated pages. */
  threadsAvailable() {
    return typeof SharedArrayBuffer !== 'undefined' && globalThis.crossOriginIsolated === true;
  },

  /**
   * Start one thread-pool worker: it instantiates `module` on `memory`, sets its
   * stack and calls plm_thread_worker(index). Resolves once it is about to enter
   * the worker loop. Returns { terminate() }.
   */
  startWorker({ module, memory, stackTop, index }) {
    let worker = null;
    const script = new URL(POOL_WORKER, import.meta.url);
    // the package on another origin (a CDN): a same-origin blob script imports the worker
    if (isCrossOrigin(script)) worker = crossOriginWorker(script, { type: 'module', name: `plm-${index}` });
    try {
      worker ??= new Worker(new URL('./worker-browser.js', import.meta.url), { type: 'module', name: `plm-${index}` });
    } catch (e) {
      if (e?.name !== 'SecurityError') throw e;
      worker = crossOriginWorker(script, { type: 'module', name: `plm-${index}` });
    }
    return new Promise((resolve, reject) => {
      worker.onmessage = (e) => {
        if (e.data?.type === 'ready') resolve({ terminate: () => worker.terminate() });
        else if (e.data?.type === 'error') reject(new Error(`plm thread ${index}: ${e.data.message}`));
      };
      worker.onerror = (e) => reject(new Error(`plm thread ${index}: ${e.message || 'worker failed to start'}`));
      worker.postMessage({ module, memory, stackTop, index });
    });
  },

  /** Let timers, I/O and UI events run between tokens (a macrotask, unlike `await null`). */
  yieldToEventLoop() {
    if (typeof MessageChannel === 'undefined') return new Promise((r) => setTimeout(r, 0));
    if (!yieldChannel) {
      // created lazily: an open port with a handler would keep some runtimes alive
      yieldChannel = new MessageChannel();
      yieldChannel.port1.onmessage = () => yieldQueue.shift()?.();
    }
    return new Promise((r) => {
      yieldQueue.push(r);
      yieldChannel.port2.postMessage(0);
    });
  },

  /** Platform-specific sources (Node: file paths). Return null when `input` is not one. */
  resolveSource(input) {
    return null;
  },

  /** URL of a build's .wasm file. Literal `new URL('…', import.meta.url)` so bundlers pick the files up. */
  wasmUrl(build, base) {
    if (base) return new URL(WASM_FILES[build], base);
    if (build === 'relaxed-mt') return new URL('../../dist/plm-relaxed-mt.wasm', import.meta.url);
    if (build === 'relaxed') return new URL('../../dist/plm-relaxed.wasm', import.meta.url);
    if (build === 'simd-mt') return new URL('../../dist/plm-simd-mt.wasm', import.meta.url);
    if (build === 'simd') return new URL('../../dist/plm-simd.wasm', import.meta.url);
    return new URL('../../dist/plm.wasm', import.meta.url);
  },
};

/** Replace platform entries (used by platform-node.js, and by embedders). */
export function setPlatform(overrides) {
  Object.assign(platform, overrides);
}
