#!/usr/bin/env node
// fuzz.mjs — libFuzzer harnesses of tests/fuzz (issue 12), built with clang
// (-fsanitize=fuzzer,address,undefined) into build-fuzz/.
//
//   npm run fuzz -- --seconds N [harness ...]   fuzz each harness N seconds (default 60), one after the other
//   node scripts/fuzz.mjs --smoke               what npm test runs: 20 s per harness
//   --build-only                                compile (and replay the regression inputs) only
//
// Per harness: the regression inputs (tests/fuzz/regressions/<harness>/: crashes found
// earlier, kept once fixed) are replayed first; then libFuzzer runs over a corpus in
// build-fuzz/corpus/<harness> (kept between runs) seeded from tests/fixtures. A crash
// fails the run; its input is left in build-fuzz/artifacts/<harness>/ — fix the bug,
// then move the file to tests/fuzz/regressions/<harness>/. One fuzzing process at a time.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const opt = (f, def) => (args.includes(f) ? args[args.indexOf(f) + 1] : def);
const smoke = flag('--smoke');
const seconds = Number(opt('--seconds', smoke ? 20 : 60));
const out = join(root, 'build-fuzz');
const HARNESSES = {
  gguf_stream: { maxLen: 65536 },
  tokenizer: { maxLen: 4096 },
  model: { maxLen: 160000 },
};
const named = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--seconds'].includes(args[i - 1])));
const chosen = named.length ? named : Object.keys(HARNESSES);
for (const h of chosen) if (!HARNESSES[h]) fail(`unknown harness '${h}' (have: ${Object.keys(HARNESSES).join(', ')})`);
if (!(seconds > 0)) fail('--seconds must be a positive number');

function fail(msg) {
  console.error(`fuzz: ${msg}`);
  process.exit(1);
}

function findClang() {
  for (const c of ['clang', 'clang-19', 'clang-16', 'clang-15', 'clang-14']) {
    if (spawnSync('sh', ['-c', `command -v ${c}`]).status === 0) return c;
  }
  fail('clang is missing: apt-get install -y clang libclang-rt-14-dev (libFuzzer)');
}

const CC = findClang();
const SAN = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer'];
const CFLAGS = ['-std=c11', '-g', '-O1', '-ffp-contract=off', '-D_POSIX_C_SOURCE=200809L', '-Isrc', '-Itests/native', '-Wno-unused-command-line-argument'];

function sh(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) fail(`${cmd} ${argv.slice(0, 3).join(' ')} ... failed (exit ${r.status ?? r.signal})`);
  return r;
}

// ------------------------------------------------------------------- build
// The numeric kernels (ops*.c, quant.c: float loops, no parsing logic) keep ASan + UBSan and
// edge coverage but not comparison tracing: trace-cmp on every loop bound and float compare of a
// forward pass made the model harness ~4x slower and guides nothing there (tests/fuzz/README.md, speed).
const KERNEL = /^(ops.*|quant)\.c$/;
const NO_CMP = ['-fno-sanitize-coverage=trace-cmp'];
function objFlags(f) {
  return [...CFLAGS, ...SAN, '-fsanitize=fuzzer-no-link', ...(KERNEL.test(f) ? NO_CMP : [])];
}

function build() {
  const objDir = join(out, 'obj');
  mkdirSync(objDir, { recursive: true });
  const srcDir = join(root, 'src');
  const headers = readdirSync(srcDir).filter((f) => f.endsWith('.h')).map((f) => statSync(join(srcDir, f)).mtimeMs);
  const newestHeader = Math.max(...headers);
  // flags stamp: an object compiled with other flags (compiler, options) is rebuilt
  const stampFile = join(objDir, 'flags.json');
  let stamp = {};
  try { stamp = JSON.parse(readFileSync(stampFile, 'utf8')); } catch {}
  const objs = [];
  for (const f of readdirSync(srcDir).filter((f) => f.endsWith('.c')).sort()) {
    const src = join(srcDir, f), obj = join(objDir, f.replace(/\.c$/, '.o'));
    const flags = objFlags(f), key = [CC, ...flags].join(' ');
    objs.push(obj);
    if (stamp[f] === key && existsSync(obj) && statSync(obj).mtimeMs > Math.max(statSync(src).mtimeMs, newestHeader)) continue;
    delete stamp[f];
    writeFileSync(stampFile, JSON.stringify(stamp, null, 1));
    sh(CC, [...flags, '-c', src, '-o', obj]);
    stamp[f] = key;
  }
  writeFileSync(stampFile, JSON.stringify(stamp, null, 1));
  for (const h of chosen) {
    const src = join(root, 'tests', 'fuzz', `fuzz_${h}.c`);
    sh(CC, [...CFLAGS, ...SAN, '-fsanitize=fuzzer', src, ...objs, '-lm', '-lpthread', '-o', join(out, `fuzz_${h}`)]);
  }
}

// ------------------------------------------------------------------- seeds
function files(dir, re) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), re) : re.test(e.name) ? [join(dir, e.name)] : []);
}

function seeds(h) {
  const dir = join(out, 'seeds', h);
  mkdirSync(dir, { recursive: true });
  const fx = join(root, 'tests', 'fixtures');
  const small = files(fx, /\.gguf$/).filter((f) => statSync(f).size <= HARNESSES[h].maxLen - 8);
  let n = 0;
  const put = (name, bytes) => { writeFileSync(join(dir, name), bytes); n++; };
  if (h === 'gguf_stream') {
    for (const f of small) {
      const data = readFileSync(f);
      for (const [i, flags] of [[1, 1 | 8], [7, 16], [3, 2], [11, 1 | 4]]) {
        const ctl = Buffer.alloc(8);
        ctl.writeUInt32LE(0x9e3779b9 * i >>> 0, 0);
        ctl[4] = flags;
        put(`${basename(f)}.${flags}`, Buffer.concat([ctl, data]));
      }
    }
  } else if (h === 'model') {
    for (const f of small) put(basename(f), readFileSync(f));
  } else if (h === 'tokenizer') {
    const texts = new Set();
    for (const f of files(join(fx, 'tokenizers'), /\.jsonl$/)) {
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        try {
          const t = JSON.parse(line).text;
          if (typeof t === 'string' && t.length < 2000) texts.add(t);
        } catch {}
      }
    }
    let i = 0;
    for (const t of texts) {
      const ctl = (i * 37) & 0xff; // spread over vocabularies and flags
      put(`t${i++}`, Buffer.concat([Buffer.from([ctl]), Buffer.from(t, 'utf8')]));
    }
  }
  return { dir, n };
}

// -------------------------------------------------------------------- run
function runFuzzer(h) {
  return new Promise((resolve) => {
    const bin = join(out, `fuzz_${h}`);
    const corpus = join(out, 'corpus', h), artifacts = join(out, 'artifacts', h) + '/';
    const regress = join(root, 'tests', 'fuzz', 'regressions', h);
    mkdirSync(corpus, { recursive: true });
    mkdirSync(artifacts, { recursive: true });
    // 1. the regression inputs, each once
    const kept = files(regress, /./);
    if (kept.length) {
      const r = spawnSync(bin, ['-runs=1', ...kept], { cwd: root, encoding: 'utf8', env: { ...process.env, PLM_ROOT: root } });
      if (r.status !== 0) {
        process.stderr.write(r.stderr.slice(-4000));
        return resolve({ h, crashed: true, what: 'a regression input crashes again' });
      }
    }
    // 2. fuzz
    const { dir: seedDir, n: nSeeds } = seeds(h);
    const argv = [corpus, seedDir, ...(kept.length ? [regress] : []), `-max_total_time=${seconds}`, `-max_len=${HARNESSES[h].maxLen}`,
      '-rss_limit_mb=2560', '-timeout=30', `-artifact_prefix=${artifacts}`, '-print_final_stats=1', '-close_fd_mask=1'];
    const p = spawn(bin, argv, { cwd: root, env: { ...process.env, PLM_ROOT: root } });
    let log = '';
    p.stderr.on('data', (d) => {
      log += d;
      if (log.length > 1 << 20) log = log.slice(-(1 << 19));
    });
    p.on('close', (code) => {
      const last = [...log.matchAll(/#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)/g)].pop();
      const execs = /stat::number_of_executed_units:\s*(\d+)/.exec(log)?.[1] ?? last?.[1];
      const res = { h, seconds, seeds: nSeeds, execs: Number(execs ?? 0), cov: Number(last?.[2] ?? 0), ft: Number(last?.[3] ?? 0),
        corpus: Number(last?.[4] ?? 0), crashed: code !== 0 };
      if (res.crashed) {
        process.stderr.write(log.slice(-6000));
        res.what = `exit ${code}; input in ${artifacts} (fix, then move it to tests/fuzz/regressions/${h}/)`;
      }
      resolve(res);
    });
  });
}

build();
const results = [];
for (const h of chosen) {
  if (flag('--build-only')) {
    const kept = files(join(root, 'tests', 'fuzz', 'regressions', h), /./);
    if (kept.length) sh(join(out, `fuzz_${h}`), ['-runs=1', ...kept], { env: { ...process.env, PLM_ROOT: root } });
    continue;
  }
  console.error(`fuzz: ${h} for ${seconds} s ...`);
  const r = await runFuzzer(h);
  results.push(r);
  console.error(r.crashed ? `fuzz: ${h}: CRASH: ${r.what}`
    : `fuzz: ${h}: ${r.execs} executions in ${seconds} s (${Math.round(r.execs / seconds)}/s), cov ${r.cov} edges, ft ${r.ft} features, corpus ${r.corpus}, 0 crashes`);
}
if (results.some((r) => r.crashed)) process.exit(1);
