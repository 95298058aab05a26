// plm-wasm inspect model.gguf: metadata, tensor table, parameter count, memory estimate.
import { inspectGGUF, formatInspection } from '../convert/inspect.js';
import { int } from './args.js';

export const summary = 'print a GGUF file: metadata, tensors, parameter count, memory estimate';
export const usage = '<model.gguf> [options]';
export const positionals = 1;
export const options = {
  ctx: { type: 'string', short: 'c', arg: 'n', parse: int(1, 1 << 24), help: "context length for the memory estimate (default: the model's)" },
  'max-elems': { type: 'string', arg: 'n', parse: int(1, 1 << 30), help: 'array elements shown per key (default 8)' },
  json: { type: 'boolean', help: 'print JSON' },
};

export async function run({ positionals: [file], values: v }) {
  const info = inspectGGUF(file, { nCtx: v.ctx, maxElems: v['max-elems'] ?? 8 });
  console.log(v.json ? JSON.stringify(info, null, 2) : formatInspection(info));
  return 0;
}
