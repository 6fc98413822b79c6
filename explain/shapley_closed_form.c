/* shapley_closed_form.c — Shapley values of the additive, Mutual and Max-Mutual games in O(n^2).
 *
 * Pairwise games (research-notes §1.3 b, c): v(empty) = 0, v({i}) = M_ii, and for |S| >= 2
 * v(S) = sum_{i<j in S} P_ij. Player i's Shapley value is
 *   phi_i = M_ii/n + sum_{j != i} [ P_ij/2 - M_jj/(n(n-1)) ]
 * (the singleton rule contributes M_ii when i comes first, probability 1/n, and takes M_jj back
 * when i joins {j} as the second player, probability 1/(n(n-1)); the pair {i,j} is shared
 * equally). P_ij = M_ij + M_ji (Mutual) or max(M_ij, M_ji) (Max-Mutual). n = 1: phi = M_11.
 */
#include "shapley_internal.h"

static int pairwise_closed_form(int n, const double *M, int use_max, double *phi, attx_error *err)
{
    const char *what = use_max ? "Max-Mutual closed form" : "Mutual closed form";
    if (n < 1) return attx_fail(err, "%s: %d players", what, n);
    if (!M || !phi) return attx_fail(err, "%s: NULL matrix or output", what);
    if (n == 1) {
        phi[0] = M[0];
        return 0;
    }
    double sum_diag = 0;
    for (int j = 0; j < n; j++) sum_diag += M[(size_t)j * n + j];
    double pair_den = (double)n * (double)(n - 1);
    for (int i = 0; i < n; i++) {
        double pairs = 0;
        for (int j = 0; j < n; j++) {
            if (j == i) continue;
            double a = M[(size_t)i * n + j], b = M[(size_t)j * n + i];
            pairs += use_max ? (a > b ? a : b) : a + b;
        }
        double mii = M[(size_t)i * n + i];
        phi[i] = mii / n + 0.5 * pairs - (sum_diag - mii) / pair_den;
    }
    return 0;
}

int attx_shapley_mutual_closed_form(int n, const double *M, double *phi, attx_error *err)
{
    return pairwise_closed_form(n, M, 0, phi, err);
}

int attx_shapley_max_mutual_closed_form(int n, const double *M, double *phi, attx_error *err)
{
    return pairwise_closed_form(n, M, 1, phi, err);
}

int attx_shapley_closed_form(const attx_game *g, double *phi, attx_shapley_info *info,
                             attx_error *err)
{
    shapley_info_reset(info);
    if (shapley_check_game(g, phi, "closed form", err) != 0) return -1;
    const matrix_game *mg = g->user;
    if (g->n == 0) return 0;
    switch (g->kind) {
    case ATTX_GAME_ADDITIVE:
        for (int i = 0; i < g->n; i++) phi[i] = mg->weights[i];
        return 0;
    case ATTX_GAME_MUTUAL:
        return pairwise_closed_form(g->n, mg->M, 0, phi, err);
    case ATTX_GAME_MAX_MUTUAL:
        return pairwise_closed_form(g->n, mg->M, 1, phi, err);
    case ATTX_GAME_CUSTOM:
    default:
        return attx_fail(err, "closed form: no closed form for this game (use exact enumeration "
                              "or a sampler)");
    }
}
