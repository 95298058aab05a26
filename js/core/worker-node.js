// worker-node.js — one thread of the shared-memory pool (Node worker_threads); the
// protocol is runPoolThread's (imports.js), shared with worker-browser.js.
import { parentPort, workerData } from 'node:worker_threads';
import { runPoolThread } from './imports.js';

runPoolThread(workerData, (msg) => parentPort.postMessage(msg));
