/* tcav_acts.c — block outputs, their gradients and the [CLS] attention row of chosen layers,
 * for sets of examples streamed through the model in batches. */
#include "attx_explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- sources ------------------------------------------------------------------------------ */

static int memory_load(void *user, int i, int32_t *ids, int32_t *length, int max_len, float *pixels,
                       attx_error *err)
{
    const attx_tcav_memory *mem = user;
    if (i < 0 || i >= mem->count) return attx_fail(err, "no example %d", i);
    if (mem->pixels) {
        memcpy(pixels, mem->pixels + (size_t)i * mem->pixels_per_image, mem->pixels_per_image * sizeof *pixels);
        return 0;
    }
    if (!mem->ids || !mem->lengths) return attx_fail(err, "the examples have neither ids nor pixels");
    if (mem->lengths[i] < 1 || mem->lengths[i] > max_len)
        return attx_fail(err, "%d tokens (the model takes 1 to %d)", mem->lengths[i], max_len);
    memcpy(ids, mem->ids[i], (size_t)mem->lengths[i] * sizeof *ids);
    *length = mem->lengths[i];
    return 0;
}

attx_tcav_source attx_tcav_source_memory(const attx_tcav_memory *mem)
{
    return (attx_tcav_source){mem->count, memory_load, (void *)mem};
}

/* ---- batches ------------------------------------------------------------------------------ */

typedef struct batcher {
    const attx_model *m;
    const attx_config *cfg;
    int text, max_len, batch_size;
    size_t image_numel;
    int32_t *ids, *lengths;     /* [batch_size * max_len], [batch_size] */
    float *pixels;              /* [batch_size * image_numel] */
    int32_t pad;
} batcher;

static int batcher_init(batcher *bt, const attx_model *m, int batch_size, attx_error *err)
{
    memset(bt, 0, sizeof *bt);
    bt->m = m;
    bt->cfg = attx_model_config(m);
    if (bt->cfg->arch != ATTX_ARCH_BERT && bt->cfg->arch != ATTX_ARCH_VIT)
        return attx_fail(err, "concept activations need a BERT or ViT model, not %s", attx_arch_name(bt->cfg->arch));
    bt->text = bt->cfg->arch == ATTX_ARCH_BERT;
    bt->batch_size = batch_size > 0 ? batch_size : 8;
    if (bt->text) {
        bt->max_len = bt->cfg->max_position_embeddings;
        bt->ids = malloc((size_t)bt->batch_size * (size_t)bt->max_len * sizeof *bt->ids);
        bt->lengths = malloc((size_t)bt->batch_size * sizeof *bt->lengths);
        attx_special_ids sp = attx_wordpiece_special_ids(attx_model_tokenizer(m));
        bt->pad = sp.pad >= 0 ? sp.pad : 0;
        if (!bt->ids || !bt->lengths) return attx_fail(err, "out of memory");
    } else {
        bt->image_numel = (size_t)bt->cfg->num_channels * (size_t)bt->cfg->image_height * (size_t)bt->cfg->image_width;
        bt->pixels = malloc((size_t)bt->batch_size * bt->image_numel * sizeof *bt->pixels);
        if (!bt->pixels) return attx_fail(err, "out of memory");
    }
    return 0;
}

static void batcher_free(batcher *bt)
{
    free(bt->ids);
    free(bt->lengths);
    free(bt->pixels);
}

/* Loads examples first .. first+B-1 into a batch (text right-padded to the longest). */
static int batcher_load(batcher *bt, const attx_tcav_source *src, int first, int B, attx_batch *batch,
                        attx_error *err)
{
    memset(batch, 0, sizeof *batch);
    batch->B = B;
    for (int b = 0; b < B; b++) {
        int32_t len = 0;
        int32_t *ids = bt->text ? bt->ids + (size_t)b * (size_t)bt->max_len : NULL;
        float *px = bt->text ? NULL : bt->pixels + (size_t)b * bt->image_numel;
        if (src->load(src->user, first + b, ids, &len, bt->max_len, px, err) != 0) {
            attx_fail_prefix(err, "example %d", first + b);
            return -1;
        }
        if (bt->text) {
            if (len < 1 || len > bt->max_len)
                return attx_fail(err, "example %d: %d tokens (the model takes 1 to %d)", first + b, len, bt->max_len);
            bt->lengths[b] = len;
        }
    }
    if (bt->text) {
        int T = 0;
        for (int b = 0; b < B; b++) T = bt->lengths[b] > T ? bt->lengths[b] : T;
        for (int b = 0; b < B; b++) {      /* repack rows of max_len into rows of T (forwards) */
            memmove(bt->ids + (size_t)b * (size_t)T, bt->ids + (size_t)b * (size_t)bt->max_len,
                    (size_t)bt->lengths[b] * sizeof *bt->ids);
            for (int t = bt->lengths[b]; t < T; t++) bt->ids[(size_t)b * (size_t)T + (size_t)t] = bt->pad;
        }
        batch->T = T;
        batch->ids = bt->ids;
        batch->lengths = bt->lengths;
    } else {
        batch->pixels = bt->pixels;
    }
    return 0;
}

/* Real tokens of example b of a batch whose sequences are T long. */
static int tokens_of(const batcher *bt, const attx_batch *batch, int b, int T)
{
    return bt->text ? batch->lengths[b] : T;
}

static int check_layers(const attx_config *cfg, const int *layers, int n_layers, attx_error *err)
{
    if (n_layers < 1 || !layers) return attx_fail(err, "no layers asked for");
    for (int j = 0; j < n_layers; j++)
        if (layers[j] < 0 || layers[j] >= cfg->num_layers)
            return attx_fail(err, "layer %d: the model has %d layers (from 0)", layers[j], cfg->num_layers);
    return 0;
}

/* ---- activations -------------------------------------------------------------------------- */

void attx_tcav_acts_free(attx_tcav_acts *a)
{
    if (!a) return;
    if (a->h)
        for (int j = 0; j < a->n_layers; j++) free(a->h[j]);
    free(a->h);
    free(a->layers);
    free(a->start);
    memset(a, 0, sizeof *a);
}

int attx_tcav_activations(const attx_model *m, const attx_tcav_source *src, const int *layers,
                          int n_layers, int batch_size, attx_tcav_acts *out, attx_error *err)
{
    memset(out, 0, sizeof *out);
    batcher bt;
    attx_ctx *ctx = NULL;
    int rc = -1;
    if (batcher_init(&bt, m, batch_size, err) != 0) goto done;
    if (check_layers(bt.cfg, layers, n_layers, err) != 0) goto done;
    if (!src || src->count < 0 || !src->load) {
        attx_fail(err, "no examples");
        goto done;
    }
    int D = bt.cfg->hidden_size;
    out->count = src->count;
    out->dim = D;
    out->n_layers = n_layers;
    out->layers = malloc((size_t)n_layers * sizeof *out->layers);
    out->start = calloc((size_t)src->count + 1, sizeof *out->start);
    out->h = calloc((size_t)n_layers, sizeof *out->h);
    ctx = attx_ctx_new();
    if (!out->layers || !out->start || !out->h || !ctx) {
        attx_fail(err, "out of memory");
        goto done;
    }
    memcpy(out->layers, layers, (size_t)n_layers * sizeof *layers);
    attx_ctx_set_tape(ctx, 1);                  /* keeps every block output */
    size_t cap = 0;                             /* rows allocated in each h[j] */
    for (int first = 0; first < src->count; first += bt.batch_size) {
        int B = src->count - first < bt.batch_size ? src->count - first : bt.batch_size;
        attx_batch batch;
        if (batcher_load(&bt, src, first, B, &batch, err) != 0) goto done;
        attx_ctx_reset(ctx);
        attx_outputs o;
        if (attx_forward(m, ctx, &batch, &o, err) != 0) goto done;
        int T = (int)o.hidden[0]->shape[1];
        size_t need = (size_t)out->start[first];
        for (int b = 0; b < B; b++) need += (size_t)tokens_of(&bt, &batch, b, T);
        if (need > cap) {
            size_t ncap = cap ? cap : 1024;
            while (ncap < need) ncap *= 2;
            for (int j = 0; j < n_layers; j++) {
                float *h = realloc(out->h[j], ncap * (size_t)D * sizeof *h);
                if (!h) {
                    attx_fail(err, "out of memory (activations of %zu tokens)", ncap);
                    goto done;
                }
                out->h[j] = h;
            }
            cap = ncap;
        }
        for (int b = 0; b < B; b++) {
            int Tb = tokens_of(&bt, &batch, b, T);
            int64_t row = out->start[first + b];
            for (int j = 0; j < n_layers; j++)
                memcpy(out->h[j] + (size_t)row * (size_t)D, o.hidden[layers[j] + 1]->data + (size_t)b * (size_t)T * (size_t)D,
                       (size_t)Tb * (size_t)D * sizeof(float));
            out->start[first + b + 1] = row + Tb;
        }
    }
    rc = 0;
done:
    if (rc != 0) attx_tcav_acts_free(out);
    attx_ctx_free(ctx);
    batcher_free(&bt);
    return rc;
}

/* ---- gradients ---------------------------------------------------------------------------- */

const char *attx_tcav_objective_name(attx_tcav_objective o)
{
    switch (o) {
    case ATTX_TCAV_LOGIT: return "logit";
    case ATTX_TCAV_CENTRED: return "centred";
    case ATTX_TCAV_LOGSOFTMAX: return "logsoftmax";
    case ATTX_TCAV_MARGIN: return "margin";
    }
    return "?";
}

/* The backward seed of one example's objective (attx_tcav_objective) from its logits z[C]. */
static void objective_seed(attx_tcav_objective objective, const float *z, int C, int klass, float *seed)
{
    for (int j = 0; j < C; j++) seed[j] = j == klass ? 1.0f : 0.0f;
    if (objective == ATTX_TCAV_CENTRED) {
        for (int j = 0; j < C; j++) seed[j] -= 1.0f / (float)C;
    } else if (objective == ATTX_TCAV_LOGSOFTMAX) {
        /* d log p_k / d z_j = [j = k] - p_j */
        double max = z[0], sum = 0;
        for (int j = 1; j < C; j++) max = z[j] > max ? z[j] : max;
        for (int j = 0; j < C; j++) sum += exp((double)z[j] - max);
        for (int j = 0; j < C; j++) seed[j] -= (float)(exp((double)z[j] - max) / sum);
    } else if (objective == ATTX_TCAV_MARGIN && C > 1) {
        int r = klass == 0 ? 1 : 0;   /* the runner-up: the largest other logit (the first on ties) */
        for (int j = 0; j < C; j++)
            if (j != klass && z[j] > z[r]) r = j;
        seed[r] -= 1.0f;
    }
}

int attx_tcav_gradients(const attx_model *m, const attx_tcav_source *src, int klass, attx_tcav_objective objective,
                        const int *layers, int n_layers, int batch_size, attx_tcav_view_fn fn, void *user,
                        attx_error *err)
{
    batcher bt;
    attx_ctx *ctx = NULL;
    float *seed = NULL, *a = NULL;
    int rc = -1;
    if (batcher_init(&bt, m, batch_size, err) != 0) goto done;
    if (check_layers(bt.cfg, layers, n_layers, err) != 0) goto done;
    if (!attx_model_has_classifier(m)) {
        attx_fail(err, "the model has no classifier: there is no logit to differentiate");
        goto done;
    }
    int C = bt.cfg->num_labels, H = bt.cfg->num_heads, D = bt.cfg->hidden_size;
    if (klass < 0 || klass >= C) {
        attx_fail(err, "class %d: the model has %d classes (from 0)", klass, C);
        goto done;
    }
    if (!src || src->count < 0 || !src->load || !fn) {
        attx_fail(err, "no examples");
        goto done;
    }
    ctx = attx_ctx_new();
    seed = malloc((size_t)bt.batch_size * (size_t)C * sizeof *seed);
    int max_T = bt.text ? bt.max_len : 1 + (bt.cfg->image_height / bt.cfg->patch_size) * (bt.cfg->image_width / bt.cfg->patch_size);
    a = malloc((size_t)max_T * sizeof *a);
    if (!ctx || !seed || !a) {
        attx_fail(err, "out of memory");
        goto done;
    }
    attx_ctx_set_tape(ctx, 1);
    for (int first = 0; first < src->count; first += bt.batch_size) {
        int B = src->count - first < bt.batch_size ? src->count - first : bt.batch_size;
        attx_batch batch;
        if (batcher_load(&bt, src, first, B, &batch, err) != 0) goto done;
        attx_ctx_reset(ctx);
        attx_outputs o;
        if (attx_forward(m, ctx, &batch, &o, err) != 0) goto done;
        for (int b = 0; b < B; b++)
            objective_seed(objective, o.logits->data + (size_t)b * (size_t)C, C, klass, seed + (size_t)b * (size_t)C);
        if (attx_backward(ctx, o.logits, seed) != 0) {
            attx_fail(err, "out of memory (backward pass)");
            goto done;
        }
        int T = (int)o.hidden[0]->shape[1];
        if (T > max_T) {
            attx_fail(err, "internal: %d tokens, more than the %d expected", T, max_T);
            goto done;
        }
        for (int b = 0; b < B; b++) {
            int Tb = tokens_of(&bt, &batch, b, T);
            for (int j = 0; j < n_layers; j++) {
                const attx_tensor *h = o.hidden[layers[j] + 1], *A = o.attn[layers[j]];   /* [B,T,D], [B,H,T,T] */
                if (!h->grad) {
                    attx_fail(err, "layer %d: the backward pass did not reach the block output", layers[j]);
                    goto done;
                }
                /* a_t = (1/H) sum_h A[b, h, 0, t] */
                for (int t = 0; t < Tb; t++) {
                    double s = 0;
                    for (int hh = 0; hh < H; hh++) s += A->data[(((size_t)b * H + (size_t)hh) * (size_t)T) * (size_t)T + (size_t)t];
                    a[t] = (float)(s / H);
                }
                attx_tcav_view v = {first + b, j, layers[j], Tb, D,
                                    h->data + (size_t)b * (size_t)T * (size_t)D,
                                    h->grad + (size_t)b * (size_t)T * (size_t)D, a};
                if (fn(user, &v, err) != 0) goto done;
            }
        }
    }
    rc = 0;
done:
    attx_ctx_free(ctx);
    batcher_free(&bt);
    free(seed);
    free(a);
    return rc;
}
