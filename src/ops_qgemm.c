/* ops_qgemm.c — the quantized GEMM: Q8_0 / Q4_0 weights x Q8_0 activations
 * for any m (decode m = 1 and prefill / batches alike), three bit-identical
 * variants: scalar (the reference), SIMD128 (i32x4.dot_i16x8_s) and relaxed
 * SIMD (i32x4.relaxed_dot_i8x16_i7x16_add_s, compiled only when
 * __wasm_relaxed_simd__ is defined).
 *
 * Weights are repacked once at load into 4-row panels (plm_tensor_pack_for_matmul,
 * layout in ops.h): each 16-byte group holds 4 consecutive k of 4 rows, so the
 * four i32 lanes of a dot product are four output rows, the activations are
 * broadcast and no horizontal sums are needed. A tile is one panel x up to 4
 * activation rows; per 32-block it forms each output's exact integer dot, then
 * adds (float)isum * (d_w * d_x) to that output's float sum (ops.h's order),
 * so every variant, m and thread split gives the same bits.
 *
 * Relaxed dots are deterministic only with the second operand in 0..127: the
 * Q4_0 kernel uses the weight codes (0..15) there and subtracts 8 * sum(x) per
 * block; the Q8_0 kernel uses |x| there and xors x's sign onto the weights
 * (panel_relaxed8). Both are exact integer arithmetic.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops.h"
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#include "ops_simd_util.h"
#endif

#define QP 4            /* rows per panel */
#define PB_Q8 (QP * 34) /* panel-block bytes */
#define PB_Q4 (QP * 18)

static size_t al64(size_t n) { return (n + 63) & ~(size_t)63; }

static size_t panel_block_bytes(int type) { return type == PLM_TYPE_Q8_0 ? PB_Q8 : PB_Q4; }

/* ------------------------------------------------------------ packing */

/* Panel-block byte offset (from the start of the quants, after d[4]) and, for
 * Q4_0, the nibble (0 low, 4 high) of element j (0..31) of row r (0..3). */
static inline int q8_off(int r, int j) { return (j / 4) * 16 + r * 4 + j % 4; }
static inline int q4_off(int r, int j) { return (j / 8) * 16 + r * 4 + j % 4; }
static inline int q4_shift(int j) { return (j % 8) / 4 * 4; }

/* Row-layout block of row r (0..3) from panel-block pb. */
static void unpack_block(int type, const uint8_t *pb, int r, uint8_t *blk) {
    memcpy(blk, pb + 2 * r, 2); /* d */
    const uint8_t *q = pb + 2 * QP;
    if (type == PLM_TYPE_Q8_0) {
        for (int j = 0; j < 32; j++) blk[2 + j] = q[q8_off(r, j)];
    } else { /* Q4_0: element j < 16 in the low nibble of qs[j], j >= 16 high of qs[j - 16] */
        for (int j = 0; j < 16; j++) {
            const int lo = q[q4_off(r, j)] >> q4_shift(j) & 15, hi = q[q4_off(r, j + 16)] >> q4_shift(j + 16) & 15;
            blk[2 + j] = (uint8_t)(lo | hi << 4);
        }
    }
}

static void pack_block(int type, const uint8_t *const rows[QP], uint8_t *pb) {
    uint8_t *q = pb + 2 * QP;
    for (int r = 0; r < QP; r++) memcpy(pb + 2 * r, rows[r], 2);
    if (type == PLM_TYPE_Q8_0) {
        for (int r = 0; r < QP; r++)
            for (int j = 0; j < 32; j++) q[q8_off(r, j)] = rows[r][2 + j];
    } else {
        memset(q, 0, 64);
        for (int r = 0; r < QP; r++)
            for (int j = 0; j < 32; j++) {
                const int code = j < 16 ? rows[r][2 + j] & 15 : rows[r][2 + j - 16] >> 4;
                q[q4_off(r, j)] |= (uint8_t)(code << q4_shift(j));
            }
    }
}

int plm_tensor_pack_for_matmul(plm_tensor *W) {
    if (!W || !W->data || W->layout != PLM_LAYOUT_ROWS) return PLM_OK;
    const plm_mm_traits *t = plm_mm_traits_get(W->type);
    if (!t || !t->panel4) return PLM_OK; /* the type table says which types have a panel layout */
    if (W->ne[0] <= 0 || W->ne[0] % 32 || W->ne[1] < QP || W->ne[2] != 1 || W->ne[3] != 1) return PLM_OK;
    const size_t rb = plm_type_row_bytes(W->type, W->ne[0]), pbb = panel_block_bytes(W->type);
    if (W->nbytes && W->nbytes < rb * (uint64_t)W->ne[1]) return PLM_OK; /* op_matmul reports it */
    const int nb = (int)(W->ne[0] / 32);
    uint8_t *tmp = plm_malloc_for(QP * rb, "matmul weight repacking");
    if (!tmp) return PLM_E_NOMEM;
    const int64_t np = W->ne[1] / QP;
    for (int64_t p = 0; p < np; p++) {
        uint8_t *dst = (uint8_t *)W->data + (size_t)p * QP * rb;
        memcpy(tmp, dst, QP * rb);
        for (int b = 0; b < nb; b++) {
            const size_t bb = rb / nb;
            const uint8_t *rows[QP];
            for (int r = 0; r < QP; r++) rows[r] = tmp + r * rb + b * bb;
            pack_block(W->type, rows, dst + (size_t)b * pbb);
        }
    }
    free(tmp);
    W->layout = PLM_LAYOUT_PANEL4;
    return PLM_OK;
}

void qgemm_get_row(const plm_tensor *W, int64_t r, float *dst) {
    const int k = (int)W->ne[0], nb = k / 32;
    const size_t rb = plm_type_row_bytes(W->type, k);
    const int64_t packed = W->layout == PLM_LAYOUT_PANEL4 ? W->ne[1] / QP * QP : 0;
    const uint8_t *base = (const uint8_t *)W->data;
    if (r >= packed) {
        plm_dequantize_row(W->type, base + (size_t)r * rb, dst, k);
        return;
    }
    const size_t pbb = panel_block_bytes(W->type);
    const uint8_t *panel = base + (size_t)(r / QP) * QP * rb;
    uint8_t blk[34];
    for (int b = 0; b < nb; b++) {
        unpack_block(W->type, panel + (size_t)b * pbb, (int)(r % QP), blk);
        plm_dequantize_row(W->type, blk, dst + b * 32, 32);
    }
}

/* ---------------------------------------------------------- activations */

size_t qgemm_act_bytes(int variant, int type, int m, int k) {
    if (variant == QGEMM_RELAXED && m == 1) variant = QGEMM_SIMD; /* m = 1: qgemm_range_relaxed runs the SIMD128 kernel */
    const size_t nb = (size_t)k / 32;
    size_t s = al64((size_t)m * nb * sizeof(block_q8_0));
    if (variant != QGEMM_SCALAR) s += al64((size_t)m * nb * sizeof(float)) + al64((size_t)m * nb * sizeof(int32_t));
    if (variant == QGEMM_SIMD) s += al64((size_t)m * k * sizeof(int16_t));
    if (variant == QGEMM_RELAXED && type == PLM_TYPE_Q8_0) {
        if (m >= QGEMM_WIDE_M) /* xi, xid (and xi's 128-byte alignment) */
            s += 128 + (size_t)(m + 3) / 4 * nb * (128 + 16);
        else /* xr, xn (and xr's 256-byte alignment) */
            s += 256 + (size_t)(m + 3) / 4 * nb * (256 + 32);
    }
    return s;
}

#if defined(__wasm_relaxed_simd__)
static void prepare_act_wide(op_qmm_job *j, uint8_t *s);
#endif

void qgemm_prepare_act(int variant, op_qmm_job *j, const float *x, uint8_t *s) {
    const int m = j->m, k = j->k, nb = k / 32;
    if (variant == QGEMM_RELAXED && m == 1) variant = QGEMM_SIMD; /* as qgemm_act_bytes */
    block_q8_0 *xq = (block_q8_0 *)s;
    s += al64((size_t)m * nb * sizeof(block_q8_0));
    for (int r = 0; r < m; r++) {
#if PLM_HAVE_SIMD
        if (variant != QGEMM_SCALAR)
            quantize_row_q8_0_act_simd(x + (size_t)r * k, xq + (size_t)r * nb, k);
        else
#endif
            quantize_row_q8_0_act_scalar(x + (size_t)r * k, xq + (size_t)r * nb, k);
    }
    j->xq = xq;
    j->xw = NULL, j->xd = NULL, j->xs = NULL, j->xr = NULL, j->xn = NULL, j->xi = NULL, j->xid = NULL;
    if (variant == QGEMM_SCALAR) return;
#if defined(__wasm_relaxed_simd__)
    if (variant == QGEMM_RELAXED && j->type == PLM_TYPE_Q8_0 && m >= QGEMM_WIDE_M) {
        prepare_act_wide(j, s);
        return;
    }
#endif
#if PLM_HAVE_SIMD
    ops_simd_prepare(); /* the fp16 table of the SIMD128 kernels' weight scales, filled here on the calling thread */
#endif
    if (variant == QGEMM_RELAXED && j->type == PLM_TYPE_Q8_0) {
        uint8_t *xr = (uint8_t *)(((uintptr_t)s + 255) & ~(uintptr_t)255);
        int32_t *xn = (int32_t *)(xr + (size_t)(m + 3) / 4 * nb * 256);
        for (int r0 = 0; r0 < m; r0 += 4)
            for (int b = 0; b < nb; b++) {
                uint8_t *rec = xr + ((size_t)(r0 / 4) * nb + b) * 256;
                int32_t *nd = xn + ((size_t)(r0 / 4) * nb + b) * 8;
                for (int t = 0; t < 4; t++) {
                    const block_q8_0 *blk = r0 + t < m ? xq + (size_t)(r0 + t) * nb + b : NULL;
                    int32_t neg = 0;
                    for (int i = 0; i < 32; i++) {
                        const int q = blk ? blk->qs[i] : 0; /* -127..127: the quantizer's range */
                        const int at = (i / 4) * 16 + t * 4 + i % 4;
                        rec[at] = (uint8_t)(q < 0 ? -q : q);
                        rec[128 + at] = q < 0 ? 0xff : 0;
                        neg += q < 0 ? -q : 0;
                    }
                    const float d = blk ? plm_fp16_to_fp32(blk->d) : 0.0f;
                    nd[t] = neg;
                    memcpy(nd + 4 + t, &d, sizeof d);
                }
            }
        j->xr = xr, j->xn = xn;
        return;
    }
    int16_t *xw = NULL;
    float *xd = (float *)s;
    s += al64((size_t)m * nb * sizeof(float));
    if (variant == QGEMM_SIMD) {
        xw = (int16_t *)s;
        s += al64((size_t)m * k * sizeof(int16_t));
    }
    int32_t *xs = (int32_t *)s;
    s += al64((size_t)m * nb * sizeof(int32_t));
    for (size_t b = 0; b < (size_t)m * nb; b++) {
        const int8_t *q = xq[b].qs;
        int32_t sum = 0;
        for (int i = 0; i < 32; i++) sum += q[i];
        xs[b] = sum;
        xd[b] = plm_fp16_to_fp32(xq[b].d);
        if (xw)
            for (int i = 0; i < 32; i++) xw[b * 32 + i] = q[i];
    }
    j->xw = xw, j->xd = xd, j->xs = xs;
}

/* ---------------------------------------------------------------- scalar */

/* Exact integer dot of row r of panel-block pb with 32 activation quants. */
static int32_t pdot_scalar(int type, const uint8_t *pb, int r, const int8_t *x) {
    const uint8_t *q = pb + 2 * QP;
    int32_t s = 0;
    if (type == PLM_TYPE_Q8_0)
        for (int j = 0; j < 32; j++) s += (int32_t)(int8_t)q[q8_off(r, j)] * x[j];
    else
        for (int j = 0; j < 32; j++) s += ((q[q4_off(r, j)] >> q4_shift(j) & 15) - 8) * x[j];
    return s;
}

static float rd_h(const uint8_t *p) { return plm_fp16_to_fp32((plm_fp16)(p[0] | p[1] << 8)); }

static float row_dot_scalar(const op_qmm_job *j, const uint8_t *w, const block_q8_0 *x) {
    return j->type == PLM_TYPE_Q8_0 ? vec_dot_q8_0_q8_0_scalar((const block_q8_0 *)w, x, j->k)
                                    : vec_dot_q4_0_q8_0_scalar((const block_q4_0 *)w, x, j->k);
}

void qgemm_range_scalar(const op_qmm_job *j, int c0, int c1) {
    const int nb = j->k / 32;
    const size_t pbb = panel_block_bytes(j->type);
    int c = c0;
    for (; c < c1 && c < j->n_panel_rows; c += QP) {
        const uint8_t *panel = j->w + (size_t)c * j->w_row_bytes;
        for (int t = 0; t < j->m; t++) {
            const block_q8_0 *x = j->xq + (size_t)t * nb;
            for (int r = 0; r < QP; r++) {
                float s = 0.0f;
                for (int b = 0; b < nb; b++) {
                    const uint8_t *pb = panel + (size_t)b * pbb;
                    const int32_t isum = pdot_scalar(j->type, pb, r, x[b].qs);
                    s = s + (float)isum * (rd_h(pb + 2 * r) * plm_fp16_to_fp32(x[b].d));
                }
                if (j->bias) s += j->bias[c + r];
                j->y[(size_t)t * j->n + c + r] = s;
            }
        }
    }
    for (; c < c1; c++) /* rows in the file's layout */
        for (int t = 0; t < j->m; t++) {
            float s = row_dot_scalar(j, j->w + (size_t)c * j->w_row_bytes, j->xq + (size_t)t * nb);
            if (j->bias) s += j->bias[c];
            j->y[(size_t)t * j->n + c] = s;
        }
}

#if defined(__wasm_simd128__)
/* ------------------------------------------------------------ SIMD128 */


/* 4 fp16 scales -> float, exact for every value (ops_simd_util.h's h2f_exact:
 * no float arithmetic on subnormals, which costs a microcode assist per
 * multiply on x86 — and Q8_0 scales of small-weight matrices are often
 * fp16-subnormal, e.g. GPT-2's scaled-init projections). */
INLINE v128_t h2f4(const uint8_t *p) { return h2f_exact(wasm_i32x4_shl(wasm_u32x4_load16x4(p), 16)); }

/* The 4 weight scales of a panel block as floats, by lookup in ops_simd_f16_table
 * (exact; fewer instructions in V8 than h2f4, whose v128 constants it rematerializes). */
INLINE v128_t m1_scales(const float *tab, const uint8_t *pb) {
    uint16_t h[4];
    memcpy(h, pb, sizeof h);
    return wasm_f32x4_make(tab[h[0]], tab[h[1]], tab[h[2]], tab[h[3]]);
}

/* s = s + (float)isum * (d_w * d_x), 4 rows at once */
INLINE v128_t chain(v128_t s, v128_t isum, v128_t dw, float dx) {
    return wasm_f32x4_add(s, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, wasm_f32x4_splat(dx))));
}

INLINE void store_out(const op_qmm_job *j, int t, int c, v128_t s) {
    if (j->bias) s = wasm_f32x4_add(s, wasm_v128_load(j->bias + c));
    wasm_v128_store(j->y + (size_t)t * j->n + c, s);
}

#ifndef QG_ROLL
#define QG_ROLL 1
#endif
#if QG_ROLL /* a small loop over the 16-byte groups: V8 keeps the tile in registers (fully unrolled it spills) */
#define GROUP_LOOP _Pragma("clang loop unroll(disable)")
#else
#define GROUP_LOOP UNROLL
#endif

/* One panel x TT activation rows (t0..), blocks [b0, b1) with the panel's
 * weight scales dwf[b - b0][4] as float: per 16-byte group (4 rows x 4 k),
 * i16 weights (extend low: rows 0-1, high: rows 2-3) dotted with the 4
 * activations broadcast as [x0 x1 x2 x3 x0 x1 x2 x3]: lanes = (row, k pair);
 * the pairs are added once per block. The float sums live in y between
 * segments of blocks (stored and reloaded exactly). */
INLINE void group_simd_q8(const uint8_t *q, const int16_t *const *x, int b, int g, const int TT, v128_t *lo, v128_t *hi) {
    const v128_t w = wasm_v128_load(q + 16 * g);
    const v128_t wl = wasm_i16x8_extend_low_i8x16(w), wh = wasm_i16x8_extend_high_i8x16(w);
    UNROLL
    for (int t = 0; t < TT; t++) {
        const v128_t xv = wasm_v128_load64_splat(x[t] + 32 * b + 4 * g);
        lo[t] = wasm_i32x4_add(lo[t], wasm_i32x4_dot_i16x8(wl, xv));
        hi[t] = wasm_i32x4_add(hi[t], wasm_i32x4_dot_i16x8(wh, xv));
    }
}

INLINE void group_simd_q4(const uint8_t *q, const int16_t *const *x, int b, int v, const int TT, v128_t *lo, v128_t *hi) {
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    const v128_t w = wasm_v128_load(q + 16 * v);
    const v128_t n0 = wasm_v128_and(w, m4), n1 = wasm_u8x16_shr(w, 4);
    const v128_t a0 = wasm_u16x8_extend_low_u8x16(n0), a1 = wasm_u16x8_extend_high_u8x16(n0);
    const v128_t b0v = wasm_u16x8_extend_low_u8x16(n1), b1v = wasm_u16x8_extend_high_u8x16(n1);
    UNROLL
    for (int t = 0; t < TT; t++) {
        const v128_t x0 = wasm_v128_load64_splat(x[t] + 32 * b + 8 * v);
        const v128_t x1 = wasm_v128_load64_splat(x[t] + 32 * b + 8 * v + 4);
        lo[t] = wasm_i32x4_add(lo[t], wasm_i32x4_add(wasm_i32x4_dot_i16x8(a0, x0), wasm_i32x4_dot_i16x8(b0v, x1)));
        hi[t] = wasm_i32x4_add(hi[t], wasm_i32x4_add(wasm_i32x4_dot_i16x8(a1, x0), wasm_i32x4_dot_i16x8(b1v, x1)));
    }
}

/* ROLL (a compile-time constant): the group loop rolled (m > 1) or unrolled (m = 1,
 * where the weights stream from memory and the unrolled loop measured faster);
 * dwf NULL: each block's scales converted in the tile (m = 1). */
INLINE void panel_simd(const op_qmm_job *j, const uint8_t *panel, const float *dwf, int c, int t0, const int TT,
                       const int q8, int b0, int b1, const int ROLL) {
    const int nb = j->k / 32;
    const int16_t *x[4];
    const float *xd[4];
    const int32_t *xs[4];
    UNROLL
    for (int t = 0; t < TT; t++) {
        x[t] = j->xw + (size_t)(t0 + t) * j->k;
        xd[t] = j->xd + (size_t)(t0 + t) * nb;
        xs[t] = j->xs + (size_t)(t0 + t) * nb;
    }
    v128_t acc[4];
    UNROLL
    for (int t = 0; t < TT; t++)
        acc[t] = b0 ? wasm_v128_load(j->y + (size_t)(t0 + t) * j->n + c) : wasm_f32x4_splat(0.0f);
    const size_t pbb = q8 ? PB_Q8 : PB_Q4;
    for (int b = b0; b < b1; b++) {
        const uint8_t *pb = panel + (size_t)b * pbb, *q = pb + 2 * QP;
        v128_t lo[4], hi[4];
        UNROLL
        for (int t = 0; t < TT; t++) lo[t] = hi[t] = wasm_i32x4_splat(0);
        if (q8 && ROLL) {
            GROUP_LOOP
            for (int g = 0; g < 8; g++) group_simd_q8(q, x, b, g, TT, lo, hi);
        } else if (q8) {
            UNROLL
            for (int g = 0; g < 8; g++) group_simd_q8(q, x, b, g, TT, lo, hi);
        } else if (ROLL) {
            GROUP_LOOP
            for (int v = 0; v < 4; v++) group_simd_q4(q, x, b, v, TT, lo, hi);
        } else {
            UNROLL
            for (int v = 0; v < 4; v++) group_simd_q4(q, x, b, v, TT, lo, hi);
        }
        const v128_t dw = dwf ? wasm_v128_load(dwf + 4 * (b - b0)) : m1_scales(ops_simd_f16_table(), pb);
        UNROLL
        for (int t = 0; t < TT; t++) {
            v128_t isum = wasm_i32x4_add(wasm_i32x4_shuffle(lo[t], hi[t], 0, 2, 4, 6),
                                         wasm_i32x4_shuffle(lo[t], hi[t], 1, 3, 5, 7));
            if (!q8) isum = wasm_i32x4_sub(isum, wasm_i32x4_splat(8 * xs[t][b]));
            acc[t] = chain(acc[t], isum, dw, xd[t][b]);
        }
    }
    UNROLL
    for (int t = 0; t < TT; t++) {
        if (b1 == nb)
            store_out(j, t0 + t, c, acc[t]);
        else
            wasm_v128_store(j->y + (size_t)(t0 + t) * j->n + c, acc[t]);
    }
}

static void panel_simd_q8(const op_qmm_job *j, const uint8_t *p, const float *dwf, int c, int t0, int tt, int b0,
                          int b1) {
    switch (tt) {
    case 4: panel_simd(j, p, dwf, c, t0, 4, 1, b0, b1, 1); break;
    case 3: panel_simd(j, p, dwf, c, t0, 3, 1, b0, b1, 1); break;
    case 2: panel_simd(j, p, dwf, c, t0, 2, 1, b0, b1, 1); break;
    default:
        if (dwf)
            panel_simd(j, p, dwf, c, t0, 1, 1, b0, b1, 1);
        else
            panel_simd(j, p, NULL, c, t0, 1, 1, b0, b1, 0);
        break;
    }
}

static void panel_simd_q4(const op_qmm_job *j, const uint8_t *p, const float *dwf, int c, int t0, int tt, int b0,
                          int b1) {
    switch (tt) {
    case 4: panel_simd(j, p, dwf, c, t0, 4, 0, b0, b1, 1); break;
    case 3: panel_simd(j, p, dwf, c, t0, 3, 0, b0, b1, 1); break;
    case 2: panel_simd(j, p, dwf, c, t0, 2, 0, b0, b1, 1); break;
    default:
        if (dwf)
            panel_simd(j, p, dwf, c, t0, 1, 0, b0, b1, 1);
        else
            panel_simd(j, p, NULL, c, t0, 1, 0, b0, b1, 0);
        break;
    }
}

/* Activation rows per tile (<= 4): 4 measured best in V8 (3 and 2 slower). */
#ifndef QG_TT
#define QG_TT 4
#endif

/* Weight blocks per segment of a panel (its scales converted once per panel and segment). */
#define QG_SEG 256

typedef void (*panel_fn)(const op_qmm_job *j, const uint8_t *p, const float *dwf, int c, int t0, int tt, int b0,
                         int b1);

/* Activation rows in chunks that stay in L2 (~128 KB of the variant's
 * activations); within a chunk each panel (k/32 panel-blocks, L1-resident)
 * meets all the chunk's rows, 4 at a time, its fp16 scales converted once. */
static void panels(const op_qmm_job *j, int c0, int c1, panel_fn fn, size_t act_row_bytes,
                   float (*row_dot)(const op_qmm_job *, const uint8_t *, const block_q8_0 *)) {
    const int nb = j->k / 32;
    const int cp = PLM_MIN(c1, j->n_panel_rows);
    const size_t pbb = panel_block_bytes(j->type);
    int chunk = (int)((128u << 10) / act_row_bytes) & ~3;
    if (chunk < 4) chunk = 4;
    float dwf[QG_SEG * 4] __attribute__((aligned(16)));
    if (j->m == 1) /* decode: the weights stream once, scales converted in the tile */
        for (int c = c0; c < cp; c += QP) fn(j, j->w + (size_t)c * j->w_row_bytes, NULL, c, 0, 1, 0, nb);
    else
    for (int t0 = 0; t0 < j->m; t0 += chunk) {
        const int t1 = PLM_MIN(j->m, t0 + chunk);
        for (int c = c0; c < cp; c += QP) {
            const uint8_t *panel = j->w + (size_t)c * j->w_row_bytes;
            for (int b0 = 0; b0 < nb; b0 += QG_SEG) {
                const int b1 = PLM_MIN(nb, b0 + QG_SEG);
                for (int b = b0; b < b1; b++) wasm_v128_store(dwf + 4 * (b - b0), h2f4(panel + (size_t)b * pbb));
                for (int t = t0; t < t1; t += QG_TT) fn(j, panel, dwf, c, t, PLM_MIN(QG_TT, t1 - t), b0, b1);
            }
        }
    }
    for (int c = PLM_MAX(c0, cp); c < c1; c++)
        for (int t = 0; t < j->m; t++) {
            float s = row_dot(j, j->w + (size_t)c * j->w_row_bytes, j->xq + (size_t)t * nb);
            if (j->bias) s += j->bias[c];
            j->y[(size_t)t * j->n + c] = s;
        }
}

/* ------------------------------------------------ SIMD128, m = 1 (decode)
 * One activation row against whole panels. The weight scales come from
 * ops_simd_f16_table (4 scalar lookups per panel block: no v128 constants in
 * the loop, which V8 rematerializes or spills, and no float arithmetic on fp16
 * subnormals); the activations are read from one base pointer. Same integer
 * dots and the same float chain per output as panel_simd, so the same bits. */
INLINE v128_t m1_isum_q8(const uint8_t *q, const int16_t *xb) {
    v128_t lo = wasm_i32x4_splat(0), hi = wasm_i32x4_splat(0);
    UNROLL
    for (int g = 0; g < 8; g++) {
        const v128_t w = wasm_v128_load(q + 16 * g), xv = wasm_v128_load64_splat(xb + 4 * g);
        lo = wasm_i32x4_add(lo, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), xv));
        hi = wasm_i32x4_add(hi, wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), xv));
    }
    return wasm_i32x4_add(wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6), wasm_i32x4_shuffle(lo, hi, 1, 3, 5, 7));
}

INLINE v128_t m1_isum_q4(const uint8_t *q, const int16_t *xb, int32_t xs) {
    v128_t lo = wasm_i32x4_splat(0), hi = wasm_i32x4_splat(0);
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    UNROLL
    for (int v = 0; v < 4; v++) {
        const v128_t w = wasm_v128_load(q + 16 * v);
        const v128_t n0 = wasm_v128_and(w, m4), n1 = wasm_u8x16_shr(w, 4);
        const v128_t x0 = wasm_v128_load64_splat(xb + 8 * v), x1 = wasm_v128_load64_splat(xb + 8 * v + 4);
        lo = wasm_i32x4_add(lo, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(n0), x0),
                                               wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(n1), x1)));
        hi = wasm_i32x4_add(hi, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(n0), x0),
                                               wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(n1), x1)));
    }
    const v128_t isum = wasm_i32x4_add(wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6), wasm_i32x4_shuffle(lo, hi, 1, 3, 5, 7));
    return wasm_i32x4_sub(isum, wasm_i32x4_splat(8 * xs));
}

/* Panels of rows [c0, cp) (cp <= n_panel_rows) for m = 1. */
static void qgemm_m1_simd(const op_qmm_job *j, int c0, int cp) {
    const int nb = j->k / 32;
    const float *tab = ops_simd_f16_table();
    for (int c = c0; c < cp; c += QP) {
        const uint8_t *pb = j->w + (size_t)c * j->w_row_bytes;
        const int16_t *xb = j->xw;
        v128_t acc = wasm_f32x4_splat(0.0f);
        if (j->type == PLM_TYPE_Q8_0) {
            for (int b = 0; b < nb; b++, xb += 32, pb += PB_Q8) {
                const v128_t isum = m1_isum_q8(pb + 2 * QP, xb);
                const v128_t d = wasm_f32x4_mul(m1_scales(tab, pb), wasm_f32x4_splat(j->xd[b]));
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), d));
            }
        } else {
            for (int b = 0; b < nb; b++, xb += 32, pb += PB_Q4) {
                const v128_t isum = m1_isum_q4(pb + 2 * QP, xb, j->xs[b]);
                const v128_t d = wasm_f32x4_mul(m1_scales(tab, pb), wasm_f32x4_splat(j->xd[b]));
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), d));
            }
        }
        store_out(j, 0, c, acc);
    }
}

static float row_dot_simd(const op_qmm_job *j, const uint8_t *w, const block_q8_0 *x) {
    return j->type == PLM_TYPE_Q8_0 ? vec_dot_q8_0_q8_0_simd((const block_q8_0 *)w, x, j->k)
                                    : vec_dot_q4_0_q8_0_simd((const block_q4_0 *)w, x, j->k);
}

/* ------------------------------------------- SIMD128, Q8_0, m > 1: i16 panel
 * The same tiles as panel_simd, but the panel's segment of weights is widened
 * to i16 once (W: per block 8 groups x {rows 0-1, rows 2-3}) and shared by all
 * the chunk's token tiles. Same integer dots, same float chain: same bits. */
#ifndef QG_W16
#define QG_W16 1
#endif
#define QG_W16SEG 64 /* blocks per widened segment: 16 KB of i16 weights */

INLINE void panel_w16(const op_qmm_job *j, const v128_t *W, const float *dwf, int c, int t0, const int TT, int b0,
                      int b1) {
    const int nb = j->k / 32;
    const int16_t *x[4];
    const float *xd[4];
    UNROLL
    for (int t = 0; t < TT; t++) {
        x[t] = j->xw + (size_t)(t0 + t) * j->k;
        xd[t] = j->xd + (size_t)(t0 + t) * nb;
    }
    v128_t acc[4];
    UNROLL
    for (int t = 0; t < TT; t++)
        acc[t] = b0 ? wasm_v128_load(j->y + (size_t)(t0 + t) * j->n + c) : wasm_f32x4_splat(0.0f);
    for (int b = b0; b < b1; b++) {
        const v128_t *wb = W + 16 * (b - b0);
        v128_t lo[4], hi[4];
        UNROLL
        for (int t = 0; t < TT; t++) lo[t] = hi[t] = wasm_i32x4_splat(0);
        GROUP_LOOP
        for (int g = 0; g < 8; g++) {
            const v128_t wl = wb[2 * g], wh = wb[2 * g + 1];
            UNROLL
            for (int t = 0; t < TT; t++) {
                const v128_t xv = wasm_v128_load64_splat(x[t] + 32 * b + 4 * g);
                lo[t] = wasm_i32x4_add(lo[t], wasm_i32x4_dot_i16x8(wl, xv));
                hi[t] = wasm_i32x4_add(hi[t], wasm_i32x4_dot_i16x8(wh, xv));
            }
        }
        const v128_t dw = wasm_v128_load(dwf + 4 * (b - b0));
        UNROLL
        for (int t = 0; t < TT; t++) {
            const v128_t isum = wasm_i32x4_add(wasm_i32x4_shuffle(lo[t], hi[t], 0, 2, 4, 6),
                                               wasm_i32x4_shuffle(lo[t], hi[t], 1, 3, 5, 7));
            acc[t] = chain(acc[t], isum, dw, xd[t][b]);
        }
    }
    UNROLL
    for (int t = 0; t < TT; t++) {
        if (b1 == nb)
            store_out(j, t0 + t, c, acc[t]);
        else
            wasm_v128_store(j->y + (size_t)(t0 + t) * j->n + c, acc[t]);
    }
}

/* Q8_0 panels for m > 1, as panels() (same chunks, same order of blocks per output). */
__attribute__((noinline)) static void panels_q8_w16(const op_qmm_job *j, int c0, int c1) {
    const int nb = j->k / 32;
    const int cp = PLM_MIN(c1, j->n_panel_rows);
    int chunk = (int)((128u << 10) / ((size_t)j->k * sizeof(int16_t))) & ~3;
    if (chunk < 4) chunk = 4;
    float dwf[QG_W16SEG * 4] __attribute__((aligned(16)));
    v128_t W[QG_W16SEG * 16];
    for (int t0 = 0; t0 < j->m; t0 += chunk) {
        const int t1 = PLM_MIN(j->m, t0 + chunk);
        for (int c = c0; c < cp; c += QP) {
            const uint8_t *panel = j->w + (size_t)c * j->w_row_bytes;
            for (int b0 = 0; b0 < nb; b0 += QG_W16SEG) {
                const int b1 = PLM_MIN(nb, b0 + QG_W16SEG);
                for (int b = b0; b < b1; b++) {
                    const uint8_t *pb = panel + (size_t)b * PB_Q8, *q = pb + 2 * QP;
                    wasm_v128_store(dwf + 4 * (b - b0), h2f4(pb));
                    v128_t *wb = W + 16 * (b - b0);
                    for (int g = 0; g < 8; g++) {
                        const v128_t w = wasm_v128_load(q + 16 * g);
                        wb[2 * g] = wasm_i16x8_extend_low_i8x16(w);
                        wb[2 * g + 1] = wasm_i16x8_extend_high_i8x16(w);
                    }
                }
                int t = t0;
                for (; t + 4 <= t1; t += 4) panel_w16(j, W, dwf, c, t, 4, b0, b1);
                switch (t1 - t) {
                case 3: panel_w16(j, W, dwf, c, t, 3, b0, b1); break;
                case 2: panel_w16(j, W, dwf, c, t, 2, b0, b1); break;
                case 1: panel_w16(j, W, dwf, c, t, 1, b0, b1); break;
                default: break;
                }
            }
        }
    }
    for (int c = PLM_MAX(c0, cp); c < c1; c++)
        for (int t = 0; t < j->m; t++) {
            float s = row_dot_simd(j, j->w + (size_t)c * j->w_row_bytes, j->xq + (size_t)t * nb);
            if (j->bias) s += j->bias[c];
            j->y[(size_t)t * j->n + c] = s;
        }
}

void qgemm_range_simd(const op_qmm_job *j, int c0, int c1) {
    if (j->m == 1) { /* decode: the m = 1 kernel over the panels, then panels() for the row-layout tail */
        const int cp = PLM_MIN(c1, j->n_panel_rows);
        if (c0 < cp) qgemm_m1_simd(j, c0, cp);
        c0 = PLM_MAX(c0, cp);
        if (c0 >= c1) return;
    }
    if (QG_W16 && j->m > 1 && j->type == PLM_TYPE_Q8_0) {
        panels_q8_w16(j, c0, c1);
        return;
    }
    panels(j, c0, c1, j->type == PLM_TYPE_Q8_0 ? panel_simd_q8 : panel_simd_q4, (size_t)j->k * sizeof(int16_t),
           row_dot_simd);
}

#if defined(__wasm_relaxed_simd__)
/* ------------------------------------------------------- relaxed SIMD */

#if __has_builtin(__builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4)
#define RDOT(a, b, c) \
    ((v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4((__i8x16)(a), (__i8x16)(b), (__i32x4)(c)))
#else
#define RDOT(a, b, c) wasm_i32x4_relaxed_dot_i8x16_i7x16_add(a, b, c)
#endif

/* Whether this engine's i32x4.relaxed_dot_i8x16_i7x16_add_s computes the exact
 * sum the kernels rely on (second operand within 0..127): Node 20's V8 (11.3,
 * behind --experimental-wasm-relaxed-simd) returns twice the dot product and
 * drops the accumulator. Checked once on a few vectors (from volatile memory,
 * so not folded at compile time); when wrong, op_matmul uses the SIMD128 kernels. */
int qgemm_relaxed_ok(void) {
    static int state; /* 0 unknown, 1 ok, -1 broken */
    if (state) return state > 0;
    static volatile int8_t a[16] = {-128, 127, -1, 5, 3, -77, 100, -100, 0, 1, -2, 64, -127, 126, 9, -9};
    static volatile int8_t b[16] = {127, 127, 3, 0, 15, 1, 64, 99, 5, 126, 0, 127, 127, 2, 33, 44};
    static volatile int32_t c[4] = {1000, -7, 123456789, -40000};
    int8_t av[16], bv[16];
    int32_t cv[4], r[4];
    for (int i = 0; i < 16; i++) av[i] = a[i], bv[i] = b[i];
    for (int i = 0; i < 4; i++) cv[i] = c[i];
    wasm_v128_store(r, RDOT(wasm_v128_load(av), wasm_v128_load(bv), wasm_v128_load(cv)));
    int ok = 1;
    for (int l = 0; l < 4; l++) {
        int32_t want = cv[l];
        for (int i = 4 * l; i < 4 * l + 4; i++) want += av[i] * bv[i];
        ok &= r[l] == want;
    }
    state = ok ? 1 : -1;
    return ok;
}

/* Q4_0: one panel x TT rows, blocks [b0, b1) (scales dwf as panels() gives them);
 * lanes = rows directly (4 bytes of a row per lane); activations signed, weight
 * codes (0..15) as the 7-bit operand. */
INLINE void group_relaxed_q4(const uint8_t *q, const block_q8_0 *const *xq, int b, int v, const int TT, v128_t *isum) {
    const v128_t m4 = wasm_i8x16_splat(0x0F);
    const v128_t w = wasm_v128_load(q + 16 * v);
    const v128_t n0 = wasm_v128_and(w, m4), n1 = wasm_u8x16_shr(w, 4);
    UNROLL
    for (int t = 0; t < TT; t++) {
        isum[t] = RDOT(wasm_v128_load32_splat(xq[t][b].qs + 8 * v), n0, isum[t]);
        isum[t] = RDOT(wasm_v128_load32_splat(xq[t][b].qs + 8 * v + 4), n1, isum[t]);
    }
}

INLINE void panel_relaxed(const op_qmm_job *j, const uint8_t *panel, const float *dwf, int c, int t0, const int TT,
                          int b0, int b1, const int ROLL) {
    const int nb = j->k / 32;
    const block_q8_0 *xq[4];
    const int32_t *xs[4];
    const float *xd[4];
    UNROLL
    for (int t = 0; t < TT; t++) {
        xq[t] = j->xq + (size_t)(t0 + t) * nb;
        xd[t] = j->xd + (size_t)(t0 + t) * nb;
        xs[t] = j->xs + (size_t)(t0 + t) * nb;
    }
    v128_t acc[4];
    UNROLL
    for (int t = 0; t < TT; t++)
        acc[t] = b0 ? wasm_v128_load(j->y + (size_t)(t0 + t) * j->n + c) : wasm_f32x4_splat(0.0f);
    for (int b = b0; b < b1; b++) {
        const uint8_t *pb = panel + (size_t)b * PB_Q4, *q = pb + 2 * QP;
        v128_t isum[4];
        UNROLL
        for (int t = 0; t < TT; t++) isum[t] = wasm_i32x4_splat(-8 * xs[t][b]);
        if (ROLL) {
            GROUP_LOOP
            for (int v = 0; v < 4; v++) group_relaxed_q4(q, xq, b, v, TT, isum);
        } else {
            UNROLL
            for (int v = 0; v < 4; v++) group_relaxed_q4(q, xq, b, v, TT, isum);
        }
        const v128_t dw = dwf ? wasm_v128_load(dwf + 4 * (b - b0)) : h2f4(pb);
        UNROLL
        for (int t = 0; t < TT; t++) acc[t] = chain(acc[t], isum[t], dw, xd[t][b]);
    }
    UNROLL
    for (int t = 0; t < TT; t++) {
        if (b1 == nb)
            store_out(j, t0 + t, c, acc[t]);
        else
            wasm_v128_store(j->y + (size_t)(t0 + t) * j->n + c, acc[t]);
    }
}

static void panel_relaxed_q4(const op_qmm_job *j, const uint8_t *p, const float *dwf, int c, int t0, int tt, int b0,
                             int b1) {
    switch (tt) {
    case 4: panel_relaxed(j, p, dwf, c, t0, 4, b0, b1, 1); break;
    case 3: panel_relaxed(j, p, dwf, c, t0, 3, b0, b1, 1); break;
    case 2: panel_relaxed(j, p, dwf, c, t0, 2, b0, b1, 1); break;
    default:
        if (dwf)
            panel_relaxed(j, p, dwf, c, t0, 1, b0, b1, 1);
        else
            panel_relaxed(j, p, NULL, c, t0, 1, b0, b1, 0);
        break;
    }
}

/* Q8_0: one panel x TT (<= 4) activation rows t0.. (t0 % 4 == 0), blocks [b0, b1)
 * with the panel's weight scales dwf[b - b0][4] as float; lanes = weight rows.
 * The 7-bit operand is |x| and x's sign goes onto the weights: with s = 0xff
 * where x < 0 (else 0), w ^ s is w or ~w = -w - 1 (within -128..127 for every
 * byte, -128 included), so
 *   dot(w ^ s, |x|) = dot(w, x) - (sum of |x| over x < 0),
 * and each block's isum starts from that sum (xn). One xor and one relaxed dot
 * per 16 weight bytes and activation row, exact integer arithmetic. The float
 * sums live in y between segments of blocks (stored and reloaded exactly). */
INLINE void panel_relaxed8(const op_qmm_job *j, const uint8_t *panel, const float *dwf, int c, int t0, const int TT,
                           int b0, int b1) {
    const int nb = j->k / 32;
    /* 256-byte aligned records (clang 19 still adds the constant offsets in i32 arithmetic) */
    const uint8_t *rec = (const uint8_t *)__builtin_assume_aligned(j->xr, 256) + (size_t)(t0 / 4) * nb * 256;
    const int32_t *nd = (const int32_t *)__builtin_assume_aligned(j->xn, 32) + (size_t)(t0 / 4) * nb * 8;
    v128_t acc[4];
    UNROLL
    for (int t = 0; t < TT; t++)
        acc[t] = b0 ? wasm_v128_load(j->y + (size_t)(t0 + t) * j->n + c) : wasm_f32x4_splat(0.0f);
    for (int b = b0; b < b1; b++) {
        const uint8_t *q = panel + (size_t)b * PB_Q8 + 2 * QP, *r = rec + (size_t)b * 256;
        const int32_t *e = nd + (size_t)b * 8;
        v128_t isum[4];
        UNROLL
        for (int t = 0; t < TT; t++) isum[t] = wasm_v128_load32_splat(e + t);
        UNROLL
        for (int g = 0; g < 8; g++) {
            const v128_t w = wasm_v128_load(q + 16 * g);
            UNROLL
            for (int t = 0; t < TT; t++) {
                const v128_t sw = wasm_v128_xor(w, wasm_v128_load32_splat(r + 128 + 16 * g + 4 * t));
                isum[t] = RDOT(sw, wasm_v128_load32_splat(r + 16 * g + 4 * t), isum[t]);
            }
        }
        const v128_t dw = wasm_v128_load(dwf + 4 * (b - b0));
        UNROLL
        for (int t = 0; t < TT; t++) {
            const v128_t dx = wasm_v128_load32_splat(e + 4 + t);
            acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum[t]), wasm_f32x4_mul(dw, dx)));
        }
    }
    UNROLL
    for (int t = 0; t < TT; t++) {
        if (b1 == nb) {
            store_out(j, t0 + t, c, acc[t]);
        } else {
            wasm_v128_store(j->y + (size_t)(t0 + t) * j->n + c, acc[t]);
        }
    }
}

static void panel_relaxed_q8(const op_qmm_job *j, const uint8_t *p, const float *dwf, int c, int t0, int tt, int b0,
                             int b1) {
    switch (tt) {
    case 4: panel_relaxed8(j, p, dwf, c, t0, 4, b0, b1); break;
    case 3: panel_relaxed8(j, p, dwf, c, t0, 3, b0, b1); break;
    case 2: panel_relaxed8(j, p, dwf, c, t0, 2, b0, b1); break;
    default: panel_relaxed8(j, p, dwf, c, t0, 1, b0, b1); break;
    }
}


static void qgemm_relaxed_q8(const op_qmm_job *j, int c0, int c1) {
    const int nb = j->k / 32;
    const int cp = PLM_MIN(c1, j->n_panel_rows);
    int chunk = (int)((128u << 10) / ((size_t)nb * (256 + 32) / 4)) & ~3; /* activation rows in ~128 KB */
    if (chunk < 4) chunk = 4;
    float dwf[QG_SEG * 4] __attribute__((aligned(16)));
    for (int t0 = 0; t0 < j->m; t0 += chunk) {
        const int t1 = PLM_MIN(j->m, t0 + chunk);
        for (int c = c0; c < cp; c += QP) {
            const uint8_t *panel = j->w + (size_t)c * j->w_row_bytes;
            for (int b0 = 0; b0 < nb; b0 += QG_SEG) {
                const int b1 = PLM_MIN(nb, b0 + QG_SEG);
                for (int b = b0; b < b1; b++) wasm_v128_store(dwf + 4 * (b - b0), h2f4(panel + (size_t)b * PB_Q8));
                for (int t = t0; t < t1; t += 4) panel_relaxed_q8(j, panel, dwf, c, t, PLM_MIN(4, t1 - t), b0, b1);
            }
        }
    }
    for (int c = PLM_MAX(c0, cp); c < c1; c++)
        for (int t = 0; t < j->m; t++) {
            float s = row_dot_simd(j, j->w + (size_t)c * j->w_row_bytes, j->xq + (size_t)t * nb);
            if (j->bias) s += j->bias[c];
            j->y[(size_t)t * j->n + c] = s;
        }
}

/* ---- relaxed Q8_0, m >= QGEMM_WIDE_M: the sign moves the other way.
 * The 7-bit operand is |w| and w's sign goes onto the activations: with
 * s = 0xff where w < 0 (else 0), x ^ s is x or ~x = -x - 1, so
 *   dot(x ^ s, |w|) = dot(x, w) + (sum of w over w < 0),
 * and each block's isum starts from nw = (sum of |w| over w < 0), a number of
 * the weight row alone. |w|, s and nw are made once per panel (and reused by
 * all m activation rows), the activations are their plain quants
 * (prepare_act_wide), so the inner loop is one load, one xor and one relaxed
 * dot per 16 weight bytes and activation row, with |w| and s in registers for
 * the 4 rows of a tile. A code of -128 has no 7-bit |w|: the panel uses
 * max(w, -127) and blocks holding a -128 (the flag; ggml's quantizer never
 * writes one) subtract (sum of x where w = -128) with one more dot. Exact
 * integer arithmetic; the float chain is the one of ops.h. */

/* x quants of 4 rows as [8 groups][4 rows][4 bytes] records (zeros past m). */
static void prepare_act_wide(op_qmm_job *j, uint8_t *s) {
    const int m = j->m, nb = j->k / 32;
    uint8_t *xi = (uint8_t *)(((uintptr_t)s + 127) & ~(uintptr_t)127);
    float *xid = (float *)(xi + (size_t)(m + 3) / 4 * nb * 128);
    const v128_t z = wasm_i32x4_splat(0);
    for (int r0 = 0; r0 < m; r0 += 4)
        for (int b = 0; b < nb; b++) {
            const size_t rb = (size_t)(r0 / 4) * nb + b;
            uint8_t *rec = xi + rb * 128;
            v128_t lo[4], hi[4];
            for (int t = 0; t < 4; t++) {
                if (r0 + t < m) {
                    const block_q8_0 *blk = j->xq + (size_t)(r0 + t) * nb + b;
                    lo[t] = wasm_v128_load(blk->qs), hi[t] = wasm_v128_load(blk->qs + 16);
                    xid[rb * 4 + t] = plm_fp16_to_fp32(blk->d);
                } else {
                    lo[t] = hi[t] = z;
                    xid[rb * 4 + t] = 0.0f;
                }
            }
            for (int h = 0; h < 2; h++) { /* 4x4 transpose of 32-bit words: group g = word g of each row */
                const v128_t *v = h ? hi : lo;
                const v128_t t0 = wasm_i32x4_shuffle(v[0], v[1], 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(v[0], v[1], 2, 6, 3, 7);
                const v128_t t2 = wasm_i32x4_shuffle(v[2], v[3], 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(v[2], v[3], 2, 6, 3, 7);
                wasm_v128_store(rec + 64 * h + 0, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
                wasm_v128_store(rec + 64 * h + 16, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
                wasm_v128_store(rec + 64 * h + 32, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
                wasm_v128_store(rec + 64 * h + 48, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
            }
        }
    j->xi = xi, j->xid = xid;
}

/* Blocks per panel segment (its |w|, signs, nw, scales and flags on the stack: 36 KB). */
#ifndef QG_WSEG
#define QG_WSEG 128
#endif

typedef struct {
    uint8_t ws[QG_WSEG][8][32]; /* per group: |max(w, -127)|, then 0xff where w < 0 */
    int32_t nw[QG_WSEG][4];   /* sum of |w| over w < 0, per row */
    float dw[QG_WSEG][4];     /* the rows' scales */
    uint8_t neg128[QG_WSEG];  /* the block holds a -128 */
} wide_panel;

static void wide_panel_prep(wide_panel *P, const uint8_t *panel, int b0, int b1) {
    const v128_t m127 = wasm_i8x16_splat(-127), m128 = wasm_i8x16_splat(-128);
    for (int b = b0; b < b1; b++) {
        const uint8_t *pb = panel + (size_t)b * PB_Q8, *q = pb + 2 * QP;
        const int i = b - b0;
        v128_t nsum = wasm_i32x4_splat(0), any = wasm_i32x4_splat(0);
        for (int g = 0; g < 8; g++) {
            const v128_t w = wasm_v128_load(q + 16 * g);
            const v128_t a = wasm_i8x16_abs(wasm_i8x16_max(w, m127)), sg = wasm_i8x16_shr(w, 7);
            wasm_v128_store(P->ws[i][g], a);
            wasm_v128_store(P->ws[i][g] + 16, sg);
            nsum = wasm_i32x4_add(nsum, wasm_i32x4_extadd_pairwise_i16x8(
                                            wasm_u16x8_extadd_pairwise_u8x16(wasm_v128_and(a, sg))));
            any = wasm_v128_or(any, wasm_i8x16_eq(w, m128));
        }
        wasm_v128_store(P->nw[i], nsum);
        wasm_v128_store(P->dw[i], h2f4(pb));
        P->neg128[i] = (uint8_t)wasm_v128_any_true(any);
    }
}

#ifndef QG_WROLL /* the group loop unrolled by 2 (fully unrolled, clang hoists all its loads: spills) */
#define QG_WROLL 2
#endif

/* Tokens per tile of the wide kernel: 8 (two record groups) or 4. With 8, the two
 * weight vectors of a group (|w|, signs) serve 8 dots instead of 4: 8 integer sums
 * + |w| + signs + x + (x ^ signs) = 12 v128 live in the group loop, within V8's 15
 * allocatable xmm registers on x64 (i32x4.relaxed_dot_i8x16_i7x16_add_s is one
 * vpdpbusd on AVX-VNNI, no temporary); the 8 float sums then stay in y (QG_WACC_MEM:
 * held in registers too, they spill and the tile measured 0.85x of the 4-token one). */
#ifndef QG_WTT
#define QG_WTT 8
#endif
#ifndef QG_WACC_MEM
#define QG_WACC_MEM 1
#endif

/* p (16-byte aligned) with its low bits masked off, behind an empty asm so that clang
 * keeps the mask: the constant offsets from it then fold into the loads' offsets (an
 * add of disjoint bits) instead of i32 adds, which V8 cannot fold (the wrap-around). */
INLINE const uint8_t *al16(const uint8_t *p) {
    uintptr_t u = (uintptr_t)p;
    __asm__("" : "+r"(u));
    return (const uint8_t *)(u & ~(uintptr_t)15);
}
#define AL16(p) al16(p)

/* One panel x TT (4 or 8) activation rows from record group t0 / 4 on (rows
 * t0 .. t0 + tt - 1 stored, tt <= TT), blocks [b0, b1); lanes = weight rows. */
INLINE void panel_wide_t(const op_qmm_job *j, const wide_panel *P, const uint8_t *panel, int c, int t0, int tt,
                         int b0, int b1, const int TT) {
    const int nb = j->k / 32;
    const uint8_t *rec = (const uint8_t *)__builtin_assume_aligned(j->xi, 128) + (size_t)(t0 / 4) * nb * 128;
    const float *xd = (const float *)__builtin_assume_aligned(j->xid, 16) + (size_t)(t0 / 4) * nb * 4;
    const size_t rstride = (size_t)nb * 128; /* next record group (tokens t0 + 4 ..) */
    const size_t dstride = (size_t)nb * 4;
    /* ACCM: the float sums stay in y (loaded, added, stored per block) instead of
     * registers, which the 8-token tile has not to spare across the group loop */
    const int ACCM = TT == 8 && QG_WACC_MEM;
    v128_t acc[8];
    float *yt[8];
    UNROLL
    for (int t = 0; t < TT; t++) {
        yt[t] = j->y + (size_t)(t0 + t) * j->n + c;
        if (ACCM) {
            if (!b0) wasm_v128_store(yt[t], wasm_f32x4_splat(0.0f));
        } else
            acc[t] = b0 && t < tt ? wasm_v128_load(yt[t]) : wasm_f32x4_splat(0.0f);
    }
    for (int b = b0; b < b1; b++) {
        const int i = b - b0;
        const uint8_t *r = rec + (size_t)b * 128, *ws = P->ws[i][0];
        v128_t isum[8];
        const v128_t nw = wasm_v128_load(P->nw[i]);
        UNROLL
        for (int t = 0; t < TT; t++) isum[t] = nw;
#if QG_WROLL == 1
#pragma clang loop unroll(disable)
#elif QG_WROLL == 2
#pragma clang loop unroll_count(2)
#elif QG_WROLL == 4
#pragma clang loop unroll_count(4)
#else
        UNROLL
#endif
        for (int g = 0; g < 8; g++) {
            /* bases masked to their (known) 16-byte alignment: clang then folds the constant
             * offsets into the loads' offsets (an add of disjoint bits) instead of adding
             * them in i32 arithmetic, which V8 cannot fold (the wrap-around) */
            const uint8_t *pw = AL16(ws + 32 * g), *px0 = AL16(r + 16 * g);
            const uint8_t *px1 = TT == 8 ? AL16(r + rstride + 16 * g) : px0;
            const v128_t a = wasm_v128_load(pw), sg = wasm_v128_load(pw + 16);
            UNROLL
            for (int t = 0; t < TT; t++)
                isum[t] = RDOT(wasm_v128_xor(wasm_v128_load32_splat((t < 4 ? px0 : px1) + 4 * (t % 4)), sg), a, isum[t]);
        }
        if (P->neg128[i]) { /* isum -= sum of x where w = -128 */
            const uint8_t *q = panel + (size_t)b * PB_Q8 + 2 * QP;
            for (int g = 0; g < 8; g++) {
                const v128_t one = wasm_v128_and(wasm_i8x16_eq(wasm_v128_load(q + 16 * g), wasm_i8x16_splat(-128)),
                                                 wasm_i8x16_splat(1));
                UNROLL
                for (int t = 0; t < TT; t++)
                    isum[t] = wasm_i32x4_sub(
                        isum[t], RDOT(wasm_v128_load32_splat(r + (t / 4) * rstride + 16 * g + 4 * (t % 4)), one,
                                      wasm_i32x4_splat(0)));
            }
        }
        const v128_t dw = wasm_v128_load(P->dw[i]);
        UNROLL
        for (int t = 0; t < TT; t++) {
            const v128_t dx = wasm_v128_load32_splat(xd + (t / 4) * dstride + (size_t)b * 4 + t % 4);
            const v128_t p = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum[t]), wasm_f32x4_mul(dw, dx));
            if (ACCM)
                wasm_v128_store(yt[t], wasm_f32x4_add(wasm_v128_load(yt[t]), p));
            else
                acc[t] = wasm_f32x4_add(acc[t], p);
        }
    }
    UNROLL
    for (int t = 0; t < TT; t++) {
        if (t >= tt) break;
        if (ACCM) {
            if (b1 == nb && j->bias) store_out(j, t0 + t, c, wasm_v128_load(yt[t]));
        } else if (b1 == nb)
            store_out(j, t0 + t, c, acc[t]);
        else
            wasm_v128_store(yt[t], acc[t]);
    }
}

static void panel_wide(const op_qmm_job *j, const wide_panel *P, const uint8_t *panel, int c, int t0, int tt, int b0,
                       int b1) {
    panel_wide_t(j, P, panel, c, t0, tt, b0, b1, 4);
}

#if QG_WTT == 8
static void panel_wide8(const op_qmm_job *j, const wide_panel *P, const uint8_t *panel, int c, int t0, int tt,
                        int b0, int b1) {
    panel_wide_t(j, P, panel, c, t0, tt, b0, b1, 8);
}
#endif

/* Bytes of prepared activations per row chunk (prepare_act_wide's records: 36 bytes per
 * row and block). Every weight panel is prepared (wide_panel_prep) once per chunk, so the
 * chunk is as large as L2 allows (1 MB+ on current x86 cores): at k = 3072 a 128 KB chunk
 * held 36 rows, i.e. one panel preparation per 9 four-row tiles. */
#ifndef QG_WCHUNK_BYTES
#define QG_WCHUNK_BYTES (512u << 10)
#endif

static void qgemm_relaxed_q8_wide(const op_qmm_job *j, int c0, int c1) {
    const int nb = j->k / 32;
    const int cp = PLM_MIN(c1, j->n_panel_rows);
    /* rows per chunk: at most QG_WCHUNK_BYTES of activations, the chunks of m about equal
     * (m = 128 at k = 3072: one chunk, not 148 + a short one), a multiple of 8 (the token tile) */
    int cmax = (int)(QG_WCHUNK_BYTES / ((size_t)nb * (128 + 16) / 4)) & ~7;
    if (cmax < 8) cmax = 8;
    const int n_chunks = (j->m + cmax - 1) / cmax;
    const int chunk = ((j->m + n_chunks - 1) / n_chunks + 7) & ~7;
    wide_panel P __attribute__((aligned(32)));
    for (int t0 = 0; t0 < j->m; t0 += chunk) {
        const int t1 = PLM_MIN(j->m, t0 + chunk);
        for (int c = c0; c < cp; c += QP) {
            const uint8_t *panel = j->w + (size_t)c * j->w_row_bytes;
            for (int b0 = 0; b0 < nb; b0 += QG_WSEG) {
                const int b1 = PLM_MIN(nb, b0 + QG_WSEG);
                wide_panel_prep(&P, panel, b0, b1);
                int t = t0;
#if QG_WTT == 8
                for (; t + 8 <= t1; t += 8) panel_wide8(j, &P, panel, c, t, 8, b0, b1);
#endif
                for (; t < t1; t += 4) panel_wide(j, &P, panel, c, t, PLM_MIN(4, t1 - t), b0, b1);
            }
        }
    }
    for (int c = PLM_MAX(c0, cp); c < c1; c++)
        for (int t = 0; t < j->m; t++) {
            float s = row_dot_simd(j, j->w + (size_t)c * j->w_row_bytes, j->xq + (size_t)t * nb);
            if (j->bias) s += j->bias[c];
            j->y[(size_t)t * j->n + c] = s;
        }
}

void qgemm_range_relaxed(const op_qmm_job *j, int c0, int c1) {
    /* m = 1: the SIMD128 kernel (qgemm_m1_simd) measured faster than the relaxed
     * ones in Chromium (bench/relaxed_bench.mjs --ms=1: relaxed 0.76-0.85x for
     * Q8_0, 0.86-1.02x for Q4_0), its activations prepared as for QGEMM_SIMD */
    if (j->m == 1) {
        qgemm_range_simd(j, c0, c1);
        return;
    }
    if (j->type == PLM_TYPE_Q8_0 && j->xi)
        qgemm_relaxed_q8_wide(j, c0, c1);
    else if (j->type == PLM_TYPE_Q8_0)
        qgemm_relaxed_q8(j, c0, c1);
    else
        panels(j, c0, c1, panel_relaxed_q4, (size_t)j->k * 34 / 32, row_dot_simd);
}
#endif /* __wasm_relaxed_simd__ */
#endif /* __wasm_simd128__ */
