/* shap_text_tree.c — the token tree of shap's Text masker (shap/maskers/_text.py: clustering,
 * partition_tree, merge_score), written from its rules: adjacent groups of tokens are merged,
 * the pair with the best heuristic score first, until one group is left. See
 * attx_shap_text_tree in attx_explain.h for the rules. */
#include "model_game_internal.h"
#include "unicode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct tree_token {
    char *s;            /* stripped segment, with "##" before a word's continuation */
    size_t len;
    int balanced;       /* "(" and ")" start unbalanced */
} tree_token;

static int is_tok(const tree_token *t, const char *lit)
{
    size_t n = strlen(lit);
    return t->len == n && memcmp(t->s, lit, n) == 0;
}

/* A "[...]" control token: starts with '[' and ends with ']' (one character is not both). */
static int is_control(const tree_token *t)
{
    return t->len >= 2 && t->s[0] == '[' && t->s[t->len - 1] == ']';
}

/* Python's \w on one code point. Non-ASCII: a word character unless punctuation, whitespace,
 * a control character or a combining mark (attx's tables do not tell symbols apart). */
static int is_word_cp(uint32_t cp)
{
    if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') || cp == '_';
    attx_uc_class c = attx_uc_class_of(cp);
    return c == ATTX_UC_OTHER;
}

/* re.match(r"^.*\W$", s): some character p is non-word, no "\n" comes before it, and it is the
 * last character or the one before a final "\n" ('.' stops at "\n"; '$' also matches before
 * a final "\n"). */
static int ends_non_word(const char *s, size_t n)
{
    uint32_t last = 0, before = 0;
    int count = 0, newline_before_last = 0, newline_before_before = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = attx_utf8_decode(s + i, n - i, &cp);
        if (k <= 0) return 0;
        if (count >= 1 && last == '\n') newline_before_last = 1;    /* a "\n" before the final cp */
        if (count >= 2 && before == '\n') newline_before_before = 1;
        before = last;
        last = cp;
        count++;
        i += (size_t)k;
    }
    if (count == 0) return 0;
    if (!is_word_cp(last) && !newline_before_last) return 1;
    return count >= 2 && last == '\n' && !is_word_cp(before) && !newline_before_before;
}

/* str.strip(): the bytes [*a, *b) of s[0..n) without leading and trailing whitespace. */
static void strip(const char *s, size_t n, size_t *a, size_t *b)
{
    size_t i = 0, end = n;
    for (size_t k; i < n && (k = text_space_len(s + i, n - i)) > 0;) i += k;
    /* trailing: scan forward, remembering where the last non-space character ended */
    size_t last_end = i;
    for (size_t j = i; j < n;) {
        size_t k = text_space_len(s + j, n - j);
        if (k) {
            j += k;
            continue;
        }
        uint32_t cp;
        int len = attx_utf8_decode(s + j, n - j, &cp);
        j += len > 0 ? (size_t)len : 1;
        last_end = j;
    }
    end = last_end;
    *a = i;
    *b = end;
}

typedef struct group {
    int first, last;    /* tokens first..last */
    int node;           /* its node id in the tree */
} group;

static int is_ender(const tree_token *t)
{
    return is_tok(t, ".") || is_tok(t, "?") || is_tok(t, "!");
}

static int is_connector(const tree_token *t)
{
    return is_tok(t, "but") || is_tok(t, "and") || is_tok(t, "or");
}

/* merge_score of the adjacent groups a (left) and b (right). */
static double merge_score(const tree_token *tok, const group *a, const group *b)
{
    const tree_token *l0 = &tok[a->first], *l1 = &tok[a->last], *r0 = &tok[b->first], *r1 = &tok[b->last];
    int len_a = a->last - a->first + 1, len_b = b->last - b->first + 1;
    double score = 0;
    if (is_tok(l1, "[SEP]") && is_tok(r0, "[SEP]")) score -= INFINITY;   /* separators are joined last */
    if (r0->len >= 2 && r0->s[0] == '#' && r0->s[1] == '#') score += 20;   /* pieces of a word first */
    /* apostrophe endings next: "'" alone or "'" + t/s joins, and "'" joins a following t/s */
    if (is_tok(r0, "'") && (len_b == 1 || (len_b == 2 && (is_tok(&tok[b->first + 1], "t") ||
                                                            is_tok(&tok[b->first + 1], "s")))))
        score += 15;
    if (is_tok(l1, "'") && (is_tok(r0, "t") || is_tok(r0, "s"))) score += 15;
    if (is_control(l0) != is_control(r1)) score -= 1000;
    if (is_tok(r0, "(") && !r0->balanced) score -= 100;
    if (is_tok(l1, ")") && !l1->balanced) score -= 100;
    /* shap's test compares a token object with the closers' strings, which never matches, so
     * any group starting with "(" pays this */
    if (is_tok(l0, "(")) score -= 2;
    if (is_connector(l1) || is_connector(r0)) score -= 2;
    if (is_tok(l1, ",")) score -= 10;
    if (is_tok(r0, ",")) score -= len_b > 1 ? 10 : 1;   /* reaching across a comma costs more */
    if (is_ender(l1)) score -= 20;
    if (is_ender(r0)) score -= len_b > 1 ? 20 : 1;
    return score - (len_a + len_b);   /* small groups first */
}

int attx_shap_text_tree(const attx_text_segments *s, int32_t *tree, int32_t *size, attx_error *err)
{
    if (!s || s->length < 1 || !tree) return attx_fail(err, "shap tree: no segments");
    int M = s->length, rc = -1;
    tree_token *tok = calloc((size_t)M, sizeof *tok);
    group *groups = malloc((size_t)M * sizeof *groups);
    int32_t *node_size = malloc((size_t)(2 * M) * sizeof *node_size);
    if (!tok || !groups || !node_size) goto oom;
    for (int i = 0; i < M; i++) {
        const char *seg = s->text + s->start[i];
        size_t n = s->end[i] - s->start[i], a, b;
        strip(seg, n, &a, &b);
        /* a segment glued to a word before it (no non-word character ends that one) and starting
         * with an ASCII letter continues it */
        int continues = i > 0 && tok[i - 1].len > 0 &&
                        !ends_non_word(s->text + s->start[i - 1], s->end[i - 1] - s->start[i - 1]) && n > 0 &&
                        ((seg[0] >= 'A' && seg[0] <= 'Z') || (seg[0] >= 'a' && seg[0] <= 'z'));
        size_t pre = continues ? 2 : 0;
        tok[i].len = pre + (b - a);
        if (!(tok[i].s = malloc(tok[i].len + 1))) goto oom;
        memcpy(tok[i].s, "##", pre);
        memcpy(tok[i].s + pre, seg + a, b - a);
        tok[i].s[tok[i].len] = '\0';
        tok[i].balanced = !(is_tok(&tok[i], "(") || is_tok(&tok[i], ")"));
        groups[i] = (group){i, i, i};
        node_size[i] = 1;
    }
    int n_groups = M;
    for (int k = 0; k < M - 1; k++) {
        int best = 0;
        double best_score = merge_score(tok, &groups[0], &groups[1]);
        for (int g = 1; g + 1 < n_groups; g++) {
            double sc = merge_score(tok, &groups[g], &groups[g + 1]);
            if (sc > best_score) {   /* np.argmax: the first of equal maxima */
                best_score = sc;
                best = g;
            }
        }
        group *a = &groups[best], *b = &groups[best + 1];
        int id = M + k;
        tree[2 * k] = a->node;
        tree[2 * k + 1] = b->node;
        node_size[id] = node_size[a->node] + node_size[b->node];
        if (size) size[k] = node_size[id];
        if (is_tok(&tok[a->first], "(") && is_tok(&tok[b->last], ")"))
            tok[a->first].balanced = tok[b->last].balanced = 1;
        a->last = b->last;
        a->node = id;
        memmove(b, b + 1, (size_t)(n_groups - best - 2) * sizeof *b);
        n_groups--;
    }
    rc = 0;
    goto done;
oom:
    attx_fail(err, "shap tree: out of memory");
done:
    for (int i = 0; tok && i < M; i++) free(tok[i].s);
    free(tok);
    free(groups);
    free(node_size);
    return rc;
}
