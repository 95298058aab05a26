/* json.h — a small JSON reader for the C tests (fixture files).
 *   json_value *v = json_parse(text, len);   // NULL on syntax error
 *   json_get(v, "key"), v->arr[i], v->n, v->num, v->str (NUL-terminated, UTF-8), v->slen
 *   json_free(v)
 * Test-only code: simple and strict enough for the fixtures. */
#ifndef PLM_TEST_JSON_H
#define PLM_TEST_JSON_H
#include <stdlib.h>
#include <string.h>

enum { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

typedef struct json_value {
    int type;
    double num;               /* JSON_NUM, JSON_BOOL */
    char *str;                /* JSON_STR */
    size_t slen;
    struct json_value **arr;  /* JSON_ARR items, JSON_OBJ values */
    char **keys;              /* JSON_OBJ keys */
    size_t n;
} json_value;

typedef struct { const char *s; size_t i, n; } json_parser_;

static void json_ws_(json_parser_ *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\n' || p->s[p->i] == '\r' || p->s[p->i] == '\t')) p->i++;
}

static void json_put_utf8_(char *out, size_t *o, unsigned cp) {
    if (cp < 0x80) out[(*o)++] = (char)cp;
    else if (cp < 0x800) { out[(*o)++] = (char)(0xC0 | (cp >> 6)); out[(*o)++] = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { out[(*o)++] = (char)(0xE0 | (cp >> 12)); out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[(*o)++] = (char)(0x80 | (cp & 0x3F)); }
    else { out[(*o)++] = (char)(0xF0 | (cp >> 18)); out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F)); out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[(*o)++] = (char)(0x80 | (cp & 0x3F)); }
}

static unsigned json_hex4_(const char *s) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = s[k];
        v = v * 16 + (unsigned)(c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10);
    }
    return v;
}

static char *json_string_(json_parser_ *p, size_t *len) {
    if (p->s[p->i] != '"') return NULL;
    p->i++;
    size_t start = p->i, cap = 0;
    while (p->i < p->n && p->s[p->i] != '"') { if (p->s[p->i] == '\\') p->i++; p->i++; }
    if (p->i >= p->n) return NULL;
    cap = p->i - start + 1;
    char *out = malloc(cap + 4);
    size_t o = 0;
    for (size_t j = start; j < p->i; j++) {
        char c = p->s[j];
        if (c != '\\') { out[o++] = c; continue; }
        c = p->s[++j];
        switch (c) {
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'u': {
            unsigned cp = json_hex4_(p->s + j + 1);
            j += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p->s[j + 1] == '\\' && p->s[j + 2] == 'u') {
                unsigned lo = json_hex4_(p->s + j + 3);
                if (lo >= 0xDC00 && lo < 0xE000) { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00); j += 6; }
            }
            json_put_utf8_(out, &o, cp);
            break;
        }
        default: out[o++] = c;
        }
    }
    out[o] = 0;
    p->i++;
    if (len) *len = o;
    return out;
}

static void json_free(json_value *v);

static json_value *json_value_(json_parser_ *p) {
    json_ws_(p);
    if (p->i >= p->n) return NULL;
    json_value *v = calloc(1, sizeof *v);
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        int obj = c == '{';
        v->type = obj ? JSON_OBJ : JSON_ARR;
        p->i++;
        size_t cap = 0;
        json_ws_(p);
        if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) { p->i++; return v; }
        for (;;) {
            char *key = NULL;
            if (obj) {
                json_ws_(p);
                key = json_string_(p, NULL);
                if (!key) { json_free(v); return NULL; }
                json_ws_(p);
                if (p->s[p->i] != ':') { free(key); json_free(v); return NULL; }
                p->i++;
            }
            json_value *item = json_value_(p);
            if (!item) { free(key); json_free(v); return NULL; }
            if (v->n == cap) {
                cap = cap ? cap * 2 : 8;
                v->arr = realloc(v->arr, cap * sizeof *v->arr);
                if (obj) v->keys = realloc(v->keys, cap * sizeof *v->keys);
            }
            v->arr[v->n] = item;
            if (obj) v->keys[v->n] = key;
            v->n++;
            json_ws_(p);
            if (p->i < p->n && p->s[p->i] == ',') { p->i++; continue; }
            if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) { p->i++; return v; }
            json_free(v);
            return NULL;
        }
    }
    if (c == '"') {
        v->type = JSON_STR;
        v->str = json_string_(p, &v->slen);
        if (!v->str) { free(v); return NULL; }
        return v;
    }
    if (!strncmp(p->s + p->i, "true", 4)) { v->type = JSON_BOOL; v->num = 1; p->i += 4; return v; }
    if (!strncmp(p->s + p->i, "false", 5)) { v->type = JSON_BOOL; v->num = 0; p->i += 5; return v; }
    if (!strncmp(p->s + p->i, "null", 4)) { v->type = JSON_NULL; p->i += 4; return v; }
    if (!strncmp(p->s + p->i, "NaN", 3)) { v->type = JSON_NUM; v->num = NAN; p->i += 3; return v; }
    if (!strncmp(p->s + p->i, "Infinity", 8)) { v->type = JSON_NUM; v->num = INFINITY; p->i += 8; return v; }
    if (!strncmp(p->s + p->i, "-Infinity", 9)) { v->type = JSON_NUM; v->num = -INFINITY; p->i += 9; return v; }
    char *end = NULL;
    v->type = JSON_NUM;
    v->num = strtod(p->s + p->i, &end);
    if (end == p->s + p->i) { free(v); return NULL; }
    p->i = (size_t)(end - p->s);
    return v;
}

static json_value *json_parse(const char *s, size_t n) {
    json_parser_ p = {s, 0, n};
    return json_value_(&p);
}

static void json_free(json_value *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        json_free(v->arr[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->arr);
    free(v->keys);
    free(v->str);
    free(v);
}

static json_value *json_get(const json_value *v, const char *key) {
    if (!v || v->type != JSON_OBJ) return NULL;
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->keys[i], key)) return v->arr[i];
    return NULL;
}
#endif
