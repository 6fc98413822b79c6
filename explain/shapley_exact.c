/* shapley_exact.c — exact Shapley values from all 2^n coalitions, enumerated in Gray-code order.
 *
 * With w(s) = s!(n-s-1)!/n!, phi_i = sum_{S containing i} w(|S|-1) v(S) - sum_{S not containing
 * i} w(|S|) v(S). Writing a(S) = w(|S|-1) v(S) (0 for S empty) and b(S) = w(|S|) v(S) (0 for S
 * = N), phi_i = sum_{S containing i} (a(S) + b(S)) - sum_S b(S): one pass, nothing stored.
 *
 * Coalition k of the enumeration is gray(k) = k ^ (k >> 1), so coalitions k and k+1 differ by
 * one player. The 2^n indices are cut into fixed chunks of CHUNK coalitions; each chunk sums
 * into its own accumulators and the chunks are added in order afterwards, so the result is the
 * same whether the chunks ran on one thread or many.
 */
#include "shapley_internal.h"
#include "parallel.h"

#include <stdlib.h>
#include <string.h>

#define EXACT_HARD_LIMIT 30
#define CHUNK_LOG2 12

int attx_shapley_exact(const attx_game *g, int max_players, double *phi, attx_shapley_info *info,
                       attx_error *err)
{
    shapley_info_reset(info);
    if (shapley_check_game(g, phi, "exact Shapley", err) != 0) return -1;
    int n = g->n;
    int limit = max_players > 0 ? max_players : g->exact_max_players > 0 ? g->exact_max_players : 16;
    if (limit > EXACT_HARD_LIMIT) limit = EXACT_HARD_LIMIT;
    if (n > limit)
        return attx_fail(err, "exact Shapley: %d players is more than the limit of %d for this "
                              "game (2^%d coalitions); use a sampler", n, limit, n);
    if (n == 0) return 0;

    double w[EXACT_HARD_LIMIT + 1];
    shapley_size_weights(n, w);
    w[n] = 0;   /* b(N) = 0 */

    uint64_t total = (uint64_t)1 << n;
    int chunk_log2 = n < CHUNK_LOG2 ? n : CHUNK_LOG2;
    uint64_t chunk = (uint64_t)1 << chunk_log2;
    size_t n_chunks = (size_t)(total >> chunk_log2);
    size_t stride = (size_t)n + 1;   /* per chunk: sum over S containing i of a+b [n], sum b */
    double *acc = calloc(n_chunks * stride, sizeof *acc);
    if (!acc) return attx_fail(err, "exact Shapley: out of memory");
    double v_empty = 0, v_full = 0;

    /* the error reported is the one of the lowest failing chunk (deterministic) */
    size_t failed_chunk = (size_t)-1;
    attx_error first_err = {{0}};
    int threads = g->thread_safe ? omp_get_max_threads() : 1;
    if ((size_t)threads > n_chunks) threads = (int)n_chunks;

#pragma omp parallel num_threads(threads) if (threads > 1 && ATTX_PARALLEL(ATTX_WORK_COALITIONS, total))
    {
        uint64_t *masks = malloc(chunk * sizeof *masks);
        double *values = malloc(chunk * sizeof *values);
        attx_error local_err = {{0}};
        size_t local_failed = (size_t)-1;
        if (!masks || !values) {
            local_failed = 0;
            attx_fail(&local_err, "exact Shapley: out of memory");
        }
#pragma omp for schedule(dynamic, 1)
        for (size_t c = 0; c < n_chunks; c++) {
            if (local_failed != (size_t)-1) continue;
            uint64_t k0 = (uint64_t)c << chunk_log2;
            for (uint64_t t = 0; t < chunk; t++) {
                uint64_t k = k0 + t;
                masks[t] = k ^ (k >> 1);
            }
            if (attx_game_eval(g, chunk, masks, values, &local_err) != 0) {
                local_failed = c;
                continue;
            }
            double *a = acc + c * stride;
            for (uint64_t t = 0; t < chunk; t++) {
                uint64_t S = masks[t];
                double v = values[t];
                int s = __builtin_popcountll(S);
                if (S == 0) v_empty = v;               /* exactly one chunk holds each of these */
                if (s == n) v_full = v;
                double bv = w[s] * v;
                double ab = (s > 0 ? w[s - 1] * v : 0) + bv;
                a[n] += bv;
                for (uint64_t bits = S; bits; bits &= bits - 1) a[__builtin_ctzll(bits)] += ab;
            }
        }
        if (local_failed != (size_t)-1) {
#pragma omp critical(attx_exact_error)
            if (local_failed < failed_chunk) {
                failed_chunk = local_failed;
                first_err = local_err;
            }
        }
        free(masks);
        free(values);
    }
    if (failed_chunk != (size_t)-1) {
        free(acc);
        if (err) *err = first_err;
        return -1;
    }
    for (int i = 0; i < n; i++) phi[i] = 0;
    double sum_b = 0;
    for (size_t c = 0; c < n_chunks; c++) {
        const double *a = acc + c * stride;
        for (int i = 0; i < n; i++) phi[i] += a[i];
        sum_b += a[n];
    }
    for (int i = 0; i < n; i++) phi[i] -= sum_b;
    free(acc);
    if (info) {
        info->evaluations = total;
        info->v_empty = v_empty;
        info->v_full = v_full;
    }
    return 0;
}
