/* ops_embedding.c — table lookups (word, position, token type) and taking the [CLS] row. */
#include "ops.h"
#include "parallel.h"

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

/* ---- images to patch rows: pixels[B, C, H, W] -> [B, N, C·P·P] ----
 * Patch n = row·(W/P) + col (row-major over the grid, as the strided convolution's output is
 * flattened); within a patch the features run (c, ky, kx), the order of a Conv2d weight
 * [D, C, P, P] flattened, so the patch embedding is a linear layer on these rows. Pixels
 * beyond the last whole patch (H or W not a multiple of P) are ignored, as the convolution
 * ignores them. */
/* offset in one image [C, H, W] of feature f of patch n */
static int64_t patch_pixel(int64_t n, int64_t f, int64_t H, int64_t W, int64_t P)
{
    int64_t grid_w = W / P, row = n / grid_w, col = n % grid_w;
    int64_t c = f / (P * P), ky = (f / P) % P, kx = f % P;
    return (c * H + row * P + ky) * W + col * P + kx;
}

static void patchify_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *pixels = node->in[0], *y = node->out;
    float *dp = attx_grad(ctx, pixels);
    if (!dp) return;
    int64_t B = pixels->shape[0], C = pixels->shape[1], H = pixels->shape[2], W = pixels->shape[3];
    int64_t P = node->iarg[0], N = y->shape[1], F = y->shape[2];
    for (int64_t b = 0; b < B; b++)
        for (int64_t n = 0; n < N; n++)
            for (int64_t f = 0; f < F; f++)
                dp[b * C * H * W + patch_pixel(n, f, H, W, P)] += y->grad[(b * N + n) * F + f];
}

attx_tensor *attx_op_patchify(attx_ctx *ctx, attx_tensor *pixels, int P)
{
    if (!pixels) return NULL;
    int64_t B = pixels->shape[0], C = pixels->shape[1], H = pixels->shape[2], W = pixels->shape[3];
    int64_t N = (H / P) * (W / P), F = C * P * P;
    attx_tensor *y = attx_tensor_3d(ctx, B, N, F);
    if (!y) return NULL;
#pragma omp parallel for collapse(2) if (ATTX_PARALLEL(ATTX_WORK_STREAM, B * N * F))
    for (int64_t b = 0; b < B; b++)
        for (int64_t n = 0; n < N; n++)
            for (int64_t f = 0; f < F; f++)
                y->data[(b * N + n) * F + f] = pixels->data[b * C * H * W + patch_pixel(n, f, H, W, P)];
    attx_node *node = attx_record(ctx, patchify_backward, y, pixels, NULL, NULL, NULL);
    if (node) node->iarg[0] = P;
    return y;
}

/* ---- [CLS] first: x[B, N, D], row[D] -> [B, N+1, D] with out[b, 0] = row ---- */
static void prepend_row_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *x = node->in[0], *row = node->in[1];
    int64_t B = x->shape[0], N = x->shape[1], D = x->shape[2];
    const float *dy = node->out->grad;
    if (x->flags & ATTX_REQUIRES_GRAD) {
        float *dx = attx_grad(ctx, x);
        if (!dx) return;
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < N * D; i++) dx[b * N * D + i] += dy[(b * (N + 1) + 1) * D + i];
    }
    if (row->flags & ATTX_REQUIRES_GRAD) {
        float *dr = attx_grad(ctx, row);
        if (!dr) return;
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++) dr[d] += dy[b * (N + 1) * D + d];
    }
}

attx_tensor *attx_op_prepend_row(attx_ctx *ctx, attx_tensor *x, attx_tensor *row)
{
    if (!x || !row) return NULL;
    int64_t B = x->shape[0], N = x->shape[1], D = x->shape[2];
    attx_tensor *y = attx_tensor_3d(ctx, B, N + 1, D);
    if (!y) return NULL;
    for (int64_t b = 0; b < B; b++) {
        memcpy(y->data + b * (N + 1) * D, row->data, (size_t)D * sizeof(float));
        memcpy(y->data + (b * (N + 1) + 1) * D, x->data + b * N * D, (size_t)(N * D) * sizeof(float));
    }
    attx_record(ctx, prepend_row_backward, y, x, row, NULL, NULL);
    return y;
}
