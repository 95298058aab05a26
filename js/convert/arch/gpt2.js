// GPT-2 (GPT2LMHeadModel) -> GGUF arch "gpt2", as convert_hf_to_gguf.py's GPT2Model.
// HF Conv1D weights are stored [in, out]; GGUF wants [out, in], so the four
// projection matrices are transposed. The LM head is tied to wte (no output.weight).
import { setVocabGpt2 } from '../vocab.js';
import { posInt, num, expectShape, unknownTensor, checkBlock } from './common.js';

export const name = 'gpt2';
export const hfArchitectures = ['GPT2LMHeadModel'];
export const quantVersionAfterVocab = false;

export function init(ctx) {
  const hp = {
    nLayer: posInt(ctx, 'n_layer'),
    nCtx: posInt(ctx, ['n_ctx', 'n_positions']),
    nPositions: posInt(ctx, ['n_positions', 'n_ctx']),
    nEmbd: posInt(ctx, 'n_embd'),
    nHead: posInt(ctx, 'n_head'),
    eps: num(ctx, 'layer_norm_epsilon'),
    nVocab: posInt(ctx, 'vocab_size'),
  };
  hp.nFF = posInt(ctx, 'n_inner', true) ?? 4 * hp.nEmbd;
  if (hp.nEmbd % hp.nHead !== 0) throw new Error(`${ctx.configPath}: n_embd ${hp.nEmbd} is not a multiple of n_head ${hp.nHead}`);
  ctx.hp = hp;
}

export function writeParameters(w, ctx) {
  const hp = ctx.hp;
  w.addUint32('gpt2.block_count', hp.nLayer);
  w.addUint32('gpt2.context_length', hp.nCtx);
  w.addUint32('gpt2.embedding_length', hp.nEmbd);
  w.addUint32('gpt2.feed_forward_length', 4 * hp.nEmbd); // the converter always writes 4 * n_embd
  w.addUint32('gpt2.attention.head_count', hp.nHead);
  w.addFloat32('gpt2.attention.layer_norm_epsilon', hp.eps);
  w.addUint32('general.file_type', ctx.fileType);
}

export function writeVocab(w, ctx) {
  return setVocabGpt2(w, ctx.dir, ctx.config, ctx.opts);
}

export function mapTensor(src, ctx) {
  const { nEmbd: E, nFF: F, nVocab: V, nPositions: P, nLayer } = ctx.hp;
  const n = src.name.replace(/^transformer\./, '');
  if (/\.attn\.(masked_)?bias$/.test(n)) return []; // causal-mask buffers
  let m;
  const out = (gguf, expected, transform) => {
    expectShape(src, expected);
    const shape = transform ? [expected[1], expected[0]] : expected;
    return [{ name: gguf, shape, transform: transform ? { kind: 'transpose' } : null }];
  };
  if (n === 'wte.weight') return out('token_embd.weight', [V, E]);
  if (n === 'wpe.weight') return out('position_embd.weight', [P, E]);
  if (n === 'ln_f.weight' || n === 'ln_f.bias') return out(`output_norm.${n.slice(5)}`, [E]);
  if (src.name === 'lm_head.weight') return out('output.weight', [V, E]);
  if ((m = /^h\.(\d+)\.(.+)\.(weight|bias)$/.exec(n))) {
    const bid = Number(m[1]);
    checkBlock(src, bid, nLayer, 'layers (n_layer)');
    const p = `blk.${bid}`;
    const wt = m[3] === 'weight';
    switch (m[2]) {
      case 'ln_1': return out(`${p}.attn_norm.${m[3]}`, [E]);
      case 'ln_2': return out(`${p}.ffn_norm.${m[3]}`, [E]);
      case 'attn.c_attn': return wt ? out(`${p}.attn_qkv.weight`, [E, 3 * E], true) : out(`${p}.attn_qkv.bias`, [3 * E]);
      case 'attn.c_proj': return wt ? out(`${p}.attn_output.weight`, [E, E], true) : out(`${p}.attn_output.bias`, [E]);
      case 'mlp.c_fc': return wt ? out(`${p}.ffn_up.weight`, [E, F], true) : out(`${p}.ffn_up.bias`, [F]);
      case 'mlp.c_proj': return wt ? out(`${p}.ffn_down.weight`, [F, E], true) : out(`${p}.ffn_down.bias`, [E]);
      default: break;
    }
  }
  throw unknownTensor(src, 'GPT-2');
}

export function extraTensors() {
  return [];
}

export function required(ctx) {
  const r = [['token_embd.weight', 'transformer.wte.weight'], ['position_embd.weight', 'transformer.wpe.weight'],
    ['output_norm.weight', 'transformer.ln_f.weight'], ['output_norm.bias', 'transformer.ln_f.bias']];
  const parts = [['attn_norm', 'ln_1'], ['attn_qkv', 'attn.c_attn'], ['attn_output', 'attn.c_proj'], ['ffn_norm', 'ln_2'], ['ffn_up', 'mlp.c_fc'], ['ffn_down', 'mlp.c_proj']];
  for (let i = 0; i < ctx.hp.nLayer; i++) {
    for (const [g, h] of parts) {
      r.push([`blk.${i}.${g}.weight`, `transformer.h.${i}.${h}.weight`], [`blk.${i}.${g}.bias`, `transformer.h.${i}.${h}.bias`]);
    }
  }
  return r;
}
