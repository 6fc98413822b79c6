/* tcav_cav.c — concept activation vectors from token rows, P1's relative negatives, and the
 * per-example T-TCAV / TCAV / ablation scores. */
#include "attx_explain.h"
#include "rng.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int attx_cav_train(const attx_tcav_acts *sets, int layer_index, const attx_tcav_ref *pos, int n_pos,
                   const attx_tcav_ref *neg, int n_neg, const attx_logreg_options *opts, double *cav,
                   attx_logreg_info *info, attx_error *err)
{
    if (n_pos < 1 || n_neg < 1) return attx_fail(err, "a CAV needs examples on both sides (%d and %d)", n_pos, n_neg);
    int D = sets[pos[0].set].dim;
    size_t rows = 0;
    for (int side = 0; side < 2; side++) {
        const attx_tcav_ref *r = side ? neg : pos;
        int n = side ? n_neg : n_pos;
        for (int k = 0; k < n; k++) {
            const attx_tcav_acts *a = &sets[r[k].set];
            if (r[k].example < 0 || r[k].example >= a->count || layer_index < 0 || layer_index >= a->n_layers ||
                a->dim != D)
                return attx_fail(err, "CAV: bad example reference (%d, %d)", r[k].set, r[k].example);
            rows += (size_t)(a->start[r[k].example + 1] - a->start[r[k].example]);
        }
    }
    const float **X = malloc(rows * sizeof *X);
    uint8_t *y = malloc(rows);
    if (!X || !y) {
        free(X);
        free(y);
        return attx_fail(err, "CAV: out of memory (%zu rows)", rows);
    }
    size_t i = 0;
    for (int side = 0; side < 2; side++) {        /* every token of every example is a row */
        const attx_tcav_ref *r = side ? neg : pos;
        int n = side ? n_neg : n_pos;
        for (int k = 0; k < n; k++) {
            const attx_tcav_acts *a = &sets[r[k].set];
            for (int64_t t = a->start[r[k].example]; t < a->start[r[k].example + 1]; t++, i++) {
                X[i] = a->h[layer_index] + (size_t)t * (size_t)D;
                y[i] = side ? 0 : 1;               /* the concept is class 1: coef points to it */
            }
        }
    }
    int rc = attx_logreg_fit(rows, D, X, y, opts, cav, NULL, info, err);
    free(X);
    free(y);
    if (rc != 0) return -1;
    double norm = 0;
    for (int j = 0; j < D; j++) norm += cav[j] * cav[j];
    norm = sqrt(norm);
    if (!(norm > 0)) return attx_fail(err, "CAV: the classifier's coefficients are all zero");
    for (int j = 0; j < D; j++) cav[j] /= norm;
    return 0;
}

int attx_tcav_relative_negatives(int n_concepts, const int *sizes, int c, uint64_t seed, attx_tcav_ref *neg)
{
    int pool = 0;
    for (int k = 0; k < n_concepts; k++)
        if (k != c) pool += sizes[k];
    int want = sizes[c] < pool ? sizes[c] : pool;
    if (want <= 0) return 0;
    int *pick = malloc((size_t)want * sizeof *pick);
    if (!pick) return -1;
    attx_rng r;
    attx_rng_seed(&r, seed);
    attx_rng_choose(&r, want, pool, pick);       /* increasing pool indices, no repeats */
    int k = 0, base = 0;
    for (int i = 0; i < want; i++) {
        while (k == c || pick[i] >= base + sizes[k]) {
            if (k != c) base += sizes[k];
            k++;
        }
        neg[i] = (attx_tcav_ref){k, pick[i] - base};
    }
    free(pick);
    return want;
}

int attx_tcav_null_halves(int n_concepts, const int *sizes, uint64_t seed, attx_tcav_ref *pos, attx_tcav_ref *neg)
{
    int pool = 0, smallest = sizes[0];
    for (int k = 0; k < n_concepts; k++) {
        pool += sizes[k];
        smallest = sizes[k] < smallest ? sizes[k] : smallest;
    }
    int m = smallest < pool / 2 ? smallest : pool / 2;
    if (m <= 0) return 0;
    int *order = malloc((size_t)pool * sizeof *order);
    if (!order) return -1;
    for (int i = 0; i < pool; i++) order[i] = i;
    attx_rng r;
    attx_rng_seed(&r, seed);
    attx_rng_shuffle(&r, order, (size_t)pool, sizeof *order);
    /* the first m of the shuffled pool are one side, the next m the other; each side in pool order */
    uint8_t *side = calloc((size_t)pool, 1);
    if (!side) {
        free(order);
        return -1;
    }
    for (int i = 0; i < 2 * m; i++) side[order[i]] = i < m ? 1 : 2;
    int np = 0, nn = 0, k = 0, base = 0;
    for (int i = 0; i < pool; i++) {
        while (i >= base + sizes[k]) base += sizes[k++];
        if (side[i] == 1) pos[np++] = (attx_tcav_ref){k, i - base};
        else if (side[i] == 2) neg[nn++] = (attx_tcav_ref){k, i - base};
    }
    free(side);
    free(order);
    return m;
}

void attx_tcav_directional(int T, int D, const float *g, const double *v, double *d)
{
    for (int t = 0; t < T; t++) {
        double s = 0;
        for (int j = 0; j < D; j++) s += (double)g[(size_t)t * (size_t)D + (size_t)j] * v[j];
        d[t] = s;
    }
}

attx_tcav_example_score attx_tcav_example(int T, const double *d, const float *a, double *s)
{
    attx_tcav_example_score r = {0, 0, 0, 0};
    if (T < 1) return r;
    double na = 0, nd = 0, sum_d = 0;
    for (int t = 0; t < T; t++) {
        na += (double)a[t] * a[t];
        nd += d[t] * d[t];
        sum_d += d[t];
    }
    /* P1: d~ = d * (||a|| / ||d|| + 1e-8); with d = 0 every d~_t is 0 */
    double scale = nd > 0 ? sqrt(na) / sqrt(nd) + 1e-8 : 0;
    double sum_s = 0, sum_ad = 0;
    for (int t = 0; t < T; t++) {
        double ad = (double)a[t] * d[t];
        if (s) s[t] = ad * scale;
        sum_s += ad * scale;
        sum_ad += ad;
    }
    r.ttcav = sum_s / T;
    r.ttcav_raw = sum_ad / T;
    r.tcav = sum_d;
    r.ablation = sum_d / T;
    return r;
}
