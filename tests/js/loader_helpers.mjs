// loader_helpers.mjs — GGUF files made for the loader tests (split files, other tensor types).
import { readGGUF, GGUFWriter, GGUFValueType as VT } from '../../js/convert/index.js';

/**
 * Split a GGUF as llama.cpp's gguf-split does: n files, the first with all the
 * metadata, every file with split.no / split.count / split.tensors.count and a
 * run of the tensors. Returns the files' bytes.
 */
export function splitGGUF(bytes, n) {
  const f = readGGUF(bytes);
  const per = Math.ceil(f.tensors.length / n);
  const out = [];
  for (let k = 0; k < n; k++) {
    const w = new GGUFWriter({ alignment: f.alignment });
    if (k === 0) for (const e of f.metadata) w.addKeyValue(e.key, e.value, e.type, e.itemType);
    w.addKeyValue('split.no', k, VT.UINT16);
    w.addKeyValue('split.count', n, VT.UINT16);
    w.addKeyValue('split.tensors.count', f.tensors.length, VT.INT32);
    const mine = f.tensors.slice(k * per, (k + 1) * per);
    for (const t of mine) w.addTensorInfo(t.name, t.shape, t.type, t.nbytes);
    const sink = GGUFWriter.memorySink();
    w.open(sink);
    for (const t of mine) w.writeTensor(t.name, f.readTensor(t));
    w.close();
    out.push(sink.bytes());
  }
  f.close();
  return out;
}

/** A copy of a GGUF whose first tensor has another ggml type id in its header (e.g. 13 = q5_K). */
export function withFirstTensorType(bytes, type) {
  const f = readGGUF(bytes);
  const { headerSize } = f;
  const name = new TextEncoder().encode(f.tensors[0].name);
  f.close();
  // the first tensor record: u64 name length, name, u32 n_dims, i64 ne[n_dims], u32 type
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 24;
  const isRecord = (o) => Number(dv.getBigUint64(o, true)) === name.length && name.every((b, i) => bytes[o + 8 + i] === b);
  while (off < headerSize && !isRecord(off)) off++;
  if (off >= headerSize) throw new Error('first tensor record not found');
  const ndims = dv.getUint32(off + 8 + name.length, true);
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint32(off + 8 + name.length + 4 + 8 * ndims, type, true);
  return copy;
}
