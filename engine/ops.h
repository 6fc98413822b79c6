/* ops.h — internal: the differentiable ops the models are built from.
 *
 * Every op takes its inputs, allocates its output in the context's arena, computes it, and
 * with the tape on records its backward (defined right after the forward in the same file).
 * An op given a NULL input (an earlier allocation failed) returns NULL, so a model can run to
 * the end and check ctx->failed once. Layouts are row-major; "[B, T, D]" means D fastest.
 */
#ifndef ATTX_OPS_H
#define ATTX_OPS_H

#include "tape.h"

/* ---- ops_linear.c ---- */
/* y[N, out] = x[N, in] · W[out, in]^T + b[out]; N = product of x's leading dims (b may be NULL) */
attx_tensor *attx_op_linear(attx_ctx *ctx, attx_tensor *x, attx_tensor *W, attx_tensor *b);

/* ---- ops_elementwise.c ---- */
/* a + b, same shape (residual connections) */
attx_tensor *attx_op_add(attx_ctx *ctx, attx_tensor *a, attx_tensor *b);
/* s · x */
attx_tensor *attx_op_scale(attx_ctx *ctx, attx_tensor *x, float s);
/* GELU, exact form: x/2 · (1 + erf(x/√2)) */
attx_tensor *attx_op_gelu(attx_ctx *ctx, attx_tensor *x);
/* Dropout with probability p when the context has dropout on (training); else x itself */
attx_tensor *attx_op_dropout(attx_ctx *ctx, attx_tensor *x, float p);
/* tanh(x) */
attx_tensor *attx_op_tanh(attx_ctx *ctx, attx_tensor *x);
/* x viewed with another shape of as many elements (shares x's data; NULL when the counts
 * differ): e.g. [B, D] -> [B, 1, D] for a one-query attention */
attx_tensor *attx_op_reshape(attx_ctx *ctx, attx_tensor *x, int ndim, const int64_t *shape);

/* ---- ops_embedding.c ---- */
/* out[i, :] = table[ids[i], :] for the n = B·T ids -> [B, T, D]; ids must be in range */
attx_tensor *attx_op_embedding(attx_ctx *ctx, attx_tensor *table, const int32_t *ids, int64_t B,
                               int64_t T);
/* out[i, :] = x[i, :] + table[ids[i], :]: position and token-type embeddings; ids has x's
 * row count (ids are copied, the caller's array may go away) */
attx_tensor *attx_op_add_embedding(attx_ctx *ctx, attx_tensor *x, attx_tensor *table,
                                   const int32_t *ids);
/* x[B, T, D] -> x[:, 0, :] as [B, D] (the [CLS] token) */
attx_tensor *attx_op_first_token(attx_ctx *ctx, attx_tensor *x);
/* pixels[B, C, H, W] -> patch rows [B, N, C·P·P], N = (H/P)·(W/P) row-major over the grid and
 * features in (channel, y, x) order: a Conv2d with kernel = stride = P is then a linear layer */
attx_tensor *attx_op_patchify(attx_ctx *ctx, attx_tensor *pixels, int P);
/* x[B, N, D], row[D] -> [B, N+1, D] with row first (ViT's [CLS] token) */
attx_tensor *attx_op_prepend_row(attx_ctx *ctx, attx_tensor *x, attx_tensor *row);

/* ---- ops_layernorm.c ---- */
/* LayerNorm over the last dimension: (x − mean) / sqrt(var + eps) · gamma + beta */
attx_tensor *attx_op_layernorm(attx_ctx *ctx, attx_tensor *x, attx_tensor *gamma,
                               attx_tensor *beta, float eps);

/* ---- ops_attention.c ---- */
/* Scaled dot-product scores per head: q[B, T, H·d], k[B, S, H·d] ->
 * scores[B, H, T, S] = scale · q_h k_h^T, head h owning features [h·d, (h+1)·d). */
attx_tensor *attx_op_attention_scores(attx_ctx *ctx, attx_tensor *q, attx_tensor *k, int H,
                                      float scale);
/* Softmax over the last axis of scores[B, H, T, S]. key_valid[B·S] (NULL: all valid) marks
 * padding keys, which get probability exactly 0 (as HF's additive finfo.min mask gives). */
attx_tensor *attx_op_softmax(attx_ctx *ctx, attx_tensor *scores, const uint8_t *key_valid);
/* Attention-weighted values per head: probs[B, H, T, S], v[B, S, H·dv] -> [B, T, H·dv]. */
attx_tensor *attx_op_attention_context(attx_ctx *ctx, attx_tensor *probs, attx_tensor *v);
/* The three above in one, for forward passes with the tape off: the same context, bit for
 * bit, without the [B, H, T, S] scores and probabilities. Records nothing. */
attx_tensor *attx_op_attention_fused(attx_ctx *ctx, attx_tensor *q, attx_tensor *k, attx_tensor *v, int H,
                                     float scale, const uint8_t *key_valid);

#endif
