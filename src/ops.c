/* ops.c — kernel entry points: argument checks, SIMD/scalar dispatch,
 * work splitting over the thread pool, and the scratch memory they need.
 *
 * Scratch: one grow-only buffer, (re)allocated on the calling thread before
 * any task is dispatched (workers never allocate). Ops are not reentrant.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "ops.h"
#include "threads.h"

static int g_simd = PLM_HAVE_SIMD;
static int g_relaxed = PLM_HAVE_RELAXED;

int ops_use_simd(int on) {
    int prev = g_simd;
    g_simd = on && PLM_HAVE_SIMD;
    return prev;
}

int ops_use_relaxed(int on) {
    int prev = g_relaxed;
    g_relaxed = on && PLM_HAVE_RELAXED;
    return prev;
}

#if PLM_HAVE_SIMD
#define DISPATCH(name) (g_simd ? name##_simd : name##_scalar)
#else
#define DISPATCH(name) (name##_scalar)
#endif

/* ------------------------------------------------------------ scratch */

static void *g_scratch;
static size_t g_scratch_size;

/* At least `bytes` of 64-byte aligned scratch (contents not preserved). */
static void *scratch_get(size_t bytes, const char *what) {
    if (bytes <= g_scratch_size) return g_scratch;
    size_t want = bytes + bytes / 4;
    void *p = plm_aligned_alloc_for(want, what);
    if (!p) return NULL;
    plm_aligned_free(g_scratch);
    g_scratch = p;
    g_scratch_size = want;
    return p;
}

void ops_scratch_free(void) {
    plm_aligned_free(g_scratch);
    g_scratch = NULL;
    g_scratch_size = 0;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* How many tasks to split `work` multiply-adds into (1 = run inline). */
static int n_tasks_for(double work, int max_tasks) {
    int nth = plm_threads_count();
    if (nth <= 1 || work < 65536.0 || max_tasks <= 1) return 1;
    int t = nth * 4; /* a few tasks per thread: balances uneven threads */
    if (work < 1e6) t = nth;
    return PLM_MIN(t, max_tasks);
}

/* ------------------------------------------------------------- matmul */

typedef struct {
    op_mm_job job;
    int use_simd;
    int n_units; /* column groups of 4 */
    float *tmp;  /* OP_MM_TMP_ROWS * k floats per task (converted weight rows) */
    size_t tmp_stride;
} mm_task_ctx;

static void mm_task(void *arg, int t, int n_tasks) {
    const mm_task_ctx *c = arg;
    const int c0 = (int)((int64_t)c->n_units * t / n_tasks) * 4;
    const int c1 = PLM_MIN(c->job.n, (int)((int64_t)c->n_units * (t + 1) / n_tasks) * 4);
    if (c0 >= c1) return;
    float *tmp = c->tmp ? c->tmp + (size_t)t * c->tmp_stride : NULL;
#if PLM_HAVE_SIMD
    if (c->use_simd) {
        matmul_range_simd(&c->job, c0, c1, tmp);
        return;
    }
#endif
    matmul_range_scalar(&c->job, c0, c1, tmp);
}

/* Shared checks of op_matmul / op_get_rows: a 2-D tensor with data of a supported type. */
static int check_matrix(const plm_tensor *W, const char *op) {
    if (!W || !W->data)
        return plm_fail(PLM_E_INVALID, "%s: tensor %s has no data", op, W && W->name ? W->name : "(null)");
    const char *name = W->name ? W->name : "(unnamed)";
    if (!plm_type_supported(W->type) || !plm_mm_traits_get(W->type)) {
        const char *tn = plm_type_name(W->type);
        return plm_fail(PLM_E_UNSUPPORTED, "%s: tensor %s has unsupported type %s (not in the type tables)", op,
                        name, tn ? tn : "(unknown)");
    }
    if (W->ne[0] <= 0 || W->ne[1] <= 0 || W->ne[1] > INT32_MAX || W->ne[0] > INT32_MAX ||
        W->ne[2] != 1 || W->ne[3] != 1)
        return plm_fail(PLM_E_INVALID, "%s: tensor %s is not a 2-D matrix (ne = %lld x %lld x %lld x %lld)",
                        op, name, (long long)W->ne[0], (long long)W->ne[1], (long long)W->ne[2],
                        (long long)W->ne[3]);
    const int bs = plm_type_block_size(W->type);
    if (W->ne[0] % bs != 0)
        return plm_fail(PLM_E_INVALID, "%s: tensor %s: row length %lld is not a multiple of %s's block size %d",
                        op, name, (long long)W->ne[0], plm_type_name(W->type), bs);
    if (W->nbytes && W->nbytes < plm_type_row_bytes(W->type, W->ne[0]) * (uint64_t)W->ne[1])
        return plm_fail(PLM_E_INVALID, "%s: tensor %s holds %llu bytes, fewer than its shape needs", op,
                        name, (unsigned long long)W->nbytes);
    return PLM_OK;
}

/* ------------------------------------------------ float GEMM (m > 1)
 * F32 / F16 / BF16 weights with several activation rows, SIMD build: x packed once
 * here (calling thread), then tasks over column ranges, each packing its weight
 * panels into its own scratch (ops_gemm_f.c). The scalar backend keeps
 * matmul_range_scalar (the same numbers). */
#if PLM_HAVE_SIMD
typedef struct {
    op_mm_job job;
    const float *pa;
    float *pb; /* per task: pb_stride floats */
    size_t pb_stride;
    int n_units; /* column groups of GF_NR */
} gemm_f_ctx;

static void gemm_f_task(void *arg, int t, int n_tasks) {
    const gemm_f_ctx *c = arg;
    const int c0 = (int)((int64_t)c->n_units * t / n_tasks) * GF_NR;
    const int c1 = PLM_MIN(c->job.n, (int)((int64_t)c->n_units * (t + 1) / n_tasks) * GF_NR);
    if (c0 < c1) gemm_f_range_simd(&c->job, c->pa, c0, c1, c->pb + (size_t)t * c->pb_stride);
}

static int matmul_float_gemm(float *y, const plm_tensor *W, const float *bias, const float *x, int m, int k) {
    gemm_f_ctx c;
    memset(&c, 0, sizeof c);
    op_mm_job *j = &c.job;
    j->type = W->type;
    j->w = W->data;
    j->w_row_bytes = plm_type_row_bytes(W->type, k);
    j->n = (int)W->ne[1];
    j->k = k;
    j->m = m;
    j->x = x;
    j->bias = bias;
    j->y = y;
    c.n_units = (j->n + GF_NR - 1) / GF_NR;
    const int n_tasks = n_tasks_for((double)m * j->n * k, c.n_units);
    const int k4 = k & ~3;
    const size_t a_bytes = align64((size_t)m * k4 * sizeof(float) + 16);
    const size_t b_bytes = align64((size_t)GF_NR * k4 * sizeof(float) + 16);
    uint8_t *s = scratch_get(a_bytes + (size_t)n_tasks * b_bytes, "matmul scratch");
    if (!s) return PLM_E_NOMEM;
    c.pa = (const float *)s;
    c.pb = (float *)(s + a_bytes);
    c.pb_stride = b_bytes / sizeof(float);
    gemm_f_pack_a_simd((float *)s, x, m, k);
    plm_parallel_for(n_tasks, gemm_f_task, &c);
    return PLM_OK;
}
#endif

/* Q8_0 / Q4_0: the quantized GEMM of ops_qgemm.c, tasks split over 4-row panels. */
typedef struct {
    op_qmm_job job;
    int variant;
    int n_units; /* panels (and tail rows) in groups of 4 rows */
} qmm_task_ctx;

static void qmm_task(void *arg, int t, int n_tasks) {
    const qmm_task_ctx *c = arg;
    const int c0 = (int)((int64_t)c->n_units * t / n_tasks) * 4;
    const int c1 = PLM_MIN(c->job.n, (int)((int64_t)c->n_units * (t + 1) / n_tasks) * 4);
    if (c0 >= c1) return;
    switch (c->variant) {
#if PLM_HAVE_RELAXED
    case QGEMM_RELAXED: qgemm_range_relaxed(&c->job, c0, c1); break;
#endif
#if PLM_HAVE_SIMD
    case QGEMM_SIMD: qgemm_range_simd(&c->job, c0, c1); break;
#endif
    default: qgemm_range_scalar(&c->job, c0, c1); break;
    }
}

static int qmm_variant(void) {
    int v = !g_simd ? QGEMM_SCALAR : QGEMM_SIMD;
#if PLM_HAVE_RELAXED
    if (g_simd && g_relaxed && qgemm_relaxed_ok()) v = QGEMM_RELAXED; /* Q8_0 and Q4_0 */
#endif
    return v;
}

/* Point c's job at weight W (its activations stay as they are). */
static void qmm_set_weight(qmm_task_ctx *c, float *y, const plm_tensor *W, const float *bias, int m, int k) {
    op_qmm_job *j = &c->job;
    j->type = W->type;
    j->w = W->data;
    j->w_row_bytes = plm_type_row_bytes(W->type, k);
    j->n = (int)W->ne[1];
    j->k = k;
    j->m = m;
    j->n_panel_rows = W->layout == PLM_LAYOUT_PANEL4 ? j->n / 4 * 4 : 0;
    j->bias = bias;
    j->y = y;
    c->n_units = (j->n + 3) / 4;
}

static void qmm_run(qmm_task_ctx *c) {
    const op_qmm_job *j = &c->job;
    plm_parallel_for(n_tasks_for((double)j->m * j->n * j->k, c->n_units), qmm_task, c);
}

static int qmatmul(float *y, const plm_tensor *W, const float *bias, const float *x, int m, int k) {
    qmm_task_ctx c;
    memset(&c, 0, sizeof c);
    c.variant = qmm_variant();
    qmm_set_weight(&c, y, W, bias, m, k);
    uint8_t *s = scratch_get(qgemm_act_bytes(c.variant, W->type, m, k), "matmul activations");
    if (!s) return PLM_E_NOMEM;
    qgemm_prepare_act(c.variant, &c.job, x, s);
    qmm_run(&c);
    return PLM_OK;
}

/* Q4_K / Q5_K / Q6_K with m > 1: the K-quant GEMM of ops_kgemm.c, tasks split
 * over 4-row panels, each task unpacking its panels into its own scratch. */
typedef struct {
    op_kmm_job job;
    int use_simd, n_units;
    uint8_t *panels;
    size_t panel_bytes;
} kmm_task_ctx;

static void kmm_task(void *arg, int t, int n_tasks) {
    const kmm_task_ctx *c = arg;
    const int c0 = (int)((int64_t)c->n_units * t / n_tasks) * 4;
    const int c1 = PLM_MIN(c->job.n, (int)((int64_t)c->n_units * (t + 1) / n_tasks) * 4);
    if (c0 >= c1) return;
    uint8_t *panel = c->panels + (size_t)t * c->panel_bytes;
#if PLM_HAVE_SIMD
    if (c->use_simd) {
        kgemm_range_simd(&c->job, c0, c1, panel);
        return;
    }
#endif
    kgemm_range_scalar(&c->job, c0, c1, panel);
}

static int kmatmul(float *y, const plm_tensor *W, const float *bias, const float *x, int m, int k) {
    kmm_task_ctx c;
    memset(&c, 0, sizeof c);
    c.use_simd = g_simd;
#if PLM_HAVE_SIMD
    if (c.use_simd) ops_simd_prepare();
#endif
    op_kmm_job *j = &c.job;
    j->type = W->type;
    j->w = W->data;
    j->w_row_bytes = plm_type_row_bytes(W->type, k);
    j->n = (int)W->ne[1];
    j->k = k;
    j->m = m;
    j->bias = bias;
    j->y = y;
    c.n_units = (j->n + 3) / 4;
    const int n_tasks = n_tasks_for((double)m * j->n * k, c.n_units);
    const size_t act = align64(kgemm_act_bytes(m, k, c.use_simd));
    c.panel_bytes = kgemm_panel_bytes(k);
    uint8_t *s = scratch_get(act + (size_t)n_tasks * c.panel_bytes, "matmul scratch");
    if (!s) return PLM_E_NOMEM;
    kgemm_prepare_act(j, x, s, c.use_simd);
    c.panels = s + act;
    plm_parallel_for(n_tasks, kmm_task, &c);
    return PLM_OK;
}

static int check_matmul(float *y, const plm_tensor *W, const float *x, int m, int k) {
    int rc = check_matrix(W, "matmul");
    if (rc) return rc;
    if (m < 0 || k <= 0 || (m > 0 && (!y || !x)))
        return plm_fail(PLM_E_INVALID, "matmul %s: bad arguments (m = %d, k = %d)", W->name ? W->name : "", m, k);
    if (W->ne[0] != k)
        return plm_fail(PLM_E_INVALID, "matmul %s: input has %d columns but the weight rows have %lld",
                        W->name ? W->name : "", k, (long long)W->ne[0]);
    return PLM_OK;
}

int op_matmul_shared(float *const *y, const plm_tensor *const *W, const float *const *bias, int count,
                     const float *x, int m, int k) {
    if (count < 0 || (count > 0 && (!y || !W)))
        return plm_fail(PLM_E_INVALID, "matmul_shared: bad arguments (count = %d)", count);
    int rc, same = count > 1;
    for (int i = 0; i < count; i++) {
        if ((rc = check_matmul(y[i], W[i], x, m, k))) return rc;
        same = same && W[i]->type == W[0]->type && plm_mm_traits_get(W[i]->type)->gemm == MM_GEMM_Q8;
    }
    if (m == 0) return PLM_OK;
    if (!same) { /* nothing to share: the separate matmuls */
        for (int i = 0; i < count; i++)
            if ((rc = op_matmul(y[i], W[i], bias ? bias[i] : NULL, x, m, k))) return rc;
        return PLM_OK;
    }
    /* Q8_0 / Q4_0 weights of one type: the activations quantized (and laid out) once */
    qmm_task_ctx c;
    memset(&c, 0, sizeof c);
    c.variant = qmm_variant();
    uint8_t *s = scratch_get(qgemm_act_bytes(c.variant, W[0]->type, m, k), "matmul activations");
    if (!s) return PLM_E_NOMEM;
    qmm_set_weight(&c, y[0], W[0], bias ? bias[0] : NULL, m, k);
    qgemm_prepare_act(c.variant, &c.job, x, s);
    for (int i = 0; i < count; i++) {
        qmm_set_weight(&c, y[i], W[i], bias ? bias[i] : NULL, m, k);
        qmm_run(&c);
    }
    return PLM_OK;
}

int op_matmul(float *y, const plm_tensor *W, const float *bias, const float *x, int m, int k) {
    int rc = check_matmul(y, W, x, m, k);
    if (rc) return rc;
    if (m == 0) return PLM_OK;
    const plm_mm_traits *t = plm_mm_traits_get(W->type); /* non-NULL: check_matrix */

    /* GEMMs named by the type's traits take over first (a new GEMM: one case here). */
    switch (t->gemm) {
    case MM_GEMM_Q8: return qmatmul(y, W, bias, x, m, k);
    case MM_GEMM_FLOAT:
#if PLM_HAVE_SIMD
        if (g_simd && m > 1 && W->layout == PLM_LAYOUT_ROWS) return matmul_float_gemm(y, W, bias, x, m, k);
#endif
        break;
    case MM_GEMM_K:
        if (m > 1 && W->layout == PLM_LAYOUT_ROWS) return kmatmul(y, W, bias, x, m, k);
        break;
    case MM_GEMM_NONE: break;
    default:
        return plm_fail(PLM_E_UNSUPPORTED, "matmul %s: type %s names GEMM %d, which op_matmul does not know",
                        W->name ? W->name : "", plm_type_name(W->type), t->gemm);
    }
    if (W->layout != PLM_LAYOUT_ROWS)
        return plm_fail(PLM_E_UNSUPPORTED, "matmul %s: layout %d of type %s has no kernel", W->name ? W->name : "",
                        W->layout, plm_type_name(W->type));

    mm_task_ctx c;
    memset(&c, 0, sizeof c);
    c.use_simd = g_simd;
#if PLM_HAVE_SIMD
    if (c.use_simd) {
        if (t->route == MM_ROUTE_DOT && !t->dot_simd)
            return plm_fail(PLM_E_UNSUPPORTED, "matmul %s: type %s has no SIMD128 dot kernel", W->name ? W->name : "",
                            plm_type_name(W->type));
        ops_simd_prepare();
    }
#endif
    op_mm_job *j = &c.job;
    j->type = W->type;
    j->w = W->data;
    j->w_row_bytes = plm_type_row_bytes(W->type, k);
    j->n = (int)W->ne[1];
    j->k = k;
    j->m = m;
    j->x = x;
    j->bias = bias;
    j->y = y;
    c.n_units = (j->n + 3) / 4;

    const int n_tasks = n_tasks_for((double)m * j->n * k, c.n_units);
    const int nb = k / QK8_0;
    /* SIMD register tiles take Q8_0 activations widened to int16 (quantize_rows_q8_0_wide_simd) */
    const int wide = c.use_simd && t->act == PLM_ACT_Q8_0 && t->route == MM_ROUTE_TILES;
    const int converted = t->convert_rows && m > 1;

    /* Scratch layout: [activations][per-task converted rows]. */
    size_t act_bytes = 0;
    switch (t->act) {
    case PLM_ACT_F32: break;
    case PLM_ACT_Q8_K: act_bytes = align64((size_t)m * (k / QK_K) * sizeof(block_q8_K)); break;
    case PLM_ACT_Q8_0:
        act_bytes = wide ? align64((size_t)m * k * sizeof(int16_t)) + align64((size_t)m * nb * sizeof(float)) +
                               align64((size_t)m * nb * 4 * sizeof(int32_t))
                         : align64((size_t)m * nb * sizeof(block_q8_0));
        break;
    default:
        return plm_fail(PLM_E_UNSUPPORTED, "matmul %s: type %s has unknown activation format %d",
                        W->name ? W->name : "", plm_type_name(W->type), t->act);
    }
    const size_t tmp_task = align64((size_t)OP_MM_TMP_ROWS * k * sizeof(float));
    size_t tmp_bytes = converted ? (size_t)n_tasks * tmp_task : 0;
    if (act_bytes + tmp_bytes > 0) {
        uint8_t *s = scratch_get(act_bytes + tmp_bytes, "matmul scratch");
        if (!s) return PLM_E_NOMEM;
        if (t->act == PLM_ACT_Q8_K) {
            block_q8_K *xk = (block_q8_K *)s;
            for (int r = 0; r < m; r++)
                DISPATCH(quantize_row_q8_K_act)(x + (size_t)r * k, xk + (size_t)r * (k / QK_K), k);
            j->xk = xk;
        }
        if (t->act == PLM_ACT_Q8_0) {
#if PLM_HAVE_SIMD
            if (wide) {
                const size_t o1 = align64((size_t)m * k * sizeof(int16_t));
                const size_t o2 = o1 + align64((size_t)m * nb * sizeof(float));
                j->xw = (int16_t *)s;
                j->xd = (float *)(s + o1);
                j->xs = (int32_t *)(s + o2);
                quantize_rows_q8_0_wide_simd(x, m, k, (int16_t *)j->xw, (float *)j->xd, (int32_t *)j->xs);
            } else
#endif
            {
                block_q8_0 *xq = (block_q8_0 *)s;
                for (int r = 0; r < m; r++) DISPATCH(quantize_row_q8_0_act)(x + (size_t)r * k, xq + (size_t)r * nb, k);
                j->xq = xq;
            }
        }
        if (converted) {
            c.tmp = (float *)(s + act_bytes);
            c.tmp_stride = tmp_task / sizeof(float);
        }
    }
    plm_parallel_for(n_tasks, mm_task, &c);
    return PLM_OK;
}

/* ----------------------------------------------------------- get_rows */

int op_get_rows(float *out, const plm_tensor *W, const int32_t *ids, int n) {
    int rc = check_matrix(W, "get_rows");
    if (rc) return rc;
    if (n < 0 || (n > 0 && (!out || !ids)))
        return plm_fail(PLM_E_INVALID, "get_rows %s: bad arguments (n = %d)", W->name ? W->name : "", n);
    const int k = (int)W->ne[0];
    const int64_t rows = W->ne[1];
    const size_t row_bytes = plm_type_row_bytes(W->type, k);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= rows)
            return plm_fail(PLM_E_INVALID, "get_rows %s: id %d at position %d is outside [0, %lld)",
                            W->name ? W->name : "", (int)ids[i], i, (long long)rows);
    const int panel = plm_mm_traits_get(W->type)->panel4; /* non-NULL: check_matrix */
    if (W->layout != PLM_LAYOUT_ROWS && !panel)
        return plm_fail(PLM_E_UNSUPPORTED, "get_rows %s: layout %d of type %s has no reader", W->name ? W->name : "",
                        W->layout, plm_type_name(W->type));
    for (int i = 0; i < n; i++) {
        const uint8_t *src = (const uint8_t *)W->data + (size_t)ids[i] * row_bytes;
        float *dst = out + (size_t)i * k;
        if (panel) {
            qgemm_get_row(W, ids[i], dst);
            continue;
        }
        switch (W->type) {
        case PLM_TYPE_F32: memcpy(dst, src, (size_t)k * sizeof(float)); break;
        case PLM_TYPE_F16: DISPATCH(convert_f16)(dst, (const plm_fp16 *)src, k); break;
        case PLM_TYPE_BF16: DISPATCH(convert_bf16)(dst, (const uint16_t *)src, k); break;
        default: plm_dequantize_row(W->type, src, dst, k); break;
        }
    }
    return PLM_OK;
}

/* ------------------------------------------------- row-parallel helpers */

/* Element-wise ops split into contiguous pieces (multiples of 16) when large. */
typedef struct {
    int kind;
    float *y;
    const float *a, *b;
    float s;
    int n, piece;
} ew_ctx;

enum { EW_GELU_TANH, EW_GELU_ERF, EW_SILU, EW_RELU, EW_ADD, EW_MUL, EW_SCALE, EW_SWIGLU, EW_GEGLU, EW_SOFTCAP, EW_TANH };

static void ew_run(const ew_ctx *c, int i0, int i1) {
    float *y = c->y + i0;
    const float *a = c->a + i0, *b = c->b ? c->b + i0 : NULL;
    const int n = i1 - i0;
    switch (c->kind) {
    case EW_GELU_TANH: DISPATCH(gelu_tanh)(y, a, n); break;
    case EW_GELU_ERF: DISPATCH(gelu_erf)(y, a, n); break;
    case EW_SILU: DISPATCH(silu)(y, a, n); break;
    case EW_SWIGLU: DISPATCH(swiglu)(y, a, b, n); break;
    case EW_GEGLU: DISPATCH(geglu_tanh)(y, a, b, n); break;
    /* plain loops: the compiler vectorizes these under -msimd128, behind a run-time check that
     * y and a do not overlap, which in-place calls (y == a: every residual add, relu(ff, ff))
     * fail, so they ran the scalar loop. In place, the loops read and write through y alone
     * (same operations, same bits) and need no check against a. */
    case EW_RELU:
        if (y == a)
            for (int i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        else
            for (int i = 0; i < n; i++) y[i] = a[i] > 0.0f ? a[i] : 0.0f;
        break;
    case EW_ADD:
        if (y == a)
            for (int i = 0; i < n; i++) y[i] = y[i] + b[i];
        else
            for (int i = 0; i < n; i++) y[i] = a[i] + b[i];
        break;
    case EW_MUL:
        if (y == a)
            for (int i = 0; i < n; i++) y[i] = y[i] * b[i];
        else
            for (int i = 0; i < n; i++) y[i] = a[i] * b[i];
        break;
    case EW_SCALE:
        if (y == a)
            for (int i = 0; i < n; i++) y[i] = y[i] * c->s;
        else
            for (int i = 0; i < n; i++) y[i] = a[i] * c->s;
        break;
    case EW_TANH:
        for (int i = 0; i < n; i++) y[i] = tanhf(a[i]);
        break;
    case EW_SOFTCAP: /* HF: (x / cap).tanh() * cap, float32 */
        for (int i = 0; i < n; i++) y[i] = tanhf(a[i] / c->s) * c->s;
        break;
    }
}

static void ew_task(void *arg, int t, int n_tasks) {
    const ew_ctx *c = arg;
    (void)n_tasks;
    int i0 = t * c->piece, i1 = PLM_MIN(c->n, i0 + c->piece);
    if (i0 < i1) ew_run(c, i0, i1);
}

/* Transcendental ops cost ~10-40 flops per element, add/mul ~1: only the
 * former are worth waking the pool for, and only on long vectors. */
static void ew(int kind, float *y, const float *a, const float *b, float s, int n) {
    if (n <= 0) return;
    ew_ctx c = {kind, y, a, b, s, n, n};
    const int heavy = kind == EW_GELU_TANH || kind == EW_GELU_ERF || kind == EW_SILU ||
                      kind == EW_SWIGLU || kind == EW_GEGLU || kind == EW_SOFTCAP || kind == EW_TANH;
    int n_tasks = heavy ? n_tasks_for((double)n * 16.0, (n + 4095) / 4096) : 1;
    if (n_tasks <= 1) {
        ew_run(&c, 0, n);
        return;
    }
    c.piece = ((n + n_tasks - 1) / n_tasks + 15) & ~15;
    plm_parallel_for((n + c.piece - 1) / c.piece, ew_task, &c);
}

void op_gelu_tanh(float *y, const float *x, int n) { ew(EW_GELU_TANH, y, x, NULL, 0, n); }
void op_gelu_erf(float *y, const float *x, int n) { ew(EW_GELU_ERF, y, x, NULL, 0, n); }
void op_silu(float *y, const float *x, int n) { ew(EW_SILU, y, x, NULL, 0, n); }
void op_relu(float *y, const float *x, int n) { ew(EW_RELU, y, x, NULL, 0, n); }
void op_tanh(float *y, const float *x, int n) { ew(EW_TANH, y, x, NULL, 0, n); }
void op_add(float *y, const float *a, const float *b, int n) { ew(EW_ADD, y, a, b, 0, n); }
void op_mul(float *y, const float *a, const float *b, int n) { ew(EW_MUL, y, a, b, 0, n); }
void op_scale(float *y, const float *x, float s, int n) { ew(EW_SCALE, y, x, NULL, s, n); }
void op_softcap(float *y, const float *x, float cap, int n) { ew(EW_SOFTCAP, y, x, NULL, cap, n); }
void op_swiglu(float *y, const float *g, const float *u, int n) { ew(EW_SWIGLU, y, g, u, 0, n); }
void op_geglu_tanh(float *y, const float *g, const float *u, int n) { ew(EW_GEGLU, y, g, u, 0, n); }

/* Row ops: rows split over tasks when there is enough work. */
typedef struct {
    int kind; /* 0 layernorm, 1 rmsnorm, 2 softmax */
    float *y;
    const float *x, *w, *b;
    int m, n;
    float eps;
} row_ctx;

static void row_task(void *arg, int t, int n_tasks) {
    const row_ctx *c = arg;
    const int r0 = (int)((int64_t)c->m * t / n_tasks), r1 = (int)((int64_t)c->m * (t + 1) / n_tasks);
    for (int r = r0; r < r1; r++) {
        const size_t o = (size_t)r * c->n;
        switch (c->kind) {
        case 0: DISPATCH(layernorm)(c->y + o, c->x + o, c->w, c->b, c->n, c->eps); break;
        case 1: DISPATCH(rmsnorm)(c->y + o, c->x + o, c->w, c->n, c->eps); break;
        default: DISPATCH(softmax)(c->y + o, c->n); break;
        }
    }
}

static void rows(int kind, float *y, const float *x, const float *w, const float *b, int m, int n, float eps) {
    if (m <= 0 || n <= 0) return;
    row_ctx c = {kind, y, x, w, b, m, n, eps};
    plm_parallel_for(n_tasks_for((double)m * n * (kind == 2 ? 16.0 : 4.0), m), row_task, &c);
}

void op_layernorm(float *y, const float *x, const float *w, const float *b, int m, int n, float eps) {
    rows(0, y, x, w, b, m, n, eps);
}
void op_rmsnorm(float *y, const float *x, const float *w, int m, int n, float eps) {
    rows(1, y, x, w, NULL, m, n, eps);
}
void op_softmax(float *x, int m, int n) { rows(2, x, x, NULL, NULL, m, n, 0.0f); }

void op_log_softmax(float *y, const float *x, int m, int n) {
    for (int r = 0; r < m; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n, mx = -INFINITY;
        for (int i = 0; i < n; i++) mx = xr[i] > mx ? xr[i] : mx;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += expf(xr[i] - mx);
        const float lse = logf((float)sum);
        for (int i = 0; i < n; i++) yr[i] = (xr[i] - mx) - lse;
    }
}

void op_mean_rows(float *y, const float *x, int m, int n) {
    for (int i = 0; i < n; i++) {
        double acc = 0;
        for (int r = 0; r < m; r++) acc += x[(size_t)r * n + i];
        y[i] = (float)(acc / m);
    }
}

void op_l2_normalize(float *x, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const double norm = sqrt(ss);
    const double inv = 1.0 / (norm > 1e-12 ? norm : 1e-12);
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] * inv);
}

/* --------------------------------------------------------------- RoPE */

#define ROPE_MAX_PAIRS 512

int op_rope_ext(float *x, int n_tok, int n_head, int head_dim, int n_rot, int pos0, const op_rope_params *p) {
    if (!p || n_tok < 0 || n_head <= 0 || head_dim <= 0 || pos0 < 0 || (n_tok > 0 && !x))
        return plm_fail(PLM_E_INVALID, "rope: bad arguments (n_tok %d, n_head %d, head_dim %d, pos0 %d)",
                        n_tok, n_head, head_dim, pos0);
    if (n_rot <= 0 || n_rot % 2 || n_rot > head_dim || n_rot / 2 > ROPE_MAX_PAIRS)
        return plm_fail(PLM_E_INVALID, "rope: n_rot %d must be even, positive and <= head_dim %d (max %d)",
                        n_rot, head_dim, 2 * ROPE_MAX_PAIRS);
    if (p->mode != PLM_ROPE_NORM && p->mode != PLM_ROPE_NEOX)
        return plm_fail(PLM_E_INVALID, "rope: unknown mode %d", p->mode);
    if (!(p->freq_base > 0.0f) || !(p->freq_scale > 0.0f) || !isfinite(p->freq_scale))
        return plm_fail(PLM_E_INVALID, "rope: freq_base (%g) and freq_scale (%g) must be positive",
                        p->freq_base, p->freq_scale);

    const int half = n_rot / 2;
    float inv_freq[ROPE_MAX_PAIRS], cs[ROPE_MAX_PAIRS], sn[ROPE_MAX_PAIRS];
    const int yarn = p->ext_factor != 0.0f;
    float low = 0, high = 0;
    if (yarn) {
        if (p->n_ctx_orig <= 0 || !(p->beta_fast > 0) || !(p->beta_slow > 0))
            return plm_fail(PLM_E_INVALID, "rope: YaRN needs the original context (%d) and beta_fast/slow",
                            p->n_ctx_orig);
        /* correction dim of b rotations: n_rot * ln(n_ctx_orig / (b 2 pi)) / (2 ln base) */
        const double two_ln_base = 2.0 * log((double)p->freq_base);
        low = floorf((float)(n_rot * log(p->n_ctx_orig / (p->beta_fast * 2.0 * 3.14159265358979323846)) / two_ln_base));
        high = ceilf((float)(n_rot * log(p->n_ctx_orig / (p->beta_slow * 2.0 * 3.14159265358979323846)) / two_ln_base));
        low = fmaxf(low, 0.0f), high = fminf(high, (float)(half - 1));
        if (low == high) high += 0.001f;
    }
    /* HF: inv_freq = 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all float32 */
    for (int i = 0; i < half; i++) {
        float f = 1.0f / powf(p->freq_base, (float)(2 * i) / (float)n_rot);
        if (p->freq_factors) {
            const float ff = p->freq_factors[i];
            if (!(ff > 0.0f) || !isfinite(ff))
                return plm_fail(PLM_E_INVALID, "rope: frequency factor %d is %g (must be positive)", i, ff);
            f /= ff;
        }
        if (yarn) {
            const float ramp = fminf(fmaxf(((float)i - low) / (high - low), 0.0f), 1.0f);
            const float e = p->ext_factor * (1.0f - ramp);
            f = f * p->freq_scale * (1.0f - e) + f * e;
        } else if (p->freq_scale != 1.0f) {
            f *= p->freq_scale;
        }
        inv_freq[i] = f;
    }
    const float mscale = p->attn_factor != 0.0f ? p->attn_factor : 1.0f;
    const int stride = n_head * head_dim;
    for (int t = 0; t < n_tok; t++) {
        const float pos = (float)(p->pos ? p->pos[t] : pos0 + t);
        for (int i = 0; i < half; i++) {
            const float theta = pos * inv_freq[i];
            cs[i] = cosf(theta);
            sn[i] = sinf(theta);
            if (mscale != 1.0f) cs[i] *= mscale, sn[i] *= mscale;
        }
        for (int h = 0; h < n_head; h++) DISPATCH(rope_head)(x + (size_t)t * stride + (size_t)h * head_dim, cs, sn, n_rot, p->mode);
    }
    return PLM_OK;
}

int op_rope(float *x, int n_tok, int n_head, int head_dim, int n_rot, int pos0, float freq_base,
            int mode) {
    const op_rope_params p = {.freq_base = freq_base, .freq_scale = 1.0f, .mode = mode};
    return op_rope_ext(x, n_tok, n_head, head_dim, n_rot, pos0, &p);
}

/* ---------------------------------------------------------- attention */

typedef struct {
    float *out;
    int out_stride;
    const float *q, *k, *v;
    int q_stride, kv_stride, n_q, n_kv;
    const op_attn_params *p;
    float *scores; /* n_tasks x 2 x n_kv (attn_pair: two queries) */
    int use_simd;
} attn_ctx;

/* Query i of head h after its scores s[0..n) over keys j0.. (scaled): soft-cap, biases,
 * mask, softmax, then the weighted values. */
static void attn_finish(const attn_ctx *c, int h, int i, float *s, int n, int j0) {
    const op_attn_params *p = c->p;
    const int hd = p->head_dim, g = h / (p->n_head / p->n_head_kv);
    float *o = c->out + (size_t)i * c->out_stride + (size_t)h * hd;
    const float *v = c->v + (size_t)j0 * c->kv_stride + (size_t)g * hd;
    const float *bias = p->bias ? p->bias + ((size_t)h * c->n_q + i) * c->n_kv + j0 : NULL;
    if (p->softcap != 0.0f) /* HF: (s / cap).tanh() * cap, float32 */
        for (int j = 0; j < n; j++) s[j] = tanhf(s[j] / p->softcap) * p->softcap;
    if (bias)
        for (int j = 0; j < n; j++) s[j] += bias[j];
    if (p->rel_bias) { /* rel[j] = rel_bias[h][rel_off + j - (q_pos0 + i)]: in range by op_attention's check */
        const float *rel = p->rel_bias + (size_t)h * p->rel_stride + (p->rel_off - p->q_pos0 - i) + j0;
        for (int j = 0; j < n; j++) s[j] += rel[j];
    }
    if (p->mask)
        for (int j = 0; j < n; j++) s[j] += p->mask[j0 + j];
#if PLM_HAVE_SIMD
    if (c->use_simd) {
        softmax_simd(s, n);
        attn_pv_simd(o, s, v, c->kv_stride, n, hd);
        return;
    }
#endif
    softmax_scalar(s, n);
    attn_pv_scalar(o, s, v, c->kv_stride, n, hd);
}

/* Keys [*j0, *j0 + return value) that query i sees (causal limit, sliding window). */
static int attn_keys(const attn_ctx *c, int i, int *j0) {
    const op_attn_params *p = c->p;
    int n = c->n_kv;
    if (p->causal) n = PLM_MIN(n, p->q_pos0 + i + 1);
    /* sliding window: keys before j0 are masked out (exactly zero weight) */
    *j0 = p->window > 0 ? PLM_MAX(0, p->q_pos0 + i + 1 - p->window) : 0;
    return n - *j0;
}

static void attn_unit(const attn_ctx *c, int h, int i, float *s) {
    const op_attn_params *p = c->p;
    const int hd = p->head_dim, g = h / (p->n_head / p->n_head_kv);
    const float *q = c->q + (size_t)i * c->q_stride + (size_t)h * hd;
    int j0;
    const int n = attn_keys(c, i, &j0);
    if (n <= 0) {
        memset(c->out + (size_t)i * c->out_stride + (size_t)h * hd, 0, (size_t)hd * sizeof(float));
        return;
    }
    const float *k = c->k + (size_t)j0 * c->kv_stride + (size_t)g * hd;
#if PLM_HAVE_SIMD
    if (c->use_simd)
        attn_scores_simd(s, q, k, c->kv_stride, n, hd, p->scale);
    else
#endif
        attn_scores_scalar(s, q, k, c->kv_stride, n, hd, p->scale);
    attn_finish(c, h, i, s, n, j0);
}

/* Queries i and i + 1 of head h over the same keys (no causal limit, no window): their
 * scores in one pass over the keys (attn_scores2_*), the same numbers as two attn_unit. */
static void attn_pair(const attn_ctx *c, int h, int i, float *s0, float *s1) {
    const op_attn_params *p = c->p;
    const int hd = p->head_dim, g = h / (p->n_head / p->n_head_kv), n = c->n_kv;
    if (n <= 0) {
        attn_unit(c, h, i, s0);
        attn_unit(c, h, i + 1, s0);
        return;
    }
    const float *q0 = c->q + (size_t)i * c->q_stride + (size_t)h * hd, *q1 = q0 + c->q_stride;
    const float *k = c->k + (size_t)g * hd;
#if PLM_HAVE_SIMD
    if (c->use_simd)
        attn_scores2_simd(s0, s1, q0, q1, k, c->kv_stride, n, hd, p->scale);
    else
#endif
        attn_scores2_scalar(s0, s1, q0, q1, k, c->kv_stride, n, hd, p->scale);
    attn_finish(c, h, i, s0, n, 0);
    attn_finish(c, h, i + 1, s1, n, 0);
}

static void attn_task(void *arg, int t, int n_tasks) {
    const attn_ctx *c = arg;
    const int64_t units = (int64_t)c->p->n_head * c->n_q;
    const int64_t u0 = units * t / n_tasks, u1 = units * (t + 1) / n_tasks;
    const size_t stride = align64((size_t)c->n_kv * sizeof(float)) / sizeof(float);
    float *s = c->scores + (size_t)t * 2 * stride;
    /* every query sees the same keys: two queries of one head at a time */
    const int pairs = !c->p->causal && c->p->window == 0;
    for (int64_t u = u0; u < u1;) {
        const int h = (int)(u / c->n_q), i = (int)(u % c->n_q);
        if (pairs && u + 1 < u1 && i + 1 < c->n_q) {
            attn_pair(c, h, i, s, s + stride);
            u += 2;
        } else {
            attn_unit(c, h, i, s);
            u++;
        }
    }
}

int op_attention(float *out, int out_stride, const float *q, int q_stride, const float *k,
                 const float *v, int kv_stride, int n_q, int n_kv, const op_attn_params *p) {
    if (!p || p->n_head <= 0 || p->n_head_kv <= 0 || p->head_dim <= 0 || p->n_head % p->n_head_kv)
        return plm_fail(PLM_E_INVALID, "attention: bad head counts");
    if (n_q < 0 || n_kv < 0 || p->q_pos0 < 0)
        return plm_fail(PLM_E_INVALID, "attention: bad sizes (n_q %d, n_kv %d, q_pos0 %d)", n_q, n_kv, p->q_pos0);
    if (p->window < 0 || (p->window > 0 && !p->causal) || !(p->softcap >= 0.0f) || !isfinite(p->softcap))
        return plm_fail(PLM_E_INVALID, "attention: bad sliding window %d (causal only) or soft-cap %g",
                        p->window, p->softcap);
    if (n_q == 0) return PLM_OK;
    if (!out || !q || (n_kv > 0 && (!k || !v)))
        return plm_fail(PLM_E_INVALID, "attention: NULL buffer");
    if (out_stride < p->n_head * p->head_dim || q_stride < p->n_head * p->head_dim ||
        kv_stride < p->n_head_kv * p->head_dim)
        return plm_fail(PLM_E_INVALID, "attention: row strides smaller than the heads they hold");
    if (p->rel_bias && (p->rel_off < p->q_pos0 + n_q - 1 ||
                        (int64_t)p->rel_stride < (int64_t)p->rel_off - p->q_pos0 + n_kv))
        return plm_fail(PLM_E_INVALID, "attention: relative bias rows (offset %d, stride %d) do not "
                        "cover %d queries at %d x %d keys", p->rel_off, p->rel_stride, n_q, p->q_pos0, n_kv);

    const int64_t units = (int64_t)p->n_head * n_q;
    const int n_tasks = n_tasks_for((double)units * n_kv * p->head_dim * 2, (int)PLM_MIN(units, 1 << 20));
    const size_t per_task = 2 * align64((size_t)(n_kv > 0 ? n_kv : 1) * sizeof(float)); /* two queries' scores */
    float *scores = scratch_get((size_t)n_tasks * per_task, "attention scores");
    if (!scores) return PLM_E_NOMEM;
    attn_ctx c = {out, out_stride, q, k, v, q_stride, kv_stride, n_q, n_kv, p, scores, g_simd};
    plm_parallel_for(n_tasks, attn_task, &c);
    return PLM_OK;
}
