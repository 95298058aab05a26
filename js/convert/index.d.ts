// Types of plm-wasm/convert (Node only).
import type { Engine } from '../index.js';

export type OutputType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0';
export interface Sink { write(bytes: Uint8Array): void }
export interface Progress { index: number; total: number; name: string; type: string }

export interface ConvertOptions {
  /** output tensor type (default 'F16') */
  type?: OutputType;
  /** general.name (default: the folder name) */
  name?: string;
  /** BERT task heads: 'all' (default) or 'none' (= llama.cpp's converter) */
  heads?: 'all' | 'none';
  /** tokenizer.ggml.pre for a BPE tokenizer that is not recognised */
  tokenizerPre?: string;
  /** engine used for quantization (default: a new single-thread one) */
  engine?: Engine;
  quantizer?: Quantizer;
  onProgress?: (p: Progress) => void;
}
export interface ConvertResult {
  arch: string;
  type: string;
  path?: string;
  bytes: number;
  nParams: number;
  tensors: { name: string; type: string; shape: number[]; bytes: number }[];
  warnings: string[];
}
export function convert(dir: string, out: string | Sink, opts?: ConvertOptions): Promise<ConvertResult>;

export interface QuantizeOptions {
  type: 'Q8_0' | 'Q4_0' | 'F16' | 'BF16' | 'F32';
  allowRequantize?: boolean;
  engine?: Engine;
  quantizer?: Quantizer;
  onProgress?: (p: Progress) => void;
}
export function quantize(input: string | Uint8Array, out: string | Sink, opts: QuantizeOptions): Promise<{ type: string; bytes: number; tensors: { name: string; from: string; type: string; shape: number[] }[] }>;

export interface MemoryEstimate { nCtx: number; weights: number; kvCache: number; compute: number; total: number }
export interface Inspection {
  path: string;
  version: number;
  alignment: number;
  fileBytes: number;
  metadata: { key: string; type: string; value: string }[];
  tensors: { name: string; type: string; ne: number[]; bytes: number; offset: number }[];
  nParams: number;
  tensorTypes: Record<string, number>;
  memory: MemoryEstimate;
}
export function inspectGGUF(input: string | Uint8Array, opts?: { nCtx?: number; maxElems?: number }): Inspection;
export function formatInspection(info: Inspection): string;

/** A metadata entry: scalars, or arrays ({ itemType, value }, nested arrays as arrays of those). */
export interface MetadataEntry { key: string; type: number; value: any; itemType?: number }

export class GGUFWriter {
  constructor(opts?: { alignment?: number });
  alignment: number;
  bytesWritten: number;
  addKeyValue(key: string, value: any, type?: number, itemType?: number): this;
  addUint8(key: string, v: number): this;
  addInt8(key: string, v: number): this;
  addUint16(key: string, v: number): this;
  addInt16(key: string, v: number): this;
  addUint32(key: string, v: number): this;
  addInt32(key: string, v: number): this;
  addFloat32(key: string, v: number): this;
  addFloat64(key: string, v: number): this;
  addUint64(key: string, v: bigint | number): this;
  addInt64(key: string, v: bigint | number): this;
  addBool(key: string, v: boolean): this;
  addString(key: string, v: string): this;
  addArray(key: string, values: ArrayLike<any>, itemType?: number): this;
  addCustomAlignment(alignment: number): this;
  /** shape in numpy order (outermost first) */
  addTensorInfo(name: string, shape: number[], type: number, nbytes?: number): { name: string; shape: number[]; type: number; nbytes: number; offset: number };
  headerBytes(): Uint8Array;
  open(target: string | Sink): this;
  beginTensor(name?: string): { name: string; nbytes: number };
  writeChunk(bytes: ArrayBufferView): void;
  endTensor(): void;
  writeTensor(name: string, bytes: ArrayBufferView): void;
  close(): void;
  abort(): void;
  static memorySink(): Sink & { bytes(): Uint8Array };
}

export interface TensorInfo { name: string; shape: number[]; ne: number[]; type: number; offset: number; nbytes: number; nelements: number }
export class GGUFFile {
  path: string;
  version: number;
  alignment: number;
  dataOffset: number;
  metadata: MetadataEntry[];
  kv: Map<string, MetadataEntry>;
  tensors: TensorInfo[];
  tensorByName: Map<string, TensorInfo>;
  get(key: string): any;
  readTensor(t: string | TensorInfo): Uint8Array;
  readTensorRows(t: string | TensorInfo, row0: number, nrows: number): Uint8Array;
  close(): void;
}
export function readGGUF(input: string | Uint8Array | ArrayBuffer): GGUFFile;

/** ggml block quantization through the C core (bit-exact with ggml's reference quantizers). */
export class Quantizer {
  static create(opts?: { engine?: Engine }): Promise<Quantizer>;
  quantize(type: number, values: Float32Array, nrows: number, nPerRow: number): Uint8Array;
  dequantize(type: number, bytes: Uint8Array, nrows: number, nPerRow: number): Float32Array;
  /** Streaming use without copies: fill input(n) (a view of wasm memory), then run(); the result view is valid until the next call. */
  input(n: number): Float32Array;
  run(type: number, nrows: number, nPerRow: number): Uint8Array;
  rawInput(nbytes: number): Uint8Array;
  requantize(from: number, to: number, nrows: number, nPerRow: number): Uint8Array;
  dispose(): void;
}

export function writeSafetensors(file: string, tensors: { name: string; dtype: string; shape: number[]; data: ArrayBufferView | (() => ArrayBufferView) }[], metadata?: Record<string, string> | null): void;

export const GGMLType: Readonly<Record<string, number>>;
export const GGUFValueType: Readonly<Record<string, number>>;
export function tensorBytes(type: number, shape: number[]): number;
export function typeName(type: number): string;
