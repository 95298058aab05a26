/* api.c — the plm_* functions of plm.h that belong to no single layer:
 * version / build features and the causal-LM context (plm_ctx_*), which
 * validates every argument and hands batches to the architecture's decode().
 */
#include <stdlib.h>

#include "beam.h"
#include "model.h"

#define PLM_VERSION_STRING "0.1.0"

const char *plm_version(void) { return PLM_VERSION_STRING; }

int plm_build_features(void) {
    int f = 0;
#if PLM_HAVE_SIMD
    f |= 1;
#endif
#if defined(PLM_WASM_THREADS) || !defined(__wasm__)
    f |= 2; /* native builds always have pthreads */
#endif
#if defined(__wasm_relaxed_simd__)
    f |= 4;
#endif
    return f;
}

/* ------------------------------------------------------------ causal LM */
plm_ctx *plm_ctx_new(plm_model *m, int n_ctx) {
    if (!m) {
        plm_fail(PLM_E_INVALID, "plm_ctx_new: NULL model");
        return NULL;
    }
    if (!m->arch) {
        plm_fail(PLM_E_STATE, "the model was loaded vocab-only: it has no weights to run");
        return NULL;
    }
    if (!m->arch->decode) {
        plm_fail(PLM_E_INVALID, "'%s' is not a causal language model (no plm_ctx_decode)",
                 m->arch_name);
        return NULL;
    }
    if (n_ctx <= 0) n_ctx = m->hp.n_ctx_train;
    if (n_ctx <= 0) {
        plm_fail(PLM_E_INVALID, "plm_ctx_new: the model declares no context length; pass n_ctx");
        return NULL;
    }
    plm_ctx *c = plm_calloc_for(1, sizeof *c, "context");
    if (!c) return NULL;
    c->model = m;
    c->n_ctx = n_ctx;
    if (m->arch->ctx_init(c) != PLM_OK) {
        plm_ctx_free(c);
        return NULL;
    }
    return c;
}

static void ctx_beam_drop(plm_ctx *c);

void plm_ctx_free(plm_ctx *c) {
    if (!c) return;
    ctx_beam_drop(c);
    if (c->model && c->model->arch && c->model->arch->ctx_free) c->model->arch->ctx_free(c);
    free(c);
}

int plm_ctx_n_ctx(plm_ctx *c) {
    return c ? c->n_ctx : plm_fail(PLM_E_INVALID, "plm_ctx_n_ctx: NULL context");
}

int plm_ctx_n_past(plm_ctx *c) {
    return c ? c->n_past : plm_fail(PLM_E_INVALID, "plm_ctx_n_past: NULL context");
}

int plm_ctx_truncate(plm_ctx *c, int n_past) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_ctx_truncate: NULL context");
    ctx_beam_drop(c);
    if (n_past < 0 || n_past > c->n_past)
        return plm_fail(PLM_E_INVALID, "plm_ctx_truncate(%d): the cache holds %d positions", n_past,
                        c->n_past);
    c->n_past = n_past; /* rows >= n_past are overwritten by the next decode */
    return PLM_OK;
}

int plm_ctx_decode(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_ctx_decode: NULL context");
    if (n <= 0 || !ids)
        return plm_fail(PLM_E_INVALID, "plm_ctx_decode: no tokens (n = %d%s)", n,
                        ids ? "" : ", ids = NULL");
    if (n > c->n_ctx - c->n_past)
        return plm_fail(PLM_E_TOO_LONG, "prompt of %d tokens + %d cached exceeds the context of %d tokens",
                        n, c->n_past, c->n_ctx);
    ctx_beam_drop(c);
    const plm_model *m = c->model;
    const int n_vocab = m->hp.n_vocab;
    /* every position's logits: n x n_vocab floats must be addressable (32-bit size_t in wasm) */
    if (logits && all_logits) {
        int rc = model_check_rows(m, n, "plm_ctx_decode");
        if (rc) return rc;
    }
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= n_vocab)
            return plm_fail(PLM_E_INVALID, "token id %d at index %d is out of range [0, %d)",
                            (int)ids[i], i, n_vocab);

    /* Run in batches of at most PLM_MAX_BATCH; n_past only moves once everything
     * succeeded, so a failure leaves the context as it was. */
    const int n_past0 = c->n_past;
    int rc = PLM_OK;
    for (int i = 0; i < n && rc == PLM_OK; i += PLM_MAX_BATCH) {
        const int nb = PLM_MIN(PLM_MAX_BATCH, n - i);
        const int last = i + nb == n;
        float *out = NULL;
        if (logits && all_logits)
            out = logits + (size_t)i * n_vocab;
        else if (logits && last)
            out = logits;
        rc = m->arch->decode(c, ids + i, nb, out, all_logits);
        c->n_past += nb;
    }
    if (rc != PLM_OK) c->n_past = n_past0;
    return rc;
}

/* ------------------------------------------------------ causal LM beam search
 * The beams are contexts of their own (seq[0..n_seq), spare[] for reordering), forked from
 * the caller's context, which the search leaves as it was. Step: each running beam decodes
 * its token (m = 1); reorder: the KV rows of the parent beam are copied (plm_arch.ctx_copy). */
typedef struct {
    plm_beam *b;
    int n_seq, cap;
    plm_ctx **seq, **spare;
} ctx_beam;

static void ctx_beam_drop(plm_ctx *c) {
    ctx_beam *cb = c->beam;
    if (!cb) return;
    beam_free(cb->b);
    for (int i = 0; i < cb->cap; i++) plm_ctx_free(cb->seq[i]), plm_ctx_free(cb->spare[i]);
    free(cb->seq);
    free(cb->spare);
    free(cb);
    c->beam = NULL;
}

static int beam_ctx_step(void *ctx, const int32_t *tok, int n_run, float *logits) {
    ctx_beam *cb = ((plm_ctx *)ctx)->beam;
    const int V = ((plm_ctx *)ctx)->model->hp.n_vocab;
    for (int r = 0; r < n_run; r++) {
        int rc = plm_ctx_decode(cb->seq[r], &tok[r], 1, logits + (size_t)r * V, 0);
        if (rc) return rc;
    }
    return PLM_OK;
}

/* new beam s = old beam src[s]: copied into spare[s], then swapped in; nothing changes on failure */
static int beam_ctx_reorder(void *ctx, const int32_t *src, int n_new) {
    plm_ctx *c = ctx;
    ctx_beam *cb = c->beam;
    for (int s = 0; s < n_new; s++) {
        if (src[s] == s && s < cb->n_seq) continue;
        if (!cb->spare[s] && !(cb->spare[s] = plm_ctx_new(c->model, c->n_ctx))) return plm_errcode();
        const plm_ctx *from = cb->seq[src[s]];
        int rc = c->model->arch->ctx_copy(cb->spare[s], from, from->n_past);
        if (rc) return rc;
        cb->spare[s]->n_past = from->n_past;
    }
    for (int s = 0; s < n_new; s++) {
        if (src[s] == s && s < cb->n_seq) continue;
        plm_ctx *t = cb->seq[s];
        cb->seq[s] = cb->spare[s];
        cb->spare[s] = t;
    }
    cb->n_seq = n_new;
    return PLM_OK;
}

int plm_ctx_beam_begin(plm_ctx *c, int32_t last, int n_beams, int max_new_tokens, float length_penalty,
                       int early_stopping) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_ctx_beam_begin: NULL context");
    const plm_model *m = c->model;
    if (!m->arch->ctx_copy)
        return plm_fail(PLM_E_UNSUPPORTED, "beam search is not supported for '%s'", m->arch_name);
    if (last < 0 || last >= m->hp.n_vocab)
        return plm_fail(PLM_E_INVALID, "plm_ctx_beam_begin: token id %d is out of range [0, %d)", (int)last,
                        m->hp.n_vocab);
    if (max_new_tokens > c->n_ctx - c->n_past - 1)
        return plm_fail(PLM_E_TOO_LONG, "beam search: the last prompt token + %d new tokens + %d cached exceed "
                        "the context of %d tokens", max_new_tokens, c->n_past, c->n_ctx);
    ctx_beam_drop(c);
    ctx_beam *cb = plm_calloc_for(1, sizeof *cb, "beam search");
    if (!cb) return PLM_E_NOMEM;
    int rc = beam_begin(&cb->b, m->hp.n_vocab, m->vocab ? vocab_eos(m->vocab) : -1, last, n_beams,
                        max_new_tokens, length_penalty, early_stopping);
    if (!rc) {
        cb->cap = n_beams;
        cb->seq = plm_calloc_for((size_t)n_beams, sizeof *cb->seq, "beam search");
        cb->spare = plm_calloc_for((size_t)n_beams, sizeof *cb->spare, "beam search");
        if (!cb->seq || !cb->spare) rc = PLM_E_NOMEM;
    }
    c->beam = cb;
    if (!rc && !(cb->seq[0] = plm_ctx_new(c->model, c->n_ctx))) rc = plm_errcode();
    if (!rc) rc = m->arch->ctx_copy(cb->seq[0], c, c->n_past);
    if (rc) {
        ctx_beam_drop(c);
        return rc;
    }
    cb->seq[0]->n_past = c->n_past;
    cb->n_seq = 1;
    return PLM_OK;
}

int plm_ctx_beam_step(plm_ctx *c) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_ctx_beam_step: NULL context");
    ctx_beam *cb = c->beam;
    if (!cb) return plm_fail(PLM_E_STATE, "plm_ctx_beam_step: no beam search running (plm_ctx_beam_begin)");
    const plm_beam_model bm = {c, beam_ctx_step, beam_ctx_reorder};
    int rc = beam_step(cb->b, &bm);
    if (rc < 0) ctx_beam_drop(c);
    return rc;
}

int plm_ctx_beam_result(plm_ctx *c, int32_t *ids, int cap, float *score) {
    if (!c) return plm_fail(PLM_E_INVALID, "plm_ctx_beam_result: NULL context");
    const ctx_beam *cb = c->beam;
    if (!cb || !beam_finished(cb->b)) return plm_fail(PLM_E_STATE, "plm_ctx_beam_result: no finished beam search");
    if (cap < 0 || (cap > 0 && !ids)) return plm_fail(PLM_E_INVALID, "plm_ctx_beam_result: bad buffer");
    return beam_result(cb->b, ids, cap, score);
}
