/* blocks.h — the layer blocks architecture files are wired from (llama.cpp's
 * build_norm / build_attn / build_ffn idea).
 *
 * An architecture file states its math in its opening comment, describes its
 * hyper-parameters (blk_hp_spec) and tensors (blk_layer_spec), and its decode()
 * is a handful of calls:
 *
 *   blk_state_reserve   KV cache rows + activation buffers for this batch
 *   op_get_rows         token embeddings into s->x
 *   blk_decoder_layer   per layer: [pre-norm] attention [post-norm] + residual,
 *                       [pre-norm] feed-forward [post-norm] + residual
 *   blk_lm_head         final norm + output projection (+ soft-capping) for the
 *                       rows whose logits are wanted
 *
 * Every block is built from the kernels in ops.h; no kernel loops here either
 * except row copies. Tensor names are llama.cpp's (blk.N.attn_q, ...).
 */
#ifndef PLM_BLOCKS_H
#define PLM_BLOCKS_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ hyper-parameters */
/* What an architecture reads from "<arch>.*" (llama.cpp's keys) into m->hp, and
 * which of the optional keys it accepts. blk_read_hparams reads them all, applies
 * the defaults (head_count_kv = head_count, key_length = embedding / heads,
 * rope.dimension_count = key_length, rope.freq_base = 10000) and validates the
 * shapes in one place, naming the key or the inconsistency. */
enum {
    BLK_HP_RMS_EPS = 1 << 0,   /* attention.layer_norm_rms_epsilon (else layer_norm_epsilon) */
    BLK_HP_FF_OPTIONAL = 1 << 1, /* feed_forward_length defaults to 4 * embedding_length */
    BLK_HP_ROPE = 1 << 2,      /* rope.dimension_count / rope.freq_base */
    BLK_HP_FF_ABSENT_OK = 1 << 3,
};
int blk_read_hparams(plm_model *m, unsigned flags);

/* RoPE frequency scaling as llama.cpp reads it (rope.scaling.type / factor /
 * original_context_length / attn_factor, rope_freqs / rope_factors_{long,short}):
 * fills rp->freq_scale, rp->freq_factors (Llama 3.1 rope_freqs), the YaRN fields and
 * the LongRoPE factor tables (w->rope_long / rope_short, chosen per context). */
typedef struct {
    op_rope_params rp;        /* base parameters (mode, freq_base, scaling) */
    const float *long_factors, *short_factors; /* LongRoPE: n_rot/2 each, or NULL */
    int n_ctx_orig;           /* LongRoPE / YaRN: original training context */
} blk_rope;
int blk_read_rope(plm_model *m, blk_rope *r, int mode);
/* The rope parameters a context of n_ctx tokens uses (LongRoPE: long factors beyond
 * the original context, as llama.cpp decides per context). */
op_rope_params blk_rope_for_ctx(const blk_rope *r, int n_ctx);

/* ------------------------------------------------------------ weights */
enum { BLK_NORM_NONE = 0, BLK_NORM_LAYER, BLK_NORM_RMS };
typedef struct {
    int kind;
    const float *w, *b; /* b: LayerNorm bias or NULL */
} blk_norm;

typedef struct {
    const plm_tensor *wq, *wk, *wv, *wqkv, *wo; /* separate q/k/v or fused qkv (rows q, k, v) */
    const float *bq, *bk, *bv, *bqkv, *bo;       /* NULL when absent */
    blk_norm q_norm, k_norm;                     /* per-head norms (qwen3, gemma3), kind NONE when absent */
} blk_attn_w;

/* Feed-forward kinds: y = W_down · act(W_up x)  or  W_down · (act(W_gate x) * W_up x).
 * Fused gate|up (phi3): up holds 2 n_ff rows, gate first, and gate == NULL. */
enum { BLK_FFN_GELU, BLK_FFN_GELU_TANH, BLK_FFN_RELU, BLK_FFN_SWIGLU, BLK_FFN_GEGLU };
typedef struct {
    const plm_tensor *up, *gate, *down;
    const float *up_b, *gate_b, *down_b;
    int fused; /* up = [gate; up] */
} blk_ffn_w;

typedef struct {
    blk_norm attn_norm, attn_post_norm;
    blk_attn_w attn;
    blk_norm ffn_norm, ffn_post_norm;
    blk_ffn_w ffn;
} blk_layer_w;

/* Which tensors a layer has (llama.cpp names under blk.N.). */
enum {
    BLK_L_FUSED_QKV = 1 << 0,   /* attn_qkv instead of attn_q/k/v */
    BLK_L_QKV_BIAS = 1 << 1,    /* q/k/v (or qkv) biases required */
    BLK_L_QKV_BIAS_OPT = 1 << 2, /* q/k/v and output biases optional (llama) */
    BLK_L_OUT_BIAS = 1 << 3,    /* attn_output.bias required */
    BLK_L_QK_NORM = 1 << 4,     /* attn_q_norm / attn_k_norm [head_dim] */
    BLK_L_POST_NORMS = 1 << 5,  /* post_attention_norm, post_ffw_norm (gemma2/3) */
    BLK_L_FFN_GATED = 1 << 6,   /* ffn_gate */
    BLK_L_FFN_FUSED = 1 << 7,   /* ffn_up holds [gate; up] (2 n_ff rows) */
    BLK_L_FFN_BIAS = 1 << 8,    /* ffn_up / ffn_down biases */
    BLK_L_NORM_BIAS = 1 << 9,   /* LayerNorm weights + biases (else RMSNorm weights) */
    BLK_L_POST_LN = 1 << 10,    /* BERT-style: attn_output_norm / layer_output_norm after the residual */
};
int blk_bind_layer(plm_model *m, blk_layer_w *L, int il, unsigned flags);
/* token_embd (sets hp->n_vocab), output_norm (+ bias with BLK_L_NORM_BIAS) and output
 * (absent = tied to token_embd). */
typedef struct {
    const plm_tensor *tok_embd, *output;
    blk_norm out_norm;
} blk_head_w;
int blk_bind_head(plm_model *m, blk_head_w *h, unsigned flags);

/* ------------------------------------------------------------ causal state */
typedef struct {
    plm_kv_cache kv;
    plm_buf x, xb, q, qkv, att, ff, ff2, tmp; /* [n][...] activations of the current batch */
    int32_t pos[PLM_MAX_BATCH];
} blk_state;
/* ctx_init / ctx_free for every causal architecture built from these blocks
 * (KV cache of n_layer x n_head_kv * head_dim). */
int blk_ctx_init(plm_ctx *c);
void blk_ctx_free(plm_ctx *c);
/* plm_arch.ctx_copy: the KV rows of positions [0, n_pos). */
int blk_ctx_copy(plm_ctx *dst, const plm_ctx *src, int n_pos);
/* Make room for n more tokens at c->n_past (KV rows + activations). */
int blk_state_reserve(plm_ctx *c, int n);

/* ------------------------------------------------------------ blocks */
typedef struct {
    int n_head, n_head_kv, head_dim, n_rot;
    float scale;         /* q·k scale */
    float softcap;       /* attention-logit soft-capping (0: off) */
    int window;          /* sliding window (0: full causal) */
    const op_rope_params *rope; /* NULL: no rotary positions */
    float norm_eps;      /* per-head q/k norms */
} blk_attn_cfg;

/* y = norm(x) over m rows of n (kind NONE: copy). */
void blk_norm_apply(float *y, const float *x, const blk_norm *nm, int m, int n, float eps);

/* Causal self-attention of the batch h[n][E] at positions c->n_past..: q/k/v
 * projections (+ biases), per-head q/k norms, RoPE, K/V written into the cache
 * rows of layer il, attention over the cache, output projection into out[n][E]. */
int blk_self_attn(plm_ctx *c, int il, const blk_attn_w *w, const blk_attn_cfg *cfg, const float *h,
                  int n, float *out);

/* out[n][E] = FFN(h) of the given kind; ff / ff2 are scratch of n * 2 n_ff floats. */
int blk_ffn(const blk_ffn_w *w, int kind, const float *h, int n, int E, int n_ff, float *ff, float *ff2,
            float *out);

/* One pre-norm decoder layer on s->x (n rows):
 *   x += post_norm(Attn(norm(x)));  x += post_norm(FFN(norm(x)))   (post-norms optional) */
int blk_decoder_layer(plm_ctx *c, int il, const blk_layer_w *L, const blk_attn_cfg *cfg, int ffn_kind,
                      int n);

/* Encoder scratch (grown on demand). */
typedef struct {
    plm_buf qkv, att, tmp, ff, ff2;
} blk_scratch;
void blk_scratch_free(blk_scratch *s);

/* One post-norm bidirectional encoder layer (BERT family) on x[n][E], n tokens of n_seq
 * packed sequences (each attends only to its own tokens; pos: per-token positions for
 * cfg->rope, restarting at 0 for every sequence):
 *   x = Norm_1(x + W_o · Attn(x)),  x = Norm_2(x + FFN(x))      (attn_post_norm, ffn_post_norm) */
int blk_encoder_layer(const plm_model *m, const blk_layer_w *L, const blk_attn_cfg *cfg, int ffn_kind, float *x, int n,
                      const int32_t *seq_lens, int n_seq, const int32_t *pos, blk_scratch *s);

/* logits for the last n_out rows of s->x: norm, projection, optional final soft-capping. */
int blk_lm_head(plm_ctx *c, const blk_head_w *h, int n, int n_out, float softcap, float *logits);

#ifdef __cplusplus
}
#endif
#endif
