/* forward.c — attx_forward: the architecture's forward pass, then the guard against outputs
 * that are not numbers. A non-finite logit (or, for a bare encoder, hidden value) is an error,
 * never a result: a model whose weights hold a NaN would otherwise print "p = nan" as a
 * prediction. Checking the output costs next to nothing; only when it fails is the cause
 * looked for, in this order: a weight holding a non-finite value (the first in the model's
 * tensor order), a non-finite input, then the failing example run again alone with the tape
 * on, to name the first op whose output is not finite. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The architecture's forward pass, unchecked. */
static int arch_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch, attx_outputs *out,
                        attx_error *err)
{
    switch (m->config->arch) {
    case ATTX_ARCH_BERT: return attx_bert_forward(m, ctx, batch, out, err);
    case ATTX_ARCH_VIT: return attx_vit_forward(m, ctx, batch, out, err);
    case ATTX_ARCH_ATTN1: return attx_attn1_forward(m, ctx, batch, out, err);
    default: return attx_fail(err, "%s: %s models are not supported by this build yet", m->files.path,
                              attx_arch_name(m->config->arch));
    }
}

/* Index of the first value of x[0..n) that is NaN or infinite, or -1. */
static int64_t first_nonfinite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

static const char *value_name(float v)
{
    return isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf";
}

/* "[i, j, ...]": the multi-index of flat index k in t. */
static void format_index(char *buf, size_t cap, const int64_t *shape, int ndim, int64_t k)
{
    int64_t idx[ATTX_MAX_NDIM];
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = shape[d] > 0 ? k % shape[d] : 0;
        k = shape[d] > 0 ? k / shape[d] : 0;
    }
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", d ? ", " : "", (long long)idx[d]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

/* The file the model's weights came from (messages), or what the model was called. */
static const char *model_source(const attx_model *m)
{
    return m->files.weights.path ? m->files.weights.path : m->files.path;
}

/* Hidden states the architecture's forward leaves with the tape on: L + 1, attn1's 2. */
static int n_hidden(const attx_model *m)
{
    return m->config->arch == ATTX_ARCH_ATTN1 ? 2 : m->config->num_layers + 1;
}

/* Where a parameter sits in the model: its index, or -1 (not a parameter). */
static int64_t param_index(const attx_model *m, const attx_tensor *t)
{
    if (!t || !(t->flags & ATTX_PARAM)) return -1;
    for (size_t i = 0; i < m->files.n_specs; i++)
        if (m->params[i] == t) return (int64_t)i;
    return -1;
}

/* name without its last component (".weight", ".bias"): the module, e.g. "...attention.self.query" */
static void module_of(char *buf, size_t cap, const char *name)
{
    const char *dot = strrchr(name, '.');
    int n = dot ? (int)(dot - name) : (int)strlen(name);
    snprintf(buf, cap, "%.*s", n, name);
}

/* The first weight tensor holding a non-finite value, in the model's tensor order: "weight
 * tensor 'NAME' holds NaN at [i, j]" into desc, and 1; else 0. */
static int find_nonfinite_weight(const attx_model *m, char *desc, size_t cap)
{
    for (size_t i = 0; i < m->files.n_specs; i++) {
        const attx_tensor *t = m->params[i];
        int64_t k = t ? first_nonfinite(t->data, t->numel) : -1;
        if (k < 0) continue;
        /* the stored name, as the file spells it (a bare BERT's lacks "bert."), and the stored shape */
        const attx_stored_tensor *st = m->files.by_spec ? m->files.by_spec[i] : NULL;
        int64_t shape[ATTX_MAX_NDIM];
        int ndim = t->ndim;
        memcpy(shape, t->shape, sizeof shape);
        if (st && st->ndim > 0 && st->ndim <= ATTX_MAX_NDIM && (int64_t)st->numel == t->numel) {
            ndim = st->ndim;
            for (int d = 0; d < ndim; d++) shape[d] = (int64_t)st->shape[d];
        }
        char at[96];
        format_index(at, sizeof at, shape, ndim, k);
        snprintf(desc, cap, "weight tensor '%s' holds %s at %s", st ? st->name : m->files.specs[i].name,
                 value_name(t->data[k]), at);
        return 1;
    }
    return 0;
}

/* A weight tensor holding a non-finite value: fills err and returns 1, else 0. */
static int blame_weights(const attx_model *m, const char *what, attx_error *err)
{
    char desc[512];
    if (!find_nonfinite_weight(m, desc, sizeof desc)) return 0;
    attx_fail(err, "%s: the %s are not finite: %s", model_source(m), what, desc);
    return 1;
}

int attx_model_check_finite(const attx_model *m, attx_error *err)
{
    char desc[512];
    if (!find_nonfinite_weight(m, desc, sizeof desc)) return 0;
    return attx_fail(err, "%s: %s", model_source(m), desc);
}

/* One example (b) of a batch, as a batch of one. */
static attx_batch one_example(const attx_model *m, const attx_batch *batch, int b)
{
    const attx_config *c = m->config;
    attx_batch one = {.B = 1, .T = batch->T};
    int64_t T = batch->T, D = c->hidden_size;
    if (batch->ids) one.ids = batch->ids + (int64_t)b * T;
    if (batch->lengths) one.lengths = batch->lengths + b;
    if (batch->pixels)
        one.pixels = batch->pixels + (int64_t)b * c->num_channels * c->image_height * c->image_width;
    if (batch->inputs_embeds) one.inputs_embeds = batch->inputs_embeds + (int64_t)b * T * D;
    return one;
}

/* The caller's inputs of example `one`: fills err and returns 1 when they are not finite. */
static int blame_inputs(const attx_model *m, const attx_batch *one, int b, const char *what, attx_error *err)
{
    const attx_config *c = m->config;
    int64_t n_pixels = (int64_t)c->num_channels * c->image_height * c->image_width;
    int64_t n_embeds = (int64_t)one->T * c->hidden_size;
    int64_t k;
    if (one->pixels && c->arch == ATTX_ARCH_VIT && (k = first_nonfinite(one->pixels, n_pixels)) >= 0) {
        attx_fail(err, "%s: the %s of example %d are not finite: its input pixels hold %s", model_source(m), what,
                  b, value_name(one->pixels[k]));
        return 1;
    }
    if (one->inputs_embeds && c->arch != ATTX_ARCH_VIT && (k = first_nonfinite(one->inputs_embeds, n_embeds)) >= 0) {
        attx_fail(err, "%s: the %s of example %d are not finite: the inputs_embeds given hold %s", model_source(m),
                  what, b, value_name(one->inputs_embeds[k]));
        return 1;
    }
    return 0;
}

/* The encoder layer modules, for messages: "bert.encoder.layer.3" and its attention. */
static void layer_names(const attx_model *m, int layer, char *mod, size_t mod_cap, char *attn, size_t attn_cap)
{
    switch (m->config->arch) {
    case ATTX_ARCH_BERT:
        snprintf(mod, mod_cap, "bert.encoder.layer.%d", layer);
        snprintf(attn, attn_cap, "bert.encoder.layer.%d.attention.self", layer);
        break;
    case ATTX_ARCH_VIT:
        snprintf(mod, mod_cap, "vit.encoder.layer.%d", layer);
        snprintf(attn, attn_cap, "vit.encoder.layer.%d.attention.attention", layer);
        break;
    default:
        snprintf(mod, mod_cap, "attn1");
        snprintf(attn, attn_cap, "attn1.query, attn1.key");
        break;
    }
}

/* Example b run again alone with the tape on: every op's output is kept, in the order the ops
 * ran; the first that holds a non-finite value is named. Fills err and returns 1 when found. */
static int blame_op(const attx_model *m, const attx_batch *one, int b, const char *what, attx_error *err)
{
    attx_ctx *ctx = attx_ctx_new();
    if (!ctx) return 0;
    attx_ctx_set_tape(ctx, 1);
    attx_outputs out;
    attx_error ignored;
    int found = 0;
    char where[320] = "", mod[96], attn[96], named[160] = "";
    if (arch_forward(m, ctx, one, &out, &ignored) != 0 || !out.hidden || !out.attn) goto done;
    const char *embeddings = m->config->arch == ATTX_ARCH_BERT ? "bert.embeddings"
                           : m->config->arch == ATTX_ARCH_VIT ? "vit.embeddings" : "attn1.word_embeddings";
    int64_t k;
    if (out.inputs_embeds && (k = first_nonfinite(out.inputs_embeds->data, out.inputs_embeds->numel)) >= 0) {
        snprintf(where, sizeof where, "the input embeddings (%s) of the %s", embeddings,
                 m->config->arch == ATTX_ARCH_VIT ? "patches" : "tokens");
        found = 1;
    }
    /* stage: -1 the embeddings, l inside layer l, L after the last layer (the head); hidden[l]
     * is what the embeddings (l = 0) or layer l - 1 gave */
    int L = n_hidden(m) - 1, stage = -1;
    for (int l = 0; l <= L; l++)
        if (out.hidden[l] == out.inputs_embeds) stage = l;   /* attn1: e is both */
    for (size_t i = 0; !found && i < ctx->n_nodes; i++) {
        const attx_node *node = &ctx->nodes[i];
        const attx_tensor *y = node->out;
        int64_t p = -1;
        for (int j = 0; j < 4 && p < 0; j++) p = param_index(m, node->in[j]);
        if (p >= 0) module_of(named, sizeof named, m->files.specs[p].name);
        if (y && (k = first_nonfinite(y->data, y->numel)) >= 0) {
            const attx_tensor *probs = stage >= 0 && stage < L ? out.attn[stage] : NULL;
            /* the one other tensor of the probabilities' shape before them: the scores */
            int scores = probs && y != probs && y->ndim == probs->ndim &&
                         memcmp(y->shape, probs->shape, sizeof y->shape) == 0;
            found = 1;
            layer_names(m, stage < 0 ? 0 : stage, mod, sizeof mod, attn, sizeof attn);
            if (y == probs || scores)
                snprintf(where, sizeof where, "the attention %s of layer %d (%s)", scores ? "scores" : "probabilities",
                         stage, attn);
            else if (p >= 0)
                snprintf(where, sizeof where, "the output of %s", named);
            else if (stage < 0)
                snprintf(where, sizeof where, "the embeddings (%s)%s%s", embeddings, *named ? ", after " : "", named);
            else if (stage >= L)
                snprintf(where, sizeof where, "the classifier head, after %s", *named ? named : "the encoder");
            else
                snprintf(where, sizeof where, "layer %d (%s)%s%s", stage, mod, *named ? ", after " : "", named);
        }
        for (int l = 0; l <= L; l++)
            if (y == out.hidden[l]) stage = l;
    }
    if (found)
        attx_fail(err, "%s: the %s of example %d are not finite: the first non-finite value is in %s", model_source(m),
                  what, b, where);
done:
    attx_ctx_free(ctx);
    return found;
}

/* The output check after every forward pass, and the search for the cause when it fails. */
static int check_finite(const attx_model *m, const attx_batch *batch, const attx_outputs *out, attx_error *err)
{
    const attx_tensor *y = out->logits;
    const char *what = "logits";
    if (!y) {   /* a bare encoder: what it leaves of its last layer (nothing of a ViT or attn1 with the tape off) */
        y = out->last_hidden ? out->last_hidden : out->hidden ? out->hidden[n_hidden(m) - 1] : NULL;
        what = "last hidden states";
    }
    int64_t k = y && y->numel ? first_nonfinite(y->data, y->numel) : -1;
    if (k < 0) return 0;
    int b = (int)(k / (y->numel / y->shape[0]));
    if (blame_weights(m, what, err)) return -1;
    attx_batch one = one_example(m, batch, b);
    if (blame_inputs(m, &one, b, what, err) || blame_op(m, &one, b, what, err)) return -1;
    return attx_fail(err, "%s: the %s of example %d are not finite (%s)", model_source(m), what, b,
                     value_name(y->data[k]));
}

int attx_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch, attx_outputs *out,
                 attx_error *err)
{
    if (arch_forward(m, ctx, batch, out, err) != 0) return -1;
    return check_finite(m, batch, out, err);
}
