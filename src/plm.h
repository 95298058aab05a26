/* plm.h — the public C API of plm-wasm, which is also the WebAssembly ABI.
 *
 * Everything the JS wrapper (js/) calls is declared here and nothing else is
 * exported from the .wasm. Conventions:
 *   - handles are opaque pointers; sizes and counts are int / size_t (i32 in wasm);
 *   - functions returning int give PLM_OK (0) / a count (>= 0) on success and a
 *     negative PLM_E_* code on failure; functions returning a pointer give NULL
 *     on failure. In both cases plm_errmsg() describes the failure.
 *   - "returns the count (may exceed cap)": when a caller's buffer is too small,
 *     only cap items are written and the full count is returned, so the caller
 *     can retry with a larger buffer.
 *   - no function aborts; a failed call leaves every handle usable.
 */
#ifndef PLM_H
#define PLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__EMSCRIPTEN__) || defined(__wasm__)
#define PLM_API __attribute__((used, visibility("default")))
#else
#define PLM_API __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------------ status */
enum plm_status {
    PLM_OK = 0,
    PLM_E_INVALID = -1,     /* bad argument: NULL handle, id out of range, bad option */
    PLM_E_FORMAT = -2,      /* malformed file or metadata */
    PLM_E_TRUNCATED = -3,   /* the file ended before its declared end */
    PLM_E_UNSUPPORTED = -4, /* unknown version / tensor type / architecture / tokenizer */
    PLM_E_NOMEM = -5,       /* out of memory (message says how much was needed) */
    PLM_E_TOO_LONG = -6,    /* input longer than the context */
    PLM_E_MISSING = -7,     /* a required tensor / metadata key / head is not in the file */
    PLM_E_STATE = -8        /* call not valid in the current state */
};

/* Message and code of the last failure on this thread ("" / 0 if none). */
PLM_API const char *plm_errmsg(void);
PLM_API int plm_errcode(void);
PLM_API void plm_clear_error(void);

PLM_API const char *plm_version(void);
/* Bit set: 1 = SIMD128 kernels, 2 = shared-memory threads, 4 = relaxed-SIMD kernels compiled in. */
PLM_API int plm_build_features(void);

/* Memory for the JS side's arguments and results. */
PLM_API void *plm_alloc(size_t n);
PLM_API void plm_dealloc(void *p);
/* Bytes currently allocated through the core's allocator (for leak tests). */
PLM_API double plm_heap_used(void);

/* ----------------------------------------------------------------- threads
 * Native: plm_threads_init(n) starts n-1 pthreads. WASM "mt" build: the host
 * starts n-1 workers that share the memory; each sets a stack and calls
 * plm_thread_worker(i) (i = 1..n-1), which never returns. Single-thread
 * builds run everything inline. plm_threads_init returns the thread count
 * (n <= 0: natively the number of CPUs, in wasm 1) or PLM_E_*. */
PLM_API int plm_threads_init(int n_threads);
PLM_API void plm_thread_worker(int index);
PLM_API int plm_threads_get(void);
/* Workers currently running their loop (the host may poll this after starting
 * them). Dispatches never wait for a particular worker: tasks are claimed
 * dynamically, so a worker that never starts only costs speed. */
PLM_API int plm_threads_started(void);

/* ----------------------------------------------------------------- loading
 * Streaming, zero-copy: the host writes each chunk of the GGUF file directly
 * at plm_loader_dst() (at most plm_loader_room() bytes), then commits it. */
typedef struct plm_loader plm_loader;
typedef struct plm_model plm_model;

enum {
    PLM_LOAD_NEED_MORE = 1,    /* keep feeding */
    PLM_LOAD_HEADER_READY = 2, /* header parsed, memory for the weights reserved */
    PLM_LOAD_DONE = 3          /* this file is complete */
};
enum { PLM_LOAD_VOCAB_ONLY = 1 }; /* flags of plm_loader_finish / plm_model_load_* */

PLM_API plm_loader *plm_loader_new(void);
/* Optional, before the first byte of each file: its size in bytes (Content-Length,
 * file size). Implausible lengths and counts in the header, and a file shorter
 * than its header declares, are then reported as soon as the header is read. */
PLM_API int plm_loader_set_size(plm_loader *l, double bytes);
/* Optional, before the first byte: PLM_LOAD_VOCAB_ONLY reads only the metadata of
 * the (first) file: the loader is DONE after the last metadata key, tensor
 * records and data are never read nor validated, no memory is reserved for
 * weights (a tokenizer from the first bytes of any model file). plm_loader_finish
 * then builds a vocab-only model whatever its flags. */
PLM_API int plm_loader_set_flags(plm_loader *l, int flags);
PLM_API uint8_t *plm_loader_dst(plm_loader *l);
PLM_API size_t plm_loader_room(plm_loader *l);
PLM_API int plm_loader_commit(plm_loader *l, size_t n);
PLM_API double plm_loader_file_size(plm_loader *l); /* valid after HEADER_READY (vocab-only: after DONE, = header bytes) */
PLM_API int plm_loader_next_file(plm_loader *l);     /* split models: start next shard */
PLM_API int plm_loader_files_left(plm_loader *l);
/* Build the model (binds and validates tensors unless PLM_LOAD_VOCAB_ONLY).
 * Consumes the loader in every case. */
PLM_API plm_model *plm_loader_finish(plm_loader *l, int flags);
PLM_API void plm_loader_free(plm_loader *l);

/* With PLM_LOAD_VOCAB_ONLY only the metadata is read: the buffer / file may be
 * just the start of a model file, tensors are never read nor validated. */
PLM_API plm_model *plm_model_load_buffer(const void *data, size_t n, int flags);
PLM_API plm_model *plm_model_load_file(const char *path, int flags);
PLM_API void plm_model_free(plm_model *m);
/* JSON object describing the model: architecture, name, contextLength,
 * vocabSize, embeddingLength, blockCount, headCount, headCountKv, nParams,
 * fileType, tensorTypes, tokenizer {type, bos, eos, ...}, ... Owned by the model. */
PLM_API const char *plm_model_info(plm_model *m);
/* All metadata as a JSON object (arrays longer than max_elems are cut). Owned by the model. */
PLM_API const char *plm_model_meta(plm_model *m, int max_elems);

/* --------------------------------------------------------------- tokenizer */
PLM_API int plm_tokenize(plm_model *m, const char *text, int len, int add_special,
                         int parse_special, int32_t *out, int cap);
/* plm_tokenize with parse_special, except that special-token text overlapping one of the
 * byte ranges [ranges[2i], ranges[2i+1]) (n_ranges pairs) stays ordinary text: the message
 * contents of a rendered chat template (control tokens only; user-defined tokens always split). */
PLM_API int plm_tokenize_literal(plm_model *m, const char *text, int len, int add_special,
                                 const int32_t *ranges, int n_ranges, int32_t *out, int cap);
PLM_API int plm_tokenize_pair(plm_model *m, const char *a, int alen, const char *b, int blen,
                              int add_special, int32_t *ids, int32_t *types, int cap);
/* Decoding flags (plm_token_bytes, plm_detokenize) */
enum {
    PLM_DECODE_SKIP_SPECIAL = 1, /* drop control tokens (bos/eos/pad/cls/sep/...); unknown
                                    tokens: dropped too, except in SentencePiece vocabularies
                                    (llama, t5), which print sentencepiece's " \u2047 " */
    PLM_DECODE_STRIP_LEADING = 2 /* remove the leading space a SentencePiece decode strips */
};
/* One token's bytes (may be a partial UTF-8 sequence); flags: PLM_DECODE_*. */
PLM_API int plm_token_bytes(plm_model *m, int32_t id, int flags, char *out, int cap);
PLM_API int plm_detokenize(plm_model *m, const int32_t *ids, int n, int flags, char *out,
                           int cap);
PLM_API int plm_token_is_eog(plm_model *m, int32_t id);

/* ------------------------------------------------- causal LM (gpt2, llama) */
typedef struct plm_ctx plm_ctx;
/* A context owns the KV cache and scratch buffers; n_ctx <= 0 = the model's context length. */
PLM_API plm_ctx *plm_ctx_new(plm_model *m, int n_ctx);
PLM_API void plm_ctx_free(plm_ctx *c);
PLM_API int plm_ctx_n_ctx(plm_ctx *c);
PLM_API int plm_ctx_n_past(plm_ctx *c);
/* Forget cached positions >= n_past (0 = empty cache). */
PLM_API int plm_ctx_truncate(plm_ctx *c, int n_past);
/* Run n tokens at positions n_past..n_past+n-1 and append them to the cache.
 * logits (may be NULL): all_logits ? n*n_vocab floats : the last position's n_vocab.
 * PLM_E_TOO_LONG if n_past+n > n_ctx (nothing is changed then). */
PLM_API int plm_ctx_decode(plm_ctx *c, const int32_t *ids, int n, float *logits, int all_logits);
/* Beam search continuing the cached prompt: c holds the prompt but its last token `last`,
 * which the first step runs; then as plm_t5_beam_* (transformers' generate(num_beams, ...)
 * with length counted over the new tokens). The beams are forks of c (plm_arch.ctx_copy);
 * c's cache is left as it was. Any other call on c drops the search. */
PLM_API int plm_ctx_beam_begin(plm_ctx *c, int32_t last, int n_beams, int max_new_tokens,
                               float length_penalty, int early_stopping);
PLM_API int plm_ctx_beam_step(plm_ctx *c);
PLM_API int plm_ctx_beam_result(plm_ctx *c, int32_t *ids, int cap, float *score);

/* ---------------------------------------------------------------- sampling */
typedef struct plm_sampler plm_sampler;
PLM_API plm_sampler *plm_sampler_new(double seed);
/* Chain (transformers' generate() order): repetition penalty, then greedy if temperature
 * <= 0, else temperature, top-k (ties with the k-th kept), top-p, min-p, draw. The same
 * seed gives the same tokens on every platform. New samplers: temperature 1, rest off.
 * temperature <= 0: greedy (argmax, lowest id on ties). top_k <= 0: off. top_p >= 1: off.
 * min_p <= 0: off. repetition_penalty == 1: off (HF/CTRL rule: divide positive logits,
 * multiply negative ones, for every id in the last penalty_last_n accepted tokens;
 * penalty_last_n <= 0 means all of them). */
PLM_API int plm_sampler_set(plm_sampler *s, float temperature, int top_k, float top_p,
                            float min_p, float repetition_penalty, int penalty_last_n);
PLM_API void plm_sampler_accept(plm_sampler *s, int32_t id);
PLM_API void plm_sampler_reset(plm_sampler *s, double seed);
/* Sample from logits[n_vocab] (not modified). Returns the id or PLM_E_*. */
PLM_API int plm_sampler_sample(plm_sampler *s, const float *logits, int n_vocab);
PLM_API void plm_sampler_free(plm_sampler *s);

/* ---------------------------------------------------------------- grammars
 * GBNF (llama.cpp's grammar format; start symbol `root`), grammar.c.
 * plm_grammar_new: NULL + PLM_E_FORMAT with "grammar parse error at line L,
 * column C: ..." (line/column also from plm_grammar_error_line/_column; 0 when
 * the error has no position, e.g. left recursion).
 * plm_grammar_matches: 1 if the whole UTF-8 text is a sentence of the grammar, else 0.
 * Constrained sampling: a token index (the model's token bytes as a trie; build
 * once per model) and a matcher per generation (it keeps the grammar and index
 * alive until freed). plm_matcher_mask sets the logits of the tokens that cannot
 * continue the text to -inf (end-of-generation tokens: allowed only when the text
 * is complete) and returns how many are left (0 = PLM_E_STATE); accept advances by
 * the chosen token. state: bit 1 = the text is complete, bit 2 = it can go on.
 * flags: PLM_MATCHER_STRIP_LEADING — the first token with text loses a leading
 * SentencePiece space (as plm_detokenize's PLM_DECODE_STRIP_LEADING). */
typedef struct plm_grammar plm_grammar;
typedef struct plm_token_index plm_token_index;
typedef struct plm_matcher plm_matcher;
enum { PLM_MATCHER_STRIP_LEADING = 1 }; /* flags of plm_matcher_new */
PLM_API plm_grammar *plm_grammar_new(const char *src, int len);
PLM_API int plm_grammar_error_line(void);
PLM_API int plm_grammar_error_column(void);
PLM_API int plm_grammar_matches(plm_grammar *g, const char *text, int len);
PLM_API void plm_grammar_free(plm_grammar *g);
PLM_API plm_token_index *plm_token_index_new(plm_model *m);
PLM_API void plm_token_index_free(plm_token_index *t);
PLM_API plm_matcher *plm_matcher_new(plm_grammar *g, plm_token_index *t, int flags);
PLM_API int plm_matcher_mask(plm_matcher *m, float *logits, int n_vocab);
PLM_API int plm_matcher_accept(plm_matcher *m, int32_t id);
PLM_API int plm_matcher_state(plm_matcher *m);
PLM_API void plm_matcher_free(plm_matcher *m);

/* ------------------------------------------------------------ quantization
 * ggml block formats for the JS converter (type = ggml type id: 0 f32, 1 f16,
 * 30 bf16, 8 q8_0, 2 q4_0, 14 q6_K; dequantize also reads 12 q4_K).
 * Output is byte-identical to ggml's reference quantizers. */
/* Bytes of one row of n values; -1 if the type is unknown or n is not a whole number of blocks. */
PLM_API int plm_type_row_bytes_i(int type, int n);
/* Quantize nrows x n_per_row floats into dst; returns the bytes written or PLM_E_*. */
PLM_API int plm_quantize_rows(int type, const float *src, void *dst, int nrows, int n_per_row);
/* Dequantize nrows rows into dst (nrows * n_per_row floats); returns the bytes read or PLM_E_*. */
PLM_API int plm_dequantize_rows(int type, const void *src, float *dst, int nrows, int n_per_row);

/* ------------------------------------------------------------- diagnostics
 * Benchmark hooks for bench/ops_bench.mjs (kernel timing from JS, which owns
 * the clock). Not part of the model API. */
typedef struct plm_bench plm_bench;
/* Random weights [n][k] of `type` (ggml id), activations [m][k], bias [n]. NULL on failure. */
PLM_API plm_bench *plm_bench_matmul_new(int type, int n, int k, int m);
/* op_matmul `iters` times; PLM_OK or PLM_E_*. */
PLM_API int plm_bench_matmul_run(plm_bench *b, int iters);
/* Bytes of the weight matrix (what one matmul streams). */
PLM_API double plm_bench_weight_bytes(plm_bench *b);
/* Order-sensitive checksum of the last output (to compare builds / thread counts). */
PLM_API double plm_bench_checksum(plm_bench *b);
PLM_API void plm_bench_free(plm_bench *b);
/* Memory-read baseline: sums n int32 from p (SIMD when built with it), iters times. */
PLM_API int plm_bench_memsum(const int32_t *p, int n, int iters);
/* 1 = SIMD kernels (default when built in), 0 = scalar references; returns the previous setting. */
PLM_API int plm_bench_use_simd(int on);
/* Relaxed-SIMD builds: the quantized GEMM's relaxed kernels (1, default) or SIMD128 (0); previous setting. */
PLM_API int plm_bench_use_relaxed(int on);

/* -------------------------------------------------------------------- BERT
 * Encoder-only models (general.architecture "bert"). A batch is n_seq sequences
 * packed back to back WITHOUT padding: sequence s has seq_lens[s] tokens (1 ..
 * the context length) and the rows of every per-token array (ids, type_ids,
 * hidden) follow the same packing. Each sequence attends only to its own tokens,
 * so a batch gives exactly (bit for bit) the numbers of its sequences run one at
 * a time — what Hugging Face computes for a padded batch with an attention mask.
 * Calls on one model must not overlap (the model keeps its scratch buffers). */
/* bert.pooling_type; PLM_POOL_RANK (a reranker: llama.cpp writes it for cross-encoders) is
 * reported by plm_bert_info, plm_bert_pool refuses it (a reranker scores with its classifier) */
enum { PLM_POOL_NONE = 0, PLM_POOL_MEAN = 1, PLM_POOL_CLS = 2, PLM_POOL_LAST = 3, PLM_POOL_RANK = 4 };

/* Last hidden state: hidden[total][n_embd], total = sum of seq_lens. type_ids may be
 * NULL (all 0). PLM_E_TOO_LONG for a sequence longer than the context. */
PLM_API int plm_bert_encode(plm_model *m, const int32_t *ids, const int32_t *type_ids,
                            const int32_t *seq_lens, int n_seq, float *hidden);
/* Sentence vectors out[n_seq][n_embd] from packed hidden states: PLM_POOL_MEAN (mean
 * over each sequence's tokens, as sentence-transformers), PLM_POOL_CLS (first token)
 * or PLM_POOL_LAST; normalize != 0: L2-normalized. */
PLM_API int plm_bert_pool(plm_model *m, const float *hidden, const int32_t *seq_lens, int n_seq,
                          int mode, int normalize, float *out);
/* BertPooler: out[n_seq][n_embd] = tanh(W h[first token] + b). PLM_E_MISSING without cls.*. */
PLM_API int plm_bert_pooler(plm_model *m, const float *hidden, const int32_t *seq_lens, int n_seq,
                            float *out);
/* Sequence classification logits[n_seq][n_labels] (pooler, then cls.output.*); returns
 * n_labels. PLM_E_MISSING when the file has no classifier. */
PLM_API int plm_bert_classify(plm_model *m, const float *hidden, const int32_t *seq_lens, int n_seq,
                              float *logits);
/* Masked-LM logits[n][n_vocab] for n rows of hidden states (e.g. the [MASK] positions).
 * PLM_E_MISSING when the file has no masked-LM head (mlm.*). */
PLM_API int plm_bert_mlm(plm_model *m, const float *rows, int n, float *logits);
/* JSON: {"pooling": bert.pooling_type (0 = absent), "heads": {"pooler", "mlm",
 * "classifier": bool}, "typeVocabSize", "contextLength", "nLabels", "labels": [...] | null}.
 * Owned by the model. */
PLM_API const char *plm_bert_info(plm_model *m);

/* ---------------------------------------------------------------------- T5
 * Encoder-decoder models (general.architecture "t5": T5 v1.0, v1.1, FLAN-T5).
 * A plm_t5 context holds one encoded input (the encoder output projected to every
 * decoder block's cross-attention K/V) and n_seq decoder sequences (beams) of equal
 * length, each with its own self-attention KV cache; one decode step runs every
 * sequence's token through each weight matrix at once. Logits follow Hugging Face
 * (tied embeddings rescaled by d_model^-0.5, unlike llama.cpp).
 * n_ctx bounds both the input length and the decoder length (<= 0: the model's
 * context length). Calls on one context must not overlap. */
typedef struct plm_t5 plm_t5;
PLM_API plm_t5 *plm_t5_new(plm_model *m, int n_ctx);
PLM_API void plm_t5_free(plm_t5 *c);
PLM_API int plm_t5_n_ctx(plm_t5 *c);
/* Decoder positions cached (the same for every sequence) / sequences in use. */
PLM_API int plm_t5_n_past(plm_t5 *c);
PLM_API int plm_t5_n_seq(plm_t5 *c);
/* JSON: {"ffn": "relu" | "gated-gelu", "tiedEmbeddings", "decoderStartTokenId",
 * "encoderBlocks", "decoderBlocks", "relativeBuckets", "maxDistance", "contextLength",
 * "headCount", "keyLength"}. Owned by the model. */
PLM_API const char *plm_t5_info(plm_model *m);
/* Run the encoder over ids[n] (mask: NULL, or 1 = token / 0 = padding, which the
 * encoder and the cross-attention ignore as keys) and keep it as the input of the
 * decoder, which is reset to one empty sequence. out (may be NULL): the encoder's
 * last hidden state [n][n_embd]. */
PLM_API int plm_t5_encode(plm_t5 *c, const int32_t *ids, const int32_t *mask, int n, float *out);
/* Empty the decoder and set n_seq sequences. */
PLM_API int plm_t5_decoder_reset(plm_t5 *c, int n_seq);
/* Append n tokens to every sequence: ids[n_seq][n] at positions n_past..n_past+n-1.
 * logits (may be NULL): all_logits ? [n_seq][n][n_vocab] : [n_seq][n_vocab] (each
 * sequence's last position). PLM_E_TOO_LONG past n_ctx (nothing changes then). */
PLM_API int plm_t5_decode(plm_t5 *c, const int32_t *ids, int n, float *logits, int all_logits);
/* Reorder / fork sequences: new sequence s continues old sequence src[s] (n_new entries,
 * each in [0, n_seq)); afterwards n_seq = n_new. */
PLM_API int plm_t5_reorder(plm_t5 *c, const int32_t *src, int n_new);
/* Beam search from the decoder start token over the encoded input, as transformers'
 * generate(num_beams=n_beams, length_penalty, early_stopping, max_new_tokens):
 * scores are summed log-softmax probabilities; a hypothesis of L tokens (counting its
 * EOS) scores sum / L^length_penalty. early_stopping: 0 = false (HF's heuristic),
 * 1 = true (stop at n_beams finished), 2 = "never". n_beams in [1, n_vocab).
 * plm_t5_beam_step runs one decoder step for all beams: 1 = running, 0 = finished,
 * PLM_E_* = failed (the search is dropped). Any other decoder call drops the search.
 * plm_t5_beam_result: the best hypothesis' tokens (ending with EOS if it ended so;
 * without the start token) and its score; returns the count (may exceed cap). */
enum { PLM_EARLY_STOPPING_FALSE = 0, PLM_EARLY_STOPPING_TRUE = 1, PLM_EARLY_STOPPING_NEVER = 2 };
PLM_API int plm_t5_beam_begin(plm_t5 *c, int n_beams, int max_new_tokens, float length_penalty,
                              int early_stopping);
PLM_API int plm_t5_beam_step(plm_t5 *c);
PLM_API int plm_t5_beam_result(plm_t5 *c, int32_t *ids, int cap, float *score);

#ifdef __cplusplus
}
#endif
#endif
