/* test_quant.c — ggml types, fp16/bf16 conversion and block formats (quant.c).
 * Golden data: tests/fixtures/quant_vectors.json (ggml's reference quantizers). */
#include <stdint.h>

#include "test.h" /* first: json.h needs math.h */
#include "json.h"
#include "plm.h"
#include "quant.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rng_uniform(void) { return (float)(rng_u32() >> 8) / 16777216.0f; } /* [0, 1) */
static float rng_normal(void) {
    float s = 0;
    for (int i = 0; i < 12; i++) s += rng_uniform();
    return s - 6.0f;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static int hex_nibble(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }
static size_t hex_decode(const char *hex, uint8_t *out, size_t cap) {
    size_t n = strlen(hex) / 2;
    if (n > cap) n = cap;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(hex_nibble(hex[2 * i]) << 4 | hex_nibble(hex[2 * i + 1]));
    return n;
}

/* ------------------------------------------------------------ golden vectors */

TEST(quant_vectors_bit_exact) {
    size_t len = 0;
    char *text = test_read_file("tests/fixtures/quant_vectors.json", &len);
    CHECK_MSG(text != NULL, "cannot read tests/fixtures/quant_vectors.json");
    if (!text) return;
    json_value *root = json_parse(text, len);
    json_value *vecs = json_get(root, "vectors");
    CHECK(vecs && vecs->n >= 12);
    for (size_t v = 0; vecs && v < vecs->n; v++) {
        json_value *vec = vecs->arr[v];
        const char *kind = json_get(vec, "kind")->str;
        float x[64];
        uint8_t raw[256], want[256], got[256];
        CHECK(hex_decode(json_get(vec, "values_f32_hex")->str, raw, sizeof raw) == 256);
        memcpy(x, raw, 256);

        struct { const char *key; int type; size_t bytes; } fmts[] = {
            {"Q8_0", PLM_TYPE_Q8_0, 68}, {"Q4_0", PLM_TYPE_Q4_0, 36}, {"F16", PLM_TYPE_F16, 128}};
        for (int f = 0; f < 3; f++) {
            json_value *fj = json_get(vec, fmts[f].key);
            size_t nb = hex_decode(json_get(fj, "bytes_hex")->str, want, sizeof want);
            CHECK_EQ_INT(nb, fmts[f].bytes);
            CHECK_EQ_INT(plm_type_row_bytes(fmts[f].type, 64), fmts[f].bytes);
            memset(got, 0xAA, sizeof got);
            size_t n = plm_quantize(fmts[f].type, x, got, 1, 64);
            CHECK_EQ_INT(n, fmts[f].bytes);
            CHECK_MSG(!memcmp(got, want, nb), "%s vector %zu (%s): bytes differ from ggml", fmts[f].key, v, kind);
            /* the JS export gives the same bytes */
            uint8_t got2[256];
            CHECK_EQ_INT(plm_quantize_rows(fmts[f].type, x, got2, 1, 64), (int)fmts[f].bytes);
            CHECK(!memcmp(got2, want, nb));

            json_value *deq = json_get(fj, "dequantized");
            float y[64];
            plm_dequantize_row(fmts[f].type, want, y, 64);
            if (deq) {
                CHECK_EQ_INT(deq->n, 64);
                int bad = 0;
                for (int i = 0; i < 64; i++)
                    if (f32_bits(y[i]) != f32_bits((float)deq->arr[i]->num) && !(y[i] == 0 && deq->arr[i]->num == 0)) bad++;
                CHECK_MSG(!bad, "%s vector %zu (%s): %d dequantized values differ", fmts[f].key, v, kind, bad);
            }
            float y2[64];
            CHECK_EQ_INT(plm_dequantize_rows(fmts[f].type, want, y2, 2, 32), (int)fmts[f].bytes);
            CHECK(!memcmp(y, y2, sizeof y));
        }
        /* the separate row quantizers agree with plm_quantize */
        block_q8_0 q8[2];
        plm_quantize_row_q8_0(x, q8, 64);
        CHECK(!memcmp(q8, (hex_decode(json_get(json_get(vec, "Q8_0"), "bytes_hex")->str, want, sizeof want), want), 68));
        block_q4_0 q4[2];
        plm_quantize_row_q4_0(x, q4, 64);
        CHECK(!memcmp(q4, (hex_decode(json_get(json_get(vec, "Q4_0"), "bytes_hex")->str, want, sizeof want), want), 36));
    }
    CHECK_EQ_INT(sizeof(block_q8_0), 34);
    CHECK_EQ_INT(sizeof(block_q4_0), 18);
    CHECK_EQ_INT(sizeof(block_q4_K), 144);
    CHECK_EQ_INT(sizeof(block_q6_K), 210);
    json_free(root);
    free(text);
}

/* --------------------------------------------------------------- fp16 / bf16 */

/* Independent reference: nearest binary16 by search over all finite halves
 * (their values increase with their bit patterns), ties to the even pattern. */
static double half_value[0x7c00];
static void init_half_values(void) {
    for (int h = 0; h < 0x7c00; h++) {
        int e = h >> 10, m = h & 0x3ff;
        half_value[h] = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    }
}
static uint16_t ref_fp32_to_fp16(float f) {
    uint16_t sign = (f32_bits(f) >> 16) & 0x8000;
    if (isnan(f)) return 0x7e00 | sign;
    double a = fabs((double)f);
    if (a >= 65520.0) return sign | 0x7c00; /* 65520 is the tie between 65504 and inf: even = inf */
    int lo = 0, hi = 0x7bff;                /* largest h with value <= a */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (half_value[mid] <= a) lo = mid;
        else hi = mid - 1;
    }
    int h = lo;
    if (h < 0x7bff) {
        double dlo = a - half_value[h], dhi = half_value[h + 1] - a;
        if (dhi < dlo || (dhi == dlo && (h & 1))) h++;
    }
    return sign | (uint16_t)h;
}

TEST(fp16_exhaustive_roundtrip) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = plm_fp16_to_fp32((plm_fp16)h);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) {
            if (!isnan(f)) bad++;
            if ((plm_fp32_to_fp16(f) & 0x7e00) != 0x7e00) bad++; /* stays a (quiet) NaN */
            continue;
        }
        if ((h & 0x7fff) < 0x7c00 && f32_bits((float)half_value[h & 0x7fff] * ((h & 0x8000) ? -1.0f : 1.0f)) != f32_bits(f))
            bad++;
        if (plm_fp32_to_fp16(f) != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(fp16_ties_and_neighbours) {
    /* every midpoint between two adjacent finite halves (exact in float32) must
     * go to the even one; one float ulp either side goes to the nearer one */
    int bad = 0;
    for (int h = 0; h < 0x7bff; h++) {
        for (int s = 0; s < 2; s++) {
            float mid = (float)((half_value[h] + half_value[h + 1]) / 2);
            uint16_t sign = s ? 0x8000 : 0;
            float sm = s ? -mid : mid;
            uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
            if (plm_fp32_to_fp16(sm) != (sign | even)) bad++;
            float below = nextafterf(mid, 0.0f), above = nextafterf(mid, INFINITY);
            if (plm_fp32_to_fp16(s ? -below : below) != (sign | h)) bad++;
            if (plm_fp32_to_fp16(s ? -above : above) != (sign | (h + 1))) bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(plm_fp32_to_fp16(65504.0f), 0x7bff);
    CHECK_EQ_INT(plm_fp32_to_fp16(65519.996f), 0x7bff);
    CHECK_EQ_INT(plm_fp32_to_fp16(65520.0f), 0x7c00);
    CHECK_EQ_INT(plm_fp32_to_fp16(1e6f), 0x7c00);
    CHECK_EQ_INT(plm_fp32_to_fp16(-1e6f), 0xfc00);
    CHECK_EQ_INT(plm_fp32_to_fp16(INFINITY), 0x7c00);
    CHECK_EQ_INT(plm_fp32_to_fp16(-INFINITY), 0xfc00);
    CHECK_EQ_INT(plm_fp32_to_fp16(NAN) & 0x7fff, 0x7e00);
    CHECK_EQ_INT(plm_fp32_to_fp16(-0.0f), 0x8000);
    CHECK_EQ_INT(plm_fp32_to_fp16(0.0f), 0);
    CHECK_EQ_INT(plm_fp32_to_fp16(ldexpf(1, -24)), 0x0001); /* smallest subnormal */
    CHECK_EQ_INT(plm_fp32_to_fp16(ldexpf(1, -25)), 0x0000); /* tie -> even (0) */
    CHECK_EQ_INT(plm_fp32_to_fp16(ldexpf(1.5f, -25)), 0x0001);
    CHECK_EQ_INT(plm_fp32_to_fp16(ldexpf(1, -14)), 0x0400); /* smallest normal */
    CHECK_EQ_INT(plm_fp32_to_fp16(ldexpf(1023, -24)), 0x03ff);
    CHECK_EQ_INT(plm_fp32_to_fp16(1e-30f), 0);
    CHECK_EQ_INT(plm_fp32_to_fp16(bits_f32(1)), 0); /* float subnormal */
    CHECK_EQ_INT(plm_fp32_to_fp16(1.0f), 0x3c00);
    CHECK_EQ_INT(plm_fp32_to_fp16(-2.0f), 0xc000);
    CHECK_EQ_INT(plm_fp32_to_fp16(0.1f), 0x2e66);
    CHECK(plm_fp16_to_fp32(0x7c00) == INFINITY);
    CHECK(plm_fp16_to_fp32(0xfc00) == -INFINITY);
    CHECK(isnan(plm_fp16_to_fp32(0x7e00)));
    CHECK(plm_fp16_to_fp32(0x0001) == ldexpf(1, -24));
    CHECK(signbit(plm_fp16_to_fp32(0x8000)));
}

TEST(fp16_random_vs_reference) {
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t u = rng_u32();
        if (i & 1) u = (u & 0x807fffff) | ((uint32_t)(96 + rng_u32() % 50) << 23); /* exponents near fp16's range */
        float f = bits_f32(u);
        if (plm_fp32_to_fp16(f) != ref_fp32_to_fp16(f)) {
            if (bad++ < 5) fprintf(stderr, "  fp16(%a) = %04x, reference %04x\n", f, plm_fp32_to_fp16(f), ref_fp32_to_fp16(f));
        }
    }
    CHECK_EQ_INT(bad, 0);
    float x[5] = {1, -0.5f, 65504, 1e-7f, 3.14159f};
    plm_fp16 y[5];
    plm_convert_row_f16(x, y, 5);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(y[i], plm_fp32_to_fp16(x[i]));
}

TEST(bf16_conversion) {
    CHECK_EQ_INT(plm_fp32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(plm_fp32_to_bf16(bits_f32(0x3f808000)), 0x3f80); /* tie -> even */
    CHECK_EQ_INT(plm_fp32_to_bf16(bits_f32(0x3f818000)), 0x3f82); /* tie -> even (up) */
    CHECK_EQ_INT(plm_fp32_to_bf16(bits_f32(0x3f808001)), 0x3f81);
    CHECK_EQ_INT(plm_fp32_to_bf16(INFINITY), 0x7f80);
    CHECK_EQ_INT(plm_fp32_to_bf16(-INFINITY), 0xff80);
    CHECK_EQ_INT(plm_fp32_to_bf16(bits_f32(0x7f7fffff)), 0x7f80); /* FLT_MAX rounds to inf */
    CHECK_EQ_INT(plm_fp32_to_bf16(bits_f32(0x7f800001)), 0x7fc0); /* signalling NaN -> quiet */
    CHECK_EQ_INT(plm_fp32_to_bf16(bits_f32(0x00010000)), 0x0001); /* subnormals kept (current ggml) */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = plm_bf16_to_fp32((uint16_t)h);
        if (f32_bits(f) != h << 16) bad++;
        if (!isnan(f) && plm_fp32_to_bf16(f) != h) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    float x[3] = {1.5f, -3.0f, 0.15625f}, y[3];
    uint8_t b[6];
    CHECK_EQ_INT(plm_quantize(PLM_TYPE_BF16, x, b, 1, 3), 6);
    plm_dequantize_row(PLM_TYPE_BF16, b, y, 3);
    for (int i = 0; i < 3; i++) CHECK(y[i] == x[i]);
}

/* ------------------------------------------------------------- type table */

TEST(type_table_and_row_sizes) {
    struct { int type; const char *name; int blck; int bytes; int supported; } t[] = {
        {0, "f32", 1, 4, 1},       {1, "f16", 1, 2, 1},        {2, "q4_0", 32, 18, 1},
        {3, "q4_1", 32, 20, 1},    {6, "q5_0", 32, 22, 1},     {7, "q5_1", 32, 24, 1},
        {8, "q8_0", 32, 34, 1},    {9, "q8_1", 32, 36, 0},     {10, "q2_K", 256, 84, 1},
        {11, "q3_K", 256, 110, 1}, {12, "q4_K", 256, 144, 1},  {13, "q5_K", 256, 176, 1},
        {14, "q6_K", 256, 210, 1}, {15, "q8_K", 256, 292, 0},  {16, "iq2_xxs", 256, 66, 0},
        {17, "iq2_xs", 256, 74, 0}, {18, "iq3_xxs", 256, 98, 0}, {19, "iq1_s", 256, 50, 0},
        {20, "iq4_nl", 32, 18, 1}, {21, "iq3_s", 256, 110, 0}, {22, "iq2_s", 256, 82, 0},
        {23, "iq4_xs", 256, 136, 1}, {24, "i8", 1, 1, 0},      {25, "i16", 1, 2, 0},
        {26, "i32", 1, 4, 0},      {27, "i64", 1, 8, 0},       {28, "f64", 1, 8, 0},
        {29, "iq1_m", 256, 56, 0}, {30, "bf16", 1, 2, 1},      {34, "tq1_0", 256, 54, 0},
        {35, "tq2_0", 256, 66, 0}, {39, "mxfp4", 32, 17, 0},   {40, "nvfp4", 64, 36, 0},
        {41, "q1_0", 128, 18, 0},  {42, "q2_0", 64, 18, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *name = plm_type_name(t[i].type);
        CHECK_MSG(name && !strcmp(name, t[i].name), "type %d name %s, want %s", t[i].type, name ? name : "NULL", t[i].name);
        CHECK_EQ_INT(plm_type_block_size(t[i].type), t[i].blck);
        CHECK_EQ_INT(plm_type_block_bytes(t[i].type), t[i].bytes);
        CHECK_EQ_INT(plm_type_supported(t[i].type), t[i].supported);
        CHECK_EQ_INT(plm_type_row_bytes(t[i].type, 4096), (4096 / t[i].blck) * t[i].bytes);
        CHECK_EQ_INT(plm_type_row_bytes_i(t[i].type, 4096), (4096 / t[i].blck) * t[i].bytes);
        if (t[i].blck > 1) {
            CHECK_EQ_INT(plm_type_row_bytes(t[i].type, t[i].blck + 1), 0);
            CHECK_EQ_INT(plm_type_row_bytes_i(t[i].type, t[i].blck + 1), -1);
        }
    }
    int unknown[] = {-1, 4, 5, 31, 32, 33, 36, 37, 38, 43, 99, 1 << 30};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK(plm_type_name(unknown[i]) == NULL);
        CHECK_EQ_INT(plm_type_block_size(unknown[i]), 0);
        CHECK_EQ_INT(plm_type_block_bytes(unknown[i]), 0);
        CHECK_EQ_INT(plm_type_supported(unknown[i]), 0);
        CHECK_EQ_INT(plm_type_row_bytes(unknown[i], 32), 0);
        CHECK_EQ_INT(plm_type_row_bytes_i(unknown[i], 0), -1);
    }
    CHECK_EQ_INT(plm_type_row_bytes(PLM_TYPE_Q8_0, 0), 0);
    CHECK_EQ_INT(plm_type_row_bytes_i(PLM_TYPE_Q8_0, 0), 0);
    CHECK_EQ_INT(plm_type_row_bytes_i(PLM_TYPE_Q8_0, -32), -1);
    if (sizeof(size_t) >= 8) CHECK_EQ_INT(plm_type_row_bytes(PLM_TYPE_F32, (int64_t)1 << 40), (uint64_t)4 << 40);
    else CHECK_EQ_INT(plm_type_row_bytes(PLM_TYPE_F32, (int64_t)1 << 40), 0); /* does not fit a size_t */
    CHECK_EQ_INT(plm_type_row_bytes_i(PLM_TYPE_F32, 1 << 30), -1); /* 4 GB does not fit an int */
}

/* ------------------------------------------------------------- K-quants */

/* Builds a Q4_K block from chosen 6-bit scales/mins and 4-bit quants, packing
 * them as ggml's quantize_row_q4_K_ref does, and checks the dequantizer
 * against x = d*sc*q - dmin*m element by element. */
TEST(q4_K_dequant_layout) {
    for (int trial = 0; trial < 50; trial++) {
        uint8_t blk[2 * 144];
        float want[512], got[512];
        for (int b = 0; b < 2; b++) {
            uint8_t *p = blk + 144 * b;
            uint8_t ls[8], lm[8], q[256];
            for (int j = 0; j < 8; j++) ls[j] = rng_u32() & 63, lm[j] = rng_u32() & 63;
            for (int i = 0; i < 256; i++) q[i] = rng_u32() & 15;
            plm_fp16 d = plm_fp32_to_fp16(rng_uniform() * 0.01f), dmin = plm_fp32_to_fp16(rng_uniform() * 0.01f);
            p[0] = d & 0xff, p[1] = d >> 8, p[2] = dmin & 0xff, p[3] = dmin >> 8;
            uint8_t *sc = p + 4;
            memset(sc, 0, 12);
            for (int j = 0; j < 8; j++) {
                if (j < 4) {
                    sc[j] = ls[j];
                    sc[j + 4] = lm[j];
                } else {
                    sc[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
                    sc[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
                    sc[j] |= (uint8_t)((lm[j] >> 4) << 6);
                }
            }
            for (int g = 0; g < 4; g++)
                for (int l = 0; l < 32; l++) p[16 + 32 * g + l] = (uint8_t)(q[64 * g + l] | q[64 * g + l + 32] << 4);
            for (int i = 0; i < 256; i++) {
                int j = i / 32;
                float d1 = plm_fp16_to_fp32(d) * ls[j], m1 = plm_fp16_to_fp32(dmin) * lm[j];
                want[256 * b + i] = d1 * q[i] - m1;
            }
        }
        plm_dequantize_row(PLM_TYPE_Q4_K, blk, got, 512);
        CHECK(!memcmp(want, got, sizeof want));
        if (memcmp(want, got, sizeof want)) break;
    }
}

/* Q6_K element e of a block: 6-bit q from ql/qh at positions derived from e
 * alone; scale = scales[e/16]; x = (d*scale)*(q-32). */
static void ref_dequant_q6_K(const uint8_t *p, float *y) {
    float d = plm_fp16_to_fp32((plm_fp16)(p[208] | p[209] << 8));
    for (int e = 0; e < 256; e++) {
        int h = e / 128, k = (e % 128) / 32, l = e % 32;
        uint8_t lo = p[h * 64 + l + (k & 1) * 32];
        int low4 = k < 2 ? lo & 15 : lo >> 4;
        int hi2 = (p[128 + h * 32 + l] >> (2 * k)) & 3;
        int q = (low4 | hi2 << 4) - 32;
        y[e] = d * (int8_t)p[192 + e / 16] * q;
    }
}

TEST(q6_K_dequant_layout) {
    uint8_t blk[3 * 210];
    for (size_t i = 0; i < sizeof blk; i++) blk[i] = (uint8_t)rng_u32();
    for (int b = 0; b < 3; b++) { /* sane fp16 scales */
        plm_fp16 d = plm_fp32_to_fp16(0.001f * (b + 1));
        blk[210 * b + 208] = d & 0xff, blk[210 * b + 209] = d >> 8;
    }
    float want[768], got[768];
    for (int b = 0; b < 3; b++) ref_dequant_q6_K(blk + 210 * b, want + 256 * b);
    plm_dequantize_row(PLM_TYPE_Q6_K, blk, got, 768);
    CHECK(!memcmp(want, got, sizeof want));
}

TEST(q6_K_quantize_roundtrip) {
    enum { N = 4 * 256 };
    static float x[N], y[N];
    static uint8_t q[4 * 210];
    for (int i = 0; i < N; i++) x[i] = rng_normal() * 0.02f;
    x[300] = 0.5f; /* an outlier */
    for (int i = 512; i < 768; i++) x[i] = 0; /* an all-zero block */
    CHECK_EQ_INT(plm_quantize(PLM_TYPE_Q6_K, x, q, 2, 512), 4 * 210);
    plm_dequantize_row(PLM_TYPE_Q6_K, q, y, N);
    for (int b = 0; b < 4; b++) {
        double err2 = 0, sig2 = 0;
        float amax = 0;
        for (int i = 256 * b; i < 256 * (b + 1); i++) {
            err2 += (double)(x[i] - y[i]) * (x[i] - y[i]);
            sig2 += (double)x[i] * x[i];
            amax = fmaxf(amax, fabsf(x[i]));
        }
        if (b == 2) {
            CHECK(err2 == 0);
            for (int i = 0; i < 210; i++) CHECK(q[2 * 210 + i] == 0);
            continue;
        }
        /* 6-bit quantization: relative RMS error well under 5% */
        CHECK_MSG(sqrt(err2 / sig2) < 0.05, "block %d: relative rms error %.4f", b, sqrt(err2 / sig2));
        for (int i = 256 * b; i < 256 * (b + 1); i++) CHECK(fabsf(x[i] - y[i]) <= amax / 20);
    }
    /* every quantized value is representable: quantizing the dequantized data is stable */
    static uint8_t q2[4 * 210];
    static float y2[N];
    plm_quantize(PLM_TYPE_Q6_K, y, q2, 4, 256);
    plm_dequantize_row(PLM_TYPE_Q6_K, q2, y2, N);
    double drift = 0;
    for (int i = 0; i < N; i++) drift = fmax(drift, fabs((double)y[i] - y2[i]));
    CHECK_MSG(drift < 0.002, "requantization drift %g", drift);
    CHECK_EQ_INT(plm_quantize(PLM_TYPE_Q6_K, x, q, 1, 100), 0); /* not a multiple of 256 */
}

TEST(q8_0_q4_0_random_invariants) {
    enum { N = 32 * 64 };
    static float x[N], y[N];
    static uint8_t q[N * 2];
    for (int i = 0; i < N; i++) x[i] = rng_normal() * (i % 7 ? 1.0f : 10.0f);
    CHECK_EQ_INT(plm_quantize(PLM_TYPE_Q8_0, x, q, 64, 32), 64 * 34);
    plm_dequantize_row(PLM_TYPE_Q8_0, q, y, N);
    for (int b = 0; b < 64; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        for (int j = 0; j < 32; j++) CHECK(fabsf(x[32 * b + j] - y[32 * b + j]) <= amax / 127 * 0.5f * 1.01f + 1e-6f);
    }
    CHECK_EQ_INT(plm_quantize(PLM_TYPE_Q4_0, x, q, 64, 32), 64 * 18);
    plm_dequantize_row(PLM_TYPE_Q4_0, q, y, N);
    for (int b = 0; b < 64; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
        for (int j = 0; j < 32; j++) CHECK(fabsf(x[32 * b + j] - y[32 * b + j]) <= amax / 8 * 1.01f + 1e-6f); /* the far side clamps at +7 */
    }
}

/* -------------------------------------------------------------- API errors */

TEST(api_errors) {
    float x[64] = {0};
    uint8_t b[512];
    plm_clear_error();
    CHECK_EQ_INT(plm_quantize(PLM_TYPE_Q5_1, x, b, 1, 32), 0);
    CHECK(plm_errcode() == PLM_E_UNSUPPORTED && strstr(plm_errmsg(), "q5_1"));
    CHECK_EQ_INT(plm_quantize(PLM_TYPE_Q8_0, x, b, 1, 33), 0);
    CHECK_EQ_INT(plm_errcode(), PLM_E_INVALID);
    CHECK_EQ_INT(plm_quantize_rows(PLM_TYPE_Q4_K, x, b, 1, 256), PLM_E_UNSUPPORTED);
    CHECK_EQ_INT(plm_quantize_rows(99, x, b, 1, 32), PLM_E_UNSUPPORTED);
    CHECK_EQ_INT(plm_quantize_rows(PLM_TYPE_Q8_0, x, b, 1, 48), PLM_E_INVALID);
    CHECK(strstr(plm_errmsg(), "48") != NULL);
    CHECK_EQ_INT(plm_quantize_rows(PLM_TYPE_Q8_0, NULL, b, 1, 32), PLM_E_INVALID);
    CHECK_EQ_INT(plm_quantize_rows(PLM_TYPE_Q8_0, x, b, -1, 32), PLM_E_INVALID);
    CHECK_EQ_INT(plm_quantize_rows(PLM_TYPE_F32, x, b, 1 << 20, 1 << 11), PLM_E_INVALID); /* 8 GB */
    CHECK_EQ_INT(plm_quantize_rows(PLM_TYPE_Q8_0, x, b, 0, 32), 0);
    CHECK_EQ_INT(plm_dequantize_rows(PLM_TYPE_IQ2_XXS, b, x, 1, 256), PLM_E_UNSUPPORTED);
    CHECK_EQ_INT(plm_dequantize_rows(PLM_TYPE_Q4_0, b, x, 1, 31), PLM_E_INVALID);
    CHECK_EQ_INT(plm_quantize_rows(PLM_TYPE_F16, x, b, 2, 32), 128);
    float y[64];
    CHECK_EQ_INT(plm_dequantize_rows(PLM_TYPE_F16, b, y, 2, 32), 128);
    /* unaligned source rows are fine */
    float z[32];
    for (int i = 0; i < 32; i++) z[i] = (float)i - 10.5f;
    uint8_t *odd = b + 1;
    plm_quantize(PLM_TYPE_Q8_0, z, odd, 1, 32);
    float w[32];
    plm_dequantize_row(PLM_TYPE_Q8_0, odd, w, 32);
    for (int i = 0; i < 32; i++) CHECK_NEAR(w[i], z[i], 0.1);
    plm_clear_error();
    plm_dequantize_row(PLM_TYPE_Q8_1, b, w, 32);
    CHECK_EQ_INT(plm_errcode(), PLM_E_UNSUPPORTED);
}

int main(void) {
    init_half_values();
    RUN(quant_vectors_bit_exact);
    RUN(fp16_exhaustive_roundtrip);
    RUN(fp16_ties_and_neighbours);
    RUN(fp16_random_vs_reference);
    RUN(bf16_conversion);
    RUN(type_table_and_row_sizes);
    RUN(q4_K_dequant_layout);
    RUN(q6_K_dequant_layout);
    RUN(q6_K_quantize_roundtrip);
    RUN(q8_0_q4_0_random_invariants);
    RUN(api_errors);
    return test_summary();
}
