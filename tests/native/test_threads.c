/* test_threads.c — the fork-join pool: every task runs exactly once, many
 * back-to-back dispatches neither deadlock nor lose wake-ups, the pool can be
 * reconfigured, and kernels give bit-identical results for any thread count.
 * (WASM test builds are single-threaded: the same checks run inline there.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops.h"
#include "quant.h"
#include "test.h"
#include "threads.h"

typedef struct {
    int32_t *hits;
    int32_t total;
} count_ctx;

static void count_task(void *arg, int t, int n_tasks) {
    count_ctx *c = arg;
    __atomic_add_fetch(&c->hits[t], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&c->total, n_tasks, __ATOMIC_RELAXED);
}

static int expected_threads(int n) {
#if defined(__wasm__)
    (void)n;
    return 1;
#else
    return n;
#endif
}

TEST(every_task_runs_once) {
    const int counts[] = {1, 2, 3, 4};
    for (int c = 0; c < 4; c++) {
        CHECK_EQ_INT(plm_threads_init(counts[c]), expected_threads(counts[c]));
        CHECK_EQ_INT(plm_threads_get(), expected_threads(counts[c]));
        CHECK_EQ_INT(plm_threads_count(), expected_threads(counts[c]));
        for (int n_tasks = 0; n_tasks <= 67; n_tasks += (n_tasks < 9 ? 1 : 29)) {
            int32_t hits[128] = {0};
            count_ctx ctx = {hits, 0};
            plm_parallel_for(n_tasks, count_task, &ctx);
            int ok = 1;
            for (int t = 0; t < n_tasks; t++) ok &= hits[t] == 1;
            CHECK_MSG(ok, "threads %d, %d tasks: a task did not run exactly once", counts[c], n_tasks);
            CHECK_EQ_INT(ctx.total, n_tasks * n_tasks);
        }
    }
}

TEST(many_dispatches) {
    for (int n = 2; n <= 4; n++) {
        plm_threads_init(n);
        int32_t hits[8] = {0};
        count_ctx ctx = {hits, 0};
        const int rounds = 20000;
        for (int r = 0; r < rounds; r++) plm_parallel_for(1 + r % 7, count_task, &ctx);
        int64_t want = 0;
        for (int r = 0; r < rounds; r++) want += (int64_t)(1 + r % 7) * (1 + r % 7);
        CHECK_EQ_INT(ctx.total, want);
        CHECK_EQ_INT(hits[0], rounds);
    }
}

/* A task that dispatches again runs its inner loop inline instead of deadlocking. */
static void nested_task(void *arg, int t, int n_tasks) {
    (void)t;
    (void)n_tasks;
    int32_t hits[4] = {0};
    count_ctx inner = {hits, 0};
    plm_parallel_for(4, count_task, &inner);
    __atomic_add_fetch((int32_t *)arg, inner.total, __ATOMIC_RELAXED);
}

TEST(nested_dispatch_runs_inline) {
    plm_threads_init(3);
    int32_t total = 0;
    plm_parallel_for(6, nested_task, &total);
    CHECK_EQ_INT(total, 6 * 16);
}

TEST(reconfigure) {
    const int seq[] = {3, 1, 4, 2, 2, 1, 3};
    for (int i = 0; i < 7; i++) {
        CHECK_EQ_INT(plm_threads_init(seq[i]), expected_threads(seq[i]));
        CHECK_EQ_INT(plm_threads_started(), expected_threads(seq[i]) - 1);
        int32_t hits[16] = {0};
        count_ctx ctx = {hits, 0};
        plm_parallel_for(16, count_task, &ctx);
        CHECK_EQ_INT(ctx.total, 256);
    }
}

/* ---------------------------------------------------- kernels vs thread count */

static void matmul_with(int threads, int type, int n, int k, int m, float *y, const void *wdata,
                        const float *x, const float *bias, int layout) {
    plm_threads_init(threads);
    plm_tensor t = {"w", type, 2, {k, n, 1, 1}, 0, plm_type_row_bytes(type, k) * n, (void *)wdata, layout};
    CHECK_EQ_INT(op_matmul(y, &t, bias, x, m, k), PLM_OK);
}

TEST(matmul_identical_for_any_thread_count) {
    const int types[] = {PLM_TYPE_F32, PLM_TYPE_F16, PLM_TYPE_Q8_0, PLM_TYPE_Q4_0};
    const int shapes[][3] = {{257, 256, 1}, {130, 512, 7}, {1000, 64, 3}, {5, 1024, 1}};
    for (int t = 0; t < 4; t++)
        for (int s = 0; s < 4; s++) {
            const int n = shapes[s][0], k = shapes[s][1], m = shapes[s][2];
            float *W = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * n);
            void *wq = malloc(plm_type_row_bytes(types[t], k) * n);
            float *y1 = malloc(sizeof(float) * m * n), *y = malloc(sizeof(float) * m * n);
            for (int i = 0; i < n * k; i++) W[i] = frand();
            for (int i = 0; i < m * k; i++) x[i] = frand();
            for (int i = 0; i < n; i++) b[i] = frand();
            CHECK(plm_quantize(types[t], W, wq, n, k) > 0);
            /* the same matrix repacked for the GEMM (Q8_0 / Q4_0): the same bits */
            const size_t bytes = plm_type_row_bytes(types[t], k) * n;
            void *wp = malloc(bytes);
            memcpy(wp, wq, bytes);
            plm_tensor pt = {"w", types[t], 2, {k, n, 1, 1}, 0, bytes, wp, PLM_LAYOUT_ROWS};
            CHECK_EQ_INT(plm_tensor_pack_for_matmul(&pt), PLM_OK);
            matmul_with(1, types[t], n, k, m, y1, wq, x, b, PLM_LAYOUT_ROWS);
            for (int threads = 1; threads <= 4; threads++) {
                if (threads > 1) {
                    matmul_with(threads, types[t], n, k, m, y, wq, x, b, PLM_LAYOUT_ROWS);
                    CHECK_MSG(!memcmp(y, y1, sizeof(float) * m * n), "%s n=%d k=%d m=%d: %d threads differ from 1",
                              plm_type_name(types[t]), n, k, m, threads);
                }
                matmul_with(threads, types[t], n, k, m, y, wp, x, b, pt.layout);
                CHECK_MSG(!memcmp(y, y1, sizeof(float) * m * n), "%s n=%d k=%d m=%d: packed, %d threads differ",
                          plm_type_name(types[t]), n, k, m, threads);
            }
            free(W), free(x), free(b), free(wq), free(wp), free(y1), free(y);
        }
}

TEST(attention_and_rows_identical_for_any_thread_count) {
    const int nh = 6, nkv = 2, hd = 32, nq = 33, n_kv = 40;
    const int qs = nh * hd, kvs = nkv * hd;
    float *q = malloc(sizeof(float) * nq * qs), *k = malloc(sizeof(float) * n_kv * kvs), *v = malloc(sizeof(float) * n_kv * kvs);
    float *o1 = malloc(sizeof(float) * nq * qs), *o = malloc(sizeof(float) * nq * qs);
    for (int i = 0; i < nq * qs; i++) q[i] = frand();
    for (int i = 0; i < n_kv * kvs; i++) k[i] = frand(), v[i] = frand();
    op_attn_params p = {nh, nkv, hd, 0.17f, 1, n_kv - nq, NULL, NULL, NULL, 0, 0};
    plm_threads_init(1);
    CHECK_EQ_INT(op_attention(o1, qs, q, qs, k, v, kvs, nq, n_kv, &p), PLM_OK);
    const int n = 200000;
    float *x = malloc(sizeof(float) * n), *g1 = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) x[i] = 4 * frand();
    op_gelu_erf(g1, x, n);
    for (int threads = 2; threads <= 4; threads++) {
        plm_threads_init(threads);
        CHECK_EQ_INT(op_attention(o, qs, q, qs, k, v, kvs, nq, n_kv, &p), PLM_OK);
        CHECK(!memcmp(o, o1, sizeof(float) * nq * qs));
        op_gelu_erf(g, x, n);
        CHECK(!memcmp(g, g1, sizeof(float) * n));
        memcpy(g, x, sizeof(float) * n);
        op_softmax(g, 100, n / 100);
        memcpy(g1, x, sizeof(float) * n);
        plm_threads_init(1);
        op_softmax(g1, 100, n / 100);
        CHECK(!memcmp(g, g1, sizeof(float) * n));
        op_gelu_erf(g1, x, n);
    }
    free(q), free(k), free(v), free(o1), free(o), free(x), free(g1), free(g);
}

int main(void) {
    RUN(every_task_runs_once);
    RUN(many_dispatches);
    RUN(nested_dispatch_runs_inline);
    RUN(reconfigure);
    RUN(matmul_identical_for_any_thread_count);
    RUN(attention_and_rows_identical_for_any_thread_count);
    plm_threads_init(1);
    ops_scratch_free();
    return test_summary();
}
