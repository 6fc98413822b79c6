/* ops_elementwise.c — residual add, scaling, GELU, tanh and reshaping, forward and backward. */
#include "mathf.h"
#include "ops.h"
#include "parallel.h"

static attx_tensor *like(attx_ctx *ctx, const attx_tensor *x)
{
    return attx_tensor_new(ctx, x->ndim, x->shape);
}

/* ---- out = a + b ---- */
static void add_backward(attx_ctx *ctx, attx_node *node)
{
    const float *dy = node->out->grad;
    for (int k = 0; k < 2; k++) {
        attx_tensor *in = node->in[k];
        if (!(in->flags & ATTX_REQUIRES_GRAD)) continue;
        float *dx = attx_grad(ctx, in);
        if (!dx) return;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_STREAM, in->numel))
        for (int64_t i = 0; i < in->numel; i++) dx[i] += dy[i];
    }
}

attx_tensor *attx_op_add(attx_ctx *ctx, attx_tensor *a, attx_tensor *b)
{
    if (!a || !b) return NULL;
    attx_tensor *y = like(ctx, a);
    if (!y) return NULL;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_STREAM, a->numel))
    for (int64_t i = 0; i < a->numel; i++) y->data[i] = a->data[i] + b->data[i];
    attx_record(ctx, add_backward, y, a, b, NULL, NULL);
    return y;
}

/* ---- out = s · x ---- */
static void scale_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *x = node->in[0];
    float *dx = attx_grad(ctx, x), s = node->farg[0];
    if (!dx) return;
    const float *dy = node->out->grad;
    for (int64_t i = 0; i < x->numel; i++) dx[i] += s * dy[i];
}

attx_tensor *attx_op_scale(attx_ctx *ctx, attx_tensor *x, float s)
{
    if (!x) return NULL;
    attx_tensor *y = like(ctx, x);
    if (!y) return NULL;
    for (int64_t i = 0; i < x->numel; i++) y->data[i] = s * x->data[i];
    attx_node *n = attx_record(ctx, scale_backward, y, x, NULL, NULL, NULL);
    if (n) n->farg[0] = s;
    return y;
}

/* ---- out = x with another shape (same elements in the same order) ----
 * The output shares x's data (which no op writes after creating it); its gradient is its own
 * and flows back into x's. */
static void reshape_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *x = node->in[0];
    float *dx = attx_grad(ctx, x);
    if (!dx) return;
    const float *dy = node->out->grad;
    for (int64_t i = 0; i < x->numel; i++) dx[i] += dy[i];
}

attx_tensor *attx_op_reshape(attx_ctx *ctx, attx_tensor *x, int ndim, const int64_t *shape)
{
    if (!x) return NULL;
    attx_tensor *y = attx_tensor_wrap(ctx, x->data, ndim, shape);
    if (!y) return NULL;
    if (y->numel != x->numel) {     /* a programming error: refuse rather than read past x */
        ctx->failed = 1;
        return NULL;
    }
    attx_record(ctx, reshape_backward, y, x, NULL, NULL, NULL);
    return y;
}

/* ---- GELU(x) = x Φ(x), Φ(x) = (1 + erf(x/√2)) / 2 ---- */
#define CHUNK 4096   /* elements per call of a vectorised kernel */

ATTX_CLONES static void gelu_kernel(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + attx_erff(x[i] * 0.70710678118654752f));
}

/* d/dx [x Φ(x)] = Φ(x) + x φ(x), φ(x) = exp(−x²/2) / √(2π) */
ATTX_CLONES static void gelu_backward_kernel(const float *x, const float *dy, float *dx, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + attx_erff(v * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * attx_expf(-0.5f * v * v);
        dx[i] += dy[i] * (cdf + v * pdf);
    }
}

static void gelu_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *x = node->in[0];
    float *dx = attx_grad(ctx, x);
    if (!dx) return;
    int64_t n = x->numel;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_EXP, n))
    for (int64_t c = 0; c < n; c += CHUNK)
        gelu_backward_kernel(x->data + c, node->out->grad + c, dx + c, n - c < CHUNK ? n - c : CHUNK);
}

attx_tensor *attx_op_gelu(attx_ctx *ctx, attx_tensor *x)
{
    if (!x) return NULL;
    attx_tensor *y = like(ctx, x);
    if (!y) return NULL;
    int64_t n = x->numel;
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_EXP, n))
    for (int64_t c = 0; c < n; c += CHUNK) gelu_kernel(x->data + c, y->data + c, n - c < CHUNK ? n - c : CHUNK);
    attx_record(ctx, gelu_backward, y, x, NULL, NULL, NULL);
    return y;
}

/* ---- dropout (training only): y = x · keep / (1 − p), keep ~ Bernoulli(1 − p) ---- */
static void dropout_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *x = node->in[0];
    float *dx = attx_grad(ctx, x);
    if (!dx) return;
    const uint8_t *keep = node->saved;
    const float *dy = node->out->grad, scale = node->farg[0];
    for (int64_t i = 0; i < x->numel; i++) dx[i] += keep[i] ? dy[i] * scale : 0.0f;
}

attx_tensor *attx_op_dropout(attx_ctx *ctx, attx_tensor *x, float p)
{
    if (!x || !ctx->dropout || !(p > 0)) return x;
    attx_tensor *y = like(ctx, x);
    uint8_t *keep = attx_arena_alloc(&ctx->arena, (size_t)x->numel);
    if (!y || !keep) {
        ctx->failed = 1;
        return NULL;
    }
    float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < x->numel; i++) {    /* one stream, in order: the same for any threads */
        keep[i] = attx_rng_uniform(&ctx->rng) >= p;
        y->data[i] = keep[i] ? x->data[i] * scale : 0.0f;
    }
    attx_node *n = attx_record(ctx, dropout_backward, y, x, NULL, NULL, NULL);
    if (n) {
        n->saved = keep;
        n->farg[0] = scale;
    }
    return y;
}

/* ---- tanh; d tanh(x)/dx = 1 − tanh(x)² ---- */
static void tanh_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *x = node->in[0];
    float *dx = attx_grad(ctx, x);
    if (!dx) return;
    const float *dy = node->out->grad, *y = node->out->data;
    for (int64_t i = 0; i < x->numel; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

attx_tensor *attx_op_tanh(attx_ctx *ctx, attx_tensor *x)
{
    if (!x) return NULL;
    attx_tensor *y = like(ctx, x);
    if (!y) return NULL;
    for (int64_t i = 0; i < x->numel; i++) y->data[i] = attx_tanhf(x->data[i]);
    attx_record(ctx, tanh_backward, y, x, NULL, NULL, NULL);
    return y;
}
