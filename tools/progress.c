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

void cli_duration(double seconds, char *buf, size_t cap)
{
    double t = floor(seconds + 0.5);
    if (t >= 86400 * 365.0) snprintf(buf, cap, "%.0f years", t / (86400 * 365.0));
    else if (t >= 86400) snprintf(buf, cap, "%.0fd%02.0fh", floor(t / 86400), fmod(floor(t / 3600), 24));
    else if (t >= 3600) snprintf(buf, cap, "%.0fh%02.0fm", floor(t / 3600), fmod(floor(t / 60), 60));
    else if (t >= 60) snprintf(buf, cap, "%.0fm%02.0fs", floor(t / 60), fmod(t, 60));
    else snprintf(buf, cap, "%.0fs", t);
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
    char left[32];
    cli_duration(eta, left, sizeof left);
    if (per >= 0.1)
        fprintf(stderr, "%s[%s] %zu/%zu  %.2f s/%s  ETA %s%s", tty ? "\r" : "", bar, done, total, per, unit, left,
                tty ? (done == total ? "\n" : "") : "\n");
    else
        fprintf(stderr, "%s[%s] %zu/%zu  %.0f %ss/s  ETA %s%s", tty ? "\r" : "", bar, done, total,
                per > 0 ? 1 / per : 0, unit, left, tty ? (done == total ? "\n" : "") : "\n");
    fflush(stderr);
}
