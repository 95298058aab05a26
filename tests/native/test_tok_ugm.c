/* test_tok_ugm.c — SentencePiece Unigram (T5) tokenizer vs sentencepiece goldens.
 *
 * Fixtures (tests/fixtures/tokenizers/PROVENANCE.md):
 *   t5.jsonl        100 texts, sentencepiece ids of the genuine t5-small model
 *   t5_extra.jsonl  the same texts + edge cases (runs, invalid UTF-8, 20k chars)
 *   t5_tiny.jsonl   the same on the 1000-piece model of t5/ (many <unk> runs)
 *   ugm_mini.json   a model with USER_DEFINED pieces and byte fallback
 *   t5/tokenizer_cases.json  input/decoder ids of the tiny T5 model goldens
 *   unk_decode.json  sentencepiece's decode of t5-small ids holding <unk>
 *
 * Round trip: decode(encode(text), SKIP_SPECIAL | STRIP_LEADING) is the
 * sentencepiece-normalized text (NFKC, whitespace collapsed and stripped,
 * U+2581 -> ' ') without the leading space, each <unk> (a run of characters
 * the model does not know) shown as sentencepiece's " \u2047 ". It is compared with the
 * normalized pieces sentencepiece itself returned, not with the input: NFKC
 * and whitespace collapsing make the input unrecoverable in general.
 */
#include "test.h" /* first: json.h needs its <math.h> */

#include "common.h"
#include "gguf.h"
#include "gguf_writer.h"
#include "json.h"
#include "tokenizer.h"
#include "tok_test_util.h"

#define FX "tests/fixtures/"

static plm_vocab *load_vocab(const char *path) {
    gguf_ctx *g = gguf_load_file(path);
    if (!g) {
        fprintf(stderr, "cannot load %s: %s\n", path, plm_errmsg());
        return NULL;
    }
    plm_vocab *v = vocab_load(g);
    if (!v) fprintf(stderr, "vocab_load(%s): %s\n", path, plm_errmsg());
    gguf_free(g); /* the vocab must not depend on the gguf context */
    return v;
}

/* Encode into a malloc'd array (two calls: size, then ids). Returns the count or < 0. */
static int encode(const plm_vocab *v, const char *s, size_t n, int add_special, int32_t **ids) {
    *ids = NULL;
    int32_t probe[1];
    int cnt = vocab_encode(v, s, n, add_special, 0, probe, 0);
    if (cnt < 0) return cnt;
    *ids = malloc(sizeof(int32_t) * (size_t)(cnt + 1));
    int cnt2 = vocab_encode(v, s, n, add_special, 0, *ids, cnt);
    if (cnt2 != cnt) return -1000;
    return cnt;
}

static char *decode(const plm_vocab *v, const int32_t *ids, int n, int flags) {
    int len = vocab_decode(v, ids, n, flags, NULL, 0);
    if (len < 0) return NULL;
    char *s = malloc((size_t)len + 1);
    int len2 = vocab_decode(v, ids, n, flags, s, len + 1);
    if (len2 != len) {
        free(s);
        return NULL;
    }
    s[len] = 0;
    return s;
}

static int ids_equal(const int32_t *a, int n, const json_value *arr) {
    if (!arr || arr->type != JSON_ARR || (size_t)n != arr->n) return 0;
    for (int i = 0; i < n; i++)
        if (a[i] != (int32_t)arr->arr[i]->num) return 0;
    return 1;
}

/* Input bytes of a record: "text", or "hex" for inputs that are not UTF-8. */
static char *record_input(const json_value *rec, size_t *n) {
    const json_value *t = json_get(rec, "text"), *h = json_get(rec, "hex");
    if (t) {
        *n = t->slen;
        char *s = malloc(t->slen + 1);
        memcpy(s, t->str, t->slen + 1);
        return s;
    }
    *n = h->slen / 2;
    char *s = malloc(*n + 1);
    for (size_t i = 0; i < *n; i++) {
        unsigned x;
        sscanf(h->str + 2 * i, "%2x", &x);
        s[i] = (char)x;
    }
    s[*n] = 0;
    return s;
}

/* The expected round trip: normalized pieces, U+2581 -> ' ', leading spaces
 * removed while the text is empty, <unk> as sentencepiece's " \u2047 ". */
static char *expected_roundtrip(const json_value *rec, int32_t unk) {
    const json_value *pieces = json_get(rec, "pieces"), *ids = json_get(rec, "ids");
    size_t cap = 1;
    for (size_t i = 0; i < pieces->n; i++) cap += pieces->arr[i]->slen + 5;
    char *s = malloc(cap), *o = s;
    for (size_t i = 0; i < pieces->n; i++) {
        if ((int32_t)ids->arr[i]->num == unk) {
            memcpy(o, " \xE2\x81\x87 ", 5), o += 5;
            continue;
        }
        const char *p = pieces->arr[i]->str;
        for (size_t k = 0; k < pieces->arr[i]->slen;) {
            if (!strncmp(p + k, "\xE2\x96\x81", 3)) {
                if (o > s) *o++ = ' ';
                k += 3;
            } else {
                *o++ = p[k++];
            }
        }
    }
    *o = 0;
    return s;
}

/* Run a JSONL file of {text|hex, ids[, ids_with_special][, pieces]}. */
static void run_jsonl(const char *vocab_path, const char *jsonl, int32_t eos, int32_t unk) {
    plm_vocab *v = load_vocab(vocab_path);
    CHECK(v != NULL);
    if (!v) return;
    size_t len;
    char *text = test_read_file(jsonl, &len);
    CHECK_MSG(text != NULL, "cannot read %s", jsonl);
    if (!text) {
        vocab_free(v);
        return;
    }
    int n_lines = 0, ok_ids = 0, ok_special = 0, n_rt = 0, ok_rt = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        json_value *rec = json_parse(line, strlen(line));
        if (!rec) continue;
        n_lines++;
        size_t n;
        char *input = record_input(rec, &n);
        int32_t *ids = NULL, *ids2 = NULL;
        int cnt = encode(v, input, n, 0, &ids);
        if (cnt >= 0 && ids_equal(ids, cnt, json_get(rec, "ids"))) {
            ok_ids++;
        } else {
            fprintf(stderr, "%s line %d: ids differ for \"%.60s\"\n", jsonl, n_lines, input);
            if (cnt >= 0) print_ids("got", ids, cnt);
        }
        /* with special tokens: ids + </s> */
        int cnt2 = encode(v, input, n, 1, &ids2);
        const json_value *with = json_get(rec, "ids_with_special");
        int good = cnt2 == cnt + 1 && cnt >= 0 && !memcmp(ids2, ids, sizeof *ids * (size_t)cnt) &&
                   ids2[cnt] == eos;
        if (with) good = good && ids_equal(ids2, cnt2, with);
        ok_special += good;
        if (!good) fprintf(stderr, "%s line %d: ids with special tokens differ\n", jsonl, n_lines);
        if (json_get(rec, "pieces") && cnt >= 0) {
            n_rt++;
            char *want = expected_roundtrip(rec, unk);
            char *got = decode(v, ids, cnt, PLM_DECODE_SKIP_SPECIAL | PLM_DECODE_STRIP_LEADING);
            if (got && !strcmp(got, want)) ok_rt++;
            else fprintf(stderr, "%s line %d: round trip\n  want \"%s\"\n  got  \"%s\"\n", jsonl, n_lines, want, got ? got : "(error)");
            /* decoding with </s> appended and skipped gives the same text */
            char *got2 = decode(v, ids2, cnt2, PLM_DECODE_SKIP_SPECIAL | PLM_DECODE_STRIP_LEADING);
            CHECK(got && got2 && !strcmp(got, got2));
            free(want), free(got), free(got2);
        }
        free(ids), free(ids2), free(input);
        json_free(rec);
    }
    printf("  %s: ids %d/%d, with special %d/%d, round trip %d/%d\n", jsonl, ok_ids, n_lines,
           ok_special, n_lines, ok_rt, n_rt);
    CHECK(n_lines > 0);
    CHECK_EQ_INT(ok_ids, n_lines);
    CHECK_EQ_INT(ok_special, n_lines);
    CHECK_EQ_INT(ok_rt, n_rt);
    free(text);
    vocab_free(v);
}

TEST(t5_small_jsonl) {
    run_jsonl(FX "tokenizers/ggml-vocab-t5-small.gguf", FX "tokenizers/t5.jsonl", 1, 2);
}

TEST(t5_small_extra) {
    run_jsonl(FX "tokenizers/ggml-vocab-t5-small.gguf", FX "tokenizers/t5_extra.jsonl", 1, 2);
}

TEST(t5_tiny_jsonl) {
    run_jsonl(FX "t5/v1_0/tiny-t5-v1.0-random-f32.gguf", FX "tokenizers/t5_tiny.jsonl", 1, 2);
}

/* The token ids of the tiny T5 model goldens (t5/v1_0 and v1_1 cases.json). */
TEST(t5_model_cases) {
    plm_vocab *v = load_vocab(FX "t5/v1_0/tiny-t5-v1.0-random-f32.gguf");
    CHECK(v != NULL);
    size_t len;
    char *text = test_read_file(FX "t5/tokenizer_cases.json", &len);
    json_value *root = text ? json_parse(text, len) : NULL;
    CHECK(root != NULL);
    if (!v || !root) goto done;
    const json_value *cases = json_get(root, "cases");
    int n = 0, ok = 0;
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = cases->arr[i];
        const json_value *in = json_get(c, "input_text"), *tg = json_get(c, "target_text");
        int32_t *ids;
        int cnt = encode(v, in->str, in->slen, 1, &ids);
        n++, ok += cnt >= 0 && ids_equal(ids, cnt, json_get(c, "input_ids"));
        free(ids);
        /* decoder_input_ids = [pad] + encode(target) */
        cnt = encode(v, tg->str, tg->slen, 0, &ids);
        const json_value *dec = json_get(c, "decoder_input_ids");
        int good = cnt >= 0 && (size_t)cnt + 1 == dec->n && dec->arr[0]->num == 0;
        for (int k = 0; good && k < cnt; k++) good = ids[k] == (int32_t)dec->arr[k + 1]->num;
        n++, ok += good;
        free(ids);
    }
    const json_value *pb = json_get(root, "padded_batch");
    const json_value *texts = json_get(pb, "input_texts"), *pids = json_get(pb, "input_ids"),
                     *mask = json_get(pb, "attention_mask");
    for (size_t r = 0; r < texts->n; r++) {
        int32_t *ids;
        int cnt = encode(v, texts->arr[r]->str, texts->arr[r]->slen, 1, &ids);
        int good = cnt >= 0 && (size_t)cnt <= pids->arr[r]->n;
        for (size_t k = 0; good && k < pids->arr[r]->n; k++) {
            int in_seq = mask->arr[r]->arr[k]->num != 0;
            good = in_seq == ((int)k < cnt) && (int32_t)pids->arr[r]->arr[k]->num == (in_seq ? ids[k] : 0);
        }
        n++, ok += good;
        free(ids);
    }
    printf("  t5/tokenizer_cases.json: %d/%d\n", ok, n);
    CHECK_EQ_INT(ok, n);
done:
    json_free(root);
    free(text);
    vocab_free(v);
}

/* A model with USER_DEFINED pieces and byte fallback, built as GGUF in memory
 * from ugm_mini.json (no charsmap: identity normalization). */
static plm_vocab *build_vocab(const json_value *m, int with_bad_charsmap) {
    const json_value *toks = json_get(m, "tokens"), *sc = json_get(m, "scores"),
                     *ty = json_get(m, "types");
    size_t n = toks->n;
    char **s = malloc(n * sizeof *s);
    uint32_t *l = malloc(n * sizeof *l);
    float *f = malloc(n * sizeof *f);
    int32_t *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        s[i] = toks->arr[i]->str, l[i] = (uint32_t)toks->arr[i]->slen;
        f[i] = (float)sc->arr[i]->num, t[i] = (int32_t)ty->arr[i]->num;
    }
    gw w;
    gw_begin(&w);
    gw_str(&w, "general.architecture", "t5");
    gw_str(&w, "tokenizer.ggml.model", "t5");
    gw_arr_str(&w, "tokenizer.ggml.tokens", s, l, n);
    gw_arr_f32(&w, "tokenizer.ggml.scores", f, n);
    gw_arr_i32(&w, "tokenizer.ggml.token_type", t, n);
    gw_bool(&w, "tokenizer.ggml.add_space_prefix", json_get(m, "add_space_prefix")->num != 0);
    gw_bool(&w, "tokenizer.ggml.remove_extra_whitespaces",
            json_get(m, "remove_extra_whitespaces")->num != 0);
    gw_u32(&w, "tokenizer.ggml.eos_token_id", 2);
    if (with_bad_charsmap) { /* trie size larger than the blob */
        static const uint8_t bad[8] = {0xFF, 0xFF, 0, 0, 1, 2, 3, 4};
        gw_arr_u8(&w, "tokenizer.ggml.precompiled_charsmap", bad, sizeof bad);
    }
    gw_end(&w);
    gguf_ctx *g = gguf_load_buffer(w.p, w.n);
    plm_vocab *v = g ? vocab_load(g) : NULL;
    gguf_free(g);
    free(w.p), free(s), free(l), free(f), free(t);
    return v;
}

TEST(ugm_user_defined_and_byte_fallback) {
    size_t len;
    char *text = test_read_file(FX "tokenizers/ugm_mini.json", &len);
    json_value *m = text ? json_parse(text, len) : NULL;
    CHECK(m != NULL);
    if (!m) {
        free(text);
        return;
    }
    plm_vocab *v = build_vocab(m, 0);
    CHECK_MSG(v != NULL, "vocab_load: %s", plm_errmsg());
    const json_value *cases = json_get(m, "cases");
    int ok = 0;
    for (size_t i = 0; v && i < cases->n; i++) {
        size_t n;
        char *input = record_input(cases->arr[i], &n);
        int32_t *ids;
        int cnt = encode(v, input, n, 0, &ids);
        if (cnt >= 0 && ids_equal(ids, cnt, json_get(cases->arr[i], "ids"))) ok++;
        else {
            fprintf(stderr, "ugm_mini case %zu (\"%s\") differs\n", i, input);
            if (cnt >= 0) print_ids("got", ids, cnt);
        }
        free(ids), free(input);
    }
    printf("  ugm_mini.json: %d/%zu\n", ok, cases->n);
    CHECK_EQ_INT(ok, (int)cases->n);
    if (v) {
        /* byte pieces decode to their bytes; an invalid sequence becomes U+FFFD per byte */
        int32_t *ids;
        int cnt = encode(v, "\xF0\x9F\x9A\x80!", 5, 0, &ids);
        char *s = decode(v, ids, cnt, PLM_DECODE_SKIP_SPECIAL | PLM_DECODE_STRIP_LEADING);
        CHECK(s && !strcmp(s, "\xF0\x9F\x9A\x80!"));
        free(s);
        /* drop the last byte piece of the emoji: 3 bytes of a 4-byte sequence */
        int32_t cut[8];
        int k = 0;
        for (int i = 0; i < cnt && k < 8; i++)
            if (i != 4) cut[k++] = ids[i];
        s = decode(v, cut, k, PLM_DECODE_STRIP_LEADING);
        CHECK(s && !strcmp(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!"));
        free(s), free(ids);
        /* user-defined pieces decode verbatim */
        cnt = encode(v, "<sep>xyz", 8, 0, &ids);
        s = decode(v, ids, cnt, PLM_DECODE_STRIP_LEADING);
        CHECK(s && !strcmp(s, "<sep>xyz"));
        free(s), free(ids);
    }
    vocab_free(v);
    /* a charsmap whose trie does not fit: a format error, not a crash */
    v = build_vocab(m, 1);
    CHECK(v == NULL);
    CHECK_EQ_INT(plm_errcode(), PLM_E_FORMAT);
    vocab_free(v);
    json_free(m);
    free(text);
}

TEST(t5_unk_decode) {
    plm_vocab *v = load_vocab(FX "tokenizers/ggml-vocab-t5-small.gguf");
    CHECK(v != NULL);
    if (!v) return;
    const int n = check_unk_decode(v, "t5");
    printf("  unk_decode.json t5: %d cases equal sentencepiece's decode\n", n);
    CHECK(n > 10);
    vocab_free(v);
}

TEST(t5_edges) {
    plm_vocab *v = load_vocab(FX "tokenizers/ggml-vocab-t5-small.gguf");
    CHECK(v != NULL);
    if (!v) return;
    int32_t ids[64];
    /* empty and whitespace-only inputs: nothing, or just </s> */
    CHECK_EQ_INT(vocab_encode(v, "", 0, 0, 0, ids, 64), 0);
    CHECK_EQ_INT(vocab_encode(v, "", 0, 1, 0, ids, 64), 1);
    CHECK_EQ_INT(ids[0], 1);
    CHECK_EQ_INT(vocab_encode(v, " \t\n\r\xE3\x80\x80 ", 8, 0, 0, ids, 64), 0);
    /* cap: only cap ids written, the full count returned */
    ids[1] = -7;
    CHECK_EQ_INT(vocab_encode(v, "Hello world", 11, 1, 0, ids, 1), 3);
    CHECK_EQ_INT(ids[0], 8774);
    CHECK_EQ_INT(ids[1], -7);
    /* an embedded NUL is a character like any other (sentencepiece: <unk>), not the end */
    CHECK_EQ_INT(vocab_encode(v, "a\0b", 3, 0, 0, ids, 64), 4);
    CHECK(ids[0] == 3 && ids[1] == 9 && ids[2] == 2 && ids[3] == 115);
    /* decoding: specials shown or skipped, padding ids invisible, leading space rule */
    int32_t seq[] = {0, 8774, 296, 32000, 32127, 1};
    char buf[128];
    CHECK_EQ_INT(vocab_decode(v, seq, 6, 0, buf, sizeof buf), 21);
    CHECK(!strcmp(buf, "<pad> Hello world</s>"));
    vocab_decode(v, seq, 6, PLM_DECODE_SKIP_SPECIAL, buf, sizeof buf);
    CHECK(!strcmp(buf, " Hello world"));
    vocab_decode(v, seq, 6, PLM_DECODE_SKIP_SPECIAL | PLM_DECODE_STRIP_LEADING, buf, sizeof buf);
    CHECK(!strcmp(buf, "Hello world"));
    int32_t unk_seq[] = {3, 2, 296};
    vocab_decode(v, unk_seq, 3, PLM_DECODE_STRIP_LEADING, buf, sizeof buf);
    CHECK(!strcmp(buf, "<unk> world"));
    /* cap on decode */
    memset(buf, 'x', sizeof buf);
    CHECK_EQ_INT(vocab_decode(v, seq + 1, 2, PLM_DECODE_STRIP_LEADING, buf, 4), 11);
    CHECK(!memcmp(buf, "Hell", 4));
    /* single tokens */
    CHECK_EQ_INT(vocab_token_bytes(v, 8774, 0, buf, sizeof buf), 6);
    CHECK(!memcmp(buf, " Hello", 6));
    CHECK_EQ_INT(vocab_token_bytes(v, 32005, 0, buf, sizeof buf), 0);
    CHECK_EQ_INT(vocab_token_bytes(v, 1, PLM_DECODE_SKIP_SPECIAL, buf, sizeof buf), 0);
    /* invalid ids are errors, not crashes */
    int32_t bad[] = {5, 40000};
    CHECK_EQ_INT(vocab_decode(v, bad, 2, 0, buf, sizeof buf), PLM_E_INVALID);
    CHECK(vocab_token_bytes(v, -1, 0, buf, sizeof buf) < 0);
    vocab_free(v);
}

/* 20k characters of text without spaces: Viterbi stays linear. */
TEST(t5_long_word) {
    plm_vocab *v = load_vocab(FX "tokenizers/ggml-vocab-t5-small.gguf");
    CHECK(v != NULL);
    if (!v) return;
    size_t n = 20000;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++) s[i] = "abcdefghij"[(i * 7 + i / 13) % 10];
    int32_t *ids;
    int cnt = encode(v, s, n, 1, &ids);
    CHECK(cnt > 1000 && cnt < 20000);
    char *d = decode(v, ids, cnt, PLM_DECODE_SKIP_SPECIAL | PLM_DECODE_STRIP_LEADING);
    CHECK(d && strlen(d) == n && !memcmp(d, s, n));
    free(d), free(ids), free(s);
    vocab_free(v);
}

int main(void) {
    RUN(t5_small_jsonl);
    RUN(t5_small_extra);
    RUN(t5_tiny_jsonl);
    RUN(t5_model_cases);
    RUN(ugm_user_defined_and_byte_fallback);
    RUN(t5_unk_decode);
    RUN(t5_edges);
    RUN(t5_long_word);
    return test_summary();
}
