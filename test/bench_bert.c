/* bench_bert.c — BERT-base-sized forward and forward+backward at batch 1, sequence 128, with 1
 * and 2 threads, against PyTorch in the same run (tools/reference/torch_bench_bert.py, when
 * /usr/bin/python3 has torch); and the peak memory of `attx predict` against the F32 weights. */
#include "benchutil.h"
#include "random_model.h"

#include <sys/resource.h>
#include <time.h>

#include "attx_engine.h"

#define SEQ 128
#define REPEAT 10

/* Median time of REPEAT runs after two warm-ups: a forward pass, and with backward = 1 a
 * forward with the tape and a backward of the predicted logit (gradients reach every
 * attention probability and the input embeddings; the weights are constants, as when
 * explaining). */
static double time_pass(attx_model *m, const attx_batch *batch, int backward)
{
    attx_ctx *ctx = attx_ctx_new();
    attx_error err;
    double t[REPEAT];
    for (int r = -2; r < REPEAT; r++) {
        attx_ctx_reset(ctx);
        attx_ctx_set_tape(ctx, backward);
        attx_outputs out;
        double start = now_ms();
        if (attx_forward(m, ctx, batch, &out, &err) != 0) {
            fprintf(stderr, "bench_bert: %s\n", err.msg);
            exit(1);
        }
        if (backward) {
            float seed[2] = {0, 0};
            seed[out.logits->data[1] > out.logits->data[0]] = 1;
            if (attx_backward(ctx, out.logits, seed) != 0) exit(1);
        }
        if (r >= 0) t[r] = now_ms() - start;
    }
    attx_ctx_free(ctx);
    qsort(t, REPEAT, sizeof t[0], cmp_double);
    return (t[REPEAT / 2 - 1] + t[REPEAT / 2]) / 2;
}

/* PyTorch's medians for the same shapes, or -1 when torch is not available. */
static void torch_times(int threads, double *fwd, double *fwd_bwd)
{
    *fwd = *fwd_bwd = -1;
    char cmd[512], line[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/reference/torch_bench_bert.py --threads %d --seq %d "
             "--batch 1 --repeat %d 2>/dev/null", threads, SEQ, REPEAT);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    while (fgets(line, sizeof line, p)) {
        sscanf(line, "torch_forward_ms %lf", fwd);
        sscanf(line, "torch_forward_backward_ms %lf", fwd_bwd);
    }
    pclose(p);
}

static void print_ratio(double attx, double torch)
{
    if (torch > 0) printf("  %8.1f  %5.2fx", torch, attx / torch);
    else printf("  %8s  %6s", "-", "-");
}

int main(void)
{
    const char *dir = "build/bench/bert-base";
    char weights[512];
    snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
    if (access(weights, R_OK) != 0) {
        fprintf(stderr, "bench_bert: writing a random BERT-base-sized model to %s\n", dir);
        if (system("mkdir -p build/bench/bert-base") != 0) return 1;
        write_bert_base(dir, BERT_VOCAB);
    }
    attx_model *m;
    attx_error err;
    if (attx_model_open(&m, dir, &err) != 0) {
        fprintf(stderr, "bench_bert: %s\n", err.msg);
        return 1;
    }
    int32_t ids[SEQ], length = SEQ;
    for (int t = 0; t < SEQ; t++) ids[t] = 1000 + (t * 7919) % 28000;   /* ordinary word pieces */
    ids[0] = 101;                                                       /* [CLS] */
    ids[SEQ - 1] = 102;                                                 /* [SEP] */
    attx_batch batch = {.B = 1, .T = SEQ, .ids = ids, .lengths = &length};

    printf("BERT-base size (12 layers, hidden 768, 12 heads, FFN 3072), batch 1, sequence %d; median of %d\n",
           SEQ, REPEAT);
    printf("threads | forward ms: attx    torch   ratio | forward+backward ms: attx    torch   ratio\n");
    for (int threads = 1; threads <= 2; threads++) {
        attx_set_threads(threads);
        double fwd = time_pass(m, &batch, 0), fb = time_pass(m, &batch, 1), tf, tfb;
        torch_times(threads, &tf, &tfb);
        printf("%7d |            %8.1f", threads, fwd);
        print_ratio(fwd, tf);
        printf(" |                     %8.1f", fb);
        print_ratio(fb, tfb);
        printf("\n");
    }
    if (access("/usr/bin/python3", X_OK) != 0) printf("(PyTorch not found: install python3-torch for the ratios)\n");

    /* peak resident memory of a whole `attx predict` process vs the F32 weights on disk */
    struct stat st;
    stat(weights, &st);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "exec build/attx predict %s \"$(printf 'word %%.0s' $(seq 1 126))\" >/dev/null", dir);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    double peak = ru.ru_maxrss / 1024.0, size = st.st_size / 1048576.0;
    printf("attx predict (128 tokens): peak RSS %.1f MiB = %.2fx the F32 weights (%.1f MiB)\n", peak, peak / size, size);
    attx_model_close(m);
    return 0;
}
