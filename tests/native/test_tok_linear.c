/* test_tok_linear.c — every tokenizer path costs linear (or n log n) time in its
 * input (issue 12: BERT's canonical ordering was quadratic in a run of combining
 * marks; 64 KB took 33 s). For each fixture vocabulary (BPE gpt-2, SPM llama,
 * WordPiece bert, Unigram t5) and each hostile input shape, tokenizing 4x the input
 * must not cost 16x the time, step after step (timing RATIOS inside one run: best
 * of several interleaved repetitions, so a loaded machine slows every size alike);
 * detokenizing the result is timed with it. Plus: the linear canonical ordering equals the insertion sort. */
#include <stdint.h>
#include <time.h>

#include "test.h"
#include "plm.h"
#include "unicode.h"

#define PLM_TEST_MIN(a, b) ((a) < (b) ? (a) : (b))

/* the thread's CPU time natively (being descheduled on a loaded machine costs nothing);
 * wall time in the wasm builds, whose runtimes may not provide a CPU clock */
static double now(void) {
    struct timespec ts;
#if defined(__linux__) && !defined(__wasm__) && defined(CLOCK_THREAD_CPUTIME_ID)
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void put_cp(char *s, size_t *o, uint32_t cp) {
    if (cp < 0x80) s[(*o)++] = (char)cp;
    else if (cp < 0x800) s[(*o)++] = (char)(0xC0 | cp >> 6), s[(*o)++] = (char)(0x80 | (cp & 0x3F));
    else s[(*o)++] = (char)(0xE0 | cp >> 12), s[(*o)++] = (char)(0x80 | (cp >> 6 & 0x3F)), s[(*o)++] = (char)(0x80 | (cp & 0x3F));
}

/* n bytes (about) of input shape `kind` */
static const char *KINDS[] = {"combining marks", "one long word", "digits", "spaces", "punctuation",
                              "invalid UTF-8", "CJK", "newlines", "random bytes", "long word of one letter"};
enum { N_KINDS = 10 };
static char *make_input(int kind, size_t n, size_t *len) {
    char *s = malloc(n + 8);
    size_t o = 0;
    *test_rng_state() = 42;
    if (kind == 0) put_cp(s, &o, 'a');
    while (o < n) {
        switch (kind) {
        case 0: put_cp(s, &o, (o / 2) % 2 ? 0x0301 : 0x0323); break; /* classes 230, 220 alternating */
        case 1: s[o] = (char)('a' + (o * 7) % 26), o++; break;
        case 2: s[o] = (char)('0' + o % 10), o++; break;
        case 3: s[o++] = ' '; break;
        case 4: s[o] = "!?.,;:-"[o % 7], o++; break;
        case 5: s[o] = (char)(0xF8 + o % 8), o++; break;
        case 6: put_cp(s, &o, 0x4E00 + (uint32_t)(o % 500)); break;
        case 7: s[o++] = '\n'; break;
        case 8: s[o] = (char)(rnd_u32() & 0xFF); if (!s[o]) s[o] = 'x'; o++; break;
        default: s[o++] = 'a'; break;
        }
    }
    *len = o;
    return s;
}

/* time of one tokenize (+ detokenize) call; buffers allocated and touched up front */
typedef struct {
    int32_t *ids;
    char *back;
    size_t cap;
} tok_bufs;
static double time_tok(plm_model *m, const char *s, size_t len, tok_bufs *b, int *n_tok) {
    double t0 = now();
    int n = plm_tokenize(m, s, (int)len, 1, 0, b->ids, (int)b->cap);
    if (n > 0) plm_detokenize(m, b->ids, n, 0, b->back, (int)(b->cap * 4));
    *n_tok = n;
    return now() - t0;
}

/* Sizes 8 KB, 32 KB, 128 KB; each step 4x the input. Working buffers leave the CPU
 * caches around 32-128 KB, which alone makes one step cost up to ~10x (measured:
 * the cost per byte then levels off up to 4 MB), so the test fails when BOTH steps
 * exceed 8x: a quadratic path costs 16x at every step. Best of 3, interleaved. */
TEST(tokenizers_linear) {
    const char *files[] = {"tests/fixtures/tokenizers/ggml-vocab-gpt-2.gguf", "tests/fixtures/tokenizers/ggml-vocab-llama-spm.gguf",
                           "tests/fixtures/tokenizers/ggml-vocab-bert-base-uncased.gguf",
                           "tests/fixtures/tokenizers/ggml-vocab-t5-small.gguf"};
    enum { STEPS = 3 };
    const size_t sizes[STEPS] = {8 << 10, 32 << 10, 128 << 10};
    tok_bufs b = {malloc(((128 << 10) + 64) * 4 * sizeof(int32_t)), malloc(((128 << 10) + 64) * 16), ((128 << 10) + 64) * 4};
    memset(b.ids, 0, b.cap * sizeof *b.ids);
    memset(b.back, 0, b.cap * 4);
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        plm_model *m = plm_model_load_file(files[f], PLM_LOAD_VOCAB_ONLY);
        CHECK_MSG(m != NULL, "%s: %s", files[f], plm_errmsg());
        if (!m) continue;
        for (int k = 0; k < N_KINDS; k++) {
            char *in[STEPS];
            size_t len[STEPS];
            double t[STEPS] = {1e30, 1e30, 1e30};
            int toks[STEPS] = {0};
            for (int i = 0; i < STEPS; i++) in[i] = make_input(k, sizes[i], &len[i]);
            /* best of 3 interleaved repetitions; on a failing ratio measure again (up to 4 more
             * rounds, keeping the best times): a loaded machine can slow one size by chance, a
             * quadratic path is 16x per step every time */
            double r1 = 0, r2 = 0;
            for (int round = 0; round < 5; round++) {
                for (int r = 0; r < 3; r++)
                    for (int i = 0; i < STEPS; i++) t[i] = PLM_TEST_MIN(t[i], time_tok(m, in[i], len[i], &b, &toks[i]));
                r1 = t[1] / t[0], r2 = t[2] / t[1];
                if (r1 <= 8.0 || r2 <= 8.0) break;
            }
            printf("  %-36s %-24s %7.2f / %7.2f / %8.2f ms: x4 steps %5.2f %5.2f\n", files[f] + 26, KINDS[k], t[0] * 1e3,
                   t[1] * 1e3, t[2] * 1e3, r1, r2);
            CHECK_MSG(toks[0] > 0 && toks[2] > 0, "%s, %s: tokenize failed: %s", files[f], KINDS[k], plm_errmsg());
            CHECK_MSG(r1 <= 8.0 || r2 <= 8.0, "%s, %s: superlinear: 4x the input took %.1fx, then %.1fx the time", files[f],
                      KINDS[k], r1, r2);
            for (int i = 0; i < STEPS; i++) free(in[i]);
        }
        plm_model_free(m);
    }
    free(b.ids);
    free(b.back);
}

/* the counting sort of long runs gives exactly the stable insertion sort */
TEST(canonical_order_long_runs) {
    static const uint32_t marks[] = {0x0301, 0x0323, 0x0316, 0x0345, 0x05B0, 0x0F71, 0x0334, 0x1D16D, 0x0300, 0x0327};
    for (int rep = 0; rep < 50; rep++) {
        size_t n = 1 + rnd_u32() % 400;
        uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        for (size_t i = 0; i < n; i++)
            a[i] = rnd_u32() % 9 == 0 ? 'a' + rnd_u32() % 26 : marks[rnd_u32() % (sizeof marks / sizeof *marks)];
        memcpy(b, a, n * sizeof *a);
        CHECK(uc_canonical_order(a, n) == 0);
        for (size_t i = 1; i < n; i++) { /* reference: stable insertion sort within runs */
            uint32_t c = b[i];
            int cc = uc_ccc(c);
            if (!cc) continue;
            size_t j = i;
            while (j > 0 && uc_ccc(b[j - 1]) != 0 && uc_ccc(b[j - 1]) > cc) b[j] = b[j - 1], j--;
            b[j] = c;
        }
        CHECK_MSG(!memcmp(a, b, n * sizeof *a), "run of %zu differs", n);
        free(a), free(b);
    }
}

int main(void) {
    RUN(canonical_order_long_runs);
    RUN(tokenizers_linear);
    return test_summary();
}
