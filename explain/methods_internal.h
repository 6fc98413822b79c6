/* methods_internal.h — internal to explain/: what one explanation method sees and the table
 * of methods the driver (explain.c) runs. */
#ifndef ATTX_METHODS_INTERNAL_H
#define ATTX_METHODS_INTERNAL_H

#include "attx_explain.h"

/* The example being explained, with the shared tape pass (forward + backward of the explained
 * logit, B = 1) already done. */
typedef struct method_ctx {
    const attx_model *model;
    const attx_config *cfg;
    const attx_explain_options *opt;
    int klass;
    int n;                      /* players */
    int first;                  /* token position of player 0 (1) */
    int T;                      /* tokens of the sequence ([CLS] ... [SEP], or [CLS] + patches) */
    const int32_t *ids;         /* text: [T] */
    const char *text;           /* attx_explain_text: the text ids came from (NULL otherwise) */
    size_t text_len;
    const float *pixels;        /* images: [C*H*W] */
    const attx_outputs *out;    /* the tape pass: attn (with grads), inputs_embeds (with grad) */
    double pass_ms;             /* its wall time */
    int pass_has_backward;      /* 1: the backward ran (gradients present) */
} method_ctx;

/* Fills r->scores[mc->n] (allocated by the driver), how, se, forward/backward counts and the
 * completeness error; the driver adds the time. */
typedef int (*method_fn)(const method_ctx *mc, attx_method_result *r, attx_error *err);

enum {
    METHOD_USES_PASS = 1,       /* uses the shared tape pass (its time and counts added) */
    METHOD_USES_GRAD = 2        /* ... and its backward */
};

typedef struct method_entry {
    const char *name;
    method_fn run;
    int flags;
} method_entry;

/* methods_attention.c */
int method_att_cls(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_grad_att_cls(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_att_mutual(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_grad_att_mutual(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_att_max_mutual(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_grad_att_max_mutual(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_grad_sam(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_att(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_att_avg(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_att_max(const method_ctx *mc, attx_method_result *r, attx_error *err);
/* methods_gradient.c */
int method_grad_avg(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_grad_l1(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_grad_l2(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_grad_x_input(const method_ctx *mc, attx_method_result *r, attx_error *err);
/* methods_ig.c */
int method_integrated_gradients(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_att_ig(const method_ctx *mc, attx_method_result *r, attx_error *err);
/* rollout.c */
int method_rollout(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_grad_rollout(const method_ctx *mc, attx_method_result *r, attx_error *err);
/* methods_model.c */
int method_shapley_input(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_shap(const method_ctx *mc, attx_method_result *r, attx_error *err);
/* methods_lime.c */
int method_lime(const method_ctx *mc, attx_method_result *r, attx_error *err);
int method_lime_tokens(const method_ctx *mc, attx_method_result *r, attx_error *err);
/* The game over features: a feature coalition becomes the coalition of its tokens. Use
 * (attx_game){.n = features, .eval = feature_eval, .user = &fg, .max_batch = tokens->max_batch}. */
typedef struct feature_game {
    const attx_game *tokens;    /* the model game over the n token players */
    int n_tokens;
    const int *feature_of;      /* [n_tokens] */
} feature_game;
int feature_eval(void *user, int n, size_t count, const uint64_t *masks, double *values, attx_error *err);

/* Runs the Shapley solver the options ask for on g: closed form (when g has one and neither
 * exact nor samples is asked), exact enumeration, or the sampler. Fills r->scores, r->se (when
 * the sampler has one; allocated here), r->how. `fallback_exact`: with no closed form and no
 * samples, enumerate. */
int method_solve(const attx_game *g, const attx_explain_options *opt, attx_method_result *r,
                 attx_shapley_info *info, attx_error *err);

/* A model game on the explained example (text or image) with the given value and class. */
int method_model_game(const method_ctx *mc, attx_model_value value, int klass, attx_game *g,
                      attx_error *err);

#endif
