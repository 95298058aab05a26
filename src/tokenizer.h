/* tokenizer.h — tokenizers built from GGUF tokenizer.ggml.* metadata.
 *
 *   tokenizer.ggml.model   algorithm                          file
 *   "gpt2"                 byte-level BPE (GPT-2 regex)       tok_bpe.c
 *   "llama"                SentencePiece BPE (scores, <0xNN>) tok_spm.c
 *   "bert"                 WordPiece (BertTokenizer, uncased) tok_wpm.c
 *   "t5"                   SentencePiece Unigram (Viterbi)    tok_ugm.c
 * tokenizer.c holds the common part: reading tokens / scores / types and the
 * special-token ids from the GGUF, special-token handling, decoding.
 */
#ifndef PLM_TOKENIZER_H
#define PLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "plm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct plm_vocab plm_vocab;

enum plm_vocab_type {
    PLM_VOCAB_NONE = 0,
    PLM_VOCAB_SPM = 1, /* "llama" */
    PLM_VOCAB_BPE = 2, /* "gpt2"  */
    PLM_VOCAB_WPM = 3, /* "bert"  */
    PLM_VOCAB_UGM = 4  /* "t5"    */
};

/* token_type values as llama.cpp writes them */
enum plm_token_type {
    PLM_TOKEN_UNDEFINED = 0,
    PLM_TOKEN_NORMAL = 1,
    PLM_TOKEN_UNKNOWN = 2,
    PLM_TOKEN_CONTROL = 3,
    PLM_TOKEN_USER_DEFINED = 4,
    PLM_TOKEN_UNUSED = 5,
    PLM_TOKEN_BYTE = 6
};

/* Build the tokenizer from a GGUF's metadata. NULL + plm_fail() when the
 * metadata is missing (PLM_E_MISSING), malformed (PLM_E_FORMAT) or of an
 * unknown model (PLM_E_UNSUPPORTED). The vocab copies what it needs. */
plm_vocab *vocab_load(const gguf_ctx *g);
void vocab_free(plm_vocab *v);

int vocab_type(const plm_vocab *v);
int32_t vocab_n_tokens(const plm_vocab *v);
const char *vocab_token_text(const plm_vocab *v, int32_t id); /* as stored in the GGUF */
int vocab_token_type(const plm_vocab *v, int32_t id);
/* Special ids (-1 when the model has none). */
int32_t vocab_bos(const plm_vocab *v);
int32_t vocab_eos(const plm_vocab *v);
int32_t vocab_unk(const plm_vocab *v);
int32_t vocab_pad(const plm_vocab *v);
int32_t vocab_sep(const plm_vocab *v);
int32_t vocab_mask(const plm_vocab *v);
int vocab_add_bos(const plm_vocab *v);
int vocab_add_eos(const plm_vocab *v);
/* 1 if id ends generation (eos, or another end-of-generation control token). */
int vocab_is_eog(const plm_vocab *v, int32_t id);

/* Encode UTF-8 text. add_special adds what the model's convention says
 * (BOS for llama, [CLS]..[SEP] for bert, </s> for t5, nothing for gpt2).
 * Writes at most cap ids; returns the total number of ids (call again with a
 * larger buffer if > cap) or a PLM_E_* code. Special-token literals in the
 * text (e.g. "<|endoftext|>") are matched as special tokens when
 * parse_special is set. */
int vocab_encode(const plm_vocab *v, const char *text, size_t len, int add_special,
                 int parse_special, int32_t *out, int cap);

/* vocab_encode with parse_special except inside the literal byte ranges
 * lit[2i] .. lit[2i+1] (n_lit pairs): a control or unknown token's text that
 * overlaps one stays text (message contents in a rendered chat prompt). */
int vocab_encode_literal(const plm_vocab *v, const char *text, size_t len, int add_special,
                         int parse_special, const int32_t *lit, int n_lit, int32_t *out, int cap);

/* Sentence pair for WordPiece: [CLS] a [SEP] b [SEP] with token types 0.. 1..
 * (other vocab types: a then b, type ids 0 then 1). Same return convention. */
int vocab_encode_pair(const plm_vocab *v, const char *a, size_t alen, const char *b,
                      size_t blen, int add_special, int32_t *out_ids, int32_t *out_types,
                      int cap);

/* Decoding flags: PLM_DECODE_* (plm.h, part of the ABI) */

/* Bytes of one token as it appears in decoded text (byte-level BPE mapped
 * back to bytes, U+2581 -> space, <0xNN> -> the byte, "##" rules for
 * WordPiece handled by vocab_decode). May be an incomplete UTF-8 sequence.
 * Returns the byte count (may exceed cap: only cap written) or PLM_E_*. */
int vocab_token_bytes(const plm_vocab *v, int32_t id, int flags, char *out, int cap);

/* Decode a whole sequence to UTF-8 (invalid UTF-8 replaced by U+FFFD, as HF
 * does). Returns the byte count (may exceed cap) or PLM_E_*. */
int vocab_decode(const plm_vocab *v, const int32_t *ids, int n, int flags, char *out, int cap);

#ifdef __cplusplus
}
#endif
#endif
