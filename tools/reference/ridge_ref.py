#!/usr/bin/python3
"""Reference numbers for test/test_lime.c: sklearn's Ridge(alpha, fit_intercept=True) with
sample_weight, written out in numpy (sklearn is not installed) from its documented math:
    x_mean = average(X, weights=w), y_mean = average(y, weights=w)
    Xc = sqrt(w)[:, None] * (X - x_mean), yc = sqrt(w) * (y - y_mean)
    coef = solve(Xc.T Xc + alpha I, Xc.T yc), intercept = y_mean - x_mean . coef
    score = r2_score(y, X coef + intercept, sample_weight=w)
          = 1 - sum w (y - pred)^2 / sum w (y - y_mean)^2
The problem is fixed below (6 rows, 3 columns, unequal weights); the script prints C
initialisers to paste into the test. For alpha 0 it uses lstsq (min-norm) as sklearn's
fallback; the problem has full rank, so that is the plain solution.
Re-run from the repository root:
    /usr/bin/python3 tools/reference/ridge_ref.py
"""
import numpy as np

X = np.array([[1.0, 0.0, 2.0],
              [0.5, 1.0, 0.0],
              [2.0, 1.5, 1.0],
              [0.0, 0.0, 1.0],
              [1.0, 2.0, 3.0],
              [3.0, 0.5, 0.5]])
y = np.array([1.0, 2.5, 3.0, -0.5, 4.0, 2.0])
w = np.array([1.0, 0.5, 2.0, 0.25, 1.5, 0.75])


def ridge(alpha):
    x_mean = np.average(X, axis=0, weights=w)
    y_mean = np.average(y, weights=w)
    sw = np.sqrt(w)
    Xc = sw[:, None] * (X - x_mean)
    yc = sw * (y - y_mean)
    A = Xc.T @ Xc + alpha * np.eye(X.shape[1])
    coef = np.linalg.solve(A, Xc.T @ yc) if alpha > 0 else np.linalg.lstsq(Xc, yc, rcond=None)[0]
    intercept = y_mean - x_mean @ coef
    pred = X @ coef + intercept
    score = 1 - np.sum(w * (y - pred) ** 2) / np.sum(w * (y - y_mean) ** 2)
    return coef, intercept, score


for alpha in (1.0, 0.01, 0.0):
    coef, intercept, score = ridge(alpha)
    print("    {%.17g, {%s}, %.17g, %.17g}," % (alpha, ", ".join("%.17g" % c for c in coef),
                                                 intercept, score))
