// logit-options.js — per-token extras of a generation that work on the logits row before
// and after sampling: logitBias ({ [tokenId]: bias }, -Infinity bans the token) and
// logprobs / topLogprobs (the chosen token's log-probability and the k best alternatives,
// from the log-softmax of the row the sampler saw, i.e. the model's logits + logitBias).

/** Checked { bias: [[id, b]...] | null, logprobs: bool, top: k } from generation options. */
export function logitOptions(o, nVocab) {
  let bias = null;
  if (o.logitBias != null) {
    if (typeof o.logitBias !== 'object') throw new TypeError('logitBias must be an object { [tokenId]: bias }');
    bias = [];
    for (const [k, v] of o.logitBias instanceof Map ? o.logitBias : Object.entries(o.logitBias)) {
      const id = Number(k);
      if (!Number.isInteger(id) || id < 0 || id >= nVocab) throw new RangeError(`logitBias: token id ${k} is not in [0, ${nVocab})`);
      if (typeof v !== 'number' || Number.isNaN(v) || v === Infinity) throw new RangeError(`logitBias[${k}] must be a finite number or -Infinity (got ${v})`);
      bias.push([id, v]);
    }
    if (bias.length === 0) bias = null;
  }
  const top = o.topLogprobs ?? 0;
  if (!Number.isInteger(top) || top < 0 || top > nVocab) throw new RangeError(`topLogprobs must be an integer in [0, ${nVocab}] (got ${o.topLogprobs})`);
  if (o.logprobs !== undefined && typeof o.logprobs !== 'boolean') throw new TypeError(`logprobs must be a boolean (got ${o.logprobs})`);
  return { bias, logprobs: !!o.logprobs || top > 0, top };
}

/** Add the biases to the logits row (in place). */
export function applyLogitBias(row, bias) {
  for (const [id, b] of bias) row[id] += b;
}

/** { token, logprob, topLogprobs: [{ token, logprob }] } of `id` in the row's log-softmax. */
export function tokenLogprobs(row, id, k) {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  const out = { token: id, logprob: row[id] - lse, topLogprobs: [] };
  if (k > 0) {
    // k best by a bounded insertion (k is small); ties: lower id first
    const best = [];
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (best.length === k && v <= best[k - 1][1]) continue;
      let j = best.length < k ? best.length : k - 1;
      if (best.length < k) best.push(null);
      while (j > 0 && best[j - 1][1] < v) {
        best[j] = best[j - 1];
        j--;
      }
      best[j] = [i, v];
    }
    out.topLogprobs = best.map(([t, v]) => ({ token: t, logprob: v - lse }));
  }
  return out;
}
