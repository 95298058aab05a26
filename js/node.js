// plm-wasm for Node: the Node platform (file paths, fs, worker_threads), then the package.
import './core/platform-node.js';

export * from './index.js';
