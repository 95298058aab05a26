// Shared by the convert tests and tests/fixtures/convert/make_manifests.mjs.
//
// A manifest is a compact, exact description of a GGUF file: header fields, every
// metadata key with its type and value (arrays as count + SHA-256 of their GGUF
// encoding), every tensor's name, type, ne, offset and SHA-256 of its bytes, and
// the SHA-256 of the whole file. Comparing manifests is comparing files.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readGGUF } from '../../js/convert/gguf-reader.js';
import { GGUFWriter } from '../../js/convert/gguf-writer.js';
import { GGUFValueType as VT } from '../../js/convert/constants.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(ROOT, 'tests/fixtures');

/** Keys that name the model rather than describe it (general.name etc.). */
export const COSMETIC_KEYS = new Set(['general.name', 'general.size_label', 'general.basename', 'general.finetune', 'general.version', 'general.organization']);

const sha = (u8) => crypto.createHash('sha256').update(u8).digest('hex');

/** GGUF encoding of one metadata value (through a one-key writer). */
function encodeValue(m) {
  const w = new GGUFWriter();
  w.addKeyValue('k', m.value, m.type, m.itemType);
  return w.headerBytes();
}

export function manifestOf(input) {
  const bytes = typeof input === 'string' ? fs.readFileSync(input) : input;
  const f = readGGUF(bytes);
  try {
    return {
      bytes: bytes.length,
      sha256: sha(bytes),
      version: f.version,
      alignment: f.alignment,
      metadata: f.metadata.map((m) => {
        const e = { key: m.key, type: m.type };
        if (m.type === VT.ARRAY) {
          e.itemType = m.itemType;
          e.count = m.value.length;
          e.sha256 = sha(encodeValue(m));
        } else if (typeof m.value === 'bigint') e.value = String(m.value);
        else if (m.value instanceof Uint8Array) e.sha256 = sha(encodeValue(m));
        else e.value = m.value;
        return e;
      }),
      tensors: f.tensors.map((t) => ({ name: t.name, type: t.type, ne: t.ne, offset: t.offset, bytes: t.nbytes, sha256: sha(f.readTensor(t)) })),
    };
  } finally {
    f.close();
  }
}

/**
 * Compare a produced GGUF (bytes) with a reference manifest.
 * Returns counts and the names that differ; cosmetic keys are left out.
 */
export function compareWithManifest(bytes, ref) {
  const got = manifestOf(bytes);
  const refT = new Map(ref.tensors.map((t) => [t.name, t]));
  const gotT = new Map(got.tensors.map((t) => [t.name, t]));
  const badTensors = ref.tensors.filter((t) => {
    const g = gotT.get(t.name);
    return !g || g.type !== t.type || g.sha256 !== t.sha256 || JSON.stringify(g.ne) !== JSON.stringify(t.ne);
  }).map((t) => t.name);
  const extraTensors = got.tensors.filter((t) => !refT.has(t.name)).map((t) => t.name);
  const refK = ref.metadata.filter((m) => !COSMETIC_KEYS.has(m.key));
  const gotK = got.metadata.filter((m) => !COSMETIC_KEYS.has(m.key));
  const gotKMap = new Map(gotK.map((m) => [m.key, m]));
  const badKeys = refK.filter((m) => JSON.stringify(gotKMap.get(m.key)) !== JSON.stringify(m)).map((m) => m.key);
  const refKeys = new Set(refK.map((m) => m.key));
  const extraKeys = gotK.filter((m) => !refKeys.has(m.key)).map((m) => m.key);
  return {
    tensors: ref.tensors.length,
    tensorsIdentical: ref.tensors.length - badTensors.length,
    keys: refK.length,
    keysIdentical: refK.length - badKeys.length,
    badTensors,
    badKeys,
    extraTensors,
    extraKeys,
    tensorOrderSame: JSON.stringify(got.tensors.map((t) => t.name)) === JSON.stringify(ref.tensors.map((t) => t.name)),
    keyOrderSame: JSON.stringify(gotK.map((m) => m.key)) === JSON.stringify(refK.map((m) => m.key)),
    wholeFileSame: withCosmeticKeysOf(bytes, ref.cosmetic) === ref.sha256,
  };
}

/**
 * SHA-256 of the file `bytes` with its cosmetic keys replaced by `cosmetic`
 * ({key: value} in the reference's order; keys absent there are dropped).
 */
export function withCosmeticKeysOf(bytes, cosmetic) {
  const f = readGGUF(bytes);
  try {
    const w = new GGUFWriter({ alignment: f.alignment });
    let placed = false;
    for (const m of f.metadata) {
      if (COSMETIC_KEYS.has(m.key)) {
        if (!placed) {
          for (const [k, v] of Object.entries(cosmetic ?? {})) w.addString(k, v);
          placed = true;
        }
        continue;
      }
      w.addKeyValue(m.key, m.value, m.type, m.itemType);
    }
    for (const t of f.tensors) w.addTensorInfo(t.name, t.shape, t.type);
    const sink = GGUFWriter.memorySink();
    w.open(sink);
    for (const t of f.tensors) w.writeTensor(t.name, f.readTensor(t));
    w.close();
    return sha(sink.bytes());
  } finally {
    f.close();
  }
}

/** The conversion fixtures: hf folder -> { output type: reference manifest file }. */
export const CONVERT_CASES = [
  { dir: 'gpt2/hf', refs: { F32: 'gpt2-tiny-F32', F16: 'gpt2-tiny-F16', Q8_0: 'gpt2-tiny-Q8_0', Q4_0: 'gpt2-tiny-Q4_0' }, refDir: 'gpt2' },
  { dir: 'llama/tiny-random-gqa/hf', refs: { F32: 'llama-tiny-gqa-F32', F16: 'llama-tiny-gqa-F16', Q8_0: 'llama-tiny-gqa-Q8_0', Q4_0: 'llama-tiny-gqa-Q4_0' }, refDir: 'llama/tiny-random-gqa' },
  { dir: 'llama/stories260K/hf', refs: { F32: 'stories260K-F32', F16: 'stories260K-F16', Q8_0: 'stories260K-Q8_0', Q4_0: 'stories260K-Q4_0' }, refDir: 'llama/stories260K' },
  { dir: 'bert/hf', refs: { F32: 'tiny-bert-random-f32', F16: 'tiny-bert-random-f16', Q8_0: 'tiny-bert-random-q80' }, refDir: 'bert' },
  { dir: 't5/v1_0/hf', refs: { F32: 'tiny-t5-v1.0-random-f32', F16: 'tiny-t5-v1.0-random-f16', Q8_0: 'tiny-t5-v1.0-random-q80' }, refDir: 't5/v1_0' },
  { dir: 't5/v1_1/hf', refs: { F32: 'tiny-t5-v1.1-random-f32', F16: 'tiny-t5-v1.1-random-f16', Q8_0: 'tiny-t5-v1.1-random-q80' }, refDir: 't5/v1_1' },
];

export function loadManifest(name) {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, 'convert', `${name}.json`), 'utf8'));
}

/** A temporary folder removed by the returned cleanup function. */
export function tempDir(prefix = 'plm-convert-') {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Copy an hf fixture folder into a temp dir (to modify it). */
export function copyFixture(sub, dest) {
  fs.cpSync(path.join(FIXTURES, sub), dest, { recursive: true });
  for (const f of fs.readdirSync(dest)) fs.chmodSync(path.join(dest, f), 0o644);
  return dest;
}
