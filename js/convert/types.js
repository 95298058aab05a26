// Per-tensor type choices.
//
// Two rule sets, each reproducing a llama.cpp tool:
//
// converterType()  = convert_hf_to_gguf.py --outtype f32|f16|bf16|q8_0:
//   1-D tensors, "*_norm.weight", tensors not ending in ".weight",
//   position_embd / token_types                          -> F32
//   everything else                                     -> the output type;
//   a quantized type whose block size does not divide the row length -> F16
//   (gguf-py raises QuantError, the converter falls back to F16).
//
// quantizeType()   = llama-quantize <file> Q4_0 (default mix, no imatrix):
//   quantized: 2-D+ tensors whose name ends in "weight", except "*_norm.weight",
//   position_embd, token_types, attn_rel_b (T5), ffn_gate_inp; others are copied.
//   output.weight - or token_embd.weight when the file has no output.weight (tied
//   embeddings) - becomes Q6_K if its rows are a multiple of 256, else Q8_0.
//   llama-quantize refuses rows that are not a whole number of blocks; here such a
//   tensor falls back to F16 like the converter does (stories260K's ffn_down).
import { GGMLType, GGML_QUANT_SIZES } from './constants.js';

/** Output types a conversion can target, by the name used on the command line. */
export const OUTPUT_TYPES = Object.freeze({
  F32: GGMLType.F32,
  F16: GGMLType.F16,
  BF16: GGMLType.BF16,
  Q8_0: GGMLType.Q8_0,
  Q4_0: GGMLType.Q4_0,
});

/** general.file_type (llama_ftype) for an output type. */
export function fileTypeOf(type) {
  switch (type) {
    case GGMLType.F32: return 0;
    case GGMLType.F16: return 1;
    case GGMLType.Q4_0: return 2;
    case GGMLType.Q8_0: return 7;
    case GGMLType.BF16: return 32;
    default: throw new Error(`no llama file type for ggml type ${type}`);
  }
}

const ALWAYS_F32 = new Set(['position_embd.weight', 'token_types.weight']);

function blockSize(type) {
  return GGML_QUANT_SIZES[type][0];
}

/** Fit a quantized type to the row length: F16 when the block size does not divide it. */
function fitRow(type, rowLength) {
  return rowLength % blockSize(type) === 0 ? type : GGMLType.F16;
}

/**
 * Type of tensor `name` (numpy shape) in a file converted to `outType` with the
 * converter's rules (outType: F32, F16, BF16 or Q8_0).
 */
export function converterType(name, shape, outType) {
  if (shape.length <= 1 || name.endsWith('_norm.weight')) return GGMLType.F32;
  if (ALWAYS_F32.has(name) || !name.endsWith('.weight')) return GGMLType.F32;
  return fitRow(outType, shape[shape.length - 1]);
}

/** Would llama-quantize quantize this tensor at all? */
export function llamaQuantizes(name, shape) {
  if (!name.endsWith('weight')) return false;
  if (shape.length < 2) return false;
  if (name.includes('_norm.weight')) return false;
  if (name.includes('ffn_gate_inp.weight')) return false;
  if (ALWAYS_F32.has(name)) return false;
  if (name.includes('attn_rel_b.weight')) return false;
  return true;
}

/**
 * Type of tensor `name` under llama-quantize's rules for `outType` (Q4_0), or
 * null when the tensor is copied unchanged. hasOutput: the model has output.weight.
 */
export function quantizeType(name, shape, outType, hasOutput) {
  if (!llamaQuantizes(name, shape)) return null;
  const rowLength = shape[shape.length - 1];
  if (name === 'output.weight' || (!hasOutput && name === 'token_embd.weight')) {
    if (outType === GGMLType.Q8_0) return fitRow(GGMLType.Q8_0, rowLength);
    if (rowLength % 256 === 0) return GGMLType.Q6_K;
    return fitRow(GGMLType.Q8_0, rowLength);
  }
  return fitRow(outType, rowLength);
}

/**
 * The rule set a target type uses: Q4_0 follows llama-quantize (the converter
 * cannot produce it), everything else the converter.
 * Returns a function (name, shape, inputType) -> output type.
 */
export function typeRule(outType, { hasOutput }) {
  if (outType === GGMLType.Q4_0) {
    return (name, shape, inputType = GGMLType.F32) => quantizeType(name, shape, outType, hasOutput) ?? inputType;
  }
  return (name, shape) => converterType(name, shape, outType);
}
