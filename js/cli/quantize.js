// plm-wasm quantize in.gguf out.gguf --type Q8_0|Q4_0: re-quantize a GGUF file.
import { quantize } from '../convert/quantize.js';
import { progressLine, oneOf } from './progress.js';

export const summary = 'quantize a GGUF file (F32/F16 -> Q8_0 or Q4_0) with llama.cpp per-tensor types';
export const usage = '<in.gguf> <out.gguf> --type Q8_0|Q4_0 [options]';
export const positionals = 2;
export const options = {
  type: { type: 'string', short: 't', arg: 'type', parse: oneOf(['Q8_0', 'Q4_0', 'F16', 'BF16', 'F32']), help: 'Q8_0 or Q4_0 (also F16, BF16, F32)' },
  'allow-requantize': { type: 'boolean', help: 're-quantize tensors that are already quantized' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress output' },
};

export async function run({ positionals: [input, output], values: v }) {
  if (!v.type) throw new Error('quantize: --type is required (Q8_0 or Q4_0)');
  const res = await quantize(input, output, { type: v.type, allowRequantize: !!v['allow-requantize'], onProgress: progressLine(v.quiet) });
  if (!v.quiet) console.error(`${output}: ${res.type}, ${res.tensors.length} tensors, ${res.bytes.toLocaleString('en-US')} bytes`);
  return 0;
}
