// plm-wasm convert <hf-folder> -o model.gguf: Hugging Face folder -> GGUF (no Python).
import { convert } from '../convert/convert.js';
import { progressLine, oneOf } from './progress.js';

export const summary = 'convert a Hugging Face folder (config.json, *.safetensors, tokenizer) to GGUF';
export const usage = '<hf-folder> -o <model.gguf> [options]';
export const positionals = 1;
export const options = {
  output: { type: 'string', short: 'o', arg: 'file', help: 'output GGUF file (required)' },
  type: { type: 'string', short: 't', arg: 'type', parse: oneOf(['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0']), help: 'F32, F16 (default), BF16, Q8_0 or Q4_0' },
  name: { type: 'string', arg: 'name', help: 'general.name (default: the folder name)' },
  'no-heads': { type: 'boolean', help: "BERT: leave out the pooler, masked-LM and classifier heads (= llama.cpp's converter)" },
  'tokenizer-pre': { type: 'string', arg: 'name', help: 'llama.cpp pre-tokenizer name for a BPE tokenizer that is not recognised' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress output' },
};

export async function run({ positionals: [dir], values: v }) {
  if (!v.output) throw new Error('convert: the output file is required (-o model.gguf)');
  const res = await convert(dir, v.output, {
    type: v.type ?? 'F16',
    name: v.name,
    heads: v['no-heads'] ? 'none' : 'all',
    tokenizerPre: v['tokenizer-pre'],
    onProgress: progressLine(v.quiet),
  });
  for (const w of res.warnings) console.error(`warning: ${w}`);
  if (!v.quiet) {
    console.error(`${res.path}: ${res.arch} ${res.type}, ${res.tensors.length} tensors, ${res.nParams.toLocaleString('en-US')} parameters, ${res.bytes.toLocaleString('en-US')} bytes`);
  }
  return 0;
}
