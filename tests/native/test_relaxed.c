/* test_relaxed.c — the relaxed-SIMD toolchain (cmake/relaxed.cmake): the macro reaches the code,
 * plm_build_features() reports it, and the instruction the int8 kernels are built on,
 * i32x4.relaxed_dot_i8x16_i7x16_add_s, is exact when its second operand is 7-bit (0..127): equal to
 * the integer dot product of its scalar twin on every input (the relaxed build's kernels rely on it).
 * Other builds run the scalar half only; the relaxed test programs are compiled with
 * PLM_EXPECT_RELAXED_SIMD, so they fail if the flag went missing. */
#include <stdint.h>

#include "plm.h"
#include "test.h"

#if defined(__wasm_relaxed_simd__)
#include <wasm_simd128.h>
#endif

/* acc[j] + sum_{k<4} a[4j+k] * b[4j+k]: the instruction's definition for 7-bit b */
static void dot_add_scalar(const int8_t *a, const int8_t *b, const int32_t *acc, int32_t *out) {
    for (int j = 0; j < 4; j++) {
        int32_t s = acc[j];
        for (int k = 0; k < 4; k++) s += (int32_t)a[4 * j + k] * (int32_t)b[4 * j + k];
        out[j] = s;
    }
}

TEST(features) {
    int f = plm_build_features();
#if defined(__wasm_relaxed_simd__)
    CHECK((f & 5) == 5);
#else
    CHECK((f & 4) == 0);
#if defined(PLM_EXPECT_RELAXED_SIMD)
    CHECK_MSG(0, "compiled without -mrelaxed-simd (__wasm_relaxed_simd__ undefined)");
#endif
#endif
}

TEST(relaxed_dot_exact) {
    int8_t a[16], b[16];
    int32_t acc[4], want[4];
    int n = 0;
    for (int it = 0; it < 20000; it++) {
        for (int i = 0; i < 16; i++) {
            a[i] = (int8_t)(rnd_u32() & 0xff);   /* -128..127 */
            b[i] = (int8_t)(rnd_u32() & 0x7f);   /* 0..127 (7-bit) */
        }
        if (it < 4) /* the extremes */
            for (int i = 0; i < 16; i++) a[i] = it & 1 ? -128 : 127, b[i] = it & 2 ? 127 : 0;
        for (int j = 0; j < 4; j++) acc[j] = (int32_t)rnd_u32() >> 4;
        dot_add_scalar(a, b, acc, want);
#if defined(__wasm_relaxed_simd__)
        int32_t got[4];
        v128_t r = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(wasm_v128_load(a), wasm_v128_load(b), wasm_v128_load(acc));
        wasm_v128_store(got, r);
        for (int j = 0; j < 4; j++) n += got[j] != want[j];
#else
        (void)want;
#endif
    }
    CHECK_EQ_INT(n, 0);
}

int main(void) {
    RUN(features);
    RUN(relaxed_dot_exact);
    return test_summary();
}
