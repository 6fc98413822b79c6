/* vit.c — ViTForImageClassification (and a bare ViTModel) exactly as Hugging Face computes it
 * (in training, dropout where HF has it: on the embeddings after positions are added, on the
 * attention probabilities, and on both sublayer outputs before their residual add):
 *   embeddings  x0 = [cls; W_p · patches + b_p] + positions      (patches: Conv2d, kernel = stride = P)
 *   layer l     x  = x + W_o · attention(LN_before(x))           (pre-LN)
 *               x' = x + W_2 · GELU(W_1 · LN_after(x))
 *   head        logits = W_c · LN_final(x_L)[CLS] */
#include "model.h"
#include "ops.h"

#include <math.h>
#include <string.h>

static attx_tensor *vit_layer_forward(attx_ctx *ctx, const attx_config *c, const attx_vit_layer *L,
                                      attx_tensor *x, attx_tensor **attn_out)
{
    float eps = c->layer_norm_eps;
    attx_tensor *h = attx_op_layernorm(ctx, x, L->ln_before_g, L->ln_before_b, eps);
    attx_tensor *q = attx_op_linear(ctx, h, L->query_w, L->query_b);     /* [B, T, D] */
    attx_tensor *k = attx_op_linear(ctx, h, L->key_w, L->key_b);
    attx_tensor *v = attx_op_linear(ctx, h, L->value_w, L->value_b);
    float scale = 1.0f / sqrtf((float)c->head_dim);
    attx_tensor *probs = NULL, *context;                               /* no padding in images */
    if (ctx->recording) {   /* as in BERT: the probabilities are kept only on the tape */
        probs = attx_op_softmax(ctx, attx_op_attention_scores(ctx, q, k, c->num_heads, scale), NULL);
        context = attx_op_attention_context(ctx, attx_op_dropout(ctx, probs, c->attention_dropout), v);
    } else {
        context = attx_op_attention_fused(ctx, q, k, v, c->num_heads, scale, NULL);
    }
    x = attx_op_add(ctx, x, attx_op_dropout(ctx, attx_op_linear(ctx, context, L->attn_out_w, L->attn_out_b),
                                            c->hidden_dropout));
    h = attx_op_layernorm(ctx, x, L->ln_after_g, L->ln_after_b, eps);
    attx_tensor *f = attx_op_linear(ctx, attx_op_gelu(ctx, attx_op_linear(ctx, h, L->ffn_in_w, L->ffn_in_b)),
                                    L->ffn_out_w, L->ffn_out_b);
    f = attx_op_dropout(ctx, f, c->hidden_dropout);
    *attn_out = probs;
    return attx_op_add(ctx, x, f);
}

int attx_vit_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch, attx_outputs *out,
                     attx_error *err)
{
    const attx_config *c = m->config;
    const attx_vit_weights *w = &m->vit;
    memset(out, 0, sizeof *out);
    if (!batch->pixels) return attx_fail(err, "a ViT model needs pixels, not text");
    if (batch->B < 1) return attx_fail(err, "a batch needs at least one image (B is %d)", batch->B);
    int64_t B = batch->B, C = c->num_channels, H = c->image_height, W = c->image_width, D = c->hidden_size;
    int64_t T = (H / c->patch_size) * (W / c->patch_size) + 1;
    int recording = ctx->recording;
    if (recording) {
        out->attn = attx_arena_alloc(&ctx->arena, (size_t)c->num_layers * sizeof *out->attn);
        out->hidden = attx_arena_alloc(&ctx->arena, (size_t)(c->num_layers + 1) * sizeof *out->hidden);
    }
    int32_t *positions = attx_arena_alloc(&ctx->arena, (size_t)(B * T) * sizeof(int32_t));
    attx_tensor *pixels = attx_tensor_4d(ctx, B, C, H, W);
    if (!positions || !pixels || (recording && (!out->attn || !out->hidden))) goto oom;
    memcpy(pixels->data, batch->pixels, (size_t)pixels->numel * sizeof(float));
    for (int64_t i = 0; i < B * T; i++) positions[i] = (int32_t)(i % T);

    out->inputs_embeds = attx_op_linear(ctx, attx_op_patchify(ctx, pixels, c->patch_size), w->patch_w, w->patch_b);
    if (recording && out->inputs_embeds) out->inputs_embeds->flags |= ATTX_REQUIRES_GRAD;
    attx_tensor *x = attx_op_prepend_row(ctx, out->inputs_embeds, w->cls_token);
    x = attx_op_add_embedding(ctx, x, w->pos_emb, positions);              /* [B, T, D] */
    x = attx_op_dropout(ctx, x, c->hidden_dropout);

    attx_tensor *ping = NULL, *pong = NULL;
    if (!recording) {       /* as in BERT: two buffers carry x between layers */
        ping = attx_tensor_3d(ctx, B, T, D);
        pong = attx_tensor_3d(ctx, B, T, D);
        if (ping && x) memcpy(ping->data, x->data, (size_t)x->numel * sizeof(float));
        x = ping;
    } else {
        out->hidden[0] = x;
    }
    for (int l = 0; l < c->num_layers; l++) {
        attx_arena_mark mark = attx_arena_get_mark(&ctx->arena);
        attx_tensor *probs;
        attx_tensor *next = vit_layer_forward(ctx, c, &w->layers[l], x, &probs);
        if (recording) {
            out->attn[l] = probs;
            out->hidden[l + 1] = next;
            x = next;
        } else {
            x = attx_keep_release(ctx, mark, (l % 2 == 0) ? pong : ping, next);
        }
        if (!x) goto oom;
    }
    if (w->classifier_w) {
        attx_tensor *cls = attx_op_first_token(ctx, attx_op_layernorm(ctx, x, w->final_ln_g, w->final_ln_b,
                                                                      c->layer_norm_eps));
        out->logits = attx_op_linear(ctx, cls, w->classifier_w, w->classifier_b);
        if (!out->logits) goto oom;
    }
    if (ctx->failed) goto oom;
    return 0;
oom:
    return attx_fail(err, "out of memory in the forward pass (batch of %lld images)", (long long)B);
}
