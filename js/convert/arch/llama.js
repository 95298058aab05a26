// LLaMA family (LlamaForCausalLM) -> GGUF arch "llama", as convert_hf_to_gguf.py's LlamaModel.
// HF stores q_proj/k_proj rows in the "half-split" rotary layout; llama.cpp wants the
// interleaved layout, so their rows are un-permuted:
//   w.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2)
// (with the KV-head count for k_proj).
import { setVocabSentencePiece, setVocabLlamaHf, setVocabGpt2, loadSentencePiece, readJSON } from '../vocab.js';
import { posInt, findHparam, expectShape, unknownTensor, checkBlock } from './common.js';

export const name = 'llama';
export const hfArchitectures = ['LlamaForCausalLM'];
export const quantVersionAfterVocab = false;

export function init(ctx) {
  const cfg = ctx.config;
  const hp = {
    nLayer: posInt(ctx, ['num_hidden_layers', 'n_layers', 'n_layer', 'num_layers']),
    nEmbd: posInt(ctx, ['hidden_size', 'n_embd', 'dim']),
    nFF: posInt(ctx, ['intermediate_size', 'n_inner', 'hidden_dim']),
    nHead: posInt(ctx, ['num_attention_heads', 'n_head', 'n_heads']),
    nVocab: posInt(ctx, 'vocab_size'),
    nCtx: posInt(ctx, ['max_position_embeddings', 'n_ctx', 'n_positions', 'max_length', 'max_sequence_length', 'model_max_length'], true),
  };
  hp.nHeadKv = posInt(ctx, ['num_key_value_heads', 'n_kv_heads'], true) ?? hp.nHead;
  hp.headDim = posInt(ctx, 'head_dim', true) ?? hp.nEmbd / hp.nHead;
  if (!Number.isInteger(hp.headDim)) throw new Error(`${ctx.configPath}: hidden_size ${hp.nEmbd} is not a multiple of num_attention_heads ${hp.nHead} (set head_dim)`);
  if (hp.headDim % 2) throw new Error(`${ctx.configPath}: head dimension ${hp.headDim} must be even for rotary embeddings`);
  if (hp.nHead % hp.nHeadKv) throw new Error(`${ctx.configPath}: num_attention_heads ${hp.nHead} is not a multiple of num_key_value_heads ${hp.nHeadKv}`);
  if (cfg.num_local_experts || cfg.num_experts) throw new Error(`${ctx.configPath}: mixture-of-experts LLaMA models are not supported`);
  hp.rope = cfg.rope_parameters ?? cfg.rope_scaling ?? {};
  if (hp.rope && typeof hp.rope !== 'object') throw new Error(`${ctx.configPath}: rope_scaling must be an object`);
  hp.ropeType = hp.rope.rope_type ?? hp.rope.type;
  ctx.hp = hp;
}

export function writeParameters(w, ctx) {
  const { config: cfg, hp } = ctx;
  // TextModel.set_gguf_parameters
  w.addUint32('llama.block_count', hp.nLayer);
  if (hp.nCtx !== undefined) w.addUint32('llama.context_length', hp.nCtx);
  w.addUint32('llama.embedding_length', hp.nEmbd);
  w.addUint32('llama.feed_forward_length', hp.nFF);
  w.addUint32('llama.attention.head_count', hp.nHead);
  const kv = findHparam(cfg, ['num_key_value_heads', 'n_kv_heads'], true);
  if (kv !== undefined) w.addUint32('llama.attention.head_count_kv', kv);
  if (cfg.is_causal === false) w.addBool('llama.attention.causal', false);
  const factor = hp.rope.factor;
  if (hp.ropeType === 'linear' && factor != null) {
    w.addString('llama.rope.scaling.type', 'linear');
    w.addFloat32('llama.rope.scaling.factor', factor);
  } else if (hp.ropeType === 'yarn' && factor != null) {
    w.addString('llama.rope.scaling.type', 'yarn');
    w.addFloat32('llama.rope.scaling.factor', factor);
    w.addUint32('llama.rope.scaling.original_context_length', hp.rope.original_max_position_embeddings);
    if (hp.rope.extrapolation_factor != null) w.addFloat32('llama.rope.scaling.yarn_ext_factor', hp.rope.extrapolation_factor);
    const attn = hp.rope.attention_factor ?? hp.rope.attn_factor;
    if (attn != null) w.addFloat32('llama.rope.scaling.yarn_attn_factor', attn);
    if (hp.rope.beta_fast != null) w.addFloat32('llama.rope.scaling.yarn_beta_fast', hp.rope.beta_fast);
    if (hp.rope.beta_slow != null) w.addFloat32('llama.rope.scaling.yarn_beta_slow', hp.rope.beta_slow);
  } else if (hp.ropeType && !['default', 'llama3', 'dynamic'].includes(String(hp.ropeType).toLowerCase())) {
    ctx.warnings.push(`unknown RoPE scaling type ${hp.ropeType} ignored`);
  }
  const theta = hp.rope.rope_theta ?? findHparam(cfg, ['rope_theta', 'rotary_emb_base'], true);
  if (theta !== undefined) w.addFloat32('llama.rope.freq_base', theta);
  const rms = findHparam(cfg, ['rms_norm_eps', 'norm_eps'], true);
  if (rms !== undefined) w.addFloat32('llama.attention.layer_norm_rms_epsilon', rms);
  const ln = findHparam(cfg, ['layer_norm_eps', 'layer_norm_epsilon', 'norm_epsilon'], true);
  if (ln !== undefined) w.addFloat32('llama.attention.layer_norm_epsilon', ln);
  if (cfg.head_dim != null) {
    w.addUint32('llama.attention.key_length', cfg.head_dim);
    w.addUint32('llama.attention.value_length', cfg.head_dim);
  }
  w.addUint32('general.file_type', ctx.fileType);
  // LlamaModel.set_gguf_parameters
  w.addUint32('llama.vocab_size', hp.nVocab);
  w.addUint32('llama.rope.dimension_count', hp.headDim);
}

export function writeVocab(w, ctx) {
  const { dir, config } = ctx;
  let res;
  const sp = loadSentencePiece(dir, ['tokenizer.model']);
  if (sp) res = setVocabSentencePiece(w, dir, config, sp);
  else res = setVocabLlamaHf(w, dir, config) ?? setVocabGpt2(w, dir, config, ctx.opts);
  const tc = readJSON(dir, 'tokenizer_config.json');
  if (tc && 'add_prefix_space' in tc) w.addBool('tokenizer.ggml.add_space_prefix', !!tc.add_prefix_space);
  if ((config.vocab_size ?? 32000) === 49152) w.addBool('tokenizer.ggml.add_bos_token', false); // granite small
  return res;
}

export function mapTensor(src, ctx) {
  const { nEmbd: E, nFF: F, nVocab: V, nHead, nHeadKv, headDim: D, nLayer } = ctx.hp;
  const n = src.name;
  if (n.endsWith('.rotary_emb.inv_freq')) return [];
  const out = (gguf, expected, transform = null) => {
    expectShape(src, expected);
    return [{ name: gguf, shape: expected, transform }];
  };
  if (n === 'model.embed_tokens.weight') return out('token_embd.weight', [V, E]);
  if (n === 'model.norm.weight') return out('output_norm.weight', [E]);
  if (n === 'lm_head.weight') return out('output.weight', [V, E]);
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(n);
  if (m) {
    const bid = Number(m[1]);
    checkBlock(src, bid, nLayer, 'layers (num_hidden_layers)');
    const p = `blk.${bid}`;
    const suffix = m[3];
    const wt = suffix === 'weight';
    const mat = (rows, cols) => (wt ? [rows, cols] : [rows]);
    switch (m[2]) {
      case 'input_layernorm': if (wt) return out(`${p}.attn_norm.weight`, [E]); break;
      case 'post_attention_layernorm': if (wt) return out(`${p}.ffn_norm.weight`, [E]); break;
      case 'self_attn.q_proj': return out(`${p}.attn_q.${suffix}`, mat(nHead * D, E), { kind: 'permute', nHead });
      case 'self_attn.k_proj': return out(`${p}.attn_k.${suffix}`, mat(nHeadKv * D, E), { kind: 'permute', nHead: nHeadKv });
      case 'self_attn.v_proj': return out(`${p}.attn_v.${suffix}`, mat(nHeadKv * D, E));
      case 'self_attn.o_proj': return out(`${p}.attn_output.${suffix}`, wt ? [E, nHead * D] : [E]);
      case 'mlp.gate_proj': return out(`${p}.ffn_gate.${suffix}`, mat(F, E));
      case 'mlp.up_proj': return out(`${p}.ffn_up.${suffix}`, mat(F, E));
      case 'mlp.down_proj': return out(`${p}.ffn_down.${suffix}`, wt ? [E, F] : [E]);
      default: break;
    }
  }
  throw unknownTensor(src, 'LLaMA');
}

const f = Math.fround;

/** rope_freqs for rope_type "llama3" (LlamaModel.generate_extra_tensors), in float32 arithmetic as torch does it. */
export function extraTensors(ctx) {
  const { hp, config: cfg } = ctx;
  if (String(hp.ropeType ?? '').toLowerCase() !== 'llama3') return [];
  const base = hp.rope.rope_theta ?? cfg.rope_theta ?? 10000.0;
  const dim = hp.headDim;
  const factor = hp.rope.factor ?? 8.0;
  const lowFreqFactor = hp.rope.low_freq_factor ?? 1.0;
  const highFreqFactor = hp.rope.high_freq_factor ?? 4.0;
  const oldCtx = hp.rope.original_max_position_embeddings ?? cfg.original_max_position_embeddings ?? 8192;
  const lowWavelen = oldCtx / lowFreqFactor;
  const highWavelen = oldCtx / highFreqFactor;
  if (lowWavelen === highWavelen) throw new Error(`${ctx.configPath}: rope_scaling low_freq_factor equals high_freq_factor`);
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = f(1 / f(Math.pow(f(base), f((2 * i) / dim))));
    const wavelen = f(f(2 * Math.PI) / freq);
    if (wavelen < f(highWavelen)) out[i] = 1;
    else if (wavelen > f(lowWavelen)) out[i] = f(factor);
    else {
      const smooth = f(f(f(f(oldCtx) / wavelen) - f(lowFreqFactor)) / f(highFreqFactor - lowFreqFactor));
      out[i] = f(1 / f(f(f(1 - smooth) / f(factor)) + smooth));
    }
  }
  return [{ name: 'rope_freqs.weight', shape: [dim / 2], data: out }];
}

export function required(ctx) {
  const r = [['token_embd.weight', 'model.embed_tokens.weight'], ['output_norm.weight', 'model.norm.weight']];
  if (ctx.config.tie_word_embeddings === false) r.push(['output.weight', 'lm_head.weight']);
  const parts = [['attn_norm', 'input_layernorm'], ['attn_q', 'self_attn.q_proj'], ['attn_k', 'self_attn.k_proj'], ['attn_v', 'self_attn.v_proj'],
    ['attn_output', 'self_attn.o_proj'], ['ffn_norm', 'post_attention_layernorm'], ['ffn_gate', 'mlp.gate_proj'], ['ffn_up', 'mlp.up_proj'], ['ffn_down', 'mlp.down_proj']];
  for (let i = 0; i < ctx.hp.nLayer; i++) for (const [g, h] of parts) r.push([`blk.${i}.${g}.weight`, `model.layers.${i}.${h}.weight`]);
  return r;
}
