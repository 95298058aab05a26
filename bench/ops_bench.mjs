// ops_bench.mjs — matmul kernel microbenchmarks on the dist/ WebAssembly builds.
//
//   node bench/ops_bench.mjs [--quick] [--full] [--wall] [--builds=simd,scalar,mt] [--types=f32,f16,q8_0,q4_0] (also q4_K,q5_K,q6_K,q4_1,q5_0,q5_1)
//                            [--m=1,128] [--shapes=768x768,3072x768]
//   node bench/ops_bench.mjs --baseline=DIR [--builds=simd,relaxed] [--file=plm-simd.wasm] [--ms=1,128,512] [--types=...] [--lmhead]
//   node bench/ops_bench.mjs --builds=simd,relaxed [--ms=1,128]
//
// Comparison (bench/lib/compare.mjs, shared with gpt_bench / bert_bench): --baseline DIR (the
// same module files from DIR, e.g. a build of main) and/or --builds with two or more of
// scalar, simd, relaxed: every variant timed interleaved per case in this process, best of 3
// rounds, GFLOP/s of each and the ratio to the first variant (the baseline's when given).
//
// Instantiates dist/plm-simd.wasm, dist/plm.wasm and dist/plm-simd-mt.wasm
// directly (standalone modules; the mt build gets a shared memory and
// worker_threads running plm_thread_worker), times op_matmul through the
// plm_bench_* hooks for GPT-2-small shapes at F32/F16/Q8_0/Q4_0, m = 1 (decode,
// matrix x vector) and m = 128 (prefill), and prints GFLOP/s and the GB/s of
// weights streamed next to a plain SIMD memory-read loop (sum of a large i32
// array) measured in the same process. Single-thread rates are per CPU-second
// of the process by default (robust on a shared machine; --wall for wall clock).
// Prints numbers only; asserts nothing.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import '../js/cli/relaxed.js';
import { parseCompare, interleaved, loadLine } from './lib/compare.mjs';

const args = new Map(process.argv.slice(2).map((a) => { const [k, v] = a.replace(/^--/, '').split('='); return [k, v ?? true]; }));
const quick = args.has('quick');
const full = args.has('full');
const builds = (args.get('builds') ?? 'simd,scalar,mt').split(',');
const TYPES = { f32: 0, f16: 1, q8_0: 8, q4_0: 2, q4_1: 3, q5_0: 6, q5_1: 7, q4_K: 12, q5_K: 13, q6_K: 14 };
const types = (args.get('types') ?? 'f32,f16,q8_0,q4_0').split(',');
const dist = new URL('../dist/', import.meta.url);
const CMP = parseCompare(process.argv.slice(2));
const FILE = { scalar: 'plm.wasm', simd: 'plm-simd.wasm', relaxed: 'plm-relaxed.wasm' };
const M_LIST = String(args.get('m') ?? '1,128').split(',').map(Number);

// GPT-2 small: attn q/k/v/o (768x768), ffn up (3072x768), ffn down (768x3072), lm head (50257x768); n x k.
const SHAPES = args.has('shapes') ? String(args.get('shapes')).split(',').map((t) => t.split('x').map(Number))
  : [[768, 768], [3072, 768], [768, 3072], [50257, 768]];

// ------------------------------------------------------------------ loader
function stubImports(module, memory) {
  const imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    imports[imp.module] ??= {};
    if (imp.kind === 'memory') imports[imp.module][imp.name] = memory;
    else if (imp.kind === 'function') imports[imp.module][imp.name] = imp.name === 'fd_write' ? fdWrite(() => memory) : () => 0;
  }
  return imports;
}

function fdWrite(getMemory) {
  return (fd, iov, iovcnt, pnum) => {
    const mem = getMemory(); const dv = new DataView(mem.buffer); let n = 0; let s = '';
    for (let i = 0; i < iovcnt; i++) {
      const p = dv.getUint32(iov + 8 * i, true), len = dv.getUint32(iov + 8 * i + 4, true);
      s += Buffer.from(new Uint8Array(mem.buffer, p, len).slice()).toString(); n += len;
    }
    process.stderr.write(s); dv.setUint32(pnum, n, true); return 0;
  };
}

const WORKER_SRC = `
const { parentPort, workerData } = require('worker_threads');
const { module, memory, stackTop, index } = workerData;
const imports = {};
for (const imp of WebAssembly.Module.imports(module)) {
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = imp.kind === 'memory' ? memory : () => 0;
}
const inst = new WebAssembly.Instance(module, imports);
inst.exports.stackRestore(stackTop);
parentPort.postMessage('ready');
inst.exports.plm_thread_worker(index);
`;

async function load(file, { threads = 1, dir = dist } = {}) {
  const module = new WebAssembly.Module(fs.readFileSync(new URL(file, dir)));
  const shared = WebAssembly.Module.imports(module).some((i) => i.kind === 'memory');
  let memory = shared ? new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true }) : null;
  const imports = stubImports(module, { get buffer() { return memory.buffer; } });
  if (shared) imports.env.memory = memory;
  const inst = new WebAssembly.Instance(module, imports);
  memory ??= inst.exports.memory;
  inst.exports._initialize?.();
  const workers = [];
  for (let i = 1; i < threads; i++) {
    const STACK = 1 << 20;
    const stack = inst.exports.malloc(STACK);
    const w = new Worker(WORKER_SRC, { eval: true, workerData: { module, memory, stackTop: (stack + STACK) & ~15, index: i } });
    await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    w.unref();
    workers.push(w);
  }
  const fn = inst.exports;
  if (threads > 1) {
    while (fn.plm_threads_started() < threads - 1) await new Promise((r) => setTimeout(r, 1));
    fn.plm_threads_init(threads);
  }
  const errmsg = () => { const p = fn.plm_errmsg() >>> 0; const b = new Uint8Array(memory.buffer, p); return Buffer.from(b.subarray(0, b.indexOf(0))).toString(); };
  return { fn, memory, workers, errmsg, close: () => workers.forEach((w) => w.terminate()) };
}

// ------------------------------------------------------------------ timing
/** ms per call of run(iters): iters grows until one measurement takes >= minMs / REPS;
 * the best of REPS measurements is kept. Returns { wall, cpu }: wall-clock ms and
 * process CPU ms per call. On a shared, oversubscribed machine `cpu` (time this
 * process actually ran) is the better estimate of single-thread speed; with
 * worker threads only `wall` means anything. */
const REPS = quick ? 3 : 5;
function cpuMs() { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }
function timeIt(run, minMs = quick ? 150 : 400) {
  run(1); // warm-up (also grows scratch buffers)
  let iters = 1, dt;
  for (;;) {
    const t0 = performance.now(); run(iters); dt = performance.now() - t0;
    if (dt >= minMs / REPS || iters >= 1 << 16) break;
    iters = Math.min(1 << 16, Math.max(iters * 2, Math.ceil((iters * minMs) / REPS / Math.max(dt, 0.01))));
  }
  let wall = Infinity, cpu = Infinity;
  for (let r = 0; r < REPS; r++) {
    const c0 = cpuMs(), t0 = performance.now();
    run(iters);
    wall = Math.min(wall, (performance.now() - t0) / iters);
    cpu = Math.min(cpu, (cpuMs() - c0) / iters);
  }
  return { wall, cpu };
}

function memBandwidth(core) {
  const n = 32 << 20; // 128 MB of int32: far beyond any cache
  const p = core.fn.malloc(4 * n) >>> 0;
  if (!p) throw new Error('malloc failed for the memory baseline');
  new Int32Array(core.memory.buffer, p, n).fill(1);
  const t = timeIt((it) => core.fn.plm_bench_memsum(p, n, it), 300);
  core.fn.free(p);
  return { wall: (4 * n) / (t.wall * 1e6), cpu: (4 * n) / (t.cpu * 1e6) }; // GB/s
}

function benchMatmul(core, type, n, k, m) {
  const b = core.fn.plm_bench_matmul_new(TYPES[type], n, k, m);
  if (!b) throw new Error(`bench ${type} ${n}x${k} m=${m}: ${core.errmsg()}`);
  const bytes = core.fn.plm_bench_weight_bytes(b);
  const t = timeIt((it) => { if (core.fn.plm_bench_matmul_run(b, it) !== 0) throw new Error(core.errmsg()); });
  const checksum = core.fn.plm_bench_checksum(b);
  core.fn.plm_bench_free(b);
  const flops = 2 * n * k * m;
  const ms = useCpu ? t.cpu : t.wall;
  return { ms, wall: t.wall, cpu: t.cpu, gflops: flops / (ms * 1e6), gbs: bytes / (ms * 1e6), checksum };
}

let useCpu = !args.has('wall');
const pad = (s, w) => String(s).padStart(w);
function row(cols) { console.log(cols.map(([v, w]) => pad(v, w)).join(' ')); }

// ------------------------------------------------------------------ runs
async function singleBuild(label, file) {
  const core = await load(file);
  const base = null;
  const bwt = memBandwidth(core), bw = useCpu ? bwt.cpu : bwt.wall;
  console.log(`\n## ${label} (${file}) — memory-read baseline (i32 sum of 128 MB, SIMD in SIMD builds): ${bw.toFixed(2)} GB/s` +
    ` [${useCpu ? 'per CPU-second of this process' : 'wall clock'}; wall: ${bwt.wall.toFixed(2)} GB/s]`);
  row([['type', 5], ['n x k', 11], ['m', 4], ['ms/call', 9], ['GFLOP/s', 8], ['weights GB/s', 12], ['of baseline', 11],
    ...(base ? [['base GFLOP/s', 12], ['new/base', 8], ['same', 5]] : [])]);
  for (const type of types)
    for (const [n, k] of quick && !args.has('shapes') ? [SHAPES[1], SHAPES[3]] : SHAPES)
      for (const m of M_LIST) {
        if (m > 1 && label === 'scalar' && n * k > 3072 * 768 && !full) continue; // minutes per call otherwise
        const b = base ? benchMatmul(base, type, n, k, m) : null;
        const r = benchMatmul(core, type, n, k, m);
        row([[type, 5], [`${n}x${k}`, 11], [m, 4], [r.ms.toFixed(3), 9], [r.gflops.toFixed(2), 8], [r.gbs.toFixed(2), 12],
          [m === 1 ? `${((100 * r.gbs) / bw).toFixed(0)}%` : '', 11],
          ...(b ? [[b.gflops.toFixed(2), 12], [(b.ms / r.ms).toFixed(2) + 'x', 8], [b.checksum === r.checksum ? 'yes' : 'NO', 5]] : [])]);
      }
  core.close();
  base?.close();
}

async function threadScaling() {
  useCpu = false; // several threads: wall-clock time
  const core = await load('plm-simd-mt.wasm', { threads: 2 });
  console.log(`\n## simd-mt (plm-simd-mt.wasm): 1 vs 2 threads (${core.fn.plm_threads_started()} worker started)`);
  console.log('wall: wall-clock speedup (needs 2 idle cores); cpu est.: 2 x CPU-time(1T) / CPU-time(2T), the speedup');
  console.log('idle cores would give if the 2-thread run only adds its measured overhead (spinning, sync) to the work');
  const bw1 = memBandwidth(core);
  row([['type', 5], ['n x k', 11], ['m', 4], ['1T ms', 9], ['2T ms', 9], ['wall', 7], ['cpu est.', 8], ['2T GB/s', 8], ['2T GFLOP/s', 10], ['same output', 12]]);
  for (const type of types)
    for (const [n, k] of quick ? [SHAPES[1]] : [SHAPES[1], SHAPES[2], SHAPES[3]])
      for (const m of M_LIST) {
        core.fn.plm_threads_init(1);
        const a = benchMatmul(core, type, n, k, m);
        core.fn.plm_threads_init(2);
        const b = benchMatmul(core, type, n, k, m);
        row([[type, 5], [`${n}x${k}`, 11], [m, 4], [a.ms.toFixed(3), 9], [b.ms.toFixed(3), 9], [(a.ms / b.ms).toFixed(2) + 'x', 7],
          [((2 * a.cpu) / b.cpu).toFixed(2) + 'x', 8], [b.gbs.toFixed(2), 8], [b.gflops.toFixed(2), 10],
          [a.checksum === b.checksum ? 'yes' : `NO ${a.checksum} ${b.checksum}`, 12]]);
      }
  console.log(`(memory-read baseline in this module, 1 thread, wall clock: ${bw1.wall.toFixed(2)} GB/s)`);
  core.close();
}

/** --baseline DIR / --builds a,b: the variants' modules timed interleaved per case, best of 3 rounds. */
async function compareVariants() {
  const V = CMP.variants.map((v) => ({ ...v, file: args.get('file') ?? FILE[v.family ?? 'simd'] }));
  if (V.some((v) => !v.file)) throw new Error(`--builds: families are ${Object.keys(FILE).join(', ')}`);
  const ms = String(args.get('ms') ?? args.get('m') ?? '1,128,512').split(',').map(Number);
  const cores = [];
  for (const v of V) cores.push(await load(v.file, v.wasmBaseUrl ? { dir: v.wasmBaseUrl } : {}));
  console.log(`\n## ${V.map((v) => `${v.label} (${v.wasmBaseUrl ? v.wasmBaseUrl.pathname : 'dist/'}${v.file})`).join(' vs ')}` +
    ` (interleaved, best of 3 rounds; ${useCpu ? 'per CPU-second' : 'wall clock'}); ${loadLine()}`);
  row([['type', 5], ['n x k', 11], ['m', 4], ...V.map((v) => [`${v.label} GFLOP/s`, 14]), ...V.slice(1).map((v) => [`${v.label}/${V[0].label}`, 14]), ['same', 5]]);
  for (const type of types)
    for (const [n, k] of quick && !args.has('shapes') ? [SHAPES[1]] : args.has('lmhead') || args.has('shapes') ? SHAPES : SHAPES.slice(0, 3))
      for (const m of ms) {
        const res = await interleaved(V, 3, (v) => benchMatmul(cores[V.indexOf(v)], type, n, k, m), (a, b) => (b.ms < a.ms ? b : a));
        row([[type, 5], [`${n}x${k}`, 11], [m, 4], ...res.map((r) => [r.gflops.toFixed(2), 14]),
          ...res.slice(1).map((r) => [(res[0].ms / r.ms).toFixed(2) + 'x', 14]),
          [res.every((r) => r.checksum === res[0].checksum) ? 'yes' : 'NO', 5]]);
      }
  for (const c of cores) c.close();
}

console.log(`ops_bench: node ${process.version}, ${new Date().toISOString()}`);
if (CMP.baseline || (CMP.families.length > 1 && CMP.families.every((f) => FILE[f]))) {
  await compareVariants();
  process.exit(0);
}
if (builds.includes('relaxed')) await singleBuild('relaxed', 'plm-relaxed.wasm');
if (builds.includes('simd')) await singleBuild('simd', 'plm-simd.wasm');
if (builds.includes('scalar')) await singleBuild('scalar', 'plm.wasm');
if (builds.includes('mt')) await threadScaling();
process.exit(0);
