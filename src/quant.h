/* quant.h — tensor element types and ggml's block quantization formats.
 *
 * Type ids are ggml's (enum ggml_type), so they can be read from and written
 * to GGUF files unchanged. Block layouts are ggml's, bit for bit:
 *   Q8_0: 32 weights / 34 bytes  = fp16 d, int8 q[32];           x = q*d
 *   Q4_0: 32 weights / 18 bytes  = fp16 d, uint8 qs[16];          x = (nibble-8)*d
 *         byte j: low nibble = element j, high nibble = element j+16
 *   Q4_1, Q5_0, Q5_1: 32 weights / block (read-only: dequantize / get_rows)
 *   Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: 256 weights / super-block (read-only support)
 *   IQ4_NL: 32 weights / 18 bytes = fp16 d, uint8 qs[16]; x = d * kvalues_iq4nl[nibble]
 *   IQ4_XS: 256 weights / 136 bytes = fp16 d, u16 scales_h, u8 scales_l[4], u8 qs[128];
 *           8 sub-blocks of 32 as IQ4_NL with 6-bit scales (ls - 32) * d
 *   Q8_K: 256 values / block (float d, int8 qs[256], int16 bsums[16]): activations
 *         for K-quant dot products (ggml's quantize_row_q8_K)
 * Reference quantizers reproduce ggml's quantize_row_*_ref exactly.
 */
#ifndef PLM_QUANT_H
#define PLM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum plm_type {
    PLM_TYPE_F32 = 0,
    PLM_TYPE_F16 = 1,
    PLM_TYPE_Q4_0 = 2,
    PLM_TYPE_Q4_1 = 3,
    PLM_TYPE_Q5_0 = 6,
    PLM_TYPE_Q5_1 = 7,
    PLM_TYPE_Q8_0 = 8,
    PLM_TYPE_Q8_1 = 9,
    PLM_TYPE_Q2_K = 10,
    PLM_TYPE_Q3_K = 11,
    PLM_TYPE_Q4_K = 12,
    PLM_TYPE_Q5_K = 13,
    PLM_TYPE_Q6_K = 14,
    PLM_TYPE_Q8_K = 15,
    PLM_TYPE_IQ2_XXS = 16,
    PLM_TYPE_IQ2_XS = 17,
    PLM_TYPE_IQ3_XXS = 18,
    PLM_TYPE_IQ1_S = 19,
    PLM_TYPE_IQ4_NL = 20,
    PLM_TYPE_IQ3_S = 21,
    PLM_TYPE_IQ2_S = 22,
    PLM_TYPE_IQ4_XS = 23,
    PLM_TYPE_I8 = 24,
    PLM_TYPE_I16 = 25,
    PLM_TYPE_I32 = 26,
    PLM_TYPE_I64 = 27,
    PLM_TYPE_F64 = 28,
    PLM_TYPE_IQ1_M = 29,
    PLM_TYPE_BF16 = 30,
    /* 31-33, 36-38: ids ggml removed (Q4_0_4_4 ..., IQ4_NL_4_4 ...) */
    PLM_TYPE_TQ1_0 = 34,
    PLM_TYPE_TQ2_0 = 35,
    PLM_TYPE_MXFP4 = 39,
    PLM_TYPE_NVFP4 = 40,
    PLM_TYPE_Q1_0 = 41,
    PLM_TYPE_Q2_0 = 42,
    PLM_TYPE_COUNT = 43 /* one past the largest id known (ggml's GGML_TYPE_COUNT) */
};

#define QK8_0 32
#define QK4_0 32
#define QK_K 256

typedef uint16_t plm_fp16;

typedef struct {
    plm_fp16 d;
    int8_t qs[QK8_0];
} block_q8_0; /* 34 bytes */

typedef struct {
    plm_fp16 d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0; /* 18 bytes */

typedef struct {
    plm_fp16 d;
    plm_fp16 dmin;
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
} block_q4_K; /* 144 bytes */

typedef struct {
    plm_fp16 d;
    plm_fp16 dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K; /* 176 bytes */

typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16]; /* sums of qs in groups of 16 */
} block_q8_K; /* 292 bytes */

typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    plm_fp16 d;
} block_q6_K; /* 210 bytes */

typedef struct {
    uint8_t scales[QK_K / 16]; /* low nibble: scale, high nibble: min (16-weight sub-blocks) */
    uint8_t qs[QK_K / 4];      /* 2-bit quants */
    plm_fp16 d;
    plm_fp16 dmin;
} block_q2_K; /* 84 bytes */

typedef struct {
    uint8_t hmask[QK_K / 8]; /* high bit (set: +0, clear: -4) */
    uint8_t qs[QK_K / 4];    /* low 2 bits */
    uint8_t scales[12];      /* 16 6-bit scales, value - 32 */
    plm_fp16 d;
} block_q3_K; /* 110 bytes */

typedef struct {
    plm_fp16 d;
    uint8_t qs[16];
} block_iq4_nl; /* 18 bytes */

typedef struct {
    plm_fp16 d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
} block_iq4_xs; /* 136 bytes */

/* The 16 non-linear levels of IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl). */
extern const int8_t plm_kvalues_iq4nl[16];
/* 16 signed 6-bit scales (value - 32) of a Q3_K super-block from its 12 packed bytes. */
void plm_q3_K_scales(const uint8_t *packed, int8_t sc[16]);
/* 6-bit scale (value - 32 NOT applied: 0..63) of IQ4_XS sub-block ib (0..7). */
static inline int plm_iq4_xs_scale(const uint8_t *blk, int ib) {
    const int sh = blk[2] | blk[3] << 8;
    return ((blk[4 + ib / 2] >> 4 * (ib % 2)) & 0x0F) | ((sh >> 2 * ib) & 3) << 4;
}

/* Name as ggml prints it ("f32", "f16", "q8_0", ...) or NULL for unknown ids. */
const char *plm_type_name(int type);
/* 1 if the engine can read tensors of this type (the type table has a dequantizer:
 * F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL,
 * IQ4_XS); every such type also has a matmul entry (ops_traits.c, checked by test_types). */
int plm_type_supported(int type);
/* Elements per block (1 for F32/F16/BF16) and bytes per block; 0 if unknown. */
int plm_type_block_size(int type);
size_t plm_type_block_bytes(int type);
/* Bytes of a row of n elements (n must be a multiple of the block size). */
size_t plm_type_row_bytes(int type, int64_t n);

/* fp16 / bf16 conversions (IEEE binary16, round-to-nearest-even; NaN/Inf kept). */
float plm_fp16_to_fp32(plm_fp16 h);
plm_fp16 plm_fp32_to_fp16(float f);
/* float -> int8 like a C cast (toward zero) for values in range; NaN gives 0 and
 * out-of-range values saturate (as wasm's trunc_sat + narrow do) instead of being
 * undefined behaviour: NaN/Inf data, or a scale 1/d that overflows for tiny d. */
static inline int8_t plm_f2i8_sat(float r) {
    return r == r ? (int8_t)(r >= 127.0f ? 127.0f : r <= -128.0f ? -128.0f : r) : 0;
}
float plm_bf16_to_fp32(uint16_t h);
uint16_t plm_fp32_to_bf16(float f); /* round-to-nearest-even, as ggml */

/* Dequantize n elements (a whole number of blocks) of `type` from src into dst
 * (src needs no alignment). Unsupported type / bad n: plm_fail(), dst untouched. */
void plm_dequantize_row(int type, const void *src, float *dst, int64_t n);

/* ggml reference quantizers (quantize_row_q8_0_ref / quantize_row_q4_0_ref). n % 32 == 0. */
void plm_quantize_row_q8_0(const float *x, block_q8_0 *y, int64_t n);
void plm_quantize_row_q4_0(const float *x, block_q4_0 *y, int64_t n);
void plm_convert_row_f16(const float *x, plm_fp16 *y, int64_t n);
/* ggml's quantize_row_q8_K_ref (activations of K-quant dot products). n % 256 == 0. */
void plm_quantize_row_q8_K(const float *x, block_q8_K *y, int64_t n);
/* 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes of Q4_K / Q5_K. */
void plm_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m);
/* 1 if plm_quantize can write this type (the type table has a quantizer). */
int plm_type_quantizable(int type);
/* Quantize a [nrows x n_per_row] matrix into dst (sized rows * plm_type_row_bytes).
 * Supported targets: those of plm_type_quantizable (F32, F16, BF16, Q8_0, Q4_0, Q6_K).
 * Returns bytes written, 0 on unsupported type / bad row length. */
size_t plm_quantize(int type, const float *src, void *dst, int64_t nrows, int64_t n_per_row);

#ifdef __cplusplus
}
#endif
#endif
