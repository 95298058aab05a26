// convert / quantize against the golden GGUF files (llama.cpp's converter and
// llama-quantize output): every tensor byte-identical, every metadata key identical
// (except general.name / general.size_label), same order, and so the whole file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { convert } from '../../js/convert/convert.js';
import { quantize } from '../../js/convert/quantize.js';
import { Quantizer } from '../../js/convert/quant.js';
import { GGUFWriter } from '../../js/convert/gguf-writer.js';
import { readGGUF } from '../../js/convert/gguf-reader.js';
import { writeSafetensors, SafetensorsModel } from '../../js/convert/safetensors.js';
import { GGMLType } from '../../js/convert/constants.js';
import { FIXTURES, CONVERT_CASES, loadManifest, compareWithManifest, tempDir, copyFixture } from './convert_helpers.mjs';

let q;
before(async () => {
  q = await Quantizer.create();
});
after(() => q?.dispose());

async function convertToBytes(dir, opts) {
  const sink = GGUFWriter.memorySink();
  const res = await convert(dir, sink, { quantizer: q, ...opts });
  return { bytes: sink.bytes(), res };
}

function assertIdentical(label, bytes, ref) {
  const r = compareWithManifest(bytes, ref);
  const summary = `${label}: ${r.tensorsIdentical}/${r.tensors} tensors identical, ${r.keysIdentical}/${r.keys} keys identical`;
  assert.deepEqual(r.badTensors, [], `${summary}; tensors differ: ${r.badTensors.join(', ')}`);
  assert.deepEqual(r.badKeys, [], `${summary}; keys differ: ${r.badKeys.join(', ')}`);
  assert.deepEqual(r.extraTensors, [], `${summary}; extra tensors`);
  assert.deepEqual(r.extraKeys, [], `${summary}; extra keys`);
  assert.ok(r.tensorOrderSame, `${summary}; tensor order differs`);
  assert.ok(r.keyOrderSame, `${summary}; key order differs`);
  assert.ok(r.wholeFileSame, `${summary}; whole file differs`);
  return summary;
}

for (const c of CONVERT_CASES) {
  for (const [type, name] of Object.entries(c.refs)) {
    test(`convert ${c.dir} --type ${type} == ${name}.gguf`, async (t) => {
      const { bytes } = await convertToBytes(path.join(FIXTURES, c.dir), { type, heads: 'none' });
      t.diagnostic(assertIdentical(`${c.dir} ${type}`, bytes, loadManifest(name)));
    });
  }
}

test('quantize F32 conversion -> Q8_0 / Q4_0 / F16 == reference files', async (t) => {
  for (const c of CONVERT_CASES) {
    const { bytes: f32 } = await convertToBytes(path.join(FIXTURES, c.dir), { type: 'F32', heads: 'none' });
    for (const [type, name] of Object.entries(c.refs)) {
      if (type === 'F32') continue;
      const sink = GGUFWriter.memorySink();
      await quantize(f32, sink, { type, quantizer: q });
      t.diagnostic(assertIdentical(`quantize ${c.dir} F32 -> ${type}`, sink.bytes(), loadManifest(name)));
    }
  }
});

test('quantize refuses to re-quantize quantized tensors unless asked', async () => {
  const { bytes } = await convertToBytes(path.join(FIXTURES, 'gpt2/hf'), { type: 'Q8_0' });
  await assert.rejects(quantize(bytes, GGUFWriter.memorySink(), { type: 'Q4_0', quantizer: q }), /already Q8_0.*allow/);
  const sink = GGUFWriter.memorySink();
  const res = await quantize(bytes, sink, { type: 'Q4_0', quantizer: q, allowRequantize: true });
  assert.equal(res.tensors.find((x) => x.name === 'blk.0.attn_qkv.weight').type, 'Q4_0');
  assert.equal(res.tensors.find((x) => x.name === 'token_embd.weight').type, 'Q8_0'); // tied output: stays Q8_0
});

test('quantize writes to a file and keeps metadata order, setting file_type in place', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const f32 = path.join(dir, 'f32.gguf');
    await convert(path.join(FIXTURES, 'llama/tiny-random-gqa/hf'), f32, { type: 'F32', quantizer: q });
    const out = path.join(dir, 'q4.gguf');
    await quantize(f32, out, { type: 'Q4_0', quantizer: q });
    const a = readGGUF(f32);
    const b = readGGUF(out);
    assert.deepEqual(b.metadata.map((m) => m.key), a.metadata.map((m) => m.key));
    assert.equal(b.get('general.file_type'), 2);
    assert.equal(b.tensorByName.get('output.weight').type, GGMLType.Q8_0); // 64 % 256 != 0
    a.close();
    b.close();
    await assert.rejects(quantize(out, out, { type: 'Q8_0', quantizer: q }), /same file/);
  } finally {
    cleanup();
  }
});

// ------------------------------------------------------- input variations

/** Rewrite a folder's model.safetensors with its tensors in another dtype / in shards. */
function rewriteWeights(dir, { dtype = 'F32', shards = 1 } = {}) {
  const src = new SafetensorsModel(dir);
  const tensors = src.names().map((n) => {
    const t = src.get(n);
    const f32 = src.readF32(t);
    const rows = f32.length / (t.shape[t.shape.length - 1] || 1);
    const data = dtype === 'F32' ? f32 : q.quantize(dtype === 'F16' ? GGMLType.F16 : GGMLType.BF16, f32, rows, f32.length / rows);
    return { name: n, dtype, shape: t.shape, data };
  });
  src.close();
  fs.rmSync(path.join(dir, 'model.safetensors'));
  if (shards === 1) {
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    return;
  }
  const weightMap = {};
  const per = Math.ceil(tensors.length / shards);
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(s * per, (s + 1) * per);
    writeSafetensors(path.join(dir, file), part);
    for (const t of part) weightMap[t.name] = file;
  }
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
}

test('sharded safetensors (model.safetensors.index.json) convert to the same file', async (t) => {
  const { dir, cleanup } = tempDir();
  try {
    for (const c of [CONVERT_CASES[0], CONVERT_CASES[4]]) {
      const d = copyFixture(c.dir, path.join(dir, c.dir.replaceAll('/', '_')));
      rewriteWeights(d, { shards: 3 });
      assert.ok(fs.existsSync(path.join(d, 'model-00003-of-00003.safetensors')));
      const { bytes } = await convertToBytes(d, { type: 'Q8_0', heads: 'none' });
      t.diagnostic(assertIdentical(`${c.dir} sharded Q8_0`, bytes, loadManifest(c.refs.Q8_0)));
    }
  } finally {
    cleanup();
  }
});

test('F16 and BF16 checkpoints: F16 output equals the reference, BF16 widens exactly', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const c = CONVERT_CASES[1]; // llama tiny-random-gqa (permuted q/k)
    const d16 = copyFixture(c.dir, path.join(dir, 'f16'));
    rewriteWeights(d16, { dtype: 'F16' });
    const { bytes } = await convertToBytes(d16, { type: 'F16' });
    const ref = loadManifest(c.refs.F16);
    const r = compareWithManifest(bytes, ref);
    // the 2-D weights were rounded to F16 once either way; the F32 norms now carry F16-rounded values
    const f32Names = new Set(ref.tensors.filter((x) => x.type === GGMLType.F32).map((x) => x.name));
    assert.deepEqual(r.badTensors.filter((n) => !f32Names.has(n)), []);
    assert.deepEqual(r.badKeys, []);

    const dbf = copyFixture(c.dir, path.join(dir, 'bf16'));
    rewriteWeights(dbf, { dtype: 'BF16' });
    const { bytes: b2 } = await convertToBytes(dbf, { type: 'F32' });
    const out = readGGUF(b2);
    const orig = new SafetensorsModel(path.join(FIXTURES, c.dir));
    const w = orig.readF32(orig.get('model.layers.0.mlp.up_proj.weight'));
    const bf = new Float32Array(out.readTensor('blk.0.ffn_up.weight').slice().buffer);
    const expect = new Float32Array(w.length);
    const u = new Uint32Array(expect.buffer);
    const uw = new Uint32Array(w.buffer, w.byteOffset, w.length);
    for (let i = 0; i < w.length; i++) {
      // round-to-nearest-even to bf16, then widen
      const x = uw[i];
      u[i] = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) << 16;
    }
    assert.deepEqual(bf, expect);
    assert.equal(out.tensorByName.get('blk.0.attn_norm.weight').type, GGMLType.F32);
    orig.close();
    out.close();
  } finally {
    cleanup();
  }
});

test('slow-tokenizer folders: vocab.txt (BERT), vocab.json + merges.txt (GPT-2) give the same vocabulary', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const [sub, keys] of [
      ['bert/hf', ['tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type']],
      ['gpt2/hf', ['tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.add_bos_token']],
    ]) {
      const d = copyFixture(sub, path.join(dir, sub.replaceAll('/', '_')));
      fs.rmSync(path.join(d, 'tokenizer.json'));
      const { bytes } = await convertToBytes(d, { type: 'F32', heads: 'none' });
      const { bytes: ref } = await convertToBytes(path.join(FIXTURES, sub), { type: 'F32', heads: 'none' });
      const a = readGGUF(bytes);
      const b = readGGUF(ref);
      for (const k of keys) assert.deepEqual(a.get(k), b.get(k), `${sub}: ${k}`);
      a.close();
      b.close();
    }
  } finally {
    cleanup();
  }
});

test('Q4_0: an output matrix whose rows are a multiple of 256 becomes Q6_K (llama-quantize), with a small error', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const d = copyFixture('llama/tiny-random-gqa/hf', path.join(dir, 'wide'));
    const E = 256;
    const config = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    Object.assign(config, { hidden_size: E, head_dim: 64, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 512, num_hidden_layers: 1 });
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(config));
    let seed = 3;
    const rand = (n, s) => Float32Array.from({ length: n }, () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return (seed / 2 ** 32 - 0.5) * s;
    });
    const V = config.vocab_size;
    const t = (name, shape, s = 0.1) => ({ name, dtype: 'F32', shape, data: rand(shape.reduce((a, b) => a * b, 1), s) });
    fs.rmSync(path.join(d, 'model.safetensors'));
    writeSafetensors(path.join(d, 'model.safetensors'), [
      t('model.embed_tokens.weight', [V, E]), t('lm_head.weight', [V, E]), t('model.norm.weight', [E], 2),
      t('model.layers.0.input_layernorm.weight', [E], 2), t('model.layers.0.post_attention_layernorm.weight', [E], 2),
      t('model.layers.0.self_attn.q_proj.weight', [E, E]), t('model.layers.0.self_attn.k_proj.weight', [128, E]),
      t('model.layers.0.self_attn.v_proj.weight', [128, E]), t('model.layers.0.self_attn.o_proj.weight', [E, E]),
      t('model.layers.0.mlp.gate_proj.weight', [512, E]), t('model.layers.0.mlp.up_proj.weight', [512, E]), t('model.layers.0.mlp.down_proj.weight', [E, 512]),
    ]);
    const { bytes } = await convertToBytes(d, { type: 'Q4_0' });
    const f = readGGUF(bytes);
    assert.equal(f.tensorByName.get('output.weight').type, GGMLType.Q6_K);
    assert.equal(f.tensorByName.get('token_embd.weight').type, GGMLType.Q4_0);
    assert.equal(f.tensorByName.get('blk.0.ffn_down.weight').type, GGMLType.Q4_0);
    const src = new SafetensorsModel(d);
    const ref = src.readF32(src.get('lm_head.weight'));
    const out = f.tensorByName.get('output.weight');
    const deq = q.dequantize(out.type, f.readTensor(out), V, E);
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(ref[i] - deq[i]));
    assert.ok(err < 0.05 * 0.1, `Q6_K max error ${err}`); // 6-bit: about 1/64 of the block range
    // the file the Python converter would make at F32, quantized by llama-quantize's rules, is the same file
    const f32 = (await convertToBytes(d, { type: 'F32' })).bytes;
    const sink = GGUFWriter.memorySink();
    await quantize(f32, sink, { type: 'Q4_0', quantizer: q });
    assert.deepEqual(sink.bytes(), bytes);
    src.close();
    f.close();
  } finally {
    cleanup();
  }
});
