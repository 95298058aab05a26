/* test_tok_pre.c — the BPE pre-tokenizers of tok_bpe.c and the byte-level BPE
 * vocab features of modern models (Llama 3, Qwen2, SmolLM, ...).
 * Goldens: tests/fixtures/tokenizers/pretok/<id>.jsonl, written by
 * scripts/crosscheck_tokenizers.py --goldens from the reference regexes run with
 * Python's `regex` module (see tests/fixtures/tokenizers/PROVENANCE.md). */
#include "test.h"
#include "tok_test_util.h"

#include "model.h"
#include "tok_impl.h"
#include "unicode.h"

typedef struct { const char *id; int lines, ok; } pre_stats;

static void check_pre_line(const json_value *j, void *ctx) {
    pre_stats *st = ctx;
    const json_value *text = json_get(j, "text"), *pieces = json_get(j, "pieces");
    st->lines++;
    if (!text || !pieces || pieces->type != JSON_ARR) return;
    uint32_t lens[512];
    int n = tok_bpe_split(st->id, text->str, text->slen, lens, 512);
    int ok = n == (int)pieces->n && n <= 512;
    size_t off = 0;
    for (int i = 0; ok && i < n; i++) {
        const json_value *p = pieces->arr[i];
        ok = lens[i] == p->slen && memcmp(text->str + off, p->str, p->slen) == 0;
        off += lens[i];
    }
    if (ok) {
        st->ok++;
    } else if (st->lines - st->ok <= 3) {
        fprintf(stderr, "%s: pieces differ for \"%s\": got", st->id, text->str);
        off = 0;
        for (int i = 0; i < n && i < 512; off += lens[i], i++) fprintf(stderr, " [%.*s]", (int)lens[i], text->str + off);
        fprintf(stderr, "\n");
    }
}

TEST(test_pretokenizer_goldens) {
    static const char *const ids[] = {"gpt2", "llama3", "qwen2", "starcoder", "falcon", "gpt-4o", "tekken",
                                      "deepseek-coder"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/tokenizers/pretok/%s.jsonl", ids[i]);
        pre_stats st = {ids[i], 0, 0};
        int n = for_each_jsonl(path, check_pre_line, &st);
        CHECK_MSG(n > 200, "%s: %d lines", path, n);
        printf("  %-15s %d/%d\n", ids[i], st.ok, st.lines);
        CHECK_EQ_INT(st.ok, st.lines);
    }
}

/* tokenizer.ggml.pre values map to the families as llama.cpp maps them. */
TEST(test_pretokenizer_names) {
    const char *text = "x 12345 'S";
    struct { const char *pre; int n; } c[] = {
        /* x | " " | 123 | 45 | " '" | S */
        {"llama-bpe", 6}, {"llama3", 6}, {"smaug-bpe", 6},
        /* x | " " | 1 | 2 | 3 | 4 | 5 | " '" | S */
        {"qwen2", 9},     {"deepseek-r1-qwen", 9}, {"stablelm2", 9},
        {"smollm", 9},    {"starcoder", 9},  {"refact", 9},
        /* x | " 12345" | " '" | S */
        {"gpt-2", 4},     {"phi-2", 4},      {"default", 4},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        uint32_t lens[16];
        int n = tok_bpe_split(c[i].pre, text, strlen(text), lens, 16);
        CHECK_MSG(n == c[i].n, "%s: %d pieces, want %d", c[i].pre, n, c[i].n);
    }
    plm_clear_error();
    uint32_t lens[4];
    CHECK_EQ_INT(tok_bpe_split("no-such-pre", "a", 1, lens, 4), PLM_E_UNSUPPORTED);
    CHECK(strstr(plm_errmsg(), "no-such-pre") != NULL);
}

/* Invalid UTF-8 is kept byte for byte by every pre-tokenizer. */
TEST(test_pretokenizer_invalid_utf8) {
    static const char *const ids[] = {"gpt2", "llama3", "qwen2", "starcoder", "falcon", "gpt-4o", "tekken", "deepseek-coder"};
    const char s[] = "a\xff\xfe b\xc3 \xe4\xb8\r\n1\x80";
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        uint32_t lens[32];
        int n = tok_bpe_split(ids[i], s, sizeof s - 1, lens, 32);
        size_t total = 0;
        for (int k = 0; k >= 0 && k < n; k++) total += lens[k];
        CHECK_MSG(n > 0 && total == sizeof s - 1, "%s: %d pieces, %zu bytes", ids[i], n, total);
    }
}

/* ---------------------------------------------- a Llama 3 style byte-level vocab
 * ids 0..255: the byte stand-ins (id = byte value); merges build "hello";
 * " world" and "123" are tokens no merge reaches (only ignore_merges finds them). */
enum { T_HE = 256, T_LL, T_HELL, T_HELLO, T_WORLD, T_BOT, T_EOT_TEXT, T_EOT_ID, T_123, T_TOOL, N_TOK };

static void byte_standin(int b, char out[4]) {
    int n = 0, cp = b;
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (!printable) {
        int k = 0;
        for (int c = 0; c < b; c++)
            if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF))) k++;
        cp = 256 + k;
    }
    n = uc_put((uint32_t)cp, out);
    out[n] = 0;
}

static gguf_ctx *llama3_vocab_gguf(const char *pre, int add_bos_key /* -1 absent */) {
    static char texts[N_TOK][32];
    const char *tokens[N_TOK];
    int32_t types[N_TOK];
    for (int b = 0; b < 256; b++) {
        byte_standin(b, texts[b]);
        tokens[b] = texts[b];
        types[b] = PLM_TOKEN_NORMAL;
    }
    char sp[4];
    byte_standin(' ', sp);
    tokens[T_HE] = "he", tokens[T_LL] = "ll", tokens[T_HELL] = "hell", tokens[T_HELLO] = "hello";
    snprintf(texts[T_WORLD], sizeof texts[T_WORLD], "%sworld", sp);
    tokens[T_WORLD] = texts[T_WORLD];
    tokens[T_BOT] = "<|begin_of_text|>", tokens[T_EOT_TEXT] = "<|end_of_text|>", tokens[T_EOT_ID] = "<|eot_id|>";
    tokens[T_123] = "123";
    tokens[T_TOOL] = "<tool>";
    for (int t = T_HE; t < N_TOK; t++) types[t] = PLM_TOKEN_NORMAL;
    types[T_BOT] = types[T_EOT_TEXT] = types[T_EOT_ID] = PLM_TOKEN_CONTROL;
    types[T_TOOL] = PLM_TOKEN_USER_DEFINED;
    static const char *const merges[] = {"h e", "l l", "he ll", "hell o"};
    gguf_builder b;
    gb_begin(&b);
    kv_str(&b, "general.architecture", "llama");
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_str(&b, "tokenizer.ggml.pre", pre);
    kv_arr_str(&b, "tokenizer.ggml.tokens", tokens, N_TOK);
    kv_arr_i32(&b, "tokenizer.ggml.token_type", types, N_TOK);
    kv_arr_str(&b, "tokenizer.ggml.merges", merges, 4);
    kv_u32(&b, "tokenizer.ggml.bos_token_id", T_BOT);
    kv_u32(&b, "tokenizer.ggml.eos_token_id", T_EOT_TEXT);
    if (add_bos_key >= 0) kv_bool(&b, "tokenizer.ggml.add_bos_token", add_bos_key);
    return gb_end(&b);
}

static int encode_eq(const plm_vocab *v, const char *s, int add_special, int parse_special, const int32_t *want, int n) {
    int32_t ids[64];
    int k = vocab_encode(v, s, strlen(s), add_special, parse_special, ids, 64);
    int ok = k == n;
    for (int i = 0; ok && i < n; i++) ok = ids[i] == want[i];
    if (!ok) {
        fprintf(stderr, "  encode \"%s\":", s);
        print_ids("got", ids, k < 0 ? 0 : k);
    }
    return ok;
}

TEST(test_llama3_vocab) {
    gguf_ctx *g = llama3_vocab_gguf("llama-bpe", -1);
    plm_vocab *v = g ? vocab_load(g) : NULL;
    CHECK_MSG(v != NULL, "%s", plm_errmsg());
    if (!v) {
        gguf_free(g);
        return;
    }
    /* llama3 adds BOS by default; ignore_merges finds " world" and "123" */
    CHECK_EQ_INT(vocab_add_bos(v), 1);
    CHECK(encode_eq(v, "hello world", 1, 0, (const int32_t[]){T_BOT, T_HELLO, T_WORLD}, 3));
    CHECK(encode_eq(v, "hello world", 0, 0, (const int32_t[]){T_HELLO, T_WORLD}, 2));
    /* digits in groups of up to 3: "1234" -> "123" "4" */
    CHECK(encode_eq(v, "1234", 0, 0, (const int32_t[]){T_123, '4'}, 2));
    /* specials: parsed only with parse_special; user-defined tokens always */
    CHECK(encode_eq(v, "<|begin_of_text|>hi<|eot_id|>", 0, 1, (const int32_t[]){T_BOT, 'h', 'i', T_EOT_ID}, 4));
    CHECK(encode_eq(v, "a<tool>b", 0, 0, (const int32_t[]){'a', T_TOOL, 'b'}, 3));
    /* case-insensitive contractions stay one word: "'S" -> "'" "S" bytes (no merges) */
    CHECK(encode_eq(v, "X'S", 0, 0, (const int32_t[]){'X', '\'', 'S'}, 3));
    /* EOG: eos (<|end_of_text|>) and <|eot_id|> by the vocab's eot detection */
    CHECK(vocab_is_eog(v, T_EOT_TEXT));
    CHECK(vocab_is_eog(v, T_EOT_ID));
    CHECK(!vocab_is_eog(v, T_BOT));
    /* decode */
    char *dec;
    int32_t ids[] = {T_BOT, T_HELLO, T_WORLD, T_EOT_ID};
    int n = decode_alloc(v, ids, 4, PLM_DECODE_SKIP_SPECIAL, &dec);
    CHECK(n == 11 && dec && strcmp(dec, "hello world") == 0);
    free(dec);
    n = decode_alloc(v, ids, 4, 0, &dec);
    CHECK(n > 0 && dec && strcmp(dec, "<|begin_of_text|>hello world<|eot_id|>") == 0);
    free(dec);
    vocab_free(v);
    gguf_free(g);

    /* tokenizer.ggml.add_bos_token overrides the pre-tokenizer's default */
    g = llama3_vocab_gguf("llama-bpe", 0);
    v = g ? vocab_load(g) : NULL;
    CHECK(v && vocab_add_bos(v) == 0);
    if (v) CHECK(encode_eq(v, "hello", 1, 0, (const int32_t[]){T_HELLO}, 1));
    vocab_free(v);
    gguf_free(g);

    /* without ignore_merges (gpt-2) " world" is spelled out; qwen2 splits digits */
    g = llama3_vocab_gguf("gpt-2", -1);
    v = g ? vocab_load(g) : NULL;
    CHECK(v && vocab_add_bos(v) == 0);
    if (v) {
        CHECK(encode_eq(v, "hello world", 1, 0, (const int32_t[]){T_HELLO, ' ', 'w', 'o', 'r', 'l', 'd'}, 7));
        CHECK(encode_eq(v, "1234", 0, 0, (const int32_t[]){'1', '2', '3', '4'}, 4)); /* " ?\p{N}+" then no merges */
    }
    vocab_free(v);
    gguf_free(g);
    g = llama3_vocab_gguf("qwen2", -1);
    v = g ? vocab_load(g) : NULL;
    CHECK(v && vocab_add_bos(v) == 0);
    if (v) CHECK(encode_eq(v, "1234 hello", 0, 0, (const int32_t[]){'1', '2', '3', '4', ' ', T_HELLO}, 6));
    vocab_free(v);
    gguf_free(g);

    /* unknown pre-tokenizers are refused with the list of known ones */
    g = llama3_vocab_gguf("not-a-pre", -1);
    plm_clear_error();
    v = g ? vocab_load(g) : NULL;
    CHECK(v == NULL && plm_errcode() == PLM_E_UNSUPPORTED && strstr(plm_errmsg(), "not-a-pre") &&
          strstr(plm_errmsg(), "llama-bpe"));
    vocab_free(v);
    gguf_free(g);
}

int main(void) {
    RUN(test_pretokenizer_goldens);
    RUN(test_pretokenizer_names);
    RUN(test_pretokenizer_invalid_utf8);
    RUN(test_llama3_vocab);
    return test_summary();
}
