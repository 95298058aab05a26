/* common.h — internal helpers shared by every layer of the core:
 * error reporting ("errors are values"), checked allocation, small utilities.
 *
 * Convention: a function that can fail returns an int status (PLM_OK = 0 or a
 * negative PLM_E_* code) or a pointer (NULL on failure). Whoever detects the
 * failure calls plm_fail(code, fmt, ...) exactly once; that records a
 * human-readable message that the public API hands to JS (plm_errmsg()).
 * Callers that only propagate a failure return the code unchanged and do not
 * overwrite the message. Nothing in the core aborts or exits.
 */
#ifndef PLM_COMMON_H
#define PLM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "plm.h" /* status codes PLM_OK / PLM_E_* */

#ifdef __cplusplus
extern "C" {
#endif

/* Record an error (printf-style message) and return `code` (a PLM_E_* value). */
int plm_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Allocation that records PLM_E_NOMEM with a message naming `what` on failure.
 * Returns NULL on failure. Memory from these is released with free(). */
void *plm_malloc_for(size_t n, const char *what);
void *plm_calloc_for(size_t count, size_t size, const char *what);
void *plm_realloc_for(void *p, size_t n, const char *what);
/* 64-byte aligned allocation (weights, activations). Release with plm_aligned_free. */
void *plm_aligned_alloc_for(size_t n, const char *what);
void plm_aligned_free(void *p);

char *plm_strdup_for(const char *s, const char *what);

/* Overflow-checked size arithmetic. Every size computed from file or caller
 * values goes through these before it is used: size_t is 32-bit in the wasm
 * build, so a product of header values that is harmless natively can wrap there.
 * Each returns 1 and stores the result if it fits, 0 (and leaves *out alone) if
 * it would overflow. */
static inline int plm_size_mul(size_t a, size_t b, size_t *out) {
    if (b && a > SIZE_MAX / b) return 0;
    *out = a * b;
    return 1;
}
static inline int plm_size_mul3(size_t a, size_t b, size_t c, size_t *out) {
    size_t ab;
    return plm_size_mul(a, b, &ab) && plm_size_mul(ab, c, out);
}
static inline int plm_size_add(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return 0;
    *out = a + b;
    return 1;
}
/* a x b as a non-negative int (element counts handed to the kernels); 0 if either
 * is negative or the product exceeds INT_MAX. */
static inline int plm_int_mul(int64_t a, int64_t b, int *out) {
    if (a < 0 || b < 0 || (b && a > 2147483647 / b)) return 0;
    *out = (int)(a * b);
    return 1;
}

#define PLM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PLM_MAX(a, b) ((a) > (b) ? (a) : (b))

#ifdef __cplusplus
}
#endif
#endif
