/* metrics.c — faithfulness of an attribution vector (comprehensiveness, sufficiency, AOPC) on a
 * game, and the dataset-level prediction F1.
 *
 * P1 (research-notes §1.4, shapley/eval/eval.py): bins K = {0, 10, 20, 50} %, k_n =
 * ceil(n k / 100), top-k_n by score, removal = [MASK], p = probability of the originally
 * predicted class, comp = sum_k [p(x) - p(x \ top)] / 5, suff = sum_k [p(x) - p(top)] / 5.
 * ERASER (DeYoung et al. 2020): AOPC over B = {1, 5, 10, 20, 50} %, divided by |B| + 1 = 6.
 */
#include "attx_explain.h"
#include "rng.h"

#include <math.h>
#include <stdint.h>
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

/* The key a player is ranked by, in float32: P1 ranks float32 tensors, and scores equal in
 * float32 are the ties of attx_faithfulness_options. */
static float key32(double score, int rank_by_abs)
{
    return (float)(rank_by_abs ? fabs(score) : score);
}

/* top[words] = the k players top_k takes under FIRST (the first k of order) or P1 (torch.topk's
 * pick over P1's padded vector). */
static int top_set(int n, const double *scores, const int *order, const attx_faithfulness_options *o, int k,
                   uint64_t *top, attx_error *err)
{
    memset(top, 0, attx_mask_words(n) * sizeof *top);
    if (o->ties != ATTX_TIES_P1) {
        for (int t = 0; t < k; t++) attx_mask_set(top, order[t]);
        return 0;
    }
    if (k == 0) return 0;
    int T = o->padded_length >= n + 2 ? o->padded_length : n + 2;
    float *v = malloc((size_t)T * sizeof *v);
    int *picked = malloc((size_t)k * sizeof *picked);
    int rc = -1;
    if (!v || !picked) {
        attx_fail(err, "ties: out of memory");
        goto done;
    }
    /* P1's vector: [CLS] at 0, the players at 1..n, [SEP] and the padding after, all non-players
     * at -inf */
    for (int j = 0; j < T; j++) v[j] = -INFINITY;
    for (int i = 0; i < n; i++) v[1 + i] = key32(scores[i], o->rank_by_abs);
    if (attx_torch_topk_set(v, T, k, picked, err) != 0) goto done;
    for (int t = 0; t < k; t++) {
        if (picked[t] < 1 || picked[t] > n) {
            attx_fail(err, "ties: a score is below float32's range, so torch.topk would take a non-player");
            goto done;
        }
        attx_mask_set(top, picked[t] - 1);
    }
    rc = 0;
done:
    free(v);
    free(picked);
    return rc;
}

/* The players tied in float32 with the k-th ranked one (group[g], in index order; the return
 * value is g) and how many of them top_k takes (*taken); the bin is tied when 0 < taken < g.
 * *above = the players ranked above the group. k = 0 or n: no group (returns 0). */
static int boundary_group(int n, const float *key, const int *order, int k, int *group, int *taken)
{
    if (k == 0 || k == n) return 0;
    float at = key[order[k - 1]];
    int g = 0, above = 0;
    for (int i = 0; i < n; i++) {
        if (key[i] == at) group[g++] = i;
        else if (key[i] > at) above++;
    }
    *taken = k - above;
    return g;
}

int attx_top_players_mask(int n, const double *scores, const attx_faithfulness_options *opts, int percent,
                          uint64_t *mask, int *k_out, attx_error *err)
{
    if (percent < 0 || percent > 100)
        return attx_fail(err, "top players: %d%% (0..100 allowed)", percent);
    if (!mask) return attx_fail(err, "top players: no output mask");
    if (n < 0 || n > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "top players: %d players (0..%d allowed)", n, ATTX_GAME_MAX_PLAYERS);
    attx_faithfulness_options o = opts ? *opts : (attx_faithfulness_options){0};
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order) return attx_fail(err, "top players: out of memory");
    int k = bin_players(n, percent), rc = -1;
    if (attx_rank_players(n, scores, o.rank_by_abs, order, err) == 0 &&
        top_set(n, scores, order, &o, k, mask, err) == 0) {
        if (k_out) *k_out = k;
        rc = 0;
    }
    free(order);
    return rc;
}

/* Index of mask among the first count masks of list, or -1. */
static long find_mask(const uint64_t *list, size_t count, size_t words, const uint64_t *mask)
{
    for (size_t c = 0; c < count; c++)
        if (!memcmp(list + c * words, mask, words * sizeof *mask)) return (long)c;
    return -1;
}

/* The coalitions to evaluate: N first, then every bin's N \ top_k and top_k for each of its
 * choices of tied players; equal coalitions are evaluated once. */
typedef struct coalitions {
    size_t words, count, cap;
    uint64_t *list;
} coalitions;

static long add_coalition(coalitions *c, const uint64_t *mask)
{
    long at = find_mask(c->list, c->count, c->words, mask);
    if (at >= 0) return at;
    if (c->count == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        uint64_t *grown = realloc(c->list, cap * c->words * sizeof *grown);
        if (!grown) return -1;
        c->list = grown;
        c->cap = cap;
    }
    memcpy(c->list + c->count * c->words, mask, c->words * sizeof *mask);
    return (long)c->count++;
}

/* C(g, t), or cap + 1 when larger than cap */
static uint64_t choose_capped(int g, int t, uint64_t cap)
{
    uint64_t c = 1;
    for (int i = 1; i <= t; i++) {
        c = c * (uint64_t)(g - t + i) / (uint64_t)i;   /* exact: c·(g−t+i) is C(g−t+i, i)·i */
        if (c > cap) return cap + 1;
    }
    return c;
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
    if (o.ties < ATTX_TIES_FIRST || o.ties > ATTX_TIES_AVERAGE)
        return attx_fail(err, "faithfulness: unknown tie rule %d", (int)o.ties);
    int samples = o.tie_samples > 0 ? o.tie_samples : 64;

    size_t words = attx_mask_words(n);
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    int *group = malloc((size_t)(n > 0 ? n : 1) * sizeof *group);
    int *pick = malloc((size_t)(n > 0 ? n : 1) * sizeof *pick);
    float *key = malloc((size_t)(n > 0 ? n : 1) * sizeof *key);
    uint64_t *top = calloc(words, sizeof *top), *rest = calloc(words, sizeof *rest);
    uint64_t *full = calloc(words, sizeof *full);
    long *at = NULL;                         /* per bin and choice: N \ top_k, then top_k */
    int first_choice[ATTX_FAITH_MAX_BINS + 1];
    coalitions c = {.words = words};
    double *values = NULL;
    int rc = -1;
    if (!order || !group || !pick || !key || !top || !rest || !full) goto oom;
    if (attx_rank_players(n, scores, o.rank_by_abs, order, err) != 0) goto done;
    for (int i = 0; i < n; i++) key[i] = key32(scores[i], o.rank_by_abs);
    for (int i = 0; i < n; i++) attx_mask_set(full, i);
    if (add_coalition(&c, full) < 0) goto oom;

    /* how many choices each bin averages over: 1, unless AVERAGE meets a tied bin; then all
     * C(g, t) choices of the tied group, or `samples` random ones when there are more */
    int total = 0;
    for (int b = 0; b < nb; b++) {
        int k = bin_players(n, bins[b]), taken = 0;
        int gsize = boundary_group(n, key, order, k, group, &taken);
        int tied = gsize > taken;
        out->tied_bins += tied;
        first_choice[b] = total;
        uint64_t count = o.ties == ATTX_TIES_AVERAGE && tied ? choose_capped(gsize, taken, (uint64_t)samples) : 1;
        total += (int)(count > (uint64_t)samples ? (uint64_t)samples : count);
    }
    first_choice[nb] = total;
    if (!(at = malloc(2 * (size_t)total * sizeof *at))) goto oom;

    attx_rng rng;
    attx_rng_seed_stream(&rng, o.seed, 0x7135);
    for (int b = 0; b < nb; b++) {
        int k = bin_players(n, bins[b]);
        out->percent[b] = bins[b];
        out->k[b] = k;
        int choices = first_choice[b + 1] - first_choice[b], taken = 0;
        int gsize = boundary_group(n, key, order, k, group, &taken);
        int exact = choices > 1 && choose_capped(gsize, taken, (uint64_t)samples) <= (uint64_t)samples;
        for (int t = 0; t < taken; t++) pick[t] = t;   /* the first combination of the group */
        for (int ch = 0; ch < choices; ch++) {
            if (choices == 1) {
                if (top_set(n, scores, order, &o, k, top, err) != 0) goto done;
            } else {
                /* the players above the group, plus `taken` of the group */
                memset(top, 0, words * sizeof *top);
                float boundary = key[group[0]];
                for (int i = 0; i < n; i++)
                    if (key[i] > boundary) attx_mask_set(top, i);
                if (exact) {
                    for (int t = 0; t < taken; t++) attx_mask_set(top, group[pick[t]]);
                    /* next combination in lexicographic order */
                    int t = taken - 1;
                    while (t >= 0 && pick[t] == gsize - taken + t) t--;
                    if (t >= 0) {
                        pick[t]++;
                        for (int u = t + 1; u < taken; u++) pick[u] = pick[u - 1] + 1;
                    }
                } else {
                    /* a uniform random `taken`-subset: a partial Fisher-Yates shuffle */
                    for (int i = 0; i < gsize; i++) pick[i] = group[i];
                    for (int t = 0; t < taken; t++) {
                        int j = t + (int)attx_rng_below(&rng, (uint64_t)(gsize - t));
                        int keep = pick[t];
                        pick[t] = pick[j];
                        pick[j] = keep;
                        attx_mask_set(top, pick[t]);
                    }
                }
            }
            for (size_t w = 0; w < words; w++) rest[w] = full[w] & ~top[w];
            long removed = add_coalition(&c, rest), kept = add_coalition(&c, top);
            if (removed < 0 || kept < 0) goto oom;
            at[2 * (size_t)(first_choice[b] + ch)] = removed;
            at[2 * (size_t)(first_choice[b] + ch) + 1] = kept;
        }
    }
    if (!(values = malloc(c.count * sizeof *values))) goto oom;
    if (attx_game_eval(g, c.count, c.list, values, err) != 0) goto done;

    double v_full = values[0], comp = 0, suff = 0;
    for (int b = 0; b < nb; b++) {
        int choices = first_choice[b + 1] - first_choice[b];
        double removed = 0, kept = 0;
        for (int ch = 0; ch < choices; ch++) {
            removed += values[at[2 * (size_t)(first_choice[b] + ch)]];
            kept += values[at[2 * (size_t)(first_choice[b] + ch) + 1]];
        }
        out->v_removed[b] = removed / choices;
        out->v_kept[b] = kept / choices;
        comp += v_full - out->v_removed[b];
        suff += v_full - out->v_kept[b];
    }
    out->comprehensiveness = comp / (nb + 1);   /* P1 and ERASER divide by |K| + 1 */
    out->sufficiency = suff / (nb + 1);
    out->v_full = v_full;
    out->bins = nb;
    out->evaluations = c.count;
    rc = 0;
    goto done;
oom:
    attx_fail(err, "faithfulness: out of memory");
done:
    free(order);
    free(group);
    free(pick);
    free(key);
    free(top);
    free(rest);
    free(full);
    free(at);
    free(c.list);
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
