/* gemm.c — single-precision GEMM, C = beta·C + op(A)·op(B), blocked and packed in the
 * GotoBLAS/BLIS way, with AVX-512, AVX2+FMA and portable C micro-kernels chosen at run time
 * and OpenMP over rectangles of C.
 *
 * One thread computes its rectangle of C with this loop nest:
 *
 *   for jc in [0, N) step NC:                     columns of C
 *     for pc in [0, K) step KC:                   k-blocks, always in increasing order
 *       pack op(B)[pc:pc+KC, jc:jc+NC] -> Bp      KC×NC, as NC/NR panels of [KC][NR]
 *       for ic in [0, M) step MC:                 rows of C
 *         pack op(A)[ic:ic+MC, pc:pc+KC] -> Ap    MC×KC, as MC/MR panels of [KC][MR]
 *         for ir in [0, MC) step MR:              one A panel (MR×KC, stays in L1) ...
 *           for jr in [0, NC) step NR:            ... against every B panel (streamed from L2)
 *             micro-kernel: C[MR, NR] (+)= A panel · B panel
 *
 * Determinism. The micro-kernel sums the KC products of each element of its MR×NR tile in k
 * order into a register that starts at 0 (one fused multiply-add per product on AVX2/AVX-512,
 * a multiply then an add in portable C), then stores C = acc for the first k-block when
 * beta = 0 and C = C + acc otherwise. Tiles at the edges of C are computed by the same kernel
 * on zero-padded panels into a scratch tile, then stored or added element by element with that
 * same one addition. So the operations that produce C[i, j] depend only on K, the k-block
 * length (a function of K and the ISA alone) and the ISA's arithmetic: not on MC, NC, the tile
 * shape, where a tile lies, or which thread computes it. Threads split C into rectangles and
 * never split K. test_gemm.c replays this arithmetic in scalar code and compares bits.
 */
#include "kernels.h"
#include "parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#define ATTX_GEMM_X86 1
#else
#define ATTX_GEMM_X86 0
#endif

#if ATTX_GEMM_X86
#include <immintrin.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int ceil_div(int a, int b) { return (a + b - 1) / b; }
static inline int round_up(int a, int b) { return ceil_div(a, b) * b; }

/* Micro-kernel: c[MR, NR] (row stride ldc) = (accumulate ? c : 0) + a·b, where a is a packed
 * A panel [kc][MR] and b a packed B panel [kc][NR]. */
typedef void (*microkernel_fn)(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                               int accumulate);

/* Packing of `len` lanes (rows of op(A), or columns of op(B)) × kc into panels of W lanes:
 * dst[p][k][l] = lane p·W + l at depth k = src[(p·W + l)·lane_stride + k·k_stride], with the
 * lanes past `len` in the last panel set to 0. One of the two strides is 1. */
typedef void (*pack_fn)(float *dst, int W, int len, int kc, const float *src,
                        ptrdiff_t lane_stride, ptrdiff_t k_stride);

/* ============================================================================================
 * Micro-kernels
 * ========================================================================================== */

#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,fma")))

/* ---- portable C: 6×8, acc = acc + a·b (two roundings: baseline x86-64 has no FMA, and
 * -std=c11 keeps gcc from contracting). With SSE2, 6 rows × 2 vectors of 4 = 12 of the 16 xmm
 * registers. */
enum { PORT_MR = 6, PORT_NR = 8 };

static void kernel_portable(int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                            int accumulate)
{
    float acc[PORT_MR][PORT_NR] = {{0}};
    for (int k = 0; k < kc; k++) {
        for (int i = 0; i < PORT_MR; i++)
            for (int j = 0; j < PORT_NR; j++) acc[i][j] = acc[i][j] + a[i] * b[j];
        a += PORT_MR;
        b += PORT_NR;
    }
    for (int i = 0; i < PORT_MR; i++)
        for (int j = 0; j < PORT_NR; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#if ATTX_GEMM_X86   /* the x86 kernels; elsewhere (WebAssembly) the portable ones only */
/* ---- AVX2 + FMA: 6×16 = 6 rows × 2 ymm accumulators (12 registers), plus 2 for the B row and
 * 1 for the broadcast A element: 15 of the 16 ymm registers. */
enum { AVX2_MR = 6, AVX2_NR = 16 };

AVX2_TARGET static void kernel_avx2_6x16(int kc, const float *a, const float *b, float *c,
                                         ptrdiff_t ldc, int accumulate)
{
    __m256 acc[AVX2_MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < AVX2_MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < AVX2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += AVX2_MR;
        b += AVX2_NR;
    }
#pragma GCC unroll 6
    for (int i = 0; i < AVX2_MR; i++) {
        float *ci = c + i * ldc;
        if (accumulate) {
            acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(ci), acc[i][0]);
            acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc[i][1]);
        }
        _mm256_storeu_ps(ci, acc[i][0]);
        _mm256_storeu_ps(ci + 8, acc[i][1]);
    }
}

/* ---- AVX-512: 8 rows × NV zmm vectors of 16 columns, NV = 1, 2 or 3. 8×48 uses 24
 * accumulators + 3 B vectors + 1 broadcast = 28 of the 32 zmm registers. On Zen 4 (512-bit
 * FMAs issued as two 256-bit halves, 1 per cycle, 4 cycles latency) all three widths reach
 * ~97% of peak with packed data in cache, so the width is picked per call to waste the least
 * on padding (N = 64 heads: 8×32, not 8×48). MR = 8 keeps the A packing to 8×8 transposes
 * and fits M = 128 (T in BERT) exactly. The arithmetic per element is the same for all three. */
enum { AVX512_MR = 8 };

AVX512_TARGET __attribute__((always_inline)) static inline void
avx512_tile(const int NV, int kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
            int accumulate)
{
    __m512 acc[AVX512_MR][3];
#pragma GCC unroll 8
    for (int i = 0; i < AVX512_MR; i++)
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 bk[3];
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) bk[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 8
        for (int i = 0; i < AVX512_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 3
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, bk[v], acc[i][v]);
        }
        a += AVX512_MR;
        b += 16 * NV;
    }
#pragma GCC unroll 8
    for (int i = 0; i < AVX512_MR; i++) {
        float *ci = c + i * ldc;
#pragma GCC unroll 3
        for (int v = 0; v < NV; v++) {
            if (accumulate) acc[i][v] = _mm512_add_ps(_mm512_loadu_ps(ci + 16 * v), acc[i][v]);
            _mm512_storeu_ps(ci + 16 * v, acc[i][v]);
        }
    }
}

AVX512_TARGET static void kernel_avx512_8x16(int kc, const float *a, const float *b, float *c,
                                             ptrdiff_t ldc, int accumulate)
{
    avx512_tile(1, kc, a, b, c, ldc, accumulate);
}

AVX512_TARGET static void kernel_avx512_8x32(int kc, const float *a, const float *b, float *c,
                                             ptrdiff_t ldc, int accumulate)
{
    avx512_tile(2, kc, a, b, c, ldc, accumulate);
}

AVX512_TARGET static void kernel_avx512_8x48(int kc, const float *a, const float *b, float *c,
                                             ptrdiff_t ldc, int accumulate)
{
    avx512_tile(3, kc, a, b, c, ldc, accumulate);
}
#endif

/* ============================================================================================
 * Packing
 * ========================================================================================== */

/* Portable: element by element. */
static void pack_portable(float *restrict dst, int W, int len, int kc, const float *restrict src,
                          ptrdiff_t lane_stride, ptrdiff_t k_stride)
{
    for (int p = 0; p < len; p += W) {
        int w = imin(W, len - p);
        const float *s = src + p * lane_stride;
        for (int k = 0; k < kc; k++) {
            float *d = dst + (size_t)k * W;
            const float *sk = s + k * k_stride;
            for (int l = 0; l < w; l++) d[l] = sk[l * lane_stride];
            for (int l = w; l < W; l++) d[l] = 0.0f;
        }
        dst += (size_t)W * kc;
    }
}

#if ATTX_GEMM_X86
/* In-place transpose of the 8×8 block r[0..7] (row i = r[i]). */
AVX2_TARGET __attribute__((always_inline)) static inline void transpose8x8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {   /* interleave pairs of rows */
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {   /* then pairs of pairs */
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {      /* then swap the 128-bit halves across */
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* Stores the first n (1..8) floats of v. */
AVX2_TARGET __attribute__((always_inline)) static inline void store_first(float *d, __m256 v,
                                                                          int n)
{
    if (n == 8) {
        _mm256_storeu_ps(d, v);
        return;
    }
    __m128 part = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(d, part);
        part = _mm256_extractf128_ps(v, 1);
        d += 4;
        n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)d, part);
        part = _mm_movehl_ps(part, part);
        d += 2;
        n -= 2;
    }
    if (n) _mm_store_ss(d, part);
}

/* A full panel of W = 8·N8 contiguous lanes: N8 vectors per k. With N8 a constant the inner
 * loop is unrolled, which also keeps gcc from making it a memcpy call per k (17% of the time
 * of dY·W when it did). */
AVX2_TARGET __attribute__((always_inline)) static inline void
copy_panel(float *restrict d, const int N8, int kc, const float *restrict s, ptrdiff_t k_stride)
{
    for (int k = 0; k < kc; k++) {
        for (int v = 0; v < N8; v++) _mm256_storeu_ps(d + 8 * v, _mm256_loadu_ps(s + 8 * v));
        d += 8 * N8;
        s += k_stride;
    }
}

/* AVX2 (also used by the AVX-512 path): copies vectors when the lanes are contiguous in the
 * source (op(X) = X), transposes 8×8 blocks in registers when k is (op(X) = X^T, and
 * A = x[T, in] of every linear layer). Element by element packing took a third of the time
 * of x[128, 768]·W[3072, 768]^T. */
AVX2_TARGET static void pack_avx2(float *restrict dst, int W, int len, int kc,
                                  const float *restrict src, ptrdiff_t lane_stride,
                                  ptrdiff_t k_stride)
{
    for (int p = 0; p < len; p += W) {
        int w = imin(W, len - p);
        const float *s = src + p * lane_stride;
        if (lane_stride == 1 && w == W && (W == 6 || W % 8 == 0)) {
            switch (W) {   /* the panel widths of the kernels */
            case 8: copy_panel(dst, 1, kc, s, k_stride); break;
            case 16: copy_panel(dst, 2, kc, s, k_stride); break;
            case 32: copy_panel(dst, 4, kc, s, k_stride); break;
            case 48: copy_panel(dst, 6, kc, s, k_stride); break;
            case 6:
                for (int k = 0; k < kc; k++) {
                    const float *sk = s + k * k_stride;
                    _mm_storeu_ps(dst + 6 * k, _mm_loadu_ps(sk));
                    _mm_storel_pi((__m64 *)(dst + 6 * k + 4), _mm_loadl_pi(_mm_setzero_ps(),
                                                                           (const __m64 *)(sk + 4)));
                }
                break;
            default:
                for (int k = 0; k < kc; k++)
                    for (int l = 0; l < W; l++) dst[(size_t)k * W + l] = s[k * k_stride + l];
            }
        } else if (lane_stride == 1) {
            for (int k = 0; k < kc; k++) {
                float *d = dst + (size_t)k * W;
                const float *sk = s + k * k_stride;
                int l = 0;
                for (; l + 8 <= w; l += 8) _mm256_storeu_ps(d + l, _mm256_loadu_ps(sk + l));
                for (; l < w; l++) d[l] = sk[l];
                for (; l < W; l++) d[l] = 0.0f;
            }
        } else {
            for (int l0 = 0; l0 < w; l0 += 8) {
                int nl = imin(8, w - l0);   /* lanes in this block */
                const float *sl = s + l0 * lane_stride;
                float *d = dst + l0;
                int k = 0;
                for (; k + 8 <= kc; k += 8) {
                    __m256 r[8];
                    for (int i = 0; i < 8; i++)
                        r[i] = i < nl ? _mm256_loadu_ps(sl + i * lane_stride + k)
                                      : _mm256_setzero_ps();
                    transpose8x8(r);
                    for (int i = 0; i < 8; i++) store_first(d + (size_t)(k + i) * W, r[i], nl);
                }
                for (; k < kc; k++)
                    for (int i = 0; i < nl; i++) d[(size_t)k * W + i] = sl[i * lane_stride + k];
            }
            for (int k = 0; k < kc && w < W; k++)
                for (int l = w; l < W; l++) dst[(size_t)k * W + l] = 0.0f;
        }
        dst += (size_t)W * kc;
    }
}
#endif

/* ============================================================================================
 * The ISAs: kernels and block sizes
 * ========================================================================================== */

typedef struct kernel_variant {
    int nr;
    microkernel_fn fn;
} kernel_variant;

typedef struct gemm_isa_impl {
    int fused;        /* kernels use FMA (for the exact scalar replay) */
    int mr;
    int kc;           /* longest k-block: the only block size the arithmetic depends on */
    int mc, nc;       /* rows of op(A) / columns of op(B) packed at a time */
    pack_fn pack;
    int n_variants;   /* micro-kernels by tile width, widest first */
    kernel_variant variants[3];
} gemm_isa_impl;

/* Block sizes (measured on Zen 4: 32 KB L1d, 1 MB L2 per core, 32 MB L3; and on a Xeon with
 * 48 KB L1d, 2 MB L2). The A panel, MR×KC floats, is reused from L1 against all NC/NR B panels
 * (8×512×4 = 16 KB with AVX-512); the packed B block, KC×NC, is streamed from L2 and reused by
 * all MC/MR A panels, so it must fit there: NC = 480 (512×480×4 = 960 KB). NC = 2048 made it
 * 4 MB, streamed from L3 once per A panel: BERT-base's 128-token forward took 217 ms against
 * 190 with 480, MiniLM's batch 32 × 128 937 against 830. A long KC halves the number of passes
 * over C and measured best (512 vs 256: +4% at 2048³); MC only sets how much A is packed at a
 * time. None of MC, NC changes a result (see the top comment). */
static const gemm_isa_impl impl_portable = {
    0, PORT_MR, 512, 96, 2048, pack_portable, 1, {{PORT_NR, kernel_portable}},
};
#if ATTX_GEMM_X86
static const gemm_isa_impl impl_avx2 = {
    1, AVX2_MR, 512, 120, 480, pack_avx2, 1, {{AVX2_NR, kernel_avx2_6x16}},
};
static const gemm_isa_impl impl_avx512 = {
    1, AVX512_MR, 512, 128, 480, pack_avx2, 3,
    {{48, kernel_avx512_8x48}, {32, kernel_avx512_8x32}, {16, kernel_avx512_8x16}},
};
#endif

/* ============================================================================================
 * ISA selection
 * ========================================================================================== */

static int forced_isa = ATTX_ISA_AUTO;   /* set by attx_gemm_set_isa */

void attx_gemm_set_isa(int isa)
{
    forced_isa = isa < ATTX_ISA_PORTABLE || isa > ATTX_ISA_AVX512 ? ATTX_ISA_AUTO : isa;
}

int attx_gemm_isa(void)
{
    int best = attx_cpu_isa();   /* the CPU's best, or ATTX_ISA's */
    return forced_isa == ATTX_ISA_AUTO ? best : imin(forced_isa, best);
}

const char *attx_gemm_isa_name(int isa)
{
    return attx_isa_name(isa);
}

static const gemm_isa_impl *impl_for(int isa)
{
#if ATTX_GEMM_X86
    return isa == ATTX_ISA_AVX512 ? &impl_avx512
           : isa == ATTX_ISA_AVX2 ? &impl_avx2
                                  : &impl_portable;
#else
    (void)isa;
    return &impl_portable;
#endif
}

/* K is cut into ceil(K / kc) blocks of equal length (the last one shorter), so that no block
 * is much shorter than the others. Depends on K and the ISA only. */
static int kblock_len(const gemm_isa_impl *impl, int K)
{
    if (K <= 0) return 1;
    return ceil_div(K, ceil_div(K, impl->kc));
}

int attx_gemm_kblock(int isa, int K)
{
    return kblock_len(impl_for(isa), K);
}

/* ============================================================================================
 * Packing buffers: a pool of 64-byte aligned buffers. A thread takes one for the duration of
 * its share of a call and gives it back; buffers grow when needed and are never shrunk, so
 * once the pool holds one big enough buffer per concurrently running thread, calls do not
 * allocate. (A pool rather than thread-local buffers: OpenMP may end threads, e.g. when the
 * thread count changes, and their thread-local buffers would leak.)
 * ========================================================================================== */

typedef struct pack_buffer {
    struct pack_buffer *next;   /* in the free list */
    float *data;
    size_t cap;                 /* floats */
} pack_buffer;

static pack_buffer *pool_free;   /* guarded by the critical section attx_gemm_pool */

/* A buffer of at least nfloats, or NULL when out of memory. */
static pack_buffer *buffer_take(size_t nfloats)
{
    pack_buffer *pb = NULL;
#pragma omp critical(attx_gemm_pool)
    {
        /* the first that is big enough, else the first */
        pack_buffer **link = &pool_free;
        while (*link && (*link)->cap < nfloats) link = &(*link)->next;
        if (!*link) link = &pool_free;
        if (*link) {
            pb = *link;
            *link = pb->next;
        }
    }
    if (!pb) {
        pb = calloc(1, sizeof *pb);
        if (!pb) return NULL;
    }
    if (pb->cap < nfloats) {
        size_t bytes = (nfloats * sizeof(float) + 63) & ~(size_t)63;
        float *p = aligned_alloc(64, bytes);
        if (!p) {
            free(pb->data);
            free(pb);
            return NULL;
        }
        free(pb->data);
        pb->data = p;
        pb->cap = bytes / sizeof(float);
    }
    return pb;
}

static void buffer_give_back(pack_buffer *pb)
{
#pragma omp critical(attx_gemm_pool)
    {
        pb->next = pool_free;
        pool_free = pb;
    }
}

void attx_gemm_free_buffers(void)
{
    pack_buffer *list;
#pragma omp critical(attx_gemm_pool)
    {
        list = pool_free;
        pool_free = NULL;
    }
    while (list) {
        pack_buffer *next = list->next;
        free(list->data);
        free(list);
        list = next;
    }
}

/* ============================================================================================
 * Serial driver
 * ========================================================================================== */

/* How one call runs: the ISA's implementation and the micro-kernel picked for N. */
typedef struct gemm_plan {
    const gemm_isa_impl *impl;
    int mr, nr;
    microkernel_fn kernel;
} gemm_plan;

/* ---- op(B) packed ahead: the panels gemm_serial would pack, for every k-block in order ----
 * Layout: k-block b (rows pc = b·kc ...), panel j (columns j·NR ...): kc_b × NR floats at
 * data + pc·panels·NR + j·kc_b·NR, lanes past N zero. A product whose plan has the same ISA,
 * NR and k-blocks reads the panels from there, in the same order: the same bits. */
struct attx_gemm_packed {
    int isa, K, N, nr, kc, panels;
    float *data;
};

/* The operands of one (sub)problem: op(A)[i, k] = A[i·a_rs + k·a_cs],
 * op(B)[k, j] = B[k·b_rs + j·b_cs], C[i, j] = C[i·ldc + j]. */
typedef struct gemm_args {
    int M, N, K, kc;   /* kc: k-block length */
    const float *A;
    ptrdiff_t a_rs, a_cs;
    const float *B;
    ptrdiff_t b_rs, b_cs;
    float *C;
    ptrdiff_t ldc;
    int beta_one;
    const attx_gemm_packed *packed;   /* op(B) packed ahead (attx_gemm_pack_b), or NULL */
    int n0;                           /* first column of this (sub)problem in op(B): where its panels are */
} gemm_args;

/* The kernels' arithmetic replayed in scalar code, used only when no packing buffer can be
 * allocated: same k-blocks, same order, fmaf where the kernels use FMA, so same bits. */
static void gemm_replay(const gemm_plan *plan, const gemm_args *g)
{
    for (int i = 0; i < g->M; i++)
        for (int j = 0; j < g->N; j++) {
            float *c = g->C + i * g->ldc + j;
            for (int pc = 0; pc < g->K; pc += g->kc) {
                int kend = imin(g->K, pc + g->kc);
                float acc = 0.0f;
                for (int k = pc; k < kend; k++) {
                    float a = g->A[i * g->a_rs + k * g->a_cs];
                    float b = g->B[k * g->b_rs + j * g->b_cs];
                    acc = plan->impl->fused ? __builtin_fmaf(a, b, acc) : acc + a * b;
                }
                *c = (pc == 0 && !g->beta_one) ? acc : *c + acc;
            }
        }
}

/* One micro-tile of m ≤ MR rows and n ≤ NR columns: full tiles go straight to C, edge tiles
 * through the scratch tile. */
static inline void micro_tile(const gemm_plan *plan, int m, int n, int kc, const float *a,
                              const float *b, float *c, ptrdiff_t ldc, int accumulate,
                              float *tile)
{
    const int MR = plan->mr, NR = plan->nr;
    if (m == MR && n == NR) {
        plan->kernel(kc, a, b, c, ldc, accumulate);
        return;
    }
    /* same kernel, then the same one addition (or none) as in the kernel */
    plan->kernel(kc, a, b, tile, NR, 0);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
}

/* C[mc, nc] (+)= Ap · Bp, one A panel at a time against all B panels (see the top comment). */
static void macro_kernel(const gemm_plan *plan, int mc, int nc, int kc, const float *Ap,
                         const float *Bp, float *C, ptrdiff_t ldc, int accumulate, float *tile)
{
    const int MR = plan->mr, NR = plan->nr;
    for (int ir = 0; ir < mc; ir += MR)
        for (int jr = 0; jr < nc; jr += NR)
            micro_tile(plan, imin(MR, mc - ir), imin(NR, nc - jr), kc, Ap + (size_t)ir * kc,
                       Bp + (size_t)jr * kc, C + ir * ldc + jr, ldc, accumulate, tile);
}

static void gemm_serial(const gemm_plan *plan, const gemm_args *g)
{
    const gemm_isa_impl *impl = plan->impl;
    const int MR = plan->mr, NR = plan->nr;
    const int M = g->M, N = g->N, K = g->K, KC = g->kc;
    /* MC, NC: at most the ISA's, evened out over the blocks this rectangle needs */
    int mc_max = round_up(ceil_div(M, ceil_div(M, impl->mc)), MR);
    int nc_max = round_up(ceil_div(N, ceil_div(N, impl->nc)), NR);
    size_t a_size = (size_t)mc_max * KC, b_size = (size_t)nc_max * KC;
    a_size = (a_size + 15) & ~(size_t)15;   /* keep Bp 64-byte aligned */
    pack_buffer *pb = buffer_take(a_size + b_size + (size_t)MR * NR);
    if (!pb) {
        gemm_replay(plan, g);
        return;
    }
    float *Ap = pb->data, *Bp = Ap + a_size, *tile = Bp + b_size;   /* Bp moves when B is packed ahead */

    for (int jc = 0; jc < N; jc += nc_max) {
        int nc = imin(nc_max, N - jc);
        for (int pc = 0; pc < K; pc += KC) {
            int kc = imin(KC, K - pc);
            int accumulate = g->beta_one || pc > 0;
            if (g->packed)   /* the panels of columns n0 + jc ... of k-block pc, packed ahead */
                Bp = g->packed->data + (size_t)pc * g->packed->panels * NR + (size_t)((g->n0 + jc) / NR) * kc * NR;
            else
                impl->pack(Bp, NR, nc, kc, g->B + pc * g->b_rs + jc * g->b_cs, g->b_cs, g->b_rs);
            for (int ic = 0; ic < M; ic += mc_max) {
                int mc = imin(mc_max, M - ic);
                impl->pack(Ap, MR, mc, kc, g->A + ic * g->a_rs + pc * g->a_cs, g->a_rs,
                           g->a_cs);
                macro_kernel(plan, mc, nc, kc, Ap, Bp, g->C + ic * g->ldc + jc, g->ldc,
                             accumulate, tile);
            }
        }
    }
    buffer_give_back(pb);
}

/* ============================================================================================
 * Threads: C is cut into a tm × tn grid of rectangles, one per thread, on micro-tile
 * boundaries. K is never split, so each element is computed by one thread, the same way.
 * ========================================================================================== */

/* Estimated cost of a tm × tn grid: the largest rectangle's multiply-adds including padding,
 * plus its packing (A once per NC columns, B once), each packed float counted as 16 MACs. */
static double grid_cost(const gemm_plan *plan, int M, int N, int K, int tm, int tn)
{
    int rows = ceil_div(ceil_div(M, plan->mr), tm) * plan->mr;
    int cols = ceil_div(ceil_div(N, plan->nr), tn) * plan->nr;
    double macs = (double)rows * cols * K;
    double packed = (double)K * ((double)rows * ceil_div(cols, plan->impl->nc) + cols);
    return macs + 16.0 * packed;
}

static void choose_grid(const gemm_plan *plan, int M, int N, int K, int nt, int *tm, int *tn)
{
    double best = -1.0;
    for (int m = 1; m <= nt; m++) {
        if (nt % m) continue;
        double cost = grid_cost(plan, M, N, K, m, nt / m);
        if (best < 0 || cost < best) {
            best = cost;
            *tm = m;
            *tn = nt / m;
        }
    }
}

/* Thread t of a tm × tn grid computes its rectangle. */
static void gemm_thread(const gemm_plan *plan, const gemm_args *g, int tm, int tn, int t)
{
    int ti = t / tn, tj = t % tn;
    int mpanels = ceil_div(g->M, plan->mr), npanels = ceil_div(g->N, plan->nr);
    int m0 = (int)((int64_t)mpanels * ti / tm) * plan->mr;
    int m1 = imin(g->M, (int)((int64_t)mpanels * (ti + 1) / tm) * plan->mr);
    int n0 = (int)((int64_t)npanels * tj / tn) * plan->nr;
    int n1 = imin(g->N, (int)((int64_t)npanels * (tj + 1) / tn) * plan->nr);
    if (m0 >= m1 || n0 >= n1) return;
    gemm_args sub = *g;
    sub.M = m1 - m0;
    sub.N = n1 - n0;
    sub.A = g->A + m0 * g->a_rs;
    sub.B = g->B + n0 * g->b_cs;
    sub.n0 = g->n0 + n0;
    sub.C = g->C + m0 * g->ldc + n0;
    gemm_serial(plan, &sub);
}

/* The widest micro-kernel among those that pad N the least. */
static gemm_plan make_plan(const gemm_isa_impl *impl, int N)
{
    gemm_plan plan = {impl, impl->mr, impl->variants[0].nr, impl->variants[0].fn};
    for (int v = 1; v < impl->n_variants; v++) {
        int nr = impl->variants[v].nr;
        if (round_up(N, nr) < round_up(N, plan.nr)) {
            plan.nr = nr;
            plan.kernel = impl->variants[v].fn;
        }
    }
    return plan;
}

static _Thread_local int tls_last_threads;

int attx_gemm_last_threads(void)
{
    return tls_last_threads;
}

attx_gemm_packed *attx_gemm_pack_b(int trans_b, int K, int N, const float *B, int ldb)
{
    if (K <= 0 || N <= 0) return NULL;
    int isa = attx_gemm_isa();
    const gemm_isa_impl *impl = impl_for(isa);
    gemm_plan plan = make_plan(impl, N);
    attx_gemm_packed *p = malloc(sizeof *p);
    if (!p) return NULL;
    *p = (attx_gemm_packed){.isa = isa, .K = K, .N = N, .nr = plan.nr, .kc = kblock_len(impl, K),
                            .panels = ceil_div(N, plan.nr)};
    size_t bytes = ((size_t)K * (size_t)p->panels * (size_t)p->nr * sizeof(float) + 63) & ~(size_t)63;
    if (!(p->data = aligned_alloc(64, bytes))) {
        free(p);
        return NULL;
    }
    ptrdiff_t b_rs = trans_b ? 1 : ldb, b_cs = trans_b ? ldb : 1;
    for (int pc = 0; pc < K; pc += p->kc)
        impl->pack(p->data + (size_t)pc * p->panels * p->nr, p->nr, N, imin(p->kc, K - pc), B + pc * b_rs, b_cs,
                   b_rs);
    return p;
}

void attx_gemm_packed_free(attx_gemm_packed *p)
{
    if (!p) return;
    free(p->data);
    free(p);
}

size_t attx_gemm_packed_bytes(const attx_gemm_packed *p)
{
    return p ? (size_t)p->K * (size_t)p->panels * (size_t)p->nr * sizeof(float) : 0;
}

void attx_gemm(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc)
{
    attx_gemm_b_packed(trans_a, trans_b, M, N, K, A, lda, B, ldb, NULL, beta, C, ldc);
}

void attx_gemm_b_packed(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
                        int ldb, const attx_gemm_packed *packed, float beta, float *C, int ldc)
{
    tls_last_threads = 1;
    if (M <= 0 || N <= 0) return;
    if (beta != 0.0f && beta != 1.0f) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(ptrdiff_t)i * ldc + j] *= beta;
        beta = 1.0f;
    }
    if (K <= 0) {
        if (beta == 0.0f)
            for (int i = 0; i < M; i++) memset(C + (ptrdiff_t)i * ldc, 0, sizeof(float) * N);
        return;
    }
    const gemm_isa_impl *impl = impl_for(attx_gemm_isa());
    const gemm_plan plan = make_plan(impl, N);
    const gemm_args g = {
        .M = M, .N = N, .K = K, .kc = kblock_len(impl, K),
        .A = A, .a_rs = trans_a ? 1 : lda, .a_cs = trans_a ? lda : 1,
        .B = B, .b_rs = trans_b ? 1 : ldb, .b_cs = trans_b ? ldb : 1,
        .C = C, .ldc = ldc, .beta_one = beta != 0.0f,
        /* the packed panels only when they are what this plan would pack (ISA forced since?) */
        .packed = packed && packed->isa == attx_gemm_isa() && packed->K == K && packed->N == N &&
                          packed->nr == plan.nr && packed->kc == kblock_len(impl, K) ? packed : NULL,
    };

    /* inside a parallel region (e.g. one GEMM per attention head): this thread alone; else 2
     * threads from the threshold on, and one more per half of it (parallel.h) */
    int nt = 1;
    double macs = (double)M * N * K;
    if (!omp_in_parallel() && ATTX_PARALLEL(ATTX_WORK_GEMM, macs)) {
        int max_threads = omp_get_max_threads();
        double per_thread = attx_parallel_min_work[ATTX_WORK_GEMM] / 2.0;
        double useful = per_thread > 0 ? macs / per_thread : max_threads;
        nt = useful >= max_threads ? max_threads : imax(1, (int)useful);
    }
    if (nt == 1) {
        gemm_serial(&plan, &g);
        return;
    }
    int *last_threads = &tls_last_threads;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        /* the team may be smaller than asked for: cut C for the threads it has */
        int team = omp_get_num_threads(), tm = 1, tn = 1;
        if (omp_get_thread_num() == 0) *last_threads = team;
        choose_grid(&plan, M, N, K, team, &tm, &tn);
        gemm_thread(&plan, &g, tm, tn, omp_get_thread_num());
    }
}
