// plm-wasm classify <model.gguf> "text" ["text" ...]: sequence classification labels.
import { int } from './args.js';
import { bertOptions, withBERT } from './bert-common.js';

export const summary = 'classify texts (BERT with a sequence-classification head)';
export const usage = '<model.gguf> "text" ["text" ...] [options]';
export const options = {
  'top-k': { type: 'string', short: 'k', arg: 'k', parse: int(1, 1 << 20), help: 'labels shown per text (default all)' },
  json: { type: 'boolean', help: 'print the results as JSON' },
  ...bertOptions,
};

export async function run({ positionals: [model, ...texts], values: v }) {
  if (!model || texts.length === 0) throw new Error('classify: expected a model file and at least one text');
  return withBERT(model, v, async (bert) => {
    const k = v['top-k'] === undefined ? undefined : Math.min(v['top-k'], bert.labels.length);
    const res = await bert.classify(texts, { topK: k, truncate: v.truncate });
    if (v.json) {
      console.log(JSON.stringify(res, null, 2));
      return 0;
    }
    res.forEach((list, i) => {
      console.log(JSON.stringify(texts[i]).slice(0, 70));
      for (const r of list) console.log(`  ${r.score.toFixed(4)}  ${r.label}`);
    });
    return 0;
  });
}
