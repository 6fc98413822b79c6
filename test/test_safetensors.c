/* test_safetensors.c — the safetensors reader's every rejection, truncation at every byte,
 * random corruption, and write -> read round trips (with F16/BF16 conversion). */
#include "testutil.h"

#include <math.h>

/* A safetensors file from a header string and `data_len` bytes of data (byte i = i & 0xFF). */
static unsigned char *make_file(const char *header, size_t data_len, size_t *size)
{
    size_t hlen = strlen(header);
    *size = 8 + hlen + data_len;
    unsigned char *p = malloc(*size ? *size : 1);
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(p + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++) p[8 + hlen + i] = (unsigned char)i;
    return p;
}

/* Parses header + data and expects failure with `phrase` in the message (and the file name). */
static void expect_reject(const char *header, size_t data_len, const char *phrase)
{
    size_t size;
    unsigned char *bytes = make_file(header, data_len, &size);
    attx_tensor_file f;
    attx_error err;
    if (attx_safetensors_parse(&f, bytes, size, "bad.safetensors", &err) == 0)
        fail_msg("accepted: %s", header);
    assert_contains(err.msg, "bad.safetensors: ");
    assert_contains(err.msg, phrase);
    free(bytes);
}

static void expect_accept(const char *header, size_t data_len, size_t n_tensors)
{
    size_t size;
    unsigned char *bytes = make_file(header, data_len, &size);
    attx_tensor_file f;
    attx_error err;
    if (attx_safetensors_parse(&f, bytes, size, "good.safetensors", &err) != 0)
        fail_msg("rejected %s: %s", header, err.msg);
    assert_int_equal(f.n_tensors, n_tensors);
    attx_tensor_file_close(&f);
    free(bytes);
}

static void test_rejections(void **state)
{
    (void)state;
    attx_tensor_file f;
    attx_error err;
    unsigned char tiny[5] = {1, 0, 0, 0, 0};
    assert_int_equal(attx_safetensors_parse(&f, tiny, sizeof tiny, "bad.safetensors", &err), -1);
    assert_contains(err.msg, "too small");

    unsigned char huge[16] = {0};
    uint64_t big = 100000001;
    for (int i = 0; i < 8; i++) huge[i] = (unsigned char)(big >> (8 * i));
    assert_int_equal(attx_safetensors_parse(&f, huge, sizeof huge, "bad.safetensors", &err), -1);
    assert_contains(err.msg, "100 MB");
    huge[0] = 9; huge[1] = huge[2] = huge[3] = 0;          /* 9 bytes of header in a 16-byte file */
    assert_int_equal(attx_safetensors_parse(&f, huge, sizeof huge, "bad.safetensors", &err), -1);
    assert_contains(err.msg, "larger than the file");
    for (int i = 0; i < 8; i++) huge[i] = 0xFF;            /* u64 max: no overflow in 8 + N */
    assert_int_equal(attx_safetensors_parse(&f, huge, sizeof huge, "bad.safetensors", &err), -1);
    assert_contains(err.msg, "100 MB");

    expect_reject("{\"a\": ", 0, "invalid JSON");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4, "invalid JSON");
    expect_reject("{\"\xff\":{}}", 0, "UTF-8");
    expect_reject("[1, 2]", 0, "not a JSON object");
    expect_reject("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype \"F33\"");
    expect_reject("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "\"dtype\"");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "\"shape\"");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative integer");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "non-negative integer");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
                  "9 dimensions");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "data_offsets");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end before");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4, "data_offsets");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20,
                  "hold 20 bytes but shape [2, 3] x F32 needs 24");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
                  "overflows");
    expect_reject("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952,2],\"data_offsets\":[0,4]}}", 4,
                  "overflows");
    expect_reject("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "whole bytes");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "past the end");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "gap");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "overlap");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "must start at 0");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 7, "3 bytes after the last");
    expect_reject("{\"__metadata__\":{\"k\":1}}", 0, "value of 'k' is not a string");
    expect_reject("{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is not an object");
    expect_reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate");
    expect_reject("{\"a\":7}", 0, "not an object");
    expect_reject("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "NUL");
}

static void test_accepted_edge_cases(void **state)
{
    (void)state;
    expect_accept("{}", 0, 0);
    expect_accept("  {}  ", 0, 0);                        /* whitespace padding, as the reference */
    expect_accept("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, 1);   /* scalar */
    expect_accept("{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[0,0]},"
                  "\"a\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[0,16]}}", 16, 2);
    expect_accept("{\"a\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[0,2]},"
                  "\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[2,5]}}", 5, 2);
    expect_accept("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4, 1);
}

/* A small valid file used by the truncation and corruption tests. */
static unsigned char *small_valid_file(size_t *size)
{
    float w[6] = {1, -2, 3.5f, 0.25f, -0.125f, 1e-3f};
    int64_t ids[4] = {0, 1, 2, 3};
    attx_st_entry e[3] = {
        {.name = "w", .dtype = ATTX_F32, .ndim = 2, .shape = {2, 3}, .f32 = w},
        {.name = "h", .dtype = ATTX_F16, .ndim = 1, .shape = {6}, .f32 = w},
        {.name = "position_ids", .dtype = ATTX_I64, .ndim = 2, .shape = {1, 4}, .raw = ids},
    };
    const char *keys[] = {"format"}, *vals[] = {"pt"};
    attx_buf out = {0};
    attx_error err;
    assert_int_equal(attx_safetensors_serialize(&out, e, 3, keys, vals, 1, &err), 0);
    *size = out.len;
    return (unsigned char *)out.data;
}

static void test_truncation_every_byte(void **state)
{
    (void)state;
    size_t size;
    unsigned char *full = small_valid_file(&size);
    for (size_t n = 0; n < size; n++) {
        unsigned char *prefix = malloc(n ? n : 1);   /* exact size: ASan sees any over-read */
        memcpy(prefix, full, n);
        attx_tensor_file f;
        attx_error err;
        if (attx_safetensors_parse(&f, prefix, n, "cut.safetensors", &err) == 0)
            fail_msg("a %zu-byte prefix of a %zu-byte file was accepted", n, size);
        assert_contains(err.msg, "cut.safetensors: ");
        free(prefix);
    }
    attx_tensor_file f;
    attx_error err;
    assert_int_equal(attx_safetensors_parse(&f, full, size, "full.safetensors", &err), 0);
    attx_tensor_file_close(&f);
    free(full);
}


/* Random byte mutations: each parse succeeds or fails cleanly, and every accepted tensor lies
 * inside the buffer with a size that matches its shape. */
static void test_random_corruption(void **state)
{
    (void)state;
    uint64_t rng_state = 0x9E3779B97F4A7C15ull;
    size_t size;
    unsigned char *full = small_valid_file(&size);
    int accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        unsigned char *m = malloc(size);
        memcpy(m, full, size);
        int flips = 1 + (int)(tu_random(&rng_state) % 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = tu_random(&rng_state) % size;
            m[pos] = iter % 3 == 0 ? (unsigned char)tu_random(&rng_state) : (unsigned char)(m[pos] ^ (1u << (tu_random(&rng_state) % 8)));
        }
        attx_tensor_file f;
        attx_error err;
        if (attx_safetensors_parse(&f, m, size, "fuzz.safetensors", &err) == 0) {
            accepted++;
            for (size_t i = 0; i < f.n_tensors; i++) {
                const attx_stored_tensor *t = &f.tensors[i];
                assert_true(t->data >= m && t->data + t->nbytes <= m + size);
                assert_int_equal(t->nbytes * 8, t->numel * attx_dtype_bits(t->dtype));
            }
            attx_tensor_file_close(&f);
        } else {
            assert_contains(err.msg, "fuzz.safetensors: ");
        }
        free(m);
    }
    assert_true(accepted > 0);   /* flips inside tensor data are harmless */
    free(full);
}

static void test_round_trip_memory(void **state)
{
    (void)state;
    float w[6] = {1, -2, 3.5f, 0.1f, -65504.0f, 1e-8f};
    int64_t ids[4] = {0, 1, -2, 3};
    float scalar = 42.0f;
    attx_st_entry e[5] = {
        {.name = "w32", .dtype = ATTX_F32, .ndim = 2, .shape = {2, 3}, .f32 = w},
        {.name = "w16", .dtype = ATTX_F16, .ndim = 2, .shape = {3, 2}, .f32 = w},
        {.name = "wbf", .dtype = ATTX_BF16, .ndim = 1, .shape = {6}, .f32 = w},
        {.name = "ids", .dtype = ATTX_I64, .ndim = 2, .shape = {1, 4}, .raw = ids},
        {.name = "scalar", .dtype = ATTX_F32, .ndim = 0, .f32 = &scalar},
    };
    const char *keys[] = {"attx.config", "note"}, *vals[] = {"{\"model_type\": \"bert\"}", "ü \"quoted\"\n"};
    attx_buf out = {0};
    attx_error err;
    assert_int_equal(attx_safetensors_serialize(&out, e, 5, keys, vals, 2, &err), 0);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)out.data[i];
    assert_int_equal(hlen % 8, 0);                       /* data starts 8-aligned */

    attx_tensor_file f;
    assert_int_equal(attx_safetensors_parse(&f, out.data, out.len, "rt.safetensors", &err), 0);
    assert_int_equal(f.n_tensors, 5);
    /* reference order: descending alignment (I64, F32, F16/BF16), then name */
    const char *order[] = {"ids", "scalar", "w32", "w16", "wbf"};
    for (int i = 0; i < 5; i++) assert_string_equal(f.tensors[i].name, order[i]);
    assert_string_equal(attx_tensor_file_meta(&f, "attx.config"), vals[0]);
    assert_string_equal(attx_tensor_file_meta(&f, "note"), vals[1]);
    assert_null(attx_tensor_file_meta(&f, "missing"));

    const attx_stored_tensor *t = attx_tensor_file_find(&f, "w32");
    float back[6];
    assert_int_equal(attx_stored_tensor_to_f32(t, back, &err), 0);
    assert_memory_equal(back, w, sizeof w);
    t = attx_tensor_file_find(&f, "w16");
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 3);
    assert_int_equal(attx_stored_tensor_to_f32(t, back, &err), 0);
    for (int i = 0; i < 6; i++) assert_true(back[i] == attx_f16_to_f32(attx_f32_to_f16(w[i])));
    assert_true(back[3] != w[3] && fabsf(back[3] - w[3]) < 1e-4f);   /* 0.1 is not exact in F16 */
    t = attx_tensor_file_find(&f, "wbf");
    assert_int_equal(attx_stored_tensor_to_f32(t, back, &err), 0);
    for (int i = 0; i < 6; i++) assert_true(back[i] == attx_bf16_to_f32(attx_f32_to_bf16(w[i])));
    t = attx_tensor_file_find(&f, "ids");
    assert_memory_equal(t->data, ids, sizeof ids);
    assert_int_equal(attx_stored_tensor_to_f32(t, back, &err), -1);
    assert_contains(err.msg, "dtype I64");
    t = attx_tensor_file_find(&f, "scalar");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    assert_null(attx_tensor_file_find(&f, "nope"));
    attx_tensor_file_close(&f);
    attx_buf_free(&out);
}

/* Written to disk, read back through mmap, and re-written from stored tensors with conversion. */
static void test_round_trip_file_and_conversion(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *a = tu_path(dir, "a.safetensors"), *b = tu_path(dir, "b.safetensors");
    float w[2048 * 3];
    for (int i = 0; i < 2048 * 3; i++) w[i] = sinf((float)i) * 10.0f;
    attx_st_entry e[1] = {{.name = "big", .dtype = ATTX_F32, .ndim = 2, .shape = {3, 2048}, .f32 = w}};
    attx_error err;
    assert_int_equal(attx_safetensors_write(a, e, 1, NULL, NULL, 0, &err), 0);
    attx_tensor_file fa;
    assert_int_equal(attx_safetensors_open(&fa, a, &err), 0);
    const attx_stored_tensor *t = attx_tensor_file_find(&fa, "big");
    assert_non_null(t);
    attx_st_entry e2[2] = {
        {.name = "as_f16", .dtype = ATTX_F16, .ndim = 2, .shape = {3, 2048}, .stored = t},
        {.name = "as_bf16", .dtype = ATTX_BF16, .ndim = 1, .shape = {6144}, .stored = t},
    };
    assert_int_equal(attx_safetensors_write(b, e2, 2, NULL, NULL, 0, &err), 0);
    attx_tensor_file fb;
    assert_int_equal(attx_safetensors_open(&fb, b, &err), 0);
    static float back[2048 * 3];
    assert_int_equal(attx_stored_tensor_to_f32(attx_tensor_file_find(&fb, "as_f16"), back, &err), 0);
    for (int i = 0; i < 2048 * 3; i++) assert_true(back[i] == attx_f16_to_f32(attx_f32_to_f16(w[i])));
    assert_int_equal(attx_stored_tensor_to_f32(attx_tensor_file_find(&fb, "as_bf16"), back, &err), 0);
    for (int i = 0; i < 2048 * 3; i++) assert_true(back[i] == attx_bf16_to_f32(attx_f32_to_bf16(w[i])));

    /* bad entries are refused before anything is written */
    attx_st_entry wrong = {.name = "x", .dtype = ATTX_F16, .ndim = 1, .shape = {5}, .stored = t};
    assert_int_equal(attx_safetensors_write(b, &wrong, 1, NULL, NULL, 0, &err), -1);
    assert_contains(err.msg, "invalid entry");
    attx_st_entry twice[2] = {e[0], e[0]};
    assert_int_equal(attx_safetensors_write(b, twice, 2, NULL, NULL, 0, &err), -1);
    assert_contains(err.msg, "given twice");
    attx_tensor_file_close(&fa);
    attx_tensor_file_close(&fb);

    /* open errors name the file */
    assert_int_equal(attx_safetensors_open(&fa, dir, &err), -1);
    assert_contains(err.msg, "is a directory");
    char *missing = tu_path(dir, "missing.safetensors");
    assert_int_equal(attx_safetensors_open(&fa, missing, &err), -1);
    assert_contains(err.msg, "missing.safetensors: No such file");
    free(missing);
    free(a);
    free(b);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_accepted_edge_cases),
        cmocka_unit_test(test_truncation_every_byte),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_round_trip_memory),
        cmocka_unit_test(test_round_trip_file_and_conversion),
    };
    return cmocka_run_group_tests_name("safetensors", tests, NULL, NULL);
}
