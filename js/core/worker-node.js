// worker-node.js — one thread of the shared-memory pool (Node worker_threads).
// Instantiates the main thread's module on the same memory, moves its stack to
// the block the main instance allocated for it, then enters plm_thread_worker,
// which never returns (the main thread terminates the worker on dispose).
import { parentPort, workerData } from 'node:worker_threads';
import { makeImports } from './imports.js';

const { module, memory, stackTop, index } = workerData;
try {
  const imports = makeImports(module, {
    memory,
    getMemory: () => memory,
    log: (s) => console.log(`[plm ${index}] ${s}`),
    error: (s) => console.error(`[plm ${index}] ${s}`),
  });
  const { exports } = new WebAssembly.Instance(module, imports);
  // No _initialize here: constructors ran on the main instance and the data
  // segments of a shared memory are initialised once, by the first instance.
  exports.stackRestore(stackTop);
  parentPort.postMessage({ type: 'ready' });
  exports.plm_thread_worker(index);
} catch (e) {
  parentPort.postMessage({ type: 'error', message: e?.message ?? String(e) });
}
