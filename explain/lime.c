/* lime.c — LIME (LimeTextExplainer semantics) on a game whose players are LIME's features.
 *
 * Facts from lime (lime/lime_text.py __data_labels_distances, lime/lime_base.py; own code):
 * sample 0 is the original (all ones); the other samples draw their sizes with
 * randint(1, d + 1, num_samples - 1) first, then remove choice(range(d), size, replace=False)
 * each; distances are sklearn cosine distances to row 0 times 100; the kernel is
 * sqrt(exp(-d^2 / width^2)); 'auto' selection is forward selection when num_features <= 6 and
 * highest weights otherwise; the surrogate is Ridge(alpha=1, fit_intercept=True) with the
 * kernel weights as sample weights, and score = its weighted R^2 on the samples.
 */
#include "attx_explain.h"
#include "ridge_internal.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SAMPLES 5000
#define DEFAULT_WIDTH 25.0
#define DEFAULT_ALPHA 1.0
#define FORWARD_ALPHA 0.0      /* lime's forward selection: Ridge(alpha=0) */
#define HIGHEST_ALPHA 0.01     /* lime's highest weights: Ridge(alpha=0.01) */

int attx_lime_samples(int d, int num_samples, uint64_t seed, int run, uint64_t *masks,
                      attx_error *err)
{
    if (d < 1 || d > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "lime: %d features (1..%d allowed)", d, ATTX_GAME_MAX_PLAYERS);
    if (num_samples < 1) return attx_fail(err, "lime: %d samples (at least 1)", num_samples);
    if (run < 0) return attx_fail(err, "lime: run %d", run);
    if (!masks) return attx_fail(err, "lime: no output array");
    size_t words = attx_mask_words(d);
    int *pool = malloc((size_t)d * sizeof *pool);
    int *sizes = malloc((size_t)num_samples * sizeof *sizes);
    if (!pool || !sizes) {
        free(pool);
        free(sizes);
        return attx_fail(err, "lime: out of memory");
    }
    attx_rng rng;
    attx_rng_seed_stream(&rng, seed, (uint64_t)run);
    sizes[0] = 0;
    for (int k = 1; k < num_samples; k++) sizes[k] = 1 + (int)attx_rng_below(&rng, (uint64_t)d);
    for (int i = 0; i < d; i++) pool[i] = i;
    for (int k = 0; k < num_samples; k++) {
        uint64_t *m = masks + (size_t)k * words;
        memset(m, 0, words * sizeof *m);
        for (int i = 0; i < d; i++) attx_mask_set(m, i);
        /* partial Fisher-Yates: pool[0..s) becomes a uniform s-subset of the features (from
         * any arrangement of the pool, so it is not reset between samples) */
        for (int t = 0; t < sizes[k]; t++) {
            int j = t + (int)attx_rng_below(&rng, (uint64_t)(d - t));
            int tmp = pool[t];
            pool[t] = pool[j];
            pool[j] = tmp;
            attx_mask_clear(m, pool[t]);
        }
    }
    free(pool);
    free(sizes);
    return 0;
}

typedef struct mask_rows {
    const uint64_t *masks;
    size_t words;
    int d;
} mask_rows;

static void mask_row(const void *rows, size_t k, double *x)
{
    const mask_rows *r = rows;
    const uint64_t *m = r->masks + k * r->words;
    for (int j = 0; j < r->d; j++) x[j] = attx_mask_has(m, j);
}

static int mask_popcount(const uint64_t *m, size_t words)
{
    int c = 0;
    for (size_t w = 0; w < words; w++) c += __builtin_popcountll(m[w]);
    return c;
}

typedef struct abs_key {
    double key;
    int index;
} abs_key;

static int abs_key_cmp(const void *a, const void *b)   /* |coef| descending, then index */
{
    const abs_key *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Feature selection on the full system: cols[0..*m) = the kept features. beta[d], L[d*d]
 * scratch. */
static int lime_select(const ridge_system *s, attx_lime_selection sel, int num_features,
                       int *cols, int *m, double *beta, double *L)
{
    int d = s->d;
    if (sel == ATTX_LIME_NONE || num_features >= d) {
        for (int j = 0; j < d; j++) cols[j] = j;
        *m = d;
        return 0;
    }
    if (sel == ATTX_LIME_FORWARD) {
        /* greedy: add the feature whose least-squares fit with the chosen ones has the largest
         * weighted R^2 (strictly larger wins, so the first index on ties, as lime) */
        char *used = calloc((size_t)d, 1);
        if (!used) return -1;
        int chosen = 0;
        for (int step = 0; step < num_features; step++) {
            double best_score = -1e8;
            int best = -1;
            for (int f = 0; f < d; f++) {
                if (used[f]) continue;
                cols[chosen] = f;
                ridge_solve(s, cols, chosen + 1, FORWARD_ALPHA, beta, L);
                double r2 = ridge_r2_from_sums(s, cols, chosen + 1, beta);
                if (r2 > best_score || best < 0) {
                    best_score = r2;
                    best = f;
                }
            }
            cols[chosen++] = best;
            used[best] = 1;
        }
        free(used);
        *m = chosen;
        return 0;
    }
    /* highest weights: Ridge(alpha=0.01) on every feature, keep the largest |coef * x0| with
     * x0 = the all-ones original, i.e. |coef| (Python's stable sort: first index on ties) */
    abs_key *keys = malloc((size_t)d * sizeof *keys);
    if (!keys) return -1;
    for (int j = 0; j < d; j++) cols[j] = j;
    ridge_solve(s, cols, d, HIGHEST_ALPHA, beta, L);
    for (int j = 0; j < d; j++) keys[j] = (abs_key){fabs(beta[j]), j};
    qsort(keys, (size_t)d, sizeof *keys, abs_key_cmp);
    for (int j = 0; j < num_features; j++) cols[j] = keys[j].index;
    free(keys);
    *m = num_features;
    return 0;
}

int attx_lime(const attx_game *g, const attx_lime_options *opts, double *coef,
              attx_lime_info *info, attx_error *err)
{
    if (info) {
        memset(info, 0, sizeof *info);
        info->intercept = info->score = info->local_pred = info->v_full = NAN;
    }
    if (!g || !g->eval) return attx_fail(err, "lime: no game");
    int d = g->n;
    if (d < 1 || d > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "lime: the game has %d players (LIME needs 1..%d features)", d,
                         ATTX_GAME_MAX_PLAYERS);
    if (!coef) return attx_fail(err, "lime: no output array");
    attx_lime_options o = opts ? *opts : (attx_lime_options){0};
    if (o.num_samples < 0) return attx_fail(err, "lime: %d samples", o.num_samples);
    if (o.num_features < 0) return attx_fail(err, "lime: %d features asked", o.num_features);
    if (o.repeats < 0) return attx_fail(err, "lime: %d repeats", o.repeats);
    if (o.selection < ATTX_LIME_AUTO || o.selection > ATTX_LIME_HIGHEST_WEIGHTS)
        return attx_fail(err, "lime: unknown feature selection %d", (int)o.selection);
    if (o.kernel_width < 0 || !isfinite(o.kernel_width))
        return attx_fail(err, "lime: kernel width %g", o.kernel_width);
    if (o.alpha < 0 || !isfinite(o.alpha))
        return attx_fail(err, "lime: ridge alpha %g (must be > 0)", o.alpha);
    if (o.num_samples == 0) o.num_samples = DEFAULT_SAMPLES;
    if (o.num_features == 0 || o.num_features > d) o.num_features = d;
    if (o.kernel_width == 0) o.kernel_width = DEFAULT_WIDTH;
    if (o.alpha == 0) o.alpha = DEFAULT_ALPHA;
    if (o.repeats == 0) o.repeats = 1;
    attx_lime_selection sel = o.selection;
    if (sel == ATTX_LIME_AUTO) sel = o.num_features <= 6 ? ATTX_LIME_FORWARD : ATTX_LIME_HIGHEST_WEIGHTS;
    if (o.num_features >= d) sel = ATTX_LIME_NONE;   /* every method keeps all d */

    size_t N = (size_t)o.num_samples, words = attx_mask_words(d);
    uint64_t *masks = malloc(N * words * sizeof *masks);
    double *y = malloc(N * sizeof *y), *w = malloc(N * sizeof *w);
    double *beta = malloc((size_t)d * sizeof *beta);
    double *L = malloc((size_t)d * d * sizeof *L);
    int *cols = malloc((size_t)d * sizeof *cols);
    double sum_intercept = 0, sum_score = 0, sum_local = 0, v_full = NAN;
    int rc = -1, used = 0;
    if (!masks || !y || !w || !beta || !L || !cols) {
        attx_fail(err, "lime: out of memory");
        goto done;
    }
    for (int j = 0; j < d; j++) coef[j] = 0;
    for (int run = 0; run < o.repeats; run++) {
        if (attx_lime_samples(d, o.num_samples, o.seed, run, masks, err) != 0) goto done;
        if (attx_game_eval(g, N, masks, y, err) != 0) goto done;
        if (run == 0) v_full = y[0];
        for (size_t k = 0; k < N; k++) {
            double kept = mask_popcount(masks + k * words, words);
            double dist = 100.0 * (1.0 - sqrt(kept / d));   /* cosine distance to all-ones x 100 */
            if (dist < 0) dist = 0;
            w[k] = sqrt(exp(-(dist * dist) / (o.kernel_width * o.kernel_width)));
        }
        ridge_system s;
        mask_rows mr = {masks, words, d};
        if (ridge_system_build(&s, d, N, mask_row, &mr, y, w) != 0) {
            attx_fail(err, "lime: out of memory");
            goto done;
        }
        if (lime_select(&s, sel, o.num_features, cols, &used, beta, L) != 0) {
            ridge_system_free(&s);
            attx_fail(err, "lime: out of memory");
            goto done;
        }
        ridge_solve(&s, cols, used, o.alpha, beta, L);
        double intercept = s.y_mean, local = 0;
        for (int j = 0; j < used; j++) {
            intercept -= s.x_mean[cols[j]] * beta[j];
            local += beta[j];
            coef[cols[j]] += beta[j];
        }
        local += intercept;
        double rss = 0, tss = 0;   /* Ridge.score on the samples */
        for (size_t k = 0; k < N; k++) {
            const uint64_t *m = masks + k * words;
            double pred = intercept;
            for (int j = 0; j < used; j++)
                if (attx_mask_has(m, cols[j])) pred += beta[j];
            rss += w[k] * (y[k] - pred) * (y[k] - pred);
            tss += w[k] * (y[k] - s.y_mean) * (y[k] - s.y_mean);
        }
        ridge_system_free(&s);
        sum_intercept += intercept;
        sum_score += ridge_r2(rss, tss);
        sum_local += local;
        if (info) info->evaluations += N;
    }
    for (int j = 0; j < d; j++) coef[j] /= o.repeats;
    if (info) {
        info->intercept = sum_intercept / o.repeats;
        info->score = sum_score / o.repeats;
        info->local_pred = sum_local / o.repeats;
        info->v_full = v_full;
        info->features_used = used;
        info->selection = sel;
    }
    rc = 0;
done:
    free(masks);
    free(y);
    free(w);
    free(beta);
    free(L);
    free(cols);
    return rc;
}
