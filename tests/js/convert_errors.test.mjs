// Bad input to convert / quantize / inspect: clear errors that name the file and
// the tensor, and no output file left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { convert } from '../../js/convert/convert.js';
import { quantize } from '../../js/convert/quantize.js';
import { inspectGGUF } from '../../js/convert/inspect.js';
import { Quantizer } from '../../js/convert/quant.js';
import { SafetensorsModel, writeSafetensors } from '../../js/convert/safetensors.js';
import { FIXTURES, tempDir, copyFixture } from './convert_helpers.mjs';

let q;
let tmp;
before(async () => {
  q = await Quantizer.create();
  tmp = tempDir();
});
after(() => {
  q?.dispose();
  tmp?.cleanup();
});

let n = 0;
function folder(sub = 'gpt2/hf') {
  return copyFixture(sub, path.join(tmp.dir, `case${n++}`));
}

async function expectError(dir, re, opts = {}) {
  const out = path.join(tmp.dir, `out${n++}.gguf`);
  await assert.rejects(convert(dir, out, { quantizer: q, type: 'F16', ...opts }), re);
  assert.ok(!fs.existsSync(out), 'no partial output file is left');
}

function editConfig(dir, fn) {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(fn(JSON.parse(fs.readFileSync(file, 'utf8')))));
}

function rewriteTensors(dir, fn) {
  const src = new SafetensorsModel(dir);
  const tensors = src.names().map((x) => ({ name: x, dtype: 'F32', shape: src.get(x).shape, data: src.readF32(src.get(x)) }));
  src.close();
  fs.rmSync(path.join(dir, 'model.safetensors'));
  writeSafetensors(path.join(dir, 'model.safetensors'), fn(tensors));
}

test('missing folder / config.json', async () => {
  await expectError(path.join(tmp.dir, 'nope'), /nope: no such folder/);
  const d = folder();
  fs.rmSync(path.join(d, 'config.json'));
  await expectError(d, new RegExp(`${d}: missing config\\.json`));
});

test('config.json that is not JSON, without architectures, or with an unknown architecture', async () => {
  const d = folder();
  fs.writeFileSync(path.join(d, 'config.json'), '{"architectures": [');
  await expectError(d, /config\.json: not valid JSON/);
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
  await expectError(d, /config\.json: no "architectures" list/);
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ architectures: ['MambaForCausalLM'] }));
  await expectError(d, /config\.json: unknown architecture MambaForCausalLM \(plm-wasm converts GPT2LMHeadModel, LlamaForCausalLM, BertModel/);
});

test('missing or invalid hyper-parameters name the key', async () => {
  const d = folder();
  editConfig(d, (c) => ({ ...c, n_embd: undefined }));
  await expectError(d, /config\.json: missing "n_embd"/);
  editConfig(d, (c) => ({ ...c, n_embd: 64, n_head: 0 }));
  await expectError(d, /"n_head" must be a positive integer/);
});

test('truncated safetensors names the file and the first tensor cut off', async () => {
  const d = folder();
  const file = path.join(d, 'model.safetensors');
  const size = fs.statSync(file).size;
  fs.truncateSync(file, size - 1000);
  await expectError(d, /model\.safetensors: truncated file: tensor transformer\.wte\.weight needs data up to byte \d+, file has \d+/);
  fs.truncateSync(file, 5);
  await expectError(d, /model\.safetensors: truncated safetensors file/);
  fs.writeFileSync(file, Buffer.concat([Buffer.from([16, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a": [1, 2, 3}  ')]));
  await expectError(d, /model\.safetensors: safetensors header is not valid JSON/);
});

test('a tensor whose shape disagrees with config.json names file, tensor and both shapes', async () => {
  const d = folder();
  rewriteTensors(d, (ts) => ts.map((t) => (t.name === 'transformer.h.1.mlp.c_fc.weight' ? { ...t, shape: [256, 64] } : t)));
  await expectError(d, /model\.safetensors: tensor transformer\.h\.1\.mlp\.c_fc\.weight has shape \[256, 64\], expected \[64, 256\] from config\.json/);
  const l = folder('llama/tiny-random-gqa/hf');
  editConfig(l, (c) => ({ ...c, num_key_value_heads: 4 }));
  await expectError(l, /tensor model\.layers\.0\.self_attn\.k_proj\.weight has shape \[32, 64\], expected \[64, 64\]/);
});

test('data_offsets that disagree with the shape, unknown dtypes, integer weights', async () => {
  const d = folder();
  const file = path.join(d, 'model.safetensors');
  const buf = fs.readFileSync(file);
  const hlen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + hlen).toString());
  header['transformer.ln_f.bias'].shape = [65];
  const patched = Buffer.from(JSON.stringify(header).padEnd(hlen, ' '));
  assert.equal(patched.length, hlen);
  fs.writeFileSync(file, Buffer.concat([buf.subarray(0, 8), patched, buf.subarray(8 + hlen)]));
  await expectError(d, /tensor transformer\.ln_f\.bias: shape \[65\] of F32 needs 260 bytes, data_offsets span 256/);
  header['transformer.ln_f.bias'].shape = [64];
  header['transformer.ln_f.bias'].dtype = 'Q4';
  fs.writeFileSync(file, Buffer.concat([buf.subarray(0, 8), Buffer.from(JSON.stringify(header).padEnd(hlen, ' ')), buf.subarray(8 + hlen)]));
  await expectError(d, /tensor transformer\.ln_f\.bias: unknown dtype "Q4"/);
  header['transformer.ln_f.bias'].dtype = 'I32';
  fs.writeFileSync(file, Buffer.concat([buf.subarray(0, 8), Buffer.from(JSON.stringify(header).padEnd(hlen, ' ')), buf.subarray(8 + hlen)]));
  await expectError(d, /tensor transformer\.ln_f\.bias has dtype I32; only F32, F16, BF16/);
});

test('missing and unexpected tensors', async () => {
  const d = folder('llama/tiny-random-gqa/hf');
  rewriteTensors(d, (ts) => ts.filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'));
  await expectError(d, /missing tensor\(s\) a llama model needs: model\.layers\.1\.mlp\.up_proj\.weight/);
  const e = folder('llama/tiny-random-gqa/hf');
  rewriteTensors(e, (ts) => [...ts, { name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32', shape: [8], data: new Float32Array(8) }, { name: 'model.extra.weight', dtype: 'F32', shape: [2], data: new Float32Array(2) }]);
  await expectError(e, /model\.safetensors: cannot map tensor model\.extra\.weight to a GGUF name/);
  const f = folder('llama/tiny-random-gqa/hf');
  rewriteTensors(f, (ts) => [...ts, { name: 'model.layers.7.mlp.up_proj.weight', dtype: 'F32', shape: [128, 64], data: new Float32Array(128 * 64) }]);
  await expectError(f, /tensor model\.layers\.7\.mlp\.up_proj\.weight belongs to block 7, but config\.json has 2 layers/);
});

test('shards: index naming a missing file, or disagreeing with the shards', async () => {
  const d = folder();
  const names = new SafetensorsModel(d).names();
  const weightMap = Object.fromEntries(names.map((x, i) => [x, i % 2 ? 'model-00002-of-00002.safetensors' : 'model.safetensors']));
  fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
  await expectError(d, /model\.safetensors\.index\.json: shard file\(s\) missing from .*: model-00002-of-00002\.safetensors/);
  fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...Object.fromEntries(names.map((x) => [x, 'model.safetensors'])), 'transformer.h.9.ln_1.weight': 'model.safetensors' } }));
  await expectError(d, /weight map and shards disagree; missing tensors: transformer\.h\.9\.ln_1\.weight/);
  fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), '{}');
  await expectError(d, /model\.safetensors\.index\.json: no "weight_map" object/);
});

test('no weights / only pytorch_model.bin / no tokenizer', async () => {
  const d = folder();
  fs.rmSync(path.join(d, 'model.safetensors'));
  await expectError(d, /no model\*\.safetensors file found/);
  fs.writeFileSync(path.join(d, 'pytorch_model.bin'), 'x');
  await expectError(d, /only PyTorch pickles \(pytorch_model\.bin\) found; plm-wasm converts safetensors only/);
  const t = folder();
  for (const f of ['tokenizer.json', 'vocab.json', 'merges.txt']) fs.rmSync(path.join(t, f));
  await expectError(t, /no tokenizer found/);
  const s = folder('t5/v1_0/hf');
  fs.writeFileSync(path.join(s, 'spiece.model'), Buffer.from([0x0a, 0x50, 0x01]));
  await expectError(s, /spiece\.model: invalid sentencepiece model/);
});

test('bad output type; GGUF inputs that are not GGUF or are truncated', async () => {
  await expectError(path.join(FIXTURES, 'gpt2/hf'), /unknown output type Q5_K/, { type: 'Q5_K' });
  const bad = path.join(tmp.dir, 'bad.gguf');
  fs.writeFileSync(bad, 'not a gguf file at all');
  assert.throws(() => inspectGGUF(bad), /bad\.gguf: not a GGUF file/);
  await assert.rejects(quantize(bad, path.join(tmp.dir, 'q.gguf'), { type: 'Q8_0', quantizer: q }), /not a GGUF file/);
  const good = path.join(tmp.dir, 'good.gguf');
  await convert(path.join(FIXTURES, 'gpt2/hf'), good, { type: 'F32', quantizer: q });
  const cut = path.join(tmp.dir, 'cut.gguf');
  fs.writeFileSync(cut, fs.readFileSync(good).subarray(0, fs.statSync(good).size - 100));
  assert.throws(() => inspectGGUF(cut), /cut\.gguf: truncated file: tensor token_embd\.weight needs bytes up to \d+, file has \d+/);
  fs.writeFileSync(cut, fs.readFileSync(good).subarray(0, 2000));
  assert.throws(() => inspectGGUF(cut), /cut\.gguf: truncated GGUF header/);
  await assert.rejects(quantize(good, path.join(tmp.dir, 'q.gguf'), { type: 'Q3_K', quantizer: q }), /unknown type Q3_K/);
});
