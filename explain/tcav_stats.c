/* tcav_stats.c — Student's t distribution (through the regularised incomplete beta function),
 * one- and two-sample t-tests as scipy.stats computes them, and the Bonferroni correction. */
#include "attx_explain.h"

#include <math.h>

/* The continued fraction of I_x(a, b) (valid for x < (a + 1) / (a + b + 2)), evaluated by the
 * modified Lentz method:
 *   I_x(a, b) = x^a y^b / (a B(a, b)) * 1 / (1 + d_1 / (1 + d_2 / (1 + ...))),  y = 1 - x,
 *   d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
 *   d_{2m}   = m (b - m) x / ((a + 2m - 1)(a + 2m)). */
static double beta_fraction(double a, double b, double x, double y)
{
    /* Lentz on b_0 + a_1 / (b_1 + a_2 / (b_2 + ...)) with b_0 = 0, b_j = 1, a_1 = 1,
     * a_{j+1} = d_j */
    const double tiny = 1e-300, eps = 1e-16;
    double f = tiny, c = tiny, dd = 0;
    for (int j = 1; j <= 4000; j++) {
        double num = 1;
        if (j > 1) {
            int k = j - 1, m = k / 2;
            num = k % 2 ? -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
                        : m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
        }
        dd = 1 + num * dd;
        if (fabs(dd) < tiny) dd = tiny;
        dd = 1 / dd;
        c = 1 + num / c;
        if (fabs(c) < tiny) c = tiny;
        double delta = c * dd;
        f *= delta;
        if (fabs(delta - 1) < eps) break;
    }
    double log_front = a * log(x) + b * log(y) - (lgamma(a) + lgamma(b) - lgamma(a + b));
    return exp(log_front) / a * f;
}

/* I_x(a, b) with y = 1 - x given separately (so that x near 1 keeps its precision). */
static double betainc_xy(double a, double b, double x, double y)
{
    if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1) || isnan(y)) return NAN;
    if (x == 0) return 0;
    if (y == 0) return 1;
    if (x < (a + 1) / (a + b + 2)) return beta_fraction(a, b, x, y);
    return 1 - beta_fraction(b, a, y, x);
}

double attx_betainc(double a, double b, double x)
{
    return betainc_xy(a, b, x, 1 - x);
}

/* P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2). */
static double t_two_sided(double t, double df)
{
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return 0;
    double t2 = t * t;
    return betainc_xy(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
}

double attx_student_t_cdf(double t, double df)
{
    double tail = t_two_sided(t, df) / 2;   /* P(T >= |t|) */
    if (isnan(tail)) return NAN;
    return t > 0 ? 1 - tail : tail;
}

static void mean_var(int n, const double *x, double *mean, double *var)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    double m = s / n, ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = n > 1 ? ss / (n - 1) : NAN;
}

attx_ttest attx_ttest_1samp(int n, const double *x, double mu)
{
    attx_ttest r = {NAN, n - 1.0, NAN};
    if (n < 2 || !x) return r;
    double m, v;
    mean_var(n, x, &m, &v);
    double s = sqrt(v);
    if (!(s >= 1e-8)) return r;             /* P1: NaN when the scores do not vary */
    r.t = (m - mu) / (s / sqrt((double)n));
    r.p = t_two_sided(r.t, r.df);
    return r;
}

attx_ttest attx_ttest_ind(int nx, const double *x, int ny, const double *y, int welch)
{
    attx_ttest r = {NAN, NAN, NAN};
    if (nx < 2 || ny < 2 || !x || !y) return r;
    double mx, vx, my, vy, se;
    mean_var(nx, x, &mx, &vx);
    mean_var(ny, y, &my, &vy);
    if (welch) {
        double ax = vx / nx, ay = vy / ny;
        se = sqrt(ax + ay);
        /* Welch–Satterthwaite */
        r.df = (ax + ay) * (ax + ay) / (ax * ax / (nx - 1) + ay * ay / (ny - 1));
    } else {
        r.df = nx + ny - 2.0;
        double pooled = ((nx - 1) * vx + (ny - 1) * vy) / r.df;
        se = sqrt(pooled * (1.0 / nx + 1.0 / ny));
    }
    if (!(se >= 1e-8)) {
        r.df = welch ? NAN : r.df;
        return r;
    }
    r.t = (mx - my) / se;
    r.p = t_two_sided(r.t, r.df);
    return r;
}

double attx_bonferroni(double p, int tests)
{
    if (isnan(p)) return NAN;
    double q = p * (tests > 0 ? tests : 1);
    return q < 1 ? q : 1;
}
