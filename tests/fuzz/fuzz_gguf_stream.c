/* fuzz_gguf_stream.c — libFuzzer harness: the streaming GGUF loader (plm_loader, as
 * the JS host drives it) fed a file in random chunk splits.
 *   input = 8-byte control header | GGUF bytes
 *   control[0..3]: seed of the chunk sizes, control[4]: flags (bit 0: give the size
 *   hint, bit 1: vocab-only, bit 2: 1-byte chunks until the header is parsed (the
 *   weights that follow are plain copies: random chunks there), bit 3: also load with
 *   gguf_load_buffer and compare the outcome, bit 4: a 256-byte reserve for streams of
 *   unknown size, so that the data block grows while the data arrives).
 * Every outcome must be a model or a PLM_E_* with a message; nothing leaks (ASan). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "plm.h"

static uint32_t next(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    plm_clear_error();
    if (size < 8) return 0;
    uint32_t seed;
    memcpy(&seed, data, 4);
    seed |= 1;
    const uint8_t flags = data[4];
    data += 8;
    size -= 8;
    const int vocab_only = (flags & 2) != 0;
    gguf_unverified_reserve = (flags & 16) ? 256 : (uint64_t)64 << 20;

    plm_loader *l = plm_loader_new();
    if (!l) return 0;
    int st = PLM_LOAD_NEED_MORE;
    if (flags & 1) st = plm_loader_set_size(l, (double)size) == PLM_OK ? st : -100;
    if (st > 0 && vocab_only && plm_loader_set_flags(l, PLM_LOAD_VOCAB_ONLY) != PLM_OK) st = -100;
    size_t off = 0;
    int header = 0; /* HEADER_READY seen: the parser is past the metadata and tensor infos */
    while (st > 0 && st != PLM_LOAD_DONE && off < size) {
        uint8_t *dst = plm_loader_dst(l);
        size_t room = plm_loader_room(l);
        if (!dst || room == 0) {
            st = plm_errcode() ? plm_errcode() : -101;
            break;
        }
        size_t k = (flags & 4) && !header ? 1 : 1 + next(&seed) % 4099;
        if (k > room) k = room;
        if (k > size - off) k = size - off;
        memcpy(dst, data + off, k);
        off += k;
        st = plm_loader_commit(l, k);
        if (st == PLM_LOAD_HEADER_READY) header = 1;
        if (st < 0 && !plm_errmsg()[0]) abort(); /* an error without a message */
    }
    plm_model *m = NULL;
    if (st == PLM_LOAD_DONE) {
        m = plm_loader_finish(l, vocab_only ? PLM_LOAD_VOCAB_ONLY : 0);
        l = NULL;
        if (!m && !plm_errmsg()[0]) abort();
    }
    if (m) {
        plm_model_info(m);
        plm_model_meta(m, 8);
        if (m->vocab) {
            int32_t ids[64];
            char out[256];
            int n = plm_tokenize(m, "Hello, world! 123 \xc3\xa9", -1, 1, 1, ids, 64);
            if (n > 0) plm_detokenize(m, ids, n < 64 ? n : 64, 0, out, sizeof out);
        }
    }
    if ((flags & 8) && !vocab_only) {
        /* the buffer loader must agree on success */
        plm_model *b = plm_model_load_buffer(data, size, 0);
        if ((b != NULL) != (m != NULL) && (flags & 1)) abort();
        plm_model_free(b);
    }
    plm_model_free(m);
    plm_loader_free(l);
    return 0;
}
