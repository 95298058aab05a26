/* beam.c — beam search (beam.h): transformers' BeamSearchScorer, model-agnostic. */
#include "beam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ops.h"

typedef struct {
    float score;
    int32_t beam, id;
} beam_cand;

typedef struct {
    double score;
    int len, eos; /* tokens (len includes the final EOS when eos) */
    int32_t *ids;
} beam_hyp;

struct plm_beam {
    int n_vocab, n_beams, n_run, max_new, early, step, done, finished;
    float length_penalty;
    int32_t eos;
    float *logits;        /* [n_beams][n_vocab] */
    float *scores;        /* running beams' summed log-probabilities */
    int32_t *seqs, *next; /* running beams' tokens [n_beams][max_new] (next: being built) */
    int32_t *src, *tok;   /* the next step's parents and tokens */
    float *next_scores;
    beam_cand *heap;      /* 2B candidates */
    beam_hyp *hyps;       /* n_beams + 1 slots */
    int n_hyps;
    int32_t *hyp_ids;     /* storage for n_beams + 1 hypotheses */
};

void beam_free(plm_beam *b) {
    if (!b) return;
    free(b->logits);
    free(b->scores);
    free(b->seqs);
    free(b->next);
    free(b->src);
    free(b->tok);
    free(b->next_scores);
    free(b->heap);
    free(b->hyps);
    free(b->hyp_ids);
    free(b);
}

int beam_finished(const plm_beam *b) { return b && b->finished; }

/* a ranks before b */
static int cand_before(const beam_cand *a, const beam_cand *b) {
    if (a->score != b->score) return a->score > b->score;
    if (a->beam != b->beam) return a->beam < b->beam;
    return a->id < b->id;
}

/* min-heap on "ranks before": the root is the worst kept candidate */
static void heap_sift_down(beam_cand *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cand_before(&h[w], &h[l])) w = l;
        if (r < n && cand_before(&h[w], &h[r])) w = r;
        if (w == i) return;
        beam_cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void heap_sift_up(beam_cand *h, int i) {
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!cand_before(&h[p], &h[i])) return;
        beam_cand t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static int cand_cmp(const void *a, const void *b) {
    return cand_before(a, b) ? -1 : cand_before(b, a) ? 1 : 0;
}

static double hyp_worst(const plm_beam *b) {
    double w = INFINITY;
    for (int i = 0; i < b->n_hyps; i++) w = b->hyps[i].score < w ? b->hyps[i].score : w;
    return w;
}

/* BeamHypotheses.add: keep the n_beams best. */
static void hyp_add(plm_beam *b, const int32_t *ids, int n_ids, int eos, float sum_logprobs, int len) {
    const double score = (double)sum_logprobs / pow((double)len, (double)b->length_penalty);
    if (b->n_hyps >= b->n_beams && !(score > hyp_worst(b))) return;
    if (b->n_hyps == b->n_beams) { /* drop the worst (the first of equal ones), keep the order */
        int worst = 0;
        for (int i = 1; i < b->n_hyps; i++)
            if (b->hyps[i].score < b->hyps[worst].score) worst = i;
        beam_hyp gone = b->hyps[worst];
        memmove(&b->hyps[worst], &b->hyps[worst + 1], (size_t)(b->n_hyps - worst - 1) * sizeof gone);
        b->hyps[--b->n_hyps] = gone; /* its storage is reused below */
    }
    beam_hyp *h = &b->hyps[b->n_hyps++];
    memcpy(h->ids, ids, (size_t)n_ids * sizeof *ids);
    if (eos) h->ids[n_ids] = b->eos;
    h->len = n_ids + (eos ? 1 : 0);
    h->eos = eos;
    h->score = score;
}

static int hyps_done(const plm_beam *b, float best, int t) {
    if (b->n_hyps < b->n_beams) return 0;
    if (b->early == 1) return 1;
    const int len = b->early == 2 && b->length_penalty > 0.0f ? b->max_new : t;
    return hyp_worst(b) >= (double)best / pow((double)len, (double)b->length_penalty);
}

int beam_begin(plm_beam **out, int V, int32_t eos, int32_t first, int n_beams, int max_new_tokens,
               float length_penalty, int early_stopping) {
    *out = NULL;
    if (n_beams < 1 || n_beams >= V || n_beams > 4096)
        return plm_fail(PLM_E_INVALID, "beam search: %d beams (1 .. min(4096, vocabulary - 1))", n_beams);
    if (max_new_tokens < 1)
        return plm_fail(PLM_E_INVALID, "beam search: max new tokens %d (at least 1)", max_new_tokens);
    if (!isfinite(length_penalty))
        return plm_fail(PLM_E_INVALID, "beam search: length penalty %g", length_penalty);
    if (early_stopping < 0 || early_stopping > 2)
        return plm_fail(PLM_E_INVALID, "beam search: early_stopping %d (0 false, 1 true, 2 never)",
                        early_stopping);
    if (eos < 0 || eos >= V)
        return plm_fail(PLM_E_MISSING, "beam search: the model has no end-of-sequence token");
    plm_beam *b = plm_calloc_for(1, sizeof *b, "beam search");
    if (!b) return PLM_E_NOMEM;
    const size_t B = (size_t)n_beams, T = (size_t)max_new_tokens;
    b->n_vocab = V;
    b->n_beams = n_beams;
    b->n_run = 1;
    b->max_new = max_new_tokens;
    b->early = early_stopping;
    b->length_penalty = length_penalty;
    b->eos = eos;
    b->logits = plm_malloc_for(B * V * sizeof(float), "beam search logits");
    b->scores = plm_calloc_for(B, sizeof(float), "beam search");
    b->next_scores = plm_calloc_for(B, sizeof(float), "beam search");
    b->seqs = plm_calloc_for(B * T, sizeof(int32_t), "beam search");
    b->next = plm_calloc_for(B * T, sizeof(int32_t), "beam search");
    b->src = plm_calloc_for(B, sizeof(int32_t), "beam search");
    b->tok = plm_calloc_for(B, sizeof(int32_t), "beam search");
    b->heap = plm_calloc_for(2 * B, sizeof(beam_cand), "beam search");
    b->hyps = plm_calloc_for(B + 1, sizeof(beam_hyp), "beam search");
    b->hyp_ids = plm_calloc_for((B + 1) * (T + 1), sizeof(int32_t), "beam search");
    if (!b->logits || !b->scores || !b->next_scores || !b->seqs || !b->next || !b->src || !b->tok ||
        !b->heap || !b->hyps || !b->hyp_ids) {
        beam_free(b);
        return PLM_E_NOMEM;
    }
    for (size_t i = 0; i <= B; i++) b->hyps[i].ids = b->hyp_ids + i * (T + 1);
    b->tok[0] = first;
    *out = b;
    return PLM_OK;
}

int beam_step(plm_beam *b, const plm_beam_model *m) {
    if (b->finished) return 0;
    const int V = b->n_vocab, B = b->n_beams, n_run = b->n_run;
    const int t = b->step + 1; /* tokens per beam after this step */
    int rc = m->step(m->ctx, b->tok, n_run, b->logits);
    if (rc) return rc;

    /* the 2B best (beam score + log-probability) candidates */
    const int K = PLM_MIN(2 * B, n_run * V);
    int n_heap = 0;
    for (int r = 0; r < n_run; r++) {
        float *lg = b->logits + (size_t)r * V;
        op_log_softmax(lg, lg, 1, V);
        for (int i = 0; i < V; i++) {
            beam_cand cd = {lg[i] + b->scores[r], r, i};
            if (n_heap < K) {
                b->heap[n_heap] = cd;
                heap_sift_up(b->heap, n_heap++);
            } else if (cand_before(&cd, &b->heap[0])) {
                b->heap[0] = cd;
                heap_sift_down(b->heap, n_heap, 0);
            }
        }
    }
    qsort(b->heap, (size_t)n_heap, sizeof *b->heap, cand_cmp);

    /* BeamSearchScorer.process */
    int n_next = 0;
    for (int rank = 0; rank < n_heap && n_next < B; rank++) {
        const beam_cand *cd = &b->heap[rank];
        const int32_t *parent = b->seqs + (size_t)cd->beam * b->max_new;
        if (cd->id == b->eos) {
            if (rank < B) hyp_add(b, parent, b->step, 1, cd->score, t);
            continue;
        }
        int32_t *seq = b->next + (size_t)n_next * b->max_new;
        memcpy(seq, parent, (size_t)b->step * sizeof *seq);
        seq[b->step] = cd->id;
        b->src[n_next] = cd->beam;
        b->tok[n_next] = cd->id;
        b->next_scores[n_next] = cd->score;
        n_next++;
    }
    if (n_next < B) /* cannot happen while B < n_vocab: at most one EOS per beam */
        return plm_fail(PLM_E_STATE, "beam search: fewer than %d continuations", B);
    b->done = b->done || hyps_done(b, b->heap[0].score, t);
    int32_t *ts = b->seqs;
    b->seqs = b->next;
    b->next = ts;
    float *tf = b->scores;
    b->scores = b->next_scores;
    b->next_scores = tf;
    b->step = t;

    if (b->done || t >= b->max_new) {
        if (!b->done) /* BeamSearchScorer.finalize: the running beams join */
            for (int r = 0; r < B; r++) hyp_add(b, b->seqs + (size_t)r * b->max_new, t, 0, b->scores[r], t);
        b->finished = 1;
        return 0;
    }
    if ((rc = m->reorder(m->ctx, b->src, B))) return rc;
    b->n_run = B;
    return 1;
}

int beam_result(const plm_beam *b, int32_t *ids, int cap, float *score) {
    if (!b || !b->finished) return plm_fail(PLM_E_STATE, "beam search: no finished search");
    if (cap < 0 || (cap > 0 && !ids)) return plm_fail(PLM_E_INVALID, "beam search: bad result buffer");
    const beam_hyp *best = &b->hyps[0];
    for (int i = 1; i < b->n_hyps; i++)
        if (b->hyps[i].score >= best->score) best = &b->hyps[i]; /* sorted(...).pop(): the last of ties */
    memcpy(ids, best->ids, (size_t)PLM_MIN(cap, best->len) * sizeof *ids);
    if (score) *score = (float)best->score;
    return best->len;
}
