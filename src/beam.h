/* beam.h — beam search, next to the samplers: transformers' BeamSearchScorer (v4.45
 * semantics), batch size 1, for any model that can "decode one token for each of these
 * beams" and "reorder its beams" (t5.c's decoder; causal LMs through plm_ctx_beam_*).
 *
 *   - step t (t = 1.. tokens generated): candidates = the 2B best (beam score +
 *     log_softmax(logits)) over all running beams' next tokens (ties: lower beam,
 *     then lower id). In rank order, an EOS candidate of rank < B becomes a finished
 *     hypothesis scored sum_logprobs / t^length_penalty (t counts the EOS); other
 *     candidates become the next running beams until there are B.
 *   - finished list: the B best hypotheses; done when it holds B and
 *       early_stopping true:   always;
 *       early_stopping false:  worst kept score >= best candidate / t^lp;
 *       early_stopping never:  ... >= best candidate / (lp > 0 ? max_new : t)^lp.
 *   - at max_new tokens, if not done, every running beam joins the finished list
 *     (scored over its t tokens). The result is the best finished hypothesis.
 * Step 1 runs one beam (the decoder start token / the prompt's last token); HF runs B
 * copies with beam scores 0, -1e9, ...: the same candidates when B < n_vocab.
 */
#ifndef PLM_BEAM_H
#define PLM_BEAM_H

#include <stdint.h>

typedef struct plm_beam plm_beam;

/* The model side. step: run tok[r] for every running beam r < n_run at the next position and
 * write n_run rows of n_vocab logits. reorder: new beam s continues old beam src[s] (s < n_new);
 * on failure nothing has changed. */
typedef struct {
    void *ctx;
    int (*step)(void *ctx, const int32_t *tok, int n_run, float *logits);
    int (*reorder)(void *ctx, const int32_t *src, int n_new);
} plm_beam_model;

/* first: the token the first step runs. Checks the arguments (messages name them). */
int beam_begin(plm_beam **out, int n_vocab, int32_t eos, int32_t first, int n_beams, int max_new_tokens,
               float length_penalty, int early_stopping);
/* One token of every running beam: 1 running, 0 finished, PLM_E_* (the search is then over). */
int beam_step(plm_beam *b, const plm_beam_model *m);
/* The best finished hypothesis (see plm_t5_beam_result). */
int beam_result(const plm_beam *b, int32_t *ids, int cap, float *score);
int beam_finished(const plm_beam *b);
void beam_free(plm_beam *b);

#endif
