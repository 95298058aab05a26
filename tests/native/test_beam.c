/* test_beam.c — beam search on causal LMs (plm_ctx_beam_*, src/beam.c; the same scorer as
 * T5's, which test_t5.c checks against transformers' goldens):
 *   score      the result's score = (sum of its tokens' log-softmax probabilities, recomputed
 *              by one plain forward pass over prompt + result) / length^length_penalty, so the
 *              forked / reordered KV caches held exactly the beams' histories
 *   greedy     one beam = greedy decoding (argmax) up to the first EOS
 *   context    the caller's context is left as it was; other calls drop the search; errors */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plm.h"
#include "test.h"

static double seq_logprob(plm_model *m, const int32_t *prompt, int np, const int32_t *gen, int ng, int V) {
    int32_t *all = malloc(sizeof *all * (size_t)(np + ng));
    memcpy(all, prompt, sizeof *all * np), memcpy(all + np, gen, sizeof *all * ng);
    float *lg = malloc(sizeof *lg * (size_t)(np + ng) * V);
    plm_ctx *c = plm_ctx_new(m, 0);
    CHECK_EQ_INT(plm_ctx_decode(c, all, np + ng, lg, 1), PLM_OK);
    double sum = 0;
    for (int i = 0; i < ng; i++) { /* log_softmax in float, as the scorer */
        const float *row = lg + (size_t)(np - 1 + i) * V;
        float mx = -INFINITY;
        for (int j = 0; j < V; j++) mx = row[j] > mx ? row[j] : mx;
        double z = 0;
        for (int j = 0; j < V; j++) z += expf(row[j] - mx);
        sum += (row[gen[i]] - mx) - logf((float)z);
    }
    plm_ctx_free(c);
    free(all), free(lg);
    return sum;
}

static void check_model(const char *path, int V) {
    plm_model *m = plm_model_load_file(path, 0);
    CHECK_MSG(m != NULL, "%s: %s", path, plm_errmsg());
    if (!m) return;
    const int32_t prompt[6] = {1, 17, 42, 99, 7, 3};
    const int np = 6, max_new = 12;
    int32_t out[64];
    float score = 0;
    for (int B = 1; B <= 4; B++)
        for (int early = 0; early <= 2; early++) {
            const float lp = early == 2 ? 1.5f : 1.0f;
            plm_ctx *c = plm_ctx_new(m, 64);
            CHECK_EQ_INT(plm_ctx_decode(c, prompt, np - 1, NULL, 0), PLM_OK);
            CHECK_EQ_INT(plm_ctx_beam_begin(c, prompt[np - 1], B, max_new, lp, early), PLM_OK);
            int rc, steps = 0;
            while ((rc = plm_ctx_beam_step(c)) == 1) steps++;
            CHECK_EQ_INT(rc, 0);
            const int n = plm_ctx_beam_result(c, out, 64, &score);
            CHECK(n >= 1 && n <= max_new);
            const double want = seq_logprob(m, prompt, np, out, n, V) / pow((double)n, (double)lp);
            CHECK_MSG(fabs(score - want) <= 1e-4 * (1 + fabs(want)), "%s B=%d early=%d: score %.6f, recomputed %.6f", path,
                      B, early, score, want);
            CHECK_EQ_INT(plm_ctx_n_past(c), np - 1); /* the caller's cache is as it was */
            if (B == 1 && early == 0) { /* one beam: greedy */
                float *lg = malloc(sizeof *lg * V);
                CHECK_EQ_INT(plm_ctx_decode(c, &prompt[np - 1], 1, lg, 0), PLM_OK);
                for (int i = 0; i < n; i++) {
                    int best = 0;
                    for (int j = 1; j < V; j++) best = lg[j] > lg[best] ? j : best;
                    CHECK_MSG(out[i] == best, "%s: one beam differs from greedy at %d", path, i);
                    if (i + 1 < n) CHECK_EQ_INT(plm_ctx_decode(c, &out[i], 1, lg, 0), PLM_OK);
                }
                free(lg);
                CHECK_EQ_INT(plm_ctx_beam_step(c), PLM_E_STATE); /* the decode dropped the search */
            }
            plm_ctx_free(c);
        }
    /* errors */
    plm_ctx *c = plm_ctx_new(m, 16);
    CHECK_EQ_INT(plm_ctx_beam_step(c), PLM_E_STATE);
    CHECK_EQ_INT(plm_ctx_beam_result(c, out, 64, NULL), PLM_E_STATE);
    CHECK_EQ_INT(plm_ctx_beam_begin(c, 1, 0, 4, 1.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_ctx_beam_begin(c, V, 2, 4, 1.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_ctx_beam_begin(c, 1, 2, 16, 1.0f, 0), PLM_E_TOO_LONG);
    CHECK_EQ_INT(plm_ctx_beam_begin(c, 1, 2, 4, NAN, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_ctx_beam_begin(c, 1, 2, 4, 1.0f, 0), PLM_OK);
    CHECK_EQ_INT(plm_ctx_beam_step(c), 1);
    plm_ctx_free(c); /* frees a running search */
    plm_model_free(m);
}

TEST(llama_gqa) { check_model("tests/fixtures/llama/tiny-random-gqa/llama-tiny-gqa-F32.gguf", 512); }
TEST(gemma2_sliding_window) { check_model("tests/fixtures/archs/gemma2/gemma2-tiny-random-F32.gguf", 384); }
TEST(gpt2) { check_model("tests/fixtures/gpt2/gpt2-tiny-F32.gguf", 512); }

int main(void) {
    RUN(llama_gqa);
    RUN(gemma2_sliding_window);
    RUN(gpt2);
    return test_summary();
}
