/* shapley_paper.c — P1's own samplers and its unnormalised estimator (research-notes §1.3 d).
 *
 * The official code (approx_attn_shapley/utils.py) draws one set of coalitions per sentence,
 * shared by every player, and sums, for each player i, w(|S\{i}|) [v(S+i) - v(S-i)] over them,
 * w(s) = 1/(n C(n-1, s)), without dividing by the number of coalitions. Two samplers:
 *   random       every player of every coalition Bernoulli(0.5);
 *   kernel_shap  coalition 0 empty, coalition count-1 full, the count-2 in between of sizes
 *                z in 1..n-1 drawn i.i.d. with P(z) proportional to (n-1)/(C(n,z) z (n-z))
 *                (the per-coalition kernel weight, not multiplied by C(n,z)), members the first
 *                z of a random permutation, redrawn up to 10 times while the subset repeats an
 *                earlier one (after 10 tries the last draw is kept, as the code does).
 * attx draws with its own generator, so the coalitions are distributed as the paper's but are
 * not the same ones torch/numpy would draw.
 */
#include "shapley_internal.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

#define PAPER_DEFAULT_COUNT 100
#define PAPER_RETRIES 10

int attx_paper_coalitions(int n, attx_paper_sampler kind, int count, uint64_t seed,
                          uint64_t *masks, attx_error *err)
{
    if (n < 1 || n > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "paper sampler: %d players", n);
    if (kind != ATTX_PAPER_RANDOM && kind != ATTX_PAPER_KERNEL)
        return attx_fail(err, "paper sampler: unknown sampler %d", (int)kind);
    if (count < (kind == ATTX_PAPER_KERNEL ? 2 : 1))
        return attx_fail(err, "paper sampler: %d coalitions (at least %d)", count,
                         kind == ATTX_PAPER_KERNEL ? 2 : 1);
    if (!masks) return attx_fail(err, "paper sampler: no output array");
    size_t words = attx_mask_words(n);
    memset(masks, 0, (size_t)count * words * sizeof *masks);
    attx_rng rng;
    attx_rng_seed(&rng, seed);

    if (kind == ATTX_PAPER_RANDOM) {
        for (int m = 0; m < count; m++)
            for (int i = 0; i < n; i++)
                if (attx_rng_next(&rng) >> 63) attx_mask_set(masks + (size_t)m * words, i);
        return 0;
    }

    /* kernel_shap: sizes first (as the code draws them all before the members) */
    int *sizes = malloc((size_t)count * sizeof *sizes);
    double *cdf = malloc((size_t)(n > 1 ? n - 1 : 1) * sizeof *cdf);
    int *perm = malloc((size_t)n * sizeof *perm);
    if (!sizes || !cdf || !perm) {
        free(sizes);
        free(cdf);
        free(perm);
        return attx_fail(err, "paper sampler: out of memory");
    }
    double acc = 0;
    for (int z = 1; z <= n - 1; z++) {
        acc += (double)(n - 1) / (shapley_binomial(n, z) * z * (n - z));
        cdf[z - 1] = acc;
    }
    sizes[0] = 0;
    sizes[count - 1] = n;
    for (int m = 1; m < count - 1; m++) {
        if (n == 1) {   /* no size strictly between empty and full */
            sizes[m] = 0;
            continue;
        }
        double u = attx_rng_uniform(&rng) * acc;
        int z = 1;
        while (z < n - 1 && u >= cdf[z - 1]) z++;
        sizes[m] = z;
    }
    /* members; a coalition repeats an earlier one iff it has the same size and players */
    for (int m = 0; m < count; m++) {
        int z = sizes[m];
        if (z == 0) continue;
        uint64_t *dst = masks + (size_t)m * words;
        for (int attempt = 0; attempt < PAPER_RETRIES; attempt++) {
            attx_rng_permutation(&rng, perm, n);
            memset(dst, 0, words * sizeof *dst);
            for (int j = 0; j < z; j++) attx_mask_set(dst, perm[j]);
            int repeat = 0;
            for (int q = 0; q < m && !repeat; q++)
                if (sizes[q] == z && !memcmp(masks + (size_t)q * words, dst, words * sizeof *dst))
                    repeat = 1;
            if (!repeat) break;
        }
    }
    free(sizes);
    free(cdf);
    free(perm);
    return 0;
}

int attx_paper_estimate(const attx_game *g, size_t count, const uint64_t *masks, double *phi,
                        attx_shapley_info *info, attx_error *err)
{
    shapley_info_reset(info);
    if (shapley_check_game(g, phi, "paper estimator", err) != 0) return -1;
    int n = g->n;
    if (n == 0) return 0;
    if (!masks && count > 0) return attx_fail(err, "paper estimator: no coalitions");
    size_t words = attx_mask_words(n);
    /* w(s) = 1/(n C(n-1,s)) = s!(n-1-s)!/n!, the Shapley weight */
    double *w = malloc((size_t)n * sizeof *w);
    /* per coalition: for each player, S+i then S-i (consecutive masks differ by one or two
     * players, so matrix games update incrementally) */
    size_t per = 2 * (size_t)n;
    uint64_t *batch = malloc(per * words * sizeof *batch);
    double *values = malloc(per * sizeof *values);
    if (!w || !batch || !values) {
        free(w);
        free(batch);
        free(values);
        return attx_fail(err, "paper estimator: out of memory");
    }
    shapley_size_weights(n, w);
    for (int i = 0; i < n; i++) phi[i] = 0;
    int rc = 0;
    for (size_t m = 0; m < count && rc == 0; m++) {
        const uint64_t *S = masks + m * words;
        for (int i = 0; i < n; i++) {
            uint64_t *with = batch + 2 * (size_t)i * words, *without = with + words;
            memcpy(with, S, words * sizeof *S);
            memcpy(without, S, words * sizeof *S);
            attx_mask_set(with, i);
            attx_mask_clear(without, i);
        }
        if (n % 64)   /* ignore stray bits above n in caller masks */
            for (size_t k = 0; k < per; k++) batch[k * words + words - 1] &= ((uint64_t)1 << (n % 64)) - 1;
        if (attx_game_eval(g, per, batch, values, err) != 0) {
            rc = -1;
            break;
        }
        if (info) info->evaluations += per;
        for (int i = 0; i < n; i++) {
            int s = mask_count(batch + (2 * (size_t)i + 1) * words, words);
            phi[i] += w[s] * (values[2 * i] - values[2 * i + 1]);
        }
    }
    if (info) info->samples = count;
    free(w);
    free(batch);
    free(values);
    return rc;
}

int attx_shapley_paper(const attx_game *g, attx_paper_sampler kind, int count, uint64_t seed,
                       double *phi, attx_shapley_info *info, attx_error *err)
{
    shapley_info_reset(info);
    if (shapley_check_game(g, phi, "paper sampler", err) != 0) return -1;
    if (g->n == 0) return 0;
    if (count == 0) count = PAPER_DEFAULT_COUNT;
    if (count < 0) return attx_fail(err, "paper sampler: %d coalitions", count);
    size_t words = attx_mask_words(g->n);
    uint64_t *masks = malloc((size_t)count * words * sizeof *masks);
    if (!masks) return attx_fail(err, "paper sampler: out of memory");
    int rc = attx_paper_coalitions(g->n, kind, count, seed, masks, err);
    if (rc == 0) rc = attx_paper_estimate(g, (size_t)count, masks, phi, info, err);
    free(masks);
    return rc;
}
