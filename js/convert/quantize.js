// Re-quantize a GGUF file (F32/F16 -> Q8_0 / Q4_0 / F16), streaming tensor by tensor.
//
// Per-tensor types follow the same rules as `convert` (types.js): Q4_0 uses
// llama-quantize's default mix (output / tied embeddings -> Q6_K or Q8_0; norms,
// position/token-type embeddings and T5's relative-position bias are copied),
// Q8_0 and F16 use convert_hf_to_gguf.py's rules, so quantizing the F32
// conversion gives exactly the file `convert --type Q8_0` gives. Metadata is
// copied in order; general.file_type and general.quantization_version are set
// (in place when present), as llama-quantize does. Tensor order is kept.
import { GGMLType, GGML_QUANT_VERSION, GGUFValueType as VT, typeName, tensorBytes } from './constants.js';
import { readGGUF } from './gguf-reader.js';
import { GGUFWriter } from './gguf-writer.js';
import { OUTPUT_TYPES, fileTypeOf, typeRule } from './types.js';
import { Quantizer } from './quant.js';

const FLOAT_TYPES = new Set([GGMLType.F32, GGMLType.F16, GGMLType.BF16]);
const QUANTIZE_TARGETS = ['Q8_0', 'Q4_0', 'F16', 'BF16', 'F32'];

/**
 * @param {string|Uint8Array} input   GGUF path (or bytes)
 * @param {string|{write(u8: Uint8Array): void}} out  output path or sink
 * @param {object} opts
 * @param {'Q8_0'|'Q4_0'|'F16'|'BF16'|'F32'} opts.type
 * @param {boolean} [opts.allowRequantize]  allow re-quantizing already quantized tensors
 * @param {boolean} [opts.currentLayout]    the layout of current llama-quantize: tensors ordered by (block, name),
 *   general.quantization_version and general.file_type moved to the end of the metadata (default: the
 *   layout of older releases - input order, keys updated in place)
 * @param {Quantizer} [opts.quantizer]
 * @param {import("../core/engine.js").Engine} [opts.engine]
 */
export async function quantize(input, out, opts = {}) {
  const key = String(opts.type ?? '').toUpperCase();
  if (!QUANTIZE_TARGETS.includes(key)) throw new Error(`quantize: unknown type ${opts.type} (expected ${QUANTIZE_TARGETS.join(', ')})`);
  const outType = OUTPUT_TYPES[key];
  if (typeof input === 'string' && typeof out === 'string' && input === out) throw new Error(`quantize: input and output are the same file (${input})`);
  const f = readGGUF(input);
  let q = opts.quantizer;
  let ownQ = false;
  let w = null;
  try {
    const rule = typeRule(outType, { hasOutput: f.tensorByName.has('output.weight') });
    const plan = f.tensors.map((t) => {
      let type = rule(t.name, t.shape, t.type);
      // an already quantized tensor is only re-quantized on request (as llama-quantize)
      if (type !== t.type && !FLOAT_TYPES.has(t.type) && !opts.allowRequantize) {
        throw new Error(`${f.path}: tensor ${t.name} is already ${typeName(t.type)}; re-quantizing to ${typeName(type)} loses precision (allowRequantize / --allow-requantize to do it anyway)`);
      }
      if (type !== t.type) tensorBytes(type, t.shape); // throws for impossible row lengths
      return { t, type };
    });
    if (opts.currentLayout) {
      // current llama-quantize: tensors ordered by (block index, name), non-block ones first
      const blk = (n) => (/^blk\.(\d+)\./.exec(n) ? Number(RegExp.$1) : -1);
      plan.sort((a, b) => blk(a.t.name) - blk(b.t.name) || (a.t.name < b.t.name ? -1 : a.t.name > b.t.name ? 1 : 0));
    }

    w = new GGUFWriter({ alignment: f.alignment });
    for (const m of f.metadata) {
      if (m.key.startsWith('split.')) continue; // a single output file
      if (opts.currentLayout && (m.key === 'general.quantization_version' || m.key === 'general.file_type')) continue;
      w.addKeyValue(m.key, m.value, m.type, m.itemType);
    }
    w.addKeyValue('general.quantization_version', GGML_QUANT_VERSION, VT.UINT32);
    w.addKeyValue('general.file_type', fileTypeOf(outType), VT.UINT32);
    for (const { t, type } of plan) w.addTensorInfo(t.name, t.shape, type);

    if (!q) {
      q = await Quantizer.create({ engine: opts.engine });
      ownQ = true;
    }
    w.open(out);
    const chunkElements = opts.chunkElements ?? 1 << 20;
    let buf = null;
    const scratch = (n) => {
      if (!buf || buf.length < n) buf = new Uint8Array(n);
      return buf.subarray(0, n);
    };
    plan.forEach(({ t, type }, i) => {
      opts.onProgress?.({ index: i, total: plan.length, name: t.name, type: typeName(type) });
      w.beginTensor(t.name);
      const rowLen = t.ne[0];
      const rows = t.nelements / rowLen;
      const step = Math.max(1, Math.floor(chunkElements / rowLen));
      const rb = t.nbytes / rows;
      for (let r0 = 0; r0 < rows; r0 += step) {
        const n = Math.min(step, rows - r0);
        if (type === t.type) {
          w.writeChunk(f.readTensorRows(t, r0, n, scratch(n * rb)));
        } else {
          // raw rows straight into wasm memory, dequantized and quantized there
          f.readTensorRows(t, r0, n, q.rawInput(n * rb));
          w.writeChunk(q.requantize(t.type, type, n, rowLen));
        }
      }
      w.endTensor();
    });
    w.close();
    return {
      type: typeName(outType),
      bytes: w.bytesWritten,
      tensors: plan.map(({ t, type }) => ({ name: t.name, from: typeName(t.type), type: typeName(type), shape: t.shape })),
    };
  } catch (e) {
    w?.abort();
    throw e;
  } finally {
    f.close();
    if (ownQ) q?.dispose();
  }
}
