/* mathf.h — internal: exp, erf and tanh for float arrays, branch-free so that gcc vectorises
 * the loops that call them (libm's scalar calls would dominate GELU and softmax time).
 * Accuracy (checked against double-precision libm in test_ops.c): exp relative error < 3e-7
 * on [-87, 88]; erf absolute error < 5e-7; tanh absolute error < 3e-7. */
#ifndef ATTX_MATHF_H
#define ATTX_MATHF_H

#include <stdint.h>
#include <string.h>

/* Compiles a function three times (AVX-512, AVX2, baseline x86-64) and picks the best at load
 * time, so that loops over these functions vectorise on the machine at hand. The C is built in
 * ISO mode, where gcc never contracts a·b + c into an FMA: every clone computes the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ATTX_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ATTX_CLONES
#endif

/* e^x = 2^n · e^r with n = round(x / ln 2), r = x − n·ln 2 ∈ [−ln2/2, ln2/2] (ln 2 split in a
 * high and a low part so that r is exact), e^r by its degree-6 Taylor polynomial (error
 * < 2e-8 on that interval), 2^n assembled in the exponent bits. Inputs are clamped to
 * [−87.3, 88.3], so the result is finite and positive for every input but NaN, which gives
 * NaN (without a float-to-int conversion of NaN, which is undefined behaviour). */
static inline float attx_expf(float x)
{
    x = x < -87.3f ? -87.3f : x > 88.3f ? 88.3f : x;
    /* round to nearest (even): adding 1.5·2^23 drops the fraction bits, leaving t = 1.5·2^23 + n
     * with n in the low bits of t's mantissa; subtracting it again gives n */
    float t = x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = x - n * 0.693145751953125f;       /* ln 2, high part (exact in float) */
    r = r - n * 1.428606765330187045e-06f;      /* ln 2, low part */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^n: the biased exponent n + 127 (in [1, 254] after the clamp) read from t's bits: they are
     * those of 1.5·2^23 (0x4B400000) plus n, and the shift drops everything above n + 127 */
    uint32_t bits;
    memcpy(&bits, &t, 4);
    bits = (bits + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

/* erf(x) ≈ x·P(x²)/Q(x²) on [−4, 4], P of degree 6 and Q of degree 4 in x²: the rational
 * minimax approximation that Eigen and XLA use for float erf (their coefficients). Absolute
 * error < 5e-7 everywhere (4.2e-7 at its worst, near |x| = 3.3); beyond |x| = 3.9, where erf is
 * within 4e-8 of ±1, exactly ±1. About 25 operations and one division, a seventh of the
 * erfc-based form it replaced (GELU was 13% of an int8 forward). NaN gives NaN. */
static inline float attx_erff(float x)
{
    float c = x < -4.0f ? -4.0f : x > 4.0f ? 4.0f : x;
    float c2 = c * c;
    float p = -2.72614225801306e-10f;
    p = p * c2 + 2.77068142495902e-08f;
    p = p * c2 - 2.10102402082508e-06f;
    p = p * c2 - 5.69250639462346e-05f;
    p = p * c2 - 7.34990630326855e-04f;
    p = p * c2 - 2.95459980854025e-03f;
    p = p * c2 - 1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * c2 - 2.13374055278905e-04f;
    q = q * c2 - 1.68282697438203e-03f;
    q = q * c2 - 7.37332916720468e-03f;
    q = q * c2 - 1.42647390514189e-02f;
    float r = c * p / q;
    return c > 3.9f ? 1.0f : c < -3.9f ? -1.0f : r;
}

/* tanh(x) = sign(x) · (1 − 2 / (e^{2|x|} + 1)); for |x| < 0.004 the cubic Taylor term is
 * used instead, which is exact there to float precision and avoids the cancellation. */
static inline float attx_tanhf(float x)
{
    float z = x < 0 ? -x : x;
    float big = 1.0f - 2.0f / (attx_expf(2.0f * z) + 1.0f);
    float small = z - z * z * z * (1.0f / 3.0f);
    float r = z < 0.004f ? small : big;
    return x < 0 ? -r : r;
}

/* Sums in a fixed order that vectorises. A plain `for (...) s += x[j]` is one chain of
 * dependent additions (ISO C forbids reordering it): 4 cycles an element, which made softmax's
 * sums 12% of a 128-token forward. Here element j goes into running sum j mod ATTX_LANES, and
 * the lanes are then added pairwise (lane l += lane l + w for w = 8, 4, 2, 1). The order depends
 * on n alone, so AVX-512 (one register), AVX2 (two) and plain C compute the same bits. */
#define ATTX_LANES 16

static inline float attx_lanes_total(float acc[ATTX_LANES])
{
    for (int w = ATTX_LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) acc[l] += acc[l + w];
    return acc[0];
}

/* Σ x[j] */
static inline float attx_sum(const float *x, int64_t n)
{
    float acc[ATTX_LANES] = {0};
    int64_t j = 0;
    for (; j + ATTX_LANES <= n; j += ATTX_LANES)
        for (int l = 0; l < ATTX_LANES; l++) acc[l] += x[j + l];
    for (int l = 0; j + l < n; l++) acc[l] += x[j + l];
    return attx_lanes_total(acc);
}

/* Σ x[j]·y[j] (each product rounded, then added: no FMA, as everywhere in the C kernels) */
static inline float attx_dot(const float *x, const float *y, int64_t n)
{
    float acc[ATTX_LANES] = {0};
    int64_t j = 0;
    for (; j + ATTX_LANES <= n; j += ATTX_LANES)
        for (int l = 0; l < ATTX_LANES; l++) acc[l] += x[j + l] * y[j + l];
    for (int l = 0; j + l < n; l++) acc[l] += x[j + l] * y[j + l];
    return attx_lanes_total(acc);
}

/* Σ (x[j] − c)² */
static inline float attx_sum_sq_dev(const float *x, float c, int64_t n)
{
    float acc[ATTX_LANES] = {0};
    int64_t j = 0;
    for (; j + ATTX_LANES <= n; j += ATTX_LANES)
        for (int l = 0; l < ATTX_LANES; l++) acc[l] += (x[j + l] - c) * (x[j + l] - c);
    for (int l = 0; j + l < n; l++) acc[l] += (x[j + l] - c) * (x[j + l] - c);
    return attx_lanes_total(acc);
}

/* max x[j] over the j with keep[j] ≠ 0 (all when keep is NULL), or −FLT_MAX when there is none.
 * A maximum is exact in any order; the lanes only let it vectorise. NaNs are skipped. */
static inline float attx_max_kept(const float *x, const uint8_t *keep, int64_t n)
{
    float acc[ATTX_LANES];
    for (int l = 0; l < ATTX_LANES; l++) acc[l] = -3.402823466e38f;
    int64_t j = 0;
    for (; j + ATTX_LANES <= n; j += ATTX_LANES)
        for (int l = 0; l < ATTX_LANES; l++) {
            float v = !keep || keep[j + l] ? x[j + l] : -3.402823466e38f;
            acc[l] = v > acc[l] ? v : acc[l];
        }
    for (int l = 0; j + l < n; l++) {
        float v = !keep || keep[j + l] ? x[j + l] : -3.402823466e38f;
        acc[l] = v > acc[l] ? v : acc[l];
    }
    float m = acc[0];
    for (int l = 1; l < ATTX_LANES; l++) m = acc[l] > m ? acc[l] : m;
    return m;
}

#endif
