/* test_tok_bpe.c — GPT-2 byte-level BPE and the common tokenizer code.
 * Goldens: tests/fixtures/tokenizers/gpt2.jsonl (HF GPT2Tokenizer on the
 * real GPT-2 vocabulary) and the tiny model's own tokenizer cases. */
#include "test.h"
#include "tok_test_util.h"

#include "model.h"
#include "tok_impl.h"

#define GPT2_GGUF "tests/fixtures/tokenizers/ggml-vocab-gpt-2.gguf"
#define GPT2_JSONL "tests/fixtures/tokenizers/gpt2.jsonl"
#define TINY_GGUF "tests/fixtures/gpt2/gpt2-tiny-F32.gguf"
#define TINY_CASES "tests/fixtures/tokenizers/tiny-model-tokenizer-cases.json"

static plm_vocab *gpt2;

typedef struct { int lines, ids_ok, special_ok, decode_ok; } golden_stats;

static void check_line(const json_value *j, void *ctx) {
    golden_stats *st = ctx;
    const json_value *text = json_get(j, "text");
    st->lines++;
    int32_t *ids;
    int n = encode_alloc(gpt2, text->str, text->slen, 0, 0, &ids);
    if (ids_equal_json(ids, n, json_get(j, "ids"))) {
        st->ids_ok++;
    } else {
        fprintf(stderr, "gpt2 ids mismatch for \"%s\"\n", text->str);
        print_ids("got", ids, n);
        print_json_ids("want", json_get(j, "ids"));
    }
    int32_t *ids2;
    int n2 = encode_alloc(gpt2, text->str, text->slen, 1, 0, &ids2);
    if (ids_equal_json(ids2, n2, json_get(j, "ids_with_special"))) st->special_ok++;
    else fprintf(stderr, "gpt2 ids_with_special mismatch for \"%s\"\n", text->str);
    char *dec;
    int dl = decode_alloc(gpt2, ids, n, 0, &dec);
    if (dl == (int)text->slen && memcmp(dec, text->str, text->slen) == 0) st->decode_ok++;
    else fprintf(stderr, "gpt2 decode mismatch for \"%s\": \"%s\"\n", text->str, dec ? dec : "(null)");
    free(ids);
    free(ids2);
    free(dec);
}

TEST(test_gpt2_goldens) {
    golden_stats st = {0};
    int n = for_each_jsonl(GPT2_JSONL, check_line, &st);
    CHECK(n == 100);
    printf("  gpt2.jsonl: ids %d/%d, ids_with_special %d/%d, decode %d/%d\n", st.ids_ok, st.lines, st.special_ok,
           st.lines, st.decode_ok, st.lines);
    CHECK_EQ_INT(st.ids_ok, st.lines);
    CHECK_EQ_INT(st.special_ok, st.lines);
    CHECK_EQ_INT(st.decode_ok, st.lines);
}

TEST(test_gpt2_metadata) {
    CHECK_EQ_INT(vocab_type(gpt2), PLM_VOCAB_BPE);
    CHECK_EQ_INT(vocab_n_tokens(gpt2), 50257);
    CHECK_EQ_INT(vocab_bos(gpt2), 50256);
    CHECK_EQ_INT(vocab_eos(gpt2), 50256);
    CHECK_EQ_INT(vocab_unk(gpt2), -1);
    CHECK_EQ_INT(vocab_add_bos(gpt2), 0);
    CHECK_EQ_INT(vocab_add_eos(gpt2), 0);
    CHECK(vocab_is_eog(gpt2, 50256));
    CHECK(!vocab_is_eog(gpt2, 15496));
    CHECK(strcmp(vocab_token_text(gpt2, 15496), "Hello") == 0);
    CHECK_EQ_INT(vocab_token_type(gpt2, 50256), PLM_TOKEN_CONTROL);
    CHECK(vocab_token_text(gpt2, 50257) == NULL);
    CHECK_EQ_INT(tok_find(gpt2, "Hello", 5), 15496);
    CHECK_EQ_INT(tok_find(gpt2, "no such token!", 14), -1);
}

TEST(test_gpt2_special_literal) {
    const char *s = "a<|endoftext|>b";
    int32_t ids[16];
    /* parse_special: the literal is the control token */
    int n = vocab_encode(gpt2, s, strlen(s), 0, 1, ids, 16);
    CHECK(n == 3 && ids[0] == 64 && ids[1] == 50256 && ids[2] == 65);
    /* without: plain text */
    n = vocab_encode(gpt2, s, strlen(s), 0, 0, ids, 16);
    CHECK(n > 3);
    for (int i = 0; i < n && i < 16; i++) CHECK(ids[i] != 50256);
    char out[64];
    int m = vocab_decode(gpt2, ids, n, 0, out, sizeof out);
    CHECK(m == (int)strlen(s) && memcmp(out, s, (size_t)m) == 0);
    /* decoding the control token: written out, or skipped on request */
    int32_t e[3] = {64, 50256, 65};
    m = vocab_decode(gpt2, e, 3, 0, out, sizeof out);
    CHECK(m == 15 && memcmp(out, "a<|endoftext|>b", 15) == 0);
    m = vocab_decode(gpt2, e, 3, PLM_DECODE_SKIP_SPECIAL, out, sizeof out);
    CHECK(m == 2 && memcmp(out, "ab", 2) == 0);
    /* only the literal: one token */
    n = vocab_encode(gpt2, "<|endoftext|>", 13, 1, 1, ids, 16);
    CHECK(n == 1 && ids[0] == 50256);
}

/* literal ranges: a control token's text overlapping a range stays text there, and is
 * the control token elsewhere (a chat prompt: markup parsed, message contents literal) */
TEST(test_gpt2_literal_ranges) {
    const char *s = "<|endoftext|>x<|endoftext|>y<|endoftext|>"; /* 13 + 1 + 13 + 1 + 13 bytes */
    int32_t ids[64], plain[64];
    const int32_t lit[2] = {14, 27};                             /* the middle literal */
    int n = vocab_encode_literal(gpt2, s, strlen(s), 0, 1, lit, 1, ids, 64);
    int k = vocab_encode(gpt2, "x<|endoftext|>y", 15, 0, 0, plain, 64);
    CHECK(n == k + 2 && ids[0] == 50256 && ids[n - 1] == 50256);
    CHECK(memcmp(ids + 1, plain, (size_t)k * sizeof *ids) == 0);
    /* a range that only touches part of the literal keeps all of it as text */
    const int32_t part[2] = {20, 21};
    n = vocab_encode_literal(gpt2, s, strlen(s), 0, 1, part, 1, ids, 64);
    CHECK(n == k + 2 && memcmp(ids + 1, plain, (size_t)k * sizeof *ids) == 0);
    /* an empty range list is plain parse_special */
    n = vocab_encode_literal(gpt2, s, strlen(s), 0, 1, NULL, 0, ids, 64);
    CHECK(n == 5 && ids[1] == 87 && ids[2] == 50256);
    /* bad ranges are errors that name the range */
    const int32_t bad[2] = {10, 99};
    CHECK_EQ_INT(vocab_encode_literal(gpt2, s, strlen(s), 0, 1, bad, 1, ids, 64), PLM_E_INVALID);
    CHECK(strstr(plm_errmsg(), "literal range 0") != NULL);
    const int32_t rev[2] = {5, 4};
    CHECK_EQ_INT(vocab_encode_literal(gpt2, s, strlen(s), 0, 1, rev, 1, ids, 64), PLM_E_INVALID);
}

TEST(test_gpt2_edge_cases) {
    int32_t ids[64];
    CHECK_EQ_INT(vocab_encode(gpt2, "", 0, 0, 0, ids, 64), 0);
    CHECK_EQ_INT(vocab_encode(gpt2, "", 0, 1, 1, ids, 64), 0);
    CHECK_EQ_INT(vocab_encode(gpt2, NULL, 0, 1, 1, NULL, 0), 0);
    /* whitespace only */
    int n = vocab_encode(gpt2, " \t \n", 4, 0, 0, ids, 64);
    char ws[8];
    CHECK(n >= 1 && vocab_decode(gpt2, ids, n, 0, ws, 8) == 4 && memcmp(ws, " \t \n", 4) == 0);
    /* "a  b": the regex leaves one space for " b" */
    n = vocab_encode(gpt2, "a  b", 4, 0, 0, ids, 64);
    CHECK(n == 3 && ids[0] == 64 && ids[1] == 220 && ids[2] == tok_find(gpt2, "\xc4\xa0" "b", 3));
    /* invalid UTF-8 bytes round-trip through encode / token bytes */
    const char bad[] = "ok\xff\xfe\x80 x\xc3";
    size_t bl = sizeof bad - 1;
    n = vocab_encode(gpt2, bad, bl, 0, 0, ids, 64);
    CHECK(n > 0 && n <= 64);
    char raw[64];
    size_t rl = 0;
    for (int i = 0; i < n && i < 64; i++) {
        int k = vocab_token_bytes(gpt2, ids[i], 0, raw + rl, (int)(sizeof raw - rl));
        CHECK(k >= 0);
        rl += (size_t)k;
    }
    CHECK(rl == bl && memcmp(raw, bad, bl) == 0);
    /* ... while vocab_decode replaces them with U+FFFD as Python does */
    char dec[64];
    int dl = vocab_decode(gpt2, ids, n, 0, dec, sizeof dec);
    const char want[] = "ok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd x\xef\xbf\xbd";
    CHECK(dl == (int)sizeof want - 1 && memcmp(dec, want, sizeof want - 1) == 0);
    /* a multi-byte character split over two tokens: token bytes are partial */
    n = vocab_encode(gpt2, "\xe2\x9c\x93", 3, 0, 0, ids, 64); /* ✓ */
    CHECK(n >= 2);
    int k0 = vocab_token_bytes(gpt2, ids[0], 0, raw, 64);
    CHECK(k0 >= 1 && k0 < 3);
}

/* Random byte strings (valid or not): the token bytes give the input back. */
TEST(test_gpt2_random_bytes) {
    uint32_t seed = 12345;
    const char alphabet[] = "aZ0 \t\n'.!\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\x80\xff";
    int ok = 0, total = 2000;
    for (int t = 0; t < total; t++) {
        char s[64], back[256];
        int n = 0;
        seed = seed * 1664525u + 1013904223u;
        int len = (int)(seed >> 27);
        for (int i = 0; i < len; i++) {
            seed = seed * 1664525u + 1013904223u;
            s[n++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        int32_t ids[64];
        int k = vocab_encode(gpt2, s, (size_t)n, 0, 1, ids, 64);
        size_t bl = 0;
        for (int i = 0; i < k && k <= 64; i++) bl += (size_t)vocab_token_bytes(gpt2, ids[i], 0, back + bl, 8);
        char dec[256];
        int dl = vocab_decode(gpt2, ids, k, 0, dec, sizeof dec);
        ok += k >= 0 && k <= 64 && bl == (size_t)n && memcmp(back, s, (size_t)n) == 0 && dl >= 0;
    }
    CHECK_EQ_INT(ok, total);
}

TEST(test_gpt2_count_may_exceed_cap) {
    const char *s = "The quick brown fox jumps over the lazy dog.";
    int32_t ids[4];
    int n = vocab_encode(gpt2, s, strlen(s), 0, 0, ids, 4);
    CHECK_EQ_INT(n, 10);
    CHECK(ids[0] == 464 && ids[3] == 21831);
    CHECK_EQ_INT(vocab_encode(gpt2, s, strlen(s), 0, 0, NULL, 0), 10);
    int32_t all[10] = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13};
    char out[8];
    int m = vocab_decode(gpt2, all, 10, 0, out, 8);
    CHECK(m == (int)strlen(s) && memcmp(out, s, 8) == 0);
    char tb[2];
    CHECK_EQ_INT(vocab_token_bytes(gpt2, 2068, 0, tb, 2), 6); /* " quick" */
    CHECK(tb[0] == ' ' && tb[1] == 'q');
}

TEST(test_gpt2_long_input) {
    /* 10k characters of one letter: a single pre-token */
    size_t n = 10000;
    char *s = malloc(n);
    memset(s, 'a', n);
    int32_t *ids;
    int k = encode_alloc(gpt2, s, n, 0, 0, &ids);
    CHECK(k > 0 && k < 10000);
    char *dec;
    int dl = decode_alloc(gpt2, ids, k, 0, &dec);
    CHECK(dl == (int)n && memcmp(dec, s, n) == 0);
    free(ids);
    free(dec);
    free(s);
    /* ~100 KB of mixed text (bench/ measures the speed; here: it works) */
    size_t len;
    char *text = test_read_file(GPT2_JSONL, &len);
    size_t big_n = 0, reps = 100000 / len + 1;
    char *big = malloc(len * reps);
    for (size_t r = 0; r < reps; r++, big_n += len) memcpy(big + big_n, text, len);
    k = encode_alloc(gpt2, big, big_n, 0, 0, &ids);
    CHECK(k > 10000);
    dl = decode_alloc(gpt2, ids, k, 0, &dec);
    CHECK(dl == (int)big_n && memcmp(dec, big, big_n) == 0);
    free(ids);
    free(dec);
    free(big);
    free(text);
}

TEST(test_gpt2_bad_args) {
    int32_t ids[4];
    char out[4];
    CHECK_EQ_INT(vocab_encode(gpt2, "x", 1, 0, 0, NULL, 4), PLM_E_INVALID);
    CHECK_EQ_INT(vocab_encode(gpt2, "x", 1, 0, 0, ids, -1), PLM_E_INVALID);
    CHECK_EQ_INT(vocab_encode(gpt2, NULL, 3, 0, 0, ids, 4), PLM_E_INVALID);
    CHECK_EQ_INT(vocab_encode(NULL, "x", 1, 0, 0, ids, 4), PLM_E_INVALID);
    int32_t bad[2] = {15496, 50257};
    CHECK_EQ_INT(vocab_decode(gpt2, bad, 2, 0, out, 4), PLM_E_INVALID);
    CHECK(strstr(plm_errmsg(), "50257") != NULL);
    bad[1] = -1;
    CHECK_EQ_INT(vocab_decode(gpt2, bad, 2, 0, out, 4), PLM_E_INVALID);
    CHECK_EQ_INT(vocab_decode(gpt2, bad, -1, 0, out, 4), PLM_E_INVALID);
    CHECK_EQ_INT(vocab_token_bytes(gpt2, 50257, 0, out, 4), PLM_E_INVALID);
    CHECK_EQ_INT(vocab_token_bytes(gpt2, 0, 0, NULL, 4), PLM_E_INVALID);
}

TEST(test_gpt2_pair) {
    int32_t ids[16], types[16];
    int n = vocab_encode_pair(gpt2, "Hello", 5, " world", 6, 1, ids, types, 16);
    CHECK(n == 2 && ids[0] == 15496 && ids[1] == 995 && types[0] == 0 && types[1] == 1);
}

/* The tiny model's own 512-token tokenizer (cases from HF GPT2Tokenizer). */
TEST(test_gpt2_tiny_model) {
    size_t len;
    char *text = test_read_file(TINY_CASES, &len);
    CHECK(text != NULL);
    if (!text) return;
    json_value *root = json_parse(text, len);
    free(text);
    CHECK(root != NULL);
    plm_vocab *v = load_vocab_file(TINY_GGUF, NULL);
    CHECK(v != NULL);
    const json_value *cases = json_get(json_get(root, "gpt2-tiny"), "tokenizer_cases");
    int ok = 0, dec_ok = 0, total = cases ? (int)cases->n : 0;
    for (int i = 0; v && i < total; i++) {
        const json_value *t = json_get(cases->arr[i], "text");
        int32_t *ids;
        int n = encode_alloc(v, t->str, t->slen, 1, 1, &ids);
        if (ids_equal_json(ids, n, json_get(cases->arr[i], "ids"))) ok++;
        else {
            fprintf(stderr, "tiny gpt2 mismatch for \"%s\"\n", t->str);
            print_ids("got", ids, n);
            print_json_ids("want", json_get(cases->arr[i], "ids"));
        }
        char *dec;
        int dl = decode_alloc(v, ids, n, 0, &dec);
        if (dl == (int)t->slen && memcmp(dec, t->str, t->slen) == 0) dec_ok++;
        free(ids);
        free(dec);
    }
    printf("  gpt2-tiny tokenizer_cases: ids %d/%d, decode %d/%d\n", ok, total, dec_ok, total);
    CHECK(total > 0 && ok == total && dec_ok == total);
    vocab_free(v);
    json_free(root);
}

/* The plm.h entry points on a model that only has a vocabulary. */
TEST(test_public_api) {
    plm_model m;
    memset(&m, 0, sizeof m);
    int32_t ids[8], types[8];
    char out[32];
    CHECK_EQ_INT(plm_tokenize(&m, "a", 1, 0, 0, ids, 8), PLM_E_MISSING);
    CHECK(strstr(plm_errmsg(), "no tokenizer") != NULL);
    CHECK_EQ_INT(plm_detokenize(&m, ids, 0, 0, out, 32), PLM_E_MISSING);
    CHECK_EQ_INT(plm_token_bytes(&m, 0, 0, out, 32), PLM_E_MISSING);
    CHECK_EQ_INT(plm_token_is_eog(&m, 0), PLM_E_MISSING);
    CHECK_EQ_INT(plm_tokenize(NULL, "a", 1, 0, 0, ids, 8), PLM_E_INVALID);
    m.vocab = gpt2;
    CHECK_EQ_INT(plm_tokenize(&m, "Hello world", 11, 1, 1, ids, 8), 2);
    CHECK(ids[0] == 15496 && ids[1] == 995);
    CHECK_EQ_INT(plm_tokenize(&m, "Hello", -1, 1, 1, ids, 8), PLM_E_INVALID);
    CHECK_EQ_INT(plm_tokenize_pair(&m, "Hello", 5, " world", 6, 1, ids, types, 8), 2);
    CHECK_EQ_INT(plm_detokenize(&m, ids, 2, 0, out, 32), 11);
    CHECK(memcmp(out, "Hello world", 11) == 0);
    CHECK_EQ_INT(plm_token_bytes(&m, 995, 0, out, 32), 6);
    CHECK_EQ_INT(plm_token_is_eog(&m, 50256), 1);
    CHECK_EQ_INT(plm_token_is_eog(&m, 995), 0);
    CHECK_EQ_INT(plm_token_is_eog(&m, 50257), PLM_E_INVALID);
}

/* ------------------------------------------------ metadata errors (GGUFs built here) */

static const char *const mini_tokens[] = {"a", "b", "ab", "<|endoftext|>", "\xc4\xa0"};
static const int32_t mini_types[] = {1, 1, 1, 3, 1};
static const char *const mini_merges[] = {"a b"};

static gguf_ctx *mini_gguf(const char *model, const char *pre, int with_merges, int with_tokens) {
    gguf_builder b;
    gb_begin(&b);
    kv_str(&b, "general.architecture", "gpt2");
    if (model) kv_str(&b, "tokenizer.ggml.model", model);
    if (pre) kv_str(&b, "tokenizer.ggml.pre", pre);
    if (with_tokens) {
        kv_arr_str(&b, "tokenizer.ggml.tokens", mini_tokens, 5);
        kv_arr_i32(&b, "tokenizer.ggml.token_type", mini_types, 5);
    }
    if (with_merges) kv_arr_str(&b, "tokenizer.ggml.merges", mini_merges, 1);
    kv_u32(&b, "tokenizer.ggml.eos_token_id", 3);
    return gb_end(&b);
}

TEST(test_metadata_errors) {
    struct { const char *model, *pre; int merges, tokens, code; const char *msg; } c[] = {
        {"gpt2", "gpt-2", 1, 1, 0, NULL},
        {"gpt2", NULL, 1, 1, 0, NULL},
        {NULL, NULL, 1, 1, PLM_E_MISSING, "tokenizer.ggml.model"},
        {"xyz", NULL, 1, 1, PLM_E_UNSUPPORTED, "xyz"},
        {"gpt2", "not-a-pre", 1, 1, PLM_E_UNSUPPORTED, "not-a-pre"},
        {"gpt2", "gpt-2", 0, 1, PLM_E_MISSING, "merges"},
        {"gpt2", "gpt-2", 1, 0, PLM_E_MISSING, "tokens"},
        {"none", NULL, 1, 1, PLM_E_MISSING, "no tokenizer"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        gguf_ctx *g = mini_gguf(c[i].model, c[i].pre, c[i].merges, c[i].tokens);
        CHECK(g != NULL);
        if (!g) continue;
        plm_clear_error();
        plm_vocab *v = vocab_load(g);
        if (c[i].code == 0) {
            CHECK_MSG(v != NULL, "case %zu: %s", i, plm_errmsg());
            int32_t ids[8];
            int n = v ? vocab_encode(v, "ab a", 4, 0, 0, ids, 8) : -1;
            CHECK(n == 3 && ids[0] == 2 && ids[1] == 4 && ids[2] == 0);
            CHECK(v && vocab_is_eog(v, 3));
        } else {
            CHECK_MSG(v == NULL && plm_errcode() == c[i].code && strstr(plm_errmsg(), c[i].msg),
                      "case %zu: code %d msg \"%s\"", i, plm_errcode(), plm_errmsg());
        }
        vocab_free(v);
        gguf_free(g);
    }
}

int main(void) {
    gpt2 = load_vocab_file(GPT2_GGUF, NULL);
    if (!gpt2) {
        fprintf(stderr, "cannot load %s\n", GPT2_GGUF);
        return 1;
    }
    RUN(test_gpt2_goldens);
    RUN(test_gpt2_metadata);
    RUN(test_gpt2_special_literal);
    RUN(test_gpt2_literal_ranges);
    RUN(test_gpt2_edge_cases);
    RUN(test_gpt2_random_bytes);
    RUN(test_gpt2_count_may_exceed_cap);
    RUN(test_gpt2_long_input);
    RUN(test_gpt2_bad_args);
    RUN(test_gpt2_pair);
    RUN(test_gpt2_tiny_model);
    RUN(test_public_api);
    RUN(test_metadata_errors);
    vocab_free(gpt2);
    return test_summary();
}
