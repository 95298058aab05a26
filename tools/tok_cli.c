/* tok_cli — run a GGUF file's tokenizer on stdin, one item per line.
 *   tok_cli FILE.gguf encode [add_special [parse_special]]
 *       each line: the text as hex bytes -> the ids, space separated
 *   tok_cli FILE.gguf decode [flags]
 *       each line: ids, space separated -> the decoded text as hex bytes
 *   tok_cli FILE.gguf pretok
 *       (gpt2 only) each line: hex text -> byte lengths of the regex pieces
 *   tok_cli - split PRE
 *       each line: hex text -> byte lengths of the pieces of BPE pre-tokenizer PRE
 *       (a tokenizer.ggml.pre value or family id, see tok_bpe_split)
 * Hex keeps any byte sequence (newlines, invalid UTF-8) on one line; used by
 * scripts/crosscheck_tokenizers.py against the reference implementations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "plm.h"
#include "tok_impl.h"

static size_t unhex(const char *line, char *out) {
    size_t n = 0;
    for (const char *p = line; p[0] && p[1] && p[0] != '\n'; p += 2) {
        unsigned v;
        if (sscanf(p, "%2x", &v) != 1) break;
        out[n++] = (char)v;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE.gguf encode|decode|pretok [args]\n", argv[0]);
        return 2;
    }
    const int split = strcmp(argv[2], "split") == 0;
    if (split && argc < 4) {
        fprintf(stderr, "usage: %s - split PRE\n", argv[0]);
        return 2;
    }
    gguf_ctx *g = split ? NULL : gguf_load_file(argv[1]);
    plm_vocab *v = g ? vocab_load(g) : NULL;
    if (!v && !split) {
        fprintf(stderr, "%s: %s\n", argv[1], plm_errmsg());
        return 1;
    }
    const char *mode = argv[2];
    int a1 = argc > 3 ? atoi(argv[3]) : 0, a2 = argc > 4 ? atoi(argv[4]) : 0;
    size_t cap = 1 << 20;
    char *line = malloc(2 * cap + 2), *buf = malloc(4 * cap);
    int32_t *ids = malloc(cap * sizeof *ids);
    int rc = 0;
    while (line && buf && ids && fgets(line, (int)(2 * cap + 2), stdin)) {
        if (strcmp(mode, "encode") == 0) {
            size_t n = unhex(line, buf);
            int k = vocab_encode(v, buf, n, a1, a2, ids, (int)cap);
            if (k < 0 || (size_t)k > cap) {
                fprintf(stderr, "encode: %s\n", plm_errmsg());
                rc = 1;
                break;
            }
            for (int i = 0; i < k; i++) printf(i ? " %d" : "%d", ids[i]);
        } else if (strcmp(mode, "decode") == 0) {
            int n = 0;
            char *p = line;
            while (*p && *p != '\n' && (size_t)n < cap) {
                ids[n++] = (int32_t)strtol(p, &p, 10);
                while (*p == ' ') p++;
            }
            int k = vocab_decode(v, ids, n, a1, buf, (int)(4 * cap));
            if (k < 0) {
                fprintf(stderr, "decode: %s\n", plm_errmsg());
                rc = 1;
                break;
            }
            for (int i = 0; i < k; i++) printf("%02x", (unsigned char)buf[i]);
        } else if (split) {
            size_t n = unhex(line, buf);
            int k = tok_bpe_split(argv[3], buf, n, (uint32_t *)ids, (int)cap);
            if (k < 0 || (size_t)k > cap) {
                fprintf(stderr, "split: %s\n", plm_errmsg());
                rc = 1;
                break;
            }
            for (int i = 0; i < k; i++) printf(i ? " %u" : "%u", (unsigned)((uint32_t *)ids)[i]);
        } else if (strcmp(mode, "pretok") == 0) {
            size_t n = unhex(line, buf);
            for (size_t i = 0; i < n;) {
                size_t m = tok_bpe_pretokenize_len(buf, n, i);
                printf(i ? " %zu" : "%zu", m);
                i += m;
            }
        } else {
            fprintf(stderr, "unknown mode %s\n", mode);
            rc = 2;
            break;
        }
        printf("\n");
    }
    free(line);
    free(buf);
    free(ids);
    vocab_free(v);
    gguf_free(g);
    return rc;
}
