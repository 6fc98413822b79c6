/* methods_model.c — Shapley values of the model game: shapley-input (probability of the class
 * with the other tokens [MASK]ed, exact or sampled) and shap (shap's partition explainer on the
 * class's logit-odds, or P1's class-1 logit-odds). */
#include "methods_internal.h"

#include <stdio.h>
#include <string.h>

int method_model_game(const method_ctx *mc, attx_model_value value, int klass, attx_game *g,
                      attx_error *err)
{
    attx_model_game_options o = {.klass = klass, .value = value, .batch_size = mc->opt->batch_size,
                                 .mask_id = -1, .baseline = mc->opt->image_baseline};
    if (mc->ids)   /* attn1: the unpadded [cls] w1..wn; the game pads */
        return attx_game_model_text(g, mc->model, mc->ids, mc->cfg->arch == ATTX_ARCH_ATTN1 ? mc->first + mc->n : mc->T,
                                    &o, err);
    return attx_game_model_image(g, mc->model, mc->pixels, &o, err);
}

int method_shapley_input(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    attx_game g;
    if (method_model_game(mc, ATTX_VALUE_PROB, mc->klass, &g, err) != 0) return -1;
    int rc = method_solve(&g, mc->opt, r, NULL, err);
    r->forward_passes = attx_game_model_forwards(&g);
    attx_game_free(&g);
    return rc;
}

int method_shap(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    int klass = mc->klass;
    if (mc->opt->shap_p1) {
        if (mc->cfg->num_labels < 2) return attx_fail(err, "shap (P1's mode) needs a class 1");
        klass = 1;
    }
    attx_game g;
    if (method_model_game(mc, ATTX_VALUE_LOGODDS, klass, &g, err) != 0) return -1;
    attx_partition_options po = {.seed = mc->opt->seed, .max_evals = mc->opt->samples > 0 ? mc->opt->samples : 500};
    attx_shapley_info info;
    int rc = attx_shapley_partition(&g, &po, r->scores, &info, err);
    snprintf(r->how, sizeof r->how, "partition, max_evals %d, logit-odds of class %d%s", po.max_evals, klass,
             mc->opt->shap_p1 ? " (P1's mode)" : "");
    r->forward_passes = attx_game_model_forwards(&g);
    attx_game_free(&g);
    return rc;
}
