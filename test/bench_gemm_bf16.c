/* bench_gemm_bf16.c — the bf16 linear layer (attx_bf16_linear) against the fp32 one (attx_gemm
 * with the weights packed once, as a model's linear layers run) and the int8 one, on the shapes
 * of MiniLM's and BERT-base's layers: y[M, N] = x[M, K] · W[N, K]^T + b.
 *
 *   build/test/bench_gemm_bf16            1 thread, then 2
 *   build/test/bench_gemm_bf16 THREADS    that many threads only
 *
 * GFLOP/s = 2·M·N·K / seconds, the best of 5 runs of a few repetitions each; bf16 with the
 * kernel the CPU has (vdpbf16ps where it has AVX512_BF16) and with the AVX2 emulation forced. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "benchutil.h"
#include "kernels.h"
#include "parallel.h"

static float *random_values(size_t n, unsigned *seed, float scale)
{
    float *x = malloc(n * sizeof *x);
    if (!x) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = ((float)(*seed >> 8) / (float)(1u << 24) - 0.5f) * scale;
    }
    return x;
}

typedef struct layer {
    int M, N, K;
    float *x, *W, *b, *y;
    attx_gemm_packed *packed;
    attx_bf16_weight *w16;
    attx_q8_weight *w8;
    void *scratch;
} layer;

enum { RUN_FP32, RUN_BF16, RUN_INT8 };

static void run_once(layer *l, int what)
{
    if (what == RUN_FP32) {
        attx_gemm_b_packed(0, 1, l->M, l->N, l->K, l->x, l->K, l->W, l->K, l->packed, 0.0f, l->y, l->N);
        for (int m = 0; m < l->M; m++)   /* the bias, as ops_linear adds it */
            for (int n = 0; n < l->N; n++) l->y[(size_t)m * l->N + n] += l->b[n];
    } else if (what == RUN_BF16) {
        attx_bf16_linear(l->w16, l->x, l->M, l->b, l->y, l->scratch);
    } else {
        attx_q8_linear(l->w8, l->x, l->M, l->b, l->y);
    }
}

/* GFLOP/s: the best of 5 runs of `reps` calls */
static double gflops(layer *l, int what)
{
    double flop = 2.0 * l->M * l->N * l->K, best = 1e30;
    int reps = (int)(2e8 / flop) + 1;
    run_once(l, what);
    for (int r = 0; r < 5; r++) {
        double t = now_ms();
        for (int i = 0; i < reps; i++) run_once(l, what);
        double ms = (now_ms() - t) / reps;
        best = ms < best ? ms : best;
    }
    return flop / (best * 1e6);
}

static void bench_shape(const char *model, int M, int N, int K, unsigned *seed)
{
    layer l = {.M = M, .N = N, .K = K};
    l.x = random_values((size_t)M * K, seed, 4.0f);
    l.W = random_values((size_t)N * K, seed, 0.1f);
    l.b = random_values((size_t)N, seed, 0.1f);
    l.y = random_values((size_t)M * N, seed, 1.0f);
    l.packed = attx_gemm_pack_b(1, K, N, l.W, K);
    l.w16 = attx_bf16_weight_new(l.W, N, K);
    l.w8 = attx_q8_weight_new(l.W, N, K);
    l.scratch = malloc(attx_bf16_scratch_bytes(M, K));
    if (!l.packed || !l.w16 || !l.w8 || !l.scratch) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    double fp32 = gflops(&l, RUN_FP32), bf16 = gflops(&l, RUN_BF16), int8 = gflops(&l, RUN_INT8);
    attx_gemm_set_isa(ATTX_ISA_AVX2);
    double emulated = gflops(&l, RUN_BF16);
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    printf("%-9s %5d %5d %5d | %8.1f | %8.1f %5.2fx | %8.1f %5.2fx | %8.1f\n", model, M, N, K, fp32, bf16, bf16 / fp32,
           emulated, emulated / fp32, int8);
    fflush(stdout);
    attx_gemm_packed_free(l.packed);
    attx_bf16_weight_free(l.w16);
    attx_q8_weight_free(l.w8);
    free(l.x), free(l.W), free(l.b), free(l.y), free(l.scratch);
}

int main(int argc, char **argv)
{
    static const struct { const char *model; int N, K; } layers[] = {
        {"MiniLM", 384, 384}, {"MiniLM", 1536, 384}, {"MiniLM", 384, 1536},
        {"BERT-base", 768, 768}, {"BERT-base", 3072, 768}, {"BERT-base", 768, 3072},
    };
    static const int rows[] = {16, 128};
    int first = argc > 1 ? atoi(argv[1]) : 1, last = argc > 1 ? first : 2;
    unsigned seed = 12345;
    omp_set_dynamic(0);
    printf("bf16 linear layers: GFLOP/s (2·M·N·K / s); bf16 kernel %s (%s), int8 kernel %s; load average %.2f\n",
           attx_bf16_kernel_name(), attx_cpu_has_bf16() ? "AVX512_BF16" : "no AVX512_BF16: emulated",
           attx_q8_kernel_name(), load_average());
    for (int threads = first; threads <= last; threads++) {
        omp_set_num_threads(threads);
        printf("%d thread%s\n%-9s %5s %5s %5s | %8s | %8s %6s | %8s %6s | %8s\n", threads, threads > 1 ? "s" : "",
               "layer", "M", "N", "K", "fp32", "bf16", "ratio", "bf16 emu", "ratio", "int8");
        for (size_t s = 0; s < sizeof layers / sizeof layers[0]; s++)
            for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
                bench_shape(layers[s].model, rows[r], layers[s].N, layers[s].K, &seed);
    }
    printf("load average after: %.2f\n", load_average());
    return 0;
}
