/* tok_ugm.c — SentencePiece Unigram tokenizer (tokenizer.ggml.model = "t5").
 *
 * Exact to the sentencepiece library (normalizer.cc, unigram_model.cc and
 * SentencePieceProcessor's post-processing), in three steps:
 *
 *  1. Normalize (Normalizer::Normalize). The input is rewritten left to right,
 *     each step taking the longest prefix that is
 *       - a USER_DEFINED piece: copied verbatim;
 *       - a key of the precompiled charsmap (a darts-clone double-array trie
 *         over UTF-8 bytes whose values index a blob of NUL-terminated
 *         replacement strings; for T5 this is nmt_nfkc): replaced;
 *       - otherwise one UTF-8 character, copied; a malformed byte becomes
 *         U+FFFD (one byte consumed).
 *     With remove_extra_whitespaces, leading spaces are dropped, runs of spaces
 *     collapse to one and trailing spaces are dropped. add_dummy_prefix puts a
 *     space in front (whitespace is a prefix, not a suffix: sentencepiece's
 *     default). Every ' ' becomes U+2581.
 *
 *  2. Viterbi over the normalized bytes (Model::EncodeOptimized): for every
 *     character start, all vocabulary pieces that begin there are found by
 *     walking a byte trie of the pieces; best[end] keeps the best-scoring path
 *     ending at each byte position. A character no single-character piece
 *     covers gets an <unk> edge scored min_score - 10; USER_DEFINED pieces score
 *     len_bytes * max_score - 0.1 (so they always win). Scores are float32 and
 *     compared exactly as sentencepiece does (see viterbi()). Time is
 *     O(length x longest piece), memory O(length).
 *
 *  3. Runs of consecutive <unk> merge into one <unk>; with byte fallback (the
 *     vocab has BYTE pieces <0xNN>) an <unk> piece is spelled as its UTF-8
 *     bytes instead.
 *
 * Decoding: U+2581 -> space, <0xNN> -> that byte, UNUSED pieces (the
 * [PAD32000].. padding llama.cpp appends) -> nothing, CONTROL/UNKNOWN pieces ->
 * their text unless PLM_DECODE_SKIP_SPECIAL; PLM_DECODE_STRIP_LEADING removes
 * the leading spaces sentencepiece's decoder removes.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tok_impl.h"

/* ------------------------------------------------------------ byte trie
 * A static trie over byte strings, built breadth-first from the sorted keys.
 * Breadth-first construction gives two invariants that keep it small:
 *   - the edges of node i are contiguous and follow those of node i-1, so
 *     node i owns edges [first[i], first[i+1]);
 *   - every edge creates one node, in edge order, so edge e leads to node e+1.
 * An edge is then just its label byte (labels of a node are sorted). */
typedef struct btrie {
    int32_t *id;     /* per node: value (token id) or -1 */
    uint32_t *first; /* per node + 1: first edge */
    uint8_t *label;  /* per edge */
    uint32_t n_nodes;
} btrie;

typedef struct bkey {
    const uint8_t *s;
    uint32_t len;
    int32_t id;
} bkey;

static int bkey_cmp(const void *pa, const void *pb) {
    const bkey *a = pa, *b = pb;
    uint32_t n = PLM_MIN(a->len, b->len);
    int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c) return c;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id; /* duplicates: lowest id first */
}

static void btrie_free(btrie *t) {
    free(t->id);
    free(t->first);
    free(t->label);
    memset(t, 0, sizeof *t);
}

/* keys are sorted in place; empty keys are ignored. */
static int btrie_build(btrie *t, bkey *keys, uint32_t n_keys) {
    memset(t, 0, sizeof *t);
    qsort(keys, n_keys, sizeof *keys, bkey_cmp);
    uint64_t total = 1;
    for (uint32_t i = 0; i < n_keys; i++) total += keys[i].len;
    if (total >= UINT32_MAX / 2) return plm_fail(PLM_E_FORMAT, "tokenizer: vocabulary too large");
    uint32_t cap = (uint32_t)total;
    /* per-node work list: the key range [lo, hi) below it and its depth */
    uint32_t *lo = plm_malloc_for((size_t)cap * sizeof *lo, "unigram trie");
    uint32_t *hi = plm_malloc_for((size_t)cap * sizeof *hi, "unigram trie");
    uint32_t *depth = plm_malloc_for((size_t)cap * sizeof *depth, "unigram trie");
    t->id = plm_malloc_for((size_t)cap * sizeof *t->id, "unigram trie");
    t->first = plm_malloc_for(((size_t)cap + 1) * sizeof *t->first, "unigram trie");
    t->label = plm_malloc_for(cap, "unigram trie");
    if (!lo || !hi || !depth || !t->id || !t->first || !t->label) {
        free(lo), free(hi), free(depth);
        btrie_free(t);
        return PLM_E_NOMEM;
    }
    uint32_t n_nodes = 1, n_edges = 0;
    lo[0] = 0, hi[0] = n_keys, depth[0] = 0;
    for (uint32_t node = 0; node < n_nodes; node++) {
        uint32_t i = lo[node], end = hi[node], d = depth[node];
        t->id[node] = -1;
        t->first[node] = n_edges;
        /* keys ending here sort first (shortest); keep the first, skip duplicates */
        if (i < end && keys[i].len == d) {
            if (d > 0) t->id[node] = keys[i].id;
            while (i < end && keys[i].len == d) i++;
        }
        while (i < end) {
            uint8_t b = keys[i].s[d];
            uint32_t j = i + 1;
            while (j < end && keys[j].s[d] == b) j++;
            t->label[n_edges++] = b;
            lo[n_nodes] = i, hi[n_nodes] = j, depth[n_nodes] = d + 1;
            n_nodes++; /* == n_edges + 1: edge e leads to node e + 1 */
            i = j;
        }
    }
    t->first[n_nodes] = n_edges;
    t->n_nodes = n_nodes;
    free(lo), free(hi), free(depth);
    /* give back the worst-case reservation (shared prefixes make it ~3x) */
    int32_t *id = realloc(t->id, (size_t)n_nodes * sizeof *id);
    uint32_t *first = realloc(t->first, ((size_t)n_nodes + 1) * sizeof *first);
    uint8_t *label = realloc(t->label, n_edges ? n_edges : 1);
    if (id) t->id = id;
    if (first) t->first = first;
    if (label) t->label = label;
    return PLM_OK;
}

/* Child of node along byte b, or 0 (the root is never a child). */
static inline uint32_t btrie_next(const btrie *t, uint32_t node, uint8_t b) {
    uint32_t l = t->first[node], r = t->first[node + 1];
    while (l < r) {
        uint32_t m = (l + r) / 2;
        if (t->label[m] < b) l = m + 1;
        else r = m;
    }
    return (l < t->first[node + 1] && t->label[l] == b) ? l + 1 : 0;
}

/* Length of the longest key that is a prefix of s[0..n), 0 if none. */
static size_t btrie_longest(const btrie *t, const char *s, size_t n) {
    size_t best = 0;
    uint32_t node = 0;
    for (size_t k = 0; k < n; k++) {
        node = btrie_next(t, node, (uint8_t)s[k]);
        if (!node) break;
        if (t->id[node] >= 0) best = k + 1;
    }
    return best;
}

/* ------------------------------------------------------ sentencepiece UTF-8 */

/* Byte length of the character a lead byte starts (string_util::OneCharLen). */
static inline int sp_char_len(uint8_t b) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[b >> 4];
}

static inline int sp_trail(uint8_t b) { return (b & 0xC0) == 0x80; }
static inline int sp_valid_cp(uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

/* string_util::IsValidDecodeUTF8: one well-formed character at s (no overlong
 * forms, no surrogates); *len gets its length, or 1 if malformed. */
static int sp_valid_utf8(const uint8_t *s, size_t n, size_t *len) {
    uint32_t c;
    *len = 1;
    if (s[0] < 0x80) return 1;
    if (n >= 2 && (s[0] & 0xE0) == 0xC0) {
        c = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        if (sp_trail(s[1]) && c >= 0x80 && sp_valid_cp(c)) return (int)(*len = 2);
    } else if (n >= 3 && (s[0] & 0xF0) == 0xE0) {
        c = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        if (sp_trail(s[1]) && sp_trail(s[2]) && c >= 0x800 && sp_valid_cp(c)) return (int)(*len = 3);
    } else if (n >= 4 && (s[0] & 0xF8) == 0xF0) {
        c = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
            ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        if (sp_trail(s[1]) && sp_trail(s[2]) && sp_trail(s[3]) && c >= 0x10000 && sp_valid_cp(c))
            return (int)(*len = 4);
    }
    return 0;
}

/* ------------------------------------------------------------- the model */
typedef struct ugm {
    /* precompiled charsmap: darts-clone units + replacement blob */
    uint32_t *units;
    uint32_t n_units;
    char *repl;
    uint32_t repl_len;
    btrie pieces;     /* NORMAL + USER_DEFINED pieces -> id */
    btrie user;       /* USER_DEFINED pieces (normalizer's prefix matcher) */
    int has_user;
    float min_score, max_score; /* over NORMAL pieces, as sentencepiece */
    int32_t unk;
    int byte_fallback;
    int32_t byte_id[256];
} ugm;

static int is_normal(int type) { return type == PLM_TOKEN_NORMAL || type == PLM_TOKEN_UNDEFINED; }

/* Darts-clone unit fields (darts.h DoubleArrayUnit). */
static inline uint32_t du_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t du_value(uint32_t u) { return u & 0x7FFFFFFFu; }
static inline uint32_t du_label(uint32_t u) { return u & 0x800000FFu; }
static inline uint32_t du_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* Longest charsmap key that prefixes s: its length (0 if none) and the
 * replacement offset in *value. Out-of-range indices end the search. */
static size_t charsmap_longest(const ugm *u, const uint8_t *s, size_t n, uint32_t *value) {
    size_t best = 0;
    uint32_t id = du_offset(u->units[0]);
    for (size_t i = 0; i < n; i++) {
        id ^= s[i];
        if (id >= u->n_units) break;
        uint32_t unit = u->units[id];
        if (du_label(unit) != s[i]) break;
        id ^= du_offset(unit);
        if (id >= u->n_units) break;
        if (du_has_leaf(unit)) {
            best = i + 1;
            *value = du_value(u->units[id]);
        }
    }
    return best;
}

/* Normalizer::NormalizePrefix: returns the bytes consumed (>= 1) and the
 * replacement in *out / *out_len. */
static size_t normalize_prefix(const ugm *u, const char *in, size_t n, const char **out,
                               size_t *out_len) {
    const uint8_t *s = (const uint8_t *)in;
    if (u->has_user) {
        size_t m = btrie_longest(&u->user, in, n);
        if (m) {
            *out = in, *out_len = m;
            return m;
        }
    }
    if (u->units) {
        uint32_t value = 0;
        size_t m = charsmap_longest(u, s, n, &value);
        if (m && value < u->repl_len) {
            *out = u->repl + value;
            *out_len = strlen(*out); /* the blob ends with a NUL (checked at init) */
            return m;
        }
    }
    size_t m;
    if (sp_valid_utf8(s, n, &m)) {
        *out = in, *out_len = m;
        return m;
    }
    *out = "\xEF\xBF\xBD", *out_len = 3; /* U+FFFD for one malformed byte */
    return 1;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

/* Room for n more bytes and a NUL. */
static int sbuf_reserve(sbuf *b, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = plm_realloc_for(b->p, cap, "unigram text buffer");
        if (!p) return PLM_E_NOMEM;
        b->p = p, b->cap = cap;
    }
    return PLM_OK;
}

static int sbuf_put(sbuf *b, const char *s, size_t n) {
    if (sbuf_reserve(b, n)) return PLM_E_NOMEM;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return PLM_OK;
}

#define SPACE_SYMBOL "\xE2\x96\x81" /* U+2581 */

/* Normalizer::Normalize (escape_whitespaces on, whitespace as prefix). */
static int normalize(const plm_vocab *v, const char *in, size_t n, sbuf *out) {
    const ugm *u = v->impl;
    const int rm_ws = v->remove_extra_whitespaces;
    const char *r;
    size_t rn, m;
    out->n = 0;
    if (rm_ws) /* leading whitespace */
        while (n > 0 && (m = normalize_prefix(u, in, n, &r, &rn), rn == 1 && r[0] == ' '))
            in += m, n -= m;
    if (n == 0) return PLM_OK;
    if (v->add_space_prefix && sbuf_put(out, SPACE_SYMBOL, 3)) return PLM_E_NOMEM;
    int prev_space = rm_ws;
    while (n > 0) {
        m = normalize_prefix(u, in, n, &r, &rn);
        if (prev_space)
            while (rn > 0 && r[0] == ' ') r++, rn--;
        if (rn > 0) {
            for (size_t i = 0; i < rn; i++) {
                int st = r[i] == ' ' ? sbuf_put(out, SPACE_SYMBOL, 3) : sbuf_put(out, r + i, 1);
                if (st) return st;
            }
            prev_space = r[rn - 1] == ' ';
        }
        in += m, n -= m;
        if (!rm_ws) prev_space = 0;
    }
    if (rm_ws) /* trailing whitespace */
        while (out->n >= 3 && !memcmp(out->p + out->n - 3, SPACE_SYMBOL, 3)) out->n -= 3;
    return PLM_OK;
}

/* ------------------------------------------------------------- Viterbi */
typedef struct vnode {
    float score;  /* best path score ending here */
    int32_t from; /* start byte of the last piece, -1 = unreached */
    int32_t id;
} vnode;

/* Model::EncodeOptimized + PopulateSentencePieceText's unknown handling.
 * Numerics as compiled from sentencepiece: a piece's candidate score is
 * computed in double (the user-defined bonus is a double expression, which
 * makes the conditional double for all pieces), compared with the stored float
 * and stored as float; the <unk> candidate is pure float. */
static int viterbi(const plm_vocab *v, const char *s, size_t n, tok_ids *out) {
    const ugm *u = v->impl;
    if (n == 0) return PLM_OK;
    if (n >= INT32_MAX) return plm_fail(PLM_E_TOO_LONG, "tokenizer: input too long");
    vnode *best = plm_malloc_for((n + 1) * sizeof *best, "unigram lattice");
    if (!best) return PLM_E_NOMEM;
    for (size_t i = 0; i <= n; i++) best[i].score = 0, best[i].from = -1, best[i].id = -1;
    const float unk_score = u->min_score - 10.0f;
    const uint8_t *b = (const uint8_t *)s;
    for (size_t start = 0; start < n;) {
        const size_t mblen = PLM_MIN((size_t)sp_char_len(b[start]), n - start);
        const float till_here = best[start].score;
        int has_single = 0;
        uint32_t node = 0;
        for (size_t k = start; k < n;) {
            node = btrie_next(&u->pieces, node, b[k++]);
            if (!node) break;
            const int32_t id = u->pieces.id[node];
            if (id < 0) continue;
            const size_t len = k - start;
            double score = v->types[id] == PLM_TOKEN_USER_DEFINED
                               ? (double)((float)len * u->max_score) - 0.1
                               : (double)v->scores[id];
            double cand = score + (double)till_here;
            vnode *t = &best[k];
            if (t->from < 0 || cand > (double)t->score) {
                t->score = (float)cand, t->from = (int32_t)start, t->id = id;
            }
            if (len == mblen) has_single = 1;
        }
        if (!has_single) {
            float cand = unk_score + till_here;
            vnode *t = &best[start + mblen];
            if (t->from < 0 || cand > t->score) {
                t->score = cand, t->from = (int32_t)start, t->id = u->unk;
            }
        }
        start += mblen;
    }
    /* Backtrack from the end; collect the piece ends to walk them forward. */
    size_t n_pieces = 0;
    for (int32_t end = (int32_t)n; end > 0; end = best[end].from) {
        if (best[end].from < 0) {
            free(best);
            return plm_fail(PLM_E_FORMAT, "tokenizer: unigram lattice is broken");
        }
        n_pieces++;
    }
    int32_t *ends = plm_malloc_for(n_pieces * sizeof *ends, "unigram pieces");
    if (!ends) {
        free(best);
        return PLM_E_NOMEM;
    }
    size_t k = n_pieces;
    for (int32_t end = (int32_t)n; end > 0; end = best[end].from) ends[--k] = end;
    int st = PLM_OK, prev_unk = 0;
    for (size_t i = 0; i < n_pieces && st == PLM_OK; i++) {
        const vnode *p = &best[ends[i]];
        const int is_unk = p->id == u->unk;
        if (is_unk && u->byte_fallback) {
            for (int32_t j = p->from; j < ends[i] && st == PLM_OK; j++)
                st = tok_push(out, u->byte_id[b[j]]);
        } else if (!(is_unk && prev_unk)) {
            st = tok_push(out, p->id);
        }
        prev_unk = is_unk;
    }
    free(ends);
    free(best);
    return st;
}

static int ugm_encode(const plm_vocab *v, const char *text, size_t len, int first, tok_ids *out) {
    sbuf norm = {0};
    int st = normalize(v, text, len, &norm);
    if (st == PLM_OK) st = viterbi(v, norm.p, norm.n, out);
    free(norm.p);
    return st;
}

/* --------------------------------------------------------------- loading */
static void ugm_free(plm_vocab *v) {
    ugm *u = v->impl;
    if (!u) return;
    free(u->units);
    free(u->repl);
    btrie_free(&u->pieces);
    btrie_free(&u->user);
    free(u);
    v->impl = NULL;
}

/* Parse "<0xNN>" (the only form sentencepiece gives byte pieces). */
static int byte_piece_value(const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    const char *h = strchr(hex, s[3]), *l = strchr(hex, s[4]);
    if (!s[3] || !s[4] || !h || !l) return -1;
    return (int)((h - hex) * 16 + (l - hex));
}

/* tokenizer.ggml.precompiled_charsmap: u32 trie size, trie units, replacements. */
static int load_charsmap(ugm *u, const gguf_ctx *g) {
    const char *key = "tokenizer.ggml.precompiled_charsmap";
    int et = -1;
    int64_t n = gguf_arr_n(g, key, &et);
    if (n < 0) return PLM_OK; /* no charsmap: identity normalization */
    if (et != GGUF_TYPE_UINT8 && et != GGUF_TYPE_INT8)
        return plm_fail(PLM_E_FORMAT, "tokenizer: %s is not a byte array", key);
    if (n == 0) return PLM_OK;
    const uint8_t *blob = gguf_arr_data(g, key);
    if (!blob || n <= 4) return plm_fail(PLM_E_FORMAT, "tokenizer: %s is truncated", key);
    uint32_t trie_size = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                         (uint32_t)blob[3] << 24;
    if ((uint64_t)trie_size >= (uint64_t)n - 4 + 1 || trie_size < 4)
        return plm_fail(PLM_E_FORMAT, "tokenizer: %s: trie size %u does not fit in %lld bytes",
                        key, trie_size, (long long)n);
    u->n_units = trie_size / 4;
    u->repl_len = (uint32_t)(n - 4 - trie_size);
    u->units = plm_malloc_for((size_t)u->n_units * 4, "charsmap");
    u->repl = plm_malloc_for(u->repl_len + 1, "charsmap");
    if (!u->units || !u->repl) return PLM_E_NOMEM;
    for (uint32_t i = 0; i < u->n_units; i++) {
        const uint8_t *p = blob + 4 + 4 * (size_t)i;
        u->units[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                      (uint32_t)p[3] << 24;
    }
    memcpy(u->repl, blob + 4 + trie_size, u->repl_len);
    u->repl[u->repl_len] = 0;
    if (u->repl_len > 0 && u->repl[u->repl_len - 1] != 0)
        return plm_fail(PLM_E_FORMAT, "tokenizer: %s: replacement strings are not NUL-terminated",
                        key);
    return PLM_OK;
}

static int build_tries(ugm *u, const plm_vocab *v) {
    bkey *keys = plm_malloc_for((size_t)v->n_tokens * sizeof *keys, "unigram trie");
    if (!keys) return PLM_E_NOMEM;
    uint32_t n = 0, n_user = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        int type = v->types[i];
        if ((is_normal(type) || type == PLM_TOKEN_USER_DEFINED) && v->text_len[i] > 0) {
            keys[n++] = (bkey){(const uint8_t *)v->text[i], v->text_len[i], i};
            n_user += type == PLM_TOKEN_USER_DEFINED;
        }
    }
    int st = btrie_build(&u->pieces, keys, n);
    if (st == PLM_OK && n_user > 0) {
        uint32_t m = 0;
        for (int32_t i = 0; i < v->n_tokens; i++)
            if (v->types[i] == PLM_TOKEN_USER_DEFINED && v->text_len[i] > 0)
                keys[m++] = (bkey){(const uint8_t *)v->text[i], v->text_len[i], i};
        st = btrie_build(&u->user, keys, m);
        u->has_user = st == PLM_OK;
    }
    free(keys);
    return st;
}

static int ugm_init(plm_vocab *v, const gguf_ctx *g) {
    if (!v->scores) return plm_fail(PLM_E_MISSING, "tokenizer: unigram model has no tokenizer.ggml.scores");
    ugm *u = plm_calloc_for(1, sizeof *u, "unigram tokenizer");
    if (!u) return PLM_E_NOMEM;
    v->impl = u;

    /* unk: the UNKNOWN piece, as sentencepiece defines it */
    u->unk = -1;
    for (int32_t i = 0; i < v->n_tokens && u->unk < 0; i++)
        if (v->types[i] == PLM_TOKEN_UNKNOWN) u->unk = i;
    if (u->unk < 0) u->unk = v->unk;
    if (u->unk < 0 || u->unk >= v->n_tokens) {
        ugm_free(v);
        return plm_fail(PLM_E_FORMAT, "tokenizer: unigram model has no unknown token");
    }

    u->min_score = FLT_MAX;
    u->max_score = FLT_MIN; /* sic: sentencepiece's initial value */
    for (int32_t i = 0; i < v->n_tokens; i++) {
        if (!is_normal(v->types[i])) continue;
        u->min_score = PLM_MIN(u->min_score, v->scores[i]);
        u->max_score = PLM_MAX(u->max_score, v->scores[i]);
    }
    for (int i = 0; i < 256; i++) u->byte_id[i] = u->unk;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        if (v->types[i] != PLM_TOKEN_BYTE) continue;
        int b = byte_piece_value(v->text[i], v->text_len[i]);
        if (b < 0) continue;
        u->byte_fallback = 1;
        if (u->byte_id[b] == u->unk) u->byte_id[b] = i;
    }
    int st = load_charsmap(u, g);
    if (st == PLM_OK) st = build_tries(u, v);
    if (st != PLM_OK) ugm_free(v);
    return st;
}

/* -------------------------------------------------------------- decoding */
static int put_bytes(char *out, int cap, int pos, const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (pos + i < cap) out[pos + i] = s[i];
    return pos + n;
}

/* Text of one piece, U+2581 -> ' ' (PLM_DECODE_STRIP_LEADING drops a leading
 * U+2581 instead); returns its length (may exceed cap: only cap bytes written). */
static int ugm_token_bytes(const plm_vocab *v, int32_t id, int flags, char *out, int cap) {
    const ugm *u = v->impl;
    if (id < 0 || id >= v->n_tokens)
        return plm_fail(PLM_E_INVALID, "token id %d out of range [0, %d)", id, v->n_tokens);
    const char *s = v->text[id];
    int n = (int)v->text_len[id], pos = 0, i = 0;
    switch (v->types[id]) {
    case PLM_TOKEN_UNUSED: return 0;
    case PLM_TOKEN_UNKNOWN:
        if (tok_unk_surface(v, id, flags)) return put_bytes(out, cap, 0, TOK_UNK_SURFACE, TOK_UNK_SURFACE_LEN);
        return (flags & PLM_DECODE_SKIP_SPECIAL) ? 0 : put_bytes(out, cap, 0, s, n);
    case PLM_TOKEN_CONTROL:
        return (flags & PLM_DECODE_SKIP_SPECIAL) ? 0 : put_bytes(out, cap, 0, s, n);
    case PLM_TOKEN_BYTE: {
        int b = byte_piece_value(s, (size_t)n);
        if (b >= 0 && u->byte_fallback) {
            char c = (char)b;
            return put_bytes(out, cap, 0, &c, 1);
        }
        break;
    }
    default: break;
    }
    if ((flags & PLM_DECODE_STRIP_LEADING) && n >= 3 && !memcmp(s, SPACE_SYMBOL, 3)) i = 3;
    while (i < n) {
        if (i + 3 <= n && !memcmp(s + i, SPACE_SYMBOL, 3)) {
            pos = put_bytes(out, cap, pos, " ", 1);
            i += 3;
        } else {
            pos = put_bytes(out, cap, pos, s + i++, 1);
        }
    }
    return pos;
}

/* Whole sequence: the pieces' bytes concatenated, then malformed UTF-8 (from
 * byte pieces) replaced by U+FFFD per byte, as SentencePieceProcessor::Decode
 * does. PLM_DECODE_STRIP_LEADING applies its rule for models with a dummy
 * prefix or whitespace removal: while no text has been produced, a piece's
 * leading U+2581 is dropped (with remove_extra_whitespaces for every such
 * piece, otherwise only for the first one). */
static int ugm_decode(const plm_vocab *v, const int32_t *ids, int n, int flags, char *out, int cap) {
    sbuf raw = {0};
    int leading = (flags & PLM_DECODE_STRIP_LEADING) &&
                  (v->add_space_prefix || v->remove_extra_whitespaces);
    int st = PLM_OK;
    for (int i = 0; i < n && st == PLM_OK; i++) {
        const int32_t id = ids[i];
        if (id < 0 || id >= v->n_tokens) {
            st = plm_fail(PLM_E_INVALID, "token id %d out of range [0, %d)", id, v->n_tokens);
            break;
        }
        int f = (flags & ~PLM_DECODE_STRIP_LEADING) | (leading ? PLM_DECODE_STRIP_LEADING : 0);
        int len = ugm_token_bytes(v, id, f, NULL, 0);
        if (len < 0) {
            st = len;
            break;
        }
        if (len > 0 && (st = sbuf_reserve(&raw, (size_t)len)) == PLM_OK) {
            ugm_token_bytes(v, id, f, raw.p + raw.n, len);
            raw.n += (size_t)len;
            if (raw.n > INT32_MAX / 4) st = plm_fail(PLM_E_TOO_LONG, "decoded text too long");
        }
        if (leading && (len > 0 || (!v->remove_extra_whitespaces && v->types[id] != PLM_TOKEN_CONTROL &&
                                    v->text_len[id] >= 3 && !memcmp(v->text[id], SPACE_SYMBOL, 3))))
            leading = 0;
    }
    int pos = 0;
    for (size_t i = 0; st == PLM_OK && i < raw.n;) {
        size_t m;
        if (sp_valid_utf8((const uint8_t *)raw.p + i, raw.n - i, &m)) {
            pos = put_bytes(out, cap, pos, raw.p + i, (int)m);
        } else {
            pos = put_bytes(out, cap, pos, "\xEF\xBF\xBD", 3);
        }
        i += m;
    }
    free(raw.p);
    if (st != PLM_OK) return st;
    if (pos < cap) out[pos] = 0;
    return pos;
}

const tok_algo tok_algo_ugm = {
    .model = "t5",
    .type = PLM_VOCAB_UGM,
    .init = ugm_init,
    .free = ugm_free,
    .encode = ugm_encode,
    .token_bytes = ugm_token_bytes,
    .decode = ugm_decode,
};
