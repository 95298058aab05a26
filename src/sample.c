/* sample.c — next-token samplers (plm_sampler_* in plm.h).
 *
 * The chain follows Hugging Face generate(): logits processors first, then the
 * warpers in the order generate() builds them:
 *
 *   1. repetition penalty (RepetitionPenaltyLogitsProcessor, the CTRL rule):
 *      for every distinct id among the last penalty_last_n accepted tokens,
 *      logit > 0 ? logit / p : logit * p;
 *   2. temperature <= 0: greedy — argmax of the penalised logits, lowest id on ties;
 *   3. temperature: logits / T (TemperatureLogitsWarper);
 *   4. top-k: drop logits below the k-th largest (ties with it are kept, as
 *      TopKLogitsWarper does);
 *   5. top-p: keep the most probable tokens while the probability mass before
 *      them is < top_p (TopPLogitsWarper; the first token is always kept);
 *   6. min-p: drop tokens whose probability is < min_p * (max probability)
 *      (MinPLogitsWarper); probabilities after steps 3-5;
 *   7. draw from softmax of what is left.
 * (llama.cpp's default chain applies temperature last; here top-p and min-p see
 * the temperature-scaled distribution, as in transformers.)
 *
 * Reproducibility: the same seed gives the same tokens on every platform. The
 * generator is xoshiro256** seeded by splitmix64; probabilities use exp_det(),
 * an exp built from IEEE double additions/multiplications and ldexp only (no
 * libm, whose expf may differ by an ulp between glibc and musl/emscripten), and
 * every sum runs in a fixed order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct {
    float logit;
    int32_t id;
} cand;

struct plm_sampler {
    uint64_t rng[4];
    /* settings */
    float temperature, top_p, min_p, penalty;
    int top_k, penalty_last_n;
    /* accepted ids (all of them; the penalty looks at the last penalty_last_n) */
    int32_t *hist;
    int n_hist, cap_hist;
    int hist_failed; /* an accept could not grow the history: report at the next sample */
    /* scratch, sized for the last vocabulary */
    cand *c;
    float *heap;
    uint8_t *seen;
    int n_alloc;
};

/* ------------------------------------------------------------ random bits */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    const uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* uniform in [0, 1) with 53 random bits */
static double rand_unit(plm_sampler *s) { return (double)(xoshiro_next(s->rng) >> 11) * 0x1.0p-53; }

static void seed_rng(plm_sampler *s, double seed) {
    /* integral seeds (what JS passes) map to themselves; anything else by its bits */
    uint64_t x;
    if (seed >= 0 && seed < 18446744073709551616.0 && seed == floor(seed))
        x = (uint64_t)seed;
    else
        memcpy(&x, &seed, sizeof x);
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
}

/* ------------------------------------------------------- deterministic exp */
/* e^x for x <= 0 (arguments are logit - max), rounded to float. Only IEEE double
 * +, -, * and exact scaling by 2^k, so the result is the same everywhere. Relative
 * error ~1e-15 before the final rounding. */
static float exp_det(float xf) {
    if (xf != xf) return 0.0f;
    if (xf < -104.0f) return 0.0f; /* below the smallest float subnormal */
    if (xf > 88.0f) xf = 88.0f;
    const double x = xf;
    const double ln2_hi = 0.693147180369123816490, ln2_lo = 1.90821492927058770002e-10;
    const double t = x * 1.44269504088896338700;
    const int k = (int)(t < 0 ? t - 0.5 : t + 0.5); /* round to nearest */
    const double r = (x - k * ln2_hi) - k * ln2_lo; /* |r| <= ~0.35 */
    /* Taylor series of e^r, Horner form, degree 12 */
    double p = 1.0 / 479001600.0;
    static const double inv_fact[] = {1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                      1.0 / 40320.0,    1.0 / 5040.0,    1.0 / 720.0,
                                      1.0 / 120.0,      1.0 / 24.0,      1.0 / 6.0,
                                      0.5,              1.0,             1.0};
    for (size_t i = 0; i < sizeof inv_fact / sizeof *inv_fact; i++) p = p * r + inv_fact[i];
    return (float)ldexp(p, k);
}

/* ---------------------------------------------------------------- public */
plm_sampler *plm_sampler_new(double seed) {
    plm_sampler *s = plm_calloc_for(1, sizeof *s, "sampler");
    if (!s) return NULL;
    s->temperature = 1.0f;
    s->top_p = 1.0f;
    s->penalty = 1.0f;
    seed_rng(s, seed);
    return s;
}

void plm_sampler_free(plm_sampler *s) {
    if (!s) return;
    free(s->hist);
    free(s->c);
    free(s->heap);
    free(s->seen);
    free(s);
}

int plm_sampler_set(plm_sampler *s, float temperature, int top_k, float top_p, float min_p,
                    float repetition_penalty, int penalty_last_n) {
    if (!s) return plm_fail(PLM_E_INVALID, "plm_sampler_set: NULL sampler");
    if (isnan(temperature) || isinf(temperature))
        return plm_fail(PLM_E_INVALID, "temperature must be a finite number (got %g)", temperature);
    if (isnan(top_p) || top_p <= 0.0f)
        return plm_fail(PLM_E_INVALID, "top_p must be > 0 (got %g; use 1 to turn it off)", top_p);
    if (isnan(min_p) || min_p > 1.0f)
        return plm_fail(PLM_E_INVALID, "min_p must be <= 1 (got %g; use 0 to turn it off)", min_p);
    if (!(repetition_penalty > 0.0f) || isinf(repetition_penalty))
        return plm_fail(PLM_E_INVALID, "repetition_penalty must be a positive number (got %g)",
                        repetition_penalty);
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->min_p = min_p;
    s->penalty = repetition_penalty;
    s->penalty_last_n = penalty_last_n;
    return PLM_OK;
}

void plm_sampler_accept(plm_sampler *s, int32_t id) {
    if (!s) return;
    if (s->n_hist == s->cap_hist) {
        int cap = s->cap_hist ? s->cap_hist * 2 : 256;
        int32_t *h = cap > 0 ? plm_realloc_for(s->hist, (size_t)cap * sizeof *h, "sampler history")
                             : NULL;
        if (!h) {
            s->hist_failed = 1; /* plm_sampler_sample reports it */
            return;
        }
        s->hist = h;
        s->cap_hist = cap;
    }
    s->hist[s->n_hist++] = id;
}

void plm_sampler_reset(plm_sampler *s, double seed) {
    if (!s) return;
    seed_rng(s, seed);
    s->n_hist = 0;
    s->hist_failed = 0;
}

/* ------------------------------------------------------------- the chain */
static int scratch(plm_sampler *s, int n) {
    if (n <= s->n_alloc) return PLM_OK;
    cand *c = plm_malloc_for((size_t)n * sizeof *c, "sampler candidates");
    float *h = c ? plm_malloc_for((size_t)n * sizeof *h, "sampler heap") : NULL;
    uint8_t *seen = h ? plm_calloc_for((size_t)n, 1, "sampler marks") : NULL;
    if (!seen) {
        free(c);
        free(h);
        return PLM_E_NOMEM;
    }
    free(s->c);
    free(s->heap);
    free(s->seen);
    s->c = c;
    s->heap = h;
    s->seen = seen;
    s->n_alloc = n;
    return PLM_OK;
}

static void apply_penalty(plm_sampler *s, cand *c, int n_vocab) {
    if (s->penalty == 1.0f || s->n_hist == 0) return;
    int from = s->penalty_last_n > 0 && s->penalty_last_n < s->n_hist ? s->n_hist - s->penalty_last_n : 0;
    /* each distinct id once (HF gathers/scatters per id) */
    for (int i = from; i < s->n_hist; i++) {
        int32_t id = s->hist[i];
        if (id < 0 || id >= n_vocab || s->seen[id]) continue;
        s->seen[id] = 1;
        float l = c[id].logit;
        c[id].logit = l > 0.0f ? l / s->penalty : l * s->penalty;
    }
    for (int i = from; i < s->n_hist; i++) {
        int32_t id = s->hist[i];
        if (id >= 0 && id < n_vocab) s->seen[id] = 0;
    }
}

/* k-th largest logit (1 <= k <= n) with a size-k min-heap */
static float kth_largest(float *heap, const cand *c, int n, int k) {
    int h = 0;
    for (int i = 0; i < n; i++) {
        float v = c[i].logit;
        if (h < k) {
            int j = h++; /* sift up */
            while (j > 0 && heap[(j - 1) / 2] > v) {
                heap[j] = heap[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            heap[j] = v;
        } else if (v > heap[0]) {
            int j = 0; /* replace the root, sift down */
            for (;;) {
                int l = 2 * j + 1, r = l + 1, m = j;
                float mv = v;
                if (l < k && heap[l] < mv) m = l, mv = heap[l];
                if (r < k && heap[r] < mv) m = r, mv = heap[r];
                if (m == j) break;
                heap[j] = heap[m];
                j = m;
            }
            heap[j] = v;
        }
    }
    return heap[0];
}

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static float max_logit(const cand *c, int n) {
    float mx = c[0].logit;
    for (int i = 1; i < n; i++)
        if (c[i].logit > mx) mx = c[i].logit;
    return mx;
}

/* Nucleus filter: returns the new count; c[0..result) sorted by descending logit. */
static int top_p_filter(cand *c, int n, float top_p) {
    const float mx = max_logit(c, n);
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += exp_det(c[i].logit - mx);
    const float target = top_p * sum;
    /* Sorting everything is the slow part; the kept set usually lies among the
     * tokens within e^-12 of the top. Try those first: if their own prefix mass
     * reaches the target, the answer is the same as with a full sort. */
    int n_try = n;
    const float cut = mx - 12.0f;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) {
            int j = 0;
            for (int i = 0; i < n; i++)
                if (c[i].logit >= cut) {
                    cand t = c[j];
                    c[j++] = c[i];
                    c[i] = t;
                }
            if (j == n) continue;
            n_try = j;
        } else {
            n_try = n;
        }
        qsort(c, (size_t)n_try, sizeof *c, cand_desc);
        float cum = 0.0f;
        for (int i = 0; i < n_try; i++) {
            if (i > 0 && cum >= target) return i; /* mass before token i already reaches top_p */
            cum += exp_det(c[i].logit - mx);
        }
        if (cum >= target || n_try == n) return n_try;
    }
    return n;
}

int plm_sampler_sample(plm_sampler *s, const float *logits, int n_vocab) {
    if (!s) return plm_fail(PLM_E_INVALID, "plm_sampler_sample: NULL sampler");
    if (!logits || n_vocab <= 0)
        return plm_fail(PLM_E_INVALID, "plm_sampler_sample: no logits (n_vocab = %d)", n_vocab);
    if (s->hist_failed)
        return plm_fail(PLM_E_NOMEM, "out of memory recording accepted tokens for the "
                                     "repetition penalty; call plm_sampler_reset");
    int rc = scratch(s, n_vocab);
    if (rc) return rc;
    cand *c = s->c;
    for (int i = 0; i < n_vocab; i++) {
        if (isnan(logits[i]) || logits[i] == INFINITY)
            return plm_fail(PLM_E_INVALID, "logit %d is %s", i, isnan(logits[i]) ? "NaN" : "+inf");
        c[i].logit = logits[i];
        c[i].id = i;
    }

    apply_penalty(s, c, n_vocab);

    if (s->temperature <= 0.0f) { /* greedy: first maximum = lowest id */
        int best = 0;
        for (int i = 1; i < n_vocab; i++)
            if (c[i].logit > c[best].logit) best = i;
        return best;
    }

    /* temperature, and drop the -inf entries (masked tokens) */
    int n = 0;
    for (int i = 0; i < n_vocab; i++) {
        if (c[i].logit == -INFINITY) continue;
        c[n].logit = c[i].logit / s->temperature;
        c[n].id = c[i].id;
        n++;
    }
    if (n == 0) return plm_fail(PLM_E_INVALID, "every logit is -inf: nothing to sample");

    if (s->top_k > 0 && s->top_k < n) {
        const float kth = kth_largest(s->heap, c, n, s->top_k);
        int j = 0;
        for (int i = 0; i < n; i++)
            if (c[i].logit >= kth) c[j++] = c[i];
        n = j;
    }
    if (s->top_p < 1.0f) n = top_p_filter(c, n, s->top_p);

    const float mx = max_logit(c, n);
    if (s->min_p > 0.0f) {
        /* p_i < min_p * p_max  <=>  e^(l_i - l_max) < min_p */
        int j = 0;
        for (int i = 0; i < n; i++)
            if (exp_det(c[i].logit - mx) >= s->min_p) c[j++] = c[i];
        n = j; /* the maximum itself always stays (e^0 = 1 >= min_p) */
    }

    /* draw */
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += exp_det(c[i].logit - mx);
    const float u = (float)(rand_unit(s) * sum);
    float cum = 0.0f;
    for (int i = 0; i < n; i++) {
        cum += exp_det(c[i].logit - mx);
        if (u < cum) return c[i].id;
    }
    return c[n - 1].id; /* u rounded up to sum */
}
