/* ops_scalar.c — portable scalar reference kernels (see ops.h).
 *
 * These define the numbers: the SIMD twins in ops_simd.c follow the same
 * summation orders (ops.h, "Summation order"), so dot products and matmuls
 * agree bit for bit; transcendental functions (exp, tanh, erf) agree to a
 * few ulp. Written for clarity first; the native build and plm.wasm run them.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

/* --------------------------------------------------------------- dots */

/* The canonical float dot product: 4 interleaved partial sums. */
float vec_dot_f32_scalar(const float *a, const float *b, int n) {
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) s[l] += a[i + l] * b[i + l];
    float sum = (s[0] + s[2]) + (s[1] + s[3]);
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

float vec_dot_f16_scalar(const plm_fp16 *w, const float *x, int n) {
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) s[l] += plm_fp16_to_fp32(w[i + l]) * x[i + l];
    float sum = (s[0] + s[2]) + (s[1] + s[3]);
    for (; i < n; i++) sum += plm_fp16_to_fp32(w[i]) * x[i];
    return sum;
}

float vec_dot_bf16_scalar(const uint16_t *w, const float *x, int n) {
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) s[l] += plm_bf16_to_fp32(w[i + l]) * x[i + l];
    float sum = (s[0] + s[2]) + (s[1] + s[3]);
    for (; i < n; i++) sum += plm_bf16_to_fp32(w[i]) * x[i];
    return sum;
}

/* One 32-element block: lane l of i32x4.dot_i16x8_s sums elements j with (j/2)%4 == l. */
static void block_lanes_add(float s[4], const int8_t w[32], const int8_t x[32], float d) {
    for (int l = 0; l < 4; l++) {
        int32_t isum = 0;
        for (int v = 0; v < 4; v++) {
            int j = 8 * v + 2 * l;
            isum += (int32_t)w[j] * x[j] + (int32_t)w[j + 1] * x[j + 1];
        }
        s[l] += (float)isum * d;
    }
}

/* Q8_0 / Q4_0: ggml's generic order (ops.h): one exact integer per block, one float chain. */
float vec_dot_q8_0_q8_0_scalar(const block_q8_0 *w, const block_q8_0 *x8, int n) {
    float s = 0.0f;
    for (int b = 0; b < n / QK8_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK8_0; j++) isum += (int32_t)w[b].qs[j] * x8[b].qs[j];
        s = s + (float)isum * (plm_fp16_to_fp32(w[b].d) * plm_fp16_to_fp32(x8[b].d));
    }
    return s;
}

float vec_dot_q4_0_q8_0_scalar(const block_q4_0 *w, const block_q8_0 *x8, int n) {
    float s = 0.0f;
    for (int b = 0; b < n / QK4_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK4_0 / 2; j++)
            isum += ((w[b].qs[j] & 0x0F) - 8) * x8[b].qs[j] + ((w[b].qs[j] >> 4) - 8) * x8[b].qs[j + QK4_0 / 2];
        s = s + (float)isum * (plm_fp16_to_fp32(w[b].d) * plm_fp16_to_fp32(x8[b].d));
    }
    return s;
}

/* Q5_0 / Q4_1 / Q5_1 blocks: d (fp16), [m (fp16)], [qh (32 bits)], qs[16]; element j
 * is the low nibble of qs[j] (j < 16) or the high nibble of qs[j - 16], plus bit j of
 * qh as its 5th bit. Values q (0..15 / 0..31); Q5_0 stores q - 16. */
static inline float rd_h(const uint8_t *p) { return plm_fp16_to_fp32((plm_fp16)(p[0] | p[1] << 8)); }

static void unpack_legacy(const uint8_t *qs, uint32_t qh, int bits5, int8_t q[32]) {
    for (int j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 0x0F) | (bits5 ? ((qh >> j) & 1) << 4 : 0));
        q[j + 16] = (int8_t)((qs[j] >> 4) | (bits5 ? ((qh >> (j + 16)) & 1) << 4 : 0));
    }
}

static float dot_legacy(const uint8_t *w, const block_q8_0 *x8, int n, int bits5, int with_min) {
    const size_t bytes = 2 + (with_min ? 2 : 0) + (bits5 ? 4 : 0) + 16;
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int b = 0; b < n / 32; b++, w += bytes) {
        const uint8_t *h = w + (with_min ? 4 : 2);
        const uint32_t qh = bits5 ? (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24 : 0;
        int8_t q[32];
        unpack_legacy(h + (bits5 ? 4 : 0), qh, bits5, q);
        if (!with_min)
            for (int j = 0; j < 32; j++) q[j] = (int8_t)(q[j] - 16);
        const float dx = plm_fp16_to_fp32(x8[b].d);
        block_lanes_add(s, q, x8[b].qs, rd_h(w) * dx);
        if (with_min) {
            const float md = rd_h(w + 2) * dx;
            for (int l = 0; l < 4; l++) {
                int32_t xs = 0;
                for (int v = 0; v < 4; v++) xs += x8[b].qs[8 * v + 2 * l] + x8[b].qs[8 * v + 2 * l + 1];
                s[l] += (float)xs * md;
            }
        }
    }
    return (s[0] + s[2]) + (s[1] + s[3]);
}

float vec_dot_q5_0_q8_0_scalar(const void *w, const block_q8_0 *x8, int n) { return dot_legacy(w, x8, n, 1, 0); }
float vec_dot_q4_1_q8_0_scalar(const void *w, const block_q8_0 *x8, int n) { return dot_legacy(w, x8, n, 0, 1); }
float vec_dot_q5_1_q8_0_scalar(const void *w, const block_q8_0 *x8, int n) { return dot_legacy(w, x8, n, 1, 1); }

/* ggml's quantize_row_q8_0 (reference rounding: roundf, half away from zero).
 * Identical to plm_quantize_row_q8_0 for finite input; NaN quantizes to 0. */
void quantize_row_q8_0_act_scalar(const float *x, block_q8_0 *y, int n) {
    for (int b = 0; b < n / QK8_0; b++) {
        const float *xb = x + b * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) {
            float a = fabsf(xb[j]);
            amax = amax > a || amax != amax ? amax : a; /* a NaN sticks: d = NaN reaches the output */
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = plm_fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) {
            float v = xb[j] * id;
            y[b].qs[j] = plm_f2i8_sat(roundf(v)); /* NaN -> 0, +-Inf (1/d overflowed) saturate */
        }
    }
}

/* ------------------------------------------------ K-quants x Q8_K
 * Per super-block: exact integers isum (scaled sub-block dots) and msum (mins
 * times the activations' sub-block sums), then the float chain of ops.h. */

void quantize_row_q8_K_act_scalar(const float *x, block_q8_K *y, int n) { plm_quantize_row_q8_K(x, y, n); }

/* Sum of the activations of 32-value sub-block j (from the 16-value bsums). */
static inline int32_t bsum32(const block_q8_K *x, int j) { return (int32_t)x->bsums[2 * j] + x->bsums[2 * j + 1]; }

static inline float k_chain(float s, float dw, float dmw, float dx, int32_t isum, int32_t msum) {
    s += (dw * dx) * (float)isum;
    s -= (dmw * dx) * (float)msum;
    return s;
}

float vec_dot_q4_K_q8_K_scalar(const block_q4_K *w, const block_q8_K *x, int n) {
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++) {
        const uint8_t *q = w[b].qs;
        const int8_t *y = x[b].qs;
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 4; g++, q += 32, y += 64) {
            uint8_t sc1, m1, sc2, m2;
            plm_k4_scale_min(2 * g, w[b].scales, &sc1, &m1);
            plm_k4_scale_min(2 * g + 1, w[b].scales, &sc2, &m2);
            int32_t d1 = 0, d2 = 0;
            for (int l = 0; l < 32; l++) {
                d1 += (q[l] & 0x0F) * y[l];
                d2 += (q[l] >> 4) * y[l + 32];
            }
            isum += sc1 * d1 + sc2 * d2;
            msum += m1 * bsum32(&x[b], 2 * g) + m2 * bsum32(&x[b], 2 * g + 1);
        }
        s = k_chain(s, plm_fp16_to_fp32(w[b].d), plm_fp16_to_fp32(w[b].dmin), x[b].d, isum, msum);
    }
    return s;
}

float vec_dot_q5_K_q8_K_scalar(const block_q5_K *w, const block_q8_K *x, int n) {
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++) {
        const uint8_t *q = w[b].qs, *qh = w[b].qh;
        const int8_t *y = x[b].qs;
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 4; g++, q += 32, y += 64) {
            uint8_t sc1, m1, sc2, m2;
            plm_k4_scale_min(2 * g, w[b].scales, &sc1, &m1);
            plm_k4_scale_min(2 * g + 1, w[b].scales, &sc2, &m2);
            int32_t d1 = 0, d2 = 0;
            for (int l = 0; l < 32; l++) {
                d1 += ((q[l] & 0x0F) | (qh[l] >> (2 * g) & 1) << 4) * y[l];
                d2 += ((q[l] >> 4) | (qh[l] >> (2 * g + 1) & 1) << 4) * y[l + 32];
            }
            isum += sc1 * d1 + sc2 * d2;
            msum += m1 * bsum32(&x[b], 2 * g) + m2 * bsum32(&x[b], 2 * g + 1);
        }
        s = k_chain(s, plm_fp16_to_fp32(w[b].d), plm_fp16_to_fp32(w[b].dmin), x[b].d, isum, msum);
    }
    return s;
}

float vec_dot_q6_K_q8_K_scalar(const block_q6_K *w, const block_q8_K *x, int n) {
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++) {
        int32_t isum = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[b].ql + 64 * h, *qh = w[b].qh + 32 * h;
            const int8_t *sc = w[b].scales + 8 * h, *y = x[b].qs + 128 * h;
            for (int t = 0; t < 4; t++)          /* weights 32t .. 32t+31 of this half */
                for (int u = 0; u < 2; u++) {    /* 16-weight sub-block, scale sc[2t + u] */
                    int32_t d = 0;
                    for (int l = 16 * u; l < 16 * u + 16; l++) {
                        const int lo = t & 1 ? ql[l + 32] : ql[l];
                        const int q = ((t < 2 ? lo & 0x0F : lo >> 4) | (qh[l] >> (2 * t) & 3) << 4) - 32;
                        d += q * y[32 * t + l];
                    }
                    isum += sc[2 * t + u] * d;
                }
        }
        s = k_chain(s, plm_fp16_to_fp32(w[b].d), 0.0f, x[b].d, isum, 0);
    }
    return s;
}

/* ----------------------------------------------------------- row ops */

static float sum4(const float *x, int n) {
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) s[l] += x[i + l];
    float sum = (s[0] + s[2]) + (s[1] + s[3]);
    for (; i < n; i++) sum += x[i];
    return sum;
}

void layernorm_scalar(float *y, const float *x, const float *w, const float *b, int n, float eps) {
    if (n <= 0) return;
    const float mean = sum4(x, n) / (float)n;
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) {
            float d = x[i + l] - mean;
            s[l] += d * d;
        }
    float var = (s[0] + s[2]) + (s[1] + s[3]);
    for (; i < n; i++) {
        float d = x[i] - mean;
        var += d * d;
    }
    var /= (float)n;
    const float rstd = 1.0f / sqrtf(var + eps);
    for (i = 0; i < n; i++) {
        float v = (x[i] - mean) * rstd;
        if (w) v *= w[i];
        if (b) v += b[i];
        y[i] = v;
    }
}

/* HF LlamaRMSNorm / T5LayerNorm: w * (x * rsqrt(mean(x^2) + eps)), float32. */
void rmsnorm_scalar(float *y, const float *x, const float *w, int n, float eps) {
    if (n <= 0) return;
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) s[l] += x[i + l] * x[i + l];
    float ss = (s[0] + s[2]) + (s[1] + s[3]);
    for (; i < n; i++) ss += x[i] * x[i];
    const float r = 1.0f / sqrtf(ss / (float)n + eps);
    for (i = 0; i < n; i++) y[i] = w ? w[i] * (x[i] * r) : x[i] * r;
}

/* Max-subtracted softmax; -INFINITY entries give 0, a row of only -INFINITY gives zeros. */
void softmax_scalar(float *x, int n) {
    if (n <= 0) return;
    float max = -INFINITY;
    for (int i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    if (max == -INFINITY) {
        for (int i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int l = 0; l < 4; l++) {
            x[i + l] = expf(x[i + l] - max);
            s[l] += x[i + l];
        }
    float sum = (s[0] + s[2]) + (s[1] + s[3]);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (i = 0; i < n; i++) x[i] *= inv;
}

/* ------------------------------------------------------ element-wise */

#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_COEF_A 0.044715f
#define SQRT1_2 0.70710678118654752440f

/* HF gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))) */
static inline float gelu_tanh1(float x) {
    float inner = SQRT_2_OVER_PI * (x + GELU_COEF_A * (x * x * x));
    return 0.5f * x * (1.0f + tanhf(inner));
}

/* torch gelu (exact): x * 0.5 * (1 + erf(x * M_SQRT1_2)) */
static inline float gelu_erf1(float x) { return x * 0.5f * (1.0f + erff(x * SQRT1_2)); }

/* torch silu: x / (1 + exp(-x)) */
static inline float silu1(float x) { return x / (1.0f + expf(-x)); }

void gelu_tanh_scalar(float *y, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] = gelu_tanh1(x[i]);
}

void gelu_erf_scalar(float *y, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] = gelu_erf1(x[i]);
}

void silu_scalar(float *y, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] = silu1(x[i]);
}

void swiglu_scalar(float *y, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) y[i] = silu1(g[i]) * u[i];
}

void geglu_tanh_scalar(float *y, const float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) y[i] = gelu_tanh1(g[i]) * u[i];
}

void axpy_scalar(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

void attn_scores_scalar(float *s, const float *q, const float *k, int kv_stride, int n, int hd, float scale) {
    for (int j = 0; j < n; j++) s[j] = vec_dot_f32_scalar(q, k + (size_t)j * kv_stride, hd) * scale;
}

void attn_scores2_scalar(float *s0, float *s1, const float *q0, const float *q1, const float *k, int kv_stride, int n,
                         int hd, float scale) {
    attn_scores_scalar(s0, q0, k, kv_stride, n, hd, scale);
    attn_scores_scalar(s1, q1, k, kv_stride, n, hd, scale);
}

void attn_pv_scalar(float *o, const float *p, const float *v, int kv_stride, int n, int hd) {
    memset(o, 0, (size_t)hd * sizeof(float));
    for (int j = 0; j < n; j++)
        if (p[j] != 0.0f) axpy_scalar(o, p[j], v + (size_t)j * kv_stride, hd);
}

void rope_head_scalar(float *v, const float *cs, const float *sn, int n_rot, int mode) {
    const int half = n_rot / 2, norm = mode == PLM_ROPE_NORM;
    for (int i = 0; i < half; i++) {
        const int a = norm ? 2 * i : i, b = norm ? 2 * i + 1 : i + half;
        const float x0 = v[a], x1 = v[b];
        v[a] = x0 * cs[i] - x1 * sn[i];
        v[b] = x1 * cs[i] + x0 * sn[i];
    }
}

void convert_f16_scalar(float *y, const plm_fp16 *x, int n) {
    for (int i = 0; i < n; i++) y[i] = plm_fp16_to_fp32(x[i]);
}

void convert_bf16_scalar(float *y, const uint16_t *x, int n) {
    for (int i = 0; i < n; i++) y[i] = plm_bf16_to_fp32(x[i]);
}

/* ------------------------------------------------------------ matmul */

/* The type's scalar dot per output (op_matmul checked the traits exist). Types
 * with convert_rows and m > 1: each weight row widened once (exactly), then
 * float dots - the same numbers as the type's own dot. */
void matmul_range_scalar(const op_mm_job *j, int c0, int c1, float *tmp) {
    const plm_mm_traits *t = plm_mm_traits_get(j->type);
    if (!t->convert_rows || j->m == 1 || !tmp) {
        matmul_range_dot(j, c0, c1, t->act, t->dot_scalar);
        return;
    }
    for (int c = c0; c < c1; c++) {
        plm_dequantize_row(j->type, j->w + (size_t)c * j->w_row_bytes, tmp, j->k);
        for (int r = 0; r < j->m; r++) {
            float v = vec_dot_f32_scalar(tmp, j->x + (size_t)r * j->k, j->k);
            if (j->bias) v += j->bias[c];
            j->y[(size_t)r * j->n + c] = v;
        }
    }
}

/* ------------------------------------------------- generic dot sweep */

void matmul_range_dot(const op_mm_job *j, int c0, int c1, int act, plm_dot_fn dot) {
    for (int c = c0; c < c1; c++) {
        const uint8_t *wr = j->w + (size_t)c * j->w_row_bytes;
        for (int r = 0; r < j->m; r++) {
            float v = dot(wr, op_mm_act_row(j, act, r), j->k);
            if (j->bias) v += j->bias[c];
            j->y[(size_t)r * j->n + c] = v;
        }
    }
}

/* --------------------------------------- Q2_K / Q3_K / IQ4_XS x Q8_K, IQ4_NL x Q8_0 */

/* Q2_K (84 bytes, quant.c): isum = sum_j (scales[j] & 15) * dot16_j, msum = sum_j
 * (scales[j] >> 4) * bsums[j]; x = d*sc*q - dmin*m. */
float vec_dot_q2_K_q8_K_scalar(const void *vw, const block_q8_K *x, int n) {
    const uint8_t *w = vw;
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++, w += 84) {
        const uint8_t *sc = w, *q = w + 16;
        const int8_t *y = x[b].qs;
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < 16; j++) msum += (sc[j] >> 4) * x[b].bsums[j];
        for (int h = 0; h < 2; h++, q += 32)
            for (int t = 0; t < 4; t++)
                for (int u = 0; u < 2; u++, y += 16) {
                    int32_t d = 0;
                    for (int l = 0; l < 16; l++) d += ((q[16 * u + l] >> 2 * t) & 3) * y[l];
                    isum += (sc[8 * h + 2 * t + u] & 0x0F) * d;
                }
        s = k_chain(s, rd_h(w + 80), rd_h(w + 82), x[b].d, isum, msum);
    }
    return s;
}

/* Q3_K (110 bytes): q = low2 - (hmask bit ? 0 : 4), scale - 32 (plm_q3_K_scales). */
float vec_dot_q3_K_q8_K_scalar(const void *vw, const block_q8_K *x, int n) {
    const uint8_t *w = vw;
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++, w += 110) {
        const uint8_t *hm = w, *q = w + 32;
        const int8_t *y = x[b].qs;
        int8_t sc[16];
        plm_q3_K_scales(w + 96, sc);
        int32_t isum = 0;
        for (int h = 0; h < 2; h++, q += 32)
            for (int t = 0; t < 4; t++)
                for (int u = 0; u < 2; u++, y += 16) {
                    int32_t d = 0;
                    for (int l = 16 * u; l < 16 * u + 16; l++)
                        d += (((q[l] >> 2 * t) & 3) - (hm[l] >> (4 * h + t) & 1 ? 0 : 4)) * y[l - 16 * u];
                    isum += sc[8 * h + 2 * t + u] * d;
                }
        s = k_chain(s, rd_h(w + 108), 0.0f, x[b].d, isum, 0);
    }
    return s;
}

/* IQ4_XS (136 bytes): 8 sub-blocks of 32, q = kvalues_iq4nl[code], scale ls - 32. */
float vec_dot_iq4_xs_q8_K_scalar(const void *vw, const block_q8_K *x, int n) {
    const uint8_t *w = vw;
    float s = 0.0f;
    for (int b = 0; b < n / QK_K; b++, w += 136) {
        const int8_t *y = x[b].qs;
        int32_t isum = 0;
        for (int ib = 0; ib < 8; ib++, y += 32) {
            const uint8_t *qs = w + 8 + 16 * ib;
            int32_t d = 0;
            for (int j = 0; j < 16; j++)
                d += plm_kvalues_iq4nl[qs[j] & 0x0F] * y[j] + plm_kvalues_iq4nl[qs[j] >> 4] * y[j + 16];
            isum += (plm_iq4_xs_scale(w, ib) - 32) * d;
        }
        s = k_chain(s, rd_h(w), 0.0f, x[b].d, isum, 0);
    }
    return s;
}

/* IQ4_NL (18 bytes) x Q8_0: the Q4_0 chain with q = kvalues_iq4nl[code]. */
float vec_dot_iq4_nl_q8_0_scalar(const void *vw, const block_q8_0 *x8, int n) {
    const uint8_t *w = vw;
    float s = 0.0f;
    for (int b = 0; b < n / 32; b++, w += 18) {
        int32_t isum = 0;
        for (int j = 0; j < 16; j++)
            isum += plm_kvalues_iq4nl[w[2 + j] & 0x0F] * x8[b].qs[j] + plm_kvalues_iq4nl[w[2 + j] >> 4] * x8[b].qs[j + 16];
        s = s + (float)isum * (rd_h(w) * plm_fp16_to_fp32(x8[b].d));
    }
    return s;
}
