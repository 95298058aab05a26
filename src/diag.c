/* diag.c — benchmark hooks of plm.h ("diagnostics"): build random weights of a
 * given type, time op_matmul from JS, and a memory-read baseline. */
#include <stdint.h>
#include <stdlib.h>

#include "common.h"
#include "ops.h"
#include "quant.h"
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

struct plm_bench {
    plm_tensor w;
    float *x, *y, *bias;
    int m;
};

void plm_bench_free(plm_bench *b) {
    if (!b) return;
    plm_aligned_free(b->w.data);
    free(b->x);
    free(b->y);
    free(b->bias);
    free(b);
}

/* Random bytes with small finite fp16 scales where a block format keeps them
 * (d / dmin / m at the block start). */
/* Random blocks of any readable type, without knowing its layout: each block is
 * re-drawn until it dequantizes to finite values of magnitude <= 64. */
static void random_blocks(int type, uint8_t *dst, size_t bytes, uint32_t *s) {
    const size_t bb = plm_type_block_bytes(type);
    const int blck = plm_type_block_size(type);
    float y[256];
    for (size_t o = 0; o + bb <= bytes; o += bb)
        for (int tries = 0; tries < 1000; tries++) {
            for (size_t i = 0; i < bb; i++) {
                *s ^= *s << 13, *s ^= *s >> 17, *s ^= *s << 5;
                dst[o + i] = (uint8_t)(*s >> 24);
            }
            if (blck > 256) break;
            plm_dequantize_row(type, dst + o, y, blck);
            int ok = 1;
            for (int i = 0; i < blck && ok; i++) ok = y[i] == y[i] && y[i] <= 64.0f && y[i] >= -64.0f;
            if (ok) break;
        }
}

plm_bench *plm_bench_matmul_new(int type, int n, int k, int m) {
    if (n <= 0 || k <= 0 || m <= 0 || !plm_type_supported(type) || plm_type_block_size(type) <= 0 ||
        k % plm_type_block_size(type)) {
        plm_fail(PLM_E_INVALID, "bench: bad matmul shape %d x %d x %d for type %d", n, k, m, type);
        return NULL;
    }
    plm_bench *b = plm_calloc_for(1, sizeof *b, "bench");
    if (!b) return NULL;
    const size_t rb = plm_type_row_bytes(type, k);
    float *row = plm_malloc_for(sizeof(float) * (size_t)k, "bench row");
    b->w.data = plm_aligned_alloc_for(rb * (size_t)n, "bench weights");
    b->x = plm_malloc_for(sizeof(float) * (size_t)m * k, "bench activations");
    b->y = plm_malloc_for(sizeof(float) * (size_t)m * n, "bench output");
    b->bias = plm_malloc_for(sizeof(float) * (size_t)n, "bench bias");
    if (!row || !b->w.data || !b->x || !b->y || !b->bias) {
        free(row);
        plm_bench_free(b);
        return NULL;
    }
    uint32_t s = 0x12345678u;
    const int quantizer = plm_type_quantizable(type);
#define RND() (s ^= s << 13, s ^= s >> 17, s ^= s << 5, (float)(int32_t)s * (1.0f / 2147483648.0f))
    for (int r = 0; r < n; r++) { /* row by row: no n x k float staging copy */
        for (int i = 0; i < k; i++) row[i] = 0.05f * RND();
        uint8_t *dst = (uint8_t *)b->w.data + (size_t)r * rb;
        if (!quantizer) { /* no reference quantizer (K-quants, Q4_1, Q5_*): random blocks */
            random_blocks(type, dst, rb, &s);
            continue;
        }
        if (plm_quantize(type, row, dst, 1, k) != rb) {
            plm_fail(PLM_E_UNSUPPORTED, "bench: cannot quantize to type %d", type);
            free(row);
            plm_bench_free(b);
            return NULL;
        }
    }
    for (size_t i = 0; i < (size_t)m * k; i++) b->x[i] = RND();
    for (int i = 0; i < n; i++) b->bias[i] = RND();
#undef RND
    free(row);
    b->w.name = "bench.weight";
    b->w.type = type;
    b->w.n_dims = 2;
    b->w.ne[0] = k;
    b->w.ne[1] = n;
    b->w.ne[2] = b->w.ne[3] = 1;
    b->w.nbytes = rb * (size_t)n;
    b->m = m;
    if (plm_tensor_pack_for_matmul(&b->w) != PLM_OK) { /* as a model load does */
        plm_bench_free(b);
        return NULL;
    }
    return b;
}

int plm_bench_matmul_run(plm_bench *b, int iters) {
    if (!b) return plm_fail(PLM_E_INVALID, "bench: NULL handle");
    for (int i = 0; i < iters; i++) {
        int rc = op_matmul(b->y, &b->w, b->bias, b->x, b->m, (int)b->w.ne[0]);
        if (rc) return rc;
    }
    return PLM_OK;
}

double plm_bench_weight_bytes(plm_bench *b) { return b ? (double)b->w.nbytes : 0.0; }

double plm_bench_checksum(plm_bench *b) {
    if (!b) return 0.0;
    double h = 0.0;
    const size_t n = (size_t)b->m * (size_t)b->w.ne[1];
    for (size_t i = 0; i < n; i++) h = h * 1.0000001 + (double)b->y[i];
    return h;
}

int plm_bench_use_simd(int on) { return ops_use_simd(on); }

int plm_bench_use_relaxed(int on) { return ops_use_relaxed(on); }

int plm_bench_memsum(const int32_t *p, int n, int iters) {
    int32_t total = 0;
    for (int it = 0; it < iters; it++) {
        int i = 0;
#if defined(__wasm_simd128__)
        v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
        for (; i + 16 <= n; i += 16) {
            a0 = wasm_i32x4_add(a0, wasm_v128_load(p + i));
            a1 = wasm_i32x4_add(a1, wasm_v128_load(p + i + 4));
            a2 = wasm_i32x4_add(a2, wasm_v128_load(p + i + 8));
            a3 = wasm_i32x4_add(a3, wasm_v128_load(p + i + 12));
        }
        v128_t a = wasm_i32x4_add(wasm_i32x4_add(a0, a1), wasm_i32x4_add(a2, a3));
        total += wasm_i32x4_extract_lane(a, 0) + wasm_i32x4_extract_lane(a, 1) +
                 wasm_i32x4_extract_lane(a, 2) + wasm_i32x4_extract_lane(a, 3);
#endif
        for (; i < n; i++) total += p[i];
    }
    return total;
}
