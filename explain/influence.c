/* influence.c — P1's influence matrices: mean over heads and layers of A or A * ReLU(dA),
 * restricted to the players (research-notes §1.2). */
#include "attx_explain.h"

#include <string.h>

void attx_seed_explained_logits(int B, int C, const int *klass, float *seed)
{
    memset(seed, 0, (size_t)B * (size_t)C * sizeof *seed);
    for (int b = 0; b < B; b++) seed[(size_t)b * (size_t)C + (size_t)klass[b]] = 1.0f;
}

int attx_influence(const attx_outputs *out, int num_layers, int b, attx_influence_kind kind,
                   const attx_layer_set *layers, int first, int n, double *M, double *cls,
                   attx_error *err)
{
    if (!out || !out->attn) return attx_fail(err, "influence: no attention probabilities (the forward pass ran without the tape)");
    int n_layers = layers && layers->n_layers > 0 ? layers->n_layers : num_layers;
    if (n_layers < 1) return attx_fail(err, "influence: the model has no layers");
    const attx_tensor *a0 = out->attn[0];
    /* [B, H, Tq, T]: Tq = T, or 1 for attn1 (only the [CLS] query row) */
    int64_t B = a0->shape[0], H = a0->shape[1], Tq = a0->shape[2], T = a0->shape[3];
    if (b < 0 || b >= B) return attx_fail(err, "influence: example %d of a batch of %lld", b, (long long)B);
    if (M && Tq != T)
        return attx_fail(err, "influence: the token-to-token matrix needs every query row; this model's attention "
                              "has only the [CLS] row (attn1)");
    if (n < 1 || first < 1 || first + n > T)
        return attx_fail(err, "influence: players %d..%d outside the %lld tokens", first, first + n - 1, (long long)T);
    if (M) memset(M, 0, (size_t)n * (size_t)n * sizeof *M);
    if (cls) memset(cls, 0, (size_t)n * sizeof *cls);
    for (int k = 0; k < n_layers; k++) {
        int l = layers && layers->n_layers > 0 ? layers->layers[k] : k;
        if (l < 0 || l >= num_layers)
            return attx_fail(err, "influence: layer %d is out of range (the model has %d layers, numbered from 0)", l, num_layers);
        const attx_tensor *a = out->attn[l];
        if (kind == ATTX_INFLUENCE_GRAD_ATT && !a->grad)
            return attx_fail(err, "influence: no attention gradients (no backward pass from the explained logit)");
        for (int64_t h = 0; h < H; h++) {
            size_t base = (size_t)((b * H + h) * Tq * T);
            const float *A = a->data + base;
            const float *G = kind == ATTX_INFLUENCE_GRAD_ATT ? a->grad + base : NULL;
#define INFL(i, j) (G ? (double)A[(i) * T + (j)] * (G[(i) * T + (j)] > 0 ? (double)G[(i) * T + (j)] : 0.0) \
                      : (double)A[(i) * T + (j)])
            if (cls)
                for (int j = 0; j < n; j++) cls[j] += INFL(0, first + j);
            if (M)
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) M[i * n + j] += INFL(first + i, first + j);
#undef INFL
        }
    }
    double scale = 1.0 / ((double)H * n_layers);
    if (cls) for (int j = 0; j < n; j++) cls[j] *= scale;
    if (M) for (int i = 0; i < n * n; i++) M[i] *= scale;
    return 0;
}
