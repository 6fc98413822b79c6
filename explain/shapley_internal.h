/* shapley_internal.h — internal to explain/: what the games and solvers share. */
#ifndef ATTX_SHAPLEY_INTERNAL_H
#define ATTX_SHAPLEY_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "attx_explain.h"

/* User data of the games made by attx_game_additive / _mutual / _max_mutual. */
typedef struct matrix_game {
    int n;
    double *weights;   /* additive: w[n]; pairwise: diag M_ii [n] */
    double *pair;      /* pairwise: n x n symmetric, pair[i*n+j] = value of the unordered pair
                          {i,j} (M_ij + M_ji for Mutual, max(M_ij, M_ji) for Max-Mutual), 0 on
                          the diagonal; NULL for the additive game */
    double *M;         /* pairwise: the copied matrix (for the closed forms) */
} matrix_game;

/* Shapley weight of a coalition of size s not containing the player: s!(n-s-1)!/n!, 0 <= s < n.
 * weights[0..n) filled by the recurrence w(0) = 1/n, w(s) = w(s-1) * s/(n-s). */
void shapley_size_weights(int n, double *w);

/* Validates the common solver arguments (game, eval, n range, phi). */
int shapley_check_game(const attx_game *g, const double *phi, const char *solver, attx_error *err);

/* Sets info to "nothing evaluated" (NAN values). info may be NULL. */
void shapley_info_reset(attx_shapley_info *info);

/* Binomial coefficient C(n, k) as a double (inf when it overflows). */
double shapley_binomial(int n, int k);

/* Popcount of an n-player mask. */
static inline int mask_count(const uint64_t *m, size_t words)
{
    int c = 0;
    for (size_t w = 0; w < words; w++) c += __builtin_popcountll(m[w]);
    return c;
}

#endif
