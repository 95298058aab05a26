#!/usr/bin/env node
// profile_browser.mjs — where each engine spends its time, measured the same way for all:
// Linux perf (cpu-clock sampling) on the page's renderer process while one engine runs a
// prefill (128 tokens, 1 new token) and a generation (64 tokens), with V8 writing
// /tmp/perf-<pid>.map (--perf-basic-prof) so that wasm functions get their names (wllama's
// and transformers.js' wasm files carry name sections; plm's with build_prof.sh's
// --profiling-funcs, served by --plm-wasm out/prof).
//
//   node bench/compare/profile_browser.mjs --engine wllama --model gpt2-small --variant Q8_0 [--threads 1]
//   node bench/compare/profile_browser.mjs --engine ort --model gpt2-small --variant Q8 --task embed
// Needs root (or perf_event_paranoid <= 1) and /usr/bin/perf.

import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';
import { Tokenizer } from '../../js/node.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const ENGINE = opt('engine', 'wllama');
const MODEL = opt('model', 'gpt2-small');
const VARIANT = opt('variant', 'Q8_0');
const THREADS = Number(opt('threads', '1'));
const TASK = opt('task', 'gen');
const TOP = Number(opt('top', '25'));

function renderersOf(rootPid) {
  const all = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      all.push({ pid: Number(d), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) });
    } catch {}
  }
  const mine = new Set([rootPid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) if (!mine.has(p.pid) && mine.has(p.ppid)) mine.add(p.pid), (grew = true);
  }
  return [...mine].filter((pid) => {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmd.includes('--type=renderer') && !cmd.includes('--extension-process');
    } catch {
      return false;
    }
  });
}

async function perfDuring(pid, label, fn) {
  const data = path.join(HERE, 'out', `perf-${ENGINE}-${label}.data`);
  const perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '2000', '-p', String(pid), '-o', data], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise((r) => setTimeout(r, 500));
  const t0 = performance.now();
  const res = await fn();
  const ms = performance.now() - t0;
  perf.kill('SIGINT');
  await new Promise((r) => perf.on('exit', r));
  const rep = spawnSync('perf', ['report', '-i', data, '-n', '--no-children', '--sort', 'sym', '--stdio', '--percent-limit', '0.7'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const lines = rep.stdout.split('\n').filter((l) => /^\s+\d/.test(l)).slice(0, TOP);
  const samples = /Samples: (\S+)/.exec(rep.stdout)?.[1] ?? '?';
  console.log(`\n${ENGINE} ${MODEL} ${VARIANT} t${THREADS} — ${label} (${ms.toFixed(0)} ms wall, ${samples} samples at 2 kHz) ${res ? JSON.stringify(res) : ''}`);
  for (const l of lines) console.log('  ' + l.trim().replace(/\s+/g, ' ').slice(0, 160));
  fs.rmSync(data, { force: true });
}

const server = await startServer(0);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--js-flags=--perf-basic-prof'],
});
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('pageerror', e.message));
  await page.goto(`${base}/index.html`);
  await page.waitForFunction(() => window.bench);
  const cfg = { engine: ENGINE, task: TASK, model: MODEL, variant: VARIANT, threads: THREADS };
  console.log('load', await page.evaluate((c) => window.bench.load(c), cfg));
  // the page's renderer: the one holding the model (largest resident set)
  const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  const pid = renderersOf(process.pid).sort((a, b) => rss(b) - rss(a))[0];
  if (TASK === 'gen') {
    const tok = await Tokenizer.load(path.join(HERE, 'work', 'gguf', `${MODEL}-Q8_0.gguf`));
    const spm = MODEL.startsWith('llama');
    const words = ['house', 'river', 'little', 'garden', 'yellow', 'window', 'simple', 'number'];
    const text = Array.from({ length: spm ? 127 : 128 }, (_, i) => (spm && i === 0 ? '' : ' ') + words[i % words.length]).join('').trimStart();
    const ids = Array.from(tok.encode(spm ? text : ' ' + text));
    const p = { prompt: ids, text: spm ? text : ' ' + text };
    await page.evaluate((a) => window.bench.generate(a), { ...p, nDecode: 4 });
    await perfDuring(pid, 'prefill', () => page.evaluate((a) => window.bench.generate(a), { ...p, nDecode: 1 }));
    await perfDuring(pid, 'generate', () => page.evaluate((a) => window.bench.generate(a), { ...p, nDecode: 64 }));
  } else {
    const n = Number(opt('tokens', '128'));
    const s = Array.from({ length: 8 }, (_, j) => Array.from({ length: n }, (_, i) => (i === 0 ? 101 : i === n - 1 ? 102 : 2000 + ((i * 37 + j * 11) % 20000))));
    await page.evaluate((a) => window.bench.embed(a), { sentences: s.slice(0, 2), batch: 2 });
    await perfDuring(pid, `embed${n}`, () => page.evaluate((a) => window.bench.embed(a), { sentences: s, batch: Number(opt('batch', '8')) }));
  }
} finally {
  await browser.close();
  server.close();
}
