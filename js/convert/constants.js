// GGUF / ggml constants shared by the reader, the writer and the converter.
// Numbers are those of gguf-py (constants.py) and ggml (enum ggml_type).

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types (gguf-py GGUFValueType). */
export const GGUFValueType = Object.freeze({
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
});

export const VALUE_TYPE_NAMES = Object.freeze(
  Object.fromEntries(Object.entries(GGUFValueType).map(([k, v]) => [v, k])),
);

/** ggml tensor types (enum ggml_type). */
export const GGMLType = Object.freeze({
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
});

export const GGML_TYPE_NAMES = Object.freeze(
  Object.fromEntries(Object.entries(GGMLType).map(([k, v]) => [v, k])),
);

/** [elements per block, bytes per block] (gguf-py GGML_QUANT_SIZES). */
export const GGML_QUANT_SIZES = Object.freeze({
  [GGMLType.F32]: [1, 4],
  [GGMLType.F16]: [1, 2],
  [GGMLType.Q4_0]: [32, 2 + 16],
  [GGMLType.Q4_1]: [32, 2 + 2 + 16],
  [GGMLType.Q5_0]: [32, 2 + 4 + 16],
  [GGMLType.Q5_1]: [32, 2 + 2 + 4 + 16],
  [GGMLType.Q8_0]: [32, 2 + 32],
  [GGMLType.Q8_1]: [32, 4 + 4 + 32],
  [GGMLType.Q2_K]: [256, 2 + 2 + 256 / 16 + 256 / 4],
  [GGMLType.Q3_K]: [256, 2 + 256 / 4 + 256 / 8 + 12],
  [GGMLType.Q4_K]: [256, 2 + 2 + 256 / 2 + 12],
  [GGMLType.Q5_K]: [256, 2 + 2 + 256 / 2 + 256 / 8 + 12],
  [GGMLType.Q6_K]: [256, 2 + 256 / 2 + 256 / 4 + 256 / 16],
  [GGMLType.Q8_K]: [256, 4 + 256 + 256 / 8],
  [GGMLType.IQ2_XXS]: [256, 2 + 256 / 4],
  [GGMLType.IQ2_XS]: [256, 2 + 256 / 4 + 256 / 32],
  [GGMLType.IQ3_XXS]: [256, 2 + 256 / 4 + 256 / 8],
  [GGMLType.IQ1_S]: [256, 2 + 256 / 8 + 256 / 16],
  [GGMLType.IQ4_NL]: [32, 2 + 16],
  [GGMLType.IQ3_S]: [256, 2 + 256 / 4 + 256 / 8 + 256 / 32 + 4],
  [GGMLType.IQ2_S]: [256, 2 + 256 / 4 + 256 / 16],
  [GGMLType.IQ4_XS]: [256, 2 + 2 + 256 / 2 + 256 / 64],
  [GGMLType.I8]: [1, 1],
  [GGMLType.I16]: [1, 2],
  [GGMLType.I32]: [1, 4],
  [GGMLType.I64]: [1, 8],
  [GGMLType.F64]: [1, 8],
  [GGMLType.IQ1_M]: [256, 256 / 8 + 256 / 16 + 256 / 32],
  [GGMLType.BF16]: [1, 2],
  [GGMLType.TQ1_0]: [256, 2 + 4 * 13],
  [GGMLType.TQ2_0]: [256, 2 + 64],
});

/** llama_ftype values written as general.file_type (gguf-py LlamaFileType). */
export const LlamaFileType = Object.freeze({
  ALL_F32: 0,
  MOSTLY_F16: 1,
  MOSTLY_Q4_0: 2,
  MOSTLY_Q4_1: 3,
  MOSTLY_Q8_0: 7,
  MOSTLY_Q5_0: 8,
  MOSTLY_Q5_1: 9,
  MOSTLY_BF16: 32,
});

/** tokenizer.ggml.token_type values (llama_token_type / gguf-py TokenType). */
export const TokenType = Object.freeze({
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
});

/** Pooling types (gguf-py PoolingType). */
export const PoolingType = Object.freeze({ NONE: 0, MEAN: 1, CLS: 2, LAST: 3, RANK: 4 });

export const GGML_QUANT_VERSION = 2;

/** Bytes of one row of `n` elements of `type`; throws if n is not a whole number of blocks. */
export function rowBytes(type, n) {
  const qs = GGML_QUANT_SIZES[type];
  if (!qs) throw new Error(`unknown ggml type ${type}`);
  const [bs, ts] = qs;
  if (n % bs !== 0) {
    throw new Error(`row of ${n} elements is not a multiple of the ${typeName(type)} block size ${bs}`);
  }
  return (n / bs) * ts;
}

/** Bytes of a tensor with numpy-order `shape` stored as `type`. */
export function tensorBytes(type, shape) {
  if (shape.length === 0) return rowBytes(type, 1);
  const n0 = shape[shape.length - 1];
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i];
  return rows * rowBytes(type, n0);
}

export function typeName(type) {
  return GGML_TYPE_NAMES[type] ?? `type${type}`;
}

/** Parse a type name such as "q8_0", "F16" into a ggml type id (undefined if unknown). */
export function parseTypeName(name) {
  const t = GGMLType[String(name).toUpperCase()];
  return t;
}
