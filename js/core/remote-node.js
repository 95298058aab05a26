// remote-node.js — model workers in Node (worker_threads running js/worker-node.js).
// Imported for its side effect by js/node.js.
import { Worker } from 'node:worker_threads';
import { setModelWorkerFactory } from './remote.js';

setModelWorkerFactory(() => {
  const w = new Worker(new URL('../worker-node.js', import.meta.url), { name: 'plm-model' });
  w.unref(); // referenced only while a call is pending (ref/unref below)
  return {
    post: (m, transfer) => w.postMessage(m, transfer ?? []),
    onMessage: (f) => w.on('message', f),
    onError: (f) => {
      w.on('error', f);
      w.on('exit', (code) => f(new Error(`the model worker exited (code ${code})`)));
    },
    terminate: () => w.terminate(),
    ref: () => w.ref(),
    unref: () => w.unref(),
  };
});
