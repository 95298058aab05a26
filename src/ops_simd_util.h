/* ops_simd_util.h — small always-inline WebAssembly SIMD128 helpers shared by
 * the SIMD kernel files (ops_simd.c, ops_gemm_f.c): the canonical lane sum and
 * exact fp16 / bf16 -> fp32 widening. Include only under __wasm_simd128__. */
#ifndef PLM_OPS_SIMD_UTIL_H
#define PLM_OPS_SIMD_UTIL_H

#include <stdint.h>
#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))

/* Tile loops over RM / RN (compile-time constants) must unroll completely so
 * that the accumulator arrays become registers. */
#define UNROLL _Pragma("clang loop unroll(full)")

#define F4(c) wasm_f32x4_splat(c)
#define I4(c) wasm_i32x4_splat(c)

/* (l0 + l2) + (l1 + l3), the canonical lane combination. */
INLINE float hsum(v128_t v) {
    v128_t t = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    return wasm_f32x4_extract_lane(t, 0) + wasm_f32x4_extract_lane(t, 1);
}

/* ------------------------------------------------------ fp16 / bf16 */

/* Halves sit in the high 16 bits of each i32 lane (h << 16). */
INLINE v128_t lo_halves(v128_t h8) {
    return wasm_i16x8_shuffle(wasm_i32x4_splat(0), h8, 0, 8, 1, 9, 2, 10, 3, 11);
}
INLINE v128_t hi_halves(v128_t h8) {
    return wasm_i16x8_shuffle(wasm_i32x4_splat(0), h8, 0, 12, 1, 13, 2, 14, 3, 15);
}

/* Normal numbers and zeros only: the arithmetic shift puts sign, exponent and
 * mantissa where a float with exponent bias 15 would have them; multiplying by
 * 2^112 rebiases. Exact, but a subnormal half would make this a float
 * subnormal multiply (very slow on x86) and Inf/NaN would come out finite —
 * callers check with h_special() and use h2f_exact() for such data. */
INLINE v128_t h2f_fast(v128_t u) {
    v128_t t = wasm_v128_and(wasm_i32x4_shr(u, 3), I4((int32_t)0x8fffe000));
    return wasm_f32x4_mul(t, F4(0x1p112f));
}

/* Every half: normals by rebiasing the exponent, subnormals as
 * mantissa * 2^-24 (an exact int->float conversion), Inf/NaN by setting the
 * float exponent to all ones (payload and quiet bit kept). */
INLINE v128_t h2f_exact(v128_t u) {
    const v128_t sign = wasm_v128_and(u, I4((int32_t)0x80000000));
    const v128_t a = wasm_u32x4_shr(wasm_v128_and(u, I4(0x7fff0000)), 3); /* (h&0x7fff)<<13 */
    const v128_t e = wasm_v128_and(a, I4(0x0f800000));
    const v128_t normal = wasm_i32x4_add(a, I4(112 << 23));
    const v128_t sub = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_u32x4_shr(a, 13)), F4(0x1p-24f));
    const v128_t infnan = wasm_v128_or(a, I4(0x7f800000));
    v128_t r = wasm_v128_bitselect(sub, normal, wasm_i32x4_eq(e, I4(0)));
    r = wasm_v128_bitselect(infnan, r, wasm_i32x4_eq(e, I4(0x0f800000)));
    return wasm_v128_or(r, sign);
}

/* Mask of the halves among 8 with exponent 0 (zero, subnormal) or 31 (Inf,
 * NaN): adding 1 to the exponent field maps those two to 0 and 1. */
INLINE v128_t h_special(v128_t h8) {
    v128_t e = wasm_v128_and(wasm_i16x8_add(h8, wasm_i16x8_splat(0x0400)), wasm_i16x8_splat(0x7c00));
    return wasm_i16x8_lt(e, wasm_i16x8_splat(0x0800));
}

#endif
