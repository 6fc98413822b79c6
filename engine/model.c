/* model.c — loading a model's weights as tensors: F32 used in place from the mapped file,
 * F16/BF16 (and misaligned F32) converted once into the model's own storage. */
#include "model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static attx_tensor *load_param(attx_model *m, const attx_stored_tensor *st, attx_error *err)
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
    if (attx_stored_tensor_to_f32(st, t->data, err) != 0) return NULL;
    return t;
}

static void bind_bert(attx_model *m)
{
    attx_bert_weights *w = &m->bert;
    char name[128];
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
        struct { attx_tensor **slot; const char *suffix; } map[] = {
            {&L->query_w, "attention.self.query.weight"}, {&L->query_b, "attention.self.query.bias"},
            {&L->key_w, "attention.self.key.weight"}, {&L->key_b, "attention.self.key.bias"},
            {&L->value_w, "attention.self.value.weight"}, {&L->value_b, "attention.self.value.bias"},
            {&L->attn_out_w, "attention.output.dense.weight"}, {&L->attn_out_b, "attention.output.dense.bias"},
            {&L->attn_ln_g, "attention.output.LayerNorm.weight"}, {&L->attn_ln_b, "attention.output.LayerNorm.bias"},
            {&L->ffn_in_w, "intermediate.dense.weight"}, {&L->ffn_in_b, "intermediate.dense.bias"},
            {&L->ffn_out_w, "output.dense.weight"}, {&L->ffn_out_b, "output.dense.bias"},
            {&L->ffn_ln_g, "output.LayerNorm.weight"}, {&L->ffn_ln_b, "output.LayerNorm.bias"},
        };
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            snprintf(name, sizeof name, "bert.encoder.layer.%d.%s", l, map[i].suffix);
            *map[i].slot = attx_model_param(m, name);
        }
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
        struct { attx_tensor **slot; const char *suffix; } map[] = {
            {&L->ln_before_g, "layernorm_before.weight"}, {&L->ln_before_b, "layernorm_before.bias"},
            {&L->query_w, "attention.attention.query.weight"}, {&L->query_b, "attention.attention.query.bias"},
            {&L->key_w, "attention.attention.key.weight"}, {&L->key_b, "attention.attention.key.bias"},
            {&L->value_w, "attention.attention.value.weight"}, {&L->value_b, "attention.attention.value.bias"},
            {&L->attn_out_w, "attention.output.dense.weight"}, {&L->attn_out_b, "attention.output.dense.bias"},
            {&L->ln_after_g, "layernorm_after.weight"}, {&L->ln_after_b, "layernorm_after.bias"},
            {&L->ffn_in_w, "intermediate.dense.weight"}, {&L->ffn_in_b, "intermediate.dense.bias"},
            {&L->ffn_out_w, "output.dense.weight"}, {&L->ffn_out_b, "output.dense.bias"},
        };
        char name[128];
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            snprintf(name, sizeof name, "vit.encoder.layer.%d.%s", l, map[i].suffix);
            *map[i].slot = attx_model_param(m, name);
        }
    }
}

int attx_model_open(attx_model **out, const char *path, attx_error *err)
{
    attx_model *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m) return attx_fail(err, "%s: out of memory", path);
    if (attx_model_files_open(&m->files, path, err) != 0) return -1;
    m->config = &m->files.config;
    size_t n = m->files.n_specs;
    m->params = attx_arena_alloc(&m->storage, n * sizeof *m->params);
    if (!m->params) goto oom;
    for (size_t i = 0; i < n; i++) {
        m->params[i] = NULL;
        const attx_stored_tensor *st = m->files.by_spec[i];
        if (st && !(m->params[i] = load_param(m, st, err))) goto fail;
    }
    if (m->config->arch == ATTX_ARCH_BERT) {
        m->bert.layers = attx_arena_alloc(&m->storage, (size_t)m->config->num_layers * sizeof *m->bert.layers);
        if (!m->bert.layers) goto oom;
        bind_bert(m);
        if (m->files.vocab_text &&
            attx_wordpiece_load(&m->tokenizer, m->files.vocab_text, m->files.vocab_len, m->files.do_lower_case,
                                err) != 0) {
            attx_fail_prefix(err, "%s", m->files.vocab_source);
            goto fail;
        }
    }
    if (m->config->arch == ATTX_ARCH_VIT) {
        m->vit.layers = attx_arena_alloc(&m->storage, (size_t)m->config->num_layers * sizeof *m->vit.layers);
        if (!m->vit.layers) goto oom;
        bind_vit(m);
    }
    *out = m;
    return 0;
oom:
    attx_fail(err, "%s: out of memory loading the model", path);
fail:
    attx_model_close(m);
    return -1;
}

void attx_model_close(attx_model *m)
{
    if (!m) return;
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

int attx_forward(const attx_model *m, attx_ctx *ctx, const attx_batch *batch, attx_outputs *out,
                 attx_error *err)
{
    switch (m->config->arch) {
    case ATTX_ARCH_BERT: return attx_bert_forward(m, ctx, batch, out, err);
    case ATTX_ARCH_VIT: return attx_vit_forward(m, ctx, batch, out, err);
    default: return attx_fail(err, "%s: %s models are not supported by this build yet", m->files.path,
                              attx_arch_name(m->config->arch));
    }
}

attx_tensor *attx_model_param(const attx_model *m, const char *name)
{
    for (size_t i = 0; i < m->files.n_specs; i++)
        if (strcmp(m->files.specs[i].name, name) == 0) return m->params[i];
    return NULL;
}
