/* embed.c — sentence embeddings: a BERT's last hidden states pooled over each text's real
 * tokens, as sentence-transformers' Pooling and Normalize modules compute them. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const attx_sentence_config *attx_model_sentence_config(const attx_model *m, int *found)
{
    if (found) *found = m->files.has_sentence;
    return &m->files.sentence;
}

int attx_embedding_dim(const attx_model *m, const attx_sentence_config *sc)
{
    return m->config->hidden_size * attx_pooling_count(sc->pooling);
}

int attx_pool_embeddings(const attx_model *m, const attx_sentence_config *sc, const attx_batch *batch,
                         const attx_outputs *out, float *embeddings, attx_error *err)
{
    if (m->config->arch != ATTX_ARCH_BERT || !out->last_hidden)
        return attx_fail(err, "%s: sentence embeddings need a BERT model", m->files.path);
    if (!sc->pooling) return attx_fail(err, "no pooling mode");
    const int64_t T = batch->T, D = m->config->hidden_size;
    const int dim = attx_embedding_dim(m, sc);
    double *sum = malloc((size_t)D * sizeof *sum);
    if (!sum) return attx_fail(err, "out of memory");
    for (int b = 0; b < batch->B; b++) {
        const float *h = out->last_hidden->data + (size_t)b * (size_t)(T * D);   /* [T, D] */
        const int64_t n = batch->lengths[b];                                  /* real tokens */
        float *e = embeddings + (size_t)b * (size_t)dim;
        if (sc->pooling & ATTX_POOL_CLS) {
            memcpy(e, h, (size_t)D * sizeof *e);
            e += D;
        }
        if (sc->pooling & ATTX_POOL_MAX) {
            for (int64_t d = 0; d < D; d++) {
                float best = h[d];
                for (int64_t t = 1; t < n; t++) best = fmaxf(best, h[t * D + d]);
                e[d] = best;
            }
            e += D;
        }
        if (sc->pooling & (ATTX_POOL_MEAN | ATTX_POOL_MEAN_SQRT_LEN)) {
            for (int64_t d = 0; d < D; d++) sum[d] = 0;
            for (int64_t t = 0; t < n; t++)
                for (int64_t d = 0; d < D; d++) sum[d] += h[t * D + d];
            if (sc->pooling & ATTX_POOL_MEAN) {
                for (int64_t d = 0; d < D; d++) e[d] = (float)(sum[d] / (double)n);
                e += D;
            }
            if (sc->pooling & ATTX_POOL_MEAN_SQRT_LEN) {
                for (int64_t d = 0; d < D; d++) e[d] = (float)(sum[d] / sqrt((double)n));
                e += D;
            }
        }
        if (sc->pooling & ATTX_POOL_WEIGHTED_MEAN) {
            /* token t (0-based, [CLS] first) weighs t + 1 */
            for (int64_t d = 0; d < D; d++) sum[d] = 0;
            for (int64_t t = 0; t < n; t++)
                for (int64_t d = 0; d < D; d++) sum[d] += (double)(t + 1) * h[t * D + d];
            double total = (double)n * (double)(n + 1) / 2;
            for (int64_t d = 0; d < D; d++) e[d] = (float)(sum[d] / total);
            e += D;
        }
        if (sc->pooling & ATTX_POOL_LAST_TOKEN) {
            memcpy(e, h + (n - 1) * D, (size_t)D * sizeof *e);
            e += D;
        }
        if (sc->normalize) {
            /* torch.nn.functional.normalize: e / max(‖e‖₂, 1e-12) */
            float *v = embeddings + (size_t)b * (size_t)dim;
            double sq = 0;
            for (int k = 0; k < dim; k++) sq += (double)v[k] * v[k];
            double norm = fmax(sqrt(sq), 1e-12);
            for (int k = 0; k < dim; k++) v[k] = (float)(v[k] / norm);
        }
    }
    free(sum);
    return 0;
}
