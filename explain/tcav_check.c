/* tcav_check.c — T-TCAV judged against ground truth by intervention, as the pre-registration
 * (docs/tcav-preregistration.md) fixes it: the objective's value at the logits, the truth of a
 * (class, concept) cell from the per-image effects of a texture swap, and the verdict of each
 * test mode (P1's, Kim's, rank, magnitude) from attx_tcav_run's results. */
#include "attx_explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double attx_tcav_objective_value(attx_tcav_objective o, const float *z, int C, int k)
{
    double zk = z[k], top = -INFINITY, zmax = -INFINITY, mean = 0, sum = 0;
    for (int j = 0; j < C; j++) {
        mean += z[j];
        zmax = fmax(zmax, z[j]);
        if (j != k) top = fmax(top, z[j]);
    }
    switch (o) {
    case ATTX_TCAV_CENTRED: return zk - mean / C;
    case ATTX_TCAV_LOGSOFTMAX:                       /* log p_k = z_k − logsumexp(z) */
        for (int j = 0; j < C; j++) sum += exp(z[j] - zmax);
        return zk - zmax - log(sum);
    case ATTX_TCAV_MARGIN: return C > 1 ? zk - top : 0;
    default: return zk;
    }
}

static double mean_of(int n, const double *x)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return n ? s / n : NAN;
}

/* log C(n, k) */
static double log_choose(int n, int k)
{
    return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
}

double attx_sign_test(int k, int n)
{
    if (n <= 0) return 1;
    /* two-sided exact binomial test at 1/2 (scipy.stats.binomtest): the outcomes at most as
     * likely as k; by symmetry 2 P(X <= min(k, n − k)), capped at 1 */
    int m = k < n - k ? k : n - k;
    double tail = 0;
    for (int i = 0; i <= m; i++) tail += exp(log_choose(n, i) - n * log(2.0));
    return 2 * m == n ? 1 : fmin(1, 2 * tail);
}

void attx_tcav_truth_cells(int n_cells, int n, const double *delta, double alpha, double min_relative_size,
                           attx_tcav_truth *truth)
{
    double largest = 0;
    for (int c = 0; c < n_cells; c++) {
        const double *x = delta + (size_t)c * (size_t)n;
        int up = 0, nonzero = 0;
        for (int i = 0; i < n; i++) {
            up += x[i] > 0;
            nonzero += x[i] != 0;
        }
        attx_ttest t = attx_ttest_1samp(n, x, 0);
        truth[c] = (attx_tcav_truth){0};
        truth[c].mean = mean_of(n, x);
        truth[c].p = attx_bonferroni(t.p, n_cells);
        truth[c].p_sign = attx_bonferroni(attx_sign_test(up, nonzero), n_cells);
        truth[c].up = up;
        largest = fmax(largest, fabs(truth[c].mean));
    }
    /* significant, and at least min_relative_size of the largest mean effect of the cells */
    for (int c = 0; c < n_cells; c++) {
        attx_tcav_truth *u = &truth[c];
        int big = fabs(u->mean) >= min_relative_size * largest && u->mean != 0;
        u->verdict = u->p < alpha && big ? (u->mean > 0 ? 1 : -1) : 0;
    }
}

const char *attx_tcav_mode_name(attx_tcav_mode mode)
{
    static const char *names[ATTX_TCAV_MODES] = {"p1", "kim", "rank", "magnitude"};
    return mode >= 0 && mode < ATTX_TCAV_MODES ? names[mode] : "?";
}

/* p of a statistic against null draws, two-sided around `centre`: (1 + #{|null − centre| >=
 * |stat − centre|}) / (n + 1) */
static double rank_p(double stat, int n, const double *null, double centre)
{
    int at_least = 0;
    for (int i = 0; i < n; i++) at_least += fabs(null[i] - centre) >= fabs(stat - centre);
    return (1.0 + at_least) / (n + 1.0);
}

attx_tcav_verdict attx_tcav_verdict_of(attx_tcav_mode mode, const attx_tcav_result *relative,
                                       const attx_tcav_result *classic, int layer_index, int concept, int kind,
                                       double alpha)
{
    attx_tcav_verdict v = {NAN, NAN, NAN, 0};
    const attx_tcav_result *r = mode == ATTX_TCAV_MODE_KIM ? classic : relative;
    if (!r || layer_index < 0 || layer_index >= r->n_layers || concept < 0 || concept >= r->n_concepts) return v;
    const attx_tcav_cell *cell = &r->cells[layer_index * r->n_concepts + concept];
    const attx_tcav_cell *null = r->baselines ? &r->baselines[layer_index] : NULL;
    int n = cell->n_cavs;
    double centre = 0.5;
    switch (mode) {
    case ATTX_TCAV_MODE_P1: {             /* P1: one-sample t-test of the scores against 0.5 */
        v.statistic = mean_of(n, cell->score[kind]);
        v.p = attx_ttest_1samp(n, cell->score[kind], 0.5).p;
        break;
    }
    case ATTX_TCAV_MODE_KIM:              /* Kim et al.: two-sample t-test against the random baseline */
        if (!null) return v;
        v.statistic = cell->stat[kind].mean;
        v.p = cell->stat[kind].test.p;
        centre = null->stat[kind].mean;
        break;
    case ATTX_TCAV_MODE_RANK:             /* the mean score among the null CAVs' scores */
        if (!null) return v;
        v.statistic = mean_of(n, cell->score[kind]);
        v.p = rank_p(v.statistic, null->n_cavs, null->score[kind], 0.5);
        break;
    case ATTX_TCAV_MODE_MAGNITUDE: {      /* the mean directional derivative among the null CAVs' */
        if (!null) return v;
        const double *m = kind == ATTX_TCAV_TTCAV ? cell->mean_ttcav_raw : cell->mean_s[kind];
        const double *m0 = kind == ATTX_TCAV_TTCAV ? null->mean_ttcav_raw : null->mean_s[kind];
        v.statistic = mean_of(n, m);
        v.p = rank_p(v.statistic, null->n_cavs, m0, 0);
        centre = 0;
        break;
    }
    default: return v;
    }
    v.p_bonferroni = attx_bonferroni(v.p, r->tests);
    if (v.p_bonferroni < alpha && v.statistic != centre) v.verdict = v.statistic > centre ? 1 : -1;
    return v;
}

typedef struct first_order {
    const attx_tcav_result *r;
    const double *mean_cav;         /* [n_layers, n_checked, dim] */
    const double *delta;            /* [n_checked, n_targets] */
    int n_checked, n_targets;
    long *agree;                    /* [n_layers, n_checked, 2] */
    double *d;                      /* [T] */
} first_order;

static int first_order_view(void *user, const attx_tcav_view *v, attx_error *err)
{
    (void)err;
    first_order *f = user;
    int D = f->r->dim;
    for (int c = 0; c < f->n_checked; c++) {
        const double *cav = f->mean_cav + ((size_t)v->layer_index * (size_t)f->n_checked + (size_t)c) * (size_t)D;
        attx_tcav_directional(v->T, v->D, v->g, cav, f->d);
        attx_tcav_example_score s = attx_tcav_example(v->T, f->d, v->a, NULL);
        double delta = f->delta[(size_t)c * (size_t)f->n_targets + (size_t)v->example];
        long *at = f->agree + ((size_t)v->layer_index * (size_t)f->n_checked + (size_t)c) * 2;
        at[0] += (s.ttcav > 0) == (delta > 0);
        at[1] += (s.tcav > 0) == (delta > 0);
    }
    return 0;
}

int attx_tcav_first_order(const attx_model *m, const attx_tcav_source *targets, int klass, attx_tcav_objective objective,
                          const attx_tcav_result *r, int n_checked, const double *delta, long *agree, attx_error *err)
{
    if (n_checked < 1 || n_checked > r->n_concepts || !r->cavs)
        return attx_fail(err, "first-order agreement: %d concepts to check of %d", n_checked, r->n_concepts);
    const attx_config *cfg = attx_model_config(m);
    int D = r->dim, max_T = cfg->arch == ATTX_ARCH_BERT ? cfg->max_position_embeddings
                                                        : 1 + (cfg->image_height / cfg->patch_size) * (cfg->image_width / cfg->patch_size);
    first_order f = {r, NULL, delta, n_checked, targets->count, agree, NULL};
    double *mean_cav = calloc((size_t)r->n_layers * (size_t)n_checked * (size_t)D, sizeof *mean_cav);
    f.d = malloc((size_t)max_T * sizeof *f.d);
    if (!mean_cav || !f.d) {
        free(mean_cav);
        free(f.d);
        return attx_fail(err, "out of memory");
    }
    /* the direction: the sum (so the mean, up to its length) of the concept's CAVs */
    for (int j = 0; j < r->n_layers; j++)
        for (int c = 0; c < n_checked; c++)
            for (int i = 0; i < r->n_cavs; i++)
                for (int k = 0; k < D; k++)
                    mean_cav[((size_t)j * (size_t)n_checked + (size_t)c) * (size_t)D + (size_t)k] +=
                        r->cavs[(((size_t)j * (size_t)r->n_concepts + (size_t)c) * (size_t)r->n_cavs + (size_t)i) * (size_t)D + (size_t)k];
    memset(agree, 0, (size_t)r->n_layers * (size_t)n_checked * 2 * sizeof *agree);
    f.mean_cav = mean_cav;
    int rc = attx_tcav_gradients(m, targets, klass, objective, r->layers, r->n_layers, 8, first_order_view, &f, err);
    free(mean_cav);
    free(f.d);
    return rc;
}
