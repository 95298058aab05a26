/* test_nonfinite.c — NaN / Inf / tiny values never reach undefined behaviour (issue 12,
 * item 5): the quantizers saturate instead of overflowing an int8 conversion, the Q8_0
 * activation quantizer keeps a NaN (its block scale becomes NaN, so the NaN reaches the
 * logits, where sampling reports it as a clear error), scalar and SIMD twins agree bit
 * for bit on every such input, and whole forward passes with NaN / Inf weights finish.
 * Under the sanitizer build (-fno-sanitize-recover) any UB here aborts the test. */
#include <math.h>
#include <stdint.h>

#include "test.h"
#include "forward.h"
#include "ops.h"
#include "plm.h"
#include "quant.h"

static void special_block(float *x, int kind) {
    for (int i = 0; i < 32; i++) x[i] = frand();
    switch (kind) {
    case 0: x[5] = NAN; break;                       /* NaN after a finite max */
    case 1: x[0] = NAN; x[1] = 3.0f; break;          /* NaN first (the old running max restarted) */
    case 2: x[7] = INFINITY; break;
    case 3: x[7] = -INFINITY; x[9] = NAN; break;
    case 4: for (int i = 0; i < 32; i++) x[i] = i % 2 ? 1e-40f : -2e-39f; break; /* 1/d overflows */
    case 5: for (int i = 0; i < 32; i++) x[i] = NAN; break;
    case 6: x[3] = 3.4e38f; x[4] = -3.4e38f; break;
    default: break;                                  /* finite */
    }
}

TEST(q8_0_activations_nonfinite) {
    for (int kind = 0; kind <= 7; kind++) {
        float x[64];
        special_block(x, kind);
        special_block(x + 32, 7);
        block_q8_0 a[2];
        quantize_row_q8_0_act_scalar(x, a, 64);
        const float d = plm_fp16_to_fp32(a[0].d);
        if (kind == 0 || kind == 1 || kind == 3 || kind == 5) CHECK_MSG(d != d, "kind %d: scale %g, expected NaN", kind, d);
        if (kind == 7) CHECK(isfinite(d));
#if PLM_HAVE_SIMD
        block_q8_0 b[2];
        quantize_row_q8_0_act_simd(x, b, 64);
        CHECK_MSG(!memcmp(a, b, sizeof a), "kind %d: scalar and SIMD Q8_0 activations differ", kind);
#endif
    }
}

TEST(reference_quantizers_nonfinite) {
    for (int kind = 0; kind <= 7; kind++) {
        float x[256];
        for (int b = 0; b < 8; b++) special_block(x + 32 * b, b == 3 ? kind : 7);
        block_q8_0 q8[8];
        block_q4_0 q4[8];
        block_q8_K qk[1];
        plm_quantize_row_q8_0(x, q8, 256);
        plm_quantize_row_q4_0(x, q4, 256);
        plm_quantize_row_q8_K(x, qk, 256);
        float back[256];
        plm_dequantize_row(PLM_TYPE_Q8_0, q8, back, 256);
        plm_dequantize_row(PLM_TYPE_Q4_0, q4, back, 256);
        CHECK(1); /* reaching here without a sanitizer report is the test */
    }
}

/* Forward passes with NaN / +-Inf in a norm weight (F32) of a Q8_0 model (the
 * activations then go through the Q8_0 quantizer) and of an F32 model. */
TEST(forward_with_nonfinite_weights) {
    const char *files[] = {"tests/fixtures/llama/stories260K/stories260K-Q8_0.gguf", "tests/fixtures/hostile/llama-ok.gguf",
                           "tests/fixtures/hostile/bert-ok.gguf", "tests/fixtures/hostile/t5-ok.gguf"};
    const float bad[] = {NAN, INFINITY, -INFINITY, 3.4e38f};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
            plm_model *m = plm_model_load_file(files[f], 0);
            CHECK_MSG(m != NULL, "%s: %s", files[f], plm_errmsg());
            if (!m) continue;
            /* poison one value of every F32 norm weight */
            for (int64_t i = 0; i < gguf_n_tensors(m->gguf); i++) {
                const plm_tensor *t = gguf_tensor_at(m->gguf, i);
                if (t->type == PLM_TYPE_F32 && strstr(t->name, "norm")) ((float *)t->data)[0] = bad[b];
            }
            int rc = forward_once(m, (const uint8_t *)"x", 1);
            /* a clean result or a clear error (beam search refuses NaN scores) */
            CHECK_MSG(rc == PLM_OK || (rc < 0 && plm_errmsg()[0]), "%s: rc %d", files[f], rc);
            if (m->arch->decode) {
                plm_ctx *c = plm_ctx_new(m, 8);
                float *logits = malloc((size_t)m->hp.n_vocab * sizeof(float));
                int32_t ids[2] = {1, 2};
                CHECK(plm_ctx_decode(c, ids, 2, logits, 0) == PLM_OK);
                int has_nan = 0;
                for (int i = 0; i < m->hp.n_vocab; i++) has_nan |= logits[i] != logits[i];
                if (bad[b] != bad[b]) {
                    /* the NaN reaches the logits, and sampling says so */
                    CHECK_MSG(has_nan, "%s: a NaN weight gave finite logits", files[f]);
                    plm_sampler *s = plm_sampler_new(1);
                    CHECK(plm_sampler_sample(s, logits, m->hp.n_vocab) == PLM_E_INVALID && strstr(plm_errmsg(), "NaN"));
                    plm_sampler_free(s);
                }
                free(logits);
                plm_ctx_free(c);
            }
            plm_model_free(m);
        }
    }
}

int main(void) {
    RUN(q8_0_activations_nonfinite);
    RUN(reference_quantizers_nonfinite);
    RUN(forward_with_nonfinite_weights);
    return test_summary();
}
