/* tok_bpe.c — byte-level BPE ("gpt2"), as Hugging Face's GPT-2 style tokenizers:
 *
 *   1. pre-tokenize: split the text into words with the model's pre-tokenizer
 *      (tokenizer.ggml.pre, llama.cpp's names): one or several regexes applied
 *      in sequence, each splitting every piece the previous one produced (text
 *      between matches is kept as pieces too). Each regex is a hand-written
 *      scanner below, alternative by alternative, with the regex's own
 *      backtracking worked out (see the pre-tokenizer table);
 *   2. map every byte of a word to its printable stand-in (bytes_to_unicode);
 *   3. merge adjacent symbols by merge rank (tokenizer.ggml.merges, "a b"
 *      strings, rank = index), lowest rank first, leftmost first among equals;
 *      with ignore_merges (Llama 3, Tekken) a word that is itself a token is
 *      that token.
 *
 * Symbols are token ids from the start (every byte stand-in is a token), so a
 * merge is a lookup (left id, right id) -> (rank, merged id) in a hash table.
 * Input bytes that are not valid UTF-8 are kept (each is its own "other"
 * character for the regexes and its own byte for BPE), so decoding gives the
 * input back byte for byte.
 */
#include <stdio.h>
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

typedef struct pre_tokenizer pre_tokenizer;

typedef struct {
    bpe_merge *merges;
    uint32_t merge_cap;
    const pre_tokenizer *pre;
    int ignore_merges;
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

/* ------------------------------------------------------------ pre-tokenizers
 *
 * Each scanner returns the byte length of the regex match that starts at s[i]
 * inside the piece s[0..len), or 0 if the regex does not match there (a
 * regex-split then moves on by one character). Characters are classified by
 * code point; an invalid UTF-8 byte is a character of its own that is none of
 * \p{L}, \p{N}, \s, \p{P}, \p{M} (cp == BAD_CP). */

#define BAD_CP 0x110000u

static inline uint32_t cp_at(const char *s, size_t len, size_t i, size_t *next) {
    uint32_t cp;
    size_t p = i;
    int n = uc_next(s, len, &p, &cp);
    *next = p;
    return (n == 1 && cp == 0xFFFD) ? BAD_CP : cp;
}

static inline int is_L(uint32_t c) { return c != BAD_CP && uc_is_letter(c); }
static inline int is_N(uint32_t c) { return c != BAD_CP && uc_is_number(c); }
static inline int is_S(uint32_t c) { return c != BAD_CP && uc_is_space(c); }
static inline int is_P(uint32_t c) { return c != BAD_CP && uc_is_punct(c); }
static inline int is_nl(uint32_t c) { return c == '\r' || c == '\n'; }
/* [^\s\p{L}\p{N}] */
static inline int is_other(uint32_t c) { return !is_S(c) && !is_L(c) && !is_N(c); }
/* [^\r\n\p{L}\p{N}]: the optional character before a word (Llama 3, Qwen2, GPT-4o) */
static inline int is_word_prefix(uint32_t c) { return !is_nl(c) && !is_L(c) && !is_N(c); }

/* End of the run of characters with property f starting at s[p]. */
static size_t run_end(const char *s, size_t len, size_t p, int (*f)(uint32_t)) {
    while (p < len) {
        size_t q;
        if (!f(cp_at(s, len, p, &q))) break;
        p = q;
    }
    return p;
}

/* 's|'t|'re|'ve|'m|'ll|'d after the apostrophe at s[i]: the match length or 0.
 * ci: case-insensitive as (?i:...) in Python's regex / Oniguruma (simple case
 * folding: U+017F LATIN SMALL LETTER LONG S folds to s). */
static size_t contraction(const char *s, size_t len, size_t i, int ci) {
    if (i >= len || s[i] != '\'' || i + 1 >= len) return 0;
    unsigned char a = (unsigned char)s[i + 1], b = i + 2 < len ? (unsigned char)s[i + 2] : 0;
    if (ci) {
        if (a == 0xC5 && b == 0xBF) return 3; /* 'ſ */
        a = (unsigned char)(a | (a >= 'A' && a <= 'Z' ? 32 : 0));
        b = (unsigned char)(b | (b >= 'A' && b <= 'Z' ? 32 : 0));
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* The whitespace alternatives at a whitespace character s[i]:
 *   nl = 1:  \s*[\r\n]+ | \s+(?!\S) | \s+   (Llama 3 family)
 *   nl = 0:  \s+(?!\S) | \s+                (GPT-2)
 * \s*[\r\n]+ backtracks to the last \r or \n of the run; \s+(?!\S) leaves the
 * last character of a run that a non-space follows, unless it is the only one. */
static size_t space_match(const char *s, size_t len, size_t i, int nl) {
    size_t p = i, last = i, nl_end = 0;
    while (p < len) {
        size_t q;
        uint32_t c = cp_at(s, len, p, &q);
        if (!is_S(c)) break;
        if (is_nl(c)) nl_end = q;
        last = p;
        p = q;
    }
    if (nl && nl_end) return nl_end - i;
    if (p == len || last == i) return p - i;
    return last - i;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (llama.cpp drops the final \s+, which only matches what a split keeps anyway). */
static size_t gpt2_match(const char *s, size_t len, size_t i) {
    size_t i1, i2;
    uint32_t c0 = cp_at(s, len, i, &i1);
    size_t n = contraction(s, len, i, 0);
    if (n) return n;
    if (c0 == ' ' && i1 < len) {
        uint32_t c1 = cp_at(s, len, i1, &i2);
        if (!is_S(c1)) {
            c0 = c1;
            i1 = i2;
        }
    }
    if (is_L(c0)) return run_end(s, len, i1, is_L) - i;
    if (is_N(c0)) return run_end(s, len, i1, is_N) - i;
    if (!is_S(c0)) return run_end(s, len, i1, is_other) - i;
    return space_match(s, len, i, 0);
}

/* ' ?[^\s\p{L}\p{N}]+' + tail: a run of "other" characters, optionally after
 * one space, then a run of [\r\n] (slash = 0) or [\r\n/] (slash = 1). 0 if none. */
static size_t other_run(const char *s, size_t len, size_t i, int slash) {
    size_t i1, i2;
    uint32_t c0 = cp_at(s, len, i, &i1);
    if (c0 == ' ' && i1 < len && is_other(cp_at(s, len, i1, &i2))) i1 = i2;
    else if (!is_other(c0)) return 0;
    size_t p = run_end(s, len, i1, is_other);
    while (p < len && (s[p] == '\r' || s[p] == '\n' || (slash && s[p] == '/'))) p++;
    return p - i;
}

/* \p{N}{1,max} at s[i] (i is a number). */
static size_t digits(const char *s, size_t len, size_t i, int max) {
    size_t p = i, q;
    for (int k = 0; k < max && p < len && is_N(cp_at(s, len, p, &q)); k++) p = q;
    return p - i;
}

/* Llama 3 (digits = 3) and Qwen2 (digits = 1):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t llama3_family(const char *s, size_t len, size_t i, int max_digits) {
    size_t i1, i2;
    uint32_t c0 = cp_at(s, len, i, &i1);
    size_t n = contraction(s, len, i, 1);
    if (n) return n;
    if (is_L(c0)) return run_end(s, len, i1, is_L) - i;
    if (is_word_prefix(c0) && i1 < len && is_L(cp_at(s, len, i1, &i2))) return run_end(s, len, i2, is_L) - i;
    if (is_N(c0)) return digits(s, len, i, max_digits);
    if ((n = other_run(s, len, i, 0))) return n;
    return space_match(s, len, i, 1);
}
static size_t llama3_match(const char *s, size_t len, size_t i) { return llama3_family(s, len, i, 3); }
static size_t qwen2_match(const char *s, size_t len, size_t i) { return llama3_family(s, len, i, 1); }

/* GPT-4o (o200k) and Tekken words: upper-case-ish then lower-case-ish letters,
 *   A = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}],  B = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
 *   alt 1: A*B+     alt 2: A+B*
 * Greedy A* gives back characters until B+ can start: B+ then starts right after
 * the A-run (and runs over B) or, failing that, at the last B character inside
 * the A-run (Lm/Lo/M are in both), where it ends (the next one is not in B). */
static int is_A(uint32_t c) {
    int k = c == BAD_CP ? UC_Cn : uc_category(c);
    return k == UC_Lu || k == UC_Lt || k == UC_Lm || k == UC_Lo || (k >= UC_Mn && k <= UC_Me);
}
static int is_B(uint32_t c) {
    int k = c == BAD_CP ? UC_Cn : uc_category(c);
    return k == UC_Ll || k == UC_Lm || k == UC_Lo || (k >= UC_Mn && k <= UC_Me);
}

static size_t word_a_star_b_plus(const char *s, size_t len, size_t p) {
    size_t q = p, last_b_end = 0;
    while (q < len) {
        size_t nx;
        uint32_t c = cp_at(s, len, q, &nx);
        if (!is_A(c)) break;
        if (is_B(c)) last_b_end = nx;
        q = nx;
    }
    size_t nx;
    if (q < len && is_B(cp_at(s, len, q, &nx))) return run_end(s, len, nx, is_B);
    return last_b_end; /* 0: no match */
}

static size_t word_a_plus_b_star(const char *s, size_t len, size_t p) {
    size_t q = run_end(s, len, p, is_A);
    return q == p ? 0 : run_end(s, len, q, is_B);
}

/* GPT-4o (contractions = 1, digits = 3) and Tekken (0, 1):
 *   [^\r\n\p{L}\p{N}]?A*B+C?|[^\r\n\p{L}\p{N}]?A+B*C?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * with C = (?i:'s|'t|'re|'ve|'m|'ll|'d). This is the tokenizer.json regex; llama.cpp
 * rewrites the letter classes for std::regex as "letter but not a-z / A-Z", which
 * differs on marks (\p{M}) and non-ASCII case; Hugging Face's result is kept. */
static size_t o200k_family(const char *s, size_t len, size_t i, int contractions, int max_digits) {
    size_t i1;
    uint32_t c0 = cp_at(s, len, i, &i1);
    const int pre = is_word_prefix(c0) && i1 < len;
    size_t (*const alts[2])(const char *, size_t, size_t) = {word_a_star_b_plus, word_a_plus_b_star};
    for (int a = 0; a < 2; a++) {
        size_t e = pre ? alts[a](s, len, i1) : 0;
        if (!e) e = alts[a](s, len, i);
        if (e) return e + (contractions ? contraction(s, len, e, 1) : 0) - i;
    }
    if (is_N(c0)) return digits(s, len, i, max_digits);
    size_t n = other_run(s, len, i, 1);
    return n ? n : space_match(s, len, i, 1);
}
static size_t gpt4o_match(const char *s, size_t len, size_t i) { return o200k_family(s, len, i, 1, 3); }
static size_t tekken_match(const char *s, size_t len, size_t i) { return o200k_family(s, len, i, 0, 1); }

/* \p{N}: one number character (StarCoder / SmolLM / Qwen-style digit isolation). */
static size_t one_digit(const char *s, size_t len, size_t i) {
    size_t nx;
    return is_N(cp_at(s, len, i, &nx)) ? nx - i : 0;
}

/* Falcon: [\p{P}\$\+<=>\^~\|`]+  and  [0-9][0-9][0-9] */
static int is_falcon_punct(uint32_t c) {
    return is_P(c) || (c < 128 && c && strchr("$+<=>^~|`", (int)c));
}
static size_t falcon_punct(const char *s, size_t len, size_t i) {
    return run_end(s, len, i, is_falcon_punct) - i;
}
static size_t three_digits(const char *s, size_t len, size_t i) {
    for (int k = 0; k < 3; k++)
        if (i + k >= len || s[i + k] < '0' || s[i + k] > '9') return 0;
    return 3;
}

/* DeepSeek Coder: [\r\n] | \s?\p{L}+ | \s?\p{P}+ | [一-龥ࠀ-一가-퟿]+ | \p{N}  (one regex each) */
static size_t one_newline(const char *s, size_t len, size_t i) { return s[i] == '\r' || s[i] == '\n'; }
static size_t space_then_run(const char *s, size_t len, size_t i, int (*f)(uint32_t)) {
    size_t i1, i2;
    uint32_t c0 = cp_at(s, len, i, &i1);
    if (is_S(c0) && i1 < len && f(cp_at(s, len, i1, &i2))) return run_end(s, len, i2, f) - i;
    return f(c0) ? run_end(s, len, i1, f) - i : 0;
}
static size_t space_letters(const char *s, size_t len, size_t i) { return space_then_run(s, len, i, is_L); }
static size_t space_puncts(const char *s, size_t len, size_t i) { return space_then_run(s, len, i, is_P); }
static int is_deepseek_cjk(uint32_t c) { return (c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF); }
static size_t deepseek_cjk(const char *s, size_t len, size_t i) { return run_end(s, len, i, is_deepseek_cjk) - i; }

typedef size_t (*pre_match_fn)(const char *s, size_t len, size_t i);

#define PRE_MAX_STAGES 5
struct pre_tokenizer {
    const char *id;                        /* our name for it (tests, tok_cli) */
    pre_match_fn stage[PRE_MAX_STAGES];    /* regexes applied in sequence */
    int ignore_merges, add_bos;            /* llama.cpp's per-type defaults */
    const char *names;                     /* tokenizer.ggml.pre values, '|'-separated */
};

/* The pre-tokenizers of llama.cpp's llm_tokenizer_bpe, by tokenizer.ggml.pre value
 * (llama_vocab::impl::load). An absent key and "default" are read as GPT-2 here:
 * llama.cpp's fallback regex set for them is a stop-gap it warns about, and the
 * files without the key are GPT-2 conversions. */
static const pre_tokenizer PRE_TOKENIZERS[] = {
    {"gpt2", {gpt2_match}, 0, 0,
     "gpt-2|default|phi-2|mpt|olmo|jais|jina-es|jina-de|jina-v2-es|jina-v2-de|gigachat|a.x-4.0|mellum|"
     "modern-bert|exaone4|trillion|granite-docling|jina-v1-en|jina-v2-code|roberta-bpe"},
    {"llama3", {llama3_match}, 1, 1,
     "llama3|llama-v3|llama-bpe|falcon3|falcon-h1|pixtral|midm-2.0|lfm2"},
    {"llama3-regex", {llama3_match}, 0, 0, "dbrx|smaug-bpe|glm4|chatglm-bpe"},
    {"qwen2", {qwen2_match}, 0, 0, "qwen2|deepseek-r1-qwen|megrez|stablelm2|hunyuan|kormo|grok-2"},
    {"starcoder", {one_digit, gpt2_match}, 0, 0,
     "starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b"},
    {"falcon", {falcon_punct, gpt2_match, three_digits}, 0, 0, "falcon"},
    {"gpt-4o", {gpt4o_match}, 0, 0, "gpt-4o|llama4"},
    {"tekken", {tekken_match}, 1, 1, "tekken"},
    {"deepseek-coder", {one_newline, space_letters, space_puncts, deepseek_cjk, one_digit}, 0, 0,
     "deepseek-coder"},
};
#define N_PRE ((int)(sizeof PRE_TOKENIZERS / sizeof PRE_TOKENIZERS[0]))

static int name_in_list(const char *name, const char *list) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, '|');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && memcmp(p, name, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static const pre_tokenizer *pre_find(const char *pre) {
    if (!pre) return &PRE_TOKENIZERS[0];
    for (int i = 0; i < N_PRE; i++)
        if (name_in_list(pre, PRE_TOKENIZERS[i].names)) return &PRE_TOKENIZERS[i];
    return NULL;
}

/* Pieces of text[0..len) (byte lengths, in order) under pre-tokenizer p.
 * Lengths go to a growing list; returns the count or PLM_E_NOMEM. */
typedef struct { uint32_t *len; int n, cap; } piece_list;

static int piece_push(piece_list *l, size_t n) {
    if (l->n == l->cap) {
        if (l->cap > INT32_MAX / 4) return plm_fail(PLM_E_TOO_LONG, "tokenize: too many words");
        int cap = l->cap ? 2 * l->cap : 64;
        uint32_t *p = plm_realloc_for(l->len, (size_t)cap * sizeof *p, "pre-tokenizer pieces");
        if (!p) return PLM_E_NOMEM;
        l->len = p;
        l->cap = cap;
    }
    l->len[l->n++] = (uint32_t)n;
    return PLM_OK;
}

/* One regex over one piece: matches and the text between them, in order. */
static int split_piece(pre_match_fn f, const char *s, size_t len, piece_list *out) {
    size_t gap = 0, i = 0;
    int r;
    while (i < len) {
        size_t m = f(s, len, i);
        if (m == 0) {
            size_t nx;
            cp_at(s, len, i, &nx);
            i = nx;
            continue;
        }
        if (i > gap && (r = piece_push(out, i - gap)) < 0) return r;
        if ((r = piece_push(out, m)) < 0) return r;
        i += m;
        gap = i;
    }
    if (i > gap && (r = piece_push(out, i - gap)) < 0) return r;
    return PLM_OK;
}

static int pre_split(const pre_tokenizer *p, const char *text, size_t len, piece_list *out) {
    if (len > UINT32_MAX) return plm_fail(PLM_E_TOO_LONG, "tokenize: text too long");
    piece_list cur = {0}, next = {0};
    int r = PLM_OK;
    if (len > 0 && (r = piece_push(&cur, len)) < 0) goto done;
    for (int st = 0; st < PRE_MAX_STAGES && p->stage[st]; st++) {
        next.n = 0;
        size_t off = 0;
        for (int k = 0; k < cur.n; k++) {
            if ((r = split_piece(p->stage[st], text + off, cur.len[k], &next)) < 0) goto done;
            off += cur.len[k];
        }
        piece_list t = cur;
        cur = next;
        next = t;
    }
done:
    free(next.len);
    if (r < 0) {
        free(cur.len);
        return r;
    }
    *out = cur;
    return PLM_OK;
}

size_t tok_bpe_pretokenize_len(const char *s, size_t len, size_t i) { return i < len ? gpt2_match(s, len, i) : 0; }

int tok_bpe_split(const char *pre, const char *text, size_t len, uint32_t *lens, int cap) {
    const pre_tokenizer *p = NULL;
    for (int i = 0; i < N_PRE && !p; i++)
        if (strcmp(pre, PRE_TOKENIZERS[i].id) == 0 || name_in_list(pre, PRE_TOKENIZERS[i].names))
            p = &PRE_TOKENIZERS[i];
    if (!p) return plm_fail(PLM_E_UNSUPPORTED, "unknown BPE pre-tokenizer \"%s\"", pre);
    piece_list l;
    int r = pre_split(p, text, len, &l);
    if (r < 0) return r;
    if (cap > 0 && l.n > 0) memcpy(lens, l.len, (size_t)PLM_MIN(l.n, cap) * sizeof *lens);
    r = l.n;
    free(l.len);
    return r;
}

static void pre_names(char *out, size_t cap) {
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < N_PRE && n + 1 < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%s", i ? "|" : "", PRE_TOKENIZERS[i].names);
        if (w < 0) break;
        n += (size_t)w;
    }
    for (char *c = out; *c; c++)
        if (*c == '|') *c = ' ';
}

static void bpe_free(plm_vocab *v) {
    bpe_impl *b = v->impl;
    if (b) free(b->merges);
    free(b);
    v->impl = NULL;
}

static int bpe_init(plm_vocab *v, const gguf_ctx *g) {
    const char *pre = gguf_get_str(g, "tokenizer.ggml.pre");
    const pre_tokenizer *pt = pre_find(pre);
    if (!pt) {
        char names[1024];
        pre_names(names, sizeof names);
        return plm_fail(PLM_E_UNSUPPORTED, "BPE pre-tokenizer \"%s\" is not supported (supported: %s)", pre, names);
    }
    /* llama.cpp's per-type default for BOS, which tokenizer.ggml.add_bos_token overrides */
    if (pt->add_bos && gguf_find_key(g, "tokenizer.ggml.add_bos_token") < 0) {
        if (v->bos < 0)
            return plm_fail(PLM_E_FORMAT, "BPE pre-tokenizer \"%s\" adds BOS, but tokenizer.ggml.bos_token_id is not set", pre);
        v->add_bos = 1;
    }
    int et = -1;
    int64_t n = gguf_arr_n(g, "tokenizer.ggml.merges", &et);
    if (n < 0) return plm_fail(PLM_E_MISSING, "tokenizer.ggml.merges is missing (needed by a gpt2 tokenizer)");
    if (et != GGUF_TYPE_STRING) return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.merges must be an array of strings");
    if (n > INT32_MAX / 4) return plm_fail(PLM_E_FORMAT, "tokenizer.ggml.merges: too many merges");

    bpe_impl *b = plm_calloc_for(1, sizeof *b, "BPE tokenizer");
    if (!b) return PLM_E_NOMEM;
    v->impl = b;
    b->pre = pt;
    b->ignore_merges = pt->ignore_merges;
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

/* ignore_merges: the word's byte stand-ins (into buf, 2 bytes per byte at most)
 * looked up as a whole token; -1 if it is not one. */
static int32_t whole_word(const plm_vocab *v, const bpe_impl *b, const unsigned char *w, int n, char *buf) {
    size_t o = 0;
    for (int i = 0; i < n; i++) o += (size_t)uc_put(b->byte_char[w[i]], buf + o);
    return tok_find(v, buf, o);
}

static int bpe_encode(const plm_vocab *v, const char *text, size_t len, int first, tok_ids *out) {
    (void)first;
    const bpe_impl *b = v->impl;
    if (len == 0) return PLM_OK;
    piece_list words;
    int r = pre_split(b->pre, text, len, &words);
    if (r < 0) return r;
    /* scratch sized for the longest word, grown on demand */
    int cap = 0;
    bpe_sym *sym = NULL;
    bpe_cand *heap = NULL;
    char *buf = NULL;
    size_t off = 0;
    for (int k = 0; k < words.n; off += words.len[k], k++) {
        const size_t m = words.len[k];
        const unsigned char *w = (const unsigned char *)text + off;
        if ((uint64_t)m * (sizeof *sym + 3 * sizeof *heap) > (uint64_t)SIZE_MAX / 2 || m > (size_t)(INT32_MAX / 4)) {
            r = plm_fail(PLM_E_TOO_LONG, "tokenize: a single word of %zu bytes is too long", m);
            break;
        }
        if ((int)m > cap) {
            cap = (int)m < 64 ? 64 : (int)m;
            free(sym);
            free(heap);
            free(buf);
            sym = plm_malloc_for((size_t)cap * sizeof *sym, "BPE symbols");
            heap = plm_malloc_for((size_t)cap * 3 * sizeof *heap, "BPE queue");
            buf = plm_malloc_for((size_t)cap * 2, "BPE word");
            if (!sym || !heap || !buf) {
                r = PLM_E_NOMEM;
                break;
            }
        }
        if (b->ignore_merges && m > 1) {
            int32_t id = whole_word(v, b, w, (int)m, buf);
            if (id >= 0) {
                if ((r = tok_push(out, id)) < 0) break;
                continue;
            }
        }
        if ((r = bpe_word(v, b, w, (int)m, sym, heap, out)) < 0) break;
    }
    free(words.len);
    free(sym);
    free(heap);
    free(buf);
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
