/* ops_layernorm.c — LayerNorm over the last dimension, forward and backward. */
#include "mathf.h"
#include "ops.h"
#include "parallel.h"

#include <math.h>

typedef struct {
    float *mean;   /* [N] */
    float *rstd;   /* [N] 1 / sqrt(var + eps) */
} layernorm_saved;

static void layernorm_backward(attx_ctx *ctx, attx_node *node);

/* y = (x − mean) · rstd · gamma + beta, mean and (biased) variance over the D features of a row */
/* One row of D features; returns its mean and 1/sqrt(var + eps) */
ATTX_CLONES static void layernorm_row(const float *x, const float *g, const float *bt, float *y, int64_t D,
                                      float eps, float *mean, float *rstd)
{
    float m = attx_sum(x, D) / (float)D;
    float v = attx_sum_sq_dev(x, m, D) / (float)D;
    float s = 1.0f / sqrtf(v + eps);
    for (int64_t i = 0; i < D; i++) y[i] = (x[i] - m) * s * g[i] + bt[i];
    *mean = m;
    *rstd = s;
}

attx_tensor *attx_op_layernorm(attx_ctx *ctx, attx_tensor *x, attx_tensor *gamma,
                               attx_tensor *beta, float eps)
{
    if (!x || !gamma || !beta) return NULL;
    int64_t D = x->shape[x->ndim - 1], N = x->numel / D;
    attx_tensor *y = attx_tensor_new(ctx, x->ndim, x->shape);
    float *mean = attx_arena_alloc(&ctx->arena, (size_t)N * sizeof(float));
    float *rstd = attx_arena_alloc(&ctx->arena, (size_t)N * sizeof(float));
    if (!y || !mean || !rstd) {
        ctx->failed = 1;
        return NULL;
    }
    const float *g = gamma->data, *bt = beta->data;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_LAYERNORM, N * D))
    for (int64_t r = 0; r < N; r++) layernorm_row(x->data + r * D, g, bt, y->data + r * D, D, eps, &mean[r], &rstd[r]);
    attx_node *n = attx_record(ctx, layernorm_backward, y, x, gamma, beta, NULL);
    if (n) {
        layernorm_saved *sv = attx_arena_alloc(&ctx->arena, sizeof *sv);
        if (!sv) {
            ctx->failed = 1;
            return NULL;
        }
        sv->mean = mean;
        sv->rstd = rstd;
        n->saved = sv;
    }
    return y;
}

/* With x̂ = (x − mean)·rstd and g = dy ⊙ gamma (per row):
 *   dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)),   dgamma = Σ_rows dy ⊙ x̂,   dbeta = Σ_rows dy */
/* dx of one row (see above); the two means summed lane-wise (mathf.h) */
ATTX_CLONES static void layernorm_backward_row(const float *x, const float *dy, const float *g, float m, float s,
                                               float *dx, int64_t D)
{
    float acc_g[ATTX_LANES] = {0}, acc_gx[ATTX_LANES] = {0};
    for (int64_t i = 0; i < D; i++) {
        float gi = dy[i] * g[i];
        acc_g[i % ATTX_LANES] += gi;
        acc_gx[i % ATTX_LANES] += gi * (x[i] - m) * s;
    }
    float g_mean = attx_lanes_total(acc_g) / (float)D, gx_mean = attx_lanes_total(acc_gx) / (float)D;
    for (int64_t i = 0; i < D; i++) {
        float xhat = (x[i] - m) * s;
        dx[i] += s * (dy[i] * g[i] - g_mean - xhat * gx_mean);
    }
}

static void layernorm_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *y = node->out, *x = node->in[0], *gamma = node->in[1], *beta = node->in[2];
    const layernorm_saved *sv = node->saved;
    int64_t D = x->shape[x->ndim - 1], N = x->numel / D;
    const float *dy = y->grad, *g = gamma->data;
    if (x->flags & ATTX_REQUIRES_GRAD) {
        float *dx = attx_grad(ctx, x);
        if (!dx) return;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_LAYERNORM, N * D))
        for (int64_t r = 0; r < N; r++)
            layernorm_backward_row(x->data + r * D, dy + r * D, g, sv->mean[r], sv->rstd[r], dx + r * D, D);
    }
    int dg = gamma->flags & ATTX_REQUIRES_GRAD, db = beta->flags & ATTX_REQUIRES_GRAD;
    if (!dg && !db) return;
    float *dgamma = dg ? attx_grad(ctx, gamma) : NULL, *dbeta = db ? attx_grad(ctx, beta) : NULL;
    if ((dg && !dgamma) || (db && !dbeta)) return;
    /* per feature, rows summed in order by one thread: thread-count independent */
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_LAYERNORM, N * D))
    for (int64_t i = 0; i < D; i++) {
        float sg = 0.0f, sb = 0.0f;
        for (int64_t r = 0; r < N; r++) {
            float d = dy[r * D + i];
            sg += d * (x->data[r * D + i] - sv->mean[r]) * sv->rstd[r];
            sb += d;
        }
        if (dgamma) dgamma[i] += sg;
        if (dbeta) dbeta[i] += sb;
    }
}
