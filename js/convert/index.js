// plm-wasm/convert: Hugging Face -> GGUF conversion, quantization and GGUF I/O for Node.
export { convert, planConversion, sizeLabel } from './convert.js';
export { quantize } from './quantize.js';
export { inspectGGUF, formatInspection, estimateMemory } from './inspect.js';
export { GGUFWriter, inferValueType } from './gguf-writer.js';
export { readGGUF, GGUFFile } from './gguf-reader.js';
export { SafetensorsModel, SafetensorsFile, writeSafetensors } from './safetensors.js';
export { parseSentencePieceModel } from './sentencepiece.js';
export { Quantizer } from './quant.js';
export { converterType, quantizeType } from './types.js';
export {
  GGMLType,
  GGUFValueType,
  LlamaFileType,
  TokenType,
  PoolingType,
  GGML_QUANT_SIZES,
  rowBytes,
  tensorBytes,
  typeName,
  parseTypeName,
} from './constants.js';
