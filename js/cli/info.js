// plm-wasm info <model.gguf>: what plm_model_info reports (and, with --meta, all metadata).
import '../node.js';
import { ModelBase } from '../core/model.js';

export const summary = 'describe a GGUF model (architecture, sizes, tensor types, tokenizer)';
export const usage = '<model.gguf> [options]';
export const positionals = 1;
export const options = {
  meta: { type: 'boolean', help: 'also print all GGUF metadata' },
  'vocab-only': { type: 'boolean', help: 'skip binding and checking the tensors' },
  'max-elems': { type: 'string', arg: 'n', parse: (s) => Number.parseInt(s, 10), help: 'array elements shown with --meta (default 8)' },
};

export async function run({ positionals: [path], values: v }) {
  const model = new ModelBase(await ModelBase.open(path, { threads: 1 }, v['vocab-only'] ? ModelBase.VOCAB_ONLY : 0));
  try {
    const out = { ...model.info };
    if (v.meta) out.metadata = model.metadata(v['max-elems'] ?? 8);
    console.log(JSON.stringify(out, null, 2));
    return 0;
  } finally {
    model.dispose();
  }
}
