// plm-wasm for Node: the Node platform (file paths, fs, worker_threads, the
// model cache directory, model workers), then the package.
import './core/platform-node.js';
import './core/cache-node.js';
import './core/remote-node.js';

export * from './index.js';
