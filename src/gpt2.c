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

#include "blocks.h"

typedef struct {
    blk_head_w head;
    const plm_tensor *pos_embd;
    blk_layer_w *layers;
} gpt2_weights;

static void gpt2_free(plm_model *m) {
    gpt2_weights *w = m->w;
    if (!w) return;
    free(w->layers);
    free(w);
    m->w = NULL;
}

static int gpt2_init(plm_model *m) {
    const plm_hparams *hp = &m->hp;
    int rc;
    if ((rc = blk_read_hparams(m, BLK_HP_FF_OPTIONAL))) return rc;
    if (hp->head_dim * hp->n_head != hp->n_embd)
        return plm_fail(PLM_E_FORMAT, "gpt2: inconsistent hyper-parameters (embedding %d, %d heads, head dim %d)",
                        hp->n_embd, hp->n_head, hp->head_dim);
    gpt2_weights *w = m->w = plm_calloc_for(1, sizeof *w, "gpt2 weights");
    if (!w || !(w->layers = plm_calloc_for((size_t)hp->n_layer, sizeof *w->layers, "gpt2 layers")))
        return PLM_E_NOMEM;
    const unsigned flags = BLK_L_NORM_BIAS | BLK_L_FUSED_QKV | BLK_L_QKV_BIAS | BLK_L_OUT_BIAS | BLK_L_FFN_BIAS;
    if ((rc = blk_bind_head(m, &w->head, flags))) return rc;
    if (!(w->pos_embd = model_tensor(m, hp->n_embd, hp->n_ctx_train, "position_embd.weight"))) return plm_errcode();
    for (int i = 0; i < hp->n_layer; i++)
        if ((rc = blk_bind_layer(m, &w->layers[i], i, flags))) return rc;
    return PLM_OK;
}

static int gpt2_ctx_init(plm_ctx *c) {
    const plm_hparams *hp = &c->model->hp;
    if (c->n_ctx > hp->n_ctx_train)
        return plm_fail(PLM_E_INVALID, "gpt2: a context of %d tokens exceeds the %d learned positions", c->n_ctx,
                        hp->n_ctx_train);
    return blk_ctx_init(c);
}

static int gpt2_decode(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits) {
    const plm_hparams *hp = &c->model->hp;
    const gpt2_weights *w = c->model->w;
    blk_state *s = c->state;
    int rc;
    if ((rc = blk_state_reserve(c, n))) return rc;

    /* embeddings: token + learned absolute position */
    for (int t = 0; t < n; t++) s->pos[t] = c->n_past + t;
    if ((rc = op_get_rows(s->x.p, w->head.tok_embd, ids, n)) || (rc = op_get_rows(s->tmp.p, w->pos_embd, s->pos, n)))
        return rc;
    op_add(s->x.p, s->x.p, s->tmp.p, n * hp->n_embd);

    const blk_attn_cfg cfg = {.n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim,
                              .scale = 1.0f / sqrtf((float)hp->head_dim)};
    for (int l = 0; l < hp->n_layer; l++)
        if ((rc = blk_decoder_layer(c, l, &w->layers[l], &cfg, BLK_FFN_GELU_TANH, n))) return rc;
    /* head: only the rows whose logits are wanted */
    return logits ? blk_lm_head(c, &w->head, n, all_logits ? n : 1, 0.0f, logits) : PLM_OK;
}

const plm_arch plm_arch_gpt2 = {
    .name = "gpt2",
    .id = PLM_ARCH_GPT2,
    .init = gpt2_init,
    .free = gpt2_free,
    .ctx_init = gpt2_ctx_init,
    .ctx_free = blk_ctx_free,
    .decode = gpt2_decode,
    .ctx_copy = blk_ctx_copy,
};
