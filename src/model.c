/* model.c — GGUF -> plm_model: architecture dispatch, hyper-parameters, tensor
 * binding helpers, the loader API and the model's JSON descriptions.
 *
 * Nothing here knows about a particular architecture: each one is a plm_arch
 * (gpt2.c, llama.c, bert.c, t5.c) found by its general.architecture name in
 * the table below.
 */
#include "model.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ architectures */
static const plm_arch *arch_table(int i) {
    switch (i) {
    case 0: return &plm_arch_gpt2;
    case 1: return &plm_arch_llama;
    case 2: return &plm_arch_bert;
    case 3: return &plm_arch_t5;
    case 4: return &plm_arch_qwen2;
    case 5: return &plm_arch_qwen3;
    case 6: return &plm_arch_gemma2;
    case 7: return &plm_arch_gemma3;
    case 8: return &plm_arch_phi3;
    case 9: return &plm_arch_nomic_bert;
    default: return NULL;
    }
}
enum { N_ARCH_SLOTS = 10 };

static const plm_arch *arch_find(const char *name) {
    for (int i = 0; i < N_ARCH_SLOTS; i++) {
        const plm_arch *a = arch_table(i);
        if (a && strcmp(a->name, name) == 0) return a;
    }
    return NULL;
}

static int fail_unknown_arch(const char *name) {
    char list[128] = "";
    size_t n = 0;
    for (int i = 0; i < N_ARCH_SLOTS; i++) {
        const plm_arch *a = arch_table(i);
        if (!a) continue;
        int w = snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", a->name);
        if (w < 0 || (size_t)w >= sizeof list - n) break;
        n += (size_t)w;
    }
    return plm_fail(PLM_E_UNSUPPORTED, "architecture '%s' is not supported (supported: %s)", name,
                    list);
}

/* ---------------------------------------------------------------- tensors */
static void shape_str(char *out, size_t cap, const int64_t *ne, int n_dims) {
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < n_dims && n < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%lld", i ? ", " : "[", (long long)ne[i]);
        if (w < 0) return;
        n += (size_t)w;
    }
    if (n < cap) snprintf(out + n, cap - n, "]");
}

static const plm_tensor *tensor_check(plm_model *m, int required, int64_t ne0, int64_t ne1,
                                      const char *fmt, va_list ap) {
    char name[160];
    vsnprintf(name, sizeof name, fmt, ap);
    const plm_tensor *t = gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (required) plm_fail(PLM_E_MISSING, "tensor '%s' is missing from the model file", name);
        return NULL;
    }
    if (!plm_type_supported(t->type)) {
        const char *tn = plm_type_name(t->type);
        plm_fail(PLM_E_UNSUPPORTED, "tensor '%s' has type %s, which is not supported", name,
                 tn ? tn : "(unknown)");
        return NULL;
    }
    /* unused dims are 1 (gguf.h), so a 1-D tensor is [n, 1, 1, 1] */
    const int one_d = ne1 == 0;
    int ok = t->ne[2] == 1 && t->ne[3] == 1 && (!one_d || t->ne[1] == 1);
    if (ne0 >= 0 && t->ne[0] != ne0) ok = 0;
    if (!one_d && ne1 >= 0 && t->ne[1] != ne1) ok = 0;
    if (!ok) {
        char exp[64], got[96], e0[24], e1[24];
        snprintf(e0, sizeof e0, ne0 < 0 ? "*" : "%lld", (long long)ne0);
        snprintf(e1, sizeof e1, ne1 < 0 ? "*" : "%lld", (long long)ne1);
        if (one_d)
            snprintf(exp, sizeof exp, "[%s]", e0);
        else
            snprintf(exp, sizeof exp, "[%s, %s]", e0, e1);
        shape_str(got, sizeof got, t->ne, t->n_dims);
        plm_fail(PLM_E_FORMAT, "tensor '%s' has shape %s, expected %s (ne, innermost first)", name,
                 got, exp);
        return NULL;
    }
    if (one_d && t->type != PLM_TYPE_F32) {
        plm_fail(PLM_E_UNSUPPORTED, "1-D tensor '%s' has type %s; only f32 is supported for it",
                 name, plm_type_name(t->type));
        return NULL;
    }
    return t;
}

const plm_tensor *model_tensor(plm_model *m, int64_t ne0, int64_t ne1, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const plm_tensor *t = tensor_check(m, 1, ne0, ne1, fmt, ap);
    va_end(ap);
    return t;
}

const plm_tensor *model_tensor_opt(plm_model *m, int64_t ne0, int64_t ne1, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const plm_tensor *t = tensor_check(m, 0, ne0, ne1, fmt, ap);
    va_end(ap);
    return t;
}

int model_tensor_try(plm_model *m, const plm_tensor **out, int64_t ne0, int64_t ne1,
                     const char *fmt, ...) {
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    *out = NULL;
    if (!gguf_find_tensor(m->gguf, name)) return PLM_OK;
    *out = model_tensor(m, ne0, ne1, "%s", name);
    return *out ? PLM_OK : plm_errcode();
}

const float *tensor_f32(const plm_tensor *t) {
    return t && t->type == PLM_TYPE_F32 ? (const float *)t->data : NULL;
}

/* ------------------------------------------------------- hyper-parameters */
static int hp_key(const plm_model *m, const char *suffix, char *key, size_t cap) {
    int w = snprintf(key, cap, "%s.%s", m->arch_name, suffix);
    if (w < 0 || (size_t)w >= cap) return plm_fail(PLM_E_INVALID, "metadata key too long");
    return PLM_OK;
}

int model_hp_u32(plm_model *m, const char *suffix, int required, int def, int *out) {
    char key[128];
    int rc = hp_key(m, suffix, key, sizeof key);
    if (rc) return rc;
    uint32_t v = 0;
    rc = gguf_get_u32(m->gguf, key, &v);
    if (rc < 0) return rc;
    if (rc == 0) {
        if (required) return plm_fail(PLM_E_MISSING, "metadata key '%s' is missing", key);
        *out = def;
        return PLM_OK;
    }
    if (v > INT_MAX) return plm_fail(PLM_E_FORMAT, "metadata '%s' = %u is out of range", key, v);
    *out = (int)v;
    return PLM_OK;
}

int model_hp_f32(plm_model *m, const char *suffix, int required, float def, float *out) {
    char key[128];
    int rc = hp_key(m, suffix, key, sizeof key);
    if (rc) return rc;
    float v = 0;
    rc = gguf_get_f32(m->gguf, key, &v);
    if (rc < 0) return rc;
    if (rc == 0) {
        if (required) return plm_fail(PLM_E_MISSING, "metadata key '%s' is missing", key);
        *out = def;
        return PLM_OK;
    }
    *out = v;
    return PLM_OK;
}

/* ------------------------------------------------- hostile-file limits */
int model_check_hparams(plm_model *m) {
    const plm_hparams *hp = &m->hp;
    const char *a = m->arch_name;
    const struct {
        const char *key;
        int v, max;
    } dims[] = {
        {"embedding_length", hp->n_embd, PLM_MAX_WIDTH},
        {"feed_forward_length", hp->n_ff, PLM_MAX_WIDTH},
        {"attention.head_count", hp->n_head, PLM_MAX_WIDTH},
        {"attention.head_count_kv", hp->n_head_kv, PLM_MAX_WIDTH},
        {"attention.key_length", hp->head_dim, PLM_MAX_WIDTH},
        {"rope.dimension_count", hp->n_rot, PLM_MAX_WIDTH},
        {"vocab_size (token_embd.weight rows)", hp->n_vocab, PLM_MAX_WIDTH},
        {"block_count", hp->n_layer, PLM_MAX_LAYERS},
        {"decoder_block_count", hp->n_layer_dec, PLM_MAX_LAYERS},
        {"context_length", hp->n_ctx_train, INT32_MAX},
    };
    for (size_t i = 0; i < sizeof dims / sizeof *dims; i++)
        if (dims[i].v < 0 || dims[i].v > dims[i].max)
            return plm_fail(PLM_E_FORMAT, "%s: metadata '%s.%s' = %d is outside the supported range [0, %d]", a, a,
                            dims[i].key, dims[i].v, dims[i].max);
    /* the products the architectures form: heads x head size (queries, keys/values) */
    const struct {
        const char *what;
        int a, b;
    } prods[] = {
        {"attention.head_count x attention.key_length", hp->n_head, hp->head_dim},
        {"attention.head_count_kv x attention.key_length", hp->n_head_kv, hp->head_dim},
    };
    for (size_t i = 0; i < sizeof prods / sizeof *prods; i++) {
        int p;
        if (!plm_int_mul(prods[i].a, prods[i].b, &p) || p > PLM_MAX_WIDTH)
            return plm_fail(PLM_E_FORMAT, "%s: %s = %d x %d = %lld is wider than the supported %d", a, prods[i].what,
                            prods[i].a, prods[i].b, (long long)prods[i].a * prods[i].b, PLM_MAX_WIDTH);
    }
    return PLM_OK;
}

int model_check_rows(const plm_model *m, int64_t rows, const char *fn) {
    const plm_hparams *hp = &m->hp;
    int64_t w = PLM_MAX(PLM_MAX(hp->n_embd, hp->n_ff), PLM_MAX(hp->n_vocab, 1));
    w = PLM_MAX(w, (int64_t)hp->n_head * hp->head_dim);
    w = PLM_MAX(w, 3 * (int64_t)hp->n_embd); /* fused q|k|v rows */
    int n;
    size_t bytes;
    if (rows < 0 || !plm_int_mul(rows, w, &n) || !plm_size_mul((size_t)n, sizeof(float), &bytes))
        return plm_fail(PLM_E_TOO_LONG, "%s: %lld rows of up to %lld values are more than one call can hold "
                        "(%.1f GB); pass fewer tokens or sequences", fn, (long long)rows, (long long)w,
                        (double)rows * (double)w * 4.0 / 1e9);
    return PLM_OK;
}

/* Common keys, read leniently (absent or odd -> 0). The arch's init() re-reads
 * what it needs with validation; this is what a vocab-only load reports. */
static void hp_prefill(plm_model *m) {
    const gguf_ctx *g = m->gguf;
    char key[128];
#define HP(field, suffix)                                                   \
    do {                                                                    \
        snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);           \
        uint32_t v_ = gguf_u32_or(g, key, 0);                               \
        m->hp.field = v_ > INT_MAX ? 0 : (int)v_;                           \
    } while (0)
    HP(n_ctx_train, "context_length");
    HP(n_embd, "embedding_length");
    HP(n_layer, "block_count");
    HP(n_layer_dec, "decoder_block_count");
    HP(n_head, "attention.head_count");
    HP(n_head_kv, "attention.head_count_kv");
    HP(head_dim, "attention.key_length");
    HP(n_ff, "feed_forward_length");
    HP(n_rot, "rope.dimension_count");
    HP(n_vocab, "vocab_size");
#undef HP
    if (!m->hp.n_head_kv) m->hp.n_head_kv = m->hp.n_head;
    if (!m->hp.head_dim && m->hp.n_head && m->hp.n_embd % m->hp.n_head == 0)
        m->hp.head_dim = m->hp.n_embd / m->hp.n_head;
    if (!m->hp.n_vocab && m->vocab) m->hp.n_vocab = vocab_n_tokens(m->vocab);
}

/* ------------------------------------------------------- scratch, KV cache */
int plm_buf_reserve(plm_buf *b, size_t n, const char *what) {
    if (n <= b->n) return PLM_OK;
    if (n > SIZE_MAX / sizeof(float)) return plm_fail(PLM_E_NOMEM, "%s: size overflow", what);
    float *p = plm_aligned_alloc_for(n * sizeof(float), what);
    if (!p) return PLM_E_NOMEM;
    plm_aligned_free(b->p);
    b->p = p;
    b->n = n;
    return PLM_OK;
}

void plm_buf_free(plm_buf *b) {
    plm_aligned_free(b->p);
    b->p = NULL;
    b->n = 0;
}

int kv_cache_init(plm_kv_cache *kv, int n_layer, int kv_dim, int n_ctx) {
    memset(kv, 0, sizeof *kv);
    if (n_layer <= 0 || kv_dim <= 0 || n_ctx <= 0)
        return plm_fail(PLM_E_INVALID, "bad KV cache shape (%d layers, %d wide, %d positions)",
                        n_layer, kv_dim, n_ctx);
    /* context x kv width x layers x (K, V): refuse a context this build can never hold */
    size_t row, all;
    int elems;
    if (!plm_int_mul(n_ctx, kv_dim, &elems) || !plm_size_mul((size_t)elems, sizeof(float), &row) ||
        !plm_size_mul3(row, (size_t)n_layer, 2, &all))
        return plm_fail(PLM_E_TOO_LONG, "a context of %d tokens needs a %.1f GB KV cache (%d layers x %d wide), "
                        "more than this build can address; pass a smaller context", n_ctx,
                        (double)n_ctx * kv_dim * 4.0 * 2.0 * n_layer / 1e9, n_layer, kv_dim);
    kv->k = plm_calloc_for((size_t)n_layer, sizeof(float *), "KV cache");
    kv->v = plm_calloc_for((size_t)n_layer, sizeof(float *), "KV cache");
    if (!kv->k || !kv->v) {
        kv_cache_free(kv);
        return PLM_E_NOMEM;
    }
    kv->n_layer = n_layer;
    kv->kv_dim = kv_dim;
    kv->n_ctx = n_ctx;
    return PLM_OK;
}

int kv_cache_reserve(plm_kv_cache *kv, int n_pos) {
    if (n_pos <= kv->cap) return PLM_OK;
    if (n_pos > kv->n_ctx)
        return plm_fail(PLM_E_TOO_LONG, "KV cache: %d positions exceed the context of %d", n_pos,
                        kv->n_ctx);
    /* grow geometrically (at least 256 positions at a time), capped at n_ctx */
    int64_t cap = (int64_t)kv->cap * 2;
    if (cap < 256) cap = 256;
    if (cap < n_pos) cap = n_pos;
    if (cap > kv->n_ctx) cap = kv->n_ctx;
    size_t row = (size_t)kv->kv_dim * sizeof(float);
    if ((size_t)cap > SIZE_MAX / row) return plm_fail(PLM_E_NOMEM, "KV cache: size overflow");
    size_t bytes = (size_t)cap * row;
    /* allocate every new buffer first so that a failure changes nothing */
    int n = kv->n_layer;
    float **nk = plm_calloc_for((size_t)n * 2, sizeof(float *), "KV cache");
    if (!nk) return PLM_E_NOMEM;
    float **nv = nk + n;
    int rc = PLM_OK;
    for (int l = 0; l < n && rc == PLM_OK; l++) {
        nk[l] = plm_aligned_alloc_for(bytes, "KV cache");
        nv[l] = nk[l] ? plm_aligned_alloc_for(bytes, "KV cache") : NULL;
        if (!nk[l] || !nv[l]) rc = PLM_E_NOMEM;
    }
    if (rc != PLM_OK) {
        for (int l = 0; l < n; l++) {
            plm_aligned_free(nk[l]);
            plm_aligned_free(nv[l]);
        }
        free(nk);
        return rc;
    }
    for (int l = 0; l < n; l++) {
        if (kv->cap) {
            memcpy(nk[l], kv->k[l], (size_t)kv->cap * row);
            memcpy(nv[l], kv->v[l], (size_t)kv->cap * row);
        }
        plm_aligned_free(kv->k[l]);
        plm_aligned_free(kv->v[l]);
        kv->k[l] = nk[l];
        kv->v[l] = nv[l];
    }
    free(nk);
    kv->cap = (int)cap;
    return PLM_OK;
}

void kv_cache_free(plm_kv_cache *kv) {
    for (int l = 0; l < kv->n_layer; l++) {
        if (kv->k) plm_aligned_free(kv->k[l]);
        if (kv->v) plm_aligned_free(kv->v[l]);
    }
    free(kv->k);
    free(kv->v);
    memset(kv, 0, sizeof *kv);
}

/* ------------------------------------------------------------ JSON output */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int err;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->err) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = plm_realloc_for(b->s, cap, "model JSON");
        if (!p) {
            b->err = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0) return;
    sb_put(b, tmp, (size_t)w < sizeof tmp ? (size_t)w : sizeof tmp - 1);
}

static void sb_json_str(sbuf *b, const char *s) {
    if (!s) {
        sb_puts(b, "null");
        return;
    }
    sb_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            sb_put(b, e, 2);
        } else if (*p < 0x20) {
            sb_printf(b, "\\u%04x", *p);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_puts(b, "\"");
}

static void sb_key(sbuf *b, int *first, const char *key) {
    if (!*first) sb_puts(b, ",");
    *first = 0;
    sb_json_str(b, key);
    sb_puts(b, ":");
}

static void sb_id(sbuf *b, int32_t id) {
    if (id < 0)
        sb_puts(b, "null");
    else
        sb_printf(b, "%d", (int)id);
}

/* llama.cpp's llama_model_ftype_name() for general.file_type */
static const char *ftype_name(uint32_t ft) {
    switch (ft) {
    case 0: return "all F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K - Medium";
    case 11: return "Q3_K - Small";
    case 12: return "Q3_K - Medium";
    case 13: return "Q3_K - Large";
    case 14: return "Q4_K - Small";
    case 15: return "Q4_K - Medium";
    case 16: return "Q5_K - Small";
    case 17: return "Q5_K - Medium";
    case 18: return "Q6_K";
    case 19: return "IQ2_XXS - 2.0625 bpw";
    case 20: return "IQ2_XS - 2.3125 bpw";
    case 21: return "Q2_K - Small";
    case 22: return "IQ3_XS - 3.3 bpw";
    case 23: return "IQ3_XXS - 3.0625 bpw";
    case 24: return "IQ1_S - 1.5625 bpw";
    case 25: return "IQ4_NL - 4.5 bpw";
    case 26: return "IQ3_S - 3.4375 bpw";
    case 27: return "IQ3_S mix - 3.66 bpw";
    case 28: return "IQ2_S - 2.5 bpw";
    case 29: return "IQ2_M - 2.7 bpw";
    case 30: return "IQ4_XS - 4.25 bpw";
    case 31: return "IQ1_M - 1.75 bpw";
    case 32: return "BF16";
    case 36: return "TQ1_0 - 1.69 bpw ternary";
    case 37: return "TQ2_0 - 2.06 bpw ternary";
    default: return NULL;
    }
}

static char *build_info(const plm_model *m) {
    const gguf_ctx *g = m->gguf;
    const plm_hparams *hp = &m->hp;
    sbuf b = {0};
    int first = 1;
    sb_puts(&b, "{");
    sb_key(&b, &first, "architecture");
    sb_json_str(&b, m->arch_name);
    sb_key(&b, &first, "name");
    sb_json_str(&b, gguf_get_str(g, "general.name"));
    const plm_arch *a = m->arch ? m->arch : arch_find(m->arch_name); /* also for vocab-only */
    sb_key(&b, &first, "causal");
    sb_puts(&b, a && a->decode ? "true" : "false");
    sb_key(&b, &first, "vocabOnly");
    sb_puts(&b, m->arch ? "false" : "true");
    sb_key(&b, &first, "contextLength");
    sb_printf(&b, "%d", hp->n_ctx_train);
    sb_key(&b, &first, "vocabSize");
    sb_printf(&b, "%d", hp->n_vocab);
    sb_key(&b, &first, "embeddingLength");
    sb_printf(&b, "%d", hp->n_embd);
    sb_key(&b, &first, "blockCount");
    sb_printf(&b, "%d", hp->n_layer);
    if (hp->n_layer_dec) {
        sb_key(&b, &first, "decoderBlockCount");
        sb_printf(&b, "%d", hp->n_layer_dec);
    }
    sb_key(&b, &first, "headCount");
    sb_printf(&b, "%d", hp->n_head);
    sb_key(&b, &first, "headCountKv");
    sb_printf(&b, "%d", hp->n_head_kv);
    sb_key(&b, &first, "feedForwardLength");
    sb_printf(&b, "%d", hp->n_ff);

    /* parameters, bytes and tensor types over all tensors */
    int64_t nt = gguf_n_tensors(g);
    double n_params = 0;
    int type_count[PLM_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < nt; i++) {
        const plm_tensor *t = gguf_tensor_at(g, i);
        double ne = 1;
        for (int d = 0; d < PLM_MAX_DIMS; d++) ne *= (double)t->ne[d];
        n_params += ne;
        if (t->type >= 0 && t->type < PLM_TYPE_COUNT) type_count[t->type]++;
    }
    sb_key(&b, &first, "nParams");
    sb_printf(&b, "%.0f", n_params);
    sb_key(&b, &first, "nTensors");
    sb_printf(&b, "%lld", (long long)nt);
    uint32_t ft = 0;
    int have_ft = gguf_get_u32(g, "general.file_type", &ft) == 1;
    sb_key(&b, &first, "fileType");
    sb_json_str(&b, have_ft ? ftype_name(ft) : NULL);
    sb_key(&b, &first, "sizeBytes");
    sb_printf(&b, "%.0f", (double)gguf_data_bytes(g));
    sb_key(&b, &first, "tensorTypes");
    sb_puts(&b, "{");
    int tfirst = 1;
    for (int t = 0; t < PLM_TYPE_COUNT; t++) {
        if (!type_count[t]) continue;
        const char *tn = plm_type_name(t);
        char fallback[24];
        if (!tn) {
            snprintf(fallback, sizeof fallback, "type%d", t);
            tn = fallback;
        }
        sb_key(&b, &tfirst, tn);
        sb_printf(&b, "%d", type_count[t]);
    }
    sb_puts(&b, "}");

    sb_key(&b, &first, "tokenizer");
    if (!m->vocab) {
        sb_puts(&b, "null");
    } else {
        const plm_vocab *v = m->vocab;
        int f2 = 1;
        static const char *const algo[] = {"none", "spm", "bpe", "wpm", "ugm"};
        const int vt = vocab_type(v);
        sb_puts(&b, "{");
        sb_key(&b, &f2, "type"); /* llama.cpp's vocab type names */
        sb_json_str(&b, vt >= 0 && vt <= 4 ? algo[vt] : NULL);
        sb_key(&b, &f2, "model");
        sb_json_str(&b, gguf_get_str(g, "tokenizer.ggml.model"));
        sb_key(&b, &f2, "pre");
        sb_json_str(&b, gguf_get_str(g, "tokenizer.ggml.pre"));
        sb_key(&b, &f2, "nTokens");
        sb_printf(&b, "%d", (int)vocab_n_tokens(v));
        sb_key(&b, &f2, "bos");
        sb_id(&b, vocab_bos(v));
        sb_key(&b, &f2, "eos");
        sb_id(&b, vocab_eos(v));
        sb_key(&b, &f2, "unk");
        sb_id(&b, vocab_unk(v));
        sb_key(&b, &f2, "pad");
        sb_id(&b, vocab_pad(v));
        sb_key(&b, &f2, "sep");
        sb_id(&b, vocab_sep(v));
        sb_key(&b, &f2, "mask");
        sb_id(&b, vocab_mask(v));
        sb_key(&b, &f2, "addBos");
        sb_puts(&b, vocab_add_bos(v) ? "true" : "false");
        sb_key(&b, &f2, "addEos");
        sb_puts(&b, vocab_add_eos(v) ? "true" : "false");
        sb_puts(&b, "}");
    }
    sb_puts(&b, "}");
    if (b.err) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static char *build_meta(const plm_model *m, int max_elems) {
    const gguf_ctx *g = m->gguf;
    sbuf b = {0};
    int first = 1;
    sb_puts(&b, "{");
    int64_t n = gguf_n_kv(g);
    for (int64_t i = 0; i < n && !b.err; i++) {
        char *v = gguf_kv_to_json(g, i, max_elems);
        if (!v) {
            b.err = 1;
            break;
        }
        sb_key(&b, &first, gguf_kv_key(g, i));
        sb_puts(&b, v);
        free(v);
    }
    sb_puts(&b, "}");
    if (b.err) {
        if (plm_errcode() == 0) plm_fail(PLM_E_NOMEM, "out of memory building the metadata JSON");
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* ------------------------------------------------------------------ model */
void plm_model_free(plm_model *m) {
    if (!m) return;
    if (m->arch && m->arch->free) m->arch->free(m);
    vocab_free(m->vocab);
    gguf_free(m->gguf);
    free(m->arch_name);
    free(m->info_json);
    free(m->meta_json);
    free(m);
}

/* Takes ownership of g in every case. */
/* Repack the quantized matrices for the GEMM kernels (in place, same size:
 * ops.h, plm_tensor_pack_for_matmul), once init() has bound and checked them.
 * Every reader of a weight goes through op_matmul / op_get_rows, which read
 * either layout. */
static int pack_weights(plm_model *m) {
    for (int64_t i = 0; i < gguf_n_tensors(m->gguf); i++) {
        int rc = plm_tensor_pack_for_matmul(gguf_tensor_at_mut(m->gguf, i));
        if (rc) return rc;
    }
    return PLM_OK;
}

static plm_model *model_from_gguf(gguf_ctx *g, int flags) {
    if (!g) return NULL;
    if (flags & ~PLM_LOAD_VOCAB_ONLY) {
        plm_fail(PLM_E_INVALID, "unknown load flags 0x%x", (unsigned)flags);
        gguf_free(g);
        return NULL;
    }
    plm_model *m = plm_calloc_for(1, sizeof *m, "model");
    if (!m) {
        gguf_free(g);
        return NULL;
    }
    m->gguf = g;
    const int vocab_only = (flags & PLM_LOAD_VOCAB_ONLY) != 0;

    const char *arch = gguf_get_str(g, "general.architecture");
    if (!arch) {
        plm_fail(gguf_find_key(g, "general.architecture") < 0 ? PLM_E_MISSING : PLM_E_FORMAT,
                 "metadata key 'general.architecture' is %s",
                 gguf_find_key(g, "general.architecture") < 0 ? "missing" : "not a string");
        goto fail;
    }
    m->arch_name = plm_strdup_for(arch, "architecture name");
    if (!m->arch_name) goto fail;

    const plm_arch *a = NULL;
    if (!vocab_only) {
        a = arch_find(arch);
        if (!a) {
            fail_unknown_arch(arch);
            goto fail;
        }
    }

    /* Tokenizer: optional for a model, required for a vocab-only load. */
    if (gguf_find_key(g, "tokenizer.ggml.model") >= 0) {
        m->vocab = vocab_load(g);
        if (!m->vocab) goto fail;
    } else if (vocab_only) {
        plm_fail(PLM_E_MISSING, "the file has no tokenizer (metadata key 'tokenizer.ggml.model')");
        goto fail;
    }

    hp_prefill(m);
    if (a && gguf_n_tensors(g) == 0) {
        plm_fail(PLM_E_MISSING, "the file has no tensors (a vocab-only GGUF?): load it with "
                                "PLM_LOAD_VOCAB_ONLY to use its tokenizer");
        goto fail;
    }
    if (a) {
        m->arch = a;
        m->arch_id = a->id;
        if (a->init(m) != PLM_OK || model_check_hparams(m) != PLM_OK) goto fail;
        if (pack_weights(m) != PLM_OK) goto fail;
    }
    return m;

fail:
    plm_model_free(m);
    return NULL;
}

/* A vocab-only load reads the metadata and nothing else. */
static int gguf_flags(int flags) { return (flags & PLM_LOAD_VOCAB_ONLY) ? GGUF_METADATA_ONLY : 0; }

plm_model *plm_model_load_buffer(const void *data, size_t n, int flags) {
    if (!data && n) {
        plm_fail(PLM_E_INVALID, "plm_model_load_buffer: NULL data");
        return NULL;
    }
    return model_from_gguf(gguf_load_buffer_flags(data, n, gguf_flags(flags)), flags);
}

plm_model *plm_model_load_file(const char *path, int flags) {
    if (!path) {
        plm_fail(PLM_E_INVALID, "plm_model_load_file: NULL path");
        return NULL;
    }
    return model_from_gguf(gguf_load_file_flags(path, gguf_flags(flags)), flags);
}

const char *plm_model_info(plm_model *m) {
    if (!m) {
        plm_fail(PLM_E_INVALID, "plm_model_info: NULL model");
        return NULL;
    }
    if (!m->info_json) m->info_json = build_info(m);
    return m->info_json;
}

const char *plm_model_meta(plm_model *m, int max_elems) {
    if (!m) {
        plm_fail(PLM_E_INVALID, "plm_model_meta: NULL model");
        return NULL;
    }
    char *s = build_meta(m, max_elems);
    if (!s) return NULL;
    free(m->meta_json);
    m->meta_json = s;
    return s;
}

/* ----------------------------------------------------------------- loader */
struct plm_loader {
    gguf_stream *s;
    int flags; /* plm_loader_set_flags */
};

plm_loader *plm_loader_new(void) {
    plm_loader *l = plm_calloc_for(1, sizeof *l, "loader");
    if (!l) return NULL;
    l->s = gguf_stream_new();
    if (!l->s) {
        free(l);
        return NULL;
    }
    return l;
}

int plm_loader_set_size(plm_loader *l, double bytes) {
    if (!l) return plm_fail(PLM_E_INVALID, "plm_loader_set_size: NULL loader");
    if (!(bytes >= 0 && bytes <= 9007199254740992.0) || bytes != (double)(uint64_t)bytes)
        return plm_fail(PLM_E_INVALID, "plm_loader_set_size: %g is not a file size in bytes", bytes);
    if (gguf_stream_received(l->s) != 0)
        return plm_fail(PLM_E_STATE, "plm_loader_set_size: must be called before the first byte of a file");
    gguf_stream_set_size_hint(l->s, (uint64_t)bytes);
    return PLM_OK;
}

int plm_loader_set_flags(plm_loader *l, int flags) {
    if (!l) return plm_fail(PLM_E_INVALID, "plm_loader_set_flags: NULL loader");
    if (flags & ~PLM_LOAD_VOCAB_ONLY) return plm_fail(PLM_E_INVALID, "unknown load flags 0x%x", (unsigned)flags);
    if ((flags & PLM_LOAD_VOCAB_ONLY) && !(l->flags & PLM_LOAD_VOCAB_ONLY)) {
        int rc = gguf_stream_set_metadata_only(l->s);
        if (rc < 0) return rc;
    } else if (!(flags & PLM_LOAD_VOCAB_ONLY) && (l->flags & PLM_LOAD_VOCAB_ONLY)) {
        return plm_fail(PLM_E_STATE, "plm_loader_set_flags: a vocab-only loader cannot become a full one");
    }
    l->flags = flags;
    return PLM_OK;
}

uint8_t *plm_loader_dst(plm_loader *l) {
    if (!l) {
        plm_fail(PLM_E_INVALID, "plm_loader_dst: NULL loader");
        return NULL;
    }
    size_t room = 0;
    return gguf_stream_dst(l->s, &room);
}

size_t plm_loader_room(plm_loader *l) {
    if (!l) return 0;
    size_t room = 0;
    return gguf_stream_dst(l->s, &room) ? room : 0;
}

int plm_loader_commit(plm_loader *l, size_t n) {
    if (!l) return plm_fail(PLM_E_INVALID, "plm_loader_commit: NULL loader");
    return gguf_stream_commit(l->s, n); /* GGUF_* == PLM_LOAD_* */
}

double plm_loader_file_size(plm_loader *l) {
    return l ? (double)gguf_stream_file_size(l->s) : 0.0;
}

int plm_loader_next_file(plm_loader *l) {
    if (!l) return plm_fail(PLM_E_INVALID, "plm_loader_next_file: NULL loader");
    return gguf_stream_next_file(l->s);
}

int plm_loader_files_left(plm_loader *l) {
    if (!l) return plm_fail(PLM_E_INVALID, "plm_loader_files_left: NULL loader");
    return gguf_stream_files_left(l->s);
}

plm_model *plm_loader_finish(plm_loader *l, int flags) {
    if (!l) {
        plm_fail(PLM_E_INVALID, "plm_loader_finish: NULL loader");
        return NULL;
    }
    const int set = l->flags;
    gguf_ctx *g = gguf_stream_finish(l->s); /* frees the stream either way */
    free(l);
    return model_from_gguf(g, flags | set);
}

void plm_loader_free(plm_loader *l) {
    if (!l) return;
    gguf_stream_free(l->s);
    free(l);
}
