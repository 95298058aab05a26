/* model.h — what every architecture file (gpt2.c, llama.c, bert.c, t5.c) shares.
 *
 * model.c turns a parsed GGUF into a plm_model: it reads general.architecture,
 * builds the tokenizer from the metadata and hands the file to the matching
 * plm_arch, whose init() reads the hyper-parameters (llama.cpp's keys
 * "<arch>.block_count", ...) and binds the tensors (llama.cpp's names
 * "blk.N.attn_q.weight", ...), checking every shape.
 *
 * An architecture file reads like the paper: embeddings, blocks, head —
 * built from the kernels in ops.h, no kernel code inside.
 */
#ifndef PLM_MODEL_H
#define PLM_MODEL_H

#include "common.h"
#include "gguf.h"
#include "ops.h"
#include "plm.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

enum plm_arch_id { PLM_ARCH_UNKNOWN = 0, PLM_ARCH_GPT2, PLM_ARCH_LLAMA, PLM_ARCH_BERT, PLM_ARCH_T5,
                   PLM_ARCH_QWEN2, PLM_ARCH_QWEN3, PLM_ARCH_GEMMA2, PLM_ARCH_GEMMA3, PLM_ARCH_PHI3,
                   PLM_ARCH_NOMIC_BERT };

/* Hyper-parameters common to the families (0 where not applicable). */
typedef struct plm_hparams {
    int n_vocab;
    int n_ctx_train; /* <arch>.context_length */
    int n_embd;
    int n_layer;     /* encoder blocks for t5 */
    int n_layer_dec; /* t5 decoder blocks */
    int n_head;
    int n_head_kv;
    int head_dim;    /* key_length */
    int n_ff;
    int n_rot;
    float norm_eps;
    float rope_base;
} plm_hparams;

typedef struct plm_arch plm_arch;

struct plm_model {
    gguf_ctx *gguf;
    const plm_arch *arch; /* NULL for a vocab-only load */
    int arch_id;
    char *arch_name;
    plm_vocab *vocab;     /* NULL if the file has no tokenizer */
    plm_hparams hp;
    void *w;              /* architecture-specific weights, owned by arch->free */
    char *info_json;
    char *meta_json;
};

struct plm_ctx {
    plm_model *model;
    int n_ctx;
    int n_past;
    void *state; /* architecture-specific: KV cache, scratch */
    void *beam;  /* a running plm_ctx_beam_* search (api.c), or NULL */
};

struct plm_arch {
    const char *name; /* value of general.architecture */
    int id;
    /* Read hyper-parameters into m->hp, bind and check tensors into m->w.
     * m->hp is pre-filled from the common "<arch>.*" keys (0 where absent).
     * If init fails, free() is still called: m->w may be NULL or partly set up. */
    int (*init)(plm_model *m);
    void (*free)(plm_model *m);
    /* Causal decoding (NULL for encoder-only models). ctx_init may reject c->n_ctx;
     * if it fails, ctx_free() is still called (c->state may be NULL). */
    int (*ctx_init)(plm_ctx *c);
    void (*ctx_free)(plm_ctx *c);
    /* Run 1..PLM_MAX_BATCH ids (already validated) at positions c->n_past.. and write
     * their K/V into the cache. Does NOT advance c->n_past (plm_ctx_decode does, and
     * on failure leaves it unchanged, so rows written past n_past are simply unused).
     * logits: NULL (not needed), else all_logits ? n rows : the last row. */
    int (*decode)(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits);
    /* Copy the cached positions [0, n_pos) of src into dst (same model); NULL: not supported
     * (no beam search). On failure dst is unchanged. */
    int (*ctx_copy)(plm_ctx *dst, const plm_ctx *src, int n_pos);
};

extern const plm_arch plm_arch_gpt2;
extern const plm_arch plm_arch_llama;
extern const plm_arch plm_arch_bert;
extern const plm_arch plm_arch_t5;
extern const plm_arch plm_arch_qwen2;  /* llama.c */
extern const plm_arch plm_arch_qwen3;  /* llama.c */
extern const plm_arch plm_arch_gemma2; /* gemma.c */
extern const plm_arch plm_arch_gemma3; /* gemma.c */
extern const plm_arch plm_arch_phi3;
extern const plm_arch plm_arch_nomic_bert; /* bert.c */

/* Helpers for init(): fetch a tensor by printf-style name and check its type is
 * supported and its dims equal ne0, ne1 (pass -1 to skip a check; ne1 = 0 means
 * 1-D). Missing required tensors fail with PLM_E_MISSING naming the tensor.
 * model_tensor_opt returns NULL without failing when absent. */
#if defined(__GNUC__)
#define PLM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PLM_PRINTF(f, a)
#endif
const plm_tensor *model_tensor(plm_model *m, int64_t ne0, int64_t ne1, const char *fmt, ...)
    PLM_PRINTF(4, 5);
const plm_tensor *model_tensor_opt(plm_model *m, int64_t ne0, int64_t ne1, const char *fmt, ...)
    PLM_PRINTF(4, 5);
/* Optional tensor with a status: PLM_OK and *out = NULL when absent, PLM_E_* (and
 * *out = NULL) when present but of the wrong shape or an unsupported type. */
int model_tensor_try(plm_model *m, const plm_tensor **out, int64_t ne0, int64_t ne1,
                     const char *fmt, ...) PLM_PRINTF(5, 6);
/* In an init(): bind a required tensor (model_tensor arguments) or return its error.
 * MODEL_BIND_F32 stores the data pointer of a 1-D f32 tensor. */
#define MODEL_BIND(dst, ...)                                     \
    do {                                                         \
        const plm_tensor *bind_t_ = model_tensor(m, __VA_ARGS__); \
        if (!bind_t_) return plm_errcode();                      \
        (dst) = bind_t_;                                         \
    } while (0)
#define MODEL_BIND_F32(dst, ...)                                 \
    do {                                                         \
        const plm_tensor *bind_t_ = model_tensor(m, __VA_ARGS__); \
        if (!bind_t_) return plm_errcode();                      \
        (dst) = tensor_f32(bind_t_);                             \
    } while (0)
/* Hostile-file limits (checked at load, before any product of header values is
 * used): every width — embedding, feed-forward, vocabulary, heads x head size,
 * kv heads x head size — is at most PLM_MAX_WIDTH, every stack at most
 * PLM_MAX_LAYERS blocks. With PLM_MAX_BATCH rows that keeps every activation
 * buffer below 2^28 floats (1 GiB), so no element count overflows an int and no
 * byte count the 32-bit size_t of the wasm build. */
#define PLM_MAX_WIDTH (1 << 20)
#define PLM_MAX_LAYERS 4096
/* Validate m->hp: call right after an init() has read its hyper-parameters and
 * before it forms any product of them (model.c calls it again after init(), when
 * n_vocab is known). Fails with PLM_E_FORMAT naming the key. */
int model_check_hparams(plm_model *m);
/* `rows` activation rows of this model (tokens x sequences) in one call: refuses
 * (PLM_E_TOO_LONG, naming fn) when rows x the widest row (or the vocabulary)
 * would not fit an int element count or a size_t byte count. */
int model_check_rows(const plm_model *m, int64_t rows, const char *fn);

/* Read "<arch>.<suffix>" as u32/f32 (required or with default). */
int model_hp_u32(plm_model *m, const char *suffix, int required, int def, int *out);
int model_hp_f32(plm_model *m, const char *suffix, int required, float def, float *out);
/* A 1-D F32 tensor's data (norm weights, biases); NULL if t is NULL. Non-F32 1-D
 * tensors are rejected at init with PLM_E_UNSUPPORTED. */
const float *tensor_f32(const plm_tensor *t);

/* ---- shared by the causal architectures (gpt2.c, llama.c) ----
 *
 * plm_buf: a float scratch buffer that only grows. plm_buf_reserve keeps the old
 * buffer (and returns PLM_E_NOMEM) when growing fails, so a context stays usable. */
typedef struct plm_buf {
    float *p;
    size_t n; /* capacity in floats */
} plm_buf;
int plm_buf_reserve(plm_buf *b, size_t n, const char *what);
void plm_buf_free(plm_buf *b);

/* Float32 KV cache: per layer, k[l] and v[l] hold rows of kv_dim floats, one row per
 * position. Storage grows on demand up to n_ctx positions (a context created with a
 * 128k-token window does not reserve 128k rows up front). */
typedef struct plm_kv_cache {
    int n_layer, kv_dim, n_ctx;
    int cap;       /* positions allocated */
    float **k, **v;
} plm_kv_cache;
int kv_cache_init(plm_kv_cache *kv, int n_layer, int kv_dim, int n_ctx);
/* Make room for positions [0, n_pos). Keeps the cached rows; PLM_E_NOMEM leaves the cache as it was. */
int kv_cache_reserve(plm_kv_cache *kv, int n_pos);
void kv_cache_free(plm_kv_cache *kv);

/* t5.c: HF's relative position bucket of d = key - query position (max distance 128). */
int t5_position_bucket(int d, int bidirectional, int n_buckets);

/* Largest number of tokens an architecture's decode() is handed at once; plm_ctx_decode
 * splits longer inputs (bounds the scratch memory; matmuls still see m up to this). */
#define PLM_MAX_BATCH 256

#ifdef __cplusplus
}
#endif
#endif
