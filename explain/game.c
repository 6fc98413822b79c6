/* game.c — games as values: the batched evaluation wrapper, release, shared solver helpers. */
#include "shapley_internal.h"

#include <string.h>

void attx_game_free(attx_game *g)
{
    if (!g) return;
    if (g->free_user) g->free_user(g->user);
    memset(g, 0, sizeof *g);
}

int attx_game_eval(const attx_game *g, size_t count, const uint64_t *masks, double *values,
                   attx_error *err)
{
    if (!g || !g->eval) return attx_fail(err, "game: no evaluation function");
    size_t words = attx_mask_words(g->n);
    size_t step = g->max_batch ? g->max_batch : count;
    for (size_t start = 0; start < count; start += step) {
        size_t len = count - start < step ? count - start : step;
        if (g->eval(g->user, g->n, len, masks + start * words, values + start, err) != 0)
            return -1;
        for (size_t k = start; k < start + len; k++)
            if (!isfinite(values[k]))
                return attx_fail(err, "game: value of coalition %zu of the batch is not finite (%g)",
                                 k, values[k]);
    }
    return 0;
}

void shapley_size_weights(int n, double *w)
{
    if (n < 1) return;
    w[0] = 1.0 / n;
    for (int s = 1; s < n; s++) w[s] = w[s - 1] * s / (n - s);
}

int shapley_check_game(const attx_game *g, const double *phi, const char *solver, attx_error *err)
{
    if (!g) return attx_fail(err, "%s: no game", solver);
    if (!g->eval) return attx_fail(err, "%s: the game has no evaluation function", solver);
    if (g->n < 0 || g->n > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "%s: %d players (the limit is %d)", solver, g->n,
                         ATTX_GAME_MAX_PLAYERS);
    if (!phi && g->n > 0) return attx_fail(err, "%s: no output array", solver);
    return 0;
}

void shapley_info_reset(attx_shapley_info *info)
{
    if (!info) return;
    info->evaluations = 0;
    info->samples = 0;
    info->v_empty = NAN;
    info->v_full = NAN;
}

double shapley_binomial(int n, int k)
{
    if (k < 0 || k > n) return 0;
    if (k > n - k) k = n - k;
    double c = 1;
    for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
    return c;
}
