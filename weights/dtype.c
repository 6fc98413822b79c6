/* dtype.c — safetensors dtype names and sizes; F16 and BF16 <-> F32 conversions. */
#include "attx_weights.h"

#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

static const struct { const char *name; unsigned bits; } dtype_table[ATTX_DTYPE_COUNT] = {
    [ATTX_BOOL] = {"BOOL", 8},          [ATTX_F4] = {"F4", 4},
    [ATTX_F6_E2M3] = {"F6_E2M3", 6},    [ATTX_F6_E3M2] = {"F6_E3M2", 6},
    [ATTX_U8] = {"U8", 8},              [ATTX_I8] = {"I8", 8},
    [ATTX_F8_E5M2] = {"F8_E5M2", 8},    [ATTX_F8_E4M3] = {"F8_E4M3", 8},
    [ATTX_F8_E8M0] = {"F8_E8M0", 8},    [ATTX_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [ATTX_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [ATTX_I16] = {"I16", 16},           [ATTX_U16] = {"U16", 16},
    [ATTX_F16] = {"F16", 16},           [ATTX_BF16] = {"BF16", 16},
    [ATTX_I32] = {"I32", 32},           [ATTX_U32] = {"U32", 32},
    [ATTX_F32] = {"F32", 32},           [ATTX_C64] = {"C64", 64},
    [ATTX_F64] = {"F64", 64},           [ATTX_I64] = {"I64", 64},
    [ATTX_U64] = {"U64", 64},
};

attx_dtype attx_dtype_from_name(const char *name, size_t len)
{
    for (int t = 1; t < ATTX_DTYPE_COUNT; t++) {
        const char *n = dtype_table[t].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) return (attx_dtype)t;
    }
    return ATTX_DTYPE_INVALID;
}

const char *attx_dtype_name(attx_dtype t)
{
    return (t > 0 && t < ATTX_DTYPE_COUNT) ? dtype_table[t].name : "INVALID";
}

unsigned attx_dtype_bits(attx_dtype t)
{
    return (t > 0 && t < ATTX_DTYPE_COUNT) ? dtype_table[t].bits : 0;
}

int attx_dtype_is_float_weight(attx_dtype t)
{
    return t == ATTX_F32 || t == ATTX_F16 || t == ATTX_BF16;
}

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
float attx_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    if (exp == 0x1F)   /* Inf, or NaN made quiet (as the F16C instruction does) */
        return bits_f32(sign | 0x7F800000u | (man << 13) | (man ? 0x400000u : 0));
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: man * 2^-24, exact in float */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t attx_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t exp = (u >> 23) & 0xFF;
    uint32_t man = u & 0x7FFFFF;
    if (exp == 0xFF) {                                   /* Inf or NaN (NaN stays quiet NaN) */
        if (man == 0) return sign | 0x7C00;
        return sign | 0x7E00 | (uint16_t)(man >> 13);
    }
    int e = (int)exp - 127 + 15;                          /* biased half exponent */
    if (e >= 0x1F) return sign | 0x7C00;                  /* overflow -> Inf */
    if (e <= 0) {
        /* Subnormal half (or zero): value = m * 2^-24 with m = full_man >> shift, rounded. */
        if (e < -10) return sign;                         /* below half of the smallest subnormal */
        uint32_t full = man | 0x800000;                   /* implicit leading one */
        unsigned shift = (unsigned)(14 - e);              /* 14..24 */
        uint32_t m = full >> shift;
        uint32_t rem = full & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (m & 1))) m++;  /* ties to even; may carry into normal */
        return sign | (uint16_t)m;
    }
    uint32_t m = man >> 13;
    uint32_t rem = man & 0x1FFF;
    uint32_t r = ((uint32_t)e << 10) | m;
    if (rem > 0x1000 || (rem == 0x1000 && (m & 1))) r++;  /* carry may reach Inf: correct */
    return sign | (uint16_t)r;
}

float attx_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t attx_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x7FFFFF))
        return (uint16_t)((u >> 16) | 0x0040);            /* quiet NaN, sign kept */
    uint32_t lsb = (u >> 16) & 1;
    u += 0x7FFF + lsb;                                    /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(const unsigned char *src, size_t n, float *dst)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + 2 * i))));
    for (; i < n; i++) dst[i] = attx_f16_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
}
#endif

void attx_f16_to_f32_array(const unsigned char *src, size_t n, float *dst)
{
#if defined(__x86_64__) || defined(__i386__)
    if (attx_cpu_isa() >= ATTX_ISA_AVX2) {
        f16_to_f32_f16c(src, n, dst);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = attx_f16_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
}

void attx_bf16_to_f32_array(const unsigned char *src, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++) dst[i] = attx_bf16_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
}
