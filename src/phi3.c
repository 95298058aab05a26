/* phi3.c — Phi-3 / Phi-3.5 / Phi-4-mini (Abdin et al. 2024), as llama.cpp's LLM_ARCH_PHI3
 * reads it and transformers' Phi3ForCausalLM computes it.
 *
 *   x = E[id]
 *   per block:  q k v = W_qkv h                      (one fused matmul; rows q, k, v),  h = RMSNorm_1(x)
 *               x += W_o · Attn(RoPE(q), RoPE(k), v)
 *               g u = W_up h                         (fused gate|up: gate = first n_ff rows),  h = RMSNorm_2(x)
 *               x += W_down · (silu(g) * u)
 *   logits = RMSNorm_f(x) · W_out^T
 *
 * RoPE NEOX over rope.dimension_count dims (Phi-4-mini rotates only part of each head).
 * LongRoPE (Phi-3-*-128k, Phi-3.5, Phi-4-mini): per-pair frequency divisors
 * rope_factors_long.weight when the context exceeds rope.scaling.original_context_length,
 * rope_factors_short.weight otherwise (chosen per context, as llama.cpp does; HF picks
 * per forward pass from the sequence length), cos/sin scaled by rope.scaling.attn_factor
 * (blocks.c, blk_read_rope). Sliding window attention.sliding_window when present (HF applies
 * it; llama.cpp reads then disables it: the two differ only beyond the window).
 *
 * GGUF names / keys (llama.cpp): token_embd, blk.N.attn_norm, blk.N.attn_qkv,
 * blk.N.attn_output, blk.N.ffn_norm, blk.N.ffn_up ([n_embd, 2 n_ff]), blk.N.ffn_down,
 * output_norm, output; phi3.rope.dimension_count, rope.freq_base, rope.scaling.*.
 */
#include <math.h>
#include <stdlib.h>

#include "blocks.h"

typedef struct {
    blk_head_w head;
    blk_rope rope;
    int window;
    blk_layer_w *layers;
} phi3_weights;

static void phi3_free(plm_model *m) {
    phi3_weights *w = m->w;
    if (!w) return;
    free(w->layers);
    free(w);
    m->w = NULL;
}

static int phi3_init(plm_model *m) {
    const plm_hparams *hp = &m->hp;
    int rc;
    if ((rc = blk_read_hparams(m, BLK_HP_RMS_EPS | BLK_HP_ROPE))) return rc;
    phi3_weights *w = m->w = plm_calloc_for(1, sizeof *w, "phi3 weights");
    if (!w || !(w->layers = plm_calloc_for((size_t)hp->n_layer, sizeof *w->layers, "phi3 layers")))
        return PLM_E_NOMEM;
    if ((rc = model_hp_u32(m, "attention.sliding_window", 0, 0, &w->window)) ||
        (rc = blk_read_rope(m, &w->rope, PLM_ROPE_NEOX)) || (rc = blk_bind_head(m, &w->head, 0)))
        return rc;
    for (int i = 0; i < hp->n_layer; i++)
        if ((rc = blk_bind_layer(m, &w->layers[i], i, BLK_L_FUSED_QKV | BLK_L_FFN_FUSED))) return rc;
    return PLM_OK;
}

static int phi3_decode(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits) {
    const plm_hparams *hp = &c->model->hp;
    const phi3_weights *w = c->model->w;
    blk_state *s = c->state;
    int rc;
    if ((rc = blk_state_reserve(c, n)) || (rc = op_get_rows(s->x.p, w->head.tok_embd, ids, n))) return rc;
    const op_rope_params rp = blk_rope_for_ctx(&w->rope, c->n_ctx);
    const blk_attn_cfg cfg = {.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim,
                              .n_rot = hp->n_rot, .scale = 1.0f / sqrtf((float)hp->head_dim), .window = w->window,
                              .rope = &rp, .norm_eps = hp->norm_eps};
    for (int l = 0; l < hp->n_layer; l++)
        if ((rc = blk_decoder_layer(c, l, &w->layers[l], &cfg, BLK_FFN_SWIGLU, n))) return rc;
    return logits ? blk_lm_head(c, &w->head, n, all_logits ? n : 1, 0.0f, logits) : PLM_OK;
}

const plm_arch plm_arch_phi3 = {.name = "phi3", .id = PLM_ARCH_PHI3, .init = phi3_init, .free = phi3_free,
                                .ctx_init = blk_ctx_init, .ctx_free = blk_ctx_free, .decode = phi3_decode,
                                .ctx_copy = blk_ctx_copy};
