/* tok_spm.c — SentencePiece BPE ("llama"), as llama.cpp's llm_tokenizer_spm
 * and sentencepiece's bpe::Model::SampleEncode do it:
 *
 *   1. escape: a dummy-prefix space on the first fragment (add_space_prefix),
 *      every ' ' -> U+2581 "▁";
 *   2. start from single characters and repeatedly merge the adjacent pair
 *      whose concatenation is the vocabulary piece with the highest score
 *      (leftmost first among equal scores);
 *   3. pieces that are not in the vocabulary fall back to their UTF-8 bytes as
 *      <0xNN> tokens (or <unk> when the vocabulary has no byte tokens).
 *
 * Decoding uses tokenizer.c's generic rule (▁ -> space, <0xNN> -> byte).
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "tok_impl.h"
#include "unicode.h"

typedef struct {
    int32_t byte_token[256]; /* <0xNN> (or the bare byte) token of each byte, -1 if none */
} spm_impl;

static void spm_free(plm_vocab *v) {
    free(v->impl);
    v->impl = NULL;
}

static int spm_init(plm_vocab *v, const gguf_ctx *g) {
    (void)g;
    spm_impl *s = plm_calloc_for(1, sizeof *s, "SentencePiece tokenizer");
    if (!s) return PLM_E_NOMEM;
    v->impl = s;
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        int32_t id = tok_find(v, name, 6);
        if (id < 0) {
            char raw = (char)b;
            id = tok_find(v, &raw, 1);
        }
        s->byte_token[b] = id;
    }
    return PLM_OK;
}

/* Pieces the merge loop may produce: sentencepiece's pieces_ (normal,
 * user-defined, unused); control, unknown and byte pieces are reserved. */
static int mergeable(const plm_vocab *v, int32_t id) {
    int t = v->types[id];
    return t == PLM_TOKEN_NORMAL || t == PLM_TOKEN_USER_DEFINED || t == PLM_TOKEN_UNUSED ||
           t == PLM_TOKEN_UNDEFINED;
}

typedef struct { const char *text; int32_t n, prev, next; } spm_sym;
typedef struct { float score; int32_t left, right, size; } spm_pair;
typedef struct { int32_t id, left_len; } spm_rev; /* how an unused piece was formed */

typedef struct {
    spm_sym *sym;
    spm_pair *heap;
    int nh;
    spm_rev *rev;
    int nrev, caprev;
} spm_work;

static int pair_better(const spm_pair *a, const spm_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(spm_work *w, spm_pair p) {
    int i = w->nh++;
    while (i > 0) {
        int up = (i - 1) / 2;
        if (!pair_better(&p, &w->heap[up])) break;
        w->heap[i] = w->heap[up];
        i = up;
    }
    w->heap[i] = p;
}

static spm_pair heap_pop(spm_work *w) {
    spm_pair top = w->heap[0], last = w->heap[--w->nh];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= w->nh) break;
        if (c + 1 < w->nh && pair_better(&w->heap[c + 1], &w->heap[c])) c++;
        if (!pair_better(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->nh > 0) w->heap[i] = last;
    return top;
}

static int try_pair(const plm_vocab *v, spm_work *w, int left, int right) {
    if (left < 0 || right < 0) return PLM_OK;
    const spm_sym *l = &w->sym[left], *r = &w->sym[right];
    int32_t size = l->n + r->n;
    int32_t id = tok_find(v, l->text, (size_t)size); /* the two symbols are adjacent in the text */
    if (id < 0 || !mergeable(v, id)) return PLM_OK;
    heap_push(w, (spm_pair){v->scores ? v->scores[id] : 0.0f, left, right, size});
    if (v->types[id] == PLM_TOKEN_UNUSED) { /* remember the split for resegmentation */
        if (w->nrev == w->caprev) {
            int cap = w->caprev ? 2 * w->caprev : 16;
            spm_rev *p = plm_realloc_for(w->rev, (size_t)cap * sizeof *p, "SentencePiece merges");
            if (!p) return PLM_E_NOMEM;
            w->rev = p;
            w->caprev = cap;
        }
        w->rev[w->nrev++] = (spm_rev){id, l->n};
    }
    return PLM_OK;
}

static int emit_bytes(const plm_vocab *v, const char *s, int n, tok_ids *out) {
    const spm_impl *impl = v->impl;
    for (int i = 0; i < n; i++)
        if (impl->byte_token[(unsigned char)s[i]] < 0) /* no byte fallback: one <unk> */
            return v->unk >= 0 ? tok_push(out, v->unk) : PLM_OK;
    int r = PLM_OK;
    for (int i = 0; i < n && r >= 0; i++) r = tok_push(out, impl->byte_token[(unsigned char)s[i]]);
    return r;
}

static int resegment(const plm_vocab *v, const spm_work *w, const char *s, int n, tok_ids *out, int depth) {
    int32_t id = tok_find(v, s, (size_t)n);
    if (id < 0) return emit_bytes(v, s, n, out);
    if (v->types[id] == PLM_TOKEN_UNUSED && depth < 64) {
        for (int i = w->nrev - 1; i >= 0; i--) { /* the latest split, as sentencepiece's map */
            if (w->rev[i].id != id) continue;
            int k = w->rev[i].left_len, r = resegment(v, w, s, k, out, depth + 1);
            return r < 0 ? r : resegment(v, w, s + k, n - k, out, depth + 1);
        }
    }
    return tok_push(out, id);
}

static int spm_encode(const plm_vocab *v, const char *text, size_t len, int first, tok_ids *out) {
    /* remove_extra_whitespaces (sentencepiece's normalizer; only when the file
     * says so: llama.cpp ignores it for "llama" vocabularies and the LLaMA
     * converter does not write it): no leading spaces, runs of spaces
     * collapsed to one, no trailing U+2581 */
    const int squeeze = v->remove_extra_whitespaces;
    if (squeeze) {
        while (len > 0 && text[0] == ' ') text++, len--;
        while (len > 0 && text[len - 1] == ' ') len--;
        if (len == 0) return PLM_OK;
    }
    const int prefix = first && v->add_space_prefix;
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    uint64_t n64 = (uint64_t)len + 2 * (uint64_t)spaces + (prefix ? 3 : 0);
    if (n64 == 0) return PLM_OK;
    if (n64 > INT32_MAX / 4 || n64 * (1 + sizeof(spm_sym) + 3 * sizeof(spm_pair)) > (uint64_t)SIZE_MAX / 2)
        return plm_fail(PLM_E_TOO_LONG, "tokenize: a text fragment of %llu bytes is too long", (unsigned long long)n64);
    size_t n = (size_t)n64;

    spm_work w = {0};
    char *buf = plm_malloc_for(n, "escaped text");
    w.sym = plm_malloc_for(n * sizeof *w.sym, "SentencePiece symbols");
    w.heap = plm_malloc_for(3 * n * sizeof *w.heap, "SentencePiece queue");
    int r = PLM_OK;
    if (!buf || !w.sym || !w.heap) {
        r = PLM_E_NOMEM;
        goto done;
    }
    size_t o = 0;
    if (prefix) memcpy(buf + o, "\xe2\x96\x81", 3), o += 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != ' ') buf[o++] = text[i];
        else if (!squeeze || text[i - 1] != ' ') memcpy(buf + o, "\xe2\x96\x81", 3), o += 3;
    }
    if (squeeze) /* sentencepiece strips every trailing U+2581, escaped space or not */
        while (o >= 3 && memcmp(buf + o - 3, "\xe2\x96\x81", 3) == 0) o -= 3;
    n = o;
    if (n == 0) goto done;

    /* one symbol per character (an invalid byte is a character of its own) */
    int ns = 0;
    for (size_t i = 0; i < n;) {
        size_t p = i;
        uint32_t cp;
        uc_next(buf, n, &p, &cp);
        w.sym[ns] = (spm_sym){buf + i, (int32_t)(p - i), ns - 1, p < n ? ns + 1 : -1};
        ns++;
        i = p;
    }
    for (int i = 1; i < ns && r >= 0; i++) r = try_pair(v, &w, i - 1, i);

    while (w.nh > 0 && r >= 0) {
        spm_pair top = heap_pop(&w);
        spm_sym *l = &w.sym[top.left], *rt = &w.sym[top.right];
        if (l->n == 0 || rt->n == 0 || l->n + rt->n != top.size) continue; /* stale */
        l->n += rt->n;
        rt->n = 0;
        l->next = rt->next;
        if (rt->next >= 0) w.sym[rt->next].prev = top.left;
        r = try_pair(v, &w, l->prev, top.left);
        if (r >= 0) r = try_pair(v, &w, top.left, l->next);
    }
    for (int i = 0; i >= 0 && r >= 0; i = w.sym[i].next) r = resegment(v, &w, w.sym[i].text, w.sym[i].n, out, 0);
done:
    free(buf);
    free(w.sym);
    free(w.heap);
    free(w.rev);
    return r < 0 ? r : PLM_OK;
}

const tok_algo tok_algo_spm = {
    .model = "llama",
    .type = PLM_VOCAB_SPM,
    .init = spm_init,
    .free = spm_free,
    .encode = spm_encode,
    .token_bytes = NULL, /* generic: ▁ -> space, <0xNN> -> byte */
    .decode = NULL,
};
