/* gguf.h — GGUF container reader (v2/v3), incremental.
 *
 * The reader is a push parser: bytes arrive in chunks (from fetch() in the
 * browser, from a file in Node/native) and are written directly where they
 * belong. While the header (KV metadata + tensor infos) is being parsed the
 * bytes go to a small staging buffer; as soon as the header is complete the
 * reader allocates ONE aligned block for the whole tensor-data section and
 * every following byte is written straight into it (no second copy).
 *
 *   gguf_stream *s = gguf_stream_new();
 *   while (more input) {
 *       size_t room; uint8_t *dst = gguf_stream_dst(s, &room);   // never NULL unless error
 *       n = read up to `room` bytes into dst;
 *       int st = gguf_stream_commit(s, n);   // GGUF_NEED_MORE, GGUF_HEADER_READY, GGUF_DONE or PLM_E_*
 *   }
 *   gguf_ctx *g = gguf_stream_finish(s);   // NULL + plm_fail() if incomplete
 *
 * Split models (llama.cpp `-0000i-of-0000N.gguf`, keys split.no / split.count /
 * split.tensors.count): after GGUF_DONE for shard i, call gguf_stream_next_file()
 * and feed shard i+1; tensors of all shards end up in one gguf_ctx, metadata is
 * that of the first shard.
 *
 * Robustness: every length, count, offset, dimension and type is validated;
 * malformed / truncated input, unknown versions and unsupported tensor types
 * return PLM_E_FORMAT / PLM_E_TRUNCATED / PLM_E_UNSUPPORTED with a message.
 */
#ifndef PLM_GGUF_H
#define PLM_GGUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gguf_vtype {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

#define PLM_MAX_DIMS 4

/* A tensor of the model. data points into the model's data block (aligned to
 * general.alignment, default 32). ne[] innermost first, as in ggml:
 * a numpy [rows, cols] matrix has ne = {cols, rows}. Unused dims are 1. */
typedef struct plm_tensor {
    const char *name;
    int type;        /* enum plm_type */
    int n_dims;
    int64_t ne[PLM_MAX_DIMS];
    uint64_t offset; /* offset in its file's data section */
    uint64_t nbytes;
    void *data;
    int layout;      /* enum plm_layout: how data is arranged (ops.h, plm_tensor_pack_for_matmul) */
} plm_tensor;

/* Data layouts of a tensor. PLM_LAYOUT_ROWS: the file's (row after row of
 * blocks). PLM_LAYOUT_PANEL4: Q8_0 / Q4_0 matrices repacked at load for the
 * matmul kernels, 4 rows interleaved per 32-block (ops.h describes the bytes);
 * same size; only ops.c's op_matmul / op_get_rows read such data. */
enum plm_layout { PLM_LAYOUT_ROWS = 0, PLM_LAYOUT_PANEL4 = 1 };

typedef struct gguf_ctx gguf_ctx;

/* ---- streaming parser ---- */
typedef struct gguf_stream gguf_stream;

enum {
    GGUF_NEED_MORE = 1,     /* keep feeding */
    GGUF_HEADER_READY = 2,  /* header parsed just now; data block allocated; keep feeding */
    GGUF_DONE = 3           /* all tensor data of the current file received */
};

gguf_stream *gguf_stream_new(void);
/* Optional, before the first byte of each file: its total size when known
 * (Content-Length, file size). Lets corrupt lengths and counts be rejected at
 * once and a short file be reported as truncated as soon as the header is read. */
/* Bytes a stream of unknown size reserves for the weights before they arrive (64 MB;
 * the block then doubles as data comes). A variable only so tests can make it small. */
extern uint64_t gguf_unverified_reserve;
void gguf_stream_set_size_hint(gguf_stream *s, uint64_t file_bytes);
/* Optional, before the first byte: read only the first file's metadata (key/value
 * pairs). The stream is GGUF_DONE as soon as the last key is read; tensor records
 * and tensor data are never read, so never validated (a tokenizer loads from the
 * header of a model whose tensor types cannot run, or from just its first bytes).
 * The finished context has the metadata and no tensors. */
int gguf_stream_set_metadata_only(gguf_stream *s);
/* Where the next bytes go and how many may be written there (>0). NULL on error/after DONE. */
uint8_t *gguf_stream_dst(gguf_stream *s, size_t *room);
/* n bytes were written at the last dst. Returns GGUF_* state (>0) or PLM_E_* (<0).
 * GGUF_DONE can come directly (without GGUF_HEADER_READY) when the header and
 * all tensor data arrive in the same commit. After GGUF_DONE the rest of the
 * file, if any (final alignment padding), is not needed and may be dropped. */
int gguf_stream_commit(gguf_stream *s, size_t n);
/* Copying convenience: feed bytes from a buffer (loops dst/commit). Same return values. */
int gguf_stream_feed(gguf_stream *s, const void *data, size_t n);
/* After GGUF_HEADER_READY: size of the whole current file in bytes (header + data). */
uint64_t gguf_stream_file_size(const gguf_stream *s);
/* Bytes accepted so far for the current file. */
uint64_t gguf_stream_received(const gguf_stream *s);
/* After GGUF_DONE of a shard with split.count > 1: start the next shard. */
int gguf_stream_next_file(gguf_stream *s);
/* Number of shards still expected (0 when complete). */
int gguf_stream_files_left(const gguf_stream *s);
/* Finish: returns the parsed context (takes over all buffers) or NULL. The stream is freed either way. */
gguf_ctx *gguf_stream_finish(gguf_stream *s);
void gguf_stream_free(gguf_stream *s);

/* Parse a whole in-memory file (copies the tensor data). NULL + plm_fail() on error. */
gguf_ctx *gguf_load_buffer(const void *data, size_t n);
/* Native builds: read a file from disk (streams it in chunks). */
gguf_ctx *gguf_load_file(const char *path);
/* The same with flags: GGUF_METADATA_ONLY (see gguf_stream_set_metadata_only; the
 * buffer may then hold only the start of the file, the file is read up to its
 * last metadata key). */
enum { GGUF_METADATA_ONLY = 1 };
gguf_ctx *gguf_load_buffer_flags(const void *data, size_t n, int flags);
gguf_ctx *gguf_load_file_flags(const char *path, int flags);
void gguf_free(gguf_ctx *g);

/* ---- metadata ---- */
uint32_t gguf_version(const gguf_ctx *g);
size_t gguf_alignment(const gguf_ctx *g);
int64_t gguf_n_kv(const gguf_ctx *g);
const char *gguf_kv_key(const gguf_ctx *g, int64_t i);
int gguf_kv_type(const gguf_ctx *g, int64_t i);    /* enum gguf_vtype */
int64_t gguf_find_key(const gguf_ctx *g, const char *key); /* -1 if absent */

/* Typed getters. Integer getters accept any integer (or bool) type whose value fits;
 * float getters accept FLOAT32/FLOAT64 (and integers). Return 1 if found & converted,
 * 0 if absent, PLM_E_FORMAT (with message) if present with an incompatible type. */
int gguf_get_u32(const gguf_ctx *g, const char *key, uint32_t *out);
int gguf_get_i64(const gguf_ctx *g, const char *key, int64_t *out);
int gguf_get_f32(const gguf_ctx *g, const char *key, float *out);
int gguf_get_bool(const gguf_ctx *g, const char *key, int *out);
/* String value (NUL-terminated copy owned by g) or NULL if absent / not a string. */
const char *gguf_get_str(const gguf_ctx *g, const char *key);
/* Convenience with defaults (wrong type -> default). */
uint32_t gguf_u32_or(const gguf_ctx *g, const char *key, uint32_t def);
float gguf_f32_or(const gguf_ctx *g, const char *key, float def);
int gguf_bool_or(const gguf_ctx *g, const char *key, int def);

/* Arrays: element type and count; -1 if absent or not an array. */
int64_t gguf_arr_n(const gguf_ctx *g, const char *key, int *elem_type);
/* Numeric array elements, packed little-endian as in the file (NULL for string/array elements). */
const void *gguf_arr_data(const gguf_ctx *g, const char *key);
/* i-th string of a string array (NUL-terminated, owned by g); *len gets its byte length. */
const char *gguf_arr_str(const gguf_ctx *g, const char *key, int64_t i, size_t *len);
/* Nested arrays (array of arrays): generic access by index path is by kv index. */
int64_t gguf_kv_arr_n(const gguf_ctx *g, int64_t kv, int *elem_type);

/* Value as JSON text (numbers, strings, arrays incl. nested; long arrays truncated to
 * max_elems with a trailing "..." marker if max_elems >= 0). Returns malloc'd string. */
char *gguf_kv_to_json(const gguf_ctx *g, int64_t kv, int64_t max_elems);
/* All metadata as one JSON object {"key": value, ...} in file order (same rules). malloc'd. */
char *gguf_meta_to_json(const gguf_ctx *g, int64_t max_elems);

/* ---- tensors ---- */
int64_t gguf_n_tensors(const gguf_ctx *g);
const plm_tensor *gguf_tensor_at(const gguf_ctx *g, int64_t i);
const plm_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name); /* NULL if absent */
/* The same tensor, writable: for the owner of the model to repack data in place at load. */
plm_tensor *gguf_tensor_at_mut(gguf_ctx *g, int64_t i);
uint64_t gguf_data_bytes(const gguf_ctx *g); /* total bytes of tensor data held */

#ifdef __cplusplus
}
#endif
#endif
