/* quant.c — ggml tensor types, fp16/bf16 conversion, block (de)quantization.
 *
 * Everything here reproduces ggml bit for bit:
 *   - the type table mirrors ggml's type_traits (names, block sizes, bytes);
 *   - fp16 conversion is IEEE round-to-nearest-even (what ggml's portable
 *     ggml_compute_fp32_to_fp16 and the F16C instruction both compute);
 *   - bf16 conversion is ggml_compute_fp32_to_bf16 (RNE, quiet NaN);
 *   - the quantizers follow quantize_row_{q8_0,q4_0,q6_K}_ref operation by
 *     operation (float32 arithmetic in the same order, no FMA contraction),
 *     the dequantizers follow dequantize_row_*.
 * Block data is read through byte pointers, so source rows need no alignment.
 */
#include "quant.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "common.h"

/* ------------------------------------------------------------------ types */

/* One row per ggml type id: the format layer of the type traits (ggml's
 * type_traits in ggml.c). The compute layer (activation format, dot kernels,
 * matmul route) is ops_traits.c's table. A type is readable iff it has
 * `dequant`; writable by plm_quantize iff it has `quantize`. */
typedef void (*dequant_fn)(const uint8_t *src, float *dst, int64_t nb); /* nb blocks */
typedef void (*quant_fn)(const float *src, uint8_t *dst, int64_t n);    /* n values */
typedef struct {
    const char *name;
    int blck;           /* elements per block */
    int bytes;          /* bytes per block */
    dequant_fn dequant; /* NULL: the engine cannot read it */
    quant_fn quantize;  /* NULL: plm_quantize refuses it */
} type_info;

static void dequant_f32(const uint8_t *b, float *y, int64_t n);
static void dequant_f16(const uint8_t *b, float *y, int64_t n);
static void dequant_bf16(const uint8_t *b, float *y, int64_t n);
static void dequant_q8_0(const uint8_t *b, float *y, int64_t nb);
static void dequant_q4_0(const uint8_t *b, float *y, int64_t nb);
static void dequant_q4_1(const uint8_t *b, float *y, int64_t nb);
static void dequant_q5_0(const uint8_t *b, float *y, int64_t nb);
static void dequant_q5_1(const uint8_t *b, float *y, int64_t nb);
static void dequant_q2_K(const uint8_t *b, float *y, int64_t nb);
static void dequant_q3_K(const uint8_t *b, float *y, int64_t nb);
static void dequant_q4_K(const uint8_t *b, float *y, int64_t nb);
static void dequant_q5_K(const uint8_t *b, float *y, int64_t nb);
static void dequant_q6_K(const uint8_t *b, float *y, int64_t nb);
static void dequant_iq4_nl(const uint8_t *b, float *y, int64_t nb);
static void dequant_iq4_xs(const uint8_t *b, float *y, int64_t nb);
static void quant_f32(const float *x, uint8_t *out, int64_t n);
static void quant_f16(const float *x, uint8_t *out, int64_t n);
static void quant_bf16(const float *x, uint8_t *out, int64_t n);
static void quant_q8_0(const float *x, uint8_t *out, int64_t n);
static void quant_q4_0(const float *x, uint8_t *out, int64_t n);
static void quantize_row_q6_K(const float *x, uint8_t *out, int64_t n);

/* Indexed by ggml type id. Gaps (4, 5, 31-33, 36-38) are ids ggml removed. */
static const type_info TYPES[] = {
    [PLM_TYPE_F32] = {"f32", 1, 4, dequant_f32, quant_f32},
    [PLM_TYPE_F16] = {"f16", 1, 2, dequant_f16, quant_f16},
    [PLM_TYPE_Q4_0] = {"q4_0", 32, 18, dequant_q4_0, quant_q4_0},
    [PLM_TYPE_Q4_1] = {"q4_1", 32, 20, dequant_q4_1, NULL},
    [PLM_TYPE_Q5_0] = {"q5_0", 32, 22, dequant_q5_0, NULL},
    [PLM_TYPE_Q5_1] = {"q5_1", 32, 24, dequant_q5_1, NULL},
    [PLM_TYPE_Q8_0] = {"q8_0", 32, 34, dequant_q8_0, quant_q8_0},
    [PLM_TYPE_Q8_1] = {"q8_1", 32, 36, NULL, NULL},
    [PLM_TYPE_Q2_K] = {"q2_K", 256, 84, dequant_q2_K, NULL},
    [PLM_TYPE_Q3_K] = {"q3_K", 256, 110, dequant_q3_K, NULL},
    [PLM_TYPE_Q4_K] = {"q4_K", 256, 144, dequant_q4_K, NULL},
    [PLM_TYPE_Q5_K] = {"q5_K", 256, 176, dequant_q5_K, NULL},
    [PLM_TYPE_Q6_K] = {"q6_K", 256, 210, dequant_q6_K, quantize_row_q6_K},
    [PLM_TYPE_Q8_K] = {"q8_K", 256, 292, NULL, NULL},
    [PLM_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66, NULL, NULL},
    [PLM_TYPE_IQ2_XS] = {"iq2_xs", 256, 74, NULL, NULL},
    [PLM_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98, NULL, NULL},
    [PLM_TYPE_IQ1_S] = {"iq1_s", 256, 50, NULL, NULL},
    [PLM_TYPE_IQ4_NL] = {"iq4_nl", 32, 18, dequant_iq4_nl, NULL},
    [PLM_TYPE_IQ3_S] = {"iq3_s", 256, 110, NULL, NULL},
    [PLM_TYPE_IQ2_S] = {"iq2_s", 256, 82, NULL, NULL},
    [PLM_TYPE_IQ4_XS] = {"iq4_xs", 256, 136, dequant_iq4_xs, NULL},
    [PLM_TYPE_I8] = {"i8", 1, 1, NULL, NULL},
    [PLM_TYPE_I16] = {"i16", 1, 2, NULL, NULL},
    [PLM_TYPE_I32] = {"i32", 1, 4, NULL, NULL},
    [PLM_TYPE_I64] = {"i64", 1, 8, NULL, NULL},
    [PLM_TYPE_F64] = {"f64", 1, 8, NULL, NULL},
    [PLM_TYPE_IQ1_M] = {"iq1_m", 256, 56, NULL, NULL},
    [PLM_TYPE_BF16] = {"bf16", 1, 2, dequant_bf16, quant_bf16},
    [PLM_TYPE_TQ1_0] = {"tq1_0", 256, 54, NULL, NULL},
    [PLM_TYPE_TQ2_0] = {"tq2_0", 256, 66, NULL, NULL},
    [PLM_TYPE_MXFP4] = {"mxfp4", 32, 17, NULL, NULL},
    [PLM_TYPE_NVFP4] = {"nvfp4", 64, 36, NULL, NULL},
    [PLM_TYPE_Q1_0] = {"q1_0", 128, 18, NULL, NULL},
    [PLM_TYPE_Q2_0] = {"q2_0", 64, 18, NULL, NULL},
};
#define N_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

static const type_info *type_get(int type) {
    if (type < 0 || type >= N_TYPES || !TYPES[type].name) return NULL;
    return &TYPES[type];
}

const char *plm_type_name(int type) {
    const type_info *t = type_get(type);
    return t ? t->name : NULL;
}

int plm_type_supported(int type) {
    const type_info *t = type_get(type);
    return t && t->dequant;
}

int plm_type_quantizable(int type) {
    const type_info *t = type_get(type);
    return t && t->quantize;
}

int plm_type_block_size(int type) {
    const type_info *t = type_get(type);
    return t ? t->blck : 0;
}

size_t plm_type_block_bytes(int type) {
    const type_info *t = type_get(type);
    return t ? (size_t)t->bytes : 0;
}

/* 0 also when the size does not fit a size_t (wasm32). */
size_t plm_type_row_bytes(int type, int64_t n) {
    const type_info *t = type_get(type);
    if (!t || n < 0 || n % t->blck) return 0;
    const uint64_t nb = (uint64_t)(n / t->blck);
    if (nb > (uint64_t)SIZE_MAX / (uint64_t)t->bytes) return 0;
    return (size_t)(nb * (uint64_t)t->bytes);
}

/* ---------------------------------------------------------------- fp16/bf16 */

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float plm_fp16_to_fp32(plm_fp16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000 | (mant << 13)); /* inf, NaN */
    if (exp != 0) return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign);
    /* subnormal: mant * 2^-24, renormalised */
    exp = 113;
    while (!(mant & 0x400)) {
        mant <<= 1;
        exp--;
    }
    return f32_from_bits(sign | (exp << 23) | ((mant & 0x3ff) << 13));
}

plm_fp16 plm_fp32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t a = x & 0x7fffffff;
    if (a > 0x7f800000) return sign | 0x7e00; /* NaN -> quiet NaN (as ggml) */
    if (a >= 0x47800000) return sign | 0x7c00; /* >= 65536: inf */
    uint32_t e = a >> 23;
    if (e >= 113) { /* normal half (may round up to the next binade or to inf) */
        uint32_t h = (a >> 13) - (112u << 10);
        uint32_t rem = a & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
        return sign | (uint16_t)h;
    }
    if (e < 102) return sign; /* below 2^-25: rounds to zero */
    /* subnormal half: round the 24-bit significand to units of 2^-24 */
    uint32_t m = (a & 0x7fffff) | 0x800000;
    int shift = 126 - (int)e; /* 14..24 */
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return sign | (uint16_t)q;
}

float plm_bf16_to_fp32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t plm_fp32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

static inline float rd_fp16(const uint8_t *p) { return plm_fp16_to_fp32((plm_fp16)(p[0] | p[1] << 8)); }

static inline void wr_fp16(uint8_t *p, plm_fp16 h) {
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}

void plm_convert_row_f16(const float *x, plm_fp16 *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = plm_fp32_to_fp16(x[i]);
}

/* -------------------------------------------------------------- dequantize */

static void dequant_q8_0(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 34, y += QK8_0) {
        const float d = rd_fp16(b);
        const int8_t *qs = (const int8_t *)(b + 2);
        for (int j = 0; j < QK8_0; j++) y[j] = qs[j] * d;
    }
}

static void dequant_q4_0(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 18, y += QK4_0) {
        const float d = rd_fp16(b);
        const uint8_t *qs = b + 2;
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = ((qs[j] & 0x0f) - 8) * d;
            y[j + QK4_0 / 2] = ((qs[j] >> 4) - 8) * d;
        }
    }
}

/* Q4_1 (20 bytes): d, m, qs[16]; x = q*d + m, low nibbles elements 0-15, high 16-31. */
static void dequant_q4_1(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 20, y += 32) {
        const float d = rd_fp16(b), m = rd_fp16(b + 2);
        const uint8_t *qs = b + 4;
        for (int j = 0; j < 16; j++) {
            y[j] = (qs[j] & 0x0f) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }
}

/* Q5_0 (22 bytes): d, qh (32 high bits, little-endian u32), qs[16]; x = (q - 16)*d.
 * Q5_1 (24 bytes): d, m, qh, qs[16]; x = q*d + m. Element j's 5th bit is qh bit j. */
static void dequant_q5(const uint8_t *b, float *y, int64_t nb, int with_min) {
    const size_t bytes = with_min ? 24 : 22;
    for (int64_t i = 0; i < nb; i++, b += bytes, y += 32) {
        const float d = rd_fp16(b), m = with_min ? rd_fp16(b + 2) : 0.0f;
        const uint8_t *h = b + (with_min ? 4 : 2), *qs = h + 4;
        const uint32_t qh = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        for (int j = 0; j < 16; j++) {
            const int x0 = (qs[j] & 0x0f) | (int)((qh >> j) << 4 & 0x10);
            const int x1 = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
            if (with_min) {
                y[j] = x0 * d + m;
                y[j + 16] = x1 * d + m;
            } else {
                y[j] = (x0 - 16) * d;
                y[j + 16] = (x1 - 16) * d;
            }
        }
    }
}

static void dequant_q5_0(const uint8_t *b, float *y, int64_t nb) { dequant_q5(b, y, nb, 0); }
static void dequant_q5_1(const uint8_t *b, float *y, int64_t nb) { dequant_q5(b, y, nb, 1); }

static void dequant_f32(const uint8_t *b, float *y, int64_t n) { memcpy(y, b, (size_t)n * sizeof(float)); }
static void dequant_f16(const uint8_t *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = rd_fp16(b + 2 * i);
}
static void dequant_bf16(const uint8_t *b, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = plm_bf16_to_fp32((uint16_t)(b[2 * i] | b[2 * i + 1] << 8));
}

/* Q2_K super-block (84 bytes): scales[16], qs[64], d, dmin. Two halves of 128
 * weights; in half h, 2-bit field s (bits 2s..2s+1) of qs[32h + l] is weight
 * 128h + 32s + l; 16-weight sub-block j has scale scales[j] & 15 and min
 * scales[j] >> 4: x = d*sc*q - dmin*m (ggml's dequantize_row_q2_K). */
static void dequant_q2_K(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 84) {
        const float d = rd_fp16(b + 80), dmin = rd_fp16(b + 82);
        const uint8_t *sc = b, *q = b + 16;
        for (int h = 0; h < 2; h++, q += 32)
            for (int s = 0; s < 4; s++)
                for (int u = 0; u < 2; u++) {
                    const uint8_t c = *sc++;
                    const float dl = d * (c & 0x0F), ml = dmin * (c >> 4);
                    for (int l = 16 * u; l < 16 * u + 16; l++) *y++ = dl * ((q[l] >> 2 * s) & 3) - ml;
                }
    }
}

const int8_t plm_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* Q3_K's 12 bytes hold 16 6-bit scales: low 4 bits of scale j in nibble j of
 * bytes 0..7 (j < 8: low nibbles of 0..7, j >= 8: high nibbles), top 2 bits in
 * bits 2(j/4 % 4).. of byte 8 + j % 4 (ggml's kmask1/kmask2 shuffle). */
void plm_q3_K_scales(const uint8_t *p, int8_t sc[16]) {
    for (int j = 0; j < 16; j++) {
        const int lo = j < 8 ? p[j] & 0x0F : p[j - 8] >> 4;
        const int hi = (p[8 + j % 4] >> (2 * (j / 4))) & 3;
        sc[j] = (int8_t)((lo | hi << 4) - 32);
    }
}

/* Q3_K super-block (110 bytes): hmask[32], qs[64], scales[12], d. The 2-bit
 * fields as Q2_K; weight 128h + 32s + l also takes bit (4h + s) of hmask[l]:
 * q = low2 - (bit ? 0 : 4) in [-4, 3]; x = d * (scale - 32) * q. */
static void dequant_q3_K(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 110) {
        const float d = rd_fp16(b + 108);
        const uint8_t *hm = b, *q = b + 32;
        int8_t sc[16];
        plm_q3_K_scales(b + 96, sc);
        int is = 0;
        for (int h = 0; h < 2; h++, q += 32)
            for (int s = 0; s < 4; s++)
                for (int u = 0; u < 2; u++) {
                    const float dl = d * sc[is++];
                    const uint8_t m = (uint8_t)(1u << (4 * h + s));
                    for (int l = 16 * u; l < 16 * u + 16; l++)
                        *y++ = dl * (((q[l] >> 2 * s) & 3) - (hm[l] & m ? 0 : 4));
                }
    }
}

/* IQ4_NL (18 bytes): d, qs[16]; element j: low nibble of qs[j], j+16: high nibble. */
static void dequant_iq4_nl(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 18, y += 32) {
        const float d = rd_fp16(b);
        for (int j = 0; j < 16; j++) {
            y[j] = d * plm_kvalues_iq4nl[b[2 + j] & 0x0F];
            y[j + 16] = d * plm_kvalues_iq4nl[b[2 + j] >> 4];
        }
    }
}

/* IQ4_XS (136 bytes): d, scales_h, scales_l[4], qs[128]: 8 IQ4_NL-like sub-blocks
 * of 32 (qs + 16 ib), scale (ls - 32) * d with ls = plm_iq4_xs_scale. */
static void dequant_iq4_xs(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 136) {
        const float d = rd_fp16(b);
        for (int ib = 0; ib < 8; ib++, y += 32) {
            const float dl = d * (plm_iq4_xs_scale(b, ib) - 32);
            const uint8_t *qs = b + 8 + 16 * ib;
            for (int j = 0; j < 16; j++) {
                y[j] = dl * plm_kvalues_iq4nl[qs[j] & 0x0F];
                y[j + 16] = dl * plm_kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}

/* 6-bit scale and min of sub-block j (0..7) from Q4_K's 12 packed bytes. */
void plm_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q4_K super-block (144 bytes): d, dmin, scales[12], qs[128]. Four groups of
 * 64 weights; in each, 32 bytes give the low nibbles (first 32 weights, scale
 * 2g) and the high nibbles (next 32, scale 2g+1). x = d*sc*q - dmin*m. */
static void dequant_q4_K(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 144) {
        const float d = rd_fp16(b);
        const float dmin = rd_fp16(b + 2);
        const uint8_t *scales = b + 4;
        const uint8_t *q = b + 16;
        for (int g = 0; g < 4; g++, q += 32) {
            uint8_t sc, m;
            plm_k4_scale_min(2 * g, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            plm_k4_scale_min(2 * g + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

/* Q5_K super-block (176 bytes): d, dmin, scales[12], qh[32], qs[128]. As Q4_K, with
 * a 5th bit per weight: for group g (64 weights) bit 2g of qh[l] for weight l, bit
 * 2g+1 for weight 32 + l. */
static void dequant_q5_K(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 176) {
        const float d = rd_fp16(b);
        const float dmin = rd_fp16(b + 2);
        const uint8_t *scales = b + 4, *qh = b + 16, *q = b + 48;
        for (int g = 0; g < 4; g++, q += 32) {
            uint8_t sc, m;
            plm_k4_scale_min(2 * g, scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            plm_k4_scale_min(2 * g + 1, scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((q[l] & 0x0f) + (qh[l] >> (2 * g) & 1) * 16) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((q[l] >> 4) + (qh[l] >> (2 * g + 1) & 1) * 16) - m2;
        }
    }
}

/* Q6_K super-block (210 bytes): ql[128], qh[64], scales[16] (int8), d.
 * Two halves of 128 weights; in each, weight l + 32k (k = 0..3) takes its low
 * 4 bits from ql[l] / ql[l+32] (low or high nibble) and its top 2 bits from
 * qh[l] bits 2k..2k+1; x = d * scale[16-weight sub-block] * (q - 32). */
static void dequant_q6_K(const uint8_t *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b += 210) {
        const uint8_t *ql = b;
        const uint8_t *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        const float d = rd_fp16(b + 208);
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = (int8_t)((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32;
                const int q2 = (int8_t)((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32;
                const int q3 = (int8_t)((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                const int q4 = (int8_t)((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

void plm_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    const uint8_t *b = src;
    const int blck = plm_type_block_size(type);
    if (!plm_type_supported(type) || n < 0 || n % blck) {
        plm_fail(PLM_E_UNSUPPORTED, "cannot dequantize %lld values of type %s", (long long)n,
                 plm_type_name(type) ? plm_type_name(type) : "(unknown)");
        return;
    }
    TYPES[type].dequant(b, dst, n / blck);
}

/* --------------------------------------------------------------- quantize */

void plm_quantize_row_q8_0(const float *x, block_q8_0 *y, int64_t n) {
    uint8_t *out = (uint8_t *)y;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0, out += 34) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = PLM_MAX(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        wr_fp16(out, plm_fp32_to_fp16(d));
        for (int j = 0; j < QK8_0; j++) out[2 + j] = (uint8_t)plm_f2i8_sat(roundf(x[j] * id));
    }
}

void plm_quantize_row_q4_0(const float *x, block_q4_0 *y, int64_t n) {
    uint8_t *out = (uint8_t *)y;
    for (int64_t i = 0; i < n / QK4_0; i++, x += QK4_0, out += 18) {
        /* the first value of largest magnitude, sign kept, maps to -8 */
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d ? 1.0f / d : 0.0f;
        wr_fp16(out, plm_fp32_to_fp16(d));
        for (int j = 0; j < QK4_0 / 2; j++) {
            const float x0 = x[j] * id;
            const float x1 = x[j + QK4_0 / 2] * id;
            const uint8_t q0 = (uint8_t)PLM_MIN(15, plm_f2i8_sat(x0 + 8.5f));
            const uint8_t q1 = (uint8_t)PLM_MIN(15, plm_f2i8_sat(x1 + 8.5f));
            out[2 + j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* ggml's nearest_int: round to nearest, ties to even, through the float adder
 * (exact for |f| <= 2^22; beyond that it wraps just as ggml's does). */
static inline int nearest_int(float f) {
    const float v = f + 12582912.0f; /* 1.5 * 2^23 */
    return (int)(f32_bits(v) & 0x007fffff) - 0x00400000;
}

#define GROUP_MAX_EPS 1e-15f

/* ggml's quantize_row_q8_K_ref: the value of largest magnitude (the first one)
 * maps to -127 with its sign, d = 1 / iscale, bsums = sums of 16. */
void plm_quantize_row_q8_K(const float *x, block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            const int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)PLM_MIN(127, v);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

/* ggml's make_qx_quants with rmse_type = 1 and no importance weights:
 * symmetric levels in [-nmax, nmax-1] (stored + nmax), scale chosen by a small
 * search that maximises the x^2-weighted fit. Returns the scale. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = PLM_MAX(-nmax, PLM_MIN(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * x[i]);
            l = PLM_MAX(-nmax, PLM_MIN(nmax - 1, l));
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                const int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + PLM_MAX(-nmax, PLM_MIN(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* ggml's quantize_row_q6_K_ref (what llama-quantize uses without an imatrix). */
static void quantize_row_q6_K(const float *x, uint8_t *out, int64_t n) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, out += 210) {
        uint8_t *ql = out, *qh = out + 128;
        int8_t *sc = (int8_t *)(out + 192);
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ib++) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            if (fabsf(scale) > max_abs_scale) {
                max_abs_scale = fabsf(scale);
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(out, 0, 210);
            continue;
        }
        const float iscale = -128.f / max_scale;
        wr_fp16(out + 208, plm_fp32_to_fp16(1 / iscale));
        const float d_all = rd_fp16(out + 208);
        for (int ib = 0; ib < QK_K / 16; ib++) sc[ib] = (int8_t)PLM_MIN(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = d_all * sc[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = nearest_int(x[16 * j + ii] / d);
                l = PLM_MAX(-32, PLM_MIN(31, l));
                L[16 * j + ii] = (int8_t)(l + 32);
            }
        }
        const uint8_t *Lu = (const uint8_t *)L;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = Lu[j + l + 0] & 0x0f, q2 = Lu[j + l + 32] & 0x0f;
                const uint8_t q3 = Lu[j + l + 64] & 0x0f, q4 = Lu[j + l + 96] & 0x0f;
                ql[l] = (uint8_t)(q1 | q3 << 4);
                ql[l + 32] = (uint8_t)(q2 | q4 << 4);
                qh[l] = (uint8_t)((Lu[j + l] >> 4) | (Lu[j + l + 32] >> 4) << 2 |
                                  (Lu[j + l + 64] >> 4) << 4 | (Lu[j + l + 96] >> 4) << 6);
            }
        }
    }
}

static void quant_f32(const float *x, uint8_t *out, int64_t n) { memcpy(out, x, (size_t)n * sizeof(float)); }
static void quant_f16(const float *x, uint8_t *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) wr_fp16(out + 2 * i, plm_fp32_to_fp16(x[i]));
}
static void quant_bf16(const float *x, uint8_t *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const uint16_t h = plm_fp32_to_bf16(x[i]);
        out[2 * i] = (uint8_t)h;
        out[2 * i + 1] = (uint8_t)(h >> 8);
    }
}
static void quant_q8_0(const float *x, uint8_t *out, int64_t n) { plm_quantize_row_q8_0(x, (block_q8_0 *)out, n); }
static void quant_q4_0(const float *x, uint8_t *out, int64_t n) { plm_quantize_row_q4_0(x, (block_q4_0 *)out, n); }

size_t plm_quantize(int type, const float *src, void *dst, int64_t nrows, int64_t n_per_row) {
    if (!plm_type_quantizable(type)) {
        plm_fail(PLM_E_UNSUPPORTED, "cannot quantize to type %s (no quantizer in the type table; f32, f16, bf16, q8_0, q4_0, q6_K have one)",
                 plm_type_name(type) ? plm_type_name(type) : "(unknown)");
        return 0;
    }
    const int blck = plm_type_block_size(type);
    if (nrows < 0 || n_per_row <= 0 || n_per_row % blck) {
        plm_fail(PLM_E_INVALID, "cannot quantize rows of %lld values to %s (block size %d)",
                 (long long)n_per_row, plm_type_name(type), blck);
        return 0;
    }
    const size_t row_bytes = plm_type_row_bytes(type, n_per_row);
    uint8_t *out = dst;
    for (int64_t r = 0; r < nrows; r++, src += n_per_row, out += row_bytes) {
        TYPES[type].quantize(src, out, n_per_row);
    }
    return (size_t)nrows * row_bytes;
}

/* ------------------------------------------------- exports for the JS side */

int plm_type_row_bytes_i(int type, int n) {
    if (!type_get(type) || n < 0 || n % TYPES[type].blck) return -1;
    const uint64_t b = (uint64_t)(n / TYPES[type].blck) * (uint64_t)TYPES[type].bytes;
    return b > INT_MAX ? -1 : (int)b;
}

/* Validates a rows x n_per_row request; returns total row bytes or a PLM_E_* code. */
static int64_t check_rows(int type, const void *a, const void *b, int nrows, int n_per_row, const char *what) {
    if (!a || !b || nrows < 0 || n_per_row <= 0)
        return plm_fail(PLM_E_INVALID, "%s: bad arguments (rows %d, row length %d)", what, nrows, n_per_row);
    const type_info *t = type_get(type);
    if (n_per_row % t->blck)
        return plm_fail(PLM_E_INVALID, "%s: row length %d is not a multiple of the %s block size %d", what,
                        n_per_row, t->name, t->blck);
    const uint64_t total = (uint64_t)(n_per_row / t->blck) * (uint64_t)t->bytes * (uint64_t)nrows;
    const uint64_t nfloat = (uint64_t)n_per_row * (uint64_t)nrows * sizeof(float);
    if (total > INT_MAX || nfloat > SIZE_MAX)
        return plm_fail(PLM_E_INVALID, "%s: %d rows of %d values are too many for one call; split the matrix",
                        what, nrows, n_per_row);
    return (int64_t)total;
}

int plm_quantize_rows(int type, const float *src, void *dst, int nrows, int n_per_row) {
    if (!plm_type_quantizable(type))
        return plm_fail(PLM_E_UNSUPPORTED, "cannot quantize to type %s (supported: f32, f16, bf16, q8_0, q4_0, q6_K)",
                        plm_type_name(type) ? plm_type_name(type) : "(unknown)");
    const int64_t total = check_rows(type, src, dst, nrows, n_per_row, "plm_quantize_rows");
    if (total < 0) return (int)total;
    plm_quantize(type, src, dst, nrows, n_per_row);
    return (int)total;
}

int plm_dequantize_rows(int type, const void *src, float *dst, int nrows, int n_per_row) {
    if (!plm_type_supported(type))
        return plm_fail(PLM_E_UNSUPPORTED, "cannot dequantize type %s",
                        plm_type_name(type) ? plm_type_name(type) : "(unknown)");
    const int64_t total = check_rows(type, src, dst, nrows, n_per_row, "plm_dequantize_rows");
    if (total < 0) return (int)total;
    const size_t row = plm_type_row_bytes(type, n_per_row);
    const uint8_t *b = src;
    for (int r = 0; r < nrows; r++) plm_dequantize_row(type, b + (size_t)r * row, dst + (size_t)r * n_per_row, n_per_row);
    return (int)total;
}
