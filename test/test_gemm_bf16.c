/* test_gemm_bf16.c — the bf16 linear layer (gemm_bf16.c): the rounding of weights and activations
 * to bf16 against a reference of round-to-nearest-even written here; that reference's step of
 * VDPBF16PS against the instruction itself (on a CPU that has AVX512_BF16); the layer against
 * the reference bit for bit on every kernel (vdpbf16ps, AVX2 and portable emulations) and for 1
 * and 2 threads, over edge sizes; against a double-precision sum within the rounding error
 * bound; and denormals, signed zeros, infinities, overflow and NaNs as the instruction treats
 * them. */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <omp.h>

#include "kernels.h"
#include "parallel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next(void) { return (uint32_t)(tu_random(&rng) >> 32); }
static float uniform(void) { return (float)(next() / 4294967296.0 * 2.0 - 1.0); }

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float bf16_float(uint16_t h) { return float_of((uint32_t)h << 16); }

static const int isas[] = {ATTX_ISA_PORTABLE, ATTX_ISA_AVX2, ATTX_ISA_AVX512};

/* ---- references ---- */

/* f rounded to bf16 by distances: the two bf16 around f (its top 16 bits, and the next one up
 * in magnitude, 2^128 standing for infinity), the nearer one, the even one on a tie; NaN keeps
 * its top bits, made quiet. No denormal flush here. */
static uint16_t ref_round(float f)
{
    uint32_t u = bits_of(f);
    if (isnan(f)) return (uint16_t)((u >> 16) | 0x40);
    uint16_t low = (uint16_t)(u >> 16), high = (uint16_t)(low + 1);
    if (isinf(f)) return low;
    double a = fabs((double)f), below = fabs((double)bf16_float(low));
    double above = (high & 0x7FFF) == 0x7F80 ? ldexp(1.0, 128) : fabs((double)bf16_float(high));
    if (a - below < above - a) return low;
    if (a - below > above - a) return high;
    return (low & 1) ? high : low;
}

/* a bf16 denormal as the instruction reads it: a zero of its sign */
static uint16_t daz16(uint16_t h) { return (h & 0x7F80) ? h : (uint16_t)(h & 0x8000); }


/* One step of VDPBF16PS as Intel documents it, with the weight as the first source:
 * acc + x·w rounded once (fmaf), inputs' denormals read as zeros of their sign, a result whose
 * rounding with unbounded exponent is below 2^-126 flushed to a zero of its sign; a NaN input
 * gives the first NaN of (w, x, acc) made quiet, an invalid operation the default NaN. */
static float ref_step(float acc, float x, float w)
{
    if (isnan(w)) return float_of(bits_of(w) | 0x400000);
    if (isnan(x)) return float_of(bits_of(x) | 0x400000);
    if (isnan(acc)) return float_of(bits_of(acc) | 0x400000);
    if (fabsf(x) < FLT_MIN) x = copysignf(0.0f, x);
    if (fabsf(w) < FLT_MIN) w = copysignf(0.0f, w);
    if (fabsf(acc) < FLT_MIN) acc = copysignf(0.0f, acc);
    float r = fmaf(x, w, acc);
    if (isnan(r)) return float_of(0xFFC00000u);
    if (!(fabsf(r) <= FLT_MIN)) return r;   /* above 2^-126 (or infinite): as rounded */
    if (fabsf(r) < FLT_MIN) return copysignf(0.0f, r);
    /* |r| = 2^-126 after rounding to the denormal grid: round again with the operands scaled up
     * by 2^80 (then the result is normal, and its rounding the unbounded one); such a result
     * needs operands under 2^-60, so nothing overflows */
    float scaled = fmaf(x * 0x1p40f, w * 0x1p40f, acc * 0x1p80f);
    return fabsf(scaled) < 0x1p-46f ? copysignf(0.0f, scaled) : r;
}

/* The layer's output from bf16 inputs x[K] and w[K]: k-pairs in order, odd element first,
 * K padded with a +0; then the bias. */
static float ref_output(const uint16_t *x, const uint16_t *w, int K, const float *bias)
{
    float acc = 0.0f;
    for (int j = 0; 2 * j < K; j++) {
        float xo = 2 * j + 1 < K ? bf16_float(x[2 * j + 1]) : 0.0f, wo = 2 * j + 1 < K ? bf16_float(w[2 * j + 1]) : 0.0f;
        acc = ref_step(acc, xo, wo);
        acc = ref_step(acc, bf16_float(x[2 * j]), bf16_float(w[2 * j]));
    }
    return bias ? acc + *bias : acc;
}

/* ---- rounding ---- */

/* Every sign and exponent and mantissa of bf16, with the low halves where rounding turns: the
 * layer's row rounding and the weights' (attx_f32_to_bf16) against ref_round, denormals flushed. */
static void test_rounding(void **state)
{
    (void)state;
    static const uint16_t lows[] = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x4000, 0xC000};
    enum { NL = sizeof lows / sizeof lows[0] };
    float *x = malloc(65536 * NL * sizeof *x);
    uint16_t *h = malloc(65536 * NL * sizeof *h);
    assert_true(x && h);
    for (uint32_t hi = 0; hi < 65536; hi++)
        for (int l = 0; l < NL; l++) x[hi * NL + l] = float_of(hi << 16 | lows[l]);
    attx_bf16_round_row(x, 65536 * NL, h);
    size_t flushed = 0, ties = 0;
    for (size_t i = 0; i < 65536 * NL; i++) {
        uint16_t want = daz16(ref_round(x[i]));
        if (h[i] != want) fail_msg("x %08x: row rounding %04x, reference %04x", bits_of(x[i]), h[i], want);
        uint16_t weight = daz16(attx_f32_to_bf16(x[i]));
        if (weight != want) fail_msg("x %08x: attx_f32_to_bf16 %04x, reference %04x", bits_of(x[i]), weight, want);
        flushed += ref_round(x[i]) != want;
        ties += (bits_of(x[i]) & 0xFFFF) == 0x8000;
    }
    print_message("bf16 rounding: %d values equal to the reference (%zu ties, %zu denormals flushed)\n", 65536 * NL,
                  ties, flushed);
    /* 0x007FFFFF (the largest fp32 denormal) rounds up to 2^-126, a normal bf16: kept */
    float big_denormal = float_of(0x007FFFFF);
    uint16_t r;
    attx_bf16_round_row(&big_denormal, 1, &r);
    assert_int_equal(r, 0x0080);

    /* the weights as stored */
    int N = 37, K = 129;
    float *W = malloc((size_t)N * K * sizeof *W);
    uint16_t *stored = malloc((size_t)N * K * sizeof *stored);
    for (int i = 0; i < N * K; i++) W[i] = i % 11 == 0 ? x[next() % (65536 * NL)] : uniform() * 0.1f;
    attx_bf16_weight *w = attx_bf16_weight_new(W, N, K);
    assert_non_null(w);
    attx_bf16_weight_values(w, stored);
    for (int i = 0; i < N * K; i++) assert_int_equal(stored[i], daz16(ref_round(W[i])));
    attx_bf16_weight_free(w);
    free(W), free(stored), free(x), free(h);
}

/* ---- the reference against the instruction ---- */

#if HAVE_X86
/* 16 dot products at once, one per lane: acc[l] = its steps over `pairs` k-pairs of x[l] and
 * w[l] (bf16, [lane][2·pairs]), by vdpbf16ps with w as the first source, as the kernel calls it */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void hw_dots(const uint16_t *x, const uint16_t *w,
                                                                            int pairs, float *acc)
{
    __m512 a = _mm512_loadu_ps(acc);
    for (int j = 0; j < pairs; j++) {
        uint32_t xl[16], wl[16];
        for (int l = 0; l < 16; l++) {
            xl[l] = (uint32_t)x[l * 2 * pairs + 2 * j] | (uint32_t)x[l * 2 * pairs + 2 * j + 1] << 16;
            wl[l] = (uint32_t)w[l * 2 * pairs + 2 * j] | (uint32_t)w[l * 2 * pairs + 2 * j + 1] << 16;
        }
        __m512i xv = _mm512_loadu_si512(xl), wv = _mm512_loadu_si512(wl);
        a = _mm512_dpbf16_ps(a, (__m512bh)wv, (__m512bh)xv);
    }
    _mm512_storeu_ps(acc, a);
}
#endif

/* a random bf16 for the semantic checks: mostly ordinary, often with products near 2^-126,
 * sometimes denormal, zero, infinite or NaN */
static uint16_t random_bf16(int kind)
{
    uint16_t sign = (uint16_t)((next() & 1) << 15), mant = (uint16_t)(next() & 0x7F);
    int e;
    switch (kind) {
    case 0: e = 127 + (int)(next() % 17) - 8; break;           /* around 1 */
    case 1: e = 60 + (int)(next() % 10); break;                /* products near 2^-126 */
    case 2: e = 120 + (int)(next() % 140); break;              /* products that overflow */
    default: {                                                  /* special values */
        static const uint16_t special[] = {0x0000, 0x8000, 0x0001, 0x807F, 0x0040, 0x7F80, 0xFF80, 0x7FC1, 0xFF81, 0x7F81, 0x0080};
        return special[next() % (sizeof special / sizeof special[0])];
    }
    }
    if (e > 254) e = 254;
    return (uint16_t)(sign | e << 7 | mant);
}

static void test_reference_matches_instruction(void **state)
{
    (void)state;
#if HAVE_X86
    if (!attx_cpu_has_bf16()) {
        print_message("skipped: this CPU has no AVX512_BF16 (or ATTX_ISA is below avx512)\n");
        skip();
    }
    enum { PAIRS = 6, TRIALS = 100000 };
    uint16_t x[16 * 2 * PAIRS], w[16 * 2 * PAIRS];
    long checked = 0, tiny = 0, nans = 0, zeros = 0;
    for (int t = 0; t < TRIALS; t++) {
        int kind = t % 8 < 4 ? 1 : t % 8 < 6 ? 0 : t % 8 == 6 ? 2 : 3;
        float acc[16], hw[16];
        for (int i = 0; i < 16 * 2 * PAIRS; i++) {
            x[i] = random_bf16(kind == 3 && next() % 4 ? (int)(next() % 3) : kind);
            w[i] = random_bf16(kind == 3 && next() % 4 ? (int)(next() % 3) : kind);
        }
        for (int l = 0; l < 16; l++) acc[l] = 0.0f;
        if (t % 16 == 1) acc[t / 16 % 16] = -0.0f;
        memcpy(hw, acc, sizeof hw);
        hw_dots(x, w, PAIRS, hw);
        for (int l = 0; l < 16; l++) {
            float r = acc[l];
            for (int j = 0; j < PAIRS; j++) {
                const uint16_t *xl = x + l * 2 * PAIRS, *wl = w + l * 2 * PAIRS;
                r = ref_step(r, bf16_float(xl[2 * j + 1]), bf16_float(wl[2 * j + 1]));
                r = ref_step(r, bf16_float(xl[2 * j]), bf16_float(wl[2 * j]));
            }
            if (bits_of(r) != bits_of(hw[l]))
                fail_msg("trial %d lane %d: vdpbf16ps %a (%08x), reference %a (%08x)", t, l, hw[l], bits_of(hw[l]), r,
                         bits_of(r));
            checked++;
            tiny += fabsf(r) <= 0x1p-120f && r != 0;
            zeros += r == 0;
            nans += isnan(r);
        }
    }
    /* the cases that tell the rules apart: acc = 2^-126 (from the odd pair), then a product of
     * −1.5·2^-151: flushed after rounding to 24 bits (2^-126 − 2^-150); of −0.75·2^-151: rounds
     * to 2^-126, kept. A tiny negative result flushes to −0; a negative denormal input is −0
     * (from an accumulator at −0, −0 + −0·1 stays −0); ∞·0 is the default NaN; w's NaN first. */
    static const struct { float acc; uint16_t x0, x1, w0, w1; uint32_t want; } cases[] = {
        {0.0f, 0x1A40, 0x2000, 0x9980, 0x2000, 0x00000000}, {0.0f, 0x1A40, 0x2000, 0x9900, 0x2000, 0x00800000},
        {0.0f, 0x9C80, 0x0000, 0x1C80, 0x0000, 0x80000000}, {0.0f, 0x8040, 0x8000, 0x3F80, 0x3F80, 0x00000000},
        {-0.0f, 0x8000, 0x8040, 0x3F80, 0x3F80, 0x80000000}, {-0.0f, 0x8000, 0x0040, 0x3F80, 0x3F80, 0x00000000},
        {0.0f, 0x7F80, 0x0000, 0x0000, 0x0000, 0xFFC00000}, {0.0f, 0x7FC1, 0x0000, 0x7FC3, 0x0000, 0x7FC30000},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint16_t xc[32], wc[32];
        for (int l = 0; l < 16; l++) {
            xc[2 * l] = cases[c].x0, xc[2 * l + 1] = cases[c].x1;
            wc[2 * l] = cases[c].w0, wc[2 * l + 1] = cases[c].w1;
        }
        float hw[16];
        for (int l = 0; l < 16; l++) hw[l] = cases[c].acc;
        hw_dots(xc, wc, 1, hw);
        float r = ref_step(ref_step(cases[c].acc, bf16_float(cases[c].x1), bf16_float(cases[c].w1)),
                           bf16_float(cases[c].x0), bf16_float(cases[c].w0));
        assert_int_equal(bits_of(hw[0]), cases[c].want);
        assert_int_equal(bits_of(r), cases[c].want);
    }
    print_message("vdpbf16ps: %ld dot products of %d pairs equal to the reference (%ld near 2^-126, %ld zero, %ld NaN)\n",
                  checked, PAIRS, tiny, zeros, nans);
#else
    print_message("skipped: not an x86-64 build\n");
    skip();
#endif
}

/* ---- the layer ---- */

/* x: ordinary values, with some tiny ones (GELU of large negative inputs: products under 2^-126),
 * zeros of both signs */
static float random_activation(void)
{
    uint32_t r = next() % 64;
    if (r == 0) return 0.0f;
    if (r == 1) return -0.0f;
    if (r < 5) return uniform() * 1e-36f;
    if (r < 7) return uniform() * 1e-39f;   /* a fp32 denormal */
    return uniform() * 4.0f;
}

/* The layer on every kernel and for 1 and 2 threads against ref_output, bit for bit. */
static void check_layer(int M, int N, int K, const float *x, const float *W, const float *bias)
{
    uint16_t *xh = malloc((size_t)M * K * sizeof *xh), *wh = malloc((size_t)N * K * sizeof *wh);
    float *ref = malloc((size_t)M * N * sizeof *ref), *y = malloc((size_t)M * N * sizeof *y);
    assert_true(xh && wh && ref && y);
    for (size_t i = 0; i < (size_t)M * K; i++) xh[i] = ref_round(x[i]);
    for (size_t i = 0; i < (size_t)N * K; i++) wh[i] = ref_round(W[i]);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            ref[(size_t)m * N + n] = ref_output(xh + (size_t)m * K, wh + (size_t)n * K, K, bias ? bias + n : NULL);
    attx_bf16_weight *w = attx_bf16_weight_new(W, N, K);
    assert_non_null(w);
    int64_t saved = attx_parallel_min_work[ATTX_WORK_GEMM];
    attx_parallel_min_work[ATTX_WORK_GEMM] = 0;   /* threads on small layers too */
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        for (int threads = 1; threads <= 2; threads++) {
            attx_gemm_set_isa(isas[i]);
            omp_set_num_threads(threads);
            memset(y, 0x7F, (size_t)M * N * sizeof *y);
            assert_int_equal(attx_bf16_linear(w, x, M, bias, y, NULL), 0);
            for (size_t o = 0; o < (size_t)M * N; o++)
                if (bits_of(y[o]) != bits_of(ref[o]))
                    fail_msg("%s, %d thread(s), M %d N %d K %d: y[%zu, %zu] = %a (%08x), reference %a (%08x)",
                             attx_bf16_kernel_name(), threads, M, N, K, o / N, o % N, y[o], bits_of(y[o]), ref[o],
                             bits_of(ref[o]));
        }
    attx_parallel_min_work[ATTX_WORK_GEMM] = saved;
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    omp_set_num_threads(2);
    attx_bf16_weight_free(w);
    free(xh), free(wh), free(ref), free(y);
}

static void test_layer_bit_exact(void **state)
{
    (void)state;
    static const int sizes[][3] = {{1, 1, 1}, {1, 1, 2}, {1, 17, 3}, {3, 5, 7}, {8, 16, 2}, {9, 49, 383},
                                   {17, 48, 384}, {2, 100, 1001}, {8, 33, 64}, {5, 3, 4099}, {16, 97, 129}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        float *x = malloc((size_t)M * K * sizeof *x), *W = malloc((size_t)N * K * sizeof *W), *b = malloc((size_t)N * sizeof *b);
        assert_true(x && W && b);
        for (size_t i = 0; i < (size_t)M * K; i++) x[i] = random_activation();
        for (size_t i = 0; i < (size_t)N * K; i++) W[i] = next() % 97 == 0 ? uniform() * 1e-38f : uniform() * 0.1f;
        for (int n = 0; n < N; n++) b[n] = uniform();
        check_layer(M, N, K, x, W, s % 2 ? b : NULL);
        free(x), free(W), free(b);
    }
    print_message("bf16: kernel on this CPU: %s\n", attx_bf16_kernel_name());
}

/* Against Σ x·w + b in double over the bf16 values: K2 + 1 roundings of at most 2^-24 each
 * (the products are exact), so |y − exact| ≤ γ(K2 + 1)·(Σ|x·w| + |b|), γ(n) = n·u / (1 − n·u). */
static void test_error_bound(void **state)
{
    (void)state;
    int M = 13, N = 70, K = 1536, K2 = K;
    float *x = malloc((size_t)M * K * sizeof *x), *W = malloc((size_t)N * K * sizeof *W), *b = malloc((size_t)N * sizeof *b);
    float *y = malloc((size_t)M * N * sizeof *y);
    for (int i = 0; i < M * K; i++) x[i] = uniform() * 3.0f;
    for (int i = 0; i < N * K; i++) W[i] = uniform() * 0.05f;
    for (int i = 0; i < N; i++) b[i] = uniform();
    attx_bf16_weight *w = attx_bf16_weight_new(W, N, K);
    assert_int_equal(attx_bf16_linear(w, x, M, b, y, NULL), 0);
    double u = ldexp(1.0, -24), gamma = (K2 + 1) * u / (1 - (K2 + 1) * u), worst = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double exact = b[n], magnitude = fabs(b[n]);
            for (int k = 0; k < K; k++) {
                double p = (double)bf16_float(ref_round(x[m * K + k])) * bf16_float(ref_round(W[n * K + k]));
                exact += p;
                magnitude += fabs(p);
            }
            double err = fabs(y[m * N + n] - exact), bound = gamma * magnitude;
            if (err > bound) fail_msg("y[%d, %d] = %.9g, exact %.9g: error %.3g over the bound %.3g", m, n, y[m * N + n], exact, err, bound);
            worst = fmax(worst, err / bound);
        }
    print_message("bf16 layer: worst error %.4f of the bound γ(K2+1)·Σ|x·w|\n", worst);
    assert_true(worst > 0);   /* rounding did happen: the bound is not vacuous */
    attx_bf16_weight_free(w);
    free(x), free(W), free(b), free(y);
}

/* Denormals, signed zeros, infinities, overflow and NaNs through the layer, against the
 * reference and against what the instruction gives for them (the constants: see
 * test_reference_matches_instruction). One output per case: x and W rows of K = 2 or 3. */
static void test_special_values(void **state)
{
    (void)state;
    const float inf = INFINITY, qnan = float_of(0x7FC12345), snan = float_of(0x7F812345);
    static const char *names[] = {
        "fp32 denormal inputs (read as 0)", "largest fp32 denormal rounds to 2^-126", "tiny negative last: -0",
        "flush after rounding", "rounds up to 2^-126: kept", "inf * 1", "inf * 0", "inf - inf", "overflow",
        "NaN in x", "NaN in w and x", "signalling NaN", "-0 products from +0: +0", "the pad turns -0 into +0",
    };
    enum { CASES = sizeof names / sizeof names[0], K = 3 };
    /* x[k], W[k] for k = 0, 1, 2 (k = 2 is 0 unless the case uses it) */
    const float x[CASES][K] = {
        {float_of(0x00400000), float_of(0x80000001), 0}, {float_of(0x007FFFFF), 0, 0}, {0, 0, -0x1p-70f},
        {1.5f * 0x1p-75f, 0x1p-63f, 0}, {1.5f * 0x1p-75f, 0x1p-63f, 0}, {inf, 0, 0}, {inf, 0, 0}, {inf, -inf, 0},
        {0x1p100f, 0, 0}, {qnan, 1, 0}, {qnan, 0, 0}, {snan, 0, 0}, {-0.0f, -0.0f, -0.0f}, {-0x1p-70f, 0, -0.0f},
    };
    const float W[CASES][K] = {
        {0x1p100f, 0x1p100f, 0}, {1, 0, 0}, {0, 0, 0x1p-70f}, {-0x1p-76f, 0x1p-63f, 0}, {-0x1p-77f, 0x1p-63f, 0},
        {1, 0, 0}, {0, 0, 0}, {1, 1, 0}, {0x1p100f, 0, 0}, {1, 1, 0}, {float_of(0x7FC3ABCD), 0, 0}, {1, 0, 0},
        {1, 1, 1}, {0x1p-70f, 0, 1},
    };
    /* the instruction's results (K = 3: the last pair is (x[2], pad), the pad taken first) */
    static const uint32_t want[CASES] = {
        0x00000000, 0x00800000, 0x80000000, 0x00000000, 0x00800000, 0x7F800000, 0xFFC00000, 0xFFC00000,
        0x7F800000, 0x7FC10000, 0x7FC30000, 0x7FC10000, 0x00000000, 0x00000000,
    };
    /* each case its own 1×1 layer (a bias would hide signed zeros; ref_output adds none) */
    for (int c = 0; c < CASES; c++) {
        uint16_t xh[K], wh[K];
        for (int k = 0; k < K; k++) xh[k] = ref_round(x[c][k]), wh[k] = ref_round(W[c][k]);
        float ref = ref_output(xh, wh, K, NULL);
        if (bits_of(ref) != want[c]) fail_msg("%s: reference %08x, instruction %08x", names[c], bits_of(ref), want[c]);
        check_layer(1, 1, K, x[c], W[c], NULL);
    }
    /* a tiny negative sum of one pair stays −0 when K = 1 (the pad taken first, then the product) */
    float xm = -0x1p-70f, wm = 0x1p-70f, y;
    attx_bf16_weight *w = attx_bf16_weight_new(&wm, 1, 1);
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        attx_gemm_set_isa(isas[i]);
        assert_int_equal(attx_bf16_linear(w, &xm, 1, NULL, &y, NULL), 0);
        assert_int_equal(bits_of(y), 0x80000000u);
    }
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    attx_bf16_weight_free(w);
    /* a bias added to −0 */
    float bias = 0.0f;
    check_layer(1, 1, 1, &xm, &wm, &bias);
}

int main(void)
{
    omp_set_dynamic(0);
    omp_set_num_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_reference_matches_instruction),
        cmocka_unit_test(test_layer_bit_exact),
        cmocka_unit_test(test_error_bound),
        cmocka_unit_test(test_special_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
