// T5 (T5ForConditionalGeneration, v1.0 and v1.1 / FLAN) -> GGUF arch "t5", as
// convert_hf_to_gguf.py's T5Model. The token embeddings may be stored as
// shared.weight, encoder.embed_tokens.weight or decoder.embed_tokens.weight (or
// several of them): the first one in tensor order becomes token_embd, the others
// are dropped. A tied LM head has no output.weight.
import { setVocabT5 } from '../vocab.js';
import { posInt, num, expectShape, unknownTensor, checkBlock } from './common.js';

export const name = 't5';
export const hfArchitectures = ['T5ForConditionalGeneration', 'T5WithLMHeadModel'];
export const quantVersionAfterVocab = true;

export function init(ctx) {
  const cfg = ctx.config;
  const hp = {
    nLayer: posInt(ctx, 'num_layers'),
    nDecLayer: posInt(ctx, 'num_decoder_layers', true),
    nEmbd: posInt(ctx, 'd_model'),
    nFF: posInt(ctx, 'd_ff'),
    nHead: posInt(ctx, 'num_heads'),
    dKv: posInt(ctx, 'd_kv'),
    eps: num(ctx, 'layer_norm_epsilon'),
    nBuckets: posInt(ctx, 'relative_attention_num_buckets'),
    nVocab: posInt(ctx, 'vocab_size'),
  };
  hp.nCtx = posInt(ctx, 'n_positions', true);
  if (hp.nCtx === undefined) {
    ctx.warnings.push("couldn't find context length (n_positions) in config.json, assuming 512");
    hp.nCtx = 512;
  }
  const start = cfg.decoder_start_token_id;
  if (!Number.isInteger(start) || start < 0) throw new Error(`${ctx.configPath}: "decoder_start_token_id" must be a non-negative integer, got ${JSON.stringify(start)}`);
  hp.decoderStart = start;
  hp.nDec = hp.nDecLayer ?? hp.nLayer;
  hp.gated = String(cfg.feed_forward_proj ?? 'relu').startsWith('gated-');
  hp.tied = cfg.tie_word_embeddings !== false;
  ctx.hp = hp;
  ctx.embeddingsFound = false;
}

export function writeParameters(w, ctx) {
  const hp = ctx.hp;
  w.addUint32('t5.context_length', hp.nCtx);
  w.addUint32('t5.embedding_length', hp.nEmbd);
  w.addUint32('t5.feed_forward_length', hp.nFF);
  w.addUint32('t5.block_count', hp.nLayer);
  if (hp.nDecLayer !== undefined) w.addUint32('t5.decoder_block_count', hp.nDecLayer);
  w.addUint32('t5.attention.head_count', hp.nHead);
  w.addUint32('t5.attention.key_length', hp.dKv);
  w.addUint32('t5.attention.value_length', hp.dKv);
  w.addFloat32('t5.attention.layer_norm_epsilon', hp.eps);
  w.addUint32('t5.attention.relative_buckets_count', hp.nBuckets);
  w.addFloat32('t5.attention.layer_norm_rms_epsilon', hp.eps);
  w.addUint32('t5.decoder_start_token_id', hp.decoderStart);
  w.addUint32('general.file_type', ctx.fileType);
}

export function writeVocab(w, ctx) {
  return setVocabT5(w, ctx.dir, ctx.config);
}

const ATTN = { q: 'q', k: 'k', v: 'v', o: 'o' };
const FFN = { wi: 'ffn_up', wi_0: 'ffn_gate', wi_1: 'ffn_up', wo: 'ffn_down' };

export function mapTensor(src, ctx) {
  const { nEmbd: E, nFF: F, nHead: H, dKv, nBuckets, nVocab: V, nLayer, nDec } = ctx.hp;
  const n = src.name;
  const out = (gguf, expected) => {
    expectShape(src, expected);
    return [{ name: gguf, shape: expected, transform: null }];
  };
  if (n === 'shared.weight' || n === 'encoder.embed_tokens.weight' || n === 'decoder.embed_tokens.weight') {
    if (ctx.embeddingsFound) return []; // duplicate of the shared embeddings
    ctx.embeddingsFound = true;
    return out('token_embd.weight', [V, E]);
  }
  if (n === 'lm_head.weight') return out('output.weight', [V, E]);
  if (n === 'encoder.final_layer_norm.weight') return out('enc.output_norm.weight', [E]);
  if (n === 'decoder.final_layer_norm.weight') return out('dec.output_norm.weight', [E]);
  const m = /^(encoder|decoder)\.block\.(\d+)\.layer\.(\d+)\.(.+)\.weight$/.exec(n);
  if (m) {
    const enc = m[1] === 'encoder';
    const bid = Number(m[2]);
    checkBlock(src, bid, enc ? nLayer : nDec, enc ? 'encoder layers (num_layers)' : 'decoder layers (num_decoder_layers)');
    const sub = Number(m[3]);
    const p = `${enc ? 'enc' : 'dec'}.blk.${bid}`;
    const what = m[4];
    const ffnLayer = enc ? 1 : 2;
    let a;
    if (sub === 0 && (a = /^SelfAttention\.(q|k|v|o)$/.exec(what))) {
      return out(`${p}.attn_${ATTN[a[1]]}.weight`, a[1] === 'o' ? [E, H * dKv] : [H * dKv, E]);
    }
    if (sub === 0 && what === 'SelfAttention.relative_attention_bias') return out(`${p}.attn_rel_b.weight`, [nBuckets, H]);
    if (sub === 0 && what === 'layer_norm') return out(`${p}.attn_norm.weight`, [E]);
    if (!enc && sub === 1 && (a = /^EncDecAttention\.(q|k|v|o)$/.exec(what))) {
      return out(`${p}.cross_attn_${ATTN[a[1]]}.weight`, a[1] === 'o' ? [E, H * dKv] : [H * dKv, E]);
    }
    if (!enc && sub === 1 && what === 'EncDecAttention.relative_attention_bias') return out(`${p}.cross_attn_rel_b.weight`, [nBuckets, H]);
    if (!enc && sub === 1 && what === 'layer_norm') return out(`${p}.cross_attn_norm.weight`, [E]);
    if (sub === ffnLayer && (a = /^Dense(?:Relu|Gated[A-Za-z]*)Dense\.(wi|wi_0|wi_1|wo)$/.exec(what))) {
      return out(`${p}.${FFN[a[1]]}.weight`, a[1] === 'wo' ? [E, F] : [F, E]);
    }
    if (sub === ffnLayer && what === 'layer_norm') return out(`${p}.ffn_norm.weight`, [E]);
  }
  throw unknownTensor(src, 'T5');
}

export function extraTensors() {
  return [];
}

export function required(ctx) {
  const { nLayer, nDec, gated, tied } = ctx.hp;
  const r = [['token_embd.weight', 'shared.weight'], ['enc.output_norm.weight', 'encoder.final_layer_norm.weight'], ['dec.output_norm.weight', 'decoder.final_layer_norm.weight'],
    ['enc.blk.0.attn_rel_b.weight', 'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'],
    ['dec.blk.0.attn_rel_b.weight', 'decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight']];
  if (!tied) r.push(['output.weight', 'lm_head.weight']);
  const ffn = gated ? [['ffn_gate', 'wi_0'], ['ffn_up', 'wi_1'], ['ffn_down', 'wo']] : [['ffn_up', 'wi'], ['ffn_down', 'wo']];
  for (const [stack, n, ffnLayer] of [['enc', nLayer, 1], ['dec', nDec, 2]]) {
    const hf = stack === 'enc' ? 'encoder' : 'decoder';
    for (let i = 0; i < n; i++) {
      for (const x of ['q', 'k', 'v', 'o']) r.push([`${stack}.blk.${i}.attn_${x}.weight`, `${hf}.block.${i}.layer.0.SelfAttention.${x}.weight`]);
      r.push([`${stack}.blk.${i}.attn_norm.weight`, `${hf}.block.${i}.layer.0.layer_norm.weight`]);
      if (stack === 'dec') {
        for (const x of ['q', 'k', 'v', 'o']) r.push([`dec.blk.${i}.cross_attn_${x}.weight`, `decoder.block.${i}.layer.1.EncDecAttention.${x}.weight`]);
        r.push([`dec.blk.${i}.cross_attn_norm.weight`, `decoder.block.${i}.layer.1.layer_norm.weight`]);
      }
      for (const [g, w] of ffn) r.push([`${stack}.blk.${i}.${g}.weight`, `${hf}.block.${i}.layer.${ffnLayer}.DenseReluDense.${w}.weight`]);
      r.push([`${stack}.blk.${i}.ffn_norm.weight`, `${hf}.block.${i}.layer.${ffnLayer}.layer_norm.weight`]);
    }
  }
  return r;
}
