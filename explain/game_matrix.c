/* game_matrix.c — the games on an influence matrix: additive (CLS), Mutual, Max-Mutual.
 *
 * Pairwise games keep the symmetric matrix of unordered-pair values P (P_ij = M_ij + M_ji for
 * Mutual, max(M_ij, M_ji) for Max-Mutual) so that for |S| >= 2, v(S) = sum_{i<j in S} P_ij.
 * Within one batch, a coalition that differs from the previous one by a few players is updated
 * in O(n) per changed player (adding p adds sum_{j in S} P_pj) instead of O(|S|^2); Gray-code
 * enumeration and permutation prefixes change one player per step.
 */
#include "shapley_internal.h"

#include <stdlib.h>
#include <string.h>

static void matrix_game_free(void *user)
{
    matrix_game *mg = user;
    if (!mg) return;
    free(mg->weights);
    free(mg->pair);
    free(mg->M);
    free(mg);
}

static int additive_eval(void *user, int n, size_t count, const uint64_t *masks, double *values,
                         attx_error *err)
{
    (void)err;
    const matrix_game *mg = user;
    size_t words = attx_mask_words(n);
    for (size_t k = 0; k < count; k++) {
        const uint64_t *m = masks + k * words;
        double v = 0;
        for (size_t w = 0; w < words; w++)
            for (uint64_t bits = m[w]; bits; bits &= bits - 1)
                v += mg->weights[w * 64 + (size_t)__builtin_ctzll(bits)];
        values[k] = v;
    }
    return 0;
}

/* sum_{j in S} P_pj over the members of mask S */
static double pair_row_sum(const matrix_game *mg, int p, const uint64_t *S, size_t words)
{
    const double *row = mg->pair + (size_t)p * (size_t)mg->n;
    double s = 0;
    for (size_t w = 0; w < words; w++)
        for (uint64_t bits = S[w]; bits; bits &= bits - 1) s += row[w * 64 + (size_t)__builtin_ctzll(bits)];
    return s;
}

static int first_member(const uint64_t *m, size_t words)
{
    for (size_t w = 0; w < words; w++)
        if (m[w]) return (int)(w * 64 + (size_t)__builtin_ctzll(m[w]));
    return -1;
}

static int pairwise_eval(void *user, int n, size_t count, const uint64_t *masks, double *values,
                         attx_error *err)
{
    const matrix_game *mg = user;
    size_t words = attx_mask_words(n);
    uint64_t cur[ATTX_GAME_MAX_PLAYERS / 64];   /* the previous coalition and its pair sum */
    double cur_sum = 0;
    int have_cur = 0;
    int *members = malloc((size_t)n * sizeof *members);
    if (!members) return attx_fail(err, "pairwise game: out of memory");
    for (size_t k = 0; k < count; k++) {
        const uint64_t *m = masks + k * words;
        int size = mask_count(m, words);
        int changed = 0;
        if (have_cur)
            for (size_t w = 0; w < words; w++) changed += __builtin_popcountll(m[w] ^ cur[w]);
        /* incremental costs about changed * n, recomputing size^2 / 2 */
        if (!have_cur || (double)changed * n > 0.5 * (double)size * size + n) {
            int c = 0;
            for (size_t w = 0; w < words; w++)
                for (uint64_t bits = m[w]; bits; bits &= bits - 1)
                    members[c++] = (int)(w * 64 + (size_t)__builtin_ctzll(bits));
            double s = 0;
            for (int a = 0; a < c; a++) {
                const double *row = mg->pair + (size_t)members[a] * (size_t)n;
                for (int b = a + 1; b < c; b++) s += row[members[b]];
            }
            cur_sum = s;
            memcpy(cur, m, words * sizeof *cur);
            have_cur = 1;
        } else {
            for (size_t w = 0; w < words; w++) {
                for (uint64_t diff = m[w] ^ cur[w]; diff; diff &= diff - 1) {
                    int b = __builtin_ctzll(diff);
                    int p = (int)(w * 64 + (size_t)b);
                    uint64_t bit = (uint64_t)1 << b;
                    if (m[w] & bit) {
                        cur_sum += pair_row_sum(mg, p, cur, words);   /* P_pp = 0 */
                        cur[w] |= bit;
                    } else {
                        cur[w] &= ~bit;
                        cur_sum -= pair_row_sum(mg, p, cur, words);
                    }
                }
            }
        }
        if (size == 0) values[k] = 0;
        else if (size == 1) values[k] = mg->weights[first_member(m, words)];   /* v({i}) = M_ii */
        else values[k] = cur_sum;
    }
    free(members);
    return 0;
}

static int check_matrix_args(attx_game *g, int n, const double *data, size_t len, const char *what,
                             attx_error *err)
{
    if (!g) return attx_fail(err, "%s game: no game to fill", what);
    memset(g, 0, sizeof *g);
    if (n < 0 || n > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "%s game: %d players (the limit is %d)", what, n, ATTX_GAME_MAX_PLAYERS);
    if (!data && len > 0) return attx_fail(err, "%s game: no values", what);
    for (size_t k = 0; k < len; k++)
        if (!isfinite(data[k]))
            return attx_fail(err, "%s game: value %zu is not finite (%g)", what, k, data[k]);
    return 0;
}

int attx_game_additive(attx_game *g, int n, const double *weights, attx_error *err)
{
    if (check_matrix_args(g, n, weights, (size_t)(n > 0 ? n : 0), "additive", err) != 0) return -1;
    matrix_game *mg = calloc(1, sizeof *mg);
    if (mg) mg->weights = malloc(((size_t)n + 1) * sizeof *mg->weights);
    if (!mg || !mg->weights) {
        matrix_game_free(mg);
        return attx_fail(err, "additive game: out of memory");
    }
    mg->n = n;
    if (n > 0) memcpy(mg->weights, weights, (size_t)n * sizeof *weights);
    g->n = n;
    g->eval = additive_eval;
    g->user = mg;
    g->free_user = matrix_game_free;
    g->kind = ATTX_GAME_ADDITIVE;
    g->thread_safe = 1;
    g->exact_max_players = 24;
    return 0;
}

static int pairwise_game(attx_game *g, int n, const double *M, int use_max, attx_error *err)
{
    const char *what = use_max ? "Max-Mutual" : "Mutual";
    size_t nn = (size_t)(n > 0 ? n : 0) * (size_t)(n > 0 ? n : 0);
    if (check_matrix_args(g, n, M, nn, what, err) != 0) return -1;
    matrix_game *mg = calloc(1, sizeof *mg);
    if (mg) {
        mg->weights = malloc(((size_t)n + 1) * sizeof *mg->weights);
        mg->pair = malloc((nn + 1) * sizeof *mg->pair);
        mg->M = malloc((nn + 1) * sizeof *mg->M);
    }
    if (!mg || !mg->weights || !mg->pair || !mg->M) {
        matrix_game_free(mg);
        return attx_fail(err, "%s game: out of memory", what);
    }
    mg->n = n;
    if (nn) memcpy(mg->M, M, nn * sizeof *M);
    for (int i = 0; i < n; i++) {
        mg->weights[i] = M[(size_t)i * n + i];
        for (int j = 0; j < n; j++) {
            double a = M[(size_t)i * n + j], b = M[(size_t)j * n + i];
            mg->pair[(size_t)i * n + j] = i == j ? 0 : use_max ? (a > b ? a : b) : a + b;
        }
    }
    g->n = n;
    g->eval = pairwise_eval;
    g->user = mg;
    g->free_user = matrix_game_free;
    g->kind = use_max ? ATTX_GAME_MAX_MUTUAL : ATTX_GAME_MUTUAL;
    g->thread_safe = 1;
    g->exact_max_players = 24;
    return 0;
}

int attx_game_mutual(attx_game *g, int n, const double *M, attx_error *err)
{
    return pairwise_game(g, n, M, 0, err);
}

int attx_game_max_mutual(attx_game *g, int n, const double *M, attx_error *err)
{
    return pairwise_game(g, n, M, 1, err);
}
