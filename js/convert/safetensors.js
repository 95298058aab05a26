// Safetensors reader for Hugging Face model folders: a single model.safetensors,
// or shards listed by model.safetensors.index.json (or named model*.safetensors).
// Only headers are parsed up front; tensor data is read on demand, in row ranges,
// so a conversion never holds more than one tensor (or a slice of one) in memory.
//
// Tensor order is the one llama.cpp's converter sees: shards in sorted file-name
// order, and within a shard the tensor names sorted (what safetensors' keys() gives).
import fs from 'node:fs';
import path from 'node:path';

/** dtype -> bytes per element. */
export const DTYPE_SIZE = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
  U16: 2, U32: 4, U64: 8, F8_E4M3: 1, F8_E5M2: 1,
});

const MAX_HEADER = 100 * 1024 * 1024;

// fp16 -> fp32 lookup (exact widening)
let F16_TABLE = null;
function f16Table() {
  if (F16_TABLE) return F16_TABLE;
  F16_TABLE = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    let v;
    if (e === 0) v = s * m * 2 ** -24;
    else if (e === 31) v = m ? NaN : s * Infinity;
    else v = s * (1 + m / 1024) * 2 ** (e - 15);
    F16_TABLE[h] = v;
  }
  return F16_TABLE;
}

/** Widen raw little-endian `dtype` bytes into float32 (torch .to(float32) semantics), into `out` if given. */
export function toFloat32(dtype, bytes, n, out = new Float32Array(n)) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      new Uint8Array(out.buffer, out.byteOffset, n * 4).set(bytes.subarray(0, n * 4));
      break;
    case 'F16': {
      const t = f16Table();
      for (let i = 0; i < n; i++) out[i] = t[dv.getUint16(2 * i, true)];
      break;
    }
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) u32[i] = dv.getUint16(2 * i, true) << 16;
      break;
    }
    case 'F64': for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true); break;
    case 'I64': for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(8 * i, true)); break;
    case 'I32': for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, true); break;
    case 'I16': for (let i = 0; i < n; i++) out[i] = dv.getInt16(2 * i, true); break;
    case 'I8': for (let i = 0; i < n; i++) out[i] = dv.getInt8(i); break;
    case 'U8':
    case 'BOOL': for (let i = 0; i < n; i++) out[i] = bytes[i]; break;
    default:
      throw new Error(`dtype ${dtype} cannot be converted to float32`);
  }
  return out;
}

/** One safetensors file: header parsed, data read on demand. */
export class SafetensorsFile {
  constructor(file) {
    this.path = file;
    let fd;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new Error(`${file}: cannot open (${e.code ?? e.message})`);
    }
    this.fd = fd;
    try {
      this.size = fs.fstatSync(fd).size;
      this.#parseHeader();
    } catch (e) {
      fs.closeSync(fd);
      this.fd = null;
      throw e;
    }
  }

  #parseHeader() {
    const name = this.path;
    if (this.size < 8) throw new Error(`${name}: truncated safetensors file (${this.size} bytes, no header)`);
    const head = this.#read(0, 8);
    const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
    if (n > MAX_HEADER || 8 + n > this.size) {
      throw new Error(`${name}: truncated or corrupt safetensors file: header of ${n} bytes, file has ${this.size}`);
    }
    let header;
    try {
      header = JSON.parse(new TextDecoder().decode(this.#read(8, n)));
    } catch (e) {
      throw new Error(`${name}: safetensors header is not valid JSON (${e.message})`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) {
      throw new Error(`${name}: safetensors header is not a JSON object`);
    }
    this.dataStart = 8 + n;
    this.metadata = header.__metadata__ ?? {};
    this.tensors = new Map();
    const dataSize = this.size - this.dataStart;
    let declaredEnd = 0;
    let lastTensor = null;
    for (const [tname, info] of Object.entries(header)) {
      if (tname === '__metadata__') continue;
      const where = `${name}: tensor ${tname}`;
      if (!info || typeof info !== 'object') throw new Error(`${where}: bad header entry`);
      const { dtype, shape, data_offsets: offs } = info;
      if (!(dtype in DTYPE_SIZE)) throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new Error(`${where}: bad shape ${JSON.stringify(shape)}`);
      }
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[1] < offs[0]) {
        throw new Error(`${where}: bad data_offsets ${JSON.stringify(offs)}`);
      }
      const nel = shape.reduce((a, b) => a * b, 1);
      const nbytes = nel * DTYPE_SIZE[dtype];
      if (offs[1] - offs[0] !== nbytes) {
        throw new Error(`${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${nbytes} bytes, data_offsets span ${offs[1] - offs[0]}`);
      }
      if (offs[1] > declaredEnd) {
        declaredEnd = offs[1];
        lastTensor = tname;
      }
      this.tensors.set(tname, { name: tname, dtype, shape, nelements: nel, begin: offs[0], end: offs[1], file: this });
    }
    if (declaredEnd > dataSize) {
      // name the first tensor that does not fit
      const cut = [...this.tensors.values()].filter((t) => t.end > dataSize).sort((a, b) => a.begin - b.begin)[0];
      throw new Error(`${name}: truncated file: tensor ${cut?.name ?? lastTensor} needs data up to byte ${this.dataStart + (cut?.end ?? declaredEnd)}, file has ${this.size}`);
    }
  }

  #read(pos, len, buf = new Uint8Array(len)) {
    let done = 0;
    while (done < len) {
      const n = fs.readSync(this.fd, buf, done, len - done, pos + done);
      if (n <= 0) throw new Error(`${this.path}: unexpected end of file at byte ${pos + done}`);
      done += n;
    }
    return buf;
  }

  /** Raw bytes [start, start+len) of a tensor's data (into `into`, a Uint8Array of len bytes, if given). */
  readRaw(t, start = 0, len = t.end - t.begin, into = undefined) {
    if (start < 0 || start + len > t.end - t.begin) throw new Error(`${this.path}: tensor ${t.name}: read out of range`);
    return this.#read(this.dataStart + t.begin + start, len, into);
  }

  names() {
    return [...this.tensors.keys()].sort(byteOrder);
  }

  close() {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** String order of Rust's / Python's sort on tensor names (UTF-8 byte order). */
export function byteOrder(a, b) {
  if (a === b) return 0;
  const ea = Buffer.from(a, 'utf8');
  const eb = Buffer.from(b, 'utf8');
  return Buffer.compare(ea, eb);
}

/** All safetensors files of a Hugging Face model folder. */
export class SafetensorsModel {
  /**
   * @param {string} dir model folder
   * @param {{prefix?: string}} [opts]
   */
  constructor(dir, opts = {}) {
    this.dir = dir;
    const prefix = opts.prefix ?? 'model';
    const indexPath = path.join(dir, 'model.safetensors.index.json');
    let partNames;
    let weightMap = null;
    if (fs.existsSync(indexPath)) {
      let index;
      try {
        index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
      } catch (e) {
        throw new Error(`${indexPath}: not valid JSON (${e.message})`);
      }
      weightMap = index?.weight_map;
      if (!weightMap || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
        throw new Error(`${indexPath}: no "weight_map" object`);
      }
      partNames = [...new Set(Object.values(weightMap))].sort(byteOrder);
      const missing = partNames.filter((p) => !fs.existsSync(path.join(dir, p)));
      if (missing.length) {
        throw new Error(`${indexPath}: shard file(s) missing from ${dir}: ${missing.join(', ')}`);
      }
    } else {
      let entries;
      try {
        entries = fs.readdirSync(dir);
      } catch (e) {
        throw new Error(`${dir}: cannot read the model folder (${e.code ?? e.message})`);
      }
      partNames = entries.filter((f) => f.startsWith(prefix) && f.endsWith('.safetensors')).sort(byteOrder);
      if (partNames.length === 0) {
        const bins = entries.filter((f) => f.startsWith('pytorch_model') && f.endsWith('.bin'));
        if (bins.length) {
          throw new Error(`${dir}: only PyTorch pickles (${bins.join(', ')}) found; plm-wasm converts safetensors only (save the model with safe_serialization=True)`);
        }
        throw new Error(`${dir}: no ${prefix}*.safetensors file found`);
      }
    }
    this.files = [];
    /** @type {Map<string, any>} */
    this.tensors = new Map();
    this.order = [];
    try {
      for (const p of partNames) {
        const f = new SafetensorsFile(path.join(dir, p));
        this.files.push(f);
        for (const n of f.names()) {
          if (this.tensors.has(n)) throw new Error(`${f.path}: tensor ${n} also appears in ${this.tensors.get(n).file.path}`);
          this.tensors.set(n, f.tensors.get(n));
          this.order.push(n);
        }
      }
      if (weightMap) {
        const inIndex = new Set(Object.keys(weightMap));
        const missing = [...inIndex].filter((n) => !this.tensors.has(n)).sort(byteOrder);
        const extra = this.order.filter((n) => !inIndex.has(n));
        if (missing.length || extra.length) {
          const files = [...new Set(missing.map((n) => weightMap[n]))];
          throw new Error(
            `${indexPath}: weight map and shards disagree` +
              (missing.length ? `; missing tensors: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''} (from ${files.join(', ')})` : '') +
              (extra.length ? `; tensors not in the index: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}` : ''),
          );
        }
        for (const [n, file] of Object.entries(weightMap)) {
          const t = this.tensors.get(n);
          if (path.basename(t.file.path) !== file) {
            throw new Error(`${indexPath}: tensor ${n} is listed in ${file} but found in ${path.basename(t.file.path)}`);
          }
        }
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  has(name) {
    return this.tensors.has(name);
  }

  get(name) {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.dir}: no tensor named ${name}`);
    return t;
  }

  /** Names in conversion order. */
  names() {
    return this.order.slice();
  }

  /**
   * Rows [row0, row0+nrows) of a tensor viewed as [rows, rowLength] (rowLength =
   * last dimension; a 0-d/1-d tensor is a single row), widened to float32 - into
   * `out` (a Float32Array of nrows * rowLength values) if given. F32 data is read
   * straight into `out`; other dtypes go through one reused scratch buffer.
   */
  readRowsF32(t, row0, nrows, out = undefined) {
    const rowLen = t.shape.length ? t.shape[t.shape.length - 1] : 1;
    const n = nrows * rowLen;
    const es = DTYPE_SIZE[t.dtype];
    out ??= new Float32Array(n);
    if (out.length < n) throw new Error(`readRowsF32: output holds ${out.length} values, ${n} needed`);
    if (t.dtype === 'F32') {
      t.file.readRaw(t, row0 * rowLen * 4, n * 4, new Uint8Array(out.buffer, out.byteOffset, n * 4));
      return out;
    }
    if (!this.scratch || this.scratch.length < n * es) this.scratch = new Uint8Array(n * es);
    const raw = t.file.readRaw(t, row0 * rowLen * es, n * es, this.scratch.subarray(0, n * es));
    return toFloat32(t.dtype, raw, n, out);
  }

  /** The whole tensor as float32. */
  readF32(t) {
    const rows = t.shape.length > 1 ? t.nelements / t.shape[t.shape.length - 1] : 1;
    return this.readRowsF32(t, 0, t.nelements === 0 ? 0 : rows);
  }

  close() {
    for (const f of this.files) f.close();
  }
}

/**
 * Write a safetensors file (tests, benchmarks): tensors is a list of
 * { name, dtype, shape, data } where data is a typed array of the raw
 * little-endian bytes, or a function returning it (called when that tensor is
 * written, so large models can be generated one tensor at a time).
 * Tensors are laid out in name order, as the safetensors library does for one dtype.
 */
export function writeSafetensors(file, tensors, metadata = { format: 'pt' }) {
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const sorted = [...tensors].sort((a, b) => byteOrder(a.name, b.name));
  for (const t of sorted) {
    if (!(t.dtype in DTYPE_SIZE)) throw new Error(`writeSafetensors: tensor ${t.name}: unknown dtype ${t.dtype}`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes] };
    off += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // header padded to 8 bytes
  const hb = Buffer.from(json, 'utf8');
  const fd = fs.openSync(file, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, hb);
    for (const t of sorted) {
      const data = typeof t.data === 'function' ? t.data() : t.data;
      const u8 = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const want = header[t.name].data_offsets[1] - header[t.name].data_offsets[0];
      if (u8.length !== want) throw new Error(`writeSafetensors: tensor ${t.name}: ${u8.length} bytes for ${t.dtype} ${JSON.stringify(t.shape)} (needs ${want})`);
      let o = 0;
      while (o < u8.length) o += fs.writeSync(fd, u8, o, u8.length - o);
    }
  } finally {
    fs.closeSync(fd);
  }
}
