/* tokenizer.c — the part every tokenizer shares (see tokenizer.h, tok_impl.h):
 * reading tokenizer.ggml.* from the GGUF, the token-text map, special tokens
 * (splitting the text on their literals, adding BOS/EOS/CLS/SEP), decoding,
 * and the plm_* tokenizer functions of plm.h.
 *
 * Conventions follow llama.cpp's llama-vocab.cpp (defaults per model type,
 * special-token partitioning, dummy-prefix rule) and the Hugging Face
 * tokenizers the goldens come from (sentence pairs, decoding). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "model.h"
#include "tok_impl.h"
#include "unicode.h"

static const tok_algo *algo_for(const char *model, int *known) {
    static const struct { const char *model; const tok_algo *algo; } table[] = {
        {"llama", &tok_algo_spm},
        {"gpt2", &tok_algo_bpe},
        {"bert", &tok_algo_wpm},
        {"t5", &tok_algo_ugm},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(model, table[i].model) == 0) {
            *known = 1;
            return table[i].algo;
        }
    }
    *known = 0;
    return NULL;
}

/* ------------------------------------------------------------ small utils */

int tok_push(tok_ids *out, int32_t id) {
    if (out->n == out->cap) {
        int cap = out->cap ? out->cap * 2 : 64;
        if (cap < out->cap || cap > INT_MAX / 8)
            return plm_fail(PLM_E_TOO_LONG, "tokenizer: too many tokens");
        int32_t *p = plm_realloc_for(out->ids, (size_t)cap * sizeof *p, "token ids");
        if (!p) return PLM_E_NOMEM;
        out->ids = p;
        out->cap = cap;
    }
    out->ids[out->n++] = id;
    return PLM_OK;
}

static uint32_t hash_bytes(const char *s, size_t len) {
    uint32_t h = 0x811C9DC5u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x01000193u;
    }
    return h;
}

int32_t tok_find(const plm_vocab *v, const char *s, size_t len) {
    if (!v->map || len == 0) return -1;
    uint32_t mask = v->map_cap - 1;
    for (uint32_t i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        int32_t id = v->map[i];
        if (id < 0) return -1;
        if (v->text_len[id] == len && memcmp(v->text[id], s, len) == 0) return id;
    }
}

static int build_map(plm_vocab *v) {
    uint32_t cap = 16;
    while (cap < 2u * (uint32_t)v->n_tokens) cap *= 2;
    v->map = plm_malloc_for((size_t)cap * sizeof *v->map, "token map");
    if (!v->map) return PLM_E_NOMEM;
    memset(v->map, 0xFF, (size_t)cap * sizeof *v->map);
    v->map_cap = cap;
    for (int32_t id = 0; id < v->n_tokens; id++) {
        if (v->text_len[id] == 0) continue;
        if (tok_find(v, v->text[id], v->text_len[id]) >= 0) continue; /* duplicate: first id wins */
        uint32_t i = hash_bytes(v->text[id], v->text_len[id]) & (cap - 1);
        while (v->map[i] >= 0) i = (i + 1) & (cap - 1);
        v->map[i] = id;
    }
    return PLM_OK;
}

/* ---------------------------------------------------------------- loading */

static int read_tokens(plm_vocab *v, const gguf_ctx *g) {
    int et = -1;
    int64_t n = gguf_arr_n(g, "tokenizer.ggml.tokens", &et);
    if (n < 0) {
        if (gguf_find_key(g, "tokenizer.ggml.tokens") >= 0)
            return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.tokens is not an array");
        return plm_fail(PLM_E_MISSING, "tokenizer.ggml.tokens is missing (no vocabulary in the file)");
    }
    if (et != GGUF_TYPE_STRING)
        return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.tokens must be an array of strings");
    if (n == 0) return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.tokens is empty");
    if (n > INT32_MAX / 4) return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.tokens: %lld tokens is too many", (long long)n);
    v->n_tokens = (int32_t)n;

    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t len = 0;
        if (!gguf_arr_str(g, "tokenizer.ggml.tokens", i, &len))
            return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.tokens[%lld] cannot be read", (long long)i);
        if (len > UINT32_MAX / 2)
            return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.tokens[%lld] is too long", (long long)i);
        total += len + 1;
    }
    v->text = plm_malloc_for((size_t)n * sizeof *v->text, "token strings");
    v->text_len = plm_malloc_for((size_t)n * sizeof *v->text_len, "token lengths");
    v->text_blob = plm_malloc_for(total, "token strings");
    if (!v->text || !v->text_len || !v->text_blob) return PLM_E_NOMEM;
    char *p = v->text_blob;
    for (int64_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *s = gguf_arr_str(g, "tokenizer.ggml.tokens", i, &len);
        memcpy(p, s, len);
        p[len] = 0;
        v->text[i] = p;
        v->text_len[i] = (uint32_t)len;
        p += len + 1;
    }
    return PLM_OK;
}

static int read_scores_and_types(plm_vocab *v, const gguf_ctx *g) {
    int et = -1;
    int64_t n = gguf_arr_n(g, "tokenizer.ggml.scores", &et);
    if (n >= 0) {
        if (et != GGUF_TYPE_FLOAT32 && et != GGUF_TYPE_INT32)
            return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.scores must be a float32 (or int32) array");
        if (n < v->n_tokens)
            return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.scores has %lld values for %d tokens",
                            (long long)n, (int)v->n_tokens);
        const unsigned char *data = gguf_arr_data(g, "tokenizer.ggml.scores");
        if (!data) return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.scores cannot be read");
        v->scores = plm_malloc_for((size_t)v->n_tokens * sizeof *v->scores, "token scores");
        if (!v->scores) return PLM_E_NOMEM;
        for (int32_t i = 0; i < v->n_tokens; i++) {
            if (et == GGUF_TYPE_FLOAT32) {
                memcpy(&v->scores[i], data + 4 * (size_t)i, 4);
            } else {
                int32_t x;
                memcpy(&x, data + 4 * (size_t)i, 4);
                v->scores[i] = (float)x;
            }
        }
    } else if (gguf_find_key(g, "tokenizer.ggml.scores") >= 0) {
        return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.scores is not an array");
    }

    v->types = plm_malloc_for((size_t)v->n_tokens * sizeof *v->types, "token types");
    if (!v->types) return PLM_E_NOMEM;
    n = gguf_arr_n(g, "tokenizer.ggml.token_type", &et);
    if (n < 0) {
        if (gguf_find_key(g, "tokenizer.ggml.token_type") >= 0)
            return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.token_type is not an array");
        for (int32_t i = 0; i < v->n_tokens; i++) v->types[i] = PLM_TOKEN_NORMAL;
        return PLM_OK;
    }
    if (et != GGUF_TYPE_INT32)
        return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.token_type must be an int32 array");
    if (n < v->n_tokens)
        return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.token_type has %lld values for %d tokens",
                        (long long)n, (int)v->n_tokens);
    const unsigned char *data = gguf_arr_data(g, "tokenizer.ggml.token_type");
    if (!data) return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.token_type cannot be read");
    for (int32_t i = 0; i < v->n_tokens; i++) {
        int32_t t;
        memcpy(&t, data + 4 * (size_t)i, 4);
        v->types[i] = (t >= PLM_TOKEN_UNDEFINED && t <= PLM_TOKEN_BYTE) ? t : PLM_TOKEN_UNDEFINED;
    }
    return PLM_OK;
}

/* Defaults exactly as llama.cpp's llama_vocab::impl::load() sets them per
 * model type before reading the keys. */
static void set_defaults(plm_vocab *v) {
    v->bos = v->eos = v->unk = v->pad = v->sep = v->cls = v->mask = v->eot = -1;
    v->add_bos = v->add_eos = v->add_sep = 0;
    v->add_space_prefix = 0;
    v->remove_extra_whitespaces = 0;
    switch (v->algo->type) {
    case PLM_VOCAB_SPM:
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_space_prefix = 1;
        v->add_bos = 1;
        break;
    case PLM_VOCAB_BPE:
        v->bos = 11, v->eos = 11; /* llama.cpp's (Falcon-era) defaults */
        break;
    case PLM_VOCAB_WPM:
        v->bos = 101, v->unk = 100, v->sep = 102, v->pad = 0, v->mask = 103;
        v->add_bos = 1;
        v->add_sep = 1;
        break;
    case PLM_VOCAB_UGM:
        v->eos = 1, v->unk = 2, v->pad = 0;
        v->add_eos = 1;
        break;
    }
}

/* An optional token id key: in range -> set; absent or out of range -> keep. */
static int read_id(plm_vocab *v, const gguf_ctx *g, const char *key, int32_t *id) {
    if (*id >= v->n_tokens) *id = -1; /* a default outside the vocabulary */
    int64_t x;
    int r = gguf_get_i64(g, key, &x);
    if (r < 0) return r;
    if (r == 1 && x >= 0 && x < v->n_tokens) *id = (int32_t)x;
    return PLM_OK;
}

static int read_flag(const gguf_ctx *g, const char *key, int *flag) {
    int b;
    int r = gguf_get_bool(g, key, &b);
    if (r < 0) return r;
    if (r == 1) *flag = b != 0;
    return PLM_OK;
}

static int read_specials(plm_vocab *v, const gguf_ctx *g) {
    int r;
    struct { const char *key; int32_t *id; } ids[] = {
        {"tokenizer.ggml.bos_token_id", &v->bos},
        {"tokenizer.ggml.eos_token_id", &v->eos},
        {"tokenizer.ggml.eot_token_id", &v->eot},
        {"tokenizer.ggml.unknown_token_id", &v->unk},
        {"tokenizer.ggml.seperator_token_id", &v->sep},
        {"tokenizer.ggml.padding_token_id", &v->pad},
        {"tokenizer.ggml.mask_token_id", &v->mask},
        {"tokenizer.ggml.cls_token_id", &v->cls},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if ((r = read_id(v, g, ids[i].key, ids[i].id)) < 0) return r;
    struct { const char *key; int *flag; } flags[] = {
        {"tokenizer.ggml.add_bos_token", &v->add_bos},
        {"tokenizer.ggml.add_eos_token", &v->add_eos},
        {"tokenizer.ggml.add_sep_token", &v->add_sep},
        {"tokenizer.ggml.add_space_prefix", &v->add_space_prefix},
        {"tokenizer.ggml.remove_extra_whitespaces", &v->remove_extra_whitespaces},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if ((r = read_flag(g, flags[i].key, flags[i].flag)) < 0) return r;

    if (v->add_bos && v->bos < 0 && v->algo->type != PLM_VOCAB_WPM)
        return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
    if (v->add_eos && v->eos < 0 && v->algo->type != PLM_VOCAB_WPM)
        return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
    if (v->algo->type == PLM_VOCAB_WPM) {
        /* BERT: [CLS] is the BOS id unless a cls id is given; [SEP] the separator (else EOS) */
        if (v->cls < 0) v->cls = v->bos;
        if (v->sep < 0) v->sep = v->eos;
    }
    return PLM_OK;
}

/* End-of-generation tokens: eos, eot and the control tokens llama.cpp treats
 * as EOG by their text. The eot id is detected by text when not given. */
static int build_eog(plm_vocab *v) {
    static const char *const eot_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>"};
    static const char *const eog_texts[] = {"<|eom_id|>", "<|return|>", "<|call|>"};
    int n_eot = (int)(sizeof eot_texts / sizeof eot_texts[0]);
    int n_eog = (int)(sizeof eog_texts / sizeof eog_texts[0]);
    v->eog = plm_malloc_for((size_t)(n_eot + n_eog + 2) * sizeof *v->eog, "eog ids");
    if (!v->eog) return PLM_E_NOMEM;
    for (int i = 0; i < n_eot && v->eot < 0; i++) v->eot = tok_find(v, eot_texts[i], strlen(eot_texts[i]));
    int32_t cand[16];
    int nc = 0;
    cand[nc++] = v->eos;
    cand[nc++] = v->eot;
    for (int i = 0; i < n_eot; i++) cand[nc++] = tok_find(v, eot_texts[i], strlen(eot_texts[i]));
    for (int i = 0; i < n_eog; i++) cand[nc++] = tok_find(v, eog_texts[i], strlen(eog_texts[i]));
    for (int i = 0; i < nc; i++) {
        if (cand[i] < 0) continue;
        int dup = 0;
        for (int j = 0; j < v->n_eog; j++) dup |= v->eog[j] == cand[i];
        if (!dup) v->eog[v->n_eog++] = cand[i];
    }
    return PLM_OK;
}

typedef struct { uint32_t len; int32_t id; } special_key;

static int cmp_special(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1; /* longest first */
    return x->id < y->id ? -1 : x->id > y->id;
}

/* CONTROL, USER_DEFINED and UNKNOWN tokens, longest text first (llama.cpp's
 * cache_special_tokens; ties by id so the order is deterministic). */
static int build_specials(plm_vocab *v) {
    int n = 0;
    for (int32_t id = 0; id < v->n_tokens; id++) {
        int t = v->types[id];
        if ((t == PLM_TOKEN_CONTROL || t == PLM_TOKEN_USER_DEFINED || t == PLM_TOKEN_UNKNOWN) && v->text_len[id])
            n++;
    }
    if (n == 0) return PLM_OK;
    special_key *keys = plm_malloc_for((size_t)n * sizeof *keys, "special tokens");
    v->specials = plm_malloc_for((size_t)n * sizeof *v->specials, "special tokens");
    if (!keys || !v->specials) {
        free(keys);
        return PLM_E_NOMEM;
    }
    n = 0;
    for (int32_t id = 0; id < v->n_tokens; id++) {
        int t = v->types[id];
        if ((t == PLM_TOKEN_CONTROL || t == PLM_TOKEN_USER_DEFINED || t == PLM_TOKEN_UNKNOWN) && v->text_len[id])
            keys[n++] = (special_key){v->text_len[id], id};
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_special);
    for (int i = 0; i < n; i++) v->specials[i] = keys[i].id;
    v->n_specials = n;
    free(keys);
    return PLM_OK;
}

plm_vocab *vocab_load(const gguf_ctx *g) {
    if (!g) {
        plm_fail(PLM_E_INVALID, "vocab_load: no GGUF");
        return NULL;
    }
    const char *model = gguf_get_str(g, "tokenizer.ggml.model");
    if (!model) {
        if (gguf_find_key(g, "tokenizer.ggml.model") >= 0)
            plm_fail(PLM_E_FORMAT, "tokenizer.ggml.model is not a string");
        else
            plm_fail(PLM_E_MISSING, "the file has no tokenizer (tokenizer.ggml.model is missing)");
        return NULL;
    }
    if (strcmp(model, "none") == 0 || strcmp(model, "no_vocab") == 0) {
        plm_fail(PLM_E_MISSING, "the file has no tokenizer (tokenizer.ggml.model = \"%s\")", model);
        return NULL;
    }
    int known;
    const tok_algo *algo = algo_for(model, &known);
    if (!algo) {
        if (known)
            plm_fail(PLM_E_UNSUPPORTED, "tokenizer model \"%s\" is not built into this library", model);
        else
            plm_fail(PLM_E_UNSUPPORTED, "unknown tokenizer model \"%s\" (supported: gpt2, llama, bert, t5)", model);
        return NULL;
    }

    plm_vocab *v = plm_calloc_for(1, sizeof *v, "vocabulary");
    if (!v) return NULL;
    v->algo = algo;
    set_defaults(v);
    int r;
    if ((r = read_tokens(v, g)) < 0 || (r = read_scores_and_types(v, g)) < 0 || (r = build_map(v)) < 0 ||
        (r = read_specials(v, g)) < 0 || (r = build_eog(v)) < 0 || (r = build_specials(v)) < 0 ||
        (r = algo->init(v, g)) < 0) {
        vocab_free(v);
        return NULL;
    }
    return v;
}

void vocab_free(plm_vocab *v) {
    if (!v) return;
    if (v->algo && v->algo->free) v->algo->free(v);
    free(v->text);
    free(v->text_len);
    free(v->text_blob);
    free(v->scores);
    free(v->types);
    free(v->map);
    free(v->specials);
    free(v->eog);
    free(v);
}

/* -------------------------------------------------------------- accessors */

int vocab_type(const plm_vocab *v) { return v ? v->algo->type : PLM_VOCAB_NONE; }
int32_t vocab_n_tokens(const plm_vocab *v) { return v ? v->n_tokens : 0; }
const char *vocab_token_text(const plm_vocab *v, int32_t id) {
    return v && id >= 0 && id < v->n_tokens ? v->text[id] : NULL;
}
int vocab_token_type(const plm_vocab *v, int32_t id) {
    return v && id >= 0 && id < v->n_tokens ? v->types[id] : PLM_E_INVALID;
}
int32_t vocab_bos(const plm_vocab *v) { return v->algo->type == PLM_VOCAB_WPM ? v->cls : v->bos; }
int32_t vocab_eos(const plm_vocab *v) { return v->eos; }
int32_t vocab_unk(const plm_vocab *v) { return v->unk; }
int32_t vocab_pad(const plm_vocab *v) { return v->pad; }
int32_t vocab_sep(const plm_vocab *v) { return v->sep; }
int32_t vocab_mask(const plm_vocab *v) { return v->mask; }
int vocab_add_bos(const plm_vocab *v) { return v->add_bos; }
int vocab_add_eos(const plm_vocab *v) { return v->add_eos; }

int vocab_is_eog(const plm_vocab *v, int32_t id) {
    if (!v || id < 0) return 0;
    for (int i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) return 1;
    return 0;
}

/* --------------------------------------------------------------- encoding */

/* A piece of the input: plain text [off, off+len) or a special token. */
typedef struct { size_t off, len; int32_t id; } fragment;
typedef struct { fragment *f; int n, cap; } fragments;

static int frag_push(fragments *fs, size_t off, size_t len, int32_t id) {
    if (fs->n == fs->cap) {
        if (fs->cap > INT_MAX / 2 || (size_t)fs->cap > SIZE_MAX / 2 / sizeof *fs->f)
            return plm_fail(PLM_E_TOO_LONG, "tokenize: too many special-token literals");
        int cap = fs->cap ? fs->cap * 2 : 16;
        fragment *p = plm_realloc_for(fs->f, (size_t)cap * sizeof *p, "text fragments");
        if (!p) return PLM_E_NOMEM;
        fs->f = p;
        fs->cap = cap;
    }
    fs->f[fs->n++] = (fragment){off, len, id};
    return PLM_OK;
}

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m) {
    if (m == 0 || m > n) return NULL;
    const char *end = hay + n - m;
    for (const char *p = hay; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, needle, m) == 0) return p;
    }
    return NULL;
}

/* llama.cpp's tokenizer_st_partition: for each special token, longest first,
 * split every remaining text fragment at each of its occurrences. Without
 * parse_special only USER_DEFINED tokens are split out. A CONTROL / UNKNOWN
 * token's text overlapping one of the literal ranges stays text there (message
 * contents inside a rendered chat template). */
/* 1 if [at, at+n) overlaps one of the literal byte ranges (pairs start, end). */
static int in_literal(const int32_t *lit, int n_lit, size_t at, size_t n) {
    for (int i = 0; i < n_lit; i++)
        if ((size_t)lit[2 * i] < at + n && at < (size_t)lit[2 * i + 1]) return 1;
    return 0;
}

static int partition(const plm_vocab *v, const char *text, size_t len, int parse_special, const int32_t *lit,
                     int n_lit, fragments *out) {
    fragments cur = {0}, next = {0};
    int r = PLM_OK;
    if (len > 0 && (r = frag_push(&cur, 0, len, -1)) < 0) goto done;
    for (int s = 0; s < v->n_specials && cur.n > 0; s++) {
        int32_t id = v->specials[s];
        if (!parse_special && v->types[id] != PLM_TOKEN_USER_DEFINED) continue;
        /* Unigram: sentencepiece matches user-defined pieces itself (its
         * normalizer copies them, its lattice prefers them), after the dummy
         * prefix and whitespace rules; splitting them out here would change
         * the spaces around them. */
        if (v->algo->type == PLM_VOCAB_UGM && v->types[id] == PLM_TOKEN_USER_DEFINED) continue;
        const char *st = v->text[id];
        size_t sl = v->text_len[id];
        next.n = 0;
        for (int i = 0; i < cur.n; i++) {
            fragment f = cur.f[i];
            if (f.id >= 0 || f.len < sl) {
                if ((r = frag_push(&next, f.off, f.len, f.id)) < 0) goto done;
                continue;
            }
            size_t pos = f.off, from = f.off, end = f.off + f.len;
            const int keep_literal = n_lit > 0 && v->types[id] != PLM_TOKEN_USER_DEFINED;
            const char *m;
            while ((m = find_bytes(text + from, end - from, st, sl))) {
                size_t at = (size_t)(m - text);
                if (keep_literal && in_literal(lit, n_lit, at, sl)) {
                    from = at + 1;
                    continue;
                }
                if (at > pos && (r = frag_push(&next, pos, at - pos, -1)) < 0) goto done;
                if ((r = frag_push(&next, at, sl, id)) < 0) goto done;
                pos = from = at + sl;
            }
            if (pos < end && (r = frag_push(&next, pos, end - pos, -1)) < 0) goto done;
        }
        fragments t = cur;
        cur = next;
        next = t;
    }
done:
    free(next.f);
    if (r < 0) {
        free(cur.f);
        return r;
    }
    *out = cur;
    return PLM_OK;
}

/* Encode one text with the model's convention for special tokens. */
static int encode_one(const plm_vocab *v, const char *text, size_t len, int add_special, int parse_special,
                      const int32_t *lit, int n_lit, tok_ids *out) {
    fragments fs;
    int r = partition(v, text, len, parse_special, lit, n_lit, &fs);
    if (r < 0) return r;
    const int wpm = v->algo->type == PLM_VOCAB_WPM;
    if (add_special) {
        if (wpm) {
            if (v->cls < 0) {
                r = plm_fail(PLM_E_MISSING, "tokenizer has no [CLS] token id");
                goto done;
            }
            if ((r = tok_push(out, v->cls)) < 0) goto done;
        } else if (v->add_bos && (r = tok_push(out, v->bos)) < 0) {
            goto done;
        }
    }
    int prev_special = 1; /* the start of the text counts as "after a special token" */
    for (int i = 0; i < fs.n; i++) {
        if (fs.f[i].id >= 0) {
            if ((r = tok_push(out, fs.f[i].id)) < 0) goto done;
            prev_special = 1;
        } else {
            if ((r = v->algo->encode(v, text + fs.f[i].off, fs.f[i].len, prev_special, out)) < 0) goto done;
            prev_special = 0;
        }
    }
    if (add_special) {
        if (wpm) {
            if (v->sep < 0) {
                r = plm_fail(PLM_E_MISSING, "tokenizer has no [SEP] token id");
                goto done;
            }
            r = tok_push(out, v->sep);
        } else if (v->add_eos) {
            r = tok_push(out, v->eos);
        }
    }
done:
    free(fs.f);
    return r < 0 ? r : PLM_OK;
}

static int check_text(const char *text, size_t len, const char *what) {
    if (!text && len > 0) return plm_fail(PLM_E_INVALID, "%s: text is NULL", what);
    if (len > (size_t)INT_MAX) return plm_fail(PLM_E_TOO_LONG, "%s: text of %zu bytes is too long", what, len);
    return PLM_OK;
}

int vocab_encode(const plm_vocab *v, const char *text, size_t len, int add_special, int parse_special,
                 int32_t *out, int cap) {
    return vocab_encode_literal(v, text, len, add_special, parse_special, NULL, 0, out, cap);
}

int vocab_encode_literal(const plm_vocab *v, const char *text, size_t len, int add_special, int parse_special,
                         const int32_t *lit, int n_lit, int32_t *out, int cap) {
    if (!v) return plm_fail(PLM_E_INVALID, "tokenize: no vocabulary");
    if (n_lit < 0 || (n_lit > 0 && !lit)) return plm_fail(PLM_E_INVALID, "tokenize: bad literal ranges");
    for (int i = 0; i < n_lit; i++)
        if (lit[2 * i] < 0 || lit[2 * i] > lit[2 * i + 1] || (size_t)lit[2 * i + 1] > len)
            return plm_fail(PLM_E_INVALID, "tokenize: literal range %d [%d, %d) is outside the text (%zu bytes)", i,
                            (int)lit[2 * i], (int)lit[2 * i + 1], len);
    if (cap < 0 || (cap > 0 && !out)) return plm_fail(PLM_E_INVALID, "tokenize: bad output buffer");
    int r = check_text(text, len, "tokenize");
    if (r < 0) return r;
    tok_ids ids = {0};
    r = encode_one(v, text, len, add_special, parse_special, lit, n_lit, &ids);
    if (r >= 0) {
        if (ids.n > 0 && cap > 0) memcpy(out, ids.ids, (size_t)PLM_MIN(ids.n, cap) * sizeof *out);
        r = ids.n;
    }
    free(ids.ids);
    return r;
}

int vocab_encode_pair(const plm_vocab *v, const char *a, size_t alen, const char *b, size_t blen,
                      int add_special, int32_t *out_ids, int32_t *out_types, int cap) {
    if (!v) return plm_fail(PLM_E_INVALID, "tokenize_pair: no vocabulary");
    if (cap < 0 || (cap > 0 && !out_ids)) return plm_fail(PLM_E_INVALID, "tokenize_pair: bad output buffer");
    int r;
    if ((r = check_text(a, alen, "tokenize_pair")) < 0 || (r = check_text(b, blen, "tokenize_pair")) < 0)
        return r;
    tok_ids ids = {0};
    int na;
    if (v->algo->type == PLM_VOCAB_WPM && add_special) {
        /* BertTokenizer: [CLS] a [SEP] b [SEP] */
        if ((r = encode_one(v, a, alen, 1, 1, NULL, 0, &ids)) < 0) goto done;
        na = ids.n;
        if ((r = encode_one(v, b, blen, 0, 1, NULL, 0, &ids)) < 0 || (r = tok_push(&ids, v->sep)) < 0) goto done;
    } else if (add_special && v->add_bos && v->add_eos && v->add_sep && v->sep >= 0) {
        /* RoBERTa / XLM-RoBERTa (llama.cpp's add_sep vocabularies): <s> a </s> </s> b </s>,
         * token types all 0 (create_token_type_ids_from_sequences) */
        if ((r = encode_one(v, a, alen, 1, 1, NULL, 0, &ids)) < 0 || (r = tok_push(&ids, v->sep)) < 0) goto done;
        na = -1;
        const int nb0 = ids.n;
        if ((r = encode_one(v, b, blen, 1, 1, NULL, 0, &ids)) < 0) goto done;
        /* drop b's own <s>: the separator stands in for it */
        memmove(ids.ids + nb0, ids.ids + nb0 + 1, (size_t)(ids.n - nb0 - 1) * sizeof *ids.ids);
        ids.n--;
    } else {
        /* each sequence with its own specials: a</s> b</s> (t5), <s>a <s>b (llama), a b (gpt2).
         * Special-token literals in a pair are parsed, as Hugging Face does. */
        if ((r = encode_one(v, a, alen, add_special, 1, NULL, 0, &ids)) < 0) goto done;
        na = ids.n;
        if ((r = encode_one(v, b, blen, add_special, 1, NULL, 0, &ids)) < 0) goto done;
    }
    int n = PLM_MIN(ids.n, cap);
    if (n > 0) memcpy(out_ids, ids.ids, (size_t)n * sizeof *out_ids);
    if (out_types)
        for (int i = 0; i < n; i++) out_types[i] = na < 0 || i < na ? 0 : 1;
    r = ids.n;
done:
    free(ids.ids);
    return r;
}

/* --------------------------------------------------------------- decoding */

static int is_special_type(int t) { return t == PLM_TOKEN_CONTROL || t == PLM_TOKEN_UNKNOWN; }

int tok_unk_surface(const plm_vocab *v, int32_t id, int flags) {
    return (flags & PLM_DECODE_SKIP_SPECIAL) && v->types[id] == PLM_TOKEN_UNKNOWN &&
           (v->algo->type == PLM_VOCAB_SPM || v->algo->type == PLM_VOCAB_UGM);
}

/* Bytes a token's piece may take in the generic decode. */
static size_t piece_room(const plm_vocab *v, int32_t id, int flags) {
    return tok_unk_surface(v, id, flags) ? PLM_MAX(v->text_len[id], TOK_UNK_SURFACE_LEN) : v->text_len[id];
}

/* The generic piece rule (SentencePiece style): U+2581 -> space, <0xNN> byte
 * tokens -> the byte, special tokens as written. buf has room for
 * text_len[id] bytes, which is always enough. */
static int generic_piece(const plm_vocab *v, int32_t id, char *buf) {
    const char *s = v->text[id];
    size_t n = v->text_len[id];
    int t = v->types[id];
    if (t == PLM_TOKEN_BYTE && n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
        char hex[3] = {s[3], s[4], 0};
        char *end;
        long b = strtol(hex, &end, 16);
        if (*end == 0) {
            buf[0] = (char)b;
            return 1;
        }
    }
    if (t == PLM_TOKEN_CONTROL || t == PLM_TOKEN_UNKNOWN || t == PLM_TOKEN_USER_DEFINED || t == PLM_TOKEN_BYTE) {
        memcpy(buf, s, n);
        return (int)n;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
            buf[o++] = ' ';
            i += 3;
        } else {
            buf[o++] = s[i++];
        }
    }
    return (int)o;
}

/* Bytes of one token into buf (room >= piece_room()), without the leading
 * space rule (vocab_decode applies it to the first piece that has text). */
static int piece(const plm_vocab *v, int32_t id, int flags, char *buf) {
    int t = v->types[id];
    if (tok_unk_surface(v, id, flags)) {
        memcpy(buf, TOK_UNK_SURFACE, TOK_UNK_SURFACE_LEN);
        return TOK_UNK_SURFACE_LEN;
    }
    if ((flags & PLM_DECODE_SKIP_SPECIAL) && is_special_type(t)) return 0;
    int n;
    if (v->algo->token_bytes) {
        n = v->algo->token_bytes(v, id, flags & ~PLM_DECODE_STRIP_LEADING, buf, (int)v->text_len[id]);
        if (n < 0) return n;
        if (n > (int)v->text_len[id])
            return plm_fail(PLM_E_FORMAT, "token %d: decoded piece longer than its text", (int)id);
    } else {
        n = generic_piece(v, id, buf);
    }
    return n;
}

static int strippable(const plm_vocab *v, int32_t id) {
    int t = v->types[id];
    return v->add_space_prefix && t != PLM_TOKEN_BYTE && t != PLM_TOKEN_USER_DEFINED && !is_special_type(t);
}

int vocab_token_bytes(const plm_vocab *v, int32_t id, int flags, char *out, int cap) {
    if (!v) return plm_fail(PLM_E_INVALID, "token_bytes: no vocabulary");
    if (id < 0 || id >= v->n_tokens)
        return plm_fail(PLM_E_INVALID, "token id %d is out of range [0, %d)", (int)id, (int)v->n_tokens);
    if (cap < 0 || (cap > 0 && !out)) return plm_fail(PLM_E_INVALID, "token_bytes: bad output buffer");
    if (tok_unk_surface(v, id, flags)) {
        if (cap > 0) memcpy(out, TOK_UNK_SURFACE, PLM_MIN(TOK_UNK_SURFACE_LEN, cap));
        return TOK_UNK_SURFACE_LEN;
    }
    if ((flags & PLM_DECODE_SKIP_SPECIAL) && is_special_type(v->types[id])) return 0;
    /* an algorithm with its own rule applies every flag itself */
    if (v->algo->token_bytes) return v->algo->token_bytes(v, id, flags, out, cap);
    char small[256];
    char *buf = v->text_len[id] <= sizeof small ? small : plm_malloc_for(v->text_len[id], "token piece");
    if (!buf) return PLM_E_NOMEM;
    int n = generic_piece(v, id, buf), skip = 0;
    if (n > 0 && (flags & PLM_DECODE_STRIP_LEADING) && strippable(v, id) && buf[0] == ' ') skip = 1;
    n -= skip;
    if (cap > 0 && n > 0) memcpy(out, buf + skip, (size_t)PLM_MIN(n, cap));
    if (buf != small) free(buf);
    return n;
}

int vocab_decode(const plm_vocab *v, const int32_t *ids, int n, int flags, char *out, int cap) {
    if (!v) return plm_fail(PLM_E_INVALID, "decode: no vocabulary");
    if (n < 0 || (n > 0 && !ids)) return plm_fail(PLM_E_INVALID, "decode: bad token list");
    if (cap < 0 || (cap > 0 && !out)) return plm_fail(PLM_E_INVALID, "decode: bad output buffer");
    uint64_t room = 0;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= v->n_tokens)
            return plm_fail(PLM_E_INVALID, "token id %d is out of range [0, %d)", (int)ids[i], (int)v->n_tokens);
        room += piece_room(v, ids[i], flags);
    }
    if (room > (uint64_t)INT_MAX / 3) return plm_fail(PLM_E_TOO_LONG, "decode: the text would be too long");
    if (v->algo->decode) return v->algo->decode(v, ids, n, flags, out, cap);

    char *raw = plm_malloc_for((size_t)room + 1, "decoded text");
    char *clean = raw ? plm_malloc_for(3 * (size_t)room + 1, "decoded text") : NULL;
    if (!clean) {
        free(raw);
        return PLM_E_NOMEM;
    }
    /* Invalid UTF-8 becomes U+FFFD. SentencePiece (llama) decodes each run of
     * byte pieces on its own and replaces every byte that does not start a
     * complete character; byte-level BPE decodes the whole byte string as
     * Python's bytes.decode(errors="replace") does (maximal subparts). */
    const int per_byte_runs = v->algo->type == PLM_VOCAB_SPM;
    size_t len = 0, run = 0, m = 0;
    int strip = (flags & PLM_DECODE_STRIP_LEADING) != 0, r = PLM_OK;
    for (int i = 0; i < n; i++) {
        int byte_piece = v->types[ids[i]] == PLM_TOKEN_BYTE;
        if (per_byte_runs && !byte_piece && run < len) { /* a byte run ends here */
            m += uc_sanitize_bytewise(raw + run, len - run, clean + m);
            run = len;
        }
        int k = piece(v, ids[i], flags, raw + len);
        if (k < 0) {
            r = k;
            break;
        }
        if (k == 0) continue;
        if (strip && strippable(v, ids[i]) && raw[len] == ' ') {
            memmove(raw + len, raw + len + 1, (size_t)k - 1);
            k--;
        }
        strip = 0; /* only the first piece that produces text */
        len += (size_t)k;
        if (per_byte_runs && !byte_piece) {
            m += uc_sanitize_bytewise(raw + run, len - run, clean + m);
            run = len;
        }
    }
    if (r >= 0) {
        m += per_byte_runs ? uc_sanitize_bytewise(raw + run, len - run, clean + m) : uc_sanitize(raw, len, clean);
        if (cap > 0 && m > 0) memcpy(out, clean, PLM_MIN(m, (size_t)cap));
        r = (int)m;
    }
    free(raw);
    free(clean);
    return r;
}

/* ----------------------------------------------------- public API (plm.h) */

static int model_vocab(plm_model *m, const plm_vocab **v) {
    if (!m) return plm_fail(PLM_E_INVALID, "model is NULL");
    if (!m->vocab) return plm_fail(PLM_E_MISSING, "model has no tokenizer");
    *v = m->vocab;
    return PLM_OK;
}

PLM_API int plm_tokenize(plm_model *m, const char *text, int len, int add_special, int parse_special,
                         int32_t *out, int cap) {
    const plm_vocab *v = NULL;
    int r = model_vocab(m, &v);
    if (r < 0) return r;
    if (len < 0) return plm_fail(PLM_E_INVALID, "tokenize: negative text length");
    return vocab_encode(v, text, (size_t)len, add_special, parse_special, out, cap);
}

PLM_API int plm_tokenize_literal(plm_model *m, const char *text, int len, int add_special,
                                 const int32_t *ranges, int n_ranges, int32_t *out, int cap) {
    const plm_vocab *v = NULL;
    int r = model_vocab(m, &v);
    if (r < 0) return r;
    if (len < 0) return plm_fail(PLM_E_INVALID, "tokenize: negative text length");
    return vocab_encode_literal(v, text, (size_t)len, add_special, 1, ranges, n_ranges, out, cap);
}

PLM_API int plm_tokenize_pair(plm_model *m, const char *a, int alen, const char *b, int blen,
                              int add_special, int32_t *ids, int32_t *types, int cap) {
    const plm_vocab *v = NULL;
    int r = model_vocab(m, &v);
    if (r < 0) return r;
    if (alen < 0 || blen < 0) return plm_fail(PLM_E_INVALID, "tokenize_pair: negative text length");
    return vocab_encode_pair(v, a, (size_t)alen, b, (size_t)blen, add_special, ids, types, cap);
}

PLM_API int plm_token_bytes(plm_model *m, int32_t id, int flags, char *out, int cap) {
    const plm_vocab *v = NULL;
    int r = model_vocab(m, &v);
    return r < 0 ? r : vocab_token_bytes(v, id, flags, out, cap);
}

PLM_API int plm_detokenize(plm_model *m, const int32_t *ids, int n, int flags, char *out, int cap) {
    const plm_vocab *v = NULL;
    int r = model_vocab(m, &v);
    return r < 0 ? r : vocab_decode(v, ids, n, flags, out, cap);
}

PLM_API int plm_token_is_eog(plm_model *m, int32_t id) {
    const plm_vocab *v = NULL;
    int r = model_vocab(m, &v);
    if (r < 0) return r;
    if (id < 0 || id >= v->n_tokens)
        return plm_fail(PLM_E_INVALID, "token id %d is out of range [0, %d)", (int)id, (int)v->n_tokens);
    return vocab_is_eog(v, id);
}
