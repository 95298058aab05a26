#!/usr/bin/env node
// make_hostile.mjs — writes the crafted model files of tests/fixtures/hostile/ (issue 12).
//
//   node tests/hostile/make_hostile.mjs        (re)generate; the files are committed, a few KB each
//
// Tiny synthetic models (random F32 weights from a fixed seed, no tokenizer) of each
// architecture, valid ones ("*-ok.gguf": they load and run, and seed the fuzzers), and
// hostile variants whose header values multiply past 32 bits or claim absurd sizes. What
// each hostile file must produce is listed in cases.json (read by tests/native/test_hostile.c).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'hostile');

// ------------------------------------------------------------ GGUF v3 writer
const T = { U32: 4, I32: 5, F32: 6, STRING: 8, ARRAY: 9 };
class Bytes {
  constructor() { this.parts = []; this.n = 0; }
  push(u8) { this.parts.push(u8); this.n += u8.length; }
  u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); this.push(b); }
  u64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); this.push(b); }
  f32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.push(b); }
  str(s) { const e = new TextEncoder().encode(s); this.u64(e.length); this.push(e); }
  bytes() { const r = new Uint8Array(this.n); let o = 0; for (const p of this.parts) { r.set(p, o); o += p.length; } return r; }
}

let seed = 12345;
function rnd() { // xorshift32 in [-0.5, 0.5)
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296 - 0.5;
}

/**
 * kv: [key, type, value]; tensors: { name, ne: [ne0, ne1?] (innermost first), data?: Float32Array,
 * noData?: true (declared but no bytes written: a header that claims more than it sends) }
 */
function gguf(kv, tensors) {
  const b = new Bytes();
  b.push(new TextEncoder().encode('GGUF'));
  b.u32(3);
  b.u64(tensors.length);
  b.u64(kv.length);
  for (const [k, t, v] of kv) {
    b.str(k);
    b.u32(t);
    if (t === T.U32) b.u32(v);
    else if (t === T.F32) b.f32(v);
    else if (t === T.ARRAY) { // [itemType, values]
      b.u32(v[0]);
      b.u64(v[1].length);
      for (const x of v[1]) v[0] === T.STRING ? b.str(x) : v[0] === T.F32 ? b.f32(x) : b.u32(x >>> 0);
    } else b.str(v);
  }
  let off = 0n;
  const datas = [];
  for (const t of tensors) {
    b.str(t.name);
    b.u32(t.ne.length);
    for (const d of t.ne) b.u64(d);
    b.u32(0); // F32
    b.u64(off);
    const n = t.ne.reduce((a, d) => a * BigInt(d), 1n);
    const bytes = n * 4n;
    if (!t.noData) {
      const f = new Float32Array(Number(n));
      for (let i = 0; i < f.length; i++) f[i] = t.fill ?? rnd() * 0.2;
      datas.push(new Uint8Array(f.buffer));
    }
    off += (bytes + 31n) / 32n * 32n;
  }
  const pad = (x) => { const r = (32 - (x % 32)) % 32; if (r) b.push(new Uint8Array(r)); };
  pad(b.n);
  for (const d of datas) { b.push(d); pad(b.n); }
  return b.bytes();
}

const ARCH = (a, kv) => [['general.architecture', T.STRING, a], ...kv.map(([k, t, v]) => [`${a}.${k}`, t, v])];

// ------------------------------------------------------------- architectures
export function llama({ arch = 'llama', E = 16, V = 32, F = 32, H = 4, Hkv = 2, hd, L = 1, ctx = 64, wide } = {}) {
  const kv = [['block_count', T.U32, L], ['context_length', T.U32, ctx], ['embedding_length', T.U32, E],
    ['feed_forward_length', T.U32, F], ['attention.head_count', T.U32, H], ['attention.head_count_kv', T.U32, Hkv],
    ['attention.layer_norm_rms_epsilon', T.F32, 1e-5]];
  if (hd !== undefined) kv.push(['attention.key_length', T.U32, hd], ['attention.value_length', T.U32, hd],
    ['rope.dimension_count', T.U32, 4]);
  // the widths the tensors get: the true ones, or (wide) what a wrapped 32-bit product gives
  const hdd = hd ?? E / H, nq = wide?.nq ?? H * hdd, nkv = wide?.nkv ?? Hkv * hdd;
  const t = [{ name: 'token_embd.weight', ne: [E, V] }, { name: 'output_norm.weight', ne: [E], fill: 1 }];
  for (let i = 0; i < L; i++) {
    t.push({ name: `blk.${i}.attn_norm.weight`, ne: [E], fill: 1 }, { name: `blk.${i}.attn_q.weight`, ne: [E, nq] },
      { name: `blk.${i}.attn_k.weight`, ne: [E, nkv] }, { name: `blk.${i}.attn_v.weight`, ne: [E, nkv] },
      { name: `blk.${i}.attn_output.weight`, ne: [nq, E] }, { name: `blk.${i}.ffn_norm.weight`, ne: [E], fill: 1 },
      { name: `blk.${i}.ffn_gate.weight`, ne: [E, F] }, { name: `blk.${i}.ffn_up.weight`, ne: [E, F] },
      { name: `blk.${i}.ffn_down.weight`, ne: [F, E] });
  }
  return gguf(ARCH(arch, kv), t);
}

export function gpt2({ E = 16, V = 32, F = 64, H = 4, L = 1, ctx = 32, ffKey = F } = {}) {
  const kv = [['block_count', T.U32, L], ['context_length', T.U32, ctx], ['embedding_length', T.U32, E],
    ['feed_forward_length', T.U32, ffKey], ['attention.head_count', T.U32, H],
    ['attention.layer_norm_epsilon', T.F32, 1e-5]];
  const t = [{ name: 'token_embd.weight', ne: [E, V] }, { name: 'position_embd.weight', ne: [E, ctx] },
    { name: 'output_norm.weight', ne: [E], fill: 1 }, { name: 'output_norm.bias', ne: [E], fill: 0 }];
  for (let i = 0; i < L; i++) {
    t.push({ name: `blk.${i}.attn_norm.weight`, ne: [E], fill: 1 }, { name: `blk.${i}.attn_norm.bias`, ne: [E], fill: 0 },
      { name: `blk.${i}.attn_qkv.weight`, ne: [E, 3 * E] }, { name: `blk.${i}.attn_qkv.bias`, ne: [3 * E] },
      { name: `blk.${i}.attn_output.weight`, ne: [E, E] }, { name: `blk.${i}.attn_output.bias`, ne: [E] },
      { name: `blk.${i}.ffn_norm.weight`, ne: [E], fill: 1 }, { name: `blk.${i}.ffn_norm.bias`, ne: [E], fill: 0 },
      { name: `blk.${i}.ffn_up.weight`, ne: [E, F] }, { name: `blk.${i}.ffn_up.bias`, ne: [F] },
      { name: `blk.${i}.ffn_down.weight`, ne: [F, E] }, { name: `blk.${i}.ffn_down.bias`, ne: [E] });
  }
  return gguf(ARCH('gpt2', kv), t);
}

export function bert({ E = 16, V = 32, F = 32, H = 4, L = 1, ctx = 32, blocks = L, labels = 3 } = {}) {
  const kv = [['block_count', T.U32, blocks], ['context_length', T.U32, ctx], ['embedding_length', T.U32, E],
    ['feed_forward_length', T.U32, F], ['attention.head_count', T.U32, H],
    ['attention.layer_norm_epsilon', T.F32, 1e-12], ['pooling_type', T.U32, 2]];
  const t = [{ name: 'token_embd.weight', ne: [E, V] }, { name: 'token_types.weight', ne: [E, 2] },
    { name: 'position_embd.weight', ne: [E, ctx] }, { name: 'token_embd_norm.weight', ne: [E], fill: 1 },
    { name: 'token_embd_norm.bias', ne: [E], fill: 0 }];
  for (let i = 0; i < L; i++) {
    for (const p of ['q', 'k', 'v']) t.push({ name: `blk.${i}.attn_${p}.weight`, ne: [E, E] }, { name: `blk.${i}.attn_${p}.bias`, ne: [E] });
    t.push({ name: `blk.${i}.attn_output.weight`, ne: [E, E] }, { name: `blk.${i}.attn_output.bias`, ne: [E] },
      { name: `blk.${i}.attn_output_norm.weight`, ne: [E], fill: 1 }, { name: `blk.${i}.attn_output_norm.bias`, ne: [E], fill: 0 },
      { name: `blk.${i}.ffn_up.weight`, ne: [E, F] }, { name: `blk.${i}.ffn_up.bias`, ne: [F] },
      { name: `blk.${i}.ffn_down.weight`, ne: [F, E] }, { name: `blk.${i}.ffn_down.bias`, ne: [E] },
      { name: `blk.${i}.layer_output_norm.weight`, ne: [E], fill: 1 }, { name: `blk.${i}.layer_output_norm.bias`, ne: [E], fill: 0 });
  }
  // heads: pooler + classifier, masked-LM
  t.push({ name: 'cls.weight', ne: [E, E] }, { name: 'cls.bias', ne: [E] },
    { name: 'cls.output.weight', ne: [E, labels] }, { name: 'cls.output.bias', ne: [labels] },
    { name: 'mlm.dense.weight', ne: [E, E] }, { name: 'mlm.dense.bias', ne: [E] },
    { name: 'mlm.norm.weight', ne: [E], fill: 1 }, { name: 'mlm.norm.bias', ne: [E], fill: 0 },
    { name: 'mlm.output.weight', ne: [E, V] }, { name: 'mlm.output.bias', ne: [V] });
  return gguf(ARCH('bert', kv), t);
}

export function t5({ E = 16, V = 32, F = 32, H = 4, hd, L = 1, nb = 8, wideQ } = {}) {
  const kv = [['block_count', T.U32, L], ['context_length', T.U32, 64], ['embedding_length', T.U32, E],
    ['feed_forward_length', T.U32, F], ['attention.head_count', T.U32, H],
    ['attention.relative_buckets_count', T.U32, nb], ['attention.layer_norm_rms_epsilon', T.F32, 1e-6],
    ['decoder_start_token_id', T.U32, 0]];
  if (hd !== undefined) kv.push(['attention.key_length', T.U32, hd], ['attention.value_length', T.U32, hd]);
  const Q = wideQ ?? H * (hd ?? E / H);
  const t = [{ name: 'token_embd.weight', ne: [E, V] }, { name: 'enc.output_norm.weight', ne: [E], fill: 1 },
    { name: 'dec.output_norm.weight', ne: [E], fill: 1 }];
  for (const pre of ['enc', 'dec']) {
    for (let i = 0; i < L; i++) {
      const b = `${pre}.blk.${i}`;
      t.push({ name: `${b}.attn_norm.weight`, ne: [E], fill: 1 }, { name: `${b}.attn_q.weight`, ne: [E, Q] },
        { name: `${b}.attn_k.weight`, ne: [E, Q] }, { name: `${b}.attn_v.weight`, ne: [E, Q] },
        { name: `${b}.attn_o.weight`, ne: [Q, E] }, { name: `${b}.ffn_norm.weight`, ne: [E], fill: 1 },
        { name: `${b}.ffn_gate.weight`, ne: [E, F] }, { name: `${b}.ffn_up.weight`, ne: [E, F] },
        { name: `${b}.ffn_down.weight`, ne: [F, E] });
      if (i === 0) t.push({ name: `${b}.attn_rel_b.weight`, ne: [H, nb] });
      if (pre === 'dec') {
        t.push({ name: `${b}.cross_attn_norm.weight`, ne: [E], fill: 1 }, { name: `${b}.cross_attn_q.weight`, ne: [E, Q] },
          { name: `${b}.cross_attn_k.weight`, ne: [E, Q] }, { name: `${b}.cross_attn_v.weight`, ne: [E, Q] },
          { name: `${b}.cross_attn_o.weight`, ne: [Q, E] });
      }
    }
  }
  t.push({ name: 'output.weight', ne: [E, V] });
  // a small Unigram vocabulary (beam search needs its EOS): <pad> </s> <unk>, then pieces
  const pieces = ['<pad>', '</s>', '<unk>'];
  for (let i = 3; i < V; i++) pieces.push((i % 3 ? '' : '\u2581') + 'abcdefghijklmnopqrstuvwxyz'[i % 26] + (i > 26 ? 'x' : ''));
  const tok = [['tokenizer.ggml.model', T.STRING, 't5'], ['tokenizer.ggml.tokens', T.ARRAY, [T.STRING, pieces]],
    ['tokenizer.ggml.scores', T.ARRAY, [T.F32, pieces.map((_, i) => -i / 4)]],
    ['tokenizer.ggml.token_type', T.ARRAY, [T.I32, pieces.map((_, i) => (i === 2 ? 2 : i < 2 ? 3 : 1))]],
    ['tokenizer.ggml.eos_token_id', T.U32, 1], ['tokenizer.ggml.padding_token_id', T.U32, 0],
    ['tokenizer.ggml.unknown_token_id', T.U32, 2]];
  return gguf([...ARCH('t5', kv), ...tok], t);
}

// --------------------------------------------------------------------- files
export function writeAll() {
mkdirSync(out, { recursive: true });
const WRAP = 2 ** 30 + 4; // x 4 heads = 2^32 + 16: wraps to 16 (= n_embd) in 32-bit arithmetic
const files = {
  // valid: load, run, seed the fuzzers
  'llama-ok.gguf': llama(),
  'qwen2-ok.gguf': llama({ arch: 'qwen2' }),
  'gpt2-ok.gguf': gpt2(),
  'bert-ok.gguf': bert(),
  't5-ok.gguf': t5(),
  // heads x head size wraps to the embedding width: every shape check would pass
  'llama-keylen-wrap.gguf': llama({ H: 4, Hkv: 4, hd: WRAP, wide: { nq: 16, nkv: 16 } }),
  't5-keylen-wrap.gguf': t5({ H: 4, hd: WRAP, wideQ: 16 }),
  // a feed-forward width and a block count no build can hold
  'gpt2-ffn-huge.gguf': gpt2({ ffKey: 0x7fffffff }),
  'bert-blocks-huge.gguf': bert({ blocks: 2000000000 }),
  // a tensor with more rows than an int counts (header only: the data is never sent)
  'llama-rows-huge.gguf': gguf(ARCH('llama', [['block_count', T.U32, 1]]), [{ name: 'token_embd.weight', ne: [16, 2 ** 31], noData: true }]),
  // a 128-byte-ish header claiming 3.75 GB of weights, followed by a few bytes
  'claims-3.75GB.gguf': gguf(ARCH('llama', [['block_count', T.U32, 1]]), [{ name: 'token_embd.weight', ne: [4096, 240000], noData: true }]),
};
for (const [name, bytes] of Object.entries(files)) writeFileSync(join(out, name), bytes);

// expected outcome of a whole-buffer load: [file, PLM_E_* name, substring of the message]
const cases = [
  ['llama-keylen-wrap.gguf', 'FORMAT', 'attention.key_length'],
  ['t5-keylen-wrap.gguf', 'FORMAT', 'attention.key_length'],
  ['gpt2-ffn-huge.gguf', 'FORMAT', 'feed_forward_length'],
  ['bert-blocks-huge.gguf', 'FORMAT', 'block_count'],
  ['llama-rows-huge.gguf', 'FORMAT', 'dimension 1'],
  ['claims-3.75GB.gguf', 'TRUNCATED', 'truncated'],
];
writeFileSync(join(out, 'cases.json'), JSON.stringify({ ok: ['llama-ok.gguf', 'qwen2-ok.gguf', 'gpt2-ok.gguf', 'bert-ok.gguf', 't5-ok.gguf'], refused: cases }, null, 1) + '\n');
console.log(`wrote ${Object.keys(files).length} files to ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) writeAll();
