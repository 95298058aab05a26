/* tok_wpm.c — WordPiece tokenizer (tokenizer.ggml.model = "bert").
 *
 * Exact to Hugging Face's slow BertTokenizer(do_lower_case=True), i.e.
 * BasicTokenizer followed by WordpieceTokenizer:
 *   1. clean: drop U+0000, U+FFFD and control characters (category C*, except
 *      \t \n \r which are whitespace); whitespace (\t \n \r, Zs) -> space;
 *   2. put spaces around CJK ideographs (BertTokenizer._is_chinese_char);
 *   3. split on whitespace (Python str.split(): also U+2028/U+2029);
 *   4. per word: str.lower() (full mappings, Final_Sigma), NFD, drop Mn;
 *   5. split off every punctuation character (ASCII non-alphanumeric printable
 *      characters and Unicode P*);
 *   6. WordPiece: words longer than 100 code points -> [UNK]; otherwise greedy
 *      longest-match-first with "##" continuations, and a word with an
 *      unmatchable rest -> [UNK] (one for the whole word).
 * A word of step 3 that is exactly a special token ("[MASK]") is that token
 * (BasicTokenizer's never_split). Special tokens elsewhere in the text
 * ("[MASK].") are split out by tokenizer.c when parse_special is set.
 *
 * Vocabulary forms. llama.cpp's converter stores BERT vocabularies in
 * "phantom space" form: the special tokens verbatim, "##x" as "x", and every
 * other token w as U+2581 w. A file written by another tool may keep the raw
 * vocab.txt strings. init() tells the two apart by counting tokens that start
 * with U+2581 vs "##", and lookups build the key in the file's form.
 *
 * Decoding follows HF's decode(): tokens joined with spaces, " ##" removed,
 * stripped, then clean_up_tokenization (" ." -> "." etc.), which is the text
 * the fill-mask pipeline shows; PLM_DECODE_SKIP_SPECIAL drops CONTROL tokens
 * ([CLS] [SEP] [PAD] [MASK] [UNK], HF's all_special_ids).
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tok_impl.h"
#include "unicode.h"

#define MAX_WORD_CHARS 100 /* WordpieceTokenizer.max_input_chars_per_word */
#define PHANTOM "\xE2\x96\x81" /* U+2581 */

typedef struct wpm {
    int phantom;         /* tokens in llama.cpp's phantom-space form */
    int32_t unk;
    uint32_t max_first;  /* longest word-initial piece, bytes (no prefix) */
    uint32_t max_cont;   /* longest continuation piece, bytes (no "##") */
} wpm;

/* ------------------------------------------------------------ buffers */
typedef struct u32buf {
    uint32_t *p;
    size_t n, cap;
} u32buf;

static int u32_reserve(u32buf *b, size_t extra) {
    if (b->n + extra <= b->cap) return PLM_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra) cap *= 2;
    uint32_t *p = plm_realloc_for(b->p, cap * sizeof *p, "wordpiece buffer");
    if (!p) return PLM_E_NOMEM;
    b->p = p, b->cap = cap;
    return PLM_OK;
}

static int u32_push(u32buf *b, uint32_t c) {
    if (u32_reserve(b, 1)) return PLM_E_NOMEM;
    b->p[b->n++] = c;
    return PLM_OK;
}

typedef struct wpm_work {
    u32buf word;  /* the current whitespace-delimited word */
    u32buf norm;  /* lowered, decomposed, Mn dropped */
    char *key;    /* lookup key: prefix + UTF-8 of a candidate piece */
    size_t key_cap;
    uint32_t *offs; /* byte offset of each code point of a piece */
    size_t offs_cap;
} wpm_work;

static void work_free(wpm_work *w) {
    free(w->word.p);
    free(w->norm.p);
    free(w->key);
    free(w->offs);
}

/* ------------------------------------------------------ character classes */
/* (ASCII answered without the category tables: this is the hot path) */
static int bert_is_whitespace(uint32_t c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return 1;
    return c >= 0x80 && uc_category(c) == UC_Zs;
}

static int bert_is_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    if (c < 0x80) return c < 0x20 || c == 0x7F;
    int cat = uc_category(c);
    return cat == UC_Cc || cat == UC_Cf || cat == UC_Cs || cat == UC_Co || cat == UC_Cn;
}

static int bert_is_punct(uint32_t c) {
    if (c < 0x80) /* (every ASCII P* character is in these ranges) */
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
               (c >= 123 && c <= 126);
    return uc_is_punct(c);
}

static int is_mark_nonspacing(uint32_t c) { return c >= 0x300 && uc_category(c) == UC_Mn; }

/* ------------------------------------------------------------- lookups */

/* Id of the piece cps[0..n) (word-initial or continuation), -1 if absent. */
static int32_t find_piece(const plm_vocab *v, wpm_work *w, const char *utf8, size_t len, int cont) {
    const wpm *m = v->impl;
    const char *prefix = "";
    if (m->phantom && !cont) prefix = PHANTOM;
    if (!m->phantom && cont) prefix = "##";
    size_t pl = strlen(prefix);
    memcpy(w->key, prefix, pl);
    memcpy(w->key + pl, utf8, len);
    int32_t id = tok_find(v, w->key, pl + len);
    if (id >= 0 && v->types[id] == PLM_TOKEN_CONTROL) id = -1; /* specials never match text */
    return id;
}

/* WordpieceTokenizer.tokenize for one punctuation-free piece (or a single
 * punctuation character). */
static int wordpiece(const plm_vocab *v, wpm_work *w, const uint32_t *cps, size_t n,
                     tok_ids *out) {
    const wpm *m = v->impl;
    if (n == 0) return PLM_OK;
    if (n > MAX_WORD_CHARS) return tok_push(out, m->unk);
    /* UTF-8 of the piece, and the byte offset of every code point */
    if (w->offs_cap < n + 1) {
        uint32_t *p = plm_realloc_for(w->offs, (n + 1) * sizeof *p, "wordpiece buffer");
        if (!p) return PLM_E_NOMEM;
        w->offs = p, w->offs_cap = n + 1;
    }
    if (w->key_cap < 8 * n + 8) { /* first half: the key, second half: the piece */
        char *p = plm_realloc_for(w->key, 8 * n + 8, "wordpiece buffer");
        if (!p) return PLM_E_NOMEM;
        w->key = p, w->key_cap = 8 * n + 8;
    }
    char *utf8 = w->key + w->key_cap / 2;
    uint32_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        w->offs[i] = nb;
        nb += (uint32_t)uc_put(cps[i], utf8 + nb);
    }
    w->offs[n] = nb;

    const int n_before = out->n;
    for (size_t start = 0; start < n;) {
        const int cont = start > 0;
        const uint32_t max_len = cont ? m->max_cont : m->max_first;
        size_t end = n;
        int32_t id = -1;
        for (; end > start; end--) {
            uint32_t len = w->offs[end] - w->offs[start];
            if (len > max_len) continue;
            id = find_piece(v, w, utf8 + w->offs[start], len, cont);
            if (id >= 0) break;
        }
        if (id < 0) { /* the whole word becomes [UNK] */
            out->n = n_before;
            return tok_push(out, m->unk);
        }
        int st = tok_push(out, id);
        if (st) return st;
        start = end;
    }
    return PLM_OK;
}

/* BasicTokenizer on one whitespace-delimited word (already cleaned), then
 * WordPiece on each of its punctuation-separated pieces. */
static int process_word(const plm_vocab *v, wpm_work *w, tok_ids *out) {
    const u32buf *word = &w->word;
    u32buf *norm = &w->norm;
    norm->n = 0;
    for (size_t i = 0; i < word->n; i++) {
        uint32_t low[3], dec[4];
        int nl = uc_lower_at(word->p, word->n, i, low);
        for (int a = 0; a < nl; a++) {
            int nd = uc_nfd(low[a], dec);
            if (u32_reserve(norm, (size_t)nd)) return PLM_E_NOMEM;
            for (int b = 0; b < nd; b++) norm->p[norm->n++] = dec[b];
        }
    }
    if (uc_canonical_order(norm->p, norm->n)) return PLM_E_NOMEM;
    /* drop Mn, then split on punctuation */
    size_t k = 0;
    for (size_t i = 0; i < norm->n; i++)
        if (!is_mark_nonspacing(norm->p[i])) norm->p[k++] = norm->p[i];
    norm->n = k;
    size_t start = 0;
    for (size_t i = 0; i < norm->n; i++) {
        if (!bert_is_punct(norm->p[i])) continue;
        int st = wordpiece(v, w, norm->p + start, i - start, out);
        if (!st) st = wordpiece(v, w, norm->p + i, 1, out);
        if (st) return st;
        start = i + 1;
    }
    return wordpiece(v, w, norm->p + start, norm->n - start, out);
}

/* BertTokenizer passes never_split = all_special_tokens to BasicTokenizer: a
 * whitespace-delimited word that is exactly a special token's text ("[MASK]",
 * not "[MASK].") is neither lower-cased nor split and maps to that token. */
static int32_t special_word(const plm_vocab *v, const u32buf *word) {
    char buf[4 * 32];
    size_t n = 0;
    if (word->n > 32) return -1;
    for (size_t i = 0; i < word->n; i++) n += (size_t)uc_put(word->p[i], buf + n);
    int32_t id = tok_find(v, buf, n);
    return id >= 0 && v->types[id] == PLM_TOKEN_CONTROL ? id : -1;
}

static int flush_word(const plm_vocab *v, wpm_work *w, tok_ids *out) {
    if (w->word.n == 0) return PLM_OK;
    int32_t special = special_word(v, &w->word);
    int st = special >= 0 ? tok_push(out, special) : process_word(v, w, out);
    w->word.n = 0;
    return st;
}

static int wpm_encode(const plm_vocab *v, const char *text, size_t len, int first, tok_ids *out) {
    wpm_work w = {0};
    int st = PLM_OK;
    size_t pos = 0;
    uint32_t c;
    while (st == PLM_OK && uc_next(text, len, &pos, &c)) {
        /* invalid UTF-8 decodes to U+FFFD, which BERT drops like U+0000 */
        if (c == 0 || c == 0xFFFD || bert_is_control(c)) continue;
        if (bert_is_whitespace(c) || uc_is_pyspace(c)) {
            st = flush_word(v, &w, out);
        } else if (uc_is_cjk(c)) {
            st = flush_word(v, &w, out);
            if (!st) st = u32_push(&w.word, c);
            if (!st) st = flush_word(v, &w, out);
        } else {
            st = u32_push(&w.word, c);
        }
    }
    if (st == PLM_OK) st = flush_word(v, &w, out);
    work_free(&w);
    return st;
}

/* --------------------------------------------------------------- loading */
static int starts_with(const char *s, uint32_t n, const char *p) {
    size_t pn = strlen(p);
    return n >= pn && !memcmp(s, p, pn);
}

static int wpm_init(plm_vocab *v, const gguf_ctx *g) {
    wpm *m = plm_calloc_for(1, sizeof *m, "wordpiece tokenizer");
    if (!m) return PLM_E_NOMEM;
    int64_t n_phantom = 0, n_hash = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        if (v->types[i] == PLM_TOKEN_CONTROL) continue;
        n_phantom += starts_with(v->text[i], v->text_len[i], PHANTOM);
        n_hash += v->text_len[i] > 2 && starts_with(v->text[i], v->text_len[i], "##");
    }
    m->phantom = n_phantom > n_hash;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        if (v->types[i] == PLM_TOKEN_CONTROL) continue;
        uint32_t n = v->text_len[i];
        if (m->phantom) {
            if (starts_with(v->text[i], n, PHANTOM)) m->max_first = PLM_MAX(m->max_first, n - 3);
            else m->max_cont = PLM_MAX(m->max_cont, n);
        } else {
            if (starts_with(v->text[i], n, "##")) m->max_cont = PLM_MAX(m->max_cont, n - 2);
            else m->max_first = PLM_MAX(m->max_first, n);
        }
    }
    m->unk = v->unk;
    if ((m->unk < 0 || m->unk >= v->n_tokens) && v->map) m->unk = tok_find(v, "[UNK]", 5);
    if (m->unk < 0) {
        free(m);
        return plm_fail(PLM_E_FORMAT, "tokenizer: WordPiece vocabulary has no unknown token");
    }
    v->impl = m;
    return PLM_OK;
}

static void wpm_free(plm_vocab *v) {
    free(v->impl);
    v->impl = NULL;
}

/* -------------------------------------------------------------- decoding */

/* The token as HF's vocab.txt spells it: its bytes and whether "##" precedes
 * them (a continuation). Specials and raw-form tokens are returned as is. */
static void hf_token(const plm_vocab *v, int32_t id, const char **s, int *n, int *cont) {
    const wpm *m = v->impl;
    *s = v->text[id], *n = (int)v->text_len[id], *cont = 0;
    if (v->types[id] == PLM_TOKEN_CONTROL) return;
    if (m->phantom) {
        if (starts_with(*s, (uint32_t)*n, PHANTOM)) *s += 3, *n -= 3;
        else *cont = 1;
    } else if (*n > 2 && starts_with(*s, (uint32_t)*n, "##")) {
        *s += 2, *n -= 2, *cont = 1;
    }
}

static int put_bytes(char *out, int cap, int pos, const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (pos + i < cap) out[pos + i] = s[i];
    return pos + n;
}

/* One token as it continues decoded text: " word", "piece" (a "##" piece),
 * " [SEP]"; PLM_DECODE_STRIP_LEADING drops the leading space. */
static int wpm_token_bytes(const plm_vocab *v, int32_t id, int flags, char *out, int cap) {
    if (id < 0 || id >= v->n_tokens)
        return plm_fail(PLM_E_INVALID, "token id %d out of range [0, %d)", id, v->n_tokens);
    if ((flags & PLM_DECODE_SKIP_SPECIAL) && v->types[id] == PLM_TOKEN_CONTROL) return 0;
    const char *s;
    int n, cont, pos = 0;
    hf_token(v, id, &s, &n, &cont);
    if (!cont && !(flags & PLM_DECODE_STRIP_LEADING)) pos = put_bytes(out, cap, pos, " ", 1);
    return put_bytes(out, cap, pos, s, n);
}

/* In-place str.replace(from, to) for len(to) <= len(from), len(from) >= 2. Every
 * pattern starts with a space: the second byte is tested before the memcmp. */
static size_t replace_all(char *s, size_t n, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), r = 0, w = 0;
    while (r < n) {
        if (s[r] == from[0] && r + fl <= n && s[r + 1] == from[1] && !memcmp(s + r, from, fl)) {
            memcpy(s + w, to, tl);
            w += tl, r += fl;
        } else {
            s[w++] = s[r++];
        }
    }
    return w;
}

/* Python str.strip(): whitespace code points at both ends. */
static size_t strip_ws(char *s, size_t n) {
    size_t a = 0, pos = 0, b = n;
    uint32_t c;
    while (a < n) {
        pos = a;
        if (!uc_next(s, n, &pos, &c) || !uc_is_pyspace(c)) break;
        a = pos;
    }
    while (b > a) {
        size_t q = b - 1;
        while (q > a && ((unsigned char)s[q] & 0xC0) == 0x80) q--;
        pos = q;
        if (!uc_next(s, b, &pos, &c) || pos != b || !uc_is_pyspace(c)) break;
        b = q;
    }
    memmove(s, s + a, b - a);
    return b - a;
}

/* HF decode(): " ".join(tokens).replace(" ##", "").strip(), then
 * clean_up_tokenization(). */
static int wpm_decode(const plm_vocab *v, const int32_t *ids, int n, int flags, char *out, int cap) {
    size_t total = 1;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= v->n_tokens)
            return plm_fail(PLM_E_INVALID, "token id %d out of range [0, %d)", ids[i], v->n_tokens);
        total += v->text_len[ids[i]] + 3;
    }
    char *buf = plm_malloc_for(total, "decoded text");
    if (!buf) return PLM_E_NOMEM;
    size_t len = 0;
    int any = 0;
    for (int i = 0; i < n; i++) {
        if ((flags & PLM_DECODE_SKIP_SPECIAL) && v->types[ids[i]] == PLM_TOKEN_CONTROL) continue;
        const char *s;
        int sn, cont;
        hf_token(v, ids[i], &s, &sn, &cont);
        if (any) buf[len++] = ' ';
        if (cont) buf[len++] = '#', buf[len++] = '#';
        memcpy(buf + len, s, (size_t)sn);
        len += (size_t)sn;
        any = 1;
    }
    len = replace_all(buf, len, " ##", "");
    len = strip_ws(buf, len);
    static const char *const cleanup[][2] = {
        {" .", "."},   {" ?", "?"},   {" !", "!"},   {" ,", ","},   {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
    };
    for (size_t i = 0; i < sizeof cleanup / sizeof cleanup[0]; i++)
        len = replace_all(buf, len, cleanup[i][0], cleanup[i][1]);
    int r = put_bytes(out, cap, 0, buf, (int)len);
    if (r < cap) out[r] = 0;
    free(buf);
    return r;
}

const tok_algo tok_algo_wpm = {
    .model = "bert",
    .type = PLM_VOCAB_WPM,
    .init = wpm_init,
    .free = wpm_free,
    .encode = wpm_encode,
    .token_bytes = wpm_token_bytes,
    .decode = wpm_decode,
};
