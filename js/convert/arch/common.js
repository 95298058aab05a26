// Helpers shared by the architecture modules.
//
// An architecture module exports:
//   name                      GGUF general.architecture
//   hfArchitectures           config.json "architectures" values it converts
//   quantVersionAfterVocab    where general.quantization_version goes (key order of
//                             the reference files)
//   init(ctx)                 validate config.json, fill ctx.hp
//   writeParameters(w, ctx)   "{arch}.*" keys + general.file_type, in converter order
//   writeVocab(w, ctx)        tokenizer.* keys
//   mapTensor(src, ctx)       -> list of outputs { name, shape, transform? } (empty: skip)
//                             transform: { kind: 'transpose' } | { kind: 'permute', nHead }
//   extraTensors(ctx)         generated tensors [{ name, shape, data: Float32Array }]
//   required(ctx)             [[gguf name, source name], ...] that must be produced

/** TextModel.find_hparam: the first key present. */
export function findHparam(cfg, keys, optional = false) {
  for (const k of keys) if (cfg[k] !== undefined && cfg[k] !== null) return cfg[k];
  if (optional) return undefined;
  throw new Error(`config.json: could not find any of ${keys.join(', ')}`);
}

/** A positive integer hyperparameter from config.json (first of `keys` present). */
export function posInt(ctx, keys, optional = false) {
  keys = Array.isArray(keys) ? keys : [keys];
  const key = keys.find((k) => ctx.config[k] !== undefined && ctx.config[k] !== null);
  if (key === undefined) {
    if (optional) return undefined;
    throw new Error(`${ctx.configPath}: missing "${keys[0]}"`);
  }
  const v = ctx.config[key];
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${ctx.configPath}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** A finite number from config.json (first of `keys` present). */
export function num(ctx, keys, optional = false) {
  keys = Array.isArray(keys) ? keys : [keys];
  const key = keys.find((k) => ctx.config[k] !== undefined && ctx.config[k] !== null);
  if (key === undefined) {
    if (optional) return undefined;
    throw new Error(`${ctx.configPath}: missing "${keys[0]}"`);
  }
  const v = ctx.config[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${ctx.configPath}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Throw a clear error when a source tensor's shape is not what config.json implies. */
export function expectShape(src, expected, why = 'config.json') {
  const ok = src.shape.length === expected.length && src.shape.every((d, i) => expected[i] === undefined || d === expected[i]);
  if (!ok) {
    const fmt = (s) => `[${s.map((d) => (d === undefined ? '?' : d)).join(', ')}]`;
    throw new Error(`${src.file.path}: tensor ${src.name} has shape ${fmt(src.shape)}, expected ${fmt(expected)} from ${why}`);
  }
}

export function unknownTensor(src, arch) {
  return new Error(`${src.file.path}: cannot map tensor ${src.name} to a GGUF name (not part of a ${arch} checkpoint)`);
}

/** Error when a block index is outside [0, n). */
export function checkBlock(src, bid, n, what) {
  if (bid < 0 || bid >= n) {
    throw new Error(`${src.file.path}: tensor ${src.name} belongs to block ${bid}, but config.json has ${n} ${what}`);
  }
}
