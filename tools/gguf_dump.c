/* gguf_dump — print a GGUF file's metadata (as JSON values) and tensor table.
 *   gguf_dump FILE.gguf [max_array_elems (default 8)]
 * Split models: pass the -00001-of-0000N.gguf file. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "gguf.h"
#include "plm.h"
#include "quant.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.gguf [max_array_elems]\n", argv[0]);
        return 2;
    }
    int64_t max_elems = argc > 2 ? atoll(argv[2]) : 8;
    gguf_ctx *g = gguf_load_file(argv[1]);
    if (!g) {
        fprintf(stderr, "%s: %s\n", argv[1], plm_errmsg());
        return 1;
    }
    printf("version %u, alignment %zu, %" PRId64 " keys, %" PRId64 " tensors, %" PRIu64 " bytes of tensor data\n",
           gguf_version(g), gguf_alignment(g), gguf_n_kv(g), gguf_n_tensors(g), gguf_data_bytes(g));
    static const char *tn[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    for (int64_t i = 0; i < gguf_n_kv(g); i++) {
        char *json = gguf_kv_to_json(g, i, max_elems);
        int et = -1;
        int64_t n = gguf_kv_arr_n(g, i, &et);
        if (n >= 0) printf("%-45s arr[%s,%" PRId64 "] = %s\n", gguf_kv_key(g, i), tn[et], n, json ? json : "?");
        else printf("%-45s %-12s = %s\n", gguf_kv_key(g, i), tn[gguf_kv_type(g, i)], json ? json : "?");
        free(json);
    }
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const plm_tensor *t = gguf_tensor_at(g, i);
        printf("%-40s %-5s [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 "] n_dims %d offset %" PRIu64 " bytes %" PRIu64 "\n",
               t->name, plm_type_name(t->type), t->ne[0], t->ne[1], t->ne[2], t->ne[3], t->n_dims, t->offset, t->nbytes);
    }
    gguf_free(g);
    return 0;
}
