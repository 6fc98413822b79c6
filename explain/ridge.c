/* ridge.c — sklearn's Ridge(alpha, fit_intercept=True) with sample weights, in double.
 *
 * Facts from sklearn (linear_model/_base.py _preprocess_data and _rescale_data, _ridge.py
 * _solve_cholesky; own code): the intercept is handled by weighted centring of X and y, the
 * centred rows are scaled by sqrt(w), the penalised normal equations (X^T X + alpha I) beta =
 * X^T y are solved on the result, and intercept = y_mean - x_mean . beta. score() is r2_score
 * with the same sample weights.
 */
#include "attx_explain.h"
#include "ridge_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ridge_system_build(ridge_system *s, int d, size_t count, ridge_row_fn row, const void *rows,
                       const double *y, const double *w)
{
    memset(s, 0, sizeof *s);
    s->d = d;
    size_t dd = (size_t)(d > 0 ? d : 1);
    s->x_mean = calloc(dd, sizeof *s->x_mean);
    s->G = calloc(dd * dd, sizeof *s->G);
    s->b = calloc(dd, sizeof *s->b);
    double *x = malloc(dd * sizeof *x);
    if (!s->x_mean || !s->G || !s->b || !x) {
        free(x);
        ridge_system_free(s);
        return -1;
    }
    double wsum = 0, wy = 0;
    for (size_t k = 0; k < count; k++) {   /* pass 1: weighted means */
        row(rows, k, x);
        wsum += w[k];
        wy += w[k] * y[k];
        for (int j = 0; j < d; j++) s->x_mean[j] += w[k] * x[j];
    }
    s->wsum = wsum;
    s->y_mean = wy / wsum;
    for (int j = 0; j < d; j++) s->x_mean[j] /= wsum;
    for (size_t k = 0; k < count; k++) {   /* pass 2: centred, sqrt(w)-scaled sums */
        if (w[k] == 0) continue;
        row(rows, k, x);
        double sw = sqrt(w[k]), yc = sw * (y[k] - s->y_mean);
        for (int j = 0; j < d; j++) x[j] = sw * (x[j] - s->x_mean[j]);
        s->syy += yc * yc;
        for (int i = 0; i < d; i++) {
            double xi = x[i];
            if (xi == 0) continue;
            double *gi = s->G + (size_t)i * d;
            s->b[i] += xi * yc;
            for (int j = i; j < d; j++) gi[j] += xi * x[j];
        }
    }
    for (int i = 0; i < d; i++)   /* mirror the upper triangle */
        for (int j = i + 1; j < d; j++) s->G[(size_t)j * d + i] = s->G[(size_t)i * d + j];
    free(x);
    return 0;
}

void ridge_system_free(ridge_system *s)
{
    if (!s) return;
    free(s->x_mean);
    free(s->G);
    free(s->b);
    memset(s, 0, sizeof *s);
}

void ridge_solve(const ridge_system *s, const int *cols, int m, double alpha, double *beta,
                 double *L)
{
    int d = s->d;
    double max_diag = 0;
    for (int i = 0; i < m; i++) {
        const double *gi = s->G + (size_t)cols[i] * d;
        double *li = L + (size_t)i * m;
        for (int j = 0; j < m; j++) li[j] = gi[cols[j]];
        li[i] += alpha;
        if (li[i] > max_diag) max_diag = li[i];
        beta[i] = s->b[cols[i]];
    }
    /* Cholesky A = L L^T in the lower triangle; a vanishing pivot drops its column */
    double tol = 1e-11 * max_diag;
    for (int j = 0; j < m; j++) {
        double *lj = L + (size_t)j * m;
        double p = lj[j];
        for (int k = 0; k < j; k++) p -= lj[k] * lj[k];
        if (!(p > tol)) {
            for (int i = j; i < m; i++) L[(size_t)i * m + j] = 0;
            continue;
        }
        p = sqrt(p);
        lj[j] = p;
        for (int i = j + 1; i < m; i++) {
            double *li = L + (size_t)i * m;
            double t = li[j];
            for (int k = 0; k < j; k++) t -= li[k] * lj[k];
            li[j] = t / p;
        }
    }
    for (int i = 0; i < m; i++) {   /* L z = b */
        const double *li = L + (size_t)i * m;
        if (li[i] == 0) {
            beta[i] = 0;
            continue;
        }
        double t = beta[i];
        for (int k = 0; k < i; k++) t -= li[k] * beta[k];
        beta[i] = t / li[i];
    }
    for (int i = m - 1; i >= 0; i--) {   /* L^T beta = z */
        double lii = L[(size_t)i * m + i];
        if (lii == 0) {
            beta[i] = 0;
            continue;
        }
        double t = beta[i];
        for (int k = i + 1; k < m; k++) t -= L[(size_t)k * m + i] * beta[k];
        beta[i] = t / lii;
    }
}

double ridge_r2(double rss, double tss)
{
    if (tss != 0) return 1 - rss / tss;
    return rss == 0 ? 1.0 : 0.0;
}

double ridge_r2_from_sums(const ridge_system *s, const int *cols, int m, const double *beta)
{
    int d = s->d;
    double rss = s->syy;
    for (int i = 0; i < m; i++) {
        const double *gi = s->G + (size_t)cols[i] * d;
        double q = 0;
        for (int j = 0; j < m; j++) q += gi[cols[j]] * beta[j];
        rss += beta[i] * (q - 2 * s->b[cols[i]]);
    }
    if (rss < 0) rss = 0;   /* rounding of a near-perfect fit */
    return ridge_r2(rss, s->syy);
}

/* ------------------------------------------------------------------------------------------ */
/* Dense public entry                                                                          */

typedef struct dense_rows {
    const double *X;
    int cols;
} dense_rows;

static void dense_row(const void *rows, size_t k, double *x)
{
    const dense_rows *r = rows;
    memcpy(x, r->X + k * (size_t)r->cols, (size_t)r->cols * sizeof *x);
}

int attx_weighted_ridge(size_t rows, int cols, const double *X, const double *y, const double *w,
                        double alpha, double *coef, double *intercept, double *score,
                        attx_error *err)
{
    if (rows < 1) return attx_fail(err, "ridge: no rows");
    if (cols < 0 || cols > ATTX_GAME_MAX_PLAYERS)
        return attx_fail(err, "ridge: %d columns (0..%d allowed)", cols, ATTX_GAME_MAX_PLAYERS);
    if (!(alpha >= 0) || !isfinite(alpha))
        return attx_fail(err, "ridge: alpha %g (must be finite and >= 0)", alpha);
    if (!y || (cols > 0 && (!X || !coef))) return attx_fail(err, "ridge: NULL array");
    double *ones = NULL;
    if (!w) {
        ones = malloc(rows * sizeof *ones);
        if (!ones) return attx_fail(err, "ridge: out of memory");
        for (size_t k = 0; k < rows; k++) ones[k] = 1;
        w = ones;
    }
    int rc = -1;
    double *beta = NULL, *L = NULL;
    int *all = NULL;
    ridge_system s = {0};
    double wsum = 0;
    for (size_t k = 0; k < rows; k++) {
        if (!isfinite(y[k])) {
            attx_fail(err, "ridge: target %zu is not finite", k);
            goto done;
        }
        if (!isfinite(w[k]) || w[k] < 0) {
            attx_fail(err, "ridge: weight %zu is %g (must be finite and >= 0)", k, w[k]);
            goto done;
        }
        wsum += w[k];
        for (int j = 0; j < cols; j++)
            if (!isfinite(X[k * (size_t)cols + j])) {
                attx_fail(err, "ridge: X[%zu][%d] is not finite", k, j);
                goto done;
            }
    }
    if (!(wsum > 0)) {
        attx_fail(err, "ridge: the weights sum to 0");
        goto done;
    }
    size_t m = (size_t)(cols > 0 ? cols : 1);
    beta = malloc(m * sizeof *beta);
    L = malloc(m * m * sizeof *L);
    all = calloc(m, sizeof *all);
    dense_rows dr = {X, cols};
    if (!beta || !L || !all || ridge_system_build(&s, cols, rows, dense_row, &dr, y, w) != 0) {
        attx_fail(err, "ridge: out of memory");
        goto done;
    }
    for (int j = 0; j < cols; j++) all[j] = j;
    ridge_solve(&s, all, cols, alpha, beta, L);
    double b0 = s.y_mean;
    for (int j = 0; j < cols; j++) {
        coef[j] = beta[j];
        b0 -= s.x_mean[j] * beta[j];
    }
    if (intercept) *intercept = b0;
    if (score) {   /* r2_score over the rows, as Ridge.score */
        double rss = 0, tss = 0;
        for (size_t k = 0; k < rows; k++) {
            double pred = b0;
            for (int j = 0; j < cols; j++) pred += X[k * (size_t)cols + j] * beta[j];
            rss += w[k] * (y[k] - pred) * (y[k] - pred);
            tss += w[k] * (y[k] - s.y_mean) * (y[k] - s.y_mean);
        }
        *score = ridge_r2(rss, tss);
    }
    rc = 0;
done:
    ridge_system_free(&s);
    free(ones);
    free(beta);
    free(L);
    free(all);
    return rc;
}
