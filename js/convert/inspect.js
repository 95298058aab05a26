// Describe a GGUF file: metadata, tensor table, parameter count and an estimate of
// the memory plm-wasm needs to run it at a given context length. Reads the header
// only (no tensor data).
import { readGGUF, valueTypeName } from './gguf-reader.js';
import { GGUFValueType as VT, typeName } from './constants.js';

const MiB = 1024 * 1024;

/**
 * Memory estimate (bytes) for running the model at context length nCtx with the
 * engine's conventions (weights as stored, float32 KV cache, float32 activations).
 * Compute buffers are an order-of-magnitude figure for a full-context prefill.
 */
export function estimateMemory(f, nCtx) {
  const arch = f.get('general.architecture');
  const get = (k, d) => {
    const v = f.get(`${arch}.${k}`);
    if (v === undefined) return d;
    return Array.isArray(v) || ArrayBuffer.isView(v) ? Number(v[0]) : Number(v);
  };
  const weights = f.tensors.reduce((a, t) => a + t.nbytes, 0);
  const nEmbd = get('embedding_length', 0);
  const nHead = get('attention.head_count', 1);
  const nHeadKv = get('attention.head_count_kv', nHead);
  const headDim = get('attention.key_length', nHead ? nEmbd / nHead : 0);
  const nLayer = get('block_count', 0);
  const nFF = get('feed_forward_length', 4 * nEmbd);
  const ctxTrain = get('context_length', 0);
  const tokens = f.get('tokenizer.ggml.tokens');
  const nVocab = get('vocab_size', tokens ? tokens.length : 0);
  const n = nCtx ?? ctxTrain ?? 0;
  let kv = 0;
  if (arch === 't5') {
    const nDec = get('decoder_block_count', nLayer);
    // decoder self-attention cache + cross-attention K/V of an n-token encoder output
    kv = 2 * nDec * n * nHead * headDim * 4 * 2;
  } else if (arch !== 'bert') {
    kv = 2 * nLayer * n * nHeadKv * headDim * 4;
  }
  const compute = n * (4 * nEmbd + nFF) * 4 + nHead * n * n * 4 + nVocab * 4;
  return { nCtx: n, weights, kvCache: kv, compute, total: weights + kv + compute };
}

function fmtValue(m, maxElems) {
  const show = (v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array && m.type === VT.STRING ? `<${v.length} raw bytes>` : JSON.stringify(v));
  if (m.type !== VT.ARRAY) return show(m.value);
  if (m.itemType === VT.ARRAY) return `[${m.value.length} arrays]`;
  const arr = Array.from(m.value.slice(0, maxElems), (v) => (typeof v === 'bigint' ? String(v) : v));
  const more = m.value.length > maxElems ? `, ... (${m.value.length} items)` : '';
  return `[${arr.map((v) => (typeof v === 'string' ? JSON.stringify(v) : v)).join(', ')}${more}]`;
}

function typeLabel(m) {
  if (m.type !== VT.ARRAY) return valueTypeName(m.type).toLowerCase();
  return `arr[${valueTypeName(m.itemType).toLowerCase()},${m.value.length}]`;
}

/** Structured description of a GGUF file. */
export function inspectGGUF(input, { nCtx, maxElems = 8 } = {}) {
  const f = readGGUF(input);
  try {
    const nParams = f.tensors.reduce((a, t) => a + t.nelements, 0);
    const byType = {};
    for (const t of f.tensors) byType[typeName(t.type)] = (byType[typeName(t.type)] ?? 0) + 1;
    return {
      path: f.path,
      version: f.version,
      alignment: f.alignment,
      fileBytes: f.src.size,
      metadata: f.metadata.map((m) => ({ key: m.key, type: typeLabel(m), value: fmtValue(m, maxElems) })),
      tensors: f.tensors.map((t) => ({ name: t.name, type: typeName(t.type), ne: t.ne, bytes: t.nbytes, offset: t.offset })),
      nParams,
      tensorTypes: byType,
      memory: estimateMemory(f, nCtx),
    };
  } finally {
    f.close();
  }
}

const int = (n) => n.toLocaleString('en-US');
const mib = (n) => `${(n / MiB).toFixed(n < 10 * MiB ? 2 : 1)} MiB`;

/** Text report for the CLI. */
export function formatInspection(info) {
  const lines = [];
  lines.push(`${info.path}: GGUF v${info.version}, ${info.tensors.length} tensors, ${info.metadata.length} metadata keys, alignment ${info.alignment}, ${int(info.fileBytes)} bytes`);
  lines.push('', 'metadata:');
  const kw = Math.max(...info.metadata.map((m) => m.key.length), 10);
  const tw = Math.max(...info.metadata.map((m) => m.type.length), 4);
  for (const m of info.metadata) lines.push(`  ${m.key.padEnd(kw)}  ${m.type.padEnd(tw)}  ${m.value}`);
  lines.push('', 'tensors:');
  const nw = Math.max(...info.tensors.map((t) => t.name.length), 4);
  lines.push(`  ${'name'.padEnd(nw)}  ${'type'.padEnd(6)}  ${'shape (ne)'.padEnd(20)}  ${'bytes'.padStart(14)}`);
  for (const t of info.tensors) lines.push(`  ${t.name.padEnd(nw)}  ${t.type.padEnd(6)}  ${`[${t.ne.join(', ')}]`.padEnd(20)}  ${int(t.bytes).padStart(14)}`);
  const data = info.tensors.reduce((a, t) => a + t.bytes, 0);
  lines.push('');
  lines.push(`parameters: ${int(info.nParams)}   tensor data: ${int(data)} bytes (${mib(data)})   types: ${Object.entries(info.tensorTypes).map(([k, v]) => `${k} x${v}`).join(', ')}`);
  const m = info.memory;
  lines.push(`memory estimate at context ${m.nCtx}: weights ${mib(m.weights)} + KV cache ${mib(m.kvCache)} + compute ~${mib(m.compute)} = ~${mib(m.total)}`);
  return lines.join('\n');
}
