/* ridge_internal.h — internal to explain/: the weighted, centred normal equations of a ridge
 * regression, built once and solved for any subset of columns (LIME's feature selection). */
#ifndef ATTX_RIDGE_INTERNAL_H
#define ATTX_RIDGE_INTERNAL_H

#include <stddef.h>

/* Fills x[d] with row k of the design matrix. */
typedef void (*ridge_row_fn)(const void *rows, size_t k, double *x);

/* sklearn's preprocessing of Ridge(fit_intercept=True) with sample weights, as sums:
 *   x_mean = sum w x / W, y_mean = sum w y / W (W = sum w),
 *   G = sum_k w_k (x_k - x_mean)(x_k - x_mean)^T, b = sum_k w_k (x_k - x_mean)(y_k - y_mean),
 *   syy = sum_k w_k (y_k - y_mean)^2.
 * Any subset S of the columns then has the ridge solution (G_SS + alpha I) beta = b_S: centring
 * and weighting act column by column, so S's centred Gram matrix is G's S x S block. */
typedef struct ridge_system {
    int d;
    double wsum, y_mean, syy;
    double *x_mean;     /* [d] */
    double *G;          /* [d * d], symmetric */
    double *b;          /* [d] */
} ridge_system;

/* Two passes over the rows (means, then centred sums; each centred row scaled by sqrt(w) as
 * sklearn's _rescale_data). w[count] >= 0 with a positive sum (checked by the callers).
 * -1 when out of memory. */
int ridge_system_build(ridge_system *s, int d, size_t count, ridge_row_fn row, const void *rows,
                       const double *y, const double *w);

void ridge_system_free(ridge_system *s);

/* beta[m] for the columns cols[m] of s: (G_SS + alpha I) beta = b_S by Cholesky. A pivot that
 * vanishes (only at alpha 0: a column constant over the weighted rows or a combination of
 * earlier ones) drops its column (beta 0), which leaves the fitted values, hence R^2, those of
 * the least-squares solution. scratch[m * m]. */
void ridge_solve(const ridge_system *s, const int *cols, int m, double alpha, double *beta,
                 double *scratch);

/* Weighted R^2 of beta on the columns cols[m] from the sums alone:
 * 1 - (syy - 2 beta.b_S + beta^T G_SS beta) / syy (r2_score's rule when syy is 0). */
double ridge_r2_from_sums(const ridge_system *s, const int *cols, int m, const double *beta);

/* r2_score's value of 1 - rss / tss: 1 when both are 0, 0 when only tss is. */
double ridge_r2(double rss, double tss);

#endif
