/* ops_kgemm.c — the K-quant GEMM: Q4_K / Q5_K / Q6_K weights x Q8_K
 * activations for m > 1 (prompt processing, encoders), a scalar reference and
 * a SIMD128 twin (i32x4.dot_i16x8_s), bit-identical to each other and to the
 * m = 1 kernels vec_dot_q{4,5,6}_K_q8_K (ops.h's K-quant order).
 *
 * Weights stay in ggml's row layout in memory. Per task, a panel of KP = 4
 * weight rows is unpacked once per chunk of activation rows into a scratch
 * panel (kgemm_unpack_panel): per super-block, the 256 quants of each row
 * times their sub-block scale as int16 (Q4_K |q*sc| <= 15*63, Q5_K 31*63,
 * Q6_K 32*128: all fit), interleaved as 16-element groups of 4 rows x 4 k
 * (the layout of the Q8_0 panels of ops_qgemm.c: the i32 lanes of a dot are
 * output rows, no horizontal sums), the sub-block mins as int16 in pairs
 * (4 rows x 2 sub-blocks per 8 lanes) and d / dmin as float. Then
 *   isum = sum_l (sc_s(l) * q_l) * y_l = sum_s sc_s * (sum_{l in s} q_l * y_l)
 *   msum = sum_s min_s * (sum of y over sub-block s)
 * are the exact integers of the m = 1 kernel (integer sums are order-free),
 * and the float chain per super-block, in order, is the same:
 *   s = s + (d_w * d_x) * (float)isum;  s = s - (dmin_w * d_x) * (float)msum;
 * (Q6_K: dmin_w = 0, msum = 0, as vec_dot_q6_K_q8_K_scalar). */
#include <string.h>

#include "common.h"
#include "ops.h"
#include "quant.h"
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

#define KP 4 /* weight rows per panel */

/* Unpacked panel super-block: int16 q[64 groups][4 rows][4 k], int16 mn[4 pairs][4 rows][2],
 * float dw[4], dmw[4]. */
#define PSB_Q 0
#define PSB_MN (KP * 256 * 2)
#define PSB_D (PSB_MN + KP * 8 * 2)
#define PSB_BYTES (PSB_D + 2 * KP * 4)

static size_t al64(size_t n) { return (n + 63) & ~(size_t)63; }

static inline int q_off(int r, int l) { return (l / 4) * 16 + r * 4 + l % 4; }
static inline int mn_off(int r, int s) { return (s / 2) * 8 + r * 2 + s % 2; }

size_t kgemm_panel_bytes(int k) { return al64((size_t)(k / QK_K) * PSB_BYTES); }

size_t kgemm_act_bytes(int m, int k, int simd) {
    const size_t nb = (size_t)k / QK_K;
    size_t s = al64((size_t)m * nb * sizeof(block_q8_K)) + al64((size_t)m * nb * 8 * sizeof(int16_t));
    if (simd) s += al64((size_t)m * k * sizeof(int16_t));
    return s;
}

void kgemm_prepare_act(op_kmm_job *j, const float *x, uint8_t *s, int simd) {
    const int m = j->m, k = j->k, nb = k / QK_K;
    block_q8_K *xk = (block_q8_K *)s;
    s += al64((size_t)m * nb * sizeof(block_q8_K));
    int16_t *xb = (int16_t *)s;
    s += al64((size_t)m * nb * 8 * sizeof(int16_t));
    int16_t *xw = simd ? (int16_t *)s : NULL;
    for (int r = 0; r < m; r++) {
#if PLM_HAVE_SIMD
        if (simd)
            quantize_row_q8_K_act_simd(x + (size_t)r * k, xk + (size_t)r * nb, k);
        else
#endif
            quantize_row_q8_K_act_scalar(x + (size_t)r * k, xk + (size_t)r * nb, k);
    }
    for (size_t b = 0; b < (size_t)m * nb; b++) {
        for (int sb = 0; sb < 8; sb++) xb[b * 8 + sb] = (int16_t)(xk[b].bsums[2 * sb] + xk[b].bsums[2 * sb + 1]);
        if (xw)
            for (int i = 0; i < QK_K; i++) xw[b * QK_K + i] = xk[b].qs[i];
    }
    j->xk = xk;
    j->xb = xb;
    j->xw = xw;
}

/* Row c + r's super-block b (nr <= 4 rows; the others zero) unpacked into
 * `panel`: the 256 scaled quants decoded in plain loops (vectorized by the
 * compiler), then interleaved 4 k at a time. */
static void kgemm_unpack_panel(const op_kmm_job *j, int c, int nr, uint8_t *panel) {
    const int nb = j->k / QK_K;
    if (nr < KP) memset(panel, 0, (size_t)nb * PSB_BYTES);
    int16_t tmp[QK_K];
    for (int r = 0; r < nr; r++) {
        const uint8_t *w = j->w + (size_t)(c + r) * j->w_row_bytes;
        for (int b = 0; b < nb; b++) {
            uint8_t *p = panel + (size_t)b * PSB_BYTES;
            int16_t *q = (int16_t *)(p + PSB_Q), *mn = (int16_t *)(p + PSB_MN);
            float *dw = (float *)(p + PSB_D), *dmw = dw + KP;
            if (j->type == PLM_TYPE_Q6_K) {
                const block_q6_K *B = (const block_q6_K *)w + b;
                for (int h = 0; h < 2; h++)
                    for (int t = 0; t < 4; t++) {
                        const uint8_t *L = B->ql + 64 * h + (t & 1) * 32, *H = B->qh + 32 * h;
                        const int ls = t < 2 ? 0 : 4, hs = 2 * t;
                        for (int u = 0; u < 2; u++) {
                            const int sc = B->scales[8 * h + 2 * t + u];
                            int16_t *o = tmp + 128 * h + 32 * t + 16 * u;
                            for (int i = 0; i < 16; i++) {
                                const int l2 = 16 * u + i;
                                o[i] = (int16_t)(((((L[l2] >> ls) & 0x0F) | ((H[l2] >> hs) & 3) << 4) - 32) * sc);
                            }
                        }
                    }
                dw[r] = plm_fp16_to_fp32(B->d);
                dmw[r] = 0.0f;
            } else {
                const int q5 = j->type == PLM_TYPE_Q5_K;
                const uint8_t *scales, *qs, *qh = NULL;
                plm_fp16 d, dmin;
                if (q5) {
                    const block_q5_K *B = (const block_q5_K *)w + b;
                    scales = B->scales, qs = B->qs, qh = B->qh, d = B->d, dmin = B->dmin;
                } else {
                    const block_q4_K *B = (const block_q4_K *)w + b;
                    scales = B->scales, qs = B->qs, d = B->d, dmin = B->dmin;
                }
                for (int s = 0; s < 8; s++) {
                    uint8_t sc, m;
                    plm_k4_scale_min(s, scales, &sc, &m);
                    mn[mn_off(r, s)] = m;
                    const uint8_t *Q = qs + 32 * (s / 2);
                    const int ls = (s & 1) * 4;
                    int16_t *o = tmp + 32 * s;
                    if (q5)
                        for (int i = 0; i < 32; i++)
                            o[i] = (int16_t)((((Q[i] >> ls) & 0x0F) | ((qh[i] >> s) & 1) << 4) * sc);
                    else
                        for (int i = 0; i < 32; i++) o[i] = (int16_t)(((Q[i] >> ls) & 0x0F) * sc);
                }
                dw[r] = plm_fp16_to_fp32(d);
                dmw[r] = plm_fp16_to_fp32(dmin);
            }
            for (int g = 0; g < QK_K / 4; g++) memcpy(q + 16 * g + 4 * r, tmp + 4 * g, 4 * sizeof(int16_t));
        }
    }
}

static inline void store_row(const op_kmm_job *j, int t, int c, float v) {
    if (j->bias) v += j->bias[c];
    j->y[(size_t)t * j->n + c] = v;
}

/* Token chunk: activations of ~KG_CHUNK_KB per chunk (at least 64 rows), each
 * unpacked panel reused for all of them. */
#ifndef KG_CHUNK_KB
#define KG_CHUNK_KB 512
#endif
static int chunk_rows(const op_kmm_job *j, size_t row_bytes) {
    (void)j;
    int chunk = (int)(((size_t)KG_CHUNK_KB << 10) / row_bytes) & ~3;
    return chunk < 64 ? 64 : chunk;
}

/* ---------------------------------------------------------------- scalar */

void kgemm_range_scalar(const op_kmm_job *j, int c0, int c1, uint8_t *panel) {
    const int nb = j->k / QK_K;
    const int chunk = chunk_rows(j, (size_t)nb * sizeof(block_q8_K));
    for (int t0 = 0; t0 < j->m; t0 += chunk) {
        const int t1 = PLM_MIN(j->m, t0 + chunk);
        for (int c = c0; c < c1; c += KP) {
            const int nr = PLM_MIN(KP, c1 - c);
            kgemm_unpack_panel(j, c, nr, panel);
            for (int t = t0; t < t1; t++) {
                const block_q8_K *x = j->xk + (size_t)t * nb;
                const int16_t *xb = j->xb + (size_t)t * nb * 8;
                for (int r = 0; r < nr; r++) {
                    float s = 0.0f;
                    for (int b = 0; b < nb; b++) {
                        const uint8_t *p = panel + (size_t)b * PSB_BYTES;
                        const int16_t *q = (const int16_t *)(p + PSB_Q), *mn = (const int16_t *)(p + PSB_MN);
                        const float *dw = (const float *)(p + PSB_D), *dmw = dw + KP;
                        int32_t isum = 0, msum = 0;
                        for (int l = 0; l < QK_K; l++) isum += q[q_off(r, l)] * x[b].qs[l];
                        for (int sb = 0; sb < 8; sb++) msum += mn[mn_off(r, sb)] * xb[8 * b + sb];
                        s += (dw[r] * x[b].d) * (float)isum;
                        s -= (dmw[r] * x[b].d) * (float)msum;
                    }
                    store_row(j, t, c + r, s);
                }
            }
        }
    }
}

#if defined(__wasm_simd128__)
/* ------------------------------------------------------------------ SIMD */

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")

/* One unpacked panel x TT activation rows (t0..): per 4-k group, the rows-0-1
 * and rows-2-3 int16 weights dotted with the 4 activations broadcast; the
 * lane pairs are added once per super-block; mins likewise per sub-block pair. */
INLINE void tile_simd(const op_kmm_job *j, const uint8_t *panel, int c, int nr, int t0, const int TT) {
    const int nb = j->k / QK_K;
    const int16_t *x[4], *xb[4];
    const block_q8_K *xk[4];
    UNROLL
    for (int t = 0; t < TT; t++) {
        x[t] = j->xw + (size_t)(t0 + t) * j->k;
        xb[t] = j->xb + (size_t)(t0 + t) * nb * 8;
        xk[t] = j->xk + (size_t)(t0 + t) * nb;
    }
    v128_t acc[4];
    UNROLL
    for (int t = 0; t < TT; t++) acc[t] = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        const uint8_t *p = panel + (size_t)b * PSB_BYTES;
        const int16_t *q = (const int16_t *)(p + PSB_Q), *mn = (const int16_t *)(p + PSB_MN);
        v128_t lo[4], hi[4];
        UNROLL
        for (int t = 0; t < TT; t++) lo[t] = hi[t] = wasm_i32x4_splat(0);
#pragma clang loop unroll_count(4)
        for (int g = 0; g < 64; g++) {
            const v128_t wl = wasm_v128_load(q + 16 * g), wh = wasm_v128_load(q + 16 * g + 8);
            UNROLL
            for (int t = 0; t < TT; t++) {
                const v128_t xv = wasm_v128_load64_splat(x[t] + QK_K * b + 4 * g);
                lo[t] = wasm_i32x4_add(lo[t], wasm_i32x4_dot_i16x8(wl, xv));
                hi[t] = wasm_i32x4_add(hi[t], wasm_i32x4_dot_i16x8(wh, xv));
            }
        }
        const v128_t m0 = wasm_v128_load(mn), m1 = wasm_v128_load(mn + 8);
        const v128_t m2 = wasm_v128_load(mn + 16), m3 = wasm_v128_load(mn + 24);
        const v128_t dw = wasm_v128_load(p + PSB_D), dmw = wasm_v128_load(p + PSB_D + 16);
        UNROLL
        for (int t = 0; t < TT; t++) {
            const int16_t *bs = xb[t] + 8 * b;
            const v128_t isum = wasm_i32x4_add(wasm_i32x4_shuffle(lo[t], hi[t], 0, 2, 4, 6),
                                               wasm_i32x4_shuffle(lo[t], hi[t], 1, 3, 5, 7));
            const v128_t msum =
                wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(m0, wasm_v128_load32_splat(bs)),
                                              wasm_i32x4_dot_i16x8(m1, wasm_v128_load32_splat(bs + 2))),
                               wasm_i32x4_add(wasm_i32x4_dot_i16x8(m2, wasm_v128_load32_splat(bs + 4)),
                                              wasm_i32x4_dot_i16x8(m3, wasm_v128_load32_splat(bs + 6))));
            const v128_t dx = wasm_f32x4_splat(xk[t][b].d);
            acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_mul(dw, dx), wasm_f32x4_convert_i32x4(isum)));
            acc[t] = wasm_f32x4_sub(acc[t], wasm_f32x4_mul(wasm_f32x4_mul(dmw, dx), wasm_f32x4_convert_i32x4(msum)));
        }
    }
    UNROLL
    for (int t = 0; t < TT; t++) {
        if (nr == KP) {
            v128_t s = acc[t];
            if (j->bias) s = wasm_f32x4_add(s, wasm_v128_load(j->bias + c));
            wasm_v128_store(j->y + (size_t)(t0 + t) * j->n + c, s);
        } else {
            float o[4];
            wasm_v128_store(o, acc[t]);
            for (int r = 0; r < nr; r++) store_row(j, t0 + t, c + r, o[r]);
        }
    }
}

static void tile_any(const op_kmm_job *j, const uint8_t *panel, int c, int nr, int t0, int tt) {
    switch (tt) {
    case 4: tile_simd(j, panel, c, nr, t0, 4); break;
    case 3: tile_simd(j, panel, c, nr, t0, 3); break;
    case 2: tile_simd(j, panel, c, nr, t0, 2); break;
    default: tile_simd(j, panel, c, nr, t0, 1); break;
    }
}

void kgemm_range_simd(const op_kmm_job *j, int c0, int c1, uint8_t *panel) {
    const int chunk = chunk_rows(j, (size_t)j->k * sizeof(int16_t));
    for (int t0 = 0; t0 < j->m; t0 += chunk) {
        const int t1 = PLM_MIN(j->m, t0 + chunk);
        for (int c = c0; c < c1; c += KP) {
            const int nr = PLM_MIN(KP, c1 - c);
            kgemm_unpack_panel(j, c, nr, panel);
            for (int t = t0; t < t1; t += 4) tile_any(j, panel, c, nr, t, PLM_MIN(4, t1 - t));
        }
    }
}
#endif /* __wasm_simd128__ */
