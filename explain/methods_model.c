/* methods_model.c — Shapley values of the model game: shapley-input (probability of the class
 * with the other tokens [MASK]ed, exact or sampled) and shap (shap's partition explainer on the
 * class's logit-odds, or P1's class-1 logit-odds; id or string masks, balanced or shap's tree). */
#include "methods_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static attx_model_game_options game_options(const method_ctx *mc, attx_model_value value, int klass)
{
    return (attx_model_game_options){.klass = klass, .value = value, .batch_size = mc->opt->batch_size,
                                     .mask_id = -1, .baseline = mc->opt->image_baseline};
}

static int model_game_with(const method_ctx *mc, const attx_model_game_options *o, attx_game *g, attx_error *err)
{
    if (mc->ids)   /* attn1: the unpadded [cls] w1..wn; the game pads */
        return attx_game_model_text(g, mc->model, mc->ids, mc->cfg->arch == ATTX_ARCH_ATTN1 ? mc->first + mc->n : mc->T,
                                    o, err);
    return attx_game_model_image(g, mc->model, mc->pixels, o, err);
}

int method_model_game(const method_ctx *mc, attx_model_value value, int klass, attx_game *g,
                      attx_error *err)
{
    attx_model_game_options o = game_options(mc, value, klass);
    return model_game_with(mc, &o, g, err);
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
    const attx_explain_options *opt = mc->opt;
    int klass = mc->klass;
    if (opt->shap_p1) {
        if (mc->cfg->num_labels < 2) return attx_fail(err, "shap (P1's mode) needs a class 1");
        klass = 1;
    }
    /* shap's Text masker and tree are for BERT text (P1 ran shap on BERT); others keep ids and
     * the balanced tree */
    int bert_text = mc->ids && mc->cfg->arch == ATTX_ARCH_BERT;
    int text_masks = bert_text && opt->shap_masker == ATTX_SHAP_MASKER_TEXT;
    int shap_tree = bert_text && opt->shap_tree == ATTX_SHAP_TREE_SHAP;
    attx_text_segments segs = {0};
    attx_game g = {0};
    int32_t *tree = NULL;
    double *phi = NULL;
    int rc = -1;
    if (text_masks || shap_tree) {
        int s_rc = mc->text ? attx_text_segments_from_text(mc->model, mc->text, mc->text_len, &segs, err)
                            : attx_text_segments_from_ids(mc->model, mc->ids, mc->T, &segs, err);
        if (s_rc != 0) goto done;
        if (segs.length != mc->T) {
            attx_fail(err, "shap: %d text segments for %d tokens", segs.length, mc->T);
            goto done;
        }
    }
    if (shap_tree) {   /* over every token: [CLS] and [SEP] are players whose values are dropped */
        if (!(tree = malloc((size_t)(2 * (segs.length - 1)) * sizeof *tree))) {
            attx_fail(err, "shap: out of memory");
            goto done;
        }
        if (attx_shap_text_tree(&segs, tree, NULL, err) != 0) goto done;
    }
    attx_model_game_options o = game_options(mc, ATTX_VALUE_LOGODDS, klass);
    o.special_players = shap_tree;
    int g_rc = text_masks ? attx_game_model_text_masked(&g, mc->model, &segs, &o, err) : model_game_with(mc, &o, &g, err);
    if (g_rc != 0) goto done;
    if (!(phi = malloc((size_t)g.n * sizeof *phi))) {
        attx_fail(err, "shap: out of memory");
        goto done;
    }
    attx_partition_options po = {.seed = opt->seed, .max_evals = opt->samples > 0 ? opt->samples : 500, .tree = tree};
    attx_shapley_info info;
    if (attx_shapley_partition(&g, &po, phi, &info, err) != 0) goto done;
    memcpy(r->scores, phi + (shap_tree ? 1 : 0), (size_t)mc->n * sizeof *phi);
    snprintf(r->how, sizeof r->how, "partition, max_evals %d, logit-odds of class %d, %s masks, %s tree%s",
             po.max_evals, klass, text_masks ? "text" : "id", shap_tree ? "shap's" : "balanced",
             opt->shap_p1 ? " (P1's mode)" : "");
    r->forward_passes = attx_game_model_forwards(&g);
    rc = 0;
done:
    attx_game_free(&g);
    attx_text_segments_free(&segs);
    free(tree);
    free(phi);
    return rc;
}
