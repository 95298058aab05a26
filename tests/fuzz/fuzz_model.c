/* fuzz_model.c — libFuzzer harness: load a (mutated) model file from memory and run
 * one forward pass: causal decoders decode 6 ids with every position's logits plus a
 * cached step, BERT runs the encoder, pooling and every head in the file (pooler,
 * classifier, masked-LM), T5 encodes and runs a 2-beam search (tests/native/forward.h).
 * Seeds: the tiny models of tests/fixtures (hostile/ *-ok.gguf, gpt2/llama/t5 tiny).
 * The ids come from the file's last bytes, so they mutate with it. */
#include <stdint.h>
#include <stdlib.h>

#include "forward.h"
#include "plm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    plm_clear_error();
    plm_model *m = plm_model_load_buffer(data, size, 0);
    if (!m) {
        if (!plm_errmsg()[0]) abort();
        return 0;
    }
    const size_t tail = size < 16 ? size : 16;
    int rc = forward_once(m, data + size - tail, tail);
    if (rc != PLM_OK && !plm_errmsg()[0]) abort();
    plm_model_free(m);
    return 0;
}
