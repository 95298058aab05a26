/* plm_run — native driver for the causal LMs (profiling with perf / valgrind,
 * quick checks). Loads a GGUF, encodes a prompt (text or ids), generates, and
 * prints the continuation and the speed of prefill and generation.
 *
 *   plm_run model.gguf [-p text | -i id,id,...] [-n new_tokens] [-t temperature]
 *           [-k top_k] [-P top_p] [-m min_p] [-r repetition_penalty] [-s seed]
 *           [-c n_ctx] [-j threads] [-q (quiet: no text)] [-x (prompt only: time prefill)]
 * Defaults: greedy (-t 0), 64 new tokens, BOS-only prompt.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plm.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage(void) {
    fprintf(stderr, "usage: plm_run model.gguf [-p text | -i id,id,...] [-n new] [-t temp] [-k top_k]\n"
                    "       [-P top_p] [-m min_p] [-r rep_penalty] [-s seed] [-c n_ctx] [-j threads]\n"
                    "       [-q] [-x]\n");
    return 2;
}

static int json_int(const char *json, const char *key, int def) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    return p && strncmp(p + strlen(pat), "null", 4) ? atoi(p + strlen(pat)) : def;
}

static void print_token(plm_model *m, int32_t id) {
    char buf[256];
    int n = plm_token_bytes(m, id, 1 /* skip special */, buf, sizeof buf);
    if (n > 0) fwrite(buf, 1, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf), stdout);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    const char *path = argv[1], *text = NULL, *id_list = NULL;
    int n_new = 64, top_k = 0, n_ctx = 0, threads = 1, quiet = 0, prefill_only = 0;
    float temp = 0.0f, top_p = 1.0f, min_p = 0.0f, rep = 1.0f;
    double seed = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-q")) { quiet = 1; continue; }
        if (!strcmp(a, "-x")) { prefill_only = 1; continue; }
        if (i + 1 >= argc) return usage();
        const char *v = argv[++i];
        if (!strcmp(a, "-p")) text = v;
        else if (!strcmp(a, "-i")) id_list = v;
        else if (!strcmp(a, "-n")) n_new = atoi(v);
        else if (!strcmp(a, "-t")) temp = (float)atof(v);
        else if (!strcmp(a, "-k")) top_k = atoi(v);
        else if (!strcmp(a, "-P")) top_p = (float)atof(v);
        else if (!strcmp(a, "-m")) min_p = (float)atof(v);
        else if (!strcmp(a, "-r")) rep = (float)atof(v);
        else if (!strcmp(a, "-s")) seed = atof(v);
        else if (!strcmp(a, "-c")) n_ctx = atoi(v);
        else if (!strcmp(a, "-j")) threads = atoi(v);
        else return usage();
    }

    if (threads > 1 && plm_threads_init(threads) < 0)
        fprintf(stderr, "threads: %s (continuing single-threaded)\n", plm_errmsg());

    double t0 = now();
    plm_model *m = plm_model_load_file(path, 0);
    if (!m) {
        fprintf(stderr, "load %s: %s\n", path, plm_errmsg());
        return 1;
    }
    double t_load = now() - t0;
    const char *info = plm_model_info(m);
    const int n_vocab = json_int(info, "vocabSize", 0), bos = json_int(info, "bos", -1);
    if (!quiet) fprintf(stderr, "%s\n", info);

    /* prompt */
    int cap = 4096, n_prompt = 0;
    int32_t *ids = malloc((size_t)(cap + n_new + 1) * sizeof *ids);
    if (!ids) return 1;
    if (id_list) {
        for (const char *p = id_list; *p && n_prompt < cap;) {
            ids[n_prompt++] = (int32_t)strtol(p, (char **)&p, 10);
            while (*p == ',' || *p == ' ') p++;
        }
    } else if (text) {
        n_prompt = plm_tokenize(m, text, (int)strlen(text), 1, 0, ids, cap);
        if (n_prompt < 0 || n_prompt > cap) {
            fprintf(stderr, "tokenize: %s\n", n_prompt < 0 ? plm_errmsg() : "prompt too long");
            return 1;
        }
    } else {
        ids[n_prompt++] = bos >= 0 ? bos : 0;
    }
    if (n_prompt == 0) ids[n_prompt++] = bos >= 0 ? bos : 0;

    plm_ctx *c = plm_ctx_new(m, n_ctx);
    plm_sampler *s = plm_sampler_new(seed);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    if (!c || !s || !logits || plm_sampler_set(s, temp, top_k, top_p, min_p, rep, 0) < 0) {
        fprintf(stderr, "setup: %s\n", plm_errmsg());
        return 1;
    }
    if (n_new > plm_ctx_n_ctx(c) - n_prompt) n_new = plm_ctx_n_ctx(c) - n_prompt;

    t0 = now();
    if (plm_ctx_decode(c, ids, n_prompt, logits, 0) < 0) {
        fprintf(stderr, "decode: %s\n", plm_errmsg());
        return 1;
    }
    double t_prefill = now() - t0;
    for (int i = 0; i < n_prompt; i++) plm_sampler_accept(s, ids[i]);
    if (!quiet && !prefill_only)
        for (int i = 0; i < n_prompt; i++) print_token(m, ids[i]);

    int n_gen = 0;
    t0 = now();
    for (; !prefill_only && n_gen < n_new; n_gen++) {
        int32_t next = plm_sampler_sample(s, logits, n_vocab);
        if (next < 0) {
            fprintf(stderr, "sample: %s\n", plm_errmsg());
            return 1;
        }
        plm_sampler_accept(s, next);
        ids[n_prompt + n_gen] = next;
        if (!quiet) print_token(m, next);
        if (n_gen + 1 < n_new && plm_ctx_decode(c, &next, 1, logits, 0) < 0) {
            fprintf(stderr, "decode: %s\n", plm_errmsg());
            return 1;
        }
    }
    double t_gen = now() - t0;
    if (!quiet) printf("\n");
    fprintf(stderr, "load %.1f ms | prefill %d tokens %.1f ms (%.1f tok/s) | generate %d tokens "
                    "%.1f ms (%.1f tok/s) | threads %d\n",
            1e3 * t_load, n_prompt, 1e3 * t_prefill, n_prompt / t_prefill, n_gen, 1e3 * t_gen,
            n_gen > 1 ? (n_gen - 1) / t_gen : 0.0, plm_threads_get());

    free(logits);
    free(ids);
    plm_sampler_free(s);
    plm_ctx_free(c);
    plm_model_free(m);
    return 0;
}
