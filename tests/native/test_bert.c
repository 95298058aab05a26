/* test_bert.c — the BERT encoder and its heads against tests/fixtures/bert (see its
 * PROVENANCE.md): llama.cpp-converted GGUFs (F32 / F16 / Q8_0) and the goldens of
 * cases.json, computed in float64 from the float32 weights.
 *
 *   hidden     last_hidden_state of every case, driven by the golden ids / type ids
 *   embedding  mean pooling + L2 normalisation vs sentence_embedding (and the
 *              unnormalised mean), cosine similarity
 *   batch      the padded batch packed into one call equals its goldens and, bit for
 *              bit, each sentence run alone; so does a batch of all cases
 *   heads      pooler, masked-LM logits and a classifier, from a file made here: the
 *              fixture GGUF + the head tensors of hf/model.safetensors (+ a synthetic
 *              3-label classifier whose expected logits come from the golden pooler
 *              output), spliced into a new GGUF in memory
 *   fused      blk.N.attn_qkv (llama.cpp's fused form) gives the same bits as q/k/v
 *   tokenizer  the case texts tokenize (plm_tokenize[_pair], parse_special) to the golden ids
 *   errors     wrong architecture, vocab-only, too long, bad ids / types / lengths, missing
 *              or incomplete heads
 *
 * Tolerances: max abs error vs the goldens per file type; the goldens are float64 math on
 * the float32 weights, so F16 / Q8_0 include the weight rounding (and, for Q8_0, the Q8_0
 * activations inside the dot products, as ggml). Bounds are the measured values with
 * headroom; the kernels are bit-identical across scalar / SIMD / threads (ops.h), so
 * these are fixed numbers for a given libm (native glibc and wasm musl erff / tanhf / expf
 * differ in the last bits). Measured, native / wasm SIMD where they differ:
 *          hidden           embedding        pooler           MLM logits       1 - cosine
 *   F32    1.97e-6/2.12e-6  1.74e-7/1.59e-7  7.54e-7/7.25e-7  5.55e-6/5.21e-6  4.7e-14/3.7e-14
 *   F16    3.20e-3          3.87e-4          1.30e-3          7.97e-3          2.2e-7
 *   Q8_0   0.111            6.87e-3          0.0775           0.328            1.7e-4
 * For reference (fixture README): HF float32 2.1e-6 / 1.8e-7 / 1.1e-6 / 4.8e-6; exact math
 * on the F16 weights 3.2e-3 / 3.9e-4 / 1.3e-3 / 8.0e-3, on the Q8_0 weights 0.074 / 7.1e-3 /
 * 0.057 / 0.33 (so the Q8_0 MLM logits cannot meet 0.15 even with exact arithmetic);
 * llama.cpp Q8_0 hidden 0.10, cosine 0.99982. The pooler / MLM weights are float32 here
 * (appended to each fixture file); the JS tests convert them at every type.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "fixture.h"
#include "plm.h"

enum { N_TYPES = 3 };
static const char *const TYPES[N_TYPES] = {"F32", "F16", "Q8_0"};
static const char *const FILES[N_TYPES] = {"tests/fixtures/bert/tiny-bert-random-f32.gguf",
                                           "tests/fixtures/bert/tiny-bert-random-f16.gguf",
                                           "tests/fixtures/bert/tiny-bert-random-q80.gguf"};
/* bounds: hidden, embedding, pooler, mlm logits; minimum cosine of the embeddings */
static const double TOL[N_TYPES][4] = {
    {1e-5, 1e-6, 5e-6, 2e-5},
    {5e-3, 6e-4, 2e-3, 1.2e-2},
    {0.15, 0.01, 0.1, 0.45},
};
static const double MIN_COS[N_TYPES] = {1 - 1e-10, 1 - 1e-6, 1 - 5e-4};

static double g_err[N_TYPES][5]; /* measured maxima: hidden, embedding, pooler, mlm, 1-cos */

static json_value *g_cases;
static int E, V;

static double cosine(const float *a, const json_value *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += a[i] * b->arr[i]->num;
        aa += (double)a[i] * a[i];
        bb += b->arr[i]->num * b->arr[i]->num;
    }
    return ab / sqrt(aa * bb);
}

static void track(int t, int what, double e) {
    if (!(e <= g_err[t][what])) g_err[t][what] = e;
}

static int info_int(plm_model *m, const char *key) {
    const char *info = plm_model_info(m);
    json_value *v = info ? json_parse(info, strlen(info)) : NULL;
    json_value *x = json_get(v, key);
    int n = x ? (int)x->num : -1;
    json_free(v);
    return n;
}

/* ------------------------------------------------- splicing tensors into a GGUF
 * A new GGUF = the fixture file + extra tensors (and optionally one string-array
 * key): header counts patched, original metadata / tensor infos / data copied
 * verbatim, the new tensors appended after the original data. */
typedef struct {
    const char *name;
    int n_dims;
    int64_t ne[2];
    const float *data; /* F32 */
} extra_tensor;

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 1 << 16;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) { put_u64(b, strlen(s)), put(b, s, strlen(s)); }
static void pad_to(buf *b, size_t align) {
    static const uint8_t z[64] = {0};
    put(b, z, (align - b->n % align) % align);
}

static uint64_t rd_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t rd_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* size of one GGUF value of type t at p (strings and arrays walked) */
static size_t value_size(const uint8_t *p, uint32_t t) {
    static const size_t SZ[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (t == 8) return 8 + rd_u64(p);
    if (t == 9) {
        uint32_t et = rd_u32(p);
        uint64_t n = rd_u64(p + 4);
        size_t o = 12;
        if (et != 8 && et != 9) return o + SZ[et] * n;
        for (uint64_t i = 0; i < n; i++) o += value_size(p + o, et);
        return o;
    }
    return SZ[t];
}

static uint8_t *splice(const char *path, const extra_tensor *x, int n_x, const char *labels_key,
                       const char *const *labels, int n_labels, size_t *out_len) {
    size_t len = 0;
    uint8_t *f = (uint8_t *)test_read_file(path, &len);
    if (!f) return NULL;
    const uint64_t n_t = rd_u64(f + 8), n_kv = rd_u64(f + 16);
    size_t o = 24;
    for (uint64_t i = 0; i < n_kv; i++) {
        o += 8 + rd_u64(f + o); /* key */
        uint32_t t = rd_u32(f + o);
        o += 4 + value_size(f + o + 4, t);
    }
    const size_t kv_end = o;
    for (uint64_t i = 0; i < n_t; i++) {
        o += 8 + rd_u64(f + o);
        uint32_t nd = rd_u32(f + o);
        o += 4 + 8 * (size_t)nd + 4 + 8;
    }
    const size_t info_end = o, data0 = (o + 31) / 32 * 32; /* general.alignment absent: 32 */
    const size_t old_data = (len - data0 + 31) / 32 * 32;

    buf b = {0};
    put(&b, f, 8);
    put_u64(&b, n_t + (uint64_t)n_x);
    put_u64(&b, n_kv + (labels_key ? 1 : 0));
    put(&b, f + 24, kv_end - 24);
    if (labels_key) {
        put_str(&b, labels_key);
        put_u32(&b, 9);
        put_u32(&b, 8);
        put_u64(&b, (uint64_t)n_labels);
        for (int i = 0; i < n_labels; i++) put_str(&b, labels[i]);
    }
    put(&b, f + kv_end, info_end - kv_end);
    size_t off = old_data;
    for (int i = 0; i < n_x; i++) {
        put_str(&b, x[i].name);
        put_u32(&b, (uint32_t)x[i].n_dims);
        for (int d = 0; d < x[i].n_dims; d++) put_u64(&b, (uint64_t)x[i].ne[d]);
        put_u32(&b, 0); /* F32 */
        put_u64(&b, off);
        off += ((size_t)x[i].ne[0] * (x[i].n_dims > 1 ? x[i].ne[1] : 1) * 4 + 31) / 32 * 32;
    }
    pad_to(&b, 32);
    put(&b, f + data0, len - data0);
    pad_to(&b, 32);
    for (int i = 0; i < n_x; i++) {
        put(&b, x[i].data, (size_t)x[i].ne[0] * (x[i].n_dims > 1 ? x[i].ne[1] : 1) * 4);
        pad_to(&b, 32);
    }
    free(f);
    *out_len = b.n;
    return b.p;
}

/* Float32 tensors of hf/model.safetensors by name. */
typedef struct {
    char *file;
    size_t len;
    json_value *hdr;
    size_t data0;
} safetensors;

static int st_open(safetensors *st, const char *path) {
    memset(st, 0, sizeof *st);
    st->file = test_read_file(path, &st->len);
    if (!st->file || st->len < 8) return 0;
    uint64_t n = rd_u64((const uint8_t *)st->file);
    st->hdr = json_parse(st->file + 8, (size_t)n);
    st->data0 = 8 + (size_t)n;
    return st->hdr != NULL;
}

static const float *st_get(const safetensors *st, const char *name, int64_t numel) {
    const json_value *t = json_get(st->hdr, name);
    const json_value *offs = json_get(t, "data_offsets");
    if (!offs || strcmp(json_get(t, "dtype")->str, "F32") != 0) return NULL;
    size_t b = (size_t)offs->arr[0]->num, e = (size_t)offs->arr[1]->num;
    if (e - b != (size_t)numel * 4) return NULL;
    return (const float *)(st->file + st->data0 + b); /* 8 + header is 8-aligned in the fixture */
}

static void st_close(safetensors *st) {
    json_free(st->hdr);
    free(st->file);
}

/* ------------------------------------------------------ encoder goldens */
static void check_case(int t, plm_model *m, const json_value *c) {
    const char *name = json_get(c, "name")->str;
    int n, nt;
    int32_t *ids = fixture_ids(json_get(c, "input_ids"), &n);
    int32_t *types = fixture_ids(json_get(c, "token_type_ids"), &nt);
    float *h = malloc((size_t)n * E * sizeof *h), emb[64], raw[64];
    int32_t len = n;
    int rc = plm_bert_encode(m, ids, types, &len, 1, h);
    CHECK_MSG(rc == PLM_OK, "%s %s: %s", TYPES[t], name, plm_errmsg());
    if (rc == PLM_OK) {
        const json_value *gold = json_get(c, "last_hidden_state");
        double e = 0;
        for (int i = 0; i < n; i++) {
            double ei = fixture_max_err(h + (size_t)i * E, gold->arr[i], E);
            if (!(ei <= e)) e = ei;
        }
        track(t, 0, e);
        CHECK_MSG(e <= TOL[t][0], "%s %s: hidden max abs %.3g > %.3g", TYPES[t], name, e, TOL[t][0]);

        CHECK(plm_bert_pool(m, h, &len, 1, PLM_POOL_MEAN, 1, emb) == PLM_OK);
        CHECK(plm_bert_pool(m, h, &len, 1, PLM_POOL_MEAN, 0, raw) == PLM_OK);
        e = fixture_max_err(emb, json_get(c, "sentence_embedding"), E);
        track(t, 1, e);
        CHECK_MSG(e <= TOL[t][1], "%s %s: embedding max abs %.3g > %.3g", TYPES[t], name, e, TOL[t][1]);
        e = fixture_max_err(raw, json_get(c, "sentence_embedding_unnormalized"), E);
        CHECK_MSG(e <= TOL[t][0], "%s %s: mean max abs %.3g > %.3g", TYPES[t], name, e, TOL[t][0]);
        const double cs = cosine(emb, json_get(c, "sentence_embedding"), E);
        track(t, 4, 1 - cs);
        CHECK_MSG(cs >= MIN_COS[t], "%s %s: cosine %.9f < %.9f", TYPES[t], name, cs, MIN_COS[t]);

        /* CLS pooling = row 0, LAST = row n-1 */
        CHECK(plm_bert_pool(m, h, &len, 1, PLM_POOL_CLS, 0, emb) == PLM_OK);
        CHECK(memcmp(emb, h, (size_t)E * sizeof *h) == 0);
        CHECK(plm_bert_pool(m, h, &len, 1, PLM_POOL_LAST, 0, emb) == PLM_OK);
        CHECK(memcmp(emb, h + (size_t)(n - 1) * E, (size_t)E * sizeof *h) == 0);
    }
    free(h);
    free(ids);
    free(types);
}

TEST(goldens) {
    for (int t = 0; t < N_TYPES; t++) {
        plm_model *m = plm_model_load_file(FILES[t], 0);
        CHECK_MSG(m != NULL, "load %s: %s", FILES[t], plm_errmsg());
        if (!m) continue;
        CHECK_EQ_INT(info_int(m, "embeddingLength"), E);
        CHECK_EQ_INT(info_int(m, "contextLength"), 512);
        const json_value *cases = json_get(g_cases, "cases");
        for (size_t i = 0; i < cases->n; i++) check_case(t, m, cases->arr[i]);
        plm_model_free(m);
    }
}

/* ------------------------------------------------------------- batches */
static void run_padded_batch(int t, plm_model *m) {
    const json_value *pb = json_get(g_cases, "padded_batch");
    const json_value *ids = json_get(pb, "input_ids"), *types = json_get(pb, "token_type_ids"),
                     *mask = json_get(pb, "attention_mask");
    const int n_seq = (int)ids->n;
    int32_t lens[8], pids[256], ptypes[256];
    int total = 0;
    for (int s = 0; s < n_seq; s++) {
        lens[s] = 0;
        for (size_t i = 0; i < mask->arr[s]->n; i++) {
            if (mask->arr[s]->arr[i]->num == 0) break;
            pids[total] = (int32_t)ids->arr[s]->arr[i]->num;
            ptypes[total] = (int32_t)types->arr[s]->arr[i]->num;
            total++, lens[s]++;
        }
    }
    float *h = malloc((size_t)total * E * sizeof *h), *one = malloc((size_t)total * E * sizeof *h);
    float emb[8 * 64];
    CHECK(plm_bert_encode(m, pids, ptypes, lens, n_seq, h) == PLM_OK);
    CHECK(plm_bert_pool(m, h, lens, n_seq, PLM_POOL_MEAN, 1, emb) == PLM_OK);
    for (int s = 0, off = 0; s < n_seq; off += lens[s++]) {
        double e = 0;
        for (int i = 0; i < lens[s]; i++) {
            double ei = fixture_max_err(h + (size_t)(off + i) * E, json_get(pb, "last_hidden_state")->arr[s]->arr[i], E);
            if (!(ei <= e)) e = ei;
        }
        track(t, 0, e);
        CHECK_MSG(e <= TOL[t][0], "%s padded row %d: hidden max abs %.3g", TYPES[t], s, e);
        e = fixture_max_err(emb + (size_t)s * E, json_get(pb, "sentence_embedding")->arr[s], E);
        track(t, 1, e);
        CHECK_MSG(e <= TOL[t][1], "%s padded row %d: embedding max abs %.3g", TYPES[t], s, e);
        /* alone: the same bits */
        CHECK(plm_bert_encode(m, pids + off, ptypes + off, &lens[s], 1, one) == PLM_OK);
        CHECK_MSG(memcmp(one, h + (size_t)off * E, (size_t)lens[s] * E * sizeof *h) == 0,
                  "%s padded row %d differs from the sentence run alone", TYPES[t], s);
    }
    free(h);
    free(one);
}

/* every case in one call == each case alone, bit for bit (several groups: > 512 tokens
 * when repeated) */
static void run_all_cases_batch(int t, plm_model *m) {
    const json_value *cases = json_get(g_cases, "cases");
    enum { REP = 4 };
    const int n_seq = (int)cases->n * REP;
    int32_t *lens = malloc((size_t)n_seq * sizeof *lens);
    int total = 0;
    for (int s = 0; s < n_seq; s++) total += lens[s] = (int32_t)json_get(cases->arr[s % cases->n], "input_ids")->n;
    int32_t *ids = malloc((size_t)total * sizeof *ids), *types = malloc((size_t)total * sizeof *ids);
    for (int s = 0, off = 0; s < n_seq; off += lens[s++]) {
        const json_value *c = cases->arr[s % cases->n];
        for (int i = 0; i < lens[s]; i++) {
            ids[off + i] = (int32_t)json_get(c, "input_ids")->arr[i]->num;
            types[off + i] = (int32_t)json_get(c, "token_type_ids")->arr[i]->num;
        }
    }
    CHECK(total > 512);
    float *h = malloc((size_t)total * E * sizeof *h), *one = malloc((size_t)512 * E * sizeof *h);
    CHECK(plm_bert_encode(m, ids, types, lens, n_seq, h) == PLM_OK);
    int same = 1;
    for (int s = 0, off = 0; s < n_seq; off += lens[s++]) {
        CHECK(plm_bert_encode(m, ids + off, types + off, &lens[s], 1, one) == PLM_OK);
        if (memcmp(one, h + (size_t)off * E, (size_t)lens[s] * E * sizeof *h) != 0) same = 0;
    }
    CHECK_MSG(same, "%s: a batch of all cases differs from the cases run alone", TYPES[t]);
    free(h);
    free(one);
    free(ids);
    free(types);
    free(lens);
}

TEST(batches) {
    for (int t = 0; t < N_TYPES; t++) {
        plm_model *m = plm_model_load_file(FILES[t], 0);
        CHECK(m != NULL);
        if (!m) continue;
        run_padded_batch(t, m);
        run_all_cases_batch(t, m);
        plm_model_free(m);
    }
}

/* --------------------------------------------------------------- heads */
static const char *const LABELS[3] = {"negative", "neutral", "positive \"quoted\""};

/* deterministic pseudo-random weights for the synthetic classifier */
static float rnd(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return ((float)(*s >> 8) / 16777216.0f - 0.5f) * 0.5f;
}

static plm_model *load_with_heads(int t, const safetensors *st, float *cls_w, float *cls_b,
                                  int with_mlm, int with_cls) {
    extra_tensor x[12];
    int n = 0;
#define ADD(gguf, hf, d0, d1)                                                            \
    x[n] = (extra_tensor){gguf, (d1) ? 2 : 1, {d0, d1}, st_get(st, hf, (int64_t)(d0) * ((d1) ? (d1) : 1))}; \
    CHECK_MSG(x[n].data != NULL, "safetensors: %s", hf);                                \
    n++
    ADD("cls.weight", "bert.pooler.dense.weight", E, E);
    ADD("cls.bias", "bert.pooler.dense.bias", E, 0);
    if (with_mlm) {
        ADD("mlm.dense.weight", "cls.predictions.transform.dense.weight", E, E);
        ADD("mlm.dense.bias", "cls.predictions.transform.dense.bias", E, 0);
        ADD("mlm.norm.weight", "cls.predictions.transform.LayerNorm.weight", E, 0);
        ADD("mlm.norm.bias", "cls.predictions.transform.LayerNorm.bias", E, 0);
        ADD("mlm.output.bias", "cls.predictions.bias", V, 0);
    }
#undef ADD
    if (with_cls) {
        x[n++] = (extra_tensor){"cls.output.weight", 2, {E, 3}, cls_w};
        x[n++] = (extra_tensor){"cls.output.bias", 1, {3, 0}, cls_b};
    }
    for (int i = 0; i < n; i++)
        if (!x[i].data) return NULL;
    size_t len = 0;
    uint8_t *file = splice(FILES[t], x, n, with_cls ? "bert.classifier.output_labels" : NULL, LABELS,
                           3, &len);
    plm_model *m = file ? plm_model_load_buffer(file, len, 0) : NULL;
    CHECK_MSG(m != NULL, "load %s + heads: %s", TYPES[t], plm_errmsg());
    free(file);
    return m;
}

TEST(heads) {
    safetensors st;
    CHECK(st_open(&st, "tests/fixtures/bert/hf/model.safetensors"));
    float cls_w[3 * 64], cls_b[3];
    uint32_t seed = 7;
    for (int i = 0; i < 3 * E; i++) cls_w[i] = rnd(&seed);
    for (int i = 0; i < 3; i++) cls_b[i] = rnd(&seed);
    const json_value *cases = json_get(g_cases, "cases");

    for (int t = 0; t < N_TYPES; t++) {
        plm_model *m = load_with_heads(t, &st, cls_w, cls_b, 1, 1);
        if (!m) continue;
        const char *bi = plm_bert_info(m);
        CHECK(bi && strstr(bi, "\"pooler\":true,\"mlm\":true,\"classifier\":true"));
        CHECK(bi && strstr(bi, "\"labels\":[\"negative\",\"neutral\",\"positive \\\"quoted\\\"\"]"));
        CHECK(bi && strstr(bi, "\"pooling\":1"));
        for (size_t ci = 0; ci < cases->n; ci++) {
            const json_value *c = cases->arr[ci];
            const char *name = json_get(c, "name")->str;
            int n, nt;
            int32_t *ids = fixture_ids(json_get(c, "input_ids"), &n);
            int32_t *types = fixture_ids(json_get(c, "token_type_ids"), &nt);
            int32_t len = n;
            float *h = malloc((size_t)n * E * sizeof *h), pooled[64], logits[3];
            CHECK(plm_bert_encode(m, ids, types, &len, 1, h) == PLM_OK);

            CHECK(plm_bert_pooler(m, h, &len, 1, pooled) == PLM_OK);
            double e = fixture_max_err(pooled, json_get(c, "pooler_output"), E);
            track(t, 2, e);
            CHECK_MSG(e <= TOL[t][2], "%s %s: pooler max abs %.3g > %.3g", TYPES[t], name, e, TOL[t][2]);

            /* classifier: W · pooled + b, expected from the golden pooler output */
            CHECK_EQ_INT(plm_bert_classify(m, h, &len, 1, logits), 3);
            const json_value *gp = json_get(c, "pooler_output");
            for (int k = 0; k < 3; k++) {
                double want = cls_b[k];
                for (int i = 0; i < E; i++) want += (double)cls_w[k * E + i] * gp->arr[i]->num;
                CHECK_NEAR(logits[k], want, 2 * TOL[t][2]);
            }

            const json_value *mlm = json_get(c, "mlm");
            if (mlm) {
                const json_value *pos = json_get(mlm, "masked_positions");
                const int k = (int)pos->n;
                float *rows = malloc((size_t)k * E * sizeof *rows), *lg = malloc((size_t)k * V * sizeof *lg);
                for (int j = 0; j < k; j++)
                    memcpy(rows + (size_t)j * E, h + (size_t)pos->arr[j]->num * E, (size_t)E * sizeof *rows);
                CHECK(plm_bert_mlm(m, rows, k, lg) == PLM_OK);
                for (int j = 0; j < k; j++) {
                    e = fixture_max_err(lg + (size_t)j * V, json_get(mlm, "logits")->arr[j], V);
                    track(t, 3, e);
                    CHECK_MSG(e <= TOL[t][3], "%s %s: MLM logits max abs %.3g > %.3g", TYPES[t], name, e, TOL[t][3]);
                    /* the golden top-1 is our top-1 when the types are exact enough */
                    int best = 0;
                    for (int i = 1; i < V; i++)
                        if (lg[(size_t)j * V + i] > lg[(size_t)j * V + best]) best = i;
                    if (t < 2) CHECK_EQ_INT(best, json_get(mlm, "top5_ids")->arr[j]->arr[0]->num);
                }
                free(rows);
                free(lg);
            }
            free(h);
            free(ids);
            free(types);
        }
        /* pooler / classifier over a batch: row s = sequence s alone */
        {
            const json_value *c0 = cases->arr[0], *c1 = cases->arr[4];
            int n0, n1, nt;
            int32_t *a = fixture_ids(json_get(c0, "input_ids"), &n0), *b = fixture_ids(json_get(c1, "input_ids"), &n1);
            int32_t *ta = fixture_ids(json_get(c0, "token_type_ids"), &nt), *tb = fixture_ids(json_get(c1, "token_type_ids"), &nt);
            int32_t *ids = malloc((size_t)(n0 + n1) * sizeof *ids), *types = malloc((size_t)(n0 + n1) * sizeof *ids);
            memcpy(ids, a, (size_t)n0 * 4), memcpy(ids + n0, b, (size_t)n1 * 4);
            memcpy(types, ta, (size_t)n0 * 4), memcpy(types + n0, tb, (size_t)n1 * 4);
            int32_t lens[2] = {n0, n1};
            float *h = malloc((size_t)(n0 + n1) * E * sizeof *h), pb[2 * 64], p1[64], lb[6], l1[3];
            CHECK(plm_bert_encode(m, ids, types, lens, 2, h) == PLM_OK);
            CHECK(plm_bert_pooler(m, h, lens, 2, pb) == PLM_OK);
            CHECK(plm_bert_classify(m, h, lens, 2, lb) == 3);
            CHECK(plm_bert_pooler(m, h + (size_t)n0 * E, &lens[1], 1, p1) == PLM_OK);
            CHECK(plm_bert_classify(m, h + (size_t)n0 * E, &lens[1], 1, l1) == 3);
            CHECK(memcmp(pb + E, p1, (size_t)E * 4) == 0);
            CHECK(memcmp(lb + 3, l1, 3 * 4) == 0);
            free(h), free(ids), free(types), free(a), free(b), free(ta), free(tb);
        }
        plm_model_free(m);
    }

    /* pooler only: MLM and classifier are clear errors */
    plm_model *m = load_with_heads(0, &st, cls_w, cls_b, 0, 0);
    if (m) {
        float h[64], out[3 * 30522];
        int32_t ids[2] = {101, 102}, len = 2;
        float hh[2 * 64];
        CHECK(plm_bert_encode(m, ids, NULL, &len, 1, hh) == PLM_OK);
        CHECK(plm_bert_pooler(m, hh, &len, 1, h) == PLM_OK);
        CHECK_EQ_INT(plm_bert_mlm(m, hh, 1, out), PLM_E_MISSING);
        CHECK(strstr(plm_errmsg(), "masked-LM head") != NULL);
        CHECK_EQ_INT(plm_bert_classify(m, hh, &len, 1, out), PLM_E_MISSING);
        const char *bi = plm_bert_info(m);
        CHECK(bi && strstr(bi, "\"pooler\":true,\"mlm\":false,\"classifier\":false"));
        CHECK(bi && strstr(bi, "\"labels\":null"));
        plm_model_free(m);
    }
    st_close(&st);
}

/* An incomplete head or a label list of the wrong length is a format error at load. */
TEST(bad_heads) {
    float w[64 * 64] = {0}, b[64] = {0};
    const extra_tensor partial[] = {{"mlm.dense.weight", 2, {E, E}, w}, {"mlm.dense.bias", 1, {E, 0}, b}};
    size_t len;
    uint8_t *f = splice(FILES[0], partial, 2, NULL, NULL, 0, &len);
    CHECK(plm_model_load_buffer(f, len, 0) == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_FORMAT);
    CHECK(strstr(plm_errmsg(), "masked-LM") != NULL);
    free(f);

    const extra_tensor cls_only[] = {{"cls.output.weight", 2, {E, 2}, w}, {"cls.output.bias", 1, {2, 0}, b}};
    f = splice(FILES[0], cls_only, 2, NULL, NULL, 0, &len);
    CHECK(plm_model_load_buffer(f, len, 0) == NULL);
    CHECK(strstr(plm_errmsg(), "pooler") != NULL);
    free(f);

    const extra_tensor cls[] = {{"cls.weight", 2, {E, E}, w}, {"cls.bias", 1, {E, 0}, b},
                                {"cls.output.weight", 2, {E, 2}, w}, {"cls.output.bias", 1, {2, 0}, b}};
    f = splice(FILES[0], cls, 4, "bert.classifier.output_labels", LABELS, 3, &len);
    CHECK(plm_model_load_buffer(f, len, 0) == NULL);
    CHECK(strstr(plm_errmsg(), "output_labels") != NULL);
    free(f);

    const extra_tensor wrong_shape[] = {{"cls.weight", 2, {E, E + 1}, w}, {"cls.bias", 1, {E, 0}, b}};
    f = splice(FILES[0], wrong_shape, 2, NULL, NULL, 0, &len);
    CHECK(plm_model_load_buffer(f, len, 0) == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_FORMAT);
    free(f);
}

/* ------------------------------------------------- fused attn_qkv (llama.cpp) */
TEST(fused_qkv) {
    plm_model *ref = plm_model_load_file(FILES[0], 0);
    safetensors st;
    CHECK(st_open(&st, "tests/fixtures/bert/hf/model.safetensors"));
    float *qkv[2], *bqkv[2];
    extra_tensor x[4];
    char names[4][64];
    for (int l = 0; l < 2; l++) {
        qkv[l] = malloc((size_t)3 * E * E * sizeof(float));
        bqkv[l] = malloc((size_t)3 * E * sizeof(float));
        static const char *const part[3] = {"query", "key", "value"};
        for (int p = 0; p < 3; p++) {
            char n[128];
            snprintf(n, sizeof n, "bert.encoder.layer.%d.attention.self.%s.weight", l, part[p]);
            const float *wp = st_get(&st, n, (int64_t)E * E);
            snprintf(n, sizeof n, "bert.encoder.layer.%d.attention.self.%s.bias", l, part[p]);
            const float *bp = st_get(&st, n, E);
            CHECK(wp && bp);
            if (!wp || !bp) return;
            memcpy(qkv[l] + (size_t)p * E * E, wp, (size_t)E * E * 4);
            memcpy(bqkv[l] + (size_t)p * E, bp, (size_t)E * 4);
        }
        snprintf(names[2 * l], 64, "blk.%d.attn_qkv.weight", l);
        snprintf(names[2 * l + 1], 64, "blk.%d.attn_qkv.bias", l);
        x[2 * l] = (extra_tensor){names[2 * l], 2, {E, 3 * E}, qkv[l]};
        x[2 * l + 1] = (extra_tensor){names[2 * l + 1], 1, {3 * E, 0}, bqkv[l]};
    }
    size_t len;
    uint8_t *f = splice(FILES[0], x, 4, NULL, NULL, 0, &len);
    plm_model *m = plm_model_load_buffer(f, len, 0);
    CHECK_MSG(m != NULL, "fused: %s", plm_errmsg());
    const json_value *c = json_get(g_cases, "cases")->arr[4]; /* the sentence pair */
    int n, nt;
    int32_t *ids = fixture_ids(json_get(c, "input_ids"), &n), *types = fixture_ids(json_get(c, "token_type_ids"), &nt);
    int32_t sl = n;
    float *a = malloc((size_t)n * E * 4), *b = malloc((size_t)n * E * 4);
    CHECK(m && ref && plm_bert_encode(ref, ids, types, &sl, 1, a) == PLM_OK &&
          plm_bert_encode(m, ids, types, &sl, 1, b) == PLM_OK);
    CHECK(memcmp(a, b, (size_t)n * E * 4) == 0);
    free(a), free(b), free(ids), free(types), free(f);
    for (int l = 0; l < 2; l++) free(qkv[l]), free(bqkv[l]);
    plm_model_free(m);
    plm_model_free(ref);
    st_close(&st);
}

/* ------------------------------------------------------------ tokenizer */
TEST(tokenizer) {
    plm_model *m = plm_model_load_file(FILES[0], PLM_LOAD_VOCAB_ONLY);
    CHECK(m != NULL);
    if (!m) return;
    const json_value *cases = json_get(g_cases, "cases");
    int32_t ids[256], types[256];
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = cases->arr[i], *text = json_get(c, "text");
        const char *name = json_get(c, "name")->str;
        int n, nt;
        int32_t *gold = fixture_ids(json_get(c, "input_ids"), &n), *gt = fixture_ids(json_get(c, "token_type_ids"), &nt);
        int got;
        if (text->type == JSON_ARR) {
            const json_value *a = text->arr[0], *b = text->arr[1];
            got = plm_tokenize_pair(m, a->str, (int)a->slen, b->str, (int)b->slen, 1, ids, types, 256);
        } else {
            /* HF splits special-token literals ("[MASK]") out of the text: parse_special */
            got = plm_tokenize(m, text->str, (int)text->slen, 1, 1, ids, 256);
            for (int k = 0; k < 256; k++) types[k] = 0;
        }
        if (strcmp(name, "mlm_one_mask") == 0) {
            /* The golden ids of this case spell "[MASK]." as '[', 'mask', ']', '.': the
             * fixture generator ran BasicTokenizer without the added-token split, which
             * keeps "[MASK]" whole only when whitespace surrounds it. Hugging Face's
             * tokenizer (slow and fast) gives [MASK] = 103 here, and so do we; without
             * parse_special we reproduce the golden ids. */
            CHECK(got == n - 2 && ids[6] == 103);
            got = plm_tokenize(m, text->str, (int)text->slen, 1, 0, ids, 256);
        }
        CHECK_MSG(got == n && memcmp(ids, gold, (size_t)n * 4) == 0 && memcmp(types, gt, (size_t)n * 4) == 0,
                  "tokenize %s: got %d ids", name, got);
        free(gold), free(gt);
    }
    plm_model_free(m);
}

/* -------------------------------------------------------------- errors */
TEST(errors) {
    plm_model *m = plm_model_load_file(FILES[0], 0);
    CHECK(m != NULL);
    if (!m) return;
    float *h = malloc((size_t)600 * E * sizeof *h), out[64];
    int32_t ids[600], len;
    for (int i = 0; i < 600; i++) ids[i] = 1000 + i;

    len = 513; /* over the context */
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, h), PLM_E_TOO_LONG);
    CHECK(strstr(plm_errmsg(), "512") != NULL);
    len = 512; /* exactly the context */
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, h), PLM_OK);
    len = 0;
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, h), PLM_E_INVALID);
    len = 3;
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 0, h), PLM_E_INVALID);
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, NULL, 1, h), PLM_E_INVALID);
    CHECK_EQ_INT(plm_bert_encode(m, NULL, NULL, &len, 1, h), PLM_E_INVALID);
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, NULL), PLM_E_INVALID);
    CHECK_EQ_INT(plm_bert_encode(NULL, ids, NULL, &len, 1, h), PLM_E_INVALID);
    ids[1] = V; /* id out of range */
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, h), PLM_E_INVALID);
    ids[1] = -1;
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, h), PLM_E_INVALID);
    ids[1] = 1001;
    int32_t types[3] = {0, 2, 0}; /* two token types */
    CHECK_EQ_INT(plm_bert_encode(m, ids, types, &len, 1, h), PLM_E_INVALID);
    CHECK(strstr(plm_errmsg(), "token type 2") != NULL);
    types[1] = 1;
    CHECK_EQ_INT(plm_bert_encode(m, ids, types, &len, 1, h), PLM_OK);
    CHECK_EQ_INT(plm_bert_pool(m, h, &len, 1, 7, 1, out), PLM_E_INVALID);
    CHECK_EQ_INT(plm_bert_pool(m, h, &len, 1, PLM_POOL_NONE, 1, out), PLM_E_INVALID);
    /* no heads in llama.cpp's files */
    CHECK_EQ_INT(plm_bert_pooler(m, h, &len, 1, out), PLM_E_MISSING);
    CHECK_EQ_INT(plm_bert_mlm(m, h, 1, out), PLM_E_MISSING);
    CHECK(strstr(plm_errmsg(), "plm-wasm convert") != NULL);
    CHECK_EQ_INT(plm_bert_classify(m, h, &len, 1, out), PLM_E_MISSING);
    const char *bi = plm_bert_info(m);
    CHECK(bi && strstr(bi, "\"heads\":{\"pooler\":false,\"mlm\":false,\"classifier\":false}"));
    CHECK(bi && strstr(bi, "\"typeVocabSize\":2"));
    /* a failed call leaves the model usable */
    len = 3;
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, h), PLM_OK);
    plm_model_free(m);

    /* vocab-only load: no weights */
    m = plm_model_load_file(FILES[0], PLM_LOAD_VOCAB_ONLY);
    CHECK(m != NULL);
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, h), PLM_E_STATE);
    CHECK(plm_bert_info(m) == NULL);
    plm_model_free(m);

    /* not a BERT model */
    m = plm_model_load_file("tests/fixtures/gpt2/gpt2-tiny-F32.gguf", 0);
    CHECK(m != NULL);
    CHECK_EQ_INT(plm_bert_encode(m, ids, NULL, &len, 1, h), PLM_E_INVALID);
    CHECK(strstr(plm_errmsg(), "'gpt2', not a BERT") != NULL);
    CHECK_EQ_INT(plm_bert_mlm(m, h, 1, out), PLM_E_INVALID);
    plm_model_free(m);

    /* a BERT model is not a causal LM */
    m = plm_model_load_file(FILES[0], 0);
    CHECK(plm_ctx_new(m, 0) == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_INVALID);
    plm_model_free(m);
    free(h);
}

int main(void) {
    g_cases = fixture_json("tests/fixtures/bert/cases.json");
    if (!g_cases) return 1;
    const json_value *cfg = json_get(json_get(g_cases, "model"), "config");
    E = (int)json_get(cfg, "hidden_size")->num;
    V = (int)json_get(cfg, "vocab_size")->num;
    if (E > 64) return 1; /* fixed-size buffers above */
    RUN(goldens);
    RUN(batches);
    RUN(heads);
    RUN(bad_heads);
    RUN(fused_qkv);
    RUN(tokenizer);
    RUN(errors);
    printf("max abs error vs goldens (hidden / embedding / pooler / mlm logits / 1-cos):\n");
    for (int t = 0; t < N_TYPES; t++)
        printf("  %-5s %.3g / %.3g / %.3g / %.3g / %.3g\n", TYPES[t], g_err[t][0], g_err[t][1],
               g_err[t][2], g_err[t][3], g_err[t][4]);
    json_free(g_cases);
    return test_summary();
}
