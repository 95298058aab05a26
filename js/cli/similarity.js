// plm-wasm similarity <model.gguf> "a" "b" ["c" ...]: cosine similarity of sentence embeddings.
import { bertOptions, withBERT } from './bert-common.js';

export const summary = 'cosine similarity of texts (BERT sentence embeddings)';
export const usage = '<model.gguf> "text a" "text b" ["text c" ...] [options]';
export const options = {
  json: { type: 'boolean', help: 'print the similarity matrix as JSON' },
  ...bertOptions,
};

export async function run({ positionals: [model, ...texts], values: v }) {
  if (!model || texts.length < 2) throw new Error('similarity: expected a model file and at least two texts');
  return withBERT(model, v, async (bert) => {
    const vecs = await bert.embed(texts, { truncate: v.truncate });
    const sim = vecs.map((a) => vecs.map((b) => bert.similarity(a, b)));
    if (v.json) console.log(JSON.stringify(sim));
    else if (texts.length === 2) console.log(sim[0][1].toFixed(6));
    else {
      // first text against the others, best first
      const rows = texts.slice(1).map((t, i) => ({ t, s: sim[0][i + 1] })).sort((a, b) => b.s - a.s);
      console.log(`similarity to ${JSON.stringify(texts[0])}:`);
      for (const { t, s } of rows) console.log(`  ${s.toFixed(6)}  ${JSON.stringify(t)}`);
    }
    return 0;
  });
}
