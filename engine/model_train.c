/* model_train.c — a model's parameters as training sees them: writable copies with gradient
 * buffers, the list of them, and saving the model as one self-contained safetensors file. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

/* Does the parameter's data lie in the read-only mapping of the weights file? */
static int is_mapped(const attx_model *m, const attx_tensor *t)
{
    const char *base = m->files.weights.map, *p = (const char *)t->data;
    return base && p >= base && p < base + m->files.weights.map_size;
}

int attx_model_make_trainable(attx_model *m, attx_error *err)
{
    attx_model_drop_packed(m);   /* the weights will change: packed copies would go stale */
    for (size_t i = 0; i < m->files.n_specs; i++) {
        attx_tensor *t = m->params[i];
        if (!t || t->grad) continue;
        size_t bytes = (size_t)t->numel * sizeof(float);
        if (is_mapped(m, t)) {
            float *copy = attx_arena_alloc(&m->storage, bytes);
            if (!copy) return attx_fail(err, "%s: out of memory copying '%s'", m->files.path, m->files.specs[i].name);
            memcpy(copy, t->data, bytes);
            t->data = copy;
        }
        /* the gradient lives with the parameter, so backward passes accumulate into it */
        t->grad = attx_arena_alloc(&m->storage, bytes);
        if (!t->grad) return attx_fail(err, "%s: out of memory for gradients", m->files.path);
        memset(t->grad, 0, bytes);
        t->flags |= ATTX_REQUIRES_GRAD;
    }
    return 0;
}

size_t attx_model_params(const attx_model *m, attx_tensor **params, const char **names)
{
    size_t n = 0;
    for (size_t i = 0; i < m->files.n_specs; i++) {
        if (!m->params[i]) continue;
        if (params) params[n] = m->params[i];
        if (names) names[n] = m->files.specs[i].name;
        n++;
    }
    return n;
}

void attx_model_zero_grad(attx_model *m)
{
    for (size_t i = 0; i < m->files.n_specs; i++) {
        attx_tensor *t = m->params[i];
        if (t && t->grad) memset(t->grad, 0, (size_t)t->numel * sizeof(float));
    }
}

int attx_model_save(const attx_model *m, const char *path, attx_dtype dtype, attx_error *err)
{
    if (dtype != ATTX_F32 && dtype != ATTX_F16 && dtype != ATTX_BF16)
        return attx_fail(err, "%s: models are saved as F32, F16 or BF16", path);
    const attx_model_files *f = &m->files;
    attx_st_entry *entries = calloc(f->n_specs ? f->n_specs : 1, sizeof *entries);
    if (!entries) return attx_fail(err, "%s: out of memory", path);
    size_t n = 0;
    for (size_t i = 0; i < f->n_specs; i++) {
        if (!m->params[i]) continue;
        attx_st_entry *e = &entries[n++];
        e->name = f->specs[i].name;
        e->dtype = dtype;
        e->ndim = f->specs[i].ndim;     /* the spec's shape (ViT's patch weight is used as 2-D) */
        memcpy(e->shape, f->specs[i].shape, sizeof e->shape);
        e->f32 = m->params[i]->data;
    }
    const char *keys[ATTX_MODEL_META_MAX], *values[ATTX_MODEL_META_MAX];
    attx_buf sentence = {0};
    size_t n_meta = attx_model_files_metadata(f, keys, values, &sentence);
    int rc = attx_safetensors_write(path, entries, n, keys, values, n_meta, err);
    attx_buf_free(&sentence);
    free(entries);
    return rc;
}

int attx_model_set_preprocessor(attx_model *m, const char *json, attx_error *err)
{
    attx_preprocessor pp;
    const attx_config *c = m->config;
    if (attx_preprocessor_parse(&pp, json, strlen(json), "the preprocessor settings", c->image_height,
                                c->image_width, err) != 0)
        return -1;
    char *text = strdup(json), *source = strdup(m->files.path);
    if (!text || !source) {
        free(text);
        free(source);
        return attx_fail(err, "%s: out of memory", m->files.path);
    }
    free(m->files.preprocessor_json);
    free(m->files.preprocessor_source);
    m->files.preprocessor_json = text;
    m->files.preprocessor_source = source;
    return 0;
}
