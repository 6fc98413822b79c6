/* benchutil.h — what the benchmarks share: a monotonic clock in milliseconds, a comparison for
 * sorting times (medians), and the machine's load average (header-only). */
#ifndef ATTX_BENCHUTIL_H
#define ATTX_BENCHUTIL_H

#include <stdio.h>
#include <time.h>

static inline double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The 1-minute load average, or −1 when /proc/loadavg cannot be read. */
static inline double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

#endif
