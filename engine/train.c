/* train.c — one optimisation step of a classifier, and the optimizer state on disk so that a
 * run can be resumed bit for bit. */
#include "model.h"
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void attx_weight_decay_mask(const attx_model *m, uint8_t *decay)
{
    /* Hugging Face's Trainer leaves biases and LayerNorm weights out of the weight decay */
    size_t n = 0;
    for (size_t i = 0; i < m->files.n_specs; i++) {
        if (!m->params[i]) continue;
        const char *name = m->files.specs[i].name, *last = strrchr(name, '.');
        int is_bias = last && strcmp(last, ".bias") == 0;
        int is_norm = strstr(name, "LayerNorm.") || strstr(name, "layernorm");
        decay[n++] = !is_bias && !is_norm;
    }
}

void attx_layer_lr_scales(const attx_model *m, double decay, double *scale)
{
    int L = m->config->num_layers;
    size_t n = 0;
    for (size_t i = 0; i < m->files.n_specs; i++) {
        if (!m->params[i]) continue;
        const char *name = m->files.specs[i].name, *layer = strstr(name, "encoder.layer.");
        int depth = L + 1;                                   /* pooler, final norm, classifier */
        if (layer) depth = atoi(layer + strlen("encoder.layer.")) + 1;
        else if (strstr(name, "embeddings")) depth = 0;
        scale[n++] = m->config->arch == ATTX_ARCH_ATTN1 || decay == 1.0 ? 1.0 : pow(decay, L + 1 - depth);
    }
}

/* forward (tape on, dropout on) → mean cross-entropy → backward → clip → AdamW */
int attx_train_step(attx_model *m, attx_ctx *ctx, attx_adamw *opt, const attx_batch *batch,
                    const int32_t *labels, const attx_step_config *step, attx_step_stats *stats,
                    attx_error *err)
{
    const attx_config *c = m->config;
    for (int b = 0; b < batch->B; b++)
        if (labels[b] < 0 || labels[b] >= c->num_labels)
            return attx_fail(err, "label %d of example %d is not one of the model's %d classes", labels[b], b,
                             c->num_labels);
    attx_ctx_reset(ctx);
    attx_ctx_set_tape(ctx, 1);
    attx_ctx_set_dropout(ctx, 1, step->dropout_seed);
    attx_model_zero_grad(m);
    attx_outputs out;
    int rc = attx_forward(m, ctx, batch, &out, err);
    attx_ctx_set_dropout(ctx, 0, 0);
    if (rc != 0) return -1;
    if (!out.logits) return attx_fail(err, "%s: a model without a classifier cannot be trained", m->files.path);
    attx_tensor *loss = attx_cross_entropy(ctx, out.logits, labels, step->label_smoothing);
    if (!loss || attx_backward(ctx, loss, NULL) != 0)
        return attx_fail(err, "out of memory in the backward pass (batch of %d)", batch->B);
    stats->loss = loss->data[0];
    /* the forward's check keeps logits finite, and the loss of finite logits is finite; a
     * non-finite loss or gradient would still write NaN into every weight: refused before the
     * update, so the model is left as the previous step made it */
    if (!isfinite(stats->loss)) return attx_fail(err, "the loss is %g", stats->loss);
    stats->correct = 0;
    for (int b = 0; b < batch->B; b++) {
        const float *z = out.logits->data + (int64_t)b * c->num_labels;
        int best = 0;
        for (int k = 1; k < c->num_labels; k++)
            if (z[k] > z[best]) best = k;
        stats->correct += best == labels[b];
    }
    stats->grad_norm = attx_clip_grad_norm(opt->params, opt->n, step->max_grad_norm);
    if (!isfinite(stats->grad_norm))
        return attx_fail(err, "the gradient norm is %g (loss %g)", stats->grad_norm, stats->loss);
    attx_adamw_step(opt, step->lr);
    /* finite gradients can still overflow a weight (a learning rate far too large); the next
     * forward would refuse the model, but the caller should know now, before saving it */
    for (size_t i = 0; i < opt->n; i++) {
        const attx_tensor *p = opt->params[i];
        for (int64_t k = 0; k < p->numel; k++) {
            if (isfinite(p->data[k])) continue;
            const char *name = "a parameter";
            for (size_t j = 0; j < m->files.n_specs; j++)
                if (m->params[j] == p) name = m->files.specs[j].name;
            return attx_fail(err, "the update (learning rate %g) made %s hold %g", step->lr, name, (double)p->data[k]);
        }
    }
    return 0;
}

/* ---- optimizer state: one safetensors file, m.NAME and v.NAME per parameter (and avg.NAME
 * with a moving average), the step count and the caller's progress (e.g. epoch and batch) in
 * __metadata__ ---- */
static const char *const state_prefix[3] = {"m", "v", "avg"};

static float *state_of(const attx_adamw *opt, int which, size_t i)
{
    return which == 0 ? opt->m[i] : which == 1 ? opt->v[i] : opt->avg[i];
}

int attx_adamw_save(const attx_adamw *opt, const char *const *names, const char *path, const char *progress,
                    attx_error *err)
{
    int states = opt->avg ? 3 : 2;
    size_t n_entries = (size_t)states * opt->n;
    attx_st_entry *entries = calloc(n_entries + 1, sizeof *entries);
    char **keys = calloc(n_entries + 1, sizeof *keys);
    int rc = -1;
    if (!entries || !keys) {
        attx_fail(err, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < opt->n; i++) {
        for (int which = 0; which < states; which++) {
            size_t k = (size_t)states * i + (size_t)which;
            size_t len = strlen(names[i]) + 5;
            if (!(keys[k] = malloc(len))) {
                attx_fail(err, "%s: out of memory", path);
                goto done;
            }
            snprintf(keys[k], len, "%s.%s", state_prefix[which], names[i]);
            entries[k] = (attx_st_entry){.name = keys[k], .dtype = ATTX_F32, .ndim = 1,
                                         .shape = {(uint64_t)opt->params[i]->numel},
                                         .f32 = state_of(opt, which, i)};
        }
    }
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)opt->step);
    const char *mk[2] = {"attx.adamw.step", "attx.progress"}, *mv[2] = {step, progress ? progress : ""};
    rc = attx_safetensors_write(path, entries, n_entries, mk, mv, 2, err);
done:
    for (size_t k = 0; keys && k < n_entries; k++) free(keys[k]);
    free(keys);
    free(entries);
    return rc;
}

int attx_adamw_load(attx_adamw *opt, const char *const *names, const char *path, char *progress,
                    size_t progress_cap, attx_error *err)
{
    attx_tensor_file f;
    if (attx_safetensors_open(&f, path, err) != 0) return -1;
    int rc = 0;
    const char *step = attx_tensor_file_meta(&f, "attx.adamw.step");
    const char *prog = attx_tensor_file_meta(&f, "attx.progress");
    char *end = NULL;
    long long steps = step ? strtoll(step, &end, 10) : -1;
    if (!step || *end || steps < 0) rc = attx_fail(err, "%s: no optimizer step count (attx.adamw.step)", path);
    for (size_t i = 0; rc == 0 && i < opt->n; i++) {
        for (int which = 0; rc == 0 && which < (opt->avg ? 3 : 2); which++) {
            char key[160];
            snprintf(key, sizeof key, "%s.%s", state_prefix[which], names[i]);
            const attx_stored_tensor *t = attx_tensor_file_find(&f, key);
            if (!t)
                rc = attx_fail(err, "%s: no tensor '%s' (a checkpoint of another model%s?)", path, key,
                               which == 2 ? ", or of a run without --ema" : "");
            else if (t->dtype != ATTX_F32 || t->numel != (uint64_t)opt->params[i]->numel)
                rc = attx_fail(err, "%s: tensor '%s' does not match the model's parameter", path, key);
            else
                memcpy(state_of(opt, which, i), t->data, t->numel * sizeof(float));
        }
    }
    if (rc == 0) {
        opt->step = steps;
        if (progress && progress_cap) snprintf(progress, progress_cap, "%s", prog ? prog : "");
    }
    attx_tensor_file_close(&f);
    return rc;
}
