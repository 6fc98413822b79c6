/* test_dtype.c — dtype names and sizes; F16/BF16 conversions against PyTorch's results
 * (test/fixtures/dtype, made by tools/reference/make_dtype_fixture.py). */
#include "testutil.h"

#include <math.h>

static float f32_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static int f16_is_nan(uint16_t h) { return (h & 0x7C00) == 0x7C00 && (h & 0x3FF); }
static int bf16_is_nan(uint16_t h) { return (h & 0x7F80) == 0x7F80 && (h & 0x7F); }

static void test_names_and_bits(void **state)
{
    (void)state;
    assert_int_equal(attx_dtype_from_name("F32", 3), ATTX_F32);
    assert_int_equal(attx_dtype_from_name("BF16", 4), ATTX_BF16);
    assert_int_equal(attx_dtype_from_name("F8_E4M3FNUZ", 11), ATTX_F8_E4M3FNUZ);
    assert_int_equal(attx_dtype_from_name("F3", 2), ATTX_DTYPE_INVALID);
    assert_int_equal(attx_dtype_from_name("F32 ", 4), ATTX_DTYPE_INVALID);
    assert_int_equal(attx_dtype_from_name("f32", 3), ATTX_DTYPE_INVALID);
    assert_int_equal(attx_dtype_bits(ATTX_F4), 4);
    assert_int_equal(attx_dtype_bits(ATTX_F6_E2M3), 6);
    assert_int_equal(attx_dtype_bits(ATTX_BOOL), 8);
    assert_int_equal(attx_dtype_bits(ATTX_I64), 64);
    assert_int_equal(attx_dtype_bits(ATTX_C64), 64);
    assert_true(attx_dtype_is_float_weight(ATTX_F16));
    assert_false(attx_dtype_is_float_weight(ATTX_F64));
    for (int t = 1; t < ATTX_DTYPE_COUNT; t++) {   /* every name maps back to its dtype */
        const char *n = attx_dtype_name((attx_dtype)t);
        assert_int_equal(attx_dtype_from_name(n, strlen(n)), t);
    }
}

/* Every F32 input of the fixture rounds to exactly torch's F16 and BF16 bits. */
static void test_f32_to_half_matches_torch(void **state)
{
    (void)state;
    FILE *f = fopen("test/fixtures/dtype/f32_to_half.txt", "r");
    assert_non_null(f);
    unsigned in, h, bh;
    int n = 0;
    while (fscanf(f, "%x %x %x", &in, &h, &bh) == 3) {
        float x = f32_of(in);
        uint16_t got_h = attx_f32_to_f16(x), got_bh = attx_f32_to_bf16(x);
        if (isnan(x)) {   /* NaN payloads differ between implementations; NaN must stay NaN */
            assert_true(f16_is_nan(got_h) && f16_is_nan((uint16_t)h));
            assert_true(bf16_is_nan(got_bh) && bf16_is_nan((uint16_t)bh));
            assert_int_equal(got_h & 0x8000, in >> 16 & 0x8000);
            assert_int_equal(got_bh & 0x8000, in >> 16 & 0x8000);
        } else {
            if (got_h != h) fail_msg("f16(%08x): got %04x, torch %04x", in, got_h, h);
            if (got_bh != bh) fail_msg("bf16(%08x): got %04x, torch %04x", in, got_bh, bh);
        }
        n++;
    }
    fclose(f);
    assert_true(n > 3000);
}

static void test_half_to_f32_matches_torch(void **state)
{
    (void)state;
    FILE *f = fopen("test/fixtures/dtype/half_to_f32.txt", "r");
    assert_non_null(f);
    unsigned h, a, b;
    int n = 0;
    while (fscanf(f, "%x %x %x", &h, &a, &b) == 3) {
        float fa = attx_f16_to_f32((uint16_t)h), fb = attx_bf16_to_f32((uint16_t)h);
        if (isnan(fa)) assert_true(isnan(f32_of(a)));
        else assert_int_equal(bits_of(fa), a);
        if (isnan(fb)) assert_true(isnan(f32_of(b)));
        else assert_int_equal(bits_of(fb), b);
        n++;
    }
    fclose(f);
    assert_true(n > 1700);
}

/* Exhaustive: every non-NaN half widens and narrows back to itself, and widening is monotone. */
static void test_half_round_trip_exhaustive(void **state)
{
    (void)state;
    float prev = -INFINITY;
    for (uint32_t h = 0xFC00; h >= 0x8000; h--) {   /* negatives from -inf up to -0 */
        float x = attx_f16_to_f32((uint16_t)h);
        assert_int_equal(attx_f32_to_f16(x), h);
        assert_true(x >= prev);
        prev = x;
    }
    for (uint32_t h = 0; h <= 0x7C00; h++) {         /* +0 up to +inf */
        float x = attx_f16_to_f32((uint16_t)h);
        assert_int_equal(attx_f32_to_f16(x), h);
        assert_true(x >= prev);
        prev = x;
    }
    for (uint32_t h = 0; h < 0x10000; h++) {
        float x = attx_bf16_to_f32((uint16_t)h);
        if (!isnan(x)) assert_int_equal(attx_f32_to_bf16(x), h);
    }
}

/* The array conversions (the F16C instruction where the CPU has it, else the scalar loop) give
 * the same bits as the scalar conversion for all 65,536 values, at every alignment and tail
 * length; a NaN comes out quiet with its sign and payload, as the F16C instruction makes it. */
static void test_half_arrays_exhaustive(void **state)
{
    (void)state;
    enum { N = 65536 + 9 };
    unsigned char *bytes = malloc(2 * N + 1);
    float *out = malloc(N * sizeof *out);
    assert_non_null(bytes);
    assert_non_null(out);
    for (int shift = 0; shift < 2; shift++) {   /* an odd address, then an even one */
        unsigned char *src = bytes + shift;
        for (int i = 0; i < N; i++) {
            src[2 * i] = (unsigned char)(i & 0xFF);
            src[2 * i + 1] = (unsigned char)((i >> 8) & 0xFF);
        }
        for (int bf = 0; bf < 2; bf++) {
            for (int n = N; n >= N - 9; n--) {   /* every tail length of an 8-wide loop */
                if (bf) attx_bf16_to_f32_array(src, (size_t)n, out);
                else attx_f16_to_f32_array(src, (size_t)n, out);
                for (int i = 0; i < n; i++) {
                    uint16_t h = (uint16_t)(i & 0xFFFF);
                    float want = bf ? attx_bf16_to_f32(h) : attx_f16_to_f32(h);
                    assert_int_equal(bits_of(out[i]), bits_of(want));
                }
            }
        }
    }
    /* the scalar F16 rule for NaN: quiet bit set, sign and payload kept */
    assert_int_equal(bits_of(attx_f16_to_f32(0x7C01)), 0x7FC02000u);
    assert_int_equal(bits_of(attx_f16_to_f32(0xFE00)), 0xFFC00000u);
    assert_int_equal(bits_of(attx_f16_to_f32(0x7C00)), 0x7F800000u);
    free(bytes);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_bits),
        cmocka_unit_test(test_f32_to_half_matches_torch),
        cmocka_unit_test(test_half_to_f32_matches_torch),
        cmocka_unit_test(test_half_round_trip_exhaustive),
        cmocka_unit_test(test_half_arrays_exhaustive),
    };
    return cmocka_run_group_tests_name("dtype", tests, NULL, NULL);
}
