// plm-wasm fill-mask <model.gguf> "Paris is the [MASK] of France.": masked-LM predictions.
import { int } from './args.js';
import { bertOptions, withBERT } from './bert-common.js';

export const summary = 'predict the [MASK] tokens of a text (BERT with its masked-LM head)';
export const usage = '<model.gguf> "text with [MASK]" [options]';
export const positionals = 2;
export const options = {
  'top-k': { type: 'string', short: 'k', arg: 'k', parse: int(1, 1000), help: 'candidates per mask (default 5)' },
  json: { type: 'boolean', help: 'print the results as JSON' },
  ...bertOptions,
};

export async function run({ positionals: [model, text], values: v }) {
  return withBERT(model, v, async (bert) => {
    const res = await bert.fillMask(text, { topK: v['top-k'] ?? 5, truncate: v.truncate });
    if (v.json) {
      console.log(JSON.stringify(res, null, 2));
      return 0;
    }
    const perMask = Array.isArray(res[0]) ? res : [res];
    perMask.forEach((list, k) => {
      if (perMask.length > 1) console.log(`mask ${k + 1}:`);
      for (const r of list) console.log(`  ${r.score.toFixed(4)}  ${r.token.padEnd(16)} ${r.sequence}`);
    });
    return 0;
  });
}
