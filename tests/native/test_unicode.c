/* test_unicode.c — UTF-8 handling and the generated Unicode tables.
 * The checksums cover every code point and come from Python's unicodedata
 * (scripts/gen_unicode.py --checksums), so a table that differs from Python
 * in a single code point fails here. */
#include "test.h"
#include "unicode.h"

#include <stdint.h>
#include <string.h>

static uint32_t fnv_add(uint32_t h, uint32_t v) {
    for (int k = 0; k < 4; k++) {
        h ^= (v >> (8 * k)) & 0xFF;
        h *= 0x01000193u;
    }
    return h;
}

TEST(test_version) { CHECK(strcmp(uc_version(), "14.0.0") == 0); }

TEST(test_checksums_all_code_points) {
    uint32_t hc = 0x811C9DC5u, hl = 0x811C9DC5u, hn = 0x811C9DC5u, hk = 0x811C9DC5u;
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        hc = fnv_add(hc, (uint32_t)uc_category(cp));
        uint32_t lo[3];
        int nl = uc_lower(cp, lo);
        hl = fnv_add(hl, (uint32_t)nl);
        for (int i = 0; i < nl; i++) hl = fnv_add(hl, lo[i]);
        uint32_t d[4];
        int nd = uc_nfd(cp, d);
        uc_canonical_order(d, (size_t)nd);
        hn = fnv_add(hn, (uint32_t)nd);
        for (int i = 0; i < nd; i++) hn = fnv_add(hn, d[i]);
        hk = fnv_add(hk, (uint32_t)uc_ccc(cp));
    }
    /* values printed by: /usr/bin/python3 scripts/gen_unicode.py --checksums */
    CHECK_EQ_INT(hc, 0xb9756f27u);
    CHECK_EQ_INT(hl, 0x8e64b56bu);
    CHECK_EQ_INT(hn, 0x03606bc5u);
    CHECK_EQ_INT(hk, 0x9a61b072u);
}

TEST(test_categories) {
    CHECK_EQ_INT(uc_category('A'), UC_Lu);
    CHECK_EQ_INT(uc_category('a'), UC_Ll);
    CHECK_EQ_INT(uc_category('5'), UC_Nd);
    CHECK_EQ_INT(uc_category(' '), UC_Zs);
    CHECK_EQ_INT(uc_category('\n'), UC_Cc);
    CHECK_EQ_INT(uc_category(0x4E2D), UC_Lo);   /* 中 */
    CHECK_EQ_INT(uc_category(0x0301), UC_Mn);   /* combining acute */
    CHECK_EQ_INT(uc_category(0x00B2), UC_No);   /* superscript two */
    CHECK_EQ_INT(uc_category(0x2163), UC_Nl);   /* roman numeral four */
    CHECK_EQ_INT(uc_category(0x1F600), UC_So);  /* emoji */
    CHECK_EQ_INT(uc_category(0x200D), UC_Cf);   /* ZWJ */
    CHECK_EQ_INT(uc_category(0xD800), UC_Cs);
    CHECK_EQ_INT(uc_category(0xE000), UC_Co);
    CHECK_EQ_INT(uc_category(0x0378), UC_Cn);
    CHECK_EQ_INT(uc_category(0x10FFFF), UC_Cn);
    CHECK_EQ_INT(uc_category(0x110000), UC_Cn);
    CHECK(uc_is_letter(0x00E9) && uc_is_letter(0x05D0) && !uc_is_letter('1'));
    CHECK(uc_is_number(0x0663) && uc_is_number(0x00BD) && !uc_is_number('x'));
    CHECK(uc_is_punct('!') && uc_is_punct(0x3002) && !uc_is_punct('$'));
}

TEST(test_spaces) {
    const uint32_t ws[] = {9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, 0x2000, 0x200A,
                           0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) CHECK(uc_is_space(ws[i]));
    CHECK(!uc_is_space(0x1C) && uc_is_pyspace(0x1C) && uc_is_pyspace(0x1F));
    CHECK(!uc_is_space(0x200B) && !uc_is_space(0x180E) && !uc_is_space(0xFEFF));
    CHECK(!uc_is_space('a') && !uc_is_space(0));
}

TEST(test_cjk) {
    CHECK(uc_is_cjk(0x4E00) && uc_is_cjk(0x9FFF) && uc_is_cjk(0x3400) && uc_is_cjk(0x20000));
    CHECK(uc_is_cjk(0xF900) && uc_is_cjk(0x2F800) && uc_is_cjk(0x2B820));
    CHECK(!uc_is_cjk(0x3042) && !uc_is_cjk(0xAC00) && !uc_is_cjk(0x30A2)); /* kana, hangul */
}

TEST(test_lower) {
    uint32_t o[3];
    CHECK(uc_lower('A', o) == 1 && o[0] == 'a');
    CHECK(uc_lower(0x00C9, o) == 1 && o[0] == 0x00E9);
    CHECK(uc_lower(0x0130, o) == 2 && o[0] == 'i' && o[1] == 0x0307); /* İ */
    CHECK(uc_lower(0x0100, o) == 1 && o[0] == 0x0101);  /* stride-2 run */
    CHECK(uc_lower(0x0101, o) == 1 && o[0] == 0x0101);
    CHECK(uc_lower(0x2126, o) == 1 && o[0] == 0x03C9);  /* Ohm sign */
    CHECK(uc_lower(0x1E9E, o) == 1 && o[0] == 0x00DF);  /* capital sharp s */
    CHECK(uc_lower(0x10400, o) == 1 && o[0] == 0x10428); /* Deseret */
    CHECK(uc_lower(0x03A3, o) == 1 && o[0] == 0x03C3);
}

static void lower_str(const uint32_t *in, size_t n, uint32_t *out, size_t *no) {
    *no = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t t[3];
        int k = uc_lower_at(in, n, i, t);
        for (int j = 0; j < k; j++) out[(*no)++] = t[j];
    }
}

TEST(test_final_sigma) {
    /* expected values from Python str.lower() */
    struct { uint32_t in[6]; size_t n; uint32_t out[6]; } cases[] = {
        {{0x39F, 0x394, 0x39F, 0x3A3}, 4, {0x3BF, 0x3B4, 0x3BF, 0x3C2}},
        {{0x3A3, 0x391}, 2, {0x3C3, 0x3B1}},
        {{0x3A3}, 1, {0x3C3}},
        {{'A', 0x3A3, '.'}, 3, {'a', 0x3C2, '.'}},
        {{'A', 0x3A3, '.', 'b'}, 4, {'a', 0x3C3, '.', 'b'}},
        {{'A', 0x3A3, '\''}, 3, {'a', 0x3C2, '\''}},
        {{'A', 0x345, 0x3A3}, 3, {'a', 0x345, 0x3C2}},
        {{0x391, 0x3A3, ' ', 0x391, 0x3A3}, 5, {0x3B1, 0x3C2, ' ', 0x3B1, 0x3C2}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint32_t out[18];
        size_t n;
        lower_str(cases[c].in, cases[c].n, out, &n);
        CHECK_EQ_INT(n, cases[c].n);
        CHECK_MSG(memcmp(out, cases[c].out, n * 4) == 0, "final sigma case %zu", c);
    }
}

TEST(test_nfd) {
    uint32_t d[4];
    CHECK(uc_nfd(0x00E9, d) == 2 && d[0] == 'e' && d[1] == 0x0301);
    CHECK(uc_nfd('e', d) == 1 && d[0] == 'e');
    CHECK(uc_nfd(0xAC00, d) == 2 && d[0] == 0x1100 && d[1] == 0x1161);           /* 가 */
    CHECK(uc_nfd(0xD55C, d) == 3 && d[0] == 0x1112 && d[1] == 0x1161 && d[2] == 0x11AB); /* 한 */
    CHECK(uc_nfd(0x1E69, d) == 3 && d[0] == 's' && d[1] == 0x0323 && d[2] == 0x0307);
    CHECK(uc_nfd(0x1F82, d) == 4); /* ᾂ: α + ̓ + ̀ + ͅ */
    CHECK(uc_nfd(0x212B, d) == 2 && d[0] == 'A' && d[1] == 0x030A);               /* Angstrom */
    CHECK_EQ_INT(uc_ccc(0x0301), 230);
    CHECK_EQ_INT(uc_ccc(0x0323), 220);
    CHECK_EQ_INT(uc_ccc('a'), 0);
    uint32_t s[] = {'a', 0x0301, 0x0323, 'b'};
    uc_canonical_order(s, 4);
    CHECK(s[1] == 0x0323 && s[2] == 0x0301 && s[0] == 'a' && s[3] == 'b');
}

static int decode_all(const char *s, size_t n, uint32_t *cps, int *lens) {
    size_t pos = 0;
    int k = 0, l;
    uint32_t cp;
    while ((l = uc_next(s, n, &pos, &cp)) > 0) {
        cps[k] = cp;
        lens[k++] = l;
    }
    return k;
}

TEST(test_utf8_decode) {
    uint32_t cps[16];
    int lens[16];
    const char *s = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
    CHECK_EQ_INT(decode_all(s, strlen(s), cps, lens), 4);
    CHECK(cps[0] == 'a' && cps[1] == 0xE9 && cps[2] == 0x4E2D && cps[3] == 0x1F600);
    CHECK(lens[0] == 1 && lens[1] == 2 && lens[2] == 3 && lens[3] == 4);
    /* invalid: lone continuation, overlong, surrogate, > U+10FFFF, truncated */
    const char *bad = "\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82";
    int n = decode_all(bad, strlen(bad), cps, lens);
    CHECK_EQ_INT(n, 12);
    for (int i = 0; i < n; i++) CHECK(cps[i] == 0xFFFD && lens[i] == 1);
    /* a real U+FFFD is 3 bytes */
    CHECK(decode_all("\xef\xbf\xbd", 3, cps, lens) == 1 && cps[0] == 0xFFFD && lens[0] == 3);
    size_t pos = 0;
    uint32_t cp;
    CHECK_EQ_INT(uc_next("", 0, &pos, &cp), 0);
    CHECK_EQ_INT(uc_seq_len(0x41), 1);
    CHECK_EQ_INT(uc_seq_len(0xC3), 2);
    CHECK_EQ_INT(uc_seq_len(0xE4), 3);
    CHECK_EQ_INT(uc_seq_len(0xF0), 4);
    CHECK_EQ_INT(uc_seq_len(0x80), 1);
    CHECK_EQ_INT(uc_seq_len(0xFF), 1);
}

TEST(test_utf8_encode) {
    char b[4];
    const uint32_t cps[] = {0, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF};
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        int n = uc_put(cps[i], b);
        size_t pos = 0;
        uint32_t cp;
        CHECK(uc_next(b, (size_t)n, &pos, &cp) == n && cp == cps[i] && pos == (size_t)n);
    }
    CHECK(uc_put(0xD800, b) == 3 && memcmp(b, "\xef\xbf\xbd", 3) == 0);
    CHECK(uc_put(0x110000, b) == 3 && memcmp(b, "\xef\xbf\xbd", 3) == 0);
}

TEST(test_incomplete_tail) {
    CHECK_EQ_INT(uc_incomplete_tail("abc", 3), 0);
    CHECK_EQ_INT(uc_incomplete_tail("a\xc3", 2), 1);
    CHECK_EQ_INT(uc_incomplete_tail("a\xe4\xb8", 3), 2);
    CHECK_EQ_INT(uc_incomplete_tail("\xf0\x9f\x98", 3), 3);
    CHECK_EQ_INT(uc_incomplete_tail("\xf0\x9f\x98\x80", 4), 0);
    CHECK_EQ_INT(uc_incomplete_tail("\xc3\xa9", 2), 0);
    CHECK_EQ_INT(uc_incomplete_tail("\x80", 1), 0);     /* stray continuation: never completes */
    CHECK_EQ_INT(uc_incomplete_tail("\xed\xa0", 2), 0); /* surrogate prefix: never valid */
    CHECK_EQ_INT(uc_incomplete_tail("", 0), 0);
}

TEST(test_sanitize) {
    /* expected: Python bytes.decode("utf-8", errors="replace") */
    struct { const char *in; const char *out; } c[] = {
        {"\xe2\x82", "\xef\xbf\xbd"},
        {"\xe2\x82" "A", "\xef\xbf\xbd" "A"},
        {"\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xe0\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98", "\xef\xbf\xbd"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"a\xff" "b", "a\xef\xbf\xbd" "b"},
        {"plain", "plain"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char out[64];
        size_t n = uc_sanitize(c[i].in, strlen(c[i].in), out);
        CHECK_MSG(n == strlen(c[i].out) && memcmp(out, c[i].out, n) == 0, "sanitize case %zu", i);
    }
}

TEST(test_sanitize_bytewise) {
    struct { const char *in; const char *out; } c[] = {
        {"\xe2\x82" "A", "\xef\xbf\xbd\xef\xbf\xbd" "A"},
        {"\xf0\x9f\x98", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xe2\x82\xac\xff", "\xe2\x82\xac\xef\xbf\xbd"},
        {"ok", "ok"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char out[64];
        size_t n = uc_sanitize_bytewise(c[i].in, strlen(c[i].in), out);
        CHECK_MSG(n == strlen(c[i].out) && memcmp(out, c[i].out, n) == 0, "bytewise case %zu", i);
    }
}

int main(void) {
    RUN(test_version);
    RUN(test_checksums_all_code_points);
    RUN(test_categories);
    RUN(test_spaces);
    RUN(test_cjk);
    RUN(test_lower);
    RUN(test_final_sigma);
    RUN(test_nfd);
    RUN(test_utf8_decode);
    RUN(test_utf8_encode);
    RUN(test_incomplete_tail);
    RUN(test_sanitize);
    RUN(test_sanitize_bytewise);
    return test_summary();
}
