// GGUF reader: parses the header (metadata + tensor infos) of a GGUF v2/v3 file
// without reading the tensor data, then reads tensors one at a time on demand.
//
// Metadata values use the same representation as GGUFWriter.addKeyValue, so a
// file's metadata can be copied into a writer unchanged:
//   { key, type, value }                    scalar: number | bigint (u64/i64) | boolean | string
//   { key, type: ARRAY, itemType, value }   value: array of scalars (a typed array for
//                                           numeric item types), or for nested arrays
//                                           (itemType ARRAY) an array of { itemType, value }.
import fs from 'node:fs';
import {
  GGUF_MAGIC,
  GGUF_DEFAULT_ALIGNMENT,
  GGUFValueType as VT,
  VALUE_TYPE_NAMES,
  GGML_QUANT_SIZES,
  tensorBytes,
  typeName,
} from './constants.js';

// ignoreBOM: a token may be U+FEFF itself; fatal: strings that are not valid
// UTF-8 are kept as raw bytes (Uint8Array) so they round-trip unchanged.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeString(bytes) {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.slice();
  }
}

/** Random-access byte source over a file descriptor or an in-memory buffer. */
class Source {
  constructor({ fd = null, bytes = null, size, name }) {
    this.fd = fd;
    this.bytes = bytes;
    this.size = size;
    this.name = name;
  }
  static fromFile(path) {
    const fd = fs.openSync(path, 'r');
    return new Source({ fd, size: fs.fstatSync(fd).size, name: path });
  }
  static fromBytes(bytes, name = '<buffer>') {
    const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    return new Source({ bytes: u8, size: u8.length, name });
  }
  /** Exactly `len` bytes at `pos` (a fresh buffer for files, a view for buffers; copied into `into` if given). */
  read(pos, len, what = 'data', into = undefined) {
    if (pos + len > this.size) {
      throw new Error(`${this.name}: truncated file: ${what} needs bytes ${pos}..${pos + len} but the file has ${this.size}`);
    }
    if (this.bytes) {
      const v = this.bytes.subarray(pos, pos + len);
      if (!into) return v;
      into.set(v);
      return into;
    }
    const buf = into ?? new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = fs.readSync(this.fd, buf, done, len - done, pos + done);
      if (n <= 0) throw new Error(`${this.name}: unexpected end of file reading ${what}`);
      done += n;
    }
    return buf;
  }
  close() {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Sequential cursor over a Source with a read-ahead window (header parsing). */
class Cursor {
  constructor(src, pos = 0) {
    this.src = src;
    this.pos = pos;
    this.win = new Uint8Array(0);
    this.winPos = 0;
  }
  need(n, what) {
    const off = this.pos - this.winPos;
    if (off >= 0 && off + n <= this.win.length) return off;
    const want = Math.max(n, 1 << 20);
    const len = Math.min(want, this.src.size - this.pos);
    if (len < n) {
      throw new Error(`${this.src.name}: truncated GGUF header: ${what} at offset ${this.pos} needs ${n} bytes, file has ${this.src.size}`);
    }
    this.win = this.src.read(this.pos, len, what);
    this.winPos = this.pos;
    this.dv = new DataView(this.win.buffer, this.win.byteOffset, this.win.byteLength);
    return 0;
  }
  u8(what) { const o = this.need(1, what); this.pos += 1; return this.win[o]; }
  i8(what) { const o = this.need(1, what); this.pos += 1; return this.dv.getInt8(o); }
  u16(what) { const o = this.need(2, what); this.pos += 2; return this.dv.getUint16(o, true); }
  i16(what) { const o = this.need(2, what); this.pos += 2; return this.dv.getInt16(o, true); }
  u32(what) { const o = this.need(4, what); this.pos += 4; return this.dv.getUint32(o, true); }
  i32(what) { const o = this.need(4, what); this.pos += 4; return this.dv.getInt32(o, true); }
  f32(what) { const o = this.need(4, what); this.pos += 4; return this.dv.getFloat32(o, true); }
  f64(what) { const o = this.need(8, what); this.pos += 8; return this.dv.getFloat64(o, true); }
  u64(what) { const o = this.need(8, what); this.pos += 8; return this.dv.getBigUint64(o, true); }
  i64(what) { const o = this.need(8, what); this.pos += 8; return this.dv.getBigInt64(o, true); }
  /** u64 that must fit a JS number (counts, offsets). */
  count(what) {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.src.name}: ${what} too large (${v})`);
    return Number(v);
  }
  bytes(n, what) { const o = this.need(n, what); this.pos += n; return this.win.subarray(o, o + n); }
  string(what) {
    const n = this.count(`${what} length`);
    if (n > this.src.size) throw new Error(`${this.src.name}: ${what}: string length ${n} exceeds the file size`);
    return decodeString(this.bytes(n, what));
  }
}

const TYPED = {
  [VT.UINT8]: Uint8Array,
  [VT.INT8]: Int8Array,
  [VT.UINT16]: Uint16Array,
  [VT.INT16]: Int16Array,
  [VT.UINT32]: Uint32Array,
  [VT.INT32]: Int32Array,
  [VT.FLOAT32]: Float32Array,
  [VT.FLOAT64]: Float64Array,
  [VT.UINT64]: BigUint64Array,
  [VT.INT64]: BigInt64Array,
};

function readScalar(c, type, what) {
  switch (type) {
    case VT.UINT8: return c.u8(what);
    case VT.INT8: return c.i8(what);
    case VT.UINT16: return c.u16(what);
    case VT.INT16: return c.i16(what);
    case VT.UINT32: return c.u32(what);
    case VT.INT32: return c.i32(what);
    case VT.FLOAT32: return c.f32(what);
    case VT.BOOL: {
      const b = c.u8(what);
      if (b > 1) throw new Error(`${c.src.name}: ${what}: invalid bool value ${b}`);
      return b === 1;
    }
    case VT.STRING: return c.string(what);
    case VT.UINT64: return c.u64(what);
    case VT.INT64: return c.i64(what);
    case VT.FLOAT64: return c.f64(what);
    default: throw new Error(`${c.src.name}: ${what}: unknown GGUF value type ${type}`);
  }
}

const MAX_ARRAY_DEPTH = 8;

function readArray(c, what, depth = 0) {
  if (depth > MAX_ARRAY_DEPTH) throw new Error(`${c.src.name}: ${what}: arrays nested deeper than ${MAX_ARRAY_DEPTH}`);
  const itemType = c.u32(`${what} item type`);
  const n = c.count(`${what} count`);
  if (n > c.src.size) throw new Error(`${c.src.name}: ${what}: array count ${n} exceeds the file size`);
  if (itemType === VT.ARRAY) {
    const value = new Array(n);
    for (let i = 0; i < n; i++) value[i] = readArray(c, `${what}[${i}]`, depth + 1);
    return { itemType, value };
  }
  const T = TYPED[itemType];
  if (T) {
    const size = T.BYTES_PER_ELEMENT;
    const raw = c.bytes(n * size, what);
    const out = new T(n);
    new Uint8Array(out.buffer).set(raw);
    return { itemType, value: out };
  }
  if (itemType !== VT.STRING && itemType !== VT.BOOL) {
    throw new Error(`${c.src.name}: ${what}: unknown GGUF array item type ${itemType}`);
  }
  const value = new Array(n);
  for (let i = 0; i < n; i++) value[i] = readScalar(c, itemType, what);
  return { itemType, value };
}

/**
 * Parse a GGUF file's header. `input` is a path or a Uint8Array/ArrayBuffer.
 * Returns a GGUFFile; call .close() when done (files only).
 */
export function readGGUF(input) {
  const src = typeof input === 'string' ? Source.fromFile(input) : Source.fromBytes(input);
  try {
    return new GGUFFile(src);
  } catch (e) {
    src.close();
    throw e;
  }
}

export class GGUFFile {
  constructor(src) {
    this.src = src;
    this.path = src.name;
    const c = new Cursor(src);
    const magic = c.u32('magic');
    if (magic !== GGUF_MAGIC) throw new Error(`${src.name}: not a GGUF file (bad magic 0x${magic.toString(16)})`);
    this.version = c.u32('version');
    if (this.version !== 2 && this.version !== 3) {
      throw new Error(`${src.name}: unsupported GGUF version ${this.version}`);
    }
    const nTensors = c.count('tensor count');
    const nKV = c.count('metadata count');
    if (nTensors > src.size || nKV > src.size) throw new Error(`${src.name}: corrupt header counts`);

    /** @type {{key:string,type:number,value:any,itemType?:number}[]} */
    this.metadata = [];
    this.kv = new Map();
    for (let i = 0; i < nKV; i++) {
      const key = c.string(`metadata key #${i}`);
      const type = c.u32(`type of ${key}`);
      let entry;
      if (type === VT.ARRAY) entry = { key, type, ...readArray(c, key) };
      else entry = { key, type, value: readScalar(c, type, key) };
      if (this.kv.has(key)) throw new Error(`${src.name}: duplicate metadata key ${key}`);
      this.metadata.push(entry);
      this.kv.set(key, entry);
    }

    const alignEntry = this.kv.get('general.alignment');
    this.alignment = alignEntry ? Number(alignEntry.value) : GGUF_DEFAULT_ALIGNMENT;
    if (!(this.alignment > 0) || (this.alignment & (this.alignment - 1)) !== 0) {
      throw new Error(`${src.name}: general.alignment ${this.alignment} is not a power of two`);
    }

    /** @type {{name:string,shape:number[],ne:number[],type:number,offset:number,nbytes:number,nelements:number}[]} */
    this.tensors = [];
    this.tensorByName = new Map();
    for (let i = 0; i < nTensors; i++) {
      const name = c.string(`tensor #${i} name`);
      const nDims = c.u32(`tensor ${name} n_dims`);
      if (nDims > 4) throw new Error(`${src.name}: tensor ${name} has ${nDims} dimensions (max 4)`);
      const ne = [];
      for (let d = 0; d < nDims; d++) ne.push(c.count(`tensor ${name} ne[${d}]`));
      const type = c.u32(`tensor ${name} type`);
      const offset = c.count(`tensor ${name} offset`);
      if (!GGML_QUANT_SIZES[type]) throw new Error(`${src.name}: tensor ${name} has unknown ggml type ${type}`);
      const shape = ne.slice().reverse();
      const nelements = ne.reduce((a, b) => a * b, 1);
      let nbytes;
      try {
        nbytes = tensorBytes(type, shape);
      } catch (e) {
        throw new Error(`${src.name}: tensor ${name}: ${e.message}`);
      }
      const t = { name, shape, ne, type, offset, nbytes, nelements };
      if (this.tensorByName.has(name)) throw new Error(`${src.name}: duplicate tensor name ${name}`);
      this.tensors.push(t);
      this.tensorByName.set(name, t);
    }
    this.headerSize = c.pos;
    this.dataOffset = Math.ceil(c.pos / this.alignment) * this.alignment;
    for (const t of this.tensors) {
      if (t.offset % this.alignment !== 0) {
        throw new Error(`${src.name}: tensor ${t.name} offset ${t.offset} is not aligned to ${this.alignment}`);
      }
      if (this.dataOffset + t.offset + t.nbytes > src.size) {
        throw new Error(`${src.name}: truncated file: tensor ${t.name} needs bytes up to ${this.dataOffset + t.offset + t.nbytes}, file has ${src.size}`);
      }
    }
  }

  /** Value of a metadata key (undefined if absent). */
  get(key) {
    return this.kv.get(key)?.value;
  }

  /** Raw bytes of a tensor (by name or info object). */
  readTensor(t) {
    const info = typeof t === 'string' ? this.tensorByName.get(t) : t;
    if (!info) throw new Error(`${this.path}: no tensor named ${t}`);
    return this.src.read(this.dataOffset + info.offset, info.nbytes, `tensor ${info.name}`);
  }

  /** Raw bytes of rows [row0, row0 + nrows) of a tensor (rows of ne[0] elements), into `into` if given. */
  readTensorRows(t, row0, nrows, into = undefined) {
    const info = typeof t === 'string' ? this.tensorByName.get(t) : t;
    if (!info) throw new Error(`${this.path}: no tensor named ${t}`);
    const rows = info.nelements / info.ne[0];
    if (row0 < 0 || nrows < 0 || row0 + nrows > rows) throw new Error(`${this.path}: tensor ${info.name}: rows ${row0}..${row0 + nrows} out of range`);
    const rb = info.nbytes / rows;
    return this.src.read(this.dataOffset + info.offset + row0 * rb, nrows * rb, `tensor ${info.name}`, into);
  }

  close() {
    this.src.close();
  }
}

export function valueTypeName(t) {
  return VALUE_TYPE_NAMES[t] ?? `type${t}`;
}

export { typeName };
