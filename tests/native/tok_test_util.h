/* tok_test_util.h — helpers shared by the tokenizer tests:
 *   - a tiny in-memory GGUF writer (metadata only) to build vocabularies with
 *     exactly the keys a test wants (missing keys, unknown models, ...);
 *   - loading a vocab from a fixture file;
 *   - comparing id lists and reading JSONL fixtures. */
#ifndef PLM_TOK_TEST_UTIL_H
#define PLM_TOK_TEST_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "gguf.h"
#include "json.h"
#include "tokenizer.h"

typedef struct {
    unsigned char *p;
    size_t n, cap;
    uint64_t n_kv;
} gguf_builder;

static inline void gb_bytes(gguf_builder *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void gb_u32(gguf_builder *b, uint32_t v) { gb_bytes(b, &v, 4); }
static inline void gb_u64(gguf_builder *b, uint64_t v) { gb_bytes(b, &v, 8); }
static inline void gb_strn(gguf_builder *b, const char *s, size_t n) {
    gb_u64(b, n);
    gb_bytes(b, s, n);
}
static inline void gb_str(gguf_builder *b, const char *s) { gb_strn(b, s, strlen(s)); }

static inline void gb_begin(gguf_builder *b) {
    memset(b, 0, sizeof *b);
    gb_bytes(b, "GGUF", 4);
    gb_u32(b, 3);
    gb_u64(b, 0); /* tensors */
    gb_u64(b, 0); /* kv count, patched by gb_end */
}
static inline void gb_key(gguf_builder *b, const char *key, uint32_t type) {
    gb_str(b, key);
    gb_u32(b, type);
    b->n_kv++;
}
static inline void kv_str(gguf_builder *b, const char *key, const char *v) {
    gb_key(b, key, GGUF_TYPE_STRING);
    gb_str(b, v);
}
static inline void kv_u32(gguf_builder *b, const char *key, uint32_t v) {
    gb_key(b, key, GGUF_TYPE_UINT32);
    gb_u32(b, v);
}
static inline void kv_bool(gguf_builder *b, const char *key, int v) {
    gb_key(b, key, GGUF_TYPE_BOOL);
    unsigned char c = (unsigned char)(v != 0);
    gb_bytes(b, &c, 1);
}
static inline void kv_arr_str(gguf_builder *b, const char *key, const char *const *s, size_t n) {
    gb_key(b, key, GGUF_TYPE_ARRAY);
    gb_u32(b, GGUF_TYPE_STRING);
    gb_u64(b, n);
    for (size_t i = 0; i < n; i++) gb_str(b, s[i]);
}
static inline void kv_arr_f32(gguf_builder *b, const char *key, const float *v, size_t n) {
    gb_key(b, key, GGUF_TYPE_ARRAY);
    gb_u32(b, GGUF_TYPE_FLOAT32);
    gb_u64(b, n);
    gb_bytes(b, v, 4 * n);
}
static inline void kv_arr_i32(gguf_builder *b, const char *key, const int32_t *v, size_t n) {
    gb_key(b, key, GGUF_TYPE_ARRAY);
    gb_u32(b, GGUF_TYPE_INT32);
    gb_u64(b, n);
    gb_bytes(b, v, 4 * n);
}
/* Finish: patch the kv count, pad to the default alignment, parse. */
static inline gguf_ctx *gb_end(gguf_builder *b) {
    memcpy(b->p + 16, &b->n_kv, 8);
    static const unsigned char zero[32] = {0};
    if (b->n % 32) gb_bytes(b, zero, 32 - b->n % 32);
    gguf_ctx *g = gguf_load_buffer(b->p, b->n);
    free(b->p);
    b->p = NULL;
    return g;
}

/* A vocab from a fixture file, or NULL (with a message) if it cannot be read. */
static inline plm_vocab *load_vocab_file(const char *path, gguf_ctx **gout) {
    gguf_ctx *g = gguf_load_file(path);
    if (!g) {
        fprintf(stderr, "cannot load %s: %s\n", path, plm_errmsg());
        return NULL;
    }
    plm_vocab *v = vocab_load(g);
    if (!v) fprintf(stderr, "vocab_load(%s): %s\n", path, plm_errmsg());
    if (gout) *gout = g;
    else gguf_free(g);
    return v;
}

/* Encode into a malloc'd list (*n ids); returns the vocab_encode result. */
static inline int encode_alloc(const plm_vocab *v, const char *s, size_t len, int add_special, int parse_special,
                        int32_t **ids) {
    int n = vocab_encode(v, s, len, add_special, parse_special, NULL, 0);
    *ids = NULL;
    if (n < 0) return n;
    *ids = malloc(((size_t)n + 1) * sizeof **ids);
    int m = vocab_encode(v, s, len, add_special, parse_special, *ids, n);
    return m == n ? n : -1000;
}

/* Decode into a malloc'd NUL-terminated string; returns the length or < 0. */
static inline int decode_alloc(const plm_vocab *v, const int32_t *ids, int n, int flags, char **out) {
    int len = vocab_decode(v, ids, n, flags, NULL, 0);
    *out = NULL;
    if (len < 0) return len;
    *out = malloc((size_t)len + 1);
    int m = vocab_decode(v, ids, n, flags, *out, len);
    (*out)[len] = 0;
    return m == len ? len : -1000;
}

static inline int ids_equal_json(const int32_t *ids, int n, const json_value *arr) {
    if (!arr || arr->type != JSON_ARR || (size_t)n != arr->n) return 0;
    for (int i = 0; i < n; i++)
        if (ids[i] != (int32_t)arr->arr[i]->num) return 0;
    return 1;
}

static inline void print_ids(const char *label, const int32_t *ids, int n) {
    fprintf(stderr, "  %s (%d):", label, n);
    for (int i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

static inline void print_json_ids(const char *label, const json_value *arr) {
    fprintf(stderr, "  %s (%zu):", label, arr ? arr->n : 0);
    for (size_t i = 0; arr && i < arr->n && i < 40; i++) fprintf(stderr, " %d", (int)arr->arr[i]->num);
    fprintf(stderr, arr && arr->n > 40 ? " ...\n" : "\n");
}

/* tests/fixtures/tokenizers/unk_decode.json, section `model` ("llama" / "t5"):
 * sentencepiece's decode of id sequences holding the unknown piece must equal
 * vocab_decode(SKIP_SPECIAL | STRIP_LEADING); without SKIP_SPECIAL the unknown
 * token shows its own text. Returns the number of cases checked. */
static inline int check_unk_decode(const plm_vocab *v, const char *model) {
    size_t len;
    char *text = test_read_file("tests/fixtures/tokenizers/unk_decode.json", &len);
    json_value *root = text ? json_parse(text, len) : NULL;
    free(text);
    const json_value *sec = root ? json_get(root, model) : NULL;
    const json_value *cases = sec ? json_get(sec, "cases") : NULL;
    CHECK_MSG(cases != NULL, "unk_decode.json: no section %s", model);
    if (!cases) {
        json_free(root);
        return 0;
    }
    const int32_t unk = (int32_t)json_get(sec, "unk")->num;
    CHECK_EQ_INT(vocab_unk(v), unk);
    int ok = 0;
    for (size_t c = 0; c < cases->n; c++) {
        const json_value *jids = json_get(cases->arr[c], "ids"), *want = json_get(cases->arr[c], "text");
        int32_t ids[512];
        const int n = (int)jids->n;
        CHECK(n <= 512);
        if (n > 512) continue;
        for (int i = 0; i < n; i++) ids[i] = (int32_t)jids->arr[i]->num;
        char *got;
        int gl = decode_alloc(v, ids, n, PLM_DECODE_SKIP_SPECIAL | PLM_DECODE_STRIP_LEADING, &got);
        const int good = gl == (int)want->slen && !memcmp(got, want->str, want->slen);
        ok += good;
        CHECK_MSG(good, "%s unk case %zu: \"%s\", sentencepiece \"%s\"", model, c, got ? got : "(error)", want->str);
        free(got);
        /* without SKIP_SPECIAL: "<unk>" as written, once per unknown id */
        gl = decode_alloc(v, ids, n, PLM_DECODE_STRIP_LEADING, &got);
        int n_unk = 0, n_lit = 0;
        for (int i = 0; i < n; i++) n_unk += ids[i] == unk;
        for (const char *p = got; p && (p = strstr(p, "<unk>")) != NULL; p += 5) n_lit++;
        CHECK_MSG(gl >= 0 && n_lit == n_unk && (!got || !strstr(got, "\xE2\x81\x87")),
                  "%s unk case %zu without SKIP_SPECIAL: \"%s\"", model, c, got ? got : "(error)");
        free(got);
    }
    /* one token at a time (streaming) */
    char buf[8];
    CHECK_EQ_INT(vocab_token_bytes(v, unk, PLM_DECODE_SKIP_SPECIAL, buf, sizeof buf), 5);
    CHECK(!memcmp(buf, " \xE2\x81\x87 ", 5));
    CHECK_EQ_INT(vocab_token_bytes(v, unk, PLM_DECODE_SKIP_SPECIAL | PLM_DECODE_STRIP_LEADING, buf, 3), 5);
    CHECK(!memcmp(buf, " \xE2\x81", 3));
    CHECK_EQ_INT(vocab_token_bytes(v, unk, 0, buf, sizeof buf), 5);
    CHECK(!memcmp(buf, "<unk>", 5));
    json_free(root);
    return ok;
}

/* Calls fn(line object) for every line of a JSONL file; returns lines read or -1. */
static inline int for_each_jsonl(const char *path, void (*fn)(const json_value *, void *), void *ctx) {
    size_t len;
    char *text = test_read_file(path, &len);
    if (!text) return -1;
    int n = 0;
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (ll > 0) {
            json_value *j = json_parse(line, ll);
            if (j) {
                fn(j, ctx);
                json_free(j);
                n++;
            } else {
                fprintf(stderr, "%s: bad JSON line\n", path);
            }
        }
        line += ll + 1;
    }
    free(text);
    return n;
}
#endif
