/* bert.c — BertForSequenceClassification (and a bare BertModel) exactly as Hugging Face
 * computes it (in training, dropout where HF has it: after the embedding LayerNorm, on the
 * attention probabilities, on both sublayer outputs before their residual add, and on the
 * pooled [CLS] before the classifier):
 *   embeddings  h0 = LayerNorm(word[ids] + position[t] + token_type[0])
 *   layer l     a  = LayerNorm(h + W_o · attention(h))             (post-LN)
 *               h' = LayerNorm(a + W_2 · GELU(W_1 · a))
 *   head        logits = W_c · tanh(W_p · h_L[CLS]) */
#include "model.h"
#include "ops.h"

#include <math.h>
#include <string.h>

/* One encoder layer; attn_out receives the attention probabilities [B, H, T, T] (NULL with the
 * tape off: they are not kept). */
static attx_tensor *bert_layer_forward(attx_ctx *ctx, const attx_config *c, const attx_bert_layer *L,
                                       attx_tensor *h, const uint8_t *key_valid, attx_tensor **attn_out)
{
    float eps = c->layer_norm_eps;
    attx_tensor *q = attx_op_linear(ctx, h, L->query_w, L->query_b);       /* [B, T, D] */
    attx_tensor *k = attx_op_linear(ctx, h, L->key_w, L->key_b);
    attx_tensor *v = attx_op_linear(ctx, h, L->value_w, L->value_b);
    float scale = 1.0f / sqrtf((float)c->head_dim);
    attx_tensor *probs = NULL, *context;
    if (ctx->recording) {   /* the probabilities are kept on the tape, for the gradient and the methods */
        probs = attx_op_softmax(ctx, attx_op_attention_scores(ctx, q, k, c->num_heads, scale), key_valid);
        context = attx_op_attention_context(ctx, attx_op_dropout(ctx, probs, c->attention_dropout), v);
    } else {
        context = attx_op_attention_fused(ctx, q, k, v, c->num_heads, scale, key_valid);
    }
    attx_tensor *attn = attx_op_dropout(ctx, attx_op_linear(ctx, context, L->attn_out_w, L->attn_out_b),
                                        c->hidden_dropout);                /* [B, T, D] */
    attx_tensor *a = attx_op_layernorm(ctx, attx_op_add(ctx, h, attn), L->attn_ln_g, L->attn_ln_b, eps);
    attx_tensor *ffn = attx_op_gelu(ctx, attx_op_linear(ctx, a, L->ffn_in_w, L->ffn_in_b));   /* [B, T, F] */
    attx_tensor *f = attx_op_dropout(ctx, attx_op_linear(ctx, ffn, L->ffn_out_w, L->ffn_out_b), c->hidden_dropout);
    *attn_out = probs;
    return attx_op_layernorm(ctx, attx_op_add(ctx, a, f), L->ffn_ln_g, L->ffn_ln_b, eps);
}

int attx_bert_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch,
                      attx_outputs *out, attx_error *err)
{
    const attx_config *c = m->config;
    const attx_bert_weights *w = &m->bert;
    int64_t B = batch->B, T = batch->T, D = c->hidden_size;
    memset(out, 0, sizeof *out);
    if (!batch->ids || !batch->lengths) return attx_fail(err, "a BERT model needs token ids");
    if (T > c->max_position_embeddings)
        return attx_fail(err, "%lld tokens is more than the model's %d positions", (long long)T,
                         c->max_position_embeddings);
    for (int64_t i = 0; i < B * T; i++)
        if (batch->ids[i] < 0 || batch->ids[i] >= c->vocab_size)
            return attx_fail(err, "token id %d is outside the vocabulary (%d)", batch->ids[i], c->vocab_size);

    /* padding mask and the position / token-type ids of every token */
    out->key_valid = attx_arena_alloc(&ctx->arena, (size_t)(B * T));
    int32_t *positions = attx_arena_alloc(&ctx->arena, (size_t)(B * T) * sizeof(int32_t));
    int32_t *types = attx_arena_alloc(&ctx->arena, (size_t)(B * T) * sizeof(int32_t));
    int recording = ctx->recording;
    if (recording) {
        out->attn = attx_arena_alloc(&ctx->arena, (size_t)c->num_layers * sizeof *out->attn);
        out->hidden = attx_arena_alloc(&ctx->arena, (size_t)(c->num_layers + 1) * sizeof *out->hidden);
    }
    if (!out->key_valid || !positions || !types || (recording && (!out->attn || !out->hidden))) goto oom;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            out->key_valid[b * T + t] = t < batch->lengths[b];
            positions[b * T + t] = (int32_t)t;
            types[b * T + t] = 0;
        }

    out->inputs_embeds = attx_op_embedding(ctx, w->word_emb, batch->ids, B, T);
    if (batch->inputs_embeds && out->inputs_embeds)   /* caller's embeddings instead of the rows */
        memcpy(out->inputs_embeds->data, batch->inputs_embeds, (size_t)out->inputs_embeds->numel * sizeof(float));
    if (recording && out->inputs_embeds) out->inputs_embeds->flags |= ATTX_REQUIRES_GRAD;
    attx_tensor *x = attx_op_add_embedding(ctx, out->inputs_embeds, w->pos_emb, positions);
    x = attx_op_add_embedding(ctx, x, w->type_emb, types);
    attx_tensor *h = attx_op_dropout(ctx, attx_op_layernorm(ctx, x, w->emb_ln_g, w->emb_ln_b, c->layer_norm_eps),
                                     c->hidden_dropout);

    /* with the tape off, two buffers hold the hidden state between layers and everything a
     * layer allocates is released when it is done */
    attx_tensor *ping = NULL, *pong = NULL;
    if (!recording) {
        ping = attx_tensor_3d(ctx, B, T, D);
        pong = attx_tensor_3d(ctx, B, T, D);
        if (ping && h) memcpy(ping->data, h->data, (size_t)h->numel * sizeof(float));
        h = ping;
    } else {
        out->hidden[0] = h;
    }
    for (int l = 0; l < c->num_layers; l++) {
        attx_arena_mark mark = attx_arena_get_mark(&ctx->arena);
        attx_tensor *probs;
        attx_tensor *next = bert_layer_forward(ctx, c, &w->layers[l], h, out->key_valid, &probs);
        if (recording) {
            out->attn[l] = probs;
            out->hidden[l + 1] = next;
            h = next;
        } else {
            h = attx_keep_release(ctx, mark, (l % 2 == 0) ? pong : ping, next);
        }
        if (!h) goto oom;
    }
    out->last_hidden = h;
    if (w->classifier_w) {
        attx_tensor *pooled = attx_op_tanh(ctx, attx_op_linear(ctx, attx_op_first_token(ctx, h), w->pooler_w,
                                                               w->pooler_b));
        out->logits = attx_op_linear(ctx, attx_op_dropout(ctx, pooled, c->hidden_dropout), w->classifier_w,
                                     w->classifier_b);
        if (!out->logits) goto oom;
    }
    if (ctx->failed) goto oom;
    return 0;
oom:
    return attx_fail(err, "out of memory in the forward pass (batch %lld x %lld tokens)", (long long)B,
                     (long long)T);
}
