/* tcav_logreg.c — L2-regularised logistic regression (sklearn's LogisticRegression objective)
 * by L-BFGS in double precision, for concept activation vectors. */
#include "attx_explain.h"
#include "parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LBFGS_PAIRS 10
#define CHUNK_ROWS 512          /* rows per partial sum: the reduction order is fixed by it */

typedef struct problem {
    size_t n;
    int d;
    const float *const *rows;
    const uint8_t *y;
    double C;
    int intercept;
    size_t chunks;
    double *partial;            /* [chunks, d + 2]: gradient (d + 1) and loss of each chunk */
} problem;

/* log(1 + exp(u)) without overflow */
static double softplus(double u)
{
    return u > 0 ? u + log1p(exp(-u)) : log1p(exp(u));
}

/* x . z in double with four running sums (a fixed order, which the compiler can pipeline) */
static double row_dot(int d, const float *x, const double *z)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int j = 0;
    for (; j + 4 <= d; j += 4) {
        s0 += (double)x[j] * z[j];
        s1 += (double)x[j + 1] * z[j + 1];
        s2 += (double)x[j + 2] * z[j + 2];
        s3 += (double)x[j + 3] * z[j + 3];
    }
    for (; j < d; j++) s0 += (double)x[j] * z[j];
    return (s0 + s1) + (s2 + s3);
}

/* f(z) and grad[d + 1] at z = (w, b). */
static double objective(const problem *p, const double *z, double *grad)
{
    int d = p->d;
    double b = p->intercept ? z[d] : 0;
    long chunks = (long)p->chunks;
#pragma omp parallel for schedule(static) if (chunks > 1 && ATTX_PARALLEL(ATTX_WORK_LOGREG, p->n * (size_t)d))
    for (long c = 0; c < chunks; c++) {
        double *part = p->partial + (size_t)c * (size_t)(d + 2);
        memset(part, 0, (size_t)(d + 2) * sizeof *part);
        size_t lo = (size_t)c * CHUNK_ROWS, hi = lo + CHUNK_ROWS < p->n ? lo + CHUNK_ROWS : p->n;
        for (size_t i = lo; i < hi; i++) {
            const float *x = p->rows[i];
            double m = b + row_dot(d, x, z);
            double s = p->y[i] ? 1.0 : -1.0;
            /* loss log(1 + exp(-s m)); its derivative in m is -s sigmoid(-s m) */
            part[d + 1] += softplus(-s * m);
            double r = -s / (1 + exp(s * m));
            for (int j = 0; j < d; j++) part[j] += r * x[j];
            part[d] += r;
        }
    }
    double loss = 0;
    for (int j = 0; j <= d; j++) grad[j] = 0;
    for (size_t c = 0; c < p->chunks; c++) {       /* chunk order: independent of threads */
        const double *part = p->partial + c * (size_t)(d + 2);
        for (int j = 0; j <= d; j++) grad[j] += part[j];
        loss += part[d + 1];
    }
    double reg = 0;
    for (int j = 0; j < d; j++) {
        reg += z[j] * z[j];
        grad[j] = z[j] + p->C * grad[j];
    }
    grad[d] = p->intercept ? p->C * grad[d] : 0;
    return 0.5 * reg + p->C * loss;
}

static double max_abs(int n, const double *v)
{
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
    return m;
}

static double dot(int n, const double *a, const double *b)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

int attx_logreg_fit(size_t n, int d, const float *const *rows, const uint8_t *y,
                    const attx_logreg_options *opts, double *coef, double *intercept,
                    attx_logreg_info *info, attx_error *err)
{
    if (n < 1 || d < 1) return attx_fail(err, "logistic regression: no rows or no columns (%zu x %d)", n, d);
    if (!rows || !y || !coef) return attx_fail(err, "logistic regression: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1) return attx_fail(err, "logistic regression: label %d of row %zu is not 0 or 1", y[i], i);
        for (int j = 0; j < d; j++)
            if (!isfinite(rows[i][j])) return attx_fail(err, "logistic regression: value %d of row %zu is not finite", j, i);
    }
    attx_logreg_options o = opts ? *opts : (attx_logreg_options){0};
    if (o.C == 0) o.C = 1.0;
    if (!(o.C > 0)) return attx_fail(err, "logistic regression: C must be positive");
    if (o.tol <= 0) o.tol = 1e-7;
    if (o.max_iter <= 0) o.max_iter = 10000;

    int nz = d + 1;
    problem p = {n, d, rows, y, o.C, !o.no_intercept, (n + CHUNK_ROWS - 1) / CHUNK_ROWS, NULL};
    p.partial = malloc(p.chunks * (size_t)(d + 2) * sizeof *p.partial);
    double *mem = calloc((size_t)nz * (6 + 2 * LBFGS_PAIRS), sizeof *mem);
    if (!p.partial || !mem) {
        free(p.partial);
        free(mem);
        return attx_fail(err, "logistic regression: out of memory");
    }
    double *z = mem, *g = z + nz, *dir = g + nz, *zn = dir + nz, *gn = zn + nz, *q = gn + nz;
    double *S = q + nz, *Y = S + (size_t)nz * LBFGS_PAIRS, rho[LBFGS_PAIRS], alpha[LBFGS_PAIRS];
    int pairs = 0, head = 0, it = 0;
    if (o.init_coef) {
        for (int j = 0; j < d; j++) {
            if (!isfinite(o.init_coef[j])) {
                free(p.partial);
                free(mem);
                return attx_fail(err, "logistic regression: the starting point is not finite");
            }
            z[j] = o.init_coef[j];
        }
        z[d] = p.intercept && isfinite(o.init_intercept) ? o.init_intercept : 0;
    }

    double f = objective(&p, z, g), gmax = max_abs(nz, g);
    for (; it < o.max_iter && gmax > o.tol; it++) {
        /* two-loop recursion: dir = -H g */
        memcpy(q, g, (size_t)nz * sizeof *q);
        for (int k = 0; k < pairs; k++) {
            int s = (head - 1 - k + LBFGS_PAIRS) % LBFGS_PAIRS;
            alpha[s] = rho[s] * dot(nz, S + (size_t)s * nz, q);
            for (int j = 0; j < nz; j++) q[j] -= alpha[s] * Y[(size_t)s * nz + j];
        }
        double gamma = 1;
        if (pairs > 0) {
            int s = (head - 1 + LBFGS_PAIRS) % LBFGS_PAIRS;
            const double *ys = Y + (size_t)s * nz;
            gamma = dot(nz, S + (size_t)s * nz, ys) / dot(nz, ys, ys);
        } else {
            gamma = 1 / fmax(1.0, sqrt(dot(nz, g, g)));    /* first step of length <= 1 */
        }
        for (int j = 0; j < nz; j++) q[j] *= gamma;
        for (int k = pairs - 1; k >= 0; k--) {
            int s = (head - 1 - k + LBFGS_PAIRS) % LBFGS_PAIRS;
            double beta = rho[s] * dot(nz, Y + (size_t)s * nz, q);
            for (int j = 0; j < nz; j++) q[j] += (alpha[s] - beta) * S[(size_t)s * nz + j];
        }
        for (int j = 0; j < nz; j++) dir[j] = -q[j];
        double slope = dot(nz, g, dir);
        if (!(slope < 0)) {                 /* not a descent direction: restart from -g */
            for (int j = 0; j < nz; j++) dir[j] = -g[j] / fmax(1.0, sqrt(dot(nz, g, g)));
            slope = dot(nz, g, dir);
            pairs = 0;
        }
        /* backtracking Armijo; near the optimum f's rounding (~1e-16 |f|) hides the decrease,
         * so a step that keeps f within rounding and shrinks the gradient is accepted too */
        double step = 1, fn = f, gnmax = gmax;
        int accepted = 0;
        for (int ls = 0; ls < 60; ls++) {
            for (int j = 0; j < nz; j++) zn[j] = z[j] + step * dir[j];
            fn = objective(&p, zn, gn);
            gnmax = max_abs(nz, gn);
            if (fn <= f + 1e-4 * step * slope || (fn - f <= 1e-13 * fabs(f) && gnmax < gmax)) {
                accepted = 1;
                break;
            }
            step *= 0.5;
        }
        if (!accepted) break;
        int s = head;
        double sy = 0, yy = 0;
        for (int j = 0; j < nz; j++) {
            S[(size_t)s * nz + j] = zn[j] - z[j];
            Y[(size_t)s * nz + j] = gn[j] - g[j];
        }
        sy = dot(nz, S + (size_t)s * nz, Y + (size_t)s * nz);
        yy = dot(nz, Y + (size_t)s * nz, Y + (size_t)s * nz);
        if (sy > 1e-300 && yy > 0) {         /* curvature condition (f is strictly convex) */
            rho[s] = 1 / sy;
            head = (head + 1) % LBFGS_PAIRS;
            if (pairs < LBFGS_PAIRS) pairs++;
        }
        memcpy(z, zn, (size_t)nz * sizeof *z);
        memcpy(g, gn, (size_t)nz * sizeof *g);
        f = fn;
        gmax = gnmax;
    }
    memcpy(coef, z, (size_t)d * sizeof *coef);
    if (intercept) *intercept = p.intercept ? z[d] : 0;
    if (info) {
        size_t right = 0;
        for (size_t i = 0; i < n; i++) {
            double m = (p.intercept ? z[d] : 0) + row_dot(d, rows[i], z);
            right += (m > 0) == (y[i] == 1);
        }
        *info = (attx_logreg_info){it, gmax <= o.tol, f, gmax, (double)right / (double)n, z[d], sqrt(dot(d, z, z))};
    }
    free(p.partial);
    free(mem);
    return 0;
}
