/* test.h — a minimal unit-test harness for the native (and Node-run WASM) C tests.
 *   TEST(name) { CHECK(cond); CHECK_NEAR(a, b, tol); CHECK_EQ_INT(a, b); }
 *   int main(void) { RUN(name); ...; return test_summary(); }
 * Fixture paths are relative to the repository root (ctest runs there). */
#ifndef PLM_TEST_H
#define PLM_TEST_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures, test_checks, test_current_failed;
static const char *test_current;

#define TEST(name) static void name(void)
#define RUN(name)                                                         \
    do {                                                                  \
        test_current = #name;                                             \
        test_current_failed = 0;                                          \
        name();                                                           \
        printf("%s %s\n", test_current_failed ? "FAIL" : "ok  ", #name); \
        fflush(stdout);                                                   \
    } while (0)

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        test_checks++;                                                                     \
        if (!(cond)) {                                                                     \
            test_failures++;                                                               \
            test_current_failed = 1;                                                       \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, test_current, \
                    #cond);                                                                \
        }                                                                                  \
    } while (0)

#define CHECK_MSG(cond, ...)                                                      \
    do {                                                                          \
        test_checks++;                                                            \
        if (!(cond)) {                                                            \
            test_failures++;                                                      \
            test_current_failed = 1;                                              \
            fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, test_current);     \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                   \
    do {                                                                                     \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                \
        CHECK_MSG(va_ == vb_, "%s == %s failed: %lld vs %lld", #a, #b, va_, vb_);            \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                \
    do {                                                                                     \
        double va_ = (double)(a), vb_ = (double)(b);                                         \
        CHECK_MSG(fabs(va_ - vb_) <= (tol), "|%s - %s| = |%.9g - %.9g| = %.3g > %.3g", #a, #b, \
                  va_, vb_, fabs(va_ - vb_), (double)(tol));                                 \
    } while (0)

static int test_summary(void) {
    printf("%d checks, %d failures\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}

/* Test data: one xorshift64 stream per test program (reseed with *test_rng_state() = seed). */
static inline uint64_t *test_rng_state(void) {
    static uint64_t state = 0x9E3779B97F4A7C15ull;
    return &state;
}
static inline uint32_t rnd_u32(void) {
    uint64_t *r = test_rng_state();
    *r ^= *r << 13;
    *r ^= *r >> 7;
    *r ^= *r << 17;
    return (uint32_t)(*r >> 11);
}
static inline float frand(void) { return (float)((double)rnd_u32() / 2147483648.0 - 1.0); } /* [-1, 1) */

/* Read a whole file (malloc'd, NUL-terminated); NULL if it cannot be read. */
static inline char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len) *len = (size_t)n;
    }
    return buf;
}
#endif
