/* test_types.c — every weight type, from the type tables alone.
 *
 * Loops over all ggml type ids; whatever quant.c's format table and
 * ops_traits.c's compute table say a type has is tested here, so a new type
 * is covered without editing this file:
 *   - the two tables agree (readable <=> matmul entry; activation format fits
 *     the block; SIMD builds: a SIMD dot where the route needs one);
 *   - a named type without kernels is PLM_E_UNSUPPORTED naming type and op;
 *   - quantize -> dequantize round trip where a quantizer exists;
 *   - dots equal a double-precision reference computed from dequantize (random
 *     blocks: random bytes, re-drawn until the block's values are finite and in
 *     a sane range - no knowledge of the layout needed);
 *   - op_matmul (m = 1, 2, 5; n = 7; odd block counts; bias), in both layouts
 *     the type has, equals the scalar dot per output bit for bit, with the
 *     scalar and the SIMD backends (so SIMD twins, tiles, GEMMs and routing are
 *     all held to the scalar reference); op_get_rows equals dequantize.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops.h"
#include "plm.h"
#include "quant.h"
#include "test.h"

static float rnd_f(void) { return frand(); } /* test.h's generator, [-1, 1) */

/* Activation block of a format (1 for float rows). */
static int act_block(int act) { return act == PLM_ACT_Q8_0 ? QK8_0 : act == PLM_ACT_Q8_K ? QK_K : 1; }

/* An odd number of (super-)blocks that also fits the activation format. */
static int test_k(int type) {
    const plm_mm_traits *t = plm_mm_traits_get(type);
    int unit = plm_type_block_size(type);
    const int ab = act_block(t->act);
    if (ab > unit) unit = ab;
    return unit == 1 ? 67 : 3 * unit;
}

/* nrows rows of k values of `type`: quantized random floats for element types
 * (block size 1), else random bytes per block, re-drawn until the block
 * dequantizes to finite values with max |x| in [2^-6, 2^6]. */
static int make_weights(int type, uint8_t *w, int nrows, int k) {
    const int blck = plm_type_block_size(type);
    const size_t bb = plm_type_block_bytes(type);
    if (blck == 1) {
        float *x = malloc(sizeof(float) * (size_t)nrows * k);
        for (size_t i = 0; i < (size_t)nrows * k; i++) x[i] = rnd_f();
        const size_t got = plm_quantize(type, x, w, nrows, k);
        free(x);
        return got == plm_type_row_bytes(type, k) * (size_t)nrows;
    }
    float y[QK_K];
    const size_t nblocks = (size_t)nrows * (k / blck);
    for (size_t b = 0; b < nblocks; b++) {
        uint8_t *blk = w + b * bb;
        int tries = 0;
        for (;; tries++) {
            if (tries > 100000) return 0;
            for (size_t i = 0; i < bb; i++) blk[i] = (uint8_t)rnd_u32();
            plm_dequantize_row(type, blk, y, blck);
            float mx = 0.0f;
            int finite = 1;
            for (int i = 0; i < blck; i++) {
                if (!isfinite(y[i])) finite = 0;
                mx = fmaxf(mx, fabsf(y[i]));
            }
            if (finite && mx >= 1.0f / 64 && mx <= 64.0f) break;
        }
    }
    return 1;
}

/* Activations x[k] in format act (scalar quantizers), and their values as the dot sees them. */
static void make_act(int act, const float *x, int k, void *xa, double *xv) {
    if (act == PLM_ACT_Q8_0) {
        block_q8_0 *q = xa;
        quantize_row_q8_0_act_scalar(x, q, k);
        for (int i = 0; i < k; i++) xv[i] = (double)plm_fp16_to_fp32(q[i / 32].d) * q[i / 32].qs[i % 32];
    } else if (act == PLM_ACT_Q8_K) {
        block_q8_K *q = xa;
        quantize_row_q8_K_act_scalar(x, q, k);
        for (int i = 0; i < k; i++) xv[i] = (double)q[i / QK_K].d * q[i / QK_K].qs[i % QK_K];
    } else {
        memcpy(xa, x, sizeof(float) * (size_t)k);
        for (int i = 0; i < k; i++) xv[i] = x[i];
    }
}

TEST(test_tables_agree) {
    int readable = 0;
    for (int type = 0; type < PLM_TYPE_COUNT; type++) {
        const char *name = plm_type_name(type);
        const plm_mm_traits *t = plm_mm_traits_get(type);
        CHECK_MSG(!!plm_type_supported(type) == !!t, "type %s: readable %d but matmul entry %s", name ? name : "?",
                  plm_type_supported(type), t ? "present" : "missing");
        if (!t) continue;
        readable++;
        const int blck = plm_type_block_size(type), ab = act_block(t->act);
        CHECK_MSG(t->act == PLM_ACT_F32 || t->act == PLM_ACT_Q8_0 || t->act == PLM_ACT_Q8_K, "%s: act %d", name, t->act);
        CHECK_MSG(t->act == PLM_ACT_F32 ? blck == 1 : (ab % blck == 0 || blck % ab == 0),
                  "%s: block %d does not fit activation format %s", name, blck, plm_act_name(t->act));
        CHECK_MSG(t->route == MM_ROUTE_DOT || t->route == MM_ROUTE_TILES || t->route == MM_ROUTE_KROWS, "%s: route %d",
                  name, t->route);
        CHECK_MSG(t->gemm == MM_GEMM_NONE || t->gemm == MM_GEMM_FLOAT || t->gemm == MM_GEMM_Q8 || t->gemm == MM_GEMM_K,
                  "%s: gemm %d", name, t->gemm);
        CHECK_MSG(t->gemm != MM_GEMM_K || type == PLM_TYPE_Q4_K || type == PLM_TYPE_Q5_K || type == PLM_TYPE_Q6_K,
                  "%s: the K-quant GEMM reads Q4_K / Q5_K / Q6_K only", name);
        CHECK_MSG(!t->convert_rows || t->act == PLM_ACT_F32, "%s: convert_rows needs float activations", name);
        CHECK_MSG(!t->panel4 || t->gemm == MM_GEMM_Q8, "%s: the panel layout is read by the Q8 GEMM only", name);
#if PLM_HAVE_SIMD
        CHECK_MSG(t->route != MM_ROUTE_DOT || t->dot_simd, "%s: route DOT without a SIMD dot", name);
#endif
    }
    CHECK(readable >= 15);
    CHECK(plm_mm_traits_get(-1) == NULL && plm_mm_traits_get(PLM_TYPE_COUNT) == NULL);
}

TEST(test_unsupported_is_error) {
    float x[256] = {0}, y[4];
    uint8_t data[4096] = {0};
    for (int type = 0; type < PLM_TYPE_COUNT; type++) {
        const char *name = plm_type_name(type);
        if (!name || plm_type_supported(type)) continue;
        const int blck = plm_type_block_size(type);
        plm_tensor W = {.name = "blk.0.w", .type = type, .n_dims = 2, .ne = {blck == 1 ? 16 : blck, 1, 1, 1}, .data = data};
        CHECK_EQ_INT(op_matmul(y, &W, NULL, x, 1, (int)W.ne[0]), PLM_E_UNSUPPORTED);
        const char *msg = plm_errmsg();
        CHECK_MSG(msg && strstr(msg, "matmul") && strstr(msg, name) && strstr(msg, "blk.0.w"),
                  "matmul message for %s: %s", name, msg ? msg : "(null)");
        const int32_t id = 0;
        float row[256];
        CHECK_EQ_INT(op_get_rows(row, &W, &id, 1), PLM_E_UNSUPPORTED);
        msg = plm_errmsg();
        CHECK_MSG(msg && strstr(msg, "get_rows") && strstr(msg, name), "get_rows message for %s: %s", name,
                  msg ? msg : "(null)");
    }
}

TEST(test_roundtrip) {
    const int k = 512, rows = 3;
    float *x = malloc(sizeof(float) * k * rows), *y = malloc(sizeof(float) * k * rows);
    uint8_t *q = malloc((size_t)k * rows * 8);
    for (int type = 0; type < PLM_TYPE_COUNT; type++) {
        if (!plm_type_quantizable(type)) continue;
        CHECK_MSG(plm_type_supported(type), "%s: quantizer without dequantizer", plm_type_name(type));
        for (int i = 0; i < k * rows; i++) x[i] = rnd_f() * (1 + i % 7);
        CHECK_EQ_INT(plm_quantize(type, x, q, rows, k), plm_type_row_bytes(type, k) * rows);
        for (int r = 0; r < rows; r++)
            plm_dequantize_row(type, q + plm_type_row_bytes(type, k) * r, y + (size_t)r * k, k);
        double se = 0, ss = 0;
        for (int i = 0; i < k * rows; i++) se += (double)(y[i] - x[i]) * (y[i] - x[i]), ss += (double)x[i] * x[i];
        const double rel = sqrt(se / ss);
        CHECK_MSG(type == PLM_TYPE_F32 ? rel == 0 : rel < (plm_type_block_size(type) == 1 ? 1e-2 : 0.12),
                  "%s round trip: relative rms error %.3g", plm_type_name(type), rel);
    }
    free(x), free(y), free(q);
}

TEST(test_dots_vs_double) {
    for (int type = 0; type < PLM_TYPE_COUNT; type++) {
        const plm_mm_traits *t = plm_mm_traits_get(type);
        if (!t) continue;
        const char *name = plm_type_name(type);
        for (int rep = 0; rep < 4; rep++) {
            const int k = test_k(type);
            const size_t rb = plm_type_row_bytes(type, k);
            uint8_t *w = malloc(rb);
            float *x = malloc(sizeof(float) * k), *wd = malloc(sizeof(float) * k);
            double *xv = malloc(sizeof(double) * k);
            void *xa = malloc(sizeof(float) * k + sizeof(block_q8_K) * 4);
            CHECK_MSG(make_weights(type, w, 1, k), "%s: no random weights", name);
            for (int i = 0; i < k; i++) x[i] = rnd_f() * (rep + 1);
            make_act(t->act, x, k, xa, xv);
            plm_dequantize_row(type, w, wd, k);
            const int blck = plm_type_block_size(type);
            double ref = 0, mag = 0;
            for (int i = 0; i < k; i++) {
                float bmax = 0;
                for (int e = i / blck * blck; e < (i / blck + 1) * blck; e++) bmax = fmaxf(bmax, fabsf(wd[e]));
                ref += (double)wd[i] * xv[i];
                mag += (double)bmax * fabs(xv[i]);
            }
            const float got = t->dot_scalar(w, xa, k);
            const double tol = 2e-6 * (k / (blck > 32 ? blck : 32) + 8) * mag;
            CHECK_MSG(fabs(got - ref) <= tol, "%s k=%d: dot %.9g vs double %.9g (tol %.3g)", name, k, got, ref, tol);
            /* negative control: one flipped code byte in the middle must be seen by dot and dequantize alike */
            w[rb / 2 + 1] ^= 0x5A;
            plm_dequantize_row(type, w, wd, k);
            double ref2 = 0;
            for (int i = 0; i < k; i++) ref2 += (double)wd[i] * xv[i];
            if (isfinite(ref2)) {
                const float got2 = t->dot_scalar(w, xa, k);
                CHECK_MSG(fabs(got2 - ref2) <= tol + 2e-6 * fabs(ref2), "%s k=%d (perturbed): dot %.9g vs double %.9g",
                          name, k, got2, ref2);
            }
            free(w), free(x), free(wd), free(xv), free(xa);
        }
    }
}

/* op_matmul and op_get_rows against the scalar dot / dequantize, in both backends. */
static void check_matmul(int type, int simd) {
    const plm_mm_traits *t = plm_mm_traits_get(type);
    const char *name = plm_type_name(type);
    const int k = test_k(type), n = 7, ms[] = {1, 2, 5};
    const size_t rb = plm_type_row_bytes(type, k);
    uint8_t *w = malloc(rb * n), *wp = malloc(rb * n);
    float *x = malloc(sizeof(float) * 5 * k), *y = malloc(sizeof(float) * 5 * n), *bias = malloc(sizeof(float) * n);
    float *row = malloc(sizeof(float) * k), *deq = malloc(sizeof(float) * k);
    double *xv = malloc(sizeof(double) * k);
    void *xa = malloc(sizeof(float) * k + sizeof(block_q8_K) * 4);
    CHECK_MSG(make_weights(type, w, n, k), "%s: no random weights", name);
    memcpy(wp, w, rb * n);
    for (int i = 0; i < 5 * k; i++) x[i] = rnd_f();
    for (int i = 0; i < n; i++) bias[i] = rnd_f();
    plm_tensor W = {.name = "w", .type = type, .n_dims = 2, .ne = {k, n, 1, 1}, .nbytes = rb * n, .data = wp};
    const int prev = ops_use_simd(simd);
    for (int layout = 0; layout < 2; layout++) {
        if (layout == 1) {
            if (!t->panel4) break;
            CHECK_EQ_INT(plm_tensor_pack_for_matmul(&W), PLM_OK);
            CHECK_EQ_INT(W.layout, PLM_LAYOUT_PANEL4);
        }
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
            const int m = ms[mi];
            CHECK_EQ_INT(op_matmul(y, &W, bias, x, m, k), PLM_OK);
            int bad = 0;
            for (int r = 0; r < m; r++) {
                make_act(t->act, x + (size_t)r * k, k, xa, xv);
                for (int c = 0; c < n; c++) {
                    const float want = t->dot_scalar(w + rb * c, xa, k) + bias[c];
                    const float got = y[(size_t)r * n + c];
                    if (memcmp(&want, &got, sizeof want) && !bad++)
                        CHECK_MSG(0, "%s %s layout %d m=%d: y[%d][%d] = %.9g, scalar dot %.9g", name,
                                  simd ? "SIMD" : "scalar", layout, m, r, c, got, want);
                }
            }
            CHECK_MSG(!bad, "%s %s m=%d: %d outputs differ", name, simd ? "SIMD" : "scalar", m, bad);
        }
        for (int32_t id = 0; id < n; id++) {
            CHECK_EQ_INT(op_get_rows(row, &W, &id, 1), PLM_OK);
            plm_dequantize_row(type, w + rb * id, deq, k);
            CHECK_MSG(!memcmp(row, deq, sizeof(float) * k), "%s layout %d: get_rows row %d differs", name, layout, id);
        }
    }
    ops_use_simd(prev);
    free(w), free(wp), free(x), free(y), free(bias), free(row), free(deq), free(xv), free(xa);
}

TEST(test_matmul_every_type) {
    for (int type = 0; type < PLM_TYPE_COUNT; type++) {
        if (!plm_mm_traits_get(type)) continue;
        check_matmul(type, 0);
#if PLM_HAVE_SIMD
        check_matmul(type, 1);
#endif
    }
}

#if PLM_HAVE_SIMD
/* The single-row SIMD dots, where the table has one, against the scalar twin bit for bit. */
TEST(test_simd_dots_bit_identical) {
    for (int type = 0; type < PLM_TYPE_COUNT; type++) {
        const plm_mm_traits *t = plm_mm_traits_get(type);
        if (!t || !t->dot_simd) continue;
        for (int rep = 0; rep < 8; rep++) {
            const int k = test_k(type) / 3 * (1 + 2 * (rep % 3)); /* 1, 3, 5 blocks */
            const int kk = k < 8 ? 67 : k;
            const size_t rb = plm_type_row_bytes(type, kk);
            uint8_t *w = malloc(rb);
            float *x = malloc(sizeof(float) * kk);
            double *xv = malloc(sizeof(double) * kk);
            void *xa = malloc(sizeof(float) * kk + sizeof(block_q8_K) * 6);
            CHECK(make_weights(type, w, 1, kk));
            for (int i = 0; i < kk; i++) x[i] = rnd_f() * (1 + rep);
            make_act(t->act, x, kk, xa, xv);
            const float a = t->dot_scalar(w, xa, kk), b = t->dot_simd(w, xa, kk);
            CHECK_MSG(!memcmp(&a, &b, sizeof a), "%s k=%d: scalar %.9g vs SIMD %.9g", plm_type_name(type), kk, a, b);
            free(w), free(x), free(xv), free(xa);
        }
    }
}
#endif

int main(void) {
    RUN(test_tables_agree);
    RUN(test_unsupported_is_error);
    RUN(test_roundtrip);
    RUN(test_dots_vs_double);
    RUN(test_matmul_every_type);
#if PLM_HAVE_SIMD
    RUN(test_simd_dots_bit_identical);
#endif
    ops_scratch_free();
    return test_summary();
}
