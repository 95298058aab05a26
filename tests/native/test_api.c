/* test_api.c — the model-level C API: version / features, the streaming loader
 * (chunked feeding, failures free everything), plm_model_info / plm_model_meta,
 * vocab-only loads, NULL-argument handling. Numerics are in test_models.c. */
#include <stdint.h>

#include "test.h" /* before json.h: math.h */
#include "json.h"
#include "plm.h"

#define GPT2_F32 "tests/fixtures/gpt2/gpt2-tiny-F32.gguf"
#define GPT2_Q8 "tests/fixtures/gpt2/gpt2-tiny-Q8_0.gguf"
#define GQA_Q4 "tests/fixtures/llama/tiny-random-gqa/llama-tiny-gqa-Q4_0.gguf"

TEST(version) {
    const char *v = plm_version();
    CHECK(v && v[0] >= '0' && v[0] <= '9' && strchr(v, '.'));
    int f = plm_build_features();
    CHECK(f >= 0 && f <= 7); /* 1 SIMD, 2 threads, 4 relaxed SIMD */
}

/* Feed a file through the loader in chunks of `chunk` bytes (direct writes at dst). */
static plm_model *stream_load(const uint8_t *buf, size_t n, size_t full, size_t chunk, int flags,
                              int *last) {
    plm_loader *l = plm_loader_new();
    CHECK(l != NULL);
    size_t off = 0;
    int st = PLM_LOAD_NEED_MORE, saw_header = 0;
    while (off < n && st > 0 && st != PLM_LOAD_DONE) {
        uint8_t *dst = plm_loader_dst(l);
        size_t room = plm_loader_room(l);
        if (!dst || room == 0) {
            st = -100;
            break;
        }
        size_t k = n - off < chunk ? n - off : chunk;
        if (k > room) k = room;
        memcpy(dst, buf + off, k);
        off += k;
        st = plm_loader_commit(l, k);
        if (st == PLM_LOAD_HEADER_READY) {
            saw_header = 1;
            CHECK_EQ_INT((long long)plm_loader_file_size(l), (long long)full);
        }
    }
    *last = st;
    /* (DONE may come without HEADER_READY when one commit holds the whole file) */
    if (st == PLM_LOAD_DONE) {
        CHECK(saw_header || chunk >= n);
        CHECK_EQ_INT(plm_loader_files_left(l), 0);
    }
    return plm_loader_finish(l, flags); /* consumes l in every case */
}

TEST(streaming_loader) {
    size_t n;
    uint8_t *buf = (uint8_t *)test_read_file(GQA_Q4, &n);
    CHECK(buf != NULL);
    if (!buf) return;
    plm_model *ref = plm_model_load_buffer(buf, n, 0);
    CHECK_MSG(ref != NULL, "%s", plm_errmsg());
    const size_t chunks[] = {1 << 20, 4093, 97};
    for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
        int st;
        plm_model *m = stream_load(buf, n, n, chunks[i], 0, &st);
        CHECK_EQ_INT(st, PLM_LOAD_DONE);
        CHECK_MSG(m != NULL, "chunk %zu: %s", chunks[i], plm_errmsg());
        if (!m || !ref) continue;
        /* same logits as the buffer load */
        int32_t ids[5] = {1, 300, 301, 17, 42};
        float a[512], b[512];
        plm_ctx *ca = plm_ctx_new(ref, 0), *cb = plm_ctx_new(m, 0);
        CHECK_EQ_INT(plm_ctx_decode(ca, ids, 5, a, 0), PLM_OK);
        CHECK_EQ_INT(plm_ctx_decode(cb, ids, 5, b, 0), PLM_OK);
        CHECK(!memcmp(a, b, sizeof a));
        plm_ctx_free(ca);
        plm_ctx_free(cb);
        plm_model_free(m);
    }
    plm_model_free(ref);

    /* a truncated stream: finish fails and frees everything */
    int st;
    plm_model *m = stream_load(buf, n - 100, n, 4096, 0, &st);
    CHECK_EQ_INT(st, PLM_LOAD_NEED_MORE);
    CHECK(m == NULL);
    CHECK_MSG(plm_errcode() == PLM_E_TRUNCATED, "code %d: %s", plm_errcode(), plm_errmsg());
    /* header only, then abandoned */
    plm_loader *l = plm_loader_new();
    uint8_t *dst = plm_loader_dst(l);
    size_t room = plm_loader_room(l);
    size_t k = room < 64 ? room : 64;
    memcpy(dst, buf, k);
    CHECK(plm_loader_commit(l, k) > 0);
    plm_loader_free(l);
    /* garbage */
    uint8_t junk[256];
    for (int i = 0; i < 256; i++) junk[i] = (uint8_t)(i * 31 + 7);
    m = stream_load(junk, sizeof junk, 0, 64, 0, &st);
    CHECK(st < 0 && m == NULL);
    CHECK(plm_model_load_buffer(junk, sizeof junk, 0) == NULL);
    CHECK(plm_errcode() < 0);
    free(buf);
}

TEST(model_info) {
    plm_model *m = plm_model_load_file(GPT2_Q8, 0);
    CHECK_MSG(m != NULL, "%s", plm_errmsg());
    if (!m) return;
    const char *info = plm_model_info(m);
    CHECK(info != NULL);
    CHECK(plm_model_info(m) == info); /* cached, owned by the model */
    json_value *v = json_parse(info, strlen(info));
    CHECK_MSG(v != NULL, "not JSON: %s", info);
    CHECK(!strcmp(json_get(v, "architecture")->str, "gpt2"));
    CHECK_EQ_INT(json_get(v, "contextLength")->num, 128);
    CHECK_EQ_INT(json_get(v, "vocabSize")->num, 512);
    CHECK_EQ_INT(json_get(v, "embeddingLength")->num, 64);
    CHECK_EQ_INT(json_get(v, "blockCount")->num, 2);
    CHECK_EQ_INT(json_get(v, "headCount")->num, 4);
    CHECK_EQ_INT(json_get(v, "headCountKv")->num, 4);
    CHECK_EQ_INT(json_get(v, "feedForwardLength")->num, 256);
    CHECK(!strcmp(json_get(v, "fileType")->str, "Q8_0"));
    CHECK(json_get(v, "causal")->num == 1);
    /* parameters: wte 512x64 + wpe 128x64 + 2 blocks + final norm */
    const double per_block = 2 * 64 + (64 * 192 + 192) + (64 * 64 + 64) + 2 * 64 + (64 * 256 + 256) +
                             (256 * 64 + 64);
    CHECK_EQ_INT(json_get(v, "nParams")->num, 512 * 64 + 128 * 64 + 2 * per_block + 2 * 64);
    CHECK(json_get(v, "sizeBytes")->num > 100000);
    json_value *tt = json_get(v, "tensorTypes");
    CHECK(json_get(tt, "q8_0") && json_get(tt, "f32"));
    json_value *tok = json_get(v, "tokenizer");
    CHECK(tok && !strcmp(json_get(tok, "model")->str, "gpt2"));
    CHECK(tok && !strcmp(json_get(tok, "type")->str, "bpe"));
    CHECK_EQ_INT(json_get(tok, "nTokens")->num, 512);
    CHECK_EQ_INT(json_get(tok, "bos")->num, 511);
    CHECK_EQ_INT(json_get(tok, "eos")->num, 511);
    CHECK(json_get(tok, "addBos")->num == 0);
    json_free(v);

    const char *meta = plm_model_meta(m, 3);
    CHECK(meta != NULL);
    v = meta ? json_parse(meta, strlen(meta)) : NULL;
    CHECK_MSG(v != NULL, "meta not JSON: %.200s", meta ? meta : "(null)");
    CHECK(!strcmp(json_get(v, "general.architecture")->str, "gpt2"));
    CHECK_EQ_INT(json_get(v, "gpt2.block_count")->num, 2);
    json_value *toks = json_get(v, "tokenizer.ggml.tokens");
    CHECK(toks && toks->type == JSON_ARR && toks->n <= 4); /* cut (+ marker) */
    json_free(v);
    const char *full = plm_model_meta(m, -1);
    v = full ? json_parse(full, strlen(full)) : NULL;
    toks = json_get(v, "tokenizer.ggml.tokens");
    CHECK(toks && toks->n == 512);
    json_free(v);
    plm_model_free(m);

    /* file types of the other fixtures */
    const char *files[][2] = {{GPT2_F32, "all F32"},
                              {"tests/fixtures/gpt2/gpt2-tiny-F16.gguf", "F16"},
                              {GQA_Q4, "Q4_0"}};
    for (int i = 0; i < 3; i++) {
        m = plm_model_load_file(files[i][0], 0);
        v = m ? json_parse(plm_model_info(m), strlen(plm_model_info(m))) : NULL;
        CHECK(v && !strcmp(json_get(v, "fileType")->str, files[i][1]));
        json_free(v);
        plm_model_free(m);
    }
    m = plm_model_load_file(GQA_Q4, 0);
    v = m ? json_parse(plm_model_info(m), strlen(plm_model_info(m))) : NULL;
    CHECK(v && !strcmp(json_get(v, "architecture")->str, "llama"));
    CHECK(v && json_get(v, "headCountKv")->num == 2 && json_get(v, "headCount")->num == 4);
    json_free(v);
    plm_model_free(m);
}

TEST(vocab_only) {
    plm_model *m = plm_model_load_file(GPT2_F32, PLM_LOAD_VOCAB_ONLY);
    CHECK_MSG(m != NULL, "%s", plm_errmsg());
    if (!m) return;
    const char *info = plm_model_info(m);
    json_value *v = json_parse(info, strlen(info));
    CHECK(json_get(v, "vocabOnly")->num == 1);
    CHECK(json_get(v, "causal")->num == 1);
    CHECK_EQ_INT(json_get(v, "vocabSize")->num, 512);
    CHECK_EQ_INT(json_get(v, "blockCount")->num, 2);
    json_free(v);
    CHECK(plm_ctx_new(m, 0) == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_STATE);
    int32_t ids[8];
    CHECK_EQ_INT(plm_tokenize(m, "Hello world", 11, 1, 0, ids, 8), 4);
    plm_model_free(m);
    /* a file without tensors (vocab-only GGUF) loaded as a model: a clear hint */
    size_t n;
    uint8_t *buf = (uint8_t *)test_read_file(GPT2_F32, &n);
    if (buf) {
        memset(buf + 8, 0, 8); /* header: magic, version, u64 tensor count */
        m = plm_model_load_buffer(buf, n, 0);
        CHECK(m == NULL);
        CHECK_EQ_INT(plm_errcode(), PLM_E_MISSING);
        CHECK_MSG(strstr(plm_errmsg(), "PLM_LOAD_VOCAB_ONLY") != NULL, "%s", plm_errmsg());
        m = plm_model_load_buffer(buf, n, PLM_LOAD_VOCAB_ONLY);
        CHECK_MSG(m != NULL, "%s", plm_errmsg());
        plm_model_free(m);
        free(buf);
    }
    CHECK(plm_model_load_file(GPT2_F32, 0x100) == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_INVALID);
}

TEST(null_arguments) {
    CHECK(plm_model_load_file(NULL, 0) == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_INVALID);
    CHECK(plm_model_load_file("tests/fixtures/does-not-exist.gguf", 0) == NULL);
    CHECK(plm_errcode() < 0);
    CHECK(plm_model_load_buffer(NULL, 10, 0) == NULL);
    CHECK(plm_model_info(NULL) == NULL);
    CHECK(plm_model_meta(NULL, 0) == NULL);
    CHECK(plm_ctx_new(NULL, 0) == NULL);
    CHECK(plm_ctx_n_ctx(NULL) < 0 && plm_ctx_n_past(NULL) < 0 && plm_ctx_truncate(NULL, 0) < 0);
    CHECK(plm_loader_dst(NULL) == NULL);
    CHECK_EQ_INT(plm_loader_room(NULL), 0);
    CHECK(plm_loader_commit(NULL, 1) < 0);
    CHECK(plm_loader_finish(NULL, 0) == NULL);
    plm_loader_free(NULL);
    plm_model_free(NULL);
    plm_ctx_free(NULL);
}

int main(void) {
    RUN(version);
    RUN(streaming_loader);
    RUN(model_info);
    RUN(vocab_only);
    RUN(null_arguments);
    return test_summary();
}
