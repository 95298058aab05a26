/* test_t5.c — T5 v1.0 / v1.1 against the fixture goldens (tests/fixtures/t5, see
 * PROVENANCE.md there), beam search, the decoder's sequence machinery and errors.
 *
 * Per variant and GGUF type, for every case of cases.json:
 *   encoder   plm_t5_encode(input_ids) vs encoder_last_hidden_state
 *   logits    decoder_input_ids at once (all positions) vs decoder_logits
 *   steps     the same ids one at a time through the KV cache: identical numbers
 *   greedy    from the start token, stop at EOS: ids == greedy.ids while the golden
 *             top1-top2 margin exceeds 2x the tolerance; the first 3 steps' logits
 *             vs greedy_no_eos_stop.step_logits_first_3
 *   padded    the padded batch with its attention mask (each row alone): encoder
 *             states at every position (padding included, as HF) and decoder logits
 * Tolerances (max abs vs the float64 goldens of the float32 weights; VARIANTS below):
 * from the errors measured here (printed at the end) with ~30-40% headroom:
 *                 encoder (v1.0 / v1.1)     logits (v1.0 / v1.1)
 *   F32           1.9e-6 / 3.6e-6            2.3e-6 / 3.2e-6       bound 1e-5
 *   F16 weights   4.4e-3 / 6.3e-3            5.1e-3 / 9.5e-3       (the weights' rounding:
 *   Q8_0 weights  0.158 / 0.23               0.162 / 0.355          fixtures README: 4.2e-3 ..
 *                                                                   0.28; llama.cpp 0.35)
 * Kernels are bit-identical across scalar / SIMD / threads (ops.h), so the numbers do
 * not depend on the build. Greedy ids are compared while the golden top1-top2 margin
 * exceeds twice the logit tolerance (for Q8_0 the first margins are already smaller).
 *
 * Beam search: num_beams 1 = greedy; an independent re-implementation of
 * transformers' beam search in this file (every candidate scored by a fresh decoder
 * pass over its whole prefix, no cache reordering) gives the same sequence and
 * score; with n_vocab - 1 beams and 2 new tokens the search is exhaustive and finds
 * the best length-normalised sequence of a brute-force enumeration.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "fixture.h"
#include "model.h"
#include "plm.h"

enum { N_TYPES = 3 };
static const char *const TYPES[N_TYPES] = {"F32", "F16", "Q8_0"};

typedef struct {
    const char *name, *dir;
    const char *files[N_TYPES];
    double tol_enc[N_TYPES], tol_logits[N_TYPES];
} variant;

static const variant VARIANTS[] = {
    {"v1.0", "tests/fixtures/t5/v1_0",
     {"tiny-t5-v1.0-random-f32.gguf", "tiny-t5-v1.0-random-f16.gguf", "tiny-t5-v1.0-random-q80.gguf"},
     {1e-5, 7e-3, 0.22}, {1e-5, 7e-3, 0.22}},
    {"v1.1", "tests/fixtures/t5/v1_1",
     {"tiny-t5-v1.1-random-f32.gguf", "tiny-t5-v1.1-random-f16.gguf", "tiny-t5-v1.1-random-q80.gguf"},
     {1e-5, 9e-3, 0.3}, {1e-5, 0.013, 0.45}},
};
enum { N_VARIANTS = sizeof VARIANTS / sizeof *VARIANTS };

/* measured maxima, printed for the report */
static double g_enc[N_VARIANTS][N_TYPES], g_log[N_VARIANTS][N_TYPES];

static plm_model *load(const variant *v, int t) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", v->dir, v->files[t]);
    plm_model *m = plm_model_load_file(path, 0);
    CHECK_MSG(m != NULL, "load %s: %s", path, plm_errmsg());
    return m;
}

static int n_vocab_of(plm_model *m) { return m->hp.n_vocab; }

/* ---------------------------------------------------------- goldens */
static void check_case(int vi, int t, plm_model *m, plm_t5 *c, const json_value *cs) {
    const variant *v = &VARIANTS[vi];
    const int V = n_vocab_of(m), E = m->hp.n_embd;
    const char *name = json_get(cs, "name")->str;
    int n_in, n_dec;
    int32_t *in = fixture_ids(json_get(cs, "input_ids"), &n_in);
    int32_t *dec = fixture_ids(json_get(cs, "decoder_input_ids"), &n_dec);

    /* encoder */
    float *enc = malloc((size_t)n_in * E * sizeof *enc);
    int rc = plm_t5_encode(c, in, NULL, n_in, enc);
    CHECK_MSG(rc == PLM_OK, "encode: %s", plm_errmsg());
    const json_value *gold_enc = json_get(cs, "encoder_last_hidden_state");
    double e = 0;
    for (int i = 0; rc == PLM_OK && i < n_in; i++) fixture_track(&e, fixture_max_err(enc + (size_t)i * E, gold_enc->arr[i], E));
    CHECK_MSG(e <= v->tol_enc[t], "%s %s %s encoder: max err %.3g > %.3g", v->name, TYPES[t], name, e,
              v->tol_enc[t]);
    fixture_track(&g_enc[vi][t], e);

    /* decoder logits at every position, then the same through the KV cache step by step */
    float *lg = malloc((size_t)n_dec * V * sizeof *lg), *step = malloc((size_t)V * sizeof *step);
    rc = plm_t5_decode(c, dec, n_dec, lg, 1);
    CHECK_MSG(rc == PLM_OK, "decode: %s", plm_errmsg());
    CHECK_EQ_INT(plm_t5_n_past(c), n_dec);
    const json_value *gold_log = json_get(cs, "decoder_logits");
    e = 0;
    for (int i = 0; rc == PLM_OK && i < n_dec; i++) fixture_track(&e, fixture_max_err(lg + (size_t)i * V, gold_log->arr[i], V));
    CHECK_MSG(e <= v->tol_logits[t], "%s %s %s decoder logits: max err %.3g > %.3g", v->name,
              TYPES[t], name, e, v->tol_logits[t]);
    fixture_track(&g_log[vi][t], e);
    /* argmax of the goldens (where the golden margin allows) */
    CHECK_EQ_INT(plm_t5_decoder_reset(c, 1), PLM_OK);
    int same = 1;
    for (int i = 0; i < n_dec; i++) {
        rc = plm_t5_decode(c, dec + i, 1, step, 0);
        CHECK_MSG(rc == PLM_OK, "step: %s", plm_errmsg());
        /* one token at a time: the same arithmetic as all at once (bit for bit) */
        same &= rc == PLM_OK && memcmp(step, lg + (size_t)i * V, (size_t)V * sizeof *step) == 0;
    }
    CHECK_MSG(same, "%s %s %s: step-by-step logits differ from the batched ones", v->name, TYPES[t], name);

    /* greedy from the start token */
    const json_value *gr = json_get(cs, "greedy"), *ng = json_get(cs, "greedy_no_eos_stop");
    int n_gold;
    int32_t *gold = fixture_ids(json_get(gr, "ids"), &n_gold);
    const json_value *margin = json_get(ng, "top1_top2_margin"), *first3 = json_get(ng, "step_logits_first_3");
    int safe = n_gold - 1; /* generated tokens we can insist on */
    for (int i = 0; i < safe; i++)
        if (margin->arr[i]->num <= 2 * v->tol_logits[t]) safe = i;
    CHECK_EQ_INT(plm_t5_decoder_reset(c, 1), PLM_OK);
    int32_t tok = gold[0];
    int agree = 0;
    e = 0;
    for (int i = 0; i + 1 < n_gold; i++) {
        rc = plm_t5_decode(c, &tok, 1, step, 0);
        if (rc != PLM_OK) break;
        if (i < 3) fixture_track(&e, fixture_max_err(step, first3->arr[i], V));
        tok = argmax(step, V);
        if (i < safe) agree += tok == gold[i + 1];
        if (tok != gold[i + 1]) tok = gold[i + 1]; /* stay on the golden path */
    }
    CHECK_MSG(rc == PLM_OK, "greedy: %s", plm_errmsg());
    CHECK_MSG(agree == safe, "%s %s %s greedy: %d of the first %d tokens agree", v->name, TYPES[t],
              name, agree, safe);
    CHECK_MSG(e <= v->tol_logits[t], "%s %s %s greedy step logits: max err %.3g", v->name, TYPES[t], name, e);
    fixture_track(&g_log[vi][t], e);
    if (t == 2) printf("  %s Q8_0 %s greedy: %d / %d golden tokens checked\n", v->name, name, safe, n_gold - 1);

    free(gold);
    free(lg);
    free(step);
    free(enc);
    free(in);
    free(dec);
}

static void check_padded(int vi, int t, plm_model *m, plm_t5 *c, const json_value *pb) {
    const variant *v = &VARIANTS[vi];
    const int V = n_vocab_of(m), E = m->hp.n_embd;
    const json_value *ids = json_get(pb, "input_ids"), *mask = json_get(pb, "attention_mask");
    const json_value *gold_enc = json_get(pb, "encoder_last_hidden_state"), *gold_log = json_get(pb, "decoder_logits");
    const json_value *decs = json_get(pb, "decoder_input_ids");
    double ee = 0, el = 0;
    for (size_t b = 0; b < ids->n; b++) {
        int n, nm, nd;
        int32_t *in = fixture_ids(ids->arr[b], &n), *mk = fixture_ids(mask->arr[b], &nm);
        int32_t *dec = fixture_ids(decs->arr[b], &nd);
        float *enc = malloc((size_t)n * E * sizeof *enc), *lg = malloc((size_t)nd * V * sizeof *lg);
        int rc = plm_t5_encode(c, in, mk, n, enc);
        CHECK_MSG(rc == PLM_OK, "padded encode: %s", plm_errmsg());
        for (int i = 0; rc == PLM_OK && i < n; i++) fixture_track(&ee, fixture_max_err(enc + (size_t)i * E, gold_enc->arr[b]->arr[i], E));
        rc = plm_t5_decode(c, dec, nd, lg, 1);
        CHECK_MSG(rc == PLM_OK, "padded decode: %s", plm_errmsg());
        for (int i = 0; rc == PLM_OK && i < nd; i++) fixture_track(&el, fixture_max_err(lg + (size_t)i * V, gold_log->arr[b]->arr[i], V));
        free(in);
        free(mk);
        free(dec);
        free(enc);
        free(lg);
    }
    CHECK_MSG(ee <= v->tol_enc[t], "%s %s padded encoder: %.3g", v->name, TYPES[t], ee);
    CHECK_MSG(el <= v->tol_logits[t], "%s %s padded logits: %.3g", v->name, TYPES[t], el);
    fixture_track(&g_enc[vi][t], ee);
    fixture_track(&g_log[vi][t], el);
}

static void run_variant(int vi) {
    const variant *v = &VARIANTS[vi];
    char path[256];
    snprintf(path, sizeof path, "%s/cases.json", v->dir);
    json_value *root = fixture_json(path);
    if (!root) return;
    const json_value *cases = json_get(root, "cases");
    for (int t = 0; t < N_TYPES; t++) {
        plm_model *m = load(v, t);
        if (!m) continue;
        CHECK_EQ_INT(n_vocab_of(m), 1024);
        plm_t5 *c = plm_t5_new(m, 0);
        CHECK_MSG(c != NULL, "plm_t5_new: %s", plm_errmsg());
        if (c) {
            for (size_t i = 0; i < cases->n; i++) check_case(vi, t, m, c, cases->arr[i]);
            check_padded(vi, t, m, c, json_get(root, "padded_batch"));
        }
        plm_t5_free(c);
        plm_model_free(m);
    }
    json_free(root);
}

TEST(v1_0_goldens) { run_variant(0); }
TEST(v1_1_goldens) { run_variant(1); }

TEST(info_and_variant) {
    for (int vi = 0; vi < N_VARIANTS; vi++) {
        plm_model *m = load(&VARIANTS[vi], 0);
        if (!m) continue;
        const char *info = plm_t5_info(m);
        CHECK(info != NULL);
        json_value *j = info ? json_parse(info, strlen(info)) : NULL;
        CHECK(j != NULL);
        if (j) {
            CHECK(strcmp(json_get(j, "ffn")->str, vi ? "gated-gelu" : "relu") == 0);
            CHECK_EQ_INT(json_get(j, "tiedEmbeddings")->num, vi ? 0 : 1);
            CHECK_EQ_INT(json_get(j, "decoderStartTokenId")->num, 0);
            CHECK_EQ_INT(json_get(j, "relativeBuckets")->num, 32);
            CHECK_EQ_INT(json_get(j, "encoderBlocks")->num, 2);
            CHECK_EQ_INT(json_get(j, "decoderBlocks")->num, 2);
        }
        json_free(j);
        /* the general info: not a causal LM */
        const char *gi = plm_model_info(m);
        CHECK(gi && strstr(gi, "\"causal\":false") && strstr(gi, "\"decoderBlockCount\":2"));
        plm_model_free(m);
    }
}

/* ------------------------------------------------------- position buckets */
TEST(relative_buckets) {
    json_value *root = fixture_json("tests/fixtures/t5/v1_0/cases.json");
    if (!root) return;
    const json_value *rb = json_get(root, "relative_position_buckets");
    const json_value *range = json_get(rb, "relative_positions");
    const int lo = (int)range->arr[0]->num;
    const json_value *bi = json_get(rb, "bidirectional"), *ca = json_get(rb, "causal");
    int bad = 0;
    for (size_t i = 0; i < bi->n; i++) {
        const int d = lo + (int)i;
        bad += t5_position_bucket(d, 1, 32) != (int)bi->arr[i]->num;
        bad += t5_position_bucket(d, 0, 32) != (int)ca->arr[i]->num;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(t5_position_bucket(1000000, 1, 32), 31);
    CHECK_EQ_INT(t5_position_bucket(-1000000, 0, 32), 31);
    CHECK_EQ_INT(t5_position_bucket(1000000, 0, 32), 0);
    json_free(root);
}

/* op_attention's rel_bias equals the same bias as a full [head][query][key] table */
TEST(attention_rel_bias) {
    const int H = 3, hd = 8, nq = 5, q0 = 4, nkv = q0 + nq, D = H * hd;
    float q[5 * 24], k[9 * 24], v[9 * 24], out1[5 * 24], out2[5 * 24];
    uint32_t r = 12345;
    for (int i = 0; i < 9 * 24; i++) {
        r = r * 1103515245u + 12345u;
        k[i] = (float)((r >> 8) & 0xffff) / 32768.0f - 1.0f;
        r = r * 1103515245u + 12345u;
        v[i] = (float)((r >> 8) & 0xffff) / 32768.0f - 1.0f;
        if (i < 5 * 24) q[i] = k[i] * 0.5f + v[i];
    }
    const int off = q0 + nq - 1, stride = nq + nkv - 1;
    float rel[3 * 13], full[3 * 5 * 9];
    for (int i = 0; i < H * stride; i++) rel[i] = (float)((i * 37) % 11) * 0.3f - 1.5f;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < nq; i++)
            for (int j = 0; j < nkv; j++) full[(h * nq + i) * nkv + j] = rel[h * stride + off + j - (q0 + i)];
    for (int causal = 0; causal < 2; causal++) {
        op_attn_params a = {.n_head = H, .n_head_kv = H, .head_dim = hd, .scale = 1.0f, .causal = causal,
                            .q_pos0 = q0, .rel_bias = rel, .rel_off = off, .rel_stride = stride};
        op_attn_params b = {.n_head = H, .n_head_kv = H, .head_dim = hd, .scale = 1.0f, .causal = causal,
                            .q_pos0 = q0, .bias = full};
        CHECK_EQ_INT(op_attention(out1, D, q, D, k, v, D, nq, nkv, &a), PLM_OK);
        CHECK_EQ_INT(op_attention(out2, D, q, D, k, v, D, nq, nkv, &b), PLM_OK);
        CHECK(memcmp(out1, out2, sizeof out1) == 0);
        a.rel_off = off - 1; /* does not cover the first query */
        CHECK_EQ_INT(op_attention(out1, D, q, D, k, v, D, nq, nkv, &a), PLM_E_INVALID);
        a.rel_off = off;
        a.rel_stride = stride - 1;
        CHECK_EQ_INT(op_attention(out1, D, q, D, k, v, D, nq, nkv, &a), PLM_E_INVALID);
    }
}

/* --------------------------------------------------------- sequences */
static const int32_t INPUT[] = {52, 5, 6, 999, 51, 30, 13, 64, 218, 8, 1};
enum { N_INPUT = sizeof INPUT / sizeof *INPUT };

/* Logits of the last position of prefix[0..n) computed alone in a fresh decoder. */
static int fresh_logits(plm_t5 *c, const int32_t *prefix, int n, float *out) {
    int rc = plm_t5_decoder_reset(c, 1);
    return rc ? rc : plm_t5_decode(c, prefix, n, out, 0);
}

TEST(sequences_and_reorder) {
    plm_model *m = load(&VARIANTS[1], 0);
    if (!m) return;
    const int V = n_vocab_of(m);
    plm_t5 *c = plm_t5_new(m, 64);
    CHECK_EQ_INT(plm_t5_encode(c, INPUT, NULL, N_INPUT, NULL), PLM_OK);
    /* three sequences, three tokens each */
    const int32_t ids[3][3] = {{0, 17, 4}, {0, 230, 5}, {0, 17, 900}};
    float *lg = malloc((size_t)9 * V * sizeof *lg), *ref = malloc((size_t)V * sizeof *ref);
    CHECK_EQ_INT(plm_t5_decoder_reset(c, 3), PLM_OK);
    CHECK_EQ_INT(plm_t5_n_seq(c), 3);
    CHECK_EQ_INT(plm_t5_decode(c, &ids[0][0], 3, lg, 1), PLM_OK);
    /* each row equals that sequence run alone, bit for bit (m > 1 matmuls = m == 1) */
    float *alone = malloc((size_t)3 * V * sizeof *alone);
    plm_t5 *c1 = plm_t5_new(m, 64);
    CHECK_EQ_INT(plm_t5_encode(c1, INPUT, NULL, N_INPUT, NULL), PLM_OK);
    int same = 1;
    for (int s = 0; s < 3; s++) {
        CHECK_EQ_INT(plm_t5_decoder_reset(c1, 1), PLM_OK);
        CHECK_EQ_INT(plm_t5_decode(c1, ids[s], 3, alone, 1), PLM_OK);
        same &= memcmp(alone, lg + (size_t)s * 3 * V, (size_t)3 * V * sizeof *lg) == 0;
    }
    CHECK(same);
    /* fork / reorder: new = {old 2, old 0, old 2, old 1}; then one more token each */
    const int32_t src[4] = {2, 0, 2, 1};
    CHECK_EQ_INT(plm_t5_reorder(c, src, 4), PLM_OK);
    CHECK_EQ_INT(plm_t5_n_seq(c), 4);
    CHECK_EQ_INT(plm_t5_n_past(c), 3);
    const int32_t next[4] = {7, 8, 9, 10};
    CHECK_EQ_INT(plm_t5_decode(c, next, 1, lg, 0), PLM_OK);
    same = 1;
    for (int s = 0; s < 4; s++) {
        int32_t prefix[4];
        memcpy(prefix, ids[src[s]], sizeof ids[0]);
        prefix[3] = next[s];
        CHECK_EQ_INT(fresh_logits(c1, prefix, 4, ref), PLM_OK);
        same &= memcmp(ref, lg + (size_t)s * V, (size_t)V * sizeof *ref) == 0;
    }
    CHECK(same);
    /* shrink to one sequence, continue */
    const int32_t one = 3;
    CHECK_EQ_INT(plm_t5_reorder(c, &one, 1), PLM_OK);
    const int32_t tok = 11;
    CHECK_EQ_INT(plm_t5_decode(c, &tok, 1, lg, 0), PLM_OK);
    const int32_t p5[5] = {0, 230, 5, 10, 11};
    CHECK_EQ_INT(fresh_logits(c1, p5, 5, ref), PLM_OK);
    CHECK(memcmp(ref, lg, (size_t)V * sizeof *ref) == 0);
    free(alone);
    free(lg);
    free(ref);
    plm_t5_free(c1);
    plm_t5_free(c);
    plm_model_free(m);
}

/* ------------------------------------------------------- beam search
 * Independent reference: transformers' beam search written out directly, every
 * candidate's log-probabilities from a fresh decoder pass over its prefix. */
typedef struct {
    double score;
    int n;
    int32_t ids[64];
} ref_hyp;

typedef struct {
    float score;
    int beam, id;
} ref_cand;

static int ref_cand_cmp(const void *a, const void *b) {
    const ref_cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->beam != y->beam) return x->beam < y->beam ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void log_softmax(const float *x, int n, float *out) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int i = 0; i < n; i++) s += expf(x[i] - mx);
    const float lse = logf((float)s);
    for (int i = 0; i < n; i++) out[i] = (x[i] - mx) - lse;
}

static int ref_beam(plm_t5 *c, int B, int max_new, float lp, int early, int V, int32_t *out,
                    double *out_score) {
    int32_t seqs[64][64], nseqs[64][64];
    float scores[64], nscores[64];
    ref_hyp hyps[65];
    int n_hyps = 0, n_run = 1, done = 0;
    float *lg = malloc((size_t)V * sizeof *lg), *lp_row = malloc((size_t)V * sizeof *lp_row);
    ref_cand *cands = malloc((size_t)B * V * sizeof *cands);
    scores[0] = 0;
    int t;
    for (t = 1; t <= max_new; t++) {
        int nc = 0;
        for (int r = 0; r < n_run; r++) {
            int32_t prefix[65];
            prefix[0] = 0;
            memcpy(prefix + 1, seqs[r], (size_t)(t - 1) * sizeof *prefix);
            if (fresh_logits(c, prefix, t, lg)) return -1;
            log_softmax(lg, V, lp_row);
            for (int i = 0; i < V; i++) cands[nc++] = (ref_cand){lp_row[i] + scores[r], r, i};
        }
        qsort(cands, (size_t)nc, sizeof *cands, ref_cand_cmp);
        int nn = 0;
        for (int k = 0; k < 2 * B && k < nc && nn < B; k++) {
            const ref_cand *cd = &cands[k];
            if (cd->id == 1) {
                if (k >= B) continue;
                ref_hyp h = {(double)cd->score / pow((double)t, (double)lp), t, {0}};
                memcpy(h.ids, seqs[cd->beam], (size_t)(t - 1) * sizeof *h.ids);
                h.ids[t - 1] = 1;
                double worst = INFINITY;
                for (int i = 0; i < n_hyps; i++) worst = hyps[i].score < worst ? hyps[i].score : worst;
                if (n_hyps < B || h.score > worst) {
                    hyps[n_hyps++] = h;
                    if (n_hyps > B) {
                        int wi = 0;
                        for (int i = 1; i < n_hyps; i++)
                            if (hyps[i].score < hyps[wi].score) wi = i;
                        memmove(&hyps[wi], &hyps[wi + 1], (size_t)(n_hyps - wi - 1) * sizeof *hyps);
                        n_hyps--;
                    }
                }
                continue;
            }
            memcpy(nseqs[nn], seqs[cd->beam], (size_t)(t - 1) * sizeof **seqs);
            nseqs[nn][t - 1] = cd->id;
            nscores[nn] = cd->score;
            nn++;
        }
        if (n_hyps >= B) {
            double worst = INFINITY;
            for (int i = 0; i < n_hyps; i++) worst = hyps[i].score < worst ? hyps[i].score : worst;
            const int len = early == 2 && lp > 0 ? max_new : t;
            done = early == 1 || worst >= (double)cands[0].score / pow((double)len, (double)lp);
        }
        memcpy(seqs, nseqs, sizeof seqs);
        memcpy(scores, nscores, sizeof scores);
        n_run = B;
        if (done) break;
    }
    if (!done) {
        for (int r = 0; r < B; r++) {
            const int n = max_new;
            ref_hyp h = {(double)scores[r] / pow((double)n, (double)lp), n, {0}};
            memcpy(h.ids, seqs[r], (size_t)n * sizeof *h.ids);
            double worst = INFINITY;
            for (int i = 0; i < n_hyps; i++) worst = hyps[i].score < worst ? hyps[i].score : worst;
            if (n_hyps < B || h.score > worst) {
                hyps[n_hyps++] = h;
                if (n_hyps > B) {
                    int wi = 0;
                    for (int i = 1; i < n_hyps; i++)
                        if (hyps[i].score < hyps[wi].score) wi = i;
                    memmove(&hyps[wi], &hyps[wi + 1], (size_t)(n_hyps - wi - 1) * sizeof *hyps);
                    n_hyps--;
                }
            }
        }
    }
    int best = 0;
    for (int i = 1; i < n_hyps; i++)
        if (hyps[i].score >= hyps[best].score) best = i;
    memcpy(out, hyps[best].ids, (size_t)hyps[best].n * sizeof *out);
    *out_score = hyps[best].score;
    free(lg);
    free(lp_row);
    free(cands);
    return hyps[best].n;
}

static int run_beam(plm_t5 *c, int B, int max_new, float lp, int early, int32_t *out, int cap, float *score) {
    int rc = plm_t5_beam_begin(c, B, max_new, lp, early);
    if (rc) return rc;
    int steps = 0;
    while ((rc = plm_t5_beam_step(c)) == 1) steps++;
    if (rc < 0) return rc;
    CHECK(steps < max_new);
    return plm_t5_beam_result(c, out, cap, score);
}

TEST(beam_one_is_greedy) {
    for (int vi = 0; vi < N_VARIANTS; vi++) {
        plm_model *m = load(&VARIANTS[vi], 0);
        if (!m) continue;
        const int V = n_vocab_of(m);
        plm_t5 *c = plm_t5_new(m, 0);
        float *lg = malloc((size_t)V * sizeof *lg);
        for (int early = 0; early < 3; early++) {
            CHECK_EQ_INT(plm_t5_encode(c, INPUT, NULL, N_INPUT, NULL), PLM_OK);
            int32_t beam[40];
            float score;
            const int n = run_beam(c, 1, 30, 1.0f, early, beam, 40, &score);
            CHECK_MSG(n > 0, "beam: %s", plm_errmsg());
            /* greedy: argmax until EOS */
            CHECK_EQ_INT(plm_t5_decoder_reset(c, 1), PLM_OK);
            int32_t tok = 0, greedy[40];
            int ng = 0;
            while (ng < 30) {
                CHECK_EQ_INT(plm_t5_decode(c, &tok, 1, lg, 0), PLM_OK);
                tok = greedy[ng++] = argmax(lg, V);
                if (tok == 1) break;
            }
            CHECK_EQ_INT(n, ng);
            CHECK(n == ng && memcmp(beam, greedy, (size_t)n * sizeof *beam) == 0);
        }
        free(lg);
        plm_t5_free(c);
        plm_model_free(m);
    }
}

TEST(beam_matches_reference) {
    static const struct { int B, max_new; float lp; int early; } RUNS[] = {
        {2, 8, 1.0f, 0}, {4, 8, 1.0f, 0}, {4, 10, 0.6f, 1}, {3, 6, 2.0f, 2}, {4, 7, -0.5f, 0},
        {5, 6, 1.0f, 2},
    };
    for (int vi = 0; vi < N_VARIANTS; vi++) {
        plm_model *m = load(&VARIANTS[vi], 0);
        if (!m) continue;
        const int V = n_vocab_of(m);
        plm_t5 *c = plm_t5_new(m, 0), *r = plm_t5_new(m, 0);
        CHECK_EQ_INT(plm_t5_encode(r, INPUT, NULL, N_INPUT, NULL), PLM_OK);
        for (size_t i = 0; i < sizeof RUNS / sizeof *RUNS; i++) {
            CHECK_EQ_INT(plm_t5_encode(c, INPUT, NULL, N_INPUT, NULL), PLM_OK);
            int32_t got[64], want[64];
            float score;
            double want_score;
            const int n = run_beam(c, RUNS[i].B, RUNS[i].max_new, RUNS[i].lp, RUNS[i].early, got, 64, &score);
            const int nw = ref_beam(r, RUNS[i].B, RUNS[i].max_new, RUNS[i].lp, RUNS[i].early, V, want, &want_score);
            CHECK_MSG(n == nw && n > 0 && memcmp(got, want, (size_t)n * sizeof *got) == 0,
                      "%s run %zu: beam gives %d tokens, the reference %d", VARIANTS[vi].name, i, n, nw);
            CHECK_NEAR(score, want_score, 1e-6 * (1 + fabs(want_score))); /* float result */
            printf("  %s beams %d lp %.1f early %d: %d tokens%s, score %.6f\n", VARIANTS[vi].name,
                   RUNS[i].B, RUNS[i].lp, RUNS[i].early, n, n > 0 && got[n - 1] == 1 ? " (eos)" : "",
                   score);
        }
        plm_t5_free(c);
        plm_t5_free(r);
        plm_model_free(m);
    }
}

/* With n_vocab - 1 beams and two new tokens the search keeps every continuation:
 * its result is the best of all outputs of up to two tokens, by brute force. */
TEST(beam_exhaustive) {
    plm_model *m = load(&VARIANTS[1], 0);
    if (!m) return;
    const int V = n_vocab_of(m), B = V - 1;
    plm_t5 *c = plm_t5_new(m, 0);
    CHECK_EQ_INT(plm_t5_encode(c, INPUT, NULL, N_INPUT, NULL), PLM_OK);
    int32_t got[4];
    float score;
    const int n = run_beam(c, B, 2, 1.0f, 0, got, 4, &score);
    CHECK_MSG(n > 0, "%s", plm_errmsg());

    /* brute force: [eos], [a, eos], [a, b] for every a != eos, b != eos */
    float *lg1 = malloc((size_t)V * sizeof *lg1), *lp1 = malloc((size_t)V * sizeof *lp1);
    float *lg2 = malloc((size_t)B * V * sizeof *lg2), *lp2 = malloc((size_t)V * sizeof *lp2);
    int32_t *ids = malloc((size_t)B * 2 * sizeof *ids);
    const int32_t start = 0;
    CHECK_EQ_INT(fresh_logits(c, &start, 1, lg1), PLM_OK);
    log_softmax(lg1, V, lp1);
    double best = lp1[1]; /* [eos]: one token */
    int32_t best_ids[2] = {1, -1};
    int best_n = 1;
    for (int s = 0, a = 0; a < V; a++) {
        if (a == 1) continue;
        ids[2 * s] = 0;
        ids[2 * s + 1] = a;
        s++;
    }
    CHECK_EQ_INT(plm_t5_decoder_reset(c, B), PLM_OK);
    CHECK_EQ_INT(plm_t5_decode(c, ids, 2, lg2, 0), PLM_OK);
    for (int s = 0; s < B; s++) {
        const int a = ids[2 * s + 1];
        log_softmax(lg2 + (size_t)s * V, V, lp2);
        for (int b = 0; b < V; b++) {
            const double sc = (double)(float)(lp1[a] + lp2[b]) / 2.0;
            if (sc > best) {
                best = sc;
                best_ids[0] = a;
                best_ids[1] = b;
                best_n = 2;
            }
        }
    }
    CHECK_EQ_INT(n, best_n);
    CHECK(n == best_n && memcmp(got, best_ids, (size_t)n * sizeof *got) == 0);
    CHECK_NEAR(score, best, 1e-6 * (1 + fabs(best)));
    printf("  exhaustive (%d beams): [%d %d] score %.6f, brute force [%d %d] %.6f\n", B, got[0],
           n > 1 ? got[1] : -1, score, best_ids[0], best_ids[1], best);
    free(lg1);
    free(lp1);
    free(lg2);
    free(lp2);
    free(ids);
    plm_t5_free(c);
    plm_model_free(m);
}

/* ------------------------------------------------------------- errors */
TEST(errors) {
    plm_model *m = load(&VARIANTS[0], 0);
    if (!m) return;
    CHECK(plm_ctx_new(m, 0) == NULL); /* not a causal LM */
    CHECK(plm_t5_new(NULL, 0) == NULL);
    plm_t5 *c = plm_t5_new(m, 16);
    CHECK_EQ_INT(plm_t5_n_ctx(c), 16);
    float lg[1024];
    const int32_t tok = 0;
    CHECK_EQ_INT(plm_t5_decode(c, &tok, 1, lg, 0), PLM_E_STATE); /* nothing encoded */
    CHECK_EQ_INT(plm_t5_beam_begin(c, 2, 4, 1.0f, 0), PLM_E_STATE);
    int32_t long_in[17] = {0};
    CHECK_EQ_INT(plm_t5_encode(c, long_in, NULL, 17, NULL), PLM_E_TOO_LONG);
    const int32_t bad[2] = {5, 1024};
    CHECK_EQ_INT(plm_t5_encode(c, bad, NULL, 2, NULL), PLM_E_INVALID);
    const int32_t zeros[2] = {0, 0}, twos[2] = {1, 2};
    CHECK_EQ_INT(plm_t5_encode(c, INPUT, zeros, 2, NULL), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_encode(c, INPUT, twos, 2, NULL), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_encode(c, INPUT, NULL, 0, NULL), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_encode(c, INPUT, NULL, N_INPUT, NULL), PLM_OK);
    CHECK_EQ_INT(plm_t5_decode(c, bad, 2, lg, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_n_past(c), 0);
    int32_t dec[16] = {0};
    CHECK_EQ_INT(plm_t5_decode(c, dec, 16, NULL, 0), PLM_OK);
    CHECK_EQ_INT(plm_t5_decode(c, &tok, 1, lg, 0), PLM_E_TOO_LONG);
    CHECK_EQ_INT(plm_t5_n_past(c), 16);
    const int32_t src_bad = 1;
    CHECK_EQ_INT(plm_t5_reorder(c, &src_bad, 1), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_decoder_reset(c, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_beam_begin(c, 0, 4, 1.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_beam_begin(c, 1024, 4, 1.0f, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_beam_begin(c, 2, 16, 1.0f, 0), PLM_E_INVALID); /* > n_ctx - 1 */
    CHECK_EQ_INT(plm_t5_beam_begin(c, 2, 4, NAN, 0), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_beam_begin(c, 2, 4, 1.0f, 3), PLM_E_INVALID);
    CHECK_EQ_INT(plm_t5_beam_step(c), PLM_E_STATE);
    int32_t out[8];
    CHECK_EQ_INT(plm_t5_beam_result(c, out, 8, NULL), PLM_E_STATE);
    /* a decoder call drops a running search */
    CHECK_EQ_INT(plm_t5_beam_begin(c, 2, 4, 1.0f, 0), PLM_OK);
    CHECK_EQ_INT(plm_t5_beam_step(c), 1);
    CHECK_EQ_INT(plm_t5_decoder_reset(c, 1), PLM_OK);
    CHECK_EQ_INT(plm_t5_beam_step(c), PLM_E_STATE);
    /* the context still works */
    CHECK_EQ_INT(plm_t5_decode(c, &tok, 1, lg, 0), PLM_OK);
    plm_t5_free(c);
    CHECK(plm_t5_info(NULL) == NULL);
    plm_model_free(m);

    /* other architectures */
    plm_model *g = plm_model_load_file("tests/fixtures/gpt2/gpt2-tiny-F32.gguf", 0);
    CHECK(g != NULL);
    CHECK(plm_t5_new(g, 0) == NULL);
    CHECK(plm_t5_info(g) == NULL);
    plm_model_free(g);
    plm_model *vo = plm_model_load_file("tests/fixtures/t5/v1_0/tiny-t5-v1.0-random-f32.gguf",
                                        PLM_LOAD_VOCAB_ONLY);
    CHECK(vo != NULL);
    CHECK(plm_t5_new(vo, 0) == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_STATE);
    plm_model_free(vo);
}

TEST(tokenizer) {
    /* the fixture model's tokenizer gives the golden input ids (sentencepiece + </s>) */
    json_value *root = fixture_json("tests/fixtures/t5/v1_1/cases.json");
    plm_model *m = load(&VARIANTS[1], 0);
    if (!root || !m) goto done;
    const json_value *cases = json_get(root, "cases");
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *text = json_get(cases->arr[i], "input_text");
        int n;
        int32_t *want = fixture_ids(json_get(cases->arr[i], "input_ids"), &n), got[256];
        const int k = plm_tokenize(m, text->str, (int)text->slen, 1, 0, got, 256);
        CHECK_MSG(k == n && memcmp(got, want, (size_t)n * sizeof *got) == 0, "tokenize '%s'", text->str);
        free(want);
    }
done:
    json_free(root);
    plm_model_free(m);
}

int main(void) {
    RUN(relative_buckets);
    RUN(attention_rel_bias);
    RUN(info_and_variant);
    RUN(v1_0_goldens);
    RUN(v1_1_goldens);
    RUN(tokenizer);
    RUN(sequences_and_reorder);
    RUN(beam_one_is_greedy);
    RUN(beam_matches_reference);
    RUN(beam_exhaustive);
    RUN(errors);
    printf("max abs error vs goldens (encoder / decoder logits):\n");
    for (int v = 0; v < N_VARIANTS; v++)
        for (int t = 0; t < N_TYPES; t++)
            printf("  %s %-5s %.3g / %.3g\n", VARIANTS[v].name, TYPES[t], g_enc[v][t], g_log[v][t]);
    ops_scratch_free();
    return test_summary();
}
