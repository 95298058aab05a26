// worker-node.js — the model worker in Node (worker_threads; GPT.load(src, { worker: true })).
import { parentPort } from 'node:worker_threads';
import * as api from './node.js';
import { serve } from './core/host.js';

serve(Object.values(api), {
  post: (m, transfer) => parentPort.postMessage(m, transfer ?? []),
  onMessage: (f) => parentPort.on('message', f),
});
