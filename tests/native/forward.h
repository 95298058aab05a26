/* forward.h — one forward pass of any loaded model, for the hostile-file tests and
 * the fuzz harnesses (tests/fuzz): causal models decode a few ids (every position's
 * logits), BERT runs the encoder and every head the file has, T5 encodes and runs a
 * short beam search. Ids are taken modulo the vocabulary from `seed` bytes.
 * Returns PLM_OK, or the first PLM_E_* (a clean refusal; the caller checks that the
 * message is set). Never aborts: anything worse is a sanitizer report. */
#ifndef PLM_TEST_FORWARD_H
#define PLM_TEST_FORWARD_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plm.h"
#include "model.h"

static inline int fwd_ids(const plm_model *m, int32_t *ids, int n, const uint8_t *seed, size_t seed_n) {
    const int V = m->hp.n_vocab > 0 ? m->hp.n_vocab : 1;
    for (int i = 0; i < n; i++) ids[i] = (int32_t)((seed_n ? seed[i % seed_n] * 131u + (unsigned)i : (unsigned)i * 7u) % (unsigned)V);
    return V;
}

static inline int forward_once(plm_model *m, const uint8_t *seed, size_t seed_n) {
    int32_t ids[6];
    const int n = 6;
    int rc = PLM_OK;
    if (!m->arch) return PLM_OK;
    const int V = fwd_ids(m, ids, n, seed, seed_n);
    const int E = m->hp.n_embd;
    if (m->arch->decode) {
        plm_ctx *c = plm_ctx_new(m, 16);
        if (!c) return plm_errcode();
        float *logits = malloc((size_t)n * V * sizeof(float));
        rc = logits ? plm_ctx_decode(c, ids, n, logits, 1) : PLM_E_NOMEM;
        if (rc == PLM_OK) rc = plm_ctx_decode(c, ids, 1, logits, 0); /* one more step from the cache */
        free(logits);
        plm_ctx_free(c);
        return rc;
    }
    if (m->arch_id == PLM_ARCH_BERT) {
        const int32_t lens[2] = {4, 2};
        float *hidden = malloc((size_t)n * E * sizeof(float)), *pooled = malloc((size_t)2 * (E + V + 64) * sizeof(float));
        if (!hidden || !pooled) rc = PLM_E_NOMEM;
        if (rc == PLM_OK) rc = plm_bert_encode(m, ids, NULL, lens, 2, hidden);
        if (rc == PLM_OK) rc = plm_bert_pool(m, hidden, lens, 2, PLM_POOL_MEAN, 1, pooled);
        if (rc == PLM_OK) {
            int r = plm_bert_pooler(m, hidden, lens, 2, pooled);
            if (r == PLM_OK) {
                const char *info = plm_bert_info(m);
                const char *nl = info ? strstr(info, "\"nLabels\":") : NULL;
                const long labels = nl ? strtol(nl + 10, NULL, 10) : 0;
                if (info && strstr(info, "\"classifier\":true") && labels > 0 && labels < (1L << 24)) {
                    float *cls = malloc((size_t)2 * (size_t)labels * sizeof(float));
                    r = cls ? plm_bert_classify(m, hidden, lens, 2, cls) : PLM_E_NOMEM;
                    free(cls);
                    if (r > 0) r = PLM_OK;
                }
            }
            if (r != PLM_OK && r != PLM_E_MISSING) rc = r;
        }
        if (rc == PLM_OK) {
            float *mlm = malloc((size_t)2 * V * sizeof(float));
            int r = mlm ? plm_bert_mlm(m, hidden, 2, mlm) : PLM_E_NOMEM;
            free(mlm);
            if (r != PLM_OK && r != PLM_E_MISSING) rc = r;
        }
        free(hidden);
        free(pooled);
        return rc;
    }
    if (m->arch_id == PLM_ARCH_T5) {
        plm_t5 *c = plm_t5_new(m, 16);
        if (!c) return plm_errcode();
        rc = plm_t5_encode(c, ids, NULL, n, NULL);
        const int beams = V > 2 ? 2 : 1;
        if (rc == PLM_OK && V > 1) rc = plm_t5_beam_begin(c, beams, 4, 1.0f, 0);
        for (int step = 0; rc == PLM_OK && V > 1 && step < 4; step++) {
            int r = plm_t5_beam_step(c);
            if (r < 0) rc = r;
            if (r == 0) break;
        }
        if (rc == PLM_OK && V > 1) {
            int32_t out[8];
            float score;
            int r = plm_t5_beam_result(c, out, 8, &score);
            if (r < 0) rc = r;
        }
        plm_t5_free(c);
        return rc;
    }
    return PLM_OK;
}
#endif
