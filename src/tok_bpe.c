/* tok_bpe.c — GPT-2 byte-level BPE ("gpt2"), as Hugging Face's GPT2Tokenizer:
 *
 *   1. pre-tokenize with the GPT-2 regex
 *        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      (implemented by hand below, alternative by alternative);
 *   2. map every byte of a piece to its printable stand-in (bytes_to_unicode);
 *   3. merge adjacent symbols by merge rank (tokenizer.ggml.merges, "a b"
 *      strings, rank = index), lowest rank first, leftmost first among equals.
 *
 * Symbols are token ids from the start (every byte stand-in is a token), so a
 * merge is a lookup (left id, right id) -> (rank, merged id) in a hash table.
 * Input bytes that are not valid UTF-8 are kept (each is its own "other"
 * character for the regex and its own byte for BPE), so decoding gives the
 * input back byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tok_impl.h"
#include "unicode.h"

typedef struct {
    uint64_t key; /* left id << 32 | right id; 0 = empty slot (id pairs are offset by 1) */
    int32_t rank;
    int32_t result;
} bpe_merge;

typedef struct {
    bpe_merge *merges;
    uint32_t merge_cap;
    int32_t byte_token[256];  /* token of each byte's stand-in character, -1 if none */
    uint16_t byte_char[256];  /* bytes_to_unicode: byte -> code point */
    int16_t char_byte[512];   /* inverse for code points < 512, -1 if not a stand-in */
} bpe_impl;

/* GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves,
 * the others (controls, space, ...) are moved to U+0100.. in byte order. */
static void bytes_to_unicode(bpe_impl *b) {
    int n = 0;
    for (int i = 0; i < 512; i++) b->char_byte[i] = -1;
    for (int c = 0; c < 256; c++) {
        int printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        b->byte_char[c] = (uint16_t)(printable ? c : 256 + n++);
        b->char_byte[b->byte_char[c]] = (int16_t)c;
    }
}

static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t)(uint32_t)(a + 1) << 32 | (uint32_t)(b + 1); }

static uint32_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

static const bpe_merge *merge_find(const bpe_impl *b, int32_t left, int32_t right) {
    uint64_t k = pair_key(left, right);
    uint32_t mask = b->merge_cap - 1;
    for (uint32_t i = pair_hash(k) & mask;; i = (i + 1) & mask) {
        if (b->merges[i].key == k) return &b->merges[i];
        if (b->merges[i].key == 0) return NULL;
    }
}

/* Pre-tokenizers with exactly the GPT-2 regex (llama.cpp's LLAMA_VOCAB_PRE_TYPE_GPT2
 * family). "default" and an absent key are read as GPT-2 for gpt2 models. */
static int pre_is_gpt2(const char *pre) {
    static const char *const names[] = {"gpt-2", "default", "phi-2", "mpt", "olmo", "jais",
                                        "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "gigachat"};
    if (!pre) return 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(pre, names[i]) == 0) return 1;
    return 0;
}

static void bpe_free(plm_vocab *v) {
    bpe_impl *b = v->impl;
    if (b) free(b->merges);
    free(b);
    v->impl = NULL;
}

static int bpe_init(plm_vocab *v, const gguf_ctx *g) {
    const char *pre = gguf_get_str(g, "tokenizer.ggml.pre");
    if (!pre_is_gpt2(pre))
        return plm_fail(PLM_E_UNSUPPORTED, "BPE pre-tokenizer \"%s\" is not supported (supported: gpt-2)", pre);
    int et = -1;
    int64_t n = gguf_arr_n(g, "tokenizer.ggml.merges", &et);
    if (n < 0) return plm_fail(PLM_E_MISSING, "tokenizer.ggml.merges is missing (needed by a gpt2 tokenizer)");
    if (et != GGUF_TYPE_STRING) return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.merges must be an array of strings");
    if (n > INT32_MAX / 4) return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.merges: too many merges");

    bpe_impl *b = plm_calloc_for(1, sizeof *b, "BPE tokenizer");
    if (!b) return PLM_E_NOMEM;
    v->impl = b;
    bytes_to_unicode(b);
    for (int c = 0; c < 256; c++) {
        char s[4];
        int len = uc_put(b->byte_char[c], s);
        b->byte_token[c] = tok_find(v, s, (size_t)len);
    }

    uint32_t cap = 16;
    while (cap < 2 * (uint64_t)n + 16) cap *= 2;
    b->merges = plm_calloc_for(cap, sizeof *b->merges, "BPE merges");
    if (!b->merges) return PLM_E_NOMEM;
    b->merge_cap = cap;

    char *joined = NULL;
    size_t joined_cap = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *s = gguf_arr_str(g, "tokenizer.ggml.merges", i, &len);
        if (!s) {
            free(joined);
            return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.merges[%lld] cannot be read", (long long)i);
        }
        /* "a b": split at the first space after the first byte (as llama.cpp) */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp) continue;
        size_t la = (size_t)(sp - s), lb = len - la - 1;
        int32_t a = tok_find(v, s, la), c = tok_find(v, sp + 1, lb);
        if (a < 0 || c < 0) continue; /* a merge of non-tokens can never apply */
        if (la + lb > joined_cap) {
            char *p = plm_realloc_for(joined, la + lb, "BPE merge");
            if (!p) {
                free(joined);
                return PLM_E_NOMEM;
            }
            joined = p;
            joined_cap = la + lb;
        }
        memcpy(joined, s, la);
        memcpy(joined + la, sp + 1, lb);
        int32_t res = tok_find(v, joined, la + lb);
        if (res < 0) continue; /* its result would have no id */
        uint64_t k = pair_key(a, c);
        uint32_t j = pair_hash(k) & (cap - 1);
        while (b->merges[j].key != 0 && b->merges[j].key != k) j = (j + 1) & (cap - 1);
        if (b->merges[j].key == k) continue; /* duplicate pair: the first rank counts */
        b->merges[j] = (bpe_merge){k, (int32_t)i, res};
    }
    free(joined);
    return PLM_OK;
}

/* ------------------------------------------------------ GPT-2 pre-tokenizer */

enum { CL_LETTER, CL_NUMBER, CL_SPACE, CL_OTHER };

/* Class and length of the character at s[i] (invalid bytes are "other"). */
static int char_class(const char *s, size_t len, size_t i, size_t *next, uint32_t *cpo) {
    uint32_t cp;
    size_t p = i;
    int n = uc_next(s, len, &p, &cp);
    *next = p;
    *cpo = cp;
    if (n == 1 && cp == 0xFFFD) return CL_OTHER; /* invalid byte */
    if (uc_is_letter(cp)) return CL_LETTER;
    if (uc_is_number(cp)) return CL_NUMBER;
    if (uc_is_space(cp)) return CL_SPACE;
    return CL_OTHER;
}

/* Length of the regex match at s[i] (i < len). */
static size_t gpt2_match(const char *s, size_t len, size_t i) {
    size_t i1, i2;
    uint32_t c0, c1;
    int k0 = char_class(s, len, i, &i1, &c0);

    /* 's|'t|'re|'ve|'m|'ll|'d */
    if (c0 == '\'' && i1 < len) {
        char a = s[i1], b = i1 + 1 < len ? s[i1 + 1] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    /*  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+  */
    size_t p = i;
    int k = k0;
    if (c0 == ' ' && i1 < len) {
        int k1 = char_class(s, len, i1, &i2, &c1);
        if (k1 != CL_SPACE) {
            p = i1;
            k = k1;
        }
    }
    if (k != CL_SPACE) {
        size_t q = p, nx;
        uint32_t cp;
        while (q < len && char_class(s, len, q, &nx, &cp) == k) q = nx;
        return q - i;
    }
    /* \s+(?!\S) | \s+ : a whitespace run; when a non-space follows, its last
     * character is left for the next match unless the run is one character. */
    size_t q = i, last = i, nx;
    uint32_t cp;
    while (q < len && char_class(s, len, q, &nx, &cp) == CL_SPACE) {
        last = q;
        q = nx;
    }
    if (q == len || last == i) return q - i;
    return last - i;
}

size_t tok_bpe_pretokenize_len(const char *s, size_t len, size_t i) { return i < len ? gpt2_match(s, len, i) : 0; }

/* ---------------------------------------------------------------- merging */

typedef struct { int32_t id, prev, next; } bpe_sym;
typedef struct { int32_t rank, left, right, left_id, right_id; } bpe_cand;

static int cand_less(const bpe_cand *a, const bpe_cand *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(bpe_cand *h, int *n, bpe_cand c) {
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static bpe_cand heap_pop(bpe_cand *h, int *n) {
    bpe_cand top = h[0], last = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(&h[c + 1], &h[c])) c++;
        if (!cand_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static void try_pair(const bpe_impl *b, const bpe_sym *sym, int left, int right, bpe_cand *heap, int *nh) {
    if (left < 0 || right < 0 || sym[left].id < 0 || sym[right].id < 0) return;
    const bpe_merge *m = merge_find(b, sym[left].id, sym[right].id);
    if (m) heap_push(heap, nh, (bpe_cand){m->rank, left, right, sym[left].id, sym[right].id});
}

/* BPE over one pre-token (bytes w[0..n)); sym and heap have room for n and 3n. */
static int bpe_word(const plm_vocab *v, const bpe_impl *b, const unsigned char *w, int n, bpe_sym *sym,
                    bpe_cand *heap, tok_ids *out) {
    for (int i = 0; i < n; i++) sym[i] = (bpe_sym){b->byte_token[w[i]], i - 1, i + 1 < n ? i + 1 : -1};
    int nh = 0;
    for (int i = 0; i + 1 < n; i++) try_pair(b, sym, i, i + 1, heap, &nh);
    while (nh > 0) {
        bpe_cand c = heap_pop(heap, &nh);
        bpe_sym *l = &sym[c.left], *r = &sym[c.right];
        /* stale: a side was merged away or changed since this pair was queued */
        if (l->id != c.left_id || r->id != c.right_id || l->next != c.right) continue;
        l->id = merge_find(b, c.left_id, c.right_id)->result;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = c.left;
        r->id = -2; /* dead */
        try_pair(b, sym, l->prev, c.left, heap, &nh);
        try_pair(b, sym, c.left, l->next, heap, &nh);
    }
    for (int i = 0; i >= 0 && i < n; i = sym[i].next) {
        int32_t id = sym[i].id;
        if (id < 0) id = v->unk; /* a byte whose stand-in is not in the vocabulary */
        if (id >= 0) {
            int r = tok_push(out, id);
            if (r < 0) return r;
        }
    }
    return PLM_OK;
}

static int bpe_encode(const plm_vocab *v, const char *text, size_t len, int first, tok_ids *out) {
    (void)first;
    const bpe_impl *b = v->impl;
    if (len == 0) return PLM_OK;
    /* scratch sized for the longest pre-token, grown on demand */
    int cap = 0, r = PLM_OK;
    bpe_sym *sym = NULL;
    bpe_cand *heap = NULL;
    for (size_t i = 0; i < len;) {
        size_t m = gpt2_match(text, len, i);
        if ((uint64_t)m * (sizeof *sym + 3 * sizeof *heap) > (uint64_t)SIZE_MAX / 2 || m > (size_t)(INT32_MAX / 4)) {
            r = plm_fail(PLM_E_TOO_LONG, "tokenize: a single word of %zu bytes is too long", m);
            break;
        }
        if ((int)m > cap) {
            cap = (int)m < 64 ? 64 : (int)m;
            free(sym);
            free(heap);
            sym = plm_malloc_for((size_t)cap * sizeof *sym, "BPE symbols");
            heap = plm_malloc_for((size_t)cap * 3 * sizeof *heap, "BPE queue");
            if (!sym || !heap) {
                r = PLM_E_NOMEM;
                break;
            }
        }
        if ((r = bpe_word(v, b, (const unsigned char *)text + i, (int)m, sym, heap, out)) < 0) break;
        i += m;
    }
    free(sym);
    free(heap);
    return r;
}

/* ---------------------------------------------------------------- decoding */

/* Byte-level tokens map back through the inverse of bytes_to_unicode;
 * special and user-defined tokens are written as they are. */
static int bpe_token_bytes(const plm_vocab *v, int32_t id, int flags, char *out, int cap) {
    (void)flags;
    const bpe_impl *b = v->impl;
    const char *s = v->text[id];
    size_t n = v->text_len[id];
    int t = v->types[id];
    if (t == PLM_TOKEN_CONTROL || t == PLM_TOKEN_USER_DEFINED || t == PLM_TOKEN_UNKNOWN) {
        if (cap > 0) memcpy(out, s, PLM_MIN(n, (size_t)cap));
        return (int)n;
    }
    int o = 0;
    for (size_t i = 0; i < n;) {
        size_t p = i;
        uint32_t cp;
        uc_next(s, n, &p, &cp);
        int byte = cp < 512 ? b->char_byte[cp] : -1; /* invalid bytes decode as U+FFFD */
        if (byte >= 0) {
            if (o < cap) out[o] = (char)byte;
            o++;
        } else { /* not a byte stand-in: keep the character's own bytes */
            for (size_t k = i; k < p; k++, o++)
                if (o < cap) out[o] = s[k];
        }
        i = p;
    }
    return o;
}

const tok_algo tok_algo_bpe = {
    .model = "gpt2",
    .type = PLM_VOCAB_BPE,
    .init = bpe_init,
    .free = bpe_free,
    .encode = bpe_encode,
    .token_bytes = bpe_token_bytes,
    .decode = NULL,
};
