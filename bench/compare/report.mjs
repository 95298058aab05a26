#!/usr/bin/env node
// report.mjs — markdown tables from run.mjs' JSON lines: best of N over repetitions/rounds
// for rates (the least disturbed run on a shared machine), medians for load time and memory.
//
//   node bench/compare/report.mjs out/gen.jsonl [out/embed.jsonl ...]
//
// Decoders, per model / threads / precision and engine:
//   prefill tok/s   128 prompt tokens / prefill time              (wall clock)
//   decode tok/s    64 tokens / time of the 63 steps after the prefill (wall clock)
//   CPU columns     the same work per CPU-second of the page's renderer process (all threads):
//                   prefill = a 1-token generation of the same prompt, decode = the difference
//                   between the 64-token and the 1-token generation (63 steps)
//   ratio columns   plm-wasm's rate / the engine's rate (> 1: plm-wasm is faster)
// Encoders: sentences/s (wall) and sentences per CPU-second, 8 sentences, batch 1 and 8.
// T5 (t2t): encoder tok/s = 128 input tokens / a 1-step call (encoder + cross-attention K/V +
//   the first decoder step); steps/s = (decoder steps of the N-step call - 1) / (its time -
//   the 1-step call's time), greedy and beam search; per CPU-second likewise. A beam figure
//   whose decoder never ran more than batch 1 (transformers.js 4.3.2 ignores num_beams) is
//   not a beam search and is shown as "greedy!".
// Tables are per browser (rows carry it; older rows without it are Chromium's).

import fs from 'node:fs';

const files = process.argv.slice(2);
if (!files.length) {
  console.error('usage: node report.mjs results.jsonl ...');
  process.exit(2);
}
const rows = files.flatMap((f) =>
  fs
    .readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l)),
);
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const best = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x) && x > 0);
  return s.length ? Math.max(...s) : NaN;
};
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const browserOf = (r) => (r.browser ?? 'Chromium').split(' ')[0];
const inBrowser = (r) => (browserOf(r) === 'Chromium' ? '' : `, ${browserOf(r)}`);
const ENGINE_NAMES = { plm: 'plm-wasm', 'plm-simd': 'plm-wasm SIMD128 only', wllama: 'wllama', tjs: 'transformers.js', ort: 'onnxruntime-web' };
const ORDER = ['plm', 'plm-simd', 'wllama', 'tjs', 'ort'];
const isPlm = (e) => e.startsWith('plm');
const group = (xs, key) => {
  const m = new Map();
  for (const x of xs) {
    const k = key(x);
    if (!m.has(k)) m.set(k, []);
    m.get(k).push(x);
  }
  return m;
};
const PREC = { 8: '8-bit', 4: '4-bit', 16: '16-bit', 32: 'fp32' };

const errors = rows.filter((r) => r.error);
for (const e of errors) console.log(`<!-- error: ${e.engine} ${e.model} ${e.variant} t${e.threads}: ${e.error.split('\n')[0]} -->`);
const ok = rows.filter((r) => !r.error);
const loads = ok.map((r) => r.loadavg).filter(Number.isFinite);
if (loads.length) console.log(`\nload average (1 min) during the measurements: median ${f(median(loads))}, min ${f(Math.min(...loads))}, max ${f(Math.max(...loads))}; ${ok[0].cpu} x${ok[0].cpus}; ${ok[0].date?.slice(0, 10)}\n`);

// ------------------------------------------------------------------ decoders
const gen = ok.filter((r) => r.task === 'gen');
for (const [key, list] of group(gen, (r) => `${browserOf(r)}|${r.model}|${r.threads}`)) {
  const [, model, threads] = key.split('|');
  console.log(`\n#### ${model}, ${threads} thread${threads === '1' ? '' : 's'}${inBrowser(list[0])} (prompt ${list[0].promptTokens}, decode ${list[0].generated}; load average ${f(median(list.map((r) => r.loadavg)))})\n`);
  console.log('| precision | engine | file | prefill tok/s | decode tok/s | prefill tok/CPU-s | decode tok/CPU-s | load s | peak MB | plm ÷ engine: prefill / decode (wall) | (CPU) | plm SIMD128-only ÷ engine (CPU) |');
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [prec, plist] of [...group(list, (r) => r.precision)].sort((a, b) => a[0] - b[0])) {
    const stats = new Map();
    for (const [engine, es] of group(plist, (r) => r.engine)) {
      stats.set(engine, {
        variant: es[0].variant,
        prefill: best(es.map((r) => (r.promptTokens * 1000) / r.prefillMs)),
        decode: best(es.map((r) => (r.generated * 1000) / r.decodeMs)),
        prefillCpu: best(es.map((r) => r.promptTokens / r.prefillCpuS)),
        decodeCpu: best(es.map((r) => (r.generated - 1) / (r.cpuS - r.prefillCpuS))),
        load: median(es.map((r) => r.loadMs / 1000)),
        peak: median(es.map((r) => r.peakMB)),
        n: es.length,
        loadavg: median(es.map((r) => r.loadavg)),
        prompt: es[0].promptTokens,
      });
    }
    const p = stats.get('plm'), ps = stats.get('plm-simd');
    for (const engine of ORDER) {
      const s = stats.get(engine);
      if (!s) continue;
      const ratio = (a, b, q) => (q && !isPlm(engine) ? `${f(q[a] / s[a], 2)} / ${f(q[b] / s[b], 2)}` : ''); // (q: plm's or plm-simd's stats, if measured)
      console.log(`| ${PREC[prec]} | ${ENGINE_NAMES[engine]} | ${s.variant} | ${f(s.prefill)} | ${f(s.decode, 2)} | ${f(s.prefillCpu)} | ${f(s.decodeCpu, 2)} | ${f(s.load, 2)} | ${f(s.peak, 0)} | ${ratio('prefill', 'decode', p)} | ${ratio('prefillCpu', 'decodeCpu', p)} | ${ratio('prefillCpu', 'decodeCpu', ps)} |`);
    }
  }
}

// ------------------------------------------------------------------ encoders
const emb = ok.filter((r) => r.task === 'embed');
for (const [key, list] of group(emb, (r) => `${browserOf(r)}|${r.model}|${r.threads}`)) {
  const [, model, threads] = key.split('|');
  console.log(`\n#### ${model} embeddings, ${threads} thread${threads === '1' ? '' : 's'}${inBrowser(list[0])} (8 sentences, mean pooling + normalize; sentences/s wall | per CPU-s)\n`);
  const cols = [...group(list, (r) => `${r.tokens}|${r.batch}`).keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  console.log(`| precision | engine | file | ${cols.map((c) => `${c.split('|')[0]} tok, batch ${c.split('|')[1]}`).join(' | ')} | peak MB | plm ÷ engine (CPU) | plm SIMD128-only ÷ engine (CPU) |`);
  console.log(`|---|---|---|${cols.map(() => '---:|').join('')}---:|---|---|`);
  for (const [prec, plist] of [...group(list, (r) => r.precision)].sort((a, b) => a[0] - b[0])) {
    const byEngine = group(plist, (r) => r.engine);
    const cpuRate = (es, c) => best(es.filter((r) => `${r.tokens}|${r.batch}` === c).map((r) => r.nSent / r.cpuS));
    const wallRate = (es, c) => best(es.filter((r) => `${r.tokens}|${r.batch}` === c).map((r) => (r.nSent * 1000) / r.totalMs));
    const plm = byEngine.get('plm'), plmSimd = byEngine.get('plm-simd');
    for (const engine of ORDER) {
      const es = byEngine.get(engine);
      if (!es) continue;
      const cells = cols.map((c) => `${f(wallRate(es, c))} \\| ${f(cpuRate(es, c))}`);
      const ratios = (q) => (q && !isPlm(engine) ? cols.map((c) => f(cpuRate(q, c) / cpuRate(es, c), 2)).join(' / ') : '');
      console.log(`| ${PREC[prec]} | ${ENGINE_NAMES[engine]} | ${es[0].variant} | ${cells.join(' | ')} | ${f(median(es.map((r) => r.peakMB)), 0)} | ${ratios(plm)} | ${ratios(plmSimd)} |`);
    }
  }
}

// ------------------------------------------------------------------ T5
const t2t = ok.filter((r) => r.task === 't2t');
for (const [key, list] of group(t2t, (r) => `${browserOf(r)}|${r.model}|${r.threads}`)) {
  const [, model, threads] = key.split('|');
  const beams = Math.max(...list.map((r) => r.numBeams));
  console.log(`\n#### ${model} (T5), ${threads} thread${threads === '1' ? '' : 's'}${inBrowser(list[0])} (input ${list[0].inputTokens} tokens, ${list[0].nDecode} decoder steps, greedy and ${beams} beams; load average ${f(median(list.map((r) => r.loadavg)))})\n`);
  console.log(`| precision | engine | file | encoder tok/s | greedy steps/s | ${beams}-beam steps/s | encoder tok/CPU-s | greedy steps/CPU-s | ${beams}-beam steps/CPU-s | load s | peak MB | plm ÷ engine: encoder / greedy / beam (wall) | (CPU) |`);
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [prec, plist] of [...group(list, (r) => r.precision)].sort((a, b) => a[0] - b[0])) {
    const stats = new Map();
    for (const [engine, es] of group(plist, (r) => r.engine)) {
      const st = {};
      for (const [kind, nb] of [['greedy', 1], ['beam', beams]]) {
        const rs = es.filter((r) => r.numBeams === nb);
        const steps = (r) => r.generated - r.oneGenerated;
        st[kind] = best(rs.map((r) => (steps(r) * 1000) / (r.totalMs - r.oneMs)));
        st[kind + 'Cpu'] = best(rs.map((r) => steps(r) / (r.cpuS - r.oneCpuS)));
        st[kind + 'Short'] = rs.some((r) => r.generated !== r.nDecode);
        if (nb > 1 && rs.length && rs.every((r) => r.decoderBatch < nb)) st.beamIsGreedy = true;
      }
      const g = es.filter((r) => r.numBeams === 1);
      st.enc = best(g.map((r) => (r.inputTokens * 1000) / r.oneMs));
      st.encCpu = best(g.map((r) => r.inputTokens / r.oneCpuS));
      st.variant = es[0].variant;
      st.load = median(es.map((r) => r.loadMs / 1000));
      st.peak = median(es.map((r) => r.peakMB));
      stats.set(engine, st);
    }
    const p = stats.get('plm');
    for (const engine of ORDER) {
      const s = stats.get(engine);
      if (!s) continue;
      const beamCell = (x) => (s.beamIsGreedy ? `(${f(x, 2)}: greedy!)` : f(x, 2));
      const r = (a, b) => (p && s[a] > 0 && b !== 'skip' ? f(p[a] / s[a], 2) : '–');
      const ratios = (sfx) => (p && !isPlm(engine) ? `${r('enc' + sfx)} / ${r('greedy' + sfx)} / ${s.beamIsGreedy ? '–' : r('beam' + sfx)}` : '');
      console.log(`| ${PREC[prec]} | ${ENGINE_NAMES[engine]} | ${s.variant} | ${f(s.enc)} | ${f(s.greedy, 2)} | ${beamCell(s.beam)} | ${f(s.encCpu)} | ${f(s.greedyCpu, 2)} | ${beamCell(s.beamCpu)} | ${f(s.load, 2)} | ${f(s.peak, 0)} | ${ratios('')} | ${ratios('Cpu')} |`);
      if (s.greedyShort || s.beamShort) console.log(`<!-- ${engine} ${prec}: some runs ended before ${plist[0].nDecode} steps (EOS); rates use the steps run -->`);
    }
  }
}

// ------------------------------------------------------------------ thread scaling
// 2 threads ÷ 1 thread of the wall rates (best of each), where both were measured for the same
// browser, model, engine and precision in one run (issue 15's target: >= 1.85x for prefill and encoders).
const scal = [];
// (only rows of the same run.mjs invocation, which interleaves 1 and 2 threads, are compared)
for (const [key, list] of group(ok, (r) => `${browserOf(r)}|${r.task}|${r.model}|${r.engine}|${r.precision}|${r.started}`)) {
  const t1 = list.filter((r) => r.threads === 1);
  const t2 = list.filter((r) => r.threads === 2);
  if (!t1.length || !t2.length) continue;
  const [browser, task, model, engine, prec] = key.split('|');
  const q = (fn) => f(best(t2.map(fn).flat()) / best(t1.map(fn).flat()), 2);
  let cells;
  if (task === 'gen') cells = `prefill ${q((r) => (r.promptTokens * 1000) / r.prefillMs)}, decode ${q((r) => (r.generated * 1000) / r.decodeMs)}`;
  else if (task === 'embed') {
    const cols = [...new Set(list.map((r) => `${r.tokens}|${r.batch}`))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    const rate = (rs, c) => best(rs.filter((r) => `${r.tokens}|${r.batch}` === c).map((r) => (r.nSent * 1000) / r.totalMs));
    cells = cols.map((c) => `${c.replace('|', ' tok b')} ${f(rate(t2, c) / rate(t1, c), 2)}`).join(', ');
  } else {
    const enc = (rs) => best(rs.filter((r) => r.numBeams === 1).map((r) => (r.inputTokens * 1000) / r.oneMs));
    const steps = (rs, nb) => best(rs.filter((r) => r.numBeams === nb).map((r) => ((r.generated - r.oneGenerated) * 1000) / (r.totalMs - r.oneMs)));
    const nb = Math.max(...list.map((r) => r.numBeams));
    cells = `encoder ${f(enc(t2) / enc(t1), 2)}, greedy ${f(steps(t2, 1) / steps(t1, 1), 2)}, ${nb}-beam ${f(steps(t2, nb) / steps(t1, nb), 2)}`;
  }
  scal.push(`| ${browser} | ${model} | ${ENGINE_NAMES[engine]} | ${PREC[prec]} | ${cells} | ${f(median(t1.map((r) => r.loadavg)))} / ${f(median(t2.map((r) => r.loadavg)))} |`);
}
if (scal.length) {
  console.log('\n#### 2 threads ÷ 1 thread (wall rates, best of each)\n');
  console.log('| browser | model | engine | precision | 2T ÷ 1T | load average 1T / 2T |');
  console.log('|---|---|---|---|---|---|');
  for (const l of scal) console.log(l);
}
