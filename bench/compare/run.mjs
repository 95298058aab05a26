#!/usr/bin/env node
// run.mjs — drive web/bench.mjs in headless Chromium (playwright-core + the system
// chromium) or Firefox ESR (puppeteer-core over WebDriver BiDi, tests/browser/harness.mjs),
// one fresh browser per (engine, model, precision, threads), and append one JSON line per
// measurement to out/results.jsonl. report.mjs turns them into tables.
//
//   node bench/compare/run.mjs [--task gen|embed|t2t] [--models gpt2-small,llama-110m]
//        [--engines plm,plm-simd,wllama,tjs,ort] (plm-simd: plm-wasm forced to its SIMD128 build) [--precisions 8,4,16,32] [--threads 1,2]
//        [--reps 2] [--rounds 2] [--out out/results.jsonl] [--chromium /usr/bin/chromium]
//        [--decode 64]  new tokens per generation (t2t: decoder steps)
//        [--browser chromium|firefox] [--beams 4] (t2t)
//        [--repo DIR]   plm-wasm's js/ + dist/ from DIR (default: this repository), e.g. a
//                       snapshot, so that rebuilding dist/ cannot change a running benchmark
//
// Rounds interleave the engines (round 0: every engine once, round 1: again, ...), so that
// machine load drifting over time affects every engine alike; report.mjs takes best-of-N.
//
// gen:   prompt 128 random token ids, 64 greedy tokens (EOS ignored); a short warm-up
//        generation first (weights touched, scratch allocated, wasm tiered up).
// embed: 8 sentences of exactly 32 and 128 tokens ([CLS] pieces [SEP]), embedded one per call
//        (batch 1) and all in one call (batch 8), mean pooling + L2 normalization.
// t2t:   T5 (t5-small): a 128-token input (random ids + </s>), then greedy decoding and
//        --beams beam search; each timed as a 1-step call (encoder + cross-attention K/V + one
//        decoder step: the "encoder" figure) and a --decode-step call (the difference: the steps).
// Per measurement also: CPU seconds used by the page's renderer process (all its threads:
// the engines' workers live there; Firefox: its content processes), and at the end its peak
// resident memory (VmHWM).

import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { launch as launchHarness } from '../../tests/browser/harness.mjs';
import { Tokenizer } from '../../js/node.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const TASK = opt('task', 'gen');
const MODELS = opt('models', { gen: 'gpt2-small,llama-110m', embed: 'minilm-l6,bert-base', t2t: 't5-small' }[TASK]).split(',');
const ENGINES = opt('engines', TASK === 't2t' ? 'plm,tjs,ort' : 'plm,wllama,tjs,ort').split(',');
const PRECISIONS = opt('precisions', { gen: '8,4,16', embed: '8,16,32', t2t: '8,32' }[TASK]).split(',');
const BROWSER = opt('browser', 'chromium');
const N_BEAMS = Number(opt('beams', '4'));
if (!['gen', 'embed', 't2t'].includes(TASK)) throw new Error(`--task ${TASK}: gen, embed or t2t`);
if (!['chromium', 'firefox'].includes(BROWSER)) throw new Error(`--browser ${BROWSER}: chromium or firefox`);
if (TASK === 't2t' && ENGINES.includes('wllama')) throw new Error('wllama has no T5 (llama.cpp has, wllama does not expose encoder-decoder models)');
const THREADS = opt('threads', '1,2').split(',').map(Number);
const REPS = Number(opt('reps', '2'));
const ROUNDS = Number(opt('rounds', '2'));
const REPO = opt('repo', null);
const OUT = path.resolve(HERE, opt('out', 'out/results.jsonl'));
const CHROMIUM = opt('chromium', '/usr/bin/chromium');
const N_PROMPT = 128;
const N_DECODE = Number(opt('decode', '64'));
const LENGTHS = [32, 128];
const N_SENT = 8;

// precision -> file variant per engine family; ONNX has no fp16 CPU kernels worth using in
// onnxruntime-web's wasm EP, so 16-bit is GGUF only
const VARIANT = {
  8: { gguf: 'Q8_0', onnx: 'Q8' },
  4: { gguf: 'Q4_0', onnx: 'Q4' },
  16: { gguf: 'F16', onnx: null },
  32: { gguf: 'F32', onnx: 'F32' },
};

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>> 0) / 4294967296);
}

/**
 * Prompts of exactly n tokens that every engine can take: wllama (llama-server's completion
 * API) accepts only text, so the prompt is a text of random vocabulary words that the
 * model's tokenizer (plm's, exact to llama.cpp's) turns into exactly n tokens (BOS included
 * for LLaMA); the other engines get those token ids.
 */
const promptCache = new Map();
async function promptMaker(model) {
  if (promptCache.has(model)) return promptCache.get(model);
  const tok = await Tokenizer.load(path.join(HERE, 'work', 'gguf', `${model}-Q8_0.gguf`));
  const spm = model.startsWith('llama');
  const words = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    const t = tok.detokenize([id], { stripLeadingSpace: false });
    if (!/^ [a-z]{3,}$/.test(t)) continue;
    const ids = tok.encode(spm ? t.slice(1) : t, { addSpecial: false });
    if (ids.length === 1 && ids[0] === id) words.push(t.slice(1));
  }
  const make = (seed, n) => {
    const r = rng(seed);
    for (let attempt = 0; attempt < 100; attempt++) {
      const w = Array.from({ length: spm ? n - 1 : n }, () => words[Math.floor(r() * words.length)]);
      const text = spm ? w.join(' ') : w.map((x) => ' ' + x).join('');
      const ids = tok.encode(text);
      if (ids.length === n) return { text, ids: Array.from(ids) };
    }
    throw new Error(`${model}: no ${n}-token prompt found`);
  };
  promptCache.set(model, make);
  return make;
}
const sentences = (n, seed) => {
  const r = rng(seed);
  return Array.from({ length: N_SENT }, () => Array.from({ length: n }, (_, i) => (i === 0 ? 101 : i === n - 1 ? 102 : 1996 + Math.floor(r() * 27000))));
};

// ------------------------------------------------------------------ /proc: renderer CPU + memory
const TICK = 100; // USER_HZ (getconf CLK_TCK)
function procs() {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(d), ppid: Number(rest[1]), cpu: (Number(rest[11]) + Number(rest[12])) / TICK });
    } catch {}
  }
  return out;
}
/**
 * The page's processes descended from this process (one browser runs at a time): Chromium's
 * renderers (--type=renderer); Firefox's content processes (-contentproc ... tab: the
 * cross-origin-isolated page gets its own webCOOP+COEP one; idle preallocated ones add ~0).
 */
function renderers() {
  const all = procs();
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of all) if (!mine.has(p.pid) && mine.has(p.ppid)) mine.add(p.pid), (grew = true);
  }
  return all.filter((p) => {
    if (!mine.has(p.pid)) return false;
    try {
      const cmd = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split(/[\0 ]/).filter(Boolean); // (Chromium rewrites its argv as one string)
      return BROWSER === 'firefox' ? cmd.includes('-contentproc') && cmd.at(-1) === 'tab' : cmd.includes('--type=renderer');
    } catch {
      return false;
    }
  });
}
const rendererCpu = () => renderers().reduce((s, p) => s + p.cpu, 0);
function rendererPeakMB() {
  let mb = 0;
  for (const p of renderers()) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      if (m) mb = Math.max(mb, Number(m[1]) / 1024);
    } catch {}
  }
  return mb;
}
const load1 = () => os.loadavg()[0];
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => (stopping = true));

// ------------------------------------------------------------------ one browser session
let browserVersion = '';
async function openBrowser() {
  if (BROWSER === 'firefox') {
    const b = await launchHarness({ browser: 'firefox' });
    browserVersion = `Firefox ${b.version}`;
    return { newPage: () => b.context.newPage(), close: () => b.close() };
  }
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--js-flags=--max-old-space-size=8192'],
  });
  browserVersion = `Chromium ${b.version()}`;
  return b;
}

async function session(base, cfg, measure) {
  const browser = await openBrowser();
  const rows = [];
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${base}/index.html`);
    await page.waitForFunction(() => window.bench);
    if (!(await page.evaluate(() => window.bench.isolated()))) throw new Error('page is not cross-origin isolated');
    const c0 = rendererCpu();
    const loaded = await page.evaluate((c) => window.bench.load(c), cfg).catch((e) => {
      throw new Error(`${e.message}\n${errors.join('\n')}`);
    });
    const loadCpu = rendererCpu() - c0;
    if (loaded.engineThreads !== cfg.threads) throw new Error(`${cfg.engine} runs ${loaded.engineThreads} threads, asked for ${cfg.threads}`);
    await measure(page, loaded, (extra) => rows.push({ ...cfg, browser: browserVersion, ...loaded, loadCpuS: loadCpu, ...extra }));
    const peak = rendererPeakMB();
    for (const r of rows) r.peakMB = peak;
    await page.evaluate(() => window.bench.dispose()).catch(() => {});
  } finally {
    await browser.close();
  }
  return rows;
}

async function genSession(base, cfg, round) {
  return session(base, cfg, async (page, loaded, push) => {
    const prompt = await promptMaker(cfg.model);
    // warm-up at the measured shapes (a different prompt of the same length): weights touched,
    // buffers allocated, wasm tiered up, and onnxruntime's per-shape first-run costs paid
    const w = prompt(999, N_PROMPT);
    await page.evaluate((a) => window.bench.generate(a), { prompt: w.ids, text: w.text, nDecode: 4 });
    const gen = async (p, nDecode) => {
      const c0 = rendererCpu();
      const r = await page.evaluate((a) => window.bench.generate(a), { prompt: p.ids, text: p.text, nDecode });
      return { ...r, cpuS: rendererCpu() - c0 };
    };
    for (let rep = 0; rep < REPS; rep++) {
      const p = prompt(1 + rep + 100 * round, N_PROMPT);
      const l = load1();
      // the same prompt twice: with 1 new token (= the prefill), then with N_DECODE; the CPU
      // time difference is the decode steps' (robust to machine load, unlike wall time)
      const one = await gen(p, 1);
      const r = await gen(p, N_DECODE);
      // every engine must have seen exactly the same prompt length (wllama tokenizes the text)
      if (r.promptTokens !== p.ids.length) throw new Error(`${cfg.engine} saw ${r.promptTokens} prompt tokens, expected ${p.ids.length}`);
      if (r.generated !== N_DECODE) throw new Error(`${cfg.engine} generated ${r.generated} tokens, expected ${N_DECODE}`);
      push({ rep, round, ...r, prefillOnlyMs: one.totalMs, prefillCpuS: one.cpuS, loadavg: l });
      if (stopping) break;
    }
  });
}

async function embedSession(base, cfg, round) {
  return session(base, cfg, async (page, loaded, push) => {
    for (const n of LENGTHS) {
      const s = sentences(n, n + round);
      await page.evaluate((a) => window.bench.embed(a), { sentences: s.slice(0, 2), batch: 2 }); // warm-up
      for (const batch of [1, 8]) {
        for (let rep = 0; rep < REPS; rep++) {
          const l = load1();
          const c0 = rendererCpu();
          const r = await page.evaluate((a) => window.bench.embed(a), { sentences: s, batch });
          push({ rep, round, tokens: n, batch, nSent: N_SENT, ...r, cpuS: rendererCpu() - c0, loadavg: l });
        }
      }
    }
  });
}

function t5Input(seed, n) {
  const r = rng(seed);
  return [...Array.from({ length: n - 1 }, () => 3 + Math.floor(r() * 31990)), 1]; // random pieces + </s>
}

async function t2tSession(base, cfg, round) {
  return session(base, cfg, async (page, loaded, push) => {
    const w = t5Input(999, N_PROMPT);
    for (const numBeams of [1, N_BEAMS]) await page.evaluate((a) => window.bench.t2t(a), { input: w, nDecode: 4, numBeams }); // warm-up
    const run = async (input, nDecode, numBeams) => {
      const c0 = rendererCpu();
      const r = await page.evaluate((a) => window.bench.t2t(a), { input, nDecode, numBeams });
      return { ...r, cpuS: rendererCpu() - c0 };
    };
    for (let rep = 0; rep < REPS; rep++) {
      const input = t5Input(1 + rep + 100 * round, N_PROMPT);
      for (const numBeams of [1, N_BEAMS]) {
        const l = load1();
        // an untimed 1-step call first: the first call after a change of decoder batch (greedy
        // <-> beams) costs onnxruntime-web (and transformers.js) up to 2x the CPU of the next
        // one (seen 2026-12-06: 0.65 vs 0.33 CPU-s), which would also inflate the step rate below
        await run(input, 1, numBeams);
        // 1 step (encoder + cross-attention K/V + the first decoder step), then N_DECODE steps:
        // the difference is N_DECODE - 1 decoder steps (CPU and wall)
        const one = await run(input, 1, numBeams);
        const r = await run(input, N_DECODE, numBeams);
        push({ rep, round, numBeams, inputTokens: N_PROMPT, nDecode: N_DECODE, ...r, oneMs: one.totalMs, oneCpuS: one.cpuS, oneGenerated: one.generated, loadavg: l });
        if (stopping) return;
      }
    }
  });
}

async function main() {
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  const server = await startServer(0, { repo: REPO ? path.resolve(REPO) : undefined });
  const base = `http://127.0.0.1:${server.address().port}`;
  const started = new Date().toISOString();
  console.error(`${TASK} in ${BROWSER}: ${MODELS.join(', ')}; engines ${ENGINES.join(', ')}; precisions ${PRECISIONS.join(', ')}; threads ${THREADS.join(', ')}; ${REPS} reps x ${ROUNDS} rounds -> ${OUT}`);
  console.error(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const model of MODELS) {
        for (const precision of PRECISIONS) {
          for (const threads of THREADS) {
            for (const engine of ENGINES) {
              if (stopping) return;
              const family = engine.startsWith('plm') || engine === 'wllama' ? 'gguf' : 'onnx';
              const variant = VARIANT[precision][family];
              if (!variant) continue;
              const cfg = { engine, task: TASK, model, precision: Number(precision), variant, threads };
              const t0 = performance.now();
              let rows;
              try {
                rows = await { gen: genSession, embed: embedSession, t2t: t2tSession }[TASK](base, cfg, round);
              } catch (e) {
                rows = [{ ...cfg, round, error: String(e.message ?? e).slice(0, 2000) }];
              }
              const meta = { started, date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model };
              for (const r of rows) fs.appendFileSync(OUT, JSON.stringify({ ...meta, ...r }) + '\n');
              const r0 = rows.at(-1);
              const what = r0.error
                ? `ERROR ${r0.error.split('\n')[0]}`
                : TASK === 't2t'
                  ? `beams ${r0.numBeams} (decoder batch ${r0.decoderBatch}): encoder ${((N_PROMPT * 1000) / r0.oneMs).toFixed(1)} tok/s, ${((r0.nDecode - 1) * 1000 / (r0.totalMs - r0.oneMs)).toFixed(2)} steps/s, ${r0.generated} steps, peak ${r0.peakMB.toFixed(0)} MB`
                  : TASK === 'gen'
                  ? `prefill ${((N_PROMPT * 1000) / r0.prefillMs).toFixed(1)} tok/s, decode ${((r0.generated * 1000) / r0.decodeMs).toFixed(2)} tok/s, load ${(r0.loadMs / 1000).toFixed(2)} s, peak ${r0.peakMB.toFixed(0)} MB`
                  : `last: ${r0.tokens} tok batch ${r0.batch}: ${((N_SENT * 1000) / r0.totalMs).toFixed(1)} sent/s, peak ${r0.peakMB.toFixed(0)} MB`;
              console.error(`[${round}] ${engine.padEnd(6)} ${model} ${variant.padEnd(4)} t${threads}: ${what} (${((performance.now() - t0) / 1000).toFixed(0)} s, load ${load1().toFixed(1)})`);
            }
          }
        }
      }
    }
  } finally {
    server.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
