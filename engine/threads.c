/* threads.c — how many OpenMP threads attx uses, and from how much work on. */
#include "attx_engine.h"
#include "parallel.h"

/* Measured with test/bench_threads (--budget 300, three runs, best of each) on the 2-core
 * development machine while a training run and builds kept it busy (load average 6-8): for
 * each kind, the smallest work from which 2 threads beat 1 in the runs that found both cores
 * free. Below these, a fork and join (about 2 µs at best with OMP_WAIT_POLICY=passive) costs
 * more than half the loop. */
int64_t attx_parallel_min_work[ATTX_WORK_KINDS] = {
    [ATTX_WORK_STREAM] = 262144,      /* residual add 1.33x there, 0.81x at 131072 */
    [ATTX_WORK_EXP] = 32768,          /* GELU 1.48x, softmax 1.62x there; 0.92x at 16384 */
    [ATTX_WORK_LAYERNORM] = 65536,    /* 1.65x there, 0.96x at 32768 */
    [ATTX_WORK_GEMM] = 2097152,       /* attention scores 1.31x there, attx_gemm 0.91x at 2^20 */
    [ATTX_WORK_LOGREG] = 262144,      /* 1.21x there, 0.98x at 131072 */
    [ATTX_WORK_COALITIONS] = 8192,    /* two chunks of 4096: 1.22x */
};

void attx_set_threads(int n)
{
    if (n > 0) omp_set_num_threads(n);
}
