/* bench_gemm.c — attx_gemm against OpenBLAS's cblas_sgemm (when libopenblas.so.0 can be
 * loaded) on square matrices and BERT-base shapes, with 1 and 2 OpenMP threads.
 *
 *   build/test/bench_gemm                      the table
 *   build/test/bench_gemm M N K [ta tb]        one shape
 *   build/test/bench_gemm --isa avx2 ...       force an ISA (portable, avx2, avx512)
 *
 * Each figure is the best of several runs after a warm-up run; GFLOP/s = 2·M·N·K / seconds.
 * The product never links OpenBLAS: it is opened with dlopen for the comparison only. */
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) */
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                               const float *, int, float, float *, int);
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

static cblas_sgemm_fn ob_sgemm;
static void (*ob_set_num_threads)(int);
static char *(*ob_get_config)(void);
static char *(*ob_get_corename)(void);

static void load_openblas(void)
{
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    ob_sgemm = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
    *(void **)&ob_set_num_threads = dlsym(h, "openblas_set_num_threads");
    *(void **)&ob_get_config = dlsym(h, "openblas_get_config");
    *(void **)&ob_get_corename = dlsym(h, "openblas_get_corename");
}

typedef struct shape {
    int M, N, K, ta, tb;
    const char *what;
} shape;

typedef struct problem {
    shape s;
    float *A, *B, *C;
    int lda, ldb, ldc;
} problem;

static float *random_matrix(size_t n, unsigned *seed)
{
    float *x = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
    if (!x) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = (float)(*seed >> 8) / (float)(1u << 24) - 0.5f;
    }
    return x;
}

static problem problem_new(shape s)
{
    unsigned seed = 12345;
    problem p = {.s = s};
    /* stored shapes: A is [M, K] or [K, M] (ta), B is [K, N] or [N, K] (tb) */
    p.lda = s.ta ? s.M : s.K;
    p.ldb = s.tb ? s.K : s.N;
    p.ldc = s.N;
    p.A = random_matrix((size_t)s.M * s.K, &seed);
    p.B = random_matrix((size_t)s.K * s.N, &seed);
    p.C = random_matrix((size_t)s.M * s.N, &seed);
    return p;
}

static void problem_free(problem *p)
{
    free(p->A);
    free(p->B);
    free(p->C);
}

static void run_attx(const problem *p)
{
    attx_gemm(p->s.ta, p->s.tb, p->s.M, p->s.N, p->s.K, p->A, p->lda, p->B, p->ldb, 0.0f, p->C,
              p->ldc);
}

static void run_openblas(const problem *p)
{
    ob_sgemm(CBLAS_ROW_MAJOR, p->s.ta ? CBLAS_TRANS : CBLAS_NO_TRANS,
             p->s.tb ? CBLAS_TRANS : CBLAS_NO_TRANS, p->s.M, p->s.N, p->s.K, 1.0f, p->A, p->lda,
             p->B, p->ldb, 0.0f, p->C, p->ldc);
}

static void set_threads(int nt)
{
    omp_set_num_threads(nt);
    if (ob_set_num_threads) ob_set_num_threads(nt);
}

/* Best GFLOP/s over repetitions after one warm-up run; about 0.25 s of runs per figure. */
static double gflops(void (*run)(const problem *), const problem *p, int nt)
{
    set_threads(nt);
    double flops = 2.0 * p->s.M * p->s.N * p->s.K;
    double t0 = omp_get_wtime();
    run(p);
    double first = omp_get_wtime() - t0;
    int reps = (int)(0.25 / (first > 1e-6 ? first : 1e-6));
    reps = reps < 3 ? 3 : reps > 200 ? 200 : reps;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = omp_get_wtime();
        run(p);
        t = omp_get_wtime() - t;
        if (t < best) best = t;
    }
    return flops / best / 1e9;
}

static void print_row(const shape *s)
{
    problem p = problem_new(*s);
    char name[64];
    snprintf(name, sizeof name, "%dx%dx%d %s%s", s->M, s->N, s->K, s->ta ? "T" : "N",
             s->tb ? "T" : "N");
    double a1 = gflops(run_attx, &p, 1), a2 = gflops(run_attx, &p, 2);
    printf("%-18s %-22s %8.1f %8.1f", name, s->what, a1, a2);
    if (ob_sgemm) {
        double o1 = gflops(run_openblas, &p, 1), o2 = gflops(run_openblas, &p, 2);
        printf(" %8.1f %8.1f %7.2f %7.2f", o1, o2, a1 / o1, a2 / o2);
    }
    printf("\n");
    fflush(stdout);
    problem_free(&p);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--isa") == 0) {
        int isa = strcmp(argv[2], "portable") == 0 ? ATTX_ISA_PORTABLE
                  : strcmp(argv[2], "avx2") == 0   ? ATTX_ISA_AVX2
                                                   : ATTX_ISA_AVX512;
        attx_gemm_set_isa(isa);
        argc -= 2;
        argv += 2;
    }
    load_openblas();
    printf("attx_gemm benchmark: ISA %s, %d OpenMP threads available\n",
           attx_gemm_isa_name(attx_gemm_isa()), omp_get_max_threads());
    if (ob_sgemm)
        printf("OpenBLAS: %s (core %s)\n", ob_get_config ? ob_get_config() : "?",
               ob_get_corename ? ob_get_corename() : "?");
    else
        printf("OpenBLAS not found\n");
    printf("GFLOP/s = 2*M*N*K / time, best of several runs after a warm-up; "
           "ratio = attx / OpenBLAS; N = no transpose, T = transposed\n\n");
    printf("%-18s %-22s %8s %8s", "MxNxK opA,opB", "use", "attx 1T", "attx 2T");
    if (ob_sgemm) printf(" %8s %8s %7s %7s", "OBLAS 1T", "OBLAS 2T", "ratio1T", "ratio2T");
    printf("\n");

    if (argc >= 4) {
        shape s = {atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 0,
                   argc > 5 ? atoi(argv[5]) : 0, "command line"};
        print_row(&s);
        return 0;
    }
    static const shape shapes[] = {
        {512, 512, 512, 0, 0, "square"},
        {1024, 1024, 1024, 0, 0, "square"},
        {2048, 2048, 2048, 0, 0, "square"},
        {128, 768, 768, 0, 1, "BERT x*Wqkvo^T"},
        {128, 3072, 768, 0, 1, "BERT x*W1^T (FFN in)"},
        {128, 768, 3072, 0, 1, "BERT x*W2^T (FFN out)"},
        {128, 768, 3072, 0, 0, "BERT dX = dY*W"},
        {3072, 768, 128, 1, 0, "BERT dW = dY^T*X"},
        {128, 128, 64, 0, 1, "attention Q*K^T"},
        {128, 64, 128, 0, 0, "attention P*V"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) print_row(&shapes[i]);
    return 0;
}
