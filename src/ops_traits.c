/* ops_traits.c — the compute layer of every weight type, in one table.
 *
 * ggml keeps two tables per type: the format (ggml.c's type_traits: name,
 * block size, bytes, to_float, from_float_ref) and the CPU kernels
 * (ggml-cpu's type_traits_cpu: vec_dot, vec_dot_type). plm-wasm does the same:
 * quant.c's TYPES is the format, MM below is the kernels. Adding a weight type
 * means one row in each (docs/HOWTO-add-weight-type.md); op_matmul, the
 * matmul sweeps and tests/native/test_types.c read nothing else.
 */
#include "ops.h"

/* Uniform (const void *w, const void *x, int n) signatures for the table. */
#define DOT(fn, WT, XT) \
    static float fn##_any(const void *w, const void *x, int n) { return fn((const WT *)w, (const XT *)x, n); }
DOT(vec_dot_f32_scalar, float, float)
DOT(vec_dot_f16_scalar, plm_fp16, float)
DOT(vec_dot_bf16_scalar, uint16_t, float)
DOT(vec_dot_q8_0_q8_0_scalar, block_q8_0, block_q8_0)
DOT(vec_dot_q4_0_q8_0_scalar, block_q4_0, block_q8_0)
DOT(vec_dot_q5_0_q8_0_scalar, void, block_q8_0)
DOT(vec_dot_q4_1_q8_0_scalar, void, block_q8_0)
DOT(vec_dot_q5_1_q8_0_scalar, void, block_q8_0)
DOT(vec_dot_q2_K_q8_K_scalar, void, block_q8_K)
DOT(vec_dot_q3_K_q8_K_scalar, void, block_q8_K)
DOT(vec_dot_q4_K_q8_K_scalar, block_q4_K, block_q8_K)
DOT(vec_dot_q5_K_q8_K_scalar, block_q5_K, block_q8_K)
DOT(vec_dot_q6_K_q8_K_scalar, block_q6_K, block_q8_K)
DOT(vec_dot_iq4_nl_q8_0_scalar, void, block_q8_0)
DOT(vec_dot_iq4_xs_q8_K_scalar, void, block_q8_K)
#if PLM_HAVE_SIMD
DOT(vec_dot_f32_simd, float, float)
DOT(vec_dot_f16_simd, plm_fp16, float)
DOT(vec_dot_bf16_simd, uint16_t, float)
DOT(vec_dot_q8_0_q8_0_simd, block_q8_0, block_q8_0)
DOT(vec_dot_q4_0_q8_0_simd, block_q4_0, block_q8_0)
DOT(vec_dot_q2_K_q8_K_simd, void, block_q8_K)
DOT(vec_dot_q3_K_q8_K_simd, void, block_q8_K)
DOT(vec_dot_q4_K_q8_K_simd, block_q4_K, block_q8_K)
DOT(vec_dot_q5_K_q8_K_simd, block_q5_K, block_q8_K)
DOT(vec_dot_q6_K_q8_K_simd, block_q6_K, block_q8_K)
DOT(vec_dot_iq4_nl_q8_0_simd, void, block_q8_0)
DOT(vec_dot_iq4_xs_q8_K_simd, void, block_q8_K)
#define SIMD(name) name##_simd_any
#else
#define SIMD(name) NULL
#endif
/* Q5_0 / Q4_1 / Q5_1: the SIMD build runs them as register tiles (ops_simd.c,
 * route TILES) and has no single-row SIMD dot: their SIMD twin is the tile at
 * m = 1, compared with the scalar dot through op_matmul by the tests. */
#define NO_SIMD_DOT NULL

#define S(name) name##_scalar_any

static const plm_mm_traits MM[PLM_TYPE_COUNT] = {
    /*                  act            scalar dot                 SIMD dot                      route           gemm           conv panel4 */
    [PLM_TYPE_F32]    = {PLM_ACT_F32,  S(vec_dot_f32),            SIMD(vec_dot_f32),            MM_ROUTE_TILES, MM_GEMM_FLOAT, 0, 0},
    [PLM_TYPE_F16]    = {PLM_ACT_F32,  S(vec_dot_f16),            SIMD(vec_dot_f16),            MM_ROUTE_TILES, MM_GEMM_FLOAT, 1, 0},
    [PLM_TYPE_BF16]   = {PLM_ACT_F32,  S(vec_dot_bf16),           SIMD(vec_dot_bf16),           MM_ROUTE_TILES, MM_GEMM_FLOAT, 0, 0},
    [PLM_TYPE_Q8_0]   = {PLM_ACT_Q8_0, S(vec_dot_q8_0_q8_0),      SIMD(vec_dot_q8_0_q8_0),      MM_ROUTE_DOT,   MM_GEMM_Q8,    0, 1},
    [PLM_TYPE_Q4_0]   = {PLM_ACT_Q8_0, S(vec_dot_q4_0_q8_0),      SIMD(vec_dot_q4_0_q8_0),      MM_ROUTE_DOT,   MM_GEMM_Q8,    0, 1},
    [PLM_TYPE_Q5_0]   = {PLM_ACT_Q8_0, S(vec_dot_q5_0_q8_0),      NO_SIMD_DOT,                  MM_ROUTE_TILES, MM_GEMM_NONE,  0, 0},
    [PLM_TYPE_Q4_1]   = {PLM_ACT_Q8_0, S(vec_dot_q4_1_q8_0),      NO_SIMD_DOT,                  MM_ROUTE_TILES, MM_GEMM_NONE,  0, 0},
    [PLM_TYPE_Q5_1]   = {PLM_ACT_Q8_0, S(vec_dot_q5_1_q8_0),      NO_SIMD_DOT,                  MM_ROUTE_TILES, MM_GEMM_NONE,  0, 0},
    [PLM_TYPE_Q2_K]   = {PLM_ACT_Q8_K, S(vec_dot_q2_K_q8_K),      SIMD(vec_dot_q2_K_q8_K),      MM_ROUTE_DOT,   MM_GEMM_NONE,  0, 0},
    [PLM_TYPE_Q3_K]   = {PLM_ACT_Q8_K, S(vec_dot_q3_K_q8_K),      SIMD(vec_dot_q3_K_q8_K),      MM_ROUTE_DOT,   MM_GEMM_NONE,  0, 0},
    [PLM_TYPE_Q4_K]   = {PLM_ACT_Q8_K, S(vec_dot_q4_K_q8_K),      SIMD(vec_dot_q4_K_q8_K),      MM_ROUTE_KROWS, MM_GEMM_K,     0, 0},
    [PLM_TYPE_Q5_K]   = {PLM_ACT_Q8_K, S(vec_dot_q5_K_q8_K),      SIMD(vec_dot_q5_K_q8_K),      MM_ROUTE_KROWS, MM_GEMM_K,     0, 0},
    [PLM_TYPE_Q6_K]   = {PLM_ACT_Q8_K, S(vec_dot_q6_K_q8_K),      SIMD(vec_dot_q6_K_q8_K),      MM_ROUTE_KROWS, MM_GEMM_K,     0, 0},
    [PLM_TYPE_IQ4_NL] = {PLM_ACT_Q8_0, S(vec_dot_iq4_nl_q8_0),    SIMD(vec_dot_iq4_nl_q8_0),    MM_ROUTE_DOT,   MM_GEMM_NONE,  0, 0},
    [PLM_TYPE_IQ4_XS] = {PLM_ACT_Q8_K, S(vec_dot_iq4_xs_q8_K),    SIMD(vec_dot_iq4_xs_q8_K),    MM_ROUTE_DOT,   MM_GEMM_NONE,  0, 0},
};

const plm_mm_traits *plm_mm_traits_get(int type) {
    if (type < 0 || type >= PLM_TYPE_COUNT || !MM[type].dot_scalar) return NULL;
    return &MM[type];
}

const char *plm_act_name(int act) {
    switch (act) {
    case PLM_ACT_F32: return "f32";
    case PLM_ACT_Q8_0: return "q8_0";
    case PLM_ACT_Q8_K: return "q8_K";
    default: return "(unknown activation format)";
    }
}
