#!/usr/bin/env node
// fuzz_speed.mjs — executions per CPU-second of libFuzzer harness builds (scripts/fuzz.mjs,
// build-fuzz/fuzz_<harness>) compared on the same frozen corpus, the same seconds and the same
// -seed, runs interleaved A, B, A, B (the machine may be shared: CPU time, not wall time).
//   node bench/fuzz_speed.mjs --corpus DIR [--seconds 20] [--reps 2] [--harness model,...] NAME=BINDIR ...
// DIR/<harness>/ holds the corpus (copied to a scratch directory for every run, so each run starts
// from the same inputs); BINDIR/fuzz_<harness> are the builds (e.g. a copy of build-fuzz/ made
// before a change, then build-fuzz/ itself). The first NAME is the baseline of the ratios.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const opt = (f, d) => (args.includes(f) ? args[args.indexOf(f) + 1] : d);
const SECONDS = Number(opt('--seconds', 20)), REPS = Number(opt('--reps', 2));
const CORPUS = opt('--corpus');
const HARN = opt('--harness', 'gguf_stream,tokenizer,model').split(',');
const MAXLEN = { gguf_stream: 65536, tokenizer: 4096, model: 160000 };
const builds = args.filter((a) => /^[^-][^=]*=/.test(a)).map((a) => a.split('=')).map(([n, d]) => [n, resolve(d)]);
if (!CORPUS || builds.length < 1) {
  console.error('usage: node bench/fuzz_speed.mjs --corpus DIR [--seconds 20] [--reps 2] NAME=BINDIR ...');
  process.exit(1);
}
const root = resolve(import.meta.dirname, '..');

function once(bin, h) {
  const scratch = mkdtempSync(join(tmpdir(), `fuzzspeed-${h}-`));
  cpSync(join(CORPUS, h), scratch, { recursive: true });
  const r = spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', bin, scratch, `-max_total_time=${SECONDS}`, `-max_len=${MAXLEN[h]}`,
    '-seed=1', '-rss_limit_mb=2560', '-timeout=30', '-print_final_stats=1', '-close_fd_mask=1', `-artifact_prefix=${scratch}/`],
  { cwd: root, encoding: 'utf8', env: { ...process.env, PLM_ROOT: root }, maxBuffer: 1 << 28 });
  rmSync(scratch, { recursive: true, force: true });
  const execs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(r.stderr)?.[1]);
  const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
  const cov = [...r.stderr.matchAll(/cov: (\d+)/g)].pop()?.[1];
  if (r.status !== 0 || !execs || !cpu) throw new Error(`${bin}: exit ${r.status}\n${r.stderr.slice(-3000)}`);
  return { execs, cpu: Number(cpu[1]) + Number(cpu[2]), cov: Number(cov) };
}

console.log(`fuzz_speed: ${SECONDS} s per run, ${REPS} rep(s) interleaved, corpus ${CORPUS}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const h of HARN) {
  const acc = Object.fromEntries(builds.map(([n]) => [n, { execs: 0, cpu: 0, cov: 0 }]));
  for (let r = 0; r < REPS; r++) {
    for (const [n, dir] of builds) {
      const bin = join(dir, `fuzz_${h}`);
      if (!existsSync(bin)) throw new Error(`missing ${bin}`);
      const x = once(bin, h);
      acc[n].execs += x.execs;
      acc[n].cpu += x.cpu;
      acc[n].cov = Math.max(acc[n].cov, x.cov);
      console.log(`  ${h} ${n} rep ${r + 1}: ${x.execs} execs, ${x.cpu.toFixed(1)} CPU-s, ${(x.execs / x.cpu).toFixed(0)} exec/CPU-s, cov ${x.cov}`);
    }
  }
  const base = acc[builds[0][0]].execs / acc[builds[0][0]].cpu;
  for (const [n] of builds) {
    const rate = acc[n].execs / acc[n].cpu;
    console.log(`${h.padEnd(12)} ${n.padEnd(10)} ${rate.toFixed(0).padStart(6)} exec/CPU-s  x${(rate / base).toFixed(2)}  (cov ${acc[n].cov})`);
  }
}
console.log(`load after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
