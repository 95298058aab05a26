// GGUF writer / reader, safetensors and sentencepiece readers, type rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GGUFWriter } from '../../js/convert/gguf-writer.js';
import { readGGUF } from '../../js/convert/gguf-reader.js';
import { GGUFValueType as VT, GGMLType, tensorBytes } from '../../js/convert/constants.js';
import { parseSentencePieceModel, PieceType } from '../../js/convert/sentencepiece.js';
import { writeSafetensors, SafetensorsModel } from '../../js/convert/safetensors.js';
import { converterType, quantizeType } from '../../js/convert/types.js';
import { sizeLabel } from '../../js/convert/convert.js';
import { FIXTURES, tempDir } from './convert_helpers.mjs';

test('writer: every value type, nested arrays, raw strings, in-place replacement; reader round-trips them', () => {
  const w = new GGUFWriter();
  w.addString('general.architecture', 'test');
  w.addUint8('u8', 255).addInt8('i8', -128).addUint16('u16', 65535).addInt16('i16', -32768);
  w.addUint32('u32', 4294967295).addInt32('i32', -2147483648).addFloat32('f32', 0.1).addFloat64('f64', 0.1);
  w.addBool('t', true).addBool('f', false).addUint64('u64', 2n ** 64n - 1n).addInt64('i64', -(2n ** 63n));
  w.addString('s', 'h\u00e9llo \u2581 \ufeff');
  w.addKeyValue('raw', new Uint8Array([0xff, 0xfe, 0x41]), VT.STRING);
  w.addArray('strs', ['a', '', '\u{1F600}']);
  w.addArray('ints', [1, 2, 3]); // inferred INT32, as gguf-py
  w.addArray('floats', [1, 2.5]); // inferred FLOAT32
  w.addArray('bools', [true, false]);
  w.addArray('u8s', new Uint8Array([1, 2, 3]));
  w.addArray('u64s', [1n, 2n], VT.UINT64);
  w.addArray('nested', [['a', 'b'], { itemType: VT.INT32, value: [7] }, [[1.5], []].map((v) => ({ itemType: VT.FLOAT32, value: v }))]);
  w.addUint32('u32', 7); // replaced in place
  w.addTensorInfo('x', [3, 32], GGMLType.Q8_0);
  w.addTensorInfo('y', [5], GGMLType.F32);
  const sink = GGUFWriter.memorySink();
  w.open(sink);
  const qx = new Uint8Array(tensorBytes(GGMLType.Q8_0, [3, 32])).map((_, i) => i);
  w.writeTensor('x', qx);
  w.beginTensor('y');
  w.writeChunk(new Float32Array([1, 2]));
  w.writeChunk(new Float32Array([3, 4, 5]));
  w.endTensor();
  w.close();
  const bytes = sink.bytes();
  assert.equal(bytes.length % 32, 0, 'file padded to the alignment');

  const f = readGGUF(bytes);
  assert.deepEqual(f.metadata.map((m) => m.key).slice(0, 6), ['general.architecture', 'u8', 'i8', 'u16', 'i16', 'u32']);
  assert.equal(f.get('u32'), 7);
  assert.equal(f.get('i32'), -2147483648);
  assert.equal(f.get('f32'), Math.fround(0.1));
  assert.equal(f.get('f64'), 0.1);
  assert.equal(f.get('u64'), 2n ** 64n - 1n);
  assert.equal(f.get('i64'), -(2n ** 63n));
  assert.equal(f.get('s'), 'h\u00e9llo \u2581 \ufeff');
  assert.deepEqual(f.get('raw'), new Uint8Array([0xff, 0xfe, 0x41]));
  assert.deepEqual(f.get('strs'), ['a', '', '\u{1F600}']);
  assert.equal(f.kv.get('ints').itemType, VT.INT32);
  assert.equal(f.kv.get('floats').itemType, VT.FLOAT32);
  assert.deepEqual(Array.from(f.get('floats')), [1, 2.5]);
  assert.deepEqual(f.get('bools'), [true, false]);
  assert.deepEqual(f.get('u64s'), new BigUint64Array([1n, 2n]));
  const nested = f.kv.get('nested');
  assert.equal(nested.itemType, VT.ARRAY);
  assert.deepEqual(nested.value[0], { itemType: VT.STRING, value: ['a', 'b'] });
  assert.deepEqual(Array.from(nested.value[1].value), [7]);
  assert.equal(nested.value[2].itemType, VT.ARRAY);
  assert.deepEqual(Array.from(nested.value[2].value[0].value), [1.5]);
  assert.deepEqual(f.readTensor('x'), qx);
  assert.deepEqual(new Float32Array(f.readTensor('y').slice().buffer), new Float32Array([1, 2, 3, 4, 5]));
  assert.equal(f.tensorByName.get('y').offset, 128); // 102 bytes of x padded to 128

  // copying a file through the writer gives the same bytes
  const w2 = new GGUFWriter();
  for (const m of f.metadata) w2.addKeyValue(m.key, m.value, m.type, m.itemType);
  for (const t of f.tensors) w2.addTensorInfo(t.name, t.shape, t.type);
  const s2 = GGUFWriter.memorySink();
  w2.open(s2);
  for (const t of f.tensors) w2.writeTensor(t.name, f.readTensor(t));
  w2.close();
  assert.deepEqual(s2.bytes(), bytes);
});

test('writer: custom alignment, validation errors', () => {
  const w = new GGUFWriter();
  w.addCustomAlignment(64);
  w.addTensorInfo('a', [3], GGMLType.F32);
  w.addTensorInfo('b', [3], GGMLType.F32);
  const sink = GGUFWriter.memorySink();
  w.open(sink);
  w.writeTensor('a', new Float32Array(3));
  assert.throws(() => w.writeTensor('c', new Float32Array(3)), /expected tensor b next/);
  assert.throws(() => w.close(), /1 declared tensor\(s\) not written \(b\)/);
  const f = readGGUF(new Uint8Array([...sink.bytes(), ...new Uint8Array(64)]));
  assert.equal(f.alignment, 64);
  assert.equal(f.dataOffset % 64, 0);
  assert.equal(f.tensorByName.get('b').offset, 64);

  const v = new GGUFWriter();
  assert.throws(() => v.addUint8('x', 256), /256 is not a valid UINT8/);
  assert.throws(() => v.addUint32('x', -1), /not a valid UINT32/);
  assert.throws(() => v.addUint32('general.alignment', 48), /power of two/);
  assert.throws(() => v.addArray('x', []), /empty array/);
  assert.throws(() => v.addTensorInfo('t', [3, 30], GGMLType.Q8_0), /tensor t: row of 30 elements is not a multiple of the Q8_0 block size 32/);
  assert.throws(() => v.addTensorInfo('t', [1, 2, 3, 4, 5], GGMLType.F32), /1 to 4 dimensions/);
  v.addTensorInfo('t', [2], GGMLType.F32);
  assert.throws(() => v.addTensorInfo('t', [2], GGMLType.F32), /duplicate tensor name t/);
  v.open(GGUFWriter.memorySink());
  assert.throws(() => v.writeTensor('t', new Float32Array(3)), /12 bytes written, declared size is 8/);
});

test('writer streams to a file; abort() removes it', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'x.gguf');
    const w = new GGUFWriter();
    w.addString('general.architecture', 'x');
    w.addTensorInfo('t', [4], GGMLType.F32);
    w.open(file);
    w.writeTensor('t', new Float32Array([1, 2, 3, 4]));
    w.close();
    assert.equal(readGGUF(file).get('general.architecture'), 'x');
    const w2 = new GGUFWriter();
    w2.addTensorInfo('t', [4], GGMLType.F32);
    w2.open(path.join(dir, 'y.gguf'));
    w2.abort();
    assert.ok(!fs.existsSync(path.join(dir, 'y.gguf')));
  } finally {
    cleanup();
  }
});

test('sentencepiece protobuf: pieces, types, normalizer and trainer fields', () => {
  const t5 = parseSentencePieceModel(fs.readFileSync(path.join(FIXTURES, 't5/v1_0/hf/spiece.model')));
  assert.equal(t5.pieces.length, 1000);
  assert.deepEqual(t5.pieces.slice(0, 3).map((p) => [p.piece, p.type]), [['<pad>', PieceType.CONTROL], ['</s>', PieceType.CONTROL], ['<unk>', PieceType.UNKNOWN]]);
  assert.equal(t5.trainer.model_type, 1);
  assert.equal(t5.normalizer.name, 'nmt_nfkc');
  assert.equal(t5.normalizer.add_dummy_prefix, true);
  assert.equal(t5.normalizer.remove_extra_whitespaces, true);
  assert.equal(t5.normalizer.precompiled_charsmap.length, 237561);
  const llama = parseSentencePieceModel(fs.readFileSync(path.join(FIXTURES, 'llama/stories260K/hf/tokenizer.model')));
  assert.equal(llama.trainer.model_type, 2);
  assert.equal(llama.trainer.byte_fallback, true);
  assert.deepEqual(llama.pieces.slice(3, 5).map((p) => [p.piece, p.type]), [['<0x00>', PieceType.BYTE], ['<0x01>', PieceType.BYTE]]);
  assert.throws(() => parseSentencePieceModel(new Uint8Array([0x0a, 0x05, 0x0a])), /invalid sentencepiece model/);
});

test('safetensors: writer + reader, row reads, F16/BF16 widening', () => {
  const { dir, cleanup } = tempDir();
  try {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00]); // 1, -2, 2^-24, inf
    const bf16 = new Uint16Array([0x3f80, 0xc040]); // 1, -3
    writeSafetensors(path.join(dir, 'model.safetensors'), [
      { name: 'b', dtype: 'F16', shape: [2, 2], data: f16 },
      { name: 'a', dtype: 'BF16', shape: [2], data: bf16 },
      { name: 'c', dtype: 'F32', shape: [3, 2], data: () => new Float32Array([1, 2, 3, 4, 5, 6]) },
    ]);
    const m = new SafetensorsModel(dir);
    assert.deepEqual(m.names(), ['a', 'b', 'c']);
    assert.deepEqual(Array.from(m.readF32(m.get('b'))), [1, -2, 2 ** -24, Infinity]);
    assert.deepEqual(Array.from(m.readF32(m.get('a'))), [1, -3]);
    assert.deepEqual(Array.from(m.readRowsF32(m.get('c'), 1, 2)), [3, 4, 5, 6]);
    m.close();
  } finally {
    cleanup();
  }
});

test("type rules: converter (F16/Q8_0 with F16 fallback) and llama-quantize's Q4_0 mix", () => {
  assert.equal(converterType('blk.0.attn_norm.weight', [64], GGMLType.Q8_0), GGMLType.F32);
  assert.equal(converterType('blk.0.ffn_norm.weight', [64, 64], GGMLType.Q8_0), GGMLType.F32);
  assert.equal(converterType('position_embd.weight', [512, 64], GGMLType.F16), GGMLType.F32);
  assert.equal(converterType('blk.0.attn_q.bias', [64, 64], GGMLType.F16), GGMLType.F32);
  assert.equal(converterType('blk.0.ffn_down.weight', [64, 172], GGMLType.Q8_0), GGMLType.F16);
  assert.equal(converterType('blk.0.ffn_down.weight', [64, 172], GGMLType.F16), GGMLType.F16);
  assert.equal(quantizeType('output.weight', [32000, 4096], GGMLType.Q4_0, true), GGMLType.Q6_K);
  assert.equal(quantizeType('output.weight', [512, 64], GGMLType.Q4_0, true), GGMLType.Q8_0);
  assert.equal(quantizeType('token_embd.weight', [50257, 768], GGMLType.Q4_0, false), GGMLType.Q6_K);
  assert.equal(quantizeType('token_embd.weight', [50257, 768], GGMLType.Q4_0, true), GGMLType.Q4_0);
  assert.equal(quantizeType('enc.blk.0.attn_rel_b.weight', [32, 8], GGMLType.Q4_0, true), null);
  assert.equal(quantizeType('token_types.weight', [2, 64], GGMLType.Q4_0, true), null);
  assert.equal(quantizeType('blk.0.ffn_down.weight', [64, 172], GGMLType.Q4_0, true), GGMLType.F16);
  assert.equal(quantizeType('cls.output.weight', [3, 768], GGMLType.Q4_0, false), GGMLType.Q4_0);
});

test('size label as gguf-py writes it', () => {
  assert.equal(sizeLabel(141056), '141K');
  assert.equal(sizeLabel(260032), '260K');
  assert.equal(sizeLabel(1051322), '1.1M');
  assert.equal(sizeLabel(124439808), '124M');
  assert.equal(sizeLabel(6738415616), '6.7B');
});

test('reader: corrupted headers fail with an Error naming the input, never a crash', async () => {
  const { convert } = await import('../../js/convert/convert.js');
  const { Quantizer } = await import('../../js/convert/quant.js');
  const q = await Quantizer.create();
  const sink = GGUFWriter.memorySink();
  await convert(path.join(FIXTURES, 'gpt2/hf'), sink, { type: 'Q8_0', quantizer: q });
  q.dispose();
  const good = sink.bytes();
  const f0 = readGGUF(good);
  const headerEnd = f0.dataOffset;
  f0.close();
  let seed = 42;
  const rnd = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let failures = 0;
  for (let i = 0; i < 3000; i++) {
    const bad = good.slice();
    const flips = 1 + rnd(4);
    for (let k = 0; k < flips; k++) bad[rnd(headerEnd)] = rnd(256);
    try {
      readGGUF(bad).close();
    } catch (e) {
      failures++;
      assert.ok(e instanceof Error && e.message.startsWith('<buffer>:'), `unexpected failure: ${e?.stack ?? e}`);
    }
  }
  assert.ok(failures > 100, `${failures} corrupted files rejected`);
  const deep = new GGUFWriter();
  let v = { itemType: VT.INT32, value: [1] };
  for (let d = 0; d < 12; d++) v = { itemType: VT.ARRAY, value: [v] };
  deep.addKeyValue('deep', v.value, VT.ARRAY, VT.ARRAY);
  assert.throws(() => readGGUF(deep.headerBytes()), /nested deeper than 8/);
});
