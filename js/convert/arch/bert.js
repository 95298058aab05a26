// BERT (BertModel / BertForMaskedLM / BertForSequenceClassification) -> GGUF arch
// "bert", as convert_hf_to_gguf.py's BertModel, plus (opts.heads !== 'none') the
// task heads llama.cpp's converter drops (see docs/gguf-extensions.md):
//   bert.pooler.dense                   -> cls.weight, cls.bias           (pooler: tanh(W h[CLS] + b))
//   classifier                          -> cls.output.weight, cls.output.bias
//   cls.predictions.transform.dense     -> mlm.dense.weight, mlm.dense.bias
//   cls.predictions.transform.LayerNorm -> mlm.norm.weight, mlm.norm.bias
//   cls.predictions.bias                -> mlm.output.bias
//   cls.predictions.decoder.weight      -> mlm.output.weight (only when not tied to the embeddings)
// cls / cls.output are llama.cpp's own names for a sequence-classification head
// (dense + tanh, then projection), so files with only those heads load in llama.cpp.
import fs from 'node:fs';
import path from 'node:path';
import { GGUFValueType as VT, PoolingType } from '../constants.js';
import { setVocabBert, readJSON } from '../vocab.js';
import { posInt, num, expectShape, unknownTensor, checkBlock } from './common.js';

export const name = 'bert';
export const hfArchitectures = ['BertModel', 'BertForMaskedLM', 'BertForSequenceClassification'];
export const quantVersionAfterVocab = true;

export function init(ctx) {
  const cfg = ctx.config;
  const hp = {
    nLayer: posInt(ctx, 'num_hidden_layers'),
    nCtx: posInt(ctx, 'max_position_embeddings'),
    nEmbd: posInt(ctx, 'hidden_size'),
    nFF: posInt(ctx, 'intermediate_size'),
    nHead: posInt(ctx, 'num_attention_heads'),
    eps: num(ctx, ['layer_norm_eps', 'layer_norm_epsilon', 'norm_epsilon']),
    nVocab: posInt(ctx, 'vocab_size'),
    nTypes: posInt(ctx, 'type_vocab_size', true) ?? 1,
  };
  if (cfg.position_embedding_type && cfg.position_embedding_type !== 'absolute') {
    throw new Error(`${ctx.configPath}: position_embedding_type ${JSON.stringify(cfg.position_embedding_type)} is not supported (only "absolute")`);
  }
  hp.heads = (ctx.opts.heads ?? 'all') !== 'none';
  hp.tied = cfg.tie_word_embeddings !== false;
  // BertModel.__init__: drop the dummy labels AutoConfig adds
  let labels = cfg.id2label && typeof cfg.id2label === 'object' ? cfg.id2label : null;
  if (labels) {
    const keys = Object.keys(labels);
    if (keys.length === 2 && labels[0] === 'LABEL_0') labels = null;
  }
  hp.labels = labels ? Object.entries(labels).sort((a, b) => Number(a[0]) - Number(b[0])).map(([, v]) => String(v)) : null;
  ctx.hp = hp;
}

/** Pooling type from a sentence-transformers modules.json (BertModel._try_set_pooling_type). */
export function poolingTypeOf(ctx) {
  const modules = readJSON(ctx.dir, 'modules.json');
  if (!Array.isArray(modules)) return null;
  const mod = modules.find((m) => m?.type === 'sentence_transformers.models.Pooling');
  if (!mod) return null;
  const cfgPath = path.join(ctx.dir, mod.path ?? '', 'config.json');
  if (!fs.existsSync(cfgPath)) {
    ctx.warnings.push(`${cfgPath}: missing, pooling type not set`);
    return null;
  }
  const pooling = readJSON(path.dirname(cfgPath), 'config.json');
  if (pooling.pooling_mode_mean_tokens) return PoolingType.MEAN;
  if (pooling.pooling_mode_cls_token) return PoolingType.CLS;
  if (pooling.pooling_mode_lasttoken) return PoolingType.LAST;
  ctx.warnings.push(`${cfgPath}: only MEAN, CLS and LAST pooling are representable, pooling type not set`);
  return null;
}

export function writeParameters(w, ctx) {
  const hp = ctx.hp;
  w.addUint32('bert.block_count', hp.nLayer);
  w.addUint32('bert.context_length', hp.nCtx);
  w.addUint32('bert.embedding_length', hp.nEmbd);
  w.addUint32('bert.feed_forward_length', hp.nFF);
  w.addUint32('bert.attention.head_count', hp.nHead);
  w.addFloat32('bert.attention.layer_norm_epsilon', hp.eps);
  w.addUint32('general.file_type', ctx.fileType);
  w.addBool('bert.attention.causal', false);
  const pooling = poolingTypeOf(ctx);
  if (pooling !== null) w.addUint32('bert.pooling_type', pooling);
  let labels = hp.labels;
  if (!labels && hp.heads && ctx.classifierRows) labels = Array.from({ length: ctx.classifierRows }, (_, i) => `LABEL_${i}`);
  if (labels && (hp.heads || hp.labels)) w.addArray('bert.classifier.output_labels', labels, VT.STRING);
}

export function writeVocab(w, ctx) {
  return setVocabBert(w, ctx.dir, ctx.config, ctx.opts);
}

const LAYER_PARTS = {
  'attention.self.query': 'attn_q',
  'attention.self.key': 'attn_k',
  'attention.self.value': 'attn_v',
  'attention.output.dense': 'attn_output',
  'attention.output.LayerNorm': 'attn_output_norm',
  'intermediate.dense': 'ffn_up',
  'output.dense': 'ffn_down',
  'output.LayerNorm': 'layer_output_norm',
};

export function mapTensor(src, ctx) {
  const { nEmbd: E, nFF: F, nVocab: V, nCtx: P, nTypes: T, nLayer, heads, tied } = ctx.hp;
  let n = src.name;
  if (n.startsWith('bert.')) n = n.slice(5);
  if (n.endsWith('.gamma')) n = `${n.slice(0, -6)}.weight`;
  if (n.endsWith('.beta')) n = `${n.slice(0, -5)}.bias`;
  const out = (gguf, expected) => {
    expectShape(src, expected);
    return [{ name: gguf, shape: expected, transform: null }];
  };
  const vec = (s) => s === 'bias';
  let m;
  if (n === 'embeddings.position_ids') return [];
  if (n.startsWith('cls.seq_relationship')) return []; // next-sentence head
  if ((m = /^embeddings\.(.+)\.(weight|bias)$/.exec(n))) {
    switch (m[1]) {
      case 'word_embeddings': if (m[2] === 'weight') return out('token_embd.weight', [V, E]); break;
      case 'position_embeddings': if (m[2] === 'weight') return out('position_embd.weight', [P, E]); break;
      case 'token_type_embeddings': if (m[2] === 'weight') return out('token_types.weight', [T, E]); break;
      case 'LayerNorm': return out(`token_embd_norm.${m[2]}`, [E]);
      default: break;
    }
  }
  if ((m = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$/.exec(n))) {
    const bid = Number(m[1]);
    checkBlock(src, bid, nLayer, 'layers (num_hidden_layers)');
    const part = LAYER_PARTS[m[2]];
    if (part) {
      const s = m[3];
      let shape;
      if (part.endsWith('_norm')) shape = [E];
      else if (part === 'ffn_up') shape = vec(s) ? [F] : [F, E];
      else if (part === 'ffn_down') shape = vec(s) ? [E] : [E, F];
      else shape = vec(s) ? [E] : [E, E];
      return out(`blk.${bid}.${part}.${s}`, shape);
    }
  }
  // task heads
  if ((m = /^pooler\.dense\.(weight|bias)$/.exec(n))) return heads ? out(`cls.${m[1]}`, vec(m[1]) ? [E] : [E, E]) : [];
  if ((m = /^classifier\.(weight|bias)$/.exec(n))) {
    if (!heads) return [];
    const rows = src.shape[0];
    if (ctx.hp.labels && rows !== ctx.hp.labels.length) {
      throw new Error(`${src.file.path}: tensor ${src.name} has ${rows} rows but config.json id2label has ${ctx.hp.labels.length} labels`);
    }
    return out(`cls.output.${m[1]}`, vec(m[1]) ? [rows] : [rows, E]);
  }
  if ((m = /^cls\.predictions\.transform\.dense\.(weight|bias)$/.exec(n))) return heads ? out(`mlm.dense.${m[1]}`, vec(m[1]) ? [E] : [E, E]) : [];
  if ((m = /^cls\.predictions\.transform\.LayerNorm\.(weight|bias)$/.exec(n))) return heads ? out(`mlm.norm.${m[1]}`, [E]) : [];
  if (n === 'cls.predictions.bias') return heads ? out('mlm.output.bias', [V]) : [];
  if (n === 'cls.predictions.decoder.bias') {
    // the same parameter as cls.predictions.bias in HF; keep one copy
    if (!heads || ctx.source.has('cls.predictions.bias')) return [];
    return out('mlm.output.bias', [V]);
  }
  if (n === 'cls.predictions.decoder.weight') return heads && !tied ? out('mlm.output.weight', [V, E]) : [];
  throw unknownTensor(src, 'BERT');
}

export function extraTensors() {
  return [];
}

export function required(ctx) {
  const r = [['token_embd.weight', 'bert.embeddings.word_embeddings.weight'], ['position_embd.weight', 'bert.embeddings.position_embeddings.weight'],
    ['token_embd_norm.weight', 'bert.embeddings.LayerNorm.weight'], ['token_embd_norm.bias', 'bert.embeddings.LayerNorm.bias']];
  for (let i = 0; i < ctx.hp.nLayer; i++) {
    for (const [hf, g] of Object.entries(LAYER_PARTS)) {
      r.push([`blk.${i}.${g}.weight`, `bert.encoder.layer.${i}.${hf}.weight`], [`blk.${i}.${g}.bias`, `bert.encoder.layer.${i}.${hf}.bias`]);
    }
  }
  return r;
}

/** Consistency of the heads that were found (called after mapping, before writing). */
export function checkHeads(produced, ctx) {
  const have = new Set(produced);
  const groups = [
    ['pooler', ['cls.weight', 'cls.bias']],
    ['classifier', ['cls.output.weight', 'cls.output.bias']],
    ['masked-LM head', ['mlm.dense.weight', 'mlm.dense.bias', 'mlm.norm.weight', 'mlm.norm.bias', 'mlm.output.bias']],
  ];
  for (const [what, names] of groups) {
    const present = names.filter((x) => have.has(x));
    if (present.length && present.length !== names.length) {
      const missing = names.filter((x) => !have.has(x));
      throw new Error(`${ctx.dir}: incomplete ${what} in the checkpoint: found ${present.join(', ')} but not ${missing.join(', ')}`);
    }
  }
  if (have.has('cls.output.weight') && !have.has('cls.weight')) {
    throw new Error(`${ctx.dir}: the checkpoint has a classifier but no pooler (bert.pooler.dense), which BertForSequenceClassification needs`);
  }
}
