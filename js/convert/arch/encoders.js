// Encoders llama.cpp's convert_hf_to_gguf.py writes on top of its BertModel:
//   XLMRobertaModel (-> arch "bert"): fairseq-aligned Unigram vocabulary ("t5" model, see
//     setVocabXlmRoberta), position_embeddings rows from padding_idx + 1 on (context_length
//     = max_position_embeddings - padding_idx - 1), optional "roberta." prefix;
//     XLMRobertaForSequenceClassification's classifier.dense / classifier.out_proj as the
//     cls / cls.output heads (kept unless heads: 'none').
//   NomicBertModel (-> arch "nomic-bert"): fused Wqkv, SwiGLU (fc11 = ffn_up, fc12 = ffn_gate),
//     post-LN norm1 / norm2, rotary positions (rope.freq_base = rotary_emb_base), no biases,
//     context_length = max_trained_positions.
import * as bert from './bert.js';
import { setVocabXlmRoberta, setVocabBert, readJSON } from '../vocab.js';
import { posInt, num, expectShape, unknownTensor, checkBlock } from './common.js';

export const xlmRoberta = {
  ...bert,
  quantVersionAfterVocab: false,
  hfArchitectures: ['XLMRobertaModel', 'XLMRobertaForSequenceClassification'],
  init(ctx) {
    const pad = ctx.config.pad_token_id ?? 1;
    const offset = pad + 1;
    const mpe = posInt(ctx, 'max_position_embeddings');
    if (mpe <= offset) throw new Error(`${ctx.configPath}: max_position_embeddings ${mpe} leaves no positions after padding_idx + 1 = ${offset}`);
    const full = ctx.config;
    ctx.config = { ...full, max_position_embeddings: mpe - offset };
    try {
      bert.init(ctx);
    } finally {
      ctx.config = full;
    }
    ctx.hp.posOffset = offset;
  },
  writeVocab: (w, ctx) => setVocabXlmRoberta(w, ctx.dir, ctx.config),
  mapTensor(src, ctx) {
    const { nEmbd: E, nCtx: P, posOffset, heads } = ctx.hp;
    let n = src.name;
    if (n.startsWith('roberta.')) n = n.slice(8);
    if (n === 'embeddings.position_embeddings.weight') {
      expectShape(src, [P + posOffset, E]);
      return [{ name: 'position_embd.weight', shape: [P, E], transform: { kind: 'rows', from: posOffset } }];
    }
    let m;
    if ((m = /^classifier\.dense\.(weight|bias)$/.exec(n))) n = `pooler.dense.${m[1]}`;
    else if ((m = /^classifier\.out_proj\.(weight|bias)$/.exec(n))) n = `classifier.${m[1]}`;
    if (!heads && /^(pooler|classifier)\./.test(n)) return [];
    return bert.mapTensor({ ...src, name: n }, ctx);
  },
};

const NOMIC_PARTS = {
  'attn.Wqkv': ['attn_qkv', (hp) => [3 * hp.nEmbd, hp.nEmbd]],
  'attn.out_proj': ['attn_output', (hp) => [hp.nEmbd, hp.nEmbd]],
  'mlp.fc11': ['ffn_up', (hp) => [hp.nFF, hp.nEmbd]],
  'mlp.fc12': ['ffn_gate', (hp) => [hp.nFF, hp.nEmbd]],
  'mlp.fc2': ['ffn_down', (hp) => [hp.nEmbd, hp.nFF]],
  norm1: ['attn_output_norm', (hp) => [hp.nEmbd]],
  norm2: ['layer_output_norm', (hp) => [hp.nEmbd]],
};

export const nomicBert = {
  ...bert,
  name: 'nomic-bert',
  hfArchitectures: ['NomicBertModel'],
  quantVersionAfterVocab: false,
  init(ctx) {
    const cfg = ctx.config;
    if (cfg.activation_function && cfg.activation_function !== 'swiglu') throw new Error(`${ctx.configPath}: activation_function ${cfg.activation_function} is not supported (swiglu)`);
    if (cfg.prenorm || cfg.qkv_proj_bias || cfg.mlp_fc1_bias || cfg.mlp_fc2_bias || cfg.rotary_emb_interleaved || (cfg.rotary_emb_fraction ?? 1) !== 1)
      throw new Error(`${ctx.configPath}: only nomic-embed-text's layout is supported (post-norm, no biases, full non-interleaved rotary)`);
    ctx.hp = {
      nLayer: posInt(ctx, 'n_layer'),
      nCtx: posInt(ctx, ['max_trained_positions', 'n_positions']),
      nEmbd: posInt(ctx, 'n_embd'),
      nFF: posInt(ctx, 'n_inner'),
      nHead: posInt(ctx, 'n_head'),
      eps: num(ctx, 'layer_norm_epsilon'),
      nVocab: posInt(ctx, 'vocab_size'),
      nTypes: posInt(ctx, 'type_vocab_size', true) ?? 1,
      ropeBase: num(ctx, 'rotary_emb_base', true) ?? 10000,
      heads: false,
      labels: null,
    };
  },
  writeParameters(w, ctx) {
    const hp = ctx.hp;
    w.addUint32('nomic-bert.block_count', hp.nLayer);
    w.addUint32('nomic-bert.context_length', hp.nCtx);
    w.addUint32('nomic-bert.embedding_length', hp.nEmbd);
    w.addUint32('nomic-bert.feed_forward_length', hp.nFF);
    w.addUint32('nomic-bert.attention.head_count', hp.nHead);
    w.addFloat32('nomic-bert.rope.freq_base', hp.ropeBase);
    w.addFloat32('nomic-bert.attention.layer_norm_epsilon', hp.eps);
    w.addUint32('general.file_type', ctx.fileType);
    w.addBool('nomic-bert.attention.causal', false);
    const pooling = bert.poolingTypeOf(ctx);
    if (pooling !== null) w.addUint32('nomic-bert.pooling_type', pooling);
  },
  writeVocab(w, ctx) {
    const res = setVocabBert(w, ctx.dir, { ...ctx.config, type_vocab_size: ctx.hp.nTypes }, ctx.opts);
    // the normalizer's lowercasing, as the reference converter records it for this model
    const lower = readJSON(ctx.dir, 'tokenizer.json')?.normalizer?.lowercase ?? readJSON(ctx.dir, 'tokenizer_config.json')?.do_lower_case;
    if (typeof lower === 'boolean') w.addBool('tokenizer.ggml.normalizer.lowercase', lower);
    return res;
  },
  mapTensor(src, ctx) {
    const hp = ctx.hp;
    const { nEmbd: E, nVocab: V, nTypes: T } = hp;
    const n = src.name;
    const out = (name, shape) => {
      expectShape(src, shape);
      return [{ name, shape, transform: null }];
    };
    if (n === 'embeddings.word_embeddings.weight') return out('token_embd.weight', [V, E]);
    if (n === 'embeddings.token_type_embeddings.weight') return out('token_types.weight', [T, E]);
    let m;
    if ((m = /^emb_ln\.(weight|bias)$/.exec(n))) return out(`token_embd_norm.${m[1]}`, [E]);
    if ((m = /^encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(n))) {
      const bid = Number(m[1]);
      checkBlock(src, bid, hp.nLayer, 'layers (n_layer)');
      const part = NOMIC_PARTS[m[2]];
      if (part && (m[3] === 'weight' || part[0].endsWith('_norm'))) return out(`blk.${bid}.${part[0]}.${m[3]}`, part[1](hp));
    }
    throw unknownTensor(src, 'nomic-bert');
  },
  required(ctx) {
    const r = [['token_embd.weight', 'embeddings.word_embeddings.weight'], ['token_embd_norm.weight', 'emb_ln.weight'], ['token_embd_norm.bias', 'emb_ln.bias']];
    for (let i = 0; i < ctx.hp.nLayer; i++)
      for (const [hf, [g]] of Object.entries(NOMIC_PARTS)) r.push([`blk.${i}.${g}.weight`, `encoder.layers.${i}.${hf}.weight`]);
    return r;
  },
  checkHeads: undefined,
};
