/* model.c — loading a model's weights as tensors: F32 used in place from the mapped file,
 * F16/BF16 (and misaligned F32) converted once into the model's own storage. */
#include "basic_english.h"
#include "model.h"
#include "kernels.h"
#include "rng.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static attx_tensor *load_param(attx_model *m, const attx_stored_tensor *st, const attx_stored_tensor *scale,
                               attx_error *err)
{
    attx_tensor *t = attx_arena_alloc(&m->storage, sizeof *t);
    if (!t) {
        attx_fail(err, "out of memory loading '%s'", st->name);
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->flags = ATTX_PARAM;
    t->numel = (int64_t)st->numel;
    /* shapes are at most 4-D (the ViT patch projection); 0-D scalars count as [1] */
    t->ndim = st->ndim ? st->ndim : 1;
    for (int i = 0; i < t->ndim; i++) t->shape[i] = st->ndim ? (int64_t)st->shape[i] : 1;
    if (st->dtype == ATTX_F32 && ((uintptr_t)st->data % sizeof(float)) == 0) {
        t->data = (float *)(uintptr_t)st->data;           /* read-only mapping, never written */
        return t;
    }
    t->data = attx_arena_alloc(&m->storage, (size_t)st->numel * sizeof(float));
    if (!t->data) {
        attx_fail(err, "out of memory converting '%s'", st->name);
        return NULL;
    }
    if (st->dtype == ATTX_I8 && scale) {   /* an int8 weight: W[n, k] = q[n, k] · scale[n] */
        const int8_t *q = (const int8_t *)st->data;
        int64_t rows = t->shape[0], cols = t->numel / rows;
        for (int64_t n = 0; n < rows; n++) {
            float s;
            memcpy(&s, scale->data + 4 * n, 4);
            for (int64_t k = 0; k < cols; k++) t->data[n * cols + k] = (float)q[n * cols + k] * s;
        }
        return t;
    }
    if (attx_stored_tensor_to_f32(st, t->data, err) != 0) return NULL;
    return t;
}

/* The int8 weights of a file written by `attx convert --dtype int8`, from its values and
 * scales as they are (quantising the dequantised weights again could move a scale by an ulp). */
static int load_int8_weights(attx_model *m, attx_error *err)
{
    for (size_t i = 0; m->files.scale_by_spec && i < m->files.n_specs; i++) {
        const attx_stored_tensor *st = m->files.by_spec[i], *scale = m->files.scale_by_spec[i];
        if (!st || st->dtype != ATTX_I8 || !scale || !m->params[i]) continue;
        attx_tensor *t = m->params[i];
        int N = (int)t->shape[0], K = (int)(t->numel / t->shape[0]);
        float *s = malloc((size_t)N * sizeof *s);
        if (s) memcpy(s, scale->data, (size_t)N * sizeof *s);
        t->q8 = s ? attx_q8_weight_from_values((const int8_t *)st->data, s, N, K) : NULL;
        free(s);
        if (!t->q8) return attx_fail(err, "%s: out of memory loading the int8 weight '%s'", m->files.path, st->name);
    }
    return 0;
}

/* A new parameter. attn1: as Lopardo et al.'s code (below). BERT and ViT: as Hugging Face's
 * _init_weights does: LayerNorm
 * weights 1, every bias 0, every other tensor (linear and convolution weights, embeddings,
 * the [CLS] token, positions) N(0, initializer_range²); BERT's [PAD] embedding row 0. (ViT
 * draws from a normal truncated at ±2, which at σ = 0.02 is a normal.) */
static attx_tensor *new_param(attx_model *m, const attx_tensor_spec *spec, attx_rng *rng, attx_error *err)
{
    attx_tensor *t = attx_arena_alloc(&m->storage, sizeof *t);
    if (!t) {
        attx_fail(err, "out of memory creating '%s'", spec->name);
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->flags = ATTX_PARAM;
    t->ndim = spec->ndim;
    t->numel = 1;
    for (int d = 0; d < spec->ndim; d++) t->numel *= (int64_t)(t->shape[d] = (int64_t)spec->shape[d]);
    t->data = attx_arena_alloc(&m->storage, (size_t)t->numel * sizeof(float));
    if (!t->data) {
        attx_fail(err, "out of memory creating '%s'", spec->name);
        return NULL;
    }
    const char *name = spec->name, *last = strrchr(name, '.');
    int is_norm = strstr(name, "LayerNorm.") || strstr(name, "layernorm");
    const attx_config *c = &m->files.config;
    if (c->arch == ATTX_ARCH_ATTN1) {
        /* as P2's code leaves them: nn.Embedding's default N(0, 1); W_q, W_k, W_v, W_l drawn
         * from Uniform(-0.1, 0.1) */
        int is_embedding = strcmp(name, "attn1.word_embeddings.weight") == 0;
        for (int64_t k = 0; k < t->numel; k++)
            t->data[k] = is_embedding ? (float)attx_rng_normal(rng) : (float)(0.2 * attx_rng_uniform(rng) - 0.1);
    } else if (last && strcmp(last, ".bias") == 0) {
        memset(t->data, 0, (size_t)t->numel * sizeof(float));
    } else if (is_norm) {
        for (int64_t k = 0; k < t->numel; k++) t->data[k] = 1.0f;
    } else {
        for (int64_t k = 0; k < t->numel; k++) t->data[k] = (float)(c->initializer_range * attx_rng_normal(rng));
        if (strcmp(name, "bert.embeddings.word_embeddings.weight") == 0)
            memset(t->data + (int64_t)c->pad_token_id * t->shape[1], 0, (size_t)t->shape[1] * sizeof(float));
    }
    return t;
}

/* One encoder layer's weights: each slot gets the parameter "<prefix><layer>.<suffix>". */
typedef struct weight_slot {
    attx_tensor **slot;
    const char *suffix;
} weight_slot;

static void bind_layer(attx_model *m, const char *prefix, int layer, const weight_slot *map, size_t n)
{
    char name[128];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%d.%s", prefix, layer, map[i].suffix);
        *map[i].slot = attx_model_param(m, name);
    }
}

static void bind_bert(attx_model *m)
{
    attx_bert_weights *w = &m->bert;
    w->word_emb = attx_model_param(m, "bert.embeddings.word_embeddings.weight");
    w->pos_emb = attx_model_param(m, "bert.embeddings.position_embeddings.weight");
    w->type_emb = attx_model_param(m, "bert.embeddings.token_type_embeddings.weight");
    w->emb_ln_g = attx_model_param(m, "bert.embeddings.LayerNorm.weight");
    w->emb_ln_b = attx_model_param(m, "bert.embeddings.LayerNorm.bias");
    w->pooler_w = attx_model_param(m, "bert.pooler.dense.weight");
    w->pooler_b = attx_model_param(m, "bert.pooler.dense.bias");
    w->classifier_w = attx_model_param(m, "classifier.weight");
    w->classifier_b = attx_model_param(m, "classifier.bias");
    for (int l = 0; l < m->config->num_layers; l++) {
        attx_bert_layer *L = &w->layers[l];
        const weight_slot map[] = {
            {&L->query_w, "attention.self.query.weight"}, {&L->query_b, "attention.self.query.bias"},
            {&L->key_w, "attention.self.key.weight"}, {&L->key_b, "attention.self.key.bias"},
            {&L->value_w, "attention.self.value.weight"}, {&L->value_b, "attention.self.value.bias"},
            {&L->attn_out_w, "attention.output.dense.weight"}, {&L->attn_out_b, "attention.output.dense.bias"},
            {&L->attn_ln_g, "attention.output.LayerNorm.weight"}, {&L->attn_ln_b, "attention.output.LayerNorm.bias"},
            {&L->ffn_in_w, "intermediate.dense.weight"}, {&L->ffn_in_b, "intermediate.dense.bias"},
            {&L->ffn_out_w, "output.dense.weight"}, {&L->ffn_out_b, "output.dense.bias"},
            {&L->ffn_ln_g, "output.LayerNorm.weight"}, {&L->ffn_ln_b, "output.LayerNorm.bias"},
        };
        bind_layer(m, "bert.encoder.layer.", l, map, sizeof map / sizeof map[0]);
    }
}

static void bind_vit(attx_model *m)
{
    attx_vit_weights *w = &m->vit;
    const attx_config *c = m->config;
    w->cls_token = attx_model_param(m, "vit.embeddings.cls_token");
    w->pos_emb = attx_model_param(m, "vit.embeddings.position_embeddings");
    w->patch_w = attx_model_param(m, "vit.embeddings.patch_embeddings.projection.weight");
    w->patch_b = attx_model_param(m, "vit.embeddings.patch_embeddings.projection.bias");
    w->final_ln_g = attx_model_param(m, "vit.layernorm.weight");
    w->final_ln_b = attx_model_param(m, "vit.layernorm.bias");
    w->classifier_w = attx_model_param(m, "classifier.weight");
    w->classifier_b = attx_model_param(m, "classifier.bias");
    /* the convolution weight [D, C, P, P] is used as the matrix [D, C·P·P] (same memory, row-
     * major either way): only this model's header changes, never the stored tensor, whether
     * the data is the mapped F32 file or an F16/BF16 conversion */
    w->patch_w->ndim = 2;
    w->patch_w->shape[1] = (int64_t)c->num_channels * c->patch_size * c->patch_size;
    for (int l = 0; l < c->num_layers; l++) {
        attx_vit_layer *L = &w->layers[l];
        const weight_slot map[] = {
            {&L->ln_before_g, "layernorm_before.weight"}, {&L->ln_before_b, "layernorm_before.bias"},
            {&L->query_w, "attention.attention.query.weight"}, {&L->query_b, "attention.attention.query.bias"},
            {&L->key_w, "attention.attention.key.weight"}, {&L->key_b, "attention.attention.key.bias"},
            {&L->value_w, "attention.attention.value.weight"}, {&L->value_b, "attention.attention.value.bias"},
            {&L->attn_out_w, "attention.output.dense.weight"}, {&L->attn_out_b, "attention.output.dense.bias"},
            {&L->ln_after_g, "layernorm_after.weight"}, {&L->ln_after_b, "layernorm_after.bias"},
            {&L->ffn_in_w, "intermediate.dense.weight"}, {&L->ffn_in_b, "intermediate.dense.bias"},
            {&L->ffn_out_w, "output.dense.weight"}, {&L->ffn_out_b, "output.dense.bias"},
        };
        bind_layer(m, "vit.encoder.layer.", l, map, sizeof map / sizeof map[0]);
    }
}

/* The vocabulary (n tokens, one per line) against the word embeddings' rows (vocab_size): a
 * token past the last row could not be looked up. A vocabulary saved in the weights file's
 * __metadata__ (attx.vocab) without attx.checksum (files attx wrote before it had one) must
 * have exactly one token per row, as every such file attx train wrote has: a flipped bit that
 * turns "\n" into "\f" joins two lines, shifts the id of every later token and silently
 * changes what the model reads. With the checksum (checked on opening) any length is fine, as
 * it is for a Hugging Face vocab.txt (the embedding's last rows are then unused). */
static int check_vocab_rows(const attx_model *m, size_t n, attx_error *err)
{
    const attx_config *c = m->config;
    int saved_with_weights = attx_tensor_file_meta(&m->files.weights, "attx.vocab") != NULL &&
                             !attx_tensor_file_meta(&m->files.weights, "attx.checksum");
    if (n > (size_t)c->vocab_size)
        return attx_fail(err, "%s: %zu tokens, more than the config's vocab_size %d (the rows of the word "
                         "embeddings)", m->files.vocab_source, n, c->vocab_size);
    if (saved_with_weights && n != (size_t)c->vocab_size)
        return attx_fail(err, "%s: %zu tokens but the word embeddings have %d rows; a vocabulary saved with its "
                         "model has one token per row (lines joined or split?)", m->files.vocab_source, n,
                         c->vocab_size);
    return 0;
}

static int bind_attn1(attx_model *m, attx_error *err)
{
    attx_attn1_weights *w = &m->attn1;
    const attx_config *c = m->config;
    w->word_emb = attx_model_param(m, "attn1.word_embeddings.weight");
    w->query_w = attx_model_param(m, "attn1.query.weight");
    w->key_w = attx_model_param(m, "attn1.key.weight");
    w->value_w = attx_model_param(m, "attn1.value.weight");
    w->classifier_w = attx_model_param(m, "attn1.classifier.weight");
    int64_t T = c->max_position_embeddings, D = c->hidden_size;
    w->positions = attx_arena_alloc(&m->storage, sizeof *w->positions);
    float *pe = attx_arena_alloc(&m->storage, (size_t)(T * D) * sizeof(float));
    if (!w->positions || !pe) return attx_fail(err, "%s: out of memory loading the model", m->files.path);
    memset(w->positions, 0, sizeof *w->positions);
    w->positions->data = pe;
    w->positions->ndim = 2;
    w->positions->shape[0] = T;
    w->positions->shape[1] = D;
    w->positions->numel = T * D;
    attx_attn1_positions(pe, T, D);
    if (!m->files.vocab_text) return 0;
    if (attx_attn1_vocab_load(&m->tokenizer, m->files.vocab_text, m->files.vocab_len, err) != 0)
        return attx_fail_prefix(err, "%s", m->files.vocab_source);
    attx_special_ids sp = attx_wordpiece_special_ids(m->tokenizer);
    if (check_vocab_rows(m, attx_wordpiece_vocab_size(m->tokenizer), err) != 0) return -1;
    if (sp.unk != c->pad_token_id)
        return attx_fail(err, "%s: UNK has id %d but the config's pad_token_id is %d (attn1 pads with UNK)",
                         m->files.vocab_source, sp.unk, c->pad_token_id);
    return 0;
}

/* Builds the model's tensors from its files (m->files is open): stored tensors become
 * parameters; with `seed` (init = 1) every tensor the config names is created and initialised
 * instead. Then binds the architecture's weight slots and the tokenizer. */
static int build(attx_model *m, int init, uint64_t seed, attx_error *err)
{
    const char *path = m->files.path;
    m->config = &m->files.config;
    size_t n = m->files.n_specs;
    m->params = attx_arena_alloc(&m->storage, n * sizeof *m->params);
    if (!m->params) goto oom;
    attx_rng rng;
    attx_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        m->params[i] = NULL;
        const attx_stored_tensor *st = m->files.by_spec[i];
        if (init) {
            if (!(m->params[i] = new_param(m, &m->files.specs[i], &rng, err))) return -1;
        } else if (st && !(m->params[i] = load_param(m, st, m->files.scale_by_spec ? m->files.scale_by_spec[i] : NULL,
                                                     err))) {
            return -1;
        }
    }
    if (m->config->arch == ATTX_ARCH_BERT) {
        m->bert.layers = attx_arena_alloc(&m->storage, (size_t)m->config->num_layers * sizeof *m->bert.layers);
        if (!m->bert.layers) goto oom;
        bind_bert(m);
        if (m->files.vocab_text &&
            attx_wordpiece_load(&m->tokenizer, m->files.vocab_text, m->files.vocab_len, m->files.do_lower_case,
                                err) != 0)
            return attx_fail_prefix(err, "%s", m->files.vocab_source);
        if (m->tokenizer && check_vocab_rows(m, attx_wordpiece_vocab_size(m->tokenizer), err) != 0) return -1;
    }
    if (m->config->arch == ATTX_ARCH_ATTN1 && bind_attn1(m, err) != 0) return -1;
    if (m->config->arch == ATTX_ARCH_VIT) {
        m->vit.layers = attx_arena_alloc(&m->storage, (size_t)m->config->num_layers * sizeof *m->vit.layers);
        if (!m->vit.layers) goto oom;
        bind_vit(m);
        /* every input is resized to the model's size: a size over the decoder's pixel limit
         * would let a small file ask for gigabytes (16384 x 16384 x 3 floats: 3.2 GB, with a
         * 4 MB position table). ATTX_MAX_IMAGE_PIXELS may raise the limit, not lower it here
         * (a lower one is for the images decoded). */
        uint64_t limit, pixels = (uint64_t)m->config->image_height * (uint64_t)m->config->image_width;
        if (attx_image_max_pixels(&limit, err) != 0) return -1;
        if (limit < ATTX_IMAGE_MAX_PIXELS) limit = ATTX_IMAGE_MAX_PIXELS;
        if (pixels > limit)
            return attx_fail(err, "%s: the model's image size %dx%d is %llu pixels, over the limit of %llu "
                                  "(ATTX_MAX_IMAGE_PIXELS)", path, m->config->image_width, m->config->image_height,
                             (unsigned long long)pixels, (unsigned long long)limit);
    }
    return 0;
oom:
    return attx_fail(err, "%s: out of memory loading the model", path);
}

/* Calls fn(W, user) on the weight W[out, in] of each of the model's linear layers (y = x·W^T). */
/* Calls fn(W, user) on the weight W[out, in] of each of the model's linear layers (y = x·W^T); with
 * layers_only, on those of the encoder layers alone (not the pooler, classifier or patches). */
static void each_linear_weight(const attx_model *m, int layers_only, void (*fn)(attx_tensor *w, void *user),
                               void *user)
{
#define W(t) do { if (t) fn(t, user); } while (0)
    const attx_config *c = m->config;
    if (c->arch == ATTX_ARCH_BERT) {
        for (int l = 0; l < c->num_layers; l++) {
            const attx_bert_layer *L = &m->bert.layers[l];
            W(L->query_w); W(L->key_w); W(L->value_w); W(L->attn_out_w); W(L->ffn_in_w); W(L->ffn_out_w);
        }
        if (layers_only) return;
        W(m->bert.pooler_w);
        W(m->bert.classifier_w);
    } else if (c->arch == ATTX_ARCH_VIT) {
        for (int l = 0; l < c->num_layers; l++) {
            const attx_vit_layer *L = &m->vit.layers[l];
            W(L->query_w); W(L->key_w); W(L->value_w); W(L->attn_out_w); W(L->ffn_in_w); W(L->ffn_out_w);
        }
        if (layers_only) return;
        W(m->vit.patch_w);
        W(m->vit.classifier_w);
    } else if (c->arch == ATTX_ARCH_ATTN1) {
        if (layers_only) return;   /* one attention layer and a classifier: P2's model stays fp32 */
        W(m->attn1.query_w); W(m->attn1.key_w); W(m->attn1.value_w); W(m->attn1.classifier_w);
    }
#undef W
}

/* A linear weight packed for the GEMM of y = x·W^T (B = W^T: K = in, N = out), once, for
 * inference: the same bits as packing it on every product. Out of memory is not an error: an
 * unpacked weight is packed on each use. */
static void pack_weight(attx_tensor *w, void *user)
{
    (void)user;
    if (!w->packed && !w->q8 && !w->bf16) w->packed = attx_gemm_pack_b(1, (int)w->shape[1], (int)w->shape[0], w->data, (int)w->shape[1]);
}

static void unpack_weight(attx_tensor *w, void *user)
{
    (void)user;
    attx_gemm_packed_free(w->packed);
    w->packed = NULL;
    attx_q8_weight_free(w->q8);
    w->q8 = NULL;
    attx_bf16_weight_free(w->bf16);
    w->bf16 = NULL;
}

void attx_model_drop_packed(attx_model *m)
{
    each_linear_weight(m, 0, unpack_weight, NULL);
}

/* int8: the weight quantised (gemm_q8.c); its fp32 packing is no longer used by the forward */
static void quantize_weight(attx_tensor *w, void *failed)
{
    if (w->q8) return;
    if (!(w->q8 = attx_q8_weight_new(w->data, (int)w->shape[0], (int)w->shape[1]))) {
        *(int *)failed = 1;
        return;
    }
    attx_gemm_packed_free(w->packed);
    w->packed = NULL;
}

static void note_int8(attx_tensor *w, void *seen)
{
    if (w->q8) *(int *)seen = 1;
}

/* 1 when a parameter has a gradient buffer (attx_model_make_trainable) */
static int being_trained(const attx_model *m)
{
    for (size_t i = 0; i < m->files.n_specs; i++)
        if (m->params[i] && m->params[i]->grad) return 1;
    return 0;
}

/* What int8 and bf16 share: the refusals, then every encoder linear weight through convert;
 * when one fails for memory, every weight goes back to its fp32 packing. done/doing name the
 * conversion ("quantised", "quantising"); other is the refusal when the model has the other
 * precision already. */
static int convert_linear_layers(attx_model *m, const char *precision, const char *done, const char *doing,
                                 void (*convert)(attx_tensor *, void *), int has_other, const char *other,
                                 attx_error *err)
{
    if (m->config->arch == ATTX_ARCH_ATTN1)
        return attx_fail(err, "%s: an attn1 model (P2's one-layer model) is not %s", precision, done);
    if (being_trained(m)) return attx_fail(err, "%s: the model is being trained (its weights change)", precision);
    if (has_other) return attx_fail(err, "%s: %s", precision, other);
    int failed = 0;
    each_linear_weight(m, 1, convert, &failed);
    if (failed) {
        attx_model_drop_packed(m);
        each_linear_weight(m, 0, pack_weight, NULL);
        return attx_fail(err, "%s: out of memory %s the weights", precision, doing);
    }
    return 0;
}

int attx_model_quantize_int8(attx_model *m, attx_error *err)
{
    if (!m) return attx_fail(err, "int8: no model");
    return convert_linear_layers(m, "int8", "quantised", "quantising", quantize_weight, attx_model_is_bf16(m),
                                 "the model runs in bf16 already (a model is int8 or bf16, not both)", err);
}

int attx_tensor_int8_values(const attx_tensor *t, int8_t *q, float *scale)
{
    if (!t || !t->q8) return -1;
    attx_q8_weight_values(t->q8, q, scale);
    return 0;
}

int attx_model_is_int8(const attx_model *m)
{
    int seen = 0;
    if (m) each_linear_weight(m, 1, note_int8, &seen);
    return seen;
}

/* bf16: the weight rounded and packed (gemm_bf16.c); its fp32 packing is no longer used by the
 * forward */
static void convert_weight_bf16(attx_tensor *w, void *failed)
{
    if (w->bf16) return;
    if (!(w->bf16 = attx_bf16_weight_new(w->data, (int)w->shape[0], (int)w->shape[1]))) {
        *(int *)failed = 1;
        return;
    }
    attx_gemm_packed_free(w->packed);
    w->packed = NULL;
}

static void note_bf16(attx_tensor *w, void *seen)
{
    if (w->bf16) *(int *)seen = 1;
}

int attx_model_convert_bf16(attx_model *m, attx_error *err)
{
    if (!m) return attx_fail(err, "bf16: no model");
    return convert_linear_layers(m, "bf16", "converted", "converting", convert_weight_bf16, attx_model_is_int8(m),
                                 "the model is int8 (quantised, or an int8 file; a model is int8 or bf16, not both)",
                                 err);
}

int attx_model_is_bf16(const attx_model *m)
{
    int seen = 0;
    if (m) each_linear_weight(m, 1, note_bf16, &seen);
    return seen;
}

int attx_model_open(attx_model **out, const char *path, attx_error *err)
{
    attx_model *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m) return attx_fail(err, "%s: out of memory", path);
    if (attx_model_files_open(&m->files, path, err) != 0) {
        free(m);
        return -1;
    }
    if (build(m, 0, 0, err) != 0 || load_int8_weights(m, err) != 0) {
        attx_model_close(m);
        return -1;
    }
    each_linear_weight(m, 0, pack_weight, NULL);
    *out = m;
    return 0;
}

int attx_model_create(attx_model **out, const char *config_json, const char *vocab_text, size_t vocab_len,
                      uint64_t seed, attx_error *err)
{
    attx_model *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m) return attx_fail(err, "out of memory");
    if (attx_model_files_new(&m->files, "new model", config_json, vocab_text, vocab_len, err) != 0) {
        free(m);
        return -1;
    }
    if (build(m, 1, seed, err) != 0) {
        attx_model_close(m);
        return -1;
    }
    *out = m;
    return 0;
}

/* strdup of NULL is NULL; 0 on success */
static int copy_text(char **dst, const char *src)
{
    *dst = NULL;
    return src && !(*dst = strdup(src));
}

int attx_model_with_new_head(attx_model **out, const attx_model *base, const char *const *labels, int n_labels,
                             uint64_t seed, attx_error *err)
{
    const attx_model_files *bf = &base->files;
    *out = NULL;
    if (!bf->config_json) return attx_fail(err, "%s: the model has no config text", bf->path);
    attx_buf config = {0};
    if (attx_config_relabel(bf->config_json, bf->path, labels, n_labels, &config, err) != 0) {
        attx_buf_free(&config);
        return -1;
    }
    attx_model *m = calloc(1, sizeof *m);
    if (!m) {
        attx_buf_free(&config);
        return attx_fail(err, "%s: out of memory", bf->path);
    }
    int rc = attx_model_files_new(&m->files, bf->path, config.data, bf->vocab_text, bf->vocab_len, err);
    attx_buf_free(&config);
    if (rc != 0) {
        free(m);
        return -1;
    }
    /* the tokenizer's and preprocessor's settings go with the body */
    attx_model_files *f = &m->files;
    f->do_lower_case = bf->do_lower_case;
    f->has_sentence = bf->has_sentence;
    f->sentence = bf->sentence;
    if (copy_text(&f->tokenizer_json, bf->tokenizer_json) || copy_text(&f->tokenizer_source, bf->tokenizer_source) ||
        copy_text(&f->preprocessor_json, bf->preprocessor_json) ||
        copy_text(&f->preprocessor_source, bf->preprocessor_source)) {
        attx_model_close(m);
        return attx_fail(err, "%s: out of memory", bf->path);
    }
    if (build(m, 1, seed, err) != 0) {
        attx_model_close(m);
        return -1;
    }
    /* every tensor but the classifier is base's (a pooler base lacks stays new, as in HF) */
    for (size_t i = 0; i < f->n_specs; i++) {
        if (f->specs[i].role == ATTX_ROLE_HEAD) continue;
        const attx_tensor *from = attx_model_param(base, f->specs[i].name);
        attx_tensor *to = m->params[i];
        if (from && to && from->numel == to->numel)
            memcpy(to->data, from->data, (size_t)to->numel * sizeof(float));
    }
    *out = m;
    return 0;
}

void attx_model_close(attx_model *m)
{
    if (!m) return;
    if (m->config) attx_model_drop_packed(m);
    attx_wordpiece_free(m->tokenizer);
    attx_arena_free(&m->storage);
    attx_model_files_close(&m->files);
    free(m);
}

const attx_config *attx_model_config(const attx_model *m)
{
    return m->config;
}

int attx_model_has_classifier(const attx_model *m)
{
    return m->files.has_head;
}

const attx_wordpiece *attx_model_tokenizer(const attx_model *m)
{
    return m->tokenizer;
}

const char *attx_model_preprocessor_json(const attx_model *m, const char **source)
{
    if (source) *source = m->files.preprocessor_source;
    return m->files.preprocessor_json;
}

attx_tensor *attx_model_param(const attx_model *m, const char *name)
{
    for (size_t i = 0; i < m->files.n_specs; i++)
        if (strcmp(m->files.specs[i].name, name) == 0) return m->params[i];
    return NULL;
}
