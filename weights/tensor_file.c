/* tensor_file.c — what safetensors and torch checkpoints share once read: lookup by name,
 * metadata, conversion of stored floats to F32, and closing. */
#include "attx_weights.h"
#include "tensor_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name; size_t index; } name_index;

static int cmp_name_index(const void *a, const void *b)
{
    return strcmp(((const name_index *)a)->name, ((const name_index *)b)->name);
}

int attx_tensor_file_index(attx_tensor_file *f, attx_error *err)
{
    free(f->by_name);
    f->by_name = NULL;
    if (f->n_tensors == 0) return 0;
    name_index *tmp = malloc(f->n_tensors * sizeof *tmp);
    f->by_name = malloc(f->n_tensors * sizeof *f->by_name);
    if (!tmp || !f->by_name) {
        free(tmp);
        return attx_fail(err, "%s: out of memory", f->path);
    }
    for (size_t i = 0; i < f->n_tensors; i++) tmp[i] = (name_index){f->tensors[i].name, i};
    qsort(tmp, f->n_tensors, sizeof *tmp, cmp_name_index);
    int rc = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        f->by_name[i] = tmp[i].index;
        if (i > 0 && rc == 0 && strcmp(tmp[i - 1].name, tmp[i].name) == 0)
            rc = attx_fail(err, "%s: tensor '%s' appears twice", f->path, tmp[i].name);
    }
    free(tmp);
    return rc;
}

int attx_tensor_file_parse_with(attx_tensor_file *f, attx_tensor_format format, attx_tensor_parser parse,
                                const void *bytes, size_t size, const char *name, attx_error *err)
{
    memset(f, 0, sizeof *f);
    f->format = format;
    f->path = strdup(name);
    if (!f->path) return attx_fail(err, "%s: out of memory", name);
    if (parse(f, bytes, size, err) != 0) {
        attx_fail_prefix(err, "%s", name);
        attx_tensor_file_close(f);
        return -1;
    }
    if (attx_tensor_file_index(f, err) != 0) {      /* its message names the file */
        attx_tensor_file_close(f);
        return -1;
    }
    return 0;
}

int attx_tensor_file_open_with(attx_tensor_file *f, attx_tensor_format format, attx_tensor_parser parse,
                               const char *path, attx_error *err)
{
    void *map;
    size_t size;
    memset(f, 0, sizeof *f);
    if (attx_map_file(path, &map, &size, err) != 0) return -1;
    if (attx_tensor_file_parse_with(f, format, parse, map, size, path, err) != 0) {
        attx_unmap_file(map, size);
        return -1;
    }
    f->map = map;
    f->map_size = size;
    return 0;
}

const attx_stored_tensor *attx_tensor_file_find(const attx_tensor_file *f, const char *name)
{
    size_t lo = 0, hi = f->by_name ? f->n_tensors : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const attx_stored_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid; else lo = mid + 1;
    }
    return NULL;
}

const char *attx_tensor_file_meta(const attx_tensor_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

char *attx_format_shape(char *buf, size_t cap, const uint64_t *shape, int ndim)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = -1; i <= ndim && len + 1 < cap; i++) {
        const char *sep = i < 0 ? "[" : i == ndim ? "]" : i == 0 ? "" : ", ";
        int n = i < 0 || i == ndim ? snprintf(buf + len, cap - len, "%s", sep)
                                   : snprintf(buf + len, cap - len, "%s%llu", sep,
                                              (unsigned long long)shape[i]);
        if (n < 0) break;
        len += (size_t)n;
    }
    return buf;
}

int attx_stored_tensor_to_f32(const attx_stored_tensor *t, float *out, attx_error *err)
{
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case ATTX_F32:
        memcpy(out, p, (size_t)t->numel * 4);    /* little-endian host assumed (x86-64, arm64) */
        return 0;
    case ATTX_F16:
        attx_f16_to_f32_array(p, (size_t)t->numel, out);
        return 0;
    case ATTX_BF16:
        attx_bf16_to_f32_array(p, (size_t)t->numel, out);
        return 0;
    default:
        return attx_fail(err, "tensor '%s' has dtype %s; attx computes from F32, F16 or BF16",
                         t->name, attx_dtype_name(t->dtype));
    }
}

void attx_tensor_file_close(attx_tensor_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->by_name);
    attx_unmap_file(f->map, f->map_size);
    free(f->owned);
    free(f->path);
    memset(f, 0, sizeof *f);
}
