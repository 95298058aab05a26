/* llama.c — LLaMA (Touvron et al. 2023) and its GQA variants, as llama.cpp's
 * LLM_ARCH_LLAMA reads them.
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
 * rope.freq_base, rope.scaling.{type,factor} (or rope.scale_linear), attention.scale.
 *
 * The same graph serves the architectures llama.cpp builds with llm_build_llama /
 * llm_build_qwen2, told apart only by llama_model_rope_type():
 *   llama  (Llama 1-3, TinyLlama, SmolLM, Mistral)  RoPE NORM
 *   qwen2  (Qwen1.5 / Qwen2 / Qwen2.5: q/k/v biases) RoPE NEOX (pairs i, i + n_rot/2)
 * Llama 3.1+ frequency scaling comes as rope_freqs.weight: n_rot/2 divisors of the
 * rotary frequencies; linear scaling as freq_scale = 1 / rope.scaling.factor. YaRN and
 * LongRoPE are refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct {
    const float *attn_norm;
    const plm_tensor *wq, *wk, *wv, *wo;
    const float *bq, *bk, *bv, *bo; /* usually absent */
    const float *ffn_norm;
    const plm_tensor *gate, *up, *down;
} llama_layer;

typedef struct {
    const plm_tensor *tok_embd, *output;
    const float *out_norm;
    const float *rope_freqs; /* [n_rot/2] or NULL */
    float kq_scale;
    float freq_scale;        /* 1 = no linear scaling */
    int rope_mode;           /* PLM_ROPE_NORM / PLM_ROPE_NEOX, by architecture */
    llama_layer *layers;
} llama_weights;

typedef struct {
    plm_kv_cache kv;
    plm_buf x, xb, q, att, gate, up, tmp; /* [n][...] activations of the current batch */
} llama_state;

/* ------------------------------------------------------------------ load */
static void llama_free(plm_model *m) {
    llama_weights *w = m->w;
    if (!w) return;
    free(w->layers);
    free(w);
    m->w = NULL;
}

static int bias(plm_model *m, const float **dst, int64_t n, const char *what, int layer) {
    const plm_tensor *t;
    int rc = model_tensor_try(m, &t, n, 0, "blk.%d.%s.bias", layer, what);
    *dst = tensor_f32(t);
    return rc;
}

/* llama.cpp's llama_model_rope_type() for the architectures this file builds. */
static int rope_mode_of(int arch_id) { return arch_id == PLM_ARCH_QWEN2 ? PLM_ROPE_NEOX : PLM_ROPE_NORM; }

/* Features of llama-family files this engine does not implement: refuse them
 * instead of producing wrong numbers. */
static int check_unsupported(plm_model *m) {
    int n_expert = 0, rc;
    if ((rc = model_hp_u32(m, "expert_count", 0, 0, &n_expert))) return rc;
    if (n_expert > 0)
        return plm_fail(PLM_E_UNSUPPORTED, "%s: mixture-of-experts models (%d experts) are not "
                                           "supported", m->arch_name, n_expert);
    return PLM_OK;
}

/* RoPE scaling as llama.cpp reads it: rope.scaling.type (default "linear") and
 * rope.scaling.factor (or the older rope.scale_linear); freq_scale = 1 / factor,
 * 1 for type "none" or no factor. */
static int rope_scaling(plm_model *m, float *freq_scale) {
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
    const char *type = gguf_get_str(m->gguf, key);
    if (!type && gguf_find_key(m->gguf, key) >= 0)
        return plm_fail(PLM_E_FORMAT, "metadata '%s' is not a string", key);
    float factor = 0;
    int rc;
    if ((rc = model_hp_f32(m, "rope.scaling.factor", 0, 0.0f, &factor))) return rc;
    if (factor == 0.0f && (rc = model_hp_f32(m, "rope.scale_linear", 0, 0.0f, &factor))) return rc;
    if (!(factor >= 0.0f) || !isfinite(factor))
        return plm_fail(PLM_E_FORMAT, "%s: RoPE scaling factor %g is not valid", m->arch_name, factor);
    *freq_scale = 1.0f;
    if (type && strcmp(type, "none") == 0) return PLM_OK;
    const int scaled = factor != 0.0f && factor != 1.0f;
    if (!type || strcmp(type, "linear") == 0) {
        if (scaled) *freq_scale = 1.0f / factor;
        return PLM_OK;
    }
    if (strcmp(type, "yarn") == 0 || strcmp(type, "longrope") == 0) {
        if (!scaled) return PLM_OK; /* factor 1: no scaling at all */
        return plm_fail(PLM_E_UNSUPPORTED, "%s: RoPE scaling '%s' (factor %g) is not supported", m->arch_name, type,
                        factor);
    }
    return plm_fail(PLM_E_UNSUPPORTED, "%s: unknown RoPE scaling type '%s'", m->arch_name, type);
}

static int llama_init(plm_model *m) {
    plm_hparams *hp = &m->hp;
    int rc;
    if ((rc = check_unsupported(m))) return rc;
    if ((rc = model_hp_u32(m, "block_count", 1, 0, &hp->n_layer)) ||
        (rc = model_hp_u32(m, "context_length", 1, 0, &hp->n_ctx_train)) ||
        (rc = model_hp_u32(m, "embedding_length", 1, 0, &hp->n_embd)) ||
        (rc = model_hp_u32(m, "feed_forward_length", 1, 0, &hp->n_ff)) ||
        (rc = model_hp_u32(m, "attention.head_count", 1, 0, &hp->n_head)) ||
        (rc = model_hp_f32(m, "attention.layer_norm_rms_epsilon", 1, 0, &hp->norm_eps)))
        return rc;
    const int n_embd = hp->n_embd, n_head = hp->n_head;
    if (n_embd <= 0 || n_head <= 0)
        return plm_fail(PLM_E_FORMAT, "%s: embedding %d / %d heads is not a valid shape", m->arch_name, n_embd,
                        n_head);
    int head_dim_v = 0;
    float scale = 0;
    if ((rc = model_hp_u32(m, "attention.head_count_kv", 0, n_head, &hp->n_head_kv)) ||
        (rc = model_hp_u32(m, "attention.key_length", 0, n_embd / n_head, &hp->head_dim)) ||
        (rc = model_hp_u32(m, "attention.value_length", 0, hp->head_dim, &head_dim_v)) ||
        (rc = model_hp_u32(m, "rope.dimension_count", 0, hp->head_dim, &hp->n_rot)) ||
        (rc = model_hp_f32(m, "rope.freq_base", 0, 10000.0f, &hp->rope_base)) ||
        (rc = model_hp_f32(m, "attention.scale", 0, 0.0f, &scale)) || (rc = model_check_hparams(m)))
        return rc;
    const int n_head_kv = hp->n_head_kv, hd = hp->head_dim;
    if (hp->n_layer <= 0 || hp->n_ff <= 0 || hp->n_ctx_train <= 0 || hd <= 0 || n_head_kv <= 0 ||
        n_head % n_head_kv != 0 || hp->n_rot <= 0 || hp->n_rot > hd || hp->n_rot % 2 != 0 ||
        !(hp->rope_base > 0))
        return plm_fail(PLM_E_FORMAT,
                        "%s: inconsistent hyper-parameters (%d blocks, %d heads, %d kv heads, "
                        "head dim %d, rope dims %d, rope base %g, ffn %d, context %d)",
                        m->arch_name, hp->n_layer, n_head, n_head_kv, hd, hp->n_rot, hp->rope_base, hp->n_ff,
                        hp->n_ctx_train);
    if (head_dim_v != hd)
        return plm_fail(PLM_E_UNSUPPORTED, "%s: key length %d != value length %d", m->arch_name, hd,
                        head_dim_v);
    const int n_q = n_head * hd, n_kv = n_head_kv * hd;

    llama_weights *w = plm_calloc_for(1, sizeof *w, "llama weights");
    if (!w) return PLM_E_NOMEM;
    m->w = w;
    w->layers = plm_calloc_for((size_t)hp->n_layer, sizeof *w->layers, "llama layers");
    if (!w->layers) return PLM_E_NOMEM;
    w->kq_scale = scale != 0.0f ? scale : 1.0f / sqrtf((float)hd);
    w->rope_mode = rope_mode_of(m->arch_id);
    if ((rc = rope_scaling(m, &w->freq_scale))) return rc;
    const plm_tensor *ff;
    if ((rc = model_tensor_try(m, &ff, hp->n_rot / 2, 0, "rope_freqs.weight"))) return rc;
    w->rope_freqs = tensor_f32(ff);
    for (int i = 0; w->rope_freqs && i < hp->n_rot / 2; i++)
        if (!(w->rope_freqs[i] > 0.0f) || !isfinite(w->rope_freqs[i]))
            return plm_fail(PLM_E_FORMAT, "%s: rope_freqs.weight[%d] = %g is not a positive frequency factor",
                            m->arch_name, i, w->rope_freqs[i]);

    MODEL_BIND(w->tok_embd, n_embd, -1, "token_embd.weight");
    hp->n_vocab = (int)w->tok_embd->ne[1];
    MODEL_BIND_F32(w->out_norm, n_embd, 0, "output_norm.weight");
    if ((rc = model_tensor_try(m, &w->output, n_embd, hp->n_vocab, "output.weight"))) return rc;
    if (!w->output) w->output = w->tok_embd; /* tied */

    for (int i = 0; i < hp->n_layer; i++) {
        llama_layer *L = &w->layers[i];
        MODEL_BIND_F32(L->attn_norm, n_embd, 0, "blk.%d.attn_norm.weight", i);
        MODEL_BIND(L->wq, n_embd, n_q, "blk.%d.attn_q.weight", i);
        MODEL_BIND(L->wk, n_embd, n_kv, "blk.%d.attn_k.weight", i);
        MODEL_BIND(L->wv, n_embd, n_kv, "blk.%d.attn_v.weight", i);
        MODEL_BIND(L->wo, n_q, n_embd, "blk.%d.attn_output.weight", i);
        if ((rc = bias(m, &L->bq, n_q, "attn_q", i)) || (rc = bias(m, &L->bk, n_kv, "attn_k", i)) ||
            (rc = bias(m, &L->bv, n_kv, "attn_v", i)) ||
            (rc = bias(m, &L->bo, n_embd, "attn_output", i)))
            return rc;
        MODEL_BIND_F32(L->ffn_norm, n_embd, 0, "blk.%d.ffn_norm.weight", i);
        MODEL_BIND(L->gate, n_embd, hp->n_ff, "blk.%d.ffn_gate.weight", i);
        MODEL_BIND(L->up, n_embd, hp->n_ff, "blk.%d.ffn_up.weight", i);
        MODEL_BIND(L->down, hp->n_ff, n_embd, "blk.%d.ffn_down.weight", i);
    }
    return PLM_OK;
}

/* --------------------------------------------------------------- context */
static void llama_ctx_free(plm_ctx *c) {
    llama_state *s = c->state;
    if (!s) return;
    kv_cache_free(&s->kv);
    plm_buf *bufs[] = {&s->x, &s->xb, &s->q, &s->att, &s->gate, &s->up, &s->tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) plm_buf_free(bufs[i]);
    free(s);
    c->state = NULL;
}

static int llama_ctx_init(plm_ctx *c) {
    const plm_hparams *hp = &c->model->hp;
    llama_state *s = plm_calloc_for(1, sizeof *s, "llama context");
    if (!s) return PLM_E_NOMEM;
    c->state = s;
    return kv_cache_init(&s->kv, hp->n_layer, hp->n_head_kv * hp->head_dim, c->n_ctx);
}

static int reserve(llama_state *s, const plm_hparams *hp, int n) {
    const size_t E = (size_t)hp->n_embd, Q = (size_t)hp->n_head * hp->head_dim,
                 F = (size_t)hp->n_ff;
    int rc;
    if ((rc = plm_buf_reserve(&s->x, n * E, "llama activations")) ||
        (rc = plm_buf_reserve(&s->xb, n * E, "llama activations")) ||
        (rc = plm_buf_reserve(&s->tmp, n * E, "llama activations")) ||
        (rc = plm_buf_reserve(&s->q, n * Q, "llama activations")) ||
        (rc = plm_buf_reserve(&s->att, n * Q, "llama activations")) ||
        (rc = plm_buf_reserve(&s->gate, n * F, "llama activations")) ||
        (rc = plm_buf_reserve(&s->up, n * F, "llama activations")))
        return rc;
    return PLM_OK;
}

/* ---------------------------------------------------------------- decode */
static int llama_decode(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits) {
    const plm_model *m = c->model;
    const plm_hparams *hp = &m->hp;
    const llama_weights *w = m->w;
    llama_state *s = c->state;
    const int E = hp->n_embd, F = hp->n_ff, hd = hp->head_dim, n_past = c->n_past;
    const int n_q = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
    int rc;

    if ((rc = kv_cache_reserve(&s->kv, n_past + n)) || (rc = reserve(s, hp, n))) return rc;
    float *x = s->x.p, *xb = s->xb.p, *q = s->q.p, *att = s->att.p, *gate = s->gate.p,
          *up = s->up.p, *tmp = s->tmp.p;

    if ((rc = op_get_rows(x, w->tok_embd, ids, n))) return rc;

    const op_attn_params ap = {
        .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv,
        .head_dim = hd,
        .scale = w->kq_scale,
        .causal = 1,
        .q_pos0 = n_past,
    };

    const op_rope_params rp = {hp->rope_base, w->freq_scale, w->rope_freqs, w->rope_mode};

    for (int l = 0; l < hp->n_layer; l++) {
        const llama_layer *L = &w->layers[l];
        /* this batch's keys and values go straight into the cache rows n_past.. */
        float *k_new = s->kv.k[l] + (size_t)n_past * kv_dim;
        float *v_new = s->kv.v[l] + (size_t)n_past * kv_dim;

        /* self-attention with rotary positions */
        op_rmsnorm(xb, x, L->attn_norm, n, E, hp->norm_eps);
        if ((rc = op_matmul(q, L->wq, L->bq, xb, n, E)) ||
            (rc = op_matmul(k_new, L->wk, L->bk, xb, n, E)) ||
            (rc = op_matmul(v_new, L->wv, L->bv, xb, n, E)))
            return rc;
        if ((rc = op_rope_ext(q, n, hp->n_head, hd, hp->n_rot, n_past, &rp)) ||
            (rc = op_rope_ext(k_new, n, hp->n_head_kv, hd, hp->n_rot, n_past, &rp)))
            return rc;
        if ((rc = op_attention(att, n_q, q, n_q, s->kv.k[l], s->kv.v[l], kv_dim, n, n_past + n,
                               &ap)))
            return rc;
        if ((rc = op_matmul(tmp, L->wo, L->bo, att, n, n_q))) return rc;
        op_add(x, x, tmp, n * E);

        /* SwiGLU feed-forward */
        op_rmsnorm(xb, x, L->ffn_norm, n, E, hp->norm_eps);
        if ((rc = op_matmul(gate, L->gate, NULL, xb, n, E)) ||
            (rc = op_matmul(up, L->up, NULL, xb, n, E)))
            return rc;
        op_swiglu(gate, gate, up, n * F);
        if ((rc = op_matmul(tmp, L->down, NULL, gate, n, F))) return rc;
        op_add(x, x, tmp, n * E);
    }

    if (!logits) return PLM_OK;
    const int n_out = all_logits ? n : 1;
    op_rmsnorm(xb, x + (size_t)(n - n_out) * E, w->out_norm, n_out, E, hp->norm_eps);
    return op_matmul(logits, w->output, NULL, xb, n_out, E);
}

const plm_arch plm_arch_llama = {
    .name = "llama",
    .id = PLM_ARCH_LLAMA,
    .init = llama_init,
    .free = llama_free,
    .ctx_init = llama_ctx_init,
    .ctx_free = llama_ctx_free,
    .decode = llama_decode,
};

const plm_arch plm_arch_qwen2 = {
    .name = "qwen2",
    .id = PLM_ARCH_QWEN2,
    .init = llama_init,
    .free = llama_free,
    .ctx_init = llama_ctx_init,
    .ctx_free = llama_ctx_free,
    .decode = llama_decode,
};
