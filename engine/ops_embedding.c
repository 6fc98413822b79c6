/* ops_embedding.c — table lookups (word, position, token type) and taking the [CLS] row. */
#include "ops.h"

#include <string.h>

static int64_t row_width(const attx_tensor *t) { return t->shape[t->ndim - 1]; }

/* ---- out[i] = table[ids[i]] ---- */
static void embedding_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *table = node->in[0];
    float *dtable = attx_grad(ctx, table);
    if (!dtable) return;
    const int32_t *ids = node->saved;
    int64_t n = node->iarg[0], D = row_width(table);
    const float *dy = node->out->grad;
    for (int64_t i = 0; i < n; i++)          /* in order: repeated ids sum the same way always */
        for (int64_t d = 0; d < D; d++) dtable[ids[i] * D + d] += dy[i * D + d];
}

static int32_t *copy_ids(attx_ctx *ctx, const int32_t *ids, int64_t n)
{
    int32_t *p = attx_arena_alloc(&ctx->arena, (size_t)n * sizeof *p);
    if (!p) ctx->failed = 1;
    else memcpy(p, ids, (size_t)n * sizeof *p);
    return p;
}

attx_tensor *attx_op_embedding(attx_ctx *ctx, attx_tensor *table, const int32_t *ids, int64_t B,
                               int64_t T)
{
    if (!table) return NULL;
    int64_t D = row_width(table);
    attx_tensor *y = attx_tensor_3d(ctx, B, T, D);
    if (!y) return NULL;
    for (int64_t i = 0; i < B * T; i++)
        memcpy(y->data + i * D, table->data + (int64_t)ids[i] * D, (size_t)D * sizeof(float));
    attx_node *n = attx_record(ctx, embedding_backward, y, table, NULL, NULL, NULL);
    if (n) {
        n->saved = copy_ids(ctx, ids, B * T);
        n->iarg[0] = B * T;
    }
    return y;
}

/* ---- out[i] = x[i] + table[ids[i]] ---- */
static void add_embedding_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *x = node->in[0], *table = node->in[1];
    const float *dy = node->out->grad;
    if (x->flags & ATTX_REQUIRES_GRAD) {
        float *dx = attx_grad(ctx, x);
        if (!dx) return;
        for (int64_t i = 0; i < x->numel; i++) dx[i] += dy[i];
    }
    if (table->flags & ATTX_REQUIRES_GRAD) {
        float *dtable = attx_grad(ctx, table);
        if (!dtable) return;
        const int32_t *ids = node->saved;
        int64_t D = row_width(x), n = x->numel / D;
        for (int64_t i = 0; i < n; i++)
            for (int64_t d = 0; d < D; d++) dtable[ids[i] * D + d] += dy[i * D + d];
    }
}

attx_tensor *attx_op_add_embedding(attx_ctx *ctx, attx_tensor *x, attx_tensor *table,
                                   const int32_t *ids)
{
    if (!x || !table) return NULL;
    int64_t D = row_width(x), n = x->numel / D;
    attx_tensor *y = attx_tensor_new(ctx, x->ndim, x->shape);
    int32_t *saved = y ? copy_ids(ctx, ids, n) : NULL;
    if (!saved) return NULL;
    for (int64_t i = 0; i < n; i++) {
        const float *row = table->data + (int64_t)ids[i] * D;
        for (int64_t d = 0; d < D; d++) y->data[i * D + d] = x->data[i * D + d] + row[d];
    }
    attx_node *node = attx_record(ctx, add_embedding_backward, y, x, table, NULL, NULL);
    if (node) node->saved = saved;
    return y;
}

/* ---- x[B, T, D] -> x[:, 0, :] ---- */
static void first_token_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *x = node->in[0];
    float *dx = attx_grad(ctx, x);
    if (!dx) return;
    int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2];
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) dx[b * T * D + d] += node->out->grad[b * D + d];
}

attx_tensor *attx_op_first_token(attx_ctx *ctx, attx_tensor *x)
{
    if (!x) return NULL;
    int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2];
    attx_tensor *y = attx_tensor_2d(ctx, B, D);
    if (!y) return NULL;
    for (int64_t b = 0; b < B; b++) memcpy(y->data + b * D, x->data + b * T * D, (size_t)D * sizeof(float));
    attx_record(ctx, first_token_backward, y, x, NULL, NULL, NULL);
    return y;
}
