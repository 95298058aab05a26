/* test_tok_wpm.c — WordPiece (BERT uncased) tokenizer vs Hugging Face goldens.
 *
 * Fixtures (tests/fixtures/tokenizers/PROVENANCE.md, tests/fixtures/bert/PROVENANCE-tokenizer.md):
 *   tokenizers/bert.jsonl  100 texts: HF BertTokenizer ids, ids with [CLS]/[SEP], tokens
 *   bert/tokenizer_cases.json  input_ids / token_type_ids of the tiny BERT goldens
 *                              (texts with [MASK], a sentence pair, a padded batch)
 * The vocab is tested in llama.cpp's phantom-space form (the fixture GGUF)
 * and in raw vocab.txt form (the same tokens converted back, built in memory).
 */
#include "test.h" /* first: json.h needs its <math.h> */

#include "common.h"
#include "gguf.h"
#include "gguf_writer.h"
#include "json.h"
#include "tokenizer.h"

#define FX "tests/fixtures/"
#define VOCAB FX "tokenizers/ggml-vocab-bert-base-uncased.gguf"

static plm_vocab *load_vocab(const char *path) {
    gguf_ctx *g = gguf_load_file(path);
    if (!g) {
        fprintf(stderr, "cannot load %s: %s\n", path, plm_errmsg());
        return NULL;
    }
    plm_vocab *v = vocab_load(g);
    if (!v) fprintf(stderr, "vocab_load(%s): %s\n", path, plm_errmsg());
    gguf_free(g);
    return v;
}

/* The fixture vocab with its tokens converted back to vocab.txt spelling:
 * "▁w" -> "w", specials as they are, any other "x" -> "##x". */
static plm_vocab *load_raw_form_vocab(void) {
    gguf_ctx *g = gguf_load_file(VOCAB);
    if (!g) return NULL;
    int et;
    int64_t n = gguf_arr_n(g, "tokenizer.ggml.tokens", &et);
    const int32_t *types = gguf_arr_data(g, "tokenizer.ggml.token_type");
    char **tok = calloc((size_t)n, sizeof *tok);
    for (int64_t i = 0; i < n; i++) {
        size_t len;
        const char *s = gguf_arr_str(g, "tokenizer.ggml.tokens", i, &len);
        tok[i] = malloc(len + 3);
        if (types[i] == 3) memcpy(tok[i], s, len + 1);
        else if (len >= 3 && !memcmp(s, "\xE2\x96\x81", 3)) memcpy(tok[i], s + 3, len - 2);
        else memcpy(tok[i], "##", 2), memcpy(tok[i] + 2, s, len + 1);
    }
    gw w;
    gw_begin(&w);
    gw_str(&w, "general.architecture", "bert");
    gw_str(&w, "tokenizer.ggml.model", "bert");
    gw_arr_str(&w, "tokenizer.ggml.tokens", tok, NULL, (uint64_t)n);
    gw_arr_i32(&w, "tokenizer.ggml.token_type", types, (uint64_t)n);
    static const char *const ids[] = {"bos", "eos", "unknown", "seperator", "padding", "mask"};
    static const uint32_t vals[] = {101, 102, 100, 102, 0, 103};
    for (int i = 0; i < 6; i++) {
        char key[64];
        snprintf(key, sizeof key, "tokenizer.ggml.%s_token_id", ids[i]);
        gw_u32(&w, key, vals[i]);
    }
    gw_bool(&w, "tokenizer.ggml.add_bos_token", 1);
    gw_bool(&w, "tokenizer.ggml.add_eos_token", 1);
    gw_end(&w);
    gguf_free(g);
    for (int64_t i = 0; i < n; i++) free(tok[i]);
    free(tok);
    gguf_ctx *g2 = gguf_load_buffer(w.p, w.n);
    free(w.p);
    plm_vocab *v = g2 ? vocab_load(g2) : NULL;
    if (!v) fprintf(stderr, "raw-form vocab: %s\n", plm_errmsg());
    gguf_free(g2);
    return v;
}

static int encode(const plm_vocab *v, const char *s, size_t n, int add_special, int parse_special,
                  int32_t **ids) {
    int32_t probe[1];
    *ids = NULL;
    int cnt = vocab_encode(v, s, n, add_special, parse_special, probe, 0);
    if (cnt < 0) return cnt;
    *ids = malloc(sizeof(int32_t) * (size_t)(cnt + 1));
    return vocab_encode(v, s, n, add_special, parse_special, *ids, cnt) == cnt ? cnt : -1000;
}

static char *decode(const plm_vocab *v, const int32_t *ids, int n, int flags) {
    int len = vocab_decode(v, ids, n, flags, NULL, 0);
    if (len < 0) return NULL;
    char *s = malloc((size_t)len + 1);
    if (vocab_decode(v, ids, n, flags, s, len + 1) != len) {
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

/* Python's s.replace(a, b) in place (len(b) <= len(a)). */
static void py_replace(char *s, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *r = s, *w = s;
    while (*r) {
        if (!strncmp(r, a, la)) memcpy(w, b, lb), w += lb, r += la;
        else *w++ = *r++;
    }
    *w = 0;
}

/* What HF's decode() prints for the fixture's WordPiece strings:
 * " ".join(tokens).replace(" ##", "").strip() + clean_up_tokenization;
 * skip_special_tokens also drops [UNK]. */
static char *hf_decode(const json_value *tokens, int skip_unk) {
    size_t cap = 1;
    for (size_t i = 0; i < tokens->n; i++) cap += tokens->arr[i]->slen + 1;
    char *s = calloc(cap, 1);
    for (size_t i = 0, k = 0; i < tokens->n; i++) {
        if (skip_unk && !strcmp(tokens->arr[i]->str, "[UNK]")) continue;
        if (k++) strcat(s, " ");
        strcat(s, tokens->arr[i]->str);
    }
    py_replace(s, " ##", "");
    static const char *const cleanup[][2] = {{" .", "."},     {" ?", "?"},   {" !", "!"},
                                             {" ,", ","},     {" ' ", "'"},  {" n't", "n't"},
                                             {" 'm", "'m"},   {" 's", "'s"}, {" 've", "'ve"},
                                             {" 're", "'re"}};
    for (size_t i = 0; i < sizeof cleanup / sizeof cleanup[0]; i++)
        py_replace(s, cleanup[i][0], cleanup[i][1]);
    return s;
}

static void run_bert_jsonl(plm_vocab *v, const char *form) {
    size_t len;
    char *text = test_read_file(FX "tokenizers/bert.jsonl", &len);
    CHECK(text != NULL);
    if (!text || !v) {
        free(text);
        return;
    }
    int n = 0, ok = 0, ok_sp = 0, ok_dec = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        json_value *rec = json_parse(line, strlen(line));
        if (!rec) continue;
        n++;
        const json_value *t = json_get(rec, "text");
        int32_t *ids, *ids2;
        int cnt = encode(v, t->str, t->slen, 0, 0, &ids);
        int cnt2 = encode(v, t->str, t->slen, 1, 0, &ids2);
        int good = cnt >= 0 && ids_equal(ids, cnt, json_get(rec, "ids"));
        ok += good;
        ok_sp += cnt2 >= 0 && ids_equal(ids2, cnt2, json_get(rec, "ids_with_special"));
        if (!good) fprintf(stderr, "bert.jsonl (%s) line %d: ids differ for \"%s\"\n", form, n, t->str);
        char *want = hf_decode(json_get(rec, "tokens"), 0);
        char *want2 = hf_decode(json_get(rec, "tokens"), 1);
        char *got = cnt >= 0 ? decode(v, ids, cnt, 0) : NULL;
        char *got2 = cnt2 >= 0 ? decode(v, ids2, cnt2, PLM_DECODE_SKIP_SPECIAL) : NULL;
        int dgood = got && got2 && !strcmp(got, want) && !strcmp(got2, want2);
        ok_dec += dgood;
        if (!dgood)
            fprintf(stderr, "bert.jsonl (%s) line %d: decode\n  want \"%s\" / \"%s\"\n  got  \"%s\" / \"%s\"\n",
                    form, n, want, want2, got ? got : "(error)", got2 ? got2 : "(error)");
        free(want), free(want2), free(got), free(got2), free(ids), free(ids2);
        json_free(rec);
    }
    printf("  bert.jsonl (%s form): ids %d/%d, with special %d/%d, decode %d/%d\n", form, ok, n,
           ok_sp, n, ok_dec, n);
    CHECK(n == 100);
    CHECK_EQ_INT(ok, n);
    CHECK_EQ_INT(ok_sp, n);
    CHECK_EQ_INT(ok_dec, n);
    free(text);
}

TEST(bert_jsonl_phantom_form) {
    plm_vocab *v = load_vocab(VOCAB);
    CHECK(v != NULL);
    run_bert_jsonl(v, "phantom-space");
    vocab_free(v);
}

TEST(bert_jsonl_raw_form) {
    plm_vocab *v = load_raw_form_vocab();
    CHECK(v != NULL);
    run_bert_jsonl(v, "raw vocab.txt");
    if (v) { /* pieces as decoded text: " word", "##piece" -> "piece" */
        char buf[16];
        CHECK_EQ_INT(vocab_token_bytes(v, 7592, 0, buf, sizeof buf), 6);
        CHECK(!memcmp(buf, " hello", 6));
        CHECK_EQ_INT(vocab_token_bytes(v, 20961, 0, buf, sizeof buf), 3);
        CHECK(!memcmp(buf, "ffa", 3));
    }
    vocab_free(v);
}

/* Token ids of the tiny BERT model goldens: [MASK] in text, a sentence pair
 * with token types, a padded batch. The goldens come from a BertTokenizer
 * built from vocab.txt without from_pretrained's added-token splitting: a
 * whitespace-delimited "[MASK]" is the mask token (BasicTokenizer's
 * never_split), "[MASK]." is text. That is parse_special = 0 here; with
 * parse_special = 1 every "[MASK]" literal is the mask token (as HF's
 * from_pretrained tokenizers do). */
TEST(bert_model_cases) {
    plm_vocab *v = load_vocab(VOCAB);
    size_t len;
    char *text = test_read_file(FX "bert/tokenizer_cases.json", &len);
    json_value *root = text ? json_parse(text, len) : NULL;
    CHECK(v != NULL && root != NULL);
    if (!v || !root) goto done;
    const json_value *cases = json_get(root, "cases");
    int n = 0, ok = 0;
    for (size_t i = 0; i < cases->n; i++) {
        const json_value *c = cases->arr[i], *t = json_get(c, "text");
        const json_value *want_ids = json_get(c, "input_ids"), *want_types = json_get(c, "token_type_ids");
        int32_t *ids = NULL, *types = NULL;
        int cnt;
        if (t->type == JSON_ARR) { /* [CLS] A [SEP] B [SEP] */
            const json_value *a = t->arr[0], *b = t->arr[1];
            int32_t probe[1], probe_t[1];
            cnt = vocab_encode_pair(v, a->str, a->slen, b->str, b->slen, 1, probe, probe_t, 0);
            if (cnt > 0) {
                ids = malloc(sizeof *ids * (size_t)cnt), types = malloc(sizeof *types * (size_t)cnt);
                CHECK_EQ_INT(vocab_encode_pair(v, a->str, a->slen, b->str, b->slen, 1, ids, types, cnt), cnt);
            }
        } else {
            cnt = encode(v, t->str, t->slen, 1, 0, &ids);
            types = calloc((size_t)(cnt > 0 ? cnt : 1), sizeof *types);
        }
        int good = cnt > 0 && ids_equal(ids, cnt, want_ids) && ids_equal(types, cnt, want_types);
        n++, ok += good;
        if (!good) fprintf(stderr, "bert case %s differs\n", json_get(c, "name")->str);
        free(ids), free(types);
    }
    const json_value *pb = json_get(root, "padded_batch");
    const json_value *texts = json_get(pb, "texts"), *pids = json_get(pb, "input_ids"),
                     *mask = json_get(pb, "attention_mask");
    for (size_t r = 0; r < texts->n; r++) {
        int32_t *ids;
        int cnt = encode(v, texts->arr[r]->str, texts->arr[r]->slen, 1, 0, &ids);
        int good = cnt > 0 && (size_t)cnt <= pids->arr[r]->n;
        for (size_t k = 0; good && k < pids->arr[r]->n; k++) {
            int in_seq = mask->arr[r]->arr[k]->num != 0;
            good = in_seq == ((int)k < cnt) &&
                   (int32_t)pids->arr[r]->arr[k]->num == (in_seq ? ids[k] : 0);
        }
        n++, ok += good;
        free(ids);
    }
    printf("  bert/tokenizer_cases.json: %d/%d\n", ok, n);
    CHECK_EQ_INT(ok, n);
done:
    json_free(root);
    free(text);
    vocab_free(v);
}

static int enc_eq(const plm_vocab *v, const char *s, size_t n, const int32_t *want, int want_n) {
    int32_t *ids;
    int cnt = encode(v, s, n, 0, 0, &ids);
    int eq = cnt == want_n && (want_n == 0 || !memcmp(ids, want, sizeof *ids * (size_t)cnt));
    if (!eq) {
        fprintf(stderr, "  \"%.40s\" ->", s);
        for (int i = 0; i < cnt && i < 20; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
    }
    free(ids);
    return eq;
}

TEST(bert_edges) {
    plm_vocab *v = load_vocab(VOCAB);
    CHECK(v != NULL);
    if (!v) return;
    int32_t ids[128];
    /* empty / whitespace-only: nothing, or [CLS] [SEP] */
    CHECK_EQ_INT(vocab_encode(v, "", 0, 0, 0, ids, 128), 0);
    CHECK_EQ_INT(vocab_encode(v, "", 0, 1, 0, ids, 128), 2);
    CHECK(ids[0] == 101 && ids[1] == 102);
    CHECK_EQ_INT(vocab_encode(v, " \t\r\n\xC2\xA0\xE3\x80\x80\xE2\x80\xA8", 12, 0, 0, ids, 128), 0);
    /* 100 characters: WordPiece; 101: one [UNK] */
    char word[102];
    memset(word, 'a', sizeof word);
    int32_t a100[50] = {13360};
    for (int i = 1; i < 49; i++) a100[i] = 11057; /* ##aa */
    a100[49] = 2050;                              /* ##a */
    CHECK(enc_eq(v, word, 100, a100, 50));
    const int32_t unk[] = {100};
    CHECK(enc_eq(v, word, 101, unk, 1));
    /* a word no piece sequence covers: one [UNK] for the whole word */
    CHECK(enc_eq(v, "\xEF\xA4\x80", 3, unk, 1)); /* U+F900 -> NFD U+8C48, not in the vocab */
    /* invalid UTF-8, U+FFFD, NUL and control characters vanish (no word break) */
    const int32_t abcd[] = {5925, 2094};
    CHECK(enc_eq(v, "ab\xFF" "cd", 5, abcd, 2));
    CHECK(enc_eq(v, "ab\xEF\xBF\xBD" "cd", 7, abcd, 2));
    CHECK(enc_eq(v, "ab\0cd", 5, abcd, 2));
    const int32_t xyz[] = {1060, 2100, 2480};
    CHECK(enc_eq(v, "x\vy\fz", 5, xyz, 3));
    CHECK(enc_eq(v, "x\xE2\x80\x8By\xE2\x80\x8Dz", 9, xyz, 3)); /* ZWSP, ZWJ: Cf */
    /* U+2028 is not Zs but str.split() splits on it */
    const int32_t xy[] = {1060, 1061};
    CHECK(enc_eq(v, "x\xE2\x80\xA8y", 5, xy, 2));
    /* lower-casing: Final_Sigma, İ -> i + U+0307 (dropped as Mn), accents */
    const int32_t odos[] = {1169, 29722, 15297};
    CHECK(enc_eq(v, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", 8, odos, 3)); /* ΟΔΟΣ -> οδος */
    const int32_t odosd[] = {1169, 29722, 15297, 1012};
    CHECK(enc_eq(v, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3.", 9, odosd, 4));
    const int32_t odos2[] = {1169, 29722, 29730, 29733};
    CHECK(enc_eq(v, "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83", 8, odos2, 4)); /* οδοσ stays */
    const int32_t istanbul[] = {9960};
    CHECK(enc_eq(v, "\xC4\xB0stanbul", 9, istanbul, 1));
    const int32_t e[] = {1041};
    CHECK(enc_eq(v, "e\xCC\x81", 3, e, 1));
    /* a whitespace-delimited special token is that token (never_split); glued to
     * other text or in another case it is text (without parse_special) */
    const int32_t cls[] = {101}, cls_text[] = {1031, 18856, 2015, 1033, 1012};
    CHECK(enc_eq(v, " [CLS]\n", 7, cls, 1));
    CHECK(enc_eq(v, "[CLS].", 6, cls_text, 5));
    CHECK(enc_eq(v, "[cls].", 6, cls_text, 5));
    /* parse_special: every special literal is split out first (HF from_pretrained) */
    const int32_t mask_sp[] = {101, 1996, 3007, 1997, 2605, 2003, 103, 1012, 102};
    const char *mlm = "The capital of France is [MASK].";
    CHECK_EQ_INT(vocab_encode(v, mlm, strlen(mlm), 1, 1, ids, 128), 9);
    CHECK(!memcmp(ids, mask_sp, sizeof mask_sp));
    /* cap: only cap ids written, the full count returned */
    ids[1] = -7;
    CHECK_EQ_INT(vocab_encode(v, "hello world", 11, 1, 0, ids, 1), 4);
    CHECK(ids[0] == 101 && ids[1] == -7);
    /* decoding */
    const int32_t seq[] = {101, 7592, 1010, 2088, 999, 2009, 1005, 1055, 14477, 20961, 3468, 102};
    char buf[128];
    int n = vocab_decode(v, seq, 12, 0, buf, sizeof buf);
    CHECK(n > 0 && !strcmp(buf, "[CLS] hello, world! it's unaffable [SEP]"));
    vocab_decode(v, seq, 12, PLM_DECODE_SKIP_SPECIAL, buf, sizeof buf);
    CHECK(!strcmp(buf, "hello, world! it's unaffable"));
    memset(buf, 'x', sizeof buf);
    CHECK_EQ_INT(vocab_decode(v, seq + 1, 1, 0, buf, 3), 5);
    CHECK(!memcmp(buf, "hel", 3));
    CHECK_EQ_INT(vocab_token_bytes(v, 7592, 0, buf, sizeof buf), 6);
    CHECK(!memcmp(buf, " hello", 6));
    CHECK_EQ_INT(vocab_token_bytes(v, 20961, 0, buf, sizeof buf), 3); /* ##ffa */
    CHECK(!memcmp(buf, "ffa", 3));
    CHECK_EQ_INT(vocab_token_bytes(v, 101, PLM_DECODE_SKIP_SPECIAL, buf, sizeof buf), 0);
    CHECK_EQ_INT(vocab_token_bytes(v, 101, 0, buf, sizeof buf), 6);
    CHECK(!memcmp(buf, " [CLS]", 6));
    const int32_t bad[] = {7592, 30522};
    CHECK_EQ_INT(vocab_decode(v, bad, 2, 0, buf, sizeof buf), PLM_E_INVALID);
    vocab_free(v);
}

/* 20k characters: linear time, exact ids. */
TEST(bert_long_inputs) {
    plm_vocab *v = load_vocab(VOCAB);
    CHECK(v != NULL);
    if (!v) return;
    const char *unit = "Hello world! ";
    size_t reps = 20000 / strlen(unit), n = reps * strlen(unit);
    char *s = malloc(n + 1);
    for (size_t i = 0; i < reps; i++) memcpy(s + i * strlen(unit), unit, strlen(unit));
    int32_t *ids;
    int cnt = encode(v, s, n, 0, 0, &ids);
    int good = cnt == (int)(3 * reps);
    for (int i = 0; good && i < cnt; i++) good = ids[i] == (int32_t[]){7592, 2088, 999}[i % 3];
    CHECK(good);
    free(ids);
    /* one 20k-character word: a single [UNK] */
    for (size_t i = 0; i < n; i++) s[i] = "abcdefghij"[(i * 7 + i / 13) % 10];
    cnt = encode(v, s, n, 0, 0, &ids);
    CHECK(cnt == 1 && ids[0] == 100);
    free(ids);
    /* 20k characters of words of 1..30 letters */
    for (size_t i = 0; i < n; i++) s[i] = (i * 2654435761u >> 7) % 31 == 0 ? ' ' : s[i];
    cnt = encode(v, s, n, 0, 0, &ids);
    CHECK(cnt > 0);
    free(ids), free(s);
    vocab_free(v);
}

int main(void) {
    RUN(bert_jsonl_phantom_form);
    RUN(bert_jsonl_raw_form);
    RUN(bert_model_cases);
    RUN(bert_edges);
    RUN(bert_long_inputs);
    return test_summary();
}
