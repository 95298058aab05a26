/* test_loader.c — the streaming loader as the JS host drives it: the size hint
 * (plm_loader_set_size: a short file is reported as soon as the header is read)
 * and vocab-only loads (plm_loader_set_flags / PLM_LOAD_VOCAB_ONLY), which read
 * the metadata and nothing else: a tokenizer loads from the first bytes of a
 * model file, and from a model whose tensor types the engine cannot run. */
#include <stdint.h>

#include "test.h"
#include "plm.h"

#define GPT2_F32 "tests/fixtures/gpt2/gpt2-tiny-F32.gguf"

/* Feed buf[0..n) in chunks; returns the last state (or error) and leaves the loader open. */
static int feed(plm_loader *l, const uint8_t *buf, size_t n, size_t chunk, size_t *used) {
    size_t off = 0;
    int st = PLM_LOAD_NEED_MORE;
    while (off < n && st > 0 && st != PLM_LOAD_DONE) {
        uint8_t *dst = plm_loader_dst(l);
        size_t room = plm_loader_room(l);
        if (!dst || room == 0) return -100;
        size_t k = n - off < chunk ? n - off : chunk;
        if (k > room) k = room;
        memcpy(dst, buf + off, k);
        off += k;
        st = plm_loader_commit(l, k);
    }
    if (used) *used = off;
    return st;
}

/* Bytes of the file up to the end of its metadata (what a vocab-only loader reads). */
static size_t metadata_end(const uint8_t *buf, size_t n) {
    plm_loader *l = plm_loader_new();
    CHECK_EQ_INT(plm_loader_set_flags(l, PLM_LOAD_VOCAB_ONLY), PLM_OK);
    size_t used = 0;
    int st = feed(l, buf, n, 1000, &used);
    CHECK_EQ_INT(st, PLM_LOAD_DONE);
    size_t end = (size_t)plm_loader_file_size(l);
    CHECK(end > 24 && end <= used && used - end < 1000);
    CHECK(plm_loader_dst(l) == NULL); /* nothing more is wanted */
    plm_loader_free(l);
    plm_clear_error();
    return end;
}

static int same_tokens(plm_model *a, plm_model *b) {
    static const char *text = "Hello world, this is a tokenizer test: 12345 <|endoftext|>!";
    int32_t ia[128], ib[128];
    int na = plm_tokenize(a, text, (int)strlen(text), 1, 1, ia, 128);
    int nb = plm_tokenize(b, text, (int)strlen(text), 1, 1, ib, 128);
    return na > 0 && na == nb && !memcmp(ia, ib, (size_t)na * sizeof *ia);
}

TEST(size_hint) {
    size_t n;
    uint8_t *buf = (uint8_t *)test_read_file(GPT2_F32, &n);
    CHECK(buf != NULL);
    if (!buf) return;
    const size_t hend = metadata_end(buf, n);

    /* the whole file with its size: same as before */
    plm_loader *l = plm_loader_new();
    CHECK_EQ_INT(plm_loader_set_size(l, (double)n), PLM_OK);
    CHECK_EQ_INT(feed(l, buf, n, 4096, NULL), PLM_LOAD_DONE);
    plm_model *m = plm_loader_finish(l, 0);
    CHECK_MSG(m != NULL, "%s", plm_errmsg());
    plm_model_free(m);

    /* a short file (a cut download whose Content-Length is that of the cut file):
     * the loader refuses it when the header is complete, before any weights arrive */
    const size_t cut = n - 1000;
    l = plm_loader_new();
    CHECK_EQ_INT(plm_loader_set_size(l, (double)cut), PLM_OK);
    size_t used = 0;
    int st = feed(l, buf, cut, 256, &used);
    CHECK_EQ_INT(st, PLM_E_TRUNCATED);
    CHECK_MSG(used < hend + 4096, "reported after %zu bytes (metadata ends at %zu)", used, hend);
    CHECK_MSG(strstr(plm_errmsg(), "truncated") != NULL, "%s", plm_errmsg());
    CHECK(plm_loader_finish(l, 0) == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_TRUNCATED);
    plm_clear_error();

    /* an impossible size: the header's counts / lengths do not fit */
    l = plm_loader_new();
    CHECK_EQ_INT(plm_loader_set_size(l, 100), PLM_OK);
    st = feed(l, buf, n, 4096, NULL);
    CHECK_MSG(st == PLM_E_FORMAT || st == PLM_E_TRUNCATED, "state %d", st);
    plm_loader_free(l);
    plm_clear_error();

    /* argument and state checks */
    l = plm_loader_new();
    CHECK_EQ_INT(plm_loader_set_size(l, -1), PLM_E_INVALID);
    CHECK_EQ_INT(plm_loader_set_size(l, 1.5), PLM_E_INVALID);
    CHECK_EQ_INT(plm_loader_set_size(l, NAN), PLM_E_INVALID);
    CHECK_EQ_INT(plm_loader_set_size(l, 1e300), PLM_E_INVALID);
    CHECK_EQ_INT(plm_loader_set_flags(l, 2), PLM_E_INVALID);
    CHECK_EQ_INT(feed(l, buf, 64, 64, NULL), PLM_LOAD_NEED_MORE);
    CHECK_EQ_INT(plm_loader_set_size(l, (double)n), PLM_E_STATE);
    CHECK_EQ_INT(plm_loader_set_flags(l, PLM_LOAD_VOCAB_ONLY), PLM_E_STATE);
    plm_loader_free(l);
    CHECK_EQ_INT(plm_loader_set_size(NULL, 1), PLM_E_INVALID);
    CHECK_EQ_INT(plm_loader_set_flags(NULL, 0), PLM_E_INVALID);
    plm_clear_error();
    free(buf);
}

TEST(vocab_only_reads_only_metadata) {
    size_t n;
    uint8_t *buf = (uint8_t *)test_read_file(GPT2_F32, &n);
    CHECK(buf != NULL);
    if (!buf) return;
    plm_model *ref = plm_model_load_buffer(buf, n, 0);
    CHECK_MSG(ref != NULL, "%s", plm_errmsg());
    const size_t hend = metadata_end(buf, n);

    /* The first tensor record follows the metadata: u64 name length, name, u32 n_dims,
     * i64 ne[n_dims], u32 type. Give it a type the engine cannot run (iq2_xxs = 16), then
     * one no reader knows (99). */
    uint64_t name_len;
    memcpy(&name_len, buf + hend, 8);
    uint32_t ndims;
    memcpy(&ndims, buf + hend + 8 + name_len, 4);
    const size_t type_at = hend + 8 + (size_t)name_len + 4 + 8 * (size_t)ndims;
    CHECK(ndims >= 1 && ndims <= 4 && type_at + 4 < n);
    const uint32_t types[] = {16, 99};
    for (int t = 0; t < 2 && ref; t++) {
        memcpy(buf + type_at, &types[t], 4);
        plm_model *full = plm_model_load_buffer(buf, n, 0);
        CHECK(full == NULL);
        CHECK_MSG(plm_errcode() == PLM_E_UNSUPPORTED, "type %u: %d %s", types[t], plm_errcode(), plm_errmsg());
        plm_clear_error();

        /* whole file, vocab-only */
        plm_model *v = plm_model_load_buffer(buf, n, PLM_LOAD_VOCAB_ONLY);
        CHECK_MSG(v != NULL, "type %u: %s", types[t], plm_errmsg());
        if (v) CHECK(same_tokens(v, ref));
        plm_model_free(v);

        /* only the first bytes: up to the end of the metadata, and a few bytes into the tensor records */
        const size_t cuts[] = {hend, hend + 7, hend + 100};
        for (int c = 0; c < 3; c++) {
            v = plm_model_load_buffer(buf, cuts[c], PLM_LOAD_VOCAB_ONLY);
            CHECK_MSG(v != NULL, "cut %zu: %s", cuts[c], plm_errmsg());
            if (v) CHECK(same_tokens(v, ref));
            plm_model_free(v);
        }
        /* ... but not fewer than the metadata */
        CHECK(plm_model_load_buffer(buf, hend - 1, PLM_LOAD_VOCAB_ONLY) == NULL);
        CHECK_EQ_INT(plm_errcode(), PLM_E_TRUNCATED);
        plm_clear_error();

        /* streamed with the flag set up front (and the real size): DONE at the end of the
         * metadata, finish builds the vocab-only model even without the flag */
        const size_t chunks[] = {1, 333, 1 << 20};
        for (int c = 0; c < 3; c++) {
            plm_loader *l = plm_loader_new();
            CHECK_EQ_INT(plm_loader_set_size(l, (double)n), PLM_OK);
            CHECK_EQ_INT(plm_loader_set_flags(l, PLM_LOAD_VOCAB_ONLY), PLM_OK);
            size_t used = 0;
            CHECK_EQ_INT(feed(l, buf, n, chunks[c], &used), PLM_LOAD_DONE);
            CHECK(used >= hend && used < hend + chunks[c]);
            CHECK_EQ_INT(plm_loader_files_left(l), 0);
            CHECK_EQ_INT(plm_loader_commit(l, 0), PLM_LOAD_DONE);
            v = plm_loader_finish(l, 0);
            CHECK_MSG(v != NULL, "chunk %zu: %s", chunks[c], plm_errmsg());
            if (v) CHECK(same_tokens(v, ref));
            plm_model_free(v);
        }
    }
    memcpy(buf + type_at, &(uint32_t){0}, 4);

    /* a file: only its metadata is read */
    {
        char path[] = "build_test_loader_vocab.gguf";
        buf[type_at] = 13;
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            fwrite(buf, 1, hend + 3, f); /* the file is cut inside its tensor records */
            fclose(f);
            plm_model *v = plm_model_load_file(path, PLM_LOAD_VOCAB_ONLY);
            CHECK_MSG(v != NULL, "%s", plm_errmsg());
            if (v && ref) CHECK(same_tokens(v, ref));
            plm_model_free(v);
            CHECK(plm_model_load_file(path, 0) == NULL);
            CHECK(plm_errcode() == PLM_E_TRUNCATED || plm_errcode() == PLM_E_FORMAT);
            plm_clear_error();
            remove(path);
        }
    }
    plm_model_free(ref);
    free(buf);
}

int main(void) {
    RUN(size_hint);
    RUN(vocab_only_reads_only_metadata);
    return test_summary();
}
