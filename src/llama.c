/* llama.c — LLaMA (Touvron et al. 2023) and its GQA variants, as llama.cpp's
 * LLM_ARCH_LLAMA reads them, plus Qwen2 and Qwen3.
 *
 *   x = E[id]
 *   per block:  x += W_o · Attn(RoPE(W_q h), RoPE(W_k h), W_v h),   h = RMSNorm_1(x)
 *               x += W_down · (silu(W_gate h) * W_up h),             h = RMSNorm_2(x)
 *   logits = RMSNorm_f(x) · W_out^T                                  (W_out = E when tied)
 *
 * Grouped-query attention: n_head query heads share n_head_kv K/V heads.
 * RoPE on adjacent pairs (2i, 2i+1) of each head (llama.cpp's ROPE_TYPE_NORM):
 * llama.cpp's converter stores q/k rows in that interleaved order.
 *
 * GGUF names / keys (llama.cpp): token_embd, blk.N.attn_norm, blk.N.attn_{q,k,v,output}
 * (optional .bias), blk.N.ffn_norm, blk.N.ffn_{gate,up,down}, output_norm, output
 * (absent = tied), rope_freqs (optional); <arch>.block_count, context_length,
 * embedding_length, feed_forward_length, attention.head_count, attention.head_count_kv,
 * attention.key_length, attention.layer_norm_rms_epsilon, rope.dimension_count,
 * rope.freq_base, rope.scaling.*, attention.scale.
 *
 * The same graph serves the architectures llama.cpp builds with llm_build_llama /
 * llm_build_qwen2 / llm_build_qwen3, told apart by llama_model_rope_type() and q/k norms:
 *   llama  (Llama 1-3, TinyLlama, SmolLM, Mistral)  RoPE NORM
 *   qwen2  (Qwen1.5 / Qwen2 / Qwen2.5: q/k/v biases) RoPE NEOX (pairs i, i + n_rot/2)
 *   qwen3  (Qwen3 dense)                             RoPE NEOX, per-head RMSNorm of q and k
 *          (blk.N.attn_{q,k}_norm, [head_dim]) before RoPE; head_dim (key_length) need
 *          not be n_embd / n_head; no biases.
 * Frequency scaling (blocks.c, blk_read_rope): Llama 3.1+ rope_freqs.weight divisors,
 * linear (freq_scale = 1 / rope.scaling.factor), YaRN and LongRoPE.
 */
#include <math.h>
#include <stdlib.h>

#include "blocks.h"

typedef struct {
    blk_head_w head;
    blk_rope rope;
    float kq_scale;
    blk_layer_w *layers;
} llama_weights;

static void llama_free(plm_model *m) {
    llama_weights *w = m->w;
    if (!w) return;
    free(w->layers);
    free(w);
    m->w = NULL;
}

static int llama_init(plm_model *m) {
    const plm_hparams *hp = &m->hp;
    int n_expert = 0, rc;
    float scale = 0;
    if ((rc = model_hp_u32(m, "expert_count", 0, 0, &n_expert))) return rc;
    if (n_expert > 0)
        return plm_fail(PLM_E_UNSUPPORTED, "%s: mixture-of-experts models (%d experts) are not supported",
                        m->arch_name, n_expert);
    if ((rc = blk_read_hparams(m, BLK_HP_RMS_EPS | BLK_HP_ROPE)) ||
        (rc = model_hp_f32(m, "attention.scale", 0, 0.0f, &scale)))
        return rc;
    llama_weights *w = m->w = plm_calloc_for(1, sizeof *w, "llama weights");
    if (!w || !(w->layers = plm_calloc_for((size_t)hp->n_layer, sizeof *w->layers, "llama layers")))
        return PLM_E_NOMEM;
    w->kq_scale = scale != 0.0f ? scale : 1.0f / sqrtf((float)hp->head_dim);
    const unsigned flags = BLK_L_FFN_GATED | (m->arch_id == PLM_ARCH_QWEN3 ? BLK_L_QK_NORM : BLK_L_QKV_BIAS_OPT);
    if ((rc = blk_read_rope(m, &w->rope, m->arch_id == PLM_ARCH_LLAMA ? PLM_ROPE_NORM : PLM_ROPE_NEOX)) ||
        (rc = blk_bind_head(m, &w->head, 0)))
        return rc;
    for (int i = 0; i < hp->n_layer; i++)
        if ((rc = blk_bind_layer(m, &w->layers[i], i, flags))) return rc;
    return PLM_OK;
}

static int llama_decode(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits) {
    const plm_hparams *hp = &c->model->hp;
    const llama_weights *w = c->model->w;
    blk_state *s = c->state;
    int rc;
    if ((rc = blk_state_reserve(c, n)) || (rc = op_get_rows(s->x.p, w->head.tok_embd, ids, n))) return rc;
    const op_rope_params rp = blk_rope_for_ctx(&w->rope, c->n_ctx);
    const blk_attn_cfg cfg = {.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim,
                              .n_rot = hp->n_rot, .scale = w->kq_scale, .rope = &rp, .norm_eps = hp->norm_eps};
    for (int l = 0; l < hp->n_layer; l++)
        if ((rc = blk_decoder_layer(c, l, &w->layers[l], &cfg, BLK_FFN_SWIGLU, n))) return rc;
    return logits ? blk_lm_head(c, &w->head, n, all_logits ? n : 1, 0.0f, logits) : PLM_OK;
}

#define LLAMA_ARCH(var, nm, aid)                                                                     \
    const plm_arch var = {.name = nm, .id = aid, .init = llama_init, .free = llama_free,            \
                          .ctx_init = blk_ctx_init, .ctx_free = blk_ctx_free, .decode = llama_decode,     \
                          .ctx_copy = blk_ctx_copy}
LLAMA_ARCH(plm_arch_llama, "llama", PLM_ARCH_LLAMA);
LLAMA_ARCH(plm_arch_qwen2, "qwen2", PLM_ARCH_QWEN2);
LLAMA_ARCH(plm_arch_qwen3, "qwen3", PLM_ARCH_QWEN3);
