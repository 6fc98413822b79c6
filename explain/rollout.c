/* rollout.c — attention rollout (Abnar & Zuidema 2020) and gradient-weighted rollout (Chefer
 * et al. 2021), read at the [CLS] row. */
#include "methods_internal.h"

#include <stdlib.h>
#include <string.h>

/* C = A * B for T x T matrices. */
static void matmul(int T, const double *A, const double *B, double *C)
{
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            double s = 0;
            for (int k = 0; k < T; k++) s += A[i * T + k] * B[k * T + j];
            C[i * T + j] = s;
        }
}

/* Abar^l = mean over heads of A (grad: of (dA * A)^+), T x T. */
static void head_mean(const attx_tensor *a, int T, int grad, double *out)
{
    int64_t H = a->shape[1];
    memset(out, 0, (size_t)T * (size_t)T * sizeof *out);
    for (int64_t h = 0; h < H; h++)
        for (int i = 0; i < T * T; i++) {
            double v = a->data[(size_t)(h * T * T) + (size_t)i];
            if (grad) {
                v *= a->grad[(size_t)(h * T * T) + (size_t)i];
                if (v < 0) v = 0;
            }
            out[i] += v / (double)H;
        }
}

static int rollout_method(const method_ctx *mc, int grad, attx_method_result *r, attx_error *err)
{
    const attx_layer_set *ls = &mc->opt->layers;
    int T = mc->T, L = ls->n_layers > 0 ? ls->n_layers : mc->cfg->num_layers;
    size_t TT = (size_t)T * (size_t)T;
    if (mc->out->attn[0]->shape[2] != T)   /* attn1: one layer, the [CLS] row only */
        return attx_fail(err, "rollout multiplies T x T attention matrices; this model's attention has only the "
                              "[CLS] row (attn1: one layer, where rollout's [CLS] row is att-avg / 2)");
    double *R = malloc(TT * sizeof *R), *Ab = malloc(TT * sizeof *Ab), *tmp = malloc(TT * sizeof *tmp);
    int rc = -1;
    if (!R || !Ab || !tmp) {
        attx_fail(err, "out of memory");
        goto done;
    }
    memset(R, 0, TT * sizeof *R);
    for (int i = 0; i < T; i++) R[i * T + i] = 1;
    for (int k = 0; k < L; k++) {
        int l = ls->n_layers > 0 ? ls->layers[k] : k;
        if (l < 0 || l >= mc->cfg->num_layers) {
            attx_fail(err, "layer %d is out of range (the model has %d layers, numbered from 0)", l, mc->cfg->num_layers);
            goto done;
        }
        if (grad && !mc->out->attn[l]->grad) {
            attx_fail(err, "no attention gradients");
            goto done;
        }
        head_mean(mc->out->attn[l], T, grad, Ab);
        if (grad) {                          /* R <- R + Abar R */
            matmul(T, Ab, R, tmp);
            for (size_t i = 0; i < TT; i++) R[i] += tmp[i];
        } else {                             /* R <- norm(0.5 Abar + 0.5 I) R */
            for (int i = 0; i < T; i++) {
                Ab[i * T + i] += 1.0;
                double s = 0;
                for (int j = 0; j < T; j++) s += Ab[i * T + j];
                for (int j = 0; j < T; j++) Ab[i * T + j] /= s;   /* the 0.5s cancel */
            }
            matmul(T, Ab, R, tmp);
            memcpy(R, tmp, TT * sizeof *R);
        }
    }
    for (int i = 0; i < mc->n; i++) r->scores[i] = R[mc->first + i];
    strcpy(r->how, grad ? "R += mean_h (dA*A)^+ R, [CLS] row" : "product of norm(0.5 A + 0.5 I), [CLS] row");
    rc = 0;
done:
    free(R);
    free(Ab);
    free(tmp);
    return rc;
}

int method_rollout(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return rollout_method(mc, 0, r, err);
}
int method_grad_rollout(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    return rollout_method(mc, 1, r, err);
}
