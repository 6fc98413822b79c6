/* ops_loss.c — the classification loss, forward and backward.
 *
 *   loss = (1/B) Σ_b [ logsumexp(z_b) − z_b[y_b] ]          (PyTorch CrossEntropyLoss, mean)
 *   d loss / d z_b[c] = (softmax(z_b)[c] − [c = y_b]) / B
 */
#include "ops.h"

#include <math.h>
#include <string.h>

static void cross_entropy_backward(attx_ctx *ctx, attx_node *node)
{
    attx_tensor *logits = node->in[0];
    float *dz = attx_grad(ctx, logits);
    if (!dz) return;
    const float *probs = node->saved;             /* [B, C], softmax of the logits */
    const int32_t *labels = (const int32_t *)(probs + logits->numel);
    int64_t B = logits->shape[0], C = logits->shape[1];
    float scale = node->out->grad[0] / (float)B;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            dz[b * C + c] += scale * (probs[b * C + c] - (c == labels[b] ? 1.0f : 0.0f));
}

attx_tensor *attx_cross_entropy(attx_ctx *ctx, attx_tensor *logits, const int32_t *labels)
{
    if (!logits) return NULL;
    int64_t B = logits->shape[0], C = logits->shape[1];
    int64_t one = 1;
    attx_tensor *loss = attx_tensor_new(ctx, 1, &one);
    /* saved: the probabilities, then a copy of the labels */
    float *probs = attx_arena_alloc(&ctx->arena, (size_t)(B * C) * sizeof(float) + (size_t)B * sizeof(int32_t));
    if (!loss || !probs) {
        ctx->failed = 1;
        return NULL;
    }
    memcpy(probs + B * C, labels, (size_t)B * sizeof(int32_t));
    double total = 0;
    for (int64_t b = 0; b < B; b++) {
        const float *z = logits->data + b * C;
        float zmax = z[0];
        for (int64_t c = 1; c < C; c++) zmax = z[c] > zmax ? z[c] : zmax;
        double sum = 0;
        for (int64_t c = 0; c < C; c++) sum += exp((double)z[c] - zmax);
        for (int64_t c = 0; c < C; c++) probs[b * C + c] = (float)(exp((double)z[c] - zmax) / sum);
        total += log(sum) + zmax - z[labels[b]];
    }
    loss->data[0] = (float)(total / (double)B);
    attx_node *node = attx_record(ctx, cross_entropy_backward, loss, logits, NULL, NULL, NULL);
    if (node) node->saved = probs;
    return loss;
}
