#!/usr/bin/env node
// sha256_bench.mjs — throughput of the incremental SHA-256 used by the `integrity` load option
// (js/core/sha256.js, what browsers run) against node:crypto (what Node runs), interleaved in one
// process, in CPU time (the machine may be shared): MB/s and the ratio.
//   node bench/sha256_bench.mjs [--mb 64] [--rounds 3] [--chunk 1048576]
import { createHash, randomBytes } from 'node:crypto';
import { Sha256 } from '../js/core/sha256.js';

const args = process.argv.slice(2);
const opt = (f, d) => (args.includes(f) ? Number(args[args.indexOf(f) + 1]) : d);
const MB = opt('--mb', 64), ROUNDS = opt('--rounds', 3), CHUNK = opt('--chunk', 1 << 20);
const data = new Uint8Array(randomBytes(MB << 20)); // (a plain Uint8Array, as fetch gives)
const cpu = (f) => {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1e6;
};
const feed = (h) => {
  for (let o = 0; o < data.length; o += CHUNK) h.update(data.subarray(o, o + CHUNK));
  return h.digest();
};
const best = { js: Infinity, node: Infinity };
for (let r = 0; r < ROUNDS; r++) {
  best.js = Math.min(best.js, cpu(() => feed(new Sha256())));
  best.node = Math.min(best.node, cpu(() => feed(createHash('sha256'))));
}
const rate = (s) => (MB / s).toFixed(0);
console.log(`sha256 over ${MB} MB in ${CHUNK}-byte chunks, best of ${ROUNDS} (CPU time):`);
console.log(`  js/core/sha256.js  ${rate(best.js)} MB/s`);
console.log(`  node:crypto        ${rate(best.node)} MB/s`);
console.log(`  ratio js / native  ${(best.node / best.js).toFixed(3)}`);
