// GGUF writer with a streaming API, laid out exactly like gguf-py's GGUFWriter:
//
//   header   magic "GGUF", version 3, u64 tensor count, u64 metadata count
//   metadata key (u64 length + UTF-8), u32 value type, value (arrays: u32 item
//            type, u64 count, items; nested arrays recurse)
//   tensors  name, u32 n_dims, u64 ne[n_dims] (innermost first), u32 ggml type,
//            u64 offset relative to the data section
//   padding  zeros up to the alignment (general.alignment, default 32)
//   data     each tensor's bytes followed by zeros up to the alignment
//
// Usage:
//   const w = new GGUFWriter();
//   w.addString('general.architecture', 'llama');       // metadata, in file order
//   w.addTensorInfo('token_embd.weight', [vocab, n_embd], GGMLType.F16);
//   w.open('model.gguf');                                // writes header + infos
//   w.writeTensor('token_embd.weight', bytes);           // in info order, one at a time
//   // or: w.beginTensor(name); w.writeChunk(bytes)...; w.endTensor();
//   w.close();
// Sinks: a file path, or any object with a synchronous write(Uint8Array) method
// (GGUFWriter.memorySink() collects the file in memory). Metadata values are
// released once open() has written the header.
import fs from 'node:fs';
import {
  GGUF_MAGIC,
  GGUF_VERSION,
  GGUF_DEFAULT_ALIGNMENT,
  GGUFValueType as VT,
  VALUE_TYPE_NAMES,
  tensorBytes,
  typeName,
} from './constants.js';

const utf8 = new TextEncoder();
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const INT_RANGE = {
  [VT.UINT8]: [0, 0xff],
  [VT.INT8]: [-0x80, 0x7f],
  [VT.UINT16]: [0, 0xffff],
  [VT.INT16]: [-0x8000, 0x7fff],
  [VT.UINT32]: [0, 0xffffffff],
  [VT.INT32]: [-0x80000000, 0x7fffffff],
};

const TYPED_ARRAY_TYPE = new Map([
  [Uint8Array, VT.UINT8],
  [Int8Array, VT.INT8],
  [Uint16Array, VT.UINT16],
  [Int16Array, VT.INT16],
  [Uint32Array, VT.UINT32],
  [Int32Array, VT.INT32],
  [Float32Array, VT.FLOAT32],
  [Float64Array, VT.FLOAT64],
  [BigUint64Array, VT.UINT64],
  [BigInt64Array, VT.INT64],
]);

/** Growable little-endian byte buffer. */
class ByteBuilder {
  constructor(size = 1 << 16) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
    this.len = 0;
  }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    this.dv = new DataView(b.buffer);
  }
  u8(v) { this.reserve(1); this.dv.setUint8(this.len, v); this.len += 1; }
  i8(v) { this.reserve(1); this.dv.setInt8(this.len, v); this.len += 1; }
  u16(v) { this.reserve(2); this.dv.setUint16(this.len, v, true); this.len += 2; }
  i16(v) { this.reserve(2); this.dv.setInt16(this.len, v, true); this.len += 2; }
  u32(v) { this.reserve(4); this.dv.setUint32(this.len, v, true); this.len += 4; }
  i32(v) { this.reserve(4); this.dv.setInt32(this.len, v, true); this.len += 4; }
  f32(v) { this.reserve(4); this.dv.setFloat32(this.len, v, true); this.len += 4; }
  f64(v) { this.reserve(8); this.dv.setFloat64(this.len, v, true); this.len += 8; }
  u64(v) { this.reserve(8); this.dv.setBigUint64(this.len, BigInt(v), true); this.len += 8; }
  i64(v) { this.reserve(8); this.dv.setBigInt64(this.len, BigInt(v), true); this.len += 8; }
  bytes(b) { this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; }
  string(s) {
    if (typeof s !== 'string') {
      this.u64(s.length);
      this.bytes(s);
      return;
    }
    // encode in place: reserve the worst case (3 bytes per UTF-16 unit), back-patch the length
    this.reserve(8 + 3 * s.length);
    const at = this.len;
    const { written } = utf8.encodeInto(s, this.buf.subarray(at + 8));
    this.dv.setBigUint64(at, BigInt(written), true);
    this.len = at + 8 + written;
  }
  view() { return this.buf.subarray(0, this.len); }
}

function checkScalar(key, type, v) {
  const where = `metadata ${key}`;
  if (type in INT_RANGE) {
    const [lo, hi] = INT_RANGE[type];
    if (typeof v === 'bigint') v = Number(v);
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new Error(`${where}: ${v} is not a valid ${VALUE_TYPE_NAMES[type]}`);
    }
    return v;
  }
  switch (type) {
    case VT.FLOAT32:
    case VT.FLOAT64:
      if (typeof v !== 'number') throw new Error(`${where}: ${v} is not a number`);
      return v;
    case VT.BOOL:
      if (typeof v !== 'boolean') throw new Error(`${where}: ${v} is not a boolean`);
      return v;
    case VT.STRING:
      // raw bytes are accepted for strings that are not valid UTF-8 (see gguf-reader.js)
      if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw new Error(`${where}: value is not a string`);
      return v;
    case VT.UINT64:
    case VT.INT64: {
      if (typeof v !== 'bigint' && !Number.isInteger(v)) throw new Error(`${where}: ${v} is not an integer`);
      const b = BigInt(v);
      if (type === VT.UINT64 ? b < 0n || b >= 1n << 64n : b < -(1n << 63n) || b >= 1n << 63n) {
        throw new Error(`${where}: ${v} is out of range for ${VALUE_TYPE_NAMES[type]}`);
      }
      return b;
    }
    default:
      throw new Error(`${where}: unknown GGUF value type ${type}`);
  }
}

/** Infer the GGUF type of a JS value the way gguf-py does for Python values. */
export function inferValueType(v) {
  if (typeof v === 'string') return VT.STRING;
  if (typeof v === 'boolean') return VT.BOOL;
  if (typeof v === 'bigint') return VT.INT64;
  if (typeof v === 'number') return Number.isInteger(v) ? VT.INT32 : VT.FLOAT32;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return VT.ARRAY;
  if (v && typeof v === 'object' && 'itemType' in v && 'value' in v) return VT.ARRAY; // { itemType, value }
  throw new Error(`cannot infer a GGUF type for ${typeof v}`);
}

/** Normalise an array value into { itemType, value } (validated, nested arrays included). */
function normaliseArray(key, value, itemType) {
  if (value && !Array.isArray(value) && !ArrayBuffer.isView(value) && 'value' in value) {
    // already { itemType, value }
    return normaliseArray(key, value.value, value.itemType ?? itemType);
  }
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) {
    throw new Error(`metadata ${key}: array value expected`);
  }
  if (itemType === undefined) {
    if (ArrayBuffer.isView(value)) itemType = TYPED_ARRAY_TYPE.get(value.constructor);
    else if (value.length === 0) throw new Error(`metadata ${key}: cannot infer the item type of an empty array`);
    else {
      itemType = inferValueType(value[0]);
      // gguf-py: every item must have the first item's type (ints in a float array are floats here)
      if (itemType === VT.INT32 && value.some((x) => typeof x === 'number' && !Number.isInteger(x))) itemType = VT.FLOAT32;
    }
    if (itemType === undefined) throw new Error(`metadata ${key}: unsupported typed array`);
  }
  if (itemType === VT.ARRAY) {
    return { itemType, value: Array.from(value, (v, i) => normaliseArray(`${key}[${i}]`, v, undefined)) };
  }
  return { itemType, value };
}

export class GGUFWriter {
  /** @param {{ alignment?: number }} [opts] */
  constructor(opts = {}) {
    this.alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
    /** @type {Map<string, {key:string,type:number,value:any,itemType?:number}>} */
    this.kv = new Map();
    /** @type {{name:string,shape:number[],type:number,nbytes:number,offset:number}[]} */
    this.tensors = [];
    this.tensorIndex = new Map();
    this.dataSize = 0;
    this.state = 'empty'; // -> 'data' (header written) -> 'closed'
    this.sink = null;
    this.fd = null;
    this.next = 0; // index of the next tensor to write
    this.current = null; // tensor being streamed
  }

  // ---------------------------------------------------------------- metadata

  /**
   * Add (or replace in place) a metadata value. type: a GGUFValueType; itemType
   * for arrays (inferred from the first item / typed array class if omitted).
   * Nested arrays: value is an array of arrays or of { itemType, value }.
   */
  addKeyValue(key, value, type, itemType) {
    if (this.state !== 'empty') throw new Error(`metadata ${key}: the header has already been written`);
    if (typeof key !== 'string' || key.length === 0) throw new Error('metadata key must be a non-empty string');
    if (type === undefined) type = inferValueType(value);
    let entry;
    if (type === VT.ARRAY) {
      const arr = normaliseArray(key, value, itemType);
      if (arr.itemType !== VT.ARRAY) {
        const src = arr.value;
        const n = src.length;
        for (let i = 0; i < n; i++) checkScalar(`${key}[${i}]`, arr.itemType, src[i]);
      }
      entry = { key, type, itemType: arr.itemType, value: arr.value };
    } else {
      entry = { key, type, value: checkScalar(key, type, value) };
    }
    if (key === 'general.alignment') {
      const a = Number(entry.value);
      if (type !== VT.UINT32 || !(a > 0) || (a & (a - 1)) !== 0) {
        throw new Error(`general.alignment must be a UINT32 power of two, got ${value}`);
      }
      this.alignment = a;
    }
    this.kv.set(key, entry); // Map keeps the first insertion position on replace
    return this;
  }

  addUint8(k, v) { return this.addKeyValue(k, v, VT.UINT8); }
  addInt8(k, v) { return this.addKeyValue(k, v, VT.INT8); }
  addUint16(k, v) { return this.addKeyValue(k, v, VT.UINT16); }
  addInt16(k, v) { return this.addKeyValue(k, v, VT.INT16); }
  addUint32(k, v) { return this.addKeyValue(k, v, VT.UINT32); }
  addInt32(k, v) { return this.addKeyValue(k, v, VT.INT32); }
  addFloat32(k, v) { return this.addKeyValue(k, v, VT.FLOAT32); }
  addFloat64(k, v) { return this.addKeyValue(k, v, VT.FLOAT64); }
  addUint64(k, v) { return this.addKeyValue(k, v, VT.UINT64); }
  addInt64(k, v) { return this.addKeyValue(k, v, VT.INT64); }
  addBool(k, v) { return this.addKeyValue(k, v, VT.BOOL); }
  addString(k, v) { return this.addKeyValue(k, v, VT.STRING); }
  addArray(k, values, itemType) { return this.addKeyValue(k, values, VT.ARRAY, itemType); }
  addCustomAlignment(a) { return this.addUint32('general.alignment', a); }

  has(key) { this.#checkKv(); return this.kv.has(key); }
  get(key) { this.#checkKv(); return this.kv.get(key)?.value; }
  #checkKv() {
    if (this.kvReleased) throw new Error('GGUFWriter: metadata is released once the header is written');
  }
  delete(key) {
    if (this.state !== 'empty') throw new Error('the header has already been written');
    return this.kv.delete(key);
  }

  // ------------------------------------------------------------ tensor infos

  /**
   * Declare a tensor. shape in numpy order (outermost first); nbytes defaults to
   * the size ggml computes for `type` (the innermost dimension must be a whole
   * number of blocks).
   */
  addTensorInfo(name, shape, type, nbytes) {
    if (this.state !== 'empty') throw new Error(`tensor ${name}: the header has already been written`);
    if (typeof name !== 'string' || name.length === 0) throw new Error('tensor name must be a non-empty string');
    if (this.tensorIndex.has(name)) throw new Error(`duplicate tensor name ${name}`);
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4) {
      throw new Error(`tensor ${name}: shape must have 1 to 4 dimensions, got ${JSON.stringify(shape)}`);
    }
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`tensor ${name}: bad dimension ${d}`);
    }
    let expected;
    try {
      expected = tensorBytes(type, shape);
    } catch (e) {
      throw new Error(`tensor ${name}: ${e.message}`);
    }
    if (nbytes !== undefined && nbytes !== expected) {
      throw new Error(`tensor ${name}: ${nbytes} bytes given, ${typeName(type)} ${JSON.stringify(shape)} needs ${expected}`);
    }
    const info = { name, shape: shape.slice(), type, nbytes: expected, offset: this.dataSize };
    this.tensors.push(info);
    this.tensorIndex.set(name, info);
    this.dataSize += pad(expected, this.alignment);
    return info;
  }

  /** Total parameter count (elements of all declared tensors). */
  parameterCount() {
    let n = 0;
    for (const t of this.tensors) n += t.shape.reduce((a, b) => a * b, 1);
    return n;
  }

  // ------------------------------------------------------------------ output

  /** Serialise header + metadata + tensor infos + padding. */
  headerBytes() {
    // offsets depend on the final alignment, which may have been changed after tensors were added
    let off = 0;
    for (const t of this.tensors) {
      t.offset = off;
      off += pad(t.nbytes, this.alignment);
    }
    this.dataSize = off;
    const b = new ByteBuilder();
    b.u32(GGUF_MAGIC);
    b.u32(GGUF_VERSION);
    b.u64(this.tensors.length);
    b.u64(this.kv.size);
    for (const e of this.kv.values()) {
      b.string(e.key);
      b.u32(e.type);
      if (e.type === VT.ARRAY) writeArray(b, e.itemType, e.value);
      else writeScalar(b, e.type, e.value);
    }
    for (const t of this.tensors) {
      b.string(t.name);
      b.u32(t.shape.length);
      for (let i = t.shape.length - 1; i >= 0; i--) b.u64(t.shape[i]);
      b.u32(t.type);
      b.u64(t.offset);
    }
    const padded = pad(b.len, this.alignment);
    b.reserve(padded - b.len);
    b.buf.fill(0, b.len, padded);
    b.len = padded;
    return b.view();
  }

  /** Start writing: `target` is a file path or a sink with write(Uint8Array). */
  open(target) {
    if (this.state !== 'empty') throw new Error('GGUFWriter.open: already opened');
    if (typeof target === 'string') {
      this.path = target;
      this.fd = fs.openSync(target, 'w');
      const fd = this.fd;
      this.sink = { write: (u8) => writeAllSync(fd, u8) };
    } else if (target && typeof target.write === 'function') {
      this.sink = target;
    } else {
      throw new Error('GGUFWriter.open: target must be a path or an object with write(Uint8Array)');
    }
    const header = this.headerBytes();
    this.sink.write(header);
    this.bytesWritten = header.length;
    // the metadata is in the file now: release it (vocabularies can be large)
    this.kv.clear();
    this.kvReleased = true;
    this.state = 'data';
    if (this.tensors.length === 0) this.state = 'done';
    return this;
  }

  /** Begin streaming the next tensor (must be named in declaration order). */
  beginTensor(name) {
    if (this.state !== 'data') throw new Error(`tensor ${name}: writer is not accepting tensor data (${this.state})`);
    if (this.current) throw new Error(`tensor ${name}: tensor ${this.current.info.name} is not finished`);
    const info = this.tensors[this.next];
    if (!info) throw new Error(`tensor ${name}: all declared tensors were written`);
    if (name !== undefined && name !== info.name) {
      throw new Error(`tensor ${name}: expected tensor ${info.name} next (tensors are written in declaration order)`);
    }
    this.current = { info, written: 0 };
    return info;
  }

  writeChunk(bytes) {
    const cur = this.current;
    if (!cur) throw new Error('writeChunk: no tensor begun');
    const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (cur.written + u8.length > cur.info.nbytes) {
      throw new Error(`tensor ${cur.info.name}: ${cur.written + u8.length} bytes written, declared size is ${cur.info.nbytes}`);
    }
    this.sink.write(u8);
    cur.written += u8.length;
    this.bytesWritten += u8.length;
  }

  endTensor() {
    const cur = this.current;
    if (!cur) throw new Error('endTensor: no tensor begun');
    if (cur.written !== cur.info.nbytes) {
      throw new Error(`tensor ${cur.info.name}: ${cur.written} bytes written, declared size is ${cur.info.nbytes}`);
    }
    const padding = pad(cur.info.nbytes, this.alignment) - cur.info.nbytes;
    if (padding) {
      this.sink.write(new Uint8Array(padding));
      this.bytesWritten += padding;
    }
    this.current = null;
    this.next++;
    if (this.next === this.tensors.length) this.state = 'done';
  }

  /** Write one whole tensor (in declaration order). */
  writeTensor(name, bytes) {
    this.beginTensor(name);
    this.writeChunk(bytes);
    this.endTensor();
  }

  /** Finish: checks every declared tensor was written, closes the file. */
  close() {
    try {
      if (this.state === 'empty') throw new Error('GGUFWriter.close: nothing was written');
      if (this.current || this.next !== this.tensors.length) {
        const missing = this.tensors.slice(this.next).map((t) => t.name);
        throw new Error(`GGUFWriter.close: ${missing.length} declared tensor(s) not written (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''})`);
      }
      this.state = 'closed';
    } finally {
      if (this.fd !== null) {
        fs.closeSync(this.fd);
        this.fd = null;
      }
    }
  }

  /** Close the file without the completeness check and delete it (error paths). */
  abort() {
    if (this.fd !== null) {
      try { fs.closeSync(this.fd); } catch { /* already closed */ }
      this.fd = null;
      if (this.path) {
        try { fs.unlinkSync(this.path); } catch { /* not there */ }
      }
    }
    this.state = 'closed';
  }

  /** A sink that keeps everything in memory; .bytes() returns the file. */
  static memorySink() {
    const parts = [];
    let n = 0;
    return {
      write(u8) { parts.push(u8.slice()); n += u8.length; },
      bytes() {
        const out = new Uint8Array(n);
        let o = 0;
        for (const p of parts) { out.set(p, o); o += p.length; }
        return out;
      },
    };
  }
}

function pad(n, a) {
  return Math.ceil(n / a) * a;
}

function writeAllSync(fd, u8) {
  let off = 0;
  while (off < u8.length) off += fs.writeSync(fd, u8, off, u8.length - off);
}

function writeScalar(b, type, v) {
  switch (type) {
    case VT.UINT8: b.u8(v); break;
    case VT.INT8: b.i8(v); break;
    case VT.UINT16: b.u16(v); break;
    case VT.INT16: b.i16(v); break;
    case VT.UINT32: b.u32(v); break;
    case VT.INT32: b.i32(v); break;
    case VT.FLOAT32: b.f32(v); break;
    case VT.FLOAT64: b.f64(v); break;
    case VT.BOOL: b.u8(v ? 1 : 0); break;
    case VT.STRING: b.string(v); break;
    case VT.UINT64: b.u64(v); break;
    case VT.INT64: b.i64(v); break;
    default: throw new Error(`unknown GGUF value type ${type}`);
  }
}

function writeArray(b, itemType, value) {
  b.u32(itemType);
  b.u64(value.length);
  if (itemType === VT.ARRAY) {
    for (const sub of value) writeArray(b, sub.itemType, sub.value);
    return;
  }
  // fast path for numeric typed arrays of the matching class (little-endian hosts)
  if (LITTLE_ENDIAN && ArrayBuffer.isView(value) && TYPED_ARRAY_TYPE.get(value.constructor) === itemType) {
    b.bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    return;
  }
  for (let i = 0; i < value.length; i++) writeScalar(b, itemType, value[i]);
}
