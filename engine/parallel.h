/* parallel.h — internal: whether a loop has enough work to be worth OpenMP threads.
 *
 * Entering a parallel region wakes the other threads and waits for the last of them: a few
 * microseconds on an idle machine, far more on a busy one. Below some amount of work that costs
 * more than splitting the loop saves, so every parallel region of engine/ and explain/ runs on
 * the calling thread alone unless ATTX_PARALLEL(kind, work) holds. Each threshold is the work at
 * which 2 threads start beating 1 in test/bench_threads.c (which lowers them to 0 to time both
 * sides, and prints the crossovers). The thread count never changes a result. */
#ifndef ATTX_PARALLEL_H
#define ATTX_PARALLEL_H

#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#else   /* built without OpenMP (the WebAssembly page): one thread, and its team is itself */
static inline int omp_in_parallel(void) { return 0; }
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
static inline void omp_set_num_threads(int n) { (void)n; }
#endif

enum {
    ATTX_WORK_STREAM,      /* elements of a loop with a few loads, adds and stores each: residual
                              add, bias and its gradient, patch copies, AdamW */
    ATTX_WORK_EXP,         /* elements through exp or erf: GELU, softmax, and their gradients */
    ATTX_WORK_LAYERNORM,   /* elements of LayerNorm's passes */
    ATTX_WORK_GEMM,        /* multiply-adds of one attx_gemm, or of all heads' GEMMs together */
    ATTX_WORK_LOGREG,      /* rows x features of logistic regression's double-precision pass */
    ATTX_WORK_COALITIONS,  /* coalitions exact Shapley evaluates */
    ATTX_WORK_KINDS
};

/* Smallest work of each kind that runs on several threads (threads.c). Process-wide; change
 * only when no attx call is running (benchmarks). */
extern int64_t attx_parallel_min_work[ATTX_WORK_KINDS];

#define ATTX_PARALLEL(kind, work) ((int64_t)(work) >= attx_parallel_min_work[kind])

#endif
