/* test_sample.c — plm_sampler_*: determinism, greedy equivalences, the
 * distribution after each warper (chi-square on many draws; the draws are
 * seeded, so the statistics are fixed numbers, not flaky), repetition penalty. */
#include <stdint.h>

#include "plm.h"
#include "test.h"

static const double LN2 = 0.69314718055994530942;

/* p = {1/2, 1/4, 1/8, 1/16, 1/16} as logits */
static void dyadic(float *l) {
    l[0] = 0.0f;
    l[1] = (float)-LN2;
    l[2] = (float)(-2 * LN2);
    l[3] = (float)(-3 * LN2);
    l[4] = (float)(-3 * LN2);
}

/* Pearson chi-square of `draws` samples against probabilities p[n] (p[i] == 0
 * must never be drawn). */
static double chi2(plm_sampler *s, const float *logits, int n, const double *p, int draws) {
    int counts[16] = {0};
    for (int i = 0; i < draws; i++) {
        int id = plm_sampler_sample(s, logits, n);
        if (id < 0 || id >= n) return INFINITY;
        counts[id]++;
    }
    double x = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] == 0) {
            if (counts[i]) return INFINITY;
            continue;
        }
        double e = p[i] * draws;
        x += (counts[i] - e) * (counts[i] - e) / e;
    }
    return x;
}

/* 99.9% quantiles of chi-square: dof 1..4 */
static const double CHI2_999[] = {0, 10.83, 13.82, 16.27, 18.47};

TEST(determinism) {
    float l[64];
    for (int i = 0; i < 64; i++) l[i] = (float)((i * 7919) % 61) / 13.0f;
    plm_sampler *a = plm_sampler_new(42), *b = plm_sampler_new(42), *c = plm_sampler_new(43);
    int same_c = 0;
    int seq[200];
    for (int i = 0; i < 200; i++) {
        seq[i] = plm_sampler_sample(a, l, 64);
        CHECK_EQ_INT(plm_sampler_sample(b, l, 64), seq[i]);
        same_c += plm_sampler_sample(c, l, 64) == seq[i];
    }
    CHECK(same_c < 100);
    /* reset reproduces the sequence, and clears the history */
    plm_sampler_accept(a, 5);
    plm_sampler_reset(a, 42);
    for (int i = 0; i < 200; i++) CHECK_EQ_INT(plm_sampler_sample(a, l, 64), seq[i]);
    /* fixed values: the same on every platform (native and wasm run this test) */
    plm_sampler_reset(a, 1234);
    int first[8];
    for (int i = 0; i < 8; i++) first[i] = plm_sampler_sample(a, l, 64);
    static const int want[8] = {2, 51, 45, 56, 6, 56, 29, 14};
    for (int i = 0; i < 8; i++) CHECK_EQ_INT(first[i], want[i]);
    plm_sampler_free(a);
    plm_sampler_free(b);
    plm_sampler_free(c);
}

TEST(greedy) {
    plm_sampler *s = plm_sampler_new(1);
    CHECK_EQ_INT(plm_sampler_set(s, 0.0f, 0, 1.0f, 0.0f, 1.0f, 0), PLM_OK);
    float l[6] = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f, -INFINITY};
    CHECK_EQ_INT(plm_sampler_sample(s, l, 6), 1); /* lowest id on ties */
    CHECK_EQ_INT(plm_sampler_sample(s, l, 6), 1);
    float m[3] = {-INFINITY, -5.0f, -INFINITY};
    CHECK_EQ_INT(plm_sampler_sample(s, m, 3), 1);
    plm_sampler_free(s);
}

TEST(greedy_equivalences) {
    float l[100];
    uint32_t x = 12345;
    plm_sampler *g = plm_sampler_new(0), *k1 = plm_sampler_new(7), *p0 = plm_sampler_new(8),
                *mp = plm_sampler_new(9);
    plm_sampler_set(g, 0.0f, 0, 1.0f, 0.0f, 1.0f, 0);
    plm_sampler_set(k1, 0.8f, 1, 1.0f, 0.0f, 1.0f, 0);
    plm_sampler_set(p0, 1.3f, 0, 1e-6f, 0.0f, 1.0f, 0);
    plm_sampler_set(mp, 1.0f, 0, 1.0f, 1.0f, 1.0f, 0);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++) {
            x = x * 1664525u + 1013904223u;
            l[i] = (float)(x >> 8) / (float)(1 << 24) * 8.0f - 4.0f; /* distinct w.h.p. */
        }
        int want = plm_sampler_sample(g, l, 100);
        CHECK_EQ_INT(plm_sampler_sample(k1, l, 100), want); /* top-k = 1 */
        CHECK_EQ_INT(plm_sampler_sample(p0, l, 100), want); /* tiny top-p */
        CHECK_EQ_INT(plm_sampler_sample(mp, l, 100), want); /* min-p = 1 */
    }
    /* ties at the k-th value are all kept (as transformers' TopKLogitsWarper) */
    float t[3] = {1.0f, 1.0f, 0.0f};
    int seen[3] = {0};
    for (int i = 0; i < 200; i++) seen[plm_sampler_sample(k1, t, 3)]++;
    CHECK(seen[0] > 0 && seen[1] > 0 && seen[2] == 0);
    plm_sampler_free(g);
    plm_sampler_free(k1);
    plm_sampler_free(p0);
    plm_sampler_free(mp);
}

TEST(distributions) {
    float l[5];
    dyadic(l);
    plm_sampler *s = plm_sampler_new(2024);
    const int N = 40000;
    double x;

    const double plain[5] = {0.5, 0.25, 0.125, 0.0625, 0.0625};
    x = chi2(s, l, 5, plain, N);
    CHECK_MSG(x < CHI2_999[4], "plain: chi2 %.2f", x);

    /* temperature 2: p^(1/2), renormalised */
    plm_sampler_set(s, 2.0f, 0, 1.0f, 0.0f, 1.0f, 0);
    double q[5], z = 0;
    for (int i = 0; i < 5; i++) z += q[i] = sqrt(plain[i]);
    for (int i = 0; i < 5; i++) q[i] /= z;
    x = chi2(s, l, 5, q, N);
    CHECK_MSG(x < CHI2_999[4], "temperature 2: chi2 %.2f", x);

    /* top-k 2 */
    plm_sampler_set(s, 1.0f, 2, 1.0f, 0.0f, 1.0f, 0);
    const double k2[5] = {2.0 / 3, 1.0 / 3, 0, 0, 0};
    x = chi2(s, l, 5, k2, N);
    CHECK_MSG(x < CHI2_999[1], "top-k 2: chi2 %.2f", x);

    /* top-p 0.8: mass before ids 0, 1, 2, 3 = 0, .5, .75, .875 -> keeps 0..2 */
    plm_sampler_set(s, 1.0f, 0, 0.8f, 0.0f, 1.0f, 0);
    const double p8[5] = {4.0 / 7, 2.0 / 7, 1.0 / 7, 0, 0};
    x = chi2(s, l, 5, p8, N);
    CHECK_MSG(x < CHI2_999[2], "top-p 0.8: chi2 %.2f", x);

    /* min-p 0.2: p / p_max = 1, .5, .25, .125, .125 -> keeps 0..2 */
    plm_sampler_set(s, 1.0f, 0, 1.0f, 0.2f, 1.0f, 0);
    x = chi2(s, l, 5, p8, N);
    CHECK_MSG(x < CHI2_999[2], "min-p 0.2: chi2 %.2f", x);

    /* temperature before top-p (transformers' order): at T = 0.5 the distribution is
     * p^2 ∝ {64, 16, 4, 1, 1}/86, mass before ids 1, 2 = .744, .930 -> top-p 0.8 keeps
     * 0, 1 (top-p first, as llama.cpp's chain, would keep 0, 1, 2) */
    plm_sampler_set(s, 0.5f, 0, 0.8f, 0.0f, 1.0f, 0);
    const double t5[5] = {0.8, 0.2, 0, 0, 0};
    x = chi2(s, l, 5, t5, N);
    CHECK_MSG(x < CHI2_999[1], "T 0.5 + top-p 0.8: chi2 %.2f", x);

    /* masked (-inf) tokens are never drawn */
    plm_sampler_set(s, 1.0f, 0, 1.0f, 0.0f, 1.0f, 0);
    float mk[5];
    dyadic(mk);
    mk[0] = -INFINITY;
    const double pm[5] = {0, 0.5, 0.25, 0.125, 0.125};
    x = chi2(s, mk, 5, pm, N);
    CHECK_MSG(x < CHI2_999[3], "masked: chi2 %.2f", x);
    plm_sampler_free(s);
}

/* a larger vocabulary exercises the partial-sort path of top-p */
TEST(top_p_large_vocab) {
    enum { V = 5000 };
    static float l[V];
    for (int i = 0; i < V; i++) l[i] = -30.0f - (float)(i % 97) * 0.01f;
    l[4321] = 0.0f;              /* p ~ 0.8 */
    l[17] = (float)-log(4.0);    /* p ~ 0.2, the rest ~1e-13 each */
    plm_sampler *s = plm_sampler_new(5);
    plm_sampler_set(s, 1.0f, 0, 0.9f, 0.0f, 1.0f, 0);
    int c17 = 0, c4321 = 0, other = 0;
    for (int i = 0; i < 5000; i++) {
        int id = plm_sampler_sample(s, l, V);
        if (id == 17) c17++;
        else if (id == 4321) c4321++;
        else other++;
    }
    CHECK_EQ_INT(other, 0);
    CHECK(c17 > 850 && c17 < 1150 && c4321 > 3850);
    /* top-p 0.5 keeps only the top token */
    plm_sampler_set(s, 1.0f, 0, 0.5f, 0.0f, 1.0f, 0);
    for (int i = 0; i < 100; i++) CHECK_EQ_INT(plm_sampler_sample(s, l, V), 4321);
    plm_sampler_free(s);
}

TEST(repetition_penalty) {
    plm_sampler *s = plm_sampler_new(3);
    /* positive logits are divided */
    CHECK_EQ_INT(plm_sampler_set(s, 0.0f, 0, 1.0f, 0.0f, 1.1f, 0), PLM_OK);
    float a[3] = {2.0f, 1.9f, -3.0f};
    CHECK_EQ_INT(plm_sampler_sample(s, a, 3), 0);
    plm_sampler_accept(s, 0);
    CHECK_EQ_INT(plm_sampler_sample(s, a, 3), 1); /* 2.0 / 1.1 = 1.82 < 1.9 */
    /* ... once per distinct id, however often it was accepted */
    float b[3] = {2.0f, 1.8f, -3.0f};
    plm_sampler_accept(s, 0);
    plm_sampler_accept(s, 0);
    CHECK_EQ_INT(plm_sampler_sample(s, b, 3), 0); /* 1.82 > 1.8 (1.65 if applied twice) */
    /* negative logits are multiplied */
    plm_sampler_reset(s, 3);
    float c[3] = {-1.0f, -1.05f, -3.0f};
    plm_sampler_accept(s, 0);
    CHECK_EQ_INT(plm_sampler_sample(s, c, 3), 1); /* -1.1 < -1.05 */
    /* only the last n accepted tokens count */
    plm_sampler_set(s, 0.0f, 0, 1.0f, 0.0f, 1.1f, 2);
    plm_sampler_accept(s, 2);
    plm_sampler_accept(s, 2);
    CHECK_EQ_INT(plm_sampler_sample(s, c, 3), 0); /* id 0 fell out of the window */
    /* ids outside the vocabulary in the history are ignored */
    plm_sampler_accept(s, 1000);
    CHECK_EQ_INT(plm_sampler_sample(s, c, 3), 0);
    /* penalty < 1 encourages repetition */
    plm_sampler_set(s, 0.0f, 0, 1.0f, 0.0f, 0.5f, 0);
    float d[3] = {1.0f, 1.5f, 0.0f};
    plm_sampler_reset(s, 3);
    plm_sampler_accept(s, 0);
    CHECK_EQ_INT(plm_sampler_sample(s, d, 3), 0); /* 1.0 / 0.5 = 2 */
    plm_sampler_free(s);
}

TEST(invalid_arguments) {
    plm_sampler *s = plm_sampler_new(0);
    float l[2] = {0.0f, 1.0f};
    CHECK_EQ_INT(plm_sampler_set(s, NAN, 0, 1.0f, 0.0f, 1.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_sampler_set(s, 1.0f, 0, 0.0f, 0.0f, 1.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_sampler_set(s, 1.0f, 0, 1.0f, 1.5f, 1.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_sampler_set(s, 1.0f, 0, 1.0f, 0.0f, 0.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_sampler_set(s, 1.0f, 0, 1.0f, 0.0f, -1.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_sampler_set(NULL, 1.0f, 0, 1.0f, 0.0f, 1.0f, 0), PLM_E_INVALID);
    /* a failed set keeps the previous settings (sampling, temperature 1) */
    CHECK(plm_sampler_sample(s, l, 2) >= 0);
    CHECK_EQ_INT(plm_sampler_sample(s, NULL, 2), PLM_E_INVALID);
    CHECK_EQ_INT(plm_sampler_sample(s, l, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_sampler_sample(NULL, l, 2), PLM_E_INVALID);
    float bad[2] = {0.0f, NAN};
    CHECK_EQ_INT(plm_sampler_sample(s, bad, 2), PLM_E_INVALID);
    float none[2] = {-INFINITY, -INFINITY};
    CHECK_EQ_INT(plm_sampler_sample(s, none, 2), PLM_E_INVALID);
    plm_sampler_accept(NULL, 1);
    plm_sampler_reset(NULL, 1);
    plm_sampler_free(NULL);
    plm_sampler_free(s);
}

int main(void) {
    (void)test_read_file;
    RUN(determinism);
    RUN(greedy);
    RUN(greedy_equivalences);
    RUN(distributions);
    RUN(top_p_large_vocab);
    RUN(repetition_penalty);
    RUN(invalid_arguments);
    return test_summary();
}
