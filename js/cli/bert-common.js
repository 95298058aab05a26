// Shared by the BERT commands (embed, similarity, fill-mask, classify).
import { BERT } from '../node.js';
import { engineOptions } from './args.js';

export const bertOptions = {
  truncate: { type: 'boolean', help: "cut texts longer than the model's context instead of failing" },
  ...engineOptions,
};

/** Load, run fn(bert), dispose. */
export async function withBERT(path, values, fn) {
  const bert = await BERT.load(path, { threads: values.threads });
  try {
    return await fn(bert);
  } finally {
    bert.dispose();
  }
}

/** "[0.0123, -0.4567, ... ]" with the first n values. */
export function vectorSummary(v, n = 6) {
  const head = Array.from(v.subarray(0, n), (x) => x.toFixed(4)).join(', ');
  return `[${head}${v.length > n ? ', ...' : ''}]`;
}
