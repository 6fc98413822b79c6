/* metrics.c — faithfulness of an attribution vector (comprehensiveness, sufficiency, AOPC) on a
 * game, and the dataset-level prediction F1.
 *
 * P1 (research-notes §1.4, shapley/eval/eval.py): bins K = {0, 10, 20, 50} %, k_n =
 * ceil(n k / 100), top-k_n by score, removal = [MASK], p = probability of the originally
 * predicted class, comp = sum_k [p(x) - p(x \ top)] / 5, suff = sum_k [p(x) - p(top)] / 5.
 * ERASER (DeYoung et al. 2020): AOPC over B = {1, 5, 10, 20, 50} %, divided by |B| + 1 = 6.
 */
#include "attx_explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int P1_BINS[] = {0, 10, 20, 50};
static const int ERASER_BINS[] = {1, 5, 10, 20, 50};

typedef struct rank_key {
    double key;
    int index;
} rank_key;

static int rank_cmp(const void *a, const void *b)   /* key descending, then lower index */
{
    const rank_key *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

int attx_rank_players(int n, const double *scores, int rank_by_abs, int *order, attx_error *err)
{
    if (n < 0 || n > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "ranking: %d players (0..%d allowed)", n, ATTX_GAME_MAX_PLAYERS);
    if (n == 0) return 0;
    if (!scores || !order) return attx_fail(err, "ranking: NULL array");
    rank_key *keys = malloc((size_t)n * sizeof *keys);
    if (!keys) return attx_fail(err, "ranking: out of memory");
    for (int i = 0; i < n; i++) {
        if (!isfinite(scores[i])) {
            free(keys);
            return attx_fail(err, "ranking: the score of player %d is not finite (%g)", i,
                             scores[i]);
        }
        double k = rank_by_abs ? fabs(scores[i]) : scores[i];
        keys[i] = (rank_key){k == 0 ? 0.0 : k, i};   /* -0 ties with +0 */
    }
    qsort(keys, (size_t)n, sizeof *keys, rank_cmp);
    for (int i = 0; i < n; i++) order[i] = keys[i].index;
    free(keys);
    return 0;
}

/* ceil(n percent / 100) in integers (the same as Python's math.ceil(n * k / 100) for integer k:
 * n k is exact and a non-multiple of 100 is at least 0.01 from an integer). */
static int bin_players(int n, int percent)
{
    return (int)(((long long)n * percent + 99) / 100);
}

int attx_top_players_mask(int n, const double *scores, int rank_by_abs, int percent,
                          uint64_t *mask, int *k_out, attx_error *err)
{
    if (percent < 0 || percent > 100)
        return attx_fail(err, "top players: %d%% (0..100 allowed)", percent);
    if (!mask) return attx_fail(err, "top players: no output mask");
    if (n < 0 || n > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "top players: %d players (0..%d allowed)", n, ATTX_GAME_MAX_PLAYERS);
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order) return attx_fail(err, "top players: out of memory");
    if (attx_rank_players(n, scores, rank_by_abs, order, err) != 0) {
        free(order);
        return -1;
    }
    int k = bin_players(n, percent);
    memset(mask, 0, attx_mask_words(n) * sizeof *mask);
    for (int t = 0; t < k; t++) attx_mask_set(mask, order[t]);
    if (k_out) *k_out = k;
    free(order);
    return 0;
}

/* Index of mask among the first count masks of list, or -1. */
static long find_mask(const uint64_t *list, size_t count, size_t words, const uint64_t *mask)
{
    for (size_t c = 0; c < count; c++)
        if (!memcmp(list + c * words, mask, words * sizeof *mask)) return (long)c;
    return -1;
}

int attx_faithfulness_eval(const attx_game *g, const double *scores,
                           const attx_faithfulness_options *opts, attx_faithfulness *out,
                           attx_error *err)
{
    if (!g || !g->eval) return attx_fail(err, "faithfulness: no game");
    if (!out) return attx_fail(err, "faithfulness: no output");
    memset(out, 0, sizeof *out);
    int n = g->n;
    attx_faithfulness_options o = opts ? *opts : (attx_faithfulness_options){0};
    const int *bins;
    int nb;
    if (o.count > 0) {
        if (o.count > ATTX_FAITH_MAX_BINS || !o.percents)
            return attx_fail(err, "faithfulness: %d bins (1..%d, with their percents)", o.count,
                             ATTX_FAITH_MAX_BINS);
        bins = o.percents;
        nb = o.count;
    } else if (o.count < 0) {
        return attx_fail(err, "faithfulness: %d bins", o.count);
    } else if (o.bins == ATTX_FAITH_P1) {
        bins = P1_BINS;
        nb = (int)(sizeof P1_BINS / sizeof *P1_BINS);
    } else if (o.bins == ATTX_FAITH_ERASER) {
        bins = ERASER_BINS;
        nb = (int)(sizeof ERASER_BINS / sizeof *ERASER_BINS);
    } else {
        return attx_fail(err, "faithfulness: unknown bin preset %d", (int)o.bins);
    }
    for (int b = 0; b < nb; b++)
        if (bins[b] < 0 || bins[b] > 100)
            return attx_fail(err, "faithfulness: bin %d is %d%% (0..100 allowed)", b, bins[b]);

    size_t words = attx_mask_words(n), cap = 1 + 2 * (size_t)nb;
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    uint64_t *list = calloc(cap * words, sizeof *list);
    uint64_t *top = calloc(words, sizeof *top), *rest = calloc(words, sizeof *rest);
    long *at_removed = malloc((size_t)nb * sizeof *at_removed);
    long *at_kept = malloc((size_t)nb * sizeof *at_kept);
    double *values = malloc(cap * sizeof *values);
    int rc = -1;
    if (!order || !list || !top || !rest || !at_removed || !at_kept || !values) {
        attx_fail(err, "faithfulness: out of memory");
        goto done;
    }
    if (attx_rank_players(n, scores, o.rank_by_abs, order, err) != 0) goto done;

    /* the distinct coalitions: N first, then each bin's N \ top_k and top_k */
    size_t count = 1;
    for (int i = 0; i < n; i++) attx_mask_set(list, i);
    for (int b = 0; b < nb; b++) {
        int k = bin_players(n, bins[b]);
        memset(top, 0, words * sizeof *top);
        for (int t = 0; t < k; t++) attx_mask_set(top, order[t]);
        for (size_t w = 0; w < words; w++) rest[w] = list[w] & ~top[w];   /* list[0..words) = N */
        const uint64_t *pair[2] = {rest, top};
        long *at[2] = {at_removed, at_kept};
        for (int p = 0; p < 2; p++) {
            long c = find_mask(list, count, words, pair[p]);
            if (c < 0) {
                memcpy(list + count * words, pair[p], words * sizeof *list);
                c = (long)count++;
            }
            at[p][b] = c;
        }
        out->percent[b] = bins[b];
        out->k[b] = k;
    }
    if (attx_game_eval(g, count, list, values, err) != 0) goto done;

    double v_full = values[0], comp = 0, suff = 0;
    for (int b = 0; b < nb; b++) {
        out->v_removed[b] = values[at_removed[b]];
        out->v_kept[b] = values[at_kept[b]];
        comp += v_full - out->v_removed[b];
        suff += v_full - out->v_kept[b];
    }
    out->comprehensiveness = comp / (nb + 1);   /* P1 and ERASER divide by |K| + 1 */
    out->sufficiency = suff / (nb + 1);
    out->v_full = v_full;
    out->bins = nb;
    out->evaluations = count;
    rc = 0;
done:
    free(order);
    free(list);
    free(top);
    free(rest);
    free(at_removed);
    free(at_kept);
    free(values);
    return rc;
}

int attx_f1_scores(size_t count, const int *gold, const int *pred, double *macro,
                   double *weighted, attx_error *err)
{
    if (count == 0) return attx_fail(err, "F1: no examples");
    if (!gold || !pred) return attx_fail(err, "F1: NULL labels");
    int max_label = 0;
    for (size_t k = 0; k < count; k++) {
        if (gold[k] < 0 || pred[k] < 0)
            return attx_fail(err, "F1: example %zu has a negative label (gold %d, predicted %d)",
                             k, gold[k], pred[k]);
        if (gold[k] > max_label) max_label = gold[k];
        if (pred[k] > max_label) max_label = pred[k];
    }
    if (max_label >= 1 << 24) return attx_fail(err, "F1: label %d is too large", max_label);
    size_t L = (size_t)max_label + 1;
    size_t *tp = calloc(L, sizeof *tp), *n_gold = calloc(L, sizeof *n_gold);
    size_t *n_pred = calloc(L, sizeof *n_pred);
    if (!tp || !n_gold || !n_pred) {
        free(tp);
        free(n_gold);
        free(n_pred);
        return attx_fail(err, "F1: out of memory");
    }
    for (size_t k = 0; k < count; k++) {
        n_gold[gold[k]]++;
        n_pred[pred[k]]++;
        if (gold[k] == pred[k]) tp[gold[k]]++;
    }
    double sum = 0, wsum = 0;
    int labels = 0;
    for (size_t l = 0; l < L; l++) {
        if (n_gold[l] == 0 && n_pred[l] == 0) continue;   /* sklearn: labels present only */
        /* 2 tp / (2 tp + fp + fn) with fp = n_pred - tp, fn = n_gold - tp */
        double f1 = 2.0 * (double)tp[l] / (double)(n_gold[l] + n_pred[l]);
        sum += f1;
        wsum += f1 * (double)n_gold[l];
        labels++;
    }
    if (macro) *macro = sum / labels;
    if (weighted) *weighted = wsum / (double)count;
    free(tp);
    free(n_gold);
    free(n_pred);
    return 0;
}
