/* test_torchbin.c — the torch.save reader: fixtures made by torch 1.13 against the same tensors
 * in safetensors, truncation at every byte, random corruption, and hand-made malicious zips and
 * pickles (each rejected with a message naming the file and the problem). */
#include "testutil.h"

#define FIX "test/fixtures/torchbin/"

/* ------------------------------------------------------------------------------------------ */
/* Byte builders                                                                               */

static void put_u8(attx_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    attx_buf_append(b, &c, 1);
}

static void put_le(attx_buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) put_u8(b, (unsigned)(v >> (8 * i)) & 0xFF);
}

static void set_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Pickle pieces, as torch.save (protocol 2) writes them. */
static void pk_str(attx_buf *b, const char *s)
{
    put_u8(b, 'X');
    put_le(b, strlen(s), 4);
    attx_buf_append(b, s, strlen(s));
}

static void pk_int(attx_buf *b, int64_t v)
{
    if (v >= 0 && v < 256) {
        put_u8(b, 'K');
        put_u8(b, (unsigned)v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        put_u8(b, 'J');
        put_le(b, (uint64_t)(uint32_t)(int32_t)v, 4);
    } else {
        put_u8(b, 0x8a);                /* LONG1 of 8 bytes */
        put_u8(b, 8);
        put_le(b, (uint64_t)v, 8);
    }
}

static void pk_global(attx_buf *b, const char *module, const char *name)
{
    put_u8(b, 'c');
    attx_buf_puts(b, module);
    put_u8(b, '\n');
    attx_buf_puts(b, name);
    put_u8(b, '\n');
}

static void pk_int_tuple(attx_buf *b, int n, const int64_t *v)
{
    put_u8(b, '(');
    for (int i = 0; i < n; i++) pk_int(b, v[i]);
    put_u8(b, 't');
}

/* _rebuild_tensor_v2(persistent storage, offset, shape, stride, False, OrderedDict()) */
static void pk_tensor(attx_buf *b, const char *storage_type, const char *key, int64_t numel,
                      int64_t offset, int ndim, const int64_t *shape, const int64_t *stride)
{
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    put_u8(b, '(');
    put_u8(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", storage_type);
    pk_str(b, key);
    pk_str(b, "cpu");
    pk_int(b, numel);
    put_u8(b, 't');
    put_u8(b, 'Q');                      /* BINPERSID */
    pk_int(b, offset);
    pk_int_tuple(b, ndim, shape);
    pk_int_tuple(b, ndim, stride);
    put_u8(b, 0x89);                     /* NEWFALSE */
    pk_global(b, "collections", "OrderedDict");
    put_u8(b, ')');
    put_u8(b, 'R');
    put_u8(b, 't');
    put_u8(b, 'R');
}

/* torch >= 2.1 for dtypes without a legacy storage class:
 * _rebuild_tensor_v3(persistent UntypedStorage of nbytes, offset, shape, stride, False,
 * OrderedDict(), torch.<dtype>) */
static void pk_tensor_v3(attx_buf *b, const char *dtype, const char *key, int64_t nbytes,
                         int64_t offset, int ndim, const int64_t *shape, const int64_t *stride)
{
    pk_global(b, "torch._utils", "_rebuild_tensor_v3");
    put_u8(b, '(');
    put_u8(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", "UntypedStorage");
    pk_str(b, key);
    pk_str(b, "cpu");
    pk_int(b, nbytes);
    put_u8(b, 't');
    put_u8(b, 'Q');
    pk_int(b, offset);
    pk_int_tuple(b, ndim, shape);
    pk_int_tuple(b, ndim, stride);
    put_u8(b, 0x89);
    pk_global(b, "collections", "OrderedDict");
    put_u8(b, ')');
    put_u8(b, 'R');
    if (strcmp(dtype, "not-a-dtype") == 0) pk_int(b, 5);
    else pk_global(b, "torch", dtype);
    put_u8(b, 't');
    put_u8(b, 'R');
}

/* PROTO 2, OrderedDict(), MARK ... then pk_dict_end: SETITEMS, STOP. */
static void pk_dict_begin(attx_buf *b)
{
    put_u8(b, 0x80);
    put_u8(b, 2);
    pk_global(b, "collections", "OrderedDict");
    put_u8(b, ')');
    put_u8(b, 'R');
    put_u8(b, '(');
}

static void pk_dict_end(attx_buf *b)
{
    put_u8(b, 'u');
    put_u8(b, '.');
}

/* A state dict {name: F32 tensor on storage "0"} with the given view. */
static void pk_one_tensor(attx_buf *b, const char *name, int64_t numel, int64_t offset, int ndim,
                          const int64_t *shape, const int64_t *stride)
{
    pk_dict_begin(b);
    pk_str(b, name);
    pk_tensor(b, "FloatStorage", "0", numel, offset, ndim, shape, stride);
    pk_dict_end(b);
}

/* Zip archives: local headers with sizes (no data descriptors), optionally ZIP64 extra fields
 * per entry and ZIP64 end records. */
typedef struct zentry {
    const char *name;
    const void *data;
    size_t len;
    unsigned method, flags;
    int zip64_extra;
} zentry;

#define MAX_ZENTRIES 8
typedef struct zlayout {
    size_t local[MAX_ZENTRIES], central[MAX_ZENTRIES];
    size_t cd_off, cd_size, end64, locator, end;
} zlayout;

static unsigned char *build_zip(const zentry *e, size_t n, int zip64_end, size_t *size, zlayout *lay)
{
    attx_buf b = {0};
    zlayout tmp;
    if (!lay) lay = &tmp;
    memset(lay, 0, sizeof *lay);
    assert_true(n <= MAX_ZENTRIES);
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strlen(e[i].name);
        lay->local[i] = b.len;
        put_le(&b, 0x04034b50, 4);
        put_le(&b, 20, 2);
        put_le(&b, e[i].flags, 2);
        put_le(&b, e[i].method, 2);
        put_le(&b, 0, 8);                            /* time, date, crc-32 */
        put_le(&b, e[i].zip64_extra ? 0xFFFFFFFF : e[i].len, 4);
        put_le(&b, e[i].zip64_extra ? 0xFFFFFFFF : e[i].len, 4);
        put_le(&b, name_len, 2);
        put_le(&b, e[i].zip64_extra ? 20 : 0, 2);
        attx_buf_append(&b, e[i].name, name_len);
        if (e[i].zip64_extra) {
            put_le(&b, 1, 2);
            put_le(&b, 16, 2);
            put_le(&b, e[i].len, 8);
            put_le(&b, e[i].len, 8);
        }
        attx_buf_append(&b, e[i].data, e[i].len);
    }
    lay->cd_off = b.len;
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strlen(e[i].name);
        lay->central[i] = b.len;
        put_le(&b, 0x02014b50, 4);
        put_le(&b, 20, 2);
        put_le(&b, 20, 2);
        put_le(&b, e[i].flags, 2);
        put_le(&b, e[i].method, 2);
        put_le(&b, 0, 8);                            /* time, date, crc-32 */
        put_le(&b, e[i].zip64_extra ? 0xFFFFFFFF : e[i].len, 4);
        put_le(&b, e[i].zip64_extra ? 0xFFFFFFFF : e[i].len, 4);
        put_le(&b, name_len, 2);
        put_le(&b, e[i].zip64_extra ? 28 : 0, 2);
        put_le(&b, 0, 2);                            /* comment */
        put_le(&b, 0, 2);                            /* disk */
        put_le(&b, 0, 6);                            /* attributes */
        put_le(&b, e[i].zip64_extra ? 0xFFFFFFFF : lay->local[i], 4);
        attx_buf_append(&b, e[i].name, name_len);
        if (e[i].zip64_extra) {
            put_le(&b, 1, 2);
            put_le(&b, 24, 2);
            put_le(&b, e[i].len, 8);
            put_le(&b, e[i].len, 8);
            put_le(&b, lay->local[i], 8);
        }
    }
    lay->cd_size = b.len - lay->cd_off;
    if (zip64_end) {
        lay->end64 = b.len;
        put_le(&b, 0x06064b50, 4);
        put_le(&b, 44, 8);
        put_le(&b, 0x2d2d, 4);                       /* versions */
        put_le(&b, 0, 8);                            /* disks */
        put_le(&b, n, 8);
        put_le(&b, n, 8);
        put_le(&b, lay->cd_size, 8);
        put_le(&b, lay->cd_off, 8);
        lay->locator = b.len;
        put_le(&b, 0x07064b50, 4);
        put_le(&b, 0, 4);
        put_le(&b, lay->end64, 8);
        put_le(&b, 1, 4);
    }
    lay->end = b.len;
    put_le(&b, 0x06054b50, 4);
    put_le(&b, 0, 4);
    put_le(&b, n, 2);
    put_le(&b, n, 2);
    put_le(&b, lay->cd_size, 4);
    put_le(&b, lay->cd_off, 4);
    put_le(&b, 0, 2);
    assert_false(b.failed);
    *size = b.len;
    return (unsigned char *)b.data;
}

/* Storages of the hand-made checkpoints: "0" is 6 floats 0..5, "1" is 3 floats 10..12. */
static const float storage0[6] = {0, 1, 2, 3, 4, 5};
static const float storage1[3] = {10, 11, 12};
enum { E_PKL, E_DATA0, E_DATA1, E_VERSION, N_CKPT_ENTRIES };

static void ckpt_entries(zentry *e, const attx_buf *pickle)
{
    memset(e, 0, N_CKPT_ENTRIES * sizeof *e);
    e[E_PKL] = (zentry){"archive/data.pkl", pickle->data, pickle->len, 0, 0, 0};
    e[E_DATA0] = (zentry){"archive/data/0", storage0, sizeof storage0, 0, 0, 0};
    e[E_DATA1] = (zentry){"archive/data/1", storage1, sizeof storage1, 0, 0, 0};
    e[E_VERSION] = (zentry){"archive/version", "3\n", 2, 0, 0, 0};
}

static unsigned char *make_ckpt(const attx_buf *pickle, int zip64_end, size_t *size, zlayout *lay)
{
    zentry e[N_CKPT_ENTRIES];
    ckpt_entries(e, pickle);
    return build_zip(e, N_CKPT_ENTRIES, zip64_end, size, lay);
}

/* ------------------------------------------------------------------------------------------ */
/* Expectations                                                                                */

/* Parses an exact-size malloc'd copy (so ASan sees any overread) named "bad.pt"; expects a
 * failure whose message names the file and contains phrase. */
static void expect_reject(const unsigned char *bytes, size_t size, const char *phrase)
{
    unsigned char *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, bytes, size);
    attx_tensor_file f;
    attx_error err;
    memset(&err, 0, sizeof err);
    if (attx_torchbin_parse(&f, copy, size, "bad.pt", &err) == 0) {
        attx_tensor_file_close(&f);
        free(copy);
        fail_msg("accepted a file that should fail with \"%s\"", phrase);
    }
    assert_contains(err.msg, "bad.pt: ");
    assert_contains(err.msg, phrase);
    free(copy);
}

static void expect_reject_pickle(const attx_buf *pickle, const char *phrase)
{
    size_t size;
    unsigned char *zip = make_ckpt(pickle, 0, &size, NULL);
    expect_reject(zip, size, phrase);
    free(zip);
}

/* Parses a hand-made checkpoint that must succeed; the caller closes f. */
static void expect_accept(const unsigned char *bytes, size_t size, attx_tensor_file *f)
{
    attx_error err;
    if (attx_torchbin_parse(f, bytes, size, "good.pt", &err) != 0) fail_msg("rejected: %s", err.msg);
}

/* Every tensor's bytes lie in the input or in f->owned (touching each byte so that ASan would
 * report a bad range), and names are strings. */
static void check_ranges(const attx_tensor_file *f, const unsigned char *buf, size_t size)
{
    uint64_t owned_total = 0;
    unsigned sum = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const attx_stored_tensor *t = &f->tensors[i];
        assert_true(strlen(t->name) <= 4096);
        assert_true(t->ndim >= 0 && t->ndim <= ATTX_MAX_DIMS);
        int in_buf = t->data >= buf && t->data <= buf + size && t->nbytes <= (uint64_t)(buf + size - t->data);
        if (!in_buf) {
            assert_non_null(f->owned);
            assert_true(t->data >= (const unsigned char *)f->owned);
            owned_total += t->nbytes;
        }
        for (uint64_t k = 0; k < t->nbytes; k++) sum += t->data[k];
    }
    /* the owned tensors are packed one after the other from f->owned */
    for (size_t i = 0; i < f->n_tensors; i++) {
        const attx_stored_tensor *t = &f->tensors[i];
        int in_buf = t->data >= buf && t->data <= buf + size;
        if (!in_buf) assert_true(t->data + t->nbytes <= (const unsigned char *)f->owned + owned_total);
    }
    (void)sum;
}

/* ------------------------------------------------------------------------------------------ */
/* Fixtures made by torch                                                                      */

static void compare_with_safetensors(const char *path)
{
    attx_tensor_file tb, st;
    attx_error err;
    if (attx_torchbin_open(&tb, path, &err) != 0) fail_msg("%s", err.msg);
    if (attx_safetensors_open(&st, FIX "state.safetensors", &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(tb.format, ATTX_FORMAT_TORCH_ZIP);
    assert_int_equal(tb.n_meta, 0);
    assert_string_equal(tb.path, path);
    assert_int_equal(tb.n_tensors, st.n_tensors);
    assert_int_equal(tb.n_tensors, 22);
    for (size_t i = 0; i < tb.n_tensors; i++) {
        const attx_stored_tensor *a = &tb.tensors[i], *b = &st.tensors[i];
        assert_string_equal(a->name, b->name);              /* same order: the state dict's */
        assert_int_equal(a->dtype, b->dtype);
        assert_int_equal(a->ndim, b->ndim);
        for (int d = 0; d < a->ndim; d++) assert_int_equal(a->shape[d], b->shape[d]);
        assert_int_equal(a->numel, b->numel);
        assert_int_equal(a->nbytes, b->nbytes);
        if (a->nbytes) assert_memory_equal(a->data, b->data, a->nbytes);
        assert_ptr_equal(attx_tensor_file_find(&tb, a->name), a);
    }
    check_ranges(&tb, tb.map, tb.map_size);
    attx_tensor_file_close(&tb);
    attx_tensor_file_close(&st);
}

static void test_fixture_matches_safetensors(void **state)
{
    (void)state;
    compare_with_safetensors(FIX "state.bin");
    compare_with_safetensors(FIX "other_name.pt");   /* another archive prefix */
    compare_with_safetensors(FIX "state_p4.bin");    /* pickle protocol 4 */
    compare_with_safetensors(FIX "wrapped.pt");      /* {"epoch", "state_dict"} */
}

/* Contiguous views point into the mapping (zero copy); transposed, sliced and expanded ones are
 * copied into f->owned; views of one storage share its bytes. */
static void test_fixture_views(void **state)
{
    (void)state;
    attx_tensor_file f;
    attx_error err;
    if (attx_torchbin_open(&f, FIX "state.bin", &err) != 0) fail_msg("%s", err.msg);
    const unsigned char *map = f.map, *owned = f.owned;
    assert_non_null(owned);
    const char *zero_copy[] = {"bert.embeddings.word_embeddings.weight", "bert.embeddings.position_ids",
                               "bert.encoder.layer.0.attention.self.query.bias",
                               "bert.encoder.layer.0.output.LayerNorm.weight", "classifier.temperature"};
    for (size_t i = 0; i < sizeof zero_copy / sizeof zero_copy[0]; i++) {
        const attx_stored_tensor *t = attx_tensor_file_find(&f, zero_copy[i]);
        assert_non_null(t);
        assert_true(t->data >= map && t->data + t->nbytes <= map + f.map_size);
    }
    const char *copied[] = {"bert.encoder.layer.0.attention.self.key.weight",
                            "bert.encoder.layer.0.attention.self.value.weight",
                            "bert.encoder.layer.0.output.dense.bias"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        const attx_stored_tensor *t = attx_tensor_file_find(&f, copied[i]);
        assert_non_null(t);
        assert_true(t->data >= owned && t->data < owned + 96 + 64 + 32);
    }
    const attx_stored_tensor *qb = attx_tensor_file_find(&f, "bert.encoder.layer.0.attention.self.query.bias");
    const attx_stored_tensor *kb = attx_tensor_file_find(&f, "bert.encoder.layer.0.attention.self.key.bias");
    const attx_stored_tensor *iw = attx_tensor_file_find(&f, "bert.encoder.layer.0.intermediate.dense.weight");
    assert_ptr_equal(kb->data, qb->data + 16);
    assert_ptr_equal(iw->data, qb->data + 32);
    const attx_stored_tensor *scalar = attx_tensor_file_find(&f, "classifier.temperature");
    assert_int_equal(scalar->ndim, 0);
    assert_int_equal(scalar->numel, 1);
    float v;
    memcpy(&v, scalar->data, 4);
    assert_true(v == 1.5f);
    const attx_stored_tensor *empty = attx_tensor_file_find(&f, "bert.embeddings.empty");
    assert_int_equal(empty->numel, 0);
    assert_int_equal(empty->nbytes, 0);
    const attx_stored_tensor *pos = attx_tensor_file_find(&f, "bert.embeddings.position_ids");
    for (int i = 0; i < 16; i++) {
        int64_t p;
        memcpy(&p, pos->data + 8 * i, 8);
        assert_int_equal(p, i);
    }
    attx_tensor_file_close(&f);
}

static void test_open_errors(void **state)
{
    (void)state;
    attx_tensor_file f;
    attx_error err;
    assert_int_equal(attx_torchbin_open(&f, FIX "does-not-exist.bin", &err), -1);
    assert_contains(err.msg, "does-not-exist.bin");
    assert_int_equal(attx_torchbin_open(&f, FIX "legacy.bin", &err), -1);
    assert_contains(err.msg, FIX "legacy.bin: legacy torch.save format (before PyTorch 1.6) is not supported");
    assert_contains(err.msg, "re-save with torch>=1.6");
    assert_int_equal(attx_torchbin_open(&f, FIX "state.safetensors", &err), -1);
    assert_contains(err.msg, FIX "state.safetensors: not a zip file");
    char *dir = tu_mkdtemp();
    char *empty = tu_path(dir, "empty.bin");
    tu_write(empty, "", 0);
    assert_int_equal(attx_torchbin_open(&f, empty, &err), -1);
    assert_contains(err.msg, "empty.bin: not a zip file");
    free(empty);
    tu_rmdir(dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Truncation and corruption                                                                   */

static void test_truncation(void **state)
{
    (void)state;
    size_t size;
    unsigned char *file = (unsigned char *)tu_read(FIX "state.bin", &size);
    for (size_t len = 0; len < size; len++) {
        unsigned char *copy = malloc(len ? len : 1);
        memcpy(copy, file, len);
        attx_tensor_file f;
        attx_error err;
        err.msg[0] = '\0';
        if (attx_torchbin_parse(&f, copy, len, "trunc.bin", &err) == 0)
            fail_msg("a truncation to %zu of %zu bytes was accepted", len, size);
        assert_contains(err.msg, "trunc.bin: ");
        assert_true(strlen(err.msg) > strlen("trunc.bin: "));
        free(copy);
    }
    free(file);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) { return tu_random(&rng_state); }

/* 20,000 mutated copies of state.bin: one random byte, a few random bytes, a 4- or 8-byte
 * field set to an extreme value, or a bit flip, aimed anywhere, at the pickle or at the
 * central directory. Each parses (with every tensor inside the buffer) or fails cleanly. */
static void test_random_corruption(void **state)
{
    (void)state;
    size_t size;
    unsigned char *file = (unsigned char *)tu_read(FIX "state.bin", &size);
    size_t pickle_end = 64 + 2048 < size ? 64 + 2048 : size;    /* data.pkl is first */
    size_t tail = size > 1600 ? size - 1600 : 0;                 /* central directory and ends */
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        unsigned char *copy = malloc(size);
        memcpy(copy, file, size);
        int kind = (int)(rng() % 5), region = (int)(rng() % 3);
        size_t lo = region == 1 ? 0 : region == 2 ? tail : 0;
        size_t hi = region == 1 ? pickle_end : size;
        int n = kind == 1 ? 1 + (int)(rng() % 8) : 1;
        for (int k = 0; k < n; k++) {
            size_t pos = lo + (size_t)(rng() % (hi - lo));
            switch (kind) {
            case 0:
            case 1: copy[pos] = (unsigned char)rng(); break;
            case 2: {
                static const uint64_t extremes[] = {0, 0xFFFFFFFFull, 0x7FFFFFFFull, 0x80000000ull,
                                                    0xFFFFull, 1ull << 62, UINT64_MAX};
                int w = rng() % 2 ? 4 : 8;
                if (pos + (size_t)w <= size) set_le(copy + pos, extremes[rng() % 7], w);
                break;
            }
            case 3: copy[pos] ^= (unsigned char)(1u << (rng() % 8)); break;
            default: copy[pos] = (unsigned char)(copy[pos] + 1); break;
            }
        }
        attx_tensor_file f;
        attx_error err;
        err.msg[0] = '\0';
        if (attx_torchbin_parse(&f, copy, size, "mutant.bin", &err) == 0) {
            accepted++;
            check_ranges(&f, copy, size);
            attx_tensor_file_close(&f);
        } else {
            assert_contains(err.msg, "mutant.bin: ");
        }
        free(copy);
    }
    /* most mutations of tensor bytes and padding are harmless; many others are caught */
    print_message("random corruption: %d of 20000 mutants parsed, the rest were rejected\n", accepted);
    assert_true(accepted > 1000 && accepted < 19000);
    free(file);
}

/* ------------------------------------------------------------------------------------------ */
/* Hand-made checkpoints                                                                       */

static const int64_t shape23[2] = {2, 3}, stride23[2] = {3, 1};

static void test_handmade_good(void **state)
{
    (void)state;
    /* two tensors: a contiguous [2, 3] on storage 0 and its transpose [3, 2] (copied), plus an
     * expand [2, 3] of storage 1 with stride 0 and a slice at offset 1 */
    attx_buf p = {0};
    pk_dict_begin(&p);
    pk_str(&p, "w");
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 2, shape23, stride23);
    pk_str(&p, "w.t");
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 2, (const int64_t[]){3, 2}, (const int64_t[]){1, 3});
    pk_str(&p, "e");
    pk_tensor(&p, "FloatStorage", "1", 3, 0, 2, shape23, (const int64_t[]){0, 1});
    pk_str(&p, "s");
    pk_tensor(&p, "FloatStorage", "0", 6, 1, 1, (const int64_t[]){2}, (const int64_t[]){2});
    pk_dict_end(&p);
    size_t size;
    unsigned char *zip = make_ckpt(&p, 0, &size, NULL);
    attx_tensor_file f;
    expect_accept(zip, size, &f);
    assert_int_equal(f.n_tensors, 4);
    float got[6];
    assert_string_equal(f.tensors[0].name, "w");
    assert_memory_equal(f.tensors[0].data, storage0, 24);
    assert_true(f.tensors[0].data >= zip && f.tensors[0].data < zip + size);    /* zero copy */
    assert_string_equal(f.tensors[1].name, "w.t");
    memcpy(got, f.tensors[1].data, 24);
    const float want_t[6] = {0, 3, 1, 4, 2, 5};
    assert_memory_equal(got, want_t, 24);
    memcpy(got, f.tensors[2].data, 24);
    const float want_e[6] = {10, 11, 12, 10, 11, 12};
    assert_memory_equal(got, want_e, 24);
    memcpy(got, f.tensors[3].data, 8);
    assert_true(got[0] == 1 && got[1] == 3);
    check_ranges(&f, zip, size);
    attx_tensor_file_close(&f);
    free(zip);

    /* the same with ZIP64 end records and ZIP64 extra fields in every header */
    zentry e[N_CKPT_ENTRIES];
    ckpt_entries(e, &p);
    for (int i = 0; i < N_CKPT_ENTRIES; i++) e[i].zip64_extra = 1;
    zip = build_zip(e, N_CKPT_ENTRIES, 1, &size, NULL);
    expect_accept(zip, size, &f);
    assert_int_equal(f.n_tensors, 4);
    attx_tensor_file_close(&f);
    free(zip);

    /* a training checkpoint {"epoch": 3, "model": {"w": ...}} gives the inner state dict */
    attx_buf w = {0};
    pk_dict_begin(&w);
    pk_str(&w, "epoch");
    pk_int(&w, 3);
    pk_str(&w, "model");
    put_u8(&w, '}');
    put_u8(&w, '(');
    pk_str(&w, "w");
    pk_tensor(&w, "FloatStorage", "0", 6, 0, 2, shape23, stride23);
    put_u8(&w, 'u');
    pk_dict_end(&w);
    zip = make_ckpt(&w, 0, &size, NULL);
    expect_accept(zip, size, &f);
    assert_int_equal(f.n_tensors, 1);
    assert_string_equal(f.tensors[0].name, "w");
    attx_tensor_file_close(&f);
    free(zip);
    attx_buf_free(&w);
    attx_buf_free(&p);
}

/* The _rebuild_tensor_v3 form newer torch writes for float8 and unsigned dtypes. */
static void test_rebuild_tensor_v3(void **state)
{
    (void)state;
    attx_buf p = {0};
    pk_dict_begin(&p);
    pk_str(&p, "f8");
    pk_tensor_v3(&p, "float8_e4m3fn", "0", 24, 0, 2, (const int64_t[]){4, 6}, (const int64_t[]){6, 1});
    pk_str(&p, "u16");
    pk_tensor_v3(&p, "uint16", "0", 24, 2, 1, (const int64_t[]){4}, (const int64_t[]){2});
    pk_str(&p, "u64");
    pk_tensor_v3(&p, "uint64", "1", 12, 0, 0, NULL, NULL);
    pk_dict_end(&p);
    size_t size;
    unsigned char *zip = make_ckpt(&p, 0, &size, NULL);
    attx_tensor_file f;
    expect_accept(zip, size, &f);
    assert_int_equal(f.n_tensors, 3);
    assert_int_equal(f.tensors[0].dtype, ATTX_F8_E4M3);
    assert_int_equal(f.tensors[0].numel, 24);
    assert_memory_equal(f.tensors[0].data, storage0, 24);
    assert_int_equal(f.tensors[1].dtype, ATTX_U16);
    assert_int_equal(f.tensors[1].nbytes, 8);
    const unsigned char *s0 = (const unsigned char *)storage0;
    for (int i = 0; i < 4; i++) assert_memory_equal(f.tensors[1].data + 2 * i, s0 + 4 + 4 * i, 2);
    assert_int_equal(f.tensors[2].dtype, ATTX_U64);
    assert_int_equal(f.tensors[2].ndim, 0);
    assert_memory_equal(f.tensors[2].data, storage1, 8);
    check_ranges(&f, zip, size);
    attx_tensor_file_close(&f);
    free(zip);

    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "u32");
    pk_tensor_v3(&p, "uint32", "1", 12, 0, 1, (const int64_t[]){4}, (const int64_t[]){1});
    pk_dict_end(&p);
    expect_reject_pickle(&p, "tensor 'u32' reaches element 3 of a storage of 3 elements");
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "x");
    pk_tensor_v3(&p, "not-a-dtype", "1", 12, 0, 1, (const int64_t[]){3}, (const int64_t[]){1});
    pk_dict_end(&p);
    expect_reject_pickle(&p, "_rebuild_tensor_v3 dtype is not one of torch's dtypes");
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "x");
    pk_tensor_v3(&p, "complex32", "1", 12, 0, 1, (const int64_t[]){3}, (const int64_t[]){1});
    pk_dict_end(&p);
    expect_reject_pickle(&p, "'torch.complex32'");
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "x");
    pk_tensor_v3(&p, "uint32", "1", 13, 0, 1, (const int64_t[]){3}, (const int64_t[]){1});
    pk_dict_end(&p);
    expect_reject_pickle(&p, "storage '1' holds 12 bytes but its 13 U8 elements need 13");
    attx_buf_free(&p);
}

static void test_zip_container_attacks(void **state)
{
    (void)state;
    attx_buf p = {0};
    pk_one_tensor(&p, "w", 6, 0, 2, shape23, stride23);
    zentry e[N_CKPT_ENTRIES];
    zlayout lay;
    size_t size;
    unsigned char *zip;

    /* not a zip at all; an empty file; a truncated one */
    expect_reject((const unsigned char *)"hello, this is not a checkpoint at all", 38, "not a zip file");
    expect_reject((const unsigned char *)"", 0, "not a zip file");
    zip = make_ckpt(&p, 0, &size, &lay);
    expect_reject(zip, size - 1, "no end of central directory record");
    /* the legacy format's magic number */
    const unsigned char legacy[16] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20,
                                      0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80};
    expect_reject(legacy, sizeof legacy, "legacy torch.save format (before PyTorch 1.6) is not supported");

    /* central directory offset out of bounds, and size */
    set_le(zip + lay.end + 16, size + 100, 4);
    expect_reject(zip, size, "central directory (offset");
    set_le(zip + lay.end + 16, lay.cd_off, 4);
    set_le(zip + lay.end + 12, 0xFFFFFFF0u, 4);
    expect_reject(zip, size, "central directory (offset");
    set_le(zip + lay.end + 12, lay.cd_size - 1, 4);
    expect_reject(zip, size, "runs past the central directory");
    set_le(zip + lay.end + 12, lay.cd_size, 4);
    set_le(zip + lay.end + 8, 3, 2);
    expect_reject(zip, size, "multi-disk");
    set_le(zip + lay.end + 10, 3, 2);
    set_le(zip + lay.end + 8, 3, 2);
    expect_reject(zip, size, "entries use");
    set_le(zip + lay.end + 8, 5, 2);
    set_le(zip + lay.end + 10, 5, 2);
    expect_reject(zip, size, "entry 4 is missing or damaged");
    free(zip);

    /* an entry's size past the end of the file (in the central directory and local header) */
    zip = make_ckpt(&p, 0, &size, &lay);
    set_le(zip + lay.central[E_DATA0] + 20, 1000000, 4);
    set_le(zip + lay.central[E_DATA0] + 24, 1000000, 4);
    expect_reject(zip, size, "entry 'archive/data/0' has size 24 in its local header and 1000000");
    set_le(zip + lay.local[E_DATA0] + 18, 1000000, 4);
    set_le(zip + lay.local[E_DATA0] + 22, 1000000, 4);
    expect_reject(zip, size, "entry 'archive/data/0' (1000000 bytes at offset");
    set_le(zip + lay.local[E_DATA0] + 6, 8, 2);              /* sizes after the data: unchecked */
    expect_reject(zip, size, "entry 'archive/data/0' (1000000 bytes at offset");
    set_le(zip + lay.local[E_DATA0] + 6, 0, 2);
    set_le(zip + lay.local[E_DATA0] + 18, 24, 4);
    set_le(zip + lay.local[E_DATA0] + 22, 24, 4);
    set_le(zip + lay.central[E_DATA0] + 24, 24, 4);
    expect_reject(zip, size, "stored entry 'archive/data/0' has compressed size 1000000 but size 24");
    set_le(zip + lay.central[E_DATA0] + 20, 24, 4);
    set_le(zip + lay.local[E_DATA0] + 18, 28, 4);
    expect_reject(zip, size, "size 28 in its local header");
    set_le(zip + lay.local[E_DATA0] + 18, 24, 4);
    /* local header offset garbage, or pointing at the wrong header */
    set_le(zip + lay.central[E_DATA0] + 42, 0xFFFFFFFFu, 4);
    expect_reject(zip, size, "needs a zip64 extra field");
    set_le(zip + lay.central[E_DATA0] + 42, 0xFFFFFFF0u, 4);
    expect_reject(zip, size, "local header at offset 4294967280, outside the data area");
    set_le(zip + lay.central[E_DATA0] + 42, size - 10, 4);
    expect_reject(zip, size, "outside the data area");
    set_le(zip + lay.central[E_DATA0] + 42, lay.local[E_DATA0] + 1, 4);
    expect_reject(zip, size, "no local header signature");
    set_le(zip + lay.central[E_DATA0] + 42, lay.local[E_DATA1], 4);
    expect_reject(zip, size, "another name in its local header");
    set_le(zip + lay.central[E_DATA0] + 42, lay.local[E_DATA0], 4);
    /* names: empty, too long for the directory */
    set_le(zip + lay.central[E_DATA0] + 28, 0, 2);
    expect_reject(zip, size, "name of 0 bytes");
    set_le(zip + lay.central[E_DATA0] + 28, 60000, 2);
    expect_reject(zip, size, "runs past the central directory");
    free(zip);
    char *long_name = malloc(5001);
    memset(long_name, 'a', 5000);
    long_name[5000] = '\0';
    ckpt_entries(e, &p);
    e[E_VERSION].name = long_name;
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    expect_reject(zip, size, "central directory entry 3 has a name of 5000 bytes (1 to 4096 allowed)");
    free(zip);
    free(long_name);

    /* compressed, encrypted */
    ckpt_entries(e, &p);
    e[E_DATA0].method = 8;
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    expect_reject(zip, size, "entry 'archive/data/0' is compressed (method 8); torch.save writes stored entries");
    free(zip);
    ckpt_entries(e, &p);
    e[E_PKL].flags = 1;
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    expect_reject(zip, size, "entry 'archive/data.pkl' is encrypted");
    free(zip);
    ckpt_entries(e, &p);
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, &lay);
    set_le(zip + lay.local[E_DATA1] + 8, 12, 2);             /* method only in the local header */
    expect_reject(zip, size, "entry 'archive/data/1' is compressed (method 12)");
    free(zip);

    /* duplicate entry names; no data.pkl; two of them */
    ckpt_entries(e, &p);
    e[E_DATA1].name = "archive/data/0";
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    expect_reject(zip, size, "zip entry 'archive/data/0' appears twice");
    free(zip);
    ckpt_entries(e, &p);
    e[E_PKL].name = "archive/model.pkl";
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    expect_reject(zip, size, "no <prefix>/data.pkl entry");
    free(zip);
    ckpt_entries(e, &p);
    e[E_VERSION].name = "other/data.pkl";
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    expect_reject(zip, size, "2 <prefix>/data.pkl entries");
    free(zip);
    /* a big-endian checkpoint */
    ckpt_entries(e, &p);
    e[E_VERSION] = (zentry){"archive/byteorder", "big", 3, 0, 0, 0};
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    expect_reject(zip, size, "archive/byteorder says 'big'; attx reads little-endian checkpoints only");
    free(zip);
    ckpt_entries(e, &p);
    e[E_VERSION] = (zentry){"archive/byteorder", "little", 6, 0, 0, 0};
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    attx_tensor_file f;
    expect_accept(zip, size, &f);
    attx_tensor_file_close(&f);
    free(zip);
    /* a missing storage entry */
    ckpt_entries(e, &p);
    e[E_DATA0].name = "archive/data/7";
    zip = build_zip(e, N_CKPT_ENTRIES, 0, &size, NULL);
    expect_reject(zip, size, "storage '0' has no entry data/0 in the archive");
    free(zip);
    attx_buf_free(&p);
}

static void test_zip64_attacks(void **state)
{
    (void)state;
    attx_buf p = {0};
    pk_one_tensor(&p, "w", 6, 0, 2, shape23, stride23);
    zlayout lay;
    size_t size;
    unsigned char *zip = make_ckpt(&p, 1, &size, &lay);
    attx_tensor_file f;
    expect_accept(zip, size, &f);                  /* zip64 end records, as torch writes them */
    attx_tensor_file_close(&f);

    /* the zip64 record and the classic end record disagree */
    set_le(zip + lay.end64 + 32, 5, 8);
    expect_reject(zip, size, "multi-disk");          /* entries on this disk != total */
    set_le(zip + lay.end64 + 24, 5, 8);
    expect_reject(zip, size, "disagrees with the end record about the number of entries");
    set_le(zip + lay.end64 + 24, N_CKPT_ENTRIES, 8);
    set_le(zip + lay.end64 + 32, N_CKPT_ENTRIES, 8);
    set_le(zip + lay.end64 + 40, lay.cd_size + 46, 8);
    expect_reject(zip, size, "disagrees with the end record about the central directory size");
    set_le(zip + lay.end64 + 40, lay.cd_size, 8);
    set_le(zip + lay.end64 + 48, lay.cd_off + 1, 8);
    expect_reject(zip, size, "disagrees with the end record about the central directory offset");
    /* ... but 0xFFFFFFFF in the classic record means "see zip64" */
    set_le(zip + lay.end + 16, 0xFFFFFFFFu, 4);
    expect_reject(zip, size, "lies outside the file");     /* now the zip64 offset is used */
    set_le(zip + lay.end64 + 48, 1u << 31, 8);
    expect_reject(zip, size, "central directory (offset 2147483648");
    set_le(zip + lay.end64 + 48, lay.cd_off, 8);
    expect_accept(zip, size, &f);
    attx_tensor_file_close(&f);
    /* too many entries */
    set_le(zip + lay.end + 10, 0xFFFF, 2);
    set_le(zip + lay.end + 8, 0xFFFF, 2);
    set_le(zip + lay.end64 + 24, 1000001, 8);
    set_le(zip + lay.end64 + 32, 1000001, 8);
    expect_reject(zip, size, "1000001 entries, more than the 1000000 allowed");
    set_le(zip + lay.end64 + 24, 5000, 8);
    set_le(zip + lay.end64 + 32, 5000, 8);
    expect_reject(zip, size, "cannot hold 5000 entries");
    set_le(zip + lay.end64 + 24, N_CKPT_ENTRIES, 8);
    set_le(zip + lay.end64 + 32, N_CKPT_ENTRIES, 8);
    /* the locator pointing anywhere; a bad record size */
    set_le(zip + lay.locator + 8, size - 30, 8);
    expect_reject(zip, size, "zip64 end of central directory record not found");
    set_le(zip + lay.locator + 8, UINT64_MAX - 5, 8);
    expect_reject(zip, size, "zip64 end of central directory record not found");
    set_le(zip + lay.locator + 8, lay.end64, 8);
    set_le(zip + lay.end64 + 4, UINT64_MAX, 8);
    expect_reject(zip, size, "bad size");
    set_le(zip + lay.end64 + 4, 44, 8);
    set_le(zip + lay.locator + 16, 2, 4);
    expect_reject(zip, size, "multi-disk");
    free(zip);

    /* zip64 extra fields: too short, missing, inconsistent with the local header */
    zentry e[N_CKPT_ENTRIES];
    ckpt_entries(e, &p);
    e[E_DATA0].zip64_extra = 1;
    zip = build_zip(e, N_CKPT_ENTRIES, 1, &size, &lay);
    expect_accept(zip, size, &f);
    attx_tensor_file_close(&f);
    size_t extra = lay.central[E_DATA0] + 46 + strlen("archive/data/0");
    set_le(zip + extra + 2, 16, 2);                 /* the offset no longer fits */
    expect_reject(zip, size, "zip64 extra field of entry 'archive/data/0' is too short");
    set_le(zip + extra + 2, 200, 2);
    expect_reject(zip, size, "malformed extra field");
    set_le(zip + extra, 0x5455, 2);                 /* another field id: no zip64 data */
    set_le(zip + extra + 2, 24, 2);
    expect_reject(zip, size, "needs a zip64 extra field and has none");
    set_le(zip + extra, 1, 2);
    set_le(zip + extra + 4, 1ull << 40, 8);         /* uncompressed size */
    set_le(zip + extra + 12, 1ull << 40, 8);
    expect_reject(zip, size, "size 24 in its local header and 1099511627776");
    size_t local_extra = lay.local[E_DATA0] + 30 + strlen("archive/data/0");
    set_le(zip + local_extra + 4, 1ull << 40, 8);
    set_le(zip + local_extra + 12, 1ull << 40, 8);
    expect_reject(zip, size, "runs past the data area");
    set_le(zip + extra + 4, 24, 8);
    set_le(zip + extra + 12, 24, 8);
    set_le(zip + local_extra + 4, 24, 8);
    set_le(zip + local_extra + 12, 24, 8);
    set_le(zip + extra + 20, UINT64_MAX, 8);        /* local header offset */
    expect_reject(zip, size, "outside the data area");
    set_le(zip + extra + 20, lay.local[E_DATA0], 8);
    set_le(zip + local_extra + 4, 25, 8);
    expect_reject(zip, size, "size 25 in its local header and 24 in the central directory");
    free(zip);
    attx_buf_free(&p);
}

static void test_tensor_view_attacks(void **state)
{
    (void)state;
    attx_buf p = {0};
    /* storage size != numel x element size */
    pk_one_tensor(&p, "w", 7, 0, 1, (const int64_t[]){6}, (const int64_t[]){1});
    expect_reject_pickle(&p, "storage '0' holds 24 bytes but its 7 F32 elements need 28");
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "w");
    pk_tensor(&p, "DoubleStorage", "0", 6, 0, 1, (const int64_t[]){6}, (const int64_t[]){1});
    pk_dict_end(&p);
    expect_reject_pickle(&p, "need 48");
    p.len = 0;
    pk_one_tensor(&p, "w", INT64_MAX, 0, 1, (const int64_t[]){6}, (const int64_t[]){1});
    expect_reject_pickle(&p, "impossibly large");
    /* view extent past the storage */
    p.len = 0;
    pk_one_tensor(&p, "w", 6, 1, 2, shape23, stride23);
    expect_reject_pickle(&p, "tensor 'w' reaches element 6 of a storage of 6 elements");
    p.len = 0;
    pk_one_tensor(&p, "w", 6, 0, 2, shape23, (const int64_t[]){1, 3});
    expect_reject_pickle(&p, "reaches element 7");
    p.len = 0;
    pk_one_tensor(&p, "w", 6, 7, 2, (const int64_t[]){0, 3}, stride23);
    expect_reject_pickle(&p, "starts at element 7 of a storage of 6");
    /* overflowing sizes and strides */
    p.len = 0;
    pk_one_tensor(&p, "w", 6, 0, 2, (const int64_t[]){1ll << 62, 2}, (const int64_t[]){1ll << 62, 1});
    expect_reject_pickle(&p, "tensor 'w' has strides whose extent overflows");
    p.len = 0;
    pk_one_tensor(&p, "w", 6, 0, 2, (const int64_t[]){4, 1ll << 62}, (const int64_t[]){1, 1});
    expect_reject_pickle(&p, "tensor 'w' has a shape whose size overflows");
    p.len = 0;
    pk_one_tensor(&p, "w", 6, INT64_MAX, 1, (const int64_t[]){3}, (const int64_t[]){INT64_MAX});
    expect_reject_pickle(&p, "extent overflows");
    p.len = 0;
    pk_one_tensor(&p, "w", 6, 0, 1, (const int64_t[]){-1}, (const int64_t[]){1});
    expect_reject_pickle(&p, "tensor size holds -1");
    p.len = 0;
    pk_one_tensor(&p, "w", 6, 0, 1, (const int64_t[]){2}, (const int64_t[]){-3});
    expect_reject_pickle(&p, "tensor stride holds -3");
    p.len = 0;
    pk_one_tensor(&p, "w", 6, -2, 1, (const int64_t[]){2}, (const int64_t[]){1});
    expect_reject_pickle(&p, "storage offset is not an int >= 0");
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "w");
    pk_tensor(&p, "FloatStorage", "0", -6, 0, 1, (const int64_t[]){6}, (const int64_t[]){1});
    pk_dict_end(&p);
    expect_reject_pickle(&p, "storage size is not an int >= 0");
    /* an expand that would copy terabytes */
    p.len = 0;
    pk_one_tensor(&p, "w", 6, 0, 1, (const int64_t[]){1ll << 40}, (const int64_t[]){0});
    expect_reject_pickle(&p, "tensor 'w' is a strided view that would need more than");
    /* too many dimensions */
    p.len = 0;
    const int64_t ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    pk_one_tensor(&p, "w", 6, 0, 9, ones, ones);
    expect_reject_pickle(&p, "tensor has 9 dimensions; attx allows at most 8");
    /* sizes and strides of different lengths */
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "w");
    pk_global(&p, "torch._utils", "_rebuild_tensor_v2");
    put_u8(&p, '(');
    put_u8(&p, '(');
    pk_str(&p, "storage");
    pk_global(&p, "torch", "FloatStorage");
    pk_str(&p, "0");
    pk_str(&p, "cpu");
    pk_int(&p, 6);
    put_u8(&p, 't');
    put_u8(&p, 'Q');
    pk_int(&p, 0);
    pk_int_tuple(&p, 2, shape23);
    pk_int_tuple(&p, 1, stride23);
    put_u8(&p, 0x89);
    put_u8(&p, '}');
    put_u8(&p, 't');
    put_u8(&p, 'R');
    pk_dict_end(&p);
    expect_reject_pickle(&p, "tensor has 2 sizes but 1 strides");
    /* a tensor name that is not UTF-8 */
    p.len = 0;
    pk_one_tensor(&p, "w\xff", 6, 0, 2, shape23, stride23);
    expect_reject_pickle(&p, "is not valid UTF-8");
    /* the same name twice */
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "w");
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 2, shape23, stride23);
    pk_str(&p, "w");
    pk_tensor(&p, "FloatStorage", "1", 3, 0, 1, (const int64_t[]){3}, (const int64_t[]){1});
    pk_dict_end(&p);
    expect_reject_pickle(&p, "tensor 'w' appears twice");
    attx_buf_free(&p);
}

static void test_pickle_attacks(void **state)
{
    (void)state;
    attx_buf p = {0};
    /* globals outside the whitelist, by GLOBAL and by STACK_GLOBAL */
    put_u8(&p, 0x80);
    put_u8(&p, 2);
    pk_global(&p, "os", "system");
    pk_str(&p, "rm -rf /");
    put_u8(&p, 0x85);
    put_u8(&p, 'R');
    put_u8(&p, '.');
    expect_reject_pickle(&p, "archive/data.pkl: byte 2 (GLOBAL): pickle calls 'os.system', which a state dict never does");
    p.len = 0;
    put_u8(&p, 0x80);
    put_u8(&p, 4);
    put_u8(&p, 0x8c);
    put_u8(&p, 8);
    attx_buf_append(&p, "builtins", 8);
    put_u8(&p, 0x8c);
    put_u8(&p, 4);
    attx_buf_append(&p, "eval", 4);
    put_u8(&p, 0x93);
    put_u8(&p, '.');
    expect_reject_pickle(&p, "pickle calls 'builtins.eval'");
    /* whitelisted names that are not callable: a storage type */
    p.len = 0;
    put_u8(&p, 0x80);
    put_u8(&p, 2);
    pk_global(&p, "torch", "FloatStorage");
    put_u8(&p, ')');
    put_u8(&p, 'R');
    put_u8(&p, '.');
    expect_reject_pickle(&p, "pickle calls 'torch.FloatStorage'");
    /* a GLOBAL name without its newline */
    p.len = 0;
    put_u8(&p, 'c');
    for (int i = 0; i < 300; i++) put_u8(&p, 'a');
    expect_reject_pickle(&p, "name not terminated");
    /* unknown and unsupported opcodes */
    p.len = 0;
    put_u8(&p, 0x80);
    put_u8(&p, 2);
    put_u8(&p, 0xff);
    expect_reject_pickle(&p, "byte 2: unknown pickle opcode 0xff");
    p.len = 0;
    put_u8(&p, 'i');
    expect_reject_pickle(&p, "byte 0: unsupported pickle opcode 0x69 (INST)");
    /* protocol */
    p.len = 0;
    put_u8(&p, 0x80);
    put_u8(&p, 9);
    expect_reject_pickle(&p, "pickle protocol 9 is not supported");
    /* stack underflow, in several ways */
    const char *underflows[] = {"\x80\x02\x86.", "\x80\x02s", "\x80\x02.", "\x80\x02R", "(\x85",
                                "\x80\x02(u", "\x80\x02]Ka(a"};
    for (size_t i = 0; i < sizeof underflows / sizeof underflows[0]; i++) {
        p.len = 0;
        attx_buf_puts(&p, underflows[i]);
        expect_reject_pickle(&p, "stack underflow");
    }
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02K\x01t");
    expect_reject_pickle(&p, "no MARK on the stack");
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02}(K\x01u");
    expect_reject_pickle(&p, "a key without a value");
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02K\x01K\x02K\x03s");
    expect_reject_pickle(&p, "adds items to a int, not a dict");
    /* memo */
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02h\x05");
    expect_reject_pickle(&p, "memo index 5 was never set");
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02N");
    put_u8(&p, 'r');
    put_le(&p, 0xFFFFFFFF, 4);
    expect_reject_pickle(&p, "memo index 4294967295; at most");
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02Nq\x03j");
    put_le(&p, 1u << 30, 4);
    expect_reject_pickle(&p, "memo index 1073741824 was never set");
    /* huge and lying length fields */
    p.len = 0;
    put_u8(&p, 'X');
    put_le(&p, 0xFFFFFFF0, 4);
    expect_reject_pickle(&p, "string of 4294967280 bytes");
    p.len = 0;
    put_u8(&p, 0x8d);
    put_le(&p, 1ull << 63, 8);
    expect_reject_pickle(&p, "string of 9223372036854775808 bytes");
    p.len = 0;
    put_u8(&p, 'X');
    put_le(&p, 100, 4);
    attx_buf_puts(&p, "short");
    expect_reject_pickle(&p, "the pickle ends inside this opcode");
    p.len = 0;
    put_u8(&p, 'T');
    put_le(&p, 0xFFFFFFFE, 4);
    expect_reject_pickle(&p, "negative string length");
    p.len = 0;
    put_u8(&p, 0x95);
    put_le(&p, UINT64_MAX, 8);
    expect_reject_pickle(&p, "frame of 18446744073709551615 bytes");
    p.len = 0;
    put_u8(&p, 0x8a);
    put_u8(&p, 9);
    expect_reject_pickle(&p, "integer of 9 bytes");
    p.len = 0;
    put_u8(&p, 'J');
    put_u8(&p, 1);
    expect_reject_pickle(&p, "ends inside this opcode");
    /* MARKs nested beyond the limit */
    p.len = 0;
    for (int i = 0; i < 300; i++) put_u8(&p, '(');
    expect_reject_pickle(&p, "MARKs nested deeper than 256");
    /* no STOP */
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02}");
    expect_reject_pickle(&p, "the pickle ends without STOP");
    /* BUILD on something other than a dict; NEWOBJ of a non-dict */
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02]}b.");
    expect_reject_pickle(&p, "sets the state of a list");
    p.len = 0;
    put_u8(&p, 0x80);
    put_u8(&p, 2);
    pk_global(&p, "torch._utils", "_rebuild_tensor_v2");
    put_u8(&p, ')');
    put_u8(&p, 0x81);
    expect_reject_pickle(&p, "only OrderedDict objects can be created");
    /* persistent ids that are not storages */
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02K\x01Q");
    expect_reject_pickle(&p, "persistent id is not a 5-tuple");
    p.len = 0;
    put_u8(&p, 0x80);
    put_u8(&p, 2);
    put_u8(&p, '(');
    pk_str(&p, "storage");
    pk_global(&p, "collections", "OrderedDict");
    pk_str(&p, "0");
    pk_str(&p, "cpu");
    pk_int(&p, 6);
    attx_buf_puts(&p, "tQ");
    expect_reject_pickle(&p, "storage type is not one of torch's storage classes");
    /* a _rebuild_tensor_v2 of the wrong things */
    p.len = 0;
    put_u8(&p, 0x80);
    put_u8(&p, 2);
    pk_global(&p, "torch._utils", "_rebuild_tensor_v2");
    attx_buf_puts(&p, "(K\x01K\x02K\x03K\x04K\x05K\x06tR.");
    expect_reject_pickle(&p, "_rebuild_tensor_v2 of a int, not a storage");
    p.len = 0;
    put_u8(&p, 0x80);
    put_u8(&p, 2);
    pk_global(&p, "torch._utils", "_rebuild_parameter");
    attx_buf_puts(&p, "(K\x01\x89}tR.");
    expect_reject_pickle(&p, "_rebuild_parameter of a int, not a tensor");
    attx_buf_free(&p);
}

/* The object, stack and string limits hold for real (well-formed but huge) pickles. */
static void test_pickle_limits(void **state)
{
    (void)state;
    attx_buf p = {0};
    put_u8(&p, 0x80);
    put_u8(&p, 2);
    for (int i = 0; i < 1000001; i++) put_u8(&p, 'N');
    expect_reject_pickle(&p, "byte 1000002 (NONE): stack deeper than 1000000 entries");
    p.len = 0;
    for (int i = 0; i < 2100; i++) {             /* (N N ... N) tuples: 1001 objects each */
        put_u8(&p, '(');
        for (int k = 0; k < 1000; k++) put_u8(&p, 'N');
        put_u8(&p, 't');
    }
    expect_reject_pickle(&p, "more than 2097152 objects");
    p.len = 0;
    put_u8(&p, 'X');
    put_le(&p, 2u << 20, 4);
    for (int i = 0; i < (2 << 20); i++) put_u8(&p, 'a');
    expect_reject_pickle(&p, "string of 2097152 bytes; at most 1048576 allowed");
    attx_buf_free(&p);
}

/* What the pickle holds must be a state dict (or a checkpoint with one). */
static void test_not_a_state_dict(void **state)
{
    (void)state;
    attx_buf p = {0};
    attx_buf_puts(&p, "\x80\x02]K\x01" "a.");
    expect_reject_pickle(&p, "data.pkl holds a list, not a dict of tensors");
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "epoch");
    pk_int(&p, 3);
    pk_str(&p, "w");
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 2, shape23, stride23);
    pk_dict_end(&p);
    expect_reject_pickle(&p, "data.pkl holds a dict whose value 'epoch' is not a tensor (a int); attx reads state dicts");
    p.len = 0;
    pk_dict_begin(&p);
    pk_int(&p, 3);
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 2, shape23, stride23);
    pk_dict_end(&p);
    expect_reject_pickle(&p, "data.pkl holds a dict with a int key");
    /* two candidate state dicts: ambiguous */
    p.len = 0;
    pk_dict_begin(&p);
    pk_str(&p, "epoch");
    pk_int(&p, 3);
    const char *keys[] = {"model", "state_dict"};
    for (int i = 0; i < 2; i++) {
        pk_str(&p, keys[i]);
        put_u8(&p, '}');
        put_u8(&p, '(');
        pk_str(&p, "w");
        pk_tensor(&p, "FloatStorage", "0", 6, 0, 2, shape23, stride23);
        put_u8(&p, 'u');
    }
    pk_dict_end(&p);
    expect_reject_pickle(&p, "value 'epoch' is not a tensor");
    /* an empty state dict is a valid (empty) file */
    p.len = 0;
    attx_buf_puts(&p, "\x80\x02}.");
    size_t size;
    unsigned char *zip = make_ckpt(&p, 0, &size, NULL);
    attx_tensor_file f;
    expect_accept(zip, size, &f);
    assert_int_equal(f.n_tensors, 0);
    attx_tensor_file_close(&f);
    free(zip);
    attx_buf_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_matches_safetensors),
        cmocka_unit_test(test_fixture_views),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_handmade_good),
        cmocka_unit_test(test_rebuild_tensor_v3),
        cmocka_unit_test(test_zip_container_attacks),
        cmocka_unit_test(test_zip64_attacks),
        cmocka_unit_test(test_tensor_view_attacks),
        cmocka_unit_test(test_pickle_attacks),
        cmocka_unit_test(test_pickle_limits),
        cmocka_unit_test(test_not_a_state_dict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
