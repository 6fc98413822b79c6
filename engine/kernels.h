/* kernels.h — internal: the numeric kernels the ops are built on. */
#ifndef ATTX_KERNELS_H
#define ATTX_KERNELS_H

#include "attx_weights.h"   /* ATTX_ISA_*, attx_cpu_isa */

/* ---- GEMM (gemm.c) ----------------------------------------------------------------------- */

/* C[M, N] = beta·C + op(A)[M, K] · op(B)[K, N]. All matrices are row-major with leading
 * dimensions (lda ≥ A's row length as stored, and so on); op(X) = X, or X^T when trans_x is
 * non-zero. beta is 0 or 1 (any other value scales C first); with beta = 0, C is not read, so
 * it may hold NaN.
 *
 * Determinism: every element of C is computed by a sequence of floating-point operations that
 * depends only on (M, N, K) and the instruction set in use, never on the number of threads.
 * Runs on all OpenMP threads, or on the calling thread alone inside a parallel region. */
void attx_gemm(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);

/* op(B)[K, N] packed once for many products (a layer's weights): attx_gemm_b_packed with it
 * computes the same bits as attx_gemm with B, without packing B again. The packing is for the
 * ISA in use when it was made; under another (attx_gemm_set_isa), B itself is used. B must
 * not change while its packed copy is in use. NULL when out of memory or K, N ≤ 0. */
typedef struct attx_gemm_packed attx_gemm_packed;
attx_gemm_packed *attx_gemm_pack_b(int trans_b, int K, int N, const float *B, int ldb);
void attx_gemm_packed_free(attx_gemm_packed *p);
size_t attx_gemm_packed_bytes(const attx_gemm_packed *p);
void attx_gemm_b_packed(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B,
                        int ldb, const attx_gemm_packed *packed, float beta, float *C, int ldc);

/* ---- int8 linear layers (gemm_q8.c) --------------------------------------------------------
 * y[M, N] = x[M, K] · W[N, K]^T + b with W quantised per output channel (symmetric int8) and
 * each row of x per row when the layer runs (asymmetric uint8): gemm_q8.c has the formulas.
 * Identical results on every ISA and thread count. */
typedef struct attx_q8_weight attx_q8_weight;
/* W[N, K] quantised and packed; NULL when out of memory or K > 65536. */
attx_q8_weight *attx_q8_weight_new(const float *W, int N, int K);
/* From quantised values q[N·K] and scales[N] as they are (an int8 model file). */
attx_q8_weight *attx_q8_weight_from_values(const int8_t *q, const float *scale, int N, int K);
void attx_q8_weight_free(attx_q8_weight *w);
size_t attx_q8_weight_bytes(const attx_q8_weight *w);
/* The quantised weights q[N·K] and their scales scale[N] (may be NULL). */
void attx_q8_weight_values(const attx_q8_weight *w, int8_t *q, float *scale);
/* y[M, N] (bias may be NULL); −1 when out of memory. */
int attx_q8_linear(const attx_q8_weight *w, const float *x, int M, const float *bias, float *y);
/* One row of x quantised: u[K], its scale and zero point. */
void attx_q8_quantize_row(const float *x, int K, uint8_t *u, float *scale, int32_t *zero);
/* All M rows of x[M, K] quantised once, for every layer that reads x (Q, K and V read the same
 * hidden states), in attx_q8_acts_bytes(M, K) bytes of the caller's memory (any alignment). */
typedef struct attx_q8_acts {
    int M, K, Kp;        /* Kp: K rounded up to a multiple of 64 */
    uint8_t *u;          /* [round_up(M, 16)][Kp], zero-padded */
    float *scale;        /* [M] */
    int32_t *zero;       /* [M] */
} attx_q8_acts;
size_t attx_q8_acts_bytes(int M, int K);
void attx_q8_acts_init(attx_q8_acts *a, void *mem, const float *x, const uint8_t *codes_in, int M, int K);
int attx_q8_linear_acts(const attx_q8_weight *w, const attx_q8_acts *a, const float *bias, float *y);
/* Tests: acc[M, N] = Σ_k u[m, k] · q[n, k] for given u[M, K]. */
int attx_q8_gemm_s32(const attx_q8_weight *w, const uint8_t *u, int M, int32_t *acc);
/* "amx", "avx512-vnni", "avx2" or "portable": the int8 kernel of the ISA in use */
const char *attx_q8_kernel_name(void);
/* AMX, where the CPU has it, is used with the avx512 ISA unless turned off here (tests and
 * benchmarks compare it with the VNNI kernel); the same sums either way. Not concurrently with
 * an int8 layer. */
void attx_q8_set_amx(int on);

/* ---- bf16 linear layers (gemm_bf16.c) -----------------------------------------------------
 * y[M, N] = x[M, K] · W[N, K]^T + b with W and the rows of x rounded to bf16 (nearest even) and
 * the products summed in fp32 as AVX512_BF16's vdpbf16ps sums them (gemm_bf16.c has the rules:
 * k-pairs in order, odd element first, bf16 denormals read as zeros, tiny sums flushed). The
 * same bits with vdpbf16ps and with the AVX2 and portable emulations, for any thread count. */
typedef struct attx_bf16_weight attx_bf16_weight;
/* W[N, K] rounded (attx_f32_to_bf16, denormals made zeros of their sign) and packed; NULL when
 * out of memory, N or K ≤ 0, or K > 2^28. */
attx_bf16_weight *attx_bf16_weight_new(const float *W, int N, int K);
void attx_bf16_weight_free(attx_bf16_weight *w);
size_t attx_bf16_weight_bytes(const attx_bf16_weight *w);
/* The bf16 weights as stored, h[N·K]. */
void attx_bf16_weight_values(const attx_bf16_weight *w, uint16_t *h);
/* One row of x rounded as the layer rounds it: h[K] (attx_f32_to_bf16's bits, a denormal result
 * made a zero of its sign). */
void attx_bf16_round_row(const float *x, int K, uint16_t *h);
/* Bytes of scratch memory attx_bf16_linear needs for M rows of K (any alignment). */
size_t attx_bf16_scratch_bytes(int M, int K);
/* y[M, N] (bias may be NULL), with scratch of attx_bf16_scratch_bytes(M, K) bytes or NULL (then
 * allocated for the call); −1 when out of memory. */
int attx_bf16_linear(const attx_bf16_weight *w, const float *x, int M, const float *bias, float *y, void *scratch);
/* "avx512-bf16", "avx2" or "portable": the bf16 kernel of the ISA in use (the last two emulate) */
const char *attx_bf16_kernel_name(void);

/* Instruction set of the micro-kernels (ATTX_ISA_* of attx_weights.h). attx_cpu_isa's is used by default;
 * attx_gemm_set_isa forces one (tests, benchmarks): a request above what the CPU supports
 * falls back to the best supported one, ATTX_ISA_AUTO returns to the default. Set it before
 * calling attx_gemm, not concurrently with it. */
void attx_gemm_set_isa(int isa);
int attx_gemm_isa(void);                  /* the ISA attx_gemm uses now */
const char *attx_gemm_isa_name(int isa);  /* "portable", "avx2", "avx512" */

/* Frees the packing buffers attx_gemm keeps for reuse (they are allocated again when needed).
 * Not concurrently with attx_gemm. */
void attx_gemm_free_buffers(void);

/* Number of threads the calling thread's last attx_gemm call ran on (1 inside a parallel
 * region). For tests. */
int attx_gemm_last_threads(void);

/* Length of the k-blocks that attx_gemm sums separately for a given ISA and K (the last one
 * may be shorter). Exposed so that tests can replay the exact arithmetic. */
int attx_gemm_kblock(int isa, int K);

#endif
