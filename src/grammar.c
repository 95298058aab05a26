/* grammar.c — GBNF grammars and grammar-constrained sampling (plm_grammar_*,
 * plm_token_index_*, plm_matcher_* in plm.h).
 *
 * 1. Parser. llama.cpp's GBNF: `name ::= alternatives` rules; sequences of
 *    "literals" (escapes \x.. \u.... \U........ \t \n \r \\ \" \[ \]),
 *    [character classes] with ranges and ^negation, `.` (any character),
 *    rule names, (groups), postfix * + ? {m} {m,} {m,n}; # comments; newlines
 *    end a rule except inside groups and after `::=` or `|`. Repetitions are
 *    rewritten into helper rules (x{2,4} = x x x_opt, x_opt ::= x x_opt2 | ...;
 *    x* = x_rep, x_rep ::= x x_rep | ). Errors give the line and column.
 *    The start symbol is `root`; undefined rules and left recursion (also
 *    through empty-matching rules) are errors, as in llama.cpp.
 *
 * 2. Matching. A pushdown automaton over Unicode code points, with the
 *    semantics of llama.cpp's llama-grammar.cpp: the state is a set of stacks
 *    whose tops are character elements; a code point keeps the stacks whose
 *    top matches it, advanced past that element and expanded (rule references
 *    replaced by each alternative) until their tops are characters again. An
 *    empty stack means the text so far is complete. Bytes are decoded as UTF-8
 *    (strictly: no overlong forms, surrogates or stray continuation bytes); a
 *    partial character is kept and pruned against the ranges it could still
 *    become.
 *
 *    Stacks are persistent linked lists with hash-consing (node = (element,
 *    parent), one node per distinct pair), sets of stacks are interned, and the
 *    transition (set, code point) -> set is memoised: a state is an integer and
 *    a step is usually one hash lookup. Tables grow with the distinct states a
 *    generation visits and are rebuilt from the current state when they get big.
 *
 * 3. Token masking. The vocabulary's token byte strings form a trie (built
 *    once per model: plm_token_index). To mask, the trie is walked from the
 *    current state; a subtree whose state dies is skipped, and a subtree whose
 *    bytes all take the same uniform steps (e.g. any character but `"` and `\`
 *    inside a JSON string loops back to the same state; [^\n]{0,400} advances a
 *    counter) is accepted without walking it: each trie node keeps the set of
 *    bytes below it, its deepest token suffix, and whether every token suffix
 *    below it is well-formed UTF-8 on its own. End-of-generation tokens are allowed only
 *    when the grammar is complete (an empty stack, no partial character);
 *    control, unknown and unused tokens and tokens without text never.
 */
#include "grammar.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "model.h"
#include "tokenizer.h"

/* ============================================================ elements */
enum {
    E_END = 0,   /* end of rule */
    E_ALT,       /* start of the next alternative */
    E_RULE_REF,  /* value = rule id */
    E_CHAR,      /* a set of code points starts: value or range start */
    E_CHAR_NOT,  /* negated set starts */
    E_RNG_UPPER, /* value = end (inclusive) of the range started by the previous element */
    E_CHAR_ALT,  /* one more code point / range start in the set */
    E_CHAR_ANY   /* any code point */
};

typedef struct {
    uint32_t type;
    uint32_t value;
} elem;

#define MAX_CP 0x10FFFFu
#define MAX_RULES 100000
#define MAX_ELEMS 4000000
#define MAX_REPEAT 10000
/* recursion limits (the wasm stack is 1 MB): group nesting when parsing, rule
 * references followed without consuming a character when checking / expanding */
#define MAX_NESTING 1000
#define MAX_DEPTH 4000

struct plm_grammar {
    int refs;
    elem *el;       /* every rule's elements, one after another */
    int n_el, cap_el;
    int *rule_at;   /* start of each rule in el (-1: referenced, not defined yet) */
    char **names;   /* rule names (generated ones too) */
    int n_rules, cap_rules;
    int root;
};

/* ============================================================ parser */
typedef struct {
    const char *src, *end, *at; /* at: where the error was found */
    plm_grammar *g;
    int err;
    char msg[200];
    int nesting; /* open groups */
} parser;

static int g_err_line, g_err_col;

PLM_API int plm_grammar_error_line(void) { return g_err_line; }
PLM_API int plm_grammar_error_column(void) { return g_err_col; }

typedef struct {
    elem *e;
    int n, cap;
} ebuf;

static int eb_push(parser *p, ebuf *b, uint32_t type, uint32_t value) {
    if (p->err) return p->err;
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 16;
        if (cap > MAX_ELEMS) {
            p->err = plm_fail(PLM_E_TOO_LONG, "grammar: too many elements (more than %d)", MAX_ELEMS);
            return p->err;
        }
        elem *e = plm_realloc_for(b->e, (size_t)cap * sizeof *e, "grammar elements");
        if (!e) return p->err = PLM_E_NOMEM;
        b->e = e;
        b->cap = cap;
    }
    b->e[b->n].type = type;
    b->e[b->n].value = value;
    b->n++;
    return PLM_OK;
}

static int perr(parser *p, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, const char *at, const char *fmt, ...) {
    if (p->err) return p->err;
    int line = 1, col = 1;
    for (const char *s = p->src; s < at && s < p->end; s++) {
        if (*s == '\n') line++, col = 1;
        else if (((unsigned char)*s & 0xC0) != 0x80) col++;
    }
    char m[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    g_err_line = line;
    g_err_col = col;
    p->err = plm_fail(PLM_E_FORMAT, "grammar parse error at line %d, column %d: %s", line, col, m);
    return p->err;
}

/* rule id for a name (created undefined if new) */
static int rule_id(parser *p, const char *name, size_t len, int create_fresh) {
    plm_grammar *g = p->g;
    if (!create_fresh)
        for (int i = 0; i < g->n_rules; i++)
            if (strlen(g->names[i]) == len && memcmp(g->names[i], name, len) == 0) return i;
    if (g->n_rules >= MAX_RULES) {
        p->err = plm_fail(PLM_E_TOO_LONG, "grammar: too many rules (more than %d)", MAX_RULES);
        return -1;
    }
    if (g->n_rules == g->cap_rules) {
        int cap = g->cap_rules ? 2 * g->cap_rules : 32;
        int *at = plm_realloc_for(g->rule_at, (size_t)cap * sizeof *at, "grammar rules");
        if (!at) return p->err = PLM_E_NOMEM, -1;
        g->rule_at = at;
        char **nm = plm_realloc_for(g->names, (size_t)cap * sizeof *nm, "grammar rule names");
        if (!nm) return p->err = PLM_E_NOMEM, -1;
        g->names = nm;
        g->cap_rules = cap;
    }
    char *s = plm_malloc_for(len + 1, "grammar rule name");
    if (!s) return p->err = PLM_E_NOMEM, -1;
    memcpy(s, name, len);
    s[len] = 0;
    g->names[g->n_rules] = s;
    g->rule_at[g->n_rules] = -1;
    return g->n_rules++;
}

/* a generated rule named base_N */
static int fresh_rule(parser *p, int base) {
    char name[96];
    snprintf(name, sizeof name, "%.60s_%d", base >= 0 ? p->g->names[base] : "g", p->g->n_rules);
    return rule_id(p, name, strlen(name), 1);
}

static int define_rule(parser *p, int id, const ebuf *body, const char *at) {
    plm_grammar *g = p->g;
    if (p->err) return p->err;
    if (g->rule_at[id] >= 0) return perr(p, at, "rule '%s' is defined twice", g->names[id]);
    ebuf all = {g->el, g->n_el, g->cap_el};
    int start = all.n;
    for (int i = 0; i < body->n && !p->err; i++) eb_push(p, &all, body->e[i].type, body->e[i].value);
    eb_push(p, &all, E_END, 0);
    g->el = all.e;
    g->n_el = all.n;
    g->cap_el = all.cap;
    if (p->err) return p->err;
    g->rule_at[id] = start;
    return PLM_OK;
}

static int is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static const char *skip_space(parser *p, const char *s, int newline_ok) {
    while (s < p->end) {
        char c = *s;
        if (c == ' ' || c == '\t' || c == '#' || (newline_ok && (c == '\r' || c == '\n'))) {
            if (c == '#')
                while (s < p->end && *s != '\r' && *s != '\n') s++;
            else
                s++;
        } else
            break;
    }
    return s;
}

static const char *parse_name(parser *p, const char *s) {
    const char *b = s;
    while (s < p->end && is_word(*s)) s++;
    if (s == b) perr(p, b, "expecting name");
    return s;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* one code point of a literal or class (UTF-8 decoded, escapes resolved) */
static const char *parse_char(parser *p, const char *s, uint32_t *cp) {
    if (s >= p->end) {
        perr(p, s, "unexpected end of input");
        return s;
    }
    if (*s == '\\') {
        if (s + 1 >= p->end) {
            perr(p, s, "unexpected end of input after '\\'");
            return s + 1;
        }
        char c = s[1];
        int nhex = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
        if (nhex) {
            uint32_t v = 0;
            const char *q = s + 2;
            for (int i = 0; i < nhex; i++, q++) {
                int h = q < p->end ? hexval(*q) : -1;
                if (h < 0) {
                    perr(p, s, "expecting %d hex digits after '\\%c'", nhex, c);
                    return q;
                }
                v = v * 16 + (uint32_t)h;
            }
            if (v > MAX_CP) {
                perr(p, s, "code point U+%X is out of range", (unsigned)v);
                return q;
            }
            *cp = v;
            return q;
        }
        switch (c) {
        case '"': case '[': case ']': case '\\': *cp = (uint32_t)c; return s + 2;
        case 'r': *cp = '\r'; return s + 2;
        case 'n': *cp = '\n'; return s + 2;
        case 't': *cp = '\t'; return s + 2;
        default: perr(p, s, "unknown escape '\\%c'", c); return s + 2;
        }
    }
    const unsigned char b = (unsigned char)*s;
    int n = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
    if (!n || s + n > p->end) {
        perr(p, s, "invalid UTF-8 in the grammar");
        return s + 1;
    }
    uint32_t v = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (int i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80) {
            perr(p, s, "invalid UTF-8 in the grammar");
            return s + 1;
        }
        v = (v << 6) | (c & 0x3F);
    }
    *cp = v;
    return s + n;
}

static const char *parse_alternates(parser *p, const char *s, int rule, ebuf *out, int nested);

/* Repeat out[from..] (one item) between min and max times (max < 0: unbounded). */
static void repeat_item(parser *p, ebuf *out, int from, int min, int max, int rule, const char *at) {
    if (p->err) return;
    if (from == out->n) {
        perr(p, at, "expecting preceding item to */+/?/{");
        return;
    }
    if (min > MAX_REPEAT || max > MAX_REPEAT) {
        perr(p, at, "repetition count over %d", MAX_REPEAT);
        return;
    }
    int n = out->n - from;
    elem *item = plm_malloc_for((size_t)n * sizeof *item, "grammar repetition");
    if (!item) {
        p->err = PLM_E_NOMEM;
        return;
    }
    memcpy(item, out->e + from, (size_t)n * sizeof *item);
    out->n = from;
    for (int i = 0; i < min && !p->err; i++)
        for (int k = 0; k < n; k++) eb_push(p, out, item[k].type, item[k].value);
    ebuf body = {0};
    if (max < 0) { /* rep ::= item rep | */
        int r = fresh_rule(p, rule);
        if (r >= 0) {
            for (int k = 0; k < n; k++) eb_push(p, &body, item[k].type, item[k].value);
            eb_push(p, &body, E_RULE_REF, (uint32_t)r);
            eb_push(p, &body, E_ALT, 0);
            define_rule(p, r, &body, at);
            eb_push(p, out, E_RULE_REF, (uint32_t)r);
        }
    } else if (max > min) { /* opt_1 ::= item opt_2 | ;  ... opt_k ::= item | */
        int k = max - min, next = -1;
        for (int i = k; i >= 1 && !p->err; i--) {
            int r = fresh_rule(p, rule);
            if (r < 0) break;
            body.n = 0;
            for (int j = 0; j < n; j++) eb_push(p, &body, item[j].type, item[j].value);
            if (next >= 0) eb_push(p, &body, E_RULE_REF, (uint32_t)next);
            eb_push(p, &body, E_ALT, 0);
            define_rule(p, r, &body, at);
            next = r;
        }
        if (next >= 0) eb_push(p, out, E_RULE_REF, (uint32_t)next);
    }
    free(body.e);
    free(item);
}

static const char *parse_int(parser *p, const char *s, int *v) {
    const char *b = s;
    long x = 0;
    while (s < p->end && *s >= '0' && *s <= '9') {
        x = x * 10 + (*s - '0');
        if (x > 1000000) x = 1000000;
        s++;
    }
    if (s == b) perr(p, b, "expecting integer");
    *v = (int)x;
    return s;
}

static const char *parse_sequence(parser *p, const char *s, int rule, ebuf *out, int nested) {
    int last = out->n; /* start of the last item (for repetitions) */
    int have_last = 0;
    while (s < p->end && !p->err) {
        const char c = *s;
        if (c == '"') { /* literal */
            s++;
            last = out->n;
            have_last = 1;
            while (s < p->end && *s != '"' && !p->err) {
                uint32_t cp = 0;
                s = parse_char(p, s, &cp);
                eb_push(p, out, E_CHAR, cp);
            }
            if (s >= p->end) return perr(p, s, "unexpected end of input (unterminated literal)"), s;
            s = skip_space(p, s + 1, nested);
        } else if (c == '[') { /* class */
            const char *open = s;
            s++;
            uint32_t start = E_CHAR;
            if (s < p->end && *s == '^') s++, start = E_CHAR_NOT;
            last = out->n;
            have_last = 1;
            while (s < p->end && *s != ']' && !p->err) {
                uint32_t cp = 0;
                s = parse_char(p, s, &cp);
                eb_push(p, out, out->n == last ? start : E_CHAR_ALT, cp);
                if (s + 1 < p->end && *s == '-' && s[1] != ']') {
                    uint32_t hi = 0;
                    const char *at = s + 1;
                    s = parse_char(p, s + 1, &hi);
                    if (!p->err && hi < cp) return perr(p, at, "character range is out of order"), s;
                    eb_push(p, out, E_RNG_UPPER, hi);
                }
            }
            if (s >= p->end) return perr(p, open, "unexpected end of input (unterminated character class)"), s;
            if (out->n == last && !p->err) { /* [] matches nothing, [^] anything */
                if (start == E_CHAR_NOT) eb_push(p, out, E_CHAR_ANY, 0);
                else return perr(p, open, "empty character class"), s;
            }
            s = skip_space(p, s + 1, nested);
        } else if (is_word(c)) { /* rule reference */
            const char *e = parse_name(p, s);
            int id = rule_id(p, s, (size_t)(e - s), 0);
            if (id < 0) return e;
            last = out->n;
            have_last = 1;
            eb_push(p, out, E_RULE_REF, (uint32_t)id);
            s = skip_space(p, e, nested);
        } else if (c == '(') { /* group -> helper rule */
            int sub = fresh_rule(p, rule);
            if (sub < 0) return s;
            ebuf body = {0};
            const char *open = s;
            if (++p->nesting > MAX_NESTING) {
                free(body.e);
                return perr(p, open, "groups nested more than %d deep", MAX_NESTING), s;
            }
            s = skip_space(p, s + 1, 1);
            s = parse_alternates(p, s, rule, &body, 1);
            p->nesting--;
            if (!p->err && (s >= p->end || *s != ')')) perr(p, open, "expecting ')'");
            if (!p->err) define_rule(p, sub, &body, open);
            free(body.e);
            if (p->err) return s;
            last = out->n;
            have_last = 1;
            eb_push(p, out, E_RULE_REF, (uint32_t)sub);
            s = skip_space(p, s + 1, nested);
        } else if (c == '.') {
            last = out->n;
            have_last = 1;
            eb_push(p, out, E_CHAR_ANY, 0);
            s = skip_space(p, s + 1, nested);
        } else if (c == '*' || c == '+' || c == '?') {
            if (!have_last) return perr(p, s, "expecting preceding item to */+/?/{"), s;
            repeat_item(p, out, last, c == '+' ? 1 : 0, c == '?' ? 1 : -1, rule, s);
            have_last = 0;
            s = skip_space(p, s + 1, nested);
        } else if (c == '{') {
            if (!have_last) return perr(p, s, "expecting preceding item to */+/?/{"), s;
            const char *open = s;
            int min = 0, max = -1;
            s = skip_space(p, s + 1, nested);
            s = parse_int(p, s, &min);
            s = skip_space(p, s, nested);
            if (s < p->end && *s == ',') {
                s = skip_space(p, s + 1, nested);
                if (s < p->end && *s >= '0' && *s <= '9') {
                    s = parse_int(p, s, &max);
                    s = skip_space(p, s, nested);
                }
            } else
                max = min;
            if (p->err) return s;
            if (s >= p->end || *s != '}') return perr(p, open, "expecting ',' or '}'"), s;
            if (max >= 0 && max < min) return perr(p, open, "repetition {%d,%d}: max is below min", min, max), s;
            repeat_item(p, out, last, min, max, rule, open);
            have_last = 0;
            s = skip_space(p, s + 1, nested);
        } else
            break;
    }
    return s;
}

static const char *parse_alternates(parser *p, const char *s, int rule, ebuf *out, int nested) {
    s = parse_sequence(p, s, rule, out, nested);
    while (!p->err && s < p->end && *s == '|') {
        eb_push(p, out, E_ALT, 0);
        s = skip_space(p, s + 1, 1);
        s = parse_sequence(p, s, rule, out, nested);
    }
    return s;
}

/* ---- checks after parsing: undefined rules, left recursion.
 * As llama.cpp: a rule "may be empty" when one of its alternatives has no
 * elements, and a rule is left-recursive when it can reach itself through the
 * first element of an alternative (or the next one, after rules that may be empty). */
static void rules_may_be_empty(const plm_grammar *g, uint8_t *state) {
    for (int r = 0; r < g->n_rules; r++) {
        const elem *e = g->el + g->rule_at[r];
        int at_start = 1;
        for (;; e++) {
            if (e->type == E_END || e->type == E_ALT) {
                if (at_start) state[r] = 2;
                if (e->type == E_END) break;
                at_start = 1;
            } else
                at_start = 0;
        }
        if (state[r] != 2) state[r] = 3;
    }
}

/* DFS over "rule r can start with rule s" edges (through nullable prefixes) */
static int left_rec(const plm_grammar *g, int r, uint8_t *visit, const uint8_t *null_state, int depth) {
    if (depth > MAX_DEPTH) return -1;
    if (visit[r] == 1) return r + 1;
    if (visit[r] == 2) return 0;
    visit[r] = 1;
    const elem *e = g->el + g->rule_at[r];
    int at_start = 1;
    for (;; e++) {
        if (e->type == E_END) break;
        if (e->type == E_ALT) {
            at_start = 1;
            continue;
        }
        if (!at_start) continue;
        if (e->type == E_RULE_REF) {
            int bad = left_rec(g, (int)e->value, visit, null_state, depth + 1);
            if (bad) return bad;
            at_start = null_state[e->value] == 2;
        } else if (e->type == E_CHAR || e->type == E_CHAR_NOT || e->type == E_CHAR_ANY)
            at_start = 0;
    }
    visit[r] = 2;
    return 0;
}

static void grammar_destroy(plm_grammar *g) {
    if (!g) return;
    for (int i = 0; i < g->n_rules; i++) free(g->names[i]);
    free(g->names);
    free(g->rule_at);
    free(g->el);
    free(g);
}

PLM_API plm_grammar *plm_grammar_new(const char *src, int len) {
    g_err_line = g_err_col = 0;
    if (len < 0 || (len > 0 && !src)) return plm_fail(PLM_E_INVALID, "plm_grammar_new: bad source"), NULL;
    plm_grammar *g = plm_calloc_for(1, sizeof *g, "grammar");
    if (!g) return NULL;
    g->refs = 1;
    parser P = {src, src + len, src, g, 0, {0}, 0}, *p = &P;
    const char *s = skip_space(p, src, 1);
    ebuf body = {0};
    while (s < p->end && !p->err) {
        const char *nb = s;
        const char *ne = parse_name(p, s);
        if (p->err) break;
        int id = rule_id(p, nb, (size_t)(ne - nb), 0);
        if (id < 0) break;
        s = skip_space(p, ne, 0);
        if (!(s + 2 < p->end && s[0] == ':' && s[1] == ':' && s[2] == '=')) {
            perr(p, s, "expecting ::=");
            break;
        }
        s = skip_space(p, s + 3, 1);
        body.n = 0;
        s = parse_alternates(p, s, id, &body, 0);
        if (p->err) break;
        if (s < p->end && *s == '\r') s += (s + 1 < p->end && s[1] == '\n') ? 2 : 1;
        else if (s < p->end && *s == '\n') s++;
        else if (s < p->end) {
            perr(p, s, "expecting newline or end");
            break;
        }
        if (g->rule_at[id] >= 0) {
            perr(p, nb, "rule '%s' is defined twice", g->names[id]);
            break;
        }
        define_rule(p, id, &body, nb);
        s = skip_space(p, s, 1);
    }
    free(body.e);
    if (!p->err) {
        /* undefined rules: report where first used */
        for (int i = 0; i < g->n_rules && !p->err; i++)
            if (g->rule_at[i] < 0) {
                const char *at = src;
                size_t nl = strlen(g->names[i]);
                for (const char *q = src; q + nl <= p->end; q++)
                    if (memcmp(q, g->names[i], nl) == 0 && (q == src || !is_word(q[-1])) &&
                        (q + nl == p->end || !is_word(q[nl]))) {
                        at = q;
                        break;
                    }
                perr(p, at, "undefined rule identifier '%s'", g->names[i]);
            }
    }
    if (!p->err) {
        g->root = -1;
        for (int i = 0; i < g->n_rules; i++)
            if (strcmp(g->names[i], "root") == 0) g->root = i;
        if (g->root < 0) perr(p, p->end, "the grammar has no 'root' rule");
    }
    if (!p->err) {
        uint8_t *ns = plm_calloc_for((size_t)g->n_rules, 2, "grammar check");
        if (!ns) p->err = PLM_E_NOMEM;
        else {
            rules_may_be_empty(g, ns);
            uint8_t *visit = ns + g->n_rules;
            for (int i = 0; i < g->n_rules && !p->err; i++) {
                int bad = left_rec(g, i, visit, ns, 0);
                if (bad < 0) {
                    g_err_line = g_err_col = 0;
                    p->err = plm_fail(PLM_E_TOO_LONG, "grammar: rules nested more than %d deep at the start of a rule",
                                      MAX_DEPTH);
                } else if (bad) {
                    g_err_line = g_err_col = 0;
                    p->err = plm_fail(PLM_E_FORMAT, "grammar: unsupported left recursion through rule '%s'",
                                      g->names[bad - 1]);
                }
            }
            free(ns);
        }
    }
    if (p->err) {
        grammar_destroy(g);
        return NULL;
    }
    return g;
}

PLM_API void plm_grammar_free(plm_grammar *g) {
    if (g && --g->refs == 0) grammar_destroy(g);
}

/* ============================================================ automaton */
/* Hash-consed stack nodes and interned stack sets. Node 0 = the empty stack. */
typedef struct {
    uint32_t el;     /* element index (a character element) */
    uint32_t parent; /* node below; 0 = bottom */
} snode;

typedef struct {
    uint32_t off, n; /* stacks (node ids) in set_items[off .. off+n), sorted */
    /* uniform step: every character of a class leads to the same next set (e.g.
     * [^"\\] inside a JSON string: next = this set; x{0,400}: the set one further) */
    uint8_t uni_known, uni_nonascii; /* uni_nonascii: every non-ASCII code point too */
    uint64_t uni[2];                 /* ASCII bytes b with trans(set, b) == uni_next */
    uint32_t uni_next;
} sset;

typedef struct {
    uint64_t *keys; /* 0 = free */
    uint32_t *vals;
    size_t cap, n;
} hmap;

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int hm_grow(hmap *h) {
    size_t cap = h->cap ? 2 * h->cap : 1024;
    uint64_t *k = plm_calloc_for(cap, sizeof *k, "grammar hash table");
    uint32_t *v = k ? plm_malloc_for(cap * sizeof *v, "grammar hash table") : NULL;
    if (!v) {
        free(k);
        return PLM_E_NOMEM;
    }
    for (size_t i = 0; i < h->cap; i++)
        if (h->keys[i]) {
            size_t j = mix64(h->keys[i]) & (cap - 1);
            while (k[j]) j = (j + 1) & (cap - 1);
            k[j] = h->keys[i];
            v[j] = h->vals[i];
        }
    free(h->keys);
    free(h->vals);
    h->keys = k;
    h->vals = v;
    h->cap = cap;
    return PLM_OK;
}

/* slot of key (key != 0): found (returns 1) or free slot */
static int hm_find(const hmap *h, uint64_t key, size_t *slot) {
    size_t j = mix64(key) & (h->cap - 1);
    while (h->keys[j]) {
        if (h->keys[j] == key) {
            *slot = j;
            return 1;
        }
        j = (j + 1) & (h->cap - 1);
    }
    *slot = j;
    return 0;
}

static void hm_free(hmap *h) {
    free(h->keys);
    free(h->vals);
    memset(h, 0, sizeof *h);
}

typedef struct {
    const plm_grammar *g;
    snode *nodes;
    uint32_t n_nodes, cap_nodes;
    sset *sets;
    uint32_t n_sets, cap_sets;
    uint32_t *items;
    uint32_t n_items, cap_items;
    hmap node_map, set_map, trans;
    hmap seen;      /* (element, parent) pairs expanded in the current step: value = stamp */
    uint32_t stamp;
    /* scratch for building a set */
    uint32_t *tmp;
    uint32_t n_tmp, cap_tmp;
    int err;
} automaton;

static void am_free(automaton *a) {
    free(a->nodes);
    free(a->sets);
    free(a->items);
    free(a->tmp);
    hm_free(&a->node_map);
    hm_free(&a->set_map);
    hm_free(&a->trans);
    hm_free(&a->seen);
    memset(a, 0, sizeof *a);
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t sz, const char *what) {
    if (need <= *cap) return PLM_OK;
    uint32_t c = *cap ? *cap : 256;
    while (c < need) {
        if (c > 0x7FFFFFFFu / 2) return plm_fail(PLM_E_NOMEM, "grammar: %s table too large", what);
        c *= 2;
    }
    void *q = plm_realloc_for(*p, (size_t)c * sz, what);
    if (!q) return PLM_E_NOMEM;
    *p = q;
    *cap = c;
    return PLM_OK;
}

static int am_init(automaton *a, const plm_grammar *g) {
    memset(a, 0, sizeof *a);
    a->g = g;
    if (grow((void **)&a->nodes, &a->cap_nodes, 1, sizeof(snode), "grammar stack") ||
        grow((void **)&a->sets, &a->cap_sets, 1, sizeof(sset), "grammar state") || hm_grow(&a->node_map) ||
        hm_grow(&a->set_map) || hm_grow(&a->trans) || hm_grow(&a->seen))
        return PLM_E_NOMEM;
    a->nodes[0].el = a->nodes[0].parent = 0; /* the empty stack */
    a->n_nodes = 1;
    memset(&a->sets[0], 0, sizeof a->sets[0]); /* set 0 = the empty set (dead state) */
    a->n_sets = 1;
    return PLM_OK;
}

static uint32_t am_node(automaton *a, uint32_t el, uint32_t parent) {
    if (a->err) return 0;
    const uint64_t key = ((uint64_t)el << 32 | parent) + 1;
    if (a->node_map.n * 2 >= a->node_map.cap && hm_grow(&a->node_map)) return a->err = PLM_E_NOMEM, 0;
    size_t slot;
    if (hm_find(&a->node_map, key, &slot)) return a->node_map.vals[slot];
    if (grow((void **)&a->nodes, &a->cap_nodes, a->n_nodes + 1, sizeof(snode), "grammar stack"))
        return a->err = PLM_E_NOMEM, 0;
    uint32_t id = a->n_nodes++;
    a->nodes[id].el = el;
    a->nodes[id].parent = parent;
    a->node_map.keys[slot] = key;
    a->node_map.vals[slot] = id;
    a->node_map.n++;
    return id;
}

static void tmp_push(automaton *a, uint32_t v) {
    if (a->err) return;
    if (grow((void **)&a->tmp, &a->cap_tmp, a->n_tmp + 1, sizeof(uint32_t), "grammar scratch")) {
        a->err = PLM_E_NOMEM;
        return;
    }
    a->tmp[a->n_tmp++] = v;
}

static int is_char_el(uint32_t t) { return t == E_CHAR || t == E_CHAR_NOT || t == E_CHAR_ANY; }

/* Expand the stack (element el on top of parent) until its top is a character
 * element, appending the resulting stacks to tmp. el may be END/ALT (pop). */
static void am_expand(automaton *a, uint32_t el, uint32_t parent, int depth) {
    if (a->err) return;
    if (depth > MAX_DEPTH) {
        a->err = plm_fail(PLM_E_TOO_LONG, "grammar: expansion too deep");
        return;
    }
    const elem *E = a->g->el;
    for (;;) {
        /* each (element, parent) once per step: expanding it again gives the same
         * stacks, and nested repetitions of empty-matching items would loop */
        const uint64_t key = ((uint64_t)el << 32 | parent) + 1;
        if (a->seen.n * 2 >= a->seen.cap && hm_grow(&a->seen)) {
            a->err = PLM_E_NOMEM;
            return;
        }
        size_t slot;
        if (hm_find(&a->seen, key, &slot)) {
            if (a->seen.vals[slot] == a->stamp) return;
        } else {
            a->seen.keys[slot] = key;
            a->seen.n++;
        }
        a->seen.vals[slot] = a->stamp;
        uint32_t t = E[el].type;
        if (t == E_END || t == E_ALT) { /* this rule is done: continue below */
            if (parent == 0) {
                tmp_push(a, 0);
                return;
            }
            el = a->nodes[parent].el;
            parent = a->nodes[parent].parent;
            continue;
        }
        if (is_char_el(t)) {
            tmp_push(a, am_node(a, el, parent));
            return;
        }
        /* rule reference: the rest of this sequence goes below the alternatives */
        uint32_t next = el + 1, rest = parent;
        if (E[next].type != E_END && E[next].type != E_ALT) rest = am_node(a, next, parent);
        uint32_t at = (uint32_t)a->g->rule_at[E[el].value];
        for (;;) {
            am_expand(a, at, rest, depth + 1);
            while (E[at].type != E_END && E[at].type != E_ALT) at++;
            if (E[at].type == E_END) break;
            at++;
        }
        return;
    }
}

static int cmp_u32(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* intern tmp[from..n_tmp) as a set; the scratch is popped */
static uint32_t am_intern(automaton *a, uint32_t from) {
    if (a->err) return 0;
    uint32_t *s = a->tmp + from, n = a->n_tmp - from;
    qsort(s, n, sizeof *s, cmp_u32);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (m == 0 || s[m - 1] != s[i]) s[m++] = s[i];
    a->n_tmp = from;
    if (m == 0) return 0;
    uint64_t h = 0x12345;
    for (uint32_t i = 0; i < m; i++) h = mix64(h ^ s[i]);
    h |= 1;
    if (a->set_map.n * 2 >= a->set_map.cap && hm_grow(&a->set_map)) return a->err = PLM_E_NOMEM, 0;
    size_t slot = mix64(h) & (a->set_map.cap - 1);
    while (a->set_map.keys[slot]) {
        if (a->set_map.keys[slot] == h) {
            const sset *o = &a->sets[a->set_map.vals[slot]];
            if (o->n == m && memcmp(a->items + o->off, s, m * sizeof *s) == 0) return a->set_map.vals[slot];
        }
        slot = (slot + 1) & (a->set_map.cap - 1);
    }
    if (grow((void **)&a->sets, &a->cap_sets, a->n_sets + 1, sizeof(sset), "grammar state") ||
        grow((void **)&a->items, &a->cap_items, a->n_items + m, sizeof(uint32_t), "grammar state")) {
        a->err = PLM_E_NOMEM;
        return 0;
    }
    s = a->tmp + from; /* (tmp did not move, but keep it obvious) */
    uint32_t id = a->n_sets++;
    sset *ns = &a->sets[id];
    memset(ns, 0, sizeof *ns);
    ns->off = a->n_items;
    ns->n = m;
    memcpy(a->items + a->n_items, s, m * sizeof *s);
    a->n_items += m;
    a->set_map.keys[slot] = h;
    a->set_map.vals[slot] = id;
    a->set_map.n++;
    return id;
}

/* does the character element at el match code point c? */
static int el_match(const elem *E, uint32_t el, uint32_t c) {
    if (E[el].type == E_CHAR_ANY) return 1;
    const int neg = E[el].type == E_CHAR_NOT;
    const elem *e = E + el;
    int found = 0;
    do {
        if (e[1].type == E_RNG_UPPER) {
            found = found || (e->value <= c && c <= e[1].value);
            e += 2;
        } else {
            found = found || e->value == c;
            e += 1;
        }
    } while (e->type == E_CHAR_ALT);
    return found != neg;
}

/* element after the character element at el */
static uint32_t el_next(const elem *E, uint32_t el) {
    if (E[el].type == E_CHAR_ANY) return el + 1;
    const elem *e = E + el;
    do e += e[1].type == E_RNG_UPPER ? 2 : 1;
    while (e->type == E_CHAR_ALT);
    return (uint32_t)(e - E);
}

/* does the element match some code point in [lo, hi]? */
static int el_match_range(const elem *E, uint32_t el, uint32_t lo, uint32_t hi) {
    if (E[el].type == E_CHAR_ANY) return 1;
    const int neg = E[el].type == E_CHAR_NOT;
    const elem *e0 = E + el;
    if (!neg) {
        const elem *e = e0;
        do {
            uint32_t a = e->value, b = e[1].type == E_RNG_UPPER ? e[1].value : a;
            if (a <= hi && lo <= b) return 1;
            e += e[1].type == E_RNG_UPPER ? 2 : 1;
        } while (e->type == E_CHAR_ALT);
        return 0;
    }
    /* negated: is some point of [lo, hi] outside every range? */
    uint32_t cur = lo;
    for (;;) {
        int moved = 0;
        const elem *e = e0;
        do {
            uint32_t a = e->value, b = e[1].type == E_RNG_UPPER ? e[1].value : a;
            if (a <= cur && cur <= b) {
                if (b >= hi) return 0;
                cur = b + 1;
                moved = 1;
            }
            e += e[1].type == E_RNG_UPPER ? 2 : 1;
        } while (e->type == E_CHAR_ALT);
        if (!moved) return 1;
    }
}

/* does the element match all of [lo, hi] (1), none (0) or part (-1)? */
static int el_cover(const elem *E, uint32_t el, uint32_t lo, uint32_t hi) {
    int some = el_match_range(E, el, lo, hi);
    if (!some) return 0;
    if (E[el].type == E_CHAR_ANY) return 1;
    /* all: no point is unmatched = the complement matches nothing */
    int neg = E[el].type == E_CHAR_NOT;
    const elem *e = E + el;
    if (neg) { /* matches all iff no range intersects [lo,hi] */
        do {
            uint32_t a = e->value, b = e[1].type == E_RNG_UPPER ? e[1].value : a;
            if (a <= hi && lo <= b) return -1;
            e += e[1].type == E_RNG_UPPER ? 2 : 1;
        } while (e->type == E_CHAR_ALT);
        return 1;
    }
    /* positive: covered iff walking from lo through the ranges reaches hi */
    uint32_t cur = lo;
    for (;;) {
        int moved = 0;
        e = E + el;
        do {
            uint32_t a = e->value, b = e[1].type == E_RNG_UPPER ? e[1].value : a;
            if (a <= cur && cur <= b) {
                if (b >= hi) return 1;
                cur = b + 1;
                moved = 1;
            }
            e += e[1].type == E_RNG_UPPER ? 2 : 1;
        } while (e->type == E_CHAR_ALT);
        if (!moved) return -1;
    }
}

/* the set after code point c */
static uint32_t am_step(automaton *a, uint32_t set, uint32_t c) {
    if (set == 0 || a->err) return 0;
    const uint64_t key = ((uint64_t)set << 21 | c) + 1;
    size_t slot;
    if (hm_find(&a->trans, key, &slot)) return a->trans.vals[slot];
    const elem *E = a->g->el;
    const uint32_t from = a->n_tmp;
    const sset s = a->sets[set];
    a->stamp++;
    for (uint32_t i = 0; i < s.n; i++) {
        uint32_t nd = a->items[s.off + i];
        if (nd == 0) continue; /* complete stack: nothing more to match */
        uint32_t el = a->nodes[nd].el;
        if (el_match(E, el, c)) am_expand(a, el_next(E, el), a->nodes[nd].parent, 0);
    }
    uint32_t r = am_intern(a, from);
    if (a->err) return 0;
    if (a->trans.n * 2 >= a->trans.cap) {
        if (hm_grow(&a->trans)) return a->err = PLM_E_NOMEM, 0;
        hm_find(&a->trans, key, &slot);
    }
    a->trans.keys[slot] = key;
    a->trans.vals[slot] = r;
    a->trans.n++;
    return r;
}

/* could some stack of the set match a code point in [lo, hi]? */
static int am_feasible(const automaton *a, uint32_t set, uint32_t lo, uint32_t hi) {
    const sset *s = &a->sets[set];
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t nd = a->items[s->off + i];
        if (nd && el_match_range(a->g->el, a->nodes[nd].el, lo, hi)) return 1;
    }
    return 0;
}

static int am_complete(const automaton *a, uint32_t set) {
    return set && a->sets[set].n && a->items[a->sets[set].off] == 0; /* sorted: node 0 first */
}

static uint32_t am_start(automaton *a) {
    const uint32_t from = a->n_tmp;
    const plm_grammar *g = a->g;
    a->stamp++;
    uint32_t at = (uint32_t)g->rule_at[g->root];
    for (;;) {
        am_expand(a, at, 0, 0);
        while (g->el[at].type != E_END && g->el[at].type != E_ALT) at++;
        if (g->el[at].type == E_END) break;
        at++;
    }
    return am_intern(a, from);
}

/* The uniform step of a set: the most common successor T of the ASCII bytes, the
 * bytes that lead to it, and whether every non-ASCII code point leads to it too. */
static void am_uniform(automaton *a, uint32_t set) {
    if (a->sets[set].uni_known || a->err) return;
    uint32_t next[128];
    for (uint32_t b = 0; b < 128; b++) next[b] = am_step(a, set, b);
    if (a->err) return;
    /* majority successor (ties: the lowest byte's); dead (0) never counts */
    uint32_t best = 0;
    int best_n = 0;
    for (uint32_t b = 0; b < 128; b++) {
        if (!next[b] || next[b] == best) continue;
        int n = 0;
        for (uint32_t k = b; k < 128; k++) n += next[k] == next[b];
        if (n > best_n) best = next[b], best_n = n;
    }
    uint64_t uni[2] = {0, 0};
    if (best)
        for (uint32_t b = 0; b < 128; b++)
            if (next[b] == best) uni[b >> 6] |= 1ull << (b & 63);
    int nonascii = best != 0;
    const sset cs = a->sets[set];
    for (uint32_t i = 0; i < cs.n && nonascii; i++) {
        uint32_t nd = a->items[cs.off + i];
        if (nd && el_cover(a->g->el, a->nodes[nd].el, 0x80, MAX_CP) < 0) nonascii = 0;
    }
    if (nonascii) nonascii = am_step(a, set, 0x80) == best;
    if (a->err) return;
    sset *s = &a->sets[set]; /* am_step may have moved the array */
    s->uni[0] = uni[0];
    s->uni[1] = uni[1];
    s->uni_nonascii = (uint8_t)nonascii;
    s->uni_next = best;
    s->uni_known = 1;
}

/* ============================================================ UTF-8 state */
/* A partial character: value so far, bytes still needed, range of the next byte. */
typedef struct {
    uint32_t set;
    uint32_t value;
    uint8_t rem, lo, hi, len;
} mstate;

/* code points a partial character can still become */
static void partial_range(const mstate *s, uint32_t *lo, uint32_t *hi) {
    uint32_t shift = 6u * s->rem;
    uint32_t l = s->value << shift, h = l | ((1u << shift) - 1);
    uint32_t min = s->len == 2 ? 0x80 : s->len == 3 ? 0x800 : 0x10000;
    if (l < min) l = min;
    if (h > MAX_CP) h = MAX_CP;
    *lo = l;
    *hi = h;
}

/* advance by one byte; returns 0 if the text can no longer match */
static int ms_byte(automaton *a, mstate *s, uint8_t b) {
    if (s->rem == 0) {
        if (b < 0x80) {
            s->set = am_step(a, s->set, b);
            return s->set != 0;
        }
        uint8_t n, lo = 0x80, hi = 0xBF;
        uint32_t v;
        if (b >= 0xC2 && b <= 0xDF) n = 2, v = b & 0x1F;
        else if (b >= 0xE0 && b <= 0xEF) {
            n = 3, v = b & 0x0F;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F; /* no surrogates */
        } else if (b >= 0xF0 && b <= 0xF4) {
            n = 4, v = b & 0x07;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else
            return 0;
        s->value = v;
        s->rem = (uint8_t)(n - 1);
        s->len = n;
        s->lo = lo;
        s->hi = hi;
    } else {
        if (b < s->lo || b > s->hi) return 0;
        s->value = (s->value << 6) | (b & 0x3F);
        s->rem--;
        s->lo = 0x80;
        s->hi = 0xBF;
        if (s->rem == 0) {
            s->set = am_step(a, s->set, s->value);
            return s->set != 0;
        }
    }
    uint32_t lo, hi;
    partial_range(s, &lo, &hi);
    return am_feasible(a, s->set, lo, hi);
}

/* ============================================================ matches() */
PLM_API int plm_grammar_matches(plm_grammar *g, const char *text, int len) {
    if (!g) return plm_fail(PLM_E_INVALID, "plm_grammar_matches: NULL grammar");
    if (len < 0 || (len > 0 && !text)) return plm_fail(PLM_E_INVALID, "plm_grammar_matches: bad text");
    automaton a;
    if (am_init(&a, g)) {
        am_free(&a);
        return PLM_E_NOMEM;
    }
    mstate s = {0};
    s.set = am_start(&a);
    int ok = s.set != 0;
    for (int i = 0; i < len && ok && !a.err; i++) ok = ms_byte(&a, &s, (uint8_t)text[i]);
    int r = a.err ? a.err : ok && s.rem == 0 && am_complete(&a, s.set);
    am_free(&a);
    return r;
}

/* ============================================================ token index */
typedef struct {
    uint32_t end;        /* index one past this node's subtree (preorder) */
    uint32_t tok_lo;     /* tokens ending here: order[tok_lo .. tok_mid) */
    uint32_t tok_mid;    /* tokens below: order[tok_mid .. tok_hi) */
    uint32_t tok_hi;
    uint64_t bytes[2];   /* ASCII bytes that occur below this node */
    uint16_t below;      /* bytes of the longest token suffix below this node */
    uint8_t byte;        /* byte on the edge into this node */
    uint8_t clean;       /* every token suffix below is well-formed UTF-8 on its own */
    uint8_t nonascii;    /* a byte >= 0x80 occurs below this node */
} tnode;

struct plm_token_index {
    int refs;
    plm_model *model;
    int32_t n_vocab;
    int32_t *order;   /* token ids with text, sorted by bytes */
    uint32_t n_order;
    tnode *nodes;     /* preorder; node 0 = root (no byte) */
    uint32_t n_nodes, cap_nodes;
    uint8_t *eog;     /* per id: 1 = end of generation */
    uint8_t *kind;    /* per id: 1 = has text (in the trie), 0 = never allowed */
    uint8_t **bytes;  /* per id: bytes (NULL if none), in arena */
    uint8_t *arena;
    int32_t *len;
};

static int cmp_tok_index;
static const plm_token_index *cmp_ti;
static int cmp_tok(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    const plm_token_index *t = cmp_ti;
    int la = t->len[a], lb = t->len[b];
    int c = memcmp(t->bytes[a], t->bytes[b], (size_t)PLM_MIN(la, lb));
    if (c) return c;
    if (la != lb) return la < lb ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* suffix validity of a token's bytes from position i (as a standalone UTF-8 string,
 * possibly ending in an incomplete character) */
static void suffix_valid(const uint8_t *b, int n, uint8_t *ok) {
    ok[n] = 1;
    for (int i = n - 1; i >= 0; i--) {
        uint8_t c = b[i];
        int k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!k) {
            ok[i] = 0;
            continue;
        }
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        int good = 1;
        for (int j = 1; j < k && i + j < n; j++) {
            uint8_t d = b[i + j];
            if (j == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF)) good = 0;
        }
        ok[i] = (uint8_t)(good && (i + k >= n || ok[i + k]));
    }
}

static int ti_build(plm_token_index *t, uint32_t a, uint32_t b, int depth, uint8_t byte, const uint8_t *const *valid) {
    if (grow((void **)&t->nodes, &t->cap_nodes, t->n_nodes + 1, sizeof(tnode), "token trie")) return PLM_E_NOMEM;
    uint32_t me = t->n_nodes++;
    tnode *n = &t->nodes[me];
    memset(n, 0, sizeof *n);
    n->byte = byte;
    n->tok_lo = a;
    uint32_t i = a;
    while (i < b && t->len[t->order[i]] == depth) i++;
    n->tok_mid = i;
    n->tok_hi = b;
    uint64_t bytes[4] = {0};
    int clean = 1;
    for (uint32_t k = i; k < b; k++)
        if (!valid[t->order[k]][depth]) clean = 0;
    while (i < b) {
        uint8_t c = t->bytes[t->order[i]][depth];
        uint32_t j = i;
        while (j < b && t->bytes[t->order[j]][depth] == c) j++;
        uint32_t child = t->n_nodes;
        int r = ti_build(t, i, j, depth + 1, c, valid);
        if (r) return r;
        const tnode *cn = &t->nodes[child];
        bytes[0] |= cn->bytes[0];
        bytes[1] |= cn->bytes[1];
        if (cn->nonascii) bytes[2] |= 1;
        bytes[c >> 6] |= 1ull << (c & 63);
        i = j;
    }
    n = &t->nodes[me];
    n->bytes[0] = bytes[0];
    n->bytes[1] = bytes[1];
    n->nonascii = (bytes[2] | bytes[3]) != 0;
    n->clean = (uint8_t)clean;
    int below = 0;
    for (uint32_t k = n->tok_mid; k < b; k++) below = PLM_MAX(below, t->len[t->order[k]] - depth);
    n->below = (uint16_t)PLM_MIN(below, 65535);
    n->end = t->n_nodes;
    return PLM_OK;
}

PLM_API void plm_token_index_free(plm_token_index *t) {
    if (!t || --t->refs > 0) return;
    free(t->arena);
    free(t->bytes);
    free(t->len);
    free(t->order);
    free(t->nodes);
    free(t->eog);
    free(t->kind);
    free(t);
}

PLM_API plm_token_index *plm_token_index_new(plm_model *m) {
    if (!m) return plm_fail(PLM_E_INVALID, "plm_token_index_new: NULL model"), NULL;
    if (!m->vocab) return plm_fail(PLM_E_MISSING, "model has no tokenizer: a grammar needs its tokens"), NULL;
    const plm_vocab *v = m->vocab;
    plm_token_index *t = plm_calloc_for(1, sizeof *t, "token index");
    if (!t) return NULL;
    t->refs = 1;
    t->model = m;
    const int32_t n = vocab_n_tokens(v);
    t->n_vocab = n;
    uint8_t **valid = NULL;
    int r = PLM_OK;
    t->bytes = plm_calloc_for((size_t)n, sizeof *t->bytes, "token index");
    t->len = plm_calloc_for((size_t)n, sizeof *t->len, "token index");
    t->order = plm_malloc_for((size_t)n * sizeof *t->order, "token index");
    t->eog = plm_calloc_for((size_t)n, 1, "token index");
    t->kind = plm_calloc_for((size_t)n, 1, "token index");
    valid = plm_calloc_for((size_t)n, sizeof *valid, "token index");
    if (!t->bytes || !t->len || !t->order || !t->eog || !t->kind || !valid) r = PLM_E_NOMEM;
    /* pass 1: which tokens have text, and how much; pass 2: their bytes, in one arena */
    size_t total = 0;
    for (int32_t id = 0; id < n && !r; id++) {
        t->eog[id] = (uint8_t)(vocab_is_eog(v, id) == 1);
        int ty = vocab_token_type(v, id);
        if (t->eog[id] || ty == PLM_TOKEN_CONTROL || ty == PLM_TOKEN_UNKNOWN || ty == PLM_TOKEN_UNUSED) continue;
        int k = vocab_token_bytes(v, id, 0, NULL, 0);
        if (k < 0) r = k;
        else if (k > 0) {
            t->len[id] = k;
            total += (size_t)k;
        }
    }
    uint8_t *vbuf = NULL;
    if (!r) {
        t->arena = plm_malloc_for(total + 1, "token bytes");
        vbuf = t->arena ? plm_malloc_for(total + (size_t)n + 1, "token index") : NULL;
        if (!vbuf) r = PLM_E_NOMEM;
    }
    size_t at = 0, vat = 0;
    for (int32_t id = 0; id < n && !r; id++) {
        const int k = t->len[id];
        if (k == 0) continue;
        uint8_t *buf = t->arena + at;
        valid[id] = vbuf + vat;
        at += (size_t)k;
        vat += (size_t)k + 1;
        vocab_token_bytes(v, id, 0, (char *)buf, k);
        t->bytes[id] = buf;
        suffix_valid(buf, k, valid[id]);
        t->kind[id] = 1;
        t->order[t->n_order++] = id;
    }
    if (!r) {
        (void)cmp_tok_index;
        cmp_ti = t;
        qsort(t->order, t->n_order, sizeof *t->order, cmp_tok);
        cmp_ti = NULL;
        r = ti_build(t, 0, t->n_order, 0, 0, (const uint8_t *const *)valid);
    }
    free(vbuf);
    free(valid);
    if (r) {
        plm_token_index_free(t);
        return NULL;
    }
    return t;
}

/* ============================================================ matcher */
struct plm_matcher {
    plm_grammar *g;
    plm_token_index *ti;
    automaton a;
    mstate st;
    int strip_leading; /* the next token with text loses its leading space (SentencePiece) */
    uint8_t *allowed;  /* per id, scratch of mask() */
    plm_matcher_stats stats;
};

PLM_API void plm_matcher_free(plm_matcher *m) {
    if (!m) return;
    am_free(&m->a);
    plm_grammar_free(m->g);
    plm_token_index_free(m->ti);
    free(m->allowed);
    free(m);
}

PLM_API plm_matcher *plm_matcher_new(plm_grammar *g, plm_token_index *ti, int flags) {
    if (!g || !ti) return plm_fail(PLM_E_INVALID, "plm_matcher_new: NULL grammar or token index"), NULL;
    plm_matcher *m = plm_calloc_for(1, sizeof *m, "grammar matcher");
    if (!m) return NULL;
    g->refs++;
    ti->refs++;
    m->g = g;
    m->ti = ti;
    m->strip_leading = (flags & PLM_MATCHER_STRIP_LEADING) != 0;
    m->allowed = plm_calloc_for((size_t)ti->n_vocab, 1, "grammar mask");
    if (!m->allowed || am_init(&m->a, g)) {
        plm_matcher_free(m);
        return NULL;
    }
    m->st.set = am_start(&m->a);
    if (m->a.err) {
        plm_matcher_free(m);
        return NULL;
    }
    return m;
}

/* Tables too big: rebuild them holding only the current state. */
static int matcher_compact(plm_matcher *m) {
    automaton *a = &m->a;
    if (a->n_nodes < (1u << 20) && a->trans.n < (1u << 21) && a->n_items < (1u << 22)) return PLM_OK;
    automaton b;
    if (am_init(&b, m->g)) {
        am_free(&b);
        return PLM_E_NOMEM;
    }
    /* copy each stack of the current set: node chains re-interned bottom-up */
    const sset s = a->sets[m->st.set];
    uint32_t chain[4096];
    for (uint32_t i = 0; i < s.n && !b.err; i++) {
        uint32_t nd = a->items[s.off + i], k = 0;
        uint32_t *ch = chain;
        uint32_t cap = 4096;
        uint32_t *heap = NULL;
        for (uint32_t x = nd; x; x = a->nodes[x].parent) {
            if (k == cap) {
                uint32_t *h = plm_realloc_for(heap, (size_t)cap * 2 * sizeof *h, "grammar compaction");
                if (!h) {
                    free(heap);
                    am_free(&b);
                    return PLM_E_NOMEM;
                }
                if (!heap) memcpy(h, chain, sizeof chain);
                heap = h;
                ch = h;
                cap *= 2;
            }
            ch[k++] = x;
        }
        uint32_t parent = 0;
        while (k > 0) {
            k--;
            parent = am_node(&b, a->nodes[ch[k]].el, parent);
        }
        tmp_push(&b, parent);
        free(heap);
    }
    uint32_t set = am_intern(&b, 0);
    if (b.err) {
        int e = b.err;
        am_free(&b);
        return e;
    }
    am_free(a);
    m->a = b;
    m->st.set = set;
    return PLM_OK;
}

static int bits_subset(const tnode *n, const sset *s) {
    /* the bytes below the node within the set's uniform-step bytes */
    if ((n->bytes[0] & ~s->uni[0]) || (n->bytes[1] & ~s->uni[1])) return 0;
    if (n->nonascii && !s->uni_nonascii) return 0;
    return 1;
}

/* Is every token below a node (bytes x, at most `below` bytes) accepted from `set`?
 * Yes if along the uniform steps set -> next -> ... (one per character, so at most
 * `below` of them) every step admits all of x: then each token ends in a live set,
 * whatever its bytes (a partial character at its end is feasible: the step admits
 * every non-ASCII code point). Stops early when the chain loops on itself. */
static int subtree_uniform(automaton *a, uint32_t set, const tnode *x, int below) {
    for (int i = 0; i < below; i++) {
        am_uniform(a, set);
        if (a->err) return 0;
        const sset *s = &a->sets[set];
        if (!s->uni_next || !bits_subset(x, s)) return 0;
        if (s->uni_next == set) return 1; /* self-loop: the rest is the same */
        set = s->uni_next;
    }
    return 1;
}

static void take_range(plm_matcher *m, uint32_t lo, uint32_t hi) {
    const int32_t *order = m->ti->order;
    for (uint32_t i = lo; i < hi; i++) m->allowed[order[i]] = 1;
}

static void mask_dfs(plm_matcher *m, uint32_t ni, mstate st) {
    const plm_token_index *t = m->ti;
    automaton *a = &m->a;
    const tnode *n = &t->nodes[ni];
    m->stats.nodes_visited++;
    /* tokens ending here are fine: the state is alive (partial characters included) */
    take_range(m, n->tok_lo, n->tok_mid);
    if (n->tok_mid == n->tok_hi) return;
    if (st.rem == 0 && n->clean) {
        if (subtree_uniform(a, st.set, n, n->below)) {
            m->stats.subtrees_taken++;
            take_range(m, n->tok_mid, n->tok_hi);
            return;
        }
    }
    for (uint32_t c = ni + 1; c < n->end && !a->err; c = t->nodes[c].end) {
        mstate s2 = st;
        if (ms_byte(a, &s2, t->nodes[c].byte)) mask_dfs(m, c, s2);
    }
}

/* tokens checked one by one (the first token when a leading space is stripped) */
static int mask_slow(plm_matcher *m) {
    plm_token_index *t = m->ti;
    char small[256];
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!t->kind[id]) continue;
        int k = vocab_token_bytes(t->model->vocab, id, PLM_DECODE_STRIP_LEADING, small, sizeof small);
        if (k < 0) return k;
        if (k == 0) continue;
        const uint8_t *b = k <= (int)sizeof small ? (const uint8_t *)small : t->bytes[id] + (t->len[id] - k);
        mstate s = m->st;
        int ok = 1;
        for (int i = 0; i < k && ok; i++) ok = ms_byte(&m->a, &s, b[i]);
        if (m->a.err) return m->a.err;
        if (ok) m->allowed[id] = 1;
    }
    return PLM_OK;
}

PLM_API int plm_matcher_mask(plm_matcher *m, float *logits, int n_vocab) {
    if (!m || !logits) return plm_fail(PLM_E_INVALID, "plm_matcher_mask: NULL matcher or logits");
    plm_token_index *t = m->ti;
    if (n_vocab < t->n_vocab)
        return plm_fail(PLM_E_INVALID, "plm_matcher_mask: %d logits for a vocabulary of %d tokens", n_vocab,
                        (int)t->n_vocab);
    int r = matcher_compact(m);
    if (r) return r;
    memset(m->allowed, 0, (size_t)t->n_vocab);
    memset(&m->stats, 0, sizeof m->stats);
    if (m->strip_leading) r = mask_slow(m);
    else mask_dfs(m, 0, m->st);
    if (!r && m->a.err) r = m->a.err;
    if (r) {
        m->a.err = 0;
        return r;
    }
    const int can_end = m->st.rem == 0 && am_complete(&m->a, m->st.set);
    int allowed = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (t->eog[id] ? can_end : m->allowed[id]) allowed++;
        else logits[id] = -INFINITY;
    }
    for (int id = t->n_vocab; id < n_vocab; id++) logits[id] = -INFINITY; /* padded output rows */
    m->stats.allowed = allowed;
    if (allowed == 0)
        return plm_fail(PLM_E_STATE, "grammar: no token of the vocabulary can continue the text%s",
                        can_end ? "" : " (and the grammar is not complete)");
    return allowed;
}

PLM_API int plm_matcher_accept(plm_matcher *m, int32_t id) {
    if (!m) return plm_fail(PLM_E_INVALID, "plm_matcher_accept: NULL matcher");
    plm_token_index *t = m->ti;
    if (id < 0 || id >= t->n_vocab)
        return plm_fail(PLM_E_INVALID, "token id %d is out of range [0, %d)", (int)id, (int)t->n_vocab);
    if (t->eog[id]) {
        if (m->st.rem == 0 && am_complete(&m->a, m->st.set)) return PLM_OK;
        return plm_fail(PLM_E_STATE, "grammar: end-of-generation token %d before the grammar is complete", (int)id);
    }
    if (!t->kind[id]) return plm_fail(PLM_E_STATE, "grammar: token %d (a special token) is not allowed", (int)id);
    const uint8_t *b = t->bytes[id];
    int k = t->len[id];
    if (m->strip_leading) {
        k = vocab_token_bytes(t->model->vocab, id, PLM_DECODE_STRIP_LEADING, NULL, 0);
        if (k < 0) return k;
        b += t->len[id] - k;
    }
    mstate s = m->st;
    int ok = 1;
    for (int i = 0; i < k && ok; i++) ok = ms_byte(&m->a, &s, b[i]);
    if (m->a.err) {
        int e = m->a.err;
        m->a.err = 0;
        return e;
    }
    if (!ok) return plm_fail(PLM_E_STATE, "grammar: token %d does not continue the text", (int)id);
    m->st = s;
    if (k > 0) m->strip_leading = 0;
    return PLM_OK;
}

PLM_API int plm_matcher_state(plm_matcher *m) {
    if (!m) return plm_fail(PLM_E_INVALID, "plm_matcher_state: NULL matcher");
    int r = 0;
    if (m->st.rem == 0 && am_complete(&m->a, m->st.set)) r |= 1;
    const sset *s = &m->a.sets[m->st.set];
    for (uint32_t i = 0; i < s->n; i++)
        if (m->a.items[s->off + i] != 0) r |= 2;
    if (m->st.rem) r |= 2;
    return r;
}

int plm_matcher_reference(plm_matcher *m, uint8_t *allowed) {
    plm_token_index *t = m->ti;
    const int can_end = m->st.rem == 0 && am_complete(&m->a, m->st.set);
    int count = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        int ok = 0;
        if (t->eog[id]) ok = can_end;
        else if (t->kind[id]) {
            int k = t->len[id];
            const uint8_t *b = t->bytes[id];
            if (m->strip_leading) {
                k = vocab_token_bytes(t->model->vocab, id, PLM_DECODE_STRIP_LEADING, NULL, 0);
                b += t->len[id] - k;
            }
            mstate s = m->st;
            ok = k > 0;
            for (int i = 0; i < k && ok; i++) ok = ms_byte(&m->a, &s, b[i]);
        }
        allowed[id] = (uint8_t)ok;
        count += ok;
    }
    if (m->a.err) {
        int e = m->a.err;
        m->a.err = 0;
        return e;
    }
    return count;
}

void plm_matcher_last_stats(const plm_matcher *m, plm_matcher_stats *out) {
    if (m && out) *out = m->stats;
}
