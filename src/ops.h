/* ops.h — the compute kernels used by the model files.
 *
 * Every kernel exists twice: a portable scalar reference (ops_scalar.c,
 * suffix _scalar) and a WebAssembly SIMD128 version (ops_simd.c, suffix _simd,
 * compiled only when __wasm_simd128__ is defined). The unsuffixed op_* entry
 * points (ops.c) pick the SIMD version when it was compiled in and split the
 * work across the thread pool (threads.h) where that pays off.
 *
 * Layout conventions: activations are row-major float32, one row per token:
 * x[m][k]. Weight matrices are GGUF tensors with ne = {k, n}: n rows of k
 * values (k along ne0, which is also the quantization-block axis).
 *
 * Arithmetic contract (what the tests hold the kernels to):
 *   F32 weights : float32 dot products.
 *   F16 / BF16  : weights widened to float32 on the fly, float32 dot products
 *                 (activations are NOT rounded to fp16).
 *   Q8_0 / Q4_0 : activations quantized to Q8_0 blocks (ggml's quantize_row_q8_0
 *                 rounding), integer block dot products scaled by d_w*d_x, in the
 *                 order of ggml's generic (scalar) vec_dot_q8_0_q8_0 / q4_0_q8_0.
 *   Q2_K / Q3_K / Q4_K / Q5_K / Q6_K / IQ4_XS : activations quantized to Q8_K
 *                 blocks (ggml's quantize_row_q8_K), integer dot products per
 *                 super-block as ggml's vec_dot_{q2..q6_K,iq4_xs}_q8_K.
 *   IQ4_NL      : activations quantized to Q8_0 blocks (vec_dot_iq4_nl_q8_0).
 * Which format a type uses is its entry in the type traits (below).
 *   Q5_0 / Q4_1 / Q5_1 : activations quantized to Q8_0 blocks, integer block
 *                 dots as Q4_0 (ggml's vec_dot_q5_0_q8_0 / q4_1 / q5_1 idea).
 * Quantized types need k % 32 == 0 (k % 256 for K-quants), else PLM_E_INVALID.
 *
 * Summation order (so that scalar and SIMD twins, m == 1 and m > 1, and any
 * thread count give bit-identical matmul results):
 *   float dots: 4 interleaved partial sums (lane l takes elements i % 4 == l,
 *     product rounded then added), combined as (s0 + s2) + (s1 + s3), then the
 *     k % 4 tail added in order;
 *   Q8_0/Q4_0 (ggml's generic reference order): per 32-block b one exact
 *     integer isum_b = dot(q_w, q_x) (Q4_0: q_w = nibble - 8), then one float
 *     chain over the blocks in order, each product rounded (no FMA):
 *       s = s + (float)isum_b * (d_w * d_x);
 *     so any lane layout (row panels, relaxed-SIMD dots), any m and any thread
 *     count give the same bits;
 *   IQ4_NL x Q8_0: as Q4_0 with q_w = kvalues_iq4nl[code] (ggml's vec_dot_iq4_nl_q8_0);
 *   Q5_0 / Q4_1 / Q5_1 (the older per-lane order): per block, 4 exact integer
 *     lane sums (lane l takes elements j with (j / 2) % 4 == l, the layout of
 *     i32x4.dot_i16x8_s), each converted to float, multiplied by (d_w * d_x) and
 *     added to float lane l; lanes combined as the float dots; Q5_0 with its
 *     5-bit values - 16; Q4_1 / Q5_1 (x = d*q + m) add, after each block's lane term, (float)xsum_l * (m_w * d_x) to lane l, xsum_l
 *     the same lane's sum of the activation quants;
 *   K-quants and IQ4_XS: per super-block b, two exact integers: isum_b = sum over
 *     sub-blocks of scale_j * dot(q_w, q_x) (Q6_K: q_w - 32; Q3_K: q_w in [-4, 3],
 *     scale - 32; IQ4_XS: q_w = kvalues_iq4nl[code], scale - 32) and msum_b = sum of
 *     min_j * (sum of the sub-block's q_x) (Q2_K / Q4_K / Q5_K), then one float chain over b:
 *       s += (d_w * d_x) * (float)isum_b;   s -= (dmin_w * d_x) * (float)msum_b;
 *     (integer sums are order-free, so any SIMD lane layout gives the same bits).
 */
#ifndef PLM_OPS_H
#define PLM_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- matmul */
/* y[m][n] = x[m][k] . W^T (+ bias[n] if bias != NULL), W: ne = {k, n}.
 * m == 1 is the matrix x vector case (decode); m > 1 is prefill / batches and
 * must reuse each weight row across several activation rows.
 * Returns PLM_OK or PLM_E_* (unsupported type, shape mismatch, out of memory). */
int op_matmul(float *y, const plm_tensor *W, const float *bias, const float *x, int m, int k);
/* count matmuls of the same input: y[i] = x . W[i]^T (+ bias[i] if bias and bias[i]),
 * bit-identical to count op_matmul calls (Q/K/V projections, gate and up). When all
 * W[i] are Q8_0 (or all Q4_0), x is quantized once for all of them. An error names
 * the first failing matrix; outputs before it are written. */
int op_matmul_shared(float *const *y, const plm_tensor *const *W, const float *const *bias, int count,
                     const float *x, int m, int k);

/* Rows of an embedding table (any supported type) as float32: out[i] = W[ids[i]].
 * Returns PLM_E_INVALID if an id is outside [0, n). */
int op_get_rows(float *out, const plm_tensor *W, const int32_t *ids, int n);

/* Repack a Q8_0 / Q4_0 matrix in place for the quantized GEMM (layout
 * PLM_LAYOUT_PANEL4, same byte size; other types / layouts: left as they are,
 * PLM_OK). Called once per weight at model load (model.c), never by kernels.
 * Panel layout: rows [0, 4*floor(n/4)) form panels of 4 rows; panel p takes the
 * bytes of its 4 rows (p*4*row_bytes ..), as k/32 panel-blocks, one per
 * 32-block of k:
 *   Q8_0 (136 bytes): d[4] (fp16 scales of rows 4p..4p+3), then 8 groups of 16
 *     bytes; group g holds q[r][4g + i] at byte 4r + i (r, i < 4): each i32 lane
 *     is one row's 4 consecutive quants (lanes = output rows);
 *   Q4_0 (72 bytes): d[4], then 4 groups of 16 bytes; group v holds the codes
 *     (nibble, 0..15, value = code - 8) of q[r][8v + i] in the low nibble and
 *     q[r][8v + 4 + i] in the high nibble of byte 4r + i (i < 4).
 * The last n % 4 rows stay in the file's row layout, at their usual offsets.
 * Returns PLM_E_NOMEM (tensor unchanged) if the 4-row staging buffer fails. */
int plm_tensor_pack_for_matmul(plm_tensor *W);

/* ---------------------------------------------------------------- row ops
 * All row ops work on m rows of n values, in place allowed (y == x). */
void op_layernorm(float *y, const float *x, const float *w, const float *b, int m, int n, float eps);
void op_rmsnorm(float *y, const float *x, const float *w, int m, int n, float eps);
void op_softmax(float *x, int m, int n); /* numerically stable; -INFINITY entries give 0 */
/* y[r][i] = (x[r][i] - max_r) - logf(sum_j expf(x[r][j] - max_r)) (sum in double): log_softmax,
 * as the beam search scores candidates (in place allowed). */
void op_log_softmax(float *y, const float *x, int m, int n);
/* y[i] = mean over the m rows of x[r][i] (double accumulation, rows in order): mean pooling. */
void op_mean_rows(float *y, const float *x, int m, int n);
/* x /= max(||x||_2, 1e-12) in double, as torch.nn.functional.normalize. */
void op_l2_normalize(float *x, int n);

/* element-wise over n values */
void op_gelu_tanh(float *y, const float *x, int n); /* 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))) */
void op_gelu_erf(float *y, const float *x, int n);  /* 0.5x(1+erf(x/sqrt2)) */
void op_silu(float *y, const float *x, int n);
void op_relu(float *y, const float *x, int n);
void op_tanh(float *y, const float *x, int n); /* tanhf */
void op_add(float *y, const float *a, const float *b, int n);
void op_mul(float *y, const float *a, const float *b, int n);
void op_scale(float *y, const float *x, float s, int n);
void op_softcap(float *y, const float *x, float cap, int n); /* cap * tanh(x / cap) (Gemma 2 soft-capping) */
/* y[i] = silu(g[i]) * u[i]  (SwiGLU)  and  y[i] = gelu_tanh(g[i]) * u[i]  (GeGLU) */
void op_swiglu(float *y, const float *g, const float *u, int n);
void op_geglu_tanh(float *y, const float *g, const float *u, int n);

/* ---------------------------------------------------------------- RoPE
 * Rotates n_tok rows, each holding n_head heads of head_dim values
 * (row stride = n_head*head_dim), token t at position pos0 + t.
 * Only the first n_rot dims of each head rotate. theta_i = pos * base^(-2i/n_rot).
 *   PLM_ROPE_NORM: adjacent pairs (2i, 2i+1)  — llama.cpp LLAMA_ROPE_TYPE_NORM (llama)
 *   PLM_ROPE_NEOX: pairs (i, i + n_rot/2)     — LLAMA_ROPE_TYPE_NEOX (gpt-neox, qwen, phi, ...) */
enum { PLM_ROPE_NORM = 0, PLM_ROPE_NEOX = 2 };
int op_rope(float *x, int n_tok, int n_head, int head_dim, int n_rot, int pos0, float freq_base,
            int mode);
/* Angles as Hugging Face computes them (all float32): inv_freq_i = 1 / base^((2i)/n_rot),
 * theta = pos * inv_freq_i, then cosf / sinf. Returns PLM_E_INVALID for an odd n_rot,
 * n_rot > head_dim or an unknown mode. */

/* RoPE with ggml's extensions (llama.cpp's ggml_rope_ext without YaRN):
 *   theta_i = pos * freq_scale * inv_freq_i / freq_factors[i]
 * freq_scale: linear position interpolation (1 = off; llama.cpp's rope_freq_scale =
 * 1 / rope.scaling.factor). freq_factors: NULL or n_rot/2 per-pair divisors of the
 * frequency (the rope_freqs.weight tensor of Llama 3.1+ files), each > 0.
 * op_rope(...) is op_rope_ext with freq_scale 1 and no factors (same numbers).
 * Each head is rotated by rope_head_{scalar,simd} (bit-identical twins). */
typedef struct {
    float freq_base;
    float freq_scale;
    const float *freq_factors;
    int mode; /* PLM_ROPE_NORM / PLM_ROPE_NEOX */
    /* Optional extensions (zero = off, the numbers above unchanged): */
    const int32_t *pos;  /* n_tok positions (packed sequences), instead of pos0 + t */
    float attn_factor;   /* cos/sin multiplied by it (LongRoPE / YaRN attention factor; 0 = 1) */
    /* YaRN (Peng et al. 2023), as HF's _compute_yarn_parameters / ggml's rope_yarn:
     * with ramp_i = clamp((i - low) / (high - low), 0, 1), low/high the correction dims of
     * beta_fast / beta_slow over n_ctx_orig (floor / ceil, clamped to [0, n_rot/2 - 1]),
     *   inv_freq_i = interp_i * (1 - e_i) + extrap_i * e_i,  e_i = ext_factor * (1 - ramp_i),
     * extrap_i = the plain frequency, interp_i = extrap_i * freq_scale. */
    float ext_factor;
    float beta_fast, beta_slow;
    int n_ctx_orig;
} op_rope_params;
int op_rope_ext(float *x, int n_tok, int n_head, int head_dim, int n_rot, int pos0, const op_rope_params *p);

/* ---------------------------------------------------------------- attention
 * out[i][h*hd..] = softmax_j( scale * q_i.k_j + bias_h[i][j] + mask[j] ) . v_j
 * q: n_q rows, row stride q_stride, head h at q + h*head_dim.
 * k, v: n_kv rows (row stride kv_stride), KV head g at + g*head_dim.
 * Query head h uses KV head h / (n_head / n_head_kv)  (grouped-query attention).
 * causal: query i sits at absolute position q_pos0 + i and sees key j only if
 *         j <= q_pos0 + i (keys are at positions 0..n_kv-1).
 * bias:  optional [n_head][n_q][n_kv] additive (T5 relative position bias).
 * mask:  optional [n_kv] additive (0 or -INFINITY, e.g. padding), shared by all queries.
 * rel_bias: optional additive bias that depends only on the offset d = j - (q_pos0 + i)
 *        of key j from query i (T5's relative position bias without an n_q x n_kv table):
 *        rel_bias[h * rel_stride + rel_off + d]. Every offset must fall inside the row:
 *        rel_off >= q_pos0 + n_q - 1 and rel_stride >= rel_off - q_pos0 + n_kv. */
typedef struct {
    int n_head, n_head_kv, head_dim;
    float scale;
    int causal;
    int q_pos0;
    const float *bias;
    const float *mask;
    const float *rel_bias;
    int rel_off, rel_stride;
    /* Optional (0 = off): */
    float softcap; /* scores s -> softcap * tanh(s / softcap) after scaling, before bias/mask (Gemma 2) */
    int window;    /* causal sliding window: query at position p sees keys p - window < j <= p */
} op_attn_params;

int op_attention(float *out, int out_stride, const float *q, int q_stride, const float *k,
                 const float *v, int kv_stride, int n_q, int n_kv, const op_attn_params *p);

/* Release the grow-only scratch buffers kept between calls (optional). */
void ops_scratch_free(void);
/* Use the SIMD kernels (1, default when compiled in) or the scalar references (0)
 * in the op_* entry points. Returns the previous setting. For tests and benchmarks. */
int ops_use_simd(int on);
/* In a relaxed-SIMD build: the quantized GEMM's relaxed kernels (1, default) or its
 * SIMD128 ones (0). No effect elsewhere. Returns the previous setting. */
int ops_use_relaxed(int on);

/* ---------------------------------------------------------------- twins
 * The scalar / SIMD variants, exported for the SIMD-vs-scalar tests.
 * vec_dot_* compute one dot product of n elements (n a multiple of the block
 * size for quantized types); x8 is Q8_0-quantized activations. */
float vec_dot_f32_scalar(const float *a, const float *b, int n);
float vec_dot_f16_scalar(const plm_fp16 *w, const float *x, int n);
float vec_dot_bf16_scalar(const uint16_t *w, const float *x, int n);
float vec_dot_q8_0_q8_0_scalar(const block_q8_0 *w, const block_q8_0 *x8, int n);
float vec_dot_q4_0_q8_0_scalar(const block_q4_0 *w, const block_q8_0 *x8, int n);
void quantize_row_q8_0_act_scalar(const float *x, block_q8_0 *y, int n);
/* Q5_0 / Q4_1 / Q5_1 weights as raw blocks (22 / 20 / 24 bytes, no alignment). */
float vec_dot_q5_0_q8_0_scalar(const void *w, const block_q8_0 *x8, int n);
float vec_dot_q4_1_q8_0_scalar(const void *w, const block_q8_0 *x8, int n);
float vec_dot_q5_1_q8_0_scalar(const void *w, const block_q8_0 *x8, int n);
float vec_dot_q4_K_q8_K_scalar(const block_q4_K *w, const block_q8_K *x, int n);
float vec_dot_q5_K_q8_K_scalar(const block_q5_K *w, const block_q8_K *x, int n);
float vec_dot_q6_K_q8_K_scalar(const block_q6_K *w, const block_q8_K *x, int n);
/* ggml's quantize_row_q8_K (plm_quantize_row_q8_K); n % 256 == 0. */
void quantize_row_q8_K_act_scalar(const float *x, block_q8_K *y, int n);

void layernorm_scalar(float *y, const float *x, const float *w, const float *b, int n, float eps);
void rmsnorm_scalar(float *y, const float *x, const float *w, int n, float eps);
void softmax_scalar(float *x, int n);
void gelu_tanh_scalar(float *y, const float *x, int n);
void gelu_erf_scalar(float *y, const float *x, int n);
void silu_scalar(float *y, const float *x, int n);
void swiglu_scalar(float *y, const float *g, const float *u, int n);
void geglu_tanh_scalar(float *y, const float *g, const float *u, int n);
/* y[i] += a * x[i] */
void axpy_scalar(float *y, float a, const float *x, int n);
/* Attention pieces. scores: s[j] = dot(q, k + j*kv_stride) * scale, j < n, each dot
 * in the canonical order. pv: o[d] = sum_j p[j] * v[j*kv_stride + d], j in
 * increasing order from 0, terms with p[j] == 0 skipped (o is overwritten). */
void attn_scores_scalar(float *s, const float *q, const float *k, int kv_stride, int n, int hd, float scale);
/* The scores of two queries over the same keys (s0 from q0, s1 from q1): each the numbers of
 * attn_scores_scalar (the SIMD twin loads every key once for both). */
void attn_scores2_scalar(float *s0, float *s1, const float *q0, const float *q1, const float *k, int kv_stride, int n,
                         int hd, float scale);
void attn_pv_scalar(float *o, const float *p, const float *v, int kv_stride, int n, int hd);
/* RoPE of one head: pair i (mode NORM: 2i, 2i+1; NEOX: i, i + n_rot/2) rotated by
 * (cs[i], sn[i]): a' = a*c - b*s, b' = b*c + a*s, each product rounded. */
void rope_head_scalar(float *v, const float *cs, const float *sn, int n_rot, int mode);
/* F16 / BF16 rows to float32 */
void convert_f16_scalar(float *y, const plm_fp16 *x, int n);
void convert_bf16_scalar(float *y, const uint16_t *x, int n);

/* Matmul work description shared by ops.c and the twins: output columns
 * [c0, c1) of all m rows. tmp: OP_MM_TMP_ROWS * k floats of per-task scratch
 * (weight rows converted to float32: F16 with m > 1). */
#define OP_MM_TMP_ROWS 8
typedef struct {
    int type;              /* weight type (enum plm_type) */
    const uint8_t *w;      /* n rows of w_row_bytes */
    size_t w_row_bytes;
    int n, k, m;
    const float *x;        /* float activations [m][k] */
    const block_q8_0 *xq;  /* scalar: Q8_0 activations [m][k/32] (Q8_0/Q4_0 weights) */
    const int16_t *xw;     /* SIMD: Q8_0 activations widened to int16 [m][k] */
    const float *xd;       /* SIMD: their block scales as float [m][k/32] */
    const int32_t *xs;     /* SIMD: 8 x their i32x4.dot lane sums [m][k/32][4] (Q4_0 offset) */
    const block_q8_K *xk;  /* Q8_K activations [m][k/256] (K-quant weights, both paths) */
    const float *bias;     /* [n] or NULL */
    float *y;              /* [m][n] */
} op_mm_job;
void matmul_range_scalar(const op_mm_job *j, int c0, int c1, float *tmp);

/* ---------------------------------------------------------------- type traits
 * The compute layer of a weight type (ops_traits.c; the format layer - name,
 * block, bytes, dequantize, quantize - is quant.c's table). op_matmul, the
 * scalar and SIMD matmul ranges and the tests read everything from here; a
 * readable type (plm_type_supported) without an entry, or without the kernel
 * the chosen path needs, is PLM_E_UNSUPPORTED naming the type and the op.
 *   act:   what the activations become before the dot: float32 rows, Q8_0
 *          blocks (ggml's quantize_row_q8_0) or Q8_K blocks (quantize_row_q8_K);
 *   dot:   one row dot (w: n weights in the file's row layout; x: n activations
 *          in the `act` format) - scalar reference and SIMD128 twin, bit-identical;
 *   route: how matmul_range_simd sweeps the output (MM_ROUTE_DOT: one SIMD dot
 *          per (row, column); TILES / KROWS: ops_simd.c's register tiles);
 *   gemm:  a GEMM that takes over before the row kernels (MM_GEMM_FLOAT: SIMD
 *          builds, m > 1, ops_gemm_f.c; MM_GEMM_Q8: every build and m,
 *          ops_qgemm.c, with the 4-row panel layout plm_tensor_pack_for_matmul
 *          writes when `panel4`; MM_GEMM_K: every build, m > 1, ops_kgemm.c,
 *          row layout). A new GEMM is a new MM_GEMM_* value here and
 *          one case in op_matmul's gemm switch. */
enum { PLM_ACT_F32 = 0, PLM_ACT_Q8_0 = 1, PLM_ACT_Q8_K = 2 };
enum { MM_ROUTE_DOT = 0, MM_ROUTE_TILES = 1, MM_ROUTE_KROWS = 2 };
enum { MM_GEMM_NONE = 0, MM_GEMM_FLOAT = 1, MM_GEMM_Q8 = 2, MM_GEMM_K = 3 };
typedef float (*plm_dot_fn)(const void *w, const void *x, int n);
typedef struct {
    int act;
    plm_dot_fn dot_scalar;
    plm_dot_fn dot_simd;  /* NULL in builds without SIMD128 */
    int route;
    int gemm;
    int convert_rows;     /* scalar m > 1: widen each weight row once, then F32 dots (exact types only) */
    int panel4;           /* plm_tensor_pack_for_matmul repacks it to PLM_LAYOUT_PANEL4 */
} plm_mm_traits;
/* The entry of `type`, or NULL if matmul has none. */
const plm_mm_traits *plm_mm_traits_get(int type);
/* Name of an activation format ("f32", "q8_0", "q8_K"). */
const char *plm_act_name(int act);
/* Activations of row r of a job in the traits' format (x, xq or xk). */
static inline const void *op_mm_act_row(const op_mm_job *j, int act, int r) {
    switch (act) {
    case PLM_ACT_Q8_0: return j->xq + (size_t)r * (j->k / QK8_0);
    case PLM_ACT_Q8_K: return j->xk + (size_t)r * (j->k / QK_K);
    default: return j->x + (size_t)r * j->k;
    }
}
/* Columns [c0, c1) of all rows with one `dot` per output (activations in `act`). */
void matmul_range_dot(const op_mm_job *j, int c0, int c1, int act, plm_dot_fn dot);

/* New weight types' kernels (raw blocks, no alignment needed). */
float vec_dot_q2_K_q8_K_scalar(const void *w, const block_q8_K *x, int n);
float vec_dot_q3_K_q8_K_scalar(const void *w, const block_q8_K *x, int n);
float vec_dot_iq4_xs_q8_K_scalar(const void *w, const block_q8_K *x, int n);
float vec_dot_iq4_nl_q8_0_scalar(const void *w, const block_q8_0 *x8, int n);

/* K-quant GEMM (ops_kgemm.c) for Q4_K / Q5_K / Q6_K weights x Q8_K activations,
 * m > 1: output columns [c0, c1) of all m rows (c0 a multiple of 4), the same
 * numbers as the m = 1 kernels. Activations prepared once per op_matmul by
 * kgemm_prepare_act into kgemm_act_bytes(m, k, simd) of scratch: xk Q8_K blocks
 * [m][k/256], xb the 32-value sub-block sums [m][k/256][8], xw (SIMD) the
 * quants widened to int16 [m][k]. panel: kgemm_panel_bytes(k) of per-task
 * scratch (64-byte aligned) for one unpacked 4-row panel. */
typedef struct {
    int type;              /* PLM_TYPE_Q4_K / Q5_K / Q6_K */
    const uint8_t *w;      /* n rows of w_row_bytes (row layout) */
    size_t w_row_bytes;
    int n, k, m;
    const block_q8_K *xk;
    const int16_t *xb;
    const int16_t *xw;
    const float *bias;     /* [n] or NULL */
    float *y;              /* [m][n] */
} op_kmm_job;
size_t kgemm_act_bytes(int m, int k, int simd);
size_t kgemm_panel_bytes(int k);
void kgemm_prepare_act(op_kmm_job *j, const float *x, uint8_t *s, int simd);
void kgemm_range_scalar(const op_kmm_job *j, int c0, int c1, uint8_t *panel);

/* Quantized GEMM (ops_qgemm.c) for Q8_0 / Q4_0 weights x Q8_0 activations,
 * either layout: output columns [c0, c1) of all m rows, c0 a multiple of 4.
 * Activations (all prepared once per op_matmul by qgemm_prepare_act):
 *   xq: Q8_0 blocks [m][k/32] (every variant: row-layout tail rows);
 *   SIMD and relaxed Q4_0: xd (scales as float [m][k/32]), xs (block sums of
 *     the quants [m][k/32], for Q4_0's -8 offset);
 *   SIMD128: xw (quants widened to int16 [m][k]);
 *   relaxed Q8_0 (rows in groups of 4, the last group padded with zeros):
 *     xr [m/4][k/32][256 bytes]: |q| of the 4 rows, then their sign masks
 *       (0xff where q < 0, else 0), each as [8 groups of 4 k][4 rows][4 bytes];
 *     xn [m/4][k/32][8]: per row the sum of |q| over its negative quants
 *       (int32 x 4), then its scale (float x 4);
 *     m >= QGEMM_WIDE_M instead (rows in groups of 4, the last padded with zeros):
 *       xi [m/4][k/32][128 bytes]: the quants of the 4 rows as [8 groups of 4 k][4 rows][4 bytes],
 *       xid [m/4][k/32][4]: their scales as float. */
/* from m = 8 (one 8-token tile) the wide kernel measured ~1.3x the xr one in Chromium (m = 8, 12) */
#define QGEMM_WIDE_M 8
typedef struct {
    int type;             /* PLM_TYPE_Q8_0 / PLM_TYPE_Q4_0 */
    const uint8_t *w;
    size_t w_row_bytes;
    int n, k, m;
    int n_panel_rows;     /* rows in 4-row panels (0 for PLM_LAYOUT_ROWS) */
    const block_q8_0 *xq;
    const int16_t *xw;
    const float *xd;
    const int32_t *xs;
    const uint8_t *xr;    /* 256-byte aligned */
    const int32_t *xn;    /* 32-byte aligned */
    const uint8_t *xi;    /* relaxed Q8_0, m >= QGEMM_WIDE_M: [m/4][k/32][128], 128-byte aligned */
    const float *xid;     /* its scales [m/4][k/32][4] */
    const float *bias;
    float *y;
} op_qmm_job;
enum { QGEMM_SCALAR = 0, QGEMM_SIMD = 1, QGEMM_RELAXED = 2 };
/* Scratch bytes qgemm_prepare_act needs for variant v (64-byte aligned pieces). */
size_t qgemm_act_bytes(int variant, int type, int m, int k);
/* Quantize x[m][k] into scratch s (qgemm_act_bytes) and point j's activations at it. */
void qgemm_prepare_act(int variant, op_qmm_job *j, const float *x, uint8_t *s);
void qgemm_range_scalar(const op_qmm_job *j, int c0, int c1);
/* Row r of a (possibly packed) Q8_0 / Q4_0 matrix as float32 (plm_dequantize_row's numbers). */
void qgemm_get_row(const plm_tensor *W, int64_t r, float *dst);

#if defined(__wasm_simd128__)
#define PLM_HAVE_SIMD 1
float vec_dot_f32_simd(const float *a, const float *b, int n);
float vec_dot_f16_simd(const plm_fp16 *w, const float *x, int n);
float vec_dot_bf16_simd(const uint16_t *w, const float *x, int n);
float vec_dot_q8_0_q8_0_simd(const block_q8_0 *w, const block_q8_0 *x8, int n);
float vec_dot_q4_0_q8_0_simd(const block_q4_0 *w, const block_q8_0 *x8, int n);
void quantize_row_q8_0_act_simd(const float *x, block_q8_0 *y, int n);
float vec_dot_q4_K_q8_K_simd(const block_q4_K *w, const block_q8_K *x, int n);
float vec_dot_q5_K_q8_K_simd(const block_q5_K *w, const block_q8_K *x, int n);
float vec_dot_q6_K_q8_K_simd(const block_q6_K *w, const block_q8_K *x, int n);
void quantize_row_q8_K_act_simd(const float *x, block_q8_K *y, int n);
float vec_dot_q2_K_q8_K_simd(const void *w, const block_q8_K *x, int n);
float vec_dot_q3_K_q8_K_simd(const void *w, const block_q8_K *x, int n);
float vec_dot_iq4_xs_q8_K_simd(const void *w, const block_q8_K *x, int n);
float vec_dot_iq4_nl_q8_0_simd(const void *w, const block_q8_0 *x8, int n);

void layernorm_simd(float *y, const float *x, const float *w, const float *b, int n, float eps);
void rmsnorm_simd(float *y, const float *x, const float *w, int n, float eps);
void softmax_simd(float *x, int n);
void gelu_tanh_simd(float *y, const float *x, int n);
void gelu_erf_simd(float *y, const float *x, int n);
void silu_simd(float *y, const float *x, int n);
void swiglu_simd(float *y, const float *g, const float *u, int n);
void geglu_tanh_simd(float *y, const float *g, const float *u, int n);
void axpy_simd(float *y, float a, const float *x, int n);
void attn_scores_simd(float *s, const float *q, const float *k, int kv_stride, int n, int hd, float scale);
void attn_scores2_simd(float *s0, float *s1, const float *q0, const float *q1, const float *k, int kv_stride, int n,
                       int hd, float scale);
void attn_pv_simd(float *o, const float *p, const float *v, int kv_stride, int n, int hd);
void rope_head_simd(float *v, const float *cs, const float *sn, int n_rot, int mode);
void convert_f16_simd(float *y, const plm_fp16 *x, int n);
void convert_bf16_simd(float *y, const uint16_t *x, int n);
/* Quantize m rows of k floats (k % 32 == 0) to Q8_0 exactly as quantize_row_q8_0_act,
 * stored widened: q[m][k] int16, the fp16-rounded scales d[m][k/32] as float, and
 * s8[m][k/32][4] = 8 * the block's lane sums (lane l: elements j with (j/2)%4 == l). */
void quantize_rows_q8_0_wide_simd(const float *x, int m, int k, int16_t *q, float *d, int32_t *s8);
/* One-time setup of the SIMD kernels (a 256 KB fp16 table); called by op_matmul on
 * the calling thread before it dispatches tasks. */
void ops_simd_prepare(void);
/* That table: fp16 bits -> float (exact), valid after ops_simd_prepare(). */
const float *ops_simd_f16_table(void);
void matmul_range_simd(const op_mm_job *j, int c0, int c1, float *tmp);
/* Float GEMM for m > 1 (ops_gemm_f.c; F32 / F16 / BF16 weights): register tiles of
 * GF_MR activation rows x GF_NR weight rows over packed panels; the same numbers as
 * matmul_range_scalar. pa: x packed by gemm_f_pack_a_simd (GF_MR-row panels of
 * k & ~3 floats, m * (k & ~3) in all); pb: GF_NR * (k & ~3) floats of per-task scratch. */
#ifndef GF_MR
#define GF_MR 4
#endif
#ifndef GF_NR
#define GF_NR 2
#endif
void gemm_f_pack_a_simd(float *pa, const float *x, int m, int k);
void gemm_f_range_simd(const op_mm_job *j, const float *pa, int c0, int c1, float *pb);
void qgemm_range_simd(const op_qmm_job *j, int c0, int c1);
void kgemm_range_simd(const op_kmm_job *j, int c0, int c1, uint8_t *panel);
#if defined(__wasm_relaxed_simd__)
#define PLM_HAVE_RELAXED 1
void qgemm_range_relaxed(const op_qmm_job *j, int c0, int c1);
/* 1 if the engine computes the relaxed i8 dot product exactly as the kernels need
 * (checked once; Node 20's V8 does not), else 0: then the SIMD128 kernels run. */
int qgemm_relaxed_ok(void);
#else
#define PLM_HAVE_RELAXED 0
#endif
#else
#define PLM_HAVE_RELAXED 0
#define PLM_HAVE_SIMD 0
#endif

#ifdef __cplusplus
}
#endif
#endif
