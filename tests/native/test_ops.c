/* test_ops.c — every kernel of ops.h against straightforward double-precision
 * references, on odd sizes; and, when built for WASM with SIMD128, every SIMD
 * twin against its scalar reference (bit-exact where ops.h promises it). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "json.h"
#include "ops.h"
#include "quant.h"
#include "test.h"
#include "threads.h"

/* ---------------------------------------------------------------- helpers */

static void fill(float *x, int n, float scale) {
    for (int i = 0; i < n; i++) x[i] = frand() * scale;
}

static int same_bits(float a, float b) {
    if (a != a && b != b) return 1;
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

static const int SIZES[] = {0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000};
#define N_SIZES (int)(sizeof SIZES / sizeof SIZES[0])

/* A weight matrix [n][k] of `type` built from src (K-quants: random valid blocks). */
typedef struct {
    plm_tensor t;
    void *buf;
    void *rows; /* the data in the file's row layout (t.data may be repacked) */
} wmat;

static void wmat_free(wmat *w) {
    if (w->t.data != w->buf) free(w->t.data);
    free(w->buf);
}

/* wmat_make, then t repacked for the GEMM (a copy; rows keeps the row layout). */
static int wmat_make_packed(wmat *w, int type, int n, int k, const float *src);

static int wmat_make(wmat *w, int type, int n, int k, const float *src) {
    memset(w, 0, sizeof *w);
    size_t rb = plm_type_row_bytes(type, k), bytes = rb * (size_t)n;
    w->buf = malloc(bytes ? bytes : 1);
    if (!w->buf) return 0;
    if (type == PLM_TYPE_Q4_K || type == PLM_TYPE_Q5_K || type == PLM_TYPE_Q6_K) {
        uint8_t *p = w->buf;
        for (size_t i = 0; i < bytes; i++) p[i] = (uint8_t)rnd_u32();
        for (int r = 0; r < n; r++)
            for (int b = 0; b < k / QK_K; b++) {
                uint8_t *blk = p + (size_t)r * rb + (size_t)b * plm_type_block_bytes(type);
                if (type == PLM_TYPE_Q4_K || type == PLM_TYPE_Q5_K) { /* same d, dmin header */
                    block_q4_K *q = (block_q4_K *)blk;
                    q->d = plm_fp32_to_fp16(0.002f + 0.001f * (float)(rnd_u32() % 8));
                    q->dmin = plm_fp32_to_fp16(0.001f * (float)(rnd_u32() % 8));
                } else {
                    block_q6_K *q = (block_q6_K *)blk;
                    q->d = plm_fp32_to_fp16(0.0005f + 0.0001f * (float)(rnd_u32() % 8));
                }
            }
    } else if (plm_quantize(type, src, w->buf, n, k) != bytes) {
        free(w->buf);
        return 0;
    }
    w->t.name = "test.weight";
    w->t.type = type;
    w->t.n_dims = 2;
    w->t.ne[0] = k;
    w->t.ne[1] = n;
    w->t.ne[2] = w->t.ne[3] = 1;
    w->t.nbytes = bytes;
    w->t.data = w->buf;
    w->rows = w->buf;
    return 1;
}

static int wmat_make_packed(wmat *w, int type, int n, int k, const float *src) {
    if (!wmat_make(w, type, n, k, src)) return 0;
    void *p = malloc(w->t.nbytes ? w->t.nbytes : 1);
    if (!p) return 0;
    memcpy(p, w->buf, w->t.nbytes);
    w->t.data = p;
    CHECK_EQ_INT(plm_tensor_pack_for_matmul(&w->t), PLM_OK);
    return 1;
}

/* Activations as the quantized kernels see them: Q8_0 blocks dequantized. */
static void act_q8_0_dequant(const float *x, float *out, int k) {
    block_q8_0 *q = malloc(sizeof(block_q8_0) * (size_t)(k / 32));
    quantize_row_q8_0_act_scalar(x, q, k);
    plm_dequantize_row(PLM_TYPE_Q8_0, q, out, k);
    free(q);
}

/* K-quants see Q8_K activations (256-value blocks): d * qs. */
static int k_act(int type) { return type == PLM_TYPE_Q4_K || type == PLM_TYPE_Q5_K || type == PLM_TYPE_Q6_K; }
static void act_q8_K_dequant(const float *x, float *out, int k) {
    block_q8_K *q = malloc(sizeof(block_q8_K) * (size_t)(k / QK_K));
    quantize_row_q8_K_act_scalar(x, q, k);
    for (int b = 0; b < k / QK_K; b++)
        for (int i = 0; i < QK_K; i++) out[b * QK_K + i] = q[b].d * q[b].qs[i];
    free(q);
}

static int quant_act(int type) { return type == PLM_TYPE_Q8_0 || type == PLM_TYPE_Q4_0 || k_act(type); }

/* The canonical per-element result (ops.h summation order). */
static float canonical_dot(const wmat *w, const float *x, int c, int k) {
    const uint8_t *row = (const uint8_t *)w->rows + (size_t)c * plm_type_row_bytes(w->t.type, k);
    switch (w->t.type) {
    case PLM_TYPE_F32: return vec_dot_f32_scalar((const float *)row, x, k);
    case PLM_TYPE_F16: return vec_dot_f16_scalar((const plm_fp16 *)row, x, k);
    case PLM_TYPE_BF16: return vec_dot_bf16_scalar((const uint16_t *)row, x, k);
    case PLM_TYPE_Q8_0:
    case PLM_TYPE_Q4_0: {
        block_q8_0 *q = malloc(sizeof(block_q8_0) * (size_t)(k / 32));
        quantize_row_q8_0_act_scalar(x, q, k);
        float v = w->t.type == PLM_TYPE_Q8_0 ? vec_dot_q8_0_q8_0_scalar((const block_q8_0 *)row, q, k)
                                             : vec_dot_q4_0_q8_0_scalar((const block_q4_0 *)row, q, k);
        free(q);
        return v;
    }
    case PLM_TYPE_Q4_K:
    case PLM_TYPE_Q5_K:
    case PLM_TYPE_Q6_K: {
        block_q8_K *q = malloc(sizeof(block_q8_K) * (size_t)(k / QK_K));
        quantize_row_q8_K_act_scalar(x, q, k);
        float v = w->t.type == PLM_TYPE_Q4_K   ? vec_dot_q4_K_q8_K_scalar((const block_q4_K *)row, q, k)
                  : w->t.type == PLM_TYPE_Q5_K ? vec_dot_q5_K_q8_K_scalar((const block_q5_K *)row, q, k)
                                               : vec_dot_q6_K_q8_K_scalar((const block_q6_K *)row, q, k);
        free(q);
        return v;
    }
    default: {
        float *t = malloc(sizeof(float) * (size_t)k);
        plm_dequantize_row(w->t.type, row, t, k);
        float v = vec_dot_f32_scalar(t, x, k);
        free(t);
        return v;
    }
    }
}

/* Check op_matmul for one (type, n, k, m): against (1) a double reference on the
 * dequantized weights (and, for Q8_0/Q4_0, the same quantized activations),
 * (2) for Q8_0/Q4_0 the unquantized activations with a rigorous bound on the
 * activation rounding, (3) the canonical scalar dot, bit for bit. */
static void check_matmul_layout(int type, int n, int k, int m, int with_bias, int packed) {
    float *W = malloc(sizeof(float) * (size_t)n * k), *x = malloc(sizeof(float) * (size_t)m * k);
    float *bias = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)m * n);
    float *wd = malloc(sizeof(float) * (size_t)k), *xq = malloc(sizeof(float) * (size_t)k);
    fill(W, n * k, 0.5f);
    fill(x, m * k, 2.0f);
    if (m * k > 3) x[3] = 0.0f;
    fill(bias, n, 1.0f);
    wmat w;
    CHECK(packed ? wmat_make_packed(&w, type, n, k, W) : wmat_make(&w, type, n, k, W));
    if (packed && (type == PLM_TYPE_Q8_0 || type == PLM_TYPE_Q4_0))
        CHECK_EQ_INT(w.t.layout, n >= 4 ? PLM_LAYOUT_PANEL4 : PLM_LAYOUT_ROWS);
    int rc = op_matmul(y, &w.t, with_bias ? bias : NULL, x, m, k);
    CHECK_EQ_INT(rc, PLM_OK);
    int bad = 0;
    for (int r = 0; r < m && !bad; r++) {
        const float *xr = x + (size_t)r * k;
        if (k_act(type)) act_q8_K_dequant(xr, xq, k);
        else if (quant_act(type)) act_q8_0_dequant(xr, xq, k);
        for (int c = 0; c < n && !bad; c++) {
            plm_dequantize_row(type, (const uint8_t *)w.rows + (size_t)c * plm_type_row_bytes(type, k), wd, k);
            double ref = 0, mag = 0, ref_unq = 0, qbound = 0;
            for (int i = 0; i < k; i++) {
                double xv = quant_act(type) ? xq[i] : xr[i];
                ref += (double)wd[i] * xv;
                mag += fabs((double)wd[i] * xv);
                ref_unq += (double)wd[i] * xr[i];
            }
            if (quant_act(type)) {
                const int bs = k_act(type) ? QK_K : 32;
                for (int b = 0; b < k / bs; b++) {
                    double amax = 0;
                    for (int i = 0; i < bs; i++) amax = fmax(amax, fabs(xr[b * bs + i]));
                    for (int i = 0; i < bs; i++)
                        qbound += fabs(wd[b * bs + i]) * (amax / 254.0 * 1.001 + fabs(xr[b * bs + i]) * 1e-3);
                }
            }
            double bv = with_bias ? bias[c] : 0.0;
            double got = y[(size_t)r * n + c];
            double tol = (k + 8) * 1.2e-7 * (mag + fabs(bv)) + 1e-30;
            if (fabs(got - (ref + bv)) > tol) {
                CHECK_MSG(0, "matmul %s n=%d k=%d m=%d [%d][%d]: %.9g vs ref %.9g (tol %.3g)",
                          plm_type_name(type), n, k, m, r, c, got, ref + bv, tol);
                bad = 1;
            }
            if (quant_act(type) && fabs(got - (ref_unq + bv)) > qbound + tol) {
                CHECK_MSG(0, "matmul %s n=%d k=%d m=%d [%d][%d]: %.9g vs unquantized %.9g (bound %.3g)",
                          plm_type_name(type), n, k, m, r, c, got, ref_unq + bv, qbound + tol);
                bad = 1;
            }
            float canon = canonical_dot(&w, xr, c, k);
            if (with_bias) canon += bias[c];
            if (!same_bits((float)got, canon)) {
                CHECK_MSG(0, "matmul %s n=%d k=%d m=%d [%d][%d]: %.9g differs from the canonical dot %.9g",
                          plm_type_name(type), n, k, m, r, c, got, canon);
                bad = 1;
            }
        }
    }
    wmat_free(&w);
    free(W), free(x), free(bias), free(y), free(wd), free(xq);
}

/* Every case in both layouts (the repack only changes Q8_0 / Q4_0 with n >= 4). */
static void check_matmul(int type, int n, int k, int m, int with_bias) {
    check_matmul_layout(type, n, k, m, with_bias, 1);
    if (type == PLM_TYPE_Q8_0 || type == PLM_TYPE_Q4_0) check_matmul_layout(type, n, k, m, with_bias, 0);
}

/* ------------------------------------------------------------------ matmul */

static const int MS[] = {1, 2, 3, 5, 8, 17};
#define N_MS (int)(sizeof MS / sizeof MS[0])

TEST(matmul_float_types) {
    const int types[] = {PLM_TYPE_F32, PLM_TYPE_F16, PLM_TYPE_BF16};
    const int ks[] = {1, 3, 4, 7, 8, 12, 31, 32, 33, 63, 65, 100, 257};
    const int ns[] = {1, 3, 4, 5, 9, 17};
    for (int t = 0; t < 3; t++)
        for (int a = 0; a < (int)(sizeof ks / sizeof ks[0]); a++)
            for (int b = 0; b < (int)(sizeof ns / sizeof ns[0]); b++)
                for (int c = 0; c < N_MS; c++) check_matmul(types[t], ns[b], ks[a], MS[c], (a + b + c) & 1);
}

/* The float GEMM (m > 1: GF_MR x GF_NR register tiles over packed panels, row
 * chunks) against the canonical dot for every m in 1..17, column counts around the
 * tile width, k with every k % 4, and a case whose activations span several row
 * chunks (check_matmul compares each output bit for bit). */
TEST(matmul_float_gemm_odd_sizes) {
    const int types[] = {PLM_TYPE_F32, PLM_TYPE_F16, PLM_TYPE_BF16};
    const int ks[] = {1, 2, 3, 4, 5, 13, 66, 131};
    const int ns[] = {1, 2, 3, 5, 7, 10};
    for (int t = 0; t < 3; t++) {
        for (int m = 1; m <= 17; m++)
            for (int a = 0; a < (int)(sizeof ks / sizeof ks[0]); a++)
                for (int b = 0; b < (int)(sizeof ns / sizeof ns[0]); b++) check_matmul(types[t], ns[b], ks[a], m, (m + a + b) & 1);
        check_matmul(types[t], 9, 1029, 70, 1); /* 70 rows x 1028 floats: more than one row chunk */
    }
}

TEST(matmul_quant_types) {
    const int types[] = {PLM_TYPE_Q8_0, PLM_TYPE_Q4_0};
    const int ks[] = {32, 64, 96, 256, 288};
    const int ns[] = {1, 2, 3, 4, 5, 9, 17};
    for (int t = 0; t < 2; t++)
        for (int a = 0; a < (int)(sizeof ks / sizeof ks[0]); a++)
            for (int b = 0; b < (int)(sizeof ns / sizeof ns[0]); b++)
                for (int c = 0; c < N_MS; c++) check_matmul(types[t], ns[b], ks[a], MS[c], (a + b + c) & 1);
}

/* The quantized GEMM: every m from 1 to 17 (token tiles of 4 and their tails),
 * panels with and without a row-layout tail, and (SIMD builds) every kernel
 * variant against the scalar one, bit for bit. */
TEST(qgemm_variants_bit_exact) {
#if PLM_HAVE_RELAXED
    printf("    relaxed i8 dot of this engine: %s\n",
           qgemm_relaxed_ok() ? "exact, relaxed kernels tested" : "WRONG (Node 20's V8?), SIMD128 kernels used");
#endif
    const int types[] = {PLM_TYPE_Q8_0, PLM_TYPE_Q4_0};
    const int ns[] = {4, 7, 13, 16};
    const int ks[] = {32, 160, 4096, 8224}; /* 8224: 257 blocks, more than one scale segment (QG_SEG) */
    for (int t = 0; t < 2; t++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) {
                const int n = ns[b], k = ks[a], mmax = k > 1000 ? 5 : 17;
                float *W = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * mmax * k);
                float *bias = malloc(sizeof(float) * n), *y0 = malloc(sizeof(float) * mmax * n);
                float *y1 = malloc(sizeof(float) * mmax * n);
                fill(W, n * k, 0.5f);
                fill(x, mmax * k, 3.0f);
                fill(bias, n, 1.0f);
                if (k > 40) x[33] = 0.0f, x[40] = -x[41]; /* a zero and a mixed-sign block */
                wmat w;
                CHECK(wmat_make_packed(&w, types[t], n, k, W));
                for (int m = 1; m <= mmax; m++) {
                    int prev = ops_use_simd(0);
                    CHECK_EQ_INT(op_matmul(y0, &w.t, (m & 1) ? bias : NULL, x, m, k), PLM_OK);
                    ops_use_simd(1);
                    CHECK_EQ_INT(op_matmul(y1, &w.t, (m & 1) ? bias : NULL, x, m, k), PLM_OK);
                    CHECK_MSG(!memcmp(y0, y1, sizeof(float) * m * n), "%s n=%d k=%d m=%d: SIMD differs from scalar",
                              plm_type_name(types[t]), n, k, m);
                    int prev_r = ops_use_relaxed(0);
                    CHECK_EQ_INT(op_matmul(y1, &w.t, (m & 1) ? bias : NULL, x, m, k), PLM_OK);
                    CHECK_MSG(!memcmp(y0, y1, sizeof(float) * m * n), "%s n=%d k=%d m=%d: SIMD128 differs from scalar",
                              plm_type_name(types[t]), n, k, m);
                    ops_use_relaxed(prev_r);
                    ops_use_simd(prev);
                    /* each row alone (decode) gives the same bits as inside the batch */
                    for (int r = 0; r < m; r += 3) {
                        float one[16];
                        CHECK_EQ_INT(op_matmul(one, &w.t, (m & 1) ? bias : NULL, x + (size_t)r * k, 1, k), PLM_OK);
                        CHECK_MSG(!memcmp(one, y1 + (size_t)r * n, sizeof(float) * n), "%s n=%d k=%d m=%d: row %d alone differs",
                                  plm_type_name(types[t]), n, k, m, r);
                    }
                }
                wmat_free(&w);
                free(W), free(x), free(bias), free(y0), free(y1);
            }
}

/* Q8_0 weight bytes the reference quantizer never writes but a file may hold:
 * every code -128..127, subnormal and zero scales (the relaxed kernel moves the activations' signs onto the
 * weights, and -(-128) does not fit in a byte), activations with blocks of all
 * signs and zeros; all variants against the scalar one, m = 1..17, rows not a
 * multiple of the panel height. */
TEST(qgemm_q8_0_all_weight_codes) {
    const int ns[] = {5, 9, 12};
    const int ks[] = {32, 96};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++) {
            const int n = ns[b], k = ks[a], nb = k / 32, mmax = 21; /* m >= QGEMM_WIDE_M: the relaxed wide kernel */
            wmat w;
            float *W = malloc(sizeof(float) * n * k);
            fill(W, n * k, 1.0f);
            CHECK(wmat_make(&w, PLM_TYPE_Q8_0, n, k, W));
            block_q8_0 *blk = (block_q8_0 *)w.buf;
            for (int i = 0; i < n * nb; i++) {
                /* normal scales, and fp16 subnormals of both signs and zeros (the SIMD
                 * kernels convert them without float arithmetic on subnormals) */
                const int kind = i % 6;
                blk[i].d = kind == 1   ? (plm_fp16)(0x0001 + (i * 37) % 0x3ff)
                           : kind == 3 ? (plm_fp16)(0x8000 | (0x3ff - i % 0x3ff))
                           : kind == 5 ? (plm_fp16)(i & 1 ? 0x8000 : 0)
                                       : plm_fp32_to_fp16(0.001f * (float)(1 + i % 7));
                for (int j = 0; j < 32; j++) blk[i].qs[j] = (int8_t)(i % 3 == 0 ? (j & 1 ? -128 : 127) : (int)(rnd_u32() & 255) - 128);
            }
            void *packed = malloc(w.t.nbytes);
            memcpy(packed, w.buf, w.t.nbytes);
            w.t.data = packed;
            CHECK_EQ_INT(plm_tensor_pack_for_matmul(&w.t), PLM_OK);
            float *x = malloc(sizeof(float) * mmax * k), *y0 = malloc(sizeof(float) * mmax * n);
            float *y1 = malloc(sizeof(float) * mmax * n);
            fill(x, mmax * k, 2.0f);
            for (int i = 0; i < 32; i++) x[i] = -1.0f - (float)i;  /* row 0 block 0: all negative */
            if (mmax * k > 96) for (int i = 64; i < 96; i++) x[i] = 0.0f; /* a zero block */
            for (int m = 1; m <= mmax; m++) {
                int prev = ops_use_simd(0);
                CHECK_EQ_INT(op_matmul(y0, &w.t, NULL, x, m, k), PLM_OK);
                ops_use_simd(1);
                CHECK_EQ_INT(op_matmul(y1, &w.t, NULL, x, m, k), PLM_OK);
                CHECK_MSG(!memcmp(y0, y1, sizeof(float) * m * n), "Q8_0 codes n=%d k=%d m=%d: SIMD differs from scalar", n, k, m);
                int prev_r = ops_use_relaxed(0);
                CHECK_EQ_INT(op_matmul(y1, &w.t, NULL, x, m, k), PLM_OK);
                CHECK_MSG(!memcmp(y0, y1, sizeof(float) * m * n), "Q8_0 codes n=%d k=%d m=%d: SIMD128 differs from scalar", n, k, m);
                ops_use_relaxed(prev_r);
                ops_use_simd(prev);
            }
            wmat_free(&w);
            free(W), free(x), free(y0), free(y1);
        }
}

/* The relaxed Q8_0 kernel for m >= QGEMM_WIDE_M (|w| as the 7-bit operand, panels
 * prepared in segments of QG_WSEG blocks, activations in L2-sized row chunks, a
 * flag for blocks with -128 codes): long rows (several segments) with some -128
 * codes, m across a record group and, at m = 117, two row chunks (QG_WCHUNK_BYTES =
 * 512 KB holds 112 rows of k = 4128: chunks of 60 and 57 rows); every variant against
 * the scalar one, and each row alone (m = 1) against the batch. */
TEST(qgemm_wide_segments_and_chunks) {
    enum { MMAX = 117 };
    const int k = 4128, nb = k / 32, n = 9, ms[] = {16, 19, 33, MMAX};
    float *W = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * MMAX * k);
    float *bias = malloc(sizeof(float) * n), *y0 = malloc(sizeof(float) * MMAX * n), *y1 = malloc(sizeof(float) * MMAX * n);
    fill(W, n * k, 0.5f);
    fill(x, MMAX * k, 3.0f);
    fill(bias, n, 1.0f);
    wmat w;
    CHECK(wmat_make(&w, PLM_TYPE_Q8_0, n, k, W));
    block_q8_0 *blk = (block_q8_0 *)w.buf;
    for (int i = 0; i < n * nb; i += 37) blk[i].qs[i % 32] = -128, blk[i].qs[(i + 5) % 32] = -128;
    void *packed = malloc(w.t.nbytes);
    memcpy(packed, w.buf, w.t.nbytes);
    w.t.data = packed;
    CHECK_EQ_INT(plm_tensor_pack_for_matmul(&w.t), PLM_OK);
    for (int c = 0; c < 4; c++) {
        const int m = ms[c];
        int prev = ops_use_simd(0);
        CHECK_EQ_INT(op_matmul(y0, &w.t, bias, x, m, k), PLM_OK);
        ops_use_simd(1);
        CHECK_EQ_INT(op_matmul(y1, &w.t, bias, x, m, k), PLM_OK);
        CHECK_MSG(!memcmp(y0, y1, sizeof(float) * m * n), "Q8_0 k=%d m=%d: SIMD differs from scalar", k, m);
        int prev_r = ops_use_relaxed(0);
        CHECK_EQ_INT(op_matmul(y1, &w.t, bias, x, m, k), PLM_OK);
        CHECK_MSG(!memcmp(y0, y1, sizeof(float) * m * n), "Q8_0 k=%d m=%d: SIMD128 differs from scalar", k, m);
        ops_use_relaxed(prev_r);
        ops_use_simd(prev);
        for (int r = 0; r < m; r += 7) {
            float one[9];
            CHECK_EQ_INT(op_matmul(one, &w.t, bias, x + (size_t)r * k, 1, k), PLM_OK);
            CHECK_MSG(!memcmp(one, y0 + (size_t)r * n, sizeof one), "Q8_0 k=%d m=%d: row %d alone differs", k, m, r);
        }
    }
    wmat_free(&w);
    free(W), free(x), free(bias), free(y0), free(y1);
}

/* The relaxed wide Q8_0 kernel's token tiles (8 activation rows, then 4-row tails):
 * every m from QGEMM_WIDE_M - 1 to 41 (tiles of 8 with tails of 1..7), rows not a
 * multiple of the panel height, short and odd block counts, with and without bias;
 * every variant against the scalar one, bit for bit. */
TEST(qgemm_wide_token_tiles) {
    const int ns[] = {5, 12}, ks[] = {32, 288};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            const int n = ns[b], k = ks[a], mmax = 41;
            float *W = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * mmax * k);
            float *bias = malloc(sizeof(float) * n), *y0 = malloc(sizeof(float) * mmax * n);
            float *y1 = malloc(sizeof(float) * mmax * n);
            fill(W, n * k, 0.5f);
            fill(x, mmax * k, 3.0f);
            fill(bias, n, 1.0f);
            wmat w;
            CHECK(wmat_make_packed(&w, PLM_TYPE_Q8_0, n, k, W));
            for (int m = QGEMM_WIDE_M - 1; m <= mmax; m++) {
                const float *bs = (m & 1) ? bias : NULL;
                int prev = ops_use_simd(0);
                CHECK_EQ_INT(op_matmul(y0, &w.t, bs, x, m, k), PLM_OK);
                ops_use_simd(1);
                CHECK_EQ_INT(op_matmul(y1, &w.t, bs, x, m, k), PLM_OK);
                CHECK_MSG(!memcmp(y0, y1, sizeof(float) * m * n), "Q8_0 n=%d k=%d m=%d: SIMD differs from scalar", n, k, m);
                int prev_r = ops_use_relaxed(0);
                CHECK_EQ_INT(op_matmul(y1, &w.t, bs, x, m, k), PLM_OK);
                CHECK_MSG(!memcmp(y0, y1, sizeof(float) * m * n), "Q8_0 n=%d k=%d m=%d: SIMD128 differs from scalar", n, k, m);
                ops_use_relaxed(prev_r);
                ops_use_simd(prev);
            }
            wmat_free(&w);
            free(W), free(x), free(bias), free(y0), free(y1);
        }
}

/* op_matmul_shared (Q/K/V, gate/up: one input, several weights) against separate
 * op_matmul calls, bit for bit: every quantized type with shared activations
 * (Q8_0 with -128 codes, Q4_0; packed and row layout), float types and a mixed
 * set (no sharing), with and without biases, m = 1..17 and 33, odd n; in every
 * variant (scalar, SIMD, SIMD128 only in relaxed builds). */
TEST(matmul_shared_input) {
    enum { K = 96, NW = 3, MMAX = 33 };
    const int sets[][NW] = {{PLM_TYPE_Q8_0, PLM_TYPE_Q8_0, PLM_TYPE_Q8_0},
                            {PLM_TYPE_Q4_0, PLM_TYPE_Q4_0, PLM_TYPE_Q4_0},
                            {PLM_TYPE_F16, PLM_TYPE_F32, PLM_TYPE_F16},
                            {PLM_TYPE_Q8_0, PLM_TYPE_Q4_0, PLM_TYPE_Q8_0}};
    const int ns[NW] = {13, 4, 7};
    float *x = malloc(sizeof(float) * MMAX * K);
    fill(x, MMAX * K, 2.0f);
    for (int st = 0; st < 4; st++)
        for (int packed = 0; packed < 2; packed++) {
            wmat w[NW];
            float *bias[NW], *ys[NW], *ref[NW];
            const plm_tensor *ws[NW];
            for (int i = 0; i < NW; i++) {
                float *W = malloc(sizeof(float) * ns[i] * K);
                fill(W, ns[i] * K, 0.5f);
                CHECK(wmat_make(&w[i], sets[st][i], ns[i], K, W));
                free(W);
                if (sets[st][i] == PLM_TYPE_Q8_0) { /* codes the quantizer never writes, -128 included */
                    block_q8_0 *blk = (block_q8_0 *)w[i].buf;
                    for (int b = 0; b < ns[i] * K / 32; b += 2)
                        for (int j = 0; j < 32; j++) blk[b].qs[j] = (int8_t)((int)(rnd_u32() & 255) - 128);
                }
                if (packed) {
                    void *p = malloc(w[i].t.nbytes);
                    memcpy(p, w[i].buf, w[i].t.nbytes);
                    w[i].t.data = p;
                    CHECK_EQ_INT(plm_tensor_pack_for_matmul(&w[i].t), PLM_OK);
                }
                ws[i] = &w[i].t;
                bias[i] = malloc(sizeof(float) * ns[i]);
                fill(bias[i], ns[i], 1.0f);
                ys[i] = malloc(sizeof(float) * MMAX * ns[i]);
                ref[i] = malloc(sizeof(float) * MMAX * ns[i]);
            }
            for (int m = 1; m <= MMAX; m += m < 17 ? 1 : 16)
                for (int v = 0; v < 3; v++) {
                    const int prev = ops_use_simd(v > 0), prev_r = ops_use_relaxed(v == 2);
                    const float *const *bs = (m & 1) ? (const float *const *)bias : NULL;
                    for (int i = 0; i < NW; i++) CHECK_EQ_INT(op_matmul(ref[i], ws[i], bs ? bs[i] : NULL, x, m, K), PLM_OK);
                    for (int i = 0; i < NW; i++) memset(ys[i], 0xff, sizeof(float) * m * ns[i]);
                    CHECK_EQ_INT(op_matmul_shared(ys, ws, bs, NW, x, m, K), PLM_OK);
                    for (int i = 0; i < NW; i++)
                        CHECK_MSG(!memcmp(ys[i], ref[i], sizeof(float) * m * ns[i]),
                                  "shared set %d packed %d m=%d variant %d: output %d differs from op_matmul", st, packed,
                                  m, v, i);
                    ops_use_relaxed(prev_r);
                    ops_use_simd(prev);
                }
            for (int i = 0; i < NW; i++) {
                wmat_free(&w[i]);
                free(bias[i]), free(ys[i]), free(ref[i]);
            }
        }
    /* errors name the matrix; count 0 is nothing to do */
    wmat w;
    float W[32 * 4], y[8];
    fill(W, 32 * 4, 1.0f);
    CHECK(wmat_make(&w, PLM_TYPE_Q8_0, 4, 32, W));
    const plm_tensor *ws[2] = {&w.t, &w.t};
    float *ys[2] = {y, y};
    CHECK_EQ_INT(op_matmul_shared(ys, ws, NULL, 2, x, 1, 64), PLM_E_INVALID);
    CHECK_EQ_INT(op_matmul_shared(ys, ws, NULL, 0, x, 1, 32), PLM_OK);
    CHECK_EQ_INT(op_matmul_shared(ys, ws, NULL, 2, x, 1, 32), PLM_OK);
    wmat_free(&w);
    free(x);
}

TEST(matmul_k_quants) {
    const int types[] = {PLM_TYPE_Q4_K, PLM_TYPE_Q5_K, PLM_TYPE_Q6_K};
    for (int t = 0; t < 3; t++)
        for (int c = 0; c < N_MS; c++) {
            check_matmul(types[t], 5, 256, MS[c], 1);
            check_matmul(types[t], 3, 512, MS[c], 0);
        }
}

TEST(matmul_larger) {
    /* bigger than one tile / row chunk in every direction, and the thread split */
    check_matmul(PLM_TYPE_F32, 37, 300, 33, 1);
    check_matmul(PLM_TYPE_F16, 37, 300, 33, 0);
    check_matmul(PLM_TYPE_Q8_0, 70, 1024, 19, 1);
    check_matmul(PLM_TYPE_Q4_0, 70, 1024, 19, 0);
    check_matmul(PLM_TYPE_Q4_0, 257, 4096, 1, 1);
}

/* F16 weights holding zeros, subnormals, Inf and NaN take the exact path. */
TEST(matmul_f16_special_values) {
    const int k = 40, n = 6;
    plm_fp16 *h = malloc(sizeof(plm_fp16) * n * k);
    for (int i = 0; i < n * k; i++) h[i] = plm_fp32_to_fp16(frand());
    h[0 * k + 5] = 0x0001;                /* smallest subnormal */
    h[1 * k + 9] = 0x83ff;                /* negative subnormal */
    h[2 * k + 17] = 0x0000;               /* zero */
    h[3 * k + 33] = 0x7c00;               /* +Inf */
    h[4 * k + 1] = 0x7e01;                /* NaN */
    h[5 * k + 38] = 0x8000;               /* -0 in the k % 8 tail */
    plm_tensor t = {"f16.special", PLM_TYPE_F16, 2, {k, n, 1, 1}, 0, sizeof(plm_fp16) * n * k, h, PLM_LAYOUT_ROWS};
    for (int m = 1; m <= 5; m += 2) {
        float x[5 * 40], y[5 * 6];
        fill(x, m * k, 1.0f);
        CHECK_EQ_INT(op_matmul(y, &t, NULL, x, m, k), PLM_OK);
        for (int r = 0; r < m; r++)
            for (int c = 0; c < n; c++) {
                float ref = vec_dot_f16_scalar(h + c * k, x + r * k, k);
                CHECK_MSG(same_bits(y[r * n + c], ref), "m=%d [%d][%d] %.9g vs %.9g", m, r, c, y[r * n + c], ref);
            }
        CHECK(isinf(y[3]) || isnan(y[3]));
        CHECK(isnan(y[4]));
    }
    free(h);
}

TEST(matmul_errors) {
    float W[64 * 4], x[64 * 2], y[8];
    fill(W, 64 * 4, 1.0f);
    fill(x, 128, 1.0f);
    wmat w;
    CHECK(wmat_make(&w, PLM_TYPE_Q8_0, 4, 64, W));
    plm_clear_error();
    CHECK_EQ_INT(op_matmul(y, &w.t, NULL, x, 2, 32), PLM_E_INVALID); /* k mismatch */
    CHECK(strlen(plm_errmsg()) > 0);
    plm_tensor bad = w.t;
    bad.ne[0] = 48; /* not a whole number of blocks */
    CHECK_EQ_INT(op_matmul(y, &bad, NULL, x, 1, 48), PLM_E_INVALID);
    CHECK(strstr(plm_errmsg(), "multiple") != NULL);
    bad = w.t;
    bad.type = PLM_TYPE_Q8_1; /* named, no kernels */
    CHECK_EQ_INT(op_matmul(y, &bad, NULL, x, 1, 64), PLM_E_UNSUPPORTED);
    bad = w.t;
    bad.data = NULL;
    CHECK_EQ_INT(op_matmul(y, &bad, NULL, x, 1, 64), PLM_E_INVALID);
    CHECK_EQ_INT(op_matmul(y, NULL, NULL, x, 1, 64), PLM_E_INVALID);
    CHECK_EQ_INT(op_matmul(y, &w.t, NULL, x, -1, 64), PLM_E_INVALID);
    bad = w.t;
    bad.ne[2] = 2;
    CHECK_EQ_INT(op_matmul(y, &bad, NULL, x, 1, 64), PLM_E_INVALID);
    CHECK_EQ_INT(op_matmul(y, &w.t, NULL, x, 0, 64), PLM_OK); /* m == 0: nothing to do */
    wmat_free(&w);
}

/* ---------------------------------------------------------------- get_rows */

TEST(get_rows_all_types) {
    const int types[] = {PLM_TYPE_F32, PLM_TYPE_F16, PLM_TYPE_BF16, PLM_TYPE_Q8_0, PLM_TYPE_Q4_0,
                         PLM_TYPE_Q4_K, PLM_TYPE_Q6_K};
    for (int t = 0; t < 7; t++) {
        const int k = types[t] == PLM_TYPE_Q4_K || types[t] == PLM_TYPE_Q6_K ? 256
                      : types[t] <= PLM_TYPE_F16 || types[t] == PLM_TYPE_BF16 ? 37
                                                                               : 96;
        const int n = 9;
        float *W = malloc(sizeof(float) * n * k), *out = malloc(sizeof(float) * 4 * k), *ref = malloc(sizeof(float) * k);
        fill(W, n * k, 1.0f);
        wmat w;
        CHECK(wmat_make_packed(&w, types[t], n, k, W)); /* Q8_0 / Q4_0: 2 panels and a row-layout tail row */
        int32_t ids[4] = {8, 0, 3, 6};
        CHECK_EQ_INT(op_get_rows(out, &w.t, ids, 4), PLM_OK);
        for (int i = 0; i < 4; i++) {
            plm_dequantize_row(types[t], (const uint8_t *)w.rows + ids[i] * plm_type_row_bytes(types[t], k), ref, k);
            int ok = 1;
            for (int j = 0; j < k; j++) ok &= same_bits(out[i * k + j], ref[j]);
            CHECK_MSG(ok, "get_rows %s row %d", plm_type_name(types[t]), ids[i]);
        }
        int32_t bad_ids[2] = {1, 9};
        CHECK_EQ_INT(op_get_rows(out, &w.t, bad_ids, 2), PLM_E_INVALID);
        bad_ids[1] = -1;
        CHECK_EQ_INT(op_get_rows(out, &w.t, bad_ids, 2), PLM_E_INVALID);
        CHECK_EQ_INT(op_get_rows(out, &w.t, ids, 0), PLM_OK);
        wmat_free(&w);
        free(W), free(out), free(ref);
    }
}

/* -------------------------------------------------- activation quantization */

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

TEST(quantize_act_golden_bytes) {
    size_t len;
    char *text = test_read_file("tests/fixtures/quant_vectors.json", &len);
    CHECK(text != NULL);
    if (!text) return;
    json_value *root = json_parse(text, len);
    json_value *vecs = json_get(root, "vectors");
    CHECK(vecs && vecs->n >= 8);
    for (size_t v = 0; vecs && v < vecs->n; v++) {
        const char *fhex = json_get(vecs->arr[v], "values_f32_hex")->str;
        const char *qhex = json_get(json_get(vecs->arr[v], "Q8_0"), "bytes_hex")->str;
        float x[64];
        uint8_t xb[256], want[68];
        for (int i = 0; i < 256; i++) xb[i] = (uint8_t)(hexval(fhex[2 * i]) * 16 + hexval(fhex[2 * i + 1]));
        memcpy(x, xb, sizeof x);
        for (int i = 0; i < 68; i++) want[i] = (uint8_t)(hexval(qhex[2 * i]) * 16 + hexval(qhex[2 * i + 1]));
        block_q8_0 q[2];
        quantize_row_q8_0_act_scalar(x, q, 64);
        CHECK_MSG(!memcmp(q, want, 68), "scalar Q8_0 activations differ from golden bytes (vector %zu, %s)", v,
                  json_get(vecs->arr[v], "kind")->str);
#if PLM_HAVE_SIMD
        quantize_row_q8_0_act_simd(x, q, 64);
        CHECK_MSG(!memcmp(q, want, 68), "SIMD Q8_0 activations differ from golden bytes (vector %zu)", v);
#endif
    }
    json_free(root);
    free(text);
}

TEST(quantize_act_matches_reference_quantizer) {
    float x[32 * 40];
    for (int rep = 0; rep < 3; rep++) {
        fill(x, 32 * 40, rep == 0 ? 1.0f : rep == 1 ? 1000.0f : 1e-6f);
        /* exact ties: multiples of amax/254 */
        for (int i = 0; i < 32; i++) x[32 + i] = (float)(i - 16) * 0.5f;
        block_q8_0 a[40], b[40];
        quantize_row_q8_0_act_scalar(x, a, 32 * 40);
        plm_quantize_row_q8_0(x, b, 32 * 40);
        CHECK(!memcmp(a, b, sizeof a));
#if PLM_HAVE_SIMD
        quantize_row_q8_0_act_simd(x, b, 32 * 40);
        CHECK(!memcmp(a, b, sizeof a));
        /* the widened form holds the same numbers */
        int16_t qw[32 * 40];
        float d[40];
        int32_t s8[40 * 4];
        quantize_rows_q8_0_wide_simd(x, 1, 32 * 40, qw, d, s8);
        int ok = 1;
        for (int i = 0; i < 32 * 40; i++) ok &= qw[i] == a[i / 32].qs[i % 32];
        for (int i = 0; i < 40; i++) ok &= same_bits(d[i], plm_fp16_to_fp32(a[i].d));
        for (int i = 0; i < 40; i++)
            for (int l = 0; l < 4; l++) {
                int32_t sum = 0;
                for (int j = 0; j < 32; j++)
                    if ((j / 2) % 4 == l) sum += a[i].qs[j];
                ok &= s8[i * 4 + l] == 8 * sum;
            }
        CHECK(ok);
#endif
    }
}

/* Activation rounding at its edges: blocks whose amax is 127 (d = 1, x / d = x exactly) holding
 * halves, the floats next to them (0.5 - 2^-25 must not round up) and signed zeros; the SIMD
 * quantizer against the scalar one (roundf), odd block counts. */
TEST(quantize_act_rounding_edges) {
    static const float edge[] = {0.5f, 0.49999997f, 0.50000006f, 1.5f, 1.4999999f, 1.5000001f, 2.5f, 2.4999998f,
                                 126.5f, 126.49999f, 125.5f, 63.5f, 0.25f, 0.75f, 1e-30f, 0.0f, 3.5f, 4.5f};
    enum { NB = 5 };
    float x[32 * NB];
    for (int b = 0; b < NB; b++)
        for (int i = 0; i < 32; i++) {
            const float e = edge[(b * 7 + i) % (int)(sizeof edge / sizeof *edge)];
            x[32 * b + i] = i == b ? (b % 2 ? -127.0f : 127.0f) : ((i + b) % 3 == 0 ? -e : e);
        }
    block_q8_0 a[NB], b[NB];
    quantize_row_q8_0_act_scalar(x, a, 32 * NB);
    plm_quantize_row_q8_0(x, b, 32 * NB);
    CHECK(!memcmp(a, b, sizeof a));
    CHECK_EQ_INT(a[0].qs[1], (int)roundf(x[1])); /* d = 1 really */
#if PLM_HAVE_SIMD
    quantize_row_q8_0_act_simd(x, b, 32 * NB);
    CHECK_MSG(!memcmp(a, b, sizeof a), "SIMD activation rounding differs from roundf");
#endif
    /* an Inf, then a NaN, in one block (amax Inf / NaN: the scalar and SIMD quantizers agree) */
    for (int c = 0; c < 2; c++) {
        float y[32];
        fill(y, 32, 2.0f);
        y[5] = c ? NAN : -INFINITY;
        y[9] = 1e30f;
        quantize_row_q8_0_act_scalar(y, a, 32);
        CHECK_MSG(c == 0 || (a[0].d & 0x7fff) == 0x7e00, "NaN amax: d = %04x", a[0].d);
#if PLM_HAVE_SIMD
        quantize_row_q8_0_act_simd(y, b, 32);
        CHECK_MSG(!memcmp(a[0].qs, b[0].qs, 32) && (a[0].d & 0x7fff) == (b[0].d & 0x7fff),
                  "SIMD quantizer differs with %s in the block", c ? "a NaN" : "an Inf");
#endif
    }
}

/* Bidirectional attention (encoders: every query sees every key, so op_attention takes the
 * queries of a head two at a time) against each query row alone, bit for bit, in both
 * backends: odd query counts, grouped heads, head sizes with and without a 4-tail, a mask. */
TEST(attention_query_pairs_match_rows) {
    const int hds[] = {8, 6, 32}, nqs[] = {1, 2, 7}, nkv = 11;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int m = 0; m < 2; m++) {
                const int hd = hds[a], nq = nqs[b], nh = 4, nkh = 2, qs = nh * hd + 1, ks = nkh * hd + 2;
                float *q = malloc(sizeof(float) * nq * qs), *k = malloc(sizeof(float) * nkv * ks);
                float *v = malloc(sizeof(float) * nkv * ks), *o1 = malloc(sizeof(float) * nq * qs);
                float *o2 = malloc(sizeof(float) * nq * qs), mask[11];
                fill(q, nq * qs, 1.0f);
                fill(k, nkv * ks, 1.0f);
                fill(v, nkv * ks, 1.0f);
                for (int j = 0; j < nkv; j++) mask[j] = j % 4 == 1 ? -INFINITY : 0.0f;
                memset(o1, 0, sizeof(float) * nq * qs);
                memset(o2, 0, sizeof(float) * nq * qs);
                op_attn_params p;
                memset(&p, 0, sizeof p);
                p.n_head = nh, p.n_head_kv = nkh, p.head_dim = hd, p.scale = 0.3f, p.mask = m ? mask : NULL;
                for (int simd = 0; simd < 2; simd++) {
                    int prev = ops_use_simd(simd);
                    CHECK_EQ_INT(op_attention(o1, qs, q, qs, k, v, ks, nq, nkv, &p), PLM_OK);
                    for (int i = 0; i < nq; i++)
                        CHECK_EQ_INT(op_attention(o2 + (size_t)i * qs, qs, q + (size_t)i * qs, qs, k, v, ks, 1, nkv, &p), PLM_OK);
                    ops_use_simd(prev);
                    CHECK_MSG(!memcmp(o1, o2, sizeof(float) * nq * qs), "attention pairs vs rows: hd=%d nq=%d mask=%d simd=%d",
                              hd, nq, m, simd);
                }
                free(q), free(k), free(v), free(o1), free(o2);
            }
}

/* ------------------------------------------------------------------ row ops */

TEST(layernorm_vs_double) {
    for (int s = 0; s < N_SIZES; s++) {
        const int n = SIZES[s], m = 3;
        float *x = malloc(sizeof(float) * (m * n + 1)), *y = malloc(sizeof(float) * (m * n + 1));
        float *w = malloc(sizeof(float) * (n + 1)), *b = malloc(sizeof(float) * (n + 1));
        fill(x, m * n, 3.0f);
        for (int i = 0; i < m * n; i++) x[i] += 5.0f; /* offset mean */
        fill(w, n, 1.0f);
        fill(b, n, 1.0f);
        for (int variant = 0; variant < 2; variant++) {
            const float *wv = variant ? NULL : w, *bv = variant ? NULL : b;
            op_layernorm(y, x, wv, bv, m, n, 1e-5f);
            for (int r = 0; r < m; r++) {
                double mean = 0, var = 0;
                for (int i = 0; i < n; i++) mean += x[r * n + i];
                mean /= n;
                for (int i = 0; i < n; i++) var += (x[r * n + i] - mean) * (x[r * n + i] - mean);
                var /= n;
                int ok = 1;
                /* float rounding of x - mean (|x| ~ 8) is amplified by 1/sqrt(var + eps) when a
                 * short row happens to have a tiny variance */
                double amax = 0;
                for (int i = 0; i < n; i++) amax = fmax(amax, fabs(x[r * n + i]));
                const double cancel = 8 * FLT_EPSILON * amax / sqrt(var + 1e-5);
                for (int i = 0; i < n; i++) {
                    const double wi = wv ? fabs(wv[i]) : 1.0;
                    double ref = (x[r * n + i] - mean) / sqrt(var + 1e-5) * (wv ? wv[i] : 1.0) + (bv ? bv[i] : 0.0);
                    ok &= fabs(y[r * n + i] - ref) <= 2e-5 * (1 + fabs(ref)) + cancel * wi;
                }
                CHECK_MSG(ok, "layernorm n=%d row %d", n, r);
            }
        }
        /* in place */
        memcpy(y, x, sizeof(float) * m * n);
        float *y2 = malloc(sizeof(float) * (m * n + 1));
        op_layernorm(y2, x, w, b, m, n, 1e-5f);
        op_layernorm(y, y, w, b, m, n, 1e-5f);
        CHECK(!memcmp(y, y2, sizeof(float) * m * n));
        free(y2), free(x), free(y), free(w), free(b);
    }
}

TEST(rmsnorm_vs_double) {
    for (int s = 0; s < N_SIZES; s++) {
        const int n = SIZES[s], m = 2;
        float *x = malloc(sizeof(float) * (m * n + 1)), *y = malloc(sizeof(float) * (m * n + 1)), *w = malloc(sizeof(float) * (n + 1));
        fill(x, m * n, 4.0f);
        fill(w, n, 1.0f);
        for (int variant = 0; variant < 2; variant++) {
            const float *wv = variant ? NULL : w;
            op_rmsnorm(y, x, wv, m, n, 1e-6f);
            for (int r = 0; r < m; r++) {
                double ss = 0;
                for (int i = 0; i < n; i++) ss += (double)x[r * n + i] * x[r * n + i];
                double inv = 1.0 / sqrt(ss / n + 1e-6);
                int ok = 1;
                for (int i = 0; i < n; i++) {
                    double ref = x[r * n + i] * inv * (wv ? wv[i] : 1.0);
                    ok &= fabs(y[r * n + i] - ref) <= 1e-5 * (1 + fabs(ref));
                }
                CHECK_MSG(ok, "rmsnorm n=%d row %d", n, r);
            }
        }
        free(x), free(y), free(w);
    }
}

TEST(softmax_vs_double) {
    for (int s = 0; s < N_SIZES; s++) {
        const int n = SIZES[s], m = 3;
        float *x = malloc(sizeof(float) * (m * n + 1)), *y = malloc(sizeof(float) * (m * n + 1));
        fill(x, m * n, 20.0f);
        if (n > 2) x[1] = -INFINITY, x[n + 2] = -INFINITY; /* masked entries */
        for (int i = 0; i < n; i++) x[2 * n + i] = -INFINITY; /* a fully masked row */
        memcpy(y, x, sizeof(float) * m * n);
        op_softmax(y, m, n);
        for (int r = 0; r < 2; r++) {
            double max = -INFINITY, sum = 0;
            for (int i = 0; i < n; i++) max = fmax(max, x[r * n + i]);
            for (int i = 0; i < n; i++) sum += exp(x[r * n + i] - max);
            int ok = 1;
            for (int i = 0; i < n; i++) {
                double ref = exp(x[r * n + i] - max) / sum;
                /* x - max is rounded in float: relative error up to ulp(|x - max|) */
                if (x[r * n + i] == -INFINITY)
                    ok &= y[r * n + i] == 0.0f;
                else
                    ok &= fabs(y[r * n + i] - ref) <= (1e-6 + 1.2e-7 * fabs(x[r * n + i] - max)) * ref + 1e-30;
            }
            CHECK_MSG(ok, "softmax n=%d row %d", n, r);
        }
        int zeros = 1;
        for (int i = 0; i < n; i++) zeros &= y[2 * n + i] == 0.0f;
        CHECK_MSG(zeros, "softmax n=%d: all -inf row must give zeros", n);
        free(x), free(y);
    }
    float big[3] = {1e30f, 1e30f, -1e30f};
    op_softmax(big, 1, 3);
    CHECK_NEAR(big[0], 0.5, 1e-7);
    CHECK(big[2] == 0.0f);
}

/* ------------------------------------------------------------- element-wise */

static double gelu_tanh_d(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x))); }
static double gelu_erf_d(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double silu_d(double x) { return x / (1 + exp(-x)); }

/* Inputs covering the interesting ranges, including saturation. */
static void act_inputs(float *x, int n) {
    for (int i = 0; i < n; i++) {
        switch (i % 5) {
        case 0: x[i] = frand() * 1.0f; break;
        case 1: x[i] = frand() * 6.0f; break;
        case 2: x[i] = frand() * 30.0f; break;
        case 3: x[i] = frand() * 1e-3f; break;
        default: x[i] = frand() * 120.0f; break;
        }
    }
}

/* |err| <= 2e-7 |x| + 3e-7 |y|: covers an erf/tanh good to ~1e-7 plus rounding. */
static int act_close(float got, double ref, double x) {
    return fabs(got - ref) <= 2e-7 * fabs(x) + 3e-7 * fabs(ref) + 1e-37;
}

TEST(activations_vs_double) {
    for (int s = 0; s < N_SIZES; s++) {
        const int n = SIZES[s];
        float *x = malloc(sizeof(float) * (n + 1)), *u = malloc(sizeof(float) * (n + 1)), *y = malloc(sizeof(float) * (n + 1));
        act_inputs(x, n);
        fill(u, n, 2.0f);
        int ok[5] = {1, 1, 1, 1, 1};
        op_gelu_tanh(y, x, n);
        for (int i = 0; i < n; i++) ok[0] &= act_close(y[i], gelu_tanh_d(x[i]), x[i]);
        op_gelu_erf(y, x, n);
        for (int i = 0; i < n; i++) ok[1] &= act_close(y[i], gelu_erf_d(x[i]), x[i]);
        op_silu(y, x, n);
        for (int i = 0; i < n; i++) ok[2] &= act_close(y[i], silu_d(x[i]), x[i]);
        op_swiglu(y, x, u, n);
        for (int i = 0; i < n; i++) ok[3] &= act_close(y[i], silu_d(x[i]) * u[i], x[i] * u[i]);
        op_geglu_tanh(y, x, u, n);
        for (int i = 0; i < n; i++) ok[4] &= act_close(y[i], gelu_tanh_d(x[i]) * u[i], x[i] * u[i]);
        CHECK_MSG(ok[0], "gelu_tanh n=%d", n);
        CHECK_MSG(ok[1], "gelu_erf n=%d", n);
        CHECK_MSG(ok[2], "silu n=%d", n);
        CHECK_MSG(ok[3], "swiglu n=%d", n);
        CHECK_MSG(ok[4], "geglu_tanh n=%d", n);
        free(x), free(u), free(y);
    }
    /* special values (-inf gives NaN, as in torch: -inf * 0) */
    float x[6] = {INFINITY, -INFINITY, 0.0f, -0.0f, -200.0f, NAN}, y[6];
    op_gelu_erf(y, x, 6);
    CHECK(y[0] == INFINITY && isnan(y[1]) && y[2] == 0.0f && y[4] == 0.0f && isnan(y[5]));
    op_gelu_tanh(y, x, 6);
    CHECK(y[0] == INFINITY && isnan(y[1]) && y[2] == 0.0f && y[4] == 0.0f && isnan(y[5]));
    op_silu(y, x, 6);
    CHECK(y[0] == INFINITY && isnan(y[1]) && y[2] == 0.0f && y[4] == 0.0f && isnan(y[5]));
}

TEST(simple_elementwise) {
    for (int s = 0; s < N_SIZES; s++) {
        const int n = SIZES[s];
        float *a = malloc(sizeof(float) * (n + 1)), *b = malloc(sizeof(float) * (n + 1)), *y = malloc(sizeof(float) * (n + 1));
        fill(a, n, 3.0f);
        fill(b, n, 3.0f);
        int ok = 1;
        op_relu(y, a, n);
        for (int i = 0; i < n; i++) ok &= y[i] == (a[i] > 0 ? a[i] : 0.0f);
        op_add(y, a, b, n);
        for (int i = 0; i < n; i++) ok &= y[i] == a[i] + b[i];
        op_mul(y, a, b, n);
        for (int i = 0; i < n; i++) ok &= y[i] == a[i] * b[i];
        op_scale(y, a, 0.125f, n);
        for (int i = 0; i < n; i++) ok &= y[i] == a[i] * 0.125f;
        /* in place (y == a: the loops ops.c runs through y alone), same bits */
        memcpy(y, a, sizeof(float) * n);
        op_add(y, y, b, n);
        for (int i = 0; i < n; i++) ok &= y[i] == a[i] + b[i];
        memcpy(y, a, sizeof(float) * n);
        op_relu(y, y, n);
        for (int i = 0; i < n; i++) ok &= y[i] == (a[i] > 0 ? a[i] : 0.0f);
        memcpy(y, a, sizeof(float) * n);
        op_mul(y, y, b, n);
        for (int i = 0; i < n; i++) ok &= y[i] == a[i] * b[i];
        memcpy(y, a, sizeof(float) * n);
        op_scale(y, y, 0.125f, n);
        for (int i = 0; i < n; i++) ok &= y[i] == a[i] * 0.125f;
        memcpy(y, a, sizeof(float) * n);
        op_add(y, y, y, n); /* y == a == b */
        for (int i = 0; i < n; i++) ok &= y[i] == a[i] + a[i];
        memcpy(y, b, sizeof(float) * n);
        op_add(y, a, y, n); /* y == b */
        for (int i = 0; i < n; i++) ok &= y[i] == a[i] + b[i];
        CHECK_MSG(ok, "relu/add/mul/scale n=%d", n);
        free(a), free(b), free(y);
    }
}

TEST(long_vectors_split_over_tasks) {
    const int n = 300001;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *y1 = malloc(sizeof(float) * n);
    act_inputs(x, n);
    op_gelu_erf(y, x, n);
#if PLM_HAVE_SIMD
    gelu_erf_simd(y1, x, n);
#else
    gelu_erf_scalar(y1, x, n);
#endif
    CHECK(!memcmp(y, y1, sizeof(float) * n));
    free(x), free(y), free(y1);
}

/* -------------------------------------------------------------------- RoPE */

/* The spec: HF's float32 angles, the rotation in double. */
static void rope_ref(double *out, const float *x, int n_tok, int n_head, int hd, int n_rot, int pos0, float base,
                     int mode) {
    const int half = n_rot / 2;
    for (int t = 0; t < n_tok; t++)
        for (int h = 0; h < n_head; h++) {
            const float *v = x + (size_t)t * n_head * hd + h * hd;
            double *o = out + (size_t)t * n_head * hd + h * hd;
            for (int d = 0; d < hd; d++) o[d] = v[d];
            for (int i = 0; i < half; i++) {
                float inv = 1.0f / powf(base, (float)(2 * i) / (float)n_rot);
                float theta = (float)(pos0 + t) * inv;
                double c = cos((double)theta), s = sin((double)theta);
                int a = mode == PLM_ROPE_NORM ? 2 * i : i, b = mode == PLM_ROPE_NORM ? 2 * i + 1 : i + half;
                o[a] = v[a] * c - v[b] * s;
                o[b] = v[b] * c + v[a] * s;
            }
        }
}

TEST(rope_norm_and_neox) {
    const int cfg[][5] = {/* n_tok, n_head, head_dim, n_rot, pos0 */
                          {1, 1, 2, 2, 0},    {3, 2, 8, 8, 0},     {5, 4, 16, 16, 7},  {2, 3, 64, 64, 1000},
                          {4, 2, 64, 32, 3},  {1, 8, 128, 128, 4095}, {3, 1, 10, 6, 2}};
    for (int c = 0; c < (int)(sizeof cfg / sizeof cfg[0]); c++)
        for (int mode = 0; mode <= 2; mode += 2) {
            const int nt = cfg[c][0], nh = cfg[c][1], hd = cfg[c][2], nr = cfg[c][3], p0 = cfg[c][4];
            const int n = nt * nh * hd;
            float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
            double *ref = malloc(sizeof(double) * n);
            fill(x, n, 2.0f);
            memcpy(y, x, sizeof(float) * n);
            CHECK_EQ_INT(op_rope(y, nt, nh, hd, nr, p0, 10000.0f, mode), PLM_OK);
            rope_ref(ref, x, nt, nh, hd, nr, p0, 10000.0f, mode);
            int ok = 1;
            for (int i = 0; i < n; i++) ok &= fabs(y[i] - ref[i]) <= 1e-6 * (1 + fabs(ref[i]));
            /* dims past n_rot are untouched */
            for (int i = 0; i < n; i++)
                if (i % hd >= nr) ok &= y[i] == x[i];
            CHECK_MSG(ok, "rope cfg %d mode %d", c, mode);
            free(x), free(y), free(ref);
        }
    /* pure-double angles at small positions agree too (float angle error ~1e-7 rad) */
    float x[16], y[16];
    fill(x, 16, 1.0f);
    memcpy(y, x, sizeof x);
    op_rope(y, 1, 1, 16, 16, 3, 10000.0f, PLM_ROPE_NEOX);
    for (int i = 0; i < 8; i++) {
        double th = 3.0 * pow(10000.0, -2.0 * i / 16.0);
        CHECK_NEAR(y[i], x[i] * cos(th) - x[i + 8] * sin(th), 2e-6);
        CHECK_NEAR(y[i + 8], x[i + 8] * cos(th) + x[i] * sin(th), 2e-6);
    }
    CHECK_EQ_INT(op_rope(y, 1, 1, 16, 15, 0, 10000.0f, PLM_ROPE_NORM), PLM_E_INVALID);
    CHECK_EQ_INT(op_rope(y, 1, 1, 16, 18, 0, 10000.0f, PLM_ROPE_NORM), PLM_E_INVALID);
    CHECK_EQ_INT(op_rope(y, 1, 1, 16, 16, 0, 10000.0f, 1), PLM_E_INVALID);
    CHECK_EQ_INT(op_rope(y, 0, 1, 16, 16, 0, 10000.0f, PLM_ROPE_NORM), PLM_OK);
}

/* --------------------------------------------------------------- attention */

static void attn_ref(double *out, int os, const float *q, int qs, const float *k, const float *v, int kvs,
                     int n_q, int n_kv, const op_attn_params *p) {
    const int hd = p->head_dim;
    double *s = malloc(sizeof(double) * (n_kv + 1));
    for (int i = 0; i < n_q; i++)
        for (int h = 0; h < p->n_head; h++) {
            const int g = h / (p->n_head / p->n_head_kv);
            double max = -INFINITY;
            for (int j = 0; j < n_kv; j++) {
                double d = 0;
                for (int e = 0; e < hd; e++) d += (double)q[i * qs + h * hd + e] * k[j * kvs + g * hd + e];
                d *= p->scale;
                if (p->softcap) d = p->softcap * tanh(d / p->softcap);
                if (p->bias) d += p->bias[((size_t)h * n_q + i) * n_kv + j];
                if (p->mask) d += p->mask[j];
                if (p->causal && j > p->q_pos0 + i) d = -INFINITY;
                if (p->window && j <= p->q_pos0 + i - p->window) d = -INFINITY;
                s[j] = d;
                max = fmax(max, d);
            }
            double sum = 0;
            for (int j = 0; j < n_kv; j++) sum += s[j] = max == -INFINITY ? 0.0 : exp(s[j] - max);
            for (int e = 0; e < hd; e++) {
                double acc = 0;
                for (int j = 0; j < n_kv; j++) acc += s[j] * v[j * kvs + g * hd + e];
                out[i * os + h * hd + e] = sum > 0 ? acc / sum : 0.0;
            }
        }
    free(s);
}

static void check_attention(int n_head, int n_head_kv, int hd, int n_q, int n_kv, int causal, int q_pos0,
                            int use_bias, int use_mask, int pad) {
    const int qs = n_head * hd + pad, kvs = n_head_kv * hd + pad, os = n_head * hd + pad;
    float *q = malloc(sizeof(float) * (n_q * qs + 1)), *k = malloc(sizeof(float) * (n_kv * kvs + 1));
    float *v = malloc(sizeof(float) * (n_kv * kvs + 1)), *out = malloc(sizeof(float) * (n_q * os + 1));
    float *bias = malloc(sizeof(float) * (n_head * n_q * n_kv + 1)), *mask = malloc(sizeof(float) * (n_kv + 1));
    double *ref = malloc(sizeof(double) * (n_q * os + 1));
    fill(q, n_q * qs, 1.5f);
    fill(k, n_kv * kvs, 1.5f);
    fill(v, n_kv * kvs, 1.0f);
    fill(bias, n_head * n_q * n_kv, 2.0f);
    for (int j = 0; j < n_kv; j++) mask[j] = (j % 3 == 1) ? -INFINITY : 0.0f;
    op_attn_params p = {n_head, n_head_kv, hd, 1.0f / sqrtf((float)hd), causal, q_pos0,
                        use_bias ? bias : NULL, use_mask ? mask : NULL, NULL, 0, 0};
    CHECK_EQ_INT(op_attention(out, os, q, qs, k, v, kvs, n_q, n_kv, &p), PLM_OK);
    attn_ref(ref, os, q, qs, k, v, kvs, n_q, n_kv, &p);
    int ok = 1;
    for (int i = 0; i < n_q; i++)
        for (int e = 0; e < n_head * hd; e++) ok &= fabs(out[i * os + e] - ref[i * os + e]) <= 2e-6;
    CHECK_MSG(ok, "attention heads %d/%d hd %d n_q %d n_kv %d causal %d pos0 %d bias %d mask %d", n_head, n_head_kv,
              hd, n_q, n_kv, causal, q_pos0, use_bias, use_mask);
    free(q), free(k), free(v), free(out), free(bias), free(mask), free(ref);
}

TEST(attention_vs_naive) {
    check_attention(4, 4, 16, 7, 7, 1, 0, 0, 0, 0);     /* causal prefill */
    check_attention(4, 2, 16, 1, 9, 1, 8, 0, 0, 0);     /* KV-cache step, GQA */
    check_attention(4, 2, 16, 3, 9, 1, 6, 0, 0, 5);     /* several new tokens, padded strides */
    check_attention(8, 1, 8, 5, 5, 1, 0, 0, 0, 0);      /* multi-query */
    check_attention(4, 4, 16, 6, 6, 0, 0, 1, 0, 0);     /* T5 bias, bidirectional */
    check_attention(4, 4, 16, 3, 5, 1, 2, 1, 0, 0);     /* T5 decoder: bias + causal */
    check_attention(2, 2, 32, 6, 6, 0, 0, 0, 1, 0);     /* BERT padding mask */
    check_attention(2, 2, 3, 4, 33, 0, 0, 1, 1, 1);     /* odd head_dim, bias + mask */
    check_attention(3, 3, 1, 2, 2, 1, 0, 0, 0, 0);      /* head_dim 1 */
    check_attention(4, 4, 64, 40, 40, 1, 0, 0, 0, 0);   /* bigger: thread split */
    check_attention(4, 4, 64, 1, 257, 1, 256, 0, 1, 0); /* long cache */
}

/* Gemma 2 / 3: attention-logit soft-capping and causal sliding windows vs the naive
 * reference; the same inputs without them must differ (negative control). */
TEST(attention_softcap_window) {
    const int nh = 4, nkv = 2, hd = 16, n_q = 5, n_kv = 21, pos0 = 16;
    float *q = malloc(sizeof(float) * n_q * nh * hd), *k = malloc(sizeof(float) * n_kv * nkv * hd);
    float *v = malloc(sizeof(float) * n_kv * nkv * hd), *out = malloc(sizeof(float) * n_q * nh * hd);
    double *ref = malloc(sizeof(double) * n_q * nh * hd), *plain = malloc(sizeof(double) * n_q * nh * hd);
    fill(q, n_q * nh * hd, 3.0f), fill(k, n_kv * nkv * hd, 3.0f), fill(v, n_kv * nkv * hd, 1.0f);
    for (int variant = 0; variant < 3; variant++) {
        op_attn_params p = {.n_head = nh, .n_head_kv = nkv, .head_dim = hd, .scale = 0.25f, .causal = 1,
                            .q_pos0 = pos0, .softcap = variant != 1 ? 2.0f : 0.0f, .window = variant ? 8 : 0};
        op_attn_params off = p;
        off.softcap = 0, off.window = 0;
        for (int simd = 0; simd < 2; simd++) {
            const int prev = ops_use_simd(simd);
            CHECK_EQ_INT(op_attention(out, nh * hd, q, nh * hd, k, v, nkv * hd, n_q, n_kv, &p), PLM_OK);
            ops_use_simd(prev);
            attn_ref(ref, nh * hd, q, nh * hd, k, v, nkv * hd, n_q, n_kv, &p);
            attn_ref(plain, nh * hd, q, nh * hd, k, v, nkv * hd, n_q, n_kv, &off);
            double e = 0, e_plain = 0;
            for (int i = 0; i < n_q * nh * hd; i++)
                e = fmax(e, fabs(out[i] - ref[i])), e_plain = fmax(e_plain, fabs(out[i] - plain[i]));
            CHECK_MSG(e <= 2e-6, "softcap/window variant %d simd %d: error %g", variant, simd, e);
            CHECK_MSG(e_plain > 1e-2, "variant %d: without softcap/window only %g off", variant, e_plain);
        }
    }
    op_attn_params bad = {.n_head = nh, .n_head_kv = nkv, .head_dim = hd, .scale = 1, .window = 4};
    CHECK_EQ_INT(op_attention(out, nh * hd, q, nh * hd, k, v, nkv * hd, 1, 1, &bad), PLM_E_INVALID); /* not causal */
    free(q), free(k), free(v), free(out), free(ref), free(plain);
}

TEST(attention_fully_masked_rows) {
    const int hd = 4, n_kv = 3;
    float q[2 * hd], k[3 * hd], v[3 * hd], out[2 * hd];
    fill(q, 2 * hd, 1.0f);
    fill(k, 3 * hd, 1.0f);
    fill(v, 3 * hd, 1.0f);
    float mask[3] = {-INFINITY, -INFINITY, -INFINITY};
    op_attn_params p = {1, 1, hd, 0.5f, 0, 0, NULL, mask, NULL, 0, 0};
    for (int i = 0; i < 2 * hd; i++) out[i] = 123.0f;
    CHECK_EQ_INT(op_attention(out, hd, q, hd, k, v, hd, 2, n_kv, &p), PLM_OK);
    int zeros = 1;
    for (int i = 0; i < 2 * hd; i++) zeros &= out[i] == 0.0f;
    CHECK(zeros);
    /* no keys at all */
    p.mask = NULL;
    CHECK_EQ_INT(op_attention(out, hd, q, hd, k, v, hd, 2, 0, &p), PLM_OK);
    zeros = 1;
    for (int i = 0; i < 2 * hd; i++) zeros &= out[i] == 0.0f;
    CHECK(zeros);
    /* bad head counts */
    op_attn_params bad = {3, 2, hd, 0.5f, 0, 0, NULL, NULL, NULL, 0, 0};
    CHECK_EQ_INT(op_attention(out, 3 * hd, q, 3 * hd, k, v, 2 * hd, 1, 1, &bad), PLM_E_INVALID);
}

/* ----------------------------------------------------- SIMD vs scalar twins */
#if PLM_HAVE_SIMD

static int cmp_close(const float *a, const float *b, int n, double rel, double abs_tol) {
    for (int i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= rel * fabs(b[i]) + abs_tol) && !same_bits(a[i], b[i])) return 0;
    return 1;
}

/* Activations: |a - b| <= rel |b| + xrel |x| (an error in tanh/erf scales with x). */
static int cmp_act(const float *a, const float *b, const float *x, int n, double rel, double xrel) {
    for (int i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= rel * fabs(b[i]) + xrel * fabs(x[i]) + 1e-37) && !same_bits(a[i], b[i])) {
            fprintf(stderr, "  x = %.9g: %.9g vs %.9g\n", x[i], a[i], b[i]);
            return 0;
        }
    return 1;
}

TEST(simd_vec_dots_bit_exact) {
    for (int s = 0; s < N_SIZES; s++) {
        const int n = SIZES[s];
        float *a = malloc(sizeof(float) * (n + 1)), *b = malloc(sizeof(float) * (n + 1));
        plm_fp16 *h = malloc(sizeof(plm_fp16) * (n + 1));
        uint16_t *bf = malloc(sizeof(uint16_t) * (n + 1));
        fill(a, n, 1.0f);
        fill(b, n, 1.0f);
        for (int i = 0; i < n; i++) h[i] = plm_fp32_to_fp16(a[i]), bf[i] = plm_fp32_to_bf16(a[i]);
        CHECK_MSG(same_bits(vec_dot_f32_simd(a, b, n), vec_dot_f32_scalar(a, b, n)), "f32 n=%d", n);
        CHECK_MSG(same_bits(vec_dot_f16_simd(h, b, n), vec_dot_f16_scalar(h, b, n)), "f16 n=%d", n);
        CHECK_MSG(same_bits(vec_dot_bf16_simd(bf, b, n), vec_dot_bf16_scalar(bf, b, n)), "bf16 n=%d", n);
        free(a), free(b), free(h), free(bf);
    }
    for (int nb = 1; nb <= 9; nb++) {
        const int n = nb * 32;
        float w[9 * 32], x[9 * 32];
        fill(w, n, 1.0f);
        fill(x, n, 1.0f);
        block_q8_0 wq8[9], xq[9];
        block_q4_0 wq4[9];
        plm_quantize_row_q8_0(w, wq8, n);
        plm_quantize_row_q4_0(w, wq4, n);
        quantize_row_q8_0_act_scalar(x, xq, n);
        CHECK(same_bits(vec_dot_q8_0_q8_0_simd(wq8, xq, n), vec_dot_q8_0_q8_0_scalar(wq8, xq, n)));
        CHECK(same_bits(vec_dot_q4_0_q8_0_simd(wq4, xq, n), vec_dot_q4_0_q8_0_scalar(wq4, xq, n)));
    }
}

TEST(simd_f16_conversion_exhaustive) {
    static plm_fp16 h[65536];
    static float a[65536], b[65536];
    for (int i = 0; i < 65536; i++) h[i] = (plm_fp16)i;
    convert_f16_simd(a, h, 65536);
    convert_f16_scalar(b, h, 65536);
    int bad = 0;
    for (int i = 0; i < 65536; i++) bad += !same_bits(a[i], b[i]);
    CHECK_EQ_INT(bad, 0);
    /* odd lengths hit the tails */
    convert_f16_simd(a, h + 1000, 13);
    for (int i = 0; i < 13; i++) CHECK(same_bits(a[i], b[1000 + i]));
    uint16_t *bf = (uint16_t *)h;
    convert_bf16_simd(a, bf, 65536);
    convert_bf16_scalar(b, bf, 65536);
    bad = 0;
    for (int i = 0; i < 65536; i++) bad += !same_bits(a[i], b[i]);
    CHECK_EQ_INT(bad, 0);
}

TEST(simd_row_ops_vs_scalar) {
    for (int s = 0; s < N_SIZES; s++) {
        const int n = SIZES[s];
        float *x = malloc(sizeof(float) * (n + 1)), *w = malloc(sizeof(float) * (n + 1)), *b = malloc(sizeof(float) * (n + 1));
        float *y1 = malloc(sizeof(float) * (n + 1)), *y2 = malloc(sizeof(float) * (n + 1)), *u = malloc(sizeof(float) * (n + 1));
        fill(x, n, 3.0f);
        fill(w, n, 1.0f);
        fill(b, n, 1.0f);
        fill(u, n, 1.0f);
        layernorm_simd(y1, x, w, b, n, 1e-5f);
        layernorm_scalar(y2, x, w, b, n, 1e-5f);
        CHECK_MSG(cmp_close(y1, y2, n, 0, 0), "layernorm n=%d", n);
        rmsnorm_simd(y1, x, w, n, 1e-5f);
        rmsnorm_scalar(y2, x, w, n, 1e-5f);
        CHECK_MSG(cmp_close(y1, y2, n, 0, 0), "rmsnorm n=%d", n);
        if (n > 1) x[1] = -INFINITY;
        memcpy(y1, x, sizeof(float) * n);
        memcpy(y2, x, sizeof(float) * n);
        softmax_simd(y1, n);
        softmax_scalar(y2, n);
        CHECK_MSG(cmp_close(y1, y2, n, 4e-7, 1e-38), "softmax n=%d", n);
        act_inputs(x, n);
        gelu_tanh_simd(y1, x, n);
        gelu_tanh_scalar(y2, x, n);
        CHECK_MSG(cmp_act(y1, y2, x, n, 3e-7, 1.5e-7), "gelu_tanh n=%d", n);
        gelu_erf_simd(y1, x, n);
        gelu_erf_scalar(y2, x, n);
        CHECK_MSG(cmp_act(y1, y2, x, n, 3e-7, 1e-7), "gelu_erf n=%d", n);
        silu_simd(y1, x, n);
        silu_scalar(y2, x, n);
        CHECK_MSG(cmp_act(y1, y2, x, n, 3e-7, 0), "silu n=%d", n);
        for (int i = 0; i < n; i++) y2[i] = x[i] * u[i];
        swiglu_simd(y1, x, u, n);
        swiglu_scalar(w, x, u, n);
        CHECK_MSG(cmp_act(y1, w, y2, n, 4e-7, 0), "swiglu n=%d", n);
        geglu_tanh_simd(y1, x, u, n);
        geglu_tanh_scalar(w, x, u, n);
        CHECK_MSG(cmp_act(y1, w, y2, n, 4e-7, 1.5e-7), "geglu_tanh n=%d", n);
        memcpy(y1, b, sizeof(float) * n);
        memcpy(y2, b, sizeof(float) * n);
        axpy_simd(y1, 0.3f, x, n);
        axpy_scalar(y2, 0.3f, x, n);
        CHECK_MSG(cmp_close(y1, y2, n, 0, 0), "axpy n=%d", n);
        free(x), free(w), free(b), free(y1), free(y2), free(u);
    }
}

TEST(simd_attention_pieces_bit_exact) {
    const int hds[] = {1, 3, 4, 16, 33, 64, 100};
    for (int a = 0; a < 7; a++)
        for (int n = 1; n <= 9; n += 4) {
            const int hd = hds[a], stride = hd + 3;
            float q[100], k[9 * 103], v[9 * 103], p[9], s1[9], s2[9], o1[100], o2[100];
            fill(q, hd, 1.0f);
            fill(k, n * stride, 1.0f);
            fill(v, n * stride, 1.0f);
            fill(p, n, 1.0f);
            p[n / 2] = 0.0f;
            attn_scores_simd(s1, q, k, stride, n, hd, 0.3f);
            attn_scores_scalar(s2, q, k, stride, n, hd, 0.3f);
            CHECK_MSG(cmp_close(s1, s2, n, 0, 0), "scores hd=%d n=%d", hd, n);
            attn_pv_simd(o1, p, v, stride, n, hd);
            attn_pv_scalar(o2, p, v, stride, n, hd);
            CHECK_MSG(cmp_close(o1, o2, hd, 0, 0), "pv hd=%d n=%d", hd, n);
            /* two queries at once: each the single query's numbers */
            float q2[100], t1[9], t2[9];
            fill(q2, hd, 2.0f);
            attn_scores2_simd(s1, t1, q, q2, k, stride, n, hd, 0.3f);
            attn_scores_scalar(t2, q2, k, stride, n, hd, 0.3f);
            CHECK_MSG(cmp_close(s1, s2, n, 0, 0) && cmp_close(t1, t2, n, 0, 0), "scores2 (SIMD) hd=%d n=%d", hd, n);
            attn_scores2_scalar(s1, t1, q, q2, k, stride, n, hd, 0.3f);
            CHECK_MSG(cmp_close(s1, s2, n, 0, 0) && cmp_close(t1, t2, n, 0, 0), "scores2 (scalar) hd=%d n=%d", hd, n);
        }
}

/* erf itself, through gelu_erf: erf(t) = 2 gelu(t sqrt2) / (t sqrt2) - 1, dense grid. */
TEST(simd_erf_accuracy) {
    const int n = 200000;
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) x[i] = -6.0f + 12.0f * (float)i / (float)n;
    gelu_erf_simd(y, x, n);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double ref = gelu_erf_d(x[i]);
        double e = fabs(y[i] - ref) / fmax(0.5 * fabs(x[i]), 1e-30); /* = error of erf + rounding */
        if (fabs(x[i]) > 1e-3) worst = fmax(worst, e);
    }
    printf("    gelu_erf SIMD: max |err| / (|x|/2) = %.3g\n", worst);
    CHECK(worst < 3e-7);
    free(x), free(y);
}

/* Whole ops with the scalar backend vs the SIMD backend. */
TEST(simd_ops_vs_scalar_backend) {
    const int types[] = {PLM_TYPE_F32, PLM_TYPE_F16, PLM_TYPE_BF16, PLM_TYPE_Q8_0, PLM_TYPE_Q4_0, PLM_TYPE_Q6_K};
    const int ks[] = {256, 512};
    for (int t = 0; t < 6; t++)
        for (int kk = 0; kk < 2; kk++)
            for (int mi = 0; mi < N_MS; mi++) {
                const int n = 13, k = ks[kk], m = MS[mi];
                float *W = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * m * k);
                float *y1 = malloc(sizeof(float) * m * n), *y2 = malloc(sizeof(float) * m * n);
                fill(W, n * k, 1.0f);
                fill(x, m * k, 1.0f);
                wmat w;
                CHECK(wmat_make(&w, types[t], n, k, W));
                ops_use_simd(1);
                CHECK_EQ_INT(op_matmul(y1, &w.t, W, x, m, k), PLM_OK);
                ops_use_simd(0);
                CHECK_EQ_INT(op_matmul(y2, &w.t, W, x, m, k), PLM_OK);
                ops_use_simd(1);
                CHECK_MSG(!memcmp(y1, y2, sizeof(float) * m * n), "matmul %s k=%d m=%d", plm_type_name(types[t]), k, m);
                wmat_free(&w);
                free(W), free(x), free(y1), free(y2);
            }
    /* attention: dots and axpy are exact twins, softmax's exp agrees to ~1 ulp */
    const int hd = 16, nq = 5, nkv = 9;
    float q[5 * 64], k[9 * 32], v[9 * 32], o1[5 * 64], o2[5 * 64];
    fill(q, 5 * 64, 1.0f);
    fill(k, 9 * 32, 1.0f);
    fill(v, 9 * 32, 1.0f);
    op_attn_params p = {4, 2, hd, 0.25f, 1, 4, NULL, NULL, NULL, 0, 0};
    ops_use_simd(1);
    op_attention(o1, 64, q, 64, k, v, 32, nq, nkv, &p);
    ops_use_simd(0);
    op_attention(o2, 64, q, 64, k, v, 32, nq, nkv, &p);
    ops_use_simd(1);
    CHECK(cmp_close(o1, o2, 5 * 64, 1e-6, 1e-6));
}
#endif

int main(void) {
    printf("ops tests (%s kernels)\n", PLM_HAVE_SIMD ? "SIMD128" : "scalar");
    RUN(matmul_float_types);
    RUN(matmul_float_gemm_odd_sizes);
    RUN(matmul_quant_types);
    RUN(qgemm_variants_bit_exact);
    RUN(qgemm_q8_0_all_weight_codes);
    RUN(qgemm_wide_segments_and_chunks);
    RUN(quantize_act_rounding_edges);
    RUN(attention_query_pairs_match_rows);
    RUN(qgemm_wide_token_tiles);
    RUN(matmul_shared_input);
    RUN(matmul_k_quants);
    RUN(matmul_larger);
    RUN(matmul_f16_special_values);
    RUN(matmul_errors);
    RUN(get_rows_all_types);
    RUN(quantize_act_golden_bytes);
    RUN(quantize_act_matches_reference_quantizer);
    RUN(layernorm_vs_double);
    RUN(rmsnorm_vs_double);
    RUN(softmax_vs_double);
    RUN(activations_vs_double);
    RUN(simple_elementwise);
    RUN(long_vectors_split_over_tasks);
    RUN(rope_norm_and_neox);
    RUN(attention_vs_naive);
    RUN(attention_fully_masked_rows);
    RUN(attention_softcap_window);
#if PLM_HAVE_SIMD
    RUN(simd_vec_dots_bit_exact);
    RUN(simd_f16_conversion_exhaustive);
    RUN(simd_row_ops_vs_scalar);
    RUN(simd_attention_pieces_bit_exact);
    RUN(simd_erf_accuracy);
    RUN(simd_ops_vs_scalar_backend);
#endif
    ops_scratch_free();
    return test_summary();
}
