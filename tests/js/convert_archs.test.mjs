// plm-wasm convert on the Hugging Face folders of tests/fixtures/archs (qwen3, gemma2,
// gemma3, phi3, XLM-RoBERTa, nomic-bert) against the GGUF files there, which are llama.cpp's
// convert_hf_to_gguf.py output (Q4_0: llama-quantize of the F32 file): every tensor and
// metadata key identical, same order, and - given the reference's general.name - the same
// bytes for the whole file. (The Q4_0 files come from a current llama-quantize: quantize's
// currentLayout option.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { convert } from '../../js/convert/convert.js';
import { quantize } from '../../js/convert/quantize.js';
import { Quantizer } from '../../js/convert/quant.js';
import { GGUFWriter } from '../../js/convert/gguf-writer.js';
import { FIXTURES, manifestOf, compareWithManifest } from './convert_helpers.mjs';

const ARCHS = {
  qwen3: ['F32', 'Q8_0', 'Q4_0'],
  gemma2: ['F32', 'Q8_0', 'Q4_0'],
  gemma3: ['F32', 'Q8_0', 'Q4_0'],
  phi3: ['F32', 'Q8_0', 'Q4_0'],
  'xlm-roberta': ['F32', 'F16', 'Q8_0'],
  'nomic-bert': ['F32', 'F16', 'Q8_0'],
};

let q;
before(async () => {
  q = await Quantizer.create();
});
after(() => q?.dispose());

for (const [arch, types] of Object.entries(ARCHS)) {
  test(`convert ${arch} == llama.cpp's files (${types.join(', ')})`, async (t) => {
    const dir = path.join(FIXTURES, 'archs', arch);
    const name = `${arch}-tiny-random`;
    let f32;
    for (const type of types) {
      const refFile = path.join(dir, `${name}-${type}.gguf`);
      const ref = manifestOf(refFile);
      let bytes;
      if (type === 'Q4_0') {
        const sink = GGUFWriter.memorySink();
        await quantize(f32, sink, { type, quantizer: q, currentLayout: true });
        bytes = sink.bytes();
      } else {
        const sink = GGUFWriter.memorySink();
        await convert(path.join(dir, 'hf'), sink, { type, quantizer: q, heads: 'none', name });
        bytes = sink.bytes();
        if (type === 'F32') f32 = bytes;
      }
      const r = compareWithManifest(bytes, ref);
      const summary = `${arch} ${type}: ${r.tensorsIdentical}/${r.tensors} tensors, ${r.keysIdentical}/${r.keys} keys identical`;
      assert.deepEqual(r.badTensors, [], `${summary}; tensors differ: ${r.badTensors.join(', ')}`);
      assert.deepEqual(r.badKeys, [], `${summary}; keys differ: ${r.badKeys.join(', ')}`);
      assert.deepEqual([r.extraTensors, r.extraKeys], [[], []], summary);
      assert.ok(r.tensorOrderSame && r.keyOrderSame, `${summary}; order differs`);
      assert.ok(Buffer.from(bytes).equals(fs.readFileSync(refFile)), `${summary}; whole file differs`);
      t.diagnostic(summary);
    }
  });
}
