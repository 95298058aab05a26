// Shared helpers of the node --test suites.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIX = join(ROOT, 'tests', 'fixtures');
export const fixture = (...p) => join(FIX, ...p);

export const readJSON = (path) => JSON.parse(readFileSync(path, 'utf8'));
export const readJSONL = (path) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

export const FILE_TYPES = ['F32', 'F16', 'Q8_0', 'Q4_0'];

/**
 * Causal LM fixtures with the tolerances of tests/native/test_models.c (max abs logit
 * difference vs the goldens of the same file type; see the comment there for why).
 */
export const GPT_FIXTURES = [
  { name: 'gpt2', dir: 'gpt2', file: (t) => `gpt2-tiny-${t}.gguf`, tol: { F32: 1e-4, F16: 1e-3, Q8_0: 0.1, Q4_0: 0.1 } },
  { name: 'stories260K', dir: 'llama/stories260K', file: (t) => `stories260K-${t}.gguf`, tol: { F32: 2e-4, F16: 1e-3, Q8_0: 3.0, Q4_0: 3.0 } },
  { name: 'tiny-random-gqa', dir: 'llama/tiny-random-gqa', file: (t) => `llama-tiny-gqa-${t}.gguf`, tol: { F32: 1e-4, F16: 1e-3, Q8_0: 0.3, Q4_0: 0.3 } },
];
export const ggufPath = (f, t) => fixture(f.dir, f.file(t));

export function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** argmax (lowest index on ties) and the gap to the runner-up. */
export function top2(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  let second = -Infinity;
  for (let i = 0; i < row.length; i++) if (i !== best && row[i] > second) second = row[i];
  return { id: best, margin: row[best] - second };
}

/** Number of leading golden greedy steps that must match: safe_prefix_len, cut where the margin <= 2 * tol. */
export function safeSteps(g, type, tol) {
  let safe = g.safe_prefix_len[type];
  const m = g.top1_top2_margins[type];
  for (let i = 0; i < safe; i++)
    if (m[i] <= 2 * tol) {
      safe = i;
      break;
    }
  return safe;
}

/** Collect a generation: tokens, texts, and the thrown error if any. */
export async function collect(iter) {
  const tokens = [];
  const texts = [];
  for await (const { token, text } of iter) {
    tokens.push(token);
    texts.push(text);
  }
  return { tokens, texts, text: texts.join('') };
}
