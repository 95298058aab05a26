// worker-browser.js — one thread of the shared-memory pool (module Web Worker).
// Same protocol as worker-node.js: instantiate the module on the shared memory,
// set the stack, enter plm_thread_worker(index) (never returns).
import { makeImports } from './imports.js';

self.onmessage = (e) => {
  const { module, memory, stackTop, index } = e.data;
  self.onmessage = null;
  try {
    const imports = makeImports(module, {
      memory,
      getMemory: () => memory,
      log: (s) => console.log(`[plm ${index}] ${s}`),
      error: (s) => console.error(`[plm ${index}] ${s}`),
    });
    const { exports } = new WebAssembly.Instance(module, imports);
    exports.stackRestore(stackTop);
    self.postMessage({ type: 'ready' });
    exports.plm_thread_worker(index);
  } catch (err) {
    self.postMessage({ type: 'error', message: err?.message ?? String(err) });
  }
};
