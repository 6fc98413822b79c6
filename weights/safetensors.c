/* safetensors.c — reading (fully validated, zero-copy) and writing safetensors files.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON
 *   {"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}}
 * then the byte buffer; offsets are relative to the buffer (file offset 8 + N).
 * The checks follow the reference reader: header length within the file and 100 MB, UTF-8 JSON,
 * known dtypes, shape x dtype size == byte range (overflow-checked), tensors contiguous from 0
 * after sorting by offset (no gaps, overlaps or aliasing), no bytes after the last tensor.
 */
#include "attx_weights.h"
#include "tensor_file.h"

#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER 100000000ull   /* the reference reader's MAX_HEADER_SIZE */

static uint64_t read_u64_le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int parse_metadata(attx_tensor_file *f, const attx_json_value *meta, attx_error *err)
{
    if (attx_json_kind(meta) != ATTX_JSON_OBJECT)
        return attx_fail(err, "__metadata__ is not an object");
    size_t n = attx_json_len(meta);
    f->meta_keys = calloc(n ? n : 1, sizeof *f->meta_keys);
    f->meta_values = calloc(n ? n : 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values) return attx_fail(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t klen, vlen;
        const char *key = attx_json_key(meta, i, &klen);
        const char *val = attx_json_str(attx_json_member(meta, i), &vlen);
        if (!val) return attx_fail(err, "__metadata__ value of '%s' is not a string", key);
        /* kept as C strings: a NUL would cut them (and "attx.config\u0000x" would read as attx.config) */
        if (memchr(key, '\0', klen) || memchr(val, '\0', vlen))
            return attx_fail(err, "__metadata__ entry '%s' contains a NUL character", key);
        f->meta_keys[i] = dup_n(key, klen);
        f->meta_values[i] = dup_n(val, vlen);
        f->n_meta = i + 1;
        if (!f->meta_keys[i] || !f->meta_values[i]) return attx_fail(err, "out of memory");
    }
    return 0;
}

/* Parses one tensor entry {"dtype", "shape", "data_offsets"}; offsets are stored in
 * begin/end (relative to the byte buffer) for the contiguity check. */
static int parse_tensor_entry(attx_stored_tensor *t, const attx_json_value *v,
                              uint64_t *begin, uint64_t *end, attx_error *err)
{
    const char *name = t->name;
    if (attx_json_kind(v) != ATTX_JSON_OBJECT)
        return attx_fail(err, "tensor '%s': entry is not an object", name);

    size_t dlen;
    const char *dtype = attx_json_str(attx_json_get(v, "dtype"), &dlen);
    if (!dtype) return attx_fail(err, "tensor '%s': missing or non-string \"dtype\"", name);
    t->dtype = attx_dtype_from_name(dtype, dlen);
    if (t->dtype == ATTX_DTYPE_INVALID)
        return attx_fail(err, "tensor '%s': unknown dtype \"%.*s\"", name, (int)(dlen > 32 ? 32 : dlen),
                         dtype);

    const attx_json_value *shape = attx_json_get(v, "shape");
    if (!shape || attx_json_kind(shape) != ATTX_JSON_ARRAY)
        return attx_fail(err, "tensor '%s': missing or non-array \"shape\"", name);
    size_t ndim = attx_json_len(shape);
    if (ndim > ATTX_MAX_DIMS)
        return attx_fail(err, "tensor '%s': %zu dimensions, attx reads at most %d", name, ndim,
                         ATTX_MAX_DIMS);
    t->ndim = (int)ndim;
    uint64_t numel = 1;
    for (size_t i = 0; i < ndim; i++) {
        if (attx_json_u64(attx_json_item(shape, i), &t->shape[i]) != 0)
            return attx_fail(err, "tensor '%s': shape entry %zu is not a non-negative integer", name, i);
        if (attx_mul_u64(numel, t->shape[i], &numel) != 0)
            return attx_fail(err, "tensor '%s': number of elements overflows 64 bits", name);
    }
    t->numel = numel;

    const attx_json_value *offs = attx_json_get(v, "data_offsets");
    if (!offs || attx_json_kind(offs) != ATTX_JSON_ARRAY || attx_json_len(offs) != 2 ||
        attx_json_u64(attx_json_item(offs, 0), begin) != 0 ||
        attx_json_u64(attx_json_item(offs, 1), end) != 0)
        return attx_fail(err, "tensor '%s': \"data_offsets\" must be [begin, end] non-negative integers",
                         name);
    if (*end < *begin)
        return attx_fail(err, "tensor '%s': data_offsets [%llu, %llu] end before they begin", name,
                         (unsigned long long)*begin, (unsigned long long)*end);

    uint64_t bits;
    if (attx_mul_u64(numel, attx_dtype_bits(t->dtype), &bits) != 0)
        return attx_fail(err, "tensor '%s': byte size overflows 64 bits", name);
    if (bits % 8 != 0)
        return attx_fail(err, "tensor '%s': %llu elements of %s do not fill whole bytes", name,
                         (unsigned long long)numel, attx_dtype_name(t->dtype));
    t->nbytes = bits / 8;
    if (*end - *begin != t->nbytes) {
        char s[256];
        attx_format_shape(s, sizeof s, t->shape, t->ndim);
        return attx_fail(err, "tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but shape %s x %s "
                         "needs %llu", name, (unsigned long long)*begin, (unsigned long long)*end,
                         (unsigned long long)(*end - *begin), s, attx_dtype_name(t->dtype),
                         (unsigned long long)t->nbytes);
    }
    return 0;
}

typedef struct { uint64_t begin, end; size_t index; } tensor_span;

static int cmp_span(const void *a, const void *b)
{
    const tensor_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The tensors, sorted by offset, must tile the buffer [0, buffer_size) exactly. */
static int check_layout(const attx_tensor_file *f, tensor_span *spans, uint64_t buffer_size,
                        attx_error *err)
{
    size_t n = f->n_tensors;
    qsort(spans, n, sizeof *spans, cmp_span);
    uint64_t expected = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *name = f->tensors[spans[i].index].name;
        if (spans[i].begin != expected) {
            if (!prev)
                return attx_fail(err, "tensor '%s' starts at buffer offset %llu; the first tensor must "
                                 "start at 0", name, (unsigned long long)spans[i].begin);
            return attx_fail(err, "tensor '%s' starts at buffer offset %llu but '%s' ends at %llu (%s)",
                             name, (unsigned long long)spans[i].begin, prev,
                             (unsigned long long)expected,
                             spans[i].begin < expected ? "overlap" : "gap");
        }
        if (spans[i].end > buffer_size)
            return attx_fail(err, "tensor '%s': data_offsets end %llu is past the end of the data "
                             "(%llu bytes; file truncated?)", name, (unsigned long long)spans[i].end,
                             (unsigned long long)buffer_size);
        expected = spans[i].end;
        prev = name;
    }
    if (expected != buffer_size)
        return attx_fail(err, "%llu bytes after the last tensor (the data holds %llu bytes, the tensors "
                         "%llu)", (unsigned long long)(buffer_size - expected),
                         (unsigned long long)buffer_size, (unsigned long long)expected);
    return 0;
}

static int parse_header(attx_tensor_file *f, const unsigned char *bytes, uint64_t size,
                        attx_error *err)
{
    if (size < 8)
        return attx_fail(err, "file is %llu bytes, too small for a safetensors header",
                         (unsigned long long)size);
    uint64_t header_len = read_u64_le(bytes);
    if (header_len > ST_MAX_HEADER)
        return attx_fail(err, "header length %llu is over the 100 MB limit (not a safetensors file?)",
                         (unsigned long long)header_len);
    if (header_len > size - 8)
        return attx_fail(err, "header length %llu is larger than the file (%llu bytes; truncated?)",
                         (unsigned long long)header_len, (unsigned long long)size);

    attx_json_doc *doc = NULL;
    if (attx_json_parse((const char *)bytes + 8, (size_t)header_len, NULL, &doc, err) != 0)
        return attx_fail_prefix(err, "header");
    const attx_json_value *root = attx_json_root(doc);
    int rc = 0;
    tensor_span *spans = NULL;
    if (attx_json_kind(root) != ATTX_JSON_OBJECT) {
        rc = attx_fail(err, "header is not a JSON object");
        goto done;
    }
    size_t members = attx_json_len(root);
    f->tensors = calloc(members ? members : 1, sizeof *f->tensors);
    spans = malloc((members ? members : 1) * sizeof *spans);
    if (!f->tensors || !spans) {
        rc = attx_fail(err, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < members; i++) {
        size_t klen;
        const char *key = attx_json_key(root, i, &klen);
        const attx_json_value *v = attx_json_member(root, i);
        if (strcmp(key, "__metadata__") == 0) {
            if ((rc = parse_metadata(f, v, err)) != 0) goto done;
            continue;
        }
        if (memchr(key, '\0', klen)) {
            rc = attx_fail(err, "a tensor name contains a NUL character");
            goto done;
        }
        attx_stored_tensor *t = &f->tensors[f->n_tensors];
        if (!(t->name = dup_n(key, klen))) {
            rc = attx_fail(err, "out of memory");
            goto done;
        }
        f->n_tensors++;
        tensor_span *s = &spans[f->n_tensors - 1];
        s->index = f->n_tensors - 1;
        if ((rc = parse_tensor_entry(t, v, &s->begin, &s->end, err)) != 0) goto done;
    }
    uint64_t data_start = 8 + header_len;
    if ((rc = check_layout(f, spans, size - data_start, err)) != 0) goto done;
    for (size_t i = 0; i < f->n_tensors; i++)
        f->tensors[spans[i].index].data = bytes + data_start + spans[i].begin;
done:
    free(spans);
    attx_json_free(doc);
    return rc;
}

int attx_safetensors_parse(attx_tensor_file *f, const void *bytes, size_t size, const char *name,
                           attx_error *err)
{
    return attx_tensor_file_parse_with(f, ATTX_FORMAT_SAFETENSORS, parse_header, bytes, size, name, err);
}

int attx_safetensors_open(attx_tensor_file *f, const char *path, attx_error *err)
{
    return attx_tensor_file_open_with(f, ATTX_FORMAT_SAFETENSORS, parse_header, path, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                      */

/* Storage alignment of a dtype in bytes (sub-byte types: 1). */
static unsigned dtype_align(attx_dtype t)
{
    unsigned bits = attx_dtype_bits(t);
    return bits >= 8 ? bits / 8 : 1;
}

typedef struct { const attx_st_entry *e; uint64_t nbytes, begin; } planned_entry;

static int cmp_planned(const void *a, const void *b)
{
    const attx_st_entry *x = ((const planned_entry *)a)->e, *y = ((const planned_entry *)b)->e;
    unsigned ax = dtype_align(x->dtype), ay = dtype_align(y->dtype);
    if (ax != ay) return ax > ay ? -1 : 1;                 /* descending alignment, then name */
    return strcmp(x->name, y->name);
}

/* Converts elements [start, start + n) of an F32/F16/BF16 stored tensor to float. */
static void stored_to_f32_range(const attx_stored_tensor *t, uint64_t start, size_t n, float *out)
{
    const unsigned char *p = t->data;
    if (t->dtype == ATTX_F32) memcpy(out, p + 4 * start, 4 * n);
    else if (t->dtype == ATTX_F16) attx_f16_to_f32_array(p + 2 * start, n, out);
    else attx_bf16_to_f32_array(p + 2 * start, n, out);
}

/* Where serialized bytes go: memory (tests) or an atomically written file. */
typedef struct byte_sink {
    attx_buf *buf;
    attx_atomic_file *file;
} byte_sink;

static void sink_write(byte_sink *sink, const void *bytes, size_t n)
{
    if (sink->buf) attx_buf_append(sink->buf, bytes, n);
    else attx_atomic_write(sink->file, bytes, n);
}

/* Streams the entry's bytes, converting f32 sources to the entry's dtype in chunks. */
static void write_tensor_bytes(byte_sink *sink, const planned_entry *p)
{
    const attx_st_entry *e = p->e;
    if (e->raw || (e->f32 && e->dtype == ATTX_F32) || (e->stored && e->stored->dtype == e->dtype)) {
        const void *src = e->raw ? e->raw : e->f32 ? (const void *)e->f32 : e->stored->data;
        sink_write(sink, src, (size_t)p->nbytes);
        return;
    }
    enum { CHUNK = 2048 };
    float values[CHUNK];
    unsigned char bytes[CHUNK * 4];
    uint64_t numel = p->nbytes / (attx_dtype_bits(e->dtype) / 8);
    for (uint64_t start = 0; start < numel; start += CHUNK) {
        size_t n = numel - start < CHUNK ? (size_t)(numel - start) : CHUNK;
        const float *v = e->f32 ? e->f32 + start : values;
        if (e->stored) stored_to_f32_range(e->stored, start, n, values);
        size_t used = 0;
        for (size_t i = 0; i < n; i++) {
            if (e->dtype == ATTX_F32) {
                memcpy(bytes + used, &v[i], 4);
                used += 4;
                continue;
            }
            uint16_t h = e->dtype == ATTX_F16 ? attx_f32_to_f16(v[i]) : attx_f32_to_bf16(v[i]);
            bytes[used++] = (unsigned char)(h & 0xFF);
            bytes[used++] = (unsigned char)(h >> 8);
        }
        sink_write(sink, bytes, used);
    }
}

/* Plans the layout (reference order: descending alignment, then name), builds the header and
 * streams header and tensors into the sink. */
static int serialize(byte_sink *sink, const attx_st_entry *entries, size_t n,
                     const char *const *meta_keys, const char *const *meta_values, size_t n_meta,
                     attx_error *err)
{
    planned_entry *plan = malloc((n ? n : 1) * sizeof *plan);
    if (!plan) return attx_fail(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const attx_st_entry *e = &entries[i];
        uint64_t numel = 1, bits;
        int sources = (e->f32 != NULL) + (e->raw != NULL) + (e->stored != NULL);
        int converts = e->f32 || e->stored;
        int bad = e->ndim < 0 || e->ndim > ATTX_MAX_DIMS || attx_dtype_bits(e->dtype) == 0 ||
                  sources != 1 || (converts && !attx_dtype_is_float_weight(e->dtype)) ||
                  (e->stored && !attx_dtype_is_float_weight(e->stored->dtype));
        for (int d = 0; !bad && d < e->ndim; d++) bad = attx_mul_u64(numel, e->shape[d], &numel) != 0;
        if (e->stored && !bad) bad = numel != e->stored->numel;
        if (bad || attx_mul_u64(numel, attx_dtype_bits(e->dtype), &bits) != 0 || bits % 8) {
            free(plan);
            return attx_fail(err, "tensor '%s': invalid entry to write", e->name);
        }
        plan[i] = (planned_entry){e, bits / 8, 0};
    }
    qsort(plan, n, sizeof *plan, cmp_planned);
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        plan[i].begin = offset;
        offset += plan[i].nbytes;
        if (i > 0 && strcmp(plan[i].e->name, plan[i - 1].e->name) == 0) {
            attx_fail(err, "tensor '%s' is given twice", plan[i].e->name);
            free(plan);
            return -1;
        }
    }

    attx_buf header = {0};
    attx_json_writer w;
    attx_jw_init(&w, &header, 0);
    attx_jw_object_begin(&w);
    if (n_meta > 0) {
        attx_jw_key(&w, "__metadata__");
        attx_jw_object_begin(&w);
        for (size_t i = 0; i < n_meta; i++) {
            attx_jw_key(&w, meta_keys[i]);
            attx_jw_string(&w, meta_values[i]);
        }
        attx_jw_object_end(&w);
    }
    for (size_t i = 0; i < n; i++) {
        const attx_st_entry *e = plan[i].e;
        attx_jw_key(&w, e->name);
        attx_jw_object_begin(&w);
        attx_jw_key(&w, "dtype");
        attx_jw_string(&w, attx_dtype_name(e->dtype));
        attx_jw_key(&w, "shape");
        attx_jw_array_begin(&w);
        for (int d = 0; d < e->ndim; d++) attx_jw_uint(&w, e->shape[d]);
        attx_jw_array_end(&w);
        attx_jw_key(&w, "data_offsets");
        attx_jw_array_begin(&w);
        attx_jw_uint(&w, plan[i].begin);
        attx_jw_uint(&w, plan[i].begin + plan[i].nbytes);
        attx_jw_array_end(&w);
        attx_jw_object_end(&w);
    }
    attx_jw_object_end(&w);
    while (header.len % 8 != 0) attx_buf_append(&header, " ", 1);   /* 8-aligned data start */
    if (w.failed || header.failed) {
        attx_buf_free(&header);
        free(plan);
        return attx_fail(err, "out of memory writing the header");
    }

    unsigned char len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (unsigned char)((uint64_t)header.len >> (8 * i));
    sink_write(sink, len_le, 8);
    sink_write(sink, header.data, header.len);
    attx_buf_free(&header);
    for (size_t i = 0; i < n; i++) write_tensor_bytes(sink, &plan[i]);
    free(plan);
    return 0;
}

int attx_safetensors_serialize(attx_buf *out, const attx_st_entry *entries, size_t n,
                               const char *const *meta_keys, const char *const *meta_values,
                               size_t n_meta, attx_error *err)
{
    byte_sink sink = {out, NULL};
    if (serialize(&sink, entries, n, meta_keys, meta_values, n_meta, err) != 0) return -1;
    if (out->failed) return attx_fail(err, "out of memory writing tensors");
    return 0;
}

int attx_safetensors_write(const char *path, const attx_st_entry *entries, size_t n,
                           const char *const *meta_keys, const char *const *meta_values,
                           size_t n_meta, attx_error *err)
{
    attx_atomic_file file;
    if (attx_atomic_open(&file, path, err) != 0) return -1;
    byte_sink sink = {NULL, &file};
    if (serialize(&sink, entries, n, meta_keys, meta_values, n_meta, err) != 0) {
        attx_atomic_abort(&file);
        return attx_fail_prefix(err, "%s", path);
    }
    return attx_atomic_commit(&file, err);
}
