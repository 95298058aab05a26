/* test_tok_spm.c — SentencePiece BPE ("llama").
 * Goldens: tests/fixtures/tokenizers/llama.jsonl (sentencepiece on Meta's
 * Llama 2 tokenizer.model, 32000 pieces, byte fallback) and the stories260K
 * model's own 512-piece tokenizer cases; unk_decode.json (sentencepiece's
 * decode of ids holding <unk>). */
#include "test.h"
#include "tok_test_util.h"

#include "tok_impl.h"
#include "unicode.h"

#define LLAMA_GGUF "tests/fixtures/tokenizers/ggml-vocab-llama-spm.gguf"
#define LLAMA_JSONL "tests/fixtures/tokenizers/llama.jsonl"
#define TINY_GGUF "tests/fixtures/llama/stories260K/stories260K-F32.gguf"
#define TINY_CASES "tests/fixtures/tokenizers/tiny-model-tokenizer-cases.json"

static plm_vocab *llama;
static const int DEC = PLM_DECODE_SKIP_SPECIAL | PLM_DECODE_STRIP_LEADING;

typedef struct { int lines, ids_ok, special_ok, decode_ok, decode_special_ok; } golden_stats;

static void check_line(const json_value *j, void *ctx) {
    golden_stats *st = ctx;
    const json_value *text = json_get(j, "text");
    st->lines++;
    int32_t *ids, *ids2;
    int n = encode_alloc(llama, text->str, text->slen, 0, 0, &ids);
    if (ids_equal_json(ids, n, json_get(j, "ids"))) {
        st->ids_ok++;
    } else {
        fprintf(stderr, "llama ids mismatch for \"%s\"\n", text->str);
        print_ids("got", ids, n);
        print_json_ids("want", json_get(j, "ids"));
    }
    int n2 = encode_alloc(llama, text->str, text->slen, 1, 0, &ids2);
    if (ids_equal_json(ids2, n2, json_get(j, "ids_with_special"))) st->special_ok++;
    else fprintf(stderr, "llama ids_with_special mismatch for \"%s\"\n", text->str);
    /* sentencepiece decode: the dummy-prefix space is stripped */
    char *dec;
    int dl = decode_alloc(llama, ids, n, DEC, &dec);
    if (dl == (int)text->slen && memcmp(dec, text->str, text->slen) == 0) st->decode_ok++;
    else fprintf(stderr, "llama decode mismatch for \"%s\": \"%s\"\n", text->str, dec ? dec : "(null)");
    free(dec);
    dl = decode_alloc(llama, ids2, n2, DEC, &dec);
    if (dl == (int)text->slen && memcmp(dec, text->str, text->slen) == 0) st->decode_special_ok++;
    else fprintf(stderr, "llama decode (with BOS) mismatch for \"%s\": \"%s\"\n", text->str, dec ? dec : "(null)");
    free(dec);
    free(ids);
    free(ids2);
}

TEST(test_llama_goldens) {
    golden_stats st = {0};
    int n = for_each_jsonl(LLAMA_JSONL, check_line, &st);
    CHECK(n == 100);
    printf("  llama.jsonl: ids %d/%d, ids_with_special %d/%d, decode %d/%d, decode(with BOS) %d/%d\n", st.ids_ok,
           st.lines, st.special_ok, st.lines, st.decode_ok, st.lines, st.decode_special_ok, st.lines);
    CHECK_EQ_INT(st.ids_ok, st.lines);
    CHECK_EQ_INT(st.special_ok, st.lines);
    CHECK_EQ_INT(st.decode_ok, st.lines);
    CHECK_EQ_INT(st.decode_special_ok, st.lines);
}

TEST(test_llama_metadata) {
    CHECK_EQ_INT(vocab_type(llama), PLM_VOCAB_SPM);
    CHECK_EQ_INT(vocab_n_tokens(llama), 32000);
    CHECK_EQ_INT(vocab_bos(llama), 1);
    CHECK_EQ_INT(vocab_eos(llama), 2);
    CHECK_EQ_INT(vocab_unk(llama), 0);
    CHECK_EQ_INT(vocab_pad(llama), -1);
    CHECK_EQ_INT(vocab_add_bos(llama), 1);
    CHECK_EQ_INT(vocab_add_eos(llama), 0);
    CHECK(vocab_is_eog(llama, 2) && !vocab_is_eog(llama, 1) && !vocab_is_eog(llama, 0));
    CHECK_EQ_INT(vocab_token_type(llama, 0), PLM_TOKEN_UNKNOWN);
    CHECK_EQ_INT(vocab_token_type(llama, 3), PLM_TOKEN_BYTE);
}

TEST(test_llama_edge_cases) {
    int32_t ids[64];
    char out[64];
    CHECK_EQ_INT(vocab_encode(llama, "", 0, 0, 0, ids, 64), 0);
    CHECK(vocab_encode(llama, "", 0, 1, 0, ids, 64) == 1 && ids[0] == 1);
    /* only spaces: the dummy prefix plus the spaces, all ▁ */
    int n = vocab_encode(llama, "   ", 3, 0, 0, ids, 64);
    CHECK(n == 1 && ids[0] == tok_find(llama, "\xe2\x96\x81\xe2\x96\x81\xe2\x96\x81\xe2\x96\x81", 12));
    CHECK(vocab_decode(llama, ids, n, DEC, out, 64) == 3 && memcmp(out, "   ", 3) == 0);
    /* decode without stripping keeps the dummy prefix */
    CHECK(vocab_decode(llama, ids, n, 0, out, 64) == 4);
    /* invalid UTF-8: each bad byte falls back to its <0xNN> token */
    const char bad[] = "a\xff\xc3";
    n = vocab_encode(llama, bad, 3, 0, 0, ids, 64);
    CHECK(n == 3 && ids[0] == tok_find(llama, "\xe2\x96\x81" "a", 4) && ids[1] == 3 + 0xFF && ids[2] == 3 + 0xC3);
    char raw[8];
    CHECK(vocab_token_bytes(llama, ids[1], 0, raw, 8) == 1 && (unsigned char)raw[0] == 0xFF);
    int dl = vocab_decode(llama, ids, n, DEC, out, 64);
    CHECK(dl == 7 && memcmp(out, "a\xef\xbf\xbd\xef\xbf\xbd", 7) == 0);
    /* sentencepiece's decoding of byte pieces: each byte that does not start a
     * complete character is one U+FFFD, and any other piece (even a skipped
     * </s>) ends a run of byte pieces (values from sentencepiece's decode) */
    int32_t trunc[] = {3 + 0xEF, 3 + 0x88, tok_find(llama, "roz", 3)};
    dl = vocab_decode(llama, trunc, 3, DEC, out, 64);
    CHECK(dl == 9 && memcmp(out, "\xef\xbf\xbd\xef\xbf\xbdroz", 9) == 0);
    int32_t split[] = {3 + 0xDA, 2, 3 + 0x9E};
    dl = vocab_decode(llama, split, 3, DEC, out, 64);
    CHECK(dl == 6 && memcmp(out, "\xef\xbf\xbd\xef\xbf\xbd", 6) == 0);
    int32_t joined[] = {3 + 0xDA, 3 + 0x9E};
    dl = vocab_decode(llama, joined, 2, DEC, out, 64);
    CHECK(dl == 2 && memcmp(out, "\xda\x9e", 2) == 0);
    /* a character that is not a piece: byte fallback (UTF-8 bytes of 𝔘) */
    n = vocab_encode(llama, "\xf0\x9d\x94\x98", 4, 0, 0, ids, 64);
    CHECK(n >= 4 && ids[n - 4] == 3 + 0xF0 && ids[n - 1] == 3 + 0x98);
    /* streaming: token bytes of the first piece with and without the strip flag */
    n = vocab_encode(llama, "Hello world", 11, 1, 0, ids, 64);
    CHECK(n == 3);
    CHECK(vocab_token_bytes(llama, ids[1], 0, raw, 8) == 6 && memcmp(raw, " Hello", 6) == 0);
    CHECK(vocab_token_bytes(llama, ids[1], PLM_DECODE_STRIP_LEADING, raw, 8) == 5 && memcmp(raw, "Hello", 5) == 0);
    CHECK_EQ_INT(vocab_token_bytes(llama, 1, PLM_DECODE_SKIP_SPECIAL, raw, 8), 0);
    CHECK(vocab_token_bytes(llama, 1, 0, raw, 8) == 3 && memcmp(raw, "<s>", 3) == 0);
    /* BOS printed when not skipped: the first piece producing text is "<s>" */
    dl = vocab_decode(llama, ids, n, PLM_DECODE_STRIP_LEADING, out, 64);
    CHECK(dl == 15 && memcmp(out, "<s> Hello world", 15) == 0);
}

TEST(test_llama_special_literals) {
    int32_t ids[64];
    const char *s = "<s>Hello</s>";
    /* parse_special: control tokens; the text after a special gets the dummy prefix again */
    int n = vocab_encode(llama, s, strlen(s), 0, 1, ids, 64);
    CHECK(n == 3 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 2);
    /* without: plain text, no control ids */
    n = vocab_encode(llama, s, strlen(s), 0, 0, ids, 64);
    CHECK(n > 3);
    for (int i = 0; i < n && i < 64; i++) CHECK(ids[i] != 1 && ids[i] != 2);
    char out[64];
    CHECK(vocab_decode(llama, ids, n, DEC, out, 64) == (int)strlen(s) && memcmp(out, s, strlen(s)) == 0);
    /* the unknown token literal is also a special with parse_special (llama.cpp) */
    n = vocab_encode(llama, "<unk>", 5, 0, 1, ids, 64);
    CHECK(n == 1 && ids[0] == 0);
}

TEST(test_llama_long_input) {
    size_t n = 10000;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++) s[i] = "abc de"[i % 6];
    int32_t *ids;
    int k = encode_alloc(llama, s, n, 1, 0, &ids);
    CHECK(k > 100 && ids[0] == 1);
    char *dec;
    int dl = decode_alloc(llama, ids, k, DEC, &dec);
    CHECK(dl == (int)n && memcmp(dec, s, n) == 0);
    free(ids);
    free(dec);
    free(s);
    /* ~100 KB of mixed-script text (gpt2.jsonl: llama.jsonl itself contains
     * U+2581, which SentencePiece decodes to a space by design) */
    size_t len;
    char *text = test_read_file("tests/fixtures/tokenizers/gpt2.jsonl", &len);
    size_t big_n = 0, reps = 100000 / len + 1;
    char *big = malloc(len * reps);
    for (size_t r = 0; r < reps; r++, big_n += len) memcpy(big + big_n, text, len);
    k = encode_alloc(llama, big, big_n, 0, 0, &ids);
    CHECK(k > 10000);
    dl = decode_alloc(llama, ids, k, DEC, &dec);
    CHECK(dl == (int)big_n && memcmp(dec, big, big_n) == 0);
    free(ids);
    free(dec);
    free(big);
    free(text);
}

/* Random byte strings (valid or not): decoding gives the input back, with
 * U+FFFD for each byte that is not part of a valid character. */
TEST(test_llama_random_bytes) {
    uint32_t seed = 777;
    const char alphabet[] = "aZ0 \t\n'.!\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\x80\xff";
    int ok = 0, total = 2000;
    for (int t = 0; t < total; t++) {
        char s[64], want[256], dec[256];
        int n = 0;
        seed = seed * 1664525u + 1013904223u;
        int len = (int)(seed >> 27);
        for (int i = 0; i < len; i++) {
            seed = seed * 1664525u + 1013904223u;
            s[n++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        int32_t ids[256];
        int k = vocab_encode(llama, s, (size_t)n, 1, 1, ids, 256);
        size_t wl = uc_sanitize_bytewise(s, (size_t)n, want);
        int dl = k >= 0 ? vocab_decode(llama, ids, k, DEC, dec, sizeof dec) : -1;
        ok += dl == (int)wl && memcmp(dec, want, wl) == 0;
    }
    CHECK_EQ_INT(ok, total);
}

TEST(test_llama_pair) {
    int32_t ids[16], types[16];
    int n = vocab_encode_pair(llama, "Hello", 5, "world", 5, 1, ids, types, 16);
    /* LlamaTokenizer: <s> a <s> b */
    CHECK(n == 4 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 1 && ids[3] == 3186);
    CHECK(types[0] == 0 && types[1] == 0 && types[2] == 1 && types[3] == 1);
    CHECK_EQ_INT(vocab_encode_pair(llama, "Hello", 5, "world", 5, 1, ids, NULL, 2), 4);
}

TEST(test_stories260k_model) {
    size_t len;
    char *text = test_read_file(TINY_CASES, &len);
    CHECK(text != NULL);
    if (!text) return;
    json_value *root = json_parse(text, len);
    free(text);
    plm_vocab *v = load_vocab_file(TINY_GGUF, NULL);
    CHECK(root && v);
    const json_value *cases = root ? json_get(json_get(root, "stories260K"), "tokenizer_cases") : NULL;
    int ok = 0, pieces_ok = 0, dec_ok = 0, total = cases ? (int)cases->n : 0;
    for (int i = 0; v && i < total; i++) {
        const json_value *c = cases->arr[i], *t = json_get(c, "text"), *pieces = json_get(c, "pieces");
        int32_t *ids;
        int n = encode_alloc(v, t->str, t->slen, 1, 0, &ids);
        if (ids_equal_json(ids, n, json_get(c, "ids"))) ok++;
        else {
            fprintf(stderr, "stories260K mismatch for \"%s\"\n", t->str);
            print_ids("got", ids, n);
            print_json_ids("want", json_get(c, "ids"));
        }
        int pok = pieces && (int)pieces->n == n;
        for (int k = 0; pok && k < n; k++) pok = strcmp(vocab_token_text(v, ids[k]), pieces->arr[k]->str) == 0;
        pieces_ok += pok;
        char *dec;
        int dl = decode_alloc(v, ids, n, DEC, &dec);
        if (dl == (int)t->slen && memcmp(dec, t->str, t->slen) == 0) dec_ok++;
        free(dec);
        free(ids);
    }
    printf("  stories260K tokenizer_cases: ids %d/%d, pieces %d/%d, decode %d/%d\n", ok, total, pieces_ok, total,
           dec_ok, total);
    CHECK(total > 0 && ok == total && pieces_ok == total && dec_ok == total);
    vocab_free(v);
    json_free(root);
}

/* <unk>: sentencepiece's decode shows " \u2047 " (tests/fixtures/tokenizers/unk_decode.json) */
TEST(test_llama_unk_decode) {
    const int n = check_unk_decode(llama, "llama");
    printf("  unk_decode.json llama: %d cases equal sentencepiece's decode\n", n);
    CHECK(n > 10);
}

/* Vocabularies built here: metadata defaults and flags. */
TEST(test_spm_metadata_flags) {
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "▁a", "ab"};
    static const float scores[] = {0, 0, 0, -1, -2, -3, -1.5f, -0.5f};
    static const int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 1};
    for (int variant = 0; variant < 4; variant++) {
        gguf_builder b;
        gb_begin(&b);
        kv_str(&b, "tokenizer.ggml.model", "llama");
        kv_arr_str(&b, "tokenizer.ggml.tokens", toks, 8);
        kv_arr_f32(&b, "tokenizer.ggml.scores", scores, 8);
        kv_arr_i32(&b, "tokenizer.ggml.token_type", types, 8);
        if (variant == 1) kv_bool(&b, "tokenizer.ggml.add_space_prefix", 0);
        if (variant == 2) kv_u32(&b, "tokenizer.ggml.bos_token_id", 99); /* out of range: default kept */
        if (variant == 3) kv_bool(&b, "tokenizer.ggml.remove_extra_whitespaces", 1);
        gguf_ctx *g = gb_end(&b);
        plm_vocab *v = g ? vocab_load(g) : NULL;
        CHECK_MSG(v != NULL, "variant %d: %s", variant, plm_errmsg());
        if (v) {
            int32_t ids[8];
            int n = vocab_encode(v, "ab", 2, 1, 0, ids, 8);
            /* defaults: bos 1, add_bos; "▁ab": "ab" (-0.5) beats "▁a" (-1.5) */
            if (variant == 1) CHECK(n == 2 && ids[0] == 1 && ids[1] == 7);
            else CHECK(n == 3 && ids[0] == 1 && ids[1] == 3 && ids[2] == 7);
            CHECK_EQ_INT(vocab_bos(v), 1);
            CHECK_EQ_INT(vocab_unk(v), 0);
            /* "c" is not a piece and there are no byte tokens: <unk> */
            n = vocab_encode(v, "c", 1, 0, 0, ids, 8);
            if (variant == 1) CHECK(n == 1 && ids[0] == 0);
            else CHECK(n == 2 && ids[0] == 3 && ids[1] == 0);
            /* sentencepiece's remove_extra_whitespaces: "  a  b  " -> "▁a▁b" */
            n = vocab_encode(v, "  a  b  ", 8, 0, 0, ids, 8);
            if (variant == 3) {
                CHECK(n == 3 && ids[0] == 6 && ids[1] == 3 && ids[2] == 5);
                CHECK_EQ_INT(vocab_encode(v, "   ", 3, 0, 0, ids, 8), 0);
                CHECK_EQ_INT(vocab_encode(v, "a \xe2\x96\x81", 5, 0, 0, ids, 8), 1); /* trailing ▁ stripped too */
            } else {
                CHECK(n > 3);
            }
        }
        vocab_free(v);
        gguf_free(g);
    }
}

int main(void) {
    llama = load_vocab_file(LLAMA_GGUF, NULL);
    if (!llama) return 1;
    RUN(test_llama_goldens);
    RUN(test_llama_metadata);
    RUN(test_llama_edge_cases);
    RUN(test_llama_special_literals);
    RUN(test_llama_long_input);
    RUN(test_llama_random_bytes);
    RUN(test_llama_pair);
    RUN(test_stories260k_model);
    RUN(test_llama_unk_decode);
    RUN(test_spm_metadata_flags);
    vocab_free(llama);
    return test_summary();
}
