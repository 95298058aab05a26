/* test_alloc_fail.c — allocation-failure injection over the whole model path:
 * load (GGUF + tokenizer + weights binding), context, batched decode, token-by-
 * token decode, sampling. For k = 1, 2, ... the k-th allocation made anywhere
 * fails; every call must then fail cleanly (an error code, nothing leaked —
 * ASan checks at exit) and a context that exists must stay usable.
 *
 * Native only: the allocator is intercepted with the linker's --wrap (see
 * CMakeLists.txt); the wasm builds run an empty test. */
#include <stdint.h>

#include "plm.h"
#include "test.h"

#if defined(__wasm__)
int main(void) {
    (void)test_read_file;
    printf("allocation-failure injection runs natively only\n");
    return test_summary();
}
#else
static long g_count = -1, g_fail_at = -1;
static int g_failed;

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);

static int inject(void) {
    if (g_count < 0) return 0;
    if (++g_count == g_fail_at) {
        g_failed = 1;
        return 1;
    }
    return 0;
}
void *__wrap_malloc(size_t n) { return inject() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t a, size_t b) { return inject() ? NULL : __real_calloc(a, b); }
void *__wrap_realloc(void *p, size_t n) { return inject() ? NULL : __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t align, size_t n) {
    return inject() ? 12 /* ENOMEM */ : __real_posix_memalign(p, align, n);
}

static void run_file(const char *path) {
    size_t n;
    uint8_t *buf = (uint8_t *)test_read_file(path, &n);
    CHECK_MSG(buf != NULL, "cannot read %s", path);
    if (!buf) return;
    int32_t ids[100];
    for (int i = 0; i < 100; i++) ids[i] = 3 + (i * 37) % 500;
    float logits[512];
    int injected = 0, bad = 0;
    for (g_fail_at = 1; g_fail_at < 100000; g_fail_at++) {
        g_count = 0;
        g_failed = 0;
        plm_model *m = plm_model_load_buffer(buf, n, 0);
        plm_ctx *c = m ? plm_ctx_new(m, 0) : NULL;
        plm_sampler *s = plm_sampler_new(1);
        int32_t tok[16];
        if (m) {
            int k = plm_tokenize(m, "Once upon a time", 16, 1, 0, tok, 16);
            if (k < 0 && plm_errcode() != PLM_E_NOMEM) bad++;
        }
        if (c) {
            int rc = plm_ctx_decode(c, ids, 40, logits, 0);
            if (rc < 0 && (rc != PLM_E_NOMEM || plm_ctx_n_past(c) != 0)) bad++;
            for (int i = 0; i < 4; i++) {
                int32_t id = s ? plm_sampler_sample(s, logits, 512) : 0;
                if (id < 0) id = 0;
                if (s) plm_sampler_accept(s, id);
                plm_ctx_decode(c, &id, 1, logits, 0);
            }
        }
        g_count = -1; /* allocations succeed again: what exists must still work */
        if (c) {
            plm_ctx_truncate(c, 0);
            if (plm_ctx_decode(c, ids, 20, logits, 0) != PLM_OK) bad++;
        }
        plm_sampler_free(s);
        plm_ctx_free(c);
        plm_model_free(m);
        if (!g_failed) break; /* ran to the end without reaching the k-th allocation */
        injected++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(injected > 50);
    printf("  %s: %d injected allocation failures handled\n", path, injected);
    free(buf);
}

/* T5: load, context, encoder, decoder steps, beam search (reorders the caches) */
static void run_t5_file(const char *path) {
    size_t n;
    uint8_t *buf = (uint8_t *)test_read_file(path, &n);
    CHECK_MSG(buf != NULL, "cannot read %s", path);
    if (!buf) return;
    const int32_t in[8] = {52, 5, 6, 999, 51, 30, 13, 1}, dec[3] = {0, 17, 4};
    static float logits[3 * 1024];
    int32_t out[8];
    int injected = 0, bad = 0;
    for (g_fail_at = 1; g_fail_at < 100000; g_fail_at++) {
        g_count = 0;
        g_failed = 0;
        plm_model *m = plm_model_load_buffer(buf, n, 0);
        plm_t5 *c = m ? plm_t5_new(m, 64) : NULL;
        if (c) {
            int rc = plm_t5_encode(c, in, NULL, 8, NULL);
            if (rc < 0 && rc != PLM_E_NOMEM) bad++;
            rc = rc ? rc : plm_t5_decode(c, dec, 3, logits, 1);
            if (rc < 0 && rc != PLM_E_NOMEM && rc != PLM_E_STATE) bad++;
            rc = plm_t5_beam_begin(c, 2, 4, 1.0f, 0);
            while (rc >= 0 && (rc = plm_t5_beam_step(c)) == 1) {}
            if (rc < 0 && rc != PLM_E_NOMEM && rc != PLM_E_STATE) bad++;
        }
        g_count = -1; /* allocations succeed again: the context must still work */
        if (c) {
            if (plm_t5_encode(c, in, NULL, 8, NULL) != PLM_OK) bad++;
            if (plm_t5_decode(c, dec, 3, logits, 1) != PLM_OK) bad++;
            int rc = plm_t5_beam_begin(c, 2, 4, 1.0f, 0);
            while (rc >= 0 && (rc = plm_t5_beam_step(c)) == 1) {}
            if (rc != 0 || plm_t5_beam_result(c, out, 8, NULL) <= 0) bad++;
        }
        plm_t5_free(c);
        plm_model_free(m);
        if (!g_failed) break;
        injected++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(injected > 50);
    printf("  %s: %d injected allocation failures handled\n", path, injected);
    free(buf);
}

TEST(allocation_failures) {
    run_file("tests/fixtures/gpt2/gpt2-tiny-Q4_0.gguf");
    run_file("tests/fixtures/llama/stories260K/stories260K-Q8_0.gguf");
    run_file("tests/fixtures/llama/tiny-random-gqa/llama-tiny-gqa-F16.gguf");
    run_t5_file("tests/fixtures/t5/v1_1/tiny-t5-v1.1-random-q80.gguf");
}

int main(void) {
    RUN(allocation_failures);
    return test_summary();
}
#endif
