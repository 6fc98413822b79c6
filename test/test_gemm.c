/* test_gemm.c — attx_gemm on every ISA path the CPU has: accuracy against a double-precision
 * reference over edge-case sizes, transposes, beta and padded leading dimensions; bitwise
 * replay of the documented arithmetic; bitwise identity across thread counts and inside a
 * parallel region. */
#include "testutil.h"

#include <math.h>
#include <omp.h>

#include "kernels.h"
#include "parallel.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float uniform(void)   /* in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / 8388608.0 - 1.0);
}

/* ---- one problem: op(A)[M, K] · op(B)[K, N] with padded leading dimensions ---------------- */

typedef struct problem {
    int ta, tb, M, N, K;
    int lda, ldb, ldc;
    float beta;
    float *A, *B, *C0;        /* C0: C before the call (NaN when beta = 0) */
    double *ref, *bound;      /* [M·N] reference result and its error bound */
} problem;

#define PAD_SENTINEL 12345.0f

/* A stored matrix rows × cols with leading dimension ld: random values, NaN in the padding
 * (any read of it would poison a result). */
static float *stored_matrix(int rows, int cols, int ld)
{
    float *x = malloc(sizeof(float) * ((size_t)(rows - 1) * ld + cols));
    assert_non_null(x);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < ld && (size_t)r * ld + c < (size_t)(rows - 1) * ld + cols; c++)
            x[(size_t)r * ld + c] = c < cols ? uniform() : NAN;
    return x;
}

static problem problem_new(int ta, int tb, int M, int N, int K, float beta, int pad)
{
    problem p = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .beta = beta};
    int a_rows = ta ? K : M, a_cols = ta ? M : K;
    int b_rows = tb ? N : K, b_cols = tb ? K : N;
    p.lda = a_cols + pad;
    p.ldb = b_cols + 2 * pad;
    p.ldc = N + 3 * pad;
    p.A = stored_matrix(a_rows, a_cols, p.lda);
    p.B = stored_matrix(b_rows, b_cols, p.ldb);
    size_t c_size = (size_t)M * p.ldc;
    p.C0 = malloc(sizeof(float) * c_size);
    for (size_t i = 0; i < c_size; i++) {
        int col = (int)(i % p.ldc);
        p.C0[i] = col >= N ? PAD_SENTINEL : beta == 0.0f ? NAN : uniform();
    }
    p.ref = malloc(sizeof(double) * M * N);
    p.bound = malloc(sizeof(double) * M * N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = 0.0, abs_sum = 0.0;
            for (int k = 0; k < K; k++) {
                double a = ta ? p.A[(size_t)k * p.lda + i] : p.A[(size_t)i * p.lda + k];
                double b = tb ? p.B[(size_t)j * p.ldb + k] : p.B[(size_t)k * p.ldb + j];
                sum += a * b;
                abs_sum += fabs(a * b);
            }
            double c0 = beta == 0.0f ? 0.0 : (double)beta * p.C0[(size_t)i * p.ldc + j];
            p.ref[(size_t)i * N + j] = c0 + sum;
            /* K products and the additions of the k-block sums, each off by at most 2^-24
             * relative (a few more for a beta ≠ 0, 1 prescale) */
            p.bound[(size_t)i * N + j] = (K + 4) * 0x1p-24 * (abs_sum + fabs(c0)) + 1e-30;
        }
    return p;
}

static void problem_free(problem *p)
{
    free(p->A);
    free(p->B);
    free(p->C0);
    free(p->ref);
    free(p->bound);
}

/* Runs attx_gemm on a copy of C0; the caller frees the result. */
static float *run(const problem *p)
{
    size_t c_size = (size_t)p->M * p->ldc;
    float *C = malloc(sizeof(float) * c_size);
    memcpy(C, p->C0, sizeof(float) * c_size);
    attx_gemm(p->ta, p->tb, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, p->beta, C, p->ldc);
    return C;
}

/* Checks C against the reference within the bound, no NaN, padding untouched. */
static void check(const problem *p, const float *C, const char *isa)
{
    for (int i = 0; i < p->M; i++) {
        for (int j = 0; j < p->N; j++) {
            double c = C[(size_t)i * p->ldc + j], r = p->ref[(size_t)i * p->N + j];
            double bound = p->bound[(size_t)i * p->N + j];
            if (!(fabs(c - r) <= bound))
                fail_msg("%s ta=%d tb=%d M=%d N=%d K=%d beta=%g: C[%d,%d] = %.9g, expected %.9g "
                         "(bound %.3g)", isa, p->ta, p->tb, p->M, p->N, p->K, p->beta, i, j, c, r,
                         bound);
        }
        for (int j = p->N; j < p->ldc && (size_t)i * p->ldc + j < (size_t)p->M * p->ldc; j++)
            if (C[(size_t)i * p->ldc + j] != PAD_SENTINEL)
                fail_msg("%s M=%d N=%d K=%d: padding C[%d,%d] overwritten", isa, p->M, p->N, p->K,
                         i, j);
    }
}

/* ---- the ISAs to test: every one this CPU runs ---------------------------------------------- */

static int isa_available(int isa)
{
    attx_gemm_set_isa(isa);
    int ok = attx_gemm_isa() == isa;
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    return ok;
}

static const int all_isas[] = {ATTX_ISA_PORTABLE, ATTX_ISA_AVX2, ATTX_ISA_AVX512};
#define N_ISAS 3

/* ---- accuracy --------------------------------------------------------------------------------- */

static const int sizes[] = {1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129, 257};
#define N_SIZES ((int)(sizeof sizes / sizeof sizes[0]))

static void check_all_isas(const problem *p)
{
    for (int t = 0; t < N_ISAS; t++) {
        if (!isa_available(all_isas[t])) continue;
        attx_gemm_set_isa(all_isas[t]);
        float *C = run(p);
        check(p, C, attx_gemm_isa_name(all_isas[t]));
        free(C);
    }
    attx_gemm_set_isa(ATTX_ISA_AUTO);
}

/* M, N, K over the edge-case sizes: every (M, N) pair, K cycling through the list so that
 * each size also appears as K with every M; all four transpose combinations; beta 0 and 1
 * alternating; leading dimensions padded by 0 to 5. */
static void test_accuracy_edge_sizes(void **state)
{
    (void)state;
    int n = 0;
    for (int i = 0; i < N_SIZES; i++)
        for (int j = 0; j < N_SIZES; j++) {
            int K = sizes[(i + 2 * j) % N_SIZES];
            for (int trans = 0; trans < 4; trans++, n++) {
                problem p = problem_new(trans >> 1, trans & 1, sizes[i], sizes[j], K,
                                        (float)(n & 1), n % 6);
                check_all_isas(&p);
                problem_free(&p);
            }
        }
}

/* M = 1, N = 1, K = 1 against all sizes */
static void test_accuracy_degenerate(void **state)
{
    (void)state;
    for (int i = 0; i < N_SIZES; i++)
        for (int trans = 0; trans < 4; trans++) {
            int s = sizes[i], ta = trans >> 1, tb = trans & 1;
            float beta = (float)(i & 1);
            problem shapes[] = {
                problem_new(ta, tb, 1, s, 2 * s + 1, beta, trans),
                problem_new(ta, tb, s, 1, 2 * s + 1, beta, trans),
                problem_new(ta, tb, s, 2 * s + 3, 1, beta, trans),
                problem_new(ta, tb, 1, 1, s, beta, trans),
            };
            for (int k = 0; k < 4; k++) {
                check_all_isas(&shapes[k]);
                problem_free(&shapes[k]);
            }
        }
}

/* Linear layers of BERT-base (T = 128, D = 768, F = 3072) forward and backward, and attention */
static void test_accuracy_bert_shapes(void **state)
{
    (void)state;
    const int shapes[][6] = {
        /* ta, tb, M, N, K, beta */
        {0, 1, 128, 768, 768, 0},   /* x·W^T */
        {0, 1, 128, 3072, 768, 0},  /* x·W1^T */
        {0, 0, 128, 768, 3072, 0},  /* dX = dY·W */
        {1, 0, 768, 3072, 128, 1},  /* dW += dY^T·X */
        {0, 1, 128, 128, 64, 0},    /* Q·K^T */
        {0, 0, 128, 64, 128, 0},    /* P·V */
        {0, 1, 1, 768, 768, 0},     /* one token */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *x = shapes[s];
        problem p = problem_new(x[0], x[1], x[2], x[3], x[4], (float)x[5], s & 1 ? 8 : 0);
        check_all_isas(&p);
        problem_free(&p);
    }
}

/* beta outside {0, 1} scales C first; K = 0 leaves beta·C */
static void test_beta_and_empty_k(void **state)
{
    (void)state;
    problem p = problem_new(0, 1, 37, 53, 41, 0.5f, 1);
    check_all_isas(&p);
    problem_free(&p);

    float C[6] = {NAN, NAN, NAN, 1, 2, 3}, A[1] = {0}, B[1] = {0};
    attx_gemm(0, 0, 1, 3, 0, A, 1, B, 3, 0.0f, C, 3);
    attx_gemm(0, 0, 1, 3, 0, A, 1, B, 3, 1.0f, C + 3, 3);
    const float expected[6] = {0, 0, 0, 1, 2, 3};
    assert_memory_equal(C, expected, sizeof C);
    attx_gemm(0, 0, 0, 3, 5, A, 1, B, 3, 0.0f, C, 3);   /* M = 0: nothing to do */
    assert_memory_equal(C, expected, sizeof C);
}

/* beta = 0 must not read C: NaN in C gives no NaN out (also checked by every beta = 0 case
 * above, whose C0 is NaN; here on a large shape on every ISA and both thread counts) */
static void test_beta0_ignores_nan(void **state)
{
    (void)state;
    problem p = problem_new(0, 1, 131, 200, 300, 0.0f, 3);
    for (int t = 0; t < N_ISAS; t++) {
        if (!isa_available(all_isas[t])) continue;
        attx_gemm_set_isa(all_isas[t]);
        for (int nt = 1; nt <= 2; nt++) {
            omp_set_num_threads(nt);
            float *C = run(&p);
            for (int i = 0; i < p.M; i++)
                for (int j = 0; j < p.N; j++) assert_false(isnan(C[(size_t)i * p.ldc + j]));
            free(C);
        }
    }
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    omp_set_num_threads(2);
    problem_free(&p);
}

/* ---- exact arithmetic ------------------------------------------------------------------------ */

/* What attx_gemm documents it computes: for each element, k-blocks of attx_gemm_kblock(K) in
 * increasing order, each summed from 0 in k order (one fused multiply-add per product on
 * AVX2/AVX-512, a multiply then an add in portable C), then C = sum for the first block when
 * beta = 0 and C = C + sum otherwise. The result must match bit for bit. */
static void replay(const problem *p, int isa, float *C)
{
    int kb = attx_gemm_kblock(isa, p->K);
    for (int i = 0; i < p->M; i++)
        for (int j = 0; j < p->N; j++) {
            float *c = C + (size_t)i * p->ldc + j;
            for (int k0 = 0; k0 < p->K; k0 += kb) {
                float acc = 0.0f;
                for (int k = k0; k < p->K && k < k0 + kb; k++) {
                    float a = p->ta ? p->A[(size_t)k * p->lda + i] : p->A[(size_t)i * p->lda + k];
                    float b = p->tb ? p->B[(size_t)j * p->ldb + k] : p->B[(size_t)k * p->ldb + j];
                    acc = isa == ATTX_ISA_PORTABLE ? acc + a * b : fmaf(a, b, acc);
                }
                *c = (k0 == 0 && p->beta == 0.0f) ? acc : *c + acc;
            }
        }
}

/* The shapes use all three AVX-512 tile widths (N = 768: 8×48, N = 31: 8×32, N = 65, 100, 257:
 * 8×16), edge tiles in M and N, several k-blocks, both betas. */
static void test_exact_replay(void **state)
{
    (void)state;
    const int shapes[][6] = {
        {0, 0, 33, 65, 1100, 1}, {0, 1, 129, 100, 257, 0}, {1, 0, 17, 257, 600, 0},
        {1, 1, 64, 31, 1025, 1}, {0, 1, 128, 768, 768, 0}, {0, 0, 1, 1, 2000, 0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *x = shapes[s];
        problem p = problem_new(x[0], x[1], x[2], x[3], x[4], (float)x[5], 2);
        size_t bytes = sizeof(float) * p.M * p.ldc;
        for (int t = 0; t < N_ISAS; t++) {
            if (!isa_available(all_isas[t])) continue;
            attx_gemm_set_isa(all_isas[t]);
            float *C = run(&p), *R = malloc(bytes);
            memcpy(R, p.C0, bytes);
            replay(&p, all_isas[t], R);
            if (memcmp(C, R, bytes) != 0)
                fail_msg("%s M=%d N=%d K=%d: not the documented arithmetic",
                         attx_gemm_isa_name(all_isas[t]), p.M, p.N, p.K);
            free(C);
            free(R);
            attx_gemm_free_buffers();   /* the next call allocates them again */
        }
        attx_gemm_set_isa(ATTX_ISA_AUTO);
        problem_free(&p);
    }
}

/* ---- determinism across threads -------------------------------------------------------------- */

/* 1, 2 and 3 threads (3 > cores still gives a third way of cutting C) give the same bits; the
 * threshold of parallel.h at 0, so that every shape runs on all the threads asked for */
static void test_threads_bitwise_identical(void **state)
{
    (void)state;
    int64_t saved = attx_parallel_min_work[ATTX_WORK_GEMM];
    attx_parallel_min_work[ATTX_WORK_GEMM] = 0;
    const int shapes[][6] = {
        {0, 1, 128, 768, 768, 0}, {0, 0, 257, 129, 300, 1}, {1, 0, 1000, 37, 515, 0},
        {1, 1, 63, 1001, 129, 1}, {0, 1, 129, 3072, 97, 0}, {0, 0, 2, 4099, 333, 0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *x = shapes[s];
        problem p = problem_new(x[0], x[1], x[2], x[3], x[4], (float)x[5], 1);
        size_t bytes = sizeof(float) * p.M * p.ldc;
        for (int t = 0; t < N_ISAS; t++) {
            if (!isa_available(all_isas[t])) continue;
            attx_gemm_set_isa(all_isas[t]);
            omp_set_num_threads(1);
            float *C1 = run(&p);
            assert_int_equal(attx_gemm_last_threads(), 1);
            for (int nt = 2; nt <= 3; nt++) {
                omp_set_num_threads(nt);
                float *Cn = run(&p);
                assert_int_equal(attx_gemm_last_threads(), nt);
                if (memcmp(C1, Cn, bytes) != 0)
                    fail_msg("%s M=%d N=%d K=%d: 1 and %d threads differ",
                             attx_gemm_isa_name(all_isas[t]), p.M, p.N, p.K, nt);
                free(Cn);
            }
            check(&p, C1, attx_gemm_isa_name(all_isas[t]));
            free(C1);
        }
        attx_gemm_set_isa(ATTX_ISA_AUTO);
        omp_set_num_threads(2);
        problem_free(&p);
    }
    attx_parallel_min_work[ATTX_WORK_GEMM] = saved;
}

/* 8 independent attention-sized GEMMs (scores = Q·K^T, then P·V with beta = 1) run from inside
 * a parallel loop, as the attention op does per (batch, head): same bits as serial calls, and
 * each call runs on its calling thread alone even with nested parallelism allowed. */
static void test_inside_parallel_region(void **state)
{
    (void)state;
    enum { H = 8, T = 129, D = 64 };   /* outside a region, these would run on 2 threads */
    float *q = malloc(sizeof(float) * H * T * D), *k = malloc(sizeof(float) * H * T * D);
    float *s_serial = malloc(sizeof(float) * H * T * T), *s_par = malloc(sizeof(float) * H * T * T);
    float *o_serial = malloc(sizeof(float) * H * T * D), *o_par = malloc(sizeof(float) * H * T * D);
    for (int i = 0; i < H * T * D; i++) {
        q[i] = uniform();
        k[i] = uniform();
        o_serial[i] = o_par[i] = uniform();
    }
    for (int t = 0; t < N_ISAS; t++) {
        if (!isa_available(all_isas[t])) continue;
        attx_gemm_set_isa(all_isas[t]);
        for (int h = 0; h < H; h++) {
            attx_gemm(0, 1, T, T, D, q + h * T * D, D, k + h * T * D, D, 0.0f, s_serial + h * T * T, T);
            attx_gemm(0, 0, T, D, T, s_serial + h * T * T, T, k + h * T * D, D, 1.0f,
                      o_serial + h * T * D, D);
        }
        int in_parallel = 1, single = 1;
        omp_set_max_active_levels(2);
#pragma omp parallel for num_threads(2) reduction(&& : in_parallel, single)
        for (int h = 0; h < H; h++) {
            in_parallel = in_parallel && omp_in_parallel();
            attx_gemm(0, 1, T, T, D, q + h * T * D, D, k + h * T * D, D, 0.0f, s_par + h * T * T, T);
            single = single && attx_gemm_last_threads() == 1;
            attx_gemm(0, 0, T, D, T, s_par + h * T * T, T, k + h * T * D, D, 1.0f,
                      o_par + h * T * D, D);
            single = single && attx_gemm_last_threads() == 1;
        }
        omp_set_max_active_levels(1);
        assert_true(in_parallel);
        assert_true(single);
        assert_memory_equal(s_serial, s_par, sizeof(float) * H * T * T);
        assert_memory_equal(o_serial, o_par, sizeof(float) * H * T * D);
    }
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    free(q);
    free(k);
    free(s_serial);
    free(s_par);
    free(o_serial);
    free(o_par);
}

/* ---- op(B) packed ahead ------------------------------------------------------------------------ */

/* attx_gemm_b_packed with B packed ahead gives the bits of attx_gemm (which the replay test ties
 * to the documented arithmetic), on every ISA, with 1, 2 and 3 threads cutting the columns at
 * other places; a packing made under another ISA is not used (same bits again, from B). The
 * threshold of parallel.h at 0, so that every shape runs on the threads asked for. */
static void test_packed_b(void **state)
{
    (void)state;
    int64_t saved = attx_parallel_min_work[ATTX_WORK_GEMM];
    attx_parallel_min_work[ATTX_WORK_GEMM] = 0;
    const int shapes[][6] = {
        {0, 1, 544, 384, 384, 0}, {0, 1, 17, 1536, 384, 0}, {0, 1, 33, 384, 1536, 1}, {1, 1, 7, 100, 1100, 0},
        {0, 0, 65, 4099, 333, 0}, {0, 1, 1, 2, 3, 0}, {0, 1, 40, 49, 513, 1},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *x = shapes[s];
        problem p = problem_new(x[0], x[1], x[2], x[3], x[4], (float)x[5], 1);
        size_t bytes = sizeof(float) * p.M * p.ldc;
        for (int t = 0; t < N_ISAS; t++) {
            if (!isa_available(all_isas[t])) continue;
            attx_gemm_set_isa(all_isas[t]);
            attx_gemm_packed *pk = attx_gemm_pack_b(p.tb, p.K, p.N, p.B, p.ldb);
            assert_non_null(pk);
            assert_true(attx_gemm_packed_bytes(pk) >= sizeof(float) * (size_t)p.K * (size_t)p.N);
            omp_set_num_threads(1);
            float *want = run(&p);
            size_t b_len = (size_t)((p.tb ? p.N : p.K) - 1) * (size_t)p.ldb + (size_t)(p.tb ? p.K : p.N);
            float *poisoned = malloc(b_len * sizeof *poisoned);
            for (size_t i = 0; i < b_len; i++) poisoned[i] = NAN;
            for (int nt = 1; nt <= 3; nt++) {
                omp_set_num_threads(nt);
                float *C = malloc(bytes);
                memcpy(C, p.C0, bytes);
                /* B poisoned: only the packed panels can give the right result */
                attx_gemm_b_packed(p.ta, p.tb, p.M, p.N, p.K, p.A, p.lda, poisoned, p.ldb, pk, p.beta, C, p.ldc);
                if (memcmp(C, want, bytes) != 0)
                    fail_msg("%s M=%d N=%d K=%d, %d threads: packed B differs from B", attx_gemm_isa_name(all_isas[t]),
                             p.M, p.N, p.K, nt);
                free(C);
            }
            /* under another ISA the packing does not fit the plan: B is used */
            for (int u = 0; u < N_ISAS; u++) {
                if (u == t || !isa_available(all_isas[u])) continue;
                attx_gemm_set_isa(all_isas[u]);
                float *other = run(&p), *C = malloc(bytes);
                memcpy(C, p.C0, bytes);
                attx_gemm_b_packed(p.ta, p.tb, p.M, p.N, p.K, p.A, p.lda, p.B, p.ldb, pk, p.beta, C, p.ldc);
                if (memcmp(C, other, bytes) != 0)
                    fail_msg("packed under %s, used under %s: M=%d N=%d K=%d differs", attx_gemm_isa_name(all_isas[t]),
                             attx_gemm_isa_name(all_isas[u]), p.M, p.N, p.K);
                free(C);
                free(other);
            }
            free(want);
            free(poisoned);
            attx_gemm_packed_free(pk);
        }
        attx_gemm_set_isa(ATTX_ISA_AUTO);
        omp_set_num_threads(2);
        problem_free(&p);
    }
    attx_parallel_min_work[ATTX_WORK_GEMM] = saved;
}

/* ---- ISA selection --------------------------------------------------------------------------- */

static void test_isa_selection(void **state)
{
    (void)state;
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    int best = attx_gemm_isa();
    assert_true(best >= ATTX_ISA_PORTABLE && best <= ATTX_ISA_AVX512);
    attx_gemm_set_isa(ATTX_ISA_PORTABLE);
    assert_int_equal(attx_gemm_isa(), ATTX_ISA_PORTABLE);
    attx_gemm_set_isa(ATTX_ISA_AVX512);   /* above what the CPU has: falls back to the best */
    assert_int_equal(attx_gemm_isa(), best);
    attx_gemm_set_isa(ATTX_ISA_AUTO);
    assert_int_equal(attx_gemm_isa(), best);
    assert_string_equal(attx_gemm_isa_name(ATTX_ISA_PORTABLE), "portable");
    assert_string_equal(attx_gemm_isa_name(ATTX_ISA_AVX2), "avx2");
    assert_string_equal(attx_gemm_isa_name(ATTX_ISA_AVX512), "avx512");
    print_message("gemm: best ISA on this CPU: %s\n", attx_gemm_isa_name(best));
}

int main(void)
{
    omp_set_dynamic(0);   /* the thread counts asked for, whatever OMP_DYNAMIC says */
    omp_set_num_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa_selection),
        cmocka_unit_test(test_accuracy_edge_sizes),
        cmocka_unit_test(test_accuracy_degenerate),
        cmocka_unit_test(test_accuracy_bert_shapes),
        cmocka_unit_test(test_beta_and_empty_k),
        cmocka_unit_test(test_beta0_ignores_nan),
        cmocka_unit_test(test_exact_replay),
        cmocka_unit_test(test_threads_bitwise_identical),
        cmocka_unit_test(test_inside_parallel_region),
        cmocka_unit_test(test_packed_b),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
