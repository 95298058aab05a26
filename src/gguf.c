/* gguf.c — GGUF v2/v3 reader: a push parser that takes bytes in chunks of any
 * size (see gguf.h for the calling protocol).
 *
 * File layout (little-endian, as llama.cpp's gguf.cpp / gguf-py write it):
 *   "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x   { string key | u32 type | value }
 *   n_tensors x { string name | u32 n_dims | i64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   padding to general.alignment (only when there are tensors)
 *   tensor data: each tensor at data_start + offset
 * string = u64 length + bytes (no NUL); array value = u32 elem_type | u64 n | n values
 * (an element may itself be an array: nested arrays).
 *
 * How bytes flow: while the header is parsed, chunks land in a staging buffer
 * that only has to hold the item being parsed (one string, one tensor record, a
 * run of array elements); consumed bytes are dropped, so memory grows with what
 * was actually received, never with a length or count the file merely claims.
 * Each parse step first checks that its whole item is available, so feeding
 * one byte at a time costs O(1) per byte. When the last tensor record is read,
 * the tensors are validated and ONE aligned block is allocated for the data
 * section; staged bytes beyond the header are moved into it and every later
 * byte is written there directly by the host (gguf_stream_dst).
 */
#include "gguf.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "quant.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian GGUF files in place and needs a little-endian host"
#endif

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ITEM ((size_t)256 << 20)       /* one string / record in the header */
#define GGUF_MAX_HEADER ((uint64_t)1 << 30)     /* whole header (metadata + tensor infos) */
#define GGUF_MAX_COUNT ((uint64_t)1 << 24)      /* n_kv, n_tensors */
#define GGUF_MAX_ARRAY ((uint64_t)1 << 30)      /* elements of one array (as ggml) */
#define GGUF_MAX_NAME 65535                     /* key / tensor name bytes */
#define GGUF_MAX_DEPTH 16                       /* nesting of arrays of arrays */
#define GGUF_STAGING_MIN ((size_t)64 << 10)
/* What a header may reserve for the weights before their bytes arrive when the file's
 * size is unknown (no Content-Length, gzip, a custom stream): an unverified header
 * could claim gigabytes, and wasm memory never shrinks. Past this the data block grows
 * (doubling) as data arrives. With the size known the whole block is reserved at once:
 * the header cannot claim more than the file holds. */
uint64_t gguf_unverified_reserve = (uint64_t)64 << 20;
#define GGUF_UNVERIFIED_RESERVE gguf_unverified_reserve

/* ------------------------------------------------------------------ values */

typedef struct gguf_val {
    int type;      /* enum gguf_vtype */
    int elem_type; /* ARRAY: element type */
    uint64_t n;    /* ARRAY: number of elements */
    union {
        uint8_t raw[8]; /* numeric / bool scalars, little-endian */
        uint64_t u64;
        int64_t i64;
        double f64;
    } num;
    char *str;  /* STRING: NUL-terminated copy */
    size_t len; /* STRING: byte length */
    /* ARRAY payload: numeric -> data = packed elements; string -> data = pool of
     * NUL-terminated strings, offs[i] = start of string i; array -> items[n]. */
    uint8_t *data;
    size_t data_len, data_cap;
    size_t *offs;
    struct gguf_val *items;
    size_t cap; /* capacity of offs / items */
} gguf_val;

typedef struct {
    char *key;
    size_t key_len;
    gguf_val v;
} gguf_kv;

static size_t vtype_size(int t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0; /* string, array */
    }
}

static const char *vtype_name(int t) {
    static const char *names[GGUF_TYPE_COUNT] = {"u8",   "i8",  "u16", "i16", "u32", "i32", "f32",
                                                 "bool", "str", "arr", "u64", "i64", "f64"};
    return t >= 0 && t < GGUF_TYPE_COUNT ? names[t] : "invalid";
}

static void val_free(gguf_val *v) {
    free(v->str);
    free(v->data);
    free(v->offs);
    if (v->items)
        for (uint64_t i = 0; i < v->n; i++) val_free(&v->items[i]);
    free(v->items);
}

static void kv_list_free(gguf_kv *kv, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        free(kv[i].key);
        val_free(&kv[i].v);
    }
    free(kv);
}

/* Grow *p (elements of size sz, capacity *cap) to hold at least `need`. */
static int grow(void *pp, size_t *cap, size_t need, size_t sz, const char *what) {
    void **p = pp;
    if (need <= *cap) return PLM_OK;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / sz) return plm_fail(PLM_E_NOMEM, "out of memory: %s too large", what);
        ncap *= 2;
    }
    void *q = plm_realloc_for(*p, ncap * sz, what);
    if (!q) return PLM_E_NOMEM;
    *p = q;
    *cap = ncap;
    return PLM_OK;
}

/* ----------------------------------------------------------- name hashing */

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Open-addressing index of strings: slots hold (index + 1), 0 = empty. */
typedef struct {
    int64_t *slots;
    size_t cap; /* power of two */
    size_t count;
} name_index;

typedef const char *(*name_at_fn)(const void *owner, int64_t i, size_t *len);

static int64_t index_find(const name_index *ix, const void *owner, name_at_fn at, const char *s, size_t n) {
    if (!ix->cap) return -1;
    for (size_t h = hash_bytes(s, n) & (ix->cap - 1);; h = (h + 1) & (ix->cap - 1)) {
        int64_t v = ix->slots[h];
        if (!v) return -1;
        size_t len;
        const char *name = at(owner, v - 1, &len);
        if (len == n && !memcmp(name, s, n)) return v - 1;
    }
}

static void index_put_slot(name_index *ix, uint32_t h, int64_t i) {
    size_t k = h & (ix->cap - 1);
    while (ix->slots[k]) k = (k + 1) & (ix->cap - 1);
    ix->slots[k] = i + 1;
}

/* Adds entry i (whose name must not be present yet). */
static int index_add(name_index *ix, const void *owner, name_at_fn at, int64_t i) {
    if ((ix->count + 1) * 2 > ix->cap) {
        size_t ncap = ix->cap ? ix->cap * 2 : 64;
        int64_t *slots = plm_calloc_for(ncap, sizeof *slots, "GGUF name index");
        if (!slots) return PLM_E_NOMEM;
        int64_t *old = ix->slots;
        size_t ocap = ix->cap;
        ix->slots = slots;
        ix->cap = ncap;
        for (size_t k = 0; k < ocap; k++) {
            if (!old[k]) continue;
            size_t len;
            const char *name = at(owner, old[k] - 1, &len);
            index_put_slot(ix, hash_bytes(name, len), old[k] - 1);
        }
        free(old);
    }
    size_t len;
    const char *name = at(owner, i, &len);
    index_put_slot(ix, hash_bytes(name, len), i);
    ix->count++;
    return PLM_OK;
}

/* ----------------------------------------------------------------- context */

struct gguf_ctx {
    uint32_t version;
    size_t alignment;
    gguf_kv *kv;
    int64_t n_kv;
    name_index kv_index;
    plm_tensor *tensors;
    int64_t n_tensors;
    size_t tensors_cap;
    name_index tensor_index;
    void **blocks; /* one data block per file (shard) */
    int n_blocks;
    size_t blocks_cap;
    uint64_t data_bytes;
};

static const char *kv_name_at(const void *owner, int64_t i, size_t *len) {
    const gguf_kv *kv = owner;
    *len = kv[i].key_len;
    return kv[i].key;
}

static const char *tensor_name_at(const void *owner, int64_t i, size_t *len) {
    const plm_tensor *t = owner;
    *len = strlen(t[i].name);
    return t[i].name;
}

void gguf_free(gguf_ctx *g) {
    if (!g) return;
    kv_list_free(g->kv, g->n_kv);
    free(g->kv_index.slots);
    for (int64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->tensors);
    free(g->tensor_index.slots);
    for (int i = 0; i < g->n_blocks; i++) plm_aligned_free(g->blocks[i]);
    free(g->blocks);
    free(g);
}

/* ------------------------------------------------------------------ stream */

enum phase { PH_HEADER, PH_PAD, PH_DATA, PH_DONE };

enum state {
    ST_MAGIC, ST_VERSION, ST_COUNTS,
    ST_KV_KEY, ST_KV_TYPE, ST_VALUE, /* ST_VALUE: scalar or array header of s->target */
    ST_ARRAY,                          /* elements of the array on top of the stack */
    ST_TI_NAME, ST_TI_NDIMS, ST_TI_NE, ST_TI_TYPE, ST_TI_OFFSET,
    ST_END
};

typedef struct {
    gguf_val *v;
    uint64_t n_decl;
} array_frame;

struct gguf_stream {
    gguf_ctx *g;
    int err;
    char errmsg[512];

    /* split bookkeeping */
    int file_index;         /* shard being read, 0-based */
    int files_done;
    int split_count;        /* 1 unless the first shard says otherwise */
    int64_t split_tensors;  /* split.tensors.count, -1 if absent */
    int metadata_only;      /* stop after the first file's metadata (gguf_stream_set_metadata_only) */

    /* current file */
    int phase;
    uint64_t size_hint; /* 0 = unknown */
    uint64_t received;
    size_t last_room;

    uint8_t *buf; /* staging: unconsumed header bytes are buf[beg..end) */
    size_t cap, beg, end;
    uint64_t base; /* file offset of buf[0] */

    int st;
    uint32_t version;
    uint64_t n_tensors, n_kv, i_kv, i_ti;
    gguf_kv *kv; /* this file's metadata (moves into g for the first shard) */
    size_t kv_cap;
    name_index kv_index;
    gguf_val *target; /* value being read for the current key */
    int target_type;
    array_frame stack[GGUF_MAX_DEPTH];
    int depth;

    char *ti_name; /* tensor record being read */
    uint32_t ti_ndims;
    int64_t ti_ne[PLM_MAX_DIMS];
    uint32_t ti_type; /* as in the file */
    int64_t first_tensor; /* g->tensors index of this file's first tensor */

    size_t alignment;
    uint64_t header_end, data_start, data_end, file_size;
    uint8_t *block;
    uint64_t block_cap, block_full; /* bytes allocated in block / needed for the whole data section */
};

/* Records the stream's error (message already set by plm_fail) and returns it. */
static int stream_error(gguf_stream *s, int code) {
    if (!s->err) {
        s->err = code;
        snprintf(s->errmsg, sizeof s->errmsg, "%s", plm_errmsg());
    }
    return s->err;
}

static void reset_file(gguf_stream *s) {
    kv_list_free(s->kv, (int64_t)s->i_kv + (s->st == ST_KV_TYPE || s->st == ST_VALUE || s->st == ST_ARRAY));
    s->kv = NULL;
    s->kv_cap = 0;
    free(s->kv_index.slots);
    memset(&s->kv_index, 0, sizeof s->kv_index);
    free(s->buf);
    s->buf = NULL;
    s->cap = s->beg = s->end = 0;
    s->base = 0;
    free(s->ti_name);
    s->ti_name = NULL;
    s->phase = PH_HEADER;
    s->st = ST_MAGIC;
    s->size_hint = s->received = 0;
    s->last_room = 0;
    s->n_tensors = s->n_kv = s->i_kv = s->i_ti = 0;
    s->target = NULL;
    s->depth = 0;
    s->alignment = GGUF_DEFAULT_ALIGNMENT;
    s->header_end = s->data_start = s->data_end = s->file_size = 0;
    s->block = NULL;
    s->block_cap = s->block_full = 0;
}

gguf_stream *gguf_stream_new(void) {
    gguf_stream *s = plm_calloc_for(1, sizeof *s, "GGUF stream");
    if (!s) return NULL;
    s->g = plm_calloc_for(1, sizeof *s->g, "GGUF context");
    if (!s->g) {
        free(s);
        return NULL;
    }
    s->g->alignment = GGUF_DEFAULT_ALIGNMENT;
    s->split_count = 1;
    s->split_tensors = -1;
    reset_file(s);
    return s;
}

void gguf_stream_free(gguf_stream *s) {
    if (!s) return;
    reset_file(s);
    gguf_free(s->g);
    free(s);
}

void gguf_stream_set_size_hint(gguf_stream *s, uint64_t file_bytes) {
    if (s && s->phase == PH_HEADER && s->received == 0) s->size_hint = file_bytes;
}

int gguf_stream_set_metadata_only(gguf_stream *s) {
    if (!s) return plm_fail(PLM_E_INVALID, "gguf_stream_set_metadata_only: NULL stream");
    if (s->file_index != 0 || s->received != 0)
        return plm_fail(PLM_E_STATE, "gguf_stream_set_metadata_only: must be called before the first byte");
    s->metadata_only = 1;
    return PLM_OK;
}

uint64_t gguf_stream_file_size(const gguf_stream *s) { return s && s->phase != PH_HEADER ? s->file_size : 0; }
uint64_t gguf_stream_received(const gguf_stream *s) { return s ? s->received : 0; }

int gguf_stream_files_left(const gguf_stream *s) {
    if (!s) return 0;
    return s->split_count - s->files_done;
}

/* ------------------------------------------------------------ header items */

/* Bytes left in the file after the current parse position, if known. */
static uint64_t bytes_left(const gguf_stream *s) {
    uint64_t pos = s->base + s->beg;
    return s->size_hint > pos ? s->size_hint - pos : 0;
}

static uint64_t file_pos(const gguf_stream *s) { return s->base + s->beg; }

static inline uint32_t rd_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t rd_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Reads a length-prefixed string if it is entirely available: returns 1 and
 * sets *str and *len (pointing into the staging buffer) and consumes it; 0 if more
 * bytes are needed; PLM_E_FORMAT if the length is implausible. */
static int take_string(gguf_stream *s, const char *what, uint64_t max_len, const uint8_t **str, uint64_t *len) {
    size_t avail = s->end - s->beg;
    if (avail < 8) return 0;
    uint64_t n = rd_u64(s->buf + s->beg);
    if (n > max_len)
        return plm_fail(PLM_E_FORMAT, "%s at byte %" PRIu64 " claims a length of %" PRIu64 " bytes (limit %" PRIu64 ")",
                        what, file_pos(s), n, max_len);
    if (s->size_hint && n > bytes_left(s) - PLM_MIN(bytes_left(s), 8))
        return plm_fail(PLM_E_FORMAT, "%s at byte %" PRIu64 " claims %" PRIu64 " bytes, past the end of the %" PRIu64
                        "-byte file (truncated or corrupt)", what, file_pos(s), n, s->size_hint);
    if (avail - 8 < n) return 0;
    *str = s->buf + s->beg + 8;
    *len = n;
    s->beg += 8 + (size_t)n;
    return 1;
}

static char *dup_bytes(const uint8_t *p, size_t n, const char *what) {
    char *d = plm_malloc_for(n + 1, what);
    if (!d) return NULL;
    memcpy(d, p, n);
    d[n] = 0;
    return d;
}

/* Starts reading a value of `type` into v (scalars complete immediately if
 * their bytes are there). Returns 1 done, 0 need more, < 0 error. For arrays
 * the header is read and a frame pushed; elements follow in ST_ARRAY. */
static int begin_value(gguf_stream *s, gguf_val *v, int type) {
    size_t avail = s->end - s->beg;
    v->type = type;
    size_t sz = vtype_size(type);
    if (sz) {
        if (avail < sz) return 0;
        memset(v->num.raw, 0, 8);
        memcpy(v->num.raw, s->buf + s->beg, sz);
        s->beg += sz;
        return 1;
    }
    if (type == GGUF_TYPE_STRING) {
        const uint8_t *p;
        uint64_t n;
        int rc = take_string(s, "string value", GGUF_MAX_ITEM, &p, &n);
        if (rc <= 0) return rc;
        v->str = dup_bytes(p, (size_t)n, "GGUF string value");
        if (!v->str) return PLM_E_NOMEM;
        v->len = (size_t)n;
        return 1;
    }
    if (type != GGUF_TYPE_ARRAY)
        return plm_fail(PLM_E_FORMAT, "invalid value type %d at byte %" PRIu64, type, file_pos(s));
    if (avail < 12) return 0;
    uint32_t et = rd_u32(s->buf + s->beg);
    uint64_t n = rd_u64(s->buf + s->beg + 4);
    if (et >= GGUF_TYPE_COUNT)
        return plm_fail(PLM_E_FORMAT, "array at byte %" PRIu64 " has invalid element type %u", file_pos(s), et);
    if (s->depth == GGUF_MAX_DEPTH)
        return plm_fail(PLM_E_FORMAT, "arrays nested deeper than %d levels at byte %" PRIu64, GGUF_MAX_DEPTH, file_pos(s));
    if (n > GGUF_MAX_ARRAY)
        return plm_fail(PLM_E_FORMAT, "array at byte %" PRIu64 " claims %" PRIu64 " elements (limit %" PRIu64 ")",
                        file_pos(s), n, GGUF_MAX_ARRAY);
    uint64_t min_elem = et == GGUF_TYPE_STRING ? 8 : et == GGUF_TYPE_ARRAY ? 12 : vtype_size(et);
    if (s->size_hint && n * min_elem > bytes_left(s) - PLM_MIN(bytes_left(s), 12))
        return plm_fail(PLM_E_FORMAT, "array at byte %" PRIu64 " claims %" PRIu64 " elements of type %s, more than the "
                        "%" PRIu64 "-byte file holds (truncated or corrupt)", file_pos(s), n, vtype_name((int)et), s->size_hint);
    s->beg += 12;
    v->elem_type = (int)et;
    v->n = 0;
    s->stack[s->depth].v = v;
    s->stack[s->depth].n_decl = n;
    s->depth++;
    return 1;
}

/* Reads as many elements of the top array as are available. Returns 1 when
 * the whole (outermost) value is complete, 0 if more bytes are needed. */
static int read_array(gguf_stream *s) {
    while (s->depth > 0) {
        array_frame *f = &s->stack[s->depth - 1];
        gguf_val *a = f->v;
        if (a->n == f->n_decl) {
            s->depth--;
            continue;
        }
        size_t avail = s->end - s->beg;
        size_t esz = vtype_size(a->elem_type);
        if (esz) { /* run of numbers */
            uint64_t k = PLM_MIN((uint64_t)(avail / esz), f->n_decl - a->n);
            if (!k) return 0;
            int rc = grow(&a->data, &a->data_cap, a->data_len + (size_t)k * esz, 1, "GGUF array");
            if (rc) return rc;
            memcpy(a->data + a->data_len, s->buf + s->beg, (size_t)k * esz);
            a->data_len += (size_t)k * esz;
            a->n += k;
            s->beg += (size_t)k * esz;
        } else if (a->elem_type == GGUF_TYPE_STRING) {
            const uint8_t *p;
            uint64_t n;
            int rc = take_string(s, "string array element", GGUF_MAX_ITEM, &p, &n);
            if (rc <= 0) return rc;
            if ((rc = grow(&a->offs, &a->cap, (size_t)a->n + 1, sizeof *a->offs, "GGUF string array")) ||
                (rc = grow(&a->data, &a->data_cap, a->data_len + (size_t)n + 1, 1, "GGUF string array")))
                return rc;
            a->offs[a->n] = a->data_len;
            memcpy(a->data + a->data_len, p, (size_t)n);
            a->data[a->data_len + n] = 0;
            a->data_len += (size_t)n + 1;
            a->n++;
        } else { /* array of arrays: start the next element */
            if (avail < 12) return 0;
            int rc = grow(&a->items, &a->cap, (size_t)a->n + 1, sizeof *a->items, "GGUF nested array");
            if (rc) return rc;
            gguf_val *child = &a->items[a->n];
            memset(child, 0, sizeof *child);
            a->n++;
            rc = begin_value(s, child, GGUF_TYPE_ARRAY);
            if (rc < 0) return rc;
        }
    }
    return 1;
}

/* Integer value of a scalar kv (any integer or bool type); 0 if not an integer. */
static int val_to_i64(const gguf_val *v, int64_t *out) {
    switch (v->type) {
    case GGUF_TYPE_UINT8: *out = v->num.raw[0]; return 1;
    case GGUF_TYPE_INT8: *out = (int8_t)v->num.raw[0]; return 1;
    case GGUF_TYPE_BOOL: *out = v->num.raw[0] != 0; return 1;
    case GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, v->num.raw, 2); *out = x; return 1; }
    case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, v->num.raw, 2); *out = x; return 1; }
    case GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, v->num.raw, 4); *out = x; return 1; }
    case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, v->num.raw, 4); *out = x; return 1; }
    case GGUF_TYPE_INT64: *out = v->num.i64; return 1;
    case GGUF_TYPE_UINT64:
        if (v->num.u64 > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v->num.u64;
        return 1;
    default: return 0;
    }
}

static gguf_kv *file_kv(gguf_stream *s, const char *key) {
    int64_t i = index_find(&s->kv_index, s->kv, kv_name_at, key, strlen(key));
    return i < 0 ? NULL : &s->kv[i];
}

/* Reads an integer-valued key of the current file: 1 found, 0 absent, < 0 error. */
static int file_int(gguf_stream *s, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    gguf_kv *kv = file_kv(s, key);
    if (!kv) return 0;
    if (!val_to_i64(&kv->v, out))
        return plm_fail(PLM_E_FORMAT, "metadata key '%s' must be an integer, not %s", key, vtype_name(kv->v.type));
    if (*out < lo || *out > hi)
        return plm_fail(PLM_E_FORMAT, "metadata key '%s' = %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
                        key, *out, lo, hi);
    return 1;
}

/* After the last key: alignment and split keys. */
static int finish_metadata(gguf_stream *s) {
    int64_t v;
    int rc = file_int(s, "general.alignment", 1, UINT32_MAX, &v);
    if (rc < 0) return rc;
    if (rc) {
        if (v & (v - 1))
            return plm_fail(PLM_E_FORMAT, "general.alignment = %" PRId64 " is not a power of two", v);
        s->alignment = (size_t)v;
    }
    if (s->file_index == 0) s->g->alignment = s->alignment;

    int64_t no = 0, count = 1, tcount = -1;
    int has_no = file_int(s, "split.no", 0, 65535, &no);
    int has_count = file_int(s, "split.count", 0, 65535, &count);
    int has_tcount = file_int(s, "split.tensors.count", 0, INT32_MAX, &tcount);
    if (has_no < 0) return has_no;
    if (has_count < 0) return has_count;
    if (has_tcount < 0) return has_tcount;
    if (s->file_index == 0) {
        if (has_count && count > 1 && no != 0)
            return plm_fail(PLM_E_FORMAT, "this is file %" PRId64 " of a %" PRId64 "-file split model; start with the "
                            "first file (-00001-of-%05" PRId64 ".gguf)", no + 1, count, count);
        s->split_count = has_count && count > 1 ? (int)count : 1;
        s->split_tensors = s->split_count > 1 && has_tcount ? tcount : -1;
    } else {
        if (!has_no || !has_count)
            return plm_fail(PLM_E_FORMAT, "file %d of the split model has no split.no / split.count keys",
                            s->file_index + 1);
        if (count != s->split_count)
            return plm_fail(PLM_E_FORMAT, "split model: file %d says split.count = %" PRId64 ", the first file said %d",
                            s->file_index + 1, count, s->split_count);
        if (no != s->file_index)
            return plm_fail(PLM_E_FORMAT, "split model: expected file %d of %d but got file %" PRId64 " (split.no = %" PRId64 ")",
                            s->file_index + 1, s->split_count, no + 1, no);
    }
    return PLM_OK;
}

static const char *removed_type_name(int t) {
    switch (t) {
    case 4: return "q4_2";
    case 5: return "q4_3";
    case 31: return "q4_0_4_4";
    case 32: return "q4_0_4_8";
    case 33: return "q4_0_8_8";
    case 36: return "iq4_nl_4_4";
    case 37: return "iq4_nl_4_8";
    case 38: return "iq4_nl_8_8";
    default: return NULL;
    }
}

/* Validates the tensor record just read and appends it to g->tensors. */
static int add_tensor(gguf_stream *s, uint64_t offset) {
    gguf_ctx *g = s->g;
    const char *name = s->ti_name;
    const int type = s->ti_type > INT_MAX ? -1 : (int)s->ti_type;
    if (!plm_type_name(type)) {
        if (removed_type_name(type))
            return plm_fail(PLM_E_UNSUPPORTED, "tensor '%s' has ggml type %d (%s), which llama.cpp removed from GGUF "
                            "files; re-convert the model", name, type, removed_type_name(type));
        return plm_fail(PLM_E_UNSUPPORTED, "tensor '%s' has unknown ggml type %" PRIu32 " (the file may need a newer "
                        "reader)", name, s->ti_type);
    }
    if (!plm_type_supported(type))
        return plm_fail(PLM_E_UNSUPPORTED, "tensor '%s' has type %s, which plm-wasm cannot run (supported: f32, f16, "
                        "bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K..q6_K, iq4_nl, iq4_xs); re-quantize the model, e.g. to Q8_0 or Q4_0", name,
                        plm_type_name(type));
    const int blck = plm_type_block_size(type);
    if (s->ti_ne[0] % blck)
        return plm_fail(PLM_E_FORMAT, "tensor '%s' of type %s has rows of %" PRId64 " values, not a multiple of the "
                        "block size %d", name, plm_type_name(type), s->ti_ne[0], blck);
    uint64_t nelem = 1;
    for (int d = 0; d < PLM_MAX_DIMS; d++) {
        uint64_t ne = (uint64_t)s->ti_ne[d];
        if (ne && nelem > (uint64_t)INT64_MAX / ne)
            return plm_fail(PLM_E_FORMAT, "tensor '%s' has too many elements (%" PRId64 " x %" PRId64 " x %" PRId64
                            " x %" PRId64 ")", name, s->ti_ne[0], s->ti_ne[1], s->ti_ne[2], s->ti_ne[3]);
        nelem *= ne;
    }
    for (int d = 0; d < PLM_MAX_DIMS; d++) /* the kernels count rows and columns in int */
        if (s->ti_ne[d] > INT32_MAX)
            return plm_fail(PLM_E_FORMAT, "tensor '%s' dimension %d is %" PRId64 ", more than the supported %d",
                            name, d, s->ti_ne[d], INT32_MAX);
    const uint64_t nblocks = nelem / (uint64_t)blck;
    const uint64_t bb = plm_type_block_bytes(type);
    if (nblocks > UINT64_MAX / 2 / bb)
        return plm_fail(PLM_E_FORMAT, "tensor '%s' is too large", name);
    const uint64_t nbytes = nblocks * bb;
    if (offset % s->alignment)
        return plm_fail(PLM_E_FORMAT, "tensor '%s' has offset %" PRIu64 ", not a multiple of the alignment %zu",
                        name, offset, s->alignment);
    if (offset > UINT64_MAX / 2 - nbytes)
        return plm_fail(PLM_E_FORMAT, "tensor '%s' has an impossible offset %" PRIu64, name, offset);
    if (index_find(&g->tensor_index, g->tensors, tensor_name_at, name, strlen(name)) >= 0)
        return plm_fail(PLM_E_FORMAT, "duplicate tensor name '%s'", name);

    int rc = grow(&g->tensors, &g->tensors_cap, (size_t)g->n_tensors + 1, sizeof *g->tensors, "GGUF tensor list");
    if (rc) return rc;
    plm_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = s->ti_name;
    s->ti_name = NULL;
    t->type = type;
    t->n_dims = (int)s->ti_ndims;
    memcpy(t->ne, s->ti_ne, sizeof t->ne);
    t->offset = offset;
    t->nbytes = nbytes;
    g->n_tensors++;
    return index_add(&g->tensor_index, g->tensors, tensor_name_at, g->n_tensors - 1);
}

typedef struct {
    uint64_t off, end;
    int64_t i;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* This file's metadata is complete: the first file's becomes the model's, the
 * others' (split keys only, in llama.cpp's split files) are dropped. */
static void take_metadata(gguf_stream *s) {
    gguf_ctx *g = s->g;
    if (s->file_index == 0) {
        g->version = s->version;
        g->kv = s->kv;
        g->n_kv = (int64_t)s->n_kv;
        g->kv_index = s->kv_index;
        s->kv = NULL;
        memset(&s->kv_index, 0, sizeof s->kv_index);
    } else {
        kv_list_free(s->kv, (int64_t)s->n_kv);
        s->kv = NULL;
        free(s->kv_index.slots);
        memset(&s->kv_index, 0, sizeof s->kv_index);
    }
    s->n_kv = s->i_kv = 0;
    s->kv_cap = 0;
}

/* Metadata-only mode: the first file's metadata is all that is wanted. The
 * tensor records and data are never read (so never validated): the stream is
 * DONE here, for every file of a split model, with a context without tensors. */
static int finish_metadata_only(gguf_stream *s) {
    s->header_end = s->data_start = s->file_size = file_pos(s);
    s->data_end = 0;
    take_metadata(s);
    s->phase = PH_DONE;
    s->files_done = s->split_count;
    s->split_tensors = -1;
    free(s->buf);
    s->buf = NULL;
    s->cap = s->beg = s->end = 0;
    return GGUF_DONE;
}

/* The data block is full but the data section goes on (size unknown, see
 * GGUF_UNVERIFIED_RESERVE): double it (at most to the whole section), keeping the
 * bytes received, and re-point this file's tensors. */
static int grow_block(gguf_stream *s) {
    gguf_ctx *g = s->g;
    const uint64_t cap = PLM_MIN(s->block_cap * 2, s->block_full), have = s->received - s->data_start;
    if (cap <= s->block_cap) return plm_fail(PLM_E_STATE, "GGUF stream: data past the end of the data section");
    uint8_t *nb = plm_aligned_alloc_for((size_t)cap, "model weights");
    if (!nb)
        return plm_fail(PLM_E_NOMEM, "out of memory: %.1f MB of weights received, %.1f MB more could not be "
                        "allocated (the file declares %.1f MB)", (double)have / 1048576.0,
                        (double)(cap - s->block_cap) / 1048576.0, (double)s->data_end / 1048576.0);
    memcpy(nb, s->block, (size_t)have);
    if (cap == s->block_full) memset(nb + s->data_end, 0, (size_t)(cap - s->data_end));
    for (int64_t i = 0; i < g->n_blocks; i++)
        if (g->blocks[i] == s->block) g->blocks[i] = nb;
    plm_aligned_free(s->block);
    s->block = nb;
    s->block_cap = cap;
    for (int64_t i = s->first_tensor; i < g->n_tensors; i++) g->tensors[i].data = nb + g->tensors[i].offset;
    return PLM_OK;
}

/* The header is complete: check the data layout, allocate the data block and
 * move the bytes already staged into it. Returns GGUF_HEADER_READY/GGUF_DONE. */
static int finish_header(gguf_stream *s) {
    gguf_ctx *g = s->g;
    s->header_end = file_pos(s);
    const int64_t first = s->first_tensor, n = g->n_tensors - first;

    /* offsets: inside the data section, non-overlapping */
    s->data_end = 0;
    if (n > 0) {
        span *sp = plm_malloc_for((size_t)n * sizeof *sp, "GGUF tensor layout check");
        if (!sp) return PLM_E_NOMEM;
        for (int64_t i = 0; i < n; i++) {
            const plm_tensor *t = &g->tensors[first + i];
            sp[i] = (span){t->offset, t->offset + t->nbytes, first + i};
        }
        qsort(sp, (size_t)n, sizeof *sp, span_cmp);
        for (int64_t i = 0; i + 1 < n; i++) {
            if (sp[i].end > sp[i + 1].off && sp[i].end > sp[i].off) {
                const char *a = g->tensors[sp[i].i].name, *b = g->tensors[sp[i + 1].i].name;
                free(sp);
                return plm_fail(PLM_E_FORMAT, "tensors '%s' and '%s' overlap in the data section", a, b);
            }
        }
        s->data_end = sp[n - 1].end;
        for (int64_t i = 0; i < n; i++) s->data_end = PLM_MAX(s->data_end, sp[i].end);
        free(sp);
    }
    const uint64_t al = s->alignment;
    s->data_start = n > 0 ? (s->header_end + al - 1) / al * al : s->header_end;
    s->file_size = s->data_start + s->data_end;
    if (s->size_hint && s->file_size > s->size_hint)
        return plm_fail(PLM_E_TRUNCATED, "the file is %" PRIu64 " bytes but its header declares %" PRIu64
                        " (%" PRIu64 " bytes of tensor data): truncated download?", s->size_hint, s->file_size,
                        s->data_end);

    /* the data block: one allocation for the whole data section */
    if (s->data_end > 0) {
        const uint64_t alloc = (s->data_end + 63) / 64 * 64;
        const double mb = (double)s->data_end / (1024.0 * 1024.0);
        if (alloc > (uint64_t)SIZE_MAX)
            return plm_fail(PLM_E_NOMEM, "out of memory: the weights need %.1f MB, more than this build can address",
                            mb);
        /* staged bytes past the header that belong to the data section */
        const uint64_t staged_to = s->base + s->end;
        const uint64_t staged = staged_to > s->data_start ? PLM_MIN(staged_to, s->file_size) - s->data_start : 0;
        uint64_t cap = alloc;
        if (!s->size_hint && alloc > GGUF_UNVERIFIED_RESERVE) /* unverified claim: reserve as data arrives */
            cap = PLM_MAX(GGUF_UNVERIFIED_RESERVE, (staged + 63) / 64 * 64);
        s->block = plm_aligned_alloc_for((size_t)cap, "model weights");
        if (!s->block)
            return plm_fail(PLM_E_NOMEM, "out of memory: the weights need %.1f MB, which could not be allocated", mb);
        s->block_cap = cap;
        s->block_full = alloc;
        if (cap == alloc) memset(s->block + s->data_end, 0, (size_t)(alloc - s->data_end));
        int rc = grow(&g->blocks, &g->blocks_cap, (size_t)g->n_blocks + 1, sizeof *g->blocks, "GGUF block list");
        if (rc) {
            plm_aligned_free(s->block);
            s->block = NULL;
            return rc;
        }
        g->blocks[g->n_blocks++] = s->block;
        g->data_bytes += s->data_end;
        if (staged_to > s->data_start) {
            const uint64_t from = s->data_start, to = PLM_MIN(staged_to, s->file_size);
            if (to > from) memcpy(s->block, s->buf + (size_t)(from - s->base), (size_t)(to - from));
        }
    }
    for (int64_t i = first; i < g->n_tensors; i++) {
        plm_tensor *t = &g->tensors[i];
        t->data = s->block ? s->block + t->offset : NULL;
    }

    take_metadata(s);

    if (s->received >= s->file_size) {
        s->phase = PH_DONE;
        s->files_done++;
        return GGUF_DONE;
    }
    s->phase = s->received < s->data_start ? PH_PAD : PH_DATA;
    if (s->phase == PH_DATA) { /* the staging buffer is no longer needed */
        free(s->buf);
        s->buf = NULL;
        s->cap = s->beg = s->end = 0;
    }
    return GGUF_HEADER_READY;
}

/* Runs the header state machine over the staged bytes. Returns GGUF_NEED_MORE,
 * GGUF_HEADER_READY / GGUF_DONE (header complete) or PLM_E_*. */
static int parse(gguf_stream *s) {
    for (;;) {
        const uint8_t *p = s->buf + s->beg;
        const size_t avail = s->end - s->beg;
        int rc;
        switch (s->st) {
        case ST_MAGIC:
            if (avail < 4) return GGUF_NEED_MORE;
            if (memcmp(p, "GGUF", 4)) {
                if (!memcmp(p, "tjgg", 4) || !memcmp(p, "fmgg", 4) || !memcmp(p, "lmgg", 4))
                    return plm_fail(PLM_E_UNSUPPORTED, "this is a legacy GGML/GGJT model file; convert it to GGUF "
                                    "with a current llama.cpp");
                char m[4];
                for (int i = 0; i < 4; i++) m[i] = p[i] >= 32 && p[i] < 127 ? (char)p[i] : '?';
                return plm_fail(PLM_E_FORMAT, "not a GGUF file (it starts with '%.4s', expected 'GGUF')", m);
            }
            s->beg += 4;
            s->st = ST_VERSION;
            break;
        case ST_VERSION: {
            if (avail < 4) return GGUF_NEED_MORE;
            uint32_t v = rd_u32(p);
            if (v == 0) return plm_fail(PLM_E_FORMAT, "invalid GGUF version 0");
            if ((v & 0xffff) == 0)
                return plm_fail(PLM_E_UNSUPPORTED, "big-endian GGUF file (version bytes %02x %02x %02x %02x); only "
                                "little-endian files are supported", p[0], p[1], p[2], p[3]);
            if (v == 1)
                return plm_fail(PLM_E_UNSUPPORTED, "GGUF version 1 is not supported (only versions 2 and 3); "
                                "re-convert the model with a current llama.cpp");
            if (v > 3)
                return plm_fail(PLM_E_UNSUPPORTED, "GGUF version %u is not supported (only versions 2 and 3)", v);
            s->version = v;
            s->beg += 4;
            s->st = ST_COUNTS;
            break;
        }
        case ST_COUNTS: {
            if (avail < 16) return GGUF_NEED_MORE;
            s->n_tensors = rd_u64(p);
            s->n_kv = rd_u64(p + 8);
            s->beg += 16;
            if (s->n_tensors > GGUF_MAX_COUNT || s->n_kv > GGUF_MAX_COUNT)
                return plm_fail(PLM_E_FORMAT, "GGUF header claims %" PRIu64 " tensors and %" PRIu64
                                " metadata keys (corrupt file?)", s->n_tensors, s->n_kv);
            /* smallest possible records: key (8+1) + type (4) + 1 byte; name (8+1) + n_dims + type + offset */
            if (s->size_hint && s->n_kv * 14 + (s->metadata_only ? 0 : s->n_tensors * 25) > bytes_left(s))
                return plm_fail(PLM_E_FORMAT, "GGUF header claims %" PRIu64 " tensors and %" PRIu64 " metadata keys, "
                                "more than fit in a %" PRIu64 "-byte file", s->n_tensors, s->n_kv, s->size_hint);
            s->first_tensor = s->g->n_tensors;
            s->st = ST_KV_KEY;
            break;
        }
        case ST_KV_KEY: {
            if (s->i_kv == s->n_kv) {
                if ((rc = finish_metadata(s))) return rc;
                if (s->metadata_only) {
                    s->st = ST_END;
                    return finish_metadata_only(s);
                }
                s->st = ST_TI_NAME;
                break;
            }
            const uint8_t *str;
            uint64_t n;
            if ((rc = take_string(s, "metadata key", GGUF_MAX_NAME, &str, &n)) <= 0)
                return rc ? rc : GGUF_NEED_MORE;
            if (n == 0) return plm_fail(PLM_E_FORMAT, "metadata key %" PRIu64 " is empty", s->i_kv);
            if (index_find(&s->kv_index, s->kv, kv_name_at, (const char *)str, (size_t)n) >= 0)
                return plm_fail(PLM_E_FORMAT, "duplicate metadata key '%.*s'", (int)n, (const char *)str);
            if ((rc = grow(&s->kv, &s->kv_cap, (size_t)s->i_kv + 1, sizeof *s->kv, "GGUF metadata"))) return rc;
            gguf_kv *kv = &s->kv[s->i_kv];
            memset(kv, 0, sizeof *kv);
            if (!(kv->key = dup_bytes(str, (size_t)n, "GGUF metadata key"))) return PLM_E_NOMEM;
            kv->key_len = (size_t)n;
            s->st = ST_KV_TYPE;
            break;
        }
        case ST_KV_TYPE: {
            if (avail < 4) return GGUF_NEED_MORE;
            uint32_t t = rd_u32(p);
            if (t >= GGUF_TYPE_COUNT)
                return plm_fail(PLM_E_FORMAT, "metadata key '%s' has invalid value type %u", s->kv[s->i_kv].key, t);
            s->beg += 4;
            s->target = &s->kv[s->i_kv].v;
            s->target_type = (int)t;
            s->st = ST_VALUE;
            break;
        }
        case ST_VALUE:
            if ((rc = begin_value(s, s->target, s->target_type)) <= 0) return rc ? rc : GGUF_NEED_MORE;
            s->st = ST_ARRAY; /* no-op for scalars: the stack is empty */
            break;
        case ST_ARRAY: {
            if ((rc = read_array(s)) <= 0) return rc ? rc : GGUF_NEED_MORE;
            /* key complete: make it findable (also detects duplicates of later keys) */
            if ((rc = index_add(&s->kv_index, s->kv, kv_name_at, (int64_t)s->i_kv))) return rc;
            s->i_kv++;
            s->st = ST_KV_KEY;
            break;
        }
        case ST_TI_NAME: {
            if (s->i_ti == s->n_tensors) {
                s->st = ST_END;
                return finish_header(s);
            }
            const uint8_t *str;
            uint64_t n;
            if ((rc = take_string(s, "tensor name", GGUF_MAX_NAME, &str, &n)) <= 0) return rc ? rc : GGUF_NEED_MORE;
            if (n == 0) return plm_fail(PLM_E_FORMAT, "tensor %" PRIu64 " has an empty name", s->i_ti);
            if (memchr(str, 0, (size_t)n))
                return plm_fail(PLM_E_FORMAT, "tensor %" PRIu64 " has a name containing a NUL byte", s->i_ti);
            if (!(s->ti_name = dup_bytes(str, (size_t)n, "GGUF tensor name"))) return PLM_E_NOMEM;
            s->st = ST_TI_NDIMS;
            break;
        }
        case ST_TI_NDIMS:
            if (avail < 4) return GGUF_NEED_MORE;
            s->ti_ndims = rd_u32(p);
            if (s->ti_ndims > PLM_MAX_DIMS)
                return plm_fail(PLM_E_FORMAT, "tensor '%s' has %u dimensions (at most %d)", s->ti_name, s->ti_ndims,
                                PLM_MAX_DIMS);
            s->beg += 4;
            s->st = ST_TI_NE;
            break;
        case ST_TI_NE:
            if (avail < 8 * (size_t)s->ti_ndims) return GGUF_NEED_MORE;
            for (int d = 0; d < PLM_MAX_DIMS; d++) {
                s->ti_ne[d] = d < (int)s->ti_ndims ? (int64_t)rd_u64(p + 8 * d) : 1;
                if (s->ti_ne[d] < 0)
                    return plm_fail(PLM_E_FORMAT, "tensor '%s' has a negative dimension %" PRId64, s->ti_name,
                                    s->ti_ne[d]);
            }
            s->beg += 8 * (size_t)s->ti_ndims;
            s->st = ST_TI_TYPE;
            break;
        case ST_TI_TYPE: {
            if (avail < 4) return GGUF_NEED_MORE;
            s->ti_type = rd_u32(p);
            s->beg += 4;
            s->st = ST_TI_OFFSET;
            break;
        }
        case ST_TI_OFFSET:
            if (avail < 8) return GGUF_NEED_MORE;
            if ((rc = add_tensor(s, rd_u64(p)))) return rc;
            s->beg += 8;
            s->i_ti++;
            s->st = ST_TI_NAME;
            break;
        default: return plm_fail(PLM_E_STATE, "GGUF parser in an invalid state");
        }
        if (file_pos(s) > GGUF_MAX_HEADER)
            return plm_fail(PLM_E_FORMAT, "GGUF header larger than %" PRIu64 " MB (corrupt file?)", GGUF_MAX_HEADER >> 20);
    }
}

/* ------------------------------------------------------------ stream API */

uint8_t *gguf_stream_dst(gguf_stream *s, size_t *room) {
    *room = 0;
    if (!s || s->err) return NULL;
    uint8_t *dst = NULL;
    switch (s->phase) {
    case PH_HEADER:
        if (s->end == s->cap) {
            if (s->beg > 0) { /* drop consumed bytes */
                memmove(s->buf, s->buf + s->beg, s->end - s->beg);
                s->base += s->beg;
                s->end -= s->beg;
                s->beg = 0;
            }
            /* grow when an item fills most of the buffer, so compaction stays amortised O(1) per byte */
            if (s->cap - s->end < s->cap / 4 || s->cap == 0) {
                if (s->cap >= GGUF_MAX_ITEM) {
                    plm_fail(PLM_E_FORMAT, "a GGUF metadata item at byte %" PRIu64 " is larger than %zu MB "
                             "(corrupt file?)", file_pos(s), GGUF_MAX_ITEM >> 20);
                    stream_error(s, PLM_E_FORMAT);
                    return NULL;
                }
                size_t ncap = s->cap ? s->cap * 2 : GGUF_STAGING_MIN;
                uint8_t *nb = plm_realloc_for(s->buf, ncap, "GGUF header buffer");
                if (!nb) {
                    stream_error(s, PLM_E_NOMEM);
                    return NULL;
                }
                s->buf = nb;
                s->cap = ncap;
            }
        }
        dst = s->buf + s->end;
        *room = s->cap - s->end;
        break;
    case PH_PAD: /* alignment padding before the data: read into the staging buffer and drop */
        dst = s->buf;
        *room = (size_t)PLM_MIN((uint64_t)s->cap, s->data_start - s->received);
        break;
    case PH_DATA: {
        const uint64_t pos = s->received - s->data_start;
        if (pos >= s->block_cap && grow_block(s) != PLM_OK) {
            stream_error(s, plm_errcode());
            return NULL;
        }
        dst = s->block + pos;
        *room = (size_t)PLM_MIN((uint64_t)SIZE_MAX, PLM_MIN(s->file_size - s->received, s->block_cap - pos));
        break;
    }
    default: return NULL;
    }
    s->last_room = *room;
    return dst;
}

int gguf_stream_commit(gguf_stream *s, size_t n) {
    if (!s) return plm_fail(PLM_E_INVALID, "gguf_stream_commit: NULL stream");
    if (s->err) return plm_fail(s->err, "%s", s->errmsg);
    if (s->phase == PH_DONE) {
        if (n) return plm_fail(PLM_E_STATE, "gguf_stream_commit: the file is already complete");
        return GGUF_DONE;
    }
    if (n > s->last_room)
        return stream_error(s, plm_fail(PLM_E_INVALID, "gguf_stream_commit: %zu bytes committed but only %zu were "
                                        "available at gguf_stream_dst", n, s->last_room));
    s->last_room -= n;
    s->received += n;
    switch (s->phase) {
    case PH_HEADER: {
        s->end += n;
        int rc = parse(s);
        if (rc < 0) return stream_error(s, rc);
        if (rc != GGUF_NEED_MORE) s->last_room = 0; /* dst moved */
        return rc;
    }
    case PH_PAD:
        if (s->received < s->data_start) return GGUF_NEED_MORE;
        free(s->buf);
        s->buf = NULL;
        s->cap = s->beg = s->end = 0;
        s->last_room = 0;
        s->phase = PH_DATA;
        if (s->received < s->file_size) return GGUF_NEED_MORE;
        s->phase = PH_DONE;
        s->files_done++;
        return GGUF_DONE;
    case PH_DATA:
        if (s->received < s->file_size) return GGUF_NEED_MORE;
        s->phase = PH_DONE;
        s->files_done++;
        return GGUF_DONE;
    }
    return stream_error(s, plm_fail(PLM_E_STATE, "GGUF stream in an invalid state"));
}

int gguf_stream_feed(gguf_stream *s, const void *data, size_t n) {
    if (!s) return plm_fail(PLM_E_INVALID, "gguf_stream_feed: NULL stream");
    const uint8_t *src = data;
    int result = s->phase == PH_DONE ? GGUF_DONE : GGUF_NEED_MORE;
    if (s->err) return plm_fail(s->err, "%s", s->errmsg);
    while (n > 0) {
        size_t room;
        uint8_t *dst = gguf_stream_dst(s, &room);
        if (!dst) {
            if (s->err) return plm_fail(s->err, "%s", s->errmsg);
            break; /* DONE: bytes after the tensor data (final padding) are ignored, as ggml does */
        }
        size_t k = PLM_MIN(room, n);
        memcpy(dst, src, k);
        int rc = gguf_stream_commit(s, k);
        if (rc < 0) return rc;
        if (rc == GGUF_DONE || (rc == GGUF_HEADER_READY && result != GGUF_DONE)) result = rc;
        src += k;
        n -= k;
    }
    return result;
}

int gguf_stream_next_file(gguf_stream *s) {
    if (!s) return plm_fail(PLM_E_INVALID, "gguf_stream_next_file: NULL stream");
    if (s->err) return plm_fail(s->err, "%s", s->errmsg);
    if (s->phase != PH_DONE)
        return plm_fail(PLM_E_STATE, "gguf_stream_next_file: the current file is not complete yet");
    if (s->files_done >= s->split_count)
        return plm_fail(PLM_E_STATE, "gguf_stream_next_file: all %d file(s) of the model are already loaded",
                        s->split_count);
    int index = s->file_index + 1;
    reset_file(s);
    s->file_index = index;
    return PLM_OK;
}

gguf_ctx *gguf_stream_finish(gguf_stream *s) {
    if (!s) {
        plm_fail(PLM_E_INVALID, "gguf_stream_finish: NULL stream");
        return NULL;
    }
    int rc = PLM_OK;
    if (s->err) {
        rc = plm_fail(s->err, "%s", s->errmsg);
    } else if (s->phase != PH_DONE) {
        const char *which = s->split_count > 1 ? "split file" : "file";
        if (s->received == 0)
            rc = plm_fail(PLM_E_TRUNCATED, "the %s is empty", which);
        else if (s->phase == PH_HEADER)
            rc = plm_fail(PLM_E_TRUNCATED, "the %s ended after %" PRIu64 " bytes, inside the GGUF header", which,
                          s->received);
        else
            rc = plm_fail(PLM_E_TRUNCATED, "the %s ended after %" PRIu64 " of %" PRIu64 " bytes", which, s->received,
                          s->file_size);
    } else if (s->files_done < s->split_count) {
        rc = plm_fail(PLM_E_TRUNCATED, "split model: only %d of %d files were loaded", s->files_done, s->split_count);
    } else if (s->split_tensors >= 0 && s->g->n_tensors != s->split_tensors) {
        rc = plm_fail(PLM_E_FORMAT, "split model: split.tensors.count is %" PRId64 " but the files hold %" PRId64
                      " tensors", s->split_tensors, s->g->n_tensors);
    }
    gguf_ctx *g = NULL;
    if (rc == PLM_OK) {
        g = s->g;
        s->g = NULL;
    }
    gguf_stream_free(s);
    return g;
}

/* ----------------------------------------------------------- whole files */

gguf_ctx *gguf_load_buffer(const void *data, size_t n) { return gguf_load_buffer_flags(data, n, 0); }

/* A new stream set up for `flags` (GGUF_METADATA_ONLY). */
static gguf_stream *stream_with_flags(int flags) {
    if (flags & ~GGUF_METADATA_ONLY) {
        plm_fail(PLM_E_INVALID, "unknown GGUF load flags 0x%x", (unsigned)flags);
        return NULL;
    }
    gguf_stream *s = gguf_stream_new();
    if (s && (flags & GGUF_METADATA_ONLY)) gguf_stream_set_metadata_only(s);
    return s;
}

gguf_ctx *gguf_load_buffer_flags(const void *data, size_t n, int flags) {
    if (!data && n) {
        plm_fail(PLM_E_INVALID, "gguf_load_buffer: NULL data");
        return NULL;
    }
    gguf_stream *s = stream_with_flags(flags);
    if (!s) return NULL;
    /* the buffer's length is the file's size, except for metadata-only loads, which
     * may be given just the first bytes of a file (its header) */
    if (!(flags & GGUF_METADATA_ONLY)) gguf_stream_set_size_hint(s, n);
    if (gguf_stream_feed(s, data, n) < 0) {
        gguf_stream_free(s);
        return NULL;
    }
    return gguf_stream_finish(s);
}

#if !defined(PLM_STANDALONE_WASM)
/* Feeds one open file through the stream (reading straight into gguf_stream_dst). */
static int feed_file(gguf_stream *s, FILE *f, const char *path) {
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > 0) gguf_stream_set_size_hint(s, (uint64_t)size);
        fseek(f, 0, SEEK_SET);
    }
    for (;;) {
        size_t room;
        uint8_t *dst = gguf_stream_dst(s, &room);
        if (!dst) return s->err ? s->err : GGUF_DONE;
        size_t want = PLM_MIN(room, (size_t)1 << 20);
        size_t got = fread(dst, 1, want, f);
        if (got == 0) {
            if (ferror(f)) return plm_fail(PLM_E_FORMAT, "error reading %s", path);
            return GGUF_NEED_MORE; /* end of file; gguf_stream_finish reports what is missing */
        }
        int rc = gguf_stream_commit(s, got);
        if (rc < 0) return rc;
        if (rc == GGUF_DONE) return rc;
    }
}

/* llama.cpp split naming: <prefix>-00001-of-00003.gguf. Writes shard i's path. */
static int split_path(char *out, size_t cap, const char *first, int i, int count) {
    char suffix[64];
    snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", 1, count);
    size_t n = strlen(first), k = strlen(suffix);
    if (n < k || strcmp(first + n - k, suffix)) return 0;
    return snprintf(out, cap, "%.*s-%05d-of-%05d.gguf", (int)(n - k), first, i + 1, count) < (int)cap;
}
#endif

gguf_ctx *gguf_load_file(const char *path) { return gguf_load_file_flags(path, 0); }

gguf_ctx *gguf_load_file_flags(const char *path, int flags) {
    if (!path) {
        plm_fail(PLM_E_INVALID, "gguf_load_file: NULL path");
        return NULL;
    }
#if defined(PLM_STANDALONE_WASM)
    /* the standalone modules import no file system (see DESIGN.md): hosts stream the bytes */
    plm_fail(PLM_E_UNSUPPORTED, "cannot open %s: this WebAssembly build has no file system; stream the file "
             "through the loader instead", path);
    return NULL;
#else
    gguf_stream *s = stream_with_flags(flags);
    if (!s) return NULL;
    for (int i = 0;; i++) {
        char shard[4096];
        const char *p = path;
        if (i > 0) {
            if (!split_path(shard, sizeof shard, path, i, s->split_count)) {
                plm_fail(PLM_E_MISSING, "%s is file 1 of a %d-file split model, but its name does not end in "
                         "-00001-of-%05d.gguf, so the other files cannot be found", path, s->split_count,
                         s->split_count);
                gguf_stream_free(s);
                return NULL;
            }
            if (gguf_stream_next_file(s) < 0) break;
            p = shard;
        }
        FILE *f = fopen(p, "rb");
        if (!f) {
            plm_fail(i ? PLM_E_MISSING : PLM_E_INVALID, "cannot open %s", p);
            gguf_stream_free(s);
            return NULL;
        }
        int rc = feed_file(s, f, p);
        fclose(f);
        if (rc < 0) {
            gguf_stream_free(s);
            return NULL;
        }
        if (rc != GGUF_DONE || gguf_stream_files_left(s) == 0) break;
    }
    return gguf_stream_finish(s);
#endif
}

/* ---------------------------------------------------------------- getters */

uint32_t gguf_version(const gguf_ctx *g) { return g ? g->version : 0; }
size_t gguf_alignment(const gguf_ctx *g) { return g ? g->alignment : GGUF_DEFAULT_ALIGNMENT; }
int64_t gguf_n_kv(const gguf_ctx *g) { return g ? g->n_kv : 0; }

const char *gguf_kv_key(const gguf_ctx *g, int64_t i) {
    return g && i >= 0 && i < g->n_kv ? g->kv[i].key : NULL;
}

int gguf_kv_type(const gguf_ctx *g, int64_t i) {
    return g && i >= 0 && i < g->n_kv ? g->kv[i].v.type : -1;
}

int64_t gguf_find_key(const gguf_ctx *g, const char *key) {
    if (!g || !key) return -1;
    return index_find(&g->kv_index, g->kv, kv_name_at, key, strlen(key));
}

static const gguf_val *find_val(const gguf_ctx *g, const char *key) {
    int64_t i = gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kv[i].v;
}

static int wrong_type(const char *key, const gguf_val *v, const char *expected) {
    return plm_fail(PLM_E_FORMAT, "metadata key '%s' has type %s, expected %s", key, vtype_name(v->type), expected);
}

int gguf_get_i64(const gguf_ctx *g, const char *key, int64_t *out) {
    const gguf_val *v = find_val(g, key);
    if (!v) return 0;
    int64_t x;
    if (!val_to_i64(v, &x)) {
        if (v->type == GGUF_TYPE_UINT64)
            return plm_fail(PLM_E_FORMAT, "metadata key '%s' = %" PRIu64 " does not fit an int64", key, v->num.u64);
        return wrong_type(key, v, "an integer");
    }
    *out = x;
    return 1;
}

int gguf_get_u32(const gguf_ctx *g, const char *key, uint32_t *out) {
    const gguf_val *v = find_val(g, key);
    if (!v) return 0;
    int64_t x;
    if (!val_to_i64(v, &x)) {
        if (v->type == GGUF_TYPE_UINT64)
            return plm_fail(PLM_E_FORMAT, "metadata key '%s' = %" PRIu64 " does not fit a uint32", key, v->num.u64);
        return wrong_type(key, v, "an integer");
    }
    if (x < 0 || x > (int64_t)UINT32_MAX)
        return plm_fail(PLM_E_FORMAT, "metadata key '%s' = %" PRId64 " does not fit a uint32", key, x);
    *out = (uint32_t)x;
    return 1;
}

int gguf_get_f32(const gguf_ctx *g, const char *key, float *out) {
    const gguf_val *v = find_val(g, key);
    if (!v) return 0;
    int64_t x;
    if (v->type == GGUF_TYPE_FLOAT32) memcpy(out, v->num.raw, 4);
    else if (v->type == GGUF_TYPE_FLOAT64) *out = (float)v->num.f64;
    else if (v->type != GGUF_TYPE_BOOL && val_to_i64(v, &x)) *out = (float)x;
    else if (v->type == GGUF_TYPE_UINT64) *out = (float)v->num.u64;
    else return wrong_type(key, v, "a number");
    return 1;
}

int gguf_get_bool(const gguf_ctx *g, const char *key, int *out) {
    const gguf_val *v = find_val(g, key);
    if (!v) return 0;
    int64_t x;
    if (v->type == GGUF_TYPE_UINT64) *out = v->num.u64 != 0;
    else if (val_to_i64(v, &x)) *out = x != 0;
    else return wrong_type(key, v, "a bool");
    return 1;
}

const char *gguf_get_str(const gguf_ctx *g, const char *key) {
    const gguf_val *v = find_val(g, key);
    return v && v->type == GGUF_TYPE_STRING ? v->str : NULL;
}

uint32_t gguf_u32_or(const gguf_ctx *g, const char *key, uint32_t def) {
    const gguf_val *v = find_val(g, key);
    int64_t x;
    if (!v || !val_to_i64(v, &x) || x < 0 || x > (int64_t)UINT32_MAX) return def;
    return (uint32_t)x;
}

float gguf_f32_or(const gguf_ctx *g, const char *key, float def) {
    const gguf_val *v = find_val(g, key);
    if (!v) return def;
    int64_t x;
    if (v->type == GGUF_TYPE_FLOAT32) {
        float f;
        memcpy(&f, v->num.raw, 4);
        return f;
    }
    if (v->type == GGUF_TYPE_FLOAT64) return (float)v->num.f64;
    if (v->type != GGUF_TYPE_BOOL && val_to_i64(v, &x)) return (float)x;
    return def;
}

int gguf_bool_or(const gguf_ctx *g, const char *key, int def) {
    const gguf_val *v = find_val(g, key);
    int64_t x;
    if (!v || !val_to_i64(v, &x)) return def;
    return x != 0;
}

int64_t gguf_kv_arr_n(const gguf_ctx *g, int64_t kv, int *elem_type) {
    if (!g || kv < 0 || kv >= g->n_kv || g->kv[kv].v.type != GGUF_TYPE_ARRAY) return -1;
    if (elem_type) *elem_type = g->kv[kv].v.elem_type;
    return (int64_t)g->kv[kv].v.n;
}

int64_t gguf_arr_n(const gguf_ctx *g, const char *key, int *elem_type) {
    return gguf_kv_arr_n(g, gguf_find_key(g, key), elem_type);
}

const void *gguf_arr_data(const gguf_ctx *g, const char *key) {
    const gguf_val *v = find_val(g, key);
    if (!v || v->type != GGUF_TYPE_ARRAY || !vtype_size(v->elem_type)) return NULL;
    return v->data ? (const void *)v->data : (const void *)"";
}

const char *gguf_arr_str(const gguf_ctx *g, const char *key, int64_t i, size_t *len) {
    const gguf_val *v = find_val(g, key);
    if (!v || v->type != GGUF_TYPE_ARRAY || v->elem_type != GGUF_TYPE_STRING || i < 0 || (uint64_t)i >= v->n)
        return NULL;
    size_t start = v->offs[i];
    size_t end = (uint64_t)i + 1 < v->n ? v->offs[i + 1] : v->data_len;
    if (len) *len = end - start - 1;
    return (const char *)v->data + start;
}

int64_t gguf_n_tensors(const gguf_ctx *g) { return g ? g->n_tensors : 0; }

const plm_tensor *gguf_tensor_at(const gguf_ctx *g, int64_t i) {
    return g && i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

plm_tensor *gguf_tensor_at_mut(gguf_ctx *g, int64_t i) {
    return g && i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const plm_tensor *gguf_find_tensor(const gguf_ctx *g, const char *name) {
    if (!g || !name) return NULL;
    int64_t i = index_find(&g->tensor_index, g->tensors, tensor_name_at, name, strlen(name));
    return i < 0 ? NULL : &g->tensors[i];
}

uint64_t gguf_data_bytes(const gguf_ctx *g) { return g ? g->data_bytes : 0; }

/* -------------------------------------------------------------------- JSON */

typedef struct {
    char *s;
    size_t len, cap;
    int err;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->err) return;
    if (grow(&b->s, &b->cap, b->len + n + 1, 1, "metadata JSON")) {
        b->err = 1;
        return;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)PLM_MIN((size_t)n, sizeof tmp - 1));
}

/* Length of the valid UTF-8 sequence at p (1..4) or 0 if invalid. */
static int utf8_len(const uint8_t *p, size_t n) {
    uint8_t c = p[0];
    int k;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) k = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) k = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) k = 4, cp = c & 0x07;
    else return 0;
    if (n < (size_t)k) return 0;
    for (int i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return k;
}

/* JSON string literal; invalid UTF-8 bytes become U+FFFD. */
static void sb_json_str(sbuf *b, const char *str, size_t n) {
    const uint8_t *p = (const uint8_t *)str;
    sb_put(b, "\"", 1);
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        const char *esc = NULL;
        char u[8];
        int k = 1;
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(u, sizeof u, "\\u%04x", c);
            esc = u;
        } else if (c >= 0x80 && !(k = utf8_len(p + i, n - i))) {
            esc = "\\ufffd";
            k = 1;
        }
        if (esc) {
            sb_put(b, str + run, i - run);
            sb_puts(b, esc);
            i += (size_t)k;
            run = i;
        } else {
            i += (size_t)k;
        }
    }
    sb_put(b, str + run, n - run);
    sb_put(b, "\"", 1);
}

/* Shortest decimal that reads back as the same float32 / float64; null for NaN/Inf. */
static void sb_json_float(sbuf *b, double x, int is_f32) {
    if (!isfinite(x)) {
        sb_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = is_f32 ? 6 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (is_f32 ? strtof(tmp, NULL) == (float)x : strtod(tmp, NULL) == x) break;
    }
    sb_puts(b, tmp);
}

static void sb_json_number(sbuf *b, int type, const uint8_t *raw) {
    switch (type) {
    case GGUF_TYPE_UINT8: sb_printf(b, "%u", raw[0]); break;
    case GGUF_TYPE_INT8: sb_printf(b, "%d", (int8_t)raw[0]); break;
    case GGUF_TYPE_BOOL: sb_puts(b, raw[0] ? "true" : "false"); break;
    case GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, raw, 2); sb_printf(b, "%u", x); break; }
    case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, raw, 2); sb_printf(b, "%d", x); break; }
    case GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, raw, 4); sb_printf(b, "%" PRIu32, x); break; }
    case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, raw, 4); sb_printf(b, "%" PRId32, x); break; }
    case GGUF_TYPE_UINT64: { uint64_t x; memcpy(&x, raw, 8); sb_printf(b, "%" PRIu64, x); break; }
    case GGUF_TYPE_INT64: { int64_t x; memcpy(&x, raw, 8); sb_printf(b, "%" PRId64, x); break; }
    case GGUF_TYPE_FLOAT32: { float x; memcpy(&x, raw, 4); sb_json_float(b, x, 1); break; }
    case GGUF_TYPE_FLOAT64: { double x; memcpy(&x, raw, 8); sb_json_float(b, x, 0); break; }
    }
}

static void sb_json_val(sbuf *b, const gguf_val *v, int64_t max_elems) {
    if (v->type == GGUF_TYPE_STRING) {
        sb_json_str(b, v->str, v->len);
        return;
    }
    if (v->type != GGUF_TYPE_ARRAY) {
        sb_json_number(b, v->type, v->num.raw);
        return;
    }
    uint64_t n = v->n;
    int cut = max_elems >= 0 && n > (uint64_t)max_elems;
    if (cut) n = (uint64_t)max_elems;
    sb_put(b, "[", 1);
    size_t esz = vtype_size(v->elem_type);
    for (uint64_t i = 0; i < n && !b->err; i++) {
        if (i) sb_put(b, ",", 1);
        if (esz) {
            sb_json_number(b, v->elem_type, v->data + i * esz);
        } else if (v->elem_type == GGUF_TYPE_STRING) {
            size_t start = v->offs[i], end = i + 1 < v->n ? v->offs[i + 1] : v->data_len;
            sb_json_str(b, (const char *)v->data + start, end - start - 1);
        } else {
            sb_json_val(b, &v->items[i], max_elems);
        }
    }
    if (cut) sb_puts(b, n ? ",\"...\"" : "\"...\"");
    sb_put(b, "]", 1);
}

char *gguf_kv_to_json(const gguf_ctx *g, int64_t kv, int64_t max_elems) {
    if (!g || kv < 0 || kv >= g->n_kv) {
        plm_fail(PLM_E_INVALID, "gguf_kv_to_json: no metadata entry %" PRId64, kv);
        return NULL;
    }
    sbuf b = {0};
    sb_json_val(&b, &g->kv[kv].v, max_elems);
    if (b.err) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

char *gguf_meta_to_json(const gguf_ctx *g, int64_t max_elems) {
    if (!g) {
        plm_fail(PLM_E_INVALID, "gguf_meta_to_json: NULL context");
        return NULL;
    }
    sbuf b = {0};
    sb_put(&b, "{", 1);
    for (int64_t i = 0; i < g->n_kv && !b.err; i++) {
        if (i) sb_put(&b, ",", 1);
        sb_json_str(&b, g->kv[i].key, g->kv[i].key_len);
        sb_put(&b, ":", 1);
        sb_json_val(&b, &g->kv[i].v, max_elems);
    }
    sb_put(&b, "}", 1);
    if (b.err) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
