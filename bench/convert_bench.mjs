#!/usr/bin/env node
// Conversion benchmark: time and peak memory (max RSS of the converting process) of
// `convert` on a GPT-2-small-shaped checkpoint (12 layers, n_embd 768, 12 heads,
// vocab 50257, 1024 positions; random weights; --shape medium: 24 layers, n_embd
// 1024, 16 heads), and of `quantize` on its F32 GGUF.
//
//   node bench/convert_bench.mjs [--shape small|medium] [--dir DIR] [--dtype F32|F16|BF16] [--types F16,Q8_0,Q4_0] [--keep]
//
// The HF folder is generated once in DIR (default: a temp folder, removed unless --keep).
// Each measurement runs in a fresh Node process; its peak RSS is read from /proc (VmHWM).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeSafetensors } from '../js/convert/safetensors.js';
import { GGMLType } from '../js/convert/constants.js';

const SELF = fileURLToPath(import.meta.url);
const SHAPES = {
  small: { n_layer: 12, n_embd: 768, n_head: 12, n_ctx: 1024, n_positions: 1024, vocab_size: 50257 },
  medium: { n_layer: 24, n_embd: 1024, n_head: 16, n_ctx: 1024, n_positions: 1024, vocab_size: 50257 },
};
let GPT2 = SHAPES.small;

// ------------------------------------------------------------------ child

/**
 * Peak resident memory of this process in KB. /proc/self/status VmHWM is per
 * address space; getrusage's maxRSS would include the parent's peak from before
 * the exec on Linux.
 */
function peakRssKB() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

async function child([mode, input, output, type]) {
  const t0 = performance.now();
  if (mode === 'convert') {
    const { convert } = await import('../js/convert/convert.js');
    await convert(input, output, { type });
  } else {
    const { quantize } = await import('../js/convert/quantize.js');
    await quantize(input, output, { type });
  }
  const ms = performance.now() - t0;
  process.stdout.write(JSON.stringify({ ms, maxRssKB: peakRssKB() }));
}

// -------------------------------------------------------------- generator

/** bytes_to_unicode of GPT-2's tokenizer: the 256 byte symbols. */
function byteSymbols() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = new Array(256);
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i])));
  return map;
}

/** A byte-level BPE vocabulary of `size` tokens (last = <|endoftext|>) with consistent merges. */
function syntheticTokenizer(dir, size) {
  const tokens = byteSymbols();
  const seen = new Set(tokens);
  const merges = [];
  let s = 7;
  while (tokens.length < size - 1) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const a = tokens[s % tokens.length];
    const b = tokens[(s >>> 11) % Math.min(tokens.length, 4096)];
    const t = a + b;
    if (t.length > 16 || seen.has(t)) continue;
    seen.add(t);
    tokens.push(t);
    merges.push(`${a} ${b}`);
  }
  tokens.push('<|endoftext|>');
  fs.writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(tokens.map((t, i) => [t, i]))));
  fs.writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'GPT2Tokenizer', add_bos_token: false, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' }));
}

async function generate(dir, dtype) {
  fs.mkdirSync(dir, { recursive: true });
  const { n_layer: L, n_embd: E, n_positions: P, vocab_size: V } = GPT2;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', activation_function: 'gelu_new', layer_norm_epsilon: 1e-5,
    tie_word_embeddings: true, bos_token_id: V - 1, eos_token_id: V - 1, ...GPT2,
  }, null, 2));
  syntheticTokenizer(dir, V);
  let q = null;
  if (dtype !== 'F32') {
    const { Quantizer } = await import('../js/convert/quant.js');
    q = await Quantizer.create();
  }
  let seed = 1;
  const tensor = (name, shape, scale) => ({
    name,
    dtype,
    shape,
    data: () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        f[i] = (seed / 2 ** 32 - 0.5) * scale;
      }
      if (!q) return f;
      const row = shape[shape.length - 1];
      return q.quantize(dtype === 'F16' ? GGMLType.F16 : GGMLType.BF16, f, n / row, row);
    },
  });
  const ts = [tensor('transformer.wte.weight', [V, E], 0.04), tensor('transformer.wpe.weight', [P, E], 0.02)];
  for (let i = 0; i < L; i++) {
    const p = `transformer.h.${i}`;
    ts.push(tensor(`${p}.ln_1.weight`, [E], 2), tensor(`${p}.ln_1.bias`, [E], 0.1));
    ts.push(tensor(`${p}.attn.c_attn.weight`, [E, 3 * E], 0.04), tensor(`${p}.attn.c_attn.bias`, [3 * E], 0.02));
    ts.push(tensor(`${p}.attn.c_proj.weight`, [E, E], 0.04), tensor(`${p}.attn.c_proj.bias`, [E], 0.02));
    ts.push(tensor(`${p}.ln_2.weight`, [E], 2), tensor(`${p}.ln_2.bias`, [E], 0.1));
    ts.push(tensor(`${p}.mlp.c_fc.weight`, [E, 4 * E], 0.04), tensor(`${p}.mlp.c_fc.bias`, [4 * E], 0.02));
    ts.push(tensor(`${p}.mlp.c_proj.weight`, [4 * E, E], 0.04), tensor(`${p}.mlp.c_proj.bias`, [E], 0.02));
  }
  ts.push(tensor('transformer.ln_f.weight', [E], 2), tensor('transformer.ln_f.bias', [E], 0.1));
  writeSafetensors(path.join(dir, 'model.safetensors'), ts);
  q?.dispose();
}

// ------------------------------------------------------------------- main

function measure(args) {
  const r = spawnSync(process.execPath, [SELF, '--child', ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const MB = (n) => (n / 1e6).toFixed(1);

async function main() {
  const { values: v } = parseArgs({
    options: { shape: { type: 'string', default: 'small' }, dir: { type: 'string' }, dtype: { type: 'string', default: 'F32' }, types: { type: 'string', default: 'F16,Q8_0,Q4_0' }, keep: { type: 'boolean' } },
  });
  GPT2 = SHAPES[v.shape];
  if (!GPT2) throw new Error(`--shape: one of ${Object.keys(SHAPES).join(', ')}`);
  const dir = v.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'plm-convert-bench-'));
  const hf = path.join(dir, `gpt2-${v.shape}-${v.dtype.toLowerCase()}`);
  try {
    if (!fs.existsSync(path.join(hf, 'model.safetensors'))) {
      const t0 = performance.now();
      await generate(hf, v.dtype.toUpperCase());
      console.error(`generated ${hf} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const modelBytes = fs.statSync(path.join(hf, 'model.safetensors')).size;
    console.log(`GPT-2-${v.shape}-shaped checkpoint: ${Object.entries(GPT2).map(([k, x]) => `${k}=${x}`).join(' ')}`);
    console.log(`model.safetensors (${v.dtype}): ${MB(modelBytes)} MB; node ${process.version}, ${os.cpus()[0]?.model ?? ''}`);
    const base = measure(['noop']);
    console.log(`baseline (node + module load + wasm engine): max RSS ${MB(base.maxRssKB * 1024)} MB`);
    console.log('');
    console.log('operation                 output MB   time s   max RSS MB   RSS / model size');
    const row = (label, out, m) => console.log(`${label.padEnd(25)} ${MB(fs.statSync(out).size).padStart(9)} ${(m.ms / 1000).toFixed(2).padStart(8)} ${MB(m.maxRssKB * 1024).padStart(12)} ${((m.maxRssKB * 1024) / modelBytes * 100).toFixed(1).padStart(16)}%`);
    for (const type of v.types.split(',')) {
      const out = path.join(dir, `out-${type}.gguf`);
      row(`convert --type ${type}`, out, measure(['convert', hf, out, type]));
    }
    const f32 = path.join(dir, 'out-F32.gguf');
    row('convert --type F32', f32, measure(['convert', hf, f32, 'F32']));
    for (const type of ['Q8_0', 'Q4_0']) {
      const out = path.join(dir, `quant-${type}.gguf`);
      row(`quantize F32 -> ${type}`, out, measure(['quantize', f32, out, type]));
    }
  } finally {
    if (!v.keep && !v.dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  const args = process.argv.slice(3);
  if (args[0] === 'noop') {
    await import('../js/convert/convert.js');
    const { Quantizer } = await import('../js/convert/quant.js');
    (await Quantizer.create()).dispose();
    process.stdout.write(JSON.stringify({ ms: 0, maxRssKB: peakRssKB() }));
  } else await child(args);
} else {
  await main();
}
