/* gguf_writer.h — builds small GGUF files in memory for tests (metadata only,
 * no tensors): tests construct vocabularies in forms no fixture file has.
 *   gw w; gw_begin(&w); gw_str(&w, "tokenizer.ggml.model", "t5"); ...; gw_end(&w);
 *   gguf_load_buffer(w.p, w.n); ... free(w.p);
 * Test-only code: allocation failures abort the test. */
#ifndef PLM_TEST_GGUF_WRITER_H
#define PLM_TEST_GGUF_WRITER_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct gw {
    uint8_t *p;
    size_t n, cap;
    uint64_t n_kv;
} gw;

static inline void gw_put(gw *w, const void *s, size_t n) {
    if (w->n + n > w->cap) {
        while (w->n + n > w->cap) w->cap = w->cap ? 2 * w->cap : 4096;
        w->p = realloc(w->p, w->cap);
        if (!w->p) abort();
    }
    memcpy(w->p + w->n, s, n);
    w->n += n;
}
static inline void gw_u32v(gw *w, uint32_t v) { gw_put(w, &v, 4); } /* little-endian hosts only */
static inline void gw_u64v(gw *w, uint64_t v) { gw_put(w, &v, 8); }
static inline void gw_strv(gw *w, const char *s, size_t n) { gw_u64v(w, n), gw_put(w, s, n); }
static inline void gw_key(gw *w, const char *key, uint32_t type) {
    gw_strv(w, key, strlen(key));
    gw_u32v(w, type);
    w->n_kv++;
}

static inline void gw_begin(gw *w) {
    memset(w, 0, sizeof *w);
    gw_put(w, "GGUF", 4);
    gw_u32v(w, 3);
    gw_u64v(w, 0); /* tensors */
    gw_u64v(w, 0); /* kv count, patched by gw_end */
}
static inline void gw_end(gw *w) {
    memcpy(w->p + 16, &w->n_kv, 8);
    static const uint8_t zeros[32] = {0};
    gw_put(w, zeros, (32 - w->n % 32) % 32);
}
static inline void gw_str(gw *w, const char *key, const char *v) { gw_key(w, key, 8), gw_strv(w, v, strlen(v)); }
static inline void gw_u32(gw *w, const char *key, uint32_t v) { gw_key(w, key, 4), gw_u32v(w, v); }
static inline void gw_bool(gw *w, const char *key, int v) {
    uint8_t b = (uint8_t)(v != 0);
    gw_key(w, key, 7), gw_put(w, &b, 1);
}
static inline void gw_arr_str(gw *w, const char *key, char *const *s, const uint32_t *len, uint64_t n) {
    gw_key(w, key, 9), gw_u32v(w, 8), gw_u64v(w, n);
    for (uint64_t i = 0; i < n; i++) gw_strv(w, s[i], len ? len[i] : strlen(s[i]));
}
static inline void gw_arr_f32(gw *w, const char *key, const float *v, uint64_t n) {
    gw_key(w, key, 9), gw_u32v(w, 6), gw_u64v(w, n), gw_put(w, v, 4 * n);
}
static inline void gw_arr_i32(gw *w, const char *key, const int32_t *v, uint64_t n) {
    gw_key(w, key, 9), gw_u32v(w, 5), gw_u64v(w, n), gw_put(w, v, 4 * n);
}
static inline void gw_arr_u8(gw *w, const char *key, const uint8_t *v, uint64_t n) {
    gw_key(w, key, 9), gw_u32v(w, 0), gw_u64v(w, n), gw_put(w, v, n);
}
#endif
