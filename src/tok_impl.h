/* tok_impl.h — internal contract between tokenizer.c (common part) and the
 * algorithm files tok_bpe.c, tok_spm.c, tok_wpm.c, tok_ugm.c.
 *
 * tokenizer.c reads tokenizer.ggml.{model,tokens,scores,token_type,*_token_id,
 * add_*} from the GGUF into a plm_vocab, builds the token-text -> id map,
 * handles special tokens (splitting the text on special-token literals when
 * parse_special is set, adding BOS/EOS/CLS/SEP) and decoding, and calls the
 * algorithm's encode() on each plain-text fragment.
 */
#ifndef PLM_TOK_IMPL_H
#define PLM_TOK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable id list that encoders append to. tok_push fails with PLM_E_NOMEM. */
typedef struct tok_ids {
    int32_t *ids;
    int n, cap;
} tok_ids;
int tok_push(tok_ids *out, int32_t id);

typedef struct tok_algo {
    const char *model; /* tokenizer.ggml.model value */
    int type;          /* enum plm_vocab_type */
    /* Read algorithm-specific metadata (merges, charsmap, ...) into v->algo. */
    int (*init)(plm_vocab *v, const gguf_ctx *g);
    void (*free)(plm_vocab *v);
    /* Encode one fragment of plain text (no special tokens inside).
     * `first` is 1 for a fragment at the start of the input or right after a
     * special token (llama.cpp's rule for the SentencePiece dummy prefix). */
    int (*encode)(const plm_vocab *v, const char *text, size_t len, int first, tok_ids *out);
    /* Optional: bytes of one token for decoding (NULL = generic rule in tokenizer.c). */
    int (*token_bytes)(const plm_vocab *v, int32_t id, int flags, char *out, int cap);
    /* Optional: whole-sequence decode (NULL = concatenate token_bytes). */
    int (*decode)(const plm_vocab *v, const int32_t *ids, int n, int flags, char *out, int cap);
} tok_algo;

extern const tok_algo tok_algo_bpe; /* tok_bpe.c: "gpt2"  */
extern const tok_algo tok_algo_spm; /* tok_spm.c: "llama" */
extern const tok_algo tok_algo_wpm; /* tok_wpm.c: "bert"  */
extern const tok_algo tok_algo_ugm; /* tok_ugm.c: "t5"    */

struct plm_vocab {
    const tok_algo *algo;
    int32_t n_tokens;
    char **text;        /* token strings, NUL-terminated (as stored in the GGUF) */
    uint32_t *text_len;
    float *scores;      /* NULL if the file has none */
    int32_t *types;     /* enum plm_token_type; NORMAL if the file has none */
    int32_t bos, eos, unk, pad, sep, cls, mask, eot; /* -1 = none */
    int add_bos, add_eos, add_sep;
    int add_space_prefix;        /* tokenizer.ggml.add_space_prefix (spm/ugm) */
    int remove_extra_whitespaces; /* tokenizer.ggml.remove_extra_whitespaces (ugm) */
    /* token text -> id (open addressing; see tokenizer.c) */
    int32_t *map;
    uint32_t map_cap;
    /* special tokens (CONTROL / USER_DEFINED) by descending length, for parse_special */
    int32_t *specials;
    int n_specials;
    void *impl;  /* algorithm-specific state */
    /* end-of-generation ids: eos, eot and EOG-looking control tokens */
    int32_t *eog;
    int n_eog;
    char *text_blob; /* storage of all token strings (text[i] point into it) */
};

/* Token id of an exact byte string, -1 if not in the vocabulary. */
int32_t tok_find(const plm_vocab *v, const char *s, size_t len);

/* sentencepiece's decode renders an unknown piece as the model's unk_surface,
 * " \u2047 " by default (TrainerSpec.unk_surface; a GGUF does not carry it).
 * SentencePiece vocabularies (SPM, UGM) do the same under PLM_DECODE_SKIP_SPECIAL,
 * which is sentencepiece's DecodeIds: control pieces vanish, unknown ones show.
 * Without the flag every special token shows its own text ("<unk>"), as
 * llama.cpp's token_to_piece(special = true). The other vocabularies drop
 * UNKNOWN tokens under the flag (HF skip_special_tokens). */
#define TOK_UNK_SURFACE " \xE2\x81\x87 "
#define TOK_UNK_SURFACE_LEN 5
/* 1 if token id decodes to TOK_UNK_SURFACE with these flags. */
int tok_unk_surface(const plm_vocab *v, int32_t id, int flags);

/* tok_bpe.c: byte length of the GPT-2 pre-tokenizer regex match at s[i]
 * (0 if i >= len); exposed for tools/tok_cli and cross-checks. */
size_t tok_bpe_pretokenize_len(const char *s, size_t len, size_t i);
/* tok_bpe.c: split text with a BPE pre-tokenizer, named by a tokenizer.ggml.pre
 * value ("llama-bpe", "qwen2", "smollm", ...) or its family id ("gpt2", "llama3",
 * "qwen2", "starcoder", "falcon", "gpt-4o", "tekken", "deepseek-coder"). Writes
 * at most cap piece byte lengths; returns the piece count or PLM_E_UNSUPPORTED. */
int tok_bpe_split(const char *pre, const char *text, size_t len, uint32_t *lens, int cap);

#ifdef __cplusplus
}
#endif
#endif
