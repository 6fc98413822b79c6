/* gemm_bf16.c — bf16 linear layers, y[M, N] = x[M, K] · W[N, K]^T + b, with the products summed
 * exactly as AVX512_BF16's VDPBF16PS sums them:
 *
 *   W is rounded to bf16 once (round to nearest even, attx_f32_to_bf16), each row of x the same
 *   way each time the layer runs; K is padded with zeros to an even K2. Each output has one fp32
 *   accumulator, starting at +0, that takes the k-pairs j = 0, 1, ..., K2/2 − 1 in order,
 *   the odd element first (as Intel's pseudo-code has it):
 *
 *       acc = step(acc, x[2j+1], w[2j+1]);   acc = step(acc, x[2j], w[2j]);
 *
 *   step(acc, a, b) = acc + a·b rounded once (nearest even) to fp32: a fused multiply-add, where
 *   the product of two bf16 is exact anyway. bf16 denormals are read as zeros of their sign
 *   (they are stored so: the bf16 values below have them flushed); a result whose rounding to 24
 *   bits with unbounded exponent is below 2^-126 in magnitude becomes a zero of its sign
 *   (flush to zero, tininess after rounding). Then y = acc + b[n] (one fp32 addition).
 *
 *   A NaN result is the first NaN among w, x and acc (made quiet), or the default NaN
 *   (0xFFC00000) when the step itself is invalid (∞·0, ∞ − ∞): what the instruction gives with
 *   the weights as its first source.
 *
 * test_gemm_bf16.c checks those rules against the instruction on a CPU that has it, and every
 * kernel against them, bit for bit. The kernels:
 *
 *   avx512-bf16  vdpbf16ps on [16 channels][2 k] of weights and the broadcast k-pair of a row;
 *   avx2         the steps as vfmadd231ps on the bf16 values widened to fp32, with the MXCSR's
 *                flush-to-zero set for the kernel (x86 detects tininess after rounding, as the
 *                instruction does: same bits, checked on hardware by the test);
 *   portable     the step in double: the product is exact in double, the sum rounded to 53
 *                bits and then to 24 is the sum rounded once to 24 (double rounding is harmless
 *                when 53 ≥ 2·24 + 2), and the flush is a comparison with the midpoint under
 *                2^-126.
 *
 * NaN outputs of every kernel are computed again by scalar code with the NaN rule above (they
 * are NaN on every kernel alike, but which NaN depends on operand order), so every kernel gives
 * the same bits, for any thread count: threads split the outputs, never a sum.
 *
 * Packed weights: panels of 16 output channels; in a panel, for each k-pair j, 16 dwords
 * (channel c: w[c][2j] in the low half, w[c][2j+1] in the high half), the 64 bytes one
 * vdpbf16ps reads. N is padded to a multiple of 16 with zero channels. */
#include "kernels.h"
#include "mathf.h"
#include "parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#define ATTX_BF16_X86 1
#include <immintrin.h>
#else
#define ATTX_BF16_X86 0
#endif
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { BF_MR = 8, BF_PANEL = 16, BF_NV = 3, BF_TILE_W = BF_PANEL * BF_NV };

struct attx_bf16_weight {
    int N, K, K2, panels;
    uint32_t *packed;    /* [panels][K2 / 2][16] k-pairs of bf16 */
};

/* The rows of x rounded to bf16 for one layer call: as bf16 pairs for vdpbf16ps, as fp32 values
 * for the emulations; [round_up(M, 8)][K2], zero-padded. */
typedef struct bf16_acts {
    int M, K2, as_float;
    uint16_t *h;         /* bf16 values (as_float = 0) */
    float *f;            /* the same values widened to fp32 (as_float = 1) */
} bf16_acts;

static inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* a bf16 denormal (exponent bits 0) made a zero of its sign, as the instruction reads it */
static inline uint16_t flush_denormal(uint16_t h)
{
    return (h & 0x7F80) ? h : (uint16_t)(h & 0x8000);
}

/* attx_f32_to_bf16's rounding written without branches, so that the row conversion vectorises:
 * adding 0x7FFF plus the lowest kept bit rounds to nearest with ties to even; a NaN keeps its
 * top bits, made quiet. Then flushed as above. test_gemm_bf16 checks it against both. */
static inline uint16_t bf16_of(float v)
{
    uint32_t u = f32_bits(v);
    uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x40u;
    uint16_t h = (uint16_t)((u & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);
    return flush_denormal(h);
}

static inline float bf16_value(uint16_t h) { return bits_f32((uint32_t)h << 16); }

/* ---- the rules of one step, in scalar code ---- */

/* |s| below this (2^-126 − 2^-151, the midpoint between 2^-126 and the float under it) rounds
 * to 24 bits below 2^-126: flushed. At the midpoint itself the tie goes to 2^-126 (even). */
#define FLUSH_BELOW 0x1.ffffffp-127

/* step() without NaN inputs: the sum in double (exact product; 53-bit rounding of the sum, then
 * 24-bit, is the sum rounded once), flushed when tiny. An invalid step gives some NaN. */
static inline float step_double(float acc, float a, float b)
{
    double s = (double)acc + (double)a * (double)b;
    return fabs(s) < FLUSH_BELOW ? (float)copysign(0.0, s) : (float)s;
}

static inline int is_nan(float v) { return (f32_bits(v) & 0x7FFFFFFFu) > 0x7F800000u; }

/* step() in full: the NaN rule, then step_double */
static float step_exact(float acc, float x, float w)
{
    if (is_nan(w)) return bits_f32(f32_bits(w) | 0x00400000u);
    if (is_nan(x)) return bits_f32(f32_bits(x) | 0x00400000u);
    if (is_nan(acc)) return bits_f32(f32_bits(acc) | 0x00400000u);
    float r = step_double(acc, x, w);
    return is_nan(r) ? bits_f32(0xFFC00000u) : r;
}

/* ---- weights ---- */

attx_bf16_weight *attx_bf16_weight_new(const float *W, int N, int K)
{
    if (N <= 0 || K <= 0 || K > (1 << 28)) return NULL;
    attx_bf16_weight *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->N = N;
    w->K = K;
    w->K2 = ceil_div(K, 2) * 2;
    w->panels = ceil_div(N, BF_PANEL);
    size_t bytes = (size_t)w->panels * BF_PANEL * (size_t)w->K2 * sizeof(uint16_t);
    w->packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!w->packed) {
        free(w);
        return NULL;
    }
    memset(w->packed, 0, bytes);
    for (int n = 0; n < N; n++) {
        uint32_t *panel = w->packed + (size_t)(n / BF_PANEL) * BF_PANEL * (w->K2 / 2);
        for (int k = 0; k < K; k++) {
            uint32_t h = flush_denormal(attx_f32_to_bf16(W[(size_t)n * K + k]));
            panel[(size_t)(k / 2) * BF_PANEL + n % BF_PANEL] |= h << (16 * (k % 2));
        }
    }
    return w;
}

void attx_bf16_weight_free(attx_bf16_weight *w)
{
    if (!w) return;
    free(w->packed);
    free(w);
}

size_t attx_bf16_weight_bytes(const attx_bf16_weight *w)
{
    return w ? (size_t)w->panels * BF_PANEL * (size_t)w->K2 * sizeof(uint16_t) : 0;
}

/* the bf16 weight w[n, k] as packed */
static inline uint16_t weight_at(const attx_bf16_weight *w, int n, int k)
{
    const uint32_t *panel = w->packed + (size_t)(n / BF_PANEL) * BF_PANEL * (w->K2 / 2);
    return (uint16_t)(panel[(size_t)(k / 2) * BF_PANEL + n % BF_PANEL] >> (16 * (k % 2)));
}

void attx_bf16_weight_values(const attx_bf16_weight *w, uint16_t *h)
{
    for (int n = 0; n < w->N; n++)
        for (int k = 0; k < w->K; k++) h[(size_t)n * w->K + k] = weight_at(w, n, k);
}

/* ---- activations ---- */

ATTX_CLONES void attx_bf16_round_row(const float *x, int K, uint16_t *h)
{
    for (int k = 0; k < K; k++) h[k] = bf16_of(x[k]);
}

ATTX_CLONES static void round_row_to_float(const float *x, int K, float *f)
{
    for (int k = 0; k < K; k++) f[k] = bf16_value(bf16_of(x[k]));
}

size_t attx_bf16_scratch_bytes(int M, int K)
{
    size_t M8 = (size_t)ceil_div(M, BF_MR) * BF_MR, K2 = (size_t)ceil_div(K, 2) * 2;
    return M8 * K2 * sizeof(float) + 64;
}

/* x's rows rounded into mem (attx_bf16_scratch_bytes), in the form the kernel reads */
static void acts_init(bf16_acts *a, void *mem, const float *x, int M, int K, int as_float)
{
    int K2 = ceil_div(K, 2) * 2, M8 = ceil_div(M, BF_MR) * BF_MR;
    void *base = (void *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    size_t elem = as_float ? sizeof(float) : sizeof(uint16_t);
    *a = (bf16_acts){.M = M, .K2 = K2, .as_float = as_float, .h = base, .f = base};
#pragma omp parallel for if (ATTX_PARALLEL(ATTX_WORK_STREAM, (int64_t)M * K))
    for (int m = 0; m < M; m++) {
        if (as_float) round_row_to_float(x + (size_t)m * K, K, a->f + (size_t)m * K2);
        else attx_bf16_round_row(x + (size_t)m * K, K, a->h + (size_t)m * K2);
        if (K2 > K) memset((char *)base + ((size_t)m * K2 + K) * elem, 0, elem);   /* the pad */
    }
    memset((char *)base + (size_t)M * K2 * elem, 0, (size_t)(M8 - M) * K2 * elem);
}

static inline float act_at(const bf16_acts *a, int m, int k)
{
    return a->as_float ? a->f[(size_t)m * a->K2 + k] : bf16_value(a->h[(size_t)m * a->K2 + k]);
}

/* ---- kernels: tile[8][48] = the accumulators of rows x[0..8) and channels of nv panels ---- */

typedef void (*bf16_kernel_fn)(int nv, int pairs, const void *x, ptrdiff_t x_stride, const uint32_t *w,
                               ptrdiff_t panel_stride, float *tile);

/* x: fp32 rows of stride x_stride floats; w: nv panels panel_stride dwords apart. All 8 rows of a
 * panel advance together, so that 128 independent sums hide the latency of each step. */
ATTX_CLONES static void kernel_portable(int nv, int pairs, const void *xv, ptrdiff_t x_stride, const uint32_t *w,
                                        ptrdiff_t panel_stride, float *tile)
{
    const float *x = xv;
    for (int v = 0; v < nv; v++) {
        const uint32_t *wp = w + v * panel_stride;
        float acc[BF_MR][BF_PANEL] = {{0}};
        for (int j = 0; j < pairs; j++) {
            float odd[BF_PANEL], even[BF_PANEL];
            for (int c = 0; c < BF_PANEL; c++) {
                odd[c] = bits_f32(wp[(size_t)j * BF_PANEL + c] & 0xFFFF0000u);
                even[c] = bits_f32(wp[(size_t)j * BF_PANEL + c] << 16);
            }
            for (int i = 0; i < BF_MR; i++) {
                float xo = x[i * x_stride + 2 * j + 1], xe = x[i * x_stride + 2 * j];
                for (int c = 0; c < BF_PANEL; c++) acc[i][c] = step_double(step_double(acc[i][c], xo, odd[c]), xe, even[c]);
            }
        }
        for (int i = 0; i < BF_MR; i++) memcpy(tile + i * BF_TILE_W + v * BF_PANEL, acc[i], sizeof acc[i]);
    }
}

#if !ATTX_BF16_X86   /* elsewhere (WebAssembly) only the portable kernel runs */
#define kernel_avx2 kernel_portable
#define kernel_avx512_bf16 kernel_portable
#else
#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

/* AVX2 emulation, 4 rows × 16 channels (8 accumulators): per k-pair the 16 dwords split into the
 * odd weights (high halves, masked) and the even ones (low halves, shifted up), each fp32 exactly;
 * per row the odd element's FMA, then the even one's. The caller sets flush-to-zero. */
AVX2_TARGET static void avx2_4x16(int pairs, const float *x, ptrdiff_t x_stride, const uint32_t *w, float *tile)
{
    __m256 acc[4][2];
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    for (int i = 0; i < 4; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int j = 0; j < pairs; j++) {
        __m256i p0 = _mm256_loadu_si256((const __m256i *)(w + (size_t)j * BF_PANEL));
        __m256i p1 = _mm256_loadu_si256((const __m256i *)(w + (size_t)j * BF_PANEL + 8));
        __m256 odd0 = _mm256_castsi256_ps(_mm256_and_si256(p0, high));
        __m256 odd1 = _mm256_castsi256_ps(_mm256_and_si256(p1, high));
        __m256 even0 = _mm256_castsi256_ps(_mm256_slli_epi32(p0, 16));
        __m256 even1 = _mm256_castsi256_ps(_mm256_slli_epi32(p1, 16));
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m256 xo = _mm256_broadcast_ss(x + i * x_stride + 2 * j + 1);
            __m256 xe = _mm256_broadcast_ss(x + i * x_stride + 2 * j);
            acc[i][0] = _mm256_fmadd_ps(xo, odd0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xo, odd1, acc[i][1]);
            acc[i][0] = _mm256_fmadd_ps(xe, even0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xe, even1, acc[i][1]);
        }
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(tile + i * BF_TILE_W, acc[i][0]);
        _mm256_storeu_ps(tile + i * BF_TILE_W + 8, acc[i][1]);
    }
}

AVX2_TARGET static void kernel_avx2(int nv, int pairs, const void *xv, ptrdiff_t x_stride, const uint32_t *w,
                                    ptrdiff_t panel_stride, float *tile)
{
    const float *x = xv;
    for (int v = 0; v < nv; v++)
        for (int i = 0; i < BF_MR; i += 4)
            avx2_4x16(pairs, x + i * x_stride, x_stride, w + v * panel_stride, tile + i * BF_TILE_W + v * BF_PANEL);
}

/* AVX-512 BF16: 8 rows × NV panels, 8·NV zmm accumulators; per k-pair one load per panel, one
 * broadcast of the row's two bf16 per row, one vdpbf16ps per accumulator (weights first). */
BF16_TARGET __attribute__((always_inline)) static inline void bf16_tile(const int NV, int pairs, const uint16_t *x,
                                                                       ptrdiff_t x_stride, const uint32_t *w,
                                                                       ptrdiff_t panel_stride, float *tile)
{
    __m512 acc[BF_MR][BF_NV];
#pragma GCC unroll 8
    for (int i = 0; i < BF_MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (int j = 0; j < pairs; j++) {
        __m512i wv[BF_NV];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) wv[v] = _mm512_loadu_si512(w + v * panel_stride + (size_t)j * BF_PANEL);
#pragma GCC unroll 8
        for (int i = 0; i < BF_MR; i++) {
            int32_t pair;
            memcpy(&pair, x + i * x_stride + 2 * j, sizeof pair);
            __m512i xb = _mm512_set1_epi32(pair);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], (__m512bh)wv[v], (__m512bh)xb);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < BF_MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(tile + i * BF_TILE_W + v * BF_PANEL, acc[i][v]);
}

/* x: bf16 rows of stride x_stride values */
BF16_TARGET static void kernel_avx512_bf16(int nv, int pairs, const void *xv, ptrdiff_t x_stride, const uint32_t *w,
                                           ptrdiff_t panel_stride, float *tile)
{
    const uint16_t *x = xv;
    switch (nv) {
    case 3: bf16_tile(3, pairs, x, x_stride, w, panel_stride, tile); break;
    case 2: bf16_tile(2, pairs, x, x_stride, w, panel_stride, tile); break;
    default: bf16_tile(1, pairs, x, x_stride, w, panel_stride, tile); break;
    }
}
#endif

typedef struct bf16_kernel {
    bf16_kernel_fn fn;
    const char *name;
    int as_float;        /* reads fp32 activations (the emulations) */
    int flush_to_zero;   /* runs with the MXCSR's flush-to-zero set */
} bf16_kernel;

/* The kernel of the ISA in use (attx_gemm_isa, so that tests can force each): vdpbf16ps when the
 * CPU has it, else the AVX2 emulation, else the portable one. */
static bf16_kernel bf16_kernel_in_use(void)
{
    int isa = attx_gemm_isa();
    if (isa == ATTX_ISA_AVX512 && attx_cpu_has_bf16()) return (bf16_kernel){kernel_avx512_bf16, "avx512-bf16", 0, 0};
    if (isa >= ATTX_ISA_AVX2) return (bf16_kernel){kernel_avx2, "avx2", 1, 1};
    return (bf16_kernel){kernel_portable, "portable", 1, 0};
}

const char *attx_bf16_kernel_name(void)
{
    return bf16_kernel_in_use().name;
}

/* The kernel on one tile, with flush-to-zero and round-to-nearest in the MXCSR when it asks
 * (and every exception masked), the caller's MXCSR restored after. The kernel is called
 * through a pointer: no floating-point operation of this function moves across the switch. */
static void run_kernel(const bf16_kernel *k, int nv, int pairs, const void *x, ptrdiff_t x_stride,
                       const uint32_t *w, ptrdiff_t panel_stride, float *tile)
{
#if ATTX_BF16_X86
    if (k->flush_to_zero) {
        unsigned saved = _mm_getcsr();
        _mm_setcsr((saved & ~0x6000u) | 0x8000u | 0x1F80u);   /* RC = nearest, FTZ, exceptions masked */
        k->fn(nv, pairs, x, x_stride, w, panel_stride, tile);
        _mm_setcsr(saved);
        return;
    }
#endif
    k->fn(nv, pairs, x, x_stride, w, panel_stride, tile);
}

/* ---- the layer ---- */

/* output (m, n) again in scalar code with the NaN rule: for the NaNs of a tile */
static float output_exact(const attx_bf16_weight *w, const bf16_acts *a, int m, int n)
{
    float acc = 0.0f;
    for (int j = 0; j < w->K2 / 2; j++) {
        int odd = 2 * j + 1, even = 2 * j;
        acc = step_exact(acc, act_at(a, m, odd), bf16_value(weight_at(w, n, odd)));   /* the pad is +0 */
        acc = step_exact(acc, act_at(a, m, even), bf16_value(weight_at(w, n, even)));
    }
    return acc;
}

/* y[c] = acc[c] + bias[c] for one row (the same operation in every clone) */
ATTX_CLONES static void bf16_epilogue(const float *acc, const float *bias, float *y, int cols)
{
    if (bias)
        for (int c = 0; c < cols; c++) y[c] = acc[c] + bias[c];
    else
        memcpy(y, acc, (size_t)cols * sizeof *y);
}

/* Rows [m0, m0 + 8) × panels [p0, p0 + nv) into y */
static void bf16_block(const bf16_kernel *k, const attx_bf16_weight *w, const bf16_acts *a, int m0, int p0, int nv,
                       const float *bias, float *y)
{
    float tile[BF_MR * BF_TILE_W];
    ptrdiff_t panel_stride = (ptrdiff_t)BF_PANEL * (w->K2 / 2);
    const void *x = a->as_float ? (const void *)(a->f + (size_t)m0 * a->K2) : (const void *)(a->h + (size_t)m0 * a->K2);
    ptrdiff_t x_stride = a->K2;
    run_kernel(k, nv, w->K2 / 2, x, x_stride, w->packed + p0 * panel_stride, panel_stride, tile);
    int rows = a->M - m0 < BF_MR ? a->M - m0 : BF_MR, n0 = p0 * BF_PANEL;
    int cols = w->N - n0 < nv * BF_PANEL ? w->N - n0 : nv * BF_PANEL;
    for (int i = 0; i < rows; i++) {
        float *acc = tile + i * BF_TILE_W;
        for (int c = 0; c < cols; c++)
            if (is_nan(acc[c])) acc[c] = output_exact(w, a, m0 + i, n0 + c);
        bf16_epilogue(acc, bias ? bias + n0 : NULL, y + (size_t)(m0 + i) * w->N + n0, cols);
    }
}

int attx_bf16_linear(const attx_bf16_weight *w, const float *x, int M, const float *bias, float *y, void *scratch)
{
    if (M <= 0) return 0;
    void *mem = scratch ? scratch : malloc(attx_bf16_scratch_bytes(M, w->K));
    if (!mem) return -1;
    bf16_kernel k = bf16_kernel_in_use();
    bf16_acts a;
    acts_init(&a, mem, x, M, w->K, k.as_float);
    int chunks = ceil_div(w->panels, BF_NV), row_blocks = ceil_div(M, BF_MR);
    /* each chunk of 3 panels stays in cache while the row blocks stream past it */
#pragma omp parallel for collapse(2) if ((int64_t)chunks * row_blocks > 1 && \
                                          ATTX_PARALLEL(ATTX_WORK_GEMM, (int64_t)M * w->N * w->K))
    for (int ch = 0; ch < chunks; ch++)
        for (int rb = 0; rb < row_blocks; rb++) {
            int p0 = ch * BF_NV, nv = w->panels - p0 < BF_NV ? w->panels - p0 : BF_NV;
            bf16_block(&k, w, &a, rb * BF_MR, p0, nv, bias, y);
        }
    if (!scratch) free(mem);
    return 0;
}
