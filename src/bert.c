/* bert.c — BERT (Devlin et al. 2019), as llama.cpp's LLM_ARCH_BERT reads it, plus
 * the task heads of docs/gguf-extensions.md, and nomic-bert (Nussbaum et al. 2024,
 * LLM_ARCH_NOMIC_BERT).
 *
 *   x = LN_e(E_tok[id] + E_type[type] + E_pos[pos])
 *   per block (post-LN):  x = LN_1(x + W_o · Attn(W_q x, W_k x, W_v x))     bidirectional
 *                         x = LN_2(x + W_down · gelu_erf(W_up x))
 *   last hidden state = x
 *
 * XLM-RoBERTa files (multilingual-e5, bge-m3, paraphrase-multilingual) are "bert" with a
 * Unigram ("t5") vocabulary: llama.cpp's converter stores the position rows from
 * padding_idx + 1 on, so position i of a sequence reads row i, as for BERT; pairs are
 * <s> A </s></s> B </s> (tokenizer.c). nomic-bert (nomic-embed-text) differs in three places:
 * no E_pos but RoPE (NEOX, rope.freq_base) on q and k of every block, fused W_qkv without
 * biases, and W_down · (silu(W_gate x) * W_up x) without biases; its task prefixes
 * ("search_query: ", "search_document: ", "clustering: ", "classification: ") are part of
 * the text the caller embeds.
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

#include "blocks.h"

/* Sequences are run in groups of at most this many tokens (a longer sequence runs
 * alone): bounds the scratch memory while the matmuls still see many rows. */
#define BERT_GROUP_TOKENS 512

typedef struct {
    const plm_tensor *tok_embd, *type_embd, *pos_embd;
    const float *embd_ln_w, *embd_ln_b;
    blk_layer_w *layers;
    blk_rope rope;   /* nomic-bert: rotary positions instead of position_embd */
    int n_types; /* rows of token_types (1 when the file has none: every type id must be 0) */
    int n_pos;   /* usable positions: min(context_length, rows of position_embd) */
    int pooling; /* bert.pooling_type (0 when absent) */

    /* heads (NULL when absent) */
    const plm_tensor *pool_w, *cls_w, *mlm_w, *mlm_out;
    const float *pool_b, *cls_b, *mlm_b, *mlm_ln_w, *mlm_ln_b, *mlm_out_b;
    int n_labels;

    /* scratch, grown on demand (a model runs one call at a time) */
    blk_scratch scratch;
    plm_buf tmp, rows;
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
    blk_scratch_free(&w->scratch);
    plm_buf_free(&w->tmp);
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
    const int nomic = m->arch_id == PLM_ARCH_NOMIC_BERT;
    int rc;
    if ((rc = blk_read_hparams(m, nomic ? BLK_HP_ROPE : 0))) return rc;
    const int E = hp->n_embd;
    if (hp->n_head_kv != hp->n_head || hp->head_dim * hp->n_head != E || !(hp->norm_eps > 0))
        return plm_fail(PLM_E_FORMAT, "%s: inconsistent hyper-parameters (embedding %d, %d heads, %d kv heads, eps %g)",
                        m->arch_name, E, hp->n_head, hp->n_head_kv, (double)hp->norm_eps);
    int causal = 0;
    char key[64];
    snprintf(key, sizeof key, "%s.attention.causal", m->arch_name);
    if (gguf_get_bool(m->gguf, key, &causal) < 0) return plm_errcode();
    if (causal)
        return plm_fail(PLM_E_UNSUPPORTED, "%s: %s = true is not supported (BERT attention is bidirectional)",
                        m->arch_name, key);

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
    if (nomic) { /* rotary positions (NEOX pairs), no table: the context is the trained one */
        if ((rc = blk_read_rope(m, &w->rope, PLM_ROPE_NEOX))) return rc;
        w->n_pos = hp->n_ctx_train;
    } else {
        MODEL_BIND(w->pos_embd, E, -1, "position_embd.weight");
        w->n_pos = (int)PLM_MIN((int64_t)hp->n_ctx_train, w->pos_embd->ne[1]);
    }
    MODEL_BIND_F32(w->embd_ln_w, E, 0, "token_embd_norm.weight");
    MODEL_BIND_F32(w->embd_ln_b, E, 0, "token_embd_norm.bias");

    /* BERT: q/k/v (or llama.cpp's fused attn_qkv) and FFN with biases, GELU;
     * nomic-bert: fused qkv, SwiGLU (ffn_up = fc11, ffn_gate = fc12), no biases */
    const unsigned fused = gguf_find_tensor(m->gguf, "blk.0.attn_qkv.weight") ? BLK_L_FUSED_QKV : 0;
    const unsigned flags = BLK_L_POST_LN | BLK_L_NORM_BIAS |
                           (nomic ? BLK_L_FUSED_QKV | BLK_L_FFN_GATED
                                  : fused | BLK_L_QKV_BIAS | BLK_L_OUT_BIAS | BLK_L_FFN_BIAS);
    for (int i = 0; i < hp->n_layer; i++)
        if ((rc = blk_bind_layer(m, &w->layers[i], i, flags))) return rc;
    return bind_heads(m, w);
}

/* ------------------------------------------------------------ validation */
static int check_model(plm_model *m, const char *fn) {
    if (!m) return plm_fail(PLM_E_INVALID, "%s: NULL model", fn);
    if (!m->arch) return plm_fail(PLM_E_STATE, "%s: the model was loaded vocab-only: it has no weights", fn);
    if (m->arch_id != PLM_ARCH_BERT && m->arch_id != PLM_ARCH_NOMIC_BERT)
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
    *total = t;
    return PLM_OK;
}

/* ---------------------------------------------------------------- encoder */
static int reserve(bert_weights *w, const plm_hparams *hp, int n) {
    int rc;
    if ((rc = plm_buf_reserve(&w->tmp, (size_t)n * hp->n_embd, "bert activations"))) return rc;
    if (n > w->pos_cap) {
        int32_t *p = plm_malloc_for((size_t)n * sizeof *p, "bert positions");
        int32_t *z = p ? plm_calloc_for((size_t)n, sizeof *z, "bert token types") : NULL;
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
    const int E = hp->n_embd;
    int rc;
    if ((rc = reserve(w, hp, n))) return rc;
    float *tmp = w->tmp.p;

    /* embeddings: (word + token type) + absolute position, then LayerNorm */
    for (int s = s0, t = 0; s < s1; s++)
        for (int i = 0; i < seq_lens[s]; i++) w->pos[t++] = i;
    if ((rc = op_get_rows(x, w->tok_embd, ids, n))) return rc;
    if (w->type_embd) {
        if ((rc = op_get_rows(tmp, w->type_embd, types ? types : w->zeros, n))) return rc;
        op_add(x, x, tmp, n * E);
    }
    if (w->pos_embd) {
        if ((rc = op_get_rows(tmp, w->pos_embd, w->pos, n))) return rc;
        op_add(x, x, tmp, n * E);
    }
    op_layernorm(x, x, w->embd_ln_w, w->embd_ln_b, n, E, hp->norm_eps);

    const op_rope_params rp = blk_rope_for_ctx(&w->rope, w->n_pos);
    const blk_attn_cfg cfg = {.n_head = hp->n_head, .n_head_kv = hp->n_head, .head_dim = hp->head_dim,
                              .n_rot = hp->n_rot, .scale = 1.0f / sqrtf((float)hp->head_dim),
                              .rope = w->pos_embd ? NULL : &rp};
    const int ffn = m->arch_id == PLM_ARCH_NOMIC_BERT ? BLK_FFN_SWIGLU : BLK_FFN_GELU;
    for (int l = 0; l < hp->n_layer; l++)
        if ((rc = blk_encoder_layer(m, &w->layers[l], &cfg, ffn, x, n, seq_lens + s0, s1 - s0, w->pos, &w->scratch)))
            return rc;
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
            op_mean_rows(o, h, len, E);
        } else {
            memcpy(o, h + (size_t)(mode == PLM_POOL_CLS ? 0 : len - 1) * E, (size_t)E * sizeof *o);
        }
        if (normalize) op_l2_normalize(o, E);
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
    op_tanh(pooled, pooled, n_seq * E);
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

const plm_arch plm_arch_bert = {.name = "bert", .id = PLM_ARCH_BERT, .init = bert_init, .free = bert_free};
const plm_arch plm_arch_nomic_bert = {.name = "nomic-bert", .id = PLM_ARCH_NOMIC_BERT, .init = bert_init,
                                      .free = bert_free};
