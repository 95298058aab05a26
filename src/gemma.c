/* gemma.c — Gemma 2 (Gemma Team 2024) and Gemma 3 text (2025), as llama.cpp's
 * LLM_ARCH_GEMMA2 / LLM_ARCH_GEMMA3 read them and transformers computes them.
 *
 *   x = E[id] · √n_embd
 *   per block:  x += PostNorm_a(W_o · Attn(q, k, v)),                h = RMSNorm_1(x)
 *                 q = RoPE(QNorm(W_q h)), k = RoPE(KNorm(W_k h)), v = W_v h     (QNorm/KNorm: gemma3)
 *                 scores = q·k / √head_dim, soft-capped c·tanh(s / c)            (gemma2, c = 50 in the real models)
 *               x += PostNorm_f(W_down · (gelu_tanh(W_gate h) * W_up h)),  h = RMSNorm_2(x)
 *   logits = RMSNorm_f(x) · E^T, soft-capped (gemma2, c = 30)
 *
 * Sliding-window attention (a query at position p sees keys p - window < j <= p) on
 * local layers, full causal attention on global ones, as llama.cpp's swa pattern:
 *   gemma2: layer il is local when il % 2 == 0;  gemma3: when il % 6 < 5 (5 local : 1 global),
 * and gemma3's local layers rotate with rope.freq_base_swa (10000), its global ones with
 * rope.freq_base (1e6) and any rope scaling. RoPE NEOX. Gemma's RMSNorm multiplies by
 * (1 + w): llama.cpp's converter stores w + 1, so these are plain RMSNorms here.
 * The q·k scale is attention.scale when present, else HF's query_pre_attn_scalar^-0.5 as
 * llama.cpp infers it: head_dim, but n_embd / n_head for the 27B models (46 / 62 blocks).
 *
 * GGUF names / keys (llama.cpp): token_embd, blk.N.attn_norm, blk.N.attn_{q,k,v,output},
 * blk.N.attn_{q,k}_norm (gemma3), blk.N.post_attention_norm, blk.N.ffn_norm,
 * blk.N.ffn_{gate,up,down}, blk.N.post_ffw_norm, output_norm; <arch>.attention.sliding_window,
 * gemma2.attn_logit_softcapping, gemma2.final_logit_softcapping, gemma3.rope.freq_base_swa.
 */
#include <math.h>
#include <stdlib.h>

#include "blocks.h"

typedef struct {
    blk_head_w head;
    blk_rope rope;             /* global layers */
    float rope_base_local;     /* local layers (gemma3) */
    float kq_scale, attn_softcap, final_softcap;
    int window, swa_period;    /* layer il is local when il % swa_period < swa_period - 1 */
    blk_layer_w *layers;
} gemma_weights;

static void gemma_free(plm_model *m) {
    gemma_weights *w = m->w;
    if (!w) return;
    free(w->layers);
    free(w);
    m->w = NULL;
}

static int gemma_init(plm_model *m) {
    const plm_hparams *hp = &m->hp;
    const int g3 = m->arch_id == PLM_ARCH_GEMMA3;
    float scale = 0;
    int rc;
    if ((rc = blk_read_hparams(m, BLK_HP_RMS_EPS | BLK_HP_ROPE)) ||
        (rc = model_hp_f32(m, "attention.scale", 0, 0.0f, &scale)))
        return rc;
    gemma_weights *w = m->w = plm_calloc_for(1, sizeof *w, "gemma weights");
    if (!w || !(w->layers = plm_calloc_for((size_t)hp->n_layer, sizeof *w->layers, "gemma layers")))
        return PLM_E_NOMEM;
    /* llama.cpp: the 27B models (46 / 62 blocks) use query_pre_attn_scalar = n_embd / n_head */
    const int is_27b = hp->n_layer == (g3 ? 62 : 46);
    w->kq_scale = scale != 0.0f ? scale : 1.0f / sqrtf((float)(is_27b ? hp->n_embd / hp->n_head : hp->head_dim));
    w->swa_period = g3 ? 6 : 2;
    if ((rc = model_hp_u32(m, "attention.sliding_window", 1, 0, &w->window)) ||
        (rc = model_hp_f32(m, "attn_logit_softcapping", 0, 0.0f, &w->attn_softcap)) ||
        (rc = model_hp_f32(m, "final_logit_softcapping", 0, 0.0f, &w->final_softcap)) ||
        (rc = model_hp_f32(m, "rope.freq_base_swa", 0, 10000.0f, &w->rope_base_local)) ||
        (rc = blk_read_rope(m, &w->rope, PLM_ROPE_NEOX)) || (rc = blk_bind_head(m, &w->head, 0)))
        return rc;
    if (w->window <= 0 || !(w->attn_softcap >= 0) || !(w->final_softcap >= 0) || !(w->rope_base_local > 0) ||
        !isfinite(w->attn_softcap) || !isfinite(w->final_softcap) || !isfinite(w->rope_base_local))
        return plm_fail(PLM_E_FORMAT, "%s: invalid sliding window %d / soft-caps %g, %g / local rope base %g",
                        m->arch_name, w->window, w->attn_softcap, w->final_softcap, w->rope_base_local);
    const unsigned flags = BLK_L_POST_NORMS | BLK_L_FFN_GATED | (g3 ? BLK_L_QK_NORM : 0);
    for (int i = 0; i < hp->n_layer; i++)
        if ((rc = blk_bind_layer(m, &w->layers[i], i, flags))) return rc;
    return PLM_OK;
}

static int gemma_decode(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits) {
    const plm_hparams *hp = &c->model->hp;
    const gemma_weights *w = c->model->w;
    blk_state *s = c->state;
    int rc;
    if ((rc = blk_state_reserve(c, n)) || (rc = op_get_rows(s->x.p, w->head.tok_embd, ids, n))) return rc;
    op_scale(s->x.p, s->x.p, sqrtf((float)hp->n_embd), n * hp->n_embd);

    const op_rope_params global = blk_rope_for_ctx(&w->rope, c->n_ctx);
    op_rope_params local = global;
    if (c->model->arch_id == PLM_ARCH_GEMMA3) /* local layers: their own base, no scaling */
        local = (op_rope_params){.freq_base = w->rope_base_local, .freq_scale = 1.0f, .mode = PLM_ROPE_NEOX};
    for (int l = 0; l < hp->n_layer; l++) {
        const int is_local = l % w->swa_period < w->swa_period - 1;
        const blk_attn_cfg cfg = {.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim,
                                  .n_rot = hp->n_rot, .scale = w->kq_scale, .softcap = w->attn_softcap,
                                  .window = is_local ? w->window : 0, .rope = is_local ? &local : &global,
                                  .norm_eps = hp->norm_eps};
        if ((rc = blk_decoder_layer(c, l, &w->layers[l], &cfg, BLK_FFN_GEGLU, n))) return rc;
    }
    return logits ? blk_lm_head(c, &w->head, n, all_logits ? n : 1, w->final_softcap, logits) : PLM_OK;
}

const plm_arch plm_arch_gemma2 = {.name = "gemma2", .id = PLM_ARCH_GEMMA2, .init = gemma_init, .free = gemma_free,
                                  .ctx_init = blk_ctx_init, .ctx_free = blk_ctx_free, .decode = gemma_decode,
                                  .ctx_copy = blk_ctx_copy};
const plm_arch plm_arch_gemma3 = {.name = "gemma3", .id = PLM_ARCH_GEMMA3, .init = gemma_init, .free = gemma_free,
                                  .ctx_init = blk_ctx_init, .ctx_free = blk_ctx_free, .decode = gemma_decode,
                                  .ctx_copy = blk_ctx_copy};
