// plm-wasm — pretrained language models in WebAssembly.
// This is the browser / default entry; Node resolves the package to ./node.js,
// which installs the Node platform (file paths, worker_threads) and re-exports this.

export { GPT, GENERATE_DEFAULTS } from './gpt.js';
export { BERT } from './bert.js';
export { T5, T5_GENERATE_DEFAULTS } from './t5.js';
export { Tokenizer } from './tokenizer.js';
export { Grammar } from './grammar/grammar.js';
export { jsonSchemaToGrammar, SchemaError } from './grammar/json-schema.js';
export { renderChatTemplate, jinjaReady as chatTemplatesReady } from './core/chat-template.js';
export { Engine, PlmError, Status } from './core/engine.js';
export { detectFeatures, chooseBuild } from './core/runtime.js';
export { registerSourceResolver, resolveSource, resolveHfUrl } from './core/source.js';
export { ModelCache } from './core/cache.js';
export { setModelWorkerFactory } from './core/remote.js';
export { setPlatform } from './core/platform.js';
