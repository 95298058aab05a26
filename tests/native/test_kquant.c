/* test_kquant.c — K-quant x Q8_K dot products, Q8_K activations, the legacy
 * formats Q4_1 / Q5_0 / Q5_1 and Q5_K (dequantize, get_rows, matmul), and RoPE
 * with frequency factors / linear scaling:
 *   - Q5_0 / Q4_1 / Q5_1 x Q8_0: canonical lane dots, double, SIMD = scalar;
 *   - formats: blocks packed here from chosen quant values (the inverse of the
 *     layouts, written from ggml's block descriptions) must dequantize to them;
 *   - dots: against double sums over the dequantized weights and the dequantized
 *     Q8_K activations (tight), and over the float activations (quantization bound);
 *   - twins: SIMD and scalar give the same bits (Q8_K bytes, dots, matmuls, RoPE);
 *   - RoPE: against a double reference of ggml's rope_ext angles. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops.h"
#include "quant.h"
#include "test.h"

static int same_bits(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (a != a && b != b);
}
static void wr16(uint8_t *p, plm_fp16 h) { p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8); }

/* ---------------------------------------------------------------- packing */

/* 6-bit scales / mins of Q4_K / Q5_K into 12 bytes (ggml's quantize_row_q4_K packing). */
static void pack_k4_scales(uint8_t out[12], const uint8_t sc[8], const uint8_t mn[8]) {
    memset(out, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            out[j] = sc[j];
            out[j + 4] = mn[j];
        } else {
            out[j + 4] = (uint8_t)((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
            out[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            out[j] |= (uint8_t)((mn[j] >> 4) << 6);
        }
    }
}

/* Q5_K block from q[256] (0..31), sc/mn[8] (0..63), d, dmin; expected values in y. */
static void make_q5_K(uint8_t blk[176], float *y, const uint8_t q[256], const uint8_t sc[8], const uint8_t mn[8],
                      float d, float dmin) {
    memset(blk, 0, 176);
    wr16(blk, plm_fp32_to_fp16(d));
    wr16(blk + 2, plm_fp32_to_fp16(dmin));
    pack_k4_scales(blk + 4, sc, mn);
    uint8_t *qh = blk + 16, *qs = blk + 48;
    for (int g = 0; g < 4; g++)
        for (int l = 0; l < 32; l++) {
            const int a = q[64 * g + l], b = q[64 * g + 32 + l];
            qs[32 * g + l] = (uint8_t)((a & 0xF) | (b & 0xF) << 4);
            qh[l] |= (uint8_t)((a >> 4) << (2 * g) | (b >> 4) << (2 * g + 1));
        }
    const float dd = plm_fp16_to_fp32(plm_fp32_to_fp16(d)), dm = plm_fp16_to_fp32(plm_fp32_to_fp16(dmin));
    for (int i = 0; i < 256; i++) y[i] = (dd * sc[i / 32]) * q[i] - dm * mn[i / 32];
}

/* Q4_1 / Q5_0 / Q5_1 blocks from q[32]. */
static void make_q4_1(uint8_t blk[20], float *y, const uint8_t q[32], float d, float m) {
    wr16(blk, plm_fp32_to_fp16(d));
    wr16(blk + 2, plm_fp32_to_fp16(m));
    for (int j = 0; j < 16; j++) blk[4 + j] = (uint8_t)(q[j] | q[j + 16] << 4);
    const float dd = plm_fp16_to_fp32(plm_fp32_to_fp16(d)), mm = plm_fp16_to_fp32(plm_fp32_to_fp16(m));
    for (int i = 0; i < 32; i++) y[i] = q[i] * dd + mm;
}
static void make_q5(uint8_t *blk, float *y, const uint8_t q[32], float d, float m, int with_min) {
    uint8_t *p = blk;
    wr16(p, plm_fp32_to_fp16(d));
    p += 2;
    if (with_min) wr16(p, plm_fp32_to_fp16(m)), p += 2;
    uint32_t qh = 0;
    for (int i = 0; i < 32; i++) qh |= (uint32_t)(q[i] >> 4) << i;
    p[0] = (uint8_t)qh, p[1] = (uint8_t)(qh >> 8), p[2] = (uint8_t)(qh >> 16), p[3] = (uint8_t)(qh >> 24);
    for (int j = 0; j < 16; j++) p[4 + j] = (uint8_t)((q[j] & 0xF) | (q[j + 16] & 0xF) << 4);
    const float dd = plm_fp16_to_fp32(plm_fp32_to_fp16(d)), mm = plm_fp16_to_fp32(plm_fp32_to_fp16(m));
    for (int i = 0; i < 32; i++) y[i] = with_min ? q[i] * dd + mm : (q[i] - 16) * dd;
}

TEST(test_formats_roundtrip) {
    uint8_t blk[176], q[256], sc[8], mn[8];
    float want[256], got[256];
    for (int it = 0; it < 50; it++) {
        for (int i = 0; i < 256; i++) q[i] = (uint8_t)(rnd_u32() % 32);
        for (int j = 0; j < 8; j++) sc[j] = (uint8_t)(rnd_u32() % 64), mn[j] = (uint8_t)(rnd_u32() % 64);
        if (it == 0) memset(q, 31, 256), memset(sc, 63, 8), memset(mn, 63, 8); /* every bit set */
        make_q5_K(blk, want, q, sc, mn, 0.001f + 0.01f * (frand() + 1), 0.002f * (frand() + 1));
        plm_dequantize_row(PLM_TYPE_Q5_K, blk, got, 256);
        int ok = 1;
        for (int i = 0; i < 256; i++) ok &= same_bits(got[i], want[i]);
        CHECK_MSG(ok, "q5_K block %d", it);

        for (int i = 0; i < 32; i++) q[i] &= 15;
        make_q4_1(blk, want, q, 0.1f * frand(), frand());
        plm_dequantize_row(PLM_TYPE_Q4_1, blk, got, 32);
        ok = 1;
        for (int i = 0; i < 32; i++) ok &= same_bits(got[i], want[i]);
        CHECK_MSG(ok, "q4_1 block %d", it);

        for (int i = 0; i < 32; i++) q[i] = (uint8_t)(rnd_u32() % 32);
        for (int wm = 0; wm < 2; wm++) {
            make_q5(blk, want, q, 0.1f * frand(), frand(), wm);
            plm_dequantize_row(wm ? PLM_TYPE_Q5_1 : PLM_TYPE_Q5_0, blk, got, 32);
            ok = 1;
            for (int i = 0; i < 32; i++) ok &= same_bits(got[i], want[i]);
            CHECK_MSG(ok, "q5_%d block %d", wm, it);
        }
    }
    CHECK_EQ_INT(plm_type_row_bytes(PLM_TYPE_Q5_K, 512), 352);
    CHECK_EQ_INT(plm_type_row_bytes(PLM_TYPE_Q4_1, 64), 40);
    CHECK_EQ_INT(plm_type_row_bytes(PLM_TYPE_Q5_0, 64), 44);
    CHECK_EQ_INT(plm_type_row_bytes(PLM_TYPE_Q5_1, 64), 48);
    CHECK_EQ_INT(sizeof(block_q5_K), 176);
    CHECK_EQ_INT(sizeof(block_q8_K), 292);
}

/* ------------------------------------------------------- random weights */

/* n random rows of k values of a K-quant type (random bytes, sane scales). */
static uint8_t *random_k_rows(int type, int n, int k) {
    const size_t rb = plm_type_row_bytes(type, k);
    uint8_t *p = malloc(rb * (size_t)n);
    for (size_t i = 0; i < rb * (size_t)n; i++) p[i] = (uint8_t)rnd_u32();
    const size_t bb = plm_type_block_bytes(type);
    for (int r = 0; r < n; r++)
        for (int b = 0; b < k / QK_K; b++) {
            uint8_t *blk = p + (size_t)r * rb + (size_t)b * bb;
            if (type == PLM_TYPE_Q6_K) {
                wr16(blk + 208, plm_fp32_to_fp16(0.0005f + 0.0002f * (float)(rnd_u32() % 8)));
            } else {
                wr16(blk, plm_fp32_to_fp16(0.002f + 0.001f * (float)(rnd_u32() % 8)));
                wr16(blk + 2, plm_fp32_to_fp16(0.001f * (float)(rnd_u32() % 8)));
            }
        }
    return p;
}

static float dot_scalar(int type, const void *w, const block_q8_K *x, int k) {
    switch (type) {
    case PLM_TYPE_Q4_K: return vec_dot_q4_K_q8_K_scalar(w, x, k);
    case PLM_TYPE_Q5_K: return vec_dot_q5_K_q8_K_scalar(w, x, k);
    default: return vec_dot_q6_K_q8_K_scalar(w, x, k);
    }
}

static const int KTYPES[] = {PLM_TYPE_Q4_K, PLM_TYPE_Q5_K, PLM_TYPE_Q6_K};

TEST(test_k_dots_vs_double) {
    const int ks[] = {256, 512, 2048};
    for (int t = 0; t < 3; t++)
        for (int ki = 0; ki < 3; ki++) {
            const int type = KTYPES[t], k = ks[ki];
            uint8_t *w = random_k_rows(type, 4, k);
            float *x = malloc(sizeof(float) * k), *wd = malloc(sizeof(float) * k);
            block_q8_K *xq = malloc(sizeof(block_q8_K) * (k / QK_K));
            int bad = 0;
            for (int r = 0; r < 4; r++) {
                for (int i = 0; i < k; i++) x[i] = frand() * (i % 97 == 0 ? 8.0f : 1.0f);
                quantize_row_q8_K_act_scalar(x, xq, k);
                const uint8_t *row = w + (size_t)r * plm_type_row_bytes(type, k);
                plm_dequantize_row(type, row, wd, k);
                double ref = 0, mag = 0, unq = 0, qb = 0;
                for (int i = 0; i < k; i++) {
                    const double xv = (double)xq[i / QK_K].d * xq[i / QK_K].qs[i % QK_K];
                    ref += (double)wd[i] * xv;
                    mag += fabs((double)wd[i] * xv);
                    unq += (double)wd[i] * x[i];
                }
                for (int b = 0; b < k / QK_K; b++) {
                    double amax = 0;
                    for (int i = 0; i < QK_K; i++) amax = fmax(amax, fabs(x[b * QK_K + i]));
                    for (int i = 0; i < QK_K; i++) qb += fabs(wd[b * QK_K + i]) * (amax / 254.0 * 1.001);
                }
                const float got = dot_scalar(type, row, xq, k);
                /* float rounding of the weights' dequantization and of the chain */
                const double tol = 4e-6 * mag + 1e-9;
                if (fabs(got - ref) > tol || fabs(got - unq) > qb + tol) {
                    CHECK_MSG(0, "%s k=%d row %d: %.9g vs %.9g (tol %.3g), unquantized %.9g (bound %.3g)",
                              plm_type_name(type), k, r, got, ref, tol, unq, qb);
                    bad = 1;
                }
            }
            CHECK(!bad);
            free(w), free(x), free(wd), free(xq);
        }
}

/* Q8_K activations: ggml's rules (first largest magnitude -> -127, ties to even). */
TEST(test_q8_K_activations) {
    float x[512];
    block_q8_K q[2];
    for (int i = 0; i < 512; i++) x[i] = frand();
    x[10] = 2.0f, x[20] = -2.0f; /* the first one sets the sign */
    memset(x + 256, 0, 256 * sizeof(float)); /* an all-zero block */
    quantize_row_q8_K_act_scalar(x, q, 512);
    CHECK(q[0].qs[10] == -127 && q[0].qs[20] == 127);
    CHECK(q[0].d == 1 / (-127.f / 2.0f));
    int s = 0;
    for (int i = 0; i < 16; i++) s += q[0].qs[i];
    CHECK_EQ_INT(q[0].bsums[0], s);
    CHECK(q[1].d == 0.0f && q[1].qs[5] == 0 && q[1].bsums[3] == 0);
}

/* ------------------------------------------------------------- matmul */

static void check_matmul_k(int type, int n, int k, int m) {
    uint8_t *w = random_k_rows(type, n, k);
    plm_tensor t = {"k.weight", type, 2, {k, n, 1, 1}, 0, plm_type_row_bytes(type, k) * (size_t)n, w, PLM_LAYOUT_ROWS};
    float *x = malloc(sizeof(float) * (size_t)m * k), *y = malloc(sizeof(float) * (size_t)m * n);
    float *bias = malloc(sizeof(float) * n);
    for (int i = 0; i < m * k; i++) x[i] = frand();
    for (int i = 0; i < n; i++) bias[i] = frand();
    block_q8_K *xq = malloc(sizeof(block_q8_K) * (k / QK_K));
    CHECK_EQ_INT(op_matmul(y, &t, bias, x, m, k), PLM_OK);
    int bad = 0;
    for (int r = 0; r < m && !bad; r++) {
        quantize_row_q8_K_act_scalar(x + (size_t)r * k, xq, k);
        for (int c = 0; c < n && !bad; c++) {
            const float want = dot_scalar(type, w + (size_t)c * plm_type_row_bytes(type, k), xq, k) + bias[c];
            if (!same_bits(y[(size_t)r * n + c], want)) {
                CHECK_MSG(0, "matmul %s n=%d k=%d m=%d [%d][%d]: %.9g vs canonical %.9g", plm_type_name(type), n, k, m,
                          r, c, y[(size_t)r * n + c], want);
                bad = 1;
            }
        }
    }
    free(w), free(x), free(y), free(bias), free(xq);
}

TEST(test_k_matmul_canonical) {
    const int ms[] = {1, 2, 3, 4, 5, 9, 17};
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < 7; i++) {
            check_matmul_k(KTYPES[t], 7, 512, ms[i]);
            check_matmul_k(KTYPES[t], 3, 256, ms[i]);
        }
}

/* The K-quant GEMM (m > 1, ops_kgemm.c): scalar and SIMD backends give the same
 * bits, and each output equals the m = 1 kernel's dot of that row (the canonical
 * order), on row counts that are not multiples of the 4-row panel, m = 1..17,
 * several k; with and without bias. */
TEST(test_kgemm_variants_bit_exact) {
    const int ns[] = {1, 4, 7, 13, 18};
    const int ks[] = {256, 768, 2048};
    for (int t = 0; t < 3; t++)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 5; b++) {
                const int type = KTYPES[t], n = ns[b], k = ks[a], mmax = 17;
                const size_t rb = plm_type_row_bytes(type, k);
                uint8_t *w = random_k_rows(type, n, k);
                plm_tensor W = {"blk.0.ffn_up.weight", type, 2, {k, n, 1, 1}, 0, rb * (size_t)n, w, PLM_LAYOUT_ROWS};
                float *x = malloc(sizeof(float) * (size_t)mmax * k), *bias = malloc(sizeof(float) * n);
                float *y0 = malloc(sizeof(float) * (size_t)mmax * n), *y1 = malloc(sizeof(float) * (size_t)mmax * n);
                block_q8_K *xq = malloc(sizeof(block_q8_K) * (k / QK_K));
                for (int i = 0; i < mmax * k; i++) x[i] = 4.0f * frand();
                for (int i = 0; i < n; i++) bias[i] = frand();
                x[7] = 0.0f, x[300 % k] = 1e-3f;
                int bad = 0;
                for (int m = 1; m <= mmax && !bad; m++) {
                    const float *bs = (m & 1) ? bias : NULL;
                    int prev = ops_use_simd(0);
                    CHECK_EQ_INT(op_matmul(y0, &W, bs, x, m, k), PLM_OK);
                    ops_use_simd(1);
                    CHECK_EQ_INT(op_matmul(y1, &W, bs, x, m, k), PLM_OK);
                    ops_use_simd(prev);
                    if (memcmp(y0, y1, sizeof(float) * (size_t)m * n)) {
                        CHECK_MSG(0, "%s n=%d k=%d m=%d: SIMD differs from scalar", plm_type_name(type), n, k, m);
                        bad = 1;
                    }
                    for (int r = 0; r < m && !bad; r++) {
                        quantize_row_q8_K_act_scalar(x + (size_t)r * k, xq, k);
                        for (int c = 0; c < n && !bad; c++) {
                            float want = dot_scalar(type, w + (size_t)c * rb, xq, k);
                            if (bs) want += bs[c];
                            if (!same_bits(y0[(size_t)r * n + c], want)) {
                                CHECK_MSG(0, "%s n=%d k=%d m=%d [%d][%d]: %.9g vs the m = 1 dot %.9g", plm_type_name(type),
                                          n, k, m, r, c, y0[(size_t)r * n + c], want);
                                bad = 1;
                            }
                        }
                    }
                }
                free(w), free(x), free(bias), free(y0), free(y1), free(xq);
            }
}

/* Q4_1 / Q5_0 / Q5_1 weights: Q8_0 activations, the canonical lane dots (ops.h), close
 * to the double dot of the dequantized weights and activations; get_rows = dequantize. */
enum { LEGACY_K = 96 }; /* row length of the legacy-type tests */
static float legacy_dot(int type, const uint8_t *w, const float *x, int k, double *ref, double *mag) {
    block_q8_0 q[LEGACY_K / 32];
    float wd[LEGACY_K];
    CHECK(k == LEGACY_K);
    quantize_row_q8_0_act_scalar(x, q, k);
    plm_dequantize_row(type, w, wd, k);
    *ref = *mag = 0;
    for (int i = 0; i < k; i++) {
        const double xv = (double)plm_fp16_to_fp32(q[i / 32].d) * q[i / 32].qs[i % 32];
        *ref += wd[i] * xv;
        *mag += fabs(wd[i] * xv);
    }
    const float v = type == PLM_TYPE_Q5_0   ? vec_dot_q5_0_q8_0_scalar(w, q, k)
                    : type == PLM_TYPE_Q4_1 ? vec_dot_q4_1_q8_0_scalar(w, q, k)
                                            : vec_dot_q5_1_q8_0_scalar(w, q, k);
    return v;
}

TEST(test_legacy_matmul_and_rows) {
    const int types[] = {PLM_TYPE_Q4_1, PLM_TYPE_Q5_0, PLM_TYPE_Q5_1};
    const int n = 5, k = LEGACY_K;
    for (int t = 0; t < 3; t++) {
        const size_t rb = plm_type_row_bytes(types[t], k);
        uint8_t *w = malloc(rb * n);
        for (size_t i = 0; i < rb * n; i++) w[i] = (uint8_t)rnd_u32();
        for (int r = 0; r < n; r++)
            for (int b = 0; b < k / 32; b++) {
                uint8_t *blk = w + r * rb + b * plm_type_block_bytes(types[t]);
                wr16(blk, plm_fp32_to_fp16(0.01f * frand()));
                if (types[t] != PLM_TYPE_Q5_0) wr16(blk + 2, plm_fp32_to_fp16(0.1f * frand()));
            }
        plm_tensor tt = {"legacy.weight", types[t], 2, {k, n, 1, 1}, 0, rb * n, w, PLM_LAYOUT_ROWS};
        float x[9 * 96], y[9 * 5], y2[9 * 5], wd[96], rows[2 * 96];
        for (int i = 0; i < 9 * k; i++) x[i] = frand();
        for (int m = 1; m <= 9; m += 4) {
            CHECK_EQ_INT(op_matmul(y, &tt, NULL, x, m, k), PLM_OK);
            for (int r = 0; r < m; r++)
                for (int c = 0; c < n; c++) {
                    double ref, mag;
                    const float v = legacy_dot(types[t], w + c * rb, x + r * k, k, &ref, &mag);
                    CHECK_MSG(same_bits(y[r * n + c], v), "%s m=%d [%d][%d]: %.9g vs canonical %.9g",
                              plm_type_name(types[t]), m, r, c, y[r * n + c], v);
                    CHECK_MSG(fabs(v - ref) <= 1e-6 * mag + 1e-9, "%s: %.9g vs double %.9g", plm_type_name(types[t]), v, ref);
                }
#if PLM_HAVE_SIMD
            const int prev = ops_use_simd(0);
            CHECK_EQ_INT(op_matmul(y2, &tt, NULL, x, m, k), PLM_OK);
            ops_use_simd(prev);
            CHECK_MSG(memcmp(y, y2, sizeof(float) * m * n) == 0, "%s m=%d: SIMD differs from scalar", plm_type_name(types[t]), m);
#else
            (void)y2;
#endif
        }
        const int32_t ids[2] = {4, 1};
        CHECK_EQ_INT(op_get_rows(rows, &tt, ids, 2), PLM_OK);
        plm_dequantize_row(types[t], w + 4 * rb, wd, k);
        CHECK(memcmp(rows, wd, sizeof wd) == 0);
        free(w);
    }
    /* Q5_K get_rows */
    uint8_t *w = random_k_rows(PLM_TYPE_Q5_K, 3, 512);
    plm_tensor tk = {"q5k.weight", PLM_TYPE_Q5_K, 2, {512, 3, 1, 1}, 0, 3 * 352, w, PLM_LAYOUT_ROWS};
    float row[512], want[512];
    const int32_t id = 2;
    CHECK_EQ_INT(op_get_rows(row, &tk, &id, 1), PLM_OK);
    plm_dequantize_row(PLM_TYPE_Q5_K, w + 2 * 352, want, 512);
    CHECK(memcmp(row, want, sizeof want) == 0);
    free(w);
}

#if PLM_HAVE_SIMD
/* SIMD twins: the same bits as the scalar references. */
TEST(test_simd_twins) {
    for (int it = 0; it < 40; it++) {
        float x[1024];
        block_q8_K a[4], b[4];
        for (int i = 0; i < 1024; i++) x[i] = frand() * (it % 3 ? 1.0f : 1e-3f);
        if (it == 1) for (int i = 0; i < 1024; i++) x[i] = (float)((int)(rnd_u32() % 9) - 4) * 0.5f; /* ties */
        if (it == 2) memset(x + 256, 0, 256 * sizeof(float));
        quantize_row_q8_K_act_scalar(x, a, 1024);
        quantize_row_q8_K_act_simd(x, b, 1024);
        CHECK_MSG(memcmp(a, b, sizeof a) == 0, "q8_K bytes differ (iteration %d)", it);
        for (int t = 0; t < 3; t++) {
            uint8_t *w = random_k_rows(KTYPES[t], 1, 1024);
            const float s = dot_scalar(KTYPES[t], w, a, 1024);
            const float v = KTYPES[t] == PLM_TYPE_Q4_K   ? vec_dot_q4_K_q8_K_simd((const block_q4_K *)w, a, 1024)
                            : KTYPES[t] == PLM_TYPE_Q5_K ? vec_dot_q5_K_q8_K_simd((const block_q5_K *)w, a, 1024)
                                                         : vec_dot_q6_K_q8_K_simd((const block_q6_K *)w, a, 1024);
            CHECK_MSG(same_bits(s, v), "%s dot: scalar %.9g simd %.9g", plm_type_name(KTYPES[t]), s, v);
            free(w);
        }
    }
    /* whole matmuls, scalar vs SIMD entry points */
    for (int t = 0; t < 3; t++)
        for (int m = 1; m <= 9; m += 4) {
            uint8_t *w = random_k_rows(KTYPES[t], 6, 768);
            plm_tensor tt = {"k.weight", KTYPES[t], 2, {768, 6, 1, 1}, 0, plm_type_row_bytes(KTYPES[t], 768) * 6, w, PLM_LAYOUT_ROWS};
            float x[9 * 768], y0[9 * 6], y1[9 * 6];
            for (int i = 0; i < m * 768; i++) x[i] = frand();
            int prev = ops_use_simd(0);
            CHECK_EQ_INT(op_matmul(y0, &tt, NULL, x, m, 768), PLM_OK);
            ops_use_simd(1);
            CHECK_EQ_INT(op_matmul(y1, &tt, NULL, x, m, 768), PLM_OK);
            ops_use_simd(prev);
            CHECK_MSG(memcmp(y0, y1, sizeof(float) * m * 6) == 0, "%s matmul m=%d: SIMD differs",
                      plm_type_name(KTYPES[t]), m);
            free(w);
        }
    /* RoPE heads */
    for (int n_rot = 2; n_rot <= 70; n_rot += 4)
        for (int mode = 0; mode <= 2; mode += 2) {
            float v0[80], v1[80], cs[40], sn[40];
            for (int i = 0; i < 80; i++) v0[i] = v1[i] = frand();
            for (int i = 0; i < 40; i++) cs[i] = frand(), sn[i] = frand();
            rope_head_scalar(v0, cs, sn, n_rot, mode);
            rope_head_simd(v1, cs, sn, n_rot, mode);
            CHECK_MSG(memcmp(v0, v1, sizeof v0) == 0, "rope_head n_rot=%d mode=%d", n_rot, mode);
        }
}
#endif

/* ---------------------------------------------------------------- RoPE */

/* ggml rope_ext angles in double: theta_i = pos * scale * base^(-2i/n_rot) / ff_i. */
static void rope_ref(double *v, int n_head, int hd, int n_rot, int pos, double base, double scale, const float *ff,
                     int mode) {
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < n_rot / 2; i++) {
            double th = pos * scale * pow(base, -2.0 * i / n_rot) / (ff ? ff[i] : 1.0);
            const int a = mode == PLM_ROPE_NORM ? 2 * i : i, b = mode == PLM_ROPE_NORM ? 2 * i + 1 : i + n_rot / 2;
            double *x = v + h * hd;
            const double x0 = x[a], x1 = x[b];
            x[a] = x0 * cos(th) - x1 * sin(th);
            x[b] = x1 * cos(th) + x0 * sin(th);
        }
}

TEST(test_rope_ext) {
    enum { NH = 3, HD = 64 };
    float ff[32];
    for (int i = 0; i < 32; i++) ff[i] = i < 8 ? 1.0f : i < 24 ? 1.0f + 0.3f * (i - 8) : 8.0f;
    const struct { int n_rot, mode; float scale; const float *ff; } c[] = {
        {64, PLM_ROPE_NORM, 1.0f, NULL}, {64, PLM_ROPE_NEOX, 1.0f, NULL}, {64, PLM_ROPE_NORM, 1.0f, ff},
        {64, PLM_ROPE_NEOX, 1.0f, ff},   {32, PLM_ROPE_NEOX, 0.25f, NULL}, {64, PLM_ROPE_NORM, 0.5f, ff},
    };
    for (size_t t = 0; t < sizeof c / sizeof c[0]; t++) {
        float x[4 * NH * HD], x2[4 * NH * HD];
        double ref[4 * NH * HD];
        for (int i = 0; i < 4 * NH * HD; i++) x2[i] = x[i] = frand(), ref[i] = x[i];
        const op_rope_params p = {10000.0f, c[t].scale, c[t].ff, c[t].mode};
        const int pos0 = 37;
        CHECK_EQ_INT(op_rope_ext(x, 4, NH, HD, c[t].n_rot, pos0, &p), PLM_OK);
        double err = 0;
        for (int tok = 0; tok < 4; tok++) rope_ref(ref + tok * NH * HD, NH, HD, c[t].n_rot, pos0 + tok, 10000.0, c[t].scale, c[t].ff, c[t].mode);
        for (int i = 0; i < 4 * NH * HD; i++) err = fmax(err, fabs(x[i] - ref[i]));
        /* float32 angles: |theta| < 41 rad, so ~41 * 2^-24 of angle error */
        CHECK_MSG(err < 2e-5, "case %zu: max error %.3g", t, err);
        if (c[t].scale == 1.0f && !c[t].ff) { /* op_rope is op_rope_ext without extensions */
            CHECK_EQ_INT(op_rope(x2, 4, NH, HD, c[t].n_rot, pos0, 10000.0f, c[t].mode), PLM_OK);
            CHECK(memcmp(x, x2, sizeof x) == 0);
        }
    }
    /* errors */
    float x[HD];
    float bad_ff[32];
    for (int i = 0; i < 32; i++) bad_ff[i] = 1.0f;
    bad_ff[5] = 0.0f;
    op_rope_params p = {10000.0f, 1.0f, bad_ff, PLM_ROPE_NORM};
    plm_clear_error();
    CHECK_EQ_INT(op_rope_ext(x, 1, 1, HD, 64, 0, &p), PLM_E_INVALID);
    CHECK(strstr(plm_errmsg(), "factor") != NULL);
    p.freq_factors = NULL;
    p.freq_scale = 0.0f;
    CHECK_EQ_INT(op_rope_ext(x, 1, 1, HD, 64, 0, &p), PLM_E_INVALID);
    CHECK_EQ_INT(op_rope_ext(x, 1, 1, HD, 64, 0, NULL), PLM_E_INVALID);
}

int main(void) {
    *test_rng_state() = 0x2545F4914F6CDD1Dull;
    RUN(test_formats_roundtrip);
    RUN(test_k_dots_vs_double);
    RUN(test_q8_K_activations);
    RUN(test_k_matmul_canonical);
    RUN(test_kgemm_variants_bit_exact);
    RUN(test_legacy_matmul_and_rows);
#if PLM_HAVE_SIMD
    RUN(test_simd_twins);
#endif
    RUN(test_rope_ext);
    return test_summary();
}
