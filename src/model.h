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

enum plm_arch_id { PLM_ARCH_UNKNOWN = 0, PLM_ARCH_GPT2, PLM_ARCH_LLAMA, PLM_ARCH_BERT, PLM_ARCH_T5 };

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
};

struct plm_arch {
    const char *name; /* value of general.architecture */
    int id;
    /* Read hyper-parameters into m->hp, bind and check tensors into m->w. */
    int (*init)(plm_model *m);
    void (*free)(plm_model *m);
    /* Causal decoding (NULL for encoder-only models). */
    int (*ctx_init)(plm_ctx *c);
    void (*ctx_free)(plm_ctx *c);
    int (*decode)(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits);
};

extern const plm_arch plm_arch_gpt2;
extern const plm_arch plm_arch_llama;
extern const plm_arch plm_arch_bert;
extern const plm_arch plm_arch_t5;

/* Helpers for init(): fetch a tensor by printf-style name and check its type is
 * supported and its dims equal ne0, ne1 (pass -1 to skip a check; ne1 = 0 means
 * 1-D). Missing required tensors fail with PLM_E_MISSING naming the tensor.
 * model_tensor_opt returns NULL without failing when absent. */
const plm_tensor *model_tensor(plm_model *m, int64_t ne0, int64_t ne1, const char *fmt, ...);
const plm_tensor *model_tensor_opt(plm_model *m, int64_t ne0, int64_t ne1, const char *fmt, ...);
/* Read "<arch>.<suffix>" as u32/f32 (required or with default). */
int model_hp_u32(plm_model *m, const char *suffix, int required, int def, int *out);
int model_hp_f32(plm_model *m, const char *suffix, int required, float def, float *out);
/* A 1-D F32 tensor's data (norm weights, biases); NULL if t is NULL. Non-F32 1-D
 * tensors are rejected at init with PLM_E_UNSUPPORTED. */
const float *tensor_f32(const plm_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
