/* common.c — error recording and checked allocation (see common.h). */
#include "common.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In WebAssembly only the thread that called into the API records errors
 * (workers run kernels and never fail), so a plain static is enough there and
 * avoids depending on TLS setup in shared-memory builds. */
#if defined(__wasm__)
#define PLM_TLS
#else
#define PLM_TLS _Thread_local
#endif

static PLM_TLS int g_errcode;
static PLM_TLS char g_errmsg[512];

int plm_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    g_errcode = code;
    return code;
}

const char *plm_errmsg(void) { return g_errmsg; }
int plm_errcode(void) { return g_errcode; }
void plm_clear_error(void) {
    g_errcode = 0;
    g_errmsg[0] = 0;
}

static void fail_nomem(size_t n, const char *what) {
    if (n >= (size_t)1 << 20)
        plm_fail(PLM_E_NOMEM, "out of memory: %s needs %.1f MB more than is available",
                 what ? what : "allocation", (double)n / (1024.0 * 1024.0));
    else
        plm_fail(PLM_E_NOMEM, "out of memory allocating %zu bytes for %s", n,
                 what ? what : "allocation");
}

void *plm_malloc_for(size_t n, const char *what) {
    void *p = malloc(n ? n : 1);
    if (!p) fail_nomem(n, what);
    return p;
}

void *plm_calloc_for(size_t count, size_t size, const char *what) {
    if (size && count > SIZE_MAX / size) {
        fail_nomem(SIZE_MAX, what);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) fail_nomem(count * size, what);
    return p;
}

void *plm_realloc_for(void *p, size_t n, const char *what) {
    void *q = realloc(p, n ? n : 1);
    if (!q) fail_nomem(n, what);
    return q;
}

void *plm_aligned_alloc_for(size_t n, const char *what) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 1) != 0) p = NULL;
    if (!p) fail_nomem(n, what);
    return p;
}

void plm_aligned_free(void *p) { free(p); }

char *plm_strdup_for(const char *s, const char *what) {
    size_t n = strlen(s) + 1;
    char *d = plm_malloc_for(n, what);
    if (d) memcpy(d, s, n);
    return d;
}

void *plm_alloc(size_t n) { return malloc(n ? n : 1); }
void plm_dealloc(void *p) { free(p); }

double plm_heap_used(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks + (double)mi.hblkhd;
#elif defined(__wasi__)
    return -1; /* wasi-libc has no mallinfo (only the C test programs of the relaxed build use it) */
#else
    struct mallinfo mi = mallinfo();
    return (double)(unsigned)mi.uordblks;
#endif
}
