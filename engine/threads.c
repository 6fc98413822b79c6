/* threads.c — how many OpenMP threads attx uses. */
#include "attx_engine.h"

#include <omp.h>

void attx_set_threads(int n)
{
    if (n > 0) omp_set_num_threads(n);
}
