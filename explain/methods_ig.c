/* methods_ig.c — integrated gradients on the input embeddings, and att-ig: the grad-att [CLS]
 * row averaged along the same straight path.
 *
 * Path: x_a = x' + a (x - x') at the midpoints a_k = (k + 0.5) / steps, k = 0..steps-1.
 *   text:   x = inputs_embeds (word embeddings), x' = x with the players' rows replaced by the
 *           [PAD] row of the word-embedding table (or zeros); [CLS]/[SEP] rows stay as they are.
 *           attn1: x = W_e[x] (before PE; [PAD] = UNK, its padding; e - e' is the same either
 *           way, and the gradient w.r.t. W_e[x] is the gradient w.r.t. e)
 *   images: the pixels, x' = every pixel at the image baseline. The patch projection is affine,
 *           so this is the straight path between the patch embeddings too, and the per-patch
 *           sums below are the same computed on either side of it.
 *   IG_i = (e_i - e'_i) . (1/steps) sum_k grad_{e_i} z(x_{a_k}),   e = inputs_embeds,
 *   completeness: sum_i IG_i ~ z(x) - z(x').
 *   att-ig_j = (1/steps) sum_k Mbar_gradatt(x_{a_k})[0, player j]. */
#include "methods_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The word-embedding table [V, D] of a BERT or attn1 model, or NULL. */
static const attx_tensor *word_embedding_table(const attx_model *m)
{
    const char *want = attx_model_config(m)->arch == ATTX_ARCH_ATTN1 ? "attn1.word_embeddings.weight"
                                                                    : "bert.embeddings.word_embeddings.weight";
    size_t np = attx_model_params(m, NULL, NULL);
    attx_tensor **params = malloc(np * sizeof *params);
    const char **names = malloc(np * sizeof *names);
    const attx_tensor *table = NULL;
    if (params && names) {
        attx_model_params(m, params, names);
        for (size_t i = 0; i < np; i++)
            if (params[i] && strcmp(names[i], want) == 0) table = params[i];
    }
    free(params);
    free(names);
    return table;
}

/* The [PAD] row of the word-embedding table (attn1: UNK, its padding), or NULL. */
static const float *pad_embedding(const attx_model *m)
{
    const attx_config *cfg = attx_model_config(m);
    const attx_wordpiece *wp = attx_model_tokenizer(m);
    int pad = wp && attx_wordpiece_special_ids(wp).pad >= 0 ? attx_wordpiece_special_ids(wp).pad : cfg->pad_token_id;
    const attx_tensor *table = word_embedding_table(m);
    if (!table || pad < 0 || pad >= table->shape[0]) return NULL;
    return table->data + (size_t)pad * (size_t)table->shape[1];
}

typedef struct path_result {
    double *ig;        /* [n] or NULL */
    double *att;       /* [n] or NULL */
    double z_x, z_base;
    uint64_t forwards, backwards;
} path_result;

static int integrate_path(const method_ctx *mc, path_result *pr, attx_error *err)
{
    const attx_config *cfg = mc->cfg;
    int text = mc->ids != NULL, n = mc->n, T = mc->T, C = cfg->num_labels;
    int steps = mc->opt->steps > 0 ? mc->opt->steps : 64;
    int bs = mc->opt->batch_size > 0 ? mc->opt->batch_size : text ? 16 : 4;
    if (bs > steps) bs = steps;
    const attx_tensor *emb = mc->out->inputs_embeds;
    int64_t rows = emb->shape[1], D = emb->shape[2];
    size_t emb_numel = (size_t)(rows * D);
    size_t pix_numel = text ? 0 : (size_t)cfg->num_channels * (size_t)cfg->image_height * (size_t)cfg->image_width;
    size_t in_numel = text ? emb_numel : pix_numel;
    const float *x = text ? emb->data : mc->pixels;
    float *words = NULL;   /* attn1: inputs_embeds has PE added; the path runs in W_e[x] (PE is added again) */

    float *x0 = malloc(in_numel * sizeof *x0), *e0 = malloc(emb_numel * sizeof *e0);
    float *batch_in = malloc((size_t)bs * in_numel * sizeof *batch_in);
    float *seed = malloc((size_t)bs * (size_t)C * sizeof *seed);
    int32_t *ids = text ? malloc((size_t)bs * (size_t)T * sizeof *ids) : NULL;
    int32_t *lens = text ? malloc((size_t)bs * sizeof *lens) : NULL;
    int *klass = malloc((size_t)bs * sizeof *klass);
    double *gsum = calloc(emb_numel, sizeof *gsum), *cls = malloc((size_t)n * sizeof *cls);
    attx_ctx *ctx = attx_ctx_new();
    int rc = -1;
    if (!x0 || !e0 || !batch_in || !seed || (text && (!ids || !lens)) || !klass || !gsum || !cls || !ctx) {
        attx_fail(err, "out of memory");
        goto done;
    }
    attx_ctx_set_tape(ctx, 1);
    if (text && cfg->arch == ATTX_ARCH_ATTN1) {
        const attx_tensor *table = word_embedding_table(mc->model);
        if (!table || table->shape[1] != D || !(words = malloc(emb_numel * sizeof *words))) {
            attx_fail(err, table ? "out of memory" : "integrated gradients: no word-embedding table");
            goto done;
        }
        for (int t = 0; t < T; t++)
            memcpy(words + (size_t)t * (size_t)D, table->data + (size_t)mc->ids[t] * (size_t)D, (size_t)D * sizeof *words);
        x = words;
    }
    if (text) {
        memcpy(x0, x, in_numel * sizeof *x0);
        const float *pad = mc->opt->ig_baseline == ATTX_IG_BASELINE_PAD ? pad_embedding(mc->model) : NULL;
        if (mc->opt->ig_baseline == ATTX_IG_BASELINE_PAD && !pad) {
            attx_fail(err, "integrated gradients: the model has no [PAD] embedding (use the zero baseline)");
            goto done;
        }
        for (int i = 0; i < n; i++) {
            float *row = x0 + (size_t)((mc->first + i) * D);
            if (pad) memcpy(row, pad, (size_t)D * sizeof *row);
            else memset(row, 0, (size_t)D * sizeof *row);
        }
        for (int b = 0; b < bs; b++) {
            memcpy(ids + (size_t)b * (size_t)T, mc->ids, (size_t)T * sizeof *ids);
            lens[b] = T;
        }
    } else {
        for (size_t i = 0; i < in_numel; i++) x0[i] = mc->opt->image_baseline;
    }
    for (int b = 0; b < bs; b++) klass[b] = mc->klass;
    pr->z_x = mc->out->logits->data[mc->klass];

    /* the baseline: its logit and (images) its patch embeddings */
    attx_outputs out;
    attx_batch base = {.B = 1, .T = T, .ids = ids, .lengths = lens};
    if (text) base.inputs_embeds = x0;
    else base.pixels = x0;
    if (attx_forward(mc->model, ctx, &base, &out, err) != 0) goto done;
    pr->forwards++;
    pr->z_base = out.logits->data[mc->klass];
    memcpy(e0, out.inputs_embeds->data, emb_numel * sizeof *e0);

    if (pr->att) memset(pr->att, 0, (size_t)n * sizeof *pr->att);
    for (int k0 = 0; k0 < steps; k0 += bs) {
        int B = steps - k0 < bs ? steps - k0 : bs;
        for (int b = 0; b < B; b++) {
            double a = (k0 + b + 0.5) / steps;
            float *dst = batch_in + (size_t)b * in_numel;
            for (size_t i = 0; i < in_numel; i++) dst[i] = (float)(x0[i] + a * ((double)x[i] - x0[i]));
        }
        attx_batch batch = {.B = B, .T = T, .ids = ids, .lengths = lens};
        if (text) batch.inputs_embeds = batch_in;
        else batch.pixels = batch_in;
        attx_ctx_reset(ctx);
        if (attx_forward(mc->model, ctx, &batch, &out, err) != 0) goto done;
        attx_seed_explained_logits(B, C, klass, seed);
        if (attx_backward(ctx, out.logits, seed) != 0) {
            attx_fail(err, "out of memory in the backward pass");
            goto done;
        }
        pr->forwards += (uint64_t)B;
        pr->backwards += (uint64_t)B;
        for (int b = 0; b < B; b++) {
            const float *g = out.inputs_embeds->grad + (size_t)b * emb_numel;
            for (size_t i = 0; i < emb_numel; i++) gsum[i] += g[i];
            if (pr->att) {
                if (attx_influence(&out, cfg->num_layers, b, ATTX_INFLUENCE_GRAD_ATT, &mc->opt->layers, mc->first, n,
                                   NULL, cls, err) != 0)
                    goto done;
                for (int j = 0; j < n; j++) pr->att[j] += cls[j] / steps;
            }
        }
    }
    if (pr->ig) {
        const float *e = mc->out->inputs_embeds->data;
        for (int i = 0; i < n; i++) {
            size_t row = (size_t)(text ? mc->first + i : i) * (size_t)D;
            double s = 0;
            for (int64_t d = 0; d < D; d++) s += ((double)e[row + (size_t)d] - e0[row + (size_t)d]) * gsum[row + (size_t)d];
            pr->ig[i] = s / steps;
        }
    }
    rc = 0;
done:
    attx_ctx_free(ctx);
    free(words);
    free(x0);
    free(e0);
    free(batch_in);
    free(seed);
    free(ids);
    free(lens);
    free(klass);
    free(gsum);
    free(cls);
    return rc;
}

int method_integrated_gradients(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    path_result pr = {.ig = r->scores};
    if (integrate_path(mc, &pr, err) != 0) return -1;
    double sum = 0, delta = pr.z_x - pr.z_base;
    for (int i = 0; i < mc->n; i++) sum += r->scores[i];
    r->completeness_error = fabs(delta) > 1e-12 ? fabs(sum - delta) / fabs(delta) : fabs(sum - delta);
    r->forward_passes = pr.forwards;
    r->backward_passes = pr.backwards;
    snprintf(r->how, sizeof r->how, "%d steps, %s baseline, z(x) - z(x') = %.6g, sum = %.6g",
             mc->opt->steps > 0 ? mc->opt->steps : 64,
             mc->ids ? (mc->opt->ig_baseline == ATTX_IG_BASELINE_PAD ? "[PAD]" : "zero") : "pixel", delta, sum);
    return 0;
}

int method_att_ig(const method_ctx *mc, attx_method_result *r, attx_error *err)
{
    path_result pr = {.att = r->scores};
    if (integrate_path(mc, &pr, err) != 0) return -1;
    r->forward_passes = pr.forwards;
    r->backward_passes = pr.backwards;
    snprintf(r->how, sizeof r->how, "grad-att [CLS] row averaged over %d path points",
             mc->opt->steps > 0 ? mc->opt->steps : 64);
    return 0;
}
