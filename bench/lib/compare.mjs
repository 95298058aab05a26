// compare.mjs — the one comparison mechanism of bench/gpt_bench.mjs, bert_bench.mjs, ops_bench.mjs.
//
//   --baseline DIR   also run the wasm builds of DIR (another dist/, e.g. a copy of main's build)
//   --builds a,b     build families to compare: scalar, simd, relaxed (the -mt twin is used for threads > 1)
//
// Both may be given (every family from dist/ and from DIR). Each variant is run right after the
// other in the same process, rounds repeated, the best of N kept; the first variant is the
// reference of the printed ratios. `--base` is accepted as an old spelling of `--baseline`,
// `--build` of `--builds`; `--x v` and `--x=v` both work.

import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The value of option --name in argv (`--name v` or `--name=v`), true for a bare flag, else def. */
export function getOpt(argv, name, def) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === `--${name}`) return i + 1 < argv.length && !argv[i + 1].startsWith('--') ? argv[i + 1] : true;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return def;
}

/** The build to load for a family at a thread count ('simd' + 2 threads -> 'simd-mt'). */
export function buildFor(family, threads) {
  if (!family) return undefined;
  return family === 'scalar' || threads <= 1 ? family : `${family}-mt`;
}

/**
 * The variants to compare: [{ label, family, wasmBaseUrl }], reference first.
 * With neither option: one variant (dist/, the build the runtime chooses).
 */
export function parseCompare(argv, { defaultBuilds = [] } = {}) {
  const b = getOpt(argv, 'baseline', getOpt(argv, 'base', null));
  const baseline = typeof b === 'string' ? b : null;
  const bl = getOpt(argv, 'builds', getOpt(argv, 'build', null));
  const families = typeof bl === 'string' ? bl.split(',').filter(Boolean) : defaultBuilds;
  const fams = families.length ? families : [undefined];
  const variants = [];
  const baseUrl = baseline && pathToFileURL(resolve(baseline) + '/');
  for (const family of fams) {
    if (baseUrl) variants.push({ label: `base${family ? ' ' + family : ''}`, family, wasmBaseUrl: baseUrl });
    variants.push({ label: family ?? (baseUrl ? 'new' : 'dist'), family, wasmBaseUrl: undefined });
  }
  return { baseline, families, variants, active: variants.length > 1 };
}

/** Engine / load options of a variant at a thread count ({ threads, build?, wasmBaseUrl? }). */
export function engineOptions(variant, threads) {
  const o = { threads };
  const build = buildFor(variant.family, threads);
  if (build) o.build = build;
  if (variant.wasmBaseUrl) o.wasmBaseUrl = variant.wasmBaseUrl;
  return o;
}

/**
 * Run measure(variant) for every variant, interleaved, `rounds` times; keep per variant the best
 * result by `better(a, b) -> the better one` (default: fields merged, higher numbers kept for
 * names ending in Tps/rate, lower for cpu/wall/ms).
 */
export async function interleaved(variants, rounds, measure, better = bestOf) {
  const best = variants.map(() => null);
  for (let r = 0; r < rounds; r++)
    for (let i = 0; i < variants.length; i++) {
      const x = await measure(variants[i], r);
      best[i] = best[i] ? better(best[i], x) : x;
    }
  return best;
}

const LOWER = /(^|[A-Z_])(ms|wall|cpu|time)$/i;
export function bestOf(a, b) {
  const o = { ...a };
  for (const [k, v] of Object.entries(b))
    if (typeof v === 'number' && typeof a[k] === 'number') o[k] = LOWER.test(k) ? Math.min(a[k], v) : Math.max(a[k], v);
  return o;
}

export const ratio = (x, ref) => `${(x / ref).toFixed(2)}x`;
export const loadLine = () => `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`;
