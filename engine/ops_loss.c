/* ops_loss.c — the classification loss, forward and backward.
 *
 * With label smoothing ε the target distribution is q_b[c] = (1 − ε)·[c = y_b] + ε/C
 * (Szegedy et al. 2016; PyTorch's CrossEntropyLoss(label_smoothing=ε)); ε = 0 is the plain loss.
 *   loss = (1/B) Σ_b Σ_c q_b[c] (logsumexp(z_b) − z_b[c])
 *        = (1/B) Σ_b [ logsumexp(z_b) − Σ_c q_b[c] z_b[c] ]      (Σ_c q_b[c] = 1)
 *   d loss / d z_b[c] = (softmax(z_b)[c] − q_b[c]) / B
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
    const float eps = probs[logits->numel];
    const int32_t *labels = (const int32_t *)(probs + logits->numel + 1);
    int64_t B = logits->shape[0], C = logits->shape[1];
    float scale = node->out->grad[0] / (float)B;
    float q_other = eps / (float)C, q_label = 1.0f - eps + q_other;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            dz[b * C + c] += scale * (probs[b * C + c] - (c == labels[b] ? q_label : q_other));
}

attx_tensor *attx_cross_entropy(attx_ctx *ctx, attx_tensor *logits, const int32_t *labels, double label_smoothing)
{
    if (!logits) return NULL;
    int64_t B = logits->shape[0], C = logits->shape[1];
    int64_t one = 1;
    attx_tensor *loss = attx_tensor_new(ctx, 1, &one);
    /* saved: the probabilities, ε, then a copy of the labels */
    float *probs = attx_arena_alloc(&ctx->arena, (size_t)(B * C + 1) * sizeof(float) + (size_t)B * sizeof(int32_t));
    if (!loss || !probs) {
        ctx->failed = 1;
        return NULL;
    }
    probs[B * C] = (float)label_smoothing;
    memcpy(probs + B * C + 1, labels, (size_t)B * sizeof(int32_t));
    double eps = label_smoothing, total = 0;
    for (int64_t b = 0; b < B; b++) {
        const float *z = logits->data + b * C;
        float zmax = z[0];
        for (int64_t c = 1; c < C; c++) zmax = z[c] > zmax ? z[c] : zmax;
        double sum = 0;
        for (int64_t c = 0; c < C; c++) sum += exp((double)z[c] - zmax);
        double mean_z = 0;
        for (int64_t c = 0; c < C; c++) {
            probs[b * C + c] = (float)(exp((double)z[c] - zmax) / sum);
            mean_z += z[c];
        }
        mean_z /= (double)C;
        /* Σ_c q[c] z[c] = (1 − ε) z[y] + ε · mean_c z[c] */
        total += log(sum) + zmax - ((1 - eps) * z[labels[b]] + eps * mean_z);
    }
    loss->data[0] = (float)(total / (double)B);
    attx_node *node = attx_record(ctx, cross_entropy_backward, loss, logits, NULL, NULL, NULL);
    if (node) node->saved = probs;
    return loss;
}
