/* grammar.h — GBNF grammars (llama.cpp's format) and grammar-constrained sampling.
 *
 * The public calls (plm_grammar_*, plm_token_index_*, plm_matcher_*) are in plm.h;
 * this header holds what the native tests and benches use beyond them.
 *
 * Model of a grammar: rules of alternatives of sequences of elements (llama.cpp's
 * representation): a character element is a set of code points given as
 * ranges (CHAR/CHAR_NOT start a set, CHAR_ALT adds a code point, RNG_UPPER
 * closes a range, ANY is every code point); RULE_REF names a rule; ALT
 * separates alternatives; END closes the rule. Repetitions are rewritten into
 * helper rules when parsing, as llama.cpp does.
 *
 * Matching runs a pushdown automaton over code points: the state is a set of
 * stacks; each stack's top points at the character element to match next (an
 * empty stack = the text so far is a complete sentence). Stacks are persistent
 * lists, hash-consed (equal stacks are the same node) and sets of stacks are
 * interned, so a state is one integer and transitions are memoised.
 */
#ifndef PLM_GRAMMAR_H
#define PLM_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>

#include "plm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Counters of the last plm_matcher_mask call (for benches and tests). */
typedef struct {
    long nodes_visited;  /* trie nodes stepped into */
    long subtrees_taken; /* whole subtrees accepted by the self-loop shortcut */
    int allowed;         /* tokens left */
} plm_matcher_stats;

void plm_matcher_last_stats(const plm_matcher *m, plm_matcher_stats *out);

/* Reference for tests: allowed[id] = 1 for each token accepted by walking its
 * bytes one by one (no trie, no shortcut); returns the count or PLM_E_*. */
int plm_matcher_reference(plm_matcher *m, uint8_t *allowed);

#ifdef __cplusplus
}
#endif
#endif
