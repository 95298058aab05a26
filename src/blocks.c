/* blocks.c — the shared layer blocks (see blocks.h): hyper-parameters, tensor
 * binding with llama.cpp's names, the causal state (KV cache + activations) and
 * the attention / feed-forward / norm / LM-head blocks built from ops.h.
 */
#include "blocks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ hyper-parameters */
int blk_read_hparams(plm_model *m, unsigned flags) {
    plm_hparams *hp = &m->hp;
    const char *eps_key =
        flags & BLK_HP_RMS_EPS ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon";
    int rc;
    if ((rc = model_hp_u32(m, "block_count", 1, 0, &hp->n_layer)) ||
        (rc = model_hp_u32(m, "context_length", 1, 0, &hp->n_ctx_train)) ||
        (rc = model_hp_u32(m, "embedding_length", 1, 0, &hp->n_embd)) ||
        (rc = model_hp_u32(m, "attention.head_count", 1, 0, &hp->n_head)) ||
        (rc = model_hp_f32(m, eps_key, 1, 0, &hp->norm_eps)))
        return rc;
    const int E = hp->n_embd, n_head = hp->n_head;
    if (E <= 0 || n_head <= 0)
        return plm_fail(PLM_E_FORMAT, "%s: embedding %d / %d heads is not a valid shape", m->arch_name, E, n_head);
    if ((rc = model_hp_u32(m, "feed_forward_length", !(flags & BLK_HP_FF_OPTIONAL), 4 * (E <= INT32_MAX / 4 ? E : 0),
                           &hp->n_ff)))
        return rc;
    int head_dim_v = 0;
    if ((rc = model_hp_u32(m, "attention.head_count_kv", 0, n_head, &hp->n_head_kv)) ||
        (rc = model_hp_u32(m, "attention.key_length", 0, E / n_head, &hp->head_dim)) ||
        (rc = model_hp_u32(m, "attention.value_length", 0, hp->head_dim, &head_dim_v)))
        return rc;
    hp->n_rot = 0;
    hp->rope_base = 0;
    if ((flags & BLK_HP_ROPE) &&
        ((rc = model_hp_u32(m, "rope.dimension_count", 0, hp->head_dim, &hp->n_rot)) ||
         (rc = model_hp_f32(m, "rope.freq_base", 0, 10000.0f, &hp->rope_base))))
        return rc;
    /* ranges and heads x head size first: those errors name the key at fault */
    if ((rc = model_check_hparams(m))) return rc;
    const int hd = hp->head_dim, n_head_kv = hp->n_head_kv;
    const int64_t n_q = (int64_t)n_head * hd, n_qkv = n_q + 2 * (int64_t)n_head_kv * hd;
    if (hp->n_layer <= 0 || hp->n_ff <= 0 || hp->n_ctx_train <= 0 || hd <= 0 || n_head_kv <= 0 ||
        n_head % n_head_kv != 0 || n_qkv > INT32_MAX / 2 || hp->n_ff > INT32_MAX / 2 ||
        !(hp->norm_eps >= 0.0f) || !isfinite(hp->norm_eps) ||
        ((flags & BLK_HP_ROPE) && (hp->n_rot <= 0 || hp->n_rot > hd || hp->n_rot % 2 != 0 ||
                                   !(hp->rope_base > 0) || !isfinite(hp->rope_base))))
        return plm_fail(PLM_E_FORMAT,
                        "%s: inconsistent hyper-parameters (%d blocks, embedding %d, %d heads, %d kv heads, "
                        "head dim %d, rope dims %d, rope base %g, ffn %d, context %d, eps %g)",
                        m->arch_name, hp->n_layer, E, n_head, n_head_kv, hd, hp->n_rot, (double)hp->rope_base,
                        hp->n_ff, hp->n_ctx_train, (double)hp->norm_eps);
    if (head_dim_v != hd)
        return plm_fail(PLM_E_UNSUPPORTED, "%s: key length %d != value length %d", m->arch_name, hd, head_dim_v);
    return PLM_OK;
}

static int hp_str(plm_model *m, const char *suffix, const char **out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    *out = gguf_get_str(m->gguf, key);
    if (!*out && gguf_find_key(m->gguf, key) >= 0)
        return plm_fail(PLM_E_FORMAT, "metadata '%s' is not a string", key);
    return PLM_OK;
}

/* A 1-D table of n_rot/2 positive frequency factors, or NULL when absent. */
static int rope_factors(plm_model *m, const float **out, const char *name) {
    const plm_tensor *t;
    int rc = model_tensor_try(m, &t, m->hp.n_rot / 2, 0, "%s", name);
    *out = tensor_f32(t);
    for (int i = 0; !rc && *out && i < m->hp.n_rot / 2; i++)
        if (!((*out)[i] > 0.0f) || !isfinite((*out)[i]))
            return plm_fail(PLM_E_FORMAT, "%s: %s[%d] = %g is not a positive frequency factor", m->arch_name, name, i,
                            (*out)[i]);
    return rc;
}

/* llama.cpp's keys: rope.scaling.type ("none" / "linear" (default) / "yarn" / "longrope"),
 * rope.scaling.factor (or rope.scale_linear), rope.scaling.original_context_length,
 * rope.scaling.attn_factor, rope.scaling.yarn_{ext_factor,beta_fast,beta_slow};
 * tensors rope_freqs (Llama 3.1 factors), rope_factors_{long,short} (LongRoPE). */
int blk_read_rope(plm_model *m, blk_rope *r, int mode) {
    memset(r, 0, sizeof *r);
    const plm_hparams *hp = &m->hp;
    r->rp.freq_base = hp->rope_base;
    r->rp.freq_scale = 1.0f;
    r->rp.mode = mode;
    const char *type;
    float factor = 0, attn = 0;
    int rc;
    if ((rc = hp_str(m, "rope.scaling.type", &type)) ||
        (rc = model_hp_f32(m, "rope.scaling.factor", 0, 0.0f, &factor)))
        return rc;
    if (factor == 0.0f && (rc = model_hp_f32(m, "rope.scale_linear", 0, 0.0f, &factor))) return rc;
    if (!(factor >= 0.0f) || !isfinite(factor))
        return plm_fail(PLM_E_FORMAT, "%s: RoPE scaling factor %g is not valid", m->arch_name, factor);
    if ((rc = model_hp_u32(m, "rope.scaling.original_context_length", 0, hp->n_ctx_train, &r->n_ctx_orig)) ||
        (rc = model_hp_f32(m, "rope.scaling.attn_factor", 0, 0.0f, &attn)))
        return rc;
    if (!(attn >= 0.0f) || !isfinite(attn) || r->n_ctx_orig <= 0)
        return plm_fail(PLM_E_FORMAT, "%s: RoPE attention factor %g / original context %d is not valid",
                        m->arch_name, attn, r->n_ctx_orig);
    if ((rc = rope_factors(m, &r->rp.freq_factors, "rope_freqs.weight")) ||
        (rc = rope_factors(m, &r->long_factors, "rope_factors_long.weight")) ||
        (rc = rope_factors(m, &r->short_factors, "rope_factors_short.weight")))
        return rc;
    const int scaled = factor != 0.0f && factor != 1.0f;
    if (type && strcmp(type, "none") == 0) return PLM_OK;
    /* LongRoPE (Phi-3): llama.cpp's converter writes the factor tables and the attention
     * factor, not always the type; the tables decide, as in llama.cpp's get_rope_factors */
    if (r->long_factors || r->short_factors || (type && strcmp(type, "longrope") == 0)) {
        if (!r->long_factors || !r->short_factors)
            return plm_fail(PLM_E_MISSING, "%s: LongRoPE needs rope_factors_long.weight and rope_factors_short.weight",
                            m->arch_name);
        /* HF Phi3 LongRoPE: sqrt(1 + ln(s) / ln(n_ctx_orig)), s = n_ctx_train / n_ctx_orig */
        const double s = (double)hp->n_ctx_train / r->n_ctx_orig;
        r->rp.attn_factor =
            attn != 0.0f ? attn : s <= 1.0 ? 1.0f : (float)sqrt(1.0 + log(s) / log((double)r->n_ctx_orig));
        return PLM_OK;
    }
    if (!type || strcmp(type, "linear") == 0) {
        if (scaled) r->rp.freq_scale = 1.0f / factor;
        return PLM_OK;
    }
    if (strcmp(type, "yarn") == 0) {
        if (!scaled) return PLM_OK; /* factor 1: no scaling at all */
        float ext = -1.0f;
        r->rp.beta_fast = 32.0f, r->rp.beta_slow = 1.0f;
        if ((rc = model_hp_f32(m, "rope.scaling.yarn_ext_factor", 0, -1.0f, &ext)) ||
            (rc = model_hp_f32(m, "rope.scaling.yarn_beta_fast", 0, 32.0f, &r->rp.beta_fast)) ||
            (rc = model_hp_f32(m, "rope.scaling.yarn_beta_slow", 0, 1.0f, &r->rp.beta_slow)))
            return rc;
        r->rp.freq_scale = 1.0f / factor;
        r->rp.ext_factor = ext < 0.0f ? 1.0f : ext;
        r->rp.n_ctx_orig = r->n_ctx_orig;
        /* HF's get_mscale(factor) = 0.1 ln(factor) + 1 (ggml's rope_yarn), times attn_factor */
        r->rp.attn_factor = (attn != 0.0f ? attn : 1.0f) * (1.0f + 0.1f * logf(factor));
        return PLM_OK;
    }
    return plm_fail(PLM_E_UNSUPPORTED, "%s: unknown RoPE scaling type '%s'", m->arch_name, type);
}

op_rope_params blk_rope_for_ctx(const blk_rope *r, int n_ctx) {
    op_rope_params p = r->rp;
    if (r->long_factors) p.freq_factors = n_ctx > r->n_ctx_orig ? r->long_factors : r->short_factors;
    return p;
}

/* ------------------------------------------------------------ binding */
static int vec(plm_model *m, const float **dst, int64_t n, int required, const char *fmt, int il) {
    char name[96];
    snprintf(name, sizeof name, fmt, il);
    if (required) {
        const plm_tensor *t = model_tensor(m, n, 0, "%s", name);
        *dst = tensor_f32(t);
        return t ? PLM_OK : plm_errcode();
    }
    const plm_tensor *t;
    int rc = model_tensor_try(m, &t, n, 0, "%s", name);
    *dst = tensor_f32(t);
    return rc;
}

static int mat(plm_model *m, const plm_tensor **dst, int64_t k, int64_t n, const char *fmt, int il) {
    *dst = model_tensor(m, k, n, fmt, il);
    return *dst ? PLM_OK : plm_errcode();
}

/* "<base>.weight" (+ "<base>.bias" for LayerNorm) */
static int norm(plm_model *m, blk_norm *nm, int kind, int64_t n, const char *base, int il) {
    char fmt[96];
    nm->kind = kind;
    snprintf(fmt, sizeof fmt, "%s.weight", base);
    int rc = vec(m, &nm->w, n, 1, fmt, il);
    if (rc || kind != BLK_NORM_LAYER) return rc;
    snprintf(fmt, sizeof fmt, "%s.bias", base);
    return vec(m, &nm->b, n, 1, fmt, il);
}

int blk_bind_layer(plm_model *m, blk_layer_w *L, int il, unsigned f) {
    const plm_hparams *hp = &m->hp;
    const int E = hp->n_embd, hd = hp->head_dim, n_q = hp->n_head * hd, n_kv = hp->n_head_kv * hd, F = hp->n_ff;
    const int nk = f & BLK_L_NORM_BIAS ? BLK_NORM_LAYER : BLK_NORM_RMS;
    const int breq = !!(f & BLK_L_QKV_BIAS), bopt = breq || (f & BLK_L_QKV_BIAS_OPT);
    blk_attn_w *a = &L->attn;
    blk_ffn_w *ff = &L->ffn;
    int rc;
    if (f & BLK_L_POST_LN) {
        if ((rc = norm(m, &L->attn_post_norm, nk, E, "blk.%d.attn_output_norm", il)) ||
            (rc = norm(m, &L->ffn_post_norm, nk, E, "blk.%d.layer_output_norm", il)))
            return rc;
    } else if ((rc = norm(m, &L->attn_norm, nk, E, "blk.%d.attn_norm", il)) ||
               (rc = norm(m, &L->ffn_norm, nk, E, "blk.%d.ffn_norm", il))) {
        return rc;
    }
    if ((f & BLK_L_POST_NORMS) && ((rc = norm(m, &L->attn_post_norm, nk, E, "blk.%d.post_attention_norm", il)) ||
                                   (rc = norm(m, &L->ffn_post_norm, nk, E, "blk.%d.post_ffw_norm", il))))
        return rc;
    if (f & BLK_L_FUSED_QKV) {
        if ((rc = mat(m, &a->wqkv, E, n_q + 2 * n_kv, "blk.%d.attn_qkv.weight", il)) ||
            (bopt && (rc = vec(m, &a->bqkv, n_q + 2 * n_kv, breq, "blk.%d.attn_qkv.bias", il))))
            return rc;
    } else if ((rc = mat(m, &a->wq, E, n_q, "blk.%d.attn_q.weight", il)) ||
               (rc = mat(m, &a->wk, E, n_kv, "blk.%d.attn_k.weight", il)) ||
               (rc = mat(m, &a->wv, E, n_kv, "blk.%d.attn_v.weight", il)) ||
               (bopt && ((rc = vec(m, &a->bq, n_q, breq, "blk.%d.attn_q.bias", il)) ||
                         (rc = vec(m, &a->bk, n_kv, breq, "blk.%d.attn_k.bias", il)) ||
                         (rc = vec(m, &a->bv, n_kv, breq, "blk.%d.attn_v.bias", il))))) {
        return rc;
    }
    if ((rc = mat(m, &a->wo, n_q, E, "blk.%d.attn_output.weight", il)) ||
        ((bopt || (f & BLK_L_OUT_BIAS)) &&
         (rc = vec(m, &a->bo, E, !!(f & BLK_L_OUT_BIAS), "blk.%d.attn_output.bias", il))))
        return rc;
    if ((f & BLK_L_QK_NORM) && ((rc = norm(m, &a->q_norm, BLK_NORM_RMS, hd, "blk.%d.attn_q_norm", il)) ||
                                (rc = norm(m, &a->k_norm, BLK_NORM_RMS, hd, "blk.%d.attn_k_norm", il))))
        return rc;
    ff->fused = !!(f & BLK_L_FFN_FUSED);
    if ((rc = mat(m, &ff->up, E, ff->fused ? 2 * F : F, "blk.%d.ffn_up.weight", il)) ||
        ((f & BLK_L_FFN_GATED) && (rc = mat(m, &ff->gate, E, F, "blk.%d.ffn_gate.weight", il))) ||
        (rc = mat(m, &ff->down, F, E, "blk.%d.ffn_down.weight", il)))
        return rc;
    if ((f & BLK_L_FFN_BIAS) && ((rc = vec(m, &ff->up_b, F, 1, "blk.%d.ffn_up.bias", il)) ||
                                 (rc = vec(m, &ff->down_b, E, 1, "blk.%d.ffn_down.bias", il))))
        return rc;
    return PLM_OK;
}

int blk_bind_head(plm_model *m, blk_head_w *h, unsigned f) {
    plm_hparams *hp = &m->hp;
    int rc;
    if (!(h->tok_embd = model_tensor(m, hp->n_embd, -1, "token_embd.weight"))) return plm_errcode();
    hp->n_vocab = (int)h->tok_embd->ne[1];
    if ((rc = norm(m, &h->out_norm, f & BLK_L_NORM_BIAS ? BLK_NORM_LAYER : BLK_NORM_RMS, hp->n_embd,
                   "output_norm", 0)) ||
        (rc = model_tensor_try(m, &h->output, hp->n_embd, hp->n_vocab, "output.weight")))
        return rc;
    if (!h->output) h->output = h->tok_embd; /* tied */
    return PLM_OK;
}

/* ------------------------------------------------------------ causal state */
void blk_ctx_free(plm_ctx *c) {
    blk_state *s = c->state;
    if (!s) return;
    kv_cache_free(&s->kv);
    plm_buf *bufs[] = {&s->x, &s->xb, &s->q, &s->qkv, &s->att, &s->ff, &s->ff2, &s->tmp};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) plm_buf_free(bufs[i]);
    free(s);
    c->state = NULL;
}

int blk_ctx_init(plm_ctx *c) {
    const plm_hparams *hp = &c->model->hp;
    blk_state *s = plm_calloc_for(1, sizeof *s, "context state");
    if (!s) return PLM_E_NOMEM;
    c->state = s;
    return kv_cache_init(&s->kv, hp->n_layer, hp->n_head_kv * hp->head_dim, c->n_ctx);
}

int blk_ctx_copy(plm_ctx *dst, const plm_ctx *src, int n_pos) {
    blk_state *d = dst->state;
    const blk_state *s = src->state;
    int rc = kv_cache_reserve(&d->kv, n_pos);
    if (rc) return rc;
    const size_t bytes = (size_t)n_pos * s->kv.kv_dim * sizeof(float);
    for (int l = 0; l < s->kv.n_layer && n_pos > 0; l++) {
        memcpy(d->kv.k[l], s->kv.k[l], bytes);
        memcpy(d->kv.v[l], s->kv.v[l], bytes);
    }
    return PLM_OK;
}

int blk_state_reserve(plm_ctx *c, int n) {
    const plm_hparams *hp = &c->model->hp;
    blk_state *s = c->state;
    const size_t T = (size_t)n, E = (size_t)hp->n_embd, Q = (size_t)hp->n_head * hp->head_dim,
                 KV = (size_t)hp->n_head_kv * hp->head_dim, F = 2 * (size_t)hp->n_ff;
    const size_t W = PLM_MAX(E, Q);
    int rc;
    if ((rc = kv_cache_reserve(&s->kv, c->n_past + n)) ||
        (rc = plm_buf_reserve(&s->x, T * E, "activations")) || (rc = plm_buf_reserve(&s->xb, T * W, "activations")) ||
        (rc = plm_buf_reserve(&s->tmp, T * W, "activations")) || (rc = plm_buf_reserve(&s->q, T * Q, "activations")) ||
        (rc = plm_buf_reserve(&s->qkv, T * (Q + 2 * KV), "activations")) ||
        (rc = plm_buf_reserve(&s->att, T * Q, "activations")) || (rc = plm_buf_reserve(&s->ff, T * F, "activations")) ||
        (rc = plm_buf_reserve(&s->ff2, T * F, "activations")))
        return rc;
    return PLM_OK;
}

/* ------------------------------------------------------------ blocks */
void blk_norm_apply(float *y, const float *x, const blk_norm *nm, int m, int n, float eps) {
    switch (nm->kind) {
    case BLK_NORM_LAYER: op_layernorm(y, x, nm->w, nm->b, m, n, eps); break;
    case BLK_NORM_RMS: op_rmsnorm(y, x, nm->w, m, n, eps); break;
    default:
        if (y != x) memmove(y, x, (size_t)m * n * sizeof *y);
    }
}

/* dst rows (stride ds) = src rows (stride ss), width floats each */
static void copy_rows(float *dst, int ds, const float *src, int ss, int n, int width) {
    for (int t = 0; t < n; t++) memcpy(dst + (size_t)t * ds, src + (size_t)t * ss, (size_t)width * sizeof *dst);
}

int blk_self_attn(plm_ctx *c, int il, const blk_attn_w *w, const blk_attn_cfg *cfg, const float *h, int n,
                  float *out) {
    blk_state *s = c->state;
    const int E = c->model->hp.n_embd, hd = cfg->head_dim, n_past = c->n_past;
    const int n_q = cfg->n_head * hd, kv_dim = cfg->n_head_kv * hd;
    float *q = s->q.p, *k_new = s->kv.k[il] + (size_t)n_past * kv_dim, *v_new = s->kv.v[il] + (size_t)n_past * kv_dim;
    int rc;
    /* q, k, v: this batch's keys and values go straight into the cache rows n_past.. */
    if (w->wqkv) {
        const int n_qkv = n_q + 2 * kv_dim;
        if ((rc = op_matmul(s->qkv.p, w->wqkv, w->bqkv, h, n, E))) return rc;
        copy_rows(q, n_q, s->qkv.p, n_qkv, n, n_q);
        copy_rows(k_new, kv_dim, s->qkv.p + n_q, n_qkv, n, kv_dim);
        copy_rows(v_new, kv_dim, s->qkv.p + n_q + kv_dim, n_qkv, n, kv_dim);
    } else {
        float *const ys[3] = {q, k_new, v_new};
        const plm_tensor *const ws[3] = {w->wq, w->wk, w->wv};
        const float *const bs[3] = {w->bq, w->bk, w->bv};
        if ((rc = op_matmul_shared(ys, ws, bs, 3, h, n, E))) return rc;
    }
    /* per-head q/k norms, then rotary positions */
    blk_norm_apply(q, q, &w->q_norm, n * cfg->n_head, hd, cfg->norm_eps);
    blk_norm_apply(k_new, k_new, &w->k_norm, n * cfg->n_head_kv, hd, cfg->norm_eps);
    if (cfg->rope && ((rc = op_rope_ext(q, n, cfg->n_head, hd, cfg->n_rot, n_past, cfg->rope)) ||
                      (rc = op_rope_ext(k_new, n, cfg->n_head_kv, hd, cfg->n_rot, n_past, cfg->rope))))
        return rc;
    const op_attn_params ap = {
        .n_head = cfg->n_head,
        .n_head_kv = cfg->n_head_kv,
        .head_dim = hd,
        .scale = cfg->scale,
        .causal = 1,
        .q_pos0 = n_past,
        .softcap = cfg->softcap,
        .window = cfg->window,
    };
    if ((rc = op_attention(s->att.p, n_q, q, n_q, s->kv.k[il], s->kv.v[il], kv_dim, n, n_past + n, &ap))) return rc;
    return op_matmul(out, w->wo, w->bo, s->att.p, n, n_q);
}

int blk_ffn(const blk_ffn_w *w, int kind, const float *h, int n, int E, int F, float *ff, float *ff2, float *out) {
    int rc;
    if (kind == BLK_FFN_SWIGLU || kind == BLK_FFN_GEGLU) {
        void (*glu)(float *, const float *, const float *, int) = kind == BLK_FFN_SWIGLU ? op_swiglu : op_geglu_tanh;
        if (w->fused) { /* up = [gate; up]: per row, gate is the first half */
            if ((rc = op_matmul(ff2, w->up, w->up_b, h, n, E))) return rc;
            for (int t = 0; t < n; t++) glu(ff + (size_t)t * F, ff2 + (size_t)t * 2 * F, ff2 + (size_t)t * 2 * F + F, F);
        } else {
            float *const ys[2] = {ff, ff2};
            const plm_tensor *const ws[2] = {w->gate, w->up};
            const float *const bs[2] = {w->gate_b, w->up_b};
            if ((rc = op_matmul_shared(ys, ws, bs, 2, h, n, E))) return rc;
            glu(ff, ff, ff2, n * F);
        }
    } else {
        if ((rc = op_matmul(ff, w->up, w->up_b, h, n, E))) return rc;
        switch (kind) {
        case BLK_FFN_GELU: op_gelu_erf(ff, ff, n * F); break;
        case BLK_FFN_GELU_TANH: op_gelu_tanh(ff, ff, n * F); break;
        case BLK_FFN_RELU: op_relu(ff, ff, n * F); break;
        default: return plm_fail(PLM_E_INVALID, "feed-forward: unknown kind %d", kind);
        }
    }
    return op_matmul(out, w->down, w->down_b, ff, n, F);
}

int blk_decoder_layer(plm_ctx *c, int il, const blk_layer_w *L, const blk_attn_cfg *cfg, int ffn_kind, int n) {
    const plm_hparams *hp = &c->model->hp;
    blk_state *s = c->state;
    const int E = hp->n_embd;
    float *x = s->x.p, *xb = s->xb.p, *tmp = s->tmp.p;
    int rc;
    /* x += post_norm(Attn(norm(x))) */
    blk_norm_apply(xb, x, &L->attn_norm, n, E, hp->norm_eps);
    if ((rc = blk_self_attn(c, il, &L->attn, cfg, xb, n, tmp))) return rc;
    if (L->attn_post_norm.kind) blk_norm_apply(tmp, tmp, &L->attn_post_norm, n, E, hp->norm_eps);
    op_add(x, x, tmp, n * E);
    /* x += post_norm(FFN(norm(x))) */
    blk_norm_apply(xb, x, &L->ffn_norm, n, E, hp->norm_eps);
    if ((rc = blk_ffn(&L->ffn, ffn_kind, xb, n, E, hp->n_ff, s->ff.p, s->ff2.p, tmp))) return rc;
    if (L->ffn_post_norm.kind) blk_norm_apply(tmp, tmp, &L->ffn_post_norm, n, E, hp->norm_eps);
    op_add(x, x, tmp, n * E);
    return PLM_OK;
}

int blk_lm_head(plm_ctx *c, const blk_head_w *h, int n, int n_out, float softcap, float *logits) {
    const plm_hparams *hp = &c->model->hp;
    blk_state *s = c->state;
    const int E = hp->n_embd;
    blk_norm_apply(s->xb.p, s->x.p + (size_t)(n - n_out) * E, &h->out_norm, n_out, E, hp->norm_eps);
    int rc = op_matmul(logits, h->output, NULL, s->xb.p, n_out, E);
    if (rc || softcap == 0.0f) return rc;
    /* final-logit soft-capping (Gemma 2): cap * tanh(logits / cap) */
    const size_t nl = (size_t)n_out * hp->n_vocab;
    op_softcap(logits, logits, softcap, (int)nl);
    return PLM_OK;
}

/* ------------------------------------------------------------ encoder */
void blk_scratch_free(blk_scratch *s) {
    plm_buf_free(&s->qkv);
    plm_buf_free(&s->att);
    plm_buf_free(&s->tmp);
    plm_buf_free(&s->ff);
    plm_buf_free(&s->ff2);
}

int blk_encoder_layer(const plm_model *m, const blk_layer_w *L, const blk_attn_cfg *cfg, int ffn_kind, float *x, int n,
                      const int32_t *seq_lens, int n_seq, const int32_t *pos, blk_scratch *s) {
    const plm_hparams *hp = &m->hp;
    const blk_attn_w *w = &L->attn;
    const size_t T = (size_t)n, E = (size_t)hp->n_embd, hd = (size_t)cfg->head_dim, F = 2 * (size_t)hp->n_ff;
    const int n_q = cfg->n_head * (int)hd, kv_dim = cfg->n_head_kv * (int)hd, n_qkv = n_q + 2 * kv_dim;
    int rc;
    if ((rc = plm_buf_reserve(&s->qkv, 2 * T * n_qkv, "encoder activations")) ||
        (rc = plm_buf_reserve(&s->att, T * n_q, "encoder activations")) ||
        (rc = plm_buf_reserve(&s->tmp, T * E, "encoder activations")) ||
        (rc = plm_buf_reserve(&s->ff, T * F, "encoder activations")) ||
        (rc = plm_buf_reserve(&s->ff2, T * F, "encoder activations")))
        return rc;
    /* q [n][n_q], k, v [n][kv_dim], each contiguous (fused: split from the second half) */
    float *q = s->qkv.p, *k = q + T * n_q, *v = k + T * kv_dim, *fused = s->qkv.p + T * n_qkv;
    if (w->wqkv) {
        if ((rc = op_matmul(fused, w->wqkv, w->bqkv, x, n, (int)E))) return rc;
        copy_rows(q, n_q, fused, n_qkv, n, n_q);
        copy_rows(k, kv_dim, fused + n_q, n_qkv, n, kv_dim);
        copy_rows(v, kv_dim, fused + n_q + kv_dim, n_qkv, n, kv_dim);
    } else {
        float *const ys[3] = {q, k, v};
        const plm_tensor *const ws[3] = {w->wq, w->wk, w->wv};
        const float *const bs[3] = {w->bq, w->bk, w->bv};
        if ((rc = op_matmul_shared(ys, ws, bs, 3, x, n, (int)E))) return rc;
    }
    blk_norm_apply(q, q, &w->q_norm, n * cfg->n_head, (int)hd, cfg->norm_eps);
    blk_norm_apply(k, k, &w->k_norm, n * cfg->n_head_kv, (int)hd, cfg->norm_eps);
    if (cfg->rope) {
        op_rope_params rp = *cfg->rope;
        rp.pos = pos;
        if ((rc = op_rope_ext(q, n, cfg->n_head, (int)hd, cfg->n_rot, 0, &rp)) ||
            (rc = op_rope_ext(k, n, cfg->n_head_kv, (int)hd, cfg->n_rot, 0, &rp)))
            return rc;
    }
    /* self-attention within each sequence */
    const op_attn_params ap = {.n_head = cfg->n_head, .n_head_kv = cfg->n_head_kv, .head_dim = (int)hd,
                               .scale = cfg->scale, .softcap = cfg->softcap};
    for (int sq = 0, off = 0; sq < n_seq; off += seq_lens[sq++])
        if ((rc = op_attention(s->att.p + (size_t)off * n_q, n_q, q + (size_t)off * n_q, n_q, k + (size_t)off * kv_dim,
                               v + (size_t)off * kv_dim, kv_dim, seq_lens[sq], seq_lens[sq], &ap)))
            return rc;
    /* x = Norm_1(x + W_o att) */
    if ((rc = op_matmul(s->tmp.p, w->wo, w->bo, s->att.p, n, n_q))) return rc;
    op_add(s->tmp.p, s->tmp.p, x, n * (int)E);
    blk_norm_apply(x, s->tmp.p, &L->attn_post_norm, n, (int)E, hp->norm_eps);
    /* x = Norm_2(x + FFN(x)) */
    if ((rc = blk_ffn(&L->ffn, ffn_kind, x, n, (int)E, hp->n_ff, s->ff.p, s->ff2.p, s->tmp.p))) return rc;
    op_add(s->tmp.p, s->tmp.p, x, n * (int)E);
    blk_norm_apply(x, s->tmp.p, &L->ffn_post_norm, n, (int)E, hp->norm_eps);
    return PLM_OK;
}
