#!/usr/bin/env node
// build.mjs — build and test driver (npm run build / npm test / npm run demo).
//
//   node scripts/build.mjs            native build (ASan+UBSan, for the C tests) + wasm build -> dist/*.wasm
//   node scripts/build.mjs --test     build, then every test: ctest native, ctest wasm, node --test tests/js
//   node scripts/build.mjs --demo     build, then run the shipped models (story, fill-mask, T5 task)
//   node scripts/build.mjs --serve    build, then serve the demo page (scripts/serve.mjs) and print its URL
//   --setup      first install missing system tools with apt-get (Debian 12, as root)
//   --wasm-only / --native-only, --jobs N (default 2)

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RELAXED_PROBE } from '../js/core/runtime.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const jobsArg = args.indexOf('--jobs');
const jobs = jobsArg >= 0 ? Number(args[jobsArg + 1]) : Math.min(2, cpus().length);

const env = { ...process.env, NODE_PATH: process.env.NODE_PATH || '/usr/share/nodejs' };

function run(cmd, argv, opts = {}) {
  console.error(`\n$ ${[cmd, ...argv].join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: root, env, stdio: 'inherit', ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    console.error(`\n${cmd} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// System tools: Debian 12 package that provides each.
const TOOLS = [
  ['cmake', 'cmake'],
  ['make', 'make'],
  ['gcc', 'gcc'],
  ['emcmake', 'emscripten'],
];
// Only for npm test: headless Chromium and Firefox ESR (browser tests); clang + libFuzzer (the fuzz smoke run).
const TEST_TOOLS = [['chromium', 'chromium'], ['firefox-esr', 'firefox-esr'], ['clang', 'clang']];
// The relaxed-SIMD builds (cmake/relaxed.cmake; skipped with a warning when missing): clang-19 and
// wasm-ld-19; their C test programs also need wasi-libc and clang-19's wasm32 compiler-rt.
const RELAXED_TOOLS = [
  ['clang-19', 'clang-19'],
  ['wasm-ld-19', 'lld-19'],
];
const RELAXED_FILES = [
  ['/usr/lib/wasm32-wasi/libc.a', 'wasi-libc'],
  ['/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a', 'libclang-rt-19-dev-wasm32'],
];

function setup() {
  const tools = flag('--test') ? [...TOOLS, ...RELAXED_TOOLS, ...TEST_TOOLS] : [...TOOLS, ...RELAXED_TOOLS];
  const missing = tools.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
  if (!existsSync('/usr/include/stdio.h')) missing.push('libc6-dev');
  // libFuzzer's runtime (clang only recommends it)
  if (flag('--test') && spawnSync('sh', ['-c', 'ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a'], { stdio: 'ignore' }).status !== 0)
    missing.push('libclang-rt-14-dev');
  for (const [file, pkg] of RELAXED_FILES) if (!existsSync(file)) missing.push(pkg);
  if (missing.length) installPackages(missing);
  // devDependencies (typescript, for the type-check test; the browser drivers)
  if (!['typescript', 'puppeteer-core'].every((d) => existsSync(join(root, 'node_modules', d)))) run('npm', ['ci', '--no-audit', '--no-fund']);
}

function installPackages(missing) {
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    console.error(`missing tools; install them with:\n  apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  run('apt-get', ['update'], { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
  run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function checkTools(needed) {
  const missing = TOOLS.filter(([cmd]) => needed.includes(cmd) && !has(cmd));
  if (missing.length) {
    console.error(`missing: ${missing.map(([c]) => c).join(', ')}; run with --setup (as root on Debian) or: apt-get install -y ${missing.map(([, p]) => p).join(' ')}`);
    process.exit(1);
  }
}

function buildNative() {
  checkTools(['cmake', 'gcc']);
  run('cmake', ['-S', '.', '-B', 'build', '-DPLM_SANITIZE=ON']);
  run('cmake', ['--build', 'build', '-j', String(jobs)]);
}

function buildWasm() {
  checkTools(['cmake', 'emcmake']);
  // configure once (emcmake is slow to start); later builds re-run cmake automatically when needed
  if (!existsSync(join(root, 'build-wasm', 'CMakeCache.txt'))) run('emcmake', ['cmake', '-S', '.', '-B', 'build-wasm']);
  else if (RELAXED_TOOLS.every(([cmd]) => has(cmd)) && !existsSync(join(root, 'dist', 'plm-relaxed.wasm')))
    run('cmake', ['build-wasm']); // clang-19 installed since the first configure: find it
  run('cmake', ['--build', 'build-wasm', '-j', String(jobs)]);
}

function testFiles(sub) {
  const dir = join(root, 'tests', sub);
  return existsSync(dir) ? readdirSync(dir).filter((f) => /\.test\.m?js$/.test(f)).sort().map((f) => join('tests', sub, f)) : [];
}

function testAll({ native, wasm }) {
  if (native) run('ctest', ['--test-dir', 'build', '--output-on-failure', '-j', String(jobs)]);
  // fuzz smoke run: the libFuzzer harnesses build, replay their kept crash inputs and
  // survive 20 s each (scripts/fuzz.mjs; longer runs: npm run fuzz -- --seconds N)
  if (native) run(process.execPath, ['scripts/fuzz.mjs', '--smoke']);
  if (wasm) {
    run('ctest', ['--test-dir', 'build-wasm', '--output-on-failure']);
    // Node tests, headless browser tests (tests/browser: Debian's chromium + playwright-core,
    // Debian's firefox-esr + puppeteer-core),
    // and the npm package test (tests/package: pack, install, Node + a Vite-built page)
    const files = [...testFiles('js'), ...testFiles('package')];
    // every test must run: a missing browser, bundler or relaxed-SIMD build fails instead of skipping.
    // Node 20 runs relaxed SIMD behind a flag (on by default from Node 22); the test processes inherit it.
    const relaxedFlag = WebAssembly.validate(RELAXED_PROBE) ? [] : ['--experimental-wasm-relaxed-simd'];
    const testEnv = { env: { ...env, PLM_REQUIRE_BROWSER: '1', PLM_REQUIRE_RELAXED: '1' } };
    const nodeTest = (f) => [...relaxedFlag, '--test', '--test-reporter=spec', '--test-concurrency=1', ...f];
    if (files.length) run(process.execPath, nodeTest(files), testEnv);
    // headless browsers, a file at a time (each starts its own browsers and servers)
    for (const f of testFiles('browser')) run(process.execPath, nodeTest([f]), testEnv);
  }
}

const native = !flag('--wasm-only');
const wasm = !flag('--native-only');
if (flag('--setup')) setup();
if (native) buildNative();
if (wasm) buildWasm();
if (flag('--test')) testAll({ native, wasm });
if (flag('--serve')) {
  const pass = [];
  for (const [i, a] of args.entries()) {
    if (a === '--no-isolation') pass.push(a);
    if ((a === '--port' || a === '--host') && args[i + 1]) pass.push(a, args[i + 1]);
  }
  run(process.execPath, ['scripts/serve.mjs', ...pass]);
}
if (flag('--demo')) {
  // the shipped models (models/README.md): a story, a fact, a text-to-text task
  run(process.execPath, ['js/cli.js', 'generate', 'models/gpt2-stories-F16.gguf', 'Once upon a time', '--max-tokens', '64', '--seed', '42']);
  run(process.execPath, ['js/cli.js', 'fill-mask', 'models/bert-facts-F16.gguf', 'The capital of France is [MASK].', '--top-k', '3']);
  run(process.execPath, ['js/cli.js', 't5', 'models/t5-tasks-F16.gguf', 'spell: 1234']);
  run(process.execPath, ['js/cli.js', 't5', 'models/t5-tasks-F16.gguf', 'date: 5 March 2021']);
}
