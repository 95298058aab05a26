// Decoder-only families that llama.cpp's convert_hf_to_gguf.py writes without the LLaMA
// q/k permutation (their rotary embedding is NEOX-style): Qwen3 (Qwen2Model), Gemma 2 / 3
// (Gemma2Model / Gemma3Model: RMSNorm weights stored as 1 + w) and Phi-3 (Phi3MiniModel:
// fused qkv_proj / gate_up_proj kept fused, LongRoPE factor tables). Key order and values
// follow each class's set_gguf_parameters; tensors keep the checkpoint's order.
import { setVocabSentencePiece, setVocabGpt2, loadSentencePiece, readJSON } from '../vocab.js';
import { posInt, num, findHparam, expectShape, unknownTensor, checkBlock } from './common.js';

function baseHp(ctx) {
  const cfg = ctx.config;
  const hp = {
    nLayer: posInt(ctx, ['num_hidden_layers', 'n_layer']),
    nEmbd: posInt(ctx, ['hidden_size', 'n_embd']),
    nFF: posInt(ctx, ['intermediate_size', 'n_inner']),
    nHead: posInt(ctx, ['num_attention_heads', 'n_head']),
    nVocab: posInt(ctx, 'vocab_size'),
    nCtx: posInt(ctx, ['max_position_embeddings', 'n_ctx', 'n_positions'], true),
  };
  hp.nHeadKv = posInt(ctx, ['num_key_value_heads', 'n_kv_heads'], true) ?? hp.nHead;
  hp.headDim = posInt(ctx, 'head_dim', true) ?? hp.nEmbd / hp.nHead;
  if (!Number.isInteger(hp.headDim)) throw new Error(`${ctx.configPath}: hidden_size ${hp.nEmbd} is not a multiple of num_attention_heads ${hp.nHead} (set head_dim)`);
  if (hp.nHead % hp.nHeadKv) throw new Error(`${ctx.configPath}: num_attention_heads ${hp.nHead} is not a multiple of num_key_value_heads ${hp.nHeadKv}`);
  if (cfg.num_local_experts || cfg.num_experts) throw new Error(`${ctx.configPath}: mixture-of-experts models are not supported`);
  hp.rope = cfg.rope_parameters ?? cfg.rope_scaling ?? {};
  ctx.hp = hp;
  return hp;
}

/** TextModel.set_gguf_parameters, in its key order. */
function textModelParameters(w, ctx, a) {
  const { config: cfg, hp } = ctx;
  w.addUint32(`${a}.block_count`, hp.nLayer);
  if (hp.nCtx !== undefined) w.addUint32(`${a}.context_length`, hp.nCtx);
  w.addUint32(`${a}.embedding_length`, hp.nEmbd);
  w.addUint32(`${a}.feed_forward_length`, hp.nFF);
  w.addUint32(`${a}.attention.head_count`, hp.nHead);
  const kv = findHparam(cfg, ['num_key_value_heads', 'n_kv_heads'], true);
  if (kv !== undefined) w.addUint32(`${a}.attention.head_count_kv`, kv);
  const theta = hp.rope.rope_theta ?? findHparam(cfg, ['rope_theta'], true);
  if (theta !== undefined) w.addFloat32(`${a}.rope.freq_base`, theta);
  const rms = findHparam(cfg, ['rms_norm_eps'], true);
  if (rms !== undefined) w.addFloat32(`${a}.attention.layer_norm_rms_epsilon`, rms);
  if (cfg.head_dim != null) {
    w.addUint32(`${a}.attention.key_length`, cfg.head_dim);
    w.addUint32(`${a}.attention.value_length`, cfg.head_dim);
  }
  w.addUint32('general.file_type', ctx.fileType);
}

/** tensors named model.layers.N.<part>.(weight|bias) -> blk.N.<gguf> via `parts` */
function mapper(archName, parts, { norms1p = false } = {}) {
  return (src, ctx) => {
    const { nEmbd: E, nVocab: V, nLayer } = ctx.hp;
    const n = src.name;
    if (n.endsWith('.rotary_emb.inv_freq')) return [];
    const out = (gguf, expected, transform = null) => {
      expectShape(src, expected);
      return [{ name: gguf, shape: expected, transform }];
    };
    const plus1 = norms1p ? { kind: 'add', value: 1 } : null;
    if (n === 'model.embed_tokens.weight') return out('token_embd.weight', [V, E]);
    if (n === 'model.norm.weight') return out('output_norm.weight', [E], plus1);
    if (n === 'lm_head.weight') return out('output.weight', [V, E]);
    const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(n);
    if (m) {
      const bid = Number(m[1]);
      checkBlock(src, bid, nLayer, 'layers (num_hidden_layers)');
      const part = parts(ctx.hp)[m[2]];
      if (part) {
        const [gguf, shape] = part;
        const isNorm = gguf.endsWith('norm');
        return out(`blk.${bid}.${gguf}.${m[3]}`, m[3] === 'weight' ? shape : [shape[0]], isNorm ? plus1 : null);
      }
    }
    throw unknownTensor(src, archName);
  };
}

const attnParts = ({ nEmbd: E, nHead, nHeadKv, headDim: D }) => ({
  'self_attn.q_proj': ['attn_q', [nHead * D, E]],
  'self_attn.k_proj': ['attn_k', [nHeadKv * D, E]],
  'self_attn.v_proj': ['attn_v', [nHeadKv * D, E]],
  'self_attn.o_proj': ['attn_output', [E, nHead * D]],
  'self_attn.q_norm': ['attn_q_norm', [D]],
  'self_attn.k_norm': ['attn_k_norm', [D]],
});
const ffnParts = ({ nEmbd: E, nFF: F }) => ({
  'mlp.gate_proj': ['ffn_gate', [F, E]],
  'mlp.up_proj': ['ffn_up', [F, E]],
  'mlp.down_proj': ['ffn_down', [E, F]],
});

function requiredOf(ctx, parts, tied) {
  const r = [['token_embd.weight', 'model.embed_tokens.weight'], ['output_norm.weight', 'model.norm.weight']];
  if (!tied) r.push(['output.weight', 'lm_head.weight']);
  for (let i = 0; i < ctx.hp.nLayer; i++) for (const [g, h] of parts) r.push([`blk.${i}.${g}.weight`, `model.layers.${i}.${h}.weight`]);
  return r;
}

function spmVocab(w, ctx) {
  const sp = loadSentencePiece(ctx.dir, ['tokenizer.model']);
  if (!sp) throw new Error(`${ctx.dir}: tokenizer.model (sentencepiece) is missing`);
  return setVocabSentencePiece(w, ctx.dir, ctx.config, sp);
}

// ------------------------------------------------------------------ qwen3
export const qwen3 = {
  name: 'qwen3',
  hfArchitectures: ['Qwen3ForCausalLM'],
  quantVersionAfterVocab: false,
  init: baseHp,
  writeParameters: (w, ctx) => textModelParameters(w, ctx, 'qwen3'),
  writeVocab: (w, ctx) => setVocabGpt2(w, ctx.dir, ctx.config, ctx.opts),
  mapTensor: mapper('Qwen3', (hp) => ({
    input_layernorm: ['attn_norm', [hp.nEmbd]],
    post_attention_layernorm: ['ffn_norm', [hp.nEmbd]],
    ...attnParts(hp),
    ...ffnParts(hp),
  })),
  extraTensors: () => [],
  required: (ctx) =>
    requiredOf(ctx, [['attn_norm', 'input_layernorm'], ['attn_q', 'self_attn.q_proj'], ['attn_k', 'self_attn.k_proj'], ['attn_v', 'self_attn.v_proj'],
      ['attn_output', 'self_attn.o_proj'], ['attn_q_norm', 'self_attn.q_norm'], ['attn_k_norm', 'self_attn.k_norm'], ['ffn_norm', 'post_attention_layernorm'],
      ['ffn_gate', 'mlp.gate_proj'], ['ffn_up', 'mlp.up_proj'], ['ffn_down', 'mlp.down_proj']], ctx.config.tie_word_embeddings !== false),
};

// ------------------------------------------------------------------ gemma2 / gemma3
const gemmaParts = (hp) => ({
  input_layernorm: ['attn_norm', [hp.nEmbd]],
  post_attention_layernorm: ['post_attention_norm', [hp.nEmbd]],
  pre_feedforward_layernorm: ['ffn_norm', [hp.nEmbd]],
  post_feedforward_layernorm: ['post_ffw_norm', [hp.nEmbd]],
  ...attnParts(hp),
  ...ffnParts(hp),
});
const gemmaRequired = (qk) => (ctx) =>
  requiredOf(ctx, [['attn_norm', 'input_layernorm'], ['attn_q', 'self_attn.q_proj'], ['attn_k', 'self_attn.k_proj'], ['attn_v', 'self_attn.v_proj'],
    ['attn_output', 'self_attn.o_proj'], ['post_attention_norm', 'post_attention_layernorm'], ['ffn_norm', 'pre_feedforward_layernorm'],
    ['post_ffw_norm', 'post_feedforward_layernorm'], ['ffn_gate', 'mlp.gate_proj'], ['ffn_up', 'mlp.up_proj'], ['ffn_down', 'mlp.down_proj'],
    ...(qk ? [['attn_q_norm', 'self_attn.q_norm'], ['attn_k_norm', 'self_attn.k_norm']] : [])], true);
function gemmaVocab(w, ctx) {
  const res = spmVocab(w, ctx);
  w.addBool('tokenizer.ggml.add_space_prefix', false);
  return res;
}

export const gemma2 = {
  name: 'gemma2',
  hfArchitectures: ['Gemma2ForCausalLM'],
  quantVersionAfterVocab: false,
  init: baseHp,
  // Gemma2Model.set_gguf_parameters (its own order; rope_theta is not written)
  writeParameters(w, ctx) {
    const { hp, config: cfg } = ctx;
    if (hp.nCtx !== undefined) w.addUint32('gemma2.context_length', hp.nCtx);
    w.addUint32('gemma2.embedding_length', hp.nEmbd);
    w.addUint32('gemma2.block_count', hp.nLayer);
    w.addUint32('gemma2.feed_forward_length', hp.nFF);
    w.addUint32('gemma2.attention.head_count', hp.nHead);
    w.addUint32('gemma2.attention.head_count_kv', hp.nHeadKv);
    w.addFloat32('gemma2.attention.layer_norm_rms_epsilon', num(ctx, 'rms_norm_eps'));
    w.addUint32('gemma2.attention.key_length', hp.headDim);
    w.addUint32('gemma2.attention.value_length', hp.headDim);
    w.addUint32('general.file_type', ctx.fileType);
    w.addFloat32('gemma2.attn_logit_softcapping', num(ctx, 'attn_logit_softcapping'));
    w.addFloat32('gemma2.final_logit_softcapping', num(ctx, 'final_logit_softcapping'));
    w.addUint32('gemma2.attention.sliding_window', posInt(ctx, 'sliding_window'));
    void cfg;
  },
  writeVocab: gemmaVocab,
  mapTensor: mapper('Gemma 2', gemmaParts, { norms1p: true }),
  extraTensors: () => [],
  required: gemmaRequired(false),
};

export const gemma3 = {
  name: 'gemma3',
  hfArchitectures: ['Gemma3ForCausalLM'],
  quantVersionAfterVocab: false,
  init: baseHp,
  // Gemma3Model.set_gguf_parameters: TextModel's keys + rope.freq_base_swa, then the window
  writeParameters(w, ctx) {
    const { hp, config: cfg } = ctx;
    w.addUint32('gemma3.block_count', hp.nLayer);
    if (hp.nCtx !== undefined) w.addUint32('gemma3.context_length', hp.nCtx);
    w.addUint32('gemma3.embedding_length', hp.nEmbd);
    w.addUint32('gemma3.feed_forward_length', hp.nFF);
    w.addUint32('gemma3.attention.head_count', hp.nHead);
    w.addUint32('gemma3.attention.head_count_kv', hp.nHeadKv);
    w.addFloat32('gemma3.rope.freq_base', cfg.rope_theta ?? 1000000.0);
    w.addFloat32('gemma3.rope.freq_base_swa', cfg.rope_local_base_freq ?? 10000.0);
    w.addFloat32('gemma3.attention.layer_norm_rms_epsilon', num(ctx, 'rms_norm_eps'));
    w.addUint32('gemma3.attention.key_length', hp.headDim);
    w.addUint32('gemma3.attention.value_length', hp.headDim);
    w.addUint32('general.file_type', ctx.fileType);
    w.addUint32('gemma3.attention.sliding_window', posInt(ctx, 'sliding_window'));
    const rs = cfg.rope_scaling;
    if (rs?.rope_type === 'linear' && rs.factor != null) {
      w.addString('gemma3.rope.scaling.type', 'linear');
      w.addFloat32('gemma3.rope.scaling.factor', rs.factor);
    }
  },
  writeVocab: gemmaVocab,
  mapTensor: mapper('Gemma 3', gemmaParts, { norms1p: true }),
  extraTensors: () => [],
  required: gemmaRequired(true),
};

// ------------------------------------------------------------------ phi3
export const phi3 = {
  name: 'phi3',
  hfArchitectures: ['Phi3ForCausalLM'],
  quantVersionAfterVocab: false,
  init(ctx) {
    const hp = baseHp(ctx);
    const partial = ctx.config.partial_rotary_factor ?? 1.0;
    hp.nRot = Math.trunc(partial * hp.headDim);
    hp.nCtxOrig = posInt(ctx, 'original_max_position_embeddings', true) ?? hp.nCtx;
  },
  // Phi3MiniModel.set_gguf_parameters
  writeParameters(w, ctx) {
    const { hp, config: cfg } = ctx;
    w.addUint32('phi3.context_length', hp.nCtx);
    w.addUint32('phi3.rope.scaling.original_context_length', hp.nCtxOrig);
    w.addUint32('phi3.embedding_length', hp.nEmbd);
    w.addUint32('phi3.feed_forward_length', hp.nFF);
    w.addUint32('phi3.block_count', hp.nLayer);
    w.addUint32('phi3.attention.head_count', hp.nHead);
    w.addUint32('phi3.attention.head_count_kv', hp.nHeadKv);
    w.addFloat32('phi3.attention.layer_norm_rms_epsilon', num(ctx, 'rms_norm_eps'));
    w.addUint32('phi3.rope.dimension_count', hp.nRot);
    w.addFloat32('phi3.rope.freq_base', cfg.rope_theta ?? 10000.0);
    w.addUint32('general.file_type', ctx.fileType);
    const win = cfg.sliding_window;
    w.addUint32('phi3.attention.sliding_window', win == null ? 0 : win);
    const rs = cfg.rope_scaling;
    if (rs && (rs.type ?? rs.rope_type) === 'longrope') {
      const scale = hp.nCtx / hp.nCtxOrig;
      const attn = scale <= 1.0 ? 1.0 : Math.sqrt(1 + Math.log(scale) / Math.log(hp.nCtxOrig));
      w.addFloat32('phi3.rope.scaling.attn_factor', attn);
    }
  },
  writeVocab: spmVocab,
  mapTensor: mapper('Phi-3', (hp) => ({
    input_layernorm: ['attn_norm', [hp.nEmbd]],
    post_attention_layernorm: ['ffn_norm', [hp.nEmbd]],
    'self_attn.qkv_proj': ['attn_qkv', [(hp.nHead + 2 * hp.nHeadKv) * hp.headDim, hp.nEmbd]],
    'self_attn.o_proj': ['attn_output', [hp.nEmbd, hp.nHead * hp.headDim]],
    'mlp.gate_up_proj': ['ffn_up', [2 * hp.nFF, hp.nEmbd]],
    'mlp.down_proj': ['ffn_down', [hp.nEmbd, hp.nFF]],
  })),
  // LongRoPE: rope_factors_long / rope_factors_short (Phi3MiniModel.generate_extra_tensors)
  extraTensors(ctx) {
    const rs = ctx.config.rope_scaling;
    if (!rs || (rs.type ?? rs.rope_type) !== 'longrope') return [];
    const half = ctx.hp.nRot / 2;
    const table = (k) => {
      const v = rs[k];
      if (!Array.isArray(v) || v.length !== half) throw new Error(`${ctx.configPath}: rope_scaling.${k} must have ${half} entries`);
      return Float32Array.from(v);
    };
    return [
      { name: 'rope_factors_long.weight', shape: [half], data: table('long_factor') },
      { name: 'rope_factors_short.weight', shape: [half], data: table('short_factor') },
    ];
  },
  required: (ctx) =>
    requiredOf(ctx, [['attn_norm', 'input_layernorm'], ['attn_qkv', 'self_attn.qkv_proj'], ['attn_output', 'self_attn.o_proj'],
      ['ffn_norm', 'post_attention_layernorm'], ['ffn_up', 'mlp.gate_up_proj'], ['ffn_down', 'mlp.down_proj']], ctx.config.tie_word_embeddings === true),
};
