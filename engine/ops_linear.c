/* ops_linear.c — the linear layer y = x W^T + b, forward and backward, on the GEMM. */
#include "ops.h"
#include "kernels.h"
#include "parallel.h"

/* rows of x: the product of every dimension but the last */
static int64_t leading_rows(const attx_tensor *x)
{
    return x->numel / x->shape[x->ndim - 1];
}

static void linear_backward(attx_ctx *ctx, attx_node *node);

attx_tensor *attx_op_linear(attx_ctx *ctx, attx_tensor *x, attx_tensor *W, attx_tensor *b)
{
    if (!x || !W) return NULL;
    int64_t N = leading_rows(x), in = W->shape[1], out_features = W->shape[0];
    int64_t shape[ATTX_MAX_NDIM];
    for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = out_features;
    attx_tensor *y = attx_tensor_new(ctx, x->ndim, shape);
    if (!y) return NULL;
    if (W->q8) {   /* int8 (attx_model_quantize_int8), the bias added in the same pass */
        if (!x->q8_acts) {   /* x quantised once for all the layers that read it */
            attx_q8_acts *a = attx_arena_alloc(&ctx->arena, sizeof *a);
            void *mem = attx_arena_alloc(&ctx->arena, attx_q8_acts_bytes((int)N, (int)in));
            if (!a || !mem) {
                ctx->failed = 1;
                return NULL;
            }
            attx_q8_acts_init(a, mem, x->data, NULL, (int)N, (int)in);
            x->q8_acts = a;
        }
        if (attx_q8_linear_acts(W->q8, x->q8_acts, b ? b->data : NULL, y->data) != 0) {
            ctx->failed = 1;
            return NULL;
        }
    } else if (W->bf16) {   /* bf16 (attx_model_convert_bf16), the bias added in the same pass */
        attx_arena_mark mark = attx_arena_get_mark(&ctx->arena);   /* x rounded in scratch, released after */
        void *scratch = attx_arena_alloc(&ctx->arena, attx_bf16_scratch_bytes((int)N, (int)in));
        int rc = scratch ? attx_bf16_linear(W->bf16, x->data, (int)N, b ? b->data : NULL, y->data, scratch) : -1;
        attx_arena_release(&ctx->arena, mark);
        if (rc != 0) {
            ctx->failed = 1;
            return NULL;
        }
    } else {
        /* y[N, out] = x[N, in] · W[out, in]^T, from W's panels packed at load when it has them */
        attx_gemm_b_packed(0, 1, (int)N, (int)out_features, (int)in, x->data, (int)in, W->data, (int)in, W->packed,
                           0.0f, y->data, (int)out_features);
        if (b) {
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_STREAM, N * out_features))
            for (int64_t r = 0; r < N; r++)
                for (int64_t c = 0; c < out_features; c++) y->data[r * out_features + c] += b->data[c];
        }
    }
    attx_record(ctx, linear_backward, y, x, W, b, NULL);
    return y;
}

/* dx[N, in] += dy[N, out] · W[out, in];  dW[out, in] += dy^T · x;  db[out] += Σ_rows dy */
static void linear_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *y = node->out, *x = node->in[0], *W = node->in[1], *b = node->in[2];
    int64_t N = leading_rows(x), in = W->shape[1], out_features = W->shape[0];
    const float *dy = y->grad;
    if (x->flags & ATTX_REQUIRES_GRAD) {
        float *dx = attx_grad(ctx, x);
        if (!dx) return;
        attx_gemm(0, 0, (int)N, (int)in, (int)out_features, dy, (int)out_features, W->data, (int)in,
                  1.0f, dx, (int)in);
    }
    if (W->flags & ATTX_REQUIRES_GRAD) {
        float *dW = attx_grad(ctx, W);
        if (!dW) return;
        attx_gemm(1, 0, (int)out_features, (int)in, (int)N, dy, (int)out_features, x->data, (int)in,
                  1.0f, dW, (int)in);
    }
    if (b && (b->flags & ATTX_REQUIRES_GRAD)) {
        float *db = attx_grad(ctx, b);
        if (!db) return;
        /* column sums, each column summed in row order by one thread: the same bits for any
         * thread count */
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_STREAM, N * out_features))
        for (int64_t c = 0; c < out_features; c++) {
            float s = 0.0f;
            for (int64_t r = 0; r < N; r++) s += dy[r * out_features + c];
            db[c] += s;
        }
    }
}
