/* t5.c — T5 (Raffel et al. 2020) and T5 v1.1 / FLAN-T5, as llama.cpp's LLM_ARCH_T5
 * reads them, computing what Hugging Face's T5ForConditionalGeneration computes.
 *
 *   encoder:  x = E[id]
 *             per block:  x += W_o · Attn(h, h) (+ bidirectional position bias),  h = RMS_1(x)
 *                         x += FFN(RMS_2(x))
 *             enc = RMS_enc(x)
 *   decoder:  y = E[id]
 *             per block:  y += W_o · Attn(h, h) (+ causal position bias),  h = RMS_1(y)
 *                         y += W_co · Attn(RMS_2(y), enc)     (cross-attention, no position bias)
 *                         y += FFN(RMS_3(y))
 *             logits = s · RMS_dec(y) · W_out^T    (tied: W_out = E, s = d_model^-0.5; else s = 1)
 *   FFN:  v1.0  W_down · relu(W_up h)
 *         v1.1  W_down · (gelu_tanh(W_gate h) * W_up h)        ("gated-gelu", gelu_new)
 *
 * T5 specifics: RMS norms without mean or bias ("T5LayerNorm"); attention scores are
 * NOT scaled by 1/sqrt(d_kv); the position bias is a learned table [bucket][head] in
 * the first block of each stack (used by every block of that stack; llama.cpp also
 * accepts a table in later blocks, and so do we). Buckets follow HF's
 * T5Attention._relative_position_bucket in float32 (see t5_position_bucket()).
 *
 * Which variant a file is: ffn_gate tensors present = gated-gelu (v1.1 / FLAN),
 * absent = relu (v1.0). Tied embeddings: no output.weight, or an output.weight
 * whose bytes equal token_embd.weight (converters copy a checkpoint's tied
 * lm_head). llama.cpp skips the d_model^-0.5 rescale of tied models (its logits
 * are sqrt(d_model) x HF's); we follow HF, which matters for sampling and beam scores.
 *
 * GGUF (llama.cpp): token_embd, enc.blk.N.{attn_norm,attn_q,attn_k,attn_v,attn_o,
 * ffn_norm,ffn_gate,ffn_up,ffn_down}, enc.blk.0.attn_rel_b, enc.output_norm,
 * dec.blk.N.{attn_*,cross_attn_norm,cross_attn_{q,k,v,o},ffn_*}, dec.blk.0.attn_rel_b,
 * dec.output_norm, output; t5.{block_count, decoder_block_count, embedding_length,
 * feed_forward_length, context_length, attention.head_count, attention.key_length,
 * attention.value_length, attention.layer_norm_rms_epsilon,
 * attention.relative_buckets_count, decoder_start_token_id}. GGUF has no key for
 * relative_attention_max_distance: 128 (as llama.cpp and every T5 checkpoint).
 *
 * Generation state (struct plm_t5): the encoder output projected to every decoder
 * layer's cross-attention K/V (computed once per input), and n_seq decoder
 * sequences (beams), each with its own self-attention KV cache. Every decode step
 * runs all sequences' tokens through each weight matrix in one matmul (m = n_seq).
 * Beam search (plm_t5_beam_*) follows transformers' BeamSearchScorer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beam.h"
#include "model.h"

#define T5_MAX_DISTANCE 128

typedef struct {
    const float *attn_norm;
    const plm_tensor *wq, *wk, *wv, *wo;
    const float *rel;                    /* [n_buckets][n_head] position bias of this block */
    const float *cross_norm;             /* decoder only */
    const plm_tensor *cq, *ck, *cv, *co; /* decoder only */
    const float *ffn_norm;
    const plm_tensor *gate, *up, *down; /* gate NULL: relu FFN */
} t5_layer;

typedef struct {
    const plm_tensor *tok_embd, *output;
    const float *enc_norm, *dec_norm;
    float out_scale; /* d_model^-0.5 when tied, else 1 */
    int tied, gated;
    int n_buckets, dec_start;
    float *rel_tables; /* owned: the bias tables as float32 */
    t5_layer *enc, *dec;
    char *info_json;
} t5_weights;

/* ------------------------------------------------------------------ load */
static void t5_free(plm_model *m) {
    t5_weights *w = m->w;
    if (!w) return;
    free(w->rel_tables);
    free(w->enc);
    free(w->dec);
    free(w->info_json);
    free(w);
    m->w = NULL;
}

/* Bind the attention/FFN tensors of block i of stack `pre` ("enc" / "dec"). */
static int bind_block(plm_model *m, t5_layer *L, const char *pre, int i, int gated) {
    const plm_hparams *hp = &m->hp;
    const int E = hp->n_embd, Q = hp->n_head * hp->head_dim, F = hp->n_ff;
    int rc;
    MODEL_BIND_F32(L->attn_norm, E, 0, "%s.blk.%d.attn_norm.weight", pre, i);
    MODEL_BIND(L->wq, E, Q, "%s.blk.%d.attn_q.weight", pre, i);
    MODEL_BIND(L->wk, E, Q, "%s.blk.%d.attn_k.weight", pre, i);
    MODEL_BIND(L->wv, E, Q, "%s.blk.%d.attn_v.weight", pre, i);
    MODEL_BIND(L->wo, Q, E, "%s.blk.%d.attn_o.weight", pre, i);
    MODEL_BIND_F32(L->ffn_norm, E, 0, "%s.blk.%d.ffn_norm.weight", pre, i);
    if ((rc = model_tensor_try(m, &L->gate, E, F, "%s.blk.%d.ffn_gate.weight", pre, i))) return rc;
    if (!L->gate != !gated)
        return plm_fail(PLM_E_FORMAT, "t5: %s.blk.%d %s ffn_gate, unlike %s.blk.0 (mixed FFN kinds)",
                        pre, i, L->gate ? "has" : "lacks", "enc");
    MODEL_BIND(L->up, E, F, "%s.blk.%d.ffn_up.weight", pre, i);
    MODEL_BIND(L->down, F, E, "%s.blk.%d.ffn_down.weight", pre, i);
    return PLM_OK;
}

/* The position-bias table of block i as float32 [n_buckets][n_head] into dst;
 * *found = 0 when the block has none (only block 0 must). */
static int bind_rel(plm_model *m, float *dst, const char *pre, int i, int *found) {
    const plm_tensor *t;
    t5_weights *w = m->w;
    int rc = model_tensor_try(m, &t, m->hp.n_head, w->n_buckets, "%s.blk.%d.attn_rel_b.weight", pre, i);
    *found = t != NULL;
    if (rc) return rc;
    if (!t) {
        if (i == 0)
            return plm_fail(PLM_E_MISSING, "tensor '%s.blk.0.attn_rel_b.weight' is missing from the "
                                           "model file", pre);
        return PLM_OK;
    }
    int32_t rows[256];
    for (int b = 0; b < w->n_buckets; b++) rows[b] = b;
    return op_get_rows(dst, t, rows, w->n_buckets);
}

static int tensors_equal(const plm_tensor *a, const plm_tensor *b) {
    return a->type == b->type && a->layout == b->layout && a->ne[0] == b->ne[0] && a->ne[1] == b->ne[1] &&
           a->nbytes == b->nbytes && a->data && b->data && memcmp(a->data, b->data, a->nbytes) == 0;
}

static char *build_t5_info(const plm_model *m) {
    const t5_weights *w = m->w;
    const plm_hparams *hp = &m->hp;
    char buf[512];
    int n = snprintf(buf, sizeof buf,
                     "{\"ffn\":\"%s\",\"tiedEmbeddings\":%s,\"decoderStartTokenId\":%d,"
                     "\"encoderBlocks\":%d,\"decoderBlocks\":%d,\"relativeBuckets\":%d,"
                     "\"maxDistance\":%d,\"contextLength\":%d,\"headCount\":%d,\"keyLength\":%d}",
                     w->gated ? "gated-gelu" : "relu", w->tied ? "true" : "false", w->dec_start,
                     hp->n_layer, hp->n_layer_dec, w->n_buckets, T5_MAX_DISTANCE, hp->n_ctx_train,
                     hp->n_head, hp->head_dim);
    if (n < 0 || (size_t)n >= sizeof buf) {
        plm_fail(PLM_E_INVALID, "t5: info does not fit");
        return NULL;
    }
    return plm_strdup_for(buf, "t5 info");
}

static int t5_init(plm_model *m) {
    plm_hparams *hp = &m->hp;
    int rc, head_dim_v = 0, n_buckets = 0, dec_start = 0;
    float eps_ln = 0;
    if ((rc = model_hp_u32(m, "block_count", 1, 0, &hp->n_layer)) ||
        (rc = model_hp_u32(m, "embedding_length", 1, 0, &hp->n_embd)) ||
        (rc = model_hp_u32(m, "feed_forward_length", 1, 0, &hp->n_ff)) ||
        (rc = model_hp_u32(m, "attention.head_count", 1, 0, &hp->n_head)))
        return rc;
    if (hp->n_embd <= 0 || hp->n_head <= 0)
        return plm_fail(PLM_E_FORMAT, "t5: embedding %d / %d heads is not a valid shape", hp->n_embd,
                        hp->n_head);
    if ((rc = model_hp_u32(m, "decoder_block_count", 0, hp->n_layer, &hp->n_layer_dec)) ||
        (rc = model_hp_u32(m, "context_length", 0, 512, &hp->n_ctx_train)) ||
        (rc = model_hp_u32(m, "attention.key_length", 0, hp->n_embd / hp->n_head, &hp->head_dim)) ||
        (rc = model_hp_u32(m, "attention.value_length", 0, hp->head_dim, &head_dim_v)) ||
        (rc = model_hp_u32(m, "attention.relative_buckets_count", 0, 32, &n_buckets)) ||
        (rc = model_hp_f32(m, "attention.layer_norm_epsilon", 0, 1e-6f, &eps_ln)) ||
        (rc = model_hp_f32(m, "attention.layer_norm_rms_epsilon", 0, eps_ln, &hp->norm_eps)))
        return rc;
    const int32_t pad = m->vocab ? vocab_pad(m->vocab) : -1;
    if ((rc = model_hp_u32(m, "decoder_start_token_id", 0, pad >= 0 ? pad : 0, &dec_start))) return rc;
    hp->n_head_kv = hp->n_head;
    if ((rc = model_check_hparams(m))) return rc;
    if (hp->n_layer <= 0 || hp->n_layer_dec <= 0 || hp->n_ff <= 0 || hp->head_dim <= 0 ||
        hp->n_ctx_train <= 0 || n_buckets < 2 || n_buckets > 256 || !(hp->norm_eps >= 0))
        return plm_fail(PLM_E_FORMAT,
                        "t5: inconsistent hyper-parameters (%d + %d blocks, %d heads of %d, ffn %d, "
                        "%d buckets, context %d, eps %g)",
                        hp->n_layer, hp->n_layer_dec, hp->n_head, hp->head_dim, hp->n_ff, n_buckets,
                        hp->n_ctx_train, hp->norm_eps);
    if (head_dim_v != hp->head_dim)
        return plm_fail(PLM_E_UNSUPPORTED, "t5: key length %d != value length %d", hp->head_dim,
                        head_dim_v);
    const int E = hp->n_embd, Q = hp->n_head * hp->head_dim;

    t5_weights *w = plm_calloc_for(1, sizeof *w, "t5 weights");
    if (!w) return PLM_E_NOMEM;
    m->w = w;
    w->n_buckets = n_buckets;
    w->enc = plm_calloc_for((size_t)hp->n_layer, sizeof *w->enc, "t5 encoder blocks");
    w->dec = plm_calloc_for((size_t)hp->n_layer_dec, sizeof *w->dec, "t5 decoder blocks");
    const size_t table = (size_t)n_buckets * hp->n_head;
    size_t rel_bytes = 0;
    if (!plm_size_mul3((size_t)(hp->n_layer + hp->n_layer_dec), table, sizeof(float), &rel_bytes))
        return plm_fail(PLM_E_FORMAT, "t5: %d x %d position-bias tables are too large", hp->n_layer + hp->n_layer_dec,
                        (int)table);
    w->rel_tables = plm_malloc_for(rel_bytes, "t5 position bias");
    if (!w->enc || !w->dec || !w->rel_tables) return PLM_E_NOMEM;

    MODEL_BIND(w->tok_embd, E, -1, "token_embd.weight");
    hp->n_vocab = (int)w->tok_embd->ne[1];
    if (dec_start < 0 || dec_start >= hp->n_vocab)
        return plm_fail(PLM_E_FORMAT, "t5: decoder_start_token_id %d is outside the vocabulary of %d",
                        dec_start, hp->n_vocab);
    w->dec_start = dec_start;
    MODEL_BIND_F32(w->enc_norm, E, 0, "enc.output_norm.weight");
    MODEL_BIND_F32(w->dec_norm, E, 0, "dec.output_norm.weight");
    if ((rc = model_tensor_try(m, &w->output, E, hp->n_vocab, "output.weight"))) return rc;
    w->tied = !w->output || tensors_equal(w->output, w->tok_embd);
    if (!w->output) w->output = w->tok_embd;
    w->out_scale = w->tied ? 1.0f / sqrtf((float)E) : 1.0f;
    w->gated = gguf_find_tensor(m->gguf, "enc.blk.0.ffn_gate.weight") != NULL;

    for (int s = 0; s < 2; s++) {
        const char *pre = s ? "dec" : "enc";
        const int n = s ? hp->n_layer_dec : hp->n_layer;
        t5_layer *layers = s ? w->dec : w->enc;
        float *tables = w->rel_tables + (s ? (size_t)hp->n_layer * table : 0);
        for (int i = 0; i < n; i++) {
            t5_layer *L = &layers[i];
            int found;
            if ((rc = bind_block(m, L, pre, i, w->gated))) return rc;
            if ((rc = bind_rel(m, tables + i * table, pre, i, &found))) return rc;
            L->rel = found ? tables + i * table : layers[0].rel;
            if (!s) continue;
            MODEL_BIND_F32(L->cross_norm, E, 0, "dec.blk.%d.cross_attn_norm.weight", i);
            MODEL_BIND(L->cq, E, Q, "dec.blk.%d.cross_attn_q.weight", i);
            MODEL_BIND(L->ck, E, Q, "dec.blk.%d.cross_attn_k.weight", i);
            MODEL_BIND(L->cv, E, Q, "dec.blk.%d.cross_attn_v.weight", i);
            MODEL_BIND(L->co, Q, E, "dec.blk.%d.cross_attn_o.weight", i);
        }
    }
    w->info_json = build_t5_info(m);
    return w->info_json ? PLM_OK : plm_errcode();
}

const plm_arch plm_arch_t5 = {
    .name = "t5",
    .id = PLM_ARCH_T5,
    .init = t5_init,
    .free = t5_free,
    /* not a causal LM: plm_ctx_* refuse it; generation goes through plm_t5_* */
};

/* ---------------------------------------------------- relative positions
 * HF's _relative_position_bucket for d = key position - query position, in float32
 * as torch evaluates it (log of a float32 tensor, divided by the float32 of
 * log(max_distance / max_exact), times the bucket span, truncated). */
int t5_position_bucket(int d, int bidirectional, int n_buckets) {
    int bucket = 0;
    if (bidirectional) {
        n_buckets /= 2;
        if (d > 0) bucket = n_buckets;
        d = d < 0 ? -d : d;
    } else {
        d = d < 0 ? -d : 0;
    }
    const int max_exact = n_buckets / 2;
    if (d < max_exact) return bucket + d;
    const float ratio = logf((float)d / (float)max_exact) /
                        (float)log((double)T5_MAX_DISTANCE / max_exact) * (float)(n_buckets - max_exact);
    const int large = max_exact + (int)ratio;
    return bucket + PLM_MIN(large, n_buckets - 1);
}

/* ------------------------------------------------------------- context */

struct plm_t5 {
    plm_model *model;
    int n_ctx;                  /* longest input and longest decoder sequence */
    int n_enc;                  /* encoded tokens (0: nothing encoded yet) */
    int has_mask;               /* the input has padding (mask holds -inf there) */
    int n_seq, seq_cap;         /* decoder sequences in use / allocated */
    int n_past;                 /* decoder positions cached, the same for every sequence */
    plm_kv_cache cross;         /* per decoder block: K/V of the encoder output */
    plm_kv_cache *self, *spare; /* per sequence: self-attention K/V (spare: for reordering) */
    plm_buf mask, x, xb, q, k, v, att, tmp, gate, up, rel;
    plm_beam *beam;
};


static int ensure_seqs(plm_t5 *c, int n) {
    if (n <= c->seq_cap) return PLM_OK;
    const plm_hparams *hp = &c->model->hp;
    plm_kv_cache *a = plm_realloc_for(c->self, (size_t)n * sizeof *a, "t5 decoder caches");
    if (!a) return PLM_E_NOMEM;
    c->self = a;
    plm_kv_cache *b = plm_realloc_for(c->spare, (size_t)n * sizeof *b, "t5 decoder caches");
    if (!b) return PLM_E_NOMEM;
    c->spare = b;
    for (int s = c->seq_cap; s < n; s++) {
        const int kvd = hp->n_head * hp->head_dim;
        int rc = kv_cache_init(&c->self[s], hp->n_layer_dec, kvd, c->n_ctx);
        if (rc == PLM_OK) rc = kv_cache_init(&c->spare[s], hp->n_layer_dec, kvd, c->n_ctx);
        if (rc != PLM_OK) {
            kv_cache_free(&c->self[s]);
            return rc;
        }
        c->seq_cap = s + 1;
    }
    return PLM_OK;
}

plm_t5 *plm_t5_new(plm_model *m, int n_ctx) {
    if (!m) {
        plm_fail(PLM_E_INVALID, "plm_t5_new: NULL model");
        return NULL;
    }
    if (!m->arch || m->arch_id != PLM_ARCH_T5) {
        plm_fail(m->arch ? PLM_E_INVALID : PLM_E_STATE, "plm_t5_new: '%s' %s", m->arch_name,
                 m->arch ? "is not a T5 model" : "was loaded vocab-only: it has no weights to run");
        return NULL;
    }
    if (n_ctx <= 0) n_ctx = m->hp.n_ctx_train;
    plm_t5 *c = plm_calloc_for(1, sizeof *c, "t5 context");
    if (!c) return NULL;
    c->model = m;
    c->n_ctx = n_ctx;
    const plm_hparams *hp = &m->hp;
    if (kv_cache_init(&c->cross, hp->n_layer_dec, hp->n_head * hp->head_dim, n_ctx) != PLM_OK ||
        ensure_seqs(c, 1) != PLM_OK) {
        plm_t5_free(c);
        return NULL;
    }
    c->n_seq = 1;
    return c;
}

void plm_t5_free(plm_t5 *c) {
    if (!c) return;
    beam_free(c->beam);
    kv_cache_free(&c->cross);
    for (int s = 0; s < c->seq_cap; s++) {
        kv_cache_free(&c->self[s]);
        kv_cache_free(&c->spare[s]);
    }
    free(c->self);
    free(c->spare);
    plm_buf *bufs[] = {&c->mask, &c->x, &c->xb, &c->q, &c->k, &c->v,
                       &c->att, &c->tmp, &c->gate, &c->up, &c->rel};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) plm_buf_free(bufs[i]);
    free(c);
}

int plm_t5_n_ctx(plm_t5 *c) { return c ? c->n_ctx : plm_fail(PLM_E_INVALID, "plm_t5_n_ctx: NULL context"); }
int plm_t5_n_past(plm_t5 *c) { return c ? c->n_past : plm_fail(PLM_E_INVALID, "plm_t5_n_past: NULL context"); }
int plm_t5_n_seq(plm_t5 *c) { return c ? c->n_seq : plm_fail(PLM_E_INVALID, "plm_t5_n_seq: NULL context"); }

const char *plm_t5_info(plm_model *m) {
    if (!m || !m->arch || m->arch_id != PLM_ARCH_T5 || !m->w) {
        plm_fail(PLM_E_INVALID, "plm_t5_info: not a loaded T5 model");
        return NULL;
    }
    return ((const t5_weights *)m->w)->info_json;
}

/* Activations for `rows` tokens. */
static int reserve(plm_t5 *c, int rows) {
    const plm_hparams *hp = &c->model->hp;
    const size_t n = (size_t)rows, E = (size_t)hp->n_embd, Q = (size_t)hp->n_head * hp->head_dim,
                 F = (size_t)hp->n_ff;
    int rc;
    if ((rc = plm_buf_reserve(&c->x, n * E, "t5 activations")) ||
        (rc = plm_buf_reserve(&c->xb, n * E, "t5 activations")) ||
        (rc = plm_buf_reserve(&c->tmp, n * E, "t5 activations")) ||
        (rc = plm_buf_reserve(&c->q, n * Q, "t5 activations")) ||
        (rc = plm_buf_reserve(&c->k, n * Q, "t5 activations")) ||
        (rc = plm_buf_reserve(&c->v, n * Q, "t5 activations")) ||
        (rc = plm_buf_reserve(&c->att, n * Q, "t5 activations")) ||
        (rc = plm_buf_reserve(&c->up, n * F, "t5 activations")) ||
        (rc = plm_buf_reserve(&c->gate, ((const t5_weights *)c->model->w)->gated ? n * F : 1,
                              "t5 activations")))
        return rc;
    return PLM_OK;
}

/* The position bias of `table` for n_q queries at q_pos0.. and keys 0..n_kv-1, as
 * op_attention's rel_bias rows: rel[h][rel_off + d] for every offset d = j - i. */
static int fill_rel(plm_t5 *c, op_attn_params *ap, const float *table, int bidirectional, int n_q,
                    int n_kv) {
    const int H = c->model->hp.n_head, nb = ((const t5_weights *)c->model->w)->n_buckets;
    const int off = ap->q_pos0 + n_q - 1; /* offsets d = -off .. n_kv - 1 - q_pos0 */
    const int stride = n_q + n_kv - 1;
    int rc = plm_buf_reserve(&c->rel, (size_t)H * stride, "t5 position bias");
    if (rc) return rc;
    for (int e = 0; e < stride; e++) {
        const float *row = table + (size_t)t5_position_bucket(e - off, bidirectional, nb) * H;
        for (int h = 0; h < H; h++) c->rel.p[(size_t)h * stride + e] = row[h];
    }
    ap->rel_bias = c->rel.p;
    ap->rel_off = off;
    ap->rel_stride = stride;
    return PLM_OK;
}

/* x += FFN(RMS(x)) for m rows. */
static int ffn(plm_t5 *c, const t5_layer *L, int m) {
    const plm_hparams *hp = &c->model->hp;
    const int E = hp->n_embd, F = hp->n_ff;
    int rc;
    op_rmsnorm(c->xb.p, c->x.p, L->ffn_norm, m, E, hp->norm_eps);
    if (L->gate) {
        float *const ys[2] = {c->up.p, c->gate.p};
        const plm_tensor *const ws[2] = {L->up, L->gate};
        if ((rc = op_matmul_shared(ys, ws, NULL, 2, c->xb.p, m, E))) return rc;
        op_geglu_tanh(c->up.p, c->gate.p, c->up.p, m * F);
    } else {
        if ((rc = op_matmul(c->up.p, L->up, NULL, c->xb.p, m, E))) return rc;
        op_relu(c->up.p, c->up.p, m * F);
    }
    if ((rc = op_matmul(c->tmp.p, L->down, NULL, c->up.p, m, F))) return rc;
    op_add(c->x.p, c->x.p, c->tmp.p, m * E);
    return PLM_OK;
}

static void drop_beam(plm_t5 *c) {
    beam_free(c->beam);
    c->beam = NULL;
}

/* ------------------------------------------------------------- encoder */
int plm_t5_encode(plm_t5 *c, const int32_t *ids, const int32_t *mask, int n, float *out) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_t5_encode: NULL context");
    if (!ids || n <= 0) return plm_fail(PLM_E_INVALID, "plm_t5_encode: no tokens (n = %d)", n);
    if (n > c->n_ctx)
        return plm_fail(PLM_E_TOO_LONG, "input of %d tokens exceeds the context of %d tokens", n,
                        c->n_ctx);
    const plm_model *m = c->model;
    const plm_hparams *hp = &m->hp;
    const t5_weights *w = m->w;
    const int E = hp->n_embd, H = hp->n_head, hd = hp->head_dim, Q = H * hd;
    int rc, n_keep = 0;
    if ((rc = model_check_rows(m, n, "plm_t5_encode"))) return rc;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= hp->n_vocab)
            return plm_fail(PLM_E_INVALID, "token id %d at index %d is out of range [0, %d)",
                            (int)ids[i], i, hp->n_vocab);
        if (mask && mask[i] != 0 && mask[i] != 1)
            return plm_fail(PLM_E_INVALID, "attention mask value %d at index %d is not 0 or 1",
                            (int)mask[i], i);
        n_keep += !mask || mask[i];
    }
    if (n_keep == 0) return plm_fail(PLM_E_INVALID, "plm_t5_encode: the attention mask hides every token");

    /* whatever happens below, the previous input and the decoder state are gone */
    drop_beam(c);
    c->n_enc = 0;
    c->n_seq = 1;
    c->n_past = 0;
    if ((rc = reserve(c, n)) || (rc = kv_cache_reserve(&c->cross, n)) ||
        (rc = plm_buf_reserve(&c->mask, (size_t)n, "t5 attention mask")))
        return rc;
    c->has_mask = n_keep < n;
    for (int i = 0; i < n; i++) c->mask.p[i] = !mask || mask[i] ? 0.0f : -INFINITY;

    float *x = c->x.p, *xb = c->xb.p, *q = c->q.p, *k = c->k.p, *v = c->v.p, *att = c->att.p,
          *tmp = c->tmp.p;
    if ((rc = op_get_rows(x, w->tok_embd, ids, n))) return rc;

    op_attn_params ap = {.n_head = H, .n_head_kv = H, .head_dim = hd, .scale = 1.0f,
                         .mask = c->has_mask ? c->mask.p : NULL};
    const float *rel_of = NULL;
    for (int l = 0; l < hp->n_layer; l++) {
        const t5_layer *L = &w->enc[l];
        if (L->rel != rel_of && (rc = fill_rel(c, &ap, L->rel, 1, n, n))) return rc;
        rel_of = L->rel;

        op_rmsnorm(xb, x, L->attn_norm, n, E, hp->norm_eps);
        float *const ys[3] = {q, k, v};
        const plm_tensor *const ws[3] = {L->wq, L->wk, L->wv};
        if ((rc = op_matmul_shared(ys, ws, NULL, 3, xb, n, E)) ||
            (rc = op_attention(att, Q, q, Q, k, v, Q, n, n, &ap)) ||
            (rc = op_matmul(tmp, L->wo, NULL, att, n, Q)))
            return rc;
        op_add(x, x, tmp, n * E);
        if ((rc = ffn(c, L, n))) return rc;
    }
    op_rmsnorm(xb, x, w->enc_norm, n, E, hp->norm_eps);

    /* every decoder block's cross-attention keys and values, once per input */
    for (int l = 0; l < hp->n_layer_dec; l++) {
        const t5_layer *L = &w->dec[l];
        if ((rc = op_matmul(c->cross.k[l], L->ck, NULL, xb, n, E)) ||
            (rc = op_matmul(c->cross.v[l], L->cv, NULL, xb, n, E)))
            return rc;
    }
    if (out) memcpy(out, xb, (size_t)n * E * sizeof(float));
    c->n_enc = n;
    return PLM_OK;
}

/* ------------------------------------------------------------- decoder */
static int decoder_reset(plm_t5 *c, int n_seq) {
    int rc = ensure_seqs(c, n_seq);
    if (rc) return rc;
    c->n_seq = n_seq;
    c->n_past = 0;
    return PLM_OK;
}

int plm_t5_decoder_reset(plm_t5 *c, int n_seq) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_t5_decoder_reset: NULL context");
    if (n_seq <= 0 || n_seq > 65536)
        return plm_fail(PLM_E_INVALID, "plm_t5_decoder_reset: %d sequences", n_seq);
    drop_beam(c);
    return decoder_reset(c, n_seq);
}

/* Run n tokens of each sequence (ids[n_seq][n], validated) at positions n_past..;
 * logits: NULL, or all ? [n_seq][n][n_vocab] : [n_seq][n_vocab] (last position).
 * Does not advance n_past. */
static int decode(plm_t5 *c, const int32_t *ids, int n, float *logits, int all) {
    const plm_model *m = c->model;
    const plm_hparams *hp = &m->hp;
    const t5_weights *w = m->w;
    const int E = hp->n_embd, H = hp->n_head, hd = hp->head_dim, Q = H * hd;
    const int S = c->n_seq, rows = S * n, n_past = c->n_past, n_kv = n_past + n;
    int rc;
    if ((rc = reserve(c, rows))) return rc;
    for (int s = 0; s < S; s++)
        if ((rc = kv_cache_reserve(&c->self[s], n_kv))) return rc;
    float *x = c->x.p, *xb = c->xb.p, *q = c->q.p, *k = c->k.p, *v = c->v.p, *att = c->att.p,
          *tmp = c->tmp.p;
    if ((rc = op_get_rows(x, w->tok_embd, ids, rows))) return rc;

    op_attn_params self = {.n_head = H, .n_head_kv = H, .head_dim = hd, .scale = 1.0f,
                           .causal = 1, .q_pos0 = n_past};
    const op_attn_params cross = {.n_head = H, .n_head_kv = H, .head_dim = hd, .scale = 1.0f,
                                  .mask = c->has_mask ? c->mask.p : NULL};
    const float *rel_of = NULL;
    for (int l = 0; l < hp->n_layer_dec; l++) {
        const t5_layer *L = &w->dec[l];
        if (L->rel != rel_of && (rc = fill_rel(c, &self, L->rel, 0, n, n_kv))) return rc;
        rel_of = L->rel;

        /* causal self-attention: each sequence over its own cache */
        op_rmsnorm(xb, x, L->attn_norm, rows, E, hp->norm_eps);
        if ((rc = op_matmul(q, L->wq, NULL, xb, rows, E)) ||
            (rc = op_matmul(k, L->wk, NULL, xb, rows, E)) ||
            (rc = op_matmul(v, L->wv, NULL, xb, rows, E)))
            return rc;
        for (int s = 0; s < S; s++) {
            const plm_kv_cache *kv = &c->self[s];
            const size_t r0 = (size_t)s * n;
            memcpy(kv->k[l] + (size_t)n_past * Q, k + r0 * Q, (size_t)n * Q * sizeof(float));
            memcpy(kv->v[l] + (size_t)n_past * Q, v + r0 * Q, (size_t)n * Q * sizeof(float));
            if ((rc = op_attention(att + r0 * Q, Q, q + r0 * Q, Q, kv->k[l], kv->v[l], Q, n, n_kv, &self)))
                return rc;
        }
        if ((rc = op_matmul(tmp, L->wo, NULL, att, rows, Q))) return rc;
        op_add(x, x, tmp, rows * E);

        /* cross-attention over the encoder output: all sequences share it */
        op_rmsnorm(xb, x, L->cross_norm, rows, E, hp->norm_eps);
        if ((rc = op_matmul(q, L->cq, NULL, xb, rows, E)) ||
            (rc = op_attention(att, Q, q, Q, c->cross.k[l], c->cross.v[l], Q, rows, c->n_enc, &cross)) ||
            (rc = op_matmul(tmp, L->co, NULL, att, rows, Q)))
            return rc;
        op_add(x, x, tmp, rows * E);

        if ((rc = ffn(c, L, rows))) return rc;
    }
    if (!logits) return PLM_OK;

    /* head: every row, or the last row of each sequence */
    const float *src = x;
    int n_out = rows;
    if (!all && n > 1) {
        for (int s = 0; s < S; s++)
            memcpy(tmp + (size_t)s * E, x + ((size_t)s * n + n - 1) * E, (size_t)E * sizeof(float));
        src = tmp;
        n_out = S;
    }
    op_rmsnorm(xb, src, w->dec_norm, n_out, E, hp->norm_eps);
    if (w->tied) op_scale(xb, xb, w->out_scale, n_out * E);
    return op_matmul(logits, w->output, NULL, xb, n_out, E);
}

static int check_decode(plm_t5 *c, const int32_t *ids, int n, const char *fn) {
    if (!c) return plm_fail(PLM_E_INVALID, "%s: NULL context", fn);
    if (!c->n_enc) return plm_fail(PLM_E_STATE, "%s: no input encoded yet (plm_t5_encode)", fn);
    if (!ids || n <= 0) return plm_fail(PLM_E_INVALID, "%s: no tokens (n = %d)", fn, n);
    if (n > c->n_ctx - c->n_past)
        return plm_fail(PLM_E_TOO_LONG, "%d decoder tokens + %d cached exceed the context of %d tokens",
                        n, c->n_past, c->n_ctx);
    int rc = model_check_rows(c->model, (int64_t)c->n_seq * n, fn);
    if (rc) return rc;
    const int n_vocab = c->model->hp.n_vocab;
    for (int i = 0; i < c->n_seq * n; i++)
        if (ids[i] < 0 || ids[i] >= n_vocab)
            return plm_fail(PLM_E_INVALID, "token id %d at index %d is out of range [0, %d)",
                            (int)ids[i], i, n_vocab);
    return PLM_OK;
}

int plm_t5_decode(plm_t5 *c, const int32_t *ids, int n, float *logits, int all_logits) {
    int rc = check_decode(c, ids, n, "plm_t5_decode");
    if (rc) return rc;
    drop_beam(c);
    if ((rc = decode(c, ids, n, logits, all_logits))) return rc;
    c->n_past += n;
    return PLM_OK;
}

/* New sequence s = old sequence src[s] (s < n_new). Copies only the caches that
 * change; on failure nothing has changed. */
static int reorder(plm_t5 *c, const int32_t *src, int n_new) {
    int rc = ensure_seqs(c, n_new);
    if (rc) return rc;
    const int n_layer = c->model->hp.n_layer_dec;
    const size_t bytes = (size_t)c->n_past * c->cross.kv_dim * sizeof(float);
    for (int s = 0; s < n_new; s++) {
        if (src[s] == s || !c->n_past) continue;
        plm_kv_cache *to = &c->spare[s];
        const plm_kv_cache *from = &c->self[src[s]];
        if ((rc = kv_cache_reserve(to, c->n_past))) return rc;
        for (int l = 0; l < n_layer; l++) {
            memcpy(to->k[l], from->k[l], bytes);
            memcpy(to->v[l], from->v[l], bytes);
        }
    }
    for (int s = 0; s < n_new; s++) {
        if (src[s] == s || !c->n_past) continue;
        plm_kv_cache t = c->self[s];
        c->self[s] = c->spare[s];
        c->spare[s] = t;
    }
    c->n_seq = n_new;
    return PLM_OK;
}

int plm_t5_reorder(plm_t5 *c, const int32_t *src, int n_new) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_t5_reorder: NULL context");
    if (!src || n_new <= 0 || n_new > 65536)
        return plm_fail(PLM_E_INVALID, "plm_t5_reorder: %d sequences", n_new);
    for (int s = 0; s < n_new; s++)
        if (src[s] < 0 || src[s] >= c->n_seq)
            return plm_fail(PLM_E_INVALID, "plm_t5_reorder: source %d of sequence %d is not one of the "
                            "%d sequences", (int)src[s], s, c->n_seq);
    drop_beam(c);
    return reorder(c, src, n_new);
}

/* ---------------------------------------------------------- beam search
 * transformers' BeamSearchScorer, in beam.c; this decoder is its model: one step runs one
 * token of every running beam (the decoder start token at step 1), reorder copies the
 * self-attention caches. */
static int beam_decode_cb(void *ctx, const int32_t *tok, int n_run, float *logits) {
    plm_t5 *c = ctx;
    (void)n_run; /* == c->n_seq */
    int rc = decode(c, tok, 1, logits, 0);
    if (rc) return rc;
    c->n_past++;
    return PLM_OK;
}

static int beam_reorder_cb(void *ctx, const int32_t *src, int n_new) { return reorder(ctx, src, n_new); }

int plm_t5_beam_begin(plm_t5 *c, int n_beams, int max_new_tokens, float length_penalty,
                      int early_stopping) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_t5_beam_begin: NULL context");
    if (!c->n_enc) return plm_fail(PLM_E_STATE, "plm_t5_beam_begin: no input encoded yet (plm_t5_encode)");
    const plm_model *m = c->model;
    if (max_new_tokens > c->n_ctx - 1)
        return plm_fail(PLM_E_INVALID, "beam search: max new tokens %d (1 .. context - 1 = %d)",
                        max_new_tokens, c->n_ctx - 1);
    drop_beam(c);
    plm_beam *b;
    int rc = beam_begin(&b, m->hp.n_vocab, m->vocab ? vocab_eos(m->vocab) : -1,
                        ((const t5_weights *)m->w)->dec_start, n_beams, max_new_tokens, length_penalty,
                        early_stopping);
    if (rc) return rc;
    if ((rc = decoder_reset(c, 1))) {
        beam_free(b);
        return rc;
    }
    c->beam = b;
    return PLM_OK;
}

/* One token of every running beam. Returns 1 (running), 0 (finished) or PLM_E_*
 * (the search is then over: plm_t5_beam_result fails until the next begin). */
int plm_t5_beam_step(plm_t5 *c) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_t5_beam_step: NULL context");
    if (!c->beam) return plm_fail(PLM_E_STATE, "plm_t5_beam_step: no beam search running (plm_t5_beam_begin)");
    const plm_beam_model bm = {c, beam_decode_cb, beam_reorder_cb};
    int rc = beam_step(c->beam, &bm);
    if (rc < 0) drop_beam(c);
    return rc;
}

/* The best finished hypothesis: its tokens (ending with EOS if it finished by EOS;
 * the decoder start token not included) into ids (at most cap), its length-normalised
 * score into *score (may be NULL). Returns the token count (may exceed cap). */
int plm_t5_beam_result(plm_t5 *c, int32_t *ids, int cap, float *score) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_t5_beam_result: NULL context");
    if (!beam_finished(c->beam)) return plm_fail(PLM_E_STATE, "plm_t5_beam_result: no finished beam search");
    if (cap < 0 || (cap > 0 && !ids)) return plm_fail(PLM_E_INVALID, "plm_t5_beam_result: bad buffer");
    return beam_result(c->beam, ids, cap, score);
}
