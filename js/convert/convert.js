// Hugging Face folder -> GGUF, without Python.
//
//   import { convert } from 'plm-wasm/convert';
//   await convert('path/to/hf-folder', 'model.gguf', { type: 'Q8_0' });
//
// The output matches llama.cpp's convert_hf_to_gguf.py (tensor names, shapes,
// layouts, per-tensor types, metadata keys and values, tensor order); --type Q4_0
// gives what llama-quantize makes of the F32 conversion. Tensors are read,
// converted and written one at a time (large ones in row chunks), so memory stays
// far below the model size.
import fs from 'node:fs';
import path from 'node:path';
import { GGMLType, GGML_QUANT_VERSION, typeName, tensorBytes } from './constants.js';
import { GGUFWriter } from './gguf-writer.js';
import { SafetensorsModel, DTYPE_SIZE } from './safetensors.js';
import { archFor, supportedArchitectures } from './arch/index.js';
import { OUTPUT_TYPES, fileTypeOf, typeRule } from './types.js';
import { Quantizer } from './quant.js';

/** Tensors every architecture drops (ModelBase.prepare_tensors). */
const DROPPED_SUFFIXES = ['.attention.masked_bias', '.attention.bias', '.rotary_emb.inv_freq'];

/** gguf-py size_label: parameter count as "141K", "1.1B", ... */
export function sizeLabel(nParams) {
  let scaled;
  let suffix;
  if (nParams > 1e12) [scaled, suffix] = [nParams * 1e-12, 'T'];
  else if (nParams > 1e9) [scaled, suffix] = [nParams * 1e-9, 'B'];
  else if (nParams > 1e6) [scaled, suffix] = [nParams * 1e-6, 'M'];
  else [scaled, suffix] = [nParams * 1e-3, 'K'];
  const rounded = String(roundHalfEven(scaled)).replace(/^0+/, '');
  const fix = Math.max(2 - rounded.length, 0);
  return `${scaled.toFixed(fix)}${suffix}`;
}

function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** general.name: the folder's name (its parent's for a generic name such as "hf"). */
function defaultName(dir) {
  const abs = path.resolve(dir);
  const base = path.basename(abs);
  if (/^(hf|model|hf_model|checkpoint|weights)$/i.test(base)) return path.basename(path.dirname(abs)) || base;
  return base;
}

function readConfig(dir) {
  const configPath = path.join(dir, 'config.json');
  let text;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') {
      if (!fs.existsSync(dir)) throw new Error(`${dir}: no such folder`);
      throw new Error(`${dir}: missing config.json (not a Hugging Face model folder?)`);
    }
    throw new Error(`${configPath}: cannot read (${e.code ?? e.message})`);
  }
  let config;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new Error(`${configPath}: not valid JSON (${e.message})`);
  }
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new Error(`${configPath}: expected a JSON object`);
  return { config, configPath };
}

/** Pick the architecture module for a config.json. */
export function resolveArchitecture(config, configPath) {
  const archs = config.architectures;
  if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string') {
    throw new Error(`${configPath}: no "architectures" list, cannot tell which model this is`);
  }
  const arch = archFor(archs[0]);
  if (!arch) {
    throw new Error(`${configPath}: unknown architecture ${archs[0]} (plm-wasm converts ${supportedArchitectures().join(', ')})`);
  }
  return arch;
}

function parseOutType(type) {
  const key = String(type ?? 'F16').toUpperCase();
  const t = OUTPUT_TYPES[key];
  if (t === undefined) throw new Error(`unknown output type ${type} (expected one of ${Object.keys(OUTPUT_TYPES).join(', ')})`);
  return t;
}

/**
 * Plan a conversion without writing anything: the writer with all metadata and
 * tensor infos, the list of output tensors with their sources, shapes and types.
 * The caller owns `source` (the open safetensors files) and must close() it.
 */
export function planConversion(dir, opts = {}) {
  const { config, configPath } = readConfig(dir);
  const arch = resolveArchitecture(config, configPath);
  const outType = parseOutType(opts.type);
  const ctx = { dir, config, configPath, opts, warnings: [], arch, fileType: fileTypeOf(outType) };
  arch.init(ctx);
  const source = new SafetensorsModel(dir);
  ctx.source = source;
  try {
    const entries = [];
    const seen = new Map();
    const add = (e, from) => {
      if (seen.has(e.name)) throw new Error(`${dir}: tensors ${seen.get(e.name)} and ${from} both map to ${e.name}`);
      seen.set(e.name, from);
      entries.push(e);
    };
    for (const g of arch.extraTensors(ctx)) add({ ...g, transform: null, src: null }, '(generated)');
    for (const name of source.names()) {
      if (DROPPED_SUFFIXES.some((s) => name.endsWith(s))) continue;
      const src = source.get(name);
      for (const o of arch.mapTensor(src, ctx)) {
        if (!['F32', 'F16', 'BF16', 'F64'].includes(src.dtype)) {
          throw new Error(`${src.file.path}: tensor ${src.name} has dtype ${src.dtype}; only F32, F16, BF16 (and F64) weights can be converted`);
        }
        add({ ...o, src }, name);
      }
    }
    const produced = entries.map((e) => e.name);
    const have = new Set(produced);
    const missing = arch.required(ctx).filter(([g]) => !have.has(g));
    if (missing.length) {
      const list = missing.map(([, hf]) => hf);
      throw new Error(`${dir}: the checkpoint is missing tensor(s) a ${arch.name} model needs: ${list.slice(0, 5).join(', ')}${list.length > 5 ? `, ... (${list.length} in all)` : ''}`);
    }
    arch.checkHeads?.(produced, ctx);
    const cls = entries.find((e) => e.name === 'cls.output.weight');
    if (cls) ctx.classifierRows = cls.shape[0];

    const hasOutput = have.has('output.weight');
    const rule = typeRule(outType, { hasOutput });
    let nParams = 0;
    for (const e of entries) {
      e.type = rule(e.name, e.shape, GGMLType.F32);
      e.nbytes = tensorBytes(e.type, e.shape);
      nParams += e.shape.reduce((a, b) => a * b, 1);
    }

    // metadata, in the reference converter's key order
    const w = new GGUFWriter();
    w.addString('general.architecture', arch.name);
    w.addString('general.type', 'model');
    w.addString('general.name', opts.name ?? defaultName(dir));
    if (nParams > 0) w.addString('general.size_label', sizeLabel(nParams));
    arch.writeParameters(w, ctx);
    if (!arch.quantVersionAfterVocab) w.addUint32('general.quantization_version', GGML_QUANT_VERSION);
    const vocab = arch.writeVocab(w, ctx);
    if (vocab?.warnings) ctx.warnings.push(...vocab.warnings);
    if (arch.quantVersionAfterVocab) w.addUint32('general.quantization_version', GGML_QUANT_VERSION);
    for (const e of entries) w.addTensorInfo(e.name, e.shape, e.type);
    return { writer: w, entries, source, ctx, outType, nParams };
  } catch (e) {
    source.close();
    throw e;
  }
}

// ----------------------------------------------------------- tensor writing

function rowsOf(shape) {
  return shape.length > 1 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
}

/** out[c][r] = src[r][c] for a rows x cols matrix. */
function transposeInto(out, src, rows, cols) {
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = src[r * cols + c];
    }
  }
}

/**
 * LlamaModel.permute on whole heads: within each head of `d` rows, output row
 * 2b + a comes from input row a * d/2 + b (a in {0, 1}).
 */
function permuteHeadsInto(out, src, nHeads, d, cols) {
  const half = d / 2;
  for (let h = 0; h < nHeads; h++) {
    const base = h * d;
    for (let r = 0; r < d; r++) {
      const from = base + (r & 1) * half + (r >> 1);
      out.set(src.subarray(from * cols, (from + 1) * cols), (base + r) * cols);
    }
  }
}

const RAW_DTYPE = { [GGMLType.F32]: 'F32', [GGMLType.F16]: 'F16', [GGMLType.BF16]: 'BF16' };

/** Reused JS buffers of one conversion (tensors are written one at a time). */
class Scratch {
  f32(n) {
    if (!this.f || this.f.length < n) this.f = new Float32Array(n);
    return this.f.subarray(0, n);
  }
  u8(n) {
    if (!this.b || this.b.length < n) this.b = new Uint8Array(n);
    return this.b.subarray(0, n);
  }
}

/**
 * Write one planned tensor. Data flows through q's wasm buffers: rows are read
 * (widened to float32) straight into q.input(), quantized by q.run(), and the
 * result view is written out - no per-chunk allocations.
 */
function writeEntry(w, e, source, q, chunkElements, scratch) {
  w.beginTensor(e.name);
  const rowLen = e.shape[e.shape.length - 1];
  const rows = rowsOf(e.shape);
  if (e.data) {
    q.input(e.data.length).set(e.data);
    w.writeChunk(q.run(e.type, rows, rowLen));
  } else if (e.transform?.kind === 'transpose') {
    const [srcRows, srcCols] = e.src.shape;
    const src = source.readRowsF32(e.src, 0, srcRows, scratch.f32(srcRows * srcCols));
    transposeInto(q.input(srcRows * srcCols), src, srcRows, srcCols);
    w.writeChunk(q.run(e.type, rows, rowLen));
  } else if (e.transform?.kind === 'rows') {
    // XLM-RoBERTa positions: the rows from padding_idx + 1 on
    source.readRowsF32(e.src, e.transform.from, rows, q.input(rows * rowLen));
    w.writeChunk(q.run(e.type, rows, rowLen));
  } else if (e.transform?.kind === 'add') {
    // Gemma's RMSNorm weights are stored as 1 + w (float32 addition, as torch)
    const n = rows * rowLen;
    const src = source.readRowsF32(e.src, 0, rows, scratch.f32(n));
    const dst = q.input(n);
    for (let i = 0; i < n; i++) dst[i] = Math.fround(src[i] + e.transform.value);
    w.writeChunk(q.run(e.type, rows, rowLen));
  } else if (e.transform?.kind === 'permute') {
    const { nHead } = e.transform;
    const total = e.shape[0];
    const d = total / nHead;
    if (!Number.isInteger(d) || d % 2) throw new Error(`${e.src.file.path}: tensor ${e.src.name}: ${total} rows cannot be split into ${nHead} heads of even size`);
    const matrix = e.shape.length > 1;
    const cols = matrix ? e.shape[1] : 1;
    const headsPerChunk = matrix ? Math.max(1, Math.floor(chunkElements / (d * cols))) : nHead;
    for (let h0 = 0; h0 < nHead; h0 += headsPerChunk) {
      const nh = Math.min(headsPerChunk, nHead - h0);
      const n = nh * d * cols;
      // a 1-D bias is read whole (one row) and permuted as rows of one value
      const part = matrix ? source.readRowsF32(e.src, h0 * d, nh * d, scratch.f32(n)) : source.readRowsF32(e.src, 0, 1, scratch.f32(n));
      permuteHeadsInto(q.input(n), part, nh, d, cols);
      w.writeChunk(matrix ? q.run(e.type, nh * d, cols) : q.run(e.type, 1, total));
    }
  } else {
    const raw = RAW_DTYPE[e.type] === e.src.dtype;
    const es = DTYPE_SIZE[e.src.dtype];
    const rowsPerChunk = Math.max(1, Math.floor(chunkElements / Math.max(1, rowLen)));
    for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
      const n = Math.min(rowsPerChunk, rows - r0);
      if (raw) {
        w.writeChunk(e.src.file.readRaw(e.src, r0 * rowLen * es, n * rowLen * es, scratch.u8(n * rowLen * es)));
      } else {
        source.readRowsF32(e.src, r0, n, q.input(n * rowLen));
        w.writeChunk(q.run(e.type, n, rowLen));
      }
    }
  }
  w.endTensor();
}

/**
 * Convert a Hugging Face folder to GGUF.
 * @param {string} dir      folder with config.json, *.safetensors and tokenizer files
 * @param {string|{write(u8: Uint8Array): void}} out  output path, or a sink
 * @param {object} [opts]
 * @param {'F32'|'F16'|'BF16'|'Q8_0'|'Q4_0'} [opts.type='F16']
 * @param {string} [opts.name]          general.name (default: the folder name)
 * @param {'all'|'none'} [opts.heads]   BERT task heads (default 'all'; 'none' = exactly llama.cpp's converter)
 * @param {string} [opts.tokenizerPre]  override tokenizer.ggml.pre for BPE tokenizers
 * @param {Quantizer} [opts.quantizer]  reuse a quantizer instance
 * @param {import("../core/engine.js").Engine} [opts.engine]  Engine to quantize with (default: a new single-thread one)
 * @param {(p: {index:number, total:number, name:string}) => void} [opts.onProgress]
 * @returns {Promise<{arch:string, type:string, path?:string, bytes:number, nParams:number, tensors:{name:string,type:string,shape:number[],bytes:number}[], warnings:string[]}>}
 */
export async function convert(dir, out, opts = {}) {
  const plan = planConversion(dir, opts);
  const { writer: w, entries, source, ctx } = plan;
  let q = opts.quantizer;
  let ownQ = false;
  try {
    if (!q) {
      q = await Quantizer.create({ engine: opts.engine });
      ownQ = true;
    }
    w.open(out);
    const chunkElements = opts.chunkElements ?? 1 << 20;
    const scratch = new Scratch();
    entries.forEach((e, i) => {
      opts.onProgress?.({ index: i, total: entries.length, name: e.name, type: typeName(e.type) });
      writeEntry(w, e, source, q, chunkElements, scratch);
    });
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  } finally {
    source.close();
    if (ownQ) q?.dispose();
  }
  return {
    arch: ctx.arch.name,
    type: typeName(plan.outType),
    path: typeof out === 'string' ? out : undefined,
    bytes: w.bytesWritten,
    nParams: plan.nParams,
    tensors: entries.map((e) => ({ name: e.name, type: typeName(e.type), shape: e.shape, bytes: e.nbytes })),
    warnings: ctx.warnings,
  };
}
