/* fuzz_tokenizer.c — libFuzzer harness: every tokenizer's encode and decode.
 *   input = control byte | text
 *   control % N_VOCABS picks the vocabulary (BPE gpt-2, SPM llama, WordPiece bert,
 *   Unigram t5, and the shipped models' tokenizers); bits 5-7: add_special,
 *   parse_special, pair (BERT-style pair encoding of the text split at its middle).
 * The ids are decoded back (with and without special tokens), token by token too;
 * ids out of range are fed to decode and tokenBytes and must be refused cleanly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plm.h"

static const char *const VOCABS[] = {
    "tests/fixtures/tokenizers/ggml-vocab-gpt-2.gguf",
    "tests/fixtures/tokenizers/ggml-vocab-llama-spm.gguf",
    "tests/fixtures/tokenizers/ggml-vocab-bert-base-uncased.gguf",
    "tests/fixtures/tokenizers/ggml-vocab-t5-small.gguf",
    "models/gpt2-stories-F16.gguf",
    "models/llama-stories-F16.gguf",
    "models/bert-facts-F16.gguf",
    "models/t5-tasks-F16.gguf",
};
enum { N_VOCABS = sizeof VOCABS / sizeof *VOCABS };
static plm_model *g_vocab[N_VOCABS];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *root = getenv("PLM_ROOT");
    for (int i = 0; i < N_VOCABS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", root ? root : "", root ? "/" : "", VOCABS[i]);
        g_vocab[i] = plm_model_load_file(path, PLM_LOAD_VOCAB_ONLY);
        if (!g_vocab[i]) {
            fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s (run from the repository root or set PLM_ROOT)\n", path,
                    plm_errmsg());
            exit(1);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    plm_clear_error();
    if (size < 1 || size > (1 << 20)) return 0;
    const uint8_t ctl = data[0];
    plm_model *m = g_vocab[ctl % N_VOCABS];
    const char *text = (const char *)data + 1;
    const int len = (int)size - 1, add_special = (ctl >> 5) & 1, parse_special = (ctl >> 6) & 1;
    const int cap = len * 4 + 16;
    int32_t *ids = malloc((size_t)cap * sizeof *ids), *types = malloc((size_t)cap * sizeof *types);
    int n;
    if (ctl >> 7)
        n = plm_tokenize_pair(m, text, len / 2, text + len / 2, len - len / 2, add_special, ids, types, cap);
    else
        n = plm_tokenize(m, text, len, add_special, parse_special, ids, cap);
    if (n < 0 && !plm_errmsg()[0]) abort();
    if (n > cap) abort(); /* the count exceeded the buffer though the text was short */
    if (n > 0) {
        const int out_cap = n * 64 + 64;
        char *out = malloc((size_t)out_cap);
        for (int flags = 0; flags < 4; flags++) {
            int k = plm_detokenize(m, ids, n, flags, out, out_cap);
            if (k < 0 && !plm_errmsg()[0]) abort();
        }
        for (int i = 0; i < n && i < 64; i++) {
            char piece[256];
            int k = plm_token_bytes(m, ids[i], 0, piece, sizeof piece);
            if (k < 0 && !plm_errmsg()[0]) abort();
            plm_token_is_eog(m, ids[i]);
        }
        /* out-of-range and negative ids: refused with a message, never read */
        int32_t bad[3] = {-1, 0x7fffffff, ids[0] ^ (int32_t)(ctl << 20)};
        for (int i = 0; i < 3; i++) {
            char piece[16];
            if (plm_token_bytes(m, bad[i], 0, piece, sizeof piece) < 0 && !plm_errmsg()[0]) abort();
        }
        if (plm_detokenize(m, bad, 3, 0, out, out_cap) < 0 && !plm_errmsg()[0]) abort();
        /* a tiny output buffer: the count of bytes needed, nothing written past cap */
        char tiny[3];
        plm_detokenize(m, ids, n, 0, tiny, sizeof tiny);
        free(out);
    }
    /* an output buffer too small for the ids */
    int32_t few[2];
    plm_tokenize(m, text, len, add_special, parse_special, few, 2);
    free(ids);
    free(types);
    return 0;
}
