/* gpt2.c — GPT-2 (Radford et al. 2019), as llama.cpp's LLM_ARCH_GPT2 reads it.
 *
 *   x = wte[id] + wpe[pos]
 *   per block:  x += W_o · Attn(LN_1(x))           (q, k, v from one fused matmul)
 *               x += W_down · gelu_tanh(W_up · LN_2(x))
 *   logits = LN_f(x) · W_out^T                      (W_out = wte when tied)
 *
 * GGUF names / keys (llama.cpp): token_embd, position_embd, blk.N.attn_norm,
 * blk.N.attn_qkv (ne = {n_embd, n_embd + 2*n_embd_kv}: q, k, v rows in that
 * order), blk.N.attn_output, blk.N.ffn_norm, blk.N.ffn_up, blk.N.ffn_down (all
 * with .bias), output_norm, output (absent = tied); gpt2.block_count,
 * context_length, embedding_length, feed_forward_length, attention.head_count,
 * attention.layer_norm_epsilon.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

typedef struct {
    const float *ln1_w, *ln1_b;
    const plm_tensor *qkv;
    const float *qkv_b;
    const plm_tensor *wo;
    const float *wo_b;
    const float *ln2_w, *ln2_b;
    const plm_tensor *up;
    const float *up_b;
    const plm_tensor *down;
    const float *down_b;
} gpt2_layer;

typedef struct {
    const plm_tensor *tok_embd, *pos_embd, *output;
    const float *lnf_w, *lnf_b;
    gpt2_layer *layers;
} gpt2_weights;

typedef struct {
    plm_kv_cache kv;
    plm_buf x, xb, qkv, att, ff, tmp; /* [n][...] activations of the current batch */
    int32_t pos[PLM_MAX_BATCH];
} gpt2_state;

/* ------------------------------------------------------------------ load */
static void gpt2_free(plm_model *m) {
    gpt2_weights *w = m->w;
    if (!w) return;
    free(w->layers);
    free(w);
    m->w = NULL;
}

static int gpt2_init(plm_model *m) {
    plm_hparams *hp = &m->hp;
    int rc;
    if ((rc = model_hp_u32(m, "block_count", 1, 0, &hp->n_layer)) ||
        (rc = model_hp_u32(m, "context_length", 1, 0, &hp->n_ctx_train)) ||
        (rc = model_hp_u32(m, "embedding_length", 1, 0, &hp->n_embd)) ||
        (rc = model_hp_u32(m, "attention.head_count", 1, 0, &hp->n_head)) ||
        (rc = model_hp_f32(m, "attention.layer_norm_epsilon", 1, 0, &hp->norm_eps)) ||
        (rc = model_check_hparams(m)))
        return rc;
    if ((rc = model_hp_u32(m, "feed_forward_length", 0, 4 * hp->n_embd, &hp->n_ff)) ||
        (rc = model_hp_u32(m, "attention.head_count_kv", 0, hp->n_head, &hp->n_head_kv)) ||
        (rc = model_check_hparams(m)))
        return rc;
    const int n_embd = hp->n_embd, n_head = hp->n_head, n_head_kv = hp->n_head_kv;
    if (hp->n_layer <= 0 || n_embd <= 0 || n_head <= 0 || hp->n_ff <= 0 || hp->n_ctx_train <= 0 ||
        n_embd % n_head != 0 || n_head_kv <= 0 || n_head % n_head_kv != 0)
        return plm_fail(PLM_E_FORMAT,
                        "gpt2: inconsistent hyper-parameters (%d blocks, embedding %d, %d heads, "
                        "%d kv heads, ffn %d, context %d)",
                        hp->n_layer, n_embd, n_head, n_head_kv, hp->n_ff, hp->n_ctx_train);
    hp->head_dim = n_embd / n_head;
    const int n_embd_kv = hp->head_dim * n_head_kv;

    gpt2_weights *w = plm_calloc_for(1, sizeof *w, "gpt2 weights");
    if (!w) return PLM_E_NOMEM;
    m->w = w;
    w->layers = plm_calloc_for((size_t)hp->n_layer, sizeof *w->layers, "gpt2 layers");
    if (!w->layers) return PLM_E_NOMEM;

    MODEL_BIND(w->tok_embd, n_embd, -1, "token_embd.weight");
    hp->n_vocab = (int)w->tok_embd->ne[1];
    MODEL_BIND(w->pos_embd, n_embd, hp->n_ctx_train, "position_embd.weight");
    MODEL_BIND_F32(w->lnf_w, n_embd, 0, "output_norm.weight");
    MODEL_BIND_F32(w->lnf_b, n_embd, 0, "output_norm.bias");
    if ((rc = model_tensor_try(m, &w->output, n_embd, hp->n_vocab, "output.weight"))) return rc;
    if (!w->output) w->output = w->tok_embd; /* tied */

    for (int i = 0; i < hp->n_layer; i++) {
        gpt2_layer *L = &w->layers[i];
        MODEL_BIND_F32(L->ln1_w, n_embd, 0, "blk.%d.attn_norm.weight", i);
        MODEL_BIND_F32(L->ln1_b, n_embd, 0, "blk.%d.attn_norm.bias", i);
        MODEL_BIND(L->qkv, n_embd, n_embd + 2 * n_embd_kv, "blk.%d.attn_qkv.weight", i);
        MODEL_BIND_F32(L->qkv_b, n_embd + 2 * n_embd_kv, 0, "blk.%d.attn_qkv.bias", i);
        MODEL_BIND(L->wo, n_embd, n_embd, "blk.%d.attn_output.weight", i);
        MODEL_BIND_F32(L->wo_b, n_embd, 0, "blk.%d.attn_output.bias", i);
        MODEL_BIND_F32(L->ln2_w, n_embd, 0, "blk.%d.ffn_norm.weight", i);
        MODEL_BIND_F32(L->ln2_b, n_embd, 0, "blk.%d.ffn_norm.bias", i);
        MODEL_BIND(L->up, n_embd, hp->n_ff, "blk.%d.ffn_up.weight", i);
        MODEL_BIND_F32(L->up_b, hp->n_ff, 0, "blk.%d.ffn_up.bias", i);
        MODEL_BIND(L->down, hp->n_ff, n_embd, "blk.%d.ffn_down.weight", i);
        MODEL_BIND_F32(L->down_b, n_embd, 0, "blk.%d.ffn_down.bias", i);
    }
    return PLM_OK;
}

/* --------------------------------------------------------------- context */
static void gpt2_ctx_free(plm_ctx *c) {
    gpt2_state *s = c->state;
    if (!s) return;
    kv_cache_free(&s->kv);
    plm_buf_free(&s->x);
    plm_buf_free(&s->xb);
    plm_buf_free(&s->qkv);
    plm_buf_free(&s->att);
    plm_buf_free(&s->ff);
    plm_buf_free(&s->tmp);
    free(s);
    c->state = NULL;
}

static int gpt2_ctx_init(plm_ctx *c) {
    const plm_hparams *hp = &c->model->hp;
    if (c->n_ctx > hp->n_ctx_train)
        return plm_fail(PLM_E_INVALID,
                        "gpt2: a context of %d tokens exceeds the %d learned positions", c->n_ctx,
                        hp->n_ctx_train);
    gpt2_state *s = plm_calloc_for(1, sizeof *s, "gpt2 context");
    if (!s) return PLM_E_NOMEM;
    c->state = s;
    return kv_cache_init(&s->kv, hp->n_layer, hp->n_head_kv * hp->head_dim, c->n_ctx);
}

static int reserve(gpt2_state *s, const plm_hparams *hp, int n) {
    const size_t E = (size_t)hp->n_embd, n_qkv = E + 2 * (size_t)hp->n_head_kv * hp->head_dim;
    int rc;
    if ((rc = plm_buf_reserve(&s->x, n * E, "gpt2 activations")) ||
        (rc = plm_buf_reserve(&s->xb, n * E, "gpt2 activations")) ||
        (rc = plm_buf_reserve(&s->tmp, n * E, "gpt2 activations")) ||
        (rc = plm_buf_reserve(&s->att, n * E, "gpt2 activations")) ||
        (rc = plm_buf_reserve(&s->qkv, n * n_qkv, "gpt2 activations")) ||
        (rc = plm_buf_reserve(&s->ff, n * (size_t)hp->n_ff, "gpt2 activations")))
        return rc;
    return PLM_OK;
}

/* ---------------------------------------------------------------- decode */
static int gpt2_decode(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits) {
    const plm_model *m = c->model;
    const plm_hparams *hp = &m->hp;
    const gpt2_weights *w = m->w;
    gpt2_state *s = c->state;
    const int E = hp->n_embd, F = hp->n_ff, n_past = c->n_past;
    const int kv_dim = hp->n_head_kv * hp->head_dim, n_qkv = E + 2 * kv_dim;
    int rc;

    if ((rc = kv_cache_reserve(&s->kv, n_past + n)) || (rc = reserve(s, hp, n))) return rc;
    float *x = s->x.p, *xb = s->xb.p, *qkv = s->qkv.p, *att = s->att.p, *ff = s->ff.p,
          *tmp = s->tmp.p;

    /* embeddings: token + learned absolute position */
    for (int t = 0; t < n; t++) s->pos[t] = n_past + t;
    if ((rc = op_get_rows(x, w->tok_embd, ids, n)) || (rc = op_get_rows(tmp, w->pos_embd, s->pos, n)))
        return rc;
    op_add(x, x, tmp, n * E);

    const op_attn_params ap = {
        .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv,
        .head_dim = hp->head_dim,
        .scale = 1.0f / sqrtf((float)hp->head_dim),
        .causal = 1,
        .q_pos0 = n_past,
    };

    for (int l = 0; l < hp->n_layer; l++) {
        const gpt2_layer *L = &w->layers[l];
        float *kc = s->kv.k[l], *vc = s->kv.v[l];

        /* attention: x += W_o · softmax(q k^T / sqrt(d)) v,  q k v = W_qkv · LN_1(x) */
        op_layernorm(xb, x, L->ln1_w, L->ln1_b, n, E, hp->norm_eps);
        if ((rc = op_matmul(qkv, L->qkv, L->qkv_b, xb, n, E))) return rc;
        for (int t = 0; t < n; t++) {
            const float *row = qkv + (size_t)t * n_qkv;
            memcpy(kc + (size_t)(n_past + t) * kv_dim, row + E, kv_dim * sizeof(float));
            memcpy(vc + (size_t)(n_past + t) * kv_dim, row + E + kv_dim, kv_dim * sizeof(float));
        }
        if ((rc = op_attention(att, E, qkv, n_qkv, kc, vc, kv_dim, n, n_past + n, &ap))) return rc;
        if ((rc = op_matmul(tmp, L->wo, L->wo_b, att, n, E))) return rc;
        op_add(x, x, tmp, n * E);

        /* feed-forward: x += W_down · gelu(W_up · LN_2(x)) */
        op_layernorm(xb, x, L->ln2_w, L->ln2_b, n, E, hp->norm_eps);
        if ((rc = op_matmul(ff, L->up, L->up_b, xb, n, E))) return rc;
        op_gelu_tanh(ff, ff, n * F);
        if ((rc = op_matmul(tmp, L->down, L->down_b, ff, n, F))) return rc;
        op_add(x, x, tmp, n * E);
    }

    if (!logits) return PLM_OK;
    /* head: only the rows whose logits are wanted */
    const int n_out = all_logits ? n : 1;
    const float *xo = x + (size_t)(n - n_out) * E;
    op_layernorm(xb, xo, w->lnf_w, w->lnf_b, n_out, E, hp->norm_eps);
    return op_matmul(logits, w->output, NULL, xb, n_out, E);
}

const plm_arch plm_arch_gpt2 = {
    .name = "gpt2",
    .id = PLM_ARCH_GPT2,
    .init = gpt2_init,
    .free = gpt2_free,
    .ctx_init = gpt2_ctx_init,
    .ctx_free = gpt2_ctx_free,
    .decode = gpt2_decode,
};
