// plm-wasm embed <model.gguf> "text" ["text" ...]: sentence embeddings of a BERT model.
import { bertOptions, withBERT, vectorSummary } from './bert-common.js';
import { oneOf } from './progress.js';

export const summary = 'sentence embeddings of texts with a BERT GGUF model';
export const usage = '<model.gguf> "text" ["text" ...] [options]';
export const options = {
  pooling: { type: 'string', arg: 'mode', parse: (s, n) => oneOf(['MEAN', 'CLS', 'LAST'])(s, n).toLowerCase(), help: "mean, cls or last (default: the model file's, else mean)" },
  'no-normalize': { type: 'boolean', help: 'do not scale the vectors to unit length' },
  json: { type: 'boolean', help: 'print the full vectors as a JSON array of arrays' },
  ...bertOptions,
};

export async function run({ positionals: [model, ...texts], values: v }) {
  if (!model || texts.length === 0) throw new Error('embed: expected a model file and at least one text');
  return withBERT(model, v, async (bert) => {
    const vecs = await bert.embed(texts, { pooling: v.pooling, normalize: !v['no-normalize'], truncate: v.truncate });
    if (v.json) {
      console.log(JSON.stringify(vecs.map((x) => Array.from(x))));
      return 0;
    }
    vecs.forEach((x, i) => {
      const norm = Math.hypot(...x);
      const n = bert.tokenize(texts[i]).ids.length;
      console.log(`${JSON.stringify(texts[i]).slice(0, 60)}  (${n} tokens)\n  ${x.length} dims, norm ${norm.toFixed(4)}  ${vectorSummary(x)}`);
    });
    console.error(`pooling: ${v.pooling ?? bert.pooling ?? 'mean'}${v['no-normalize'] ? '' : ', normalized'}; ${bert.engine.build}, ${bert.engine.threads} thread${bert.engine.threads > 1 ? 's' : ''}`);
    return 0;
  });
}
