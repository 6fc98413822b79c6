/* gemm_q8.c — int8 linear layers, y[M, N] = x[M, K] · W[N, K]^T + b, with
 *
 *   W quantised once, per output channel n (symmetric):
 *       sw[n] = max_k |W[n, k]| / 127,   q[n, k] = round(W[n, k] / sw[n]) ∈ [−127, 127]
 *   x quantised per row m each time the layer runs (dynamic, asymmetric), over the row's range
 *   stretched to include 0, [lo, hi] = [min(0, min_k x), max(0, max_k x)]:
 *       sx[m] = (hi − lo) / 255,   zx[m] = round(−lo / sx[m]),
 *       u[m, k] = clamp(round(x[m, k] / sx[m]) + zx[m], 0, 255)
 *   y[m, n] = (sx[m]·sw[n]) · (Σ_k u[m, k]·q[n, k] − zx[m]·Σ_k q[n, k]) + b[n]
 *
 * which is ONNX Runtime's dynamic quantisation (uint8 activations, per-channel int8 weights).
 * The sums over k are integers, exact in int32 for K < 66,000 (255·127·K < 2^31), so the kernels
 * may add them in any order: AVX-512 VNNI (vpdpbusd: 4 products of u8·s8 and their sum into
 * each int32 lane), AVX2 (u8 and s8 widened to s16, vpmaddwd) and portable C give the same
 * sums, and the float epilogue is the same C for all: identical results on every ISA and for
 * every thread count.
 *
 * On CPUs with AMX (Intel's tile unit), a tile multiply (tdpbusd) adds 16 × 16 such sums of 64
 * products at once; the sums are the same integers.
 *
 * Packed weights: panels of 16 output channels; in a panel, groups of 4 consecutive k, each
 * group 64 bytes [16 channels][4 k] (what one vpdpbusd multiplies; 16 consecutive groups are
 * one AMX tile). K is padded with zeros to Kp, a multiple of 64 (an AMX tile's row of bytes),
 * and N to a multiple of 16. Activations are quantised into rows of Kp bytes, zero-padded, the
 * row count padded to a multiple of 16 (an AMX tile's height). */
#include "kernels.h"
#include "mathf.h"
#include "parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#define ATTX_Q8_X86 1
#include <immintrin.h>
#else
#define ATTX_Q8_X86 0
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { Q8_MR = 8, Q8_PANEL = 16, Q8_NV = 3, Q8_TILE_W = Q8_PANEL * Q8_NV };
enum { Q8_KB = 64, Q8_ROWS_PAD = 16 };   /* K padded to a multiple of Q8_KB, rows of x to Q8_ROWS_PAD */

struct attx_q8_weight {
    int N, K, Kp, panels;
    int8_t *packed;      /* [panels][Kp / 4][16][4] */
    float *scale;        /* [N] sw */
    int32_t *colsum;     /* [N] Σ_k q[n, k] */
};

static inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* round to nearest, ties to even, for |v| < 2^22 (adding 1.5·2^23 drops the fraction) */
static inline float round_even(float v)
{
    return (v + 12582912.0f) - 12582912.0f;
}

/* ---- weights ---- */

/* The shell of a weight: sizes and zeroed buffers. */
static attx_q8_weight *weight_alloc(int N, int K)
{
    if (N <= 0 || K <= 0 || K > 65536) return NULL;
    attx_q8_weight *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->N = N;
    w->K = K;
    w->Kp = ceil_div(K, Q8_KB) * Q8_KB;
    w->panels = ceil_div(N, Q8_PANEL);
    size_t bytes = (size_t)w->panels * Q8_PANEL * (size_t)w->Kp;
    w->packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    w->scale = malloc((size_t)N * sizeof *w->scale);
    w->colsum = malloc((size_t)N * sizeof *w->colsum);
    if (!w->packed || !w->scale || !w->colsum) {
        attx_q8_weight_free(w);
        return NULL;
    }
    memset(w->packed, 0, bytes);
    return w;
}

/* q[n, k] into its place in the panels, and the channel's sum */
static void weight_put_row(attx_q8_weight *w, int n, const int8_t *q, float scale)
{
    int8_t *panel = w->packed + (size_t)(n / Q8_PANEL) * Q8_PANEL * w->Kp;
    int32_t sum = 0;
    for (int k = 0; k < w->K; k++) {
        panel[(size_t)(k / 4) * 64 + (n % Q8_PANEL) * 4 + k % 4] = q[k];
        sum += q[k];
    }
    w->scale[n] = scale;
    w->colsum[n] = sum;
}

attx_q8_weight *attx_q8_weight_new(const float *W, int N, int K)
{
    attx_q8_weight *w = weight_alloc(N, K);
    int8_t *q = malloc((size_t)K);
    if (!w || !q) {
        attx_q8_weight_free(w);
        free(q);
        return NULL;
    }
    for (int n = 0; n < N; n++) {
        const float *row = W + (size_t)n * K;
        float amax = 0.0f;
        for (int k = 0; k < K; k++) amax = fabsf(row[k]) > amax ? fabsf(row[k]) : amax;
        float s = amax > 0.0f ? amax / 127.0f : 1.0f;
        for (int k = 0; k < K; k++) {
            float v = round_even(row[k] / s);
            v = v > -127.0f ? v : -127.0f;   /* also NaN -> −127: never converted as NaN */
            v = v < 127.0f ? v : 127.0f;
            q[k] = (int8_t)v;
        }
        weight_put_row(w, n, q, s);
    }
    free(q);
    return w;
}

attx_q8_weight *attx_q8_weight_from_values(const int8_t *q, const float *scale, int N, int K)
{
    attx_q8_weight *w = weight_alloc(N, K);
    if (!w) return NULL;
    for (int n = 0; n < N; n++) weight_put_row(w, n, q + (size_t)n * K, scale[n]);
    return w;
}

void attx_q8_weight_free(attx_q8_weight *w)
{
    if (!w) return;
    free(w->packed);
    free(w->scale);
    free(w->colsum);
    free(w);
}

size_t attx_q8_weight_bytes(const attx_q8_weight *w)
{
    return w ? (size_t)w->panels * Q8_PANEL * (size_t)w->Kp + (size_t)w->N * 8 : 0;
}

void attx_q8_weight_values(const attx_q8_weight *w, int8_t *q, float *scale)
{
    for (int n = 0; n < w->N; n++) {
        const int8_t *panel = w->packed + (size_t)(n / Q8_PANEL) * Q8_PANEL * w->Kp;
        for (int k = 0; k < w->K; k++) q[(size_t)n * w->K + k] = panel[(size_t)(k / 4) * 64 + (n % Q8_PANEL) * 4 + k % 4];
        if (scale) scale[n] = w->scale[n];
    }
}

/* ---- activations ---- */

#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define AVX512_TARGET __attribute__((target("avx512f,avx512vl")))
#define VNNI_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni")))

/* lo = min(0, min_k x), hi = max(0, max_k x), NaNs skipped. A minimum or maximum is exact in any
 * order, so the three versions agree; gcc does not vectorise the C one (NaN rules), hence the
 * intrinsics, whose max(x, acc) returns acc when x is NaN, as the C does. */
static void range_portable(const float *x, int K, float *lo, float *hi)
{
    float l = 0.0f, h = 0.0f;
    for (int k = 0; k < K; k++) {
        l = x[k] < l ? x[k] : l;
        h = x[k] > h ? x[k] : h;
    }
    *lo = l;
    *hi = h;
}

#if !ATTX_Q8_X86   /* elsewhere (WebAssembly) attx_gemm_isa() is always portable: the x86 names
                      stand for the portable code, which is all that runs */
#define range_avx2 range_portable
#define range_avx512 range_portable
#define codes_avx512 codes_portable
#define q8_kernel_avx2 q8_kernel_portable
#define q8_kernel_vnni q8_kernel_portable
#else
AVX2_TARGET static void range_avx2(const float *x, int K, float *lo, float *hi)
{
    __m256 l = _mm256_setzero_ps(), h = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 v = _mm256_loadu_ps(x + k);
        l = _mm256_min_ps(v, l);
        h = _mm256_max_ps(v, h);
    }
    float lv[8], hv[8];
    _mm256_storeu_ps(lv, l);
    _mm256_storeu_ps(hv, h);
    range_portable(x + k, K - k, lo, hi);
    for (int i = 0; i < 8; i++) {
        *lo = lv[i] < *lo ? lv[i] : *lo;
        *hi = hv[i] > *hi ? hv[i] : *hi;
    }
}

AVX512_TARGET static void range_avx512(const float *x, int K, float *lo, float *hi)
{
    __m512 l = _mm512_setzero_ps(), h = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 v = _mm512_loadu_ps(x + k);
        l = _mm512_min_ps(v, l);
        h = _mm512_max_ps(v, h);
    }
    float lv[16], hv[16];
    _mm512_storeu_ps(lv, l);
    _mm512_storeu_ps(hv, h);
    range_portable(x + k, K - k, lo, hi);
    for (int i = 0; i < 16; i++) {
        *lo = lv[i] < *lo ? lv[i] : *lo;
        *hi = hv[i] > *hi ? hv[i] : *hi;
    }
}
#endif

/* u[k] = clamp(round(x[k]·inv) + z, 0, 255), NaN -> 0 */
ATTX_CLONES static void codes_portable(const float *x, int K, float inv, float z, uint8_t *u)
{
    for (int k = 0; k < K; k++) {
        float v = round_even(x[k] * inv) + z;
        v = v > 0.0f ? v : 0.0f;   /* NaN -> 0 */
        v = v < 255.0f ? v : 255.0f;
        u[k] = (uint8_t)(int32_t)v;
    }
}

#if ATTX_Q8_X86
/* The same operations 16 at a time (gcc's own vectorisation of the loop above narrowed to
 * bytes slowly: 8% of an int8 forward). max(v, 0) returns 0 for a NaN v, as the C does. */
AVX512_TARGET static void codes_avx512(const float *x, int K, float inv, float z, uint8_t *u)
{
    const __m512 vinv = _mm512_set1_ps(inv), vz = _mm512_set1_ps(z), magic = _mm512_set1_ps(12582912.0f);
    const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f);
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + k), vinv);
        v = _mm512_sub_ps(_mm512_add_ps(v, magic), magic);
        v = _mm512_add_ps(v, vz);
        v = _mm512_min_ps(_mm512_max_ps(v, zero), top);
        _mm_storeu_si128((__m128i *)(u + k), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v)));
    }
    codes_portable(x + k, K - k, inv, z, u + k);
}
#endif

void attx_q8_quantize_row(const float *x, int K, uint8_t *u, float *scale, int32_t *zero)
{
    float lo, hi;
    int isa = attx_gemm_isa();
    if (isa == ATTX_ISA_AVX512) range_avx512(x, K, &lo, &hi);
    else if (isa == ATTX_ISA_AVX2) range_avx2(x, K, &lo, &hi);
    else range_portable(x, K, &lo, &hi);
    float s = hi > lo ? (hi - lo) / 255.0f : 1.0f, inv = 1.0f / s;
    float z = round_even(-lo * inv);
    z = z < 255.0f ? z : 255.0f;
    if (isa == ATTX_ISA_AVX512) codes_avx512(x, K, inv, z, u);
    else codes_portable(x, K, inv, z, u);
    *scale = s;
    *zero = (int32_t)z;
}

/* ---- activations: all rows of x quantised, in memory the caller provides ---- */

size_t attx_q8_acts_bytes(int M, int K)
{
    size_t rows = (size_t)ceil_div(M, Q8_ROWS_PAD) * Q8_ROWS_PAD, Kp = (size_t)ceil_div(K, Q8_KB) * Q8_KB;
    return rows * Kp + (size_t)M * (sizeof(float) + sizeof(int32_t)) + 64;
}

void attx_q8_acts_init(attx_q8_acts *a, void *mem, const float *x, const uint8_t *codes_in, int M, int K)
{
    a->M = M;
    a->K = K;
    a->Kp = ceil_div(K, Q8_KB) * Q8_KB;
    size_t rows = (size_t)ceil_div(M, Q8_ROWS_PAD) * Q8_ROWS_PAD;
    a->u = mem;
    a->scale = (float *)(void *)((uintptr_t)((uint8_t *)mem + rows * a->Kp + 15) & ~(uintptr_t)15);
    a->zero = (int32_t *)(a->scale + M);
    memset(a->u, 0, rows * a->Kp);
    if (codes_in) {   /* tests: given codes */
        for (int m = 0; m < M; m++) {
            memcpy(a->u + (size_t)m * a->Kp, codes_in + (size_t)m * K, (size_t)K);
            a->scale[m] = 1.0f;
            a->zero[m] = 0;
        }
        return;
    }
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_LAYERNORM, (int64_t)M * K))
    for (int m = 0; m < M; m++)
        attx_q8_quantize_row(x + (size_t)m * K, K, a->u + (size_t)m * a->Kp, &a->scale[m], &a->zero[m]);
}

/* ---- kernels: tile[8][48] = Σ_k u[i, k] · q[16·v + c, k] for rows i < 8 of u (stride
 * x_stride) and nv panels of the weights (panel v at w + v·panel_stride); groups = Kp / 4 ---- */

typedef void (*q8_kernel_fn)(int nv, int groups, const uint8_t *u, ptrdiff_t x_stride, const int8_t *w,
                             ptrdiff_t panel_stride, int32_t *tile);

static void q8_kernel_portable(int nv, int groups, const uint8_t *u, ptrdiff_t x_stride, const int8_t *w,
                               ptrdiff_t panel_stride, int32_t *tile)
{
    for (int i = 0; i < Q8_MR; i++)
        for (int v = 0; v < nv; v++)
            for (int c = 0; c < Q8_PANEL; c++) {
                const int8_t *wc = w + v * panel_stride + c * 4;
                const uint8_t *ui = u + i * x_stride;
                int32_t sum = 0;
                for (int g = 0; g < groups; g++)
                    for (int j = 0; j < 4; j++) sum += (int32_t)ui[4 * g + j] * (int32_t)wc[(size_t)g * 64 + j];
                tile[i * Q8_TILE_W + v * Q8_PANEL + c] = sum;
            }
}

#if ATTX_Q8_X86
/* AVX2: 4 rows × 8 channels (half a panel). A group's 32 bytes of the 8 channels widen to two
 * vectors of s16 [4 channels][4 k]; the row's 4 bytes widen to [4 k] repeated 4 times; vpmaddwd
 * gives per channel two partial sums (k 0-1 and 2-3), added at the end. */
AVX2_TARGET static void q8_avx2_4x8(int groups, const uint8_t *u, ptrdiff_t x_stride, const int8_t *w,
                                    int32_t *tile)
{
    __m256i acc[4][2];
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    for (int g = 0; g < groups; g++) {
        __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + (size_t)g * 64)));
        __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + (size_t)g * 64 + 16)));
        for (int i = 0; i < 4; i++) {
            int32_t x4;
            memcpy(&x4, u + i * x_stride + 4 * g, 4);
            __m256i xv = _mm256_cvtepu8_epi16(_mm_set1_epi32(x4));
            acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(w0, xv));
            acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(w1, xv));
        }
    }
    for (int i = 0; i < 4; i++) {
        /* hadd: [c0 c1 c4 c5 | c2 c3 c6 c7], then the 64-bit quarters put in order */
        __m256i s = _mm256_hadd_epi32(acc[i][0], acc[i][1]);
        s = _mm256_permute4x64_epi64(s, 0xD8);
        _mm256_storeu_si256((__m256i *)(tile + i * Q8_TILE_W), s);
    }
}

AVX2_TARGET static void q8_kernel_avx2(int nv, int groups, const uint8_t *u, ptrdiff_t x_stride, const int8_t *w,
                                       ptrdiff_t panel_stride, int32_t *tile)
{
    for (int v = 0; v < nv; v++)
        for (int half = 0; half < 2; half++)
            for (int i = 0; i < Q8_MR; i += 4)
                q8_avx2_4x8(groups, u + i * x_stride, x_stride, w + v * panel_stride + half * 32,
                            tile + i * Q8_TILE_W + v * Q8_PANEL + half * 8);
}

/* AVX-512 VNNI: 8 rows × nv panels of 16 channels, 8·nv accumulators (24 of the 32 zmm for
 * nv = 3): per group, one load per panel, one broadcast of 4 bytes per row, one vpdpbusd per
 * accumulator. */
VNNI_TARGET __attribute__((always_inline)) static inline void vnni_tile(const int NV, int groups, const uint8_t *u,
                                                                       ptrdiff_t x_stride, const int8_t *w,
                                                                       ptrdiff_t panel_stride, int32_t *tile)
{
    __m512i acc[Q8_MR][Q8_NV];
#pragma GCC unroll 8
    for (int i = 0; i < Q8_MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_si512();
    for (int g = 0; g < groups; g++) {
        __m512i wv[Q8_NV];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) wv[v] = _mm512_loadu_si512(w + v * panel_stride + (size_t)g * 64);
#pragma GCC unroll 8
        for (int i = 0; i < Q8_MR; i++) {
            int32_t x4;
            memcpy(&x4, u + i * x_stride + 4 * g, 4);
            __m512i xb = _mm512_set1_epi32(x4);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], xb, wv[v]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < Q8_MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) _mm512_storeu_si512(tile + i * Q8_TILE_W + v * Q8_PANEL, acc[i][v]);
}

VNNI_TARGET static void q8_kernel_vnni(int nv, int groups, const uint8_t *u, ptrdiff_t x_stride, const int8_t *w,
                                       ptrdiff_t panel_stride, int32_t *tile)
{
    switch (nv) {
    case 3: vnni_tile(3, groups, u, x_stride, w, panel_stride, tile); break;
    case 2: vnni_tile(2, groups, u, x_stride, w, panel_stride, tile); break;
    default: vnni_tile(1, groups, u, x_stride, w, panel_stride, tile); break;
    }
}
#endif

/* ---- AMX: tiles of 16 rows × 64 bytes. A block of 1-2 row tiles of x (16 rows each) × 1-2
 * panels (16 channels each) keeps its 2-4 int32 sum tiles in tile registers 0-3 over all of K;
 * per k-block of 64, the x tiles go to registers 4-5, the panels' 16 groups to 6-7. ---- */

static int amx_allowed = 1;   /* attx_q8_set_amx */

void attx_q8_set_amx(int on)
{
    amx_allowed = on != 0;
}

static int amx_in_use(void)
{
    return amx_allowed && attx_gemm_isa() == ATTX_ISA_AVX512 && attx_cpu_has_amx_int8();
}

#if ATTX_Q8_X86 && defined(__x86_64__) && defined(__linux__) && (defined(__clang__) || __GNUC__ >= 11)
#define ATTX_Q8_AMX 1
#define AMX_TARGET __attribute__((target("amx-tile,amx-int8")))

/* Palette 1, every tile register 16 rows × 64 bytes (the layout ldtilecfg reads). */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t bytes_per_row[16];
    uint8_t rows[16];
} amx_tile_config;

/* A constant: gcc 12 does not see that ldtilecfg reads its operand, and drops the stores that
 * would fill a configuration on the stack. */
static const amx_tile_config amx_config = {
    .palette = 1,
    .bytes_per_row = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

AMX_TARGET static void amx_configure(void)
{
    _tile_loadconfig(&amx_config);
}

AMX_TARGET static void amx_release(void)
{
    _tile_release();
}

/* sums[32][32] (row stride 32) for row tiles RT and panels PT (each 1 or 2) from x's rows
 * u[0..16·RT) and the panels at b (stride panel_stride). */
AMX_TARGET __attribute__((always_inline)) static inline void amx_tiles(const int RT, const int PT, int Kp,
                                                                       const uint8_t *u, const int8_t *b,
                                                                       ptrdiff_t panel_stride, int32_t *sums)
{
    _tile_zero(0);
    if (PT == 2) _tile_zero(1);
    if (RT == 2) _tile_zero(2);
    if (RT == 2 && PT == 2) _tile_zero(3);
    for (int kb = 0; kb < Kp; kb += Q8_KB) {
        const int8_t *group = b + (size_t)kb * Q8_PANEL;   /* 16 groups of 64 bytes from k = kb */
        _tile_loadd(4, u + kb, Kp);
        _tile_loadd(6, group, 64);
        _tile_dpbusd(0, 4, 6);
        if (PT == 2) {
            _tile_loadd(7, group + panel_stride, 64);
            _tile_dpbusd(1, 4, 7);
        }
        if (RT == 2) {
            _tile_loadd(5, u + (size_t)16 * Kp + kb, Kp);
            _tile_dpbusd(2, 5, 6);
            if (PT == 2) _tile_dpbusd(3, 5, 7);
        }
    }
    _tile_stored(0, sums, 32 * sizeof *sums);
    if (PT == 2) _tile_stored(1, sums + 16, 32 * sizeof *sums);
    if (RT == 2) _tile_stored(2, sums + 16 * 32, 32 * sizeof *sums);
    if (RT == 2 && PT == 2) _tile_stored(3, sums + 16 * 32 + 16, 32 * sizeof *sums);
}

AMX_TARGET static void amx_block_sums(int rt, int pt, int Kp, const uint8_t *u, const int8_t *b,
                                      ptrdiff_t panel_stride, int32_t *sums)
{
    if (rt == 2 && pt == 2) amx_tiles(2, 2, Kp, u, b, panel_stride, sums);
    else if (rt == 2) amx_tiles(2, 1, Kp, u, b, panel_stride, sums);
    else if (pt == 2) amx_tiles(1, 2, Kp, u, b, panel_stride, sums);
    else amx_tiles(1, 1, Kp, u, b, panel_stride, sums);
}
#else
#define ATTX_Q8_AMX 0
#endif

/* The kernel of the ISA in use (attx_gemm_isa, so that tests can force each) when AMX is not:
 * VNNI when the CPU has it, else AVX2, else portable C. */
static q8_kernel_fn q8_kernel(const char **name)
{
    int isa = attx_gemm_isa();
    if (isa == ATTX_ISA_AVX512 && attx_cpu_has_vnni()) {
        if (name) *name = "avx512-vnni";
        return q8_kernel_vnni;
    }
    if (isa >= ATTX_ISA_AVX2) {
        if (name) *name = "avx2";
        return q8_kernel_avx2;
    }
    if (name) *name = "portable";
    return q8_kernel_portable;
}

const char *attx_q8_kernel_name(void)
{
    const char *name;
    q8_kernel(&name);
    return ATTX_Q8_AMX && amx_in_use() ? "amx" : name;
}

/* ---- the layer ---- */

/* y[c] = (sums[c] − zx·colsum[c]) · (sx·sw[c]) + bias[c] for one row (the same operations in
 * every clone, so the same bits) */
ATTX_CLONES static void q8_epilogue(const int32_t *sums, int32_t zx, const int32_t *colsum, float sx, const float *sw,
                                    const float *bias, float *y, int cols)
{
    if (bias)
        for (int c = 0; c < cols; c++) y[c] = (float)(sums[c] - zx * colsum[c]) * (sx * sw[c]) + bias[c];
    else
        for (int c = 0; c < cols; c++) y[c] = (float)(sums[c] - zx * colsum[c]) * (sx * sw[c]);
}

/* The integer sums of rows [m0, m0 + max_rows) × panels [p0, p0 + nv), tile[i][c] with row
 * stride tile_w, through the epilogue into y (or, with acc_out, copied there as they are). */
static void q8_block_out(const attx_q8_weight *w, const attx_q8_acts *a, const int32_t *tile, int tile_w, int m0,
                         int max_rows, int p0, int nv, const float *bias, float *y, int32_t *acc_out)
{
    int rows = a->M - m0 < max_rows ? a->M - m0 : max_rows, n0 = p0 * Q8_PANEL;
    int cols = w->N - n0 < nv * Q8_PANEL ? w->N - n0 : nv * Q8_PANEL;
    for (int i = 0; i < rows; i++) {
        int m = m0 + i;
        if (acc_out) {
            memcpy(acc_out + (size_t)m * w->N + n0, tile + i * tile_w, (size_t)cols * sizeof *tile);
            continue;
        }
        q8_epilogue(tile + i * tile_w, a->zero[m], w->colsum + n0, a->scale[m], w->scale + n0,
                    bias ? bias + n0 : NULL, y + (size_t)m * w->N + n0, cols);
    }
}

/* Rows [m0, m0 + 8) × panels [p0, p0 + nv) with a vector kernel. */
static void q8_block(q8_kernel_fn kernel, const attx_q8_weight *w, const attx_q8_acts *a, int m0, int p0, int nv,
                     const float *bias, float *y, int32_t *acc_out)
{
    int32_t tile[Q8_MR * Q8_TILE_W];
    ptrdiff_t panel_stride = (ptrdiff_t)Q8_PANEL * w->Kp;
    kernel(nv, w->Kp / 4, a->u + (size_t)m0 * w->Kp, w->Kp, w->packed + p0 * panel_stride, panel_stride, tile);
    q8_block_out(w, a, tile, Q8_TILE_W, m0, Q8_MR, p0, nv, bias, y, acc_out);
}

#if ATTX_Q8_AMX
/* All blocks of 32 rows × 2 panels with AMX: every thread configures its tiles once and
 * releases them when its share is done. */
static void q8_run_amx(const attx_q8_weight *w, const attx_q8_acts *a, const float *bias, float *y, int32_t *acc_out)
{
    int pairs = ceil_div(w->panels, 2), row_blocks = ceil_div(a->M, 32);
    ptrdiff_t panel_stride = (ptrdiff_t)Q8_PANEL * w->Kp;
#pragma omp parallel if ((int64_t)pairs * row_blocks > 1 && \
                         ATTX_PARALLEL(ATTX_WORK_GEMM, (int64_t)a->M * w->N * w->K / 16))
    {
        int32_t sums[32 * 32];
        amx_configure();
#pragma omp for collapse(2)
        for (int pr = 0; pr < pairs; pr++)
            for (int rb = 0; rb < row_blocks; rb++) {
                int m0 = rb * 32, p0 = pr * 2;
                int rt = a->M - m0 > 16 ? 2 : 1, pt = w->panels - p0 > 1 ? 2 : 1;
                amx_block_sums(rt, pt, w->Kp, a->u + (size_t)m0 * w->Kp, w->packed + p0 * panel_stride,
                               panel_stride, sums);
                q8_block_out(w, a, sums, 32, m0, 32, p0, pt, bias, y, acc_out);
            }
        amx_release();
    }
}
#endif

static void q8_run(const attx_q8_weight *w, const attx_q8_acts *a, const float *bias, float *y, int32_t *acc_out)
{
#if ATTX_Q8_AMX
    if (amx_in_use()) {
        q8_run_amx(w, a, bias, y, acc_out);
        return;
    }
#endif
    q8_kernel_fn kernel = q8_kernel(NULL);
    int chunks = ceil_div(w->panels, Q8_NV), row_blocks = ceil_div(a->M, Q8_MR);
    /* each chunk of 3 panels stays in L1 while the row blocks stream past it */
#pragma omp parallel for collapse(2) if ((int64_t)chunks * row_blocks > 1 && \
                                          ATTX_PARALLEL(ATTX_WORK_GEMM, (int64_t)a->M * w->N * w->K / 4))
    for (int ch = 0; ch < chunks; ch++)
        for (int rb = 0; rb < row_blocks; rb++) {
            int p0 = ch * Q8_NV, nv = w->panels - p0 < Q8_NV ? w->panels - p0 : Q8_NV;
            q8_block(kernel, w, a, rb * Q8_MR, p0, nv, bias, y, acc_out);
        }
}

int attx_q8_linear_acts(const attx_q8_weight *w, const attx_q8_acts *a, const float *bias, float *y)
{
    if (a->K != w->K) return -1;
    if (a->M > 0) q8_run(w, a, bias, y, NULL);
    return 0;
}

/* The layer with an activation buffer of its own (allocated for the call), from x or, for the
 * tests, from given codes; acc_out as in q8_run. */
static int q8_run_alone(const attx_q8_weight *w, const float *x, const uint8_t *codes_in, int M, const float *bias,
                        float *y, int32_t *acc_out)
{
    if (M <= 0) return 0;
    void *mem = malloc(attx_q8_acts_bytes(M, w->K));
    if (!mem) return -1;
    attx_q8_acts a;
    attx_q8_acts_init(&a, mem, x, codes_in, M, w->K);
    q8_run(w, &a, bias, y, acc_out);
    free(mem);
    return 0;
}

int attx_q8_linear(const attx_q8_weight *w, const float *x, int M, const float *bias, float *y)
{
    return q8_run_alone(w, x, NULL, M, bias, y, NULL);
}

int attx_q8_gemm_s32(const attx_q8_weight *w, const uint8_t *u, int M, int32_t *acc)
{
    return q8_run_alone(w, NULL, u, M, NULL, NULL, acc);
}
