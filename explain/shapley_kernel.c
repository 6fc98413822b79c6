/* shapley_kernel.c — Kernel SHAP: Shapley-kernel weighted least squares with exact efficiency.
 *
 * Sampling follows shap's KernelExplainer (facts from shap/explainers/_kernel.py, own code):
 *   - sizes s = 1..ceil((n-1)/2); sizes s <= floor((n-1)/2) are paired with their complements
 *     (size n-s). Size weight (n-1)/(s(n-s)), doubled for paired sizes, normalised to sum 1.
 *   - smallest size first: if budget_left * weight_left_share(s) / (#coalitions of s and n-s)
 *     >= 1, every coalition of the size (and its complement) is used, each with its kernel
 *     weight w(s)/C(n,s) (halved when paired); the remaining share is renormalised.
 *   - the sizes that do not fit are sampled: size by the remaining weights (paired halved,
 *     because a draw yields two coalitions), members uniformly; a repeat adds 1 to the weight of
 *     the coalition (and of its complement) instead of a new evaluation. Draws stop when the
 *     budget is used or after 4x the budget. The sampled weights are then rescaled to the
 *     weight mass of the sampled sizes.
 * Regression: with y = v(S) - v(empty) and D = v(N) - v(empty), eliminating the last player
 * (phi_last = D - sum of the others) turns the constrained weighted least squares into the
 * unconstrained one on x_j = z_j - z_last, t = y - z_last D, solved by Cholesky.
 * Standard error: bootstrap of the sampled draws (the enumerated part kept), re-solved.
 */
#include "shapley_internal.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_BOOTSTRAP 100
#define MIN_BOOTSTRAP 10

typedef struct ksamples {
    size_t words, count, cap;
    uint64_t *masks;      /* [cap * words] */
    double *weight;       /* [cap] */
} ksamples;

static int ks_push(ksamples *ks, const uint64_t *mask, double w)
{
    if (ks->count == ks->cap) {
        size_t cap = ks->cap ? 2 * ks->cap : 256;
        uint64_t *m = realloc(ks->masks, cap * ks->words * sizeof *m);
        if (!m) return -1;
        ks->masks = m;
        double *wt = realloc(ks->weight, cap * sizeof *wt);
        if (!wt) return -1;
        ks->weight = wt;
        ks->cap = cap;
    }
    memcpy(ks->masks + ks->count * ks->words, mask, ks->words * sizeof *mask);
    ks->weight[ks->count++] = w;
    return 0;
}

/* Open-addressing set of masks -> sample index (the sampled part only). */
typedef struct mask_set {
    size_t cap;           /* power of two */
    long *slot;           /* sample index or -1 */
} mask_set;

static uint64_t mask_hash(const uint64_t *m, size_t words)
{
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (size_t w = 0; w < words; w++) {
        h ^= m[w] + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    return h;
}

/* Index of mask in the set, or -1 after reserving its slot in *slot_out. */
static long mask_set_find(const mask_set *set, const ksamples *ks, const uint64_t *m, size_t *slot_out)
{
    size_t i = (size_t)mask_hash(m, ks->words) & (set->cap - 1);
    while (set->slot[i] >= 0) {
        if (!memcmp(ks->masks + (size_t)set->slot[i] * ks->words, m, ks->words * sizeof *m))
            return set->slot[i];
        i = (i + 1) & (set->cap - 1);
    }
    *slot_out = i;
    return -1;
}

/* Visits the k-subsets of 0..n-1 in lexicographic order; idx[k] holds the current one. */
static int next_combination(int *idx, int k, int n)
{
    int i = k - 1;
    while (i >= 0 && idx[i] == n - k + i) i--;
    if (i < 0) return 0;
    idx[i]++;
    for (int j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
    return 1;
}

/* Cholesky solve of the m x m SPD system A x = b (A overwritten). -1 when not positive
 * definite to a relative tolerance. */
static int cholesky_solve(double *A, double *b, int m)
{
    double max_diag = 0;
    for (int i = 0; i < m; i++) if (A[(size_t)i * m + i] > max_diag) max_diag = A[(size_t)i * m + i];
    if (!(max_diag > 0)) return -1;
    double tol = 1e-12 * max_diag;
    for (int j = 0; j < m; j++) {
        double *rj = A + (size_t)j * m;
        double d = rj[j];
        for (int k = 0; k < j; k++) d -= rj[k] * rj[k];
        if (!(d > tol)) return -1;
        d = sqrt(d);
        rj[j] = d;
        for (int i = j + 1; i < m; i++) {
            double *ri = A + (size_t)i * m;
            double s = ri[j];
            for (int k = 0; k < j; k++) s -= ri[k] * rj[k];
            ri[j] = s / d;
        }
    }
    for (int i = 0; i < m; i++) {   /* L y = b */
        const double *ri = A + (size_t)i * m;
        double s = b[i];
        for (int k = 0; k < i; k++) s -= ri[k] * b[k];
        b[i] = s / ri[i];
    }
    for (int i = m - 1; i >= 0; i--) {   /* L^T x = y */
        double s = b[i];
        for (int k = i + 1; k < m; k++) s -= A[(size_t)k * m + i] * b[k];
        b[i] = s / A[(size_t)i * m + i];
    }
    return 0;
}

/* Weighted least squares with efficiency: phi[n] from the samples' weights w[count] (zero
 * weights skipped). A[(n-1)^2], b[n-1], x[n-1] scratch. */
static int kernel_solve(int n, const ksamples *ks, const double *w, const double *y, double D,
                        double *A, double *b, double *x, double *phi)
{
    int m = n - 1;
    size_t words = ks->words;
    memset(A, 0, (size_t)m * m * sizeof *A);
    memset(b, 0, (size_t)m * sizeof *b);
    for (size_t k = 0; k < ks->count; k++) {
        if (w[k] == 0) continue;
        const uint64_t *z = ks->masks + k * words;
        int zl = attx_mask_has(z, n - 1);
        for (int j = 0; j < m; j++) x[j] = attx_mask_has(z, j) - zl;
        double t = y[k] - zl * D;
        for (int i = 0; i < m; i++) {
            if (x[i] == 0) continue;
            double wx = w[k] * x[i];
            b[i] += wx * t;
            double *Ai = A + (size_t)i * m;
            for (int j = 0; j <= i; j++) Ai[j] += wx * x[j];
        }
    }
    for (int i = 0; i < m; i++)
        for (int j = i + 1; j < m; j++) A[(size_t)i * m + j] = A[(size_t)j * m + i];
    if (cholesky_solve(A, b, m) != 0) return -1;
    double sum = 0;
    for (int j = 0; j < m; j++) {
        phi[j] = b[j];
        sum += b[j];
    }
    phi[n - 1] = D - sum;
    return 0;
}

typedef struct kdraw {
    size_t idx;           /* sample index of the drawn coalition */
    int with_complement;  /* the complement is sample idx+1 and shares the draw */
} kdraw;

int attx_shapley_kernel(const attx_game *g, const attx_kernel_options *opts, double *phi,
                        double *se, attx_shapley_info *info, attx_error *err)
{
    shapley_info_reset(info);
    if (shapley_check_game(g, phi, "Kernel SHAP", err) != 0) return -1;
    int n = g->n;
    if (n == 0) return 0;
    attx_kernel_options o = opts ? *opts : (attx_kernel_options){0};
    if (o.samples < 0) return attx_fail(err, "Kernel SHAP: %d samples", o.samples);
    uint64_t budget = o.samples ? (uint64_t)o.samples : 2 * (uint64_t)n + 2048;
    if (n <= 62 && budget > ((uint64_t)1 << n) - 2) budget = ((uint64_t)1 << n) - 2;
    int bootstrap = o.bootstrap;
    size_t words = attx_mask_words(n);

    int rc = -1;
    ksamples ks = {.words = words};
    mask_set set = {0};
    kdraw *draws = NULL;
    size_t n_draws = 0;
    int *idx = NULL;
    double *values = NULL, *y = NULL, *wb = NULL, *A = NULL, *b = NULL, *x = NULL, *rep = NULL;
    double *rep_sum = NULL, *rep_sq = NULL;
    uint64_t *ends = calloc(2 * words, sizeof *ends), *mask = calloc(words, sizeof *mask);
    int half = n / 2;   /* ceil((n-1)/2) sizes */
    int paired = (n - 1) / 2;
    double *size_w = malloc(((size_t)half + 1) * sizeof *size_w);
    double *remaining = malloc(((size_t)half + 1) * sizeof *remaining);
    idx = malloc(((size_t)n + 1) * sizeof *idx);
    if (!ends || !mask || !size_w || !remaining || !idx) goto oom;

    /* v(empty), v(N) */
    for (int i = 0; i < n; i++) attx_mask_set(ends + words, i);
    double v_ends[2];
    if (attx_game_eval(g, 2, ends, v_ends, err) != 0) goto done;
    double v_empty = v_ends[0], D = v_ends[1] - v_ends[0];
    if (info) {
        info->v_empty = v_empty;
        info->v_full = v_ends[1];
        info->evaluations = 2;
    }
    if (n == 1) {
        phi[0] = D;
        if (se) se[0] = 0;
        rc = 0;
        goto done;
    }

    /* size weights */
    double total_w = 0;
    for (int s = 1; s <= half; s++) {
        size_w[s - 1] = (double)(n - 1) / ((double)s * (n - s));
        if (s <= paired) size_w[s - 1] *= 2;
        total_w += size_w[s - 1];
    }
    for (int s = 1; s <= half; s++) {
        size_w[s - 1] /= total_w;
        remaining[s - 1] = size_w[s - 1];
    }

    /* enumerate the sizes the budget covers completely */
    double left = (double)budget;
    int n_full = 0;
    for (int s = 1; s <= half; s++) {
        double subsets = shapley_binomial(n, s) * (s <= paired ? 2 : 1);
        if (!(left * remaining[s - 1] / subsets >= 1.0 - 1e-8)) break;
        n_full++;
        left -= subsets;
        if (remaining[s - 1] < 1.0) {
            double scale = 1.0 / (1.0 - remaining[s - 1]);
            for (int t = 0; t < half; t++) remaining[t] *= scale;
        }
        double w = size_w[s - 1] / shapley_binomial(n, s) / (s <= paired ? 2 : 1);
        for (int j = 0; j < s; j++) idx[j] = j;
        do {
            memset(mask, 0, words * sizeof *mask);
            for (int j = 0; j < s; j++) attx_mask_set(mask, idx[j]);
            if (ks_push(&ks, mask, w) != 0) goto oom;
            if (s <= paired) {
                for (size_t t = 0; t < words; t++) mask[t] = ~mask[t];
                if (n % 64) mask[words - 1] &= ((uint64_t)1 << (n % 64)) - 1;
                if (ks_push(&ks, mask, w) != 0) goto oom;
            }
        } while (next_combination(idx, s, n));
    }
    size_t n_fixed = ks.count;

    /* sample the rest */
    double weight_left = 0;
    if (n_full < half) {
        uint64_t samples_left = budget > n_fixed ? budget - n_fixed : 0;
        int n_rest = half - n_full;
        double *cdf = remaining;   /* reused: cumulative distribution over the sampled sizes */
        double acc = 0;
        for (int t = 0; t < n_rest; t++) {
            int s = n_full + 1 + t;
            weight_left += size_w[s - 1];
            acc += size_w[s - 1] / (s <= paired ? 2 : 1);
            cdf[t] = acc;
        }
        set.cap = 1;
        while (set.cap < 2 * samples_left + 16) set.cap *= 2;
        set.slot = malloc(set.cap * sizeof *set.slot);
        draws = malloc((4 * samples_left + 1) * sizeof *draws);
        if (!set.slot || !draws) goto oom;
        for (size_t t = 0; t < set.cap; t++) set.slot[t] = -1;
        attx_rng rng;
        attx_rng_seed(&rng, o.seed);
        uint64_t max_draws = 4 * samples_left;
        for (uint64_t d = 0; samples_left > 0 && d < max_draws; d++) {
            double u = attx_rng_uniform(&rng) * acc;
            int t = 0;
            while (t < n_rest - 1 && u >= cdf[t]) t++;
            int s = n_full + 1 + t;
            attx_rng_choose(&rng, s, n, idx);
            memset(mask, 0, words * sizeof *mask);
            for (int j = 0; j < s; j++) attx_mask_set(mask, idx[j]);
            size_t slot = 0;
            long found = mask_set_find(&set, &ks, mask, &slot);
            kdraw dr = {0, 0};
            if (found < 0) {
                dr.idx = ks.count;
                set.slot[slot] = (long)ks.count;
                if (ks_push(&ks, mask, 1.0) != 0) goto oom;
                samples_left--;
                if (samples_left > 0 && s <= paired) {
                    for (size_t q = 0; q < words; q++) mask[q] = ~mask[q];
                    if (n % 64) mask[words - 1] &= ((uint64_t)1 << (n % 64)) - 1;
                    if (ks_push(&ks, mask, 1.0) != 0) goto oom;
                    samples_left--;
                    dr.with_complement = 1;
                }
            } else {
                dr.idx = (size_t)found;
                ks.weight[found] += 1.0;
                /* the complement was added with it unless the budget ran out right there */
                if (s <= paired && (size_t)found + 1 < ks.count &&
                    mask_count(ks.masks + ((size_t)found + 1) * words, words) == n - s) {
                    ks.weight[found + 1] += 1.0;
                    dr.with_complement = 1;
                }
            }
            draws[n_draws++] = dr;
        }
        double sampled = 0;
        for (size_t k = n_fixed; k < ks.count; k++) sampled += ks.weight[k];
        if (sampled > 0)
            for (size_t k = n_fixed; k < ks.count; k++) ks.weight[k] *= weight_left / sampled;
    }
    if (info) info->samples = ks.count;

    /* evaluate */
    values = malloc((ks.count + 1) * sizeof *values);
    y = malloc((ks.count + 1) * sizeof *y);
    int m = n - 1;
    A = malloc((size_t)m * m * sizeof *A);
    b = malloc((size_t)m * sizeof *b);
    x = malloc((size_t)m * sizeof *x);
    if (!values || !y || !A || !b || !x) goto oom;
    if (attx_game_eval(g, ks.count, ks.masks, values, err) != 0) goto done;
    if (info) info->evaluations += ks.count;
    for (size_t k = 0; k < ks.count; k++) y[k] = values[k] - v_empty;

    if (kernel_solve(n, &ks, ks.weight, y, D, A, b, x, phi) != 0) {
        attx_fail(err, "Kernel SHAP: the weighted least-squares system is singular with %zu "
                       "coalitions for %d players; use more samples", ks.count, n);
        goto done;
    }

    if (se) {
        if (bootstrap < 0) {
            for (int i = 0; i < n; i++) se[i] = NAN;
        } else if (n_draws == 0) {
            for (int i = 0; i < n; i++) se[i] = 0;
        } else {
            wb = malloc(ks.count * sizeof *wb);
            rep = malloc((size_t)n * sizeof *rep);
            rep_sum = calloc((size_t)n, sizeof *rep_sum);
            rep_sq = calloc((size_t)n, sizeof *rep_sq);
            if (!wb || !rep || !rep_sum || !rep_sq) goto oom;
            if (bootstrap == 0) {   /* default: 100, fewer for large n (about 2e9 operations) */
                double cost = (double)m * m * m / 3 + (double)ks.count * m * m / 8;
                double fit = 2e9 / cost;
                bootstrap = fit >= DEFAULT_BOOTSTRAP ? DEFAULT_BOOTSTRAP : fit <= MIN_BOOTSTRAP ? MIN_BOOTSTRAP : (int)fit;
            }
            attx_rng brng;
            attx_rng_seed_stream(&brng, o.seed, 1);
            int good = 0;
            for (int r = 0; r < bootstrap; r++) {
                memcpy(wb, ks.weight, n_fixed * sizeof *wb);
                memset(wb + n_fixed, 0, (ks.count - n_fixed) * sizeof *wb);
                for (size_t d = 0; d < n_draws; d++) {
                    const kdraw *dr = &draws[attx_rng_below(&brng, n_draws)];
                    wb[dr->idx] += 1;
                    if (dr->with_complement) wb[dr->idx + 1] += 1;
                }
                double sampled = 0;
                for (size_t k = n_fixed; k < ks.count; k++) sampled += wb[k];
                for (size_t k = n_fixed; k < ks.count; k++) wb[k] *= weight_left / sampled;
                if (kernel_solve(n, &ks, wb, y, D, A, b, x, rep) != 0) continue;   /* singular */
                good++;
                for (int i = 0; i < n; i++) {
                    double dv = rep[i] - phi[i];   /* centred on the estimate for accuracy */
                    rep_sum[i] += dv;
                    rep_sq[i] += dv * dv;
                }
            }
            for (int i = 0; i < n; i++) {
                if (good < 2) {
                    se[i] = NAN;
                } else {
                    double mean = rep_sum[i] / good;
                    double var = (rep_sq[i] - good * mean * mean) / (good - 1);
                    se[i] = sqrt(var > 0 ? var : 0);
                }
            }
        }
    }
    rc = 0;
    goto done;
oom:
    attx_fail(err, "Kernel SHAP: out of memory");
done:
    free(ends);
    free(mask);
    free(size_w);
    free(remaining);
    free(idx);
    free(ks.masks);
    free(ks.weight);
    free(set.slot);
    free(draws);
    free(values);
    free(y);
    free(wb);
    free(A);
    free(b);
    free(x);
    free(rep);
    free(rep_sum);
    free(rep_sq);
    return rc;
}
