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

#define PLM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define PLM_MAX(a, b) ((a) > (b) ? (a) : (b))

#ifdef __cplusplus
}
#endif
#endif
