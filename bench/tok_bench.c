/* tok_bench.c — tokenizer throughput on ~100 KB of mixed text (prints numbers).
 * Build (after a native release build in build-rel/):
 *   cmake -S . -B build-rel && cmake --build build-rel -j2
 *   gcc -O2 -Isrc bench/tok_bench.c build-rel/libplm.a -lm -lpthread -o build-rel/tok_bench
 *   build-rel/tok_bench [vocab.gguf text-file]...
 * Default: the GPT-2, LLaMA, BERT (WordPiece) and T5 (Unigram) vocabularies on
 * tests/fixtures/tokenizers/gpt2.jsonl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "tokenizer.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void bench(const char *vocab_path, const char *text_path) {
    gguf_ctx *g = gguf_load_file(vocab_path);
    plm_vocab *v = g ? vocab_load(g) : NULL;
    size_t len = 0;
    char *text = read_file(text_path, &len);
    if (!v || !text) {
        printf("%s: cannot load\n", vocab_path);
        return;
    }
    size_t reps = 100000 / len + 1, n = 0;
    char *big = malloc(len * reps);
    for (size_t r = 0; r < reps; r++, n += len) memcpy(big + n, text, len);
    int cap = (int)n + 16;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    char *out = malloc(4 * n);
    double best_enc = 1e9, best_dec = 1e9;
    int k = 0;
    for (int it = 0; it < 5; it++) {
        double t0 = now();
        k = vocab_encode(v, big, n, 0, 0, ids, cap);
        double t1 = now();
        vocab_decode(v, ids, k, 0, out, (int)(4 * n));
        double t2 = now();
        if (t1 - t0 < best_enc) best_enc = t1 - t0;
        if (t2 - t1 < best_dec) best_dec = t2 - t1;
    }
    printf("%-50s %7zu bytes -> %6d tokens: encode %7.2f ms (%5.1f MB/s), decode %6.2f ms\n", vocab_path, n, k,
           best_enc * 1e3, (double)n / best_enc / 1e6, best_dec * 1e3);
    free(ids);
    free(out);
    free(big);
    free(text);
    vocab_free(v);
    gguf_free(g);
}

int main(int argc, char **argv) {
    if (argc >= 3) {
        for (int i = 1; i + 1 < argc; i += 2) bench(argv[i], argv[i + 1]);
        return 0;
    }
    bench("tests/fixtures/tokenizers/ggml-vocab-gpt-2.gguf", "tests/fixtures/tokenizers/gpt2.jsonl");
    bench("tests/fixtures/tokenizers/ggml-vocab-llama-spm.gguf", "tests/fixtures/tokenizers/gpt2.jsonl");
    bench("tests/fixtures/tokenizers/ggml-vocab-bert-base-uncased.gguf", "tests/fixtures/tokenizers/gpt2.jsonl");
    bench("tests/fixtures/tokenizers/ggml-vocab-t5-small.gguf", "tests/fixtures/tokenizers/gpt2.jsonl");
    return 0;
}
