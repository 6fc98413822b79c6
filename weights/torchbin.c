/* torchbin.c — PyTorch checkpoints written by torch.save (PyTorch >= 1.6), read without Python.
 *
 * The file is a zip archive of stored entries under one prefix (the file's base name in torch
 * 1.x, "archive" in other writers):
 *   <prefix>/data.pkl     a pickle of the saved object: here a state dict {name: tensor}
 *   <prefix>/data/<key>   the raw little-endian bytes of each storage
 *   <prefix>/version, <prefix>/byteorder (newer torch), ...
 * In the pickle, each tensor is _rebuild_tensor_v2(storage, offset, size, stride, ...) whose
 * storage is a persistent id naming data/<key> (see pickle.c). A tensor is a strided view of
 * its storage: contiguous views point straight into the mapped file; other views (transposes,
 * slices, expands) are copied, all into one block f->owned.
 */
#include "attx_weights.h"
#include "pickle.h"
#include "tensor_file.h"
#include "zip.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TENSOR_NAME 4096
/* Copies of non-contiguous tensors may total at most 2x the file + 64 MiB (an expand with
 * stride 0 could otherwise ask for any amount of memory). */
#define COPY_SLACK (64ull << 20)

/* torch.save before 1.6 wrote pickles, the first one the magic number
 * 0x1950a86a20f9469cfc6c as a LONG1: 0x80 <proto> 0x8a 0x0a <10 bytes little-endian>. */
static const unsigned char legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static int is_legacy_format(const unsigned char *b, size_t size)
{
    return size >= 14 && b[0] == 0x80 && b[2] == 0x8a && b[3] == 0x0a &&
           memcmp(b + 4, legacy_magic, sizeof legacy_magic) == 0;
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

/* ------------------------------------------------------------------------------------------ */
/* The record prefix and the storages                                                          */

typedef struct record {
    const attx_zip *zip;
    const char *prefix;            /* "<prefix>" of "<prefix>/data.pkl" (not NUL-terminated) */
    size_t prefix_len;
    const attx_zip_entry *pickle;
} record;

/* Finds the one entry named "<prefix>/data.pkl" with a prefix of one path component. */
static int find_record(const attx_zip *z, record *r, attx_error *err)
{
    static const char suffix[] = "/data.pkl";
    const size_t slen = sizeof suffix - 1;
    size_t found = 0;
    for (size_t i = 0; i < z->n_entries; i++) {
        const attx_zip_entry *e = &z->entries[i];
        if (e->name_len <= slen || memcmp(e->name + e->name_len - slen, suffix, slen) != 0) continue;
        if (memchr(e->name, '/', e->name_len - slen)) continue;
        if (found++ == 0) r->pickle = e;
    }
    if (found == 0) return attx_fail(err, "zip archive has no <prefix>/data.pkl entry; not a torch.save checkpoint");
    if (found > 1) return attx_fail(err, "zip archive has %zu <prefix>/data.pkl entries; expected one", found);
    r->zip = z;
    r->prefix = r->pickle->name;
    r->prefix_len = r->pickle->name_len - slen;
    return 0;
}

/* "<prefix>/<rest>" into buf (ATTX_ZIP_MAX_NAME + 1 bytes); its length, or 0 if too long. */
static size_t record_name(const record *r, const char *rest, size_t rest_len, char *buf)
{
    if (r->prefix_len + 1 + rest_len > ATTX_ZIP_MAX_NAME) return 0;
    memcpy(buf, r->prefix, r->prefix_len);
    buf[r->prefix_len] = '/';
    memcpy(buf + r->prefix_len + 1, rest, rest_len);
    buf[r->prefix_len + 1 + rest_len] = '\0';
    return r->prefix_len + 1 + rest_len;
}

/* Newer torch writes <prefix>/byteorder; attx (like the data it computes on) is little-endian. */
static int check_byteorder(const record *r, attx_error *err)
{
    char name[ATTX_ZIP_MAX_NAME + 1];
    size_t n = record_name(r, "byteorder", 9, name);
    const attx_zip_entry *e = n ? attx_zip_find(r->zip, name, n) : NULL;
    if (!e) return 0;
    if (e->size == 6 && memcmp(e->data, "little", 6) == 0) return 0;
    char shown[64];
    attx_zip_printable(shown, sizeof shown, (const char *)e->data, e->size < 32 ? (size_t)e->size : 32);
    return attx_fail(err, "%s says '%s'; attx reads little-endian checkpoints only", name, shown);
}

/* The pickle's persistent-load callback: storage <key> is the entry <prefix>/data/<key>, which
 * must hold exactly numel elements. */
static int load_storage(void *ctx, const char *key, size_t key_len, attx_dtype dtype,
                        uint64_t numel, const unsigned char **data, attx_error *err)
{
    const record *r = ctx;
    char name[ATTX_ZIP_MAX_NAME + 1], shown[256];
    char rest[ATTX_ZIP_MAX_NAME + 1];
    attx_zip_printable(shown, sizeof shown, key, key_len);
    size_t n = 0;
    if (key_len + 5 <= ATTX_ZIP_MAX_NAME) {
        memcpy(rest, "data/", 5);
        memcpy(rest + 5, key, key_len);
        n = record_name(r, rest, key_len + 5, name);
    }
    const attx_zip_entry *e = n ? attx_zip_find(r->zip, name, n) : NULL;
    if (!e) return attx_fail(err, "storage '%s' has no entry data/%s in the archive", shown, shown);
    uint64_t nbytes = 0;
    if (attx_mul_u64(numel, attx_dtype_bits(dtype) / 8, &nbytes) != 0)
        return attx_fail(err, "storage '%s' of %llu %s elements is impossibly large", shown,
                         (unsigned long long)numel, attx_dtype_name(dtype));
    if (nbytes != e->size)
        return attx_fail(err, "storage '%s' holds %llu bytes but its %llu %s elements need %llu",
                         shown, (unsigned long long)e->size, (unsigned long long)numel,
                         attx_dtype_name(dtype), (unsigned long long)nbytes);
    *data = e->data;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The state dict                                                                              */

static int is_str(const attx_pk_obj *o, const char *s)
{
    return o->kind == ATTX_PK_STR && o->n == strlen(s) && memcmp(o->s, s, o->n) == 0;
}

/* Index of the first value of a dict that is not a tensor (or whose key is not a string), or
 * the number of pairs if they all are. */
static size_t first_non_tensor(const attx_pickle *pk, const attx_pk_obj *dict)
{
    for (uint32_t i = 0; i + 1 < dict->n; i += 2) {
        if (pk->objs[dict->items[i]].kind != ATTX_PK_STR ||
            pk->objs[dict->items[i + 1]].kind != ATTX_PK_TENSOR)
            return i / 2;
    }
    return dict->n / 2;
}

/* The dict of tensors to read: the pickled object itself, or the one dict of tensors under
 * "state_dict" or "model" of a training checkpoint ({"epoch": 3, "state_dict": {...}}). */
static int select_state_dict(const attx_pickle *pk, const attx_pk_obj **out, attx_error *err)
{
    const attx_pk_obj *root = &pk->objs[pk->root];
    if (root->kind != ATTX_PK_DICT)
        return attx_fail(err, "data.pkl holds a %s, not a dict of tensors; attx reads state dicts",
                         attx_pk_kind_name((attx_pk_kind)root->kind));
    size_t bad = first_non_tensor(pk, root);
    if (bad == root->n / 2) {
        *out = root;
        return 0;
    }
    const attx_pk_obj *found = NULL;
    int n_found = 0;
    for (uint32_t i = 0; i + 1 < root->n; i += 2) {
        const attx_pk_obj *k = &pk->objs[root->items[i]], *v = &pk->objs[root->items[i + 1]];
        if ((is_str(k, "state_dict") || is_str(k, "model")) && v->kind == ATTX_PK_DICT &&
            first_non_tensor(pk, v) == v->n / 2) {
            found = v;
            n_found++;
        }
    }
    if (n_found == 1) {
        *out = found;
        return 0;
    }
    const attx_pk_obj *k = &pk->objs[root->items[2 * bad]], *v = &pk->objs[root->items[2 * bad + 1]];
    if (k->kind != ATTX_PK_STR)
        return attx_fail(err, "data.pkl holds a dict with a %s key; attx reads state dicts "
                              "{name: tensor}", attx_pk_kind_name((attx_pk_kind)k->kind));
    char shown[256];
    attx_zip_printable(shown, sizeof shown, k->s, k->n);
    return attx_fail(err, "data.pkl holds a dict whose value '%s' is not a tensor (a %s); attx "
                          "reads state dicts", shown, attx_pk_kind_name((attx_pk_kind)v->kind));
}

/* Checks a tensor's view against its storage: the last element it reaches,
 * offset + sum((size_i - 1) * stride_i), must lie inside the storage. Sets *contiguous when the
 * view is row-major contiguous (dims of size 1 may have any stride). */
static int check_view(const attx_pk_tensor *t, uint64_t storage_numel, const char *name,
                      int *contiguous, attx_error *err)
{
    uint64_t numel = 1, last = t->offset;
    *contiguous = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != numel) *contiguous = 0;   /* numel of dims > d */
        if (attx_mul_u64(numel, t->shape[d], &numel) != 0)
            return attx_fail(err, "tensor '%s' has a shape whose size overflows", name);
    }
    if (numel == 0) {
        if (t->offset > storage_numel)
            return attx_fail(err, "tensor '%s' starts at element %llu of a storage of %llu", name,
                             (unsigned long long)t->offset, (unsigned long long)storage_numel);
        *contiguous = 1;
        return 0;
    }
    for (int d = 0; d < t->ndim; d++) {
        uint64_t reach;
        if (attx_mul_u64(t->shape[d] - 1, t->stride[d], &reach) != 0 ||
            attx_add_u64(last, reach, &last) != 0)
            return attx_fail(err, "tensor '%s' has strides whose extent overflows", name);
    }
    if (last >= storage_numel)
        return attx_fail(err, "tensor '%s' reaches element %llu of a storage of %llu elements", name,
                         (unsigned long long)last, (unsigned long long)storage_numel);
    return 0;
}

/* Copies a strided view into dst in row-major order (an odometer over the indices). */
static void gather(unsigned char *dst, const attx_pk_tensor *t, const unsigned char *storage,
                   uint64_t numel, size_t elem)
{
    uint64_t index[ATTX_MAX_DIMS] = {0}, src = t->offset;
    for (uint64_t i = 0; i < numel; i++) {
        memcpy(dst + i * elem, storage + src * elem, elem);
        for (int d = t->ndim - 1; d >= 0; d--) {
            src += t->stride[d];
            if (++index[d] < t->shape[d]) break;
            src -= t->stride[d] * t->shape[d];
            index[d] = 0;
        }
    }
}

/* Fills one stored tensor from a (name, tensor) pair. A contiguous view's data points into the
 * storage; for others *contiguous is 0 and the caller gathers the data. */
static int fill_tensor(attx_stored_tensor *out, const attx_pickle *pk, const attx_pk_obj *key,
                       const attx_pk_tensor *t, int *contiguous, attx_error *err)
{
    const attx_pk_storage *s = &pk->storages[t->storage];
    char shown[256];
    attx_zip_printable(shown, sizeof shown, key->s, key->n);
    size_t bad;
    if (key->n > MAX_TENSOR_NAME)
        return attx_fail(err, "tensor name '%s' is %u bytes, more than %d", shown, key->n, MAX_TENSOR_NAME);
    if (memchr(key->s, '\0', key->n) || !attx_utf8_valid(key->s, key->n, &bad))
        return attx_fail(err, "tensor name '%s' is not valid UTF-8 text", shown);
    /* the storage in elements of the tensor's dtype (they differ for _rebuild_tensor_v3) */
    size_t elem = attx_dtype_bits(t->dtype) / 8;
    uint64_t storage_bytes = s->numel * (attx_dtype_bits(s->dtype) / 8);   /* its entry's size */
    uint64_t storage_numel = storage_bytes / elem;
    if (check_view(t, storage_numel, shown, contiguous, err) != 0) return -1;
    out->name = dup_n(key->s, key->n);
    if (!out->name) return attx_fail(err, "out of memory");
    out->dtype = t->dtype;
    out->ndim = t->ndim;
    out->numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        out->shape[d] = t->shape[d];
        out->numel *= t->shape[d];          /* checked by check_view */
    }
    if (attx_mul_u64(out->numel, elem, &out->nbytes) != 0)
        return attx_fail(err, "tensor '%s' is too large", shown);
    /* a contiguous view lies inside its storage, so offset * elem is in bounds */
    out->data = s->data + (*contiguous ? t->offset * elem : 0);
    return 0;
}

/* Builds f->tensors from the state dict, in its order. */
static int build_tensors(attx_tensor_file *f, const attx_pickle *pk, const attx_pk_obj *dict,
                         size_t file_size, attx_error *err)
{
    size_t n = dict->n / 2;
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    int *contiguous = calloc(n ? n : 1, sizeof *contiguous);
    int rc = -1;
    if (!f->tensors || !contiguous) {
        attx_fail(err, "out of memory");
        goto done;
    }
    uint64_t copy_bytes = 0, copy_limit = 2 * (uint64_t)file_size + COPY_SLACK;
    for (size_t i = 0; i < n; i++) {
        const attx_pk_obj *key = &pk->objs[dict->items[2 * i]];
        const attx_pk_tensor *t = &pk->tensors[pk->objs[dict->items[2 * i + 1]].i];
        if (fill_tensor(&f->tensors[i], pk, key, t, &contiguous[i], err) != 0) goto done;
        f->n_tensors = i + 1;
        if (!contiguous[i] && (attx_add_u64(copy_bytes, f->tensors[i].nbytes, &copy_bytes) != 0 ||
                               copy_bytes > copy_limit)) {
            attx_fail(err, "tensor '%s' is a strided view that would need more than %llu bytes of "
                           "copies", f->tensors[i].name, (unsigned long long)copy_limit);
            goto done;
        }
    }
    if (copy_bytes > 0) {
        f->owned = malloc((size_t)copy_bytes);
        if (!f->owned) {
            attx_fail(err, "out of memory copying %llu bytes of strided tensors",
                      (unsigned long long)copy_bytes);
            goto done;
        }
    }
    unsigned char *dst = f->owned;
    for (size_t i = 0; i < n; i++) {
        if (contiguous[i]) continue;
        const attx_pk_tensor *t = &pk->tensors[pk->objs[dict->items[2 * i + 1]].i];
        attx_stored_tensor *out = &f->tensors[i];
        gather(dst, t, pk->storages[t->storage].data, out->numel, attx_dtype_bits(out->dtype) / 8);
        out->data = dst;
        dst += out->nbytes;
    }
    rc = 0;
done:
    free(contiguous);
    return rc;
}

/* Everything but the name index; messages without the file name. */
static int parse_checkpoint(attx_tensor_file *f, const unsigned char *b, uint64_t size, attx_error *err)
{
    if (is_legacy_format(b, size))
        return attx_fail(err, "legacy torch.save format (before PyTorch 1.6) is not supported; "
                              "re-save with torch>=1.6");
    attx_zip zip;
    if (attx_zip_open(&zip, b, size, err) != 0) return -1;
    record r = {0};
    attx_pickle pk = {0};
    int rc = -1;
    if (find_record(&zip, &r, err) != 0 || check_byteorder(&r, err) != 0) goto done;
    if (attx_pickle_load(&pk, r.pickle->data, (size_t)r.pickle->size, load_storage, &r, err) != 0) {
        char shown[256];
        attx_fail_prefix(err, "%s", attx_zip_printable(shown, sizeof shown, r.pickle->name, r.pickle->name_len));
        goto done;
    }
    const attx_pk_obj *dict = NULL;
    if (select_state_dict(&pk, &dict, err) != 0) goto done;
    rc = build_tensors(f, &pk, dict, size, err);
done:
    attx_pickle_free(&pk);
    attx_zip_free(&zip);
    return rc;
}

int attx_torchbin_parse(attx_tensor_file *f, const void *bytes, size_t size, const char *name,
                        attx_error *err)
{
    return attx_tensor_file_parse_with(f, ATTX_FORMAT_TORCH_ZIP, parse_checkpoint, bytes, size, name, err);
}

int attx_torchbin_open(attx_tensor_file *f, const char *path, attx_error *err)
{
    return attx_tensor_file_open_with(f, ATTX_FORMAT_TORCH_ZIP, parse_checkpoint, path, err);
}
