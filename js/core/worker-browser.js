// worker-browser.js — one thread of the shared-memory pool (module Web Worker); the
// protocol is runPoolThread's (imports.js), shared with worker-node.js.
import { runPoolThread } from './imports.js';

self.onmessage = (e) => {
  self.onmessage = null;
  runPoolThread(e.data, (msg) => self.postMessage(msg));
};
