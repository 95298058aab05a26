/* test_grammar.c — GBNF grammars (src/grammar.c).
 *   - llama.cpp's grammar integration cases (tests/fixtures/grammar/integration.json):
 *     strings that must / must not match, grammars that must not build;
 *   - parse errors name the line and column; malformed grammars leak nothing (ASan);
 *   - token masking on real vocabularies (GPT-2 byte-level BPE, LLaMA SentencePiece
 *     with byte fallback) equals a token-by-token reference on random walks through
 *     JSON and Unicode grammars, EOG only when complete, partial UTF-8 across tokens. */
#include <math.h>

#include "fixture.h"
#include "grammar.h"
#include "tokenizer.h"
#include "plm.h"
#include "test.h"

static plm_grammar *gr(const char *s) { return plm_grammar_new(s, (int)strlen(s)); }

static int matches(plm_grammar *g, const char *s) { return plm_grammar_matches(g, s, (int)strlen(s)); }

TEST(llama_cpp_integration) {
    json_value *v = fixture_json("tests/fixtures/grammar/integration.json");
    if (!v) return;
    const json_value *gs = json_get(v, "grammars");
    int n_cases = 0;
    for (size_t i = 0; i < gs->n; i++) {
        const json_value *c = gs->arr[i];
        const char *desc = json_get(c, "desc")->str;
        plm_grammar *g = gr(json_get(c, "grammar")->str);
        CHECK_MSG(g != NULL, "%s: %s", desc, plm_errmsg());
        if (!g) continue;
        const json_value *ok = json_get(c, "pass"), *bad = json_get(c, "fail");
        for (size_t k = 0; k < ok->n; k++, n_cases++)
            CHECK_MSG(matches(g, ok->arr[k]->str) == 1, "%s: should match \"%s\"", desc, ok->arr[k]->str);
        for (size_t k = 0; k < bad->n; k++, n_cases++)
            CHECK_MSG(matches(g, bad->arr[k]->str) == 0, "%s: should not match \"%s\"", desc, bad->arr[k]->str);
        plm_grammar_free(g);
    }
    const json_value *bg = json_get(v, "bad_grammars");
    for (size_t i = 0; i < bg->n; i++) {
        plm_grammar *g = gr(json_get(bg->arr[i], "grammar")->str);
        CHECK_MSG(g == NULL, "%s: should not build", json_get(bg->arr[i], "desc")->str);
        CHECK(plm_errcode() == PLM_E_FORMAT);
        plm_grammar_free(g);
    }
    CHECK_EQ_INT(n_cases, 119);
    json_free(v);
}

/* features beyond the ported cases */
TEST(syntax) {
    struct {
        const char *g, *s;
        int want;
    } cases[] = {
        {"root ::= \"a\\x41\\u00e9\\U0001F600\\t\\n\\\\\\\"\"", "aA\xc3\xa9\xf0\x9f\x98\x80\t\n\\\"", 1},
        {"root ::= [^a-z0-9]+", "ABC!", 1},
        {"root ::= [^a-z0-9]+", "AbC", 0},
        {"root ::= [\\u0400-\\u04FF]{2}", "\xd0\x96\xd0\xb8", 1},
        {"root ::= [\\u0400-\\u04FF]{2}", "\xd0\x96x", 0},
        {"root ::= [a-c\\]-]*", "a]-cb", 1},
        {"root ::= [\\x2d\\x5e]+", "-^-", 1},
        {"root ::= [\\[-\\]]", "\\", 1},
        {"root ::= \"x\"{2} \"y\"{1,} \"z\"{0,2}", "xxyyyzz", 1},
        {"root ::= \"x\"{2} \"y\"{1,} \"z\"{0,2}", "xxzz", 0},
        {"root ::= \"x\"{ 2 , 3 }", "xxx", 1},
        {"root ::= . .", "\xe2\x82\xac\xf0\x9f\x98\x80", 1},
        {"root ::= .", "\xe2\x82", 0}, /* incomplete character at the end */
        {"root ::= .*", "\x80", 0},    /* stray continuation byte */
        {"root ::= .*", "\xed\xa0\x80", 0}, /* surrogate */
        {"root ::= .*", "\xc0\x80", 0},     /* overlong */
        {"# c1\nroot ::= a b # c2\na ::= \"a\"   # c3\n\nb ::= (\n  \"b\" |\n  \"c\"\n)\n# end", "ac", 1},
        {"root ::= ( \"a\" | )\r\n", "", 1},
        {"root ::= [^]", "q", 1},
        {"root ::= \"\"", "", 1},
        {"root ::= \"a\" | \"b\" (\"c\" \"d\")?", "bcd", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        plm_grammar *g = gr(cases[i].g);
        CHECK_MSG(g != NULL, "%s: %s", cases[i].g, plm_errmsg());
        if (!g) continue;
        CHECK_MSG(matches(g, cases[i].s) == cases[i].want, "%s on \"%s\": want %d", cases[i].g, cases[i].s,
                  cases[i].want);
        plm_grammar_free(g);
    }
}

TEST(parse_errors) {
    struct {
        const char *g;
        int line, col;
        const char *needle;
    } cases[] = {
        {"root ::= \"abc", 1, 14, "unterminated literal"},
        {"root ::= [abc", 1, 10, "unterminated character class"},
        {"root ::= foo", 1, 10, "undefined rule identifier 'foo'"},
        {"root ::= \"a\"\nfoo ::= \"b\" bar\n", 2, 13, "undefined rule identifier 'bar'"},
        {"root ::= \"a\"\n  ::= \"b\"", 2, 3, "expecting name"},
        {"root = \"a\"", 1, 6, "expecting ::="},
        {"root ::= * \"a\"", 1, 10, "expecting preceding item"},
        {"root ::= \"a\"{3,1}", 1, 13, "max is below min"},
        {"root ::= \"a\"{x}", 1, 14, "expecting integer"},
        {"root ::= (\"a\" \"b\"", 1, 10, "expecting ')'"},
        {"root ::= \"\\q\"", 1, 11, "unknown escape"},
        {"root ::= \"\\x4\"", 1, 11, "hex digits"},
        {"root ::= [z-a]", 1, 13, "out of order"},
        {"root ::= \"a\" )", 1, 14, "expecting newline or end"},
        {"root ::= \"a\"\nroot ::= \"b\"", 2, 1, "defined twice"},
        {"a ::= \"a\"", 1, 10, "no 'root' rule"},
        {"", 1, 1, "no 'root' rule"},
        {"root ::= []", 1, 10, "empty character class"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        plm_grammar *g = gr(cases[i].g);
        CHECK_MSG(g == NULL, "should fail: %s", cases[i].g);
        plm_grammar_free(g);
        CHECK_EQ_INT(plm_errcode(), PLM_E_FORMAT);
        CHECK_MSG(strstr(plm_errmsg(), cases[i].needle) != NULL, "%s: message \"%s\" lacks \"%s\"", cases[i].g,
                  plm_errmsg(), cases[i].needle);
        CHECK_MSG(plm_grammar_error_line() == cases[i].line && plm_grammar_error_column() == cases[i].col,
                  "%s: at %d:%d, want %d:%d", cases[i].g, plm_grammar_error_line(), plm_grammar_error_column(),
                  cases[i].line, cases[i].col);
    }
    plm_grammar *g = gr("root ::= \"a\" | root");
    CHECK(g == NULL && strstr(plm_errmsg(), "left recursion") != NULL);
    /* huge repetitions are refused, not allocated */
    g = gr("root ::= \"a\"{1000000}");
    CHECK(g == NULL);
    CHECK(plm_grammar_new(NULL, 3) == NULL && plm_errcode() == PLM_E_INVALID);
}

static const char *JSON_GBNF =
    "root   ::= object\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
    "array  ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

TEST(json_grammar) {
    plm_grammar *g = gr(JSON_GBNF);
    CHECK_MSG(g != NULL, "%s", plm_errmsg());
    if (!g) return;
    CHECK(matches(g, "{\"a\": [1, 2.5, -3e4, true, null, \"x\\u00e9\\n\"], \"b\": {}}") == 1);
    CHECK(matches(g, "{\"a\": \"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\"}") == 1);
    CHECK(matches(g, "{\"a\": 01}") == 0);
    CHECK(matches(g, "{\"a\": \"\x01\"}") == 0);
    CHECK(matches(g, "{\"a\" 1}") == 0);
    CHECK(matches(g, "{") == 0);
    plm_grammar_free(g);
}

/* Random walk: at each step the mask must equal the reference; then accept a random allowed token. */
static void walk(plm_model *model, const char *grammar, int steps, int flags, uint32_t seed, long *visited,
                 long *shortcuts) {
    plm_grammar *g = gr(grammar);
    CHECK_MSG(g != NULL, "%s", plm_errmsg());
    plm_token_index *ti = plm_token_index_new(model);
    CHECK_MSG(ti != NULL, "%s", plm_errmsg());
    plm_matcher *m = g && ti ? plm_matcher_new(g, ti, flags) : NULL;
    CHECK(m != NULL);
    /* the matcher holds references: the caller's may go now */
    plm_grammar_free(g);
    plm_token_index_free(ti);
    if (!m) return;
    const char *info = plm_model_info(model);
    const char *vs = strstr(info, "\"vocabSize\":");
    const int n_vocab = vs ? atoi(vs + 12) : 0;
    CHECK(n_vocab > 0);
    float *logits = malloc((size_t)n_vocab * sizeof *logits);
    uint8_t *ref = malloc((size_t)n_vocab);
    char *text = calloc(1, 65536);
    size_t tlen = 0;
    *test_rng_state() = seed;
    int ended = 0;
    for (int step = 0; step < steps && !ended; step++) {
        for (int i = 0; i < n_vocab; i++) logits[i] = 0.0f;
        int n = plm_matcher_mask(m, logits, n_vocab);
        CHECK_MSG(n > 0, "step %d: %s", step, plm_errmsg());
        if (n <= 0) break;
        plm_matcher_stats st;
        plm_matcher_last_stats(m, &st);
        *visited += st.nodes_visited;
        *shortcuts += st.subtrees_taken;
        int nr = plm_matcher_reference(m, ref);
        CHECK_EQ_INT(nr, n);
        int diff = 0, first = -1;
        for (int i = 0; i < n_vocab; i++)
            if ((logits[i] == 0.0f) != (ref[i] == 1)) diff++, first = first < 0 ? i : first;
        CHECK_MSG(diff == 0, "step %d: %d tokens differ from the reference (first: %d)", step, diff, first);
        /* pick: prefer non-EOG tokens so the walk goes somewhere, EOG with small probability */
        int pick = -1, k = (int)(rnd_u32() % (uint32_t)n);
        for (int i = 0; i < n_vocab; i++)
            if (logits[i] == 0.0f && k-- == 0) pick = i;
        if (plm_token_is_eog(model, pick) == 1) ended = 1;
        CHECK_EQ_INT(plm_matcher_accept(m, pick), PLM_OK);
        if (!ended) {
            char buf[512];
            int nb = plm_token_bytes(model, pick, flags ? PLM_DECODE_STRIP_LEADING * (tlen == 0) : 0, buf, sizeof buf);
            if (nb > 0 && tlen + (size_t)nb < 65536) memcpy(text + tlen, buf, (size_t)nb), tlen += (size_t)nb;
        }
        const int state = plm_matcher_state(m);
        if (!(state & 2)) { /* nothing can follow: only EOG is allowed */
            for (int i = 0; i < n_vocab; i++) logits[i] = 0.0f;
            int left = plm_matcher_mask(m, logits, n_vocab);
            for (int i = 0; i < n_vocab; i++)
                if (logits[i] == 0.0f) CHECK(plm_token_is_eog(model, i) == 1);
            CHECK(left >= 0);
            ended = 1;
        }
        if (ended) {
            /* the text so far is a sentence of the grammar */
            plm_grammar *g2 = gr(grammar);
            CHECK_MSG(plm_grammar_matches(g2, text, (int)tlen) == 1, "complete text does not match: %.*s", (int)tlen,
                      text);
            plm_grammar_free(g2);
        }
    }
    /* a token that does not fit is refused and leaves the matcher usable */
    plm_matcher_free(m);
    free(logits);
    free(ref);
    free(text);
}

static const char *UNICODE_GBNF = "root ::= \"<\" [\\u00e0-\\u00ff\\u4e00-\\u9fff \\U0001F600-\\U0001F64F]{1,12} \">\"\n";
static const char *WORDS_GBNF = "root ::= (\"yes\" | \"no\" | \"maybe so\") \".\"\n";

TEST(mask_gpt2) {
    plm_model *model = plm_model_load_file("tests/fixtures/tokenizers/ggml-vocab-gpt-2.gguf", PLM_LOAD_VOCAB_ONLY);
    CHECK_MSG(model != NULL, "%s", plm_errmsg());
    if (!model) return;
    long visited = 0, shortcuts = 0;
    for (uint32_t s = 1; s <= 3; s++) walk(model, JSON_GBNF, 12, 0, s * 7919u, &visited, &shortcuts);
    walk(model, UNICODE_GBNF, 14, 0, 5, &visited, &shortcuts);
    walk(model, WORDS_GBNF, 8, 0, 9, &visited, &shortcuts);
    /* counted repetitions: the uniform-step chain shortcut (one state per position) */
    walk(model, "root ::= [^\\n]{0,40} \"\\n\"", 12, 0, 21, &visited, &shortcuts);
    walk(model, "root ::= [a-z ]{2,30} [.!]", 12, 0, 22, &visited, &shortcuts);
    walk(model, "root ::= ([^\"]{0,3} \"\"){2,5}", 12, 0, 23, &visited, &shortcuts);
    CHECK(shortcuts > 0);
    printf("     gpt2: %ld trie nodes visited, %ld subtrees taken whole\n", visited, shortcuts);

    /* errors: a token that does not continue the text, EOG too early; the matcher stays usable */
    plm_grammar *g = gr("root ::= \"hello\"");
    plm_token_index *ti = plm_token_index_new(model);
    plm_matcher *m = plm_matcher_new(g, ti, 0);
    int32_t ids[8];
    int n = plm_tokenize(model, "hello", 5, 0, 0, ids, 8);
    CHECK(n == 1);
    int32_t other[8];
    CHECK(plm_tokenize(model, " world", 6, 0, 0, other, 8) == 1);
    CHECK(plm_matcher_accept(m, other[0]) == PLM_E_STATE);
    CHECK(plm_matcher_accept(m, 50256) == PLM_E_STATE); /* <|endoftext|> before the end */
    CHECK(plm_matcher_accept(m, -1) == PLM_E_INVALID);
    CHECK_EQ_INT(plm_matcher_state(m), 2);
    CHECK_EQ_INT(plm_matcher_accept(m, ids[0]), PLM_OK);
    CHECK_EQ_INT(plm_matcher_state(m), 1);
    float *logits = calloc(50257, sizeof *logits);
    CHECK_EQ_INT(plm_matcher_mask(m, logits, 50257), 1);
    CHECK(logits[50256] == 0.0f && isinf(logits[0]));
    CHECK(plm_matcher_mask(m, logits, 100) == PLM_E_INVALID);
    CHECK_EQ_INT(plm_matcher_accept(m, 50256), PLM_OK);
    free(logits);
    plm_matcher_free(m);
    plm_grammar_free(g);
    plm_token_index_free(ti);
    plm_model_free(model);
}

TEST(mask_spm_byte_fallback) {
    plm_model *model = plm_model_load_file("tests/fixtures/tokenizers/ggml-vocab-llama-spm.gguf", PLM_LOAD_VOCAB_ONLY);
    CHECK_MSG(model != NULL, "%s", plm_errmsg());
    if (!model) return;
    long visited = 0, shortcuts = 0;
    for (uint32_t s = 1; s <= 2; s++) walk(model, JSON_GBNF, 10, 0, s * 104729u, &visited, &shortcuts);
    walk(model, UNICODE_GBNF, 14, 0, 3, &visited, &shortcuts);
    walk(model, "root ::= [^\\n]{0,40} \"\\n\"", 12, 0, 24, &visited, &shortcuts);
    /* first token with its SentencePiece leading space stripped */
    walk(model, WORDS_GBNF, 6, PLM_MATCHER_STRIP_LEADING, 11, &visited, &shortcuts);
    walk(model, "root ::= [A-Z] [a-z ]{0,20} \".\"", 8, PLM_MATCHER_STRIP_LEADING, 12, &visited, &shortcuts);

    /* a character only reachable through byte tokens: <0xE2> <0x82> <0xAC> = U+20AC */
    plm_grammar *g = gr("root ::= \"\\u20ac\"");
    plm_token_index *ti = plm_token_index_new(model);
    plm_matcher *m = plm_matcher_new(g, ti, 0);
    const char *info = plm_model_info(model);
    int n_vocab = atoi(strstr(info, "\"vocabSize\":") + 12);
    float *logits = calloc((size_t)n_vocab, sizeof *logits);
    int n = plm_matcher_mask(m, logits, n_vocab);
    CHECK(n >= 1);
    int byte_tok = -1;
    for (int i = 0; i < n_vocab; i++) {
        if (logits[i] != 0.0f) continue;
        char b[16];
        int k = plm_token_bytes(model, i, 0, b, sizeof b);
        CHECK(k >= 1 && (uint8_t)b[0] == 0xE2);
        if (k == 1) byte_tok = i;
    }
    CHECK(byte_tok >= 0);
    if (byte_tok >= 0) {
        CHECK_EQ_INT(plm_matcher_accept(m, byte_tok), PLM_OK);
        CHECK_EQ_INT(plm_matcher_state(m), 2); /* mid-character: not complete */
        for (int i = 0; i < n_vocab; i++) logits[i] = 0.0f;
        n = plm_matcher_mask(m, logits, n_vocab);
        CHECK(n >= 1);
        for (int i = 0; i < n_vocab; i++)
            if (logits[i] == 0.0f) {
                char b[16];
                int k = plm_token_bytes(model, i, 0, b, sizeof b);
                CHECK(k >= 1 && (uint8_t)b[0] == 0x82);
            }
    }
    free(logits);
    plm_matcher_free(m);
    plm_grammar_free(g);
    plm_token_index_free(ti);
    plm_model_free(model);
}

/* deep nesting is an error, not a stack overflow */
TEST(limits) {
    char *src = malloc(20000);
    size_t n = 0;
    n += (size_t)sprintf(src + n, "root ::= ");
    for (int i = 0; i < 1500; i++) src[n++] = '(';
    src[n++] = '"';
    src[n++] = 'a';
    src[n++] = '"';
    for (int i = 0; i < 1500; i++) src[n++] = ')';
    plm_grammar *g = plm_grammar_new(src, (int)n);
    CHECK(g == NULL && strstr(plm_errmsg(), "nested") != NULL);
    /* 900 nested groups are fine */
    n = (size_t)sprintf(src, "root ::= ");
    for (int i = 0; i < 900; i++) src[n++] = '(';
    n += (size_t)sprintf(src + n, "\"a\"");
    for (int i = 0; i < 900; i++) src[n++] = ')';
    g = plm_grammar_new(src, (int)n);
    CHECK_MSG(g != NULL, "%s", plm_errmsg());
    if (g) CHECK(plm_grammar_matches(g, "a", 1) == 1);
    plm_grammar_free(g);
    free(src);
    /* a chain of 5000 rules, each starting with the next */
    src = malloc(200000);
    n = (size_t)sprintf(src, "root ::= r0\n");
    for (int i = 0; i < 5000; i++) n += (size_t)sprintf(src + n, "r%d ::= r%d \"x\"\n", i, i + 1);
    n += (size_t)sprintf(src + n, "r5000 ::= \"y\"\n");
    g = plm_grammar_new(src, (int)n);
    CHECK(g == NULL && strstr(plm_errmsg(), "deep") != NULL);
    free(src);
}

TEST(no_leaks_on_errors) {
    const double before = plm_heap_used();
    for (int i = 0; i < 50; i++) {
        plm_grammar *g = gr(i % 2 ? "root ::= x\nx ::= (\"a\" [b-c]{2,5} y)*\ny ::= \"" : "root ::= a\na ::= a \"x\"");
        CHECK(g == NULL);
    }
    CHECK(plm_heap_used() == before);
}

int main(void) {
    RUN(llama_cpp_integration);
    RUN(syntax);
    RUN(parse_errors);
    RUN(json_grammar);
    RUN(mask_gpt2);
    RUN(mask_spm_byte_fallback);
    RUN(limits);
    RUN(no_leaks_on_errors);
    return test_summary();
}
