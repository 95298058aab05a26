/* test_archs.c — the GGUFs people download, in miniature: random-weight files with
 * the structure, metadata and tensor types of real ones, run through the whole
 * engine (load, tokenizer, plm_ctx_decode with prefill + cached steps) and compared
 * with an independent float64 forward pass written here (weights dequantized,
 * every operation in double, llama.cpp's llm_build_llama / llm_build_qwen2 math).
 *   llama3 : Llama 3.2 style — GQA, tied embeddings, rope_freqs.weight (Llama 3.1
 *            frequency factors), rope base 500000, llama-bpe tokenizer; Q8_0 + F16
 *   qwen2  : Qwen2.5 style — q/k/v biases, NEOX RoPE, untied output, qwen2 pre; F32
 *   q4_k_m : llama.cpp's Q4_K_M mix — Q4_K (embeddings, most matrices), Q6_K (output,
 *            attn_v / ffn_down of the first layer), Q5_K (attn_k), linear RoPE scaling
 * Quantized weights: the reference quantizes its activations as the engine's contract
 * says (Q8_0 / Q8_K blocks, ggml's rules), so the comparison stays tight.
 * Each reference is also run with the wrong RoPE (mode / factors / scaling) or without
 * the biases, and must then be far off: the comparison can tell those apart. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_writer.h"
#include "model.h"
#include "plm.h"
#include "quant.h"
#include "test.h"
#include "unicode.h"


/* ------------------------------------------------------------ the spec */

enum { E = 256, NH = 4, NKV = 2, HD = 64, FF = 512, NL = 2, NV = 300, NCTX = 128 };

typedef struct {
    const char *arch, *pre;
    int rope_neox, tied, biases, has_freqs;
    float rope_base, scale_factor; /* 0: no rope.scaling keys */
    int t_embd, t_out, t_q, t_k, t_v, t_o, t_gate, t_up, t_down, t_down0, t_v0; /* ggml types */
    const char *scaling; /* rope.scaling.type when scale_factor != 0 (NULL: "linear") */
    float bad_freq;      /* != 0: written as rope_freqs[3] (an invalid file) */
} spec;

typedef struct { /* dequantized weights for the reference (row-major [n][k]) and their types */
    float *embd, *out, *out_norm, *freqs;
    int t_out;
    struct {
        float *attn_norm, *q, *k, *v, *o, *bq, *bk, *bv, *ffn_norm, *gate, *up, *down;
        int tq, tk, tv, to, tgate, tup, tdown;
    } L[NL];
} weights;

/* ----------------------------------------------------------- GGUF build */

typedef struct {
    char name[64];
    int type, n_dims;
    int64_t ne[2];
    uint8_t *data;
    size_t bytes;
} tensor_rec;

typedef struct { tensor_rec t[64]; int n; } tensor_list;

/* A tensor of `type` with ne = {k, n} (n = 0: 1-D f32), random values; returns
 * the dequantized values (what the engine computes with). */
static float *add_tensor(tensor_list *tl, const char *name, int type, int k, int n, float scale) {
    tensor_rec *t = &tl->t[tl->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    const int rows = n ? n : 1;
    t->type = type;
    t->n_dims = n ? 2 : 1;
    t->ne[0] = k, t->ne[1] = rows;
    t->bytes = plm_type_row_bytes(type, k) * (size_t)rows;
    t->data = malloc(t->bytes);
    float *src = malloc(sizeof(float) * (size_t)k * rows), *deq = malloc(sizeof(float) * (size_t)k * rows);
    for (int i = 0; i < k * rows; i++) src[i] = frand() * scale;
    if (type == PLM_TYPE_Q4_K || type == PLM_TYPE_Q5_K) {
        /* no reference quantizer here: random blocks with scales for ~scale-sized values */
        const size_t bb = plm_type_block_bytes(type);
        for (size_t i = 0; i < t->bytes; i++) t->data[i] = (uint8_t)rnd_u32();
        for (size_t b = 0; b < t->bytes / bb; b++) {
            uint8_t *blk = t->data + b * bb;
            const plm_fp16 d = plm_fp32_to_fp16(scale / (type == PLM_TYPE_Q4_K ? 15.0f : 31.0f) / 32.0f);
            const plm_fp16 dm = plm_fp32_to_fp16(scale / 32.0f);
            blk[0] = (uint8_t)d, blk[1] = (uint8_t)(d >> 8), blk[2] = (uint8_t)dm, blk[3] = (uint8_t)(dm >> 8);
        }
    } else {
        CHECK(plm_quantize(type, src, t->data, rows, k) == t->bytes);
    }
    for (int r = 0; r < rows; r++)
        plm_dequantize_row(type, t->data + plm_type_row_bytes(type, k) * r, deq + (size_t)r * k, k);
    free(src);
    return deq;
}

static void kv_f32(gw *w, const char *key, float v) { gw_key(w, key, 6), gw_put(w, &v, 4); }

static void key(char *buf, const spec *s, const char *suffix) { snprintf(buf, 96, "%s.%s", s->arch, suffix); }

/* The byte-level vocab: 256 byte stand-ins, "he", "hello" ..., specials. */
static void add_vocab(gw *w, const spec *s) {
    static char texts[NV][24];
    char *tokens[NV];
    int32_t types[NV];
    for (int b = 0; b < 256; b++) {
        int c = b, k = 0;
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (!printable) {
            for (int x = 0; x < b; x++)
                if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) k++;
            c = 256 + k;
        }
        texts[b][uc_put((uint32_t)c, texts[b])] = 0;
        types[b] = PLM_TOKEN_NORMAL;
    }
    const char *extra[] = {"he", "ll", "hell", "hello", "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"};
    for (int i = 256; i < NV; i++) {
        if (i - 256 < 7) snprintf(texts[i], sizeof texts[i], "%s", extra[i - 256]);
        else snprintf(texts[i], sizeof texts[i], "<unused%d>", i);
        types[i] = i - 256 >= 4 ? PLM_TOKEN_CONTROL : PLM_TOKEN_NORMAL;
    }
    for (int i = 0; i < NV; i++) tokens[i] = texts[i];
    char *merges[] = {"h e", "l l", "he ll", "hell o"};
    gw_str(w, "tokenizer.ggml.model", "gpt2");
    gw_str(w, "tokenizer.ggml.pre", s->pre);
    gw_arr_str(w, "tokenizer.ggml.tokens", tokens, NULL, NV);
    gw_arr_i32(w, "tokenizer.ggml.token_type", types, NV);
    gw_arr_str(w, "tokenizer.ggml.merges", merges, NULL, 4);
    gw_u32(w, "tokenizer.ggml.bos_token_id", 260);
    gw_u32(w, "tokenizer.ggml.eos_token_id", 262);
}

/* Llama 3.1's rope_freqs as convert_hf_to_gguf writes them (factor 8, low 1, high 4),
 * with a short original context (32) so the factors matter at the test's positions. */
static void llama3_freqs(float *f, float base) {
    const double factor = 8, low = 1, high = 4, old_ctx = 32;
    for (int i = 0; i < HD / 2; i++) {
        const double freq = 1.0 / pow(base, 2.0 * i / HD), wavelen = 2 * 3.14159265358979323846 / freq;
        if (wavelen < old_ctx / high) f[i] = 1.0f;
        else if (wavelen > old_ctx / low) f[i] = (float)factor;
        else {
            const double smooth = (old_ctx / wavelen - low) / (high - low);
            f[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
}

static uint8_t *build_model(const spec *s, weights *W, size_t *size) {
    gw w;
    gw_begin(&w);
    char k[96];
    gw_str(&w, "general.architecture", s->arch);
    gw_str(&w, "general.name", s->arch);
    key(k, s, "block_count"), gw_u32(&w, k, NL);
    key(k, s, "context_length"), gw_u32(&w, k, NCTX);
    key(k, s, "embedding_length"), gw_u32(&w, k, E);
    key(k, s, "feed_forward_length"), gw_u32(&w, k, FF);
    key(k, s, "attention.head_count"), gw_u32(&w, k, NH);
    key(k, s, "attention.head_count_kv"), gw_u32(&w, k, NKV);
    key(k, s, "rope.dimension_count"), gw_u32(&w, k, HD);
    key(k, s, "attention.layer_norm_rms_epsilon"), kv_f32(&w, k, 1e-5f);
    key(k, s, "rope.freq_base"), kv_f32(&w, k, s->rope_base);
    if (s->scale_factor != 0.0f) {
        key(k, s, "rope.scaling.type"), gw_str(&w, k, s->scaling ? s->scaling : "linear");
        key(k, s, "rope.scaling.factor"), kv_f32(&w, k, s->scale_factor);
        if (s->scaling && (!strcmp(s->scaling, "yarn") || !strcmp(s->scaling, "longrope")))
            key(k, s, "rope.scaling.original_context_length"), gw_u32(&w, k, 16);
    }
    add_vocab(&w, s);

    tensor_list tl = {.n = 0};
    char name[64];
    W->embd = add_tensor(&tl, "token_embd.weight", s->t_embd, E, NV, s->tied ? 0.1f : 1.0f);
    W->out_norm = add_tensor(&tl, "output_norm.weight", PLM_TYPE_F32, E, 0, 1.0f);
    for (int i = 0; i < E; i++) W->out_norm[i] = 1.0f + 0.2f * W->out_norm[i];
    memcpy(tl.t[tl.n - 1].data, W->out_norm, sizeof(float) * E);
    W->out = s->tied ? W->embd : add_tensor(&tl, "output.weight", s->t_out, E, NV, 0.1f);
    W->t_out = s->tied ? s->t_embd : s->t_out;
    W->freqs = NULL;
    if (s->has_freqs) {
        W->freqs = add_tensor(&tl, "rope_freqs.weight", PLM_TYPE_F32, HD / 2, 0, 1.0f);
        llama3_freqs(W->freqs, s->rope_base);
        if (s->bad_freq != 0.0f) W->freqs[3] = s->bad_freq;
        memcpy(tl.t[tl.n - 1].data, W->freqs, sizeof(float) * HD / 2);
    }
    if (s->scaling && !strcmp(s->scaling, "longrope") && !s->has_freqs) {
        /* Phi-3 style LongRoPE tables (long: the reference's W->freqs; short: only in the file);
         * with has_freqs (test_refusals) the tables are left out */
        W->freqs = add_tensor(&tl, "rope_factors_long.weight", PLM_TYPE_F32, HD / 2, 0, 1.0f);
        for (int i = 0; i < HD / 2; i++) W->freqs[i] = 1.0f + 0.25f * (float)i;
        memcpy(tl.t[tl.n - 1].data, W->freqs, sizeof(float) * HD / 2);
        float *sh = add_tensor(&tl, "rope_factors_short.weight", PLM_TYPE_F32, HD / 2, 0, 1.0f);
        for (int i = 0; i < HD / 2; i++) sh[i] = 1.0f + 0.01f * (float)i;
        memcpy(tl.t[tl.n - 1].data, sh, sizeof(float) * HD / 2);
        free(sh);
    }
    const float ws = 1.0f / 16.0f; /* ~1/sqrt(E) */
    for (int l = 0; l < NL; l++) {
#define T(field, nm, type, kk, nn, sc)                                \
    snprintf(name, sizeof name, "blk.%d." nm, l);                      \
    W->L[l].field = add_tensor(&tl, name, type, kk, nn, sc)
        T(attn_norm, "attn_norm.weight", PLM_TYPE_F32, E, 0, 1.0f);
        /* larger q / k weights: peaked attention, so positions (RoPE) matter */
        T(q, "attn_q.weight", s->t_q, E, NH * HD, 4 * ws);
        T(k, "attn_k.weight", s->t_k, E, NKV * HD, 4 * ws);
        T(v, "attn_v.weight", l == 0 ? s->t_v0 : s->t_v, E, NKV * HD, ws);
        T(o, "attn_output.weight", s->t_o, NH * HD, E, ws);
        W->L[l].bq = W->L[l].bk = W->L[l].bv = NULL;
        if (s->biases) {
            T(bq, "attn_q.bias", PLM_TYPE_F32, NH * HD, 0, 0.5f);
            T(bk, "attn_k.bias", PLM_TYPE_F32, NKV * HD, 0, 0.5f);
            T(bv, "attn_v.bias", PLM_TYPE_F32, NKV * HD, 0, 0.5f);
        }
        T(ffn_norm, "ffn_norm.weight", PLM_TYPE_F32, E, 0, 1.0f);
        T(gate, "ffn_gate.weight", s->t_gate, E, FF, ws);
        T(up, "ffn_up.weight", s->t_up, E, FF, ws);
        T(down, "ffn_down.weight", l == 0 ? s->t_down0 : s->t_down, FF, E, 1.0f / 22.0f);
#undef T
        W->L[l].tq = s->t_q, W->L[l].tk = s->t_k, W->L[l].tv = l == 0 ? s->t_v0 : s->t_v, W->L[l].to = s->t_o;
        W->L[l].tgate = s->t_gate, W->L[l].tup = s->t_up, W->L[l].tdown = l == 0 ? s->t_down0 : s->t_down;
        for (int i = 0; i < E; i++) W->L[l].attn_norm[i] = 1.0f + 0.1f * W->L[l].attn_norm[i];
        for (int i = 0; i < E; i++) W->L[l].ffn_norm[i] = 1.0f + 0.1f * W->L[l].ffn_norm[i];
        /* the file holds the adjusted norm weights too */
        for (int t = 0; t < tl.n; t++) {
            char nm[64];
            snprintf(nm, sizeof nm, "blk.%d.attn_norm.weight", l);
            if (!strcmp(tl.t[t].name, nm)) memcpy(tl.t[t].data, W->L[l].attn_norm, sizeof(float) * E);
            snprintf(nm, sizeof nm, "blk.%d.ffn_norm.weight", l);
            if (!strcmp(tl.t[t].name, nm)) memcpy(tl.t[t].data, W->L[l].ffn_norm, sizeof(float) * E);
        }
    }
    /* tensor records, then the data (32-byte aligned) */
    uint64_t off = 0;
    for (int i = 0; i < tl.n; i++) {
        tensor_rec *t = &tl.t[i];
        gw_strv(&w, t->name, strlen(t->name));
        gw_u32v(&w, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) gw_u64v(&w, (uint64_t)t->ne[d]);
        gw_u32v(&w, (uint32_t)t->type);
        gw_u64v(&w, off);
        off += (t->bytes + 31) & ~(uint64_t)31;
    }
    const uint64_t nt = (uint64_t)tl.n;
    memcpy(w.p + 8, &nt, 8);
    memcpy(w.p + 16, &w.n_kv, 8);
    static const uint8_t zeros[32] = {0};
    gw_put(&w, zeros, (32 - w.n % 32) % 32);
    for (int i = 0; i < tl.n; i++) {
        gw_put(&w, tl.t[i].data, tl.t[i].bytes);
        gw_put(&w, zeros, (32 - tl.t[i].bytes % 32) % 32);
        free(tl.t[i].data);
    }
    *size = w.n;
    return w.p;
}

static void free_weights(weights *W, const spec *s) {
    free(W->embd), free(W->out_norm), free(W->freqs);
    if (!s->tied) free(W->out);
    for (int l = 0; l < NL; l++) {
        free(W->L[l].attn_norm), free(W->L[l].q), free(W->L[l].k), free(W->L[l].v), free(W->L[l].o);
        free(W->L[l].bq), free(W->L[l].bk), free(W->L[l].bv), free(W->L[l].ffn_norm);
        free(W->L[l].gate), free(W->L[l].up), free(W->L[l].down);
    }
}

/* ----------------------------------------------------- float64 reference */

/* yarn_factor != 0: YaRN as HF's _compute_yarn_parameters (beta_fast 32, beta_slow 1,
 * original context yarn_orig, attention factor 0.1 ln(factor) + 1 on cos / sin). */
typedef struct { int neox, use_freqs, use_biases; double freq_scale, yarn_factor, yarn_orig, attn_mul; } ref_opts;

static void rms(double *y, const double *x, const float *w) {
    double ss = 0;
    for (int i = 0; i < E; i++) ss += x[i] * x[i];
    const double r = 1.0 / sqrt(ss / E + 1e-5);
    for (int i = 0; i < E; i++) y[i] = x[i] * r * w[i];
}
/* y = W x (+ b), W of ggml type `type` [n][k]. The engine's arithmetic contract
 * (ops.h): Q8_0 / Q4_0 / Q5_0 / Q4_1 / Q5_1 weights see activations quantized to Q8_0 blocks, K-quants to
 * Q8_K blocks (ggml's rules); the reference quantizes them the same way (from the
 * float32 value of its double activations) and does the rest in double. */
static void mv(double *y, const float *W, const float *b, const double *x, int n, int k, int type) {
    float *xf = malloc(sizeof(float) * k);
    double *xd = malloc(sizeof(double) * k);
    for (int i = 0; i < k; i++) xf[i] = (float)x[i], xd[i] = x[i];
    if (type == PLM_TYPE_Q8_0 || type == PLM_TYPE_Q4_0 || type == PLM_TYPE_Q5_0 || type == PLM_TYPE_Q4_1 ||
        type == PLM_TYPE_Q5_1) {
        block_q8_0 *q = malloc(sizeof(block_q8_0) * (k / 32));
        plm_quantize_row_q8_0(xf, q, k);
        for (int i = 0; i < k; i++) xd[i] = (double)plm_fp16_to_fp32(q[i / 32].d) * q[i / 32].qs[i % 32];
        free(q);
    } else if (type == PLM_TYPE_Q4_K || type == PLM_TYPE_Q5_K || type == PLM_TYPE_Q6_K) {
        block_q8_K *q = malloc(sizeof(block_q8_K) * (k / QK_K));
        plm_quantize_row_q8_K(xf, q, k);
        for (int i = 0; i < k; i++) xd[i] = (double)q[i / QK_K].d * q[i / QK_K].qs[i % QK_K];
        free(q);
    }
    for (int c = 0; c < n; c++) {
        double s = b ? b[c] : 0;
        for (int i = 0; i < k; i++) s += (double)W[(size_t)c * k + i] * xd[i];
        y[c] = s;
    }
    free(xf), free(xd);
}
static void rope(double *v, int n_head, int pos, const spec *s, const weights *W, const ref_opts *o) {
    double low = 0, high = 0, msc = 1;
    if (o->yarn_factor) {
        const double pi2 = 2 * 3.14159265358979323846, lb = 2 * log(s->rope_base);
        low = fmax(floor(HD * log(o->yarn_orig / (32 * pi2)) / lb), 0);
        high = fmin(ceil(HD * log(o->yarn_orig / (1 * pi2)) / lb), HD / 2 - 1);
        if (low == high) high += 0.001;
        msc = 0.1 * log(o->yarn_factor) + 1;
    }
    if (o->attn_mul) msc *= o->attn_mul;
    for (int h = 0; h < n_head; h++)
        for (int i = 0; i < HD / 2; i++) {
            double f = pow(s->rope_base, -2.0 * i / HD);
            if (o->yarn_factor) {
                const double e = 1 - fmin(fmax((i - low) / (high - low), 0), 1);
                f = f / o->yarn_factor * (1 - e) + f * e;
            }
            double th = pos * o->freq_scale * f;
            if (o->use_freqs && W->freqs) th /= W->freqs[i];
            const int a = o->neox ? i : 2 * i, b = o->neox ? i + HD / 2 : 2 * i + 1;
            double *x = v + h * HD, x0 = x[a], x1 = x[b];
            x[a] = (x0 * cos(th) - x1 * sin(th)) * msc;
            x[b] = (x1 * cos(th) + x0 * sin(th)) * msc;
        }
}

/* logits[n][NV] for ids[0..n) at positions 0..n-1 */
static void reference(const spec *s, const weights *W, const int32_t *ids, int n, const ref_opts *o, double *logits) {
    double *x = calloc((size_t)n * E, sizeof(double)), *K = calloc((size_t)NL * n * NKV * HD, sizeof(double));
    double *V = calloc((size_t)NL * n * NKV * HD, sizeof(double));
    double h[E], q[NH * HD], att[NH * HD], tmp[E], g[FF], u[FF], sc[NCTX];
    for (int t = 0; t < n; t++)
        for (int i = 0; i < E; i++) x[t * E + i] = W->embd[(size_t)ids[t] * E + i];
    for (int l = 0; l < NL; l++) {
        const float *bq = o->use_biases ? W->L[l].bq : NULL, *bk = o->use_biases ? W->L[l].bk : NULL;
        const float *bv = o->use_biases ? W->L[l].bv : NULL;
        double *Kl = K + (size_t)l * n * NKV * HD, *Vl = V + (size_t)l * n * NKV * HD;
        for (int t = 0; t < n; t++) { /* keys / values of every position first (causal anyway) */
            rms(h, x + t * E, W->L[l].attn_norm);
            mv(Kl + t * NKV * HD, W->L[l].k, bk, h, NKV * HD, E, W->L[l].tk);
            mv(Vl + t * NKV * HD, W->L[l].v, bv, h, NKV * HD, E, W->L[l].tv);
            rope(Kl + t * NKV * HD, NKV, t, s, W, o);
        }
        for (int t = 0; t < n; t++) {
            rms(h, x + t * E, W->L[l].attn_norm);
            mv(q, W->L[l].q, bq, h, NH * HD, E, W->L[l].tq);
            rope(q, NH, t, s, W, o);
            for (int hh = 0; hh < NH; hh++) {
                const int kvh = hh / (NH / NKV);
                double mx = -1e300, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double d = 0;
                    for (int i = 0; i < HD; i++) d += q[hh * HD + i] * Kl[j * NKV * HD + kvh * HD + i];
                    sc[j] = d / sqrt((double)HD);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j <= t; j++) sum += (sc[j] = exp(sc[j] - mx));
                for (int i = 0; i < HD; i++) {
                    double a = 0;
                    for (int j = 0; j <= t; j++) a += sc[j] / sum * Vl[j * NKV * HD + kvh * HD + i];
                    att[hh * HD + i] = a;
                }
            }
            mv(tmp, W->L[l].o, NULL, att, E, NH * HD, W->L[l].to);
            for (int i = 0; i < E; i++) x[t * E + i] += tmp[i];
            rms(h, x + t * E, W->L[l].ffn_norm);
            mv(g, W->L[l].gate, NULL, h, FF, E, W->L[l].tgate);
            mv(u, W->L[l].up, NULL, h, FF, E, W->L[l].tup);
            for (int i = 0; i < FF; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            mv(tmp, W->L[l].down, NULL, g, E, FF, W->L[l].tdown);
            for (int i = 0; i < E; i++) x[t * E + i] += tmp[i];
        }
    }
    for (int t = 0; t < n; t++) {
        rms(h, x + t * E, W->out_norm);
        mv(logits + (size_t)t * NV, W->out, NULL, h, NV, E, W->t_out);
    }
    free(x), free(K), free(V);
}

/* ------------------------------------------------------------------ run */

static double max_diff(const float *a, const double *b, int n, double *scale) {
    double m = 0, s = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i])), s = fmax(s, fabs(b[i]));
    *scale = s;
    return m;
}

/* Engine vs reference; tol relative to the largest logit. wrong: a variant that must be off. */
static void run_case(const spec *s, double rel_tol, const ref_opts *right, const ref_opts *wrong, const char *wrong_what) {
    weights W;
    size_t size;
    uint8_t *file = build_model(s, &W, &size);
    plm_model *m = plm_model_load_buffer(file, size, 0);
    CHECK_MSG(m != NULL, "%s: %s", s->arch, plm_errmsg());
    if (!m) {
        free(file), free_weights(&W, s);
        return;
    }
    const char *info = plm_model_info(m);
    CHECK(info && strstr(info, s->arch));
    /* tokenizer: byte-level BPE with this file's pre-tokenizer */
    int32_t ids[16];
    int nt = plm_tokenize(m, "hello hello", 11, 1, 0, ids, 16);
    if (!strcmp(s->pre, "llama-bpe")) CHECK(nt == 4 && ids[0] == 260 && ids[1] == 259);
    else CHECK(nt == 3 && ids[0] == 259 && ids[1] == ' ' && ids[2] == 259); /* qwen2: no BOS; no "Ġhello" token */

    enum { N = 10, P = 7 }; /* a prefill of 7, then 3 single steps */
    const int32_t seq[N] = {260, 259, 17, 42, 299, 3, 128, 77, 259, 5};
    float *got = malloc(sizeof(float) * N * NV);
    double *ref = malloc(sizeof(double) * N * NV), *bad = malloc(sizeof(double) * N * NV);
    plm_ctx *c = plm_ctx_new(m, 64);
    CHECK(c != NULL);
    int rc = c ? plm_ctx_decode(c, seq, P, got, 1) : -1;
    for (int t = P; t < N && rc == PLM_OK; t++) rc = plm_ctx_decode(c, seq + t, 1, got + (size_t)t * NV, 0);
    CHECK_EQ_INT(rc, PLM_OK);
    reference(s, &W, seq, N, right, ref);
    reference(s, &W, seq, N, wrong, bad);
    double scale, sb;
    const double err = max_diff(got, ref, N * NV, &scale);
    const double err_wrong = max_diff(got, bad, N * NV, &sb);
    printf("  %-7s max |logit| %.3g, max error %.3g (%.2e relative); reference %s: %.3g\n", s->arch, scale, err,
           err / scale, wrong_what, err_wrong);
    CHECK_MSG(err <= rel_tol * scale, "%s: error %.3g > %.3g", s->arch, err, rel_tol * scale);
    CHECK_MSG(err_wrong > 10 * err && err_wrong > 2 * rel_tol * scale, "%s: the reference %s is too close (%.3g)",
              s->arch, wrong_what, err_wrong);
    plm_ctx_free(c);
    plm_model_free(m);
    free(got), free(ref), free(bad), free(file);
    free_weights(&W, s);
}

TEST(test_llama3_style) {
    const spec s = {"llama", "llama-bpe", 0, 1, 0, 1, 500000.0f, 0.0f,
                    PLM_TYPE_F16, 0, PLM_TYPE_Q8_0, PLM_TYPE_Q8_0, PLM_TYPE_Q8_0, PLM_TYPE_Q8_0,
                    PLM_TYPE_F16, PLM_TYPE_F16, PLM_TYPE_F16, PLM_TYPE_F16, PLM_TYPE_Q8_0, NULL, 0.0f};
    const ref_opts right = {0, 1, 1, 1.0, 0, 0, 0}, wrong = {0, 0, 1, 1.0, 0, 0, 0};
    run_case(&s, 2e-5, &right, &wrong, "without rope_freqs");
}

TEST(test_qwen2_style) {
    const spec s = {"qwen2", "qwen2", 1, 0, 1, 0, 1000000.0f, 0.0f,
                    PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32,
                    PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, NULL, 0.0f};
    const ref_opts right = {1, 0, 1, 1.0, 0, 0, 0}, norm = {0, 0, 1, 1.0, 0, 0, 0}, nobias = {1, 0, 0, 1.0, 0, 0, 0};
    run_case(&s, 1e-5, &right, &norm, "with NORM RoPE");
    run_case(&s, 1e-5, &right, &nobias, "without biases");
}

/* YaRN (rope.scaling.type "yarn", factor 4, original context 16): the ramp covers pairs 0..4 */
TEST(test_yarn) {
    const spec s = {"llama", "llama-bpe", 0, 1, 0, 0, 10000.0f, 4.0f,
                    PLM_TYPE_F32, 0, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32,
                    PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, "yarn", 0.0f};
    const ref_opts right = {0, 0, 0, 1.0, 4.0, 16.0, 0}, linear = {0, 0, 0, 0.25, 0, 0, 0};
    run_case(&s, 2e-5, &right, &linear, "with linear scaling instead");
}

/* LongRoPE (Phi-3): original context 16 < the context of 64 -> long factors, cos / sin
 * times sqrt(1 + ln(128 / 16) / ln(16)) (HF's attention factor for context_length 128) */
TEST(test_longrope) {
    const spec s = {"llama", "llama-bpe", 0, 1, 0, 0, 10000.0f, 8.0f,
                    PLM_TYPE_F32, 0, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32,
                    PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, "longrope", 0.0f};
    const ref_opts right = {0, 1, 0, 1.0, 0, 0, sqrt(1 + log(8.0) / log(16.0))}, plain = {0, 0, 0, 1.0, 0, 0, 0};
    run_case(&s, 2e-5, &right, &plain, "without LongRoPE");
}

TEST(test_q4_k_m_style) {
    const spec s = {"llama", "llama-bpe", 0, 0, 0, 0, 10000.0f, 4.0f,
                    PLM_TYPE_Q4_K, PLM_TYPE_Q6_K, PLM_TYPE_Q4_K, PLM_TYPE_Q5_K, PLM_TYPE_Q4_K, PLM_TYPE_Q4_K,
                    PLM_TYPE_Q4_K, PLM_TYPE_Q4_K, PLM_TYPE_Q4_K, PLM_TYPE_Q6_K, PLM_TYPE_Q6_K, NULL, 0.0f};
    const ref_opts right = {0, 0, 0, 0.25, 0, 0, 0}, unscaled = {0, 0, 0, 1.0, 0, 0, 0};
    run_case(&s, 2e-5, &right, &unscaled, "without linear scaling");
}

/* Files this engine would run differently from llama.cpp are refused, with the reason. */
static void expect_refused(spec s, int code, const char *needle) {
    weights W;
    size_t size;
    uint8_t *file = build_model(&s, &W, &size);
    plm_clear_error();
    plm_model *m = plm_model_load_buffer(file, size, 0);
    CHECK_MSG(m == NULL && plm_errcode() == code && strstr(plm_errmsg(), needle), "want %d '%s', got %d '%s'", code,
              needle, plm_errcode(), plm_errmsg());
    plm_model_free(m);
    free(file);
    free_weights(&W, &s);
}

TEST(test_refusals) {
    spec s = {"llama", "llama-bpe", 0, 1, 0, 1, 10000.0f, 4.0f,
              PLM_TYPE_F32, 0, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32,
              PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, PLM_TYPE_F32, "longrope", 0.0f};
    /* LongRoPE without its factor tables */
    expect_refused(s, PLM_E_MISSING, "rope_factors_long.weight");
    s.scaling = "something";
    expect_refused(s, PLM_E_UNSUPPORTED, "something");
    s.scaling = NULL;
    s.scale_factor = 0.0f;
    s.bad_freq = -1.0f;
    expect_refused(s, PLM_E_FORMAT, "rope_freqs");
    /* YaRN with factor 1 is no scaling at all: accepted */
    s.bad_freq = 0.0f;
    s.scaling = "yarn";
    s.scale_factor = 1.0f;
    weights W;
    size_t size;
    uint8_t *file = build_model(&s, &W, &size);
    plm_model *m = plm_model_load_buffer(file, size, 0);
    CHECK_MSG(m != NULL, "%s", plm_errmsg());
    plm_model_free(m);
    free(file);
    free_weights(&W, &s);
}

int main(void) {
    RUN(test_llama3_style);
    RUN(test_qwen2_style);
    RUN(test_yarn);
    RUN(test_longrope);
    RUN(test_q4_k_m_style);
    RUN(test_refusals);
    return test_summary();
}
