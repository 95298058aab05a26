/* ops_simd.c — WebAssembly SIMD128 twins of the scalar kernels (see ops.h).
 *
 * Dot products and matmuls follow the summation orders of ops.h exactly, so
 * they reproduce ops_scalar.c bit for bit; exp / tanh / erf are polynomial
 * approximations within ~1 ulp of libm (erf: abs error < 1e-7).
 *
 * Matmul structure:
 *   m == 1 : one activation row against 4 weight rows at a time (4 independent
 *            accumulator chains), streaming the weights once;
 *   m  > 1 : (quantized weights; float weights: ops_gemm_f.c) 4 activation rows x 2 weight rows register tiles, so every weight
 *            block is loaded and unpacked once per 4 rows. Rows are processed
 *            in chunks that keep the activations in L2.
 *   Q8_0 / Q4_0 activations are quantized once per call and stored widened to
 *   int16 (quantize_rows_q8_0_wide_simd), so the inner loops are loads and
 *   i32x4.dot_i16x8_s only.
 */
#if defined(__wasm_simd128__)
#include <math.h>
#include <string.h>
#include <wasm_simd128.h>

#include "common.h"
#include "ops.h"
#include "ops_simd_util.h"

/* Scalar fp16 -> fp32 for block scales (inline: called once per block). Normals
 * by rebiasing the exponent in integer arithmetic: a float multiply by 2^112
 * would take a subnormal operand for subnormal halves (a microcode assist per
 * block on x86; K-quant dmin and small-weight Q8_0 scales are often subnormal). */
INLINE float h2f1(uint16_t h) {
    const uint32_t e = h & 0x7c00u, a = (uint32_t)(h & 0x7fff) << 13;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    float f;
    if (e == 0) return sign * ((float)(h & 0x3ff) * 0x1p-24f); /* zero, subnormal: exact */
    const uint32_t t = (uint32_t)(h & 0x8000) << 16 | (e == 0x7c00 ? a | 0x7f800000u : a + (112u << 23));
    memcpy(&f, &t, 4);
    return f;
}

/* fp16 -> fp32 table for block scales in the matmul inner loops (one load
 * instead of ~8 scalar ops per weight block). 256 KB, filled on first use by
 * the calling thread before any task runs (ops_simd_prepare). */
static float g_f16_table[1 << 16];
static int g_f16_table_ready;

void ops_simd_prepare(void) {
    if (g_f16_table_ready) return;
    for (int i = 0; i < (1 << 16); i += 8) {
        v128_t h = wasm_i16x8_make(i, i + 1, i + 2, i + 3, i + 4, i + 5, i + 6, i + 7);
        wasm_v128_store(g_f16_table + i, h2f_exact(lo_halves(h)));
        wasm_v128_store(g_f16_table + i + 4, h2f_exact(hi_halves(h)));
    }
    g_f16_table_ready = 1;
}

const float *ops_simd_f16_table(void) { return g_f16_table; }

void convert_f16_simd(float *y, const plm_fp16 *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t h = wasm_v128_load(x + i);
        wasm_v128_store(y + i, h2f_exact(lo_halves(h)));
        wasm_v128_store(y + i + 4, h2f_exact(hi_halves(h)));
    }
    for (; i < n; i++) y[i] = plm_fp16_to_fp32(x[i]);
}

void convert_bf16_simd(float *y, const uint16_t *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t h = wasm_v128_load(x + i);
        wasm_v128_store(y + i, lo_halves(h));
        wasm_v128_store(y + i + 4, hi_halves(h));
    }
    for (; i < n; i++) y[i] = plm_bf16_to_fp32(x[i]);
}

/* --------------------------------------------------------------- dots */

float vec_dot_f32_simd(const float *a, const float *b, int n) {
    v128_t acc = F4(0.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    float s = hsum(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

float vec_dot_f16_simd(const plm_fp16 *w, const float *x, int n) {
    v128_t acc = F4(0.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t h = wasm_v128_load(w + i);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(h2f_exact(lo_halves(h)), wasm_v128_load(x + i)));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(h2f_exact(hi_halves(h)), wasm_v128_load(x + i + 4)));
    }
    if (i + 4 <= n) {
        v128_t h = wasm_v128_load64_zero(w + i);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(h2f_exact(lo_halves(h)), wasm_v128_load(x + i)));
        i += 4;
    }
    float s = hsum(acc);
    for (; i < n; i++) s += plm_fp16_to_fp32(w[i]) * x[i];
    return s;
}

float vec_dot_bf16_simd(const uint16_t *w, const float *x, int n) {
    v128_t acc = F4(0.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t h = wasm_v128_load(w + i);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(lo_halves(h), wasm_v128_load(x + i)));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(hi_halves(h), wasm_v128_load(x + i + 4)));
    }
    if (i + 4 <= n) {
        v128_t h = wasm_v128_load64_zero(w + i);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(lo_halves(h), wasm_v128_load(x + i)));
        i += 4;
    }
    float s = hsum(acc);
    for (; i < n; i++) s += plm_bf16_to_fp32(w[i]) * x[i];
    return s;
}

/* Weight blocks unpacked to 4 x i16x8 (elements 0-7, 8-15, 16-23, 24-31). */
INLINE void unpack_q8_0(const block_q8_0 *b, v128_t w[4]) {
    v128_t lo = wasm_v128_load(b->qs), hi = wasm_v128_load(b->qs + 16);
    w[0] = wasm_i16x8_extend_low_i8x16(lo);
    w[1] = wasm_i16x8_extend_high_i8x16(lo);
    w[2] = wasm_i16x8_extend_low_i8x16(hi);
    w[3] = wasm_i16x8_extend_high_i8x16(hi);
}

/* Q4_0 nibbles without the -8 offset (0..15, zero-extended: cheaper than sign
 * extension); the offset is applied to the integer sums via the activations'
 * lane sums (dot(w - 8, x) = dot(w, x) - 8 * sum(x), exact). */
INLINE void unpack_q4_0_u(const block_q4_0 *b, v128_t w[4]) {
    v128_t q = wasm_v128_load(b->qs);
    v128_t lo = wasm_v128_and(q, wasm_i8x16_splat(0x0F));
    v128_t hi = wasm_u8x16_shr(q, 4);
    w[0] = wasm_u16x8_extend_low_u8x16(lo);
    w[1] = wasm_u16x8_extend_high_u8x16(lo);
    w[2] = wasm_u16x8_extend_low_u8x16(hi);
    w[3] = wasm_u16x8_extend_high_u8x16(hi);
}

INLINE void unpack_q4_0(const block_q4_0 *b, v128_t w[4]) {
    v128_t q = wasm_v128_load(b->qs);
    v128_t lo = wasm_i8x16_sub(wasm_v128_and(q, wasm_i8x16_splat(0x0F)), wasm_i8x16_splat(8));
    v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(q, 4), wasm_i8x16_splat(8));
    w[0] = wasm_i16x8_extend_low_i8x16(lo);
    w[1] = wasm_i16x8_extend_high_i8x16(lo);
    w[2] = wasm_i16x8_extend_low_i8x16(hi);
    w[3] = wasm_i16x8_extend_high_i8x16(hi);
}

/* Q5_0 / Q4_1 / Q5_1 blocks (raw bytes): 4 x i16x8 of the values q (Q5_0: q - 16).
 * The 5th bits: qh's bytes spread over the 16 lanes of each half, one bit per lane. */
INLINE void unpack_legacy_simd(const uint8_t *blk, int bits5, int with_min, v128_t w[4]) {
    const uint8_t *h = blk + (with_min ? 4 : 2), *qs = h + (bits5 ? 4 : 0);
    const v128_t q = wasm_v128_load(qs);
    v128_t lo = wasm_v128_and(q, wasm_i8x16_splat(0x0F)), hi = wasm_u8x16_shr(q, 4);
    if (bits5) {
        uint32_t qh;
        memcpy(&qh, h, 4);
        const v128_t v = wasm_i32x4_splat((int32_t)qh);
        const v128_t bits = wasm_u8x16_make(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        const v128_t b0 = wasm_i8x16_swizzle(v, wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
        const v128_t b1 = wasm_i8x16_swizzle(v, wasm_i8x16_make(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        const v128_t x10 = wasm_i8x16_splat(0x10);
        lo = wasm_v128_or(lo, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(b0, bits), bits), x10));
        hi = wasm_v128_or(hi, wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(b1, bits), bits), x10));
    }
    if (!with_min) {
        lo = wasm_i8x16_sub(lo, wasm_i8x16_splat(16));
        hi = wasm_i8x16_sub(hi, wasm_i8x16_splat(16));
    }
    w[0] = wasm_i16x8_extend_low_i8x16(lo);
    w[1] = wasm_i16x8_extend_high_i8x16(lo);
    w[2] = wasm_i16x8_extend_low_i8x16(hi);
    w[3] = wasm_i16x8_extend_high_i8x16(hi);
}

/* Exact integer lanes of one block: lane l = sum of elements j with (j/2)%4 == l. */
INLINE v128_t block_dot(const v128_t w[4], const int16_t *x) {
    v128_t a = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w[0], wasm_v128_load(x)),
                              wasm_i32x4_dot_i16x8(w[1], wasm_v128_load(x + 8)));
    v128_t b = wasm_i32x4_add(wasm_i32x4_dot_i16x8(w[2], wasm_v128_load(x + 16)),
                              wasm_i32x4_dot_i16x8(w[3], wasm_v128_load(x + 24)));
    return wasm_i32x4_add(a, b);
}

INLINE v128_t block_acc(v128_t acc, v128_t isum, float d) {
    return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), F4(d)));
}

INLINE void widen_q8(const block_q8_0 *b, int16_t x[32]) {
    v128_t w[4];
    unpack_q8_0(b, w);
    UNROLL
    for (int v = 0; v < 4; v++) wasm_v128_store(x + 8 * v, w[v]);
}

/* Q8_0 / Q4_0 rows (ops.h's generic order): exact block integers, one float chain. */
INLINE int32_t hsum_i32x4(v128_t v) {
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_i32x4_extract_lane(v, 0);
}

float vec_dot_q8_0_q8_0_simd(const block_q8_0 *w, const block_q8_0 *x8, int n) {
    float s = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        int16_t x[32] __attribute__((aligned(16)));
        widen_q8(&x8[b], x);
        v128_t wv[4];
        unpack_q8_0(&w[b], wv);
        s = s + (float)hsum_i32x4(block_dot(wv, x)) * (h2f1(w[b].d) * h2f1(x8[b].d));
    }
    return s;
}

float vec_dot_q4_0_q8_0_simd(const block_q4_0 *w, const block_q8_0 *x8, int n) {
    float s = 0.0f;
    for (int b = 0; b < n / QK4_0; b++) {
        int16_t x[32] __attribute__((aligned(16)));
        widen_q8(&x8[b], x);
        v128_t wv[4];
        unpack_q4_0(&w[b], wv);
        s = s + (float)hsum_i32x4(block_dot(wv, x)) * (h2f1(w[b].d) * h2f1(x8[b].d));
    }
    return s;
}

/* ------------------------------------------- activation quantization */

/* roundf (half away from zero) of 4 floats, as i32; NaN -> 0, +-Inf saturate.
 * trunc(v + copysign(0.5 - 2^-25, v)): the largest float below 0.5 keeps v = 0.5 - 2^-25
 * from rounding up to 1 in the addition; equal to roundf for every float of magnitude
 * <= 2^24 (checked exhaustively: all 2.5e9 of them, both signs), which holds every finite
 * v of the quantizer (|x / d| <= ~254 even with a subnormal d; 1 / d overflowing gives
 * Inf or NaN, as before). 4 operations instead of 9. */
INLINE v128_t round_away(v128_t v) {
    const v128_t h = wasm_v128_or(wasm_v128_and(v, I4((int32_t)0x80000000)), F4(0.49999997f));
    return wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_add(v, h));
}

/* One block of 32: q[0..3] = 32 values as 4 x i16x8, returns the fp16 scale. */
INLINE plm_fp16 quantize_block(const float *x, v128_t q[4]) {
    v128_t v[8];
    UNROLL
    for (int j = 0; j < 8; j++) v[j] = wasm_v128_load(x + 4 * j);
    /* amax as integers: |x| has a clear sign bit, so its bits order as the floats do, and a
     * NaN's bits exceed Inf's: a NaN sticks, as in the scalar twin (d = NaN reaches the
     * output). i32x4.max_s is one instruction; f32x4.max's NaN / signed-zero rules cost V8 ~8. */
    v128_t m = wasm_f32x4_abs(v[0]);
    UNROLL
    for (int j = 1; j < 8; j++) m = wasm_i32x4_max(m, wasm_f32x4_abs(v[j]));
    m = wasm_i32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_i32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    const float amax = wasm_f32x4_extract_lane(m, 0);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const v128_t vid = F4(id);
    UNROLL
    for (int j = 0; j < 4; j++)
        q[j] = wasm_i16x8_narrow_i32x4(round_away(wasm_f32x4_mul(v[2 * j], vid)),
                                       round_away(wasm_f32x4_mul(v[2 * j + 1], vid)));
    return plm_fp32_to_fp16(d);
}

void quantize_row_q8_0_act_simd(const float *x, block_q8_0 *y, int n) {
    for (int b = 0; b < n / QK8_0; b++) {
        v128_t q[4];
        y[b].d = quantize_block(x + b * QK8_0, q);
        wasm_v128_store(y[b].qs, wasm_i8x16_narrow_i16x8(q[0], q[1]));
        wasm_v128_store(y[b].qs + 16, wasm_i8x16_narrow_i16x8(q[2], q[3]));
    }
}

void quantize_rows_q8_0_wide_simd(const float *x, int m, int k, int16_t *q, float *d, int32_t *s8) {
    const int nb = k / QK8_0;
    for (int r = 0; r < m; r++)
        for (int b = 0; b < nb; b++) {
            v128_t v[4];
            plm_fp16 h = quantize_block(x + (size_t)r * k + b * QK8_0, v);
            int16_t *qb = q + (size_t)r * k + b * QK8_0;
            UNROLL
            for (int j = 0; j < 4; j++) wasm_v128_store(qb + 8 * j, v[j]);
            d[(size_t)r * nb + b] = h2f1(h);
            const v128_t eight = wasm_i16x8_splat(8);
            v128_t sum = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(v[0], eight), wasm_i32x4_dot_i16x8(v[1], eight)),
                                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(v[2], eight), wasm_i32x4_dot_i16x8(v[3], eight)));
            wasm_v128_store(s8 + ((size_t)r * nb + b) * 4, sum);
        }
}

/* ------------------------------------------------------------ row ops */

INLINE v128_t load_or_one(const float *p, int i) { return p ? wasm_v128_load(p + i) : F4(1.0f); }

void layernorm_simd(float *y, const float *x, const float *w, const float *b, int n, float eps) {
    if (n <= 0) return;
    v128_t acc = F4(0.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4) acc = wasm_f32x4_add(acc, wasm_v128_load(x + i));
    float sum = hsum(acc);
    for (; i < n; i++) sum += x[i];
    const float mean = sum / (float)n;
    const v128_t vmean = F4(mean);
    acc = F4(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        v128_t d = wasm_f32x4_sub(wasm_v128_load(x + i), vmean);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(d, d));
    }
    float var = hsum(acc);
    for (; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (float)n;
    const float rstd = 1.0f / sqrtf(var + eps);
    const v128_t vr = F4(rstd);
    for (i = 0; i + 4 <= n; i += 4) {
        v128_t v = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + i), vmean), vr);
        if (w) v = wasm_f32x4_mul(v, wasm_v128_load(w + i));
        if (b) v = wasm_f32x4_add(v, wasm_v128_load(b + i));
        wasm_v128_store(y + i, v);
    }
    for (; i < n; i++) {
        float v = (x[i] - mean) * rstd;
        if (w) v *= w[i];
        if (b) v += b[i];
        y[i] = v;
    }
}

void rmsnorm_simd(float *y, const float *x, const float *w, int n, float eps) {
    if (n <= 0) return;
    v128_t acc = F4(0.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t v = wasm_v128_load(x + i);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v, v));
    }
    float ss = hsum(acc);
    for (; i < n; i++) ss += x[i] * x[i];
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    const v128_t vr = F4(r);
    for (i = 0; i + 4 <= n; i += 4)
        wasm_v128_store(y + i, wasm_f32x4_mul(load_or_one(w, i),
                                              wasm_f32x4_mul(wasm_v128_load(x + i), vr)));
    for (; i < n; i++) y[i] = w ? w[i] * (x[i] * r) : x[i] * r;
}

/* ----------------------------------------------------------- exp & co */

/* exp(x) for 4 floats, < 1 ulp on [-87, 88.5]: x = n ln2 + r (Cody-Waite),
 * exp(r) = 1 + r + r^2 P(r) (minimax), 2^n applied in two halves so that the
 * whole float range (overflow to Inf, gradual underflow to 0) comes out right.
 * NaN propagates, -Inf gives 0. */
INLINE v128_t exp4(v128_t x) {
    x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, F4(-104.0f)), F4(89.0f));
    const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, F4(1.44269504088896341f)));
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, F4(0.693359375f)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, F4(-2.12194440e-4f)));
    v128_t p = F4(1.394111314e-03f);
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), F4(8.363175206e-03f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), F4(4.166637361e-02f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), F4(1.666657627e-01f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), F4(0.5f));
    p = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(r, r), p), r);
    p = wasm_f32x4_add(p, F4(1.0f));
    /* n is a whole number in [-150, 129]: n + 1.5 * 2^23 is exact and its bits are those of
     * 1.5 * 2^23 plus n (2 instructions; V8's i32x4.trunc_sat_f32x4_s is ~8). A NaN x gives a
     * NaN n, any j, and NaN from p. */
    const v128_t j = wasm_i32x4_sub(wasm_f32x4_add(n, F4(12582912.0f)), I4(0x4B400000));
    const v128_t j1 = wasm_i32x4_shr(j, 1), j2 = wasm_i32x4_sub(j, j1);
    const v128_t s1 = wasm_i32x4_shl(wasm_i32x4_add(j1, I4(127)), 23);
    const v128_t s2 = wasm_i32x4_shl(wasm_i32x4_add(j2, I4(127)), 23);
    return wasm_f32x4_mul(wasm_f32x4_mul(p, s1), s2);
}

/* tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|) in (0, 1]: no overflow,
 * abs error ~1e-7 everywhere (~1 ulp near +-1, where GELU's 1 + tanh needs it). */
INLINE v128_t tanh4(v128_t u) {
    const v128_t a = wasm_f32x4_abs(u);
    const v128_t e = exp4(wasm_f32x4_mul(a, F4(-2.0f)));
    const v128_t t = wasm_f32x4_div(wasm_f32x4_sub(F4(1.0f), e), wasm_f32x4_add(F4(1.0f), e));
    return wasm_v128_or(t, wasm_v128_and(u, I4((int32_t)0x80000000)));
}

/* erf(x), abs error < 1e-7 (coefficients fitted for this file):
 *   |x| <= 0.875 : x + x * P(x^2)
 *   |x| >  0.875 : 1 - exp(-x^2) * t * Q(t), t = 1 / (1 + |x|/2), |x| clamped to 4 */
INLINE v128_t erf4(v128_t x) {
    const v128_t a = wasm_f32x4_pmin(wasm_f32x4_abs(x), F4(4.0f));
    const v128_t x2 = wasm_f32x4_mul(x, x);
    v128_t p = F4(-6.222457159e-04f);
    p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), F4(5.035879556e-03f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), F4(-2.679396048e-02f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), F4(1.128252447e-01f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), F4(-3.761255741e-01f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), F4(1.283791512e-01f));
    const v128_t small = wasm_f32x4_add(x, wasm_f32x4_mul(x, p));

    const v128_t t = wasm_f32x4_div(F4(1.0f), wasm_f32x4_add(F4(1.0f), wasm_f32x4_mul(F4(0.5f), a)));
    v128_t q = F4(4.365629330e-02f);
    q = wasm_f32x4_add(wasm_f32x4_mul(q, t), F4(-5.878642574e-02f));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, t), F4(-1.560459286e-01f));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, t), F4(2.475745827e-01f));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, t), F4(9.219646454e-02f));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, t), F4(2.708072662e-01f));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, t), F4(2.784307003e-01f));
    q = wasm_f32x4_add(wasm_f32x4_mul(q, t), F4(2.823301256e-01f));
    const v128_t e = exp4(wasm_f32x4_neg(wasm_f32x4_mul(a, a)));
    v128_t big = wasm_f32x4_sub(F4(1.0f), wasm_f32x4_mul(e, wasm_f32x4_mul(t, q)));
    big = wasm_v128_or(big, wasm_v128_and(x, I4((int32_t)0x80000000))); /* sign of x */
    return wasm_v128_bitselect(small, big, wasm_f32x4_le(a, F4(0.875f)));
}

#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_COEF_A 0.044715f
#define SQRT1_2 0.70710678118654752440f

INLINE v128_t gelu_tanh4(v128_t x) {
    v128_t x3 = wasm_f32x4_mul(wasm_f32x4_mul(x, x), x);
    v128_t inner = wasm_f32x4_mul(F4(SQRT_2_OVER_PI), wasm_f32x4_add(x, wasm_f32x4_mul(F4(GELU_COEF_A), x3)));
    return wasm_f32x4_mul(wasm_f32x4_mul(F4(0.5f), x), wasm_f32x4_add(F4(1.0f), tanh4(inner)));
}

INLINE v128_t gelu_erf4(v128_t x) {
    v128_t e = erf4(wasm_f32x4_mul(x, F4(SQRT1_2)));
    return wasm_f32x4_mul(wasm_f32x4_mul(x, F4(0.5f)), wasm_f32x4_add(F4(1.0f), e));
}

INLINE v128_t silu4(v128_t x) {
    return wasm_f32x4_div(x, wasm_f32x4_add(F4(1.0f), exp4(wasm_f32x4_neg(x))));
}

/* Tails are padded into a vector so that every element uses the same formula. */
#define MAP1(name, f4)                                                    \
    void name(float *y, const float *x, int n) {                          \
        int i = 0;                                                        \
        for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, f4(wasm_v128_load(x + i))); \
        if (i < n) {                                                      \
            float t[4] = {0, 0, 0, 0};                                    \
            memcpy(t, x + i, (size_t)(n - i) * sizeof(float));            \
            wasm_v128_store(t, f4(wasm_v128_load(t)));                    \
            memcpy(y + i, t, (size_t)(n - i) * sizeof(float));            \
        }                                                                 \
    }

#define MAP2(name, f4)                                                                    \
    void name(float *y, const float *g, const float *u, int n) {                         \
        int i = 0;                                                                        \
        for (; i + 4 <= n; i += 4)                                                        \
            wasm_v128_store(y + i, wasm_f32x4_mul(f4(wasm_v128_load(g + i)), wasm_v128_load(u + i))); \
        if (i < n) {                                                                      \
            float t[4] = {0, 0, 0, 0}, s[4] = {0, 0, 0, 0};                               \
            memcpy(t, g + i, (size_t)(n - i) * sizeof(float));                            \
            memcpy(s, u + i, (size_t)(n - i) * sizeof(float));                            \
            wasm_v128_store(t, wasm_f32x4_mul(f4(wasm_v128_load(t)), wasm_v128_load(s))); \
            memcpy(y + i, t, (size_t)(n - i) * sizeof(float));                            \
        }                                                                                 \
    }

MAP1(gelu_tanh_simd, gelu_tanh4)
MAP1(gelu_erf_simd, gelu_erf4)
MAP1(silu_simd, silu4)
MAP2(swiglu_simd, silu4)
MAP2(geglu_tanh_simd, gelu_tanh4)

void softmax_simd(float *x, int n) {
    if (n <= 0) return;
    v128_t vm = F4(-INFINITY);
    int i = 0;
    for (; i + 4 <= n; i += 4) vm = wasm_f32x4_pmax(vm, wasm_v128_load(x + i));
    vm = wasm_f32x4_pmax(vm, wasm_i32x4_shuffle(vm, vm, 2, 3, 0, 1));
    vm = wasm_f32x4_pmax(vm, wasm_i32x4_shuffle(vm, vm, 1, 0, 3, 2));
    float max = wasm_f32x4_extract_lane(vm, 0);
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    if (max == -INFINITY) {
        memset(x, 0, (size_t)n * sizeof(float));
        return;
    }
    vm = F4(max);
    v128_t acc = F4(0.0f);
    for (i = 0; i + 4 <= n; i += 4) {
        v128_t e = exp4(wasm_f32x4_sub(wasm_v128_load(x + i), vm));
        wasm_v128_store(x + i, e);
        acc = wasm_f32x4_add(acc, e);
    }
    float sum = hsum(acc);
    if (i < n) {
        float t[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        wasm_v128_store(t, exp4(wasm_f32x4_sub(wasm_v128_load(t), vm)));
        for (int l = 0; i + l < n; l++) {
            x[i + l] = t[l];
            sum += t[l];
        }
    }
    const v128_t inv = F4(1.0f / sum);
    for (i = 0; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), inv));
    for (; i < n; i++) x[i] *= 1.0f / sum;
}

void axpy_simd(float *y, float a, const float *x, int n) {
    const v128_t va = F4(a);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(va, wasm_v128_load(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

/* lanes t of the result = hsum(a[t]): (a0 + a2) + (a1 + a3) of each, by a 4x4 transpose-and-add */
INLINE v128_t hsum4(const v128_t a[4]) {
    const v128_t s01 = wasm_f32x4_add(wasm_i32x4_shuffle(a[0], a[1], 0, 1, 4, 5), wasm_i32x4_shuffle(a[0], a[1], 2, 3, 6, 7));
    const v128_t s23 = wasm_f32x4_add(wasm_i32x4_shuffle(a[2], a[3], 0, 1, 4, 5), wasm_i32x4_shuffle(a[2], a[3], 2, 3, 6, 7));
    return wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 2, 4, 6), wasm_i32x4_shuffle(s01, s23, 1, 3, 5, 7));
}

/* Four keys at a time: four independent accumulator chains, each dot in the
 * canonical order (identical to vec_dot_f32_simd). */
void attn_scores_simd(float *s, const float *q, const float *k, int kv_stride, int n, int hd, float scale) {
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *kj[4];
        v128_t acc[4];
        UNROLL
        for (int t = 0; t < 4; t++) kj[t] = k + (size_t)(j + t) * kv_stride, acc[t] = F4(0.0f);
        int d = 0;
        for (; d + 4 <= hd; d += 4) {
            const v128_t qv = wasm_v128_load(q + d);
            UNROLL
            for (int t = 0; t < 4; t++) acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(qv, wasm_v128_load(kj[t] + d)));
        }
        if (d == hd) { /* the four hsums at once (hsum4), one store */
            wasm_v128_store(s + j, wasm_f32x4_mul(hsum4(acc), F4(scale)));
            continue;
        }
        UNROLL
        for (int t = 0; t < 4; t++) {
            float v = hsum(acc[t]);
            for (int e = d; e < hd; e++) v += q[e] * kj[t][e];
            s[j + t] = v * scale;
        }
    }
    for (; j < n; j++) s[j] = vec_dot_f32_simd(q, k + (size_t)j * kv_stride, hd) * scale;
}

/* Two queries x four keys: each key vector loaded once for both queries (8 accumulator
 * chains), every dot in the canonical order; head_dim % 4 != 0 or the last n % 4 keys:
 * attn_scores_simd per query. */
void attn_scores2_simd(float *s0, float *s1, const float *q0, const float *q1, const float *k, int kv_stride, int n,
                       int hd, float scale) {
    if (hd % 4) {
        attn_scores_simd(s0, q0, k, kv_stride, n, hd, scale);
        attn_scores_simd(s1, q1, k, kv_stride, n, hd, scale);
        return;
    }
    const v128_t vs = F4(scale);
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *kj = k + (size_t)j * kv_stride;
        v128_t a[4], b[4];
        UNROLL
        for (int t = 0; t < 4; t++) a[t] = b[t] = F4(0.0f);
        for (int d = 0; d < hd; d += 4) {
            const v128_t x0 = wasm_v128_load(q0 + d), x1 = wasm_v128_load(q1 + d);
            UNROLL
            for (int t = 0; t < 4; t++) {
                const v128_t kv = wasm_v128_load(kj + (size_t)t * kv_stride + d);
                a[t] = wasm_f32x4_add(a[t], wasm_f32x4_mul(x0, kv));
                b[t] = wasm_f32x4_add(b[t], wasm_f32x4_mul(x1, kv));
            }
        }
        wasm_v128_store(s0 + j, wasm_f32x4_mul(hsum4(a), vs));
        wasm_v128_store(s1 + j, wasm_f32x4_mul(hsum4(b), vs));
    }
    if (j < n) {
        attn_scores_simd(s0 + j, q0, k + (size_t)j * kv_stride, kv_stride, n - j, hd, scale);
        attn_scores_simd(s1 + j, q1, k + (size_t)j * kv_stride, kv_stride, n - j, hd, scale);
    }
}

/* The output row stays in registers (8 vectors = 32 values at a time) while
 * the values stream by. */
void attn_pv_simd(float *o, const float *p, const float *v, int kv_stride, int n, int hd) {
    int d = 0;
    for (; d + 32 <= hd; d += 32) {
        v128_t acc[8];
        UNROLL
        for (int t = 0; t < 8; t++) acc[t] = F4(0.0f);
        for (int j = 0; j < n; j++) {
            if (p[j] == 0.0f) continue;
            const v128_t pj = F4(p[j]);
            const float *vj = v + (size_t)j * kv_stride + d;
            UNROLL
            for (int t = 0; t < 8; t++) acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(pj, wasm_v128_load(vj + 4 * t)));
        }
        UNROLL
        for (int t = 0; t < 8; t++) wasm_v128_store(o + d + 4 * t, acc[t]);
    }
    for (; d + 4 <= hd; d += 4) {
        v128_t acc = F4(0.0f);
        for (int j = 0; j < n; j++)
            if (p[j] != 0.0f)
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(F4(p[j]), wasm_v128_load(v + (size_t)j * kv_stride + d)));
        wasm_v128_store(o + d, acc);
    }
    for (; d < hd; d++) {
        float acc = 0.0f;
        for (int j = 0; j < n; j++)
            if (p[j] != 0.0f) acc += p[j] * v[(size_t)j * kv_stride + d];
        o[d] = acc;
    }
}

/* RoPE of one head, 4 pairs at a time: NEOX pairs are two contiguous halves;
 * NORM pairs are de-interleaved from 8 consecutive values and interleaved back. */
void rope_head_simd(float *v, const float *cs, const float *sn, int n_rot, int mode) {
    const int half = n_rot / 2;
    int i = 0;
    if (mode == PLM_ROPE_NORM) {
        for (; i + 4 <= half; i += 4) {
            const v128_t lo = wasm_v128_load(v + 2 * i), hi = wasm_v128_load(v + 2 * i + 4);
            const v128_t x0 = wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6), x1 = wasm_i32x4_shuffle(lo, hi, 1, 3, 5, 7);
            const v128_t c = wasm_v128_load(cs + i), s = wasm_v128_load(sn + i);
            const v128_t y0 = wasm_f32x4_sub(wasm_f32x4_mul(x0, c), wasm_f32x4_mul(x1, s));
            const v128_t y1 = wasm_f32x4_add(wasm_f32x4_mul(x1, c), wasm_f32x4_mul(x0, s));
            wasm_v128_store(v + 2 * i, wasm_i32x4_shuffle(y0, y1, 0, 4, 1, 5));
            wasm_v128_store(v + 2 * i + 4, wasm_i32x4_shuffle(y0, y1, 2, 6, 3, 7));
        }
    } else {
        for (; i + 4 <= half; i += 4) {
            const v128_t x0 = wasm_v128_load(v + i), x1 = wasm_v128_load(v + half + i);
            const v128_t c = wasm_v128_load(cs + i), s = wasm_v128_load(sn + i);
            wasm_v128_store(v + i, wasm_f32x4_sub(wasm_f32x4_mul(x0, c), wasm_f32x4_mul(x1, s)));
            wasm_v128_store(v + half + i, wasm_f32x4_add(wasm_f32x4_mul(x1, c), wasm_f32x4_mul(x0, s)));
        }
    }
    for (; i < half; i++) {
        const int a = mode == PLM_ROPE_NORM ? 2 * i : i, b = mode == PLM_ROPE_NORM ? 2 * i + 1 : i + half;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * cs[i] - x1 * sn[i];
        v[b] = x1 * cs[i] + x0 * sn[i];
    }
}

/* ------------------------------------------------------------ matmul
 * Tile kernels: rows [r0, r0+RM) of the activations x columns [c, c+RN) of
 * W. RM and RN are compile-time constants at every call site, so the loops
 * unroll and the accumulators live in registers. */

/* Float tail of a row pair: elements [i, k) added in order after the lanes. */
INLINE float tail_f32(const float *w, const float *x, int i, int k, float s) {
    for (; i < k; i++) s += w[i] * x[i];
    return s;
}

INLINE void tile_f32(const op_mm_job *j, int r0, int c0, int RM, int RN) {
    const int k = j->k;
    const float *w[4], *x[4];
    UNROLL
    for (int c = 0; c < RN; c++) w[c] = (const float *)(j->w + (size_t)(c0 + c) * j->w_row_bytes);
    UNROLL
    for (int r = 0; r < RM; r++) x[r] = j->x + (size_t)(r0 + r) * k;
    v128_t acc[4][4];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) acc[r][c] = F4(0.0f);
    int i = 0;
    for (; i + 4 <= k; i += 4) {
        v128_t wv[4];
        UNROLL
        for (int c = 0; c < RN; c++) wv[c] = wasm_v128_load(w[c] + i);
        UNROLL
        for (int r = 0; r < RM; r++) {
            v128_t xv = wasm_v128_load(x[r] + i);
            UNROLL
            for (int c = 0; c < RN; c++) acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(xv, wv[c]));
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) {
            float v = tail_f32(w[c], x[r], i, k, hsum(acc[r][c]));
            if (j->bias) v += j->bias[c0 + c];
            j->y[(size_t)(r0 + r) * j->n + c0 + c] = v;
        }
}

INLINE void tile_bf16(const op_mm_job *j, int r0, int c0, int RM, int RN) {
    const int k = j->k;
    const uint16_t *w[4];
    const float *x[4];
    UNROLL
    for (int c = 0; c < RN; c++) w[c] = (const uint16_t *)(j->w + (size_t)(c0 + c) * j->w_row_bytes);
    UNROLL
    for (int r = 0; r < RM; r++) x[r] = j->x + (size_t)(r0 + r) * k;
    v128_t acc[4][4];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) acc[r][c] = F4(0.0f);
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        v128_t w0[4], w1[4];
        UNROLL
        for (int c = 0; c < RN; c++) {
            v128_t h = wasm_v128_load(w[c] + i);
            w0[c] = lo_halves(h);
            w1[c] = hi_halves(h);
        }
        UNROLL
        for (int r = 0; r < RM; r++) {
            v128_t x0 = wasm_v128_load(x[r] + i), x1 = wasm_v128_load(x[r] + i + 4);
            UNROLL
            for (int c = 0; c < RN; c++) {
                acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(w0[c], x0));
                acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(w1[c], x1));
            }
        }
    }
    if (i + 4 <= k) {
        UNROLL
        for (int c = 0; c < RN; c++) {
            v128_t wv = lo_halves(wasm_v128_load64_zero(w[c] + i));
            UNROLL
            for (int r = 0; r < RM; r++)
                acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(wv, wasm_v128_load(x[r] + i)));
        }
        i += 4;
    }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) {
            float v = hsum(acc[r][c]);
            for (int t = i; t < k; t++) v += plm_bf16_to_fp32(w[c][t]) * x[r][t];
            if (j->bias) v += j->bias[c0 + c];
            j->y[(size_t)(r0 + r) * j->n + c0 + c] = v;
        }
}

/* F16 (m == 1 path): each group of 8 halves is converted with h2f_fast, or
 * with h2f_exact when the group holds a zero, subnormal, Inf or NaN (about 1%
 * of the groups of real weights). Both conversions are exact, so the result
 * does not depend on the path. */
INLINE void tile_f16(const op_mm_job *j, int r0, int c0, int RM, int RN) {
    const int k = j->k;
    const plm_fp16 *w[4];
    const float *x[4];
    UNROLL
    for (int c = 0; c < RN; c++) w[c] = (const plm_fp16 *)(j->w + (size_t)(c0 + c) * j->w_row_bytes);
    UNROLL
    for (int r = 0; r < RM; r++) x[r] = j->x + (size_t)(r0 + r) * k;
    v128_t acc[4][4];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) acc[r][c] = F4(0.0f);
    int i = 0;
    for (; i + 8 <= k; i += 8) {
        v128_t h[4], w0[4], w1[4], special = wasm_i32x4_splat(0);
        UNROLL
        for (int c = 0; c < RN; c++) {
            h[c] = wasm_v128_load(w[c] + i);
            special = wasm_v128_or(special, h_special(h[c]));
        }
        if (__builtin_expect(wasm_v128_any_true(special), 0)) {
            UNROLL
            for (int c = 0; c < RN; c++) {
                w0[c] = h2f_exact(lo_halves(h[c]));
                w1[c] = h2f_exact(hi_halves(h[c]));
            }
        } else {
            UNROLL
            for (int c = 0; c < RN; c++) {
                w0[c] = h2f_fast(lo_halves(h[c]));
                w1[c] = h2f_fast(hi_halves(h[c]));
            }
        }
        UNROLL
        for (int r = 0; r < RM; r++) {
            v128_t x0 = wasm_v128_load(x[r] + i), x1 = wasm_v128_load(x[r] + i + 4);
            UNROLL
            for (int c = 0; c < RN; c++) {
                acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(w0[c], x0));
                acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(w1[c], x1));
            }
        }
    }
    if (i + 4 <= k) {
        UNROLL
        for (int c = 0; c < RN; c++) {
            v128_t wv = h2f_exact(lo_halves(wasm_v128_load64_zero(w[c] + i)));
            UNROLL
            for (int r = 0; r < RM; r++)
                acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(wv, wasm_v128_load(x[r] + i)));
        }
        i += 4;
    }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) {
            float v = hsum(acc[r][c]);
            for (int t = i; t < k; t++) v += plm_fp16_to_fp32(w[c][t]) * x[r][t];
            if (j->bias) v += j->bias[c0 + c];
            j->y[(size_t)(r0 + r) * j->n + c0 + c] = v;
        }
}

/* Weights of `type` (Q8_0, Q4_0, Q5_0, Q4_1, Q5_1; a constant at every call site)
 * x Q8_0 activations. Q5_0 / Q4_1 / Q5_1 blocks are read as raw bytes: d, [m], [qh], qs. */
INLINE void tile_q(const op_mm_job *j, int r0, int c0, int RM, int RN, int type) {
    const int q4 = type == PLM_TYPE_Q4_0;
    const int with_min = type == PLM_TYPE_Q4_1 || type == PLM_TYPE_Q5_1;
    const int legacy = with_min || type == PLM_TYPE_Q5_0;
    const size_t bbytes = legacy ? plm_type_block_bytes(type) : 0;
    const int k = j->k, nb = k / QK8_0;
    const uint8_t *w[4];
    const int16_t *x[4];
    const float *xd[4];
    const int32_t *xs[4];
    UNROLL
    for (int c = 0; c < RN; c++) w[c] = j->w + (size_t)(c0 + c) * j->w_row_bytes;
    UNROLL
    for (int r = 0; r < RM; r++) {
        x[r] = j->xw + (size_t)(r0 + r) * k;
        xd[r] = j->xd + (size_t)(r0 + r) * nb;
        xs[r] = j->xs + (size_t)(r0 + r) * nb * 4;
    }
    v128_t acc[4][4];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) acc[r][c] = F4(0.0f);
    for (int b = 0; b < nb; b++) {
        UNROLL
        for (int c = 0; c < RN; c++) {
            v128_t wv[4];
            float dw;
            float mw = 0.0f;
            if (legacy) {
                const uint8_t *blk = w[c] + (size_t)b * bbytes;
                unpack_legacy_simd(blk, type != PLM_TYPE_Q4_1, with_min, wv);
                dw = g_f16_table[blk[0] | blk[1] << 8];
                if (with_min) mw = g_f16_table[blk[2] | blk[3] << 8];
            } else if (q4) {
                const block_q4_0 *blk = (const block_q4_0 *)w[c] + b;
                if (RM == 1)
                    unpack_q4_0_u(blk, wv); /* one subtraction per block instead of two */
                else
                    unpack_q4_0(blk, wv);
                dw = RM == 1 ? g_f16_table[blk->d] : h2f1(blk->d);
            } else {
                const block_q8_0 *blk = (const block_q8_0 *)w[c] + b;
                unpack_q8_0(blk, wv);
                dw = RM == 1 ? g_f16_table[blk->d] : h2f1(blk->d);
            }
            UNROLL
            for (int r = 0; r < RM; r++) {
                v128_t isum = block_dot(wv, x[r] + b * QK8_0);
                if (q4 && RM == 1) isum = wasm_i32x4_sub(isum, wasm_v128_load(xs[r] + b * 4));
                acc[r][c] = block_acc(acc[r][c], isum, dw * xd[r][b]);
                if (with_min) /* xs holds 8 x the lane sums: exact shift back */
                    acc[r][c] = block_acc(acc[r][c], wasm_i32x4_shr(wasm_v128_load(xs[r] + b * 4), 3), mw * xd[r][b]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) {
            float v = hsum(acc[r][c]);
            if (j->bias) v += j->bias[c0 + c];
            j->y[(size_t)(r0 + r) * j->n + c0 + c] = v;
        }
}

/* A type the type table routes to MM_ROUTE_TILES but `tile` has no case for:
 * NaN outputs, so test_types' SIMD-vs-scalar comparison fails loudly. */
static void tile_nan(const op_mm_job *j, int r0, int c0, int RM, int RN) {
    for (int r = 0; r < RM; r++)
        for (int c = 0; c < RN; c++) j->y[(size_t)(r0 + r) * j->n + c0 + c] = NAN;
}

/* One tile of any type (RM, RN constant at each call site below). */
INLINE void tile(const op_mm_job *j, int r0, int c0, int RM, int RN) {
    switch (j->type) {
    case PLM_TYPE_F32: tile_f32(j, r0, c0, RM, RN); break;
    case PLM_TYPE_F16: tile_f16(j, r0, c0, RM, RN); break;
    case PLM_TYPE_BF16: tile_bf16(j, r0, c0, RM, RN); break;
    case PLM_TYPE_Q5_0: tile_q(j, r0, c0, RM, RN, PLM_TYPE_Q5_0); break;
    case PLM_TYPE_Q4_1: tile_q(j, r0, c0, RM, RN, PLM_TYPE_Q4_1); break;
    case PLM_TYPE_Q5_1: tile_q(j, r0, c0, RM, RN, PLM_TYPE_Q5_1); break;
    default: tile_nan(j, r0, c0, RM, RN); break; /* route TILES without a tile: never stale output */
    }
}

/* Main tile for m > 1: 4 activation rows x 2 weight rows (measured best among
 * 4x2, 4x3, 4x4, 2x4, 3x3 in V8; override with -DMT_M / -DMT_N to experiment). */
#ifndef MT_M
#define MT_M 4
#endif
#ifndef MT_N
#define MT_N 2
#endif
static void tile_1x4(const op_mm_job *j, int r0, int c0) { tile(j, r0, c0, 1, 4); }
static void tile_1x1(const op_mm_job *j, int r0, int c0) { tile(j, r0, c0, 1, 1); }
static void tile_main(const op_mm_job *j, int r0, int c0) { tile(j, r0, c0, MT_M, MT_N); }
static void tile_mx1(const op_mm_job *j, int r0, int c0) { tile(j, r0, c0, MT_M, 1); }
static void tile_1xn(const op_mm_job *j, int r0, int c0) { tile(j, r0, c0, 1, MT_N); }

/* Rows [r0, r1) x columns [c0, c1). */
static void tiles(const op_mm_job *j, int r0, int r1, int c0, int c1) {
    int c = c0;
    if (r1 - r0 == 1) {
        /* A single activation row. F32: 4 weight rows at a time. The other
         * types stream one weight row at a time: with weights coming from DRAM
         * that measured 1.1-1.9x faster in V8 than interleaving 2-4 rows
         * (cache-resident matrices are ~5% slower). */
        if (j->type == PLM_TYPE_F32)
            for (; c + 4 <= c1; c += 4) tile_1x4(j, r0, c);
        for (; c < c1; c++) tile_1x1(j, r0, c);
        return;
    }
    for (; c + MT_N <= c1; c += MT_N) {
        int r = r0;
        for (; r + MT_M <= r1; r += MT_M) tile_main(j, r, c);
        for (; r < r1; r++) tile_1xn(j, r, c);
    }
    for (; c < c1; c++) {
        int r = r0;
        for (; r + MT_M <= r1; r += MT_M) tile_mx1(j, r, c);
        for (; r < r1; r++) tile_1x1(j, r, c);
    }
}

/* Rows [r0, r1) in chunks whose activations fit in ~128 KB (L2), each chunk
 * swept once per column pair. */
static void tiles_chunked(const op_mm_job *j, int c0, int c1) {
    const size_t row_bytes = plm_mm_traits_get(j->type)->act == PLM_ACT_Q8_0 ? (size_t)j->k * sizeof(int16_t)
                                                                             : (size_t)j->k * sizeof(float);
    int chunk = (int)((128u << 10) / row_bytes) & ~3;
    if (chunk < 4) chunk = 4;
    for (int r = 0; r < j->m; r += chunk) tiles(j, r, PLM_MIN(j->m, r + chunk), c0, c1);
}

/* ------------------------------------------------ K-quants x Q8_K
 * One weight row against RM activation rows (RM = 1 or 4, a constant at every
 * call site): each 32- (Q4_K/Q5_K) or 16-weight (Q6_K) sub-block is unpacked
 * once to i16x8 and dotted with every row's Q8_K values (i32x4.dot_i16x8_s),
 * times the sub-block scale, into exact i32x4 sums; the float chain per
 * super-block is ops.h's, so the results equal the scalar twins bit for bit. */

INLINE int32_t hsum_i32(v128_t v) {
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_i32x4_extract_lane(v, 0);
}

INLINE float k_chain(float s, float dw, float dmw, float dx, int32_t isum, int32_t msum) {
    s += (dw * dx) * (float)isum;
    s -= (dmw * dx) * (float)msum;
    return s;
}

/* dot of 16 weights (two i16x8) with 16 int8 activations */
INLINE v128_t dot16(v128_t w0, v128_t w1, const int8_t *y) {
    const v128_t a = wasm_v128_load(y);
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(w0, wasm_i16x8_extend_low_i8x16(a)),
                          wasm_i32x4_dot_i16x8(w1, wasm_i16x8_extend_high_i8x16(a)));
}

/* Q4_K (q5 = 0) / Q5_K (q5 = 1): 8 sub-blocks of 32 with 6-bit scales and mins. */
INLINE void rows_q45_K(const uint8_t *w, const block_q8_K *const *x, int nb, int RM, int q5, float *out) {
    const size_t bytes = q5 ? 176 : 144;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const v128_t m4 = wasm_i8x16_splat(0x0F), one = wasm_i8x16_splat(1);
    for (int b = 0; b < nb; b++, w += bytes) {
        const uint8_t *qs = w + (q5 ? 48 : 16);
        uint8_t sc[8], mn[8];
        for (int s = 0; s < 8; s++) plm_k4_scale_min(s, w + 4, &sc[s], &mn[s]);
        v128_t qh0 = wasm_i32x4_splat(0), qh1 = qh0;
        if (q5) {
            qh0 = wasm_v128_load(w + 16);
            qh1 = wasm_v128_load(w + 32);
        }
        v128_t isum[4];
        UNROLL
        for (int r = 0; r < RM; r++) isum[r] = wasm_i32x4_splat(0);
        for (int g = 0; g < 4; g++) {
            const v128_t q0 = wasm_v128_load(qs + 32 * g), q1 = wasm_v128_load(qs + 32 * g + 16);
            v128_t lo0 = wasm_v128_and(q0, m4), lo1 = wasm_v128_and(q1, m4);
            v128_t hi0 = wasm_u8x16_shr(q0, 4), hi1 = wasm_u8x16_shr(q1, 4);
            if (q5) {
                lo0 = wasm_v128_or(lo0, wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(qh0, 2 * g), one), 4));
                lo1 = wasm_v128_or(lo1, wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(qh1, 2 * g), one), 4));
                hi0 = wasm_v128_or(hi0, wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(qh0, 2 * g + 1), one), 4));
                hi1 = wasm_v128_or(hi1, wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(qh1, 2 * g + 1), one), 4));
            }
            const v128_t l0 = wasm_u16x8_extend_low_u8x16(lo0), l1 = wasm_u16x8_extend_high_u8x16(lo0);
            const v128_t l2 = wasm_u16x8_extend_low_u8x16(lo1), l3 = wasm_u16x8_extend_high_u8x16(lo1);
            const v128_t h0 = wasm_u16x8_extend_low_u8x16(hi0), h1 = wasm_u16x8_extend_high_u8x16(hi0);
            const v128_t h2 = wasm_u16x8_extend_low_u8x16(hi1), h3 = wasm_u16x8_extend_high_u8x16(hi1);
            const v128_t s1 = wasm_i32x4_splat(sc[2 * g]), s2 = wasm_i32x4_splat(sc[2 * g + 1]);
            UNROLL
            for (int r = 0; r < RM; r++) {
                const int8_t *y = x[r][b].qs + 64 * g;
                const v128_t d1 = wasm_i32x4_add(dot16(l0, l1, y), dot16(l2, l3, y + 16));
                const v128_t d2 = wasm_i32x4_add(dot16(h0, h1, y + 32), dot16(h2, h3, y + 48));
                isum[r] = wasm_i32x4_add(isum[r], wasm_i32x4_add(wasm_i32x4_mul(d1, s1), wasm_i32x4_mul(d2, s2)));
            }
        }
        const float dw = h2f1((uint16_t)(w[0] | w[1] << 8)), dmw = h2f1((uint16_t)(w[2] | w[3] << 8));
        UNROLL
        for (int r = 0; r < RM; r++) {
            const int16_t *bs = x[r][b].bsums;
            int32_t msum = 0;
            for (int s = 0; s < 8; s++) msum += mn[s] * ((int32_t)bs[2 * s] + bs[2 * s + 1]);
            acc[r] = k_chain(acc[r], dw, dmw, x[r][b].d, hsum_i32(isum[r]), msum);
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++) out[r] = acc[r];
}

/* Q6_K: two halves of 128; 16 sub-blocks of 16 with int8 scales; q - 32. */
INLINE void rows_q6_K(const uint8_t *w, const block_q8_K *const *x, int nb, int RM, float *out) {
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const v128_t m4 = wasm_i8x16_splat(0x0F), m30 = wasm_i8x16_splat(0x30), k32 = wasm_i8x16_splat(32);
    for (int b = 0; b < nb; b++, w += 210) {
        const int8_t *sc = (const int8_t *)(w + 192);
        v128_t isum[4];
        UNROLL
        for (int r = 0; r < RM; r++) isum[r] = wasm_i32x4_splat(0);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w + 64 * h, *qh = w + 128 + 32 * h;
            const v128_t L0 = wasm_v128_load(ql), L1 = wasm_v128_load(ql + 16);
            const v128_t L2 = wasm_v128_load(ql + 32), L3 = wasm_v128_load(ql + 48);
            const v128_t H0 = wasm_v128_load(qh), H1 = wasm_v128_load(qh + 16);
            v128_t q[4][2];
            q[0][0] = wasm_v128_or(wasm_v128_and(L0, m4), wasm_v128_and(wasm_i8x16_shl(H0, 4), m30));
            q[0][1] = wasm_v128_or(wasm_v128_and(L1, m4), wasm_v128_and(wasm_i8x16_shl(H1, 4), m30));
            q[1][0] = wasm_v128_or(wasm_v128_and(L2, m4), wasm_v128_and(wasm_i8x16_shl(H0, 2), m30));
            q[1][1] = wasm_v128_or(wasm_v128_and(L3, m4), wasm_v128_and(wasm_i8x16_shl(H1, 2), m30));
            q[2][0] = wasm_v128_or(wasm_u8x16_shr(L0, 4), wasm_v128_and(H0, m30));
            q[2][1] = wasm_v128_or(wasm_u8x16_shr(L1, 4), wasm_v128_and(H1, m30));
            q[3][0] = wasm_v128_or(wasm_u8x16_shr(L2, 4), wasm_v128_and(wasm_u8x16_shr(H0, 2), m30));
            q[3][1] = wasm_v128_or(wasm_u8x16_shr(L3, 4), wasm_v128_and(wasm_u8x16_shr(H1, 2), m30));
            for (int t = 0; t < 4; t++)
                for (int u = 0; u < 2; u++) {
                    const v128_t v = wasm_i8x16_sub(q[t][u], k32);
                    const v128_t w0 = wasm_i16x8_extend_low_i8x16(v), w1 = wasm_i16x8_extend_high_i8x16(v);
                    const v128_t s = wasm_i32x4_splat(sc[8 * h + 2 * t + u]);
                    UNROLL
                    for (int r = 0; r < RM; r++)
                        isum[r] = wasm_i32x4_add(isum[r],
                                                 wasm_i32x4_mul(dot16(w0, w1, x[r][b].qs + 128 * h + 32 * t + 16 * u), s));
                }
        }
        const float dw = h2f1((uint16_t)(w[208] | w[209] << 8));
        UNROLL
        for (int r = 0; r < RM; r++) acc[r] = k_chain(acc[r], dw, 0.0f, x[r][b].d, hsum_i32(isum[r]), 0);
    }
    UNROLL
    for (int r = 0; r < RM; r++) out[r] = acc[r];
}

float vec_dot_q4_K_q8_K_simd(const block_q4_K *w, const block_q8_K *x, int n) {
    float out;
    rows_q45_K((const uint8_t *)w, &x, n / QK_K, 1, 0, &out);
    return out;
}
float vec_dot_q5_K_q8_K_simd(const block_q5_K *w, const block_q8_K *x, int n) {
    float out;
    rows_q45_K((const uint8_t *)w, &x, n / QK_K, 1, 1, &out);
    return out;
}
float vec_dot_q6_K_q8_K_simd(const block_q6_K *w, const block_q8_K *x, int n) {
    float out;
    rows_q6_K((const uint8_t *)w, &x, n / QK_K, 1, &out);
    return out;
}

/* ------------------------------- Q2_K / Q3_K / IQ4_XS x Q8_K, IQ4_NL x Q8_0
 * The scalar twins' exact integer sums (ops_scalar.c) in i32x4 lanes, 16
 * weights at a time (dot16), then the same float chain: bit-identical. */

#define LO16(v) wasm_i16x8_extend_low_i8x16(v)
#define HI16(v) wasm_i16x8_extend_high_i8x16(v)
#define DOT16S(v, y) dot16(LO16(v), HI16(v), (y)) /* 16 signed int8 weights */

static inline float rd_h_simd(const uint8_t *p) { return h2f1((uint16_t)(p[0] | p[1] << 8)); }

float vec_dot_q2_K_q8_K_simd(const void *vw, const block_q8_K *x, int n) {
    const uint8_t *w = vw;
    const v128_t m3 = wasm_i8x16_splat(3);
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++, w += 84) {
        const uint8_t *sc = w;
        int32_t msum = 0;
        for (int j = 0; j < 16; j++) msum += (sc[j] >> 4) * x[b].bsums[j];
        v128_t isum = wasm_i32x4_splat(0);
        for (int h = 0; h < 2; h++) {
            const v128_t q0 = wasm_v128_load(w + 16 + 32 * h), q1 = wasm_v128_load(w + 16 + 32 * h + 16);
            const int8_t *y = x[b].qs + 128 * h;
            for (int t = 0; t < 4; t++) {
                const v128_t v0 = wasm_v128_and(wasm_u8x16_shr(q0, 2 * t), m3);
                const v128_t v1 = wasm_v128_and(wasm_u8x16_shr(q1, 2 * t), m3);
                isum = wasm_i32x4_add(isum, wasm_i32x4_mul(DOT16S(v0, y + 32 * t), wasm_i32x4_splat(sc[8 * h + 2 * t] & 0x0F)));
                isum = wasm_i32x4_add(isum,
                                      wasm_i32x4_mul(DOT16S(v1, y + 32 * t + 16), wasm_i32x4_splat(sc[8 * h + 2 * t + 1] & 0x0F)));
            }
        }
        s = k_chain(s, rd_h_simd(w + 80), rd_h_simd(w + 82), x[b].d, hsum_i32(isum), msum);
    }
    return s;
}

float vec_dot_q3_K_q8_K_simd(const void *vw, const block_q8_K *x, int n) {
    const uint8_t *w = vw;
    const v128_t m3 = wasm_i8x16_splat(3), one = wasm_i8x16_splat(1), four = wasm_i8x16_splat(4);
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++, w += 110) {
        int8_t sc[16];
        plm_q3_K_scales(w + 96, sc);
        const v128_t hm0 = wasm_v128_load(w), hm1 = wasm_v128_load(w + 16);
        v128_t isum = wasm_i32x4_splat(0);
        for (int h = 0; h < 2; h++) {
            const v128_t q0 = wasm_v128_load(w + 32 + 32 * h), q1 = wasm_v128_load(w + 32 + 32 * h + 16);
            const int8_t *y = x[b].qs + 128 * h;
            for (int t = 0; t < 4; t++) {
                const int bit = 4 * h + t;
                /* low 2 bits | 4 * high bit, minus 4: [-4, 3] */
                const v128_t h0 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(hm0, bit), one), 2);
                const v128_t h1 = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(hm1, bit), one), 2);
                const v128_t v0 = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(wasm_u8x16_shr(q0, 2 * t), m3), h0), four);
                const v128_t v1 = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(wasm_u8x16_shr(q1, 2 * t), m3), h1), four);
                isum = wasm_i32x4_add(isum, wasm_i32x4_mul(DOT16S(v0, y + 32 * t), wasm_i32x4_splat(sc[8 * h + 2 * t])));
                isum = wasm_i32x4_add(isum, wasm_i32x4_mul(DOT16S(v1, y + 32 * t + 16), wasm_i32x4_splat(sc[8 * h + 2 * t + 1])));
            }
        }
        s = k_chain(s, rd_h_simd(w + 108), 0.0f, x[b].d, hsum_i32(isum), 0);
    }
    return s;
}

/* 32 IQ4 codes (16 bytes: low nibbles = elements 0-15, high = 16-31) as levels, dotted with y[32] */
INLINE v128_t iq4_dot32(v128_t kv, const uint8_t *qs, const int8_t *y) {
    const v128_t q = wasm_v128_load(qs), m4 = wasm_i8x16_splat(0x0F);
    const v128_t lo = wasm_i8x16_swizzle(kv, wasm_v128_and(q, m4)), hi = wasm_i8x16_swizzle(kv, wasm_u8x16_shr(q, 4));
    return wasm_i32x4_add(DOT16S(lo, y), DOT16S(hi, y + 16));
}

float vec_dot_iq4_xs_q8_K_simd(const void *vw, const block_q8_K *x, int n) {
    const uint8_t *w = vw;
    const v128_t kv = wasm_v128_load(plm_kvalues_iq4nl);
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++, w += 136) {
        v128_t isum = wasm_i32x4_splat(0);
        for (int ib = 0; ib < 8; ib++)
            isum = wasm_i32x4_add(isum, wasm_i32x4_mul(iq4_dot32(kv, w + 8 + 16 * ib, x[b].qs + 32 * ib),
                                                       wasm_i32x4_splat(plm_iq4_xs_scale(w, ib) - 32)));
        s = k_chain(s, rd_h_simd(w), 0.0f, x[b].d, hsum_i32(isum), 0);
    }
    return s;
}

float vec_dot_iq4_nl_q8_0_simd(const void *vw, const block_q8_0 *x8, int n) {
    const uint8_t *w = vw;
    const v128_t kv = wasm_v128_load(plm_kvalues_iq4nl);
    float s = 0.0f;
    for (int b = 0; b < n / 32; b++, w += 18)
        s = s + (float)hsum_i32(iq4_dot32(kv, w + 2, x8[b].qs)) * (rd_h_simd(w) * h2f1(x8[b].d));
    return s;
}

/* quantize_row_q8_K_act_scalar's numbers: the first value of largest magnitude
 * maps to -127; nearest_int as ggml's (add 1.5 * 2^23, read the mantissa). */
void quantize_row_q8_K_act_simd(const float *x, block_q8_K *y, int n) {
    for (int b = 0; b < n / QK_K; b++, x += QK_K) {
        v128_t m = F4(0.0f);
        for (int j = 0; j < QK_K; j += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(x + j)));
        m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
        m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
        const float amax = wasm_f32x4_extract_lane(m, 0);
        if (!amax) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        int first = 0;
        while (fabsf(x[first]) != amax) first++;
        const float iscale = -127.f / x[first];
        const v128_t vis = F4(iscale), magic = F4(12582912.0f);
        for (int j = 0; j < QK_K; j += 16) {
            v128_t q[4];
            UNROLL
            for (int t = 0; t < 4; t++) {
                const v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(x + j + 4 * t), vis), magic);
                q[t] = wasm_i32x4_min(wasm_i32x4_sub(wasm_v128_and(v, I4(0x007fffff)), I4(0x00400000)), I4(127));
            }
            const v128_t q8 = wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(q[0], q[1]), wasm_i16x8_narrow_i32x4(q[2], q[3]));
            wasm_v128_store(y[b].qs + j, q8);
            y[b].bsums[j / 16] = (int16_t)hsum_i32(wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extadd_pairwise_i8x16(q8)));
        }
        y[b].d = 1 / iscale;
    }
}

static void kquant_rows(const op_mm_job *j, int r0, int c, int RM) {
    const int nb = j->k / QK_K;
    const uint8_t *w = j->w + (size_t)c * j->w_row_bytes;
    const block_q8_K *x[4];
    float out[4];
    for (int r = 0; r < RM; r++) x[r] = j->xk + (size_t)(r0 + r) * nb;
    switch (j->type) {
    case PLM_TYPE_Q4_K:
        if (RM == 4) rows_q45_K(w, x, nb, 4, 0, out);
        else rows_q45_K(w, x, nb, 1, 0, out);
        break;
    case PLM_TYPE_Q5_K:
        if (RM == 4) rows_q45_K(w, x, nb, 4, 1, out);
        else rows_q45_K(w, x, nb, 1, 1, out);
        break;
    case PLM_TYPE_Q6_K:
        if (RM == 4) rows_q6_K(w, x, nb, 4, out);
        else rows_q6_K(w, x, nb, 1, out);
        break;
    default: /* route KROWS without rows here: NaN, never another type's numbers */
        for (int r = 0; r < RM; r++) out[r] = NAN;
        break;
    }
    for (int r = 0; r < RM; r++) j->y[(size_t)(r0 + r) * j->n + c] = j->bias ? out[r] + j->bias[c] : out[r];
}

/* Rows in chunks whose Q8_K activations fit in ~128 KB, 4 at a time. */
static void tiles_kquant(const op_mm_job *j, int c0, int c1) {
    const size_t row_bytes = (size_t)(j->k / QK_K) * sizeof(block_q8_K);
    int chunk = (int)((128u << 10) / row_bytes) & ~3;
    if (chunk < 4) chunk = 4;
    for (int rc = 0; rc < j->m; rc += chunk) {
        const int r1 = PLM_MIN(j->m, rc + chunk);
        for (int c = c0; c < c1; c++) {
            int r = rc;
            for (; r + 4 <= r1; r += 4) kquant_rows(j, r, c, 4);
            for (; r < r1; r++) kquant_rows(j, r, c, 1);
        }
    }
}

/* The sweep the type table names (op_matmul checked the entry and its SIMD dot). */
void matmul_range_simd(const op_mm_job *j, int c0, int c1, float *tmp) {
    (void)tmp;
    const plm_mm_traits *t = plm_mm_traits_get(j->type);
    switch (t->route) {
    case MM_ROUTE_KROWS: tiles_kquant(j, c0, c1); break;
    case MM_ROUTE_TILES: tiles_chunked(j, c0, c1); break; /* float m > 1: gemm_f_range_simd instead */
    default: matmul_range_dot(j, c0, c1, t->act, t->dot_simd); break;
    }
}

#endif /* __wasm_simd128__ */
