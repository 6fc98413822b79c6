/* attn1.c — the one-layer multi-head [CLS]-query attention classifier of Lopardo et al.
 * (ICML 2024, "Attention Meets Post-hoc Interpretability"), as their code computes it:
 *   e_t   = W_e[x_t] + PE(t)                    PE(t)_{2i} = sin(t·10000^{−2i/d_e}),
 *                                               PE(t)_{2i+1} = cos(t·10000^{−2i/d_e})
 *   head i: q_0 = W_q^i e_0 (the [CLS] query only), k_t = W_k^i e_t, v_t = W_v^i e_t
 *           α_t = softmax_t(q_0·k_t / √d_att) over all T positions (UNK padding included)
 *           f_i = W_ℓ^i Σ_t α_t v_t
 *   logits = (1/K) Σ_i f_i
 * No biases, LayerNorm, residual, feed-forward, padding mask or dropout. The heads' W_q, W_k,
 * W_v are stacked along the output axis and W_ℓ = [W_ℓ^1 ... W_ℓ^K] along its columns, so
 * logits = (1/K) W_ℓ [ṽ_1; ...; ṽ_K]. */
#include "model.h"
#include "ops.h"

#include <math.h>
#include <string.h>

/* PE in double, rounded once to float. (The usual float32 torch recipe, exp(2i·−ln(10000)/d)
 * times a float32 position, is off from this by up to 1.4e-5 at T = 256, d_e = 128: that would
 * matter only to reproduce P2's own trained weights bit for bit, which are not available.) */
void attx_attn1_positions(float *pe, int64_t T, int64_t D)
{
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; 2 * i < D; i++) {
            double angle = (double)t * pow(10000.0, -(double)(2 * i) / (double)D);
            pe[t * D + 2 * i] = (float)sin(angle);
            if (2 * i + 1 < D) pe[t * D + 2 * i + 1] = (float)cos(angle);
        }
}

int attx_attn1_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch, attx_outputs *out,
                       attx_error *err)
{
    const attx_config *c = m->config;
    const attx_attn1_weights *w = &m->attn1;
    int64_t B = batch->B, T = batch->T, D = c->hidden_size, K = c->num_heads;
    memset(out, 0, sizeof *out);
    if (!batch->ids) return attx_fail(err, "an attn1 model needs token ids");
    if (T != c->max_position_embeddings)
        return attx_fail(err, "an attn1 model takes exactly %d positions ([cls], the text, UNK padding); got %lld",
                         c->max_position_embeddings, (long long)T);
    for (int64_t i = 0; i < B * T; i++)
        if (batch->ids[i] < 0 || batch->ids[i] >= c->vocab_size)
            return attx_fail(err, "token id %d is outside the vocabulary (%d)", batch->ids[i], c->vocab_size);
    int recording = ctx->recording;
    int32_t *positions = attx_arena_alloc(&ctx->arena, (size_t)(B * T) * sizeof(int32_t));
    if (recording) {
        out->attn = attx_arena_alloc(&ctx->arena, sizeof *out->attn);
        out->hidden = attx_arena_alloc(&ctx->arena, 2 * sizeof *out->hidden);
    }
    if (!positions || (recording && (!out->attn || !out->hidden))) goto oom;
    for (int64_t i = 0; i < B * T; i++) positions[i] = (int32_t)(i % T);

    /* e = W_e[x] + PE: the tensor P2 differentiates (its positional module's output) */
    attx_tensor *words = attx_op_embedding(ctx, w->word_emb, batch->ids, B, T);   /* [B, T, d_e] W_e[x] */
    if (batch->inputs_embeds && words)   /* the caller's word embeddings instead of the rows (positions added below) */
        memcpy(words->data, batch->inputs_embeds, (size_t)words->numel * sizeof(float));
    attx_tensor *e = attx_op_add_embedding(ctx, words, w->positions, positions);   /* [B, T, d_e] */
    if (recording && e) e->flags |= ATTX_REQUIRES_GRAD;
    int64_t q_shape[3] = {B, 1, D};
    attx_tensor *cls = attx_op_reshape(ctx, attx_op_first_token(ctx, e), 3, q_shape);   /* [B, 1, d_e] */
    attx_tensor *q = attx_op_linear(ctx, cls, w->query_w, NULL);              /* [B, 1, K·d_att] */
    attx_tensor *k = attx_op_linear(ctx, e, w->key_w, NULL);                  /* [B, T, K·d_att] */
    attx_tensor *v = attx_op_linear(ctx, e, w->value_w, NULL);                /* [B, T, K·d_out] */
    attx_tensor *scores = attx_op_attention_scores(ctx, q, k, (int)K, (float)(1.0 / sqrt((double)c->head_dim)));
    attx_tensor *alpha = attx_op_softmax(ctx, scores, NULL);                 /* [B, K, 1, T] */
    attx_tensor *context = attx_op_attention_context(ctx, alpha, v);         /* [B, 1, K·d_out] */
    out->inputs_embeds = e;
    if (recording) {
        out->attn[0] = alpha;
        out->hidden[0] = e;
        out->hidden[1] = context;
    }
    if (w->classifier_w) {
        int64_t flat[2] = {B, K * c->value_dim};
        out->logits = attx_op_scale(ctx, attx_op_linear(ctx, attx_op_reshape(ctx, context, 2, flat),
                                                        w->classifier_w, NULL),
                                    (float)(1.0 / (double)K));               /* [B, C] */
        if (!out->logits) goto oom;
    }
    if (!context || ctx->failed) goto oom;
    return 0;
oom:
    return attx_fail(err, "out of memory in the forward pass (batch %lld x %lld tokens)", (long long)B,
                     (long long)T);
}
