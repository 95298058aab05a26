/* api.c — the plm_* functions of plm.h that belong to no single layer:
 * version / build features and the causal-LM context (plm_ctx_*), which
 * validates every argument and hands batches to the architecture's decode().
 */
#include <stdlib.h>

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

void plm_ctx_free(plm_ctx *c) {
    if (!c) return;
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
    const plm_model *m = c->model;
    const int n_vocab = m->hp.n_vocab;
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
