/* test_lime.c — the weighted ridge regression and LIME, against references written here:
 *   - numbers from tools/reference/ridge_ref.py (numpy, sklearn's Ridge math written out);
 *   - a 2-feature ridge solved by Cramer's rule on the centred weighted sums;
 *   - a reference LIME fit computed from the definitions on the samples attx_lime_samples
 *     reports: cosine distance from dot products and norms, the kernel, and the ridge with its
 *     intercept as one joint (d+1) x (d+1) normal-equation system (penalty 0 on the intercept)
 *     solved by Gaussian elimination with partial pivoting in long double;
 *   - games linear in feature presence, whose ridge shrinkage is known exactly;
 *   - the sampling distribution (sizes uniform on 1..d, subsets uniform) by chi-square tests. */
#include "testutil.h"

#include <math.h>

#include "attx_explain.h"

/* ------------------------------------------------------------------------------------------ */
/* Test games                                                                                  */

typedef struct feat_game {
    int linear;             /* 1: v = b + sum w_i x_i; 0: a smooth non-linear game */
    double b;
    const double *w;        /* [d] */
    int fail_after;         /* > 0: fail once this many masks were evaluated */
    size_t evaluated;
} feat_game;

static double feat_value(const feat_game *f, int d, const uint64_t *m)
{
    double s = f->b;
    for (int i = 0; i < d; i++)
        if (attx_mask_has(m, i)) s += f->w[i];
    if (f->linear) return s;
    /* logistic of the sum, plus an interaction of players 0 and 1 */
    double v = 1 / (1 + exp(-s));
    if (d >= 2 && attx_mask_has(m, 0) && attx_mask_has(m, 1)) v += 0.3;
    return v;
}

static int feat_eval(void *user, int n, size_t count, const uint64_t *masks, double *values,
                     attx_error *err)
{
    feat_game *f = user;
    size_t words = attx_mask_words(n);
    for (size_t k = 0; k < count; k++) {
        if (f->fail_after > 0 && f->evaluated >= (size_t)f->fail_after)
            return attx_fail(err, "test game: failing on purpose");
        values[k] = feat_value(f, n, masks + k * words);
        f->evaluated++;
    }
    return 0;
}

static attx_game make_game(int d, feat_game *f)
{
    return (attx_game){.n = d, .eval = feat_eval, .user = f};
}

static void assert_close(double got, double want, double tol, const char *what, int i)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s [%d]: got %.17g want %.17g (diff %.3g > %.3g)", what, i, got, want,
                 fabs(got - want), tol);
}

/* ------------------------------------------------------------------------------------------ */
/* Reference solvers                                                                           */

/* Solves A x = b (m x m, row-major, long double) by Gaussian elimination with partial
 * pivoting; A and b are overwritten, x in b. */
static void gauss_solve(long double *A, long double *b, int m)
{
    for (int c = 0; c < m; c++) {
        int p = c;
        for (int r = c + 1; r < m; r++)
            if (fabsl(A[r * m + c]) > fabsl(A[p * m + c])) p = r;
        assert_true(fabsl(A[p * m + c]) > 1e-18L);
        if (p != c) {
            for (int j = 0; j < m; j++) {
                long double t = A[c * m + j];
                A[c * m + j] = A[p * m + j];
                A[p * m + j] = t;
            }
            long double t = b[c];
            b[c] = b[p];
            b[p] = t;
        }
        for (int r = c + 1; r < m; r++) {
            long double f = A[r * m + c] / A[c * m + c];
            for (int j = c; j < m; j++) A[r * m + j] -= f * A[c * m + j];
            b[r] -= f * b[c];
        }
    }
    for (int r = m - 1; r >= 0; r--) {
        long double s = b[r];
        for (int j = r + 1; j < m; j++) s -= A[r * m + j] * b[j];
        b[r] = s / A[r * m + r];
    }
}

/* Weighted ridge with an unpenalised intercept as one joint system on z = [1, x_cols]:
 *   (sum w z z^T + diag(0, alpha, ..., alpha)) [b0; beta] = sum w z y.
 * X[rows * d], cols[m] the columns used. coef[m]; score = weighted R^2. */
static void ref_ridge(size_t rows, int d, const double *X, const double *y, const double *w,
                      const int *cols, int m, double alpha, double *coef, double *intercept,
                      double *score)
{
    int q = m + 1;
    long double *A = calloc((size_t)q * q, sizeof *A), *b = calloc((size_t)q, sizeof *b);
    long double *z = malloc((size_t)q * sizeof *z);
    for (size_t k = 0; k < rows; k++) {
        z[0] = 1;
        for (int j = 0; j < m; j++) z[j + 1] = X[k * d + cols[j]];
        for (int i = 0; i < q; i++) {
            b[i] += (long double)w[k] * z[i] * y[k];
            for (int j = 0; j < q; j++) A[i * q + j] += (long double)w[k] * z[i] * z[j];
        }
    }
    for (int j = 1; j < q; j++) A[j * q + j] += alpha;
    gauss_solve(A, b, q);
    *intercept = (double)b[0];
    for (int j = 0; j < m; j++) coef[j] = (double)b[j + 1];
    long double W = 0, wy = 0;
    for (size_t k = 0; k < rows; k++) {
        W += w[k];
        wy += (long double)w[k] * y[k];
    }
    long double ybar = wy / W, rss = 0, tss = 0;
    for (size_t k = 0; k < rows; k++) {
        long double pred = b[0];
        for (int j = 0; j < m; j++) pred += b[j + 1] * X[k * d + cols[j]];
        rss += w[k] * (y[k] - pred) * (y[k] - pred);
        tss += w[k] * (y[k] - ybar) * (y[k] - ybar);
    }
    *score = (double)(1 - rss / tss);
    free(A);
    free(b);
    free(z);
}

/* The design matrix, values and kernel weights of LIME run `run`, from the definitions. */
typedef struct lime_data {
    size_t N;
    int d;
    double *X, *y, *w;
} lime_data;

static lime_data ref_lime_data(feat_game *f, int d, int N, uint64_t seed, int run, double width)
{
    size_t words = attx_mask_words(d);
    uint64_t *masks = malloc((size_t)N * words * sizeof *masks);
    attx_error err;
    if (attx_lime_samples(d, N, seed, run, masks, &err) != 0) fail_msg("%s", err.msg);
    lime_data L = {(size_t)N, d, malloc((size_t)N * d * sizeof(double)),
                   malloc((size_t)N * sizeof(double)), malloc((size_t)N * sizeof(double))};
    for (int k = 0; k < N; k++) {
        const uint64_t *m = masks + (size_t)k * words;
        double dot = 0, norm2 = 0;
        for (int j = 0; j < d; j++) {
            double x = attx_mask_has(m, j);
            L.X[(size_t)k * d + j] = x;
            dot += x * 1.0;
            norm2 += x * x;
        }
        /* sklearn's cosine distance: 1 - x.u / (|x| |u|), similarity 0 for a zero row */
        double sim = norm2 > 0 ? dot / (sqrt(norm2) * sqrt((double)d)) : 0;
        double dist = (1 - sim) * 100;
        L.w[k] = sqrt(exp(-dist * dist / (width * width)));
        L.y[k] = feat_value(f, d, m);
    }
    free(masks);
    return L;
}

static void lime_data_free(lime_data *L)
{
    free(L->X);
    free(L->y);
    free(L->w);
}

/* Reference LIME fit on all d features of run `run`. */
static void ref_lime_all(feat_game *f, int d, int N, uint64_t seed, int run, double alpha,
                         double *coef, double *intercept, double *score)
{
    lime_data L = ref_lime_data(f, d, N, seed, run, 25);
    int *cols = malloc((size_t)d * sizeof *cols);
    for (int j = 0; j < d; j++) cols[j] = j;
    ref_ridge(L.N, d, L.X, L.y, L.w, cols, d, alpha, coef, intercept, score);
    free(cols);
    lime_data_free(&L);
}

/* ------------------------------------------------------------------------------------------ */
/* Ridge                                                                                       */

/* tools/reference/ridge_ref.py's problem and output */
static const double RX[6][3] = {{1.0, 0.0, 2.0}, {0.5, 1.0, 0.0}, {2.0, 1.5, 1.0},
                                {0.0, 0.0, 1.0}, {1.0, 2.0, 3.0}, {3.0, 0.5, 0.5}};
static const double RY[6] = {1.0, 2.5, 3.0, -0.5, 4.0, 2.0};
static const double RW[6] = {1.0, 0.5, 2.0, 0.25, 1.5, 0.75};
static const struct {
    double alpha, coef[3], intercept, score;
} RIDGE_REF[] = {
    {1, {0.21022155049937746, 1.1003131821201477, 0.19689679154762391}, 0.72861161592625323, 0.8954835336034872},
    {0.01, {0.22216417671325422, 1.4633669928749582, 0.12948764295063145}, 0.39721659860681013, 0.94184631452980028},
    {0, {0.22195210507206267, 1.4684831168011114, 0.12816707973542529}, 0.39368083729300629, 0.94185486850997002},
};

static void test_ridge_numpy_reference(void **state)
{
    (void)state;
    attx_error err;
    for (size_t c = 0; c < sizeof RIDGE_REF / sizeof *RIDGE_REF; c++) {
        double coef[3], b0, score;
        if (attx_weighted_ridge(6, 3, &RX[0][0], RY, RW, RIDGE_REF[c].alpha, coef, &b0, &score,
                                &err) != 0)
            fail_msg("%s", err.msg);
        for (int j = 0; j < 3; j++) assert_close(coef[j], RIDGE_REF[c].coef[j], 1e-12, "coef", j);
        assert_close(b0, RIDGE_REF[c].intercept, 1e-12, "intercept", (int)c);
        assert_close(score, RIDGE_REF[c].score, 1e-12, "score", (int)c);
    }
}

/* Two features: the centred weighted normal equations
 *   [Sxx Sxz; Sxz Szz] + alpha I, right side [Sxy; Szy], solved by Cramer's rule. */
static void test_ridge_two_features_closed_form(void **state)
{
    (void)state;
    const double X[5][2] = {{1, 0}, {0, 1}, {1, 1}, {0, 0}, {2, 1}};
    const double y[5] = {3, 2, 6, 1, 7.5};
    const double w[5] = {1, 2, 0.5, 1, 0.25};
    for (int use_w = 0; use_w < 2; use_w++) {
        for (int a = 0; a < 3; a++) {
            double alpha = a == 0 ? 0 : a == 1 ? 1 : 3.5;
            double W = 0, mx = 0, mz = 0, my = 0;
            for (int k = 0; k < 5; k++) {
                double wk = use_w ? w[k] : 1;
                W += wk;
                mx += wk * X[k][0];
                mz += wk * X[k][1];
                my += wk * y[k];
            }
            mx /= W, mz /= W, my /= W;
            double Sxx = 0, Sxz = 0, Szz = 0, Sxy = 0, Szy = 0;
            for (int k = 0; k < 5; k++) {
                double wk = use_w ? w[k] : 1;
                double dx = X[k][0] - mx, dz = X[k][1] - mz, dy = y[k] - my;
                Sxx += wk * dx * dx, Sxz += wk * dx * dz, Szz += wk * dz * dz;
                Sxy += wk * dx * dy, Szy += wk * dz * dy;
            }
            double a11 = Sxx + alpha, a22 = Szz + alpha, det = a11 * a22 - Sxz * Sxz;
            double b1 = (Sxy * a22 - Sxz * Szy) / det, b2 = (a11 * Szy - Sxz * Sxy) / det;
            double b0 = my - mx * b1 - mz * b2;
            double rss = 0, tss = 0;
            for (int k = 0; k < 5; k++) {
                double wk = use_w ? w[k] : 1, p = b0 + b1 * X[k][0] + b2 * X[k][1];
                rss += wk * (y[k] - p) * (y[k] - p);
                tss += wk * (y[k] - my) * (y[k] - my);
            }
            double coef[2], got_b0, score;
            attx_error err;
            if (attx_weighted_ridge(5, 2, &X[0][0], y, use_w ? w : NULL, alpha, coef, &got_b0,
                                    &score, &err) != 0)
                fail_msg("%s", err.msg);
            assert_close(coef[0], b1, 1e-12, "b1", a);
            assert_close(coef[1], b2, 1e-12, "b2", a);
            assert_close(got_b0, b0, 1e-12, "b0", a);
            assert_close(score, 1 - rss / tss, 1e-12, "R^2", a);
        }
    }
}

/* alpha 0 with a duplicated column: the duplicate gets 0 and the fit (so R^2) is that of the
 * problem without it; a constant target gives r2_score's 1. */
static void test_ridge_degenerate(void **state)
{
    (void)state;
    double X4[6][4], coef4[4], coef3[3], b4, b3, s4, s3;
    for (int k = 0; k < 6; k++) {
        for (int j = 0; j < 3; j++) X4[k][j] = RX[k][j];
        X4[k][3] = RX[k][1];   /* copy of column 1 */
    }
    attx_error err;
    assert_int_equal(attx_weighted_ridge(6, 4, &X4[0][0], RY, RW, 0, coef4, &b4, &s4, &err), 0);
    assert_int_equal(attx_weighted_ridge(6, 3, &RX[0][0], RY, RW, 0, coef3, &b3, &s3, &err), 0);
    assert_close(coef4[3], 0, 0, "duplicate", 3);
    for (int j = 0; j < 3; j++) assert_close(coef4[j], coef3[j], 1e-9, "coef", j);
    assert_close(b4, b3, 1e-9, "intercept", 0);
    assert_close(s4, s3, 1e-12, "score", 0);
    assert_close(s3, RIDGE_REF[2].score, 1e-12, "score vs numpy", 0);

    const double yc[6] = {2, 2, 2, 2, 2, 2};
    assert_int_equal(attx_weighted_ridge(6, 3, &RX[0][0], yc, RW, 1, coef3, &b3, &s3, &err), 0);
    for (int j = 0; j < 3; j++) assert_close(coef3[j], 0, 1e-15, "coef", j);
    assert_close(b3, 2, 1e-15, "intercept", 0);
    assert_close(s3, 1, 0, "score", 0);

    /* errors */
    const double wbad[6] = {1, 1, -1, 1, 1, 1}, wzero[6] = {0};
    assert_int_equal(attx_weighted_ridge(6, 3, &RX[0][0], RY, wbad, 1, coef3, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "weight 2"));
    assert_int_equal(attx_weighted_ridge(6, 3, &RX[0][0], RY, wzero, 1, coef3, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "sum to 0"));
    assert_int_equal(attx_weighted_ridge(6, 3, &RX[0][0], RY, RW, -1, coef3, NULL, NULL, &err), -1);
    assert_int_equal(attx_weighted_ridge(0, 3, &RX[0][0], RY, RW, 1, coef3, NULL, NULL, &err), -1);
    double ynan[6] = {1, 2, NAN, 4, 5, 6};
    assert_int_equal(attx_weighted_ridge(6, 3, &RX[0][0], ynan, RW, 1, coef3, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "target 2"));
}

/* ------------------------------------------------------------------------------------------ */
/* Sampling                                                                                    */

static void test_lime_sampling_distribution(void **state)
{
    (void)state;
    attx_error err;
    /* d = 8: sample 0 full, removal sizes uniform on 1..8, each feature removed equally often */
    enum { D = 8, N = 80001 };
    uint64_t *masks = malloc(N * sizeof *masks);
    if (attx_lime_samples(D, N, 7, 0, masks, &err) != 0) fail_msg("%s", err.msg);
    assert_true(masks[0] == 0xFF);
    long size_count[D + 1] = {0}, removed[D] = {0};
    for (int k = 1; k < N; k++) {
        assert_true(masks[k] >> D == 0);
        int s = D - __builtin_popcountll(masks[k]);
        assert_true(s >= 1 && s <= D);
        size_count[s]++;
        for (int j = 0; j < D; j++) removed[j] += !(masks[k] >> j & 1);
    }
    double chi = 0, expect = (N - 1) / (double)D;
    for (int s = 1; s <= D; s++) chi += (size_count[s] - expect) * (size_count[s] - expect) / expect;
    assert_true(chi < 29.9);   /* chi-square, 7 degrees of freedom: P(> 29.9) ~ 1e-4 */
    long total = 0;
    for (int j = 0; j < D; j++) total += removed[j];
    assert_true(size_count[D] > 0);   /* s = d (every feature removed) happens */
    double chi2 = 0, e2 = total / (double)D;
    for (int j = 0; j < D; j++) chi2 += (removed[j] - e2) * (removed[j] - e2) / e2;
    /* counts within a sample are dependent (they add up to s), so this is conservative */
    assert_true(chi2 < 29.9);
    free(masks);

    /* d = 4: the removed pair of a size-2 sample is uniform over the 6 pairs */
    enum { N4 = 60001 };
    masks = malloc(N4 * sizeof *masks);
    if (attx_lime_samples(4, N4, 11, 3, masks, &err) != 0) fail_msg("%s", err.msg);
    long pair_count[16] = {0}, pairs = 0;
    for (int k = 1; k < N4; k++) {
        uint64_t removed_set = ~masks[k] & 0xF;
        if (__builtin_popcountll(removed_set) == 2) pair_count[removed_set]++, pairs++;
    }
    double chi3 = 0, e3 = pairs / 6.0;
    for (int m = 0; m < 16; m++) {
        if (__builtin_popcount((unsigned)m) != 2) continue;
        chi3 += (pair_count[m] - e3) * (pair_count[m] - e3) / e3;
    }
    assert_true(chi3 < 25.7);   /* 5 degrees of freedom: P(> 25.7) ~ 1e-4 */
    free(masks);

    /* more than 64 features: words beyond the first, and no stray bits past d */
    enum { DB = 130, NB = 200 };
    size_t words = attx_mask_words(DB);
    masks = malloc(NB * words * sizeof *masks);
    if (attx_lime_samples(DB, NB, 1, 0, masks, &err) != 0) fail_msg("%s", err.msg);
    for (int j = 0; j < DB; j++) assert_true(attx_mask_has(masks, j));
    for (int k = 0; k < NB; k++) assert_true(masks[k * words + 2] >> (DB - 128) == 0);
    assert_int_equal(attx_lime_samples(0, 10, 1, 0, masks, &err), -1);
    assert_int_equal(attx_lime_samples(3, 0, 1, 0, masks, &err), -1);
    free(masks);
}

/* ------------------------------------------------------------------------------------------ */
/* LIME                                                                                        */

static const double W10[10] = {0.8, -0.5, 0.3, 1.2, -0.05, 0.0, 0.45, -1.0, 0.2, 0.6};

/* v(S) = b + sum w_i: the weighted data fit exactly, so ridge gives beta = (G + aI)^-1 G w =
 * w - a (G + aI)^-1 w. The reference computes that shrinkage from its own system. */
static void test_lime_linear_recovers_weights(void **state)
{
    (void)state;
    const int d = 10, N = 5000;
    feat_game f = {.linear = 1, .b = 0.3, .w = W10};
    attx_game g = make_game(d, &f);
    attx_lime_options o = {.seed = 5};
    double coef[10];
    attx_lime_info info;
    attx_error err;
    if (attx_lime(&g, &o, coef, &info, &err) != 0) fail_msg("%s", err.msg);
    assert_true(info.evaluations == (uint64_t)N);
    assert_true(info.selection == ATTX_LIME_NONE);
    assert_int_equal(info.features_used, d);
    assert_true(info.score > 0.99);
    assert_close(info.v_full, 0.3 + 2.0, 1e-12, "v(N)", 0);

    /* exact shrinkage: z = (G + I)^-1 w with G the centred weighted Gram of the samples */
    lime_data L = ref_lime_data(&f, d, N, 5, 0, 25);
    long double A[100] = {0}, z[10], mean[10] = {0}, W = 0;
    for (size_t k = 0; k < L.N; k++) {
        W += L.w[k];
        for (int j = 0; j < d; j++) mean[j] += L.w[k] * L.X[k * d + j];
    }
    for (int j = 0; j < d; j++) mean[j] /= W;
    for (size_t k = 0; k < L.N; k++)
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                A[i * d + j] += L.w[k] * (L.X[k * d + i] - mean[i]) * (L.X[k * d + j] - mean[j]);
    for (int j = 0; j < d; j++) A[j * d + j] += 1, z[j] = W10[j];
    gauss_solve(A, z, d);
    double max_shrink = 0, max_w = 0;
    for (int j = 0; j < d; j++) {
        assert_close(coef[j], W10[j] - (double)z[j], 1e-10, "w - shrinkage", j);
        max_shrink = fmax(max_shrink, fabs((double)z[j]));
        max_w = fmax(max_w, fabs(W10[j]));
    }
    /* the shrinkage is small: about alpha / (sum of weights * feature variance) */
    assert_true(max_shrink < 0.01 * max_w);
    for (int j = 0; j < d; j++) assert_close(coef[j], W10[j], 0.01 * max_w, "recovered w", j);
    /* local prediction = intercept + sum coef */
    double s = info.intercept;
    for (int j = 0; j < d; j++) s += coef[j];
    assert_close(info.local_pred, s, 1e-12, "local_pred", 0);
    assert_close(info.intercept, 0.3, 0.05, "intercept", 0);
    lime_data_free(&L);

    /* 70 features (masks of two words), 2000 samples: against the reference fit */
    double w70[70], coef70[70], want[70], b0, sc;
    for (int j = 0; j < 70; j++) w70[j] = W10[j % 10] * (1 + j / 10);
    feat_game f70 = {.linear = 1, .b = -0.2, .w = w70};
    attx_game g70 = make_game(70, &f70);
    attx_lime_options o70 = {.seed = 8, .num_samples = 2000};
    if (attx_lime(&g70, &o70, coef70, &info, &err) != 0) fail_msg("%s", err.msg);
    ref_lime_all(&f70, 70, 2000, 8, 0, 1.0, want, &b0, &sc);
    for (int j = 0; j < 70; j++) assert_close(coef70[j], want[j], 1e-9, "d=70 coef", j);
    assert_close(info.intercept, b0, 1e-9, "d=70 intercept", 0);
    assert_close(info.score, sc, 1e-10, "d=70 score", 0);
    assert_true(info.score > 0.99);
    for (int j = 0; j < 70; j++) assert_close(coef70[j], w70[j], 0.05, "d=70 recovered w", j);
}

/* Against the reference fit from the definitions, on a non-linear game, with repeats. */
static void test_lime_matches_reference(void **state)
{
    (void)state;
    const double w6[6] = {1.5, -0.7, 0.4, 2.0, -1.2, 0.1};
    const int d = 6, N = 400;
    feat_game f = {.linear = 0, .b = -1.0, .w = w6};
    attx_game g = make_game(d, &f);
    attx_error err;
    for (int repeats = 1; repeats <= 3; repeats += 2) {
        attx_lime_options o = {.seed = 99, .num_samples = N, .repeats = repeats};
        double coef[6];
        attx_lime_info info;
        f.evaluated = 0;
        if (attx_lime(&g, &o, coef, &info, &err) != 0) fail_msg("%s", err.msg);
        assert_true(info.evaluations == (uint64_t)N * repeats);
        assert_true(f.evaluated == (size_t)N * repeats);
        double want[6] = {0}, want_b0 = 0, want_score = 0;
        for (int r = 0; r < repeats; r++) {
            double c[6], b0, sc;
            ref_lime_all(&f, d, N, 99, r, 1.0, c, &b0, &sc);
            for (int j = 0; j < d; j++) want[j] += c[j] / repeats;
            want_b0 += b0 / repeats;
            want_score += sc / repeats;
        }
        for (int j = 0; j < d; j++) assert_close(coef[j], want[j], 1e-10, "coef", j);
        assert_close(info.intercept, want_b0, 1e-10, "intercept", repeats);
        assert_close(info.score, want_score, 1e-10, "score", repeats);
        assert_true(info.score < 0.999);   /* the game is not linear */
    }
    /* another width and alpha */
    attx_lime_options o = {.seed = 3, .num_samples = 300, .kernel_width = 40, .alpha = 2.5};
    double coef[6];
    attx_lime_info info;
    if (attx_lime(&g, &o, coef, &info, &err) != 0) fail_msg("%s", err.msg);
    lime_data L = ref_lime_data(&f, d, 300, 3, 0, 40);
    int cols[6] = {0, 1, 2, 3, 4, 5};
    double want[6], b0, sc;
    ref_ridge(L.N, d, L.X, L.y, L.w, cols, d, 2.5, want, &b0, &sc);
    for (int j = 0; j < d; j++) assert_close(coef[j], want[j], 1e-10, "coef width 40", j);
    assert_close(info.score, sc, 1e-10, "score width 40", 0);
    lime_data_free(&L);
}

/* Forward selection (num_features <= 6) and highest weights (> 6, < d), by a reference greedy
 * search and a reference alpha-0.01 ranking on the same samples. */
static void test_lime_feature_selection(void **state)
{
    (void)state;
    const double w8[8] = {0.3, -1.4, 0.9, 0.05, 1.1, -0.6, 0.2, 0.7};
    const int d = 8, N = 600;
    feat_game f = {.linear = 0, .b = -0.5, .w = w8};
    attx_game g = make_game(d, &f);
    lime_data L = ref_lime_data(&f, d, N, 21, 0, 25);
    attx_error err;

    /* forward selection, 3 features */
    attx_lime_options o = {.seed = 21, .num_samples = N, .num_features = 3};
    double coef[8];
    attx_lime_info info;
    if (attx_lime(&g, &o, coef, &info, &err) != 0) fail_msg("%s", err.msg);
    assert_true(info.selection == ATTX_LIME_FORWARD);
    assert_int_equal(info.features_used, 3);
    int chosen[8], m = 0;
    for (int step = 0; step < 3; step++) {
        double best = -1e9;
        int best_f = -1;
        for (int c = 0; c < d; c++) {
            int taken = 0;
            for (int t = 0; t < m; t++) taken |= chosen[t] == c;
            if (taken) continue;
            chosen[m] = c;
            double cf[8], b0, sc;
            ref_ridge(L.N, d, L.X, L.y, L.w, chosen, m + 1, 0, cf, &b0, &sc);
            if (sc > best) best = sc, best_f = c;
        }
        chosen[m++] = best_f;
    }
    double want[8], b0, sc;
    ref_ridge(L.N, d, L.X, L.y, L.w, chosen, 3, 1.0, want, &b0, &sc);
    double full[8] = {0};
    for (int t = 0; t < 3; t++) full[chosen[t]] = want[t];
    for (int j = 0; j < d; j++) assert_close(coef[j], full[j], 1e-10, "forward coef", j);
    assert_close(info.score, sc, 1e-10, "forward score", 0);
    assert_close(info.intercept, b0, 1e-10, "forward intercept", 0);

    /* highest weights, 7 of 8: drop the smallest |coef| of the alpha-0.01 fit */
    o.num_features = 7;
    if (attx_lime(&g, &o, coef, &info, &err) != 0) fail_msg("%s", err.msg);
    assert_true(info.selection == ATTX_LIME_HIGHEST_WEIGHTS);
    int all[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    double c01[8];
    ref_ridge(L.N, d, L.X, L.y, L.w, all, d, 0.01, c01, &b0, &sc);
    int drop = 0;
    for (int j = 1; j < d; j++)
        if (fabs(c01[j]) < fabs(c01[drop])) drop = j;
    int keep[7], mk = 0;
    for (int j = 0; j < d; j++)
        if (j != drop) keep[mk++] = j;
    ref_ridge(L.N, d, L.X, L.y, L.w, keep, 7, 1.0, want, &b0, &sc);
    for (int j = 0; j < d; j++) full[j] = 0;
    for (int t = 0; t < 7; t++) full[keep[t]] = want[t];
    assert_close(coef[drop], 0, 0, "dropped feature", drop);
    for (int j = 0; j < d; j++) assert_close(coef[j], full[j], 1e-10, "highest coef", j);
    assert_close(info.score, sc, 1e-10, "highest score", 0);

    /* explicit selections; num_features >= d keeps all whatever the method */
    o.num_features = 2;
    o.selection = ATTX_LIME_HIGHEST_WEIGHTS;
    if (attx_lime(&g, &o, coef, &info, &err) != 0) fail_msg("%s", err.msg);
    assert_true(info.selection == ATTX_LIME_HIGHEST_WEIGHTS);
    int nonzero = 0;
    for (int j = 0; j < d; j++) nonzero += coef[j] != 0;
    assert_int_equal(nonzero, 2);
    o.num_features = 255;
    o.selection = ATTX_LIME_FORWARD;
    double coef_all[8];
    if (attx_lime(&g, &o, coef_all, &info, &err) != 0) fail_msg("%s", err.msg);
    assert_true(info.selection == ATTX_LIME_NONE);
    ref_ridge(L.N, d, L.X, L.y, L.w, all, d, 1.0, want, &b0, &sc);
    for (int j = 0; j < d; j++) assert_close(coef_all[j], want[j], 1e-10, "all coef", j);
    lime_data_free(&L);
}

static void test_lime_reproducible(void **state)
{
    (void)state;
    feat_game f = {.linear = 0, .b = 0.2, .w = W10};
    attx_game g = make_game(10, &f);
    attx_lime_options o = {.seed = 17, .num_samples = 700, .repeats = 2};
    double a[10], b[10], c[10];
    attx_lime_info ia, ib, ic;
    attx_error err;
    assert_int_equal(attx_lime(&g, &o, a, &ia, &err), 0);
    g.max_batch = 7;   /* batch size does not change the samples */
    assert_int_equal(attx_lime(&g, &o, b, &ib, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(&ia.score, &ib.score, sizeof ia.score);
    o.seed = 18;
    assert_int_equal(attx_lime(&g, &o, c, &ic, &err), 0);
    int same = 0;
    for (int j = 0; j < 10; j++) same += a[j] == c[j];
    assert_true(same < 10);

    /* d = 1: every sample is full or empty; the coefficient is v(N) - v(empty) shrunk */
    const double w1[1] = {0.7};
    feat_game f1 = {.linear = 1, .b = 0.1, .w = w1};
    attx_game g1 = make_game(1, &f1);
    double c1;
    attx_lime_options o1 = {.seed = 1, .num_samples = 1000};
    assert_int_equal(attx_lime(&g1, &o1, &c1, &ic, &err), 0);
    /* x = 1 with kernel weight 1 (sample 0 only), x = 0 with sqrt(exp(-16)) (999 samples):
     * centred Gram G = W p (1 - p); beta = G w / (G + 1) */
    double w0 = sqrt(exp(-16.0)), W = 1 + 999 * w0, p = 1 / W, G = W * p * (1 - p);
    assert_close(c1, G * 0.7 / (G + 1), 1e-12, "d=1 coef", 0);
}

static void test_lime_errors(void **state)
{
    (void)state;
    attx_error err;
    double coef[10];
    feat_game f = {.linear = 1, .b = 0, .w = W10};
    attx_game g0 = make_game(0, &f);
    assert_int_equal(attx_lime(&g0, NULL, coef, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "0 players"));
    attx_game g = make_game(10, &f);
    attx_lime_options bad = {.num_samples = -1};
    assert_int_equal(attx_lime(&g, &bad, coef, NULL, &err), -1);
    bad = (attx_lime_options){.alpha = -1};
    assert_int_equal(attx_lime(&g, &bad, coef, NULL, &err), -1);
    bad = (attx_lime_options){.selection = (attx_lime_selection)9};
    assert_int_equal(attx_lime(&g, &bad, coef, NULL, &err), -1);
    assert_int_equal(attx_lime(&g, NULL, NULL, NULL, &err), -1);
    f.fail_after = 100;
    attx_lime_info info;
    assert_int_equal(attx_lime(&g, NULL, coef, &info, &err), -1);
    assert_non_null(strstr(err.msg, "failing on purpose"));
    assert_true(isnan(info.score));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ridge_numpy_reference),
        cmocka_unit_test(test_ridge_two_features_closed_form),
        cmocka_unit_test(test_ridge_degenerate),
        cmocka_unit_test(test_lime_sampling_distribution),
        cmocka_unit_test(test_lime_linear_recovers_weights),
        cmocka_unit_test(test_lime_matches_reference),
        cmocka_unit_test(test_lime_feature_selection),
        cmocka_unit_test(test_lime_reproducible),
        cmocka_unit_test(test_lime_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
