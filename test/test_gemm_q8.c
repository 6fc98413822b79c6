/* test_gemm_q8.c — the int8 linear layer: integer sums against an exact integer reference on
 * every kernel the CPU has (AMX, VNNI, AVX2, portable) over edge-case sizes; the quantisation of
 * weights and activations against the formulas of gemm_q8.c evaluated in double; the whole
 * layer against fp32 within the quantisation error bound; the same bits on every kernel and
 * thread count. */
#include "testutil.h"

#include <math.h>
#include <omp.h>

#include "kernels.h"
#include "parallel.h"

static uint64_t rng = 0xD1B54A32D192ED03ull;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float uniform(void) { return (float)(next() / 4294967296.0 * 2.0 - 1.0); }

/* every kernel: portable, AVX2, AVX-512 VNNI (AMX off), AMX (where the CPU has each) */
static const struct { int isa, amx; } kernels[] = {
    {ATTX_ISA_PORTABLE, 0}, {ATTX_ISA_AVX2, 0}, {ATTX_ISA_AVX512, 0}, {ATTX_ISA_AVX512, 1}};
enum { N_KERNELS = sizeof kernels / sizeof kernels[0] };

static void use_kernel(int i)
{
    attx_gemm_set_isa(kernels[i].isa);
    attx_q8_set_amx(kernels[i].amx);
}

static void use_default_kernel(void)
{
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    attx_q8_set_amx(1);
}

/* Σ_k u[m, k]·q[n, k] for u of 0..255 and weights whose quantised values are known exactly:
 * W[n, k] = q[n, k] with a 127 in every row (so the scale is 1 and q = W). */
static void test_integer_sums_exact(void **state)
{
    (void)state;
    static const int sizes[][3] = {{1, 1, 1}, {1, 16, 4}, {7, 17, 5}, {8, 48, 384}, {9, 49, 383},
                                   {24, 384, 1536}, {3, 1536, 384}, {17, 100, 1001}, {1, 2, 3}, {33, 65, 64},
                                   {70, 40, 130}, {48, 16, 64}, {32, 48, 448}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        float *W = malloc(sizeof(float) * (size_t)N * K);
        uint8_t *u = malloc((size_t)M * K);
        int32_t *acc = malloc(sizeof(int32_t) * (size_t)M * N);
        int8_t *q = malloc((size_t)N * K);
        assert_true(W && u && acc && q);
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++) W[(size_t)n * K + k] = k == n % K ? (n % 2 ? -127.0f : 127.0f)
                                                                          : (float)((int)(next() % 255) - 127);
        for (size_t i = 0; i < (size_t)M * K; i++) u[i] = (uint8_t)(i % 7 == 0 ? 255 : next() % 256);
        attx_q8_weight *w = attx_q8_weight_new(W, N, K);
        assert_non_null(w);
        float *scale = malloc(sizeof(float) * (size_t)N);
        attx_q8_weight_values(w, q, scale);
        for (int n = 0; n < N; n++) assert_true(scale[n] == 1.0f);
        for (size_t i = 0; i < (size_t)N * K; i++) assert_int_equal(q[i], (int)W[i]);
        for (int i = 0; i < N_KERNELS; i++) {
            use_kernel(i);
            memset(acc, 0x5A, sizeof(int32_t) * (size_t)M * N);
            assert_int_equal(attx_q8_gemm_s32(w, u, M, acc), 0);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    int64_t ref = 0;
                    for (int k = 0; k < K; k++) ref += (int64_t)u[(size_t)m * K + k] * (int64_t)W[(size_t)n * K + k];
                    if (acc[(size_t)m * N + n] != ref)
                        fail_msg("%s, M %d N %d K %d: sum[%d, %d] = %d, exact %lld", attx_q8_kernel_name(), M, N, K,
                                 m, n, acc[(size_t)m * N + n], (long long)ref);
                }
        }
        use_default_kernel();
        attx_q8_weight_free(w);
        free(W);
        free(u);
        free(acc);
        free(q);
        free(scale);
    }
    print_message("q8: best kernel on this CPU: %s\n", attx_q8_kernel_name());
}

/* The weights' scale and rounding, and a row's scale, zero point and codes, against the
 * formulas evaluated in double (ties cannot occur with these random values). */
static void test_quantisation_formulas(void **state)
{
    (void)state;
    int N = 5, K = 37;
    float W[5 * 37], x[37];
    for (int i = 0; i < N * K; i++) W[i] = uniform() * (float)(1 + i % 3);
    W[2 * K + 3] = 0.0f;
    for (int k = 0; k < K; k++) W[4 * K + k] = 0.0f;   /* an all-zero channel */
    attx_q8_weight *w = attx_q8_weight_new(W, N, K);
    int8_t q[5 * 37];
    float scale[5];
    attx_q8_weight_values(w, q, scale);
    for (int n = 0; n < N; n++) {
        double amax = 0;
        for (int k = 0; k < K; k++) amax = fmax(amax, fabs(W[n * K + k]));
        if (amax == 0) {
            assert_true(scale[n] == 1.0f);
            for (int k = 0; k < K; k++) assert_int_equal(q[n * K + k], 0);
            continue;
        }
        assert_float_equal(scale[n], amax / 127.0, 1e-6 * amax);
        for (int k = 0; k < K; k++) assert_int_equal(q[n * K + k], (int)lrint(W[n * K + k] / (amax / 127.0)));
    }
    attx_q8_weight_free(w);

    for (int trial = 0; trial < 3; trial++) {
        for (int k = 0; k < K; k++) x[k] = uniform() * 3.0f + (trial == 1 ? 4.0f : trial == 2 ? -4.0f : 0.0f);
        uint8_t u[37];
        float s;
        int32_t z;
        attx_q8_quantize_row(x, K, u, &s, &z);
        double lo = 0, hi = 0;
        for (int k = 0; k < K; k++) lo = fmin(lo, x[k]), hi = fmax(hi, x[k]);
        assert_float_equal(s, (hi - lo) / 255.0, 1e-6 * (hi - lo));
        assert_int_equal(z, (int)lrint(-lo / ((hi - lo) / 255.0)));
        if (trial == 1) assert_int_equal(z, 0);     /* all positive: lo = 0 */
        if (trial == 2) assert_int_equal(z, 255);   /* all negative: hi = 0 */
        for (int k = 0; k < K; k++) {
            double code = fmin(255, fmax(0, lrint(x[k] / s) + z));
            assert_int_equal(u[k], (int)code);
            /* the code stands for (u − z)·s, within half a step of x */
            assert_true(fabs((u[k] - z) * (double)s - x[k]) <= 0.5001 * s);
        }
    }
    /* an all-zero row: scale 1, zero point 0, codes 0 */
    float zeros[8] = {0};
    uint8_t u8[8];
    float s;
    int32_t z;
    attx_q8_quantize_row(zeros, 8, u8, &s, &z);
    assert_true(s == 1.0f);
    assert_int_equal(z, 0);
    for (int k = 0; k < 8; k++) assert_int_equal(u8[k], 0);
}

/* The layer against y = x·W^T + b in double: the error of each output is bounded by the
 * quantisation steps, Σ_k (|x|·sw/2 + |W|·sx/2 + sx·sw/4), and every kernel and thread count
 * gives the same bits. */
static void test_layer_against_fp32(void **state)
{
    (void)state;
    int M = 19, N = 70, K = 384;
    float *x = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N);
    float *y = malloc(sizeof(float) * M * N), *y0 = malloc(sizeof(float) * M * N);
    assert_true(x && W && b && y && y0);
    for (int i = 0; i < M * K; i++) x[i] = uniform() * 2.0f;
    for (int i = 0; i < N * K; i++) W[i] = uniform() * 0.1f;
    for (int i = 0; i < N; i++) b[i] = uniform();
    attx_q8_weight *w = attx_q8_weight_new(W, N, K);
    float scale[70];
    int8_t *q = malloc((size_t)N * K);
    attx_q8_weight_values(w, q, scale);
    attx_gemm_set_isa(ATTX_ISA_PORTABLE);
    omp_set_num_threads(1);
    assert_int_equal(attx_q8_linear(w, x, M, b, y0), 0);
    double worst = 0;
    for (int m = 0; m < M; m++) {
        uint8_t u[384];
        float sx;
        int32_t zx;
        attx_q8_quantize_row(x + m * K, K, u, &sx, &zx);
        for (int n = 0; n < N; n++) {
            double exact = b[n], bound = 0;
            for (int k = 0; k < K; k++) {
                exact += (double)x[m * K + k] * W[n * K + k];
                bound += fabs(x[m * K + k]) * scale[n] / 2 + fabs(W[n * K + k]) * sx / 2 + (double)sx * scale[n] / 4;
            }
            double err = fabs(y0[m * N + n] - exact);
            assert_true(err <= bound + 1e-5);
            worst = fmax(worst, err / bound);
        }
    }
    print_message("q8 layer: worst error %.3f of the bound\n", worst);
    int64_t saved = attx_parallel_min_work[ATTX_WORK_GEMM];
    attx_parallel_min_work[ATTX_WORK_GEMM] = 0;   /* threads on this small layer too */
    for (int i = 0; i < N_KERNELS; i++)
        for (int threads = 1; threads <= 2; threads++) {
            use_kernel(i);
            omp_set_num_threads(threads);
            memset(y, 0, sizeof(float) * M * N);
            assert_int_equal(attx_q8_linear(w, x, M, b, y), 0);
            assert_memory_equal(y, y0, sizeof(float) * M * N);
        }
    attx_parallel_min_work[ATTX_WORK_GEMM] = saved;
    use_default_kernel();
    omp_set_num_threads(2);
    attx_q8_weight_free(w);
    free(x), free(W), free(b), free(y), free(y0), free(q);
}

int main(void)
{
    omp_set_dynamic(0);
    omp_set_num_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_sums_exact),
        cmocka_unit_test(test_quantisation_formulas),
        cmocka_unit_test(test_layer_against_fp32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
