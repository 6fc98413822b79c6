/* explain.c — the driver: one example, one shared forward (tape on) + backward of the
 * explained logit, then every requested method; names, options and results. */
#include "methods_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The methods, in the order `attx explain --help` lists them. */
static const method_entry METHODS[] = {
    {"att-cls", method_att_cls, METHOD_USES_PASS},
    {"grad-att-cls", method_grad_att_cls, METHOD_USES_PASS | METHOD_USES_GRAD},
    {"att-mutual", method_att_mutual, METHOD_USES_PASS},
    {"grad-att-mutual", method_grad_att_mutual, METHOD_USES_PASS | METHOD_USES_GRAD},
    {"att-max-mutual", method_att_max_mutual, METHOD_USES_PASS},
    {"grad-att-max-mutual", method_grad_att_max_mutual, METHOD_USES_PASS | METHOD_USES_GRAD},
    {"shapley-input", method_shapley_input, 0},
    {"shap", method_shap, 0},
    {"lime", method_lime, 0},
    {"lime-tokens", method_lime_tokens, 0},
    {"grad-sam", method_grad_sam, METHOD_USES_PASS | METHOD_USES_GRAD},
    {"att", method_att, METHOD_USES_PASS},
    {"att-avg", method_att_avg, METHOD_USES_PASS},
    {"att-max", method_att_max, METHOD_USES_PASS},
    {"grad-avg", method_grad_avg, METHOD_USES_PASS | METHOD_USES_GRAD},
    {"grad-l1", method_grad_l1, METHOD_USES_PASS | METHOD_USES_GRAD},
    {"grad-l2", method_grad_l2, METHOD_USES_PASS | METHOD_USES_GRAD},
    {"grad-x-input", method_grad_x_input, METHOD_USES_PASS | METHOD_USES_GRAD},
    {"integrated-gradients", method_integrated_gradients, METHOD_USES_PASS},
    {"att-ig", method_att_ig, METHOD_USES_PASS},
    {"rollout", method_rollout, METHOD_USES_PASS},
    {"grad-rollout", method_grad_rollout, METHOD_USES_PASS | METHOD_USES_GRAD},
};
#define N_METHODS ((int)(sizeof METHODS / sizeof METHODS[0]))

int attx_method_count(void)
{
    return N_METHODS;
}

const char *attx_method_name(int index)
{
    return index >= 0 && index < N_METHODS ? METHODS[index].name : NULL;
}

int attx_method_find(const char *name)
{
    for (int i = 0; name && i < N_METHODS; i++)
        if (strcmp(METHODS[i].name, name) == 0) return i;
    return -1;
}

void attx_explain_options_init(attx_explain_options *o)
{
    memset(o, 0, sizeof *o);
    o->klass = -1;
    o->sampler = ATTX_SAMPLER_NONE;
    o->ig_baseline = ATTX_IG_BASELINE_PAD;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void attx_explanation_free(attx_explanation *e)
{
    if (!e) return;
    for (int i = 0; i < e->n_methods; i++) {
        free(e->methods[i].scores);
        free(e->methods[i].se);
    }
    free(e->methods);
    free(e->logits);
    free(e->probs);
    attx_encoding_free(&e->enc);
    memset(e, 0, sizeof *e);
}

/* The shared pass, then the methods. mc has model, cfg, opt, n, first, T, ids/pixels set. */
static int explain_example(method_ctx *mc, const char *const *names, int n_names, attx_explanation *ex,
                           attx_error *err)
{
    const attx_config *cfg = mc->cfg;
    int C = cfg->num_labels, rc = -1;
    int *which = malloc((size_t)(n_names > 0 ? n_names : 1) * sizeof *which);
    float *seed = malloc((size_t)C * sizeof *seed);
    attx_ctx *ctx = attx_ctx_new();
    if (!which || !seed || !ctx) {
        attx_fail(err, "out of memory");
        goto done;
    }
    int need_grad = 0;
    for (int i = 0; i < n_names; i++) {
        if ((which[i] = attx_method_find(names[i])) < 0) {
            attx_fail(err, "unknown method '%s'", names[i]);
            goto done;
        }
        need_grad |= METHODS[which[i]].flags & METHOD_USES_GRAD;
    }
    for (int i = 0; i < mc->opt->layers.n_layers; i++)
        if (mc->opt->layers.layers[i] < 0 || mc->opt->layers.layers[i] >= cfg->num_layers) {
            attx_fail(err, "layer %d is out of range (the model has %d layers, numbered from 0)",
                      mc->opt->layers.layers[i], cfg->num_layers);
            goto done;
        }

    /* the shared pass: forward with the tape, backward from the explained logit */
    double t0 = now_ms();
    attx_outputs out;
    attx_batch batch = {.B = 1, .T = mc->T, .ids = mc->ids, .lengths = &mc->T, .pixels = mc->pixels};
    attx_ctx_set_tape(ctx, 1);
    if (attx_forward(mc->model, ctx, &batch, &out, err) != 0) goto done;
    ex->num_labels = C;
    ex->logits = malloc((size_t)C * sizeof *ex->logits);
    ex->probs = malloc((size_t)C * sizeof *ex->probs);
    if (!ex->logits || !ex->probs) {
        attx_fail(err, "out of memory");
        goto done;
    }
    memcpy(ex->logits, out.logits->data, (size_t)C * sizeof *ex->logits);
    double max = -INFINITY, sum = 0;
    int best = 0;
    for (int k = 0; k < C; k++) {
        max = fmax(max, ex->logits[k]);
        if (ex->logits[k] > ex->logits[best]) best = k;
    }
    for (int k = 0; k < C; k++) sum += ex->probs[k] = exp((double)ex->logits[k] - max);
    for (int k = 0; k < C; k++) ex->probs[k] /= sum;
    ex->predicted = best;
    ex->klass = mc->opt->klass >= 0 ? mc->opt->klass : best;
    if (ex->klass >= C) {
        attx_fail(err, "class %d is out of range (the model has %d classes, numbered from 0)", ex->klass, C);
        goto done;
    }
    mc->klass = ex->klass;
    attx_seed_explained_logits(1, C, &mc->klass, seed);
    if (need_grad && attx_backward(ctx, out.logits, seed) != 0) {   /* only when a method reads gradients */
        attx_fail(err, "out of memory in the backward pass");
        goto done;
    }
    mc->out = &out;
    mc->pass_ms = now_ms() - t0;
    mc->pass_has_backward = need_grad;

    ex->methods = calloc((size_t)(n_names > 0 ? n_names : 1), sizeof *ex->methods);
    if (!ex->methods) {
        attx_fail(err, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_names; i++) {
        const method_entry *me = &METHODS[which[i]];
        attx_method_result *r = &ex->methods[i];
        ex->n_methods = i + 1;
        strcpy(r->name, me->name);
        r->n = mc->n;
        r->completeness_error = NAN;
        r->scores = calloc((size_t)mc->n, sizeof *r->scores);
        if (!r->scores) {
            attx_fail(err, "out of memory");
            goto done;
        }
        double t1 = now_ms();
        if (me->run(mc, r, err) != 0) {
            attx_fail_prefix(err, "%s", me->name);
            goto done;
        }
        r->time_ms = now_ms() - t1;
        if (me->flags & METHOD_USES_PASS) {
            r->time_ms += mc->pass_ms;   /* the shared pass counts for each method that uses it */
            r->forward_passes += 1;
            if (me->flags & METHOD_USES_GRAD) r->backward_passes += 1;
        }
        for (int j = 0; j < mc->n; j++)
            if (!isfinite(r->scores[j])) {
                attx_fail(err, "%s: the score of player %d is not finite", me->name, j);
                goto done;
            }
    }
    rc = 0;
done:
    mc->out = NULL;
    attx_ctx_free(ctx);
    free(which);
    free(seed);
    return rc;
}

static int check_model(const attx_model *m, attx_arch arch, attx_error *err)
{
    if (!m) return attx_fail(err, "explain: no model");
    const attx_config *cfg = attx_model_config(m);
    if (!attx_model_has_classifier(m))
        return attx_fail(err, "a bare %s without a classifier has no class to explain", attx_arch_name(cfg->arch));
    if (cfg->arch != arch && !(arch == ATTX_ARCH_BERT && cfg->arch == ATTX_ARCH_ATTN1))   /* attn1 takes text */
        return attx_fail(err, "a %s model does not take %s", attx_arch_name(cfg->arch),
                         arch == ATTX_ARCH_BERT ? "text" : "images");
    return 0;
}

int attx_explain_text(const attx_model *m, const char *text, size_t len, const char *const *names,
                      int n_names, const attx_explain_options *opts, attx_explanation *out,
                      attx_error *err)
{
    memset(out, 0, sizeof *out);
    attx_explain_options defaults;
    if (!opts) {
        attx_explain_options_init(&defaults);
        opts = &defaults;
    }
    if (check_model(m, ATTX_ARCH_BERT, err) != 0) return -1;
    if (attx_encode_text(m, text, len, &out->enc, err) != 0) return -1;
    out->arch = attx_model_config(m)->arch;
    out->first_player = 1;
    /* attn1: [cls] w1..wn then UNK padding to T; the players are the words */
    out->n_players = out->arch == ATTX_ARCH_ATTN1 ? (int)out->enc.tokens.n : out->enc.length - 2;
    if (out->n_players < 1) return attx_fail(err, "the text has no tokens to explain");
    method_ctx mc = {.model = m, .cfg = attx_model_config(m), .opt = opts, .n = out->n_players, .first = 1,
                     .T = out->enc.length, .ids = out->enc.ids, .text = text, .text_len = len};
    return explain_example(&mc, names, n_names, out, err);
}

int attx_explain_ids(const attx_model *m, const int32_t *ids, int length, const char *const *names,
                     int n_names, const attx_explain_options *opts, attx_explanation *out,
                     attx_error *err)
{
    memset(out, 0, sizeof *out);
    attx_explain_options defaults;
    if (!opts) {
        attx_explain_options_init(&defaults);
        opts = &defaults;
    }
    if (check_model(m, ATTX_ARCH_BERT, err) != 0) return -1;
    const attx_config *cfg = attx_model_config(m);
    int attn1 = cfg->arch == ATTX_ARCH_ATTN1, T = attn1 ? cfg->max_position_embeddings : length;
    if (!ids || length < (attn1 ? 2 : 3)) return attx_fail(err, "the sequence has no tokens to explain");
    if (attn1 && length > T)
        return attx_fail(err, "%d tokens for an attn1 model of %d positions (give [cls] w1..wn without the padding)",
                         length, T);
    if (!(out->enc.ids = malloc((size_t)T * sizeof *ids))) return attx_fail(err, "out of memory");
    memcpy(out->enc.ids, ids, (size_t)length * sizeof *ids);
    if (attn1) {   /* UNK padding to exactly T */
        const attx_wordpiece *wp = attx_model_tokenizer(m);
        int32_t unk = wp ? attx_wordpiece_special_ids(wp).unk : 1;
        for (int t = length; t < T; t++) out->enc.ids[t] = unk;
    }
    out->enc.length = T;
    out->arch = cfg->arch;
    out->first_player = 1;
    out->n_players = attn1 ? length - 1 : length - 2;
    method_ctx mc = {.model = m, .cfg = cfg, .opt = opts, .n = out->n_players, .first = 1, .T = T,
                     .ids = out->enc.ids};
    return explain_example(&mc, names, n_names, out, err);
}

int attx_explain_image(const attx_model *m, const float *pixels, const char *const *names,
                       int n_names, const attx_explain_options *opts, attx_explanation *out,
                       attx_error *err)
{
    memset(out, 0, sizeof *out);
    attx_explain_options defaults;
    if (!opts) {
        attx_explain_options_init(&defaults);
        opts = &defaults;
    }
    if (check_model(m, ATTX_ARCH_VIT, err) != 0) return -1;
    if (!pixels) return attx_fail(err, "explain: no pixels");
    const attx_config *cfg = attx_model_config(m);
    out->arch = ATTX_ARCH_VIT;
    out->first_player = 1;
    out->grid_h = cfg->image_height / cfg->patch_size;
    out->grid_w = cfg->image_width / cfg->patch_size;
    out->n_players = out->grid_h * out->grid_w;
    method_ctx mc = {.model = m, .cfg = cfg, .opt = opts, .n = out->n_players, .first = 1,
                     .T = out->n_players + 1, .pixels = pixels};
    return explain_example(&mc, names, n_names, out, err);
}
