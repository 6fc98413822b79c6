/* model.h — internal: a loaded model (weights as tensors) and the forward passes. */
#ifndef ATTX_MODEL_H
#define ATTX_MODEL_H

#include "attx_engine.h"
#include "attx_weights.h"
#include "tape.h"

typedef struct attx_bert_layer {
    attx_tensor *query_w, *query_b, *key_w, *key_b, *value_w, *value_b;   /* [D, D], [D] */
    attx_tensor *attn_out_w, *attn_out_b;                                 /* [D, D], [D] */
    attx_tensor *attn_ln_g, *attn_ln_b;                                   /* [D] */
    attx_tensor *ffn_in_w, *ffn_in_b;                                     /* [F, D], [F] */
    attx_tensor *ffn_out_w, *ffn_out_b;                                   /* [D, F], [D] */
    attx_tensor *ffn_ln_g, *ffn_ln_b;                                     /* [D] */
} attx_bert_layer;

typedef struct attx_bert_weights {
    attx_tensor *word_emb;        /* [V, D] */
    attx_tensor *pos_emb;         /* [P, D] */
    attx_tensor *type_emb;        /* [TV, D] */
    attx_tensor *emb_ln_g, *emb_ln_b;
    attx_bert_layer *layers;      /* [L] */
    attx_tensor *pooler_w, *pooler_b;     /* [D, D], [D]; NULL in a bare model without pooler */
    attx_tensor *classifier_w, *classifier_b;   /* [C, D], [C]; NULL in a bare model */
} attx_bert_weights;

typedef struct attx_vit_layer {
    attx_tensor *ln_before_g, *ln_before_b;                               /* [D] */
    attx_tensor *query_w, *query_b, *key_w, *key_b, *value_w, *value_b;   /* biases NULL without qkv_bias */
    attx_tensor *attn_out_w, *attn_out_b;
    attx_tensor *ln_after_g, *ln_after_b;
    attx_tensor *ffn_in_w, *ffn_in_b, *ffn_out_w, *ffn_out_b;
} attx_vit_layer;

typedef struct attx_vit_weights {
    attx_tensor *cls_token;       /* [1, 1, D] */
    attx_tensor *pos_emb;         /* [1, N+1, D] */
    attx_tensor *patch_w;         /* [D, C·P·P]: the Conv2d weight [D, C, P, P] as a matrix */
    attx_tensor *patch_b;         /* [D] */
    attx_vit_layer *layers;       /* [L] */
    attx_tensor *final_ln_g, *final_ln_b;
    attx_tensor *classifier_w, *classifier_b;   /* NULL in a bare ViTModel */
} attx_vit_weights;

typedef struct attx_attn1_weights {
    attx_tensor *word_emb;        /* [V, d_e] */
    attx_tensor *query_w;         /* [K·d_att, d_e]: head i owns rows [i·d_att, (i+1)·d_att) */
    attx_tensor *key_w;           /* [K·d_att, d_e] */
    attx_tensor *value_w;         /* [K·d_out, d_e] */
    attx_tensor *classifier_w;    /* [C, K·d_out]: columns grouped by head; NULL in a bare model */
    attx_tensor *positions;       /* [T, d_e] the sinusoidal table PE (fixed, not a parameter) */
} attx_attn1_weights;

struct attx_model {
    attx_model_files files;
    const attx_config *config;    /* = &files.config */
    attx_arena storage;           /* parameter headers and weights converted to F32 */
    attx_tensor **params;         /* [files.n_specs], NULL where the file has no such tensor */
    attx_bert_weights bert;
    attx_vit_weights vit;
    attx_attn1_weights attn1;
    attx_wordpiece *tokenizer;    /* text models with a vocabulary; NULL otherwise */
};

/* Frees the linear weights' GEMM packing (attx_model_open makes it): before weights change. */
void attx_model_drop_packed(attx_model *m);

/* Parameter by canonical HF name, or NULL. The ViT patch projection
 * (vit.embeddings.patch_embeddings.projection.weight) is this model's own header over the
 * Conv2d values, reshaped to the matrix [D, C·P·P] by bind_vit; the file's tensor list
 * (files.by_spec, what `attx info` and `attx convert` read) keeps the stored [D, C, P, P]. */
attx_tensor *attx_model_param(const attx_model *m, const char *name);

/* BERT forward. With ctx->recording the tape is on and gradients flow to inputs_embeds (and,
 * when parameters carry ATTX_REQUIRES_GRAD, to them); with it off each layer's temporaries are
 * released as soon as the layer is done. Returns 0, or -1 with err set. */
int attx_bert_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch,
                      attx_outputs *out, attx_error *err);

/* ViT forward (pre-LN blocks, [CLS] classifier); batch->pixels holds [B, C, H, W]. */
int attx_vit_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch, attx_outputs *out,
                     attx_error *err);

/* attn1's sinusoidal positions: pe[T, D] (interleaved sin/cos, computed in double). */
void attx_attn1_positions(float *pe, int64_t T, int64_t D);

/* attn1 forward (Lopardo et al. 2024): batch->T must be max_position_embeddings. */
int attx_attn1_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch, attx_outputs *out,
                       attx_error *err);

#endif
