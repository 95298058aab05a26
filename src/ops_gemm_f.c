/* ops_gemm_f.c — float-weight GEMM for m > 1 (F32 / F16 / BF16 weights), SIMD128.
 *
 * y[m][n] = x[m][k] . W^T (+ bias), the prefill / batch case. Same numbers as the
 * m == 1 kernels and the scalar twin (matmul_range_scalar): every output is one
 * canonical float dot (ops.h, "Summation order": 4 interleaved lane sums along k,
 * combined as (s0 + s2) + (s1 + s3), then the k % 4 tail in order, then the bias).
 * Only the order in which outputs are computed changes, never the arithmetic of one
 * output, so m == 1 / m > 1 / any tile position / any thread count agree bit for bit.
 *
 * Structure (classic packed GEMM, adapted to k-lane accumulators):
 *   - x is packed once per call into row panels of GF_MR rows: for each group of 4
 *     k-elements, the panel's rows' 4 floats back to back (gemm_f_pack_a_simd);
 *   - each task packs GF_NR weight rows at a time into the same layout (F16 / BF16
 *     widened to float32 here, once per panel and row chunk, not per token);
 *   - a register tile of GF_MR x GF_NR f32x4 accumulators walks both panels with one
 *     pointer each (loads with constant offsets: little address arithmetic in V8);
 *   - rows are taken in chunks whose packed activations stay in L2 while every
 *     weight panel of the task's column range passes over them.
 * V8 on x64 has 16 xmm registers (one reserved as scratch): GF_MR x GF_NR
 * accumulators + GF_NR weight vectors + 1 activation + 1 product must fit.
 */
#if defined(__wasm_simd128__)
#include <math.h>
#include <string.h>
#include <wasm_simd128.h>

#include "common.h"
#include "ops.h"
#include "ops_simd_util.h"

/* Packed activations per row chunk. 256 KB -> 512 KB measured 1.17x on 128 x 768 x 3072
 * (fewer re-packs of the weight panels), same on k = 768; 1 MB no better. Keeps L2 of
 * 1 MB+ (Zen 4, recent Intel) for the chunk plus the streaming weight panels. */
#ifndef GF_CHUNK_BYTES
#define GF_CHUNK_BYTES (512u << 10)
#endif

/* ---------------------------------------------------------------- packing */

/* Rows [0, m) of x (row length k) into panels: rows [r0, r0 + h) with h =
 * min(GF_MR, m - r0) at pa + r0 * k4, element (s, r) = x[r0 + r][4s .. 4s + 3]
 * at pa + r0 * k4 + (s * h + r) * 4. k4 = k & ~3. */
void gemm_f_pack_a_simd(float *pa, const float *x, int m, int k) {
    const int k4 = k & ~3, steps = k4 / 4;
    for (int r0 = 0; r0 < m; r0 += GF_MR) {
        const int h = PLM_MIN(GF_MR, m - r0);
        float *p = pa + (size_t)r0 * k4;
        for (int r = 0; r < h; r++) {
            const float *xr = x + (size_t)(r0 + r) * k;
            for (int s = 0; s < steps; s++) wasm_v128_store(p + ((size_t)s * h + r) * 4, wasm_v128_load(xr + 4 * s));
        }
    }
}

/* Weight rows [c, c + h) widened to float32 in the panel layout above. */
static void pack_b(float *pb, const op_mm_job *j, int c, int h) {
    const int k4 = j->k & ~3, steps = k4 / 4;
    for (int r = 0; r < h; r++) {
        const uint8_t *wr = j->w + (size_t)(c + r) * j->w_row_bytes;
        float *p = pb + (size_t)r * 4;
        const size_t st = (size_t)h * 4; /* floats between consecutive steps of one row */
        int s = 0;
        switch (j->type) {
        case PLM_TYPE_F32: {
            const float *w = (const float *)wr;
            for (; s < steps; s++) wasm_v128_store(p + s * st, wasm_v128_load(w + 4 * s));
            break;
        }
        case PLM_TYPE_F16: {
            /* h2f_fast unless the 8 halves hold a zero, subnormal, Inf or NaN; both exact */
            const uint16_t *w = (const uint16_t *)wr;
            for (; s + 2 <= steps; s += 2) {
                const v128_t h8 = wasm_v128_load(w + 4 * s);
                v128_t lo, hi;
                if (__builtin_expect(wasm_v128_any_true(h_special(h8)), 0)) {
                    lo = h2f_exact(lo_halves(h8));
                    hi = h2f_exact(hi_halves(h8));
                } else {
                    lo = h2f_fast(lo_halves(h8));
                    hi = h2f_fast(hi_halves(h8));
                }
                wasm_v128_store(p + s * st, lo);
                wasm_v128_store(p + (s + 1) * st, hi);
            }
            if (s < steps) wasm_v128_store(p + s * st, h2f_exact(lo_halves(wasm_v128_load64_zero(w + 4 * s))));
            break;
        }
        case PLM_TYPE_BF16: {
            const uint16_t *w = (const uint16_t *)wr;
            for (; s + 2 <= steps; s += 2) {
                const v128_t h8 = wasm_v128_load(w + 4 * s);
                wasm_v128_store(p + s * st, lo_halves(h8));
                wasm_v128_store(p + (s + 1) * st, hi_halves(h8));
            }
            if (s < steps) wasm_v128_store(p + s * st, lo_halves(wasm_v128_load64_zero(w + 4 * s)));
            break;
        }
        default: /* a type routed to MM_GEMM_FLOAT without a case here: NaN, never stale data */
            for (; s < steps; s++) wasm_v128_store(p + s * st, wasm_f32x4_splat(NAN));
            break;
        }
    }
}

static float weight_at(const op_mm_job *j, int c, int i) {
    const uint8_t *wr = j->w + (size_t)c * j->w_row_bytes;
    switch (j->type) {
    case PLM_TYPE_F32: return ((const float *)wr)[i];
    case PLM_TYPE_F16: return plm_fp16_to_fp32(((const plm_fp16 *)wr)[i]);
    case PLM_TYPE_BF16: return plm_bf16_to_fp32(((const uint16_t *)wr)[i]);
    default: return NAN; /* routed here by the type table without a case: test_types fails */
    }
}

/* ---------------------------------------------------------------- tiles */

/* Rows [r0, r0 + RM) x columns [c0, c0 + RN); RM, RN constants at each call site. */
INLINE void tile(const op_mm_job *j, const float *pa, const float *pb, int r0, int c0, int RM, int RN) {
    const int k = j->k, k4 = k & ~3, steps = k4 / 4;
    v128_t acc[GF_MR][GF_NR];
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int c = 0; c < RN; c++) acc[r][c] = F4(0.0f);
    const float *a = pa, *b = pb;
    for (int s = 0; s < steps; s++, a += 4 * RM, b += 4 * RN) {
        v128_t bv[GF_NR];
        UNROLL
        for (int c = 0; c < RN; c++) bv[c] = wasm_v128_load(b + 4 * c);
        UNROLL
        for (int r = 0; r < RM; r++) {
            const v128_t av = wasm_v128_load(a + 4 * r);
            UNROLL
            for (int c = 0; c < RN; c++) acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(av, bv[c]));
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++) {
        const float *xr = j->x + (size_t)(r0 + r) * k;
        UNROLL
        for (int c = 0; c < RN; c++) {
            float v = hsum(acc[r][c]);
            for (int i = k4; i < k; i++) v += weight_at(j, c0 + c, i) * xr[i];
            if (j->bias) v += j->bias[c0 + c];
            j->y[(size_t)(r0 + r) * j->n + c0 + c] = v;
        }
    }
}

/* All (RM, RN) up to (GF_MR, GF_NR) as constants. */
#define GF_T(RM, RN)                                                            \
    case (RM) * 8 + (RN):                                                       \
        if ((RM) <= GF_MR && (RN) <= GF_NR) tile(j, pa, pb, r0, c0, (RM), (RN)); \
        break;
#define GF_ROW(RM) GF_T(RM, 1) GF_T(RM, 2) GF_T(RM, 3) GF_T(RM, 4) GF_T(RM, 5) GF_T(RM, 6)

static void tile_any(const op_mm_job *j, const float *pa, const float *pb, int r0, int c0, int rm, int rn) {
    switch (rm * 8 + rn) {
        GF_ROW(1) GF_ROW(2) GF_ROW(3) GF_ROW(4) GF_ROW(5) GF_ROW(6)
    default: break;
    }
}

/* Columns [c0, c1) of all rows. pa: gemm_f_pack_a_simd(x); pb: GF_NR * (k & ~3) floats. */
void gemm_f_range_simd(const op_mm_job *j, const float *pa, int c0, int c1, float *pb) {
    const int k4 = j->k & ~3;
    /* row chunk: packed activations of about GF_CHUNK_BYTES, a multiple of GF_MR rows */
    int chunk = (int)(GF_CHUNK_BYTES / ((size_t)(k4 > 0 ? k4 : 4) * sizeof(float)));
    chunk = PLM_MAX(GF_MR, chunk - chunk % GF_MR);
    for (int rc = 0; rc < j->m; rc += chunk) {
        const int re = PLM_MIN(j->m, rc + chunk);
        for (int c = c0; c < c1; c += GF_NR) {
            const int rn = PLM_MIN(GF_NR, c1 - c);
            pack_b(pb, j, c, rn);
            for (int r = rc; r < re; r += GF_MR)
                tile_any(j, pa + (size_t)r * k4, pb, r, c, PLM_MIN(GF_MR, re - r), rn);
        }
    }
}

#endif /* __wasm_simd128__ */
