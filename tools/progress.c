/* progress.c — the clock and the progress bar of long commands (eval, embed, similar). */
#include "cli.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress(size_t done, size_t total, double start, const char *unit)
{
    static int last_decile = -1;
    int tty = isatty(STDERR_FILENO);
    int decile = total ? (int)(10 * done / total) : 10;
    if (!tty && decile == last_decile && done != total) return;
    last_decile = done == total ? -1 : decile;
    double el = cli_now() - start, per = done ? el / (double)done : 0, eta = per * (double)(total - done);
    char bar[31];
    int fill = total ? (int)(30 * done / total) : 30;
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
    bar[30] = 0;
    if (per >= 0.1)
        fprintf(stderr, "%s[%s] %zu/%zu  %.2f s/%s  ETA %dm%02ds%s", tty ? "\r" : "", bar, done, total, per, unit,
                (int)(eta / 60), (int)fmod(eta, 60), tty ? (done == total ? "\n" : "") : "\n");
    else
        fprintf(stderr, "%s[%s] %zu/%zu  %.0f %ss/s  ETA %dm%02ds%s", tty ? "\r" : "", bar, done, total,
                per > 0 ? 1 / per : 0, unit, (int)(eta / 60), (int)fmod(eta, 60),
                tty ? (done == total ? "\n" : "") : "\n");
    fflush(stderr);
}
