/* tape.c — tensors in the arena, recording ops, and the reverse pass. */
#include "tape.h"

#include <stdlib.h>
#include <string.h>

attx_ctx *attx_ctx_new(void)
{
    return calloc(1, sizeof(attx_ctx));
}

void attx_ctx_free(attx_ctx *ctx)
{
    if (!ctx) return;
    attx_arena_free(&ctx->arena);
    free(ctx->nodes);
    free(ctx);
}

void attx_ctx_set_tape(attx_ctx *ctx, int on)
{
    ctx->recording = on;
}

void attx_ctx_set_dropout(attx_ctx *ctx, int on, uint64_t seed)
{
    ctx->dropout = on;
    attx_rng_seed(&ctx->rng, seed);
}

size_t attx_ctx_peak_bytes(const attx_ctx *ctx)
{
    return ctx->arena.peak;
}

void attx_ctx_reset(attx_ctx *ctx)
{
    attx_arena_reset(&ctx->arena);
    ctx->n_nodes = 0;
    ctx->failed = 0;
}

static attx_tensor *tensor_header(attx_ctx *ctx, int ndim, const int64_t *shape)
{
    attx_tensor *t = attx_arena_alloc(&ctx->arena, sizeof *t);
    if (!t) {
        ctx->failed = 1;
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= shape[i];
    }
    return t;
}

attx_tensor *attx_tensor_new(attx_ctx *ctx, int ndim, const int64_t *shape)
{
    attx_tensor *t = tensor_header(ctx, ndim, shape);
    if (!t) return NULL;
    t->data = attx_arena_alloc(&ctx->arena, (size_t)t->numel * sizeof(float));
    if (!t->data) {
        ctx->failed = 1;
        return NULL;
    }
    return t;
}

attx_tensor *attx_tensor_zeros(attx_ctx *ctx, int ndim, const int64_t *shape)
{
    attx_tensor *t = attx_tensor_new(ctx, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->numel * sizeof(float));
    return t;
}

attx_tensor *attx_tensor_2d(attx_ctx *ctx, int64_t a, int64_t b)
{
    int64_t s[2] = {a, b};
    return attx_tensor_new(ctx, 2, s);
}

attx_tensor *attx_tensor_3d(attx_ctx *ctx, int64_t a, int64_t b, int64_t c)
{
    int64_t s[3] = {a, b, c};
    return attx_tensor_new(ctx, 3, s);
}

attx_tensor *attx_tensor_4d(attx_ctx *ctx, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t s[4] = {a, b, c, d};
    return attx_tensor_new(ctx, 4, s);
}

attx_tensor *attx_tensor_wrap(attx_ctx *ctx, float *data, int ndim, const int64_t *shape)
{
    attx_tensor *t = tensor_header(ctx, ndim, shape);
    if (t) t->data = data;
    return t;
}

attx_tensor *attx_keep_release(attx_ctx *ctx, attx_arena_mark mark, attx_tensor *dst,
                               const attx_tensor *src)
{
    if (!dst || !src) return NULL;
    memcpy(dst->data, src->data, (size_t)src->numel * sizeof(float));
    dst->q8_acts = NULL;   /* new values; and any quantisation of the old ones is being released */
    attx_arena_release(&ctx->arena, mark);
    return dst;
}

float *attx_grad(attx_ctx *ctx, attx_tensor *t)
{
    if (!t->grad) {
        t->grad = attx_arena_alloc(&ctx->arena, (size_t)t->numel * sizeof(float));
        if (!t->grad) {
            ctx->failed = 1;
            return NULL;
        }
        memset(t->grad, 0, (size_t)t->numel * sizeof(float));
    }
    return t->grad;
}

attx_node *attx_record(attx_ctx *ctx, attx_backward_fn backward, attx_tensor *out,
                       attx_tensor *in0, attx_tensor *in1, attx_tensor *in2, attx_tensor *in3)
{
    if (!ctx->recording || !out) return NULL;
    attx_tensor *in[4] = {in0, in1, in2, in3};
    int needed = 0;
    for (int i = 0; i < 4; i++) needed |= in[i] && (in[i]->flags & ATTX_REQUIRES_GRAD);
    if (!needed) return NULL;
    if (ctx->n_nodes == ctx->cap_nodes) {
        size_t cap = ctx->cap_nodes ? 2 * ctx->cap_nodes : 256;
        attx_node *p = realloc(ctx->nodes, cap * sizeof *p);
        if (!p) {
            ctx->failed = 1;
            return NULL;
        }
        ctx->nodes = p;
        ctx->cap_nodes = cap;
    }
    attx_node *n = &ctx->nodes[ctx->n_nodes++];
    memset(n, 0, sizeof *n);
    n->backward = backward;
    n->out = out;
    memcpy(n->in, in, sizeof in);
    out->flags |= ATTX_REQUIRES_GRAD;
    return n;
}

int attx_backward(attx_ctx *ctx, attx_tensor *out, const float *seed)
{
    if (ctx->failed) return -1;
    float *g = attx_grad(ctx, out);
    if (!g) return -1;
    for (int64_t i = 0; i < out->numel; i++) g[i] += seed ? seed[i] : 1.0f;
    for (size_t i = ctx->n_nodes; i-- > 0;) {
        attx_node *n = &ctx->nodes[i];
        if (!n->out->grad) continue;           /* nothing flows through this node */
        n->backward(ctx, n);
        if (ctx->failed) return -1;
    }
    return 0;
}
