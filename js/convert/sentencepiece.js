// SentencePiece model files (tokenizer.model / spiece.model) are a serialized
// protobuf ModelProto (sentencepiece_model.proto). This is a minimal decoder for
// the fields the converter needs:
//
//   ModelProto      1 pieces (repeated SentencePiece)  2 trainer_spec  3 normalizer_spec
//   SentencePiece   1 piece (string)  2 score (float)  3 type (enum, default NORMAL=1)
//   TrainerSpec     3 model_type (UNIGRAM=1 default, BPE=2, WORD=3, CHAR=4)  4 vocab_size
//                   35 byte_fallback  40 unk_id  41 bos_id  42 eos_id  43 pad_id
//   NormalizerSpec  1 name  2 precompiled_charsmap (bytes)  3 add_dummy_prefix (default true)
//                   4 remove_extra_whitespaces (default true)  5 escape_whitespaces (default true)
// Unknown fields are skipped by wire type, as protobuf readers do.

export const PieceType = Object.freeze({ NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 });
export const ModelType = Object.freeze({ UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 });

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  constructor(bytes, name, start = 0, end = bytes.length) {
    this.b = bytes;
    this.pos = start;
    this.end = end;
    this.name = name;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(msg) {
    throw new Error(`${this.name}: invalid sentencepiece model: ${msg} (byte ${this.pos})`);
  }
  varint() {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const byte = this.b[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) break;
      shift += 7n;
      if (shift > 63n) this.fail('varint too long');
    }
    return result;
  }
  /** varint that must fit a JS number */
  uint() {
    const v = this.varint();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('value too large');
    return Number(v);
  }
  fixed32() {
    if (this.pos + 4 > this.end) this.fail('truncated fixed32');
    const v = this.dv.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  bytes() {
    const n = this.uint();
    if (this.pos + n > this.end) this.fail(`length-delimited field of ${n} bytes runs past the end`);
    const s = this.pos;
    this.pos += n;
    return [s, s + n];
  }
  skip(wire) {
    switch (wire) {
      case 0: this.varint(); break;
      case 1: if ((this.pos += 8) > this.end) this.fail('truncated fixed64'); break;
      case 2: this.bytes(); break;
      case 5: if ((this.pos += 4) > this.end) this.fail('truncated fixed32'); break;
      default: this.fail(`unsupported wire type ${wire}`);
    }
  }
  /** Iterate fields: cb(fieldNumber, wireType) must consume the value or call skip. */
  fields(cb) {
    while (this.pos < this.end) {
      const key = this.uint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (field === 0) this.fail('field number 0');
      cb(field, wire);
    }
    if (this.pos !== this.end) this.fail('message runs past its end');
  }
  sub([s, e]) {
    return new Reader(this.b, this.name, s, e);
  }
}

function readPiece(r) {
  const p = { piece: '', score: 0, type: PieceType.NORMAL };
  r.fields((f, w) => {
    if (f === 1 && w === 2) {
      const [s, e] = r.bytes();
      try {
        p.piece = utf8.decode(r.b.subarray(s, e));
      } catch {
        r.fail('piece is not valid UTF-8');
      }
    } else if (f === 2 && w === 5) p.score = r.fixed32();
    else if (f === 3 && w === 0) p.type = r.uint();
    else r.skip(w);
  });
  return p;
}

function readTrainer(r) {
  const t = { model_type: ModelType.UNIGRAM, vocab_size: 8000, byte_fallback: false, unk_id: 0, bos_id: 1, eos_id: 2, pad_id: -1 };
  const int32 = (v) => Number(BigInt.asIntN(32, v));
  r.fields((f, w) => {
    if (w !== 0) return r.skip(w);
    const v = r.varint();
    switch (f) {
      case 3: t.model_type = Number(v); break;
      case 4: t.vocab_size = int32(v); break;
      case 35: t.byte_fallback = v !== 0n; break;
      case 40: t.unk_id = int32(v); break;
      case 41: t.bos_id = int32(v); break;
      case 42: t.eos_id = int32(v); break;
      case 43: t.pad_id = int32(v); break;
      default: break;
    }
  });
  return t;
}

function readNormalizer(r) {
  const n = { name: '', precompiled_charsmap: new Uint8Array(0), add_dummy_prefix: true, remove_extra_whitespaces: true, escape_whitespaces: true };
  r.fields((f, w) => {
    if (f === 1 && w === 2) {
      const [s, e] = r.bytes();
      n.name = new TextDecoder().decode(r.b.subarray(s, e));
    } else if (f === 2 && w === 2) {
      const [s, e] = r.bytes();
      n.precompiled_charsmap = r.b.slice(s, e);
    } else if (f === 3 && w === 0) n.add_dummy_prefix = r.varint() !== 0n;
    else if (f === 4 && w === 0) n.remove_extra_whitespaces = r.varint() !== 0n;
    else if (f === 5 && w === 0) n.escape_whitespaces = r.varint() !== 0n;
    else r.skip(w);
  });
  return n;
}

/**
 * Parse a sentencepiece ModelProto.
 * @returns {{ pieces: {piece:string, score:number, type:number}[], trainer: object, normalizer: object }}
 */
export function parseSentencePieceModel(bytes, name = 'sentencepiece model') {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const r = new Reader(u8, name);
  const pieces = [];
  let trainer = null;
  let normalizer = null;
  r.fields((f, w) => {
    if (f === 1 && w === 2) pieces.push(readPiece(r.sub(r.bytes())));
    else if (f === 2 && w === 2) trainer = readTrainer(r.sub(r.bytes()));
    else if (f === 3 && w === 2) normalizer = readNormalizer(r.sub(r.bytes()));
    else r.skip(w);
  });
  if (pieces.length === 0) throw new Error(`${name}: invalid sentencepiece model: no pieces`);
  for (const [i, p] of pieces.entries()) {
    if (!(p.type >= 1 && p.type <= 6)) throw new Error(`${name}: invalid sentencepiece model: piece ${i} has type ${p.type}`);
  }
  return {
    pieces,
    trainer: trainer ?? readTrainer(new Reader(new Uint8Array(0), name)),
    normalizer: normalizer ?? readNormalizer(new Reader(new Uint8Array(0), name)),
  };
}
