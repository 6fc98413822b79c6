/* profile_forward.c — a forward pass in a loop, for profile_table.py to sample with perf:
 *   profile_forward MODEL B T REPEAT [int8]
 * B rows of T ordinary word pieces ([CLS] ... [SEP]), 1 thread, REPEAT forwards after one
 * warm-up; prints the best time. Built by profile_table.py against build/libattx.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attx_engine.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: profile_forward MODEL B T REPEAT [int8]\n");
        return 2;
    }
    int B = atoi(argv[2]), T = atoi(argv[3]), repeat = atoi(argv[4]);
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, argv[1], &err) != 0 || (argc > 5 && attx_model_quantize_int8(m, &err) != 0)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    attx_set_threads(1);
    int32_t *ids = malloc(sizeof *ids * (size_t)B * T), *len = malloc(sizeof *len * (size_t)B);
    for (int b = 0; b < B; b++) {
        len[b] = T;
        for (int t = 0; t < T; t++) ids[b * T + t] = 1000 + (b * 131 + t * 7919) % 28000;
        ids[b * T] = 101;
        ids[b * T + T - 1] = 102;
    }
    attx_batch batch = {.B = B, .T = T, .ids = ids, .lengths = len};
    attx_ctx *ctx = attx_ctx_new();
    double best = 1e30;
    for (int r = -1; r < repeat; r++) {
        struct timespec a, b;
        attx_outputs out;
        attx_ctx_reset(ctx);
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (attx_forward(m, ctx, &batch, &out, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
        if (r >= 0 && ms < best) best = ms;
    }
    printf("best %.3f ms\n", best);
    attx_ctx_free(ctx);
    attx_model_close(m);
    free(ids);
    free(len);
    return 0;
}
