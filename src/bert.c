/* bert.c — BERT (Devlin et al. 2019), as llama.cpp's LLM_ARCH_BERT reads it, plus
 * the task heads of docs/gguf-extensions.md.
 *
 *   x = LN_e(E_tok[id] + E_type[type] + E_pos[pos])
 *   per block (post-LN):  x = LN_1(x + W_o · Attn(W_q x, W_k x, W_v x))     bidirectional
 *                         x = LN_2(x + W_down · gelu_erf(W_up x))
 *   last hidden state = x
 *
 *   pooler      tanh(W_cls · x[0] + b)                                  (cls.*)
 *   classifier  W_out · pooler + b                                       (cls.output.*)
 *   masked LM   W_dec · LN_m(gelu_erf(W_d · x[t] + b_d)) + b_dec         (mlm.*; W_dec = E_tok
 *                                                                         unless mlm.output.weight)
 *
 * Batches are packed: sequences lie back to back without padding and each one
 * attends only to its own tokens, which is what Hugging Face computes with an
 * attention mask (padded keys get the dtype minimum, i.e. exactly zero weight).
 * The matmuls see all tokens of a group of sequences at once (m = tokens), and
 * every row's result is bit-identical to running its sequence alone (ops.h).
 *
 * GGUF names / keys (llama.cpp): token_embd, token_types (optional), position_embd,
 * token_embd_norm, blk.N.attn_{q,k,v} (or fused blk.N.attn_qkv), blk.N.attn_output,
 * blk.N.attn_output_norm, blk.N.ffn_{up,down}, blk.N.layer_output_norm (all with
 * .bias); bert.block_count, context_length, embedding_length, feed_forward_length,
 * attention.head_count, attention.layer_norm_epsilon, attention.causal (false),
 * pooling_type (optional), classifier.output_labels (optional).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Sequences are run in groups of at most this many tokens (a longer sequence runs
 * alone): bounds the scratch memory while the matmuls still see many rows. */
#define BERT_GROUP_TOKENS 512

typedef struct {
    const plm_tensor *wq, *wk, *wv, *wqkv, *wo, *up, *down;
    const float *bq, *bk, *bv, *bqkv, *bo, *up_b, *down_b;
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} bert_layer;

typedef struct {
    const plm_tensor *tok_embd, *type_embd, *pos_embd;
    const float *embd_ln_w, *embd_ln_b;
    bert_layer *layers;
    int n_types; /* rows of token_types (1 when the file has none: every type id must be 0) */
    int n_pos;   /* usable positions: min(context_length, rows of position_embd) */
    int pooling; /* bert.pooling_type (0 when absent) */

    /* heads (NULL when absent) */
    const plm_tensor *pool_w, *cls_w, *mlm_w, *mlm_out;
    const float *pool_b, *cls_b, *mlm_b, *mlm_ln_w, *mlm_ln_b, *mlm_out_b;
    int n_labels;

    /* scratch, grown on demand (a model runs one call at a time) */
    plm_buf q, k, v, qkv, att, tmp, ff, rows;
    int32_t *pos;
    int32_t *zeros;
    int pos_cap;
    char *info_json;
} bert_weights;

static bert_weights *W(const plm_model *m) { return m->w; }

/* ------------------------------------------------------------------ load */
static void bert_free(plm_model *m) {
    bert_weights *w = m->w;
    if (!w) return;
    plm_buf_free(&w->q);
    plm_buf_free(&w->k);
    plm_buf_free(&w->v);
    plm_buf_free(&w->qkv);
    plm_buf_free(&w->att);
    plm_buf_free(&w->tmp);
    plm_buf_free(&w->ff);
    plm_buf_free(&w->rows);
    free(w->pos);
    free(w->zeros);
    free(w->info_json);
    free(w->layers);
    free(w);
    m->w = NULL;
}

/* Optional 1-D f32 tensor (absent: NULL, wrong shape/type: error). */
static int opt_vec(plm_model *m, const float **dst, int64_t n, const char *name) {
    const plm_tensor *t;
    int rc = model_tensor_try(m, &t, n, 0, "%s", name);
    *dst = tensor_f32(t);
    return rc;
}

/* The task heads: each one is all-or-nothing. */
static int bind_heads(plm_model *m, bert_weights *w) {
    const int E = m->hp.n_embd, V = m->hp.n_vocab;
    int rc;
    if ((rc = model_tensor_try(m, &w->pool_w, E, E, "cls.weight")) ||
        (rc = opt_vec(m, &w->pool_b, E, "cls.bias")))
        return rc;
    if (!w->pool_w != !w->pool_b)
        return plm_fail(PLM_E_FORMAT, "bert: the pooler needs both cls.weight and cls.bias");

    if ((rc = model_tensor_try(m, &w->cls_w, E, -1, "cls.output.weight"))) return rc;
    if (w->cls_w) {
        w->n_labels = (int)w->cls_w->ne[1];
        if ((rc = opt_vec(m, &w->cls_b, w->n_labels, "cls.output.bias"))) return rc;
        if (!w->cls_b)
            return plm_fail(PLM_E_FORMAT, "bert: cls.output.weight without cls.output.bias");
        if (!w->pool_w)
            return plm_fail(PLM_E_FORMAT, "bert: a classifier (cls.output.*) needs the pooler "
                                          "(cls.weight, cls.bias)");
        int et = 0;
        int64_t n = gguf_arr_n(m->gguf, "bert.classifier.output_labels", &et);
        if (n >= 0 && (et != GGUF_TYPE_STRING || n != w->n_labels))
            return plm_fail(PLM_E_FORMAT,
                            "bert: bert.classifier.output_labels has %lld entries for a "
                            "classifier with %d outputs",
                            (long long)n, w->n_labels);
    } else if (gguf_find_tensor(m->gguf, "cls.output.bias")) {
        return plm_fail(PLM_E_FORMAT, "bert: cls.output.bias without cls.output.weight");
    }

    if ((rc = model_tensor_try(m, &w->mlm_w, E, E, "mlm.dense.weight")) ||
        (rc = opt_vec(m, &w->mlm_b, E, "mlm.dense.bias")) ||
        (rc = opt_vec(m, &w->mlm_ln_w, E, "mlm.norm.weight")) ||
        (rc = opt_vec(m, &w->mlm_ln_b, E, "mlm.norm.bias")) ||
        (rc = opt_vec(m, &w->mlm_out_b, V, "mlm.output.bias")) ||
        (rc = model_tensor_try(m, &w->mlm_out, E, V, "mlm.output.weight")))
        return rc;
    const int n_mlm = !!w->mlm_w + !!w->mlm_b + !!w->mlm_ln_w + !!w->mlm_ln_b + !!w->mlm_out_b;
    if (n_mlm != 0 && n_mlm != 5)
        return plm_fail(PLM_E_FORMAT, "bert: incomplete masked-LM head (needs mlm.dense.weight, "
                                      "mlm.dense.bias, mlm.norm.weight, mlm.norm.bias and "
                                      "mlm.output.bias)");
    if (w->mlm_out && !n_mlm)
        return plm_fail(PLM_E_FORMAT, "bert: mlm.output.weight without the rest of the masked-LM head");
    if (n_mlm && !w->mlm_out) w->mlm_out = w->tok_embd; /* decoder tied to the word embeddings */
    return PLM_OK;
}

static int bert_init(plm_model *m) {
    plm_hparams *hp = &m->hp;
    int rc;
    if ((rc = model_hp_u32(m, "block_count", 1, 0, &hp->n_layer)) ||
        (rc = model_hp_u32(m, "context_length", 1, 0, &hp->n_ctx_train)) ||
        (rc = model_hp_u32(m, "embedding_length", 1, 0, &hp->n_embd)) ||
        (rc = model_hp_u32(m, "feed_forward_length", 1, 0, &hp->n_ff)) ||
        (rc = model_hp_u32(m, "attention.head_count", 1, 0, &hp->n_head)) ||
        (rc = model_hp_f32(m, "attention.layer_norm_epsilon", 1, 0, &hp->norm_eps)) ||
        (rc = model_check_hparams(m)))
        return rc;
    const int E = hp->n_embd, F = hp->n_ff;
    if (hp->n_layer <= 0 || E <= 0 || hp->n_head <= 0 || F <= 0 || hp->n_ctx_train <= 0 ||
        E % hp->n_head != 0 || !(hp->norm_eps > 0))
        return plm_fail(PLM_E_FORMAT,
                        "bert: inconsistent hyper-parameters (%d blocks, embedding %d, %d heads, "
                        "ffn %d, context %d, eps %g)",
                        hp->n_layer, E, hp->n_head, F, hp->n_ctx_train, (double)hp->norm_eps);
    hp->n_head_kv = hp->n_head;
    hp->head_dim = E / hp->n_head;
    int causal = 0;
    if (gguf_get_bool(m->gguf, "bert.attention.causal", &causal) < 0) return plm_errcode();
    if (causal)
        return plm_fail(PLM_E_UNSUPPORTED, "bert: bert.attention.causal = true is not supported "
                                           "(BERT attention is bidirectional)");

    bert_weights *w = plm_calloc_for(1, sizeof *w, "bert weights");
    if (!w) return PLM_E_NOMEM;
    m->w = w;
    w->layers = plm_calloc_for((size_t)hp->n_layer, sizeof *w->layers, "bert layers");
    if (!w->layers) return PLM_E_NOMEM;
    if ((rc = model_hp_u32(m, "pooling_type", 0, 0, &w->pooling))) return rc;

    MODEL_BIND(w->tok_embd, E, -1, "token_embd.weight");
    hp->n_vocab = (int)w->tok_embd->ne[1];
    if ((rc = model_tensor_try(m, &w->type_embd, E, -1, "token_types.weight"))) return rc;
    w->n_types = w->type_embd ? (int)w->type_embd->ne[1] : 1;
    MODEL_BIND(w->pos_embd, E, -1, "position_embd.weight");
    w->n_pos = (int)PLM_MIN((int64_t)hp->n_ctx_train, w->pos_embd->ne[1]);
    MODEL_BIND_F32(w->embd_ln_w, E, 0, "token_embd_norm.weight");
    MODEL_BIND_F32(w->embd_ln_b, E, 0, "token_embd_norm.bias");

    for (int i = 0; i < hp->n_layer; i++) {
        bert_layer *L = &w->layers[i];
        if ((rc = model_tensor_try(m, &L->wqkv, E, 3 * E, "blk.%d.attn_qkv.weight", i))) return rc;
        if (i > 0 && !L->wqkv != !w->layers[0].wqkv)
            return plm_fail(PLM_E_FORMAT, "bert: block %d has %s attention weights, block 0 %s", i,
                            L->wqkv ? "fused (attn_qkv)" : "separate (attn_q/k/v)",
                            L->wqkv ? "separate ones" : "fused ones");
        if (L->wqkv) {
            MODEL_BIND_F32(L->bqkv, 3 * E, 0, "blk.%d.attn_qkv.bias", i);
        } else {
            MODEL_BIND(L->wq, E, E, "blk.%d.attn_q.weight", i);
            MODEL_BIND_F32(L->bq, E, 0, "blk.%d.attn_q.bias", i);
            MODEL_BIND(L->wk, E, E, "blk.%d.attn_k.weight", i);
            MODEL_BIND_F32(L->bk, E, 0, "blk.%d.attn_k.bias", i);
            MODEL_BIND(L->wv, E, E, "blk.%d.attn_v.weight", i);
            MODEL_BIND_F32(L->bv, E, 0, "blk.%d.attn_v.bias", i);
        }
        MODEL_BIND(L->wo, E, E, "blk.%d.attn_output.weight", i);
        MODEL_BIND_F32(L->bo, E, 0, "blk.%d.attn_output.bias", i);
        MODEL_BIND_F32(L->ln1_w, E, 0, "blk.%d.attn_output_norm.weight", i);
        MODEL_BIND_F32(L->ln1_b, E, 0, "blk.%d.attn_output_norm.bias", i);
        MODEL_BIND(L->up, E, F, "blk.%d.ffn_up.weight", i);
        MODEL_BIND_F32(L->up_b, F, 0, "blk.%d.ffn_up.bias", i);
        MODEL_BIND(L->down, F, E, "blk.%d.ffn_down.weight", i);
        MODEL_BIND_F32(L->down_b, E, 0, "blk.%d.ffn_down.bias", i);
        MODEL_BIND_F32(L->ln2_w, E, 0, "blk.%d.layer_output_norm.weight", i);
        MODEL_BIND_F32(L->ln2_b, E, 0, "blk.%d.layer_output_norm.bias", i);
    }
    return bind_heads(m, w);
}

/* ------------------------------------------------------------ validation */
static int check_model(plm_model *m, const char *fn) {
    if (!m) return plm_fail(PLM_E_INVALID, "%s: NULL model", fn);
    if (!m->arch) return plm_fail(PLM_E_STATE, "%s: the model was loaded vocab-only: it has no weights", fn);
    if (m->arch_id != PLM_ARCH_BERT)
        return plm_fail(PLM_E_INVALID, "%s: the model is '%s', not a BERT model", fn, m->arch_name);
    return PLM_OK;
}

/* seq_lens[0..n_seq) all in [1, n_ctx]; *total = their sum. */
static int check_lens(const plm_model *m, const int32_t *seq_lens, int n_seq, int64_t *total,
                      const char *fn) {
    if (n_seq <= 0 || !seq_lens)
        return plm_fail(PLM_E_INVALID, "%s: no sequences (n_seq = %d%s)", fn, n_seq,
                        seq_lens ? "" : ", seq_lens = NULL");
    const int n_ctx = W(m)->n_pos;
    int64_t t = 0;
    for (int s = 0; s < n_seq; s++) {
        if (seq_lens[s] <= 0)
            return plm_fail(PLM_E_INVALID, "%s: sequence %d has %d tokens (at least 1 needed)", fn,
                            s, (int)seq_lens[s]);
        if (seq_lens[s] > n_ctx)
            return plm_fail(PLM_E_TOO_LONG, "%s: sequence %d has %d tokens, more than the model's "
                                            "context of %d",
                            fn, s, (int)seq_lens[s], n_ctx);
        t += seq_lens[s];
    }
    if (t > INT32_MAX / 4) return plm_fail(PLM_E_INVALID, "%s: %lld tokens in one call", fn, (long long)t);
    int rc = model_check_rows(m, t, fn);
    if (rc) return rc;
    *total = t;
    return PLM_OK;
}

/* ---------------------------------------------------------------- encoder */
static int reserve(bert_weights *w, const plm_hparams *hp, int n, int fused) {
    const size_t E = (size_t)hp->n_embd, T = (size_t)n;
    int rc;
    if ((rc = plm_buf_reserve(&w->att, T * E, "bert activations")) ||
        (rc = plm_buf_reserve(&w->tmp, T * E, "bert activations")) ||
        (rc = plm_buf_reserve(&w->ff, T * (size_t)hp->n_ff, "bert activations")))
        return rc;
    if (fused) {
        if ((rc = plm_buf_reserve(&w->qkv, T * 3 * E, "bert activations"))) return rc;
    } else if ((rc = plm_buf_reserve(&w->q, T * E, "bert activations")) ||
               (rc = plm_buf_reserve(&w->k, T * E, "bert activations")) ||
               (rc = plm_buf_reserve(&w->v, T * E, "bert activations"))) {
        return rc;
    }
    if (n > w->pos_cap) {
        int32_t *p = plm_malloc_for(T * sizeof *p, "bert positions");
        int32_t *z = p ? plm_calloc_for(T, sizeof *z, "bert token types") : NULL;
        if (!z) {
            free(p);
            return PLM_E_NOMEM;
        }
        free(w->pos);
        free(w->zeros);
        w->pos = p;
        w->zeros = z;
        w->pos_cap = n;
    }
    return PLM_OK;
}

/* Run sequences [s0, s1) (n tokens in all, packed) through the encoder; x = their rows
 * of the output (n x n_embd), ids/types = their tokens. */
static int encode_group(plm_model *m, const int32_t *ids, const int32_t *types,
                        const int32_t *seq_lens, int s0, int s1, int n, float *x) {
    const plm_hparams *hp = &m->hp;
    bert_weights *w = m->w;
    const int E = hp->n_embd, F = hp->n_ff;
    const int fused = w->layers[0].wqkv != NULL;
    int rc;
    if ((rc = reserve(w, hp, n, fused))) return rc;
    float *att = w->att.p, *tmp = w->tmp.p, *ff = w->ff.p;

    /* embeddings: (word + token type) + absolute position, then LayerNorm */
    for (int s = s0, t = 0; s < s1; s++)
        for (int i = 0; i < seq_lens[s]; i++) w->pos[t++] = i;
    if ((rc = op_get_rows(x, w->tok_embd, ids, n))) return rc;
    if (w->type_embd) {
        if ((rc = op_get_rows(tmp, w->type_embd, types ? types : w->zeros, n))) return rc;
        op_add(x, x, tmp, n * E);
    }
    if ((rc = op_get_rows(tmp, w->pos_embd, w->pos, n))) return rc;
    op_add(x, x, tmp, n * E);
    op_layernorm(x, x, w->embd_ln_w, w->embd_ln_b, n, E, hp->norm_eps);

    const op_attn_params ap = {
        .n_head = hp->n_head,
        .n_head_kv = hp->n_head,
        .head_dim = hp->head_dim,
        .scale = 1.0f / sqrtf((float)hp->head_dim),
        .causal = 0,
    };

    for (int l = 0; l < hp->n_layer; l++) {
        const bert_layer *L = &w->layers[l];
        const float *q, *k, *v;
        int stride;
        if (fused) {
            if ((rc = op_matmul(w->qkv.p, L->wqkv, L->bqkv, x, n, E))) return rc;
            q = w->qkv.p, k = q + E, v = q + 2 * E, stride = 3 * E;
        } else {
            if ((rc = op_matmul(w->q.p, L->wq, L->bq, x, n, E)) ||
                (rc = op_matmul(w->k.p, L->wk, L->bk, x, n, E)) ||
                (rc = op_matmul(w->v.p, L->wv, L->bv, x, n, E)))
                return rc;
            q = w->q.p, k = w->k.p, v = w->v.p, stride = E;
        }
        /* self-attention within each sequence */
        for (int s = s0, off = 0; s < s1; off += seq_lens[s++]) {
            const size_t o = (size_t)off * stride;
            if ((rc = op_attention(att + (size_t)off * E, E, q + o, stride, k + o, v + o, stride,
                                   seq_lens[s], seq_lens[s], &ap)))
                return rc;
        }
        /* x = LN_1(x + W_o att) */
        if ((rc = op_matmul(tmp, L->wo, L->bo, att, n, E))) return rc;
        op_add(tmp, tmp, x, n * E);
        op_layernorm(x, tmp, L->ln1_w, L->ln1_b, n, E, hp->norm_eps);
        /* x = LN_2(x + W_down gelu(W_up x)) */
        if ((rc = op_matmul(ff, L->up, L->up_b, x, n, E))) return rc;
        op_gelu_erf(ff, ff, n * F);
        if ((rc = op_matmul(tmp, L->down, L->down_b, ff, n, F))) return rc;
        op_add(tmp, tmp, x, n * E);
        op_layernorm(x, tmp, L->ln2_w, L->ln2_b, n, E, hp->norm_eps);
    }
    return PLM_OK;
}

int plm_bert_encode(plm_model *m, const int32_t *ids, const int32_t *type_ids,
                    const int32_t *seq_lens, int n_seq, float *hidden) {
    int rc;
    int64_t total = 0;
    if ((rc = check_model(m, "plm_bert_encode")) ||
        (rc = check_lens(m, seq_lens, n_seq, &total, "plm_bert_encode")))
        return rc;
    if (!ids || !hidden)
        return plm_fail(PLM_E_INVALID, "plm_bert_encode: NULL %s", ids ? "output" : "ids");
    const bert_weights *w = m->w;
    const int n_vocab = m->hp.n_vocab;
    for (int64_t i = 0; i < total; i++) {
        if (ids[i] < 0 || ids[i] >= n_vocab)
            return plm_fail(PLM_E_INVALID, "token id %d at index %lld is out of range [0, %d)",
                            (int)ids[i], (long long)i, n_vocab);
        if (type_ids && (type_ids[i] < 0 || type_ids[i] >= w->n_types))
            return plm_fail(PLM_E_INVALID, "token type %d at index %lld is out of range [0, %d)%s",
                            (int)type_ids[i], (long long)i, w->n_types,
                            w->type_embd ? "" : " (the model has no token_types.weight)");
    }

    /* groups of whole sequences, at most BERT_GROUP_TOKENS tokens unless one is longer */
    for (int s0 = 0, off = 0; s0 < n_seq;) {
        int s1 = s0, n = 0;
        while (s1 < n_seq && (n == 0 || n + seq_lens[s1] <= BERT_GROUP_TOKENS)) n += seq_lens[s1++];
        rc = encode_group(m, ids + off, type_ids ? type_ids + off : NULL, seq_lens, s0, s1, n,
                          hidden + (size_t)off * m->hp.n_embd);
        if (rc) return rc;
        s0 = s1;
        off += n;
    }
    return PLM_OK;
}

/* ---------------------------------------------------------------- pooling */
static void l2_normalize(float *v, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)v[i] * v[i];
    const double norm = sqrt(ss);
    const double inv = 1.0 / (norm > 1e-12 ? norm : 1e-12); /* torch.nn.functional.normalize */
    for (int i = 0; i < n; i++) v[i] = (float)(v[i] * inv);
}

int plm_bert_pool(plm_model *m, const float *hidden, const int32_t *seq_lens, int n_seq, int mode,
                  int normalize, float *out) {
    int rc;
    int64_t total = 0;
    if ((rc = check_model(m, "plm_bert_pool")) ||
        (rc = check_lens(m, seq_lens, n_seq, &total, "plm_bert_pool")))
        return rc;
    if (!hidden || !out) return plm_fail(PLM_E_INVALID, "plm_bert_pool: NULL buffer");
    if (mode != PLM_POOL_MEAN && mode != PLM_POOL_CLS && mode != PLM_POOL_LAST)
        return plm_fail(PLM_E_INVALID, "plm_bert_pool: unknown pooling mode %d (1 mean, 2 cls, 3 last)",
                        mode);
    const int E = m->hp.n_embd;
    for (int s = 0, off = 0; s < n_seq; off += seq_lens[s++]) {
        const int len = seq_lens[s];
        const float *h = hidden + (size_t)off * E;
        float *o = out + (size_t)s * E;
        if (mode == PLM_POOL_MEAN) {
            /* sentence-transformers: sum of the unmasked token vectors / their count */
            for (int i = 0; i < E; i++) {
                double acc = 0;
                for (int t = 0; t < len; t++) acc += h[(size_t)t * E + i];
                o[i] = (float)(acc / len);
            }
        } else {
            memcpy(o, h + (size_t)(mode == PLM_POOL_CLS ? 0 : len - 1) * E, (size_t)E * sizeof *o);
        }
        if (normalize) l2_normalize(o, E);
    }
    return PLM_OK;
}

/* Gather the first row of every sequence: rows[s] = hidden[first token of s]. */
static int first_rows(plm_model *m, const float *hidden, const int32_t *seq_lens, int n_seq,
                      float **rows) {
    bert_weights *w = m->w;
    const int E = m->hp.n_embd;
    int rc = plm_buf_reserve(&w->rows, (size_t)n_seq * E, "bert pooler input");
    if (rc) return rc;
    for (int s = 0, off = 0; s < n_seq; off += seq_lens[s++])
        memcpy(w->rows.p + (size_t)s * E, hidden + (size_t)off * E, (size_t)E * sizeof(float));
    *rows = w->rows.p;
    return PLM_OK;
}

/* pooled[s] = tanh(W_cls · hidden[first token of s] + b) */
static int pooler(plm_model *m, const float *hidden, const int32_t *seq_lens, int n_seq,
                  float *pooled) {
    const bert_weights *w = m->w;
    const int E = m->hp.n_embd;
    float *rows;
    int rc;
    if ((rc = first_rows(m, hidden, seq_lens, n_seq, &rows)) ||
        (rc = op_matmul(pooled, w->pool_w, w->pool_b, rows, n_seq, E)))
        return rc;
    for (size_t i = 0; i < (size_t)n_seq * E; i++) pooled[i] = tanhf(pooled[i]);
    return PLM_OK;
}

static int check_head(plm_model *m, const void *head, const char *what, const char *tensors,
                      const char *fn) {
    if (head) return PLM_OK;
    return plm_fail(PLM_E_MISSING,
                    "%s: the model file has no %s (%s); llama.cpp's converter leaves it out — "
                    "convert the Hugging Face checkpoint with `plm-wasm convert` (without "
                    "--no-heads) to keep it",
                    fn, what, tensors);
}

int plm_bert_pooler(plm_model *m, const float *hidden, const int32_t *seq_lens, int n_seq,
                    float *out) {
    int rc;
    int64_t total = 0;
    if ((rc = check_model(m, "plm_bert_pooler")) ||
        (rc = check_head(m, W(m)->pool_w, "pooler", "cls.weight, cls.bias", "plm_bert_pooler")) ||
        (rc = check_lens(m, seq_lens, n_seq, &total, "plm_bert_pooler")))
        return rc;
    if (!hidden || !out) return plm_fail(PLM_E_INVALID, "plm_bert_pooler: NULL buffer");
    return pooler(m, hidden, seq_lens, n_seq, out);
}

int plm_bert_classify(plm_model *m, const float *hidden, const int32_t *seq_lens, int n_seq,
                      float *logits) {
    int rc;
    int64_t total = 0;
    bert_weights *w;
    if ((rc = check_model(m, "plm_bert_classify"))) return rc;
    w = m->w;
    if ((rc = check_head(m, w->cls_w, "sequence-classification head",
                         "cls.output.weight, cls.output.bias", "plm_bert_classify")) ||
        (rc = check_lens(m, seq_lens, n_seq, &total, "plm_bert_classify")))
        return rc;
    if (!hidden || !logits) return plm_fail(PLM_E_INVALID, "plm_bert_classify: NULL buffer");
    const int E = m->hp.n_embd;
    /* pooled rows go to tmp (E floats per sequence), then the projection */
    if ((rc = plm_buf_reserve(&w->tmp, (size_t)n_seq * E, "bert pooled output")) ||
        (rc = pooler(m, hidden, seq_lens, n_seq, w->tmp.p)) ||
        (rc = op_matmul(logits, w->cls_w, w->cls_b, w->tmp.p, n_seq, E)))
        return rc;
    return w->n_labels;
}

int plm_bert_mlm(plm_model *m, const float *rows, int n, float *logits) {
    int rc;
    bert_weights *w;
    if ((rc = check_model(m, "plm_bert_mlm"))) return rc;
    w = m->w;
    if ((rc = check_head(m, w->mlm_w, "masked-LM head", "mlm.*", "plm_bert_mlm"))) return rc;
    if (n <= 0 || !rows || !logits)
        return plm_fail(PLM_E_INVALID, "plm_bert_mlm: %s", n <= 0 ? "no rows" : "NULL buffer");
    const int E = m->hp.n_embd;
    if ((size_t)n > (size_t)INT32_MAX / (size_t)m->hp.n_vocab)
        return plm_fail(PLM_E_INVALID, "plm_bert_mlm: %d rows of %d logits is too many", n,
                        m->hp.n_vocab);
    /* transform: LayerNorm(gelu(W_d h + b_d)), then the decoder */
    if ((rc = plm_buf_reserve(&w->rows, (size_t)n * E, "bert MLM transform")) ||
        (rc = op_matmul(w->rows.p, w->mlm_w, w->mlm_b, rows, n, E)))
        return rc;
    op_gelu_erf(w->rows.p, w->rows.p, n * E);
    op_layernorm(w->rows.p, w->rows.p, w->mlm_ln_w, w->mlm_ln_b, n, E, m->hp.norm_eps);
    return op_matmul(logits, w->mlm_out, w->mlm_out_b, w->rows.p, n, E);
}

/* ------------------------------------------------------------------ info */
static int json_str(char *out, size_t cap, const char *s) {
    size_t o = 0;
    if (o < cap) out[o] = '"';
    o++;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        int k;
        if (*p == '"' || *p == '\\')
            k = snprintf(e, sizeof e, "\\%c", *p);
        else if (*p < 0x20)
            k = snprintf(e, sizeof e, "\\u%04x", *p);
        else
            e[0] = (char)*p, k = 1;
        for (int i = 0; i < k; i++, o++)
            if (o < cap) out[o] = e[i];
    }
    if (o < cap) out[o] = '"';
    o++;
    return (int)o;
}

/* {"pooling": n, "heads": {...}, "labels": [...] | null, "typeVocabSize": n, "contextLength": n} */
static char *build_info(plm_model *m) {
    const bert_weights *w = m->w;
    for (size_t cap = 512;;) {
        char *s = plm_malloc_for(cap, "bert info JSON");
        if (!s) return NULL;
        size_t o = 0;
#define PUT(...)                                                                   \
    do {                                                                           \
        int k_ = snprintf(s + PLM_MIN(o, cap), o < cap ? cap - o : 0, __VA_ARGS__); \
        o += k_ > 0 ? (size_t)k_ : 0;                                              \
    } while (0)
        PUT("{\"pooling\":%d,\"heads\":{\"pooler\":%s,\"mlm\":%s,\"classifier\":%s},"
            "\"typeVocabSize\":%d,\"contextLength\":%d,\"nLabels\":%d,\"labels\":",
            w->pooling, w->pool_w ? "true" : "false", w->mlm_w ? "true" : "false",
            w->cls_w ? "true" : "false", w->type_embd ? w->n_types : 0, w->n_pos, w->n_labels);
        if (!w->cls_w || gguf_arr_n(m->gguf, "bert.classifier.output_labels", NULL) < 0) {
            PUT("null");
        } else {
            for (int i = 0; i < w->n_labels; i++) {
                const char *label = gguf_arr_str(m->gguf, "bert.classifier.output_labels", i, NULL);
                PUT("%s", i ? "," : "[");
                o += (size_t)json_str(s + PLM_MIN(o, cap), o < cap ? cap - o : 0, label ? label : "");
            }
            PUT("]");
        }
        PUT("}");
#undef PUT
        if (o < cap) return s;
        free(s);
        cap = o + 1;
    }
}

const char *plm_bert_info(plm_model *m) {
    if (check_model(m, "plm_bert_info")) return NULL;
    bert_weights *w = m->w;
    if (!w->info_json) w->info_json = build_info(m);
    return w->info_json;
}

const plm_arch plm_arch_bert = {
    .name = "bert",
    .id = PLM_ARCH_BERT,
    .init = bert_init,
    .free = bert_free,
};
