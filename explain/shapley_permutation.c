/* shapley_permutation.c — Shapley values by sampling orders of the players, antithetic pairs.
 *
 * For an order pi, player pi_t's marginal contribution is v({pi_0..pi_t}) - v({pi_0..pi_{t-1}});
 * averaged over uniformly random orders it is unbiased for phi. Each sampled order is paired
 * with its reverse (antithetic: a player early in one is late in the other, which cancels much
 * of the position effect); the pair's average is one sample, so se_i = sd(pair averages) /
 * sqrt(pairs). Every order's contributions add up to v(N) - v(empty), so efficiency is exact.
 *
 * Evaluations: v(empty) and v(N) once, then the n-1 inner prefixes of every order. The prefixes
 * of one order differ by one player each, which the matrix games evaluate incrementally.
 */
#include "shapley_internal.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_PERMUTATIONS 1000
#define BATCH_MASKS 4096

int attx_shapley_permutation(const attx_game *g, const attx_permutation_options *opts,
                             double *phi, double *se, attx_shapley_info *info, attx_error *err)
{
    shapley_info_reset(info);
    if (shapley_check_game(g, phi, "permutation sampling", err) != 0) return -1;
    int n = g->n;
    if (n == 0) return 0;
    attx_permutation_options o = opts ? *opts : (attx_permutation_options){0};
    if (o.permutations < 0)
        return attx_fail(err, "permutation sampling: %d permutations", o.permutations);
    if (o.permutations == 0) o.permutations = DEFAULT_PERMUTATIONS;
    size_t pairs = ((size_t)o.permutations + 1) / 2;
    size_t words = attx_mask_words(n);

    /* v(empty), v(N) */
    uint64_t *ends = calloc(2 * words, sizeof *ends);
    if (!ends) return attx_fail(err, "permutation sampling: out of memory");
    for (int i = 0; i < n; i++) attx_mask_set(ends + words, i);
    double v_ends[2];
    int rc = attx_game_eval(g, 2, ends, v_ends, err);
    free(ends);
    if (rc != 0) return -1;
    double v_empty = v_ends[0], v_full = v_ends[1];
    if (info) {
        info->v_empty = v_empty;
        info->v_full = v_full;
        info->evaluations = 2;
        info->samples = 2 * pairs;
    }
    if (n == 1) {
        phi[0] = v_full - v_empty;
        if (se) se[0] = 0;
        return 0;
    }

    size_t per_pair = 2 * (size_t)(n - 1);   /* masks: forward prefixes, then reverse prefixes */
    size_t batch_cap = g->max_batch ? g->max_batch : BATCH_MASKS;
    size_t pairs_per_batch = batch_cap / per_pair;
    if (pairs_per_batch < 1) pairs_per_batch = 1;
    if (pairs_per_batch > pairs) pairs_per_batch = pairs;

    uint64_t *masks = malloc(pairs_per_batch * per_pair * words * sizeof *masks);
    double *values = malloc(pairs_per_batch * per_pair * sizeof *values);
    int *perms = malloc(pairs_per_batch * (size_t)n * sizeof *perms);
    double *mean = calloc((size_t)n, sizeof *mean), *m2 = calloc((size_t)n, sizeof *m2);
    double *contrib = malloc((size_t)n * sizeof *contrib);
    if (!masks || !values || !perms || !mean || !m2 || !contrib) {
        rc = attx_fail(err, "permutation sampling: out of memory");
        goto done;
    }

    attx_rng rng;
    attx_rng_seed(&rng, o.seed);
    size_t done_pairs = 0;
    while (done_pairs < pairs) {
        size_t batch = pairs - done_pairs < pairs_per_batch ? pairs - done_pairs : pairs_per_batch;
        memset(masks, 0, batch * per_pair * words * sizeof *masks);
        for (size_t p = 0; p < batch; p++) {
            int *pi = perms + p * (size_t)n;
            attx_rng_permutation(&rng, pi, n);
            uint64_t *fwd = masks + p * per_pair * words;
            uint64_t *rev = fwd + (size_t)(n - 1) * words;
            for (int t = 0; t < n - 1; t++) {   /* prefix t holds the first t+1 players */
                if (t > 0) {
                    memcpy(fwd + (size_t)t * words, fwd + (size_t)(t - 1) * words, words * sizeof *masks);
                    memcpy(rev + (size_t)t * words, rev + (size_t)(t - 1) * words, words * sizeof *masks);
                }
                attx_mask_set(fwd + (size_t)t * words, pi[t]);
                attx_mask_set(rev + (size_t)t * words, pi[n - 1 - t]);
            }
        }
        if (attx_game_eval(g, batch * per_pair, masks, values, err) != 0) {
            rc = -1;
            goto done;
        }
        if (info) info->evaluations += batch * per_pair;
        for (size_t p = 0; p < batch; p++) {
            const int *pi = perms + p * (size_t)n;
            const double *vf = values + p * per_pair, *vr = vf + (n - 1);
            double prev = v_empty;
            for (int t = 0; t < n; t++) {
                double cur = t < n - 1 ? vf[t] : v_full;
                contrib[pi[t]] = 0.5 * (cur - prev);
                prev = cur;
            }
            prev = v_empty;
            for (int t = 0; t < n; t++) {
                double cur = t < n - 1 ? vr[t] : v_full;
                contrib[pi[n - 1 - t]] += 0.5 * (cur - prev);
                prev = cur;
            }
            double k = (double)(done_pairs + p + 1);   /* Welford */
            for (int i = 0; i < n; i++) {
                double d = contrib[i] - mean[i];
                mean[i] += d / k;
                m2[i] += d * (contrib[i] - mean[i]);
            }
        }
        done_pairs += batch;
    }
    for (int i = 0; i < n; i++) {
        phi[i] = mean[i];
        if (se) se[i] = pairs >= 2 ? sqrt(m2[i] / (double)(pairs - 1) / (double)pairs) : NAN;
    }
    rc = 0;
done:
    free(masks);
    free(values);
    free(perms);
    free(mean);
    free(m2);
    free(contrib);
    return rc;
}
